/* store.c: the store sink's figures, on a real SQLite file in a temp dir
 *
 * 1. Ticks written per second with ticks=true: N trades pushed through the
 *    hub (price book, candles, events), written by the store's writer
 *    thread; the rate is N over the time from the first push until the
 *    flush says everything is in the file (and the push time alone). Then
 *    the store alone: N ::price-changed emitted directly.
 * 2. Candles written per second: one trade a minute for several symbols,
 *    each closing a 1m candle, timed the same way.
 * 3. The time to answer 43,200 1-minute candles (30 days) from the store:
 *    through the ThHistory interface with a limit of 43,200 (one query,
 *    one read in a thread), and through th_hub_get_history_async() in
 *    pages of 10,000 (its limit, and REST's); first (cold) and the median
 *    of the next runs.
 * 4. Main-loop latency while the store writes: a 1 ms timer in the main
 *    loop records how late each of its callbacks runs (p50, p99, max)
 *    while the main loop feeds ticks through the hub and the writer thread
 *    writes them (ticks=true), and the same with ticks=false (nothing to
 *    write) as the baseline.
 *
 *    meson devenv -C build bench/store [N_TICKS]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "th-private.h"
#include "bench-hub.h"

#define MINUTE      (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define N_CANDLES   43200      /* 30 days of 1m candles */
#define PAGE        10000

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static ThHub *
make_hub (const char *db,
          gboolean    ticks,
          const char *symbols)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store\nsymbols=%s\ntimeframes=1m\n"
                                           "[store]\npath=%s\nticks=%s\nmax-queue=5000000\n"
                                           "retention=ticks:forever;candles:forever\n",
                                           symbols, db, ticks ? "true" : "false");
  ThHub *hub = bench_hub_new (text, NULL);

  th_hub_start (hub);
  return hub;
}

static void
on_flushed (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;

  if (!th_sink_flush_finish (TH_SINK (source), result, &error))
    g_error ("flush: %s", error->message);
  *done = TRUE;
}

static void
flush (ThHub *hub)
{
  gboolean done = FALSE;

  th_sink_flush_async (TH_SINK (th_hub_get_history (hub)), NULL, on_flushed, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
stop (ThHub *hub)
{
  bench_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  g_object_unref (hub);
}

static void
push_trade (ThHub      *hub,
            const char *symbol,
            double      price,
            gint64      time)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, "binance", TH_TICK_KIND_TRADE, price, time);

  tick->size = 0.5;
  th_hub_push_tick (hub, tick);
}

static guint64
stat_of (ThHub      *hub,
         const char *name)
{
  g_autoptr(GVariant) stats = th_history_get_stats (th_hub_get_history (hub));
  guint64 v = 0;

  g_variant_lookup (stats, name, "t", &v);
  return v;
}

/* 1. */
static void
bench_ticks (const char *dir,
             guint       n)
{
  g_autofree char *db = g_build_filename (dir, "ticks.db", NULL);
  ThHub *hub = make_hub (db, TRUE, "BTC");
  gint64 t0 = g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  double start, pushed, written;

  flush (hub);   /* the file is open and the schema made */
  start = now_s ();
  for (guint i = 0; i < n; i++)
    push_trade (hub, "BTC", 40000 + (i % 1000) * 0.01, t0 + i);   /* a new price each time */
  pushed = now_s ();
  flush (hub);
  written = now_s ();
  printf ("ticks (ticks=true): %u ticks written in %.2f s: %.0f ticks/s (goal 200,000); "
          "pushing them through the hub alone took %.2f s (%.0f/s)\n",
          (guint) stat_of (hub, "ticks"), written - start, stat_of (hub, "ticks") / (written - start),
          pushed - start, n / (pushed - start));
  if (stat_of (hub, "dropped") > 0)
    printf ("  (%" G_GUINT64_FORMAT " dropped: the queue was full)\n", stat_of (hub, "dropped"));

  /* The store alone: the hub's ::price-changed, which is what the store
   * takes ticks from, emitted directly (no price book, no candles). */
  {
    g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, 40000, t0);
    guint64 before = stat_of (hub, "ticks");

    tick->size = 0.5;
    tick->receive_time = t0;
    start = now_s ();
    for (guint i = 0; i < n; i++)
      {
        tick->exchange_time = t0 + n + i;
        tick->price = 40000 + (i % 1000) * 0.01;
        g_signal_emit_by_name (hub, "price-changed", "BTC", tick);
      }
    pushed = now_s ();
    flush (hub);
    written = now_s ();
    printf ("ticks, the store alone (::price-changed emitted directly): %" G_GUINT64_FORMAT " ticks written in "
            "%.2f s: %.0f ticks/s (queueing them took %.2f s)\n", stat_of (hub, "ticks") - before,
            written - start, (stat_of (hub, "ticks") - before) / (written - start), pushed - start);
  }
  stop (hub);
}

/* 2. and 3.: the candles stay in the file for the queries. */
static char *
bench_candles (const char *dir,
               gint64     *first_start)
{
  static const char *const symbols[] = { "BTC", "ETH", "SOL", "XRP" };
  char *db = g_build_filename (dir, "candles.db", NULL);
  ThHub *hub = make_hub (db, FALSE, "BTC;ETH;SOL;XRP");
  guint minutes = N_CANDLES + 100;
  gint64 t0 = (g_get_real_time () / MINUTE - minutes - 10) * MINUTE;
  double start, pushed, written;
  guint64 n;

  *first_start = t0;
  flush (hub);
  start = now_s ();
  for (guint m = 0; m <= minutes; m++)
    for (guint s = 0; s < G_N_ELEMENTS (symbols); s++)
      push_trade (hub, symbols[s], 100 + m % 50 + s, t0 + (gint64) m * MINUTE + G_USEC_PER_SEC);
  pushed = now_s ();
  flush (hub);
  written = now_s ();
  n = stat_of (hub, "candles");
  printf ("candles: %" G_GUINT64_FORMAT " 1m candles written in %.2f s: %.0f candles/s "
          "(one trade per candle; the hub alone took %.2f s)\n", n, written - start, n / (written - start),
          pushed - start);
  stop (hub);
  return db;
}

typedef struct
{
  GPtrArray *result;
  gboolean   done;
} Answer;

static void
on_candles (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Answer *a = user_data;
  g_autoptr(GError) error = NULL;

  a->result = th_history_query_candles_finish (TH_HISTORY (source), result, &error);
  if (a->result == NULL)
    g_error ("query: %s", error->message);
  a->done = TRUE;
}

static void
on_page (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Answer *a = user_data;
  g_autoptr(GError) error = NULL;

  a->result = th_hub_get_history_finish (TH_HUB (source), result, &error);
  if (a->result == NULL)
    g_error ("query: %s", error->message);
  a->done = TRUE;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* One query of 43,200 through the interface; ms. */
static double
query_once (ThHub  *hub,
            gint64  from,
            gint64  to,
            guint  *count)
{
  Answer a = { 0 };
  double t = now_s ();

  th_history_query_candles_async (th_hub_get_history (hub), "BTC", MINUTE, from, to, N_CANDLES, NULL,
                                  on_candles, &a);
  while (!a.done)
    g_main_context_iteration (NULL, TRUE);
  t = now_s () - t;
  *count = a.result->len;
  g_ptr_array_unref (a.result);
  return t * 1000;
}

/* The same through the hub, newest page first, 10,000 at a time; ms. */
static double
query_paged (ThHub  *hub,
             gint64  from,
             gint64  to,
             guint  *count,
             guint  *pages)
{
  double t = now_s ();

  *count = 0;
  *pages = 0;
  while (*count < N_CANDLES)
    {
      Answer a = { 0 };

      th_hub_get_history_async (hub, "BTC", "1m", from, to, MIN (PAGE, N_CANDLES - *count), NULL, on_page, &a);
      while (!a.done)
        g_main_context_iteration (NULL, TRUE);
      (*pages)++;
      *count += a.result->len;
      if (a.result->len == 0)
        {
          g_ptr_array_unref (a.result);
          break;
        }
      to = ((ThCandle *) a.result->pdata[0])->start;   /* the page before the oldest */
      g_ptr_array_unref (a.result);
    }
  return (now_s () - t) * 1000;
}

static void
bench_query (const char *db,
             gint64      first_start)
{
  g_autofree char *dir = g_path_get_dirname (db);
  ThHub *hub = make_hub (db, FALSE, "BTC;ETH;SOL;XRP");
  gint64 from = first_start;
  gint64 to = first_start + (gint64) N_CANDLES * MINUTE;
  double runs[11], paged[5];
  guint count = 0, pages = 0;

  flush (hub);
  for (guint i = 0; i < G_N_ELEMENTS (runs); i++)
    runs[i] = query_once (hub, from, to, &count);
  qsort (runs + 1, G_N_ELEMENTS (runs) - 1, sizeof (double), compare_double);
  printf ("query: %u 1m candles (30 days) through ThHistory with limit 43,200: first %.1f ms, "
          "median of 10 more %.1f ms, best %.1f ms (goal < 50 ms)\n",
          count, runs[0], runs[1 + (G_N_ELEMENTS (runs) - 1) / 2], runs[1]);
  for (guint i = 0; i < G_N_ELEMENTS (paged); i++)
    paged[i] = query_paged (hub, from, to, &count, &pages);
  qsort (paged, G_N_ELEMENTS (paged), sizeof (double), compare_double);
  printf ("query: the same %u candles through th_hub_get_history_async in %u pages of at most 10,000 "
          "(REST's limit): median of 5 %.1f ms\n", count, pages, paged[G_N_ELEMENTS (paged) / 2]);
  stop (hub);
}

/* 4. */
typedef struct
{
  GArray  *lateness;     /* double, ms */
  gint64   next;         /* monotonic µs the next callback is due */
} Timer;

static gboolean
on_tick (gpointer data)
{
  Timer *t = data;
  gint64 now = g_get_monotonic_time ();
  double late = (now - t->next) / 1000.0;

  g_array_append_val (t->lateness, late);
  t->next = now + 1000;
  return G_SOURCE_CONTINUE;
}

static void
print_lateness (const char *label,
                GArray     *lateness)
{
  double *v = (double *) lateness->data;
  guint n = lateness->len;

  if (n == 0)
    return;
  qsort (v, n, sizeof (double), compare_double);
  printf ("%s: %u timer callbacks, lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
          label, n, v[n / 2], v[(guint) (n * 0.99)], v[n - 1]);
}

typedef struct
{
  ThHub  *hub;
  gint64  t0;
  guint   i;
  guint   per_ms;
} Feeder;

static gboolean
on_feed (gpointer data)
{
  Feeder *f = data;

  for (guint k = 0; k < f->per_ms; k++, f->i++)
    push_trade (f->hub, "BTC", 40000 + (f->i % 1000) * 0.01, f->t0 + f->i);
  return G_SOURCE_CONTINUE;
}

/* The main loop feeds @per_ms ticks every millisecond through the hub for
 * @seconds while a 1 ms timer records its own lateness; with ticks=true the
 * writer thread writes them all the while, with ticks=false it has nothing
 * to write: the difference is the store's. */
static void
bench_latency_run (const char *dir,
                   gboolean    ticks,
                   guint       per_ms,
                   double      seconds)
{
  g_autofree char *db = g_build_filename (dir, ticks ? "latency-ticks.db" : "latency.db", NULL);
  ThHub *hub = make_hub (db, ticks, "BTC");
  Timer timer = { g_array_new (FALSE, FALSE, sizeof (double)), 0 };
  Feeder feeder = { hub, g_get_real_time () - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC, 0, per_ms };
  g_autofree char *label = NULL;
  double start;
  guint feed_id, timer_id;

  flush (hub);
  timer.next = g_get_monotonic_time () + 1000;
  timer_id = g_timeout_add (1, on_tick, &timer);
  feed_id = g_timeout_add (1, on_feed, &feeder);
  start = now_s ();
  while (now_s () - start < seconds)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (feed_id);
  g_source_remove (timer_id);
  flush (hub);
  label = g_strdup_printf ("  %s: %u ticks fed in %.1f s (%.0f/s), %" G_GUINT64_FORMAT " written",
                           ticks ? "ticks=true (the writer busy) " : "ticks=false (the writer idle)",
                           feeder.i, seconds, feeder.i / seconds, stat_of (hub, "ticks"));
  print_lateness (label, timer.lateness);
  g_array_unref (timer.lateness);
  stop (hub);
}

static void
bench_latency (const char *dir)
{
  printf ("main loop lateness of a 1 ms timer, the main loop feeding 100 ticks every ms:\n");
  bench_latency_run (dir, FALSE, 100, 5);
  bench_latency_run (dir, TRUE, 100, 5);
}

int
main (int   argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 1000000;
  g_autofree char *dir = g_dir_make_tmp ("tickhub-bench-store-XXXXXX", NULL);
  g_autofree char *candles_db = NULL;
  gint64 first_start = 0;
  const char *name;
  GDir *d;

  g_assert_nonnull (dir);
  printf ("bench/store: SQLite %s, in %s\n", sqlite3_libversion (), dir);
  bench_ticks (dir, n);
  candles_db = bench_candles (dir, &first_start);
  bench_query (candles_db, first_start);
  bench_latency (dir);

  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (dir);
  return 0;
}
