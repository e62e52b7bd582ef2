/* th-sma.c: simple moving average of the close, sma(N)
 *
 * A ring of the last N closes and their running sum. The sum is
 * recomputed from the ring every N updates, so rounding errors cannot add
 * up over a long run: O(1) amortized per update, exact to a few ulps.
 * Warm-up as in TA-Lib: no value until N closes are known.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#define MAX_PERIOD 10000

#define TH_TYPE_SMA (th_sma_get_type ())
G_DECLARE_FINAL_TYPE (ThSma, th_sma, TH, SMA, GObject)

struct _ThSma
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;
  double  *ring;
  guint    head;      /* next slot to write */
  guint    count;     /* closes known, up to period */
  guint    since_recompute;
  double   sum;
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
  g_free (self->ring);
  self->ring = g_new0 (double, self->period);
  self->head = self->count = self->since_recompute = 0;
  self->sum = 0;
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
recompute (ThSma *self)
{
  double sum = 0;

  for (guint i = 0; i < self->count; i++)
    sum += self->ring[i];
  self->sum = sum;
  self->since_recompute = 0;
}

static void
th_sma_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThSma *self = TH_SMA (indicator);
  double x = candle->close;
  double oldest = self->count == self->period ? self->ring[self->head] : 0.0;

  if (self->period == 0)
    return;

  if (!commit)
    {
      /* The forming candle as if it were the next close; state unchanged. */
      if (self->count + 1 >= self->period)
        th_indicator_values_set (values, 0, (self->sum - oldest + x) / self->period);
      return;
    }

  self->ring[self->head] = x;
  self->head = (self->head + 1) % self->period;
  if (self->count < self->period)
    {
      self->count++;
      self->sum += x;
    }
  else
    self->sum += x - oldest;

  if (++self->since_recompute >= self->period)
    recompute (self);

  if (self->count == self->period)
    th_indicator_values_set (values, 0, self->sum / self->period);
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
  g_free (TH_SMA (object)->ring);
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
