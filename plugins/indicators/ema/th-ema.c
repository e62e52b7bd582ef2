/* th-ema.c: exponential moving average of the close, ema(N)
 *
 * TA-Lib's EMA (TA_EMA, default compatibility), so that our numbers can be
 * checked against TA-Lib, StockCharts and the tools built on them:
 *
 *   alpha      = 2 / (N + 1)
 *   ema[N-1]   = (close[0] + ... + close[N-1]) / N      (the seed: an SMA)
 *   ema[i]     = ema[i-1] + alpha * (close[i] - ema[i-1])     for i >= N
 *
 * Warm-up: no value (null) until the N-th close; the first value is at
 * index N-1 (counting closes from 0), as TA-Lib's lookback of N-1. The
 * operations are done in TA-Lib's order, so for a series that starts with
 * the first candle we see, the values are TA-Lib's to the last bit or so.
 *
 * O(1) and fixed memory per update. The recursion forgets its rounding
 * errors geometrically (each step multiplies the old error by 1 - alpha),
 * so nothing drifts over a long run.
 *
 * A candle whose close is not a finite number is skipped: its outputs are
 * null and the state is unchanged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define MAX_PERIOD 10000
#define USAGE "ema(20)"

#define TH_TYPE_EMA (th_ema_get_type ())
G_DECLARE_FINAL_TYPE (ThEma, th_ema, TH, EMA, GObject)

struct _ThEma
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;    /* 0 until configured */
  ThTaEma  ema;
};

static void th_ema_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThEma, th_ema, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_ema_indicator_init))

static gboolean
th_ema_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThEma *self = TH_EMA (indicator);
  guint period;

  if (!th_ta_check_arg_count (USAGE, args, 1, 1, error) ||
      !th_ta_parse_period (USAGE, "ema period", args[0], 1, MAX_PERIOD, &period, error))
    return FALSE;

  self->period = period;
  th_ta_ema_init (&self->ema, period, 2.0 / (double) (period + 1));
  return TRUE;
}

static char **
th_ema_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

static void
th_ema_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThEma *self = TH_EMA (indicator);
  double x = candle->close;

  if (self->period == 0 || !isfinite (x))
    return;

  /* The forming candle as if it were the next close; state unchanged. */
  th_indicator_values_set (values, 0, commit ? th_ta_ema_update (&self->ema, x)
                                             : th_ta_ema_peek (&self->ema, x));
}

static void
th_ema_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_ema_configure;
  iface->get_outputs = th_ema_get_outputs;
  iface->update = th_ema_update;
}

static void
th_ema_class_init (ThEmaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThEma, hub));
}

static void
th_ema_class_finalize (ThEmaClass *klass)
{
}

static void
th_ema_init (ThEma *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_ema_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_EMA);
}
