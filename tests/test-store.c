/* test-store.c: the store sink on a real SQLite file
 *
 * Each test builds a hub with the store from a config string, on a manual
 * clock, pushes ticks, flushes the store and reads the database back with
 * SQLite. The faults are real: a file and folder made read-only (and
 * immutable when the test runs as root, whom modes do not stop), garbage
 * bytes in place of the database, another connection holding the write
 * lock, and a database at its page limit ([store] max-size, SQLite's
 * max_page_count). tickhubd runs as a separate process for the stop on
 * SIGTERM and for kill -9 during heavy writes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "th-private.h"
#include "test-utils.h"

#define T0    G_GINT64_CONSTANT (1704067200000000)   /* 2024-01-01T00:00:00Z */
#define SEC   G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)

typedef struct
{
  char *dir;
  char *db;
} Fixture;

static gint expect_warnings;

static GLogWriterOutput
log_writer (GLogLevelFlags   log_level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  if ((log_level & G_LOG_LEVEL_WARNING) && g_atomic_int_get (&expect_warnings))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  fx->dir = th_test_make_tmp_dir ("tickhub-store-XXXXXX");
  fx->db = g_build_filename (fx->dir, "history.db", NULL);
  g_atomic_int_set (&expect_warnings, FALSE);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_assert_true (th_test_remove_tmp_dir (fx->dir));
  g_free (fx->dir);
  g_free (fx->db);
  g_atomic_int_set (&expect_warnings, FALSE);
}

/* Hubs */

static char *
config_text (Fixture    *fx,
             const char *store_keys)
{
  /* Retries come quickly, unless the test says otherwise. */
  gboolean own_retry = store_keys != NULL && strstr (store_keys, "retry-interval") != NULL;

  return g_strdup_printf ("[tickhub]\nplugins=store\nsymbols=BTC;ETH\ntimeframes=1m;1h\n\n"
                          "[store]\npath=%s\n%s%s\n",
                          fx->db, own_retry ? "" : "retry-interval=0.05\n", store_keys != NULL ? store_keys : "");
}

static ThHub *
hub_start (Fixture    *fx,
           ThClock    *clock,
           const char *store_keys)
{
  g_autofree char *text = config_text (fx, store_keys);
  ThHub *hub = th_test_hub_new (text, clock);

  th_hub_start (hub);
  return hub;
}

static ThSourceState
store_state (ThHub  *hub,
             char  **reason)
{
  ThHistory *history = th_hub_get_history (hub);

  g_assert_nonnull (history);
  return th_history_get_state (history, reason);
}

static guint64
store_stat (ThHub      *hub,
            const char *name)
{
  g_autoptr(GVariant) stats = th_history_get_stats (th_hub_get_history (hub));
  guint64 v = 0;

  g_assert_true (g_variant_lookup (stats, name, "t", &v));
  return v;
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
} Done;

static void
on_flushed (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Done *done = user_data;

  done->ok = th_sink_flush_finish (TH_SINK (source), result, &done->error);
  done->done = TRUE;
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Done *done = user_data;

  done->ok = th_hub_stop_finish (TH_HUB (source), result, &done->error);
  done->done = TRUE;
}

/* Flushes the store and waits: TRUE once everything queued is written. */
static gboolean
store_flush (ThHub   *hub,
             GError **error)
{
  Done done = { 0 };

  th_sink_flush_async (TH_SINK (th_hub_get_history (hub)), NULL, on_flushed, &done);
  th_test_wait_until (done.done, TH_TEST_WAIT_MS);
  if (done.error != NULL)
    g_propagate_error (error, done.error);
  return done.ok;
}

static void
assert_flush (ThHub *hub)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (store_flush (hub, &error));
  g_assert_no_error (error);
}

static void
push (ThHub      *hub,
      const char *symbol,
      const char *source,
      double      price,
      double      size,
      gint64      time)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, source, isnan (size) ? TH_TICK_KIND_QUOTE : TH_TICK_KIND_TRADE,
                                        price, time);

  tick->size = size;
  th_hub_push_tick (hub, tick);
}

/* The database, read with SQLite */

static sqlite3 *
db_open (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  return db;
}

/* The first column of the first row of @sql, as an integer; -1 for NULL,
 * -2 for no row. */
static gint64
db_int (sqlite3    *db,
        const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  gint64 v = -2;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    v = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  return v;
}

/* Every row of @sql, columns separated by |, rows by \n; NULL is “null”. */
static char *
db_rows (sqlite3    *db,
         const char *sql)
{
  sqlite3_stmt *stmt = NULL;
  GString *out = g_string_new (NULL);

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      for (int c = 0; c < sqlite3_column_count (stmt); c++)
        {
          const char *text = (const char *) sqlite3_column_text (stmt, c);

          if (c > 0)
            g_string_append_c (out, '|');
          g_string_append (out, text != NULL ? text : "null");
        }
      g_string_append_c (out, '\n');
    }
  sqlite3_finalize (stmt);
  return g_string_free (out, FALSE);
}

static gint64
file_int (const char *path,
          const char *sql)
{
  sqlite3 *db = db_open (path);
  gint64 v = db_int (db, sql);

  sqlite3_close (db);
  return v;
}

static char *
file_rows (const char *path,
           const char *sql)
{
  sqlite3 *db = db_open (path);
  char *rows = db_rows (db, sql);

  sqlite3_close (db);
  return rows;
}

#define CANDLES_SQL \
  "SELECT s.name, c.duration / 1000000, (c.start - 1704067200000000) / 1000000, c.open, c.high, c.low, " \
  "c.close, c.volume, c.ticks, src.name, o.name FROM candles c JOIN names s ON s.id = c.symbol " \
  "LEFT JOIN names src ON src.id = c.source JOIN names o ON o.id = c.origin ORDER BY s.name, c.duration, c.start"

/* Config */

static void
test_config_errors (Fixture       *fx,
                    gconstpointer  data)
{
  static const struct { const char *keys; const char *needle; } cases[] = {
    { "retention=2h:1d", "[store] retention: unknown kind “2h”; the kinds are ticks, sources, candles, 1m, 1h" },
    { "retention=1m:ninety", "[store] retention: “ninety” for 1m is not an age; use a number and s, m, h, d, w or y" },
    { "retention=1m", "[store] retention: “1m” is not kind:age; write it like retention=ticks:7d;1m:90d;1h:10y" },
    { "max-queue=0", "[store] max-queue: 0 would drop every record; give at least 1000" },
    { "max-queue=-3", "[store] max-queue: “-3” is not a whole number ≥ 0" },
    { "retry-interval=0", "[store] retry-interval: give a number of seconds from 0.01 to 3600" },
    { "ticks=maybe", "[store] ticks: “maybe” is not a boolean" },
    { "colour=blue", "[store] colour" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = config_text (fx, cases[i].keys);

      th_test_assert_bad_config (text, cases[i].needle);
    }

  /* A folder is not a database. */
  {
    g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store\n[store]\npath=%s\n", fx->dir);
    g_autofree char *needle = g_strdup_printf ("[store] path: “%s” is a folder; give a file in it", fx->dir);

    th_test_assert_bad_config (text, needle);
  }

  /* Checking the config creates nothing. */
  g_assert_false (g_file_test (fx->db, G_FILE_TEST_EXISTS));
}

static void
test_default_path (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(ThHub) hub = th_test_hub_new ("[tickhub]\nplugins=store\nsymbols=BTC\n", NULL);
  g_autoptr(GVariant) stats = th_history_get_stats (th_hub_get_history (hub));
  g_autofree char *expected = g_build_filename (g_get_user_state_dir (), "tickhub", "history.db", NULL);
  const char *path = NULL;

  g_assert_true (g_variant_lookup (stats, "path", "&s", &path));
  g_assert_cmpstr (path, ==, expected);
  /* Not started: not opened. */
  g_assert_cmpint (th_history_get_state (th_hub_get_history (hub), NULL), ==, TH_SOURCE_STATE_CONNECTING);
  g_object_run_dispose (G_OBJECT (hub));
}

/* Candles, ticks, source changes */

static void
test_candles (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, NULL);
  g_autofree char *rows = NULL;

  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);

  /* Minute 0: three ticks, two trades; minute 1: one; minute 2: none (a
   * flat fill); minute 3 closes them. ETH from another source. */
  push (hub, "BTC", "binance", 100, 1, T0 + 1 * SEC);
  push (hub, "BTC", "binance", 110, 2, T0 + 20 * SEC);
  push (hub, "BTC", "binance", 90, NAN, T0 + 40 * SEC);
  push (hub, "ETH", "coinbase", 50, NAN, T0 + 30 * SEC);
  push (hub, "BTC", "binance", 105, 1, T0 + 61 * SEC);
  push (hub, "ETH", "coinbase", 51, NAN, T0 + 70 * SEC);
  push (hub, "BTC", "binance", 120, 1, T0 + 190 * SEC);
  assert_flush (hub);

  rows = file_rows (fx->db, CANDLES_SQL);
  g_assert_cmpstr (rows, ==,
                   "BTC|60|0|100.0|110.0|90.0|90.0|3.0|3|binance|live\n"
                   "BTC|60|60|105.0|105.0|105.0|105.0|1.0|1|binance|live\n"
                   "BTC|60|120|105.0|105.0|105.0|105.0|0.0|0|null|live\n"
                   "ETH|60|0|50.0|50.0|50.0|50.0|null|1|coinbase|live\n");
  g_assert_cmpuint (store_stat (hub, "candles"), ==, 4);
  g_assert_cmpuint (store_stat (hub, "queued"), ==, 0);
  /* Ticks are not kept by default. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 0);
  g_assert_cmpint (file_int (fx->db, "PRAGMA user_version"), ==, 1);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), ==, 1);

  th_test_hub_stop (hub);
  g_assert_cmpint (store_state (hub, NULL), ==, TH_SOURCE_STATE_DISABLED);
  g_object_run_dispose (G_OBJECT (hub));
}

/* A candle takes the source of its period's ticks, also when the source
 * changed at the period's boundary. */
static void
test_candle_source (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock,
                                    NULL);
  g_autofree char *rows = NULL;

  push (hub, "BTC", "binance", 100, 1, T0 + 1 * SEC);
  push (hub, "BTC", "binance", 101, 1, T0 + 59 * SEC);
  /* binance goes quiet: its TTL (10 s) passes, coinbase takes over, and
   * its first tick closes binance's minute. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 11 * SEC);
  th_test_drain ();
  push (hub, "BTC", "coinbase", 102, 1, T0 + 62 * SEC);
  push (hub, "BTC", "coinbase", 103, 1, T0 + 121 * SEC);
  assert_flush (hub);

  rows = file_rows (fx->db, "SELECT (start - 1704067200000000) / 1000000, n.name FROM candles c "
                            "JOIN names n ON n.id = c.source WHERE duration = 60000000 ORDER BY start");
  g_assert_cmpstr (rows, ==, "0|binance\n60|coinbase\n");
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_ticks (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, "ticks=true");
  g_autoptr(ThTick) quote = th_tick_new ("ETH", "coinbase", TH_TICK_KIND_QUOTE, 2300.5, T0 + 2 * SEC);
  g_autofree char *rows = NULL;

  push (hub, "BTC", "binance", 100, 0.5, T0 + 1 * SEC);
  quote->bid = 2300.25;
  quote->ask = 2300.75;
  th_hub_push_tick (hub, quote);
  push (hub, "BTC", "binance", 101, 0.25, T0 + 3 * SEC);
  assert_flush (hub);

  rows = file_rows (fx->db, "SELECT s.name, t.time - 1704067200000000, t.received - 1704067800000000, "
                            "src.name, t.kind, t.price, t.size, t.bid, t.ask FROM ticks t "
                            "JOIN names s ON s.id = t.symbol JOIN names src ON src.id = t.source ORDER BY t.rowid");
  g_assert_cmpstr (rows, ==,
                   "BTC|1000000|0|binance|1|100.0|0.5|null|null\n"
                   "ETH|2000000|0|coinbase|0|2300.5|null|2300.25|2300.75\n"
                   "BTC|3000000|0|binance|1|101.0|0.25|null|null\n");
  g_assert_cmpuint (store_stat (hub, "ticks"), ==, 3);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_source_changes (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  g_autoptr(ThHub) hub = hub_start (fx, clock, NULL);
  g_autofree char *rows = NULL;
  g_autofree char *periods = NULL;

  push (hub, "BTC", "binance", 100, NAN, T0);
  /* Nothing for 11 s: binance's price is stale, BTC has no source. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 11 * SEC);
  th_test_drain ();
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 4 * SEC);
  push (hub, "BTC", "coinbase", 101, NAN, T0 + 15 * SEC);
  assert_flush (hub);

  rows = file_rows (fx->db, "SELECT s.name, (c.time - 1704067200000000) / 1000000, p.name, n.name "
                            "FROM source_changes c JOIN names s ON s.id = c.symbol "
                            "LEFT JOIN names p ON p.id = c.previous LEFT JOIN names n ON n.id = c.current "
                            "ORDER BY c.rowid");
  g_assert_cmpstr (rows, ==,
                   "BTC|0|null|binance\n"
                   "BTC|10|binance|null\n"
                   "BTC|15|null|coinbase\n");
  /* The no_source periods, start and end. */
  periods = file_rows (fx->db, "SELECT symbol, (start - 1704067200000000) / 1000000, "
                               "(\"end\" - 1704067200000000) / 1000000 FROM no_source");
  g_assert_cmpstr (periods, ==, "BTC|10|15\n");
  g_assert_cmpuint (store_stat (hub, "source_changes"), ==, 3);
  g_object_run_dispose (G_OBJECT (hub));
}

static gint64
count_before (Fixture    *fx,
              const char *table_where,
              gint64      cutoff)
{
  g_autofree char *sql = g_strdup_printf ("SELECT COUNT(*) FROM %s < %" G_GINT64_FORMAT, table_where, cutoff);

  return file_int (fx->db, sql);
}

static void
test_retention (Fixture       *fx,
                gconstpointer  data)
{
  gint64 now = T0 + 60 * MINUTE;
  g_autoptr(ThClock) clock = th_manual_clock_new (now);
  g_autoptr(ThHub) hub = hub_start (fx, clock, "ticks=true\nretention=ticks:forever");

  /* A tick every 30 s over the last 20 minutes: 40 ticks, 19 closed 1m
   * candles, kept for ever. */
  for (gint64 t = now - 20 * MINUTE; t < now; t += 30 * SEC)
    push (hub, "BTC", "binance", 100 + (double) (t - now) / MINUTE, 1, t);
  assert_flush (hub);
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  g_clear_object (&hub);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 40);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles WHERE duration = 60000000"), ==, 19);

  /* A minute later, shorter retentions: applied at start... */
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 60 * SEC);
  hub = hub_start (fx, clock, "ticks=true\nretention=ticks:2m;1m:5m;1h:forever");
  assert_flush (hub);
  g_assert_cmpint (count_before (fx, "ticks WHERE time", now - 60 * SEC), ==, 0);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 2);   /* now - 60 s, now - 30 s */
  g_assert_cmpint (count_before (fx, "candles WHERE duration = 60000000 AND start", now - 4 * MINUTE), ==, 0);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles"), ==, 3);  /* minutes -4 to -2 */
  g_assert_cmpuint (store_stat (hub, "deleted"), ==, 38 + 16);

  /* ... and every minute on the hub's clock. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 60 * SEC);
  assert_flush (hub);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 0);
  g_assert_cmpint (count_before (fx, "candles WHERE duration = 60000000 AND start", now - 3 * MINUTE), ==, 0);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles"), ==, 2);
  g_assert_cmpuint (store_stat (hub, "deleted"), ==, 38 + 16 + 2 + 1);
  g_object_run_dispose (G_OBJECT (hub));
}

/* Schema versions */

static void
test_migrate_from_v1 (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *sql = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;
  g_autofree char *rows = NULL;
  sqlite3 *db = NULL;

  g_assert_true (g_file_get_contents (g_test_get_filename (G_TEST_DIST, "data", "store-v1.sql", NULL),
                                      &sql, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sqlite3_open (fx->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  hub = hub_start (fx, clock, "ticks=true");
  push (hub, "BTC", "binance", 100, 1, T0 + 1 * SEC);
  push (hub, "BTC", "binance", 101, 1, T0 + 61 * SEC);
  assert_flush (hub);

  g_assert_cmpint (file_int (fx->db, "PRAGMA user_version"), ==, 1);
  rows = file_rows (fx->db, CANDLES_SQL);
  g_assert_cmpstr (rows, ==,
                   "BTC|60|-120|41000.0|41100.0|40900.0|41050.0|2.5|12|binance|live\n"
                   "BTC|60|-60|41050.0|41060.0|41000.0|41010.0|null|3|binance|live\n"
                   "BTC|60|0|100.0|100.0|100.0|100.0|1.0|1|binance|live\n");
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 3);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM source_changes"), ==, 2);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_migrate_from_empty (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;

  /* An empty file is a database of version 0. */
  g_assert_true (g_file_set_contents (fx->db, "", 0, NULL));
  hub = hub_start (fx, clock, NULL);
  assert_flush (hub);
  g_assert_cmpint (store_state (hub, NULL), ==, TH_SOURCE_STATE_LIVE);
  g_assert_cmpint (file_int (fx->db, "PRAGMA user_version"), ==, 1);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles"), ==, 0);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_newer_schema (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *needle = NULL;
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (fx->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE future (x); PRAGMA user_version = 7", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_atomic_int_set (&expect_warnings, TRUE);
  hub = hub_start (fx, clock, NULL);
  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  store_state (hub, &reason);
  needle = g_strdup_printf ("“%s” has schema version 7, newer than this tickhub's (1); run a newer tickhub, "
                            "or set [store] path to another file", fx->db);
  th_test_assert_contains (reason, needle);
  /* Left as it was. */
  g_assert_cmpint (file_int (fx->db, "PRAGMA user_version"), ==, 7);
  g_object_run_dispose (G_OBJECT (hub));
}

/* Faults */

/* Sets or clears the immutable attribute of @path: what stops root. */
static gboolean
set_immutable (const char *path,
               gboolean    on)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  int flags = 0;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = ioctl (fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok)
    {
      flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
      ok = ioctl (fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
  close (fd);
  return ok;
}

/* Down with @needle in the reason, live data flowing; then fixed by @fix,
 * live again, and what was queued meanwhile is written. */
static void
check_down_then_back (Fixture    *fx,
                      ThHub      *hub,
                      ThClock    *clock,
                      const char *needle,
                      void      (*fix) (Fixture *fx, gpointer data),
                      gpointer    fix_data)
{
  g_autoptr(GPtrArray) events = th_test_capture_events (hub);
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;

  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  store_state (hub, &reason);
  th_test_assert_contains (reason, needle);
  th_test_assert_contains (reason, fx->db);
  g_assert_cmpuint (store_stat (hub, "failures"), >=, 1);

  /* Live data keeps flowing: events and candles while the store is down. */
  push (hub, "BTC", "binance", 100, 1, T0 + 1 * SEC);
  push (hub, "BTC", "binance", 101, 1, T0 + 61 * SEC);
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", NULL), ==, 2);
  g_assert_cmpuint (th_test_count_events (events, "candle_update", NULL), ==, 1);

  /* A flush says what is not written, and why. */
  g_assert_false (store_flush (hub, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  th_test_assert_contains (error->message, "not written");
  th_test_assert_contains (error->message, needle);
  g_clear_error (&error);

  fix (fx, fix_data);
  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  assert_flush (hub);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles c JOIN names n ON n.id = c.symbol "
                                     "WHERE n.name = 'BTC' AND start = 1704067200000000 AND duration = 60000000"), ==, 1);
  g_assert_cmpuint (store_stat (hub, "lost"), ==, 0);
}

static void
make_db (Fixture *fx)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  g_autoptr(ThHub) hub = hub_start (fx, clock, NULL);

  assert_flush (hub);
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
make_writable (Fixture *fx,
               gpointer data)
{
  set_immutable (fx->db, FALSE);
  set_immutable (fx->dir, FALSE);
  g_assert_cmpint (g_chmod (fx->dir, 0700), ==, 0);
  g_assert_cmpint (g_chmod (fx->db, 0600), ==, 0);
}

static void
test_read_only (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;

  make_db (fx);
  g_assert_cmpint (g_chmod (fx->db, 0444), ==, 0);
  g_assert_cmpint (g_chmod (fx->dir, 0555), ==, 0);
  if (getuid () == 0 && (!set_immutable (fx->db, TRUE) || !set_immutable (fx->dir, TRUE)))
    {
      make_writable (fx, NULL);
      g_test_skip ("running as root on a file system without the immutable attribute: nothing is read-only");
      return;
    }

  g_atomic_int_set (&expect_warnings, TRUE);
  hub = hub_start (fx, clock, NULL);
  check_down_then_back (fx, hub, clock, "is read-only", make_writable, NULL);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
remove_db (Fixture *fx,
           gpointer data)
{
  g_assert_cmpint (g_unlink (fx->db), ==, 0);
}

static void
test_corrupt (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;
  char garbage[8192];

  for (gsize i = 0; i < sizeof garbage; i++)
    garbage[i] = (char) (i * 7919 + 13);
  g_assert_true (g_file_set_contents (fx->db, garbage, sizeof garbage, NULL));

  g_atomic_int_set (&expect_warnings, TRUE);
  hub = hub_start (fx, clock, NULL);
  check_down_then_back (fx, hub, clock, "is corrupt or not an SQLite database (file is not a database); move it away",
                        remove_db, NULL);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
unlock_db (Fixture *fx,
           gpointer data)
{
  sqlite3 *db = data;

  g_assert_cmpint (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_locked (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;
  sqlite3 *other;

  /* Another program holds the write lock of a database in use. */
  hub = hub_start (fx, clock, NULL);
  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  other = db_open (fx->db);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN EXCLUSIVE; INSERT INTO names (name) VALUES ('other')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);

  g_atomic_int_set (&expect_warnings, TRUE);
  push (hub, "ETH", "binance", 10, 1, T0 + 1 * SEC);
  push (hub, "ETH", "binance", 11, 1, T0 + 61 * SEC);
  check_down_then_back (fx, hub, clock, "is locked by another program (database is locked)", unlock_db, other);
  /* The ETH candle queued before the lock was seen is there too. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles"), ==, 2);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_full (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, "ticks=true\nmax-size=1");
  g_autoptr(GPtrArray) events = th_test_capture_events (hub);
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  guint i;

  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  g_atomic_int_set (&expect_warnings, TRUE);

  /* 1 MiB holds some 20,000 ticks: write until it is full. */
  for (i = 0; i < 200 && store_state (hub, NULL) == TH_SOURCE_STATE_LIVE; i++)
    {
      for (guint j = 0; j < 1000; j++)
        push (hub, "BTC", "binance", 100 + j % 7, 1, T0 + (gint64) (i * 1000 + j) * 1000);
      store_flush (hub, NULL);
    }
  g_assert_cmpint (store_state (hub, &reason), ==, TH_SOURCE_STATE_DOWN);
  th_test_assert_contains (reason, "is full (database or disk is full); free disk space, raise [store] max-size");

  /* The hub goes on. */
  push (hub, "BTC", "binance", 200, 1, T0 + (gint64) (i * 1000 + 1) * 1000);
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", NULL), ==, i * 1000 + 1);
  g_assert_false (store_flush (hub, &error));
  th_test_assert_contains (error->message, "is full");
  /* What was written is intact. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), ==, 1);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, (gint64) store_stat (hub, "ticks"));

  /* Stopping gives up what is left, and says so. */
  {
    Done done = { 0 };

    th_hub_stop_async (hub, NULL, on_stopped, &done);
    th_test_wait_until (done.done, TH_TEST_WAIT_MS);
    g_assert_false (done.ok);
    th_test_assert_contains (done.error->message, "is full");
    g_clear_error (&done.error);
  }
  g_assert_cmpuint (store_stat (hub, "lost"), >, 0);
  g_object_run_dispose (G_OBJECT (hub));
}

/* /metrics shows the store's state, as the sources' */
static void
test_metrics (Fixture       *fx,
              gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store;server\nsymbols=BTC\n\n"
                                           "[store]\npath=%s\nretry-interval=0.05\n\n"
                                           "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n", fx->db);
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GPtrArray) sinks = NULL;
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autofree char *url = NULL;
  guint port = 0;

  g_assert_true (g_file_set_contents (fx->db, "not a database, not at all", -1, NULL));
  g_atomic_int_set (&expect_warnings, TRUE);
  hub = th_test_hub_new (text, NULL);
  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  for (guint i = 0; i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      g_object_get (sinks->pdata[i], "port", &port, NULL);
  g_assert_cmpuint (port, >, 0);
  url = g_strdup_printf ("http://127.0.0.1:%u/metrics", port);

  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_DOWN, TH_TEST_WAIT_MS);
  {
    g_autoptr(ThTestHttp) http = th_test_http_send (session, soup_message_new ("GET", url));

    g_assert_cmpuint (http->status, ==, 200);
    th_test_assert_contains (http->body, "tickhub_store_state{state=\"down\"} 1\n");
    th_test_assert_contains (http->body, "tickhub_store_state{state=\"live\"} 0\n");
    th_test_assert_contains (http->body, "tickhub_store_rows_written_total{kind=\"candles\"} 0\n");
  }

  g_assert_cmpint (g_unlink (fx->db), ==, 0);
  th_test_wait_until (store_state (hub, NULL) == TH_SOURCE_STATE_LIVE, TH_TEST_WAIT_MS);
  {
    g_autoptr(ThTestHttp) http = th_test_http_send (session, soup_message_new ("GET", url));

    th_test_assert_contains (http->body, "tickhub_store_state{state=\"live\"} 1\n");
    th_test_assert_contains (http->body, "tickhub_store_failures_total ");
  }
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

/* Reading back */

typedef struct
{
  gboolean   done;
  GPtrArray *candles;
  GError    *error;
} History;

static void
on_history (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  History *h = user_data;

  h->candles = th_hub_get_history_finish (TH_HUB (source), result, &h->error);
  h->done = TRUE;
}

static void
on_history_ticks (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  History *h = user_data;

  h->candles = th_hub_get_history_ticks_finish (TH_HUB (source), result, &h->error);
  h->done = TRUE;
}

static GPtrArray *
get_history (ThHub       *hub,
             const char  *symbol,
             const char  *timeframe,
             gint64       from,
             gint64       to,
             guint        limit,
             GError     **error)
{
  History h = { 0 };

  th_hub_get_history_async (hub, symbol, timeframe, from, to, limit, NULL, on_history, &h);
  th_test_wait_until (h.done, TH_TEST_WAIT_MS);
  if (h.error != NULL)
    g_propagate_error (error, h.error);
  return h.candles;
}

/* Ten closed BTC minutes from T0, closes 100 to 109, volume 1; one ETH
 * minute of quotes (volume unknown, NaN). */
static void
push_ten_minutes (ThHub *hub)
{
  for (gint64 m = 0; m <= 10; m++)
    push (hub, "BTC", "binance", 100 + m, 1, T0 + m * MINUTE + SEC);
  push (hub, "ETH", "binance", 10, NAN, T0 + SEC);
  push (hub, "ETH", "binance", 11, NAN, T0 + MINUTE + SEC);
  assert_flush (hub);
}

static void
test_history_api (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, NULL);
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) last = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(GError) error = NULL;

  push_ten_minutes (hub);

  all = get_history (hub, "BTC", "1m", T0, T0 + 60 * MINUTE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 10);
  for (guint i = 0; i < all->len; i++)
    {
      const ThCandle *c = all->pdata[i];

      g_assert_cmpint (c->start, ==, T0 + (gint64) i * MINUTE);
      g_assert_cmpint (c->duration, ==, MINUTE);
      g_assert_cmpfloat (c->close, ==, 100 + i);
      g_assert_true (c->closed);
      g_assert_cmpfloat (c->volume, ==, 1);
    }

  /* The latest of the range, oldest first; from included, to excluded;
   * another name of the same timeframe. */
  last = get_history (hub, "BTC", "60s", T0 + 2 * MINUTE, T0 + 8 * MINUTE, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (last->len, ==, 3);
  g_assert_cmpint (((ThCandle *) last->pdata[0])->start, ==, T0 + 5 * MINUTE);
  g_assert_cmpint (((ThCandle *) last->pdata[2])->start, ==, T0 + 7 * MINUTE);

  none = get_history (hub, "ETH", "1h", T0, T0 + 60 * MINUTE, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  {
    g_autoptr(GPtrArray) eth = get_history (hub, "ETH", "1m", T0, T0 + 60 * MINUTE, 10, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (eth->len, ==, 1);
    g_assert_true (isnan (((ThCandle *) eth->pdata[0])->volume));
  }

  g_assert_null (get_history (hub, "DOGE", "1m", T0, T0 + MINUTE, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL);
  g_clear_error (&error);
  g_assert_null (get_history (hub, "BTC", "5m", T0, T0 + MINUTE, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  th_test_assert_contains (error->message, "timeframe “5m” is not kept; it must be one of 1m, 1h");
  g_clear_error (&error);
  g_assert_null (get_history (hub, "BTC", "1m", T0, T0, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_assert_null (get_history (hub, "BTC", "1m", T0, T0 + MINUTE, 10001, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_object_run_dispose (G_OBJECT (hub));
}

typedef struct
{
  gboolean   done;
  GPtrArray *candles;
  GError    *error;
} Direct;

static void
on_direct (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Direct *d = user_data;

  d->candles = th_history_query_candles_finish (TH_HISTORY (source), result, &d->error);
  d->done = TRUE;
}

static gboolean
weak_is_gone (GWeakRef *ref)
{
  g_autoptr(GObject) object = g_weak_ref_get (ref);

  return object == NULL;
}

/* A query holds the store: the hub may be stopped, disposed and freed
 * before the answer; the answer still comes, and the store, freed last
 * (in this thread), leaves the gone hub alone (under ASan: no use after
 * free). */
static void
test_query_outlives_hub (Fixture       *fx,
                         gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  ThHub *hub = hub_start (fx, clock, NULL);
  Direct d = { 0 };
  GWeakRef store;

  push_ten_minutes (hub);
  g_weak_ref_init (&store, th_hub_get_history (hub));
  th_history_query_candles_async (th_hub_get_history (hub), "BTC", MINUTE, T0, T0 + 60 * MINUTE, 100, NULL,
                                  on_direct, &d);
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  g_object_unref (hub);

  th_test_wait_until (d.done, TH_TEST_WAIT_MS);
  g_assert_no_error (d.error);
  g_assert_cmpuint (d.candles->len, ==, 10);
  g_ptr_array_unref (d.candles);
  /* The answer was the last to hold the store. */
  th_test_wait_until (weak_is_gone (&store), TH_TEST_WAIT_MS);
  g_weak_ref_clear (&store);
}

static void
test_history_without_store (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(ThHub) hub = th_test_hub_new ("[tickhub]\nplugins=jsonl\nsymbols=BTC\n[jsonl]\npath=-\n", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null (th_hub_get_history (hub));
  g_assert_null (get_history (hub, "BTC", "1m", T0, T0 + MINUTE, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_HISTORY);
  th_test_assert_contains (error->message, "add the store plugin to [tickhub] plugins");
  g_object_run_dispose (G_OBJECT (hub));
}

static guint
server_port (ThHub *hub)
{
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (hub);
  guint port = 0;

  for (guint i = 0; i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      g_object_get (sinks->pdata[i], "port", &port, NULL);
  g_assert_cmpuint (port, >, 0);
  return port;
}

static ThTestHttp *
http_get (SoupSession *session,
          guint        port,
          const char  *path)
{
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);

  return th_test_http_send (session, soup_message_new ("GET", url));
}

static void
test_rest_history (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store;server\nsymbols=BTC;ETH\ntimeframes=1m;1h\n\n"
                                           "[store]\npath=%s\n\n"
                                           "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n", fx->db);
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  g_autoptr(ThHub) hub = th_test_hub_new (text, clock);
  g_autoptr(SoupSession) session = th_test_session_new ();
  guint port;

  th_hub_start (hub);
  port = server_port (hub);
  push_ten_minutes (hub);

  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/btc?timeframe=1m&from=2024-01-01T00:07:00Z&to=1704067800000");

    g_assert_cmpuint (http->status, ==, 200);
    g_assert_cmpstr (http->body, ==,
                     "{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"from\":\"2024-01-01T00:07:00.000Z\","
                     "\"to\":\"2024-01-01T00:10:00.000Z\",\"missing\":[],\"candles\":["
                     "{\"start\":\"2024-01-01T00:07:00.000Z\",\"open\":107,\"high\":107,\"low\":107,\"close\":107,\"volume\":1},"
                     "{\"start\":\"2024-01-01T00:08:00.000Z\",\"open\":108,\"high\":108,\"low\":108,\"close\":108,\"volume\":1},"
                     "{\"start\":\"2024-01-01T00:09:00.000Z\",\"open\":109,\"high\":109,\"low\":109,\"close\":109,\"volume\":1}]}");
  }
  {
    /* days= counts back from now (the hub's clock); columns for charts. */
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/BTC?timeframe=1m&days=30&limit=2&format=columns");

    g_assert_cmpuint (http->status, ==, 200);
    th_test_assert_contains (http->body, "\"from\":\"2023-12-02T00:20:00.000Z\",\"to\":\"2024-01-01T00:20:00.000Z\"");
    th_test_assert_contains (http->body, "\"t\":[1704067680000,1704067740000],\"open\":[108,109],\"high\":[108,109],"
                                         "\"low\":[108,109],\"close\":[108,109],\"volume\":[1,1]}");
  }
  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/ETH?timeframe=1m&from=2024-01-01T00:00:00Z&to=2024-01-01T00:04:00Z");

    th_test_assert_contains (http->body, "\"volume\":null}]}");
  }
  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/DOGE");

    g_assert_cmpuint (http->status, ==, 404);
    th_test_assert_contains (http->body, "\"code\":\"unknown_symbol\"");
  }
  {
    static const struct { const char *query; const char *needle; } bad[] = {
      { "from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "the range is empty: from must be before to" },
      { "from=yesterday", "from must be an ISO 8601 time" },
      { "days=0", "days must be a number of days" },
      { "days=1&from=2024-01-01T00:00:00Z", "give either from or days, not both" },
      { "limit=10001", "limit must be a whole number from 1 to 10000" },
      { "timeframe=5m", "timeframe must be one of 1m, 1h" },
      { "format=csv", "format must be candles or columns" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *path = g_strdup_printf ("/api/v1/history/BTC?%s", bad[i].query);
        g_autoptr(ThTestHttp) http = http_get (session, port, path);

        g_assert_cmpuint (http->status, ==, 400);
        th_test_assert_contains (http->body, "\"code\":\"bad_request\"");
        th_test_assert_contains (http->body, bad[i].needle);
      }
  }
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

static GPtrArray *
get_ticks (ThHub       *hub,
           const char  *symbol,
           gint64       from,
           gint64       to,
           guint        limit,
           GError     **error)
{
  History h = { 0 };

  th_hub_get_history_ticks_async (hub, symbol, from, to, limit, NULL, on_history_ticks, &h);
  th_test_wait_until (h.done, TH_TEST_WAIT_MS);
  if (h.error != NULL)
    g_propagate_error (error, h.error);
  return h.candles;
}

/* The stored ticks through the hub: the latest of the range, oldest first,
 * with their source, kind, size, bid and ask; a store without ticks=true
 * says how to keep them. */
static void
test_history_ticks_api (Fixture       *fx,
                        gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, "ticks=true");
  g_autoptr(ThTick) quote = th_tick_new ("ETH", "coinbase", TH_TICK_KIND_QUOTE, 2300.5, T0 + 2 * SEC);
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) last = NULL;
  g_autoptr(GPtrArray) eth = NULL;
  g_autoptr(GError) error = NULL;
  const ThTick *t;

  for (gint64 i = 0; i < 5; i++)
    push (hub, "BTC", "binance", 100 + i, 0.5, T0 + i * SEC);
  quote->bid = 2300.25;
  quote->ask = 2300.75;
  th_hub_push_tick (hub, quote);
  assert_flush (hub);

  all = get_ticks (hub, "BTC", T0, T0 + MINUTE, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 5);
  for (guint i = 0; i < all->len; i++)
    {
      t = all->pdata[i];
      g_assert_cmpstr (t->symbol, ==, "BTC");
      g_assert_cmpstr (t->source, ==, "binance");
      g_assert_cmpint (t->kind, ==, TH_TICK_KIND_TRADE);
      g_assert_cmpint (t->exchange_time, ==, T0 + (gint64) i * SEC);
      g_assert_cmpint (t->receive_time, ==, T0 + 10 * MINUTE);
      g_assert_cmpfloat (t->price, ==, 100 + i);
      g_assert_cmpfloat (t->size, ==, 0.5);
      g_assert_true (isnan (t->bid) && isnan (t->ask));
    }

  /* from included, to excluded, the latest two of the range. */
  last = get_ticks (hub, "BTC", T0 + 1 * SEC, T0 + 4 * SEC, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (last->len, ==, 2);
  g_assert_cmpint (((ThTick *) last->pdata[0])->exchange_time, ==, T0 + 2 * SEC);
  g_assert_cmpint (((ThTick *) last->pdata[1])->exchange_time, ==, T0 + 3 * SEC);

  eth = get_ticks (hub, "ETH", T0, T0 + MINUTE, 10, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (eth->len, ==, 1);
  t = eth->pdata[0];
  g_assert_cmpint (t->kind, ==, TH_TICK_KIND_QUOTE);
  g_assert_cmpstr (t->source, ==, "coinbase");
  g_assert_cmpfloat (t->bid, ==, 2300.25);
  g_assert_cmpfloat (t->ask, ==, 2300.75);
  g_assert_true (isnan (t->size));

  g_assert_null (get_ticks (hub, "DOGE", T0, T0 + MINUTE, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL);
  g_clear_error (&error);
  g_assert_null (get_ticks (hub, "BTC", T0 + MINUTE, T0, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_assert_null (get_ticks (hub, "BTC", T0, T0 + MINUTE, 10001, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_history_no_ticks (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = hub_start (fx, clock, NULL);
  g_autoptr(GError) error = NULL;

  push (hub, "BTC", "binance", 100, 0.5, T0);
  assert_flush (hub);
  g_assert_null (get_ticks (hub, "BTC", T0, T0 + MINUTE, 10, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_HISTORY);
  th_test_assert_contains (error->message, "the store keeps no ticks; set ticks=true in [store]");
  g_object_run_dispose (G_OBJECT (hub));
}

static void
test_rest_history_ticks (Fixture       *fx,
                         gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store;server\nsymbols=BTC;ETH\ntimeframes=1m;1h\n\n"
                                           "[store]\npath=%s\nticks=true\n\n"
                                           "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n", fx->db);
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  g_autoptr(ThHub) hub = th_test_hub_new (text, clock);
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(ThTick) quote = th_tick_new ("ETH", "coinbase", TH_TICK_KIND_QUOTE, 2300.5, T0 + 2 * SEC);
  guint port;

  th_hub_start (hub);
  port = server_port (hub);
  push (hub, "BTC", "binance", 100, 0.5, T0 + SEC);
  push (hub, "BTC", "binance", 101.5, 0.25, T0 + 2 * SEC);
  push (hub, "BTC", "binance", 102, 1, T0 + 3 * SEC);
  quote->bid = 2300.25;
  quote->ask = 2300.75;
  th_hub_push_tick (hub, quote);
  assert_flush (hub);

  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/btc/ticks?from=2024-01-01T00:00:00Z&to=1704067203000&limit=5");

    g_assert_cmpuint (http->status, ==, 200);
    g_assert_cmpstr (http->body, ==,
                     "{\"symbol\":\"BTC\",\"from\":\"2024-01-01T00:00:00.000Z\",\"to\":\"2024-01-01T00:00:03.000Z\","
                     "\"ticks\":["
                     "{\"time\":\"2024-01-01T00:00:01.000Z\",\"received\":\"2024-01-01T00:20:00.000Z\",\"source\":\"binance\","
                     "\"kind\":\"trade\",\"price\":100,\"size\":0.5,\"bid\":null,\"ask\":null},"
                     "{\"time\":\"2024-01-01T00:00:02.000Z\",\"received\":\"2024-01-01T00:20:00.000Z\",\"source\":\"binance\","
                     "\"kind\":\"trade\",\"price\":101.5,\"size\":0.25,\"bid\":null,\"ask\":null}]}");
  }
  {
    /* days counts back from now; the latest `limit`. */
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/ETH/ticks?days=1&limit=1");

    g_assert_cmpuint (http->status, ==, 200);
    th_test_assert_contains (http->body, "\"kind\":\"quote\",\"price\":2300.5,\"size\":null,\"bid\":2300.25,\"ask\":2300.75}]}");
  }
  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/DOGE/ticks");

    g_assert_cmpuint (http->status, ==, 404);
    th_test_assert_contains (http->body, "\"code\":\"unknown_symbol\"");
  }
  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/BTC/ticks?format=columns");

    g_assert_cmpuint (http->status, ==, 400);
    th_test_assert_contains (http->body, "format is for candles");
  }
  {
    g_autoptr(ThTestHttp) http = http_get (session, port, "/api/v1/history/BTC/ticks?limit=0");

    g_assert_cmpuint (http->status, ==, 400);
    th_test_assert_contains (http->body, "limit must be a whole number from 1 to 10000");
  }
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

/* Without ticks=true: a 503 that says how to keep them. */
static void
test_rest_history_no_ticks (Fixture       *fx,
                            gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store;server\nsymbols=BTC\n\n"
                                           "[store]\npath=%s\n\n"
                                           "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\n", fx->db);
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  g_autoptr(ThHub) hub = th_test_hub_new (text, clock);
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(ThTestHttp) http = NULL;

  th_hub_start (hub);
  http = http_get (session, server_port (hub), "/api/v1/history/BTC/ticks?days=1");
  g_assert_cmpuint (http->status, ==, 503);
  th_test_assert_contains (http->body, "\"code\":\"no_history\"");
  th_test_assert_contains (http->body, "set ticks=true in [store]");
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

/* Warm indicators */

#define WARM_CONFIG \
  "[tickhub]\nplugins=store\nsymbols=BTC\ntimeframes=1m\nwarmup=40\n" \
  "[indicators]\nsma_5=sma(5)\nema_10=ema(10)\nrsi_14=rsi(14)\nmacd=macd(3,8,4)\n" \
  "[store]\npath=%s\n"

static ThHub *
warm_hub (const char *db,
          ThClock    *clock,
          GPtrArray **events)
{
  g_autofree char *text = g_strdup_printf (WARM_CONFIG, db);
  ThHub *hub = th_test_hub_new (text, clock);

  *events = th_test_capture_events (hub);
  th_hub_start (hub);
  return hub;
}

/* Three trades in minute @m, prices that move both ways. */
static void
push_minute (ThHub   *hub,
             ThClock *clock,
             gint64   m)
{
  for (gint64 k = 0; k < 3; k++)
    {
      gint64 time = T0 + m * MINUTE + (1 + 20 * k) * SEC;
      double price = 100 + 10 * sin (0.7 * m + k) + 0.1 * m;

      th_manual_clock_set_time (TH_MANUAL_CLOCK (clock), time);
      push (hub, "BTC", "binance", price, 1 + k, time);
    }
}

/* The technical_indicators_update of the closed candle starting at minute
 * @m, or NULL. */
static const char *
closed_update (GPtrArray *events,
               gint64     m)
{
  g_autofree char *ts = th_format_time (T0 + m * MINUTE);
  g_autofree char *needle = g_strdup_printf ("\"timestamp\":\"%s\"}", ts);

  for (guint i = 0; i < events->len; i++)
    {
      ThEvent *ev = events->pdata[i];
      const char *json = th_event_get_json (ev);

      if (g_str_equal (th_event_get_name (ev), "technical_indicators_update") &&
          strstr (json, "\"closed\":true") != NULL && strstr (json, needle) != NULL)
        return json;
    }
  return NULL;
}

/* A hub stopped after 40 minutes and started again on the same store
 * publishes, from its first update on, what an uninterrupted run over the
 * same ticks publishes: the stored candles are fed to its indicators
 * before the live ones. A hub on an empty store marks its values cold. */
static void
test_warm_indicators (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *db_a = g_build_filename (fx->dir, "uninterrupted.db", NULL);
  g_autofree char *db_c = g_build_filename (fx->dir, "fresh.db", NULL);
  g_autoptr(ThClock) clock_a = th_manual_clock_new (T0);
  g_autoptr(ThClock) clock_b = th_manual_clock_new (T0);
  g_autoptr(ThClock) clock_c = th_manual_clock_new (T0 + 40 * MINUTE);
  g_autoptr(GPtrArray) events_a = NULL;
  g_autoptr(GPtrArray) events_b1 = NULL;
  g_autoptr(GPtrArray) events_b2 = NULL;
  g_autoptr(GPtrArray) events_c = NULL;
  ThHub *hub;

  /* A: 60 minutes in one run. */
  hub = warm_hub (db_a, clock_a, &events_a);
  for (gint64 m = 0; m < 60; m++)
    push_minute (hub, clock_a, m);
  /* Candles that closed before the store answered (empty) wait for it. */
  th_test_wait_until (closed_update (events_a, 58) != NULL, TH_TEST_WAIT_MS);
  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);

  /* B: 40 minutes (and the first trade of the 41st, which closes the
   * 40th), stopped; then a new hub on the same file, the rest. */
  hub = warm_hub (fx->db, clock_b, &events_b1);
  for (gint64 m = 0; m < 40; m++)
    push_minute (hub, clock_b, m);
  th_manual_clock_set_time (TH_MANUAL_CLOCK (clock_b), T0 + 40 * MINUTE + SEC);
  push (hub, "BTC", "binance", 100 + 10 * sin (0.7 * 40) + 0.1 * 40, 1, T0 + 40 * MINUTE + SEC);
  assert_flush (hub);
  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);

  hub = warm_hub (fx->db, clock_b, &events_b2);
  /* The stored candles' values, published once they are in. */
  th_test_wait_until (closed_update (events_b2, 39) != NULL, TH_TEST_WAIT_MS);
  g_assert_cmpstr (closed_update (events_b2, 39), ==, closed_update (events_a, 39));
  th_test_assert_contains (closed_update (events_b2, 39), "\"warm\":true");
  g_assert_null (closed_update (events_b2, 38));
  for (gint64 m = 40; m < 60; m++)
    push_minute (hub, clock_b, m);
  for (gint64 m = 40; m < 59; m++)
    {
      const char *a = closed_update (events_a, m);
      const char *b = closed_update (events_b2, m);

      g_assert_nonnull (a);
      th_test_assert_contains (a, "\"warm\":true");
      th_test_assert_contains (a, "\"macd_signal\":");
      g_assert_cmpstr (b, ==, a);
    }
  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);

  /* C: nothing stored; the values are those of a first run, marked cold
   * until 40 candles have closed. */
  hub = warm_hub (db_c, clock_c, &events_c);
  for (gint64 m = 40; m < 45; m++)
    push_minute (hub, clock_c, m);
  th_test_wait_until (closed_update (events_c, 43) != NULL, TH_TEST_WAIT_MS);
  th_test_assert_contains (closed_update (events_c, 40), "\"sma_5\":null");
  th_test_assert_contains (closed_update (events_c, 43), "\"warm\":false");
  th_test_hub_stop (hub);
  th_test_hub_clear (&hub);
}

/* get_history from the clients */

static ThHub *
server_hub (Fixture    *fx,
            ThClock    *clock,
            const char *server_keys)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=store;server\nsymbols=BTC;ETH\ntimeframes=1m;1h\n\n"
                                           "[store]\npath=%s\n\n"
                                           "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nrate-limit=0\n%s\n",
                                           fx->db, server_keys);
  ThHub *hub = th_test_hub_new (text, clock);

  th_hub_start (hub);
  return hub;
}

static ThTestWs *
ws_connect (SoupSession *session,
            guint        port,
            const char  *path)
{
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u%s", port, path);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);
  ThTestWs *w = th_test_ws_connect (session, msg, NULL);

  th_test_wait_until (w->done, TH_TEST_WAIT_MS);
  g_assert_no_error (w->error);
  return w;
}

/* The next message that starts with @prefix; the others are skipped
 * (Engine.IO pings answered). */
static char *
ws_next (ThTestWs   *w,
         const char *prefix)
{
  for (;;)
    {
      char *p;

      th_test_wait_until (th_test_ws_has_message (w), TH_TEST_WAIT_MS);
      p = g_queue_pop_head (&w->messages);
      g_free (g_queue_pop_head (&w->times));
      if (p == NULL)
        g_error ("closed while waiting for %s", prefix);
      if (g_str_has_prefix (p, prefix))
        return p;
      if (g_str_equal (p, "2") && soup_websocket_connection_get_state (w->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (w->conn, "3");
      g_free (p);
    }
}

static char *
rest_body (SoupSession *session,
           guint        port,
           const char  *path)
{
  g_autoptr(ThTestHttp) http = http_get (session, port, path);

  g_assert_cmpuint (http->status, ==, 200);
  return g_steal_pointer (&http->body);
}

/* /ws: get_history answers with the `history` event, whose data is the
 * REST body; errors are `error` events with the codes of the other
 * messages; a client gone before its answer costs nothing. */
static void
test_ws_get_history (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 20 * MINUTE);
  g_autoptr(ThHub) hub = server_hub (fx, clock, "");
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(ThTestWs) w = NULL;
  g_autofree char *rest = NULL;
  g_autofree char *expected = NULL;
  guint port = server_port (hub);

  push_ten_minutes (hub);
  w = ws_connect (session, port, "/ws");
  g_free (ws_next (w, "{\"event\":\"connected\""));

  rest = rest_body (session, port, "/api/v1/history/BTC?timeframe=1m&from=2024-01-01T00:07:00Z&to=1704067800000");
  expected = g_strdup_printf ("{\"event\":\"history\",\"data\":%s}", rest);
  th_test_ws_send (w, "{\"event\":\"get_history\",\"data\":{\"symbol\":\"btc\",\"timeframe\":\"1m\","
                      "\"from\":\"2024-01-01T00:07:00Z\",\"to\":1704067800000}}");
  {
    g_autofree char *answer = ws_next (w, "{\"event\":\"history\"");

    g_assert_cmpstr (answer, ==, expected);
  }

  /* Numbers for days and limit; columns. */
  th_test_ws_send (w, "{\"event\":\"get_history\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"60s\","
                      "\"days\":30,\"limit\":2,\"format\":\"columns\"}}");
  {
    g_autofree char *answer = ws_next (w, "{\"event\":\"history\"");

    th_test_assert_contains (answer, "\"timeframe\":\"1m\",\"from\":\"2023-12-02T00:20:00.000Z\"");
    th_test_assert_contains (answer, "\"t\":[1704067680000,1704067740000],\"open\":[108,109]");
  }

  {
    static const struct { const char *data; const char *code; const char *needle; } bad[] = {
      { "{\"symbol\":\"DOGE\"}", "unknown_symbol", "unknown symbol “DOGE”" },
      { "{\"timeframe\":\"1m\"}", "bad_request", "get_history needs {\\\"symbol\\\"" },
      { "null", "bad_request", "get_history needs {\\\"symbol\\\"" },
      { "{\"symbol\":\"BTC\",\"limit\":true}", "bad_request", "get_history: limit must be a string or a number" },
      { "{\"symbol\":\"BTC\",\"limit\":10001}", "bad_request", "limit must be a whole number from 1 to 10000" },
      { "{\"symbol\":\"BTC\",\"timeframe\":\"5m\"}", "bad_request", "timeframe must be one of 1m, 1h" },
      { "{\"symbol\":\"BTC\",\"days\":1,\"from\":\"2024-01-01T00:00:00Z\"}", "bad_request", "give either from or days" },
      { "{\"symbol\":\"BTC\",\"from\":\"2024-01-02T00:00:00Z\",\"to\":\"2024-01-01T00:00:00Z\"}", "bad_request",
        "the range is empty" },
      { "{\"symbol\":\"BTC\",\"format\":\"csv\"}", "bad_request", "format must be candles or columns" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *msg = g_strdup_printf ("{\"event\":\"get_history\",\"data\":%s}", bad[i].data);
        g_autofree char *prefix = g_strdup_printf ("{\"event\":\"error\",\"data\":{\"code\":\"%s\"", bad[i].code);
        g_autofree char *answer = NULL;

        th_test_ws_send (w, msg);
        answer = ws_next (w, "{\"event\":");
        g_assert_true (g_str_has_prefix (answer, prefix));
        th_test_assert_contains (answer, bad[i].needle);
      }
  }

  /* A client that leaves with its request under way: the answer goes to
   * nobody, and the others are still answered. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(ThTestWs) gone = ws_connect (session, port, "/ws");

      th_test_ws_send (gone, "{\"event\":\"get_history\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"days\":1}}");
      soup_websocket_connection_close (gone->conn, 1000, NULL);
    }
  th_test_ws_send (w, "{\"event\":\"get_history\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\","
                      "\"from\":\"2024-01-01T00:07:00Z\",\"to\":1704067800000}}");
  {
    g_autofree char *answer = ws_next (w, "{\"event\":\"history\"");

    g_assert_cmpstr (answer, ==, expected);
  }

  g_clear_pointer (&w, th_test_ws_free);
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

/* Socket.IO: the `history` event, and the same body as the ack when the
 * event has an ack id (the ack waits for the store); errors, found at
 * once or once the store answered, are `error` events and the ack. */
static void
test_sio_get_history (Fixture       *fx,
                      gconstpointer  data)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 60 * MINUTE);
  g_autoptr(ThHub) hub = server_hub (fx, clock, "client-buffer=4096\n");
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autoptr(ThTestWs) w = NULL;
  g_autofree char *rest = NULL;
  guint port = server_port (hub);

  /* 40 closed minutes: more than a 4096-byte client-buffer takes at once. */
  for (gint64 m = 0; m <= 40; m++)
    push (hub, "BTC", "binance", 100 + m, 1, T0 + m * MINUTE + SEC);
  assert_flush (hub);

  w = ws_connect (session, port, "/socket.io/?EIO=4&transport=websocket");
  g_free (ws_next (w, "0{"));
  th_test_ws_send (w, "40");
  g_free (ws_next (w, "40{\"sid\":"));
  g_free (ws_next (w, "42[\"connected\","));

  rest = rest_body (session, port, "/api/v1/history/BTC?timeframe=1m&from=2024-01-01T00:07:00Z&to=1704067800000");
  th_test_ws_send (w, "421[\"get_history\",{\"symbol\":\"BTC\",\"timeframe\":\"1m\","
                      "\"from\":\"2024-01-01T00:07:00Z\",\"to\":\"2024-01-01T00:10:00Z\"}]");
  {
    g_autofree char *event = ws_next (w, "42[");
    g_autofree char *ack = ws_next (w, "43");
    g_autofree char *expected_event = g_strdup_printf ("42[\"history\",%s]", rest);
    g_autofree char *expected_ack = g_strdup_printf ("431[%s]", rest);

    g_assert_cmpstr (event, ==, expected_event);
    g_assert_cmpstr (ack, ==, expected_ack);
  }

  /* Without an ack id: the event alone. */
  th_test_ws_send (w, "42[\"get_history\",{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"days\":1,\"limit\":1}]");
  {
    g_autofree char *event = ws_next (w, "42[");

    th_test_assert_contains (event, "42[\"history\",{\"symbol\":\"BTC\"");
    th_test_assert_contains (event, "\"candles\":[{\"start\":\"2024-01-01T00:39:00.000Z\"");
  }

  /* Found at once: the error event and the ack. */
  th_test_ws_send (w, "422[\"get_history\",{\"symbol\":\"DOGE\"}]");
  {
    g_autofree char *event = ws_next (w, "42[");
    g_autofree char *ack = ws_next (w, "43");

    g_assert_true (g_str_has_prefix (event, "42[\"error\",{\"code\":\"unknown_symbol\""));
    g_assert_true (g_str_has_prefix (ack, "432[{\"code\":\"unknown_symbol\""));
  }

  /* Found once the store answered: 40 candles do not fit in
   * client-buffer; refused, and the client stays connected. */
  th_test_ws_send (w, "423[\"get_history\",{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"days\":1}]");
  {
    g_autofree char *event = ws_next (w, "42[");
    g_autofree char *ack = ws_next (w, "43");

    g_assert_true (g_str_has_prefix (event, "42[\"error\",{\"code\":\"too_large\""));
    th_test_assert_contains (event, "[server] client-buffer, 4096 bytes");
    g_assert_true (g_str_has_prefix (ack, "433[{\"code\":\"too_large\""));
  }
  th_test_ws_send (w, "424[\"ping\",{}]");
  g_free (ws_next (w, "434["));

  g_clear_pointer (&w, th_test_ws_free);
  th_test_hub_stop (hub);
  g_object_run_dispose (G_OBJECT (hub));
  th_test_drain ();
}

/* tickhubd */

static const char *
tickhubd (void)
{
  const char *path = g_getenv ("TICKHUBD");

  g_assert_nonnull (path);
  return path;
}

/* A replay of @n BTC trades, one every 100 ms from T0. */
static char *
write_replay (Fixture *fx,
              guint    n)
{
  GString *text = g_string_new (NULL);
  char *path;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "{\"symbol\":\"BTC\",\"price\":%u,\"size\":0.5,\"timestamp\":%" G_GINT64_FORMAT
                            ",\"source\":\"binance\"}\n", 40000 + i % 100, T0 / 1000 + (gint64) i * 100);
  path = th_test_write_file (fx->dir, "ticks.jsonl", text->str);
  g_string_free (text, TRUE);
  return path;
}

static GSubprocess *
spawn_daemon (Fixture    *fx,
              const char *replay_keys)
{
  g_autofree char *replay = write_replay (fx, 60000);
  g_autofree char *conf = g_strdup_printf ("[tickhub]\nplugins=replay;store\nsymbols=BTC\ntimeframes=1m;1h\n\n"
                                           "[replay]\npath=%s\n%s\n\n[store]\npath=%s\nticks=true\n"
                                           /* The replay's ticks are of 2024: the
                                            * default retention (7 days by the
                                            * hub's clock) would delete them. */
                                           "retention=ticks:forever\n",
                                           replay, replay_keys, fx->db);
  g_autofree char *conf_path = th_test_write_file (fx->dir, "tickhub.conf", conf);
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                           tickhubd (), "--config", conf_path, NULL);
  g_assert_no_error (error);
  return proc;
}

/* The end of the file stops the daemon as SIGTERM does: every tick and
 * every closed candle is in the database. */
static void
test_daemon_writes_everything (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(GSubprocess) proc = spawn_daemon (fx, "exit-at-end=true");
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("%s", err);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  th_test_assert_contains (err, "100 candles, 60000 ticks and 1 source changes written, nothing dropped or lost");

  /* 6000 s of ticks: 99 closed minutes (the 100th is still forming), 1 hour. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, 60000);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles WHERE duration = 60000000"), ==, 99);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles WHERE duration = 3600000000"), ==, 1);
  g_assert_cmpint (file_int (fx->db, "SELECT SUM(ticks) FROM candles WHERE duration = 60000000"), ==, 99 * 600);
}

static void
test_daemon_sigterm (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GSubprocess) proc = spawn_daemon (fx, "loop=true");
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_autofree char *written = NULL;
  guint64 candles = 0, ticks = 0;
  const char *at;

  th_test_wait_until (g_file_test (fx->db, G_FILE_TEST_EXISTS) &&
                      file_int (fx->db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ticks'") == 1 &&
                      file_int (fx->db, "SELECT COUNT(*) FROM ticks") > 100000, 60000);
  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);

  /* What the store took in before the stop is all in the file. */
  if (g_test_verbose ())
    g_printerr ("%s", err);
  at = strstr (err, "history.db”: ");
  g_assert_nonnull (at);
  at += strlen ("history.db”: ");
  g_assert_cmpint (sscanf (at, "%" G_GUINT64_FORMAT " candles, %" G_GUINT64_FORMAT " ticks", &candles, &ticks), ==, 2);
  th_test_assert_contains (err, "nothing dropped or lost");
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, (gint64) ticks);
  /* A looping replay goes back in time: its candles may replace earlier rows. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM candles"), <=, (gint64) candles);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), ==, 1);
}

static void
test_daemon_kill9 (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GSubprocess) proc = spawn_daemon (fx, "loop=true");
  g_autoptr(ThClock) clock = th_manual_clock_new (T0 + 10 * MINUTE);
  g_autoptr(ThHub) hub = NULL;
  gint64 before;

  th_test_wait_until (g_file_test (fx->db, G_FILE_TEST_EXISTS) &&
                      file_int (fx->db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ticks'") == 1 &&
                      file_int (fx->db, "SELECT COUNT(*) FROM ticks") > 100000, 60000);
  g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
  g_assert_true (g_subprocess_get_if_signaled (proc));

  /* Consistent, and it opens again. */
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), ==, 1);
  before = file_int (fx->db, "SELECT COUNT(*) FROM ticks");
  g_assert_cmpint (before, >, 100000);
  hub = hub_start (fx, clock, "ticks=true");
  push (hub, "BTC", "binance", 1, 1, T0);
  assert_flush (hub);
  g_assert_cmpint (store_state (hub, NULL), ==, TH_SOURCE_STATE_LIVE);
  g_assert_cmpint (file_int (fx->db, "SELECT COUNT(*) FROM ticks"), ==, before + 1);
  g_object_run_dispose (G_OBJECT (hub));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_writer_func (log_writer, NULL, NULL);

#define ADD(path, func) g_test_add ("/store/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("config-errors", test_config_errors);
  ADD ("default-path", test_default_path);
  ADD ("candles", test_candles);
  ADD ("candle-source", test_candle_source);
  ADD ("ticks", test_ticks);
  ADD ("source-changes", test_source_changes);
  ADD ("retention", test_retention);
  ADD ("migrate-from-v1", test_migrate_from_v1);
  ADD ("migrate-from-empty", test_migrate_from_empty);
  ADD ("newer-schema", test_newer_schema);
  ADD ("fault/read-only", test_read_only);
  ADD ("fault/corrupt", test_corrupt);
  ADD ("fault/locked", test_locked);
  ADD ("fault/full", test_full);
  ADD ("metrics", test_metrics);
  ADD ("history-api", test_history_api);
  ADD ("history-without-store", test_history_without_store);
  ADD ("rest-history", test_rest_history);
  ADD ("history-ticks-api", test_history_ticks_api);
  ADD ("query-outlives-hub", test_query_outlives_hub);
  ADD ("warm-indicators", test_warm_indicators);
  ADD ("history-no-ticks", test_history_no_ticks);
  ADD ("rest-history-ticks", test_rest_history_ticks);
  ADD ("rest-history-no-ticks", test_rest_history_no_ticks);
  ADD ("ws-get-history", test_ws_get_history);
  ADD ("sio-get-history", test_sio_get_history);
  ADD ("daemon/writes-everything", test_daemon_writes_everything);
  ADD ("daemon/sigterm", test_daemon_sigterm);
  ADD ("daemon/kill-9", test_daemon_kill9);
#undef ADD

  return g_test_run ();
}
