/* test-wma.c: the wma indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

/* The definition, O(N): closes[end-N+1 .. end] weighted 1 .. N. */
static double
direct_wma (const double *closes,
            guint         end,
            guint         period)
{
  long double sum = 0;

  for (guint k = 0; k < period; k++)
    sum += (long double) (k + 1) * closes[end + 1 - period + k];
  return (double) (sum / ((long double) period * (period + 1) / 2));
}

static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) wma = th_test_indicator_new ("wma", "3", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (wma);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
  /* null exactly until the N-th close (index N-1) */
  g_assert_true (isnan (th_test_feed_close (wma, 1, TRUE)));
  g_assert_true (isnan (th_test_feed_close (wma, 2, TRUE)));
  g_assert_cmpfloat_with_epsilon (th_test_feed_close (wma, 3, TRUE), (1 * 1 + 2 * 2 + 3 * 3) / 6.0, 1e-15);
  g_assert_cmpfloat_with_epsilon (th_test_feed_close (wma, 4, TRUE), (1 * 2 + 2 * 3 + 3 * 4) / 6.0, 1e-15);
  g_assert_cmpfloat_with_epsilon (th_test_feed_close (wma, 0, TRUE), (1 * 3 + 2 * 4 + 3 * 0) / 6.0, 1e-15);
}

static void
test_period_one_is_the_close (void)
{
  g_autoptr(ThIndicator) wma = th_test_indicator_new ("wma", "1", NULL);

  g_assert_cmpfloat (th_test_feed_close (wma, 5, TRUE), ==, 5);
  g_assert_cmpfloat (th_test_feed_close (wma, 7.25, TRUE), ==, 7.25);
  g_assert_cmpfloat (th_test_feed_close (wma, 7.25, FALSE), ==, 7.25);
}

/* TA-Lib's own regression test (src/tools/ta_regtest/ta_test_func/test_ma.c,
 * "WMA TEST - CLASSIC") on the first 32 closes of its reference series
 * (src/tools/ta_regtest/test_data.c, TA_SREF_close_daily_ref_0_PRIV):
 *   wma(30): outputs 0, 1, 2 (bars 29, 30, 31) = 88.567, 88.233, 88.034
 *   wma(2):  outputs 0, 1, 2 (bars 1, 2, 3)    = 93.71, 94.52, 94.85
 * TA-Lib's table truncates to the digits shown; we check each value to one
 * unit of its last digit, and exactly against the definition. */
static void
test_reference_ta_lib (void)
{
  static const double closes[] = {
    91.500, 94.815, 94.375, 95.095, 93.780, 94.625, 92.530, 92.750, 90.315, 92.470,
    96.125, 97.250, 98.500, 89.875, 91.000, 92.815, 89.155, 89.345, 91.625, 89.875,
    88.375, 87.625, 84.780, 83.000, 83.500, 81.375, 84.440, 89.250, 86.375, 86.250,
    85.250, 87.125,
  };
  static const double wma30[] = { 88.567, 88.233, 88.034 };
  static const double wma2[] = { 93.71, 94.52, 94.85 };
  g_autoptr(ThIndicator) w30 = th_test_indicator_new ("wma", "30", NULL);
  g_autoptr(ThIndicator) w2 = th_test_indicator_new ("wma", "2", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double v30 = th_test_feed_close (w30, closes[i], TRUE);
      double v2 = th_test_feed_close (w2, closes[i], TRUE);

      g_assert_cmpint (isnan (v30), ==, i < 29);
      g_assert_cmpint (isnan (v2), ==, i < 1);
      if (i >= 29)
        {
          g_assert_cmpfloat_with_epsilon (v30, wma30[i - 29], 0.001);
          g_assert_cmpfloat_with_epsilon (v30, direct_wma (closes, i, 30), 1e-12);
        }
      if (i >= 1 && i <= 3)
        g_assert_cmpfloat_with_epsilon (v2, wma2[i - 1], 0.01);
      if (i >= 1)
        g_assert_cmpfloat_with_epsilon (v2, direct_wma (closes, i, 2), 1e-12);
    }
}

static void
test_constant (void)
{
  g_autoptr(ThIndicator) wma = th_test_indicator_new ("wma", "20", NULL);
  g_autoptr(ThIndicator) tenth = th_test_indicator_new ("wma", "20", NULL);

  for (int i = 0; i < 100000; i++)
    {
      double v = th_test_feed_close (wma, 42000.5, TRUE);
      double w = th_test_feed_close (tenth, 0.1, TRUE);

      if (i >= 19)
        {
          g_assert_cmpfloat (v, ==, 42000.5);
          /* 0.1 is not a binary fraction: the sums are a few ulps off */
          g_assert_cmpfloat_with_epsilon (w, 0.1, 1e-15);
        }
      else
        g_assert_true (isnan (v) && isnan (w));
    }
}

/* A million closes of a random walk, checked now and then (and at the
 * end) against the definition recomputed from the closes. */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  const guint period = 50;
  g_autoptr(ThIndicator) wma = th_test_indicator_new ("wma", "50", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (4);
  g_autofree double *xs = g_new (double, n);
  double price = 40000;

  for (guint i = 0; i < n; i++)
    {
      double v;

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      xs[i] = price;
      v = th_test_feed_close (wma, price, TRUE);
      if (i < period - 1)
        g_assert_true (isnan (v));
      else if (i % 997 == 0 || i == n - 1)
        {
          double r = direct_wma (xs, i, period);

          if (fabs (v / r - 1.0) > 1e-9)
            g_error ("close %u: wma %.17g, recomputed %.17g", i, v, r);
        }
    }
}

/* Provisional values: wma A sees every close first as the forming candle
 * (several times, with other values too) and then committed; wma B only
 * sees the committed closes. A's provisional value for a close is what B
 * gives when that close is committed, and the committed values of A and
 * B stay the same. */
static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("wma", "5", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("wma", "5", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  double price = 100;

  for (guint i = 0; i < 200; i++)
    {
      double p, q, c, x;

      price += g_rand_double_range (rand, -1, 1);
      q = th_test_feed_close (a, price + 3, FALSE);  /* a forming candle that moves on */
      p = th_test_feed_close (a, price, FALSE);
      c = th_test_feed_close (b, price, TRUE);
      x = th_test_feed_close (a, price, TRUE);
      g_assert_cmpint (isnan (p), ==, i < 4);
      g_assert_cmpint (isnan (q), ==, i < 4);
      g_assert_true (p == c || (isnan (p) && isnan (c)));
      g_assert_true (x == c || (isnan (x) && isnan (c)));
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = { "0", "x", "-3", "1.5", "10001", "", "10,20" };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThIndicator) wma = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(ThIndicator) ind = th_test_indicator_new ("wma", bad[i], &e);

      g_assert_null (ind);
      g_assert_error (e, TH_ERROR, TH_ERROR_BAD_CONFIG);
    }

  wma = th_test_indicator_new ("wma", "x", &error);
  g_assert_cmpstr (error->message, ==,
                   "wma period “x” is not a whole number from 1 to 10000; write it like wma(20)");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/wma/warm-up", test_warm_up);
  g_test_add_func ("/wma/period-one-is-the-close", test_period_one_is_the_close);
  g_test_add_func ("/wma/reference-ta-lib", test_reference_ta_lib);
  g_test_add_func ("/wma/constant", test_constant);
  g_test_add_func ("/wma/long-random-series", test_long_random_series);
  g_test_add_func ("/wma/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/wma/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
