/* test-divergence.c: [prices] divergence, when fresh sources disagree
 *
 * Three sources of the same quote push prices into a hub on a manual
 * clock: the first fresh one of the order is compared with the median of
 * the others. Beyond the threshold it is flagged (a price_divergence
 * event, the metric) and, with divergence-action=skip, passed over while
 * a majority agrees; agreement clears the flag, with hysteresis. A single
 * fresh source, or one in another quote, is never compared.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-private.h"
#include "test-utils.h"

#define T0 G_GINT64_CONSTANT (1700000000000000)

typedef struct
{
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;   /* ThEvent */
} Fixture;

#define CONFIG(action) \
  "[tickhub]\nplugins=sma\nsymbols=BTC;ETH\ntimeframes=1m\n" \
  "[prices]\norder=binance;coinbase;coincap\ndivergence=1%\ndivergence-action=" action "\n" \
  "[binance]\nttl=10\n[coinbase]\nttl=10\n[coincap]\nttl=10\n"

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  fx->clock = th_manual_clock_new (T0);
  fx->hub = th_test_hub_new (data, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_clear (&fx->hub);
  g_clear_object (&fx->clock);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
}

static void
push (Fixture    *fx,
      const char *source,
      const char *quote,
      double      price)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", source, TH_TICK_KIND_QUOTE, price,
                                        th_clock_get_time (fx->clock));

  th_tick_set_quote (tick, quote);
  th_hub_push_tick (fx->hub, tick);
}

static guint
count (Fixture    *fx,
       const char *name,
       const char *needle)
{
  return th_test_count_events (fx->events, name, needle);
}

static char *
price_source (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = th_hub_get_price (fx->hub, "BTC", &error);

  g_assert_no_error (error);
  return g_strdup (tick->source);
}

static void
three_agree (Fixture *fx)
{
  push (fx, "coinbase", "USD", 100.1);
  push (fx, "coincap", "USD", 99.9);
  push (fx, "binance", "USD", 100);
}

static void
test_flag (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = NULL;
  g_autofree char *source = NULL;

  three_agree (fx);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 0);
  /* The served price says how many agreed and how far apart. */
  g_assert_cmpuint (count (fx, "financial_data_update", "\"source\":\"binance\""), ==, 1);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "financial_data_update"),
                            "\"quote\":\"USD\",\"sources\":3,\"spread_bps\":20"));
  tick = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tick->n_sources, ==, 3);
  g_assert_cmpfloat_with_epsilon (tick->spread_bps, 20, 1e-9);
  g_clear_pointer (&tick, th_tick_unref);

  /* Binance drifts 3 % away: flagged once, still served (flag only). */
  push (fx, "binance", "USD", 103);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":true"), ==, 1);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "price_divergence"),
                            "\"symbol\":\"BTC\",\"source\":\"binance\",\"quote\":\"USD\",\"price\":103,"
                            "\"median\":100,\"bps\":300,\"sources\":[\"binance\",\"coinbase\",\"coincap\"]"));
  g_assert_cmpuint (th_hub_get_divergences (fx->hub), ==, 1);
  source = price_source (fx);
  g_assert_cmpstr (source, ==, "binance");
  g_assert_cmpuint (count (fx, "price_source_changed", "\"reason\""), ==, 0);
  push (fx, "binance", "USD", 103.5);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 1);

  /* 0.9 % is within the threshold but not within 80 % of it: still flagged. */
  push (fx, "binance", "USD", 100.9);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 1);
  /* 0.5 %: agreement clears the flag. */
  push (fx, "binance", "USD", 100.5);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":false"), ==, 1);
  g_assert_cmpuint (th_hub_get_divergences (fx->hub), ==, 1);

  /* And a second excursion is flagged again. */
  push (fx, "binance", "USD", 98);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":true"), ==, 2);
  g_assert_cmpuint (th_hub_get_divergences (fx->hub), ==, 2);
}

static void
test_skip (Fixture       *fx,
           gconstpointer  data)
{
  g_autofree char *source = NULL;

  three_agree (fx);
  push (fx, "binance", "USD", 103);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":true"), ==, 1);
  /* The outlier is passed over for the next fresh source that agrees. */
  g_assert_cmpuint (count (fx, "price_source_changed",
                           "\"from\":\"binance\",\"to\":\"coinbase\",\"reason\":\"divergence\""), ==, 1);
  source = price_source (fx);
  g_assert_cmpstr (source, ==, "coinbase");
  g_clear_pointer (&source, g_free);
  /* Its prices are not served meanwhile. */
  push (fx, "binance", "USD", 104);
  g_assert_cmpuint (count (fx, "financial_data_update", "\"price\":104"), ==, 0);
  push (fx, "coinbase", "USD", 100.2);
  g_assert_cmpuint (count (fx, "financial_data_update", "\"price\":100.2"), ==, 1);

  /* Back in line: it takes over again, saying why. */
  push (fx, "binance", "USD", 100.3);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":false"), ==, 1);
  g_assert_cmpuint (count (fx, "price_source_changed",
                           "\"from\":\"coinbase\",\"to\":\"binance\",\"reason\":\"agreement\""), ==, 1);
  source = price_source (fx);
  g_assert_cmpstr (source, ==, "binance");
}

/* Two sources cannot say which one is wrong: flagged, not skipped. */
static void
test_no_majority (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *source = NULL;

  push (fx, "coinbase", "USD", 100);
  push (fx, "binance", "USD", 103);
  g_assert_cmpuint (count (fx, "price_divergence", "\"diverged\":true"), ==, 1);
  g_assert_cmpuint (count (fx, "price_source_changed", "\"reason\""), ==, 0);
  source = price_source (fx);
  g_assert_cmpstr (source, ==, "binance");
}

/* A single fresh source is never flagged; nor one in another quote. */
static void
test_alone (Fixture       *fx,
            gconstpointer  data)
{
  push (fx, "binance", "USD", 100);
  push (fx, "binance", "USD", 200);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 0);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "financial_data_update"),
                            "\"sources\":1,\"spread_bps\":0"));

  /* Coinbase's price is old by the time Binance's moves: not compared. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 11 * G_USEC_PER_SEC);
  push (fx, "coinbase", "USD", 100);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 11 * G_USEC_PER_SEC);
  push (fx, "binance", "USD", 150);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 0);

  /* USDT is not USD. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 11 * G_USEC_PER_SEC);
  push (fx, "coinbase", "USD", 100);
  push (fx, "coincap", "USD", 100);
  push (fx, "binance", "USDT", 150);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 0);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "financial_data_update"),
                            "\"quote\":\"USDT\",\"sources\":1,"));
}

/* Off (the default): no comparison, and the price object is as before. */
static void
test_off (Fixture       *fx,
          gconstpointer  data)
{
  three_agree (fx);
  push (fx, "binance", "USD", 150);
  g_assert_cmpuint (count (fx, "price_divergence", NULL), ==, 0);
  g_assert_null (strstr (th_test_last_event_json (fx->events, "financial_data_update"), "sources"));
}

/* An alert rule on it: fires when the first fresh source is flagged,
 * re-arms when it agrees, says which source and how far. */
static void
test_alert (Fixture       *fx,
            gconstpointer  data)
{
  three_agree (fx);
  push (fx, "binance", "USD", 103);
  g_assert_cmpuint (count (fx, "price_alert", "\"id\":\"btc-div\""), ==, 1);
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "price_alert"), "\"price\":103,"));
  g_assert_nonnull (strstr (th_test_last_event_json (fx->events, "price_alert"), "\"source\":\"binance\""));
  push (fx, "binance", "USD", 104);
  g_assert_cmpuint (count (fx, "price_alert", NULL), ==, 1);
  push (fx, "binance", "USD", 100.1);
  push (fx, "binance", "USD", 96);
  g_assert_cmpuint (count (fx, "price_alert", "\"id\":\"btc-div\""), ==, 2);
}

static void
test_config (void)
{
  static const struct { const char *key, *value, *needle; } bad[] = {
    { "divergence", "abc", "[prices] divergence: “abc” is not a threshold" },
    { "divergence", "200%", "more than 100%" },
    { "divergence", "-1%", "is not a threshold" },
    { "divergence", "5 apples", "is not a threshold" },
    { "divergence=1%\ndivergence-action", "maybe", "[prices] divergence-action: “maybe” is not an action" },
    { "divergence-action", "skip", "[prices] divergence-action: has no effect without [prices] divergence" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=sma\nsymbols=BTC\n[prices]\n%s=%s\n",
                                               bad[i].key, bad[i].value);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      g_assert_nonnull (error);
      if (strstr (error->message, bad[i].needle) == NULL)
        g_error ("“%s=%s”: %s does not say %s", bad[i].key, bad[i].value, error->message, bad[i].needle);
    }
  for (const char *const *ok = (const char *const[]) { "1%", "0.5 %", "50bps", "0", "off", NULL }; *ok != NULL; ok++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=sma\nsymbols=BTC\n[prices]\ndivergence=%s\n", *ok);
      g_autoptr(GError) error = NULL;
      g_autoptr(ThHub) hub = th_test_hub_try_new (text, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (hub);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, config, func) \
  g_test_add (path, Fixture, config, fixture_setup, func, fixture_teardown)
  ADD ("/divergence/flag", CONFIG ("flag"), test_flag);
  ADD ("/divergence/skip", CONFIG ("skip"), test_skip);
  ADD ("/divergence/no-majority", CONFIG ("skip"), test_no_majority);
  ADD ("/divergence/alone", CONFIG ("skip"), test_alone);
  ADD ("/divergence/alert",
       "[tickhub]\nplugins=sma;alerts\nsymbols=BTC;ETH\ntimeframes=1m\n"
       "[prices]\norder=binance;coinbase;coincap\ndivergence=1%\n"
       "[binance]\nttl=10\n[coinbase]\nttl=10\n[coincap]\nttl=10\n"
       "[alerts]\nbtc-div=BTC diverges cooldown=0\n", test_alert);
  ADD ("/divergence/off",
       "[tickhub]\nplugins=sma\nsymbols=BTC\ntimeframes=1m\n[prices]\norder=binance;coinbase;coincap\n", test_off);
#undef ADD
  g_test_add_func ("/divergence/config", test_config);

  return g_test_run ();
}
