/* th-ws-client.h: a WebSocket client connection, private to libtickhub
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TH_TYPE_WS_CLIENT (th_ws_client_get_type ())
G_DECLARE_FINAL_TYPE (ThWsClient, th_ws_client, TH, WS_CLIENT, GObject)

typedef enum {
  TH_WS_CLIENT_TEXT,
  TH_WS_CLIENT_BINARY,
} ThWsClientDataType;

/* Called for every complete data message; @data is NUL-terminated past
 * @length. Text is NOT checked for UTF-8 here: the caller decides. */
typedef void (*ThWsClientMessageFunc) (ThWsClient         *client,
                                       ThWsClientDataType  type,
                                       const char         *data,
                                       gsize               length,
                                       gpointer            user_data);

/* Called for a message over the size limit: its payload was skipped, the
 * connection carries on. */
typedef void (*ThWsClientOversizeFunc) (ThWsClient *client,
                                        guint64     length,
                                        gpointer    user_data);

/* Called once when the connection is over, for any reason: @code is the
 * peer's close code (1006 when there was none), @error says why when it
 * was not an orderly close. */
typedef void (*ThWsClientClosedFunc) (ThWsClient   *client,
                                      gushort       code,
                                      const char   *reason,
                                      const GError *error,
                                      gpointer      user_data);

ThWsClient *th_ws_client_new            (GUri                   *uri,
                                         gsize                   max_message);
void        th_ws_client_set_handlers   (ThWsClient             *self,
                                         ThWsClientMessageFunc   on_message,
                                         ThWsClientOversizeFunc  on_oversize,
                                         ThWsClientClosedFunc    on_closed,
                                         gpointer                user_data);
void        th_ws_client_connect_async  (ThWsClient             *self,
                                         guint                   timeout_seconds,
                                         GCancellable           *cancellable,
                                         GAsyncReadyCallback     callback,
                                         gpointer                user_data);
gboolean    th_ws_client_connect_finish (ThWsClient             *self,
                                         GAsyncResult           *result,
                                         GError                **error);
void        th_ws_client_send_text      (ThWsClient             *self,
                                         const char             *text,
                                         gssize                  length);
void        th_ws_client_close          (ThWsClient             *self,
                                         gushort                 code,
                                         const char             *reason);
void        th_ws_client_abort          (ThWsClient             *self);
gint64      th_ws_client_get_last_frame_time (ThWsClient        *self);
guint       th_ws_client_get_http_status     (ThWsClient        *self);
guint64     th_ws_client_get_bytes_received  (ThWsClient        *self);

G_END_DECLS
