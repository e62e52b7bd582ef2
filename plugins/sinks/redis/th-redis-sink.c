/* th-redis-sink.c: the ingest side of the redis plugin.
 *
 * Every event goes, as the same envelope bytes every sink gets, to a Redis
 * stream (`XADD STREAM MAXLEN ~ N * e ENVELOPE n NODE`); the latest
 * `financial_data_update` of each symbol and `source_status` of each source
 * also go to the hashes PREFIX:prices and PREFIX:sources (field SYMBOL or
 * SOURCE, and SYMBOL@t / SOURCE@t the publishing time in Unix ms), so that
 * an edge that starts late serves current prices at once and knows how old
 * they are.
 *
 * Standby: with `lease` > 0 only the node holding the lease PREFIX:leader
 * (`SET NX PX`, renewed every lease/4 by a script that extends it only if
 * it is still ours) publishes. A standby runs its feeds and drops its
 * events; it takes over when the lease expires (within `lease`). A leader
 * that could not renew for `lease` (Redis unreachable, the process paused)
 * stops publishing on its own clock before the lease can expire in Redis,
 * so no event is published by two nodes. The new leader publishes the
 * state of every source on taking over, so edges see the change. A leader
 * that stops gives the lease back (deleted if still ours), so a standby
 * takes over at its next attempt (lease/4) instead of at the expiry.
 *
 * At stop, what is still queued (events published in the main-loop
 * iteration that stops the hub, the release) is written before the
 * connection goes, waiting at most a second for the socket.
 *
 * Commands are pipelined; the replies are counted. Redis down: events are
 * dropped and counted (the edges' prices go stale through their TTLs); more
 * than `max-queue` commands without a reply: dropped and counted too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <libpeas/peas.h>

#include "th-redis-config.h"

#define RENEW_SCRIPT \
  "if redis.call('get', KEYS[1]) == ARGV[1] then " \
  "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
#define RELEASE_SCRIPT \
  "if redis.call('get', KEYS[1]) == ARGV[1] then " \
  "return redis.call('del', KEYS[1]) else return 0 end"
/* At stop, how long the sink waits at most for the socket to take what is
 * still queued (events, the lease's release). */
#define STOP_FLUSH_MS 1000

#define TH_TYPE_REDIS_SINK (th_redis_sink_get_type ())
G_DECLARE_FINAL_TYPE (ThRedisSink, th_redis_sink, TH, REDIS_SINK, GObject)

struct _ThRedisSink
{
  GObject        parent_instance;

  ThHub         *hub;
  ThRedisConfig  config;
  gboolean       configured;
  ThRedis       *redis;
  char          *lease_key;
  char          *prices_key;
  char          *sources_key;
  char          *max_length;
  char          *lease_text;
  guint          lease_id;
  gboolean       leader;
  gint64         leader_until;    /* monotonic µs: our lease, on our clock */
  gint64         lease_sent;      /* monotonic µs of the request in flight */
  gboolean       lease_in_flight;
  char          *last_error;

  struct
  {
    guint64 published;
    guint64 acked;
    guint64 errors;
    guint64 dropped_down;
    guint64 dropped_full;
    guint64 standby_skipped;
    guint64 takeovers;
    guint64 reconnects;
  } stats;
};

static void th_redis_sink_sink_init (ThSinkInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThRedisSink, th_redis_sink, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_redis_sink_sink_init))

void
th_redis_sink_register (GTypeModule *module)
{
  th_redis_sink_register_type (module);
}

static gboolean
is_leader (ThRedisSink *self)
{
  if (self->config.lease_ms == 0)
    return TRUE;
  if (self->leader && g_get_monotonic_time () >= self->leader_until)
    {
      self->leader = FALSE;
      g_message ("[redis] lease not renewed for %" G_GINT64_FORMAT " ms: stopped publishing (standby)",
                 self->config.lease_ms);
    }
  return self->leader;
}

static void
on_reply (ThRedis    *redis,
          redisReply *reply,
          gpointer    user_data)
{
  ThRedisSink *self = user_data;

  if (reply == NULL)
    return;
  if (reply->type == REDIS_REPLY_ERROR)
    {
      self->stats.errors++;
      if (g_strcmp0 (self->last_error, reply->str) != 0)
        {
          g_free (self->last_error);
          self->last_error = g_strdup (reply->str);
          g_message ("[redis] publishing failed: %s (further failures are counted)", reply->str);
        }
      return;
    }
  self->stats.acked++;
  if (self->last_error != NULL)
    {
      g_message ("[redis] publishing again");
      g_clear_pointer (&self->last_error, g_free);
    }
}

static void
publish (ThRedisSink *self,
         const char  *json,
         gsize        length,
         const char  *name,
         const char  *key)
{
  const char *argv[] = { "XADD", self->config.stream, "MAXLEN", "~", self->max_length, "*",
                         "e", json, "n", self->config.node_id };
  size_t argvlen[G_N_ELEMENTS (argv)];

  for (guint i = 0; i < G_N_ELEMENTS (argv); i++)
    argvlen[i] = strlen (argv[i]);
  argvlen[7] = length;

  if (!th_redis_command (self->redis, on_reply, self, G_N_ELEMENTS (argv), argv, argvlen))
    {
      self->stats.dropped_down++;
      return;
    }
  self->stats.published++;

  /* The latest of each symbol and source, with its time. */
  if (key != NULL)
    {
      const char *hash = g_str_equal (name, "financial_data_update") ? self->prices_key : self->sources_key;
      g_autofree char *tkey = g_strconcat (key, "@t", NULL);
      g_autofree char *now = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / 1000);
      const char *hv[] = { "HSET", hash, key, json, tkey, now };
      size_t hl[G_N_ELEMENTS (hv)];

      for (guint i = 0; i < G_N_ELEMENTS (hv); i++)
        hl[i] = strlen (hv[i]);
      hl[3] = length;
      th_redis_command (self->redis, on_reply, self, G_N_ELEMENTS (hv), hv, hl);
    }
}

/* The key of an event in the hashes: the symbol of a price, the source of
 * a source state; NULL for other events. */
static const char *
hash_key (ThEvent    *event,
          const char *name,
          JsonNode  **data)
{
  if (g_str_equal (name, "financial_data_update"))
    return th_event_get_symbol (event);
  if (g_str_equal (name, "source_status"))
    {
      *data = th_event_get_data (event);
      if (*data != NULL && JSON_NODE_HOLDS_OBJECT (*data))
        return th_json_object_get_string (json_node_get_object (*data), "source");
    }
  return NULL;
}

static void
th_redis_sink_consume (ThSink  *sink,
                       ThEvent *event)
{
  ThRedisSink *self = TH_REDIS_SINK (sink);
  const char *name = th_event_get_name (event);
  JsonNode *data = NULL;
  const char *key;
  GBytes *bytes;
  gsize length;
  const char *json;

  if (self->redis == NULL || self->config.role != TH_REDIS_ROLE_INGEST)
    return;
  /* This process's figures, not the cluster's. */
  if (g_str_equal (name, "system_status_update"))
    return;

  if (th_redis_get_state (self->redis) != TH_REDIS_READY)
    {
      self->stats.dropped_down++;
      return;
    }
  if (!is_leader (self))
    {
      self->stats.standby_skipped++;
      return;
    }
  if (th_redis_get_pending (self->redis) >= self->config.max_queue)
    {
      if (self->stats.dropped_full++ == 0)
        g_message ("[redis] %" G_GUINT64_FORMAT " commands without a reply: Redis is too slow; "
                   "dropping events (counted)", self->config.max_queue);
      return;
    }

  bytes = th_event_get_bytes (event);
  json = g_bytes_get_data (bytes, &length);
  key = hash_key (event, name, &data);
  publish (self, json, length, name, key);
}

/* On taking over: every source's state, so edges see the change of
 * publisher (and the gap, if a source went down meanwhile). */
static void
publish_sources (ThRedisSink *self)
{
  g_auto(GStrv) sources = th_hub_list_sources (self->hub);

  for (guint i = 0; sources != NULL && sources[i] != NULL; i++)
    {
      g_autofree char *reason = NULL;
      ThSourceState state = th_hub_get_source_state (self->hub, sources[i], &reason);
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *json = NULL;
      g_autofree char *why = g_strdup_printf ("%s%s(publisher %s took over)", reason != NULL ? reason : "",
                                              reason != NULL ? " " : "", self->config.node_id);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "event");
      json_builder_add_string_value (b, "source_status");
      json_builder_set_member_name (b, "data");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, sources[i]);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, th_source_state_to_string (state));
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, why);
      json_builder_set_member_name (b, "last_message_age_ms");
      json_builder_add_null_value (b);
      json_builder_end_object (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json = th_json_to_string (root, NULL);
      publish (self, json, strlen (json), "source_status", sources[i]);
    }
}

static void
on_lease_reply (ThRedis    *redis,
                redisReply *reply,
                gpointer    user_data)
{
  ThRedisSink *self = user_data;
  gboolean ours;

  self->lease_in_flight = FALSE;
  if (reply == NULL)
    return;
  ours = (reply->type == REDIS_REPLY_STATUS && g_strcmp0 (reply->str, "OK") == 0) ||
         (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1);
  if (reply->type == REDIS_REPLY_ERROR)
    g_message ("[redis] lease: %s", reply->str);

  if (ours)
    {
      /* Counted from when we asked: Redis's expiry started after that. */
      self->leader_until = self->lease_sent + self->config.lease_ms * 1000 * 9 / 10;
      if (!self->leader)
        {
          self->leader = TRUE;
          self->stats.takeovers++;
          g_message ("[redis] %s holds the lease %s: publishing", self->config.node_id, self->lease_key);
          publish_sources (self);
        }
    }
  else if (self->leader)
    {
      self->leader = FALSE;
      g_message ("[redis] lost the lease %s to another node: standby", self->lease_key);
    }
}

static gboolean
on_lease_timer (gpointer data)
{
  ThRedisSink *self = data;

  is_leader (self);
  if (self->redis == NULL || th_redis_get_state (self->redis) != TH_REDIS_READY || self->lease_in_flight)
    return G_SOURCE_CONTINUE;

  self->lease_sent = g_get_monotonic_time ();
  if (self->leader)
    {
      const char *argv[] = { "EVAL", RENEW_SCRIPT, "1", self->lease_key, self->config.node_id, self->lease_text };
      self->lease_in_flight = th_redis_command (self->redis, on_lease_reply, self, G_N_ELEMENTS (argv), argv, NULL);
    }
  else
    {
      const char *argv[] = { "SET", self->lease_key, self->config.node_id, "NX", "PX", self->lease_text };
      self->lease_in_flight = th_redis_command (self->redis, on_lease_reply, self, G_N_ELEMENTS (argv), argv, NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_state (ThRedis      *redis,
          ThRedisState  state,
          const char   *reason,
          gpointer      user_data)
{
  ThRedisSink *self = user_data;
  g_autofree char *where = th_redis_url_describe (&self->config.url);

  self->lease_in_flight = FALSE;
  switch (state)
    {
    case TH_REDIS_READY:
      if (th_redis_get_connects (redis) > 1)
        self->stats.reconnects++;
      g_message ("[redis] connected to %s", where);
      if (self->config.lease_ms > 0)
        on_lease_timer (self);
      break;
    case TH_REDIS_DOWN:
      g_message ("[redis] %s: %s; events are dropped until it is back (retrying)", where,
                 reason != NULL ? reason : "down");
      break;
    case TH_REDIS_CONNECTING:
      break;
    }
}

static gboolean
th_redis_sink_configure (ThSink  *sink,
                         GError **error)
{
  ThRedisSink *self = TH_REDIS_SINK (sink);

  th_redis_config_clear (&self->config);
  self->configured = FALSE;
  if (!th_redis_config_read (self->hub, &self->config, error))
    return FALSE;
  self->configured = TRUE;
  g_free (self->lease_key);
  g_free (self->prices_key);
  g_free (self->sources_key);
  g_free (self->max_length);
  g_free (self->lease_text);
  self->lease_key = g_strconcat (self->config.prefix, ":leader", NULL);
  self->prices_key = g_strconcat (self->config.prefix, ":prices", NULL);
  self->sources_key = g_strconcat (self->config.prefix, ":sources", NULL);
  self->max_length = g_strdup_printf ("%" G_GUINT64_FORMAT, self->config.max_length);
  self->lease_text = g_strdup_printf ("%" G_GINT64_FORMAT, self->config.lease_ms);
  return TRUE;
}

static void
th_redis_sink_start (ThSink *sink)
{
  ThRedisSink *self = TH_REDIS_SINK (sink);

  if (!self->configured || self->config.role != TH_REDIS_ROLE_INGEST || self->redis != NULL)
    return;
  self->redis = th_redis_new (&self->config.url, on_state, self);
  if (self->config.lease_ms > 0)
    self->lease_id = g_timeout_add (MAX (self->config.lease_ms / 4, 20), on_lease_timer, self);
  th_redis_start (self->redis);
}

static void
th_redis_sink_stop (ThSink *sink)
{
  ThRedisSink *self = TH_REDIS_SINK (sink);

  g_clear_handle_id (&self->lease_id, g_source_remove);
  if (self->redis != NULL && th_redis_get_state (self->redis) == TH_REDIS_READY)
    {
      if (self->config.lease_ms > 0 && self->leader)
        {
          const char *argv[] = { "EVAL", RELEASE_SCRIPT, "1", self->lease_key, self->config.node_id };

          th_redis_command (self->redis, NULL, NULL, G_N_ELEMENTS (argv), argv, NULL);
        }
      th_redis_finish (self->redis, STOP_FLUSH_MS);
    }
  g_clear_pointer (&self->redis, th_redis_free);
  self->leader = FALSE;
}

GVariant *
th_redis_sink_get_counters (GObject *object)
{
  ThRedisSink *self = TH_REDIS_SINK (object);
  GVariantBuilder builder;
  const struct { const char *name; guint64 value; } counters[] = {
    { "messages", self->stats.published },
    { "published", self->stats.published },
    { "acked", self->stats.acked },
    { "redis_errors", self->stats.errors },
    { "dropped_down", self->stats.dropped_down },
    { "dropped_full", self->stats.dropped_full },
    { "standby_skipped", self->stats.standby_skipped },
    { "takeovers", self->stats.takeovers },
    { "reconnects", self->stats.reconnects },
    { "leader", is_leader (self) ? 1 : 0 },
  };

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    g_variant_builder_add (&builder, "{sv}", counters[i].name, g_variant_new_uint64 (counters[i].value));
  return g_variant_builder_end (&builder);
}

static void
th_redis_sink_sink_init (ThSinkInterface *iface)
{
  iface->configure = th_redis_sink_configure;
  iface->start = th_redis_sink_start;
  iface->consume = th_redis_sink_consume;
  iface->stop = th_redis_sink_stop;
}

static void
th_redis_sink_dispose (GObject *object)
{
  th_redis_sink_stop (TH_SINK (object));
  G_OBJECT_CLASS (th_redis_sink_parent_class)->dispose (object);
}

static void
th_redis_sink_finalize (GObject *object)
{
  ThRedisSink *self = TH_REDIS_SINK (object);

  th_redis_config_clear (&self->config);
  g_free (self->lease_key);
  g_free (self->prices_key);
  g_free (self->sources_key);
  g_free (self->max_length);
  g_free (self->lease_text);
  g_free (self->last_error);
  G_OBJECT_CLASS (th_redis_sink_parent_class)->finalize (object);
}

static void
th_redis_sink_class_init (ThRedisSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_redis_sink_dispose;
  object_class->finalize = th_redis_sink_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThRedisSink, hub));
}

static void
th_redis_sink_class_finalize (ThRedisSinkClass *klass)
{
}

static void
th_redis_sink_init (ThRedisSink *self)
{
}
