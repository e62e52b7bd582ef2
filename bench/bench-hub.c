/* bench-hub.c: the hub plumbing every benchmark repeats: a hub from a
 * config text (a benchmark's config is its own, so an error ends it), a
 * stop that waits for the sinks to flush, the main loop run for a while.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "bench-hub.h"

/* A loaded, not started, hub; @clock may be NULL (the real clock). */
ThHub *
bench_hub_new (const char *config_text,
               ThClock    *clock)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GError) error = NULL;
  ThHub *hub;

  if (!th_config_load_from_data (config, config_text, -1, &error))
    g_error ("the benchmark's config: %s", error->message);
  hub = th_hub_new (config, clock);
  if (!th_hub_load (hub, &error))
    g_error ("cannot load the hub: %s", error->message);
  return hub;
}

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  th_hub_stop_finish (TH_HUB (source), result, NULL);
  *(gboolean *) data = TRUE;
}

/* Stops @hub and runs the main loop until it has: its sinks have flushed
 * what they hold. The caller still owns @hub. */
void
bench_hub_stop (ThHub *hub)
{
  gboolean done = FALSE;

  th_hub_stop_async (hub, NULL, on_stopped, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main context for @ms milliseconds. */
void
bench_run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* The tickhubd of the build this benchmark belongs to (bench/ and daemon/
 * are siblings in the build tree), wherever it is run from. */
char *
bench_tickhubd_path (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self != NULL ? g_path_get_dirname (self) : g_strdup (".");

  return g_build_filename (dir, "..", "daemon", "tickhubd", NULL);
}
