/* th-history.h: the interface of a history store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <gio/gio.h>
#include "th-types.h"

G_BEGIN_DECLS

#define TH_TYPE_HISTORY (th_history_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThHistory, th_history, TH, HISTORY, GObject)

/**
 * ThHistoryInterface:
 * @g_iface: the parent interface
 * @get_state: the store's health and, unless it is live, why; called from
 *   the main context; must not block
 * @get_stats: the store's counters as `a{sv}`; called from the main
 *   context; must not block; optional
 * @query_candles_async: looks up the stored closed candles of @symbol and
 *   @duration whose start is in [@from, @to), the latest @limit of them,
 *   off the main loop (a thread of its own); completes in the caller's
 *   thread-default main context
 * @query_candles_finish: finishes @query_candles_async: a #GPtrArray of
 *   #ThCandle, oldest first, that frees its candles
 * @query_ticks_async: looks up the stored ticks of @symbol whose exchange
 *   time is in [@from, @to), the latest @limit of them, off the main loop;
 *   fails with %TH_ERROR_NO_HISTORY when the store keeps no ticks;
 *   optional
 * @query_ticks_finish: finishes @query_ticks_async: a #GPtrArray of
 *   #ThTick, oldest first, that unrefs its ticks
 * @store_candles_async: writes candles fetched from a venue (a backfill)
 *   with their origin, never over a candle already stored; completes once
 *   they are written, in the caller's thread-default main context;
 *   optional (a store without it is not backfilled)
 * @store_candles_finish: finishes @store_candles_async
 *
 * What a plugin that keeps history (the `store` sink) implements so that
 * the hub, and through it every consumer, can ask about it. A store
 * registers itself with th_hub_set_history().
 */
struct _ThHistoryInterface
{
  GTypeInterface g_iface;

  ThSourceState (*get_state) (ThHistory  *self,
                              char      **reason);
  GVariant     *(*get_stats) (ThHistory  *self);
  void          (*query_candles_async)  (ThHistory           *self,
                                         const char          *symbol,
                                         gint64               duration,
                                         gint64               from,
                                         gint64               to,
                                         guint                limit,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
  GPtrArray    *(*query_candles_finish) (ThHistory           *self,
                                         GAsyncResult        *result,
                                         GError             **error);
  void          (*query_ticks_async)    (ThHistory           *self,
                                         const char          *symbol,
                                         gint64               from,
                                         gint64               to,
                                         guint                limit,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
  GPtrArray    *(*query_ticks_finish)   (ThHistory           *self,
                                         GAsyncResult        *result,
                                         GError             **error);
  void          (*store_candles_async)  (ThHistory           *self,
                                         const char          *symbol,
                                         const char          *origin,
                                         const char          *source,
                                         GPtrArray           *candles,
                                         GArray              *trades,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
  gboolean      (*store_candles_finish) (ThHistory           *self,
                                         GAsyncResult        *result,
                                         GError             **error);
};

TH_EXPORT
ThSourceState th_history_get_state (ThHistory  *self,
                                    char      **reason);
TH_EXPORT
GVariant     *th_history_get_stats (ThHistory  *self);
TH_EXPORT
void          th_history_query_candles_async  (ThHistory           *self,
                                               const char          *symbol,
                                               gint64               duration,
                                               gint64               from,
                                               gint64               to,
                                               guint                limit,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
TH_EXPORT
GPtrArray    *th_history_query_candles_finish (ThHistory           *self,
                                               GAsyncResult        *result,
                                               GError             **error);
TH_EXPORT
void          th_history_query_ticks_async    (ThHistory           *self,
                                               const char          *symbol,
                                               gint64               from,
                                               gint64               to,
                                               guint                limit,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
TH_EXPORT
GPtrArray    *th_history_query_ticks_finish   (ThHistory           *self,
                                               GAsyncResult        *result,
                                               GError             **error);

TH_EXPORT
gboolean      th_history_can_store_candles    (ThHistory           *self);
TH_EXPORT
void          th_history_store_candles_async  (ThHistory           *self,
                                               const char          *symbol,
                                               const char          *origin,
                                               const char          *source,
                                               GPtrArray           *candles,
                                               GArray              *trades,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
TH_EXPORT
gboolean      th_history_store_candles_finish (ThHistory           *self,
                                               GAsyncResult        *result,
                                               GError             **error);

G_END_DECLS
