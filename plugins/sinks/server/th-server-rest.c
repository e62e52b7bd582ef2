/* th-server-rest.c: REST endpoints, CORS, /healthz, /metrics
 *
 * Every answer is JSON (but /metrics), with CORS headers when the request's
 * Origin is allowed; errors are {"error":{"code","message"}} with the
 * right status: 400 bad parameters, 404 unknown path or symbol, 405 wrong
 * method (with Allow), 503 no fresh price. Messages name what the client
 * sent, never anything internal.
 *
 * GET /api/v1/price/{SYMBOL} without a fresh price waits up to
 * [server] price-wait seconds (default 2) for one, without blocking: the
 * message is paused and answered when th_hub_get_price_async() completes,
 * with the symbol's first price or at the deadline (the hub has asked the
 * feeds that can fetch on demand).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "th-server-private.h"
#include "th-private.h"

#define DEFAULT_CANDLES 100
#define MAX_CANDLES     10000

/* A paused request waiting for th_hub_get_price_async(). The async call
 * owns it; the server lists it until it is answered, which may happen
 * first when the server stops: then @msg is NULL and the callback only
 * frees it. */
typedef struct
{
  ThServer          *server;
  SoupServerMessage *msg;
  GCancellable      *cancellable;
  ThServerHistoryQuery history;   /* a history query's */
} PriceWaiter;

/* JSON helpers */

void
th_server_json_add_number (JsonBuilder *builder,
                           const char  *name,
                           double       value)
{
  json_builder_set_member_name (builder, name);
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}


/* The REST price object: symbol, price, bid, ask, volume, change, source,
 * timestamp, age_ms, and market ("open"/"closed") for a symbol whose
 * market has hours. @now is the hub clock's time. */
JsonNode *
th_server_tick_to_node (ThHub  *hub,
                        ThTick *tick,
                        gint64  now)
{
  const char *market = th_hub_get_market (hub, tick->symbol);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *ts = th_format_time (tick->exchange_time);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, tick->symbol);
  th_server_json_add_number (b, "price", tick->price);
  th_server_json_add_number (b, "bid", tick->bid);
  th_server_json_add_number (b, "ask", tick->ask);
  th_server_json_add_number (b, "volume", tick->volume_24h);
  th_server_json_add_number (b, "change", tick->change_24h);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, tick->source);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, ts);
  if (tick->quote != NULL)
    {
      json_builder_set_member_name (b, "quote");
      json_builder_add_string_value (b, tick->quote);
    }
  if (tick->n_sources > 0)
    {
      /* [prices] divergence: the comparison of the fresh sources. */
      json_builder_set_member_name (b, "sources");
      json_builder_add_int_value (b, tick->n_sources);
      th_server_json_add_number (b, "spread_bps", round (tick->spread_bps * 100) / 100);
    }
  json_builder_set_member_name (b, "age_ms");
  json_builder_add_int_value (b, MAX (0, (now - tick->receive_time) / 1000));
  if (market != NULL)
    {
      json_builder_set_member_name (b, "market");
      json_builder_add_string_value (b, market);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Responses */

void
th_server_add_cors (ThServer          *self,
                    SoupServerMessage *msg)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *origin = soup_message_headers_get_one (req, "Origin");

  if (origin == NULL)
    {
      soup_message_headers_replace (resp, "Access-Control-Allow-Origin", "*");
      return;
    }
  if (!th_server_origin_allowed (self, origin))
    return;   /* no CORS headers: the browser refuses the answer */
  soup_message_headers_replace (resp, "Access-Control-Allow-Origin", origin);
  soup_message_headers_append (resp, "Vary", "Origin");
}

static void
set_body (ThServer          *self,
          SoupServerMessage *msg,
          guint              status,
          const char        *content_type,
          char              *body,      /* transfer full */
          gsize              length)
{
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);

  th_server_get_stats (self)->http_requests++;
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (resp, "Cache-Control", "no-store");
  th_server_add_cors (self, msg);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, length);
}

void
th_server_send_json (ThServer          *self,
                     SoupServerMessage *msg,
                     guint              status,
                     JsonNode          *body)
{
  gsize length;
  char *text = th_json_to_string (body, &length);

  set_body (self, msg, status, "application/json", text, length);
}

void
th_server_send_error (ThServer          *self,
                      SoupServerMessage *msg,
                      guint              status,
                      const char        *code,
                      const char        *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, status, root);
}

/* Paths */

/* The symbol of /prefix/{SYMBOL}, upper case, or NULL (a 404 is sent)
 * when it is not a configured symbol. */
static char *
path_symbol (ThServer          *self,
             SoupServerMessage *msg,
             const char        *rest)
{
  g_autofree char *symbol = NULL;
  g_autofree char *text = NULL;
  gboolean plain = *rest != '\0' && strlen (rest) <= 32;

  for (const char *p = rest; plain && *p != '\0'; p++)
    plain = g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.';
  if (plain)
    {
      symbol = g_ascii_strup (rest, -1);
      if (th_hub_has_symbol (th_server_get_hub (self), symbol))
        return g_steal_pointer (&symbol);
      text = g_strdup_printf ("unknown symbol “%s”", symbol);
    }
  th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown_symbol",
                        text != NULL ? text : "not a symbol");
  return NULL;
}

static gint64
hub_now (ThServer *self)
{
  return th_clock_get_time (th_hub_get_clock (th_server_get_hub (self)));
}

static void
answer_price (ThServer          *self,
              SoupServerMessage *msg,
              ThTick            *tick,
              const GError      *error)
{
  if (tick != NULL)
    {
      g_autoptr(JsonNode) node = th_server_tick_to_node (self->hub, tick, hub_now (self));

      th_server_send_json (self, msg, SOUP_STATUS_OK, node);
    }
  else if (g_error_matches (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL))
    th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "unknown_symbol", error->message);
  else
    th_server_send_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "no_source",
                          error != NULL ? error->message : "no fresh price");
}

static void
waiter_free (PriceWaiter *w)
{
  g_clear_object (&w->msg);
  g_clear_object (&w->cancellable);
  th_server_history_query_clear (&w->history);
  g_free (w);
}

static void
on_price (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  PriceWaiter *w = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = th_hub_get_price_finish (TH_HUB (source), result, &error);

  if (w->msg != NULL)   /* not answered already */
    {
      g_ptr_array_remove_fast (th_server_get_price_waiters (w->server), w);
      answer_price (w->server, w->msg, tick, error);
      soup_server_message_unpause (w->msg);
    }
  waiter_free (w);
}

void
th_server_rest_stop (ThServer *self)
{
  GPtrArray *waiters = th_server_get_price_waiters (self);

  while (waiters->len > 0)
    {
      PriceWaiter *w = g_ptr_array_steal_index_fast (waiters, waiters->len - 1);

      th_server_send_error (self, w->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable",
                            "the server is stopping");
      soup_server_message_unpause (w->msg);
      g_clear_object (&w->msg);
      g_cancellable_cancel (w->cancellable);
    }
}

static void
get_price (ThServer          *self,
           SoupServerMessage *msg,
           const char        *rest)
{
  g_autofree char *symbol = path_symbol (self, msg, rest);
  PriceWaiter *w;

  if (symbol == NULL)
    return;

  /* Answered at once when a source is fresh; otherwise the hub has asked
   * the on-demand feeds, and the request waits a little, paused. */
  w = g_new0 (PriceWaiter, 1);
  w->server = self;
  w->msg = g_object_ref (msg);
  w->cancellable = g_cancellable_new ();
  g_ptr_array_add (th_server_get_price_waiters (self), w);
  soup_server_message_pause (msg);
  th_hub_get_price_async (th_server_get_hub (self), symbol, (guint) (th_server_get_price_wait (self) * 1000),
                          w->cancellable, on_price, w);
}

static void
get_prices (ThServer          *self,
            SoupServerMessage *msg)
{
  ThHub *hub = th_server_get_hub (self);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *ts = th_format_time (g_get_real_time ());
  gint64 now = hub_now (self);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prices");
  json_builder_begin_object (b);
  for (guint i = 0; symbols != NULL && symbols[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThTick) tick = th_hub_get_price (hub, symbols[i], &error);

      if (tick != NULL)
        {
          json_builder_set_member_name (b, symbols[i]);
          json_builder_add_value (b, th_server_tick_to_node (self->hub, tick, now));
        }
      else
        {
          g_ptr_array_add (missing, g_strdup (symbols[i]));
          g_ptr_array_add (reasons, g_strdup (error != NULL ? error->message : "no fresh price"));
        }
    }
  json_builder_end_object (b);
  /* Symbols without a fresh price, with the reason (never a stale price). */
  json_builder_set_member_name (b, "unavailable");
  json_builder_begin_object (b);
  for (guint i = 0; i < missing->len; i++)
    {
      json_builder_set_member_name (b, missing->pdata[i]);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, "no_source");
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, reasons->pdata[i]);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, ts);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

static void
get_sources (ThServer          *self,
             SoupServerMessage *msg)
{
  ThHub *hub = th_server_get_hub (self);
  ThPriceBook *book = th_hub_get_price_book (hub);
  g_auto(GStrv) sources = th_hub_list_sources (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sources");
  json_builder_begin_array (b);
  for (guint i = 0; sources != NULL && sources[i] != NULL; i++)
    {
      g_autofree char *reason = NULL;
      ThSourceState state = th_hub_get_source_state (hub, sources[i], &reason);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, sources[i]);
      json_builder_set_member_name (b, "rank");
      json_builder_add_int_value (b, i + 1);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, th_source_state_to_string (state));
      json_builder_set_member_name (b, "reason");
      if (reason != NULL)
        json_builder_add_string_value (b, reason);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "ttl");
      json_builder_add_double_value (b, th_price_book_get_ttl (book, sources[i]) / (double) G_USEC_PER_SEC);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "selected");
  json_builder_begin_object (b);
  for (guint i = 0; symbols != NULL && symbols[i] != NULL; i++)
    {
      const char *selected = th_price_book_get_selected (book, symbols[i]);

      json_builder_set_member_name (b, symbols[i]);
      if (selected != NULL)
        json_builder_add_string_value (b, selected);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

/* The timeframe of ?timeframe= (default: the first configured), or FALSE
 * with a 400 sent. */
static gboolean
query_timeframe (ThServer          *self,
                 SoupServerMessage *msg,
                 GHashTable        *query,
                 char             **name,
                 gint64            *duration)
{
  g_auto(GStrv) timeframes = th_hub_list_timeframes (th_server_get_hub (self));
  const char *text = query != NULL ? g_hash_table_lookup (query, "timeframe") : NULL;
  g_autofree char *list = g_strjoinv (", ", timeframes);
  g_autofree char *message = NULL;
  gint64 d = 0;

  if (text == NULL && timeframes[0] != NULL)
    text = timeframes[0];
  if (text != NULL && strlen (text) <= 16 && th_parse_timeframe (text, &d, NULL))
    for (guint i = 0; timeframes[i] != NULL; i++)
      {
        gint64 t;

        if (th_parse_timeframe (timeframes[i], &t, NULL) && t == d)
          {
            *name = g_strdup (timeframes[i]);
            *duration = d;
            return TRUE;
          }
      }
  message = g_strdup_printf ("timeframe must be one of %s", list);
  th_server_send_error (self, msg, SOUP_STATUS_BAD_REQUEST, "bad_request", message);
  return FALSE;
}

static void
get_candles (ThServer          *self,
             SoupServerMessage *msg,
             const char        *rest,
             GHashTable        *query)
{
  g_autofree char *symbol = NULL;
  g_autofree char *timeframe = NULL;
  const char *limit_text = query != NULL ? g_hash_table_lookup (query, "limit") : NULL;
  guint64 limit = DEFAULT_CANDLES;
  gint64 duration;
  g_autoptr(GPtrArray) candles = NULL;
  GString *out;

  if (limit_text != NULL && !g_ascii_string_to_unsigned (limit_text, 10, 1, MAX_CANDLES, &limit, NULL))
    {
      th_server_send_error (self, msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
                            "limit must be a whole number from 1 to 10000");
      return;
    }
  if ((symbol = path_symbol (self, msg, rest)) == NULL)
    return;
  if (!query_timeframe (self, msg, query, &timeframe, &duration))
    return;

  candles = th_hub_get_candles (th_server_get_hub (self), symbol, duration, (guint) limit);
  /* Symbol and timeframe are checked, plain ASCII: written as they are. */
  out = g_string_sized_new (64 + (candles != NULL ? candles->len * 160 : 0));
  g_string_append_printf (out, "{\"symbol\":\"%s\",\"timeframe\":\"%s\",\"candles\":[", symbol, timeframe);
  for (guint i = 0; candles != NULL && i < candles->len; i++)
    {
      g_autofree char *json = th_candle_to_json (candles->pdata[i]);

      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append (out, json);
    }
  g_string_append (out, "]}");
  {
    gsize len = out->len;

    set_body (self, msg, SOUP_STATUS_OK, "application/json", g_string_free (out, FALSE), len);
  }
}

/* History (th-server-history.c has the parameters and the body) */

static void
on_history (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PriceWaiter *w = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = th_server_history_finish (TH_HUB (source), &w->history, result, &error);

  if (w->msg != NULL)   /* not answered already */
    {
      g_ptr_array_remove_fast (th_server_get_price_waiters (w->server), w);
      if (items != NULL)
        {
          gsize length;
          char *body = th_server_history_body (&w->history, items, &length);

          set_body (w->server, w->msg, SOUP_STATUS_OK, "application/json", body, length);
        }
      else
        {
          const char *code;
          guint status = th_server_history_error (error, &code);

          th_server_send_error (w->server, w->msg, status, code, error->message);
        }
      soup_server_message_unpause (w->msg);
    }
  waiter_free (w);
}

/* /api/v1/history/{SYMBOL} and /api/v1/history/{SYMBOL}/ticks */
static void
get_history (ThServer          *self,
             SoupServerMessage *msg,
             const char        *rest,
             GHashTable        *query)
{
  g_autofree char *symbol = NULL;
  g_autofree char *message = NULL;
  ThServerHistoryArgs args = { 0 };
  const char *code;
  PriceWaiter *w;

  args.ticks = g_str_has_suffix (rest, "/ticks");
  symbol = args.ticks ? g_strndup (rest, strlen (rest) - strlen ("/ticks")) : g_strdup (rest);
  args.symbol = symbol;
  if (query != NULL)
    {
      args.timeframe = g_hash_table_lookup (query, "timeframe");
      args.from = g_hash_table_lookup (query, "from");
      args.to = g_hash_table_lookup (query, "to");
      args.days = g_hash_table_lookup (query, "days");
      args.limit = g_hash_table_lookup (query, "limit");
      args.format = g_hash_table_lookup (query, "format");
    }

  w = g_new0 (PriceWaiter, 1);
  if (!th_server_history_parse (self, &args, &w->history, &code, &message))
    {
      th_server_send_error (self, msg, g_str_equal (code, "unknown_symbol") ? SOUP_STATUS_NOT_FOUND
                                                                           : SOUP_STATUS_BAD_REQUEST,
                            code, message);
      waiter_free (w);
      return;
    }

  /* The store reads in a thread; the request waits, paused. */
  w->server = self;
  w->msg = g_object_ref (msg);
  w->cancellable = g_cancellable_new ();
  g_ptr_array_add (th_server_get_price_waiters (self), w);
  soup_server_message_pause (msg);
  th_server_history_run (self, &w->history, w->cancellable, on_history, w);
}

static void
get_indicators (ThServer          *self,
                SoupServerMessage *msg,
                const char        *rest,
                GHashTable        *query)
{
  g_autofree char *symbol = NULL;
  g_autofree char *timeframe = NULL;
  gint64 duration;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  JsonNode *values;

  if ((symbol = path_symbol (self, msg, rest)) == NULL)
    return;
  if (!query_timeframe (self, msg, query, &timeframe, &duration))
    return;

  values = th_server_get_indicators (self, symbol, timeframe);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, symbol);
  json_builder_set_member_name (b, "timeframe");
  json_builder_add_string_value (b, timeframe);
  /* null until the first technical_indicators_update of the series */
  json_builder_set_member_name (b, "indicators");
  if (values != NULL)
    json_builder_add_value (b, values);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

/* Monitoring */

static void
get_ws_status (ThServer          *self,
               SoupServerMessage *msg)
{
  ThServerStats *stats = th_server_get_stats (self);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  GList *rooms = th_server_list_rooms (self);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_set_member_name (b, "transports");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "websocket");
  if (th_server_get_socketio (self))
    {
      json_builder_add_string_value (b, "socket.io/polling");
      json_builder_add_string_value (b, "socket.io/websocket");
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "active_connections");
  json_builder_add_int_value (b, th_server_count_clients (self));
  json_builder_set_member_name (b, "max_connections");
  json_builder_add_int_value (b, th_server_get_max_connections (self));
  json_builder_set_member_name (b, "connections_total");
  json_builder_add_int_value (b, (gint64) stats->connections);
  json_builder_set_member_name (b, "refused_total");
  json_builder_add_int_value (b, (gint64) stats->refused);
  json_builder_set_member_name (b, "messages_sent");
  json_builder_add_int_value (b, (gint64) stats->sent_messages);
  json_builder_set_member_name (b, "bytes_sent");
  json_builder_add_int_value (b, (gint64) stats->sent_bytes);
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, (gint64) stats->dropped);
  json_builder_set_member_name (b, "rooms");
  json_builder_begin_object (b);
  for (GList *l = rooms; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_int_value (b, th_server_count_room (self, l->data));
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "uptime");
  json_builder_add_double_value (b, (g_get_real_time () - th_server_get_start_time (self)) / (double) G_USEC_PER_SEC);
  json_builder_end_object (b);
  g_list_free (rooms);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

static int
compare_clients (gconstpointer a,
                 gconstpointer b)
{
  gint64 ta = ((const ThServerClient *) a)->connected_at;
  gint64 tb = ((const ThServerClient *) b)->connected_at;

  return ta < tb ? -1 : ta > tb;
}

static void
get_ws_connections (ThServer          *self,
                    SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  GList *clients = g_list_sort (th_server_list_clients (self), compare_clients);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, g_list_length (clients));
  json_builder_set_member_name (b, "connections");
  json_builder_begin_array (b);
  for (GList *l = clients; l != NULL; l = l->next)
    {
      ThServerClient *c = l->data;
      g_autofree char *since = th_format_time (c->connected_at);
      GList *rooms = g_list_sort (g_hash_table_get_keys (c->rooms), (GCompareFunc) strcmp);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "client_id");
      json_builder_add_string_value (b, c->id);
      json_builder_set_member_name (b, "transport");
      json_builder_add_string_value (b, th_server_client_transport_name (c));
      json_builder_set_member_name (b, "remote_address");
      json_builder_add_string_value (b, c->remote);
      json_builder_set_member_name (b, "origin");
      if (c->origin != NULL)
        json_builder_add_string_value (b, c->origin);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "connected_at");
      json_builder_add_string_value (b, since);
      json_builder_set_member_name (b, "rooms");
      json_builder_begin_array (b);
      for (GList *r = rooms; r != NULL; r = r->next)
        json_builder_add_string_value (b, r->data);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "queued_bytes");
      json_builder_add_int_value (b, (gint64) c->transport->get_queued (c));
      json_builder_set_member_name (b, "messages_sent");
      json_builder_add_int_value (b, (gint64) c->sent_messages);
      json_builder_set_member_name (b, "bytes_sent");
      json_builder_add_int_value (b, (gint64) c->sent_bytes);
      json_builder_set_member_name (b, "dropped");
      json_builder_add_int_value (b, (gint64) c->dropped);
      json_builder_end_object (b);
      g_list_free (rooms);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_list_free (clients);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

static void
get_ws_rooms (ThServer          *self,
              SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  GList *rooms = th_server_list_rooms (self);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "rooms");
  json_builder_begin_object (b);
  for (GList *l = rooms; l != NULL; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "members");
      json_builder_add_int_value (b, th_server_count_room (self, l->data));
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_list_free (rooms);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

static void
get_healthz (ThServer          *self,
             SoupServerMessage *msg)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_set_member_name (b, "uptime");
  json_builder_add_double_value (b, (g_get_real_time () - th_server_get_start_time (self)) / (double) G_USEC_PER_SEC);
  json_builder_set_member_name (b, "connections");
  json_builder_add_int_value (b, th_server_count_clients (self));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  th_server_send_json (self, msg, SOUP_STATUS_OK, root);
}

static void
get_metrics (ThServer          *self,
             SoupServerMessage *msg)
{
  char *text = th_server_render_metrics (self);

  set_body (self, msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", text, strlen (text));
}

/* Dispatch */

static void
rest_handler (SoupServer        *soup,
              SoupServerMessage *msg,
              const char        *path,
              GHashTable        *query,
              gpointer           user_data)
{
  ThServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  gboolean known = TRUE;
  const char *rest = NULL;

  /* The dashboard, /docs and /api/v1/openapi.json: public files. */
  if (th_server_dashboard_handle (self, msg, path))
    return;

  if (g_str_has_prefix (path, "/api/v1/price/"))
    rest = path + strlen ("/api/v1/price/");
  else if (g_str_has_prefix (path, "/api/v1/candles/"))
    rest = path + strlen ("/api/v1/candles/");
  else if (g_str_has_prefix (path, "/api/v1/indicators/"))
    rest = path + strlen ("/api/v1/indicators/");
  else if (g_str_has_prefix (path, "/api/v1/history/"))
    rest = path + strlen ("/api/v1/history/");
  else
    known = g_str_equal (path, "/api/v1/prices") || g_str_equal (path, "/api/v1/sources") ||
            g_str_equal (path, "/websocket/status") || g_str_equal (path, "/websocket/connections") ||
            g_str_equal (path, "/websocket/rooms") || g_str_equal (path, "/healthz") ||
            g_str_equal (path, "/metrics");

  if (!known)
    {
      /* With authentication on, only the public paths answer without a
       * token: a 404 would tell anyone which paths exist. */
      if (th_server_get_auth (self) != NULL &&
          !th_server_auth_check_request (self, msg, query, FALSE, "an HTTP request"))
        {
          th_server_get_stats (self)->http_requests++;
          return;
        }
      th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such endpoint");
      return;
    }

  if (method == SOUP_METHOD_OPTIONS)
    {
      /* CORS preflight */
      SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
      const char *origin = soup_message_headers_get_one (req, "Origin");

      th_server_get_stats (self)->http_requests++;
      soup_message_headers_replace (resp, "Allow", "GET, HEAD, OPTIONS");
      if (origin != NULL && !th_server_origin_allowed (self, origin))
        {
          th_server_send_error (self, msg, SOUP_STATUS_FORBIDDEN, "forbidden_origin",
                                "this origin is not allowed");
          return;
        }
      th_server_add_cors (self, msg);
      soup_message_headers_replace (resp, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
      soup_message_headers_replace (resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
      soup_message_headers_replace (resp, "Access-Control-Max-Age", "600");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (resp, "Allow", "GET, HEAD, OPTIONS");
      th_server_send_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                            "this endpoint takes GET");
      return;
    }

  /* Everything but /healthz (for load balancers and systemd) needs the
   * token when authentication is on; preflights never carry one. */
  if (!g_str_equal (path, "/healthz") &&
      !th_server_auth_check_request (self, msg, query, FALSE, "an HTTP request"))
    {
      th_server_get_stats (self)->http_requests++;
      return;
    }

  if (g_str_has_prefix (path, "/api/v1/price/"))
    get_price (self, msg, rest);
  else if (g_str_has_prefix (path, "/api/v1/candles/"))
    get_candles (self, msg, rest, query);
  else if (g_str_has_prefix (path, "/api/v1/indicators/"))
    get_indicators (self, msg, rest, query);
  else if (g_str_has_prefix (path, "/api/v1/history/"))
    get_history (self, msg, rest, query);
  else if (g_str_equal (path, "/api/v1/prices"))
    get_prices (self, msg);
  else if (g_str_equal (path, "/api/v1/sources"))
    get_sources (self, msg);
  else if (g_str_equal (path, "/websocket/status"))
    get_ws_status (self, msg);
  else if (g_str_equal (path, "/websocket/connections"))
    get_ws_connections (self, msg);
  else if (g_str_equal (path, "/websocket/rooms"))
    get_ws_rooms (self, msg);
  else if (g_str_equal (path, "/healthz"))
    get_healthz (self, msg);
  else
    get_metrics (self, msg);
}


/* Before any body is read: a request whose length is ambiguous is
 * refused (400, th_server_http_check_framing); REST, /metrics and the
 * WebSocket handshakes take no body, so one that comes with a body is
 * refused (413). Either answer goes out at once and the connection closes:
 * the body is never read. Socket.IO has its own early handler. */
static void
rest_early_handler (SoupServer        *soup,
                    SoupServerMessage *msg,
                    const char        *path,
                    GHashTable        *query,
                    gpointer           user_data)
{
  ThServer *self = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (req);

  if (!th_server_http_check_framing (self, msg))
    return;
  if (encoding == SOUP_ENCODING_NONE ||
      (encoding == SOUP_ENCODING_CONTENT_LENGTH && soup_message_headers_get_content_length (req) == 0))
    return;
  th_server_send_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "bad_request",
                        "this endpoint takes no request body");
  th_server_http_answer_and_close (self, msg);
}

void
th_server_rest_register (ThServer *self)
{
  soup_server_add_early_handler (th_server_get_soup (self), NULL, rest_early_handler, self, NULL);
  /* libsoup calls the early handler of the most specific path only. */
  soup_server_add_early_handler (th_server_get_soup (self), "/ws", rest_early_handler, self, NULL);
  soup_server_add_handler (th_server_get_soup (self), NULL, rest_handler, self, NULL);
  th_server_alerts_register (self);
}
