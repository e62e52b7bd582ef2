/* alerts.c: what alert rules cost the pipeline, and tick-to-alert latency
 *
 * A hub with the alerts plugin and five symbols on a manual clock (the
 * pipeline of bench/pipeline: price book, candles on three timeframes,
 * events), with 0, 10,000 and 100,000 runtime rules spread over the
 * symbols: above, below and crosses at thresholds from −20 % to +20 % of
 * the price, repeating, with the default cooldown (5 min; the run is 5 min
 * of exchange time, a tick a millisecond). Prints ticks/s for each (best
 * of three runs), the cost per tick relative to no rules, the alerts that
 * fired (a random walk of ±0.01 % a tick: about 1.5 % over the run, so
 * the rules near the price fire), then the latency from th_hub_push_tick() to ThAlerts::triggered
 * for a tick that crosses a rule's threshold, with 100,000 other rules.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib/gstdio.h>

#include "th-private.h"
#include "bench-hub.h"

#define T0       G_GINT64_CONSTANT (1704067200000000)
#define N_TICKS  300000

static const char *const symbols[] = { "BTC", "ETH", "SOL", "ADA", "XRP" };
static const double start_price[] = { 43000, 2300, 100, 0.5, 0.6 };

static guint64 n_alerts;
static gint64  triggered_at;

static GLogWriterOutput
quiet_writer (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
on_triggered (ThAlerts *alerts,
              GVariant *alert,
              gpointer  data)
{
  n_alerts++;
  triggered_at = g_get_monotonic_time ();
}

/* This thread's CPU time: the machine is shared, wall time is noise. */
static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ThHub *
hub_new (const char *dir,
         ThClock    *clock)
{
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=alerts\nsymbols=BTC;ETH;SOL;ADA;XRP\ntimeframes=1m;5m;1h\n"
    "[prices]\norder=binance\n[alerts]\nmax-rules=1000000\nstate-file=%s/alerts.json\n", dir);
  g_autofree char *state = g_build_filename (dir, "alerts.json", NULL);
  ThHub *hub;

  /* Each hub starts without the rules of the one before. */
  g_unlink (state);
  hub = bench_hub_new (text, clock);
  th_hub_start (hub);
  g_signal_connect (th_hub_get_alerts (hub), "triggered", G_CALLBACK (on_triggered), NULL);
  return hub;
}

/* Thresholds from −20 % to +20 % of the start price, or (@idle) only
 * from 5 % to 20 % away, where the walk never goes. */
static gboolean idle_rules;

static void
add_rules (ThHub *hub,
           guint  n,
           GRand *rand)
{
  ThAlerts *alerts = th_hub_get_alerts (hub);
  static const char *const ops[] = { "above", "below", "crosses" };

  for (guint i = 0; i < n; i++)
    {
      guint s = i % G_N_ELEMENTS (symbols);
      guint op = g_rand_int_range (rand, 0, 3);
      /* Idle: above rules above the price, below rules under it. */
      double away = g_rand_double_range (rand, 0.05, 0.2);
      double f = !idle_rules ? g_rand_double_range (rand, -0.2, 0.2)
               : op == 0 ? away : op == 1 ? -away : (g_rand_boolean (rand) ? away : -away);
      double x = start_price[s] * (1 + f);
      g_autofree char *cond = g_strdup_printf ("%s %.6g", ops[op], x);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) rule = th_alerts_add (alerts, symbols[s], cond, NULL, NULL, &error);

      g_assert_no_error (error);
    }
}

/* Drops the hub once its state file is written. */
static void
hub_free (ThHub *hub)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();

  /* Let the state file's writes finish (a thread; they hold the plugin). */
  for (guint i = 0; i < 100; i++)
    {
      while (g_main_context_pending (context))
        g_main_context_iteration (context, FALSE);
      g_usleep (G_USEC_PER_SEC / 20);
    }
  g_object_run_dispose (G_OBJECT (hub));
  g_object_unref (hub);
}

static guint n_runs = 3;

/* The measured loop, on its own for `valgrind --tool=callgrind
 * --toggle-collect=push_all`. */
static G_GNUC_NO_INLINE void
push_all (ThHub   *hub,
          ThTick **ticks)
{
  for (guint i = 0; i < N_TICKS; i++)
    th_hub_push_tick (hub, ticks[i]);
}

static double
bench_rules (const char *dir,
             guint       n_rules)
{
  double best = 0;

  for (guint run = 0; run < n_runs; run++)
    {
      g_autoptr(ThClock) clock = th_manual_clock_new (T0);
      ThHub *hub = hub_new (dir, clock);
      g_autoptr(GRand) rand = g_rand_new_with_seed (1);
      ThTick **ticks = g_new (ThTick *, N_TICKS);
      double price[G_N_ELEMENTS (symbols)];
      double t0, dt, rate;

      memcpy (price, start_price, sizeof price);
      add_rules (hub, n_rules, rand);
      for (guint i = 0; i < N_TICKS; i++)
        {
          guint s = i % G_N_ELEMENTS (symbols);

          price[s] *= exp (g_rand_double_range (rand, -0.0001, 0.0001));
          ticks[i] = th_tick_new (symbols[s], "binance", TH_TICK_KIND_TRADE, nearbyint (price[s] * 1e4) / 1e4,
                                  T0 + (gint64) i * 1000);
          ticks[i]->size = 0.01;
          ticks[i]->receive_time = T0 + (gint64) i * 1000;
        }
      n_alerts = 0;
      t0 = now_s ();
      push_all (hub, ticks);
      dt = now_s () - t0;
      rate = N_TICKS / dt;
      if (rate > best)
        best = rate;
      if (run == 0)
        printf ("  %7u rules: %8.0f ticks/s (%.2f µs a tick), %" G_GUINT64_FORMAT " alerts\n",
                n_rules, rate, dt * 1e6 / N_TICKS, n_alerts);
      for (guint i = 0; i < N_TICKS; i++)
        th_tick_unref (ticks[i]);
      g_free (ticks);
      hub_free (hub);
    }
  return best;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* Tick → alert: a tick that crosses one rule's threshold, among 100,000
 * rules that do not fire. */
static void
bench_latency (const char *dir)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  ThHub *hub = hub_new (dir, clock);
  g_autoptr(GRand) rand = g_rand_new_with_seed (2);
  g_autoptr(GArray) lat = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) rule = NULL;
  const guint n = 20000;

  add_rules (hub, 100000, rand);
  rule = th_alerts_add (th_hub_get_alerts (hub), "BTC", "crosses 43000.5 cooldown=0", NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < n; i++)
    {
      /* Up and down across 43,000.5, amid the other rules' thresholds
       * (which fire too when they lie in between). */
      g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, i % 2 ? 43001 : 43000,
                                            T0 + (gint64) i * 1000);
      gint64 t0;
      guint64 before = n_alerts;

      tick->size = 0.01;
      tick->receive_time = T0 + (gint64) i * 1000;
      t0 = g_get_monotonic_time ();
      th_hub_push_tick (hub, tick);
      if (i > 0 && n_alerts > before)
        {
          double us = (double) (triggered_at - t0);

          g_array_append_val (lat, us);
        }
    }
  g_array_sort (lat, compare_doubles);
  if (lat->len > 0)
    printf ("tick → alert (ThAlerts::triggered), 100,000 other rules, %u alerts: p50 %.1f µs, p99 %.1f µs, "
            "max %.1f µs\n", lat->len,
            g_array_index (lat, double, lat->len / 2),
            g_array_index (lat, double, (guint) (lat->len * 0.99)),
            g_array_index (lat, double, lat->len - 1));
  hub_free (hub);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = g_dir_make_tmp ("tickhub-bench-alerts-XXXXXX", NULL);
  g_autofree char *state = g_build_filename (dir, "alerts.json", NULL);
  double base, r10k, r100k;

  g_log_set_writer_func (quiet_writer, NULL, NULL);
  /* `alerts RULES idle|near`: one configuration, one run (for callgrind
   * or perf stat, which compare two such runs by their counts). */
  if (argc == 3)
    {
      if (!g_str_equal (argv[2], "idle") && !g_str_equal (argv[2], "near"))
        {
          fprintf (stderr, "usage: alerts [RULES idle|near] (not “%s”)\n", argv[2]);
          return 2;
        }
      n_runs = 1;
      idle_rules = g_str_equal (argv[2], "idle");
      printf ("%s, one run:\n", idle_rules ? "idle rules" : "rules near the price");
      bench_rules (dir, (guint) g_ascii_strtoull (argv[1], NULL, 10));
      g_unlink (state);
      g_rmdir (dir);
      return 0;
    }
  printf ("ticks through the hub (price book, candles 1m/5m/1h, events) with N alert rules, %u ticks, "
          "5 symbols, CPU time of the pushing thread, best of 3.\n", N_TICKS);
  for (guint pass = 0; pass < 2; pass++)
    {
      idle_rules = pass == 0;
      printf ("%s:\n", idle_rules ? "rules 5 to 20 % away from the price, on the side it is not (none fires)"
                                  : "rules within 20 % of the price (those the walk reaches or starts past fire)");
      base = bench_rules (dir, 0);
      r10k = bench_rules (dir, 10000);
      r100k = bench_rules (dir, 100000);
      printf ("  best: 0 rules %.0f ticks/s; 10,000 rules %.0f (%+.1f %%); 100,000 rules %.0f (%+.1f %%)\n",
              base, r10k, (r10k / base - 1) * 100, r100k, (r100k / base - 1) * 100);
    }
  idle_rules = FALSE;
  bench_latency (dir);

  g_unlink (state);
  g_rmdir (dir);
  return 0;
}
