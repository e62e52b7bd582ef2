/* th-bollinger.c: Bollinger Bands of the close, bollinger(N,K)
 *
 * As TA-Lib's BBANDS with an SMA middle band (TA_BBANDS, MA type SMA,
 * nbDevUp = nbDevDn = K), as StockCharts and John Bollinger define them:
 *
 *   middle = mean of the last N closes                (SMA(N))
 *   sd     = sqrt(sum((close - middle)^2) / N)       (POPULATION standard deviation)
 *   upper  = middle + K sd
 *   lower  = middle - K sd
 *
 * Warm-up: no value (null) until the N-th close (index N-1), as TA-Lib.
 *
 * Numerics. The variance is computed from running sums of the closes
 * minus a shift c taken from the window itself (d = close - c):
 *
 *   variance = (sum(d^2) - sum(d) * (sum(d) / N)) / N,   clamped at 0
 *   middle   = c + sum(d) / N
 *
 * Because c is close to the prices, the subtraction loses almost nothing
 * even for a coin whose price moves in its 8th digit, where the textbook
 * sum(x^2)/N - mean^2 (TA-Lib's formula) cancels catastrophically. The
 * closes and both sums are a shifted ThTaWindow, which recomputes the sums
 * and the shift (the newest close) from the window every N updates, so
 * rounding errors cannot add up: amortized O(1), fixed memory. When the
 * last N closes are all equal (counted with an O(1) run length), the width
 * is exactly 0 and the middle band exactly that close.
 *
 * One deliberate difference: TA-Lib reports a standard deviation of 0
 * whenever the variance is below an absolute epsilon (1e-8 in TA-Lib 0.4
 * to 0.6), which collapses the bands whenever the standard deviation is
 * below 1e-4 (a coin priced in cents, a quiet stablecoin); we only clamp a
 * negative rounding residue to 0.
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
#define MIN_WIDTH 0.01   /* K, in standard deviations */
#define MAX_WIDTH 10.0
#define USAGE "bollinger(20,2)"

enum {
  OUTPUT_MIDDLE,
  OUTPUT_UPPER,
  OUTPUT_LOWER,
};

#define TH_TYPE_BOLLINGER (th_bollinger_get_type ())
G_DECLARE_FINAL_TYPE (ThBollinger, th_bollinger, TH, BOLLINGER, GObject)

struct _ThBollinger
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;     /* 0 until configured */
  double   width;      /* K, the multiplier */
  ThTaWindow window;   /* the last N closes, sums of d = close - shift and d^2 */
  guint    run;        /* how many of the newest closes are equal, up to period */
};

static void th_bollinger_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThBollinger, th_bollinger, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_bollinger_indicator_init))

static gboolean
th_bollinger_configure (ThIndicator       *indicator,
                        const char *const *args,
                        GError           **error)
{
  ThBollinger *self = TH_BOLLINGER (indicator);
  guint period;
  double width;

  if (!th_ta_check_arg_count (USAGE, args, 2, 2, error) ||
      !th_ta_parse_period (USAGE, "bollinger period", args[0], 1, MAX_PERIOD, &period, error) ||
      !th_ta_parse_number (USAGE, "bollinger multiplier", args[1], MIN_WIDTH, MAX_WIDTH, &width, error))
    return FALSE;

  self->period = period;
  self->width = width;
  th_ta_window_init_shifted (&self->window, period);
  self->run = 0;
  return TRUE;
}

static char **
th_bollinger_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 4);

  outputs[OUTPUT_MIDDLE] = g_strdup ("");
  outputs[OUTPUT_UPPER] = g_strdup ("_upper");
  outputs[OUTPUT_LOWER] = g_strdup ("_lower");
  return outputs;
}

/* The run length as if @x had been pushed (the newest close of an empty
 * window is NaN, equal to nothing). */
static guint
peek_run (const ThBollinger *self,
          double             x)
{
  return x == th_ta_window_get (&self->window, 0) ? MIN (self->run + 1, self->period) : 1;
}

static void
publish (const ThBollinger    *self,
         double                x,
         guint                 run,
         const ThTaWindowSums *sums,
         ThIndicatorValues    *values)
{
  double n = self->period;
  double middle, variance, band;

  if (run >= self->period)
    {
      /* The last N closes are all x. */
      middle = x;
      band = 0;
    }
  else
    {
      middle = sums->shift + sums->sum / n;
      variance = (sums->sumsq - sums->sum * (sums->sum / n)) / n;
      band = self->width * sqrt (MAX (variance, 0.0));
    }
  th_indicator_values_set (values, OUTPUT_MIDDLE, middle);
  th_indicator_values_set (values, OUTPUT_UPPER, middle + band);
  th_indicator_values_set (values, OUTPUT_LOWER, middle - band);
}

static void
th_bollinger_update (ThIndicator       *indicator,
                     const ThCandle    *candle,
                     gboolean           commit,
                     ThIndicatorValues *values)
{
  ThBollinger *self = TH_BOLLINGER (indicator);
  double x = candle->close;
  ThTaWindowSums next;
  guint run;

  if (self->period == 0 || !isfinite (x))
    return;

  /* The bands are computed the same way for the forming candle and for a
   * closed one, so that a provisional value is exactly what the close will
   * give; a recomputation only refreshes the sums for the next closes. */
  next = th_ta_window_peek_shifted (&self->window, x);
  run = peek_run (self, x);
  if (self->window.count + 1 >= self->period)
    publish (self, x, run, &next, values);
  if (!commit)
    return;  /* the forming candle: state unchanged */

  th_ta_window_push_peeked (&self->window, x, &next);
  self->run = run;
}

static void
th_bollinger_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_bollinger_configure;
  iface->get_outputs = th_bollinger_get_outputs;
  iface->update = th_bollinger_update;
}

static void
th_bollinger_finalize (GObject *object)
{
  th_ta_window_clear (&TH_BOLLINGER (object)->window);
  G_OBJECT_CLASS (th_bollinger_parent_class)->finalize (object);
}

static void
th_bollinger_class_init (ThBollingerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = th_bollinger_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThBollinger, hub));
}

static void
th_bollinger_class_finalize (ThBollingerClass *klass)
{
}

static void
th_bollinger_init (ThBollinger *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_bollinger_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_BOLLINGER);
}
