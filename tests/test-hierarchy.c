/* test-hierarchy.c: the price hierarchy with real feeds on loopback
 *
 * Binance over WebSocket (a local server speaking its protocol) above
 * CoinGecko over REST (a local server answering /simple/price). The hub
 * runs on a manual clock started at the real time, so TTLs expire exactly
 * when the test says, while the sockets run in real time.
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
  FakeWs     *ws;
  SoupServer *gecko;
  guint       gecko_port;
  guint       gecko_status;
  guint       gecko_requests;
  ThClock    *clock;
  ThHub      *hub;
  GPtrArray  *events;
} Fixture;

static void
on_gecko (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  Fixture *fx = user_data;
  g_autofree char *body = NULL;

  fx->gecko_requests++;
  if (fx->gecko_status != 200)
    {
      soup_server_message_set_status (msg, fx->gecko_status, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, "{}", 2);
      return;
    }
  body = g_strdup_printf ("{\"bitcoin\":{\"usd\":42950.25,\"usd_24h_vol\":1000000,\"usd_24h_change\":1.5,"
                          "\"last_updated_at\":%" G_GINT64_FORMAT "}}",
                          th_clock_get_time (fx->clock) / G_USEC_PER_SEC);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

static void
ticker (Fixture *fx,
        double   price)
{
  g_autofree char *frame = g_strdup_printf (
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%" G_GINT64_FORMAT ",\"s\":\"BTCUSDT\","
    "\"c\":\"%.2f\",\"b\":\"1\",\"a\":\"2\",\"v\":\"3\",\"P\":\"0.1\"}}",
    th_clock_get_time (fx->clock) / 1000, price);

  fake_ws_send (fx->ws, frame);
}

static void
test_fallback_and_no_source (void)
{
  Fixture fx = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autoptr(ThTick) price = NULL;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  fx.ws = fake_ws_new ("/stream");
  fx.gecko = th_test_soup_server_new (&fx.gecko_port);
  fx.gecko_status = 200;
  soup_server_add_handler (fx.gecko, "/api/v3/simple/price", on_gecko, &fx, NULL);

  url = fake_ws_url (fx.ws);
  text = g_strdup_printf ("[tickhub]\nplugins=binance;coingecko\nsymbols=BTC\ntimeframes=1m\n"
                          "[prices]\norder=binance;coingecko\n"
                          "[binance]\nurl=%s\nttl=10\nstale-after=60\n"
                          "[coingecko]\nurl=http://127.0.0.1:%u/api/v3\npoll=always\npoll-interval=30\nttl=60\n",
                          url, fx.gecko_port);
  fx.clock = th_manual_clock_new (g_get_real_time ());
  fx.hub = th_test_hub_new (text, fx.clock);
  fx.events = th_test_capture_events (fx.hub);
  th_hub_start (fx.hub);

  /* CoinGecko polls at start; Binance connects and delivers: Binance wins. */
  th_test_wait_until (th_test_count_events (fx.events, "price_source_changed", "\"to\":\"coingecko\"") == 1, 5000);
  th_test_wait_until (fake_ws_n_open (fx.ws) == 1, 5000);
  ticker (&fx, 43000);
  th_test_wait_until (th_test_count_events (fx.events, "price_source_changed", "\"from\":\"coingecko\",\"to\":\"binance\"") == 1, 5000);
  price = th_hub_get_price (fx.hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (price->source, ==, "binance");
  g_clear_pointer (&price, th_tick_unref);

  /* Binance's price expires (10 s): CoinGecko's is still fresh (60 s). */
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx.clock), 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed", "\"from\":\"binance\",\"to\":\"coingecko\""), ==, 1);
  price = th_hub_get_price (fx.hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (price->source, ==, "coingecko");
  g_assert_cmpfloat (price->price, ==, 42950.25);
  g_clear_pointer (&price, th_tick_unref);

  /* Binance recovers: it takes over again. */
  ticker (&fx, 43001);
  th_test_wait_until (th_test_count_events (fx.events, "price_source_changed", "\"from\":\"coingecko\",\"to\":\"binance\"") == 2, 5000);

  /* CoinGecko fails, and everything goes stale: no_source, with reasons. */
  fx.gecko_status = 500;
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx.clock), 30 * G_USEC_PER_SEC);  /* a poll, answered 500 */
  th_test_wait_until (th_test_count_events (fx.events, "source_status", "\"source\":\"coingecko\",\"state\":\"down\"") >= 1, 5000);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx.clock), 31 * G_USEC_PER_SEC);
  g_assert_cmpuint (th_test_count_events (fx.events, "price_source_changed", "\"to\":null"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx.events, "error", "\"code\":\"no_source\""), ==, 1);

  price = th_hub_get_price (fx.hub, "BTC", &error);
  g_assert_null (price);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_assert_nonnull (strstr (error->message, "binance: last price 61.0 s old (ttl 10 s)"));
  g_assert_nonnull (strstr (error->message, "coingecko: last price"));
  g_assert_nonnull (strstr (error->message, "500"));

  th_test_hub_clear (&fx.hub);
  g_clear_object (&fx.clock);
  g_ptr_array_unref (fx.events);
  soup_server_disconnect (fx.gecko);
  g_object_unref (fx.gecko);
  fake_ws_free (fx.ws);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hierarchy/fallback-and-no-source", test_fallback_and_no_source);
  return g_test_run ();
}
