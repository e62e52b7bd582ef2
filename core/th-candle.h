/* th-candle.h: one OHLCV candle
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <glib-object.h>

G_BEGIN_DECLS

#define TH_TYPE_CANDLE (th_candle_get_type ())

typedef struct _ThCandle ThCandle;

/**
 * ThCandle:
 * @start: start of the period, µs since the Unix epoch (UTC), a multiple of
 *   @duration
 * @duration: length of the period in µs
 * @open: first price of the period
 * @high: highest price
 * @low: lowest price
 * @close: last price
 * @volume: traded base volume; NaN when no trade reached this candle (a
 *   price-only candle from ticker data)
 * @ticks: number of ticks that went into the candle; 0 for a candle that
 *   fills an empty period
 * @closed: %TRUE once the period is over and the candle is final
 *
 * An OHLCV candle. A plain value: copy it with th_candle_copy().
 */
struct _ThCandle
{
  gint64   start;
  gint64   duration;
  double   open;
  double   high;
  double   low;
  double   close;
  double   volume;
  guint    ticks;
  gboolean closed;
};

TH_EXPORT
GType     th_candle_get_type (void) G_GNUC_CONST;
TH_EXPORT
ThCandle *th_candle_new      (gint64          start,
                              gint64          duration,
                              double          open,
                              double          high,
                              double          low,
                              double          close,
                              double          volume);
TH_EXPORT
ThCandle *th_candle_copy     (const ThCandle *candle);
TH_EXPORT
void      th_candle_free     (ThCandle       *candle);
TH_EXPORT
char     *th_candle_to_json  (const ThCandle *candle);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThCandle, th_candle_free)

G_END_DECLS
