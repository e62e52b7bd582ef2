/* fake-ws-server.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "fake-ws-server.h"
#include "test-utils.h"

struct _FakeWs
{
  SoupServer      *server;
  char            *path;
  guint            port;
  GPtrArray       *conns;       /* SoupWebsocketConnection, open */
  GPtrArray       *received;    /* char * */
  char            *last_query;
  char            *last_path;
  guint            accepted;
  guint            pongs;
  guint            refuse_status;
  char            *refuse_body;
  guint            ping_seconds;
  FakeWsConnected  connected;
  FakeWsReceived   on_received;
  gpointer         data;

  /* REST history */
  FakeVenue        venue;
  char            *code;
  gint64           from, to;
  GArray          *holes;       /* gint64 pairs */
  ThClock         *clock;
  guint            fail_status;
  char            *fail_body;
  guint            limited;     /* the next requests answered 429 */
  char            *retry_after;
  gboolean         odd_rows;
  GPtrArray       *requests;    /* char*: path?query */
  guint            weight;

  /* Listings */
  FakeVenue        listing_venue;
  char           **listing;     /* base assets listed; NULL for no listing */
  guint            listing_requests;

  /* Binance's connection limits; 0 for none */
  guint            max_streams;
  guint            max_rate;      /* incoming messages a second per connection */
  guint            refused_streams;
  guint            cut_for_rate;
  guint            subscribed;    /* streams added by SUBSCRIBE, all connections */
  guint            listing_delay; /* ms */
  guint            unsubscribed;
};

/* Binance's live requests on one connection: {"method":"SUBSCRIBE"|
 * "UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS","params":[…],"id":N}, answered
 * {"result":null,"id":N}; more than max_streams in all is refused with
 * {"code":-1,"msg":…,"id":N}, a malformed request with code 2. */
static void
binance_request (FakeWs                  *ws,
                 SoupWebsocketConnection *conn,
                 const char              *text)
{
  GHashTable *streams = g_object_get_data (G_OBJECT (conn), "fake-streams");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *answer = NULL;
  JsonObject *obj;
  JsonArray *params = NULL;
  const char *method;
  gint64 id;

  if (!json_parser_load_from_data (parser, text, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      soup_websocket_connection_send_text (conn, "{\"code\":2,\"msg\":\"Invalid JSON\",\"id\":null}");
      return;
    }
  obj = json_node_get_object (json_parser_get_root (parser));
  method = json_object_get_string_member_with_default (obj, "method", "");
  id = json_object_get_int_member_with_default (obj, "id", 0);
  if (json_object_has_member (obj, "params") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, "params")))
    params = json_object_get_array_member (obj, "params");

  if (g_str_equal (method, "LIST_SUBSCRIPTIONS"))
    {
      g_autoptr(GString) out = g_string_new ("{\"result\":[");
      GHashTableIter iter;
      gpointer key;
      gboolean first = TRUE;

      g_hash_table_iter_init (&iter, streams);
      while (g_hash_table_iter_next (&iter, &key, NULL))
        {
          g_string_append_printf (out, "%s\"%s\"", first ? "" : ",", (char *) key);
          first = FALSE;
        }
      g_string_append_printf (out, "],\"id\":%" G_GINT64_FORMAT "}", id);
      soup_websocket_connection_send_text (conn, out->str);
      return;
    }
  if (params == NULL || (!g_str_equal (method, "SUBSCRIBE") && !g_str_equal (method, "UNSUBSCRIBE")))
    answer = g_strdup_printf ("{\"code\":2,\"msg\":\"Invalid request: unknown method or no params\",\"id\":%" G_GINT64_FORMAT "}", id);
  else if (g_str_equal (method, "SUBSCRIBE") && ws->max_streams > 0 &&
           g_hash_table_size (streams) + json_array_get_length (params) > ws->max_streams)
    answer = g_strdup_printf ("{\"code\":-1,\"msg\":\"Too many streams: at most %u per connection\",\"id\":%" G_GINT64_FORMAT "}",
                              ws->max_streams, id);
  else
    {
      for (guint i = 0; i < json_array_get_length (params); i++)
        {
          const char *name = json_array_get_string_element (params, i);

          if (name == NULL)
            continue;
          if (g_str_equal (method, "SUBSCRIBE"))
            ws->subscribed += g_hash_table_add (streams, g_strdup (name));
          else
            ws->unsubscribed += g_hash_table_remove (streams, name);
        }
      answer = g_strdup_printf ("{\"result\":null,\"id\":%" G_GINT64_FORMAT "}", id);
    }
  soup_websocket_connection_send_text (conn, answer);
}

static void
on_message (SoupWebsocketConnection *conn,
            SoupWebsocketDataType    type,
            GBytes                  *message,
            FakeWs                  *ws)
{
  gsize len;
  const char *text = g_bytes_get_data (message, &len);
  char *copy = g_strndup (text, len);

  if (ws->max_rate > 0)
    {
      /* Binance: over 5 incoming messages in a second, the connection is cut. */
      gint64 now = g_get_monotonic_time ();
      gint64 *window = g_object_get_data (G_OBJECT (conn), "fake-rate-window");
      guint count = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (conn), "fake-rate-count"));

      if (window == NULL)
        {
          window = g_new0 (gint64, 1);
          g_object_set_data_full (G_OBJECT (conn), "fake-rate-window", window, g_free);
        }
      if (now - *window >= G_USEC_PER_SEC)
        {
          *window = now;
          count = 0;
        }
      g_object_set_data (G_OBJECT (conn), "fake-rate-count", GUINT_TO_POINTER (++count));
      if (count > ws->max_rate)
        {
          ws->cut_for_rate++;
          g_ptr_array_add (ws->received, copy);
          soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "Too many requests");
          return;
        }
    }
  g_ptr_array_add (ws->received, copy);
  if (ws->max_rate > 0 && g_object_get_data (G_OBJECT (conn), "fake-streams") != NULL)
    binance_request (ws, conn, copy);
  if (ws->on_received != NULL)
    ws->on_received (ws, conn, copy, ws->data);
}

static void
on_closed (SoupWebsocketConnection *conn,
           FakeWs                  *ws)
{
  g_ptr_array_remove (ws->conns, conn);
}

static void
on_pong (SoupWebsocketConnection *conn,
         GBytes                  *message,
         FakeWs                  *ws)
{
  ws->pongs++;
}

static void
on_websocket (SoupServer              *server,
              SoupServerMessage       *msg,
              const char              *path,
              SoupWebsocketConnection *conn,
              gpointer                 user_data)
{
  FakeWs *ws = user_data;
  GUri *uri = soup_server_message_get_uri (msg);

  ws->accepted++;
  g_free (ws->last_query);
  ws->last_query = g_strdup (g_uri_get_query (uri));
  g_free (ws->last_path);
  ws->last_path = g_strdup (g_uri_get_path (uri));
  /* The handler only lends the connection. */
  g_ptr_array_add (ws->conns, g_object_ref (conn));
  soup_websocket_connection_set_max_incoming_payload_size (conn, 1024 * 1024);
  if (ws->max_streams > 0)
    {
      /* Binance: the streams named in the URL, then (UN)SUBSCRIBE. */
      GHashTable *streams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr(GHashTable) query = ws->last_query != NULL ? g_uri_parse_params (ws->last_query, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
      const char *names = query != NULL ? g_hash_table_lookup (query, "streams") : NULL;
      g_auto(GStrv) list = names != NULL ? g_strsplit (names, "/", -1) : NULL;

      for (guint i = 0; list != NULL && list[i] != NULL; i++)
        g_hash_table_add (streams, g_strdup (list[i]));
      g_object_set_data_full (G_OBJECT (conn), "fake-streams", streams, (GDestroyNotify) g_hash_table_unref);
    }
  if (ws->ping_seconds > 0)
    soup_websocket_connection_set_keepalive_interval (conn, ws->ping_seconds);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), ws);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), ws);
  g_signal_connect (conn, "pong", G_CALLBACK (on_pong), ws);
  if (ws->connected != NULL)
    ws->connected (ws, conn, ws->last_query, ws->data);
}

static void
on_early (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  FakeWs *ws = user_data;

  if (ws->max_streams > 0)
    {
      const char *streams = query != NULL ? g_hash_table_lookup (query, "streams") : NULL;
      g_auto(GStrv) names = streams != NULL ? g_strsplit (streams, "/", -1) : NULL;

      if (names != NULL && g_strv_length (names) > ws->max_streams)
        {
          static const char body[] = "{\"code\":-1102,\"msg\":\"Too many streams\"}";

          ws->refused_streams++;
          soup_server_message_set_status (msg, 400, NULL);
          soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
          return;
        }
    }
  if (ws->refuse_status == 0)
    return;
  soup_server_message_set_status (msg, ws->refuse_status, NULL);
  if (ws->refuse_body != NULL)
    soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY,
                                      ws->refuse_body, strlen (ws->refuse_body));
}

FakeWs *
fake_ws_new (const char *path)
{
  FakeWs *ws = g_new0 (FakeWs, 1);

  ws->server = th_test_soup_server_new (&ws->port);
  ws->path = g_strdup (path);
  ws->conns = g_ptr_array_new_with_free_func (g_object_unref);
  ws->received = g_ptr_array_new_with_free_func (g_free);
  soup_server_add_early_handler (ws->server, path, on_early, ws, NULL);
  soup_server_add_websocket_handler (ws->server, path, NULL, NULL, on_websocket, ws, NULL);
  return ws;
}

void
fake_ws_free (FakeWs *ws)
{
  for (guint i = 0; i < ws->conns->len; i++)
    g_signal_handlers_disconnect_by_data (ws->conns->pdata[i], ws);
  g_ptr_array_unref (ws->conns);
  soup_server_disconnect (ws->server);
  g_object_unref (ws->server);
  g_ptr_array_unref (ws->received);
  g_free (ws->last_query);
  g_free (ws->last_path);
  g_free (ws->refuse_body);
  g_free (ws->path);
  g_free (ws->code);
  g_clear_pointer (&ws->holes, g_array_unref);
  g_clear_object (&ws->clock);
  g_free (ws->fail_body);
  g_free (ws->retry_after);
  g_clear_pointer (&ws->requests, g_ptr_array_unref);
  g_strfreev (ws->listing);
  g_free (ws);
}

char *
fake_ws_url (FakeWs *ws)
{
  return g_strdup_printf ("ws://127.0.0.1:%u%s", ws->port, ws->path);
}

guint
fake_ws_port (FakeWs *ws)
{
  return ws->port;
}

void
fake_ws_set_handlers (FakeWs          *ws,
                      FakeWsConnected  connected,
                      FakeWsReceived   received,
                      gpointer         data)
{
  ws->connected = connected;
  ws->on_received = received;
  ws->data = data;
}

guint fake_ws_n_open (FakeWs *ws) { return ws->conns->len; }
guint fake_ws_n_accepted (FakeWs *ws) { return ws->accepted; }
guint fake_ws_n_pongs (FakeWs *ws) { return ws->pongs; }
const char *fake_ws_last_query (FakeWs *ws) { return ws->last_query; }
const char *fake_ws_last_path (FakeWs *ws) { return ws->last_path; }
GPtrArray *fake_ws_received (FakeWs *ws) { return ws->received; }

void
fake_ws_send (FakeWs     *ws,
              const char *text)
{
  for (guint i = 0; i < ws->conns->len; i++)
    if (soup_websocket_connection_get_state (ws->conns->pdata[i]) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ws->conns->pdata[i], text);
}

/* Writes a frame straight to the socket, bypassing libsoup's checks: how
 * the tests send what a well-behaved server never would (a text frame
 * that is not UTF-8). */
void
fake_ws_send_raw (FakeWs                *ws,
                  SoupWebsocketDataType  type,
                  const void            *data,
                  gsize                  length)
{
  guint8 header[10];
  gsize hlen = 2;

  header[0] = 0x80 | (type == SOUP_WEBSOCKET_DATA_TEXT ? 0x1 : 0x2);
  if (length < 126)
    header[1] = (guint8) length;
  else
    {
      g_assert_cmpuint (length, <=, G_MAXUINT16);
      header[1] = 126;
      header[2] = (guint8) (length >> 8);
      header[3] = (guint8) length;
      hlen = 4;
    }

  for (guint i = 0; i < ws->conns->len; i++)
    {
      GIOStream *io = soup_websocket_connection_get_io_stream (ws->conns->pdata[i]);
      GOutputStream *out = g_io_stream_get_output_stream (io);

      g_output_stream_write_all (out, header, hlen, NULL, NULL, NULL);
      g_output_stream_write_all (out, data, length, NULL, NULL, NULL);
      g_output_stream_flush (out, NULL, NULL);
    }
}

/* The TCP connection goes away without a close frame. */
void
fake_ws_drop (FakeWs *ws)
{
  g_autoptr(GPtrArray) conns = g_ptr_array_copy (ws->conns, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

  for (guint i = 0; i < conns->len; i++)
    g_io_stream_close (soup_websocket_connection_get_io_stream (conns->pdata[i]), NULL, NULL);
}

void
fake_ws_close (FakeWs     *ws,
               gushort     code,
               const char *reason)
{
  g_autoptr(GPtrArray) conns = g_ptr_array_copy (ws->conns, (GCopyFunc) (void (*) (void)) g_object_ref, NULL);

  for (guint i = 0; i < conns->len; i++)
    soup_websocket_connection_close (conns->pdata[i], code, reason);
}

void
fake_ws_refuse (FakeWs     *ws,
                guint       status,
                const char *body)
{
  ws->refuse_status = status;
  g_free (ws->refuse_body);
  ws->refuse_body = g_strdup (body);
}

void
fake_ws_ping_every (FakeWs *ws,
                    guint   seconds)
{
  ws->ping_seconds = seconds;
  for (guint i = 0; i < ws->conns->len; i++)
    soup_websocket_connection_set_keepalive_interval (ws->conns->pdata[i], seconds);
}

/* REST history */

ThCandle *
fake_venue_candle (FakeVenue  venue,
                   gint64     start,
                   gint64     duration,
                   gint64    *trades)
{
  gint64 n = start / duration;
  double base = 1000 + (double) (n % 500) + (venue == FAKE_VENUE_COINBASE ? 0.5 : venue == FAKE_VENUE_COINGECKO ? 0.25 : 0);
  ThCandle *c = th_candle_new (start, duration, base, base + 2, base - 1, base + 1,
                               venue == FAKE_VENUE_COINGECKO ? NAN : 10 + (double) (n % 7) + 0.125);

  c->closed = TRUE;
  if (trades != NULL)
    *trades = venue == FAKE_VENUE_BINANCE ? 100 + n % 13 : -1;
  return c;
}

static gboolean
has_candle (FakeWs *ws,
            gint64  start)
{
  if (start < ws->from || start >= ws->to)
    return FALSE;
  for (guint i = 0; ws->holes != NULL && i < ws->holes->len; i += 2)
    if (start >= g_array_index (ws->holes, gint64, i) && start < g_array_index (ws->holes, gint64, i + 1))
      return FALSE;
  return TRUE;
}

static void
respond (SoupServerMessage *msg,
         guint              status,
         const char        *body)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

/* What every venue does first: log, fail as told, rate limit as told. */
static gboolean
history_preamble (FakeWs            *ws,
                  SoupServerMessage *msg)
{
  GUri *uri = soup_server_message_get_uri (msg);
  const char *query = g_uri_get_query (uri);

  g_ptr_array_add (ws->requests, g_strdup_printf ("%s?%s", g_uri_get_path (uri), query != NULL ? query : ""));
  if (ws->limited > 0)
    {
      ws->limited--;
      if (ws->retry_after != NULL)
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", ws->retry_after);
      respond (msg, 429, ws->venue == FAKE_VENUE_BINANCE
                           ? "{\"code\":-1003,\"msg\":\"Too many requests; current limit is 6000 request weight per 1 MINUTE.\"}"
                           : "{\"message\":\"Too Many Requests\"}");
      return FALSE;
    }
  if (ws->fail_status != 0)
    {
      respond (msg, ws->fail_status, ws->fail_body != NULL ? ws->fail_body : "{}");
      return FALSE;
    }
  return TRUE;
}

static gint64
query_int (GHashTable *query,
           const char *name,
           gint64      fallback)
{
  const char *v = query != NULL ? g_hash_table_lookup (query, name) : NULL;
  gint64 n;

  if (v == NULL || !g_ascii_string_to_signed (v, 10, G_MININT64, G_MAXINT64, &n, NULL))
    return fallback;
  return n;
}

static void
on_klines (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  static const struct { const char *name; gint64 s; } intervals[] = {
    { "1m", 60 }, { "3m", 180 }, { "5m", 300 }, { "15m", 900 }, { "30m", 1800 }, { "1h", 3600 },
    { "2h", 7200 }, { "4h", 14400 }, { "6h", 21600 }, { "8h", 28800 }, { "12h", 43200 }, { "1d", 86400 },
  };
  FakeWs *ws = user_data;
  const char *symbol = query != NULL ? g_hash_table_lookup (query, "symbol") : NULL;
  const char *interval = query != NULL ? g_hash_table_lookup (query, "interval") : NULL;
  gint64 d = 0, start, end, limit, n = 0;
  g_autoptr(GString) out = g_string_new ("[");
  g_autofree char *weight = NULL;

  if (!history_preamble (ws, msg))
    return;
  ws->weight += 2;
  weight = g_strdup_printf ("%u", ws->weight);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "X-MBX-USED-WEIGHT-1M", weight);
  if (g_strcmp0 (symbol, ws->code) != 0)
    {
      respond (msg, 400, "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}");
      return;
    }
  for (guint i = 0; interval != NULL && i < G_N_ELEMENTS (intervals); i++)
    if (g_str_equal (interval, intervals[i].name))
      d = intervals[i].s * G_USEC_PER_SEC;
  if (d == 0)
    {
      respond (msg, 400, "{\"code\":-1120,\"msg\":\"Invalid interval.\"}");
      return;
    }
  limit = query_int (query, "limit", 500);
  if (limit < 1 || limit > 1000)
    {
      respond (msg, 400, "{\"code\":-1130,\"msg\":\"Data sent for parameter 'limit' is not valid.\"}");
      return;
    }
  start = query_int (query, "startTime", 0) * 1000;
  end = query_int (query, "endTime", G_MAXINT64 / 1000) * 1000;
  if (ws->odd_rows)
    /* A short row, prices that are not numbers, a start off the grid. */
    g_string_append_printf (out, "[%" G_GINT64_FORMAT "],[%" G_GINT64_FORMAT ",\"abc\",\"1\",\"1\",\"1\",\"1\",0,\"0\",1,\"0\",\"0\",\"0\"],"
                            "[%" G_GINT64_FORMAT ",\"1\",\"2\",\"0.5\",\"1\",\"1\",0,\"0\",1,\"0\",\"0\",\"0\"],",
                            start / 1000, start / 1000, start / 1000 + 7);
  for (gint64 t = start - (((start % d) + d) % d) + (start % d != 0 ? d : 0); t <= end && n < limit; t += d)
    {
      g_autoptr(ThCandle) c = NULL;
      gint64 trades;

      if (t >= ws->to)
        break;
      if (!has_candle (ws, t))
        continue;
      c = fake_venue_candle (FAKE_VENUE_BINANCE, t, d, &trades);
      g_string_append_printf (out, "%s[%" G_GINT64_FORMAT ",\"%.8f\",\"%.8f\",\"%.8f\",\"%.8f\",\"%.8f\",%" G_GINT64_FORMAT
                              ",\"0\",%" G_GINT64_FORMAT ",\"0\",\"0\",\"0\"]",
                              out->len > 1 && out->str[out->len - 1] != ',' ? "," : "", t / 1000,
                              c->open, c->high, c->low, c->close, c->volume, (t + d) / 1000 - 1, trades);
      n++;
    }
  if (out->str[out->len - 1] == ',')
    g_string_truncate (out, out->len - 1);
  g_string_append_c (out, ']');
  respond (msg, 200, out->str);
}

static gint64
iso_param (GHashTable *query,
           const char *name)
{
  const char *v = query != NULL ? g_hash_table_lookup (query, name) : NULL;
  g_autoptr(GDateTime) dt = v != NULL ? g_date_time_new_from_iso8601 (v, NULL) : NULL;

  return dt != NULL ? g_date_time_to_unix (dt) * G_USEC_PER_SEC : -1;
}

static void on_products (SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer user_data);

static void
answer_late (gpointer data)
{
  SoupServerMessage *msg = data;

  respond (msg, 200, g_object_get_data (G_OBJECT (msg), "fake-body"));
  soup_server_message_unpause (msg);
  g_object_unref (msg);
}

/* Listings: each venue's shape, every base asset of ws->listing, plus
 * entries a feed must skip (other quotes, halted symbols). */
static void
on_listing (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  FakeWs *ws = user_data;
  g_autoptr(GString) out = g_string_new (NULL);

  ws->listing_requests++;
  if (ws->requests == NULL)
    ws->requests = g_ptr_array_new_with_free_func (g_free);
  if (!history_preamble (ws, msg))
    return;
  switch (ws->listing_venue)
    {
    case FAKE_VENUE_BINANCE:
      g_string_append (out, "{\"timezone\":\"UTC\",\"serverTime\":1672515782136,\"rateLimits\":[],\"symbols\":[");
      g_string_append (out, "{\"symbol\":\"HALTUSDT\",\"status\":\"BREAK\",\"baseAsset\":\"HALT\",\"quoteAsset\":\"USDT\"}");
      for (guint i = 0; ws->listing[i] != NULL; i++)
        g_string_append_printf (out, ",{\"symbol\":\"%sBTC\",\"status\":\"TRADING\",\"baseAsset\":\"%s\",\"quoteAsset\":\"BTC\"}"
                                ",{\"symbol\":\"%sUSDT\",\"status\":\"TRADING\",\"baseAsset\":\"%s\",\"quoteAsset\":\"USDT\","
                                "\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.01\"}]}",
                                ws->listing[i], ws->listing[i], ws->listing[i], ws->listing[i]);
      g_string_append (out, "]}");
      break;
    case FAKE_VENUE_COINBASE:
      g_string_append (out, "[{\"id\":\"HALT-USD\",\"base_currency\":\"HALT\",\"quote_currency\":\"USD\",\"status\":\"delisted\"}");
      for (guint i = 0; ws->listing[i] != NULL; i++)
        g_string_append_printf (out, ",{\"id\":\"%s-EUR\",\"base_currency\":\"%s\",\"quote_currency\":\"EUR\",\"status\":\"online\"}"
                                ",{\"id\":\"%s-USD\",\"base_currency\":\"%s\",\"quote_currency\":\"USD\",\"status\":\"online\","
                                "\"trading_disabled\":false}",
                                ws->listing[i], ws->listing[i], ws->listing[i], ws->listing[i]);
      g_string_append (out, "]");
      break;
    default:
      /* CoinCap v3 wants the key, here as a bearer token. */
      if (!g_str_has_prefix (soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization") ?: "",
                             "Bearer "))
        {
          respond (msg, 401, "{\"error\":\"Unauthorized\"}");
          return;
        }
      g_string_append (out, "{\"data\":[");
      for (guint i = 0; ws->listing[i] != NULL; i++)
        {
          g_autofree char *id = g_ascii_strdown (ws->listing[i], -1);

          g_string_append_printf (out, "%s{\"id\":\"%s-coin\",\"rank\":\"%u\",\"symbol\":\"%s\",\"priceUsd\":\"1.5\"}",
                                  i > 0 ? "," : "", id, i + 1, ws->listing[i]);
        }
      g_string_append (out, "],\"timestamp\":1672515782136}");
      break;
    }
  if (ws->listing_delay > 0)
    {
      /* A slow venue: the answer comes later, the server goes on. */
      g_object_set_data_full (G_OBJECT (msg), "fake-body", g_string_free (g_steal_pointer (&out), FALSE), g_free);
      soup_server_message_pause (msg);
      g_timeout_add_once (ws->listing_delay, answer_late, g_object_ref (msg));
      return;
    }
  respond (msg, 200, out->str);
}

void
fake_ws_listing_delay (FakeWs *ws,
                       guint   ms)
{
  ws->listing_delay = ms;
}

void
fake_ws_serve_listing (FakeWs            *ws,
                       FakeVenue          venue,
                       const char *const *bases)
{
  ws->listing_venue = venue;
  g_strfreev (ws->listing);
  ws->listing = g_strdupv ((char **) bases);
  switch (venue)
    {
    case FAKE_VENUE_BINANCE:
      soup_server_add_handler (ws->server, "/api/v3/exchangeInfo", on_listing, ws, NULL);
      break;
    case FAKE_VENUE_COINBASE:
      soup_server_add_handler (ws->server, "/products", on_products, ws, NULL);
      break;
    default:
      soup_server_add_handler (ws->server, "/v3/assets", on_listing, ws, NULL);
      break;
    }
}

void
fake_ws_binance_limits (FakeWs *ws,
                        guint   max_streams,
                        guint   max_rate)
{
  ws->max_streams = max_streams;
  ws->max_rate = max_rate;
}

guint
fake_ws_open_streams (FakeWs *ws)
{
  guint n = 0;

  for (guint i = 0; i < ws->conns->len; i++)
    {
      GHashTable *streams = g_object_get_data (ws->conns->pdata[i], "fake-streams");

      n += streams != NULL ? g_hash_table_size (streams) : 0;
    }
  return n;
}

guint
fake_ws_subscribed (FakeWs *ws)
{
  return ws->subscribed;
}

guint
fake_ws_refused_streams (FakeWs *ws)
{
  return ws->refused_streams;
}

guint
fake_ws_cut_for_rate (FakeWs *ws)
{
  return ws->cut_for_rate;
}

guint
fake_ws_listing_requests (FakeWs *ws)
{
  return ws->listing_requests;
}

static void
on_products (SoupServer        *server,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  FakeWs *ws = user_data;
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  gint64 g = query_int (query, "granularity", 0), start, end;
  g_autoptr(GString) out = g_string_new ("[");

  if (ws->listing != NULL && (g_str_equal (path, "/products") || g_str_equal (path, "/products/")))
    {
      on_listing (server, msg, path, query, user_data);
      return;
    }
  if (!history_preamble (ws, msg))
    return;
  /* "", "products", id, "candles" */
  if (g_strv_length (parts) != 4 || !g_str_equal (parts[3], "candles") || g_strcmp0 (parts[2], ws->code) != 0)
    {
      respond (msg, 404, "{\"message\":\"NotFound\"}");
      return;
    }
  if (g != 60 && g != 300 && g != 900 && g != 3600 && g != 21600 && g != 86400)
    {
      respond (msg, 400, "{\"message\":\"Unsupported granularity\"}");
      return;
    }
  g *= G_USEC_PER_SEC;
  start = iso_param (query, "start");
  end = iso_param (query, "end");
  if (start < 0 || end < start)
    {
      respond (msg, 400, "{\"message\":\"Invalid start or end\"}");
      return;
    }
  if ((end - start) / g + 1 > 300)
    {
      respond (msg, 400, "{\"message\":\"granularity too small for the requested time range. "
                         "Count of aggregations requested exceeds 300\"}");
      return;
    }
  if (ws->odd_rows)
    g_string_append (out, "[1],[\"x\",1,2,1,1,1],");
  /* Newest first. */
  for (gint64 t = end - (((end % g) + g) % g); t >= start; t -= g)
    {
      g_autoptr(ThCandle) c = NULL;

      if (!has_candle (ws, t))
        continue;
      c = fake_venue_candle (FAKE_VENUE_COINBASE, t, g, NULL);
      g_string_append_printf (out, "[%" G_GINT64_FORMAT ",%.8f,%.8f,%.8f,%.8f,%.8f],", t / G_USEC_PER_SEC,
                              c->low, c->high, c->open, c->close, c->volume);
    }
  if (out->str[out->len - 1] == ',')
    g_string_truncate (out, out->len - 1);
  g_string_append_c (out, ']');
  respond (msg, 200, out->str);
}

static void
on_coins (SoupServer        *server,
          SoupServerMessage *msg,
          const char        *path,
          GHashTable        *query,
          gpointer           user_data)
{
  FakeWs *ws = user_data;
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  gint64 days = query_int (query, "days", 0), now, d, since;
  g_autoptr(GString) out = g_string_new ("[");

  if (!history_preamble (ws, msg))
    return;
  /* "", "coins", id, "ohlc" */
  if (g_strv_length (parts) != 4 || !g_str_equal (parts[3], "ohlc") || g_strcmp0 (parts[2], ws->code) != 0)
    {
      respond (msg, 404, "{\"error\":\"coin not found\"}");
      return;
    }
  if (days < 1)
    {
      respond (msg, 400, "{\"error\":\"invalid days\"}");
      return;
    }
  /* CoinGecko's automatic granularity; rows stamped with their close. */
  d = (days <= 2 ? 1800 : days <= 30 ? 14400 : 4 * 86400) * G_USEC_PER_SEC;
  now = th_clock_get_time (ws->clock);
  since = now - days * 86400 * G_USEC_PER_SEC;
  for (gint64 t = since - (((since % d) + d) % d); t + d <= now; t += d)
    {
      g_autoptr(ThCandle) c = NULL;

      if (t + d <= since || !has_candle (ws, t))
        continue;
      c = fake_venue_candle (FAKE_VENUE_COINGECKO, t, d, NULL);
      g_string_append_printf (out, "[%" G_GINT64_FORMAT ",%.8f,%.8f,%.8f,%.8f],", (t + d) / 1000,
                              c->open, c->high, c->low, c->close);
    }
  if (out->str[out->len - 1] == ',')
    g_string_truncate (out, out->len - 1);
  g_string_append_c (out, ']');
  respond (msg, 200, out->str);
}

void
fake_ws_serve_history (FakeWs     *ws,
                       FakeVenue   venue,
                       const char *code,
                       gint64      from,
                       gint64      to,
                       ThClock    *clock)
{
  ws->venue = venue;
  g_free (ws->code);
  ws->code = g_strdup (code);
  ws->from = from;
  ws->to = to;
  g_set_object (&ws->clock, clock);
  if (ws->requests == NULL)
    ws->requests = g_ptr_array_new_with_free_func (g_free);
  if (ws->holes == NULL)
    ws->holes = g_array_new (FALSE, FALSE, sizeof (gint64));
  switch (venue)
    {
    case FAKE_VENUE_BINANCE:
      soup_server_add_handler (ws->server, "/api/v3/klines", on_klines, ws, NULL);
      break;
    case FAKE_VENUE_COINBASE:
      soup_server_add_handler (ws->server, "/products", on_products, ws, NULL);
      break;
    case FAKE_VENUE_COINGECKO:
      soup_server_add_handler (ws->server, "/coins", on_coins, ws, NULL);
      break;
    case FAKE_VENUE_COINCAP:   /* no history */
      break;
    }
}

void
fake_ws_history_hole (FakeWs *ws,
                      gint64  from,
                      gint64  to)
{
  g_array_append_val (ws->holes, from);
  g_array_append_val (ws->holes, to);
}

void
fake_ws_history_fail (FakeWs     *ws,
                      guint       status,
                      const char *body)
{
  ws->fail_status = status;
  g_free (ws->fail_body);
  ws->fail_body = g_strdup (body);
}

void
fake_ws_history_rate_limit (FakeWs     *ws,
                            guint       n,
                            const char *retry_after)
{
  ws->limited = n;
  g_free (ws->retry_after);
  ws->retry_after = g_strdup (retry_after);
}

void
fake_ws_history_odd_rows (FakeWs   *ws,
                          gboolean  odd)
{
  ws->odd_rows = odd;
}

/* Binance's X-MBX-USED-WEIGHT-1M so far; each klines call adds 2. */
void
fake_ws_history_weight (FakeWs *ws,
                        guint   used)
{
  ws->weight = used;
}

GPtrArray *
fake_ws_history_requests (FakeWs *ws)
{
  return ws->requests;
}
