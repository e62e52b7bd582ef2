/* th-sma.c: simple moving average of the close, sma(N)
 *
 * The last N closes and their running sum in a ThTaWindow, which
 * recomputes the sum from the closes every N updates, so rounding errors
 * cannot add up over a long run: O(1) amortized per update, exact to a
 * few ulps. Warm-up as in TA-Lib: no value until N closes are known.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define MAX_PERIOD 10000

#define TH_TYPE_SMA (th_sma_get_type ())
G_DECLARE_FINAL_TYPE (ThSma, th_sma, TH, SMA, GObject)

struct _ThSma
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;
  ThTaWindow window;  /* the last N closes and their sum */
};

static void th_sma_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThSma, th_sma, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_sma_indicator_init))

static gboolean
th_sma_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThSma *self = TH_SMA (indicator);
  guint64 period;

  if (args == NULL || args[0] == NULL || args[1] != NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "sma takes one argument, the period; write it like sma(20)");
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (args[0], 10, 1, MAX_PERIOD, &period, NULL))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "sma period “%s” is not a whole number from 1 to %d; write it like sma(20)",
                   args[0], MAX_PERIOD);
      return FALSE;
    }

  self->period = (guint) period;
  th_ta_window_init (&self->window, self->period);
  return TRUE;
}

static char **
th_sma_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

static void
th_sma_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThSma *self = TH_SMA (indicator);
  double x = candle->close;

  if (self->period == 0)
    return;

  if (!commit)
    {
      /* The forming candle as if it were the next close; state unchanged. */
      if (self->window.count + 1 >= self->period)
        th_indicator_values_set (values, 0, th_ta_window_peek_sum (&self->window, x) / self->period);
      return;
    }

  th_ta_window_push (&self->window, x);
  if (th_ta_window_full (&self->window))
    th_indicator_values_set (values, 0, self->window.sum / self->period);
}

static void
th_sma_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_sma_configure;
  iface->get_outputs = th_sma_get_outputs;
  iface->update = th_sma_update;
}

static void
th_sma_finalize (GObject *object)
{
  th_ta_window_clear (&TH_SMA (object)->window);
  G_OBJECT_CLASS (th_sma_parent_class)->finalize (object);
}

static void
th_sma_class_init (ThSmaClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = th_sma_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThSma, hub));
}

static void
th_sma_class_finalize (ThSmaClass *klass)
{
}

static void
th_sma_init (ThSma *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_sma_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_SMA);
}
