/* test-coincap.c: the coincap feed against a local server speaking
 * CoinCap v3's price stream
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"

/* A key with characters that must be escaped in a query. */
#define GOOD_KEY     "t0k+en/=&x"
#define GOOD_QUERY   "assets=bitcoin,ethereum&apiKey=t0k%2Ben%2F%3D%26x"
#define WITH_KEY     "api-key=" GOOD_KEY "\n"

#define PRICES_BOTH  "{\"bitcoin\":\"6929.82\",\"ethereum\":\"404.97\"}"
#define PRICES_ETH   "{\"ethereum\":\"405.5\"}"
#define PRICES_BTC   "{\"bitcoin\":\"6930.01\"}"

#define NO_KEY_REASON       "CoinCap v3 needs an API key: set [coincap] api-key"
#define UNAUTHORIZED_REASON "CoinCap rejected the API key (Unauthorized)"

typedef struct
{
  FakeWs    *ws;
  ThHub     *hub;
  GPtrArray *events;
} Fixture;

/* As CoinCap does: a wrong or missing key gets "Unauthorized", then a
 * close. */
static void
on_connected (FakeWs                  *ws,
              SoupWebsocketConnection *conn,
              const char              *query,
              gpointer                 data)
{
  g_autoptr(GHashTable) params = g_uri_parse_params (query != NULL ? query : "", -1, "&", G_URI_PARAMS_NONE, NULL);

  if (params == NULL || g_strcmp0 (g_hash_table_lookup (params, "apiKey"), GOOD_KEY) != 0)
    {
      soup_websocket_connection_send_text (conn, "Unauthorized");
      soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, NULL);
    }
}

static void
setup_hub (Fixture    *fx,
           const char *extra,
           ThClock    *clock)
{
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  fx->ws = fake_ws_new ("/prices");
  fake_ws_set_handlers (fx->ws, on_connected, NULL, fx);
  url = fake_ws_url (fx->ws);
  /* AAPL has no CoinCap id: skipped, with a hint. */
  text = g_strdup_printf ("[tickhub]\nplugins=coincap\nsymbols=BTC;ETH;AAPL\ntimeframes=1m\n"
                          "[prices]\norder=coincap;coinbase\n[coinbase]\nttl=30\n"
                          "[coincap]\nurl=%s\nstale-after=1\nreconnect-max=2\nmax-frame=4096\nttl=1.5\n%s",
                          url, extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);   /* the test's keys replace the defaults */
  fx->hub = th_test_hub_new (merged, clock);
  fx->events = th_test_capture_events (fx->hub);
  /* Rejections are warnings, not test failures. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  setup_hub (fx, data, NULL);
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
  g_autoptr(ThTick) eth = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0, t1;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  /* The assets and the key in the query, escaped; AAPL left out. */
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, GOOD_QUERY);

  t0 = g_get_real_time ();
  fake_ws_send (fx->ws, PRICES_BOTH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);
  t1 = g_get_real_time ();

  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"BTC\",\"data\":{\"price\":6929.82,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"coincap\",\"timestamp\":\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"ETH\",\"data\":{\"price\":404.97,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"coincap\",\"timestamp\":\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"live\""), ==, 1);

  /* No timestamp from CoinCap: the receive time is the exchange time. */
  btc = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (btc->price, ==, 6929.82);
  g_assert_cmpstr (btc->source, ==, "coincap");
  g_assert_cmpint (btc->exchange_time, >=, t0);
  g_assert_cmpint (btc->exchange_time, <=, t1);
  g_assert_cmpint (btc->receive_time - btc->exchange_time, <, 100000);
  g_assert_cmpint (btc->receive_time, >=, btc->exchange_time);

  /* Only what changed: a frame with one asset. */
  fake_ws_send (fx->ws, PRICES_ETH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 3, 5000);
  eth = th_hub_get_price (fx->hub, "ETH", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (eth->price, ==, 405.5);
  g_clear_pointer (&btc, th_tick_unref);
  btc = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (btc->price, ==, 6929.82);

  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 3);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values") + th_test_feed_stat (fx->hub, "parse_errors") +
                    th_test_feed_stat (fx->hub, "unknown_messages"), ==, 0);
  /* Nothing was sent: the assets are in the URL. */
  g_assert_cmpuint (fake_ws_received (fx->ws)->len, ==, 0);
}

/* With a manual clock the exchange time is exactly the receive time. */
static void
test_receive_time_is_exchange_time (void)
{
  /* 2023-01-01T00:00:00.123Z */
  g_autoptr(ThClock) clock = th_manual_clock_new (G_GINT64_CONSTANT (1672531200123000));
  g_autoptr(ThTick) btc = NULL;
  Fixture fx = { 0 };

  setup_hub (&fx, WITH_KEY, clock);
  th_test_wait_until (fake_ws_n_open (fx.ws) == 1, 5000);
  fake_ws_send (fx.ws, PRICES_BTC);
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 1, 5000);

  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update",
    "{\"symbol\":\"BTC\",\"data\":{\"price\":6930.01,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"coincap\",\"timestamp\":\"2023-01-01T00:00:00.123Z\"}"), ==, 1);
  btc = th_hub_get_price (fx.hub, "BTC", NULL);
  g_assert_nonnull (btc);
  g_assert_cmpint (btc->exchange_time, ==, G_GINT64_CONSTANT (1672531200123000));
  g_assert_cmpint (btc->receive_time, ==, btc->exchange_time);
  fixture_teardown (&fx, NULL);
}

static void
test_reconnects_after_drop (Fixture       *fx,
                            gconstpointer  data)
{
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, PRICES_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);

  fake_ws_drop (fx->ws);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"down\"") >= 1, 5000);
  /* Backoff 1 s ± 20 %: back within 2 s, same query. */
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 2 && fake_ws_n_open (fx->ws) == 1, 2500);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, GOOD_QUERY);

  fake_ws_send (fx->ws, PRICES_ETH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);
  /* No tick twice. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
}

static void
test_silent_goes_stale_and_falls_back (Fixture       *fx,
                                       gconstpointer  data)
{
  g_autoptr(ThTick) other = th_tick_new ("BTC", "coinbase", TH_TICK_KIND_QUOTE, 6928, g_get_real_time ());
  g_autoptr(ThTick) price = NULL;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  th_hub_push_tick (fx->hub, other);
  fake_ws_send (fx->ws, PRICES_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"to\":\"coincap\"") == 1, 5000);

  /* Silence: stale after 1 s (stale-after=1), reconnect at once with the
   * same query; the price falls back to coinbase once coincap's 1.5 s TTL
   * is over. */
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\"") == 1, 3000);
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1 && fake_ws_n_accepted (fx->ws) >= 2, 3000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, GOOD_QUERY);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coincap\",\"to\":\"coinbase\"") == 1, 3000);
  price = th_hub_get_price (fx->hub, "BTC", NULL);
  g_assert_cmpstr (price->source, ==, "coinbase");

  /* CoinCap delivers again: it takes over. */
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 3000);
  fake_ws_send (fx->ws, PRICES_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coinbase\",\"to\":\"coincap\"") == 1, 3000);
}

/* No key, empty or absent: a valid config; the source is disabled with a
 * reason, and nothing is attempted, now or later. */
static void
test_no_key_disabled (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *reason = NULL;

  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"disabled\"") == 1, 2000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"),
                            "\"source\":\"coincap\",\"state\":\"disabled\",\"reason\":\"" NO_KEY_REASON "\""));
  g_assert_cmpint (th_hub_get_source_state (fx->hub, "coincap", &reason), ==, TH_SOURCE_STATE_DISABLED);
  g_assert_cmpstr (reason, ==, NO_KEY_REASON);

  th_test_run_for (1000);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"down\""), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"disabled\""), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "connects"), ==, 0);
}

/* A wrong key: "Unauthorized", then down for 5 minutes, not the usual
 * backoff of a second or two. */
static void
test_bad_key_long_backoff (Fixture       *fx,
                           gconstpointer  data)
{
  th_test_wait_until (th_test_count_events (fx->events, "source_status", UNAUTHORIZED_REASON) == 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"),
                            "\"state\":\"down\",\"reason\":\"" UNAUTHORIZED_REASON "; retrying in 300 s\""));
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);

  th_test_run_for (3000);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors") + th_test_feed_stat (fx->hub, "unknown_messages"), ==, 0);
}

/* Some deployments refuse the handshake itself: the same long pause as
 * for an Unauthorized frame, not the usual backoff. */
static void
test_handshake_refused (Fixture       *fx,
                        gconstpointer  data)
{
  fake_ws_refuse (fx->ws, 401, "Unauthorized");
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "CoinCap refused the API key (HTTP 401/403); retrying in 300 s") >= 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"), "\"state\":\"down\""));
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 0);
  th_test_run_for (2500);
  /* No second attempt within the usual backoff. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
}

static void
test_garbage (Fixture       *fx,
              gconstpointer  data)
{
  static const char *const garbage[] = {
    "not json at all",
    "{\"bitcoin\":\"69",                                    /* truncated */
    "[\"bitcoin\",\"6929.82\"]",
    "{}",
    "{\"data\":{\"bitcoin\":\"6929.82\"}}",
    "{\"bitcoin\":{\"priceUsd\":\"6929.82\"},\"ethereum\":[404.97]}",
    "{\"bitcoin\":\"NaN\"}",
    "{\"bitcoin\":\"-5\"}",
    "{\"bitcoin\":\"0\"}",
    "{\"bitcoin\":\"1e400\"}",
    "{\"bitcoin\":\"1e15\"}",
    "{\"bitcoin\":\"12abc\"}",
    "{\"bitcoin\":\"0x1p3\"}",
    "{\"bitcoin\":null}",
    "{\"bitcoin\":true}",
    "{\"dogecoin\":\"0.1\"}",                               /* known, not followed */
    "{\"not-a-coin\":\"1\"}",
    /* The bad ones do not spoil the good one. */
    "{\"bitcoin\":\"-1\",\"ethereum\":\"404.97\",\"tether\":\"1.0001\",\"solana\":{}}",
  };
  static const guint8 bad_utf8[] = "{\"bitcoin\":\"\xff\xfe\"}";
  g_autofree char *huge = NULL;

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    fake_ws_send (fx->ws, garbage[i]);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_BINARY, "\x00\x01\x02", 3);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_TEXT, bad_utf8, sizeof bad_utf8 - 1);
  huge = g_strnfill (10000, 'x');   /* over max-frame=4096 */
  fake_ws_send (fx->ws, huge);
  fake_ws_send (fx->ws, PRICES_BTC);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"BTC\"") == 1, 5000);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"ETH\",\"data\":{\"price\":404.97,"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":6930.01,"), ==, 1);
  /* Every piece of garbage was counted, the connection carried on. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3 + 3);    /* not JSON, truncated, array; binary, UTF-8, huge */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 3);    /* {}, {"data":..}, all nested */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 11 + 3);     /* NaN .. not-a-coin; -1, tether, solana:{} */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "oversize"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

/* The feed remembers which symbol each asset of a frame is; a code set
 * in the symbol map afterwards is seen at the next frame (the old code's
 * symbol string is freed by the map then: ASan would see a stale one). */
static void
test_symbol_map_change (Fixture       *fx,
                        gconstpointer  data)
{
  ThSymbolMap *map = th_hub_get_symbol_map (fx->hub);

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, PRICES_BOTH);
  fake_ws_send (fx->ws, PRICES_BOTH);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"ETH\"") == 2, 5000);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 4);

  th_symbol_map_set (map, "BTC", "coincap", "bitcoin-v2");
  fake_ws_send (fx->ws, "{\"bitcoin\":\"6931.5\",\"ethereum\":\"405.25\"}");
  fake_ws_send (fx->ws, "{\"bitcoin-v2\":\"6932.75\",\"ethereum\":\"405.5\"}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"ETH\"") == 4, 5000);
  /* "bitcoin" is no longer BTC's code: not followed. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":6931.5,"), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
                                          "\"symbol\":\"BTC\",\"data\":{\"price\":6932.75,"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 7);
}

static void
test_pings_answered (Fixture       *fx,
                     gconstpointer  data)
{
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_ping_every (fx->ws, 1);
  th_test_wait_until (fake_ws_n_pongs (fx->ws) >= 2, 5000);
}

static void
on_quit (ThHub    *hub,
         int       code,
         gboolean *done)
{
  *done = TRUE;
}

/* record= writes the raw frames; [replay] format=raw plays them through
 * the same parser: the same ticks with the same times (the recorded
 * receive time), the same rejections. A recorded "Unauthorized" has no
 * connection to drop: replaying it attempts nothing. The live run uses a
 * manual clock, so that the recorded time is exactly the receive time. */
static void
test_record_and_replay (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-record-XXXXXX");
  g_autofree char *rec = g_build_filename (dir, "coincap.rec", NULL);
  g_autofree char *live = NULL;
  g_autofree char *replayed = NULL;
  g_autoptr(ThClock) clock = th_manual_clock_new (G_GINT64_CONSTANT (1672531200123000));
  Fixture fx = { 0 };
  g_autofree char *extra = g_strdup_printf (WITH_KEY "record=%s\n", rec);

  setup_hub (&fx, extra, clock);
  th_test_wait_until (fake_ws_n_open (fx.ws) == 1, 5000);
  fake_ws_send (fx.ws, PRICES_BOTH);
  fake_ws_send (fx.ws, "garbage");
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 2, 5000);
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 1500 * 1000);
  fake_ws_send (fx.ws, PRICES_ETH);
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 3, 5000);
  fake_ws_send (fx.ws, "Unauthorized");
  th_test_wait_until (th_test_count_events (fx.events, "source_status", UNAUTHORIZED_REASON) == 1, 5000);
  live = th_test_events_json (fx.events, "financial_data_update");
  fixture_teardown (&fx, NULL);

  {
    g_autofree char *text = g_strdup_printf (
      "[tickhub]\nplugins=coincap;replay\nsymbols=BTC;ETH\ntimeframes=1m\n"
      "[coincap]\nconnect=false\n[replay]\npath=%s\nformat=raw\nexit-at-end=true\n", rec);
    g_autoptr(ThHub) hub = th_test_hub_new (text, NULL);
    g_autoptr(GPtrArray) events = th_test_capture_events (hub);
    g_autoptr(GPtrArray) feeds = NULL;
    g_autoptr(GVariant) stats = NULL;
    gboolean done = FALSE;
    guint64 parse_errors = 0, reconnects = 0;
    const char *state = NULL;

    g_signal_connect (hub, "quit-requested", G_CALLBACK (on_quit), &done);
    th_hub_start (hub);
    th_test_wait_until (done, 5000);
    replayed = th_test_events_json (events, "financial_data_update");

    feeds = th_hub_get_feeds (hub);
    for (guint i = 0; i < feeds->len; i++)
      if (TH_IS_WS_FEED (feeds->pdata[i]))
        stats = th_feed_source_get_stats (feeds->pdata[i]);
    g_variant_lookup (stats, "parse_errors", "t", &parse_errors);
    g_variant_lookup (stats, "reconnects", "t", &reconnects);
    g_variant_lookup (stats, "state", "&s", &state);
    g_assert_cmpuint (parse_errors, ==, 1);
    g_assert_cmpuint (reconnects, ==, 0);
    g_assert_cmpstr (state, ==, "disabled");   /* connect=false, still */
    g_assert_cmpuint (th_test_count_events (events, "source_status", UNAUTHORIZED_REASON), ==, 0);
    for (guint i = 0; i < feeds->len; i++)
      th_feed_source_stop (feeds->pdata[i]);
  }

  g_assert_nonnull (strstr (live, "\"timestamp\":\"2023-01-01T00:00:00.123Z\""));
  g_assert_nonnull (strstr (live, "\"timestamp\":\"2023-01-01T00:00:01.623Z\""));
  g_assert_cmpstr (replayed, ==, live);
  th_test_remove_tmp_dir (dir);
}

static void
test_bad_config (void)
{
  static const struct { const char *conf; const char *expect; } cases[] = {
    { "[coincap]\nurl=http://x/prices\n", "[coincap] url: “http://x/prices” is not a ws:// or wss:// URL" },
    { "[coincap]\nurl=ws://x/prices\napi-key=abc def\n", "[coincap] api-key: the key has spaces or control characters" },
    { "[coincap]\nurl=ws://x/prices\napikey=abc\n", "[coincap] apikey: unknown key" },
    { "[coincap]\nurl=ws://x/prices\nstale-after=0\n", "[coincap] stale-after: must be more than 0 seconds" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=coincap\nsymbols=BTC\n%s", cases[i].conf);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      th_test_assert_contains (error->message, cases[i].expect);
    }
}

/* Nested past the depth limit, or a NUL in a string: refused and counted,
 * the connection carries on. */
static void
test_deep_json (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *deep = th_test_nested_array (100);
  g_autofree char *deeper = th_test_nested_array (2000);   /* under max-frame=4096 */
  g_autofree char *prices_deep = g_strdup_printf ("{\"bitcoin\":\"1\",\"z\":%s}", deep);

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  fake_ws_send (fx->ws, prices_deep);
  fake_ws_send (fx->ws, deeper);
  fake_ws_send (fx->ws, "{\"bitcoin\":\"1\\u0000\"}");
  fake_ws_send (fx->ws, PRICES_BTC);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"BTC\"") == 1, 5000);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":6930.01,"), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, extra) g_test_add (path, Fixture, extra, fixture_setup, fn, fixture_teardown)
  ADD ("/coincap/prices-normalized", test_prices_normalized, WITH_KEY);
  ADD ("/coincap/reconnects-after-drop", test_reconnects_after_drop, WITH_KEY);
  ADD ("/coincap/silent-goes-stale-and-falls-back", test_silent_goes_stale_and_falls_back, WITH_KEY);
  ADD ("/coincap/no-key-disabled/empty", test_no_key_disabled, "api-key=\n");
  ADD ("/coincap/no-key-disabled/absent", test_no_key_disabled, "");
  ADD ("/coincap/bad-key-long-backoff", test_bad_key_long_backoff, "api-key=wrong\n");
  ADD ("/coincap/handshake-refused", test_handshake_refused, WITH_KEY);
  ADD ("/coincap/garbage", test_garbage, WITH_KEY);
  ADD ("/coincap/deep-json", test_deep_json, WITH_KEY);
  ADD ("/coincap/symbol-map-change", test_symbol_map_change, WITH_KEY);
  /* A later key wins in GKeyFile: no watchdog replacing the connection. */
  ADD ("/coincap/pings-answered", test_pings_answered, WITH_KEY "stale-after=60\n");
#undef ADD
  g_test_add_func ("/coincap/receive-time-is-exchange-time", test_receive_time_is_exchange_time);
  g_test_add_func ("/coincap/bad-config", test_bad_config);
  g_test_add_func ("/coincap/record-and-replay", test_record_and_replay);

  return g_test_run ();
}
