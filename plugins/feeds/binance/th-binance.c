/* th-binance.c: Binance spot market data
 *
 * One combined-stream connection, `{url}?streams=btcusdt@ticker/btcusdt@aggTrade/...`,
 * every payload wrapped as {"stream": NAME, "data": {...}}. Streams per
 * symbol come from `streams=` (default ticker;aggTrade): `ticker` (24 h
 * ticker, 1 s: last, bid, ask, base volume, change %), `aggTrade` and
 * `trade` (trades: price and quantity, for candle volume), `bookTicker`
 * (best bid/ask; the price is the mid), `miniTicker` (last, volume, change
 * from the open). Numbers arrive as strings; times in epoch ms.
 *
 * Limits (docs/venues.md): at most 1024 streams per connection (checked in
 * configure), 5 incoming messages/s (we send none after connecting: the
 * streams are in the URL), 300 connection attempts per 5 minutes (the base
 * class caps them), connections closed after 24 h (renewed after 23 h 50
 * min, the new one open before the old one closes), `serverShutdown`
 * announcing a close (reconnect at once). Pings are answered by the base.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#define MAX_STREAMS 1024

#define TH_TYPE_BINANCE (th_binance_get_type ())
G_DECLARE_FINAL_TYPE (ThBinance, th_binance, TH, BINANCE, ThWsFeed)

struct _ThBinance
{
  ThWsFeed    parent_instance;
  char      **streams;     /* stream names, e.g. btcusdt@ticker */
  JsonParser *parser;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThBinance, th_binance, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL, {})

static const char *const known_streams[] = { "ticker", "aggTrade", "trade", "bookTicker", "miniTicker", NULL };

static gboolean
th_binance_configure (ThWsFeed  *feed,
                      GError   **error)
{
  ThBinance *self = TH_BINANCE (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_auto(GStrv) kinds = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  guint n = 0;

  if (!TH_WS_FEED_CLASS (th_binance_parent_class)->configure (feed, error))
    return FALSE;

  kinds = th_config_get_string_list (config, "binance", "streams");
  if (kinds == NULL)
    kinds = g_strsplit ("ticker;aggTrade", ";", -1);
  if (kinds[0] == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[binance] streams: empty; list some of ticker, aggTrade, trade, bookTicker, miniTicker");
      return FALSE;
    }
  for (guint i = 0; kinds[i] != NULL; i++)
    if (!g_strv_contains (known_streams, kinds[i]))
      {
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                     "[binance] streams: unknown stream “%s”; the streams are ticker, aggTrade, trade, bookTicker, miniTicker",
                     kinds[i]);
        return FALSE;
      }

  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code = th_symbol_map_lookup (map, symbols[s], "binance");
      g_autofree char *lower = NULL;

      if (code == NULL)
        {
          g_message ("binance has no code for %s; add [symbols] %s=binance:<CODE> to follow it there",
                     symbols[s], symbols[s]);
          continue;
        }
      lower = g_ascii_strdown (code, -1);
      for (guint i = 0; kinds[i] != NULL; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s@%s", lower, kinds[i]);

          g_strv_builder_add (names, name);
          n++;
        }
    }

  if (n > MAX_STREAMS)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[binance] streams: %u streams for %u symbols, over Binance's limit of %d per connection; "
                   "follow fewer symbols or fewer streams", n, g_strv_length ((char **) symbols), MAX_STREAMS);
      return FALSE;
    }

  g_strfreev (self->streams);
  self->streams = g_strv_builder_end (names);
  return TRUE;
}

static char *
th_binance_build_url (ThWsFeed  *feed,
                      GError   **error)
{
  ThBinance *self = TH_BINANCE (feed);
  g_autofree char *base = TH_WS_FEED_CLASS (th_binance_parent_class)->build_url (feed, error);
  g_autofree char *joined = NULL;

  if (base == NULL)
    return NULL;
  if (self->streams == NULL || self->streams[0] == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "no configured symbol has a Binance code; see [symbols]");
      return NULL;
    }
  joined = g_strjoinv ("/", self->streams);
  return g_strdup_printf ("%s%sstreams=%s", base, strchr (base, '?') != NULL ? "&" : "?", joined);
}

/* A venue number: a decimal string (or, leniently, a JSON number). */
static gboolean
get_number (JsonObject *obj,
            const char *member,
            double     *out)
{
  return th_json_object_get_number (obj, member, TRUE, out) == TH_JSON_FIELD_OK;
}

static gboolean
get_time_ms (JsonObject *obj,
             const char *member,
             gint64     *out)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node) * 1000;
  return *out > 0;
}

static const char *
canonical (ThBinance  *self,
           JsonObject *data)
{
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  const char *code = th_json_object_get_string (data, "s");
  const char *symbol = code != NULL ? th_symbol_map_reverse (th_hub_get_symbol_map (hub), "binance", code) : NULL;

  /* Only what we follow: a symbol we did not ask for is not ours to trust. */
  return symbol != NULL && th_hub_has_symbol (hub, symbol) ? symbol : NULL;
}

static void
bad (ThBinance  *self,
     const char *what,
     const char *event)
{
  g_autofree char *detail = g_strdup_printf ("%s in a %s message", what, event);

  th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, detail);
}

static void
parse_payload (ThBinance  *self,
               JsonObject *data)
{
  const char *event = th_json_object_get_string (data, "e");
  const char *symbol;
  g_autoptr(ThTick) tick = NULL;
  double price, v;
  gint64 time;

  if (g_strcmp0 (event, "serverShutdown") == 0)
    {
      th_ws_feed_reconnect (TH_WS_FEED (self), "Binance announced a server shutdown", 0);
      return;
    }

  symbol = canonical (self, data);

  if (event == NULL && json_object_has_member (data, "u") && json_object_has_member (data, "b"))
    event = "bookTicker";
  if (event == NULL)
    {
      th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_UNKNOWN, "a payload without an event type");
      return;
    }
  if (symbol == NULL && json_object_has_member (data, "s") &&
      (g_str_equal (event, "24hrTicker") || g_str_equal (event, "aggTrade") ||
       g_str_equal (event, "trade") || g_str_equal (event, "bookTicker") || g_str_equal (event, "24hrMiniTicker")))
    {
      th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, "a symbol that is not followed");
      return;
    }

  if (g_str_equal (event, "24hrTicker") || g_str_equal (event, "24hrMiniTicker"))
    {
      if (!get_number (data, "c", &price) || price <= 0)
        {
          bad (self, "no positive last price", event);
          return;
        }
      if (!get_time_ms (data, "E", &time))
        {
          bad (self, "no event time", event);
          return;
        }
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, price, time);
      if (get_number (data, "v", &v) && v >= 0)
        tick->volume_24h = v;
      if (g_str_equal (event, "24hrTicker"))
        {
          if (get_number (data, "b", &v) && v > 0)
            tick->bid = v;
          if (get_number (data, "a", &v) && v > 0)
            tick->ask = v;
          if (get_number (data, "P", &v))
            tick->change_24h = v;
        }
      else if (get_number (data, "o", &v) && v > 0)
        tick->change_24h = (price - v) / v * 100;
    }
  else if (g_str_equal (event, "aggTrade") || g_str_equal (event, "trade"))
    {
      double qty;

      if (!get_number (data, "p", &price) || price <= 0)
        {
          bad (self, "no positive price", event);
          return;
        }
      if (!get_number (data, "q", &qty) || qty < 0)
        {
          bad (self, "no quantity", event);
          return;
        }
      if (!get_time_ms (data, "T", &time) && !get_time_ms (data, "E", &time))
        {
          bad (self, "no trade time", event);
          return;
        }
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_TRADE, price, time);
      tick->size = qty;
    }
  else if (g_str_equal (event, "bookTicker"))
    {
      double bid, ask;

      if (!get_number (data, "b", &bid) || !get_number (data, "a", &ask) || bid <= 0 || ask <= 0 || ask < bid)
        {
          bad (self, "no sane bid and ask", event);
          return;
        }
      /* No event time in bookTicker: the receive time stands in. */
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, (bid + ask) / 2,
                          th_ws_feed_get_receive_time (TH_WS_FEED (self)));
      tick->bid = bid;
      tick->ask = ask;
    }
  else
    {
      g_autofree char *detail = g_strdup_printf ("event type “%s”", event);

      th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_UNKNOWN, detail);
      return;
    }

  th_ws_feed_push_tick (TH_WS_FEED (self), tick);
}

static void
th_binance_message (ThWsFeed   *feed,
                    const char *text,
                    gsize       length)
{
  ThBinance *self = TH_BINANCE (feed);
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *data;

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

  /* Replies to requests: {"result":null,"id":1}, errors {"code":..,"msg":..}. */
  if (json_object_has_member (obj, "id") && json_object_has_member (obj, "result"))
    return;
  if (json_object_has_member (obj, "code") && json_object_has_member (obj, "msg"))
    {
      JsonNode *code = json_object_get_member (obj, "code");
      const char *msg = th_json_object_get_string (obj, "msg");
      g_autofree char *reason = g_strdup_printf ("Binance error %" G_GINT64_FORMAT ": %s",
                                                 JSON_NODE_HOLDS_VALUE (code) &&
                                                 json_node_get_value_type (code) == G_TYPE_INT64
                                                   ? json_node_get_int (code) : 0,
                                                 msg != NULL ? msg : "?");

      g_message ("%s", reason);
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, reason);
      return;
    }

  data = json_object_get_member (obj, "data");
  if (data != NULL && JSON_NODE_HOLDS_OBJECT (data))
    parse_payload (self, json_node_get_object (data));
  else if (json_object_has_member (obj, "e"))
    parse_payload (self, obj);   /* a raw (non-combined) stream */
  else if (data != NULL && JSON_NODE_HOLDS_ARRAY (data))
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "an array stream (not subscribed)");
  else
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a message without data");
}

static void
th_binance_finalize (GObject *object)
{
  ThBinance *self = TH_BINANCE (object);

  g_strfreev (self->streams);
  g_clear_object (&self->parser);
  G_OBJECT_CLASS (th_binance_parent_class)->finalize (object);
}

static void
th_binance_class_init (ThBinanceClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_binance_finalize;
  feed_class->name = "binance";
  feed_class->stale_after = 30;
  feed_class->max_age = 23 * 3600 + 50 * 60;
  feed_class->max_attempts = 300;
  feed_class->configure = th_binance_configure;
  feed_class->build_url = th_binance_build_url;
  feed_class->message = th_binance_message;
}

static void
th_binance_class_finalize (ThBinanceClass *klass)
{
}

static void
th_binance_init (ThBinance *self)
{
  self->parser = json_parser_new_immutable ();
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_binance_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_BINANCE);
}
