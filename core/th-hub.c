/* th-hub.c: plugins, routing and state of one tickhub instance
 *
 * The hub loads the plugins named in the config with a PeasEngine, then
 * routes: feeds push ticks → the price book records them and picks one
 * source per symbol → ticks of the selected source become
 * `financial_data_update` events and go into the candle series of each
 * timeframe → closed candles go through the indicators → every event goes
 * to every sink, serialized once.
 *
 * A housekeeping deadline once a second (on the hub's clock) closes
 * candles whose period is over when no tick came to close them, and
 * publishes the forming candles and their provisional indicator values,
 * so those go out at most once a second per symbol and timeframe.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <libpeas/peas.h>

#include "th-private.h"

#define DEFAULT_SYMBOLS   "BTC;ETH;SOL"
#define DEFAULT_QUOTE     "USD"
#define DEFAULT_TIMEFRAMES "1m;5m;1h"
#define DEFAULT_HISTORY   500
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
} Series;

typedef struct
{
  const char *symbol;               /* interned */
  Series     *series;               /* one per timeframe */
  gint64      offset;               /* receive - exchange time of the last tick */
  gboolean    has_offset;
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
};

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_CLOCK,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  SIGNAL_QUIT_REQUESTED,
  SIGNAL_PRICE_CHANGED,
  SIGNAL_SOURCE_STATUS_CHANGED,
  SIGNAL_CANDLE_CLOSED,
  SIGNAL_INDICATORS_UPDATED,
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

static void price_waits_complete (ThHub      *self,
                                  const char *symbol);

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/**
 * ThHub:
 *
 * One tickhub instance: it loads the plugins, checks the configuration and
 * routes data from the feeds to the sinks.
 *
 * th_hub_new() takes a #ThConfig and a #ThClock; a host program declares
 * the config groups it reads itself with th_hub_add_config_group().
 * th_hub_load() checks the whole configuration, builds the #ThSymbolMap,
 * sets the order and TTLs of the #ThPriceBook, loads the plugins of
 * `[tickhub] plugins` and `[indicators]` with libpeas and lets each one
 * check its own group, reporting every problem at once. The hub knows no
 * venue: without `[prices] order`, the order is that of the ranks the
 * enabled plugins declare (`X-Tickhub-Rank` in their `.plugin` file), and
 * a source without a `ttl` key gets the `X-Tickhub-Default-TTL` of its
 * plugin. th_hub_start() starts the sinks, then the feeds;
 * th_hub_stop_async() stops the feeds, then flushes and stops the sinks.
 *
 * Data goes one way. A feed pushes #ThTick values with th_hub_push_tick();
 * the hub validates each tick and records it in the price book. Only ticks
 * of the symbol's selected source become `financial_data_update` events
 * and go into the candle series, one per symbol and timeframe, bucketed by
 * exchange time; closed candles go through the indicator instances, one
 * per symbol, timeframe and configured name. Every event is serialized
 * once into a #ThEvent, handed to every sink in order, then emitted as
 * #ThHub::event.
 *
 * A housekeeping deadline once a second, on the hub's clock, closes the
 * candles whose period is over when no tick came to close them, and
 * publishes the forming candles and their provisional indicator values, at
 * most once a second per symbol and timeframe. Plugins run in the hub's
 * main context and must not block it.
 */
G_DEFINE_FINAL_TYPE (ThHub, th_hub, G_TYPE_OBJECT)

static void on_source_changed (ThPriceBook *book,
                               const char  *symbol,
                               const char  *from,
                               const char  *to,
                               ThHub       *self);

static void
plugin_free (gpointer data)
{
  Plugin *plugin = data;

  g_clear_object (&plugin->feed);
  g_clear_object (&plugin->sink);
  g_free (plugin);
}

static void
spec_free (gpointer data)
{
  IndicatorSpec *spec = data;

  g_free (spec->name);
  g_free (spec->plugin);
  g_strfreev (spec->args);
  g_strfreev (spec->outputs);
  g_free (spec);
}

static void
host_group_free (gpointer data)
{
  HostGroup *host_group = data;

  g_free (host_group->group);
  g_free (host_group->spec);
  g_free (host_group);
}

static void
source_status_free (gpointer data)
{
  SourceStatus *status = data;

  g_free (status->reason);
  g_free (status);
}

static void
symbol_state_free (ThHub       *self,
                   SymbolState *state)
{
  for (guint t = 0; t < self->n_timeframes; t++)
    {
      Series *s = &state->series[t];

      for (guint i = 0; i < self->specs->len; i++)
        {
          g_clear_object (&s->indicators[i]);
          g_clear_pointer (&s->values[i], th_indicator_values_free);
          g_clear_pointer (&s->provisional[i], th_indicator_values_free);
        }
      g_free (s->indicators);
      g_free (s->ifaces);
      g_free (s->values);
      g_free (s->provisional);
      g_clear_pointer (&s->published_values, g_variant_unref);
      _th_candle_series_free (s->series);
    }
  g_free (state->series);
  g_free (state);
}

static void
th_hub_dispose (GObject *object)
{
  ThHub *self = TH_HUB (object);

  if (self->housekeeping_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->housekeeping_id);
      self->housekeeping_id = 0;
    }
  g_clear_handle_id (&self->quit_idle_id, g_source_remove);
  g_clear_handle_id (&self->disabled_idle_id, g_source_remove);

  /* No price will come any more: waiting calls get their answer now. */
  if (self->price_waits != NULL && self->book != NULL)
    price_waits_complete (self, NULL);

  if (self->book != NULL)
    g_signal_handlers_disconnect_by_func (self->book, on_source_changed, self);

  if (self->states != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->states);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        symbol_state_free (self, value);
      g_clear_pointer (&self->states, g_hash_table_unref);
    }

  /* Extensions before the engine that made them. */
  g_clear_pointer (&self->feeds, g_ptr_array_unref);
  g_clear_pointer (&self->sinks, g_ptr_array_unref);
  g_clear_pointer (&self->plugins, g_ptr_array_unref);
  if (self->js_types != NULL)
    g_hash_table_remove_all (self->js_types);
  g_clear_object (&self->engine);
  g_clear_object (&self->book);

  /* The JavaScript context goes last, once no C reference to a JS object
   * is left (th-gjs-bridge.c). */
  if (self->uses_gjs)
    {
      self->uses_gjs = FALSE;
      _th_gjs_bridge_release (self);
    }

  G_OBJECT_CLASS (th_hub_parent_class)->dispose (object);
}

static void
th_hub_finalize (GObject *object)
{
  ThHub *self = TH_HUB (object);

  g_clear_object (&self->config);
  g_clear_object (&self->clock);
  g_clear_object (&self->symbol_map);
  g_clear_pointer (&self->symbols, g_strfreev);
  g_clear_pointer (&self->quote, g_free);
  for (guint t = 0; t < self->n_timeframes; t++)
    g_free (self->timeframes[t].name);
  g_clear_pointer (&self->timeframes, g_free);
  g_clear_pointer (&self->specs, g_ptr_array_unref);
  g_clear_pointer (&self->sources, g_hash_table_unref);
  g_clear_pointer (&self->host_groups, g_ptr_array_unref);
  g_clear_pointer (&self->warned_symbols, g_hash_table_unref);
  g_clear_pointer (&self->disabled, g_hash_table_unref);
  g_clear_pointer (&self->js_types, g_hash_table_unref);
  g_clear_pointer (&self->stop_waiters, g_ptr_array_unref);
  g_clear_pointer (&self->price_waits, g_ptr_array_unref);

  G_OBJECT_CLASS (th_hub_parent_class)->finalize (object);
}

static void
th_hub_get_property (GObject    *object,
                     guint       prop_id,
                     GValue     *value,
                     GParamSpec *pspec)
{
  ThHub *self = TH_HUB (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      g_value_set_object (value, self->config);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
th_hub_set_property (GObject      *object,
                     guint         prop_id,
                     const GValue *value,
                     GParamSpec   *pspec)
{
  ThHub *self = TH_HUB (object);

  switch (prop_id)
    {
    case PROP_CONFIG:
      self->config = g_value_dup_object (value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
th_hub_constructed (GObject *object)
{
  ThHub *self = TH_HUB (object);

  G_OBJECT_CLASS (th_hub_parent_class)->constructed (object);

  if (self->config == NULL)
    self->config = th_config_new ();
  if (self->clock == NULL)
    self->clock = th_clock_new ();

  self->book = th_price_book_new (self->clock);
  g_signal_connect (self->book, "source-changed", G_CALLBACK (on_source_changed), self);
}

static void
th_hub_class_init (ThHubClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_hub_dispose;
  object_class->finalize = th_hub_finalize;
  object_class->get_property = th_hub_get_property;
  object_class->set_property = th_hub_set_property;
  object_class->constructed = th_hub_constructed;

  /**
   * ThHub:config:
   *
   * The configuration.
   */
  properties[PROP_CONFIG] =
    g_param_spec_object ("config", NULL, NULL, TH_TYPE_CONFIG,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * ThHub:clock:
   *
   * The clock of everything time-dependent in the hub.
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, TH_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * ThHub::event:
   * @self: the hub
   * @event: the event
   *
   * Emitted for every event, after the sinks have consumed it.
   */
  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1,
                  TH_TYPE_EVENT | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * ThHub::quit-requested:
   * @self: the hub
   * @exit_code: the exit status asked for
   *
   * A plugin asked the program to stop, as the replay feed does at the end
   * of its file with `exit-at-end=true`. Emitted from an idle callback.
   */
  signals[SIGNAL_QUIT_REQUESTED] =
    g_signal_new ("quit-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);

  /**
   * ThHub::price-changed:
   * @self: the hub
   * @symbol: the canonical symbol
   * @price: the symbol's trusted price now: the selected source's latest
   *   state, as th_hub_get_price() would return it
   *
   * Emitted whenever the trusted price of a symbol changes: a tick of the
   * selected source, or another source taking over. It follows the
   * `financial_data_update` event of the same change. @price is only
   * valid during the emission: take a reference to keep it.
   */
  signals[SIGNAL_PRICE_CHANGED] =
    g_signal_new ("price-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  TH_TYPE_TICK | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * ThHub::source-status-changed:
   * @self: the hub
   * @source: the source's name
   * @state: its state
   * @reason: (nullable): why, in words
   *
   * Emitted when a source reports a new state or a new reason (see
   * th_hub_report_source_status()), after the `source_status` event. A
   * handler that only cares about states compares with the last one it saw.
   */
  signals[SIGNAL_SOURCE_STATUS_CHANGED] =
    g_signal_new ("source-status-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  TH_TYPE_SOURCE_STATE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * ThHub::candle-closed:
   * @self: the hub
   * @symbol: the canonical symbol
   * @timeframe: the timeframe's name, as configured (`1m`)
   * @candle: the closed candle
   *
   * Emitted for every candle that closes, in order, after its
   * `candle_update` event and before the indicators run on it. Empty
   * periods close as flat candles. @candle is only valid during the
   * emission: copy it to keep it.
   */
  signals[SIGNAL_CANDLE_CLOSED] =
    g_signal_new ("candle-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  TH_TYPE_CANDLE | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * ThHub::indicators-updated:
   * @self: the hub
   * @symbol: the canonical symbol
   * @timeframe: the timeframe's name
   * @candle: the candle the values were computed on: closed, or the
   *   forming one (provisional values, at most once a second)
   * @values: every configured output, `a{sd}` in the configured order;
   *   NaN for an output with no value yet
   *
   * Emitted after each `technical_indicators_update` event, with the same
   * values. th_hub_get_indicators() returns the latest ones at any time.
   */
  signals[SIGNAL_INDICATORS_UPDATED] =
    g_signal_new ("indicators-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  TH_TYPE_CANDLE | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_VARIANT);
}

static void
th_hub_init (ThHub *self)
{
  self->plugins = g_ptr_array_new_with_free_func (plugin_free);
  self->feeds = g_ptr_array_new_with_free_func (g_object_unref);
  self->sinks = g_ptr_array_new_with_free_func (g_object_unref);
  self->specs = g_ptr_array_new_with_free_func (spec_free);
  self->states = g_hash_table_new (g_str_hash, g_str_equal);
  self->sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, source_status_free);
  self->host_groups = g_ptr_array_new_with_free_func (host_group_free);
  self->warned_symbols = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->disabled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->js_types = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->history = DEFAULT_HISTORY;
  self->stop_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->price_waits = g_ptr_array_new ();
}

/**
 * th_hub_new:
 * @config: the configuration
 * @clock: (nullable): the clock; %NULL for the real one
 *
 * Creates a hub. Nothing is loaded until th_hub_load().
 *
 * Returns: (transfer full): a new #ThHub
 */
ThHub *
th_hub_new (ThConfig *config,
            ThClock  *clock)
{
  g_return_val_if_fail (TH_IS_CONFIG (config), NULL);
  g_return_val_if_fail (clock == NULL || TH_IS_CLOCK (clock), NULL);

  return g_object_new (TH_TYPE_HUB, "config", config, "clock", clock, NULL);
}

/**
 * th_hub_add_config_group:
 * @self: a #ThHub, not loaded yet
 * @group: the name of a group of the host program, such as `dbus`
 * @spec: its keys and their types, as a plugin's `X-Tickhub-Config`
 *   declares them: `key:type,key:type`, each type one of `string`,
 *   `list`, `bool`, `int`, `uint`, `number`, `seconds`, `url`, `ws-url`,
 *   `http-url`, `path`, `timeframe` or `enum(a|b)`; empty for a group
 *   that takes no keys
 *
 * Declares a config group that the program hosting the hub reads itself,
 * as tickhubd declares `[dbus]`. th_hub_load() then accepts the group,
 * checks its keys against @spec with the other groups (an unknown key, a
 * malformed value: a problem naming the group, the key and the fix), and
 * names it among the groups when it reports an unknown one. What the
 * types cannot say, such as a range, is the host's to check; it reads the
 * values from th_hub_get_config().
 *
 * Call it before th_hub_load(). A second call for the same @group
 * replaces its @spec. @group must be neither a core group (`tickhub`,
 * `prices`, `indicators`, `symbols`) nor the module name of a plugin.
 */
void
th_hub_add_config_group (ThHub      *self,
                         const char *group,
                         const char *spec)
{
  static const char *const core[] = { "tickhub", "prices", "indicators", "symbols", NULL };
  HostGroup *host_group;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (!self->loaded);
  g_return_if_fail (group != NULL && *group != '\0');
  g_return_if_fail (!g_strv_contains (core, group));
  g_return_if_fail (spec != NULL);

  for (guint i = 0; i < self->host_groups->len; i++)
    {
      host_group = self->host_groups->pdata[i];
      if (g_str_equal (host_group->group, group))
        {
          g_free (host_group->spec);
          host_group->spec = g_strdup (spec);
          return;
        }
    }

  host_group = g_new0 (HostGroup, 1);
  host_group->group = g_strdup (group);
  host_group->spec = g_strdup (spec);
  g_ptr_array_add (self->host_groups, host_group);
}

/* Loading */

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (problems, g_strdup_vprintf (format, args));
  va_end (args);
}

static char **
config_list (ThHub      *self,
             const char *group,
             const char *key,
             const char *fallback)
{
  char **list = th_config_get_string_list (self->config, group, key);

  if (list == NULL)
    list = g_strsplit (fallback, ";", -1);
  return list;
}

static void
setup_search_path (ThHub     *self,
                   GPtrArray *searched)
{
  g_auto(GStrv) dirs = th_config_get_string_list (self->config, "tickhub", "plugin-dirs");
  const char *env = g_getenv ("TICKHUB_PLUGIN_PATH");
  g_autofree char *user = g_build_filename (g_get_user_data_dir (), "tickhub", "plugins", NULL);

  for (guint i = 0; dirs != NULL && dirs[i] != NULL; i++)
    g_ptr_array_add (searched, g_strdup (dirs[i]));

  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_ptr_array_add (searched, g_strdup (parts[i]));
    }

  g_ptr_array_add (searched, g_steal_pointer (&user));
  g_ptr_array_add (searched, g_strdup (TH_PLUGINDIR));

  for (guint i = 0; i < searched->len; i++)
    peas_engine_add_search_path (self->engine, searched->pdata[i], NULL);
}

static char *
available_plugins (ThHub *self)
{
  const GList *l;
  g_autoptr(GString) out = g_string_new (NULL);

  for (l = peas_engine_get_plugin_list (self->engine); l != NULL; l = l->next)
    {
      if (out->len > 0)
        g_string_append (out, ", ");
      g_string_append (out, peas_plugin_info_get_module_name (l->data));
    }
  if (out->len == 0)
    g_string_append (out, "none");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static PeasPluginInfo *
find_plugin (ThHub      *self,
             const char *name,
             const char *group,
             const char *key,
             GPtrArray  *searched,
             GPtrArray  *problems)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, name);

  if (info == NULL)
    {
      g_autofree char *avail = available_plugins (self);
      g_autofree char *dirs = NULL;

      g_ptr_array_add (searched, NULL);
      dirs = g_strjoinv (", ", (char **) searched->pdata);
      g_ptr_array_remove_index (searched, searched->len - 1);
      add_problem (problems,
                   "[%s] %s: unknown plugin “%s”; the plugins found are %s (searched %s); "
                   "fix the name or add the plugin's folder to [tickhub] plugin-dirs",
                   group, key, name, avail, dirs);
      return NULL;
    }

  /* A plugin that is there but whose code fails is not a mistake in the
   * config: it is disabled, logged, and everything else runs. */
  if (g_hash_table_contains (self->disabled, name))
    return NULL;

  /* JavaScript: libpeas read the .plugin file, the GJS bridge runs the
   * script (th-gjs-loader.c). */
  if (peas_plugin_info_get_external_data (info, "Tickhub-JavaScript") != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *file = NULL;
      GType *types;

      if (g_hash_table_contains (self->js_types, info))
        return info;
      file = g_build_filename (peas_plugin_info_get_module_dir (info),
                               peas_plugin_info_get_external_data (info, "Tickhub-JavaScript"), NULL);
      types = g_new0 (GType, 3);
      self->uses_gjs = TRUE;
      if (!_th_gjs_bridge_load (self, name, file, types, &error))
        {
          g_autofree char *reason = g_strdup_printf ("failed to load: %s", error->message);

          g_free (types);
          th_hub_disable_plugin (self, name, reason);
          return NULL;
        }
      g_hash_table_insert (self->js_types, info, types);
      return info;
    }

  if (!peas_plugin_info_is_loaded (info) && !peas_engine_load_plugin (self->engine, info))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reason = NULL;

      if (!peas_plugin_info_is_available (info, &error) && error != NULL)
        reason = g_strdup_printf ("failed to load: %s (see its loader's messages above)", error->message);
      else
        reason = g_strdup ("failed to load (see its loader's messages above)");
      th_hub_disable_plugin (self, name, reason);
      return NULL;
    }

  if (!peas_plugin_info_is_loaded (info))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reason = NULL;

      peas_plugin_info_is_available (info, &error);
      reason = g_strdup_printf ("failed to load: %s", error != NULL ? error->message : "unknown error");
      th_hub_disable_plugin (self, name, reason);
      return NULL;
    }

  return info;
}

/* Whether a plugin provides an interface, and an object of it: libpeas's,
 * or for a JavaScript plugin the class its script registered. */
static GType
js_type (ThHub          *self,
         PeasPluginInfo *info,
         GType           iface)
{
  GType *types = g_hash_table_lookup (self->js_types, info);

  if (types == NULL)
    return G_TYPE_INVALID;
  if (iface == TH_TYPE_FEED_SOURCE)
    return types[0];
  if (iface == TH_TYPE_SINK)
    return types[1];
  return types[2];
}

static gboolean
provides (ThHub          *self,
          PeasPluginInfo *info,
          GType           iface)
{
  if (g_hash_table_contains (self->js_types, info))
    return js_type (self, info, iface) != G_TYPE_INVALID;
  return peas_engine_provides_extension (self->engine, info, iface);
}

static GObject *
create_extension (ThHub          *self,
                  PeasPluginInfo *info,
                  GType           iface)
{
  if (g_hash_table_contains (self->js_types, info))
    return g_object_new (js_type (self, info, iface), "hub", self, NULL);
  return (GObject *) peas_engine_create_extension (self->engine, info, iface, "hub", self, NULL);
}

static void
check_plugin_group (ThHub          *self,
                    PeasPluginInfo *info,
                    gboolean        is_feed,
                    GPtrArray      *problems)
{
  const char *spec = peas_plugin_info_get_external_data (info, "Tickhub-Config");
  g_autofree char *full = NULL;
  g_autofree char *expanded = NULL;

  if (spec == NULL)
    spec = "";
  /* The keys every WebSocket feed takes: ThWsFeed's own. */
  if (strstr (spec, TH_WS_FEED_CONFIG_KEYS) != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (spec, TH_WS_FEED_CONFIG_KEYS, -1);

      expanded = g_strjoinv (th_ws_feed_get_config_spec (), parts);
      spec = expanded;
    }
  if (is_feed)
    full = *spec != '\0' ? g_strconcat (spec, ",ttl:seconds", NULL) : g_strdup ("ttl:seconds");
  else
    full = g_strdup (spec);

  _th_config_check_group (self->config, peas_plugin_info_get_module_name (info), full, problems);
}

/* A number a plugin's .plugin file declares in an X-Tickhub-* key. A
 * malformed one is the plugin's mistake, not the config's: warned about
 * and ignored. */
static gboolean
plugin_number (PeasPluginInfo *info,
               const char     *key,
               gboolean        positive,
               double         *out)
{
  const char *text = peas_plugin_info_get_external_data (info, key);
  g_autofree char *copy = NULL;
  char *end = NULL;
  double value;

  if (text == NULL)
    return FALSE;
  copy = g_strstrip (g_strdup (text));
  value = g_ascii_strtod (copy, &end);
  if (end == copy || *end != '\0' || !isfinite (value) || (positive && value <= 0))
    {
      g_warning ("plugin “%s”: X-%s=%s in its .plugin file is not %s; ignored",
                 peas_plugin_info_get_module_name (info), key, text,
                 positive ? "a number of seconds more than 0" : "a number");
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* The ttl of a source whose group has none: what the plugin of that name
 * declares (X-Tickhub-Default-TTL), whether it is loaded or not, else the
 * price book's default. */
static gint64
declared_ttl (ThHub      *self,
              const char *source)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, source);
  double seconds;

  if (info != NULL && plugin_number (info, "Tickhub-Default-TTL", TRUE, &seconds))
    return (gint64) (seconds * G_USEC_PER_SEC);
  return TH_PRICE_BOOK_DEFAULT_TTL;
}

typedef struct
{
  const char *name;
  double      rank;
  guint       index;
} RankedFeed;

static int
compare_ranked (gconstpointer a,
                gconstpointer b)
{
  const RankedFeed *x = a;
  const RankedFeed *y = b;

  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The order when [prices] order is absent: the plugins of [tickhub]
 * plugins whose .plugin file declares X-Tickhub-Rank, lowest rank first,
 * in the order of [tickhub] plugins when ranks are equal. Plugins that are
 * not enabled are not in it; the feeds without a rank rank after it. */
static char **
default_order (ThHub  *self,
               char  **plugins)
{
  g_autoptr(GArray) ranked = g_array_new (FALSE, FALSE, sizeof (RankedFeed));
  char **out;

  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    {
      PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, plugins[i]);
      RankedFeed feed = { plugins[i], 0, i };
      gboolean seen = FALSE;

      for (guint j = 0; j < ranked->len; j++)
        seen |= g_str_equal (g_array_index (ranked, RankedFeed, j).name, plugins[i]);
      if (info != NULL && !seen && plugin_number (info, "Tickhub-Rank", FALSE, &feed.rank))
        g_array_append_val (ranked, feed);
    }
  g_array_sort (ranked, compare_ranked);

  out = g_new0 (char *, ranked->len + 1);
  for (guint i = 0; i < ranked->len; i++)
    out[i] = g_strdup (g_array_index (ranked, RankedFeed, i).name);
  return out;
}

/* A configure vfunc said no. With a GError that is a config problem (the
 * user's to fix); without one, or when the script's guard already disabled
 * the plugin, the code failed (an exception), and the plugin is disabled. */
static void
configure_failed (ThHub      *self,
                  const char *module,
                  GError     *error,
                  GPtrArray  *problems)
{
  if (g_hash_table_contains (self->disabled, module))
    return;
  if (error != NULL)
    add_problem (problems, "%s", error->message);
  else
    th_hub_disable_plugin (self, module, "failed to configure without saying why (an exception in a script?)");
}

static void
load_plugin (ThHub          *self,
             PeasPluginInfo *info,
             GPtrArray      *problems)
{
  const char *module = peas_plugin_info_get_module_name (info);
  gboolean is_feed = provides (self, info, TH_TYPE_FEED_SOURCE);
  gboolean is_sink = provides (self, info, TH_TYPE_SINK);
  gboolean is_indicator = provides (self, info, TH_TYPE_INDICATOR);
  Plugin *plugin;

  for (guint i = 0; i < self->plugins->len; i++)
    if (((Plugin *) self->plugins->pdata[i])->info == info)
      return;

  check_plugin_group (self, info, is_feed, problems);

  if (g_hash_table_contains (self->disabled, module))
    return;

  if (!is_feed && !is_sink && !is_indicator)
    {
      add_problem (problems,
                   "[tickhub] plugins: plugin “%s” provides no feed, sink or indicator; "
                   "check that it implements Tickhub.FeedSource, Tickhub.Sink or Tickhub.Indicator",
                   module);
      return;
    }

  plugin = g_new0 (Plugin, 1);
  plugin->info = info;
  plugin->module = g_intern_string (module);
  g_ptr_array_add (self->plugins, plugin);

  if (is_feed)
    {
      g_autoptr(GError) error = NULL;
      GObject *ext = create_extension (self, info, TH_TYPE_FEED_SOURCE);

      if (ext == NULL)
        th_hub_disable_plugin (self, module, "failed to create its feed (see the messages above)");
      else if (!th_feed_source_configure (TH_FEED_SOURCE (ext), &error))
        {
          configure_failed (self, module, error, problems);
          g_object_unref (ext);
        }
      else
        {
          plugin->feed = g_object_ref (TH_FEED_SOURCE (ext));
          g_ptr_array_add (self->feeds, ext);
        }
    }

  if (is_sink)
    {
      g_autoptr(GError) error = NULL;
      GObject *ext = create_extension (self, info, TH_TYPE_SINK);

      if (ext == NULL)
        th_hub_disable_plugin (self, module, "failed to create its sink (see the messages above)");
      else if (!th_sink_configure (TH_SINK (ext), &error))
        {
          configure_failed (self, module, error, problems);
          g_object_unref (ext);
        }
      else
        {
          plugin->sink = g_object_ref (TH_SINK (ext));
          g_ptr_array_add (self->sinks, ext);
        }
    }
}

static ThIndicator *
create_indicator (ThHub          *self,
                  IndicatorSpec  *spec,
                  GError        **error)
{
  GObject *ext = create_extension (self, spec->info, TH_TYPE_INDICATOR);
  g_autoptr(GError) local_error = NULL;

  if (ext == NULL)
    {
      th_hub_disable_plugin (self, spec->plugin, "failed to create an indicator (see the messages above)");
      return NULL;
    }
  if (!th_indicator_configure (TH_INDICATOR (ext), (const char *const *) spec->args, &local_error))
    {
      /* A GError is a config problem; a script's exception comes back as
       * FALSE without one, after its guard disabled the plugin. */
      if (local_error == NULL && !g_hash_table_contains (self->disabled, spec->plugin))
        th_hub_disable_plugin (self, spec->plugin,
                               "failed to configure without saying why (an exception in a script?)");
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      g_object_unref (ext);
      return NULL;
    }
  return TH_INDICATOR (ext);
}

static void
load_indicators (ThHub     *self,
                 GPtrArray *searched,
                 GPtrArray *problems)
{
  g_auto(GStrv) keys = g_key_file_get_keys (th_config_get_key_file (self->config), "indicators", NULL, NULL);
  g_autoptr(GHashTable) outputs = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = th_config_get_string (self->config, "indicators", keys[i], "");
      g_autofree char *plugin_name = NULL;
      g_auto(GStrv) args = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) probe = NULL;
      g_auto(GStrv) suffixes = NULL;
      PeasPluginInfo *info;
      IndicatorSpec *spec;

      if (!_th_parse_call (value, &plugin_name, &args))
        continue;  /* reported by the core checks */
      if (self->specs->len >= MAX_SPECS)
        {
          add_problem (problems, "[indicators] %s: more than %d indicators; remove some", keys[i], MAX_SPECS);
          break;
        }

      info = find_plugin (self, plugin_name, "indicators", keys[i], searched, problems);
      if (info == NULL)
        continue;
      if (g_hash_table_contains (self->disabled, plugin_name))
        continue;
      if (!provides (self, info, TH_TYPE_INDICATOR))
        {
          add_problem (problems, "[indicators] %s: plugin “%s” is not an indicator", keys[i], plugin_name);
          continue;
        }
      load_plugin (self, info, problems);

      spec = g_new0 (IndicatorSpec, 1);
      spec->name = g_strdup (keys[i]);
      spec->plugin = g_steal_pointer (&plugin_name);
      spec->args = g_steal_pointer (&args);
      spec->info = info;

      probe = create_indicator (self, spec, &error);
      if (probe == NULL)
        {
          if (error != NULL)
            add_problem (problems, "[indicators] %s: %s", keys[i], error->message);
          spec_free (spec);
          continue;
        }

      suffixes = th_indicator_get_outputs (probe);
      if (suffixes == NULL && !g_hash_table_contains (self->disabled, spec->plugin))
        th_hub_disable_plugin (self, spec->plugin, "get_outputs returned no list of output names");
      if (g_hash_table_contains (self->disabled, spec->plugin))
        {
          spec_free (spec);
          continue;
        }
      spec->n_outputs = MIN (g_strv_length (suffixes), TH_INDICATOR_MAX_OUTPUTS);
      spec->outputs = g_new0 (char *, spec->n_outputs + 1);
      for (guint j = 0; j < spec->n_outputs; j++)
        {
          spec->outputs[j] = g_strconcat (keys[i], suffixes[j], NULL);
          if (g_hash_table_contains (outputs, spec->outputs[j]) || g_str_equal (spec->outputs[j], "timestamp"))
            add_problem (problems, "[indicators] %s: output “%s” is already produced by another indicator; rename one",
                         keys[i], spec->outputs[j]);
          g_hash_table_add (outputs, spec->outputs[j]);
        }
      g_ptr_array_add (self->specs, spec);
    }
}

static void
check_groups (ThHub     *self,
              char     **order,
              GPtrArray *problems)
{
  g_auto(GStrv) groups = g_key_file_get_groups (th_config_get_key_file (self->config), NULL);
  static const char *const core[] = { "tickhub", "prices", "indicators", "symbols", NULL };

  /* The host's groups (tickhubd's [dbus]), checked with the core groups so
   * that a --check-config sees them. */
  for (guint i = 0; i < self->host_groups->len; i++)
    {
      HostGroup *host_group = self->host_groups->pdata[i];

      _th_config_check_group (self->config, host_group->group, host_group->spec, problems);
    }

  for (guint i = 0; groups[i] != NULL; i++)
    {
      const char *group = groups[i];
      gboolean known = g_strv_contains (core, group);

      for (guint j = 0; !known && j < self->host_groups->len; j++)
        known = g_str_equal (((HostGroup *) self->host_groups->pdata[j])->group, group);

      for (guint j = 0; !known && j < self->plugins->len; j++)
        known = g_str_equal (((Plugin *) self->plugins->pdata[j])->module, group);
      /* A plugin that failed to load cannot say which keys it takes. */
      known = known || g_hash_table_contains (self->disabled, group);

      if (known)
        continue;

      if (g_strv_contains ((const char *const *) order, group))
        {
          /* A source of [prices] order without its plugin: only a ttl. */
          _th_config_check_group (self->config, group, "ttl:seconds", problems);
          continue;
        }

      if (self->engine != NULL && peas_engine_get_plugin_info (self->engine, group) != NULL)
        add_problem (problems, "[%s]: plugin “%s” is not enabled; add it to [tickhub] plugins or remove this group",
                     group, group);
      else
        {
          g_autoptr(GString) known_groups = g_string_new ("[tickhub], [prices], [indicators], [symbols]");

          for (guint j = 0; j < self->host_groups->len; j++)
            g_string_append_printf (known_groups, ", [%s]", ((HostGroup *) self->host_groups->pdata[j])->group);
          add_problem (problems, "[%s]: unknown group; the groups are %s and one per plugin, named after it",
                       group, known_groups->str);
        }
    }
}

static void
setup_timeframes (ThHub     *self,
                  GPtrArray *problems)
{
  g_auto(GStrv) tfs = config_list (self, "tickhub", "timeframes", DEFAULT_TIMEFRAMES);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (Timeframe));

  for (guint i = 0; tfs[i] != NULL; i++)
    {
      Timeframe tf = { NULL, 0 };
      gboolean dup = FALSE;

      if (!th_parse_timeframe (tfs[i], &tf.duration, NULL))
        continue;  /* reported by the core checks */
      for (guint j = 0; j < out->len; j++)
        dup |= g_array_index (out, Timeframe, j).duration == tf.duration;
      if (dup)
        continue;
      tf.name = g_strdup (tfs[i]);
      g_array_append_val (out, tf);
    }

  self->n_timeframes = out->len;
  self->timeframes = (Timeframe *) g_array_free (out, FALSE);
}

static void
setup_states (ThHub *self)
{
  for (guint i = 0; self->symbols[i] != NULL; i++)
    {
      SymbolState *state;

      if (g_hash_table_contains (self->states, self->symbols[i]))
        continue;

      state = g_new0 (SymbolState, 1);
      state->symbol = g_intern_string (self->symbols[i]);
      state->series = g_new0 (Series, self->n_timeframes);
      for (guint t = 0; t < self->n_timeframes; t++)
        {
          Series *s = &state->series[t];

          s->series = _th_candle_series_new (self->timeframes[t].duration, self->history);
          s->indicators = g_new0 (ThIndicator *, self->specs->len);
          s->ifaces = g_new0 (ThIndicatorInterface *, self->specs->len);
          s->values = g_new0 (ThIndicatorValues *, self->specs->len);
          s->provisional = g_new0 (ThIndicatorValues *, self->specs->len);
          for (guint k = 0; k < self->specs->len; k++)
            {
              IndicatorSpec *spec = self->specs->pdata[k];

              /* Configured successfully once already: a failure now is the
               * script's, and disables the plugin. */
              if (!spec->disabled)
                s->indicators[k] = create_indicator (self, spec, NULL);
              if (s->indicators[k] != NULL)
                s->ifaces[k] = TH_INDICATOR_GET_IFACE (s->indicators[k]);
              else if (!spec->disabled)
                th_hub_disable_plugin (self, spec->plugin, "failed to configure an indicator that configured before");
              s->values[k] = th_indicator_values_new (spec->n_outputs);
              s->provisional[k] = th_indicator_values_new (spec->n_outputs);
            }
        }
      g_hash_table_insert (self->states, (gpointer) state->symbol, state);
    }
}

/**
 * th_hub_load:
 * @self: a #ThHub
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Checks the whole configuration, loads the symbol map and the plugins and
 * lets each plugin check its own group. Every problem found is reported,
 * one per line of the error message, each naming the group, the key and
 * the fix. Nothing starts.
 *
 * The price book's order is `[prices] order`; when the key is absent, the
 * plugins of `[tickhub] plugins` whose `.plugin` file declares
 * `X-Tickhub-Rank`, lowest rank first. Feeds without a rank come after
 * them. A source's TTL is the `ttl` key of its group, else the
 * `X-Tickhub-Default-TTL` (seconds) of the plugin of that name, loaded or
 * not, else %TH_PRICE_BOOK_DEFAULT_TTL.
 *
 * Returns: %TRUE if everything is usable
 */
gboolean
th_hub_load (ThHub   *self,
             GError **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) searched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) plugins = NULL;
  g_auto(GStrv) order = NULL;
  g_autofree char *map_path = NULL;
  gint64 history;

  g_return_val_if_fail (TH_IS_HUB (self), FALSE);
  g_return_val_if_fail (!self->loaded, FALSE);

  self->loaded = TRUE;

  _th_config_check_core (self->config, problems);

  self->symbols = config_list (self, "tickhub", "symbols", DEFAULT_SYMBOLS);
  self->quote = th_config_get_string (self->config, "tickhub", "quote", DEFAULT_QUOTE);
  history = th_config_get_int (self->config, "tickhub", "history", DEFAULT_HISTORY);
  self->history = (guint) CLAMP (history, 1, 100000);
  setup_timeframes (self, problems);

  /* The symbol map: shipped, then [symbols] overrides. */
  self->symbol_map = th_symbol_map_new ();
  map_path = g_build_filename (_th_get_data_dir (), "symbols.conf", NULL);
  if (!th_symbol_map_load_file (self->symbol_map, map_path, &local_error))
    {
      add_problem (problems, "the shipped symbol map cannot be read: %s; reinstall tickhub or set TICKHUB_DATADIR",
                   local_error->message);
      g_clear_error (&local_error);
    }
  if (th_config_has_group (self->config, "symbols"))
    {
      g_auto(GStrv) keys = g_key_file_get_keys (th_config_get_key_file (self->config), "symbols", NULL, NULL);

      for (guint i = 0; keys[i] != NULL; i++)
        {
          g_autofree char *value = th_config_get_string (self->config, "symbols", keys[i], "");

          /* Malformed entries are reported by the core checks. */
          th_symbol_map_add (self->symbol_map, keys[i], value, NULL);
        }
    }

  /* The plugins' search path, so that their .plugin files can say their
   * rank and default ttl before any of them loads. */
  self->engine = peas_engine_new ();
  peas_engine_enable_loader (self->engine, "python3");
  setup_search_path (self, searched);
  plugins = th_config_get_string_list (self->config, "tickhub", "plugins");

  /* Price hierarchy: the order and its TTLs first, so that feeds can read
   * them while they configure; feeds outside the order after loading. */
  order = th_config_get_string_list (self->config, "prices", "order");
  if (order == NULL)
    order = default_order (self, plugins);
  th_price_book_set_order (self->book, (const char *const *) order);
  for (guint i = 0; order[i] != NULL; i++)
    {
      double ttl = th_config_get_double (self->config, order[i], "ttl", declared_ttl (self, order[i]) / 1e6);

      if (ttl > 0)
        th_price_book_set_ttl (self->book, order[i], (gint64) (ttl * G_USEC_PER_SEC));
      else if (th_config_has_key (self->config, order[i], "ttl"))
        add_problem (problems, "[%s] ttl: must be more than 0 seconds", order[i]);
    }
  /* Plugins. */
  if (plugins == NULL || plugins[0] == NULL)
    {
      g_autofree char *avail = available_plugins (self);

      add_problem (problems, "[tickhub] plugins: no plugins; list the feeds and sinks to run, "
                   "separated by ;, among the plugins found: %s", avail);
    }

  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    {
      PeasPluginInfo *info = find_plugin (self, plugins[i], "tickhub", "plugins", searched, problems);

      if (info != NULL)
        load_plugin (self, info, problems);
    }

  load_indicators (self, searched, problems);

  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];
      double ttl;

      if (plugin->feed == NULL || g_strv_contains ((const char *const *) order, plugin->module))
        continue;
      ttl = th_config_get_double (self->config, plugin->module, "ttl", declared_ttl (self, plugin->module) / 1e6);
      if (ttl > 0)
        th_price_book_set_ttl (self->book, plugin->module, (gint64) (ttl * G_USEC_PER_SEC));
      else
        add_problem (problems, "[%s] ttl: must be more than 0 seconds", plugin->module);
    }

  check_groups (self, order, problems);

  if (problems->len > 0)
    {
      g_ptr_array_add (problems, NULL);
      g_autofree char *msg = g_strjoinv ("\n", (char **) problems->pdata);

      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  setup_states (self);
  return TRUE;
}

/* Plugin faults */

static SourceStatus *get_source_status (ThHub      *self,
                                        const char *source);

static int
compare_strings (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The plugin that made a feed or a sink. */
static Plugin *
plugin_of (ThHub    *self,
           gpointer  extension)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];

      if ((gpointer) plugin->feed == extension || (gpointer) plugin->sink == extension)
        return plugin;
    }
  return NULL;
}

static gboolean
sink_is_disabled (ThHub  *self,
                  ThSink *sink)
{
  Plugin *plugin = plugin_of (self, sink);

  return plugin != NULL && plugin->disabled;
}

static gboolean
feed_is_disabled (ThHub        *self,
                  ThFeedSource *feed)
{
  Plugin *plugin = plugin_of (self, feed);

  return plugin != NULL && plugin->disabled;
}

/* Stops the feeds and sinks of failed plugins, outside the call that
 * failed (which may be inside the hub's own loops). */
static gboolean
stop_disabled (gpointer data)
{
  ThHub *self = data;

  self->disabled_idle_id = 0;
  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];

      if (!plugin->stop_pending)
        continue;
      plugin->stop_pending = FALSE;
      /* Even while the hub stops: its stop skips failed plugins. */
      if (plugin->feed != NULL)
        th_feed_source_stop (plugin->feed);
      if (plugin->sink != NULL)
        th_sink_stop (plugin->sink);
    }
  return G_SOURCE_REMOVE;
}

static char *
first_line (const char *text)
{
  const char *end = strchr (text, '\n');

  return end != NULL ? g_strndup (text, end - text) : g_strdup (text);
}

/**
 * th_hub_disable_plugin:
 * @self: a #ThHub
 * @plugin: the module name of a plugin
 * @reason: (nullable): what went wrong, for the log and the status; it may
 *   run over several lines (a traceback)
 *
 * Switches off a plugin whose code failed, for the rest of the hub's life:
 * its indicators stop computing (their outputs stay null), its sinks get no
 * more events, its feeds are stopped, their ticks are refused and their
 * source shows as `disabled` with the first line of @reason. The hub logs
 * @reason once; a second call for the same plugin does nothing.
 *
 * The Python and JavaScript bindings call it when a script raises in one
 * of the interface's methods (with the traceback), and the hub when a
 * plugin fails to load; a plugin may call it on itself when it cannot go
 * on. A mistake in the config is not a plugin failure: it is a #GError of
 * the plugin's `configure`.
 */
void
th_hub_disable_plugin (ThHub      *self,
                       const char *plugin,
                       const char *reason)
{
  g_autofree char *status = NULL;
  gboolean is_feed = FALSE;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (plugin != NULL);

  if (g_hash_table_contains (self->disabled, plugin))
    return;
  if (reason == NULL || *reason == '\0')
    reason = "disabled";

  g_hash_table_insert (self->disabled, g_strdup (plugin), g_strdup (reason));
  g_warning ("plugin “%s” disabled: %s", plugin, reason);

  for (guint i = 0; i < self->specs->len; i++)
    {
      IndicatorSpec *spec = self->specs->pdata[i];

      if (g_str_equal (spec->plugin, plugin))
        spec->disabled = TRUE;
    }

  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *p = self->plugins->pdata[i];

      if (!g_str_equal (p->module, plugin) || p->disabled)
        continue;
      p->disabled = TRUE;
      if (p->sink != NULL)
        self->n_disabled_sinks++;
      is_feed = is_feed || p->feed != NULL;
      if ((p->feed != NULL || p->sink != NULL) && self->started && !self->stopping)
        {
          p->stop_pending = TRUE;
          if (self->disabled_idle_id == 0)
            self->disabled_idle_id = g_idle_add (stop_disabled, self);
        }
    }

  if (is_feed)
    {
      g_autofree char *line = first_line (reason);

      status = g_strdup_printf ("plugin failed: %s", line);
      if (self->started)
        th_hub_report_source_status (self, plugin, TH_SOURCE_STATE_DISABLED, status);
      else
        {
          SourceStatus *s = get_source_status (self, plugin);

          s->state = TH_SOURCE_STATE_DISABLED;
          g_free (s->reason);
          s->reason = g_strdup (status);
          th_price_book_set_source_reason (self->book, plugin, status);
        }
    }
}

/**
 * th_hub_get_plugin_error:
 * @self: a #ThHub
 * @plugin: the module name of a plugin
 *
 * Why @plugin was disabled (see th_hub_disable_plugin()).
 *
 * Returns: (nullable): the reason, or %NULL if @plugin is not disabled
 */
const char *
th_hub_get_plugin_error (ThHub      *self,
                         const char *plugin)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  g_return_val_if_fail (plugin != NULL, NULL);
  return g_hash_table_lookup (self->disabled, plugin);
}

/**
 * th_hub_list_disabled_plugins:
 * @self: a #ThHub
 *
 * The plugins that failed (to load, or later) and were disabled, sorted by
 * name; th_hub_get_plugin_error() tells why.
 *
 * Returns: (transfer full) (array zero-terminated=1): their module names
 */
char **
th_hub_list_disabled_plugins (ThHub *self)
{
  g_autofree gpointer *keys = NULL;
  char **out;
  guint n;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  keys = g_hash_table_get_keys_as_array (self->disabled, &n);
  out = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = g_strdup (keys[i]);
  g_qsort_with_data (out, n, sizeof (char *), compare_strings, NULL);
  return out;
}

/* Events */

/**
 * th_hub_emit_event:
 * @self: a #ThHub
 * @event: an event
 *
 * Hands @event to every sink, then emits #ThHub::event.
 */
void
th_hub_emit_event (ThHub   *self,
                   ThEvent *event)
{
  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (event != NULL);

  for (guint i = 0; i < self->sinks->len; i++)
    {
      if (G_UNLIKELY (self->n_disabled_sinks > 0) && sink_is_disabled (self, self->sinks->pdata[i]))
        continue;
      th_sink_consume (self->sinks->pdata[i], event);
    }

  g_signal_emit (self, signals[SIGNAL_EVENT], 0, event);
}

static void
emit_take (ThHub      *self,
           const char *name,
           const char *symbol,
           const char *timeframe,
           GString    *envelope)
{
  g_autoptr(ThEvent) event = _th_event_new_take (name, symbol, timeframe, envelope);

  th_hub_emit_event (self, event);
}

static GString *
envelope_begin (const char *name)
{
  GString *out = g_string_sized_new (256);

  g_string_append (out, "{\"event\":\"");
  g_string_append (out, name);
  g_string_append (out, "\",\"data\":{");
  return out;
}

static void
envelope_end (GString *out)
{
  g_string_append (out, "}}");
}

static void
emit_financial (ThHub        *self,
                const ThTick *state)
{
  GString *out = envelope_begin ("financial_data_update");

  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, state->symbol);
  g_string_append (out, ",\"data\":{\"price\":");
  _th_json_append_double (out, state->price);
  g_string_append (out, ",\"volume\":");
  _th_json_append_double (out, state->volume_24h);
  g_string_append (out, ",\"change\":");
  _th_json_append_double (out, state->change_24h);
  g_string_append (out, ",\"bid\":");
  _th_json_append_double (out, state->bid);
  g_string_append (out, ",\"ask\":");
  _th_json_append_double (out, state->ask);
  g_string_append (out, ",\"source\":");
  _th_json_append_string (out, state->source);
  g_string_append (out, ",\"timestamp\":");
  _th_json_append_time (out, state->exchange_time);
  g_string_append_c (out, '}');
  envelope_end (out);

  emit_take (self, "financial_data_update", state->symbol, NULL, out);

  g_signal_emit (self, signals[SIGNAL_PRICE_CHANGED], 0, state->symbol, state);
  if (G_UNLIKELY (self->price_waits->len > 0))
    price_waits_complete (self, state->symbol);
}

static void
emit_candle (ThHub          *self,
             const char     *symbol,
             const char     *timeframe,
             const ThCandle *candle)
{
  GString *out = envelope_begin ("candle_update");
  g_autofree char *json = th_candle_to_json (candle);

  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, symbol);
  g_string_append (out, ",\"timeframe\":");
  _th_json_append_string (out, timeframe);
  g_string_append (out, ",\"candle\":");
  g_string_append (out, json);
  envelope_end (out);

  emit_take (self, "candle_update", symbol, timeframe, out);
}

/* The outputs of @values (one per spec) as `a{sd}`, in the configured
 * order. */
static GVariant *
values_to_variant (ThHub              *self,
                   ThIndicatorValues **values)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sd}"));
  for (guint k = 0; k < self->specs->len; k++)
    {
      IndicatorSpec *spec = self->specs->pdata[k];

      for (guint j = 0; j < spec->n_outputs; j++)
        g_variant_builder_add (&builder, "{sd}", spec->outputs[j], th_indicator_values_get (values[k], j));
    }
  return g_variant_builder_end (&builder);
}

/* technical_indicators_update, the values kept for th_hub_get_indicators()
 * and ::indicators-updated: one path for the hub's own indicators and
 * th_hub_publish_indicators(). Takes @values (a{sd}, floating or not). */
static void
publish_indicators (ThHub          *self,
                    SymbolState    *state,
                    guint           t,
                    const ThCandle *candle,
                    GVariant       *values)
{
  Series *s = &state->series[t];
  const char *timeframe = self->timeframes[t].name;
  GString *out;
  GVariantIter iter;
  const char *name;
  double value;

  g_clear_pointer (&s->published_values, g_variant_unref);
  s->published_values = g_variant_ref_sink (values);
  s->published_start = candle->start;
  s->published_closed = candle->closed;

  out = envelope_begin ("technical_indicators_update");
  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, state->symbol);
  g_string_append (out, ",\"timeframe\":");
  _th_json_append_string (out, timeframe);
  g_string_append_printf (out, ",\"closed\":%s,\"indicators\":{", candle->closed ? "true" : "false");
  g_variant_iter_init (&iter, s->published_values);
  while (g_variant_iter_next (&iter, "{&sd}", &name, &value))
    {
      _th_json_append_string (out, name);
      g_string_append_c (out, ':');
      _th_json_append_double (out, value);
      g_string_append_c (out, ',');
    }
  g_string_append (out, "\"timestamp\":");
  _th_json_append_time (out, candle->start);
  g_string_append_c (out, '}');
  envelope_end (out);
  emit_take (self, "technical_indicators_update", state->symbol, timeframe, out);

  g_signal_emit (self, signals[SIGNAL_INDICATORS_UPDATED], 0, state->symbol, timeframe, candle,
                 s->published_values);
}

static void
run_indicators (ThHub          *self,
                SymbolState    *state,
                guint           t,
                const ThCandle *candle)
{
  Series *s = &state->series[t];
  ThIndicatorValues **values = candle->closed ? s->values : s->provisional;
  guint n = MIN (self->specs->len, MAX_SPECS);

  if (self->specs->len == 0)
    return;

  for (guint k = 0; k < n; k++)
    {
      IndicatorSpec *spec = self->specs->pdata[k];

      th_indicator_values_reset (values[k]);
      /* A failed plugin's outputs stay null. */
      if (G_UNLIKELY (spec->disabled || s->indicators[k] == NULL))
        continue;
      /* The vfunc itself: this runs for every closed candle of every
       * series, and the interface was looked up once. */
      if (s->ifaces[k]->update != NULL)
        s->ifaces[k]->update (s->indicators[k], candle, candle->closed, values[k]);
    }

  publish_indicators (self, state, t, candle, values_to_variant (self, values));
}

static void
publish_closed (ThHub       *self,
                SymbolState *state,
                guint        t,
                GPtrArray   *closed)
{
  for (guint i = 0; i < closed->len; i++)
    {
      const ThCandle *candle = closed->pdata[i];

      emit_candle (self, state->symbol, self->timeframes[t].name, candle);
      g_signal_emit (self, signals[SIGNAL_CANDLE_CLOSED], 0, state->symbol, self->timeframes[t].name, candle);
      run_indicators (self, state, t, candle);
    }
  g_ptr_array_set_size (closed, 0);
}

static void
on_source_changed (ThPriceBook *book,
                   const char  *symbol,
                   const char  *from,
                   const char  *to,
                   ThHub       *self)
{
  GString *out = envelope_begin ("price_source_changed");

  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, symbol);
  g_string_append (out, ",\"from\":");
  _th_json_append_string (out, from);
  g_string_append (out, ",\"to\":");
  _th_json_append_string (out, to);
  envelope_end (out);

  if (to != NULL)
    g_info ("%s: price source %s → %s", symbol, from != NULL ? from : "(none)", to);
  else
    g_message ("%s: no fresh price from any source (was %s)", symbol, from != NULL ? from : "(none)");

  emit_take (self, "price_source_changed", symbol, NULL, out);

  if (to == NULL)
    {
      g_autofree char *why = th_price_book_explain (book, symbol);
      g_autofree char *msg = g_strdup_printf ("no fresh price for %s: %s", symbol, why);

      out = envelope_begin ("error");
      g_string_append (out, "\"code\":\"no_source\",\"message\":");
      _th_json_append_string (out, msg);
      g_string_append (out, ",\"symbol\":");
      _th_json_append_string (out, symbol);
      envelope_end (out);
      emit_take (self, "error", symbol, NULL, out);
    }
}

/* Ticks */

static SourceStatus *
get_source_status (ThHub      *self,
                   const char *source)
{
  SourceStatus *status = g_hash_table_lookup (self->sources, source);

  if (status == NULL)
    {
      status = g_new0 (SourceStatus, 1);
      status->state = TH_SOURCE_STATE_CONNECTING;
      g_hash_table_insert (self->sources, g_strdup (source), status);
    }
  return status;
}

static void
reject (ThHub        *self,
        const ThTick *tick,
        const char   *why)
{
  const char *source = tick->source != NULL ? tick->source : "(unknown)";
  SourceStatus *status = get_source_status (self, source);

  self->rejected++;
  status->rejected++;
  if (!status->warned)
    {
      status->warned = TRUE;
      g_warning ("rejected a tick from %s: %s (further rejections from %s are counted, not logged)",
                 source, why, source);
    }
  else
    g_debug ("rejected a tick from %s: %s", source, why);
}

/**
 * th_hub_push_tick:
 * @self: a #ThHub
 * @tick: a tick; the hub fills in its `quote` and `receive_time` when unset
 *
 * Takes a tick from a feed. A tick that fails th_tick_validate() or whose
 * symbol is not configured is rejected: counted, and logged once per
 * source.
 */
void
th_hub_push_tick (ThHub  *self,
                  ThTick *tick)
{
  g_autoptr(GError) error = NULL;
  SymbolState *state;
  SourceStatus *status;
  ThTick *merged;
  g_autoptr(GPtrArray) closed = NULL;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (tick != NULL);

  if (!self->started || self->stopping)
    return;

  /* A failed feed's late callbacks. */
  if (G_UNLIKELY (g_hash_table_size (self->disabled) > 0) && tick->source != NULL &&
      g_hash_table_contains (self->disabled, tick->source))
    return;

  if (!th_tick_validate (tick, &error))
    {
      reject (self, tick, error->message);
      return;
    }

  state = g_hash_table_lookup (self->states, tick->symbol);
  if (state == NULL)
    {
      g_autofree char *key = g_strdup_printf ("%s/%s", tick->source, tick->symbol);

      self->rejected++;
      get_source_status (self, tick->source)->rejected++;
      if (!g_hash_table_contains (self->warned_symbols, key))
        {
          g_hash_table_add (self->warned_symbols, g_steal_pointer (&key));
          g_message ("ignoring %s from %s: not in [tickhub] symbols", tick->symbol, tick->source);
        }
      return;
    }

  if (tick->quote == NULL)
    th_tick_set_quote (tick, self->quote);
  if (tick->receive_time == 0)
    tick->receive_time = th_clock_get_time (self->clock);

  status = get_source_status (self, tick->source);
  status->last_tick = tick->receive_time;
  status->ticks++;

  if (!th_price_book_update (self->book, tick))
    return;

  merged = th_price_book_get_latest (self->book, tick->symbol, tick->source);
  emit_financial (self, merged);

  state->offset = tick->receive_time - tick->exchange_time;
  state->has_offset = TRUE;

  closed = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  for (guint t = 0; t < self->n_timeframes; t++)
    {
      Series *s = &state->series[t];
      double size = tick->kind == TH_TICK_KIND_TRADE ? tick->size : NAN;

      if (_th_candle_series_add (s->series, tick->exchange_time, tick->price, size, closed) != NULL)
        s->dirty = TRUE;
      publish_closed (self, state, t, closed);
    }
}

/**
 * th_hub_confirm_price:
 * @self: a #ThHub
 * @source: the feed's source name
 * @symbol: a canonical symbol
 *
 * Tells the hub that @source's latest price for @symbol is still current
 * now, without a new tick: for a venue heartbeat that names the last trade
 * the feed already pushed. The price book keeps the source fresh (see
 * th_price_book_confirm()); no event goes out, no candle changes, unless the
 * source was not selected and becomes it again (then a
 * `financial_data_update` with its price says so). A feed must only call
 * this when the venue vouches that nothing happened since its last tick.
 */
void
th_hub_confirm_price (ThHub      *self,
                      const char *source,
                      const char *symbol)
{
  const char *before;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (source != NULL && symbol != NULL);

  if (!self->started || self->stopping || !g_hash_table_contains (self->states, symbol))
    return;
  before = th_price_book_get_selected (self->book, symbol);
  if (th_price_book_confirm (self->book, source, symbol, 0) && g_strcmp0 (before, source) != 0)
    emit_financial (self, th_price_book_get_latest (self->book, symbol, source));
}

/* Housekeeping */

static gboolean housekeeping (gpointer data);

static void
schedule_housekeeping (ThHub *self)
{
  gint64 now = th_clock_get_time (self->clock);
  gint64 next = (now / G_USEC_PER_SEC + 1) * G_USEC_PER_SEC;

  self->housekeeping_id = th_clock_add_deadline (self->clock, next, housekeeping, self, NULL);
}

static gboolean
housekeeping (gpointer data)
{
  ThHub *self = data;
  gint64 now = th_clock_get_time (self->clock);
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) closed = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);

  self->housekeeping_id = 0;

  g_hash_table_iter_init (&iter, self->states);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SymbolState *state = value;

      for (guint t = 0; state->has_offset && t < self->n_timeframes; t++)
        {
          Series *s = &state->series[t];
          const ThCandle *forming;

          /* The exchange's clock, estimated from the last tick's delay. */
          if (_th_candle_series_close_due (s->series, now - state->offset - CLOSE_GRACE, closed))
            {
              s->dirty = FALSE;
              publish_closed (self, state, t, closed);
              continue;
            }

          forming = _th_candle_series_get_forming (s->series);
          if (s->dirty && forming != NULL)
            {
              s->dirty = FALSE;
              emit_candle (self, state->symbol, self->timeframes[t].name, forming);
              run_indicators (self, state, t, forming);
            }
        }
    }

  if (self->started && !self->stopping)
    schedule_housekeeping (self);
  return G_SOURCE_REMOVE;
}

/**
 * th_hub_start:
 * @self: a loaded #ThHub
 *
 * Starts the sinks, then the feeds.
 */
void
th_hub_start (ThHub *self)
{
  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (self->loaded && !self->started);

  self->started = TRUE;

  for (guint i = 0; i < self->sinks->len; i++)
    if (!sink_is_disabled (self, self->sinks->pdata[i]))
      th_sink_start (self->sinks->pdata[i]);
  for (guint i = 0; i < self->feeds->len; i++)
    if (!feed_is_disabled (self, self->feeds->pdata[i]))
      th_feed_source_start (self->feeds->pdata[i]);

  schedule_housekeeping (self);
}

/* Stopping */

typedef struct
{
  guint    pending;
  GError  *error;
} StopData;

static void
stop_data_free (StopData *data)
{
  g_clear_error (&data->error);
  g_free (data);
}

static void
stop_done (GTask *task)
{
  ThHub *self = g_task_get_source_object (task);
  StopData *data = g_task_get_task_data (task);

  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->stop_waiters);

  for (guint i = 0; i < self->sinks->len; i++)
    if (!sink_is_disabled (self, self->sinks->pdata[i]))
      th_sink_stop (self->sinks->pdata[i]);
  self->stopped = TRUE;
  self->stop_waiters = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; i < waiters->len; i++)
    {
      if (data->error != NULL)
        g_task_return_error (waiters->pdata[i], g_error_copy (data->error));
      else
        g_task_return_boolean (waiters->pdata[i], TRUE);
    }

  if (data->error != NULL)
    g_task_return_error (task, g_steal_pointer (&data->error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_sink_flushed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  StopData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!th_sink_flush_finish (TH_SINK (source), result, &error))
    {
      g_warning ("flushing a sink failed: %s", error->message);
      if (data->error == NULL)
        data->error = g_steal_pointer (&error);
    }

  if (--data->pending == 0)
    stop_done (task);
}

/**
 * th_hub_stop_async:
 * @self: a #ThHub
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when everything is stopped and flushed
 * @user_data: data for @callback
 *
 * Stops the feeds, so no tick comes in any more, then flushes every sink
 * and stops them. A second call while stopping completes with the first;
 * cancelling @cancellable makes the sinks give up what they could not
 * write yet.
 */
void
th_hub_stop_async (ThHub               *self,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  StopData *data;

  g_return_if_fail (TH_IS_HUB (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, th_hub_stop_async);

  if (self->stopping && !self->stopped)
    {
      /* Completes with the stop under way. */
      g_ptr_array_add (self->stop_waiters, g_steal_pointer (&task));
      return;
    }

  if (!self->started || self->stopping)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  self->stopping = TRUE;
  if (self->housekeeping_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->housekeeping_id);
      self->housekeeping_id = 0;
    }
  /* No tick comes in any more: waiting calls get their answer now. */
  price_waits_complete (self, NULL);

  for (guint i = 0; i < self->feeds->len; i++)
    if (!feed_is_disabled (self, self->feeds->pdata[i]))
      th_feed_source_stop (self->feeds->pdata[i]);

  data = g_new0 (StopData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) stop_data_free);

  /* Failed plugins are not called again: nothing to flush there. */
  data->pending = self->sinks->len - self->n_disabled_sinks;
  if (data->pending == 0)
    {
      stop_done (task);
      return;
    }

  for (guint i = 0; i < self->sinks->len; i++)
    if (!sink_is_disabled (self, self->sinks->pdata[i]))
      th_sink_flush_async (self->sinks->pdata[i], cancellable, on_sink_flushed, g_object_ref (task));
}

/**
 * th_hub_stop_finish:
 * @self: a #ThHub
 * @result: the result
 * @error: return location for the first flush error
 *
 * Finishes th_hub_stop_async(). Whether it succeeds or not, the feeds and
 * sinks are stopped and the hub takes no more ticks. A hub that was not
 * started, or is already stopped, completes with %TRUE. If the
 * cancellable given to th_hub_stop_async() was cancelled, this fails with
 * %G_IO_ERROR_CANCELLED.
 *
 * Returns: %TRUE if every sink flushed
 */
gboolean
th_hub_stop_finish (ThHub         *self,
                    GAsyncResult  *result,
                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
emit_quit (gpointer data)
{
  ThHub *self = data;

  self->quit_idle_id = 0;
  g_signal_emit (self, signals[SIGNAL_QUIT_REQUESTED], 0, self->quit_code);
  return G_SOURCE_REMOVE;
}

/**
 * th_hub_request_quit:
 * @self: a #ThHub
 * @exit_code: the exit status to ask for
 *
 * Asks the program to stop: #ThHub::quit-requested is emitted from an idle
 * callback, so the caller can finish what it is doing first.
 */
void
th_hub_request_quit (ThHub *self,
                     int    exit_code)
{
  g_return_if_fail (TH_IS_HUB (self));

  self->quit_code = exit_code;
  if (self->quit_idle_id == 0)
    self->quit_idle_id = g_idle_add (emit_quit, self);
}

/* Status */

/**
 * th_hub_report_source_status:
 * @self: a #ThHub
 * @source: the source name
 * @state: its state
 * @reason: (nullable): a human reason, for any state but live
 *
 * Records the state of a source and, when it changed, emits a
 * `source_status` event.
 */
void
th_hub_report_source_status (ThHub         *self,
                             const char    *source,
                             ThSourceState  state,
                             const char    *reason)
{
  SourceStatus *status;
  GString *out;
  gint64 now;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (source != NULL);

  status = get_source_status (self, source);
  if (status->reported && status->state == state && g_strcmp0 (status->reason, reason) == 0)
    return;

  status->reported = TRUE;
  status->state = state;
  g_free (status->reason);
  status->reason = g_strdup (reason);
  th_price_book_set_source_reason (self->book, source,
                                   state == TH_SOURCE_STATE_LIVE ? NULL : (reason != NULL ? reason : th_source_state_to_string (state)));

  if (state == TH_SOURCE_STATE_LIVE || state == TH_SOURCE_STATE_CONNECTING)
    g_info ("source %s: %s%s%s", source, th_source_state_to_string (state),
            reason != NULL ? ": " : "", reason != NULL ? reason : "");
  else
    g_message ("source %s: %s%s%s", source, th_source_state_to_string (state),
               reason != NULL ? ": " : "", reason != NULL ? reason : "");

  now = th_clock_get_time (self->clock);
  out = envelope_begin ("source_status");
  g_string_append (out, "\"source\":");
  _th_json_append_string (out, source);
  g_string_append (out, ",\"state\":");
  _th_json_append_string (out, th_source_state_to_string (state));
  g_string_append (out, ",\"reason\":");
  _th_json_append_string (out, reason);
  g_string_append (out, ",\"last_message_age_ms\":");
  if (status->last_tick > 0)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, (now - status->last_tick) / 1000);
  else
    g_string_append (out, "null");
  envelope_end (out);
  emit_take (self, "source_status", NULL, NULL, out);

  g_signal_emit (self, signals[SIGNAL_SOURCE_STATUS_CHANGED], 0, source, state, reason);
}

/**
 * th_hub_get_source_state:
 * @self: a #ThHub
 * @source: a source name
 * @reason: (out) (optional) (nullable) (transfer full): its reason
 *
 * The state a source last reported with th_hub_report_source_status(),
 * and the reason that came with it (%NULL when there was none, or when
 * the source never reported).
 *
 * Returns: the last state reported for @source; %TH_SOURCE_STATE_CONNECTING
 *   if none was
 */
ThSourceState
th_hub_get_source_state (ThHub       *self,
                         const char  *source,
                         char       **reason)
{
  SourceStatus *status;

  g_return_val_if_fail (TH_IS_HUB (self), TH_SOURCE_STATE_DOWN);

  status = g_hash_table_lookup (self->sources, source);
  if (reason != NULL)
    *reason = status != NULL ? g_strdup (status->reason) : NULL;
  return status != NULL ? status->state : TH_SOURCE_STATE_CONNECTING;
}

/* Accessors */

/**
 * th_hub_get_config:
 * @self: a #ThHub
 *
 * The configuration given to th_hub_new(). Plugins read their own group,
 * named after their module, from it.
 *
 * Returns: (transfer none): the configuration
 */
ThConfig *
th_hub_get_config (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->config;
}

/**
 * th_hub_get_clock:
 * @self: a #ThHub
 *
 * The clock given to th_hub_new(), or the real-time clock the hub made
 * when it was given none.
 *
 * Returns: (transfer none): the clock; plugins use it for every time they
 *   compare, so tests can drive them
 */
ThClock *
th_hub_get_clock (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->clock;
}

/**
 * th_hub_get_symbol_map:
 * @self: a loaded #ThHub
 *
 * The symbol map th_hub_load() built: the shipped `symbols.conf` with the
 * `[symbols]` overrides of the configuration. It does not exist before
 * th_hub_load(), which makes it: this returns %NULL until then.
 *
 * Returns: (transfer none) (nullable): the symbol map
 */
ThSymbolMap *
th_hub_get_symbol_map (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->symbol_map;
}

/**
 * th_hub_get_price_book:
 * @self: a #ThHub
 *
 * The hub's price book, on the hub's clock. It exists from th_hub_new()
 * on; th_hub_load() sets its order and TTLs.
 *
 * Returns: (transfer none): the price book
 */
ThPriceBook *
th_hub_get_price_book (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->book;
}

/**
 * th_hub_get_symbols:
 * @self: a loaded #ThHub
 *
 * The symbols of `[tickhub] symbols` (`BTC`, `ETH` and `SOL` when the key
 * is absent), in the configured order, as read by th_hub_load(); an empty
 * array before it.
 *
 * Returns: (transfer none) (array zero-terminated=1): the configured symbols
 */
const char *const *
th_hub_get_symbols (ThHub *self)
{
  static const char *const none[] = { NULL };

  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->symbols != NULL ? (const char *const *) self->symbols : none;
}

/**
 * th_hub_get_quote:
 * @self: a loaded #ThHub
 *
 * The quote currency of `[tickhub] quote`, which th_hub_push_tick() gives
 * to ticks pushed without one; `USD` when the key is absent, and before
 * th_hub_load().
 *
 * Returns: the configured quote currency
 */
const char *
th_hub_get_quote (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->quote != NULL ? self->quote : DEFAULT_QUOTE;
}

/**
 * th_hub_has_symbol:
 * @self: a loaded #ThHub
 * @symbol: a symbol
 *
 * Checks whether the hub follows @symbol: whether it is one of
 * th_hub_get_symbols(). Always %FALSE until th_hub_load() has succeeded,
 * and for a %NULL @symbol.
 *
 * Returns: whether @symbol is configured
 */
gboolean
th_hub_has_symbol (ThHub      *self,
                   const char *symbol)
{
  g_return_val_if_fail (TH_IS_HUB (self), FALSE);
  return symbol != NULL && g_hash_table_contains (self->states, symbol);
}

/**
 * th_hub_list_plugins:
 * @self: a loaded #ThHub
 *
 * The plugins th_hub_load() loaded, feeds, sinks and indicators, each
 * once, in the order they were loaded: those of `[tickhub] plugins`, then
 * the indicator plugins of `[indicators]`.
 *
 * Returns: (transfer full) (array zero-terminated=1): the module names of
 *   the loaded plugins
 */
char **
th_hub_list_plugins (ThHub *self)
{
  char **out;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  out = g_new0 (char *, self->plugins->len + 1);
  for (guint i = 0; i < self->plugins->len; i++)
    out[i] = g_strdup (((Plugin *) self->plugins->pdata[i])->module);
  return out;
}

/**
 * th_hub_get_feeds:
 * @self: a loaded #ThHub
 *
 * The feeds th_hub_load() created and configured successfully. Free the
 * array with g_ptr_array_unref(); it holds no reference to the feeds.
 *
 * Returns: (transfer container) (element-type ThFeedSource): the feeds, in
 *   the order of `[tickhub] plugins`; the hub keeps them
 */
GPtrArray *
th_hub_get_feeds (ThHub *self)
{
  GPtrArray *out;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  /* The objects stay the hub's: a container without a free function, so
   * that bindings do not unref what they do not own. */
  out = g_ptr_array_sized_new (self->feeds->len);
  for (guint i = 0; i < self->feeds->len; i++)
    g_ptr_array_add (out, self->feeds->pdata[i]);
  return out;
}

/**
 * th_hub_get_plugin_name:
 * @self: a loaded #ThHub
 * @extension: (type GObject): a feed or sink of this hub
 *
 * The module name of the plugin that made @extension, in any language:
 * its config group, and the name of a feed's source for the feeds named
 * after their plugin.
 *
 * Returns: (nullable): the plugin's module name, or %NULL if @extension is
 *   not one of the hub's feeds or sinks
 */
const char *
th_hub_get_plugin_name (ThHub    *self,
                        gpointer  extension)
{
  Plugin *plugin;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  plugin = plugin_of (self, extension);
  return plugin != NULL ? plugin->module : NULL;
}

/**
 * th_hub_get_sinks:
 * @self: a loaded #ThHub
 *
 * The sinks th_hub_load() created and configured successfully, in the
 * order of `[tickhub] plugins`, which is the order they receive events
 * in. Free the array with g_ptr_array_unref(); it holds no reference to
 * the sinks.
 *
 * Returns: (transfer container) (element-type ThSink): the sinks; the hub
 *   keeps them
 */
GPtrArray *
th_hub_get_sinks (ThHub *self)
{
  GPtrArray *out;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  /* The objects stay the hub's: a container without a free function, so
   * that bindings do not unref what they do not own. */
  out = g_ptr_array_sized_new (self->sinks->len);
  for (guint i = 0; i < self->sinks->len; i++)
    g_ptr_array_add (out, self->sinks->pdata[i]);
  return out;
}

/**
 * th_hub_list_sources:
 * @self: a #ThHub
 *
 * The price sources in the price book's priority order (see
 * th_price_book_get_order()): those of `[prices] order`, then the feeds
 * not listed there, then any other source whose ticks reached the book.
 *
 * Returns: (transfer full) (array zero-terminated=1): every price source
 *   known, highest priority first
 */
char **
th_hub_list_sources (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return th_price_book_get_order (self->book);
}

/**
 * th_hub_list_timeframes:
 * @self: a loaded #ThHub
 *
 * The timeframes of `[tickhub] timeframes` (`1m`, `5m` and `1h` when the
 * key is absent), written as there, in that order, without invalid
 * entries or repeated durations; empty before th_hub_load().
 * th_parse_timeframe() gives the length of each.
 *
 * Returns: (transfer full) (array zero-terminated=1): the timeframe names
 */
char **
th_hub_list_timeframes (ThHub *self)
{
  char **out;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  out = g_new0 (char *, self->n_timeframes + 1);
  for (guint t = 0; t < self->n_timeframes; t++)
    out[t] = g_strdup (self->timeframes[t].name);
  return out;
}

/**
 * th_hub_get_price:
 * @self: a loaded #ThHub
 * @symbol: a symbol
 * @error: return location for %TH_ERROR_UNKNOWN_SYMBOL or
 *   %TH_ERROR_NO_SOURCE
 *
 * The trustworthy price of @symbol: the latest state of the first fresh
 * source in the priority order. When no source is fresh, the feeds that
 * can fetch on demand are asked to, and this call fails with
 * %TH_ERROR_NO_SOURCE naming each source's reason.
 *
 * Returns: (transfer full) (nullable): the price
 */
ThTick *
th_hub_get_price (ThHub       *self,
                  const char  *symbol,
                  GError     **error)
{
  ThTick *tick;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  g_return_val_if_fail (symbol != NULL, NULL);

  if (!th_hub_has_symbol (self, symbol))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL,
                   "unknown symbol “%s”; the symbols are those of [tickhub] symbols", symbol);
      return NULL;
    }

  tick = th_price_book_lookup (self->book, symbol, error);
  if (tick == NULL)
    for (guint i = 0; i < self->feeds->len; i++)
      th_feed_source_request_price (self->feeds->pdata[i], symbol);
  return tick;
}

/* Waiting for a price: th_hub_get_price_async() */

static void
price_wait_free (PriceWait *wait)
{
  if (wait->timeout != NULL)
    {
      g_source_destroy (wait->timeout);
      g_source_unref (wait->timeout);
    }
  if (wait->cancelled != NULL)
    {
      g_source_destroy (wait->cancelled);
      g_source_unref (wait->cancelled);
    }
  g_free (wait->symbol);
  g_free (wait);
}

/* Completes @wait with the price of its symbol now, or the error that says
 * why there is none, and forgets it. */
static void
price_wait_finish (PriceWait *wait,
                   GError    *error)       /* (transfer full) (nullable): instead */
{
  ThHub *self = wait->hub;
  g_autoptr(GTask) task = g_steal_pointer (&wait->task);
  ThTick *tick = NULL;

  g_ptr_array_remove_fast (self->price_waits, wait);
  if (error == NULL)
    tick = th_price_book_lookup (self->book, wait->symbol, &error);
  price_wait_free (wait);
  if (tick != NULL)
    g_task_return_pointer (task, tick, (GDestroyNotify) th_tick_unref);
  else
    g_task_return_error (task, error);
}

/* Completes the waits for @symbol that now have a price; with a %NULL
 * @symbol, every wait, price or not. */
static void
price_waits_complete (ThHub      *self,
                      const char *symbol)
{
  for (guint i = self->price_waits->len; i > 0; i--)
    {
      PriceWait *wait;

      if (i > self->price_waits->len)
        continue;
      wait = self->price_waits->pdata[i - 1];
      if (symbol == NULL)
        price_wait_finish (wait, NULL);
      else if (g_str_equal (wait->symbol, symbol) && th_price_book_get_selected (self->book, symbol) != NULL)
        price_wait_finish (wait, NULL);
    }
}

static gboolean
on_price_wait_timeout (gpointer data)
{
  price_wait_finish (data, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
on_price_wait_cancelled (GCancellable *cancellable,
                         gpointer      data)
{
  price_wait_finish (data, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
  return G_SOURCE_REMOVE;
}

/**
 * th_hub_get_price_async:
 * @self: a #ThHub
 * @symbol: a canonical symbol
 * @timeout_ms: how long to wait for a fresh price, in milliseconds of
 *   real time; 0 not to wait
 * @cancellable: (nullable): a #GCancellable
 * @callback: called with the price or the error
 * @user_data: data for @callback
 *
 * th_hub_get_price(), waiting up to @timeout_ms for a fresh price when
 * there is none yet, without blocking: the feeds that can fetch on demand
 * have been asked (the REST fallback), and the first price of the symbol
 * that arrives completes the call; at the deadline it completes with the
 * %TH_ERROR_NO_SOURCE error naming each source's reason. An unknown
 * symbol fails at once with %TH_ERROR_UNKNOWN_SYMBOL. When the hub stops
 * (th_hub_stop_async()), every waiting call completes with what there is.
 * The D-Bus `GetPrice` and the REST `/api/v1/price` use it.
 */
void
th_hub_get_price_async (ThHub               *self,
                        const char          *symbol,
                        guint                timeout_ms,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  ThTick *tick;
  PriceWait *wait;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (symbol != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, th_hub_get_price_async);

  if (g_task_return_error_if_cancelled (task))
    return;
  tick = th_hub_get_price (self, symbol, &error);
  if (tick != NULL)
    {
      g_task_return_pointer (task, tick, (GDestroyNotify) th_tick_unref);
      return;
    }
  if (timeout_ms == 0 || self->stopping || !self->started ||
      !g_error_matches (error, TH_ERROR, TH_ERROR_NO_SOURCE))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  wait = g_new0 (PriceWait, 1);
  wait->hub = self;
  wait->task = g_steal_pointer (&task);
  wait->symbol = g_strdup (symbol);
  wait->timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (wait->timeout, on_price_wait_timeout, wait, NULL);
  g_source_set_static_name (wait->timeout, "[tickhub] th_hub_get_price_async");
  g_source_attach (wait->timeout, g_task_get_context (wait->task));
  if (cancellable != NULL)
    {
      wait->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_callback (wait->cancelled, G_SOURCE_FUNC (on_price_wait_cancelled), wait, NULL);
      g_source_attach (wait->cancelled, g_task_get_context (wait->task));
    }
  g_ptr_array_add (self->price_waits, wait);
}

/**
 * th_hub_get_price_finish:
 * @self: a #ThHub
 * @result: the result
 * @error: return location for a %TH_ERROR_NO_SOURCE,
 *   %TH_ERROR_UNKNOWN_SYMBOL or %G_IO_ERROR_CANCELLED error
 *
 * Finishes th_hub_get_price_async().
 *
 * Returns: (transfer full): the symbol's trusted price, or %NULL
 */
ThTick *
th_hub_get_price_finish (ThHub         *self,
                         GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == th_hub_get_price_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static gint
timeframe_index (ThHub      *self,
                 const char *timeframe)
{
  for (guint t = 0; t < self->n_timeframes; t++)
    if (g_strcmp0 (self->timeframes[t].name, timeframe) == 0)
      return (gint) t;
  return -1;
}

/**
 * th_hub_get_indicators:
 * @self: a loaded #ThHub
 * @symbol: a canonical symbol
 * @timeframe: a configured timeframe's name (`1m`)
 * @candle_start: (out) (optional): the start of the candle the values were
 *   computed on, µs since the epoch
 * @closed: (out) (optional): whether that candle was closed (otherwise the
 *   values are provisional, for the forming candle)
 *
 * The indicator values last published for one series, as in its last
 * `technical_indicators_update` event: every configured output in the
 * configured order, NaN for one that has no value (yet, or because its
 * plugin failed); or those given to th_hub_publish_indicators().
 *
 * Returns: (transfer full) (nullable): `a{sd}`, or %NULL when nothing was
 *   published yet for the series, or @symbol or @timeframe is not
 *   configured
 */
GVariant *
th_hub_get_indicators (ThHub      *self,
                       const char *symbol,
                       const char *timeframe,
                       gint64     *candle_start,
                       gboolean   *closed)
{
  SymbolState *state;
  Series *s;
  gint t;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  g_return_val_if_fail (symbol != NULL && timeframe != NULL, NULL);

  if (self->states == NULL || (state = g_hash_table_lookup (self->states, symbol)) == NULL ||
      (t = timeframe_index (self, timeframe)) < 0)
    return NULL;
  s = &state->series[t];
  if (s->published_values == NULL)
    return NULL;
  if (candle_start != NULL)
    *candle_start = s->published_start;
  if (closed != NULL)
    *closed = s->published_closed;
  return g_variant_ref (s->published_values);
}

/**
 * th_hub_publish_indicators:
 * @self: a started #ThHub
 * @symbol: a configured symbol
 * @timeframe: a configured timeframe's name
 * @candle: the candle the values belong to (its start and whether it is
 *   closed are used)
 * @values: `a{sd}`: output name → value, in the order to publish; NaN
 *   for no value
 *
 * Publishes indicator values computed elsewhere (another node, a replay)
 * exactly as the hub publishes its own: a `technical_indicators_update`
 * event, ::indicators-updated, and what th_hub_get_indicators() returns.
 * The hub's own indicators keep running; the next values published for
 * the series, whoever computed them, replace these.
 *
 * Returns: %FALSE (nothing is published) if @symbol or @timeframe is not
 *   configured, or the hub is not running
 */
gboolean
th_hub_publish_indicators (ThHub          *self,
                           const char     *symbol,
                           const char     *timeframe,
                           const ThCandle *candle,
                           GVariant       *values)
{
  SymbolState *state;
  gint t;

  g_return_val_if_fail (TH_IS_HUB (self), FALSE);
  g_return_val_if_fail (symbol != NULL && timeframe != NULL && candle != NULL, FALSE);
  g_return_val_if_fail (values != NULL && g_variant_is_of_type (values, G_VARIANT_TYPE ("a{sd}")), FALSE);

  if (!self->started || self->stopping || self->states == NULL ||
      (state = g_hash_table_lookup (self->states, symbol)) == NULL ||
      (t = timeframe_index (self, timeframe)) < 0)
    {
      /* A floating reference is ours to drop. */
      g_variant_unref (g_variant_ref_sink (values));
      return FALSE;
    }
  publish_indicators (self, state, (guint) t, candle, values);
  return TRUE;
}

/**
 * th_hub_get_closed_candles:
 * @self: a loaded #ThHub
 * @symbol: a canonical symbol
 * @timeframe: a configured timeframe's name (`1m`)
 * @limit: the most candles to return
 *
 * The last closed candles of one series that the hub keeps in memory
 * (`[tickhub] history`, 500 by default), without the forming one.
 *
 * Returns: (transfer container) (element-type ThCandle) (nullable): up to
 *   @limit candles, oldest first; %NULL if @symbol or @timeframe is not
 *   configured
 */
GPtrArray *
th_hub_get_closed_candles (ThHub      *self,
                           const char *symbol,
                           const char *timeframe,
                           guint       limit)
{
  SymbolState *state;
  GPtrArray *candles;
  gint t;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  g_return_val_if_fail (symbol != NULL && timeframe != NULL, NULL);

  if (self->states == NULL || (state = g_hash_table_lookup (self->states, symbol)) == NULL ||
      (t = timeframe_index (self, timeframe)) < 0)
    return NULL;
  /* One more than asked: the forming candle, if any, is the last. */
  candles = _th_candle_series_get_history (state->series[t].series, limit < G_MAXUINT ? limit + 1 : limit);
  if (candles->len > 0 && !((ThCandle *) candles->pdata[candles->len - 1])->closed)
    g_ptr_array_set_size (candles, candles->len - 1);
  if (candles->len > limit)
    g_ptr_array_remove_range (candles, 0, candles->len - limit);
  return candles;
}

/**
 * th_hub_get_candles:
 * @self: a loaded #ThHub
 * @symbol: a symbol
 * @timeframe: the timeframe's length in µs
 * @limit: the most candles to return
 *
 * Copies the recent candles of one series: up to @limit of them, among the
 * closed candles the series keeps (`[tickhub] history`, 500 by default)
 * and the forming one. @timeframe must be the exact length of a configured
 * timeframe. The array frees its candles when it is freed.
 *
 * Returns: (transfer container) (element-type ThCandle) (nullable): the last
 *   @limit candles, oldest first, the forming one last; %NULL if @symbol
 *   or @timeframe is not configured
 */
GPtrArray *
th_hub_get_candles (ThHub      *self,
                    const char *symbol,
                    gint64      timeframe,
                    guint       limit)
{
  SymbolState *state;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  state = g_hash_table_lookup (self->states, symbol);
  if (state == NULL)
    return NULL;

  for (guint t = 0; t < self->n_timeframes; t++)
    if (self->timeframes[t].duration == timeframe)
      return _th_candle_series_get_history (state->series[t].series, limit);
  return NULL;
}

/**
 * th_hub_get_source_ticks:
 * @self: a #ThHub
 * @source: a source name
 *
 * How many ticks from @source the hub took in (valid, for a configured
 * symbol), whether they moved the price or not.
 *
 * Returns: the count; 0 for a source never heard from
 */
guint64
th_hub_get_source_ticks (ThHub      *self,
                         const char *source)
{
  SourceStatus *status;

  g_return_val_if_fail (TH_IS_HUB (self), 0);
  g_return_val_if_fail (source != NULL, 0);

  status = g_hash_table_lookup (self->sources, source);
  return status != NULL ? status->ticks : 0;
}

/**
 * th_hub_get_rejected_ticks:
 * @self: a #ThHub
 *
 * How many ticks th_hub_push_tick() rejected since the hub was made: ticks
 * that failed th_tick_validate() and ticks of symbols the hub does not
 * follow. Ticks pushed before th_hub_start() or after th_hub_stop_async()
 * are dropped without being counted.
 *
 * Returns: how many ticks were rejected, all sources together
 */
guint64
th_hub_get_rejected_ticks (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), 0);
  return self->rejected;
}
