/* th-macd.c: moving average convergence/divergence, macd(fast,slow,signal)
 *
 * TA-Lib's MACD (TA_MACD, default compatibility), e.g. macd(12,26,9):
 *
 *   line      = EMA(fast) - EMA(slow)        of the close
 *   signal    = EMA(signal) of the line
 *   histogram = line - signal
 *
 * Every EMA is TA-Lib's: alpha = 2 / (period + 1), seeded with the simple
 * mean of its first `period` inputs. TA-Lib aligns the two EMAs of the
 * close so that both seed on the same bar: the slow EMA is seeded with the
 * mean of closes 0 .. slow-1, and the fast one with the mean of the last
 * `fast` of those, closes slow-fast .. slow-1 (not with closes 0 .. fast-1:
 * the fast EMA simply does not look at the first slow-fast closes). The
 * signal EMA is seeded with the mean of the first `signal` values of the
 * line.
 *
 * Warm-up (indexes count closes from 0):
 *   line               from index slow - 1
 *   signal, histogram  from index slow + signal - 2  (TA-Lib's lookback)
 * and null before. TA-Lib publishes nothing before slow + signal - 2; we
 * publish the line as soon as it exists, with the same values.
 *
 * fast must be less than slow: macd(26,12,9) is a configuration error
 * (TA-Lib silently swaps them).
 *
 * The operations are done in TA-Lib's order, so for a series that starts
 * with the first candle we see, the values are TA-Lib's to the last bit or
 * so. O(1) and fixed memory per update; the EMAs forget their rounding
 * errors geometrically, so nothing drifts.
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
#define USAGE "macd(12,26,9)"

enum {
  OUTPUT_LINE,
  OUTPUT_SIGNAL,
  OUTPUT_HISTOGRAM,
};

#define TH_TYPE_MACD (th_macd_get_type ())
G_DECLARE_FINAL_TYPE (ThMacd, th_macd, TH, MACD, GObject)

struct _ThMacd
{
  GObject  parent_instance;
  ThHub   *hub;
  guint    fast_period;   /* 0 until configured */
  guint    slow_period;
  guint    skipped;       /* closes not shown to the fast EMA, up to slow - fast */
  ThTaEma  fast;
  ThTaEma  slow;
  ThTaEma  signal;
};

static void th_macd_indicator_init (ThIndicatorInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThMacd, th_macd, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_INDICATOR, th_macd_indicator_init))

static double
alpha (guint period)
{
  return 2.0 / (double) (period + 1);
}

static gboolean
th_macd_configure (ThIndicator       *indicator,
                   const char *const *args,
                   GError           **error)
{
  ThMacd *self = TH_MACD (indicator);
  guint fast, slow, signal;

  if (!th_ta_check_arg_count (USAGE, args, 3, 3, error) ||
      !th_ta_parse_period (USAGE, "macd fast period", args[0], 1, MAX_PERIOD, &fast, error) ||
      !th_ta_parse_period (USAGE, "macd slow period", args[1], 1, MAX_PERIOD, &slow, error) ||
      !th_ta_parse_period (USAGE, "macd signal period", args[2], 1, MAX_PERIOD, &signal, error))
    return FALSE;
  if (fast >= slow)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "macd fast period “%s” is not less than the slow period “%s”; write it like %s",
                   args[0], args[1], USAGE);
      return FALSE;
    }

  self->fast_period = fast;
  self->slow_period = slow;
  self->skipped = 0;
  th_ta_ema_init (&self->fast, fast, alpha (fast));
  th_ta_ema_init (&self->slow, slow, alpha (slow));
  th_ta_ema_init (&self->signal, signal, alpha (signal));
  return TRUE;
}

static char **
th_macd_get_outputs (ThIndicator *indicator)
{
  char **outputs = g_new0 (char *, 4);

  outputs[OUTPUT_LINE] = g_strdup ("");
  outputs[OUTPUT_SIGNAL] = g_strdup ("_signal");
  outputs[OUTPUT_HISTOGRAM] = g_strdup ("_histogram");
  return outputs;
}

static void
th_macd_update (ThIndicator       *indicator,
                const ThCandle    *candle,
                gboolean           commit,
                ThIndicatorValues *values)
{
  ThMacd *self = TH_MACD (indicator);
  double x = candle->close;
  /* The fast EMA starts after the first slow - fast closes (see above). */
  gboolean fast_sees = self->skipped >= self->slow_period - self->fast_period;
  double fast, slow, line, signal;

  if (self->fast_period == 0 || !isfinite (x))
    return;

  if (commit)
    {
      if (fast_sees)
        fast = th_ta_ema_update (&self->fast, x);
      else
        {
          fast = NAN;
          self->skipped++;
        }
      slow = th_ta_ema_update (&self->slow, x);
    }
  else
    {
      /* The forming candle as if it were the next close; state unchanged. */
      fast = fast_sees ? th_ta_ema_peek (&self->fast, x) : NAN;
      slow = th_ta_ema_peek (&self->slow, x);
    }

  /* Both EMAs seed on the same bar, so both are NaN or neither is. */
  if (isnan (fast) || isnan (slow))
    return;
  line = fast - slow;
  signal = commit ? th_ta_ema_update (&self->signal, line) : th_ta_ema_peek (&self->signal, line);

  th_indicator_values_set (values, OUTPUT_LINE, line);
  if (!isnan (signal))
    {
      th_indicator_values_set (values, OUTPUT_SIGNAL, signal);
      th_indicator_values_set (values, OUTPUT_HISTOGRAM, line - signal);
    }
}

static void
th_macd_indicator_init (ThIndicatorInterface *iface)
{
  iface->configure = th_macd_configure;
  iface->get_outputs = th_macd_get_outputs;
  iface->update = th_macd_update;
}

static void
th_macd_class_init (ThMacdClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThMacd, hub));
}

static void
th_macd_class_finalize (ThMacdClass *klass)
{
}

static void
th_macd_init (ThMacd *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_macd_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_INDICATOR, TH_TYPE_MACD);
}
