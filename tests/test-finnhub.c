/* test-finnhub.c: the finnhub feed against a local server speaking
 * Finnhub's trades WebSocket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"
#include "fake-alpaca.h"

#define GOOD_TOKEN "c0ffee&tok"
#define WITH_TOKEN "token=" GOOD_TOKEN "\n"
#define NO_TOKEN_REASON "Finnhub needs an API token: set [finnhub] token"

typedef struct
{
  FakeFinnhub *fh;
  ThHub       *hub;
  GPtrArray   *events;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;
  const char *extra = data;

  fx->fh = fake_finnhub_new (GOOD_TOKEN);
  url = fake_finnhub_url (fx->fh);
  text = g_strdup_printf ("[tickhub]\nplugins=finnhub\nsymbols=AAPL;TSLA;BTC\ntimeframes=1m\n"
                          "[symbols]\nBTC=finnhub:BINANCE:BTCUSDT\n"
                          "[finnhub]\nurl=%s\nstale-after=30\nreconnect-max=2\nttl=1.5\n%s",
                          url, extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);
  fx->hub = th_test_hub_new (merged, NULL);
  fx->events = th_test_capture_events (fx->hub);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_clear (&fx->hub);
  fake_finnhub_free (fx->fh);
  g_ptr_array_unref (fx->events);
}

static void
test_trades (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(ThTick) aapl = NULL;
  g_autoptr(ThTick) btc = NULL;

  th_test_wait_until (fake_finnhub_n_subscribed (fx->fh) == 3, 5000);
  g_assert_true (fake_finnhub_is_subscribed (fx->fh, "AAPL"));
  g_assert_true (fake_finnhub_is_subscribed (fx->fh, "TSLA"));
  g_assert_true (fake_finnhub_is_subscribed (fx->fh, "BINANCE:BTCUSDT"));
  /* The token escaped in the query. */
  g_assert_cmpstr (fake_ws_last_query (fake_finnhub_ws (fx->fh)), ==, "token=c0ffee%26tok");

  /* One batch, several symbols; the last trade of a symbol wins. */
  fake_finnhub_send (fx->fh,
    "{\"data\":[{\"c\":[\"1\",\"24\",\"12\"],\"p\":129.58,\"s\":\"AAPL\",\"t\":1672348887666,\"v\":1},"
    "{\"c\":[\"1\",\"24\",\"12\"],\"p\":129.575,\"s\":\"AAPL\",\"t\":1672348887785,\"v\":3},"
    "{\"c\":[\"1\",\"8\",\"24\",\"12\"],\"p\":122.1,\"s\":\"TSLA\",\"t\":1672348887195,\"v\":79},"
    "{\"p\":16547.2,\"s\":\"BINANCE:BTCUSDT\",\"t\":1672348887800,\"v\":0.011467}],\"type\":\"trade\"}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 4, 5000);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"AAPL\",\"data\":{\"price\":129.575,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"finnhub\",\"timestamp\":\"2022-12-29T21:21:27.785Z\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"TSLA\",\"data\":{\"price\":122.1,"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"BTC\",\"data\":{\"price\":16547.2,"), ==, 1);
  aapl = th_hub_get_price (fx->hub, "AAPL", NULL);
  g_assert_nonnull (aapl);
  g_assert_cmpfloat (aapl->size, ==, 3);
  g_assert_cmpint (aapl->exchange_time, ==, G_GINT64_CONSTANT (1672348887785000));
  btc = th_hub_get_price (fx->hub, "BTC", NULL);
  g_assert_cmpstr (btc->source, ==, "finnhub");
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"source\":\"finnhub\",\"state\":\"live\""), ==, 1);
}

/* Pings keep a quiet connection from being called stale. */
static void
test_pings_keep_alive (Fixture       *fx,
                       gconstpointer  data)
{
  th_test_wait_until (fake_finnhub_n_subscribed (fx->fh) == 3, 5000);
  for (guint i = 0; i < 8; i++)
    {
      fake_finnhub_send (fx->fh, "{\"type\":\"ping\"}");
      th_test_run_for (250);
    }
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\""), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fake_finnhub_ws (fx->fh)), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages") + th_test_feed_stat (fx->hub, "parse_errors"), ==, 0);

  /* Without them (stale-after=1 in this case), the connection is replaced. */
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\"") >= 1, 5000);
}

static void
test_bad_token (Fixture       *fx,
                gconstpointer  data)
{
  fake_ws_refuse (fake_finnhub_ws (fx->fh), 401, "Unauthorized");
  th_test_wait_until (th_test_count_events (fx->events, "source_status",
                      "Finnhub refused the token (HTTP 401/403); retrying in 300 s") >= 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"), "\"state\":\"down\""));
  th_test_run_for (2500);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
}

/* An error about the key: long pause; any other: the reason, the
 * connection stays, the next trade makes the source live again. */
static void
test_errors (Fixture       *fx,
             gconstpointer  data)
{
  th_test_wait_until (fake_finnhub_n_subscribed (fx->fh) == 3, 5000);
  fake_finnhub_send (fx->fh, "{\"type\":\"error\",\"msg\":\"Subscribing to too many symbols\"}");
  th_test_wait_until (th_test_count_events (fx->events, "source_status",
                      "\"state\":\"down\",\"reason\":\"Finnhub error: Subscribing to too many symbols\"") == 1, 5000);
  fake_finnhub_send (fx->fh, "{\"type\":\"trade\",\"data\":[{\"p\":130,\"s\":\"AAPL\",\"t\":1672348887666,\"v\":1}]}");
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"live\"") == 1, 5000);
  g_assert_cmpuint (fake_ws_n_accepted (fake_finnhub_ws (fx->fh)), ==, 1);

  fake_finnhub_send (fx->fh, "{\"type\":\"error\",\"msg\":\"Invalid API key\"}");
  th_test_wait_until (th_test_count_events (fx->events, "source_status",
                      "Finnhub error: Invalid API key; retrying in 300 s") == 1, 5000);
}

static void
test_odd_messages (Fixture       *fx,
                   gconstpointer  data)
{
  static const char *const odd[] = {
    "nope",
    "[1,2]",
    "{\"type\":\"news\"}",
    "{}",
    "{\"type\":\"trade\"}",
    "{\"type\":\"trade\",\"data\":{}}",
    "{\"type\":\"trade\",\"data\":[3,{\"p\":-1,\"s\":\"AAPL\",\"t\":1672348887666},"
    "{\"p\":1,\"s\":\"NFLX\",\"t\":1672348887666},{\"p\":1,\"s\":\"AAPL\",\"t\":1672348887},"
    "{\"p\":\"1\",\"s\":\"AAPL\",\"t\":1672348887666},{\"p\":1,\"s\":\"AAPL\",\"t\":1672348887666,\"v\":-2},"
    "{\"p\":131.5,\"s\":\"AAPL\",\"t\":1672348887999,\"v\":2}]}",
  };

  th_test_wait_until (fake_finnhub_n_subscribed (fx->fh) == 3, 5000);
  for (guint i = 0; i < G_N_ELEMENTS (odd); i++)
    fake_finnhub_send (fx->fh, odd[i]);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"price\":131.5,") == 1, 5000);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 2 + 6);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
}

static void
test_no_token_disabled (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *reason = NULL;

  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"disabled\"") == 1, 2000);
  g_assert_cmpint (th_hub_get_source_state (fx->hub, "finnhub", &reason), ==, TH_SOURCE_STATE_DISABLED);
  g_assert_cmpstr (reason, ==, NO_TOKEN_REASON);
  th_test_run_for (500);
  g_assert_cmpuint (fake_ws_n_accepted (fake_finnhub_ws (fx->fh)), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, extra) g_test_add (path, Fixture, extra, fixture_setup, fn, fixture_teardown)
  ADD ("/finnhub/trades", test_trades, WITH_TOKEN);
  ADD ("/finnhub/pings-keep-alive", test_pings_keep_alive, WITH_TOKEN "stale-after=1\n");
  ADD ("/finnhub/bad-token", test_bad_token, WITH_TOKEN);
  ADD ("/finnhub/errors", test_errors, WITH_TOKEN);
  ADD ("/finnhub/odd-messages", test_odd_messages, WITH_TOKEN);
  ADD ("/finnhub/no-token-disabled", test_no_token_disabled, "");
#undef ADD

  return g_test_run ();
}
