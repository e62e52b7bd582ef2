/* fake-ws-server.h: a WebSocket server on 127.0.0.1 for the venue tests
 *
 * Each venue test builds on it to speak that venue's protocol: it accepts
 * connections, records what clients send, and lets the test push frames,
 * garbage included, drop or close connections, refuse handshakes and go
 * silent.
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

/* What the venue tests share on the hub side. */
guint       venue_count_events     (GPtrArray       *events,
                                    const char      *name,
                                    const char      *needle);
guint64     venue_feed_stat        (ThHub           *hub,
                                    const char      *name);
void        venue_stop_hub         (ThHub          **hub);
char       *venue_nested_array     (guint            depth);

/* Iterates the default main context until @cond (evaluated each time)
 * holds, or fails the test after @timeout_ms. */
#define fake_ws_wait_until(cond, timeout_ms) \
  G_STMT_START { \
    gint64 _deadline = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > _deadline) \
          g_error ("%s:%d: timed out waiting for %s", __FILE__, __LINE__, #cond); \
        g_main_context_iteration (NULL, FALSE); \
        g_usleep (1000); \
      } \
  } G_STMT_END
