/* th-candle.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

G_DEFINE_BOXED_TYPE (ThCandle, th_candle, th_candle_copy, th_candle_free)

/**
 * th_candle_new:
 * @start: period start, µs since the Unix epoch
 * @duration: period length in µs
 * @open: open price
 * @high: high price
 * @low: low price
 * @close: close price
 * @volume: traded volume, NaN if unknown
 *
 * Creates a candle from known values, such as a test's fixture. It counts
 * one tick and is closed.
 *
 * Returns: (transfer full): a new, closed #ThCandle
 */
ThCandle *
th_candle_new (gint64 start,
               gint64 duration,
               double open,
               double high,
               double low,
               double close,
               double volume)
{
  ThCandle *candle = g_new0 (ThCandle, 1);

  candle->start = start;
  candle->duration = duration;
  candle->open = open;
  candle->high = high;
  candle->low = low;
  candle->close = close;
  candle->volume = volume;
  candle->ticks = 1;
  candle->closed = TRUE;
  return candle;
}

/**
 * th_candle_copy:
 * @candle: a #ThCandle
 *
 * Copies a candle, a plain value without references.
 *
 * Returns: (transfer full): a copy of @candle; free it with th_candle_free()
 */
ThCandle *
th_candle_copy (const ThCandle *candle)
{
  g_return_val_if_fail (candle != NULL, NULL);
  return g_memdup2 (candle, sizeof *candle);
}

/**
 * th_candle_free:
 * @candle: (transfer full): a #ThCandle
 *
 * Frees a candle made by th_candle_new() or th_candle_copy().
 */
void
th_candle_free (ThCandle *candle)
{
  g_free (candle);
}

/**
 * th_candle_to_json:
 * @candle: a #ThCandle
 *
 * Serializes @candle as the `candle` member of `candle_update` events: the
 * start as an ISO 8601 UTC time with milliseconds, each price with the
 * fewest digits that read back as the same double, an unknown (NaN) volume
 * as `null`. The duration is not written; the event's `timeframe` gives it.
 *
 * Returns: (transfer full): the candle as in `candle_update` events:
 *   `{"start":"..","open":..,"high":..,"low":..,"close":..,"volume":..,"ticks":..,"closed":true}`
 */
char *
th_candle_to_json (const ThCandle *candle)
{
  GString *out = g_string_sized_new (160);

  g_return_val_if_fail (candle != NULL, NULL);

  g_string_append (out, "{\"start\":");
  _th_json_append_time (out, candle->start);
  g_string_append (out, ",\"open\":");
  _th_json_append_double (out, candle->open);
  g_string_append (out, ",\"high\":");
  _th_json_append_double (out, candle->high);
  g_string_append (out, ",\"low\":");
  _th_json_append_double (out, candle->low);
  g_string_append (out, ",\"close\":");
  _th_json_append_double (out, candle->close);
  g_string_append (out, ",\"volume\":");
  _th_json_append_double (out, candle->volume);
  g_string_append_printf (out, ",\"ticks\":%u,\"closed\":%s}",
                          candle->ticks, candle->closed ? "true" : "false");
  return g_string_free (out, FALSE);
}
