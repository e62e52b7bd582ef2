/* test-candles.c: bucketing by exchange time, fills, late ticks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

#define MIN_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
/* 2024-01-01T00:00:00Z */
#define T0 G_GINT64_CONSTANT (1704067200000000)

static GPtrArray *
new_closed (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
}

static void
assert_candle (const ThCandle *c,
               gint64          start,
               double          o,
               double          h,
               double          l,
               double          cl,
               double          volume)
{
  g_assert_nonnull (c);
  g_assert_cmpint (c->start, ==, start);
  g_assert_cmpfloat (c->open, ==, o);
  g_assert_cmpfloat (c->high, ==, h);
  g_assert_cmpfloat (c->low, ==, l);
  g_assert_cmpfloat (c->close, ==, cl);
  if (isnan (volume))
    g_assert_true (isnan (c->volume));
  else
    g_assert_cmpfloat_with_epsilon (c->volume, volume, 1e-12);
}

static void
test_bucketing (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();
  const ThCandle *c;

  _th_candle_series_add (s, T0 + 5 * G_USEC_PER_SEC, 100, 1, closed);
  _th_candle_series_add (s, T0 + 20 * G_USEC_PER_SEC, 105, 2, closed);
  _th_candle_series_add (s, T0 + 40 * G_USEC_PER_SEC, 95, 0.5, closed);
  c = _th_candle_series_add (s, T0 + 59999999, 101, 1, closed);
  g_assert_cmpuint (closed->len, ==, 0);
  assert_candle (c, T0, 100, 105, 95, 101, 4.5);
  g_assert_false (c->closed);
  g_assert_cmpuint (c->ticks, ==, 4);

  /* The first tick of the next minute closes the first candle. */
  c = _th_candle_series_add (s, T0 + MIN_US, 102, 1, closed);
  g_assert_cmpuint (closed->len, ==, 1);
  assert_candle (closed->pdata[0], T0, 100, 105, 95, 101, 4.5);
  g_assert_true (((ThCandle *) closed->pdata[0])->closed);
  assert_candle (c, T0 + MIN_US, 102, 102, 102, 102, 1);

  _th_candle_series_free (s);
}

static void
test_quotes_give_price_only_candles (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();
  const ThCandle *c;

  _th_candle_series_add (s, T0, 100, NAN, closed);
  c = _th_candle_series_add (s, T0 + 1, 101, NAN, closed);
  assert_candle (c, T0, 100, 101, 100, 101, NAN);

  /* Once a trade arrives, volume counts from it. */
  c = _th_candle_series_add (s, T0 + 2, 101, 0.25, closed);
  g_assert_cmpfloat (c->volume, ==, 0.25);
  _th_candle_series_free (s);
}

static void
test_empty_periods_are_filled (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();

  _th_candle_series_add (s, T0, 100, 1, closed);
  _th_candle_series_add (s, T0 + 3 * MIN_US + 1, 110, 1, closed);
  g_assert_cmpuint (closed->len, ==, 3);
  assert_candle (closed->pdata[0], T0, 100, 100, 100, 100, 1);
  assert_candle (closed->pdata[1], T0 + MIN_US, 100, 100, 100, 100, 0);
  assert_candle (closed->pdata[2], T0 + 2 * MIN_US, 100, 100, 100, 100, 0);
  g_assert_cmpuint (((ThCandle *) closed->pdata[1])->ticks, ==, 0);
  _th_candle_series_free (s);
}

static void
test_long_gap_is_not_filled (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();

  _th_candle_series_add (s, T0, 100, 1, closed);
  _th_candle_series_add (s, T0 + (TH_CANDLE_MAX_FILL + 2) * MIN_US, 110, 1, closed);
  g_assert_cmpuint (closed->len, ==, 1);
  _th_candle_series_free (s);
}

static void
test_late_ticks_are_dropped (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();
  const ThCandle *c;

  _th_candle_series_add (s, T0 + MIN_US, 100, 1, closed);
  g_assert_null (_th_candle_series_add (s, T0 + 5, 50, 1, closed));
  g_assert_cmpuint (_th_candle_series_get_late (s), ==, 1);

  /* Closed by time: a tick for the closed period is late too. */
  g_assert_true (_th_candle_series_close_due (s, T0 + 2 * MIN_US, closed));
  g_assert_null (_th_candle_series_add (s, T0 + MIN_US + 5, 50, 1, closed));
  c = _th_candle_series_add (s, T0 + 2 * MIN_US, 120, 1, closed);
  assert_candle (c, T0 + 2 * MIN_US, 120, 120, 120, 120, 1);
  g_assert_cmpuint (_th_candle_series_get_late (s), ==, 2);
  _th_candle_series_free (s);
}

static void
test_close_due (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 10);
  g_autoptr(GPtrArray) closed = new_closed ();

  _th_candle_series_add (s, T0, 100, 1, closed);
  g_assert_false (_th_candle_series_close_due (s, T0 + MIN_US - 1, closed));
  g_assert_true (_th_candle_series_close_due (s, T0 + MIN_US, closed));
  g_assert_cmpuint (closed->len, ==, 1);
  g_assert_null (_th_candle_series_get_forming (s));
  g_assert_false (_th_candle_series_close_due (s, T0 + 10 * MIN_US, closed));
  _th_candle_series_free (s);
}

static void
test_history_ring (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 3);
  g_autoptr(GPtrArray) closed = new_closed ();
  g_autoptr(GPtrArray) hist = NULL;

  for (int i = 0; i < 6; i++)
    _th_candle_series_add (s, T0 + i * MIN_US, 100 + i, 1, closed);

  hist = _th_candle_series_get_history (s, 100);
  /* 3 closed (the ring) + the forming one. */
  g_assert_cmpuint (hist->len, ==, 4);
  g_assert_cmpfloat (((ThCandle *) hist->pdata[0])->open, ==, 102);
  g_assert_cmpfloat (((ThCandle *) hist->pdata[3])->open, ==, 105);
  g_assert_false (((ThCandle *) hist->pdata[3])->closed);
  g_clear_pointer (&hist, g_ptr_array_unref);

  hist = _th_candle_series_get_history (s, 2);
  g_assert_cmpuint (hist->len, ==, 2);
  g_assert_cmpfloat (((ThCandle *) hist->pdata[0])->open, ==, 104);
  _th_candle_series_free (s);
}

/* The ring grows as candles close (16, 32, then its size: 40), and keeps
 * the last 40 in order across the growth and the wrap. A late tick is
 * judged against the newest closed candle throughout. */
static void
test_history_ring_grows (void)
{
  ThCandleSeries *s = _th_candle_series_new (MIN_US, 40);
  g_autoptr(GPtrArray) closed = new_closed ();

  for (int i = 0; i <= 100; i++)
    {
      g_autoptr(GPtrArray) hist = NULL;
      guint n_closed = MIN (i, 40);

      g_assert_nonnull (_th_candle_series_add (s, T0 + i * MIN_US, 100 + i, 1, closed));
      hist = _th_candle_series_get_history (s, 1000);
      g_assert_cmpuint (hist->len, ==, n_closed + 1);
      for (guint k = 0; k < n_closed; k++)
        g_assert_cmpfloat (((ThCandle *) hist->pdata[k])->open, ==, 100 + i - (int) n_closed + (int) k);
    }
  g_assert_true (_th_candle_series_close_due (s, T0 + 101 * MIN_US, closed));
  g_assert_null (_th_candle_series_add (s, T0 + 100 * MIN_US, 1, 1, closed));
  g_assert_cmpuint (_th_candle_series_get_late (s), ==, 1);
  _th_candle_series_free (s);
}

static void
test_timeframes (void)
{
  gint64 d;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  g_assert_true (th_parse_timeframe ("1m", &d, NULL));
  g_assert_cmpint (d, ==, MIN_US);
  g_assert_true (th_parse_timeframe ("15s", &d, NULL));
  g_assert_cmpint (d, ==, 15 * G_USEC_PER_SEC);
  g_assert_true (th_parse_timeframe ("4h", &d, NULL));
  g_assert_cmpint (d, ==, G_GINT64_CONSTANT (4) * 3600 * G_USEC_PER_SEC);
  g_assert_true (th_parse_timeframe ("1d", &d, NULL));
  g_assert_false (th_parse_timeframe ("0m", &d, NULL));
  g_assert_false (th_parse_timeframe ("m", &d, NULL));
  g_assert_false (th_parse_timeframe ("-1m", &d, NULL));
  g_assert_false (th_parse_timeframe ("1w", &d, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  name = th_format_timeframe (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
  g_assert_cmpstr (name, ==, "1h");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/candles/bucketing", test_bucketing);
  g_test_add_func ("/candles/quotes-give-price-only-candles", test_quotes_give_price_only_candles);
  g_test_add_func ("/candles/empty-periods-are-filled", test_empty_periods_are_filled);
  g_test_add_func ("/candles/long-gap-is-not-filled", test_long_gap_is_not_filled);
  g_test_add_func ("/candles/late-ticks-are-dropped", test_late_ticks_are_dropped);
  g_test_add_func ("/candles/close-due", test_close_due);
  g_test_add_func ("/candles/history-ring", test_history_ring);
  g_test_add_func ("/candles/history-ring-grows", test_history_ring_grows);
  g_test_add_func ("/candles/timeframes", test_timeframes);

  return g_test_run ();
}
