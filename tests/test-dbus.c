/* test-dbus.c: tickhubd as a D-Bus-activated service, and the tickhub client
 *
 * Each test runs a private bus (GTestDBus) whose service directory holds
 * tests/services/org.tickhub.Tickhub.service: its Exec is the build-tree
 * tickhubd with --service and the configuration the test writes first
 * ($TICKHUB_DBUS_TEST_CONFIG). Everything is offline: the simulator feed,
 * or a Binance feed pointed at a closed local port.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#define BUS_NAME    "org.tickhub.Tickhub"
#define OBJECT_PATH "/org/tickhub/Tickhub"
#define IFACE       "org.tickhub.Tickhub1"

/* The simulator, fast; the service exits after 2 s without calls. */
#define SIMULATOR_CONFIG \
  "[tickhub]\nplugins=simulator\nsymbols=BTC;ETH\n" \
  "[prices]\norder=simulator\n" \
  "[simulator]\ninterval=0.1\n" \
  "[dbus]\nidle-timeout=%s\nprice-wait=5\nsignal-rate=%s\n"

typedef struct
{
  GTestDBus       *bus;
  GDBusConnection *connection;
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
fixture_set_up (Fixture       *fixture,
                gconstpointer  config)
{
  g_autoptr(GError) error = NULL;

  write_config (config);
  fixture->bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_add_service_dir (fixture->bus, g_getenv ("TICKHUB_DBUS_SERVICE_DIR"));
  g_test_dbus_up (fixture->bus);

  fixture->connection = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (fixture->bus),
                                                                G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                                G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                                NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  config)
{
  g_dbus_connection_close_sync (fixture->connection, NULL, NULL);
  g_clear_object (&fixture->connection);
  g_test_dbus_down (fixture->bus);
  g_clear_object (&fixture->bus);
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

static gboolean
on_timeout (gpointer data)
{
  gboolean *timed_out = data;

  *timed_out = TRUE;
  return G_SOURCE_REMOVE;
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
  gboolean vanished = FALSE, timed_out = FALSE;
  guint watch_id, timeout_id;
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
  timeout_id = g_timeout_add_seconds (20, on_timeout, &timed_out);
  while (!vanished && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (timeout_id);
  g_bus_unwatch_name (watch_id);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
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

typedef struct
{
  guint btc;
  guint other;
} Signals;

static void
on_price_changed (GDBusConnection *connection,
                  const char      *sender,
                  const char      *path,
                  const char      *iface,
                  const char      *signal,
                  GVariant        *parameters,
                  gpointer         data)
{
  Signals *seen = data;
  const char *symbol;
  g_autoptr(GVariant) price = NULL;

  g_variant_get (parameters, "(&s@a{sv})", &symbol, &price);
  if (g_str_equal (symbol, "BTC"))
    {
      assert_price (price, "BTC");
      seen->btc++;
    }
  else
    seen->other++;
}

/* The simulator steps 10 times a second; PriceChanged goes out at most
 * signal-rate (2) times a second per symbol. */
static void
test_price_changed_rate (Fixture       *fixture,
                         gconstpointer  config)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  Signals seen = { 0 };
  gboolean timed_out = FALSE;
  guint id;

  id = g_dbus_connection_signal_subscribe (fixture->connection, BUS_NAME, IFACE, "PriceChanged", OBJECT_PATH,
                                           NULL, G_DBUS_SIGNAL_FLAGS_NONE, on_price_changed, &seen, NULL);
  reply = call (fixture, "GetPrice", g_variant_new ("(s)", "BTC"), "(a{sv})", &error);
  g_assert_no_error (error);

  g_timeout_add (3000, on_timeout, &timed_out);
  while (!timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_dbus_connection_signal_unsubscribe (fixture->connection, id);

  /* About 30 updates in 3 s; 2/s lets through 6 or 7. */
  g_assert_cmpuint (seen.btc, >=, 3);
  g_assert_cmpuint (seen.btc, <=, 8);
  g_assert_cmpuint (seen.other, >=, 3);
}

/* The command-line client */

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

  /* GTestDBus has set DBUS_SESSION_BUS_ADDRESS: the client inherits it. */
  proc = g_subprocess_newv ((const char *const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error);
  g_assert_no_error (error);
  if (g_test_verbose ())
    g_printerr ("tickhub:\n%s%s", *out, *err);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("expected “%s” in:\n%s", needle, haystack);
}

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
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (usage, &out, &err), ==, 2);
    assert_contains (err, "missing arguments");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (run_cli (bad_command, &out, &err), ==, 2);
    assert_contains (err, "unknown command “frobnicate”");
  }
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
}

/* A port nothing listens on. */
static guint16
closed_port (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GError) error = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  g_assert_no_error (error);
  g_socket_listener_close (listener);
  return port;
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *activation = g_strdup_printf (SIMULATOR_CONFIG, "2", "1");
  g_autofree char *stays = g_strdup_printf (SIMULATOR_CONFIG, "30", "1");
  g_autofree char *rate = g_strdup_printf (SIMULATOR_CONFIG, "30", "2");
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
  g_test_add ("/dbus/methods", Fixture, stays, fixture_set_up, test_methods, fixture_tear_down);
  g_test_add ("/dbus/unknown-symbol", Fixture, stays, fixture_set_up, test_unknown_symbol, fixture_tear_down);
  g_test_add ("/dbus/no-source", Fixture, no_source, fixture_set_up, test_no_source, fixture_tear_down);
  g_test_add ("/dbus/price-changed-rate", Fixture, rate, fixture_set_up, test_price_changed_rate, fixture_tear_down);
  g_test_add ("/dbus/cli", Fixture, stays, fixture_set_up, test_cli, fixture_tear_down);
  g_test_add ("/dbus/cli-bad-config", Fixture, bad, fixture_set_up, test_cli_bad_config, fixture_tear_down);

  status = g_test_run ();
  g_remove (g_getenv ("TICKHUB_DBUS_TEST_CONFIG"));
  return status;
}
