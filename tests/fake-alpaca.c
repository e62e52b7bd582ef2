/* fake-alpaca.c: Alpaca's market data WebSocket v2 on 127.0.0.1
 *
 * As Alpaca does: the welcome `[{"T":"success","msg":"connected"}]` on
 * connecting; `{"action":"auth","key","secret"}` answered with
 * `[{"T":"success","msg":"authenticated"}]` or
 * `[{"T":"error","code":402,"msg":"auth failed"}]` and a close; a
 * subscribe before auth is `401 not authenticated`; a subscribe after it
 * is answered with the cumulative `subscription` message (or the reply
 * the test set, an error for instance). Data is sent by the test, as
 * arrays.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>

#include "fake-alpaca.h"

struct _FakeAlpaca
{
  FakeWs   *ws;
  char     *key;
  char     *secret;
  char     *welcome;
  char     *subscribe_reply;
  gboolean  authenticated;
  guint     subscribed;
};

static void
on_connected (FakeWs                  *ws,
              SoupWebsocketConnection *conn,
              const char              *query,
              gpointer                 data)
{
  FakeAlpaca *fa = data;

  fa->authenticated = FALSE;
  soup_websocket_connection_send_text (conn, fa->welcome != NULL ? fa->welcome : "[{\"T\":\"success\",\"msg\":\"connected\"}]");
}

static void
append_list (GString    *s,
             JsonObject *req,
             const char *member)
{
  JsonArray *a = json_object_has_member (req, member) ? json_object_get_array_member (req, member) : NULL;

  g_string_append_printf (s, ",\"%s\":[", member);
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++)
    g_string_append_printf (s, "%s\"%s\"", i > 0 ? "," : "", json_array_get_string_element (a, i));
  g_string_append_c (s, ']');
}

static void
on_received (FakeWs                  *ws,
             SoupWebsocketConnection *conn,
             const char              *text,
             gpointer                 data)
{
  FakeAlpaca *fa = data;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *req;
  const char *action;

  if (!json_parser_load_from_data (parser, text, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      soup_websocket_connection_send_text (conn, "[{\"T\":\"error\",\"code\":400,\"msg\":\"invalid syntax\"}]");
      return;
    }
  req = json_node_get_object (json_parser_get_root (parser));
  action = json_object_get_string_member_with_default (req, "action", "");
  if (g_str_equal (action, "auth"))
    {
      if (g_strcmp0 (json_object_get_string_member_with_default (req, "key", NULL), fa->key) == 0
          && g_strcmp0 (json_object_get_string_member_with_default (req, "secret", NULL), fa->secret) == 0)
        {
          fa->authenticated = TRUE;
          soup_websocket_connection_send_text (conn, "[{\"T\":\"success\",\"msg\":\"authenticated\"}]");
        }
      else
        {
          soup_websocket_connection_send_text (conn, "[{\"T\":\"error\",\"code\":402,\"msg\":\"auth failed\"}]");
          soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
        }
    }
  else if (g_str_equal (action, "subscribe"))
    {
      g_autoptr(GString) s = g_string_new ("[{\"T\":\"subscription\"");

      if (!fa->authenticated)
        {
          soup_websocket_connection_send_text (conn, "[{\"T\":\"error\",\"code\":401,\"msg\":\"not authenticated\"}]");
          return;
        }
      fa->subscribed++;
      if (fa->subscribe_reply != NULL)
        {
          soup_websocket_connection_send_text (conn, fa->subscribe_reply);
          return;
        }
      append_list (s, req, "trades");
      append_list (s, req, "quotes");
      append_list (s, req, "bars");
      g_string_append (s, ",\"updatedBars\":[],\"dailyBars\":[],\"statuses\":[],\"lulds\":[],\"corrections\":[],\"cancelErrors\":[]}]");
      soup_websocket_connection_send_text (conn, s->str);
    }
  else
    soup_websocket_connection_send_text (conn, "[{\"T\":\"error\",\"code\":400,\"msg\":\"invalid syntax\"}]");
}

FakeAlpaca *
fake_alpaca_new (const char *key,
                 const char *secret)
{
  FakeAlpaca *fa = g_new0 (FakeAlpaca, 1);

  fa->ws = fake_ws_new ("/v2");
  fa->key = g_strdup (key);
  fa->secret = g_strdup (secret);
  fake_ws_set_handlers (fa->ws, on_connected, on_received, fa);
  return fa;
}

void
fake_alpaca_free (FakeAlpaca *fa)
{
  fake_ws_free (fa->ws);
  g_free (fa->key);
  g_free (fa->secret);
  g_free (fa->welcome);
  g_free (fa->subscribe_reply);
  g_free (fa);
}

char *fake_alpaca_url (FakeAlpaca *fa) { return fake_ws_url (fa->ws); }
FakeWs *fake_alpaca_ws (FakeAlpaca *fa) { return fa->ws; }
guint fake_alpaca_n_subscribed (FakeAlpaca *fa) { return fa->subscribed; }
const char *fake_alpaca_last_path (FakeAlpaca *fa) { return fake_ws_last_path (fa->ws); }

void
fake_alpaca_set_welcome (FakeAlpaca *fa,
                         const char *text)
{
  g_free (fa->welcome);
  fa->welcome = g_strdup (text);
}

void
fake_alpaca_set_subscribe_reply (FakeAlpaca *fa,
                                 const char *text)
{
  g_free (fa->subscribe_reply);
  fa->subscribe_reply = g_strdup (text);
}

void
fake_alpaca_send (FakeAlpaca *fa,
                  const char *text)
{
  fake_ws_send (fa->ws, text);
}
