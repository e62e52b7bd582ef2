/* th-ta.h: building blocks shared by the indicator plugins
 *
 * Streaming, O(1) per update, fixed memory. Every block can "peek": compute
 * what it would give for one more value without changing its state, which
 * is how indicators publish provisional values on the forming candle.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

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

/* A window of the last `size` values with their sum and sum of squares.
 * Both are recomputed from the window every `size` pushes, so rounding
 * errors cannot accumulate over a long run (amortized O(1)). */
typedef struct
{
  double *values;
  guint   size;
  guint   head;      /* next slot */
  guint   count;
  guint   since;     /* pushes since the last recomputation */
  double  sum;
  double  sumsq;
} ThTaWindow;

void     th_ta_window_init     (ThTaWindow *w,
                                guint       size);
void     th_ta_window_clear    (ThTaWindow *w);
gboolean th_ta_window_full     (const ThTaWindow *w);
double   th_ta_window_oldest   (const ThTaWindow *w);   /* evicted by the next push; NaN if not full */
double   th_ta_window_get      (const ThTaWindow *w,
                                guint       age);        /* 0 = newest */
void     th_ta_window_push     (ThTaWindow *w,
                                double      x);
/* Sum and sum of squares as if @x had been pushed (window full or not). */
double   th_ta_window_peek_sum   (const ThTaWindow *w,
                                  double            x);
double   th_ta_window_peek_sumsq (const ThTaWindow *w,
                                  double            x);

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
