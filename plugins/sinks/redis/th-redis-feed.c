/* th-redis-feed.c: the edge side of the redis plugin.
 *
 * On an edge node (`role=edge`) this feed reads the ingest node's stream
 * and hands each event to th_hub_relay_event(): the edge's clients get the
 * upstream's ticks, candles, indicator values, source states and alerts as
 * they were, in the stream's order, never re-ranked or recomputed.
 *
 * On connecting the first time it notes the stream's last id (XREVRANGE
 * + - COUNT 1), relays the latest price of every symbol and state of every
 * source from the hashes (skipping prices older than their source's TTL:
 * stale is not served as fresh), then reads from that id with
 * `XREAD BLOCK`. After a reconnection it resumes from the last id it
 * relayed, so nothing within the stream's length is lost; when the stream
 * was trimmed past it, the gap is counted and logged.
 *
 * An entry that is not ours (no `e` field, not JSON, not an envelope, an
 * event an edge does not relay, a symbol this hub does not serve) is
 * refused, counted (`parse_errors`) and logged once.
 *
 * Across a restart of the edge *process*: with an explicit `node-id`, the
 * feed keeps the id of the last entry it relayed in Redis, under
 * PREFIX:edge:NODE-ID (SET, pipelined with the next XREAD: one more
 * command per batch, no more round trips). In Redis rather than in a state
 * file because it then lives and dies with the stream it points into: a
 * Redis restarted without persistence loses both (the edge starts from the
 * snapshot), and edges need no state directory. On starting, the feed
 * reads it back: if the stream still holds what follows it, the edge
 * relays everything from there (its store and candles miss nothing), then
 * takes from the hashes only the prices of symbols and the states of
 * sources the replay did not bring; if the stream was trimmed past it, the gap is counted (`gaps`),
 * logged and shown as the reason of the `redis` source's status (live).
 * Without `node-id` the name changes at each start: no position is kept.
 *
 * The feed's own state is the source `redis` (`source_status`): live while
 * reading, down with the reason while Redis is unreachable. Meanwhile the
 * relayed prices go stale through the edge's TTLs.
 *
 * On an ingest node (`role=ingest`) the feed does nothing; its counters
 * are the sink's (so `/metrics` shows them).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <libpeas/peas.h>

#include "th-redis-config.h"

#define SOURCE "redis"

#define TH_TYPE_REDIS_FEED (th_redis_feed_get_type ())
G_DECLARE_FINAL_TYPE (ThRedisFeed, th_redis_feed, TH, REDIS_FEED, GObject)

struct _ThRedisFeed
{
  GObject        parent_instance;

  ThHub         *hub;
  ThRedisConfig  config;
  gboolean       configured;
  ThRedis       *redis;
  char          *last_id;       /* NULL until the first snapshot */
  char          *block_text;
  char          *count_text;
  gboolean       running;
  gboolean       warned_garbage;
  char          *resume_key;    /* PREFIX:edge:NODE-ID, NULL without node-id */
  gboolean       resume_tried;  /* the saved position was looked up */
  gboolean       catching_up;   /* replaying from a saved position */
  GHashTable    *replayed_sources; /* sources whose source_status the replay relayed */

  struct
  {
    guint64 messages;
    guint64 bytes;
    guint64 relayed;
    guint64 parse_errors;
    guint64 reconnects;
    guint64 gaps;
    guint64 resumes;
    guint64 snapshot;
    guint64 snapshot_stale;
  } stats;
};

static void th_redis_feed_feed_source_init (ThFeedSourceInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThRedisFeed, th_redis_feed, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_FEED_SOURCE, th_redis_feed_feed_source_init))

void
th_redis_feed_register (GTypeModule *module)
{
  th_redis_feed_register_type (module);
}

static void
garbage (ThRedisFeed *self,
         const char  *id,
         const char  *why)
{
  self->stats.parse_errors++;
  if (!self->warned_garbage)
    {
      self->warned_garbage = TRUE;
      g_message ("[redis] refused stream entry %s: %s (further refusals are counted, not logged)",
                 id != NULL ? id : "(snapshot)", why);
    }
  else
    g_debug ("[redis] refused stream entry %s: %s", id != NULL ? id : "(snapshot)", why);
}

static void
relay (ThRedisFeed *self,
       const char  *id,
       const char  *json,
       gsize        length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThEvent) event = NULL;

  self->stats.messages++;
  self->stats.bytes += length;
  if (!g_utf8_validate (json, length, NULL))
    {
      garbage (self, id, "not UTF-8");
      return;
    }
  event = th_event_new_from_json (json, length, &error);
  if (event == NULL)
    {
      garbage (self, id, error->message);
      return;
    }
  if (!th_hub_relay_event (self->hub, event, &error))
    {
      garbage (self, id, error->message);
      return;
    }
  self->stats.relayed++;
  /* Replaying: note which sources' state it said, not to repeat it from
   * the hashes afterwards. */
  if (self->catching_up && g_str_equal (th_event_get_name (event), "source_status"))
    {
      g_autoptr(JsonNode) node = th_json_parse (json, length, NULL);
      JsonNode *data = node != NULL && JSON_NODE_HOLDS_OBJECT (node)
                       ? json_object_get_member (json_node_get_object (node), "data") : NULL;
      const char *source = data != NULL && JSON_NODE_HOLDS_OBJECT (data)
                           ? th_json_object_get_string (json_node_get_object (data), "source") : NULL;

      if (source != NULL)
        {
          if (self->replayed_sources == NULL)
            self->replayed_sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_hash_table_add (self->replayed_sources, g_strdup (source));
        }
    }
}

static void read_next (ThRedisFeed *self);
static void relay_hash (ThRedisFeed *self, redisReply *reply, gboolean prices, gboolean missing_only);

/* A stream id, MS-SEQ */
static void
parse_id (const char *id,
          guint64    *ms,
          guint64    *seq)
{
  const char *dash = strchr (id, '-');

  *ms = g_ascii_strtoull (id, NULL, 10);
  *seq = dash != NULL ? g_ascii_strtoull (dash + 1, NULL, 10) : 0;
}

/* Whether entries may have been trimmed between @last (relayed) and
 * @first (the oldest the stream holds now): @first is after @last and is
 * not its immediate successor in the same millisecond. A next entry in a
 * later millisecond cannot be told from a gap: that counts as one. */
static gboolean
is_gap (const char *last,
        const char *first)
{
  guint64 lm, ls, fm, fs;

  parse_id (last, &lm, &ls);
  parse_id (first, &fm, &fs);
  if (fm < lm || (fm == lm && fs <= ls + 1))
    return FALSE;
  return TRUE;
}

static void
report_gap (ThRedisFeed *self,
            const char  *first,
            const char  *when)
{
  g_autofree char *why = g_strdup_printf ("%s: the stream was trimmed past the last entry relayed (%s; oldest now %s): "
                                          "events in between are lost", when, self->last_id, first);

  self->stats.gaps++;
  g_message ("[redis] %s; raise [redis] max-length", why);
  /* Live, with the gap as its reason: a source_status event says so. */
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_LIVE, why);
}

static void
on_fill_sources (ThRedis    *redis,
                 redisReply *reply,
                 gpointer    user_data)
{
  ThRedisFeed *self = user_data;

  if (reply != NULL && self->running)
    relay_hash (self, reply, FALSE, TRUE);
  g_clear_pointer (&self->replayed_sources, g_hash_table_unref);
}

static void
on_fill_prices (ThRedis    *redis,
                redisReply *reply,
                gpointer    user_data)
{
  ThRedisFeed *self = user_data;

  if (reply != NULL && self->running)
    relay_hash (self, reply, TRUE, TRUE);
}

/* Caught up after a resume: what the replay did not bring, from the hashes. */
static void
fill_from_hashes (ThRedisFeed *self)
{
  g_autofree char *sources = g_strconcat (self->config.prefix, ":sources", NULL);
  g_autofree char *prices = g_strconcat (self->config.prefix, ":prices", NULL);
  const char *a[] = { "HGETALL", sources };
  const char *b[] = { "HGETALL", prices };

  th_redis_command (self->redis, on_fill_sources, self, 2, a, NULL);
  th_redis_command (self->redis, on_fill_prices, self, 2, b, NULL);
}

static void
on_xread (ThRedis    *redis,
          redisReply *reply,
          gpointer    user_data)
{
  ThRedisFeed *self = user_data;
  guint64 n_entries = 0;

  if (reply == NULL || !self->running)
    return;
  if (reply->type == REDIS_REPLY_ERROR)
    {
      g_autofree char *why = g_strdup_printf ("XREAD failed: %s", reply->str);

      th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DOWN, why);
      th_redis_disconnect (redis, why);
      return;
    }

  /* NIL: the BLOCK timed out with nothing new. */
  if (reply->type == REDIS_REPLY_ARRAY)
    for (size_t s = 0; s < reply->elements; s++)
      {
        redisReply *stream = reply->element[s];
        redisReply *entries;

        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
            stream->element[1]->type != REDIS_REPLY_ARRAY)
          continue;
        entries = stream->element[1];
        n_entries += entries->elements;
        for (size_t i = 0; i < entries->elements && self->running; i++)
          {
            redisReply *entry = entries->element[i];
            redisReply *fields;
            const char *json = NULL;
            gsize length = 0;

            if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
                entry->element[0]->type != REDIS_REPLY_STRING)
              continue;
            g_free (self->last_id);
            self->last_id = g_strdup (entry->element[0]->str);
            fields = entry->element[1];
            if (fields->type == REDIS_REPLY_ARRAY)
              for (size_t f = 0; f + 1 < fields->elements; f += 2)
                if (fields->element[f]->type == REDIS_REPLY_STRING && g_str_equal (fields->element[f]->str, "e") &&
                    fields->element[f + 1]->type == REDIS_REPLY_STRING)
                  {
                    json = fields->element[f + 1]->str;
                    length = fields->element[f + 1]->len;
                  }
            if (json == NULL)
              {
                self->stats.messages++;
                garbage (self, self->last_id, "no “e” field (not written by a tickhub redis sink)");
              }
            else
              relay (self, self->last_id, json, length);
          }
      }

  if (!self->running)
    return;
  if (n_entries > 0 && self->resume_key != NULL)
    {
      /* Pipelined with the next XREAD: no round trip of its own. */
      const char *argv[] = { "SET", self->resume_key, self->last_id };

      th_redis_command (self->redis, NULL, NULL, G_N_ELEMENTS (argv), argv, NULL);
    }
  if (self->catching_up && n_entries < self->config.count)
    {
      self->catching_up = FALSE;
      g_message ("[redis] caught up from the saved position (%s)", self->last_id);
      fill_from_hashes (self);
    }
  read_next (self);
}

static void
read_next (ThRedisFeed *self)
{
  const char *argv[] = { "XREAD", "COUNT", self->count_text, "BLOCK", self->block_text, "STREAMS",
                         self->config.stream, self->last_id };

  th_redis_command (self->redis, on_xread, self, G_N_ELEMENTS (argv), argv, NULL);
}

/* Prices and states from the hashes: FIELD, FIELD@t (Unix ms) pairs. */
static void
relay_hash (ThRedisFeed *self,
            redisReply  *reply,
            gboolean     prices,
            gboolean     missing_only)
{
  g_autoptr(GHashTable) times = g_hash_table_new (g_str_hash, g_str_equal);
  gint64 now_ms = g_get_real_time () / 1000;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
    return;
  for (size_t i = 0; i + 1 < reply->elements; i += 2)
    if (reply->element[i]->type == REDIS_REPLY_STRING && g_str_has_suffix (reply->element[i]->str, "@t") &&
        reply->element[i + 1]->type == REDIS_REPLY_STRING)
      g_hash_table_insert (times, reply->element[i]->str, reply->element[i + 1]->str);

  for (size_t i = 0; i + 1 < reply->elements && self->running; i += 2)
    {
      redisReply *field = reply->element[i];
      redisReply *value = reply->element[i + 1];
      g_autofree char *tkey = NULL;
      const char *t;

      if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING ||
          g_str_has_suffix (field->str, "@t"))
        continue;
      /* After a replay: only the symbols it did not bring, and the
       * sources whose state it did not already say. */
      if (missing_only && prices &&
          th_price_book_get_selected (th_hub_get_price_book (self->hub), field->str) != NULL)
        continue;
      if (missing_only && !prices && self->replayed_sources != NULL &&
          g_hash_table_contains (self->replayed_sources, field->str))
        continue;
      tkey = g_strconcat (field->str, "@t", NULL);
      t = g_hash_table_lookup (times, tkey);
      if (prices)
        {
          /* A price older than its source's TTL would be served as fresh. */
          g_autoptr(JsonNode) node = th_json_parse (value->str, value->len, NULL);
          const char *source = NULL;
          gint64 ttl_ms;

          if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
            {
              JsonNode *data = json_object_get_member (json_node_get_object (node), "data");
              JsonNode *inner = data != NULL && JSON_NODE_HOLDS_OBJECT (data)
                                ? json_object_get_member (json_node_get_object (data), "data") : NULL;

              if (inner != NULL && JSON_NODE_HOLDS_OBJECT (inner))
                source = th_json_object_get_string (json_node_get_object (inner), "source");
            }
          ttl_ms = source != NULL ? th_price_book_get_ttl (th_hub_get_price_book (self->hub), source) / 1000 : 0;
          if (t == NULL || (ttl_ms > 0 && now_ms - g_ascii_strtoll (t, NULL, 10) > ttl_ms))
            {
              self->stats.snapshot_stale++;
              continue;
            }
        }
      self->stats.snapshot++;
      relay (self, NULL, value->str, value->len);
    }
}

static void
on_sources (ThRedis    *redis,
            redisReply *reply,
            gpointer    user_data)
{
  ThRedisFeed *self = user_data;

  if (reply == NULL || !self->running)
    return;
  relay_hash (self, reply, FALSE, FALSE);
}

static void
on_prices (ThRedis    *redis,
           redisReply *reply,
           gpointer    user_data)
{
  ThRedisFeed *self = user_data;

  if (reply == NULL || !self->running)
    return;
  relay_hash (self, reply, TRUE, FALSE);
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_LIVE, NULL);
  read_next (self);
}

static void
on_last_id (ThRedis    *redis,
            redisReply *reply,
            gpointer    user_data)
{
  ThRedisFeed *self = user_data;
  g_autofree char *sources = NULL;
  g_autofree char *prices = NULL;

  if (reply == NULL || !self->running)
    return;
  g_free (self->last_id);
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
      reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements > 0 &&
      reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
    self->last_id = g_strdup (reply->element[0]->element[0]->str);
  else
    self->last_id = g_strdup ("0-0");

  sources = g_strconcat (self->config.prefix, ":sources", NULL);
  prices = g_strconcat (self->config.prefix, ":prices", NULL);
  {
    const char *argv[] = { "HGETALL", sources };
    th_redis_command (redis, on_sources, self, 2, argv, NULL);
  }
  {
    const char *argv[] = { "HGETALL", prices };
    th_redis_command (redis, on_prices, self, 2, argv, NULL);
  }
}

/* After a reconnection, or on starting from a saved position: is the
 * entry after our last id still there? */
static void
on_first_id (ThRedis    *redis,
             redisReply *reply,
             gpointer    user_data)
{
  ThRedisFeed *self = user_data;
  gboolean gap = FALSE;

  if (reply == NULL || !self->running)
    return;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
      reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements > 0 &&
      reply->element[0]->element[0]->type == REDIS_REPLY_STRING)
    {
      const char *first = reply->element[0]->element[0]->str;

      if (is_gap (self->last_id, first))
        {
          gap = TRUE;
          report_gap (self, first, self->catching_up ? "resuming after a restart" : "after a reconnection");
        }
    }
  else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 0)
    {
      /* An empty stream after a restart of Redis without persistence. */
      g_free (self->last_id);
      self->last_id = g_strdup ("0-0");
    }
  if (!gap)
    th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_LIVE, NULL);
  read_next (self);
}

static void
start_from_snapshot (ThRedisFeed *self)
{
  const char *argv[] = { "XREVRANGE", self->config.stream, "+", "-", "COUNT", "1" };

  th_redis_command (self->redis, on_last_id, self, G_N_ELEMENTS (argv), argv, NULL);
}

/* The position saved by this node before it was restarted, if any. */
static void
on_saved_id (ThRedis    *redis,
             redisReply *reply,
             gpointer    user_data)
{
  ThRedisFeed *self = user_data;
  guint64 ms, seq;

  if (reply == NULL || !self->running)
    return;
  self->resume_tried = TRUE;
  if (reply->type == REDIS_REPLY_STRING && (parse_id (reply->str, &ms, &seq), ms > 0 || seq > 0))
    {
      const char *argv[] = { "XRANGE", self->config.stream, "-", "+", "COUNT", "1" };

      self->last_id = g_strdup (reply->str);
      self->catching_up = TRUE;
      self->stats.resumes++;
      g_message ("[redis] resuming from the position saved under %s: %s", self->resume_key, self->last_id);
      th_redis_command (redis, on_first_id, self, G_N_ELEMENTS (argv), argv, NULL);
    }
  else
    start_from_snapshot (self);
}

static void
on_state (ThRedis      *redis,
          ThRedisState  state,
          const char   *reason,
          gpointer      user_data)
{
  ThRedisFeed *self = user_data;
  g_autofree char *where = th_redis_url_describe (&self->config.url);

  if (!self->running)
    return;
  switch (state)
    {
    case TH_REDIS_READY:
      if (th_redis_get_connects (redis) > 1)
        self->stats.reconnects++;
      g_message ("[redis] connected to %s", where);
      if (self->last_id == NULL && self->resume_key != NULL && !self->resume_tried)
        {
          const char *argv[] = { "GET", self->resume_key };
          th_redis_command (redis, on_saved_id, self, G_N_ELEMENTS (argv), argv, NULL);
        }
      else if (self->last_id == NULL)
        start_from_snapshot (self);
      else
        {
          const char *argv[] = { "XRANGE", self->config.stream, "-", "+", "COUNT", "1" };
          th_redis_command (redis, on_first_id, self, G_N_ELEMENTS (argv), argv, NULL);
        }
      break;
    case TH_REDIS_DOWN:
      {
        g_autofree char *why = g_strdup_printf ("%s: %s", where, reason != NULL ? reason : "down");

        th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DOWN, why);
      }
      break;
    case TH_REDIS_CONNECTING:
      th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_CONNECTING, NULL);
      break;
    }
}

static gboolean
th_redis_feed_configure (ThFeedSource  *feed,
                         GError       **error)
{
  ThRedisFeed *self = TH_REDIS_FEED (feed);

  th_redis_config_clear (&self->config);
  self->configured = FALSE;
  if (!th_redis_config_read (self->hub, &self->config, error))
    return FALSE;
  self->configured = TRUE;
  g_free (self->block_text);
  g_free (self->count_text);
  self->block_text = g_strdup_printf ("%" G_GINT64_FORMAT, self->config.block_ms);
  self->count_text = g_strdup_printf ("%" G_GUINT64_FORMAT, self->config.count);
  g_clear_pointer (&self->resume_key, g_free);
  if (self->config.node_id_set)
    self->resume_key = g_strconcat (self->config.prefix, ":edge:", self->config.node_id, NULL);
  return TRUE;
}

static void
th_redis_feed_start (ThFeedSource *feed)
{
  ThRedisFeed *self = TH_REDIS_FEED (feed);

  if (!self->configured || self->config.role != TH_REDIS_ROLE_EDGE || self->running)
    return;
  self->running = TRUE;
  self->redis = th_redis_new (&self->config.url, on_state, self);
  th_redis_start (self->redis);
}

static void
th_redis_feed_stop (ThFeedSource *feed)
{
  ThRedisFeed *self = TH_REDIS_FEED (feed);

  self->running = FALSE;
  /* The last batch's position is queued with the XREAD that follows it:
   * written now, before the connection goes, a restarted process resumes
   * exactly after that batch. (Nothing sent after an XREAD that blocks
   * would be run: Redis drops a blocked client's queued commands when it
   * goes.) */
  if (self->redis != NULL && th_redis_get_state (self->redis) == TH_REDIS_READY)
    th_redis_finish (self->redis, 100);
  g_clear_pointer (&self->redis, th_redis_free);
}

static GVariant *
th_redis_feed_get_stats (ThFeedSource *feed)
{
  ThRedisFeed *self = TH_REDIS_FEED (feed);
  GVariantBuilder builder;
  const struct { const char *name; guint64 value; } counters[] = {
    { "messages", self->stats.messages },
    { "bytes", self->stats.bytes },
    { "ticks", self->stats.relayed },
    { "relayed", self->stats.relayed },
    { "parse_errors", self->stats.parse_errors },
    { "reconnects", self->stats.reconnects },
    { "gaps", self->stats.gaps },
    { "resumes", self->stats.resumes },
    { "snapshot", self->stats.snapshot },
    { "snapshot_stale", self->stats.snapshot_stale },
  };

  if (self->config.role == TH_REDIS_ROLE_INGEST && self->hub != NULL)
    {
      g_autoptr(GPtrArray) sinks = th_hub_get_sinks (self->hub);

      for (guint i = 0; i < sinks->len; i++)
        if (G_TYPE_CHECK_INSTANCE_TYPE (sinks->pdata[i], th_redis_sink_get_type ()))
          return th_redis_sink_get_counters (sinks->pdata[i]);
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    g_variant_builder_add (&builder, "{sv}", counters[i].name, g_variant_new_uint64 (counters[i].value));
  return g_variant_builder_end (&builder);
}

static char *
th_redis_feed_get_source_name (ThFeedSource *feed)
{
  return g_strdup (SOURCE);
}

static void
th_redis_feed_feed_source_init (ThFeedSourceInterface *iface)
{
  iface->configure = th_redis_feed_configure;
  iface->start = th_redis_feed_start;
  iface->stop = th_redis_feed_stop;
  iface->get_stats = th_redis_feed_get_stats;
  iface->get_source_name = th_redis_feed_get_source_name;
}

static void
th_redis_feed_dispose (GObject *object)
{
  th_redis_feed_stop (TH_FEED_SOURCE (object));
  G_OBJECT_CLASS (th_redis_feed_parent_class)->dispose (object);
}

static void
th_redis_feed_finalize (GObject *object)
{
  ThRedisFeed *self = TH_REDIS_FEED (object);

  th_redis_config_clear (&self->config);
  g_free (self->last_id);
  g_free (self->block_text);
  g_free (self->count_text);
  g_free (self->resume_key);
  g_clear_pointer (&self->replayed_sources, g_hash_table_unref);
  G_OBJECT_CLASS (th_redis_feed_parent_class)->finalize (object);
}

static void
th_redis_feed_class_init (ThRedisFeedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_redis_feed_dispose;
  object_class->finalize = th_redis_feed_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThRedisFeed, hub));
}

static void
th_redis_feed_class_finalize (ThRedisFeedClass *klass)
{
}

static void
th_redis_feed_init (ThRedisFeed *self)
{
}
