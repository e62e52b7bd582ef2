/* th-atr.c: average true range, atr(N)
 *
 * As TA-Lib's ATR, and in TA-Lib's order of operations, so that the values
 * are the same to the last bit:
 * - the true range needs the previous close: TR = the greatest of
 *   high − low, |previous close − high| and |previous close − low|. The
 *   first candle has no TR; the first TR is at the 2nd candle.
 * - seed: the first ATR is the plain mean of the first N TRs (their sum
 *   from 0 in order, divided by N), at candle N+1 (index N counting from 0);
 * - then Wilder's smoothing: ATR = (ATR × (N − 1) + TR) / N.
 * With N = 1 the ATR is the TR itself (TA-Lib's TRANGE), from candle 2.
 * So the output is NaN (null) for the first N candles, never a partial mean.
 *
 * Wilder's smoothing forgets its past geometrically, so rounding errors do
 * not build up: no recomputation is needed. O(1) per update, no memory
 * beyond a few numbers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define MAX_PERIOD 10000
#define USAGE "atr(14)"

#define TH_TYPE_ATR (th_atr_get_type ())
G_DECLARE_FINAL_TYPE (ThAtr, th_atr, TH, ATR, GObject)

struct _ThAtr
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;
  double   prev_close;   /* NaN before the first candle */
  guint    n_tr;         /* true ranges seen, up to period */
  double   seed_sum;     /* sum of the first period TRs */
  double   atr;          /* NaN until warmed up */
};

static void th_atr_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThAtr, th_atr, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_atr_indicator_init))

static void
reset (ThAtr *self)
{
  self->prev_close = NAN;
  self->n_tr = 0;
  self->seed_sum = 0;
  self->atr = NAN;
}

static gboolean
th_atr_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThAtr *self = TH_ATR (indicator);
  guint period;

  if (!th_ta_check_arg_count (USAGE, args, 1, 1, error) ||
      !th_ta_parse_period (USAGE, "period", args[0], 1, MAX_PERIOD, &period, error))
    return FALSE;

  self->period = period;
  reset (self);
  return TRUE;
}

static char **
th_atr_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

/* TA-Lib's comparisons, in its order. */
static double
true_range (double          prev_close,
            const ThCandle *candle)
{
  double greatest = candle->high - candle->low;
  double v2 = fabs (prev_close - candle->high);
  double v3 = fabs (prev_close - candle->low);

  if (v2 > greatest)
    greatest = v2;
  if (v3 > greatest)
    greatest = v3;
  return greatest;
}

/* The ATR after one more TR, from the state in @self; NaN while warming
 * up. Changes nothing. */
static double
next_atr (const ThAtr *self,
          double       tr,
          double      *seed_sum)
{
  double atr;

  if (self->n_tr < self->period)
    {
      *seed_sum = self->seed_sum + tr;
      return self->n_tr + 1 == self->period ? *seed_sum / self->period : NAN;
    }
  *seed_sum = self->seed_sum;
  atr = self->atr;
  atr *= self->period - 1;
  atr += tr;
  atr /= self->period;
  return atr;
}

static void
th_atr_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThAtr *self = TH_ATR (indicator);
  double tr, atr, seed_sum;

  if (self->period == 0)
    return;

  if (isnan (self->prev_close))
    {
      /* The first candle: no true range yet. */
      if (commit)
        self->prev_close = candle->close;
      return;
    }

  tr = true_range (self->prev_close, candle);
  atr = next_atr (self, tr, &seed_sum);
  th_indicator_values_set (values, 0, atr);
  if (!commit)
    return;  /* provisional: the forming candle leaves no trace */

  self->seed_sum = seed_sum;
  if (self->n_tr < self->period)
    self->n_tr++;
  self->atr = atr;
  self->prev_close = candle->close;
}

static void
th_atr_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_atr_configure;
  iface->get_outputs = th_atr_get_outputs;
  iface->update = th_atr_update;
}

static void
th_atr_class_init (ThAtrClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThAtr, hub));
}

static void
th_atr_class_finalize (ThAtrClass *klass)
{
}

static void
th_atr_init (ThAtr *self)
{
  reset (self);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_atr_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_ATR);
}
