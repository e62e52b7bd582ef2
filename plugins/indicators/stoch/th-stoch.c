/* th-stoch.c: stochastic oscillator, stoch(K, Ksmooth, D)
 *
 * TA-Lib's STOCH with simple moving averages (its default MA type):
 * - fast %K = 100 × (close − LL) / (HH − LL), where HH and LL are the
 *   highest high and the lowest low of the last K candles, this one
 *   included. When HH = LL (a flat window) fast %K is 0, as in TA-Lib
 *   (which tests the range against 0 and writes 0).
 * - slow %K = SMA(Ksmooth) of fast %K: output "" (`stoch`);
 * - %D = SMA(D) of slow %K: output "_d" (`stoch_d`).
 * stoch(K) is stoch(K,3,3) and stoch(K,Ksmooth) is stoch(K,Ksmooth,3),
 * TA-Lib's defaults for the two smoothings.
 *
 * Warm-up as TA-Lib: both outputs start together, at the first candle where
 * %D exists, index K + Ksmooth + D − 3 counting from 0 (the 18th candle for
 * stoch(14,3,3)); before it both are NaN (null). TA-Lib drops the earlier
 * slow %K values so that its two outputs line up; so do we.
 *
 * We compute 100 × ((close − LL) / (HH − LL)), TA-Lib
 * (close − LL) / ((HH − LL) / 100): the two can differ in the last bit, and
 * ours gives exactly 100 at the high.
 *
 * HH and LL come from monotonic deques (th_ta_extreme_*): O(1) amortized
 * per update, K entries each. The smoothings are ThTaWindows, whose sums
 * are recomputed every window so they do not drift. Every update peeks at
 * all three (what they would give with this candle) and only a closed
 * candle is then pushed: a provisional value is bit for bit what the same
 * candle gives once closed, and leaves no trace.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-ta.h"

#define MAX_PERIOD 10000
#define USAGE "stoch(14,3,3)"

#define TH_TYPE_STOCH (th_stoch_get_type ())
G_DECLARE_FINAL_TYPE (ThStoch, th_stoch, TH, STOCH, GObject)

struct _ThStoch
{
  GObject      parent_instance;
  ThHub       *hub;
  guint        k_period;
  guint        k_smooth;
  guint        d_period;
  ThTaExtreme  highest;
  ThTaExtreme  lowest;
  ThTaWindow   fast_k;     /* the last k_smooth fast %K */
  ThTaWindow   slow_k;     /* the last d_period slow %K */
};

static void th_stoch_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThStoch, th_stoch, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_stoch_indicator_init))

static gboolean
th_stoch_configure (ThIndicator       *indicator,
                    const char *const *args,
                    GError           **error)
{
  ThStoch *self = TH_STOCH (indicator);
  guint k_period, k_smooth = 3, d_period = 3;

  if (!th_ta_check_arg_count (USAGE, args, 1, 3, error) ||
      !th_ta_parse_period (USAGE, "%K period", args[0], 1, MAX_PERIOD, &k_period, error) ||
      (args[1] != NULL &&
       !th_ta_parse_period (USAGE, "%K smoothing", args[1], 1, MAX_PERIOD, &k_smooth, error)) ||
      (args[1] != NULL && args[2] != NULL &&
       !th_ta_parse_period (USAGE, "%D period", args[2], 1, MAX_PERIOD, &d_period, error)))
    return FALSE;

  self->k_period = k_period;
  self->k_smooth = k_smooth;
  self->d_period = d_period;
  th_ta_extreme_init (&self->highest, k_period, TRUE);
  th_ta_extreme_init (&self->lowest, k_period, FALSE);
  th_ta_window_init (&self->fast_k, k_smooth);
  th_ta_window_init (&self->slow_k, d_period);
  return TRUE;
}

static char **
th_stoch_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 3);

  outputs[0] = g_strdup ("");    /* slow %K, named as configured */
  outputs[1] = g_strdup ("_d");  /* %D */
  return outputs;
}

static double
fast_k (double close,
        double highest,
        double lowest)
{
  double range = highest - lowest;

  /* Divide first: exactly 100 when the close is the high. */
  return range != 0 ? 100 * ((close - lowest) / range) : 0;
}

static void
th_stoch_update (ThIndicator       *indicator,
                 const ThCandle    *candle,
                 gboolean           commit,
                 ThIndicatorValues *values)
{
  ThStoch *self = TH_STOCH (indicator);
  /* What this candle completes: fast %K once K candles are known, slow %K
   * once Ksmooth fast %K are, %D once D slow %K are. */
  gboolean has_fk = self->highest.pushed + 1 >= self->k_period;
  gboolean has_sk = has_fk && self->fast_k.count + 1 >= self->k_smooth;
  gboolean has_sd = has_sk && self->slow_k.count + 1 >= self->d_period;
  double fk = NAN, sk = NAN;

  if (self->k_period == 0)
    return;

  /* The same arithmetic for a closed and a forming candle, by peeking, so
   * that a provisional value is exactly what the close would give. */
  if (has_fk)
    fk = fast_k (candle->close,
                 th_ta_extreme_peek (&self->highest, candle->high),
                 th_ta_extreme_peek (&self->lowest, candle->low));
  if (has_sk)
    sk = th_ta_window_peek_sum (&self->fast_k, fk) / self->k_smooth;
  if (has_sd)
    {
      th_indicator_values_set (values, 0, sk);
      th_indicator_values_set (values, 1, th_ta_window_peek_sum (&self->slow_k, sk) / self->d_period);
    }

  if (!commit)
    return;  /* provisional: state unchanged */

  th_ta_extreme_push (&self->highest, candle->high);
  th_ta_extreme_push (&self->lowest, candle->low);
  if (has_fk)
    th_ta_window_push (&self->fast_k, fk);
  if (has_sk)
    th_ta_window_push (&self->slow_k, sk);
}

static void
th_stoch_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_stoch_configure;
  iface->get_outputs = th_stoch_get_outputs;
  iface->update = th_stoch_update;
}

static void
th_stoch_finalize (GObject *object)
{
  ThStoch *self = TH_STOCH (object);

  th_ta_extreme_clear (&self->highest);
  th_ta_extreme_clear (&self->lowest);
  th_ta_window_clear (&self->fast_k);
  th_ta_window_clear (&self->slow_k);
  G_OBJECT_CLASS (th_stoch_parent_class)->finalize (object);
}

static void
th_stoch_class_init (ThStochClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = th_stoch_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThStoch, hub));
}

static void
th_stoch_class_finalize (ThStochClass *klass)
{
}

static void
th_stoch_init (ThStoch *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_stoch_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_STOCH);
}
