/* fuzz-rest.c: REST paths and queries, over HTTP to the server sink
 *
 * The server plugin listens on loopback in this process (with the Binance
 * feed's BTC and ETH prices); an input is a request target, sent as
 * `GET <input> HTTP/1.1` on a kept-alive connection (a new one when the
 * server closed it). libsoup parses the request line and the query, the
 * server routes it (/api/v1/price/SYM, /prices, /sources, /candles/SYM
 * ?timeframe=&limit=, /indicators/SYM, /ws/status, /ws/connections,
 * /ws/rooms, /healthz, /metrics...). An input whose first byte is odd is
 * sent as HEAD, then OPTIONS with an Origin (CORS) for the third bit.
 *
 * Checked: every request is answered, with a status from 100 to 599; a
 * JSON answer is valid UTF-8 and parses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"

static ThHub *hub;
static guint16 port;
static ThFuzzConn *conn;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  hub = th_fuzz_server_hub_new ("allowed-origins=http://localhost:8080\n", &port);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GString) request = g_string_new (NULL);
  g_autoptr(GByteArray) body = g_byte_array_new ();
  const char *method;
  guint status = 0;
  gboolean keep_alive = FALSE;

  if (size < 1)
    return 0;
  /* A request target is one line: what cannot be in one is not sent. */
  for (size_t i = 1; i < size; i++)
    if (data[i] == '\r' || data[i] == '\n' || data[i] == '\0')
      return -1;
  method = (data[0] & 1) ? "HEAD" : (data[0] & 4) ? "OPTIONS" : "GET";
  g_string_append_printf (request, "%s ", method);
  g_string_append_len (request, (const char *) data + 1, (gssize) size - 1);
  g_string_append (request, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  if (data[0] & 4)
    g_string_append (request, "Origin: http://localhost:8080\r\nAccess-Control-Request-Method: GET\r\n");
  g_string_append (request, "\r\n");

  if (conn == NULL)
    conn = th_fuzz_conn_new (port);
  if (!th_fuzz_conn_send (conn, request->str, request->len) ||
      !th_fuzz_conn_read_http (conn, (data[0] & 1) != 0, &status, body, &keep_alive))
    {
      /* It closed without an answer: only for a request it could not read. */
      g_clear_pointer (&conn, th_fuzz_conn_free);
      return 0;
    }
  th_fuzz_check (status >= 100 && status <= 599, "status %u", status);
  if (body->len > 0 && (body->data[0] == '{' || body->data[0] == '['))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = NULL;

      th_fuzz_check (g_utf8_validate ((const char *) body->data, body->len, NULL),
                     "a JSON answer that is not UTF-8 to %s", request->str);
      node = th_json_parse ((const char *) body->data, body->len, &error);
      th_fuzz_check (node != NULL, "a JSON answer that does not parse (%s) to %s: %.*s",
                     error->message, request->str, (int) body->len, body->data);
    }
  if (!keep_alive)
    g_clear_pointer (&conn, th_fuzz_conn_free);
  return 0;
}
