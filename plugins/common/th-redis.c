/* th-redis.c: a small asynchronous Redis client on the GLib main loop.
 *
 * hiredis 0.14 does the protocol and ships a GLib adapter
 * (hiredis/adapters/glib.h, a GSource polling the socket); this file adds
 * what a long-running node needs around it: URLs
 * (redis://[user:password@]host:port/db, unix:///path/to/socket), AUTH
 * (a Redis 6 ACL user or the password alone) and SELECT on every
 * connection, a state (down / connecting / ready, with the reason), and
 * reconnection with exponential backoff (100 ms doubling to 5 s, with
 * jitter). hiredis 0.14 has no TLS: `rediss://` is refused with an error
 * saying so rather than connecting in clear.
 *
 * A reply callback is never called after th_redis_free(): pending
 * commands are dropped silently then.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <poll.h>
#include <signal.h>
#include <string.h>

#include <hiredis/adapters/glib.h>
#include <tickhub.h>

#include "th-redis.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct _ThRedis
{
  ThRedisUrl         url;
  ThRedisStateFunc   on_state;
  gpointer           user_data;

  redisAsyncContext *ac;
  GSource           *source;
  ThRedisState       state;
  char              *reason;
  guint              retry_id;
  guint              backoff_ms;
  guint              pending;
  guint64            connects;
  gboolean           started;
  gboolean           closing;
};

typedef struct
{
  ThRedis          *redis;
  ThRedisReplyFunc  func;
  gpointer          user_data;
} Call;

gboolean
th_redis_url_parse (const char  *text,
                    ThRedisUrl  *url,
                    GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local = NULL;
  const char *scheme;
  const char *path;

  memset (url, 0, sizeof *url);
  if (text == NULL || *text == '\0')
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "empty URL; use redis://HOST:PORT/DB");
      return FALSE;
    }
  uri = g_uri_parse (text, G_URI_FLAGS_HAS_PASSWORD, &local);
  if (uri == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s” is not a URL; use redis://[USER:PASSWORD@]HOST:PORT/DB "
                   "or unix:///PATH/TO/SOCKET", text);
      return FALSE;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_str_equal (scheme, "rediss"))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "“%s”: rediss:// (TLS) is not supported: the hiredis library of this system (0.14) has no TLS; "
                   "use redis:// on a trusted network, or a TLS tunnel (stunnel, spiped) to a local redis:// port", text);
      return FALSE;
    }
  if (!g_str_equal (scheme, "redis") && !g_str_equal (scheme, "unix"))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s” is not a redis:// or unix:// URL", text);
      return FALSE;
    }

  if (g_uri_get_user (uri) != NULL && *g_uri_get_user (uri) != '\0')
    url->user = g_strdup (g_uri_get_user (uri));
  if (g_uri_get_password (uri) != NULL)
    url->password = g_strdup (g_uri_get_password (uri));
  /* redis://:password@host: no user, the password alone (requirepass). */
  if (url->user != NULL && url->password == NULL)
    {
      url->password = g_steal_pointer (&url->user);
    }

  path = g_uri_get_path (uri);
  if (g_str_equal (scheme, "unix"))
    {
      if (path == NULL || path[0] != '/')
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s”: a unix:// URL needs an absolute path, "
                       "such as unix:///run/redis/redis.sock", text);
          th_redis_url_clear (url);
          return FALSE;
        }
      url->socket = g_strdup (path);
      {
        const char *query = g_uri_get_query (uri);

        if (query != NULL && g_str_has_prefix (query, "db="))
          url->db = atoi (query + 3);
      }
      return TRUE;
    }

  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s” has no host; use redis://HOST:PORT/DB", text);
      th_redis_url_clear (url);
      return FALSE;
    }
  url->host = g_strdup (g_uri_get_host (uri));
  url->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 6379;
  if (path != NULL && path[0] == '/' && path[1] != '\0')
    {
      char *end = NULL;
      gint64 db = g_ascii_strtoll (path + 1, &end, 10);

      if (end == NULL || *end != '\0' || db < 0 || db > 1000000)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s”: the path must be a database number, such as /0", text);
          th_redis_url_clear (url);
          return FALSE;
        }
      url->db = (int) db;
    }
  return TRUE;
}

void
th_redis_url_clear (ThRedisUrl *url)
{
  g_clear_pointer (&url->host, g_free);
  g_clear_pointer (&url->socket, g_free);
  g_clear_pointer (&url->user, g_free);
  g_clear_pointer (&url->password, g_free);
}

/* Without the password. */
char *
th_redis_url_describe (const ThRedisUrl *url)
{
  if (url->socket != NULL)
    return g_strdup_printf ("unix://%s (db %d)", url->socket, url->db);
  return g_strdup_printf ("redis://%s%s%s:%d/%d", url->user != NULL ? url->user : "",
                          url->user != NULL ? "@" : "", url->host, url->port, url->db);
}

/* The adapter's dispatch handles a write, then a read, on the same
 * context; when the write finds the connection gone, hiredis frees the
 * context and the read then uses freed memory (a crash on every restart
 * of Redis). Ours stops when the write ended the connection. */
static gboolean
dispatch_safely (GSource     *source,
                 GSourceFunc  callback,
                 gpointer     user_data)
{
  RedisSource *redis = (RedisSource *) source;

  if ((redis->poll_fd.revents & G_IO_OUT))
    {
      redis->poll_fd.revents &= ~G_IO_OUT;
      redisAsyncHandleWrite (redis->ac);
      if (g_source_is_destroyed (source))
        return G_SOURCE_REMOVE;
    }
  if ((redis->poll_fd.revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)))
    {
      redis->poll_fd.revents &= ~(G_IO_IN | G_IO_HUP | G_IO_ERR);
      redisAsyncHandleRead (redis->ac);
    }
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs safe_funcs = {
  .prepare = redis_source_prepare,
  .check = redis_source_check,
  .dispatch = dispatch_safely,
  .finalize = redis_source_finalize,
};

static void set_state (ThRedis *self, ThRedisState state, const char *reason);
static void connect_now (ThRedis *self);

static gboolean
on_retry (gpointer data)
{
  ThRedis *self = data;

  self->retry_id = 0;
  connect_now (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (ThRedis *self)
{
  guint delay;

  if (self->closing || !self->started || self->retry_id != 0)
    return;
  delay = self->backoff_ms + g_random_int_range (0, self->backoff_ms / 4 + 1);
  self->backoff_ms = MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
  self->retry_id = g_timeout_add (delay, on_retry, self);
}

static void
set_state (ThRedis      *self,
           ThRedisState  state,
           const char   *reason)
{
  if (self->state == state && g_strcmp0 (self->reason, reason) == 0)
    return;
  self->state = state;
  g_free (self->reason);
  self->reason = g_strdup (reason);
  if (self->on_state != NULL && !self->closing)
    self->on_state (self, state, reason, self->user_data);
}

static gboolean
unref_later (gpointer data)
{
  g_source_unref (data);
  return G_SOURCE_REMOVE;
}

static void
drop_source (ThRedis *self)
{
  if (self->source != NULL)
    {
      /* hiredis's cleanup hook may still touch it after our callback
       * returns: destroyed now, freed from an idle. */
      g_source_destroy (self->source);
      g_idle_add_full (G_PRIORITY_DEFAULT, unref_later, self->source, NULL);
      self->source = NULL;
    }
}

static void
on_connect (const redisAsyncContext *ac,
            int                      status)
{
  ThRedis *self = ac->data;

  if (self == NULL)
    return;
  if (status != REDIS_OK)
    {
      g_autofree char *why = g_strdup_printf ("cannot connect: %s", ac->errstr);

      /* hiredis frees the context after this callback. */
      self->ac = NULL;
      self->pending = 0;
      drop_source (self);
      set_state (self, TH_REDIS_DOWN, why);
      schedule_retry (self);
    }
}

static void
on_disconnect (const redisAsyncContext *ac,
               int                      status)
{
  ThRedis *self = ac->data;

  if (self == NULL)
    return;
  self->ac = NULL;
  self->pending = 0;
  drop_source (self);
  if (self->closing)
    return;
  {
    g_autofree char *why = status == REDIS_OK && self->reason != NULL && self->state == TH_REDIS_DOWN
                           ? g_strdup (self->reason)
                           : g_strdup_printf ("connection lost: %s", ac->errstr[0] != '\0' ? ac->errstr : "closed by the server");
    set_state (self, TH_REDIS_DOWN, why);
  }
  schedule_retry (self);
}

static void
call_reply (redisAsyncContext *ac,
            void              *r,
            void              *privdata)
{
  Call *call = privdata;
  ThRedis *self = call->redis;

  if (!self->closing)
    {
      if (self->pending > 0)
        self->pending--;
      if (call->func != NULL)
        call->func (self, r, call->user_data);
    }
  g_free (call);
}

static void
on_handshake (ThRedis    *self,
              redisReply *reply,
              gpointer    user_data)
{
  if (reply == NULL)
    return;
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_autofree char *why = g_strdup_printf ("%s refused: %s", (const char *) user_data, reply->str);

      th_redis_disconnect (self, why);
      return;
    }
  if (g_str_equal ((const char *) user_data, "PING"))
    {
      self->backoff_ms = BACKOFF_MIN_MS;
      self->connects++;
      set_state (self, TH_REDIS_READY, NULL);
    }
}

static void
connect_now (ThRedis *self)
{
  redisAsyncContext *ac;

  if (self->ac != NULL || self->closing)
    return;

  set_state (self, TH_REDIS_CONNECTING, NULL);
  if (self->url.socket != NULL)
    ac = redisAsyncConnectUnix (self->url.socket);
  else
    ac = redisAsyncConnect (self->url.host, self->url.port);
  if (ac == NULL || ac->err != 0)
    {
      g_autofree char *why = g_strdup_printf ("cannot connect: %s", ac != NULL ? ac->errstr : "out of memory");

      if (ac != NULL)
        redisAsyncFree (ac);
      set_state (self, TH_REDIS_DOWN, why);
      schedule_retry (self);
      return;
    }

  ac->data = self;
  self->ac = ac;
  self->source = redis_source_new (ac);
  self->source->source_funcs = &safe_funcs;
  g_source_attach (self->source, NULL);
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);

  /* Pipelined behind the connect: AUTH, SELECT, then PING marks it ready. */
  if (self->url.password != NULL)
    {
      if (self->url.user != NULL)
        {
          const char *argv[] = { "AUTH", self->url.user, self->url.password };
          th_redis_command (self, on_handshake, "AUTH", 3, argv, NULL);
        }
      else
        {
          const char *argv[] = { "AUTH", self->url.password };
          th_redis_command (self, on_handshake, "AUTH", 2, argv, NULL);
        }
    }
  if (self->url.db != 0)
    {
      g_autofree char *db = g_strdup_printf ("%d", self->url.db);
      const char *argv[] = { "SELECT", db };

      th_redis_command (self, on_handshake, "SELECT", 2, argv, NULL);
    }
  {
    const char *argv[] = { "PING" };
    th_redis_command (self, on_handshake, "PING", 1, argv, NULL);
  }
}

ThRedis *
th_redis_new (const ThRedisUrl *url,
              ThRedisStateFunc  on_state,
              gpointer          user_data)
{
  ThRedis *self = g_new0 (ThRedis, 1);

  /* hiredis writes with write(2), not send(MSG_NOSIGNAL): a write to a
   * Redis that went away would kill the process. tickhubd ignores SIGPIPE
   * too; an embedding program gets the same. */
  signal (SIGPIPE, SIG_IGN);

  self->url.host = g_strdup (url->host);
  self->url.port = url->port;
  self->url.socket = g_strdup (url->socket);
  self->url.user = g_strdup (url->user);
  self->url.password = g_strdup (url->password);
  self->url.db = url->db;
  self->on_state = on_state;
  self->user_data = user_data;
  self->state = TH_REDIS_DOWN;
  self->backoff_ms = BACKOFF_MIN_MS;
  return self;
}

void
th_redis_start (ThRedis *self)
{
  self->started = TRUE;
  connect_now (self);
}

/* Writes what is queued for Redis now, waiting at most @timeout_ms for
 * the socket: for a last command before th_redis_free(), which drops
 * what is not written yet. Replies are not waited for. */
void
th_redis_flush (ThRedis *self,
                int      timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  redisContext *c;
  int done = 0;

  if (self == NULL || self->ac == NULL || self->closing || !(self->ac->c.flags & REDIS_CONNECTED))
    return;
  c = &self->ac->c;
  while (!done)
    {
      struct pollfd p = { .fd = c->fd, .events = POLLOUT };
      gint64 left;

      if (redisBufferWrite (c, &done) != REDIS_OK || done)
        return;
      left = (end - g_get_monotonic_time ()) / 1000;
      if (left <= 0 || poll (&p, 1, (int) left) <= 0)
        return;
    }
}

void
th_redis_free (ThRedis *self)
{
  if (self == NULL)
    return;
  self->closing = TRUE;
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->ac != NULL)
    {
      redisAsyncContext *ac = self->ac;

      /* Pending callbacks run now with NULL replies, and are skipped. */
      redisAsyncFree (ac);
      self->ac = NULL;
    }
  drop_source (self);
  th_redis_url_clear (&self->url);
  g_free (self->reason);
  g_free (self);
}

/* Closes the connection (after a protocol error, a refused AUTH) and
 * reconnects with backoff. */
void
th_redis_disconnect (ThRedis    *self,
                     const char *reason)
{
  if (self->ac == NULL)
    return;
  set_state (self, TH_REDIS_DOWN, reason);
  redisAsyncDisconnect (self->ac);
}

ThRedisState
th_redis_get_state (ThRedis *self)
{
  return self->state;
}

const char *
th_redis_get_reason (ThRedis *self)
{
  return self->reason;
}

guint64
th_redis_get_connects (ThRedis *self)
{
  return self->connects;
}

guint
th_redis_get_pending (ThRedis *self)
{
  return self->pending;
}

/* Queues a command; %FALSE when there is no connection (the caller counts
 * what it drops). */
gboolean
th_redis_command (ThRedis          *self,
                  ThRedisReplyFunc  func,
                  gpointer          user_data,
                  int               argc,
                  const char      **argv,
                  const size_t     *argvlen)
{
  Call *call;

  if (self->ac == NULL || self->closing || (self->ac->c.flags & REDIS_DISCONNECTING))
    return FALSE;
  call = g_new (Call, 1);
  call->redis = self;
  call->func = func;
  call->user_data = user_data;
  if (redisAsyncCommandArgv (self->ac, call_reply, call, argc, argv, argvlen) != REDIS_OK)
    {
      g_free (call);
      return FALSE;
    }
  self->pending++;
  return TRUE;
}
