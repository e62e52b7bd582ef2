/* th-ws-client.c: a small RFC 6455 client over GIO
 *
 * Why not SoupWebsocketConnection: libsoup fails the whole connection on
 * a text frame that is not UTF-8 and on a frame over its size limit. An
 * exchange feed must survive both — reject the one message, count it and
 * carry on — so the connection is done here: the opening handshake over a
 * GSocketClient connection (TLS for wss://), frames parsed from one input
 * buffer by the codec in th-ws-frame.c (oversized messages skipped without
 * being buffered), pings answered, the closing handshake.
 * permessage-deflate is not offered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "th-ws-client.h"
#include "th-ws-frame.h"

#define READ_CHUNK        (64 * 1024)
#define MAX_HEADER_BYTES  (16 * 1024)
#define WS_GUID           "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define CLOSE_WAIT_SECONDS 3

struct _ThWsClient
{
  GObject                parent_instance;

  GUri                  *uri;
  gsize                  max_message;

  GSocketClient         *sockets;
  GIOStream             *stream;
  GInputStream          *in;
  GOutputStream         *out;
  GCancellable          *cancellable;    /* everything this client started */

  GTask                 *connect_task;
  guint                  connect_timeout_id;
  char                  *key;

  GByteArray            *inbuf;
  gboolean               reading;
  ThWsParser             parser;         /* skips oversized messages */

  GQueue                 outq;           /* GBytes */
  gboolean               writing;

  gboolean               open;
  gboolean               close_sent;
  gboolean               finished;
  guint                  close_wait_id;

  gint64                 last_frame_time;
  guint64                bytes_in;
  guint                  http_status;    /* of a refused handshake */

  ThWsClientMessageFunc  on_message;
  ThWsClientOversizeFunc on_oversize;
  ThWsClientClosedFunc   on_closed;
  gpointer               user_data;
};

G_DEFINE_FINAL_TYPE (ThWsClient, th_ws_client, G_TYPE_OBJECT)

static void start_read (ThWsClient *self);
static void flush_writes (ThWsClient *self);

static void
th_ws_client_dispose (GObject *object)
{
  ThWsClient *self = TH_WS_CLIENT (object);

  th_ws_client_abort (self);
  g_clear_object (&self->sockets);
  g_clear_object (&self->stream);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (th_ws_client_parent_class)->dispose (object);
}

static void
th_ws_client_finalize (GObject *object)
{
  ThWsClient *self = TH_WS_CLIENT (object);

  g_queue_clear_full (&self->outq, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->uri, g_uri_unref);
  g_clear_pointer (&self->inbuf, g_byte_array_unref);
  _th_ws_parser_clear (&self->parser);
  g_clear_pointer (&self->key, g_free);
  G_OBJECT_CLASS (th_ws_client_parent_class)->finalize (object);
}

static void
th_ws_client_class_init (ThWsClientClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = th_ws_client_dispose;
  G_OBJECT_CLASS (klass)->finalize = th_ws_client_finalize;
}

static void
th_ws_client_init (ThWsClient *self)
{
  self->cancellable = g_cancellable_new ();
  self->inbuf = g_byte_array_sized_new (READ_CHUNK);
  g_queue_init (&self->outq);
}

ThWsClient *
th_ws_client_new (GUri  *uri,
                  gsize  max_message)
{
  ThWsClient *self = g_object_new (TH_TYPE_WS_CLIENT, NULL);

  self->uri = g_uri_ref (uri);
  self->max_message = max_message > 0 ? max_message : 16 * 1024 * 1024;
  _th_ws_parser_init (&self->parser, TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE,
                      self->max_message);
  return self;
}

void
th_ws_client_set_handlers (ThWsClient             *self,
                           ThWsClientMessageFunc   on_message,
                           ThWsClientOversizeFunc  on_oversize,
                           ThWsClientClosedFunc    on_closed,
                           gpointer                user_data)
{
  self->on_message = on_message;
  self->on_oversize = on_oversize;
  self->on_closed = on_closed;
  self->user_data = user_data;
}

gint64
th_ws_client_get_last_frame_time (ThWsClient *self)
{
  return self->last_frame_time;
}

/* The HTTP status of a refused handshake (not 101), or 0. */
guint
th_ws_client_get_http_status (ThWsClient *self)
{
  return self->http_status;
}

guint64
th_ws_client_get_bytes_received (ThWsClient *self)
{
  return self->bytes_in;
}

/* Frames */

static void
queue_frame (ThWsClient   *self,
             guint8        opcode,
             const guint8 *payload,
             gsize         length)
{
  guint8 header[TH_WS_FRAME_HEADER_MAX];
  guint8 mask[4];
  guint32 r = g_random_int ();
  gsize hlen;
  guint8 *frame;

  memcpy (mask, &r, 4);
  hlen = _th_ws_frame_write_header (header, opcode, TRUE, length, mask);
  frame = g_malloc (hlen + length);
  memcpy (frame, header, hlen);
  _th_ws_frame_mask (frame + hlen, payload, length, mask);

  g_queue_push_tail (&self->outq, g_bytes_new_take (frame, hlen + length));
  flush_writes (self);
}

/* The end, exactly once. */
static void
finish (ThWsClient   *self,
        gushort       code,
        const char   *reason,
        const GError *error)
{
  g_autoptr(ThWsClient) hold = g_object_ref (self);

  if (self->finished)
    return;

  self->finished = TRUE;
  self->open = FALSE;
  g_clear_handle_id (&self->close_wait_id, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  if (self->stream != NULL && !g_io_stream_is_closed (self->stream))
    g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);

  if (self->on_closed != NULL)
    self->on_closed (self, code, reason, error, self->user_data);
}

static void
fail (ThWsClient *self,
      gushort     code,
      const char *format,
      ...) G_GNUC_PRINTF (3, 4);

static void
fail (ThWsClient *self,
      gushort     code,
      const char *format,
      ...)
{
  va_list args;
  g_autoptr(GError) error = NULL;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA, msg);
  if (!self->close_sent && self->out != NULL)
    {
      guint8 payload[TH_WS_CONTROL_MAX];

      queue_frame (self, TH_WS_OP_CLOSE, payload, _th_ws_frame_close_payload (payload, code, NULL));
      self->close_sent = TRUE;
    }
  finish (self, code, msg, error);
}

static void
on_close_wait (gpointer data)
{
  ThWsClient *self = data;

  self->close_wait_id = 0;
  finish (self, 1006, "no close reply from the server", NULL);
}

static void
handle_close (ThWsClient   *self,
              const guint8 *payload,
              gsize         length)
{
  gushort code = 1005;
  g_autofree char *reason = NULL;

  if (length >= 2)
    {
      code = (gushort) ((payload[0] << 8) | payload[1]);
      reason = g_utf8_make_valid ((const char *) payload + 2, (gssize) length - 2);
    }

  if (!self->close_sent)
    {
      guint8 reply[2] = { (guint8) (code >> 8), (guint8) code };

      queue_frame (self, TH_WS_OP_CLOSE, reply, length >= 2 ? 2 : 0);
      self->close_sent = TRUE;
    }
  finish (self, code, reason != NULL ? reason : "", NULL);
}

static void
deliver (ThWsClient  *self,
         guint8       opcode,
         guint8      *data,
         gsize        length)
{
  /* The byte after the payload is ours to borrow (see on_read): NUL. */
  guint8 saved = data[length];

  data[length] = '\0';
  if (self->on_message != NULL)
    self->on_message (self, opcode == TH_WS_OP_TEXT ? TH_WS_CLIENT_TEXT : TH_WS_CLIENT_BINARY,
                      (const char *) data, length, self->user_data);
  data[length] = saved;
}

/* Parses what it can of the input buffer; returns the bytes consumed. */
static gsize
parse_frames (ThWsClient *self)
{
  guint8 *buf = self->inbuf->data;
  gsize len = self->inbuf->len;
  gsize pos = 0;
  guint64 frames = self->parser.n_frames;
  gboolean more = FALSE;

  while (!self->finished && !more)
    {
      ThWsFrame frame;
      gsize used;
      ThWsParseResult r = _th_ws_parser_next (&self->parser, buf + pos, len - pos, &used, &frame);

      pos += used;
      switch (r)
        {
        case TH_WS_PARSE_MORE:
          more = TRUE;
          break;
        case TH_WS_PARSE_MESSAGE:
          deliver (self, frame.opcode, frame.data, frame.length);
          break;
        case TH_WS_PARSE_CONTROL:
          if (frame.opcode == TH_WS_OP_CLOSE)
            handle_close (self, frame.data, frame.length);
          else if (frame.opcode == TH_WS_OP_PING && !self->close_sent)
            queue_frame (self, TH_WS_OP_PONG, frame.data, frame.length);
          break;
        case TH_WS_PARSE_OVERSIZE:
          /* Its payload is skipped as it comes. */
          if (self->on_oversize != NULL)
            self->on_oversize (self, frame.oversize, self->user_data);
          break;
        case TH_WS_PARSE_ERROR:
        default:
          fail (self, frame.close_code, "%s", frame.reason);
          break;
        }
    }
  /* One clock read for what one read brought. */
  if (self->parser.n_frames != frames)
    self->last_frame_time = g_get_monotonic_time ();

  return pos;
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(ThWsClient) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  gsize old_len;
  gsize consumed;

  self->reading = FALSE;
  old_len = self->inbuf->len - READ_CHUNK;

  if (n < 0)
    {
      g_byte_array_set_size (self->inbuf, old_len);
      if (!self->finished)
        finish (self, 1006, error->message, error);
      return;
    }

  /* Keep one spare byte past the data, for deliver()'s NUL. */
  g_byte_array_set_size (self->inbuf, old_len + n + 1);
  g_byte_array_set_size (self->inbuf, old_len + n);

  if (n == 0)
    {
      if (!self->finished)
        {
          g_autoptr(GError) eof = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                                       "the server closed the connection");
          finish (self, 1006, "the server closed the connection", eof);
        }
      return;
    }

  self->bytes_in += n;
  consumed = parse_frames (self);
  if (consumed > 0 && self->inbuf != NULL)
    g_byte_array_remove_range (self->inbuf, 0, (guint) consumed);

  if (!self->finished)
    start_read (self);
}

static void
start_read (ThWsClient *self)
{
  gsize len = self->inbuf->len;

  if (self->reading || self->finished)
    return;

  self->reading = TRUE;
  g_byte_array_set_size (self->inbuf, len + READ_CHUNK);
  g_input_stream_read_async (self->in, self->inbuf->data + len, READ_CHUNK,
                             G_PRIORITY_DEFAULT, self->cancellable, on_read, g_object_ref (self));
}

static void
on_written (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(ThWsClient) self = user_data;
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!self->finished)
        finish (self, 1006, error->message, error);
      return;
    }
  g_bytes_unref (g_queue_pop_head (&self->outq));
  flush_writes (self);
}

static void
flush_writes (ThWsClient *self)
{
  GBytes *next;
  gsize len;
  gconstpointer data;

  if (self->writing || self->out == NULL || g_cancellable_is_cancelled (self->cancellable))
    return;
  next = g_queue_peek_head (&self->outq);
  if (next == NULL)
    return;

  self->writing = TRUE;
  data = g_bytes_get_data (next, &len);
  g_output_stream_write_all_async (self->out, data, len, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_written, g_object_ref (self));
}

void
th_ws_client_send_text (ThWsClient *self,
                        const char *text,
                        gssize      length)
{
  g_return_if_fail (TH_IS_WS_CLIENT (self));

  if (!self->open || self->close_sent)
    return;
  queue_frame (self, TH_WS_OP_TEXT, (const guint8 *) text, length < 0 ? strlen (text) : (gsize) length);
}

void
th_ws_client_close (ThWsClient *self,
                    gushort     code,
                    const char *reason)
{
  guint8 payload[TH_WS_CONTROL_MAX];

  g_return_if_fail (TH_IS_WS_CLIENT (self));

  if (self->finished)
    return;
  if (!self->open || self->out == NULL)
    {
      finish (self, code, reason, NULL);
      return;
    }
  if (!self->close_sent)
    {
      queue_frame (self, TH_WS_OP_CLOSE, payload, _th_ws_frame_close_payload (payload, code, reason));
      self->close_sent = TRUE;
    }
  /* Wait a little for the server's close, then drop the connection. */
  if (self->close_wait_id == 0)
    self->close_wait_id = g_timeout_add_once (CLOSE_WAIT_SECONDS * 1000, on_close_wait, self);
}

/* Stops everything at once; no callback is called any more. */
void
th_ws_client_abort (ThWsClient *self)
{
  g_return_if_fail (TH_IS_WS_CLIENT (self));

  self->on_message = NULL;
  self->on_oversize = NULL;
  self->on_closed = NULL;
  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  g_clear_handle_id (&self->close_wait_id, g_source_remove);
  if (!self->finished)
    finish (self, 1001, "going away", NULL);
  if (self->connect_task != NULL)
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "connection aborted");
    }
}

/* Connecting */

static void
connect_failed (ThWsClient *self,
                GError     *error)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->connect_task);

  g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
  self->finished = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->stream != NULL && !g_io_stream_is_closed (self->stream))
    g_io_stream_close_async (self->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  if (task != NULL)
    g_task_return_error (task, error);
  else
    g_error_free (error);
}

static char *
header_value (const char *headers,
              const char *name)
{
  g_auto(GStrv) lines = g_strsplit (headers, "\r\n", -1);
  gsize nlen = strlen (name);

  for (guint i = 1; lines[i] != NULL; i++)
    if (g_ascii_strncasecmp (lines[i], name, nlen) == 0 && lines[i][nlen] == ':')
      return g_strstrip (g_strdup (lines[i] + nlen + 1));
  return NULL;
}

static gboolean
check_handshake (ThWsClient  *self,
                 const char  *headers,
                 const char  *body,
                 gsize        body_len,
                 GError     **error)
{
  g_autofree char *status_line = g_strndup (headers, strcspn (headers, "\r\n"));
  g_autofree char *upgrade = header_value (headers, "Upgrade");
  g_autofree char *accept = header_value (headers, "Sec-WebSocket-Accept");
  g_autofree char *expected = NULL;
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize dlen = sizeof digest;
  guint status = 0;

  if (sscanf (status_line, "HTTP/1.%*d %u", &status) != 1)
    {
      g_autofree char *quoted = _th_utf8_excerpt (status_line, 60);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an HTTP response: “%s”", quoted);
      return FALSE;
    }
  if (status != 101)
    {
      self->http_status = status;
      g_autofree char *snippet = g_utf8_make_valid (body, (gssize) MIN (body_len, 200));

      g_strdelimit (snippet, "\r\n", ' ');
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "handshake refused: %s%s%s",
                   status_line + strcspn (status_line, " ") + 1,
                   *snippet != '\0' ? ": " : "", snippet);
      return FALSE;
    }

  g_checksum_update (sha, (const guchar *) self->key, -1);
  g_checksum_update (sha, (const guchar *) WS_GUID, -1);
  g_checksum_get_digest (sha, digest, &dlen);
  expected = g_base64_encode (digest, dlen);

  if (upgrade == NULL || g_ascii_strcasecmp (upgrade, "websocket") != 0 ||
      accept == NULL || g_strcmp0 (accept, expected) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the server's WebSocket handshake is invalid");
      return FALSE;
    }
  return TRUE;
}

static void on_handshake_read (GObject *source, GAsyncResult *result, gpointer user_data);

static void
read_handshake (ThWsClient *self)
{
  gsize len = self->inbuf->len;

  g_byte_array_set_size (self->inbuf, len + 4096);
  g_input_stream_read_async (self->in, self->inbuf->data + len, 4096, G_PRIORITY_DEFAULT,
                             self->cancellable, on_handshake_read, g_object_ref (self));
}

static void
on_handshake_read (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(ThWsClient) self = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  gsize old_len = self->inbuf->len - 4096;
  const guint8 *end;

  if (n <= 0)
    {
      g_byte_array_set_size (self->inbuf, old_len);
      if (self->connect_task == NULL)
        return;
      if (n == 0)
        error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                                     "the server closed the connection during the handshake");
      connect_failed (self, g_steal_pointer (&error));
      return;
    }

  g_byte_array_set_size (self->inbuf, old_len + n);
  end = memmem (self->inbuf->data, self->inbuf->len, "\r\n\r\n", 4);
  if (end == NULL)
    {
      if (self->inbuf->len > MAX_HEADER_BYTES)
        connect_failed (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                                                   "the handshake response is too long"));
      else
        read_handshake (self);
      return;
    }

  {
    gsize hlen = (gsize) (end - self->inbuf->data);
    g_autofree char *headers = g_strndup ((const char *) self->inbuf->data, hlen);
    g_autoptr(GTask) task = NULL;

    if (!check_handshake (self, headers, (const char *) self->inbuf->data + hlen + 4,
                          self->inbuf->len - hlen - 4, &error))
      {
        connect_failed (self, g_steal_pointer (&error));
        return;
      }

    g_byte_array_remove_range (self->inbuf, 0, (guint) hlen + 4);
    g_clear_handle_id (&self->connect_timeout_id, g_source_remove);
    self->open = TRUE;
    self->last_frame_time = g_get_monotonic_time ();
    task = g_steal_pointer (&self->connect_task);
    g_task_return_boolean (task, TRUE);

    /* Frames that came with the handshake, then the read loop. Keep the
     * spare byte deliver() borrows. */
    g_byte_array_set_size (self->inbuf, self->inbuf->len + 1);
    g_byte_array_set_size (self->inbuf, self->inbuf->len - 1);
    if (self->inbuf->len > 0)
      {
        gsize consumed = parse_frames (self);

        if (consumed > 0)
          g_byte_array_remove_range (self->inbuf, 0, (guint) consumed);
      }
    if (!self->finished)
      start_read (self);
  }
}

static void
on_request_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(ThWsClient) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (self->connect_task != NULL)
        connect_failed (self, g_steal_pointer (&error));
      return;
    }
  read_handshake (self);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(ThWsClient) self = user_data;
  g_autoptr(GError) error = NULL;
  GSocketConnection *conn = g_socket_client_connect_to_uri_finish (G_SOCKET_CLIENT (source), result, &error);
  g_autoptr(GString) req = NULL;
  guint8 nonce[16];
  const char *path;
  const char *query;
  int port;

  if (conn == NULL)
    {
      if (self->connect_task != NULL)
        connect_failed (self, g_steal_pointer (&error));
      return;
    }
  if (self->connect_task == NULL)
    {
      g_object_unref (conn);
      return;
    }

  self->stream = G_IO_STREAM (conn);
  self->in = g_io_stream_get_input_stream (self->stream);
  self->out = g_io_stream_get_output_stream (self->stream);

  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = (guint8) g_random_int_range (0, 256);
  self->key = g_base64_encode (nonce, sizeof nonce);

  path = g_uri_get_path (self->uri);
  query = g_uri_get_query (self->uri);
  port = g_uri_get_port (self->uri);
  req = g_string_new (NULL);
  g_string_append_printf (req, "GET %s%s%s HTTP/1.1\r\n", *path != '\0' ? path : "/",
                          query != NULL ? "?" : "", query != NULL ? query : "");
  if (port > 0)
    g_string_append_printf (req, "Host: %s:%d\r\n", g_uri_get_host (self->uri), port);
  else
    g_string_append_printf (req, "Host: %s\r\n", g_uri_get_host (self->uri));
  g_string_append_printf (req,
                          "Upgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\n"
                          "Sec-WebSocket-Version: 13\r\n"
                          "User-Agent: tickhub/" PACKAGE_VERSION "\r\n"
                          "\r\n", self->key);

  g_output_stream_write_all_async (self->out, req->str, req->len, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_request_written, g_object_ref (self));
  /* write_all_async copies nothing: keep the request alive until done. */
  g_object_set_data_full (G_OBJECT (self), "th-ws-request", g_string_free (g_steal_pointer (&req), FALSE), g_free);
}

static void
on_connect_timeout (gpointer data)
{
  ThWsClient *self = data;

  self->connect_timeout_id = 0;
  if (self->connect_task != NULL)
    connect_failed (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                               "timed out connecting"));
}

/* @cancellable only tags the task: th_ws_client_abort() is how the owner
 * stops a connection attempt. */
void
th_ws_client_connect_async (ThWsClient          *self,
                            guint                timeout_seconds,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autofree char *uri = NULL;
  const char *scheme;
  gboolean tls;

  g_return_if_fail (TH_IS_WS_CLIENT (self));
  g_return_if_fail (self->connect_task == NULL && self->sockets == NULL);

  self->connect_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->connect_task, th_ws_client_connect_async);

  scheme = g_uri_get_scheme (self->uri);
  tls = g_ascii_strcasecmp (scheme, "wss") == 0 || g_ascii_strcasecmp (scheme, "https") == 0;
  self->sockets = g_socket_client_new ();
  g_socket_client_set_tls (self->sockets, tls);

  uri = g_uri_to_string (self->uri);
  if (timeout_seconds > 0)
    self->connect_timeout_id = g_timeout_add_once (timeout_seconds * 1000, on_connect_timeout, self);
  g_socket_client_connect_to_uri_async (self->sockets, uri, tls ? 443 : 80, self->cancellable,
                                        on_connected, g_object_ref (self));
}

gboolean
th_ws_client_connect_finish (ThWsClient    *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
