/* th-rsi.c: Wilder's relative strength index of the close, rsi(N)
 *
 * TA-Lib's RSI (TA_RSI, default compatibility, no unstable period), which
 * is Wilder's original:
 *
 *   change[i]   = close[i] - close[i-1]                   (from the 2nd close)
 *   gain, loss  = max(change, 0), max(-change, 0)
 *   avg_gain    = mean of the gains of the first N changes      (the seed)
 *   avg_gain'   = (avg_gain (N - 1) + gain) / N                 (Wilder's smoothing)
 *   (avg_loss the same with the losses)
 *   rsi         = 100 avg_gain / (avg_gain + avg_loss)
 *
 * which is 100 - 100 / (1 + RS) with RS = avg_gain / avg_loss, written so
 * that it needs no special case when avg_loss is 0: a market that only rose
 * gives 100, one that only fell gives 0. When both averages are 0 (no
 * close has moved since the indicator started) TA-Lib gives 0, and so do
 * we.
 *
 * Warm-up: the first value needs N changes, so N + 1 closes: it is at index
 * N (counting closes from 0), TA-Lib's lookback of N. Before that: null.
 *
 * One deliberate difference: TA-Lib tests "avg_gain + avg_loss is zero"
 * against an absolute epsilon (1e-8 in TA-Lib 0.4 to 0.6), which would
 * report 0 for a coin priced in millionths of a dollar, and after a few
 * hundred unchanged closes anywhere; we test for exactly 0. The two agree
 * whenever the average absolute change is above 1e-8.
 *
 * The operations are done in TA-Lib's order (multiply by N - 1, add, divide
 * by N), so for a series that starts with the first candle we see, the
 * values are TA-Lib's to the last bit or so. The smoothing forgets its
 * rounding errors geometrically, so nothing drifts; O(1) and fixed memory
 * per update.
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
#define USAGE "rsi(14)"

#define TH_TYPE_RSI (th_rsi_get_type ())
G_DECLARE_FINAL_TYPE (ThRsi, th_rsi, TH, RSI, GObject)

struct _ThRsi
{
  GObject   parent_instance;
  ThHub    *hub;
  guint     period;     /* 0 until configured */
  gboolean  has_prev;
  double    prev;       /* the last committed close */
  guint     changes;    /* changes seen, up to period */
  double    avg_gain;   /* the sums of the first changes while warming up */
  double    avg_loss;
};

static void th_rsi_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThRsi, th_rsi, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_rsi_indicator_init))

static gboolean
th_rsi_configure (ThIndicator       *indicator,
                  const char *const *args,
                  GError           **error)
{
  ThRsi *self = TH_RSI (indicator);
  guint period;

  if (!th_ta_check_arg_count (USAGE, args, 1, 1, error) ||
      !th_ta_parse_period (USAGE, "rsi period", args[0], 1, MAX_PERIOD, &period, error))
    return FALSE;

  self->period = period;
  self->has_prev = FALSE;
  self->prev = 0;
  self->changes = 0;
  self->avg_gain = self->avg_loss = 0;
  return TRUE;
}

static char **
th_rsi_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 2);

  outputs[0] = g_strdup ("");  /* one output, named as configured */
  return outputs;
}

/* The state after the close @x, written into the out parameters; returns
 * the RSI, or NaN while warming up. Does not change @self. */
static double
step (const ThRsi *self,
      double       x,
      guint       *changes,
      double      *avg_gain,
      double      *avg_loss)
{
  double change = x - self->prev;
  double gain = 0, loss = 0;
  double sum;

  *changes = self->changes;
  *avg_gain = self->avg_gain;
  *avg_loss = self->avg_loss;
  if (!self->has_prev)
    return NAN;  /* the first close has no change */

  if (change < 0)
    loss = -change;
  else
    gain = change;

  if (*changes < self->period)
    {
      /* Warming up: sum the first N changes, then take their mean. */
      *avg_gain += gain;
      *avg_loss += loss;
      if (++*changes < self->period)
        return NAN;
      *avg_gain /= self->period;
      *avg_loss /= self->period;
    }
  else
    {
      *avg_gain = (*avg_gain * (self->period - 1) + gain) / self->period;
      *avg_loss = (*avg_loss * (self->period - 1) + loss) / self->period;
    }

  sum = *avg_gain + *avg_loss;
  return sum == 0 ? 0.0 : 100.0 * (*avg_gain / sum);
}

static void
th_rsi_update (ThIndicator       *indicator,
               const ThCandle    *candle,
               gboolean           commit,
               ThIndicatorValues *values)
{
  ThRsi *self = TH_RSI (indicator);
  double x = candle->close;
  guint changes;
  double avg_gain, avg_loss;
  double rsi;

  if (self->period == 0 || !isfinite (x))
    return;

  rsi = step (self, x, &changes, &avg_gain, &avg_loss);
  if (commit)
    {
      self->has_prev = TRUE;
      self->prev = x;
      self->changes = changes;
      self->avg_gain = avg_gain;
      self->avg_loss = avg_loss;
    }
  /* else: the forming candle as if it were the next close; state unchanged. */
  th_indicator_values_set (values, 0, rsi);
}

static void
th_rsi_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_rsi_configure;
  iface->get_outputs = th_rsi_get_outputs;
  iface->update = th_rsi_update;
}

static void
th_rsi_class_init (ThRsiClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThRsi, hub));
}

static void
th_rsi_class_finalize (ThRsiClass *klass)
{
}

static void
th_rsi_init (ThRsi *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_rsi_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_RSI);
}
