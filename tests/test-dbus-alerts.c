/* test-dbus-alerts.c: org.tickhub.Tickhub1.Alerts and `tickhub alert`
 *
 * A private bus (GTestDBus) activates the build-tree tickhubd with the
 * simulator and the alerts plugin (tests/services, as test-dbus.c), whose
 * state file is in the test's folder. AddAlert, ListAlerts, RemoveAlert
 * and their errors; AlertTriggered for a rule that asks for the
 * simulator's prices; the same through the command-line client, and
 * `tickhub watch --alerts`.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <gio/gio.h>

#include "test-utils.h"

#define BUS_NAME    "org.tickhub.Tickhub"
#define OBJECT_PATH "/org/tickhub/Tickhub"
#define IFACE       "org.tickhub.Tickhub1.Alerts"

typedef struct
{
  GTestDBus       *bus;
  GDBusConnection *connection;
  char            *tmpdir;
  GPtrArray       *alerts;    /* GVariant*: AlertTriggered */
  guint            sub;
} Fixture;

static void
on_alert (GDBusConnection *connection,
          const char      *sender,
          const char      *path,
          const char      *interface,
          const char      *signal,
          GVariant        *parameters,
          gpointer         data)
{
  Fixture *fx = data;

  g_ptr_array_add (fx->alerts, g_variant_get_child_value (parameters, 0));
}

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  const char *path = g_getenv ("TICKHUB_DBUS_TEST_CONFIG");

  fx->tmpdir = th_test_make_tmp_dir ("tickhub-dbus-alerts-XXXXXX");
  config = g_strdup_printf ("[tickhub]\nplugins=simulator;alerts\nsymbols=BTC;ETH\n"
                            "[prices]\norder=simulator\n[simulator]\ninterval=0.05\n"
                            "[dbus]\nidle-timeout=60\n"
                            "[alerts]\nstate-file=%s/alerts.json\nconf=ETH below 1\n", fx->tmpdir);
  g_assert_nonnull (path);
  g_file_set_contents (path, config, -1, &error);
  g_assert_no_error (error);
  g_setenv ("TICKHUB_DBUS_EXIT_LOG", "/dev/null", TRUE);

  fx->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_add_service_dir (fx->bus, g_getenv ("TICKHUB_DBUS_SERVICE_DIR"));
  g_test_dbus_up (fx->bus);
  fx->connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (fx->bus),
                                                           G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                           G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                           NULL, NULL, &error);
  g_assert_no_error (error);
  fx->alerts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  fx->sub = g_dbus_connection_signal_subscribe (fx->connection, NULL, IFACE, "AlertTriggered", OBJECT_PATH, NULL,
                                                G_DBUS_SIGNAL_FLAGS_NONE, on_alert, fx, NULL);
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  g_dbus_connection_signal_unsubscribe (fx->connection, fx->sub);
  g_dbus_connection_close_sync (fx->connection, NULL, NULL);
  g_clear_object (&fx->connection);
  g_test_dbus_down (fx->bus);
  g_clear_object (&fx->bus);
  g_clear_pointer (&fx->alerts, g_ptr_array_unref);
  th_test_remove_tmp_dir (fx->tmpdir);
  g_clear_pointer (&fx->tmpdir, g_free);
  g_unsetenv ("TICKHUB_DBUS_EXIT_LOG");
}

static GVariant *
call (Fixture     *fx,
      const char  *method,
      GVariant    *parameters,
      const char  *reply_type,
      GError     **error)
{
  return g_dbus_connection_call_sync (fx->connection, BUS_NAME, OBJECT_PATH, IFACE, method,
                                      parameters, G_VARIANT_TYPE (reply_type),
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static void
assert_remote_error (GError     *error,
                     const char *name)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
}

static guint
alerts_with_id (Fixture    *fx,
                const char *id)
{
  guint n = 0;

  for (guint i = 0; i < fx->alerts->len; i++)
    {
      const char *got = NULL;

      if (g_variant_lookup (fx->alerts->pdata[i], "id", "&s", &got) && g_strcmp0 (got, id) == 0)
        n++;
    }
  return n;
}

static void
test_methods (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GVariant) rule = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  GVariantDict options;
  const char *id = NULL;
  g_autofree char *quiet = NULL;
  const char *source = NULL;
  double price = 0;

  /* A rule that never fires, then list and remove it. */
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "simulator", "b", TRUE);
  rule = call (fx, "AddAlert", g_variant_new ("(ss@a{sv})", "BTC", "below 1", g_variant_dict_end (&options)),
               "(a{sv})", &error);
  g_assert_no_error (error);
  g_variant_get (rule, "(@a{sv})", &reply);
  g_assert_true (g_variant_lookup (reply, "id", "&s", &id));
  quiet = g_strdup (id);
  g_clear_pointer (&rule, g_variant_unref);
  g_clear_pointer (&reply, g_variant_unref);

  list = call (fx, "ListAlerts", NULL, "(aa{sv})", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (list, 0)), ==, 2);   /* and conf */
  g_clear_pointer (&list, g_variant_unref);

  /* Bad input: the error names it; nothing changes. */
  rule = call (fx, "AddAlert", g_variant_new ("(ssa{sv})", "BTC", "abov 5", NULL), "(a{sv})", &error);
  g_assert_null (rule);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.BadInput");
  g_assert_nonnull (strstr (error->message, "is not a condition"));
  g_clear_error (&error);
  rule = call (fx, "AddAlert", g_variant_new ("(ssa{sv})", "DOGE", "above 5", NULL), "(a{sv})", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.UnknownSymbol");
  g_clear_error (&error);
  reply = call (fx, "RemoveAlert", g_variant_new ("(s)", "nope"), "()", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.NotFound");
  g_clear_error (&error);
  reply = call (fx, "RemoveAlert", g_variant_new ("(s)", "conf"), "()", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.NotAllowed");
  g_clear_error (&error);

  reply = call (fx, "RemoveAlert", g_variant_new ("(s)", quiet), "()", &error);
  g_assert_no_error (error);
  g_clear_pointer (&reply, g_variant_unref);
  list = call (fx, "ListAlerts", NULL, "(aa{sv})", &error);
  g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (list, 0)), ==, 1);

  /* A rule the simulator's BTC (about 43,000) fires at once. */
  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "simulator", "b", TRUE);
  g_variant_dict_insert (&options, "once", "b", TRUE);
  g_variant_dict_insert (&options, "id", "s", "sim-high");
  rule = call (fx, "AddAlert", g_variant_new ("(ss@a{sv})", "BTC", "above 1", g_variant_dict_end (&options)),
               "(a{sv})", &error);
  g_assert_no_error (error);
  th_test_wait_until (alerts_with_id (fx, "sim-high") == 1, TH_TEST_WAIT_MS);
  g_assert_true (g_variant_lookup (fx->alerts->pdata[0], "source", "&s", &source));
  g_assert_cmpstr (source, ==, "simulator");
  g_assert_true (g_variant_lookup (fx->alerts->pdata[0], "price", "d", &price));
  g_assert_cmpfloat (price, >, 1);
}

/* The command-line client. */

static int
run_cli (const char *const *args,
         char              **out,
         char              **err)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TICKHUB_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("tickhub %s:\n%s%s", args[0], *out, *err);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

typedef struct
{
  GString  *text;
  char      buf[4096];
  gboolean  eof;
} Reader;

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  Reader *r = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0)
    {
      r->eof = TRUE;
      return;
    }
  g_string_append_len (r->text, r->buf, n);
  g_input_stream_read_async (G_INPUT_STREAM (source), r->buf, sizeof r->buf, G_PRIORITY_DEFAULT, NULL, on_read, r);
}

static void
test_cli (Fixture       *fx,
          gconstpointer  data)
{
  const char *add[] = { "alert", "add", "btc", "below 1", "--simulator", "--message", "very cheap", NULL };
  const char *add_json[] = { "--json", "alert", "add", "ETH", "below", "2", "--cooldown", "10m", NULL };
  const char *bad[] = { "alert", "add", "BTC", "sideways", NULL };
  const char *list[] = { "alert", "list", NULL };
  const char *usage[] = { "alert", "frob", NULL };
  g_autofree char *id = NULL;

  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (add, &out, &err), ==, 0);
    id = g_strdup (g_strstrip (out));
    g_assert_cmpstr (id, !=, "");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (add_json, &out, &err), ==, 0);
    th_test_assert_contains (out, "\"condition\": \"below 2\"");
    th_test_assert_contains (out, "\"cooldown\": 600");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (bad, &out, &err), ==, 1);
    th_test_assert_contains (err, "“sideways” is not a condition");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (usage, &out, &err), ==, 2);
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (list, &out, &err), ==, 0);
    th_test_assert_contains (out, "CONDITION");
    th_test_assert_contains (out, id);
    th_test_assert_contains (out, "very cheap");
    th_test_assert_contains (out, "conf");
  }
  {
    const char *remove[] = { "alert", "remove", id, NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (remove, &out, &err), ==, 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_cli (remove, &out, &err), ==, 1);
    th_test_assert_contains (err, "no alert rule");
  }

  /* watch --alerts: one JSON event per alert. Rules that fire at once are
   * added until watch, subscribed by then, prints one. */
  {
    const char *argv[] = { g_getenv ("TICKHUB_CLI"), "watch", "--alerts", "--json", "BTC", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(GSubprocess) watch = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    Reader r = { g_string_new (NULL), { 0 }, FALSE };
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

    g_assert_no_error (error);
    g_input_stream_read_async (g_subprocess_get_stdout_pipe (watch), r.buf, sizeof r.buf, G_PRIORITY_DEFAULT, NULL,
                               on_read, &r);
    while (strstr (r.text->str, "price_alert") == NULL && !r.eof && g_get_monotonic_time () < deadline)
      {
        const char *fire[] = { "alert", "add", "BTC", "above 1", "--simulator", "--once", NULL };
        g_autofree char *out = NULL, *err = NULL;

        g_assert_cmpint (run_cli (fire, &out, &err), ==, 0);
        th_test_run_for (500);
      }
    th_test_assert_contains (r.text->str, "{\"event\":\"price_alert\",\"data\":{\"id\":");
    th_test_assert_contains (r.text->str, "\"symbol\":\"BTC\"");
    th_test_assert_contains (r.text->str, "\"source\":\"simulator\"");
    g_subprocess_send_signal (watch, SIGTERM);
    g_subprocess_wait (watch, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (watch), ==, 0);
    th_test_wait_until (r.eof, TH_TEST_WAIT_MS);
    g_string_free (r.text, TRUE);
  }
}

/* A rule added over D-Bus is there after the daemon stopped (SIGTERM) and
 * was started again by the next call. */
static char *
name_owner (Fixture *fx)
{
  g_autoptr(GVariant) reply = NULL;
  char *owner = NULL;

  reply = g_dbus_connection_call_sync (fx->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", BUS_NAME),
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(s)", &owner);
  return owner;
}

static void
test_restart (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GVariant) rule = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GVariant) pid_reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *text = NULL;
  guint32 pid = 0;
  GVariantDict options;
  gint64 deadline;

  g_variant_dict_init (&options, NULL);
  g_variant_dict_insert (&options, "id", "s", "kept");
  g_variant_dict_insert (&options, "message", "s", "still here");
  rule = call (fx, "AddAlert", g_variant_new ("(ss@a{sv})", "ETH", "crosses 3000", g_variant_dict_end (&options)),
               "(a{sv})", &error);
  g_assert_no_error (error);

  owner = name_owner (fx);
  g_assert_nonnull (owner);
  pid_reply = g_dbus_connection_call_sync (fx->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                           g_variant_new ("(s)", owner), G_VARIANT_TYPE ("(u)"),
                                           G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (pid_reply, "(u)", &pid);
  g_assert_cmpint (kill ((pid_t) pid, SIGTERM), ==, 0);
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *now = name_owner (fx);

      if (now == NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      th_test_run_for (50);
    }
  {
    g_autofree char *path = g_build_filename (fx->tmpdir, "alerts.json", NULL);

    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    th_test_assert_contains (text, "\"kept\"");
  }

  /* The next call starts a new daemon, which read the rule back. */
  list = call (fx, "ListAlerts", NULL, "(aa{sv})", &error);
  g_assert_no_error (error);
  {
    g_autoptr(GVariant) rules = g_variant_get_child_value (list, 0);
    gboolean found = FALSE;

    for (gsize i = 0; i < g_variant_n_children (rules); i++)
      {
        g_autoptr(GVariant) r = g_variant_get_child_value (rules, i);
        const char *id = NULL, *message = NULL;

        g_variant_lookup (r, "id", "&s", &id);
        g_variant_lookup (r, "message", "&s", &message);
        if (g_strcmp0 (id, "kept") == 0)
          {
            found = TRUE;
            g_assert_cmpstr (message, ==, "still here");
          }
      }
    g_assert_true (found);
  }
  {
    g_autofree char *second = name_owner (fx);

    g_assert_cmpstr (second, !=, owner);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/dbus-alerts/methods", Fixture, NULL, fixture_set_up, test_methods, fixture_tear_down);
  g_test_add ("/dbus-alerts/cli", Fixture, NULL, fixture_set_up, test_cli, fixture_tear_down);
  g_test_add ("/dbus-alerts/restart", Fixture, NULL, fixture_set_up, test_restart, fixture_tear_down);

  return g_test_run ();
}
