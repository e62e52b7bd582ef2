/* th-gjs-bridge.c: JavaScript plugins in one embedded GJS context
 *
 * libpeas 1.34 has no JavaScript loader (docs/platform.md), and its embedded C
 * plugins must live in GResources, so the hub handles JavaScript plugins
 * itself: libpeas still reads their `.plugin` files (so that they are
 * listed, found by name and have their `X-Tickhub-*` keys like any plugin),
 * and when one names a script in `X-Tickhub-JavaScript`, the hub asks this
 * module (opened by core/th-gjs-loader.c, so that only processes with a
 * JavaScript plugin map SpiderMonkey) to evaluate it. th_gjs_bridge_load()
 * evaluates the ES module in the one GjsContext of the process and finds
 * the GObject classes it registered that implement Tickhub.FeedSource,
 * Tickhub.Sink or Tickhub.Indicator; the hub then creates objects of those
 * classes with g_object_new() and calls them through their interface
 * vtables, which GJS filled with its trampolines: JavaScript objects take
 * part exactly like C ones.
 *
 * Before any plugin, the context evaluates guard.js (a resource of this
 * module): it wraps the interface methods of every class that implements
 * one of the three interfaces so that an exception is logged with the
 * plugin's name and its stack and the plugin is disabled
 * (th_hub_disable_plugin()), instead of GJS printing it on every call.
 *
 * Lifetimes: each hub that loaded a JavaScript plugin holds the context;
 * the hub releases it at the end of its dispose, after it dropped every
 * extension (and so every C reference to a JavaScript object). The last
 * release runs a full GC and destroys the context. GJS cannot unregister
 * the GTypes a context made, so a script evaluated by a destroyed context
 * cannot be loaded again in the same process; that is refused with an
 * error rather than crashing.
 *
 * Everything runs in the thread that loads the plugins: the hub's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>

#include <gjs/gjs.h>
#include <gmodule.h>
#include <tickhub.h>

#include "th-gjs-resources.h"

#define GUARD_URI "resource:///org/tickhub/gjs/guard.js"

static GjsContext *context;
static GPtrArray  *hubs;          /* ThHub*, those that hold the context (no refs) */
static GHashTable *evaluated;     /* file → GType[3]: scripts evaluated by this context */
static GHashTable *dead_files;    /* files evaluated by a destroyed context */
static char       *scratch;       /* private folder of the loader modules */
static GType       interfaces[3];

G_MODULE_EXPORT gboolean th_gjs_bridge_load    (ThHub       *hub,
                                                const char  *module,
                                                const char  *file,
                                                GType       *types,
                                                GError     **error);
G_MODULE_EXPORT void     th_gjs_bridge_release (ThHub       *hub);

static gboolean
ensure_context (GError **error)
{
  uint8_t status = 0;

  if (context != NULL)
    return TRUE;

  interfaces[0] = TH_TYPE_FEED_SOURCE;
  interfaces[1] = TH_TYPE_SINK;
  interfaces[2] = TH_TYPE_INDICATOR;
  g_resources_register (th_gjs_get_resource ());

  context = gjs_context_new ();
  evaluated = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!gjs_context_eval_module_file (context, GUARD_URI, &status, error))
    {
      g_prefix_error (error, "tickhub's JavaScript guard failed to load: ");
      g_clear_object (&context);
      g_clear_pointer (&evaluated, g_hash_table_unref);
      return FALSE;
    }
  g_debug ("GJS context created (SpiderMonkey %s)", gjs_get_js_version ());
  return TRUE;
}

/**
 * th_gjs_bridge_release:
 * @hub: a hub that called th_gjs_bridge_load()
 *
 * Called at the end of the hub's dispose, when it holds no JavaScript
 * object any more. The last hub out destroys the context.
 */
void
th_gjs_bridge_release (ThHub *hub)
{
  GHashTableIter iter;
  gpointer key;

  if (hubs == NULL || !g_ptr_array_remove (hubs, hub))
    return;

  if (hubs->len > 0 || context == NULL)
    return;

  /* Collect what the hub's objects left behind, then the engine. */
  gjs_context_gc (context);
  g_clear_object (&context);
  g_debug ("GJS context destroyed");

  if (dead_files == NULL)
    dead_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_iter_init (&iter, evaluated);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_hash_table_add (dead_files, g_strdup (key));
  g_clear_pointer (&evaluated, g_hash_table_unref);
  g_clear_pointer (&hubs, g_ptr_array_unref);
  if (scratch != NULL)
    {
      g_rmdir (scratch);
      g_clear_pointer (&scratch, g_free);
    }
}

static gboolean
implements_ours (GType type)
{
  for (guint i = 0; i < G_N_ELEMENTS (interfaces); i++)
    if (g_type_is_a (type, interfaces[i]))
      return TRUE;
  return FALSE;
}

/* Every instantiable object type that implements one of the interfaces. */
static void
collect_types (GType       type,
               GHashTable *out)
{
  guint n = 0;
  g_autofree GType *children = g_type_children (type, &n);

  if (implements_ours (type) && !G_TYPE_IS_ABSTRACT (type))
    g_hash_table_add (out, GSIZE_TO_POINTER (type));
  for (guint i = 0; i < n; i++)
    collect_types (children[i], out);
}

static char *
js_string (const char *text)
{
  g_autoptr(GString) out = g_string_new ("\"");

  for (const char *c = text; *c != '\0'; c++)
    {
      if (*c == '"' || *c == '\\')
        g_string_append_c (out, '\\');
      if ((guchar) *c >= 0x20)
        g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Evaluates @file for @module; TRUE if its evaluation completed.
 *
 * GJS 1.74 reports every evaluation after the first module that threw as
 * failed too (its "unhandled exception" flag stays set), so the return
 * value of gjs_context_eval_module_file() cannot tell. The plugin is
 * evaluated from a small loader module instead, in a private folder:
 *
 *   import '<name-N.js>';     sets globalThis.__tickhubPlugin for guard.js
 *   import '<the plugin>';
 *   <registers the GType ThGjsLoadedN>
 *
 * Imports run in order and the body only when they all completed, so the
 * marker type exists if and only if the plugin's module did not throw. */
static gboolean
evaluate (const char  *module,
          const char  *file,
          GError     **error)
{
  static guint counter;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *name_path = NULL;
  g_autofree char *loader_path = NULL;
  g_autofree char *name_uri = NULL;
  g_autofree char *plugin_uri = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *name_js = NULL;
  g_autofree char *name_src = NULL;
  g_autofree char *loader_src = NULL;
  g_autofree char *q_name = NULL;
  g_autofree char *q_plugin = NULL;
  uint8_t status = 0;
  guint n = ++counter;

  if (scratch == NULL)
    {
      scratch = g_dir_make_tmp ("tickhub-gjs-XXXXXX", error);
      if (scratch == NULL)
        return FALSE;
    }

  name_path = g_strdup_printf ("%s/name-%u.js", scratch, n);
  loader_path = g_strdup_printf ("%s/load-%u.js", scratch, n);
  name_uri = g_filename_to_uri (name_path, NULL, error);
  plugin_uri = name_uri != NULL ? g_filename_to_uri (file, NULL, error) : NULL;
  if (plugin_uri == NULL)
    return FALSE;
  marker = g_strdup_printf ("ThGjsLoaded%u", n);

  name_js = js_string (module);
  name_src = g_strdup_printf ("globalThis.__tickhubPlugin = %s;\n", name_js);
  q_name = js_string (name_uri);
  q_plugin = js_string (plugin_uri);
  loader_src = g_strdup_printf ("import %s;\n"
                                "import %s;\n"
                                "import GObject from 'gi://GObject';\n"
                                "globalThis.__tickhubPlugin = null;\n"
                                "GObject.registerClass({GTypeName: '%s'}, class extends GObject.Object {});\n",
                                q_name, q_plugin, marker);
  if (!g_file_set_contents (name_path, name_src, -1, error) ||
      !g_file_set_contents (loader_path, loader_src, -1, error))
    return FALSE;

  /* Compiled first, under its own URI (the loader's import then finds it
   * compiled): a syntax error is reported as one, with GJS's message,
   * instead of as an exception during the evaluation. Only a SyntaxError
   * is believed (GJS 1.74's answers after an earlier failure are not). */
  if (!gjs_context_register_module (context, plugin_uri, plugin_uri, &local_error))
    {
      if (local_error != NULL && strstr (local_error->message, "SyntaxError") != NULL)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN, "%s has a syntax error: %s", file, local_error->message);
          g_unlink (name_path);
          g_unlink (loader_path);
          return FALSE;
        }
      g_debug ("GJS says %s: %s", file, local_error != NULL ? local_error->message : "(no message)");
      g_clear_error (&local_error);
    }

  /* Its answer is not to be trusted (above): the marker tells. */
  if (!gjs_context_eval_module_file (context, loader_path, &status, &local_error))
    g_debug ("GJS says %s: %s", loader_path, local_error->message);
  g_unlink (name_path);
  g_unlink (loader_path);

  if (g_type_from_name (marker) == 0)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN,
                   "%s threw while it was evaluated (GJS logged the exception and its stack above)", file);
      return FALSE;
    }
  return TRUE;
}

/**
 * th_gjs_bridge_load:
 * @hub: the hub loading the plugin
 * @module: the plugin's module name
 * @file: its script
 * @types: (out caller-allocates) (array fixed-size=3): the classes found
 *   for Tickhub.FeedSource, Tickhub.Sink and Tickhub.Indicator, 0 where none
 * @error: return location for an error
 *
 * Evaluates @file (once per context: a second hub gets the same classes)
 * and finds the classes it registered. A script that throws, or registers
 * no class (or two of one kind), is an error.
 *
 * Returns: %TRUE if at least one class was found
 */
gboolean
th_gjs_bridge_load (ThHub       *hub,
                    const char  *module,
                    const char  *file,
                    GType       *types,
                    GError     **error)
{
  g_autoptr(GHashTable) before = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) after = g_hash_table_new (NULL, NULL);
  GHashTableIter iter;
  gpointer key;
  GType *cached;
  gboolean ok;
  guint n_found = 0;

  memset (types, 0, sizeof (GType) * G_N_ELEMENTS (interfaces));

  if (dead_files != NULL && g_hash_table_contains (dead_files, file))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN,
                   "%s was run by an earlier JavaScript context of this process, and GJS cannot "
                   "register its classes twice; load it in a new process", file);
      return FALSE;
    }
  if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN, "its script %s does not exist", file);
      return FALSE;
    }
  if (!ensure_context (error))
    return FALSE;

  if (hubs == NULL)
    hubs = g_ptr_array_new ();
  if (!g_ptr_array_find (hubs, hub, NULL))
    g_ptr_array_add (hubs, hub);

  cached = g_hash_table_lookup (evaluated, file);
  if (cached != NULL)
    {
      memcpy (types, cached, sizeof (GType) * G_N_ELEMENTS (interfaces));
      if (types[0] == 0 && types[1] == 0 && types[2] == 0)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN, "%s failed when it was first evaluated", file);
          return FALSE;
        }
      return TRUE;
    }

  collect_types (G_TYPE_OBJECT, before);
  ok = evaluate (module, file, error);
  cached = g_new0 (GType, G_N_ELEMENTS (interfaces));
  g_hash_table_insert (evaluated, g_strdup (file), cached);
  if (!ok)
    return FALSE;

  collect_types (G_TYPE_OBJECT, after);
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      GType type = GPOINTER_TO_SIZE (key);

      if (g_hash_table_contains (before, key))
        continue;
      for (guint i = 0; i < G_N_ELEMENTS (interfaces); i++)
        {
          if (!g_type_is_a (type, interfaces[i]))
            continue;
          if (types[i] != 0)
            {
              g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN,
                           "%s defines two classes implementing %s (%s and %s); keep one, or make "
                           "the other abstract (GTypeFlags: GObject.TypeFlags.ABSTRACT)",
                           file, g_type_name (interfaces[i]), g_type_name (types[i]), g_type_name (type));
              memset (types, 0, sizeof (GType) * G_N_ELEMENTS (interfaces));
              return FALSE;
            }
          types[i] = type;
          n_found++;
        }
    }

  if (n_found == 0)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN,
                   "%s registers no class implementing Tickhub.FeedSource, Tickhub.Sink or "
                   "Tickhub.Indicator (GObject.registerClass with Implements)", file);
      return FALSE;
    }

  memcpy (cached, types, sizeof (GType) * G_N_ELEMENTS (interfaces));
  return TRUE;
}
