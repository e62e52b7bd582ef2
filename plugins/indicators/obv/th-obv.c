/* th-obv.c: on-balance volume, obv()
 *
 * As TA-Lib's OBV: the first candle seeds OBV with its own volume (TA-Lib
 * starts from the first bar's volume; StockCharts starts from 0 before the
 * first bar, so the two differ by that first volume, a constant); then each
 * candle adds its volume when its close is above the previous close,
 * subtracts it when below, and leaves OBV alone when equal. No warm-up: a
 * value from the first candle with a volume.
 *
 * Candles whose volume is NaN (price-only candles from a ticker-only source)
 * or otherwise not finite are skipped: they change neither OBV nor the
 * previous close the next candle is compared with, and they repeat the
 * current OBV (NaN, published null, if no candle had a volume yet). So OBV
 * over a mixed stream is TA-Lib's OBV over its candles that have a volume.
 *
 * Takes no arguments: obv() or plain obv.
 *
 * The running total is a compensated (Neumaier) sum: after a million
 * updates it is still within a few ulps of the exact total, where a plain
 * sum would have lost every small volume added to a large total. A
 * provisional update peeks at
 * it with the same arithmetic without changing it, so its value is bit for
 * bit what the same candle gives once closed. O(1), a few numbers of state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define USAGE "obv()"

#define TH_TYPE_OBV (th_obv_get_type ())
G_DECLARE_FINAL_TYPE (ThObv, th_obv, TH, OBV, GObject)

struct _ThObv
{
  GObject   parent_instance;
  ThHub    *hub;
  gboolean  started;      /* a candle with a volume was seen */
  double    prev_close;   /* of the last candle with a volume */
  ThTaSum   obv;
};

static void th_obv_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThObv, th_obv, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_obv_indicator_init))

static gboolean
th_obv_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThObv *self = TH_OBV (indicator);

  if (!th_ta_check_arg_count (USAGE, args, 0, 0, error))
    return FALSE;

  self->started = FALSE;
  self->prev_close = NAN;
  th_ta_sum_reset (&self->obv);
  return TRUE;
}

static char **
th_obv_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

static void
th_obv_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThObv *self = TH_OBV (indicator);
  ThTaSum obv = self->obv;

  if (!isfinite (candle->volume))
    {
      /* Price-only: no change, and not the next candle's previous close. */
      if (self->started)
        th_indicator_values_set (values, 0, th_ta_sum_value (&self->obv));
      return;
    }

  if (!self->started)
    th_ta_sum_add (&obv, candle->volume);   /* TA-Lib's seed */
  else if (candle->close > self->prev_close)
    th_ta_sum_add (&obv, candle->volume);
  else if (candle->close < self->prev_close)
    th_ta_sum_add (&obv, -candle->volume);
  th_indicator_values_set (values, 0, th_ta_sum_value (&obv));

  if (!commit)
    return;  /* provisional: the copy is dropped, state unchanged */

  self->obv = obv;
  self->prev_close = candle->close;
  self->started = TRUE;
}

static void
th_obv_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_obv_configure;
  iface->get_outputs = th_obv_get_outputs;
  iface->update = th_obv_update;
}

static void
th_obv_class_init (ThObvClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThObv, hub));
}

static void
th_obv_class_finalize (ThObvClass *klass)
{
}

static void
th_obv_init (ThObv *self)
{
  self->prev_close = NAN;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_obv_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_OBV);
}
