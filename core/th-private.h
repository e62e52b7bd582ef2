/* th-private.h: helpers shared inside libtickhub; not installed, not in the GIR
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include "tickhub.h"
#include "th-export.h"

G_BEGIN_DECLS

/* Appends @n bytes to @out, inline while they fit (GLib 2.74's
 * g_string_append_len() is a call into g_string_insert_len() each time:
 * it was a tenth of the hub's cost per tick). */
static inline void
_th_string_append_len (GString    *out,
                       const char *s,
                       gsize       n)
{
  if (G_LIKELY (out->len + n < out->allocated_len))
    {
      memcpy (out->str + out->len, s, n);
      out->len += n;
      out->str[out->len] = '\0';
    }
  else
    g_string_append_len (out, s, (gssize) n);
}
/* A string literal. */
#define _th_string_append_lit(out, lit) _th_string_append_len ((out), "" lit "", sizeof (lit) - 1)

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
TH_PRIVATE_API
gboolean _th_parse_time         (const char *text,
                                 gint64     *usec);
TH_PRIVATE_API
gboolean _th_parse_iso8601      (const char *text,
                                 gint64     *usec);
TH_PRIVATE_API
void     _th_tick_set_quote_static (ThTick     *tick,
                                    const char *quote);

/* At most @max_bytes of @text for quoting it in a message, cut on a
 * character boundary (never inside a UTF-8 sequence), invalid bytes
 * replaced, "…" appended when cut. Newly allocated. */
TH_PRIVATE_API
char    *_th_utf8_excerpt       (const char *text,
                                 gsize       max_bytes);

/* Market hours (th-market-hours.c): a market's regular sessions, from a
 * group of data/market-hours.conf. Times in µs since the epoch. */
typedef struct _ThMarketHours ThMarketHours;
TH_PRIVATE_API
ThMarketHours *_th_market_hours_new      (GKeyFile      *key_file,
                                          const char    *group,
                                          GError       **error);
TH_PRIVATE_API
void           _th_market_hours_free     (ThMarketHours *self);
const char    *_th_market_hours_get_name (ThMarketHours *self);
gint64         _th_market_hours_opened_at (ThMarketHours *self,
                                          gint64         usec);
gint64         _th_market_hours_closes_at (ThMarketHours *self,
                                          gint64         usec);
TH_PRIVATE_API
gboolean       _th_market_hours_is_open  (ThMarketHours *self,
                                          gint64         usec);
TH_PRIVATE_API
gint64         _th_market_hours_next_open (ThMarketHours *self,
                                          gint64         usec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThMarketHours, _th_market_hours_free)
/* The market of @symbol in the hub, or NULL (th-hub-loader.c). */
ThMarketHours *_th_hub_get_market_hours  (ThHub         *hub,
                                          const char    *symbol);
/* TRUE when every symbol that @venue has a code for has market hours and
 * its market is closed now: a silent feed is then no fault. */
gboolean       _th_hub_venue_closed      (ThHub         *hub,
                                          const char    *venue);
/* th_hub_push_tick() with the hub's clock already read by the caller for
 * this tick (@now, µs), or 0 to read it: a feed that read it once for a
 * message of many ticks (th-ws-feed.c) passes that reading. */
void           _th_hub_push_tick_at      (ThHub         *hub,
                                          ThTick        *tick,
                                          gint64         now);
/* th_hub_get_clock() and th_hub_get_symbol_map() without the type check
 * (th-hub-query.c), for a feed's every message. */
TH_PRIVATE_API
ThClock       *_th_hub_get_clock         (ThHub         *hub);
TH_PRIVATE_API
ThSymbolMap   *_th_hub_get_symbol_map    (ThHub         *hub);
/* Changes whenever a code of the map is set; unique across maps
 * (th-symbol-map.c): a feed caches th_symbol_map_reverse() while it stays. */
TH_PRIVATE_API
guint          _th_symbol_map_get_generation (ThSymbolMap *self);
/* The feeds' parsers' calls, without the public functions' type checks
 * (th-ws-feed.c): th_ws_feed_push_tick(), th_ws_feed_get_hub(),
 * th_ws_feed_get_receive_time() on an instance known to be a feed. */
TH_PRIVATE_API
void           _th_ws_feed_push_tick      (ThWsFeed      *self,
                                           ThTick        *tick);
TH_PRIVATE_API
ThHub         *_th_ws_feed_get_hub        (ThWsFeed      *self);
TH_PRIVATE_API
gint64         _th_ws_feed_get_receive_time (ThWsFeed    *self);
/* @symbol's own priority order, ahead of the book's ([prices]
 * order-equities); NULL for the book's alone (th-price-book.c). */
void           _th_price_book_set_symbol_order (ThPriceBook       *self,
                                                const char        *symbol,
                                                const char *const *order);
/* The price book's view: @symbol's market, or NULL (th-price-book.c). */
void           _th_price_book_set_market (ThPriceBook   *self,
                                          const char    *symbol,
                                          ThMarketHours *market);

/* Events built by the core from an already written envelope. */
TH_PRIVATE_API
ThEvent *_th_event_new_take     (const char *name,
                                 const char *symbol,
                                 const char *timeframe,
                                 GString    *envelope);
/* The same, the envelope copied from @json (@length bytes), in a block
 * reused from freed events (exported for tests/test-hub.c). */
TH_PRIVATE_API
ThEvent *_th_event_new_copy     (const char *name,
                                 const char *symbol,
                                 const char *timeframe,
                                 const char *json,
                                 gsize       length);

/* Candle series: one symbol, one timeframe (th-candle-series.c). */
typedef struct _ThCandleSeries ThCandleSeries;

#define TH_CANDLE_MAX_FILL 500

TH_PRIVATE_API
ThCandleSeries *_th_candle_series_new         (gint64          duration,
                                               guint           history);
TH_PRIVATE_API
void            _th_candle_series_free        (ThCandleSeries *series);
TH_PRIVATE_API
gint64          _th_candle_series_get_duration (ThCandleSeries *series);
TH_PRIVATE_API
const ThCandle *_th_candle_series_add         (ThCandleSeries *series,
                                               gint64          time,
                                               double          price,
                                               double          size,
                                               GPtrArray      *closed);
TH_PRIVATE_API
gboolean        _th_candle_series_close_due   (ThCandleSeries *series,
                                               gint64          now,
                                               GPtrArray      *closed);
TH_PRIVATE_API
const ThCandle *_th_candle_series_get_forming (ThCandleSeries *series);
TH_PRIVATE_API
GPtrArray      *_th_candle_series_get_history (ThCandleSeries *series,
                                               guint           limit);
TH_PRIVATE_API
guint64         _th_candle_series_get_late    (ThCandleSeries *series);

/* The price book (th-price-book.c), for the hub only, so not exported:
 * the sources its loaded feeds give (explanations name no other source
 * that never ticked), and its expiry deadline, which stops for good when
 * the hub begins to stop; and th_price_book_update() that also gives the
 * source's merged state (th_price_book_get_latest()); @book, when not
 * NULL, is the caller's place for the symbol's book (NULL at first, then
 * kept by the book): a caller that keeps one per symbol passes the one of
 * @tick's symbol and saves the book's lookup; @now: the book's clock read
 * by the caller for this tick, or 0 to read it here. */
gboolean        _th_price_book_update_latest  (ThPriceBook       *self,
                                               ThTick            *tick,
                                               gpointer          *book,
                                               ThTick           **latest,
                                               gint64             now);
void            _th_price_book_set_feeds      (ThPriceBook       *self,
                                               const char *const *feeds);
void            _th_price_book_stop_expiry    (ThPriceBook       *self);

/* [prices] divergence: the news of a source that deviates from the others
 * (diverged) or agrees again (!diverged). Valid during the call only. */
typedef struct
{
  const char        *symbol;
  const char        *source;
  const char        *quote;
  double             price;
  double             median;   /* of the other fresh sources of the quote */
  double             bps;      /* |price - median| / median, in bp */
  const char *const *sources;  /* the fresh sources compared, source first */
  guint              n_sources;
  gboolean           diverged;
} ThDivergence;

typedef void (*ThDivergenceFunc) (const ThDivergence *divergence,
                                  gpointer            user_data);

void            _th_price_book_set_divergence (ThPriceBook       *self,
                                               double             bps,
                                               gboolean           skip,
                                               ThDivergenceFunc   func,
                                               gpointer           user_data);
const char     *_th_price_book_get_change_reason (ThPriceBook    *self);
TH_PRIVATE_API
gboolean        _th_parse_divergence          (const char        *text,
                                               double            *bps,
                                               GError           **error);

/* Config checking (th-config.c): each problem is appended to @problems as
 * "[group] key: what is wrong; the fix". */
TH_PRIVATE_API
void     _th_config_check_core   (ThConfig    *self,
                                  GPtrArray   *problems);
TH_PRIVATE_API
void     _th_config_check_group  (ThConfig    *self,
                                  const char  *group,
                                  const char  *spec,
                                  GPtrArray   *problems);
TH_PRIVATE_API
const char *_th_get_data_dir     (void);
TH_PRIVATE_API
gboolean _th_parse_call          (const char  *text,
                                  char       **name,
                                  char      ***args);

/* th-gjs-loader.c */
TH_PRIVATE_API
gboolean _th_gjs_bridge_load     (ThHub       *hub,
                                  const char  *module,
                                  const char  *file,
                                  GType       *types,
                                  GError     **error);
TH_PRIVATE_API
void     _th_gjs_bridge_release  (ThHub       *hub);

G_END_DECLS
