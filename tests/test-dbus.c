/* test-dbus.c: tickhubd as a D-Bus-activated service, and the tickhub client
 *
 * Each test runs a private bus (GTestDBus) whose service directory holds
 * tests/services/org.tickhub.Tickhub.service: its Exec is the build-tree
 * tickhubd with --service and the configuration the test writes first
 * ($TICKHUB_DBUS_TEST_CONFIG), run through tests/services/run-activated.sh,
 * which appends each instance's exit status to the fixture's exit log.
 * Everything is offline: the simulator feed, a Binance feed pointed at a
 * local fake venue (tests/fake-ws-server.c) or at a closed local port.
 * The --system tests use a second bus as the system bus, and one of them a
 * dbus-daemon with a system bus policy and our policy file.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "fake-ws-server.h"
#include "test-utils.h"

#define BUS_NAME    "org.tickhub.Tickhub"
#define OBJECT_PATH "/org/tickhub/Tickhub"
#define IFACE       "org.tickhub.Tickhub1"

/* The simulator, stepping every %s s; the service exits after %s s
 * without calls; PriceChanged at most %s times a second. */
#define SIMULATOR_CONFIG \
  "[tickhub]\nplugins=simulator\nsymbols=BTC;ETH\n" \
  "[prices]\norder=simulator\n" \
  "[simulator]\ninterval=%s\n" \
  "[dbus]\nidle-timeout=%s\nprice-wait=5\nsignal-rate=%s\n"

typedef struct
{
  GTestDBus       *bus;
  GDBusConnection *connection;
  char            *tmpdir;
  char            *exit_log;      /* one exit status per activated instance */
  FakeWs          *venue;         /* a local Binance, for some tests */
} Fixture;

static void
write_config (const char *text)
{
  g_autoptr(GError) error = NULL;
  const char *path = g_getenv ("TICKHUB_DBUS_TEST_CONFIG");

  g_assert_nonnull (path);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
fixture_bus_up (Fixture    *fixture,
                const char *config,
                gboolean    activation)
{
  g_autoptr(GError) error = NULL;

  write_config (config);
  fixture->tmpdir = th_test_make_tmp_dir ("tickhub-dbus-XXXXXX");
  fixture->exit_log = g_build_filename (fixture->tmpdir, "exits", NULL);
  /* dbus-daemon passes its environment (ours) on to what it activates. */
  g_setenv ("TICKHUB_DBUS_EXIT_LOG", fixture->exit_log, TRUE);

  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  if (activation)
    g_test_dbus_add_service_dir (fixture->bus, g_getenv ("TICKHUB_DBUS_SERVICE_DIR"));
  g_test_dbus_up (fixture->bus);

  fixture->connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (fixture->bus),
                                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                                NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  config)
{
  fixture_bus_up (fixture, config, TRUE);
}

/* A local Binance that sends a ticker to each connection, and a config
 * for it, before the bus starts (the bus watches the folder of the
 * config, its service directory). */
static void
on_venue_connected (FakeWs                  *ws,
                    SoupWebsocketConnection *conn,
                    const char              *query,
                    gpointer                 data)
{
  soup_websocket_connection_send_text (conn, data);
}

#define TICKER_BTC \
  "{\"stream\":\"btcusdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":1672515782136,\"s\":\"BTCUSDT\"," \
  "\"P\":\"0.28\",\"c\":\"43000.50\",\"b\":\"43000.10\",\"a\":\"43000.90\",\"v\":\"12345.678\"}}"

static void
fixture_set_up_venue (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autofree char *url = NULL;
  g_autofree char *config = NULL;

  fixture->venue = fake_ws_new ("/stream");
  fake_ws_set_handlers (fixture->venue, on_venue_connected, NULL, (gpointer) TICKER_BTC);
  url = fake_ws_url (fixture->venue);
  config = g_strdup_printf ("[tickhub]\nplugins=binance\nsymbols=BTC\n[prices]\norder=binance\n"
                            "[binance]\nurl=%s\nstreams=ticker\nreconnect-max=1\n"
                            "[dbus]\nidle-timeout=30\n", url);
  fixture_bus_up (fixture, config, TRUE);
}

/* The test brings up the bus itself, once it knows the config. */
static void
fixture_set_up_later (Fixture       *fixture,
                      gconstpointer  data)
{
}

/* A session bus that cannot start tickhubd. */
static void
fixture_set_up_no_activation (Fixture       *fixture,
                              gconstpointer  config)
{
  fixture_bus_up (fixture, config, FALSE);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  config)
{
  g_dbus_connection_close_sync (fixture->connection, NULL, NULL);
  g_clear_object (&fixture->connection);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
  g_clear_pointer (&fixture->venue, fake_ws_free);
  /* Instances still running exit when the bus goes: the wrapper writes
   * their status only while the folder exists. */
  th_test_remove_tmp_dir (fixture->tmpdir);
  g_unsetenv ("TICKHUB_DBUS_EXIT_LOG");
  g_clear_pointer (&fixture->tmpdir, g_free);
  g_clear_pointer (&fixture->exit_log, g_free);
}

/* Iterates the main context for @ms milliseconds. */
#define iterate_for(ms) th_test_run_for (ms)

/* The exit statuses the activated instances wrote, waiting up to 10 s
 * until there are at least @n. */
static GStrv
wait_exit_statuses (Fixture *fixture,
                    guint    n)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *text = NULL;
      g_auto(GStrv) lines = NULL;

      if (!g_file_get_contents (fixture->exit_log, &text, NULL, NULL))
        text = g_strdup ("");
      g_strchomp (text);
      lines = *text != '\0' ? g_strsplit (text, "\n", -1) : g_new0 (char *, 1);
      if (g_strv_length (lines) >= n || g_get_monotonic_time () > deadline)
        return g_steal_pointer (&lines);
      iterate_for (50);
    }
}

static GVariant *
call (Fixture     *fixture,
      const char  *method,
      GVariant    *parameters,
      const char  *reply_type,
      GError     **error)
{
  return g_dbus_connection_call_sync (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE, method,
                                      parameters, G_VARIANT_TYPE (reply_type),
                                      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, error);
}

static char *
name_owner (Fixture *fixture)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  char *owner = NULL;

  reply = g_dbus_connection_call_sync (fixture->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", BUS_NAME),
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(s)", &owner);
  return owner;
}

static guint32
owner_pid (Fixture    *fixture,
           const char *owner)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 pid = 0;

  reply = g_dbus_connection_call_sync (fixture->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                       g_variant_new ("(s)", owner), G_VARIANT_TYPE ("(u)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &pid);
  return pid;
}

static void
on_vanished (GDBusConnection *connection,
             const char      *name,
             gpointer         data)
{
  gboolean *vanished = data;

  *vanished = TRUE;
}

static void
assert_price (GVariant   *price,
              const char *symbol)
{
  const char *text;
  double value;
  gint64 number;

  g_assert_true (g_variant_lookup (price, "symbol", "&s", &text));
  g_assert_cmpstr (text, ==, symbol);
  g_assert_true (g_variant_lookup (price, "price", "d", &value));
  g_assert_cmpfloat (value, >, 0);
  g_assert_true (g_variant_lookup (price, "source", "&s", &text));
  g_assert_cmpstr (text, ==, "simulator");
  g_assert_true (g_variant_lookup (price, "timestamp", "x", &number));
  g_assert_cmpint (number, >, 0);
  g_assert_true (g_variant_lookup (price, "age_ms", "x", &number));
  g_assert_cmpint (number, >=, 0);
}

/* The first call starts the daemon, in another process; it answers with a
 * price (waiting for the simulator's first step); the idle timeout then
 * stops it. */
static void
test_activation (Fixture       *fixture,
                 gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) price = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL;
  gboolean vanished = FALSE;
  guint watch_id;
  gint64 start;

  g_assert_null (name_owner (fixture));

  reply = call (fixture, "GetPrice", g_variant_new ("(s)", "BTC"), "(a{sv})", &error);
  g_assert_no_error (error);
  price = g_variant_get_child_value (reply, 0);
  assert_price (price, "BTC");

  owner = name_owner (fixture);
  g_assert_nonnull (owner);
  g_assert_cmpuint (owner_pid (fixture, owner), !=, (guint32) getpid ());

  /* No more calls: gone after the idle timeout (2 s). */
  start = g_get_monotonic_time ();
  watch_id = g_bus_watch_name_on_connection (fixture->connection, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                             NULL, on_vanished, &vanished, NULL);
  th_test_wait_until (vanished, 20000);
  g_bus_unwatch_name (watch_id);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);

  /* And it exited cleanly. */
  {
    g_auto(GStrv) statuses = wait_exit_statuses (fixture, 1);

    g_assert_cmpuint (g_strv_length (statuses), ==, 1);
    g_assert_cmpstr (statuses[0], ==, "0");
  }
}

/* A sink that serves clients keeps the activated daemon: no idle exit. */
static void
test_keep_alive_sink (Fixture       *fixture,
                      gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *later = NULL;
  guint32 idle_timeout = 1;

  reply = call (fixture, "GetStatus", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "idle_timeout", "u", &idle_timeout));
  g_assert_cmpuint (idle_timeout, ==, 0);
  owner = name_owner (fixture);
  g_assert_nonnull (owner);

  /* Three times its idle-timeout (1 s) without a call: the same instance. */
  iterate_for (3000);
  later = name_owner (fixture);
  g_assert_cmpstr (later, ==, owner);
}

/* Each sink says whether it keeps the activated daemon (ThSink's
 * keeps_alive): jsonl does when it writes a file, not when it writes the
 * standard output nobody reads (here the test's own: the config lets no
 * event through, as there are no indicators). The idle-timeout is 30 s. */
static void
assert_idle_timeout (Fixture *fixture,
                     guint32  expected)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  guint32 idle_timeout = G_MAXUINT32;

  reply = call (fixture, "GetStatus", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  status = g_variant_get_child_value (reply, 0);
  g_assert_true (g_variant_lookup (status, "idle_timeout", "u", &idle_timeout));
  g_assert_cmpuint (idle_timeout, ==, expected);
}

static void
test_stdout_sink_no_keep_alive (Fixture       *fixture,
                                gconstpointer  config)
{
  assert_idle_timeout (fixture, 30);
}

static void
test_file_sink_keeps_alive (Fixture       *fixture,
                            gconstpointer  config)
{
  assert_idle_timeout (fixture, 0);
}

static void
test_methods (Fixture       *fixture,
              gconstpointer  config)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) first = NULL;
  g_autoptr(GVariant) prices = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) sources = NULL;
  g_autoptr(GVariant) plugins = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GVariant) btc = NULL;
  g_autoptr(GVariant) source = NULL;
  g_autoptr(GVariant) plugin = NULL;
  const char *text;
  guint32 idle;

  first = call (fixture, "GetPrice", g_variant_new ("(s)", "ETH"), "(a{sv})", &error);
  g_assert_no_error (error);

  prices = call (fixture, "GetPrices", NULL, "(a{sa{sv}})", &error);
  g_assert_no_error (error);
  dict = g_variant_get_child_value (prices, 0);
  btc = g_variant_lookup_value (dict, "BTC", G_VARIANT_TYPE_VARDICT);
  g_assert_nonnull (btc);
  assert_price (btc, "BTC");

  status = call (fixture, "GetStatus", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  g_clear_pointer (&dict, g_variant_unref);
  dict = g_variant_get_child_value (status, 0);
  g_assert_true (g_variant_lookup (dict, "version", "&s", &text));
  g_assert_cmpstr (text, ==, PACKAGE_VERSION);
  g_assert_true (g_variant_lookup (dict, "idle_timeout", "u", &idle));
  g_assert_cmpuint (idle, ==, 30);

  sources = call (fixture, "ListSources", NULL, "(aa{sv})", &error);
  g_assert_no_error (error);
  g_clear_pointer (&dict, g_variant_unref);
  dict = g_variant_get_child_value (sources, 0);
  g_assert_cmpuint (g_variant_n_children (dict), ==, 1);
  source = g_variant_get_child_value (dict, 0);
  g_assert_true (g_variant_lookup (source, "name", "&s", &text));
  g_assert_cmpstr (text, ==, "simulator");
  g_assert_true (g_variant_lookup (source, "state", "&s", &text));
  g_assert_cmpstr (text, ==, "live");

  plugins = call (fixture, "ListPlugins", NULL, "(aa{sv})", &error);
  g_assert_no_error (error);
  g_clear_pointer (&dict, g_variant_unref);
  dict = g_variant_get_child_value (plugins, 0);
  plugin = g_variant_get_child_value (dict, 0);
  g_assert_true (g_variant_lookup (plugin, "name", "&s", &text));
  g_assert_cmpstr (text, ==, "simulator");
  g_assert_true (g_variant_lookup (plugin, "kind", "&s", &text));
  g_assert_cmpstr (text, ==, "feed");
  g_assert_true (g_variant_lookup (plugin, "state", "&s", &text));
  g_assert_cmpstr (text, ==, "enabled");
  g_assert_false (g_variant_lookup (plugin, "error", "&s", &text));
}

static void
assert_remote_error (GError     *error,
                     const char *name,
                     const char *message_part)
{
  g_autofree char *remote = NULL;

  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, name);
  if (strstr (error->message, message_part) == NULL)
    g_error ("expected “%s” in “%s”", message_part, error->message);
}

static void
test_unknown_symbol (Fixture       *fixture,
                     gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = call (fixture, "GetPrice", g_variant_new ("(s)", "NOPE"), "(a{sv})", &error);
  g_assert_null (reply);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.UnknownSymbol", "unknown symbol “NOPE”");
}

/* The only feed never delivers: after the bounded wait, NoSource with each
 * source's reason. */
static void
test_no_source (Fixture       *fixture,
                gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  reply = call (fixture, "GetPrice", g_variant_new ("(s)", "BTC"), "(a{sv})", &error);
  g_assert_null (reply);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.NoSource", "no fresh price for BTC");
  g_assert_nonnull (strstr (error->message, "binance"));
  /* It waited (price-wait=1), and not much longer. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC / 2);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 15 * G_USEC_PER_SEC);
}

/* The command-line client */

/* A launcher for the client (and daemons): @system_bus, when not NULL,
 * becomes DBUS_SYSTEM_BUS_ADDRESS; GTestDBus has set the session bus. */
static GSubprocessLauncher *
launcher_new (GSubprocessFlags  flags,
              const char       *system_bus)
{
  GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

  if (system_bus != NULL)
    g_subprocess_launcher_setenv (launcher, "DBUS_SYSTEM_BUS_ADDRESS", system_bus, TRUE);
  return launcher;
}

static GSubprocess *
spawn_cli (GSubprocessLauncher *launcher,
           const char *const   *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TICKHUB_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  return proc;
}

static int
run_cli_with (GSubprocessLauncher *launcher,
              const char *const   *args,
              char               **out,
              char               **err)
{
  g_autoptr(GSubprocess) proc = spawn_cli (launcher, args);
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("tickhub:\n%s%s", *out, *err);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

static int
run_cli (const char *const *args,
         char              **out,
         char              **err)
{
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                          G_SUBPROCESS_FLAGS_STDERR_PIPE, NULL);

  return run_cli_with (launcher, args, out, err);
}

/* The tests below check output by this name. */
#define assert_contains(haystack, needle) th_test_assert_contains (haystack, needle)

static void
test_cli (Fixture       *fixture,
          gconstpointer  config)
{
  const char *price[] = { "price", "btc", NULL };
  const char *price_json[] = { "price", "BTC", "--json", NULL };
  const char *prices_json[] = { "--json", "prices", NULL };
  const char *sources[] = { "sources", NULL };
  const char *status[] = { "status", NULL };
  const char *plugins_json[] = { "plugins", "--json", NULL };
  const char *unknown[] = { "price", "NOPE", NULL };
  const char *usage[] = { "price", NULL };
  const char *bad_command[] = { "frobnicate", NULL };
  const char *help[] = { "watch", "--help", NULL };
  const char *plugins[] = { "plugins", NULL };

  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (help, &out, &err), ==, 0);
    assert_contains (out, "watch [SYMBOL");
    assert_contains (out, "--json");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (plugins, &out, &err), ==, 0);
    assert_contains (out, "PLUGIN");
    assert_contains (out, "STATE");
    assert_contains (out, "simulator");
    assert_contains (out, "enabled");
  }
  {
    /* The shipped bash completion: commands, and the symbols of the
     * running daemon (asked on the bus the command line names). */
    g_autofree char *completion = g_test_build_filename (G_TEST_DIST, "..", "data", "tickhub.bash-completion", NULL);
    g_autofree char *script = g_strdup_printf (
      "source '%s'; "
      "COMP_WORDS=(tickhub pr); COMP_CWORD=1; _tickhub; echo \"[${COMPREPLY[*]}]\"; "
      "COMP_WORDS=(tickhub --json price ''); COMP_CWORD=3; _tickhub; echo \"[${COMPREPLY[*]}]\"; "
      "COMP_WORDS=(tickhub hi); COMP_CWORD=1; _tickhub; echo \"[${COMPREPLY[*]}]\"; "
      "COMP_WORDS=(tickhub history b); COMP_CWORD=2; _tickhub; echo \"[${COMPREPLY[*]}]\"; "
      "COMP_WORDS=(tickhub history BTC --ti); COMP_CWORD=3; _tickhub; echo \"[${COMPREPLY[*]}]\"", completion);
    const char *argv[] = { "bash", "-c", script, NULL };
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    int wait_status = 0;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, NULL, &wait_status, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (out, ==, "[price prices]\n[BTC ETH]\n[history]\n[BTC]\n[--timeframe]\n");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (price, &out, &err), ==, 0);
    assert_contains (out, "SYMBOL");
    assert_contains (out, "PRICE");
    assert_contains (out, "BTC ");
    assert_contains (out, "simulator");
    g_assert_cmpstr (err, ==, "");
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    g_autoptr(GError) error = NULL;
    JsonObject *object;

    g_assert_cmpint (run_cli (price_json, &out, &err), ==, 0);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    object = json_node_get_object (json_parser_get_root (parser));
    g_assert_cmpstr (json_object_get_string_member (object, "symbol"), ==, "BTC");
    g_assert_cmpstr (json_object_get_string_member (object, "source"), ==, "simulator");
    g_assert_cmpfloat (json_object_get_double_member (object, "price"), >, 0);
    g_assert_true (g_str_has_suffix (json_object_get_string_member (object, "timestamp"), "Z"));
    g_assert_true (json_object_has_member (object, "age_ms"));
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    g_autoptr(GError) error = NULL;
    JsonObject *object;

    g_assert_cmpint (run_cli (prices_json, &out, &err), ==, 0);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    object = json_node_get_object (json_parser_get_root (parser));
    g_assert_true (json_object_has_member (object, "BTC"));
    g_assert_true (json_object_has_member (object, "ETH"));
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (sources, &out, &err), ==, 0);
    assert_contains (out, "SOURCE");
    assert_contains (out, "simulator");
    assert_contains (out, "live");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (status, &out, &err), ==, 0);
    assert_contains (out, "version");
    assert_contains (out, PACKAGE_VERSION);
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    g_autoptr(GError) error = NULL;
    JsonArray *array;

    g_assert_cmpint (run_cli (plugins_json, &out, &err), ==, 0);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    array = json_node_get_array (json_parser_get_root (parser));
    g_assert_cmpuint (json_array_get_length (array), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "kind"), ==, "feed");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (unknown, &out, &err), ==, 1);
    assert_contains (err, "unknown symbol “NOPE”");
    g_assert_cmpstr (out, ==, "");
  }
  {
    /* No store plugin: the daemon says how to get one. */
    const char *history[] = { "history", "BTC", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (history, &out, &err), ==, 1);
    assert_contains (err, "no history is kept; add the store plugin to [tickhub] plugins");
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (usage, &out, &err), ==, 2);
    assert_contains (err, "missing arguments");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_cli (bad_command, &out, &err), ==, 2);
    assert_contains (err, "unknown command “frobnicate”");
  }
}

/* History: the store plugin fed by a replay of eleven BTC minutes of
 * 2024 (ten closed 1m candles, closes 100 to 109); GetHistory and the
 * client read them back through the daemon. */

#define T0_MS G_GINT64_CONSTANT (1704067200000)   /* 2024-01-01T00:00:00Z */

static char *
history_config (const char *dir)
{
  g_autoptr(GString) replay = g_string_new (NULL);
  g_autofree char *replay_path = NULL;

  for (int m = 0; m <= 10; m++)
    g_string_append_printf (replay, "{\"symbol\":\"BTC\",\"price\":%d,\"size\":1,\"timestamp\":%" G_GINT64_FORMAT
                            ",\"source\":\"binance\"}\n", 100 + m, T0_MS + m * 60000 + 1000);
  replay_path = th_test_write_file (dir, "ticks.jsonl", replay->str);
  return g_strdup_printf ("[tickhub]\nplugins=replay;store\nsymbols=BTC;ETH\ntimeframes=1m;1h\n"
                          "[replay]\npath=%s\n"
                          "[store]\npath=%s/history.db\n"
                          "[dbus]\nidle-timeout=30\n", replay_path, dir);
}

/* GetHistory for the ten minutes, called until the store has them all. */
static GVariant *
wait_history (Fixture *fixture)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) reply = call (fixture, "GetHistory",
                                        g_variant_new ("(ssxxu)", "BTC", "1m", T0_MS * 1000,
                                                       (T0_MS + 3600000) * 1000, 0),
                                        "(xxa(xdddddu))", &error);
      g_autoptr(GVariant) candles = NULL;

      g_assert_no_error (error);
      candles = g_variant_get_child_value (reply, 2);
      if (g_variant_n_children (candles) == 10)
        return g_steal_pointer (&reply);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      iterate_for (50);
    }
}

static void
test_history (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-dbus-history-XXXXXX");
  g_autofree char *config = history_config (dir);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) candles = NULL;
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GError) error = NULL;
  gint64 from, to, start;
  double open, high, low, close, volume;
  guint32 ticks;
  const char *text;

  fixture_bus_up (fixture, config, TRUE);
  reply = wait_history (fixture);
  g_variant_get (reply, "(xx@a(xdddddu))", &from, &to, &candles);
  g_assert_cmpint (from, ==, T0_MS * 1000);
  g_assert_cmpint (to, ==, (T0_MS + 3600000) * 1000);
  for (gsize i = 0; i < g_variant_n_children (candles); i++)
    {
      g_variant_get_child (candles, i, "(xdddddu)", &start, &open, &high, &low, &close, &volume, &ticks);
      g_assert_cmpint (start, ==, (T0_MS + (gint64) i * 60000) * 1000);
      g_assert_cmpfloat (open, ==, 100 + i);
      g_assert_cmpfloat (high, ==, 100 + i);
      g_assert_cmpfloat (low, ==, 100 + i);
      g_assert_cmpfloat (close, ==, 100 + i);
      g_assert_cmpfloat (volume, ==, 1);
      g_assert_cmpuint (ticks, ==, 1);
    }

  /* The latest of the range; another name of the timeframe. */
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&candles, g_variant_unref);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "BTC", "60s", T0_MS * 1000,
                                                      (T0_MS + 3600000) * 1000, 2),
                "(xxa(xdddddu))", &error);
  g_assert_no_error (error);
  candles = g_variant_get_child_value (reply, 2);
  g_assert_cmpuint (g_variant_n_children (candles), ==, 2);
  g_variant_get_child (candles, 0, "(xdddddu)", &start, &open, &high, &low, &close, &volume, &ticks);
  g_assert_cmpint (start, ==, (T0_MS + 8 * 60000) * 1000);

  /* to 0 is now, from 0 a day before it: nothing of 2024. */
  g_clear_pointer (&reply, g_variant_unref);
  g_clear_pointer (&candles, g_variant_unref);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "BTC", "1m", (gint64) 0, (gint64) 0, 0),
                "(xxa(xdddddu))", &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(xx@a(xdddddu))", &from, &to, &candles);
  g_assert_cmpint (to - from, ==, G_GINT64_CONSTANT (86400000000));
  g_assert_cmpint (ABS (to - g_get_real_time ()), <, 600 * G_USEC_PER_SEC);
  g_assert_cmpuint (g_variant_n_children (candles), ==, 0);

  /* Errors, mapped as for GetPrice. */
  g_clear_pointer (&reply, g_variant_unref);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "DOGE", "1m", (gint64) 0, (gint64) 0, 0),
                "(xxa(xdddddu))", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.UnknownSymbol", "unknown symbol “DOGE”");
  g_clear_error (&error);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "BTC", "5m", (gint64) 0, (gint64) 0, 0),
                "(xxa(xdddddu))", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.BadInput", "timeframe “5m” is not kept");
  g_clear_error (&error);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "BTC", "1m", T0_MS * 1000, T0_MS * 1000, 0),
                "(xxa(xdddddu))", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.BadInput", "the range is empty");
  g_clear_error (&error);
  reply = call (fixture, "GetHistory", g_variant_new ("(ssxxu)", "BTC", "1m", (gint64) 0, (gint64) 0, 10001),
                "(xxa(xdddddu))", &error);
  assert_remote_error (error, "org.tickhub.Tickhub1.Error.BadInput", "limit 10001 is over 10000");
  g_clear_error (&error);

  /* GetStatus shows the store: live, no reason. */
  status = call (fixture, "GetStatus", NULL, "(a{sv})", &error);
  g_assert_no_error (error);
  dict = g_variant_get_child_value (status, 0);
  g_assert_true (g_variant_lookup (dict, "store", "&s", &text));
  g_assert_cmpstr (text, ==, "live");
  g_assert_false (g_variant_lookup (dict, "store_reason", "&s", &text));

  th_test_remove_tmp_dir (dir);
}

/* A store that cannot open its file: GetStatus says down, and why; the
 * daemon runs on, and GetHistory says why it cannot read. */
static void
test_status_store_down (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-dbus-history-XXXXXX");
  g_autofree char *file = th_test_write_file (dir, "not-a-folder", "");
  g_autofree char *config = g_strdup_printf ("[tickhub]\nplugins=simulator;store\nsymbols=BTC\n"
                                             "[simulator]\ninterval=0.1\n"
                                             "[store]\npath=%s/history.db\nretry-interval=60\n"
                                             "[dbus]\nidle-timeout=30\n", file);
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  g_autoptr(GError) error = NULL;
  const char *text = NULL;

  fixture_bus_up (fixture, config, TRUE);
  for (;;)
    {
      g_autoptr(GVariant) status = call (fixture, "GetStatus", NULL, "(a{sv})", &error);
      g_autoptr(GVariant) dict = NULL;

      g_assert_no_error (error);
      dict = g_variant_get_child_value (status, 0);
      g_assert_true (g_variant_lookup (dict, "store", "&s", &text));
      if (g_str_equal (text, "down"))
        {
          g_assert_true (g_variant_lookup (dict, "store_reason", "&s", &text));
          assert_contains (text, "cannot create the folder of");
          assert_contains (text, "set [store] path");
          break;
        }
      g_assert_cmpstr (text, ==, "connecting");
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      iterate_for (50);
    }
  {
    g_autoptr(GVariant) reply = call (fixture, "GetHistory",
                                      g_variant_new ("(ssxxu)", "BTC", "1m", (gint64) 0, (gint64) 0, 0),
                                      "(xxa(xdddddu))", &error);

    assert_remote_error (error, "org.tickhub.Tickhub1.Error.NoHistory", "the history store cannot read");
  }
  th_test_remove_tmp_dir (dir);
}

/* tickhub history, through the daemon: a table, --json (REST's body),
 * --csv, --limit, and its errors. */
static void
test_cli_history (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-dbus-history-XXXXXX");
  g_autofree char *config = history_config (dir);
  g_autoptr(GVariant) ready = NULL;

  fixture_bus_up (fixture, config, TRUE);
  ready = wait_history (fixture);
  {
    const char *args[] = { "history", "btc", "--timeframe", "1m", "--from", "2024-01-01T00:07:00Z",
                           "--to", "1704067800000", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==,
                     "START                       OPEN    HIGH     LOW   CLOSE  VOLUME  TICKS\n"
                     "2024-01-01T00:07:00.000Z  107.00  107.00  107.00  107.00    1.00      1\n"
                     "2024-01-01T00:08:00.000Z  108.00  108.00  108.00  108.00    1.00      1\n"
                     "2024-01-01T00:09:00.000Z  109.00  109.00  109.00  109.00    1.00      1\n");
  }
  {
    const char *args[] = { "history", "BTC", "--timeframe=1m", "--from=2024-01-01T00:00:00Z", "--limit", "2",
                           "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(JsonNode) root = NULL;
    JsonObject *obj;
    JsonArray *array;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 0);
    root = th_test_parse_json (out);
    obj = json_node_get_object (root);
    g_assert_cmpstr (json_object_get_string_member (obj, "symbol"), ==, "BTC");
    g_assert_cmpstr (json_object_get_string_member (obj, "timeframe"), ==, "1m");
    g_assert_cmpstr (json_object_get_string_member (obj, "from"), ==, "2024-01-01T00:00:00.000Z");
    array = json_object_get_array_member (obj, "candles");
    g_assert_cmpuint (json_array_get_length (array), ==, 2);
    obj = json_array_get_object_element (array, 1);
    g_assert_cmpstr (json_object_get_string_member (obj, "start"), ==, "2024-01-01T00:09:00.000Z");
    g_assert_cmpfloat (json_object_get_double_member (obj, "close"), ==, 109);
    g_assert_cmpfloat (json_object_get_double_member (obj, "volume"), ==, 1);
  }
  {
    /* No --timeframe: the first configured (1m). */
    const char *args[] = { "history", "BTC", "--from", "2024-01-01T00:08:00Z", "--to", "2024-01-01T00:10:00Z",
                           "--csv", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==,
                     "start,open,high,low,close,volume,ticks\n"
                     "2024-01-01T00:08:00.000Z,108,108,108,108,1,1\n"
                     "2024-01-01T00:09:00.000Z,109,109,109,109,1,1\n");
  }
  {
    /* --days: the last 30 days of the daemon's clock, none of them 2024. */
    const char *args[] = { "history", "BTC", "--timeframe", "1h", "--days", "30", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "START  OPEN  HIGH  LOW  CLOSE  VOLUME  TICKS\n");
    assert_contains (err, "no BTC 1h candles stored from");
  }
  {
    const char *args[] = { "history", "DOGE", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 1);
    assert_contains (err, "unknown symbol “DOGE”");
    g_assert_cmpstr (out, ==, "");
  }
  {
    const char *args[] = { "history", "BTC", "--timeframe", "5m", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 1);
    assert_contains (err, "timeframe “5m” is not kept; it must be one of 1m, 1h");
  }
  {
    const char *args[] = { "history", "BTC", "--days", "1", "--from", "2024-01-01T00:00:00Z", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 2);
    assert_contains (err, "give either --days or --from, not both");
  }
  {
    const char *args[] = { "history", "BTC", "--to", "yesterday", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 2);
    assert_contains (err, "--to must be an ISO 8601 time");
  }
  {
    const char *args[] = { "history", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 2);
    assert_contains (err, "missing arguments");
  }
  {
    const char *args[] = { "history", "--help", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, &out, &err), ==, 0);
    assert_contains (out, "history SYMBOL");
    assert_contains (out, "--timeframe=1h");
    assert_contains (out, "--csv");
  }
  th_test_remove_tmp_dir (dir);
}

/* No source, through the client: an error on stderr, nothing on stdout. */
static void
test_cli_no_source (Fixture       *fixture,
                    gconstpointer  config)
{
  const char *price[] = { "price", "BTC", NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (run_cli (price, &out, &err), ==, 1);
  assert_contains (err, "no fresh price for BTC");
  assert_contains (err, "binance");
  g_assert_cmpstr (out, ==, "");
}

/* The daemon cannot start: the client says why. */
static void
test_cli_bad_config (Fixture       *fixture,
                     gconstpointer  config)
{
  const char *price[] = { "price", "BTC", NULL };
  g_autofree char *out = NULL, *err = NULL;

  g_assert_cmpint (run_cli (price, &out, &err), ==, 69);
  assert_contains (err, "could not be started");
  assert_contains (err, "tickhubd --check-config");
  /* The daemon's own reason, not just an exit status. */
  assert_contains (err, "nosuch");
  assert_contains (err, "[tickhub] plugins: unknown plugin");
}

/* A port nothing listens on. */
#define closed_port() th_test_closed_port ()

/* The idle exit and calls around it */

typedef struct
{
  guint       pending;
  guint       ok;
  guint       calls;
  GString    *failures;
  GHashTable *pids;         /* the instances that answered */
} Hammer;

static void
on_hammer_reply (GObject      *source,
                 GAsyncResult *result,
                 gpointer      data)
{
  Hammer *hammer = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr(GVariant) dict = NULL;
  guint32 pid;

  hammer->pending--;
  if (reply == NULL)
    {
      g_autofree char *remote = g_dbus_error_get_remote_error (error);

      g_string_append_printf (hammer->failures, "  %s: %s\n", remote != NULL ? remote : "(local)", error->message);
      return;
    }
  hammer->ok++;
  dict = g_variant_get_child_value (reply, 0);
  if (g_variant_lookup (dict, "pid", "u", &pid))
    g_hash_table_add (hammer->pids, GUINT_TO_POINTER (pid));
}

static void
hammer_call (Fixture *fixture,
             Hammer  *hammer)
{
  gboolean status = g_random_boolean ();

  hammer->pending++;
  hammer->calls++;
  g_dbus_connection_call (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE,
                          status ? "GetStatus" : "GetPrice",
                          status ? NULL : g_variant_new ("(s)", "BTC"),
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                          on_hammer_reply, hammer);
}

static void
hammer_wait (Hammer *hammer)
{
  while (hammer->pending > 0)
    g_main_context_iteration (NULL, TRUE);
}

static void
on_name_vanished (GDBusConnection *connection,
                  const char      *name,
                  gpointer         data)
{
  gint64 *when = data;

  *when = g_get_monotonic_time ();
}

/* Iterates until the monotonic clock reaches @when. */
static void
iterate_until (gint64 when)
{
  gint64 now;

  while ((now = g_get_monotonic_time ()) < when)
    {
      g_main_context_iteration (NULL, FALSE);
      if (when - now > 2000)
        g_usleep (1000);
    }
}

/* idle-timeout=1 and calls right where an instance decides to exit. Its
 * idle timer is a g_timeout_add_seconds: it fires on whole seconds of the
 * monotonic clock shifted by a phase that every process on the bus shares
 * (GLib derives it from the bus address). The test learns the phase from
 * the moment a first instance gives the name up, then sends bursts of
 * calls at that phase every other second (1 s after the previous burst,
 * when the instance that answered it decides to exit): most within 6 ms
 * of it, some up to 40 ms after. None may fail (NoReply, ServiceUnknown,
 * UnknownMethod or anything else): each is answered by the old instance
 * or starts a new one; and every instance exits with status 0. */
static void
test_idle_exit_race (Fixture       *fixture,
                     gconstpointer  config)
{
  Hammer hammer = { 0 };
  const guint probes = 20;
  g_auto(GStrv) statuses = NULL;
  gint64 vanished = 0, phase;
  guint instances, watch_id;

  hammer.failures = g_string_new (NULL);
  hammer.pids = g_hash_table_new (NULL, NULL);

  /* The phase: a first instance, and the moment it lets the name go. */
  watch_id = g_bus_watch_name_on_connection (fixture->connection, BUS_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                             NULL, on_name_vanished, &vanished, NULL);
  hammer_call (fixture, &hammer);
  hammer_wait (&hammer);
  vanished = 0;
  while (vanished == 0)
    g_main_context_iteration (NULL, TRUE);
  g_bus_unwatch_name (watch_id);
  phase = vanished % G_USEC_PER_SEC;

  for (guint i = 0; i < probes; i++)
    {
      /* Most right at the release, the rest up to 40 ms after. */
      gint64 offset = i % 4 != 3 ? g_random_int_range (-6000, 6000) : g_random_int_range (0, 40000);
      /* The next whole second (at the phase) at least 1.2 s away: the
       * instance that answered the last burst decides then. */
      gint64 target = g_get_monotonic_time () + 1200000;

      target = target - (target - phase) % G_USEC_PER_SEC + G_USEC_PER_SEC + offset;
      iterate_until (target);
      hammer_call (fixture, &hammer);
      iterate_for ((guint) g_random_int_range (0, 4));
      hammer_call (fixture, &hammer);
      hammer_wait (&hammer);
    }

  if (hammer.failures->len > 0)
    g_error ("%u of %u calls failed:\n%s", hammer.calls - hammer.ok, hammer.calls, hammer.failures->str);
  g_assert_cmpuint (hammer.ok, ==, hammer.calls);

  /* The last one goes too; then every instance has written its status. */
  {
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
    char *owner;

    while ((owner = name_owner (fixture)) != NULL && g_get_monotonic_time () < deadline)
      {
        g_free (owner);
        iterate_for (100);
      }
    g_assert_null (owner);
  }
  instances = g_hash_table_size (hammer.pids);
  statuses = wait_exit_statuses (fixture, MAX (instances, 1));
  g_test_message ("%u calls in %u bursts at the idle expiry, %u instances answered GetStatus, %u exited",
                  hammer.calls, probes, instances, g_strv_length (statuses));
  /* Bursts after the decision start new instances: the race was run. */
  g_assert_cmpuint (g_strv_length (statuses), >=, 3);
  g_assert_cmpuint (g_strv_length (statuses), >=, instances);
  for (guint i = 0; statuses[i] != NULL; i++)
    g_assert_cmpstr (statuses[i], ==, "0");

  g_hash_table_unref (hammer.pids);
  g_string_free (hammer.failures, TRUE);
}

/* tickhub watch */

typedef struct
{
  GDataInputStream *out;
  GPtrArray        *lines;
  gboolean          eof;
  gboolean          reading;
} LineReader;

static void
on_line (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  LineReader *reader = data;
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source), result, NULL, &error);

  reader->reading = FALSE;
  g_assert_no_error (error);
  if (line == NULL)
    reader->eof = TRUE;
  else
    g_ptr_array_add (reader->lines, line);
}

/* Reads lines from @proc's stdout until @done says so (or 20 s). */
static void
read_lines_until (LineReader *reader,
                  gboolean  (*done) (GPtrArray *lines))
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!reader->eof && !done (reader->lines))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out with %u lines", reader->lines->len);
      if (!reader->reading)
        {
          reader->reading = TRUE;
          g_data_input_stream_read_line_async (reader->out, G_PRIORITY_DEFAULT, NULL, on_line, reader);
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  /* Let a read under way finish before the stream goes. */
  while (reader->reading)
    g_main_context_iteration (NULL, TRUE);
}

static guint
count_btc_lines (GPtrArray *lines)
{
  guint n = 0;

  for (guint i = 0; i < lines->len; i++)
    if (strstr (lines->pdata[i], "BTC") != NULL)
      n++;
  return n;
}

static gboolean
four_btc_lines (GPtrArray *lines)
{
  return count_btc_lines (lines) >= 4;
}

/* Runs `tickhub ARGS` until it has printed what @done wants, then sends
 * SIGINT: it must exit 0. Returns its lines. */
static GPtrArray *
watch_and_interrupt (GSubprocessLauncher *launcher,
                     const char *const   *args,
                     gboolean           (*done) (GPtrArray *lines))
{
  g_autoptr(GSubprocess) proc = spawn_cli (launcher, args);
  g_autoptr(GError) error = NULL;
  LineReader reader = { 0 };

  reader.out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  reader.lines = g_ptr_array_new_with_free_func (g_free);
  read_lines_until (&reader, done);
  g_assert_false (reader.eof);

  g_subprocess_send_signal (proc, SIGINT);
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_object_unref (reader.out);
  return reader.lines;
}

static void
test_cli_watch (Fixture       *fixture,
                gconstpointer  config)
{
  const char *text_args[] = { "watch", "btc", NULL };
  const char *json_args[] = { "watch", "BTC", "--json", NULL };
  const char *unknown[] = { "watch", "BTC", "NOPE", NULL };
  g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, NULL);
  g_autoptr(GRegex) line_re = g_regex_new ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  BTC +"
                                           "[0-9]+\\.[0-9]+ +[+-][0-9]+\\.[0-9]{2}%  simulator$", 0, 0, NULL);

  /* Text: one line per price change, "TIME  SYMBOL  PRICE  CHANGE  SOURCE",
   * each with a later time than the one before. */
  {
    g_autoptr(GPtrArray) lines = watch_and_interrupt (launcher, text_args, four_btc_lines);
    g_autofree char *last = NULL;

    for (guint i = 0; i < lines->len; i++)
      {
        const char *line = lines->pdata[i];

        if (g_str_has_suffix (line, ": live") || strstr (line, "  source ") != NULL)
          continue;
        if (!g_regex_match (line_re, line, 0, NULL))
          g_error ("unexpected watch line “%s”", line);
        if (last != NULL)
          g_assert_cmpstr (last, <, line);
        g_free (last);
        last = g_strndup (line, 24);
      }
  }

  /* --json: one event per line, in the envelope of the event stream. */
  {
    g_autoptr(GPtrArray) lines = watch_and_interrupt (launcher, json_args, four_btc_lines);
    guint prices = 0;
    double previous_price = 0;
    gboolean moved = FALSE;

    for (guint i = 0; i < lines->len; i++)
      {
        g_autoptr(JsonParser) parser = json_parser_new ();
        g_autoptr(GError) error = NULL;
        JsonObject *event, *data, *price;

        json_parser_load_from_data (parser, lines->pdata[i], -1, &error);
        g_assert_no_error (error);
        g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
        event = json_node_get_object (json_parser_get_root (parser));
        data = json_object_get_object_member (event, "data");
        if (g_str_equal (json_object_get_string_member (event, "event"), "source_status"))
          continue;
        g_assert_cmpstr (json_object_get_string_member (event, "event"), ==, "financial_data_update");
        g_assert_cmpstr (json_object_get_string_member (data, "symbol"), ==, "BTC");
        price = json_object_get_object_member (data, "data");
        g_assert_cmpstr (json_object_get_string_member (price, "source"), ==, "simulator");
        g_assert_cmpfloat (json_object_get_double_member (price, "price"), >, 0);
        g_assert_true (g_str_has_suffix (json_object_get_string_member (price, "timestamp"), "Z"));
        if (prices > 0 && json_object_get_double_member (price, "price") != previous_price)
          moved = TRUE;
        previous_price = json_object_get_double_member (price, "price");
        prices++;
      }
    g_assert_cmpuint (prices, >=, 4);
    g_assert_true (moved);
  }

  /* An unknown symbol: an error, at once. */
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (unknown, &out, &err), ==, 1);
    assert_contains (err, "unknown symbol “NOPE”");
    g_assert_cmpstr (out, ==, "");
  }
}

/* SourceStatusChanged and PriceChanged */

typedef struct
{
  GPtrArray *states;        /* "source state" */
} StatusLog;

static void
on_source_status_changed (GDBusConnection *connection,
                          const char      *sender,
                          const char      *path,
                          const char      *iface,
                          const char      *signal,
                          GVariant        *parameters,
                          gpointer         data)
{
  StatusLog *log = data;
  const char *source, *state;

  g_variant_get (parameters, "(&s&s)", &source, &state);
  g_ptr_array_add (log->states, g_strdup_printf ("%s %s", source, state));
}

static char *
join_states (StatusLog *log)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < log->states->len; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", (char *) log->states->pdata[i]);
  return g_string_free (out, FALSE);
}

static void
on_activated (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  gboolean *done = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  g_assert_no_error (error);
  *done = TRUE;
}

/* A Binance feed on a local venue: connecting, live on the first ticker;
 * the venue drops the connection: down, then connecting and live again;
 * the venue goes away: down. Each change once, in order, and a change of
 * reason alone ("connecting" → "connected, subscribing") is no signal. */
static void
test_source_status_changed (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autofree char *joined = NULL;
  StatusLog log = { g_ptr_array_new_with_free_func (g_free) };
  gboolean activated = FALSE;
  guint id;

  /* The venue is in this process: everything below iterates the main
   * context, nothing blocks it. */
  id = g_dbus_connection_signal_subscribe (fixture->connection, BUS_NAME, IFACE, "SourceStatusChanged",
                                           OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                           on_source_status_changed, &log, NULL);
  g_dbus_connection_call (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE, "GetStatus", NULL,
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                          on_activated, &activated);
  th_test_wait_until (activated && log.states->len >= 2, 20000);

  fake_ws_drop (fixture->venue);
  th_test_wait_until (log.states->len >= 5, 20000);
  iterate_for (200);

  g_clear_pointer (&fixture->venue, fake_ws_free);
  th_test_wait_until (log.states->len >= 6, 20000);
  /* Nothing more until the next attempt (1 s): not a change either. */
  iterate_for (300);

  joined = join_states (&log);
  g_assert_cmpstr (joined, ==, "binance connecting, binance live, binance down, binance connecting, "
                               "binance live, binance down");
  g_dbus_connection_signal_unsubscribe (fixture->connection, id);
  g_ptr_array_unref (log.states);
}

static void
on_price_reply (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  GVariant **price = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  g_assert_no_error (error);
  *price = g_variant_get_child_value (reply, 0);
}

/* The first call activates the daemon, which connects to a local Binance
 * and answers with the venue's price once its first ticker came. */
static void
test_price_from_venue (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GVariant) price = NULL;
  const char *text;
  double value;

  g_dbus_connection_call (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE, "GetPrice",
                          g_variant_new ("(s)", "BTC"), G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                          30000, NULL, on_price_reply, &price);
  th_test_wait_until (price != NULL, 20000);
  g_assert_nonnull (price);
  g_assert_true (g_variant_lookup (price, "source", "&s", &text));
  g_assert_cmpstr (text, ==, "binance");
  g_assert_true (g_variant_lookup (price, "price", "d", &value));
  g_assert_cmpfloat (value, ==, 43000.5);
  g_assert_true (g_variant_lookup (price, "bid", "d", &value));
  g_assert_cmpfloat (value, ==, 43000.1);
  g_assert_true (g_variant_lookup (price, "ask", "d", &value));
  g_assert_cmpfloat (value, ==, 43000.9);
}

/* A local CoinGecko: its first answer has no price, the next ones do. */
static void
on_coingecko_request (SoupServer        *server,
                      SoupServerMessage *msg,
                      const char        *path,
                      GHashTable        *query,
                      gpointer           data)
{
  guint *hits = data;
  const char *body = ++*hits == 1 ? "{}"
    : "{\"bitcoin\":{\"usd\":42123.25,\"usd_24h_vol\":1.5e9,\"usd_24h_change\":1.25,"
      "\"last_updated_at\":1711356280}}";

  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body, strlen (body));
}

/* No WebSocket source, and the REST fallback's first poll had no price:
 * GetPrice asks it for one at once (an on-demand fetch) and answers with
 * it, instead of waiting for the next poll or failing. */
static void
test_rest_fallback (Fixture       *fixture,
                    gconstpointer  data)
{
  guint port;
  g_autoptr(SoupServer) server = th_test_soup_server_new (&port);
  g_autoptr(GVariant) price = NULL;
  g_autofree char *config = NULL;
  gboolean activated = FALSE;
  guint hits = 0;
  const char *text;
  double value;

  soup_server_add_handler (server, "/api/v3/simple/price", on_coingecko_request, &hits, NULL);

  config = g_strdup_printf ("[tickhub]\nplugins=binance;coingecko\nsymbols=BTC\n"
                            "[prices]\norder=binance;coingecko\n"
                            "[binance]\nurl=ws://127.0.0.1:%u/stream\n"
                            "[coingecko]\nurl=http://127.0.0.1:%u/api/v3\npoll-interval=600\nttl=900\n"
                            "[dbus]\nprice-wait=4\nidle-timeout=30\n", closed_port (), port);
  fixture_bus_up (fixture, config, TRUE);

  /* Started; its first poll finds no price. */
  g_dbus_connection_call (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE, "GetStatus", NULL,
                          G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL,
                          on_activated, &activated);
  th_test_wait_until (activated && hits >= 1, 20000);
  g_assert_cmpuint (hits, ==, 1);

  /* Past the gap between two requests (5 s), well before the next poll. */
  iterate_for (5500);

  g_dbus_connection_call (fixture->connection, BUS_NAME, OBJECT_PATH, IFACE, "GetPrice",
                          g_variant_new ("(s)", "BTC"), G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE,
                          30000, NULL, on_price_reply, &price);
  th_test_wait_until (price != NULL, 20000);
  g_assert_nonnull (price);
  g_assert_cmpuint (hits, ==, 2);
  g_assert_true (g_variant_lookup (price, "source", "&s", &text));
  g_assert_cmpstr (text, ==, "coingecko");
  g_assert_true (g_variant_lookup (price, "price", "d", &value));
  g_assert_cmpfloat (value, ==, 42123.25);
  soup_server_disconnect (server);
}

typedef struct
{
  GHashTable *times;        /* symbol → GArray of gint64 receive times (µs) */
  GHashTable *stamps;       /* symbol → GArray of gint64 price timestamps (µs) */
} RateLog;

static void
append_time (GHashTable *table,
             const char *symbol,
             gint64      value)
{
  GArray *array = g_hash_table_lookup (table, symbol);

  if (array == NULL)
    {
      array = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (table, g_strdup (symbol), array);
    }
  g_array_append_val (array, value);
}

static void
on_rate_price_changed (GDBusConnection *connection,
                       const char      *sender,
                       const char      *path,
                       const char      *iface,
                       const char      *signal,
                       GVariant        *parameters,
                       gpointer         data)
{
  RateLog *log = data;
  const char *symbol;
  g_autoptr(GVariant) price = NULL;
  gint64 timestamp = 0;

  g_variant_get (parameters, "(&s@a{sv})", &symbol, &price);
  assert_price (price, symbol);
  g_variant_lookup (price, "timestamp", "x", &timestamp);
  append_time (log->times, symbol, g_get_monotonic_time ());
  append_time (log->stamps, symbol, timestamp);
}

/* The simulator ticks 100 times a second per symbol; PriceChanged goes out
 * at most signal-rate (4) times a second per symbol, each with the latest
 * price. Counted over 3 s; the spacing is checked on the prices' own
 * timestamps (taken in the daemon), which delivery delays do not bunch. */
static void
test_price_changed_rate (Fixture       *fixture,
                         gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  RateLog log = {
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref),
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref),
  };
  const char *symbols[] = { "BTC", "ETH" };
  const double rate = 4, window = 3;
  guint id;

  id = g_dbus_connection_signal_subscribe (fixture->connection, BUS_NAME, IFACE, "PriceChanged", OBJECT_PATH,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_rate_price_changed, &log, NULL);
  reply = call (fixture, "GetPrice", g_variant_new ("(s)", "BTC"), "(a{sv})", &error);
  g_assert_no_error (error);

  /* Past the start, then a whole window. */
  iterate_for (500);
  g_hash_table_remove_all (log.times);
  g_hash_table_remove_all (log.stamps);
  iterate_for ((guint) (window * 1000));
  g_dbus_connection_signal_unsubscribe (fixture->connection, id);

  for (guint s = 0; s < G_N_ELEMENTS (symbols); s++)
    {
      GArray *times = g_hash_table_lookup (log.times, symbols[s]);
      GArray *stamps = g_hash_table_lookup (log.stamps, symbols[s]);
      gint64 min_gap = G_MAXINT64;

      g_assert_nonnull (times);
      g_test_message ("%s: %u PriceChanged in %.0f s at 100 ticks/s", symbols[s], times->len, window);
      /* 300 ticks; 4/s lets through 12, 13 with the window's edges. */
      g_assert_cmpuint (times->len, <=, (guint) (rate * window) + 1);
      g_assert_cmpuint (times->len, >=, (guint) (rate * window * 0.6));
      for (guint i = 1; i < stamps->len; i++)
        min_gap = MIN (min_gap, g_array_index (stamps, gint64, i) - g_array_index (stamps, gint64, i - 1));
      /* Sent 250 ms apart at least; a price is as old as its tick, which
       * a loaded machine (the sanitizers, parallel tests) delays by tens
       * of milliseconds. Unthrottled they would be 10 ms apart. */
      g_assert_cmpint (min_gap, >=, (gint64) (0.5 * G_USEC_PER_SEC / rate));
    }
  g_hash_table_unref (log.times);
  g_hash_table_unref (log.stamps);
}

/* --system */

/* Waits up to 20 s for @name to have an owner on @connection; returns its
 * pid. */
static guint32
wait_owner_pid (GDBusConnection *connection,
                GSubprocess     *daemon)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autoptr(GVariant) reply = NULL;
      const char *owner;

      reply = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                           "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", BUS_NAME),
                                           G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
      if (reply != NULL)
        {
          g_autoptr(GVariant) pid = NULL;

          g_variant_get (reply, "(&s)", &owner);
          pid = g_dbus_connection_call_sync (connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                             "org.freedesktop.DBus", "GetConnectionUnixProcessID",
                                             g_variant_new ("(s)", owner), G_VARIANT_TYPE ("(u)"),
                                             G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
          if (pid != NULL)
            {
              guint32 value;

              g_variant_get (pid, "(u)", &value);
              return value;
            }
        }
      if (daemon != NULL && g_subprocess_get_identifier (daemon) == NULL)
        g_error ("tickhubd exited before owning %s", BUS_NAME);
      if (g_get_monotonic_time () > deadline)
        g_error ("nobody owns %s after 20 s", BUS_NAME);
      g_usleep (20000);
    }
}

static GSubprocess *
spawn_daemon (GSubprocessLauncher *launcher,
              const char          *first,
              ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TICKHUBD"));
  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  return proc;
}

static void
stop_daemon (GSubprocess *daemon)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (daemon, SIGTERM);
  g_subprocess_wait (daemon, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (daemon));
  g_assert_cmpint (g_subprocess_get_exit_status (daemon), ==, 0);
}

/* A second GTestDBus serves as the system bus: tickhubd --system owns the
 * name there and not on the session bus; tickhub --system reaches it, and
 * tickhub without it does not (the session bus here cannot start one). */
static void
test_system_bus (Fixture       *fixture,
                 gconstpointer  config)
{
  g_autofree char *session = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  g_autoptr(GTestDBus) system_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_autoptr(GDBusConnection) system = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) daemon = NULL;
  g_autoptr(GError) error = NULL;
  const char *address;
  guint32 pid;
  const char *price[] = { "--system", "price", "BTC", NULL };
  const char *status_json[] = { "status", "--json", "--system", NULL };
  const char *session_price[] = { "price", "BTC", NULL };

  /* GTestDBus takes over DBUS_SESSION_BUS_ADDRESS: give it back. */
  g_test_dbus_up (system_bus);
  address = g_test_dbus_get_bus_address (system_bus);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", session, TRUE);
  system = g_dbus_connection_new_for_address_sync (address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                   G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                   NULL, NULL, &error);
  g_assert_no_error (error);

  launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, address);
  {
    g_autoptr(GSubprocessLauncher) daemon_launcher = launcher_new (G_SUBPROCESS_FLAGS_NONE, address);

    daemon = spawn_daemon (daemon_launcher, "--system", "--config", g_getenv ("TICKHUB_DBUS_TEST_CONFIG"), NULL);
  }
  pid = wait_owner_pid (system, daemon);
  g_assert_cmpuint (g_ascii_strtoull (g_subprocess_get_identifier (daemon), NULL, 10), ==, pid);
  g_assert_null (name_owner (fixture));

  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli_with (launcher, price, &out, &err), ==, 0);
    assert_contains (out, "BTC ");
    assert_contains (out, "simulator");
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_cmpint (run_cli_with (launcher, status_json, &out, &err), ==, 0);
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "pid"),
                     ==, pid);
    /* Not started on demand: it does not exit when idle. */
    g_assert_cmpint (json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)),
                                                 "idle_timeout"), ==, 0);
  }
  {
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli_with (launcher, session_price, &out, &err), ==, 69);
    assert_contains (err, "cannot reach the tickhub daemon (org.tickhub.Tickhub on the session bus)");
    g_assert_cmpstr (out, ==, "");
  }

  stop_daemon (daemon);
  g_assert_null (name_owner (fixture));

  g_dbus_connection_close_sync (system, NULL, NULL);
  g_clear_object (&system);
  g_test_dbus_down (system_bus);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", session, TRUE);
}

/* The system bus policy, data/org.tickhub.Tickhub.conf, in a dbus-daemon
 * configured as Debian's system bus is (nothing may own a name or call a
 * method unless a policy allows it). */

static const char system_bus_config[] =
  "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
  " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
  "<busconfig>\n"
  "  <type>system</type>\n"
  "  <listen>unix:dir=%s</listen>\n"
  "  <auth>EXTERNAL</auth>\n"
  "  <policy context=\"default\">\n"
  "    <allow user=\"*\"/>\n"
  "    <deny own=\"*\"/>\n"
  "    <deny send_type=\"method_call\"/>\n"
  "    <allow send_type=\"signal\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"
  "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"
  "    <allow receive_type=\"method_call\"/>\n"
  "    <allow receive_type=\"method_return\"/>\n"
  "    <allow receive_type=\"error\"/>\n"
  "    <allow receive_type=\"signal\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n"
  "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"
  "  </policy>\n"
  "  %s\n"
  "</busconfig>\n";

typedef struct
{
  GSubprocess *bus;
  char        *address;
} PolicyBus;

static void
policy_bus_start (PolicyBus  *pb,
                  const char *dir,
                  gboolean    with_policy)
{
  g_autofree char *policy = g_test_build_filename (G_TEST_DIST, "..", "data", "org.tickhub.Tickhub.conf", NULL);
  g_autofree char *include = with_policy ? g_strdup_printf ("<include>%s</include>", policy) : g_strdup ("");
  g_autofree char *text = g_strdup_printf (system_bus_config, dir, include);
  g_autofree char *path = g_build_filename (dir, with_policy ? "system.conf" : "system-no-policy.conf", NULL);
  g_autofree char *config_arg = g_strconcat ("--config-file=", path, NULL);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  pb->bus = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                              "dbus-daemon", config_arg, "--nofork", "--print-address=1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (pb->bus));
  pb->address = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (pb->address);
}

static void
policy_bus_stop (PolicyBus *pb)
{
  g_subprocess_force_exit (pb->bus);
  g_subprocess_wait (pb->bus, NULL, NULL);
  g_clear_object (&pb->bus);
  g_clear_pointer (&pb->address, g_free);
}

#define NOBODY 65534

static void
become_nobody (gpointer data)
{
  /* In the child, before exec: only async-signal-safe calls. */
  if (setgid (NOBODY) != 0 || setuid (NOBODY) != 0)
    _exit (127);
}

static gboolean
two_btc_lines (GPtrArray *lines)
{
  return count_btc_lines (lines) >= 2;
}

static void
test_system_policy (Fixture       *fixture,
                    gconstpointer  config)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  PolicyBus pb = { 0 };
  const char *price[] = { "--system", "price", "BTC", NULL };
  const char *watch[] = { "--system", "--json", "watch", "BTC", NULL };

  if (getuid () != 0)
    {
      /* It grants the name to root and to the user tickhub only. */
      g_test_skip ("the system bus policy test runs as root (it switches to nobody)");
      return;
    }

  /* Readable by nobody: the bus socket, and the config. */
  dir = g_build_filename (fixture->tmpdir, "system", NULL);
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_assert_cmpint (chmod (fixture->tmpdir, 0755), ==, 0);

  /* Without our policy, tickhubd may not own the name: with --service it
   * says why and fails. */
  policy_bus_start (&pb, dir, FALSE);
  {
    g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, pb.address);
    g_autoptr(GSubprocess) daemon = spawn_daemon (launcher, "--system", "--service", "--config",
                                                  g_getenv ("TICKHUB_DBUS_TEST_CONFIG"), NULL);
    g_autofree char *err = NULL;

    g_subprocess_communicate_utf8 (daemon, NULL, NULL, NULL, &err, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_subprocess_get_exit_status (daemon), ==, 1);
    assert_contains (err, "cannot own org.tickhub.Tickhub on the system bus");
  }
  policy_bus_stop (&pb);

  policy_bus_start (&pb, dir, TRUE);
  {
    g_autoptr(GDBusConnection) connection = NULL;
    g_autoptr(GSubprocessLauncher) daemon_launcher = launcher_new (G_SUBPROCESS_FLAGS_NONE, pb.address);
    g_autoptr(GSubprocessLauncher) nobody = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                          G_SUBPROCESS_FLAGS_STDERR_PIPE, pb.address);
    g_autoptr(GSubprocess) daemon = NULL;

    g_subprocess_launcher_set_child_setup (nobody, become_nobody, NULL, NULL);

    /* Anyone else may not own it... */
    {
      g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDERR_PIPE, pb.address);
      g_autoptr(GSubprocess) intruder = NULL;
      g_autofree char *err = NULL;

      g_subprocess_launcher_set_child_setup (launcher, become_nobody, NULL, NULL);
      intruder = spawn_daemon (launcher, "--system", "--service", "--config",
                               g_getenv ("TICKHUB_DBUS_TEST_CONFIG"), NULL);
      g_subprocess_communicate_utf8 (intruder, NULL, NULL, NULL, &err, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (intruder), ==, 1);
      assert_contains (err, "cannot own org.tickhub.Tickhub on the system bus");
    }

    /* ...root may. */
    connection = g_dbus_connection_new_for_address_sync (pb.address, G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                         G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                         NULL, NULL, &error);
    g_assert_no_error (error);
    daemon = spawn_daemon (daemon_launcher, "--system", "--service", "--config",
                           g_getenv ("TICKHUB_DBUS_TEST_CONFIG"), NULL);
    wait_owner_pid (connection, daemon);

    /* Anyone may call it, and receive its signals. */
    {
      g_autofree char *out = NULL, *err = NULL;

      g_assert_cmpint (run_cli_with (nobody, price, &out, &err), ==, 0);
      assert_contains (out, "simulator");
    }
    {
      g_autoptr(GPtrArray) lines = watch_and_interrupt (nobody, watch, two_btc_lines);

      g_assert_cmpuint (count_btc_lines (lines), >=, 2);
    }

    stop_daemon (daemon);
    g_dbus_connection_close_sync (connection, NULL, NULL);
  }
  policy_bus_stop (&pb);
}


/* The installed files: activation files, units, sysusers and the bus
 * policy agree with each other; systemd-analyze (when there) and
 * dbus-daemon accept them. */

static GKeyFile *
load_built_keyfile (const char *first,
                    ...)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autofree char *path = NULL;
  va_list args;

  g_ptr_array_add (parts, (gpointer) g_getenv ("G_TEST_BUILDDIR"));
  g_ptr_array_add (parts, (gpointer) "..");
  g_ptr_array_add (parts, (gpointer) "data");
  va_start (args, first);
  for (const char *part = first; part != NULL; part = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) part);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  path = g_build_filenamev ((char **) parts->pdata);
  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&kf);
}

static void
assert_key (GKeyFile   *kf,
            const char *group,
            const char *key,
            const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *value = g_key_file_get_value (kf, group, key, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (value, ==, expected);
}

static char *
get_key (GKeyFile   *kf,
         const char *group,
         const char *key)
{
  g_autoptr(GError) error = NULL;
  char *value = g_key_file_get_value (kf, group, key, &error);

  g_assert_no_error (error);
  return value;
}

typedef struct
{
  char       *policy;     /* "user=X", "context=default" */
  GHashTable *owners;     /* policies that may own the name */
  gboolean    calls;      /* the default context may call the interface */
  gboolean    signals;    /* ...and receive its signals */
} PolicyScan;

static void
policy_start (GMarkupParseContext *context,
              const char          *element,
              const char         **names,
              const char         **values,
              gpointer             data,
              GError             **error)
{
  PolicyScan *scan = data;

  if (g_str_equal (element, "policy"))
    {
      g_free (scan->policy);
      scan->policy = g_strdup_printf ("%s=%s", names[0], values[0]);
      return;
    }
  if (!g_str_equal (element, "allow") || scan->policy == NULL)
    return;
  for (guint i = 0; names[i] != NULL; i++)
    {
      if (g_str_equal (names[i], "own") && g_str_equal (values[i], BUS_NAME))
        g_hash_table_add (scan->owners, g_strdup (scan->policy));
      if (g_str_equal (scan->policy, "context=default") && g_str_equal (names[i], "send_interface") &&
          g_str_equal (values[i], IFACE))
        scan->calls = TRUE;
      if (g_str_equal (scan->policy, "context=default") && g_str_equal (names[i], "receive_sender") &&
          g_str_equal (values[i], BUS_NAME))
        scan->signals = TRUE;
    }
}

/* systemd-analyze verify on a copy of @unit whose ExecStart is the
 * build-tree daemon (verify wants the program to exist): no complaint
 * about the unit. */
static void
verify_unit (const char *unit,
             const char *dir,
             gboolean    user)
{
  g_autofree char *text = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *path = g_build_filename (dir, user ? "user" : "system", NULL);
  g_autofree char *file = NULL;
  g_autofree char *runtime = g_build_filename (dir, "runtime", NULL);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GRegex) exec = g_regex_new ("^ExecStart=\\S+/tickhubd", G_REGEX_MULTILINE, 0, NULL);
  g_autofree char *replacement = g_strdup_printf ("ExecStart=%s", g_getenv ("TICKHUBD"));
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (unit, &text, NULL, &error);
  g_assert_no_error (error);
  copy = g_regex_replace_literal (exec, text, -1, 0, replacement, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (copy, !=, text);
  g_mkdir_with_parents (path, 0755);
  g_mkdir_with_parents (runtime, 0700);
  file = g_build_filename (path, "tickhubd.service", NULL);
  g_file_set_contents (file, copy, -1, &error);
  g_assert_no_error (error);

  /* A user manager needs a runtime folder, even to verify. */
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", runtime, TRUE);
  proc = g_subprocess_launcher_spawn (launcher, &error, "systemd-analyze", user ? "--user" : "--system",
                                      "verify", file, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (g_subprocess_get_exit_status (proc) != 0 || strstr (out, "tickhubd.service") != NULL ||
      strstr (err, "tickhubd.service") != NULL)
    g_error ("systemd-analyze verify %s (%s):\n%s%s", unit, user ? "user" : "system", out, err);
}

static void
test_install_files (Fixture       *fixture,
                    gconstpointer  config)
{
  g_autoptr(GKeyFile) session = load_built_keyfile ("org.tickhub.Tickhub.service", NULL);
  g_autoptr(GKeyFile) user_unit = load_built_keyfile ("tickhubd.service", NULL);
  g_autoptr(GKeyFile) system = load_built_keyfile ("system", "org.tickhub.Tickhub.service", NULL);
  g_autoptr(GKeyFile) unit = load_built_keyfile ("system", "tickhubd.service", NULL);
  g_autofree char *user = get_key (system, "D-BUS Service", "User");
  g_autofree char *exec = NULL;
  g_autofree char *sysusers = NULL;
  g_autofree char *sysusers_path = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "..", "data", "system",
                                                     "tickhub.conf", NULL);
  g_autofree char *policy_path = g_test_build_filename (G_TEST_DIST, "..", "data", "org.tickhub.Tickhub.conf", NULL);
  g_autofree char *policy = NULL;
  g_autofree char *user_policy = NULL;
  g_autoptr(GMarkupParseContext) context = NULL;
  GMarkupParser parser = { policy_start, NULL, NULL, NULL, NULL };
  PolicyScan scan = { NULL, g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), FALSE, FALSE };
  g_autofree char *analyze = NULL;
  g_autoptr(GError) error = NULL;

  /* The session bus: activation through the systemd user unit. */
  assert_key (session, "D-BUS Service", "Name", BUS_NAME);
  assert_key (session, "D-BUS Service", "SystemdService", "tickhubd.service");
  assert_key (user_unit, "Service", "Type", "dbus");
  assert_key (user_unit, "Service", "BusName", BUS_NAME);

  /* The system bus: the same, as a dedicated user, in a sandbox. */
  assert_key (system, "D-BUS Service", "Name", BUS_NAME);
  assert_key (system, "D-BUS Service", "SystemdService", "tickhubd.service");
  exec = get_key (system, "D-BUS Service", "Exec");
  g_assert_true (g_str_has_suffix (exec, "/tickhubd --system --service"));
  g_assert_cmpstr (user, !=, "root");
  assert_key (unit, "Service", "Type", "dbus");
  assert_key (unit, "Service", "BusName", BUS_NAME);
  assert_key (unit, "Service", "User", user);
  g_clear_pointer (&exec, g_free);
  exec = get_key (unit, "Service", "ExecStart");
  g_assert_true (g_str_has_suffix (exec, "/tickhubd --system --service"));
  assert_key (unit, "Service", "NoNewPrivileges", "yes");
  assert_key (unit, "Service", "ProtectSystem", "strict");
  assert_key (unit, "Service", "ProtectHome", "yes");
  assert_key (unit, "Service", "PrivateTmp", "yes");
  assert_key (unit, "Service", "StateDirectory", "tickhub");
  assert_key (unit, "Service", "CapabilityBoundingSet", "");
  assert_key (unit, "Service", "RestartPreventExitStatus", "78");
  assert_key (unit, "Install", "WantedBy", "multi-user.target");

  /* sysusers.d creates that user... */
  g_file_get_contents (sysusers_path, &sysusers, NULL, &error);
  g_assert_no_error (error);
  {
    g_autofree char *line = g_strdup_printf ("\nu %s ", user);
    assert_contains (sysusers, line);
  }

  /* ...and the bus policy lets it (and root) own the name, and everyone
   * call the interface and receive its signals. */
  g_file_get_contents (policy_path, &policy, NULL, &error);
  g_assert_no_error (error);
  context = g_markup_parse_context_new (&parser, 0, &scan, NULL);
  g_markup_parse_context_parse (context, policy, -1, &error);
  g_assert_no_error (error);
  g_markup_parse_context_end_parse (context, &error);
  g_assert_no_error (error);
  user_policy = g_strdup_printf ("user=%s", user);
  g_assert_true (g_hash_table_contains (scan.owners, user_policy));
  g_assert_true (g_hash_table_contains (scan.owners, "user=root"));
  g_assert_false (g_hash_table_contains (scan.owners, "context=default"));
  g_assert_true (scan.calls);
  g_assert_true (scan.signals);
  g_hash_table_unref (scan.owners);
  g_free (scan.policy);

  /* dbus-daemon loads a system bus configuration that includes it. */
  {
    g_autofree char *dir = g_build_filename (fixture->tmpdir, "bus", NULL);
    PolicyBus pb = { 0 };

    g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
    policy_bus_start (&pb, dir, TRUE);
    g_assert_true (g_str_has_prefix (pb.address, "unix:"));
    policy_bus_stop (&pb);
  }

  /* systemd's own checks. */
  analyze = g_find_program_in_path ("systemd-analyze");
  if (analyze == NULL)
    {
      g_test_message ("no systemd-analyze: the units are checked as keyfiles only");
      return;
    }
  {
    g_autofree char *system_unit = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "..", "data", "system",
                                                     "tickhubd.service", NULL);
    g_autofree char *session_unit = g_build_filename (g_getenv ("G_TEST_BUILDDIR"), "..", "data",
                                                      "tickhubd.service", NULL);

    verify_unit (system_unit, fixture->tmpdir, FALSE);
    verify_unit (session_unit, fixture->tmpdir, TRUE);
  }
}


/* --system reads $XDG_CONFIG_DIRS (/etc/xdg), never the service user's
 * own $XDG_CONFIG_HOME; without --system the user's file wins. */
static void
test_system_config_lookup (Fixture       *fixture,
                           gconstpointer  config)
{
  g_autofree char *home = g_build_filename (fixture->tmpdir, "home", NULL);
  g_autofree char *etc = g_build_filename (fixture->tmpdir, "etc", NULL);
  g_autofree char *home_conf = g_build_filename (home, "tickhub", "tickhub.conf", NULL);
  g_autofree char *etc_conf = g_build_filename (etc, "tickhub", "tickhub.conf", NULL);
  const char *conf[] = { home_conf, etc_conf };

  for (guint i = 0; i < G_N_ELEMENTS (conf); i++)
    {
      g_autofree char *dir = g_path_get_dirname (conf[i]);
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      g_file_set_contents (conf[i], config, -1, &error);
      g_assert_no_error (error);
    }

  for (guint system = 0; system < 2; system++)
    {
      g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
      g_autoptr(GSubprocess) proc = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;
      g_autofree char *expected = NULL;

      g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_HOME", home, TRUE);
      g_subprocess_launcher_setenv (launcher, "XDG_CONFIG_DIRS", etc, TRUE);
      proc = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("TICKHUBD"), "--check-config",
                                          system ? "--system" : "--no-dbus", NULL);
      g_assert_no_error (error);
      g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
      expected = g_strdup_printf ("%s: OK", system ? etc_conf : home_conf);
      assert_contains (out, expected);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *activation = g_strdup_printf (SIMULATOR_CONFIG, "0.1", "2", "1");
  g_autofree char *stays = g_strdup_printf (SIMULATOR_CONFIG, "0.1", "30", "1");
  g_autofree char *rate = g_strdup_printf (SIMULATOR_CONFIG, "0.01", "30", "4");
  g_autofree char *watch = g_strdup_printf (SIMULATOR_CONFIG, "0.1", "30", "5");
  g_autofree char *race = g_strdup_printf (SIMULATOR_CONFIG, "0.1", "1", "1");
  g_autofree char *no_source = NULL;
  const char *bad = "[tickhub]\nplugins=simulator;nosuch\n";
  int status;

  g_test_init (&argc, &argv, NULL);

  no_source = g_strdup_printf ("[tickhub]\nplugins=binance\nsymbols=BTC\n"
                               "[prices]\norder=binance\n"
                               "[binance]\nurl=ws://127.0.0.1:%u/stream\n"
                               "[dbus]\nprice-wait=1\nidle-timeout=30\n", closed_port ());

  g_test_add ("/dbus/activation-price-and-idle-exit", Fixture, activation,
              fixture_set_up, test_activation, fixture_tear_down);
  g_test_add ("/dbus/keep-alive-sink", Fixture,
              "[tickhub]\nplugins=simulator;server\nsymbols=BTC\n[prices]\norder=simulator\n"
              "[simulator]\ninterval=0.5\n[server]\nlisten=127.0.0.1:0\n[dbus]\nidle-timeout=1\n",
              fixture_set_up, test_keep_alive_sink, fixture_tear_down);
  g_test_add ("/dbus/stdout-sink-no-keep-alive", Fixture,
              "[tickhub]\nplugins=simulator;jsonl\nsymbols=BTC\n[simulator]\ninterval=0.5\n"
              "[jsonl]\npath=-\nevents=technical_indicators_update\n[dbus]\nidle-timeout=30\n",
              fixture_set_up, test_stdout_sink_no_keep_alive, fixture_tear_down);
  g_test_add ("/dbus/file-sink-keeps-alive", Fixture,
              "[tickhub]\nplugins=simulator;jsonl\nsymbols=BTC\n[simulator]\ninterval=0.5\n"
              "[jsonl]\npath=out.jsonl\n[dbus]\nidle-timeout=30\n",
              fixture_set_up, test_file_sink_keeps_alive, fixture_tear_down);
  g_test_add ("/dbus/methods", Fixture, stays, fixture_set_up, test_methods, fixture_tear_down);
  g_test_add ("/dbus/unknown-symbol", Fixture, stays, fixture_set_up, test_unknown_symbol, fixture_tear_down);
  g_test_add ("/dbus/no-source", Fixture, no_source, fixture_set_up, test_no_source, fixture_tear_down);
  g_test_add ("/dbus/price-changed-rate", Fixture, rate, fixture_set_up, test_price_changed_rate, fixture_tear_down);
  g_test_add ("/dbus/cli", Fixture, stays, fixture_set_up, test_cli, fixture_tear_down);
  g_test_add ("/dbus/cli-no-source", Fixture, no_source, fixture_set_up, test_cli_no_source, fixture_tear_down);
  g_test_add ("/dbus/cli-bad-config", Fixture, bad, fixture_set_up, test_cli_bad_config, fixture_tear_down);
  g_test_add ("/dbus/cli-watch", Fixture, watch, fixture_set_up, test_cli_watch, fixture_tear_down);
  g_test_add ("/dbus/history", Fixture, NULL, fixture_set_up_later, test_history, fixture_tear_down);
  g_test_add ("/dbus/status-store-down", Fixture, NULL, fixture_set_up_later, test_status_store_down,
              fixture_tear_down);
  g_test_add ("/dbus/cli-history", Fixture, NULL, fixture_set_up_later, test_cli_history, fixture_tear_down);
  g_test_add ("/dbus/rest-fallback", Fixture, NULL, fixture_set_up_later, test_rest_fallback, fixture_tear_down);
  g_test_add ("/dbus/price-from-venue", Fixture, NULL, fixture_set_up_venue, test_price_from_venue,
              fixture_tear_down);
  g_test_add ("/dbus/source-status-changed", Fixture, NULL, fixture_set_up_venue, test_source_status_changed,
              fixture_tear_down);
  g_test_add ("/dbus/idle-exit-race", Fixture, race, fixture_set_up, test_idle_exit_race, fixture_tear_down);
  g_test_add ("/dbus/system-bus", Fixture, stays, fixture_set_up_no_activation, test_system_bus,
              fixture_tear_down);
  g_test_add ("/dbus/system-policy", Fixture, stays, fixture_set_up_no_activation, test_system_policy,
              fixture_tear_down);
  g_test_add ("/dbus/system-config-lookup", Fixture, stays, fixture_set_up_no_activation,
              test_system_config_lookup, fixture_tear_down);
  g_test_add ("/dbus/install-files", Fixture, stays, fixture_set_up_no_activation, test_install_files,
              fixture_tear_down);

  status = g_test_run ();
  g_remove (g_getenv ("TICKHUB_DBUS_TEST_CONFIG"));
  return status;
}
