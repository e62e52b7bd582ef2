/* th-backfill.h: the interface of a venue that can fetch past candles
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <gio/gio.h>

G_BEGIN_DECLS

#define TH_TYPE_BACKFILL (th_backfill_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThBackfill, th_backfill, TH, BACKFILL, GObject)

/**
 * ThBackfillInterface:
 * @g_iface: the parent interface
 * @fetch_candles_async: fetches the closed candles of @symbol and
 *   @duration that start in [@from, @to) from the venue's REST history,
 *   paginating and respecting the venue's rate limits itself; never blocks
 *   the main loop; completes in the caller's thread-default main context
 * @fetch_candles_finish: finishes @fetch_candles_async: a #GPtrArray of
 *   closed #ThCandle, oldest first, that frees its candles, and optionally
 *   the trade count of each (-1 where the venue does not say)
 *
 * What a feed plugin implements, besides #ThFeedSource, when its venue
 * can give past candles. The hub asks the providers in the order of
 * `[prices] order` for the candles its history store lacks
 * (th_hub_get_history_async(), and at start for the gap since the last
 * stored candle), stores what they give with their name as the origin,
 * and asks the next provider for what is still missing.
 */
struct _ThBackfillInterface
{
  GTypeInterface g_iface;

  void       (*fetch_candles_async)  (ThBackfill          *self,
                                      const char          *symbol,
                                      gint64               duration,
                                      gint64               from,
                                      gint64               to,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
  GPtrArray *(*fetch_candles_finish) (ThBackfill          *self,
                                      GAsyncResult        *result,
                                      GArray             **trades,
                                      GError             **error);
};

TH_EXPORT
void       th_backfill_fetch_candles_async  (ThBackfill          *self,
                                             const char          *symbol,
                                             gint64               duration,
                                             gint64               from,
                                             gint64               to,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
TH_EXPORT
GPtrArray *th_backfill_fetch_candles_finish (ThBackfill          *self,
                                             GAsyncResult        *result,
                                             GArray             **trades,
                                             GError             **error);

G_END_DECLS
