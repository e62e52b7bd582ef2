/* test-vwap.c: the vwap indicator plugin, loaded through libpeas
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

#define MINUTE (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
/* 2010-12-03T00:00:00Z */
#define DAY0 (G_GINT64_CONSTANT (1291334400) * G_USEC_PER_SEC)

static double
feed (ThIndicator *ind,
      gint64       start,
      gint64       duration,
      double       high,
      double       low,
      double       close,
      double       volume,
      gboolean     commit)
{
  ThCandle c = { .start = start, .duration = duration, .open = close, .high = high,
                 .low = low, .close = close, .volume = volume, .ticks = 1, .closed = commit };
  double v;

  th_test_indicator_update (ind, &c, commit, &v, 1);
  return v;
}

static void
test_outputs (void)
{
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  g_auto(GStrv) outputs = th_indicator_get_outputs (vwap);

  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");
}

/* The Python `ta` library's fixture for StockCharts ChartSchool's "VWAP
 * (Volume-Weighted Average Price)" article (school.stockcharts.com,
 * technical indicators, vwap_intraday): test/data/cs-vwap.csv in
 * github.com/bukosabino/ta. Columns: high, low, close, the typical price
 * to 5 decimals, volume, and the library's VWAP. That VWAP runs over a
 * 14-row window, so its first 14 rows, used here, are the cumulative VWAP
 * since the first row; its values are doubles printed in full, so we allow
 * 1e-12 relative for a different order of additions. The rows are daily
 * bars; here they are fed as 14 one-minute candles of one UTC day, which
 * is the same arithmetic. */
static const struct { double high, low, close, typical, volume, vwap; } bars[] = {
  { 24.8283, 24.3205, 24.7486, 24.63247, 18730.144, 24.632466666666666 },
  { 24.7586, 24.5993, 24.7088, 24.6889, 12271.74, 24.654805154030853 },
  { 25.1568, 24.7785, 25.0373, 24.99087, 24691.414, 24.80379676048873 },
  { 25.5848, 24.9477, 25.545, 25.35917, 18357.606, 24.9414758619062 },
  { 25.6844, 24.8083, 25.0672, 25.18663, 22964.08, 24.99950623571372 },
  { 25.336, 25.0572, 25.107, 25.16673, 15918.948, 25.02307824302856 },
  { 25.2862, 24.8482, 24.888, 25.00747, 16067.044, 25.021133824528068 },
  { 25.1269, 24.7496, 24.9975, 24.958, 16568.487, 25.013948032058988 },
  { 25.2762, 24.9278, 25.0473, 25.08377, 16018.729, 25.020869365685463 },
  { 25.3857, 25.0274, 25.336, 25.2497, 9773.569, 25.03392065542907 },
  { 25.5351, 25.0473, 25.0572, 25.2132, 22572.712000000003, 25.054787605744554 },
  { 25.6048, 25.0622, 25.4455, 25.37083, 12986.669, 25.074623090960745 },
  { 25.7441, 25.5351, 25.5649, 25.6147, 10906.659, 25.101664793872967 },
  { 25.7242, 25.4554, 25.555, 25.5782, 5799.259, 25.11402265022072 },
};

static void
test_reference (void)
{
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  double sum_pv = 0, sum_v = 0;

  for (guint i = 0; i < G_N_ELEMENTS (bars); i++)
    {
      double typical = (bars[i].high + bars[i].low + bars[i].close) / 3;
      double v = feed (vwap, DAY0 + i * MINUTE, MINUTE, bars[i].high, bars[i].low,
                       bars[i].close, bars[i].volume, TRUE);

      /* Our own recomputation first, to check the published figures. */
      g_assert_cmpfloat_with_epsilon (typical, bars[i].typical, 5e-6);
      sum_pv += typical * bars[i].volume;
      sum_v += bars[i].volume;
      g_assert_cmpfloat_with_epsilon (sum_pv / sum_v / bars[i].vwap, 1, 1e-12);

      g_assert_cmpfloat_with_epsilon (v / (sum_pv / sum_v), 1, 1e-12);
      g_assert_cmpfloat_with_epsilon (v / bars[i].vwap, 1, 1e-12);
    }
}

/* Candles whose typical price is 100, whatever their shape and volume. */
static void
test_same_typical_price (void)
{
  static const double hlc[][3] = {
    { 101, 98, 101 }, { 102, 99, 99 }, { 100.5, 99.25, 100.25 }, { 100, 100, 100 }, { 103, 97, 100 },
  };
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);

  for (guint i = 0; i < 1000; i++)
    {
      const double *c = hlc[i % G_N_ELEMENTS (hlc)];
      double v = feed (vwap, DAY0 + i * MINUTE, MINUTE, c[0], c[1], c[2],
                       g_rand_double_range (rand, 0.001, 1000), TRUE);

      g_assert_cmpfloat_with_epsilon (v, 100, 1e-12);
    }
}

/* The sums start over with the first candle of a new UTC day. */
static void
test_resets_at_utc_midnight (void)
{
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  g_autoptr(ThIndicator) daily = th_test_indicator_new ("vwap", "", NULL);
  gint64 midnight = DAY0 + DAY;

  g_assert_cmpfloat (feed (vwap, midnight - 2 * MINUTE, MINUTE, 10, 10, 10, 1, TRUE), ==, 10);
  g_assert_cmpfloat (feed (vwap, midnight - MINUTE, MINUTE, 13, 13, 13, 2, TRUE), ==, 12);
  /* 00:00 UTC, provisional then closed: the new day alone. */
  g_assert_cmpfloat (feed (vwap, midnight, MINUTE, 20, 20, 20, 5, FALSE), ==, 20);
  g_assert_cmpfloat (feed (vwap, midnight, MINUTE, 21, 21, 21, 5, TRUE), ==, 21);
  g_assert_cmpfloat (feed (vwap, midnight + MINUTE, MINUTE, 24, 24, 24, 10, TRUE), ==, 23);
  /* A gap of several days starts over too. */
  g_assert_cmpfloat (feed (vwap, midnight + 3 * DAY + 5 * HOUR, MINUTE, 7, 7, 7, 1, TRUE), ==, 7);
  g_assert_cmpfloat (feed (vwap, midnight + 3 * DAY + 6 * HOUR, MINUTE, 9, 9, 9, 1, TRUE), ==, 8);

  /* Daily candles: each is its own day, VWAP is its typical price. */
  for (guint i = 0; i < 10; i++)
    g_assert_cmpfloat (feed (daily, DAY0 + i * DAY, DAY, 12 + i, 6 + i, 9 + i, 100 + i, TRUE), ==, 9 + i);
}

/* Price-only candles add nothing: null on a day without volume, the day's
 * VWAP so far on one with. Zero volume is no volume. */
static void
test_price_only (void)
{
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);

  g_assert_true (isnan (feed (vwap, DAY0, MINUTE, 10, 10, 10, NAN, TRUE)));
  g_assert_true (isnan (feed (vwap, DAY0 + MINUTE, MINUTE, 11, 11, 11, NAN, FALSE)));
  g_assert_true (isnan (feed (vwap, DAY0 + MINUTE, MINUTE, 11, 11, 11, 0, TRUE)));
  g_assert_cmpfloat (feed (vwap, DAY0 + 2 * MINUTE, MINUTE, 12, 12, 12, 3, TRUE), ==, 12);
  g_assert_cmpfloat (feed (vwap, DAY0 + 3 * MINUTE, MINUTE, 50, 50, 50, NAN, TRUE), ==, 12);
  g_assert_cmpfloat (feed (vwap, DAY0 + 4 * MINUTE, MINUTE, 16, 16, 16, 1, TRUE), ==, 13);
  g_assert_cmpfloat (feed (vwap, DAY0 + 5 * MINUTE, MINUTE, 90, 90, 90, INFINITY, TRUE), ==, 13);
  /* The next day has seen no volume yet. */
  g_assert_true (isnan (feed (vwap, DAY0 + DAY, MINUTE, 16, 16, 16, NAN, TRUE)));
}

/* No warm-up beyond the first candle with a volume. */
static void
test_warm_up (void)
{
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);

  g_assert_true (isnan (feed (vwap, DAY0, MINUTE, 10, 10, 10, NAN, FALSE)));
  g_assert_true (isnan (feed (vwap, DAY0, MINUTE, 10, 10, 10, NAN, TRUE)));
  g_assert_cmpfloat (feed (vwap, DAY0 + MINUTE, MINUTE, 12, 9, 9, 2, FALSE), ==, 10);
  g_assert_cmpfloat (feed (vwap, DAY0 + MINUTE, MINUTE, 12, 9, 9, 2, TRUE), ==, 10);
}

/* One huge volume, then a million small ones in the same day: a plain
 * running sum loses every small one (each is below half an ulp of the
 * total); the compensated sums keep them all, and the result is the
 * correctly rounded quotient of the exact sums. */
static void
test_compensated (void)
{
  const guint n = 1000000;
  const gint64 step = 50000;    /* 50 ms candles: a million fit in one day */
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  double naive_pv = 100 * 1e17, naive_v = 1e17, expected, v = NAN;

  feed (vwap, DAY0, step, 100, 100, 100, 1e17, TRUE);
  for (guint i = 1; i <= n; i++)
    {
      v = feed (vwap, DAY0 + i * step, step, 200, 200, 200, 4, TRUE);
      naive_pv += 200 * 4.0;
      naive_v += 4;
    }
  /* Both sums are exactly representable: 1e19 + 8e8 and 1e17 + 4e6. */
  expected = (100 * 1e17 + 200 * 4.0 * n) / (1e17 + 4.0 * n);
  g_assert_cmpfloat (naive_pv / naive_v, !=, expected);
  g_assert_cmpfloat (v, ==, expected);
}

static void
test_provisional_does_not_commit (void)
{
  g_autoptr(ThIndicator) a = th_test_indicator_new ("vwap", "", NULL);
  g_autoptr(ThIndicator) b = th_test_indicator_new ("vwap", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  gint64 start = DAY0;
  double close = 100;

  for (guint i = 0; i < 5000; i++)
    {
      double c = close * exp (g_rand_double_range (rand, -0.01, 0.01));
      double high = MAX (c, close) * 1.001, low = MIN (c, close) * 0.999;
      double volume = g_rand_int_range (rand, 0, 20) == 0 ? NAN : g_rand_double_range (rand, 0, 50);
      double p, v, r;

      /* Forming candles that never close, then the one that does. */
      for (guint k = g_rand_int_range (rand, 0, 4); k > 0; k--)
        feed (b, start, 10 * MINUTE, high * 2, low / 2, c, g_rand_double_range (rand, 0, 1e6), FALSE);
      p = feed (b, start, 10 * MINUTE, high, low, c, volume, FALSE);
      v = feed (b, start, 10 * MINUTE, high, low, c, volume, TRUE);
      r = feed (a, start, 10 * MINUTE, high, low, c, volume, TRUE);
      th_test_assert_same (p, v);
      th_test_assert_same (v, r);

      start += 10 * MINUTE * g_rand_int_range (rand, 1, 12);
      close = c;
    }
}

/* A million 100 ms candles from 20:00 UTC: a day change after 144,000 of
 * them, then 856,000 in one day. Checked now and then against the sums of
 * the day recomputed directly, in long double. */
static void
test_long_random_series (void)
{
  const guint n = 1000000;
  const gint64 step = 100000;
  const gint64 first = DAY0 + 20 * HOUR;
  g_autoptr(ThIndicator) vwap = th_test_indicator_new ("vwap", "", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree double *typical = g_new (double, n);
  g_autofree double *volumes = g_new (double, n);
  double close = 40000;

  for (guint i = 0; i < n; i++)
    {
      double open = close, high, low, v;

      close = open * exp (g_rand_double_range (rand, -0.001, 0.001));
      high = MAX (open, close) * (1 + g_rand_double_range (rand, 0, 0.001));
      low = MIN (open, close) * (1 - g_rand_double_range (rand, 0, 0.001));
      typical[i] = (high + low + close) / 3;
      volumes[i] = g_rand_int_range (rand, 0, 20) == 0 ? NAN : g_rand_double_range (rand, 0, 5);
      v = feed (vwap, first + i * step, step, high, low, close, volumes[i], TRUE);

      if (i % 9973 == 0 || i == n - 1 || i == 143999 || i == 144000)
        {
          gint64 day = (first + i * step) / DAY;
          long double pv = 0, sv = 0;

          for (guint j = i; j != G_MAXUINT && (first + j * step) / DAY == day; j--)
            if (!isnan (volumes[j]))
              {
                pv += (long double) typical[j] * volumes[j];
                sv += volumes[j];
              }
          if (sv == 0)
            g_assert_true (isnan (v));
          else
            g_assert_cmpfloat_with_epsilon (v / (double) (pv / sv), 1.0, 1e-9);
        }
    }
}

static void
test_bad_arguments (void)
{
  const char *five[] = { "5", NULL };
  const char *empty[] = { NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThIndicator) bad = th_test_indicator_newv ("vwap", five, &error);
  g_autoptr(ThIndicator) no_parens = th_test_indicator_newv ("vwap", NULL, NULL);
  g_autoptr(ThIndicator) parens = th_test_indicator_newv ("vwap", empty, NULL);

  g_assert_null (bad);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_cmpstr (error->message, ==, "takes 0 arguments, not 1; write it like vwap()");
  g_assert_nonnull (no_parens);
  g_assert_nonnull (parens);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vwap/outputs", test_outputs);
  g_test_add_func ("/vwap/reference-chartschool", test_reference);
  g_test_add_func ("/vwap/same-typical-price", test_same_typical_price);
  g_test_add_func ("/vwap/resets-at-utc-midnight", test_resets_at_utc_midnight);
  g_test_add_func ("/vwap/price-only", test_price_only);
  g_test_add_func ("/vwap/warm-up", test_warm_up);
  g_test_add_func ("/vwap/compensated", test_compensated);
  g_test_add_func ("/vwap/provisional-does-not-commit", test_provisional_does_not_commit);
  g_test_add_func ("/vwap/long-random-series", test_long_random_series);
  g_test_add_func ("/vwap/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
