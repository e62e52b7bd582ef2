/* th-hub.c: one tickhub instance: lifecycle, ticks and routing
 *
 * The hub loads the plugins named in the config with a PeasEngine
 * (th-hub-loader.c), then routes: feeds push ticks → the price book records
 * them and picks one source per symbol → ticks of the selected source
 * become `financial_data_update` events and go into the candle series of
 * each timeframe → closed candles go through the indicators → every event
 * goes to every sink, serialized once (th-hub-events.c). What callers ask
 * of it is in th-hub-query.c.
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

#include "th-hub-private.h"

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_CLOCK,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];
guint _th_hub_signals[N_SIGNALS];

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


static void
plugin_free (gpointer data)
{
  Plugin *plugin = data;

  g_clear_object (&plugin->feed);
  g_clear_object (&plugin->sink);
  g_free (plugin);
}

void
_th_hub_spec_free (gpointer data)
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
      g_clear_pointer (&s->deferred, g_ptr_array_unref);
      _th_candle_series_free (s->series);
    }
  g_free (state->series);
  g_free (state->symbol);
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
  if (self->warmup_cancellable != NULL)
    g_cancellable_cancel (self->warmup_cancellable);
  g_clear_object (&self->warmup_cancellable);
  _th_hub_backfill_stop (self);
  g_clear_object (&self->backfill_cancellable);
  th_hub_set_history (self, NULL);

  /* No price will come any more: waiting calls get their answer now. */
  if (self->price_waits != NULL && self->book != NULL)
    _th_hub_price_waits_complete (self, NULL);

  if (self->book != NULL)
    g_signal_handlers_disconnect_by_func (self->book, _th_hub_on_source_changed, self);

  if (self->states != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->states);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        symbol_state_free (self, value);
      g_clear_pointer (&self->states, g_hash_table_unref);
      memset (self->state_cache, 0, sizeof self->state_cache);
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
  g_clear_pointer (&self->markets, g_hash_table_unref);
  g_clear_pointer (&self->market_hours, g_ptr_array_unref);
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
  if (self->scratch != NULL)
    g_string_free (g_steal_pointer (&self->scratch), TRUE);
  g_clear_pointer (&self->closed_spare, g_ptr_array_unref);
  g_clear_pointer (&self->backfills, g_hash_table_unref);

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
  g_signal_connect (self->book, "source-changed", G_CALLBACK (_th_hub_on_source_changed), self);
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
  _th_hub_signals[SIGNAL_EVENT] =
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
  _th_hub_signals[SIGNAL_QUIT_REQUESTED] =
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
  _th_hub_signals[SIGNAL_PRICE_CHANGED] =
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
  _th_hub_signals[SIGNAL_SOURCE_STATUS_CHANGED] =
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
  _th_hub_signals[SIGNAL_CANDLE_CLOSED] =
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
  _th_hub_signals[SIGNAL_INDICATORS_UPDATED] =
    g_signal_new ("indicators-updated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  TH_TYPE_CANDLE | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_VARIANT);

  /**
   * ThHub::price-divergence:
   * @self: the hub
   * @symbol: the canonical symbol
   * @source: the first fresh source of the order, compared with the others
   * @price: its price
   * @median: the median of the other fresh sources of the same quote
   * @bps: how far @price is from @median, in basis points
   * @diverged: %TRUE when @source is flagged, %FALSE when it agrees again
   *
   * With `[prices] divergence` set: emitted after each `price_divergence`
   * event, with the same news.
   */
  _th_hub_signals[SIGNAL_PRICE_DIVERGENCE] =
    g_signal_new ("price-divergence", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 6,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                  G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_DOUBLE, G_TYPE_BOOLEAN);
}

static void
th_hub_init (ThHub *self)
{
  self->plugins = g_ptr_array_new_with_free_func (plugin_free);
  self->feeds = g_ptr_array_new_with_free_func (g_object_unref);
  self->sinks = g_ptr_array_new_with_free_func (g_object_unref);
  self->specs = g_ptr_array_new_with_free_func (_th_hub_spec_free);
  self->states = g_hash_table_new (g_str_hash, g_str_equal);
  self->sources = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, source_status_free);
  self->host_groups = g_ptr_array_new_with_free_func (host_group_free);
  self->warned_symbols = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->disabled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->js_types = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->history = DEFAULT_HISTORY;
  self->backfill_max = DEFAULT_BACKFILL;
  self->backfills = _th_hub_backfill_table_new ();
  self->stop_waiters = g_ptr_array_new_with_free_func (g_object_unref);
  self->price_waits = g_ptr_array_new ();
  self->scratch = g_string_sized_new (512);
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

/* Ticks */

SourceStatus *
_th_hub_get_source_status (ThHub      *self,
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
  SourceStatus *status = _th_hub_get_source_status (self, source);

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
  _th_hub_push_tick_at (self, tick, 0);
}

/* The clock is read once a tick at most, not once in the hub and again in
 * the price book: on a virtual machine a reading costs as much as a tenth
 * of the whole ingest of a message (bench/ingest, perf). */
void
_th_hub_push_tick_at (ThHub  *self,
                      ThTick *tick,
                      gint64  now)
{
  g_autoptr(GError) error = NULL;
  SymbolState *state;
  SourceStatus *status;
  ThTick *merged;
  GPtrArray *closed;

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

  state = _th_hub_find_state (self, tick->symbol);
  if (state == NULL)
    {
      g_autofree char *key = g_strdup_printf ("%s/%s", tick->source, tick->symbol);

      self->rejected++;
      _th_hub_get_source_status (self, tick->source)->rejected++;
      if (!g_hash_table_contains (self->warned_symbols, key))
        {
          g_hash_table_add (self->warned_symbols, g_steal_pointer (&key));
          g_message ("ignoring %s from %s: not in [tickhub] symbols", tick->symbol, tick->source);
        }
      return;
    }

  if (tick->quote == NULL)
    th_tick_set_quote (tick, self->quote);
  if (now == 0)
    now = th_clock_get_time (self->clock);
  if (tick->receive_time == 0)
    tick->receive_time = now;

  /* A feed's ticks come from one source: a string comparison instead of a
   * hash lookup. */
  if (self->last_source != NULL && strcmp (self->last_source, tick->source) == 0)
    status = self->last_status;
  else
    {
      gpointer key;

      status = _th_hub_get_source_status (self, tick->source);
      if (g_hash_table_lookup_extended (self->sources, tick->source, &key, NULL))
        {
          self->last_source = key;
          self->last_status = status;
        }
    }
  status->last_tick = tick->receive_time;
  status->ticks++;

  if (!_th_price_book_update_latest (self->book, tick, &state->book, &merged, now))
    return;

  _th_hub_emit_financial (self, merged);

  state->offset = tick->receive_time - tick->exchange_time;
  state->has_offset = TRUE;

  /* One array kept for the closed candles; a tick pushed from a handler
   * meanwhile (the spare is taken) makes its own. */
  closed = g_steal_pointer (&self->closed_spare);
  if (closed == NULL)
    closed = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  for (guint t = 0; t < self->n_timeframes; t++)
    {
      Series *s = &state->series[t];
      double size = tick->kind == TH_TICK_KIND_TRADE ? tick->size : NAN;

      if (_th_candle_series_add (s->series, tick->exchange_time, tick->price, size, closed) != NULL)
        s->dirty = TRUE;
      if (closed->len > 0)
        _th_hub_publish_closed (self, state, t, closed);
    }
  if (self->closed_spare == NULL)
    self->closed_spare = closed;
  else
    g_ptr_array_unref (closed);
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
    _th_hub_emit_financial (self, th_price_book_get_latest (self->book, symbol, source));
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
              _th_hub_publish_closed (self, state, t, closed);
              continue;
            }

          forming = _th_candle_series_get_forming (s->series);
          if (s->dirty && forming != NULL)
            {
              s->dirty = FALSE;
              _th_hub_emit_candle (self, state->symbol, self->timeframes[t].name, forming);
              _th_hub_run_indicators (self, state, t, forming);
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
 * Starts the sinks, then the feeds. With a history store
 * (th_hub_set_history()) and indicators, each series first asks the store
 * for its last `[tickhub] warmup` closed candles (th_hub_get_history_async())
 * and feeds them to its indicators; candles that close meanwhile wait for
 * them, so the first values published are those of an uninterrupted run.
 */
void
th_hub_start (ThHub *self)
{
  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (self->loaded && !self->started);

  self->started = TRUE;

  for (guint i = 0; i < self->sinks->len; i++)
    if (!_th_hub_sink_is_disabled (self, self->sinks->pdata[i]))
      th_sink_start (self->sinks->pdata[i]);
  /* The gaps since the last stored candles are fetched from the venues;
   * the warm-up's queries wait for the fetches of their periods. */
  _th_hub_backfill_start (self);
  /* The indicators ask the store for their past before live data counts. */
  _th_hub_warm_up (self);
  for (guint i = 0; i < self->feeds->len; i++)
    if (!_th_hub_feed_is_disabled (self, self->feeds->pdata[i]))
      th_feed_source_start (self->feeds->pdata[i]);

  schedule_housekeeping (self);
}

/* Stopping */

typedef struct
{
  guint    pending;        /* flushes not finished yet */
  gboolean done;           /* the stop has completed: later flushes are ignored */
  GSource *cancel_source;  /* completes the stop when the cancellable is cancelled */
  GError  *error;
} StopData;

static void
stop_data_free (StopData *data)
{
  if (data->cancel_source != NULL)
    {
      g_source_destroy (data->cancel_source);
      g_source_unref (data->cancel_source);
    }
  g_clear_error (&data->error);
  g_free (data);
}

/* Stops every sink and completes the stop: when the last flush has
 * finished, or when the stop is cancelled, whichever comes first. */
static void
stop_done (GTask *task)
{
  ThHub *self = g_task_get_source_object (task);
  StopData *data = g_task_get_task_data (task);
  g_autoptr(GPtrArray) waiters = NULL;

  if (data->done)
    return;
  data->done = TRUE;
  if (data->cancel_source != NULL)
    g_source_destroy (data->cancel_source);

  waiters = g_steal_pointer (&self->stop_waiters);

  for (guint i = 0; i < self->sinks->len; i++)
    if (!_th_hub_sink_is_disabled (self, self->sinks->pdata[i]))
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
      /* After a cancelled stop: what the sink gave up is said already. */
      if (!data->done)
        g_warning ("flushing a sink failed: %s", error->message);
      if (data->error == NULL)
        data->error = g_steal_pointer (&error);
    }

  if (--data->pending == 0)
    stop_done (task);
}

/* The caller gave up waiting: the sinks were told (the cancellable is
 * theirs too) to drop what they could not write; a sink that does not
 * answer is not waited for. */
static gboolean
on_stop_cancelled (GCancellable *cancellable,
                   gpointer      user_data)
{
  GTask *task = user_data;
  StopData *data = g_task_get_task_data (task);

  if (data->pending > 0)
    g_warning ("%u sink%s did not finish flushing; stopping %s without waiting",
               data->pending, data->pending == 1 ? "" : "s", data->pending == 1 ? "it" : "them");
  stop_done (task);
  return G_SOURCE_REMOVE;
}

/**
 * th_hub_stop_async:
 * @self: a #ThHub
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when everything is stopped and flushed
 * @user_data: data for @callback
 *
 * Stops the feeds, so no tick comes in any more, then flushes every sink
 * and stops them. A second call while stopping completes with the first.
 *
 * From the call on, the hub emits nothing: no event reaches a sink (not
 * even one a plugin hands to th_hub_emit_event()), and no signal carries
 * news (#ThHub::price-changed, #ThHub::source-status-changed...). The
 * housekeeping and the price book's expiry deadline stop first, so a
 * source that goes stale while the sinks flush is not reported; the
 * feeds' own reports are recorded, for th_hub_get_source_state(), and not
 * published.
 *
 * Cancelling @cancellable makes the sinks give up what they could not
 * write yet, and completes the stop at once: the sinks are stopped
 * whether their flushes have finished or not, so a sink that never
 * finishes cannot hold the stop. A caller bounds the stop by cancelling
 * at its deadline (tickhubd gives the sinks 15 s in all).
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

  /* From here on nothing is emitted (th_hub_emit_event()); the timers
   * that would find news stop first. */
  self->stopping = TRUE;
  _th_hub_backfill_stop (self);
  if (self->housekeeping_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->housekeeping_id);
      self->housekeeping_id = 0;
    }
  _th_price_book_stop_expiry (self->book);
  /* No tick comes in any more: waiting calls get their answer now. */
  _th_hub_price_waits_complete (self, NULL);

  for (guint i = 0; i < self->feeds->len; i++)
    if (!_th_hub_feed_is_disabled (self, self->feeds->pdata[i]))
      th_feed_source_stop (self->feeds->pdata[i]);

  data = g_new0 (StopData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) stop_data_free);
  if (cancellable != NULL)
    {
      /* Dispatched from the main loop, not inside g_cancellable_cancel(). */
      data->cancel_source = g_cancellable_source_new (cancellable);
      g_task_attach_source (task, data->cancel_source, G_SOURCE_FUNC (on_stop_cancelled));
    }

  /* Failed plugins are not called again: nothing to flush there. */
  data->pending = self->sinks->len - self->n_disabled_sinks;
  if (data->pending == 0)
    {
      stop_done (task);
      return;
    }

  for (guint i = 0; i < self->sinks->len; i++)
    if (!_th_hub_sink_is_disabled (self, self->sinks->pdata[i]))
      th_sink_flush_async (self->sinks->pdata[i], cancellable, on_sink_flushed, g_object_ref (task));
}

/**
 * th_hub_stop_finish:
 * @self: a #ThHub
 * @result: the result
 * @error: return location for the first flush error
 *
 * Finishes th_hub_stop_async(). Whether it succeeds or not, the feeds and
 * sinks are stopped and the hub takes no more ticks and emits no more
 * events. A hub that was not started, or is already stopped, completes
 * with %TRUE. If the cancellable given to th_hub_stop_async() was
 * cancelled, this fails with %G_IO_ERROR_CANCELLED.
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
  g_signal_emit (self, _th_hub_signals[SIGNAL_QUIT_REQUESTED], 0, self->quit_code);
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
 * `source_status` event and #ThHub::source-status-changed; once
 * th_hub_stop_async() has begun, the state is only recorded.
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

  status = _th_hub_get_source_status (self, source);
  if (status->reported && status->state == state && g_strcmp0 (status->reason, reason) == 0)
    return;

  status->reported = TRUE;
  status->state = state;
  g_free (status->reason);
  status->reason = g_strdup (reason);
  th_price_book_set_source_reason (self->book, source,
                                   state == TH_SOURCE_STATE_LIVE ? NULL : (reason != NULL ? reason : th_source_state_to_string (state)));

  /* Stopping: recorded for th_hub_get_source_state(), not published. */
  if (self->stopping)
    {
      g_debug ("source %s: %s%s%s (while stopping)", source, th_source_state_to_string (state),
               reason != NULL ? ": " : "", reason != NULL ? reason : "");
      return;
    }

  if (state == TH_SOURCE_STATE_LIVE || state == TH_SOURCE_STATE_CONNECTING)
    g_info ("source %s: %s%s%s", source, th_source_state_to_string (state),
            reason != NULL ? ": " : "", reason != NULL ? reason : "");
  else
    g_message ("source %s: %s%s%s", source, th_source_state_to_string (state),
               reason != NULL ? ": " : "", reason != NULL ? reason : "");

  now = th_clock_get_time (self->clock);
  out = _th_hub_envelope_begin ("source_status");
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
  _th_hub_envelope_end (out);
  _th_hub_emit_take (self, "source_status", NULL, NULL, out);

  g_signal_emit (self, _th_hub_signals[SIGNAL_SOURCE_STATUS_CHANGED], 0, source, state, reason);
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
