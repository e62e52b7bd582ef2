/* test-divergence-venues.c: sources that disagree, with real feeds on loopback
 *
 * Binance, Coinbase and CoinCap, each a local server speaking its venue's
 * protocol, feed one symbol with `[prices] divergence=1%`. Binance is
 * mapped to a USD market (BTCUSD, as Binance.US lists it) so that the
 * three quote in the same currency; with the shipped map (BTCUSDT) it is
 * a USDT price and is compared with nothing. The hub runs on a manual
 * clock started at the real time: nothing expires unless the test says so.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"

typedef struct
{
  FakeWs    *binance;
  FakeWs    *coinbase;
  FakeWs    *coincap;
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;
  guint      cb_sequence;
} Fixture;

static void
fixture_start (Fixture    *fx,
               const char *prices,
               const char *binance_code)
{
  g_autofree char *bn = NULL, *cb = NULL, *cc = NULL;
  g_autofree char *text = NULL;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  fx->binance = fake_ws_new ("/stream");
  fx->coinbase = fake_ws_new ("/");
  fx->coincap = fake_ws_new ("/prices");
  bn = fake_ws_url (fx->binance);
  cb = fake_ws_url (fx->coinbase);
  cc = fake_ws_url (fx->coincap);
  fx->cb_sequence = 1000;
  text = g_strdup_printf ("[tickhub]\nplugins=binance;coinbase;coincap;server;alerts\nsymbols=BTC\ntimeframes=1m\n"
                          "[prices]\norder=binance;coinbase;coincap\n%s\n"
                          "[symbols]\nBTC=binance:%s\n"
                          "[binance]\nurl=%s\nttl=10\nstale-after=60\n"
                          "[coinbase]\nurl=%s\nttl=10\nstale-after=60\n"
                          "[coincap]\nurl=%s\napi-key=k\nttl=10\nstale-after=60\n"
                          "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nprice-wait=0\n",
                          prices, binance_code, bn, cb, cc);
  fx->clock = th_manual_clock_new (g_get_real_time ());
  fx->hub = th_test_hub_new (text, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);
  th_test_wait_until (fake_ws_n_open (fx->binance) == 1 && fake_ws_n_open (fx->coinbase) == 1 &&
                      fake_ws_n_open (fx->coincap) == 1, 5000);
}

static void
fixture_stop (Fixture *fx)
{
  th_test_hub_clear (&fx->hub);
  g_clear_object (&fx->clock);
  g_ptr_array_unref (fx->events);
  fake_ws_free (fx->binance);
  fake_ws_free (fx->coinbase);
  fake_ws_free (fx->coincap);
}

static guint64
ticks_of (Fixture    *fx,
          const char *source)
{
  return th_hub_get_source_ticks (fx->hub, source);
}

static void
binance (Fixture    *fx,
         const char *code,
         double      price)
{
  g_autofree char *lower = g_ascii_strdown (code, -1);
  g_autofree char *frame = g_strdup_printf (
    "{\"stream\":\"%s@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%" G_GINT64_FORMAT ",\"s\":\"%s\","
    "\"c\":\"%.2f\",\"b\":\"1\",\"a\":\"2\",\"v\":\"3\",\"P\":\"0.1\"}}",
    lower, th_clock_get_time (fx->clock) / 1000, code, price);
  guint64 before = ticks_of (fx, "binance");

  fake_ws_send (fx->binance, frame);
  th_test_wait_until (ticks_of (fx, "binance") == before + 1, 5000);
}

static void
coinbase (Fixture *fx,
          double   price)
{
  g_autofree char *frame = g_strdup_printf (
    "{\"type\":\"ticker\",\"sequence\":%u,\"product_id\":\"BTC-USD\",\"price\":\"%.2f\",\"open_24h\":\"40000\","
    "\"volume_24h\":\"12345.678\",\"best_bid\":\"1\",\"best_ask\":\"2\",\"side\":\"buy\","
    "\"time\":\"2022-10-19T23:28:22.061769Z\",\"trade_id\":%u,\"last_size\":\"0.01\"}",
    fx->cb_sequence, price, fx->cb_sequence);
  guint64 before = ticks_of (fx, "coinbase");

  fx->cb_sequence++;
  fake_ws_send (fx->coinbase, frame);
  th_test_wait_until (ticks_of (fx, "coinbase") == before + 1, 5000);
}

static void
coincap (Fixture *fx,
         double   price)
{
  g_autofree char *frame = g_strdup_printf ("{\"bitcoin\":\"%.2f\"}", price);
  guint64 before = ticks_of (fx, "coincap");

  fake_ws_send (fx->coincap, frame);
  th_test_wait_until (ticks_of (fx, "coincap") == before + 1, 5000);
}

/* GET @path on the server sink: the body, after checking the status. */
static char *
http_get (Fixture    *fx,
          const char *path)
{
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", th_test_server_port (fx->hub), path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(ThTestHttp) h = th_test_http_send (session, msg);

  g_assert_no_error (h->error);
  g_assert_cmpuint (h->status, ==, 200);
  return g_strdup (h->body);
}

static const char *
selected (Fixture *fx)
{
  return th_price_book_get_selected (th_hub_get_price_book (fx->hub), "BTC");
}

/* Three fresh USD sources: the price says how many and how far apart;
 * Binance drifting 2.3 % is flagged (and stays served with flag); back in
 * line, the flag clears. */
static void
test_flag (void)
{
  Fixture fx = { 0 };
  g_autoptr(GPtrArray) data = NULL;
  JsonObject *obj, *price;
  g_autoptr(ThTick) tick = NULL;

  fixture_start (&fx, "divergence=1%\ndivergence-action=flag\n", "BTCUSD");

  coincap (&fx, 42990);
  coinbase (&fx, 43010);
  binance (&fx, "BTCUSD", 43000);
  g_assert_cmpstr (selected (&fx), ==, "binance");

  /* The served price carries the agreement: 3 sources, 20 / 43000 = 4.65 bps. */
  data = th_test_events_data (fx.events, "financial_data_update", "BTC");
  obj = g_ptr_array_index (data, data->len - 1);
  price = json_object_get_object_member (obj, "data");
  g_assert_cmpstr (json_object_get_string_member (price, "source"), ==, "binance");
  g_assert_cmpstr (json_object_get_string_member (price, "quote"), ==, "USD");
  g_assert_cmpint (json_object_get_int_member (price, "sources"), ==, 3);
  g_assert_cmpfloat_with_epsilon (th_test_json_number (price, "spread_bps"), 4.65, 0.01);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 0);

  /* Binance drifts 2.3 % away from the median of the others (43000). */
  binance (&fx, "BTCUSD", 44000);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence",
                                          "{\"symbol\":\"BTC\",\"source\":\"binance\",\"quote\":\"USD\",\"price\":44000,"
                                          "\"median\":43000,\"bps\":232.56,\"sources\":[\"binance\",\"coinbase\",\"coincap\"],"
                                          "\"diverged\":true}"), ==, 1);
  g_assert_cmpuint (th_hub_get_divergences (fx.hub), ==, 1);
  /* flag: still served, and said so. */
  g_assert_cmpstr (selected (&fx), ==, "binance");
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed", "\"reason\""), ==, 0);

  /* Another drifting tick: one flag, not one per tick. */
  binance (&fx, "BTCUSD", 44100);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 1);

  /* Hysteresis: 0.9 % is under the threshold but above 80 % of it. */
  binance (&fx, "BTCUSD", 43387);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 1);

  /* Back in line: the flag clears. */
  binance (&fx, "BTCUSD", 43005);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", "\"diverged\":false"), ==, 1);

  tick = th_hub_get_price (fx.hub, "BTC", NULL);
  g_assert_nonnull (tick);
  g_assert_cmpstr (tick->quote, ==, "USD");

  fixture_stop (&fx);
}

/* skip: the drifting source is passed over for the next fresh one, and
 * price_source_changed says why; agreement brings it back. */
static void
test_skip (void)
{
  Fixture fx = { 0 };
  g_autoptr(ThTick) tick = NULL;
  g_autoptr(GError) error = NULL;

  fixture_start (&fx, "divergence=50bps\ndivergence-action=skip\n[alerts]\nbtc-apart=BTC diverges cooldown=1s\n", "BTCUSD");

  coincap (&fx, 42990);
  coinbase (&fx, 43010);
  binance (&fx, "BTCUSD", 43000);
  g_assert_cmpstr (selected (&fx), ==, "binance");

  binance (&fx, "BTCUSD", 43500);   /* 116 bps off */
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", "\"diverged\":true"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed",
                                          "\"from\":\"binance\",\"to\":\"coinbase\",\"reason\":\"divergence\""), ==, 1);
  g_assert_cmpstr (selected (&fx), ==, "coinbase");
  /* The alert rule fired, naming the outlier and its price. */
  g_assert_cmpuint (th_test_count_events (fx.events, "price_alert", NULL), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_alert",
                                          "\"id\":\"btc-apart\",\"symbol\":\"BTC\",\"condition\":\"diverges\","
                                          "\"kind\":\"diverges\",\"price\":43500,\"source\":\"binance\",\"value\":116.2"), ==, 1);
  {
    g_autofree char *body = http_get (&fx, "/api/v1/price/BTC");
    g_autofree char *metrics = http_get (&fx, "/metrics");
    g_autoptr(JsonNode) node = th_test_parse_json (body);
    JsonObject *obj = json_node_get_object (node);

    g_assert_cmpstr (json_object_get_string_member (obj, "source"), ==, "coinbase");
    g_assert_cmpstr (json_object_get_string_member (obj, "quote"), ==, "USD");
    g_assert_cmpint (json_object_get_int_member (obj, "sources"), ==, 3);
    /* 42990 .. 43500 around the median 43010: 118.58 bps. */
    g_assert_cmpfloat_with_epsilon (th_test_json_number (obj, "spread_bps"), 118.58, 0.01);
    g_assert_nonnull (strstr (metrics, "\ntickhub_price_divergences_total 1\n"));
  }
  tick = th_hub_get_price (fx.hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tick->source, ==, "coinbase");
  g_assert_cmpfloat (tick->price, ==, 43010);
  g_clear_pointer (&tick, th_tick_unref);

  /* The skipped source's ticks are not served. */
  {
    guint before = th_test_count_events (fx.events, "financial_data_update", NULL);

    binance (&fx, "BTCUSD", 43600);
    g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", NULL), ==, before);
  }

  /* Agreement: Binance comes back, with the reason. */
  binance (&fx, "BTCUSD", 43001);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", "\"diverged\":false"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed",
                                          "\"from\":\"coinbase\",\"to\":\"binance\",\"reason\":\"agreement\""), ==, 1);
  g_assert_cmpstr (selected (&fx), ==, "binance");
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"price\":43001"), ==, 1);
  /* The clearing event fires no alert. */
  g_assert_cmpuint (th_test_count_events (fx.events, "price_alert", NULL), ==, 1);

  fixture_stop (&fx);
}

/* One fresh source is never flagged, however far it moves; a USDT price is
 * not compared with USD ones. */
static void
test_single_source_and_quotes (void)
{
  Fixture fx = { 0 };
  g_autoptr(GPtrArray) data = NULL;
  JsonObject *price;

  fixture_start (&fx, "divergence=1%\ndivergence-action=skip\n", "BTCUSDT");

  /* Coinbase alone, then it expires; Binance alone. */
  coinbase (&fx, 43000);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx.clock), 11 * G_USEC_PER_SEC);
  binance (&fx, "BTCUSDT", 43000);
  binance (&fx, "BTCUSDT", 50000);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 0);

  /* Coinbase and CoinCap in USD, Binance in USDT 16 % above: Binance has
   * no peer in its quote, so nothing is flagged. */
  coinbase (&fx, 43000);
  coincap (&fx, 43010);
  binance (&fx, "BTCUSDT", 50100);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 0);
  g_assert_cmpstr (selected (&fx), ==, "binance");

  data = th_test_events_data (fx.events, "financial_data_update", "BTC");
  price = json_object_get_object_member (g_ptr_array_index (data, data->len - 1), "data");
  g_assert_cmpstr (json_object_get_string_member (price, "quote"), ==, "USDT");
  g_assert_cmpint (json_object_get_int_member (price, "sources"), ==, 1);
  g_assert_cmpfloat (th_test_json_number (price, "spread_bps"), ==, 0);

  fixture_stop (&fx);
}

/* Off by default: the events are as they were. */
static void
test_off (void)
{
  Fixture fx = { 0 };

  fixture_start (&fx, "", "BTCUSD");
  coincap (&fx, 42990);
  coinbase (&fx, 43010);
  binance (&fx, "BTCUSD", 48000);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_divergence", NULL), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"sources\""), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"quote\""), ==, 0);
  g_assert_cmpuint (th_hub_get_divergences (fx.hub), ==, 0);
  fixture_stop (&fx);
}

/* The quote of a market, from the form of its code. */
static void
test_quotes (void)
{
  static const struct { const char *code, *quote; } cases[] = {
    { "BTCUSDT", "USDT" }, { "btcusdt", "USDT" }, { "BTC-USD", "USD" }, { "XBT/EUR", "EUR" },
    { "SOLUSDC", "USDC" }, { "ETHBTC", "BTC" }, { "BTCFDUSD", "FDUSD" }, { "bitcoin", NULL },
    { "solana", NULL }, { "avalanche-2", NULL }, { "xrp", NULL }, { "USDT", NULL }, { "-USD", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *quote = th_symbol_code_get_quote (cases[i].code);

      g_assert_cmpstr (quote, ==, cases[i].quote);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/divergence/quotes", test_quotes);
  g_test_add_func ("/divergence/flag", test_flag);
  g_test_add_func ("/divergence/skip", test_skip);
  g_test_add_func ("/divergence/single-source-and-quotes", test_single_source_and_quotes);
  g_test_add_func ("/divergence/off", test_off);
  return g_test_run ();
}
