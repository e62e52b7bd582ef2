/* th-hub-query.c: what callers ask of the hub: its configuration and
 * parts, the plugins it made, the trusted price of a symbol (now, or the
 * first one within a deadline: th_hub_get_price_async()), the indicator
 * values and candles of a series.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-hub-private.h"

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

/* th_hub_get_clock() and th_hub_get_symbol_map() without the type check,
 * for a feed's every message (the hub is known good there). */
ThClock *
_th_hub_get_clock (ThHub *self)
{
  return self->clock;
}

ThSymbolMap *
_th_hub_get_symbol_map (ThHub *self)
{
  return self->symbol_map;
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
  return symbol != NULL && _th_hub_find_state (self, symbol) != NULL;
}

/**
 * th_hub_get_market:
 * @self: a loaded #ThHub
 * @symbol: a canonical symbol
 *
 * Whether @symbol's market is open now, on the hub's clock: for symbols
 * whose market has hours (US equities: see data/market-hours.conf), "open"
 * or "closed"; %NULL for a symbol that trades all the time (crypto) or
 * that the hub does not follow.
 *
 * Returns: (nullable): "open", "closed" or %NULL
 */
const char *
th_hub_get_market (ThHub      *self,
                   const char *symbol)
{
  ThMarketHours *hours;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  hours = _th_hub_get_market_hours (self, symbol);
  if (hours == NULL)
    return NULL;
  return _th_market_hours_is_open (hours, th_clock_get_time (self->clock)) ? "open" : "closed";
}

ThMarketHours *
_th_hub_get_market_hours (ThHub      *self,
                          const char *symbol)
{
  if (self->markets == NULL || symbol == NULL)
    return NULL;
  return g_hash_table_lookup (self->markets, symbol);
}

gboolean
_th_hub_venue_closed (ThHub      *self,
                      const char *venue)
{
  gint64 now = th_clock_get_time (self->clock);
  gboolean any = FALSE;

  if (self->markets == NULL || self->symbol_map == NULL || g_hash_table_size (self->markets) == 0)
    return FALSE;
  for (guint s = 0; self->symbols[s] != NULL; s++)
    {
      ThMarketHours *hours;

      if (th_symbol_map_lookup (self->symbol_map, self->symbols[s], venue) == NULL)
        continue;
      hours = g_hash_table_lookup (self->markets, self->symbols[s]);
      if (hours == NULL || _th_market_hours_is_open (hours, now))
        return FALSE;
      any = TRUE;
    }
  return any;
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

  plugin = _th_hub_plugin_of (self, extension);
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
void
_th_hub_price_waits_complete (ThHub      *self,
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
  _th_hub_publish_indicators (self, state, (guint) t, candle, values);
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

/* History */

/**
 * th_hub_set_history:
 * @self: a #ThHub
 * @history: (nullable): the store of past data, or %NULL to forget it
 *
 * Registers @history as the hub's history provider: the store plugin does
 * it when it is configured, and th_hub_get_history() hands it to whoever
 * asks (the D-Bus service, the server sink, plugins). The hub keeps a weak
 * pointer: a provider that is finalized is forgotten. One provider at a
 * time; a second replaces the first.
 */
void
th_hub_set_history (ThHub     *self,
                    ThHistory *history)
{
  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (history == NULL || TH_IS_HISTORY (history));

  if (self->history_provider == history)
    return;
  if (self->history_provider != NULL)
    g_object_remove_weak_pointer (G_OBJECT (self->history_provider), (gpointer *) &self->history_provider);
  self->history_provider = history;
  if (history != NULL)
    g_object_add_weak_pointer (G_OBJECT (history), (gpointer *) &self->history_provider);
}

/**
 * th_hub_get_history:
 * @self: a #ThHub
 *
 * The history provider registered with th_hub_set_history(), if any.
 *
 * Returns: (transfer none) (nullable): the store, or %NULL when no plugin
 *   keeps history
 */
ThHistory *
th_hub_get_history (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  return self->history_provider;
}

typedef struct
{
  char   *symbol;
  gint64  duration;
  gint64  from;
  gint64  to;
  guint   limit;
  gint64  wfrom;              /* the periods that can be complete: */
  gint64  wto;                /* _th_hub_backfill_window() */
  GVariant *missing;          /* a(xx), once answered */
} HistoryQuery;

static void
history_query_free (HistoryQuery *q)
{
  g_free (q->symbol);
  g_clear_pointer (&q->missing, g_variant_unref);
  g_free (q);
}

static void
on_history_queried (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HistoryQuery *q = g_task_get_task_data (task);
  GError *error = NULL;
  GPtrArray *candles = th_history_query_candles_finish (TH_HISTORY (source), result, &error);
  GVariantBuilder builder;

  if (candles == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The periods of the window with no candle: the answer's latest
   * candles are all those of the window, which has at most limit periods. */
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xx)"));
  if (q->wfrom < q->wto)
    {
      g_autoptr(GArray) missing = _th_hub_backfill_missing (candles, q->duration, q->wfrom, q->wto);

      for (guint i = 0; i < missing->len; i++)
        {
          const gint64 *r = &g_array_index (missing, gint64, 3 * i);

          g_variant_builder_add (&builder, "(xx)", r[0], r[1]);
        }
    }
  q->missing = g_variant_ref_sink (g_variant_builder_end (&builder));
  g_task_return_pointer (task, candles, (GDestroyNotify) g_ptr_array_unref);
}

static void
history_query_run (GTask *task)
{
  ThHub *self = g_task_get_source_object (task);
  HistoryQuery *q = g_task_get_task_data (task);

  if (self->history_provider == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store is gone");
      g_object_unref (task);
      return;
    }
  th_history_query_candles_async (self->history_provider, q->symbol, q->duration, q->from, q->to, q->limit,
                                  g_task_get_cancellable (task), on_history_queried, task);
}

static void
on_history_backfilled (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* Failed or not, the store answers with what it has; the missing
   * periods say the rest. */
  if (!_th_hub_backfill_ensure_finish (TH_HUB (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("backfill: %s", error->message);
  history_query_run (user_data);
}

/**
 * th_hub_get_history_async:
 * @self: a loaded #ThHub
 * @symbol: a configured symbol
 * @timeframe: a configured timeframe, by name (`1h`) or any name of the
 *   same length (`60m`)
 * @from: the earliest candle start, µs since the epoch (included)
 * @to: the latest candle start, µs since the epoch (excluded)
 * @limit: the most candles to return: 1 to 10,000; 0 for 1,000
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Asks the history store (th_hub_get_history()) for the closed candles of
 * @symbol and @timeframe that start in [@from, @to): the latest @limit of
 * them, oldest first. The store reads in a thread; the main loop never
 * waits.
 *
 * Periods of the range the store lacks (among the latest @limit periods
 * that are over) are first fetched from the venues that can (feed plugins
 * implementing #ThBackfill, in the order of `[prices] order`, unless
 * `[tickhub] backfill=false`) and stored; the answer comes once they are.
 * Concurrent queries share one fetch of the same periods. What no venue
 * has stays missing, never interpolated: th_hub_get_history_finish_full()
 * says which periods. Fails with %TH_ERROR_UNKNOWN_SYMBOL for a symbol that is not
 * configured, %TH_ERROR_BAD_INPUT for a timeframe that is not configured,
 * a range that is empty (@from not before @to) or a @limit over 10,000,
 * and %TH_ERROR_NO_HISTORY when no store is loaded or it cannot read.
 */
void
th_hub_get_history_async (ThHub               *self,
                          const char          *symbol,
                          const char          *timeframe,
                          gint64               from,
                          gint64               to,
                          guint                limit,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  HistoryQuery *q;
  gint64 duration = 0;
  guint t;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (symbol != NULL && timeframe != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, th_hub_get_history_async);
  g_task_set_name (task, "[hub] get history");

  if (!th_hub_has_symbol (self, symbol))
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL,
                               "unknown symbol “%s”; the symbols are those of [tickhub] symbols", symbol);
      return;
    }
  th_parse_timeframe (timeframe, &duration, NULL);
  for (t = 0; t < self->n_timeframes && self->timeframes[t].duration != duration; t++)
    ;
  if (duration == 0 || t == self->n_timeframes)
    {
      g_auto(GStrv) names = th_hub_list_timeframes (self);
      g_autofree char *list = g_strjoinv (", ", names);

      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT,
                               "timeframe “%s” is not kept; it must be one of %s", timeframe, list);
      return;
    }
  if (from >= to)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT,
                               "the range is empty: from must be before to");
      return;
    }
  if (limit > 10000)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT,
                               "limit %u is over 10000; ask for less, or for a shorter range", limit);
      return;
    }
  if (self->history_provider == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY,
                               "no history is kept; add the store plugin to [tickhub] plugins");
      return;
    }

  q = g_new0 (HistoryQuery, 1);
  q->symbol = g_strdup (symbol);
  q->duration = duration;
  q->from = from;
  q->to = to;
  q->limit = limit > 0 ? limit : 1000;
  _th_hub_backfill_window (self, duration, from, to, q->limit, &q->wfrom, &q->wto);
  g_task_set_task_data (task, q, (GDestroyNotify) history_query_free);

  if (q->wfrom < q->wto && _th_hub_backfill_enabled (self))
    _th_hub_backfill_ensure_async (self, symbol, duration, q->wfrom, q->wto, cancellable,
                                   on_history_backfilled, g_steal_pointer (&task));
  else
    history_query_run (g_steal_pointer (&task));
}

/**
 * th_hub_get_history_finish:
 * @self: a #ThHub
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_hub_get_history_async().
 *
 * Returns: (transfer container) (element-type ThCandle): the candles, oldest
 *   first, possibly none; %NULL on failure
 */
GPtrArray *
th_hub_get_history_finish (ThHub         *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  return th_hub_get_history_finish_full (self, result, NULL, error);
}

/**
 * th_hub_get_history_finish_full:
 * @self: a #ThHub
 * @result: the result
 * @missing: (out) (optional) (transfer full): the periods with no candle,
 *   as `a(xx)`: runs [from, to) of candle starts, µs since the epoch,
 *   oldest first, among the latest limit periods of the range that are
 *   over; empty when nothing is missing
 * @error: return location for an error
 *
 * Finishes th_hub_get_history_async(), and says which periods neither the
 * store nor any venue could give.
 *
 * Returns: (transfer container) (element-type ThCandle): the candles, oldest
 *   first, possibly none; %NULL on failure
 */
GPtrArray *
th_hub_get_history_finish_full (ThHub         *self,
                                GAsyncResult  *result,
                                GVariant     **missing,
                                GError       **error)
{
  HistoryQuery *q;
  GPtrArray *candles;

  if (missing != NULL)
    *missing = NULL;
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == th_hub_get_history_async, NULL);

  candles = g_task_propagate_pointer (G_TASK (result), error);
  q = g_task_get_task_data (G_TASK (result));
  if (candles != NULL && missing != NULL)
    *missing = q != NULL && q->missing != NULL ? g_variant_ref (q->missing)
                                               : g_variant_ref_sink (g_variant_new ("a(xx)", NULL));
  return candles;
}

static void
on_history_ticks_queried (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GPtrArray *ticks = th_history_query_ticks_finish (TH_HISTORY (source), result, &error);

  if (ticks == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ticks, (GDestroyNotify) g_ptr_array_unref);
}

/**
 * th_hub_get_history_ticks_async:
 * @self: a loaded #ThHub
 * @symbol: a configured symbol
 * @from: the earliest exchange time, µs since the epoch (included)
 * @to: the latest exchange time, µs since the epoch (excluded)
 * @limit: the most ticks to return: 1 to 10,000; 0 for 1,000
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Asks the history store (th_hub_get_history()) for the ticks of @symbol
 * it kept (the `store` plugin with `ticks=true`) whose exchange time is in
 * [@from, @to): the latest @limit of them, oldest first. The store reads
 * in a thread; the main loop never waits. Fails with
 * %TH_ERROR_UNKNOWN_SYMBOL for a symbol that is not configured,
 * %TH_ERROR_BAD_INPUT for an empty range or a @limit over 10,000, and
 * %TH_ERROR_NO_HISTORY when no store is loaded, it keeps no ticks or it
 * cannot read.
 */
void
th_hub_get_history_ticks_async (ThHub               *self,
                                const char          *symbol,
                                gint64               from,
                                gint64               to,
                                guint                limit,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (symbol != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, th_hub_get_history_ticks_async);
  g_task_set_name (task, "[hub] get history ticks");

  if (!th_hub_has_symbol (self, symbol))
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL,
                               "unknown symbol “%s”; the symbols are those of [tickhub] symbols", symbol);
      return;
    }
  if (from >= to)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT,
                               "the range is empty: from must be before to");
      return;
    }
  if (limit > 10000)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT,
                               "limit %u is over 10000; ask for less, or for a shorter range", limit);
      return;
    }
  if (self->history_provider == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY,
                               "no history is kept; add the store plugin to [tickhub] plugins");
      return;
    }

  th_history_query_ticks_async (self->history_provider, symbol, from, to, limit > 0 ? limit : 1000,
                                cancellable, on_history_ticks_queried, g_steal_pointer (&task));
}

/**
 * th_hub_get_history_ticks_finish:
 * @self: a #ThHub
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_hub_get_history_ticks_async().
 *
 * Returns: (transfer container) (element-type ThTick): the ticks, oldest
 *   first, possibly none; %NULL on failure
 */
GPtrArray *
th_hub_get_history_ticks_finish (ThHub         *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == th_hub_get_history_ticks_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * th_hub_get_divergences:
 * @self: a #ThHub
 *
 * With `[prices] divergence` set, how many times a symbol's first fresh
 * source was flagged as deviating from the other fresh sources.
 *
 * Returns: the count since the hub was made
 */
guint64
th_hub_get_divergences (ThHub *self)
{
  g_return_val_if_fail (TH_IS_HUB (self), 0);

  return self->divergences;
}
