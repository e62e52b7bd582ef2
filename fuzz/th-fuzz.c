/* th-fuzz.c: what the libFuzzer targets share (th-fuzz.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th-fuzz.h"
#include "th-ws-frame.h"

static gboolean verbose;

void
th_fuzz_fail (const char *file,
              int         line,
              const char *cond,
              const char *format,
              ...)
{
  va_list args;

  fprintf (stderr, "\n%s:%d: fuzz check failed: %s\n  ", file, line, cond);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  /* A critical is a g_return_if_fail() that bad input reached: a bug,
   * whatever the input (docs/ARCHITECTURE.md: bad input is counted and
   * logged, never fatal). Errors abort by themselves. */
  if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR))
    {
      g_log_writer_standard_streams (level, fields, n_fields, user_data);
      fprintf (stderr, "fuzz: a critical or an error was logged (above): a finding\n");
      abort ();
    }
  if (verbose)
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);
  return G_LOG_WRITER_HANDLED;
}

static gboolean
on_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

void
th_fuzz_init (void)
{
  static gboolean done;
  g_autofree char *tmp = NULL;

  if (done)
    return;
  done = TRUE;
  verbose = g_getenv ("TH_FUZZ_VERBOSE") != NULL;
  /* The build tree's plugins and data; never the user's config. */
  g_setenv ("TICKHUB_PLUGIN_PATH", TH_FUZZ_PLUGIN_PATH, FALSE);
  g_setenv ("TICKHUB_DATADIR", TH_FUZZ_DATADIR, FALSE);
  tmp = g_dir_make_tmp ("tickhub-fuzz-XXXXXX", NULL);
  if (tmp != NULL)
    {
      g_setenv ("XDG_CONFIG_HOME", tmp, TRUE);
      g_setenv ("XDG_CONFIG_DIRS", tmp, TRUE);
    }
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);
  /* Wakes every blocking iteration at least once a second, so that the
   * hang checks run. */
  g_timeout_add_seconds (1, on_tick, NULL);
}

ThHub *
th_fuzz_hub_new (const char *config_text)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThClock) clock = th_manual_clock_new (TH_FUZZ_EPOCH);
  g_autoptr(GError) error = NULL;
  ThHub *hub;

  th_fuzz_init ();
  if (!th_config_load_from_data (config, config_text, -1, &error))
    th_fuzz_fail (__FILE__, __LINE__, "config", "the target's config is refused: %s", error->message);
  hub = th_hub_new (config, clock);
  if (!th_hub_load (hub, &error))
    th_fuzz_fail (__FILE__, __LINE__, "th_hub_load", "the target's hub does not load: %s", error->message);
  th_hub_start (hub);
  return hub;
}

ThManualClock *
th_fuzz_hub_clock (ThHub *hub)
{
  return TH_MANUAL_CLOCK (th_hub_get_clock (hub));
}

gpointer
th_fuzz_hub_first_feed (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);

  th_fuzz_check (feeds->len > 0, "the hub has no feed");
  return feeds->pdata[0];
}

gpointer
th_fuzz_hub_first_sink (ThHub *hub)
{
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (hub);

  th_fuzz_check (sinks->len > 0, "the hub has no sink");
  return sinks->pdata[0];
}

gpointer
th_fuzz_server_symbol (const char *name)
{
  static GModule *module;
  gpointer symbol = NULL;

  /* The hub opened it already: the same copy, not a second one. */
  if (module == NULL)
    module = g_module_open (TH_FUZZ_SERVER_MODULE, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  th_fuzz_check (module != NULL, "cannot open %s: %s", TH_FUZZ_SERVER_MODULE, g_module_error ());
  if (!g_module_symbol (module, name, &symbol) || symbol == NULL)
    th_fuzz_fail (__FILE__, __LINE__, "symbol", "%s has no %s", TH_FUZZ_SERVER_MODULE, name);
  return symbol;
}

void
th_fuzz_drain (void)
{
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* Loopback clients */

struct _ThFuzzConn
{
  GSocket    *socket;
  GSource    *source;
  GByteArray *in;
  ThWsParser  parser;
  gboolean    eof;
};

static gboolean
on_readable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      data)
{
  return G_SOURCE_CONTINUE;
}

ThFuzzConn *
th_fuzz_conn_new (guint16 port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr(GError) error = NULL;
  ThFuzzConn *conn = g_new0 (ThFuzzConn, 1);

  conn->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  th_fuzz_check (conn->socket != NULL, "socket: %s", error->message);
  g_socket_set_blocking (conn->socket, FALSE);
  /* Small writes go at once, as the server's do (no Nagle delay). */
  g_socket_set_option (conn->socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  if (!g_socket_connect (conn->socket, address, NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    th_fuzz_fail (__FILE__, __LINE__, "connect", "cannot connect to 127.0.0.1:%u: %s", port, error->message);
  conn->source = g_socket_create_source (conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (conn->source, G_SOURCE_FUNC (on_readable), NULL, NULL);
  g_source_attach (conn->source, NULL);
  conn->in = g_byte_array_new ();
  _th_ws_parser_init (&conn->parser, TH_WS_PARSER_FROM_SERVER, 64 * 1024 * 1024);
  return conn;
}

void
th_fuzz_conn_free (ThFuzzConn *conn)
{
  if (conn == NULL)
    return;
  g_source_destroy (conn->source);
  g_source_unref (conn->source);
  g_socket_close (conn->socket, NULL);
  g_object_unref (conn->socket);
  g_byte_array_unref (conn->in);
  _th_ws_parser_clear (&conn->parser);
  g_free (conn);
  /* The server notices the close now rather than during the next input. */
  th_fuzz_drain ();
}

/* Runs the main loop once, blocking, and fails the run when the wait
 * that began at @since has lasted too long. */
static void
wait_once (gint64      since,
           const char *what)
{
  if (g_get_monotonic_time () - since > TH_FUZZ_HANG_SECONDS * G_USEC_PER_SEC)
    th_fuzz_fail (__FILE__, __LINE__, "hang", "no progress for %d s waiting for %s", TH_FUZZ_HANG_SECONDS, what);
  g_main_context_iteration (NULL, TRUE);
}

gboolean
th_fuzz_conn_send (ThFuzzConn *conn,
                   const void *data,
                   gsize       length)
{
  const guint8 *p = data;
  gint64 since = g_get_monotonic_time ();

  while (length > 0)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (conn->socket, (const char *) p, length, NULL, &error);

      if (n > 0)
        {
          p += n;
          length -= (gsize) n;
          since = g_get_monotonic_time ();
        }
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        wait_once (since, "room to send");
      else
        return FALSE;   /* the server closed the connection */
    }
  return TRUE;
}

/* Reads what there is; FALSE at the end of the stream. */
static gboolean
read_more (ThFuzzConn *conn,
           const char *what)
{
  gint64 since = g_get_monotonic_time ();

  if (conn->eof)
    return FALSE;
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint8 buf[16384];
      gssize n = g_socket_receive (conn->socket, (char *) buf, sizeof buf, NULL, &error);

      if (n > 0)
        {
          g_byte_array_append (conn->in, buf, (guint) n);
          return TRUE;
        }
      if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          conn->eof = TRUE;
          return FALSE;
        }
      wait_once (since, what);
    }
}

static const char *
find_header_end (GByteArray *in)
{
  const char *data = (const char *) in->data;

  for (guint i = 0; i + 3 < in->len; i++)
    if (memcmp (data + i, "\r\n\r\n", 4) == 0)
      return data + i + 4;
  return NULL;
}

/* The value of header @name in @head (one header a line), or NULL. */
static char *
get_header (const char *head,
            const char *name)
{
  g_auto(GStrv) lines = g_strsplit (head, "\r\n", -1);
  gsize len = strlen (name);

  for (guint i = 1; lines[i] != NULL; i++)
    if (g_ascii_strncasecmp (lines[i], name, len) == 0 && lines[i][len] == ':')
      return g_strstrip (g_strdup (lines[i] + len + 1));
  return NULL;
}

gboolean
th_fuzz_conn_read_http (ThFuzzConn *conn,
                        gboolean    head_request,
                        guint      *status,
                        GByteArray *body,
                        gboolean   *keep_alive)
{
  const char *end;
  g_autofree char *head = NULL;
  g_autofree char *length_text = NULL;
  g_autofree char *encoding = NULL;
  g_autofree char *connection = NULL;
  gsize head_len;
  guint64 length = 0;

  g_byte_array_set_size (body, 0);
  while ((end = find_header_end (conn->in)) == NULL)
    if (!read_more (conn, "an HTTP response"))
      return FALSE;
  head_len = (gsize) (end - (const char *) conn->in->data);
  head = g_strndup ((const char *) conn->in->data, head_len);
  g_byte_array_remove_range (conn->in, 0, (guint) head_len);

  th_fuzz_check (g_str_has_prefix (head, "HTTP/1.") && strlen (head) > 12, "not an HTTP response: %s", head);
  *status = (guint) g_ascii_strtoull (head + 9, NULL, 10);
  length_text = get_header (head, "Content-Length");
  encoding = get_header (head, "Transfer-Encoding");
  connection = get_header (head, "Connection");
  *keep_alive = connection == NULL || g_ascii_strcasecmp (connection, "close") != 0;

  if (head_request || *status < 200 || *status == 204 || *status == 304)
    return TRUE;
  if (encoding != NULL && g_ascii_strcasecmp (encoding, "chunked") == 0)
    {
      for (;;)
        {
          const char *crlf;
          guint64 chunk;

          while ((crlf = g_strstr_len ((const char *) conn->in->data, conn->in->len, "\r\n")) == NULL)
            if (!read_more (conn, "a chunk size"))
              return FALSE;
          chunk = g_ascii_strtoull ((const char *) conn->in->data, NULL, 16);
          g_byte_array_remove_range (conn->in, 0, (guint) (crlf + 2 - (const char *) conn->in->data));
          while (conn->in->len < chunk + 2)
            if (!read_more (conn, "a chunk"))
              return FALSE;
          g_byte_array_append (body, conn->in->data, (guint) chunk);
          g_byte_array_remove_range (conn->in, 0, (guint) chunk + 2);
          if (chunk == 0)
            return TRUE;
        }
    }
  if (length_text == NULL)
    {
      /* Up to the end of the connection. */
      while (read_more (conn, "a response body up to the end"))
        ;
      g_byte_array_append (body, conn->in->data, conn->in->len);
      g_byte_array_set_size (conn->in, 0);
      *keep_alive = FALSE;
      return TRUE;
    }
  length = g_ascii_strtoull (length_text, NULL, 10);
  while (conn->in->len < length)
    if (!read_more (conn, "a response body"))
      return FALSE;
  g_byte_array_append (body, conn->in->data, (guint) length);
  g_byte_array_remove_range (conn->in, 0, (guint) length);
  return TRUE;
}

gboolean
th_fuzz_conn_ws_handshake (ThFuzzConn *conn,
                           const char *path)
{
  g_autofree char *request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                              "Sec-WebSocket-Version: 13\r\n\r\n", path);
  g_autoptr(GByteArray) body = g_byte_array_new ();
  guint status = 0;
  gboolean keep_alive;

  if (!th_fuzz_conn_send (conn, request, strlen (request)) ||
      !th_fuzz_conn_read_http (conn, FALSE, &status, body, &keep_alive))
    return FALSE;
  return status == 101;
}

gboolean
th_fuzz_conn_read_ws (ThFuzzConn *conn,
                      guint8     *opcode,
                      GByteArray *payload)
{
  for (;;)
    {
      ThWsFrame frame;
      gsize used = 0;
      ThWsParseResult r = _th_ws_parser_next (&conn->parser, conn->in->data, conn->in->len, &used, &frame);

      switch (r)
        {
        case TH_WS_PARSE_MESSAGE:
        case TH_WS_PARSE_CONTROL:
          *opcode = frame.opcode;
          g_byte_array_set_size (payload, 0);
          g_byte_array_append (payload, frame.data, (guint) frame.length);
          g_byte_array_remove_range (conn->in, 0, (guint) used);
          return TRUE;
        case TH_WS_PARSE_MORE:
          g_byte_array_remove_range (conn->in, 0, (guint) used);
          if (!read_more (conn, "a WebSocket frame"))
            return FALSE;
          break;
        case TH_WS_PARSE_OVERSIZE:
        case TH_WS_PARSE_ERROR:
        default:
          th_fuzz_fail (__FILE__, __LINE__, "server frame", "the server broke RFC 6455: %s",
                        frame.reason != NULL ? frame.reason : "?");
        }
    }
}

gboolean
th_fuzz_conn_send_ws (ThFuzzConn *conn,
                      guint8      opcode,
                      const void *data,
                      gsize       length)
{
  static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
  g_autofree guint8 *frame = g_malloc (TH_WS_FRAME_HEADER_MAX + length);
  gsize at = _th_ws_frame_write_header (frame, opcode, TRUE, length, mask);

  _th_ws_frame_mask (frame + at, data, length, mask);
  return th_fuzz_conn_send (conn, frame, at + length);
}

/* A hub with the server sink listening on a free loopback port and the
 * Binance feed (connect=false) with a price for BTC and ETH, so that REST
 * and subscriptions have something to answer with. */
ThHub *
th_fuzz_server_hub_new (const char *server_config,
                        guint16    *port)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\n"
                                           "plugins=server;binance\n"
                                           "symbols=BTC;ETH;SOL\n"
                                           "timeframes=1m;5m\n"
                                           "[binance]\n"
                                           "connect=false\n"
                                           "[server]\n"
                                           "listen=127.0.0.1:0\n"
                                           "rate-limit=0\n"
                                           "status-interval=0\n"
                                           "price-wait=0\n"
                                           "%s", server_config);
  ThHub *hub = th_fuzz_hub_new (text);
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  guint p = 0;

  for (guint i = 0; i < feeds->len; i++)
    if (TH_IS_WS_FEED (feeds->pdata[i]))
      {
        th_ws_feed_inject (feeds->pdata[i],
                           "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1704067200000,"
                           "\"s\":\"BTCUSDT\",\"P\":\"0.28\",\"c\":\"43000.50\",\"b\":\"43000.10\",\"a\":\"43000.90\","
                           "\"v\":\"12345.678\"}}", -1, TH_FUZZ_EPOCH);
        th_ws_feed_inject (feeds->pdata[i],
                           "{\"stream\":\"ethusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1704067200000,"
                           "\"s\":\"ETHUSDT\",\"p\":\"2300.25\",\"q\":\"1.5\",\"T\":1704067200000}}", -1, TH_FUZZ_EPOCH);
      }
  g_object_get (th_fuzz_hub_first_sink (hub), "port", &p, NULL);
  th_fuzz_check (p != 0, "the server does not listen");
  *port = (guint16) p;
  th_fuzz_drain ();
  return hub;
}

gboolean
th_fuzz_conn_send_ws2 (ThFuzzConn *conn,
                       const void *first,
                       gsize       first_length,
                       const void *second,
                       gsize       second_length)
{
  static const guint8 mask[4] = { 0x5a, 0x01, 0xc3, 0x77 };
  g_autofree guint8 *frames = g_malloc (2 * TH_WS_FRAME_HEADER_MAX + first_length + second_length);
  gsize at = _th_ws_frame_write_header (frames, TH_WS_OP_TEXT, TRUE, first_length, mask);

  _th_ws_frame_mask (frames + at, first, first_length, mask);
  at += first_length;
  at += _th_ws_frame_write_header (frames + at, TH_WS_OP_TEXT, TRUE, second_length, mask);
  _th_ws_frame_mask (frames + at, second, second_length, mask);
  return th_fuzz_conn_send (conn, frames, at + second_length);
}
