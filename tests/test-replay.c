/* test-replay.c: the replay feed on recordings in tests/data and temp files
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include <glib/gstdio.h>

#include "th-private.h"
#include "test-utils.h"

#define T0 G_GINT64_CONSTANT (1735689600000000)   /* 2025-01-01T00:00:00Z, the clock */

/* The replay plugin's messages, captured (th_test_capture_log): its
 * warnings about bad lines are expected here and must not abort the test. */
static GPtrArray *replay_log;   /* char*: "LEVEL message" */

typedef struct
{
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;    /* ThEvent* */
  gboolean   quit;
  int        quit_code;
  char      *tmp_path;
} Fixture;

static void
on_quit (ThHub   *hub,
         int      code,
         Fixture *f)
{
  f->quit = TRUE;
  f->quit_code = code;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->clock = th_manual_clock_new (T0);
  g_ptr_array_set_size (replay_log, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->hub);
  /* Let cancelled reads of a disposed feed call back. */
  th_test_drain ();
  g_clear_object (&f->clock);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  if (f->tmp_path != NULL)
    g_unlink (f->tmp_path);
  g_clear_pointer (&f->tmp_path, g_free);
}

static gboolean
load_config (Fixture     *f,
             ThConfig    *config,
             GError     **error)
{
  g_clear_object (&f->hub);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  f->hub = th_hub_new (config, f->clock);
  f->events = th_test_capture_events (f->hub);
  g_signal_connect (f->hub, "quit-requested", G_CALLBACK (on_quit), f);
  return th_hub_load (f->hub, error);
}

static gboolean
load (Fixture     *f,
      const char  *conf,
      GError     **error)
{
  g_autoptr(ThConfig) config = th_test_config_new (conf);

  return load_config (f, config, error);
}

static char *
conf_for (const char *path,
          const char *extra)
{
  return g_strdup_printf ("[tickhub]\nplugins=replay\nsymbols=BTC;ETH\ntimeframes=1m\n"
                          "[replay]\npath=%s\n%s", path, extra);
}

static void
start (Fixture    *f,
       const char *conf)
{
  g_autoptr(GError) error = NULL;

  load (f, conf, &error);
  g_assert_no_error (error);
  th_hub_start (f->hub);
}

static void
start_file (Fixture    *f,
            const char *path,
            const char *extra)
{
  g_autofree char *conf = conf_for (path, extra);

  start (f, conf);
}

/* Writes @contents to a temp file that the teardown removes. */
static const char *
write_tmp (Fixture    *f,
           const char *contents)
{
  g_autoptr(GError) error = NULL;
  int fd = g_file_open_tmp ("test-replay-XXXXXX.jsonl", &f->tmp_path, &error);

  g_assert_no_error (error);
  g_close (fd, NULL);
  g_file_set_contents (f->tmp_path, contents, -1, &error);
  g_assert_no_error (error);
  return f->tmp_path;
}

static gboolean
replay_disabled (Fixture *f)
{
  g_autoptr(GPtrArray) statuses = th_test_events_data (f->events, "source_status", NULL);

  for (guint i = 0; i < statuses->len; i++)
    if (g_strcmp0 (json_object_get_string_member (statuses->pdata[i], "source"), "replay") == 0 &&
        g_strcmp0 (json_object_get_string_member (statuses->pdata[i], "state"), "disabled") == 0)
      return TRUE;
  return FALSE;
}

/* To a billionth; NaN for null. */
#define assert_number(obj, member, expected) th_test_assert_json_number (obj, member, expected, 1e-9)

/* Tests */

static void
test_basic_in_file_order (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "replay-basic.jsonl", NULL);
  g_autoptr(GPtrArray) updates = NULL;
  static const struct {
    const char *symbol;
    double      price;
    double      bid, ask, volume, change;
    const char *timestamp;
  } expected[] = {
    { "BTC", 42000.5, NAN, NAN, NAN, NAN, "2024-01-01T00:00:00.000Z" },
    { "BTC", 42010, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:00:20.000Z" },
    { "ETH", 2300.25, NAN, NAN, NAN, NAN, "2024-01-01T00:00:30.000Z" },
    /* Trades keep the last quote's bid, ask and 24 h figures. */
    { "BTC", 41990, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:00:40.000Z" },
    { "BTC", 42005, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:00:59.999Z" },
    { "BTC", 42100, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:01:10.000Z" },
    { "BTC", 42050, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:01:30.000Z" },
    { "ETH", 2310, NAN, NAN, NAN, NAN, "2024-01-01T00:01:40.000Z" },
    { "BTC", 42080, 42009.5, 42010.5, 1234.5, -1.25, "2024-01-01T00:02:05.000Z" },
  };

  start_file (f, path, "speed=0\nexit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);
  g_assert_cmpint (f->quit_code, ==, 0);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      JsonObject *obj = updates->pdata[i];
      JsonObject *d = json_object_get_object_member (obj, "data");

      g_assert_cmpstr (json_object_get_string_member (obj, "symbol"), ==, expected[i].symbol);
      g_assert_cmpstr (json_object_get_string_member (d, "source"), ==, "binance");
      g_assert_cmpstr (json_object_get_string_member (d, "timestamp"), ==, expected[i].timestamp);
      assert_number (d, "price", expected[i].price);
      assert_number (d, "bid", expected[i].bid);
      assert_number (d, "ask", expected[i].ask);
      assert_number (d, "volume", expected[i].volume);
      assert_number (d, "change", expected[i].change);
    }

  g_assert_true (th_test_log_contains ("MESSAGE replay-basic.jsonl: 14 lines, 9 ticks, 0 bad lines skipped"));
  g_assert_true (replay_disabled (f));
}

static void
test_closed_candles (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "replay-basic.jsonl", NULL);
  g_autoptr(GPtrArray) candles = NULL;
  g_autoptr(GPtrArray) closed = g_ptr_array_new ();
  static const struct {
    const char *symbol;
    const char *start;
    double      open, high, low, close, volume;
    gint64      ticks;
  } expected[] = {
    /* BTC's first minute closes when its 00:01:10 trade arrives... */
    { "BTC", "2024-01-01T00:00:00.000Z", 42000.5, 42010, 41990, 42005, 0.4, 4 },
    /* ...ETH's, quotes only and so without volume, at its 00:01:40 quote... */
    { "ETH", "2024-01-01T00:00:00.000Z", 2300.25, 2300.25, 2300.25, 2300.25, NAN, 1 },
    /* ...and BTC's second at 00:02:05. */
    { "BTC", "2024-01-01T00:01:00.000Z", 42100, 42100, 42050, 42050, 0.5, 2 },
  };

  start_file (f, path, "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  candles = th_test_events_data (f->events, "candle_update", NULL);
  for (guint i = 0; i < candles->len; i++)
    {
      JsonObject *candle = json_object_get_object_member (candles->pdata[i], "candle");

      g_assert_cmpstr (json_object_get_string_member (candles->pdata[i], "timeframe"), ==, "1m");
      if (json_object_get_boolean_member (candle, "closed"))
        g_ptr_array_add (closed, candles->pdata[i]);
    }

  g_assert_cmpuint (closed->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      JsonObject *candle = json_object_get_object_member (closed->pdata[i], "candle");

      g_assert_cmpstr (json_object_get_string_member (closed->pdata[i], "symbol"), ==, expected[i].symbol);
      g_assert_cmpstr (json_object_get_string_member (candle, "start"), ==, expected[i].start);
      assert_number (candle, "open", expected[i].open);
      assert_number (candle, "high", expected[i].high);
      assert_number (candle, "low", expected[i].low);
      assert_number (candle, "close", expected[i].close);
      assert_number (candle, "volume", expected[i].volume);
      g_assert_cmpint (json_object_get_int_member (candle, "ticks"), ==, expected[i].ticks);
    }
}

static void
test_bad_lines_skipped (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "replay-bad.jsonl", NULL);
  g_autoptr(GPtrArray) updates = NULL;
  guint warnings = 0;

  start_file (f, path, "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  /* The good lines around the bad ones are played, as "replay". */
  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, 2);
  for (guint i = 0; i < updates->len; i++)
    {
      JsonObject *d = json_object_get_object_member (updates->pdata[i], "data");

      g_assert_cmpstr (json_object_get_string_member (d, "source"), ==, "replay");
      assert_number (d, "price", i == 0 ? 100 : 105);
    }
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (updates->pdata[1], "data"),
                                                  "timestamp"), ==, "2024-01-01T00:00:07.000Z");

  /* The first five are logged with their line number, the rest counted. */
  g_assert_true (th_test_log_contains ("WARNING replay-bad.jsonl:2: not JSON"));
  g_assert_true (th_test_log_contains ("WARNING replay-bad.jsonl:3: price is not a positive number"));
  g_assert_true (th_test_log_contains ("WARNING replay-bad.jsonl:4: price is missing"));
  g_assert_true (th_test_log_contains ("WARNING replay-bad.jsonl:6: timestamp “yesterday” is not ISO 8601 or epoch milliseconds"));
  g_assert_true (th_test_log_contains ("WARNING replay-bad.jsonl:8: price is not a positive number "
                               "(further bad lines are counted, not logged)"));
  for (guint i = 0; i < replay_log->len; i++)
    warnings += g_str_has_prefix (replay_log->pdata[i], "WARNING");
  g_assert_cmpuint (warnings, ==, 5);
  g_assert_true (th_test_log_contains ("MESSAGE replay-bad.jsonl: 13 lines, 2 ticks, 9 bad lines skipped"));

  /* Nothing reached the hub that it had to reject. */
  g_assert_cmpuint (th_hub_get_rejected_ticks (f->hub), ==, 0);
}

/* A line nested 100,000 deep overflowed json-glib's stack: it is a bad
 * line like any other, and so is a NUL in a symbol. */
static void
test_deep_lines_skipped (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GString) contents = g_string_new ("{\"symbol\":\"BTC\",\"price\":1,\"timestamp\":1704067200000}\n");
  g_autoptr(GPtrArray) updates = NULL;

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (contents, '[');
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (contents, ']');
  g_string_append (contents, "\n{\"symbol\":\"BTC\",\"price\":3,\"timestamp\":1704067200500,\"x\":");
  for (guint i = 0; i < 65; i++)
    g_string_append_c (contents, '{');
  for (guint i = 0; i < 65; i++)
    g_string_append_c (contents, '}');
  g_string_append (contents, "}\n{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\\u0000X\","
                             "\"data\":{\"price\":4,\"source\":\"binance\",\"timestamp\":\"2024-01-01T00:00:00.600Z\"}}}\n");
  g_string_append (contents, "{\"symbol\":\"BTC\",\"price\":2,\"timestamp\":1704067201000}\n");

  start_file (f, write_tmp (f, contents->str), "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, 2);
  assert_number (json_object_get_object_member (updates->pdata[0], "data"), "price", 1);
  assert_number (json_object_get_object_member (updates->pdata[1], "data"), "price", 2);
  g_assert_true (th_test_log_contains (":2: not JSON: nested deeper than 64 levels"));
  g_assert_true (th_test_log_contains (":3: not JSON: nested deeper than 64 levels"));
  g_assert_true (th_test_log_contains (":4: not JSON: a string holds a NUL character"));
  g_assert_true (th_test_log_contains (": 5 lines, 2 ticks, 3 bad lines skipped"));
}

static void
test_timestamps (Fixture       *f,
                 gconstpointer  data)
{
  static const char *const expected[] = {
    "2024-01-01T00:00:00.123Z",
    "2024-01-01T00:00:00.500Z",
    "2024-01-01T00:00:00.750Z",
    "2024-01-01T00:00:01.000Z",
    "2024-01-01T00:00:02.000Z",
    "2024-01-01T00:00:03.000Z",
  };
  g_autoptr(GPtrArray) updates = NULL;
  const char *path = write_tmp (f,
    "{\"symbol\":\"BTC\",\"price\":1,\"timestamp\":\"2024-01-01T00:00:00.123Z\"}\n"
    "{\"symbol\":\"BTC\",\"price\":2,\"timestamp\":\"2024-01-01T02:00:00.5+02:00\"}\n"
    "{\"symbol\":\"BTC\",\"price\":3,\"timestamp\":1704067200750}\n"
    "{\"symbol\":\"BTC\",\"price\":4,\"timestamp\":\"1704067201000\"}\n"
    "{\"symbol\":\"BTC\",\"price\":5,\"timestamp\":1704067202000.0}\r\n"
    "{\"symbol\":\"BTC\",\"price\":6,\"timestamp\":\"2024-01-01T00:00:03\"}\n");

  start_file (f, path, "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      JsonObject *d = json_object_get_object_member (updates->pdata[i], "data");

      g_assert_cmpstr (json_object_get_string_member (d, "timestamp"), ==, expected[i]);
      assert_number (d, "price", i + 1);
    }
}

static void
test_event_lines (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GPtrArray) updates = NULL;
  JsonObject *d;
  /* What the jsonl sink writes: financial updates play, other events are
   * ignored without being bad lines. */
  const char *path = write_tmp (f,
    "{\"event\":\"source_status\",\"data\":{\"source\":\"coinbase\",\"state\":\"live\"}}\n"
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"ETH\",\"data\":{\"price\":2301.5,"
    "\"volume\":10,\"change\":null,\"bid\":2301,\"ask\":2302,\"source\":\"coinbase\","
    "\"timestamp\":\"2024-01-01T00:00:00.000Z\"}}}\n");

  start_file (f, path, "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, 1);
  d = json_object_get_object_member (updates->pdata[0], "data");
  g_assert_cmpstr (json_object_get_string_member (updates->pdata[0], "symbol"), ==, "ETH");
  g_assert_cmpstr (json_object_get_string_member (d, "source"), ==, "coinbase");
  assert_number (d, "price", 2301.5);
  assert_number (d, "bid", 2301);
  assert_number (d, "change", NAN);
  g_assert_true (th_test_log_contains (": 2 lines, 1 ticks, 0 bad lines skipped"));
}

static void
test_end_without_exit (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "replay-basic.jsonl", NULL);
  g_autoptr(GPtrArray) statuses = NULL;
  gboolean live = FALSE;

  start_file (f, path, "");
  th_test_wait_until (replay_disabled (f), 20000);
  th_test_drain ();
  g_assert_false (f->quit);
  g_assert_cmpuint (th_test_count_events (f->events, "financial_data_update", NULL), ==, 9);

  statuses = th_test_events_data (f->events, "source_status", NULL);
  for (guint i = 0; i < statuses->len; i++)
    {
      JsonObject *s = statuses->pdata[i];

      if (g_strcmp0 (json_object_get_string_member (s, "source"), "replay") != 0)
        continue;
      if (g_str_equal (json_object_get_string_member (s, "state"), "live"))
        live = TRUE;
      else
        {
          g_assert_cmpstr (json_object_get_string_member (s, "state"), ==, "disabled");
          g_assert_cmpstr (json_object_get_string_member (s, "reason"), ==,
                           "end of file (14 lines, 9 ticks, 0 bad lines skipped)");
          g_assert_true (live);
        }
    }
}

static void
test_file_gone (Fixture       *f,
                gconstpointer  data)
{
  const char *path = write_tmp (f, "{\"symbol\":\"BTC\",\"price\":1,\"timestamp\":1704067200000}\n");
  g_autofree char *conf = conf_for (path, "exit-at-end=true\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) statuses = NULL;
  JsonObject *last;

  /* Checked at load, gone at start: reported down, and exit status 1. */
  load (f, conf, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_unlink (path), ==, 0);
  th_hub_start (f->hub);
  th_test_wait_until (f->quit, 20000);

  g_assert_cmpint (f->quit_code, ==, 1);
  g_assert_cmpuint (th_test_count_events (f->events, "financial_data_update", NULL), ==, 0);
  statuses = th_test_events_data (f->events, "source_status", NULL);
  g_assert_cmpuint (statuses->len, >, 0);
  last = statuses->pdata[statuses->len - 1];
  g_assert_cmpstr (json_object_get_string_member (last, "source"), ==, "replay");
  g_assert_cmpstr (json_object_get_string_member (last, "state"), ==, "down");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (last, "reason"), "cannot open “test-replay-"));
  g_assert_true (th_test_log_contains ("WARNING cannot open “test-replay-"));
}

static void
test_bad_config (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "replay-basic.jsonl", NULL);
  g_autofree char *missing = g_build_filename (g_get_tmp_dir (), "no-such-dir-tickhub", "ticks.jsonl", NULL);
  g_autofree char *conf = conf_for (missing, "");
  g_autofree char *needle = g_strdup_printf ("[replay] path: cannot read “%s”: %s", missing, g_strerror (ENOENT));
  g_autofree char *loop = conf_for (path, "loop=true\nexit-at-end=true\n");
  g_autofree char *raw = conf_for (path, "format=raw\nspeed=1\n");
  g_autofree char *csv = conf_for (path, "format=csv\n");
  g_autofree char *jsonl = conf_for (path, "format=jsonl\n");
  g_autofree char *speed = conf_for (path, "speed=-1\n");
  g_autofree char *folder = conf_for (g_get_tmp_dir (), "");
  g_autoptr(ThHub) hub = NULL;

  th_test_assert_bad_config (conf, needle);
  th_test_assert_bad_config ("[tickhub]\nplugins=replay\nsymbols=BTC\n", "[replay] path: no file to play");
  th_test_assert_bad_config (loop, "[replay] loop: a loop never reaches the end of the file");
  th_test_assert_bad_config (raw, "[replay] speed: format=raw plays recorded frames as fast as possible");
  th_test_assert_bad_config (csv, "[replay] format: “csv” is not one of jsonl, raw");
  th_test_assert_bad_config (speed, "[replay] speed: “-1” is negative");
  th_test_assert_bad_config (folder, "is a folder");

  hub = th_test_hub_new (jsonl, NULL);
}

static void
test_relative_path (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = th_test_make_tmp_dir ("test-replay-XXXXXX");
  g_autofree char *ticks_path = th_test_write_file (dir, "ticks.jsonl",
    "{\"symbol\":\"ETH\",\"price\":2000,\"timestamp\":\"2024-05-01T00:00:00Z\"}\n");
  g_autofree char *conf_path = th_test_write_file (dir, "tickhub.conf",
    "[tickhub]\nplugins=replay\nsymbols=ETH\n[replay]\npath=ticks.jsonl\nexit-at-end=true\n");
  g_autoptr(ThConfig) config = th_config_new ();

  th_config_load_from_file (config, conf_path, &error);
  g_assert_no_error (error);
  load_config (f, config, &error);
  g_assert_no_error (error);
  th_hub_start (f->hub);
  th_test_wait_until (f->quit, 20000);
  g_assert_cmpuint (th_test_count_events (f->events, "financial_data_update", NULL), ==, 1);

  th_test_remove_tmp_dir (dir);
}

/* Many lines at speed 0 are played in batches, with main-loop iterations
 * in between. */
typedef struct
{
  Fixture *f;
  guint    probes;
  guint    seen_midway;
} Probe;

static gboolean
on_probe (gpointer data)
{
  Probe *p = data;
  guint n = 0;

  for (guint i = 0; i < p->f->events->len; i++)
    n += g_str_equal (th_event_get_name (p->f->events->pdata[i]), "financial_data_update");
  p->probes++;
  if (n > 0 && n < 5000)
    p->seen_midway++;
  return G_SOURCE_CONTINUE;
}

static void
test_batched (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GString) contents = g_string_new (NULL);
  g_autoptr(GPtrArray) updates = NULL;
  Probe probe = { f, 0, 0 };
  guint probe_id;
  const char *path;

  for (guint i = 0; i < 5000; i++)
    g_string_append_printf (contents, "{\"symbol\":\"BTC\",\"price\":%u,\"size\":0.01,\"timestamp\":%" G_GINT64_FORMAT "}\n",
                            40000 + i, G_GINT64_CONSTANT (1704067200000) + i * 100);
  path = write_tmp (f, contents->str);

  start_file (f, path, "exit-at-end=true\n");
  probe_id = g_idle_add (on_probe, &probe);
  th_test_wait_until (f->quit, 20000);
  g_source_remove (probe_id);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, 5000);
  for (guint i = 0; i < updates->len; i++)
    assert_number (json_object_get_object_member (updates->pdata[i], "data"), "price", 40000 + i);
  g_assert_cmpuint (probe.seen_midway, >=, 3);
}

static void
test_long_line (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GString) contents = g_string_new ("{\"symbol\":\"BTC\",\"price\":1,\"timestamp\":1704067200000}\n");
  g_autoptr(GPtrArray) updates = NULL;

  /* A line of 3 MiB, as a file that is not JSON lines would have. */
  g_string_append (contents, "{\"symbol\":\"BTC\",\"junk\":\"");
  for (guint i = 0; i < 3 * 1024 * 1024; i++)
    g_string_append_c (contents, 'x');
  g_string_append (contents, "\"}\n{\"symbol\":\"BTC\",\"price\":2,\"timestamp\":1704067201000}\n");

  start_file (f, write_tmp (f, contents->str), "exit-at-end=true\n");
  th_test_wait_until (f->quit, 20000);

  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  g_assert_cmpuint (updates->len, ==, 2);
  g_assert_true (th_test_log_contains (":2: line is longer than 1 MiB"));
  g_assert_true (th_test_log_contains (": 3 lines, 2 ticks, 1 bad lines skipped"));
}

static void
test_loop (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GPtrArray) updates = NULL;
  gint64 last = 0;
  const char *path = write_tmp (f,
    "{\"symbol\":\"BTC\",\"price\":1,\"size\":1,\"timestamp\":\"2024-01-01T00:00:00Z\"}\n"
    "{\"symbol\":\"BTC\",\"price\":2,\"size\":1,\"timestamp\":\"2024-01-01T00:00:30Z\"}\n"
    "{\"symbol\":\"BTC\",\"price\":3,\"size\":1,\"timestamp\":\"2024-01-01T00:01:00Z\"}\n");

  start_file (f, path, "loop=true\n");
  th_test_wait_until (th_test_count_events (f->events, "financial_data_update", NULL) >= 7, 20000);
  th_hub_stop_async (f->hub, NULL, NULL, NULL);

  /* Each pass comes after the previous one: 00:01:30, 00:02:00, ... */
  updates = th_test_events_data (f->events, "financial_data_update", NULL);
  for (guint i = 0; i < 7; i++)
    {
      JsonObject *d = json_object_get_object_member (updates->pdata[i], "data");
      g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (json_object_get_string_member (d, "timestamp"), NULL);
      gint64 t = g_date_time_to_unix (dt);

      assert_number (d, "price", i % 3 + 1);
      g_assert_cmpint (t, ==, 1704067200 + 30 * (gint64) i);
      g_assert_cmpint (t, >, last);
      last = t;
    }
  g_assert_false (f->quit);
}

static guint
updates_after_iterations (Fixture *f)
{
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  return th_test_count_events (f->events, "financial_data_update", NULL);
}

static void
test_speed (Fixture       *f,
            gconstpointer  data)
{
  /* Gaps of 2 s and 4 s, played twice as fast on the manual clock. */
  const char *path = write_tmp (f,
    "{\"symbol\":\"BTC\",\"price\":1,\"timestamp\":\"2024-01-01T00:00:00Z\"}\n"
    "{\"symbol\":\"BTC\",\"price\":2,\"timestamp\":\"2024-01-01T00:00:02Z\"}\n"
    "{\"symbol\":\"BTC\",\"price\":3,\"timestamp\":\"2024-01-01T00:00:06Z\"}\n");
  ThManualClock *clock = TH_MANUAL_CLOCK (f->clock);

  start_file (f, path, "speed=2\nexit-at-end=true\n");
  th_test_wait_until (th_test_count_events (f->events, "financial_data_update", NULL) >= 1, 20000);
  g_assert_cmpuint (updates_after_iterations (f), ==, 1);

  th_manual_clock_advance (clock, 999 * 1000);
  g_assert_cmpuint (updates_after_iterations (f), ==, 1);
  th_manual_clock_advance (clock, 1000);
  g_assert_cmpuint (updates_after_iterations (f), ==, 2);

  th_manual_clock_advance (clock, 1999 * 1000);
  g_assert_cmpuint (updates_after_iterations (f), ==, 2);
  th_manual_clock_advance (clock, 1000);
  th_test_wait_until (f->quit, 20000);
  g_assert_cmpuint (th_test_count_events (f->events, "financial_data_update", NULL), ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  replay_log = th_test_capture_log ("Tickhub-Replay");

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/replay/basic-in-file-order", test_basic_in_file_order);
  ADD ("/replay/closed-candles", test_closed_candles);
  ADD ("/replay/bad-lines-skipped", test_bad_lines_skipped);
  ADD ("/replay/deep-lines-skipped", test_deep_lines_skipped);
  ADD ("/replay/long-line-skipped", test_long_line);
  ADD ("/replay/timestamps-iso-and-epoch-ms", test_timestamps);
  ADD ("/replay/event-lines", test_event_lines);
  ADD ("/replay/end-without-exit", test_end_without_exit);
  ADD ("/replay/file-gone-at-start", test_file_gone);
  g_test_add_func ("/replay/bad-config-names-the-key", test_bad_config);
  ADD ("/replay/relative-path", test_relative_path);
  ADD ("/replay/batched-at-speed-0", test_batched);
  ADD ("/replay/loop-moves-time-forward", test_loop);
  ADD ("/replay/speed-2-on-manual-clock", test_speed);
#undef ADD

  return g_test_run ();
}
