/* th-backfill.c: the interface of a venue that can fetch past candles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

/**
 * ThBackfill:
 *
 * A venue whose REST API gives past candles: the Binance, Coinbase and
 * CoinGecko feed plugins implement it next to #ThFeedSource. The hub fills
 * the gaps of its history store with it (see th_hub_get_history_async()
 * and `[tickhub] backfill`), asking the providers in the order of
 * `[prices] order`.
 *
 * A provider returns only what the venue gave, never an interpolated
 * candle: a period the venue has no candle for is simply absent from the
 * answer, and stays missing unless a later provider has it.
 */
G_DEFINE_INTERFACE (ThBackfill, th_backfill, G_TYPE_OBJECT)

static void
th_backfill_default_init (ThBackfillInterface *iface)
{
}

/**
 * th_backfill_fetch_candles_async:
 * @self: a #ThBackfill
 * @symbol: a canonical symbol
 * @duration: the timeframe's length, µs
 * @from: the earliest start, µs since the epoch (included)
 * @to: the latest start, µs since the epoch (excluded)
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async): called with the answer
 * @user_data: data for @callback
 *
 * Fetches the closed candles of @symbol and @duration that start in
 * [@from, @to) from the venue. The provider pages through the venue's
 * limits and waits out its rate limits (a 429's `Retry-After`) itself;
 * it fails with %G_IO_ERROR_NOT_SUPPORTED for a timeframe or a range the
 * venue does not give, %TH_ERROR_UNKNOWN_SYMBOL for a symbol it has no
 * code for, and another error when the venue cannot answer.
 */
void
th_backfill_fetch_candles_async (ThBackfill          *self,
                                 const char          *symbol,
                                 gint64               duration,
                                 gint64               from,
                                 gint64               to,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_return_if_fail (TH_IS_BACKFILL (self));
  g_return_if_fail (symbol != NULL);
  g_return_if_fail (duration > 0);

  TH_BACKFILL_GET_IFACE (self)->fetch_candles_async (self, symbol, duration, from, to, cancellable,
                                                     callback, user_data);
}

/**
 * th_backfill_fetch_candles_finish:
 * @self: a #ThBackfill
 * @result: the result
 * @trades: (out) (optional) (nullable) (transfer full) (element-type gint64):
 *   the trade count of each candle, -1 where the venue does not say
 * @error: return location for an error
 *
 * Finishes th_backfill_fetch_candles_async().
 *
 * Returns: (transfer container) (element-type ThCandle): the candles,
 *   oldest first, closed, possibly none; %NULL on failure
 */
GPtrArray *
th_backfill_fetch_candles_finish (ThBackfill    *self,
                                  GAsyncResult  *result,
                                  GArray       **trades,
                                  GError       **error)
{
  if (trades != NULL)
    *trades = NULL;
  g_return_val_if_fail (TH_IS_BACKFILL (self), NULL);

  return TH_BACKFILL_GET_IFACE (self)->fetch_candles_finish (self, result, trades, error);
}
