/* th-ta.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "th-ta.h"

gboolean
th_ta_check_arg_count (const char         *usage,
                       const char *const  *args,
                       guint               min,
                       guint               max,
                       GError            **error)
{
  guint n = args != NULL ? g_strv_length ((char **) args) : 0;

  if (n < min || n > max)
    {
      if (min == max)
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "takes %u argument%s, not %u; write it like %s",
                     min, min == 1 ? "" : "s", n, usage);
      else
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "takes %u to %u arguments, not %u; write it like %s",
                     min, max, n, usage);
      return FALSE;
    }
  return TRUE;
}

gboolean
th_ta_parse_period (const char  *usage,
                    const char  *what,
                    const char  *text,
                    guint        min,
                    guint        max,
                    guint       *out,
                    GError     **error)
{
  guint64 v;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, min, max, &v, NULL))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "%s “%s” is not a whole number from %u to %u; write it like %s",
                   what, text != NULL ? text : "", min, max, usage);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

gboolean
th_ta_parse_number (const char  *usage,
                    const char  *what,
                    const char  *text,
                    double       min,
                    double       max,
                    double      *out,
                    GError     **error)
{
  char *end = NULL;
  double v = text != NULL ? g_ascii_strtod (text, &end) : NAN;

  if (text == NULL || end == text || *end != '\0' || !isfinite (v) || v < min || v > max)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "%s “%s” is not a number from %g to %g; write it like %s",
                   what, text != NULL ? text : "", min, max, usage);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

void
th_ta_window_init (ThTaWindow *w,
                   guint       size)
{
  g_free (w->values);
  *w = (ThTaWindow) { 0 };
  w->size = MAX (size, 1);
  w->values = g_new0 (double, w->size);
}

void
th_ta_window_init_shifted (ThTaWindow *w,
                           guint       size)
{
  th_ta_window_init (w, size);
  w->shifted = TRUE;
}

void
th_ta_window_clear (ThTaWindow *w)
{
  g_clear_pointer (&w->values, g_free);
  *w = (ThTaWindow) { 0 };
}

double
th_ta_window_oldest (const ThTaWindow *w)
{
  return w->count == w->size ? w->values[w->head] : NAN;
}

void
th_ta_ema_init (ThTaEma *e,
                guint    period,
                double   alpha)
{
  *e = (ThTaEma) { .period = MAX (period, 1), .alpha = alpha, .value = NAN };
}

gboolean
th_ta_ema_ready (const ThTaEma *e)
{
  return e->count >= e->period;
}

double
th_ta_ema_peek (const ThTaEma *e,
                double         x)
{
  if (e->count + 1 < e->period)
    return NAN;
  if (e->count + 1 == e->period)
    return (e->seed_sum + x) / e->period;
  return e->value + e->alpha * (x - e->value);
}

double
th_ta_ema_update (ThTaEma *e,
                  double   x)
{
  double v = th_ta_ema_peek (e, x);

  if (e->count < e->period)
    e->seed_sum += x;
  e->count++;
  if (!isnan (v))
    e->value = v;
  return v;
}

void
th_ta_sum_reset (ThTaSum *s)
{
  *s = (ThTaSum) { 0 };
}

static inline void
neumaier_add (double *sum,
              double *comp,
              double  x)
{
  double t = *sum + x;

  if (fabs (*sum) >= fabs (x))
    *comp += (*sum - t) + x;
  else
    *comp += (x - t) + *sum;
  *sum = t;
}

void
th_ta_sum_add (ThTaSum *s,
               double   x)
{
  neumaier_add (&s->sum, &s->comp, x);
}

double
th_ta_sum_value (const ThTaSum *s)
{
  return s->sum + s->comp;
}

double
th_ta_sum_peek (const ThTaSum *s,
                double         x)
{
  double sum = s->sum, comp = s->comp;

  neumaier_add (&sum, &comp, x);
  return sum + comp;
}

void
th_ta_extreme_init (ThTaExtreme *e,
                    guint        size,
                    gboolean     highest)
{
  th_ta_extreme_clear (e);
  e->size = MAX (size, 1);
  e->highest = highest;
  e->index = g_new0 (guint64, e->size);
  e->value = g_new0 (double, e->size);
}

void
th_ta_extreme_clear (ThTaExtreme *e)
{
  g_clear_pointer (&e->index, g_free);
  g_clear_pointer (&e->value, g_free);
  *e = (ThTaExtreme) { 0 };
}

gboolean
th_ta_extreme_full (const ThTaExtreme *e)
{
  return e->pushed >= e->size;
}

/* @a displaces @b from the back of the deque. */
static inline gboolean
extreme_dominates (const ThTaExtreme *e,
                   double             a,
                   double             b)
{
  return e->highest ? a >= b : a <= b;
}

void
th_ta_extreme_push (ThTaExtreme *e,
                    double       x)
{
  guint64 n = e->pushed;
  guint slot;

  /* The entry that leaves the window (at most one, the front). */
  if (e->len > 0 && n >= e->size && e->index[e->front] <= n - e->size)
    {
      e->front = (e->front + 1) % e->size;
      e->len--;
    }
  /* Entries that can never be the extreme again. */
  while (e->len > 0)
    {
      guint back = (e->front + e->len - 1) % e->size;

      if (!extreme_dominates (e, x, e->value[back]))
        break;
      e->len--;
    }
  slot = (e->front + e->len) % e->size;
  e->index[slot] = n;
  e->value[slot] = x;
  e->len++;
  e->pushed = n + 1;
}

double
th_ta_extreme_get (const ThTaExtreme *e)
{
  return e->len > 0 ? e->value[e->front] : NAN;
}

double
th_ta_extreme_peek (const ThTaExtreme *e,
                    double             x)
{
  guint64 n = e->pushed;
  guint first = 0;
  double best;

  /* Skip the front if @x would push it out of the window; the next entry
   * is then the extreme of the rest. */
  if (e->len > 0 && n >= e->size && e->index[e->front] <= n - e->size)
    first = 1;
  if (first >= e->len)
    return x;
  best = e->value[(e->front + first) % e->size];
  return extreme_dominates (e, x, best) ? x : best;
}
