/* test-macd.c: the macd indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

enum { LINE, SIGNAL, HISTOGRAM, N_OUTPUTS };

/* TA-Lib's MACD written out in long double, the way its documentation and
 * source (ta_MACD.c) describe it: EMAs seeded with the mean of their first
 * `period` inputs, the fast one starting slow - fast closes late so that
 * both seed on bar slow - 1, the signal an EMA of the line. */
typedef struct
{
  guint       period;
  guint       count;
  long double sum;
  long double value;
} RefEma;

static gboolean
ref_ema_push (RefEma      *e,
              long double  x)
{
  e->count++;
  if (e->count < e->period)
    {
      e->sum += x;
      return FALSE;
    }
  if (e->count == e->period)
    e->value = (e->sum + x) / e->period;
  else
    e->value += 2.0L / (e->period + 1) * (x - e->value);
  return TRUE;
}

typedef struct
{
  guint  closes;
  guint  late;      /* slow - fast */
  RefEma fast;
  RefEma slow;
  RefEma signal;
} RefMacd;

static RefMacd
ref_macd_new (guint fast,
              guint slow,
              guint signal)
{
  return (RefMacd) { .late = slow - fast, .fast.period = fast, .slow.period = slow,
                     .signal.period = signal };
}

static void
ref_macd_push (RefMacd *m,
               double   x,
               double   out[N_OUTPUTS])
{
  gboolean fast, slow;

  out[LINE] = out[SIGNAL] = out[HISTOGRAM] = NAN;
  fast = m->closes++ >= m->late && ref_ema_push (&m->fast, x);
  slow = ref_ema_push (&m->slow, x);
  g_assert_true (fast == slow);
  if (!slow)
    return;
  out[LINE] = (double) (m->fast.value - m->slow.value);
  if (ref_ema_push (&m->signal, m->fast.value - m->slow.value))
    {
      out[SIGNAL] = (double) m->signal.value;
      out[HISTOGRAM] = (double) (m->fast.value - m->slow.value - m->signal.value);
    }
}

static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) macd = th_test_indicator_new ("macd", "2,4,3", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (macd);
  static const double closes[] = { 1, 2, 4, 8, 7, 5, 6, 9, 3, 2 };
  double v[N_OUTPUTS];

  g_assert_cmpuint (g_strv_length (outputs), ==, 3);
  g_assert_cmpstr (outputs[LINE], ==, "");
  g_assert_cmpstr (outputs[SIGNAL], ==, "_signal");
  g_assert_cmpstr (outputs[HISTOGRAM], ==, "_histogram");

  /* The line from index slow - 1 = 3, the signal and the histogram from
   * index slow + signal - 2 = 5; null before. */
  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      th_test_feed_close_outputs (macd, closes[i], TRUE, v, N_OUTPUTS);
      g_assert_cmpint (isnan (v[LINE]), ==, i < 3);
      g_assert_cmpint (isnan (v[SIGNAL]), ==, i < 5);
      g_assert_cmpint (isnan (v[HISTOGRAM]), ==, i < 5);
      if (i == 3)
        {
          /* Both EMAs seed on bar 3: the fast one with the mean of closes
           * 2 and 3 (6), not of closes 0 and 1; the slow one with the mean
           * of closes 0 to 3 (3.75). */
          g_assert_cmpfloat (v[LINE], ==, 6 - 3.75);
        }
      if (i >= 5)
        g_assert_cmpfloat (v[HISTOGRAM], ==, v[LINE] - v[SIGNAL]);
    }
}

/* TA-Lib's own regression test (src/tools/ta_regtest/ta_test_func/test_macd.c,
 * "MACD - CLASSIC", 12/26/9) on the first 34 closes of its reference series
 * (src/tools/ta_regtest/test_data.c, TA_SREF_close_daily_ref_0_PRIV): its
 * first output, bar 33 = slow + signal - 2, is line -1.9738 and signal
 * -2.7071, histogram their difference. We check them to one unit of the
 * last digit (TA-Lib checks 0.01), and every value against the long double
 * recomputation. Seeding the fast EMA with closes 0 .. 11 instead of
 * TA-Lib's 14 .. 25 would give -2.1835 and -3.1552 on that bar. */
static void
test_reference_ta_lib (void)
{
  static const double closes[] = {
    91.500, 94.815, 94.375, 95.095, 93.780, 94.625, 92.530, 92.750, 90.315, 92.470,
    96.125, 97.250, 98.500, 89.875, 91.000, 92.815, 89.155, 89.345, 91.625, 89.875,
    88.375, 87.625, 84.780, 83.000, 83.500, 81.375, 84.440, 89.250, 86.375, 86.250,
    85.250, 87.125, 85.815, 88.970,
  };
  g_autoptr(ThIndicator) macd = th_test_indicator_new ("macd", "12,26,9", NULL);
  RefMacd ref = ref_macd_new (12, 26, 9);
  double v[N_OUTPUTS], r[N_OUTPUTS];

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      th_test_feed_close_outputs (macd, closes[i], TRUE, v, N_OUTPUTS);
      ref_macd_push (&ref, closes[i], r);
      g_assert_cmpint (isnan (v[LINE]), ==, i < 25);
      g_assert_cmpint (isnan (v[SIGNAL]), ==, i < 33);
      for (guint k = 0; k < N_OUTPUTS; k++)
        {
          g_assert_cmpint (isnan (v[k]), ==, isnan (r[k]));
          if (!isnan (v[k]))
            g_assert_cmpfloat_with_epsilon (v[k], r[k], 1e-12);
        }
    }
  g_assert_cmpfloat_with_epsilon (v[LINE], -1.9738, 0.0001);
  g_assert_cmpfloat_with_epsilon (v[SIGNAL], -2.7071, 0.0001);
  g_assert_cmpfloat_with_epsilon (v[HISTOGRAM], -1.9738 - -2.7071, 0.0002);
}

static void
test_constant (void)
{
  g_autoptr(ThIndicator) macd = th_test_indicator_new ("macd", "12,26,9", NULL);
  double v[N_OUTPUTS];

  for (guint i = 0; i < 100000; i++)
    {
      th_test_feed_close_outputs (macd, 42000.5, TRUE, v, N_OUTPUTS);
      if (i >= 33)
        {
          g_assert_cmpfloat (v[LINE], ==, 0);
          g_assert_cmpfloat (v[SIGNAL], ==, 0);
          g_assert_cmpfloat (v[HISTOGRAM], ==, 0);
        }
    }
}

/* A million closes of a random walk, every output checked against the
 * long double recomputation, to 1e-9 of the price (the line and the
 * histogram cross 0, so a relative error means nothing there). */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  g_autoptr(ThIndicator) macd = th_test_indicator_new ("macd", "12,26,9", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);
  RefMacd ref = ref_macd_new (12, 26, 9);
  double price = 40000;

  for (guint i = 0; i < n; i++)
    {
      double v[N_OUTPUTS], r[N_OUTPUTS];

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      th_test_feed_close_outputs (macd, price, TRUE, v, N_OUTPUTS);
      ref_macd_push (&ref, price, r);
      for (guint k = 0; k < N_OUTPUTS; k++)
        if (isnan (v[k]) != isnan (r[k]) || fabs (v[k] - r[k]) > 1e-9 * price)
          g_error ("close %u, output %u: macd %.17g, recomputed %.17g", i, k, v[k], r[k]);
    }
}

/* Provisional values: macd A sees every close first as the forming candle
 * (several times, with other values too) and then committed; macd B only
 * sees the committed closes. A's provisional values for a close are what
 * B gives when that close is committed, and the committed values of A and
 * B stay the same. */
static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("macd", "3,6,4", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("macd", "3,6,4", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  double price = 100;

  for (guint i = 0; i < 200; i++)
    {
      double p[N_OUTPUTS], q[N_OUTPUTS], c[N_OUTPUTS], x[N_OUTPUTS];

      price += g_rand_double_range (rand, -1, 1);
      th_test_feed_close_outputs (a, price + 3, FALSE, q, N_OUTPUTS);  /* a forming candle that moves on */
      th_test_feed_close_outputs (a, price, FALSE, p, N_OUTPUTS);
      th_test_feed_close_outputs (b, price, TRUE, c, N_OUTPUTS);
      th_test_feed_close_outputs (a, price, TRUE, x, N_OUTPUTS);
      g_assert_cmpint (isnan (p[LINE]), ==, i < 5);
      g_assert_cmpint (isnan (q[LINE]), ==, i < 5);
      g_assert_cmpint (isnan (p[SIGNAL]), ==, i < 8);
      for (guint k = 0; k < N_OUTPUTS; k++)
        {
          g_assert_true (th_test_same (p[k], c[k]));
          g_assert_true (th_test_same (x[k], c[k]));
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = {
    "26,12,9", "12,12,9", "0,26,9", "12,0,9", "12,26,0", "x,26,9", "12,26,9.5",
    "12,10001,9", "12,26", "12,26,9,1", "",
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThIndicator) macd = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(ThIndicator) ind = th_test_indicator_new ("macd", bad[i], &e);

      g_assert_null (ind);
      g_assert_error (e, TH_ERROR, TH_ERROR_BAD_CONFIG);
    }

  macd = th_test_indicator_new ("macd", "26,12,9", &error);
  g_assert_cmpstr (error->message, ==,
                   "macd fast period “26” is not less than the slow period “12”; write it like macd(12,26,9)");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/macd/warm-up", test_warm_up);
  g_test_add_func ("/macd/reference-ta-lib", test_reference_ta_lib);
  g_test_add_func ("/macd/constant", test_constant);
  g_test_add_func ("/macd/long-random-series", test_long_random_series);
  g_test_add_func ("/macd/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/macd/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
