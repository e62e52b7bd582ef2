/* test-binance.c: the binance feed against a local server speaking
 * Binance's combined-stream protocol
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"

#define TICKER_BTC \
  "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\"," \
  "\"p\":\"120.5\",\"P\":\"0.28\",\"w\":\"43000\",\"x\":\"42880\",\"c\":\"43000.50\",\"Q\":\"0.01\"," \
  "\"b\":\"43000.10\",\"B\":\"1.2\",\"a\":\"43000.90\",\"A\":\"0.5\",\"o\":\"42880\",\"h\":\"43100\"," \
  "\"l\":\"42700\",\"v\":\"12345.678\",\"q\":\"530000000\",\"O\":0,\"C\":86400000,\"F\":0,\"L\":18150,\"n\":18151}}"
/* Fields in another order, as the venue is free to send them. */
#define TRADE_ETH \
  "{\"data\":{\"q\":\"0.25\",\"T\":1672515782200,\"p\":\"2300.5\",\"s\":\"ETHUSDT\",\"e\":\"aggTrade\"," \
  "\"E\":1672515782210,\"a\":12345,\"f\":100,\"l\":105,\"m\":true,\"M\":true},\"stream\":\"ethusdt@aggTrade\"}"

typedef struct
{
  FakeWs    *ws;
  ThHub     *hub;
  GPtrArray *events;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  fx->ws = fake_ws_new ("/stream");
  url = fake_ws_url (fx->ws);
  text = g_strdup_printf ("[tickhub]\nplugins=binance\nsymbols=BTC;ETH\ntimeframes=1m\n"
                          "[prices]\norder=binance;coinbase\n[coinbase]\nttl=30\n"
                          "[binance]\nurl=%s\nstale-after=1\nreconnect-max=2\nmax-frame=4096\nttl=1.5\n%s",
                          url, data != NULL ? (const char *) data : "");
  merged = th_test_config_last_wins (text);   /* the test's keys replace the defaults */
  fx->hub = th_test_hub_new (merged, NULL);
  fx->events = th_test_capture_events (fx->hub);
  /* Rejections are warnings, not test failures. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_clear (&fx->hub);
  fake_ws_free (fx->ws);
  g_ptr_array_unref (fx->events);
}

static void
test_prices_normalized (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(ThTick) btc = NULL;
  g_autoptr(GError) error = NULL;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==,
                   "streams=btcusdt@ticker/btcusdt@aggTrade/ethusdt@ticker/ethusdt@aggTrade");

  fake_ws_send (fx->ws, TICKER_BTC);
  fake_ws_send (fx->ws, TRADE_ETH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);

  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"BTC\",\"data\":{\"price\":43000.5,\"volume\":12345.678,\"change\":0.28,\"bid\":43000.1,"
    "\"ask\":43000.9,\"source\":\"binance\",\"timestamp\":\"2022-12-31T19:43:02.136Z\"}"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"ETH\",\"data\":{\"price\":2300.5,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"binance\",\"timestamp\":\"2022-12-31T19:43:02.200Z\"}"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"live\""), ==, 1);

  btc = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (btc->price, ==, 43000.5);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  /* Nothing was sent: the streams are in the URL. */
  g_assert_cmpuint (fake_ws_received (fx->ws)->len, ==, 0);
}

static void
test_reconnects_after_drop (Fixture       *fx,
                            gconstpointer  data)
{
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);

  fake_ws_drop (fx->ws);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"down\"") >= 1, 5000);
  /* Backoff 1 s ± 20 %: back within 2 s, same streams. */
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 2 && fake_ws_n_open (fx->ws) == 1, 2500);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==,
                   "streams=btcusdt@ticker/btcusdt@aggTrade/ethusdt@ticker/ethusdt@aggTrade");

  fake_ws_send (fx->ws, TRADE_ETH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);
  /* No tick twice. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
}

static void
test_server_close_and_shutdown (Fixture       *fx,
                                gconstpointer  data)
{
  gint64 t0;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_close (fx->ws, 1001, "going away");
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 2 && fake_ws_n_open (fx->ws) == 1, 3000);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "closed by the server (1001 going away)"), ==, 1);

  /* serverShutdown: at once, no backoff. */
  t0 = g_get_monotonic_time ();
  fake_ws_send (fx->ws, "{\"stream\":\"!serverShutdown\",\"data\":{\"e\":\"serverShutdown\",\"E\":1672515782136}}");
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 3, 3000);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 500000);
}

static void
test_silent_goes_stale_and_falls_back (Fixture       *fx,
                                       gconstpointer  data)
{
  g_autoptr(ThTick) gecko = th_tick_new ("BTC", "coinbase", TH_TICK_KIND_QUOTE, 42999, g_get_real_time ());
  g_autoptr(ThTick) price = NULL;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  th_hub_push_tick (fx->hub, gecko);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"to\":\"binance\"") == 1, 5000);

  /* Silence: stale after 1 s, reconnect; the price falls back to coinbase
   * once binance's 1.5 s TTL is over. */
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\"") == 1, 3000);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"binance\",\"to\":\"coinbase\"") == 1, 3000);
  price = th_hub_get_price (fx->hub, "BTC", NULL);
  g_assert_cmpstr (price->source, ==, "coinbase");

  /* Binance delivers again: it takes over. */
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1 && fake_ws_n_accepted (fx->ws) >= 2, 3000);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coinbase\",\"to\":\"binance\"") == 1, 3000);
}

static void
test_garbage (Fixture       *fx,
              gconstpointer  data)
{
  static const char *const garbage[] = {
    "not json at all",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTC",  /* truncated */
    "[1,2,3]",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":{}}}",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":\"NaN\"}}",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":\"-5\"}}",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":\"1e400\"}}",
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":\"yesterday\",\"s\":\"BTCUSDT\",\"c\":\"1\"}}",
    /* Milliseconds that overflow as microseconds (found by fuzz-binance) */
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":29032696741634358,\"s\":\"BTCUSDT\",\"c\":\"1\"}}",
    "{\"stream\":\"btcusdt@depth\",\"data\":{\"e\":\"depthUpdate\",\"E\":1672515782136,\"s\":\"BTCUSDT\"}}",
    "{\"stream\":\"dogeusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"DOGEUSDT\",\"c\":\"0.1\"}}",
    "{\"code\":2,\"msg\":\"Invalid request: unknown stream\",\"id\":7}",
    "{\"result\":null,\"id\":1}",
  };
  static const guint8 bad_utf8[] = "{\"stream\":\"\xff\xfe\",\"data\":{}}";
  /* The feed's UTF-8 check reads plain ASCII eight bytes at a time: a NUL
   * inside a word, and a bad byte in the last bytes past the words. */
  static const guint8 nul_inside[] = "{\"result\":null\0,\"id\":1}";
  static const guint8 bad_tail[] = "{\"result\":null,\"id\":1}\xc3";
  /* Accepted: UTF-8 that is not ASCII. */
  static const char ticker_utf8[] =
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"X\":\"caf\xc3\xa9 \xe2\x82\xac\",\"e\":\"24hrTicker\","
    "\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":\"43000.50\",\"b\":\"43000.10\",\"a\":\"43000.90\"}}";
  g_autofree char *huge = NULL;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    fake_ws_send (fx->ws, garbage[i]);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_BINARY, "\x00\x01\x02", 3);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_TEXT, bad_utf8, sizeof bad_utf8 - 1);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_TEXT, nul_inside, sizeof nul_inside - 1);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_TEXT, bad_tail, sizeof bad_tail - 1);
  huge = g_strnfill (10000, 'x');   /* over max-frame=4096 */
  fake_ws_send (fx->ws, huge);
  fake_ws_send (fx->ws, ticker_utf8);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);
  /* Every piece of garbage was counted, the connection carried on. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3 + 5);    /* not JSON, truncated, array; binary, 3 not UTF-8, huge */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 7);          /* {}, NaN, -5, 1e400, 2 bad times, unknown symbol */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 2);    /* depthUpdate, error reply */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "oversize"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

/* Binance closes connections after 24 h: the feed opens the next one
 * first, and the old one goes once the new one delivers. */
static void
test_renewal_without_gap (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (fx->hub);

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_feed_stat (fx->hub, "ticks") == 1, 5000);

  th_ws_feed_renew (TH_WS_FEED (feeds->pdata[0]));
  th_test_wait_until (fake_ws_n_open (fx->ws) == 2, 5000);
  /* Both open: nothing lost while the new one subscribes. */
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"down\""), ==, 0);

  /* The first message on the new connection makes it take over; the old
   * one is closed, and the feed never went down. */
  fake_ws_send (fx->ws, TRADE_ETH);
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 2);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"down\""), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 0);
  /* The frame went to both connections: one tick, the repeat dropped. */
  th_test_wait_until (th_test_feed_stat (fx->hub, "duplicates") == 1, 5000);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"ETH\""), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
}

static void
test_pings_answered (Fixture       *fx,
                     gconstpointer  data)
{
  /* The server pings every second (Binance: every 20 s). */
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_ping_every (fx->ws, 1);
  th_test_wait_until (fake_ws_n_pongs (fx->ws) >= 2, 5000);
  /* Pings are not data: the watchdog still counts the connection silent. */
}

static void
test_handshake_refused (Fixture       *fx,
                        gconstpointer  data)
{
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_refuse (fx->ws, 429, "{\"code\":-1003,\"msg\":\"Too many requests\"}");
  fake_ws_drop (fx->ws);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "handshake refused: 429") >= 1, 5000);
  fake_ws_refuse (fx->ws, 0, NULL);
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 6000);
}

static void
on_quit (ThHub    *hub,
         int       code,
         gboolean *done)
{
  *done = TRUE;
}

/* record= writes the raw frames; [replay] format=raw plays them through
 * the same parser: the same ticks, the same rejections. */
static void
test_record_and_replay (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-record-XXXXXX");
  g_autofree char *rec = g_build_filename (dir, "binance.rec", NULL);
  g_autofree char *live = NULL;
  g_autofree char *replayed = NULL;
  Fixture fx = { 0 };
  g_autofree char *extra = g_strdup_printf ("record=%s\n", rec);

  fixture_setup (&fx, extra);
  th_test_wait_until (fake_ws_n_open (fx.ws) == 1, 5000);
  fake_ws_send (fx.ws, TICKER_BTC);
  fake_ws_send (fx.ws, "garbage");
  fake_ws_send (fx.ws, TRADE_ETH);
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 2, 5000);
  live = th_test_events_json (fx.events, "financial_data_update");
  fixture_teardown (&fx, NULL);

  {
    g_autofree char *text = g_strdup_printf (
      "[tickhub]\nplugins=binance;replay\nsymbols=BTC;ETH\ntimeframes=1m\n"
      "[binance]\nconnect=false\n[replay]\npath=%s\nformat=raw\nexit-at-end=true\n", rec);
    g_autoptr(ThHub) hub = th_test_hub_new (text, NULL);
    g_autoptr(GPtrArray) events = th_test_capture_events (hub);
    g_autoptr(GPtrArray) feeds = NULL;
    g_autoptr(GVariant) stats = NULL;
    gboolean done = FALSE;
    guint64 parse_errors = 0;

    g_signal_connect (hub, "quit-requested", G_CALLBACK (on_quit), &done);
    th_hub_start (hub);
    th_test_wait_until (done, 5000);
    replayed = th_test_events_json (events, "financial_data_update");

    feeds = th_hub_get_feeds (hub);
    for (guint i = 0; i < feeds->len; i++)
      if (TH_IS_WS_FEED (feeds->pdata[i]))
        stats = th_feed_source_get_stats (feeds->pdata[i]);
    g_variant_lookup (stats, "parse_errors", "t", &parse_errors);
    g_assert_cmpuint (parse_errors, ==, 1);
  }

  g_assert_cmpstr (replayed, ==, live);
  th_test_remove_tmp_dir (dir);
}

/* A recording is input like any other: a frame nested 100,000 deep reaches
 * the venue's parser through the replay and is refused there, a recorded
 * line that deep is refused by the replay; the frames around them play. */
static void
test_replay_deep_json (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-record-XXXXXX");
  g_autofree char *rec = g_build_filename (dir, "binance.rec", NULL);
  g_autofree char *deep = th_test_nested_array (100000);
  g_autoptr(GString) contents = g_string_new (NULL);
  g_autoptr(JsonNode) ticker = json_node_init_string (json_node_alloc (), TICKER_BTC);
  g_autoptr(JsonNode) trade = json_node_init_string (json_node_alloc (), TRADE_ETH);
  g_autofree char *ticker_json = th_json_to_string (ticker, NULL);
  g_autofree char *trade_json = th_json_to_string (trade, NULL);
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=binance;replay\nsymbols=BTC;ETH\ntimeframes=1m\n"
    "[binance]\nconnect=false\n[replay]\npath=%s\nformat=raw\nexit-at-end=true\n", rec);
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  g_autoptr(GVariant) stats = NULL;
  gboolean done = FALSE;
  guint64 parse_errors = 0;

  g_string_append_printf (contents, "{\"t\":1672515782136000,\"source\":\"binance\",\"text\":%s}\n", ticker_json);
  g_string_append_printf (contents, "{\"t\":1672515782137000,\"source\":\"binance\",\"text\":\"%s\"}\n", deep);
  g_string_append_printf (contents, "{\"t\":1672515782138000,\"source\":\"binance\",\"x\":%s}\n", deep);
  g_string_append_printf (contents, "%s\n", deep);
  g_string_append_printf (contents, "{\"t\":1672515782139000,\"source\":\"binance\",\"text\":%s}\n", trade_json);
  g_assert_true (g_file_set_contents (rec, contents->str, (gssize) contents->len, NULL));

  hub = th_test_hub_new (text, NULL);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  events = th_test_capture_events (hub);
  g_signal_connect (hub, "quit-requested", G_CALLBACK (on_quit), &done);
  th_hub_start (hub);
  th_test_wait_until (done, 10000);

  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", NULL), ==, 2);
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", "\"symbol\":\"BTC\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", "\"symbol\":\"ETH\""), ==, 1);
  feeds = th_hub_get_feeds (hub);
  for (guint i = 0; i < feeds->len; i++)
    if (TH_IS_WS_FEED (feeds->pdata[i]))
      stats = th_feed_source_get_stats (feeds->pdata[i]);
  g_variant_lookup (stats, "parse_errors", "t", &parse_errors);
  g_assert_cmpuint (parse_errors, ==, 1);

  g_clear_pointer (&feeds, g_ptr_array_unref);
  th_test_hub_clear (&hub);
  th_test_remove_tmp_dir (dir);
}

static void
test_bad_config (void)
{
  static const struct { const char *conf; const char *expect; } cases[] = {
    { "[binance]\nurl=http://x/stream\n", "[binance] url: “http://x/stream” is not a ws:// or wss:// URL" },
    { "[binance]\nurl=ws://x/stream\nstreams=ticker;depth\n", "[binance] streams: unknown stream “depth”" },
    { "[binance]\nurl=ws://x/stream\nstale-after=0\n", "[binance] stale-after: must be more than 0 seconds" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=binance\nsymbols=BTC\n%s", cases[i].conf);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      th_test_assert_contains (error->message, cases[i].expect);
    }
}

/* A message nested past the depth limit is garbage like any other: a valid
 * ticker carrying a deep member is refused whole (json-glib alone would
 * have taken it), a bare deep array too, and a NUL in a string. */
static void
test_deep_json (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *deep = th_test_nested_array (100);
  g_autofree char *deeper = th_test_nested_array (2000);   /* under max-frame=4096 */
  g_autofree char *ticker_deep = g_strdup_printf ("{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\","
                                                  "\"E\":1672515782136,\"s\":\"BTCUSDT\",\"c\":\"43000.50\",\"z\":%s}}", deep);

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, ticker_deep);
  fake_ws_send (fx->ws, deeper);
  fake_ws_send (fx->ws, "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\","
                        "\"E\":1672515782136,\"s\":\"BTCUSDT\\u0000X\",\"c\":\"43000.50\"}}");
  fake_ws_send (fx->ws, TICKER_BTC);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":43000.5,\"volume\":12345.678"), ==, 1);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

/* th_ws_feed_inject() with a length reads nothing past it: a frame in a
 * buffer of exactly its size, as libFuzzer hands them (ASan saw the byte
 * after it read; fuzz/fuzz-binance, corpus binance/exact-length). */
static void
test_inject_exact_length (void)
{
  static const char frame[] = "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1672515782136,"
                              "\"s\":\"BTCUSDT\",\"p\":\"43000.5\",\"q\":\"0.5\",\"T\":1672515782136}}";
  g_autoptr(ThClock) clock = th_manual_clock_new (1672515782136000);
  ThHub *hub = th_test_hub_new ("[tickhub]\nplugins=binance\nsymbols=BTC\n[binance]\nconnect=false\n", clock);
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  g_autofree char *exact = g_memdup2 (frame, sizeof frame - 1);
  static const char nul_inside[] = "{\"e\":\"aggTrade\"}\0x";
  g_autofree char *with_nul = g_memdup2 (nul_inside, sizeof nul_inside - 1);

  th_ws_feed_inject (feeds->pdata[0], exact, sizeof frame - 1, 0);
  g_assert_cmpuint (th_test_feed_stat (hub, "ticks"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (hub, "parse_errors"), ==, 0);
  /* A NUL inside the given length is still seen. */
  th_ws_feed_inject (feeds->pdata[0], with_nul, sizeof nul_inside - 1, 0);
  g_assert_cmpuint (th_test_feed_stat (hub, "parse_errors"), ==, 1);
  th_test_hub_clear (&hub);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, extra) g_test_add (path, Fixture, extra, fixture_setup, fn, fixture_teardown)
  ADD ("/binance/prices-normalized", test_prices_normalized, NULL);
  ADD ("/binance/reconnects-after-drop", test_reconnects_after_drop, NULL);
  ADD ("/binance/server-close-and-shutdown", test_server_close_and_shutdown, NULL);
  ADD ("/binance/silent-goes-stale-and-falls-back", test_silent_goes_stale_and_falls_back, NULL);
  ADD ("/binance/garbage", test_garbage, NULL);
  ADD ("/binance/deep-json", test_deep_json, NULL);
  ADD ("/binance/handshake-refused", test_handshake_refused, NULL);
  ADD ("/binance/renewal-without-gap", test_renewal_without_gap, "stale-after=60\n");
#undef ADD
  /* A later key wins in GKeyFile: no watchdog replacing the connection. */
  g_test_add ("/binance/pings-answered", Fixture, "stale-after=60\n", fixture_setup, test_pings_answered, fixture_teardown);
  g_test_add_func ("/binance/bad-config", test_bad_config);
  g_test_add_func ("/binance/record-and-replay", test_record_and_replay);
  g_test_add_func ("/binance/replay-deep-json", test_replay_deep_json);
  g_test_add_func ("/binance/inject-exact-length", test_inject_exact_length);

  return g_test_run ();
}
