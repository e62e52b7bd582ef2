/* test-backfill.c: the store's gaps filled from the venues' REST history
 *
 * Each test runs a hub with the store (a real SQLite file) and venue feeds
 * whose `rest-url` is a loopback server (fake-ws-server.c) answering
 * Binance's /api/v3/klines, Coinbase's /products/{id}/candles and
 * CoinGecko's /coins/{id}/ohlc in their formats, with their limits (1,000
 * and 300 rows a request), their errors (400 bad symbol, 429 with
 * Retry-After) and odd rows. The hub runs on a manual clock; what is
 * checked is what the database holds, what the answers say and which
 * requests the venues saw, never how long anything took.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <sqlite3.h>

#include "fake-ws-server.h"
#include "test-utils.h"

#define T0     G_GINT64_CONSTANT (1704067200000000)   /* 2024-01-01T00:00:00Z */
#define SEC    G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)
#define DAY    (86400 * SEC)

typedef struct
{
  char    *dir;
  char    *db;
  FakeWs  *binance;
  FakeWs  *coinbase;
  FakeWs  *coingecko;
  ThClock *clock;
  guint    warmup;      /* [tickhub] warmup of hub_new(): 0 unless set */
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  fx->dir = th_test_make_tmp_dir ("tickhub-backfill-XXXXXX");
  fx->db = g_build_filename (fx->dir, "history.db", NULL);
  fx->binance = fake_ws_new ("/stream");
  fx->coinbase = fake_ws_new ("/ws");
  fx->coingecko = fake_ws_new ("/unused");
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  fake_ws_free (fx->binance);
  fake_ws_free (fx->coinbase);
  fake_ws_free (fx->coingecko);
  g_clear_object (&fx->clock);
  g_assert_true (th_test_remove_tmp_dir (fx->dir));
  g_free (fx->dir);
  g_free (fx->db);
}

/* A hub with the store, the venues named in @plugins (binance, coinbase,
 * coingecko) on the loopback servers, in that order of trust, and @extra
 * config lines; not started. */
static ThHub *
hub_new (Fixture    *fx,
         gint64      now,
         const char *plugins,
         const char *timeframes,
         const char *backfill,
         const char *extra)
{
  g_autofree char *text = NULL;
  g_autofree char *binance_ws = fake_ws_url (fx->binance);
  g_autofree char *coinbase_ws = fake_ws_url (fx->coinbase);

  GString *venues = g_string_new (NULL);

  g_clear_object (&fx->clock);
  fx->clock = th_manual_clock_new (now);
  /* Only the groups of the plugins loaded: the others' keys are unknown. */
  if (strstr (plugins, "binance") != NULL)
    g_string_append_printf (venues, "[binance]\nurl=%s\nrest-url=http://127.0.0.1:%u\n\n",
                            binance_ws, fake_ws_port (fx->binance));
  if (strstr (plugins, "coinbase") != NULL)
    g_string_append_printf (venues, "[coinbase]\nurl=%s\nrest-url=http://127.0.0.1:%u/\n\n",
                            coinbase_ws, fake_ws_port (fx->coinbase));
  if (strstr (plugins, "coingecko") != NULL)
    g_string_append_printf (venues, "[coingecko]\nurl=http://127.0.0.1:%u\npoll-interval=80\n\n",
                            fake_ws_port (fx->coingecko));
  text = g_strdup_printf ("[tickhub]\nplugins=store;%s\nsymbols=BTC\ntimeframes=%s\nwarmup=%u\nbackfill=%s\n\n"
                          "[prices]\norder=binance;coinbase;coingecko\n\n"
                          "[store]\npath=%s\nretry-interval=0.05\nretention=candles:forever\n\n%s%s",
                          plugins, timeframes, fx->warmup, backfill, fx->db, venues->str, extra != NULL ? extra : "");
  g_string_free (venues, TRUE);
  return th_test_hub_new (text, fx->clock);
}

/* The database */

static sqlite3 *
db_open (Fixture *fx)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (fx->db, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

static gint64
db_int (Fixture    *fx,
        const char *sql)
{
  sqlite3 *db = db_open (fx);
  sqlite3_stmt *stmt = NULL;
  gint64 v = -1;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return v;
}

static gint64
count_candles (Fixture *fx,
               gint64   duration)
{
  g_autofree char *sql = g_strdup_printf ("SELECT COUNT(*) FROM candles WHERE duration = %" G_GINT64_FORMAT,
                                          duration);

  /* Before the store's first open there is no table yet. */
  if (!g_file_test (fx->db, G_FILE_TEST_EXISTS) ||
      db_int (fx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'candles'") != 1)
    return 0;
  return db_int (fx, sql);
}

/* Every stored candle of @duration whose start is in [from, to) is
 * @venue's (fake_venue_candle()) exactly, with @origin; returns how many. */
static guint
check_backfilled (Fixture    *fx,
                  FakeVenue   venue,
                  gint64      duration,
                  gint64      from,
                  gint64      to,
                  const char *origin,
                  const char *source)
{
  sqlite3 *db = db_open (fx);
  sqlite3_stmt *stmt = NULL;
  guint n = 0;

  g_assert_cmpint (sqlite3_prepare_v2 (db,
                                       "SELECT c.start, c.open, c.high, c.low, c.close, c.volume, c.trades, c.ticks, "
                                       "o.name, s.name FROM candles c JOIN names o ON o.id = c.origin "
                                       "LEFT JOIN names s ON s.id = c.source "
                                       "WHERE c.duration = ?1 AND c.start >= ?2 AND c.start < ?3 ORDER BY c.start",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  sqlite3_bind_int64 (stmt, 1, duration);
  sqlite3_bind_int64 (stmt, 2, from);
  sqlite3_bind_int64 (stmt, 3, to);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 start = sqlite3_column_int64 (stmt, 0), trades;
      g_autoptr(ThCandle) want = fake_venue_candle (venue, start, duration, &trades);

      g_assert_cmpint (start % duration, ==, 0);
      g_assert_cmpfloat (sqlite3_column_double (stmt, 1), ==, want->open);
      g_assert_cmpfloat (sqlite3_column_double (stmt, 2), ==, want->high);
      g_assert_cmpfloat (sqlite3_column_double (stmt, 3), ==, want->low);
      g_assert_cmpfloat (sqlite3_column_double (stmt, 4), ==, want->close);
      if (isnan (want->volume))
        g_assert_cmpint (sqlite3_column_type (stmt, 5), ==, SQLITE_NULL);
      else
        g_assert_cmpfloat (sqlite3_column_double (stmt, 5), ==, want->volume);
      if (trades >= 0)
        g_assert_cmpint (sqlite3_column_int64 (stmt, 6), ==, trades);
      else
        g_assert_cmpint (sqlite3_column_type (stmt, 6), ==, SQLITE_NULL);
      g_assert_cmpint (sqlite3_column_int64 (stmt, 7), ==, 0);
      g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 8), ==, origin);
      g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 9), ==, source);
      n++;
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return n;
}

/* Live candles of BTC 1m at [from, to): open 1, high 3, low 0.5, close 2,
 * made the way the store makes them: a hub with the store and no venue
 * creates the file, then rows go in beside it. */
static void
seed_live (Fixture *fx,
           gint64   from,
           gint64   to)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store\nsymbols=BTC\ntimeframes=1m\nwarmup=0\n"
                                           "[store]\npath=%s\nretention=candles:forever\n", fx->db);
  g_autoptr(ThClock) clock = th_manual_clock_new (from);
  ThHub *hub = th_test_hub_new (text, clock);
  sqlite3 *db;

  th_hub_start (hub);
  th_test_wait_until (count_candles (fx, MINUTE) == 0 && g_file_test (fx->db, G_FILE_TEST_EXISTS) &&
                      db_int (fx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'candles'") == 1, 5000);
  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);

  db = db_open (fx);
  g_assert_cmpint (sqlite3_exec (db, "INSERT OR IGNORE INTO names (name) VALUES ('BTC'), ('live'), ('simulator')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  for (gint64 t = from; t < to; t += MINUTE)
    {
      g_autofree char *sql = g_strdup_printf ("INSERT INTO candles VALUES ((SELECT id FROM names WHERE name = 'BTC'), "
                                              "%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", 1, 3, 0.5, 2, 5, NULL, 4, "
                                              "(SELECT id FROM names WHERE name = 'simulator'), "
                                              "(SELECT id FROM names WHERE name = 'live'))", MINUTE, t);

      g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
    }
  sqlite3_close (db);
}

/* The requests a venue saw whose query has @needle. */
static guint
requests_with (FakeWs     *ws,
               const char *needle)
{
  GPtrArray *requests = fake_ws_history_requests (ws);
  guint n = 0;

  for (guint i = 0; requests != NULL && i < requests->len; i++)
    if (needle == NULL || strstr (requests->pdata[i], needle) != NULL)
      n++;
  return n;
}

static guint
n_requests (FakeWs *ws)
{
  return requests_with (ws, NULL);
}

/* No two klines requests asked for the same period. */
static void
assert_no_overlap (FakeWs *ws)
{
  GPtrArray *requests = fake_ws_history_requests (ws);
  g_autoptr(GArray) ranges = g_array_new (FALSE, FALSE, sizeof (gint64));

  for (guint i = 0; i < requests->len; i++)
    {
      const char *start = strstr (requests->pdata[i], "startTime=");
      const char *end = strstr (requests->pdata[i], "endTime=");
      gint64 a, b;

      g_assert_nonnull (start);
      g_assert_nonnull (end);
      a = g_ascii_strtoll (start + strlen ("startTime="), NULL, 10);
      b = g_ascii_strtoll (end + strlen ("endTime="), NULL, 10);
      for (guint j = 0; j < ranges->len; j += 2)
        g_assert_true (b < g_array_index (ranges, gint64, j) || a > g_array_index (ranges, gint64, j + 1));
      g_array_append_val (ranges, a);
      g_array_append_val (ranges, b);
    }
}

typedef struct
{
  GPtrArray *candles;
  GVariant  *missing;
  GError    *error;
  gboolean   done;
} Answer;

static void
on_history (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Answer *a = user_data;

  a->candles = th_hub_get_history_finish_full (TH_HUB (source), result, &a->missing, &a->error);
  a->done = TRUE;
}

static void
answer_clear (Answer *a)
{
  g_clear_pointer (&a->candles, g_ptr_array_unref);
  g_clear_pointer (&a->missing, g_variant_unref);
  g_clear_error (&a->error);
  a->done = FALSE;
}

static void
history (ThHub  *hub,
         gint64  from,
         gint64  to,
         Answer *a)
{
  answer_clear (a);
  th_hub_get_history_async (hub, "BTC", "1m", from, to, 0, NULL, on_history, a);
  th_test_wait_until (a->done, 20000);
  g_assert_no_error (a->error);
}

/* Tests */

/* The daemon was down from T0+10 min to T0+70 min: at start, the gap is
 * fetched from Binance and stored exactly, with its origin, beside the
 * live candles, which stay as they were. */
static void
test_start_fills_gap (Fixture       *fx,
                      gconstpointer  data)
{
  ThHub *hub;
  g_autofree char *first = NULL;

  seed_live (fx, T0, T0 + 10 * MINUTE);
  g_assert_cmpint (count_candles (fx, MINUTE), ==, 10);

  hub = hub_new (fx, T0 + 70 * MINUTE, "binance", "1m", "1h", NULL);
  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  th_hub_start (hub);

  /* The last complete period is [T0+68, T0+69): [T0+69, T0+70) has just
   * ended and is the live series' to close. */
  th_test_wait_until (count_candles (fx, MINUTE) == 69, 20000);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0 + 10 * MINUTE, T0 + 69 * MINUTE,
                                      "backfill:binance", "binance"), ==, 59);
  g_assert_cmpint (db_int (fx, "SELECT COUNT(*) FROM candles c JOIN names o ON o.id = c.origin "
                               "WHERE o.name = 'live' AND c.open = 1 AND c.close = 2 AND c.ticks = 4"), ==, 10);
  /* One request, for exactly the gap. */
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  first = g_strdup_printf ("startTime=%" G_GINT64_FORMAT "&endTime=%" G_GINT64_FORMAT "&limit=1000",
                           (T0 + 10 * MINUTE) / 1000, (T0 + 69 * MINUTE) / 1000 - 1);
  g_assert_cmpuint (requests_with (fx->binance, first), ==, 1);
  g_assert_cmpuint (requests_with (fx->binance, "symbol=BTCUSDT&interval=1m"), ==, 1);

  /* A query of it now is answered from the store, nothing missing, and
   * asks no venue again. */
  {
    Answer a = { 0 };

    history (hub, T0, T0 + 69 * MINUTE, &a);
    g_assert_cmpuint (a.candles->len, ==, 69);
    g_assert_cmpuint (g_variant_n_children (a.missing), ==, 0);
    g_assert_cmpfloat (((ThCandle *) a.candles->pdata[9])->open, ==, 1);
    g_assert_cmpuint (n_requests (fx->binance), ==, 1);
    answer_clear (&a);
  }

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* 2,499 periods of Binance: pages of 1,000 (the most Binance gives), each
 * from the last row on, the odd rows (too short, not numbers, off the
 * grid) skipped. */
static void
test_binance_pagination (Fixture       *fx,
                         gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 3000 * MINUTE, "binance", "1m", "2500m", NULL);
  g_autofree char *page1 = g_strdup_printf ("startTime=%" G_GINT64_FORMAT "&", (T0 + 500 * MINUTE) / 1000);
  g_autofree char *page2 = g_strdup_printf ("startTime=%" G_GINT64_FORMAT "&", (T0 + 1500 * MINUTE) / 1000);
  g_autofree char *page3 = g_strdup_printf ("startTime=%" G_GINT64_FORMAT "&", (T0 + 2500 * MINUTE) / 1000);

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + 10 * DAY, NULL);
  fake_ws_history_odd_rows (fx->binance, TRUE);
  th_hub_start (hub);

  th_test_wait_until (count_candles (fx, MINUTE) == 2499, 30000);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0, T0 + 10 * DAY, "backfill:binance", "binance"),
                    ==, 2499);
  g_assert_cmpint (db_int (fx, "SELECT MIN(start) FROM candles"), ==, T0 + 500 * MINUTE);
  g_assert_cmpint (db_int (fx, "SELECT MAX(start) FROM candles"), ==, T0 + 2998 * MINUTE);
  g_assert_cmpuint (n_requests (fx->binance), ==, 3);
  g_assert_cmpuint (requests_with (fx->binance, "limit=1000"), ==, 3);
  g_assert_cmpuint (requests_with (fx->binance, page1), ==, 1);
  g_assert_cmpuint (requests_with (fx->binance, page2), ==, 1);
  g_assert_cmpuint (requests_with (fx->binance, page3), ==, 1);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* Binance refuses the symbol (HTTP 400, -1121): Coinbase, next in [prices]
 * order, gives the candles, in pages of 300, newest first in its rows
 * [time, low, high, open, close, volume]; they are stored as Coinbase's. */
static void
test_fallback_coinbase (Fixture       *fx,
                        gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 1000 * MINUTE, "binance;coinbase", "1m", "700m", NULL);

  /* Binance knows another code, so BTCUSDT is an invalid symbol there. */
  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "ETHUSDT", T0 - DAY, T0 + DAY, NULL);
  fake_ws_serve_history (fx->coinbase, FAKE_VENUE_COINBASE, "BTC-USD", T0 - DAY, T0 + DAY, NULL);
  fake_ws_history_odd_rows (fx->coinbase, TRUE);
  th_hub_start (hub);

  /* [T0+300, T0+999): 699 periods. */
  th_test_wait_until (count_candles (fx, MINUTE) == 699, 30000);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_COINBASE, MINUTE, T0, T0 + DAY, "backfill:coinbase", "coinbase"),
                    ==, 699);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  g_assert_cmpuint (n_requests (fx->coinbase), ==, 3);
  g_assert_cmpuint (requests_with (fx->coinbase, "granularity=60"), ==, 3);
  g_assert_cmpuint (requests_with (fx->coinbase, "/products/BTC-USD/candles"), ==, 3);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* Binance has a hole of ten minutes: Coinbase is asked for those ten
 * only, and each candle is stored as its venue's. */
static void
test_hole_filled_by_next (Fixture       *fx,
                          gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 60 * MINUTE, "binance;coinbase", "1m", "1h", NULL);
  g_autofree char *hole = NULL;

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  fake_ws_history_hole (fx->binance, T0 + 20 * MINUTE, T0 + 30 * MINUTE);
  fake_ws_serve_history (fx->coinbase, FAKE_VENUE_COINBASE, "BTC-USD", T0 - DAY, T0 + DAY, NULL);
  th_hub_start (hub);

  /* [T0, T0+59). */
  th_test_wait_until (count_candles (fx, MINUTE) == 59, 20000);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0, T0 + 20 * MINUTE, "backfill:binance",
                                      "binance"), ==, 20);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_COINBASE, MINUTE, T0 + 20 * MINUTE, T0 + 30 * MINUTE,
                                      "backfill:coinbase", "coinbase"), ==, 10);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0 + 30 * MINUTE, T0 + 59 * MINUTE,
                                      "backfill:binance", "binance"), ==, 29);
  g_assert_cmpuint (n_requests (fx->coinbase), ==, 1);
  hole = g_strdup_printf ("start=2024-01-01T00:20:00Z&end=2024-01-01T00:29:00Z");
  g_assert_cmpuint (requests_with (fx->coinbase, hole), ==, 1);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* The last resort: Binance fails (HTTP 500) and CoinGecko, whose
 * /coins/{id}/ohlc gives 30-minute candles for days=1, stamped with their
 * close and without volume, fills a 30m series. */
static void
test_coingecko_last_resort (Fixture       *fx,
                            gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + DAY, "binance;coingecko", "30m", "1d", NULL);

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  fake_ws_history_fail (fx->binance, 500, "{\"code\":-1000,\"msg\":\"An unknown error occurred.\"}");
  fake_ws_serve_history (fx->coingecko, FAKE_VENUE_COINGECKO, "bitcoin", T0 - DAY, T0 + 2 * DAY, fx->clock);
  th_hub_start (hub);

  /* [T0, T0+23:30): 47 periods. */
  th_test_wait_until (count_candles (fx, 30 * MINUTE) == 47, 20000);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_COINGECKO, 30 * MINUTE, T0, T0 + DAY, "backfill:coingecko",
                                      "coingecko"), ==, 47);
  g_assert_cmpint (db_int (fx, "SELECT MIN(start) FROM candles"), ==, T0);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  g_assert_cmpuint (n_requests (fx->coingecko), ==, 1);
  g_assert_cmpuint (requests_with (fx->coingecko, "/coins/bitcoin/ohlc?vs_currency=usd&days=1"), ==, 1);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* Binance has nothing before T0+30 min and Coinbase fails: the REST
 * history of [T0, T0+60 min) fetches the missing part, answers with the
 * 30 candles there are and says the first 30 minutes are missing; two
 * queries at once share one fetch, and asking again asks no venue. */
static void
test_rest_missing (Fixture       *fx,
                   gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 60 * MINUTE + 10 * SEC, "binance;coinbase;server", "1m", "5m",
                        "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n");
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(GPtrArray) sinks = NULL;
  g_autoptr(ThTestHttp) http = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *url = NULL;
  g_autofree char *gap = g_strdup_printf ("startTime=%" G_GINT64_FORMAT "&", T0 / 1000);
  JsonObject *body;
  JsonArray *missing, *candles;
  Answer a = { 0 };
  guint port = 0;

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 + 30 * MINUTE, T0 + DAY, NULL);
  fake_ws_serve_history (fx->coinbase, FAKE_VENUE_COINBASE, "BTC-USD", T0, T0 + DAY, NULL);
  fake_ws_history_fail (fx->coinbase, 503, "{\"message\":\"service unavailable\"}");
  th_hub_start (hub);

  /* The start backfill: [T0+56, T0+60), the periods that began in the last 5 min and are over. */
  th_test_wait_until (count_candles (fx, MINUTE) == 4, 20000);

  sinks = th_hub_get_sinks (hub);
  for (guint i = 0; i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      g_object_get (sinks->pdata[i], "port", &port, NULL);
  g_assert_cmpuint (port, >, 0);

  url = g_strdup_printf ("http://127.0.0.1:%u/api/v1/history/BTC?timeframe=1m&from=%" G_GINT64_FORMAT
                         "&to=%" G_GINT64_FORMAT, port, T0 / 1000, (T0 + 60 * MINUTE) / 1000);
  /* Both at once: the REST request and the hub's own query. */
  http = th_test_http_start (session, soup_message_new ("GET", url));
  th_hub_get_history_async (hub, "BTC", "1m", T0, T0 + 60 * MINUTE, 0, NULL, on_history, &a);
  th_test_wait_until (http->done && a.done, 20000);

  g_assert_cmpuint (http->status, ==, 200);
  g_assert_true (json_parser_load_from_data (parser, http->body, -1, NULL));
  body = json_node_get_object (json_parser_get_root (parser));
  candles = json_object_get_array_member (body, "candles");
  g_assert_cmpuint (json_array_get_length (candles), ==, 30);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (candles, 0), "start"), ==,
                   "2024-01-01T00:30:00.000Z");
  missing = json_object_get_array_member (body, "missing");
  g_assert_cmpuint (json_array_get_length (missing), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (missing, 0), 0), ==,
                   "2024-01-01T00:00:00.000Z");
  g_assert_cmpstr (json_array_get_string_element (json_array_get_array_element (missing, 0), 1), ==,
                   "2024-01-01T00:30:00.000Z");

  g_assert_no_error (a.error);
  g_assert_cmpuint (a.candles->len, ==, 30);
  g_assert_true (g_variant_equal (a.missing, g_variant_new_parsed ("[(%x, %x)]", T0, T0 + 30 * MINUTE)));

  /* One fetch of the gap for both, from Binance then Coinbase. */
  g_assert_cmpuint (requests_with (fx->binance, gap), ==, 1);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0, T0 + 60 * MINUTE, "backfill:binance",
                                      "binance"), ==, 30);
  {
    guint binance = n_requests (fx->binance), coinbase = n_requests (fx->coinbase);

    g_assert_cmpuint (coinbase, >=, 1);
    /* Asked again: the same answer, and no venue is asked for the
     * periods they just could not give. */
    history (hub, T0, T0 + 60 * MINUTE, &a);
    g_assert_cmpuint (a.candles->len, ==, 30);
    g_assert_cmpuint (g_variant_n_children (a.missing), ==, 1);
    g_assert_cmpuint (n_requests (fx->binance), ==, binance);
    g_assert_cmpuint (n_requests (fx->coinbase), ==, coinbase);
  }
  answer_clear (&a);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* Binance answers 429 with Retry-After: 30: no request is made before 30 s
 * have passed on the hub's clock, then the same one is, and the gap is
 * filled. */
static void
test_rate_limit (Fixture       *fx,
                 gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 60 * MINUTE, "binance", "1m", "30m", NULL);

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  fake_ws_history_rate_limit (fx->binance, 1, "30");
  th_hub_start (hub);

  th_test_wait_until (n_requests (fx->binance) == 1, 20000);
  th_test_run_for (300);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 29 * SEC);
  th_test_run_for (300);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  g_assert_cmpint (count_candles (fx, MINUTE), ==, 0);

  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 1 * SEC);
  th_test_wait_until (count_candles (fx, MINUTE) == 29, 20000);
  g_assert_cmpuint (n_requests (fx->binance), ==, 2);
  g_assert_cmpuint (check_backfilled (fx, FAKE_VENUE_BINANCE, MINUTE, T0, T0 + DAY, "backfill:binance", "binance"),
                    ==, 29);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* Binance says 5,000 of the minute's request weight are used: the next
 * page waits for the next minute on the hub's clock, then goes. */
static void
test_binance_weight (Fixture       *fx,
                     gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 1500 * MINUTE + 10 * SEC, "binance", "1m", "1499m", NULL);

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + 10 * DAY, NULL);
  fake_ws_history_weight (fx->binance, 4998);
  th_hub_start (hub);

  /* [T0+2, T0+1500): a page of 1,000, then one of 498 after the pause
   * (the fetch is stored once both are in). */
  th_test_wait_until (n_requests (fx->binance) == 1, 20000);
  th_test_run_for (300);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  g_assert_cmpint (count_candles (fx, MINUTE), ==, 0);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 40 * SEC);
  th_test_run_for (300);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);

  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 10 * SEC);
  th_test_wait_until (count_candles (fx, MINUTE) == 1498, 20000);
  g_assert_cmpuint (n_requests (fx->binance), ==, 2);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* The hub stops while Binance's Retry-After is still running: the fetch is
 * cancelled at once, not after the wait, and nothing keeps the hub alive
 * (the plugins, the store and the hub are all finalized). */
static void
test_stop_while_waiting (Fixture       *fx,
                         gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 60 * MINUTE, "binance", "1m", "30m", NULL);
  ThHub *weak = hub;

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  fake_ws_history_rate_limit (fx->binance, 1, "100");
  g_object_add_weak_pointer (G_OBJECT (hub), (gpointer *) &weak);
  th_hub_start (hub);
  th_test_wait_until (n_requests (fx->binance) == 1, 20000);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
  th_test_wait_until (weak == NULL, 5000);
  g_assert_cmpuint (n_requests (fx->binance), ==, 1);
  g_assert_cmpint (count_candles (fx, MINUTE), ==, 0);
}

/* An empty store and indicators: the warm-up's query of its last 10
 * periods joins the start backfill's fetch (one request to Binance) and
 * feeds what it stored, so the first values are warm and computed on the
 * venue's candles. */
static void
test_warm_up_waits (Fixture       *fx,
                    gconstpointer  data)
{
  ThHub *hub;
  g_autoptr(GPtrArray) events = NULL;
  g_autoptr(GPtrArray) updates = NULL;
  JsonObject *update, *indicators;
  double want = 0;

  fx->warmup = 10;
  hub = hub_new (fx, T0 + 60 * MINUTE, "binance", "1m", "30m", "[indicators]\nsma_5=sma(5)\n");
  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  events = th_test_capture_events (hub);
  th_hub_start (hub);

  th_test_wait_until (th_test_count_events (events, "technical_indicators_update", "\"warm\":true") >= 1, 20000);
  updates = th_test_events_data (events, "technical_indicators_update", "BTC");
  update = updates->pdata[0];
  g_assert_true (json_object_get_boolean_member (update, "warm"));
  indicators = json_object_get_object_member (update, "indicators");
  g_assert_cmpstr (json_object_get_string_member (indicators, "timestamp"), ==, "2024-01-01T00:58:00.000Z");
  for (gint64 t = T0 + 54 * MINUTE; t <= T0 + 58 * MINUTE; t += MINUTE)
    {
      g_autoptr(ThCandle) c = fake_venue_candle (FAKE_VENUE_BINANCE, t, MINUTE, NULL);

      want += c->close / 5;
    }
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (indicators, "sma_5"), want, 1e-9);
  /* The start's fetch and the warm-up's share their periods: whichever
   * asked first fetches them, the other waits for it; no period is asked
   * for twice. */
  assert_no_overlap (fx->binance);
  th_test_wait_until (count_candles (fx, MINUTE) == 29, 20000);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* backfill=false fetches nothing, at start or for a query, and the answer
 * still says what is missing. */
static void
test_disabled (Fixture       *fx,
               gconstpointer  data)
{
  ThHub *hub = hub_new (fx, T0 + 60 * MINUTE, "binance", "1m", "false", NULL);
  Answer a = { 0 };

  fake_ws_serve_history (fx->binance, FAKE_VENUE_BINANCE, "BTCUSDT", T0 - DAY, T0 + DAY, NULL);
  th_hub_start (hub);
  history (hub, T0, T0 + 10 * MINUTE, &a);
  g_assert_cmpuint (a.candles->len, ==, 0);
  g_assert_true (g_variant_equal (a.missing, g_variant_new_parsed ("[(%x, %x)]", T0, T0 + 10 * MINUTE)));
  th_test_run_for (200);
  g_assert_cmpuint (n_requests (fx->binance), ==, 0);
  answer_clear (&a);

  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* A bad [tickhub] backfill names the key and the fix. */
static void
test_bad_config (void)
{
  g_autoptr(GError) error = th_test_hub_load_error ("[tickhub]\nplugins=simulator\nbackfill=soon\n");

  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[tickhub] backfill"));
  g_assert_nonnull (strstr (error->message, "7d"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/backfill/start-fills-gap", Fixture, NULL, fixture_setup, test_start_fills_gap, fixture_teardown);
  g_test_add ("/backfill/binance-pagination", Fixture, NULL, fixture_setup, test_binance_pagination, fixture_teardown);
  g_test_add ("/backfill/fallback-coinbase", Fixture, NULL, fixture_setup, test_fallback_coinbase, fixture_teardown);
  g_test_add ("/backfill/hole-filled-by-next", Fixture, NULL, fixture_setup, test_hole_filled_by_next, fixture_teardown);
  g_test_add ("/backfill/coingecko-last-resort", Fixture, NULL, fixture_setup, test_coingecko_last_resort,
              fixture_teardown);
  g_test_add ("/backfill/rest-missing", Fixture, NULL, fixture_setup, test_rest_missing, fixture_teardown);
  g_test_add ("/backfill/rate-limit", Fixture, NULL, fixture_setup, test_rate_limit, fixture_teardown);
  g_test_add ("/backfill/binance-weight", Fixture, NULL, fixture_setup, test_binance_weight, fixture_teardown);
  g_test_add ("/backfill/stop-while-waiting", Fixture, NULL, fixture_setup, test_stop_while_waiting, fixture_teardown);
  g_test_add ("/backfill/warm-up-waits", Fixture, NULL, fixture_setup, test_warm_up_waits, fixture_teardown);
  g_test_add ("/backfill/disabled", Fixture, NULL, fixture_setup, test_disabled, fixture_teardown);
  g_test_add_func ("/backfill/bad-config", test_bad_config);

  return g_test_run ();
}
