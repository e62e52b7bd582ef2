/* th-redis.h: a small asynchronous Redis client on the GLib main loop
 * (hiredis 0.14 and its GLib adapter), compiled into the redis plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

G_BEGIN_DECLS

typedef struct
{
  char *host;       /* NULL for a unix socket */
  int   port;
  char *socket;     /* unix:///path/to/redis.sock */
  char *user;       /* NULL: AUTH with the password only */
  char *password;   /* NULL: no AUTH */
  int   db;
  gboolean tls;     /* rediss:// */
  char *cacert;     /* rediss://...?cacert=FILE: the CAs to trust (NULL: the system's) */
  char *cert;       /* rediss://...?cert=FILE&key=FILE: a client certificate */
  char *key;
} ThRedisUrl;

typedef enum
{
  TH_REDIS_DOWN,
  TH_REDIS_CONNECTING,
  TH_REDIS_READY,
} ThRedisState;

typedef struct _ThRedis ThRedis;

/* Called with the reply (NULL when the connection went away before it came). */
typedef void (*ThRedisReplyFunc) (ThRedis    *redis,
                                  redisReply *reply,
                                  gpointer    user_data);
/* Called on every change of state; @reason is why it is down. */
typedef void (*ThRedisStateFunc) (ThRedis      *redis,
                                  ThRedisState  state,
                                  const char   *reason,
                                  gpointer      user_data);

gboolean      th_redis_url_parse    (const char       *text,
                                     ThRedisUrl       *url,
                                     GError          **error);
void          th_redis_url_clear    (ThRedisUrl       *url);
char         *th_redis_url_describe (const ThRedisUrl *url);

ThRedis      *th_redis_new          (const ThRedisUrl *url,
                                     ThRedisStateFunc  on_state,
                                     gpointer          user_data);
void          th_redis_start        (ThRedis          *self);
void          th_redis_finish       (ThRedis          *self,
                                     int               timeout_ms);
void          th_redis_free         (ThRedis          *self);
ThRedisState  th_redis_get_state    (ThRedis          *self);
const char   *th_redis_get_reason   (ThRedis          *self);
guint64       th_redis_get_connects (ThRedis          *self);
guint         th_redis_get_pending  (ThRedis          *self);
gboolean      th_redis_command      (ThRedis          *self,
                                     ThRedisReplyFunc  func,
                                     gpointer          user_data,
                                     int               argc,
                                     const char      **argv,
                                     const size_t     *argvlen);
void          th_redis_disconnect   (ThRedis          *self,
                                     const char       *reason);

G_END_DECLS
