/* tickhubd: the tickhub daemon
 *
 * Loads the configuration, the plugins, and runs the hub until SIGINT or
 * SIGTERM (or until a plugin asks to quit, as the replay feed does with
 * exit-at-end=true): then it stops the feeds, flushes the sinks and exits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <tickhub.h>

/* sysexits.h: a configuration error. */
#define EXIT_CONFIG 78
/* How long the sinks get to flush on exit. */
#define STOP_TIMEOUT_SECONDS 15

typedef struct
{
  GMainLoop *loop;
  ThHub     *hub;
  int        exit_code;
  gboolean   stopping;
  guint      stop_timeout_id;
  GCancellable *stop_cancellable;
} Daemon;

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Daemon *daemon = user_data;
  g_autoptr(GError) error = NULL;

  /* The hub has logged what went wrong. */
  if (!th_hub_stop_finish (TH_HUB (source), result, &error) && daemon->exit_code == 0)
    daemon->exit_code = EXIT_FAILURE;
  g_clear_handle_id (&daemon->stop_timeout_id, g_source_remove);
  g_main_loop_quit (daemon->loop);
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  Daemon *daemon = user_data;

  daemon->stop_timeout_id = 0;
  daemon->exit_code = EXIT_FAILURE;
  if (!g_cancellable_is_cancelled (daemon->stop_cancellable))
    {
      /* Cancelling completes the stop: the sinks give up their writes. */
      g_warning ("the sinks did not flush within %d s; giving up on them", STOP_TIMEOUT_SECONDS);
      g_cancellable_cancel (daemon->stop_cancellable);
      daemon->stop_timeout_id = g_timeout_add_seconds (5, on_stop_timeout, daemon);
      return G_SOURCE_REMOVE;
    }
  g_warning ("a sink ignored the cancellation; exiting without it");
  g_main_loop_quit (daemon->loop);
  return G_SOURCE_REMOVE;
}

static void
daemon_stop (Daemon *daemon,
             int     exit_code)
{
  if (daemon->stopping)
    return;

  daemon->stopping = TRUE;
  daemon->exit_code = exit_code;
  daemon->stop_timeout_id = g_timeout_add_seconds (STOP_TIMEOUT_SECONDS, on_stop_timeout, daemon);
  daemon->stop_cancellable = g_cancellable_new ();
  th_hub_stop_async (daemon->hub, daemon->stop_cancellable, on_stopped, daemon);
}

static gboolean
on_signal (gpointer user_data)
{
  Daemon *daemon = user_data;

  if (daemon->stopping)
    {
      g_message ("second signal: exiting without waiting for the sinks");
      exit (EXIT_FAILURE);
    }

  g_message ("stopping");
  daemon_stop (daemon, EXIT_SUCCESS);
  return G_SOURCE_CONTINUE;
}

static void
on_quit_requested (ThHub  *hub,
                   int     exit_code,
                   Daemon *daemon)
{
  g_info ("a plugin asked to quit (status %d)", exit_code);
  daemon_stop (daemon, exit_code);
}

static char *
demo_config_path (void)
{
  const char *datadir = g_getenv ("TICKHUB_DATADIR");

  return g_build_filename (datadir != NULL && *datadir != '\0' ? datadir : TH_PKGDATADIR,
                           "demo.conf", NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *config_path = NULL;
  gboolean check_config = FALSE;
  gboolean demo = FALSE;
  gboolean version = FALSE;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read the configuration from FILE", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config, "Check the configuration and exit", NULL },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo, "Run the offline demo (simulated prices, labelled as such)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages (same as G_MESSAGES_DEBUG=all)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThConfig) config = NULL;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Daemon daemon = { 0 };
  guint sigint_id, sigterm_id;

  /* Messages are UTF-8; GLib converts them to the terminal's charset. */
  setlocale (LC_ALL, "");

  /* A sink writing to a closed pipe or socket gets EPIPE, not a signal. */
  signal (SIGPIPE, SIG_IGN);

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    "The tickhub daemon: market-data feeds, one trustworthy price per symbol,\n"
    "candles, indicators and sinks, all configured in one keyfile.");
  g_option_context_set_description (context,
    "Without --config, the configuration is the first of\n"
    "  $XDG_CONFIG_HOME/tickhub/tickhub.conf, $XDG_CONFIG_DIRS/tickhub/tickhub.conf\n"
    "and the shipped default.\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("tickhubd: %s\nTry “tickhubd --help”.\n", error->message);
      return EXIT_FAILURE;
    }

  if (version)
    {
      g_print ("tickhubd %s\n", PACKAGE_VERSION);
      return EXIT_SUCCESS;
    }

  if (verbose)
    g_log_set_debug_enabled (TRUE);

  if (demo && config_path != NULL)
    {
      g_printerr ("tickhubd: --demo and --config exclude each other\n");
      return EXIT_FAILURE;
    }

  if (demo)
    config_path = demo_config_path ();
  else if (config_path == NULL)
    config_path = th_config_find_file ();

  config = th_config_new ();
  if (!th_config_load_from_file (config, config_path, &error))
    {
      g_printerr ("tickhubd: %s\n", error->message);
      return EXIT_CONFIG;
    }

  hub = th_hub_new (config, NULL);
  if (!th_hub_load (hub, &error))
    {
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      g_printerr ("tickhubd: %s has %u problem%s:\n", config_path,
                  g_strv_length (lines), g_strv_length (lines) == 1 ? "" : "s");
      for (guint i = 0; lines[i] != NULL; i++)
        g_printerr ("  %s\n", lines[i]);
      return EXIT_CONFIG;
    }

  if (check_config)
    {
      g_auto(GStrv) plugins = th_hub_list_plugins (hub);
      g_autofree char *list = g_strjoinv (", ", plugins);

      g_print ("%s: OK (plugins: %s)\n", config_path, list);
      return EXIT_SUCCESS;
    }

  if (demo)
    g_message ("demo mode: every price is simulated and labelled \"source\":\"simulator\"");
  g_info ("configuration %s", config_path);

  loop = g_main_loop_new (NULL, FALSE);
  daemon.loop = loop;
  daemon.hub = hub;

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &daemon);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &daemon);
  g_signal_connect (hub, "quit-requested", G_CALLBACK (on_quit_requested), &daemon);

  th_hub_start (hub);
  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_clear_handle_id (&daemon.stop_timeout_id, g_source_remove);
  g_clear_object (&daemon.stop_cancellable);
  g_signal_handlers_disconnect_by_data (hub, &daemon);

  return daemon.exit_code;
}
