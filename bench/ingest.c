/* ingest.c: how fast exchange messages become ticks
 *
 * 1. Parse + normalize, per message type: frames injected into each venue
 *    feed (th_ws_feed_inject: the same code path as a live frame, minus
 *    the socket), through the hub (price book, candles, event) — msgs/s on
 *    one core.
 * 2. End to end: a local server (libsoup, in its own thread) sends Binance
 *    ticker frames as fast as it can over a real loopback WebSocket; the
 *    hub counts ticks — msgs/s and MB/s received.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libsoup/soup.h>

#include "th-private.h"

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
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
 * 1024 frames are played in a loop, so no sequence number is given (it
 * would go backwards at the wrap and be dropped as out of order). */
static void
bench_inject (const char *label,
              const char *plugin,
              const char *format,
              guint       n)
{
  g_autofree char *extra = g_strdup_printf ("[%s]\nconnect=false\n", plugin);
  g_autoptr(ThHub) hub = make_hub (plugin, extra);
  ThWsFeed *feed;
  GPtrArray *frames;
  double t0, dt;
  gsize bytes = 0;

  if (hub == NULL)
    return;
  feed = first_ws_feed (hub);
  frames = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < 1024; i++)
    {
      char price[32];

      g_snprintf (price, sizeof price, "%.2f", 43000 + i * 0.01);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
      g_ptr_array_add (frames, g_strdup_printf (format, price, (long long) (1672515782136LL + i)));
#pragma GCC diagnostic pop
      bytes += strlen (frames->pdata[i]);
    }

  t0 = now_s ();
  for (guint i = 0; i < n; i++)
    th_ws_feed_inject (feed, frames->pdata[i & 1023], -1, 0);
  dt = now_s () - t0;
  printf ("%-38s %9.0f msgs/s  %6.2f µs/msg  (%zu B/msg)\n", label, n / dt, dt * 1e6 / n, bytes / 1024);
  g_ptr_array_unref (frames);
  th_feed_source_stop (TH_FEED_SOURCE (feed));
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

  printf ("tickhub ingest benchmark: parse + normalize + hub, %u messages each\n", n);
  bench_inject ("binance 24hrTicker", "binance",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%2$lld,\"s\":\"BTCUSDT\",\"p\":\"120.5\","
    "\"P\":\"0.28\",\"w\":\"43000\",\"x\":\"42880\",\"c\":\"%1$s\",\"Q\":\"0.01\",\"b\":\"43000.10\",\"B\":\"1.2\","
    "\"a\":\"43000.90\",\"A\":\"0.5\",\"o\":\"42880\",\"h\":\"43100\",\"l\":\"42700\",\"v\":\"12345.678\","
    "\"q\":\"530000000\",\"O\":0,\"C\":86400000,\"F\":0,\"L\":18150,\"n\":18151}}", n);
  bench_inject ("binance aggTrade", "binance",
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":%2$lld,\"s\":\"BTCUSDT\",\"a\":12345,"
    "\"p\":\"%1$s\",\"q\":\"0.25\",\"f\":100,\"l\":105,\"T\":%2$lld,\"m\":true,\"M\":true}}", n);
  bench_inject ("coinbase ticker", "coinbase",
    "{\"type\":\"ticker\",\"trade_id\":%2$lld,\"product_id\":\"BTC-USD\",\"price\":\"%1$s\","
    "\"open_24h\":\"42880\",\"volume_24h\":\"245532.79269678\",\"low_24h\":\"42700\",\"high_24h\":\"43100\","
    "\"volume_30d\":\"9788783.60117027\",\"best_bid\":\"43000.10\",\"best_bid_size\":\"0.46688654\","
    "\"best_ask\":\"43000.90\",\"best_ask_size\":\"1.56637040\",\"side\":\"buy\","
    "\"time\":\"2022-10-19T23:28:22.061769Z\",\"trade_id\":370843401,\"last_size\":\"11.4396987\"}", n);
  bench_inject ("coincap prices (2 assets)", "coincap",
    "{\"bitcoin\":\"%1$s\",\"ethereum\":\"2300.%2$lld\"}", n);
  bench_end_to_end (n);
  return 0;
}
