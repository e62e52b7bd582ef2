/* th-store.c: the store sink, history in SQLite
 *
 * `[store] path=FILE` (default `$XDG_STATE_HOME/tickhub/history.db`) keeps
 * every closed candle of every configured timeframe, optionally the ticks
 * (`ticks=true`), and the price-source changes (the audit trail of which
 * source was trusted when, `no_source` periods included). Old rows go by
 * `retention=`, a few thousand at a time.
 *
 * The main loop never touches the database. The hub's typed signals
 * (::candle-closed, ::price-changed) and the `price_source_changed` events
 * become small records appended to a queue under a lock; a writer thread
 * swaps the queue out and writes it in one transaction, with prepared
 * statements, in WAL mode. A batch is whatever came while the previous
 * one was written, so a `kill -9` loses at most the batch being written
 * (the queue of the last second at worst) and the file stays consistent.
 * The queue is bounded by `max-queue` records: past it, records are
 * dropped and counted.
 *
 * A database that cannot be written (read-only, full, locked by another
 * program, corrupt, missing folder) makes the store DOWN with a reason
 * that names the file and the fix (th_history_get_state(), /metrics,
 * `tickhub status`); it keeps the records it could not write, within the
 * same bound, reopens the file every `retry-interval` seconds and writes
 * them once it can. Live data never waits for it.
 *
 * Schema versions are PRAGMA user_version; migrations[i] takes a database
 * from version i to i + 1, each in the transaction that sets the version.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <sqlite3.h>
#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-flush-waiters.h"

#define DEFAULT_MAX_QUEUE      200000
#define DEFAULT_RETRY_INTERVAL 5.0
#define DEFAULT_TICKS_KEEP     (G_GINT64_CONSTANT (7) * 86400 * G_USEC_PER_SEC)
/* How often the retention runs, on the hub's clock. */
#define RETENTION_PERIOD       (60 * G_USEC_PER_SEC)
/* Rows per DELETE: small, so that a retention never holds the writer long. */
#define RETENTION_BATCH        2000
#define BUSY_TIMEOUT_MS        1000
#define SCHEMA_VERSION         1

/* migrations[v] takes a database at user_version v to v + 1. Never edit
 * one that has shipped: add the next. tests/data/store-v1.sql is version 1
 * as it shipped, for the migration tests. */
static const char *const migrations[SCHEMA_VERSION] = {
  /* 0 → 1 */
  "CREATE TABLE names ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE);"
  "CREATE TABLE candles ("
  "  symbol INTEGER NOT NULL,"        /* names.id */
  "  duration INTEGER NOT NULL,"      /* the timeframe, µs */
  "  start INTEGER NOT NULL,"         /* µs since the epoch, UTC */
  "  open REAL NOT NULL,"
  "  high REAL NOT NULL,"
  "  low REAL NOT NULL,"
  "  close REAL NOT NULL,"
  "  volume REAL,"                    /* NULL: no trade reached the candle */
  "  trades INTEGER,"                 /* NULL: not known */
  "  ticks INTEGER NOT NULL,"         /* ticks that made it; 0 for a flat fill */
  "  source INTEGER,"                 /* names.id; NULL for a flat fill */
  "  origin INTEGER NOT NULL,"        /* names.id: live, or the backfill's name */
  "  PRIMARY KEY (symbol, duration, start)) WITHOUT ROWID;"
  "CREATE INDEX candles_by_age ON candles (duration, start);"
  "CREATE TABLE ticks ("
  "  symbol INTEGER NOT NULL,"
  "  time INTEGER NOT NULL,"          /* exchange time, µs */
  "  received INTEGER NOT NULL,"      /* receive time, µs */
  "  source INTEGER NOT NULL,"
  "  kind INTEGER NOT NULL,"          /* 0 quote, 1 trade */
  "  price REAL NOT NULL,"
  "  size REAL,"
  "  bid REAL,"
  "  ask REAL);"
  "CREATE INDEX ticks_by_symbol ON ticks (symbol, time);"
  "CREATE TABLE source_changes ("
  "  symbol INTEGER NOT NULL,"
  "  time INTEGER NOT NULL,"          /* the hub's clock, µs */
  "  previous INTEGER,"               /* names.id; NULL: none */
  "  current INTEGER);"               /* names.id; NULL: no_source */
  "CREATE INDEX source_changes_by_symbol ON source_changes (symbol, time);"
  "CREATE VIEW no_source AS"
  "  SELECT s.name AS symbol, c.time AS start,"
  "         (SELECT MIN(n.time) FROM source_changes n"
  "           WHERE n.symbol = c.symbol AND n.time >= c.time AND n.current IS NOT NULL) AS end"
  "  FROM source_changes c JOIN names s ON s.id = c.symbol"
  "  WHERE c.current IS NULL;",
};

typedef enum {
  REC_CANDLE,
  REC_TICK,
  REC_SOURCE,
  REC_RETENTION,
} RecordKind;

/* One thing to write. Strings are the store's pooled copies: the writer
 * only reads them, and they live as long as the store. */
typedef struct
{
  RecordKind  kind;
  int         tick_kind;      /* a candle: 1 if backfilled (kept under a stored one) */
  gint64      trades;         /* a candle's trade count; -1: not known */
  guint       ticks;
  const char *symbol;
  const char *source;         /* a candle's or a tick's source; a change's previous */
  const char *other;          /* a candle's origin; a change's current */
  gint64      duration;
  gint64      time;           /* start, exchange time, change time, retention's now */
  gint64      received;
  double      open, high, low, close, volume;   /* a tick: price, bid, ask, -, size */
} Record;

/* The source of the ticks of one symbol and timeframe's recent periods. */
typedef struct
{
  gint64      cur_start, prev_start;
  const char *cur_source, *prev_source;
} Bucket;

typedef struct
{
  char   *name;
  gint64  duration;
  gint64  keep;               /* µs; 0 keeps for ever */
} Timeframe;

typedef enum {
  STMT_CANDLE,
  STMT_CANDLE_BACKFILL,
  STMT_TICK,
  STMT_SOURCE,
  STMT_NAME_ID,
  STMT_NAME_ADD,
  STMT_DELETE_TICKS,
  STMT_DELETE_CANDLES,
  STMT_DELETE_SOURCES,
  N_STMTS
} Stmt;

static const char *const stmt_sql[N_STMTS] = {
  [STMT_CANDLE] = "INSERT OR REPLACE INTO candles (symbol, duration, start, open, high, low, close, "
                  "volume, trades, ticks, source, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
  /* A backfilled candle never replaces one already stored; a live one
   * replaces a backfilled one (STMT_CANDLE). */
  [STMT_CANDLE_BACKFILL] = "INSERT OR IGNORE INTO candles (symbol, duration, start, open, high, low, close, "
                           "volume, trades, ticks, source, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  [STMT_TICK] = "INSERT INTO ticks (symbol, time, received, source, kind, price, size, bid, ask) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
  [STMT_SOURCE] = "INSERT INTO source_changes (symbol, time, previous, current) VALUES (?, ?, ?, ?)",
  [STMT_NAME_ID] = "SELECT id FROM names WHERE name = ?",
  [STMT_NAME_ADD] = "INSERT INTO names (name) VALUES (?)",
  /* Oldest inserted first: O(batch) whatever the table's size. */
  [STMT_DELETE_TICKS] = "DELETE FROM ticks WHERE rowid IN "
                        "(SELECT rowid FROM ticks WHERE time < ?1 ORDER BY rowid LIMIT ?2)",
  [STMT_DELETE_CANDLES] = "DELETE FROM candles WHERE (symbol, duration, start) IN "
                          "(SELECT symbol, duration, start FROM candles "
                          "WHERE duration = ?1 AND start < ?2 ORDER BY start LIMIT ?3)",
  [STMT_DELETE_SOURCES] = "DELETE FROM source_changes WHERE rowid IN "
                          "(SELECT rowid FROM source_changes WHERE time < ?1 ORDER BY rowid LIMIT ?2)",
};

/* Queries read on their own read-only connection (WAL lets it read beside
 * the writer), in a thread of GTask's pool, one query at a time. What the
 * thread needs is here, reference counted, and not the store itself: the
 * last reference to the store is then never dropped in a pool thread, and
 * a query that outlives the store (or the hub) touches neither. */
typedef struct _Reader
{
  gatomicrefcount ref;
  char           *path;
  char           *display;
  GMutex          lock;        /* the connection: one query at a time */
  sqlite3        *db;
  sqlite3_stmt   *candles;
  sqlite3_stmt   *ticks;
  GMutex          state_lock;
  GCond           state_cond;
  gboolean        opened;      /* the writer's first open is over (the
                                * tables exist, or it is down) */
} Reader;

static Reader *
reader_new (const char *path,
            const char *display)
{
  Reader *r = g_new0 (Reader, 1);

  g_atomic_ref_count_init (&r->ref);
  r->path = g_strdup (path);
  r->display = g_strdup (display);
  g_mutex_init (&r->lock);
  g_mutex_init (&r->state_lock);
  g_cond_init (&r->state_cond);
  return r;
}

static Reader *
reader_ref (Reader *r)
{
  g_atomic_ref_count_inc (&r->ref);
  return r;
}

/* With r->lock held (or the last reference). */
static void
reader_close (Reader *r)
{
  g_clear_pointer (&r->candles, sqlite3_finalize);
  g_clear_pointer (&r->ticks, sqlite3_finalize);
  if (r->db != NULL)
    {
      sqlite3_close_v2 (r->db);
      r->db = NULL;
    }
}

static void
reader_unref (Reader *r)
{
  if (!g_atomic_ref_count_dec (&r->ref))
    return;
  reader_close (r);
  g_mutex_clear (&r->lock);
  g_mutex_clear (&r->state_lock);
  g_cond_clear (&r->state_cond);
  g_free (r->path);
  g_free (r->display);
  g_free (r);
}

static void
reader_set_opened (Reader *r)
{
  g_mutex_lock (&r->state_lock);
  r->opened = TRUE;
  g_cond_broadcast (&r->state_cond);
  g_mutex_unlock (&r->state_lock);
}

#define TH_TYPE_STORE (th_store_get_type ())
G_DECLARE_FINAL_TYPE (ThStore, th_store, TH, STORE, GObject)

struct _ThStore
{
  GObject       parent_instance;
  ThHub        *hub;            /* not a reference: the hub owns its sinks */

  /* Set by configure; the writer only reads them. */
  char         *path;
  char         *display;        /* “/path/history.db” */
  gboolean      keep_ticks;
  guint64       max_queue;
  guint64       max_size;       /* MiB; 0: no bound */
  gint64        retry_interval; /* µs */
  gint64        ticks_keep;     /* µs; 0 keeps for ever */
  gint64        sources_keep;
  Timeframe    *timeframes;
  guint         n_timeframes;
  const char   *live;           /* pooled "live" */

  /* Main thread only. */
  GHashTable   *pool;           /* char* → itself: every string a record names */
  GHashTable   *buckets;        /* pooled symbol → Bucket[n_timeframes] */
  GThread      *thread;
  gboolean      configured;
  gboolean      started;
  gboolean      stopped;
  gboolean      dropping;
  gulong        candle_handler;
  gulong        price_handler;
  guint         retention_id;   /* a deadline on the hub's clock */

  /* Shared with the writer, under lock. */
  GMutex        lock;
  GCond         cond;
  GArray       *incoming;       /* Record: consumed, not yet taken by the writer */
  guint64       consumed;       /* records queued since the start */
  guint64       done;           /* records the writer wrote or gave up on */
  guint64       dropped;        /* records refused: the queue was full */
  guint64       lost;           /* records given up on at stop */
  guint64       lost_reported;
  guint64       n_candles, n_ticks, n_sources, n_deleted, failures;
  ThSourceState state;
  char         *reason;         /* why it is down */
  ThFlushWaiters flushes;       /* done once this many records are written or lost */
  gboolean      writer_idle;
  gboolean      retry_now;      /* a flush came while down: try at once */
  gboolean      quit;

  /* Queries: see Reader. */
  struct _Reader *reader;
  /* The hub, for a dispose that may come after the hub is gone (a query's
   * task can hold the last reference); the clock of the retention. */
  GWeakRef      hub_ref;
  ThClock      *clock;

  /* Writer thread only. */
  sqlite3      *db;
  sqlite3_stmt *stmts[N_STMTS];
  GHashTable   *ids;            /* pooled string → names.id */
  GArray       *pending;        /* Record: taken, not written yet */
  gint64        retention_now;  /* 0: no retention due */
  guint         retention_records; /* REC_RETENTION taken, counted done when it is over */
  gint64        retry_at;       /* monotonic µs */
};

static void th_store_sink_init    (ThSinkInterface    *iface);
static void th_store_history_init (ThHistoryInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThStore, th_store, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_store_sink_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_HISTORY, th_store_history_init))

/* Strings */

static const char *
pool (ThStore    *self,
      const char *str)
{
  char *pooled;

  if (str == NULL)
    return NULL;
  pooled = g_hash_table_lookup (self->pool, str);
  if (pooled == NULL)
    {
      pooled = g_strdup (str);
      g_hash_table_add (self->pool, pooled);
    }
  return pooled;
}

/* The database, in the writer thread */

/* A failure, in words naming the file and the fix. */
static char *
describe_failure (ThStore    *self,
                  int         rc,
                  const char *what)
{
  int sys_errno = self->db != NULL ? sqlite3_system_errno (self->db) : 0;

  switch (rc & 0xff)
    {
    case SQLITE_READONLY:
      return g_strdup_printf ("%s is read-only (%s); make the file and its folder writable by "
                              "tickhubd's user, or set [store] path to another file", self->display, what);
    case SQLITE_FULL:
      return g_strdup_printf ("%s is full (%s); free disk space, raise [store] max-size or "
                              "shorten [store] retention", self->display, what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return g_strdup_printf ("%s is locked by another program (%s); stop the program that "
                              "holds it, or set [store] path to another file", self->display, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return g_strdup_printf ("%s is corrupt or not an SQLite database (%s); move it away "
                              "(the store starts a new one) or repair it with sqlite3's .recover",
                              self->display, what);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return g_strdup_printf ("cannot open %s (%s%s%s); check that its folder exists and is "
                              "writable by tickhubd's user", self->display, what,
                              sys_errno != 0 ? ": " : "", sys_errno != 0 ? g_strerror (sys_errno) : "");
    default:
      return g_strdup_printf ("cannot write to %s (%s)", self->display, what);
    }
}

static gboolean
fail (ThStore     *self,
      int          rc,
      GError     **error)
{
  const char *what = self->db != NULL ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc);
  g_autofree char *msg = describe_failure (self, rc, what);

  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
  return FALSE;
}

static void
close_db (ThStore *self)
{
  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  if (self->db != NULL)
    {
      sqlite3_close_v2 (self->db);
      self->db = NULL;
    }
  g_hash_table_remove_all (self->ids);
}

static gboolean
exec (ThStore     *self,
      const char  *sql,
      GError     **error)
{
  int rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return fail (self, rc, error);
  return TRUE;
}

static gboolean
migrate (ThStore  *self,
         GError  **error)
{
  sqlite3_stmt *stmt = NULL;
  int version = 0;
  int rc;

  rc = sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    version = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    return fail (self, rc, error);

  if (version > SCHEMA_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s has schema version %d, newer than this tickhub's (%d); run a newer "
                   "tickhub, or set [store] path to another file", self->display, version, SCHEMA_VERSION);
      return FALSE;
    }
  if (version == SCHEMA_VERSION)
    return TRUE;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  for (int v = version; v < SCHEMA_VERSION; v++)
    {
      g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", v + 1);

      if (!exec (self, migrations[v], error) || !exec (self, set, error))
        {
          sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
          return FALSE;
        }
    }
  if (!exec (self, "COMMIT", error))
    {
      sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  if (version > 0)
    g_message ("store: %s migrated from schema version %d to %d", self->display, version, SCHEMA_VERSION);
  return TRUE;
}

static gboolean
open_db (ThStore  *self,
         GError  **error)
{
  g_autofree char *dir = g_path_get_dirname (self->path);
  sqlite3_stmt *stmt = NULL;
  gboolean wal = FALSE;
  int rc;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "cannot create the folder of %s: %s; create it, writable by tickhubd's user, "
                   "or set [store] path", self->display, g_strerror (saved_errno));
      return FALSE;
    }

  rc = sqlite3_open_v2 (self->path, &self->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      close_db (self);
      return FALSE;
    }
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* SQLite opens a file it may not write read-only, without a word. */
  if (sqlite3_db_readonly (self->db, "main") == 1)
    {
      g_autofree char *msg = describe_failure (self, SQLITE_READONLY, "it opens for reading only");

      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_READ_ONLY, msg);
      close_db (self);
      return FALSE;
    }

  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    wal = g_ascii_strcasecmp ((const char *) sqlite3_column_text (stmt, 0), "wal") == 0;
  sqlite3_finalize (stmt);
  if (rc != SQLITE_ROW)
    {
      fail (self, rc, error);
      close_db (self);
      return FALSE;
    }
  if (!wal)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "cannot put %s in WAL mode; put it on a local file system that supports "
                   "shared memory, or set [store] path", self->display);
      close_db (self);
      return FALSE;
    }

  /* A 32 MiB page cache, and a checkpoint every 8192 pages (32 MiB of WAL)
   * rather than 1000: twice the ticks per second (bench/store). */
  if (!exec (self, "PRAGMA synchronous = NORMAL", error) || !exec (self, "PRAGMA cache_size = -32768", error) ||
      !exec (self, "PRAGMA wal_autocheckpoint = 8192", error) || !migrate (self, error))
    {
      close_db (self);
      return FALSE;
    }

  if (self->max_size > 0)
    {
      g_autofree char *sql = g_strdup_printf ("PRAGMA max_page_count = %" G_GUINT64_FORMAT,
                                              MAX (self->max_size * 1024 * 1024 / 4096, 8));
      /* max_page_count is per connection: set on every open. */
      if (!exec (self, "PRAGMA page_size = 4096", error) || !exec (self, sql, error))
        {
          close_db (self);
          return FALSE;
        }
    }

  for (guint i = 0; i < N_STMTS; i++)
    {
      rc = sqlite3_prepare_v3 (self->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmts[i], NULL);
      if (rc != SQLITE_OK)
        {
          fail (self, rc, error);
          close_db (self);
          return FALSE;
        }
    }
  return TRUE;
}

/* The names.id of a pooled string, added if new. 0 on failure. */
static sqlite3_int64
name_id (ThStore     *self,
         const char  *name,
         int         *rc)
{
  sqlite3_stmt *stmt;
  sqlite3_int64 id;

  if (name == NULL)
    return 0;
  id = GPOINTER_TO_SIZE (g_hash_table_lookup (self->ids, name));
  if (id != 0)
    return id;

  stmt = self->stmts[STMT_NAME_ID];
  sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  *rc = sqlite3_step (stmt);
  if (*rc == SQLITE_ROW)
    id = sqlite3_column_int64 (stmt, 0);
  sqlite3_reset (stmt);
  if (*rc != SQLITE_ROW && *rc != SQLITE_DONE)
    return 0;

  if (id == 0)
    {
      stmt = self->stmts[STMT_NAME_ADD];
      sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
      *rc = sqlite3_step (stmt);
      sqlite3_reset (stmt);
      if (*rc != SQLITE_DONE)
        return 0;
      id = sqlite3_last_insert_rowid (self->db);
    }
  *rc = SQLITE_OK;
  /* Only once the transaction commits is the id for good: write_batch()
   * forgets them all when it rolls back. */
  g_hash_table_insert (self->ids, (gpointer) name, GSIZE_TO_POINTER ((gsize) id));
  return id;
}

static void
bind_id (sqlite3_stmt  *stmt,
         int            col,
         sqlite3_int64  id)
{
  if (id != 0)
    sqlite3_bind_int64 (stmt, col, id);
  else
    sqlite3_bind_null (stmt, col);
}

static void
bind_number (sqlite3_stmt *stmt,
             int           col,
             double        value)
{
  if (isfinite (value))
    sqlite3_bind_double (stmt, col, value);
  else
    sqlite3_bind_null (stmt, col);
}

static int
write_record (ThStore      *self,
              const Record *r,
              guint64      *counts)
{
  sqlite3_stmt *stmt;
  sqlite3_int64 symbol, source, other = 0;
  int rc = SQLITE_OK;

  symbol = name_id (self, r->symbol, &rc);
  if (rc != SQLITE_OK)
    return rc;
  source = name_id (self, r->source, &rc);
  if (rc != SQLITE_OK)
    return rc;
  if (r->kind != REC_TICK)
    {
      other = name_id (self, r->other, &rc);
      if (rc != SQLITE_OK)
        return rc;
    }

  switch (r->kind)
    {
    case REC_CANDLE:
      if (r->tick_kind == 1)
        {
          stmt = self->stmts[STMT_CANDLE_BACKFILL];
          sqlite3_bind_int64 (stmt, 1, symbol);
          sqlite3_bind_int64 (stmt, 2, r->duration);
          sqlite3_bind_int64 (stmt, 3, r->time);
          sqlite3_bind_double (stmt, 4, r->open);
          sqlite3_bind_double (stmt, 5, r->high);
          sqlite3_bind_double (stmt, 6, r->low);
          sqlite3_bind_double (stmt, 7, r->close);
          bind_number (stmt, 8, r->volume);
          if (r->trades >= 0)
            sqlite3_bind_int64 (stmt, 9, r->trades);
          else
            sqlite3_bind_null (stmt, 9);
          sqlite3_bind_int64 (stmt, 10, r->ticks);
          bind_id (stmt, 11, source);
          sqlite3_bind_int64 (stmt, 12, other);
          break;
        }
      stmt = self->stmts[STMT_CANDLE];
      sqlite3_bind_int64 (stmt, 1, symbol);
      sqlite3_bind_int64 (stmt, 2, r->duration);
      sqlite3_bind_int64 (stmt, 3, r->time);
      sqlite3_bind_double (stmt, 4, r->open);
      sqlite3_bind_double (stmt, 5, r->high);
      sqlite3_bind_double (stmt, 6, r->low);
      sqlite3_bind_double (stmt, 7, r->close);
      bind_number (stmt, 8, r->volume);
      sqlite3_bind_int64 (stmt, 9, r->ticks);
      bind_id (stmt, 10, source);
      sqlite3_bind_int64 (stmt, 11, other);
      break;
    case REC_TICK:
      stmt = self->stmts[STMT_TICK];
      sqlite3_bind_int64 (stmt, 1, symbol);
      sqlite3_bind_int64 (stmt, 2, r->time);
      sqlite3_bind_int64 (stmt, 3, r->received);
      sqlite3_bind_int64 (stmt, 4, source);
      sqlite3_bind_int (stmt, 5, r->tick_kind);
      sqlite3_bind_double (stmt, 6, r->open);
      bind_number (stmt, 7, r->volume);
      bind_number (stmt, 8, r->high);
      bind_number (stmt, 9, r->low);
      break;
    case REC_SOURCE:
      stmt = self->stmts[STMT_SOURCE];
      sqlite3_bind_int64 (stmt, 1, symbol);
      sqlite3_bind_int64 (stmt, 2, r->time);
      bind_id (stmt, 3, source);
      bind_id (stmt, 4, other);
      break;
    case REC_RETENTION:
    default:
      return SQLITE_OK;
    }

  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    return rc;
  counts[r->kind]++;
  return SQLITE_OK;
}

/* Writes @records in one transaction; opens the database first if needed.
 * On failure nothing of it is written. */
static gboolean
write_batch (ThStore *self,
             GArray  *records,
             guint64 *counts,
             GError **error)
{
  int rc;

  if (self->db == NULL && !open_db (self, error))
    return FALSE;
  if (records->len == 0)
    return TRUE;

  if (!exec (self, "BEGIN IMMEDIATE", error))
    return FALSE;
  for (guint i = 0; i < records->len; i++)
    {
      rc = write_record (self, &g_array_index (records, Record, i), counts);
      if (rc != SQLITE_OK)
        goto failed;
    }
  rc = sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    goto failed;
  return TRUE;

failed:
  fail (self, rc, error);
  sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
  memset (counts, 0, sizeof (guint64) * 3);
  g_hash_table_remove_all (self->ids);
  return FALSE;
}

/* One DELETE of at most RETENTION_BATCH rows, in its own transaction,
 * of the kind *@step says (0 ticks, 1 source changes, 2 + i timeframe i),
 * moving on to the next kind once one has nothing old left. Returns 1 while
 * there is more to do, 0 when the retention is over, -1 on failure. */
static int
retention_step (ThStore  *self,
                guint    *step,
                guint64  *deleted,
                GError  **error)
{
  gint64 now = self->retention_now;
  sqlite3_stmt *stmt = NULL;
  int rc, changes;

  for (; *step < 2 + self->n_timeframes; (*step)++)
    {
      gint64 keep;

      if (*step == 0)
        keep = self->ticks_keep;
      else if (*step == 1)
        keep = self->sources_keep;
      else
        keep = self->timeframes[*step - 2].keep;
      if (keep > 0 && now - keep > 0)
        break;
    }
  if (*step >= 2 + self->n_timeframes)
    return 0;

  if (*step == 0 || *step == 1)
    {
      stmt = self->stmts[*step == 0 ? STMT_DELETE_TICKS : STMT_DELETE_SOURCES];
      sqlite3_bind_int64 (stmt, 1, now - (*step == 0 ? self->ticks_keep : self->sources_keep));
      sqlite3_bind_int (stmt, 2, RETENTION_BATCH);
    }
  else
    {
      const Timeframe *tf = &self->timeframes[*step - 2];

      stmt = self->stmts[STMT_DELETE_CANDLES];
      sqlite3_bind_int64 (stmt, 1, tf->duration);
      sqlite3_bind_int64 (stmt, 2, now - tf->keep);
      sqlite3_bind_int (stmt, 3, RETENTION_BATCH);
    }

  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      return -1;
    }
  changes = sqlite3_changes (self->db);
  *deleted += (guint64) MAX (changes, 0);
  if (changes < RETENTION_BATCH)
    (*step)++;
  return 1;
}

/* Flushes */

/* With the lock held: hands back every flush whose records are all
 * written (or given up on); with @all, every flush. */
static void
complete_flushes (ThStore  *self,
                  gboolean  all)
{
  g_autoptr(GError) error = NULL;

  if (self->lost > self->lost_reported && th_flush_waiters_any_due (&self->flushes, self->done, all))
    {
      guint64 n = self->lost - self->lost_reported;

      error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                           "store: %" G_GUINT64_FORMAT " record%s could not be written: %s",
                           n, n == 1 ? "" : "s", self->reason != NULL ? self->reason : "stopped");
      self->lost_reported = self->lost;
    }
  th_flush_waiters_complete (&self->flushes, self->done, all, error);
}

/* With the lock held, the store down: every flush fails, saying how
 * much is not written yet and why. The records stay queued. */
static void
fail_flushes (ThStore *self)
{
  g_autoptr(GError) error = NULL;
  guint64 waiting = self->consumed - self->done;

  if (!th_flush_waiters_any_due (&self->flushes, 0, TRUE))
    return;
  error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                       "store: %" G_GUINT64_FORMAT " record%s not written: %s",
                       waiting, waiting == 1 ? "" : "s", self->reason);
  th_flush_waiters_complete (&self->flushes, 0, TRUE, error);
}

/* The writer thread */

/* With the lock held. */
static void
set_state (ThStore       *self,
           ThSourceState  state,
           const char    *reason)
{
  gboolean was_down = self->state == TH_SOURCE_STATE_DOWN;
  gboolean changed = self->state != state || g_strcmp0 (self->reason, reason) != 0;

  self->state = state;
  g_free (self->reason);
  self->reason = g_strdup (reason);
  if (state != TH_SOURCE_STATE_CONNECTING && self->reader != NULL)
    reader_set_opened (self->reader);

  if (!changed)
    return;
  if (state == TH_SOURCE_STATE_DOWN)
    g_warning ("store: down: %s; live data goes on, the store keeps what it could not write "
               "(up to [store] max-queue records) and retries", reason);
  else if (state == TH_SOURCE_STATE_LIVE && was_down)
    g_message ("store: writing to %s again", self->display);
}

static gpointer
writer_thread (gpointer data)
{
  ThStore *self = data;
  guint retention_step_at = 0;

  g_mutex_lock (&self->lock);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint64 counts[3] = { 0, 0, 0 };
      guint64 deleted = 0;
      gboolean down = self->state == TH_SOURCE_STATE_DOWN;
      gboolean work = self->incoming->len > 0 || self->pending->len > 0 || self->retention_now != 0 ||
                      self->db == NULL;
      gboolean ok;
      guint n;

      complete_flushes (self, FALSE);

      if (!work && self->quit)
        break;
      if (!work)
        {
          self->writer_idle = TRUE;
          g_cond_wait (&self->cond, &self->lock);
          self->writer_idle = FALSE;
          continue;
        }
      if (down && !self->quit && !self->retry_now && g_get_monotonic_time () < self->retry_at)
        {
          g_cond_wait_until (&self->cond, &self->lock, self->retry_at);
          continue;
        }
      self->retry_now = FALSE;

      /* Retention records only say when: keep the latest. */
      for (guint i = 0; i < self->incoming->len; i++)
        {
          Record *r = &g_array_index (self->incoming, Record, i);

          if (r->kind == REC_RETENTION)
            {
              self->retention_now = r->time;
              self->retention_records++;
              retention_step_at = 0;
            }
          else
            g_array_append_vals (self->pending, r, 1);
        }
      g_array_set_size (self->incoming, 0);
      g_mutex_unlock (&self->lock);

      n = self->pending->len;
      ok = write_batch (self, self->pending, counts, &error);
      if (ok && self->retention_now != 0)
        {
          /* A few small deletes, then the queue again. */
          for (guint i = 0; i < 8 && self->retention_now != 0; i++)
            {
              int r = retention_step (self, &retention_step_at, &deleted, &error);

              if (r < 0)
                ok = FALSE;
              if (r <= 0)
                {
                  self->retention_now = 0;
                  break;
                }
            }
        }

      g_mutex_lock (&self->lock);
      if (ok)
        {
          self->done += n;
          if (self->retention_now == 0)
            {
              self->done += self->retention_records;
              self->retention_records = 0;
            }
          self->n_candles += counts[REC_CANDLE];
          self->n_ticks += counts[REC_TICK];
          self->n_sources += counts[REC_SOURCE];
          self->n_deleted += deleted;
          g_array_set_size (self->pending, 0);
          if (self->state != TH_SOURCE_STATE_LIVE)
            set_state (self, TH_SOURCE_STATE_LIVE, NULL);
          continue;
        }

      self->failures++;
      self->n_deleted += deleted;
      set_state (self, TH_SOURCE_STATE_DOWN, error->message);
      /* Whoever waits for a flush learns it now, not at the next retry. */
      fail_flushes (self);
      /* Reopened at the next try: a file moved away, unlocked or made
       * writable is seen afresh. */
      g_mutex_unlock (&self->lock);
      close_db (self);
      g_mutex_lock (&self->lock);
      self->retry_at = g_get_monotonic_time () + self->retry_interval;
      if (self->quit)
        {
          /* One last try, and it failed: what is left is lost. */
          self->lost += self->pending->len;
          self->done += self->pending->len + self->retention_records;
          g_array_set_size (self->pending, 0);
          self->retention_now = 0;
          self->retention_records = 0;
          break;
        }
    }

  complete_flushes (self, TRUE);
  g_mutex_unlock (&self->lock);
  close_db (self);
  return NULL;
}

/* Queueing, in the main thread */

static void
queue_record (ThStore      *self,
              const Record *record)
{
  gboolean full;

  g_mutex_lock (&self->lock);
  full = self->consumed - self->done >= self->max_queue && record->kind != REC_RETENTION;
  if (!full)
    {
      g_array_append_vals (self->incoming, record, 1);
      self->consumed++;
      if (self->writer_idle)
        {
          self->writer_idle = FALSE;
          g_cond_signal (&self->cond);
        }
    }
  else
    self->dropped++;
  g_mutex_unlock (&self->lock);

  if (full && !self->dropping)
    {
      self->dropping = TRUE;
      g_warning ("store: the queue is full (%" G_GUINT64_FORMAT " records), dropping records; "
                 "%s takes them slower than they come or is down", self->max_queue, self->display);
    }
  else if (!full && self->dropping)
    self->dropping = FALSE;
}

static guint
timeframe_index (ThStore    *self,
                 const char *timeframe)
{
  for (guint t = 0; t < self->n_timeframes; t++)
    if (g_str_equal (self->timeframes[t].name, timeframe))
      return t;
  return G_MAXUINT;
}

static Bucket *
buckets_of (ThStore    *self,
            const char *symbol)
{
  Bucket *b = g_hash_table_lookup (self->buckets, symbol);

  if (b == NULL)
    {
      b = g_new0 (Bucket, self->n_timeframes);
      for (guint t = 0; t < self->n_timeframes; t++)
        b[t].cur_start = b[t].prev_start = G_MININT64;
      g_hash_table_insert (self->buckets, (gpointer) pool (self, symbol), b);
    }
  return b;
}

static void
on_candle_closed (ThHub          *hub,
                  const char     *symbol,
                  const char     *timeframe,
                  const ThCandle *candle,
                  ThStore        *self)
{
  guint t = timeframe_index (self, timeframe);
  Bucket *b;
  Record r = { 0 };

  if (t == G_MAXUINT)
    return;
  b = buckets_of (self, symbol);

  r.kind = REC_CANDLE;
  r.symbol = pool (self, symbol);
  r.other = self->live;
  r.duration = candle->duration;
  r.time = candle->start;
  r.open = candle->open;
  r.high = candle->high;
  r.low = candle->low;
  r.close = candle->close;
  r.volume = candle->volume;
  r.ticks = candle->ticks;
  /* The source of the period's latest tick; none for a flat fill. */
  if (candle->ticks > 0)
    r.source = candle->start == b[t].cur_start ? b[t].cur_source
             : candle->start == b[t].prev_start ? b[t].prev_source : NULL;
  queue_record (self, &r);
}

static void
on_price_changed (ThHub        *hub,
                  const char   *symbol,
                  const ThTick *tick,
                  ThStore      *self)
{
  Bucket *b = buckets_of (self, symbol);
  const char *source = pool (self, tick->source);

  for (guint t = 0; t < self->n_timeframes; t++)
    {
      gint64 d = self->timeframes[t].duration;
      gint64 start = tick->exchange_time - (((tick->exchange_time % d) + d) % d);

      if (start > b[t].cur_start)
        {
          b[t].prev_start = b[t].cur_start;
          b[t].prev_source = b[t].cur_source;
          b[t].cur_start = start;
          b[t].cur_source = source;
        }
      else if (start == b[t].cur_start)
        b[t].cur_source = source;
    }

  if (self->keep_ticks)
    {
      Record r = { 0 };

      r.kind = REC_TICK;
      r.symbol = pool (self, symbol);
      r.source = source;
      r.tick_kind = tick->kind;
      r.time = tick->exchange_time;
      r.received = tick->receive_time;
      r.open = tick->price;
      r.high = tick->bid;
      r.low = tick->ask;
      r.volume = tick->kind == TH_TICK_KIND_TRADE ? tick->size : NAN;
      queue_record (self, &r);
    }
}

static gboolean
on_retention_due (gpointer data)
{
  ThStore *self = data;
  ThClock *clock = self->clock;
  gint64 now = th_clock_get_time (clock);
  Record r = { 0 };

  r.kind = REC_RETENTION;
  r.time = now;
  queue_record (self, &r);
  self->retention_id = th_clock_add_deadline (clock, now + RETENTION_PERIOD, on_retention_due, self, NULL);
  return G_SOURCE_REMOVE;
}

/* Configuration */

/* `7d`, `90d`, `10y`, `12h`, `30m`, `45s`, `2w`; `forever` or 0 keeps. */
static gboolean
parse_keep (const char *text,
            gint64     *keep)
{
  guint64 n;
  gint64 unit;
  gsize len = strlen (text);
  g_autofree char *digits = NULL;

  if (g_str_equal (text, "forever") || g_str_equal (text, "0"))
    {
      *keep = 0;
      return TRUE;
    }
  if (len < 2)
    return FALSE;
  switch (text[len - 1])
    {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    case 'y': unit = 365 * 86400; break;
    default: return FALSE;
    }
  digits = g_strndup (text, len - 1);
  if (!g_ascii_isdigit (digits[0]) || !g_ascii_string_to_unsigned (digits, 10, 1, 1000 * 365, &n, NULL) ||
      n * unit > G_GUINT64_CONSTANT (1000) * 365 * 86400)
    return FALSE;
  *keep = (gint64) n * unit * G_USEC_PER_SEC;
  return TRUE;
}

static void
parse_retention (ThStore   *self,
                 ThConfig  *config,
                 GPtrArray *problems)
{
  g_auto(GStrv) items = th_config_get_string_list (config, "store", "retention");
  g_autofree char *names = NULL;
  GString *known = g_string_new ("ticks, sources, candles");
  gint64 candles_keep = 0;
  gboolean *set = g_new0 (gboolean, self->n_timeframes);

  for (guint t = 0; t < self->n_timeframes; t++)
    g_string_append_printf (known, ", %s", self->timeframes[t].name);
  names = g_string_free (known, FALSE);

  self->ticks_keep = DEFAULT_TICKS_KEEP;
  self->sources_keep = 0;
  for (guint i = 0; items != NULL && items[i] != NULL; i++)
    {
      const char *colon = strchr (items[i], ':');
      g_autofree char *kind = colon != NULL ? g_strstrip (g_strndup (items[i], colon - items[i])) : NULL;
      g_autofree char *value = colon != NULL ? g_strstrip (g_strdup (colon + 1)) : NULL;
      gint64 keep;
      guint t = G_MAXUINT;

      if (kind == NULL)
        {
          g_ptr_array_add (problems,
                           g_strdup_printf ("[store] retention: “%s” is not kind:age; write it like "
                                            "retention=ticks:7d;1m:90d;1h:10y", items[i]));
          continue;
        }
      if (!parse_keep (value, &keep))
        {
          g_ptr_array_add (problems,
                           g_strdup_printf ("[store] retention: “%s” for %s is not an age; use a number and "
                                            "s, m, h, d, w or y (such as 90d or 10y), or forever",
                                            value, kind));
          continue;
        }
      if (g_str_equal (kind, "ticks"))
        self->ticks_keep = keep;
      else if (g_str_equal (kind, "sources"))
        self->sources_keep = keep;
      else if (g_str_equal (kind, "candles"))
        candles_keep = keep;
      else if ((t = timeframe_index (self, kind)) != G_MAXUINT)
        {
          self->timeframes[t].keep = keep;
          set[t] = TRUE;
        }
      else
        g_ptr_array_add (problems,
                         g_strdup_printf ("[store] retention: unknown kind “%s”; the kinds are %s "
                                          "(the timeframes of [tickhub] timeframes)", kind, names));
    }
  for (guint t = 0; t < self->n_timeframes; t++)
    if (!set[t])
      self->timeframes[t].keep = candles_keep;
  g_free (set);
}

static gboolean
th_store_configure (ThSink  *sink,
                    GError **error)
{
  ThStore *self = TH_STORE (sink);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) timeframes = NULL;
  g_autofree char *path = NULL;
  ThConfig *config;
  gint64 max_queue, max_size;
  double retry;

  if (self->hub == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_PLUGIN, "[store]: the sink was created without a hub");
      return FALSE;
    }
  if (self->started || self->stopped)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_PLUGIN, "[store]: the sink is configured before it starts, not after");
      return FALSE;
    }
  config = th_hub_get_config (self->hub);

  for (guint t = 0; t < self->n_timeframes; t++)
    g_free (self->timeframes[t].name);
  g_clear_pointer (&self->timeframes, g_free);
  timeframes = th_hub_list_timeframes (self->hub);
  self->n_timeframes = g_strv_length (timeframes);
  self->timeframes = g_new0 (Timeframe, self->n_timeframes);
  for (guint t = 0; t < self->n_timeframes; t++)
    {
      self->timeframes[t].name = g_strdup (timeframes[t]);
      th_parse_timeframe (timeframes[t], &self->timeframes[t].duration, NULL);
    }

  self->keep_ticks = th_config_get_boolean (config, "store", "ticks", FALSE);

  /* Malformed numbers are the hub's to report (X-Tickhub-Config types). */
  max_queue = th_config_get_int (config, "store", "max-queue", DEFAULT_MAX_QUEUE);
  if (max_queue == 0)
    g_ptr_array_add (problems,
                     g_strdup_printf ("[store] max-queue: 0 would drop every record; give at least 1000 "
                                      "(the default is %d)", DEFAULT_MAX_QUEUE));
  self->max_queue = max_queue > 0 ? (guint64) max_queue : DEFAULT_MAX_QUEUE;

  max_size = th_config_get_int (config, "store", "max-size", 0);
  self->max_size = max_size > 0 ? (guint64) max_size : 0;

  retry = th_config_get_double (config, "store", "retry-interval", DEFAULT_RETRY_INTERVAL);
  if (th_config_has_key (config, "store", "retry-interval") && !(retry >= 0.01 && retry <= 3600))
    g_ptr_array_add (problems,
                     g_strdup ("[store] retry-interval: give a number of seconds from 0.01 to 3600 "
                               "(the default is 5)"));
  self->retry_interval = (gint64) (CLAMP (retry, 0.01, 3600) * G_USEC_PER_SEC);

  parse_retention (self, config, problems);

  path = th_config_get_string (config, "store", "path", NULL);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->display, g_free);
  if (path == NULL)
    self->path = g_build_filename (g_get_user_state_dir (), "tickhub", "history.db", NULL);
  else
    {
      /* Relative to the config file's folder, as [jsonl] path. */
      const char *config_path = th_config_get_path (config);
      g_autofree char *config_full = config_path != NULL ? g_canonicalize_filename (config_path, NULL) : NULL;
      g_autofree char *dir = config_full != NULL ? g_path_get_dirname (config_full) : NULL;

      self->path = g_canonicalize_filename (path, dir);
      if (g_file_test (self->path, G_FILE_TEST_IS_DIR))
        g_ptr_array_add (problems,
                         g_strdup_printf ("[store] path: “%s” is a folder; give a file in it, such as %s/history.db",
                                          self->path, self->path));
    }
  self->display = g_strdup_printf ("“%s”", self->path);

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  g_clear_pointer (&self->reader, reader_unref);
  self->reader = reader_new (self->path, self->display);
  g_weak_ref_set (&self->hub_ref, self->hub);
  g_set_object (&self->clock, th_hub_get_clock (self->hub));
  self->configured = TRUE;
  th_hub_set_history (self->hub, TH_HISTORY (self));
  return TRUE;
}

/* Running */

static void
th_store_start (ThSink *sink)
{
  ThStore *self = TH_STORE (sink);
  g_autoptr(GError) error = NULL;

  if (!self->configured || self->started || self->stopped)
    return;
  self->started = TRUE;

  self->thread = g_thread_try_new ("th-store", writer_thread, self, &error);
  if (self->thread == NULL)
    {
      g_warning ("store: cannot start the writer thread: %s; no history will be kept", error->message);
      g_mutex_lock (&self->lock);
      set_state (self, TH_SOURCE_STATE_DOWN, "the writer thread could not start");
      g_mutex_unlock (&self->lock);
      return;
    }

  self->candle_handler = g_signal_connect (self->hub, "candle-closed", G_CALLBACK (on_candle_closed), self);
  self->price_handler = g_signal_connect (self->hub, "price-changed", G_CALLBACK (on_price_changed), self);
  on_retention_due (self);
}

static void
th_store_consume (ThSink  *sink,
                  ThEvent *event)
{
  ThStore *self = TH_STORE (sink);
  JsonObject *data;
  Record r = { 0 };

  if (self->thread == NULL || self->stopped)
    return;
  if (!g_str_equal (th_event_get_name (event), "price_source_changed"))
    return;

  data = json_node_get_object (th_event_get_data (event));
  r.kind = REC_SOURCE;
  r.symbol = pool (self, json_object_get_string_member_with_default (data, "symbol", NULL));
  r.source = pool (self, json_object_get_string_member_with_default (data, "from", NULL));
  r.other = pool (self, json_object_get_string_member_with_default (data, "to", NULL));
  r.time = th_clock_get_time (self->clock);
  if (r.symbol != NULL)
    queue_record (self, &r);
}

static void
th_store_flush_async (ThSink              *sink,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  ThStore *self = TH_STORE (sink);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, th_store_flush_async);
  g_task_set_name (task, "[store] flush");

  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->thread == NULL || self->stopped)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_mutex_lock (&self->lock);
  th_flush_waiters_add (&self->flushes, g_steal_pointer (&task), cancellable, self->consumed);
  /* Down: try again now rather than at the next retry. */
  self->retry_now = TRUE;
  self->writer_idle = FALSE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

static gboolean
th_store_flush_finish (ThSink        *sink,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, sink), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == th_store_flush_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Ends the writer: what is queued is written (one last try when the
 * database is down), the rest counted. Safe to call more than once. */
static void
stop_writer (ThStore *self)
{
  g_autoptr(ThHub) hub = NULL;

  if (self->stopped)
    return;
  self->stopped = TRUE;

  if (self->retention_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->retention_id);
      self->retention_id = 0;
    }
  /* A hub that is gone took its handlers with it. */
  hub = g_weak_ref_get (&self->hub_ref);
  if (hub != NULL)
    {
      g_clear_signal_handler (&self->candle_handler, hub);
      g_clear_signal_handler (&self->price_handler, hub);
    }
  if (self->thread == NULL)
    return;

  g_mutex_lock (&self->lock);
  self->quit = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  g_thread_join (g_steal_pointer (&self->thread));

  g_mutex_lock (&self->lock);
  if (self->lost > 0 || self->dropped > 0)
    g_warning ("store: %s: %" G_GUINT64_FORMAT " candles, %" G_GUINT64_FORMAT " ticks and %"
               G_GUINT64_FORMAT " source changes written; %" G_GUINT64_FORMAT " records dropped because "
               "the queue was full, %" G_GUINT64_FORMAT " not written at stop: %s",
               self->display, self->n_candles, self->n_ticks, self->n_sources, self->dropped, self->lost,
               self->reason != NULL ? self->reason : "stopped");
  else
    g_message ("store: %s: %" G_GUINT64_FORMAT " candles, %" G_GUINT64_FORMAT " ticks and %"
               G_GUINT64_FORMAT " source changes written, nothing dropped or lost", self->display,
               self->n_candles, self->n_ticks, self->n_sources);
  self->state = TH_SOURCE_STATE_DISABLED;
  g_free (self->reason);
  self->reason = g_strdup ("stopped");
  g_mutex_unlock (&self->lock);
}

static void
th_store_stop (ThSink *sink)
{
  stop_writer (TH_STORE (sink));
}

static void
th_store_sink_init (ThSinkInterface *iface)
{
  iface->configure = th_store_configure;
  iface->start = th_store_start;
  iface->consume = th_store_consume;
  iface->flush_async = th_store_flush_async;
  iface->flush_finish = th_store_flush_finish;
  iface->stop = th_store_stop;
}

/* ThHistory */

static ThSourceState
th_store_get_state (ThHistory  *history,
                    char      **reason)
{
  ThStore *self = TH_STORE (history);
  ThSourceState state;

  g_mutex_lock (&self->lock);
  state = self->state;
  if (reason != NULL)
    *reason = state != TH_SOURCE_STATE_LIVE ? g_strdup (self->reason) : NULL;
  g_mutex_unlock (&self->lock);
  return state;
}

static GVariant *
th_store_get_stats (ThHistory *history)
{
  ThStore *self = TH_STORE (history);
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_mutex_lock (&self->lock);
  if (self->path != NULL)
    g_variant_dict_insert (&dict, "path", "s", self->path);
  g_variant_dict_insert (&dict, "candles", "t", self->n_candles);
  g_variant_dict_insert (&dict, "ticks", "t", self->n_ticks);
  g_variant_dict_insert (&dict, "source_changes", "t", self->n_sources);
  g_variant_dict_insert (&dict, "deleted", "t", self->n_deleted);
  g_variant_dict_insert (&dict, "queued", "t", self->consumed - self->done);
  g_variant_dict_insert (&dict, "dropped", "t", self->dropped);
  g_variant_dict_insert (&dict, "lost", "t", self->lost);
  g_variant_dict_insert (&dict, "failures", "t", self->failures);
  g_mutex_unlock (&self->lock);
  return g_variant_dict_end (&dict);
}

/* Queries: in a thread of GTask's pool, on the store's read-only
 * connection (WAL lets it read while the writer writes). */

typedef struct
{
  Reader   *reader;
  char     *symbol;
  gint64    duration;
  gint64    from;
  gint64    to;
  guint     limit;
  gboolean  running;    /* the writer runs: wait for its first open */
} Query;

/* How long a query waits for the writer to open (and create or migrate)
 * the database, right after the start. */
#define FIRST_OPEN_WAIT (5 * G_USEC_PER_SEC)

/* Right after the start the writer may not have created the tables yet:
 * a query waits for its first open, so that it finds an empty store, not
 * a missing table. */
static void
wait_first_open (Query *q)
{
  gint64 deadline = g_get_monotonic_time () + FIRST_OPEN_WAIT;
  Reader *r = q->reader;

  if (!q->running)
    return;
  g_mutex_lock (&r->state_lock);
  while (!r->opened && g_cond_wait_until (&r->state_cond, &r->state_lock, deadline))
    ;
  g_mutex_unlock (&r->state_lock);
}

static void
query_free (Query *q)
{
  reader_unref (q->reader);
  g_free (q->symbol);
  g_free (q);
}

/* Turns an array that came newest first round, oldest first. */
static void
reverse (GPtrArray *array)
{
  for (guint i = 0, j = array->len > 0 ? array->len - 1 : 0; i < j; i++, j--)
    {
      gpointer tmp = array->pdata[i];

      array->pdata[i] = array->pdata[j];
      array->pdata[j] = tmp;
    }
}

/* With r->lock held. */
static gboolean
reader_open (Reader  *r,
             GError **error)
{
  int rc;

  if (r->db != NULL)
    return TRUE;
  rc = sqlite3_open_v2 (r->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_busy_timeout (r->db, BUSY_TIMEOUT_MS);
      rc = sqlite3_prepare_v3 (r->db,
                               "SELECT c.start, c.duration, c.open, c.high, c.low, c.close, c.volume, c.ticks "
                               "FROM candles c JOIN names n ON n.id = c.symbol "
                               "WHERE n.name = ?1 AND c.duration = ?2 AND c.start >= ?3 AND c.start < ?4 "
                               "ORDER BY c.start DESC LIMIT ?5",
                               -1, SQLITE_PREPARE_PERSISTENT, &r->candles, NULL);
    }
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3 (r->db,
                             "SELECT t.time, t.received, s.name, t.kind, t.price, t.size, t.bid, t.ask "
                             "FROM ticks t JOIN names s ON s.id = t.source "
                             "WHERE t.symbol = (SELECT id FROM names WHERE name = ?1) "
                             "AND t.time >= ?2 AND t.time < ?3 "
                             "ORDER BY t.time DESC LIMIT ?4",
                             -1, SQLITE_PREPARE_PERSISTENT, &r->ticks, NULL);
  if (rc != SQLITE_OK)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store cannot read %s: %s",
                   r->display, r->db != NULL ? sqlite3_errmsg (r->db) : sqlite3_errstr (rc));
      reader_close (r);
      return FALSE;
    }
  return TRUE;
}

/* The outer task is the store's, completed in the caller's context by the
 * inner one, which runs in a thread and holds only the Query. */
static void
on_query_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  GError *error = NULL;
  GPtrArray *items = g_task_propagate_pointer (G_TASK (result), &error);

  if (items == NULL)
    g_task_return_error (outer, error);
  else
    g_task_return_pointer (outer, items, (GDestroyNotify) g_ptr_array_unref);
}

static void
run_query (GTask          *outer,
           Query          *q,
           GTaskThreadFunc func)
{
  g_autoptr(GTask) inner = g_task_new (NULL, g_task_get_cancellable (outer), on_query_done, g_object_ref (outer));

  g_task_set_source_tag (inner, run_query);
  g_task_set_name (inner, g_task_get_name (outer));
  g_task_set_task_data (inner, q, (GDestroyNotify) query_free);
  g_task_run_in_thread (inner, func);
}

static void
query_candles_thread (GTask        *task,
                      gpointer      source_object,
                      gpointer      task_data,
                      GCancellable *cancellable)
{
  Query *q = task_data;
  Reader *r = q->reader;
  g_autoptr(GPtrArray) candles = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  GError *error = NULL;
  sqlite3_stmt *stmt;
  int rc;

  wait_first_open (q);
  g_mutex_lock (&r->lock);
  if (!reader_open (r, &error))
    {
      g_mutex_unlock (&r->lock);
      g_task_return_error (task, error);
      return;
    }
  stmt = r->candles;
  sqlite3_bind_text (stmt, 1, q->symbol, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, q->duration);
  sqlite3_bind_int64 (stmt, 3, q->from);
  sqlite3_bind_int64 (stmt, 4, q->to);
  sqlite3_bind_int64 (stmt, 5, q->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      ThCandle *c = th_candle_new (sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                                   sqlite3_column_double (stmt, 2), sqlite3_column_double (stmt, 3),
                                   sqlite3_column_double (stmt, 4), sqlite3_column_double (stmt, 5),
                                   sqlite3_column_type (stmt, 6) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 6));

      c->ticks = (guint) sqlite3_column_int64 (stmt, 7);
      c->closed = TRUE;
      g_ptr_array_add (candles, c);
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    {
      g_set_error (&error, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store cannot read %s: %s",
                   r->display, sqlite3_errmsg (r->db));
      /* Opened afresh next time: the file may have been replaced. */
      reader_close (r);
    }
  g_mutex_unlock (&r->lock);

  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Newest first from the index: turned round, oldest first. */
  reverse (candles);
  g_task_return_pointer (task, g_steal_pointer (&candles), (GDestroyNotify) g_ptr_array_unref);
}

static void
th_store_query_candles_async (ThHistory           *history,
                              const char          *symbol,
                              gint64               duration,
                              gint64               from,
                              gint64               to,
                              guint                limit,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ThStore *self = TH_STORE (history);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Query *q;

  g_task_set_source_tag (task, th_store_query_candles_async);
  g_task_set_name (task, "[store] query candles");
  if (self->reader == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store is not configured");
      return;
    }
  q = g_new0 (Query, 1);
  q->reader = reader_ref (self->reader);
  q->symbol = g_strdup (symbol);
  q->duration = duration;
  q->from = from;
  q->to = to;
  q->limit = limit;
  q->running = self->thread != NULL && !self->stopped;
  run_query (task, q, query_candles_thread);
}

static GPtrArray *
th_store_query_candles_finish (ThHistory     *history,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, history), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
query_ticks_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  Query *q = task_data;
  Reader *r = q->reader;
  g_autoptr(GPtrArray) ticks = g_ptr_array_new_with_free_func ((GDestroyNotify) th_tick_unref);
  GError *error = NULL;
  sqlite3_stmt *stmt;
  int rc;

  wait_first_open (q);
  g_mutex_lock (&r->lock);
  if (!reader_open (r, &error))
    {
      g_mutex_unlock (&r->lock);
      g_task_return_error (task, error);
      return;
    }
  stmt = r->ticks;
  sqlite3_bind_text (stmt, 1, q->symbol, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, q->from);
  sqlite3_bind_int64 (stmt, 3, q->to);
  sqlite3_bind_int64 (stmt, 4, q->limit);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      ThTick *t = th_tick_new (q->symbol, (const char *) sqlite3_column_text (stmt, 2),
                               sqlite3_column_int (stmt, 3) == TH_TICK_KIND_TRADE ? TH_TICK_KIND_TRADE
                                                                                  : TH_TICK_KIND_QUOTE,
                               sqlite3_column_double (stmt, 4), sqlite3_column_int64 (stmt, 0));

      t->receive_time = sqlite3_column_int64 (stmt, 1);
      t->size = sqlite3_column_type (stmt, 5) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 5);
      t->bid = sqlite3_column_type (stmt, 6) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 6);
      t->ask = sqlite3_column_type (stmt, 7) == SQLITE_NULL ? NAN : sqlite3_column_double (stmt, 7);
      g_ptr_array_add (ticks, t);
    }
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (rc != SQLITE_DONE)
    {
      g_set_error (&error, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store cannot read %s: %s",
                   r->display, sqlite3_errmsg (r->db));
      reader_close (r);
    }
  g_mutex_unlock (&r->lock);

  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  reverse (ticks);
  g_task_return_pointer (task, g_steal_pointer (&ticks), (GDestroyNotify) g_ptr_array_unref);
}

static void
th_store_query_ticks_async (ThHistory           *history,
                            const char          *symbol,
                            gint64               from,
                            gint64               to,
                            guint                limit,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  ThStore *self = TH_STORE (history);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  Query *q;

  g_task_set_source_tag (task, th_store_query_ticks_async);
  g_task_set_name (task, "[store] query ticks");
  if (self->reader == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store is not configured");
      return;
    }
  if (!self->keep_ticks)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY,
                               "the store keeps no ticks; set ticks=true in [store] to keep them "
                               "(from then on)");
      return;
    }
  q = g_new0 (Query, 1);
  q->reader = reader_ref (self->reader);
  q->symbol = g_strdup (symbol);
  q->from = from;
  q->to = to;
  q->limit = limit;
  q->running = self->thread != NULL && !self->stopped;
  run_query (task, q, query_ticks_thread);
}

static GPtrArray *
th_store_query_ticks_finish (ThHistory     *history,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, history), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Backfilled candles: queued like live ones, written with
 * STMT_CANDLE_BACKFILL, and answered by a flush once they are. */

static void
on_backfill_flushed (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;

  if (th_sink_flush_finish (TH_SINK (source), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
th_store_store_candles_async (ThHistory           *history,
                              const char          *symbol,
                              const char          *origin,
                              const char          *source,
                              GPtrArray           *candles,
                              GArray              *trades,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ThStore *self = TH_STORE (history);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  guint64 dropped;

  g_task_set_source_tag (task, th_store_store_candles_async);
  g_task_set_name (task, "[store] store candles");
  if (self->thread == NULL || self->stopped)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY, "the history store is not running");
      return;
    }

  g_mutex_lock (&self->lock);
  dropped = self->dropped;
  g_mutex_unlock (&self->lock);
  for (guint i = 0; i < candles->len; i++)
    {
      const ThCandle *c = candles->pdata[i];
      Record r = { 0 };

      r.kind = REC_CANDLE;
      r.tick_kind = 1;
      r.trades = trades != NULL && i < trades->len ? g_array_index (trades, gint64, i) : -1;
      r.symbol = pool (self, symbol);
      r.source = pool (self, source);
      r.other = pool (self, origin);
      r.duration = c->duration;
      r.time = c->start;
      r.open = c->open;
      r.high = c->high;
      r.low = c->low;
      r.close = c->close;
      r.volume = c->volume;
      r.ticks = 0;
      queue_record (self, &r);
    }
  g_mutex_lock (&self->lock);
  dropped = self->dropped - dropped;
  g_mutex_unlock (&self->lock);
  if (dropped > 0)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_NO_HISTORY,
                               "the store's queue is full; %" G_GUINT64_FORMAT " backfilled candles dropped",
                               dropped);
      return;
    }
  th_store_flush_async (TH_SINK (self), cancellable, on_backfill_flushed, g_steal_pointer (&task));
}

static gboolean
th_store_store_candles_finish (ThHistory     *history,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, history), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
th_store_history_init (ThHistoryInterface *iface)
{
  iface->query_ticks_async = th_store_query_ticks_async;
  iface->query_ticks_finish = th_store_query_ticks_finish;
  iface->get_state = th_store_get_state;
  iface->get_stats = th_store_get_stats;
  iface->query_candles_async = th_store_query_candles_async;
  iface->query_candles_finish = th_store_query_candles_finish;
  iface->store_candles_async = th_store_store_candles_async;
  iface->store_candles_finish = th_store_store_candles_finish;
}

/* GObject */

static void
th_store_dispose (GObject *object)
{
  ThStore *self = TH_STORE (object);

  stop_writer (self);
  th_flush_waiters_clear (&self->flushes, "store: the sink was disposed before it started");
  {
    /* The hub may be gone: a query's task held the last reference. */
    g_autoptr(ThHub) hub = g_weak_ref_get (&self->hub_ref);

    if (hub != NULL && th_hub_get_history (hub) == TH_HISTORY (self))
      th_hub_set_history (hub, NULL);
  }

  G_OBJECT_CLASS (th_store_parent_class)->dispose (object);
}

static void
th_store_finalize (GObject *object)
{
  ThStore *self = TH_STORE (object);

  close_db (self);
  g_clear_pointer (&self->reader, reader_unref);
  g_weak_ref_clear (&self->hub_ref);
  g_clear_object (&self->clock);
  g_array_unref (self->incoming);
  g_array_unref (self->pending);
  g_hash_table_unref (self->buckets);
  g_hash_table_unref (self->ids);
  g_hash_table_unref (self->pool);
  for (guint t = 0; t < self->n_timeframes; t++)
    g_free (self->timeframes[t].name);
  g_free (self->timeframes);
  g_free (self->path);
  g_free (self->display);
  g_free (self->reason);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (th_store_parent_class)->finalize (object);
}

static void
th_store_class_init (ThStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_store_dispose;
  object_class->finalize = th_store_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThStore, hub));
}

static void
th_store_class_finalize (ThStoreClass *klass)
{
}

static void
th_store_init (ThStore *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_weak_ref_init (&self->hub_ref, NULL);
  th_flush_waiters_init (&self->flushes, &self->lock, "[store] flush");
  self->state = TH_SOURCE_STATE_CONNECTING;
  self->max_queue = DEFAULT_MAX_QUEUE;
  self->retry_interval = (gint64) (DEFAULT_RETRY_INTERVAL * G_USEC_PER_SEC);
  self->incoming = g_array_new (FALSE, FALSE, sizeof (Record));
  self->pending = g_array_new (FALSE, FALSE, sizeof (Record));
  self->pool = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  self->ids = g_hash_table_new (NULL, NULL);
  self->live = pool (self, "live");
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_store_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_STORE);
}
