/* th-private.h: helpers shared inside libtickhub; not installed, not in the GIR
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tickhub.h"

G_BEGIN_DECLS

/* TH_PRIVATE_API marks the private helpers that code outside the library
 * calls (plugins, tools/tickhub): not public API, not in the GIR, but
 * exported from libtickhub-1.0.so. Empty while every symbol is exported;
 * under -fvisibility=hidden it is to become the export attribute. */
#ifndef TH_PRIVATE_API
#define TH_PRIVATE_API
#endif

/* JSON writing, fast and locale-independent (th-json.c). */
TH_PRIVATE_API
void     _th_json_append_string (GString    *out,
                                 const char *str);
TH_PRIVATE_API
void     _th_json_append_double (GString    *out,
                                 double      value);
TH_PRIVATE_API
void     _th_json_append_time   (GString    *out,
                                 gint64      usec);
gboolean _th_parse_time         (const char *text,
                                 gint64     *usec);

/* Events built by the core from an already written envelope. */
ThEvent *_th_event_new_take     (const char *name,
                                 const char *symbol,
                                 const char *timeframe,
                                 GString    *envelope);

/* Candle series: one symbol, one timeframe (th-candle-series.c). */
typedef struct _ThCandleSeries ThCandleSeries;

#define TH_CANDLE_MAX_FILL 500

ThCandleSeries *_th_candle_series_new         (gint64          duration,
                                               guint           history);
void            _th_candle_series_free        (ThCandleSeries *series);
gint64          _th_candle_series_get_duration (ThCandleSeries *series);
const ThCandle *_th_candle_series_add         (ThCandleSeries *series,
                                               gint64          time,
                                               double          price,
                                               double          size,
                                               GPtrArray      *closed);
gboolean        _th_candle_series_close_due   (ThCandleSeries *series,
                                               gint64          now,
                                               GPtrArray      *closed);
const ThCandle *_th_candle_series_get_forming (ThCandleSeries *series);
GPtrArray      *_th_candle_series_get_history (ThCandleSeries *series,
                                               guint           limit);
guint64         _th_candle_series_get_late    (ThCandleSeries *series);

/* Config checking (th-config.c): each problem is appended to @problems as
 * "[group] key: what is wrong; the fix". */
void     _th_config_check_core   (ThConfig    *self,
                                  GPtrArray   *problems);
void     _th_config_check_group  (ThConfig    *self,
                                  const char  *group,
                                  const char  *spec,
                                  GPtrArray   *problems);
const char *_th_get_data_dir     (void);
gboolean _th_parse_call          (const char  *text,
                                  char       **name,
                                  char      ***args);

/* th-gjs-loader.c */
gboolean _th_gjs_bridge_load     (ThHub       *hub,
                                  const char  *module,
                                  const char  *file,
                                  GType       *types,
                                  GError     **error);
void     _th_gjs_bridge_release  (ThHub       *hub);

G_END_DECLS
