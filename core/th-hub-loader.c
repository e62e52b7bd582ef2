/* th-hub-loader.c: th_hub_load(): the plugin search path, the config
 * checks, plugins and indicators made with libpeas (and the GJS bridge for
 * JavaScript), the default order and TTLs the plugins declare; and plugin
 * faults: a plugin whose code fails is disabled, not fatal.
 *
 * Every problem is collected as "[group] key: what is wrong; the fix" and
 * reported at once.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-hub-private.h"

/* Loading */

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (problems, g_strdup_vprintf (format, args));
  va_end (args);
}

static char **
config_list (ThHub      *self,
             const char *group,
             const char *key,
             const char *fallback)
{
  char **list = th_config_get_string_list (self->config, group, key);

  if (list == NULL)
    list = g_strsplit (fallback, ";", -1);
  return list;
}

static void
setup_search_path (ThHub     *self,
                   GPtrArray *searched)
{
  g_auto(GStrv) dirs = th_config_get_string_list (self->config, "tickhub", "plugin-dirs");
  const char *env = g_getenv ("TICKHUB_PLUGIN_PATH");
  g_autofree char *user = g_build_filename (g_get_user_data_dir (), "tickhub", "plugins", NULL);

  for (guint i = 0; dirs != NULL && dirs[i] != NULL; i++)
    g_ptr_array_add (searched, g_strdup (dirs[i]));

  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_ptr_array_add (searched, g_strdup (parts[i]));
    }

  g_ptr_array_add (searched, g_steal_pointer (&user));
  g_ptr_array_add (searched, g_strdup (TH_PLUGINDIR));

  for (guint i = 0; i < searched->len; i++)
    peas_engine_add_search_path (self->engine, searched->pdata[i], NULL);
}

static char *
available_plugins (ThHub *self)
{
  const GList *l;
  g_autoptr(GString) out = g_string_new (NULL);

  for (l = peas_engine_get_plugin_list (self->engine); l != NULL; l = l->next)
    {
      if (out->len > 0)
        g_string_append (out, ", ");
      g_string_append (out, peas_plugin_info_get_module_name (l->data));
    }
  if (out->len == 0)
    g_string_append (out, "none");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static PeasPluginInfo *
find_plugin (ThHub      *self,
             const char *name,
             const char *group,
             const char *key,
             GPtrArray  *searched,
             GPtrArray  *problems)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, name);

  if (info == NULL)
    {
      g_autofree char *avail = available_plugins (self);
      g_autofree char *dirs = NULL;

      g_ptr_array_add (searched, NULL);
      dirs = g_strjoinv (", ", (char **) searched->pdata);
      g_ptr_array_remove_index (searched, searched->len - 1);
      add_problem (problems,
                   "[%s] %s: unknown plugin “%s”; the plugins found are %s (searched %s); "
                   "fix the name or add the plugin's folder to [tickhub] plugin-dirs",
                   group, key, name, avail, dirs);
      return NULL;
    }

  /* A plugin that is there but whose code fails is not a mistake in the
   * config: it is disabled, logged, and everything else runs. */
  if (g_hash_table_contains (self->disabled, name))
    return NULL;

  /* JavaScript: libpeas read the .plugin file, the GJS bridge runs the
   * script (th-gjs-loader.c). */
  if (peas_plugin_info_get_external_data (info, "Tickhub-JavaScript") != NULL)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *file = NULL;
      GType *types;

      if (g_hash_table_contains (self->js_types, info))
        return info;
      file = g_build_filename (peas_plugin_info_get_module_dir (info),
                               peas_plugin_info_get_external_data (info, "Tickhub-JavaScript"), NULL);
      types = g_new0 (GType, 3);
      self->uses_gjs = TRUE;
      if (!_th_gjs_bridge_load (self, name, file, types, &error))
        {
          g_autofree char *reason = g_strdup_printf ("failed to load: %s", error->message);

          g_free (types);
          th_hub_disable_plugin (self, name, reason);
          return NULL;
        }
      g_hash_table_insert (self->js_types, info, types);
      return info;
    }

  if (!peas_plugin_info_is_loaded (info) && !peas_engine_load_plugin (self->engine, info))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reason = NULL;

      if (!peas_plugin_info_is_available (info, &error) && error != NULL)
        reason = g_strdup_printf ("failed to load: %s (see its loader's messages above)", error->message);
      else
        reason = g_strdup ("failed to load (see its loader's messages above)");
      th_hub_disable_plugin (self, name, reason);
      return NULL;
    }

  if (!peas_plugin_info_is_loaded (info))
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *reason = NULL;

      peas_plugin_info_is_available (info, &error);
      reason = g_strdup_printf ("failed to load: %s", error != NULL ? error->message : "unknown error");
      th_hub_disable_plugin (self, name, reason);
      return NULL;
    }

  return info;
}

/* Whether a plugin provides an interface, and an object of it: libpeas's,
 * or for a JavaScript plugin the class its script registered. */
static GType
js_type (ThHub          *self,
         PeasPluginInfo *info,
         GType           iface)
{
  GType *types = g_hash_table_lookup (self->js_types, info);

  if (types == NULL)
    return G_TYPE_INVALID;
  if (iface == TH_TYPE_FEED_SOURCE)
    return types[0];
  if (iface == TH_TYPE_SINK)
    return types[1];
  return types[2];
}

static gboolean
provides (ThHub          *self,
          PeasPluginInfo *info,
          GType           iface)
{
  if (g_hash_table_contains (self->js_types, info))
    return js_type (self, info, iface) != G_TYPE_INVALID;
  return peas_engine_provides_extension (self->engine, info, iface);
}

static GObject *
create_extension (ThHub          *self,
                  PeasPluginInfo *info,
                  GType           iface)
{
  if (g_hash_table_contains (self->js_types, info))
    return g_object_new (js_type (self, info, iface), "hub", self, NULL);
  return (GObject *) peas_engine_create_extension (self->engine, info, iface, "hub", self, NULL);
}

static void
check_plugin_group (ThHub          *self,
                    PeasPluginInfo *info,
                    gboolean        is_feed,
                    GPtrArray      *problems)
{
  const char *spec = peas_plugin_info_get_external_data (info, "Tickhub-Config");
  g_autofree char *full = NULL;
  g_autofree char *expanded = NULL;

  if (spec == NULL)
    spec = "";
  /* The keys every WebSocket feed takes: ThWsFeed's own. */
  if (strstr (spec, TH_WS_FEED_CONFIG_KEYS) != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (spec, TH_WS_FEED_CONFIG_KEYS, -1);

      expanded = g_strjoinv (th_ws_feed_get_config_spec (), parts);
      spec = expanded;
    }
  if (is_feed)
    full = *spec != '\0' ? g_strconcat (spec, ",ttl:seconds", NULL) : g_strdup ("ttl:seconds");
  else
    full = g_strdup (spec);

  _th_config_check_group (self->config, peas_plugin_info_get_module_name (info), full, problems);
}

/* A number a plugin's .plugin file declares in an X-Tickhub-* key. A
 * malformed one is the plugin's mistake, not the config's: warned about
 * and ignored. */
static gboolean
plugin_number (PeasPluginInfo *info,
               const char     *key,
               gboolean        positive,
               double         *out)
{
  const char *text = peas_plugin_info_get_external_data (info, key);
  g_autofree char *copy = NULL;
  char *end = NULL;
  double value;

  if (text == NULL)
    return FALSE;
  copy = g_strstrip (g_strdup (text));
  value = g_ascii_strtod (copy, &end);
  if (end == copy || *end != '\0' || !isfinite (value) || (positive && value <= 0))
    {
      g_warning ("plugin “%s”: X-%s=%s in its .plugin file is not %s; ignored",
                 peas_plugin_info_get_module_name (info), key, text,
                 positive ? "a number of seconds more than 0" : "a number");
      return FALSE;
    }
  *out = value;
  return TRUE;
}

/* The ttl of a source whose group has none: what the plugin of that name
 * declares (X-Tickhub-Default-TTL), whether it is loaded or not, else the
 * price book's default. */
static gint64
declared_ttl (ThHub      *self,
              const char *source)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, source);
  double seconds;

  if (info != NULL && plugin_number (info, "Tickhub-Default-TTL", TRUE, &seconds))
    return (gint64) (seconds * G_USEC_PER_SEC);
  return TH_PRICE_BOOK_DEFAULT_TTL;
}

typedef struct
{
  const char *name;
  double      rank;
  guint       index;
} RankedFeed;

static int
compare_ranked (gconstpointer a,
                gconstpointer b)
{
  const RankedFeed *x = a;
  const RankedFeed *y = b;

  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The order when [prices] order is absent: the plugins of [tickhub]
 * plugins whose .plugin file declares X-Tickhub-Rank, lowest rank first,
 * in the order of [tickhub] plugins when ranks are equal. Plugins that are
 * not enabled are not in it; the feeds without a rank rank after it. */
static char **
default_order (ThHub  *self,
               char  **plugins)
{
  g_autoptr(GArray) ranked = g_array_new (FALSE, FALSE, sizeof (RankedFeed));
  char **out;

  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    {
      PeasPluginInfo *info = peas_engine_get_plugin_info (self->engine, plugins[i]);
      RankedFeed feed = { plugins[i], 0, i };
      gboolean seen = FALSE;

      for (guint j = 0; j < ranked->len; j++)
        seen |= g_str_equal (g_array_index (ranked, RankedFeed, j).name, plugins[i]);
      if (info != NULL && !seen && plugin_number (info, "Tickhub-Rank", FALSE, &feed.rank))
        g_array_append_val (ranked, feed);
    }
  g_array_sort (ranked, compare_ranked);

  out = g_new0 (char *, ranked->len + 1);
  for (guint i = 0; i < ranked->len; i++)
    out[i] = g_strdup (g_array_index (ranked, RankedFeed, i).name);
  return out;
}

/* A configure vfunc said no. With a GError that is a config problem (the
 * user's to fix); without one, or when the script's guard already disabled
 * the plugin, the code failed (an exception), and the plugin is disabled. */
static void
configure_failed (ThHub      *self,
                  const char *module,
                  GError     *error,
                  GPtrArray  *problems)
{
  if (g_hash_table_contains (self->disabled, module))
    return;
  if (error != NULL)
    add_problem (problems, "%s", error->message);
  else
    th_hub_disable_plugin (self, module, "failed to configure without saying why (an exception in a script?)");
}

static void
load_plugin (ThHub          *self,
             PeasPluginInfo *info,
             GPtrArray      *problems)
{
  const char *module = peas_plugin_info_get_module_name (info);
  gboolean is_feed = provides (self, info, TH_TYPE_FEED_SOURCE);
  gboolean is_sink = provides (self, info, TH_TYPE_SINK);
  gboolean is_indicator = provides (self, info, TH_TYPE_INDICATOR);
  Plugin *plugin;

  for (guint i = 0; i < self->plugins->len; i++)
    if (((Plugin *) self->plugins->pdata[i])->info == info)
      return;

  check_plugin_group (self, info, is_feed, problems);

  if (g_hash_table_contains (self->disabled, module))
    return;

  if (!is_feed && !is_sink && !is_indicator)
    {
      add_problem (problems,
                   "[tickhub] plugins: plugin “%s” provides no feed, sink or indicator; "
                   "check that it implements Tickhub.FeedSource, Tickhub.Sink or Tickhub.Indicator",
                   module);
      return;
    }

  plugin = g_new0 (Plugin, 1);
  plugin->info = info;
  plugin->module = g_intern_string (module);
  g_ptr_array_add (self->plugins, plugin);

  if (is_feed)
    {
      g_autoptr(GError) error = NULL;
      GObject *ext = create_extension (self, info, TH_TYPE_FEED_SOURCE);

      if (ext == NULL)
        th_hub_disable_plugin (self, module, "failed to create its feed (see the messages above)");
      else if (!th_feed_source_configure (TH_FEED_SOURCE (ext), &error))
        {
          configure_failed (self, module, error, problems);
          g_object_unref (ext);
        }
      else
        {
          plugin->feed = g_object_ref (TH_FEED_SOURCE (ext));
          g_ptr_array_add (self->feeds, ext);
        }
    }

  if (is_sink)
    {
      g_autoptr(GError) error = NULL;
      GObject *ext = create_extension (self, info, TH_TYPE_SINK);

      if (ext == NULL)
        th_hub_disable_plugin (self, module, "failed to create its sink (see the messages above)");
      else if (!th_sink_configure (TH_SINK (ext), &error))
        {
          configure_failed (self, module, error, problems);
          g_object_unref (ext);
        }
      else
        {
          plugin->sink = g_object_ref (TH_SINK (ext));
          g_ptr_array_add (self->sinks, ext);
        }
    }
}

static ThIndicator *
create_indicator (ThHub          *self,
                  IndicatorSpec  *spec,
                  GError        **error)
{
  GObject *ext = create_extension (self, spec->info, TH_TYPE_INDICATOR);
  g_autoptr(GError) local_error = NULL;

  if (ext == NULL)
    {
      th_hub_disable_plugin (self, spec->plugin, "failed to create an indicator (see the messages above)");
      return NULL;
    }
  if (!th_indicator_configure (TH_INDICATOR (ext), (const char *const *) spec->args, &local_error))
    {
      /* A GError is a config problem; a script's exception comes back as
       * FALSE without one, after its guard disabled the plugin. */
      if (local_error == NULL && !g_hash_table_contains (self->disabled, spec->plugin))
        th_hub_disable_plugin (self, spec->plugin,
                               "failed to configure without saying why (an exception in a script?)");
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      g_object_unref (ext);
      return NULL;
    }
  return TH_INDICATOR (ext);
}

static void
load_indicators (ThHub     *self,
                 GPtrArray *searched,
                 GPtrArray *problems)
{
  g_auto(GStrv) keys = g_key_file_get_keys (th_config_get_key_file (self->config), "indicators", NULL, NULL);
  g_autoptr(GHashTable) outputs = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = th_config_get_string (self->config, "indicators", keys[i], "");
      g_autofree char *plugin_name = NULL;
      g_auto(GStrv) args = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) probe = NULL;
      g_auto(GStrv) suffixes = NULL;
      PeasPluginInfo *info;
      IndicatorSpec *spec;

      if (!_th_parse_call (value, &plugin_name, &args))
        continue;  /* reported by the core checks */
      if (self->specs->len >= MAX_SPECS)
        {
          add_problem (problems, "[indicators] %s: more than %d indicators; remove some", keys[i], MAX_SPECS);
          break;
        }

      info = find_plugin (self, plugin_name, "indicators", keys[i], searched, problems);
      if (info == NULL)
        continue;
      if (g_hash_table_contains (self->disabled, plugin_name))
        continue;
      if (!provides (self, info, TH_TYPE_INDICATOR))
        {
          add_problem (problems, "[indicators] %s: plugin “%s” is not an indicator", keys[i], plugin_name);
          continue;
        }
      load_plugin (self, info, problems);

      spec = g_new0 (IndicatorSpec, 1);
      spec->name = g_strdup (keys[i]);
      spec->plugin = g_steal_pointer (&plugin_name);
      spec->args = g_steal_pointer (&args);
      spec->info = info;

      probe = create_indicator (self, spec, &error);
      if (probe == NULL)
        {
          if (error != NULL)
            add_problem (problems, "[indicators] %s: %s", keys[i], error->message);
          _th_hub_spec_free (spec);
          continue;
        }

      suffixes = th_indicator_get_outputs (probe);
      if (suffixes == NULL && !g_hash_table_contains (self->disabled, spec->plugin))
        th_hub_disable_plugin (self, spec->plugin, "get_outputs returned no list of output names");
      if (g_hash_table_contains (self->disabled, spec->plugin))
        {
          _th_hub_spec_free (spec);
          continue;
        }
      spec->n_outputs = MIN (g_strv_length (suffixes), TH_INDICATOR_MAX_OUTPUTS);
      spec->outputs = g_new0 (char *, spec->n_outputs + 1);
      for (guint j = 0; j < spec->n_outputs; j++)
        {
          spec->outputs[j] = g_strconcat (keys[i], suffixes[j], NULL);
          if (g_hash_table_contains (outputs, spec->outputs[j]) || g_str_equal (spec->outputs[j], "timestamp"))
            add_problem (problems, "[indicators] %s: output “%s” is already produced by another indicator; rename one",
                         keys[i], spec->outputs[j]);
          g_hash_table_add (outputs, spec->outputs[j]);
        }
      g_ptr_array_add (self->specs, spec);
    }
}

static void
check_groups (ThHub     *self,
              char     **order,
              GPtrArray *problems)
{
  g_auto(GStrv) groups = g_key_file_get_groups (th_config_get_key_file (self->config), NULL);
  static const char *const core[] = { "tickhub", "prices", "indicators", "symbols", NULL };

  /* The host's groups (tickhubd's [dbus]), checked with the core groups so
   * that a --check-config sees them. */
  for (guint i = 0; i < self->host_groups->len; i++)
    {
      HostGroup *host_group = self->host_groups->pdata[i];

      _th_config_check_group (self->config, host_group->group, host_group->spec, problems);
    }

  for (guint i = 0; groups[i] != NULL; i++)
    {
      const char *group = groups[i];
      gboolean known = g_strv_contains (core, group);

      for (guint j = 0; !known && j < self->host_groups->len; j++)
        known = g_str_equal (((HostGroup *) self->host_groups->pdata[j])->group, group);

      for (guint j = 0; !known && j < self->plugins->len; j++)
        known = g_str_equal (((Plugin *) self->plugins->pdata[j])->module, group);
      /* A plugin that failed to load cannot say which keys it takes. */
      known = known || g_hash_table_contains (self->disabled, group);

      if (known)
        continue;

      if (g_strv_contains ((const char *const *) order, group))
        {
          /* A source of [prices] order without its plugin: only a ttl. */
          _th_config_check_group (self->config, group, "ttl:seconds", problems);
          continue;
        }

      if (self->engine != NULL && peas_engine_get_plugin_info (self->engine, group) != NULL)
        add_problem (problems, "[%s]: plugin “%s” is not enabled; add it to [tickhub] plugins or remove this group",
                     group, group);
      else
        {
          g_autoptr(GString) known_groups = g_string_new ("[tickhub], [prices], [indicators], [symbols]");

          for (guint j = 0; j < self->host_groups->len; j++)
            g_string_append_printf (known_groups, ", [%s]", ((HostGroup *) self->host_groups->pdata[j])->group);
          add_problem (problems, "[%s]: unknown group; the groups are %s and one per plugin, named after it",
                       group, known_groups->str);
        }
    }
}

static void
setup_timeframes (ThHub     *self,
                  GPtrArray *problems)
{
  g_auto(GStrv) tfs = config_list (self, "tickhub", "timeframes", DEFAULT_TIMEFRAMES);
  GArray *out = g_array_new (FALSE, TRUE, sizeof (Timeframe));

  for (guint i = 0; tfs[i] != NULL; i++)
    {
      Timeframe tf = { NULL, 0 };
      gboolean dup = FALSE;

      if (!th_parse_timeframe (tfs[i], &tf.duration, NULL))
        continue;  /* reported by the core checks */
      for (guint j = 0; j < out->len; j++)
        dup |= g_array_index (out, Timeframe, j).duration == tf.duration;
      if (dup)
        continue;
      tf.name = g_strdup (tfs[i]);
      g_array_append_val (out, tf);
    }

  self->n_timeframes = out->len;
  self->timeframes = (Timeframe *) g_array_free (out, FALSE);
}

static void
setup_states (ThHub *self)
{
  for (guint i = 0; self->symbols[i] != NULL; i++)
    {
      SymbolState *state;

      if (g_hash_table_contains (self->states, self->symbols[i]))
        continue;

      state = g_new0 (SymbolState, 1);
      state->symbol = g_strdup (self->symbols[i]);
      state->series = g_new0 (Series, self->n_timeframes);
      for (guint t = 0; t < self->n_timeframes; t++)
        {
          Series *s = &state->series[t];

          s->series = _th_candle_series_new (self->timeframes[t].duration, self->history);
          s->indicators = g_new0 (ThIndicator *, self->specs->len);
          s->ifaces = g_new0 (ThIndicatorInterface *, self->specs->len);
          s->values = g_new0 (ThIndicatorValues *, self->specs->len);
          s->provisional = g_new0 (ThIndicatorValues *, self->specs->len);
          for (guint k = 0; k < self->specs->len; k++)
            {
              IndicatorSpec *spec = self->specs->pdata[k];

              /* Configured successfully once already: a failure now is the
               * script's, and disables the plugin. */
              if (!spec->disabled)
                s->indicators[k] = create_indicator (self, spec, NULL);
              if (s->indicators[k] != NULL)
                s->ifaces[k] = TH_INDICATOR_GET_IFACE (s->indicators[k]);
              else if (!spec->disabled)
                th_hub_disable_plugin (self, spec->plugin, "failed to configure an indicator that configured before");
              s->values[k] = th_indicator_values_new (spec->n_outputs);
              s->provisional[k] = th_indicator_values_new (spec->n_outputs);
            }
        }
      g_hash_table_insert (self->states, (gpointer) state->symbol, state);
    }
}


/* Market hours: a symbol has a market's hours when a plugin whose .plugin
 * file declares `X-Tickhub-Market=GROUP` (alpaca: us-equities), loaded or
 * not, has a code for it in the symbol map; GROUP is read from the
 * shipped market-hours.conf. The price book keeps a closed market's last
 * price, feeds of closed markets may be silent. */
static void
setup_markets (ThHub     *self,
               GPtrArray *problems)
{
  g_autoptr(GKeyFile) file = NULL;
  g_autofree char *path = NULL;
  const GList *infos = peas_engine_get_plugin_list (self->engine);
  GHashTable *by_group = NULL;

  self->markets = g_hash_table_new (g_str_hash, g_str_equal);
  self->market_hours = g_ptr_array_new_with_free_func ((GDestroyNotify) _th_market_hours_free);

  for (const GList *l = infos; l != NULL; l = l->next)
    {
      PeasPluginInfo *info = l->data;
      const char *group = peas_plugin_info_get_external_data (info, "Tickhub-Market");
      const char *module = peas_plugin_info_get_module_name (info);
      ThMarketHours *hours = NULL;

      if (group == NULL)
        continue;
      if (file == NULL)
        {
          g_autoptr(GError) error = NULL;

          file = g_key_file_new ();
          path = g_build_filename (_th_get_data_dir (), "market-hours.conf", NULL);
          if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &error))
            {
              add_problem (problems, "the shipped market hours cannot be read: %s; reinstall tickhub or set TICKHUB_DATADIR",
                           error->message);
              return;
            }
          by_group = g_hash_table_new (g_str_hash, g_str_equal);
        }
      hours = g_hash_table_lookup (by_group, group);
      if (hours == NULL)
        {
          g_autoptr(GError) error = NULL;

          hours = _th_market_hours_new (file, group, &error);
          if (hours == NULL)
            {
              add_problem (problems, "%s (in %s, declared by the plugin %s)", error->message, path, module);
              continue;
            }
          g_ptr_array_add (self->market_hours, hours);
          g_hash_table_insert (by_group, (gpointer) _th_market_hours_get_name (hours), hours);
        }
      for (guint s = 0; self->symbols[s] != NULL; s++)
        if (th_symbol_map_lookup (self->symbol_map, self->symbols[s], module) != NULL)
          {
            g_hash_table_insert (self->markets, (gpointer) g_intern_string (self->symbols[s]), hours);
            _th_price_book_set_market (self->book, self->symbols[s], hours);
          }
    }
  g_clear_pointer (&by_group, g_hash_table_unref);
}

/**
 * th_hub_load:
 * @self: a #ThHub
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Checks the whole configuration, loads the symbol map and the plugins and
 * lets each plugin check its own group. Every problem found is reported,
 * one per line of the error message, each naming the group, the key and
 * the fix. Nothing starts.
 *
 * The price book's order is `[prices] order`; when the key is absent, the
 * plugins of `[tickhub] plugins` whose `.plugin` file declares
 * `X-Tickhub-Rank`, lowest rank first. Feeds without a rank come after
 * them. A source's TTL is the `ttl` key of its group, else the
 * `X-Tickhub-Default-TTL` (seconds) of the plugin of that name, loaded or
 * not, else %TH_PRICE_BOOK_DEFAULT_TTL.
 *
 * Returns: %TRUE if everything is usable
 */
gboolean
th_hub_load (ThHub   *self,
             GError **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) searched = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) plugins = NULL;
  g_auto(GStrv) order = NULL;
  g_autofree char *map_path = NULL;
  gint64 history;

  g_return_val_if_fail (TH_IS_HUB (self), FALSE);
  g_return_val_if_fail (!self->loaded, FALSE);

  self->loaded = TRUE;

  _th_config_check_core (self->config, problems);

  self->symbols = config_list (self, "tickhub", "symbols", DEFAULT_SYMBOLS);
  self->quote = th_config_get_string (self->config, "tickhub", "quote", DEFAULT_QUOTE);
  history = th_config_get_int (self->config, "tickhub", "history", DEFAULT_HISTORY);
  self->history = (guint) CLAMP (history, 1, 100000);
  self->warmup = (guint) CLAMP (th_config_get_int (self->config, "tickhub", "warmup", DEFAULT_WARMUP), 0, 10000);
  _th_hub_backfill_configure (self, problems);
  setup_timeframes (self, problems);

  /* The symbol map: shipped, then [symbols] overrides. */
  self->symbol_map = th_symbol_map_new ();
  map_path = g_build_filename (_th_get_data_dir (), "symbols.conf", NULL);
  if (!th_symbol_map_load_file (self->symbol_map, map_path, &local_error))
    {
      add_problem (problems, "the shipped symbol map cannot be read: %s; reinstall tickhub or set TICKHUB_DATADIR",
                   local_error->message);
      g_clear_error (&local_error);
    }
  if (th_config_has_group (self->config, "symbols"))
    {
      g_auto(GStrv) keys = g_key_file_get_keys (th_config_get_key_file (self->config), "symbols", NULL, NULL);

      for (guint i = 0; keys[i] != NULL; i++)
        {
          g_autofree char *value = th_config_get_string (self->config, "symbols", keys[i], "");

          /* Malformed entries are reported by the core checks. */
          th_symbol_map_add (self->symbol_map, keys[i], value, NULL);
        }
    }

  /* The plugins' search path, so that their .plugin files can say their
   * rank and default ttl before any of them loads. */
  self->engine = peas_engine_new ();
  peas_engine_enable_loader (self->engine, "python3");
  setup_search_path (self, searched);
  plugins = th_config_get_string_list (self->config, "tickhub", "plugins");
  setup_markets (self, problems);

  /* Price hierarchy: the order and its TTLs first, so that feeds can read
   * them while they configure; feeds outside the order after loading. */
  order = th_config_get_string_list (self->config, "prices", "order");
  if (order == NULL)
    order = default_order (self, plugins);
  th_price_book_set_order (self->book, (const char *const *) order);
  for (guint i = 0; order[i] != NULL; i++)
    {
      double ttl = th_config_get_double (self->config, order[i], "ttl", declared_ttl (self, order[i]) / 1e6);

      if (ttl > 0)
        th_price_book_set_ttl (self->book, order[i], (gint64) (ttl * G_USEC_PER_SEC));
      else if (th_config_has_key (self->config, order[i], "ttl"))
        add_problem (problems, "[%s] ttl: must be more than 0 seconds", order[i]);
    }
  /* [prices] divergence: the first fresh source compared with the others. */
  {
    g_autofree char *text = th_config_get_string (self->config, "prices", "divergence", NULL);
    g_autofree char *action = th_config_get_string (self->config, "prices", "divergence-action", "flag");
    double bps = 0;

    /* A bad value is reported by the config check. */
    if (text != NULL && _th_parse_divergence (text, &bps, NULL) && bps > 0)
      _th_price_book_set_divergence (self->book, bps, g_strcmp0 (action, "skip") == 0,
                                     _th_hub_on_divergence, self);
  }
  /* Symbols with market hours may have their own order. */
  {
    g_auto(GStrv) equities = th_config_get_string_list (self->config, "prices", "order-equities");
    GHashTableIter iter;
    gpointer symbol;

    for (guint i = 0; equities != NULL && equities[i] != NULL; i++)
      if (!g_strv_contains ((const char *const *) order, equities[i]))
        {
          double ttl = th_config_get_double (self->config, equities[i], "ttl", declared_ttl (self, equities[i]) / 1e6);

          if (ttl > 0)
            th_price_book_set_ttl (self->book, equities[i], (gint64) (ttl * G_USEC_PER_SEC));
        }
    g_hash_table_iter_init (&iter, self->markets);
    while (equities != NULL && g_hash_table_iter_next (&iter, &symbol, NULL))
      _th_price_book_set_symbol_order (self->book, symbol, (const char *const *) equities);
  }
  /* Plugins. */
  if (plugins == NULL || plugins[0] == NULL)
    {
      g_autofree char *avail = available_plugins (self);

      add_problem (problems, "[tickhub] plugins: no plugins; list the feeds and sinks to run, "
                   "separated by ;, among the plugins found: %s", avail);
    }

  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    {
      PeasPluginInfo *info = find_plugin (self, plugins[i], "tickhub", "plugins", searched, problems);

      if (info != NULL)
        load_plugin (self, info, problems);
    }

  load_indicators (self, searched, problems);

  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];
      double ttl;

      if (plugin->feed == NULL || g_strv_contains ((const char *const *) order, plugin->module))
        continue;
      ttl = th_config_get_double (self->config, plugin->module, "ttl", declared_ttl (self, plugin->module) / 1e6);
      if (ttl > 0)
        th_price_book_set_ttl (self->book, plugin->module, (gint64) (ttl * G_USEC_PER_SEC));
      else
        add_problem (problems, "[%s] ttl: must be more than 0 seconds", plugin->module);
    }

  /* The sources the loaded feeds give: a no_source explanation names
   * them, and those that have had a tick, not every venue of the order. */
  {
    g_autoptr(GStrvBuilder) fed = g_strv_builder_new ();
    g_auto(GStrv) names = NULL;

    for (guint i = 0; i < self->feeds->len; i++)
      {
        g_autofree char *name = th_feed_source_get_source_name (self->feeds->pdata[i]);

        if (name != NULL)
          g_strv_builder_add (fed, name);
      }
    names = g_strv_builder_end (fed);
    _th_price_book_set_feeds (self->book, (const char *const *) names);
  }

  check_groups (self, order, problems);

  if (problems->len > 0)
    {
      g_ptr_array_add (problems, NULL);
      g_autofree char *msg = g_strjoinv ("\n", (char **) problems->pdata);

      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  setup_states (self);
  return TRUE;
}

/* Plugin faults */


static int
compare_strings (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The plugin that made a feed or a sink. */
Plugin *
_th_hub_plugin_of (ThHub    *self,
           gpointer  extension)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];

      if ((gpointer) plugin->feed == extension || (gpointer) plugin->sink == extension)
        return plugin;
    }
  return NULL;
}

gboolean
_th_hub_sink_is_disabled (ThHub  *self,
                  ThSink *sink)
{
  Plugin *plugin = _th_hub_plugin_of (self, sink);

  return plugin != NULL && plugin->disabled;
}

gboolean
_th_hub_feed_is_disabled (ThHub        *self,
                  ThFeedSource *feed)
{
  Plugin *plugin = _th_hub_plugin_of (self, feed);

  return plugin != NULL && plugin->disabled;
}

/* Stops the feeds and sinks of failed plugins, outside the call that
 * failed (which may be inside the hub's own loops). */
static gboolean
stop_disabled (gpointer data)
{
  ThHub *self = data;

  self->disabled_idle_id = 0;
  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *plugin = self->plugins->pdata[i];

      if (!plugin->stop_pending)
        continue;
      plugin->stop_pending = FALSE;
      /* Even while the hub stops: its stop skips failed plugins. */
      if (plugin->feed != NULL)
        th_feed_source_stop (plugin->feed);
      if (plugin->sink != NULL)
        th_sink_stop (plugin->sink);
    }
  return G_SOURCE_REMOVE;
}

static char *
first_line (const char *text)
{
  const char *end = strchr (text, '\n');

  return end != NULL ? g_strndup (text, end - text) : g_strdup (text);
}

/**
 * th_hub_disable_plugin:
 * @self: a #ThHub
 * @plugin: the module name of a plugin
 * @reason: (nullable): what went wrong, for the log and the status; it may
 *   run over several lines (a traceback)
 *
 * Switches off a plugin whose code failed, for the rest of the hub's life:
 * its indicators stop computing (their outputs stay null), its sinks get no
 * more events, its feeds are stopped, their ticks are refused and their
 * source shows as `disabled` with the first line of @reason. The hub logs
 * @reason once; a second call for the same plugin does nothing.
 *
 * The Python and JavaScript bindings call it when a script raises in one
 * of the interface's methods (with the traceback), and the hub when a
 * plugin fails to load; a plugin may call it on itself when it cannot go
 * on. A mistake in the config is not a plugin failure: it is a #GError of
 * the plugin's `configure`.
 */
void
th_hub_disable_plugin (ThHub      *self,
                       const char *plugin,
                       const char *reason)
{
  g_autofree char *status = NULL;
  gboolean is_feed = FALSE;

  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (plugin != NULL);

  if (g_hash_table_contains (self->disabled, plugin))
    return;
  if (reason == NULL || *reason == '\0')
    reason = "disabled";

  g_hash_table_insert (self->disabled, g_strdup (plugin), g_strdup (reason));
  g_warning ("plugin “%s” disabled: %s", plugin, reason);

  for (guint i = 0; i < self->specs->len; i++)
    {
      IndicatorSpec *spec = self->specs->pdata[i];

      if (g_str_equal (spec->plugin, plugin))
        spec->disabled = TRUE;
    }

  for (guint i = 0; i < self->plugins->len; i++)
    {
      Plugin *p = self->plugins->pdata[i];

      if (!g_str_equal (p->module, plugin) || p->disabled)
        continue;
      p->disabled = TRUE;
      if (p->sink != NULL)
        self->n_disabled_sinks++;
      is_feed = is_feed || p->feed != NULL;
      if ((p->feed != NULL || p->sink != NULL) && self->started && !self->stopping)
        {
          p->stop_pending = TRUE;
          if (self->disabled_idle_id == 0)
            self->disabled_idle_id = g_idle_add (stop_disabled, self);
        }
    }

  if (is_feed)
    {
      g_autofree char *line = first_line (reason);

      status = g_strdup_printf ("plugin failed: %s", line);
      if (self->started)
        th_hub_report_source_status (self, plugin, TH_SOURCE_STATE_DISABLED, status);
      else
        {
          SourceStatus *s = _th_hub_get_source_status (self, plugin);

          s->state = TH_SOURCE_STATE_DISABLED;
          g_free (s->reason);
          s->reason = g_strdup (status);
          th_price_book_set_source_reason (self->book, plugin, status);
        }
    }
}

/**
 * th_hub_get_plugin_error:
 * @self: a #ThHub
 * @plugin: the module name of a plugin
 *
 * Why @plugin was disabled (see th_hub_disable_plugin()).
 *
 * Returns: (nullable): the reason, or %NULL if @plugin is not disabled
 */
const char *
th_hub_get_plugin_error (ThHub      *self,
                         const char *plugin)
{
  g_return_val_if_fail (TH_IS_HUB (self), NULL);
  g_return_val_if_fail (plugin != NULL, NULL);
  return g_hash_table_lookup (self->disabled, plugin);
}

/**
 * th_hub_list_disabled_plugins:
 * @self: a #ThHub
 *
 * The plugins that failed (to load, or later) and were disabled, sorted by
 * name; th_hub_get_plugin_error() tells why.
 *
 * Returns: (transfer full) (array zero-terminated=1): their module names
 */
char **
th_hub_list_disabled_plugins (ThHub *self)
{
  g_autofree gpointer *keys = NULL;
  char **out;
  guint n;

  g_return_val_if_fail (TH_IS_HUB (self), NULL);

  keys = g_hash_table_get_keys_as_array (self->disabled, &n);
  out = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++)
    out[i] = g_strdup (keys[i]);
  g_qsort_with_data (out, n, sizeof (char *), compare_strings, NULL);
  return out;
}
