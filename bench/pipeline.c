/* pipeline.c: the hub's hot path, tick in → events out
 *
 * Pushes ticks for a few symbols through a loaded hub (price book, candle
 * series for three timeframes, sma indicators on closed candles, event
 * serialization) with a manual clock, and prints ticks per second and the
 * cost per tick; then the same with the event writer alone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include "th-private.h"

#define T0 G_GINT64_CONSTANT (1704067200000000)

static guint64 n_events;
static guint64 n_bytes;

static void
on_event (ThHub   *hub,
          ThEvent *event,
          gpointer data)
{
  n_events++;
  n_bytes += g_bytes_get_size (th_event_get_bytes (event));
}

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* @n_sources: the ticks of each symbol come from that many sources in
 * turn (binance, coinbase, coincap), at the same prices. */
static void
bench_hub (const char *label,
           const char *indicators,
           const char *prices_extra,
           guint       n_sources,
           guint       n_ticks)
{
  static const char *const sources[] = { "binance", "coinbase", "coincap" };
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=sma\nsymbols=BTC;ETH;SOL;ADA;XRP\ntimeframes=1m;5m;1h\n"
    "[prices]\norder=binance;coinbase;coincap\n%s\n[indicators]\n%s\n", prices_extra, indicators);
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  const char *symbols[] = { "BTC", "ETH", "SOL", "ADA", "XRP" };
  double *prices = g_new (double, n_ticks);
  double price[G_N_ELEMENTS (symbols)] = { 43000, 2300, 100, 0.5, 0.6 };
  double t0, dt;

  th_config_load_from_data (config, text, -1, &error);
  g_assert_no_error (error);
  hub = th_hub_new (config, clock);
  if (!th_hub_load (hub, &error))
    g_error ("%s", error->message);
  g_signal_connect (hub, "event", G_CALLBACK (on_event), NULL);
  th_hub_start (hub);

  /* Prices prepared up front: the feed's parsing is measured elsewhere
   * (bench/ingest). Each tick is made, pushed and released in the loop,
   * as a feed does. One tick every 10 ms of exchange time: a candle
   * closes every 6000. */
  for (guint i = 0; i < n_ticks; i++)
    {
      guint s = i % G_N_ELEMENTS (symbols);

      price[s] *= exp (g_rand_double_range (rand, -0.001, 0.001));
      /* Exchanges quote in ticks of 0.01 (or finer for cheap coins). */
      prices[i] = nearbyint (price[s] * 1e4) / 1e4;
    }

  n_events = n_bytes = 0;
  t0 = now_s ();
  for (guint i = 0; i < n_ticks; i++)
    {
      ThTick *tick = th_tick_new (symbols[i % G_N_ELEMENTS (symbols)],
                                  sources[(i / G_N_ELEMENTS (symbols)) % n_sources],
                                  i % 4 == 0 ? TH_TICK_KIND_QUOTE : TH_TICK_KIND_TRADE,
                                  prices[i], T0 + (gint64) i * 10000);

      tick->size = 0.01;
      tick->receive_time = T0 + (gint64) i * 10000;
      th_hub_push_tick (hub, tick);
      th_tick_unref (tick);
    }
  dt = now_s () - t0;

  printf ("%-34s %9.0f ticks/s  %7.1f ns/tick  %6.2f events/tick  %5.0f B/event\n",
          label, n_ticks / dt, dt * 1e9 / n_ticks, (double) n_events / n_ticks,
          n_events > 0 ? (double) n_bytes / n_events : 0.0);

  g_free (prices);
}

static void
bench_writer (const char *label,
              guint       n,
              gboolean    arbitrary)
{
  GString *out = g_string_sized_new (256);
  g_autoptr(GRand) rand = g_rand_new_with_seed (2);
  double *values = g_new (double, 1024);
  double t0, dt;

  for (guint i = 0; i < 1024; i++)
    values[i] = arbitrary ? g_rand_double_range (rand, 1, 100000)
                          : nearbyint (g_rand_double_range (rand, 1, 100000) * 100) / 100;

  t0 = now_s ();
  for (guint i = 0; i < n; i++)
    {
      g_string_truncate (out, 0);
      _th_json_append_double (out, values[i & 1023]);
    }
  dt = now_s () - t0;
  printf ("%-34s %9.0f /s      %7.1f ns each\n", label, n / dt, dt * 1e9 / n);

  t0 = now_s ();
  for (guint i = 0; i < n; i++)
    {
      g_string_truncate (out, 0);
      _th_json_append_time (out, T0 + (gint64) i * 1000);
    }
  dt = now_s () - t0;
  if (!arbitrary)
    printf ("%-34s %9.0f /s      %7.1f ns each\n", "json: ISO 8601 timestamp", n / dt, dt * 1e9 / n);
  g_string_free (out, TRUE);
  g_free (values);
}

int
main (int   argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 1000000;

  printf ("tickhub pipeline benchmark: %u ticks, 5 symbols, timeframes 1m;5m;1h\n", n);
  bench_hub ("hub, no indicators", "", "", 1, n);
  bench_hub ("hub, sma(20) + sma(50)", "sma_20=sma(20)\nsma_50=sma(50)", "", 1, n);
  /* [prices] divergence: the same 3 sources with and without it. */
  bench_hub ("hub, 3 sources", "", "", 3, n);
  bench_hub ("hub, 3 sources, divergence=1%", "", "divergence=1%", 3, n);
  /* `pipeline N hub`: the hub only (for a profile of it). */
  if (argc > 2 && g_str_equal (argv[2], "hub"))
    return 0;
  bench_writer ("json: price with 2 decimals", n, FALSE);
  bench_writer ("json: arbitrary double (17 digits)", n, TRUE);
  return 0;
}
