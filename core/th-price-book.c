/* th-price-book.c: one trustworthy price per symbol
 *
 * The book keeps, per symbol, the latest state of every source (a merged
 * tick: a trade updates the price and keeps the source's last bid, ask and
 * 24 h figures). The selected source of a symbol is the first source of the
 * order whose state is younger than that source's TTL, measured on the
 * receive time. Sources not in the configured order rank after it, in the
 * order they first appear.
 *
 * Expiry is noticed by a clock deadline, not by the next tick: one deadline
 * at the earliest expiry of the selected sources. Refreshing a source only
 * moves its expiry later, so the deadline is re-armed only when an earlier
 * one is needed; a deadline that fires early just re-checks and re-arms.
 *
 * When no source is fresh, the symbol has no price: the book never answers
 * with a stale or invented one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <math.h>

#include "th-private.h"

typedef struct
{
  const char *name;      /* interned */
  gint64      ttl;
  gboolean    ticked;    /* it gave a tick, of any symbol */
  guint       index;     /* its slot in each Book's states (sources are never removed) */
} Source;

typedef struct
{
  const char *symbol;    /* interned */
  GHashTable *entries;   /* source name (interned) → ThTick (merged state) */
  const char *selected;  /* interned, or NULL */
  const char *diverged;  /* the first fresh source, flagged as deviating; or NULL */
  gboolean    skipping;  /* the selection passed over it ([prices] divergence-action=skip) */
  ThMarketHours *market; /* the hub's, or NULL: trades all the time */
  GPtrArray  *order;     /* Source*: this symbol's own order, before the book's; or NULL */
  /* The values of entries again, by Source index (NULL: none), borrowed:
   * the per-tick reads are an index instead of a hash lookup. Written
   * only with book_put(), with entries. */
  ThTick    **states;
  guint       n_states;
} Book;

/* At most this many fresh sources are compared for a symbol. */
#define MAX_COMPARED 16
/* A flagged source is cleared when it is back within this share of the
 * threshold, so a price hovering at the threshold does not flap. */
#define DIVERGENCE_CLEAR 0.8

struct _ThPriceBook
{
  GObject     parent_instance;

  ThClock    *clock;
  GPtrArray  *order;     /* Source*, in priority order */
  GHashTable *sources;   /* name → Source* */
  guint       n_sources; /* the next Source's index */
  GHashTable *books;     /* symbol → Book* */
  GHashTable *reasons;   /* source → why it is not live; not itself a price source */

  guint       timer_id;
  gint64      timer_at;
  gboolean    expiry_stopped;  /* _th_price_book_stop_expiry() */
  GHashTable *feeds;           /* the loaded feeds' sources (_th_price_book_set_feeds()), or NULL */

  /* [prices] divergence (_th_price_book_set_divergence()); 0: off */
  double           divergence_bps;
  gboolean         divergence_skip;
  ThDivergenceFunc divergence_func;
  gpointer         divergence_data;
  const char      *change_reason;  /* during source-changed: "divergence", "agreement" or NULL */

  /* The last update's source and book (never freed before the book):
   * a feed gives the ticks of one source, often of one symbol, in a row;
   * a string comparison instead of a hash lookup. */
  Source          *last_src;
  Book            *last_book;
};

enum {
  SOURCE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/**
 * ThPriceBook:
 *
 * The resolver: one trustworthy price per symbol, or an explicit none.
 *
 * The book keeps, per symbol, the latest state of every source: a merged
 * #ThTick, in which a trade updates the price and keeps the source's last
 * bid, ask and 24 h figures. The selected source of a symbol is the first
 * source of the priority order whose state is younger than that source's
 * TTL, measured on the receive time with the book's clock. The order is the
 * one given to th_price_book_set_order() (the hub's `[prices] order`),
 * followed by the other sources in the order they first appear.
 *
 * #ThPriceBook::source-changed tells when the selection changes, including
 * when the selected source expires and no other one is fresh: the book
 * never answers with a stale or invented price (th_price_book_lookup()
 * fails with %TH_ERROR_NO_SOURCE and says why, source by source). Expiry
 * is noticed with a single clock deadline at the earliest expiry of the
 * selected sources, not by the next tick.
 *
 * The hub owns one book (th_hub_get_price_book()), fed by
 * th_hub_push_tick(); only ticks of the selected source go on to candles
 * and `financial_data_update` events.
 */
G_DEFINE_FINAL_TYPE (ThPriceBook, th_price_book, G_TYPE_OBJECT)

static void
source_free (gpointer data)
{
  g_free (data);
}

static void
book_free (gpointer data)
{
  Book *book = data;

  g_hash_table_unref (book->entries);
  g_clear_pointer (&book->order, g_ptr_array_unref);
  g_free (book->states);
  g_free (book);
}

static void
th_price_book_dispose (GObject *object)
{
  ThPriceBook *self = TH_PRICE_BOOK (object);

  if (self->timer_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->timer_id);
      self->timer_id = 0;
    }
  g_clear_object (&self->clock);
  G_OBJECT_CLASS (th_price_book_parent_class)->dispose (object);
}

static void
th_price_book_finalize (GObject *object)
{
  ThPriceBook *self = TH_PRICE_BOOK (object);

  g_clear_pointer (&self->books, g_hash_table_unref);
  g_clear_pointer (&self->sources, g_hash_table_unref);
  g_clear_pointer (&self->reasons, g_hash_table_unref);
  g_clear_pointer (&self->feeds, g_hash_table_unref);
  g_clear_pointer (&self->order, g_ptr_array_unref);
  G_OBJECT_CLASS (th_price_book_parent_class)->finalize (object);
}

static void
th_price_book_class_init (ThPriceBookClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_price_book_dispose;
  object_class->finalize = th_price_book_finalize;

  /**
   * ThPriceBook::source-changed:
   * @self: the price book
   * @symbol: the symbol
   * @from: (nullable): the source selected until now
   * @to: (nullable): the source selected from now on; %NULL when no source
   *   is fresh any more
   *
   * The selected source of @symbol changed.
   */
  signals[SOURCE_CHANGED] =
    g_signal_new ("source-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
th_price_book_init (ThPriceBook *self)
{
  self->order = g_ptr_array_new ();
  self->sources = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, source_free);
  self->books = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, book_free);
  self->reasons = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * th_price_book_new:
 * @clock: (nullable): the clock; %NULL for the real one
 *
 * Creates a price book that measures freshness and schedules its expiry
 * deadline with @clock. It knows no source and no symbol until
 * th_price_book_set_order(), th_price_book_set_ttl() or
 * th_price_book_update() adds them.
 *
 * Returns: (transfer full): a new, empty price book
 */
ThPriceBook *
th_price_book_new (ThClock *clock)
{
  ThPriceBook *self = g_object_new (TH_TYPE_PRICE_BOOK, NULL);

  self->clock = clock != NULL ? g_object_ref (clock) : th_clock_new ();
  return self;
}

static Source *
get_source (ThPriceBook *self,
            const char  *name)
{
  Source *src = g_hash_table_lookup (self->sources, name);

  if (src == NULL)
    {
      src = g_new0 (Source, 1);
      src->name = g_intern_string (name);
      src->ttl = TH_PRICE_BOOK_DEFAULT_TTL;
      src->index = self->n_sources++;
      g_hash_table_insert (self->sources, (gpointer) src->name, src);
      g_ptr_array_add (self->order, src);
    }
  return src;
}

/* The state of @src in @book, or NULL. */
static inline ThTick *
book_get (const Book   *book,
          const Source *src)
{
  return src->index < book->n_states ? book->states[src->index] : NULL;
}

/* Sets the state of @src in @book (taking @state). */
static void
book_put (Book   *book,
          Source *src,
          ThTick *state)
{
  if (src->index >= book->n_states)
    {
      guint n = MAX (src->index + 1, 2 * book->n_states);

      book->states = g_renew (ThTick *, book->states, n);
      memset (book->states + book->n_states, 0, (n - book->n_states) * sizeof (ThTick *));
      book->n_states = n;
    }
  g_hash_table_insert (book->entries, (gpointer) src->name, state);
  book->states[src->index] = state;
}

/**
 * th_price_book_set_order:
 * @self: a #ThPriceBook
 * @order: (array zero-terminated=1): source names, highest priority first
 *
 * Sets the priority order. Sources seen before and not in @order keep
 * their place after it.
 */
void
th_price_book_set_order (ThPriceBook       *self,
                         const char *const *order)
{
  g_autoptr(GPtrArray) rest = NULL;

  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  rest = g_ptr_array_copy (self->order, NULL, NULL);
  g_ptr_array_set_size (self->order, 0);

  for (guint i = 0; order != NULL && order[i] != NULL; i++)
    {
      Source *src = g_hash_table_lookup (self->sources, order[i]);

      if (src == NULL)
        {
          get_source (self, order[i]);
          continue;
        }
      if (!g_ptr_array_find (self->order, src, NULL))
        g_ptr_array_add (self->order, src);
    }

  for (guint i = 0; i < rest->len; i++)
    if (!g_ptr_array_find (self->order, rest->pdata[i], NULL))
      g_ptr_array_add (self->order, rest->pdata[i]);

  th_price_book_check (self);
}

/**
 * th_price_book_get_order:
 * @self: a #ThPriceBook
 *
 * The priority order: the sources given to th_price_book_set_order(), then
 * the other sources the book knows (from a tick or th_price_book_set_ttl()),
 * in the order they first appeared.
 *
 * Returns: (transfer full) (array zero-terminated=1): every source known,
 *   highest priority first; free with g_strfreev()
 */
char **
th_price_book_get_order (ThPriceBook *self)
{
  char **out;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);

  out = g_new0 (char *, self->order->len + 1);
  for (guint i = 0; i < self->order->len; i++)
    out[i] = g_strdup (((Source *) self->order->pdata[i])->name);
  return out;
}

/**
 * th_price_book_set_ttl:
 * @self: a #ThPriceBook
 * @source: a source name
 * @ttl: how long, in µs, a price from @source stays fresh; more than 0
 *
 * Sets the TTL of @source and re-resolves every symbol at once, so a
 * shorter TTL can expire the selected source immediately. A source the
 * book does not know yet is added at the end of the priority order.
 */
void
th_price_book_set_ttl (ThPriceBook *self,
                       const char  *source,
                       gint64       ttl)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));
  g_return_if_fail (ttl > 0);

  get_source (self, source)->ttl = ttl;
  th_price_book_check (self);
}

/**
 * th_price_book_get_ttl:
 * @self: a #ThPriceBook
 * @source: a source name
 *
 * How long a price from @source stays fresh.
 *
 * Returns: the TTL of @source in µs; %TH_PRICE_BOOK_DEFAULT_TTL for a
 *   source without one set
 */
gint64
th_price_book_get_ttl (ThPriceBook *self,
                       const char  *source)
{
  Source *src;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), 0);

  src = g_hash_table_lookup (self->sources, source);
  return src != NULL ? src->ttl : TH_PRICE_BOOK_DEFAULT_TTL;
}

/**
 * th_price_book_get_rank:
 * @self: a #ThPriceBook
 * @source: a source name
 *
 * The position of @source in th_price_book_get_order().
 *
 * Returns: the position of @source in the priority order, 0 for the
 *   highest; -1 for a source the book does not know
 */
int
th_price_book_get_rank (ThPriceBook *self,
                        const char  *source)
{
  Source *src;
  guint index;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), -1);

  src = source != NULL ? g_hash_table_lookup (self->sources, source) : NULL;
  if (src == NULL || !g_ptr_array_find (self->order, src, &index))
    return -1;
  return (int) index;
}

static gboolean on_deadline (gpointer data);

static void
arm (ThPriceBook *self,
     gint64       deadline)
{
  if (self->expiry_stopped || (self->timer_id != 0 && self->timer_at <= deadline))
    return;

  if (self->timer_id != 0)
    th_clock_remove_deadline (self->clock, self->timer_id);
  self->timer_at = deadline;
  self->timer_id = th_clock_add_deadline (self->clock, deadline, on_deadline, self, NULL);
}

static void set_selected (ThPriceBook *self, Book *book, const char *chosen, const char *reason);
static void resolve_compared (ThPriceBook *self, Book *book, gint64 now);

/* Picks the selected source of @book at @now; emits source-changed. */
static void
resolve (ThPriceBook *self,
         Book        *book,
         gint64       now)
{
  const char *chosen = NULL;
  gint64 expiry = 0;
  /* While its market is closed a symbol's last price stays good until a
   * TTL after the next opening: nothing trades, so nothing is newer. The
   * opening counts as the price's refresh. */
  gint64 opened = book->market != NULL ? _th_market_hours_opened_at (book->market, now) : 0;
  gint64 reopens = book->market != NULL && opened == 0 ? _th_market_hours_next_open (book->market, now) : 0;

  guint n_own = book->order != NULL ? book->order->len : 0;
  gint64 newest = 0;

  if (self->divergence_bps > 0 && book->market == NULL)
    {
      /* A symbol with market hours is not compared: its sources' last
       * prices outside the session are not a live disagreement. */
      resolve_compared (self, book, now);
      return;
    }

  /* Closed: each source is judged as of the newest price any of them has,
   * so the session's last trade wins over an older one of a source that
   * ranks higher. */
  if (reopens > 0)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, book->entries);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        newest = MAX (newest, ((ThTick *) value)->receive_time);
    }

  /* The symbol's own order (`order-equities`), then the book's. */
  for (guint i = 0; i < n_own + self->order->len; i++)
    {
      Source *src = i < n_own ? book->order->pdata[i] : self->order->pdata[i - n_own];
      ThTick *state = book_get (book, src);
      gint64 since = state != NULL ? MAX (state->receive_time, opened) : 0;

      if (state != NULL && (reopens > 0 ? newest - state->receive_time < src->ttl : now - since < src->ttl))
        {
          chosen = src->name;
          expiry = reopens == G_MAXINT64 ? G_MAXINT64 : MAX (since, reopens) + src->ttl;
          break;
        }
    }

  if (chosen != NULL)
    arm (self, expiry);
  else if (opened > 0 && g_hash_table_size (book->entries) > 0)
    /* Expired in session: at the close its last price is good again. */
    arm (self, _th_market_hours_closes_at (book->market, now));
  set_selected (self, book, chosen, NULL);
}

static void
set_selected (ThPriceBook *self,
              Book        *book,
              const char  *chosen,
              const char  *reason)
{
  const char *from = book->selected;

  if (chosen == from)
    return;
  book->selected = chosen;
  self->change_reason = reason;
  g_signal_emit (self, signals[SOURCE_CHANGED], 0, book->symbol, from, chosen);
  self->change_reason = NULL;
}

/* [prices] divergence */

typedef struct
{
  Source *src;
  ThTick *state;
} Fresh;

static double
median (double *v,
        guint   n)
{
  /* Insertion sort: n is a handful. */
  for (guint i = 1; i < n; i++)
    for (guint j = i; j > 0 && v[j - 1] > v[j]; j--)
      {
        double t = v[j];

        v[j] = v[j - 1];
        v[j - 1] = t;
      }
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* How far @fresh[@which] is from the median of the others of its quote
 * but @fresh[@skip] (in bp); NAN when there is no other. @others gets the
 * median. */
static double
deviation (const Fresh *fresh,
           guint        n,
           guint        which,
           guint        skip,
           double      *others)
{
  double v[MAX_COMPARED];
  guint k = 0;
  double m;

  for (guint i = 0; i < n; i++)
    if (i != which && i != skip && g_strcmp0 (fresh[i].state->quote, fresh[which].state->quote) == 0)
      v[k++] = fresh[i].state->price;
  if (k == 0)
    return NAN;
  m = median (v, k);
  *others = m;
  return fabs (fresh[which].state->price - m) / m * 1e4;
}

/* Writes the comparison on the served state (copy on write). */
static void
annotate (Book        *book,
          const Fresh *fresh,
          guint        n,
          guint        which)
{
  double v[MAX_COMPARED];
  guint k = 0;
  double spread = 0, lo = INFINITY, hi = -INFINITY;
  ThTick *state = fresh[which].state;

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (fresh[i].state->quote, state->quote) == 0)
      {
        v[k++] = fresh[i].state->price;
        lo = MIN (lo, fresh[i].state->price);
        hi = MAX (hi, fresh[i].state->price);
      }
  if (k >= 2)
    spread = (hi - lo) / median (v, k) * 1e4;
  if (state->n_sources == k && state->spread_bps == spread)
    return;
  if (g_atomic_int_get (&state->ref_count) != 1)
    {
      /* Someone holds the old state (a lookup): copy on write. */
      state = th_tick_copy (state);
      book_put (book, fresh[which].src, state);
    }
  state->n_sources = k;
  state->spread_bps = spread;
}

static void
tell_divergence (ThPriceBook *self,
                 Book        *book,
                 const Fresh *fresh,
                 guint        n,
                 guint        which,
                 double       bps,
                 double       others,
                 gboolean     diverged)
{
  const char *names[MAX_COMPARED + 1];
  guint k = 0;
  ThDivergence d = { 0, };

  if (self->divergence_func == NULL)
    return;
  names[k++] = fresh[which].src->name;
  for (guint i = 0; i < n; i++)
    if (i != which && g_strcmp0 (fresh[i].state->quote, fresh[which].state->quote) == 0)
      names[k++] = fresh[i].src->name;
  names[k] = NULL;

  d.symbol = book->symbol;
  d.source = fresh[which].src->name;
  d.quote = fresh[which].state->quote;
  d.price = fresh[which].state->price;
  d.median = others;
  d.bps = bps;
  d.sources = names;
  d.n_sources = k;
  d.diverged = diverged;
  self->divergence_func (&d, self->divergence_data);
}

/* resolve() with [prices] divergence on: the first fresh source of the
 * order is compared with the median of the other fresh sources of its
 * quote. Beyond the threshold it is flagged (once, until it is back within
 * DIVERGENCE_CLEAR of the threshold); with divergence-action=skip and a
 * majority to tell which price is the odd one (three fresh sources of the
 * quote or more), the next fresh source that agrees with the others is
 * selected instead. */
static void
resolve_compared (ThPriceBook *self,
                  Book        *book,
                  gint64       now)
{
  Fresh fresh[MAX_COMPARED];
  guint n = 0, chosen = 0, same_quote = 0;
  gint64 expiry = G_MAXINT64;
  double bps = NAN, others = NAN;
  gboolean diverged = FALSE;
  const char *reason = NULL;

  for (guint i = 0; i < self->order->len && n < MAX_COMPARED; i++)
    {
      Source *src = self->order->pdata[i];
      ThTick *state = book_get (book, src);

      if (state != NULL && now - state->receive_time < src->ttl)
        {
          fresh[n].src = src;
          fresh[n].state = state;
          n++;
          /* Any of them expiring changes the comparison. */
          expiry = MIN (expiry, state->receive_time + src->ttl);
        }
    }

  if (n == 0)
    {
      if (book->diverged != NULL)
        book->diverged = NULL;
      book->skipping = FALSE;
      set_selected (self, book, NULL, NULL);
      return;
    }
  arm (self, expiry);

  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (fresh[i].state->quote, fresh[0].state->quote) == 0)
      same_quote++;

  bps = deviation (fresh, n, 0, G_MAXUINT, &others);
  if (!isnan (bps))
    {
      double limit = self->divergence_bps;

      if (book->diverged == fresh[0].src->name)
        limit *= DIVERGENCE_CLEAR;
      diverged = bps > limit;
    }

  /* The flag of a source that is no longer first (it expired, or one above
   * it came back) is dropped quietly: a later comparison starts afresh. */
  if (book->diverged != NULL && book->diverged != fresh[0].src->name)
    book->diverged = NULL;
  if (diverged && book->diverged == NULL)
    {
      book->diverged = fresh[0].src->name;
      tell_divergence (self, book, fresh, n, 0, bps, others, TRUE);
    }
  else if (!diverged && book->diverged != NULL)
    {
      book->diverged = NULL;
      tell_divergence (self, book, fresh, n, 0, bps, others, FALSE);
    }

  if (diverged && self->divergence_skip && same_quote >= 3)
    for (guint i = 1; i < n; i++)
      {
        double o, d;

        if (g_strcmp0 (fresh[i].state->quote, fresh[0].state->quote) != 0)
          continue;
        /* Against the others but the outlier. */
        d = deviation (fresh, n, i, 0, &o);
        if (!isnan (d) && d <= self->divergence_bps)
          {
            chosen = i;
            break;
          }
      }

  if (chosen != 0)
    {
      if (!book->skipping || book->selected != fresh[chosen].src->name)
        reason = "divergence";
      book->skipping = TRUE;
    }
  else if (book->skipping)
    {
      book->skipping = FALSE;
      if (!diverged)
        reason = "agreement";
    }

  annotate (book, fresh, n, chosen);
  set_selected (self, book, fresh[chosen].src->name, reason);
}

/**
 * _th_price_book_set_divergence:
 * @self: a #ThPriceBook
 * @bps: the threshold, in basis points; 0 turns the comparison off
 * @skip: pass over a deviating source when a majority says which one it is
 * @func: (nullable): told when a source is flagged or cleared
 * @user_data: for @func
 *
 * `[prices] divergence` and `divergence-action`.
 */
void
_th_price_book_set_divergence (ThPriceBook      *self,
                               double            bps,
                               gboolean          skip,
                               ThDivergenceFunc  func,
                               gpointer          user_data)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  self->divergence_bps = bps > 0 ? bps : 0;
  self->divergence_skip = skip;
  self->divergence_func = func;
  self->divergence_data = user_data;
  th_price_book_check (self);
}

/* During ::source-changed: why, when it is not the plain order and TTLs
 * ("divergence": the first fresh source was passed over; "agreement": it
 * is back). */
const char *
_th_price_book_get_change_reason (ThPriceBook *self)
{
  return self->change_reason;
}

static gboolean
on_deadline (gpointer data)
{
  ThPriceBook *self = data;

  self->timer_id = 0;
  th_price_book_check (self);
  return G_SOURCE_REMOVE;
}

/**
 * th_price_book_check:
 * @self: a #ThPriceBook
 *
 * Re-resolves every symbol at the clock's current time. The book does this
 * by itself when a selected source expires; call it after changing the
 * clock in a way its deadlines do not see.
 */
void
th_price_book_check (ThPriceBook *self)
{
  g_autoptr(GPtrArray) books = NULL;
  gint64 now;

  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  now = th_clock_get_time (self->clock);
  /* A signal handler may add symbols: iterate a copy. */
  books = g_ptr_array_new ();
  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->books);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      g_ptr_array_add (books, value);
  }
  for (guint i = 0; i < books->len; i++)
    resolve (self, books->pdata[i], now);
}

/* The sources the hub's loaded feeds give. From this call on,
 * th_price_book_explain() leaves out a source that only the order names:
 * one that no loaded feed gives, that never had a tick and for which no
 * reason was reported could not have answered (the shipped `[prices]
 * order` lists every venue, enabled or not). */
void
_th_price_book_set_feeds (ThPriceBook       *self,
                          const char *const *feeds)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  g_clear_pointer (&self->feeds, g_hash_table_unref);
  self->feeds = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; feeds != NULL && feeds[i] != NULL; i++)
    g_hash_table_add (self->feeds, (gpointer) g_intern_string (feeds[i]));
}

/* The hub is stopping: no deadline any more, so nothing is re-resolved
 * behind its back. Lookups still resolve at the time they are made. */
void
_th_price_book_stop_expiry (ThPriceBook *self)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  self->expiry_stopped = TRUE;
  if (self->timer_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->timer_id);
      self->timer_id = 0;
    }
}

static Book *
get_book (ThPriceBook *self,
          const char  *symbol)
{
  Book *book = g_hash_table_lookup (self->books, symbol);

  if (book == NULL)
    {
      book = g_new0 (Book, 1);
      book->symbol = g_intern_string (symbol);
      book->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) th_tick_unref);
      g_hash_table_insert (self->books, (gpointer) book->symbol, book);
    }
  return book;
}

void
_th_price_book_set_symbol_order (ThPriceBook       *self,
                                 const char        *symbol,
                                 const char *const *order)
{
  Book *book;

  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  book = get_book (self, symbol);
  g_clear_pointer (&book->order, g_ptr_array_unref);
  if (order == NULL)
    return;
  book->order = g_ptr_array_new ();
  for (guint i = 0; order[i] != NULL; i++)
    {
      Source *src = get_source (self, order[i]);

      if (!g_ptr_array_find (book->order, src, NULL))
        g_ptr_array_add (book->order, src);
    }
}

void
_th_price_book_set_market (ThPriceBook   *self,
                           const char    *symbol,
                           ThMarketHours *market)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));

  get_book (self, symbol)->market = market;
}

static void
merge (ThTick       *state,
       const ThTick *tick)
{
  state->kind = tick->kind;
  state->price = tick->price;
  state->size = tick->size;
  if (!isnan (tick->bid))
    state->bid = tick->bid;
  if (!isnan (tick->ask))
    state->ask = tick->ask;
  if (!isnan (tick->volume_24h))
    state->volume_24h = tick->volume_24h;
  if (!isnan (tick->change_24h))
    state->change_24h = tick->change_24h;
  state->exchange_time = tick->exchange_time;
  state->receive_time = tick->receive_time;
  if (tick->quote != NULL && g_strcmp0 (state->quote, tick->quote) != 0)
    th_tick_set_quote (state, tick->quote);
}

/**
 * th_price_book_update:
 * @self: a #ThPriceBook
 * @tick: a validated tick; its `receive_time` is set from the clock when 0
 *
 * Records @tick as the latest state of its source and re-resolves its
 * symbol.
 *
 * Returns: %TRUE if the tick's source is the selected source of its symbol
 *   after the update
 */
gboolean
th_price_book_update (ThPriceBook *self,
                      ThTick      *tick)
{
  ThTick *latest;

  return _th_price_book_update_latest (self, tick, NULL, &latest, 0);
}

/* th_price_book_update(), also giving the source's merged state (what
 * th_price_book_get_latest() returns), without looking it up again. */
gboolean
_th_price_book_update_latest (ThPriceBook *self,
                              ThTick      *tick,
                              gpointer    *hint,
                              ThTick     **latest,
                              gint64       now)
{
  const char *before;
  Source *src;
  Book *book;
  ThTick *state;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), FALSE);
  g_return_val_if_fail (tick != NULL && tick->symbol != NULL && tick->source != NULL, FALSE);

  if (now == 0)
    now = th_clock_get_time (self->clock);
  if (tick->receive_time == 0)
    tick->receive_time = now;

  src = self->last_src;
  if (src == NULL || strcmp (src->name, tick->source) != 0)
    src = self->last_src = get_source (self, tick->source);
  src->ticked = TRUE;
  if (hint != NULL && *hint != NULL)
    book = *hint;
  else
    {
      book = self->last_book;
      if (book == NULL || strcmp (book->symbol, tick->symbol) != 0)
        book = self->last_book = get_book (self, tick->symbol);
      if (hint != NULL)
        *hint = book;
    }
  before = book->selected;

  state = book_get (book, src);
  if (state == NULL)
    {
      state = th_tick_copy (tick);
      book_put (book, src, state);
    }
  else if (g_atomic_int_get (&state->ref_count) == 1)
    merge (state, tick);
  else
    {
      /* Someone holds the old state (a lookup): copy on write. */
      ThTick *fresh = th_tick_copy (state);

      merge (fresh, tick);
      book_put (book, src, fresh);
      state = fresh;
    }

  resolve (self, book, now);
  /* resolve() may copy the state on write ([prices] divergence annotates
   * it), and a ::source-changed handler may update the book: then the
   * entry is looked up again. */
  *latest = self->divergence_bps > 0 || book->selected != before
            ? book_get (book, src) : state;
  return book->selected == src->name;
}

/**
 * th_price_book_confirm:
 * @self: a #ThPriceBook
 * @source: a source name
 * @symbol: a symbol
 * @receive_time: when the confirmation arrived (µs, the book's clock), or
 *   0 for now
 *
 * Records that @source says its latest price for @symbol is still current
 * at @receive_time: a venue's heartbeat naming the last trade the source
 * already gave. The price, its exchange time and everything else stay;
 * only the freshness moves, so a quiet market keeps its source instead of
 * expiring between trades. Nothing happens when @source has no price for
 * @symbol yet.
 *
 * Returns: %TRUE if @source is the selected source of @symbol afterwards
 */
gboolean
th_price_book_confirm (ThPriceBook *self,
                       const char  *source,
                       const char  *symbol,
                       gint64       receive_time)
{
  Book *book;
  ThTick *state;
  gint64 now;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), FALSE);
  g_return_val_if_fail (source != NULL && symbol != NULL, FALSE);

  book = g_hash_table_lookup (self->books, symbol);
  state = book != NULL ? g_hash_table_lookup (book->entries, source) : NULL;
  if (state == NULL)
    return FALSE;

  now = th_clock_get_time (self->clock);
  if (receive_time == 0)
    receive_time = now;
  if (receive_time > state->receive_time)
    {
      if (g_atomic_int_get (&state->ref_count) == 1)
        state->receive_time = receive_time;
      else
        {
          /* Someone holds the old state (a lookup): copy on write. */
          ThTick *fresh = th_tick_copy (state);

          fresh->receive_time = receive_time;
          /* It has a state: the book knows the source. */
          book_put (book, g_hash_table_lookup (self->sources, source), fresh);
        }
    }
  resolve (self, book, now);
  return g_strcmp0 (book->selected, source) == 0;
}

/**
 * th_price_book_get_selected:
 * @self: a #ThPriceBook
 * @symbol: a symbol
 *
 * The source whose price th_price_book_lookup() returns for @symbol, as
 * resolved at the last update, expiry deadline or check; unlike
 * th_price_book_lookup(), this does not check the clock again.
 *
 * Returns: (nullable): the source selected for @symbol, or %NULL when none
 *   is fresh or @symbol has had no tick; an interned string
 */
const char *
th_price_book_get_selected (ThPriceBook *self,
                            const char  *symbol)
{
  Book *book;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);

  book = g_hash_table_lookup (self->books, symbol);
  return book != NULL ? book->selected : NULL;
}

/**
 * th_price_book_get_latest:
 * @self: a #ThPriceBook
 * @symbol: a symbol
 * @source: a source name
 *
 * The latest state of @source for @symbol, fresh or not.
 *
 * Returns: (transfer none) (nullable): the merged tick
 */
ThTick *
th_price_book_get_latest (ThPriceBook *self,
                          const char  *symbol,
                          const char  *source)
{
  Book *book;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);

  book = g_hash_table_lookup (self->books, symbol);
  return book != NULL ? g_hash_table_lookup (book->entries, source) : NULL;
}

/**
 * th_price_book_set_source_reason:
 * @self: a #ThPriceBook
 * @source: a source name
 * @reason: (nullable): why the source is not live, or %NULL when it is
 *
 * Records the reason reported with a source's state; it is quoted next to
 * that source when no source has a price. Reporting a reason does not make
 * a name a price source: only ticks do (or th_price_book_set_order()).
 */
void
th_price_book_set_source_reason (ThPriceBook *self,
                                 const char  *source,
                                 const char  *reason)
{
  g_return_if_fail (TH_IS_PRICE_BOOK (self));
  g_return_if_fail (source != NULL);

  if (reason != NULL)
    g_hash_table_insert (self->reasons, g_strdup (source), g_strdup (reason));
  else
    g_hash_table_remove (self->reasons, source);
}

/**
 * th_price_book_explain:
 * @self: a #ThPriceBook
 * @symbol: a symbol
 *
 * Describes, source by source in priority order, why each one does or
 * does not have a fresh price of @symbol:
 * `binance: last price 12.0 s old (ttl 10 s); coinbase: no price yet`.
 * In the hub's book, only the sources that could have answered are
 * named: those of the loaded feeds, those that had a tick and those a
 * reason was reported for, not a venue the order lists without its
 * plugin.
 *
 * Returns: (transfer full): the explanation
 */
char *
th_price_book_explain (ThPriceBook *self,
                       const char  *symbol)
{
  GString *out = g_string_new (NULL);
  Book *book;
  gint64 now;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);

  book = g_hash_table_lookup (self->books, symbol);
  now = th_clock_get_time (self->clock);

  for (guint i = 0; i < self->order->len; i++)
    {
      Source *src = self->order->pdata[i];
      ThTick *state = book != NULL ? book_get (book, src) : NULL;
      const char *reason = g_hash_table_lookup (self->reasons, src->name);

      /* A name in the order that nothing feeds. */
      if (self->feeds != NULL && !src->ticked && state == NULL && reason == NULL &&
          !g_hash_table_contains (self->feeds, src->name))
        continue;

      if (out->len > 0)
        g_string_append (out, "; ");
      g_string_append_printf (out, "%s: ", src->name);

      if (state != NULL && book->market != NULL && !_th_market_hours_is_open (book->market, now))
        g_string_append_printf (out, "market closed, last price %.1f s old", (now - state->receive_time) / 1e6);
      else if (state != NULL && now - state->receive_time < src->ttl)
        g_string_append_printf (out, "fresh (%.1f s old)", (now - state->receive_time) / 1e6);
      else if (state != NULL)
        g_string_append_printf (out, "last price %.1f s old (ttl %g s)",
                                (now - state->receive_time) / 1e6, src->ttl / 1e6);
      else
        g_string_append (out, "no price yet");

      if (reason != NULL)
        g_string_append_printf (out, ", %s", reason);
    }

  if (out->len == 0)
    g_string_append (out, self->feeds != NULL ? "no feed is loaded that gives prices" : "no source is configured");

  return g_string_free (out, FALSE);
}

/**
 * th_price_book_lookup:
 * @self: a #ThPriceBook
 * @symbol: a symbol
 * @error: return location for a %TH_ERROR_NO_SOURCE error
 *
 * The merged state of the selected source of @symbol, checked against the
 * clock now.
 *
 * Returns: (transfer full) (nullable): the price, or %NULL with
 *   %TH_ERROR_NO_SOURCE naming each source's reason
 */
ThTick *
th_price_book_lookup (ThPriceBook *self,
                      const char  *symbol,
                      GError     **error)
{
  Book *book;
  g_autofree char *why = NULL;

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);
  g_return_val_if_fail (symbol != NULL, NULL);

  book = g_hash_table_lookup (self->books, symbol);
  if (book != NULL)
    {
      resolve (self, book, th_clock_get_time (self->clock));
      if (book->selected != NULL)
        return th_tick_ref (g_hash_table_lookup (book->entries, book->selected));
    }

  why = th_price_book_explain (self, symbol);
  g_set_error (error, TH_ERROR, TH_ERROR_NO_SOURCE, "no fresh price for %s: %s", symbol, why);
  return NULL;
}

/**
 * th_price_book_list_symbols:
 * @self: a #ThPriceBook
 *
 * Lists the symbols the book has a state for, fresh or not.
 *
 * Returns: (transfer full) (array zero-terminated=1): the symbols that have
 *   had at least one tick, in no particular order; free with g_strfreev()
 */
char **
th_price_book_list_symbols (ThPriceBook *self)
{
  GHashTableIter iter;
  gpointer key;
  GPtrArray *out = g_ptr_array_new ();

  g_return_val_if_fail (TH_IS_PRICE_BOOK (self), NULL);

  g_hash_table_iter_init (&iter, self->books);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (out, g_strdup (key));
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}
