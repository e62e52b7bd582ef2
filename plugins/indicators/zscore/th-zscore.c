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
 * O(1) per update: a ring of the last N closes and running sums of
 * d = close - shift and d^2, where the shift is a close of the window (the
 * first one, then the newest at each recomputation), so a price that moves
 * only in its last digits keeps its precision. The sums are recomputed
 * from the ring every N updates, so rounding cannot add up.
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
  double  *ring;       /* the last N closes */
  guint    head;       /* next slot to write */
  guint    count;      /* closes known, up to period */
  guint    since_recompute;
  double   shift;
  double   sum;        /* sum of (x - shift) */
  double   sumsq;      /* sum of (x - shift)^2 */
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
  g_free (self->ring);
  self->ring = g_new0 (double, period);
  self->head = self->count = self->since_recompute = 0;
  self->shift = self->sum = self->sumsq = 0;
  return TRUE;
}

static char **
th_zscore_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

static void
recompute (ThZScore *self)
{
  double s = 0, sq = 0;

  self->shift = self->ring[(self->head + self->period - 1) % self->period];
  for (guint i = 0; i < self->count; i++)
    {
      double d = self->ring[i] - self->shift;

      s += d;
      sq += d * d;
    }
  self->sum = s;
  self->sumsq = sq;
  self->since_recompute = 0;
}

static gboolean
zscore (const ThZScore *self,
        double          x,
        double          s,
        double          sq,
        double         *z)
{
  double n = self->period;
  double mean = s / n;
  double variance = sq / n - mean * mean;

  if (!(variance > 0))
    return FALSE;
  *z = (x - self->shift - mean) / sqrt (variance);
  return TRUE;
}

static void
th_zscore_update (ThIndicator       *indicator,
                  const ThCandle    *candle,
                  gboolean           commit,
                  ThIndicatorValues *values)
{
  ThZScore *self = TH_ZSCORE (indicator);
  guint n = self->period;
  double x = candle->close;
  gboolean full;
  double oldest, d, s, sq, z;

  if (n == 0 || !isfinite (x))
    return;
  if (self->count == 0)
    self->shift = x;  /* the first close of the window, until a recomputation */

  full = self->count == n;
  oldest = full ? self->ring[self->head] - self->shift : 0.0;
  d = x - self->shift;
  s = self->sum + d - oldest;
  sq = self->sumsq + d * d - oldest * oldest;

  if (!commit)
    {
      /* The forming candle as if it were the next close; state unchanged. */
      if (self->count + 1 >= n && zscore (self, x, s, sq, &z))
        th_indicator_values_set (values, 0, z);
      return;
    }

  self->ring[self->head] = x;
  self->head = (self->head + 1) % n;
  if (!full)
    self->count++;
  self->sum = s;
  self->sumsq = sq;
  if (++self->since_recompute >= n)
    recompute (self);

  if (self->count == n && zscore (self, x, self->sum, self->sumsq, &z))
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
  g_free (TH_ZSCORE (object)->ring);
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
