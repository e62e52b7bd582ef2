/* test-bollinger.c: the bollinger indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

enum { MIDDLE, UPPER, LOWER, N_OUTPUTS };

/* The definition, O(N), two passes in long double: the mean of
 * closes[end-N+1 .. end], then the population standard deviation. */
static void
direct_bands (const double *closes,
              guint         end,
              guint         period,
              double       *mean,
              double       *sd)
{
  long double sum = 0, sumsq = 0, m;

  for (guint i = end + 1 - period; i <= end; i++)
    sum += closes[i];
  m = sum / period;
  for (guint i = end + 1 - period; i <= end; i++)
    sumsq += (closes[i] - m) * (closes[i] - m);
  *mean = (double) m;
  *sd = (double) sqrtl (sumsq / period);
}

static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "3,2", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (bb);
  double v[N_OUTPUTS];

  g_assert_cmpuint (g_strv_length (outputs), ==, 3);
  g_assert_cmpstr (outputs[MIDDLE], ==, "");
  g_assert_cmpstr (outputs[UPPER], ==, "_upper");
  g_assert_cmpstr (outputs[LOWER], ==, "_lower");

  /* null exactly until the N-th close (index N-1) */
  th_test_feed_close_outputs (bb, 1, TRUE, v, N_OUTPUTS);
  g_assert_true (isnan (v[MIDDLE]) && isnan (v[UPPER]) && isnan (v[LOWER]));
  th_test_feed_close_outputs (bb, 2, TRUE, v, N_OUTPUTS);
  g_assert_true (isnan (v[MIDDLE]) && isnan (v[UPPER]) && isnan (v[LOWER]));
  /* 1, 2, 3: mean 2, population variance (1 + 0 + 1) / 3 */
  th_test_feed_close_outputs (bb, 3, TRUE, v, N_OUTPUTS);
  g_assert_cmpfloat_with_epsilon (v[MIDDLE], 2, 1e-15);
  g_assert_cmpfloat_with_epsilon (v[UPPER], 2 + 2 * sqrt (2.0 / 3), 1e-14);
  g_assert_cmpfloat_with_epsilon (v[LOWER], 2 - 2 * sqrt (2.0 / 3), 1e-14);
  /* 2, 3, 7: mean 4, variance (4 + 1 + 9) / 3 */
  th_test_feed_close_outputs (bb, 7, TRUE, v, N_OUTPUTS);
  g_assert_cmpfloat_with_epsilon (v[MIDDLE], 4, 1e-14);
  g_assert_cmpfloat_with_epsilon (v[UPPER], 4 + 2 * sqrt (14.0 / 3), 1e-14);
  g_assert_cmpfloat_with_epsilon (v[LOWER], 4 - 2 * sqrt (14.0 / 3), 1e-14);
}

/* StockCharts ChartSchool, "Bollinger Bands", the (20,2) bands of SPY in
 * its spreadsheet cs-bbands.xls, with the closes to four decimals and the
 * middle band, standard deviation, upper and lower bands to (at most) six:
 * https://chartschool.stockcharts.com/table-of-contents/technical-indicators-and-overlays/technical-overlays/bollinger-bands
 * The middle band is exact; the other columns agree with exact
 * recomputation within their rounding (0.0000005). StockCharts uses the
 * population standard deviation; the sample one would be 2.6% wider. */
static void
test_reference_stockcharts (void)
{
  static const double closes[] = {
    86.1557, 89.0867, 88.7829, 90.3228, 89.0671, 91.1453, 89.4397, 89.1750, 86.9302, 87.6752,
    86.9596, 89.4299, 89.3221, 88.7241, 87.4497, 87.2634, 89.4985, 87.9006, 89.1260, 90.7043,
    92.9001, 92.9784, 91.8021, 92.6647, 92.6843, 92.3021, 92.7725, 92.5373, 92.9490, 93.2039,
    91.0669, 89.8318, 89.7435, 90.3994, 90.7387, 88.0177, 88.0867, 88.8439, 90.7781, 90.5416,
    91.3894, 90.6500,
  };
  static const double middle[] = {
    88.70794, 89.04516, 89.239745, 89.390705, 89.5078, 89.68866, 89.7465, 89.91314,
    90.081255, 90.382195, 90.65863, 90.863995, 90.88409, 90.90516, 90.988925, 91.153375,
    91.19109, 91.1205, 91.167665, 91.25027, 91.242135, 91.1666, 91.05018,
  };
  static const double sd[] = {
    1.291961, 1.452054, 1.686425, 1.771747, 1.902075, 2.019895, 2.076546, 2.176557,
    2.241921, 2.202359, 2.192185, 2.021805, 2.009411, 1.99508, 1.936044, 1.760127,
    1.682751, 1.779126, 1.70406, 1.642001, 1.645086, 1.601325, 1.549162,
  };
  static const double upper[] = {
    91.291862, 91.949268, 92.612595, 92.9342, 93.31195, 93.72845, 93.899592, 94.266255,
    94.565096, 94.786912, 95.043001, 94.907605, 94.902912, 94.89532, 94.861013, 94.673629,
    94.556593, 94.678752, 94.575786, 94.534271, 94.532306, 94.369251, 94.148503,
  };
  static const double lower[] = {
    86.124018, 86.141052, 85.866895, 85.84721, 85.70365, 85.64887, 85.593408, 85.560025,
    85.597414, 85.977478, 86.274259, 86.820385, 86.865268, 86.915, 87.116837, 87.633121,
    87.825587, 87.562248, 87.759544, 87.966269, 87.951964, 87.963949, 87.951857,
  };
  const double rounding = 0.0000005 + 1e-9;
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "20,2", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double v[N_OUTPUTS], m, s;

      th_test_feed_close_outputs (bb, closes[i], TRUE, v, N_OUTPUTS);
      if (i < 19)
        {
          g_assert_true (isnan (v[MIDDLE]) && isnan (v[UPPER]) && isnan (v[LOWER]));
          continue;
        }
      g_assert_cmpfloat_with_epsilon (v[MIDDLE], middle[i - 19], 1e-9);
      g_assert_cmpfloat_with_epsilon ((v[UPPER] - v[LOWER]) / 4, sd[i - 19], rounding);
      g_assert_cmpfloat_with_epsilon (v[UPPER], upper[i - 19], rounding);
      g_assert_cmpfloat_with_epsilon (v[LOWER], lower[i - 19], rounding);

      direct_bands (closes, i, 20, &m, &s);
      g_assert_cmpfloat_with_epsilon (v[MIDDLE], m, 1e-12);
      g_assert_cmpfloat_with_epsilon (v[UPPER], m + 2 * s, 1e-12);
      g_assert_cmpfloat_with_epsilon (v[LOWER], m - 2 * s, 1e-12);
    }
}

/* TA-Lib's own regression test (src/tools/ta_regtest/ta_test_func/test_bbands.c,
 * "BBANDS - CLASSIC - SMA", 20, 2.0, 2.0) on the first 20 closes of its
 * reference series (src/tools/ta_regtest/test_data.c,
 * TA_SREF_close_daily_ref_0_PRIV): output 0 (bar 19) is upper 98.0734,
 * middle 92.8910, lower 87.7086. Checked to one unit of the last digit. */
static void
test_reference_ta_lib (void)
{
  static const double closes[] = {
    91.500, 94.815, 94.375, 95.095, 93.780, 94.625, 92.530, 92.750, 90.315, 92.470,
    96.125, 97.250, 98.500, 89.875, 91.000, 92.815, 89.155, 89.345, 91.625, 89.875,
  };
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "20,2", NULL);
  double v[N_OUTPUTS];

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      th_test_feed_close_outputs (bb, closes[i], TRUE, v, N_OUTPUTS);
      g_assert_cmpint (isnan (v[MIDDLE]), ==, i < 19);
    }
  g_assert_cmpfloat_with_epsilon (v[UPPER], 98.0734, 0.0001);
  g_assert_cmpfloat_with_epsilon (v[MIDDLE], 92.8910, 0.0001);
  g_assert_cmpfloat_with_epsilon (v[LOWER], 87.7086, 0.0001);
}

/* The width of a constant series is exactly 0, and the middle band is
 * exactly the constant, whatever the constant and however long it runs. */
static void
test_constant (void)
{
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "20,2", NULL);
  g_autoptr(ThIndicator) tenth = th_test_indicator_new ("bollinger", "20,2", NULL);
  g_autoptr(ThIndicator) settles = th_test_indicator_new ("bollinger", "20,2", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (10);

  for (guint i = 0; i < 100000; i++)
    {
      double v[N_OUTPUTS], w[N_OUTPUTS], s[N_OUTPUTS];

      th_test_feed_close_outputs (bb, 42000.5, TRUE, v, N_OUTPUTS);
      th_test_feed_close_outputs (tenth, 0.1, TRUE, w, N_OUTPUTS);
      /* moves for a while, then stays at 0.3 */
      th_test_feed_close_outputs (settles, i < 1013 ? g_rand_double_range (rand, 0, 1) : 0.3, TRUE, s, N_OUTPUTS);
      if (i < 19)
        continue;
      for (guint k = 0; k < N_OUTPUTS; k++)
        {
          g_assert_cmpfloat (v[k], ==, 42000.5);
          g_assert_cmpfloat (w[k], ==, 0.1);
          if (i >= 1013 + 19)
            g_assert_cmpfloat (s[k], ==, 0.3);
        }
    }
}

/* A stablecoin: a price of 1 that moves in its 8th digit. The textbook
 * sum(x^2)/N - mean^2 loses about all of its digits here; the bands must
 * still agree with the two-pass definition. */
static void
test_small_variance (void)
{
  const guint n = 10000;
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "20,2", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  g_autofree double *xs = g_new (double, n);

  for (guint i = 0; i < n; i++)
    {
      double v[N_OUTPUTS], m, s;

      xs[i] = 1.0 + g_rand_double_range (rand, -1e-7, 1e-7);
      th_test_feed_close_outputs (bb, xs[i], TRUE, v, N_OUTPUTS);
      if (i < 19)
        continue;
      direct_bands (xs, i, 20, &m, &s);
      /* The bands are about 1e-7 from the middle; the textbook formula
       * would put them some 1e-9 off, we must be within a few ulps. */
      g_assert_cmpfloat_with_epsilon (v[MIDDLE], m, 1e-15);
      g_assert_cmpfloat_with_epsilon (v[UPPER], m + 2 * s, 1e-15);
      g_assert_cmpfloat_with_epsilon (v[LOWER], m - 2 * s, 1e-15);
    }
}

/* A million closes of a random walk, checked now and then (and at the
 * end) against the definition recomputed from the closes: the middle band
 * and the bands to 1e-9 relative, the standard deviation itself too. */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  const guint period = 20;
  g_autoptr(ThIndicator) bb = th_test_indicator_new ("bollinger", "20,2", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);
  g_autofree double *xs = g_new (double, n);
  double price = 40000;

  for (guint i = 0; i < n; i++)
    {
      double v[N_OUTPUTS];

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      xs[i] = price;
      th_test_feed_close_outputs (bb, price, TRUE, v, N_OUTPUTS);
      if (i < period - 1)
        g_assert_true (isnan (v[MIDDLE]));
      else if (i % 997 == 0 || i == n - 1)
        {
          double m, s;

          direct_bands (xs, i, period, &m, &s);
          if (fabs (v[MIDDLE] / m - 1) > 1e-9 ||
              fabs (v[UPPER] / (m + 2 * s) - 1) > 1e-9 ||
              fabs (v[LOWER] / (m - 2 * s) - 1) > 1e-9 ||
              fabs ((v[UPPER] - v[LOWER]) / (4 * s) - 1) > 1e-9)
            g_error ("close %u: bands %.17g %.17g %.17g, recomputed mean %.17g sd %.17g",
                     i, v[LOWER], v[MIDDLE], v[UPPER], m, s);
        }
    }
}

/* Provisional values: bollinger A sees every close first as the forming
 * candle (several times, with other values too) and then committed;
 * bollinger B only sees the committed closes. A's provisional values for a
 * close are what B gives when that close is committed, and the committed
 * values of A and B stay the same. Some closes repeat, to go through the
 * equal-closes path too. */
static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("bollinger", "5,2.5", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("bollinger", "5,2.5", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  double price = 100;

  for (guint i = 0; i < 300; i++)
    {
      double p[N_OUTPUTS], q[N_OUTPUTS], c[N_OUTPUTS], x[N_OUTPUTS];

      if (i % 50 < 40)
        price += g_rand_double_range (rand, -1, 1);
      th_test_feed_close_outputs (a, price + 3, FALSE, q, N_OUTPUTS);  /* a forming candle that moves on */
      th_test_feed_close_outputs (a, price, FALSE, p, N_OUTPUTS);
      th_test_feed_close_outputs (b, price, TRUE, c, N_OUTPUTS);
      th_test_feed_close_outputs (a, price, TRUE, x, N_OUTPUTS);
      for (guint k = 0; k < N_OUTPUTS; k++)
        {
          g_assert_cmpint (isnan (p[k]), ==, i < 4);
          g_assert_cmpint (isnan (q[k]), ==, i < 4);
          g_assert_true (th_test_same (p[k], c[k]));
          g_assert_true (th_test_same (x[k], c[k]));
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = {
    "20,-1", "20,0", "20,10.5", "20,x", "20,2x", "0,2", "x,2", "20.5,2", "10001,2",
    "20", "20,2,1", "",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThIndicator) bb = NULL;
  g_autoptr(ThIndicator) ok = th_test_indicator_new ("bollinger", "20,0.5", NULL);

  g_assert_nonnull (ok);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(ThIndicator) ind = th_test_indicator_new ("bollinger", bad[i], &e);

      g_assert_null (ind);
      g_assert_error (e, TH_ERROR, TH_ERROR_BAD_CONFIG);
    }

  bb = th_test_indicator_new ("bollinger", "20,-1", &error);
  g_assert_cmpstr (error->message, ==,
                   "bollinger multiplier “-1” is not a number from 0.01 to 10; write it like bollinger(20,2)");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/bollinger/warm-up", test_warm_up);
  g_test_add_func ("/bollinger/reference-stockcharts", test_reference_stockcharts);
  g_test_add_func ("/bollinger/reference-ta-lib", test_reference_ta_lib);
  g_test_add_func ("/bollinger/constant", test_constant);
  g_test_add_func ("/bollinger/small-variance", test_small_variance);
  g_test_add_func ("/bollinger/long-random-series", test_long_random_series);
  g_test_add_func ("/bollinger/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/bollinger/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
