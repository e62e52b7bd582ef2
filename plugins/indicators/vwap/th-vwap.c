/* th-vwap.c: volume-weighted average price anchored to the UTC day, vwap()
 *
 * VWAP = Σ (typical price × volume) / Σ volume over the candles of the
 * current UTC day, with typical price = (high + low + close) / 3: the
 * ChartSchool (StockCharts) definition, which TA-Lib does not have. The sums
 * start over with the first candle whose start (µs since the epoch, UTC)
 * falls on a new UTC day, so the anchor is 00:00 UTC; with candles of a day
 * or longer, each candle is its own day and VWAP is its typical price.
 *
 * A candle whose volume is NaN (a price-only candle from a ticker-only
 * source) or otherwise not finite adds nothing: it repeats the day's VWAP
 * so far. The output is NaN (null) while the day's volume is not positive
 * (no volume seen yet, or only zeros); there is no other warm-up, so the
 * first candle of a day with a volume gives its own typical price.
 *
 * Takes no arguments: vwap() or plain vwap.
 *
 * The two sums are compensated (Neumaier), so a day of a million candles
 * stays exact to a few ulps instead of losing small volumes against a large
 * running total. A provisional update peeks at the sums with the same
 * arithmetic, without changing them: its value is bit for bit what the same
 * candle gives once closed. O(1) per update, a few numbers of state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define USAGE "vwap()"
#define USEC_PER_DAY (G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC)

#define TH_TYPE_VWAP (th_vwap_get_type ())
G_DECLARE_FINAL_TYPE (ThVwap, th_vwap, TH, VWAP, GObject)

struct _ThVwap
{
  GObject   parent_instance;
  ThHub    *hub;
  gboolean  has_day;
  gint64    day;           /* UTC days since the epoch of the sums */
  ThTaSum   price_volume;  /* Σ typical price × volume */
  ThTaSum   volume;        /* Σ volume */
};

static void th_vwap_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThVwap, th_vwap, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_vwap_indicator_init))

static gboolean
th_vwap_configure (ThIndicator       *indicator,
                   const char *const *args,
                   GError           **error)
{
  ThVwap *self = TH_VWAP (indicator);

  if (!th_ta_check_arg_count (USAGE, args, 0, 0, error))
    return FALSE;

  self->has_day = FALSE;
  th_ta_sum_reset (&self->price_volume);
  th_ta_sum_reset (&self->volume);
  return TRUE;
}

static char **
th_vwap_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

/* The UTC day of @usec, rounding down (also before 1970). */
static gint64
utc_day (gint64 usec)
{
  return usec >= 0 ? usec / USEC_PER_DAY : -((-(usec + 1)) / USEC_PER_DAY) - 1;
}

static void
th_vwap_update (ThIndicator       *indicator,
                const ThCandle    *candle,
                gboolean           commit,
                ThIndicatorValues *values)
{
  ThVwap *self = TH_VWAP (indicator);
  gint64 day = utc_day (candle->start);
  gboolean new_day = !self->has_day || day != self->day;
  ThTaSum pv = { 0 }, v = { 0 };
  double sum_v;

  if (!new_day)
    {
      pv = self->price_volume;
      v = self->volume;
    }
  if (isfinite (candle->volume))
    {
      double typical = (candle->high + candle->low + candle->close) / 3;

      th_ta_sum_add (&pv, typical * candle->volume);
      th_ta_sum_add (&v, candle->volume);
    }

  sum_v = th_ta_sum_value (&v);
  if (sum_v > 0)
    th_indicator_values_set (values, 0, th_ta_sum_value (&pv) / sum_v);

  if (!commit)
    return;  /* provisional: the copies are dropped, state unchanged */

  self->has_day = TRUE;
  self->day = day;
  self->price_volume = pv;
  self->volume = v;
}

static void
th_vwap_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_vwap_configure;
  iface->get_outputs = th_vwap_get_outputs;
  iface->update = th_vwap_update;
}

static void
th_vwap_class_init (ThVwapClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThVwap, hub));
}

static void
th_vwap_class_finalize (ThVwapClass *klass)
{
}

static void
th_vwap_init (ThVwap *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_vwap_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_VWAP);
}
