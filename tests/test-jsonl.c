/* test-jsonl.c: the jsonl sink, loaded through the hub
 *
 * Each test builds a hub from a config string, feeds it events with
 * th_hub_emit_event(), stops it (which flushes and stops the sink) and
 * reads the file back. FIFOs stand in for a reader that does not read and
 * for one that goes away; /dev/full for a disk that is full.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>
#include <libpeas/peas.h>

#include "th-private.h"
#include "test-utils.h"

/* Every message logged, as "domain: message". Warnings are fatal unless a
 * test expects them. Structured logging bypasses g_test_expect_message(),
 * and the sink also logs from its writer thread: a writer function sees
 * both. */
static GMutex log_lock;
static GPtrArray *log_lines;
static gint expect_warnings;

static GLogWriterOutput
log_writer (GLogLevelFlags   log_level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *domain = "";
  const char *message = "";

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0)
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        message = fields[i].value;
    }

  g_mutex_lock (&log_lock);
  g_ptr_array_add (log_lines, g_strdup_printf ("%s: %s", domain, message));
  g_mutex_unlock (&log_lock);

  if ((log_level & G_LOG_LEVEL_WARNING) && g_atomic_int_get (&expect_warnings))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

/* How many messages logged contain @needle. */
static guint
count_logged (const char *needle)
{
  guint n = 0;

  g_mutex_lock (&log_lock);
  for (guint i = 0; i < log_lines->len; i++)
    if (strstr (log_lines->pdata[i], needle) != NULL)
      n++;
  g_mutex_unlock (&log_lock);
  return n;
}

/* The first message logged that contains @needle. */
static char *
find_logged (const char *needle)
{
  char *found = NULL;

  g_mutex_lock (&log_lock);
  for (guint i = 0; i < log_lines->len && found == NULL; i++)
    if (strstr (log_lines->pdata[i], needle) != NULL)
      found = g_strdup (log_lines->pdata[i]);
  g_mutex_unlock (&log_lock);
  return found;
}

typedef struct
{
  char  *dir;
  char  *path;      /* dir/out.jsonl */
  guint  open_fds;
} Fixture;

static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  fx->dir = th_test_make_tmp_dir ("tickhub-jsonl-XXXXXX");
  fx->path = g_build_filename (fx->dir, "out.jsonl", NULL);

  g_mutex_lock (&log_lock);
  g_ptr_array_set_size (log_lines, 0);
  g_mutex_unlock (&log_lock);
  g_atomic_int_set (&expect_warnings, FALSE);
  fx->open_fds = count_open_fds ();
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  /* Every descriptor the sink opened is closed again. */
  g_assert_cmpuint (count_open_fds (), ==, fx->open_fds);

  g_assert_true (th_test_remove_tmp_dir (fx->dir));
  g_free (fx->dir);
  g_free (fx->path);
  g_atomic_int_set (&expect_warnings, FALSE);
}

/* Hubs */

static ThConfig *
config_new (const char *jsonl_group)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=jsonl\nsymbols=BTC\n\n[jsonl]\n%s\n",
                                           jsonl_group);

  return th_test_config_new (text);
}

static ThHub *
hub_load (const char  *jsonl_group,
          GError     **error)
{
  g_autoptr(ThConfig) config = config_new (jsonl_group);
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);

  if (!th_hub_load (hub, error))
    return NULL;
  return g_steal_pointer (&hub);
}

static ThHub *
hub_start (const char *jsonl_group)
{
  g_autoptr(GError) error = NULL;
  ThHub *hub = hub_load (jsonl_group, &error);

  g_assert_no_error (error);
  th_hub_start (hub);
  return hub;
}

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
  GThread  *thread;
} Done;

static void
on_hub_stopped (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  Done *done = user_data;

  done->ok = th_hub_stop_finish (TH_HUB (source), result, &done->error);
  done->thread = g_thread_self ();
  done->done = TRUE;
}

/* Stops @hub (flushing its sinks) and waits for it. */
static gboolean
hub_stop (ThHub         *hub,
          GCancellable  *cancellable,
          GError       **error)
{
  Done done = { 0 };

  th_hub_stop_async (hub, cancellable, on_hub_stopped, &done);
  while (!done.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (done.thread == g_thread_self ());
  if (done.error != NULL)
    g_propagate_error (error, done.error);
  return done.ok;
}

/* Events */

/* A financial_data_update of about 300 bytes, numbered, as the hub writes
 * them. */
static GString *
tick_json (guint seq)
{
  GString *out = g_string_sized_new (320);

  g_string_append_printf (out,
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"seq\":%u,"
    "\"data\":{\"price\":%u.25,\"volume\":18234.56781,\"change\":-1.234,\"bid\":67012.5,"
    "\"ask\":67013.5,\"source\":\"binance\",\"timestamp\":\"2024-05-01T12:34:56.789Z\"},"
    "\"note\":\"padding to the size of a real update, with \\\"quotes\\\" and é\"}}",
    seq, 60000 + seq % 10000);
  return out;
}

static ThEvent *
tick_event (guint seq)
{
  return _th_event_new_take ("financial_data_update", "BTC", NULL, tick_json (seq));
}

/* The seq of a line written from tick_event(), checking that the line is
 * exactly that event. */
static guint
line_seq (const char *line)
{
  const char *p = strstr (line, "\"seq\":");
  g_autoptr(GString) expected = NULL;
  guint64 seq;

  g_assert_nonnull (p);
  seq = g_ascii_strtoull (p + 6, NULL, 10);
  expected = tick_json ((guint) seq);
  g_assert_cmpstr (line, ==, expected->str);
  return (guint) seq;
}

/* Splits @data, which ends with "\n", into its lines. (Not with
 * g_strsplit(): under AddressSanitizer each strstr() it makes checks the
 * whole rest of the string, which makes it quadratic.) */
static char **
split_lines (const char *data,
             gsize       length)
{
  GPtrArray *lines = g_ptr_array_new ();
  const char *p = data;
  const char *end = data + length;

  if (length > 0)
    g_assert_cmpint (data[length - 1], ==, '\n');

  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);

      g_ptr_array_add (lines, g_strndup (p, eol - p));
      p = eol + 1;
    }
  g_ptr_array_add (lines, NULL);
  return (char **) g_ptr_array_free (lines, FALSE);
}

static char **
read_lines (const char *path)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  return split_lines (contents, length);
}

static void
emit_json (ThHub      *hub,
           GPtrArray  *sent,
           const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThEvent) event = th_event_new_from_json (json, -1, &error);

  g_assert_no_error (error);
  th_hub_emit_event (hub, event);
  if (sent != NULL)
    g_ptr_array_add (sent, th_event_ref (event));
}

/* One event of each kind, with text that needs escaping. */
static const char *const sample_events[] = {
  "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":67012.5,"
    "\"volume\":null,\"change\":null,\"bid\":67012,\"ask\":67013,\"source\":\"binance\","
    "\"timestamp\":\"2024-05-01T12:34:56.789Z\"}}}",
  "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\","
    "\"indicators\":{\"rsi\":55.5,\"sma_20\":67000.25,\"timestamp\":\"2024-05-01T12:34:00.000Z\"}}}",
  "{\"event\":\"candle_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"candle\":{"
    "\"start\":\"2024-05-01T12:34:00.000Z\",\"open\":1,\"high\":2,\"low\":0.5,\"close\":1.5,"
    "\"volume\":10,\"closed\":true}}}",
  "{\"event\":\"source_status\",\"data\":{\"source\":\"coincap\",\"state\":\"down\","
    "\"reason\":\"HTTP 401: \\\"bad key\\\"\\nretrying in 5 s\",\"last_message_age_ms\":null}}",
  "{\"event\":\"price_source_changed\",\"data\":{\"symbol\":\"BTC\",\"from\":\"binance\",\"to\":null}}",
  "{\"event\":\"system_status_update\",\"data\":{\"timestamp\":\"2024-05-01T12:34:56.789Z\","
    "\"active_connections\":3,\"monitored_symbols\":1,\"streaming_active\":true,\"uptime\":12.5,"
    "\"memory_usage\":1048576,\"cpu_usage\":0.5,\"status\":\"ok\"}}",
  "{\"event\":\"error\",\"data\":{\"code\":\"no_source\",\"message\":\"no fresh price for BTC: "
    "binance: silent for 30 s; coincap: “disabled”\"}}",
};

/* Tests */

static void
test_lines (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s", fx->path);
  g_autoptr(ThHub) hub = hub_start (group);
  g_autoptr(GPtrArray) sent = g_ptr_array_new_with_free_func ((GDestroyNotify) th_event_unref);
  g_autoptr(JsonNode) data_node = json_from_string ("{\"symbol\":\"BTC\",\"from\":null,\"to\":\"coinbase\"}", NULL);
  g_autoptr(ThEvent) built = th_event_new ("price_source_changed", "BTC", data_node);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  struct stat st;
  mode_t mask;

  for (guint i = 0; i < G_N_ELEMENTS (sample_events); i++)
    emit_json (hub, sent, sample_events[i]);
  th_hub_emit_event (hub, built);
  g_ptr_array_add (sent, th_event_ref (built));

  g_assert_true (hub_stop (hub, NULL, &error));
  g_assert_no_error (error);

  lines = read_lines (fx->path);
  g_assert_cmpuint (g_strv_length (lines), ==, sent->len);
  for (guint i = 0; i < sent->len; i++)
    {
      ThEvent *event = sent->pdata[i];
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *obj;

      /* The very bytes of the envelope, one per line, in order... */
      g_assert_cmpstr (lines[i], ==, th_event_get_json (event));
      /* ...and each a JSON envelope of its own. */
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      obj = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member (obj, "event"), ==, th_event_get_name (event));
      g_assert_true (json_object_has_member (obj, "data"));
    }

  /* Created 0644, less the umask. */
  mask = umask (022);
  umask (mask);
  g_assert_no_errno (g_stat (fx->path, &st));
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_mode & 0777, ==, 0644 & ~mask);
}

static void
test_append (Fixture       *fx,
             gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s", fx->path);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  g_file_set_contents (fx->path, "{\"event\":\"error\",\"data\":{\"code\":\"earlier\"}}\n", -1, &error);
  g_assert_no_error (error);

  for (guint run = 0; run < 2; run++)
    {
      g_autoptr(ThHub) hub = hub_start (group);
      g_autoptr(ThEvent) event = tick_event (run);

      th_hub_emit_event (hub, event);
      g_assert_true (hub_stop (hub, NULL, &error));
      g_assert_no_error (error);
    }

  lines = read_lines (fx->path);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[0], ==, "{\"event\":\"error\",\"data\":{\"code\":\"earlier\"}}");
  g_assert_cmpuint (line_seq (lines[1]), ==, 0);
  g_assert_cmpuint (line_seq (lines[2]), ==, 1);
}

static void
test_relative_path (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *conf = g_build_filename (fx->dir, "tickhub.conf", NULL);
  g_autofree char *expected = g_build_filename (fx->dir, "relative.jsonl", NULL);
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *parent = g_path_get_dirname (fx->dir);
  g_autofree char *base = g_path_get_basename (fx->dir);
  g_autofree char *relative_conf = g_build_filename (base, "tickhub.conf", NULL);
  g_autofree char *stray = g_build_filename (parent, "relative.jsonl", NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  /* Relative to the config file's folder, not to the working directory,
   * whether the config file was named by an absolute path or not. */
  g_file_set_contents (conf, "[tickhub]\nplugins=jsonl\nsymbols=BTC\n[jsonl]\npath=./relative.jsonl\n", -1, &error);
  g_assert_no_error (error);

  for (guint run = 0; run < 2; run++)
    {
      g_autoptr(ThConfig) config = th_config_new ();
      g_autoptr(ThHub) hub = NULL;
      g_autoptr(ThEvent) event = tick_event (run);

      g_assert_no_errno (chdir (parent));
      th_config_load_from_file (config, run == 0 ? conf : relative_conf, &error);
      g_assert_no_error (error);
      hub = th_hub_new (config, NULL);
      th_hub_load (hub, &error);
      g_assert_no_errno (chdir (cwd));
      g_assert_no_error (error);

      th_hub_start (hub);
      th_hub_emit_event (hub, event);
      g_assert_true (hub_stop (hub, NULL, &error));
      g_assert_no_error (error);
    }

  g_assert_false (g_file_test (stray, G_FILE_TEST_EXISTS));
  lines = read_lines (expected);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_cmpuint (line_seq (lines[0]), ==, 0);
  g_assert_cmpuint (line_seq (lines[1]), ==, 1);
}

static void
test_filter (Fixture       *fx,
             gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s\nevents=candle_update; technical_indicators_update",
                                            fx->path);
  g_autoptr(ThHub) hub = hub_start (group);
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  for (guint round = 0; round < 5; round++)
    for (guint i = 0; i < G_N_ELEMENTS (sample_events); i++)
      {
        emit_json (hub, NULL, sample_events[i]);
        if (strstr (sample_events[i], "\"candle_update\"") != NULL ||
            strstr (sample_events[i], "\"technical_indicators_update\"") != NULL)
          g_ptr_array_add (kept, (gpointer) sample_events[i]);
      }

  g_assert_true (hub_stop (hub, NULL, &error));
  g_assert_no_error (error);

  lines = read_lines (fx->path);
  g_assert_cmpuint (kept->len, ==, 10);
  g_assert_cmpuint (g_strv_length (lines), ==, kept->len);
  for (guint i = 0; i < kept->len; i++)
    {
      g_autoptr(ThEvent) event = th_event_new_from_json (kept->pdata[i], -1, NULL);

      g_assert_cmpstr (lines[i], ==, th_event_get_json (event));
    }
}

static void
test_many (Fixture       *fx,
           gconstpointer  data)
{
  const guint n = 200000;
  /* Room for all: this test is about getting every one, in order. */
  g_autofree char *group = g_strdup_printf ("path=%s\nmax-queue=%u", fx->path, n);
  g_autoptr(ThHub) hub = hub_start (group);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) sample = tick_json (0);
  g_auto(GStrv) lines = NULL;
  gint64 start, emitted, stopped;
  double seconds;

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }
  emitted = g_get_monotonic_time ();
  g_assert_true (hub_stop (hub, NULL, &error));
  g_assert_no_error (error);
  stopped = g_get_monotonic_time ();

  seconds = (stopped - start) / 1e6;
  g_test_message ("%u events of %" G_GSIZE_FORMAT " bytes: emitted in %.3f s, all written in %.3f s: %.0f events/s",
                  n, sample->len + 1, (emitted - start) / 1e6, seconds, n / seconds);

  lines = read_lines (fx->path);
  g_assert_cmpuint (g_strv_length (lines), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (line_seq (lines[i]), ==, i);
  g_assert_cmpuint (count_logged ("dropping"), ==, 0);
}

static void
test_config_errors (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *missing_dir = g_build_filename (fx->dir, "no-such-dir", "out.jsonl", NULL);
  g_autofree char *fifo = g_build_filename (fx->dir, "fifo", NULL);
  struct {
    char       *group;
    const char *message;
  } cases[] = {
    { g_strdup_printf ("path=%s", missing_dir), NULL },
    { g_strdup_printf ("path=%s", fx->dir), NULL },
    { g_strdup_printf ("path=%s", fifo), NULL },
    { g_strdup (""), "[jsonl] path: missing; give the file to append to" },
    { g_strdup_printf ("path=%s\nevents=candle_update;trades", fx->path),
      "[jsonl] events: unknown event “trades”; the events are financial_data_update, "
      "technical_indicators_update, candle_update, source_status, price_source_changed, "
      "system_status_update, price_alert, error" },
    { g_strdup_printf ("path=%s\nmax-queue=0", fx->path), "[jsonl] max-queue: 0 would drop every event" },
    { g_strdup_printf ("path=%s\nmax-queue=-5", fx->path), "[jsonl] max-queue: “-5” is not a whole number ≥ 0" },
    { g_strdup_printf ("path=%s\nfsync=maybe", fx->path), "[jsonl] fsync: “maybe” is not a boolean" },
    { g_strdup_printf ("path=%s\ncolour=red", fx->path),
      "[jsonl] colour: unknown key; the keys of [jsonl] are path, events, max-queue, fsync" },
  };
  g_autofree char *no_dir = g_strdup_printf ("[jsonl] path: cannot open “%s”: %s; check the directory exists and is writable",
                                             missing_dir, g_strerror (ENOENT));
  g_autofree char *is_dir = g_strdup_printf ("[jsonl] path: cannot open “%s”: %s; check the directory exists and is writable",
                                             fx->dir, g_strerror (EISDIR));
  g_autofree char *no_reader = g_strdup_printf ("[jsonl] path: cannot open “%s”: it is a FIFO that no program reads; "
                                                "start the reader first", fifo);

  g_assert_no_errno (mkfifo (fifo, 0600));
  cases[0].message = no_dir;
  cases[1].message = is_dir;
  cases[2].message = no_reader;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThHub) hub = hub_load (cases[i].group, &error);

      g_test_message ("[jsonl] %s", g_strdelimit (cases[i].group, "\n", ' '));
      g_assert_null (hub);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("“%s” is not in “%s”", cases[i].message, error->message);
      g_free (cases[i].group);
    }
}

/* The read end of a FIFO, read from the main loop into a string. */
typedef struct
{
  int       fd;
  GString  *data;
  gboolean  eof;
} Reader;

static gboolean
on_readable (int           fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  Reader *reader = user_data;
  char buf[65536];

  for (;;)
    {
      ssize_t r = read (fd, buf, sizeof buf);

      if (r > 0)
        g_string_append_len (reader->data, buf, r);
      else if (r == 0)
        {
          reader->eof = TRUE;
          return G_SOURCE_REMOVE;
        }
      else if (errno == EINTR)
        continue;
      else
        {
          g_assert_cmpint (errno, ==, EAGAIN);
          return G_SOURCE_CONTINUE;
        }
    }
}

static void
test_full_queue_drops (Fixture       *fx,
                       gconstpointer  data)
{
  const guint n = 20000;   /* about 6 MB, against a pipe of 64 KiB */
  const guint max_queue = 100;
  g_autofree char *fifo = g_build_filename (fx->dir, "fifo", NULL);
  g_autofree char *group = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *first_warning = NULL;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  Reader reader = { -1, g_string_new (NULL), FALSE };
  gint64 slowest = 0;
  gint64 start;
  guint last = 0;
  guint n_lines;

  /* A reader that has the FIFO open but does not read yet. */
  g_assert_no_errno (mkfifo (fifo, 0600));
  reader.fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (reader.fd, >=, 0);

  group = g_strdup_printf ("path=%s\nmax-queue=%u", fifo, max_queue);
  hub = hub_start (group);
  g_atomic_int_set (&expect_warnings, TRUE);

  /* Emitting never waits for the writer. */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);
      gint64 t = g_get_monotonic_time ();

      th_hub_emit_event (hub, event);
      slowest = MAX (slowest, g_get_monotonic_time () - t);
    }
  g_test_message ("%u events emitted in %.3f s, the slowest in %" G_GINT64_FORMAT " us",
                  n, (g_get_monotonic_time () - start) / 1e6, slowest);
  g_assert_cmpint (slowest, <, G_USEC_PER_SEC / 2);

  first_warning = find_logged ("jsonl: writer is behind, dropping events");
  g_assert_nonnull (first_warning);
  g_assert_nonnull (strstr (first_warning, "Tickhub-Jsonl: jsonl: writer is behind, dropping events (1 so far)"));

  /* Now read: the flush waits for the reader, then the writer ends. */
  g_unix_fd_add (reader.fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, &reader);
  g_assert_true (hub_stop (hub, NULL, &error));
  g_assert_no_error (error);
  while (!reader.eof)
    g_main_context_iteration (NULL, TRUE);
  close (reader.fd);

  /* Some arrived, in order, each whole; the rest were dropped and counted. */
  g_assert_cmpuint (reader.data->len, >, 0);
  lines = split_lines (reader.data->str, reader.data->len);
  n_lines = g_strv_length (lines);
  g_test_message ("%u of %u events written", n_lines, n);
  g_assert_cmpuint (n_lines, >=, max_queue);
  g_assert_cmpuint (n_lines, <, n);
  for (guint i = 0; i < n_lines; i++)
    {
      guint seq = line_seq (lines[i]);

      if (i == 0)
        g_assert_cmpuint (seq, ==, 0);
      else
        g_assert_cmpuint (seq, >, last);
      last = seq;
    }

  summary = g_strdup_printf ("%u events written, %u dropped because the writer was behind, "
                             "0 lost to write errors, 0 not written at stop",
                             n_lines, n - n_lines);
  g_assert_cmpuint (count_logged (summary), ==, 1);
  g_string_free (reader.data, TRUE);
}

static gboolean
cancel_soon (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_stop_does_not_wait_for_reader (Fixture       *fx,
                                    gconstpointer  data)
{
  const guint n = 5000;
  g_autofree char *fifo = g_build_filename (fx->dir, "fifo", NULL);
  g_autofree char *group = NULL;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) timeout = NULL;
  int fd;
  gint64 start;

  g_assert_no_errno (mkfifo (fifo, 0600));
  fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);

  group = g_strdup_printf ("path=%s", fifo);
  hub = hub_start (group);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }

  /* The flush waits for a reader that never reads, until it is cancelled;
   * then stop ends the writer at once. */
  g_atomic_int_set (&expect_warnings, TRUE);
  timeout = g_timeout_source_new (100);
  g_source_set_callback (timeout, cancel_soon, cancellable, NULL);
  g_source_attach (timeout, NULL);

  start = g_get_monotonic_time ();
  g_assert_false (hub_stop (hub, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpuint (count_logged ("not written at stop because the reader was not reading"), ==, 1);
  g_source_destroy (timeout);
  close (fd);
}

static void
test_write_error (Fixture       *fx,
                  gconstpointer  data)
{
  const guint n = 1000;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *lost = NULL;
  g_autofree char *summary = NULL;

  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /dev/full");
      return;
    }

  hub = hub_start ("path=/dev/full");
  g_atomic_int_set (&expect_warnings, TRUE);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }

  /* Logged once, counted, and the flush reports it. */
  g_assert_false (hub_stop (hub, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  lost = g_strdup_printf ("jsonl: %u events could not be written to “/dev/full”: %s", n, g_strerror (ENOSPC));
  g_assert_cmpstr (error->message, ==, lost);
  g_assert_cmpuint (count_logged ("jsonl: cannot write to “/dev/full”"), ==, 1);
  summary = g_strdup_printf ("0 events written, 0 dropped because the writer was behind, %u lost to write errors", n);
  g_assert_cmpuint (count_logged (summary), ==, 1);
}

static gboolean
wait_for_lines (int      fd,
                GString *data,
                guint    n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  guint lines = 0;

  while (lines < n && g_get_monotonic_time () < deadline)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char buf[4096];
      ssize_t r;

      if (poll (&pfd, 1, 100) <= 0)
        continue;
      r = read (fd, buf, sizeof buf);
      if (r <= 0)
        continue;
      g_string_append_len (data, buf, r);
      for (ssize_t i = 0; i < r; i++)
        lines += buf[i] == '\n';
    }
  return lines == n;
}

static void
test_reader_gone (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *fifo = g_build_filename (fx->dir, "fifo", NULL);
  g_autofree char *group = NULL;
  g_autofree char *lost = NULL;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) got = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;
  int fd;

  /* Whatever the process does with SIGPIPE, the sink gets EPIPE. */
  signal (SIGPIPE, SIG_DFL);

  g_assert_no_errno (mkfifo (fifo, 0600));
  fd = open (fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  group = g_strdup_printf ("path=%s", fifo);
  hub = hub_start (group);

  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }
  g_assert_true (wait_for_lines (fd, got, 10));
  close (fd);

  g_atomic_int_set (&expect_warnings, TRUE);
  for (guint i = 10; i < 20; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }

  g_assert_false (hub_stop (hub, NULL, &error));
  lost = g_strdup_printf ("jsonl: 10 events could not be written to “%s”: %s", fifo, g_strerror (EPIPE));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, lost);
  g_assert_cmpuint (count_logged ("jsonl: cannot write to"), ==, 1);

  lines = split_lines (got->str, got->len);
  g_assert_cmpuint (g_strv_length (lines), ==, 10);
  for (guint i = 0; i < 10; i++)
    g_assert_cmpuint (line_seq (lines[i]), ==, i);
}

static void
test_stdout (Fixture       *fx,
             gconstpointer  data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(ThHub) hub = hub_start ("path=-");
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < 3; i++)
        {
          g_autoptr(ThEvent) event = tick_event (i);

          th_hub_emit_event (hub, event);
        }
      g_assert_true (hub_stop (hub, NULL, &error));
      g_assert_no_error (error);
      return;
    }
  else
    {
      g_autoptr(GString) pattern = g_string_new ("*");

      for (guint i = 0; i < 3; i++)
        {
          g_autoptr(GString) line = tick_json (i);

          g_string_append_printf (pattern, "%s\n", line->str);
        }
      g_string_append_c (pattern, '*');

      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout (pattern->str);
    }
}

/* A file records whoever calls the daemon: it keeps a started-on-demand
 * tickhubd running; standard output, which nobody reads there, does not. */
static void
test_keeps_alive (Fixture       *fx,
                  gconstpointer  data)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(ThHub) hub = hub_load ("path=-", &error);
      g_autoptr(GPtrArray) sinks = NULL;

      g_assert_no_error (error);
      sinks = th_hub_get_sinks (hub);
      g_assert_cmpuint (sinks->len, ==, 1);
      g_assert_false (th_sink_keeps_alive (sinks->pdata[0]));
      return;
    }
  else
    {
      g_autofree char *group = g_strdup_printf ("path=%s", fx->path);
      g_autoptr(GError) error = NULL;
      g_autoptr(ThHub) hub = hub_load (group, &error);
      g_autoptr(GPtrArray) sinks = NULL;

      g_assert_no_error (error);
      sinks = th_hub_get_sinks (hub);
      g_assert_true (th_sink_keeps_alive (sinks->pdata[0]));

      /* Standard output in a process of its own: not this test's TAP. */
      g_test_trap_subprocess (NULL, 30 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
    }
}

static void
test_dispose_without_stop (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s", fx->path);
  ThHub *hub = hub_start (group);
  g_auto(GStrv) lines = NULL;

  for (guint i = 0; i < 1000; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_hub_emit_event (hub, event);
    }

  /* The writer still writes what it has to a file, then ends. */
  g_object_unref (hub);
  lines = read_lines (fx->path);
  g_assert_cmpuint (g_strv_length (lines), ==, 1000);
  for (guint i = 0; i < 1000; i++)
    g_assert_cmpuint (line_seq (lines[i]), ==, i);
}

/* The sink on its own, through the ThSink interface. */

typedef struct
{
  gboolean  done;
  gboolean  ok;
  GError   *error;
  GThread  *thread;
  guint     lines;      /* in the file when the callback ran */
  char     *path;
} Flushed;

static void
on_flushed (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Flushed *flushed = user_data;
  g_auto(GStrv) lines = read_lines (flushed->path);

  flushed->ok = th_sink_flush_finish (TH_SINK (source), result, &flushed->error);
  flushed->thread = g_thread_self ();
  flushed->lines = g_strv_length (lines);
  flushed->done = TRUE;
}

static void
test_flush (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s\nfsync=true", fx->path);
  g_autoptr(ThConfig) config = config_new (group);
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);
  g_autoptr(PeasEngine) engine = th_test_plugin_engine_new ();
  g_autoptr(ThSink) sink = NULL;
  g_autoptr(GError) error = NULL;
  PeasPluginInfo *info;
  Flushed flushed = { .path = fx->path };

  info = peas_engine_get_plugin_info (engine, "jsonl");
  g_assert_nonnull (info);
  g_assert_true (peas_engine_load_plugin (engine, info));
  sink = TH_SINK (peas_engine_create_extension (engine, info, TH_TYPE_SINK, "hub", hub, NULL));
  g_assert_nonnull (sink);
  th_sink_configure (sink, &error);
  g_assert_no_error (error);

  /* Consumed before start: the flush waits for the writer to start. */
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_sink_consume (sink, event);
    }
  th_sink_flush_async (sink, NULL, on_flushed, &flushed);
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (flushed.done);

  /* Done when everything consumed before it is in the file, in the
   * caller's context. */
  th_sink_start (sink);
  while (!flushed.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (flushed.ok);
  g_assert_no_error (flushed.error);
  g_assert_true (flushed.thread == g_thread_self ());
  g_assert_cmpuint (flushed.lines, ==, 100);

  for (guint i = 100; i < 250; i++)
    {
      g_autoptr(ThEvent) event = tick_event (i);

      th_sink_consume (sink, event);
    }
  flushed.done = FALSE;
  th_sink_flush_async (sink, NULL, on_flushed, &flushed);
  while (!flushed.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (flushed.ok);
  g_assert_cmpuint (flushed.lines, ==, 250);

  /* Stop twice, flush after stop, dispose twice: all harmless. */
  th_sink_stop (sink);
  th_sink_stop (sink);
  flushed.done = FALSE;
  th_sink_flush_async (sink, NULL, on_flushed, &flushed);
  while (!flushed.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (flushed.ok);
  g_assert_cmpuint (flushed.lines, ==, 250);

  g_object_run_dispose (G_OBJECT (sink));
  g_object_run_dispose (G_OBJECT (sink));
}

static void
test_dispose_with_pending_flush (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autofree char *group = g_strdup_printf ("path=%s", fx->path);
  g_autoptr(ThConfig) config = config_new (group);
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);
  g_autoptr(PeasEngine) engine = th_test_plugin_engine_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ThEvent) event = tick_event (0);
  PeasPluginInfo *info;
  ThSink *sink;
  Flushed flushed = { .path = fx->path };

  info = peas_engine_get_plugin_info (engine, "jsonl");
  g_assert_true (peas_engine_load_plugin (engine, info));
  sink = TH_SINK (peas_engine_create_extension (engine, info, TH_TYPE_SINK, "hub", hub, NULL));
  th_sink_configure (sink, &error);
  g_assert_no_error (error);

  /* Never started: disposing ends the waiting flush with an error. */
  th_sink_consume (sink, event);
  th_sink_flush_async (sink, NULL, on_flushed, &flushed);
  g_object_run_dispose (G_OBJECT (sink));
  g_object_unref (sink);
  while (!flushed.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (flushed.ok);
  g_assert_error (flushed.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_clear_error (&flushed.error);
}

/* GLib opens some descriptors of its own on first use (main context
 * wake-ups, its worker thread): one run before the tests, so that each test
 * can check it closes everything it opens. */
static void
warm_up (void)
{
  g_autoptr(ThHub) hub = hub_start ("path=/dev/null");
  g_autoptr(ThEvent) event = tick_event (0);
  g_autoptr(GError) error = NULL;

  th_hub_emit_event (hub, event);
  g_assert_true (hub_stop (hub, NULL, &error));
  g_assert_no_error (error);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  log_lines = g_ptr_array_new_with_free_func (g_free);
  g_log_set_writer_func (log_writer, NULL, NULL);
  warm_up ();

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/jsonl/lines", test_lines);
  ADD ("/jsonl/append", test_append);
  ADD ("/jsonl/relative-path", test_relative_path);
  ADD ("/jsonl/filter", test_filter);
  ADD ("/jsonl/many", test_many);
  ADD ("/jsonl/config-errors", test_config_errors);
  ADD ("/jsonl/full-queue-drops", test_full_queue_drops);
  ADD ("/jsonl/stop-does-not-wait-for-reader", test_stop_does_not_wait_for_reader);
  ADD ("/jsonl/write-error", test_write_error);
  ADD ("/jsonl/reader-gone", test_reader_gone);
  ADD ("/jsonl/stdout", test_stdout);
  ADD ("/jsonl/keeps-alive", test_keeps_alive);
  ADD ("/jsonl/dispose-without-stop", test_dispose_without_stop);
  ADD ("/jsonl/flush", test_flush);
  ADD ("/jsonl/dispose-with-pending-flush", test_dispose_with_pending_flush);
#undef ADD

  ret = g_test_run ();
  g_ptr_array_unref (log_lines);
  return ret;
}
