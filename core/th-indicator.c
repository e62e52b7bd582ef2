/* th-indicator.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

struct _ThIndicatorValues
{
  guint  n_values;
  double values[TH_INDICATOR_MAX_OUTPUTS];
};

G_DEFINE_BOXED_TYPE (ThIndicatorValues, th_indicator_values,
                     th_indicator_values_copy, th_indicator_values_free)

/**
 * th_indicator_values_new:
 * @n_values: number of outputs, at most %TH_INDICATOR_MAX_OUTPUTS
 *
 * Creates room for the outputs of one indicator. A larger @n_values is
 * capped to %TH_INDICATOR_MAX_OUTPUTS.
 *
 * Returns: (transfer full): values, all NaN; free them with
 *   th_indicator_values_free()
 */
ThIndicatorValues *
th_indicator_values_new (guint n_values)
{
  ThIndicatorValues *values = g_new0 (ThIndicatorValues, 1);

  values->n_values = MIN (n_values, TH_INDICATOR_MAX_OUTPUTS);
  th_indicator_values_reset (values);
  return values;
}

/**
 * th_indicator_values_copy:
 * @values: a #ThIndicatorValues
 *
 * Copies @values, a plain value without references.
 *
 * Returns: (transfer full): a copy
 */
ThIndicatorValues *
th_indicator_values_copy (const ThIndicatorValues *values)
{
  return g_memdup2 (values, sizeof *values);
}

/**
 * th_indicator_values_free:
 * @values: (transfer full): a #ThIndicatorValues
 *
 * Frees @values.
 */
void
th_indicator_values_free (ThIndicatorValues *values)
{
  g_free (values);
}

/**
 * th_indicator_values_get_n_values:
 * @values: a #ThIndicatorValues
 *
 * How many outputs @values holds: the number given to
 * th_indicator_values_new(), capped to %TH_INDICATOR_MAX_OUTPUTS.
 *
 * Returns: the number of outputs
 */
guint
th_indicator_values_get_n_values (const ThIndicatorValues *values)
{
  g_return_val_if_fail (values != NULL, 0);
  return values->n_values;
}

/**
 * th_indicator_values_set:
 * @values: a #ThIndicatorValues
 * @index: the output, in the order of th_indicator_get_outputs()
 * @value: its value; NaN means not warmed up
 *
 * Sets an output. Out-of-range indexes are ignored.
 */
void
th_indicator_values_set (ThIndicatorValues *values,
                         guint              index,
                         double             value)
{
  g_return_if_fail (values != NULL);
  if (index < values->n_values)
    values->values[index] = value;
}

/**
 * th_indicator_values_get:
 * @values: a #ThIndicatorValues
 * @index: the output
 *
 * Reads an output, in the order of th_indicator_get_outputs().
 *
 * Returns: the value of output @index, NaN if unset or out of range
 */
double
th_indicator_values_get (const ThIndicatorValues *values,
                         guint                    index)
{
  g_return_val_if_fail (values != NULL, NAN);
  return index < values->n_values ? values->values[index] : NAN;
}

/**
 * th_indicator_values_reset:
 * @values: a #ThIndicatorValues
 *
 * Sets every output back to NaN.
 */
void
th_indicator_values_reset (ThIndicatorValues *values)
{
  g_return_if_fail (values != NULL);
  for (guint i = 0; i < TH_INDICATOR_MAX_OUTPUTS; i++)
    values->values[i] = NAN;
}

/**
 * ThIndicator:
 *
 * A streaming technical indicator over candles. Implementations are
 * libpeas extensions receiving the #ThHub in the construct-only
 * #ThIndicator:hub property.
 */
G_DEFINE_INTERFACE (ThIndicator, th_indicator, G_TYPE_OBJECT)

static void
th_indicator_default_init (ThIndicatorInterface *iface)
{
  /**
   * ThIndicator:hub:
   *
   * The hub that created the indicator.
   */
  g_object_interface_install_property (iface,
    g_param_spec_object ("hub", NULL, NULL, TH_TYPE_HUB,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

/**
 * th_indicator_configure:
 * @self: a #ThIndicator
 * @args: (array zero-terminated=1): the arguments of `plugin(arg,...)`
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Gives the indicator the arguments of its `[indicators]` entry, as
 * strings with surrounding spaces removed: `{"12", "26", "9"}` for
 * `macd(12,26,9)`, an empty array for `obv` or `obv()`. The indicator
 * checks and keeps them. The hub calls it once per instance, right after
 * creating it and before any update. An indicator without a `configure`
 * vfunc accepts any arguments.
 *
 * Returns: %TRUE if the arguments are valid
 */
gboolean
th_indicator_configure (ThIndicator       *self,
                        const char *const *args,
                        GError           **error)
{
  ThIndicatorInterface *iface;

  g_return_val_if_fail (TH_IS_INDICATOR (self), FALSE);

  iface = TH_INDICATOR_GET_IFACE (self);
  if (iface->configure == NULL)
    return TRUE;
  return iface->configure (self, args, error);
}

/**
 * th_indicator_get_outputs:
 * @self: a #ThIndicator
 *
 * The suffixes the hub appends to the configured name to name each output
 * in `technical_indicators_update` events: `{"", "_signal", "_histogram"}`
 * for `macd=macd(12,26,9)` gives `macd`, `macd_signal` and
 * `macd_histogram`. An indicator without a `get_outputs` vfunc, or that
 * returns no suffix, has one output, named as configured. The hub uses at
 * most %TH_INDICATOR_MAX_OUTPUTS of them.
 *
 * Returns: (transfer full) (array zero-terminated=1): the output suffixes;
 *   `{""}` for a single output
 */
char **
th_indicator_get_outputs (ThIndicator *self)
{
  ThIndicatorInterface *iface;
  char **outputs = NULL;

  g_return_val_if_fail (TH_IS_INDICATOR (self), NULL);

  iface = TH_INDICATOR_GET_IFACE (self);
  if (iface->get_outputs != NULL)
    outputs = iface->get_outputs (self);
  if (outputs == NULL || outputs[0] == NULL)
    {
      g_strfreev (outputs);
      outputs = g_new0 (char *, 2);
      outputs[0] = g_strdup ("");
    }
  return outputs;
}

/**
 * th_indicator_update:
 * @self: a #ThIndicator
 * @candle: a candle
 * @commit: %TRUE for a closed candle, %FALSE for the forming one
 * @values: where to write the outputs; all NaN on entry
 *
 * Feeds one candle to the indicator.
 */
void
th_indicator_update (ThIndicator       *self,
                     const ThCandle    *candle,
                     gboolean           commit,
                     ThIndicatorValues *values)
{
  ThIndicatorInterface *iface;

  g_return_if_fail (TH_IS_INDICATOR (self));
  g_return_if_fail (candle != NULL && values != NULL);

  iface = TH_INDICATOR_GET_IFACE (self);
  if (iface->update != NULL)
    iface->update (self, candle, commit, values);
}
