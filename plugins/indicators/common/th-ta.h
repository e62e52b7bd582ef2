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

G_END_DECLS
