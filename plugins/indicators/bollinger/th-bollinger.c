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
 * sum(x^2)/N - mean^2 (TA-Lib's formula) cancels catastrophically. Both
 * sums and the shift (the newest close) are recomputed from the window
 * every N updates, so rounding errors cannot add up: amortized O(1), fixed
 * memory. When the last N closes are all equal (counted with an O(1) run
 * length), the width is exactly 0 and the middle band exactly that close.
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

/* The running sums over the window, as d = close - shift. */
typedef struct
{
  guint  run;        /* how many of the newest closes are equal, up to period */
  double shift;      /* c: a close of the window */
  double sum;        /* sum of d */
  double sumsq;      /* sum of d^2 */
} Sums;

#define TH_TYPE_BOLLINGER (th_bollinger_get_type ())
G_DECLARE_FINAL_TYPE (ThBollinger, th_bollinger, TH, BOLLINGER, GObject)

struct _ThBollinger
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    period;     /* 0 until configured */
  double   width;      /* K, the multiplier */
  double  *ring;       /* the last N closes */
  guint    head;       /* next slot to write */
  guint    count;      /* closes known, up to period */
  guint    since_recompute;
  Sums     sums;
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
  g_free (self->ring);
  self->ring = g_new0 (double, period);
  self->head = self->count = self->since_recompute = 0;
  self->sums = (Sums) { 0 };
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

static double
newest (const ThBollinger *self)
{
  return self->ring[(self->head + self->period - 1) % self->period];
}

/* The sums as if @x had been pushed; does not change @self. */
static Sums
peek (const ThBollinger *self,
      double             x)
{
  Sums next = self->sums;
  double d;

  if (self->count == 0)
    next.shift = x;  /* any close of the window will do until the first recomputation */
  next.run = self->count > 0 && x == newest (self) ? MIN (next.run + 1, self->period) : 1;

  d = x - next.shift;
  next.sum += d;
  next.sumsq += d * d;
  if (self->count == self->period)
    {
      double old = self->ring[self->head] - next.shift;

      next.sum -= old;
      next.sumsq -= old * old;
    }
  return next;
}

static void
recompute (ThBollinger *self)
{
  double sum = 0, sumsq = 0;

  self->sums.shift = newest (self);
  for (guint i = 0; i < self->count; i++)
    {
      double d = self->ring[i] - self->sums.shift;

      sum += d;
      sumsq += d * d;
    }
  self->sums.sum = sum;
  self->sums.sumsq = sumsq;
  self->since_recompute = 0;
}

static void
publish (const ThBollinger *self,
         double             x,
         const Sums        *sums,
         ThIndicatorValues *values)
{
  double n = self->period;
  double middle, variance, band;

  if (sums->run >= self->period)
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
  Sums next;

  if (self->period == 0 || !isfinite (x))
    return;

  /* The bands are computed the same way for the forming candle and for a
   * closed one, so that a provisional value is exactly what the close will
   * give; a recomputation only refreshes the sums for the next closes. */
  next = peek (self, x);
  if (self->count + 1 >= self->period)
    publish (self, x, &next, values);
  if (!commit)
    return;  /* the forming candle: state unchanged */

  self->ring[self->head] = x;
  self->head = (self->head + 1) % self->period;
  if (self->count < self->period)
    self->count++;
  self->sums = next;
  if (++self->since_recompute >= self->period)
    recompute (self);
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
  g_free (TH_BOLLINGER (object)->ring);
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
