/* test-utils.c: what the C tests share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "test-utils.h"

/* Hubs */

/* @config_text parsed; the test fails with the error if it does not
 * parse. */
ThConfig *
th_test_config_new (const char *config_text)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GError) error = NULL;

  th_config_load_from_data (config, config_text, -1, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&config);
}

/* @config_text with each group once and each key once, the last value
 * winning: what GKeyFile made of a fixture's defaults followed by a
 * test's own keys, which tickhub refuses (a key or a group given twice is
 * an error). For fixtures whose tests override their defaults that way. */
char *
th_test_config_last_wins (const char *config_text)
{
  g_autoptr(GKeyFile) parsed = g_key_file_new ();
  g_autoptr(GKeyFile) merged = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) groups = NULL;

  g_key_file_load_from_data (parsed, config_text, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  /* Written back as it is, a GKeyFile keeps both lines of a key given
   * twice: set each value again, the last one read. */
  groups = g_key_file_get_groups (parsed, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (parsed, groups[i], NULL, NULL);

      for (guint j = 0; keys != NULL && keys[j] != NULL; j++)
        {
          g_autofree char *value = g_key_file_get_value (parsed, groups[i], keys[j], NULL);

          g_key_file_set_value (merged, groups[i], keys[j], value);
        }
    }
  return g_key_file_to_data (merged, NULL, NULL);
}

/* A hub made of @config_text on @clock (NULL: the real clock) and loaded;
 * NULL with @error when it does not load. A config that does not even
 * parse fails the test. */
ThHub *
th_test_hub_try_new (const char  *config_text,
                     ThClock     *clock,
                     GError     **error)
{
  g_autoptr(ThConfig) config = th_test_config_new (config_text);
  g_autoptr(ThHub) hub = NULL;

  hub = th_hub_new (config, clock);
  if (!th_hub_load (hub, error))
    return NULL;
  return g_steal_pointer (&hub);
}

/* The same, for a config that must load: the test fails with the error
 * otherwise. Not started: connect to its signals, then th_hub_start(). */
ThHub *
th_test_hub_new (const char *config_text,
                 ThClock    *clock)
{
  g_autoptr(GError) error = NULL;
  ThHub *hub = th_test_hub_try_new (config_text, clock, &error);

  g_assert_no_error (error);
  return hub;
}

/* Why a hub made of @config_text does not load; the test fails if it
 * does. */
GError *
th_test_hub_load_error (const char *config_text)
{
  g_autoptr(ThHub) hub = NULL;
  GError *error = NULL;

  hub = th_test_hub_try_new (config_text, NULL, &error);
  g_assert_null (hub);
  return error;
}

static void
on_hub_stopped (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = th_hub_stop_finish (TH_HUB (source), result, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
  *(gboolean *) data = TRUE;
}

/* Stops @hub (its sinks flushed) and waits until it has. */
void
th_test_hub_stop (ThHub *hub)
{
  gboolean done = FALSE;

  th_hub_stop_async (hub, NULL, on_hub_stopped, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* Stops the feeds of *@hub, drops it and lets closing connections finish. */
void
th_test_hub_clear (ThHub **hub)
{
  if (*hub != NULL)
    {
      g_autoptr(GPtrArray) feeds = th_hub_get_feeds (*hub);

      for (guint i = 0; i < feeds->len; i++)
        th_feed_source_stop (feeds->pdata[i]);
    }
  g_clear_object (hub);
  th_test_drain ();
}

/* Counter @name of the hub's first feed, 0 if it has none. */
guint64
th_test_feed_stat (ThHub      *hub,
                   const char *name)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  g_autoptr(GVariant) stats = th_feed_source_get_stats (feeds->pdata[0]);
  guint64 v = 0;

  g_variant_lookup (stats, name, "t", &v);
  return v;
}

/* A quote from binance at @price, bid and ask a unit either side, at the
 * real time. */
void
th_test_push_quote (ThHub      *hub,
                    const char *symbol,
                    double      price)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, price, g_get_real_time ());

  tick->bid = price - 1;
  tick->ask = price + 1;
  th_hub_push_tick (hub, tick);
}

/* Events */

static void
on_event (ThHub     *hub,
          ThEvent   *event,
          GPtrArray *events)
{
  g_ptr_array_add (events, th_event_ref (event));
}

static void
events_unref (gpointer  events,
              GClosure *closure)
{
  g_ptr_array_unref (events);
}

/* Every event @hub emits from now on, in order (ThEvent*). The hub holds a
 * reference to the array as long as it lives; the caller owns the one
 * returned. */
GPtrArray *
th_test_capture_events (ThHub *hub)
{
  GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) th_event_unref);

  g_signal_connect_data (hub, "event", G_CALLBACK (on_event), g_ptr_array_ref (events), events_unref, 0);
  return events;
}

/* How many of @events are called @name and contain @needle in their JSON
 * (any if NULL). */
guint
th_test_count_events (GPtrArray  *events,
                      const char *name,
                      const char *needle)
{
  guint n = 0;

  for (guint i = 0; i < events->len; i++)
    {
      ThEvent *ev = events->pdata[i];

      if (g_strcmp0 (th_event_get_name (ev), name) == 0 &&
          (needle == NULL || strstr (th_event_get_json (ev), needle) != NULL))
        n++;
    }
  return n;
}

/* The JSON of the last of @events called @name, NULL if none. */
const char *
th_test_last_event_json (GPtrArray  *events,
                         const char *name)
{
  for (guint i = events->len; i > 0; i--)
    if (g_strcmp0 (th_event_get_name (events->pdata[i - 1]), name) == 0)
      return th_event_get_json (events->pdata[i - 1]);
  return NULL;
}

/* The JSON of @events called @name, in order, each ending with a newline. */
char *
th_test_events_json (GPtrArray  *events,
                     const char *name)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < events->len; i++)
    if (g_strcmp0 (th_event_get_name (events->pdata[i]), name) == 0)
      {
        g_string_append (out, th_event_get_json (events->pdata[i]));
        g_string_append_c (out, '\n');
      }
  return g_string_free (out, FALSE);
}

/* The "data" object of @event (owned by the event). */
JsonObject *
th_test_event_data (ThEvent *event)
{
  return json_node_get_object (th_event_get_data (event));
}

/* The data objects of @events called @name, about @symbol (any if NULL),
 * in order; they belong to the events. */
GPtrArray *
th_test_events_data (GPtrArray  *events,
                     const char *name,
                     const char *symbol)
{
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < events->len; i++)
    if (g_str_equal (th_event_get_name (events->pdata[i]), name) &&
        (symbol == NULL || g_strcmp0 (th_event_get_symbol (events->pdata[i]), symbol) == 0))
      g_ptr_array_add (out, th_test_event_data (events->pdata[i]));
  return out;
}

/* JSON */

/* @text parsed; the test fails if it is not JSON. */
JsonNode *
th_test_parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

/* Number @member of @object; NaN for null. */
double
th_test_json_number (JsonObject *object,
                     const char *member)
{
  if (json_object_get_null_member (object, member))
    return NAN;
  return json_object_get_double_member (object, member);
}

/* "[[[...]]]", @depth levels: what overflowed json-glib's stack before the
 * depth limit. */
char *
th_test_nested_array (guint depth)
{
  GString *s = g_string_sized_new (2 * depth);

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* The main loop */

/* Iterates the default main context for @ms, whatever happens. */
void
th_test_run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

/* Iterates until the default main context has been idle for a few
 * milliseconds: cancelled requests, closed connections and disposed feeds
 * call back. */
void
th_test_drain (void)
{
  for (int idle = 0; idle < 5; )
    {
      if (g_main_context_iteration (NULL, FALSE))
        idle = 0;
      else
        {
          idle++;
          g_usleep (1000);
        }
    }
}

/* Folders and files */

/* A new folder in the temp folder, named after @tmpl ("name-XXXXXX"). */
char *
th_test_make_tmp_dir (const char *tmpl)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp (tmpl, &error);

  g_assert_no_error (error);
  return dir;
}

/* Removes @path and everything in it; FALSE if anything could not be
 * removed. */
gboolean
th_test_remove_tmp_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  gboolean ok = TRUE;
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        ok &= th_test_remove_tmp_dir (child);
      else
        ok &= g_remove (child) == 0;
    }
  return g_rmdir (path) == 0 && ok;
}

/* Writes @contents to @name in @dir; returns the file's path. */
char *
th_test_write_file (const char *dir,
                    const char *name,
                    const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* Log messages */

static GPtrArray *captured_log;
static char *captured_domain;

static GLogWriterOutput
capture_log_writer (GLogLevelFlags   level,
                    const GLogField *fields,
                    gsize            n_fields,
                    gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  if (g_strcmp0 (domain, captured_domain) == 0 && message != NULL &&
      (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE)) != 0)
    {
      g_ptr_array_add (captured_log, g_strdup_printf ("%s %s",
                                                      (level & G_LOG_LEVEL_WARNING) ? "WARNING" : "MESSAGE",
                                                      message));
      return G_LOG_WRITER_HANDLED;
    }

  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* From now on, the warnings and messages of log domain @domain are kept
 * instead of printed, as "WARNING text" or "MESSAGE text", in the array
 * returned (which the test may empty): they are expected, and must not
 * abort the test (g_test_expect_message() does not see structured
 * logging). The other messages go on as usual. In the main thread. */
GPtrArray *
th_test_capture_log (const char *domain)
{
  if (captured_log == NULL)
    {
      captured_log = g_ptr_array_new_with_free_func (g_free);
      g_log_set_writer_func (capture_log_writer, NULL, NULL);
    }
  g_free (captured_domain);
  captured_domain = g_strdup (domain);
  g_ptr_array_set_size (captured_log, 0);
  return captured_log;
}

/* Whether a captured message contains @needle. */
gboolean
th_test_log_contains (const char *needle)
{
  for (guint i = 0; captured_log != NULL && i < captured_log->len; i++)
    if (strstr (captured_log->pdata[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

/* Checks */

/* Equal, or both NaN. */
gboolean
th_test_same (double a,
              double b)
{
  return a == b || (isnan (a) && isnan (b));
}

/* Plugins and indicators */

/* A new plugin engine that finds the plugins of the build tree
 * ($TICKHUB_PLUGIN_PATH). */
PeasEngine *
th_test_plugin_engine_new (void)
{
  PeasEngine *engine = peas_engine_new ();
  const char *path = g_getenv ("TICKHUB_PLUGIN_PATH");
  g_auto(GStrv) dirs = NULL;

  g_assert_nonnull (path);
  dirs = g_strsplit (path, ":", -1);
  for (guint i = 0; dirs[i] != NULL; i++)
    peas_engine_add_search_path (engine, dirs[i], NULL);
  return engine;
}

/* One such engine for the whole test program. */
PeasEngine *
th_test_plugin_engine (void)
{
  static PeasEngine *engine;

  if (engine == NULL)
    engine = th_test_plugin_engine_new ();
  return engine;
}

/* An instance of indicator @plugin, configured with @args (NULL: written
 * without parentheses), loaded through libpeas as the hub loads it; NULL
 * with @error for arguments it refuses. With @error NULL, a refusal fails
 * the test. */
ThIndicator *
th_test_indicator_newv (const char        *plugin,
                        const char *const *args,
                        GError           **error)
{
  PeasEngine *engine = th_test_plugin_engine ();
  PeasPluginInfo *info = peas_engine_get_plugin_info (engine, plugin);
  g_autoptr(GError) local_error = NULL;
  ThIndicator *ind;

  g_assert_nonnull (info);
  g_assert_true (peas_engine_load_plugin (engine, info));
  ind = TH_INDICATOR (peas_engine_create_extension (engine, info, TH_TYPE_INDICATOR, "hub", NULL, NULL));
  if (!th_indicator_configure (ind, args, error != NULL ? error : &local_error))
    g_clear_object (&ind);
  g_assert_no_error (local_error);
  return ind;
}

/* The same with @args as written between the parentheses: "14,3,3", ""
 * for none. */
ThIndicator *
th_test_indicator_new (const char  *plugin,
                       const char  *args,
                       GError     **error)
{
  g_auto(GStrv) argv = g_strsplit (args, ",", -1);

  return th_test_indicator_newv (plugin, (const char *const *) argv, error);
}

/* Updates @ind with @candle; its @n_outputs values in @out. */
void
th_test_indicator_update (ThIndicator    *ind,
                          const ThCandle *candle,
                          gboolean        commit,
                          double         *out,
                          guint           n_outputs)
{
  g_autoptr(ThIndicatorValues) v = th_indicator_values_new (n_outputs);

  th_indicator_update (ind, candle, commit, v);
  for (guint k = 0; k < n_outputs; k++)
    out[k] = th_indicator_values_get (v, k);
}

/* Updates @ind with a one-minute candle that is all @close (volume 1),
 * closed if @commit; its @n_outputs values in @out. */
void
th_test_feed_close_outputs (ThIndicator *ind,
                            double       close,
                            gboolean     commit,
                            double      *out,
                            guint        n_outputs)
{
  ThCandle c = { .start = 0, .duration = 60 * G_USEC_PER_SEC, .open = close, .high = close,
                 .low = close, .close = close, .volume = 1, .ticks = 1, .closed = commit };

  th_test_indicator_update (ind, &c, commit, out, n_outputs);
}

/* The same for an indicator with one output: its value. */
double
th_test_feed_close (ThIndicator *ind,
                    double       close,
                    gboolean     commit)
{
  double v;

  th_test_feed_close_outputs (ind, close, commit, &v, 1);
  return v;
}

/* Local servers and clients */

/* A server listening on 127.0.0.1, on a port of its own, in @port. */
SoupServer *
th_test_soup_server_new (guint *port)
{
  SoupServer *server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (server);
  g_assert_nonnull (uris);
  *port = (guint) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return server;
}

/* A port on 127.0.0.1 that nothing listens on any more. */
guint16
th_test_closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  g_assert_no_error (error);
  g_socket_listener_close (listener);
  return port;
}

/* The port of @hub's server sink (the one sink with a "port"), which
 * listens on port 0. */
guint
th_test_server_port (ThHub *hub)
{
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (hub);
  GObject *server = NULL;
  guint port = 0;

  for (guint i = 0; i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      {
        g_assert_null (server);
        server = sinks->pdata[i];
      }
  g_assert_nonnull (server);
  g_object_get (server, "port", &port, NULL);
  g_assert_cmpuint (port, >, 0);
  return port;
}

/* A session for many clients of one server. */
SoupSession *
th_test_session_new (void)
{
  return soup_session_new_with_options ("max-conns-per-host", 100, "max-conns", 200, NULL);
}

static void
on_http (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  ThTestHttp *h = data;
  gsize len = 0;
  const char *text = NULL;

  h->bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &h->error);
  if (h->bytes != NULL)
    text = g_bytes_get_data (h->bytes, &len);
  h->body = g_strndup (text != NULL ? text : "", len);
  h->status = soup_message_get_status (h->msg);
  h->done = TRUE;
}

/* Sends @msg; done once the whole answer is read. */
ThTestHttp *
th_test_http_start (SoupSession *session,
                    SoupMessage *msg)
{
  ThTestHttp *h = g_new0 (ThTestHttp, 1);

  h->msg = g_object_ref (msg);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, on_http, h);
  return h;
}

/* Sends @msg and waits for the answer (or the failure). */
ThTestHttp *
th_test_http_send (SoupSession *session,
                   SoupMessage *msg)
{
  ThTestHttp *h = th_test_http_start (session, msg);

  th_test_wait_until (h->done, TH_TEST_WAIT_MS);
  return h;
}

/* Only once it is done. */
void
th_test_http_free (ThTestHttp *h)
{
  g_clear_object (&h->msg);
  g_clear_pointer (&h->bytes, g_bytes_unref);
  g_free (h->body);
  g_clear_error (&h->error);
  g_free (h);
}

static void
on_ws_message (SoupWebsocketConnection *conn,
               gint                     type,
               GBytes                  *message,
               ThTestWs                *ws)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  gint64 *t = g_new (gint64, 1);

  /* The server sends text frames only. */
  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  *t = g_get_monotonic_time ();
  g_queue_push_tail (&ws->messages, g_strndup (data, len));
  g_queue_push_tail (&ws->times, t);
}

static void
on_ws_closed (SoupWebsocketConnection *conn,
              ThTestWs                *ws)
{
  ws->closed = TRUE;
  ws->close_code = soup_websocket_connection_get_close_code (conn);
}

static void
on_ws_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  ThTestWs *ws = data;

  ws->conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &ws->error);
  if (ws->conn != NULL)
    {
      soup_websocket_connection_set_max_incoming_payload_size (ws->conn, 16 * 1024 * 1024);
      g_signal_connect (ws->conn, "message", G_CALLBACK (on_ws_message), ws);
      g_signal_connect (ws->conn, "closed", G_CALLBACK (on_ws_closed), ws);
    }
  ws->done = TRUE;
}

/* Opens a WebSocket with @msg (Origin: @origin unless NULL) and waits for
 * the handshake to end: refused, it has @error set and @status says why. */
ThTestWs *
th_test_ws_connect (SoupSession *session,
                    SoupMessage *msg,
                    const char  *origin)
{
  ThTestWs *ws = g_new0 (ThTestWs, 1);

  soup_session_websocket_connect_async (session, msg, origin, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_ws_connected, ws);
  th_test_wait_until (ws->done, TH_TEST_WAIT_MS);
  ws->status = soup_message_get_status (msg);
  return ws;
}

/* A message to look at, or the connection closed: nothing more to wait
 * for. */
gboolean
th_test_ws_has_message (ThTestWs *ws)
{
  return !g_queue_is_empty (&ws->messages) || ws->closed;
}

void
th_test_ws_send (ThTestWs   *ws,
                 const char *text)
{
  soup_websocket_connection_send_text (ws->conn, text);
}

/* Closes the connection if it is open. */
void
th_test_ws_free (ThTestWs *ws)
{
  if (ws->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (ws->conn, ws);
      if (soup_websocket_connection_get_state (ws->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (ws->conn, 1000, NULL);
      g_object_unref (ws->conn);
    }
  g_queue_clear_full (&ws->messages, g_free);
  g_queue_clear_full (&ws->times, g_free);
  g_clear_error (&ws->error);
  g_free (ws);
}
