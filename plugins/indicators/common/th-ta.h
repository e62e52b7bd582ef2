/* th-ta.h: building blocks shared by the indicator plugins
 *
 * Streaming, O(1) per update, fixed memory. Every block can "peek": compute
 * what it would give for one more value without changing its state, which
 * is how indicators publish provisional values on the forming candle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <math.h>

#include <tickhub.h>

G_BEGIN_DECLS

/* Arguments of `name(arg, ...)`: each error names the indicator and says
 * how to write it; the hub prefixes "[indicators] key: ". */
gboolean th_ta_check_arg_count (const char         *usage,
                                const char *const  *args,
                                guint               min,
                                guint               max,
                                GError            **error);
gboolean th_ta_parse_period    (const char         *usage,
                                const char         *what,
                                const char         *text,
                                guint               min,
                                guint               max,
                                guint              *out,
                                GError            **error);
gboolean th_ta_parse_number    (const char         *usage,
                                const char         *what,
                                const char         *text,
                                double              min,
                                double              max,
                                double             *out,
                                GError            **error);

/* A window of the last `size` values with their running sum, recomputed
 * from the window every `size` pushes, so rounding errors cannot
 * accumulate over a long run (amortized O(1)).
 *
 * A shifted window (th_ta_window_init_shifted()), for variances, keeps the
 * sums of d = x - shift and of d^2 instead, the shift being a value of the
 * window: the first one pushed, then the newest at each recomputation. The
 * deviations are small next to the values, so a variance computed from
 * them keeps its digits when a price moves in its 8th digit, where
 * sum(x^2)/N - mean^2 cancels catastrophically. A plain window has a shift
 * of 0 and no sum of squares.
 *
 * Pushing x into a full window whose oldest value is o gives
 * sum' = sum + (x - o) in a plain window (x - o is exact for two nearby
 * prices), sum' = (sum + d) - (o - shift) in a shifted one (the order of
 * zscore_py and zscore_js), and the same for the squares. A peek does the
 * same operations as a push, so a value computed from a peek is bit for
 * bit the one computed after the push (until the recomputation). */
typedef struct
{
  double  *values;
  guint    size;
  guint    head;      /* next slot */
  guint    count;
  guint    since;     /* pushes since the last recomputation */
  gboolean shifted;
  double   shift;     /* 0 for a plain window */
  double   sum;       /* of x - shift */
  double   sumsq;     /* of (x - shift)^2; 0 for a plain window */
} ThTaWindow;

/* The sums of a window as they are, or would be after one more push. */
typedef struct
{
  double shift;
  double sum;
  double sumsq;
} ThTaWindowSums;

void     th_ta_window_init     (ThTaWindow *w,
                                guint       size);
void     th_ta_window_init_shifted (ThTaWindow *w,
                                    guint       size);
void     th_ta_window_clear    (ThTaWindow *w);
double   th_ta_window_oldest   (const ThTaWindow *w);   /* evicted by the next push; NaN if not full */

/* What an update calls is inline: a call into th-ta.c, with the
 * registers saved around it, costs about as much as the arithmetic. */

static inline gboolean
th_ta_window_full (const ThTaWindow *w)
{
  return w->count == w->size;
}

/* 0 = newest; NaN if the window holds fewer values. */
static inline double
th_ta_window_get (const ThTaWindow *w,
                  guint             age)
{
  guint i = w->head + w->size - 1 - age;   /* < 2 size */

  if (age >= w->count)
    return NAN;
  return w->values[i < w->size ? i : i - w->size];
}

static inline ThTaWindowSums
th_ta_window_sums (const ThTaWindow *w)
{
  return (ThTaWindowSums) { w->shift, w->sum, w->sumsq };
}

/* The sum of a plain window as if @x had been pushed (full or not); the
 * window is unchanged. x - o is exact for two prices within a factor of 2
 * of each other (Sterbenz): one rounding. While the window fills, the slot
 * at `head` has not been written since th_ta_window_init() zeroed it, so
 * this is sum + x then. */
static inline double
th_ta_window_peek_sum (const ThTaWindow *w,
                       double            x)
{
  return w->sum + (x - w->values[w->head]);
}

/* The sums of a shifted window as if @x had been pushed (full or not),
 * before any recomputation; the window is unchanged. */
static inline ThTaWindowSums
th_ta_window_peek_shifted (const ThTaWindow *w,
                           double            x)
{
  ThTaWindowSums next = th_ta_window_sums (w);
  double d, old;

  /* The operations of zscore_py and zscore_js, in their order. An empty
   * window takes its first value as the shift. */
  if (w->count == 0)
    next.shift = x;
  d = x - next.shift;
  next.sum += d;
  next.sumsq += d * d;
  if (w->count == w->size)
    {
      old = w->values[w->head] - next.shift;
      next.sum -= old;
      next.sumsq -= old * old;
    }
  return next;
}

/* The sums from the values: th_ta_window_push() calls it every `size`
 * pushes. */
static inline void
th_ta_window_recompute (ThTaWindow *w)
{
  double sum = 0, sumsq = 0;

  w->since = 0;
  if (!w->shifted)
    {
      for (guint i = 0; i < w->count; i++)
        sum += w->values[i];
      w->sum = sum;
      return;
    }

  w->shift = th_ta_window_get (w, 0);
  for (guint i = 0; i < w->count; i++)
    {
      double d = w->values[i] - w->shift;

      sum += d;
      sumsq += d * d;
    }
  w->sum = sum;
  w->sumsq = sumsq;
}

/* Pushes @x, whose sums @next a peek of @x just gave (the window
 * unchanged since): what an update that published from the peek then
 * commits calls, so as not to compute the sums twice. */
static inline void
th_ta_window_push_peeked (ThTaWindow           *w,
                          double                x,
                          const ThTaWindowSums *next)
{
  guint head = w->head;

  w->shift = next->shift;
  w->sum = next->sum;
  w->sumsq = next->sumsq;
  w->values[head] = x;
  w->head = head + 1 < w->size ? head + 1 : 0;
  if (w->count < w->size)
    w->count++;
  if (G_UNLIKELY (++w->since >= w->size))
    th_ta_window_recompute (w);
}

static inline void
th_ta_window_push (ThTaWindow *w,
                   double      x)
{
  ThTaWindowSums next;

  if (w->shifted)
    next = th_ta_window_peek_shifted (w, x);
  else
    next = (ThTaWindowSums) { 0.0, th_ta_window_peek_sum (w, x), 0.0 };
  th_ta_window_push_peeked (w, x, &next);
}

/* An exponential average as TA-Lib computes it: the first value is the
 * simple mean of the first `period` inputs, then v = v + alpha (x - v).
 * alpha = 2 / (period + 1) for EMA, 1 / period for Wilder's smoothing
 * (RSI, ATR). */
typedef struct
{
  guint  period;
  double alpha;
  double value;      /* NaN until warmed up */
  guint  count;
  double seed_sum;
} ThTaEma;

void     th_ta_ema_init        (ThTaEma       *e,
                                guint          period,
                                double         alpha);
gboolean th_ta_ema_ready       (const ThTaEma *e);
double   th_ta_ema_update      (ThTaEma       *e,
                                double         x);      /* the new value, or NaN while warming up */
double   th_ta_ema_peek        (const ThTaEma *e,
                                double         x);      /* the same, without committing */

/* A compensated (Neumaier) running sum: after a million additions it is
 * still within a few ulps of the exact sum (unless the terms cancel out
 * almost entirely), where a plain sum loses every term smaller than half
 * an ulp of the total. */
typedef struct
{
  double sum;
  double comp;       /* the low-order bits lost by `sum` */
} ThTaSum;

void     th_ta_sum_reset       (ThTaSum       *s);
void     th_ta_sum_add         (ThTaSum       *s,
                                double         x);
double   th_ta_sum_value       (const ThTaSum *s);
double   th_ta_sum_peek        (const ThTaSum *s,
                                double         x);      /* the value as if @x had been added */

/* The highest (or lowest) of the last `size` values, O(1) amortized: a
 * monotonic deque of (index, value) in a ring of `size` slots. Each value
 * enters and leaves the deque once. Like th_ta_window_init(), init takes a
 * zeroed or already initialized struct and can be called again. */
typedef struct
{
  guint64 *index;
  double  *value;
  guint    size;
  guint    front;     /* slot of the oldest entry */
  guint    len;       /* entries in the deque */
  guint64  pushed;    /* values pushed so far; the next gets this index */
  gboolean highest;
} ThTaExtreme;

void     th_ta_extreme_init    (ThTaExtreme       *e,
                                guint              size,
                                gboolean           highest);
void     th_ta_extreme_clear   (ThTaExtreme       *e);
gboolean th_ta_extreme_full    (const ThTaExtreme *e);   /* `size` values pushed */
void     th_ta_extreme_push    (ThTaExtreme       *e,
                                double             x);
double   th_ta_extreme_get     (const ThTaExtreme *e);   /* of the last `size` values; NaN if none */
double   th_ta_extreme_peek    (const ThTaExtreme *e,
                                double             x);   /* as if @x had been pushed */

G_END_DECLS
