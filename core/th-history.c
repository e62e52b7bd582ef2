/* th-history.c: the interface of a history store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

/**
 * ThHistory:
 *
 * A store of past data: closed candles, optionally ticks, and the audit
 * trail of the price sources. The `store` sink plugin implements it on
 * SQLite and registers itself with the hub (th_hub_set_history()), so that
 * the D-Bus service, the server sink and plugins in any language find it
 * with th_hub_get_history().
 *
 * A store is a consumer like any sink: its health is its own, and a store
 * that cannot write says so through th_history_get_state() while live data
 * keeps flowing.
 */
G_DEFINE_INTERFACE (ThHistory, th_history, G_TYPE_OBJECT)

static void
th_history_default_init (ThHistoryInterface *iface)
{
}

/**
 * th_history_get_state:
 * @self: a #ThHistory
 * @reason: (out) (optional) (nullable) (transfer full): why the store is
 *   not live, in words, naming the file and the fix; %NULL when it is live
 *
 * The store's health: %TH_SOURCE_STATE_CONNECTING while it opens its
 * database, %TH_SOURCE_STATE_LIVE while it writes, %TH_SOURCE_STATE_DOWN
 * after a failure (it keeps what it could not write, within its bounds,
 * and retries), %TH_SOURCE_STATE_DISABLED once stopped.
 *
 * Returns: the store's state
 */
ThSourceState
th_history_get_state (ThHistory  *self,
                      char      **reason)
{
  ThHistoryInterface *iface;

  if (reason != NULL)
    *reason = NULL;
  g_return_val_if_fail (TH_IS_HISTORY (self), TH_SOURCE_STATE_DOWN);

  iface = TH_HISTORY_GET_IFACE (self);
  if (iface->get_state == NULL)
    return TH_SOURCE_STATE_LIVE;
  return iface->get_state (self, reason);
}

/**
 * th_history_get_stats:
 * @self: a #ThHistory
 *
 * The store's counters, such as the `store` plugin's `candles`, `ticks`,
 * `source_changes` (t: rows written since start), `queued` (t), `dropped`
 * (t: records refused because the queue was full), `lost` (t: records
 * given up on), `failures` (t) and `path` (s).
 *
 * Returns: (transfer full): an `a{sv}` dictionary, empty when the store
 *   keeps no counters
 */
GVariant *
th_history_get_stats (ThHistory *self)
{
  ThHistoryInterface *iface;
  GVariant *stats = NULL;

  g_return_val_if_fail (TH_IS_HISTORY (self), NULL);

  iface = TH_HISTORY_GET_IFACE (self);
  if (iface->get_stats != NULL)
    stats = iface->get_stats (self);
  if (stats == NULL)
    stats = g_variant_new ("a{sv}", NULL);
  return g_variant_ref_sink (stats);
}

/**
 * th_history_query_candles_async:
 * @self: a #ThHistory
 * @symbol: a canonical symbol
 * @duration: the timeframe's length, µs
 * @from: the earliest start, µs since the epoch (included)
 * @to: the latest start, µs since the epoch (excluded)
 * @limit: the most candles to return, 1 or more
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Looks up the stored closed candles of @symbol and @duration that start
 * in [@from, @to): the latest @limit of them, oldest first. The store reads
 * off the main loop. Most callers want th_hub_get_history_async(), which
 * checks the symbol and the timeframe first.
 */
void
th_history_query_candles_async (ThHistory           *self,
                                const char          *symbol,
                                gint64               duration,
                                gint64               from,
                                gint64               to,
                                guint                limit,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  ThHistoryInterface *iface;

  g_return_if_fail (TH_IS_HISTORY (self));
  g_return_if_fail (symbol != NULL);
  g_return_if_fail (duration > 0);
  g_return_if_fail (limit > 0);

  iface = TH_HISTORY_GET_IFACE (self);
  if (iface->query_candles_async == NULL)
    {
      g_task_report_new_error (self, callback, user_data, th_history_query_candles_async,
                               TH_ERROR, TH_ERROR_NO_HISTORY, "this store answers no queries");
      return;
    }
  iface->query_candles_async (self, symbol, duration, from, to, limit, cancellable, callback, user_data);
}

/**
 * th_history_query_candles_finish:
 * @self: a #ThHistory
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_history_query_candles_async().
 *
 * Returns: (transfer container) (element-type ThCandle): the candles,
 *   oldest first, closed, possibly none; %NULL on failure
 */
GPtrArray *
th_history_query_candles_finish (ThHistory     *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (TH_IS_HISTORY (self), NULL);

  if (g_async_result_is_tagged (result, th_history_query_candles_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return TH_HISTORY_GET_IFACE (self)->query_candles_finish (self, result, error);
}

/**
 * th_history_query_ticks_async:
 * @self: a #ThHistory
 * @symbol: a canonical symbol
 * @from: the earliest exchange time, µs since the epoch (included)
 * @to: the latest exchange time, µs since the epoch (excluded)
 * @limit: the most ticks to return, 1 or more
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Looks up the stored ticks of @symbol whose exchange time is in
 * [@from, @to): the latest @limit of them, oldest first. The store reads
 * off the main loop. A store that keeps no ticks (the `store` plugin
 * without `ticks=true`) fails with %TH_ERROR_NO_HISTORY. Most callers
 * want th_hub_get_history_ticks_async(), which checks the symbol first.
 */
void
th_history_query_ticks_async (ThHistory           *self,
                              const char          *symbol,
                              gint64               from,
                              gint64               to,
                              guint                limit,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ThHistoryInterface *iface;

  g_return_if_fail (TH_IS_HISTORY (self));
  g_return_if_fail (symbol != NULL);
  g_return_if_fail (limit > 0);

  iface = TH_HISTORY_GET_IFACE (self);
  if (iface->query_ticks_async == NULL)
    {
      g_task_report_new_error (self, callback, user_data, th_history_query_ticks_async,
                               TH_ERROR, TH_ERROR_NO_HISTORY, "this store keeps no ticks");
      return;
    }
  iface->query_ticks_async (self, symbol, from, to, limit, cancellable, callback, user_data);
}

/**
 * th_history_query_ticks_finish:
 * @self: a #ThHistory
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_history_query_ticks_async().
 *
 * Returns: (transfer container) (element-type ThTick): the ticks, oldest
 *   first, possibly none; %NULL on failure
 */
GPtrArray *
th_history_query_ticks_finish (ThHistory     *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (TH_IS_HISTORY (self), NULL);

  if (g_async_result_is_tagged (result, th_history_query_ticks_async))
    return g_task_propagate_pointer (G_TASK (result), error);
  return TH_HISTORY_GET_IFACE (self)->query_ticks_finish (self, result, error);
}

/**
 * th_history_can_store_candles:
 * @self: a #ThHistory
 *
 * Whether the store takes candles from outside (a backfill):
 * th_history_store_candles_async().
 *
 * Returns: %TRUE if it does
 */
gboolean
th_history_can_store_candles (ThHistory *self)
{
  g_return_val_if_fail (TH_IS_HISTORY (self), FALSE);
  return TH_HISTORY_GET_IFACE (self)->store_candles_async != NULL;
}

/**
 * th_history_store_candles_async:
 * @self: a #ThHistory
 * @symbol: a canonical symbol
 * @origin: where the candles come from, such as `backfill:binance`
 * @source: (nullable): the source of their prices, such as `binance`
 * @candles: (element-type ThCandle): closed candles, all of one timeframe
 * @trades: (nullable) (element-type gint64): the trade count of each
 *   candle, -1 where it is not known; %NULL when none is
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called once they are written
 * @user_data: data for @callback
 *
 * Writes @candles, fetched from a venue, with @origin. A candle already
 * stored for the same symbol, timeframe and start (a live one, or an
 * earlier backfill) is kept, not replaced. Completes once the candles are
 * written, so that a query made then finds them. A store that takes no
 * candles from outside fails with %TH_ERROR_NO_HISTORY.
 */
void
th_history_store_candles_async (ThHistory           *self,
                                const char          *symbol,
                                const char          *origin,
                                const char          *source,
                                GPtrArray           *candles,
                                GArray              *trades,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  ThHistoryInterface *iface;

  g_return_if_fail (TH_IS_HISTORY (self));
  g_return_if_fail (symbol != NULL && origin != NULL && candles != NULL);
  g_return_if_fail (trades == NULL || trades->len == candles->len);

  iface = TH_HISTORY_GET_IFACE (self);
  if (iface->store_candles_async == NULL)
    {
      g_task_report_new_error (self, callback, user_data, th_history_store_candles_async,
                               TH_ERROR, TH_ERROR_NO_HISTORY, "this store takes no backfilled candles");
      return;
    }
  iface->store_candles_async (self, symbol, origin, source, candles, trades, cancellable, callback, user_data);
}

/**
 * th_history_store_candles_finish:
 * @self: a #ThHistory
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_history_store_candles_async().
 *
 * Returns: %TRUE once the candles are written
 */
gboolean
th_history_store_candles_finish (ThHistory     *self,
                                 GAsyncResult  *result,
                                 GError       **error)
{
  g_return_val_if_fail (TH_IS_HISTORY (self), FALSE);

  if (g_async_result_is_tagged (result, th_history_store_candles_async))
    return g_task_propagate_boolean (G_TASK (result), error);
  return TH_HISTORY_GET_IFACE (self)->store_candles_finish (self, result, error);
}
