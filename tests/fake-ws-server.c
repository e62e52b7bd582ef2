/* fake-ws-server.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fake-ws-server.h"
#include "test-utils.h"

struct _FakeWs
{
  SoupServer      *server;
  char            *path;
  guint            port;
  GPtrArray       *conns;       /* SoupWebsocketConnection, open */
  GPtrArray       *received;    /* char * */
  char            *last_query;
  guint            accepted;
  guint            pongs;
  guint            refuse_status;
  char            *refuse_body;
  guint            ping_seconds;
  FakeWsConnected  connected;
  FakeWsReceived   on_received;
  gpointer         data;
};

static void
on_message (SoupWebsocketConnection *conn,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            FakeWs                  *ws)
{
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  char *copy = g_strndup (text, len);

  g_ptr_array_add (ws->received, copy);
  if (ws->on_received != NULL)
    ws->on_received (ws, conn, copy, ws->data);
}

static void
on_closed (SoupWebsocketConnection *conn,
           FakeWs                  *ws)
{
  g_ptr_array_remove (ws->conns, conn);
}

static void
on_pong (SoupWebsocketConnection *conn,
         GBytes                  *message,
         FakeWs                  *ws)
{
  ws->pongs++;
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *conn,
              gpointer                 user_data)
{
  FakeWs *ws = user_data;
  GUri *uri = soup_server_message_get_uri (msg);

  ws->accepted++;
  g_free (ws->last_query);
  ws->last_query = g_strdup (g_uri_get_query (uri));
  /* The handler only lends the connection. */
  g_ptr_array_add (ws->conns, g_object_ref (conn));
  soup_websocket_connection_set_max_incoming_payload_size (conn, 1024 * 1024);
  if (ws->ping_seconds > 0)
    soup_websocket_connection_set_keepalive_interval (conn, ws->ping_seconds);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), ws);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), ws);
  g_signal_connect (conn, "pong", G_CALLBACK (on_pong), ws);
  if (ws->connected != NULL)
    ws->connected (ws, conn, ws->last_query, ws->data);
}

static void
on_early (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  FakeWs *ws = user_data;

  if (ws->refuse_status == 0)
    return;
  soup_server_message_set_status (msg, ws->refuse_status, NULL);
  if (ws->refuse_body != NULL)
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
                                      ws->refuse_body, strlen (ws->refuse_body));
}

FakeWs *
fake_ws_new (const char *path)
{
  FakeWs *ws = g_new0 (FakeWs, 1);

  ws->server = th_test_soup_server_new (&ws->port);
  ws->path = g_strdup (path);
  ws->conns = g_ptr_array_new_with_free_func (g_object_unref);
  ws->received = g_ptr_array_new_with_free_func (g_free);
  soup_server_add_early_handler (ws->server, path, on_early, ws, NULL);
  soup_server_add_websocket_handler (ws->server, path, NULL, NULL, on_websocket, ws, NULL);
  return ws;
}

void
fake_ws_free (FakeWs *ws)
{
  for (guint i = 0; i < ws->conns->len; i++)
    g_signal_handlers_disconnect_by_data (ws->conns->pdata[i], ws);
  g_ptr_array_unref (ws->conns);
  soup_server_disconnect (ws->server);
  g_object_unref (ws->server);
  g_ptr_array_unref (ws->received);
  g_free (ws->last_query);
  g_free (ws->refuse_body);
  g_free (ws->path);
  g_free (ws);
}

char *
fake_ws_url (FakeWs *ws)
{
  return g_strdup_printf ("ws://127.0.0.1:%u%s", ws->port, ws->path);
}

guint
fake_ws_port (FakeWs *ws)
{
  return ws->port;
}

void
fake_ws_set_handlers (FakeWs          *ws,
                      FakeWsConnected  connected,
                      FakeWsReceived   received,
                      gpointer         data)
{
  ws->connected = connected;
  ws->on_received = received;
  ws->data = data;
}

guint fake_ws_n_open (FakeWs *ws) { return ws->conns->len; }
guint fake_ws_n_accepted (FakeWs *ws) { return ws->accepted; }
guint fake_ws_n_pongs (FakeWs *ws) { return ws->pongs; }
const char *fake_ws_last_query (FakeWs *ws) { return ws->last_query; }
GPtrArray *fake_ws_received (FakeWs *ws) { return ws->received; }

void
fake_ws_send (FakeWs     *ws,
              const char *text)
{
  for (guint i = 0; i < ws->conns->len; i++)
    if (soup_websocket_connection_get_state (ws->conns->pdata[i]) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ws->conns->pdata[i], text);
}

/* Writes a frame straight to the socket, bypassing libsoup's checks: how
 * the tests send what a well-behaved server never would (a text frame
 * that is not UTF-8). */
void
fake_ws_send_raw (FakeWs                *ws,
                  SoupWebsocketDataType  type,
                  const void            *data,
                  gsize                  length)
{
  guint8 header[10];
  gsize hlen = 2;

  header[0] = 0x80 | (type == SOUP_WEBSOCKET_DATA_TEXT ? 0x1 : 0x2);
  if (length < 126)
    header[1] = (guint8) length;
  else
    {
      g_assert_cmpuint (length, <=, G_MAXUINT16);
      header[1] = 126;
      header[2] = (guint8) (length >> 8);
      header[3] = (guint8) length;
      hlen = 4;
    }

  for (guint i = 0; i < ws->conns->len; i++)
    {
      GIOStream *io = soup_websocket_connection_get_io_stream (ws->conns->pdata[i]);
      GOutputStream *out = g_io_stream_get_output_stream (io);

      g_output_stream_write_all (out, header, hlen, NULL, NULL, NULL);
      g_output_stream_write_all (out, data, length, NULL, NULL, NULL);
      g_output_stream_flush (out, NULL, NULL);
    }
}

/* The TCP connection goes away without a close frame. */
void
fake_ws_drop (FakeWs *ws)
{
  g_autoptr(GPtrArray) conns = g_ptr_array_copy (ws->conns, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

  for (guint i = 0; i < conns->len; i++)
    g_io_stream_close (soup_websocket_connection_get_io_stream (conns->pdata[i]), NULL, NULL);
}

void
fake_ws_close (FakeWs     *ws,
               gushort     code,
               const char *reason)
{
  g_autoptr(GPtrArray) conns = g_ptr_array_copy (ws->conns, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

  for (guint i = 0; i < conns->len; i++)
    soup_websocket_connection_close (conns->pdata[i], code, reason);
}

void
fake_ws_refuse (FakeWs     *ws,
                guint       status,
                const char *body)
{
  ws->refuse_status = status;
  g_free (ws->refuse_body);
  ws->refuse_body = g_strdup (body);
}

void
fake_ws_ping_every (FakeWs *ws,
                    guint   seconds)
{
  ws->ping_seconds = seconds;
  for (guint i = 0; i < ws->conns->len; i++)
    soup_websocket_connection_set_keepalive_interval (ws->conns->pdata[i], seconds);
}
