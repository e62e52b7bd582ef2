/* test-stoch.c: the stoch indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

#define MINUTE (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)

/* Feeds one candle; out[0] is slow %K, out[1] %D. */
static void
feed (ThIndicator *ind,
      double       high,
      double       low,
      double       close,
      gboolean     commit,
      double       out[2])
{
  ThCandle c = { .start = 0, .duration = MINUTE, .open = close, .high = high,
                 .low = low, .close = close, .volume = 1, .ticks = 1, .closed = commit };

  th_test_indicator_update (ind, &c, commit, out, 2);
}

/* Fast %K of candle @i, by scanning its window. */
static double
direct_fast_k (const double *highs,
               const double *lows,
               const double *closes,
               guint         i,
               guint         k)
{
  double hh = -INFINITY, ll = INFINITY;

  for (guint j = i + 1 - k; j <= i; j++)
    {
      hh = MAX (hh, highs[j]);
      ll = MIN (ll, lows[j]);
    }
  return hh == ll ? 0 : 100 * (closes[i] - ll) / (hh - ll);
}

static void
test_outputs (void)
{
  g_autoptr(ThIndicator) stoch = th_test_indicator_new ("stoch", "14,3,3", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (stoch);

  g_assert_cmpuint (g_strv_length (outputs), ==, 2);
  g_assert_cmpstr (outputs[0], ==, "");
  g_assert_cmpstr (outputs[1], ==, "_d");
}

/* StockCharts ChartSchool, "Stochastic Oscillator (Fast, Slow, and Full)",
 * its spreadsheet of 23 February to 6 April 2010 (school.stockcharts.com,
 * technical indicators, stochastic_oscillator_fast_slow_and_full), as
 * shipped in the Python `ta` library's test/data/cs-soo.csv
 * (github.com/bukosabino/ta). Columns: high, low, the 14-day highest high
 * and lowest low, close, %K (fast, to 6 decimals) and its 3-day SMA (to 6
 * decimals, trailing zeros dropped), NaN where the sheet is empty. The
 * sheet has no close before 12 March; those candles only count for their
 * highs and lows, and get their midpoint as close here.
 *
 * The sheet's 3-day SMA is the mean of the rounded %K values, so it can be
 * up to 5e-7 away from the mean of the exact ones, on top of its own
 * rounding: we allow 1e-6 there. */
static const struct { double high, low, hh, ll, close, k, k3; } sheet[] = {
  { 127.0090, 125.3574, NAN, NAN, NAN, NAN, NAN },
  { 127.6159, 126.1633, NAN, NAN, NAN, NAN, NAN },
  { 126.5911, 124.9296, NAN, NAN, NAN, NAN, NAN },
  { 127.3472, 126.0937, NAN, NAN, NAN, NAN, NAN },
  { 128.1730, 126.8199, NAN, NAN, NAN, NAN, NAN },
  { 128.4317, 126.4817, NAN, NAN, NAN, NAN, NAN },
  { 127.3671, 126.0340, NAN, NAN, NAN, NAN, NAN },
  { 126.4220, 124.8301, NAN, NAN, NAN, NAN, NAN },
  { 126.8995, 126.3921, NAN, NAN, NAN, NAN, NAN },
  { 126.8498, 125.7156, NAN, NAN, NAN, NAN, NAN },
  { 125.6460, 124.5615, NAN, NAN, NAN, NAN, NAN },
  { 125.7156, 124.5715, NAN, NAN, NAN, NAN, NAN },
  { 127.1582, 125.0689, NAN, NAN, NAN, NAN, NAN },
  { 127.7154, 126.8597, 128.4317, 124.5615, 127.2876, 70.438220, NAN },
  { 127.6855, 126.6309, 128.4317, 124.5615, 127.1781, 67.608909, NAN },
  { 128.2228, 126.8001, 128.4317, 124.5615, 128.0138, 89.202108, NAN },
  { 128.2725, 126.7105, 128.4317, 124.5615, 127.1085, 65.810552, 74.20719 },
  { 128.0934, 126.8001, 128.4317, 124.5615, 127.7253, 81.747713, 78.920124 },
  { 128.2725, 126.1335, 128.4317, 124.5615, 127.0587, 64.523797, 70.694021 },
  { 127.7353, 125.9245, 128.2725, 124.5615, 127.3273, 74.529776, 73.600429 },
  { 128.7700, 126.9891, 128.7700, 124.5615, 128.7103, 98.581442, 79.211672 },
  { 129.2873, 127.8148, 129.2873, 124.5615, 127.8745, 70.104533, 81.071917 },
  { 130.0633, 128.4715, 130.0633, 124.5615, 128.5809, 73.056091, 80.580689 },
  { 129.1182, 128.0641, 130.0633, 124.5615, 128.6008, 73.417791, 72.192805 },
  { 129.2873, 127.6059, 130.0633, 124.5715, 127.9342, 61.231290, 69.235057 },
  { 128.4715, 127.5960, 130.0633, 125.0689, 128.1133, 60.956271, 65.201784 },
  { 128.0934, 126.9990, 130.0633, 125.9245, 127.5960, 40.386102, 54.191221 },
  { 128.6506, 126.8995, 130.0633, 125.9245, 127.5960, 40.386102, 47.242825 },
  { 129.1381, 127.4865, 130.0633, 125.9245, 128.6904, 66.828549, 49.200251 },
  { 128.6406, 127.3970, 130.0633, 125.9245, 128.2725, 56.731420, 54.64869 },
};

#define N_SHEET G_N_ELEMENTS (sheet)

static void
test_reference (void)
{
  g_autoptr(ThIndicator) fast = th_test_indicator_new ("stoch", "14,1,1", NULL);      /* slow %K = %D = fast %K */
  g_autoptr(ThIndicator) fast_d = th_test_indicator_new ("stoch", "14,1,3", NULL);    /* %K = fast %K, %D = its 3-day SMA */
  g_autoptr(ThIndicator) full = th_test_indicator_new ("stoch", "14,3,3", NULL);      /* %K = 3-day SMA of fast %K */
  double highs[N_SHEET], lows[N_SHEET], closes[N_SHEET], my_k[N_SHEET], my_k3[N_SHEET];

  for (guint i = 0; i < N_SHEET; i++)
    {
      double a[2], b[2], c[2];

      highs[i] = sheet[i].high;
      lows[i] = sheet[i].low;
      closes[i] = isnan (sheet[i].close) ? (sheet[i].high + sheet[i].low) / 2 : sheet[i].close;
      my_k[i] = my_k3[i] = NAN;
      feed (fast, highs[i], lows[i], closes[i], TRUE, a);
      feed (fast_d, highs[i], lows[i], closes[i], TRUE, b);
      feed (full, highs[i], lows[i], closes[i], TRUE, c);

      /* Our own recomputation first, to check the published figures. */
      if (i >= 13)
        {
          double hh = -INFINITY, ll = INFINITY;

          for (guint j = i - 13; j <= i; j++)
            {
              hh = MAX (hh, highs[j]);
              ll = MIN (ll, lows[j]);
            }
          g_assert_cmpfloat (hh, ==, sheet[i].hh);
          g_assert_cmpfloat (ll, ==, sheet[i].ll);
          my_k[i] = direct_fast_k (highs, lows, closes, i, 14);
          g_assert_cmpfloat_with_epsilon (my_k[i], sheet[i].k, 5e-7);
        }
      if (i >= 15)
        my_k3[i] = (my_k[i - 2] + my_k[i - 1] + my_k[i]) / 3;
      if (!isnan (sheet[i].k3))
        g_assert_cmpfloat_with_epsilon ((sheet[i - 2].k + sheet[i - 1].k + sheet[i].k) / 3, sheet[i].k3, 5e-7);

      /* stoch(14,1,1): from candle 14 (index 13). */
      if (i < 13)
        g_assert_true (isnan (a[0]) && isnan (a[1]));
      else
        {
          g_assert_cmpfloat_with_epsilon (a[0], my_k[i], 1e-9);
          g_assert_cmpfloat_with_epsilon (a[0], sheet[i].k, 5e-7);
          g_assert_cmpfloat_with_epsilon (a[1], a[0], 1e-9);
        }

      /* stoch(14,1,3): from index 15, %D is the sheet's SMA column. */
      if (i < 15)
        g_assert_true (isnan (b[0]) && isnan (b[1]));
      else
        {
          g_assert_cmpfloat_with_epsilon (b[0], sheet[i].k, 5e-7);
          g_assert_cmpfloat_with_epsilon (b[1], my_k3[i], 1e-9);
          if (!isnan (sheet[i].k3))
            g_assert_cmpfloat_with_epsilon (b[1], sheet[i].k3, 1e-6);
        }

      /* stoch(14,3,3): from index 17, %K is the sheet's SMA column. */
      if (i < 17)
        g_assert_true (isnan (c[0]) && isnan (c[1]));
      else
        {
          g_assert_cmpfloat_with_epsilon (c[0], sheet[i].k3, 1e-6);
          g_assert_cmpfloat_with_epsilon (c[0], my_k3[i], 1e-9);
          g_assert_cmpfloat_with_epsilon (c[1], (my_k3[i - 2] + my_k3[i - 1] + my_k3[i]) / 3, 1e-9);
        }
    }
}

/* TA-Lib's lookback: both outputs start together at index
 * K + Ksmooth + D − 3; NaN before, for closed and provisional values. */
static void
test_warm_up (void)
{
  const char *specs[] = { "14,3,3", "14", "5,1,1", "1,1,1", "1", "3,2,4", "2,5,1", "20,1" };
  const guint first[] = { 17, 17, 4, 0, 4, 6, 5, 21 };

  for (guint s = 0; s < G_N_ELEMENTS (specs); s++)
    {
      g_autoptr(ThIndicator) stoch = th_test_indicator_new ("stoch", specs[s], NULL);

      for (guint i = 0; i < first[s] + 5; i++)
        {
          double close = 100 + (i % 7) - (i % 3);
          double p[2], v[2];

          feed (stoch, close + 1, close - 2, close, FALSE, p);
          feed (stoch, close + 1, close - 2, close, TRUE, v);
          for (guint o = 0; o < 2; o++)
            {
              g_assert_true (isnan (p[o]) == (i < first[s]));
              g_assert_true (isnan (v[o]) == (i < first[s]));
            }
        }
    }
}

/* stoch(K) is stoch(K,3,3), stoch(K,Ks) is stoch(K,Ks,3). */
static void
test_defaults (void)
{
  g_autoptr(ThIndicator) one = th_test_indicator_new ("stoch", "9", NULL);
  g_autoptr(ThIndicator) three = th_test_indicator_new ("stoch", "9,3,3", NULL);
  g_autoptr(ThIndicator) two = th_test_indicator_new ("stoch", "9,2", NULL);
  g_autoptr(ThIndicator) two3 = th_test_indicator_new ("stoch", "9,2,3", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);

  for (guint i = 0; i < 500; i++)
    {
      double c = g_rand_double_range (rand, 90, 110);
      double h = c + g_rand_double_range (rand, 0, 2), l = c - g_rand_double_range (rand, 0, 2);
      double a[2], b[2];

      feed (one, h, l, c, TRUE, a);
      feed (three, h, l, c, TRUE, b);
      th_test_assert_same (a[0], b[0]);
      th_test_assert_same (a[1], b[1]);
      feed (two, h, l, c, TRUE, a);
      feed (two3, h, l, c, TRUE, b);
      th_test_assert_same (a[0], b[0]);
      th_test_assert_same (a[1], b[1]);
    }
}

/* Closing at the top of a rising window: 100; at the bottom of a falling
 * one: 0. Exactly. */
static void
test_at_high_and_low (void)
{
  g_autoptr(ThIndicator) up = th_test_indicator_new ("stoch", "14,3,3", NULL);
  g_autoptr(ThIndicator) down = th_test_indicator_new ("stoch", "14,3,3", NULL);

  for (guint i = 0; i < 200; i++)
    {
      double a[2], b[2];

      feed (up, 100 + i, 99 + i, 100 + i, TRUE, a);
      feed (down, 100 - i * 0.25, 99 - i * 0.25, 99 - i * 0.25, TRUE, b);
      if (i < 18)
        continue;
      g_assert_cmpfloat (a[0], ==, 100);
      g_assert_cmpfloat (a[1], ==, 100);
      g_assert_cmpfloat (b[0], ==, 0);
      g_assert_cmpfloat (b[1], ==, 0);
    }
}

/* A window with no range: TA-Lib writes 0 for fast %K. */
static void
test_flat_window_is_zero (void)
{
  g_autoptr(ThIndicator) stoch = th_test_indicator_new ("stoch", "5,3,3", NULL);

  for (guint i = 0; i < 50; i++)
    {
      double v[2];

      feed (stoch, 42, 42, 42, TRUE, v);
      if (i >= 10)
        {
          g_assert_cmpfloat (v[0], ==, 0);
          g_assert_cmpfloat (v[1], ==, 0);
        }
    }
}

/* A random walk on a coarse grid, so that highs and lows tie often and
 * trends of all lengths push the window's extreme out. */
static void
random_candle (GRand  *rand,
               double *close,
               double *high,
               double *low)
{
  double open = *close;

  *close = MAX (1, open + 0.5 * g_rand_int_range (rand, -2, 3));
  *high = MAX (open, *close) + 0.5 * g_rand_int_range (rand, 0, 2);
  *low = MIN (open, *close) - 0.5 * g_rand_int_range (rand, 0, 2);
}

static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("stoch", "10,3,3", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("stoch", "10,3,3", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  double close = 1000;

  for (guint i = 0; i < 5000; i++)
    {
      double high, low, p[2], v[2], r[2];

      random_candle (rand, &close, &high, &low);
      /* Forming candles that never close, some beyond any high or low. */
      for (guint k = g_rand_int_range (rand, 0, 4); k > 0; k--)
        {
          double x[2];

          feed (b, high + g_rand_int_range (rand, 0, 40), low - g_rand_int_range (rand, 0, 40),
                close, FALSE, x);
        }
      feed (b, high, low, close, FALSE, p);
      feed (b, high, low, close, TRUE, v);
      feed (a, high, low, close, TRUE, r);
      for (guint o = 0; o < 2; o++)
        {
          th_test_assert_same (p[o], v[o]);
          th_test_assert_same (v[o], r[o]);
        }
    }
}

/* A million candles, checked now and then against a direct recomputation:
 * every fast %K by scanning its window, then plain means. */
static void
test_long_random_series (void)
{
  const guint n = 1000000, k = 50, ks = 3, d = 3;
  g_autoptr(ThIndicator) stoch = th_test_indicator_new ("stoch", "50,3,3", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree double *highs = g_new (double, n);
  g_autofree double *lows = g_new (double, n);
  g_autofree double *closes = g_new (double, n);
  double close = 1000;

  for (guint i = 0; i < n; i++)
    {
      double v[2];

      random_candle (rand, &close, &highs[i], &lows[i]);
      closes[i] = close;
      feed (stoch, highs[i], lows[i], closes[i], TRUE, v);

      if (i < k + ks + d - 3)
        g_assert_true (isnan (v[0]) && isnan (v[1]));
      else if (i % 9973 == 0 || i == n - 1)
        {
          double slow[3];

          for (guint s = 0; s < d; s++)
            {
              guint at = i - (d - 1) + s;

              slow[s] = 0;
              for (guint j = at - (ks - 1); j <= at; j++)
                slow[s] += direct_fast_k (highs, lows, closes, j, k);
              slow[s] /= ks;
            }
          g_assert_cmpfloat_with_epsilon (v[0], slow[d - 1], 1e-9);
          g_assert_cmpfloat_with_epsilon (v[1], (slow[0] + slow[1] + slow[2]) / d, 1e-9);
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *bad[][5] = {
    { "0", NULL }, { "x", NULL }, { "14", "0", NULL }, { "14", "3", "0", NULL },
    { "14", "3", "3", "3", NULL }, { NULL }, { "10001", NULL }, { "1.5", NULL },
    { "14", "-1", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) stoch = th_test_indicator_newv ("stoch", bad[i], &error);

      g_assert_null (stoch);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      g_assert_nonnull (strstr (error->message, "write it like stoch(14,3,3)"));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stoch/outputs", test_outputs);
  g_test_add_func ("/stoch/reference-chartschool", test_reference);
  g_test_add_func ("/stoch/warm-up", test_warm_up);
  g_test_add_func ("/stoch/defaults", test_defaults);
  g_test_add_func ("/stoch/at-high-and-low", test_at_high_and_low);
  g_test_add_func ("/stoch/flat-window-is-zero", test_flat_window_is_zero);
  g_test_add_func ("/stoch/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/stoch/long-random-series", test_long_random_series);
  g_test_add_func ("/stoch/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
