/* test-daemon.c: tickhubd end to end, as a separate process
 *
 * A replay file through tickhubd to the jsonl sink: exact, repeatable
 * candles and SMA values; --check-config listing every problem; --demo
 * printing live simulator events; a clean stop on SIGTERM.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

static const char *
tickhubd (void)
{
  const char *path = g_getenv ("TICKHUBD");

  g_assert_nonnull (path);
  return path;
}

static gboolean
on_timeout (gpointer data)
{
  g_error ("timed out waiting for tickhubd");
  return G_SOURCE_REMOVE;
}

/* Runs tickhubd with @argv (NULL-terminated, without the program) and
 * returns its exit status; stdout and stderr go to the out parameters. */
static int
run_daemon (const char *const *args,
            char              **out,
            char              **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  guint timeout;

  g_ptr_array_add (argv, (gpointer) tickhubd ());
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);

  timeout = g_timeout_add_seconds (60, on_timeout, NULL);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  g_source_remove (timeout);

  if (g_test_verbose () && err != NULL && *err != NULL)
    g_printerr ("%s", *err);

  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

/* The closed candles and indicator values of an output file, one per
 * line, in order: what must be identical between two runs. */
static char *
closed_events (const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GString *out = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();

      if (*lines[i] == '\0')
        continue;
      /* Every line is one valid envelope. */
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));

      if ((g_str_has_prefix (lines[i], "{\"event\":\"candle_update\"") ||
           g_str_has_prefix (lines[i], "{\"event\":\"technical_indicators_update\"")) &&
          strstr (lines[i], "\"closed\":true") != NULL)
        {
          g_string_append (out, lines[i]);
          g_string_append_c (out, '\n');
        }
    }
  return g_string_free (out, FALSE);
}

static void
test_replay_end_to_end (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-e2e-XXXXXX");
  g_autofree char *replay = g_test_build_filename (G_TEST_DIST, "data", "replay-e2e.jsonl", NULL);
  g_autofree char *out1 = g_build_filename (dir, "out1.jsonl", NULL);
  g_autofree char *out2 = g_build_filename (dir, "out2.jsonl", NULL);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  for (int run = 0; run < 2; run++)
    {
      g_autofree char *text = g_strdup_printf (
        "[tickhub]\nplugins=replay;jsonl\nsymbols=BTC;ETH\ntimeframes=1m;5m\n"
        "[replay]\npath=%s\nspeed=0\nexit-at-end=true\n"
        "[jsonl]\npath=%s\n"
        "[indicators]\nsma_3=sma(3)\n",
        replay, run == 0 ? "out1.jsonl" : "out2.jsonl");
      g_autofree char *conf = th_test_write_file (dir, "tickhub.conf", text);
      const char *args[] = { "--config", conf, NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (run_daemon (args, &out, &err), ==, 0);
      /* Bad lines are reported with their line numbers. */
      th_test_assert_contains (err, ":6:");
      th_test_assert_contains (err, ":9:");
    }

  first = closed_events (out1);
  second = closed_events (out2);
  g_assert_cmpstr (first, ==, second);

  /* The 1m candles, by hand from the file (minute 3 is empty: filled). */
  th_test_assert_contains (first, "{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"candle\":{\"start\":\"2024-01-01T00:00:00.000Z\","
                                  "\"open\":100,\"high\":102,\"low\":100,\"close\":101,\"volume\":1.75,\"ticks\":3,\"closed\":true}}");
  th_test_assert_contains (first, "{\"start\":\"2024-01-01T00:01:00.000Z\",\"open\":103,\"high\":103,\"low\":99,\"close\":99,\"volume\":3,\"ticks\":2,\"closed\":true}");
  th_test_assert_contains (first, "{\"start\":\"2024-01-01T00:02:00.000Z\",\"open\":104,\"high\":104,\"low\":104,\"close\":104,\"volume\":1,\"ticks\":1,\"closed\":true}");
  th_test_assert_contains (first, "{\"start\":\"2024-01-01T00:03:00.000Z\",\"open\":104,\"high\":104,\"low\":104,\"close\":104,\"volume\":0,\"ticks\":0,\"closed\":true}");
  th_test_assert_contains (first, "{\"start\":\"2024-01-01T00:04:00.000Z\",\"open\":105,\"high\":106,\"low\":105,\"close\":106,\"volume\":2,\"ticks\":2,\"closed\":true}");
  /* The 5m candle. */
  th_test_assert_contains (first, "{\"symbol\":\"BTC\",\"timeframe\":\"5m\",\"candle\":{\"start\":\"2024-01-01T00:00:00.000Z\","
                                  "\"open\":100,\"high\":106,\"low\":99,\"close\":106,\"volume\":7.75,\"ticks\":8,\"closed\":true}}");
  /* ETH: quotes only, price-only candles. */
  th_test_assert_contains (first, "{\"symbol\":\"ETH\",\"timeframe\":\"1m\",\"candle\":{\"start\":\"2024-01-01T00:00:00.000Z\","
                                  "\"open\":2300.5,\"high\":2300.5,\"low\":2300.5,\"close\":2300.5,\"volume\":null,\"ticks\":1,\"closed\":true}}");

  /* SMA(3) of the 1m closes 101, 99, 104, 104, 106. */
  th_test_assert_contains (first, "\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":null,\"timestamp\":\"2024-01-01T00:01:00.000Z\"}");
  th_test_assert_contains (first, "\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":101.33333333333333,\"timestamp\":\"2024-01-01T00:02:00.000Z\"}");
  th_test_assert_contains (first, "\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":102.33333333333333,\"timestamp\":\"2024-01-01T00:03:00.000Z\"}");
  th_test_assert_contains (first, "\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":104.66666666666667,\"timestamp\":\"2024-01-01T00:04:00.000Z\"}");

  {
    g_autofree char *all = NULL;

    g_file_get_contents (out1, &all, NULL, NULL);
    /* The first price, and the last one: nothing lost at exit. */
    th_test_assert_contains (all, "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":100,\"volume\":null,\"change\":null,"
                                  "\"bid\":null,\"ask\":null,\"source\":\"binance\",\"timestamp\":\"2024-01-01T00:00:05.000Z\"}}}");
    th_test_assert_contains (all, "\"price\":107,");
    th_test_assert_contains (all, "{\"symbol\":\"ETH\",\"data\":{\"price\":2299.25,\"volume\":1234.5,\"change\":-1.5,\"bid\":2300,\"ask\":2302,\"source\":\"coinbase\"");
  }

  th_test_remove_tmp_dir (dir);
}

static void
test_check_config_lists_every_problem (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-check-XXXXXX");
  g_autofree char *conf = th_test_write_file (dir, "tickhub.conf",
    "[tickhub]\nplugins=simulator;nosuch\ntimeframes=1m;7x\n"
    "[simulator]\ninterval=-1\ncolour=blue\n"
    "[indicators]\nsma_0=sma(0)\n");
  const char *args[] = { "--check-config", "--config", conf, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_daemon (args, &out, &err), ==, 78);
  th_test_assert_contains (err, "has 5 problems:");
  th_test_assert_contains (err, "[tickhub] plugins: unknown plugin “nosuch”");
  th_test_assert_contains (err, "[tickhub] timeframes: “7x” is not a timeframe");
  th_test_assert_contains (err, "[simulator] interval: “-1” is not a duration");
  th_test_assert_contains (err, "[simulator] colour: unknown key; the keys of [simulator] are");
  th_test_assert_contains (err, "[indicators] sma_0: sma period “0”");
  th_test_remove_tmp_dir (dir);
}

/* What GKeyFile would take without a word is an error of --check-config,
 * one line each, naming the file, the line, the group and the key. */
static void
test_check_config_text_problems (void)
{
  static const char text[] = "[tickhub]\nplugins=simulator\nsymbols=BTC\nsymbols[de]=ETH\n"
                             "[simulator]\ninterval=1\n[tickhub]\nsymbols=SOL\n"
                             "[jsonl]\npath=out\0.jsonl\n";
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-check-XXXXXX");
  g_autofree char *conf = g_build_filename (dir, "tickhub.conf", NULL);
  const char *args[] = { "--check-config", "--config", conf, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (conf, text, sizeof text - 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (run_daemon (args, &out, &err), ==, 78);
  expected = g_strdup_printf ("tickhubd: %s:4: [tickhub] symbols[de]: a localized key, which tickhub does not read; "
                              "write symbols= without [de]\n"
                              "tickhubd: %s:7: [tickhub]: the group is given again (first on line 1); "
                              "put all its keys in one [tickhub]\n"
                              "tickhubd: %s:8: [tickhub] symbols: the key is given again (first on line 3); "
                              "keep one of them\n"
                              "tickhubd: %s:10: [jsonl] path: a NUL byte in the value would cut the file short there; "
                              "remove it\n",
                              conf, conf, conf, conf);
  g_assert_cmpstr (err, ==, expected);
  g_assert_cmpstr (out, ==, "");
  th_test_remove_tmp_dir (dir);
}

/* [dbus] is tickhubd's own group, declared to the hub: its keys' types
 * are checked with the other groups, its ranges by tickhubd. */
static void
test_check_config_dbus_group (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-check-XXXXXX");
  g_autofree char *conf = th_test_write_file (dir, "tickhub.conf",
    "[tickhub]\nplugins=simulator\n"
    "[dbus]\nidle-timeout=soon\nsignal-rate=x\nprice-wait=60\nbogus=1\n"
    "[nonsense]\na=1\n");
  const char *args[] = { "--check-config", "--config", conf, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_daemon (args, &out, &err), ==, 78);
  th_test_assert_contains (err, "has 5 problems:");
  th_test_assert_contains (err, "\n  [dbus] idle-timeout: “soon” is not a duration; use a number of seconds ≥ 0 such as 10 or 0.5\n");
  th_test_assert_contains (err, "\n  [dbus] signal-rate: “x” is not a number; use a number such as 1.5\n");
  th_test_assert_contains (err, "\n  [dbus] bogus: unknown key; the keys of [dbus] are idle-timeout, signal-rate, price-wait\n");
  th_test_assert_contains (err, "\n  [nonsense]: unknown group; the groups are [tickhub], [prices], [indicators], [symbols], "
                        "[dbus] and one per plugin, named after it\n");
  th_test_assert_contains (err, "\n  [dbus] price-wait: 60 s is too long; D-Bus callers give up after 25 s, use at most 20\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_free (th_test_write_file (dir, "tickhub.conf", "[tickhub]\nplugins=simulator\n[dbus]\nidle-timeout=0\nsignal-rate=2\nprice-wait=3\n"));
  g_assert_cmpint (run_daemon (args, &out, &err), ==, 0);
  th_test_assert_contains (out, ": OK (plugins: simulator)");
  th_test_remove_tmp_dir (dir);
}

/* What we ship must pass our own checks. */
static void
test_shipped_configs_are_valid (void)
{
  const char *names[] = { "tickhub.conf", "demo.conf" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (g_getenv ("TICKHUB_DATADIR"), names[i], NULL);
      const char *args[] = { "--check-config", "--config", path, NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      if (run_daemon (args, &out, &err) != 0)
        g_error ("%s: %s", names[i], err);
      th_test_assert_contains (out, ": OK");
    }
}

static void
test_check_config_ok (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-check-XXXXXX");
  g_autofree char *conf = th_test_write_file (dir, "tickhub.conf", "[tickhub]\nplugins=simulator\n");
  const char *args[] = { "--check-config", "--config", conf, NULL };
  const char *version[] = { "--version", NULL };
  const char *missing[] = { "--config", "/nonexistent/tickhub.conf", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run_daemon (args, &out, &err), ==, 0);
  th_test_assert_contains (out, ": OK (plugins: simulator)");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_daemon (version, &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, "tickhubd "));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_cmpint (run_daemon (missing, &out, &err), ==, 78);
  th_test_assert_contains (err, "cannot read config");
  th_test_remove_tmp_dir (dir);
}

typedef struct
{
  GString  *out;
  gboolean  done;
} DemoRead;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  DemoRead *rd = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (line == NULL)
    {
      rd->done = TRUE;
      return;
    }
  g_string_append (rd->out, line);
  g_string_append_c (rd->out, '\n');
  /* Enough once the simulator has published prices of several symbols. */
  if (strstr (rd->out->str, "\"symbol\":\"AAPL\"") != NULL &&
      strstr (rd->out->str, "\"symbol\":\"BTC\"") != NULL)
    {
      rd->done = TRUE;
      return;
    }
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL, on_line, rd);
}

static void
test_demo_and_sigterm (void)
{
  const char *argv[] = { tickhubd (), "--demo", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  DemoRead rd = { g_string_new (NULL), FALSE };
  guint timeout;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));

  timeout = g_timeout_add_seconds (30, on_timeout, NULL);
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, on_line, &rd);
  while (!rd.done)
    g_main_context_iteration (NULL, TRUE);

  th_test_assert_contains (rd.out->str, "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\"");
  th_test_assert_contains (rd.out->str, "\"source\":\"simulator\"");
  /* Made-up prices never claim another source. */
  g_assert_null (strstr (rd.out->str, "\"source\":\"binance\""));

  g_subprocess_send_signal (proc, SIGTERM);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_source_remove (timeout);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_string_free (rd.out, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/daemon/replay-end-to-end", test_replay_end_to_end);
  g_test_add_func ("/daemon/check-config-lists-every-problem", test_check_config_lists_every_problem);
  g_test_add_func ("/daemon/check-config-ok", test_check_config_ok);
  g_test_add_func ("/daemon/check-config-dbus-group", test_check_config_dbus_group);
  g_test_add_func ("/daemon/check-config-text-problems", test_check_config_text_problems);
  g_test_add_func ("/daemon/shipped-configs-are-valid", test_shipped_configs_are_valid);
  g_test_add_func ("/daemon/demo-and-sigterm", test_demo_and_sigterm);

  return g_test_run ();
}
