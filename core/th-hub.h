/* th-hub.h: plugins, routing and state of one tickhub instance
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include <gio/gio.h>
#include "th-types.h"
#include "th-clock.h"
#include "th-config.h"
#include "th-event.h"
#include "th-price-book.h"
#include "th-symbol-map.h"
#include "th-tick.h"
#include "th-candle.h"

G_BEGIN_DECLS

#define TH_TYPE_HUB (th_hub_get_type ())
G_DECLARE_FINAL_TYPE (ThHub, th_hub, TH, HUB, GObject)

ThHub        *th_hub_new                   (ThConfig      *config,
                                            ThClock       *clock);
void          th_hub_add_config_group      (ThHub         *self,
                                            const char    *group,
                                            const char    *spec);
gboolean      th_hub_load                  (ThHub         *self,
                                            GError       **error);
void          th_hub_start                 (ThHub         *self);
void          th_hub_stop_async            (ThHub         *self,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
gboolean      th_hub_stop_finish           (ThHub         *self,
                                            GAsyncResult  *result,
                                            GError       **error);

ThConfig     *th_hub_get_config            (ThHub         *self);
ThClock      *th_hub_get_clock             (ThHub         *self);
ThSymbolMap  *th_hub_get_symbol_map        (ThHub         *self);
ThPriceBook  *th_hub_get_price_book        (ThHub         *self);
const char *const *th_hub_get_symbols      (ThHub         *self);
const char   *th_hub_get_quote             (ThHub         *self);
gboolean      th_hub_has_symbol            (ThHub         *self,
                                            const char    *symbol);
char        **th_hub_list_plugins          (ThHub         *self);
GPtrArray    *th_hub_get_feeds             (ThHub         *self);
const char   *th_hub_get_plugin_name       (ThHub         *self,
                                            gpointer       extension);
GPtrArray    *th_hub_get_sinks             (ThHub         *self);
char        **th_hub_list_sources          (ThHub         *self);
char        **th_hub_list_timeframes       (ThHub         *self);

void          th_hub_push_tick             (ThHub         *self,
                                            ThTick        *tick);
void          th_hub_confirm_price         (ThHub         *self,
                                            const char    *source,
                                            const char    *symbol);
void          th_hub_report_source_status  (ThHub         *self,
                                            const char    *source,
                                            ThSourceState  state,
                                            const char    *reason);
ThSourceState th_hub_get_source_state      (ThHub         *self,
                                            const char    *source,
                                            char         **reason);
void          th_hub_emit_event            (ThHub         *self,
                                            ThEvent       *event);
void          th_hub_request_quit          (ThHub         *self,
                                            int            exit_code);

ThTick       *th_hub_get_price             (ThHub         *self,
                                            const char    *symbol,
                                            GError       **error);
void          th_hub_get_price_async       (ThHub         *self,
                                            const char    *symbol,
                                            guint          timeout_ms,
                                            GCancellable  *cancellable,
                                            GAsyncReadyCallback callback,
                                            gpointer       user_data);
ThTick       *th_hub_get_price_finish      (ThHub         *self,
                                            GAsyncResult  *result,
                                            GError       **error);
GPtrArray    *th_hub_get_candles           (ThHub         *self,
                                            const char    *symbol,
                                            gint64         timeframe,
                                            guint          limit);
gboolean      th_hub_publish_indicators    (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            const ThCandle *candle,
                                            GVariant      *values);
GPtrArray    *th_hub_get_closed_candles    (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            guint          limit);
GVariant     *th_hub_get_indicators        (ThHub         *self,
                                            const char    *symbol,
                                            const char    *timeframe,
                                            gint64        *candle_start,
                                            gboolean      *closed);
guint64       th_hub_get_rejected_ticks    (ThHub         *self);
guint64       th_hub_get_source_ticks      (ThHub         *self,
                                            const char    *source);
void          th_hub_disable_plugin        (ThHub         *self,
                                            const char    *plugin,
                                            const char    *reason);
const char   *th_hub_get_plugin_error      (ThHub         *self,
                                            const char    *plugin);
char        **th_hub_list_disabled_plugins (ThHub         *self);

G_END_DECLS
