/* th-server-client.c: clients and rooms, whatever the transport
 *
 * A client (ThServerClient) joins rooms, is admitted or refused under
 * back-pressure (an exact byte budget, conflation of superseded updates,
 * a stall deadline), gets replies built for it alone, and speaks the
 * client protocol: join_room, leave_room, subscribe_symbol (with the
 * symbol_data snapshot from the hub's getters), unsubscribe_symbol,
 * get_status, get_history (th-server-history.c), ping. The transports (th-server-ws.c, th-server-sio.c)
 * parse their framing and call th_server_client_dispatch().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "th-private.h"
#include "th-server-private.h"

#define STALL_USEC              (30 * G_USEC_PER_SEC)
/* An episode of drops ends when the client has gone this long without
 * one and its queue is under half its budget: dropping the superseded
 * updates alone often halves a queue at once, so without the wait a
 * client that always reads a little too slowly logged two lines every
 * few seconds. */
#define CAUGHT_UP_USEC          (10 * G_USEC_PER_SEC)

const char *const th_server_fixed_rooms[] = {
  "financial_data",
  "technical_indicators",
  "price_alerts",
  "system_status",
  NULL
};

/* Rooms */

void
th_server_room_free (gpointer data)
{
  Room *room = data;

  g_hash_table_unref (room->members);
  g_free (room->name);
  g_free (room);
}

Room *
th_server_room_ensure (ThServer   *self,
                       const char *name,
                       gboolean    fixed)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL)
    {
      room = g_new0 (Room, 1);
      room->name = g_strdup (name);
      room->members = g_hash_table_new (NULL, NULL);
      room->fixed = fixed;
      g_hash_table_insert (self->rooms, room->name, room);
    }
  return room;
}

static void
room_join (ThServer       *self,
           ThServerClient *client,
           const char     *name)
{
  Room *room;

  /* The events of a burst routed before the join are not the joiner's. */
  th_server_deliver_pending (self);
  room = th_server_room_ensure (self, name, FALSE);
  g_hash_table_add (room->members, client);
  g_hash_table_insert (client->rooms, room->name, room);
}

static void
room_leave (ThServer       *self,
            ThServerClient *client,
            const char     *name)
{
  Room *room;

  /* Those routed before the leave still are the leaver's. */
  th_server_deliver_pending (self);
  room = g_hash_table_lookup (self->rooms, name);
  if (room == NULL || !g_hash_table_remove (room->members, client))
    return;
  g_hash_table_remove (client->rooms, name);
  if (!room->fixed && g_hash_table_size (room->members) == 0)
    g_hash_table_remove (self->rooms, name);   /* frees the room and its name */
}

/* The canonical form of a symbol a client sent, or NULL if it is not
 * configured. */
static char *
canonical_symbol (ThServer   *self,
                  const char *symbol)
{
  g_autofree char *up = NULL;

  if (symbol == NULL || *symbol == '\0' || strlen (symbol) > 32)
    return NULL;
  up = g_ascii_strup (symbol, -1);
  if (!th_hub_has_symbol (self->hub, up))
    return NULL;
  return g_steal_pointer (&up);
}

/* Clients */

void
th_server_client_init (ThServer                *self,
                       ThServerClient          *client,
                       const ThServerTransport *transport,
                       const char              *remote,
                       const char              *origin)
{
  client->transport = transport;
  client->server = self;
  client->id = g_strdup_printf ("%08" G_GINT32_MODIFIER "x%016" G_GINT64_MODIFIER "x",
                                g_random_int (), (gint64) ++self->client_serial);
  client->remote = g_strdup (remote);
  client->origin = g_strdup (origin);
  client->connected_at = g_get_real_time ();
  client->rooms = g_hash_table_new (g_str_hash, g_str_equal);
  client->tokens = MAX (1.0, 2 * self->rate_limit);
  client->tokens_at = g_get_monotonic_time ();
}

/* @client counts as connected: listed, counted against max-connections,
 * closed when the server stops, written when marked dirty. */
void
th_server_client_register (ThServer       *self,
                           ThServerClient *client)
{
  g_hash_table_add (self->clients, client);
  client->admitted = TRUE;
  self->n_admitted++;
  self->stats.connections++;
  g_debug ("server: client %s (%s) connected from %s (%u connected)",
           client->id, th_server_client_transport_name (client), client->remote,
           self->n_admitted);
}

/* A Socket.IO session before its namespace CONNECT: it is served (pings,
 * the CONNECT itself) but holds no max-connections slot. */
void
th_server_client_register_pending (ThServer       *self,
                                   ThServerClient *client)
{
  g_hash_table_add (self->clients, client);
  client->admitted = FALSE;
}

/* Its CONNECT succeeded: FALSE when max-connections are in already (the
 * caller refuses it). */
gboolean
th_server_client_admit_pending (ThServer       *self,
                                ThServerClient *client)
{
  if (client->admitted)
    return TRUE;
  if (self->n_admitted >= self->max_connections)
    {
      self->stats.refused++;
      g_message ("server: refused a Socket.IO connect from %s: %u connections already",
                 client->remote, self->max_connections);
      return FALSE;
    }
  client->admitted = TRUE;
  self->n_admitted++;
  self->stats.connections++;
  g_debug ("server: client %s (%s) connected from %s (%u connected)",
           client->id, th_server_client_transport_name (client), client->remote, self->n_admitted);
  return TRUE;
}

void
th_server_client_added (ThServer       *self,
                        ThServerClient *client)
{
  th_server_client_register (self, client);
  th_server_client_welcome (client);
}

/* The `connected` event: the first a client gets from the protocol (a
 * Socket.IO client gets it after its namespace CONNECT). */
void
th_server_client_welcome (ThServerClient *client)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) data = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "client_id");
  json_builder_add_string_value (b, client->id);
  json_builder_set_member_name (b, "server");
  json_builder_add_string_value (b, "tickhub");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "0.1.0");
  json_builder_end_object (b);
  data = json_builder_get_root (b);
  th_server_client_send (client, "connected", data);
}

/* The transport is done with @client: it leaves every room. The transport
 * frees its own memory afterwards. */
void
th_server_client_gone (ThServer       *self,
                       ThServerClient *client)
{
  GHashTableIter iter;
  gpointer key;
  GPtrArray *names;

  /* Answers still coming go to nobody. */
  th_server_history_client_gone (client);
  th_server_options_client_gone (client);
  if (client->in_dirty)
    {
      g_ptr_array_remove_fast (self->dirty, client);
      client->in_dirty = FALSE;
    }
  if (!g_hash_table_remove (self->clients, client))
    {
      /* Never registered (its connection failed early): only memory. */
      g_clear_pointer (&client->rooms, g_hash_table_unref);
      g_clear_pointer (&client->pending, g_hash_table_unref);
      g_clear_pointer (&client->id, g_free);
      g_clear_pointer (&client->remote, g_free);
      g_clear_pointer (&client->origin, g_free);
      g_clear_pointer (&client->ack_raw, g_free);
      g_clear_pointer (&client->owner, g_free);
      return;
    }

  if (client->admitted)
    self->n_admitted--;
  names = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, client->rooms);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  for (guint i = 0; i < names->len; i++)
    room_leave (self, client, names->pdata[i]);
  g_ptr_array_unref (names);

  g_debug ("server: client %s gone (%u connected)", client->id, self->n_admitted);
  g_clear_pointer (&client->rooms, g_hash_table_unref);
  g_clear_pointer (&client->pending, g_hash_table_unref);
  g_clear_pointer (&client->id, g_free);
  g_clear_pointer (&client->remote, g_free);
  g_clear_pointer (&client->origin, g_free);
  g_clear_pointer (&client->ack_raw, g_free);
  g_clear_pointer (&client->owner, g_free);
}

const char *
th_server_client_transport_name (ThServerClient *client)
{
  if (client->transport->get_name != NULL)
    return client->transport->get_name (client);
  return client->transport->name;
}

/* Back-pressure, the same for every transport */

static void
disconnect_slow (ThServerClient *client,
                 const char     *why)
{
  ThServerStats *stats = &client->server->stats;

  g_message ("server: client %s (%s) is too slow: %s; disconnecting it (close 1013)",
             client->id, client->remote, why);
  stats->disconnects_slow++;
  /* Its backlog is given up at once: that is the memory we protect. */
  stats->dropped += client->transport->drop (client, NULL, TH_DROP_ALL);
  client->transport->close (client, 1013, "too slow: send buffer full");
}

/* Whether a queued message goes under back-pressure (see ThDropMode):
 * @key, its conflation key (NULL: never dropped but by TH_DROP_ALL);
 * @superseded_later, whether a later queued update has the same key. */
gboolean
th_server_drop_frame (const char *key,
                      gboolean    superseded_later,
                      const char *incoming,
                      ThDropMode  mode)
{
  switch (mode)
    {
    case TH_DROP_SUPERSEDED:
      return key != NULL && (superseded_later || key == incoming);
    case TH_DROP_CONFLATABLE:
      return key != NULL;
    case TH_DROP_ALL:
    default:
      return TRUE;
    }
}

/* Whether an event of @size bytes (framing included) may be queued for
 * @client. Over client-buffer, queued updates that a newer one of the same
 * symbol supersedes are dropped first (so a slow client keeps the latest
 * price of each symbol), then every droppable update, then the new one if
 * it is droppable too; a non-droppable event that still does not fit
 * disconnects the client. A client that
 * has taken nothing for STALL_USEC while it has something queued is
 * disconnected too, so a reader that never reads cannot stay forever on
 * a stream of droppable updates. */
gboolean
th_server_client_admit (ThServerClient *client,
                        gsize           size,
                        const char     *conflate,
                        gint64          now)
{
  ThServerStats *stats = &client->server->stats;
  gsize budget = client->server->client_buffer;
  gsize queued = client->transport->get_queued (client);

  if (client->closing)
    return FALSE;

  if (queued > 0 && now - client->last_progress > STALL_USEC)
    {
      g_autofree char *why = g_strdup_printf ("it has read nothing for %d s with %" G_GSIZE_FORMAT " bytes waiting",
                                              (int) (STALL_USEC / G_USEC_PER_SEC), queued);
      disconnect_slow (client, why);
      return FALSE;
    }

  if (queued + size > budget)
    {
      guint dropped = client->transport->drop (client, conflate, TH_DROP_SUPERSEDED);

      queued = client->transport->get_queued (client);
      if (queued + size > budget)
        {
          dropped += client->transport->drop (client, conflate, TH_DROP_CONFLATABLE);
          queued = client->transport->get_queued (client);
        }
      stats->dropped += dropped;
      client->dropped += dropped;
      if (queued + size > budget)
        {
          if (conflate == NULL)
            {
              g_autofree char *why = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes waiting, over client-buffer (%"
                                                      G_GSIZE_FORMAT ")", queued, budget);
              disconnect_slow (client, why);
              return FALSE;
            }
          stats->dropped++;
          client->dropped++;
          dropped++;
        }
      if (dropped > 0)
        client->last_drop = now;
      if (dropped > 0 && !client->dropping)
        {
          client->dropping = TRUE;
          g_message ("server: client %s (%s) reads slower than updates come; dropping its price updates "
                     "(client-buffer %" G_GSIZE_FORMAT " bytes)", client->id, client->remote, budget);
        }
      return queued + size <= budget;
    }
  else if (client->dropping && queued < budget / 2 && now - client->last_drop >= CAUGHT_UP_USEC)
    {
      client->dropping = FALSE;
      g_message ("server: client %s caught up; %" G_GUINT64_FORMAT " updates dropped so far",
                 client->id, client->dropped);
    }
  return TRUE;
}

/* Replies are small and never dropped; a client that does not read its
 * replies is bounded by the rate limit and, in the end, by client-buffer. */
gboolean
th_server_client_admit_reply (ThServerClient *client,
                              gsize           size)
{
  if (client->closing)
    return FALSE;
  if (client->transport->get_queued (client) + size > client->server->client_buffer)
    {
      disconnect_slow (client, "its replies are not read");
      return FALSE;
    }
  return TRUE;
}

void
th_server_client_send (ThServerClient *client,
                       const char     *event,
                       JsonNode       *data)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  gsize length;
  char *text;

  if (client->closing)
    return;
  /* A Socket.IO event with an ack id: the first reply is its answer too. */
  if (client->ack != NULL && *client->ack == NULL)
    *client->ack = data != NULL ? json_node_copy (data) : json_node_new (JSON_NODE_NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  json_builder_set_member_name (b, "data");
  if (data != NULL)
    json_builder_add_value (b, json_node_copy (data));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = th_json_to_string (root, &length);
  client->transport->send_text (client, g_bytes_new_take (text, length));
}

/* Echoes @raw, a JSON value as the client wrote it, as the data of
 * @event: numbers keep their digits (json-glib turns 9223372036854775808
 * into a negative number). */
static void
client_send_raw (ThServerClient *client,
                 const char     *event,
                 const char     *raw,
                 gsize           raw_length)
{
  GString *out;

  if (client->closing)
    return;
  if (client->ack != NULL && *client->ack == NULL)
    {
      *client->ack = json_node_new (JSON_NODE_NULL);   /* answered: by ack_raw */
      g_free (client->ack_raw);
      client->ack_raw = g_strndup (raw, raw_length);
    }
  out = g_string_sized_new (raw_length + 32);
  /* @event is one of ours: a name that needs no escaping. */
  g_string_append_printf (out, "{\"event\":\"%s\",\"data\":", event);
  g_string_append_len (out, raw, raw_length);
  g_string_append_c (out, '}');
  client->transport->send_text (client, g_string_free_to_bytes (out));
}

/* Raw JSON values in a text json-glib has accepted (and the depth limit
 * checked): enough of a scanner to find where a value ends. */
static const char *
skip_ws (const char *p,
         const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static const char *
skip_string (const char *p,
             const char *end)
{
  for (p++; p < end && *p != '"'; p++)
    if (*p == '\\')
      p++;
  return p < end ? p + 1 : NULL;
}

static const char *
skip_value (const char *p,
            const char *end)
{
  int depth = 0;

  p = skip_ws (p, end);
  if (p >= end)
    return NULL;
  if (*p == '"')
    return skip_string (p, end);
  if (*p != '{' && *p != '[')
    {
      while (p < end && strchr (",}] \t\r\n", *p) == NULL)
        p++;
      return p;
    }
  while (p < end)
    {
      if (*p == '"')
        {
          p = skip_string (p, end);
          if (p == NULL)
            return NULL;
          continue;
        }
      if (*p == '{' || *p == '[')
        depth++;
      else if ((*p == '}' || *p == ']') && --depth == 0)
        return p + 1;
      p++;
    }
  return NULL;
}

/* The raw text of member @name of the object @text (the last one, as
 * json-glib keeps), or NULL. A name written with escapes is not found. */
const char *
th_server_json_member_raw (const char *text,
                           gsize       length,
                           const char *name,
                           gsize      *value_length)
{
  const char *end = text + length;
  const char *p = skip_ws (text, end);
  const char *found = NULL;
  gsize name_len = strlen (name);

  if (p >= end || *p != '{')
    return NULL;
  p++;
  for (;;)
    {
      const char *key, *key_end, *value, *value_end;

      p = skip_ws (p, end);
      if (p >= end || *p != '"')
        break;
      key = p + 1;
      if ((key_end = skip_string (p, end)) == NULL)
        break;
      p = skip_ws (key_end, end);
      if (p >= end || *p != ':')
        break;
      value = skip_ws (p + 1, end);
      if ((value_end = skip_value (value, end)) == NULL)
        break;
      if ((gsize) (key_end - 1 - key) == name_len && memcmp (key, name, name_len) == 0)
        {
          found = value;
          *value_length = value_end - value;
        }
      p = skip_ws (value_end, end);
      if (p >= end || *p != ',')
        break;
      p++;
    }
  return found;
}

/* The raw text of element @index of the array @text, or NULL. */
const char *
th_server_json_element_raw (const char *text,
                            gsize       length,
                            guint       index,
                            gsize      *value_length)
{
  const char *end = text + length;
  const char *p = skip_ws (text, end);

  if (p >= end || *p != '[')
    return NULL;
  p++;
  for (guint i = 0;; i++)
    {
      const char *value = skip_ws (p, end);
      const char *value_end = skip_value (value, end);

      if (value_end == NULL || value == value_end)
        return NULL;
      if (i == index)
        {
          *value_length = value_end - value;
          return value;
        }
      p = skip_ws (value_end, end);
      if (p >= end || *p != ',')
        return NULL;
      p++;
    }
}

void
th_server_client_error (ThServerClient *client,
                        const char     *code,
                        const char     *message)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) data = NULL;

  client->server->stats.client_errors++;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  data = json_builder_get_root (b);
  th_server_client_send (client, "error", data);
}

static JsonNode *
object_node (const char *key,
             const char *value)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, key);
  json_builder_add_string_value (b, value);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The latest indicator values of @symbol for @timeframe, as in the last
 * technical_indicators_update's "indicators" (every output, then
 * "timestamp"), or NULL. */
JsonNode *
th_server_get_indicators (ThServer   *self,
                          const char *symbol,
                          const char *timeframe)
{
  gint64 start = 0;
  g_autoptr(GVariant) values = th_hub_get_indicators (self->hub, symbol, timeframe, &start, NULL);
  g_autoptr(JsonBuilder) b = NULL;
  g_autofree char *ts = NULL;
  GVariantIter iter;
  const char *name;
  double value;

  if (values == NULL)
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  g_variant_iter_init (&iter, values);
  while (g_variant_iter_next (&iter, "{&sd}", &name, &value))
    th_server_json_add_number (b, name, value);
  ts = th_format_time (start);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, ts);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* symbol_data: {"symbol", "financial_data": {...} | null, "reason" (when
 * null), "indicators": {"1m": {...}, ...}} */
static JsonNode *
build_snapshot (ThServer   *self,
                const char *symbol)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = th_hub_get_price (self->hub, symbol, &error);
  g_auto(GStrv) timeframes = th_hub_list_timeframes (self->hub);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, symbol);
  json_builder_set_member_name (b, "financial_data");
  if (tick != NULL)
    json_builder_add_value (b, th_server_tick_to_node (self->hub, tick, th_clock_get_time (th_hub_get_clock (self->hub))));
  else
    {
      json_builder_add_null_value (b);
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, error != NULL ? error->message : "no price");
    }
  json_builder_set_member_name (b, "indicators");
  json_builder_begin_object (b);
  for (guint i = 0; timeframes[i] != NULL; i++)
    {
      JsonNode *values = th_server_get_indicators (self, symbol, timeframes[i]);

      json_builder_set_member_name (b, timeframes[i]);
      if (values != NULL)
        json_builder_add_value (b, values);
      else
        json_builder_add_null_value (b);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
th_server_build_status (ThServer *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_auto(GStrv) sources = th_hub_list_sources (self->hub);
  g_autofree char *ts = th_format_time (g_get_real_time ());
  const char *const *symbols = th_hub_get_symbols (self->hub);
  gboolean streaming = FALSE;
  gint64 rss = 0;
  double cpu = 0;

  for (guint i = 0; sources != NULL && sources[i] != NULL && !streaming; i++)
    streaming = th_hub_get_source_state (self->hub, sources[i], NULL) == TH_SOURCE_STATE_LIVE;
  th_server_process_figures (&rss, &cpu);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, ts);
  json_builder_set_member_name (b, "active_connections");
  json_builder_add_int_value (b, self->n_admitted);
  json_builder_set_member_name (b, "monitored_symbols");
  json_builder_add_int_value (b, symbols != NULL ? g_strv_length ((char **) symbols) : 0);
  json_builder_set_member_name (b, "streaming_active");
  json_builder_add_boolean_value (b, streaming);
  json_builder_set_member_name (b, "uptime");
  json_builder_add_double_value (b, (g_get_real_time () - self->start_time) / (double) G_USEC_PER_SEC);
  json_builder_set_member_name (b, "memory_usage");
  json_builder_add_int_value (b, rss);
  json_builder_set_member_name (b, "cpu_usage");
  json_builder_add_double_value (b, round (self->cpu_usage * 100) / 100);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, "ok");
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The client protocol */

/* A token bucket: rate-limit messages per second, bursts of twice that. */
static gboolean
take_token (ThServer       *self,
            ThServerClient *client)
{
  gint64 now = g_get_monotonic_time ();
  double burst = MAX (1.0, 2 * self->rate_limit);

  if (self->rate_limit <= 0)
    return TRUE;
  client->tokens = MIN (burst, client->tokens + (now - client->tokens_at) * self->rate_limit / G_USEC_PER_SEC);
  client->tokens_at = now;
  if (client->tokens < 1.0)
    return FALSE;
  client->tokens -= 1.0;
  return TRUE;
}

static const char *
get_string_member (JsonNode   *data,
                   const char *member)
{
  JsonNode *node;

  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    return NULL;
  node = json_object_get_member (json_node_get_object (data), member);
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
is_fixed_room (const char *name)
{
  return g_strv_contains (th_server_fixed_rooms, name);
}

static void
handle_room (ThServer       *self,
             ThServerClient *client,
             const char     *event,
             JsonNode       *data,
             gboolean        join)
{
  const char *room = get_string_member (data, "room");
  g_autofree char *msg = NULL;
  g_autofree char *symbol = NULL;
  g_autofree char *canonical = NULL;
  g_autoptr(JsonNode) reply = NULL;

  if (room == NULL)
    {
      msg = g_strdup_printf ("%s needs {\"room\": NAME}", event);
      th_server_client_error (client, "bad_request", msg);
      return;
    }
  if (g_str_has_prefix (room, "symbol_"))
    {
      symbol = canonical_symbol (self, room + strlen ("symbol_"));
      if (symbol == NULL)
        {
          g_autofree char *quoted = _th_utf8_excerpt (room, 64);

          msg = g_strdup_printf ("unknown symbol in room “%s”", quoted);
          th_server_client_error (client, "unknown_symbol", msg);
          return;
        }
      canonical = g_strconcat ("symbol_", symbol, NULL);
    }
  else if (is_fixed_room (room))
    canonical = g_strdup (room);
  else
    {
      g_autofree char *quoted = _th_utf8_excerpt (room, 64);

      msg = g_strdup_printf ("unknown room “%s”; the rooms are financial_data, technical_indicators, "
                             "price_alerts, system_status and symbol_<SYMBOL>", quoted);
      th_server_client_error (client, "unknown_room", msg);
      return;
    }

  if (join)
    room_join (self, client, canonical);
  else
    room_leave (self, client, canonical);
  reply = object_node ("room", canonical);
  th_server_client_send (client, join ? "room_joined" : "room_left", reply);
}

static void
handle_symbol (ThServer       *self,
               ThServerClient *client,
               const char     *event,
               JsonNode       *data,
               gboolean        subscribe)
{
  const char *raw = get_string_member (data, "symbol");
  g_autofree char *symbol = NULL;
  g_autofree char *room = NULL;
  g_autofree char *msg = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) reply = NULL;

  if (raw == NULL)
    {
      msg = g_strdup_printf ("%s needs {\"symbol\": SYMBOL}", event);
      th_server_client_error (client, "bad_request", msg);
      return;
    }
  symbol = canonical_symbol (self, raw);
  if (symbol == NULL)
    {
      g_autofree char *quoted = _th_utf8_excerpt (raw, 32);

      msg = g_strdup_printf ("unknown symbol “%s”", quoted);
      th_server_client_error (client, "unknown_symbol", msg);
      return;
    }

  room = g_strconcat ("symbol_", symbol, NULL);
  if (subscribe)
    room_join (self, client, room);
  else
    room_leave (self, client, room);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, symbol);
  json_builder_set_member_name (b, "room");
  json_builder_add_string_value (b, room);
  json_builder_end_object (b);
  reply = json_builder_get_root (b);
  th_server_client_send (client, subscribe ? "symbol_subscribed" : "symbol_unsubscribed", reply);

  if (subscribe)
    {
      g_autoptr(JsonNode) snapshot = build_snapshot (self, symbol);

      th_server_client_send (client, "symbol_data", snapshot);
    }
}

static void
handle_get_status (ThServer       *self,
                   ThServerClient *client)
{
  g_autoptr(JsonNode) status = th_server_build_status (self);
  JsonObject *obj = json_node_get_object (status);
  JsonArray *rooms = json_array_new ();
  GList *names = g_list_sort (g_hash_table_get_keys (client->rooms), (GCompareFunc) strcmp);

  for (GList *l = names; l != NULL; l = l->next)
    json_array_add_string_element (rooms, l->data);
  g_list_free (names);
  json_object_set_string_member (obj, "client_id", client->id);
  json_object_set_array_member (obj, "rooms", rooms);
  th_server_client_send (client, "server_status", status);
}

/* Counts a message from @client against the rate limit; over it, the
 * client gets a rate_limited error and is closed, and FALSE is returned. */
gboolean
th_server_client_take_token (ThServerClient *client)
{
  ThServer *self = client->server;
  g_autofree char *reason = NULL;

  self->stats.client_messages++;
  if (take_token (self, client))
    return TRUE;

  reason = g_strdup_printf ("more than %g messages per second", self->rate_limit);
  g_message ("server: client %s (%s) is over the rate limit (%s); closing it",
             client->id, client->remote, reason);
  self->stats.disconnects_rate++;
  th_server_client_error (client, "rate_limited", reason);
  client->transport->close (client, 1008, "rate limit exceeded");
  return FALSE;
}

/* One client event, whatever the transport: @data is nullable. */
void
th_server_client_dispatch (ThServerClient *client,
                           const char     *event,
                           JsonNode       *data)
{
  ThServer *self = client->server;
  g_autofree char *msg = NULL;

  if (g_str_equal (event, "join_room"))
    handle_room (self, client, event, data, TRUE);
  else if (g_str_equal (event, "leave_room"))
    handle_room (self, client, event, data, FALSE);
  else if (g_str_equal (event, "subscribe_symbol"))
    handle_symbol (self, client, event, data, TRUE);
  else if (g_str_equal (event, "unsubscribe_symbol"))
    handle_symbol (self, client, event, data, FALSE);
  else if (g_str_equal (event, "get_status"))
    handle_get_status (self, client);
  else if (g_str_equal (event, "get_history"))
    th_server_history_client_request (client, data);
  else if (th_server_alerts_dispatch (client, event, data))
    ;
  else if (th_server_options_dispatch (client, event, data))
    ;
  else if (g_str_equal (event, "ping"))
    {
      g_autoptr(JsonNode) empty = NULL;

      if (data == NULL || JSON_NODE_HOLDS_NULL (data))
        empty = json_node_init_object (json_node_alloc (), json_object_new ());
      /* The client's value as it wrote it, when the transport has it. */
      if (empty == NULL && client->raw_data != NULL)
        client_send_raw (client, "pong", client->raw_data, client->raw_data_len);
      else
        th_server_client_send (client, "pong", empty != NULL ? empty : data);
    }
  else
    {
      g_autofree char *quoted = _th_utf8_excerpt (event, 64);

      msg = g_strdup_printf ("unknown event “%s”; the events are join_room, leave_room, "
                             "subscribe_symbol, unsubscribe_symbol, get_status, get_history, ping, set_alert, "
                             "remove_alert, list_alerts and set_options", quoted);
      th_server_client_error (client, "bad_request", msg);
    }
}

/* A text message from a /ws client: the envelope {"event", "data"}. */
/* A /ws message that is not an envelope: counted, logged once per client
 * (at most one line per client, whatever it sends), answered. */
static void
bad_message (ThServer       *self,
             ThServerClient *client,
             const char     *why,
             const char     *answer)
{
  self->stats.ws_bad_messages++;
  if (!client->logged_bad)
    {
      client->logged_bad = TRUE;
      g_message ("server: client %s (%s) sent a malformed message: %s "
                 "(logged once per client; counted in /metrics)", client->id, client->remote, why);
    }
  th_server_client_error (client, "bad_request", answer);
}

void
th_server_client_message (ThServer       *self,
                          ThServerClient *client,
                          const char     *text,
                          gsize           length)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *event_node;

  if (client->closing || !th_server_client_take_token (client))
    return;

  parser = json_parser_new_immutable ();
  if (!th_json_parser_load (parser, text, (gssize) length, &error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bad_message (self, client, error != NULL ? error->message : "not a JSON object",
                   "a message is a JSON object {\"event\": NAME, \"data\": {...}}");
      return;
    }
  obj = json_node_get_object (root);
  event_node = json_object_get_member (obj, "event");
  if (event_node == NULL || json_node_get_value_type (event_node) != G_TYPE_STRING)
    {
      bad_message (self, client, "no \"event\" string", "the message has no \"event\" string");
      return;
    }
  client->raw_data = th_server_json_member_raw (text, length, "data", &client->raw_data_len);
  th_server_client_dispatch (client, json_node_get_string (event_node), json_object_get_member (obj, "data"));
  client->raw_data = NULL;
}

