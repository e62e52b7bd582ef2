/* fake-finnhub.c: Finnhub's trades WebSocket on 127.0.0.1
 *
 * As Finnhub does: the token in the query (`/?token=`); a wrong one is
 * refused in the handshake with HTTP 401 (the test may also refuse every
 * handshake with fake_ws_refuse()). Each `{"type":"subscribe","symbol"}`
 * adds a symbol, `unsubscribe` removes it, anything else is answered with
 * `{"type":"error","msg":…}`. Trades and pings are sent by the test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "fake-alpaca.h"

struct _FakeFinnhub
{
  FakeWs     *ws;
  char       *token;
  GHashTable *symbols;
  guint       subscribes;
};

static void
on_connected (FakeWs                  *ws,
              SoupWebsocketConnection *conn,
              const char              *query,
              gpointer                 data)
{
  FakeFinnhub *ff = data;
  g_autoptr(GHashTable) params = g_uri_parse_params (query != NULL ? query : "", -1, "&", G_URI_PARAMS_NONE, NULL);

  g_hash_table_remove_all (ff->symbols);
  if (params == NULL || g_strcmp0 (g_hash_table_lookup (params, "token"), ff->token) != 0)
    soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "Invalid API key");
}

static void
on_received (FakeWs                  *ws,
             SoupWebsocketConnection *conn,
             const char              *text,
             gpointer                 data)
{
  FakeFinnhub *ff = data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *req;
  const char *type, *symbol;

  if (!json_parser_load_from_data (parser, text, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      soup_websocket_connection_send_text (conn, "{\"type\":\"error\",\"msg\":\"Invalid message\"}");
      return;
    }
  req = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (req, "type", "");
  symbol = json_object_get_string_member_with_default (req, "symbol", NULL);
  if (symbol == NULL)
    soup_websocket_connection_send_text (conn, "{\"type\":\"error\",\"msg\":\"Invalid message\"}");
  else if (g_str_equal (type, "subscribe"))
    {
      ff->subscribes++;
      g_hash_table_add (ff->symbols, g_strdup (symbol));
    }
  else if (g_str_equal (type, "unsubscribe"))
    g_hash_table_remove (ff->symbols, symbol);
  else
    soup_websocket_connection_send_text (conn, "{\"type\":\"error\",\"msg\":\"Invalid message\"}");
}

FakeFinnhub *
fake_finnhub_new (const char *token)
{
  FakeFinnhub *ff = g_new0 (FakeFinnhub, 1);

  ff->ws = fake_ws_new ("/");
  ff->token = g_strdup (token);
  ff->symbols = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  fake_ws_set_handlers (ff->ws, on_connected, on_received, ff);
  return ff;
}

void
fake_finnhub_free (FakeFinnhub *ff)
{
  fake_ws_free (ff->ws);
  g_free (ff->token);
  g_hash_table_unref (ff->symbols);
  g_free (ff);
}

char *fake_finnhub_url (FakeFinnhub *ff) { return fake_ws_url (ff->ws); }
FakeWs *fake_finnhub_ws (FakeFinnhub *ff) { return ff->ws; }
guint fake_finnhub_n_subscribed (FakeFinnhub *ff) { return g_hash_table_size (ff->symbols); }

gboolean
fake_finnhub_is_subscribed (FakeFinnhub *ff,
                            const char  *symbol)
{
  return g_hash_table_contains (ff->symbols, symbol);
}

void
fake_finnhub_send (FakeFinnhub *ff,
                   const char  *text)
{
  fake_ws_send (ff->ws, text);
}
