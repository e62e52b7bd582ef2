/* th-server-sio.c: Socket.IO v4 (protocol 5) over Engine.IO 4 at /socket.io/
 *
 * What the socket.io 4 JS server speaks, so that an unmodified
 * socket.io-client or python-socketio connects:
 *
 * Engine.IO, one session per sid:
 *   GET  /socket.io/?EIO=4&transport=polling          the handshake: `0{"sid",
 *                                                      "upgrades","pingInterval","pingTimeout","maxPayload"}`
 *   GET  /socket.io/?EIO=4&transport=polling&sid=S    a long poll: held until something
 *                                                      is queued, answered with the packets
 *                                                      joined by \x1e; one at a time
 *   POST /socket.io/?EIO=4&transport=polling&sid=S    client packets, answered `ok`
 *   GET  /socket.io/?EIO=4&transport=websocket[&sid=S] a WebSocket, directly (the open
 *                                                      packet is its first frame) or as
 *                                                      the upgrade of a polling session:
 *                                                      2probe → 3probe, a noop (6) ends the
 *                                                      held poll, 5 switches
 *   The server pings (2) every ping-interval and closes a session whose
 *   pong (3) does not come within ping-timeout. Errors are the reference
 *   server's: HTTP 400 {"code":0..5,"message"} (403 for a forbidden origin).
 *
 * Socket.IO, inside Engine.IO message packets (4):
 *   40 / 40{auth}   connect the default namespace → 40{"sid"}, then the
 *                   `connected` event; auth.token (or the handshake's
 *                   Authorization: Bearer, or ?token=) goes through
 *                   th_server_auth_check(); refused: 44{"message":"unauthorized"}
 *   41              disconnect: the session ends
 *   42["ev",data]   an event, both ways; 42<id>["ev",data] is answered with
 *                   43<id>[reply] where reply is the data of the first event the
 *                   request produced (room_joined, symbol_subscribed,
 *                   server_status, pong or error), which is ALSO sent as an
 *                   event, as the Flask-SocketIO app did
 *   other namespaces → 44/nsp,{"message":"Invalid namespace"}; binary
 *   packets (45, 46) and malformed ones → an `error` event (bad_request),
 *   counted; the session stays.
 *
 * A session is a ThServerClient from its handshake on (listed, counted
 * against max-connections, closed on stop); it joins rooms only after the
 * namespace CONNECT. Events are turned into `42[...]` once per event
 * (th_server_sio_event_bytes) and the same GBytes is queued for every
 * Socket.IO client: in the WebSocket ring (th-server-ws.c) or in the
 * polling queue, whose response body is made of those same GBytes. The
 * per-client budget (th_server_client_admit) and conflation apply to both
 * transports; for polling, a response libsoup has not finished writing
 * still counts as queued.
 *
 * Why one file of about 1,500 lines: Engine.IO and Socket.IO here are one
 * state machine around one Session struct (handshake, held poll, upgrade
 * probe, heartbeat, namespace connect, acks): splitting it would expose
 * the session's fields to a second file for no reader's benefit. The
 * encoding of hub events as packets, the part the rest of the server
 * calls, is its own section ("Events as Socket.IO packets").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "th-server-private.h"

#define UPGRADE_TIMEOUT_MSEC  10000   /* socket.io's upgradeTimeout */
#define NOOP_CHECK_MSEC       100     /* engine.io's check while upgrading */
#define CLOSE_WAIT_MSEC       1000    /* polling: time to fetch the close packet */
#define POLL_MAX_PACKETS      16      /* packets per polling answer: python-engineio
                                       * clients refuse a payload of more (its
                                       * max_decode_packets) */
#define MAX_ACK_ID            G_GUINT64_CONSTANT (999999999999999)

/* The sessions' heartbeat and connect deadlines. A GSource per session
 * and deadline made every main-loop iteration walk all of them (GLib
 * prepares and checks each source of the context, every iteration): with
 * 10,000 sessions that was most of the cost of an iteration, paid again
 * by every iteration of a fan-out and of an accept batch, which /ws does
 * not pay. Each kind of deadline has one delay for every session, so a
 * FIFO of sessions kept in due order and one source woken at its head do
 * the same work in O(1) per session and per iteration. */
typedef struct
{
  GList  link;   /* .data: the Session; in a Deadlines queue while due != 0 */
  gint64 due;    /* monotonic µs, 0: not armed */
} Deadline;

typedef struct _Session Session;
typedef void (*DeadlineFunc) (Session *s);

typedef struct
{
  GSource       base;
  GQueue        queue;   /* Deadline links, earliest first */
  gsize         offset;  /* of the Deadline in Session */
  DeadlineFunc  fire;
} Deadlines;

struct _ThServerSio
{
  ThServer   *server;
  GHashTable *sessions;   /* sid → Session* (not owned: a session frees itself) */
  Deadlines  *ping;       /* the next ping (ping-interval) */
  Deadlines  *pong;       /* a ping's pong (ping-timeout) */
  Deadlines  *connect;    /* the namespace CONNECT (connect-timeout) */
};

typedef struct
{
  GBytes   *bytes;        /* one Engine.IO packet */
  const char *conflate;   /* interned key of a droppable update, or NULL */
  gint64    queued_at;    /* monotonic µs; 0 for replies and control packets */
} Packet;

struct _Session
{
  ThServerClient     base;
  ThServerSio       *sio;
  char              *sid;
  char              *token;        /* nullable: from the handshake request */
  gboolean           websocket;    /* the transport now: polling or websocket */
  gboolean           connected;    /* the namespace "/" is connected */
  gboolean           destroyed;
  guint              busy;         /* handling the client's input: the memory stays */
  gboolean           logged_bad;   /* a bad packet was logged (once per session) */
  guint              skip_binary;  /* attachments of a rejected binary packet */

  /* polling */
  GQueue             packets;      /* Packet* */
  gsize              queued;       /* their bytes, separators included */
  SoupServerMessage *poll;         /* the held GET (a reference) */
  gboolean           poll_paused;  /* held past its handler: unpause it to answer */
  SoupServerMessage *inflight;     /* an answered GET libsoup is writing (a reference) */
  gsize              inflight_bytes;
  guint              close_timer;

  /* websocket */
  ThWsConn          *ws;
  ThWsConn          *probe;        /* a websocket being tried for the upgrade */
  guint              upgrade_timer;
  guint              noop_timer;

  /* heartbeat (in ThServerSio's Deadlines queues) */
  Deadline           ping;
  Deadline           pong;
  Deadline           connect;       /* until the namespace CONNECT succeeds */
};

static void session_destroy (Session *s);
static void session_push    (Session *s, GBytes *bytes, const char *conflate, gint64 queued_at);
static void sio_close       (ThServerClient *client, guint16 code, const char *reason);
static void poll_answer     (Session *s);

static const ThWsConnCallbacks main_callbacks;
static const ThWsConnCallbacks probe_callbacks;

/* Deadlines */

static void
deadlines_wake (Deadlines *d)
{
  GList *head = g_queue_peek_head_link (&d->queue);

  g_source_set_ready_time (&d->base, head != NULL ? ((Deadline *) (gpointer) head)->due : -1);
}

static inline gboolean
deadline_armed (const Deadline *dl)
{
  return dl->due != 0;
}

static void
deadline_disarm (Deadlines *d,
                 Deadline  *dl)
{
  gboolean head;

  if (!deadline_armed (dl))
    return;
  head = g_queue_peek_head_link (&d->queue) == &dl->link;
  g_queue_unlink (&d->queue, &dl->link);
  dl->due = 0;
  if (head)
    deadlines_wake (d);
}

/* (Re)arms @s's deadline in @d, @msec from now. */
static void
deadline_arm (Deadlines *d,
              Session   *s,
              guint      msec)
{
  Deadline *dl = (Deadline *) (gpointer) ((char *) s + d->offset);
  GList *after;

  deadline_disarm (d, dl);
  dl->due = MAX (g_get_monotonic_time () + (gint64) msec * 1000, 1);
  dl->link.data = s;
  dl->link.prev = dl->link.next = NULL;
  /* Delays are the same for every session: the new one is almost always
   * the latest. */
  for (after = d->queue.tail; after != NULL && ((Deadline *) (gpointer) after)->due > dl->due; after = after->prev)
    ;
  if (after == NULL)
    g_queue_push_head_link (&d->queue, &dl->link);
  else if (after == d->queue.tail)
    g_queue_push_tail_link (&d->queue, &dl->link);
  else
    {
      dl->link.prev = after;
      dl->link.next = after->next;
      after->next->prev = &dl->link;
      after->next = &dl->link;
      d->queue.length++;
    }
  if (d->queue.head == &dl->link)
    deadlines_wake (d);
}

static gboolean
deadlines_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     data)
{
  Deadlines *d = (Deadlines *) source;
  gint64 now = g_get_monotonic_time ();
  GList *head;

  /* Fired one by one from the head: firing may arm or disarm others. */
  while ((head = g_queue_peek_head_link (&d->queue)) != NULL &&
         ((Deadline *) (gpointer) head)->due <= now)
    {
      Session *s = head->data;

      deadline_disarm (d, (Deadline *) (gpointer) head);
      d->fire (s);
    }
  deadlines_wake (d);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadlines_funcs = { NULL, NULL, deadlines_dispatch, NULL, NULL, NULL };

static Deadlines *
deadlines_new (gsize         offset,
               DeadlineFunc  fire,
               const char   *name)
{
  Deadlines *d = (Deadlines *) g_source_new (&deadlines_funcs, sizeof (Deadlines));

  g_queue_init (&d->queue);
  d->offset = offset;
  d->fire = fire;
  g_source_set_static_name (&d->base, name);
  g_source_set_ready_time (&d->base, -1);
  g_source_attach (&d->base, NULL);
  return d;
}

static void
deadlines_free (Deadlines *d)
{
  g_source_destroy (&d->base);
  g_source_unref (&d->base);
}

/* Helpers */

static char *
random_id (void)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char *id = g_malloc (21);

  for (guint i = 0; i < 20; i++)
    id[i] = alphabet[g_random_int_range (0, 64)];
  id[20] = '\0';
  return id;
}

static void
packet_free (Packet *p)
{
  g_bytes_unref (p->bytes);
  g_free (p);
}

static GBytes *
bytes_printf (const char *format,
              ...) G_GNUC_PRINTF (1, 2);

static GBytes *
bytes_printf (const char *format,
              ...)
{
  va_list args;
  char *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  return g_bytes_new_take (text, strlen (text));
}

/* An Engine.IO error, as the reference server answers it. */
static void
engine_error (ThServer          *server,
              SoupServerMessage *msg,
              guint              status,
              int                code,
              const char        *message)
{
  char *body = g_strdup_printf ("{\"code\":%d,\"message\":\"%s\"}", code, message);

  th_server_get_stats (server)->http_requests++;
  soup_server_message_set_status (msg, status, NULL);
  th_server_add_cors (server, msg);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, strlen (body));
}

static void
bad_packet (Session    *s,
            const char *message)
{
  ThServerStats *stats = th_server_get_stats (s->base.server);

  stats->sio_bad_packets++;
  if (!s->logged_bad)
    {
      s->logged_bad = TRUE;
      g_message ("server: Socket.IO client %s (%s): %s (logged once per client; counted in /metrics)",
                 s->base.id, s->base.remote, message);
    }
  else
    g_debug ("server: Socket.IO client %s: %s", s->base.id, message);
  if (s->connected)
    th_server_client_error (&s->base, "bad_request", message);
}

/* Events as Socket.IO packets */

#define SIO_CACHE_MAX           64

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

/* The transport */

static const char *
sio_get_name (ThServerClient *client)
{
  return ((Session *) client)->websocket ? "socket.io/websocket" : "socket.io/polling";
}

static gsize
sio_get_queued (ThServerClient *client)
{
  Session *s = (Session *) client;

  return (s->ws != NULL ? th_ws_conn_get_queued (s->ws) : s->queued) + s->inflight_bytes;
}

static guint
sio_drop (ThServerClient *client,
          const char     *incoming,
          ThDropMode      mode)
{
  Session *s = (Session *) client;
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  g_autoptr(GHashTable) later = g_hash_table_new (NULL, NULL);
  guint dropped = 0;
  GList *l;

  if (s->ws != NULL)
    return th_ws_conn_drop (s->ws, incoming, mode);
  /* From the newest: is a packet superseded by a later one of its key? */
  for (l = s->packets.tail; mode == TH_DROP_SUPERSEDED && l != NULL; l = l->prev)
    {
      Packet *p = l->data;

      if (p->conflate == NULL)
        continue;
      if (g_ptr_array_find (seen, p->conflate, NULL))
        g_hash_table_add (later, p);
      else
        g_ptr_array_add (seen, (gpointer) p->conflate);
    }
  l = s->packets.head;
  while (l != NULL)
    {
      GList *next = l->next;
      Packet *p = l->data;

      /* Control packets (ping, close) and replies stay. */
      if (p->queued_at > 0 &&
          th_server_drop_frame (p->conflate, g_hash_table_contains (later, p), incoming, mode))
        {
          s->queued -= g_bytes_get_size (p->bytes) + 1;
          packet_free (p);
          g_queue_delete_link (&s->packets, l);
          dropped++;
        }
      l = next;
    }
  return dropped;
}

static void
sio_send_event (ThServerClient *client,
                ThEvent        *event,
                const char     *conflate,
                gint64          queued_at)
{
  Session *s = (Session *) client;
  GBytes *bytes;

  if (client->closing || !s->connected)
    return;
  bytes = th_server_sio_event_bytes (client->server, event);
  if (!th_server_client_admit (client, g_bytes_get_size (bytes) + 10, conflate, queued_at))
    return;
  session_push (s, g_bytes_ref (bytes), conflate, queued_at);
}

static void
sio_send_text (ThServerClient *client,
               GBytes         *json)
{
  Session *s = (Session *) client;
  g_autoptr(GBytes) envelope = json;
  GBytes *packet;

  if (client->closing || !s->connected)
    return;
  packet = th_server_sio_encode_reply (envelope);
  if (packet == NULL)
    return;
  if (!th_server_client_admit_reply (client, g_bytes_get_size (packet) + 10))
    {
      g_bytes_unref (packet);
      return;
    }
  session_push (s, packet, NULL, 0);
}

/* A deferred ack: `43<id>[json]`, a reply that is never dropped. */
static void
sio_send_ack (ThServerClient *client,
              guint64         id,
              const char     *json,
              gsize           length)
{
  Session *s = (Session *) client;
  GString *packet;

  if (client->closing || !s->connected || s->destroyed)
    return;
  packet = g_string_sized_new (length + 24);
  g_string_append_printf (packet, "43%" G_GUINT64_FORMAT "[", id);
  g_string_append_len (packet, json, length);
  g_string_append_c (packet, ']');
  if (!th_server_client_admit_reply (client, packet->len + 10))
    {
      g_string_free (packet, TRUE);
      return;
    }
  session_push (s, g_string_free_to_bytes (packet), NULL, 0);
}

static void
sio_flush (ThServerClient *client)
{
  Session *s = (Session *) client;

  /* The probe first: flushing the main connection may end the session
   * (a failed probe only ends itself). */
  if (s->probe != NULL)
    th_ws_conn_flush (s->probe);
  if (s->ws != NULL)
    th_ws_conn_flush (s->ws);
  else if (s->poll != NULL && s->packets.length > 0)
    poll_answer (s);
}

static const ThServerTransport sio_transport = {
  .name = "socket.io",
  .send_event = sio_send_event,
  .send_text = sio_send_text,
  .close = sio_close,
  .get_queued = sio_get_queued,
  .drop = sio_drop,
  .flush = sio_flush,
  .get_name = sio_get_name,
  .send_ack = sio_send_ack,
};

/* Queues one Engine.IO packet (takes @bytes), whatever the transport. */
static void
session_push (Session  *s,
              GBytes   *bytes,
              const char *conflate,
              gint64    queued_at)
{
  Packet *p;

  if (s->ws != NULL)
    {
      th_ws_conn_push (s->ws, bytes, conflate, queued_at);
      return;
    }
  p = g_new0 (Packet, 1);
  p->bytes = bytes;
  p->conflate = conflate;
  p->queued_at = queued_at;
  if (s->queued == 0 && s->inflight_bytes == 0)
    s->base.last_progress = g_get_monotonic_time ();
  g_queue_push_tail (&s->packets, p);
  s->queued += g_bytes_get_size (bytes) + 1;
  th_server_mark_dirty (s->base.server, &s->base);
}

static void
session_push_static (Session    *s,
                     const char *packet)
{
  session_push (s, g_bytes_new_static (packet, strlen (packet)), NULL, 0);
}

/* Polling */

static void
on_inflight_finished (SoupServerMessage *msg,
                      gpointer           data)
{
  Session *s = data;

  g_signal_handlers_disconnect_by_data (msg, s);
  s->base.last_progress = g_get_monotonic_time ();
  s->inflight_bytes = 0;
  g_clear_object (&s->inflight);
}

static void
on_poll_gone (SoupServerMessage *msg,
              gpointer           data)
{
  Session *s = data;

  /* The held GET's connection is gone before we answered: the client
   * went away, or will poll again; the heartbeat decides. */
  g_signal_handlers_disconnect_by_data (msg, s);
  g_clear_object (&s->poll);
  s->poll_paused = FALSE;
}

/* Answers the held GET with what is queued, up to POLL_MAX_PACKETS, the
 * packets' own GBytes as the body's chunks; the rest goes to the next GET,
 * which is answered at once. */
static void
poll_answer (Session *s)
{
  ThServer *server = s->base.server;
  ThServerStats *stats = th_server_get_stats (server);
  SoupServerMessage *msg = g_steal_pointer (&s->poll);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gint64 now = g_get_monotonic_time ();
  gsize total = 0;
  Packet *p;

  g_signal_handlers_disconnect_by_data (msg, s);
  for (guint n = 0; n < POLL_MAX_PACKETS && (p = g_queue_pop_head (&s->packets)) != NULL; n++)
    {
      gsize size = g_bytes_get_size (p->bytes);

      s->queued -= size + 1;

      if (total > 0)
        soup_message_body_append (body, SOUP_MEMORY_STATIC, "\x1e", 1);
      soup_message_body_append_bytes (body, p->bytes);
      total += size + (total > 0);
      if (p->queued_at > 0)
        {
          stats->sent_messages++;
          stats->sent_bytes += size + 1;
          s->base.sent_messages++;
          s->base.sent_bytes += size + 1;
          th_server_observe_latency (stats, now - p->queued_at);
        }
      packet_free (p);
    }
  soup_message_body_complete (body);
  stats->http_requests++;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (headers, "Content-Type", "text/plain; charset=UTF-8");
  soup_message_headers_set_content_length (headers, total);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  th_server_add_cors (server, msg);

  /* Until libsoup has written it, the response still counts against the
   * client's budget. */
  if (s->inflight != NULL)
    {
      g_signal_handlers_disconnect_by_data (s->inflight, s);
      g_clear_object (&s->inflight);
    }
  s->inflight = msg;
  s->inflight_bytes = total;
  g_signal_connect (msg, "finished", G_CALLBACK (on_inflight_finished), s);
  /* Answered inside its handler, a request is not paused (and must not
   * be unpaused there). */
  if (s->poll_paused)
    soup_server_message_unpause (msg);
  s->poll_paused = FALSE;
}

static gboolean
close_wait_done (gpointer data)
{
  Session *s = data;

  s->close_timer = 0;
  session_destroy (s);
  return G_SOURCE_REMOVE;
}

/* Heartbeat */

static void
pong_missed (Session *s)
{
  g_autofree char *why = g_strdup_printf ("no pong within ping-timeout (%u ms)",
                                          th_server_get_ping_timeout (s->base.server));

  th_server_get_stats (s->base.server)->sio_timeouts++;
  g_message ("server: Socket.IO client %s (%s): %s; closing it", s->base.id, s->base.remote, why);
  sio_close (&s->base, 1000, "ping timeout");
}

static void
schedule_ping (Session *s)
{
  deadline_arm (s->sio->ping, s, th_server_get_ping_interval (s->base.server));
}

static void
send_ping (Session *s)
{
  session_push_static (s, "2");
  if (!deadline_armed (&s->pong))
    deadline_arm (s->sio->pong, s, th_server_get_ping_timeout (s->base.server));
}

static void
got_pong (Session *s)
{
  if (!deadline_armed (&s->pong))
    return;   /* not asked for: ignored, as the reference does */
  deadline_disarm (s->sio->pong, &s->pong);
  schedule_ping (s);
}

static void
session_disarm (Session *s)
{
  deadline_disarm (s->sio->ping, &s->ping);
  deadline_disarm (s->sio->pong, &s->pong);
  deadline_disarm (s->sio->connect, &s->connect);
}

/* Closing */

static void
sio_close (ThServerClient *client,
           guint16         code,
           const char     *reason)
{
  Session *s = (Session *) client;

  if (s->destroyed || client->closing)
    {
      /* Stopping while a polling session waits for its close packet to
       * be fetched: the end, now. */
      if (!s->destroyed && th_server_is_stopped (client->server) && s->close_timer != 0)
        session_destroy (s);
      return;
    }
  client->closing = TRUE;
  session_disarm (s);
  if (s->probe != NULL)
    th_ws_conn_destroy (s->probe);

  /* Over the rate limit, the client is told it was disconnected on
   * purpose (41): socket.io clients then do not reconnect by themselves.
   * Other closes (stop, too slow, ping timeout) let them reconnect. */
  if (code == 1008 && s->connected)
    session_push_static (s, "41");
  else if (code == 1008)
    session_push_static (s, "44{\"message\":\"rate limit exceeded\"}");

  if (s->ws != NULL)
    {
      th_ws_conn_close (s->ws, code, reason);   /* the session ends with it */
      return;
    }

  /* Polling: the close packet goes to the held GET, or to the next one
   * if it comes soon; in one answer, so the oldest updates make room (the
   * client is leaving). */
  session_push_static (s, "1");
  while (s->packets.length > POLL_MAX_PACKETS)
    {
      Packet *old = g_queue_pop_head (&s->packets);

      s->queued -= g_bytes_get_size (old->bytes) + 1;
      if (old->queued_at > 0)
        {
          th_server_get_stats (client->server)->dropped++;
          client->dropped++;
        }
      packet_free (old);
    }
  if (s->poll != NULL || th_server_is_stopped (client->server))
    {
      if (s->poll != NULL)
        poll_answer (s);
      session_destroy (s);
      return;
    }
  s->close_timer = g_timeout_add (CLOSE_WAIT_MSEC, close_wait_done, s);
}

static void
session_destroy (Session *s)
{
  ThServer *server = s->base.server;

  if (s->destroyed)
    return;
  s->destroyed = TRUE;
  s->base.closing = TRUE;

  g_hash_table_remove (s->sio->sessions, s->sid);
  th_server_client_gone (server, &s->base);
  session_disarm (s);
  g_clear_handle_id (&s->close_timer, g_source_remove);
  g_clear_handle_id (&s->upgrade_timer, g_source_remove);
  g_clear_handle_id (&s->noop_timer, g_source_remove);
  if (s->probe != NULL)
    th_ws_conn_destroy (s->probe);
  if (s->ws != NULL)
    th_ws_conn_destroy (s->ws);   /* gone() sees s->destroyed */
  if (s->poll != NULL)
    {
      /* A GET still held: it gets the close packet. */
      g_queue_free_full (&s->packets, (GDestroyNotify) packet_free);
      g_queue_init (&s->packets);
      session_push_static (s, "1");
      poll_answer (s);
    }
  if (s->inflight != NULL)
    {
      g_signal_handlers_disconnect_by_data (s->inflight, s);
      g_clear_object (&s->inflight);
    }
  g_queue_clear_full (&s->packets, (GDestroyNotify) packet_free);
  g_clear_pointer (&s->sid, g_free);
  g_clear_pointer (&s->token, g_free);
  if (s->busy == 0)
    g_free (s);
}

/* Around the handling of client input, which may end the session: its
 * memory goes once the handling is over. */
static void
session_hold (Session *s)
{
  s->busy++;
}

static void
session_release (Session *s)
{
  if (--s->busy == 0 && s->destroyed)
    g_free (s);
}

/* Socket.IO packets */

/* `43<id>[reply]` */
static void
send_ack (Session  *s,
          guint64   id,
          JsonNode *reply)
{
  g_autofree char *text = g_steal_pointer (&s->base.ack_raw);

  if (reply != NULL && text == NULL)
    text = th_json_to_string (reply, NULL);
  if (s->base.closing)
    return;
  session_push (s, bytes_printf ("43%" G_GUINT64_FORMAT "[%s]", id, text != NULL ? text : "null"), NULL, 0);
}

static void
handle_connect (Session    *s,
                const char *payload,
                gsize       len)
{
  ThServer *server = s->base.server;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *token = NULL;

  if (len > 0)
    {
      JsonNode *root;
      JsonNode *t;

      parser = json_parser_new_immutable ();
      if (!th_json_parser_load (parser, payload, (gssize) len, NULL) ||
          (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
        {
          bad_packet (s, "the CONNECT payload (auth) is not a JSON object");
          session_push_static (s, "44{\"message\":\"the auth payload must be a JSON object\"}");
          return;
        }
      t = json_object_get_member (json_node_get_object (root), "token");
      if (t != NULL && json_node_get_value_type (t) == G_TYPE_STRING)
        token = g_strdup (json_node_get_string (t));
    }
  if (token == NULL)
    token = g_strdup (s->token);

  /* Refusals are logged (rate-limited, with the reason) by the auth code. */
  if (!th_server_auth_check (server, token, "a Socket.IO connect", s->base.remote))
    {
      th_server_get_stats (server)->sio_unauthorized++;
      session_push_static (s, "44{\"message\":\"unauthorized\"}");
      return;
    }
  g_clear_pointer (&s->base.owner, g_free);
  th_server_auth_identify (server, token, &s->base.owner, &s->base.admin);

  if (!s->connected)
    {
      g_autofree char *sid = random_id ();

      if (!th_server_client_admit_pending (server, &s->base))
        {
          g_autofree char *text = g_strdup_printf ("44{\"message\":\"the server has its maximum of %u connections "
                                                   "([server] max-connections); try again later\"}",
                                                   th_server_get_max_connections (server));

          session_push (s, g_bytes_new_take (g_steal_pointer (&text), strlen (text)), NULL, 0);
          sio_close (&s->base, 1000, "too many connections");
          return;
        }
      deadline_disarm (s->sio->connect, &s->connect);
      s->connected = TRUE;
      session_push (s, bytes_printf ("40{\"sid\":\"%s\"}", sid), NULL, 0);
      th_server_client_welcome (&s->base);
      /* Connected: read with the other clients from now on (the answer
       * still goes out at once, from the handshake dispatch). */
      if (s->ws != NULL)
        th_ws_conn_set_handshake (s->ws, FALSE);
    }
}

static void
handle_event (Session    *s,
              const char *p,
              const char *end)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(JsonNode) ack = NULL;
  gboolean has_id = FALSE;
  guint64 id = 0;
  JsonNode *root;
  JsonArray *array;
  JsonNode *name;

  while (p < end && g_ascii_isdigit (*p))
    {
      has_id = TRUE;
      id = id * 10 + (guint64) (*p - '0');
      p++;
      if (id > MAX_ACK_ID)
        {
          bad_packet (s, "an ack id is too long");
          return;
        }
    }

  /* Whatever happens below, the first reply is the ack's answer, unless
   * the handler answers later (get_history: ack_deferred). */
  s->base.ack = has_id ? &ack : NULL;
  s->base.ack_id = id;
  s->base.ack_deferred = FALSE;
  parser = json_parser_new_immutable ();
  if (!th_json_parser_load (parser, p, end - p, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_ARRAY (root) ||
      json_array_get_length (array = json_node_get_array (root)) == 0 ||
      json_node_get_value_type (name = json_array_get_element (array, 0)) != G_TYPE_STRING)
    bad_packet (s, "a Socket.IO event is 42[\"name\", data] (42<id>[...] with an ack)");
  else
    {
      s->base.raw_data = th_server_json_element_raw (p, end - p, 1, &s->base.raw_data_len);
      th_server_client_dispatch (&s->base, json_node_get_string (name),
                                 json_array_get_length (array) > 1 ? json_array_get_element (array, 1) : NULL);
      s->base.raw_data = NULL;
    }
  s->base.ack = NULL;
  if (has_id && !s->destroyed && !s->base.ack_deferred)
    send_ack (s, id, ack);
  s->base.ack_deferred = FALSE;
}

/* A Socket.IO packet, the payload of an Engine.IO message. */
static void
handle_sio_packet (Session    *s,
                   const char *data,
                   gsize       len)
{
  const char *p = data + 1;
  const char *end = data + len;
  g_autofree char *nsp = NULL;
  char type;

  /* Every Socket.IO packet counts against the rate limit (CONNECTs with
   * bad tokens included); Engine.IO pongs do not. */
  if (!th_server_client_take_token (&s->base))
    return;
  if (len == 0)
    {
      bad_packet (s, "an empty Socket.IO packet");
      return;
    }
  type = data[0];

  if (type == '5' || type == '6')
    {
      /* 45<n>-...: n attachments follow as binary frames (or b packets
       * when polling); they are skipped without more errors. */
      guint64 n = 0;

      while (p < end && g_ascii_isdigit (*p) && n < 1000)
        n = n * 10 + (guint64) (*p++ - '0');
      s->skip_binary = (guint) n;
      bad_packet (s, "binary Socket.IO packets are not supported; send JSON");
      return;
    }

  /* The namespace: "/" unless the packet names another. */
  if (p < end && *p == '/')
    {
      const char *comma = memchr (p, ',', end - p);
      const char *stop = comma != NULL ? comma : end;

      nsp = g_strndup (p, stop - p);
      p = comma != NULL ? comma + 1 : end;
    }
  if (nsp != NULL && !g_str_equal (nsp, "/"))
    {
      g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), nsp);
      g_autofree char *quoted = th_json_to_string (node, NULL);
      g_autofree char *inner = g_strndup (quoted + 1, strlen (quoted) - 2);

      bad_packet (s, "only the default namespace “/” exists");
      if (type == '0' && strchr (nsp, ',') == NULL)
        session_push (s, bytes_printf ("44%s,{\"message\":\"Invalid namespace\"}", inner), NULL, 0);
      return;
    }

  switch (type)
    {
    case '0':
      handle_connect (s, p, end - p);
      break;
    case '1':
      g_debug ("server: Socket.IO client %s disconnected the namespace", s->base.id);
      sio_close (&s->base, 1000, "namespace disconnect");
      break;
    case '2':
      if (!s->connected)
        {
          /* Nothing but CONNECT is taken before it: the session ends. */
          bad_packet (s, "an event before the namespace CONNECT (40)");
          session_push_static (s, "44{\"message\":\"not connected: send a CONNECT packet (40) first\"}");
          sio_close (&s->base, 1002, "an event before CONNECT");
          return;
        }
      handle_event (s, p, end);
      break;
    case '3':
      g_debug ("server: Socket.IO client %s: an ack the server did not ask for; ignored", s->base.id);
      break;
    default:
      bad_packet (s, "an unknown Socket.IO packet type");
    }
}

/* An Engine.IO packet from the client, on the session's transport. */
static void
handle_engine_packet (Session    *s,
                      const char *data,
                      gsize       len)
{
  if (s->destroyed || s->base.closing)
    return;
  if (len == 0)
    {
      bad_packet (s, "an empty Engine.IO packet");
      return;
    }
  switch (data[0])
    {
    case '4':
      handle_sio_packet (s, data + 1, len - 1);
      break;
    case '3':
      got_pong (s);
      break;
    case '2':
      /* Clients of Engine.IO 4 do not ping; answered all the same. */
      session_push (s, bytes_printf ("3%.*s", (int) MIN (len - 1, 64), data + 1), NULL, 0);
      break;
    case '1':
      g_debug ("server: Socket.IO client %s closed its session", s->base.id);
      sio_close (&s->base, 1000, "client closed");
      break;
    case '6':
      break;
    case 'b':
      if (s->skip_binary > 0)
        s->skip_binary--;
      else
        bad_packet (s, "binary packets are not supported; send JSON");
      break;
    default:
      bad_packet (s, "an unknown Engine.IO packet type");
    }
}

/* WebSocket callbacks */

static void
on_main_message (ThWsConn   *conn,
                 gboolean    binary,
                 const char *data,
                 gsize       len,
                 gpointer    user_data)
{
  Session *s = user_data;

  if (binary)
    {
      if (s->skip_binary > 0)
        s->skip_binary--;
      else
        bad_packet (s, "binary frames are not supported; send JSON text");
      return;
    }
  session_hold (s);
  handle_engine_packet (s, data, len);
  session_release (s);
}

static void
on_main_close (ThWsConn   *conn,
               guint16     code,
               const char *reason,
               gpointer    user_data)
{
  Session *s = user_data;

  if (s->base.closing)
    th_ws_conn_close (conn, code, reason);
  else
    sio_close (&s->base, code, reason);
}

static void
on_main_gone (ThWsConn *conn,
              gpointer  user_data)
{
  Session *s = user_data;

  s->ws = NULL;
  session_destroy (s);
}

static const ThWsConnCallbacks main_callbacks = {
  .message = on_main_message,
  .close = on_main_close,
  .gone = on_main_gone,
};

static gboolean
noop_check (gpointer data)
{
  Session *s = data;

  /* A held GET ends with a noop, so that the client can pause polling
   * and send the upgrade packet. */
  if (s->poll != NULL)
    {
      session_push_static (s, "6");
      poll_answer (s);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
upgrade_timeout (gpointer data)
{
  Session *s = data;

  s->upgrade_timer = 0;
  g_debug ("server: Socket.IO client %s: no upgrade within %d ms; the probe is closed",
           s->base.id, UPGRADE_TIMEOUT_MSEC);
  if (s->probe != NULL)
    th_ws_conn_destroy (s->probe);
  return G_SOURCE_REMOVE;
}

static void
upgrade (Session *s)
{
  Packet *p;

  g_clear_handle_id (&s->upgrade_timer, g_source_remove);
  g_clear_handle_id (&s->noop_timer, g_source_remove);
  if (s->poll != NULL)
    {
      /* The client paused polling before upgrading; a GET still held gets
       * a noop, and what is queued goes to the WebSocket. */
      GQueue rest = s->packets;
      gsize rest_queued = s->queued;

      g_queue_init (&s->packets);
      s->queued = 0;
      session_push_static (s, "6");
      poll_answer (s);
      s->packets = rest;
      s->queued = rest_queued;
    }
  s->ws = g_steal_pointer (&s->probe);
  th_ws_conn_set_owner (s->ws, &s->base, &main_callbacks, s);
  s->websocket = TRUE;
  while ((p = g_queue_pop_head (&s->packets)) != NULL)
    {
      th_ws_conn_push (s->ws, g_bytes_ref (p->bytes), p->conflate, p->queued_at);
      packet_free (p);
    }
  s->queued = 0;
  g_debug ("server: Socket.IO client %s upgraded to websocket", s->base.id);
}

static void
on_probe_message (ThWsConn   *conn,
                  gboolean    binary,
                  const char *data,
                  gsize       len,
                  gpointer    user_data)
{
  Session *s = user_data;

  if (s->base.closing || s->destroyed)
    return;
  if (!binary && len == 6 && memcmp (data, "2probe", 6) == 0)
    {
      th_ws_conn_push (conn, g_bytes_new_static ("3probe", 6), NULL, 0);
      if (s->noop_timer == 0)
        s->noop_timer = g_timeout_add (NOOP_CHECK_MSEC, noop_check, s);
      noop_check (s);
    }
  else if (!binary && len == 1 && data[0] == '5')
    upgrade (s);
  else
    {
      /* As the reference: anything else ends the probe. */
      g_debug ("server: Socket.IO client %s: unexpected packet on the upgrade probe", s->base.id);
      th_ws_conn_close (conn, 1002, "unexpected packet during the upgrade");
    }
}

static void
on_probe_close (ThWsConn   *conn,
                guint16     code,
                const char *reason,
                gpointer    user_data)
{
  th_ws_conn_close (conn, code, reason);
}

static void
on_probe_gone (ThWsConn *conn,
               gpointer  user_data)
{
  Session *s = user_data;

  if (s->probe == conn)
    {
      s->probe = NULL;
      g_clear_handle_id (&s->upgrade_timer, g_source_remove);
      g_clear_handle_id (&s->noop_timer, g_source_remove);
    }
}

static const ThWsConnCallbacks probe_callbacks = {
  .message = on_probe_message,
  .close = on_probe_close,
  .gone = on_probe_gone,
};

/* Sessions */

/* A session gets connect-timeout from its open packet to a successful
 * namespace CONNECT (a refused one does not count): it holds no
 * max-connections slot meanwhile, but it holds memory, and a socket with
 * the websocket transport. */
static void
connect_missed (Session *s)
{
  th_server_get_stats (s->base.server)->sio_connect_timeouts++;
  g_debug ("server: Socket.IO session %s (%s) did not connect the namespace in time; closing it",
           s->sid, s->base.remote);
  sio_close (&s->base, 1000, "no namespace CONNECT in time");
}

static Session *
session_new (ThServerSio *sio,
             const char  *remote,
             const char  *origin,
             const char  *token,
             gboolean     websocket)
{
  Session *s = g_new0 (Session, 1);

  th_server_client_init (sio->server, &s->base, &sio_transport, remote, origin);
  s->sio = sio;
  s->sid = random_id ();
  s->token = g_strdup (token);
  s->websocket = websocket;
  s->base.last_progress = g_get_monotonic_time ();
  g_queue_init (&s->packets);
  g_hash_table_insert (sio->sessions, s->sid, s);
  deadline_arm (sio->connect, s, th_server_get_connect_timeout (sio->server));
  return s;
}

static GBytes *
open_packet (Session  *s,
             gboolean  upgrades)
{
  ThServer *server = s->base.server;

  return bytes_printf ("0{\"sid\":\"%s\",\"upgrades\":[%s],\"pingInterval\":%u,\"pingTimeout\":%u,"
                       "\"maxPayload\":%" G_GSIZE_FORMAT "}",
                       s->sid, upgrades ? "\"websocket\"" : "",
                       th_server_get_ping_interval (server), th_server_get_ping_timeout (server),
                       th_server_get_max_message (server));
}

typedef struct
{
  ThServerSio *sio;
  char        *sid;      /* nullable: a new session */
  char        *remote;
  char        *origin;
  char        *token;
} Accept;

static void
accept_free (gpointer data)
{
  Accept *a = data;

  g_free (a->sid);
  g_free (a->remote);
  g_free (a->origin);
  g_free (a->token);
  g_free (a);
}

static void
ws_accepted (ThServer  *server,
             GIOStream *stream,
             gpointer   data)
{
  Accept *a = data;
  Session *s;

  if (a->sid != NULL)
    {
      /* The upgrade of a polling session, still there and not upgrading. */
      s = g_hash_table_lookup (a->sio->sessions, a->sid);
      if (s == NULL || s->websocket || s->probe != NULL || s->base.closing)
        {
          g_io_stream_close (stream, NULL, NULL);
          return;
        }
      s->probe = th_ws_conn_new (&s->base, stream, &probe_callbacks, s);
      if (s->probe != NULL)
        s->upgrade_timer = g_timeout_add (UPGRADE_TIMEOUT_MSEC, upgrade_timeout, s);
      return;
    }

  s = session_new (a->sio, a->remote, a->origin, a->token, TRUE);
  s->ws = th_ws_conn_new (&s->base, stream, &main_callbacks, s);
  if (s->ws == NULL)
    {
      session_destroy (s);
      return;
    }
  th_server_client_register_pending (server, &s->base);
  th_ws_conn_push (s->ws, open_packet (s, FALSE), NULL, 0);
  schedule_ping (s);
  /* The client answers the open packet with its CONNECT (40): both go
   * before the fan-out, the open packet now (the last use of s here: a
   * failed write ends the session). */
  th_ws_conn_set_handshake (s->ws, TRUE);
  th_ws_conn_flush (s->ws);
}

/* HTTP */

static char *
request_token (SoupServerMessage *msg,
               GHashTable        *query)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Authorization");
  const char *token = query != NULL ? g_hash_table_lookup (query, "token") : NULL;

  if (auth != NULL && g_ascii_strncasecmp (auth, "Bearer ", 7) == 0)
    return g_strstrip (g_strdup (auth + 7));
  return g_strdup (token);
}

static void
answer_ok (ThServer          *server,
           SoupServerMessage *msg)
{
  th_server_get_stats (server)->http_requests++;
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  th_server_add_cors (server, msg);
  soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC, "ok", 2);
}

static void
handle_post (Session           *s,
             SoupServerMessage *msg)
{
  ThServer *server = s->base.server;
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  gsize len;
  const char *data = g_bytes_get_data (body, &len);
  const char *p = data;
  const char *end = data + len;

  if (len > th_server_get_max_message (server))
    {
      th_server_get_stats (server)->disconnects_size++;
      g_message ("server: Socket.IO client %s (%s) posted %" G_GSIZE_FORMAT " bytes, over max-message; closing it",
                 s->base.id, s->base.remote, len);
      engine_error (server, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, 3, "Bad request");
      sio_close (&s->base, 1009, "message too big");
      return;
    }
  if (!g_utf8_validate_len (data, len, NULL))
    {
      bad_packet (s, "a POST body that is not UTF-8");
      engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
      return;
    }
  answer_ok (server, msg);
  /* Packets are separated by \x1e (a record separator, never in JSON text). */
  session_hold (s);
  while (p <= end && !s->destroyed && !s->base.closing)
    {
      const char *sep = memchr (p, '\x1e', end - p);
      const char *stop = sep != NULL ? sep : end;

      handle_engine_packet (s, p, stop - p);
      if (sep == NULL)
        break;
      p = sep + 1;
    }
  session_release (s);
}

static void
handle_poll (Session           *s,
             SoupServerMessage *msg)
{
  if (s->poll != NULL)
    {
      /* As the reference: a second GET is an error, and the session ends
       * (the held one gets the close packet). */
      g_message ("server: Socket.IO client %s (%s) sent a second long poll while one is open; closing it",
                 s->base.id, s->base.remote);
      th_server_get_stats (s->base.server)->sio_bad_packets++;
      engine_error (s->base.server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
      sio_close (&s->base, 1002, "overlapping polls");
      return;
    }
  s->poll = g_object_ref (msg);
  if (s->packets.length > 0)
    poll_answer (s);
  else
    {
      g_signal_connect (msg, "disconnected", G_CALLBACK (on_poll_gone), s);
      soup_server_message_pause (msg);
      s->poll_paused = TRUE;
    }
  /* Closing: it took the close packet, and the session ends. */
  if (s->base.closing && s->close_timer != 0)
    session_destroy (s);
}

static void
sio_handler (SoupServer        *soup,
             SoupServerMessage *msg,
             const char        *path,
             GHashTable        *query,
             gpointer           user_data)
{
  ThServerSio *sio = user_data;
  ThServer *server = sio->server;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (req, "Origin");
  const char *eio = query != NULL ? g_hash_table_lookup (query, "EIO") : NULL;
  const char *transport = query != NULL ? g_hash_table_lookup (query, "transport") : NULL;
  const char *sid = query != NULL ? g_hash_table_lookup (query, "sid") : NULL;
  gboolean upgrade_request = soup_message_headers_header_contains (req, "Upgrade", "websocket");
  Session *s = NULL;

  if (!g_str_equal (path, "/socket.io/") && !g_str_equal (path, "/socket.io"))
    {
      th_server_send_error (server, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such endpoint");
      return;
    }
  if (method == SOUP_METHOD_OPTIONS)
    {
      SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);

      th_server_get_stats (server)->http_requests++;
      if (origin != NULL && !th_server_origin_allowed (server, origin))
        {
          engine_error (server, msg, SOUP_STATUS_FORBIDDEN, 4, "Forbidden");
          return;
        }
      th_server_add_cors (server, msg);
      soup_message_headers_replace (resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      soup_message_headers_replace (resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
      soup_message_headers_replace (resp, "Access-Control-Max-Age", "600");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }

  /* The reference server's checks, in its order. */
  if (transport == NULL || (!g_str_equal (transport, "polling") && !g_str_equal (transport, "websocket")))
    {
      engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 0, "Transport unknown");
      return;
    }
  if (origin != NULL && !th_server_origin_allowed (server, origin))
    {
      th_server_get_stats (server)->refused++;
      g_message ("server: refused a Socket.IO request from %s: origin “%s” is not in [server] allowed-origins",
                 soup_server_message_get_remote_host (msg), origin);
      engine_error (server, msg, SOUP_STATUS_FORBIDDEN, 4, "Forbidden");
      return;
    }
  if (g_strcmp0 (eio, "4") != 0)
    {
      engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 5, "Unsupported protocol version");
      return;
    }

  if (sid != NULL)
    {
      s = g_hash_table_lookup (sio->sessions, sid);
      if (s == NULL || s->base.closing)
        {
          if (s != NULL && !s->websocket && method == SOUP_METHOD_GET)
            {
              handle_poll (s, msg);   /* the close packet */
              return;
            }
          engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 1, "Session ID unknown");
          return;
        }
      if (g_str_equal (transport, "websocket"))
        {
          Accept *a;

          if (!upgrade_request || s->websocket || s->probe != NULL || method != SOUP_METHOD_GET)
            {
              engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
              return;
            }
          a = g_new0 (Accept, 1);
          a->sio = sio;
          a->sid = g_strdup (sid);
          if (!th_server_ws_upgrade (server, msg, ws_accepted, a, accept_free))
            engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
          return;
        }
      if (s->websocket)
        {
          engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
          return;
        }
      if (method == SOUP_METHOD_GET)
        handle_poll (s, msg);
      else if (method == SOUP_METHOD_POST)
        handle_post (s, msg);
      else
        engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
      return;
    }

  /* A new session */
  if (method != SOUP_METHOD_GET)
    {
      engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 2, "Bad handshake method");
      return;
    }
  if (g_str_equal (transport, "websocket") && !upgrade_request)
    {
      engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
      return;
    }
  /* Sessions still to CONNECT hold no slot, but they are bounded too. */
  if (!th_server_admit_connection (server, msg, 0, "Socket.IO"))
    return;
  if (th_server_count_pending (server) >= th_server_get_max_connections (server))
    {
      th_server_get_stats (server)->refused++;
      g_message ("server: refused a Socket.IO session from %s: %u sessions are waiting to connect",
                 soup_server_message_get_remote_host (msg), th_server_count_pending (server));
      th_server_send_error (server, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too_many_connections",
                            "too many Socket.IO sessions are waiting to connect; try again later");
      return;
    }

  if (g_str_equal (transport, "websocket"))
    {
      Accept *a = g_new0 (Accept, 1);

      a->sio = sio;
      a->remote = g_strdup (soup_server_message_get_remote_host (msg));
      a->origin = g_strdup (origin);
      a->token = request_token (msg, query);
      if (!th_server_ws_upgrade (server, msg, ws_accepted, a, accept_free))
        engine_error (server, msg, SOUP_STATUS_BAD_REQUEST, 3, "Bad request");
      return;
    }

  {
    g_autofree char *token = request_token (msg, query);
    g_autoptr(GBytes) open = NULL;
    gsize len;
    const char *text;

    s = session_new (sio, soup_server_message_get_remote_host (msg), origin, token, FALSE);
    th_server_client_register_pending (server, &s->base);
    open = open_packet (s, TRUE);
    text = g_bytes_get_data (open, &len);
    th_server_get_stats (server)->http_requests++;
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
    th_server_add_cors (server, msg);
    soup_server_message_set_response (msg, "text/plain; charset=UTF-8", SOUP_MEMORY_COPY, text, len);
    schedule_ping (s);
  }
}

/* Before the body is read: a request whose length is ambiguous is
 * refused (400); a POST over max-message is refused, as the reference
 * does (413), and its session ends; one without a Content-Length (chunked)
 * is refused (411), and one for a session that does not exist (400
 * "Session ID unknown"). Each answer goes out at once and the connection
 * closes: a body we will not take is never read. */
static void
sio_early_handler (SoupServer        *soup,
                   SoupServerMessage *msg,
                   const char        *path,
                   GHashTable        *query,
                   gpointer           user_data)
{
  ThServerSio *sio = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  const char *sid = query != NULL ? g_hash_table_lookup (query, "sid") : NULL;
  Session *s;

  if (!th_server_http_check_framing (sio->server, msg))
    return;
  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    return;
  /* Without a length the body could only be bounded by reading it: the
   * Engine.IO clients always send one. */
  if (soup_message_headers_get_encoding (req) != SOUP_ENCODING_CONTENT_LENGTH)
    {
      engine_error (sio->server, msg, SOUP_STATUS_LENGTH_REQUIRED, 3, "Bad request");
      th_server_http_answer_and_close (sio->server, msg);
      return;
    }
  s = sid != NULL ? g_hash_table_lookup (sio->sessions, sid) : NULL;
  if (s == NULL || s->base.closing)
    {
      if (sid == NULL)
        engine_error (sio->server, msg, SOUP_STATUS_BAD_REQUEST, 2, "Bad handshake method");
      else
        engine_error (sio->server, msg, SOUP_STATUS_BAD_REQUEST, 1, "Session ID unknown");
      th_server_http_answer_and_close (sio->server, msg);
      return;
    }
  if (soup_message_headers_get_content_length (req) <= (goffset) th_server_get_max_message (sio->server))
    return;
  engine_error (sio->server, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, 3, "Bad request");
  th_server_http_answer_and_close (sio->server, msg);
  if (s != NULL && !s->websocket && !s->base.closing)
    {
      th_server_get_stats (sio->server)->disconnects_size++;
      g_message ("server: Socket.IO client %s (%s) posted %" G_GOFFSET_FORMAT " bytes, over max-message; closing it",
                 s->base.id, s->base.remote, soup_message_headers_get_content_length (req));
      sio_close (&s->base, 1009, "message too big");
    }
}

/* The module */

ThServerSio *
th_server_sio_new (ThServer *server)
{
  ThServerSio *sio = g_new0 (ThServerSio, 1);

  sio->server = server;
  sio->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  sio->ping = deadlines_new (G_STRUCT_OFFSET (Session, ping), send_ping, "[server] Socket.IO pings");
  sio->pong = deadlines_new (G_STRUCT_OFFSET (Session, pong), pong_missed, "[server] Socket.IO pongs");
  sio->connect = deadlines_new (G_STRUCT_OFFSET (Session, connect), connect_missed,
                                "[server] Socket.IO connect timeouts");
  return sio;
}

void
th_server_sio_register (ThServerSio *sio)
{
  SoupServer *soup = th_server_get_soup (sio->server);

  soup_server_add_early_handler (soup, "/socket.io", sio_early_handler, sio, NULL);
  soup_server_add_handler (soup, "/socket.io", sio_handler, sio, NULL);
}

/* Ends every session left (th_server_stop has closed the connected ones
 * already, which ends most). */
void
th_server_sio_stop (ThServerSio *sio)
{
  GList *sessions = g_hash_table_get_values (sio->sessions);

  /* Ending a session never ends another. */
  for (GList *l = sessions; l != NULL; l = l->next)
    session_destroy (l->data);
  g_list_free (sessions);
}

void
th_server_sio_free (ThServerSio *sio)
{
  if (sio == NULL)
    return;
  th_server_sio_stop (sio);
  g_hash_table_unref (sio->sessions);
  deadlines_free (sio->ping);
  deadlines_free (sio->pong);
  deadlines_free (sio->connect);
  g_free (sio);
}
