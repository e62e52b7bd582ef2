/* th-wma.c: linearly weighted moving average of the close, wma(N)
 *
 * TA-Lib's WMA (TA_WMA): the newest close weighs N, the one before N-1, ...,
 * the oldest of the window 1, divided by the sum of the weights:
 *
 *   wma[i] = (N close[i] + (N-1) close[i-1] + ... + 1 close[i-N+1]) / (N (N+1) / 2)
 *
 * Warm-up: no value (null) until the N-th close (index N-1), as TA-Lib.
 *
 * O(1) per update with the running total T and the running weighted sum W
 * of the window: pushing x into a full window gives
 *
 *   W' = W + N x - T          (every old weight drops by one, the oldest to 0)
 *   T' = T + x - oldest
 *
 * (TA-Lib keeps the same two sums.) Both are recomputed from the window
 * every N updates, so rounding errors cannot add up over a long run:
 * amortized O(1), exact to a few ulps.
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
#define USAGE "wma(20)"

#define TH_TYPE_WMA (th_wma_get_type ())
G_DECLARE_FINAL_TYPE (ThWma, th_wma, TH, WMA, GObject)

struct _ThWma
{
  GObject     parent_instance;
  ThHub      *hub;
  guint       period;    /* 0 until configured */
  double      divider;   /* N (N + 1) / 2 */
  ThTaWindow  window;    /* the last N closes and their total */
  double      weighted;  /* W: the weighted sum of the window */
  guint       since_recompute;
};

static void th_wma_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThWma, th_wma, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_wma_indicator_init))

static gboolean
th_wma_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThWma *self = TH_WMA (indicator);
  guint period;

  if (!th_ta_check_arg_count (USAGE, args, 1, 1, error) ||
      !th_ta_parse_period (USAGE, "wma period", args[0], 1, MAX_PERIOD, &period, error))
    return FALSE;

  self->period = period;
  self->divider = (double) period * (period + 1) / 2.0;
  th_ta_window_init (&self->window, period);
  self->weighted = 0;
  self->since_recompute = 0;
  return TRUE;
}

static char **
th_wma_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

/* W after pushing @x: while the window fills, x weighs its position
 * (count + 1); once it is full, x weighs N and every old close loses one. */
static double
next_weighted (const ThWma *self,
               double       x)
{
  if (th_ta_window_full (&self->window))
    return self->weighted + self->period * x - self->window.sum;
  return self->weighted + (self->window.count + 1) * x;
}

static void
recompute (ThWma *self)
{
  const ThTaWindow *w = &self->window;
  double weighted = 0;

  for (guint age = 0; age < w->count; age++)
    weighted += (double) (w->count - age) * th_ta_window_get (w, age);
  self->weighted = weighted;
  self->since_recompute = 0;
}

static void
th_wma_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThWma *self = TH_WMA (indicator);
  double x = candle->close;
  double weighted;

  if (self->period == 0 || !isfinite (x))
    return;

  /* The value is computed the same way for the forming candle and for a
   * closed one, so that a provisional value is exactly what the close will
   * give; a recomputation only refreshes the sums for the next closes. */
  weighted = next_weighted (self, x);
  if (self->window.count + 1 >= self->period)
    th_indicator_values_set (values, 0, weighted / self->divider);
  if (!commit)
    return;  /* the forming candle: state unchanged */

  self->weighted = weighted;
  th_ta_window_push (&self->window, x);
  if (++self->since_recompute >= self->period)
    recompute (self);
}

static void
th_wma_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_wma_configure;
  iface->get_outputs = th_wma_get_outputs;
  iface->update = th_wma_update;
}

static void
th_wma_finalize (GObject *object)
{
  th_ta_window_clear (&TH_WMA (object)->window);
  G_OBJECT_CLASS (th_wma_parent_class)->finalize (object);
}

static void
th_wma_class_init (ThWmaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = th_wma_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThWma, hub));
}

static void
th_wma_class_finalize (ThWmaClass *klass)
{
}

static void
th_wma_init (ThWma *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_wma_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_WMA);
}
