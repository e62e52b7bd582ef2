/* test-alpaca.c: the alpaca feed against a local server speaking Alpaca's
 * market data WebSocket v2 (welcome, auth, subscribe, batched arrays)
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

#define GOOD_KEY    "PKTEST\"key"
#define GOOD_SECRET "s3cr/et"
#define WITH_KEY    "key=PKTEST\"key\nsecret=s3cr/et\n"

#define NO_KEY_REASON "Alpaca needs an API key and secret: set [alpaca] key and secret"

typedef struct
{
  FakeAlpaca *alpaca;
  ThHub      *hub;
  GPtrArray  *events;
} Fixture;

static void
setup_hub (Fixture    *fx,
           const char *extra,
           ThClock    *clock)
{
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  fx->alpaca = fake_alpaca_new (GOOD_KEY, GOOD_SECRET);
  url = fake_alpaca_url (fx->alpaca);
  /* BTC has no Alpaca code: not subscribed. */
  text = g_strdup_printf ("[tickhub]\nplugins=alpaca\nsymbols=AAPL;MSFT;BTC\ntimeframes=1m\n"
                          "[prices]\norder=alpaca;finnhub\n"
                          "[alpaca]\nurl=%s\nstale-after=1\nreconnect-max=2\nmax-frame=4096\nttl=1.5\n%s",
                          url, extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);
  fx->hub = th_test_hub_new (merged, clock);
  fx->events = th_test_capture_events (fx->hub);
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
  fake_alpaca_free (fx->alpaca);
  g_ptr_array_unref (fx->events);
}

/* Welcome, auth, subscribe; then a batch of a trade and a quote. */
static void
test_trades_and_quotes (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(ThTick) aapl = NULL;
  g_autoptr(ThTick) msft = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *got;

  th_test_wait_until (fake_alpaca_n_subscribed (fx->alpaca) == 1, 5000);
  /* What the client sent: auth first, then one subscribe, nothing else. */
  got = fake_ws_received (fake_alpaca_ws (fx->alpaca));
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpstr (got->pdata[0], ==, "{\"action\":\"auth\",\"key\":\"PKTEST\\\"key\",\"secret\":\"s3cr/et\"}");
  g_assert_cmpstr (got->pdata[1], ==, "{\"action\":\"subscribe\",\"trades\":[\"AAPL\",\"MSFT\"],\"quotes\":[\"AAPL\",\"MSFT\"]}");

  fake_alpaca_send (fx->alpaca,
    "[{\"T\":\"t\",\"i\":96921,\"S\":\"AAPL\",\"x\":\"V\",\"p\":126.55,\"s\":100,\"t\":\"2021-02-22T15:51:44.208123456Z\",\"c\":[\"@\",\"I\"],\"z\":\"C\"},"
    "{\"T\":\"q\",\"S\":\"MSFT\",\"bx\":\"V\",\"bp\":233.1,\"bs\":1,\"ax\":\"V\",\"ap\":233.3,\"as\":4,\"t\":\"2021-02-22T15:51:45.335689322Z\",\"c\":[\"R\"],\"z\":\"C\"}]");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);

  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"AAPL\",\"data\":{\"price\":126.55,\"volume\":null,\"change\":null,\"bid\":null,"
    "\"ask\":null,\"source\":\"alpaca\",\"timestamp\":\"2021-02-22T15:51:44.208Z\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"MSFT\",\"data\":{\"price\":233.2,\"volume\":null,\"change\":null,\"bid\":233.1,"
    "\"ask\":233.3,\"source\":\"alpaca\",\"timestamp\":\"2021-02-22T15:51:45.335Z\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"source\":\"alpaca\",\"state\":\"live\""), ==, 1);

  aapl = th_hub_get_price (fx->hub, "AAPL", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (aapl->price, ==, 126.55);
  g_assert_cmpfloat (aapl->size, ==, 100);
  g_assert_cmpint (aapl->exchange_time, ==, G_GINT64_CONSTANT (1614009104208123));
  msft = th_hub_get_price (fx->hub, "MSFT", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (msft->bid, ==, 233.1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
}

/* A wrong secret: 402 auth failed, then Alpaca closes. Down with
 * Alpaca's message, and no new attempt within the usual backoff. */
static void
test_auth_failed (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "auth failed") >= 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"),
                            "\"state\":\"down\",\"reason\":\"Alpaca error 402: auth failed; retrying in 300 s\""));
  th_test_run_for (3000);
  g_assert_cmpuint (fake_ws_n_accepted (fake_alpaca_ws (fx->alpaca)), ==, 1);
  g_assert_cmpuint (fake_alpaca_n_subscribed (fx->alpaca), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 0);
}

/* One connection per endpoint: a second one is refused with 406. */
static void
test_connection_limit (Fixture       *fx,
                       gconstpointer  data)
{
  fake_alpaca_set_welcome (fx->alpaca, "[{\"T\":\"error\",\"code\":406,\"msg\":\"connection limit exceeded\"}]");
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "connection limit exceeded") >= 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"),
                            "\"state\":\"down\",\"reason\":\"Alpaca error 406: connection limit exceeded; retrying in 300 s\""));
  th_test_run_for (2500);
  g_assert_cmpuint (fake_ws_n_accepted (fake_alpaca_ws (fx->alpaca)), ==, 1);
}

/* A subscription error (409 insufficient subscription, SIP on a free
 * plan) after a good auth: down, long pause. */
static void
test_subscription_error (Fixture       *fx,
                         gconstpointer  data)
{
  fake_alpaca_set_subscribe_reply (fx->alpaca, "[{\"T\":\"error\",\"code\":409,\"msg\":\"insufficient subscription\"}]");
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "insufficient subscription") >= 1, 5000);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "source_status"),
                            "Alpaca error 409: insufficient subscription; retrying in 300 s"));
  g_assert_nonnull (strstr (fake_alpaca_last_path (fx->alpaca), "/v2/sip"));
}

static void
test_no_key_disabled (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *reason = NULL;

  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"disabled\"") == 1, 2000);
  g_assert_cmpint (th_hub_get_source_state (fx->hub, "alpaca", &reason), ==, TH_SOURCE_STATE_DISABLED);
  g_assert_cmpstr (reason, ==, NO_KEY_REASON);
  th_test_run_for (500);
  g_assert_cmpuint (fake_ws_n_accepted (fake_alpaca_ws (fx->alpaca)), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "connects"), ==, 0);
}

/* Odd messages in a batch are counted one by one; the good elements of
 * the same batch still count; the connection carries on. */
static void
test_odd_messages (Fixture       *fx,
                   gconstpointer  data)
{
  static const char *const odd[] = {
    "not json",
    "{\"T\":\"t\"",                                                    /* truncated */
    "[]",                                                             /* empty batch */
    "42",
    "[{\"T\":\"statuses\",\"S\":\"AAPL\"}]",                          /* not asked for */
    "[{\"msg\":\"no T\"}]",
    "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":-1,\"t\":\"2021-02-22T15:51:44Z\"}]",
    "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":\"126\",\"t\":\"2021-02-22T15:51:44Z\"}]",  /* a string */
    "[{\"T\":\"t\",\"S\":\"AAPL\",\"p\":126,\"t\":\"yesterday\"}]",
    "[{\"T\":\"t\",\"S\":\"NFLX\",\"p\":500,\"t\":\"2021-02-22T15:51:44Z\"}]",       /* not followed */
    "[{\"T\":\"q\",\"S\":\"AAPL\",\"bp\":0,\"ap\":126,\"t\":\"2021-02-22T15:51:44Z\"}]",  /* empty side */
    "[{\"T\":\"q\",\"S\":\"AAPL\",\"bp\":127,\"ap\":126,\"t\":\"2021-02-22T15:51:44Z\"}]",  /* crossed */
    /* Bad elements do not spoil the good ones. */
    "[7,{\"T\":\"t\",\"S\":\"AAPL\",\"p\":1e9,\"t\":\"2021-02-22T15:51:44Z\"},"
    "{\"T\":\"t\",\"S\":\"MSFT\",\"p\":240.5,\"s\":3,\"t\":\"2021-02-22T15:51:46Z\"}]",
  };

  th_test_wait_until (fake_alpaca_n_subscribed (fx->alpaca) == 1, 5000);
  for (guint i = 0; i < G_N_ELEMENTS (odd); i++)
    fake_alpaca_send (fx->alpaca, odd[i]);
  fake_ws_send_raw (fake_alpaca_ws (fx->alpaca), SOUP_WEBSOCKET_DATA_BINARY, "\x01\x02", 2);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"MSFT\"") == 1, 5000);
  th_test_run_for (100);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", NULL), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 4 + 1);  /* not json, truncated, 42, element 7; binary */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 3);      /* [], statuses, no T */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 7);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (fake_ws_n_accepted (fake_alpaca_ws (fx->alpaca)), ==, 1);
}

/* The server forgets one symbol in its subscription answer: said. */
static void
test_subscription_missing (Fixture       *fx,
                           gconstpointer  data)
{
  fake_alpaca_set_subscribe_reply (fx->alpaca,
    "[{\"T\":\"subscription\",\"trades\":[\"AAPL\"],\"quotes\":[\"AAPL\",\"MSFT\"],\"bars\":[]}]");
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "Alpaca did not subscribe MSFT to trades") == 1, 5000);
}

static void
test_bad_config (void)
{
  static const struct { const char *conf; const char *expect; } cases[] = {
    { "[alpaca]\nurl=ws://x/v2\nfeed=crypto\n", "[alpaca] feed: “crypto” is not an Alpaca stock feed" },
    { "[alpaca]\nurl=ws://x/v2\nkey=a b\nsecret=x\n", "[alpaca] key: the key has spaces" },
    { "[alpaca]\nurl=ws://x/v2\nchannels=trades;news\n", "[alpaca] channels: “news” is not a channel" },
    { "[alpaca]\nurl=ws://x/v2\ntoken=abc\n", "[alpaca] token: unknown key" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=alpaca\nsymbols=AAPL\n%s", cases[i].conf);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      th_test_assert_contains (error->message, cases[i].expect);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, extra) g_test_add (path, Fixture, extra, fixture_setup, fn, fixture_teardown)
  ADD ("/alpaca/trades-and-quotes", test_trades_and_quotes, WITH_KEY);
  ADD ("/alpaca/auth-failed", test_auth_failed, "key=PKTEST\"key\nsecret=wrong\n");
  ADD ("/alpaca/connection-limit", test_connection_limit, WITH_KEY);
  ADD ("/alpaca/subscription-error", test_subscription_error, WITH_KEY "feed=sip\n");
  ADD ("/alpaca/subscription-missing", test_subscription_missing, WITH_KEY);
  ADD ("/alpaca/no-key-disabled", test_no_key_disabled, "key=abc\n");
  ADD ("/alpaca/odd-messages", test_odd_messages, WITH_KEY "stale-after=30\n");
#undef ADD
  g_test_add_func ("/alpaca/bad-config", test_bad_config);

  return g_test_run ();
}
