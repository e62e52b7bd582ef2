/* th-server-history.c: the stored history, for every kind of client
 *
 * What REST (GET /api/v1/history/{SYMBOL}, .../ticks) and the client
 * protocol (the get_history event of /ws and Socket.IO) share: the
 * parameters checked the same way with the same messages, one JSON body
 * written by hand (43,200 candles are a few MB), and the mapping of the
 * hub's errors to codes.
 *
 * A client's get_history never blocks: the hub asks the store, which reads
 * in a thread, and the answer comes back to the main loop as the `history`
 * event (and, for a Socket.IO event with an ack id, as the ack: the ack is
 * deferred until then). The client may be gone by then: a pending request
 * is listed on its client, and th_server_history_client_gone() detaches
 * and cancels it, so that the answer only frees memory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "th-server-private.h"
#include "th-private.h"

#define DEFAULT_HISTORY_LIMIT 1000
#define MAX_HISTORY_LIMIT     10000
/* get_history requests a client may have waiting at once. */
#define MAX_CLIENT_REQUESTS   4

void
th_server_history_query_clear (ThServerHistoryQuery *q)
{
  g_clear_pointer (&q->symbol, g_free);
  g_clear_pointer (&q->timeframe, g_free);
  g_clear_pointer (&q->missing, g_variant_unref);
}

static gboolean
refuse (const char  *code,
        char        *message,      /* transfer full */
        const char **out_code,
        char       **out_message)
{
  *out_code = code;
  *out_message = message;
  return FALSE;
}

gboolean
th_server_history_parse (ThServer                  *self,
                         const ThServerHistoryArgs *args,
                         ThServerHistoryQuery      *q,
                         const char               **code,
                         char                     **message)
{
  ThHub *hub = th_server_get_hub (self);
  gint64 now = th_clock_get_time (th_hub_get_clock (hub));
  guint64 limit = DEFAULT_HISTORY_LIMIT;
  gboolean plain;
  double days = 1;

  memset (q, 0, sizeof *q);
  q->ticks = args->ticks;

  if (args->limit != NULL &&
      !g_ascii_string_to_unsigned (args->limit, 10, 1, MAX_HISTORY_LIMIT, &limit, NULL))
    return refuse ("bad_request", g_strdup ("limit must be a whole number from 1 to 10000"), code, message);
  q->limit = (guint) limit;
  if (args->ticks && args->format != NULL)
    return refuse ("bad_request", g_strdup ("format is for candles: ticks come as one list"), code, message);
  if (args->format != NULL && !g_str_equal (args->format, "candles") && !g_str_equal (args->format, "columns"))
    return refuse ("bad_request", g_strdup ("format must be candles or columns"), code, message);
  q->columns = args->format != NULL && g_str_equal (args->format, "columns");

  /* The symbol, canonical. */
  plain = args->symbol != NULL && *args->symbol != '\0' && strlen (args->symbol) <= 32;
  for (const char *p = args->symbol; plain && *p != '\0'; p++)
    plain = g_ascii_isalnum (*p) || *p == '-' || *p == '_' || *p == '.';
  if (!plain)
    return refuse ("unknown_symbol", g_strdup ("not a symbol"), code, message);
  q->symbol = g_ascii_strup (args->symbol, -1);
  if (!th_hub_has_symbol (hub, q->symbol))
    {
      char *text = g_strdup_printf ("unknown symbol “%s”", q->symbol);

      th_server_history_query_clear (q);
      return refuse ("unknown_symbol", text, code, message);
    }

  /* The timeframe: a configured one, the first when none is given. */
  if (!args->ticks)
    {
      g_auto(GStrv) timeframes = th_hub_list_timeframes (hub);
      const char *text = args->timeframe != NULL ? args->timeframe : timeframes[0];
      gint64 d = 0;

      if (text != NULL && strlen (text) <= 16 && th_parse_timeframe (text, &d, NULL))
        for (guint i = 0; timeframes[i] != NULL && q->timeframe == NULL; i++)
          {
            gint64 t;

            if (th_parse_timeframe (timeframes[i], &t, NULL) && t == d)
              q->timeframe = g_strdup (timeframes[i]);
          }
      if (q->timeframe == NULL)
        {
          g_autofree char *list = g_strjoinv (", ", timeframes);

          th_server_history_query_clear (q);
          return refuse ("bad_request", g_strdup_printf ("timeframe must be one of %s", list), code, message);
        }
    }

  /* The range: from and to (ISO 8601 or epoch ms), or days before to. */
  q->to = now;
  if (args->to != NULL && !_th_parse_time (args->to, &q->to))
    {
      th_server_history_query_clear (q);
      return refuse ("bad_request",
                     g_strdup ("to must be an ISO 8601 time such as 2024-01-01T00:00:00Z, or epoch milliseconds"),
                     code, message);
    }
  if (args->from != NULL && args->days != NULL)
    {
      th_server_history_query_clear (q);
      return refuse ("bad_request", g_strdup ("give either from or days, not both"), code, message);
    }
  if (args->days != NULL)
    {
      char *end = NULL;

      days = g_ascii_strtod (args->days, &end);
      if (end == args->days || *end != '\0' || !(days > 0 && days <= 3650))
        {
          th_server_history_query_clear (q);
          return refuse ("bad_request",
                         g_strdup ("days must be a number of days from 0 (excluded) to 3650, such as 30"),
                         code, message);
        }
    }
  if (args->from != NULL)
    {
      if (!_th_parse_time (args->from, &q->from))
        {
          th_server_history_query_clear (q);
          return refuse ("bad_request",
                         g_strdup ("from must be an ISO 8601 time such as 2024-01-01T00:00:00Z, or epoch milliseconds"),
                         code, message);
        }
    }
  else
    q->from = q->to - (gint64) (days * 86400 * G_USEC_PER_SEC);
  if (q->from >= q->to)
    {
      th_server_history_query_clear (q);
      return refuse ("bad_request", g_strdup ("the range is empty: from must be before to"), code, message);
    }
  return TRUE;
}

void
th_server_history_run (ThServer             *self,
                       ThServerHistoryQuery *q,
                       GCancellable         *cancellable,
                       GAsyncReadyCallback   callback,
                       gpointer              user_data)
{
  ThHub *hub = th_server_get_hub (self);

  if (q->ticks)
    th_hub_get_history_ticks_async (hub, q->symbol, q->from, q->to, q->limit, cancellable, callback, user_data);
  else
    th_hub_get_history_async (hub, q->symbol, q->timeframe, q->from, q->to, q->limit, cancellable,
                              callback, user_data);
}

GPtrArray *
th_server_history_finish (ThHub                *hub,
                          ThServerHistoryQuery *q,
                          GAsyncResult         *result,
                          GError              **error)
{
  if (q->ticks)
    return th_hub_get_history_ticks_finish (hub, result, error);
  g_clear_pointer (&q->missing, g_variant_unref);
  return th_hub_get_history_finish_full (hub, result, &q->missing, error);
}

guint
th_server_history_error (const GError  *error,
                         const char   **code)
{
  if (g_error_matches (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL))
    {
      *code = "unknown_symbol";
      return SOUP_STATUS_NOT_FOUND;
    }
  if (g_error_matches (error, TH_ERROR, TH_ERROR_BAD_INPUT))
    {
      *code = "bad_request";
      return SOUP_STATUS_BAD_REQUEST;
    }
  *code = "no_history";
  return SOUP_STATUS_SERVICE_UNAVAILABLE;
}

static void
append_time_member (GString    *out,
                    const char *name,
                    gint64      usec)
{
  g_string_append_printf (out, ",\"%s\":", name);
  _th_json_append_time (out, usec);
}

static void
append_number_member (GString    *out,
                      const char *name,
                      double      value)
{
  g_string_append_printf (out, ",\"%s\":", name);
  _th_json_append_double (out, value);
}

/* The periods no candle came for, neither from the store nor from a venue:
 * [from, to) pairs of candle starts, ISO 8601 (epoch ms with columns). */
static void
append_missing (GString  *out,
                GVariant *missing,
                gboolean  ms)
{
  GVariantIter iter;
  gint64 from, to;
  gboolean first = TRUE;

  g_string_append (out, ",\"missing\":[");
  if (missing != NULL)
    {
      g_variant_iter_init (&iter, missing);
      while (g_variant_iter_next (&iter, "(xx)", &from, &to))
        {
          g_string_append (out, first ? "[" : ",[");
          first = FALSE;
          if (ms)
            g_string_append_printf (out, "%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT, from / 1000, to / 1000);
          else
            {
              _th_json_append_time (out, from);
              g_string_append_c (out, ',');
              _th_json_append_time (out, to);
            }
          g_string_append_c (out, ']');
        }
    }
  g_string_append_c (out, ']');
}

static void
append_candles (GString   *out,
                GPtrArray *candles)
{
  g_string_append (out, ",\"candles\":[");
  for (guint i = 0; i < candles->len; i++)
    {
      const ThCandle *c = candles->pdata[i];

      g_string_append (out, i > 0 ? ",{\"start\":" : "{\"start\":");
      _th_json_append_time (out, c->start);
      append_number_member (out, "open", c->open);
      append_number_member (out, "high", c->high);
      append_number_member (out, "low", c->low);
      append_number_member (out, "close", c->close);
      append_number_member (out, "volume", c->volume);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
}

static void
append_columns (GString   *out,
                GPtrArray *candles)
{
  static const char *const names[] = { "open", "high", "low", "close", "volume" };

  /* For charts: epoch milliseconds and one array per field. */
  g_string_append (out, ",\"t\":[");
  for (guint i = 0; i < candles->len; i++)
    g_string_append_printf (out, i > 0 ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
                            ((const ThCandle *) candles->pdata[i])->start / 1000);
  g_string_append_c (out, ']');
  for (guint f = 0; f < G_N_ELEMENTS (names); f++)
    {
      g_string_append_printf (out, ",\"%s\":[", names[f]);
      for (guint i = 0; i < candles->len; i++)
        {
          const ThCandle *c = candles->pdata[i];
          double v = f == 0 ? c->open : f == 1 ? c->high : f == 2 ? c->low : f == 3 ? c->close : c->volume;

          if (i > 0)
            g_string_append_c (out, ',');
          _th_json_append_double (out, v);
        }
      g_string_append_c (out, ']');
    }
  g_string_append_c (out, '}');
}

static void
append_ticks (GString   *out,
              GPtrArray *ticks)
{
  g_string_append (out, ",\"ticks\":[");
  for (guint i = 0; i < ticks->len; i++)
    {
      const ThTick *t = ticks->pdata[i];

      g_string_append (out, i > 0 ? ",{\"time\":" : "{\"time\":");
      _th_json_append_time (out, t->exchange_time);
      append_time_member (out, "received", t->receive_time);
      g_string_append (out, ",\"source\":");
      _th_json_append_string (out, t->source != NULL ? t->source : "");
      g_string_append (out, t->kind == TH_TICK_KIND_TRADE ? ",\"kind\":\"trade\"" : ",\"kind\":\"quote\"");
      append_number_member (out, "price", t->price);
      append_number_member (out, "size", t->size);
      append_number_member (out, "bid", t->bid);
      append_number_member (out, "ask", t->ask);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]}");
}

char *
th_server_history_body (const ThServerHistoryQuery *q,
                        GPtrArray                  *items,
                        gsize                      *length)
{
  GString *out = g_string_sized_new (128 + items->len * (q->columns ? 90 : 140));

  /* Symbol and timeframe are checked, plain ASCII: written as they are. */
  g_string_append_printf (out, "{\"symbol\":\"%s\"", q->symbol);
  if (!q->ticks)
    g_string_append_printf (out, ",\"timeframe\":\"%s\"", q->timeframe);
  append_time_member (out, "from", q->from);
  append_time_member (out, "to", q->to);
  if (!q->ticks)
    append_missing (out, q->missing, q->columns);
  if (q->ticks)
    append_ticks (out, items);
  else if (q->columns)
    append_columns (out, items);
  else
    append_candles (out, items);
  *length = out->len;
  return g_string_free (out, FALSE);
}

/* get_history, from /ws and Socket.IO clients */

typedef struct
{
  ThServerClient      *client;     /* NULL once the client is gone */
  GCancellable        *cancellable;
  ThServerHistoryQuery q;
  gboolean             has_ack;
  guint64              ack_id;
} ClientRequest;

static void
client_request_free (ClientRequest *r)
{
  g_clear_object (&r->cancellable);
  th_server_history_query_clear (&r->q);
  g_free (r);
}

/* The client is gone: its requests are answered to nobody. */
void
th_server_history_client_gone (ThServerClient *client)
{
  if (client->requests == NULL)
    return;
  for (guint i = 0; i < client->requests->len; i++)
    {
      ClientRequest *r = client->requests->pdata[i];

      r->client = NULL;
      g_cancellable_cancel (r->cancellable);
    }
  g_clear_pointer (&client->requests, g_ptr_array_unref);
}

/* An error for a request answered later: the `error` event, and the ack
 * with the same data when the client asked for one. */
static void
client_request_error (ClientRequest *r,
                      const char    *code,
                      const char    *message)
{
  ThServerClient *client = r->client;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) data = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  data = json_builder_get_root (b);
  th_server_client_error (client, code, message);
  if (r->has_ack && client->transport->send_ack != NULL && !client->closing)
    {
      gsize length;
      g_autofree char *text = th_json_to_string (data, &length);

      client->transport->send_ack (client, r->ack_id, text, length);
    }
}

static void
on_client_history (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ClientRequest *r = user_data;
  ThServerClient *client = r->client;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = NULL;
  gsize length, budget, queued, needed;
  g_autofree char *body = NULL;
  GString *envelope;

  items = th_server_history_finish (TH_HUB (source), &r->q, result, &error);
  if (client == NULL)
    {
      /* Gone: nobody to answer. */
      client_request_free (r);
      return;
    }
  g_ptr_array_remove_fast (client->requests, r);
  if (client->closing)
    {
      client_request_free (r);
      return;
    }
  if (items == NULL)
    {
      const char *code;

      th_server_history_error (error, &code);
      client_request_error (r, code, error->message);
      client_request_free (r);
      return;
    }

  body = th_server_history_body (&r->q, items, &length);
  /* The answer is never dropped; one that would not fit in what is left of
   * client-buffer is refused, not sent (it would disconnect the client). */
  budget = th_server_get_client_buffer (client->server);
  queued = client->transport->get_queued (client);
  needed = (length + 64) * (r->has_ack ? 2 : 1);
  if (queued + needed > budget)
    {
      g_autofree char *message =
        g_strdup_printf ("the answer is %" G_GSIZE_FORMAT " bytes, more than this connection may have "
                         "waiting ([server] client-buffer, %" G_GSIZE_FORMAT " bytes%s); ask for fewer "
                         "candles with limit, or a shorter range", length, budget,
                         r->has_ack ? ", and an ack doubles it" : "");

      client_request_error (r, "too_large", message);
      client_request_free (r);
      return;
    }

  envelope = g_string_sized_new (length + 32);
  g_string_append (envelope, "{\"event\":\"history\",\"data\":");
  g_string_append_len (envelope, body, length);
  g_string_append_c (envelope, '}');
  client->transport->send_text (client, g_string_free_to_bytes (envelope));
  if (r->has_ack && client->transport->send_ack != NULL && !client->closing)
    client->transport->send_ack (client, r->ack_id, body, length);
  client_request_free (r);
}

/* A member of get_history's data as text: a string as it is, a number
 * written out; *@ok is FALSE for any other type. */
static char *
member_text (JsonObject *obj,
             const char *name,
             gboolean   *ok)
{
  JsonNode *node = json_object_get_member (obj, name);
  GType type;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (type == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (type == G_TYPE_DOUBLE)
    {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      return g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node)));
    }
  *ok = FALSE;
  return NULL;
}

void
th_server_history_client_request (ThServerClient *client,
                                  JsonNode       *data)
{
  static const char *const names[] = { "symbol", "timeframe", "from", "to", "days", "limit", "format" };
  ThServer *self = client->server;
  char *text[G_N_ELEMENTS (names)] = { NULL };
  ThServerHistoryArgs args = { 0 };
  ThServerHistoryQuery q;
  g_autofree char *message = NULL;
  const char *code;
  ClientRequest *r;
  JsonObject *obj;

  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    {
      th_server_client_error (client, "bad_request",
                              "get_history needs {\"symbol\": SYMBOL, \"timeframe\": \"1h\", \"days\": 30} "
                              "(or \"from\" and \"to\"; \"limit\", \"format\")");
      return;
    }
  obj = json_node_get_object (data);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      gboolean ok = TRUE;

      text[i] = member_text (obj, names[i], &ok);
      if (!ok)
        {
          message = g_strdup_printf ("get_history: %s must be a string or a number", names[i]);
          th_server_client_error (client, "bad_request", message);
          for (guint j = 0; j <= i; j++)
            g_clear_pointer (&text[j], g_free);
          return;
        }
    }
  if (text[0] == NULL)
    {
      th_server_client_error (client, "bad_request", "get_history needs {\"symbol\": SYMBOL, ...}");
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        g_clear_pointer (&text[i], g_free);
      return;
    }
  args.symbol = text[0];
  args.timeframe = text[1];
  args.from = text[2];
  args.to = text[3];
  args.days = text[4];
  args.limit = text[5];
  args.format = text[6];

  if (!th_server_history_parse (self, &args, &q, &code, &message))
    th_server_client_error (client, code, message);
  else if (client->requests != NULL && client->requests->len >= MAX_CLIENT_REQUESTS)
    {
      message = g_strdup_printf ("at most %d get_history requests may wait at once; wait for the answers",
                                 MAX_CLIENT_REQUESTS);
      th_server_client_error (client, "bad_request", message);
      th_server_history_query_clear (&q);
    }
  else
    {
      r = g_new0 (ClientRequest, 1);
      r->client = client;
      r->cancellable = g_cancellable_new ();
      r->q = q;
      /* The ack waits for the answer. */
      if (client->ack != NULL && *client->ack == NULL)
        {
          r->has_ack = TRUE;
          r->ack_id = client->ack_id;
          client->ack_deferred = TRUE;
        }
      if (client->requests == NULL)
        client->requests = g_ptr_array_new ();
      g_ptr_array_add (client->requests, r);
      th_server_history_run (self, &r->q, r->cancellable, on_client_history, r);
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_clear_pointer (&text[i], g_free);
}
