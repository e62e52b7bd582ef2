/* tickhubd: the tickhub daemon
 *
 * Loads the configuration, the plugins, and runs the hub until SIGINT or
 * SIGTERM (or until a plugin asks to quit, as the replay feed does with
 * exit-at-end=true): then it stops the feeds, flushes the sinks and exits,
 * STOP_TIMEOUT_SECONDS after the signal at the latest.
 *
 * On D-Bus it is org.tickhub.Tickhub: a GApplication with
 * G_APPLICATION_IS_SERVICE on the session bus, exporting the
 * org.tickhub.Tickhub1 object (th-service.c) in dbus_register; with
 * --system it owns the name on the system bus instead (GApplication only
 * knows the session bus). Without a bus it runs as before, a plain main
 * loop, so that it works from a shell, a container or a test without a
 * session. In service mode (--service, or started by D-Bus activation) it
 * exits after [dbus] idle-timeout seconds without a method call, unless a
 * sink must keep running.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <glib-unix.h>
#include <tickhub.h>

#include "th-service.h"
#include "th-service-alerts.h"

/* sysexits.h: a configuration error. */
#define EXIT_CONFIG 78
/* How long the sinks get to flush on exit: one deadline for all of them
 * together, from the start of the stop. Then the stop is cancelled, which
 * stops the sinks without waiting any more, and tickhubd exits 1. */
#define STOP_TIMEOUT_SECONDS 15
/* GetPrice must answer well within D-Bus's default call timeout (25 s). */
#define MAX_PRICE_WAIT 20.0
#define MAX_SIGNAL_RATE 1000.0

typedef struct
{
  GMainLoop    *loop;           /* without a GApplication */
  GApplication *app;            /* on the session bus */
  ThHub        *hub;
  int           exit_code;
  gboolean      stopping;
  gboolean      held;
  guint         stop_timeout_id;
  GCancellable *stop_cancellable;

  /* D-Bus */
  ThService       *service;
  ThServiceAlerts *alerts;        /* org.tickhub.Tickhub1.Alerts, beside it */
  GDBusConnection *exported_on;
  GDBusConnection *system_bus;
  guint            owner_id;
  gboolean         service_mode;  /* started on demand: idle exit applies */
  guint            idle_timeout;  /* s; 0 for never */
  guint            idle_id;
  gulong           activity_id;
  gboolean         releasing;     /* idle exit decided: giving the name up */
} Daemon;

/* The GApplication: only here for its D-Bus life cycle. */
#define TH_TYPE_DAEMON_APP (th_daemon_app_get_type ())
G_DECLARE_FINAL_TYPE (ThDaemonApp, th_daemon_app, TH, DAEMON_APP, GApplication)

struct _ThDaemonApp
{
  GApplication  parent_instance;
  Daemon       *daemon;
};

G_DEFINE_FINAL_TYPE (ThDaemonApp, th_daemon_app, G_TYPE_APPLICATION)

static void daemon_stop (Daemon *daemon,
                         int     exit_code);

static void
daemon_quit (Daemon *daemon)
{
  /* GetPrice calls still waiting for a price get the answer of the moment
   * (the price, or NoSource and why), not a timeout. */
  if (daemon->service != NULL)
    th_service_answer_pending (daemon->service);
  if (daemon->loop != NULL)
    g_main_loop_quit (daemon->loop);
  if (daemon->app != NULL)
    {
      if (daemon->held)
        g_application_release (daemon->app);
      daemon->held = FALSE;
      g_application_quit (daemon->app);
    }
}

/* Idle exit
 *
 * The order matters for callers. While tickhubd owns org.tickhub.Tickhub,
 * the bus routes every call to it; a daemon that stopped listening but
 * still owned the name would leave those calls unanswered (NoReply), and a
 * daemon that exited without releasing it would turn the calls in flight
 * into errors. So, when the timer fires and no call is waiting:
 *
 *   1. the decision is final: activity no longer re-arms the timer, but
 *      the object stays exported and every call that reaches us is
 *      answered, until we exit;
 *   2. ReleaseName: from the bus's answer on, a call to the name starts a
 *      fresh instance (D-Bus activation) instead of reaching this one. The
 *      bus sends us the messages it routed to us before the release ahead
 *      of its answer, on the same socket, so they are dispatched first;
 *   3. stop the feeds and flush the sinks (th_hub_stop_async);
 *   4. answer the GetPrice calls still waiting for a price, flush the
 *      connection, exit 0.
 *
 * A caller that addressed our unique name itself (a GDBusProxy caches the
 * owner) still reaches this instance until it exits: that is what a
 * unique name means. The tickhub client addresses the well-known name. */

static void
on_name_released (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Daemon *daemon = user_data;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 code = 0;

  reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  if (reply != NULL)
    g_variant_get (reply, "(u)", &code);
  /* 1: released; 2, 3: not ours any more (the bus went away, or a
   * replacement). Either way nothing new reaches us through the name. */
  if (reply == NULL)
    g_info ("releasing %s: %s; stopping anyway", TH_SERVICE_BUS_NAME, error->message);
  else
    g_info ("released %s (%u): new calls start a new instance", TH_SERVICE_BUS_NAME, code);
  daemon_stop (daemon, EXIT_SUCCESS);
}

static void
daemon_release_name (Daemon *daemon)
{
  daemon->releasing = TRUE;
  /* On the system bus our GDBusNameOwner would take the release for a
   * loss (and exit with a failure): let it go first. Its own ReleaseName
   * goes out before ours, so our answer covers both. */
  g_clear_handle_id (&daemon->owner_id, g_bus_unown_name);
  g_dbus_connection_call (daemon->exported_on, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "ReleaseName",
                          g_variant_new ("(s)", TH_SERVICE_BUS_NAME), G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, NULL, on_name_released, daemon);
}

static gboolean
on_idle_timeout (gpointer user_data)
{
  Daemon *daemon = user_data;

  daemon->idle_id = 0;
  if (daemon->service != NULL && th_service_is_busy (daemon->service))
    {
      daemon->idle_id = g_timeout_add_seconds (1, on_idle_timeout, daemon);
      return G_SOURCE_REMOVE;
    }
  g_message ("no D-Bus activity for %u s: exiting ([dbus] idle-timeout)", daemon->idle_timeout);
  if (daemon->exported_on != NULL)
    daemon_release_name (daemon);
  else
    daemon_stop (daemon, EXIT_SUCCESS);
  return G_SOURCE_REMOVE;
}

static void
idle_rearm (Daemon *daemon)
{
  g_clear_handle_id (&daemon->idle_id, g_source_remove);
  if (daemon->service_mode && daemon->idle_timeout > 0 && !daemon->stopping && !daemon->releasing)
    daemon->idle_id = g_timeout_add_seconds (daemon->idle_timeout, on_idle_timeout, daemon);
}

static void
on_activity (ThService *service,
             Daemon    *daemon)
{
  idle_rearm (daemon);
}

/* D-Bus */

static gboolean
daemon_export (Daemon          *daemon,
               GDBusConnection *connection,
               GError         **error)
{
  if (daemon->exported_on != NULL)
    return TRUE;
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (daemon->service), connection,
                                         TH_SERVICE_OBJECT_PATH, error))
    return FALSE;
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (daemon->alerts), connection,
                                         TH_SERVICE_OBJECT_PATH, error))
    {
      g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (daemon->service), connection);
      return FALSE;
    }
  daemon->exported_on = g_object_ref (connection);
  g_info ("serving %s at %s", TH_SERVICE_BUS_NAME, TH_SERVICE_OBJECT_PATH);
  return TRUE;
}

static void
daemon_unexport (Daemon *daemon)
{
  if (daemon->exported_on == NULL)
    return;
  g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (daemon->service),
                                                      daemon->exported_on);
  g_dbus_interface_skeleton_unexport_from_connection (G_DBUS_INTERFACE_SKELETON (daemon->alerts),
                                                      daemon->exported_on);
  g_clear_object (&daemon->exported_on);
}

static gboolean
th_daemon_app_dbus_register (GApplication    *app,
                             GDBusConnection *connection,
                             const char      *object_path,
                             GError         **error)
{
  ThDaemonApp *self = TH_DAEMON_APP (app);

  if (!G_APPLICATION_CLASS (th_daemon_app_parent_class)->dbus_register (app, connection, object_path, error))
    return FALSE;
  return daemon_export (self->daemon, connection, error);
}

static void
th_daemon_app_dbus_unregister (GApplication    *app,
                               GDBusConnection *connection,
                               const char      *object_path)
{
  ThDaemonApp *self = TH_DAEMON_APP (app);

  if (self->daemon->exported_on == connection)
    daemon_unexport (self->daemon);
  G_APPLICATION_CLASS (th_daemon_app_parent_class)->dbus_unregister (app, connection, object_path);
}

static void
th_daemon_app_activate (GApplication *app)
{
  /* A service: activation only means "be running", which it is. */
}

static void
th_daemon_app_class_init (ThDaemonAppClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  app_class->dbus_register = th_daemon_app_dbus_register;
  app_class->dbus_unregister = th_daemon_app_dbus_unregister;
  app_class->activate = th_daemon_app_activate;
}

static void
th_daemon_app_init (ThDaemonApp *self)
{
}

static void
on_name_acquired (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  g_info ("owning %s on the system bus", name);
}

static void
on_name_lost (GDBusConnection *connection,
              const char      *name,
              gpointer         user_data)
{
  Daemon *daemon = user_data;

  if (daemon->service_mode)
    {
      g_warning ("cannot own %s on the system bus (another tickhubd, or the bus policy "
                 "org.tickhub.Tickhub.conf is not installed); exiting", name);
      daemon_stop (daemon, EXIT_FAILURE);
    }
  else
    g_warning ("cannot own %s on the system bus (another tickhubd, or the bus policy "
               "org.tickhub.Tickhub.conf is not installed); running without D-Bus", name);
}

/* Stopping */

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
  daemon_quit (daemon);
}

static gboolean
on_stop_timeout (gpointer user_data)
{
  Daemon *daemon = user_data;

  daemon->stop_timeout_id = 0;
  daemon->exit_code = EXIT_FAILURE;
  /* The hub completes a cancelled stop at once, whether the sinks answer
   * or not: on_stopped() comes next, from the main loop. */
  g_warning ("the sinks did not flush within %d s; giving up on what they could not write", STOP_TIMEOUT_SECONDS);
  g_cancellable_cancel (daemon->stop_cancellable);
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
  g_clear_handle_id (&daemon->idle_id, g_source_remove);
  daemon->stop_timeout_id = g_timeout_add (STOP_TIMEOUT_SECONDS * 1000, on_stop_timeout, daemon);
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
shipped_config_path (const char *name)
{
  const char *datadir = g_getenv ("TICKHUB_DATADIR");

  return g_build_filename (datadir != NULL && *datadir != '\0' ? datadir : TH_PKGDATADIR, name, NULL);
}

/* A system-wide daemon (--system) is configured by the administrator: the
 * first tickhub/tickhub.conf of $XDG_CONFIG_DIRS (/etc/xdg when unset),
 * then the shipped default. The per-user folder is not searched: it would
 * be the home of the service's user. */
static char *
system_config_find_file (void)
{
  const char *const *dirs = g_get_system_config_dirs ();

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], "tickhub", "tickhub.conf", NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }
  return shipped_config_path ("tickhub.conf");
}

/* [dbus]: tickhubd's own group, declared to the hub, which checks its
 * keys' types with the other groups (th_hub_add_config_group()); the
 * ranges here. */
#define DBUS_GROUP_SPEC "idle-timeout:seconds,signal-rate:number,price-wait:seconds"

static void
check_dbus_group (ThConfig  *config,
                  GPtrArray *problems)
{
  double rate = th_config_get_double (config, "dbus", "signal-rate", TH_SERVICE_DEFAULT_SIGNAL_RATE);
  double wait = th_config_get_double (config, "dbus", "price-wait", TH_SERVICE_DEFAULT_PRICE_WAIT);

  if (th_config_has_key (config, "dbus", "signal-rate") && isfinite (rate) &&
      (rate <= 0 || rate > MAX_SIGNAL_RATE))
    g_ptr_array_add (problems, g_strdup_printf ("[dbus] signal-rate: %g is out of range; use a number of "
                                                "PriceChanged signals per symbol per second, more than 0 and "
                                                "at most %g, such as 1", rate, MAX_SIGNAL_RATE));
  if (th_config_has_key (config, "dbus", "price-wait") && isfinite (wait) && wait > MAX_PRICE_WAIT)
    g_ptr_array_add (problems, g_strdup_printf ("[dbus] price-wait: %g s is too long; D-Bus callers give up "
                                                "after 25 s, use at most %g", wait, MAX_PRICE_WAIT));
}

/* Whether a sink must keep the daemon running although nobody calls it:
 * each sink says (th_sink_keeps_alive()). */
static gboolean
has_keep_alive_sink (ThHub *hub)
{
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (hub);

  for (guint i = 0; i < sinks->len; i++)
    if (th_sink_keeps_alive (sinks->pdata[i]))
      return TRUE;
  return FALSE;
}

/* Whether a session bus can be reached; GApplication would otherwise
 * register without one and warn when it is dropped. */
static gboolean
session_bus_available (void)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);

  return bus != NULL;
}

/* Started on demand with a configuration that cannot run: without this
 * the caller would only learn "exited with status 78". For a while, own
 * the name and answer every call with org.tickhub.Tickhub1.Error.BadConfig
 * and the problems, then exit with EXIT_CONFIG. */
#define CONFIG_ERROR_LINGER 5   /* seconds without a call */

typedef struct
{
  GMainLoop *loop;
  char      *message;
  guint      timeout_id;
} ConfigError;

static gboolean
config_error_done (gpointer data)
{
  ConfigError *ce = data;

  ce->timeout_id = 0;
  g_main_loop_quit (ce->loop);
  return G_SOURCE_REMOVE;
}

static void
config_error_call (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *object_path,
                   const char            *interface_name,
                   const char            *method_name,
                   GVariant              *parameters,
                   GDBusMethodInvocation *invocation,
                   gpointer               data)
{
  ConfigError *ce = data;

  g_dbus_method_invocation_return_dbus_error (invocation, "org.tickhub.Tickhub1.Error.BadConfig", ce->message);
  g_clear_handle_id (&ce->timeout_id, g_source_remove);
  ce->timeout_id = g_timeout_add_seconds (CONFIG_ERROR_LINGER, config_error_done, ce);
}

static void
config_error_name_lost (GDBusConnection *connection,
                        const char      *name,
                        gpointer         data)
{
  config_error_done (data);
}

static int
serve_config_error (gboolean    system_bus,
                    const char *message)
{
  static const GDBusInterfaceVTable vtable = { config_error_call, NULL, NULL, { 0 } };
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  ConfigError ce = { 0 };
  guint registration, owner;

  /* Before any main loop runs: nothing else waits on this. */
  bus = g_bus_get_sync (system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    return EXIT_CONFIG;
  /* A bus that goes away ends the wait (the name is lost), not the process. */
  g_dbus_connection_set_exit_on_close (bus, FALSE);
  registration = g_dbus_connection_register_object (bus, TH_SERVICE_OBJECT_PATH, th_tickhub1_interface_info (),
                                                    &vtable, &ce, NULL, &error);
  if (registration == 0)
    return EXIT_CONFIG;

  ce.loop = g_main_loop_new (NULL, FALSE);
  ce.message = g_strdup (message);
  ce.timeout_id = g_timeout_add_seconds (CONFIG_ERROR_LINGER, config_error_done, &ce);
  owner = g_bus_own_name_on_connection (bus, TH_SERVICE_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                        NULL, config_error_name_lost, &ce, NULL);
  g_main_loop_run (ce.loop);

  g_bus_unown_name (owner);
  g_dbus_connection_unregister_object (bus, registration);
  g_dbus_connection_flush_sync (bus, NULL, NULL);
  g_clear_handle_id (&ce.timeout_id, g_source_remove);
  g_main_loop_unref (ce.loop);
  g_free (ce.message);
  return EXIT_CONFIG;
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
  gboolean system_bus = FALSE;
  gboolean no_dbus = FALSE;
  gboolean service = FALSE;
  gboolean gapplication_service = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, "Read the configuration from FILE", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config, "Check the configuration and exit", NULL },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo, "Run the offline demo (simulated prices, labelled as such)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages (same as G_MESSAGES_DEBUG=all)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "service", 0, 0, G_OPTION_ARG_NONE, &service,
      "Run as a D-Bus service started on demand: exit after [dbus] idle-timeout seconds without calls", NULL },
    { "gapplication-service", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &gapplication_service, NULL, NULL },
    { "system", 0, 0, G_OPTION_ARG_NONE, &system_bus, "Serve on the system bus instead of the session bus", NULL },
    { "no-dbus", 0, 0, G_OPTION_ARG_NONE, &no_dbus, "Do not serve on D-Bus", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThConfig) config = NULL;
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(ThDaemonApp) app = NULL;
  Daemon daemon = { 0 };
  guint sigint_id, sigterm_id;
  gboolean hub_ok;
  gboolean activated;
  double idle_timeout, signal_rate, price_wait;

  /* Messages are UTF-8; GLib converts them to the terminal's charset. */
  setlocale (LC_ALL, "");

  /* A sink writing to a closed pipe or socket gets EPIPE, not a signal. */
  signal (SIGPIPE, SIG_IGN);

  /* Every client is a file descriptor: take what the hard limit allows
   * (the soft limit is often 1,024; nothing here uses select()). The
   * server keeps [server] max-sockets under it. */
  {
    struct rlimit rl;

    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
      {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
      }
  }

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
    "The tickhub daemon: market-data feeds, one trustworthy price per symbol,\n"
    "candles, indicators and sinks, all configured in one keyfile.");
  g_option_context_set_description (context,
    "Without --config, the configuration is the first of\n"
    "  $XDG_CONFIG_HOME/tickhub/tickhub.conf, $XDG_CONFIG_DIRS/tickhub/tickhub.conf\n"
    "and the shipped default; with --system, $XDG_CONFIG_HOME is not searched\n"
    "(system-wide: /etc/xdg/tickhub/tickhub.conf).\n"
    "\n"
    "On D-Bus it is org.tickhub.Tickhub (session bus; --system for the system bus),\n"
    "when a bus is available; query it with the tickhub command.\n"
    "\n"
    "SIGINT or SIGTERM stops the feeds and gives the sinks 15 s in all to flush;\n"
    "a sink not done by then is stopped without it, and tickhubd exits 1.\n"
    "No event reaches a sink after the signal. A second signal exits at once.\n");
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
  if (no_dbus && (system_bus || service || gapplication_service))
    {
      g_printerr ("tickhubd: --no-dbus excludes --system and --service\n");
      return EXIT_FAILURE;
    }

  if (demo)
    config_path = shipped_config_path ("demo.conf");
  else if (config_path == NULL && system_bus)
    config_path = system_config_find_file ();
  else if (config_path == NULL)
    config_path = th_config_find_file ();

  /* Started by D-Bus (or told to act as its service): a config that
   * cannot run is said to the caller too. */
  activated = !check_config && !no_dbus &&
              (service || gapplication_service || g_getenv ("DBUS_STARTER_BUS_TYPE") != NULL);

  config = th_config_new ();
  if (!th_config_load_from_file (config, config_path, &error))
    {
      g_autofree char *message = g_strdup_printf ("tickhubd cannot start: %s", error->message);
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

      /* One problem a line, each naming its place. */
      for (guint i = 0; lines[i] != NULL; i++)
        g_printerr ("tickhubd: %s\n", lines[i]);
      return activated ? serve_config_error (system_bus, message) : EXIT_CONFIG;
    }

  hub = th_hub_new (config, NULL);
  th_hub_add_config_group (hub, "dbus", DBUS_GROUP_SPEC);
  hub_ok = th_hub_load (hub, &error);
  check_dbus_group (config, problems);
  if (!hub_ok || problems->len > 0)
    {
      g_auto(GStrv) lines = hub_ok ? g_new0 (char *, 1) : g_strsplit (error->message, "\n", -1);
      guint n = g_strv_length (lines) + problems->len;
      g_autoptr(GString) report = g_string_new (NULL);

      g_string_append_printf (report, "%s has %u problem%s:", config_path, n, n == 1 ? "" : "s");
      for (guint i = 0; lines[i] != NULL; i++)
        g_string_append_printf (report, "\n  %s", lines[i]);
      for (guint i = 0; i < problems->len; i++)
        g_string_append_printf (report, "\n  %s", (char *) problems->pdata[i]);
      g_printerr ("tickhubd: %s\n", report->str);
      if (activated)
        {
          g_autofree char *message = g_strdup_printf ("tickhubd cannot start: %s", report->str);

          /* The plugins' objects go before the wait. */
          g_object_run_dispose (G_OBJECT (hub));
          return serve_config_error (system_bus, message);
        }
      return EXIT_CONFIG;
    }

  if (check_config)
    {
      g_auto(GStrv) failed = th_hub_list_disabled_plugins (hub);
      g_auto(GStrv) plugins = th_hub_list_plugins (hub);

      /* A run would go on without them; a check says so and fails. */
      if (failed[0] != NULL)
        {
          guint n = g_strv_length (failed);

          g_printerr ("tickhubd: %s has %u plugin%s that failed:\n", config_path, n, n == 1 ? "" : "s");
          for (guint i = 0; failed[i] != NULL; i++)
            {
              g_autofree char *reason = g_strdup (th_hub_get_plugin_error (hub, failed[i]));
              char *nl = strchr (reason, '\n');

              if (nl != NULL)
                *nl = '\0';
              g_printerr ("  [tickhub] plugins: plugin “%s” %s; tickhubd would run without it\n",
                          failed[i], reason);
            }
          return EXIT_CONFIG;
        }

      g_autofree char *list = g_strjoinv (", ", plugins);

      g_print ("%s: OK (plugins: %s)\n", config_path, list);
      return EXIT_SUCCESS;
    }

  if (demo)
    g_message ("demo mode: every price is simulated and labelled \"source\":\"simulator\"");
  g_info ("configuration %s", config_path);

  daemon.hub = hub;

  /* D-Bus: settings, and the service object. */
  idle_timeout = th_config_get_double (config, "dbus", "idle-timeout", TH_SERVICE_DEFAULT_IDLE_TIMEOUT);
  signal_rate = th_config_get_double (config, "dbus", "signal-rate", TH_SERVICE_DEFAULT_SIGNAL_RATE);
  price_wait = th_config_get_double (config, "dbus", "price-wait", TH_SERVICE_DEFAULT_PRICE_WAIT);
  daemon.service_mode = service || gapplication_service || g_getenv ("DBUS_STARTER_BUS_TYPE") != NULL;
  daemon.idle_timeout = (guint) ceil (CLAMP (idle_timeout, 0, G_MAXUINT / 2));
  if (daemon.service_mode && daemon.idle_timeout > 0 && has_keep_alive_sink (hub))
    {
      g_info ("a sink keeps the service running: no idle exit");
      daemon.idle_timeout = 0;
    }
  if (!no_dbus)
    {
      th_service_register_errors ();
      daemon.service = th_service_new (hub, signal_rate, (gint64) (price_wait * G_USEC_PER_SEC));
      th_service_set_status_info (daemon.service, config_path,
                                  daemon.service_mode ? daemon.idle_timeout : 0);
      daemon.activity_id = g_signal_connect (daemon.service, "activity", G_CALLBACK (on_activity), &daemon);
      daemon.alerts = th_service_alerts_new (hub);
      g_signal_connect (daemon.alerts, "activity", G_CALLBACK (on_activity), &daemon);
    }

  if (no_dbus)
    ;
  else if (system_bus)
    {
      daemon.system_bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
      if (daemon.system_bus == NULL || !daemon_export (&daemon, daemon.system_bus, &error))
        {
          if (daemon.service_mode)
            {
              g_printerr ("tickhubd: cannot serve on the system bus: %s\n", error->message);
              return EXIT_FAILURE;
            }
          g_warning ("no D-Bus system bus (%s): running without D-Bus", error->message);
          g_clear_error (&error);
        }
      else
        daemon.owner_id = g_bus_own_name_on_connection (daemon.system_bus, TH_SERVICE_BUS_NAME,
                                                        G_BUS_NAME_OWNER_FLAGS_DO_NOT_QUEUE,
                                                        on_name_acquired, on_name_lost, &daemon, NULL);
    }
  else if (!daemon.service_mode && !session_bus_available ())
    g_info ("no D-Bus session bus: running without D-Bus");
  else
    {
      app = g_object_new (TH_TYPE_DAEMON_APP,
                          "application-id", TH_SERVICE_BUS_NAME,
                          "flags", G_APPLICATION_IS_SERVICE,
                          NULL);
      app->daemon = &daemon;
      /* Registering owns the name and calls dbus_register, which exports
       * the service; without a session bus it succeeds without either. */
      if (!g_application_register (G_APPLICATION (app), NULL, &error) || daemon.exported_on == NULL)
        {
          const char *why = error != NULL ? error->message : "no session bus";

          if (daemon.service_mode)
            {
              g_printerr ("tickhubd: cannot serve %s on the session bus: %s\n", TH_SERVICE_BUS_NAME, why);
              return EXIT_FAILURE;
            }
          if (error != NULL)
            g_warning ("cannot serve %s on the session bus (%s): running without D-Bus", TH_SERVICE_BUS_NAME, why);
          else
            g_info ("no D-Bus session bus: running without D-Bus");
          g_clear_error (&error);
          app->daemon = NULL;
          g_clear_object (&app);
        }
      else
        {
          daemon.app = G_APPLICATION (app);
          /* The hub holds the application until it has stopped. */
          g_application_hold (daemon.app);
          daemon.held = TRUE;
        }
    }

  if (daemon.app == NULL)
    daemon.loop = g_main_loop_new (NULL, FALSE);

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &daemon);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &daemon);
  g_signal_connect (hub, "quit-requested", G_CALLBACK (on_quit_requested), &daemon);

  th_hub_start (hub);
  if (daemon.exported_on != NULL && daemon.service_mode)
    {
      if (daemon.idle_timeout > 0)
        g_info ("started on demand: exiting after %u s without D-Bus calls", daemon.idle_timeout);
      idle_rearm (&daemon);
    }

  if (daemon.app != NULL)
    {
      /* Our options are parsed: GApplication's service mode takes none. */
      char *app_argv[] = { argv[0], NULL };

      g_application_run (daemon.app, 1, app_argv);
    }
  else
    g_main_loop_run (daemon.loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_clear_handle_id (&daemon.stop_timeout_id, g_source_remove);
  g_clear_handle_id (&daemon.idle_id, g_source_remove);
  g_clear_object (&daemon.stop_cancellable);
  g_signal_handlers_disconnect_by_data (hub, &daemon);

  if (daemon.owner_id != 0)
    g_bus_unown_name (daemon.owner_id);
  daemon_unexport (&daemon);
  if (daemon.service != NULL)
    {
      g_clear_signal_handler (&daemon.activity_id, daemon.service);
      g_object_run_dispose (G_OBJECT (daemon.service));
      g_clear_object (&daemon.service);
    }
  if (daemon.alerts != NULL)
    {
      g_signal_handlers_disconnect_by_data (daemon.alerts, &daemon);
      g_object_run_dispose (G_OBJECT (daemon.alerts));
      g_clear_object (&daemon.alerts);
    }
  if (daemon.system_bus != NULL)
    g_dbus_connection_flush_sync (daemon.system_bus, NULL, NULL);
  g_clear_object (&daemon.system_bus);
  g_clear_pointer (&daemon.loop, g_main_loop_unref);

  /* Plugins in Python or JavaScript may hold the hub (their `hub`
   * property) while it holds them: dispose breaks the cycle, drops every
   * plugin and then the JavaScript context, in that order. */
  g_object_run_dispose (G_OBJECT (hub));

  return daemon.exit_code;
}
