/* th-indicator.h: the interface of indicator plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <glib-object.h>
#include "th-candle.h"

G_BEGIN_DECLS

#define TH_TYPE_INDICATOR_VALUES (th_indicator_values_get_type ())

/**
 * TH_INDICATOR_MAX_OUTPUTS:
 *
 * The most outputs one indicator instance can have.
 */
#define TH_INDICATOR_MAX_OUTPUTS 8

/**
 * ThIndicatorValues:
 *
 * Where an indicator writes its outputs. Every output starts as NaN (not
 * warmed up, published as `null`); the indicator sets the ones it knows with
 * th_indicator_values_set(). Indicators write here instead of returning
 * doubles, which GJS 1.74 cannot return from a JavaScript vfunc.
 */
typedef struct _ThIndicatorValues ThIndicatorValues;

TH_EXPORT
GType              th_indicator_values_get_type    (void) G_GNUC_CONST;
TH_EXPORT
ThIndicatorValues *th_indicator_values_new         (guint                    n_values);
TH_EXPORT
ThIndicatorValues *th_indicator_values_copy        (const ThIndicatorValues *values);
TH_EXPORT
void               th_indicator_values_free        (ThIndicatorValues       *values);
TH_EXPORT
guint              th_indicator_values_get_n_values (const ThIndicatorValues *values);
TH_EXPORT
void               th_indicator_values_set         (ThIndicatorValues       *values,
                                                    guint                    index,
                                                    double                   value);
TH_EXPORT
double             th_indicator_values_get         (const ThIndicatorValues *values,
                                                    guint                    index);
TH_EXPORT
void               th_indicator_values_reset       (ThIndicatorValues       *values);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThIndicatorValues, th_indicator_values_free)

#define TH_TYPE_INDICATOR (th_indicator_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThIndicator, th_indicator, TH, INDICATOR, GObject)

/**
 * ThIndicatorInterface:
 * @g_iface: the parent interface
 * @configure: takes the arguments of `name=plugin(arg,...)` as strings and
 *   checks them; a bad argument is a %TH_ERROR_BAD_CONFIG error
 * @get_outputs: the suffixes of the outputs, appended to the configured name:
 *   `{"", "_signal", "_histogram"}` for MACD gives `macd`, `macd_signal`...
 * @update: feeds one candle. With @commit %TRUE the candle is closed and
 *   becomes part of the indicator's state; with %FALSE it is the forming
 *   candle, and the indicator computes provisional values without changing
 *   its state. Either way it writes its outputs into @values (all NaN on
 *   entry). Must be O(1).
 *
 * An indicator instance serves one symbol and one timeframe; the hub creates
 * one per (symbol, timeframe, configured name).
 */
struct _ThIndicatorInterface
{
  GTypeInterface g_iface;

  gboolean (*configure)   (ThIndicator        *self,
                           const char *const  *args,
                           GError            **error);
  char   **(*get_outputs) (ThIndicator        *self);
  void     (*update)      (ThIndicator        *self,
                           const ThCandle     *candle,
                           gboolean            commit,
                           ThIndicatorValues  *values);
};

TH_EXPORT
gboolean th_indicator_configure   (ThIndicator        *self,
                                   const char *const  *args,
                                   GError            **error);
TH_EXPORT
char   **th_indicator_get_outputs (ThIndicator        *self);
TH_EXPORT
void     th_indicator_update      (ThIndicator        *self,
                                   const ThCandle     *candle,
                                   gboolean            commit,
                                   ThIndicatorValues  *values);

G_END_DECLS
