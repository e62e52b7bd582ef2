/* test-coinbase.c: the coinbase feed against a local server speaking
 * Coinbase Exchange's WebSocket protocol
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"

/* Coinbase's documented ticker, fields in the documentation's order. */
#define TICKER_ETH \
  "{\"type\":\"ticker\",\"sequence\":37475248783,\"product_id\":\"ETH-USD\",\"price\":\"1285.22\",\"open_24h\":\"1310.79\"," \
  "\"volume_24h\":\"245532.79269678\",\"low_24h\":\"1280.52\",\"high_24h\":\"1313.8\",\"volume_30d\":\"9788783.60117027\"," \
  "\"best_bid\":\"1285.04\",\"best_bid_size\":\"0.46688654\",\"best_ask\":\"1285.27\",\"best_ask_size\":\"1.56637040\"," \
  "\"side\":\"buy\",\"time\":\"2022-10-19T23:28:22.061769Z\",\"trade_id\":370843401,\"last_size\":\"11.4396987\"}"
/* Fields in another order, as the venue is free to send them. */
#define TICKER_BTC_SEQ(seq, price) \
  "{\"time\":\"2022-10-19T23:28:23.000250Z\",\"best_ask\":\"43000.90\",\"product_id\":\"BTC-USD\",\"price\":\"" price "\"," \
  "\"best_bid\":\"43000.10\",\"volume_24h\":\"12345.678\",\"open_24h\":\"40000\",\"type\":\"ticker\",\"trade_id\":1," \
  "\"sequence\":" #seq ",\"side\":\"sell\",\"last_size\":\"0.01\"}"
#define TICKER_BTC TICKER_BTC_SEQ (1000, "43000.50")
#define HEARTBEAT_BTC_SEQ(seq) \
  "{\"type\":\"heartbeat\",\"last_trade_id\":20,\"product_id\":\"BTC-USD\",\"sequence\":" #seq "," \
  "\"time\":\"2022-10-19T23:28:24.464459Z\"}"
#define MATCH_BTC(type, seq, price, size) \
  "{\"type\":\"" type "\",\"trade_id\":" #seq ",\"maker_order_id\":\"ac928c66-ca53-498f-9c13-a110027a60e8\"," \
  "\"taker_order_id\":\"132fb6ae-456b-4654-b4e0-d681ac05cea1\",\"side\":\"sell\",\"size\":\"" size "\"," \
  "\"price\":\"" price "\",\"product_id\":\"BTC-USD\",\"sequence\":" #seq ",\"time\":\"2022-10-19T23:28:25.000001Z\"}"

/* What a test changes in the fixture. */
typedef struct
{
  const char *config;     /* appended to [coinbase] */
  const char *snapshot;   /* sent after each subscriptions reply, as Coinbase sends the latest ticker */
  const char *omit;       /* a product the server leaves out of its subscriptions reply */
} Scenario;

typedef struct
{
  FakeWs         *ws;
  ThHub          *hub;
  GPtrArray      *events;
  const Scenario *scenario;
  gint64          accepted_at;
  gint64          subscribed_at;
} Fixture;

/* The fake Coinbase */

static const char *const fake_products[] = { "BTC-USD", "ETH-USD", "SOL-USD", NULL };
static const char *const fake_channels[] = { "ticker", "heartbeat", "matches", "ticker_batch", "status", "level2_batch", NULL };
static const char *const fake_auth_channels[] = { "level2", "level3", "full", NULL };

typedef struct
{
  char      *name;
  GPtrArray *product_ids;
} FakeSub;

static void
fake_sub_free (gpointer data)
{
  FakeSub *sub = data;

  g_free (sub->name);
  g_ptr_array_unref (sub->product_ids);
  g_free (sub);
}

static void
send_object (SoupWebsocketConnection *conn,
             JsonObject              *obj)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autofree char *text = json_to_string (node, FALSE);

  soup_websocket_connection_send_text (conn, text);
}

static void
send_error (SoupWebsocketConnection *conn,
            const char              *reason)
{
  g_autoptr(JsonObject) obj = json_object_new ();

  json_object_set_string_member (obj, "type", "error");
  json_object_set_string_member (obj, "message", "Failed to subscribe");
  json_object_set_string_member (obj, "reason", reason);
  send_object (conn, obj);
}

static void
add_product (FakeSub    *sub,
             const char *id)
{
  for (guint i = 0; i < sub->product_ids->len; i++)
    if (g_str_equal (sub->product_ids->pdata[i], id))
      return;
  g_ptr_array_add (sub->product_ids, g_strdup (id));
}

/* Channels are names (with the top-level product_ids) or objects with
 * their own product_ids. Returns the error reason, or NULL. */
static char *
check_subscribe (JsonArray *channels,
                 JsonArray *product_ids)
{
  for (guint i = 0; channels != NULL && i < json_array_get_length (channels); i++)
    {
      JsonNode *node = json_array_get_element (channels, i);
      const char *name = NULL;
      JsonArray *ids = product_ids;

      if (JSON_NODE_HOLDS_VALUE (node))
        name = json_node_get_string (node);
      else if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *ch = json_node_get_object (node);

          name = json_object_get_string_member_with_default (ch, "name", NULL);
          if (json_object_has_member (ch, "product_ids"))
            ids = json_object_get_array_member (ch, "product_ids");
        }
      if (name == NULL)
        return g_strdup ("channels must be names or objects with a name");
      if (g_strv_contains (fake_auth_channels, name))
        return g_strdup ("level2, level3, and full channels now require authentication. "
                         "Please see https://docs.cdp.coinbase.com/exchange/docs/websocket-auth");
      if (!g_strv_contains (fake_channels, name))
        return g_strdup_printf ("%s is not a valid channel", name);
      for (guint j = 0; ids != NULL && j < json_array_get_length (ids); j++)
        {
          const char *id = json_array_get_string_element (ids, j);

          if (id == NULL || !g_strv_contains (fake_products, id))
            return g_strdup_printf ("%s is not a valid product", id != NULL ? id : "(null)");
        }
    }
  return NULL;
}

/* Answers a subscribe as Coinbase does: an error if anything is wrong
 * (nothing is subscribed then), or the cumulative subscriptions of the
 * connection, then the latest ticker. */
static void
on_received (FakeWs                  *ws,
             SoupWebsocketConnection *conn,
             const char              *text,
             gpointer                 data)
{
  Fixture *fx = data;
  g_autoptr(JsonNode) root = json_from_string (text, NULL);
  GPtrArray *subs = g_object_get_data (G_OBJECT (conn), "subscriptions");
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonArray) out = NULL;
  g_autofree char *error = NULL;
  JsonObject *req;
  JsonArray *channels = NULL;
  JsonArray *product_ids = NULL;

  if (fx->subscribed_at == 0)
    fx->subscribed_at = g_get_monotonic_time ();
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      send_error (conn, "malformed JSON");
      return;
    }
  req = json_node_get_object (root);
  if (g_strcmp0 (json_object_get_string_member_with_default (req, "type", NULL), "subscribe") != 0)
    {
      send_error (conn, "type has to be either subscribe or unsubscribe");
      return;
    }
  if (json_object_has_member (req, "channels"))
    channels = json_object_get_array_member (req, "channels");
  if (json_object_has_member (req, "product_ids"))
    product_ids = json_object_get_array_member (req, "product_ids");
  error = check_subscribe (channels, product_ids);
  if (error != NULL)
    {
      send_error (conn, error);
      return;
    }

  if (subs == NULL)
    {
      subs = g_ptr_array_new_with_free_func (fake_sub_free);
      g_object_set_data_full (G_OBJECT (conn), "subscriptions", subs, (GDestroyNotify) g_ptr_array_unref);
    }
  for (guint i = 0; i < json_array_get_length (channels); i++)
    {
      JsonNode *node = json_array_get_element (channels, i);
      JsonObject *ch = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
      const char *name = ch != NULL ? json_object_get_string_member (ch, "name") : json_node_get_string (node);
      JsonArray *ids = ch != NULL && json_object_has_member (ch, "product_ids") ?
                       json_object_get_array_member (ch, "product_ids") : product_ids;
      FakeSub *sub = NULL;

      for (guint j = 0; j < subs->len && sub == NULL; j++)
        if (g_str_equal (((FakeSub *) subs->pdata[j])->name, name))
          sub = subs->pdata[j];
      if (sub == NULL)
        {
          sub = g_new0 (FakeSub, 1);
          sub->name = g_strdup (name);
          sub->product_ids = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (subs, sub);
        }
      for (guint j = 0; ids != NULL && j < json_array_get_length (ids); j++)
        if (g_strcmp0 (json_array_get_string_element (ids, j), fx->scenario->omit) != 0)
          add_product (sub, json_array_get_string_element (ids, j));
    }

  reply = json_object_new ();
  out = json_array_new ();
  json_object_set_string_member (reply, "type", "subscriptions");
  for (guint i = 0; i < subs->len; i++)
    {
      FakeSub *sub = subs->pdata[i];
      JsonObject *ch = json_object_new ();
      JsonArray *ids = json_array_new ();

      for (guint j = 0; j < sub->product_ids->len; j++)
        json_array_add_string_element (ids, sub->product_ids->pdata[j]);
      json_object_set_string_member (ch, "name", sub->name);
      json_object_set_array_member (ch, "product_ids", ids);
      json_array_add_object_element (out, ch);
    }
  json_object_set_array_member (reply, "channels", json_array_ref (out));
  send_object (conn, reply);

  if (fx->scenario->snapshot != NULL)
    soup_websocket_connection_send_text (conn, fx->scenario->snapshot);
}

static void
on_connected (FakeWs                  *ws,
              SoupWebsocketConnection *conn,
              const char              *query,
              gpointer                 data)
{
  Fixture *fx = data;

  if (fx->accepted_at == 0)
    fx->accepted_at = g_get_monotonic_time ();
}

/* The fixture */

static const Scenario plain = { NULL, NULL, NULL };

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autofree char *text = NULL;

  fx->scenario = data != NULL ? data : &plain;
  fx->ws = fake_ws_new ("/");
  fake_ws_set_handlers (fx->ws, on_connected, on_received, fx);
  url = fake_ws_url (fx->ws);
  text = g_strdup_printf ("[tickhub]\nplugins=coinbase\nsymbols=BTC;ETH\ntimeframes=1m\n"
                          "[prices]\norder=coinbase;binance\n[binance]\nttl=30\n"
                          "[coinbase]\nurl=%s\nstale-after=1\nreconnect-max=2\nmax-frame=4096\nttl=1.5\n%s",
                          url, fx->scenario->config != NULL ? fx->scenario->config : "");
  fx->hub = th_test_hub_new (text, NULL);
  fx->events = th_test_capture_events (fx->hub);
  /* Rejections are warnings, not test failures. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_clear (&fx->hub);
  fake_ws_free (fx->ws);
  g_ptr_array_unref (fx->events);
}

static char *
state (Fixture *fx)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (fx->hub);
  g_autoptr(GVariant) s = th_feed_source_get_stats (feeds->pdata[0]);
  char *v = NULL;

  g_variant_lookup (s, "state", "s", &v);
  return v;
}

/* Waits for the nth subscribe and for the reply to it to be read. */
static void
wait_subscribed (Fixture *fx,
                 guint    n)
{
  th_test_wait_until (fake_ws_received (fx->ws)->len == n, 5000);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "subscribed") >= 1, 5000);
}

/* Tests */

static void
assert_subscribe (const char        *text,
                  const char *const *channels)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = json_from_string (text, &error);
  JsonObject *obj;
  JsonArray *ids, *chans;

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  obj = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member_with_default (obj, "type", NULL), ==, "subscribe");
  ids = json_object_get_array_member (obj, "product_ids");
  g_assert_nonnull (ids);
  g_assert_cmpuint (json_array_get_length (ids), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (ids, 0), ==, "BTC-USD");
  g_assert_cmpstr (json_array_get_string_element (ids, 1), ==, "ETH-USD");
  chans = json_object_get_array_member (obj, "channels");
  g_assert_nonnull (chans);
  g_assert_cmpuint (json_array_get_length (chans), ==, g_strv_length ((char **) channels));
  for (guint i = 0; channels[i] != NULL; i++)
    g_assert_cmpstr (json_array_get_string_element (chans, i), ==, channels[i]);
}

static void
test_subscribe_sent (Fixture       *fx,
                     gconstpointer  data)
{
  static const char *const channels[] = { "ticker", "heartbeat", NULL };

  wait_subscribed (fx, 1);
  assert_subscribe (fake_ws_received (fx->ws)->pdata[0], channels);
  /* Well within Coinbase's 5 s. */
  g_assert_cmpint (fx->subscribed_at - fx->accepted_at, <, G_USEC_PER_SEC);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status",
                                          "\"state\":\"connecting\",\"reason\":\"subscribed; waiting for the first price\""), ==, 1);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
}

static void
test_prices_normalized (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(ThTick) btc = NULL;
  g_autoptr(ThTick) eth = NULL;
  g_autoptr(GError) error = NULL;

  wait_subscribed (fx, 1);
  fake_ws_send (fx->ws, TICKER_ETH);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);

  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"ETH\",\"data\":{\"price\":1285.22,\"volume\":245532.79269678,\"change\":-1.9507320013121812,"
    "\"bid\":1285.04,\"ask\":1285.27,\"source\":\"coinbase\",\"timestamp\":\"2022-10-19T23:28:22.061Z\"}"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update",
    "{\"symbol\":\"BTC\",\"data\":{\"price\":43000.5,\"volume\":12345.678,\"change\":7.50125,"
    "\"bid\":43000.1,\"ask\":43000.9,\"source\":\"coinbase\",\"timestamp\":\"2022-10-19T23:28:23.000Z\"}"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"live\""), ==, 1);

  /* The exchange time keeps its microseconds. */
  eth = th_hub_get_price (fx->hub, "ETH", &error);
  g_assert_no_error (error);
  g_assert_cmpint (eth->exchange_time, ==, G_GINT64_CONSTANT (1666222102061769));
  g_assert_cmpfloat_with_epsilon (eth->change_24h, (1285.22 - 1310.79) / 1310.79 * 100, 1e-12);
  btc = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpint (btc->exchange_time, ==, G_GINT64_CONSTANT (1666222103000250));
  g_assert_cmpfloat (btc->price, ==, 43000.5);
  g_assert_cmpint (btc->kind, ==, TH_TICK_KIND_QUOTE);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 0);
  g_assert_cmpuint (fake_ws_received (fx->ws)->len, ==, 1);
}

static void
test_sequence_gap_and_duplicate (Fixture       *fx,
                                 gconstpointer  data)
{
  wait_subscribed (fx, 1);
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1000, "43000.50"));
  fake_ws_send (fx->ws, HEARTBEAT_BTC_SEQ (50));    /* another channel: its own sequence */
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1005, "43001"));   /* order-book sequence: jumps are normal */
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1005, "43001"));   /* a duplicate: no second tick */
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1003, "43002"));   /* late: out of order */
  fake_ws_send (fx->ws, HEARTBEAT_BTC_SEQ (50));    /* a quiet second: the same sequence is fine */
  fake_ws_send (fx->ws, HEARTBEAT_BTC_SEQ (53));    /* jumps too: not a gap */
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1006, "43003"));
  th_test_wait_until (th_test_feed_stat (fx->hub, "ticks") == 3, 5000);

  /* Gaps are counted on trade ids (matches), not on these sequences. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 2);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", NULL), ==, 3);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":43001,"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":43002,"), ==, 0);
}

static void
test_matches (Fixture       *fx,
              gconstpointer  data)
{
  static const char *const channels[] = { "ticker", "heartbeat", "matches", NULL };
  g_autoptr(ThTick) btc = NULL;
  g_autoptr(GPtrArray) candles = NULL;
  const ThCandle *forming;

  wait_subscribed (fx, 1);
  assert_subscribe (fake_ws_received (fx->ws)->pdata[0], channels);
  fake_ws_send (fx->ws, MATCH_BTC ("last_match", 100, "43000", "0.5"));
  fake_ws_send (fx->ws, MATCH_BTC ("match", 101, "43010", "0.25"));
  fake_ws_send (fx->ws, MATCH_BTC ("match", 101, "43010", "0.25"));    /* a duplicate */
  fake_ws_send (fx->ws, MATCH_BTC ("match", 103, "43020", "0.125"));   /* 102 lost */
  th_test_wait_until (th_test_feed_stat (fx->hub, "ticks") == 3, 5000);

  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 1);
  btc = th_hub_get_price (fx->hub, "BTC", NULL);
  g_assert_cmpint (btc->kind, ==, TH_TICK_KIND_TRADE);
  g_assert_cmpfloat (btc->price, ==, 43020);
  g_assert_cmpfloat (btc->size, ==, 0.125);
  /* Each trade once in the candle's volume. */
  candles = th_hub_get_candles (fx->hub, "BTC", 60 * G_USEC_PER_SEC, 1);
  g_assert_nonnull (candles);
  g_assert_cmpuint (candles->len, ==, 1);
  forming = candles->pdata[0];
  g_assert_cmpfloat (forming->volume, ==, 0.875);
  g_assert_cmpfloat (forming->high, ==, 43020);
}

static const Scenario with_matches = { "channels=ticker;heartbeat;matches\n", NULL, NULL };

static void
test_reconnects_after_drop (Fixture       *fx,
                            gconstpointer  data)
{
  wait_subscribed (fx, 1);
  /* The latest ticker comes right after the subscriptions reply. */
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);

  fake_ws_drop (fx->ws);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"down\"") >= 1, 5000);
  /* Backoff 1 s ± 20 %: back within 2 s, subscribed again. */
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 2 && fake_ws_n_open (fx->ws) == 1, 2500);
  th_test_wait_until (fake_ws_received (fx->ws)->len == 2, 2000);
  g_assert_cmpstr (fake_ws_received (fx->ws)->pdata[1], ==, fake_ws_received (fx->ws)->pdata[0]);

  /* The same latest ticker again, then a new one: only the new one is a tick. */
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1001, "43005"));
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 2, 5000);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":43005,"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 2);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "reconnects"), ==, 1);
  /* Neither the snapshot nor the jump over the reconnection is an anomaly. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 0);
}

static const Scenario with_snapshot = { NULL, TICKER_BTC, NULL };

static void
test_silent_goes_stale_and_falls_back (Fixture       *fx,
                                       gconstpointer  data)
{
  g_autoptr(ThTick) other = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 42999, g_get_real_time ());
  g_autoptr(ThTick) price = NULL;

  wait_subscribed (fx, 1);
  th_hub_push_tick (fx->hub, other);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"to\":\"coinbase\"") == 1, 5000);

  /* Silence (no heartbeat): stale after 1 s, reconnect at once; the price
   * falls back to binance once coinbase's 1.5 s TTL is over. */
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\"") >= 1, 3000);
  th_test_wait_until (fake_ws_n_accepted (fx->ws) >= 2 && fake_ws_received (fx->ws)->len >= 2, 3000);
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coinbase\",\"to\":\"binance\"") == 1, 3000);
  price = th_hub_get_price (fx->hub, "BTC", NULL);
  g_assert_cmpstr (price->source, ==, "binance");

  /* Coinbase delivers again: it takes over. */
  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 3000);
  fake_ws_send (fx->ws, TICKER_BTC_SEQ (1001, "43001"));
  th_test_wait_until (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"binance\",\"to\":\"coinbase\"") == 1, 3000);
}

/* Sends heartbeats for BTC-USD naming @last_trade_id every 100 ms for
 * @msec; returns the next sequence. */
static guint
send_heartbeats (Fixture *fx,
                 guint    seq,
                 guint    last_trade_id,
                 guint    msec)
{
  gint64 end = g_get_monotonic_time () + msec * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *hb = g_strdup_printf ("{\"type\":\"heartbeat\",\"last_trade_id\":%u,\"product_id\":\"BTC-USD\","
                                             "\"sequence\":%u,\"time\":\"2022-10-19T23:28:24.464459Z\"}",
                                             last_trade_id, seq++);
      gint64 next = g_get_monotonic_time () + 100 * 1000;

      fake_ws_send (fx->ws, hb);
      th_test_wait_until (g_get_monotonic_time () >= next, 1000);
    }
  return seq;
}

static void
test_heartbeats_keep_it_alive (Fixture       *fx,
                               gconstpointer  data)
{
  wait_subscribed (fx, 1);
  /* 1.5 s with heartbeats only, over stale-after=1: no tick, no reconnection. */
  send_heartbeats (fx, 1, 20, 1500);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\""), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 0);
}

/* A quiet product: its ticker (trade 1) is older than ttl=1.5 s, but the
 * heartbeats say trade 1 is still the last one, so the price stays fresh.
 * Once they name a trade the feed never saw, the price expires. */
static void
test_heartbeats_keep_the_price_fresh (Fixture       *fx,
                                      gconstpointer  data)
{
  g_autoptr(ThTick) price = NULL;
  g_autoptr(GError) error = NULL;
  guint seq;

  wait_subscribed (fx, 1);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);

  seq = send_heartbeats (fx, 1, 1, 3000);
  g_assert_cmpuint (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coinbase\""), ==, 0);
  price = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (price->source, ==, "coinbase");
  g_assert_cmpfloat (price->price, ==, 43000.5);
  /* No event per heartbeat: the price did not change. */
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", NULL), ==, 1);

  send_heartbeats (fx, seq, 2, 2000);
  g_assert_cmpuint (th_test_count_events (fx->events, "price_source_changed", "\"from\":\"coinbase\",\"to\":null"), ==, 1);
  g_clear_pointer (&price, th_tick_unref);
  price = th_hub_get_price (fx->hub, "BTC", &error);
  g_assert_null (price);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
}

static void
test_error_keeps_connection (Fixture       *fx,
                             gconstpointer  data)
{
  g_autofree char *now = NULL;

  /* ETH-XYZ is not a Coinbase product: the subscribe fails as a whole. */
  th_test_wait_until (th_test_count_events (fx->events, "source_status",
                                            "\"state\":\"down\",\"reason\":\"Coinbase: Failed to subscribe: ETH-XYZ is not a valid product\"") == 1,
                      5000);
  g_assert_true (strstr (fake_ws_received (fx->ws)->pdata[0], "\"ETH-XYZ\"") != NULL);

  /* The connection stays (kept busy past stale-after), the state stays down:
   * nothing is subscribed, nothing makes it live. */
  send_heartbeats (fx, 1, 20, 1500);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
  now = state (fx);
  g_assert_cmpstr (now, ==, "down");
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"down\""), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"live\""), ==, 0);
  g_assert_cmpuint (th_test_count_events (fx->events, "source_status", "\"state\":\"stale\""), ==, 0);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages") + th_test_feed_stat (fx->hub, "bad_values") + th_test_feed_stat (fx->hub, "parse_errors"), ==, 0);
}

static const Scenario with_bad_product = { "[symbols]\nETH=coinbase:ETH-XYZ\n", NULL, NULL };

static void
test_subscriptions_checked (Fixture       *fx,
                            gconstpointer  data)
{
  th_test_wait_until (th_test_count_events (fx->events, "source_status",
                                            "\"state\":\"connecting\",\"reason\":\"subscribed, but Coinbase left out "
                                            "ticker ETH-USD; heartbeat ETH-USD\"") == 1, 5000);
  fake_ws_send (fx->ws, TICKER_BTC);
  th_test_wait_until (th_test_count_events (fx->events, "source_status", "\"state\":\"live\"") == 1, 5000);
}

static const Scenario with_eth_left_out = { NULL, NULL, "ETH-USD" };

static void
test_garbage (Fixture       *fx,
              gconstpointer  data)
{
#define T(fields) "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":\"BTC-USD\",\"time\":\"2022-10-19T23:28:23.000250Z\"," fields "}"
  static const char *const garbage[] = {
    "not json at all",
    "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":\"BTC",   /* truncated */
    "[1,2,3]",
    T ("\"price\":{}"),
    T ("\"price\":\"NaN\""),
    T ("\"price\":\"-5\""),
    T ("\"price\":\"1e400\""),
    "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":\"BTC-USD\",\"price\":\"1\",\"time\":\"yesterday\"}",
    "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":\"BTC-USD\",\"price\":\"1\",\"time\":\"2022-10-19T23:28:23.000250\"}",
    "{\"type\":\"ticker\",\"sequence\":\"1000\",\"product_id\":\"BTC-USD\",\"price\":\"1\",\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"type\":\"ticker\",\"sequence\":-1,\"product_id\":\"BTC-USD\",\"price\":\"1\",\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":42,\"price\":\"1\",\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"type\":\"ticker\",\"sequence\":1000,\"product_id\":\"DOGE-USD\",\"price\":\"0.1\",\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"type\":\"heartbeat\",\"sequence\":90,\"last_trade_id\":20,\"time\":\"2014-11-07T08:19:28.464459Z\"}",
    "{\"type\":\"match\",\"sequence\":5,\"product_id\":\"BTC-USD\",\"price\":\"1\",\"size\":\"-1\",\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"type\":\"subscriptions\",\"channels\":\"ticker\"}",
    "{\"type\":\"status\",\"products\":[],\"currencies\":[]}",
    "{\"type\":\"l2update\",\"product_id\":\"BTC-USD\",\"changes\":[[\"buy\",\"1\",\"1\"]],\"time\":\"2022-10-19T23:28:23Z\"}",
    "{\"product_id\":\"BTC-USD\",\"price\":\"1\"}",
    "{\"type\":5}",
  };
#undef T
  static const guint8 bad_utf8[] = "{\"type\":\"ticker\",\"product_id\":\"\xff\xfe\"}";
  g_autofree char *huge = NULL;

  wait_subscribed (fx, 1);
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++)
    fake_ws_send (fx->ws, garbage[i]);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_BINARY, "\x00\x01\x02", 3);
  fake_ws_send_raw (fx->ws, SOUP_WEBSOCKET_DATA_TEXT, bad_utf8, sizeof bad_utf8 - 1);
  huge = g_strnfill (10000, 'x');   /* over max-frame=4096 */
  fake_ws_send (fx->ws, huge);
  /* Same sequence as the rejected tickers: they did not count. */
  fake_ws_send (fx->ws, TICKER_BTC);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);
  /* Every piece of garbage was counted, the connection carried on. */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3 + 3);    /* not JSON, truncated, array; binary, UTF-8, huge */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "bad_values"), ==, 13);         /* {}, NaN, -5, 1e400, 2 times, 2 sequences, 2 products, heartbeat, size, channels */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 4);    /* status, l2update, no type, numeric type */
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "oversize"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "gaps"), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

static void
test_bad_config (void)
{
  static const struct { const char *conf; const char *expect; } cases[] = {
    { "[coinbase]\nurl=ws://x/\nchannels=level2\n",
      "[coinbase] channels: “level2” needs authentication (Coinbase API keys) since 2023" },
    { "[coinbase]\nurl=ws://x/\nchannels=ticker;full\n", "[coinbase] channels: “full” needs authentication" },
    { "[coinbase]\nurl=ws://x/\nchannels=ticker;depth\n", "[coinbase] channels: unknown channel “depth”" },
    { "[coinbase]\nurl=ws://x/\nchannels=ticker;ticker_batch\n", "[coinbase] channels: ticker and ticker_batch" },
    { "[coinbase]\nurl=ws://x/\nchannels=ticker;heartbeat;ticker\n", "[coinbase] channels: “ticker” is listed twice" },
    { "[coinbase]\nurl=ws://x/\nchannels=;\n", "[coinbase] channels: empty" },
    { "[coinbase]\nttl=10\n", "[coinbase] url: missing" },
    { "[coinbase]\nurl=http://x/\n", "[coinbase] url: “http://x/” is not a ws:// or wss:// URL" },
    { "[coinbase]\nurl=ws://x/\nstale-after=0\n", "[coinbase] stale-after: must be more than 0 seconds" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=coinbase\nsymbols=BTC\n%s", cases[i].conf);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      th_test_assert_contains (error->message, cases[i].expect);
    }
}

/* Nested past the depth limit, or a NUL in a string: refused and counted,
 * the connection carries on. */
static void
test_deep_json (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *deep = th_test_nested_array (100);
  g_autofree char *deeper = th_test_nested_array (2000);   /* under max-frame=4096 */
  g_autofree char *ticker_deep = g_strdup_printf ("{\"type\":\"ticker\",\"sequence\":999,\"product_id\":\"BTC-USD\","
                                                  "\"price\":\"1\",\"time\":\"2022-10-19T23:28:23Z\",\"z\":%s}", deep);

  wait_subscribed (fx, 1);
  fake_ws_send (fx->ws, ticker_deep);
  fake_ws_send (fx->ws, deeper);
  fake_ws_send (fx->ws, "{\"type\":\"ticker\",\"sequence\":999,\"product_id\":\"BTC-USD\\u0000\","
                        "\"price\":\"1\",\"time\":\"2022-10-19T23:28:23Z\"}");
  fake_ws_send (fx->ws, TICKER_BTC);

  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", NULL) == 1, 5000);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "parse_errors"), ==, 3);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "ticks"), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "financial_data_update", "\"price\":43000.5,"), ==, 1);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, scenario) g_test_add (path, Fixture, scenario, fixture_setup, fn, fixture_teardown)
  ADD ("/coinbase/subscribe-sent", test_subscribe_sent, NULL);
  ADD ("/coinbase/prices-normalized", test_prices_normalized, NULL);
  ADD ("/coinbase/sequence-gap-and-duplicate", test_sequence_gap_and_duplicate, NULL);
  ADD ("/coinbase/matches", test_matches, &with_matches);
  ADD ("/coinbase/reconnects-after-drop", test_reconnects_after_drop, &with_snapshot);
  ADD ("/coinbase/silent-goes-stale-and-falls-back", test_silent_goes_stale_and_falls_back, NULL);
  ADD ("/coinbase/heartbeats-keep-it-alive", test_heartbeats_keep_it_alive, NULL);
  ADD ("/coinbase/heartbeats-keep-the-price-fresh", test_heartbeats_keep_the_price_fresh, NULL);
  ADD ("/coinbase/error-keeps-connection", test_error_keeps_connection, &with_bad_product);
  ADD ("/coinbase/subscriptions-checked", test_subscriptions_checked, &with_eth_left_out);
  ADD ("/coinbase/garbage", test_garbage, NULL);
  ADD ("/coinbase/deep-json", test_deep_json, NULL);
#undef ADD
  g_test_add_func ("/coinbase/bad-config", test_bad_config);

  return g_test_run ();
}
