/* th-redis-config.c: the [redis] group, and the plugin's entry point.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <unistd.h>

#include <libpeas/peas.h>

#include "th-redis-config.h"

#define DEFAULT_STREAM     "tickhub:events"
#define DEFAULT_PREFIX     "tickhub"
#define DEFAULT_MAX_LENGTH 100000
#define DEFAULT_LEASE      5.0
#define DEFAULT_MAX_QUEUE  100000
#define DEFAULT_BLOCK      1.0
#define DEFAULT_COUNT      1000

gboolean
th_redis_config_read (ThHub          *hub,
                      ThRedisConfig  *config,
                      GError        **error)
{
  ThConfig *c = th_hub_get_config (hub);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *url = th_config_get_string (c, TH_REDIS_GROUP, "url", "redis://127.0.0.1:6379/0");
  g_autofree char *role = th_config_get_string (c, TH_REDIS_GROUP, "role", "ingest");
  g_autoptr(GError) url_error = NULL;
  double lease = th_config_get_double (c, TH_REDIS_GROUP, "lease", DEFAULT_LEASE);
  double block = th_config_get_double (c, TH_REDIS_GROUP, "block", DEFAULT_BLOCK);
  gint64 n;

  memset (config, 0, sizeof *config);
  config->role = g_str_equal (role, "edge") ? TH_REDIS_ROLE_EDGE : TH_REDIS_ROLE_INGEST;
  if (!th_redis_url_parse (url, &config->url, &url_error))
    g_ptr_array_add (problems, g_strdup_printf ("[" TH_REDIS_GROUP "] url: %s", url_error->message));

  config->stream = th_config_get_string (c, TH_REDIS_GROUP, "stream", DEFAULT_STREAM);
  if (*config->stream == '\0')
    g_ptr_array_add (problems, g_strdup ("[" TH_REDIS_GROUP "] stream: empty; use a key name such as " DEFAULT_STREAM));
  config->prefix = th_config_get_string (c, TH_REDIS_GROUP, "prefix", DEFAULT_PREFIX);
  if (*config->prefix == '\0')
    g_ptr_array_add (problems, g_strdup ("[" TH_REDIS_GROUP "] prefix: empty; use a key prefix such as " DEFAULT_PREFIX));

  n = th_config_get_int (c, TH_REDIS_GROUP, "max-length", DEFAULT_MAX_LENGTH);
  if (n < 100)
    g_ptr_array_add (problems, g_strdup_printf ("[" TH_REDIS_GROUP "] max-length: %" G_GINT64_FORMAT " is too short "
                                                "for an edge to catch up; use at least 100, such as %d", n, DEFAULT_MAX_LENGTH));
  config->max_length = (guint64) MAX (n, 0);

  if (isnan (lease) || lease < 0 || (lease > 0 && lease < 0.3) || lease > 3600)
    g_ptr_array_add (problems, g_strdup ("[" TH_REDIS_GROUP "] lease: out of range; use 0 (no standby) or "
                                         "from 0.3 to 3600 seconds, such as 5"));
  else
    config->lease_ms = (gint64) llround (lease * 1000);

  if (isnan (block) || block < 0.01 || block > 60)
    g_ptr_array_add (problems, g_strdup ("[" TH_REDIS_GROUP "] block: out of range; use 0.01 to 60 seconds, such as 1"));
  else
    config->block_ms = (gint64) llround (block * 1000);

  n = th_config_get_int (c, TH_REDIS_GROUP, "count", DEFAULT_COUNT);
  config->count = (guint64) CLAMP (n, 1, 100000);
  n = th_config_get_int (c, TH_REDIS_GROUP, "max-queue", DEFAULT_MAX_QUEUE);
  config->max_queue = (guint64) MAX (n, 1);

  config->node_id = th_config_get_string (c, TH_REDIS_GROUP, "node-id", "");
  config->node_id_set = *config->node_id != '\0';
  if (!config->node_id_set)
    {
      g_free (config->node_id);
      config->node_id = g_strdup_printf ("%s:%d:%08x", g_get_host_name (), (int) getpid (), g_random_int ());
    }

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      th_redis_config_clear (config);
      return FALSE;
    }
  return TRUE;
}

void
th_redis_config_clear (ThRedisConfig *config)
{
  th_redis_url_clear (&config->url);
  g_clear_pointer (&config->stream, g_free);
  g_clear_pointer (&config->prefix, g_free);
  g_clear_pointer (&config->node_id, g_free);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_redis_sink_register (G_TYPE_MODULE (module));
  th_redis_feed_register (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, th_redis_sink_get_type ());
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, th_redis_feed_get_type ());
}
