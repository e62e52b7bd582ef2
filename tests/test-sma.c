/* test-sma.c: the sma indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", "3", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (sma);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
  g_assert_true (isnan (th_test_feed_close (sma, 1, TRUE)));
  g_assert_true (isnan (th_test_feed_close (sma, 2, TRUE)));
  g_assert_cmpfloat (th_test_feed_close (sma, 3, TRUE), ==, 2);
  g_assert_cmpfloat (th_test_feed_close (sma, 4, TRUE), ==, 3);
}

static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", "2", NULL);

  th_test_feed_close (sma, 10, TRUE);
  g_assert_cmpfloat (th_test_feed_close (sma, 20, FALSE), ==, 15);
  g_assert_cmpfloat (th_test_feed_close (sma, 30, FALSE), ==, 20);
  g_assert_cmpfloat (th_test_feed_close (sma, 40, TRUE), ==, 25);
}

static void
test_constant (void)
{
  g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", "20", NULL);

  for (int i = 0; i < 1000; i++)
    {
      double v = th_test_feed_close (sma, 42000.5, TRUE);

      if (i >= 19)
        g_assert_cmpfloat (v, ==, 42000.5);
    }
}

/* The 10-day example of StockCharts' "Moving Averages - Simple and
 * Exponential" article (Intel closes); its table shows these values rounded
 * to two decimals (22.22, 22.21, ...). Here they are exact, computed with
 * rational arithmetic. */
static void
test_reference (void)
{
  static const double closes[] = {
    22.27, 22.19, 22.08, 22.17, 22.18, 22.13, 22.23, 22.43, 22.24, 22.29,
    22.15, 22.39, 22.38, 22.61, 23.36, 24.05, 23.75, 23.83, 23.95, 23.63,
  };
  static const double expected[] = {
    22.221, 22.209, 22.229, 22.259, 22.303, 22.421, 22.613, 22.765, 22.905, 23.076, 23.21,
  };
  g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", "10", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double v = th_test_feed_close (sma, closes[i], TRUE);

      if (i >= 9)
        g_assert_cmpfloat_with_epsilon (v, expected[i - 9], 1e-9);
    }
}

static void
test_long_random_series (void)
{
  const guint n = 1000000;
  const guint period = 50;
  g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", "50", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree double *xs = g_new (double, n);
  double price = 40000;

  for (guint i = 0; i < n; i++)
    {
      double v;

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      xs[i] = price;
      v = th_test_feed_close (sma, price, TRUE);

      /* Check against a direct O(N) recomputation now and then, and at the end. */
      if (i >= period - 1 && (i % 9973 == 0 || i == n - 1))
        {
          double sum = 0;

          for (guint j = i + 1 - period; j <= i; j++)
            sum += xs[j];
          g_assert_cmpfloat_with_epsilon (v / (sum / period), 1.0, 1e-12);
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = { "0", "x", "-3", "1.5", "10001" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) sma = th_test_indicator_new ("sma", bad[i], &error);

      g_assert_null (sma);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sma/warm-up", test_warm_up);
  g_test_add_func ("/sma/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/sma/constant", test_constant);
  g_test_add_func ("/sma/reference", test_reference);
  g_test_add_func ("/sma/long-random-series", test_long_random_series);
  g_test_add_func ("/sma/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
