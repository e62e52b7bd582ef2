/* test-market-hours.c: the US equities calendar, and what the hub does
 * with it: a closed market keeps its last trade (marked "closed") and
 * its silent feed; an open and silent one falls back, then has no
 * source. The equity venues are loopback servers speaking Alpaca's and
 * Finnhub's protocols; time is the hub's manual clock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"
#include "fake-alpaca.h"

#define KEY    "PKKEY"
#define SECRET "SECRET"
#define TOKEN  "tok"

/* µs since the epoch of an ISO 8601 UTC time. */
static gint64
at (const char *iso)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);

  g_assert_nonnull (dt);
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC;
}

static ThMarketHours *
us_equities (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "market-hours.conf", NULL);
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  ThMarketHours *hours;

  g_assert_true (g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &error));
  hours = _th_market_hours_new (file, "us-equities", &error);
  g_assert_no_error (error);
  return hours;
}

static void
test_calendar (void)
{
  g_autoptr(ThMarketHours) m = us_equities ();
  static const struct { const char *time; gboolean open; const char *next; } cases[] = {
    /* Winter (EST, UTC-5): 09:30-16:00 is 14:30-21:00 UTC. */
    { "2026-12-07T14:29:59Z", FALSE, "2026-12-07T14:30:00Z" },
    { "2026-12-07T14:30:00Z", TRUE,  "2026-12-07T14:30:00Z" },
    { "2026-12-07T20:59:59Z", TRUE,  "2026-12-07T20:59:59Z" },
    { "2026-12-07T21:00:00Z", FALSE, "2026-12-08T14:30:00Z" },
    /* Summer (EDT, UTC-4). */
    { "2026-07-06T13:30:00Z", TRUE,  "2026-07-06T13:30:00Z" },
    { "2026-07-06T13:29:00Z", FALSE, "2026-07-06T13:30:00Z" },
    /* The first Monday after the switch to summer time (March 8). */
    { "2026-03-09T13:30:00Z", TRUE,  "2026-03-09T13:30:00Z" },
    { "2026-03-06T14:30:00Z", TRUE,  "2026-03-06T14:30:00Z" },
    /* A weekend: Saturday → Monday. */
    { "2026-12-05T16:00:00Z", FALSE, "2026-12-07T14:30:00Z" },
    /* Independence Day observed on Friday July 3 2026, then a weekend. */
    { "2026-07-02T21:00:00Z", FALSE, "2026-07-06T13:30:00Z" },
    { "2026-07-03T15:00:00Z", FALSE, "2026-07-06T13:30:00Z" },
    /* Christmas Eve closes at 13:00, Christmas is closed. */
    { "2026-12-24T17:59:00Z", TRUE,  "2026-12-24T17:59:00Z" },
    { "2026-12-24T18:00:00Z", FALSE, "2026-12-28T14:30:00Z" },
    /* Good Friday 2027 (March 26). */
    { "2027-03-26T15:00:00Z", FALSE, "2027-03-29T13:30:00Z" },
    /* New Year's Day 2027 is a Friday. */
    { "2026-12-31T21:00:00Z", FALSE, "2027-01-04T14:30:00Z" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 t = at (cases[i].time);

      g_test_message ("%s", cases[i].time);
      g_assert_cmpint (_th_market_hours_is_open (m, t), ==, cases[i].open);
      g_assert_cmpint (_th_market_hours_next_open (m, t), ==, at (cases[i].next));
    }
}

static void
test_calendar_bad (void)
{
  static const struct { const char *text; const char *expect; } cases[] = {
    { "[m]\ntimezone=Mars/Olympus\nopen=09:30\nclose=16:00\n", "[m] timezone: “Mars/Olympus” is not a time zone" },
    { "[m]\ntimezone=America/New_York\nopen=16:00\nclose=09:30\n", "[m] open, close: need two times HH:MM" },
    { "[m]\ntimezone=America/New_York\nopen=09:30\nclose=16:00\nholidays=2026-02-30\n", "[m] holidays: “2026-02-30” is not a date" },
    { "[m]\ntimezone=America/New_York\nopen=09:30\nclose=16:00\nearly-close=25:00\n", "[m] early-close: “25:00” is not a time" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GKeyFile) file = g_key_file_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(ThMarketHours) m = NULL;

      g_assert_true (g_key_file_load_from_data (file, cases[i].text, -1, G_KEY_FILE_NONE, NULL));
      m = _th_market_hours_new (file, "m", &error);
      g_assert_null (m);
      th_test_assert_contains (error->message, cases[i].expect);
    }
}

typedef struct
{
  FakeAlpaca  *alpaca;
  FakeFinnhub *finnhub;
  ThClock     *clock;
  ThHub       *hub;
  GPtrArray   *events;
} Fixture;

static void
setup (Fixture    *fx,
       const char *symbols,
       const char *start,
       const char *extra)
{
  g_autofree char *aurl = NULL;
  g_autofree char *furl = NULL;
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  fx->alpaca = fake_alpaca_new (KEY, SECRET);
  fx->finnhub = fake_finnhub_new (TOKEN);
  fx->clock = th_manual_clock_new (at (start));
  aurl = fake_alpaca_url (fx->alpaca);
  furl = fake_finnhub_url (fx->finnhub);
  text = g_strdup_printf ("[tickhub]\nplugins=alpaca;finnhub;server\nsymbols=%s\ntimeframes=1m\n"
                          "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n"
                          "[symbols]\nBTC=finnhub:BINANCE:BTCUSDT\nETH=finnhub:BINANCE:ETHUSDT\n"
                          "[prices]\norder=alpaca;finnhub\n"
                          "[alpaca]\nurl=%s\nkey=" KEY "\nsecret=" SECRET "\nstale-after=1\nreconnect-max=2\nttl=5\n"
                          "[finnhub]\nurl=%s\ntoken=" TOKEN "\nstale-after=30\nttl=5\n%s",
                          symbols, aurl, furl, extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);   /* the case's keys replace the defaults */
  fx->hub = th_test_hub_new (merged, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
teardown (Fixture *fx)
{
  th_test_hub_clear (&fx->hub);
  fake_alpaca_free (fx->alpaca);
  fake_finnhub_free (fx->finnhub);
  g_ptr_array_unref (fx->events);
  g_clear_object (&fx->clock);
}

static void
advance_to (Fixture    *fx,
            const char *iso)
{
  th_manual_clock_set_time (TH_MANUAL_CLOCK (fx->clock), at (iso));
  th_test_drain ();
}

/* GET /api/v1/price/SYMBOL from the hub's server sink. */
static char *
rest_price (Fixture    *fx,
            const char *symbol)
{
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/price/%s", th_test_server_port (fx->hub), symbol);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(ThTestHttp) h = th_test_http_send (session, msg);

  g_assert_no_error (h->error);
  g_assert_cmpuint (h->status, ==, 200);
  return g_steal_pointer (&h->body);
}

/* Open: the trade is marked open. Closed: the last trade stays, marked
 * closed, with its age; the silent feed is not called stale. Open again
 * and silent: the other venue takes over, then no source at all. */
static void
test_closed_keeps_last_trade (void)
{
  Fixture fx = { 0 };
  g_autoptr(ThTick) price = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;

  setup (&fx, "AAPL;BTC", "2026-12-07T20:59:58Z", NULL);
  th_test_wait_until (fake_alpaca_n_subscribed (fx.alpaca) == 1 && fake_finnhub_n_subscribed (fx.finnhub) == 2, 5000);
  g_assert_cmpstr (th_hub_get_market (fx.hub, "AAPL"), ==, "open");
  g_assert_null (th_hub_get_market (fx.hub, "BTC"));

  fake_alpaca_send (fx.alpaca, "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":190.25,\"s\":100,\"t\":\"2026-12-07T20:59:59.5Z\"}]");
  fake_finnhub_send (fx.finnhub, "{\"type\":\"trade\",\"data\":[{\"p\":97000.5,\"s\":\"BINANCE:BTCUSDT\",\"t\":1796677140000,\"v\":0.1}]}");
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 2, 5000);
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update",
    "\"symbol\":\"AAPL\",\"data\":{\"price\":190.25,\"volume\":null,\"change\":null,\"bid\":null,\"ask\":null,"
    "\"source\":\"alpaca\",\"timestamp\":\"2026-12-07T20:59:59.500Z\",\"market\":\"open\"}"), ==, 1);
  /* Crypto has no hours, and no "market". */
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"symbol\":\"BTC\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"market\""), ==, 1);

  /* 16:00 New York: closed. An hour later the trade (TTL 5 s) is still
   * the price, with its age. */
  advance_to (&fx, "2026-12-07T22:00:00Z");
  g_assert_cmpstr (th_hub_get_market (fx.hub, "AAPL"), ==, "closed");
  price = th_hub_get_price (fx.hub, "AAPL", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (price->price, ==, 190.25);
  g_assert_cmpstr (price->source, ==, "alpaca");
  g_assert_cmpint (th_clock_get_time (fx.clock) - price->receive_time, ==, G_GINT64_CONSTANT (3602) * G_USEC_PER_SEC);
  g_clear_pointer (&price, th_tick_unref);
  {
    g_autofree char *body = rest_price (&fx, "AAPL");

    th_test_assert_contains (body, "\"price\":190.25,");
    th_test_assert_contains (body, "\"source\":\"alpaca\"");
    th_test_assert_contains (body, "\"age_ms\":3602000,\"market\":\"closed\"}");
  }
  /* BTC, no hours, expired as usual. */
  g_assert_null (th_hub_get_price (fx.hub, "BTC", NULL));
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed", "\"symbol\":\"AAPL\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed", "\"symbol\":\"BTC\",\"from\":\"finnhub\",\"to\":null"), ==, 1);

  /* The silent connection (stale-after=1) is not replaced while closed. */
  th_test_run_for (2500);
  g_assert_cmpuint (th_test_count_events (fx.events, "source_status", "\"source\":\"alpaca\",\"state\":\"stale\""), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fake_alpaca_ws (fx.alpaca)), ==, 1);
  g_assert_cmpint (th_hub_get_source_state (fx.hub, "alpaca", &reason), ==, TH_SOURCE_STATE_LIVE);

  /* The next morning: open, and for 5 s (the TTL) yesterday's close
   * still stands. Finnhub trades, Alpaca stays silent. */
  advance_to (&fx, "2026-12-08T14:30:02Z");
  g_assert_cmpstr (th_hub_get_market (fx.hub, "AAPL"), ==, "open");
  price = th_hub_get_price (fx.hub, "AAPL", NULL);
  g_assert_nonnull (price);
  g_assert_cmpstr (price->source, ==, "alpaca");
  g_clear_pointer (&price, th_tick_unref);
  fake_finnhub_send (fx.finnhub, "{\"type\":\"trade\",\"data\":[{\"p\":191.1,\"s\":\"AAPL\",\"t\":1796740202000,\"v\":5}]}");
  th_test_wait_until (th_test_count_events (fx.events, "source_status", "\"source\":\"finnhub\",\"state\":\"live\"") == 1
                      && th_hub_get_source_ticks (fx.hub, "finnhub") >= 2, 5000);

  advance_to (&fx, "2026-12-08T14:30:05.5Z");
  price = th_hub_get_price (fx.hub, "AAPL", NULL);
  g_assert_nonnull (price);
  g_assert_cmpstr (price->source, ==, "finnhub");
  g_assert_cmpfloat (price->price, ==, 191.1);
  g_clear_pointer (&price, th_tick_unref);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed",
                                          "\"symbol\":\"AAPL\",\"from\":\"alpaca\",\"to\":\"finnhub\""), ==, 1);
  /* Open and silent: the watchdog does its work again. */
  th_test_wait_until (th_test_count_events (fx.events, "source_status", "\"source\":\"alpaca\",\"state\":\"stale\"") >= 1, 5000);

  /* Finnhub silent too: no source. */
  advance_to (&fx, "2026-12-08T14:30:08Z");
  g_assert_null (th_hub_get_price (fx.hub, "AAPL", NULL));
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed",
                                          "\"symbol\":\"AAPL\",\"from\":\"finnhub\",\"to\":null"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "error", "no_source"), >=, 1);

  /* 16:00: closed again. The session's last trade (Finnhub's, this
   * morning) is the price again, not Alpaca's older one, without anyone
   * asking: the book looks again at the close. */
  advance_to (&fx, "2026-12-08T21:00:01Z");
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed",
                                          "\"symbol\":\"AAPL\",\"from\":null,\"to\":\"finnhub\""), ==, 1);
  price = th_hub_get_price (fx.hub, "AAPL", NULL);
  g_assert_nonnull (price);
  g_assert_cmpfloat (price->price, ==, 191.1);
  g_clear_pointer (&price, th_tick_unref);
  teardown (&fx);
}

/* The seven symbols of the issue, stocks and crypto, configured together:
 * each gets a real price from a loopback venue. */
static void
test_seven_symbols (void)
{
  static const char *const stocks[] = { "AAPL", "GOOGL", "MSFT", "AMZN", "TSLA" };
  Fixture fx = { 0 };
  g_autoptr(GString) batch = g_string_new ("[");

  setup (&fx, "AAPL;GOOGL;MSFT;AMZN;TSLA;BTC;ETH", "2026-12-07T15:00:00Z", NULL);
  th_test_wait_until (fake_alpaca_n_subscribed (fx.alpaca) == 1 && fake_finnhub_n_subscribed (fx.finnhub) == 7, 5000);
  g_assert_cmpstr (g_ptr_array_index (fake_ws_received (fake_alpaca_ws (fx.alpaca)), 1), ==,
                   "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"GOOGL\",\"MSFT\",\"AMZN\",\"TSLA\"],"
                   "\"quotes\":[\"AAPL\",\"GOOGL\",\"MSFT\",\"AMZN\",\"TSLA\"]}");
  for (guint i = 0; i < G_N_ELEMENTS (stocks); i++)
    {
      g_assert_true (fake_finnhub_is_subscribed (fx.finnhub, stocks[i]));
      g_string_append_printf (batch, "%s{\"T\":\"t\",\"S\":\"%s\",\"p\":%u.5,\"s\":10,\"t\":\"2026-12-07T14:59:59.9Z\"}",
                              i > 0 ? "," : "", stocks[i], 100 + i);
    }
  g_string_append_c (batch, ']');
  g_assert_true (fake_finnhub_is_subscribed (fx.finnhub, "BINANCE:BTCUSDT"));
  g_assert_true (fake_finnhub_is_subscribed (fx.finnhub, "BINANCE:ETHUSDT"));

  fake_alpaca_send (fx.alpaca, batch->str);
  fake_finnhub_send (fx.finnhub, "{\"type\":\"trade\",\"data\":[{\"p\":97000.5,\"s\":\"BINANCE:BTCUSDT\",\"t\":1796655599000,\"v\":0.1},"
                                 "{\"p\":3500.25,\"s\":\"BINANCE:ETHUSDT\",\"t\":1796655599000,\"v\":2}]}");
  th_test_wait_until (th_test_count_events (fx.events, "financial_data_update", NULL) == 7, 5000);

  for (guint i = 0; i < G_N_ELEMENTS (stocks); i++)
    {
      g_autoptr(ThTick) price = th_hub_get_price (fx.hub, stocks[i], NULL);
      g_autofree char *needle = g_strdup_printf ("\"symbol\":\"%s\",\"data\":{\"price\":%u.5,", stocks[i], 100 + i);

      g_assert_nonnull (price);
      g_assert_cmpfloat (price->price, ==, 100 + i + 0.5);
      g_assert_cmpstr (price->source, ==, "alpaca");
      g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", needle), ==, 1);
      g_assert_cmpstr (th_hub_get_market (fx.hub, stocks[i]), ==, "open");
    }
  {
    g_autoptr(ThTick) btc = th_hub_get_price (fx.hub, "BTC", NULL);
    g_autoptr(ThTick) eth = th_hub_get_price (fx.hub, "ETH", NULL);

    g_assert_cmpfloat (btc->price, ==, 97000.5);
    g_assert_cmpfloat (eth->price, ==, 3500.25);
    g_assert_cmpstr (btc->source, ==, "finnhub");
    g_assert_null (th_hub_get_market (fx.hub, "ETH"));
  }
  g_assert_cmpuint (th_test_count_events (fx.events, "financial_data_update", "\"market\":\"open\""), ==, 5);
  {
    g_autofree char *aapl = rest_price (&fx, "AAPL");
    g_autofree char *btc = rest_price (&fx, "BTC");

    th_test_assert_contains (aapl, "\"market\":\"open\"");
    th_test_assert_contains (btc, "\"price\":97000.5,");
    g_assert_null (strstr (btc, "market"));
  }
  teardown (&fx);
}

/* [prices] order-equities: stocks prefer Finnhub here, while `order`
 * (alpaca first) stays the rule for the others. */
static void
test_order_equities (void)
{
  Fixture fx = { 0 };
  g_autoptr(ThTick) price = NULL;

  setup (&fx, "AAPL;BTC", "2026-12-07T15:00:00Z", "[prices]\norder-equities=finnhub;alpaca\n");
  th_test_wait_until (fake_alpaca_n_subscribed (fx.alpaca) == 1 && fake_finnhub_n_subscribed (fx.finnhub) == 2, 5000);
  fake_alpaca_send (fx.alpaca, "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":190.25,\"s\":100,\"t\":\"2026-12-07T14:59:59.5Z\"}]");
  th_test_wait_until (th_test_count_events (fx.events, "price_source_changed", "\"symbol\":\"AAPL\",\"from\":null,\"to\":\"alpaca\"") == 1, 5000);
  fake_finnhub_send (fx.finnhub, "{\"type\":\"trade\",\"data\":[{\"p\":190.3,\"s\":\"AAPL\",\"t\":1796655599000,\"v\":5}]}");
  th_test_wait_until (th_test_count_events (fx.events, "price_source_changed", "\"symbol\":\"AAPL\",\"from\":\"alpaca\",\"to\":\"finnhub\"") == 1, 5000);
  /* Alpaca again: finnhub is fresh and first for stocks, it stays. */
  fake_alpaca_send (fx.alpaca, "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":190.2,\"s\":100,\"t\":\"2026-12-07T15:00:00.1Z\"}]");
  th_test_wait_until (th_hub_get_source_ticks (fx.hub, "alpaca") == 2, 5000);
  th_test_drain ();
  price = th_hub_get_price (fx.hub, "AAPL", NULL);
  g_assert_cmpstr (price->source, ==, "finnhub");
  g_assert_cmpfloat (price->price, ==, 190.3);
  teardown (&fx);
}

static void
test_order_equities_checked (void)
{
  g_autoptr(GError) error = th_test_hub_load_error ("[tickhub]\nplugins=alpaca\nsymbols=AAPL\n[alpaca]\nurl=ws://x/v2\n"
                                                    "[prices]\norder-stocks=alpaca\n");

  th_test_assert_contains (error->message, "[prices] order-stocks: unknown key");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/market-hours/calendar", test_calendar);
  g_test_add_func ("/market-hours/calendar-bad", test_calendar_bad);
  g_test_add_func ("/market-hours/closed-keeps-last-trade", test_closed_keeps_last_trade);
  g_test_add_func ("/market-hours/seven-symbols", test_seven_symbols);
  g_test_add_func ("/market-hours/order-equities", test_order_equities);
  g_test_add_func ("/market-hours/order-equities-checked", test_order_equities_checked);

  return g_test_run ();
}
