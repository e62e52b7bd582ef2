/* th-candle-series.c: OHLCV for one symbol and one timeframe
 *
 * Ticks are bucketed by their exchange timestamp, so a replay of a recording
 * gives the candles of the live run. A tick in a later period closes the
 * forming candle; empty periods in between become flat candles (open = high
 * = low = close = the previous close, volume 0, ticks 0), as exchanges do
 * for klines, up to TH_CANDLE_MAX_FILL of them; after a longer gap the series
 * simply resumes. A tick older than the forming period is late: it is counted
 * and does not change a closed candle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

struct _ThCandleSeries
{
  gint64    duration;
  ThCandle  forming;
  gboolean  has_forming;
  gboolean  has_volume;      /* a trade ever reached this series */
  guint64   late;

  /* Ring of the last closed candles. It is allocated as candles close,
   * not up front: a hub follows every symbol of the config in every
   * timeframe, and most of its series never fill `[tickhub] history`. */
  ThCandle *history;
  guint     history_size;    /* the most kept */
  guint     history_alloc;   /* allocated, ≤ history_size */
  guint     history_len;
  guint     history_head;    /* index of the oldest; 0 until the ring is full */
};

ThCandleSeries *
_th_candle_series_new (gint64 duration,
                       guint  history)
{
  ThCandleSeries *series = g_new0 (ThCandleSeries, 1);

  g_return_val_if_fail (duration > 0, NULL);

  series->duration = duration;
  series->history_size = MAX (history, 1);
  return series;
}

void
_th_candle_series_free (ThCandleSeries *series)
{
  if (series == NULL)
    return;
  g_free (series->history);
  g_free (series);
}

gint64
_th_candle_series_get_duration (ThCandleSeries *series)
{
  return series->duration;
}

static gint64
bucket_start (gint64 time,
              gint64 duration)
{
  gint64 q = time / duration;

  if (time < 0 && time % duration != 0)
    q--;
  return q * duration;
}

static void
remember (ThCandleSeries *series,
          const ThCandle *candle,
          GPtrArray      *closed)
{
  guint slot;

  if (series->history_len < series->history_size)
    {
      /* Not full: the head is still 0, so growing keeps the order. */
      if (series->history_len == series->history_alloc)
        {
          series->history_alloc = MIN (MAX (series->history_alloc * 2, 16), series->history_size);
          series->history = g_renew (ThCandle, series->history, series->history_alloc);
        }
      slot = series->history_len++;
    }
  else
    {
      slot = series->history_head;
      series->history_head = (series->history_head + 1) % series->history_size;
    }
  series->history[slot] = *candle;

  if (closed != NULL)
    g_ptr_array_add (closed, th_candle_copy (candle));
}

static void
close_forming (ThCandleSeries *series,
               GPtrArray      *closed)
{
  series->forming.closed = TRUE;
  remember (series, &series->forming, closed);
  series->has_forming = FALSE;
}

/* Returns the forming candle, or NULL for a late tick. */
const ThCandle *
_th_candle_series_add (ThCandleSeries *series,
                       gint64          time,
                       double          price,
                       double          size,
                       GPtrArray      *closed)
{
  gint64 start = bucket_start (time, series->duration);
  ThCandle *c = &series->forming;
  gboolean is_trade = !isnan (size);

  if (is_trade)
    series->has_volume = TRUE;

  if (series->has_forming && start < c->start)
    {
      series->late++;
      return NULL;
    }

  if (!series->has_forming && series->history_len > 0)
    {
      const ThCandle *last = &series->history[(series->history_head + series->history_len - 1) % series->history_size];

      if (start < last->start + last->duration)
        {
          series->late++;
          return NULL;
        }
    }

  if (series->has_forming && start > c->start)
    {
      double prev_close = c->close;
      gint64 next = c->start + series->duration;
      gint64 missing = (start - next) / series->duration;

      close_forming (series, closed);

      if (missing > 0 && missing <= TH_CANDLE_MAX_FILL)
        {
          for (; next < start; next += series->duration)
            {
              ThCandle fill = {
                .start = next, .duration = series->duration,
                .open = prev_close, .high = prev_close, .low = prev_close, .close = prev_close,
                .volume = series->has_volume ? 0.0 : NAN,
                .ticks = 0, .closed = TRUE,
              };
              remember (series, &fill, closed);
            }
        }
    }

  if (!series->has_forming)
    {
      *c = (ThCandle) {
        .start = start, .duration = series->duration,
        .open = price, .high = price, .low = price, .close = price,
        .volume = series->has_volume ? 0.0 : NAN,
        .ticks = 0, .closed = FALSE,
      };
      series->has_forming = TRUE;
    }

  if (price > c->high)
    c->high = price;
  if (price < c->low)
    c->low = price;
  c->close = price;
  c->ticks++;
  if (is_trade)
    c->volume = (isnan (c->volume) ? 0.0 : c->volume) + size;

  return c;
}

/* Closes the forming candle if @now (an exchange-clock estimate) is past
 * its end. */
gboolean
_th_candle_series_close_due (ThCandleSeries *series,
                             gint64          now,
                             GPtrArray      *closed)
{
  if (!series->has_forming || now < series->forming.start + series->duration)
    return FALSE;

  close_forming (series, closed);
  return TRUE;
}

const ThCandle *
_th_candle_series_get_forming (ThCandleSeries *series)
{
  return series->has_forming ? &series->forming : NULL;
}

/* The last @limit candles, oldest first; the forming one, if any, is the
 * last of them. */
GPtrArray *
_th_candle_series_get_history (ThCandleSeries *series,
                               guint           limit)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  guint want_closed = limit;
  guint n;

  if (series->has_forming && want_closed > 0)
    want_closed--;
  n = MIN (want_closed, series->history_len);

  for (guint i = series->history_len - n; i < series->history_len; i++)
    g_ptr_array_add (out, th_candle_copy (&series->history[(series->history_head + i) % series->history_size]));
  if (series->has_forming && limit > 0)
    g_ptr_array_add (out, th_candle_copy (&series->forming));

  return out;
}

guint64
_th_candle_series_get_late (ThCandleSeries *series)
{
  return series->late;
}
