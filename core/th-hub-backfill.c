/* th-hub-backfill.c: filling the history store's gaps from the venues
 *
 * The hub asks its history store (ThHistory) which closed candles of a
 * range it has, and the feed plugins that implement ThBackfill for the
 * periods it lacks: in the order of [prices] order (then the other
 * providers, in the order they were loaded), each provider for what the
 * ones before it could not give. What a provider gives is written with
 * th_history_store_candles_async() (origin `backfill:NAME`, never over a
 * stored candle) before anyone is answered, so that a query made then
 * finds it.
 *
 * One fetch per missing run of periods of a series at a time: a request
 * whose missing periods are being fetched already waits for that fetch
 * instead of starting another. Periods fetched in the last BACKFILL_RETRY
 * (whether a venue had them or not) are not asked for again: a period no
 * venue has stays missing, and reported, without hammering the venues.
 *
 * At start (th_hub_start()) every series is backfilled from the last
 * `[tickhub] backfill` (7 days by default) up to the last closed period;
 * the warm-up's query (th-hub-events.c) goes through the same code, so it
 * waits for the fetches of its periods and feeds what they stored.
 *
 * Everything runs in the main context, asynchronously; the fetches are
 * cancelled when the hub stops.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-hub-private.h"

/* A period asked for is not asked for again before this. */
#define BACKFILL_RETRY     (10 * 60 * G_USEC_PER_SEC)
/* A period is complete this long after its end: the live candle of the
 * period that just ended is the series' to close and store, not a venue's. */
#define BACKFILL_SETTLE    (5 * G_USEC_PER_SEC)

typedef struct
{
  gint64 from;
  gint64 to;
  gint64 expires;             /* recent: not asked for again before */
} Range;

typedef struct _Fetch Fetch;

typedef struct
{
  char   *key;
  GList  *fetches;            /* Fetch*: in flight */
  GArray *recent;             /* Range: fetched lately */
} BfSeries;

/* One ensure: a GTask's data. */
typedef struct
{
  char    *symbol;
  gint64   duration;
  gint64   from;
  gint64   to;
  guint    pending;           /* fetches it waits for */
} Ensure;

struct _Fetch
{
  ThHub      *hub;            /* a reference */
  BfSeries   *series;         /* the hub's; NULL once the hub let go */
  char       *symbol;
  gint64      duration;
  gint64      from;
  gint64      to;
  GArray     *left;           /* Range: not given yet, by this provider's turn */
  GArray     *next_left;      /* Range: left for the next provider */
  GArray     *holes;          /* Range: of the run being stored, not given */
  guint       run;            /* index in left */
  GPtrArray  *providers;      /* ThBackfill* (references), in order */
  guint       provider;
  GPtrArray  *waiters;        /* GTask* of Ensure */
  GCancellable *cancellable;  /* the hub's backfill cancellable */
};

static void
bf_series_free (gpointer data)
{
  BfSeries *s = data;

  /* Fetches still in flight finish on their own, without their series. */
  for (GList *l = s->fetches; l != NULL; l = l->next)
    ((Fetch *) l->data)->series = NULL;
  g_list_free (s->fetches);
  g_array_unref (s->recent);
  g_free (s->key);
  g_free (s);
}

static void
ensure_free (Ensure *e)
{
  g_free (e->symbol);
  g_free (e);
}

static gint64
align_down (gint64 t,
            gint64 d)
{
  return t - (((t % d) + d) % d);
}

static gint64
align_up (gint64 t,
          gint64 d)
{
  gint64 down = align_down (t, d);

  return down == t ? t : down + d;
}

/* _th_hub_backfill_window: The periods of [@from, @to) that can be complete now: the starts from
 * @from (rounded up) to the last period that ended BACKFILL_SETTLE ago,
 * the latest @limit of them. Returns FALSE when there are none.
 */
gboolean
_th_hub_backfill_window (ThHub  *self,
                         gint64  duration,
                         gint64  from,
                         gint64  to,
                         guint   limit,
                         gint64 *wfrom,
                         gint64 *wto)
{
  gint64 now = th_clock_get_time (self->clock);
  gint64 last_end = align_down (now - BACKFILL_SETTLE, duration);
  gint64 a = align_up (from, duration);
  gint64 b = MIN (align_up (to, duration), last_end);

  if (limit > 0 && b - a > (gint64) limit * duration)
    a = b - (gint64) limit * duration;
  *wfrom = a;
  *wto = b;
  return a < b;
}

/* The runs of periods of [@from, @to) with no candle in @candles (oldest
 * first), as Range. */
GArray *
_th_hub_backfill_missing (GPtrArray *candles,
                          gint64     duration,
                          gint64     from,
                          gint64     to)
{
  GArray *runs = g_array_new (FALSE, FALSE, sizeof (Range));
  gint64 t = from;

  for (guint i = 0; i <= (candles != NULL ? candles->len : 0) && t < to; i++)
    {
      gint64 next = candles != NULL && i < candles->len ? ((ThCandle *) candles->pdata[i])->start : to;

      if (next < t)
        continue;
      next = MIN (next, to);
      if (next > t)
        {
          Range r = { t, next, 0 };

          g_array_append_val (runs, r);
        }
      t = next + duration;
    }
  return runs;
}

/* @runs minus [@from, @to). */
static void
subtract (GArray *runs,
          gint64  from,
          gint64  to)
{
  for (guint i = 0; i < runs->len; i++)
    {
      Range *r = &g_array_index (runs, Range, i);

      if (r->to <= from || r->from >= to)
        continue;
      if (r->from < from && r->to > to)
        {
          Range tail = { to, r->to, 0 };

          r->to = from;
          g_array_insert_val (runs, i + 1, tail);
          i++;
        }
      else if (r->from < from)
        r->to = from;
      else if (r->to > to)
        r->from = to;
      else
        g_array_remove_index (runs, i--);
    }
}

/* The providers, in the order of [prices] order, then the others. */
static GPtrArray *
providers_of (ThHub *self)
{
  GPtrArray *providers = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto(GStrv) order = th_price_book_get_order (self->book);
  g_autoptr(GPtrArray) rest = g_ptr_array_new ();

  for (guint i = 0; i < self->feeds->len; i++)
    {
      ThFeedSource *feed = self->feeds->pdata[i];

      if (TH_IS_BACKFILL (feed) && !_th_hub_feed_is_disabled (self, feed))
        g_ptr_array_add (rest, feed);
    }
  for (guint o = 0; order != NULL && order[o] != NULL; o++)
    for (guint i = 0; i < rest->len; i++)
      {
        g_autofree char *name = th_feed_source_get_source_name (rest->pdata[i]);

        if (g_strcmp0 (name, order[o]) == 0)
          {
            g_ptr_array_add (providers, g_object_ref (rest->pdata[i]));
            g_ptr_array_remove_index (rest, i);
            break;
          }
      }
  for (guint i = 0; i < rest->len; i++)
    g_ptr_array_add (providers, g_object_ref (rest->pdata[i]));
  return providers;
}

/* _th_hub_backfill_enabled: Whether the hub fills gaps: `[tickhub] backfill` is not false, a store
 * that takes candles is registered, and a feed can fetch them.
 */
gboolean
_th_hub_backfill_enabled (ThHub *self)
{
  if (self->backfill_max == 0 || self->history_provider == NULL || self->stopping ||
      self->backfill_cancellable == NULL || g_cancellable_is_cancelled (self->backfill_cancellable) ||
      !th_history_can_store_candles (self->history_provider))
    return FALSE;
  for (guint i = 0; i < self->feeds->len; i++)
    if (TH_IS_BACKFILL (self->feeds->pdata[i]) && !_th_hub_feed_is_disabled (self, self->feeds->pdata[i]))
      return TRUE;
  return FALSE;
}

/* Fetching */

static void fetch_next (Fetch *f);

static void
fetch_free (Fetch *f)
{
  g_array_unref (f->left);
  g_array_unref (f->next_left);
  g_array_unref (f->holes);
  g_ptr_array_unref (f->providers);
  g_ptr_array_unref (f->waiters);
  g_clear_object (&f->cancellable);
  g_free (f->symbol);
  g_object_unref (f->hub);
  g_free (f);
}

static void
fetch_done (Fetch *f)
{
  gint64 now = th_clock_get_time (f->hub->clock);

  if (f->series != NULL)
    {
      Range r = { f->from, f->to, now + BACKFILL_RETRY };

      f->series->fetches = g_list_remove (f->series->fetches, f);
      /* Asked for, had or not: not asked for again for a while (unless
       * the fetch was cut short by the stop). */
      if (!g_cancellable_is_cancelled (f->cancellable))
        g_array_append_val (f->series->recent, r);
    }
  if (f->left->len > 0 && !g_cancellable_is_cancelled (f->cancellable))
    {
      guint64 n = 0;

      for (guint i = 0; i < f->left->len; i++)
        {
          Range *r = &g_array_index (f->left, Range, i);

          n += (guint64) ((r->to - r->from) / f->duration);
        }
      g_message ("backfill: %s %" G_GINT64_FORMAT " s: %" G_GUINT64_FORMAT " period%s no venue could give "
                 "(of %" G_GINT64_FORMAT "); they stay missing", f->symbol, f->duration / G_USEC_PER_SEC,
                 n, n == 1 ? "" : "s", (f->to - f->from) / f->duration);
    }

  for (guint i = 0; i < f->waiters->len; i++)
    {
      GTask *task = f->waiters->pdata[i];
      Ensure *e = g_task_get_task_data (task);

      if (--e->pending == 0)
        g_task_return_boolean (task, TRUE);
    }
  fetch_free (f);
}

static void
on_stored (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fetch *f = user_data;
  g_autoptr(GError) error = NULL;

  if (th_history_store_candles_finish (TH_HISTORY (source), result, &error))
    g_array_append_vals (f->next_left, f->holes->data, f->holes->len);
  else
    {
      Range *r = &g_array_index (f->left, Range, f->run);

      /* Cancelled: the hub stops; the store writes what it has queued. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_warning ("backfill: %s: the store could not write the fetched candles: %s", f->symbol, error->message);
      /* Not stored: as good as not given. */
      g_array_append_val (f->next_left, *r);
    }
  g_array_set_size (f->holes, 0);
  f->run++;
  fetch_next (f);
}

static void
on_fetched (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Fetch *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) trades = NULL;
  g_autoptr(GPtrArray) candles = th_backfill_fetch_candles_finish (TH_BACKFILL (source), result, &trades, &error);
  g_autofree char *name = th_feed_source_get_source_name (TH_FEED_SOURCE (source));
  Range run = g_array_index (f->left, Range, f->run);
  g_autoptr(GPtrArray) kept = NULL;
  g_autoptr(GArray) kept_trades = NULL;
  g_autoptr(GArray) holes = NULL;
  g_autofree char *origin = NULL;
  gint64 last = G_MININT64;
  ThHistory *history = f->hub->history_provider;

  if (candles == NULL)
    {
      /* A timeframe the venue does not have is no news. */
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        g_debug ("backfill: %s from %s: %s", f->symbol, name, error->message);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("backfill: %s from %s: %s; asking the next venue", f->symbol, name, error->message);
      g_array_append_val (f->next_left, run);
      f->run++;
      fetch_next (f);
      return;
    }

  /* Only whole, aligned periods of the run, once each, oldest first: a
   * provider's stray rows are not the store's. */
  kept = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  kept_trades = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < candles->len; i++)
    {
      ThCandle *c = candles->pdata[i];
      gint64 n = trades != NULL && i < trades->len ? g_array_index (trades, gint64, i) : -1;

      if (c->duration != f->duration || c->start < run.from || c->start >= run.to || c->start <= last ||
          align_down (c->start, f->duration) != c->start ||
          !(c->low > 0 && c->high >= c->low && c->open >= c->low && c->open <= c->high &&
            c->close >= c->low && c->close <= c->high && isfinite (c->high)) ||
          (isfinite (c->volume) && c->volume < 0))
        continue;
      last = c->start;
      c = th_candle_copy (c);
      c->closed = TRUE;
      g_ptr_array_add (kept, c);
      g_array_append_val (kept_trades, n);
    }
  holes = _th_hub_backfill_missing (kept, f->duration, run.from, run.to);

  if (kept->len == 0 || history == NULL)
    {
      g_array_append_vals (f->next_left, holes->data, holes->len);
      f->run++;
      fetch_next (f);
      return;
    }
  /* What the store writes is given; the holes are the next provider's. */
  g_array_append_vals (f->holes, holes->data, holes->len);
  origin = g_strdup_printf ("backfill:%s", name);
  g_info ("backfill: %s %" G_GINT64_FORMAT " s: %u candles from %s", f->symbol, f->duration / G_USEC_PER_SEC,
          kept->len, name);
  th_history_store_candles_async (history, f->symbol, origin, name, kept, kept_trades, f->cancellable,
                                  on_stored, f);
}

/* The next run with this provider, the next provider, or done. */
static void
fetch_next (Fetch *f)
{
  for (;;)
    {
      if (g_cancellable_is_cancelled (f->cancellable) || f->hub->history_provider == NULL)
        {
          fetch_done (f);
          return;
        }
      if (f->run < f->left->len)
        {
          Range *r = &g_array_index (f->left, Range, f->run);

          th_backfill_fetch_candles_async (f->providers->pdata[f->provider], f->symbol, f->duration,
                                           r->from, r->to, f->cancellable, on_fetched, f);
          return;
        }
      /* This provider's turn is over: the next one gets what is left. */
      g_array_set_size (f->left, 0);
      g_array_append_vals (f->left, f->next_left->data, f->next_left->len);
      g_array_set_size (f->next_left, 0);
      f->run = 0;
      f->provider++;
      if (f->left->len == 0 || f->provider >= f->providers->len)
        {
          fetch_done (f);
          return;
        }
    }
}

static BfSeries *
series_of (ThHub      *self,
           const char *symbol,
           gint64      duration)
{
  g_autofree char *key = g_strdup_printf ("%s\n%" G_GINT64_FORMAT, symbol, duration);
  BfSeries *s = g_hash_table_lookup (self->backfills, key);

  if (s == NULL)
    {
      s = g_new0 (BfSeries, 1);
      s->key = g_steal_pointer (&key);
      s->recent = g_array_new (FALSE, FALSE, sizeof (Range));
      g_hash_table_insert (self->backfills, s->key, s);
    }
  return s;
}

/* Registers the fetches @task waits for: runs of @missing not fetched
 * lately, joined to the fetches in flight that cover them, new ones for
 * the rest. */
static void
ensure_fetch (ThHub  *self,
              GTask  *task,
              GArray *missing)
{
  Ensure *e = g_task_get_task_data (task);
  BfSeries *s = series_of (self, e->symbol, e->duration);
  gint64 now = th_clock_get_time (self->clock);
  g_autoptr(GPtrArray) providers = NULL;
  g_autoptr(GPtrArray) created = NULL;

  for (guint i = 0; i < s->recent->len; i++)
    {
      Range *r = &g_array_index (s->recent, Range, i);

      if (r->expires <= now)
        g_array_remove_index (s->recent, i--);
      else
        subtract (missing, r->from, r->to);
    }
  for (GList *l = s->fetches; l != NULL && missing->len > 0; l = l->next)
    {
      Fetch *f = l->data;
      gboolean overlaps = FALSE;

      for (guint i = 0; i < missing->len && !overlaps; i++)
        {
          Range *r = &g_array_index (missing, Range, i);

          overlaps = r->from < f->to && r->to > f->from;
        }
      if (!overlaps)
        continue;
      subtract (missing, f->from, f->to);
      g_ptr_array_add (f->waiters, g_object_ref (task));
      e->pending++;
    }
  if (missing->len == 0)
    return;

  providers = providers_of (self);
  if (providers->len == 0)
    return;
  created = g_ptr_array_new ();
  for (guint i = 0; i < missing->len; i++)
    {
      Range *r = &g_array_index (missing, Range, i);
      Fetch *f = g_new0 (Fetch, 1);

      f->hub = g_object_ref (self);
      f->series = s;
      f->symbol = g_strdup (e->symbol);
      f->duration = e->duration;
      f->from = r->from;
      f->to = r->to;
      f->left = g_array_new (FALSE, FALSE, sizeof (Range));
      f->next_left = g_array_new (FALSE, FALSE, sizeof (Range));
      f->holes = g_array_new (FALSE, FALSE, sizeof (Range));
      g_array_append_val (f->left, *r);
      f->providers = g_ptr_array_ref (providers);
      f->waiters = g_ptr_array_new_with_free_func (g_object_unref);
      g_ptr_array_add (f->waiters, g_object_ref (task));
      f->cancellable = g_object_ref (self->backfill_cancellable);
      e->pending++;
      s->fetches = g_list_prepend (s->fetches, f);
      g_ptr_array_add (created, f);
    }
  /* Started once they are all registered: a provider may answer at once,
   * and the last fetch to finish answers the task. */
  for (guint i = 0; i < created->len; i++)
    fetch_next (created->pdata[i]);
}

static void
on_ensure_queried (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Ensure *e = g_task_get_task_data (task);
  ThHub *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) candles = th_history_query_candles_finish (TH_HISTORY (source), result, &error);
  g_autoptr(GArray) missing = NULL;

  if (candles == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!_th_hub_backfill_enabled (self))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  missing = _th_hub_backfill_missing (candles, e->duration, e->from, e->to);
  ensure_fetch (self, task, missing);
  if (e->pending == 0)
    g_task_return_boolean (task, TRUE);
}

/* _th_hub_backfill_ensure_async: Makes sure the store has what the venues can give of the periods that
 * start in [@from, @to) (aligned, complete: see _th_hub_backfill_window()):
 * asks the store what it has, fetches the rest (or waits for the fetch in
 * flight), and completes once what was fetched is stored. Completes with
 * %TRUE at once when nothing is missing or backfill is off.
 */
void
_th_hub_backfill_ensure_async (ThHub               *self,
                               const char          *symbol,
                               gint64               duration,
                               gint64               from,
                               gint64               to,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Ensure *e = g_new0 (Ensure, 1);

  g_task_set_source_tag (task, _th_hub_backfill_ensure_async);
  g_task_set_name (task, "[hub] backfill");
  e->symbol = g_strdup (symbol);
  e->duration = duration;
  e->from = from;
  e->to = to;
  g_task_set_task_data (task, e, (GDestroyNotify) ensure_free);

  if (from >= to || !_th_hub_backfill_enabled (self))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  th_history_query_candles_async (self->history_provider, symbol, duration, from, to,
                                  (guint) MIN ((to - from) / duration + 1, G_MAXUINT),
                                  self->backfill_cancellable, on_ensure_queried, g_steal_pointer (&task));
}

gboolean
_th_hub_backfill_ensure_finish (ThHub         *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_start_backfilled (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!_th_hub_backfill_ensure_finish (TH_HUB (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_message ("backfill at start: %s", error->message);
}

/* _th_hub_backfill_start: At start: every series is backfilled from `[tickhub] backfill` ago to
 * its last complete period.
 */
void
_th_hub_backfill_start (ThHub *self)
{
  gint64 now;

  g_clear_object (&self->backfill_cancellable);
  self->backfill_cancellable = g_cancellable_new ();
  if (!_th_hub_backfill_enabled (self) || self->states == NULL)
    return;

  now = th_clock_get_time (self->clock);
  for (guint s = 0; self->symbols[s] != NULL; s++)
    for (guint t = 0; t < self->n_timeframes; t++)
      {
        gint64 d = self->timeframes[t].duration, from, to;

        if (_th_hub_backfill_window (self, d, now - self->backfill_max, now, 0, &from, &to))
          _th_hub_backfill_ensure_async (self, self->symbols[s], d, from, to, NULL, on_start_backfilled, NULL);
      }
}

/* _th_hub_backfill_stop: Cancels the fetches in flight; whoever waits for them is answered with
 * what the store has.
 */
void
_th_hub_backfill_stop (ThHub *self)
{
  if (self->backfill_cancellable != NULL)
    g_cancellable_cancel (self->backfill_cancellable);
}

GHashTable *
_th_hub_backfill_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, NULL, bf_series_free);
}

/* _th_hub_backfill_configure: `[tickhub] backfill`: how far back the start backfill reaches (an age
 * such as 7d, 12h, 2w; at most 366d), or false to fetch nothing.
 */
void
_th_hub_backfill_configure (ThHub     *self,
                            GPtrArray *problems)
{
  g_autofree char *text = th_config_get_string (self->config, "tickhub", "backfill", NULL);
  guint64 n = 0;
  gint64 unit = 0;
  gsize len;

  self->backfill_max = DEFAULT_BACKFILL;
  if (text == NULL || g_str_equal (text, "true") || g_str_equal (text, "yes"))
    return;
  if (g_str_equal (text, "false") || g_str_equal (text, "no") || g_str_equal (text, "off") ||
      g_str_equal (text, "0"))
    {
      self->backfill_max = 0;
      return;
    }
  len = strlen (text);
  switch (len > 1 ? text[len - 1] : '\0')
    {
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: break;
    }
  if (unit != 0)
    {
      g_autofree char *digits = g_strndup (text, len - 1);

      if (!g_ascii_isdigit (digits[0]) || !g_ascii_string_to_unsigned (digits, 10, 1, 366 * 86400, &n, NULL))
        n = 0;
    }
  if (unit == 0 || n == 0 || n * (guint64) unit > 366 * 86400)
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("[tickhub] backfill: “%s” is not an age; give how far back the start "
                                        "fetches missing candles from the venues, such as 7d, 12h or 2w (at most "
                                        "366d), or false to fetch none", text));
      return;
    }
  self->backfill_max = (gint64) n * unit * G_USEC_PER_SEC;
}
