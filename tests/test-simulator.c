/* test-simulator.c: the simulator feed, driven by a manual clock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

#define T0 G_GINT64_CONSTANT (1704067200000000)   /* 2024-01-01T00:00:00Z */

typedef struct
{
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;    /* ThEvent* */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->clock = th_manual_clock_new (T0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->hub);
  g_clear_object (&f->clock);
  g_clear_pointer (&f->events, g_ptr_array_unref);
}

/* Starts a hub of @conf; the events it emits in @f->events. */
static void
start (Fixture    *f,
       const char *conf)
{
  f->hub = th_test_hub_new (conf, f->clock);
  f->events = th_test_capture_events (f->hub);
  th_hub_start (f->hub);
}

static void
advance (Fixture *f,
         double   seconds)
{
  th_manual_clock_advance (TH_MANUAL_CLOCK (f->clock), (gint64) llround (seconds * G_USEC_PER_SEC));
}

/* The `data` objects of the financial_data_update events, in order. */
static GPtrArray *
financial (Fixture    *f,
           const char *symbol)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < f->events->len; i++)
    {
      ThEvent *event = f->events->pdata[i];

      if (g_str_equal (th_event_get_name (event), "financial_data_update") &&
          (symbol == NULL || g_strcmp0 (th_event_get_symbol (event), symbol) == 0))
        g_ptr_array_add (out, json_object_get_object_member (th_test_event_data (event), "data"));
    }
  return out;
}

/* Every financial_data_update of a run, as JSON text. */
static char *
run_prices (const char *conf,
            double      seconds)
{
  Fixture f = { 0 };
  char *out;

  fixture_setup (&f, NULL);
  start (&f, conf);
  for (double t = 0; t < seconds; t += 1)
    advance (&f, 1);
  out = th_test_events_json (f.events, "financial_data_update");
  fixture_teardown (&f, NULL);
  return out;
}

#define CONF_HEAD \
  "[tickhub]\nplugins=simulator\nsymbols=BTC;ETH;DOGE\ntimeframes=1m\n"

static void
test_same_seed_same_prices (void)
{
  g_autofree char *a = run_prices (CONF_HEAD "[simulator]\nseed=7\n", 30);
  g_autofree char *b = run_prices (CONF_HEAD "[simulator]\nseed=7\n", 30);
  g_autofree char *c = run_prices (CONF_HEAD "[simulator]\nseed=8\n", 30);
  g_autofree char *d = run_prices (CONF_HEAD, 30);
  g_autofree char *e = run_prices (CONF_HEAD "[simulator]\nseed=42\n", 30);

  g_assert_cmpuint (strlen (a), >, 0);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  /* The default seed is 42. */
  g_assert_cmpstr (d, ==, e);
}

static void
test_symbol_path_independent (void)
{
  /* A symbol's prices depend on the seed, not on the other symbols. */
  g_autofree char *alone = run_prices ("[tickhub]\nplugins=simulator\nsymbols=ETH\n", 20);
  g_autofree char *with_others = run_prices ("[tickhub]\nplugins=simulator\nsymbols=BTC;ETH;SOL\n", 20);
  g_auto(GStrv) lines = g_strsplit (with_others, "\n", -1);
  g_autoptr(GString) eth = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "\"symbol\":\"ETH\"") != NULL)
      g_string_append_printf (eth, "%s\n", lines[i]);

  g_assert_cmpstr (alone, ==, eth->str);
}

static void
test_ticks_labelled (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GPtrArray) updates = NULL;
  guint closed = 0;
  gboolean live = FALSE;

  start (f, CONF_HEAD "[simulator]\ninterval=1\n");
  for (int i = 0; i < 130; i++)
    advance (f, 1);

  updates = financial (f, NULL);
  /* 131 steps (at 0 s, 1 s, .., 130 s) of a trade and a quote per symbol;
   * a trade may be skipped when its size rounds to 0, which is rare. */
  g_assert_cmpuint (updates->len, >=, 3 * 131);
  g_assert_cmpuint (updates->len, <=, 2 * 3 * 131);

  for (guint i = 0; i < updates->len; i++)
    {
      JsonObject *d = updates->pdata[i];
      double price = json_object_get_double_member (d, "price");

      g_assert_cmpstr (json_object_get_string_member (d, "source"), ==, "simulator");
      g_assert_true (isfinite (price));
      g_assert_cmpfloat (price, >, 0);
      g_assert_true (json_object_has_member (d, "timestamp"));
      if (!json_object_get_null_member (d, "bid"))
        {
          double bid = json_object_get_double_member (d, "bid");
          double ask = json_object_get_double_member (d, "ask");

          g_assert_cmpfloat (bid, >, 0);
          g_assert_cmpfloat (bid, <, ask);
          g_assert_cmpfloat (json_object_get_double_member (d, "volume"), >, 0);
          g_assert_true (isfinite (json_object_get_double_member (d, "change")));
        }
    }

  for (guint i = 0; i < f->events->len; i++)
    {
      ThEvent *event = f->events->pdata[i];
      JsonObject *d = th_test_event_data (event);

      if (g_str_equal (th_event_get_name (event), "source_status"))
        {
          g_assert_cmpstr (json_object_get_string_member (d, "source"), ==, "simulator");
          live |= g_strcmp0 (json_object_get_string_member (d, "state"), "live") == 0 &&
                  g_strcmp0 (json_object_get_string_member (d, "reason"), "simulated prices (demo mode)") == 0;
        }
      else if (g_str_equal (th_event_get_name (event), "candle_update"))
        {
          JsonObject *candle = json_object_get_object_member (d, "candle");

          if (!json_object_get_boolean_member (candle, "closed"))
            continue;
          /* Trades give candles their volume. */
          closed++;
          g_assert_cmpfloat (json_object_get_double_member (candle, "volume"), >, 0);
          g_assert_cmpfloat (json_object_get_double_member (candle, "low"), <=,
                             json_object_get_double_member (candle, "high"));
        }
    }
  g_assert_true (live);
  /* Minutes 00:00 and 00:01 of each symbol closed. */
  g_assert_cmpuint (closed, ==, 2 * 3);
}

static void
test_starting_prices (Fixture       *f,
                      gconstpointer  data)
{
  static const struct { const char *symbol; double price; } expected[] = {
    { "BTC", 43000 }, { "ETH", 2300 }, { "SOL", 100 }, { "ADA", 0.5 }, { "XRP", 0.6 },
    { "DOGE", 0.08 }, { "AAPL", 190 }, { "MSFT", 380 }, { "GOOGL", 140 }, { "AMZN", 150 },
    { "TSLA", 240 }, { "NVDA", 480 }, { "ZZZ", 100 },
  };

  /* With no volatility the mid price stays at its start. */
  start (f, "[tickhub]\nplugins=simulator\nsymbols=BTC;ETH;SOL;ADA;XRP;DOGE;AAPL;MSFT;GOOGL;AMZN;TSLA;NVDA;ZZZ\n"
            "[simulator]\nvolatility=0\ntrades=false\n");
  advance (f, 3);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GPtrArray) updates = financial (f, expected[i].symbol);

      g_assert_cmpuint (updates->len, ==, 4);
      for (guint j = 0; j < updates->len; j++)
        g_assert_cmpfloat (json_object_get_double_member (updates->pdata[j], "price"), ==, expected[i].price);
    }
}

static void
test_interval_honoured (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GPtrArray) updates = NULL;
  g_autoptr(GPtrArray) after = NULL;
  static const char *const times[] = {
    "2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00.250Z", "2024-01-01T00:00:00.500Z",
    "2024-01-01T00:00:00.750Z", "2024-01-01T00:00:01.000Z", "2024-01-01T00:00:01.250Z",
  };

  start (f, "[tickhub]\nplugins=simulator\nsymbols=SOL\n[simulator]\ninterval=0.25\ntrades=false\n");

  /* Nothing before the clock moves: the first step is a deadline at the
   * start time. */
  updates = financial (f, "SOL");
  g_assert_cmpuint (updates->len, ==, 0);
  g_clear_pointer (&updates, g_ptr_array_unref);

  advance (f, 0);
  updates = financial (f, "SOL");
  g_assert_cmpuint (updates->len, ==, 1);
  g_clear_pointer (&updates, g_ptr_array_unref);

  advance (f, 0.2);
  updates = financial (f, "SOL");
  g_assert_cmpuint (updates->len, ==, 1);
  g_clear_pointer (&updates, g_ptr_array_unref);

  /* One jump of the clock fires each step at its own time. */
  advance (f, 1.1);
  updates = financial (f, "SOL");
  g_assert_cmpuint (updates->len, ==, G_N_ELEMENTS (times));
  for (guint i = 0; i < G_N_ELEMENTS (times); i++)
    g_assert_cmpstr (json_object_get_string_member (updates->pdata[i], "timestamp"), ==, times[i]);

  /* No tick after stop. */
  th_hub_stop_async (f->hub, NULL, NULL, NULL);
  advance (f, 5);
  after = financial (f, "SOL");
  g_assert_cmpuint (after->len, ==, updates->len);
}

static void
test_bad_config (void)
{
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ninterval=0\n", "[simulator] interval: “0” is out of range");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ninterval=0.001\n", "[simulator] interval: “0.001” is out of range");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ninterval=-1\n", "[simulator] interval:");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ninterval=often\n", "[simulator] interval:");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ninterval=10\n", "[simulator] interval: 10 s is not shorter than the ttl");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\nvolatility=-0.1\n", "[simulator] volatility: “-0.1” is out of range");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\nseed=-3\n", "[simulator] seed:");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\ntrades=maybe\n", "[simulator] trades:");
  th_test_assert_bad_config (CONF_HEAD "[simulator]\nspeed=2\n", "[simulator] speed: unknown key");
}

static void
test_slow_interval_with_ttl (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) updates = NULL;

  /* A long interval is fine once the ttl covers it. */
  start (f, "[tickhub]\nplugins=simulator\nsymbols=BTC\n[simulator]\ninterval=30\nttl=45\ntrades=false\n");
  advance (f, 0);
  advance (f, 60);
  updates = financial (f, "BTC");
  g_assert_cmpuint (updates->len, ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/simulator/same-seed-same-prices", test_same_seed_same_prices);
  g_test_add_func ("/simulator/symbol-path-independent", test_symbol_path_independent);
  g_test_add ("/simulator/ticks-labelled-simulator", Fixture, NULL,
              fixture_setup, test_ticks_labelled, fixture_teardown);
  g_test_add ("/simulator/starting-prices", Fixture, NULL,
              fixture_setup, test_starting_prices, fixture_teardown);
  g_test_add ("/simulator/interval-honoured", Fixture, NULL,
              fixture_setup, test_interval_honoured, fixture_teardown);
  g_test_add_func ("/simulator/bad-config-names-the-key", test_bad_config);
  g_test_add ("/simulator/slow-interval-with-ttl", Fixture, NULL,
              fixture_setup, test_slow_interval_with_ttl, fixture_teardown);

  return g_test_run ();
}
