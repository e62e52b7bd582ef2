/* test-server-alerts.c: alert rules and alerts through the server sink
 *
 * A hub with the server (127.0.0.1:0) and the alerts sink; real clients:
 * libsoup's WebSocket client on /ws and on Socket.IO's websocket
 * transport (Engine.IO packets by hand), SoupSession for REST. Rules are
 * set, listed and removed by each path, bad input is refused with nothing
 * changed, and a tick fires a price_alert that reaches the price_alerts
 * and symbol_<S> rooms. With authentication, a client's rules are its own
 * unless its token is an admin one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "th-private.h"
#include "test-utils.h"

typedef struct
{
  ThHub       *hub;
  guint        port;
  SoupSession *session;
  char        *dir;
} Fixture;

/* The server's bound port (the hub has two sinks). */
static guint
server_port (ThHub *hub)
{
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (hub);

  for (guint i = 0; i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      {
        guint port = 0;

        g_object_get (sinks->pdata[i], "port", &port, NULL);
        return port;
      }
  g_assert_not_reached ();
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  const char *extra = data != NULL ? data : "";
  g_autofree char *text = NULL;

  fx->dir = th_test_make_tmp_dir ("tickhub-server-alerts-XXXXXX");
  if (strstr (extra, "@TOKENS@") != NULL)
    {
      g_autofree char *tokens = th_test_write_file (fx->dir, "tokens",
                                                    "alice-token\nbob-token\nroot-token admin\n");
      g_autoptr(GString) s = g_string_new (extra);

      g_chmod (tokens, 0600);
      g_string_replace (s, "@TOKENS@", tokens, 0);
      text = g_strdup_printf ("[tickhub]\nplugins=server;alerts\nsymbols=BTC;ETH\ntimeframes=1m\n"
                              "[prices]\norder=binance;coinbase\n"
                              "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n%s\n"
                              "[alerts]\nstate-file=%s/alerts.json\nmax-client-rules=2\n", s->str, fx->dir);
    }
  else
    text = g_strdup_printf ("[tickhub]\nplugins=server;alerts\nsymbols=BTC;ETH\ntimeframes=1m\n"
                            "[prices]\norder=binance;coinbase\n"
                            "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n"
                            "[alerts]\nstate-file=%s/alerts.json\nconf=ETH above 1000000\n%s", fx->dir, extra);
  fx->hub = th_test_hub_new (text, NULL);
  th_hub_start (fx->hub);
  fx->port = server_port (fx->hub);
  fx->session = th_test_session_new ();
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_stop (fx->hub);
  g_clear_object (&fx->session);
  g_clear_object (&fx->hub);
  th_test_drain ();
  g_assert_true (th_test_remove_tmp_dir (fx->dir));
  g_free (fx->dir);
}

static void
push (Fixture *fx,
      double   price)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, price, g_get_real_time ());

  th_hub_push_tick (fx->hub, tick);
}

/* WebSocket clients */

static ThTestWs *
ws_connect (Fixture    *fx,
            const char *path,
            const char *token)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u%s", fx->port, path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  ThTestWs *c;

  if (token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  c = th_test_ws_connect (fx->session, msg, NULL);
  g_assert_no_error (c->error);
  return c;
}

/* Pops messages until one contains @needle; returns it. */
static char *
wait_for (ThTestWs   *c,
          const char *needle)
{
  for (;;)
    {
      char *text;

      th_test_wait_until (th_test_ws_has_message (c), TH_TEST_WAIT_MS);
      text = g_queue_pop_head (&c->messages);
      g_free (g_queue_pop_head (&c->times));
      if (strstr (text, needle) != NULL)
        return text;
      g_free (text);
    }
}

static void
expect (ThTestWs   *c,
        const char *needle)
{
  g_free (wait_for (c, needle));
}

/* The data of the next /ws event @event. */
static JsonObject *
ws_event (ThTestWs   *c,
          const char *event)
{
  g_autofree char *needle = g_strdup_printf ("{\"event\":\"%s\"", event);
  g_autofree char *text = wait_for (c, needle);
  g_autoptr(JsonNode) root = th_test_parse_json (text);

  return json_object_ref (json_object_get_object_member (json_node_get_object (root), "data"));
}

static ThTestWs *
ws_client (Fixture    *fx,
           const char *token)
{
  ThTestWs *c = ws_connect (fx, "/ws", token);

  expect (c, "\"connected\"");
  return c;
}

/* /ws: set, list, bad input, delivery to both rooms, remove. */
static void
test_ws (Fixture       *fx,
         gconstpointer  data)
{
  g_autoptr(ThTestWs) a = ws_client (fx, NULL);
  g_autoptr(ThTestWs) b = ws_client (fx, NULL);
  g_autoptr(JsonObject) rule = NULL;
  g_autoptr(JsonObject) list = NULL;
  g_autoptr(JsonObject) alert = NULL;
  g_autoptr(JsonObject) alert_b = NULL;
  g_autofree char *id = NULL;
  g_autofree char *msg = NULL;
  static const struct { const char *data; const char *code; const char *words; } bad[] = {
    { "{\"symbol\":\"BTC\",\"condition\":\"abov 5\"}", "bad_request", "is not a condition" },
    { "{\"symbol\":\"XRP\",\"condition\":\"above 5\"}", "unknown_symbol", "unknown symbol" },
    { "{\"symbol\":\"BTC\",\"condition\":\"above 5\",\"cooldown\":-1}", "bad_request", "negative" },
    { "{\"symbol\":\"BTC\",\"condition\":\"rsi(1m) > 70\"}", "bad_request", "unknown indicator" },
    { "{\"symbol\":\"BTC\"}", "bad_request", "an alert needs" },
    { "{\"symbol\":\"BTC\",\"condition\":\"above 5\",\"once\":[1]}", "bad_request", "must be a string" },
  };

  th_test_ws_send (a, "{\"event\":\"join_room\",\"data\":{\"room\":\"price_alerts\"}}");
  expect (a, "room_joined");
  th_test_ws_send (b, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  expect (b, "symbol_data");

  th_test_ws_send (a, "{\"event\":\"set_alert\",\"data\":{\"symbol\":\"btc\",\"condition\":\"above 100\","
                      "\"cooldown\":0,\"message\":\"over 100\"}}");
  rule = ws_event (a, "alert_set");
  id = g_strdup (json_object_get_string_member (rule, "id"));
  g_assert_cmpstr (json_object_get_string_member (rule, "symbol"), ==, "BTC");
  g_assert_cmpstr (json_object_get_string_member (rule, "condition"), ==, "above 100");

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"event\":\"set_alert\",\"data\":%s}", bad[i].data);
      g_autoptr(JsonObject) error = NULL;

      th_test_ws_send (a, text);
      error = ws_event (a, "error");
      g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, bad[i].code);
      if (strstr (json_object_get_string_member (error, "message"), bad[i].words) == NULL)
        g_error ("%s: “%s” lacks “%s”", bad[i].data, json_object_get_string_member (error, "message"), bad[i].words);
    }

  th_test_ws_send (a, "{\"event\":\"list_alerts\",\"data\":{}}");
  list = ws_event (a, "alerts");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (list, "alerts")), ==, 2);   /* and conf */

  push (fx, 99);
  push (fx, 101);
  alert = ws_event (a, "price_alert");
  g_assert_cmpstr (json_object_get_string_member (alert, "id"), ==, id);
  g_assert_cmpfloat (json_object_get_double_member (alert, "price"), ==, 101);
  g_assert_cmpstr (json_object_get_string_member (alert, "source"), ==, "binance");
  g_assert_cmpstr (json_object_get_string_member (alert, "message"), ==, "over 100");
  alert_b = ws_event (b, "price_alert");            /* symbol_BTC */
  g_assert_cmpstr (json_object_get_string_member (alert_b, "id"), ==, id);

  th_test_ws_send (a, "{\"event\":\"remove_alert\",\"data\":{\"id\":\"nope\"}}");
  g_clear_pointer (&rule, json_object_unref);
  rule = ws_event (a, "error");
  g_assert_cmpstr (json_object_get_string_member (rule, "code"), ==, "not_found");
  msg = g_strdup_printf ("{\"event\":\"remove_alert\",\"data\":{\"id\":\"%s\"}}", id);
  th_test_ws_send (a, msg);
  g_clear_pointer (&rule, json_object_unref);
  rule = ws_event (a, "alert_removed");
  g_assert_cmpstr (json_object_get_string_member (rule, "id"), ==, id);
  th_test_ws_send (a, "{\"event\":\"remove_alert\",\"data\":{\"id\":\"conf\"}}");
  g_clear_pointer (&rule, json_object_unref);
  rule = ws_event (a, "error");
  g_assert_cmpstr (json_object_get_string_member (rule, "code"), ==, "forbidden");
}

/* Socket.IO (websocket transport): set_alert with an ack, then the alert. */
static void
test_socketio (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(ThTestWs) s = ws_connect (fx, "/socket.io/?EIO=4&transport=websocket", NULL);
  g_autofree char *ack = NULL;
  g_autofree char *alert = NULL;

  expect (s, "0{\"sid\"");
  th_test_ws_send (s, "40");
  expect (s, "40{");
  expect (s, "42[\"connected\"");
  th_test_ws_send (s, "42[\"join_room\",{\"room\":\"price_alerts\"}]");
  expect (s, "42[\"room_joined\"");
  th_test_ws_send (s, "421[\"set_alert\",{\"symbol\":\"BTC\",\"condition\":\"crosses 100\",\"cooldown\":0}]");
  /* The ack and the event, in either order. */
  {
    g_autofree char *one = wait_for (s, "\"crosses 100\"");
    g_autofree char *two = wait_for (s, "\"crosses 100\"");

    ack = g_strconcat (one, "\n", two, NULL);
  }
  g_assert_nonnull (strstr (ack, "431[{"));
  g_assert_nonnull (strstr (ack, "42[\"alert_set\",{"));
  th_test_ws_send (s, "42[\"set_alert\",{\"symbol\":\"BTC\",\"condition\":\"sideways\"}]");
  expect (s, "42[\"error\",{\"code\":\"bad_request\"");

  push (fx, 90);
  push (fx, 110);
  alert = wait_for (s, "42[\"price_alert\"");
  g_assert_nonnull (strstr (alert, "\"price\":110"));
  g_assert_nonnull (strstr (alert, "\"condition\":\"crosses 100\""));
}

/* REST */

static char *
http (Fixture    *fx,
      const char *method,
      const char *path,
      const char *body,
      const char *token,
      guint      *status)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);
  g_autoptr(ThTestHttp) h = NULL;

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }
  if (token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    }
  h = th_test_http_send (fx->session, msg);
  g_assert_no_error (h->error);
  *status = soup_message_get_status (msg);
  return g_steal_pointer (&h->body);
}

static void
test_rest (Fixture       *fx,
           gconstpointer  data)
{
  guint status;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;

  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"below 50\",\"once\":true}", NULL,
               &status);
  g_assert_cmpuint (status, ==, 201);
  root = th_test_parse_json (body);
  id = g_strdup (json_object_get_string_member (json_node_get_object (root), "id"));
  g_assert_true (json_object_get_boolean_member (json_node_get_object (root), "once"));
  g_clear_pointer (&body, g_free);

  /* Bad input: 400 with the reason, nothing added. */
  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"below\"}", NULL, &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "needs a threshold"));
  g_clear_pointer (&body, g_free);
  body = http (fx, "POST", "/api/v1/alerts", "not json", NULL, &status);
  g_assert_cmpuint (status, ==, 400);
  g_clear_pointer (&body, g_free);
  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"DOGE\",\"condition\":\"below 5\"}", NULL, &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "unknown_symbol"));
  g_clear_pointer (&body, g_free);

  body = http (fx, "GET", "/api/v1/alerts", NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&root, json_node_unref);
  root = th_test_parse_json (body);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (root), "alerts")),
                    ==, 2);
  g_clear_pointer (&body, g_free);

  body = http (fx, "PUT", "/api/v1/alerts", NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 405);
  g_clear_pointer (&body, g_free);

  path = g_strdup_printf ("/api/v1/alerts/%s", id);
  body = http (fx, "DELETE", path, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&body, g_free);
  body = http (fx, "DELETE", path, NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_free);
  body = http (fx, "DELETE", "/api/v1/alerts/conf", NULL, NULL, &status);
  g_assert_cmpuint (status, ==, 403);
}

/* With tokens: anonymous requests are refused; each sees and removes its
 * own; an admin token manages all; the per-client limit. */
static void
test_auth (Fixture       *fx,
           gconstpointer  data)
{
  guint status;
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *alice_id = NULL;
  g_autoptr(ThTestWs) bob = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *msg = NULL;

  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"above 5\"}", NULL, &status);
  g_assert_cmpuint (status, ==, 401);
  g_clear_pointer (&body, g_free);

  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"above 5\"}", "alice-token", &status);
  g_assert_cmpuint (status, ==, 201);
  root = th_test_parse_json (body);
  alice_id = g_strdup (json_object_get_string_member (json_node_get_object (root), "id"));
  g_assert_true (g_str_has_prefix (json_object_get_string_member (json_node_get_object (root), "owner"), "token:"));
  g_clear_pointer (&body, g_free);
  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"above 6\"}", "alice-token", &status);
  g_assert_cmpuint (status, ==, 201);
  g_clear_pointer (&body, g_free);
  body = http (fx, "POST", "/api/v1/alerts", "{\"symbol\":\"BTC\",\"condition\":\"above 7\"}", "alice-token", &status);
  g_assert_cmpuint (status, ==, 400);
  g_assert_nonnull (strstr (body, "too_many_rules"));
  g_clear_pointer (&body, g_free);

  /* Bob sees none of Alice's and may not remove them. */
  bob = ws_client (fx, "bob-token");
  th_test_ws_send (bob, "{\"event\":\"list_alerts\",\"data\":{}}");
  reply = ws_event (bob, "alerts");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (reply, "alerts")), ==, 0);
  msg = g_strdup_printf ("{\"event\":\"remove_alert\",\"data\":{\"id\":\"%s\"}}", alice_id);
  th_test_ws_send (bob, msg);
  g_clear_pointer (&reply, json_object_unref);
  reply = ws_event (bob, "error");
  g_assert_cmpstr (json_object_get_string_member (reply, "code"), ==, "forbidden");

  /* The admin sees both and removes one. */
  body = http (fx, "GET", "/api/v1/alerts", NULL, "root-token", &status);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&root, json_node_unref);
  root = th_test_parse_json (body);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (root), "alerts")),
                    ==, 2);
  g_clear_pointer (&body, g_free);
  path = g_strdup_printf ("/api/v1/alerts/%s", alice_id);
  body = http (fx, "DELETE", path, NULL, "root-token", &status);
  g_assert_cmpuint (status, ==, 200);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/server-alerts/ws", Fixture, NULL, fixture_setup, test_ws, fixture_teardown);
  g_test_add ("/server-alerts/socketio", Fixture, NULL, fixture_setup, test_socketio, fixture_teardown);
  g_test_add ("/server-alerts/rest", Fixture, NULL, fixture_setup, test_rest, fixture_teardown);
  g_test_add ("/server-alerts/auth", Fixture, "tokens=@TOKENS@", fixture_setup, test_auth, fixture_teardown);

  return g_test_run ();
}
