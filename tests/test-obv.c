/* test-obv.c: the obv indicator plugin, loaded through libpeas
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
      double       close,
      double       volume,
      gboolean     commit)
{
  ThCandle c = { .start = 0, .duration = MINUTE, .open = close, .high = close,
                 .low = close, .close = close, .volume = volume, .ticks = 1, .closed = commit };
  double v;

  th_test_indicator_update (ind, &c, commit, &v, 1);
  return v;
}

static void
test_outputs (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (obv);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
}

/* StockCharts ChartSchool, "On Balance Volume (OBV)", its spreadsheet of
 * 27 November to 26 December 2010 (school.stockcharts.com, technical
 * indicators, on_balance_volume_obv), as shipped in the Python `ta`
 * library's test/data/cs-obv.csv (github.com/bukosabino/ta). Columns:
 * close, volume and the published OBV; the first row has neither (NaN).
 *
 * The sheet starts OBV from 0 before its first row. TA-Lib starts from the
 * first bar's volume: given a volume of 0, the first row makes the two
 * agree, and so does treating it as a price-only candle here (skipped),
 * because the second row closes up and its volume is then the seed. */
static const struct { double close, volume, obv; } sheet[] = {
  { 53.26, NAN, NAN }, { 53.30, 8200, 8200 }, { 53.32, 8100, 16300 },
  { 53.72, 8300, 24600 }, { 54.19, 8900, 33500 }, { 53.92, 9200, 24300 },
  { 54.65, 13300, 37600 }, { 54.60, 10300, 27300 }, { 54.21, 9900, 17400 },
  { 54.53, 10100, 27500 }, { 53.79, 11300, 16200 }, { 53.66, 12600, 3600 },
  { 53.56, 10700, -7100 }, { 53.57, 11500, 4400 }, { 53.94, 23800, 28200 },
  { 53.27, 14600, 13600 }, { 53.60, 11700, 25300 }, { 53.65, 10400, 35700 },
  { 53.62, 9500, 26200 }, { 53.27, 13900, 12300 }, { 53.44, 10400, 22700 },
  { 53.28, 4200, 18500 }, { 53.14, 10900, 7600 }, { 53.31, 17600, 25200 },
  { 54.09, 17900, 43100 }, { 54.08, 15800, 27300 }, { 54.01, 10200, 17100 },
  { 54.17, 8700, 25800 }, { 54.24, 16000, 41800 }, { 54.45, 12500, 54300 },
};

static void
test_reference (void)
{
  g_autoptr(ThIndicator) zero_first = th_test_indicator_new ("obv", "", NULL);
  g_autoptr(ThIndicator) price_only_first = th_test_indicator_new ("obv", "", NULL);
  double mine = 0;

  for (guint i = 0; i < G_N_ELEMENTS (sheet); i++)
    {
      double a = feed (zero_first, sheet[i].close, i == 0 ? 0 : sheet[i].volume, TRUE);
      double b = feed (price_only_first, sheet[i].close, sheet[i].volume, TRUE);

      if (i == 0)
        {
          g_assert_cmpfloat (a, ==, 0);
          g_assert_true (isnan (b));
          continue;
        }

      /* Our own recomputation first, to check the published figures. */
      if (sheet[i].close > sheet[i - 1].close)
        mine += sheet[i].volume;
      else if (sheet[i].close < sheet[i - 1].close)
        mine -= sheet[i].volume;
      g_assert_cmpfloat (mine, ==, sheet[i].obv);

      g_assert_cmpfloat (a, ==, sheet[i].obv);
      g_assert_cmpfloat (b, ==, sheet[i].obv);
    }
}

/* TA-Lib's seed: the first candle's volume, whatever the direction. */
static void
test_seed (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);

  g_assert_cmpfloat (feed (obv, 10, 5, FALSE), ==, 5);
  g_assert_cmpfloat (feed (obv, 10, 5, TRUE), ==, 5);
  g_assert_cmpfloat (feed (obv, 9, 3, TRUE), ==, 2);
  g_assert_cmpfloat (feed (obv, 9, 7, TRUE), ==, 2);    /* unchanged close */
  g_assert_cmpfloat (feed (obv, 11, 1, TRUE), ==, 3);
}

static void
test_rising_closes (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  double sum = 0;

  for (guint i = 0; i < 1000; i++)
    {
      double volume = g_rand_int_range (rand, 0, 100000) / 16.0;   /* sums stay exact */

      sum += volume;
      g_assert_cmpfloat (feed (obv, 100 + i * 0.5, volume, TRUE), ==, sum);
    }
}

static void
test_equal_closes (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);

  feed (obv, 50, 10, TRUE);
  feed (obv, 51, 20, TRUE);
  for (guint i = 0; i < 100; i++)
    g_assert_cmpfloat (feed (obv, 51, 1000 + i, TRUE), ==, 30);
}

/* Price-only candles: null before any volume, then no change, and their
 * close is not the one the next candle is compared with. */
static void
test_price_only (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);

  g_assert_true (isnan (feed (obv, 30, NAN, FALSE)));
  g_assert_true (isnan (feed (obv, 30, NAN, TRUE)));
  g_assert_cmpfloat (feed (obv, 10, 5, TRUE), ==, 5);
  g_assert_cmpfloat (feed (obv, 20, NAN, FALSE), ==, 5);
  g_assert_cmpfloat (feed (obv, 20, NAN, TRUE), ==, 5);
  g_assert_cmpfloat (feed (obv, 15, 2, TRUE), ==, 7);       /* above 10, though below 20 */
  g_assert_cmpfloat (feed (obv, 1, INFINITY, TRUE), ==, 7);
  g_assert_cmpfloat (feed (obv, 14, 1, TRUE), ==, 6);
}

/* A value from the first candle with a volume on. */
static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);

  g_assert_true (isnan (feed (obv, 10, NAN, TRUE)));
  g_assert_cmpfloat (feed (obv, 10, 0, FALSE), ==, 0);
  g_assert_cmpfloat (feed (obv, 10, 2.5, TRUE), ==, 2.5);
}

/* One huge volume, then a million small ones: a plain running sum loses
 * every small one (each is below half an ulp of the total); the
 * compensated sum keeps them all, exactly. */
static void
test_compensated (void)
{
  const guint n = 1000000;
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);
  double naive = 1e17, v = NAN;

  feed (obv, 1, 1e17, TRUE);
  for (guint i = 1; i <= n; i++)
    {
      v = feed (obv, 1 + i * 0.25, 4, TRUE);
      naive += 4;
    }
  g_assert_cmpfloat (naive, !=, 1e17 + 4.0 * n);
  g_assert_cmpfloat (v, ==, 1e17 + 4.0 * n);    /* exactly representable */
}

static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("obv", "", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("obv", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  double close = 100;

  for (guint i = 0; i < 5000; i++)
    {
      double volume = g_rand_int_range (rand, 0, 20) == 0 ? NAN : g_rand_double_range (rand, 0, 50);
      double p, v, r;

      close = MAX (1, close + 0.5 * g_rand_int_range (rand, -2, 3));
      /* Forming candles that never close, then the one that does. */
      for (guint k = g_rand_int_range (rand, 0, 4); k > 0; k--)
        feed (b, close + g_rand_int_range (rand, -3, 4), g_rand_double_range (rand, 0, 1e6), FALSE);
      p = feed (b, close, volume, FALSE);
      v = feed (b, close, volume, TRUE);
      r = feed (a, close, volume, TRUE);
      th_test_assert_same (p, v);
      th_test_assert_same (v, r);
    }
}

/* A million candles, checked now and then against the total recomputed
 * from the first candle, in long double. */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  g_autoptr(ThIndicator) obv = th_test_indicator_new ("obv", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree double *closes = g_new (double, n);
  g_autofree double *volumes = g_new (double, n);
  double close = 1000;

  for (guint i = 0; i < n; i++)
    {
      double v;

      /* Rising more often than falling, with unchanged closes too. */
      close = MAX (1, close + 0.5 * g_rand_int_range (rand, -2, 4));
      closes[i] = close;
      volumes[i] = g_rand_int_range (rand, 0, 20) == 0 ? NAN : g_rand_double_range (rand, 0, 1000);
      v = feed (obv, closes[i], volumes[i], TRUE);

      if (i % 9973 == 0 || i == n - 1)
        {
          long double total = 0;
          double prev = NAN;
          gboolean started = FALSE;

          for (guint j = 0; j <= i; j++)
            {
              if (isnan (volumes[j]))
                continue;
              if (!started)
                total = volumes[j];
              else if (closes[j] > prev)
                total += volumes[j];
              else if (closes[j] < prev)
                total -= volumes[j];
              started = TRUE;
              prev = closes[j];
            }
          if (!started)
            g_assert_true (isnan (v));
          else
            g_assert_cmpfloat_with_epsilon (v / (double) total, 1.0, 1e-9);
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *one[] = { "1", NULL };
  const char *empty[] = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThIndicator) bad = th_test_indicator_newv ("obv", one, &error);
  g_autoptr(ThIndicator) no_parens = th_test_indicator_newv ("obv", NULL, NULL);
  g_autoptr(ThIndicator) parens = th_test_indicator_newv ("obv", empty, NULL);

  g_assert_null (bad);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_cmpstr (error->message, ==, "takes 0 arguments, not 1; write it like obv()");
  g_assert_nonnull (no_parens);
  g_assert_nonnull (parens);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/obv/outputs", test_outputs);
  g_test_add_func ("/obv/reference-chartschool", test_reference);
  g_test_add_func ("/obv/seed", test_seed);
  g_test_add_func ("/obv/rising-closes", test_rising_closes);
  g_test_add_func ("/obv/equal-closes", test_equal_closes);
  g_test_add_func ("/obv/price-only", test_price_only);
  g_test_add_func ("/obv/warm-up", test_warm_up);
  g_test_add_func ("/obv/compensated", test_compensated);
  g_test_add_func ("/obv/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/obv/long-random-series", test_long_random_series);
  g_test_add_func ("/obv/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
