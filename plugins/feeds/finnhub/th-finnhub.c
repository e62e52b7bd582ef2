/* th-finnhub.c: Finnhub trades (US stocks, and crypto pairs)
 *
 * One connection to `{url}?token=TOKEN` (wss://ws.finnhub.io); once it is
 * open, one `{"type":"subscribe","symbol":"AAPL"}` per followed symbol.
 * Finnhub then sends batches of trades,
 *
 *   {"type":"trade","data":[{"p":126.55,"s":"AAPL","t":1575526691134,"v":100,"c":["1","12"]}]}
 *
 * (`p` price, `s` symbol, `t` epoch milliseconds, `v` volume, `c` trade
 * conditions), `{"type":"ping"}` to keep a quiet connection alive (it
 * feeds the watchdog like any message), and `{"type":"error","msg":…}`.
 *
 * A wrong token is refused in the handshake (HTTP 401): retrying with the
 * same token cannot help, so the source goes `down` and waits LONG_RETRY.
 * An error message that names the key or token does the same; any other
 * (too many symbols on the free plan, for instance) keeps the connection
 * and becomes the source's reason until a trade comes. Without a token
 * the source is `disabled`, and nothing is attempted.
 *
 * The token goes only into the request line: never logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#define LONG_RETRY       300.0
#define NO_TOKEN_REASON  "Finnhub needs an API token: set [finnhub] token"
#define NO_SYMBOL_REASON "no configured symbol has a Finnhub code; add them as [symbols] AAPL=finnhub:AAPL"
#define MAX_PRICE        1e12

#define TH_TYPE_FINNHUB (th_finnhub_get_type ())
G_DECLARE_FINAL_TYPE (ThFinnhub, th_finnhub, TH, FINNHUB, ThWsFeed)

struct _ThFinnhub
{
  ThWsFeed    parent_instance;
  char       *token;      /* NULL for none; never logged */
  GPtrArray  *codes;
  JsonParser *parser;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThFinnhub, th_finnhub, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL, {})

static gboolean
th_finnhub_configure (ThWsFeed  *feed,
                      GError   **error)
{
  ThFinnhub *self = TH_FINNHUB (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autofree char *token = NULL;

  if (!TH_WS_FEED_CLASS (th_finnhub_parent_class)->configure (feed, error))
    return FALSE;

  token = th_config_get_string (config, "finnhub", "token", NULL);
  if (token != NULL)
    for (const char *p = token; *p != '\0'; p++)
      if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        {
          g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                               "[finnhub] token: the token has spaces or control characters; "
                               "paste it exactly as Finnhub shows it");
          return FALSE;
        }

  g_ptr_array_set_size (self->codes, 0);
  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code = th_symbol_map_lookup (map, symbols[s], "finnhub");

      if (code != NULL)
        g_ptr_array_add (self->codes, g_strdup (code));
    }

  g_free (self->token);
  self->token = g_steal_pointer (&token);
  if (self->token == NULL)
    th_ws_feed_disable (feed, NO_TOKEN_REASON);
  else if (self->codes->len == 0)
    th_ws_feed_disable (feed, NO_SYMBOL_REASON);
  return TRUE;
}

static char *
th_finnhub_build_url (ThWsFeed  *feed,
                      GError   **error)
{
  ThFinnhub *self = TH_FINNHUB (feed);
  g_autofree char *base = TH_WS_FEED_CLASS (th_finnhub_parent_class)->build_url (feed, error);
  g_autofree char *token = NULL;

  if (base == NULL)
    return NULL;
  token = g_uri_escape_string (self->token != NULL ? self->token : "", NULL, FALSE);
  return g_strdup_printf ("%s%stoken=%s", base, strchr (base, '?') != NULL ? "&" : "?", token);
}

static void
th_finnhub_handshake_refused (ThWsFeed   *feed,
                              guint       status,
                              const char *message)
{
  if (status == 401 || status == 403)
    th_ws_feed_reconnect (feed, "Finnhub refused the token (HTTP 401/403)", LONG_RETRY);
}

static void
th_finnhub_opened (ThWsFeed *feed)
{
  ThFinnhub *self = TH_FINNHUB (feed);

  for (guint i = 0; i < self->codes->len; i++)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonGenerator) gen = json_generator_new ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "subscribe");
      json_builder_set_member_name (b, "symbol");
      json_builder_add_string_value (b, self->codes->pdata[i]);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      text = json_generator_to_data (gen, NULL);
      th_ws_feed_send_text (feed, text);
    }
}

static gboolean
get_number (JsonObject *obj,
            const char *member,
            double     *out)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *out = (double) json_node_get_int (node);
      return TRUE;
    case G_TYPE_DOUBLE:
      *out = json_node_get_double (node);
      return isfinite (*out);
    default:
      return FALSE;
    }
}

static void
handle_trade (ThFinnhub *self,
              JsonNode  *node)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  ThHub *hub = th_ws_feed_get_hub (feed);
  JsonObject *obj;
  const char *code, *symbol;
  double p, v = NAN, t;
  g_autoptr(ThTick) tick = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade that is not an object");
      return;
    }
  obj = json_node_get_object (node);
  code = json_object_get_string_member_with_default (obj, "s", NULL);
  symbol = code != NULL ? th_symbol_map_reverse (th_hub_get_symbol_map (hub), "finnhub", code) : NULL;
  if (symbol == NULL || !th_hub_has_symbol (hub, symbol))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade of a symbol not followed");
      return;
    }
  if (!get_number (obj, "p", &p) || !(p > 0 && p < MAX_PRICE))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade without a positive price “p”");
      return;
    }
  /* Epoch milliseconds, after 2001 and before 2100. */
  if (!get_number (obj, "t", &t) || t < 1e12 || t > 4.1e12)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade without a time “t” in epoch milliseconds");
      return;
    }
  if (json_object_has_member (obj, "v") && (!get_number (obj, "v", &v) || v < 0))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade with a bad volume “v”");
      return;
    }
  tick = th_tick_new (symbol, "finnhub", TH_TICK_KIND_TRADE, p, (gint64) t * 1000);
  tick->size = v;
  th_ws_feed_push_tick (feed, tick);
}

static void
handle_error (ThFinnhub  *self,
              JsonObject *obj)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  const char *msg = json_object_get_string_member_with_default (obj, "msg", "no message");
  g_autofree char *lower = g_ascii_strdown (msg, -1);
  g_autofree char *reason = g_strdup_printf ("Finnhub error: %.80s", msg);

  if (strstr (lower, "key") != NULL || strstr (lower, "token") != NULL || strstr (lower, "auth") != NULL)
    {
      if (th_ws_feed_is_open (feed))
        th_ws_feed_reconnect (feed, reason, LONG_RETRY);
      return;
    }
  g_warning ("%s", reason);
  th_ws_feed_set_state (feed, TH_SOURCE_STATE_DOWN, reason);
}

static void
th_finnhub_message (ThWsFeed   *feed,
                    const char *text,
                    gsize       length)
{
  ThFinnhub *self = TH_FINNHUB (feed);
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *obj;
  const char *type;

  if (!th_json_parser_load (self->parser, text, (gssize) length, &error))
    {
      g_autofree char *detail = g_strdup_printf ("not JSON (%s)", error->message);

      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, detail);
      return;
    }
  root = json_parser_get_root (self->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, "not a JSON object");
      return;
    }
  obj = json_node_get_object (root);
  type = json_object_get_string_member_with_default (obj, "type", "");

  if (g_str_equal (type, "trade"))
    {
      JsonNode *data = json_object_get_member (obj, "data");
      JsonArray *trades;

      if (data == NULL || !JSON_NODE_HOLDS_ARRAY (data))
        {
          th_ws_feed_reject (feed, TH_WS_FEED_REJECT_VALUE, "a trade message without a “data” array");
          return;
        }
      trades = json_node_get_array (data);
      for (guint i = 0; i < json_array_get_length (trades); i++)
        handle_trade (self, json_array_get_element (trades, i));
    }
  else if (g_str_equal (type, "ping"))
    ;   /* liveness only: the base has already seen a message */
  else if (g_str_equal (type, "error"))
    handle_error (self, obj);
  else
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a message type we do not use");
}

static void
th_finnhub_finalize (GObject *object)
{
  ThFinnhub *self = TH_FINNHUB (object);

  g_free (self->token);
  g_ptr_array_unref (self->codes);
  g_clear_object (&self->parser);
  G_OBJECT_CLASS (th_finnhub_parent_class)->finalize (object);
}

static void
th_finnhub_class_init (ThFinnhubClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_finnhub_finalize;
  feed_class->name = "finnhub";
  /* Finnhub pings a quiet connection about every 10 s. */
  feed_class->stale_after = 60;
  feed_class->max_age = 0;
  feed_class->max_attempts = 0;
  feed_class->configure = th_finnhub_configure;
  feed_class->build_url = th_finnhub_build_url;
  feed_class->handshake_refused = th_finnhub_handshake_refused;
  feed_class->opened = th_finnhub_opened;
  feed_class->message = th_finnhub_message;
}

static void
th_finnhub_class_finalize (ThFinnhubClass *klass)
{
}

static void
th_finnhub_init (ThFinnhub *self)
{
  self->parser = json_parser_new_immutable ();
  self->codes = g_ptr_array_new_with_free_func (g_free);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_finnhub_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_FINNHUB);
}
