/* th-redis-config.h: the [redis] group, read once for the sink and the feed
 * of the redis plugin.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tickhub.h>

#include "th-redis.h"

#define TH_REDIS_GROUP "redis"

typedef enum
{
  TH_REDIS_ROLE_INGEST,
  TH_REDIS_ROLE_EDGE,
} ThRedisRole;

typedef struct
{
  ThRedisRole role;
  ThRedisUrl  url;
  char       *stream;       /* tickhub:events */
  char       *prefix;       /* tickhub: hashes PREFIX:prices, PREFIX:sources; PREFIX:leader */
  guint64     max_length;   /* XADD MAXLEN ~ */
  gint64      lease_ms;     /* 0: no lease, always publish */
  char       *node_id;
  gboolean    node_id_set;  /* from the keyfile: an edge keeps its position under it */
  guint64     max_queue;    /* commands waiting for their reply */
  gint64      block_ms;     /* XREAD BLOCK */
  guint64     count;        /* XREAD COUNT */
} ThRedisConfig;

gboolean th_redis_config_read  (ThHub          *hub,
                                ThRedisConfig  *config,
                                GError        **error);
void     th_redis_config_clear (ThRedisConfig  *config);

GType    th_redis_sink_get_type (void);
GType    th_redis_feed_get_type (void);
void     th_redis_sink_register (GTypeModule *module);
void     th_redis_feed_register (GTypeModule *module);
GVariant *th_redis_sink_get_counters (GObject *sink);
