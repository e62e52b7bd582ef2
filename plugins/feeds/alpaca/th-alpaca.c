/* th-alpaca.c: Alpaca market data v2 (US equities)
 *
 * One connection to `{url}/{feed}` (wss://stream.data.alpaca.markets/v2/iex
 * for the free IEX feed, /sip with a paid plan). The conversation:
 *
 *   server  [{"T":"success","msg":"connected"}]
 *   client  {"action":"auth","key":"…","secret":"…"}
 *   server  [{"T":"success","msg":"authenticated"}]
 *   client  {"action":"subscribe","trades":["AAPL"],"quotes":["AAPL"]}
 *   server  [{"T":"subscription","trades":["AAPL"],"quotes":["AAPL"],"bars":[]…}]
 *   server  [{"T":"t","S":"AAPL","p":126.55,"s":1,"t":"2021-02-22T15:51:44.208Z",…},{"T":"q",…}]
 *
 * Every server message is a JSON array of objects told apart by `T`:
 * `t` trade, `q` quote, `b` minute bar, `success`, `subscription`, `error`
 * (`code` and `msg`). A batch is read element by element: one bad element
 * is counted and the others still count.
 *
 * Errors that retrying cannot fix soon (402 auth failed, 401 not
 * authenticated, 404 auth timeout, 406 connection limit exceeded: most
 * plans allow one connection per endpoint, 409 insufficient subscription)
 * put the source `down` with Alpaca's own message and wait
 * LONG_RETRY before the next attempt. Without a key or a secret the source
 * is `disabled`: Alpaca is optional, and nothing is attempted.
 *
 * The key and the secret go only into the auth message: never logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libpeas/peas.h>
#include <tickhub.h>

/* Seconds before trying again after Alpaca refused the credentials, the
 * plan or a second connection: a person has to act, a faster retry only
 * spends attempts (and a second connection kicks nobody out). */
#define LONG_RETRY       300.0
#define NO_KEY_REASON    "Alpaca needs an API key and secret: set [alpaca] key and secret"
#define NO_SYMBOL_REASON "no configured symbol has an Alpaca code; add them as [symbols] AAPL=alpaca:AAPL"

/* No US stock trades above a million dollars a share (BRK.A is near
 * 700,000): a bigger number is a corrupt message, not a price. */
#define MAX_PRICE 1e7

#define TH_TYPE_ALPACA (th_alpaca_get_type ())
G_DECLARE_FINAL_TYPE (ThAlpaca, th_alpaca, TH, ALPACA, ThWsFeed)

struct _ThAlpaca
{
  ThWsFeed    parent_instance;
  char       *key;        /* NULL for none; never logged */
  char       *secret;     /* NULL for none; never logged */
  char       *feed;       /* iex, sip, test... */
  GPtrArray  *codes;      /* Alpaca symbols followed */
  gboolean    trades;
  gboolean    quotes;
  gboolean    bars;
  gboolean    authenticated;
  JsonParser *parser;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThAlpaca, th_alpaca, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL, {})

static gboolean
is_plain (const char *s)
{
  for (const char *p = s; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
      return FALSE;
  return TRUE;
}

static gboolean
th_alpaca_configure (ThWsFeed  *feed,
                     GError   **error)
{
  ThAlpaca *self = TH_ALPACA (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autofree char *key = NULL;
  g_autofree char *secret = NULL;
  g_autofree char *kind = NULL;
  g_auto(GStrv) channels = NULL;

  if (!TH_WS_FEED_CLASS (th_alpaca_parent_class)->configure (feed, error))
    return FALSE;

  key = th_config_get_string (config, "alpaca", "key", NULL);
  secret = th_config_get_string (config, "alpaca", "secret", NULL);
  if ((key != NULL && !is_plain (key)) || (secret != NULL && !is_plain (secret)))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           key != NULL && !is_plain (key)
                             ? "[alpaca] key: the key has spaces or control characters; paste it exactly as Alpaca shows it"
                             : "[alpaca] secret: the secret has spaces or control characters; paste it exactly as Alpaca shows it");
      return FALSE;
    }

  kind = th_config_get_string (config, "alpaca", "feed", NULL);
  if (kind == NULL)
    kind = g_strdup ("iex");
  if (!g_str_equal (kind, "iex") && !g_str_equal (kind, "sip") && !g_str_equal (kind, "delayed_sip")
      && !g_str_equal (kind, "test"))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[alpaca] feed: “%s” is not an Alpaca stock feed; use iex (free), sip (paid), delayed_sip or test", kind);
      return FALSE;
    }

  self->trades = self->quotes = self->bars = FALSE;
  channels = th_config_get_string_list (config, "alpaca", "channels");
  if (channels == NULL)
    self->trades = self->quotes = TRUE;
  for (guint i = 0; channels != NULL && channels[i] != NULL; i++)
    {
      if (g_str_equal (channels[i], "trades"))
        self->trades = TRUE;
      else if (g_str_equal (channels[i], "quotes"))
        self->quotes = TRUE;
      else if (g_str_equal (channels[i], "bars"))
        self->bars = TRUE;
      else
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[alpaca] channels: “%s” is not a channel; use trades, quotes and/or bars", channels[i]);
          return FALSE;
        }
    }
  if (!self->trades && !self->quotes && !self->bars)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "[alpaca] channels: empty; use trades, quotes and/or bars");
      return FALSE;
    }

  g_ptr_array_set_size (self->codes, 0);
  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code = th_symbol_map_lookup (map, symbols[s], "alpaca");

      if (code == NULL)
        continue;   /* BTC and friends: not a stock */
      g_ptr_array_add (self->codes, g_strdup (code));
    }

  g_free (self->feed);
  self->feed = g_steal_pointer (&kind);
  g_free (self->key);
  self->key = g_steal_pointer (&key);
  g_free (self->secret);
  self->secret = g_steal_pointer (&secret);

  if (self->key == NULL || self->secret == NULL)
    th_ws_feed_disable (feed, NO_KEY_REASON);
  else if (self->codes->len == 0)
    th_ws_feed_disable (feed, NO_SYMBOL_REASON);
  return TRUE;
}

static char *
th_alpaca_build_url (ThWsFeed  *feed,
                     GError   **error)
{
  ThAlpaca *self = TH_ALPACA (feed);
  g_autofree char *base = TH_WS_FEED_CLASS (th_alpaca_parent_class)->build_url (feed, error);

  if (base == NULL)
    return NULL;
  /* `url` is the version's root (…/v2); the feed is the last segment. */
  return g_strdup_printf ("%s%s%s", base, g_str_has_suffix (base, "/") ? "" : "/", self->feed);
}

static void
th_alpaca_handshake_refused (ThWsFeed   *feed,
                             guint       status,
                             const char *message)
{
  if (status == 401 || status == 403)
    th_ws_feed_reconnect (feed, "Alpaca refused the connection (HTTP 401/403)", LONG_RETRY);
}

static void
th_alpaca_closed (ThWsFeed *feed)
{
  TH_ALPACA (feed)->authenticated = FALSE;
}

static void
send_object (ThWsFeed   *feed,
             JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  th_ws_feed_send_text (feed, text);
}

static void
add_codes (ThAlpaca    *self,
           JsonBuilder *b,
           const char  *member)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; i < self->codes->len; i++)
    json_builder_add_string_value (b, self->codes->pdata[i]);
  json_builder_end_array (b);
}

static void
send_auth (ThAlpaca *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "action");
  json_builder_add_string_value (b, "auth");
  json_builder_set_member_name (b, "key");
  json_builder_add_string_value (b, self->key);
  json_builder_set_member_name (b, "secret");
  json_builder_add_string_value (b, self->secret);
  json_builder_end_object (b);
  send_object (TH_WS_FEED (self), b);
}

static void
send_subscribe (ThAlpaca *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "action");
  json_builder_add_string_value (b, "subscribe");
  if (self->trades)
    add_codes (self, b, "trades");
  if (self->quotes)
    add_codes (self, b, "quotes");
  if (self->bars)
    add_codes (self, b, "bars");
  json_builder_end_object (b);
  send_object (TH_WS_FEED (self), b);
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

static gboolean
is_price (double p)
{
  return isfinite (p) && p > 0 && p < MAX_PRICE;
}

/* RFC 3339 with up to nanoseconds: "2021-02-22T15:51:45.335689322Z". */
static gboolean
get_time (JsonObject *obj,
          gint64     *out)
{
  const char *s = json_object_get_string_member_with_default (obj, "t", NULL);
  g_autoptr(GDateTime) dt = NULL;

  if (s == NULL)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (s, NULL);
  if (dt == NULL)
    return FALSE;
  *out = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return *out > 0;
}

static void
bad (ThAlpaca   *self,
     const char *what)
{
  th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, what);
}

static void
handle_error (ThAlpaca   *self,
              JsonObject *obj)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  gint64 code = json_object_get_int_member_with_default (obj, "code", 0);
  const char *msg = json_object_get_string_member_with_default (obj, "msg", "no message");
  g_autofree char *reason = g_strdup_printf ("Alpaca error %" G_GINT64_FORMAT ": %.80s", code, msg);

  switch (code)
    {
    case 401:   /* not authenticated */
    case 402:   /* auth failed */
    case 404:   /* auth timeout */
    case 406:   /* connection limit exceeded */
    case 409:   /* insufficient subscription */
      if (th_ws_feed_is_open (feed))
        th_ws_feed_reconnect (feed, reason, LONG_RETRY);
      break;
    case 407:   /* slow client: the server drops us; the usual backoff */
      if (th_ws_feed_is_open (feed))
        th_ws_feed_reconnect (feed, reason, -1);
      break;
    default:
      /* 400 invalid syntax, 403 already authenticated, 405 symbol limit,
       * 410 invalid subscribe action, 500: the connection stays; the
       * reason is shown until prices flow. */
      g_warning ("%s", reason);
      th_ws_feed_set_state (feed, TH_SOURCE_STATE_DOWN, reason);
      break;
    }
}

static void
check_subscription (ThAlpaca   *self,
                    JsonObject *obj)
{
  const char *channels[] = { "trades", "quotes", "bars" };
  gboolean wanted[] = { self->trades, self->quotes, self->bars };

  for (guint c = 0; c < G_N_ELEMENTS (channels); c++)
    {
      JsonArray *got = json_object_has_member (obj, channels[c]) && JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, channels[c]))
                       ? json_object_get_array_member (obj, channels[c]) : NULL;

      if (!wanted[c])
        continue;
      for (guint i = 0; i < self->codes->len; i++)
        {
          gboolean found = FALSE;

          for (guint j = 0; got != NULL && j < json_array_get_length (got) && !found; j++)
            {
              JsonNode *n = json_array_get_element (got, j);
              found = JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
                      && (g_strcmp0 (json_node_get_string (n), self->codes->pdata[i]) == 0
                          || g_strcmp0 (json_node_get_string (n), "*") == 0);
            }
          if (!found)
            {
              g_autofree char *reason = g_strdup_printf ("Alpaca did not subscribe %s to %s",
                                                         (char *) self->codes->pdata[i], channels[c]);
              g_message ("%s", reason);
              th_ws_feed_set_state (TH_WS_FEED (self), TH_SOURCE_STATE_CONNECTING, reason);
            }
        }
    }
}

static void
handle_data (ThAlpaca   *self,
             JsonObject *obj,
             const char *type)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  ThHub *hub = th_ws_feed_get_hub (feed);
  const char *code = json_object_get_string_member_with_default (obj, "S", NULL);
  const char *symbol = code != NULL ? th_symbol_map_reverse (th_hub_get_symbol_map (hub), "alpaca", code) : NULL;
  g_autoptr(ThTick) tick = NULL;
  gint64 time;

  if (symbol == NULL || !th_hub_has_symbol (hub, symbol))
    {
      bad (self, "a symbol not followed");
      return;
    }
  if (!get_time (obj, &time))
    {
      bad (self, "no valid time “t”");
      return;
    }

  if (g_str_equal (type, "t"))
    {
      double p, s = NAN;

      if (!get_number (obj, "p", &p) || !is_price (p))
        {
          bad (self, "a trade without a positive price “p”");
          return;
        }
      if (json_object_has_member (obj, "s") && (!get_number (obj, "s", &s) || s < 0))
        {
          bad (self, "a trade with a bad size “s”");
          return;
        }
      tick = th_tick_new (symbol, "alpaca", TH_TICK_KIND_TRADE, p, time);
      tick->size = s;
    }
  else if (g_str_equal (type, "q"))
    {
      double bp, ap;

      if (!get_number (obj, "bp", &bp) || !get_number (obj, "ap", &ap) || !is_price (bp) || !is_price (ap) || ap < bp)
        {
          /* Alpaca sends 0 for an empty side: no mid to make. */
          bad (self, "a quote without two positive sides “bp” ≤ “ap”");
          return;
        }
      tick = th_tick_new (symbol, "alpaca", TH_TICK_KIND_QUOTE, (bp + ap) / 2, time);
      tick->bid = bp;
      tick->ask = ap;
    }
  else /* "b": a minute bar, stamped at its end; its close stands as a quote */
    {
      double c;

      if (!get_number (obj, "c", &c) || !is_price (c))
        {
          bad (self, "a bar without a positive close “c”");
          return;
        }
      tick = th_tick_new (symbol, "alpaca", TH_TICK_KIND_QUOTE, c, time + 60 * G_USEC_PER_SEC);
    }
  th_ws_feed_push_tick (feed, tick);
}

static void
handle_element (ThAlpaca *self,
                JsonNode *node)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  JsonObject *obj;
  const char *type;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, "a batch element that is not an object");
      return;
    }
  obj = json_node_get_object (node);
  type = json_object_get_string_member_with_default (obj, "T", NULL);
  if (type == NULL)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "an element without “T”");
      return;
    }

  if (g_str_equal (type, "t") || g_str_equal (type, "q") || g_str_equal (type, "b"))
    handle_data (self, obj, type);
  else if (g_str_equal (type, "success"))
    {
      const char *msg = json_object_get_string_member_with_default (obj, "msg", "");

      if (g_str_equal (msg, "connected"))
        {
          self->authenticated = FALSE;
          th_ws_feed_set_state (feed, TH_SOURCE_STATE_CONNECTING, "connected, authenticating");
          send_auth (self);
        }
      else if (g_str_equal (msg, "authenticated"))
        {
          self->authenticated = TRUE;
          th_ws_feed_set_state (feed, TH_SOURCE_STATE_CONNECTING, "authenticated, subscribing");
          send_subscribe (self);
        }
      else
        th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a success message of an unknown kind");
    }
  else if (g_str_equal (type, "subscription"))
    check_subscription (self, obj);
  else if (g_str_equal (type, "error"))
    handle_error (self, obj);
  else
    /* updatedBars, dailyBars, statuses, lulds, corrections…: not asked for. */
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a message type we do not use");
}

static void
th_alpaca_message (ThWsFeed   *feed,
                   const char *text,
                   gsize       length)
{
  ThAlpaca *self = TH_ALPACA (feed);
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonArray *batch;

  if (!th_json_parser_load (self->parser, text, (gssize) length, &error))
    {
      g_autofree char *detail = g_strdup_printf ("not JSON (%s)", error->message);

      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, detail);
      return;
    }
  root = json_parser_get_root (self->parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      /* Not what Alpaca sends, but one element alone is still readable. */
      handle_element (self, root);
      return;
    }
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, "not a JSON array");
      return;
    }
  batch = json_node_get_array (root);
  if (json_array_get_length (batch) == 0)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "an empty batch");
      return;
    }
  /* An error may reconnect, which ends this connection's batch. */
  for (guint i = 0; i < json_array_get_length (batch); i++)
    {
      handle_element (self, json_array_get_element (batch, i));
      if (!th_ws_feed_is_open (feed) && th_ws_feed_get_state (feed) == TH_SOURCE_STATE_DOWN)
        break;
    }
}

static void
th_alpaca_finalize (GObject *object)
{
  ThAlpaca *self = TH_ALPACA (object);

  g_free (self->key);
  g_free (self->secret);
  g_free (self->feed);
  g_ptr_array_unref (self->codes);
  g_clear_object (&self->parser);
  G_OBJECT_CLASS (th_alpaca_parent_class)->finalize (object);
}

static void
th_alpaca_class_init (ThAlpacaClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_alpaca_finalize;
  feed_class->name = "alpaca";
  /* Quotes of a few liquid stocks arrive several times a second while the
   * market is open; IEX alone is thinner, hence a minute. */
  feed_class->stale_after = 60;
  feed_class->max_age = 0;
  feed_class->max_attempts = 0;
  feed_class->configure = th_alpaca_configure;
  feed_class->build_url = th_alpaca_build_url;
  feed_class->handshake_refused = th_alpaca_handshake_refused;
  feed_class->closed = th_alpaca_closed;
  feed_class->message = th_alpaca_message;
}

static void
th_alpaca_class_finalize (ThAlpacaClass *klass)
{
}

static void
th_alpaca_init (ThAlpaca *self)
{
  self->parser = json_parser_new_immutable ();
  self->codes = g_ptr_array_new_with_free_func (g_free);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_alpaca_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_ALPACA);
}
