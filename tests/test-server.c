/* test-server.c: the server sink, with real clients on 127.0.0.1
 *
 * Each test loads a hub with the server sink listening on 127.0.0.1:0,
 * reads the bound port from the sink's "port" property, and talks to it
 * with libsoup's WebSocket client and SoupSession, or with a raw socket
 * for a client that never reads. Ticks go in with th_hub_push_tick(),
 * other events with th_hub_emit_event().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "fake-ws-server.h"
#include "th-private.h"
#include "test-utils.h"

#define WAIT_USEC (10 * G_USEC_PER_SEC)

typedef struct
{
  ThHub       *hub;
  guint        port;
  SoupSession *session;
  GPtrArray   *events;      /* ThEvent*: every event the hub emitted */
  gboolean     stopped;
} Fixture;

static void fixture_hub_up (Fixture    *fx,
                            const char *text);

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  /* @SRCDIR@ in a test's [server] lines: the tests/ folder. */
  g_autoptr(GString) group = g_string_new (data != NULL ? data : "");
  const char *server_group = (g_string_replace (group, "@SRCDIR@", g_test_get_dir (G_TEST_DIST), 0), group->str);
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=server\nsymbols=BTC;ETH;SOL\ntimeframes=1m;5m\n"
    "[prices]\norder=binance;coinbase\n"
    "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nprice-wait=0.3\n%s\n", server_group);
  /* The test's keys replace the defaults. */
  g_autofree char *merged = th_test_config_last_wins (text);

  fixture_hub_up (fx, merged);
}

/* A started hub on @text, whose only sink is the server. */
static void
fixture_hub_up (Fixture    *fx,
                const char *text)
{
  fx->hub = th_test_hub_new (text, NULL);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);
  fx->port = th_test_server_port (fx->hub);
  fx->session = th_test_session_new ();
}

static void
hub_stop (Fixture *fx)
{
  if (fx->stopped)
    return;
  fx->stopped = TRUE;
  th_test_hub_stop (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  hub_stop (fx);
  g_clear_object (&fx->session);
  g_clear_object (&fx->hub);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
  /* Let closed connections finish in the main loop. */
  th_test_drain ();
}

/* WebSocket clients */

static ThTestWs *
client_try (Fixture    *fx,
            const char *origin)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", fx->port);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);

  return th_test_ws_connect (fx->session, msg, origin);
}

/* The next message, which must be @event; returns the whole text. */
static char *
next_text (ThTestWs   *c,
           const char *event)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  JsonObject *obj;

  /* price_source_changed goes to symbol rooms too: skipped unless asked. */
  do
    {
      g_free (text);
      th_test_wait_until (th_test_ws_has_message (c), TH_TEST_WAIT_MS);
      text = g_queue_pop_head (&c->messages);
      g_free (g_queue_pop_head (&c->times));
      g_assert_nonnull (text);
      json_parser_load_from_data (parser, text, -1, &error);
      g_assert_no_error (error);
      obj = json_node_get_object (json_parser_get_root (parser));
    }
  while (!g_str_equal (event, "price_source_changed") &&
         g_strcmp0 (json_object_get_string_member (obj, "event"), "price_source_changed") == 0);
  if (g_strcmp0 (json_object_get_string_member (obj, "event"), event) != 0)
    g_error ("expected %s, got %s", event, text);
  g_assert_true (json_object_has_member (obj, "data"));
  return text;
}

/* The data of the next message, which must be @event. */
static JsonNode *
next_event_from_text (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  json_parser_load_from_data (parser, text, -1, NULL);
  return json_node_copy (json_object_get_member (json_node_get_object (json_parser_get_root (parser)), "data"));
}

static JsonNode *
next_event (ThTestWs   *c,
            const char *event)
{
  g_autofree char *text = next_text (c, event);

  return next_event_from_text (text);
}

static ThTestWs *
client_new (Fixture *fx)
{
  ThTestWs *c = client_try (fx, NULL);
  g_autoptr(JsonNode) data = NULL;

  g_assert_no_error (c->error);
  data = next_event (c, "connected");
  g_assert_nonnull (json_object_get_string_member (json_node_get_object (data), "client_id"));
  return c;
}

static void
join (ThTestWs   *c,
      const char *room)
{
  g_autofree char *text = g_strdup_printf ("{\"event\":\"join_room\",\"data\":{\"room\":\"%s\"}}", room);
  g_autoptr(JsonNode) data = NULL;

  th_test_ws_send (c, text);
  data = next_event (c, "room_joined");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (data), "room"), ==, room);
}

static const char *
error_code (JsonNode *data)
{
  return json_object_get_string_member (json_node_get_object (data), "code");
}

/* HTTP */

/* Sends @msg and returns the body as a string; the status is in @msg. */
static char *
http_send (Fixture     *fx,
           SoupMessage *msg)
{
  g_autoptr(ThTestHttp) h = th_test_http_send (fx->session, msg);

  g_assert_no_error (h->error);
  return g_steal_pointer (&h->body);
}

static char *
http_get (Fixture     *fx,
          const char  *path,
          guint       *status)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  char *body = http_send (fx, msg);

  *status = soup_message_get_status (msg);
  if (*status != 204 && !g_str_equal (path, "/metrics"))
    g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL), ==,
                     "application/json");
  return body;
}

static const char *
http_error_code (JsonNode *root)
{
  return json_object_get_string_member (json_object_get_object_member (json_node_get_object (root), "error"), "code");
}

/* Tests: WebSocket */

static void
test_connect_and_rooms (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(ThTestWs) a = client_new (fx);
  g_autoptr(ThTestWs) b = client_new (fx);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) pong = NULL;

  join (a, "financial_data");
  join (a, "symbol_BTC");        /* both rooms match: the event comes once */
  join (b, "symbol_ETH");

  th_test_push_quote (fx->hub, "BTC", 42000.5);
  text = next_text (a, "financial_data_update");
  /* The very bytes the hub serialized. */
  g_assert_cmpstr (text, ==, th_test_last_event_json (fx->events, "financial_data_update"));

  g_clear_pointer (&text, g_free);
  th_test_push_quote (fx->hub, "ETH", 2500.25);
  text = next_text (b, "financial_data_update");
  g_assert_cmpstr (text, ==, th_test_last_event_json (fx->events, "financial_data_update"));
  g_assert_nonnull (strstr (text, "\"ETH\""));

  g_clear_pointer (&text, g_free);
  text = next_text (a, "financial_data_update");   /* the ETH one, through financial_data */
  g_assert_nonnull (strstr (text, "\"ETH\""));

  /* No duplicate of the BTC update is pending for a: the next is the pong. */
  th_test_ws_send (a, "{\"event\":\"ping\",\"data\":{\"n\":7,\"s\":\"x\"}}");
  pong = next_event (a, "pong");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (pong), "n"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (pong), "s"), ==, "x");

  /* b never got the BTC update. */
  g_assert_true (g_queue_is_empty (&b->messages));

  /* The ping's data comes back as the client wrote it: numbers json-glib
   * cannot hold keep their digits, escapes and spacing stay. */
  {
    g_autofree char *raw = NULL;

    th_test_ws_send (a, "{\"event\":\"ping\", \"data\" : {\"big\":9223372036854775808,\"e\":1.2e29,"
                        "\"s\":\"a\\u00e9\\\"}\",\"a\":[1, {\"x\":[]}]} }");
    raw = next_text (a, "pong");
    g_assert_cmpstr (raw, ==, "{\"event\":\"pong\",\"data\":{\"big\":9223372036854775808,\"e\":1.2e29,"
                              "\"s\":\"a\\u00e9\\\"}\",\"a\":[1, {\"x\":[]}]}}");
  }

  /* leave_room */
  th_test_ws_send (a, "{\"event\":\"leave_room\",\"data\":{\"room\":\"financial_data\"}}");
  g_clear_pointer (&pong, json_node_unref);
  pong = next_event (a, "room_left");
  th_test_push_quote (fx->hub, "ETH", 2501.25);
  th_test_ws_send (a, "{\"event\":\"ping\"}");
  g_clear_pointer (&pong, json_node_unref);
  pong = next_event (a, "pong");   /* and not the ETH update */
}

static void
test_subscribe_snapshot (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  g_autoptr(JsonNode) sub = NULL;
  g_autoptr(JsonNode) snap = NULL;
  g_autoptr(ThEvent) ind = NULL;
  g_autoptr(ThEvent) candle = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  JsonObject *obj;
  JsonObject *indicators;

  /* Before any price: financial_data is null, with the reason. */
  th_test_ws_send (c, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"sol\"}}");
  sub = next_event (c, "symbol_subscribed");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (sub), "symbol"), ==, "SOL");
  snap = next_event (c, "symbol_data");
  obj = json_node_get_object (snap);
  g_assert_true (json_object_get_null_member (obj, "financial_data"));
  g_assert_nonnull (strstr (json_object_get_string_member (obj, "reason"), "SOL"));

  th_test_push_quote (fx->hub, "BTC", 50000);
  /* Values computed elsewhere, published as the hub's own are. */
  {
    GVariantBuilder values;
    ThCandle c1 = { .start = G_GINT64_CONSTANT (1704067200000000), .closed = TRUE };

    g_variant_builder_init (&values, G_VARIANT_TYPE ("a{sd}"));
    g_variant_builder_add (&values, "{sd}", "rsi", 55.5);
    g_assert_true (th_hub_publish_indicators (fx->hub, "BTC", "1m", &c1, g_variant_builder_end (&values)));
  }
  g_assert_cmpstr (th_test_last_event_json (fx->events, "technical_indicators_update"), ==,
                   "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\","
                   "\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"rsi\":55.5,"
                   "\"timestamp\":\"2024-01-01T00:00:00.000Z\"},\"warm\":false}}");
  for (guint i = fx->events->len; i > 0 && ind == NULL; i--)
    if (g_str_equal (th_event_get_name (fx->events->pdata[i - 1]), "technical_indicators_update"))
      ind = th_event_ref (fx->events->pdata[i - 1]);

  th_test_ws_send (c, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  g_clear_pointer (&sub, json_node_unref);
  sub = next_event (c, "symbol_subscribed");
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (sub), "room"), ==, "symbol_BTC");
  g_clear_pointer (&snap, json_node_unref);
  snap = next_event (c, "symbol_data");
  obj = json_node_get_object (snap);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (obj, "financial_data"), "price"),
                     ==, 50000);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "financial_data"), "source"),
                   ==, "binance");
  indicators = json_object_get_object_member (obj, "indicators");
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (indicators, "1m"), "rsi"), ==, 55.5);
  g_assert_true (json_object_get_null_member (indicators, "5m"));

  /* Then every event about the symbol. */
  th_test_push_quote (fx->hub, "BTC", 50001);
  text = next_text (c, "financial_data_update");
  g_assert_cmpstr (text, ==, th_test_last_event_json (fx->events, "financial_data_update"));
  candle = th_event_new_from_json ("{\"event\":\"candle_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\","
                                   "\"candle\":{\"close\":1}}}", -1, &error);
  g_assert_no_error (error);
  th_hub_emit_event (fx->hub, candle);
  g_clear_pointer (&text, g_free);
  text = next_text (c, "candle_update");
  g_assert_cmpstr (text, ==, th_event_get_json (candle));
  th_hub_emit_event (fx->hub, ind);
  g_clear_pointer (&text, g_free);
  text = next_text (c, "technical_indicators_update");

  th_test_ws_send (c, "{\"event\":\"unsubscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  g_clear_pointer (&sub, json_node_unref);
  sub = next_event (c, "symbol_unsubscribed");
  th_test_push_quote (fx->hub, "BTC", 50002);
  th_test_ws_send (c, "{\"event\":\"get_status\",\"data\":{}}");
  g_clear_pointer (&sub, json_node_unref);
  sub = next_event (c, "server_status");
  obj = json_node_get_object (sub);
  g_assert_cmpint (json_object_get_int_member (obj, "active_connections"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "ok");
  g_assert_cmpint (json_object_get_int_member (obj, "memory_usage"), >, 0);
}

static void
test_bad_messages (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  static const struct { const char *text; const char *code; } cases[] = {
    { "{\"event\":\"join_room\",\"data\":{\"room\":\"nope\"}}", "unknown_room" },
    { "{\"event\":\"join_room\",\"data\":{\"room\":\"symbol_XYZ\"}}", "unknown_symbol" },
    { "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"XYZ\"}}", "unknown_symbol" },
    { "{\"event\":\"subscribe_symbol\",\"data\":{}}", "bad_request" },
    { "not json", "bad_request" },
    { "[1,2]", "bad_request" },
    { "{\"data\":{}}", "bad_request" },
    { "{\"event\":\"dance\",\"data\":{}}", "bad_request" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) err = NULL;

      th_test_ws_send (c, cases[i].text);
      err = next_event (c, "error");
      g_assert_cmpstr (error_code (err), ==, cases[i].code);
    }
  /* An unknown name is quoted cut to 64 bytes, never inside a character
   * (found by fuzz-socketio: the answer was not UTF-8). */
  {
    g_autoptr(GString) name = g_string_new (NULL);
    g_autofree char *msg = NULL;
    g_autofree char *text = NULL;
    g_autoptr(JsonNode) err = NULL;
    const char *message;

    for (guint i = 0; i < 21; i++)
      g_string_append (name, "\xe1\x9b\xa3");  /* U+16E3, three bytes: 63 */
    g_string_append (name, "\xc3\xa9tc");     /* é across byte 64 */
    msg = g_strdup_printf ("{\"event\":\"%s\",\"data\":{}}", name->str);
    th_test_ws_send (c, msg);
    text = next_text (c, "error");
    g_assert_true (g_utf8_validate (text, -1, NULL));
    err = next_event_from_text (text);
    message = json_object_get_string_member (json_node_get_object (err), "message");
    g_assert_nonnull (strstr (message, "\xe1\x9b\xa3…”"));
  }
  /* Still up. */
  join (c, "price_alerts");
  g_assert_false (c->closed);
}

static void
test_rate_limit (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  guint pongs = 0;
  gboolean limited = FALSE;

  for (guint i = 0; i < 40; i++)
    th_test_ws_send (c, "{\"event\":\"ping\",\"data\":{}}");
  while (!c->closed || !g_queue_is_empty (&c->messages))
    {
      g_autofree char *text = NULL;

      th_test_wait_until (th_test_ws_has_message (c), TH_TEST_WAIT_MS);
      if (g_queue_is_empty (&c->messages))
        continue;
      text = g_queue_pop_head (&c->messages);
      g_free (g_queue_pop_head (&c->times));
      if (strstr (text, "\"pong\"") != NULL)
        {
          g_assert_false (limited);
          pongs++;
        }
      else
        {
          g_assert_nonnull (strstr (text, "\"rate_limited\""));
          limited = TRUE;
        }
    }
  g_assert_true (limited);
  /* rate-limit=5: a burst of 10 */
  g_assert_cmpuint (pongs, >=, 10);
  g_assert_cmpuint (pongs, <, 15);
  g_assert_cmpuint (c->close_code, ==, 1008);
}

static void
test_max_connections (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(ThTestWs) a = client_new (fx);
  g_autoptr(ThTestWs) b = client_new (fx);
  g_autoptr(ThTestWs) c = client_try (fx, NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *body = NULL;
  guint status;

  g_assert_nonnull (c->error);
  g_assert_null (c->conn);
  g_assert_cmpuint (c->status, ==, 503);

  body = http_get (fx, "/ws", &status);
  g_assert_cmpuint (status, ==, 503);
  root = th_test_parse_json (body);
  g_assert_cmpstr (http_error_code (root), ==, "too_many_connections");

  /* One leaves: there is room again. */
  soup_websocket_connection_close (a->conn, 1000, NULL);
  while (!a->closed)
    g_main_context_iteration (NULL, TRUE);
  th_test_run_for (50);
  {
    g_autoptr(ThTestWs) d = client_new (fx);
  }
}

static void
test_origins (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(ThTestWs) bad = client_try (fx, "http://evil.example");
  g_autoptr(ThTestWs) good = client_try (fx, "http://good.example");
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/prices", fx->port);
  g_autoptr(SoupMessage) get_good = soup_message_new ("GET", url);
  g_autoptr(SoupMessage) get_bad = soup_message_new ("GET", url);
  g_autoptr(SoupMessage) options = soup_message_new ("OPTIONS", url);
  g_autofree char *b1 = NULL;
  g_autofree char *b2 = NULL;
  g_autofree char *b3 = NULL;

  g_assert_nonnull (bad->error);
  g_assert_cmpuint (bad->status, ==, 403);
  g_assert_no_error (good->error);
  g_free (next_text (good, "connected"));

  soup_message_headers_replace (soup_message_get_request_headers (get_good), "Origin", "http://good.example");
  b1 = http_send (fx, get_good);
  g_assert_cmpuint (soup_message_get_status (get_good), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (get_good),
                                                 "Access-Control-Allow-Origin"), ==, "http://good.example");

  soup_message_headers_replace (soup_message_get_request_headers (get_bad), "Origin", "http://evil.example");
  b2 = http_send (fx, get_bad);
  g_assert_null (soup_message_headers_get_one (soup_message_get_response_headers (get_bad),
                                               "Access-Control-Allow-Origin"));

  soup_message_headers_replace (soup_message_get_request_headers (options), "Origin", "http://good.example");
  soup_message_headers_replace (soup_message_get_request_headers (options), "Access-Control-Request-Method", "GET");
  b3 = http_send (fx, options);
  g_assert_cmpuint (soup_message_get_status (options), ==, 204);
  g_assert_nonnull (strstr (soup_message_headers_get_one (soup_message_get_response_headers (options),
                                                          "Access-Control-Allow-Methods"), "GET"));
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (options),
                                                 "Access-Control-Allow-Origin"), ==, "http://good.example");
}

static void
test_system_status (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  g_autoptr(JsonNode) status = NULL;
  JsonObject *obj;

  join (c, "system_status");
  status = next_event (c, "system_status_update");
  obj = json_node_get_object (status);
  g_assert_cmpint (json_object_get_int_member (obj, "active_connections"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (obj, "monitored_symbols"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (obj, "memory_usage"), >, 1024 * 1024);
  g_assert_true (json_object_has_member (obj, "cpu_usage"));
  g_assert_cmpfloat (json_object_get_double_member (obj, "uptime"), >, 0);
  g_assert_false (json_object_get_boolean_member (obj, "streaming_active"));
  g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "ok");
}

static void
test_stop_closes (Fixture       *fx,
                  gconstpointer  data)
{
  ThTestWs *c = client_new (fx);

  hub_stop (fx);
  th_test_wait_until (c->closed, TH_TEST_WAIT_MS);
  g_assert_cmpuint (c->close_code, ==, 1001);
  th_test_ws_free (c);
}

static void
test_conflate (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) pong = NULL;

  join (c, "financial_data");
  for (guint i = 0; i < 50; i++)
    th_test_push_quote (fx->hub, "BTC", 100 + i);
  th_test_push_quote (fx->hub, "ETH", 7);
  /* 200 ms windows: the latest of each symbol, once. */
  th_test_run_for (450);
  th_test_ws_send (c, "{\"event\":\"ping\"}");
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&text, g_free);
      text = next_text (c, "financial_data_update");
      if (strstr (text, "BTC") != NULL)
        g_assert_nonnull (strstr (text, "\"price\":149"));
    }
  pong = next_event (c, "pong");
}

/* A request that announces a chunked body of 16 MB, of which only the
 * first chunk is sent: the answer must come at once, without the body
 * being read, and the connection then closes (RFC 9112 §6.3: a body that
 * was not read cannot be skipped). */
#define CHUNK 65536

static gsize
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  unsigned long size = 0, resident = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%lu %lu", &size, &resident);
  return resident * (gsize) sysconf (_SC_PAGESIZE);
}

/* Sends @head and @body_part (not a complete request), then reads until
 * the server closes; returns what came. */
static char *
partial_request (Fixture    *fx,
                 const char *head,
                 const char *body_part,
                 gsize       body_len)
{
  struct sockaddr_in sa = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  GString *got = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;

  g_assert_cmpint (fd, >=, 0);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (fx->port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_no_errno (connect (fd, (struct sockaddr *) &sa, sizeof sa));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  g_assert_cmpint (write (fd, head, strlen (head)), ==, (gssize) strlen (head));
  if (body_len > 0)
    (void) send (fd, body_part, body_len, MSG_NOSIGNAL);
  for (;;)
    {
      char buf[4096];
      gssize n = read (fd, buf, sizeof buf);

      if (n > 0)
        g_string_append_len (got, buf, n);
      else if (n == 0 || errno != EAGAIN)
        break;       /* closed (or reset after the answer) */
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  close (fd);
  return g_string_free (got, FALSE);
}

static char *
chunked_request (Fixture    *fx,
                 const char *method_path)
{
  g_autofree char *head = g_strdup_printf ("%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: text/plain\r\n"
                                           "Transfer-Encoding: chunked\r\n\r\n", method_path, fx->port);
  g_autofree char *chunk = g_malloc (CHUNK + 16);
  gsize len = g_snprintf (chunk, 16, "%x\r\n", CHUNK);

  memset (chunk + len, 'x', CHUNK);
  return partial_request (fx, head, chunk, len + CHUNK);
}

/* The next financial_data_update's symbol and price; the candle and
 * indicator updates of a symbol room are skipped. */
static double
next_update (ThTestWs  *c,
             char     **symbol)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  JsonObject *obj;

  for (;;)
    {
      g_clear_pointer (&text, g_free);
      th_test_wait_until (th_test_ws_has_message (c), TH_TEST_WAIT_MS);
      text = g_queue_pop_head (&c->messages);
      g_free (g_queue_pop_head (&c->times));
      g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
      obj = json_node_get_object (json_parser_get_root (parser));
      if (g_str_equal (json_object_get_string_member (obj, "event"), "financial_data_update"))
        break;
      if (!g_str_equal (json_object_get_string_member (obj, "event"), "candle_update") &&
          !g_str_equal (json_object_get_string_member (obj, "event"), "technical_indicators_update") &&
          !g_str_equal (json_object_get_string_member (obj, "event"), "price_source_changed"))
        g_error ("expected financial_data_update, got %s", text);
    }
  obj = json_object_get_object_member (obj, "data");
  *symbol = g_strdup (json_object_get_string_member (obj, "symbol"));
  return json_object_get_double_member (json_object_get_object_member (obj, "data"), "price");
}

static void
expect_pong (ThTestWs *c)
{
  for (;;)
    {
      g_autofree char *text = NULL;

      th_test_wait_until (th_test_ws_has_message (c), TH_TEST_WAIT_MS);
      text = g_queue_pop_head (&c->messages);
      g_free (g_queue_pop_head (&c->times));
      if (g_str_has_prefix (text, "{\"event\":\"pong\""))
        return;
      if (!g_str_has_prefix (text, "{\"event\":\"candle_update\"") &&
          !g_str_has_prefix (text, "{\"event\":\"technical_indicators_update\""))
        g_error ("expected pong, got %s", text);
    }
}

/* The number of financial_data_update messages waiting in @c's queue. */
static guint
count_updates (ThTestWs *c)
{
  guint n = 0;

  for (GList *l = c->messages.head; l != NULL; l = l->next)
    if (g_str_has_prefix (l->data, "{\"event\":\"financial_data_update\""))
      n++;
  return n;
}

/* set_options {"conflate_ms"}: this client only gets the latest update of
 * each symbol per interval, other events at once; another client is
 * unaffected; bad options are errors that change nothing; 0 releases what
 * was held. */
static void
test_client_conflate (Fixture       *fx,
                      gconstpointer  data)
{
  static const char *bad[] = {
    "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":9000}}",
    "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":-1}}",
    "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":12.5}}",
    "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":\"300\"}}",
    "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":0,\"colour\":\"red\"}}",
    "{\"event\":\"set_options\",\"data\":{}}",
    "{\"event\":\"set_options\",\"data\":[300]}",
    "{\"event\":\"set_options\"}",
  };
  g_autoptr(ThTestWs) a = client_new (fx);
  g_autoptr(ThTestWs) b = client_new (fx);
  g_autoptr(JsonNode) set = NULL;
  g_autofree char *symbol = NULL;
  g_autofree char *text = NULL;
  double price;

  join (a, "financial_data");
  join (b, "financial_data");
  th_test_ws_send (a, "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":300}}");
  set = next_event (a, "options_set");
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (set), "conflate_ms"), ==, 300);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) err = NULL;

      th_test_ws_send (a, bad[i]);
      err = next_event (a, "error");
      g_assert_cmpstr (error_code (err), ==, "bad_request");
      g_assert_nonnull (strstr (json_object_get_string_member (json_node_get_object (err), "message"),
                                i == 4 ? "unknown option “colour”" : i >= 5 ? "set_options" : "conflate_ms"));
    }

  for (guint i = 0; i < 50; i++)
    th_test_push_quote (fx->hub, "BTC", 100 + i);
  th_test_push_quote (fx->hub, "ETH", 7);
  /* Other events are not held: a pong comes at once. */
  th_test_ws_send (a, "{\"event\":\"ping\"}");
  expect_pong (a);
  th_test_run_for (100);
  g_assert_cmpuint (count_updates (a), ==, 0);
  th_test_wait_until (count_updates (b) == 51, TH_TEST_WAIT_MS);
  /* The interval ends: the latest of each symbol, once. */
  th_test_run_for (350);
  g_assert_cmpuint (count_updates (a), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_clear_pointer (&symbol, g_free);
      price = next_update (a, &symbol);
      g_assert_cmpfloat (price, ==, g_str_equal (symbol, "BTC") ? 149 : 7);
    }
  /* The next update waits for its own interval. */
  th_test_push_quote (fx->hub, "BTC", 200);
  th_test_run_for (150);
  g_assert_cmpuint (count_updates (a), ==, 0);
  th_test_run_for (300);
  g_clear_pointer (&symbol, g_free);
  g_assert_cmpfloat (next_update (a, &symbol), ==, 200);

  /* 0: what is held goes out at once, before the answer; then every update. */
  th_test_push_quote (fx->hub, "BTC", 300);
  th_test_run_for (20);
  g_assert_cmpuint (count_updates (a), ==, 0);
  th_test_ws_send (a, "{\"event\":\"set_options\",\"data\":{\"conflate_ms\":0}}");
  g_clear_pointer (&symbol, g_free);
  g_assert_cmpfloat (next_update (a, &symbol), ==, 300);
  text = next_text (a, "options_set");
  g_assert_nonnull (strstr (text, "\"conflate_ms\":0"));
  th_test_push_quote (fx->hub, "BTC", 301);
  th_test_push_quote (fx->hub, "BTC", 302);
  th_test_wait_until (count_updates (a) == 2, TH_TEST_WAIT_MS);
}

/* A burst (updates pushed without the main loop running in between) is
 * queued at the write pass, client by client: each client still gets
 * exactly the updates of its rooms, once each, in the order they were
 * pushed, whether the first went out on its own or not. */
static void
test_burst_order (Fixture       *fx,
                  gconstpointer  data)
{
  static const char *symbols[] = { "BTC", "ETH", "SOL" };
  g_autoptr(ThTestWs) all = client_new (fx);      /* financial_data */
  g_autoptr(ThTestWs) btc = client_new (fx);      /* symbol_BTC */
  g_autoptr(ThTestWs) both = client_new (fx);     /* financial_data and symbol_ETH */
  g_autoptr(ThTestWs) none = client_new (fx);     /* no room */
  g_autoptr(JsonNode) ignored = NULL;
  const guint n = 300;

  join (all, "financial_data");
  join (both, "financial_data");
  th_test_ws_send (btc, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  g_clear_pointer (&ignored, json_node_unref);
  ignored = next_event (btc, "symbol_subscribed");
  g_clear_pointer (&ignored, json_node_unref);
  ignored = next_event (btc, "symbol_data");
  th_test_ws_send (both, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"ETH\"}}");
  g_clear_pointer (&ignored, json_node_unref);
  ignored = next_event (both, "symbol_subscribed");
  g_clear_pointer (&ignored, json_node_unref);
  ignored = next_event (both, "symbol_data");

  for (guint round = 0; round < 2; round++)
    {
      /* The second round comes right after the first's write pass. */
      for (guint i = 0; i < n; i++)
        th_test_push_quote (fx->hub, symbols[i % 3], 1000 * (round + 1) + i);

      for (guint i = 0; i < n; i++)
        {
          g_autofree char *s1 = NULL;
          g_autofree char *s2 = NULL;

          g_assert_cmpfloat (next_update (all, &s1), ==, 1000 * (round + 1) + i);
          g_assert_cmpstr (s1, ==, symbols[i % 3]);
          g_assert_cmpfloat (next_update (both, &s2), ==, 1000 * (round + 1) + i);
          g_assert_cmpstr (s2, ==, symbols[i % 3]);
          if (i % 3 == 0)
            {
              g_autofree char *s3 = NULL;

              g_assert_cmpfloat (next_update (btc, &s3), ==, 1000 * (round + 1) + i);
              g_assert_cmpstr (s3, ==, "BTC");
            }
        }
    }

  /* No other price update, to anyone: a ping's answer is next (after
   * the candle updates of the symbol rooms). */
  th_test_ws_send (all, "{\"event\":\"ping\",\"data\":1}");
  th_test_ws_send (btc, "{\"event\":\"ping\",\"data\":1}");
  th_test_ws_send (both, "{\"event\":\"ping\",\"data\":1}");
  th_test_ws_send (none, "{\"event\":\"ping\",\"data\":1}");
  expect_pong (all);
  expect_pong (btc);
  expect_pong (both);
  expect_pong (none);
}

/* More rooms in one write pass than the 64 whose membership is a bit in
 * each client (th_server_deliver_pending): a client in 70 symbol rooms,
 * another in financial_data, both get every update of a burst over the
 * 70 symbols, once each and in order, bit or not; one in no room, none. */
#define MANY_ROOMS 70

static void
test_burst_many_rooms (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(ThTestWs) sub = client_new (fx);
  g_autoptr(ThTestWs) all = client_new (fx);
  g_autoptr(ThTestWs) none = client_new (fx);
  g_autoptr(JsonNode) ignored = NULL;

  join (all, "financial_data");
  for (guint i = 0; i < MANY_ROOMS; i++)
    {
      g_autofree char *symbol = g_strdup_printf ("R%02u", i);
      g_autofree char *msg = g_strdup_printf ("{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"%s\"}}", symbol);

      /* A price first, so that the snapshot does not wait for one. */
      th_test_push_quote (fx->hub, symbol, 100 + i);
      th_test_ws_send (sub, msg);
      g_clear_pointer (&ignored, json_node_unref);
      ignored = next_event (sub, "symbol_subscribed");
      g_clear_pointer (&ignored, json_node_unref);
      ignored = next_event (sub, "symbol_data");
    }
  /* The updates of the prices above, before the burst. */
  for (guint i = 0; i < MANY_ROOMS; i++)
    {
      g_autofree char *s = NULL;

      g_assert_cmpfloat (next_update (all, &s), ==, 100 + i);
    }

  for (guint round = 0; round < 2; round++)
    for (guint i = 0; i < MANY_ROOMS; i++)
      {
        g_autofree char *symbol = g_strdup_printf ("R%02u", i);

        th_test_push_quote (fx->hub, symbol, 1000 * (round + 1) + i);
      }
  for (guint round = 0; round < 2; round++)
    for (guint i = 0; i < MANY_ROOMS; i++)
      {
        g_autofree char *symbol = g_strdup_printf ("R%02u", i);
        g_autofree char *s1 = NULL;
        g_autofree char *s2 = NULL;

        g_assert_cmpfloat (next_update (sub, &s1), ==, 1000 * (round + 1) + i);
        g_assert_cmpstr (s1, ==, symbol);
        g_assert_cmpfloat (next_update (all, &s2), ==, 1000 * (round + 1) + i);
        g_assert_cmpstr (s2, ==, symbol);
      }

  th_test_ws_send (sub, "{\"event\":\"ping\",\"data\":1}");
  th_test_ws_send (all, "{\"event\":\"ping\",\"data\":1}");
  th_test_ws_send (none, "{\"event\":\"ping\",\"data\":1}");
  expect_pong (sub);
  expect_pong (all);
  expect_pong (none);
}

static void
test_request_bodies (Fixture       *fx,
                     gconstpointer  data)
{
  gsize before = rss_bytes ();
  g_autofree char *rest = chunked_request (fx, "POST /api/v1/prices");
  g_autofree char *sio = chunked_request (fx, "POST /socket.io/?EIO=4&transport=polling&sid=nope");
  g_autofree char *metrics = chunked_request (fx, "PUT /metrics");
  g_autofree char *ws = chunked_request (fx, "GET /ws");

#ifndef __SANITIZE_ADDRESS__
  g_assert_cmpuint (rss_bytes (), <, before + 8 * 1024 * 1024);
#else
  (void) before;
#endif
  g_assert_true (g_str_has_prefix (rest, "HTTP/1.1 413 "));
  g_assert_nonnull (strstr (rest, "\r\nConnection: close\r\n"));
  g_assert_true (g_str_has_prefix (sio, "HTTP/1.1 411 "));
  g_assert_true (g_str_has_prefix (metrics, "HTTP/1.1 413 "));
  g_assert_true (g_str_has_prefix (ws, "HTTP/1.1 413 "));
}

/* Unless set, raw clients get a tiny receive buffer (a slow reader). */
static gboolean raw_client_default_buffers;

static int
raw_client (Fixture    *fx,
            const char *subscribe)
{
  struct sockaddr_in sa = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int small = 4096;
  g_autofree char *req = NULL;
  char buf[4096];
  gsize got = 0;
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;
  guint8 frame[256];
  gsize len = strlen (subscribe);
  guint8 mask[4] = { 1, 2, 3, 4 };

  g_assert_cmpint (fd, >=, 0);
  if (!raw_client_default_buffers)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (fx->port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_no_errno (connect (fd, (struct sockaddr *) &sa, sizeof sa));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);

  req = g_strdup_printf ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n", fx->port);
  g_assert_cmpint (write (fd, req, strlen (req)), ==, (gssize) strlen (req));
  /* The 101 and the connected event. */
  while (got < 4 || memmem (buf, got, "\r\n\r\n", 4) == NULL || memmem (buf, got, "connected", 9) == NULL)
    {
      gssize n = read (fd, buf + got, sizeof buf - got);

      if (n > 0)
        got += n;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_nonnull (g_strstr_len (buf, got, " 101 "));

  g_assert_cmpuint (len, <, 126);
  frame[0] = 0x81;
  frame[1] = 0x80 | (guint8) len;
  memcpy (frame + 2, mask, 4);
  for (gsize i = 0; i < len; i++)
    frame[6 + i] = subscribe[i] ^ mask[i & 3];
  g_assert_cmpint (write (fd, frame, 6 + len), ==, (gssize) (6 + len));
  return fd;
}

static guint
count_connections (Fixture *fx)
{
  guint status;
  g_autofree char *body = http_get (fx, "/websocket/status", &status);
  g_autoptr(JsonNode) root = th_test_parse_json (body);

  return (guint) json_object_get_int_member (json_node_get_object (root), "active_connections");
}

/* A client that stops reading price updates: they wait in the server's
 * queue (the kernel's unsent part is kept small), where the superseded
 * ones are dropped; the client stays connected, and when it reads again it
 * gets a little of what was sent before it stopped, then the latest price
 * of each symbol. */
static void
test_slow_reader_gets_the_latest_price (Fixture       *fx,
                                        gconstpointer  data)
{
  int slow;
  g_autoptr(GString) got = g_string_new (NULL);
  g_autofree char *metrics = NULL;
  const guint n = 20000;
  gint64 quiet_since;
  const char *last;
  guint status;
  char buf[65536];

  /* An ordinary client: default buffers, and it reads briskly at first,
   * so that the kernel grows the connection's buffers, as it does live. */
  raw_client_default_buffers = TRUE;
  slow = raw_client (fx, "{\"event\":\"join_room\",\"data\":{\"room\":\"financial_data\"}}");
  raw_client_default_buffers = FALSE;
  th_test_run_for (50);
  for (guint i = 1; i <= 5000; i++)
    {
      th_test_push_quote (fx->hub, "BTC", 30000 + i);
      if (i % 50 == 0)
        {
          th_test_run_for (1);
          while (read (slow, buf, sizeof buf) > 0)
            ;
        }
    }
  th_test_run_for (50);
  while (read (slow, buf, sizeof buf) > 0)
    ;

  /* Then it stops reading. One ETH update comes while it is backlogged
   * with BTC ones: dropping BTC updates must not lose it. */
  for (guint i = 1; i <= n; i++)
    {
      th_test_push_quote (fx->hub, "BTC", 40000 + i);
      if (i == n / 2)
        th_test_push_quote (fx->hub, "ETH", 3001);
      if (i % 100 == 0)
        th_test_run_for (1);
    }
  th_test_run_for (100);
  g_assert_cmpuint (count_connections (fx), ==, 1);

  /* Read again, until nothing comes for 300 ms. */
  quiet_since = g_get_monotonic_time ();
  while (g_get_monotonic_time () - quiet_since < 300 * 1000)
    {
      gssize r = read (slow, buf, sizeof buf);

      if (r > 0)
        {
          g_string_append_len (got, buf, r);
          quiet_since = g_get_monotonic_time ();
        }
      g_main_context_iteration (NULL, FALSE);
    }
  /* Frame headers hold NUL bytes: search the bytes, not a string. */
  for (gsize i = 0; i < got->len; i++)
    if (got->str[i] == '\0')
      got->str[i] = ' ';
  last = g_strrstr (got->str, "\"price\":");
  g_assert_nonnull (last);
  g_assert_true (g_str_has_prefix (last, "\"price\":60000,"));
  /* The latest price of every symbol, not only of the busiest. */
  g_assert_nonnull (strstr (got->str, "\"symbol\":\"ETH\",\"data\":{\"price\":3001,"));
  g_test_message ("%u updates of ~300 bytes pushed, %" G_GSIZE_FORMAT " bytes read", n, got->len);
  /* About 4 MB was pushed: the client got what its receive buffer, the
   * kernel's small unsent part and the client budget (64 KiB) hold (about
   * 220 KB here; the bound leaves room for larger kernel buffers). */
  g_assert_cmpuint (got->len, <, 1536 * 1024);
  metrics = http_get (fx, "/metrics", &status);
  g_assert_null (strstr (metrics, "tickhub_server_dropped_total 0\n"));
  close (slow);
}

static guint
count_logged (GPtrArray  *log,
              const char *needle)
{
  guint n = 0;

  for (guint i = 0; i < log->len; i++)
    n += strstr (g_ptr_array_index (log, i), needle) != NULL;
  return n;
}

/* Reads what @fd has until nothing comes for 100 ms. */
static void
drain (int fd)
{
  gint64 quiet_since = g_get_monotonic_time ();
  char buf[65536];

  while (g_get_monotonic_time () - quiet_since < 100 * 1000)
    {
      if (read (fd, buf, sizeof buf) > 0)
        quiet_since = g_get_monotonic_time ();
      g_main_context_iteration (NULL, FALSE);
    }
}

/* A client that keeps falling behind and catching up a little, as one
 * that always reads somewhat slower than updates come: one line when its
 * drops begin, and "caught up" only once it has gone 10 s without a drop
 * (it used to be two lines every few seconds for each such client). */
static void
test_slow_reader_logged_once (Fixture       *fx,
                              gconstpointer  data)
{
  GPtrArray *log = th_test_capture_log ("Tickhub-Server");
  int slow = raw_client (fx, "{\"event\":\"join_room\",\"data\":{\"room\":\"financial_data\"}}");
  guint price = 40000;

  th_test_run_for (50);
  for (guint round = 0; round < 4; round++)
    {
      /* About 600 KB: over the 64 KiB budget, superseded updates dropped */
      for (guint i = 0; i < 2000; i++)
        {
          th_test_push_quote (fx->hub, "BTC", price++);
          if (i % 100 == 0)
            th_test_run_for (1);
        }
      th_test_run_for (20);
      /* It reads all there is, and a few updates find a short queue. */
      drain (slow);
      for (guint i = 0; i < 5; i++)
        {
          th_test_push_quote (fx->hub, "BTC", price++);
          th_test_run_for (5);
        }
      drain (slow);
    }
  g_assert_cmpuint (count_logged (log, "reads slower than updates come"), ==, 1);
  g_assert_cmpuint (count_logged (log, "caught up"), ==, 0);
  g_assert_cmpuint (count_connections (fx), ==, 1);

  /* 10 s without a drop: the next update ends the episode. */
  th_test_run_for (10100);
  th_test_push_quote (fx->hub, "BTC", price++);
  th_test_run_for (20);
  g_assert_cmpuint (count_logged (log, "caught up"), ==, 1);
  g_assert_cmpuint (count_logged (log, "reads slower than updates come"), ==, 1);
  close (slow);
}

static void
test_slow_client (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(ThTestWs) fast = client_new (fx);
  int slow = raw_client (fx, "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  g_autofree char *pad = g_strnfill (1000, 'x');
  guint sent = 0;
  guint received = 0;
  gint64 worst = 0;
  GArray *sent_at = g_array_new (FALSE, FALSE, sizeof (gint64));

  join (fast, "symbol_BTC");
  th_test_run_for (50);   /* the raw client's subscription is in */
  g_assert_cmpuint (count_connections (fx), ==, 2);

  /* 1 KB candle updates (not conflatable) until the slow one is cut off:
   * client-buffer is 64 KiB, plus what the kernel buffers. */
  while (sent < 50000)
    {
      for (guint i = 0; i < 50; i++, sent++)
        {
          g_autofree char *json = g_strdup_printf ("{\"event\":\"candle_update\",\"data\":{\"symbol\":\"BTC\","
                                                   "\"timeframe\":\"1m\",\"seq\":%u,\"pad\":\"%s\"}}", sent, pad);
          g_autoptr(ThEvent) ev = th_event_new_from_json (json, -1, NULL);
          gint64 now = g_get_monotonic_time ();

          g_array_append_val (sent_at, now);
          th_hub_emit_event (fx->hub, ev);
        }
      th_test_run_for (2);
      /* The fast client keeps up. */
      while (!g_queue_is_empty (&fast->messages))
        {
          g_autofree char *text = g_queue_pop_head (&fast->messages);
          g_autofree gint64 *t = g_queue_pop_head (&fast->times);
          g_autofree char *expect = g_strdup_printf ("\"seq\":%u,", received);

          g_assert_nonnull (strstr (text, expect));
          worst = MAX (worst, *t - g_array_index (sent_at, gint64, received));
          received++;
        }
      if (sent % 1000 == 0 && count_connections (fx) == 1)
        break;
    }
  g_assert_cmpuint (count_connections (fx), ==, 1);
  g_test_message ("slow client cut off after %u events; the fast one got them all, worst latency %.1f ms",
                  sent, worst / 1000.0);

  while (received < sent)
    {
      g_autofree char *text = NULL;
      g_autofree gint64 *t = NULL;
      g_autofree char *expect = g_strdup_printf ("\"seq\":%u,", received);

      th_test_wait_until (th_test_ws_has_message (fast), TH_TEST_WAIT_MS);
      text = g_queue_pop_head (&fast->messages);
      t = g_queue_pop_head (&fast->times);
      g_assert_nonnull (strstr (text, expect));
      received++;
    }
  g_assert_false (fast->closed);
  /* Prompt: well under a second even while the slow one was being cut off. */
  g_assert_cmpint (worst, <, G_USEC_PER_SEC / 2);
  g_array_unref (sent_at);
  close (slow);
}

static void
test_max_message (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  g_autofree char *big = g_strnfill (2000, 'a');
  g_autofree char *text = g_strdup_printf ("{\"event\":\"ping\",\"data\":{\"x\":\"%s\"}}", big);

  th_test_ws_send (c, text);
  th_test_wait_until (c->closed, TH_TEST_WAIT_MS);
  g_assert_cmpuint (c->close_code, ==, 1009);
}

/* A client's close is answered with its own code when it may send it,
 * 1002 otherwise (RFC 6455 §7.4); libsoup's client sends what it is told. */
static void
test_close_codes (Fixture       *fx,
                  gconstpointer  data)
{
  static const struct { gushort sent; gushort answer; } cases[] = {
    { 1000, 1000 },
    { 4000, 4000 },
    { 999, 1002 },
    { 2000, 1002 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(ThTestWs) c = client_new (fx);

      soup_websocket_connection_close (c->conn, cases[i].sent, NULL);
      th_test_wait_until (c->closed, TH_TEST_WAIT_MS);
      g_assert_cmpuint (c->close_code, ==, cases[i].answer);
    }
}

static guint64 metric_value (Fixture    *fx,
                             const char *name);

/* With max-message=1048576 one text frame of 500,000 levels used to
 * overflow the stack in json-glib's parser: now it is a bad message,
 * answered, counted and logged once, and the client stays. */
static void
test_deep_json (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  g_autoptr(GString) deep = g_string_sized_new (1000000);
  g_autoptr(GString) deep_data = g_string_new ("{\"event\":\"join_room\",\"data\":{\"room\":\"financial_data\",\"x\":");
  static const char *const nul_room = "{\"event\":\"join_room\",\"data\":{\"room\":\"financial_data\\u0000zzz\"}}";
  guint64 before = metric_value (fx, "tickhub_server_ws_bad_messages_total");

  for (guint i = 0; i < 500000; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 500000; i++)
    g_string_append_c (deep, ']');
  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_data, '[');
  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_data, ']');
  g_string_append (deep_data, "}}");

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JsonNode) err = NULL;

      th_test_ws_send (c, i == 0 ? deep->str : i == 1 ? deep_data->str : nul_room);
      err = next_event (c, "error");
      g_assert_cmpstr (error_code (err), ==, "bad_request");
    }
  g_assert_cmpuint (metric_value (fx, "tickhub_server_ws_bad_messages_total"), ==, before + 3);
  /* Still up, and the refused messages joined no room. */
  {
    guint status;
    g_autofree char *body = http_get (fx, "/websocket/rooms", &status);
    g_autoptr(JsonNode) root = th_test_parse_json (body);
    JsonObject *rooms = json_object_get_object_member (json_node_get_object (root), "rooms");

    g_assert_cmpuint (status, ==, 200);
    g_assert_false (json_object_has_member (rooms, "financial_data") &&
                    json_object_get_int_member (json_object_get_object_member (rooms, "financial_data"), "members") > 0);
  }
  join (c, "financial_data");
  g_assert_false (c->closed);
}

/* Tests: REST */

static void
test_rest_price (Fixture       *fx,
                 gconstpointer  data)
{
  guint status;
  g_autofree char *body = http_get (fx, "/api/v1/price/BTC", &status);
  g_autoptr(JsonNode) root = th_test_parse_json (body);
  gint64 t0;
  JsonObject *obj;

  /* No price: 503 after the wait (price-wait=0.3). */
  g_assert_cmpuint (status, ==, 503);
  g_assert_cmpstr (http_error_code (root), ==, "no_source");

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/api/v1/price/DOGE", &status);
  root = th_test_parse_json (body);
  g_assert_cmpuint (status, ==, 404);
  g_assert_cmpstr (http_error_code (root), ==, "unknown_symbol");

  th_test_push_quote (fx->hub, "BTC", 61000.5);
  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/api/v1/price/btc", &status);
  root = th_test_parse_json (body);
  g_assert_cmpuint (status, ==, 200);
  obj = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (obj, "symbol"), ==, "BTC");
  g_assert_cmpfloat (json_object_get_double_member (obj, "price"), ==, 61000.5);
  g_assert_cmpfloat (json_object_get_double_member (obj, "bid"), ==, 60999.5);
  g_assert_true (json_object_get_null_member (obj, "volume"));
  g_assert_cmpstr (json_object_get_string_member (obj, "source"), ==, "binance");
  g_assert_true (json_object_has_member (obj, "timestamp"));
  g_assert_cmpint (json_object_get_int_member (obj, "age_ms"), >=, 0);

  /* A price that arrives while the request waits answers it. */
  {
    g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/price/ETH", fx->port);
    g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
    g_autoptr(ThTestHttp) h = NULL;

    t0 = g_get_monotonic_time ();
    h = th_test_http_start (fx->session, msg);
    th_test_run_for (60);
    th_test_push_quote (fx->hub, "ETH", 3000);
    th_test_wait_until (h->done, TH_TEST_WAIT_MS);
    g_assert_no_error (h->error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 250000);
  }

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/api/v1/prices", &status);
  root = th_test_parse_json (body);
  g_assert_cmpuint (status, ==, 200);
  obj = json_node_get_object (root);
  g_assert_cmpfloat (json_object_get_double_member (json_object_get_object_member (
                       json_object_get_object_member (obj, "prices"), "BTC"), "price"), ==, 61000.5);
  g_assert_true (json_object_has_member (json_object_get_object_member (obj, "unavailable"), "SOL"));

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/api/v1/sources", &status);
  root = th_test_parse_json (body);
  g_assert_cmpuint (status, ==, 200);
  obj = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (
                     json_object_get_array_member (obj, "sources"), 0), "name"), ==, "binance");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj, "selected"), "BTC"), ==, "binance");
}

static void
test_rest_candles (Fixture       *fx,
                   gconstpointer  data)
{
  static const struct { const char *path; guint status; } cases[] = {
    { "/api/v1/candles/BTC?timeframe=7x", 400 },
    { "/api/v1/candles/BTC?timeframe=1h", 400 },     /* not configured */
    { "/api/v1/candles/BTC?limit=0", 400 },
    { "/api/v1/candles/BTC?limit=abc", 400 },
    { "/api/v1/candles/BTC?limit=100000", 400 },
    { "/api/v1/candles/NOPE", 404 },
    { "/api/v1/indicators/BTC?timeframe=2m", 400 },
    { "/api/v1/nothing", 404 },
    { "/nowhere", 404 },    /* / is the dashboard: /server/dashboard/ */
  };
  guint status;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonArray *candles;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *b = http_get (fx, cases[i].path, &status);
      g_autoptr(JsonNode) r = th_test_parse_json (b);

      g_assert_cmpuint (status, ==, cases[i].status);
      g_assert_nonnull (http_error_code (r));
    }

  th_test_push_quote (fx->hub, "BTC", 100);
  th_test_push_quote (fx->hub, "BTC", 101);
  body = http_get (fx, "/api/v1/candles/BTC?timeframe=1m&limit=5", &status);
  g_assert_cmpuint (status, ==, 200);
  root = th_test_parse_json (body);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "timeframe"), ==, "1m");
  candles = json_object_get_array_member (json_node_get_object (root), "candles");
  g_assert_cmpuint (json_array_get_length (candles), ==, 1);
  g_assert_cmpfloat (json_object_get_double_member (json_array_get_object_element (candles, 0), "close"), ==, 101);

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/api/v1/indicators/BTC?timeframe=5m", &status);
  g_assert_cmpuint (status, ==, 200);
  root = th_test_parse_json (body);
  g_assert_true (json_object_get_null_member (json_node_get_object (root), "indicators"));

  /* Wrong method */
  {
    g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/prices", fx->port);
    g_autoptr(SoupMessage) msg = soup_message_new ("POST", url);
    g_autofree char *b = http_send (fx, msg);
    g_autoptr(JsonNode) r = th_test_parse_json (b);

    g_assert_cmpuint (soup_message_get_status (msg), ==, 405);
    g_assert_cmpstr (http_error_code (r), ==, "method_not_allowed");
    g_assert_nonnull (soup_message_headers_get_one (soup_message_get_response_headers (msg), "Allow"));
  }
}

static void
on_metrics_venue (FakeWs                  *ws,
                  SoupWebsocketConnection *conn,
                  const char              *query,
                  gpointer                 data)
{
  soup_websocket_connection_send_text (conn,
    "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\","
    "\"P\":\"0.28\",\"c\":\"43000.50\",\"b\":\"43000.10\",\"a\":\"43000.90\",\"v\":\"12345.678\"}}");
  soup_websocket_connection_send_text (conn, "{not json");
}

/* The per-feed series, from a Binance feed on a local venue: one ticker
 * and one message that is not JSON. */
static void
test_metrics_feeds (void)
{
  FakeWs *venue = fake_ws_new ("/stream");
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;
  g_autofree char *body = NULL;
  Fixture f = { 0 };
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;
  guint status;

  /* The feed's warning about the bad message is expected, not a bug. */
  GLogLevelFlags fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  fake_ws_set_handlers (venue, on_metrics_venue, NULL, NULL);
  url = fake_ws_url (venue);
  text = g_strdup_printf ("[tickhub]\nplugins=binance;server\nsymbols=BTC\n[prices]\norder=binance\n"
                          "[binance]\nurl=%s\nstreams=ticker\n"
                          "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n", url);
  fixture_hub_up (&f, text);

  /* Until both messages are in. */
  while (body == NULL || strstr (body, "tickhub_feed_parse_errors_total{feed=\"binance\"} 1\n") == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_free (body);
      body = http_get (&f, "/metrics", &status);
      g_assert_cmpuint (status, ==, 200);
      th_test_run_for (20);
    }
  g_assert_nonnull (strstr (body, "tickhub_feed_messages_total{feed=\"binance\"} 2\n"));
  g_assert_nonnull (strstr (body, "tickhub_feed_ticks_total{feed=\"binance\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_feed_reconnects_total{feed=\"binance\"} 0\n"));
  g_assert_nonnull (strstr (body, "tickhub_feed_bytes_total{feed=\"binance\"} "));
  g_assert_nonnull (strstr (body, "tickhub_ticks_total{source=\"binance\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_source_state{source=\"binance\",state=\"live\"} 1\n"));

  fixture_teardown (&f, NULL);
  fake_ws_free (venue);
  g_log_set_always_fatal (fatal);
}

static void
test_rest_monitoring (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(ThTestWs) c = client_new (fx);
  guint status;
  g_autofree char *body = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;

  join (c, "financial_data");
  th_test_push_quote (fx->hub, "BTC", 100);
  g_free (next_text (c, "financial_data_update"));

  body = http_get (fx, "/metrics", &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (body, "tickhub_server_clients{transport=\"websocket\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_events_total{event=\"financial_data_update\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_source_state{source=\"binance\",state=\"live\"}"));
  g_assert_nonnull (strstr (body, "tickhub_server_sent_messages_total 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_server_send_latency_seconds_bucket{le=\"+Inf\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_server_send_latency_seconds_count 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_server_room_members{room=\"financial_data\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_server_dropped_total 0\n"));
  g_assert_nonnull (strstr (body, "tickhub_ticks_total{source=\"binance\"} 1\n"));
  g_assert_nonnull (strstr (body, "tickhub_server_rooms "));
  g_assert_nonnull (strstr (body, "tickhub_server_sent_bytes_total "));
  g_assert_nonnull (strstr (body, "process_resident_memory_bytes "));

  g_clear_pointer (&body, g_free);
  body = http_get (fx, "/healthz", &status);
  g_assert_cmpuint (status, ==, 200);
  root = th_test_parse_json (body);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "status"), ==, "ok");

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/websocket/connections", &status);
  root = th_test_parse_json (body);
  obj = json_array_get_object_element (json_object_get_array_member (json_node_get_object (root), "connections"), 0);
  g_assert_cmpstr (json_object_get_string_member (obj, "transport"), ==, "websocket");
  g_assert_cmpint (json_object_get_int_member (obj, "messages_sent"), ==, 1);

  g_clear_pointer (&body, g_free);
  g_clear_pointer (&root, json_node_unref);
  body = http_get (fx, "/websocket/rooms", &status);
  root = th_test_parse_json (body);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (json_object_get_object_member (
                     json_node_get_object (root), "rooms"), "financial_data"), "members"), ==, 1);
}

/* The dashboard, /docs and the OpenAPI document */

/* A GET of @path with optional request headers (name, value, ..., NULL);
 * returns the message, answered. */
static SoupMessage *
http_get_with (Fixture    *fx,
               const char *path,
               char      **body,
               ...)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  SoupMessage *msg = soup_message_new ("GET", url);
  const char *name;
  va_list ap;

  va_start (ap, body);
  while ((name = va_arg (ap, const char *)) != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), name, va_arg (ap, const char *));
  va_end (ap);
  *body = http_send (fx, msg);
  return msg;
}

/* A request sent as it is written (no client-side path clean-up). */
static char *
raw_get (Fixture    *fx,
         const char *path)
{
  g_autofree char *head = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
                                           path, fx->port);

  return partial_request (fx, head, NULL, 0);
}

static void
test_dashboard (Fixture       *fx,
                gconstpointer  data)
{
  const char *traversals[] = {
    "/dashboard/../tickhub.conf", "/dashboard/%2e%2e/tickhub.conf", "/dashboard/..%2ftickhub.conf",
    "/dashboard/%2E%2E%2Ftickhub.conf", "/dashboard//etc/passwd", "/dashboard/.hidden",
    "/dashboard/node_modules/lightweight-charts/package.json", "/dashboard/vendor/../../tickhub.conf",
    "/dashboard/a\\..\\..\\tickhub.conf", "/dashboard/", "/dashboard/nonexistent.js",
  };
  g_autoptr(SoupMessage) page = NULL, asset = NULL, again = NULL, since = NULL, changed = NULL, docs = NULL,
                         spec = NULL, post = NULL;
  g_autofree char *body = NULL, *body2 = NULL, *body3 = NULL, *body4 = NULL, *body5 = NULL, *body6 = NULL,
                  *body7 = NULL, *body8 = NULL;
  g_autoptr(JsonNode) root = NULL;
  SoupMessageHeaders *h;
  const char *etag;
  const char *modified;

  /* GET /: the page, public, with a policy that keeps it to itself. */
  page = http_get_with (fx, "/", &body, NULL);
  g_assert_cmpuint (soup_message_get_status (page), ==, 200);
  h = soup_message_get_response_headers (page);
  g_assert_cmpstr (soup_message_headers_get_content_type (h, NULL), ==, "text/html");
  g_assert_nonnull (strstr (body, "<!doctype html>"));
  g_assert_nonnull (strstr (body, "/dashboard/app.js"));
  g_assert_nonnull (strstr (soup_message_headers_get_one (h, "Content-Security-Policy"), "default-src 'self'"));
  g_assert_cmpstr (soup_message_headers_get_one (h, "X-Content-Type-Options"), ==, "nosniff");

  /* An asset: validators, and a 304 for each of them. */
  asset = http_get_with (fx, "/dashboard/app.js", &body2, NULL);
  g_assert_cmpuint (soup_message_get_status (asset), ==, 200);
  h = soup_message_get_response_headers (asset);
  g_assert_cmpstr (soup_message_headers_get_content_type (h, NULL), ==, "text/javascript");
  g_assert_cmpstr (soup_message_headers_get_one (h, "Cache-Control"), ==, "no-cache");
  etag = soup_message_headers_get_one (h, "ETag");
  modified = soup_message_headers_get_one (h, "Last-Modified");
  g_assert_nonnull (etag);
  g_assert_true (g_str_has_prefix (etag, "W/\""));
  g_assert_nonnull (modified);
  g_assert_cmpuint (strlen (body2), >, 100);
  again = http_get_with (fx, "/dashboard/app.js", &body3, "If-None-Match", etag, NULL);
  g_assert_cmpuint (soup_message_get_status (again), ==, 304);
  g_assert_cmpstr (body3, ==, "");
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (again), "ETag"), ==, etag);
  since = http_get_with (fx, "/dashboard/app.js", &body4, "If-Modified-Since", modified, NULL);
  g_assert_cmpuint (soup_message_get_status (since), ==, 304);
  changed = http_get_with (fx, "/dashboard/app.js", &body5, "If-None-Match", "W/\"0-0\"", NULL);
  g_assert_cmpuint (soup_message_get_status (changed), ==, 200);
  g_assert_cmpstr (body5, ==, body2);

  /* /docs and the OpenAPI document. */
  docs = http_get_with (fx, "/docs", &body6, NULL);
  g_assert_cmpuint (soup_message_get_status (docs), ==, 200);
  g_assert_nonnull (strstr (body6, "/api/v1/openapi.json"));
  spec = http_get_with (fx, "/api/v1/openapi.json", &body7, NULL);
  g_assert_cmpuint (soup_message_get_status (spec), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (spec), NULL), ==,
                   "application/json");
  root = th_test_parse_json (body7);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (root), "openapi"), ==, "3.1.0");

  /* Files take GET and HEAD only. */
  {
    g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/", fx->port);

    post = soup_message_new ("DELETE", url);
    body8 = http_send (fx, post);
    g_assert_cmpuint (soup_message_get_status (post), ==, 405);
  }

  /* Nothing outside the folder, nothing hidden, no node_modules: 404,
   * whatever the spelling (or 400 from libsoup for what is not a path). */
  for (guint i = 0; i < G_N_ELEMENTS (traversals); i++)
    {
      g_autofree char *answer = raw_get (fx, traversals[i]);

      if (g_test_verbose ())
        g_test_message ("%s → %.*s", traversals[i], (int) strcspn (answer, "\r"), answer);
      g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 404 ") || g_str_has_prefix (answer, "HTTP/1.1 400 "));
      g_assert_null (strstr (answer, "[tickhub]"));
      g_assert_null (strstr (answer, "root:"));
      g_assert_null (strstr (answer, "\"version\""));
    }
}

/* dashboard=false: no page, no assets, no /docs; the API's description
 * stays. */
static void
test_dashboard_off (Fixture       *fx,
                    gconstpointer  data)
{
  const char *paths[] = { "/", "/dashboard/app.js", "/docs" };
  guint status;

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      g_autofree char *body = http_get (fx, paths[i], &status);
      g_autoptr(JsonNode) root = th_test_parse_json (body);

      g_assert_cmpuint (status, ==, 404);
      g_assert_cmpstr (http_error_code (root), ==, "not_found");
    }
  g_free (http_get (fx, "/api/v1/openapi.json", &status));
  g_assert_cmpuint (status, ==, 200);
}

/* Authentication */

/* A WebSocket connection to /ws@query with an optional Authorization. */
static ThTestWs *
client_try_auth (Fixture    *fx,
                 const char *query,
                 const char *authorization)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws%s", fx->port, query);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);

  if (authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", authorization);
  return th_test_ws_connect (fx->session, msg, NULL);
}

/* GET @path with an optional Authorization header; the status. A 401 is
 * checked to say nothing but "unauthorized". */
static guint
http_get_auth (Fixture     *fx,
               const char  *path,
               const char  *authorization)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *body = NULL;
  guint status;

  if (authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", authorization);
  body = http_send (fx, msg);
  status = soup_message_get_status (msg);
  if (status == 401)
    {
      g_autoptr(JsonNode) root = th_test_parse_json (body);

      /* Nothing but "unauthorized": the client never learns why. */
      g_assert_cmpstr (http_error_code (root), ==, "unauthorized");
      g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (
                         json_node_get_object (root), "error"), "message"), ==, "authentication required");
      g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (msg), "WWW-Authenticate"),
                       ==, "Bearer realm=\"tickhub\"");
    }
  return status;
}

static guint64
metric_value (Fixture    *fx,
              const char *name)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/metrics", fx->port);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autofree char *body = NULL;
  g_autofree char *prefix = g_strdup_printf ("\n%s ", name);
  const char *at;

  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                "Bearer alpha-token-0123456789");
  body = http_send (fx, msg);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  at = strstr (body, prefix);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (prefix), NULL, 10);
}

/* A token file only its owner reads (the server warns otherwise). */
static char *
write_tokens (const char *dir,
              const char *text)
{
  char *path = th_test_write_file (dir, "tokens", text);

  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  return path;
}

static void
test_auth_tokens (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-tokens-XXXXXX");
  g_autofree char *path = write_tokens (dir, "# tokens of the test\n\nalpha-token-0123456789\n"
                                              "  beta-token-9876543210  \n");
  g_autofree char *group = g_strdup_printf ("tokens=%s", path);
  Fixture fixture = { 0 }, *fx = &fixture;
  ThTestWs *none, *wrong, *by_query, *by_header;

  fixture_setup (fx, group);
  none = client_try_auth (fx, "", NULL);
  wrong = client_try_auth (fx, "?token=nope", NULL);
  by_query = client_try_auth (fx, "?token=alpha-token-0123456789", NULL);
  by_header = client_try_auth (fx, "", "Bearer beta-token-9876543210");
  {
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/prices", fx->port);
  g_autoptr(SoupMessage) options = soup_message_new ("OPTIONS", url);
  g_autofree char *body = NULL;


  /* WebSocket: refused before the upgrade without a valid token. */
  g_assert_nonnull (none->error);
  g_assert_cmpuint (none->status, ==, 401);
  g_assert_nonnull (wrong->error);
  g_assert_cmpuint (wrong->status, ==, 401);
  g_assert_no_error (by_query->error);
  g_free (next_text (by_query, "connected"));
  g_assert_no_error (by_header->error);
  g_free (next_text (by_header, "connected"));

  /* REST: the header only (tokens in URLs end up in logs). */
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/prices", NULL), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/prices?token=alpha-token-0123456789", NULL), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/prices", "Bearer alpha-token-012345678"), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/prices", "Basic YWxwaGE6eA=="), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/websocket/status", NULL), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/prices", "Bearer alpha-token-0123456789"), ==, 200);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/sources", "bearer   beta-token-9876543210"), ==, 200);
  /* Unknown paths are not told apart from known ones without a token. */
  g_assert_cmpuint (http_get_auth (fx, "/nowhere", NULL), ==, 401);
  g_assert_cmpuint (http_get_auth (fx, "/nowhere", "Bearer alpha-token-0123456789"), ==, 404);
  g_assert_cmpuint (http_get_auth (fx, "/healthz", NULL), ==, 200);
  /* The dashboard's files hold no data: they need no token. */
  g_assert_cmpuint (http_get_auth (fx, "/", NULL), ==, 200);
  g_assert_cmpuint (http_get_auth (fx, "/dashboard/app.js", NULL), ==, 200);
  g_assert_cmpuint (http_get_auth (fx, "/api/v1/openapi.json", NULL), ==, 200);
  /* /healthz is open, and so are CORS preflights. */
  g_assert_cmpuint (http_get_auth (fx, "/healthz", NULL), ==, 200);
  soup_message_headers_replace (soup_message_get_request_headers (options), "Origin", "http://page.example");
  soup_message_headers_replace (soup_message_get_request_headers (options), "Access-Control-Request-Method", "GET");
  body = http_send (fx, options);
  g_assert_cmpuint (soup_message_get_status (options), ==, 204);

  /* Counted: 2 WebSocket refusals + 6 HTTP ones (the unknown path too). */
  g_assert_cmpuint (metric_value (fx, "tickhub_server_auth_failures_total"), ==, 8);
  }
  th_test_ws_free (none);
  th_test_ws_free (wrong);
  th_test_ws_free (by_query);
  th_test_ws_free (by_header);
  fixture_teardown (fx, NULL);
  th_test_remove_tmp_dir (dir);
}

/* A token file edited while the server runs: the new token works, the
 * removed one stops working. */
static void
test_auth_tokens_reload (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-tokens-XXXXXX");
  g_autofree char *path = write_tokens (dir, "alpha-token-0123456789\nold-token\n");
  g_autofree char *group = NULL;
  Fixture fx = { 0 };
  gint64 deadline;

  group = g_strdup_printf ("tokens=%s", path);
  fixture_setup (&fx, group);

  g_assert_cmpuint (http_get_auth (&fx, "/api/v1/prices", "Bearer old-token"), ==, 200);
  g_assert_cmpuint (http_get_auth (&fx, "/api/v1/prices", "Bearer new-token"), ==, 401);

  /* Written as editors do: a new file renamed over the old one. */
  g_file_set_contents (path, "alpha-token-0123456789\nnew-token\n", -1, &error);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + WAIT_USEC;
  while (http_get_auth (&fx, "/api/v1/prices", "Bearer new-token") != 200)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      th_test_run_for (20);
    }
  g_assert_cmpuint (http_get_auth (&fx, "/api/v1/prices", "Bearer old-token"), ==, 401);

  /* A file that becomes unreadable keeps the tokens read before (with a
   * warning, which must not abort this test). */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_cmpint (g_unlink (path), ==, 0);
  th_test_run_for (300);
  g_assert_cmpuint (http_get_auth (&fx, "/api/v1/prices", "Bearer new-token"), ==, 200);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);

  fixture_teardown (&fx, NULL);
  th_test_remove_tmp_dir (dir);
}

#define JWT_SECRET "0123456789abcdef0123456789abcdef-tickhub"

static char *
b64url (const char *data,
        gsize       len)
{
  char *text = g_base64_encode ((const guchar *) data, len);
  char *p;

  for (p = text; *p != '\0'; p++)
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  if ((p = strchr (text, '=')) != NULL)
    *p = '\0';
  return text;
}

/* A JWT of @header and @claims signed with @secret (HS256). */
static char *
make_jwt (const char *header,
          const char *claims,
          const char *secret)
{
  g_autofree char *h = b64url (header, strlen (header));
  g_autofree char *c = b64url (claims, strlen (claims));
  g_autofree char *signed_part = g_strdup_printf ("%s.%s", h, c);
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) secret, strlen (secret));
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autofree char *sig = NULL;

  g_hmac_update (hmac, (const guchar *) signed_part, -1);
  g_hmac_get_digest (hmac, digest, &len);
  sig = b64url ((const char *) digest, len);
  return g_strdup_printf ("%s.%s", signed_part, sig);
}

static guint
jwt_status (Fixture    *fx,
            const char *token)
{
  g_autofree char *auth = g_strdup_printf ("Bearer %s", token);

  return http_get_auth (fx, "/api/v1/prices", auth);
}

/* A token's header is read before its signature is checked, so anyone can
 * send one: nested past the limit it is malformed (signed correctly, so
 * only the depth refuses it), and the claims are held to the same limit. */
static void
test_auth_jwt_deep (Fixture       *fx,
                    gconstpointer  data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GString) deep_header = g_string_new ("{\"alg\":\"HS256\",\"x\":");
  g_autoptr(GString) deep_claims = g_string_new (NULL);
  g_autofree char *claims = g_strdup_printf ("{\"sub\":\"dash\",\"exp\":%" G_GINT64_FORMAT "}", now + 60);
  g_autofree char *good = make_jwt ("{\"alg\":\"HS256\",\"x\":[[1]]}", claims, JWT_SECRET);
  g_autofree char *bad_header = NULL;
  g_autofree char *bad_claims = NULL;

  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_header, '[');
  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_header, ']');
  g_string_append_c (deep_header, '}');
  g_string_append_printf (deep_claims, "{\"sub\":\"dash\",\"exp\":%" G_GINT64_FORMAT ",\"x\":", now + 60);
  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_claims, '{');
  for (guint i = 0; i < 65; i++)
    g_string_append_c (deep_claims, '}');
  g_string_append_c (deep_claims, '}');
  bad_header = make_jwt (deep_header->str, claims, JWT_SECRET);
  bad_claims = make_jwt ("{\"alg\":\"HS256\"}", deep_claims->str, JWT_SECRET);

  g_assert_cmpuint (jwt_status (fx, good), ==, 200);
  g_assert_cmpuint (jwt_status (fx, bad_header), ==, 401);
  g_assert_cmpuint (jwt_status (fx, bad_claims), ==, 401);
  g_assert_cmpuint (jwt_status (fx, good), ==, 200);
}

static void
test_auth_jwt (Fixture       *fx,
               gconstpointer  data)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  const char *hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  g_autofree char *later = g_strdup_printf ("{\"sub\":\"dash\",\"exp\":%" G_GINT64_FORMAT "}", now + 60);
  g_autofree char *earlier = g_strdup_printf ("{\"sub\":\"dash\",\"exp\":%" G_GINT64_FORMAT "}", now - 1);
  g_autofree char *not_yet = g_strdup_printf ("{\"exp\":%" G_GINT64_FORMAT ",\"nbf\":%" G_GINT64_FORMAT "}",
                                              now + 600, now + 300);
  g_autofree char *good = make_jwt (hs256, later, JWT_SECRET);
  g_autofree char *expired = make_jwt (hs256, earlier, JWT_SECRET);
  g_autofree char *early = make_jwt (hs256, not_yet, JWT_SECRET);
  g_autofree char *no_exp = make_jwt (hs256, "{\"sub\":\"dash\"}", JWT_SECRET);
  g_autofree char *string_exp = make_jwt (hs256, "{\"exp\":\"tomorrow\"}", JWT_SECRET);
  g_autofree char *forged = make_jwt (hs256, later, "another secret of enough length, but wrong");
  g_autofree char *hs512 = make_jwt ("{\"alg\":\"HS512\"}", later, JWT_SECRET);
  g_autofree char *none_alg = NULL;
  g_autofree char *tampered = NULL;
  g_autofree char *query = g_strdup_printf ("?token=%s", good);
  g_autoptr(ThTestWs) ws = client_try_auth (fx, query, NULL);
  g_autoptr(ThTestWs) ws_expired = NULL;
  char *dot;

  /* alg "none" with an empty signature: the classic forgery. */
  {
    g_autofree char *h = b64url ("{\"alg\":\"none\"}", strlen ("{\"alg\":\"none\"}"));
    g_autofree char *c = b64url (later, strlen (later));

    none_alg = g_strdup_printf ("%s.%s.", h, c);
  }
  /* The claims of one token with the signature of another. */
  tampered = g_strdup (good);
  dot = strrchr (tampered, '.');
  {
    const char *claims = "{\"sub\":\"admin\",\"exp\":99999999999}";
    g_autofree char *c = b64url (claims, strlen (claims));
    g_autofree char *h = b64url (hs256, strlen (hs256));
    g_autofree char *t = g_strdup_printf ("%s.%s%s", h, c, dot);

    g_free (tampered);
    tampered = g_steal_pointer (&t);
  }

  g_assert_cmpuint (jwt_status (fx, good), ==, 200);
  g_assert_cmpuint (jwt_status (fx, expired), ==, 401);
  g_assert_cmpuint (jwt_status (fx, early), ==, 401);
  g_assert_cmpuint (jwt_status (fx, no_exp), ==, 401);
  g_assert_cmpuint (jwt_status (fx, string_exp), ==, 401);
  g_assert_cmpuint (jwt_status (fx, forged), ==, 401);
  g_assert_cmpuint (jwt_status (fx, hs512), ==, 401);
  g_assert_cmpuint (jwt_status (fx, none_alg), ==, 401);
  g_assert_cmpuint (jwt_status (fx, tampered), ==, 401);
  g_assert_cmpuint (jwt_status (fx, "a.b.c"), ==, 401);
  g_assert_cmpuint (jwt_status (fx, "..."), ==, 401);
  g_assert_cmpuint (jwt_status (fx, "not-a-jwt"), ==, 401);

  g_assert_no_error (ws->error);
  g_free (next_text (ws, "connected"));
  g_free (query);
  query = g_strdup_printf ("?token=%s", expired);
  ws_expired = client_try_auth (fx, query, NULL);
  g_assert_cmpuint (ws_expired->status, ==, 401);
}

static void
test_auth_config (void)
{
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                                           "[server]\ntokens=%s/no-such-tokens\njwt-secret=short\n"
                                           "tls-certificate=%s/data/tls/cert.pem\n",
                                           g_test_get_dir (G_TEST_BUILT), g_test_get_dir (G_TEST_DIST));

  hub = th_test_hub_try_new (text, NULL, &error);
  g_assert_null (hub);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[server] tokens: cannot use "));
  g_assert_nonnull (strstr (error->message, "no-such-tokens"));
  g_assert_nonnull (strstr (error->message, "[server] jwt-secret: 5 characters is too short"));
  g_assert_nonnull (strstr (error->message, "[server] tls-certificate: set without tls-key"));
}

static void
test_tls_config (void)
{
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                                           "[server]\ntls-certificate=%s/data/tls/cert.pem\n"
                                           "tls-key=%s/data/tls/other-key.pem\n",
                                           g_test_get_dir (G_TEST_DIST), g_test_get_dir (G_TEST_DIST));

  hub = th_test_hub_try_new (text, NULL, &error);
  g_assert_null (hub);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[server] tls-certificate: cannot load "));
  g_test_message ("%s", error->message);
}

static gboolean
accept_any_certificate (SoupMessage          *msg,
                        GTlsCertificate      *certificate,
                        GTlsCertificateFlags  errors,
                        gpointer              data)
{
  /* The test certificate is self-signed: accept it, but only it. */
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "tls", "cert.pem", NULL);
  g_autoptr(GTlsCertificate) expected = g_tls_certificate_new_from_file (path, NULL);

  return expected != NULL && g_tls_certificate_is_same (certificate, expected);
}

static void
test_tls (Fixture       *fx,
          gconstpointer  data)
{
  g_autofree char *https = g_strdup_printf ("https://127.0.0.1:%u/api/v1/prices", fx->port);
  g_autofree char *http = g_strdup_printf ("http://127.0.0.1:%u/api/v1/prices", fx->port);
  g_autofree char *wss = g_strdup_printf ("wss://127.0.0.1:%u/ws", fx->port);
  g_autoptr(SoupMessage) get = soup_message_new ("GET", https);
  g_autoptr(SoupMessage) untrusted = soup_message_new ("GET", https);
  g_autoptr(SoupMessage) plain = soup_message_new ("GET", http);
  g_autoptr(SoupMessage) upgrade = soup_message_new ("GET", wss);
  g_autoptr(SoupSession) fresh = soup_session_new ();
  g_autoptr(ThTestHttp) h1 = NULL;
  g_autoptr(ThTestHttp) h2 = NULL;
  g_autoptr(ThTestHttp) h3 = NULL;
  g_autoptr(ThTestWs) c = NULL;

  g_signal_connect (get, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  h1 = th_test_http_send (fx->session, get);
  g_assert_nonnull (h1->bytes);
  g_assert_cmpuint (soup_message_get_status (get), ==, 200);
  g_assert_nonnull (soup_message_get_tls_peer_certificate (get));

  /* Without accepting the self-signed certificate (a new session, so no
   * connection that was accepted before): no answer. */
  h2 = th_test_http_send (fresh, untrusted);
  g_assert_null (h2->bytes);

  /* Plain HTTP to the TLS port gets nothing useful either. */
  h3 = th_test_http_send (fx->session, plain);
  g_assert_cmpuint (soup_message_get_status (plain), !=, 200);

  /* wss:// through the sink's own framing over the TLS stream. */
  g_signal_connect (upgrade, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  c = th_test_ws_connect (fx->session, upgrade, NULL);
  g_assert_no_error (c->error);
  g_free (next_text (c, "connected"));
  join (c, "financial_data");
  th_test_push_quote (fx->hub, "BTC", 42000.5);
  g_free (next_text (c, "financial_data_update"));
}

static void
test_bad_config (void)
{
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;

  hub = th_test_hub_try_new ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                             "[server]\nlisten=nowhere\nmax-connections=0\nallowed-origins=not an origin\n"
                             "client-buffer=10\n", NULL, &error);
  g_assert_null (hub);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[server] listen: “nowhere”"));
  g_assert_nonnull (strstr (error->message, "[server] max-connections:"));
  g_assert_nonnull (strstr (error->message, "[server] allowed-origins:"));
  g_assert_nonnull (strstr (error->message, "[server] client-buffer:"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, group, func) \
  g_test_add (path, Fixture, group, fixture_setup, func, fixture_teardown)

  ADD ("/server/ws/connect-and-rooms", NULL, test_connect_and_rooms);
  ADD ("/server/ws/subscribe-snapshot", NULL, test_subscribe_snapshot);
  ADD ("/server/ws/bad-messages-keep-the-connection", NULL, test_bad_messages);
  ADD ("/server/ws/rate-limit", "rate-limit=5", test_rate_limit);
  ADD ("/server/ws/max-connections", "max-connections=2", test_max_connections);
  ADD ("/server/ws/allowed-origins", "allowed-origins=http://good.example", test_origins);
  ADD ("/server/ws/max-message", "max-message=1024", test_max_message);
  ADD ("/server/ws/deep-json", "max-message=1048576", test_deep_json);
  ADD ("/server/ws/close-codes", NULL, test_close_codes);
  ADD ("/server/ws/system-status", "status-interval=0.2", test_system_status);
  ADD ("/server/ws/stop-closes-with-1001", NULL, test_stop_closes);
  ADD ("/server/ws/conflate", "conflate-ms=200", test_conflate);
  ADD ("/server/ws/client-conflate", NULL, test_client_conflate);
  ADD ("/server/ws/burst-order", NULL, test_burst_order);
  ADD ("/server/ws/burst-many-rooms",
       "rate-limit=1000\n[tickhub]\nsymbols=R00;R01;R02;R03;R04;R05;R06;R07;R08;R09;R10;R11;R12;R13;R14;R15;R16;R17;R18;R19;"
       "R20;R21;R22;R23;R24;R25;R26;R27;R28;R29;R30;R31;R32;R33;R34;R35;R36;R37;R38;R39;R40;R41;R42;R43;"
       "R44;R45;R46;R47;R48;R49;R50;R51;R52;R53;R54;R55;R56;R57;R58;R59;R60;R61;R62;R63;R64;R65;R66;R67;"
       "R68;R69\n", test_burst_many_rooms);
  ADD ("/server/http/request-bodies-are-not-read", NULL, test_request_bodies);
  ADD ("/server/ws/slow-client-is-cut-off", "client-buffer=65536", test_slow_client);
  ADD ("/server/ws/slow-reader-gets-the-latest-price", "client-buffer=65536", test_slow_reader_gets_the_latest_price);
  ADD ("/server/ws/slow-reader-logged-once", "client-buffer=65536", test_slow_reader_logged_once);
  ADD ("/server/rest/price", NULL, test_rest_price);
  ADD ("/server/rest/candles-and-errors", NULL, test_rest_candles);
  ADD ("/server/rest/monitoring", NULL, test_rest_monitoring);
  ADD ("/server/dashboard/files", NULL, test_dashboard);
  ADD ("/server/dashboard/off", "dashboard=false", test_dashboard_off);
  g_test_add_func ("/server/metrics/feeds", test_metrics_feeds);
  g_test_add_func ("/server/auth/tokens", test_auth_tokens);
  ADD ("/server/auth/jwt", "jwt-secret=" JWT_SECRET, test_auth_jwt);
  ADD ("/server/auth/jwt-deep", "jwt-secret=" JWT_SECRET, test_auth_jwt_deep);
  ADD ("/server/tls", "tls-certificate=@SRCDIR@/data/tls/cert.pem\ntls-key=@SRCDIR@/data/tls/key.pem", test_tls);
  g_test_add_func ("/server/auth/tokens-reload", test_auth_tokens_reload);
  g_test_add_func ("/server/auth/config-problems", test_auth_config);
  g_test_add_func ("/server/tls/config-problems", test_tls_config);
  g_test_add_func ("/server/config/problems", test_bad_config);

  return g_test_run ();
}
