/* fuzz-ws-session.c: client messages over a WebSocket to the server sink
 *
 * Built twice:
 *   fuzz-ws-envelope  /ws: an input is one text message, the envelope
 *                     {"event": NAME, "data": {...}} (subscribe_symbol,
 *                     join_room, get_status, ping...), through the
 *                     server's frame reader, its UTF-8 check and the
 *                     client protocol (th_server_client_message)
 *   fuzz-socketio     /socket.io/?EIO=4&transport=websocket, after the
 *                     namespace CONNECT: an input is one Engine.IO packet
 *                     (4 + a Socket.IO packet: 40 connect with auth, 42
 *                     events with acks, 41, namespaces, binary...;
 *                     2 ping, 3 pong, 1 close, 6 noop)
 *
 * The server plugin listens on loopback in this process. After each input
 * the target sends a barrier the server must answer (a ping envelope; an
 * Engine.IO ping "2fuzzN", answered "3fuzzN") and reads every frame up to
 * that answer, so each input is handled completely before the next. A
 * connection the server closed is opened again. Inputs that are not UTF-8
 * are left out: the server closes those with 1007 before any parsing.
 *
 * Checked: every frame the server sends is a text frame of valid UTF-8
 * (a close frame ends the session), and the barrier's answer comes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"
#include "th-ws-frame.h"

static ThHub *hub;
static guint16 port;
static ThFuzzConn *conn;
static guint64 serial;

#ifdef TH_FUZZ_SOCKETIO
# define PATH "/socket.io/?EIO=4&transport=websocket"
#else
# define PATH "/ws"
#endif

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  hub = th_fuzz_server_hub_new ("", &port);
  return 0;
}

/* Reads frames until one holds @needle (TRUE), or the connection ends. */
static gboolean
read_until (const char *needle)
{
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  guint8 opcode;

  while (th_fuzz_conn_read_ws (conn, &opcode, payload))
    {
      if (opcode == TH_WS_OP_CLOSE)
        return FALSE;
      if (opcode == TH_WS_OP_PING || opcode == TH_WS_OP_PONG)
        continue;
      th_fuzz_check (opcode == TH_WS_OP_TEXT, "the server sent a frame of opcode %u", opcode);
      th_fuzz_check (g_utf8_validate ((const char *) payload->data, payload->len, NULL),
                     "the server sent text that is not UTF-8: %.*s", (int) payload->len, payload->data);
#ifdef TH_FUZZ_SOCKETIO
      /* The server's Engine.IO ping: answered, or it drops the session. */
      if (payload->len == 1 && payload->data[0] == '2')
        {
          th_fuzz_conn_send_ws (conn, TH_WS_OP_TEXT, "3", 1);
          continue;
        }
#endif
      if (g_strstr_len ((const char *) payload->data, payload->len, needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

static void
reconnect (void)
{
  g_clear_pointer (&conn, th_fuzz_conn_free);
  conn = th_fuzz_conn_new (port);
  th_fuzz_check (th_fuzz_conn_ws_handshake (conn, PATH), "the server refused the WebSocket at " PATH);
#ifdef TH_FUZZ_SOCKETIO
  th_fuzz_check (read_until ("\"sid\""), "no Engine.IO open packet");
  th_fuzz_conn_send_ws (conn, TH_WS_OP_TEXT, "40", 2);
  th_fuzz_check (read_until ("40{"), "no answer to the namespace CONNECT");
#else
  th_fuzz_check (read_until ("\"connected\""), "no connected event");
#endif
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *barrier = NULL;
  g_autofree char *answer = NULL;

  if (!g_utf8_validate_len ((const char *) data, size, NULL))
    return -1;
  if (conn == NULL)
    reconnect ();

  serial++;
#ifdef TH_FUZZ_SOCKETIO
  barrier = g_strdup_printf ("2fuzz%" G_GUINT64_FORMAT, serial);
  answer = g_strdup_printf ("3fuzz%" G_GUINT64_FORMAT, serial);
#else
  barrier = g_strdup_printf ("{\"event\":\"ping\",\"data\":{\"fuzz\":%" G_GUINT64_FORMAT "}}", serial);
  answer = g_strdup_printf ("\"fuzz\":%" G_GUINT64_FORMAT "}", serial);
#endif
  if (!th_fuzz_conn_send_ws2 (conn, data, size, barrier, strlen (barrier)) || !read_until (answer))
    {
      /* The input ended the session (a close packet, an event before
       * CONNECT...): the next input gets a new one. */
      g_clear_pointer (&conn, th_fuzz_conn_free);
    }
  return 0;
}
