/* th-server-options.c: a client's own options, set over /ws or Socket.IO
 *
 *   set_options {"conflate_ms": 0..5000}  → options_set {"conflate_ms"}
 *
 * conflate_ms > 0: this client gets at most one financial_data_update per
 * symbol per interval, the latest (the ones it replaces are counted in
 * tickhub_server_conflated_total). The first update held back starts a
 * one-shot timer of the interval; when it fires every held update goes out
 * and the next one held starts the timer again, so two updates of a symbol
 * are always at least an interval apart. Other events are not held. 0
 * turns it off for the client (the server's [server] conflate-ms, if set,
 * applies as before); what was held goes out at once.
 *
 * A page showing hundreds of symbols asks for it: it cannot show more than
 * a few updates per row a second anyway, and every message it does not get
 * is one less to parse on its main thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include "th-private.h"
#include "th-server-private.h"

#define CONFLATE_MS_MAX 5000

struct _ThServerClientOptions
{
  ThServerClient *client;     /* not a reference: it owns this */
  guint           conflate_ms;
  GHashTable     *held;       /* interned symbol → ThEvent*: the latest held back */
  gint64          held_since; /* monotonic µs of the oldest held back (latency) */
  guint           timer_id;
};

static ThServerClientOptions *
options_of (ThServerClient *client)
{
  if (client->options == NULL)
    {
      client->options = g_new0 (ThServerClientOptions, 1);
      client->options->client = client;
    }
  return client->options;
}

/* Sends what is held, latest per symbol. Stolen first: a send may end the
 * client (over its client-buffer), and with it these options. */
static void
release (ThServerClientOptions *o)
{
  ThServerClient *client = o->client;
  g_autoptr(GHashTable) held = g_steal_pointer (&o->held);
  gint64 since = o->held_since;
  GHashTableIter iter;
  gpointer key, value;

  g_clear_handle_id (&o->timer_id, g_source_remove);
  if (held == NULL)
    return;
  g_hash_table_iter_init (&iter, held);
  while (g_hash_table_iter_next (&iter, &key, &value) && !client->closing)
    client->transport->send_event (client, value, key, since);
}

static gboolean
release_timeout (gpointer data)
{
  ThServerClientOptions *o = data;

  o->timer_id = 0;
  release (o);
  return G_SOURCE_REMOVE;
}

gboolean
th_server_options_hold (ThServerClient *client,
                        ThEvent        *event,
                        const char     *conflate,
                        gint64          now)
{
  ThServerClientOptions *o = client->options;

  if (o == NULL || o->conflate_ms == 0 || conflate == NULL ||
      g_strcmp0 (th_event_get_name (event), "financial_data_update") != 0)
    return FALSE;
  if (o->held == NULL)
    o->held = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) th_event_unref);
  if (g_hash_table_size (o->held) == 0)
    o->held_since = now;
  if (!g_hash_table_replace (o->held, (gpointer) conflate, th_event_ref (event)))
    th_server_get_stats (client->server)->conflated++;
  if (o->timer_id == 0)
    {
      o->timer_id = g_timeout_add_full (G_PRIORITY_DEFAULT, o->conflate_ms, release_timeout, o, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, o->timer_id),
                                "[server] client conflate");
    }
  return TRUE;
}

void
th_server_options_client_gone (ThServerClient *client)
{
  ThServerClientOptions *o = g_steal_pointer (&client->options);

  if (o == NULL)
    return;
  g_clear_handle_id (&o->timer_id, g_source_remove);
  g_clear_pointer (&o->held, g_hash_table_unref);
  g_free (o);
}

guint
th_server_options_get_conflate_ms (ThServerClient *client)
{
  return client->options != NULL ? client->options->conflate_ms : 0;
}

/* Reads and checks every member of @data before changing anything. */
static gboolean
parse_options (JsonNode  *data,
               gint64    *conflate_ms,
               GError   **error)
{
  JsonObject *object;
  g_autoptr(GList) members = NULL;

  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "set_options needs an object, such as {\"conflate_ms\": 500}");
      return FALSE;
    }
  object = json_node_get_object (data);
  members = json_object_get_members (object);
  if (members == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "set_options has no option; the options are conflate_ms (0 to 5000)");
      return FALSE;
    }
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (object, name);

      if (g_str_equal (name, "conflate_ms"))
        {
          GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;
          double v;

          if (type != G_TYPE_INT64 && type != G_TYPE_DOUBLE)
            {
              g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                                   "conflate_ms must be a number of milliseconds from 0 (off) to 5000");
              return FALSE;
            }
          v = json_node_get_double (node);
          if (!isfinite (v) || v != floor (v) || v < 0 || v > CONFLATE_MS_MAX)
            {
              g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "conflate_ms %g is out of range: a whole number of milliseconds from 0 (off) to %d",
                           v, CONFLATE_MS_MAX);
              return FALSE;
            }
          *conflate_ms = (gint64) v;
        }
      else
        {
          g_autofree char *quoted = _th_utf8_excerpt (name, 64);

          g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                       "unknown option “%s”; the options are conflate_ms (0 to 5000)", quoted);
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
th_server_options_dispatch (ThServerClient *client,
                            const char     *event,
                            JsonNode       *data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) reply = NULL;
  gint64 conflate_ms = -1;
  ThServerClientOptions *o;
  JsonObject *obj;

  if (!g_str_equal (event, "set_options"))
    return FALSE;
  if (!parse_options (data, &conflate_ms, &error))
    {
      th_server_client_error (client, "bad_request", error->message);
      return TRUE;
    }
  o = options_of (client);
  if (conflate_ms >= 0 && (guint) conflate_ms != o->conflate_ms)
    {
      /* What was held under the old interval goes out now. */
      release (o);
      o->conflate_ms = (guint) conflate_ms;
      g_debug ("server: client %s: conflate_ms %u", client->id, o->conflate_ms);
    }
  obj = json_object_new ();
  json_object_set_int_member (obj, "conflate_ms", o->conflate_ms);
  reply = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);
  th_server_client_send (client, "options_set", reply);
  return TRUE;
}
