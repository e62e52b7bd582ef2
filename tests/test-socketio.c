/* test-socketio.c: the server sink's Socket.IO / Engine.IO 4 transport,
 * driven packet by packet with libsoup on 127.0.0.1
 *
 * Each test loads a hub with the server sink on 127.0.0.1:0 and speaks raw
 * Engine.IO to /socket.io/: the handshake and its errors, long polls and
 * POSTs, the upgrade sequence, heartbeats, acks, bad packets, the one
 * encoding per event shared by every client, and the per-client budget.
 * The real clients (python-socketio, socket.io-client) are in
 * tests/test-socketio-clients.py.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "th-private.h"
#include "test-utils.h"

#define WAIT_USEC (10 * G_USEC_PER_SEC)

typedef struct
{
  ThHub       *hub;
  guint        port;
  SoupSession *session;
  GHashTable  *backlog;    /* sid → GQueue* of polled packets not looked at yet */
} Fixture;

static void
backlog_free (gpointer data)
{
  g_queue_free_full (data, g_free);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  const char *server_group = data != NULL ? data : "";
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=server\nsymbols=BTC;ETH;SOL\ntimeframes=1m\n"
    "[prices]\norder=binance;coinbase\n"
    "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nrate-limit=0\n%s\n", server_group);
  /* The test's keys replace the defaults. */
  g_autofree char *merged = th_test_config_last_wins (text);

  fx->hub = th_test_hub_new (merged, NULL);
  th_hub_start (fx->hub);
  fx->port = th_test_server_port (fx->hub);
  fx->session = th_test_session_new ();
  fx->backlog = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, backlog_free);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_stop (fx->hub);
  g_clear_object (&fx->session);
  g_clear_object (&fx->hub);
  g_clear_pointer (&fx->backlog, g_hash_table_unref);
  th_test_drain ();
}

/* HTTP, asynchronous: the server runs in this thread. */

static ThTestHttp *
http_start (Fixture    *fx,
            const char *method,
            const char *query,
            const char *body)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/socket.io/?%s", fx->port, query);
  g_autoptr(SoupMessage) msg = soup_message_new (method, url);

  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, "text/plain;charset=UTF-8", bytes);
    }
  return th_test_http_start (fx->session, msg);
}

static ThTestHttp *
http (Fixture    *fx,
      const char *method,
      const char *query,
      const char *body)
{
  ThTestHttp *h = http_start (fx, method, query, body);

  th_test_wait_until (h->done, TH_TEST_WAIT_MS);
  return h;
}

static char *
http_plain_get (Fixture    *fx,
                const char *path)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", fx->port, path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr(ThTestHttp) h = NULL;

  /* The tests' token, for those with tokens= (ignored otherwise). */
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                "Bearer sio-token-0123456789");
  h = th_test_http_send (fx->session, msg);
  g_assert_cmpuint (h->status, ==, 200);
  return g_steal_pointer (&h->body);
}

/* A counter of /metrics, exactly as printed. */
static guint64
metric (Fixture    *fx,
        const char *name)
{
  g_autofree char *text = http_plain_get (fx, "/metrics");
  g_autofree char *prefix = g_strconcat ("\n", name, " ", NULL);
  const char *line = strstr (text, prefix);

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (prefix), NULL, 10);
}

static void
assert_engine_error (ThTestHttp       *h,
                     guint       status,
                     gint64      code,
                     const char *message)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *obj;

  g_assert_cmpuint (h->status, ==, status);
  root = th_test_parse_json (h->body);
  obj = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (obj, "code"), ==, code);
  g_assert_cmpstr (json_object_get_string_member (obj, "message"), ==, message);
}

/* Polling sessions */

/* The handshake; returns the sid. */
static char *
handshake (Fixture *fx)
{
  g_autoptr(ThTestHttp) h = http (fx, "GET", "EIO=4&transport=polling", NULL);
  g_autoptr(JsonNode) open = NULL;
  JsonObject *obj;

  g_assert_cmpuint (h->status, ==, 200);
  g_assert_true (h->body[0] == '0');
  open = th_test_parse_json (h->body + 1);
  obj = json_node_get_object (open);
  return g_strdup (json_object_get_string_member (obj, "sid"));
}

static void
post (Fixture    *fx,
      const char *sid,
      const char *body)
{
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
  g_autoptr(ThTestHttp) h = http (fx, "POST", query, body);

  g_assert_cmpuint (h->status, ==, 200);
  g_assert_cmpstr (h->body, ==, "ok");
}

static ThTestHttp *
poll_start (Fixture    *fx,
            const char *sid)
{
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);

  return http_start (fx, "GET", query, NULL);
}

/* One long poll: the packets it returned. */
static char **
poll_packets (Fixture    *fx,
              const char *sid)
{
  g_autoptr(ThTestHttp) h = poll_start (fx, sid);

  th_test_wait_until (h->done, TH_TEST_WAIT_MS);
  g_assert_cmpuint (h->status, ==, 200);
  return g_strsplit (h->body, "\x1e", -1);
}

/* The next packet that starts with @prefix, polling as needed; the
 * packets before it are skipped, those after it kept for the next call. */
static char *
poll_until (Fixture    *fx,
            const char *sid,
            const char *prefix)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;
  GQueue *backlog = g_hash_table_lookup (fx->backlog, sid);

  if (backlog == NULL)
    {
      backlog = g_queue_new ();
      g_hash_table_insert (fx->backlog, g_strdup (sid), backlog);
    }
  while (g_get_monotonic_time () < deadline)
    {
      char *p;

      while ((p = g_queue_pop_head (backlog)) != NULL)
        {
          if (g_str_has_prefix (p, prefix))
            return p;
          g_free (p);
        }
      {
        g_auto(GStrv) packets = poll_packets (fx, sid);

        for (guint i = 0; packets[i] != NULL; i++)
          g_queue_push_tail (backlog, g_strdup (packets[i]));
      }
    }
  g_error ("no packet %s", prefix);
}

/* A polling session with the namespace connected. */
static char *
polling_client (Fixture *fx)
{
  char *sid = handshake (fx);
  g_autofree char *connected = NULL;
  g_autofree char *welcome = NULL;

  post (fx, sid, "40");
  connected = poll_until (fx, sid, "40{\"sid\":");
  welcome = poll_until (fx, sid, "42[\"connected\",{\"client_id\":");
  return sid;
}

/* WebSocket sessions */

static ThTestWs *
ws_open (Fixture    *fx,
         const char *sid)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/socket.io/?EIO=4&transport=websocket%s%s",
                                          fx->port, sid != NULL ? "&sid=" : "", sid != NULL ? sid : "");
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  ThTestWs *w = th_test_ws_connect (fx->session, msg, NULL);

  g_assert_no_error (w->error);
  return w;
}

/* The next packet that starts with @prefix (pings are answered and
 * skipped unless asked for). */
static char *
ws_next (ThTestWs         *w,
         const char *prefix)
{
  for (;;)
    {
      char *p;

      th_test_wait_until (th_test_ws_has_message (w), TH_TEST_WAIT_MS);
      p = g_queue_pop_head (&w->messages);
      if (p == NULL)
        g_error ("closed while waiting for %s", prefix);
      if (g_str_has_prefix (p, prefix))
        return p;
      if (g_str_equal (p, "2") && soup_websocket_connection_get_state (w->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (w->conn, "3");
      g_free (p);
    }
}

/* A websocket-only session with the namespace connected. */
static ThTestWs *
ws_client (Fixture *fx)
{
  ThTestWs *w = ws_open (fx, NULL);
  g_autofree char *open = ws_next (w, "0{");
  g_autofree char *connected = NULL;
  g_autofree char *welcome = NULL;

  g_assert_nonnull (strstr (open, "\"upgrades\":[]"));
  th_test_ws_send (w, "40");
  connected = ws_next (w, "40{\"sid\":");
  welcome = ws_next (w, "42[\"connected\",");
  return w;
}

/* Tests */

static void
test_handshake (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(ThTestHttp) h = http (fx, "GET", "EIO=4&transport=polling", NULL);
  g_autoptr(JsonNode) open = NULL;
  JsonObject *obj;
  JsonArray *upgrades;
  ThTestHttp *e;

  g_assert_cmpuint (h->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type (soup_message_get_response_headers (h->msg), NULL), ==,
                   "text/plain");
  g_assert_true (h->body[0] == '0');
  open = th_test_parse_json (h->body + 1);
  obj = json_node_get_object (open);
  g_assert_cmpuint (strlen (json_object_get_string_member (obj, "sid")), >=, 16);
  upgrades = json_object_get_array_member (obj, "upgrades");
  g_assert_cmpuint (json_array_get_length (upgrades), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (upgrades, 0), ==, "websocket");
  /* [server] ping-interval=3 ping-timeout=2 */
  g_assert_cmpint (json_object_get_int_member (obj, "pingInterval"), ==, 3000);
  g_assert_cmpint (json_object_get_int_member (obj, "pingTimeout"), ==, 2000);
  g_assert_cmpint (json_object_get_int_member (obj, "maxPayload"), ==, 65536);

  /* The reference server's errors */
  e = http (fx, "GET", "EIO=3&transport=polling", NULL);
  assert_engine_error (e, 400, 5, "Unsupported protocol version");
  th_test_http_free (e);
  e = http (fx, "GET", "transport=polling", NULL);
  assert_engine_error (e, 400, 5, "Unsupported protocol version");
  th_test_http_free (e);
  e = http (fx, "GET", "EIO=4&transport=carrier-pigeon", NULL);
  assert_engine_error (e, 400, 0, "Transport unknown");
  th_test_http_free (e);
  e = http (fx, "GET", "EIO=4&transport=polling&sid=nosuchsession", NULL);
  assert_engine_error (e, 400, 1, "Session ID unknown");
  th_test_http_free (e);
  e = http (fx, "POST", "EIO=4&transport=polling", "40");
  assert_engine_error (e, 400, 2, "Bad handshake method");
  th_test_http_free (e);
  e = http (fx, "GET", "EIO=4&transport=websocket", NULL);   /* no Upgrade header */
  assert_engine_error (e, 400, 3, "Bad request");
  th_test_http_free (e);
}

static void
test_polling (Fixture       *fx,
              gconstpointer  data)
{
  g_autofree char *sid = polling_client (fx);
  g_autofree char *joined = NULL;
  g_autofree char *update = NULL;
  g_autoptr(ThTestHttp) held = NULL;
  g_auto(GStrv) packets = NULL;

  post (fx, sid, "42[\"join_room\",{\"room\":\"financial_data\"}]");
  joined = poll_until (fx, sid, "42[\"room_joined\"");
  g_assert_cmpstr (joined, ==, "42[\"room_joined\",{\"room\":\"financial_data\"}]");

  /* A long poll is held while nothing is queued... */
  held = poll_start (fx, sid);
  th_test_run_for (150);
  g_assert_false (held->done);
  /* ...and answered by the next event, with everything queued at once. */
  th_test_push_quote (fx->hub, "BTC", 50000);
  th_test_push_quote (fx->hub, "ETH", 3000);
  th_test_wait_until (held->done, TH_TEST_WAIT_MS);
  g_assert_cmpuint (held->status, ==, 200);
  packets = g_strsplit (held->body, "\x1e", -1);
  g_assert_cmpuint (g_strv_length (packets), ==, 2);
  g_assert_true (g_str_has_prefix (packets[0], "42[\"financial_data_update\",{\"symbol\":\"BTC\""));
  g_assert_true (g_str_has_prefix (packets[1], "42[\"financial_data_update\",{\"symbol\":\"ETH\""));

  /* Several packets in one POST, separated by \x1e. */
  post (fx, sid, "42[\"subscribe_symbol\",{\"symbol\":\"sol\"}]\x1e" "42[\"get_status\",{}]");
  update = poll_until (fx, sid, "42[\"server_status\"");
  g_assert_nonnull (strstr (update, "\"symbol_SOL\""));
  g_hash_table_remove (fx->backlog, sid);

  /* At most 16 packets per answer (python-engineio clients refuse a
   * payload of more), the rest at the next poll, in order. */
  for (guint i = 0; i < 40; i++)
    th_test_push_quote (fx->hub, "ETH", 3001 + i);
  {
    guint seen = 0;

    while (seen < 40)
      {
        g_auto(GStrv) got = poll_packets (fx, sid);

        g_assert_cmpuint (g_strv_length (got), <=, 16);
        for (guint i = 0; got[i] != NULL; i++)
          {
            g_autofree char *price = g_strdup_printf ("\"price\":%u,", 3001 + seen);

            if (!g_str_has_prefix (got[i], "42[\"financial_data_update\",{\"symbol\":\"ETH\""))
              continue;
            g_assert_nonnull (strstr (got[i], price));
            seen++;
          }
      }
  }
}

static void
test_overlapping_polls (Fixture       *fx,
                        gconstpointer  data)
{
  g_autofree char *sid = polling_client (fx);
  g_autoptr(ThTestHttp) first = poll_start (fx, sid);
  g_autoptr(ThTestHttp) second = NULL;
  g_autoptr(ThTestHttp) after = NULL;
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
  guint64 bad = metric (fx, "tickhub_server_socketio_bad_packets_total");

  th_test_run_for (100);
  g_assert_false (first->done);
  second = http (fx, "GET", query, NULL);
  assert_engine_error (second, 400, 3, "Bad request");
  /* The held one gets the close packet; the session is gone. */
  th_test_wait_until (first->done, TH_TEST_WAIT_MS);
  g_assert_cmpuint (first->status, ==, 200);
  g_assert_cmpstr (first->body, ==, "1");
  after = http (fx, "GET", query, NULL);
  assert_engine_error (after, 400, 1, "Session ID unknown");
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_bad_packets_total"), ==, bad + 1);
}

static void
test_upgrade (Fixture       *fx,
              gconstpointer  data)
{
  g_autofree char *sid = polling_client (fx);
  g_autoptr(ThTestHttp) held = NULL;
  g_autoptr(ThTestWs) w = NULL;
  g_autofree char *probe = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *update = NULL;
  g_autofree char *connections = NULL;
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
  g_autoptr(ThTestHttp) late = NULL;

  post (fx, sid, "42[\"join_room\",{\"room\":\"financial_data\"}]");
  g_free (poll_until (fx, sid, "42[\"room_joined\""));

  held = poll_start (fx, sid);
  th_test_run_for (50);
  g_assert_false (held->done);

  w = ws_open (fx, sid);
  th_test_ws_send (w, "2probe");
  probe = ws_next (w, "3");
  g_assert_cmpstr (probe, ==, "3probe");
  /* The held poll is ended with a noop, so the client can pause polling. */
  th_test_wait_until (held->done, TH_TEST_WAIT_MS);
  g_assert_cmpstr (held->body, ==, "6");

  /* Until the upgrade packet, events still go by polling... */
  th_test_push_quote (fx->hub, "BTC", 51000);
  update = poll_until (fx, sid, "42[\"financial_data_update\"");
  g_clear_pointer (&update, g_free);

  /* ...then by the WebSocket, and polling is over. */
  th_test_ws_send (w, "5");
  th_test_run_for (50);
  th_test_push_quote (fx->hub, "BTC", 52000);
  update = ws_next (w, "42[\"financial_data_update\"");
  g_assert_nonnull (strstr (update, "52000"));
  th_test_ws_send (w, "42[\"join_room\",{\"room\":\"system_status\"}]");
  joined = ws_next (w, "42[\"room_joined\"");
  g_assert_cmpstr (joined, ==, "42[\"room_joined\",{\"room\":\"system_status\"}]");
  late = http (fx, "GET", query, NULL);
  assert_engine_error (late, 400, 3, "Bad request");

  connections = http_plain_get (fx, "/websocket/connections");
  g_assert_nonnull (strstr (connections, "\"transport\":\"socket.io/websocket\""));
  g_assert_cmpuint (metric (fx, "tickhub_server_clients{transport=\"socket.io/websocket\"}"), ==, 1);
}

static void
test_heartbeat (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(ThTestWs) quiet = ws_client (fx);
  g_autoptr(ThTestWs) alive = ws_client (fx);
  g_autofree char *ping = NULL;
  gint64 start = g_get_monotonic_time ();
  guint64 timeouts = metric (fx, "tickhub_server_socketio_ping_timeouts_total");

  /* [server] ping-interval=0.2 ping-timeout=0.3: the server pings... */
  while (g_get_monotonic_time () - start < 1500 * 1000 && !quiet->closed)
    {
      char *p;

      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
      while ((p = g_queue_pop_head (&alive->messages)) != NULL)
        {
          if (g_str_equal (p, "2"))
            th_test_ws_send (alive, "3");
          g_free (p);
        }
      if ((p = g_queue_pop_head (&quiet->messages)) != NULL)
        {
          if (g_str_equal (p, "2"))
            ping = g_strdup (p);
          g_free (p);
        }
    }
  g_assert_cmpstr (ping, ==, "2");
  /* ...the one that does not answer is closed, the other stays. */
  g_assert_true (quiet->closed);
  g_assert_false (alive->closed);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1500 * 1000);
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_ping_timeouts_total"), ==, timeouts + 1);
  th_test_ws_send (alive, "42[\"get_status\",{}]");
  g_free (ws_next (alive, "42[\"server_status\""));
}

static void
test_polling_ping_timeout (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *sid = polling_client (fx);
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
  g_autofree char *ping = poll_until (fx, sid, "2");
  g_autoptr(ThTestHttp) after = NULL;
  g_autoptr(ThTestHttp) gone = NULL;

  g_assert_cmpstr (ping, ==, "2");
  /* No pong: the next poll gets the close packet, then the sid is unknown. */
  after = http (fx, "GET", query, NULL);
  g_assert_cmpstr (after->body, ==, "1");
  gone = http (fx, "GET", query, NULL);
  assert_engine_error (gone, 400, 1, "Session ID unknown");
}

static void
test_acks (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(ThTestWs) w = ws_client (fx);
  g_autofree char *event = NULL;
  g_autofree char *ack = NULL;
  g_autofree char *ack2 = NULL;
  g_autofree char *ack3 = NULL;
  g_autofree char *ack4 = NULL;
  g_autofree char *error = NULL;
  g_autofree char *pong = NULL;

  /* The reply is sent as an event AND as the ack's answer. */
  th_test_ws_send (w, "421[\"join_room\",{\"room\":\"financial_data\"}]");
  event = ws_next (w, "42[");
  g_assert_cmpstr (event, ==, "42[\"room_joined\",{\"room\":\"financial_data\"}]");
  ack = ws_next (w, "43");
  g_assert_cmpstr (ack, ==, "431[{\"room\":\"financial_data\"}]");

  th_test_ws_send (w, "4217[\"join_room\",{\"room\":\"nope\"}]");
  error = ws_next (w, "42[");
  g_assert_true (g_str_has_prefix (error, "42[\"error\",{\"code\":\"unknown_room\""));
  ack2 = ws_next (w, "43");
  g_assert_true (g_str_has_prefix (ack2, "4317[{\"code\":\"unknown_room\""));

  th_test_ws_send (w, "42999[\"ping\",{\"n\":7}]");
  pong = ws_next (w, "42[");
  g_assert_cmpstr (pong, ==, "42[\"pong\",{\"n\":7}]");
  ack3 = ws_next (w, "43");
  g_assert_cmpstr (ack3, ==, "43999[{\"n\":7}]");

  /* Echoed as written, in the event and in the ack. */
  {
    g_autofree char *pong2 = NULL;
    g_autofree char *ack5 = NULL;

    th_test_ws_send (w, "428[\"ping\", {\"big\":9223372036854775808,\"e\":1.2e29}]");
    pong2 = ws_next (w, "42[");
    g_assert_cmpstr (pong2, ==, "42[\"pong\",{\"big\":9223372036854775808,\"e\":1.2e29}]");
    ack5 = ws_next (w, "43");
    g_assert_cmpstr (ack5, ==, "438[{\"big\":9223372036854775808,\"e\":1.2e29}]");
  }

  /* A malformed event with an ack id: the error answers it. */
  th_test_ws_send (w, "425{\"not\":\"an array\"}");
  g_free (ws_next (w, "42[\"error\",{\"code\":\"bad_request\""));
  ack4 = ws_next (w, "43");
  g_assert_true (g_str_has_prefix (ack4, "435[{\"code\":\"bad_request\""));
}

/* An event or a CONNECT payload nested 500,000 deep (max-message=1048576)
 * used to overflow json-glib's stack: a bad packet now, like any other. */
static void
test_deep_json (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(ThTestWs) w = ws_client (fx);
  g_autoptr(ThTestWs) other = ws_open (fx, NULL);
  g_autoptr(GString) deep = g_string_new ("42[\"join_room\",");
  g_autoptr(GString) deep_connect = g_string_new ("40");
  g_autofree char *status = NULL;
  g_autofree char *refused = NULL;
  g_autofree char *error = NULL;
  guint64 bad = metric (fx, "tickhub_server_socketio_bad_packets_total");

  for (guint i = 0; i < 500000; i++)
    g_string_append_c (deep, '[');
  for (guint i = 0; i < 500000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, ']');
  th_test_ws_send (w, deep->str);
  error = ws_next (w, "42[\"error\"");
  g_assert_nonnull (strstr (error, "\"code\":\"bad_request\""));
  g_clear_pointer (&error, g_free);
  th_test_ws_send (w, "42[\"join_room\",{\"room\":\"financial_data\\u0000zzz\"}]");
  error = ws_next (w, "42[\"error\"");
  g_assert_nonnull (strstr (error, "\"code\":\"bad_request\""));
  th_test_ws_send (w, "42[\"get_status\",{}]");
  status = ws_next (w, "42[");
  g_assert_true (g_str_has_prefix (status, "42[\"server_status\""));

  /* The auth payload of a CONNECT. */
  g_free (ws_next (other, "0{"));
  g_string_append (deep_connect, "{\"token\":");
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep_connect, '{');
  g_string_append_c (deep_connect, '}');
  th_test_ws_send (other, deep_connect->str);
  refused = ws_next (other, "44");
  g_assert_cmpstr (refused, ==, "44{\"message\":\"the auth payload must be a JSON object\"}");
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_bad_packets_total"), ==, bad + 3);
}

static void
test_bad_packets (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(ThTestWs) w = ws_client (fx);
  g_autoptr(ThTestWs) other = ws_open (fx, NULL);
  g_autofree char *nsp = NULL;
  g_autofree char *status = NULL;
  guint64 bad = metric (fx, "tickhub_server_socketio_bad_packets_total");
  const char *const packets[] = {
    "42not json",
    "42[]",
    "42[17,{}]",
    "451-[\"join_room\",{\"_placeholder\":true,\"num\":0}]",
    "47",
    "9",
    "4",
  };

  for (guint i = 0; i < G_N_ELEMENTS (packets); i++)
    {
      g_autofree char *error = NULL;

      th_test_ws_send (w, packets[i]);
      error = ws_next (w, "42[\"error\"");
      g_assert_nonnull (strstr (error, "\"code\":\"bad_request\""));
    }
  /* The attachment of the binary packet is skipped without a second error. */
  soup_websocket_connection_send_binary (w->conn, "\x01\x02", 2);
  th_test_ws_send (w, "42[\"get_status\",{}]");
  status = ws_next (w, "42[");
  g_assert_true (g_str_has_prefix (status, "42[\"server_status\""));
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_bad_packets_total"), ==, bad + G_N_ELEMENTS (packets));

  /* Only the default namespace; a refused CONNECT can be tried again. */
  g_free (ws_next (other, "0{"));
  th_test_ws_send (other, "40/admin,");
  nsp = ws_next (other, "44");
  g_assert_cmpstr (nsp, ==, "44/admin,{\"message\":\"Invalid namespace\"}");
  th_test_ws_send (other, "40{\"token\":\"anything\"}");
  g_free (ws_next (other, "40{\"sid\":"));
  g_assert_false (w->closed);
  g_assert_false (other->closed);

  /* Nothing but CONNECT is taken before it: an event ends the session. */
  {
    g_autoptr(ThTestWs) early = ws_open (fx, NULL);

    g_free (ws_next (early, "0{"));
    th_test_ws_send (early, "42[\"get_status\",{}]");
    g_free (ws_next (early, "44{\"message\":"));
    th_test_wait_until (early->closed, TH_TEST_WAIT_MS);
    g_assert_cmpuint (early->close_code, ==, 1002);
  }
}

static void
test_serialize_once (Fixture       *fx,
                     gconstpointer  data)
{
  ThTestWs *ws[5];
  char *polls[3];
  guint64 before;

  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    {
      ws[i] = ws_client (fx);
      th_test_ws_send (ws[i], "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]");
      g_free (ws_next (ws[i], "42[\"symbol_data\""));
    }
  for (guint i = 0; i < G_N_ELEMENTS (polls); i++)
    {
      polls[i] = polling_client (fx);
      post (fx, polls[i], "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]");
      g_free (poll_until (fx, polls[i], "42[\"symbol_data\""));
    }

  /* An update made by hand: a tick would also bring price_source_changed
   * and candles, whenever housekeeping runs. */
  before = metric (fx, "tickhub_server_socketio_encodings_total");
  {
    g_autoptr(JsonNode) update = th_test_parse_json ("{\"symbol\":\"BTC\",\"data\":{\"price\":60000,\"source\":\"binance\"}}");
    g_autoptr(ThEvent) event = th_event_new ("financial_data_update", "BTC", update);

    th_hub_emit_event (fx->hub, event);
  }
  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    {
      g_autofree char *update = ws_next (ws[i], "42[\"financial_data_update\"");

      g_assert_nonnull (strstr (update, "\"price\":60000"));
    }
  for (guint i = 0; i < G_N_ELEMENTS (polls); i++)
    {
      g_autofree char *update = poll_until (fx, polls[i], "42[\"financial_data_update\"");

      g_assert_nonnull (strstr (update, "\"price\":60000"));
    }
  /* One event for eight clients: one encoding. */
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_encodings_total") - before, ==, 1);

  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    th_test_ws_free (ws[i]);
  for (guint i = 0; i < G_N_ELEMENTS (polls); i++)
    g_free (polls[i]);
}

static void
test_budget (Fixture       *fx,
             gconstpointer  data)
{
  g_autofree char *slow = polling_client (fx);
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", slow);
  g_autoptr(ThTestWs) fast = ws_client (fx);
  g_autoptr(ThTestHttp) end = NULL;
  g_autoptr(ThTestHttp) gone = NULL;
  guint64 dropped;
  guint received = 0;
  g_autofree char *update = NULL;

  post (fx, slow, "42[\"join_room\",{\"room\":\"financial_data\"}]\x1e" "42[\"join_room\",{\"room\":\"system_status\"}]");
  g_free (poll_until (fx, slow, "42[\"room_joined\",{\"room\":\"system_status\"}"));
  th_test_ws_send (fast, "42[\"join_room\",{\"room\":\"financial_data\"}]");
  g_free (ws_next (fast, "42[\"room_joined\""));

  /* The polling client does not poll: its queue stays within
   * client-buffer (4096) by dropping price updates; the other gets all. */
  for (guint i = 0; i < 100; i++)
    {
      th_test_push_quote (fx->hub, "BTC", 40000 + i);
      g_main_context_iteration (NULL, FALSE);
    }
  th_test_run_for (100);
  while ((update = g_queue_pop_head (&fast->messages)) != NULL)
    {
      received += g_str_has_prefix (update, "42[\"financial_data_update\"");
      g_clear_pointer (&update, g_free);
    }
  g_assert_cmpuint (received, ==, 100);
  dropped = metric (fx, "tickhub_server_dropped_total");
  g_assert_cmpuint (dropped, >, 50);
  g_assert_cmpuint (metric (fx, "tickhub_server_queued_bytes"), <=, 4096);

  /* An event that may not be dropped and does not fit: disconnected. */
  {
    g_autoptr(JsonNode) big = json_node_init_object (json_node_alloc (), json_object_new ());
    g_autofree char *filler = g_strnfill (3000, 'x');
    g_autoptr(ThEvent) first = NULL;
    g_autoptr(ThEvent) second = NULL;

    json_object_set_string_member (json_node_get_object (big), "filler", filler);
    first = th_event_new ("system_status_update", NULL, big);
    th_hub_emit_event (fx->hub, first);
    second = th_event_new ("system_status_update", NULL, big);
    th_hub_emit_event (fx->hub, second);
  }
  g_assert_cmpuint (metric (fx, "tickhub_server_disconnects_total{reason=\"slow\"}"), ==, 1);
  end = http (fx, "GET", query, NULL);
  g_assert_true (g_str_has_suffix (end->body, "1"));
  gone = http (fx, "GET", query, NULL);
  assert_engine_error (gone, 400, 1, "Session ID unknown");
  g_assert_false (fast->closed);
}

static void
test_conflate (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *sid = polling_client (fx);
  g_auto(GStrv) packets = NULL;
  guint updates = 0;
  const char *last = NULL;

  post (fx, sid, "42[\"join_room\",{\"room\":\"financial_data\"}]");
  g_free (poll_until (fx, sid, "42[\"room_joined\""));

  /* [server] conflate-ms=300: twenty updates at once become the latest. */
  for (guint i = 0; i < 20; i++)
    th_test_push_quote (fx->hub, "BTC", 40000 + i);
  th_test_run_for (700);
  packets = poll_packets (fx, sid);
  for (guint i = 0; packets[i] != NULL; i++)
    if (g_str_has_prefix (packets[i], "42[\"financial_data_update\""))
      {
        updates++;
        last = packets[i];
      }
  g_assert_cmpuint (updates, >=, 1);
  g_assert_cmpuint (updates, <=, 2);
  g_assert_nonnull (strstr (last, "\"price\":40019"));
  g_assert_cmpuint (metric (fx, "tickhub_server_conflated_total"), >=, 18);
}

/* set_options on Socket.IO (websocket transport): the client's own
 * conflate_ms, answered as an event and as the ack; a bad one an error. */
static void
test_client_conflate (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(ThTestWs) w = ws_client (fx);
  g_autofree char *joined = NULL, *set = NULL, *ack = NULL, *err = NULL, *update = NULL;
  guint updates = 0;

  th_test_ws_send (w, "42[\"join_room\",{\"room\":\"financial_data\"}]");
  joined = ws_next (w, "42[\"room_joined\"");
  th_test_ws_send (w, "42[\"set_options\",{\"conflate_ms\":300}]");
  set = ws_next (w, "42[\"options_set\"");
  g_assert_cmpstr (set, ==, "42[\"options_set\",{\"conflate_ms\":300}]");
  th_test_ws_send (w, "427[\"set_options\",{\"conflate_ms\":300}]");
  ack = ws_next (w, "437");
  g_assert_cmpstr (ack, ==, "437[{\"conflate_ms\":300}]");
  th_test_ws_send (w, "42[\"set_options\",{\"conflate_ms\":true}]");
  err = ws_next (w, "42[\"error\"");
  g_assert_nonnull (strstr (err, "bad_request"));
  g_assert_nonnull (strstr (err, "conflate_ms"));

  for (guint i = 0; i < 20; i++)
    th_test_push_quote (fx->hub, "BTC", 40000 + i);
  th_test_run_for (150);
  for (GList *l = w->messages.head; l != NULL; l = l->next)
    g_assert_false (g_str_has_prefix (l->data, "42[\"financial_data_update\""));
  th_test_run_for (350);
  for (GList *l = w->messages.head; l != NULL; l = l->next)
    if (g_str_has_prefix (l->data, "42[\"financial_data_update\""))
      updates++;
  g_assert_cmpuint (updates, ==, 1);
  update = ws_next (w, "42[\"financial_data_update\"");
  g_assert_nonnull (strstr (update, "\"price\":40019"));
}

static void
test_rate_limit (Fixture       *fx,
                 gconstpointer  data)
{
  g_autoptr(ThTestWs) w = ws_client (fx);
  g_autofree char *error = NULL;
  g_autofree char *disconnect = NULL;

  /* [server] rate-limit=2 (bursts of 4): the client is told, gets 41 (so
   * socket.io clients do not reconnect by themselves) and is closed. */
  for (guint i = 0; i < 10; i++)
    th_test_ws_send (w, "42[\"ping\",{}]");
  error = ws_next (w, "42[\"error\"");
  g_assert_nonnull (strstr (error, "\"code\":\"rate_limited\""));
  disconnect = ws_next (w, "41");
  g_assert_cmpstr (disconnect, ==, "41");
  th_test_wait_until (w->closed, TH_TEST_WAIT_MS);
  g_assert_cmpuint (metric (fx, "tickhub_server_disconnects_total{reason=\"rate_limited\"}"), ==, 1);
}

static void
test_origins_and_limits (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/socket.io/?EIO=4&transport=polling", fx->port);
  g_autoptr(SoupMessage) bad = soup_message_new ("GET", url);
  g_autoptr(SoupMessage) good = soup_message_new ("GET", url);
  g_autoptr(ThTestHttp) big = NULL;
  g_autoptr(ThTestHttp) refused = NULL;
  g_autoptr(ThTestHttp) allowed = NULL;
  g_autofree char *sid = polling_client (fx);
  g_autofree char *query = g_strdup_printf ("EIO=4&transport=polling&sid=%s", sid);
  g_autofree char *payload = NULL;
  g_autofree char *filler = g_strnfill (2000, 'y');

  /* [server] allowed-origins=http://good.example */
  soup_message_headers_replace (soup_message_get_request_headers (bad), "Origin", "http://evil.example");
  refused = th_test_http_send (fx->session, bad);
  assert_engine_error (refused, 403, 4, "Forbidden");

  soup_message_headers_replace (soup_message_get_request_headers (good), "Origin", "http://good.example");
  allowed = th_test_http_send (fx->session, good);
  g_assert_cmpuint (allowed->status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (good), "Access-Control-Allow-Origin"),
                   ==, "http://good.example");

  /* A POST over max-message (1024): 413, and the session ends. */
  payload = g_strdup_printf ("42[\"ping\",{\"x\":\"%s\"}]", filler);
  big = http (fx, "POST", query, payload);
  g_assert_cmpuint (big->status, ==, 413);
  g_assert_cmpuint (metric (fx, "tickhub_server_disconnects_total{reason=\"message_too_big\"}"), ==, 1);
}

static void
test_disabled (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(ThTestHttp) h = http (fx, "GET", "EIO=4&transport=polling", NULL);

  /* socketio=false: /socket.io/ is not served */
  g_assert_cmpuint (h->status, ==, 404);
}

/* [server] tokens=: the token comes in the CONNECT auth payload, or from
 * the Engine.IO handshake (?token= here); a refusal is a connect error, and
 * the session stays up for a second try. */
static void
test_auth (Fixture       *fx,
           gconstpointer  data)
{
  g_autofree char *sid = handshake (fx);
  g_autofree char *refused = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *connected = NULL;
  g_autofree char *query = NULL;
  g_autofree char *sid2 = NULL;
  g_autofree char *connected2 = NULL;
  g_autoptr(ThTestHttp) open = NULL;
  g_autoptr(JsonNode) root = NULL;

  post (fx, sid, "40");
  refused = poll_until (fx, sid, "44");
  g_assert_cmpstr (refused, ==, "44{\"message\":\"unauthorized\"}");
  post (fx, sid, "40{\"token\":\"not-the-token\"}");
  wrong = poll_until (fx, sid, "44");
  g_assert_cmpstr (wrong, ==, "44{\"message\":\"unauthorized\"}");
  post (fx, sid, "40{\"token\":\"sio-token-0123456789\"}");
  connected = poll_until (fx, sid, "40{\"sid\":");

  /* The handshake's own token counts when the payload has none. */
  open = http (fx, "GET", "EIO=4&transport=polling&token=sio-token-0123456789", NULL);
  g_assert_cmpuint (open->status, ==, 200);
  root = th_test_parse_json (open->body + 1);
  sid2 = g_strdup (json_object_get_string_member (json_node_get_object (root), "sid"));
  post (fx, sid2, "40");
  connected2 = poll_until (fx, sid2, "40{\"sid\":");
}

/* With tokens= and max-connections=5: five websocket sessions refused at
 * CONNECT (and answering pings) hold no slot: an authenticated client
 * still gets in. Sessions waiting to connect are bounded (by
 * max-connections too) and closed after connect-timeout, polling ones
 * as well. */
static void
test_refused_hold_no_slot (Fixture       *fx,
                           gconstpointer  data)
{
  ThTestWs *refused[5];
  g_autofree char *idle_sid = NULL;
  g_autofree char *url = NULL;
  g_autoptr(ThTestWs) in = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *open = NULL;
      g_autofree char *no = NULL;

      refused[i] = ws_open (fx, NULL);
      open = ws_next (refused[i], "0{");
      th_test_ws_send (refused[i], "40");
      no = ws_next (refused[i], "44");
      g_assert_cmpstr (no, ==, "44{\"message\":\"unauthorized\"}");
    }
  g_assert_cmpuint (metric (fx, "tickhub_server_clients{transport=\"socket.io/websocket\"}"), ==, 0);
  {
    g_autoptr(ThTestHttp) sixth = http (fx, "GET", "EIO=4&transport=polling", NULL);

    g_assert_cmpuint (sixth->status, ==, 503);
  }

  /* An authenticated /ws client: in, not 503. */
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws?token=sio-token-0123456789", fx->port);
  in = th_test_ws_connect (fx->session, soup_message_new ("GET", url), NULL);
  g_assert_no_error (in->error);
  g_assert_nonnull (in->conn);

  /* connect-timeout (0.5 s) ends the refused sessions, pings or not. */
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      while (!refused[i]->closed)
        {
          g_autofree char *p = NULL;

          th_test_wait_until (th_test_ws_has_message (refused[i]) || refused[i]->closed, TH_TEST_WAIT_MS);
          p = g_queue_pop_head (&refused[i]->messages);
          if (p != NULL && g_str_equal (p, "2") &&
              soup_websocket_connection_get_state (refused[i]->conn) == SOUP_WEBSOCKET_STATE_OPEN)
            soup_websocket_connection_send_text (refused[i]->conn, "3");
        }
      th_test_ws_free (refused[i]);
    }
  g_assert_false (in->closed);
  idle_sid = handshake (fx);
  {
    g_autofree char *path = g_strdup_printf ("EIO=4&transport=polling&sid=%s", idle_sid);
    g_autoptr(ThTestHttp) gone = NULL;

    th_test_run_for (800);
    gone = http (fx, "GET", path, NULL);
    /* Its close packet (after a ping, maybe), or already forgotten. */
    g_assert_true (gone->status == 400 || g_str_equal (gone->body, "1") || g_str_has_suffix (gone->body, "\x1e" "1"));
  }
  g_assert_cmpuint (metric (fx, "tickhub_server_socketio_connect_timeouts_total"), ==, 6);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *dir = NULL;
  g_autofree char *tokens = NULL;
  g_autofree char *auth_group = NULL;
  g_autofree char *refused_group = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  dir = th_test_make_tmp_dir ("tickhub-sio-XXXXXX");
  tokens = th_test_write_file (dir, "tokens", "sio-token-0123456789\n");
  g_chmod (tokens, 0600);
  auth_group = g_strdup_printf ("tokens=%s", tokens);

#define ADD(path, group, func) \
  g_test_add (path, Fixture, group, fixture_setup, func, fixture_teardown)

  ADD ("/socketio/handshake", "ping-interval=3\nping-timeout=2", test_handshake);
  ADD ("/socketio/polling", NULL, test_polling);
  ADD ("/socketio/overlapping-polls", NULL, test_overlapping_polls);
  ADD ("/socketio/upgrade", NULL, test_upgrade);
  ADD ("/socketio/heartbeat", "ping-interval=0.2\nping-timeout=0.3", test_heartbeat);
  ADD ("/socketio/polling-ping-timeout", "ping-interval=0.2\nping-timeout=0.2", test_polling_ping_timeout);
  ADD ("/socketio/acks", NULL, test_acks);
  ADD ("/socketio/bad-packets", NULL, test_bad_packets);
  ADD ("/socketio/deep-json", "max-message=1048576", test_deep_json);
  ADD ("/socketio/serialize-once", NULL, test_serialize_once);
  ADD ("/socketio/budget", "client-buffer=4096", test_budget);
  ADD ("/socketio/conflate", "conflate-ms=300", test_conflate);
  ADD ("/socketio/client-conflate", NULL, test_client_conflate);
  ADD ("/socketio/rate-limit", "rate-limit=2", test_rate_limit);
  ADD ("/socketio/origins-and-limits", "allowed-origins=http://good.example\nmax-message=1024",
       test_origins_and_limits);
  ADD ("/socketio/disabled", "socketio=false", test_disabled);
  ADD ("/socketio/auth", auth_group, test_auth);
  refused_group = g_strdup_printf ("%s\nmax-connections=5\nconnect-timeout=0.5\nping-interval=0.1", auth_group);
  ADD ("/socketio/refused-sessions-hold-no-slot", refused_group, test_refused_hold_no_slot);
  ret = g_test_run ();
  th_test_remove_tmp_dir (dir);
  return ret;
}
