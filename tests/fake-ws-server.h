/* fake-ws-server.h: a WebSocket server on 127.0.0.1 for the venue tests
 *
 * Each venue test builds on it to speak that venue's protocol: it accepts
 * connections, records what clients send, and lets the test push frames,
 * garbage included, drop or close connections, refuse handshakes and go
 * silent. What the tests share besides (hubs, their events, waits) is
 * in tests/test-utils.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "th-private.h"

typedef struct _FakeWs FakeWs;

typedef void (*FakeWsConnected) (FakeWs *ws, SoupWebsocketConnection *conn, const char *query, gpointer data);
typedef void (*FakeWsReceived) (FakeWs *ws, SoupWebsocketConnection *conn, const char *text, gpointer data);

FakeWs     *fake_ws_new            (const char      *path);
void        fake_ws_free           (FakeWs          *ws);
char       *fake_ws_url            (FakeWs          *ws);
guint       fake_ws_port           (FakeWs          *ws);
void        fake_ws_set_handlers   (FakeWs          *ws,
                                    FakeWsConnected  connected,
                                    FakeWsReceived   received,
                                    gpointer         data);
guint       fake_ws_n_open         (FakeWs          *ws);
guint       fake_ws_n_accepted     (FakeWs          *ws);
guint       fake_ws_n_pongs        (FakeWs          *ws);
const char *fake_ws_last_query     (FakeWs          *ws);
const char *fake_ws_last_path      (FakeWs          *ws);
GPtrArray  *fake_ws_received       (FakeWs          *ws);
void        fake_ws_send           (FakeWs          *ws,
                                    const char      *text);
void        fake_ws_send_raw       (FakeWs          *ws,
                                    SoupWebsocketDataType type,
                                    const void      *data,
                                    gsize            length);
void        fake_ws_drop           (FakeWs          *ws);
void        fake_ws_close          (FakeWs          *ws,
                                    gushort          code,
                                    const char      *reason);
void        fake_ws_refuse         (FakeWs          *ws,
                                    guint            status,
                                    const char      *body);
void        fake_ws_ping_every     (FakeWs          *ws,
                                    guint            seconds);

/* The venues' REST history, in their formats (fake-ws-server.c): candles
 * of made-up but fixed values (fake_venue_candle()) for the starts in
 * [from, to), less the holes. */
typedef enum {
  FAKE_VENUE_BINANCE,     /* GET /api/v3/klines */
  FAKE_VENUE_COINBASE,    /* GET /products/{id}/candles */
  FAKE_VENUE_COINGECKO,   /* GET /coins/{id}/ohlc, on @clock's now */
  FAKE_VENUE_COINCAP,     /* listing only: GET /v3/assets */
} FakeVenue;

/* The venue's listing (Binance /api/v3/exchangeInfo, Coinbase /products,
 * CoinCap /v3/assets) naming @bases against USDT (Binance) or USD, plus
 * entries a feed must skip: other quotes, a halted HALT. */
void        fake_ws_serve_listing  (FakeWs            *ws,
                                    FakeVenue          venue,
                                    const char *const *bases);
guint       fake_ws_listing_requests (FakeWs          *ws);
/* Answers the listing @ms milliseconds late. */
void        fake_ws_listing_delay  (FakeWs          *ws,
                                    guint            ms);

/* Binance's limits: a handshake naming more than @max_streams streams is
 * refused (HTTP 400), a connection sending more than @max_rate messages in
 * a second is cut (1008); 0 for no limit. */
void        fake_ws_binance_limits (FakeWs          *ws,
                                    guint            max_streams,
                                    guint            max_rate);
guint       fake_ws_refused_streams (FakeWs         *ws);
/* Streams added by SUBSCRIBE requests, which are answered in Binance's
 * shape when fake_ws_binance_limits() is on. */
guint       fake_ws_subscribed     (FakeWs          *ws);
/* Streams followed over all open connections (URL and SUBSCRIBE). */
guint       fake_ws_open_streams   (FakeWs          *ws);
guint       fake_ws_cut_for_rate   (FakeWs          *ws);

void        fake_ws_serve_history  (FakeWs          *ws,
                                    FakeVenue        venue,
                                    const char      *code,
                                    gint64           from,
                                    gint64           to,
                                    ThClock         *clock);
void        fake_ws_history_hole   (FakeWs          *ws,
                                    gint64           from,
                                    gint64           to);
void        fake_ws_history_fail   (FakeWs          *ws,
                                    guint            status,
                                    const char      *body);
void        fake_ws_history_rate_limit (FakeWs      *ws,
                                    guint            n,
                                    const char      *retry_after);
void        fake_ws_history_odd_rows (FakeWs        *ws,
                                    gboolean         odd);
void        fake_ws_history_weight (FakeWs          *ws,
                                    guint            used);
GPtrArray  *fake_ws_history_requests (FakeWs        *ws);
ThCandle   *fake_venue_candle      (FakeVenue        venue,
                                    gint64           start,
                                    gint64           duration,
                                    gint64          *trades);
