/* th-hub-private.h: what the files of the hub share; not installed
 *
 * The hub is one object in four files, split by concern:
 *   th-hub.c          the object: lifecycle (new, start, stop, quit), ticks
 *                     and routing, housekeeping, source status
 *   th-hub-loader.c   loading: the plugin search path, config checks, plugins
 *                     and indicators made with libpeas, plugin faults
 *   th-hub-events.c   the events: the JSON envelopes written once, the typed
 *                     signals emitted with them, the indicators run on candles
 *   th-hub-query.c    what callers ask: accessors, prices (and the wait for
 *                     one), indicator values, candles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <libpeas/peas.h>

#include "th-private.h"

G_BEGIN_DECLS

#define DEFAULT_SYMBOLS   "BTC;ETH;SOL"
#define DEFAULT_QUOTE     "USD"
#define DEFAULT_TIMEFRAMES "1m;5m;1h"
#define DEFAULT_HISTORY   500
#define DEFAULT_WARMUP    200
#define MAX_SPECS         64
/* How long after its period a candle waits for late ticks before the
 * housekeeping closes it. */
#define CLOSE_GRACE       (2 * G_USEC_PER_SEC)

typedef struct
{
  PeasPluginInfo *info;
  const char     *module;
  ThFeedSource   *feed;
  ThSink         *sink;
  gboolean        disabled;     /* by th_hub_disable_plugin() */
  gboolean        stop_pending; /* its feed or sink still to be stopped */
} Plugin;

typedef struct
{
  char            *name;        /* output name: sma_20 */
  char            *plugin;      /* module: sma */
  char           **args;
  char           **outputs;     /* full output names */
  guint            n_outputs;
  PeasPluginInfo  *info;
  gboolean         disabled;    /* its plugin failed */
} IndicatorSpec;

typedef struct
{
  char   *name;
  gint64  duration;
} Timeframe;

typedef struct
{
  ThCandleSeries     *series;
  ThIndicator       **indicators;   /* one per spec */
  ThIndicatorInterface **ifaces;    /* their interfaces, looked up once */
  ThIndicatorValues **values;       /* values of the last closed candle, per spec */
  ThIndicatorValues **provisional;  /* values of the forming candle, per spec */
  GVariant           *published_values; /* a{sd}: last technical_indicators_update */
  gint64              published_start;  /* ... its candle's start */
  gboolean            published_closed; /* ... whether that candle was closed */
  gboolean            dirty;        /* forming changed since published */
  gboolean            warming;      /* stored candles asked for at start,
                                     * not come yet (th-hub-events.c) */
  GPtrArray          *deferred;     /* ThCandle*: closed while warming */
  guint64             fed;          /* closed candles the indicators took */
} Series;

typedef struct
{
  char       *symbol;               /* owned, not interned: GLib keeps every
                                     * quark for good and leaks its table as it
                                     * grows, and a config may list 100,000 */
  Series     *series;               /* one per timeframe */
  gint64      offset;               /* receive - exchange time of the last tick */
  gboolean    has_offset;
  gpointer    book;                 /* its book in the price book (_th_price_book_update_latest()) */
} SymbolState;

typedef struct
{
  char *group;
  char *spec;
} HostGroup;

typedef struct
{
  ThSourceState state;
  char         *reason;
  gint64        last_tick;
  guint64       ticks;
  guint64       rejected;
  gboolean      warned;
  gboolean      reported;
} SourceStatus;

struct _ThHub
{
  GObject       parent_instance;

  ThConfig     *config;
  ThClock      *clock;
  PeasEngine   *engine;
  ThSymbolMap  *symbol_map;
  ThPriceBook  *book;

  char        **symbols;
  char         *quote;
  Timeframe    *timeframes;
  guint         n_timeframes;
  guint         history;

  GPtrArray    *plugins;            /* Plugin* */
  GPtrArray    *feeds;              /* ThFeedSource* */
  GPtrArray    *sinks;              /* ThSink* */
  GPtrArray    *specs;              /* IndicatorSpec* */
  GHashTable   *states;             /* symbol → SymbolState* */
  GHashTable   *sources;            /* source → SourceStatus* */
  GPtrArray    *host_groups;        /* HostGroup*: th_hub_add_config_group() */

  guint         housekeeping_id;
  guint         quit_idle_id;
  int           quit_code;
  gboolean      loaded;
  gboolean      started;
  gboolean      stopping;
  gboolean      relaying;           /* th_hub_relay_event(): the upstream says it */
  gboolean      stopped;
  GPtrArray    *stop_waiters;       /* GTask: stops asked for while stopping */
  guint64       rejected;
  GHashTable   *warned_symbols;     /* "source/symbol" */
  GHashTable   *disabled;           /* module → reason: plugins that failed */
  GHashTable   *js_types;           /* PeasPluginInfo → GType[3] of a JavaScript plugin */
  guint         n_disabled_sinks;
  guint         disabled_idle_id;   /* stops the feeds and sinks of failed plugins */
  gboolean      uses_gjs;           /* holds the GJS bridge's context */
  GPtrArray    *price_waits;        /* PriceWait*: th_hub_get_price_async() */
  GString      *scratch;            /* the per-tick event's text, reused (th-hub-events.c) */
  const char   *last_source;        /* key of last_status in sources (never removed) */
  SourceStatus *last_status;        /* th_hub_push_tick()'s last source */
  SymbolState  *state_cache[16];    /* _th_hub_find_state()'s last finds, by
                                     * their first two bytes (states are kept
                                     * until the dispose) */
  GPtrArray    *closed_spare;       /* ThCandle*: th_hub_push_tick()'s closed candles, reused */
  ThHistory    *history_provider;   /* weak: th_hub_set_history() */
  guint         warmup;             /* [tickhub] warmup: closed candles */
  GCancellable *warmup_cancellable; /* the start's history queries */
  gboolean      warmup_warned;
  gint64        backfill_max;       /* [tickhub] backfill: µs; 0: off */
  GHashTable   *backfills;          /* "symbol\nduration" → the series' fetches
                                     * (th-hub-backfill.c) */
  GCancellable *backfill_cancellable; /* the fetches; cancelled at stop */
  guint64       divergences;        /* [prices] divergence: sources flagged */
  GPtrArray    *market_hours;       /* ThMarketHours*: data/market-hours.conf groups in use */
  GHashTable   *markets;            /* symbol → ThMarketHours* (borrowed): symbols with hours */
};

/* The hub's signals (th-hub.c defines them). */
enum {
  SIGNAL_EVENT,
  SIGNAL_QUIT_REQUESTED,
  SIGNAL_PRICE_CHANGED,
  SIGNAL_SOURCE_STATUS_CHANGED,
  SIGNAL_CANDLE_CLOSED,
  SIGNAL_INDICATORS_UPDATED,
  SIGNAL_PRICE_DIVERGENCE,
  N_SIGNALS
};

typedef struct
{
  ThHub   *hub;                     /* not a reference: the task holds one */
  GTask   *task;
  char    *symbol;
  GSource *timeout;
  GSource *cancelled;
} PriceWait;

extern guint _th_hub_signals[N_SIGNALS];

/* The state of @symbol, or NULL when it is not configured. A feed's
 * ticks name a few symbols again and again: a cache of the last states
 * found, direct-mapped by the symbol's first two bytes (the second may be
 * its NUL), a string comparison instead of a hash lookup when it hits. */
static inline SymbolState *
_th_hub_find_state (ThHub      *self,
                    const char *symbol)
{
  guint slot = ((guchar) symbol[0] * 31u + (guchar) symbol[1]) % G_N_ELEMENTS (self->state_cache);
  SymbolState *state = self->state_cache[slot];

  if (state != NULL && strcmp (state->symbol, symbol) == 0)
    return state;
  state = g_hash_table_lookup (self->states, symbol);
  if (state != NULL)
    self->state_cache[slot] = state;
  return state;
}

/* th-hub.c */
void          _th_hub_spec_free            (gpointer        data);
SourceStatus *_th_hub_get_source_status    (ThHub          *self,
                                            const char     *source);

/* th-hub-loader.c */
Plugin       *_th_hub_plugin_of            (ThHub          *self,
                                            gpointer        extension);
gboolean      _th_hub_sink_is_disabled     (ThHub          *self,
                                            ThSink         *sink);
gboolean      _th_hub_feed_is_disabled     (ThHub          *self,
                                            ThFeedSource   *feed);

/* th-hub-events.c */
GString      *_th_hub_envelope_begin       (const char     *name);
void          _th_hub_envelope_end         (GString        *out);
void          _th_hub_emit_take            (ThHub          *self,
                                            const char     *name,
                                            const char     *symbol,
                                            const char     *timeframe,
                                            GString        *envelope);
void          _th_hub_emit_financial       (ThHub          *self,
                                            const ThTick   *state);
void          _th_hub_emit_candle          (ThHub          *self,
                                            const char     *symbol,
                                            const char     *timeframe,
                                            const ThCandle *candle);
void          _th_hub_publish_indicators   (ThHub          *self,
                                            SymbolState    *state,
                                            guint           t,
                                            const ThCandle *candle,
                                            GVariant       *values);
void          _th_hub_run_indicators       (ThHub          *self,
                                            SymbolState    *state,
                                            guint           t,
                                            const ThCandle *candle);
void          _th_hub_warm_up              (ThHub          *self);
void          _th_hub_publish_closed       (ThHub          *self,
                                            SymbolState    *state,
                                            guint           t,
                                            GPtrArray      *closed);
void          _th_hub_on_divergence        (const ThDivergence *divergence,
                                            gpointer        user_data);
void          _th_hub_on_source_changed    (ThPriceBook    *book,
                                            const char     *symbol,
                                            const char     *from,
                                            const char     *to,
                                            ThHub          *self);

/* th-hub-backfill.c */
#define DEFAULT_BACKFILL  (G_GINT64_CONSTANT (7) * 86400 * G_USEC_PER_SEC)
GHashTable   *_th_hub_backfill_table_new   (void);
void          _th_hub_backfill_configure   (ThHub          *self,
                                            GPtrArray      *problems);
gboolean      _th_hub_backfill_enabled     (ThHub          *self);
gboolean      _th_hub_backfill_window      (ThHub          *self,
                                            gint64          duration,
                                            gint64          from,
                                            gint64          to,
                                            guint           limit,
                                            gint64         *wfrom,
                                            gint64         *wto);
GArray       *_th_hub_backfill_missing     (GPtrArray      *candles,
                                            gint64          duration,
                                            gint64          from,
                                            gint64          to);
void          _th_hub_backfill_ensure_async (ThHub              *self,
                                             const char         *symbol,
                                             gint64              duration,
                                             gint64              from,
                                             gint64              to,
                                             GCancellable       *cancellable,
                                             GAsyncReadyCallback callback,
                                             gpointer            user_data);
gboolean      _th_hub_backfill_ensure_finish (ThHub         *self,
                                              GAsyncResult  *result,
                                              GError       **error);
void          _th_hub_backfill_start       (ThHub          *self);
void          _th_hub_backfill_stop        (ThHub          *self);

/* th-hub-query.c */
void          _th_hub_price_waits_complete (ThHub          *self,
                                            const char     *symbol);

G_END_DECLS
