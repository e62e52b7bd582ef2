/* th-zscore.c: rolling z-score of the close, zscore(N)
 *
 *   z = (close - mean) / sd     over the last N closes, the current one
 *                                included, sd the POPULATION standard
 *                                deviation (as Bollinger %b and most
 *                                charting packages)
 *
 * No value until N closes are known, and none while the window is flat
 * (sd = 0: the z-score is undefined).
 *
 * O(1) per update: the last N closes in a shifted ThTaWindow, with running
 * sums of d = close - shift and d^2, where the shift is a close of the
 * window (the first one, then the newest at each recomputation), so a
 * price that moves only in its last digits keeps its precision. The sums
 * are recomputed from the closes every N updates, so rounding cannot add
 * up.
 *
 * This is the same algorithm, operation for operation, as the Python and
 * JavaScript examples zscore_py and zscore_js: the three give the same
 * values (tests/test-script-plugins.py checks it), and bench/indicators
 * measures what each language costs per update.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define MAX_PERIOD 10000
#define USAGE "zscore(20)"

#define TH_TYPE_ZSCORE (th_zscore_get_type ())
G_DECLARE_FINAL_TYPE (ThZScore, th_zscore, TH, ZSCORE, GObject)

struct _ThZScore
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;     /* 0 until configured */
  ThTaWindow window;   /* the last N closes, sums of (x - shift) and (x - shift)^2 */
};

static void th_zscore_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThZScore, th_zscore, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_zscore_indicator_init))

static gboolean
th_zscore_configure (ThIndicator       *indicator,
                     const char *const *args,
                     GError           **error)
{
  ThZScore *self = TH_ZSCORE (indicator);
  guint period;

  if (!th_ta_check_arg_count (USAGE, args, 1, 1, error) ||
      !th_ta_parse_period (USAGE, "zscore period", args[0], 2, MAX_PERIOD, &period, error))
    return FALSE;

  self->period = period;
  th_ta_window_init_shifted (&self->window, period);
  return TRUE;
}

static char **
th_zscore_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

static gboolean
zscore (const ThZScore       *self,
        double                x,
        const ThTaWindowSums *sums,
        double               *z)
{
  double n = self->period;
  double mean = sums->sum / n;
  double variance = sums->sumsq / n - mean * mean;

  if (!(variance > 0))
    return FALSE;
  *z = (x - sums->shift - mean) / sqrt (variance);
  return TRUE;
}

static void
th_zscore_update (ThIndicator       *indicator,
                  const ThCandle    *candle,
                  gboolean           commit,
                  ThIndicatorValues *values)
{
  ThZScore *self = TH_ZSCORE (indicator);
  double x = candle->close;
  ThTaWindowSums sums;
  double z;

  if (self->period == 0 || !isfinite (x))
    return;

  sums = th_ta_window_peek_shifted (&self->window, x);
  if (!commit)
    {
      /* The forming candle as if it were the next close; state unchanged. */
      if (self->window.count + 1 >= self->period && zscore (self, x, &sums, &z))
        th_indicator_values_set (values, 0, z);
      return;
    }

  /* With the sums after the push, recomputed if it was due. */
  th_ta_window_push_peeked (&self->window, x, &sums);
  sums = th_ta_window_sums (&self->window);
  if (th_ta_window_full (&self->window) && zscore (self, x, &sums, &z))
    th_indicator_values_set (values, 0, z);
}

static void
th_zscore_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_zscore_configure;
  iface->get_outputs = th_zscore_get_outputs;
  iface->update = th_zscore_update;
}

static void
th_zscore_finalize (GObject *object)
{
  th_ta_window_clear (&TH_ZSCORE (object)->window);
  G_OBJECT_CLASS (th_zscore_parent_class)->finalize (object);
}

static void
th_zscore_class_init (ThZScoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = th_zscore_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThZScore, hub));
}

static void
th_zscore_class_finalize (ThZScoreClass *klass)
{
}

static void
th_zscore_init (ThZScore *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_zscore_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_ZSCORE);
}
