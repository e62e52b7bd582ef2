/* tickhub: the command-line client of tickhubd, over D-Bus
 *
 *   tickhub [--json] [--system] price SYMBOL...
 *   tickhub [--json] [--system] prices | status | sources | plugins
 *   tickhub [--json] [--system] watch [--alerts] [SYMBOL...]
 *   tickhub [--json|--csv] [--system] history SYMBOL [--timeframe 1h]
 *           [--days N | --from TIME] [--to TIME] [--limit N]
 *   tickhub [--json] [--system] alert add SYMBOL CONDITION [--cooldown D] [--once]...
 *   tickhub [--json] [--system] alert list | alert remove ID...
 *
 * The first method call starts the daemon through D-Bus activation when it
 * is not running. Readable, aligned tables by default; --json prints one
 * JSON document (watch: one JSON event per line, in the envelope of the
 * event stream). Errors go to stderr with a non-zero exit status:
 * 1 for an error from the daemon (no source, unknown symbol), 2 for a
 * usage error, 69 when the daemon cannot be reached or started.
 *
 * A CLI may block: the calls here are synchronous, except in watch, which
 * runs a main loop for the signals.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "th-dbus-generated.h"
#include "th-private.h"

#define BUS_NAME    "org.tickhub.Tickhub"
#define OBJECT_PATH "/org/tickhub/Tickhub"
#define ERROR_PREFIX "org.tickhub.Tickhub1.Error."

#define EXIT_ERROR       1
#define EXIT_USAGE       2
#define EXIT_UNAVAILABLE 69   /* sysexits.h EX_UNAVAILABLE */

static gboolean opt_json;
static gboolean opt_system;
static gboolean opt_alerts;
static char    *opt_cooldown;
static char    *opt_hysteresis;
static char    *opt_message;
static char    *opt_id;
static gboolean opt_once;
static gboolean opt_simulator;

static const GOptionEntry common_entries[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON for scripts", NULL },
  { "system", 0, 0, G_OPTION_ARG_NONE, &opt_system, "Talk to the daemon on the system bus", NULL },
  { NULL }
};

/* watch's own. */
static const GOptionEntry watch_entries[] = {
  { "alerts", 0, 0, G_OPTION_ARG_NONE, &opt_alerts, "Print the alerts (of each SYMBOL, or all) as they fire, "
    "instead of prices", NULL },
  { NULL }
};

/* alert add's. */
static const GOptionEntry alert_entries[] = {
  { "cooldown", 0, 0, G_OPTION_ARG_STRING, &opt_cooldown, "No new alert for this long after one (default 5m)", "D" },
  { "hysteresis", 0, 0, G_OPTION_ARG_STRING, &opt_hysteresis, "Re-arm only once the price is back past X by this "
    "margin (such as 100 or 0.5%)", "M" },
  { "once", 0, 0, G_OPTION_ARG_NONE, &opt_once, "Remove the rule after its first alert", NULL },
  { "simulator", 0, 0, G_OPTION_ARG_NONE, &opt_simulator, "Let the simulator's prices fire it", NULL },
  { "message", 0, 0, G_OPTION_ARG_STRING, &opt_message, "The alert's message", "TEXT" },
  { "id", 0, 0, G_OPTION_ARG_STRING, &opt_id, "The rule's id (default: a new one)", "ID" },
  { NULL }
};

/* Errors */

static const char *
bus_name (void)
{
  return opt_system ? "system" : "session";
}

/* Prints @error for @what on stderr; returns the exit status. */
static int
report_error (const char *what,
              GError     *error)
{
  g_autofree char *remote = g_dbus_error_get_remote_error (error);

  g_dbus_error_strip_remote_error (error);

  if (remote != NULL && g_str_equal (remote, ERROR_PREFIX "BadConfig"))
    {
      /* Started on demand with a configuration it cannot run. */
      g_printerr ("tickhub: the tickhub daemon (%s) could not be started: %s\n"
                  "tickhub: fix its configuration (check it with “tickhubd --check-config”)\n",
                  BUS_NAME, error->message);
      return EXIT_UNAVAILABLE;
    }

  if (remote != NULL && g_str_has_prefix (remote, ERROR_PREFIX))
    {
      /* NoSource, UnknownSymbol...: the daemon's message says it all. */
      g_printerr ("tickhub: %s%s%s\n", what != NULL ? what : "", what != NULL ? ": " : "", error->message);
      return EXIT_ERROR;
    }

  if (remote != NULL && g_str_has_prefix (remote, "org.freedesktop.DBus.Error.Spawn."))
    {
      g_printerr ("tickhub: the tickhub daemon (%s) could not be started: %s\n"
                  "tickhub: check its configuration with “tickhubd --check-config”, or its log "
                  "(journalctl --user -u tickhubd)\n", BUS_NAME, error->message);
      return EXIT_UNAVAILABLE;
    }

  if (remote != NULL &&
      (g_str_equal (remote, "org.freedesktop.DBus.Error.ServiceUnknown") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.NameHasNoOwner") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.NoReply") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.TimedOut") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.UnknownObject") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.UnknownMethod") ||
       g_str_equal (remote, "org.freedesktop.DBus.Error.AccessDenied")))
    {
      g_printerr ("tickhub: cannot reach the tickhub daemon (%s on the %s bus): %s\n",
                  BUS_NAME, bus_name (), error->message);
      if (g_str_equal (remote, "org.freedesktop.DBus.Error.ServiceUnknown"))
        g_printerr ("tickhub: is tickhub installed (%s.service in a dbus-1/services directory)? "
                    "Or start it: tickhubd\n", BUS_NAME);
      return EXIT_UNAVAILABLE;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    {
      g_printerr ("tickhub: the tickhub daemon did not answer in time: %s\n", error->message);
      return EXIT_UNAVAILABLE;
    }

  g_printerr ("tickhub: %s%s%s\n", what != NULL ? what : "", what != NULL ? ": " : "", error->message);
  return remote != NULL ? EXIT_ERROR : EXIT_UNAVAILABLE;
}

static GDBusConnection *
connect_bus (int *status)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_bus_get_sync (opt_system ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, NULL, &error);

  if (bus == NULL)
    {
      g_printerr ("tickhub: no D-Bus %s bus: %s\n", bus_name (), error->message);
      *status = EXIT_UNAVAILABLE;
    }
  return bus;
}

/* Calls @method and returns the first value of its reply.
 *
 * Every call is addressed to the well-known name, never to the unique name
 * of its current owner (a GDBusProxy would cache that owner): the bus then
 * picks the owner when it delivers the call, or starts the daemon. A
 * started-on-demand daemon releases the name before it exits on idle, so a
 * call made at that moment reaches either the old instance, which still
 * answers, or a new one; a call to the old unique name could find it gone. */
static GVariant *
call_daemon (GDBusConnection *bus,
             const char      *method,
             GVariant        *parameters,
             const char      *reply_type,
             GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH, "org.tickhub.Tickhub1", method,
                                       parameters, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  return reply != NULL ? g_variant_get_child_value (reply, 0) : NULL;
}

/* The same, to org.tickhub.Tickhub1.Alerts. */
static GVariant *
call_alerts (GDBusConnection *bus,
             const char      *method,
             GVariant        *parameters,
             const char      *reply_type,
             GError         **error)
{
  g_autoptr(GVariant) reply = NULL;

  reply = g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH, "org.tickhub.Tickhub1.Alerts", method,
                                       parameters, G_VARIANT_TYPE (reply_type),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, error);
  if (reply == NULL || g_variant_n_children (reply) == 0)
    return reply != NULL ? g_variant_ref (reply) : NULL;
  return g_variant_get_child_value (reply, 0);
}

/* Formatting */

static gboolean
lookup_double (GVariant   *dict,
               const char *key,
               double     *value)
{
  return g_variant_lookup (dict, key, "d", value);
}

/* A price with as many decimals as it needs, at least two: 43062.18,
 * 2307.33, 0.5123, 0.00001234. */
static char *
format_price (double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  char format[16];
  int decimals = 2;
  char *out, *dot;
  gsize len;

  if (!isfinite (value))
    return g_strdup ("-");
  if (value != 0)
    decimals = CLAMP (5 - (int) floor (log10 (fabs (value))), 2, 12);
  g_snprintf (format, sizeof format, "%%.%df", decimals);
  out = g_strdup (g_ascii_formatd (buf, sizeof buf, format, value));
  dot = strchr (out, '.');
  len = strlen (out);
  while (dot != NULL && len > (gsize) (dot - out) + 3 && out[len - 1] == '0')
    out[--len] = '\0';
  return out;
}

static char *
format_number (GVariant   *dict,
               const char *key)
{
  double value;

  if (!lookup_double (dict, key, &value))
    return g_strdup ("-");
  return format_price (value);
}

/* As events write times (2024-01-01T00:00:00.000Z), or "-". */
static char *
format_time (gint64 usec)
{
  char *text = th_format_time (usec);

  if (g_str_equal (text, "null"))    /* a year outside 0-9999 */
    {
      g_free (text);
      return g_strdup ("-");
    }
  return text;
}

static char *
format_age (gint64 ms)
{
  if (ms < 10000)
    return g_strdup_printf ("%.1f s", ms / 1000.0);
  if (ms < 120000)
    return g_strdup_printf ("%" G_GINT64_FORMAT " s", ms / 1000);
  if (ms < 7200000)
    return g_strdup_printf ("%" G_GINT64_FORMAT " min", ms / 60000);
  return g_strdup_printf ("%" G_GINT64_FORMAT " h", ms / 3600000);
}

/* Tables: rows of cells, printed with aligned columns. */

typedef struct
{
  GPtrArray *rows;          /* GStrv */
  guint      n_columns;
  guint64    right;         /* bit i: column i is right-aligned */
} Table;

static Table *
table_new (guint64 right, ...)
{
  Table *table = g_new0 (Table, 1);
  GPtrArray *header = g_ptr_array_new ();
  va_list args;
  const char *title;

  va_start (args, right);
  while ((title = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (header, g_strdup (title));
  va_end (args);
  table->n_columns = header->len;
  g_ptr_array_add (header, NULL);
  table->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_ptr_array_add (table->rows, g_ptr_array_free (header, FALSE));
  table->right = right;
  return table;
}

/* Takes the cells (n_columns of them). */
static void
table_add (Table *table,
           ...)
{
  char **row = g_new0 (char *, table->n_columns + 1);
  va_list args;

  va_start (args, table);
  for (guint i = 0; i < table->n_columns; i++)
    {
      char *cell = va_arg (args, char *);

      row[i] = cell != NULL ? cell : g_strdup ("-");
    }
  va_end (args);
  g_ptr_array_add (table->rows, row);
}

static void
table_print_free (Table *table)
{
  g_autofree gsize *widths = g_new0 (gsize, table->n_columns);

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = table->rows->pdata[r];

      for (guint c = 0; c < table->n_columns; c++)
        widths[c] = MAX (widths[c], (gsize) g_utf8_strlen (row[c], -1));
    }

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = table->rows->pdata[r];
      g_autoptr(GString) line = g_string_new (NULL);

      for (guint c = 0; c < table->n_columns; c++)
        {
          gsize pad = widths[c] - g_utf8_strlen (row[c], -1);
          gboolean last = c + 1 == table->n_columns;

          if (c > 0)
            g_string_append (line, "  ");
          if (table->right & (G_GUINT64_CONSTANT (1) << c))
            {
              for (gsize i = 0; i < pad; i++)
                g_string_append_c (line, ' ');
              g_string_append (line, row[c]);
            }
          else
            {
              g_string_append (line, row[c]);
              for (gsize i = 0; !last && i < pad; i++)
                g_string_append_c (line, ' ');
            }
        }
      while (line->len > 0 && line->str[line->len - 1] == ' ')
        g_string_truncate (line, line->len - 1);
      g_print ("%s\n", line->str);
    }

  g_ptr_array_unref (table->rows);
  g_free (table);
}

/* JSON */

/* JSON as the hub writes it (th-json.c): doubles with the fewest digits
 * that read back as the same double (json-glib 1.6 writes 17 digits,
 * 43103.599999999999); pretty or compact. */
static void
append_json (GString  *out,
             JsonNode *node,
             int       indent)     /* -1: compact */
{
  gboolean pretty = indent >= 0;

  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        _th_json_append_string (out, json_node_get_string (node));
      else if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
        g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
        _th_json_append_double (out, json_node_get_double (node));
      else
        g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            if (pretty)
              g_string_append_printf (out, "\n%*s", indent + 2, "");
            append_json (out, json_array_get_element (array, i), pretty ? indent + 2 : -1);
          }
        if (pretty && n > 0)
          g_string_append_printf (out, "\n%*s", indent, "");
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_OBJECT:
      {
        JsonObject *object = json_node_get_object (node);
        g_autoptr(GList) members = json_object_get_members (object);
        gboolean first = TRUE;

        g_string_append_c (out, '{');
        for (GList *l = members; l != NULL; l = l->next)
          {
            if (!first)
              g_string_append_c (out, ',');
            first = FALSE;
            if (pretty)
              g_string_append_printf (out, "\n%*s", indent + 2, "");
            _th_json_append_string (out, l->data);
            g_string_append (out, pretty ? ": " : ":");
            append_json (out, json_object_get_member (object, l->data), pretty ? indent + 2 : -1);
          }
        if (pretty && !first)
          g_string_append_printf (out, "\n%*s", indent, "");
        g_string_append_c (out, '}');
      }
      break;
    }
}

/* One document, pretty; watch prints one compact line per event. */
static void
print_json_node (JsonNode *node,
                 gboolean  pretty)
{
  g_autoptr(GString) out = g_string_new (NULL);

  append_json (out, node, pretty ? 0 : -1);
  g_print ("%s\n", out->str);
}

static void
print_json (JsonNode *node)
{
  print_json_node (node, TRUE);
}

static void
print_json_builder (JsonBuilder *builder,
                    gboolean     pretty)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  print_json_node (root, pretty);
}

static void
json_add_number (JsonBuilder *builder,
                 GVariant    *dict,
                 const char  *key)
{
  double value;

  json_builder_set_member_name (builder, key);
  if (lookup_double (dict, key, &value) && isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

/* The REST price object: symbol, price, bid, ask, volume, change, source,
 * timestamp (ISO 8601), age_ms; null where unknown. */
static void
json_add_price (JsonBuilder *builder,
                GVariant    *price)
{
  const char *text;
  gint64 number;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "symbol");
  if (g_variant_lookup (price, "symbol", "&s", &text))
    json_builder_add_string_value (builder, text);
  else
    json_builder_add_null_value (builder);
  json_add_number (builder, price, "price");
  json_add_number (builder, price, "bid");
  json_add_number (builder, price, "ask");
  json_add_number (builder, price, "volume");
  json_add_number (builder, price, "change");
  json_builder_set_member_name (builder, "source");
  if (g_variant_lookup (price, "source", "&s", &text))
    json_builder_add_string_value (builder, text);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "timestamp");
  if (g_variant_lookup (price, "timestamp", "x", &number))
    {
      g_autofree char *iso = format_time (number);
      json_builder_add_string_value (builder, iso);
    }
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "age_ms");
  if (g_variant_lookup (price, "age_ms", "x", &number))
    json_builder_add_int_value (builder, number);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);
}

static Table *
price_table_new (void)
{
  /* Right-aligned: price, bid, ask, change, volume, age. */
  return table_new (0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x80,
                    "SYMBOL", "PRICE", "BID", "ASK", "CHANGE", "VOLUME", "SOURCE", "AGE", NULL);
}

static void
price_table_add (Table    *table,
                 GVariant *price)
{
  const char *symbol = "?", *source = NULL;
  double change;
  gint64 age;

  g_variant_lookup (price, "symbol", "&s", &symbol);
  g_variant_lookup (price, "source", "&s", &source);
  table_add (table,
             g_strdup (symbol),
             format_number (price, "price"),
             format_number (price, "bid"),
             format_number (price, "ask"),
             lookup_double (price, "change", &change) ? g_strdup_printf ("%+.2f%%", change) : NULL,
             format_number (price, "volume"),
             g_strdup (source),
             g_variant_lookup (price, "age_ms", "x", &age) ? format_age (age) : NULL);
}

/* Commands */

typedef struct
{
  const char *name;
  const char *args;
  const char *summary;
  int       (*run) (GDBusConnection *bus, char **args);
  int         min_args;
  int         max_args;   /* -1: any */
  const GOptionEntry *entries;   /* the command's own options, or NULL */
} Command;

static int
cmd_price (GDBusConnection *bus,
           char      **args)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  Table *table = price_table_new ();
  guint n = g_strv_length (args);
  guint ok = 0;
  int status = 0;

  if (n > 1)
    json_builder_begin_object (builder);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *symbol = g_ascii_strup (args[i], -1);
      g_autoptr(GVariant) price = NULL;
      g_autoptr(GError) error = NULL;

      price = call_daemon (bus, "GetPrice", g_variant_new ("(s)", symbol), "(a{sv})", &error);
      if (price == NULL)
        {
          int s = report_error (symbol, error);

          status = MAX (status, s);
          if (s == EXIT_UNAVAILABLE)
            break;
          continue;
        }
      ok++;
      if (n > 1)
        json_builder_set_member_name (builder, symbol);
      json_add_price (builder, price);
      price_table_add (table, price);
    }
  if (n > 1)
    json_builder_end_object (builder);

  if (opt_json && (ok > 0 || n > 1) && status != EXIT_UNAVAILABLE)
    {
      g_autoptr(JsonNode) root = json_builder_get_root (builder);
      print_json (root);
    }
  if (!opt_json && ok > 0)
    table_print_free (table);
  else
    {
      /* Nothing to print. */
      g_ptr_array_unref (table->rows);
      g_free (table);
    }
  return status;
}

static int
cmd_prices (GDBusConnection *bus,
            char      **args)
{
  g_autoptr(GVariant) prices = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  const char *symbol;
  GVariant *price;

  prices = call_daemon (bus, "GetPrices", NULL, "(a{sa{sv}})", &error);
  if (prices == NULL)
    return report_error (NULL, error);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (builder);
      g_variant_iter_init (&iter, prices);
      while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &symbol, &price))
        {
          json_builder_set_member_name (builder, symbol);
          json_add_price (builder, price);
        }
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      print_json (root);
    }
  else if (g_variant_n_children (prices) == 0)
    g_print ("no symbol has a fresh price (see “tickhub sources”)\n");
  else
    {
      Table *table = price_table_new ();

      g_variant_iter_init (&iter, prices);
      while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &symbol, &price))
        price_table_add (table, price);
      table_print_free (table);
    }
  return 0;
}

static char *
format_value (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (value, NULL);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      g_autofree const char **strv = g_variant_get_strv (value, NULL);
      return strv[0] != NULL ? g_strjoinv (", ", (char **) strv) : g_strdup ("-");
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_strdup_printf ("%.1f", g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE ("a{ss}")))
    {
      GString *out = g_string_new (NULL);
      GVariantIter iter;
      const char *k, *v;

      g_variant_iter_init (&iter, value);
      while (g_variant_iter_next (&iter, "{&s&s}", &k, &v))
        g_string_append_printf (out, "%s%s %s", out->len > 0 ? ", " : "", k, v);
      return g_string_free (out, FALSE);
    }
  return g_variant_print (value, FALSE);
}

static JsonNode *
variant_to_json (GVariant *value)
{
  /* json-glib writes a{sv} as objects, as arrays and numbers as numbers. */
  return json_gvariant_serialize (value);
}

static int
cmd_status (GDBusConnection *bus,
            char      **args)
{
  static const char *const order[] = {
    "version", "pid", "uptime", "config", "symbols", "priced_symbols", "quote", "timeframes",
    "plugins", "sources", "store", "store_reason", "rejected_ticks", "idle_timeout", "signal_rate", NULL
  };
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;
  Table *table;

  status = call_daemon (bus, "GetStatus", NULL, "(a{sv})", &error);
  if (status == NULL)
    return report_error (NULL, error);

  if (opt_json)
    {
      g_autoptr(JsonNode) root = variant_to_json (status);
      print_json (root);
      return 0;
    }

  table = table_new (0, "KEY", "VALUE", NULL);
  for (guint i = 0; order[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_variant_lookup_value (status, order[i], NULL);

      if (value != NULL)
        table_add (table, g_strdup (order[i]), format_value (value));
    }
  /* Keys newer than this client. */
  {
    GVariantIter iter;
    const char *key;
    GVariant *value;

    g_variant_iter_init (&iter, status);
    while (g_variant_iter_loop (&iter, "{&sv}", &key, &value))
      if (!g_strv_contains (order, key))
        table_add (table, g_strdup (key), format_value (value));
  }
  /* No header for a key: value list. */
  g_strfreev (g_ptr_array_steal_index (table->rows, 0));
  table_print_free (table);
  return 0;
}

static int
cmd_sources (GDBusConnection *bus,
             char      **args)
{
  g_autoptr(GVariant) sources = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *source;
  Table *table;

  sources = call_daemon (bus, "ListSources", NULL, "(aa{sv})", &error);
  if (sources == NULL)
    return report_error (NULL, error);

  if (opt_json)
    {
      g_autoptr(JsonNode) root = variant_to_json (sources);
      print_json (root);
      return 0;
    }

  table = table_new (0x1 | 0x8 | 0x10, "RANK", "SOURCE", "STATE", "LAST", "TTL", "SELECTED FOR", "REASON", NULL);
  g_variant_iter_init (&iter, sources);
  while (g_variant_iter_loop (&iter, "@a{sv}", &source))
    {
      const char *name = "?", *state = "?", *reason = NULL;
      gboolean feed = TRUE;
      gint32 rank = -1;
      gint64 age, ttl;
      g_autofree const char **selected = NULL;
      g_autoptr(GVariant) selected_v = g_variant_lookup_value (source, "selected_for", G_VARIANT_TYPE_STRING_ARRAY);

      g_variant_lookup (source, "name", "&s", &name);
      g_variant_lookup (source, "state", "&s", &state);
      g_variant_lookup (source, "reason", "&s", &reason);
      g_variant_lookup (source, "rank", "i", &rank);
      g_variant_lookup (source, "feed", "b", &feed);
      /* In [prices] order, but no plugin delivers it. */
      if (!feed && g_str_equal (state, "connecting") &&
          !g_variant_lookup (source, "last_message_age_ms", "x", &age))
        state = "no feed";
      if (selected_v != NULL)
        selected = g_variant_get_strv (selected_v, NULL);
      table_add (table,
                 g_strdup_printf ("%d", rank + 1),
                 g_strdup (name),
                 g_strdup (state),
                 g_variant_lookup (source, "last_message_age_ms", "x", &age) ? format_age (age) : NULL,
                 g_variant_lookup (source, "ttl_ms", "x", &ttl) ? format_age (ttl) : NULL,
                 selected != NULL && selected[0] != NULL ? g_strjoinv (",", (char **) selected) : NULL,
                 g_strdup (reason));
    }
  table_print_free (table);
  return 0;
}

static int
cmd_plugins (GDBusConnection *bus,
             char      **args)
{
  g_autoptr(GVariant) plugins = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *plugin;
  Table *table;

  plugins = call_daemon (bus, "ListPlugins", NULL, "(aa{sv})", &error);
  if (plugins == NULL)
    return report_error (NULL, error);

  if (opt_json)
    {
      g_autoptr(JsonNode) root = variant_to_json (plugins);
      print_json (root);
      return 0;
    }

  table = table_new (0, "PLUGIN", "KIND", "STATE", NULL);
  g_variant_iter_init (&iter, plugins);
  while (g_variant_iter_loop (&iter, "@a{sv}", &plugin))
    {
      const char *name = "?", *kind = "?", *state = "enabled", *why = NULL;
      g_autofree char *line = NULL;

      g_variant_lookup (plugin, "name", "&s", &name);
      g_variant_lookup (plugin, "kind", "&s", &kind);
      g_variant_lookup (plugin, "state", "&s", &state);
      g_variant_lookup (plugin, "error", "&s", &why);
      /* The first line of the error: its traceback is in the daemon's log. */
      if (why != NULL)
        line = g_strdup_printf ("%s: %.*s", state, (int) strcspn (why, "\n"), why);
      table_add (table, g_strdup (name), g_strdup (kind), line != NULL ? g_steal_pointer (&line) : g_strdup (state));
    }
  table_print_free (table);
  return 0;
}

/* watch */

static void print_alert (GVariant *alert);

typedef struct
{
  GMainLoop       *loop;
  GDBusConnection *bus;
  ThTickhub1      *proxy;     /* for the signals */
  char      **symbols;      /* NULL or empty: all */
  int         status;
  guint       keepalive_id;
  GHashTable *printed;      /* symbol → timestamp of the last price printed */
} Watch;

static gboolean
watching (Watch      *watch,
          const char *symbol)
{
  return watch->symbols == NULL || watch->symbols[0] == NULL ||
         g_strv_contains ((const char *const *) watch->symbols, symbol);
}

static void
watch_print_price (const char *symbol,
                   GVariant   *price)
{
  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      /* The envelope of the event stream (financial_data_update). */
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, "financial_data_update");
      json_builder_set_member_name (builder, "data");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "symbol");
      json_builder_add_string_value (builder, symbol);
      json_builder_set_member_name (builder, "data");
      json_add_price (builder, price);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      print_json_builder (builder, FALSE);
    }
  else
    {
      g_autofree char *value = format_number (price, "price");
      g_autofree char *when = NULL;
      const char *source = "?";
      gint64 timestamp;
      double change;
      g_autofree char *change_text = NULL;

      g_variant_lookup (price, "source", "&s", &source);
      when = g_variant_lookup (price, "timestamp", "x", &timestamp) ? format_time (timestamp) : g_strdup ("-");
      change_text = lookup_double (price, "change", &change) ? g_strdup_printf ("%+.2f%%", change) : g_strdup ("");
      g_print ("%s  %-6s %14s %9s  %s\n", when, symbol, value, change_text, source);
    }
  fflush (stdout);
}

static void
watch_price (Watch      *watch,
             const char *symbol,
             GVariant   *price)
{
  gint64 timestamp = 0;
  gpointer last;

  if (!watching (watch, symbol))
    return;
  /* The first signal may repeat the price GetPrices gave. */
  g_variant_lookup (price, "timestamp", "x", &timestamp);
  if (g_hash_table_lookup_extended (watch->printed, symbol, NULL, &last) &&
      timestamp != 0 && *(gint64 *) last == timestamp)
    return;
  g_hash_table_insert (watch->printed, g_strdup (symbol), g_memdup2 (&timestamp, sizeof timestamp));
  watch_print_price (symbol, price);
}

static void
on_price_changed (ThTickhub1 *proxy,
                  const char *symbol,
                  GVariant   *price,
                  Watch      *watch)
{
  watch_price (watch, symbol, price);
}

static void
on_source_status_changed (ThTickhub1 *proxy,
                          const char *source,
                          const char *state,
                          Watch      *watch)
{
  if (opt_json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "event");
      json_builder_add_string_value (builder, "source_status");
      json_builder_set_member_name (builder, "data");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "source");
      json_builder_add_string_value (builder, source);
      json_builder_set_member_name (builder, "state");
      json_builder_add_string_value (builder, state);
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      print_json_builder (builder, FALSE);
    }
  else
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *when = format_time (g_date_time_to_unix (now) * G_USEC_PER_SEC +
                                           g_date_time_get_microsecond (now));

      g_print ("%s  source %s: %s\n", when, source, state);
    }
  fflush (stdout);
}

static void
on_owner_changed (GObject    *object,
                  GParamSpec *pspec,
                  Watch      *watch)
{
  g_autofree char *owner = g_dbus_proxy_get_name_owner (G_DBUS_PROXY (object));

  if (owner == NULL)
    {
      g_printerr ("tickhub: the tickhub daemon stopped\n");
      watch->status = EXIT_UNAVAILABLE;
      g_main_loop_quit (watch->loop);
    }
}

static void
on_keepalive_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GError) error = NULL;

  /* A failure shows as the owner going away. */
  status = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
}

/* A started-on-demand daemon exits after idle-timeout seconds without
 * calls; listening to signals is not a call, so watch calls now and then. */
static gboolean
on_keepalive (gpointer user_data)
{
  Watch *watch = user_data;

  g_dbus_connection_call (watch->bus, BUS_NAME, OBJECT_PATH, "org.tickhub.Tickhub1", "GetStatus",
                          NULL, G_VARIANT_TYPE ("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                          on_keepalive_done, NULL);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer user_data)
{
  Watch *watch = user_data;

  g_main_loop_quit (watch->loop);
  return G_SOURCE_CONTINUE;
}

static void
on_alert_triggered (GDBusConnection *connection,
                    const char      *sender,
                    const char      *path,
                    const char      *interface,
                    const char      *signal,
                    GVariant        *parameters,
                    gpointer         data)
{
  Watch *watch = data;
  g_autoptr(GVariant) alert = NULL;
  const char *symbol = "";

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(a{sv})")))
    return;
  alert = g_variant_get_child_value (parameters, 0);
  g_variant_lookup (alert, "symbol", "&s", &symbol);
  if (watching (watch, symbol))
    print_alert (alert);
}

static int
cmd_watch (GDBusConnection *bus,
           char      **args)
{
  Watch watch = { 0 };
  g_autoptr(GVariant) status = NULL;
  g_autoptr(GVariant) prices = NULL;
  g_autoptr(GError) error = NULL;
  guint32 idle_timeout = 0;
  guint sigint_id, sigterm_id;
  guint alert_sub = 0;
  GVariantIter iter;
  const char *symbol;
  GVariant *price;

  watch.bus = bus;
  watch.printed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  watch.symbols = g_new0 (char *, g_strv_length (args) + 1);
  for (guint i = 0; args[i] != NULL; i++)
    watch.symbols[i] = g_ascii_strup (args[i], -1);

  /* The proxy subscribes to the signals when it is made, before the
   * calls below: signals arriving meanwhile wait in the main context. It
   * starts nothing itself; the first call starts the daemon if needed. */
  watch.proxy = th_tickhub1_proxy_new_sync (bus, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES |
                                            G_DBUS_PROXY_FLAGS_DO_NOT_AUTO_START_AT_CONSTRUCTION,
                                            BUS_NAME, OBJECT_PATH, NULL, &error);
  if (watch.proxy != NULL)
    status = call_daemon (bus, "GetStatus", NULL, "(a{sv})", &error);
  if (status == NULL)
    {
      g_clear_object (&watch.proxy);
      g_strfreev (watch.symbols);
      g_hash_table_unref (watch.printed);
      return report_error (NULL, error);
    }
  g_variant_lookup (status, "idle_timeout", "u", &idle_timeout);

  /* Unknown symbols are an error now rather than silence forever. */
  {
    g_autofree const char **known = NULL;
    g_autoptr(GVariant) symbols = g_variant_lookup_value (status, "symbols", G_VARIANT_TYPE_STRING_ARRAY);

    if (symbols != NULL)
      known = g_variant_get_strv (symbols, NULL);
    for (guint i = 0; known != NULL && watch.symbols[i] != NULL; i++)
      if (!g_strv_contains (known, watch.symbols[i]))
        {
          g_autofree char *list = g_strjoinv (", ", (char **) known);

          g_printerr ("tickhub: unknown symbol “%s”; the daemon follows %s\n",
                      watch.symbols[i], *list != '\0' ? list : "no symbols");
          g_clear_object (&watch.proxy);
          g_strfreev (watch.symbols);
          g_hash_table_unref (watch.printed);
          return EXIT_ERROR;
        }
  }

  /* --alerts: the daemon must run the alerts plugin. */
  if (opt_alerts)
    {
      g_autoptr(GVariant) rules = call_alerts (bus, "ListAlerts", NULL, "(aa{sv})", &error);

      if (rules == NULL)
        {
          g_clear_object (&watch.proxy);
          g_strfreev (watch.symbols);
          g_hash_table_unref (watch.printed);
          return report_error ("watch --alerts", error);
        }
      alert_sub = g_dbus_connection_signal_subscribe (bus, BUS_NAME, "org.tickhub.Tickhub1.Alerts", "AlertTriggered",
                                                      OBJECT_PATH, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                                      on_alert_triggered, &watch, NULL);
    }

  /* The current prices first. */
  prices = opt_alerts ? NULL : call_daemon (bus, "GetPrices", NULL, "(a{sa{sv}})", NULL);
  if (prices != NULL)
    {
      g_variant_iter_init (&iter, prices);
      while (g_variant_iter_loop (&iter, "{&s@a{sv}}", &symbol, &price))
        watch_price (&watch, symbol, price);
    }

  watch.loop = g_main_loop_new (NULL, FALSE);
  if (!opt_alerts)
    {
      g_signal_connect (watch.proxy, "price-changed", G_CALLBACK (on_price_changed), &watch);
      g_signal_connect (watch.proxy, "source-status-changed", G_CALLBACK (on_source_status_changed), &watch);
    }
  g_signal_connect (watch.proxy, "notify::g-name-owner", G_CALLBACK (on_owner_changed), &watch);
  /* Three calls per idle period: one late or lost call does not let the
   * daemon go (g_timeout_add_seconds would be too coarse for 1 s). */
  if (idle_timeout > 0)
    watch.keepalive_id = g_timeout_add (MAX (idle_timeout * 1000 / 3, 200), on_keepalive, &watch);
  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &watch);
  sigterm_id = g_unix_signal_add (SIGTERM, on_sigint, &watch);

  g_main_loop_run (watch.loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_clear_handle_id (&watch.keepalive_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (watch.proxy, &watch);
  if (alert_sub != 0)
    g_dbus_connection_signal_unsubscribe (bus, alert_sub);
  g_clear_object (&watch.proxy);
  g_main_loop_unref (watch.loop);
  g_strfreev (watch.symbols);
  g_hash_table_unref (watch.printed);
  return watch.status;
}

/* history */

static char *opt_timeframe;
static double opt_days = -1;
static char *opt_from;
static char *opt_to;
static int opt_limit = 0;
static gboolean opt_csv;

static const GOptionEntry history_entries[] = {
  { "timeframe", 0, 0, G_OPTION_ARG_STRING, &opt_timeframe, "A configured timeframe (default: the first of [tickhub] timeframes)", "1h" },
  { "days", 0, 0, G_OPTION_ARG_DOUBLE, &opt_days, "The last N days (default: 1)", "N" },
  { "from", 0, 0, G_OPTION_ARG_STRING, &opt_from, "From TIME (ISO 8601 or epoch milliseconds), included", "TIME" },
  { "to", 0, 0, G_OPTION_ARG_STRING, &opt_to, "To TIME (ISO 8601 or epoch milliseconds), excluded (default: now)", "TIME" },
  { "limit", 0, 0, G_OPTION_ARG_INT, &opt_limit, "At most N candles, the latest (1 to 10000; default 1000)", "N" },
  { "csv", 0, 0, G_OPTION_ARG_NONE, &opt_csv, "Print CSV: start,open,high,low,close,volume,ticks", NULL },
  { NULL }
};

static void
csv_number (GString *out,
            double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_c (out, ',');
  if (isfinite (value))
    g_string_append (out, g_ascii_dtostr (buf, sizeof buf, value));
}

static int
cmd_history (GDBusConnection *bus,
             char           **args)
{
  g_autofree char *symbol = g_ascii_strup (args[0], -1);
  g_autofree char *timeframe = g_strdup (opt_timeframe);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) candles = NULL;
  g_autoptr(GError) error = NULL;
  gint64 from_us = 0, to_us = 0, from, to;
  GVariantIter iter;
  gint64 start;
  double open, high, low, close, volume;
  guint32 ticks;

  if (opt_from != NULL && opt_days >= 0)
    {
      g_printerr ("tickhub history: give either --days or --from, not both\n");
      return EXIT_USAGE;
    }
  if (opt_csv && opt_json)
    {
      g_printerr ("tickhub history: give either --json or --csv, not both\n");
      return EXIT_USAGE;
    }
  if (opt_to != NULL && !_th_parse_time (opt_to, &to_us))
    {
      g_printerr ("tickhub history: --to must be an ISO 8601 time such as 2024-01-01T00:00:00Z, or epoch milliseconds\n");
      return EXIT_USAGE;
    }
  if (opt_from != NULL && !_th_parse_time (opt_from, &from_us))
    {
      g_printerr ("tickhub history: --from must be an ISO 8601 time such as 2024-01-01T00:00:00Z, or epoch milliseconds\n");
      return EXIT_USAGE;
    }
  if (opt_days >= 0)
    {
      if (!(opt_days > 0 && opt_days <= 3650))
        {
          g_printerr ("tickhub history: --days must be a number of days from 0 (excluded) to 3650, such as 30\n");
          return EXIT_USAGE;
        }
      /* Relative to --to (or now): the daemon resolves it on its clock. */
      from_us = -(gint64) (opt_days * 86400 * G_USEC_PER_SEC);
    }
  if (opt_limit < 0 || opt_limit > 10000)
    {
      g_printerr ("tickhub history: --limit must be a whole number from 1 to 10000\n");
      return EXIT_USAGE;
    }

  if (timeframe == NULL)
    {
      /* The first configured timeframe, as REST's default. */
      g_autoptr(GVariant) status = call_daemon (bus, "GetStatus", NULL, "(a{sv})", &error);
      g_autofree const char **timeframes = NULL;

      if (status == NULL)
        return report_error (NULL, error);
      if (!g_variant_lookup (status, "timeframes", "^a&s", &timeframes) || timeframes[0] == NULL)
        {
          g_printerr ("tickhub history: the daemon has no timeframes; give --timeframe\n");
          return EXIT_ERROR;
        }
      timeframe = g_strdup (timeframes[0]);
    }

  reply = g_dbus_connection_call_sync (bus, BUS_NAME, OBJECT_PATH, "org.tickhub.Tickhub1", "GetHistory",
                                       g_variant_new ("(ssxxu)", symbol, timeframe, from_us, to_us,
                                                      (guint32) opt_limit),
                                       G_VARIANT_TYPE ("(xxa(xdddddu))"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                       &error);
  if (reply == NULL)
    return report_error (symbol, error);
  g_variant_get (reply, "(xx@a(xdddddu))", &from, &to, &candles);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *from_text = th_format_time (from);
      g_autofree char *to_text = th_format_time (to);

      /* The body of REST /api/v1/history/{SYMBOL}. */
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "symbol");
      json_builder_add_string_value (b, symbol);
      json_builder_set_member_name (b, "timeframe");
      json_builder_add_string_value (b, timeframe);
      json_builder_set_member_name (b, "from");
      json_builder_add_string_value (b, from_text);
      json_builder_set_member_name (b, "to");
      json_builder_add_string_value (b, to_text);
      json_builder_set_member_name (b, "candles");
      json_builder_begin_array (b);
      g_variant_iter_init (&iter, candles);
      while (g_variant_iter_next (&iter, "(xdddddu)", &start, &open, &high, &low, &close, &volume, &ticks))
        {
          g_autofree char *start_text = th_format_time (start);
          const char *names[] = { "open", "high", "low", "close", "volume" };
          double values[] = { open, high, low, close, volume };

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "start");
          json_builder_add_string_value (b, start_text);
          for (guint i = 0; i < G_N_ELEMENTS (names); i++)
            {
              json_builder_set_member_name (b, names[i]);
              if (isfinite (values[i]))
                json_builder_add_double_value (b, values[i]);
              else
                json_builder_add_null_value (b);
            }
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      print_json_builder (b, TRUE);
      return 0;
    }

  if (opt_csv)
    {
      g_autoptr(GString) out = g_string_new ("start,open,high,low,close,volume,ticks\n");

      g_variant_iter_init (&iter, candles);
      while (g_variant_iter_next (&iter, "(xdddddu)", &start, &open, &high, &low, &close, &volume, &ticks))
        {
          g_autofree char *start_text = th_format_time (start);

          g_string_append (out, start_text);
          csv_number (out, open);
          csv_number (out, high);
          csv_number (out, low);
          csv_number (out, close);
          csv_number (out, volume);
          g_string_append_printf (out, ",%u\n", ticks);
        }
      fputs (out->str, stdout);
      return 0;
    }

  {
    Table *table = table_new (0x7e, "START", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME", "TICKS", NULL);

    g_variant_iter_init (&iter, candles);
    while (g_variant_iter_next (&iter, "(xdddddu)", &start, &open, &high, &low, &close, &volume, &ticks))
      table_add (table, format_time (start), format_price (open), format_price (high), format_price (low),
                 format_price (close), format_price (volume), g_strdup_printf ("%u", ticks));
    if (g_variant_n_children (candles) == 0)
      {
        g_autofree char *from_text = format_time (from);
        g_autofree char *to_text = format_time (to);

        g_printerr ("tickhub: no %s %s candles stored from %s to %s\n", symbol, timeframe, from_text, to_text);
      }
    table_print_free (table);
  }
  return 0;
}

/* alert */

/* An alert (AlertTriggered's a{sv}) as the price_alert event's JSON. */
static JsonNode *
alert_to_json (GVariant *alert)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  static const char *const strings[] = { "id", "symbol", "condition", "kind", "source", NULL };
  gint64 timestamp;
  const char *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "price_alert");
  json_builder_set_member_name (b, "data");
  json_builder_begin_object (b);
  for (guint i = 0; strings[i] != NULL; i++)
    {
      json_builder_set_member_name (b, strings[i]);
      if (g_variant_lookup (alert, strings[i], "&s", &text))
        json_builder_add_string_value (b, text);
      else
        json_builder_add_null_value (b);
    }
  json_add_number (b, alert, "price");
  json_add_number (b, alert, "value");
  json_builder_set_member_name (b, "timestamp");
  if (g_variant_lookup (alert, "timestamp", "x", &timestamp))
    {
      g_autofree char *iso = th_format_time (timestamp);

      json_builder_add_string_value (b, iso);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "message");
  if (g_variant_lookup (alert, "message", "&s", &text))
    json_builder_add_string_value (b, text);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_alert (GVariant *alert)
{
  if (opt_json)
    {
      g_autoptr(JsonNode) node = alert_to_json (alert);
      g_autoptr(GString) out = g_string_new (NULL);

      append_json (out, node, -1);
      g_print ("%s\n", out->str);
    }
  else
    {
      const char *id = "?", *symbol = "?", *message = "", *source = "-";
      g_autofree char *price = format_number (alert, "price");
      g_autofree char *when = NULL;
      gint64 timestamp = 0;

      g_variant_lookup (alert, "id", "&s", &id);
      g_variant_lookup (alert, "symbol", "&s", &symbol);
      g_variant_lookup (alert, "message", "&s", &message);
      g_variant_lookup (alert, "source", "&s", &source);
      g_variant_lookup (alert, "timestamp", "x", &timestamp);
      when = format_time (timestamp);
      g_print ("%s  ALERT %s  %-6s %14s  %s  %s\n", when, id, symbol, price, source, message);
    }
  fflush (stdout);
}

static int
alert_add (GDBusConnection *bus,
           char           **args)
{
  g_autoptr(GVariant) rule = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *symbol = NULL;
  g_autofree char *condition = NULL;
  GVariantDict options;
  const char *id = "?";

  if (args[0] == NULL || args[1] == NULL)
    {
      g_printerr ("tickhub alert add: give a symbol and a condition, such as tickhub alert add BTC \"above 50000\"\n");
      return EXIT_USAGE;
    }
  symbol = g_ascii_strup (args[0], -1);
  condition = g_strjoinv (" ", args + 1);
  g_variant_dict_init (&options, NULL);
  if (opt_cooldown != NULL)
    g_variant_dict_insert (&options, "cooldown", "s", opt_cooldown);
  if (opt_hysteresis != NULL)
    g_variant_dict_insert (&options, "hysteresis", "s", opt_hysteresis);
  if (opt_message != NULL)
    g_variant_dict_insert (&options, "message", "s", opt_message);
  if (opt_id != NULL)
    g_variant_dict_insert (&options, "id", "s", opt_id);
  if (opt_once)
    g_variant_dict_insert (&options, "once", "b", TRUE);
  if (opt_simulator)
    g_variant_dict_insert (&options, "simulator", "b", TRUE);

  rule = call_alerts (bus, "AddAlert", g_variant_new ("(ss@a{sv})", symbol, condition, g_variant_dict_end (&options)),
                      "(a{sv})", &error);
  if (rule == NULL)
    return report_error ("alert add", error);
  if (opt_json)
    {
      g_autoptr(JsonNode) root = variant_to_json (rule);

      print_json (root);
      return 0;
    }
  g_variant_lookup (rule, "id", "&s", &id);
  g_print ("%s\n", id);
  return 0;
}

static int
alert_list (GDBusConnection *bus)
{
  g_autoptr(GVariant) rules = NULL;
  g_autoptr(GError) error = NULL;
  GVariantIter iter;
  GVariant *rule;
  Table *table;

  rules = call_alerts (bus, "ListAlerts", NULL, "(aa{sv})", &error);
  if (rules == NULL)
    return report_error ("alert list", error);
  if (opt_json)
    {
      g_autoptr(JsonNode) root = variant_to_json (rules);

      print_json (root);
      return 0;
    }
  table = table_new (0x40, "ID", "SYMBOL", "CONDITION", "COOLDOWN", "ONCE", "OWNER", "FIRED", "MESSAGE", NULL);
  g_variant_iter_init (&iter, rules);
  while (g_variant_iter_loop (&iter, "@a{sv}", &rule))
    {
      const char *id = "?", *symbol = "?", *condition = "?", *owner = "", *message = NULL;
      double cooldown = 0;
      gboolean once = FALSE;
      guint64 fired = 0;

      g_variant_lookup (rule, "id", "&s", &id);
      g_variant_lookup (rule, "symbol", "&s", &symbol);
      g_variant_lookup (rule, "condition", "&s", &condition);
      g_variant_lookup (rule, "owner", "&s", &owner);
      g_variant_lookup (rule, "message", "&s", &message);
      g_variant_lookup (rule, "cooldown", "d", &cooldown);
      g_variant_lookup (rule, "once", "b", &once);
      g_variant_lookup (rule, "fired", "t", &fired);
      table_add (table, g_strdup (id), g_strdup (symbol), g_strdup (condition), g_strdup_printf ("%gs", cooldown),
                 g_strdup (once ? "yes" : "no"), g_strdup (owner), g_strdup_printf ("%" G_GUINT64_FORMAT, fired),
                 g_strdup (message));
    }
  table_print_free (table);
  return 0;
}

static int
alert_remove (GDBusConnection *bus,
              char           **ids)
{
  int status = 0;

  if (ids[0] == NULL)
    {
      g_printerr ("tickhub alert remove: give the id of a rule (tickhub alert list shows them)\n");
      return EXIT_USAGE;
    }
  for (guint i = 0; ids[i] != NULL; i++)
    {
      g_autoptr(GVariant) reply = NULL;
      g_autoptr(GError) error = NULL;

      reply = call_alerts (bus, "RemoveAlert", g_variant_new ("(s)", ids[i]), "()", &error);
      if (reply == NULL)
        {
          int code = report_error (ids[i], error);

          status = MAX (status, code);
        }
    }
  return status;
}

static int
cmd_alert (GDBusConnection *bus,
           char           **args)
{
  if (g_str_equal (args[0], "add"))
    return alert_add (bus, args + 1);
  if (g_str_equal (args[0], "list") && args[1] == NULL)
    return alert_list (bus);
  if (g_str_equal (args[0], "remove"))
    return alert_remove (bus, args + 1);
  g_printerr ("tickhub alert: “%s” is not add SYMBOL CONDITION, list or remove ID\n", args[0]);
  return EXIT_USAGE;
}

static const Command commands[] = {
  { "price", "SYMBOL…", "The price of each SYMBOL, from its selected source", cmd_price, 1, -1 },
  { "prices", "", "The price of every symbol that has a fresh one", cmd_prices, 0, 0 },
  { "status", "", "The daemon's status", cmd_status, 0, 0 },
  { "sources", "", "The price sources, highest priority first, with their state", cmd_sources, 0, 0 },
  { "plugins", "", "The loaded plugins", cmd_plugins, 0, 0 },
  { "watch", "[SYMBOL…]", "Print prices (of each SYMBOL, or all) and source changes as they happen, until Ctrl-C",
    cmd_watch, 0, -1, watch_entries },
  { "history", "SYMBOL", "The stored candles of SYMBOL (--timeframe, --days or --from/--to, --limit, --csv)",
    cmd_history, 1, 1, history_entries },
  { "alert", "add|list|remove", "Add (SYMBOL CONDITION), list or remove (ID) alert rules", cmd_alert, 1, -1,
    alert_entries },
};

static void
usage (FILE *out)
{
  fprintf (out,
           "Usage: tickhub [--json] [--system] COMMAND [ARGS…]\n"
           "\n"
           "Query the tickhub daemon over D-Bus (started on demand).\n"
           "\n"
           "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      /* Padded by characters, not bytes (“…” is three bytes). */
      int pad = 11 - (int) g_utf8_strlen (commands[i].args, -1);

      fprintf (out, "  %-8s %s%*s %s\n", commands[i].name, commands[i].args, MAX (pad, 0), "",
               commands[i].summary);
    }
  fprintf (out,
           "\n"
           "Options:\n"
           "  --json     print JSON for scripts\n"
           "  --system   talk to the daemon on the system bus\n"
           "  --version  print the version\n"
           "\n"
           "“tickhub COMMAND --help” describes a command. Exit status: 0, 1 for an error\n"
           "from the daemon (no source, unknown symbol), 2 for a usage error, 69 when the\n"
           "daemon cannot be reached or started.\n");
}

int
main (int   argc,
      char *argv[])
{
  const Command *command = NULL;
  g_autoptr(GPtrArray) rest = g_ptr_array_new ();
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autofree char *parameter = NULL;
  char **args;
  int n_args, status = 0;

  setlocale (LC_ALL, "");

  /* The command is the first argument that is not an option; options may
   * come before or after it. */
  g_ptr_array_add (rest, argv[0]);
  for (int i = 1; i < argc; i++)
    {
      if (command == NULL && argv[i][0] != '-')
        {
          for (guint j = 0; j < G_N_ELEMENTS (commands); j++)
            if (g_str_equal (argv[i], commands[j].name))
              command = &commands[j];
          if (command == NULL)
            {
              g_printerr ("tickhub: unknown command “%s”\n", argv[i]);
              usage (stderr);
              return EXIT_USAGE;
            }
          continue;
        }
      if (command == NULL && (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h")))
        {
          usage (stdout);
          return 0;
        }
      if (command == NULL && g_str_equal (argv[i], "--version"))
        {
          g_print ("tickhub %s\n", PACKAGE_VERSION);
          return 0;
        }
      g_ptr_array_add (rest, argv[i]);
    }
  if (command == NULL)
    {
      usage (stderr);
      return EXIT_USAGE;
    }

  parameter = g_strdup_printf ("%s%s%s", command->name, *command->args ? " " : "", command->args);
  context = g_option_context_new (parameter);
  g_option_context_set_summary (context, command->summary);
  g_option_context_add_main_entries (context, common_entries, NULL);
  if (command->entries != NULL)
    g_option_context_add_main_entries (context, command->entries, NULL);
  g_ptr_array_add (rest, NULL);
  args = (char **) rest->pdata;
  n_args = (int) rest->len - 1;
  if (!g_option_context_parse (context, &n_args, &args, &error))
    {
      g_printerr ("tickhub %s: %s\nTry “tickhub %s --help”.\n", command->name, error->message, command->name);
      return EXIT_USAGE;
    }
  if (n_args - 1 < command->min_args || (command->max_args >= 0 && n_args - 1 > command->max_args))
    {
      g_printerr ("tickhub %s: %s\nUsage: tickhub %s\n", command->name,
                  n_args - 1 < command->min_args ? "missing arguments" : "too many arguments", parameter);
      return EXIT_USAGE;
    }

  bus = connect_bus (&status);
  if (bus == NULL)
    return status;

  return command->run (bus, args + 1);
}
