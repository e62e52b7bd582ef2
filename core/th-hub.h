/* th-hub.h: plugins, routing and state of one tickhub instance
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
#include "th-clock.h"
#include "th-config.h"
#include "th-event.h"
#include "th-price-book.h"
#include "th-symbol-map.h"
#include "th-tick.h"
#include "th-candle.h"
#include "th-history.h"

G_BEGIN_DECLS

#define TH_TYPE_HUB (th_hub_get_type ())
TH_EXPORT
G_DECLARE_FINAL_TYPE (ThHub, th_hub, TH, HUB, GObject)

TH_EXPORT
ThHub        *th_hub_new                   (ThConfig      *config,
                                            ThClock       *clock);
TH_EXPORT
void          th_hub_add_config_group      (ThHub         *self,
                                            const char    *group,
                                            const char    *spec);
TH_EXPORT
gboolean      th_hub_load                  (ThHub         *self,
                                            GError       **error);
TH_EXPORT
void          th_hub_start                 (ThHub         *self);
TH_EXPORT
void          th_hub_stop_async            (ThHub         *self,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
TH_EXPORT
gboolean      th_hub_stop_finish           (ThHub         *self,
                                            GAsyncResult  *result,
                                            GError       **error);

TH_EXPORT
ThConfig     *th_hub_get_config            (ThHub         *self);
TH_EXPORT
ThClock      *th_hub_get_clock             (ThHub         *self);
TH_EXPORT
ThSymbolMap  *th_hub_get_symbol_map        (ThHub         *self);
TH_EXPORT
ThPriceBook  *th_hub_get_price_book        (ThHub         *self);
TH_EXPORT
const char *const *th_hub_get_symbols      (ThHub         *self);
TH_EXPORT
const char   *th_hub_get_quote             (ThHub         *self);
TH_EXPORT
gboolean      th_hub_has_symbol            (ThHub         *self,
                                            const char    *symbol);
TH_EXPORT
const char   *th_hub_get_market            (ThHub         *self,
                                            const char    *symbol);
TH_EXPORT
char        **th_hub_list_plugins          (ThHub         *self);
TH_EXPORT
GPtrArray    *th_hub_get_feeds             (ThHub         *self);
TH_EXPORT
const char   *th_hub_get_plugin_name       (ThHub         *self,
                                            gpointer       extension);
TH_EXPORT
GPtrArray    *th_hub_get_sinks             (ThHub         *self);
TH_EXPORT
char        **th_hub_list_sources          (ThHub         *self);
TH_EXPORT
char        **th_hub_list_timeframes       (ThHub         *self);

TH_EXPORT
void          th_hub_push_tick             (ThHub         *self,
                                            ThTick        *tick);
TH_EXPORT
void          th_hub_confirm_price         (ThHub         *self,
                                            const char    *source,
                                            const char    *symbol);
TH_EXPORT
void          th_hub_report_source_status  (ThHub         *self,
                                            const char    *source,
                                            ThSourceState  state,
                                            const char    *reason);
TH_EXPORT
ThSourceState th_hub_get_source_state      (ThHub         *self,
                                            const char    *source,
                                            char         **reason);
TH_EXPORT
void          th_hub_emit_event            (ThHub         *self,
                                            ThEvent       *event);
TH_EXPORT
gboolean      th_hub_relay_event           (ThHub         *self,
                                            ThEvent       *event,
                                            GError       **error);
TH_EXPORT
void          th_hub_request_quit          (ThHub         *self,
                                            int            exit_code);

TH_EXPORT
ThTick       *th_hub_get_price             (ThHub         *self,
                                            const char    *symbol,
                                            GError       **error);
TH_EXPORT
void          th_hub_get_price_async       (ThHub         *self,
                                            const char    *symbol,
                                            guint          timeout_ms,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
TH_EXPORT
ThTick       *th_hub_get_price_finish      (ThHub         *self,
                                            GAsyncResult  *result,
                                            GError       **error);
TH_EXPORT
GPtrArray    *th_hub_get_candles           (ThHub         *self,
                                            const char    *symbol,
                                            gint64         timeframe,
                                            guint          limit);
TH_EXPORT
gboolean      th_hub_publish_indicators    (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            const ThCandle *candle,
                                            GVariant      *values);
TH_EXPORT
GPtrArray    *th_hub_get_closed_candles    (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            guint          limit);
TH_EXPORT
GVariant     *th_hub_get_indicators        (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            gint64        *candle_start,
                                            gboolean      *closed);
TH_EXPORT
guint64       th_hub_get_rejected_ticks    (ThHub         *self);
TH_EXPORT
guint64       th_hub_get_divergences       (ThHub         *self);
TH_EXPORT
guint64       th_hub_get_source_ticks      (ThHub         *self,
                                            const char    *source);
TH_EXPORT
void          th_hub_disable_plugin        (ThHub         *self,
                                            const char    *plugin,
                                            const char    *reason);
TH_EXPORT
const char   *th_hub_get_plugin_error      (ThHub         *self,
                                            const char    *plugin);
TH_EXPORT
char        **th_hub_list_disabled_plugins (ThHub         *self);
TH_EXPORT
void          th_hub_set_history           (ThHub         *self,
                                            ThHistory     *history);
TH_EXPORT
ThHistory    *th_hub_get_history           (ThHub         *self);
TH_EXPORT
void          th_hub_get_history_async     (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            gint64         from,
                                            gint64         to,
                                            guint          limit,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
TH_EXPORT
GPtrArray    *th_hub_get_history_finish    (ThHub         *self,
                                            GAsyncResult  *result,
                                            GError       **error);
TH_EXPORT
GPtrArray    *th_hub_get_history_finish_full (ThHub       *self,
                                            GAsyncResult  *result,
                                            GVariant     **missing,
                                            GError       **error);
TH_EXPORT
void          th_hub_get_history_ticks_async (ThHub       *self,
                                            const char    *symbol,
                                            gint64         from,
                                            gint64         to,
                                            guint          limit,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
TH_EXPORT
GPtrArray    *th_hub_get_history_ticks_finish (ThHub       *self,
                                            GAsyncResult  *result,
                                            GError       **error);

G_END_DECLS
