/* test-atr.c: the atr indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

#define MINUTE (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)

static double
feed (ThIndicator *ind,
      double       high,
      double       low,
      double       close,
      gboolean     commit)
{
  static gint64 start = 0;
  ThCandle c = { .start = start, .duration = MINUTE, .open = close, .high = high,
                 .low = low, .close = close, .volume = 1, .ticks = 1, .closed = commit };
  double v;

  if (commit)
    start += MINUTE;
  th_test_indicator_update (ind, &c, commit, &v, 1);
  return v;
}

/* TA-Lib's true range, written out again here. */
static double
true_range (double high,
            double low,
            double prev_close)
{
  return MAX (high - low, MAX (fabs (high - prev_close), fabs (low - prev_close)));
}

static void
test_outputs (void)
{
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "14", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (atr);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
}

/* StockCharts ChartSchool, "Average True Range (ATR)", its spreadsheet of
 * QQQ from 1 April to 13 May 2010 (school.stockcharts.com, technical
 * indicators, average_true_range_atr), as shipped in the Python `ta`
 * library's test/data/cs-atr.csv (github.com/bukosabino/ta). Columns:
 * high, low, close and the published ATR(14) to 10 significant digits
 * (NaN where the sheet has none).
 *
 * ChartSchool takes the first day's TR as high − low and its first ATR as
 * the mean of days 1 to 14; TA-Lib needs a previous close, so its first TR
 * is on day 2. A candle before day 1 whose close lies inside day 1's range
 * makes TA-Lib's TR of day 1 equal to high − low, and the two sequences the
 * same: that is what the test feeds. */
static const struct { double high, low, close, atr; } qqq[] = {
  { 48.70, 47.79, 48.16, NAN }, { 48.72, 48.14, 48.61, NAN },
  { 48.90, 48.39, 48.75, NAN }, { 48.87, 48.37, 48.63, NAN },
  { 48.82, 48.24, 48.74, NAN }, { 49.05, 48.635, 49.03, NAN },
  { 49.20, 48.94, 49.07, NAN }, { 49.35, 48.86, 49.32, NAN },
  { 49.92, 49.50, 49.91, NAN }, { 50.19, 49.87, 50.13, NAN },
  { 50.12, 49.20, 49.53, NAN }, { 49.66, 48.90, 49.50, NAN },
  { 49.88, 49.43, 49.75, NAN }, { 50.19, 49.725, 50.03, 0.555 },
  { 50.36, 49.26, 50.31, 0.5939285714 }, { 50.57, 50.09, 50.52, 0.5857908163 },
  { 50.65, 50.30, 50.41, 0.5689486152 }, { 50.43, 49.21, 49.34, 0.6154522855 },
  { 49.63, 48.98, 49.37, 0.6179199794 }, { 50.33, 49.61, 50.23, 0.6423542666 },
  { 50.29, 49.20, 49.2375, 0.6743289618 }, { 50.17, 49.43, 49.93, 0.6927697503 },
  { 49.32, 48.08, 48.43, 0.7754290538 }, { 48.50, 47.64, 48.18, 0.7814698357 },
  { 48.3201, 41.55, 46.57, 1.209229133 }, { 46.80, 44.2833, 45.41, 1.302619909 },
  { 47.80, 47.31, 47.77, 1.380289916 }, { 48.39, 47.20, 47.72, 1.366697779 },
  { 48.66, 47.90, 48.62, 1.336219366 }, { 48.79, 47.7301, 47.85, 1.316482269 },
};

/* Half a unit in the 10th significant digit. */
static double
half_last_digit (double published)
{
  return 0.5 * pow (10, floor (log10 (fabs (published))) - 9);
}

static void
test_reference (void)
{
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "14", NULL);
  double mine = NAN;

  /* The candle before day 1: its close is day 1's low. */
  g_assert_true (isnan (feed (atr, qqq[0].low, qqq[0].low, qqq[0].low, TRUE)));

  for (guint i = 0; i < G_N_ELEMENTS (qqq); i++)
    {
      double tr = i == 0 ? qqq[0].high - qqq[0].low
                         : true_range (qqq[i].high, qqq[i].low, qqq[i - 1].close);
      double v = feed (atr, qqq[i].high, qqq[i].low, qqq[i].close, TRUE);

      /* Our own recomputation first, to check the published figures. */
      if (i < 13)
        mine = i == 0 ? tr : mine + tr;
      else if (i == 13)
        mine = (mine + tr) / 14;
      else
        mine = (mine * 13 + tr) / 14;

      if (isnan (qqq[i].atr))
        {
          g_assert_true (isnan (v));
          continue;
        }
      g_assert_cmpfloat_with_epsilon (mine, qqq[i].atr, half_last_digit (qqq[i].atr));
      g_assert_cmpfloat_with_epsilon (v, mine, 1e-12);
      g_assert_cmpfloat_with_epsilon (v, qqq[i].atr, half_last_digit (qqq[i].atr));
    }
}

/* TA-Lib's lookback: no value for the first N candles (N true ranges need
 * N + 1 candles), then the mean of TR 2..N+1. */
static void
test_warm_up (void)
{
  const guint periods[] = { 1, 2, 3, 14, 50 };

  for (guint p = 0; p < G_N_ELEMENTS (periods); p++)
    {
      g_autofree char *text = g_strdup_printf ("%u", periods[p]);
      g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", text, NULL);
      double prev_close = 100, sum = 0;

      for (guint i = 0; i <= periods[p] + 3; i++)
        {
          double close = 100 + (i % 3) - (i % 5) * 0.5;
          double high = close + 1 + (i % 2), low = close - 0.5;
          double provisional = feed (atr, high + 7, low, close, FALSE);
          double v;

          /* A provisional value exists exactly when a closed one would. */
          g_assert_true (isnan (provisional) == (i < periods[p]));
          v = feed (atr, high, low, close, TRUE);
          if (i < periods[p])
            g_assert_true (isnan (v));
          else
            g_assert_false (isnan (v));
          if (i >= 1 && i <= periods[p])
            sum += true_range (high, low, prev_close);
          if (i == periods[p])
            g_assert_cmpfloat_with_epsilon (v, sum / periods[p], 1e-12);
          prev_close = close;
        }
    }
}

static void
test_flat_is_zero (void)
{
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "14", NULL);

  for (guint i = 0; i < 1000; i++)
    {
      double v = feed (atr, 42000.5, 42000.5, 42000.5, TRUE);

      if (i >= 14)
        g_assert_cmpfloat (v, ==, 0);
    }
}

/* Identical candles without gaps: every TR is the range, and so is ATR. */
static void
test_constant_range (void)
{
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "5", NULL);

  for (guint i = 0; i < 100; i++)
    {
      double v = feed (atr, 101, 99, 100, TRUE);

      if (i >= 5)
        g_assert_cmpfloat_with_epsilon (v, 2, 1e-12);
    }
}

/* A gap: the previous close counts, not only the candle's own range. */
static void
test_gap (void)
{
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "1", NULL);

  feed (atr, 10, 9, 10, TRUE);
  g_assert_cmpfloat (feed (atr, 14, 13, 13.5, TRUE), ==, 4);     /* gap up: high − previous close */
  g_assert_cmpfloat (feed (atr, 8, 7.5, 8, TRUE), ==, 6);        /* gap down: previous close − low */
  g_assert_cmpfloat (feed (atr, 8.5, 7, 8, TRUE), ==, 1.5);      /* inside: high − low */
}

static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("atr", "7", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("atr", "7", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  double close = 100;

  for (guint i = 0; i < 5000; i++)
    {
      double c = close * exp (g_rand_double_range (rand, -0.01, 0.01));
      double high = MAX (c, close) * (1 + g_rand_double_range (rand, 0, 0.005));
      double low = MIN (c, close) * (1 - g_rand_double_range (rand, 0, 0.005));
      double committed, provisional, reference;

      /* Forming candles that never close, then the one that does. */
      for (guint k = g_rand_int_range (rand, 0, 4); k > 0; k--)
        feed (b, high * 1.1, low * 0.9, g_rand_double_range (rand, low, high), FALSE);
      provisional = feed (b, high, low, c, FALSE);
      committed = feed (b, high, low, c, TRUE);
      reference = feed (a, high, low, c, TRUE);

      th_test_assert_same (provisional, committed);
      th_test_assert_same (committed, reference);
      close = c;
    }
}

/* A million random candles (with gaps), checked now and then against
 * TA-Lib's loop run from the first candle. */
static void
test_long_random_series (void)
{
  const guint n = 1000000, period = 14;
  g_autoptr(ThIndicator) atr = th_test_indicator_new ("atr", "14", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree double *highs = g_new (double, n);
  g_autofree double *lows = g_new (double, n);
  g_autofree double *closes = g_new (double, n);
  double close = 40000;

  for (guint i = 0; i < n; i++)
    {
      double open = close * exp (g_rand_double_range (rand, -0.001, 0.001));
      double v;

      close = open * exp (g_rand_double_range (rand, -0.002, 0.002));
      highs[i] = MAX (open, close) * (1 + g_rand_double_range (rand, 0, 0.001));
      lows[i] = MIN (open, close) * (1 - g_rand_double_range (rand, 0, 0.001));
      closes[i] = close;
      v = feed (atr, highs[i], lows[i], closes[i], TRUE);

      if (i < period)
        g_assert_true (isnan (v));
      else if (i % 9973 == 0 || i == n - 1)
        {
          double expected = 0;

          for (guint j = 1; j <= period; j++)
            expected += true_range (highs[j], lows[j], closes[j - 1]);
          expected /= period;
          for (guint j = period + 1; j <= i; j++)
            expected = (expected * (period - 1) + true_range (highs[j], lows[j], closes[j - 1])) / period;
          g_assert_cmpfloat_with_epsilon (v / expected, 1.0, 1e-9);
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[][3] = {
    { "0", NULL }, { "x", NULL }, { "-3", NULL }, { "1.5", NULL }, { "10001", NULL },
    { "", NULL }, { "14", "3", NULL }, { NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) atr = th_test_indicator_newv ("atr", bad[i], &error);

      g_assert_null (atr);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      g_assert_nonnull (strstr (error->message, "write it like atr(14)"));
      if (i == 0)
        g_assert_cmpstr (error->message, ==,
                         "period “0” is not a whole number from 1 to 10000; write it like atr(14)");
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/atr/outputs", test_outputs);
  g_test_add_func ("/atr/reference-chartschool", test_reference);
  g_test_add_func ("/atr/warm-up", test_warm_up);
  g_test_add_func ("/atr/flat-is-zero", test_flat_is_zero);
  g_test_add_func ("/atr/constant-range", test_constant_range);
  g_test_add_func ("/atr/gap", test_gap);
  g_test_add_func ("/atr/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/atr/long-random-series", test_long_random_series);
  g_test_add_func ("/atr/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
