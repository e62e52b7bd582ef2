/* th-server-private.h: what the files of the server sink share
 *
 * The sink is split by concern:
 *   th-server.c          the plugin: config, start/stop/flush, rooms, routing,
 *                        the client protocol (join_room, subscribe_symbol...),
 *                        the symbol snapshot cache, system_status_update
 *   th-server-ws.c       the plain WebSocket transport at /ws: handshake,
 *                        RFC 6455 framing, the per-client outgoing queue and
 *                        its back-pressure
 *   th-server-rest.c     REST, CORS, /healthz
 *   th-server-metrics.c  /metrics, the latency histogram, process figures
 *
 * Clients are transport-neutral (ThServerClient) with a small vtable, so a
 * Socket.IO transport only has to implement ThServerTransport: rooms,
 * routing, rate limiting and the protocol are shared.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <tickhub.h>

G_BEGIN_DECLS

#define TH_TYPE_SERVER (th_server_get_type ())
G_DECLARE_FINAL_TYPE (ThServer, th_server, TH, SERVER, GObject)

typedef struct _ThServerClient ThServerClient;
typedef struct _ThServerAuth ThServerAuth;

typedef enum
{
  TH_SERVER_AUTH_OK,
  TH_SERVER_AUTH_MISSING,
  TH_SERVER_AUTH_UNKNOWN,
  TH_SERVER_AUTH_MALFORMED,
  TH_SERVER_AUTH_BAD_ALG,
  TH_SERVER_AUTH_BAD_SIGNATURE,
  TH_SERVER_AUTH_EXPIRED,
  TH_SERVER_AUTH_NOT_YET_VALID,
  TH_SERVER_AUTH_NO_EXP,
} ThServerAuthResult;

/* How a transport sends. Every call is on the main thread. */
typedef struct
{
  const char *name;
  /* Queues @event's bytes (shared, never copied by the plain transport).
   * @conflatable: the event may be dropped under back-pressure.
   * @queued_at: monotonic µs when the hub handed it over (for latency). */
  void  (*send_event) (ThServerClient *client,
                       ThEvent        *event,
                       gboolean        conflatable,
                       gint64          queued_at);
  /* Queues a reply built for this client only (takes @json). */
  void  (*send_text)  (ThServerClient *client,
                       GBytes         *json);
  /* Starts an orderly close; the transport calls
   * th_server_client_gone() once the client is gone. */
  void  (*close)      (ThServerClient *client,
                       guint16         code,
                       const char     *reason);
  gsize (*get_queued) (ThServerClient *client);
  /* Writes what is queued, without blocking (called once per main-loop
   * iteration for the clients marked dirty). */
  void  (*flush)      (ThServerClient *client);
} ThServerTransport;

struct _ThServerClient
{
  const ThServerTransport *transport;
  ThServer   *server;          /* not a reference */
  char       *id;
  char       *remote;          /* peer address */
  char       *origin;          /* nullable */
  gint64      connected_at;    /* real time, µs */
  GHashTable *rooms;           /* room name (owned by the Room) → Room* */
  double      tokens;          /* rate limit: a token bucket */
  gint64      tokens_at;       /* monotonic µs */
  GHashTable *pending;         /* conflation: symbol → ThEvent* held back */
  gint64      pending_since;   /* monotonic µs of the oldest held-back update */
  guint64     sent_messages;
  guint64     sent_bytes;
  guint64     dropped;
  gboolean    dropping;        /* in an episode of drops, logged once */
  gboolean    closing;
  gboolean    in_dirty;        /* in the server's list of clients to flush */
};

/* A histogram of event-to-send latencies, in seconds. */
#define TH_SERVER_LATENCY_BUCKETS 16
extern const double th_server_latency_bounds[TH_SERVER_LATENCY_BUCKETS];

typedef struct
{
  guint64 connections;         /* accepted since start */
  guint64 refused;             /* handshakes refused (limits, origin) */
  guint64 disconnects_slow;    /* over client-buffer */
  guint64 disconnects_rate;    /* over rate-limit */
  guint64 disconnects_size;    /* over max-message */
  guint64 sent_messages;
  guint64 sent_bytes;
  guint64 dropped;             /* conflatable events dropped under back-pressure */
  guint64 conflated;           /* updates replaced by a newer one (conflate-ms) */
  guint64 client_messages;     /* messages received from clients */
  guint64 client_errors;       /* error events sent back */
  guint64 http_requests;
  GHashTable *events;          /* event name → guint64* (events consumed) */
  guint64 latency_counts[TH_SERVER_LATENCY_BUCKETS + 1];
  double  latency_sum;
  guint64 latency_count;
} ThServerStats;

/* th-server.c */
ThHub         *th_server_get_hub            (ThServer       *self);
SoupServer    *th_server_get_soup           (ThServer       *self);
ThServerStats *th_server_get_stats          (ThServer       *self);
gsize          th_server_get_client_buffer  (ThServer       *self);
gsize          th_server_get_max_message    (ThServer       *self);
guint          th_server_get_max_connections (ThServer      *self);
guint          th_server_count_clients      (ThServer       *self);
GList         *th_server_list_clients       (ThServer       *self);
GList         *th_server_list_rooms         (ThServer       *self);   /* room names, sorted */
guint          th_server_count_room         (ThServer       *self,
                                             const char     *room);
gboolean       th_server_origin_allowed     (ThServer       *self,
                                             const char     *origin);
gboolean       th_server_is_stopped         (ThServer       *self);
ThServerAuth  *th_server_get_auth           (ThServer       *self);   /* NULL: no authentication */
gboolean       th_server_is_tls             (ThServer       *self);
double         th_server_get_price_wait     (ThServer       *self);
GPtrArray     *th_server_get_price_waiters  (ThServer       *self);
gint64         th_server_get_start_time     (ThServer       *self);
void           th_server_client_init        (ThServer       *self,
                                             ThServerClient *client,
                                             const ThServerTransport *transport,
                                             const char     *remote,
                                             const char     *origin);
void           th_server_client_added       (ThServer       *self,
                                             ThServerClient *client);
void           th_server_client_gone        (ThServer       *self,
                                             ThServerClient *client);
void           th_server_client_message     (ThServer       *self,
                                             ThServerClient *client,
                                             const char     *text,
                                             gsize           length);
void           th_server_client_error       (ThServerClient *client,
                                             const char     *code,
                                             const char     *message);
void           th_server_client_send        (ThServerClient *client,
                                             const char     *event,
                                             JsonNode       *data);
void           th_server_mark_dirty         (ThServer       *self,
                                             ThServerClient *client);
JsonNode      *th_server_build_status       (ThServer       *self);
JsonNode      *th_server_get_indicators     (ThServer       *self,
                                             const char     *symbol,
                                             const char     *timeframe);

/* th-server-auth.c */
char          *th_server_config_file        (ThConfig          *config,
                                             const char        *path);
ThServerAuth  *th_server_auth_new           (ThConfig          *config,
                                             GPtrArray         *problems);
void           th_server_auth_start         (ThServerAuth      *auth);
void           th_server_auth_free          (ThServerAuth      *auth);
guint64        th_server_auth_get_failures  (ThServerAuth      *auth);
const char    *th_server_auth_reason_to_string (ThServerAuthResult result);
ThServerAuthResult th_server_auth_verify    (ThServerAuth      *auth,
                                             const char        *token,
                                             gint64             now_usec);
void           th_server_auth_failed        (ThServerAuth      *auth,
                                             ThServerAuthResult result,
                                             const char        *what,
                                             const char        *remote);
char          *th_server_auth_request_token (SoupServerMessage *msg,
                                             GHashTable        *query,
                                             gboolean           allow_query);
/* TRUE when authentication is off or @token is valid (Socket.IO CONNECT). */
gboolean       th_server_auth_check         (ThServer          *self,
                                             const char        *token);
gboolean       th_server_auth_check_request (ThServer          *self,
                                             SoupServerMessage *msg,
                                             GHashTable        *query,
                                             gboolean           allow_query,
                                             const char        *what);

/* th-server-ws.c */
void           th_server_ws_handle          (ThServer          *self,
                                             SoupServerMessage *msg);

/* th-server-rest.c */
void           th_server_rest_register      (ThServer          *self);
void           th_server_rest_price_arrived (ThServer          *self,
                                             const char        *symbol);
void           th_server_rest_stop          (ThServer          *self);
void           th_server_send_json          (ThServer          *self,
                                             SoupServerMessage *msg,
                                             guint              status,
                                             JsonNode          *body);
void           th_server_send_error         (ThServer          *self,
                                             SoupServerMessage *msg,
                                             guint              status,
                                             const char        *code,
                                             const char        *message);
void           th_server_add_cors           (ThServer          *self,
                                             SoupServerMessage *msg);

/* th-server-metrics.c */
void           th_server_observe_latency    (ThServerStats     *stats,
                                             gint64             usec);
char          *th_server_render_metrics     (ThServer          *self);
gboolean       th_server_process_figures    (gint64            *rss_bytes,
                                             double            *cpu_seconds);

/* JSON helpers */
void           th_server_json_add_number    (JsonBuilder       *builder,
                                             const char        *name,
                                             double             value);
JsonNode      *th_server_tick_to_node       (ThTick            *tick,
                                             gint64             now);

G_END_DECLS
