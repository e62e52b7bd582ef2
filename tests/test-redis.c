/* test-redis.c: many nodes on Redis, with a real redis-server.
 *
 * Each test starts its own redis-server in a temporary folder, listening
 * on a unix socket there (no TCP port: six people run the suite at once),
 * stopped by its pid. Ingest and edge hubs run in this process on the
 * default main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <hiredis/hiredis.h>

#include "test-utils.h"

typedef struct
{
  char  *dir;
  char  *socket;
  GPid   pid;
  char  *maxmemory;
  guint  tls_port;  /* also TLS on 127.0.0.1:tls_port, with tls/server.pem */
} Redis;

typedef struct
{
  Redis redis;
} Fixture;

static gboolean
redis_ping (const char *socket)
{
  redisContext *c = redisConnectUnix (socket);
  redisReply *r;
  gboolean ok;

  if (c == NULL || c->err)
    {
      if (c != NULL)
        redisFree (c);
      return FALSE;
    }
  r = redisCommand (c, "PING");
  ok = r != NULL && r->type == REDIS_REPLY_STATUS;
  if (r != NULL)
    freeReplyObject (r);
  redisFree (c);
  return ok;
}

/* A failed assertion aborts the test: its redis-server goes with it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
redis_start (Redis *r)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *tls_port = g_strdup_printf ("%u", r->tls_port);

  g_ptr_array_add (argv, (char *) "redis-server");
  g_ptr_array_add (argv, (char *) "--port");
  g_ptr_array_add (argv, (char *) "0");
  g_ptr_array_add (argv, (char *) "--unixsocket");
  g_ptr_array_add (argv, r->socket);
  g_ptr_array_add (argv, (char *) "--dir");
  g_ptr_array_add (argv, r->dir);
  g_ptr_array_add (argv, (char *) "--save");
  g_ptr_array_add (argv, (char *) "");
  g_ptr_array_add (argv, (char *) "--appendonly");
  g_ptr_array_add (argv, (char *) "no");
  g_ptr_array_add (argv, (char *) "--loglevel");
  g_ptr_array_add (argv, (char *) "warning");
  if (r->maxmemory != NULL)
    {
      g_ptr_array_add (argv, (char *) "--maxmemory");
      g_ptr_array_add (argv, r->maxmemory);
      g_ptr_array_add (argv, (char *) "--maxmemory-policy");
      g_ptr_array_add (argv, (char *) "noeviction");
    }
  if (r->tls_port != 0)
    {
      g_ptr_array_add (argv, (char *) "--bind");
      g_ptr_array_add (argv, (char *) "127.0.0.1");
      g_ptr_array_add (argv, (char *) "--tls-port");
      g_ptr_array_add (argv, tls_port);
      g_ptr_array_add (argv, (char *) "--tls-cert-file");
      g_ptr_array_add (argv, (char *) "tls/server.pem");
      g_ptr_array_add (argv, (char *) "--tls-key-file");
      g_ptr_array_add (argv, (char *) "tls/server.key");
      g_ptr_array_add (argv, (char *) "--tls-ca-cert-file");
      g_ptr_array_add (argv, (char *) "tls/ca.pem");
      g_ptr_array_add (argv, (char *) "--tls-auth-clients");
      g_ptr_array_add (argv, (char *) "no");
    }
  g_ptr_array_add (argv, NULL);

  g_spawn_async (r->dir, (char **) argv->pdata, NULL,
                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                 die_with_parent, NULL, &r->pid, &error);
  g_assert_no_error (error);
  th_test_wait_until (redis_ping (r->socket), TH_TEST_WAIT_MS);
}

static void
redis_stop (Redis *r)
{
  int status;

  if (r->pid == 0)
    return;
  kill (r->pid, SIGKILL);
  waitpid (r->pid, &status, 0);
  g_spawn_close_pid (r->pid);
  r->pid = 0;
  unlink (r->socket);
}

static redisReply *
redis_command (Redis      *r,
               const char *format,
               ...)
{
  redisContext *c = redisConnectUnix (r->socket);
  redisReply *reply;
  va_list args;

  g_assert_nonnull (c);
  g_assert_cmpint (c->err, ==, 0);
  va_start (args, format);
  reply = redisvCommand (c, format, args);
  va_end (args);
  redisFree (c);
  g_assert_nonnull (reply);
  return reply;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  f->redis.dir = th_test_make_tmp_dir ("tickhub-redis-XXXXXX");
  f->redis.socket = g_build_filename (f->redis.dir, "redis.sock", NULL);
  if (data == NULL)
    redis_start (&f->redis);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  redis_stop (&f->redis);
  th_test_remove_tmp_dir (f->redis.dir);
  g_free (f->redis.dir);
  g_free (f->redis.socket);
  g_free (f->redis.maxmemory);
}

static ThHub *
ingest_new (Fixture    *f,
            const char *extra)
{
  g_autofree char *conf = g_strdup_printf (
    "[tickhub]\nplugins=simulator;redis\nsymbols=BTC;ETH\ntimeframes=1m\n"
    "[simulator]\ninterval=0.02\n"
    "[redis]\nurl=unix://%s\nrole=ingest\n%s%s",
    f->redis.socket, extra != NULL && strstr (extra, "lease=") != NULL ? "" : "lease=0\n",
    extra != NULL ? extra : "");

  return th_test_hub_new (conf, NULL);
}

/* An edge: the redis feed, with @plugins beside it and @extra in its
 * [redis] group (and the groups after it). */
static ThHub *
edge_hub_new (Fixture    *f,
              const char *plugins,
              const char *extra)
{
  g_autofree char *conf = g_strdup_printf (
    "[tickhub]\nplugins=redis%s\nsymbols=BTC;ETH\ntimeframes=1m\n"
    "[redis]\nurl=unix://%s\nrole=edge\nblock=0.1\n%s",
    plugins != NULL ? plugins : "", f->redis.socket, extra != NULL ? extra : "");

  return th_test_hub_new (conf, NULL);
}

static ThHub *
edge_new (Fixture *f)
{
  return edge_hub_new (f, NULL, NULL);
}

static ThFeedSource *
redis_feed (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);

  for (guint i = 0; i < feeds->len; i++)
    if (g_str_equal (th_hub_get_plugin_name (hub, feeds->pdata[i]), "redis"))
      return feeds->pdata[i];
  g_assert_not_reached ();
}

static guint64
sink_stat (ThHub      *hub,
           const char *name)
{
  /* On an ingest node the feed reports the sink's counters. */
  g_autoptr(GVariant) stats = th_feed_source_get_stats (redis_feed (hub));
  guint64 v = 0;

  g_variant_lookup (stats, name, "t", &v);
  return v;
}

/* What an edge relays of an ingest's events: all but its own process's
 * status, and the edge's own `redis` source state. */
static GPtrArray *
relayed_json (GPtrArray *events)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < events->len; i++)
    {
      ThEvent *ev = events->pdata[i];
      const char *json = th_event_get_json (ev);

      if (g_str_equal (th_event_get_name (ev), "system_status_update"))
        continue;
      if (g_str_equal (th_event_get_name (ev), "source_status") && strstr (json, "\"source\":\"redis\"") != NULL)
        continue;
      g_ptr_array_add (out, (gpointer) json);
    }
  return out;
}

static ThSourceState
redis_state (ThHub *hub)
{
  return th_hub_get_source_state (hub, "redis", NULL);
}

/* An ingest node and two edges: the edges get the ingest's events, the
 * same bytes in the same order. */
static void
test_ingest_to_edges (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(ThHub) edge1 = edge_new (f);
  g_autoptr(ThHub) edge2 = edge_new (f);
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  g_autoptr(GPtrArray) e1 = th_test_capture_events (edge1);
  g_autoptr(GPtrArray) e2 = th_test_capture_events (edge2);
  g_autoptr(GPtrArray) ei = th_test_capture_events (ingest);
  g_autoptr(GPtrArray) j1 = NULL;
  g_autoptr(GPtrArray) j2 = NULL;
  g_autoptr(GPtrArray) ji = NULL;
  guint start = 0;
  gboolean found = FALSE;

  th_hub_start (edge1);
  th_hub_start (edge2);
  th_test_wait_until (redis_state (edge1) == TH_SOURCE_STATE_LIVE && redis_state (edge2) == TH_SOURCE_STATE_LIVE,
                      TH_TEST_WAIT_MS);
  th_hub_start (ingest);
  th_test_wait_until (th_test_feed_stat (edge1, "relayed") >= 200 && th_test_feed_stat (edge2, "relayed") >= 200,
                      TH_TEST_WAIT_MS);

  /* Stop publishing, let the edges drain. */
  {
    g_autoptr(GPtrArray) feeds = th_hub_get_feeds (ingest);
    for (guint i = 0; i < feeds->len; i++)
      th_feed_source_stop (feeds->pdata[i]);
  }
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);
  th_test_run_for (500);

  j1 = relayed_json (e1);
  j2 = relayed_json (e2);
  ji = relayed_json (ei);
  g_assert_cmpuint (th_test_feed_stat (edge1, "parse_errors"), ==, 0);
  g_assert_cmpuint (j1->len, >=, 200);
  g_assert_cmpuint (j1->len, ==, j2->len);
  for (guint i = 0; i < j1->len; i++)
    g_assert_cmpstr (j1->pdata[i], ==, j2->pdata[i]);

  /* The edge's events are the ingest's, from where the sink connected to
   * the end, in order. */
  for (start = 0; start < ji->len; start++)
    if (g_str_equal (ji->pdata[start], j1->pdata[0]))
      {
        found = TRUE;
        break;
      }
  g_assert_true (found);
  g_assert_cmpuint (ji->len - start, ==, j1->len);
  for (guint i = 0; i < j1->len; i++)
    g_assert_cmpstr (ji->pdata[start + i], ==, j1->pdata[i]);
  g_assert_cmpuint (th_test_count_events (e1, "financial_data_update", NULL), >, 50);

  /* The edge's getters answer with the upstream price. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(ThTick) up = th_hub_get_price (ingest, "BTC", &error);
    g_autoptr(ThTick) down = th_hub_get_price (edge1, "BTC", &error);

    g_assert_no_error (error);
    g_assert_cmpfloat (up->price, ==, down->price);
    g_assert_cmpstr (down->source, ==, "simulator");
  }

  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge1);
  th_test_hub_clear (&edge2);
}

/* An edge that starts after the ingest has every symbol's price at once,
 * from the hashes. */
static void
test_late_edge (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  g_autoptr(ThHub) edge = NULL;
  g_autoptr(GPtrArray) feeds = NULL;

  th_hub_start (ingest);
  th_test_wait_until (sink_stat (ingest, "acked") >= 20, TH_TEST_WAIT_MS);
  feeds = th_hub_get_feeds (ingest);
  for (guint i = 0; i < feeds->len; i++)
    th_feed_source_stop (feeds->pdata[i]);
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);

  edge = edge_new (f);
  th_hub_start (edge);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  for (const char *const *s = (const char *const[]) { "BTC", "ETH", NULL }; *s != NULL; s++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThTick) up = th_hub_get_price (ingest, *s, &error);
      g_autoptr(ThTick) down = th_hub_get_price (edge, *s, &error);

      g_assert_no_error (error);
      g_assert_cmpfloat (up->price, ==, down->price);
      g_assert_cmpint (up->exchange_time / 1000, ==, down->exchange_time / 1000);   /* events carry ms */
    }
  g_assert_cmpuint (th_test_feed_stat (edge, "snapshot"), >=, 2);   /* the 2 prices */

  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge);
}

/* Entries a tickhub sink did not write are refused and counted; the edge
 * carries on. */
static void
test_garbage (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(ThHub) edge = edge_new (f);
  g_autoptr(GPtrArray) events = th_test_capture_events (edge);
  g_autofree char *good = g_strdup_printf (
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":50000,\"volume\":null,"
    "\"change\":null,\"bid\":null,\"ask\":null,\"source\":\"binance\",\"timestamp\":\"%s\"}}}",
    "2030-01-01T00:00:00.000Z");
  const char *bad[] = {
    "not json",
    "{\"event\":\"hack\",\"data\":{}}",
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"ZZZ\",\"data\":{\"price\":1,\"source\":\"x\",\"timestamp\":\"2030-01-01T00:00:00.000Z\"}}}",
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":-5,\"source\":\"x\",\"timestamp\":\"2030-01-01T00:00:00.000Z\"}}}",
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\"}}",
    "[[[[",
  };
  redisReply *reply;

  th_hub_start (edge);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);

  reply = redis_command (&f->redis, "XADD tickhub:events * foreign 1");
  freeReplyObject (reply);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      reply = redis_command (&f->redis, "XADD tickhub:events * e %s", bad[i]);
      freeReplyObject (reply);
    }
  reply = redis_command (&f->redis, "XADD tickhub:events * e %s", good);
  freeReplyObject (reply);

  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= 1, TH_TEST_WAIT_MS);
  g_assert_cmpuint (th_test_feed_stat (edge, "parse_errors"), ==, 1 + G_N_ELEMENTS (bad));
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", NULL), ==, 1);
  g_assert_cmpstr (th_test_last_event_json (events, "financial_data_update"), ==, good);

  th_test_hub_clear (&edge);
}

/* Redis down when the edge starts, then up; then restarted under a running
 * ingest and edge: every node says so and carries on. */
static void
test_restart (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(ThHub) edge = edge_new (f);
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  guint64 before;

  th_hub_start (edge);
  th_hub_start (ingest);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  th_test_run_for (300);
  g_assert_cmpuint (th_test_feed_stat (edge, "relayed"), ==, 0);
  g_assert_cmpuint (sink_stat (ingest, "dropped_down"), >, 0);

  redis_start (&f->redis);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= 50, TH_TEST_WAIT_MS);

  /* Restarted (empty, no persistence): both reconnect, the edge resumes. */
  redis_stop (&f->redis);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  redis_start (&f->redis);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  before = th_test_feed_stat (edge, "relayed");
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= before + 50, TH_TEST_WAIT_MS);
  g_assert_cmpuint (sink_stat (ingest, "reconnects"), >=, 1);
  g_assert_cmpuint (th_test_feed_stat (edge, "reconnects"), >=, 1);
  g_assert_cmpuint (th_test_feed_stat (edge, "parse_errors"), ==, 0);

  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge);
}

/* A full Redis (maxmemory, noeviction): the sink counts the refusals and
 * keeps running. */
static void
test_full (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(ThHub) ingest = NULL;

  f->redis.maxmemory = g_strdup ("1mb");
  redis_start (&f->redis);
  ingest = ingest_new (f, "max-length=1000000\n");
  th_hub_start (ingest);
  th_test_wait_until (sink_stat (ingest, "redis_errors") > 0, 30000);
  g_assert_cmpuint (sink_stat (ingest, "acked"), >, 0);
  th_test_hub_clear (&ingest);
}

/* Two ingest nodes: one publishes; when it stops, the other takes over
 * within the lease, and no entry of the stream comes from both. */
static void
test_standby (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(ThHub) a = ingest_new (f, "lease=0.5\nnode-id=A\n");
  g_autoptr(ThHub) b = NULL;
  redisReply *reply;
  gint64 stopped;
  guint switches = 0;
  char last = 0;

  th_hub_start (a);
  th_test_wait_until (sink_stat (a, "leader") == 1 && sink_stat (a, "acked") > 20, TH_TEST_WAIT_MS);
  b = ingest_new (f, "lease=0.5\nnode-id=B\n");
  th_hub_start (b);
  th_test_run_for (800);
  g_assert_cmpuint (sink_stat (b, "leader"), ==, 0);
  g_assert_cmpuint (sink_stat (b, "published"), ==, 0);
  g_assert_cmpuint (sink_stat (b, "standby_skipped"), >, 0);

  th_test_hub_clear (&a);
  stopped = g_get_monotonic_time ();
  /* A gave the lease back as it stopped: gone, or B's already. */
  reply = redis_command (&f->redis, "GET tickhub:leader");
  g_assert_true (reply->type == REDIS_REPLY_NIL ||
                 (reply->type == REDIS_REPLY_STRING && g_str_equal (reply->str, "B")));
  freeReplyObject (reply);
  th_test_wait_until (sink_stat (b, "leader") == 1, TH_TEST_WAIT_MS);
  g_assert_cmpint (g_get_monotonic_time () - stopped, <, 500 * 1000 + 300 * 1000);
  th_test_wait_until (sink_stat (b, "acked") > 20, TH_TEST_WAIT_MS);

  /* The stream: A's entries, then B's, never interleaved. */
  reply = redis_command (&f->redis, "XRANGE tickhub:events - +");
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_ARRAY);
  for (size_t i = 0; i < reply->elements; i++)
    {
      redisReply *fields = reply->element[i]->element[1];
      char node = fields->element[3]->str[0];

      g_assert_cmpstr (fields->element[2]->str, ==, "n");
      if (node != last)
        switches++;
      last = node;
    }
  g_assert_cmpuint (switches, ==, 2);
  g_assert_cmpint (last, ==, 'B');
  freeReplyObject (reply);

  th_test_hub_clear (&b);
}

/* Socket.IO clients of an edge's server: the websocket transport, the
 * namespace connected, in every room an event of @names goes to. */

typedef struct
{
  ThTestWs  *ws;
  GPtrArray *events;   /* char*: {"event":NAME,"data":DATA} of each 42 packet named in @names */
} SioClient;

static const char *const sio_names[] = { "financial_data_update", "candle_update", NULL };

static char *
sio_next (ThTestWs   *w,
          const char *prefix)
{
  for (;;)
    {
      char *p;

      th_test_wait_until (th_test_ws_has_message (w), TH_TEST_WAIT_MS);
      p = g_queue_pop_head (&w->messages);
      if (p == NULL)
        g_error ("closed while waiting for %s", prefix);
      if (g_str_has_prefix (p, prefix))
        return p;
      if (g_str_equal (p, "2"))
        th_test_ws_send (w, "3");
      g_free (p);
    }
}

static SioClient *
sio_connect (SoupSession *session,
             ThHub       *edge)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/socket.io/?EIO=4&transport=websocket",
                                          th_test_server_port (edge));
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  SioClient *c = g_new0 (SioClient, 1);
  const char *rooms[] = { "financial_data", "symbol_BTC", "symbol_ETH" };

  c->ws = th_test_ws_connect (session, msg, NULL);
  g_assert_no_error (c->ws->error);
  c->events = g_ptr_array_new_with_free_func (g_free);
  g_free (sio_next (c->ws, "0{"));
  th_test_ws_send (c->ws, "40");
  g_free (sio_next (c->ws, "40{\"sid\":"));
  g_free (sio_next (c->ws, "42[\"connected\","));
  for (guint i = 0; i < G_N_ELEMENTS (rooms); i++)
    {
      g_autofree char *join = g_strdup_printf ("42[\"join_room\",{\"room\":\"%s\"}]", rooms[i]);

      th_test_ws_send (c->ws, join);
      g_free (sio_next (c->ws, "42[\"room_joined\","));
    }
  return c;
}

/* Takes in what came: each event as the envelope the hub serialized. */
static void
sio_collect (SioClient *c)
{
  char *p;

  while ((p = g_queue_pop_head (&c->ws->messages)) != NULL)
    {
      g_autofree char *packet = p;

      if (g_str_equal (packet, "2"))
        {
          th_test_ws_send (c->ws, "3");
          continue;
        }
      if (!g_str_has_prefix (packet, "42[\"") || !g_str_has_suffix (packet, "]"))
        continue;
      for (const char *const *n = sio_names; *n != NULL; n++)
        {
          gsize len = strlen (*n);

          if (strncmp (packet + 4, *n, len) == 0 && strncmp (packet + 4 + len, "\",", 2) == 0)
            {
              const char *data = packet + 4 + len + 2;

              g_ptr_array_add (c->events, g_strdup_printf ("{\"event\":\"%s\",\"data\":%.*s}", *n,
                                                           (int) (strlen (data) - 1), data));
              break;
            }
        }
    }
}

static void
sio_free (SioClient *c)
{
  th_test_ws_free (c->ws);
  g_ptr_array_unref (c->events);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SioClient, sio_free)

/* The ingest's events of @names, as JSON. */
static GPtrArray *
named_json (GPtrArray *events)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < events->len; i++)
    if (g_strv_contains (sio_names, th_event_get_name (events->pdata[i])))
      g_ptr_array_add (out, (gpointer) th_event_get_json (events->pdata[i]));
  return out;
}

/* @served is @upstream from some index to its end. */
static void
assert_tail_of (GPtrArray *served,
                GPtrArray *upstream)
{
  guint start;

  g_assert_cmpuint (served->len, >, 0);
  for (start = 0; start < upstream->len; start++)
    if (g_str_equal (upstream->pdata[start], served->pdata[0]))
      break;
  if (start == upstream->len)
    g_error ("the first event served is not one of the ingest's: %s", (char *) served->pdata[0]);
  for (guint i = 0; i < served->len && start + i < upstream->len; i++)
    if (!g_str_equal (upstream->pdata[start + i], served->pdata[i]))
      g_error ("event %u served differs from the ingest's:\n  %s\n  %s", i, (char *) served->pdata[i],
               (char *) upstream->pdata[start + i]);
  g_assert_cmpuint (upstream->len - start, ==, served->len);
}

/* Whether @c has had the last of the ingest's events @ei so far. */
static gboolean
has_last_of (SioClient *c,
             GPtrArray *ei)
{
  g_autoptr(GPtrArray) ji = named_json (ei);

  sio_collect (c);
  return ji->len > 0 && c->events->len > 0 &&
         g_str_equal (c->events->pdata[c->events->len - 1], ji->pdata[ji->len - 1]);
}

static ThHub *
edge_server_new (Fixture *f)
{
  return edge_hub_new (f, ";server", "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nrate-limit=0\n");
}

static void
stop_feeds (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);

  for (guint i = 0; i < feeds->len; i++)
    th_feed_source_stop (feeds->pdata[i]);
}

/* One ingest, two edges each with its server: a Socket.IO client on each
 * edge gets the same events in the same order, the ingest's. */
static void
test_socketio_edges (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(ThHub) edge1 = edge_server_new (f);
  g_autoptr(ThHub) edge2 = edge_server_new (f);
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  g_autoptr(GPtrArray) ei = th_test_capture_events (ingest);
  g_autoptr(GPtrArray) ji = NULL;
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(SioClient) c1 = NULL;
  g_autoptr(SioClient) c2 = NULL;

  th_hub_start (edge1);
  th_hub_start (edge2);
  th_test_wait_until (redis_state (edge1) == TH_SOURCE_STATE_LIVE && redis_state (edge2) == TH_SOURCE_STATE_LIVE,
                      TH_TEST_WAIT_MS);
  c1 = sio_connect (session, edge1);
  c2 = sio_connect (session, edge2);
  th_hub_start (ingest);
  th_test_wait_until ((sio_collect (c1), sio_collect (c2), c1->events->len >= 200 && c2->events->len >= 200),
                      TH_TEST_WAIT_MS * 2);

  stop_feeds (ingest);
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);
  ji = named_json (ei);
  th_test_wait_until ((sio_collect (c1), sio_collect (c2),
                       c1->events->len >= ji->len - 20 && c2->events->len == c1->events->len), TH_TEST_WAIT_MS);
  th_test_wait_until (has_last_of (c1, ei) && has_last_of (c2, ei), TH_TEST_WAIT_MS);
  /* The ingest still speaks after its feeds stopped (prices going stale,
   * at any moment): a while later, until both clients have its last event
   * once more, and its events taken then, with no main-loop iteration
   * between (one taken 100 ms later could not have reached them: CI,
   * ASan, 204 events against 202 served). */
  th_test_run_for (100);
  th_test_wait_until (has_last_of (c1, ei) && has_last_of (c2, ei), TH_TEST_WAIT_MS);
  g_ptr_array_unref (ji);
  ji = named_json (ei);

  g_assert_cmpuint (th_test_feed_stat (edge1, "parse_errors"), ==, 0);
  g_assert_cmpuint (c1->events->len, ==, c2->events->len);
  for (guint i = 0; i < c1->events->len; i++)
    g_assert_cmpstr (c1->events->pdata[i], ==, c2->events->pdata[i]);
  assert_tail_of (c1->events, ji);
  g_assert_cmpuint (th_test_count_events (ei, "candle_update", NULL), >, 0);

  g_clear_pointer (&c1, sio_free);
  g_clear_pointer (&c2, sio_free);
  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge1);
  th_test_hub_clear (&edge2);
}

/* An edge whose feed stops mid-stream and starts again while the ingest
 * publishes catches up from its last id: what its Socket.IO client got
 * before and after is the ingest's events, none lost, none twice. */
static void
test_edge_restart (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(ThHub) edge = edge_server_new (f);
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  g_autoptr(GPtrArray) ei = th_test_capture_events (ingest);
  g_autoptr(GPtrArray) ji = NULL;
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(SioClient) c = NULL;
  ThFeedSource *feed;
  guint64 acked_at_stop, relayed_at_stop;
  guint served_at_stop;

  th_hub_start (edge);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  c = sio_connect (session, edge);
  th_hub_start (ingest);
  th_test_wait_until ((sio_collect (c), c->events->len >= 100), TH_TEST_WAIT_MS);

  /* Down for a while: the ingest goes on publishing. */
  feed = redis_feed (edge);
  th_feed_source_stop (feed);
  relayed_at_stop = th_test_feed_stat (edge, "relayed");
  acked_at_stop = sink_stat (ingest, "acked");
  th_test_wait_until (sink_stat (ingest, "acked") >= acked_at_stop + 100, TH_TEST_WAIT_MS);
  th_test_run_for (50);
  sio_collect (c);
  served_at_stop = c->events->len;
  g_assert_cmpuint (th_test_feed_stat (edge, "relayed"), ==, relayed_at_stop);

  th_feed_source_start (feed);
  th_test_wait_until ((sio_collect (c), c->events->len >= served_at_stop + 150), TH_TEST_WAIT_MS);

  stop_feeds (ingest);
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);
  ji = named_json (ei);
  /* Until the client has the ingest's last event (slow under ASan). */
  th_test_wait_until (has_last_of (c, ei), TH_TEST_WAIT_MS);
  /* And what the ingest said a while later (see test_socketio_edges). */
  th_test_run_for (100);
  th_test_wait_until (has_last_of (c, ei), TH_TEST_WAIT_MS);
  g_ptr_array_unref (ji);
  ji = named_json (ei);

  /* The events published while the feed was stopped came after it started again. */
  g_assert_cmpuint (th_test_feed_stat (edge, "gaps"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (edge, "parse_errors"), ==, 0);
  assert_tail_of (c->events, ji);

  g_clear_pointer (&c, sio_free);
  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge);
}

static ThHub *
edge_named_new (Fixture    *f,
                const char *node_id)
{
  g_autofree char *extra = g_strdup_printf ("node-id=%s\n", node_id);

  return edge_hub_new (f, NULL, extra);
}

static void
start_feeds (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);

  for (guint i = 0; i < feeds->len; i++)
    th_feed_source_start (feeds->pdata[i]);
}

/* The JSON of @events named @name */
static GPtrArray *
json_of (GPtrArray  *events,
         const char *name)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < events->len; i++)
    if (g_str_equal (th_event_get_name (events->pdata[i]), name))
      g_ptr_array_add (out, (gpointer) th_event_get_json (events->pdata[i]));
  return out;
}

static char *
saved_position (Fixture    *f,
                const char *node_id)
{
  redisReply *r = redis_command (&f->redis, "GET tickhub:edge:%s", node_id);
  char *id = r->type == REDIS_REPLY_STRING ? g_strdup (r->str) : NULL;

  freeReplyObject (r);
  return id;
}

static gboolean
position_is (Fixture    *f,
             const char *node_id,
             const char *id)
{
  g_autofree char *now = saved_position (f, node_id);

  return g_strcmp0 (now, id) == 0;
}

/* An edge *process* restarted (a new hub: nothing kept in memory) with
 * the same node-id resumes from the position it saved in Redis: the
 * prices it relays before and after are the ingest's, none lost, none
 * twice. Then, the stream trimmed past its position while it was away:
 * the gap is counted and shown as the reason of its `redis` source. */
static void
test_edge_process_restart (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(ThHub) ingest = ingest_new (f, NULL);
  g_autoptr(ThHub) edge = edge_named_new (f, "edge-a");
  g_autoptr(ThHub) anonymous = edge_new (f);
  g_autoptr(GPtrArray) ei = th_test_capture_events (ingest);
  g_autoptr(GPtrArray) e1 = th_test_capture_events (edge);
  g_autoptr(GPtrArray) e2 = NULL;
  g_autoptr(GPtrArray) e3 = NULL;
  g_autoptr(GPtrArray) served = g_ptr_array_new ();
  g_autoptr(GPtrArray) up = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *reason = NULL;
  guint64 acked;
  redisReply *r;
  gboolean said = FALSE;

  th_hub_start (edge);
  th_hub_start (anonymous);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  th_hub_start (ingest);
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= 100, TH_TEST_WAIT_MS);
  g_assert_cmpuint (th_test_feed_stat (edge, "resumes"), ==, 0);

  /* The process ends; the ingest goes on publishing meanwhile. */
  th_test_hub_clear (&edge);
  saved = saved_position (f, "edge-a");
  g_assert_nonnull (saved);
  g_assert_true (g_regex_match_simple ("^[0-9]+-[0-9]+$", saved, 0, 0));
  /* Only a node with a node-id of its own keeps a position. */
  r = redis_command (&f->redis, "KEYS tickhub:edge:*");
  g_assert_cmpint (r->type, ==, REDIS_REPLY_ARRAY);
  g_assert_cmpuint (r->elements, ==, 1);
  freeReplyObject (r);
  acked = sink_stat (ingest, "acked");
  th_test_wait_until (sink_stat (ingest, "acked") >= acked + 75, TH_TEST_WAIT_MS);
  /* A source's state, in the stream and the hash: replayed, then not
   * repeated from the hash. */
  th_hub_report_source_status (ingest, "simulator", TH_SOURCE_STATE_LIVE, "said while edge-a was away");
  th_test_wait_until (sink_stat (ingest, "acked") >= acked + 150, TH_TEST_WAIT_MS);
  stop_feeds (ingest);
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);

  /* Started again: it catches up from its position. */
  edge = edge_named_new (f, "edge-a");
  e2 = th_test_capture_events (edge);
  th_hub_start (edge);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  th_test_wait_until (!position_is (f, "edge-a", saved), TH_TEST_WAIT_MS);
  th_test_run_for (500);
  g_assert_cmpuint (th_test_feed_stat (edge, "resumes"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (edge, "gaps"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (edge, "parse_errors"), ==, 0);
  /* Every entry after its position, and from the hashes at most the
   * sources' states (the replay brought every symbol's price). */
  r = redis_command (&f->redis, "XRANGE tickhub:events (%s +", saved);
  g_assert_cmpuint (r->elements, >=, 50);
  g_assert_cmpuint (th_test_feed_stat (edge, "relayed"), >=, r->elements);
  g_assert_cmpuint (th_test_feed_stat (edge, "relayed"), <=, r->elements + 2);
  g_assert_cmpuint (th_test_feed_stat (edge, "snapshot"), <=, 2);
  freeReplyObject (r);
  /* The hashes repeat no source state the replay already said. */
  {
    const char *prev = NULL;
    guint n = 0;

    for (guint i = 0; i < e2->len; i++)
      if (g_str_equal (th_event_get_name (e2->pdata[i]), "source_status") &&
          strstr (th_event_get_json (e2->pdata[i]), "\"source\":\"simulator\"") != NULL)
        {
          g_assert_cmpstr (th_event_get_json (e2->pdata[i]), !=, prev);
          prev = th_event_get_json (e2->pdata[i]);
          n++;
        }
    /* The one said while it was away, once. */
    g_assert_cmpuint (n, ==, 1);
    g_assert_nonnull (strstr (prev, "while edge-a was away"));
    g_assert_cmpuint (th_test_feed_stat (edge, "snapshot"), ==, 0);
  }

  /* Before + after = the ingest's prices from the first the edge got. */
  {
    g_autoptr(GPtrArray) before = json_of (e1, "financial_data_update");
    g_autoptr(GPtrArray) after = json_of (e2, "financial_data_update");

    g_ptr_array_extend (served, before, NULL, NULL);
    g_ptr_array_extend (served, after, NULL, NULL);
    g_assert_cmpuint (after->len, >, 20);
  }
  up = json_of (ei, "financial_data_update");
  assert_tail_of (served, up);
  /* Its own position moved to the end of the stream. */
  r = redis_command (&f->redis, "XREVRANGE tickhub:events + - COUNT 1");
  g_assert_cmpuint (r->elements, ==, 1);
  g_assert_true (position_is (f, "edge-a", r->element[0]->element[0]->str));
  freeReplyObject (r);

  /* Away again; the stream is trimmed past its position meanwhile. */
  th_test_hub_clear (&edge);
  start_feeds (ingest);
  acked = sink_stat (ingest, "acked");
  th_test_wait_until (sink_stat (ingest, "acked") >= acked + 50, TH_TEST_WAIT_MS);
  stop_feeds (ingest);
  th_test_wait_until (sink_stat (ingest, "acked") >= sink_stat (ingest, "published"), TH_TEST_WAIT_MS);
  freeReplyObject (redis_command (&f->redis, "XTRIM tickhub:events MAXLEN 10"));

  edge = edge_named_new (f, "edge-a");
  e3 = th_test_capture_events (edge);
  th_hub_start (edge);
  th_test_wait_until (th_test_feed_stat (edge, "gaps") == 1, TH_TEST_WAIT_MS);
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= 10, TH_TEST_WAIT_MS);
  g_assert_cmpuint (th_test_feed_stat (edge, "resumes"), ==, 1);
  g_assert_cmpint (th_hub_get_source_state (edge, "redis", &reason), ==, TH_SOURCE_STATE_LIVE);
  g_assert_nonnull (strstr (reason, "trimmed past"));
  for (guint i = 0; i < e3->len; i++)
    if (g_str_equal (th_event_get_name (e3->pdata[i]), "source_status") &&
        strstr (th_event_get_json (e3->pdata[i]), "\"source\":\"redis\"") != NULL &&
        strstr (th_event_get_json (e3->pdata[i]), "trimmed past") != NULL)
      said = TRUE;
  g_assert_true (said);

  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge);
  th_test_hub_clear (&anonymous);
}

/* Runs a command (argv, NULL-terminated) in @dir; fails the test when it fails. */
static void
run_in (const char *dir,
        const char *const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (dir, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err);
}

/* In DIR/tls: a CA (ca.pem), a server certificate it signed for 127.0.0.1
 * and localhost (server.pem, server.key), and another CA that signed
 * nothing here (other-ca.pem). */
static void
make_certificates (const char *dir)
{
  g_autofree char *tls = g_build_filename (dir, "tls", NULL);
  const char *ca[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                       "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=tickhub test CA", NULL };
  const char *other[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2",
                          "-subj", "/CN=another CA", NULL };
  const char *req[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", NULL };
  const char *sign[] = { "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                         "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.cnf", NULL };
  const char *client_req[] = { "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                               "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=tickhub node", NULL };
  const char *client_sign[] = { "openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                                "-CAcreateserial", "-out", "client.pem", "-days", "2", "-extfile", "client.cnf", NULL };
  g_autofree char *san = g_build_filename (tls, "san.cnf", NULL);
  g_autofree char *client = g_build_filename (tls, "client.cnf", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (tls, 0700), ==, 0);
  g_file_set_contents (san, "subjectAltName=IP:127.0.0.1,DNS:localhost\n", -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (client, "extendedKeyUsage=clientAuth\n", -1, &error);
  g_assert_no_error (error);
  run_in (tls, ca);
  run_in (tls, other);
  run_in (tls, req);
  run_in (tls, sign);
  run_in (tls, client_req);
  run_in (tls, client_sign);
}

static ThHub *
tls_hub_new (Fixture    *f,
             const char *role,
             const char *query,
             const char *extra)
{
  g_autofree char *conf = g_strdup_printf (
    "[tickhub]\nplugins=%s\nsymbols=BTC;ETH\ntimeframes=1m\n%s"
    "[redis]\nurl=rediss://127.0.0.1:%u/0?%s\nrole=%s\nlease=0\nblock=0.1\n%s",
    g_str_equal (role, "ingest") ? "simulator;redis" : "redis",
    g_str_equal (role, "ingest") ? "[simulator]\ninterval=0.02\n" : "", f->redis.tls_port, query, role,
    extra != NULL ? extra : "");

  return th_test_hub_new (conf, NULL);
}

/* rediss://: an ingest and an edge reach Redis only through its TLS port
 * (the bridge); the stream is read back on the plain unix socket. A
 * certificate from a CA not given is refused, with the reason saying so. */
static void
test_tls (Fixture       *f,
          gconstpointer  data)
{
  g_autofree char *good = NULL;
  g_autofree char *wrong = NULL;
  g_autoptr(ThHub) edge = NULL;
  g_autoptr(ThHub) ingest = NULL;
  g_autoptr(ThHub) stranger = NULL;
  g_autoptr(ThHub) system_cas = NULL;
  g_autofree char *reason = NULL;
  redisReply *reply;
  guint64 before;

  make_certificates (f->redis.dir);
  f->redis.tls_port = th_test_closed_port ();
  redis_start (&f->redis);
  good = g_strdup_printf ("cacert=%s/tls/ca.pem", f->redis.dir);
  wrong = g_strdup_printf ("cacert=%s/tls/other-ca.pem", f->redis.dir);

  edge = tls_hub_new (f, "edge", good, NULL);
  ingest = tls_hub_new (f, "ingest", good, NULL);
  th_hub_start (edge);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  th_hub_start (ingest);
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= 100, TH_TEST_WAIT_MS);
  g_assert_cmpuint (th_test_feed_stat (edge, "parse_errors"), ==, 0);

  /* The entries are in Redis, read in clear on the unix socket. */
  reply = redis_command (&f->redis, "XLEN tickhub:events");
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_INTEGER);
  g_assert_cmpint (reply->integer, >=, 100);
  freeReplyObject (reply);
  /* The nodes' connections are TCP ones, and the only TCP port is the TLS one. */
  reply = redis_command (&f->redis, "CLIENT LIST");
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_STRING);
  g_assert_nonnull (strstr (reply->str, "addr=127.0.0.1:"));
  freeReplyObject (reply);

  /* Redis restarts: both reconnect through a new TLS session. */
  redis_stop (&f->redis);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  redis_start (&f->redis);
  th_test_wait_until (redis_state (edge) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  before = th_test_feed_stat (edge, "relayed");
  th_test_wait_until (th_test_feed_stat (edge, "relayed") >= before + 50, TH_TEST_WAIT_MS);
  g_assert_cmpuint (sink_stat (ingest, "reconnects"), >=, 1);

  /* Another CA, or the system's CAs: not trusted, said in the reason, retried. */
  stranger = tls_hub_new (f, "edge", wrong, NULL);
  th_hub_start (stranger);
  th_test_wait_until (th_hub_get_source_state (stranger, "redis", NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  th_hub_get_source_state (stranger, "redis", &reason);
  g_assert_nonnull (reason);
  if (strstr (reason, "TLS: the certificate of 127.0.0.1") == NULL || strstr (reason, "not trusted") == NULL
      || strstr (reason, "unknown authority") == NULL)
    g_error ("reason: %s", reason);
  g_clear_pointer (&reason, g_free);
  system_cas = tls_hub_new (f, "edge", "", NULL);
  th_hub_start (system_cas);
  th_test_wait_until (th_hub_get_source_state (system_cas, "redis", NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  th_hub_get_source_state (system_cas, "redis", &reason);
  g_assert_nonnull (strstr (reason, "not trusted"));
  th_test_run_for (500);
  g_assert_cmpuint (th_test_feed_stat (stranger, "relayed"), ==, 0);
  g_assert_cmpint (th_hub_get_source_state (stranger, "redis", NULL), ==, TH_SOURCE_STATE_DOWN);
  th_test_hub_clear (&stranger);
  th_test_hub_clear (&system_cas);

  /* Redis asks for client certificates: a node without one is refused
   * (the reason says TLS), one with cert= and key= gets in. */
  reply = redis_command (&f->redis, "CONFIG SET tls-auth-clients yes");
  g_assert_cmpint (reply->type, ==, REDIS_REPLY_STATUS);
  freeReplyObject (reply);
  {
    g_autofree char *with_cert = g_strdup_printf ("%s&cert=%s/tls/client.pem&key=%s/tls/client.key", good,
                                                  f->redis.dir, f->redis.dir);

    stranger = tls_hub_new (f, "edge", good, NULL);
    th_hub_start (stranger);
    th_test_wait_until (th_hub_get_source_state (stranger, "redis", NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
    g_clear_pointer (&reason, g_free);
    th_hub_get_source_state (stranger, "redis", &reason);
    if (strstr (reason, "TLS") == NULL)
      g_error ("reason: %s", reason);
    th_test_hub_clear (&stranger);

    stranger = tls_hub_new (f, "edge", with_cert, NULL);
    th_hub_start (stranger);
    th_test_wait_until (redis_state (stranger) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
    before = th_test_feed_stat (stranger, "relayed");
    th_test_wait_until (th_test_feed_stat (stranger, "relayed") >= before + 20, TH_TEST_WAIT_MS);
    th_test_hub_clear (&stranger);
  }

  th_test_hub_clear (&ingest);
  th_test_hub_clear (&edge);
}

static void
test_config (void)
{
  const struct { const char *conf; const char *needle; } cases[] = {
    { "url=rediss://h:6380/0?verify=no\n", "unknown parameter “verify”" },
    { "url=rediss://h:6380/0?cert=/etc/hostname\n", "both cert=FILE and key=FILE" },
    { "url=rediss://h:6380/0?cacert=/nonexistent/ca.pem\n", "cacert:" },
    { "url=rediss://h:6380/0?cacert=\n", "“cacert” is empty" },
    { "url=redis://h:6379/0?cacert=/etc/ssl/certs/ca-certificates.crt\n", "use rediss://" },
    { "url=http://h/\n", "not a redis://, rediss:// or unix:// URL" },
    { "url=redis://h:1/x\n", "database number" },
    { "url=unix://relative\n", "absolute path" },
    { "lease=0.1\n", "[redis] lease" },
    { "max-length=5\n", "[redis] max-length" },
    { "role=both\n", "[redis] role" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *conf = g_strdup_printf ("[tickhub]\nplugins=redis\nsymbols=BTC\n[redis]\n%s", cases[i].conf);
      g_autoptr(GError) error = th_test_hub_load_error (conf);

      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      if (strstr (error->message, cases[i].needle) == NULL)
        g_error ("case %u: “%s” does not say “%s”", i, error->message, cases[i].needle);
    }
}

/* What the sink queued before the hub stops reaches Redis: events pushed
 * and the hub stopped at once, without a main-loop iteration between (the
 * connection would otherwise have written them on its next one), are all
 * in the stream afterwards. */
static void
test_stop_flushes (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *conf = g_strdup_printf (
    "[tickhub]\nplugins=redis\nsymbols=BTC;ETH\n"
    "[redis]\nurl=unix://%s\nrole=ingest\nlease=0\n", f->redis.socket);
  g_autoptr(ThHub) ingest = th_test_hub_new (conf, NULL);
  guint64 published, before;
  redisReply *r;

  th_hub_start (ingest);
  th_test_wait_until (sink_stat (ingest, "leader") == 1, TH_TEST_WAIT_MS);
  th_test_run_for (100);
  before = sink_stat (ingest, "published");
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(ThTick) tick = th_tick_new (i % 2 ? "BTC" : "ETH", "binance", TH_TICK_KIND_QUOTE,
                                            100 + i, g_get_real_time () / 1000);

      th_hub_push_tick (ingest, tick);
    }
  published = sink_stat (ingest, "published");
  g_assert_cmpuint (published - before, >=, 200);
  th_test_hub_clear (&ingest);

  r = redis_command (&f->redis, "XLEN tickhub:events");
  g_assert_cmpint (r->type, ==, REDIS_REPLY_INTEGER);
  g_assert_cmpuint ((guint64) r->integer, ==, published);
  freeReplyObject (r);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *server = NULL;

  g_test_init (&argc, &argv, NULL);

  server = g_find_program_in_path ("redis-server");
  if (server == NULL)
    {
      g_test_skip ("redis-server is not installed (setup.sh installs it)");
      return g_test_run ();
    }

  g_test_add_func ("/redis/config", test_config);
  g_test_add ("/redis/ingest-to-edges", Fixture, NULL, fixture_set_up, test_ingest_to_edges, fixture_tear_down);
  g_test_add ("/redis/late-edge", Fixture, NULL, fixture_set_up, test_late_edge, fixture_tear_down);
  g_test_add ("/redis/garbage", Fixture, NULL, fixture_set_up, test_garbage, fixture_tear_down);
  g_test_add ("/redis/down-at-start-and-restart", Fixture, "no", fixture_set_up, test_restart, fixture_tear_down);
  g_test_add ("/redis/maxmemory", Fixture, "no", fixture_set_up, test_full, fixture_tear_down);
  g_test_add ("/redis/socketio-edges", Fixture, NULL, fixture_set_up, test_socketio_edges, fixture_tear_down);
  g_test_add ("/redis/edge-restart", Fixture, NULL, fixture_set_up, test_edge_restart, fixture_tear_down);
  g_test_add ("/redis/edge-process-restart", Fixture, NULL, fixture_set_up, test_edge_process_restart,
              fixture_tear_down);
  g_test_add ("/redis/standby", Fixture, NULL, fixture_set_up, test_standby, fixture_tear_down);
  g_test_add ("/redis/stop-flushes", Fixture, NULL, fixture_set_up, test_stop_flushes, fixture_tear_down);
  g_test_add ("/redis/tls", Fixture, "no", fixture_set_up, test_tls, fixture_tear_down);
  return g_test_run ();
}
