/* th-server.c: the server sink: config, lifecycle, routing, batching
 *
 * Clients join rooms; each event the hub hands to consume() goes to the
 * members of the rooms it belongs to, once per client even when the client
 * is in several of them, as the same GBytes the hub serialized:
 *
 *   financial_data_update        financial_data + symbol_<S>
 *   technical_indicators_update  technical_indicators + symbol_<S>
 *   candle_update                symbol_<S>
 *   price_source_changed         system_status + symbol_<S>
 *   price_divergence             system_status + symbol_<S>
 *   source_status                system_status
 *   error                        system_status + symbol_<S> when it names one
 *   system_status_update         system_status
 *
 * price_alert events (the alerts plugin) go to price_alerts and symbol_<S>.
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
#define WRITE_THROUGH_GAP_USEC  1000
#define DEFAULT_CONNECT_TIMEOUT 45.0    /* Socket.IO: from the open packet to CONNECT (socket.io's connectTimeout) */

enum {
  PROP_0,
  PROP_PORT,
};

static void th_server_sink_init (ThSinkInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThServer, th_server, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_server_sink_init))

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
  return self->n_admitted;
}

guint
th_server_count_pending (ThServer *self)
{
  return g_hash_table_size (self->clients) - self->n_admitted;
}

/* The clients that are in (not the Socket.IO sessions still to CONNECT). */
GList *
th_server_list_clients (ThServer *self)
{
  GList *list = NULL;
  GHashTableIter iter;
  gpointer client;

  g_hash_table_iter_init (&iter, self->clients);
  while (g_hash_table_iter_next (&iter, &client, NULL))
    if (((ThServerClient *) client)->admitted)
      list = g_list_prepend (list, client);
  return list;
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

GTlsCertificate *
th_server_get_tls_certificate (ThServer *self)
{
  return self->tls_certificate;
}

ThServerListen *
th_server_get_listen (ThServer *self)
{
  return self->listen;
}

ThWsPoller *
th_server_get_poller (ThServer *self)
{
  if (self->poller == NULL)
    self->poller = th_ws_poller_new ();
  return self->poller;
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

guint
th_server_get_connect_timeout (ThServer *self)
{
  return self->connect_timeout;
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

/* An event routed in a burst: queued to its clients by
 * th_server_deliver_pending, at the iteration's write pass. The room names
 * are interned (rooms may be freed meanwhile; names are compared). */
typedef struct
{
  ThEvent    *event;
  const char *room1;       /* interned, nullable */
  const char *room2;       /* interned, nullable */
  const char *conflate;
  gint64      routed_at;   /* monotonic µs */
} PendingEvent;

static void deliver (ThServer *self, ThServerClient *client, ThEvent *event,
                     const char *conflate, gint64 now);

static inline gboolean
in_room (ThServerClient *client,
         const char     *room)
{
  return room != NULL && g_hash_table_contains (client->rooms, room);
}

/* Whether a client of a pass is in a room of the pass, as the pass found
 * them: the room's bit, or (past 64 rooms in one pass) its name. */
typedef struct
{
  guint64  bit;
  gboolean by_name;
} PassRoom;

/* Adds the members of room @name to @targets, each once per pass, and
 * notes in each member the room's bit for this pass (in *@pr). */
static void
collect_members (ThServer   *self,
                 const char *name,
                 GPtrArray  *targets,
                 guint      *n_rooms,
                 PassRoom   *pr)
{
  Room *room = name != NULL ? g_hash_table_lookup (self->rooms, name) : NULL;
  GHashTableIter iter;
  gpointer value;

  *pr = (PassRoom) { 0, FALSE };
  if (room == NULL)
    return;
  if (room->pass_mark == self->pass_mark)
    {
      *pr = (PassRoom) { room->pass_bit, room->pass_bit == 0 };
      return;
    }
  room->pass_mark = self->pass_mark;
  room->pass_bit = *n_rooms < 64 ? G_GUINT64_CONSTANT (1) << *n_rooms : 0;
  (*n_rooms)++;
  *pr = (PassRoom) { room->pass_bit, room->pass_bit == 0 };
  g_hash_table_iter_init (&iter, room->members);
  while (g_hash_table_iter_next (&iter, &value, NULL))
    {
      ThServerClient *client = value;

      if (client->pass_mark != self->pass_mark)
        {
          client->pass_mark = self->pass_mark;
          client->pass_rooms = 0;
          g_ptr_array_add (targets, client);
        }
      client->pass_rooms |= room->pass_bit;
    }
}

static inline gboolean
in_pass_room (ThServerClient *client,
              const PassRoom *pr,
              const char     *name)
{
  return (client->pass_rooms & pr->bit) != 0 || (pr->by_name && in_room (client, name));
}

/* Queues the events of a burst to their clients: client by client, each
 * client's events in the order they were routed. One pass over the
 * clients for the whole burst, not one per event: with thousands of
 * clients, their memory is out of the CPU's caches by the time the next
 * event comes round, and visiting each once per event made the cost of a
 * delivery grow with the number of clients.
 *
 * Called before any room's membership changes (th-server-client.c), so a
 * client gets the events routed while it was in the room, as if they had
 * been queued at once. */
void
th_server_deliver_pending (ThServer *self)
{
  g_autoptr(GArray) pending = NULL;
  g_autoptr(GPtrArray) targets = NULL;
  g_autofree PassRoom *rooms = NULL;
  PendingEvent *pe;
  guint n_rooms = 0;

  if (self->pending_events->len == 0)
    return;
  /* Stolen first: a client that ends during the pass leaves its rooms,
   * which calls back here. */
  pending = g_steal_pointer (&self->pending_events);
  self->pending_events = g_array_new (FALSE, FALSE, sizeof (PendingEvent));
  pe = (PendingEvent *) (gpointer) pending->data;

  if (++self->pass_mark == 0)
    self->pass_mark = 1;
  targets = g_ptr_array_new ();
  /* Each client's rooms of the pass are bits noted as the rooms'
   * members are collected: the test per client and event below is a
   * mask, not two lookups of a room name in the client's own table (a
   * string hash and a cache miss per delivery, at 10,000 clients). */
  rooms = g_new (PassRoom, 2 * pending->len);
  for (guint i = 0; i < pending->len; i++)
    {
      collect_members (self, pe[i].room1, targets, &n_rooms, &rooms[2 * i]);
      collect_members (self, pe[i].room2, targets, &n_rooms, &rooms[2 * i + 1]);
    }

  for (guint t = 0; t < targets->len; t++)
    {
      ThServerClient *c = targets->pdata[t];

      /* A delivery may end a client, which is then freed: checked before
       * each client, and its loop stops once it is closing (a closing
       * client is freed only later). */
      if (!g_hash_table_contains (self->clients, c))
        continue;
      for (guint i = 0; i < pending->len && !c->closing; i++)
        if (in_pass_room (c, &rooms[2 * i], pe[i].room1) || in_pass_room (c, &rooms[2 * i + 1], pe[i].room2))
          deliver (self, c, pe[i].event, pe[i].conflate, pe[i].routed_at);
    }

  for (guint i = 0; i < pending->len; i++)
    th_event_unref (pe[i].event);
}

static void
clear_pending_events (ThServer *self)
{
  PendingEvent *pe = (PendingEvent *) (gpointer) self->pending_events->data;

  for (guint i = 0; i < self->pending_events->len; i++)
    th_event_unref (pe[i].event);
  g_array_set_size (self->pending_events, 0);
}

static gboolean
flush_dirty (gpointer data)
{
  ThServer *self = data;
  GPtrArray *dirty;

  /* The clients this makes dirty are written below: the pass it may
   * schedule (when called from th_server_flush_async) is not needed. As the
   * idle's callback, this removes the idle itself, which returns
   * G_SOURCE_REMOVE anyway. */
  th_server_deliver_pending (self);
  g_clear_handle_id (&self->flush_id, g_source_remove);
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
  if (dirty->len > 0)
    self->last_work_end = g_get_monotonic_time ();
  g_ptr_array_unref (dirty);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (ThServer *self)
{
  if (self->flush_id == 0)
    {
      self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT, flush_dirty, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->flush_id),
                                "[server] write");
    }
}

void
th_server_mark_dirty (ThServer       *self,
                      ThServerClient *client)
{
  if (client->in_dirty || client == self->writing_through)
    return;
  client->in_dirty = TRUE;
  g_ptr_array_add (self->dirty, client);
  schedule_flush (self);
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

  /* The client's own conflate_ms (set_options) comes first. */
  if (client->options != NULL && th_server_options_hold (client, event, conflate, now))
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

  /* An event on its own is written to each client as it is queued: the
   * first recipient does not wait for the queueing of the last. "On its
   * own" means the server has been idle for a millisecond: no fan-out work
   * ended in the last millisecond and no write pass is pending. Measured
   * from the end of the work, not the start of the last event: a write
   * through 10,000 clients takes tens of milliseconds, and the event that
   * waited meanwhile is part of a burst.
   *
   * Events in a burst are queued to their clients at the iteration's write
   * pass, all of them client by client (th_server_deliver_pending), and
   * written many frames per call. */
  if (self->conflate_ms > 0 || self->flush_id != 0 ||
      now - self->last_work_end <= WRITE_THROUGH_GAP_USEC)
    {
      PendingEvent pe = {
        th_event_ref (event),
        r1 != NULL ? r1->name : NULL,
        r2 != NULL ? r2->name : NULL,
        conflate,
        now,
      };

      /* Interned once per room (room names are few: the fixed ones and
       * one per configured symbol). */
      if (pe.room1 != NULL)
        pe.room1 = g_intern_string (pe.room1);
      if (pe.room2 != NULL)
        pe.room2 = g_intern_string (pe.room2);
      g_array_append_val (self->pending_events, pe);
      schedule_flush (self);
      return;
    }

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
    {
      ThServerClient *c = targets->pdata[i];

      if (!g_hash_table_contains (self->clients, c))
        continue;
      /* Queued and written at once: not left for the iteration's pass
       * over the dirty clients, unless some of it could not be written. */
      self->writing_through = c;
      deliver (self, c, event, conflate, now);
      self->writing_through = NULL;
      /* A write may end the client: checked again. */
      if (g_hash_table_contains (self->clients, c) && !c->in_dirty)
        {
          c->transport->flush (c);
          if (g_hash_table_contains (self->clients, c) && c->transport->get_queued (c) > 0)
            th_server_mark_dirty (self, c);
        }
    }
  /* The clock is read again only when the work may have been long. */
  self->last_work_end = targets->len > 64 ? g_get_monotonic_time () : now;
  g_ptr_array_unref (targets);
  /* Every Socket.IO recipient has its packet already. */
  g_hash_table_remove (self->sio_cache, event);
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
  else if (g_str_equal (name, "price_source_changed") || g_str_equal (name, "error") ||
           g_str_equal (name, "price_divergence"))
    route (self, event, "system_status", symbol_room, FALSE);
  else if (g_str_equal (name, "source_status") || g_str_equal (name, "system_status_update"))
    route (self, event, "system_status", NULL, FALSE);
  else if (g_str_equal (name, "price_alert"))
    route (self, event, "price_alerts", symbol_room, FALSE);
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

  th_server_listen_configure (self->listen, config, self->max_connections, problems);

  g_clear_pointer (&self->auth, th_server_auth_free);
  self->auth = th_server_auth_new (config, problems);

  g_clear_object (&self->tls_certificate);
  configure_tls (self, config, problems);

  self->socketio = th_config_get_boolean (config, "server", "socketio", TRUE);
  self->dashboard = th_config_get_boolean (config, "server", "dashboard", TRUE);
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
  d = th_config_get_double (config, "server", "connect-timeout", DEFAULT_CONNECT_TIMEOUT);
  if (d < 0.05 || d > 3600)
    g_ptr_array_add (problems, g_strdup_printf ("[server] connect-timeout: %g s is out of range; give 0.05 to 3600 "
                                                "(the default is %g)", d, DEFAULT_CONNECT_TIMEOUT));
  self->connect_timeout = (guint) (CLAMP (d, 0.05, 3600) * 1000);

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
  if (!th_server_listen_start (self->listen, sockaddr, &error))
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
  clear_pending_events (self);
  g_hash_table_remove_all (self->sio_cache);

  th_server_listen_stop (self->listen);
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
  th_server_listen_free (self->listen);
  th_ws_poller_free (self->poller);
  clear_pending_events (self);
  g_array_unref (self->pending_events);
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
  self->connect_timeout = (guint) (DEFAULT_CONNECT_TIMEOUT * 1000);
  self->sio = th_server_sio_new (self);
  self->listen = th_server_listen_new (self);
  self->sio_cache = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) th_event_unref, (GDestroyNotify) g_bytes_unref);
  self->clients = g_hash_table_new (NULL, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, th_server_room_free);
  self->stats.events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->dirty = g_ptr_array_new ();
  self->pending_events = g_array_new (FALSE, FALSE, sizeof (PendingEvent));
  self->price_waiters = g_ptr_array_new ();
  for (guint i = 0; th_server_fixed_rooms[i] != NULL; i++)
    th_server_room_ensure (self, th_server_fixed_rooms[i], TRUE);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_server_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_SERVER);
}
