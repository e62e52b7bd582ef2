/* test-shutdown.c: tickhubd's stop, bounded, with a sink that never flushes
 *
 * SIGTERM gives the sinks 15 s in all to flush (STOP_TIMEOUT_SECONDS in
 * tickhubd.c, the README's "Running"); then tickhubd exits 1 without
 * them. From the signal on, the hub emits nothing: the simulator's price
 * expires while the stuck sink holds the stop, and no price_source_changed
 * or no_source reaches the jsonl sink on standard output, nor any event
 * the stuck sink (tests/plugins/stuck_sink), which logs each one it gets.
 * The order names venues whose plugins are not loaded: no event names
 * them, before the stop or after. In the `slow` suite: it waits the
 * bound out, in real time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

/* The bound tickhubd documents. */
#define STOP_BOUND_SECONDS 15
/* What the machine may add to it: the sinks' stop, dispose, exit; a
 * loaded machine, a sanitizer. */
#define STOP_SLACK_SECONDS 3

typedef struct
{
  GString  *text;
  gboolean  eof;
  gboolean  priced;   /* a financial_data_update of BTC came */
} Reader;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Reader *rd = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result,
                                                                     NULL, NULL);

  if (line == NULL)
    {
      rd->eof = TRUE;
      return;
    }
  g_string_append (rd->text, line);
  g_string_append_c (rd->text, '\n');
  if (g_str_has_prefix (line, "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\""))
    rd->priced = TRUE;
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL, on_line, rd);
}

static void
test_stuck_sink_bounded_stop (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-shutdown-XXXXXX");
  g_autofree char *plugin_dir = g_test_build_filename (G_TEST_BUILT, "plugins", NULL);
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=simulator;jsonl;stuck_sink\nsymbols=BTC;ETH\ntimeframes=1m\nplugin-dirs=%s\n"
    "[prices]\norder=binance;coincap;coinbase;coingecko;simulator\n"
    "[simulator]\ninterval=0.1\nttl=1\n"
    "[jsonl]\npath=-\n",
    plugin_dir);
  g_autofree char *conf = th_test_write_file (dir, "tickhub.conf", text);
  g_autofree char *err_path = g_build_filename (dir, "stderr.txt", NULL);
  g_autofree char *err = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  g_autoptr(GError) error = NULL;
  Reader rd = { g_string_new (NULL), FALSE, FALSE };
  gint64 deadline, stopped_at, elapsed;

  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  proc = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("TICKHUBD"), "--no-dbus", "--config", conf, NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, on_line, &rd);

  /* Running: prices flow, fresh (ttl 1 s, a tick every 0.1 s). */
  th_test_wait_until (rd.priced || rd.eof, 30000);
  g_assert_true (rd.priced);
  th_test_run_for (300);

  stopped_at = g_get_monotonic_time ();
  g_subprocess_send_signal (proc, SIGTERM);
  deadline = stopped_at + (STOP_BOUND_SECONDS + STOP_SLACK_SECONDS + 10) * G_USEC_PER_SEC;
  while (!rd.eof && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (rd.eof);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  elapsed = g_get_monotonic_time () - stopped_at;

  g_file_get_contents (err_path, &err, NULL, NULL);
  if (g_test_verbose ())
    g_printerr ("stopped in %.2f s\nstderr:\n%s", elapsed / 1e6, err);

  /* Within the bound, not at its double: one deadline for the sinks. */
  g_assert_cmpint (elapsed, >=, (STOP_BOUND_SECONDS - 1) * G_USEC_PER_SEC);
  g_assert_cmpint (elapsed, <, (STOP_BOUND_SECONDS + STOP_SLACK_SECONDS) * G_USEC_PER_SEC);
  /* A sink that did not flush is a failure. */
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
  th_test_assert_contains (err, "stuck_sink: flushing, and never done");
  th_test_assert_contains (err, "the sinks did not flush within 15 s");

  /* Nothing after the stop began: the simulator's price expired during
   * the wait, and nobody heard of it. */
  g_assert_null (strstr (err, "after the stop began"));
  g_assert_null (strstr (rd.text->str, "\"to\":null"));
  g_assert_null (strstr (rd.text->str, "no_source"));
  /* Venues that are not loaded are never named. */
  g_assert_null (strstr (rd.text->str, "coincap"));
  g_assert_null (strstr (rd.text->str, "coinbase"));
  g_assert_null (strstr (rd.text->str, "coingecko"));

  g_string_free (rd.text, TRUE);
  th_test_remove_tmp_dir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/shutdown/stuck-sink-bounded-stop", test_stuck_sink_bounded_stop);

  return g_test_run ();
}
