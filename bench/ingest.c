/* ingest.c: how fast exchange messages become ticks
 *
 * 1. Parse + normalize, per message type: frames injected into each venue
 *    feed (th_ws_feed_inject: the same code path as a live frame, minus
 *    the socket), through the hub (price book, candles, event) — msgs/s on
 *    one core, wall clock, and the CPU time per message (the machine is
 *    shared: CPU time is the steadier figure). The goal is 1,000,000/s.
 *    Beside each, the parse alone: the tape reader (core/th-json-reader.c,
 *    what the venues use) reading the message and the fields the venue
 *    reads, and json-glib doing the same (th_json_parser_load() and
 *    th_json_object_get_number(), what the venues did before) as the
 *    reference.
 * 2. End to end: a local server (libsoup, in its own thread) sends Binance
 *    ticker frames as fast as it can over a real loopback WebSocket; the
 *    hub counts ticks — msgs/s and MB/s received.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libsoup/soup.h>

#include "th-json-reader.h"
#include "th-private.h"

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* CPU time of this process, in seconds. */
static double
cpu_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ThHub *
make_hub (const char *plugins,
          const char *extra)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=%s\nsymbols=BTC;ETH\ntimeframes=1m;5m;1h\n%s",
                                           plugins, extra);
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GError) error = NULL;
  ThHub *hub;

  th_config_load_from_data (config, text, -1, NULL);
  hub = th_hub_new (config, NULL);
  if (!th_hub_load (hub, &error))
    {
      g_printerr ("  (skipped: %s)\n", error->message);
      g_object_unref (hub);
      return NULL;
    }
  th_hub_start (hub);
  return hub;
}

static ThWsFeed *
first_ws_feed (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);

  for (guint i = 0; i < feeds->len; i++)
    if (TH_IS_WS_FEED (feeds->pdata[i]))
      return feeds->pdata[i];
  return NULL;
}

/* @format has one %s (a price) and one %lld (a time in ms or an id). The
 * 1024 frames are played in a loop; a sequence number in them (Coinbase's
 * `sequence`, which the feed checks: one going backwards at the wrap would
 * be dropped as out of order) is rewritten before each injection, see
 * bench_inject(). */
static GPtrArray *
make_frames (const char *format,
             gsize      *bytes)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func (g_free);

  *bytes = 0;
  for (guint i = 0; i < 1024; i++)
    {
      char price[32];

      g_snprintf (price, sizeof price, "%.2f", 43000 + i * 0.01);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      g_ptr_array_add (frames, g_strdup_printf (format, price, (long long) (1672515782136LL + i)));
#pragma GCC diagnostic pop
      *bytes += strlen (frames->pdata[i]);
    }
  return frames;
}

/* The parse alone, on @frames: the text read and @fields (NULL-terminated;
 * in the member @inner when not NULL) read as numbers, as the venue reads
 * them; by the tape reader, then by json-glib as the reference. */
static void
bench_parse (GPtrArray         *frames,
             const char        *inner,
             const char *const *fields,
             guint              n)
{
  ThJsonReader *r = _th_json_reader_new ();
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  double t0, c0, dt, dc, tape_dt, tape_dc;
  double sum = 0, reference = 0, v;

  t0 = now_s ();
  c0 = cpu_s ();
  for (guint i = 0; i < n; i++)
    {
      const char *text = frames->pdata[i & 1023];
      guint obj = 0;

      if (!_th_json_reader_parse (r, text, strlen (text), NULL))
        g_error ("the tape reader refused a benchmark frame: %s", text);
      if (inner != NULL)
        obj = _th_json_reader_member (r, obj, inner);
      for (guint f = 0; fields[f] != NULL; f++)
        if (_th_json_reader_get_number (r, obj, fields[f], TRUE, &v) == TH_JSON_FIELD_OK)
          sum += v;
    }
  tape_dt = now_s () - t0;
  tape_dc = cpu_s () - c0;

  t0 = now_s ();
  c0 = cpu_s ();
  for (guint i = 0; i < n; i++)
    {
      const char *text = frames->pdata[i & 1023];
      JsonObject *obj;

      if (!th_json_parser_load (parser, text, -1, NULL))
        g_error ("json-glib refused a benchmark frame: %s", text);
      obj = json_node_get_object (json_parser_get_root (parser));
      if (inner != NULL)
        obj = json_object_get_object_member (obj, inner);
      for (guint f = 0; fields[f] != NULL; f++)
        if (th_json_object_get_number (obj, fields[f], TRUE, &v) == TH_JSON_FIELD_OK)
          reference += v;
    }
  dt = now_s () - t0;
  dc = cpu_s () - c0;

  printf ("  parse only, tape reader %12.0f msgs/s  %6.2f µs CPU/msg   json-glib: %9.0f msgs/s  %6.2f µs CPU/msg  (%.1fx)\n",
          n / tape_dt, tape_dc * 1e6 / n, n / dt, dc * 1e6 / n, dc / tape_dc);
  /* Both read the same numbers. */
  if (sum != reference)
    g_error ("the tape reader and json-glib read different numbers (%.17g, %.17g)", sum, reference);
  _th_json_reader_free (r);
}

/* `ingest N LABEL` runs only the injection of the messages whose label
 * holds LABEL, without the parse-only lines and the end-to-end run: for a
 * profile (perf record, valgrind --tool=callgrind). */
static const char *only;

/* Coinbase's ticker as Coinbase sends it (members in its order), with its
 * `sequence` of fixed width: bench_inject() counts it up, digit by digit
 * in place, before each injection (a few ns, outside th_ws_feed_inject()). */
#define COINBASE_SEQUENCE "37475248783"

static inline void
next_sequence (char *digits,
               gsize len)
{
  for (gsize i = len; i-- > 0;)
    {
      if (digits[i] != '9')
        {
          digits[i]++;
          return;
        }
      digits[i] = '0';
    }
}

static void
bench_inject (const char        *label,
              const char        *plugin,
              const char        *format,
              const char        *inner,
              const char *const *fields,
              guint              n)
{
  g_autofree char *extra = g_strdup_printf ("[%s]\nconnect=false\n", plugin);
  g_autoptr(ThHub) hub = make_hub (plugin, extra);
  ThWsFeed *feed;
  GPtrArray *frames;
  double t0, c0, dt, dc;
  gsize bytes = 0;
  const char *sequence;
  gsize sequence_at = 0;
  char digits[sizeof COINBASE_SEQUENCE - 1];

  if (only != NULL && strstr (label, only) == NULL)
    return;
  if (hub == NULL)
    return;
  feed = first_ws_feed (hub);
  frames = make_frames (format, &bytes);

  sequence = strstr (frames->pdata[0], "\"sequence\":" COINBASE_SEQUENCE);
  if (sequence != NULL)
    {
      sequence_at = (gsize) (sequence - (const char *) frames->pdata[0]) + strlen ("\"sequence\":");
      memcpy (digits, COINBASE_SEQUENCE, sizeof digits);
    }

  t0 = now_s ();
  c0 = cpu_s ();
  for (guint i = 0; i < n; i++)
    {
      char *frame = frames->pdata[i & 1023];

      if (sequence != NULL)
        {
          next_sequence (digits, sizeof digits);
          memcpy (frame + sequence_at, digits, sizeof digits);
        }
      th_ws_feed_inject (feed, frame, -1, 0);
    }
  dt = now_s () - t0;
  dc = cpu_s () - c0;
  printf ("%-38s %9.0f msgs/s  %6.2f µs/msg  %6.2f µs CPU/msg  (%zu B/msg; goal 1,000,000/s)\n",
          label, n / dt, dt * 1e6 / n, dc * 1e6 / n, bytes / 1024);
  th_feed_source_stop (TH_FEED_SOURCE (feed));
  if (only == NULL)
    bench_parse (frames, inner, fields, n);
  g_ptr_array_unref (frames);
}

/* End to end */

typedef struct
{
  GMainContext *context;
  SoupServer   *server;
  guint         port;
  guint         n;
  GMutex        lock;
  GCond         cond;
  gboolean      ready;
  GMainLoop    *loop;
  SoupWebsocketConnection *conn;
} ServerThread;

static void
on_ws (SoupServer              *server,
       SoupServerMessage       *msg,
       const char              *path,
       SoupWebsocketConnection *conn,
       gpointer                 user_data)
{
  ServerThread *st = user_data;

  /* The handler only lends the connection: keep it open until the end. */
  st->conn = g_object_ref (conn);
  for (guint i = 0; i < st->n; i++)
    {
      char frame[512];

      g_snprintf (frame, sizeof frame,
                  "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%lld,\"s\":\"BTCUSDT\","
                  "\"p\":\"120.5\",\"P\":\"0.28\",\"c\":\"%.2f\",\"b\":\"43000.10\",\"a\":\"43000.90\",\"v\":\"12345.678\","
                  "\"q\":\"530000000\",\"o\":\"42880\",\"h\":\"43100\",\"l\":\"42700\",\"n\":18151}}",
                  1672515782136LL + i, 43000 + (i % 1000) * 0.01);
      soup_websocket_connection_send_text (conn, frame);
    }
}

static gpointer
server_thread (gpointer data)
{
  ServerThread *st = data;
  GSList *uris;

  g_main_context_push_thread_default (st->context);
  st->server = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (st->server, "/stream", NULL, NULL, on_ws, st, NULL);
  soup_server_listen_local (st->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, NULL);
  uris = soup_server_get_uris (st->server);
  st->port = (guint) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_mutex_lock (&st->lock);
  st->ready = TRUE;
  g_cond_signal (&st->cond);
  g_mutex_unlock (&st->lock);

  st->loop = g_main_loop_new (st->context, FALSE);
  g_main_loop_run (st->loop);
  g_clear_object (&st->conn);
  soup_server_disconnect (st->server);
  g_object_unref (st->server);
  g_main_loop_unref (st->loop);
  g_main_context_pop_thread_default (st->context);
  return NULL;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static void
bench_end_to_end (guint n)
{
  ServerThread st = { .context = g_main_context_new (), .n = n };
  g_autofree char *extra = NULL;
  g_autoptr(ThHub) hub = NULL;
  GThread *thread;
  ThWsFeed *feed;
  double t0 = 0, dt;
  guint64 ticks = 0, bytes = 0;

  g_mutex_init (&st.lock);
  g_cond_init (&st.cond);
  thread = g_thread_new ("server", server_thread, &st);
  g_mutex_lock (&st.lock);
  while (!st.ready)
    g_cond_wait (&st.cond, &st.lock);
  g_mutex_unlock (&st.lock);

  extra = g_strdup_printf ("[binance]\nurl=ws://127.0.0.1:%u/stream\nstreams=ticker\nmax-frame=1048576\n", st.port);
  hub = make_hub ("binance", extra);
  feed = first_ws_feed (hub);

  while (ticks < n)
    {
      g_autoptr(GVariant) stats = NULL;

      g_main_context_iteration (NULL, TRUE);
      stats = th_feed_source_get_stats (TH_FEED_SOURCE (feed));
      g_variant_lookup (stats, "ticks", "t", &ticks);
      g_variant_lookup (stats, "bytes", "t", &bytes);
      if (ticks > 0 && t0 == 0)
        t0 = now_s ();
    }
  dt = now_s () - t0;
  printf ("%-38s %9.0f msgs/s  %6.1f MB/s  (%u frames over loopback)\n",
          "end to end: binance ticker, 1 socket", n / dt, bytes / dt / 1e6, n);

  th_feed_source_stop (TH_FEED_SOURCE (feed));
  g_main_context_invoke (st.context, quit_loop, st.loop);
  g_thread_join (thread);
  g_main_context_unref (st.context);
}

int
main (int   argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 300000;

  only = argc > 2 ? argv[2] : NULL;

  printf ("tickhub ingest benchmark: parse + normalize + hub, %u messages each\n", n);
  bench_inject ("binance 24hrTicker", "binance",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%2$lld,\"s\":\"BTCUSDT\",\"p\":\"120.5\","
    "\"P\":\"0.28\",\"w\":\"43000\",\"x\":\"42880\",\"c\":\"%1$s\",\"Q\":\"0.01\",\"b\":\"43000.10\",\"B\":\"1.2\","
    "\"a\":\"43000.90\",\"A\":\"0.5\",\"o\":\"42880\",\"h\":\"43100\",\"l\":\"42700\",\"v\":\"12345.678\","
    "\"q\":\"530000000\",\"O\":0,\"C\":86400000,\"F\":0,\"L\":18150,\"n\":18151}}",
    "data", (const char *const[]) { "c", "E", "v", "b", "a", "P", NULL }, n);
  bench_inject ("binance aggTrade", "binance",
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":%2$lld,\"s\":\"BTCUSDT\",\"a\":12345,"
    "\"p\":\"%1$s\",\"q\":\"0.25\",\"f\":100,\"l\":105,\"T\":%2$lld,\"m\":true,\"M\":true}}",
    "data", (const char *const[]) { "p", "q", "T", NULL }, n);
  bench_inject ("coinbase ticker", "coinbase",
    "{\"type\":\"ticker\",\"sequence\":" COINBASE_SEQUENCE ",\"product_id\":\"BTC-USD\",\"price\":\"%1$s\","
    "\"open_24h\":\"42880\",\"volume_24h\":\"245532.79269678\",\"low_24h\":\"42700\",\"high_24h\":\"43100\","
    "\"volume_30d\":\"9788783.60117027\",\"best_bid\":\"43000.10\",\"best_bid_size\":\"0.46688654\","
    "\"best_ask\":\"43000.90\",\"best_ask_size\":\"1.56637040\",\"side\":\"buy\","
    "\"time\":\"2022-10-19T23:28:22.061769Z\",\"trade_id\":%2$lld,\"last_size\":\"11.4396987\"}",
    NULL, (const char *const[]) { "price", "best_bid", "best_ask", "volume_24h", "open_24h", "trade_id", NULL }, n);
  bench_inject ("coincap prices (2 assets)", "coincap",
    "{\"bitcoin\":\"%1$s\",\"ethereum\":\"2300.%2$lld\"}",
    NULL, (const char *const[]) { "bitcoin", "ethereum", NULL }, n);
  if (only == NULL)
    bench_end_to_end (n);
  return 0;
}
