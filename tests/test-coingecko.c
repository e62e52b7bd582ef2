/* test-coingecko.c: the CoinGecko REST feed against a local CoinGecko
 *
 * A SoupServer on 127.0.0.1 answers /api/v3/simple/price as CoinGecko
 * does (checking the query, numbers with many decimals, fields in varying
 * order), or, per test, with a 429, a null entry, invalid JSON, a 500 or
 * late. Polling runs on a ThManualClock, so th_manual_clock_advance() makes
 * the next poll while the real main loop serves HTTP.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include <libsoup/soup.h>

#include "th-private.h"
#include "test-utils.h"

#define T0 G_GINT64_CONSTANT (1711356600000000)   /* 2024-03-25T08:50:00Z, the clock */

#define BTC_PRICE   67187.3358936566
#define BTC_VOLUME  31260929299.5248
#define BTC_CHANGE  3.63727894677354
#define BTC_UPDATED 1711356300                     /* 2024-03-25T08:45:00Z */
#define ETH_PRICE   3456.78901234567
#define ETH_VOLUME  12345678901.2345
#define ETH_CHANGE  (-1.23456789012345)

typedef enum {
  MODE_OK,
  MODE_NULL_ETH,         /* "ethereum": null */
  MODE_NULL_ETH_PRICE,   /* "ethereum": {"usd": null, ...} */
  MODE_EXTRA_ID,         /* also "dogecoin", which nobody asked for */
  MODE_RATE_LIMIT,       /* 429 with retry-after: 2 */
  MODE_RATE_LIMIT_BARE,  /* 429 without retry-after */
  MODE_INVALID_JSON,
  MODE_DEEP_JSON,        /* 500,000 nested arrays */
  MODE_500,
  MODE_DELAY,            /* answers after 2 s */
} Mode;

/* The plugin's messages, captured (th_test_capture_log): its warnings
 * about bad entries are expected here and must not abort the test. */
static GPtrArray *plugin_log;   /* char*: "LEVEL message" */

typedef struct
{
  ThClock    *clock;
  ThHub      *hub;
  GPtrArray  *events;       /* ThEvent* */

  /* The local CoinGecko. */
  SoupServer *server;
  char       *url;          /* http://127.0.0.1:PORT/api/v3 */
  Mode        mode;
  const char *retry_after;  /* with MODE_RATE_LIMIT; "2" */
  guint       hits;         /* requests answered or delayed */
  guint       bad_queries;  /* requests whose query was not CoinGecko's */
  guint       delayed;      /* answers still held back */
  char       *ids;          /* the last request's */
  char       *api_key;
  char       *user_agent;
  GArray     *hit_times;    /* gint64: the manual clock at each request */
} Fixture;

/* The server */

static const char *
query_get (GHashTable *query,
           const char *name)
{
  return query != NULL ? g_hash_table_lookup (query, name) : NULL;
}

/* One coin as CoinGecko writes it: full-precision numbers, and not always
 * the same order of fields. */
static void
append_coin (GString    *out,
             const char *id,
             Mode        mode)
{
  if (out->len > 1)
    g_string_append_c (out, ',');

  if (g_str_equal (id, "bitcoin"))
    g_string_append_printf (out, "\"bitcoin\":{\"usd\":%.15g,\"usd_24h_vol\":%.15g,\"usd_24h_change\":%.15g,"
                            "\"last_updated_at\":%d}", BTC_PRICE, BTC_VOLUME, BTC_CHANGE, BTC_UPDATED);
  else if (g_str_equal (id, "ethereum"))
    {
      if (mode == MODE_NULL_ETH)
        g_string_append (out, "\"ethereum\":null");
      else if (mode == MODE_NULL_ETH_PRICE)
        g_string_append (out, "\"ethereum\":{\"usd\":null,\"usd_24h_vol\":null,\"usd_24h_change\":null,"
                         "\"last_updated_at\":null}");
      else
        /* Volume and change first, and no last_updated_at. */
        g_string_append_printf (out, "\"ethereum\":{\"usd_24h_change\":%.15g,\"usd_24h_vol\":%.15g,"
                                "\"usd\":%.15g}", ETH_CHANGE, ETH_VOLUME, ETH_PRICE);
    }
  /* CoinGecko leaves out ids it does not know. */
}

static void
respond (Fixture           *f,
         SoupServerMessage *msg,
         const char        *ids)
{
  g_autoptr(GString) body = g_string_new ("{");
  g_auto(GStrv) list = g_strsplit (ids != NULL ? ids : "", ",", -1);

  for (guint i = 0; list[i] != NULL; i++)
    append_coin (body, list[i], f->mode);
  if (f->mode == MODE_EXTRA_ID)
    g_string_append (body, ",\"dogecoin\":{\"usd\":0.1734,\"usd_24h_vol\":1.5e9,\"usd_24h_change\":2.5,"
                     "\"last_updated_at\":1711356280}");
  g_string_append_c (body, '}');

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body->str, body->len);
}

typedef struct
{
  Fixture           *f;
  SoupServerMessage *msg;
  char              *ids;
} Delayed;

static gboolean
on_delay_over (gpointer data)
{
  Delayed *d = data;

  respond (d->f, d->msg, d->ids);
  soup_server_message_unpause (d->msg);
  d->f->delayed--;
  g_object_unref (d->msg);
  g_free (d->ids);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
server_callback (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  Fixture *f = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *ids = query_get (query, "ids");
  gint64 now = th_clock_get_time (f->clock);

  f->hits++;
  g_array_append_val (f->hit_times, now);
  g_free (f->ids);
  f->ids = g_strdup (ids);
  g_free (f->api_key);
  f->api_key = g_strdup (soup_message_headers_get_one (headers, "x-cg-demo-api-key"));
  g_free (f->user_agent);
  f->user_agent = g_strdup (soup_message_headers_get_one (headers, "User-Agent"));

  if (!g_str_equal (soup_server_message_get_method (msg), "GET") ||
      ids == NULL || *ids == '\0' ||
      g_strcmp0 (query_get (query, "vs_currencies"), "usd") != 0 ||
      g_strcmp0 (query_get (query, "include_24hr_vol"), "true") != 0 ||
      g_strcmp0 (query_get (query, "include_24hr_change"), "true") != 0 ||
      g_strcmp0 (query_get (query, "include_last_updated_at"), "true") != 0)
    {
      static const char error[] = "{\"error\":\"Missing or invalid parameter\"}";

      f->bad_queries++;
      soup_server_message_set_status (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, error, strlen (error));
      return;
    }

  switch (f->mode)
    {
    case MODE_RATE_LIMIT:
    case MODE_RATE_LIMIT_BARE:
      {
        static const char body[] = "{\"status\":{\"error_code\":429,\"error_message\":\"You've exceeded the Rate Limit. "
                                   "Please visit https://www.coingecko.com/en/api/pricing to subscribe to our API plans "
                                   "for higher rate limits.\"}}";

        soup_server_message_set_status (msg, 429, "Too Many Requests");
        if (f->mode == MODE_RATE_LIMIT)
          soup_message_headers_replace (soup_server_message_get_response_headers (msg), "retry-after", f->retry_after);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
      }
      break;
    case MODE_INVALID_JSON:
      {
        static const char body[] = "{\"bitcoin\":{\"usd\":67187.33,";

        soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body, strlen (body));
      }
      break;
    case MODE_DEEP_JSON:
      {
        GString *body = g_string_sized_new (1000000);

        for (guint i = 0; i < 500000; i++)
          g_string_append_c (body, '[');
        for (guint i = 0; i < 500000; i++)
          g_string_append_c (body, ']');
        soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body->str, body->len);
        g_string_free (body, FALSE);
      }
      break;
    case MODE_500:
      {
        static const char body[] = "<html><body>Internal Server Error</body></html>";

        soup_server_message_set_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL);
        soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, body, strlen (body));
      }
      break;
    case MODE_DELAY:
      {
        Delayed *d = g_new0 (Delayed, 1);

        d->f = f;
        d->msg = g_object_ref (msg);
        d->ids = g_strdup (ids);
        f->delayed++;
        soup_server_message_pause (msg);
        g_timeout_add (2000, on_delay_over, d);
      }
      break;
    case MODE_OK:
    case MODE_NULL_ETH:
    case MODE_NULL_ETH_PRICE:
    case MODE_EXTRA_ID:
    default:
      respond (f, msg, ids);
      break;
    }
}

/* Fixture */

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  guint port;

  f->clock = th_manual_clock_new (T0);
  f->hit_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  f->retry_after = "2";
  g_ptr_array_set_size (plugin_log, 0);

  f->server = th_test_soup_server_new (&port);
  soup_server_add_handler (f->server, "/api/v3/simple/price", server_callback, f, NULL);
  f->url = g_strdup_printf ("http://127.0.0.1:%u/api/v3", port);
}

static gboolean
nothing_delayed (Fixture *f)
{
  return f->delayed == 0;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  /* Cancelled requests and closed connections call back; answers held
   * back finish before the server goes. */
  g_clear_object (&f->hub);
  th_test_drain ();
  th_test_wait_until (nothing_delayed (f), 10000);
  th_test_drain ();
  soup_server_disconnect (f->server);
  g_clear_object (&f->server);
  th_test_drain ();
  g_clear_object (&f->clock);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  g_clear_pointer (&f->hit_times, g_array_unref);
  g_clear_pointer (&f->url, g_free);
  g_clear_pointer (&f->ids, g_free);
  g_clear_pointer (&f->api_key, g_free);
  g_clear_pointer (&f->user_agent, g_free);
}

static gboolean
load (Fixture     *f,
      const char  *conf,
      GError     **error)
{
  g_clear_object (&f->hub);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  f->hub = th_test_hub_try_new (conf, f->clock, error);
  if (f->hub == NULL)
    return FALSE;
  f->events = th_test_capture_events (f->hub);
  return TRUE;
}

/* The usual config, with @tickhub added to [tickhub] and @gecko to
 * [coingecko], their keys replacing the usual ones; @prices replaces
 * [prices] order. */
static char *
conf_for (Fixture    *f,
          const char *tickhub,
          const char *prices,
          const char *gecko)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=coingecko\nsymbols=BTC;ETH\ntimeframes=1m\n%s"
                                           "[prices]\norder=%s\n"
                                           "[coingecko]\nurl=%s\npoll-interval=10\n%s",
                                           tickhub != NULL ? tickhub : "",
                                           prices != NULL ? prices : "coingecko",
                                           f->url, gecko != NULL ? gecko : "");

  return th_test_config_last_wins (text);
}

static void
start_with (Fixture    *f,
            const char *tickhub,
            const char *prices,
            const char *gecko)
{
  g_autofree char *conf = conf_for (f, tickhub, prices, gecko);
  g_autoptr(GError) error = NULL;

  load (f, conf, &error);
  g_assert_no_error (error);
  th_hub_start (f->hub);
}

static void
advance (Fixture *f,
         double   seconds)
{
  th_manual_clock_advance (TH_MANUAL_CLOCK (f->clock), (gint64) llround (seconds * G_USEC_PER_SEC));
}

static ThFeedSource *
feed (Fixture *f)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (f->hub);

  g_assert_cmpuint (feeds->len, ==, 1);
  /* The hub keeps its own reference. */
  return feeds->pdata[0];
}

static guint64
stat (Fixture    *f,
      const char *name)
{
  g_autoptr(GVariant) stats = th_feed_source_get_stats (feed (f));
  guint64 value = 0;

  if (!g_variant_lookup (stats, name, "t", &value))
    g_error ("no counter “%s” in the stats", name);
  return value;
}

static guint64
answered (Fixture *f)
{
  /* Invalid JSON is none of these: its test waits for the status. */
  return stat (f, "responses_ok") + stat (f, "http_errors") + stat (f, "rate_limited") +
         stat (f, "network_errors");
}

static guint
count_updates (Fixture    *f,
               const char *symbol)
{
  g_autoptr(GPtrArray) updates = th_test_events_data (f->events, "financial_data_update", symbol);

  return updates->len;
}

/* The last source_status of coingecko: its state, and its reason. */
static const char *
last_status (Fixture     *f,
             const char **reason)
{
  g_autoptr(GPtrArray) statuses = th_test_events_data (f->events, "source_status", NULL);

  for (guint i = statuses->len; i > 0; i--)
    {
      JsonObject *s = statuses->pdata[i - 1];

      if (g_strcmp0 (json_object_get_string_member (s, "source"), "coingecko") != 0)
        continue;
      if (reason != NULL)
        *reason = json_object_get_null_member (s, "reason") ? NULL : json_object_get_string_member (s, "reason");
      return json_object_get_string_member (s, "state");
    }
  return NULL;
}

static void
assert_status (Fixture    *f,
               const char *state,
               const char *reason_prefix)
{
  const char *reason = NULL;
  const char *got = last_status (f, &reason);

  g_assert_cmpstr (got, ==, state);
  if (reason_prefix == NULL)
    g_assert_null (reason);
  else if (reason == NULL || !g_str_has_prefix (reason, reason_prefix))
    g_error ("reason “%s” does not start with “%s”", reason, reason_prefix);
}

/* Runs until @n answers in all have been handled by the feed. */
static void
wait_answers (Fixture *f,
              guint64  n)
{
  th_test_wait_until (answered (f) >= n, 10000);
}

/* To 12 significant digits; NaN for null. */
#define assert_number(obj, member, expected) \
  th_test_assert_json_number (obj, member, expected, fabs (expected) * 1e-12)

static JsonObject *
last_update (Fixture    *f,
             const char *symbol)
{
  g_autoptr(GPtrArray) updates = th_test_events_data (f->events, "financial_data_update", symbol);

  g_assert_cmpuint (updates->len, >, 0);
  return json_object_get_object_member (updates->pdata[updates->len - 1], "data");
}

/* Tests */

static void
test_prices_normalized (Fixture       *f,
                        gconstpointer  data)
{
  JsonObject *btc, *eth;

  start_with (f, NULL, NULL, NULL);
  g_assert_cmpstr (last_status (f, NULL), ==, "connecting");
  wait_answers (f, 1);

  g_assert_cmpuint (f->bad_queries, ==, 0);
  g_assert_cmpuint (f->hits, ==, 1);
  g_assert_cmpstr (f->user_agent, ==, "tickhub/0.1");
  g_assert_null (f->api_key);

  btc = last_update (f, "BTC");
  g_assert_cmpstr (json_object_get_string_member (btc, "source"), ==, "coingecko");
  assert_number (btc, "price", BTC_PRICE);
  /* CoinGecko's volume is in dollars; ours is in the base asset. */
  assert_number (btc, "volume", BTC_VOLUME / BTC_PRICE);
  assert_number (btc, "change", BTC_CHANGE);
  assert_number (btc, "bid", NAN);
  assert_number (btc, "ask", NAN);
  g_assert_cmpstr (json_object_get_string_member (btc, "timestamp"), ==, "2024-03-25T08:45:00.000Z");

  /* No last_updated_at: the time it was received. */
  eth = last_update (f, "ETH");
  assert_number (eth, "price", ETH_PRICE);
  assert_number (eth, "volume", ETH_VOLUME / ETH_PRICE);
  assert_number (eth, "change", ETH_CHANGE);
  g_assert_cmpstr (json_object_get_string_member (eth, "timestamp"), ==, "2024-03-25T08:50:00.000Z");

  assert_status (f, "live", NULL);
  g_assert_cmpuint (stat (f, "requests"), ==, 1);
  g_assert_cmpuint (stat (f, "responses_ok"), ==, 1);
  g_assert_cmpuint (stat (f, "ticks"), ==, 2);
  g_assert_cmpuint (stat (f, "parse_errors"), ==, 0);
  g_assert_cmpuint (stat (f, "messages"), ==, 1);
  g_assert_cmpuint (stat (f, "bytes"), >, 100);

  /* Polls every interval, not before. */
  advance (f, 9.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 1);
  advance (f, 0.1);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  wait_answers (f, 2);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 2);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 2);
  g_assert_cmpuint (f->hits, ==, 2);
}

static void
test_one_request_for_all_ids (Fixture       *f,
                              gconstpointer  data)
{
  /* XBT shares bitcoin's id; AAPL has none. */
  start_with (f, "symbols=BTC;ETH;AAPL;XBT\n[symbols]\nXBT=coingecko:bitcoin\n", NULL, NULL);
  wait_answers (f, 1);

  g_assert_cmpuint (f->hits, ==, 1);
  g_assert_cmpuint (f->bad_queries, ==, 0);
  g_assert_cmpstr (f->ids, ==, "bitcoin,ethereum");
  g_assert_true (th_test_log_contains ("MESSAGE coingecko has no id for AAPL; add [symbols] AAPL=coingecko:<id>"));

  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);
  g_assert_cmpuint (count_updates (f, "XBT"), ==, 1);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 1);
  g_assert_cmpuint (count_updates (f, "AAPL"), ==, 0);
  assert_number (last_update (f, "XBT"), "price", BTC_PRICE);
  g_assert_cmpuint (stat (f, "ticks"), ==, 3);
}

static void
test_null_value_skipped (Fixture       *f,
                         gconstpointer  data)
{
  f->mode = MODE_NULL_ETH;
  start_with (f, NULL, NULL, NULL);
  wait_answers (f, 1);

  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 0);
  g_assert_cmpuint (stat (f, "parse_errors"), ==, 1);
  g_assert_cmpuint (stat (f, "ticks"), ==, 1);
  assert_status (f, "live", NULL);
  g_assert_true (th_test_log_contains ("WARNING CoinGecko sent no usable price for “ethereum”: its entry is null"));

  /* A null price is skipped the same way, logged once per id. */
  f->mode = MODE_NULL_ETH_PRICE;
  g_ptr_array_set_size (plugin_log, 0);
  advance (f, 10);
  wait_answers (f, 2);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 2);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 0);
  g_assert_cmpuint (stat (f, "parse_errors"), ==, 2);
  g_assert_cmpuint (plugin_log->len, ==, 0);

  /* Ids nobody asked for are ignored and counted. */
  f->mode = MODE_EXTRA_ID;
  advance (f, 10);
  wait_answers (f, 3);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 1);
  g_assert_cmpuint (stat (f, "unknown_ids"), ==, 1);
  g_assert_cmpuint (stat (f, "ticks"), ==, 4);
  g_assert_cmpuint (th_hub_get_rejected_ticks (f->hub), ==, 0);
}

static void
test_rate_limited (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = NULL;

  f->mode = MODE_RATE_LIMIT;
  start_with (f, NULL, NULL, NULL);
  wait_answers (f, 1);

  g_assert_cmpuint (stat (f, "rate_limited"), ==, 1);
  assert_status (f, "down", "rate limited by CoinGecko; retrying in 2 s");
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);

  /* Nothing before the Retry-After has passed: not the poll, not a
   * client's request. */
  f->mode = MODE_OK;
  tick = th_hub_get_price (f->hub, "BTC", &error);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_assert_null (tick);
  advance (f, 1.9);
  th_feed_source_request_price (feed (f), "ETH");
  g_assert_cmpuint (stat (f, "requests"), ==, 1);
  g_assert_cmpuint (f->hits, ==, 1);

  advance (f, 0.1);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  wait_answers (f, 2);
  g_assert_cmpuint (f->hits, ==, 2);
  g_assert_cmpint (g_array_index (f->hit_times, gint64, 1) - g_array_index (f->hit_times, gint64, 0), ==,
                   2 * G_USEC_PER_SEC);
  assert_status (f, "live", NULL);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);

  /* And the next poll an interval after that. */
  advance (f, 9.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  f->mode = MODE_RATE_LIMIT;
  f->retry_after = "8";
  advance (f, 0.1);
  g_assert_cmpuint (stat (f, "requests"), ==, 3);
  wait_answers (f, 3);
  assert_status (f, "down", "rate limited by CoinGecko; retrying in 8 s");

  /* A client's request is held back too, even once the on-demand gap
   * has passed. */
  f->mode = MODE_OK;
  advance (f, 6);
  th_feed_source_request_price (feed (f), "BTC");
  g_assert_cmpuint (stat (f, "requests"), ==, 3);
  g_assert_cmpuint (stat (f, "on_demand"), ==, 0);
  advance (f, 2);
  g_assert_cmpuint (stat (f, "requests"), ==, 4);
  wait_answers (f, 4);
  assert_status (f, "live", NULL);
}

static void
test_rate_limited_without_retry_after (Fixture       *f,
                                       gconstpointer  data)
{
  f->mode = MODE_RATE_LIMIT_BARE;
  start_with (f, NULL, NULL, NULL);
  wait_answers (f, 1);
  assert_status (f, "down", "rate limited by CoinGecko; retrying in 60 s");

  /* 60 s, then twice as long while CoinGecko keeps refusing. */
  advance (f, 59.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 1);
  advance (f, 0.1);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  wait_answers (f, 2);
  assert_status (f, "down", "rate limited by CoinGecko; retrying in 120 s");

  f->mode = MODE_OK;
  advance (f, 119.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  advance (f, 0.1);
  wait_answers (f, 3);
  assert_status (f, "live", NULL);
  g_assert_cmpuint (stat (f, "rate_limited"), ==, 2);
}

static gboolean
is_down (Fixture *f)
{
  return g_strcmp0 (last_status (f, NULL), "down") == 0;
}

/* A body nested 500,000 deep used to overflow json-glib's stack. */
static void
test_deep_json_recovers (Fixture       *f,
                         gconstpointer  data)
{
  f->mode = MODE_DEEP_JSON;
  start_with (f, NULL, NULL, NULL);
  th_test_wait_until (is_down (f), 10000);

  assert_status (f, "down", "invalid JSON from CoinGecko: nested deeper than 64 levels");
  g_assert_cmpuint (stat (f, "parse_errors"), ==, 1);
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);

  f->mode = MODE_OK;
  advance (f, 10);
  wait_answers (f, 1);
  assert_status (f, "live", NULL);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);
}

static void
test_invalid_json_recovers (Fixture       *f,
                            gconstpointer  data)
{
  f->mode = MODE_INVALID_JSON;
  start_with (f, NULL, NULL, NULL);
  th_test_wait_until (is_down (f), 10000);

  assert_status (f, "down", "invalid JSON from CoinGecko: ");
  {
    const char *reason = NULL;

    last_status (f, &reason);
    g_assert_true (g_str_has_suffix (reason, "; retrying in 10 s"));
  }
  g_assert_cmpuint (stat (f, "parse_errors"), ==, 1);
  g_assert_cmpuint (stat (f, "responses_ok"), ==, 0);
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);

  f->mode = MODE_OK;
  advance (f, 10);
  wait_answers (f, 1);
  assert_status (f, "live", NULL);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 1);
}

static void
test_http_500_recovers (Fixture       *f,
                        gconstpointer  data)
{
  f->mode = MODE_500;
  start_with (f, NULL, NULL, NULL);
  wait_answers (f, 1);
  assert_status (f, "down", "CoinGecko answered HTTP 500 Internal Server Error; retrying in 10 s");
  g_assert_cmpuint (stat (f, "http_errors"), ==, 1);

  /* A second failure in a row waits twice as long. */
  advance (f, 10);
  wait_answers (f, 2);
  assert_status (f, "down", "CoinGecko answered HTTP 500 Internal Server Error; retrying in 20 s");

  f->mode = MODE_OK;
  advance (f, 19.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  advance (f, 0.1);
  wait_answers (f, 3);
  assert_status (f, "live", NULL);
  g_assert_cmpuint (count_updates (f, "BTC"), ==, 1);

  /* Back to the plain interval. */
  advance (f, 10);
  g_assert_cmpuint (stat (f, "requests"), ==, 4);
  wait_answers (f, 4);
}

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  f->mode = MODE_DELAY;
  start_with (f, NULL, NULL, "timeout=1\n");
  wait_answers (f, 1);

  g_assert_cmpuint (stat (f, "network_errors"), ==, 1);
  assert_status (f, "down", "no answer from CoinGecko (127.0.0.1) within 1 s; retrying in 10 s");
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);

  /* The late answer changes nothing; the next poll recovers. */
  th_test_wait_until (nothing_delayed (f), 10000);
  th_test_drain ();
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);
  f->mode = MODE_OK;
  advance (f, 10);
  wait_answers (f, 2);
  assert_status (f, "live", NULL);
}

static void
test_connection_refused (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = NULL;
  guint16 port = th_test_closed_port ();   /* nobody listens there any more */

  conf = g_strdup_printf ("[tickhub]\nplugins=coingecko\nsymbols=BTC;ETH\n[prices]\norder=coingecko\n"
                          "[coingecko]\nurl=http://127.0.0.1:%u/api/v3\npoll-interval=10\n", port);
  load (f, conf, &error);
  g_assert_no_error (error);
  th_hub_start (f->hub);
  wait_answers (f, 1);

  assert_status (f, "down", "cannot reach CoinGecko (127.0.0.1): ");
  g_assert_cmpuint (stat (f, "network_errors"), ==, 1);
  g_assert_cmpuint (f->hits, ==, 0);
}

static void
test_request_price (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = NULL;

  f->mode = MODE_NULL_ETH;
  start_with (f, NULL, NULL, NULL);
  wait_answers (f, 1);
  g_assert_cmpuint (count_updates (f, "ETH"), ==, 0);

  /* A client asks for ETH, which no source has: fetched at once, and
   * further asks while it is on its way add nothing. */
  f->mode = MODE_OK;
  advance (f, 6);
  tick = th_hub_get_price (f->hub, "ETH", &error);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_clear_error (&error);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  g_assert_cmpuint (stat (f, "on_demand"), ==, 1);
  g_assert_null (th_hub_get_price (f->hub, "ETH", &error));
  g_clear_error (&error);
  th_feed_source_request_price (feed (f), "ETH");
  th_feed_source_request_price (feed (f), "BTC");
  g_assert_cmpuint (stat (f, "requests"), ==, 2);

  wait_answers (f, 2);
  g_assert_cmpuint (f->hits, ==, 2);
  tick = th_hub_get_price (f->hub, "ETH", &error);
  g_assert_no_error (error);
  g_assert_nonnull (tick);
  g_assert_cmpstr (tick->source, ==, "coingecko");
  g_assert_cmpfloat_with_epsilon (tick->price, ETH_PRICE, 1e-9);

  /* Not more than one on-demand request per 5 s... */
  advance (f, 4.9);
  th_feed_source_request_price (feed (f), "ETH");
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  advance (f, 0.1);
  th_feed_source_request_price (feed (f), "ETH");
  g_assert_cmpuint (stat (f, "requests"), ==, 3);
  wait_answers (f, 3);

  /* ...and symbols without a CoinGecko id are not fetched. */
  advance (f, 5);
  th_feed_source_request_price (feed (f), "AAPL");
  g_assert_cmpuint (stat (f, "requests"), ==, 3);

  /* The regular poll comes an interval after the last answer. */
  advance (f, 4.9);
  g_assert_cmpuint (stat (f, "requests"), ==, 3);
  advance (f, 0.1);
  g_assert_cmpuint (stat (f, "requests"), ==, 4);
  wait_answers (f, 4);
  g_assert_cmpuint (stat (f, "on_demand"), ==, 2);
}

static void
push_binance (Fixture    *f,
              const char *symbol,
              double      price)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, price, th_clock_get_time (f->clock));

  th_hub_push_tick (f->hub, tick);
}

static void
test_poll_auto (Fixture       *f,
                gconstpointer  data)
{
  start_with (f, NULL, "binance;coingecko\n[binance]\nttl=25", NULL);

  /* At start nothing is fresh: a poll. */
  wait_answers (f, 1);
  g_assert_cmpuint (f->hits, ==, 1);

  /* BTC from binance, ETH from nobody fresher: still polled. */
  push_binance (f, "BTC", 67000);
  advance (f, 10);                                   /* t = 10 */
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  wait_answers (f, 2);

  /* Both from binance: skipped, and checked again at every interval. */
  push_binance (f, "BTC", 67001);
  push_binance (f, "ETH", 3400);                     /* fresh until t = 35 */
  advance (f, 10);                                   /* t = 20 */
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  g_assert_cmpuint (stat (f, "skipped_polls"), ==, 1);
  advance (f, 10);                                   /* t = 30 */
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  g_assert_cmpuint (stat (f, "skipped_polls"), ==, 2);

  /* Binance goes stale at t = 35: the next check polls. */
  advance (f, 10);                                   /* t = 40 */
  g_assert_cmpuint (stat (f, "requests"), ==, 3);
  wait_answers (f, 3);
  g_assert_cmpuint (f->hits, ==, 3);
  g_assert_cmpstr (th_price_book_get_selected (th_hub_get_price_book (f->hub), "ETH"), ==, "coingecko");
}

static void
test_poll_always (Fixture       *f,
                  gconstpointer  data)
{
  start_with (f, NULL, "binance;coingecko\n[binance]\nttl=25", "poll=always\n");
  wait_answers (f, 1);

  push_binance (f, "BTC", 67001);
  push_binance (f, "ETH", 3400);
  advance (f, 10);
  g_assert_cmpuint (stat (f, "requests"), ==, 2);
  g_assert_cmpuint (stat (f, "skipped_polls"), ==, 0);
  wait_answers (f, 2);
}

static void
test_api_key (Fixture       *f,
              gconstpointer  data)
{
  start_with (f, NULL, NULL, "api-key=CG-abcDEF123456\n");
  wait_answers (f, 1);
  g_assert_cmpstr (f->api_key, ==, "CG-abcDEF123456");
  assert_status (f, "live", NULL);
}

static void
test_stop_in_flight (Fixture       *f,
                     gconstpointer  data)
{
  f->mode = MODE_DELAY;
  start_with (f, NULL, NULL, NULL);
  while (f->hits == 0)
    g_main_context_iteration (NULL, TRUE);

  /* The request is cancelled: no tick, no callback into a dead feed. */
  th_hub_stop_async (f->hub, NULL, NULL, NULL);
  g_clear_object (&f->hub);
  th_test_wait_until (nothing_delayed (f), 10000);
  th_test_drain ();
  g_assert_cmpuint (count_updates (f, NULL), ==, 0);
}

static void
assert_config_error (Fixture    *f,
                     const char *gecko,
                     const char *needle)
{
  g_autofree char *conf = conf_for (f, NULL, NULL, gecko);

  th_test_assert_bad_config (conf, needle);
}

static void
test_bad_config (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *both = NULL;

  assert_config_error (f, "poll-interval=5\n",
                       "[coingecko] poll-interval: “5” is below the minimum of 10 s");
  assert_config_error (f, "url=ftp://x\n", "[coingecko] url: “ftp://x” is not an http:// or https:// URL");
  assert_config_error (f, "timeout=0\n", "[coingecko] timeout: “0” is out of range");
  assert_config_error (f, "poll=sometimes\n", "[coingecko] poll: “sometimes” is not one of auto, always");
  assert_config_error (f, "poll-interval=120\n",
                       "[coingecko] poll-interval: 120 s is not shorter than the ttl of CoinGecko's prices (90 s)");
  assert_config_error (f, "api-key=abc def\n", "[coingecko] api-key: ");
  assert_config_error (f, "interval=10\n", "[coingecko] interval");

  /* Every problem at once, one per line. */
  both = g_strdup_printf ("[tickhub]\nplugins=coingecko\nsymbols=BTC\n[coingecko]\nurl=ftp://x\npoll-interval=5\n");
  g_assert_false (load (f, both, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[coingecko] url: "));
  g_assert_nonnull (strstr (error->message, "\n"));
  g_assert_nonnull (strstr (error->message, "[coingecko] poll-interval: "));
  g_clear_error (&error);

  /* And a good one loads, with a longer interval given a longer ttl. */
  {
    g_autofree char *conf = conf_for (f, NULL, NULL, "poll-interval=120\nttl=180\npoll=always\ntimeout=5\n");

    g_assert_true (load (f, conf, &error));
    g_assert_no_error (error);
  }
}

int
main (int   argc,
      char *argv[])
{
  /* Only 127.0.0.1 here, never through a proxy. */
  g_unsetenv ("http_proxy");
  g_unsetenv ("HTTP_PROXY");
  g_unsetenv ("https_proxy");
  g_unsetenv ("HTTPS_PROXY");
  g_unsetenv ("all_proxy");
  g_unsetenv ("ALL_PROXY");

  g_test_init (&argc, &argv, NULL);

  plugin_log = th_test_capture_log ("Tickhub-CoinGecko");

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/coingecko/prices-normalized", test_prices_normalized);
  ADD ("/coingecko/one-request-for-all-ids", test_one_request_for_all_ids);
  ADD ("/coingecko/null-value-skipped", test_null_value_skipped);
  ADD ("/coingecko/rate-limited-honours-retry-after", test_rate_limited);
  ADD ("/coingecko/rate-limited-without-retry-after", test_rate_limited_without_retry_after);
  ADD ("/coingecko/invalid-json-recovers", test_invalid_json_recovers);
  ADD ("/coingecko/deep-json-recovers", test_deep_json_recovers);
  ADD ("/coingecko/http-500-recovers", test_http_500_recovers);
  ADD ("/coingecko/timeout", test_timeout);
  ADD ("/coingecko/connection-refused", test_connection_refused);
  ADD ("/coingecko/request-price-fetches-now", test_request_price);
  ADD ("/coingecko/poll-auto-skips-when-covered", test_poll_auto);
  ADD ("/coingecko/poll-always", test_poll_always);
  ADD ("/coingecko/api-key-header", test_api_key);
  ADD ("/coingecko/stop-cancels-in-flight", test_stop_in_flight);
  ADD ("/coingecko/bad-config-names-the-key", test_bad_config);
#undef ADD

  return g_test_run ();
}
