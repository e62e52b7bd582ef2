/* th-server.c: the server sink: config, lifecycle, rooms, routing, protocol
 *
 * Clients join rooms; each event the hub hands to consume() goes to the
 * members of the rooms it belongs to, once per client even when the client
 * is in several of them, as the same GBytes the hub serialized:
 *
 *   financial_data_update        financial_data + symbol_<S>
 *   technical_indicators_update  technical_indicators + symbol_<S>
 *   candle_update                symbol_<S>
 *   price_source_changed         system_status + symbol_<S>
 *   source_status                system_status
 *   error                        system_status + symbol_<S> when it names one
 *   system_status_update         system_status
 *
 * Nothing publishes to price_alerts yet; it can be joined.
 *
 * Socket.IO clients get the same events as `42["name",{...}]`: that form
 * is made once per event (th_server_sio_event_bytes) and shared by every
 * Socket.IO recipient, as the envelope is shared by every /ws client.
 *
 * Sending is batched: consume() appends to the recipients' queues and
 * marks them dirty; one idle callback then writes every dirty client, many
 * frames per writev(). Per-client limits (client-buffer, rate-limit,
 * max-message) live in the transport (th-server-ws.c) and here.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include <libpeas/peas.h>

#include <sys/socket.h>
#include <unistd.h>

#include "th-server-private.h"

#define DEFAULT_LISTEN          "127.0.0.1:5001"
#define DEFAULT_MAX_CONNECTIONS 1000
#define DEFAULT_MAX_MESSAGE     (64 * 1024)
#define DEFAULT_RATE_LIMIT      20.0
#define DEFAULT_STATUS_INTERVAL 5.0
#define DEFAULT_CLIENT_BUFFER   (1024 * 1024)
#define DEFAULT_PRICE_WAIT      2.0
#define FLUSH_BOUND_USEC        (2 * G_USEC_PER_SEC)
#define DEFAULT_PING_INTERVAL   25.0    /* socket.io's defaults */
#define DEFAULT_PING_TIMEOUT    20.0
#define STALL_USEC              (30 * G_USEC_PER_SEC)
#define SIO_CACHE_MAX           64

static const char *const fixed_rooms[] = {
  "financial_data",
  "technical_indicators",
  "price_alerts",
  "system_status",
  NULL
};

typedef struct
{
  char       *name;
  GHashTable *members;   /* ThServerClient* set */
  gboolean    fixed;
} Room;

struct _ThServer
{
  GObject        parent_instance;
  ThHub         *hub;              /* not a reference: the hub owns its sinks */

  /* Config */
  char          *host;
  guint          port;
  guint          max_connections;
  gsize          max_message;
  double         rate_limit;
  char         **allowed_origins;  /* NULL: any */
  double         status_interval;
  guint          conflate_ms;
  gsize          client_buffer;
  double         price_wait;
  ThServerAuth  *auth;             /* NULL: no authentication */
  GTlsCertificate *tls_certificate; /* NULL: plain HTTP */
  gboolean       socketio;
  guint          ping_interval;    /* ms */
  guint          ping_timeout;     /* ms */

  SoupServer    *soup;
  ThServerSio   *sio;
  GHashTable    *sio_cache;        /* ThEvent* → GBytes*: this iteration's Socket.IO packets */
  guint          bound_port;
  GHashTable    *clients;          /* ThServerClient* set */
  GHashTable    *rooms;            /* name → Room* */
  GPtrArray     *dirty;            /* ThServerClient* to write */
  guint          flush_id;
  guint          status_id;
  guint          conflate_id;
  gint64         start_time;       /* real time, µs */
  gint64         cpu_at;           /* monotonic µs of the last CPU sample */
  double         cpu_seconds;
  double         cpu_usage;        /* percent of one core over the last interval */
  guint64        client_serial;
  ThServerStats  stats;
  GPtrArray     *price_waiters;    /* REST requests waiting for a price (th-server-rest.c) */
  gboolean       started;
  gboolean       stopped;
};

enum {
  PROP_0,
  PROP_PORT,
};

static void th_server_sink_init (ThSinkInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThServer, th_server, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_server_sink_init))

/* JSON helpers */

void
th_server_json_add_number (JsonBuilder *builder,
                           const char  *name,
                           double       value)
{
  json_builder_set_member_name (builder, name);
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}


/* The REST price object: symbol, price, bid, ask, volume, change, source,
 * timestamp, age_ms. @now is the hub clock's time. */
JsonNode *
th_server_tick_to_node (ThTick *tick,
                        gint64  now)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *ts = th_format_time (tick->exchange_time);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "symbol");
  json_builder_add_string_value (b, tick->symbol);
  th_server_json_add_number (b, "price", tick->price);
  th_server_json_add_number (b, "bid", tick->bid);
  th_server_json_add_number (b, "ask", tick->ask);
  th_server_json_add_number (b, "volume", tick->volume_24h);
  th_server_json_add_number (b, "change", tick->change_24h);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, tick->source);
  json_builder_set_member_name (b, "timestamp");
  json_builder_add_string_value (b, ts);
  json_builder_set_member_name (b, "age_ms");
  json_builder_add_int_value (b, MAX (0, (now - tick->receive_time) / 1000));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Accessors for the other files */

ThHub *
th_server_get_hub (ThServer *self)
{
  return self->hub;
}

SoupServer *
th_server_get_soup (ThServer *self)
{
  return self->soup;
}

ThServerStats *
th_server_get_stats (ThServer *self)
{
  return &self->stats;
}

gsize
th_server_get_client_buffer (ThServer *self)
{
  return self->client_buffer;
}

gsize
th_server_get_max_message (ThServer *self)
{
  return self->max_message;
}

guint
th_server_get_max_connections (ThServer *self)
{
  return self->max_connections;
}

guint
th_server_count_clients (ThServer *self)
{
  return g_hash_table_size (self->clients);
}

GList *
th_server_list_clients (ThServer *self)
{
  return g_hash_table_get_keys (self->clients);
}

GList *
th_server_list_rooms (ThServer *self)
{
  return g_list_sort (g_hash_table_get_keys (self->rooms), (GCompareFunc) strcmp);
}

guint
th_server_count_room (ThServer   *self,
                      const char *name)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

  return room != NULL ? g_hash_table_size (room->members) : 0;
}

gboolean
th_server_is_stopped (ThServer *self)
{
  return self->stopped;
}

ThServerAuth *
th_server_get_auth (ThServer *self)
{
  return self->auth;
}

gboolean
th_server_is_tls (ThServer *self)
{
  return self->tls_certificate != NULL;
}

gint64
th_server_get_start_time (ThServer *self)
{
  return self->start_time;
}

gboolean
th_server_get_socketio (ThServer *self)
{
  return self->socketio;
}

guint
th_server_get_ping_interval (ThServer *self)
{
  return self->ping_interval;
}

guint
th_server_get_ping_timeout (ThServer *self)
{
  return self->ping_timeout;
}

/* An Origin header is allowed when allowed-origins is empty, or lists it
 * (compared without case, as origins are), or lists `*`. A request
 * without an Origin (not from a browser) is always allowed. */
gboolean
th_server_origin_allowed (ThServer   *self,
                          const char *origin)
{
  if (self->allowed_origins == NULL || origin == NULL)
    return TRUE;
  for (guint i = 0; self->allowed_origins[i] != NULL; i++)
    if (g_str_equal (self->allowed_origins[i], "*") ||
        g_ascii_strcasecmp (self->allowed_origins[i], origin) == 0)
      return TRUE;
  return FALSE;
}

/* Rooms */

static void
room_free (gpointer data)
{
  Room *room = data;

  g_hash_table_unref (room->members);
  g_free (room->name);
  g_free (room);
}

static Room *
room_ensure (ThServer   *self,
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
  Room *room = room_ensure (self, name, FALSE);

  g_hash_table_add (room->members, client);
  g_hash_table_insert (client->rooms, room->name, room);
}

static void
room_leave (ThServer       *self,
            ThServerClient *client,
            const char     *name)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

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
  self->stats.connections++;
  g_debug ("server: client %s (%s) connected from %s (%u connected)",
           client->id, th_server_client_transport_name (client), client->remote,
           g_hash_table_size (self->clients));
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
      return;
    }

  names = g_ptr_array_new_with_free_func (g_free);
  g_hash_table_iter_init (&iter, client->rooms);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  for (guint i = 0; i < names->len; i++)
    room_leave (self, client, names->pdata[i]);
  g_ptr_array_unref (names);

  g_debug ("server: client %s gone (%u connected)", client->id, g_hash_table_size (self->clients));
  g_clear_pointer (&client->rooms, g_hash_table_unref);
  g_clear_pointer (&client->pending, g_hash_table_unref);
  g_clear_pointer (&client->id, g_free);
  g_clear_pointer (&client->remote, g_free);
  g_clear_pointer (&client->origin, g_free);
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
      if (dropped > 0 && !client->dropping)
        {
          client->dropping = TRUE;
          g_message ("server: client %s (%s) reads slower than updates come; dropping its price updates "
                     "(client-buffer %" G_GSIZE_FORMAT " bytes)", client->id, client->remote, budget);
        }
      return queued + size <= budget;
    }
  else if (client->dropping && queued < budget / 2)
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

/* Socket.IO's form of an event, `42["name",{...}]`, made from the
 * envelope `{"event":"name","data":{...}}` by copying two slices of it
 * (the hub and th_event_new write envelopes in that form); anything else
 * goes through json-glib. NULL if @json is not an envelope. */
static GBytes *
sio_encode (const char *json,
            gsize       len)
{
  static const char prefix[] = "{\"event\":\"";
  static const char middle[] = "\",\"data\":";
  const char *end = json + len;

  if (len > sizeof prefix && memcmp (json, prefix, sizeof prefix - 1) == 0 && end[-1] == '}')
    {
      const char *name = json + sizeof prefix - 2;     /* its opening quote */
      const char *p = name + 1;

      while (p < end && *p != '"')
        p += *p == '\\' ? 2 : 1;
      if (p < end && (gsize) (end - p) > sizeof middle &&
          memcmp (p, middle, sizeof middle - 1) == 0)
        {
          const char *data = p + sizeof middle - 1;
          GString *out = g_string_sized_new (len);

          g_string_append (out, "42[");
          g_string_append_len (out, name, p + 1 - name);
          g_string_append_c (out, ',');
          g_string_append_len (out, data, end - 1 - data);
          g_string_append_c (out, ']');
          return g_string_free_to_bytes (out);
        }
    }

  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    g_autoptr(JsonNode) array = NULL;
    JsonNode *root;
    JsonNode *event;
    JsonNode *data;
    JsonArray *a;
    g_autofree char *text = NULL;
    g_autofree char *packet = NULL;

    if (!th_json_parser_load (parser, json, (gssize) len, NULL) ||
        (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
      return NULL;
    event = json_object_get_member (json_node_get_object (root), "event");
    data = json_object_get_member (json_node_get_object (root), "data");
    if (event == NULL || json_node_get_value_type (event) != G_TYPE_STRING)
      return NULL;
    a = json_array_new ();
    json_array_add_string_element (a, json_node_get_string (event));
    json_array_add_element (a, data != NULL ? json_node_copy (data) : json_node_new (JSON_NODE_NULL));
    array = json_node_init_array (json_node_alloc (), a);
    json_array_unref (a);
    text = th_json_to_string (array, NULL);
    packet = g_strconcat ("42", text, NULL);
    return g_bytes_new_take (g_steal_pointer (&packet), strlen (text) + 2);
  }
}

/* The Socket.IO packet of @event, made once and shared by every
 * Socket.IO recipient (borrowed: ref it to keep it). */
GBytes *
th_server_sio_event_bytes (ThServer *self,
                           ThEvent  *event)
{
  GBytes *bytes = g_hash_table_lookup (self->sio_cache, event);
  gsize len;
  const char *json;

  if (bytes != NULL)
    return bytes;
  json = g_bytes_get_data (th_event_get_bytes (event), &len);
  bytes = sio_encode (json, len);
  if (bytes == NULL)   /* not from the hub: say so rather than send garbage */
    {
      g_autofree char *escaped = g_strescape (th_event_get_name (event), NULL);
      char *packet = g_strdup_printf ("42[\"%s\",null]", escaped);

      bytes = g_bytes_new_take (packet, strlen (packet));
    }
  self->stats.sio_encodings++;
  /* Bounded even if no flush comes between dispatches (every recipient
   * over its budget). */
  if (g_hash_table_size (self->sio_cache) >= SIO_CACHE_MAX)
    g_hash_table_remove_all (self->sio_cache);
  g_hash_table_insert (self->sio_cache, th_event_ref (event), bytes);
  return bytes;
}

/* The Socket.IO form of a reply built by th_server_client_send (). */
GBytes *
th_server_sio_encode_reply (GBytes *json)
{
  gsize len;
  const char *text = g_bytes_get_data (json, &len);

  return sio_encode (text, len);
}

static gboolean
flush_dirty (gpointer data)
{
  ThServer *self = data;
  GPtrArray *dirty;

  self->flush_id = 0;
  dirty = g_steal_pointer (&self->dirty);
  self->dirty = g_ptr_array_new ();
  /* The Socket.IO packets of the events routed so far are in the queues
   * now: the cache is only for one dispatch (and conflation's release). */
  g_hash_table_remove_all (self->sio_cache);
  for (guint i = 0; i < dirty->len; i++)
    ((ThServerClient *) dirty->pdata[i])->in_dirty = FALSE;
  /* A write may end a client (th_server_client_gone), which is then no
   * longer in self->clients: check before each. */
  for (guint i = 0; i < dirty->len; i++)
    if (g_hash_table_contains (self->clients, dirty->pdata[i]))
      ((ThServerClient *) dirty->pdata[i])->transport->flush (dirty->pdata[i]);
  g_ptr_array_unref (dirty);
  return G_SOURCE_REMOVE;
}

void
th_server_mark_dirty (ThServer       *self,
                      ThServerClient *client)
{
  if (client->in_dirty)
    return;
  client->in_dirty = TRUE;
  g_ptr_array_add (self->dirty, client);
  if (self->flush_id == 0)
    {
      self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_dirty, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->flush_id),
                                "[server] write");
    }
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
    json_builder_add_value (b, th_server_tick_to_node (tick, th_clock_get_time (th_hub_get_clock (self->hub))));
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
  json_builder_add_int_value (b, g_hash_table_size (self->clients));
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
  return g_strv_contains (fixed_rooms, name);
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
          msg = g_strdup_printf ("unknown symbol in room “%.64s”", room);
          th_server_client_error (client, "unknown_symbol", msg);
          return;
        }
      canonical = g_strconcat ("symbol_", symbol, NULL);
    }
  else if (is_fixed_room (room))
    canonical = g_strdup (room);
  else
    {
      msg = g_strdup_printf ("unknown room “%.64s”; the rooms are financial_data, technical_indicators, "
                             "price_alerts, system_status and symbol_<SYMBOL>", room);
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
      msg = g_strdup_printf ("unknown symbol “%.32s”", raw);
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
  else if (g_str_equal (event, "ping"))
    {
      g_autoptr(JsonNode) empty = NULL;

      if (data == NULL || JSON_NODE_HOLDS_NULL (data))
        empty = json_node_init_object (json_node_alloc (), json_object_new ());
      th_server_client_send (client, "pong", empty != NULL ? empty : data);
    }
  else
    {
      msg = g_strdup_printf ("unknown event “%.64s”; the events are join_room, leave_room, "
                             "subscribe_symbol, unsubscribe_symbol, get_status and ping", event);
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
  th_server_client_dispatch (client, json_node_get_string (event_node), json_object_get_member (obj, "data"));
}

/* Routing */

static void
deliver (ThServer       *self,
         ThServerClient *client,
         ThEvent        *event,
         const char     *conflate,
         gint64          now)
{
  if (client->closing)
    return;

  if (self->conflate_ms > 0 && conflate != NULL)
    {
      if (client->pending == NULL)
        client->pending = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) th_event_unref);
      if (g_hash_table_size (client->pending) == 0)
        client->pending_since = now;
      if (!g_hash_table_replace (client->pending, (gpointer) conflate, th_event_ref (event)))
        self->stats.conflated++;
      return;
    }
  client->transport->send_event (client, event, conflate, now);
}

/* conflate-ms: every interval, the updates held back go out, latest only.
 * They keep the time they were consumed, for the latency histogram. */
static gboolean
release_conflated (gpointer data)
{
  ThServer *self = data;
  GList *clients = g_hash_table_get_keys (self->clients);

  for (GList *l = clients; l != NULL; l = l->next)
    {
      ThServerClient *client = l->data;
      GHashTableIter iter;
      gpointer key, value;

      if (client->pending == NULL || g_hash_table_size (client->pending) == 0 || client->closing)
        continue;
      g_hash_table_iter_init (&iter, client->pending);
      while (g_hash_table_iter_next (&iter, &key, &value) && !client->closing)
        client->transport->send_event (client, value, key, client->pending_since);
      if (client->pending != NULL)
        g_hash_table_remove_all (client->pending);
    }
  g_list_free (clients);
  return G_SOURCE_CONTINUE;
}

static void
route (ThServer   *self,
       ThEvent    *event,
       const char *room1,
       const char *room2,
       gboolean    conflatable)
{
  /* The conflation key: the symbol, interned once per event. */
  const char *conflate = conflatable && th_event_get_symbol (event) != NULL
                         ? g_intern_string (th_event_get_symbol (event)) : NULL;
  Room *r1 = room1 != NULL ? g_hash_table_lookup (self->rooms, room1) : NULL;
  Room *r2 = room2 != NULL ? g_hash_table_lookup (self->rooms, room2) : NULL;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer client;
  GPtrArray *targets;

  if (r1 == NULL && r2 == NULL)
    return;

  /* Collected first: a delivery can end a client (over its buffer), which
   * changes the rooms. */
  targets = g_ptr_array_sized_new ((r1 != NULL ? g_hash_table_size (r1->members) : 0) +
                                   (r2 != NULL ? g_hash_table_size (r2->members) : 0));
  if (r1 != NULL)
    {
      g_hash_table_iter_init (&iter, r1->members);
      while (g_hash_table_iter_next (&iter, &client, NULL))
        g_ptr_array_add (targets, client);
    }
  if (r2 != NULL)
    {
      g_hash_table_iter_init (&iter, r2->members);
      while (g_hash_table_iter_next (&iter, &client, NULL))
        if (r1 == NULL || !g_hash_table_contains (r1->members, client))
          g_ptr_array_add (targets, client);
    }
  for (guint i = 0; i < targets->len; i++)
    if (g_hash_table_contains (self->clients, targets->pdata[i]))
      deliver (self, targets->pdata[i], event, conflate, now);
  g_ptr_array_unref (targets);
}

static void
th_server_consume (ThSink  *sink,
                   ThEvent *event)
{
  ThServer *self = TH_SERVER (sink);
  const char *name = th_event_get_name (event);
  const char *symbol = th_event_get_symbol (event);
  g_autofree char *symbol_room = symbol != NULL ? g_strconcat ("symbol_", symbol, NULL) : NULL;
  guint64 *count;

  if (self->stopped)
    return;

  count = g_hash_table_lookup (self->stats.events, name);
  if (count == NULL)
    {
      count = g_new0 (guint64, 1);
      g_hash_table_insert (self->stats.events, g_strdup (name), count);
    }
  (*count)++;

  if (g_str_equal (name, "financial_data_update"))
    route (self, event, "financial_data", symbol_room, TRUE);
  else if (g_str_equal (name, "technical_indicators_update"))
    route (self, event, "technical_indicators", symbol_room, FALSE);
  else if (g_str_equal (name, "candle_update"))
    route (self, event, symbol_room, NULL, FALSE);
  else if (g_str_equal (name, "price_source_changed") || g_str_equal (name, "error"))
    route (self, event, "system_status", symbol_room, FALSE);
  else if (g_str_equal (name, "source_status") || g_str_equal (name, "system_status_update"))
    route (self, event, "system_status", NULL, FALSE);
  else
    route (self, event, symbol_room, NULL, FALSE);
}

/* system_status_update */

static void
sample_cpu (ThServer *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 rss;
  double cpu;

  if (!th_server_process_figures (&rss, &cpu))
    return;
  if (self->cpu_at > 0 && now > self->cpu_at)
    self->cpu_usage = 100.0 * (cpu - self->cpu_seconds) / ((now - self->cpu_at) / (double) G_USEC_PER_SEC);
  self->cpu_at = now;
  self->cpu_seconds = cpu;
}

static gboolean
emit_status (gpointer data)
{
  ThServer *self = data;
  g_autoptr(JsonNode) status = NULL;
  g_autoptr(ThEvent) event = NULL;

  sample_cpu (self);
  status = th_server_build_status (self);
  event = th_event_new ("system_status_update", NULL, status);
  /* Through the hub, so that every sink sees it; it comes back to
   * consume() and goes to the system_status room. */
  th_hub_emit_event (self->hub, event);
  return G_SOURCE_CONTINUE;
}

/* Configuration */

static gboolean
parse_listen (const char  *text,
              char       **host,
              guint       *port)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *h = NULL;
  guint64 p;

  if (colon == NULL || colon == text)
    return FALSE;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &p, NULL))
    return FALSE;
  h = g_strndup (text, colon - text);
  if (h[0] == '[' && h[strlen (h) - 1] == ']')
    {
      char *inner = g_strndup (h + 1, strlen (h) - 2);

      g_free (h);
      h = inner;
    }
  if (!g_hostname_is_ip_address (h) && !g_str_equal (h, "localhost"))
    return FALSE;
  *host = g_steal_pointer (&h);
  *port = (guint) p;
  return TRUE;
}

typedef struct
{
  GError       *error;
  GCancellable *cancellable;
  guint         pending;
} SelfTest;

static void
on_self_handshake (GObject      *source,
                   GAsyncResult *result,
                   gpointer      data)
{
  SelfTest *t = data;
  g_autoptr(GError) error = NULL;

  /* The first failure of either side is the answer; the other side
   * would wait for its peer until the timeout. */
  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error) && t->error == NULL)
    {
      t->error = g_steal_pointer (&error);
      g_cancellable_cancel (t->cancellable);
    }
  t->pending--;
}

static gboolean
cancel_self_test (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_own (GTlsConnection       *conn,
            GTlsCertificate      *peer,
            GTlsCertificateFlags  errors,
            gpointer              data)
{
  return TRUE;
}

/* GLib loads a certificate and a key that do not belong together without
 * a word; every client would then fail its handshake. So one handshake
 * with ourselves over a socket pair, at configure time, turns that into a
 * config error. */
static gboolean
tls_self_test (GTlsCertificate  *certificate,
               GError          **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSocket) a = NULL;
  g_autoptr(GSocket) b = NULL;
  g_autoptr(GSocketConnection) ca = NULL;
  g_autoptr(GSocketConnection) cb = NULL;
  g_autoptr(GIOStream) server = NULL;
  g_autoptr(GIOStream) client = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timeout = NULL;
  SelfTest t = { NULL, cancellable, 2 };
  int fds[2];

  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return TRUE;   /* cannot check: the first client will tell */
  a = g_socket_new_from_fd (fds[0], NULL);
  b = g_socket_new_from_fd (fds[1], NULL);
  if (a == NULL || b == NULL)
    {
      if (a == NULL)
        close (fds[0]);
      if (b == NULL)
        close (fds[1]);
      return TRUE;
    }
  ca = g_socket_connection_factory_create_connection (a);
  cb = g_socket_connection_factory_create_connection (b);
  server = g_tls_server_connection_new (G_IO_STREAM (ca), certificate, error);
  if (server == NULL)
    return FALSE;
  client = g_tls_client_connection_new (G_IO_STREAM (cb), NULL, error);
  if (client == NULL)
    return FALSE;
  g_signal_connect (client, "accept-certificate", G_CALLBACK (accept_own), NULL);

  g_main_context_push_thread_default (context);
  timeout = g_timeout_source_new_seconds (5);
  g_source_set_callback (timeout, cancel_self_test, cancellable, NULL);
  g_source_attach (timeout, context);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (server), G_PRIORITY_DEFAULT, cancellable,
                                    on_self_handshake, &t);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client), G_PRIORITY_DEFAULT, cancellable,
                                    on_self_handshake, &t);
  while (t.pending > 0)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);

  if (t.error != NULL)
    {
      g_propagate_error (error, t.error);
      return FALSE;
    }
  return TRUE;
}

/* [server] tls-certificate= and tls-key=: both or neither. The key may
 * also be in the certificate's file (tls-key= then names the same file). */
static void
configure_tls (ThServer  *self,
               ThConfig  *config,
               GPtrArray *problems)
{
  g_autofree char *cert = th_config_get_string (config, "server", "tls-certificate", NULL);
  g_autofree char *key = th_config_get_string (config, "server", "tls-key", NULL);
  g_autofree char *cert_full = NULL;
  g_autofree char *key_full = NULL;
  g_autoptr(GError) error = NULL;
  gboolean has_cert = cert != NULL && cert[0] != '\0';
  gboolean has_key = key != NULL && key[0] != '\0';

  if (!has_cert && !has_key)
    return;
  if (has_cert != has_key)
    {
      g_ptr_array_add (problems, g_strdup_printf ("[server] %s: set without %s; give both tls-certificate= "
                                                  "(a PEM certificate, with its chain) and tls-key= (its PEM "
                                                  "private key), or neither for plain HTTP",
                                                  has_cert ? "tls-certificate" : "tls-key",
                                                  has_cert ? "tls-key" : "tls-certificate"));
      return;
    }
  cert_full = th_server_config_file (config, cert);
  key_full = th_server_config_file (config, key);
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_ptr_array_add (problems, g_strdup ("[server] tls-certificate: this GLib has no TLS backend; install "
                                           "glib-networking, or remove tls-certificate= and tls-key="));
      return;
    }
  self->tls_certificate = g_tls_certificate_new_from_files (cert_full, key_full, &error);
  if (self->tls_certificate != NULL && !tls_self_test (self->tls_certificate, &error))
    g_clear_object (&self->tls_certificate);
  if (self->tls_certificate == NULL)
    g_ptr_array_add (problems, g_strdup_printf ("[server] tls-certificate: cannot load %s with the key %s: %s; "
                                                "give a PEM certificate and the PEM private key that matches it",
                                                cert_full, key_full, error->message));
}

static gboolean
th_server_configure (ThSink  *sink,
                     GError **error)
{
  ThServer *self = TH_SERVER (sink);
  ThConfig *config = th_hub_get_config (self->hub);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *listen = th_config_get_string (config, "server", "listen", DEFAULT_LISTEN);
  g_auto(GStrv) origins = th_config_get_string_list (config, "server", "allowed-origins");
  gint64 v;
  double d;

  g_clear_pointer (&self->host, g_free);
  if (!parse_listen (listen, &self->host, &self->port))
    {
      g_ptr_array_add (problems,
                       g_strdup_printf ("[server] listen: “%s” is not HOST:PORT; use an IP address and a port "
                                        "from 0 to 65535, such as 127.0.0.1:5001 or [::1]:5001 (0 picks a free port)",
                                        listen));
      self->host = g_strdup ("127.0.0.1");
    }

  v = th_config_get_int (config, "server", "max-connections", DEFAULT_MAX_CONNECTIONS);
  if (v < 1 || v > 1000000)
    g_ptr_array_add (problems, g_strdup_printf ("[server] max-connections: %" G_GINT64_FORMAT
                                                " is out of range; give 1 to 1000000 (the default is %d)",
                                                v, DEFAULT_MAX_CONNECTIONS));
  self->max_connections = (guint) CLAMP (v, 1, 1000000);

  v = th_config_get_int (config, "server", "max-message", DEFAULT_MAX_MESSAGE);
  if (v < 64 || v > 16 * 1024 * 1024)
    g_ptr_array_add (problems, g_strdup_printf ("[server] max-message: %" G_GINT64_FORMAT
                                                " bytes is out of range; give 64 to 16777216 (the default is %d)",
                                                v, DEFAULT_MAX_MESSAGE));
  self->max_message = (gsize) CLAMP (v, 64, 16 * 1024 * 1024);

  d = th_config_get_double (config, "server", "rate-limit", DEFAULT_RATE_LIMIT);
  if (!(d >= 0) || d > 1e6)
    g_ptr_array_add (problems, g_strdup_printf ("[server] rate-limit: %g is out of range; give messages per "
                                                "second from 0 (no limit) to 1000000 (the default is %g)",
                                                d, DEFAULT_RATE_LIMIT));
  self->rate_limit = (d >= 0 && d <= 1e6) ? d : DEFAULT_RATE_LIMIT;

  g_clear_pointer (&self->allowed_origins, g_strfreev);
  if (origins != NULL && origins[0] != NULL)
    {
      for (guint i = 0; origins[i] != NULL; i++)
        {
          g_autoptr(GUri) uri = NULL;

          if (g_str_equal (origins[i], "*"))
            continue;
          uri = g_uri_parse (origins[i], G_URI_FLAGS_NONE, NULL);
          if (uri == NULL || g_uri_get_host (uri) == NULL ||
              (g_strcmp0 (g_uri_get_path (uri), "") != 0 && g_strcmp0 (g_uri_get_path (uri), "/") != 0))
            g_ptr_array_add (problems, g_strdup_printf ("[server] allowed-origins: “%s” is not an origin; "
                                                        "write it as a browser sends it, such as "
                                                        "https://example.com or http://localhost:8080",
                                                        origins[i]));
          else if (g_str_has_suffix (origins[i], "/"))
            origins[i][strlen (origins[i]) - 1] = '\0';
        }
      self->allowed_origins = g_steal_pointer (&origins);
    }

  d = th_config_get_double (config, "server", "status-interval", DEFAULT_STATUS_INTERVAL);
  if (d < 0.1 && d != 0)
    g_ptr_array_add (problems, g_strdup_printf ("[server] status-interval: %g s is too short; give at least 0.1 "
                                                "(or 0 for no system_status_update)", d));
  self->status_interval = d >= 0.1 ? d : (d == 0 ? 0 : DEFAULT_STATUS_INTERVAL);

  v = th_config_get_int (config, "server", "conflate-ms", 0);
  if (v < 0 || v > 60000)
    g_ptr_array_add (problems, g_strdup_printf ("[server] conflate-ms: %" G_GINT64_FORMAT
                                                " is out of range; give 0 (off) to 60000", v));
  self->conflate_ms = (guint) CLAMP (v, 0, 60000);

  v = th_config_get_int (config, "server", "client-buffer", DEFAULT_CLIENT_BUFFER);
  if (v < 4096 || v > G_GINT64_CONSTANT (1) << 32)
    g_ptr_array_add (problems, g_strdup_printf ("[server] client-buffer: %" G_GINT64_FORMAT
                                                " bytes is out of range; give 4096 to 4294967296 (the default is %d)",
                                                v, DEFAULT_CLIENT_BUFFER));
  self->client_buffer = (gsize) CLAMP (v, 4096, G_GINT64_CONSTANT (1) << 32);

  d = th_config_get_double (config, "server", "price-wait", DEFAULT_PRICE_WAIT);
  if (d > 30)
    g_ptr_array_add (problems, g_strdup_printf ("[server] price-wait: %g s is too long; give 0 to 30 "
                                                "(the default is %g)", d, DEFAULT_PRICE_WAIT));
  self->price_wait = CLAMP (d, 0, 30);

  g_clear_pointer (&self->auth, th_server_auth_free);
  self->auth = th_server_auth_new (config, problems);

  g_clear_object (&self->tls_certificate);
  configure_tls (self, config, problems);

  self->socketio = th_config_get_boolean (config, "server", "socketio", TRUE);
  d = th_config_get_double (config, "server", "ping-interval", DEFAULT_PING_INTERVAL);
  if (d < 0.05 || d > 3600)
    g_ptr_array_add (problems, g_strdup_printf ("[server] ping-interval: %g s is out of range; give 0.05 to 3600 "
                                                "(the default is %g, as socket.io's)", d, DEFAULT_PING_INTERVAL));
  self->ping_interval = (guint) (CLAMP (d, 0.05, 3600) * 1000);
  d = th_config_get_double (config, "server", "ping-timeout", DEFAULT_PING_TIMEOUT);
  if (d < 0.05 || d > 3600)
    g_ptr_array_add (problems, g_strdup_printf ("[server] ping-timeout: %g s is out of range; give 0.05 to 3600 "
                                                "(the default is %g, as socket.io's)", d, DEFAULT_PING_TIMEOUT));
  self->ping_timeout = (guint) (CLAMP (d, 0.05, 3600) * 1000);

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
th_server_get_price_waiters (ThServer *self)
{
  return self->price_waiters;
}

double
th_server_get_price_wait (ThServer *self)
{
  return self->price_wait;
}

/* Running */

static void
ws_handler (SoupServer        *soup,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  th_server_ws_handle (user_data, msg);
}

static void
th_server_start (ThSink *sink)
{
  ThServer *self = TH_SERVER (sink);
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  GSList *uris;

  if (self->started || self->stopped)
    return;
  self->started = TRUE;
  self->start_time = g_get_real_time ();

  self->soup = soup_server_new ("server-header", "tickhub/0.1 ",
                                "tls-certificate", self->tls_certificate,
                                NULL);
  soup_server_add_handler (self->soup, "/ws", ws_handler, self, NULL);
  if (self->socketio)
    th_server_sio_register (self->sio);
  th_server_rest_register (self);

  address = g_str_equal (self->host, "localhost")
    ? g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)
    : g_inet_address_new_from_string (self->host);
  sockaddr = g_inet_socket_address_new (address, self->port);
  if (!soup_server_listen (self->soup, sockaddr,
                           self->tls_certificate != NULL ? SOUP_SERVER_LISTEN_HTTPS : 0, &error))
    {
      g_warning ("server: cannot listen on %s:%u: %s; check [server] listen (another program may use the port)",
                 self->host, self->port, error->message);
      th_hub_request_quit (self->hub, 1);
      return;
    }

  uris = soup_server_get_uris (self->soup);
  if (uris != NULL)
    {
      g_autofree char *url = g_uri_to_string (uris->data);
      g_autofree char *ws_url = g_strconcat (self->tls_certificate != NULL ? "wss" : "ws", strchr (url, ':'), NULL);

      self->bound_port = (guint) g_uri_get_port (uris->data);
      g_message ("server: listening on %s (WebSocket at %sws,%s%s%s REST at %sapi/v1/, metrics at %smetrics)%s",
                 url, ws_url, self->socketio ? " Socket.IO at " : "", self->socketio ? url : "",
                 self->socketio ? "socket.io/," : "", url, url,
                 self->auth != NULL ? "; clients must authenticate" : "");
      g_object_notify (G_OBJECT (self), "port");
    }
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  if (self->status_interval > 0)
    {
      self->status_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) (self->status_interval * 1000),
                                            emit_status, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->status_id), "[server] status");
    }
  if (self->conflate_ms > 0)
    {
      self->conflate_id = g_timeout_add_full (G_PRIORITY_DEFAULT, self->conflate_ms, release_conflated, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->conflate_id), "[server] conflate");
    }
  th_server_auth_start (self->auth);
  sample_cpu (self);
}

static gsize
total_queued (ThServer *self)
{
  GHashTableIter iter;
  gpointer client;
  gsize total = 0;

  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, &client, NULL))
    total += ((ThServerClient *) client)->transport->get_queued (client);
  return total;
}

typedef struct
{
  gint64 deadline;
} FlushData;

static gboolean
flush_check (gpointer data)
{
  GTask *task = data;
  ThServer *self = g_task_get_source_object (task);
  FlushData *fd = g_task_get_task_data (task);

  if (g_task_return_error_if_cancelled (task))
    return G_SOURCE_REMOVE;
  if (self->stopped || total_queued (self) == 0 || g_get_monotonic_time () >= fd->deadline)
    {
      /* Clients that do not read are not waited for: a bound, not an error. */
      g_task_return_boolean (task, TRUE);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
th_server_flush_async (ThSink              *sink,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  ThServer *self = TH_SERVER (sink);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  FlushData *fd = g_new0 (FlushData, 1);
  GSource *source;

  g_task_set_source_tag (task, th_server_flush_async);
  g_task_set_name (task, "[server] flush");
  fd->deadline = g_get_monotonic_time () + FLUSH_BOUND_USEC;
  g_task_set_task_data (task, fd, g_free);

  /* Conflated updates go out now, and the writes are started at once. */
  if (self->conflate_ms > 0 && !self->stopped)
    release_conflated (self);
  if (self->flush_id != 0)
    {
      g_clear_handle_id (&self->flush_id, g_source_remove);
      flush_dirty (self);
    }
  if (flush_check (task) == G_SOURCE_REMOVE)
    return;

  source = g_timeout_source_new (10);
  g_source_set_static_name (source, "[server] flush wait");
  g_source_set_callback (source, flush_check, g_object_ref (task), g_object_unref);
  g_source_attach (source, g_task_get_context (task));
  g_source_unref (source);
}

static gboolean
th_server_flush_finish (ThSink        *sink,
                        GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, sink), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
th_server_stop (ThSink *sink)
{
  ThServer *self = TH_SERVER (sink);
  GList *clients;

  if (self->stopped)
    return;
  self->stopped = TRUE;

  g_clear_handle_id (&self->status_id, g_source_remove);
  g_clear_handle_id (&self->conflate_id, g_source_remove);
  th_server_rest_stop (self);

  /* Every client gets a close frame (1001 going away), written without
   * waiting: stop never waits for a client that does not read. */
  clients = g_hash_table_get_keys (self->clients);
  for (GList *l = clients; l != NULL; l = l->next)
    if (g_hash_table_contains (self->clients, l->data))
      ((ThServerClient *) l->data)->transport->close (l->data, 1001, "server stopping");
  g_list_free (clients);
  /* Socket.IO sessions that have not connected the namespace yet, and
   * the held polling requests. */
  th_server_sio_stop (self->sio);
  g_hash_table_remove_all (self->sio_cache);

  if (self->soup != NULL)
    soup_server_disconnect (self->soup);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->started)
    g_message ("server: stopped; %" G_GUINT64_FORMAT " connections served, %" G_GUINT64_FORMAT
               " messages sent, %" G_GUINT64_FORMAT " dropped",
               self->stats.connections, self->stats.sent_messages, self->stats.dropped);
}

static void
th_server_sink_init (ThSinkInterface *iface)
{
  iface->configure = th_server_configure;
  iface->start = th_server_start;
  iface->consume = th_server_consume;
  iface->flush_async = th_server_flush_async;
  iface->flush_finish = th_server_flush_finish;
  iface->stop = th_server_stop;
}

/* GObject */

static void
th_server_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  ThServer *self = TH_SERVER (object);

  switch (prop_id)
    {
    case PROP_PORT:
      g_value_set_uint (value, self->bound_port);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
th_server_dispose (GObject *object)
{
  ThServer *self = TH_SERVER (object);

  th_server_stop (TH_SINK (self));
  g_clear_object (&self->soup);

  G_OBJECT_CLASS (th_server_parent_class)->dispose (object);
}

static void
th_server_finalize (GObject *object)
{
  ThServer *self = TH_SERVER (object);

  g_hash_table_unref (self->clients);
  g_hash_table_unref (self->rooms);
  g_hash_table_unref (self->stats.events);
  g_hash_table_unref (self->sio_cache);
  th_server_sio_free (self->sio);
  g_ptr_array_unref (self->dirty);
  g_ptr_array_unref (self->price_waiters);
  g_strfreev (self->allowed_origins);
  g_free (self->host);
  th_server_auth_free (self->auth);
  g_clear_object (&self->tls_certificate);

  G_OBJECT_CLASS (th_server_parent_class)->finalize (object);
}

static void
th_server_class_init (ThServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = th_server_get_property;
  object_class->dispose = th_server_dispose;
  object_class->finalize = th_server_finalize;
  /* After get_property: "port" goes on to it. */
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThServer, hub));

  /**
   * ThServer:port:
   *
   * The TCP port the server listens on once started (useful with
   * `listen=127.0.0.1:0`); 0 before.
   */
  g_object_class_install_property (object_class, PROP_PORT,
    g_param_spec_uint ("port", NULL, NULL, 0, 65535, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY));
}

static void
th_server_class_finalize (ThServerClass *klass)
{
}

static void
th_server_init (ThServer *self)
{
  self->host = g_strdup ("127.0.0.1");
  self->port = 5001;
  self->max_connections = DEFAULT_MAX_CONNECTIONS;
  self->max_message = DEFAULT_MAX_MESSAGE;
  self->rate_limit = DEFAULT_RATE_LIMIT;
  self->status_interval = DEFAULT_STATUS_INTERVAL;
  self->client_buffer = DEFAULT_CLIENT_BUFFER;
  self->price_wait = DEFAULT_PRICE_WAIT;
  self->socketio = TRUE;
  self->ping_interval = (guint) (DEFAULT_PING_INTERVAL * 1000);
  self->ping_timeout = (guint) (DEFAULT_PING_TIMEOUT * 1000);
  self->sio = th_server_sio_new (self);
  self->sio_cache = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) th_event_unref, (GDestroyNotify) g_bytes_unref);
  self->clients = g_hash_table_new (NULL, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, room_free);
  self->stats.events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->dirty = g_ptr_array_new ();
  self->price_waiters = g_ptr_array_new ();
  for (guint i = 0; fixed_rooms[i] != NULL; i++)
    room_ensure (self, fixed_rooms[i], TRUE);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_server_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_SERVER);
}
