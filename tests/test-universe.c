/* test-universe.c: many symbols on the venues: each venue's listing
 * completes the symbol map (fetched, cached, symbols it does not list
 * reported once), against local servers speaking the venues' protocols
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "th-private.h"
#include "fake-ws-server.h"
#include "test-utils.h"

static const char *const listed[] = { "AAA", "BBB", "CCC", NULL };

typedef struct
{
  FakeWs    *ws;
  ThHub     *hub;
  GPtrArray *events;
  GPtrArray *log;
} Fixture;

static char *
cache_path (const char *venue)
{
  g_autofree char *name = g_strdup_printf ("%s-listing.json", venue);

  return g_build_filename (g_get_user_cache_dir (), "tickhub", name, NULL);
}

static void
write_cache (const char *venue,
             const char *quote,
             gint64      age,
             const char *codes)
{
  g_autofree char *path = cache_path (venue);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *text = g_strdup_printf ("{\"venue\":\"%s\",\"quote\":\"%s\",\"fetched\":%" G_GINT64_FORMAT ",\"codes\":%s}",
                                           venue, quote, g_get_real_time () / G_USEC_PER_SEC - age, codes);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static guint
log_count (GPtrArray  *log,
           const char *needle)
{
  guint n = 0;

  for (guint i = 0; i < log->len; i++)
    if (strstr (log->pdata[i], needle) != NULL)
      n++;
  return n;
}

static void
binance_start (Fixture    *fx,
               const char *symbols,
               const char *extra)
{
  g_autofree char *url = fake_ws_url (fx->ws);
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  text = g_strdup_printf ("[tickhub]\nplugins=binance\nsymbols=%s\ntimeframes=1m\n"
                          "[binance]\nurl=%s\nrest-url=http://127.0.0.1:%u\nstale-after=60\nreconnect-max=2\n%s",
                          symbols, url, fake_ws_port (fx->ws), extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);
  fx->log = th_test_capture_log ("Tickhub-Binance");
  fx->hub = th_test_hub_new (merged, NULL);
  fx->events = th_test_capture_events (fx->hub);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  static const char *const venues[] = { "binance", "coinbase", "coincap", NULL };

  for (guint i = 0; venues[i] != NULL; i++)
    {
      g_autofree char *path = cache_path (venues[i]);

      g_unlink (path);
    }
  fx->ws = fake_ws_new ("/stream");
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_clear (&fx->hub);
  fake_ws_free (fx->ws);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
}

#define ALL_STREAMS "streams=btcusdt@ticker/aaausdt@ticker/bbbusdt@ticker"

/* Whether the open connection follows @all: named in its URL, or the
 * first part there and @n_more added by SUBSCRIBE (when the listing came
 * after the connection opened). */
static gboolean
follows (Fixture    *fx,
         const char *all,
         const char *first,
         guint       n_more)
{
  if (fake_ws_n_open (fx->ws) != 1)
    return FALSE;
  return g_strcmp0 (fake_ws_last_query (fx->ws), all) == 0 ||
         (g_strcmp0 (fake_ws_last_query (fx->ws), first) == 0 && fake_ws_subscribed (fx->ws) == n_more);
}

static void
test_binance_listing_completes_map (Fixture       *fx,
                                    gconstpointer  data)
{
  g_autofree char *cache = cache_path ("binance");
  g_autofree char *cached = NULL;
  g_autoptr(ThTick) aaa = NULL;
  g_autoptr(GError) error = NULL;
  ThSymbolMap *map;

  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  /* BTC has its code in symbols.conf; AAA and BBB only in the listing;
   * NOPE and HALT (halted) are not listed against USDT. */
  binance_start (fx, "BTC;AAA;BBB;NOPE;HALT", "streams=ticker\n");

  th_test_wait_until (follows (fx, ALL_STREAMS, "streams=btcusdt@ticker", 2), 5000);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
  map = th_hub_get_symbol_map (fx->hub);
  g_assert_cmpstr (th_symbol_map_lookup (map, "AAA", "binance"), ==, "AAAUSDT");
  g_assert_cmpstr (th_symbol_map_lookup (map, "BTC", "binance"), ==, "BTCUSDT");
  g_assert_null (th_symbol_map_lookup (map, "NOPE", "binance"));
  g_assert_null (th_symbol_map_lookup (map, "HALT", "binance"));
  g_assert_cmpuint (log_count (fx->log, "binance does not list 2 symbols (NOPE, HALT) against USDT"), ==, 1);

  /* The listing's codes are followed like any other. */
  fake_ws_send (fx->ws, "{\"stream\":\"aaausdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"AAAUSDT\","
                        "\"c\":\"1.25\",\"b\":\"1.24\",\"a\":\"1.26\",\"v\":\"100\",\"P\":\"1.5\"}}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"AAA\"") == 1, 5000);
  aaa = th_hub_get_price (fx->hub, "AAA", &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (aaa->price, ==, 1.25);

  /* Cached, boiled down to what we use. */
  g_assert_true (g_file_get_contents (cache, &cached, NULL, NULL));
  th_test_assert_contains (cached, "\"AAA\":\"AAAUSDT\"");
  g_assert_null (strstr (cached, "AAABTC"));

  /* A reconnection asks nothing again and reports nothing again. */
  {
    guint accepted = fake_ws_n_accepted (fx->ws);

    fake_ws_drop (fx->ws);
    th_test_wait_until (fake_ws_n_accepted (fx->ws) > accepted && fake_ws_n_open (fx->ws) == 1, 5000);
  }
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, ALL_STREAMS);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
  g_assert_cmpuint (log_count (fx->log, "does not list"), ==, 1);
}

static void
test_binance_live_subscribe (Fixture       *fx,
                             gconstpointer  data)
{
  GPtrArray *received;

  /* The listing comes after the connection opened with BTC: the other
   * symbols are subscribed on it, in requests answered by id. */
  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  fake_ws_listing_delay (fx->ws, 400);
  binance_start (fx, "BTC;AAA;BBB;NOPE", "streams=ticker;aggTrade\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, "streams=btcusdt@ticker/btcusdt@aggTrade");
  th_test_wait_until (fake_ws_subscribed (fx->ws) == 4, 5000);
  received = fake_ws_received (fx->ws);
  g_assert_cmpuint (received->len, ==, 1);
  g_assert_cmpstr (received->pdata[0], ==,
                   "{\"method\":\"SUBSCRIBE\",\"params\":[\"aaausdt@ticker\",\"aaausdt@aggTrade\","
                   "\"bbbusdt@ticker\",\"bbbusdt@aggTrade\"],\"id\":1}");

  /* The answer is matched, not parsed as a stream frame. */
  th_test_run_for (200);
  g_assert_cmpuint (th_test_feed_stat (fx->hub, "unknown_messages"), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  g_assert_cmpuint (fake_ws_cut_for_rate (fx->ws), ==, 0);

  fake_ws_send (fx->ws, "{\"stream\":\"bbbusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BBBUSDT\","
                        "\"c\":\"7.5\",\"b\":\"7.4\",\"a\":\"7.6\",\"v\":\"100\",\"P\":\"1.5\"}}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"BBB\"") == 1, 5000);

  /* A reconnection names every stream in its URL and sends nothing. */
  fake_ws_drop (fx->ws);
  th_test_wait_until (fake_ws_n_accepted (fx->ws) == 2 && fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==,
                   "streams=btcusdt@ticker/btcusdt@aggTrade/aaausdt@ticker/aaausdt@aggTrade/bbbusdt@ticker/bbbusdt@aggTrade");
  th_test_run_for (300);
  g_assert_cmpuint (fake_ws_received (fx->ws)->len, ==, 1);
}

static void
test_binance_many_requests_paced (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) bases = NULL;
  g_autofree char *symbols = NULL;
  g_autoptr(GString) all = g_string_new ("BTC");
  gint64 t0;

  /* 500 streams to add, 200 a request: 3 requests, at most 4 a second,
   * or the venue would cut the connection. */
  for (guint i = 0; i < 500; i++)
    {
      g_autofree char *base = g_strdup_printf ("V%03u", i);

      g_strv_builder_add (b, base);
      g_string_append_printf (all, ";%s", base);
    }
  bases = g_strv_builder_end (b);
  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, (const char *const *) bases);
  fake_ws_listing_delay (fx->ws, 300);
  /* One connection (a long URL allowed): the streams are added on it. */
  binance_start (fx, all->str, "streams=ticker\nmax-url=100000\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  t0 = g_get_monotonic_time ();
  th_test_wait_until (fake_ws_subscribed (fx->ws) == 500, 5000);
  g_assert_cmpuint (fake_ws_received (fx->ws)->len, ==, 3);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 400000);
  g_assert_cmpuint (fake_ws_cut_for_rate (fx->ws), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
  symbols = g_strdup (fake_ws_received (fx->ws)->pdata[2]);
  th_test_assert_contains (symbols, "\"id\":3}");
}

static void
test_binance_sharded (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) bases = NULL;
  g_autoptr(GString) all = g_string_new ("BTC");
  const char *extra = data;

  /* 601 symbols × 2 streams: over 1024, two connections at least. */
  for (guint i = 0; i < 600; i++)
    {
      g_autofree char *base = g_strdup_printf ("W%03u", i);

      g_strv_builder_add (b, base);
      g_string_append_printf (all, ";%s", base);
    }
  bases = g_strv_builder_end (b);
  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, (const char *const *) bases);
  binance_start (fx, all->str, extra);

  th_test_wait_until (fake_ws_open_streams (fx->ws) == 1202, 10000);
  if (strstr (extra, "max-url=100000") != NULL)
    g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 2);   /* 1024 + 178 */
  else
    g_assert_cmpuint (fake_ws_n_open (fx->ws), ==, 3);   /* 8000 bytes of URL each */
  g_assert_cmpuint (fake_ws_refused_streams (fx->ws), ==, 0);

  /* Each connection parses and reconnects on its own. */
  fake_ws_send (fx->ws, "{\"stream\":\"w599usdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"W599USDT\","
                        "\"c\":\"9.5\",\"b\":\"9.4\",\"a\":\"9.6\",\"v\":\"100\",\"P\":\"1.5\"}}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"W599\"") >= 1, 5000);
  {
    guint open = fake_ws_n_open (fx->ws);

    fake_ws_drop (fx->ws);
    th_test_wait_until (fake_ws_n_open (fx->ws) == open && fake_ws_open_streams (fx->ws) == 1202, 5000);
  }
}

static void
test_binance_fresh_cache_used (Fixture       *fx,
                               gconstpointer  data)
{
  write_cache ("binance", "USDT", 60, "{\"AAA\":\"AAAUSDT\",\"BBB\":\"BBBUSDT\"}");
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  binance_start (fx, "BTC;AAA;BBB", "streams=ticker\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, ALL_STREAMS);
  th_test_run_for (300);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (fx->ws), ==, 1);
}

static void
test_binance_old_cache_refetched (Fixture       *fx,
                                  gconstpointer  data)
{
  /* Older than listing-max-age: asked again, and the answer replaces it. */
  write_cache ("binance", "USDT", 7200, "{\"AAA\":\"OLDAAAUSDT\"}");
  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  binance_start (fx, "BTC;AAA;BBB", "streams=ticker\nlisting-max-age=3600\n");

  th_test_wait_until (follows (fx, ALL_STREAMS, "streams=btcusdt@ticker", 2), 5000);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
}

static void
test_binance_listing_fails (Fixture       *fx,
                            gconstpointer  data)
{
  /* The venue refuses: logged once; an old cache stands in meanwhile. */
  write_cache ("binance", "USDT", 7200, "{\"AAA\":\"AAAUSDT\"}");
  fake_ws_binance_limits (fx->ws, 1024, 5);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  fake_ws_history_fail (fx->ws, 503, "{\"code\":-1001,\"msg\":\"Internal error.\"}");
  binance_start (fx, "BTC;AAA;BBB", "streams=ticker\nlisting-max-age=3600\n");

  th_test_wait_until (follows (fx, "streams=btcusdt@ticker/aaausdt@ticker", "streams=btcusdt@ticker", 1), 5000);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
  g_assert_cmpuint (log_count (fx->log, "cannot fetch the venue's listing"), ==, 1);
  g_assert_cmpuint (log_count (fx->log, "using the older cached listing"), ==, 1);
  /* BBB is in no listing we have: reported once. */
  g_assert_cmpuint (log_count (fx->log, "binance does not list 1 symbol (BBB)"), ==, 1);
  th_test_run_for (500);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
}

static void
test_binance_listing_off (Fixture       *fx,
                          gconstpointer  data)
{
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  binance_start (fx, "BTC;AAA", "streams=ticker\nlisting=false\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, "streams=btcusdt@ticker");
  th_test_run_for (300);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 0);
  g_assert_cmpuint (log_count (fx->log, "binance has no code for AAA"), ==, 1);
}

static void
test_binance_only_listed (Fixture       *fx,
                          gconstpointer  data)
{
  /* No symbol has a code before the listing: the feed waits for it. */
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_BINANCE, listed);
  binance_start (fx, "AAA;CCC", "streams=ticker;aggTrade\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==,
                   "streams=aaausdt@ticker/aaausdt@aggTrade/cccusdt@ticker/cccusdt@aggTrade");
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
}

static void
venue_start (Fixture    *fx,
             const char *venue,
             const char *domain,
             const char *symbols,
             const char *extra)
{
  g_autofree char *url = fake_ws_url (fx->ws);
  g_autofree char *text = NULL;
  g_autofree char *merged = NULL;

  text = g_strdup_printf ("[tickhub]\nplugins=%s\nsymbols=%s\ntimeframes=1m\n"
                          "[%s]\nurl=%s\nrest-url=http://127.0.0.1:%u%s\nstale-after=60\nreconnect-max=2\n%s",
                          venue, symbols, venue, url, fake_ws_port (fx->ws),
                          g_str_equal (venue, "coincap") ? "/v3" : "", extra != NULL ? extra : "");
  merged = th_test_config_last_wins (text);
  fx->log = th_test_capture_log (domain);
  fx->hub = th_test_hub_new (merged, NULL);
  fx->events = th_test_capture_events (fx->hub);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_start (fx->hub);
}

static gboolean
received_contains (FakeWs     *ws,
                   const char *needle)
{
  GPtrArray *received = fake_ws_received (ws);

  for (guint i = 0; i < received->len; i++)
    if (strstr (received->pdata[i], needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_coinbase_listing (Fixture       *fx,
                       gconstpointer  data)
{
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_COINBASE, listed);
  venue_start (fx, "coinbase", "Tickhub-Coinbase", "BTC;AAA;BBB;NOPE", NULL);

  /* Subscribed to the listed products, on the open connection or the
   * next one, whichever the listing found. */
  th_test_wait_until (received_contains (fx->ws, "\"AAA-USD\"") && received_contains (fx->ws, "\"BBB-USD\""), 5000);
  g_assert_true (received_contains (fx->ws, "\"BTC-USD\""));
  g_assert_false (received_contains (fx->ws, "NOPE"));
  g_assert_false (received_contains (fx->ws, "AAA-EUR"));
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
  g_assert_cmpuint (log_count (fx->log, "coinbase does not list 1 symbol (NOPE) against USD"), ==, 1);
  g_assert_cmpstr (th_symbol_map_lookup (th_hub_get_symbol_map (fx->hub), "BBB", "coinbase"), ==, "BBB-USD");

  fake_ws_send (fx->ws, "{\"type\":\"ticker\",\"sequence\":100,\"product_id\":\"AAA-USD\",\"price\":\"2.5\","
                        "\"open_24h\":\"2.4\",\"volume_24h\":\"1000\",\"best_bid\":\"2.49\",\"best_ask\":\"2.51\","
                        "\"time\":\"2022-10-19T23:28:22.061769Z\",\"trade_id\":1}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"AAA\"") == 1, 5000);
}

static void
test_coincap_listing (Fixture       *fx,
                      gconstpointer  data)
{
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_COINCAP, listed);
  venue_start (fx, "coincap", "Tickhub-CoinCap", "BTC;AAA;NOPE", "api-key=k3y\n");

  th_test_wait_until (g_strcmp0 (fake_ws_last_query (fx->ws), "assets=bitcoin,aaa-coin&apiKey=k3y") == 0 &&
                      fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpuint (fake_ws_listing_requests (fx->ws), ==, 1);
  g_assert_cmpuint (log_count (fx->log, "coincap does not list 1 symbol (NOPE)"), ==, 1);
  fake_ws_send (fx->ws, "{\"aaa-coin\":\"3.75\"}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"AAA\"") == 1, 5000);
}

static void
test_coincap_sharded (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) bases = NULL;
  g_autoptr(GString) all = g_string_new ("BTC");
  g_autofree char *url = NULL;

  /* 300 assets of 10 bytes and more in a URL of at most 1000: 4 connections. */
  for (guint i = 0; i < 300; i++)
    {
      g_autofree char *base = g_strdup_printf ("X%03u", i);

      g_strv_builder_add (b, base);
      g_string_append_printf (all, ";%s", base);
    }
  bases = g_strv_builder_end (b);
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_COINCAP, (const char *const *) bases);
  venue_start (fx, "coincap", "Tickhub-CoinCap", all->str, "api-key=k3y\nmax-url=1000\n");

  url = fake_ws_url (fx->ws);
  th_test_wait_until (fake_ws_n_open (fx->ws) == 4, 5000);
  g_assert_cmpuint (strlen (url) + 1 + strlen (fake_ws_last_query (fx->ws)), <=, 1000);
  fake_ws_send (fx->ws, "{\"x299-coin\":\"3.75\",\"bitcoin\":\"50000\"}");
  th_test_wait_until (th_test_count_events (fx->events, "financial_data_update", "\"symbol\":\"X299\"") >= 1, 5000);
}

static void
test_coincap_no_assets_until_listing (Fixture       *fx,
                                      gconstpointer  data)
{
  /* Only listed symbols: not disabled, it waits for the listing. */
  fake_ws_serve_listing (fx->ws, FAKE_VENUE_COINCAP, listed);
  venue_start (fx, "coincap", "Tickhub-CoinCap", "AAA;CCC", "api-key=k3y\n");

  th_test_wait_until (fake_ws_n_open (fx->ws) == 1, 5000);
  g_assert_cmpstr (fake_ws_last_query (fx->ws), ==, "assets=aaa-coin,ccc-coin&apiKey=k3y");
}

/* 500 symbols × 3 venues */

#define N_UNIVERSE 500

typedef struct
{
  FakeWs    *binance, *coinbase, *coincap;
  ThHub     *hub;
  GPtrArray *events;
  char     **bases;    /* U000 … U499 */
} Universe;

static guint
count_char (const char *s,
            char        c)
{
  guint n = 0;

  for (; s != NULL && *s != '\0'; s++)
    n += *s == c;
  return n;
}

static gboolean
coinbase_subscribed_all (Universe *u)
{
  GPtrArray *received = fake_ws_received (u->coinbase);

  for (guint i = 0; u->bases[i] != NULL; i++)
    {
      g_autofree char *id = g_strdup_printf ("\"%s-USD\"", u->bases[i]);
      gboolean found = FALSE;

      for (guint m = 0; m < received->len && !found; m++)
        found = strstr (received->pdata[m], id) != NULL;
      if (!found)
        return FALSE;
    }
  return TRUE;
}

/* How many symbols the hub serves from @source. */
static guint
served_from (Universe   *u,
             const char *source,
             guint       parity)
{
  guint n = 0;

  for (guint i = 0; u->bases[i] != NULL; i++)
    {
      g_autoptr(ThTick) tick = NULL;

      if (parity < 2 && i % 2 != parity)
        continue;
      tick = th_hub_get_price (u->hub, u->bases[i], NULL);
      if (tick != NULL && g_strcmp0 (tick->source, source) == 0)
        n++;
    }
  return n;
}

static guint64
total_ticks (ThHub *hub)
{
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  guint64 total = 0;

  for (guint i = 0; i < feeds->len; i++)
    {
      g_autoptr(GVariant) stats = th_feed_source_get_stats (feeds->pdata[i]);
      guint64 v = 0;

      g_variant_lookup (stats, "ticks", "t", &v);
      total += v;
    }
  return total;
}

static void
send_binance (Universe *u,
              guint     parity)
{
  gint64 ms = g_get_real_time () / 1000;

  for (guint i = 0; u->bases[i] != NULL; i++)
    {
      g_autofree char *lower = g_ascii_strdown (u->bases[i], -1);
      g_autofree char *frame = NULL;

      if (parity < 2 && i % 2 != parity)
        continue;
      frame = g_strdup_printf ("{\"stream\":\"%susdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%" G_GINT64_FORMAT ","
                               "\"s\":\"%sUSDT\",\"c\":\"%u.5\",\"b\":\"%u.4\",\"a\":\"%u.6\",\"v\":\"1000\",\"P\":\"0.5\"}}",
                               lower, ms, u->bases[i], 100 + i, 100 + i, 100 + i);
      fake_ws_send (u->binance, frame);
    }
}

static void
test_universe_500x3 (void)
{
  Universe u = { 0 };
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *symbols = NULL;
  g_autofree char *url_b = NULL, *url_c = NULL, *url_k = NULL;
  g_autofree char *text = NULL, *merged = NULL;
  g_autoptr(GString) coincap = g_string_new ("{");
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *iso = g_date_time_format_iso8601 (now);
  gint64 t0;

  for (guint i = 0; i < N_UNIVERSE; i++)
    {
      g_autofree char *base = g_strdup_printf ("U%03u", i);

      g_strv_builder_add (b, base);
    }
  u.bases = g_strv_builder_end (b);
  symbols = g_strjoinv (";", u.bases);

  u.binance = fake_ws_new ("/stream");
  u.coinbase = fake_ws_new ("/");
  u.coincap = fake_ws_new ("/prices");
  fake_ws_binance_limits (u.binance, 1024, 5);
  fake_ws_serve_listing (u.binance, FAKE_VENUE_BINANCE, (const char *const *) u.bases);
  fake_ws_serve_listing (u.coinbase, FAKE_VENUE_COINBASE, (const char *const *) u.bases);
  fake_ws_serve_listing (u.coincap, FAKE_VENUE_COINCAP, (const char *const *) u.bases);
  url_b = fake_ws_url (u.binance);
  url_c = fake_ws_url (u.coinbase);
  url_k = fake_ws_url (u.coincap);

  text = g_strdup_printf ("[tickhub]\nplugins=binance;coinbase;coincap\nsymbols=%s\ntimeframes=1m\n"
                          "[prices]\norder=binance;coinbase;coincap\n"
                          "[binance]\nurl=%s\nrest-url=http://127.0.0.1:%u\nstreams=ticker\nttl=1.5\nstale-after=60\n"
                          "[coinbase]\nurl=%s\nrest-url=http://127.0.0.1:%u\nttl=30\nstale-after=60\n"
                          "[coincap]\nurl=%s\nrest-url=http://127.0.0.1:%u/v3\napi-key=k3y\nttl=30\nstale-after=60\n",
                          symbols, url_b, fake_ws_port (u.binance), url_c, fake_ws_port (u.coinbase),
                          url_k, fake_ws_port (u.coincap));
  merged = th_test_config_last_wins (text);
  th_test_capture_log ("Tickhub-Binance");
  u.hub = th_test_hub_new (merged, NULL);
  u.events = th_test_capture_events (u.hub);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  t0 = g_get_monotonic_time ();
  th_hub_start (u.hub);

  /* Every venue follows all 500, from its listing alone. */
  /* 500 streams make a URL over 8000 bytes (max-url): two connections. */
  th_test_wait_until (fake_ws_open_streams (u.binance) == N_UNIVERSE && fake_ws_n_open (u.binance) == 2, 10000);
  g_assert_cmpuint (strlen (fake_ws_last_query (u.binance)) + strlen (url_b) + 1, <=, 8000);
  th_test_wait_until (count_char (fake_ws_last_query (u.coincap), ',') == N_UNIVERSE - 1 && fake_ws_n_open (u.coincap) == 1, 10000);
  th_test_wait_until (coinbase_subscribed_all (&u), 10000);
  g_test_message ("3 venues × %u symbols subscribed %.0f ms after start", N_UNIVERSE,
                  (g_get_monotonic_time () - t0) / 1000.0);
  g_assert_cmpuint (fake_ws_listing_requests (u.binance), ==, 1);
  g_assert_cmpuint (fake_ws_listing_requests (u.coinbase), ==, 1);
  g_assert_cmpuint (fake_ws_listing_requests (u.coincap), ==, 1);

  /* A price for every symbol from every venue; Binance ranks first. */
  for (guint i = 0; u.bases[i] != NULL; i++)
    {
      g_autofree char *frame = g_strdup_printf ("{\"type\":\"ticker\",\"sequence\":%u,\"product_id\":\"%s-USD\",\"price\":\"%u.25\","
                                                "\"open_24h\":\"%u\",\"volume_24h\":\"10\",\"best_bid\":\"%u.2\",\"best_ask\":\"%u.3\","
                                                "\"time\":\"%s\",\"trade_id\":%u}",
                                                1000 + i, u.bases[i], 100 + i, 100 + i, 100 + i, 100 + i, iso, 1 + i);

      g_autofree char *lower = g_ascii_strdown (u.bases[i], -1);

      fake_ws_send (u.coinbase, frame);
      g_string_append_printf (coincap, "%s\"%s-coin\":\"%u.75\"", i > 0 ? "," : "", lower, 100 + i);
    }
  g_string_append_c (coincap, '}');
  fake_ws_send (u.coincap, coincap->str);
  send_binance (&u, 2);
  th_test_wait_until (served_from (&u, "binance", 2) == N_UNIVERSE, 10000);
  th_test_wait_until (total_ticks (u.hub) >= 3 * N_UNIVERSE, 10000);

  /* Fallback per symbol: Binance goes on for the even ones only; the odd
   * ones expire there (ttl 1.5 s) and come from Coinbase. */
  for (guint round = 0; round < 6; round++)
    {
      th_test_run_for (400);
      send_binance (&u, 0);
    }
  th_test_wait_until (served_from (&u, "coinbase", 1) == N_UNIVERSE / 2, 5000);
  g_assert_cmpuint (served_from (&u, "binance", 0), ==, N_UNIVERSE / 2);

  /* Within the venues' limits all along. */
  g_assert_cmpuint (fake_ws_refused_streams (u.binance), ==, 0);
  g_assert_cmpuint (fake_ws_cut_for_rate (u.binance), ==, 0);
  g_assert_cmpuint (fake_ws_n_accepted (u.coinbase), <=, 2);

  th_test_hub_clear (&u.hub);
  g_ptr_array_unref (u.events);
  fake_ws_free (u.binance);
  fake_ws_free (u.coinbase);
  fake_ws_free (u.coincap);
  g_strfreev (u.bases);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *cache = th_test_make_tmp_dir ("test-universe-XXXXXX");
  int status;

  /* Not G_TEST_OPTION_ISOLATE_DIRS: it hides the GSettings schemas GIO's
   * proxy resolver needs. One cache directory, emptied by each test. */
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/universe/binance/listing-completes-map", test_binance_listing_completes_map);
  ADD ("/universe/binance/fresh-cache-used", test_binance_fresh_cache_used);
  ADD ("/universe/binance/live-subscribe", test_binance_live_subscribe);
  g_test_add ("/universe/binance/sharded/streams", Fixture, "streams=ticker;aggTrade\nmax-url=100000\n",
              fixture_setup, test_binance_sharded, fixture_teardown);
  g_test_add ("/universe/binance/sharded/url-length", Fixture, "streams=ticker;aggTrade\n",
              fixture_setup, test_binance_sharded, fixture_teardown);
  ADD ("/universe/binance/many-requests-paced", test_binance_many_requests_paced);
  ADD ("/universe/binance/old-cache-refetched", test_binance_old_cache_refetched);
  ADD ("/universe/binance/listing-fails", test_binance_listing_fails);
  ADD ("/universe/binance/listing-off", test_binance_listing_off);
  ADD ("/universe/binance/only-listed-symbols", test_binance_only_listed);
  ADD ("/universe/coinbase/listing", test_coinbase_listing);
  ADD ("/universe/coincap/listing", test_coincap_listing);
  ADD ("/universe/coincap/sharded", test_coincap_sharded);
  ADD ("/universe/coincap/no-assets-until-listing", test_coincap_no_assets_until_listing);
#undef ADD
  g_test_add_func ("/universe/500-symbols-3-venues", test_universe_500x3);

  status = g_test_run ();
  th_test_remove_tmp_dir (cache);
  return status;
}
