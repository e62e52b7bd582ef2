/* test-rsi.c: the rsi indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

/* Wilder's RSI the textbook way, in long double: averages seeded with the
 * mean of the first N gains and losses, then (avg (N-1) + x) / N, and
 * RSI = 100 - 100 / (1 + RS). */
typedef struct
{
  guint       period;
  guint       closes;
  long double prev;
  long double gain;
  long double loss;
} RefRsi;

static double
ref_rsi_push (RefRsi *r,
              double  x)
{
  long double change = x - r->prev;
  long double gain = change > 0 ? change : 0;
  long double loss = change < 0 ? -change : 0;

  r->prev = x;
  if (++r->closes == 1)
    return NAN;
  if (r->closes <= r->period + 1)
    {
      r->gain += gain / r->period;
      r->loss += loss / r->period;
      if (r->closes <= r->period)
        return NAN;
    }
  else
    {
      r->gain = (r->gain * (r->period - 1) + gain) / r->period;
      r->loss = (r->loss * (r->period - 1) + loss) / r->period;
    }
  if (r->loss == 0)
    return r->gain == 0 ? 0 : 100;
  return (double) (100 - 100 / (1 + r->gain / r->loss));
}

static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) rsi = th_test_indicator_new ("rsi", "3", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (rsi);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
  /* The first value needs N changes, N + 1 closes: it is at index N. */
  g_assert_true (isnan (th_test_feed_close (rsi, 10, TRUE)));
  g_assert_true (isnan (th_test_feed_close (rsi, 11, TRUE)));   /* +1 */
  g_assert_true (isnan (th_test_feed_close (rsi, 10, TRUE)));   /* -1 */
  /* +2: gains 1, 0, 2 and losses 0, 1, 0 -> 100 * 1 / (1 + 1/3) = 75 */
  g_assert_cmpfloat_with_epsilon (th_test_feed_close (rsi, 12, TRUE), 75, 1e-12);
  /* -3: gain 2 / 3, loss (1/3 * 2 + 3) / 3 = 11 / 9 -> 100 * 6 / 17 */
  g_assert_cmpfloat_with_epsilon (th_test_feed_close (rsi, 9, TRUE), 600.0 / 17, 1e-12);
}

/* StockCharts ChartSchool, "Relative Strength Index (RSI)", the 14-day RSI
 * of QQQQ in its spreadsheet cs-rsi.xls, with the closes and the RSI column
 * to four decimals:
 * https://chartschool.stockcharts.com/table-of-contents/technical-indicators-and-overlays/technical-indicators/relative-strength-index-rsi
 * Every value agrees with exact recomputation within the rounding of the
 * table (0.00005). */
static void
test_reference_stockcharts (void)
{
  static const double closes[] = {
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826,
    45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
    46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
    43.4205, 42.6628, 43.1314,
  };
  static const double published[] = {
    70.5328, 66.3186, 66.5498, 69.4063, 66.3552, 57.9749, 62.9296, 63.2571, 56.0593, 62.3771,
    54.7076, 50.4228, 39.9898, 41.4605, 41.8689, 45.4632, 37.3040, 33.0795, 37.7730,
  };
  g_autoptr(ThIndicator) rsi = th_test_indicator_new ("rsi", "14", NULL);
  RefRsi ref = { .period = 14 };

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double v = th_test_feed_close (rsi, closes[i], TRUE);
      double r = ref_rsi_push (&ref, closes[i]);

      if (i < 14)
        {
          g_assert_true (isnan (v) && isnan (r));
          continue;
        }
      g_assert_cmpfloat_with_epsilon (v, published[i - 14], 0.00005 + 1e-9);
      g_assert_cmpfloat_with_epsilon (v, r, 1e-10);
    }
}

/* TA-Lib's own regression test (src/tools/ta_regtest/ta_test_func/test_rsi.c,
 * "RSI TEST", period 14, default compatibility) on the first 17 closes of
 * its reference series (src/tools/ta_regtest/test_data.c,
 * TA_SREF_close_daily_ref_0_PRIV): outputs 0, 1, 2 (bars 14, 15, 16) =
 * 49.14, 52.32, 46.07. TA-Lib checks these to 0.01 (its table truncates);
 * so do we. */
static void
test_reference_ta_lib (void)
{
  static const double closes[] = {
    91.500, 94.815, 94.375, 95.095, 93.780, 94.625, 92.530, 92.750, 90.315, 92.470,
    96.125, 97.250, 98.500, 89.875, 91.000, 92.815, 89.155,
  };
  static const double expected[] = { 49.14, 52.32, 46.07 };
  g_autoptr(ThIndicator) rsi = th_test_indicator_new ("rsi", "14", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double v = th_test_feed_close (rsi, closes[i], TRUE);

      g_assert_cmpint (isnan (v), ==, i < 14);
      if (i >= 14)
        g_assert_cmpfloat_with_epsilon (v, expected[i - 14], 0.01);
    }
}

static void
test_rising_falling_flat (void)
{
  g_autoptr(ThIndicator) up = th_test_indicator_new ("rsi", "14", NULL);
  g_autoptr(ThIndicator) down = th_test_indicator_new ("rsi", "14", NULL);
  g_autoptr(ThIndicator) flat = th_test_indicator_new ("rsi", "14", NULL);
  g_autoptr(ThIndicator) up_then_flat = th_test_indicator_new ("rsi", "14", NULL);

  for (guint i = 0; i < 1000; i++)
    {
      double u = th_test_feed_close (up, 100 + 0.37 * i, TRUE);
      double d = th_test_feed_close (down, 1000 - 0.37 * i, TRUE);
      double f = th_test_feed_close (flat, 42000.5, TRUE);
      double uf = th_test_feed_close (up_then_flat, i < 20 ? 100.0 + i : 119.0, TRUE);

      if (i < 14)
        {
          g_assert_true (isnan (u) && isnan (d) && isnan (f) && isnan (uf));
          continue;
        }
      g_assert_cmpfloat (u, ==, 100);   /* only gains */
      g_assert_cmpfloat (d, ==, 0);     /* only losses */
      g_assert_cmpfloat (f, ==, 0);     /* no gain, no loss: 0, as TA-Lib */
      /* no loss ever: 100 while the average gain fades away. (TA-Lib,
       * which takes any gain + loss below 1e-8 for 0, drops to 0 here
       * after some 250 flat closes; see th-rsi.c.) */
      g_assert_cmpfloat (uf, ==, 100);
    }
}

/* A million closes of a random walk, each RSI checked against Wilder's
 * recursion recomputed in the test in long double. */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  g_autoptr(ThIndicator) rsi = th_test_indicator_new ("rsi", "14", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (6);
  RefRsi ref = { .period = 14 };
  double price = 40000;

  for (guint i = 0; i < n; i++)
    {
      double v, r;

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      v = th_test_feed_close (rsi, price, TRUE);
      r = ref_rsi_push (&ref, price);
      if (i < 14)
        g_assert_true (isnan (v));
      else if (fabs (v / r - 1.0) > 1e-9)
        g_error ("close %u: rsi %.17g, recomputed %.17g", i, v, r);
    }
}

/* Provisional values: rsi A sees every close first as the forming candle
 * (several times, with other values too) and then committed; rsi B only
 * sees the committed closes. A's provisional value for a close is what B
 * gives when that close is committed, and the committed values of A and
 * B stay the same. */
static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("rsi", "5", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("rsi", "5", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  double price = 100;

  for (guint i = 0; i < 200; i++)
    {
      double p, q, c, x;

      price += g_rand_double_range (rand, -1, 1);
      q = th_test_feed_close (a, price + 3, FALSE);  /* a forming candle that moves on */
      p = th_test_feed_close (a, price, FALSE);
      c = th_test_feed_close (b, price, TRUE);
      x = th_test_feed_close (a, price, TRUE);
      g_assert_cmpint (isnan (p), ==, i < 5);
      g_assert_cmpint (isnan (q), ==, i < 5);
      g_assert_true (p == c || (isnan (p) && isnan (c)));
      g_assert_true (x == c || (isnan (x) && isnan (c)));
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = { "0", "x", "-3", "1.5", "10001", "", "14,2" };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) count_error = NULL;
  g_autoptr(ThIndicator) rsi = NULL;
  g_autoptr(ThIndicator) rsi2 = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(ThIndicator) ind = th_test_indicator_new ("rsi", bad[i], &e);

      g_assert_null (ind);
      g_assert_error (e, TH_ERROR, TH_ERROR_BAD_CONFIG);
    }

  rsi = th_test_indicator_new ("rsi", "0", &error);
  g_assert_cmpstr (error->message, ==,
                   "rsi period “0” is not a whole number from 1 to 10000; write it like rsi(14)");
  rsi2 = th_test_indicator_new ("rsi", "14,2", &count_error);
  g_assert_nonnull (strstr (count_error->message, "write it like rsi(14)"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rsi/warm-up", test_warm_up);
  g_test_add_func ("/rsi/reference-stockcharts", test_reference_stockcharts);
  g_test_add_func ("/rsi/reference-ta-lib", test_reference_ta_lib);
  g_test_add_func ("/rsi/rising-falling-flat", test_rising_falling_flat);
  g_test_add_func ("/rsi/long-random-series", test_long_random_series);
  g_test_add_func ("/rsi/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/rsi/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
