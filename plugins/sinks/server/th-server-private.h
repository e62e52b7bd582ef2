/* th-server-private.h: what the files of the server sink share
 *
 * The sink is split by concern:
 *   th-server.c          the plugin: config, TLS, start/stop/flush, routing of
 *                        the hub's events to rooms, batching, system_status_update
 *   th-server-client.c   clients and rooms: back-pressure, replies, the client
 *                        protocol (join_room, subscribe_symbol with its snapshot
 *                        from the hub's getters, get_status, ping)
 *   th-server-ws.c       RFC 6455 on a stolen connection (ThWsConn: the
 *                        outgoing ring, writev; frames read and written with
 *                        the core's codec, th-ws-frame.h) and the plain
 *                        WebSocket transport at /ws
 *   th-server-sio.c      Socket.IO v4 / Engine.IO 4 at /socket.io/: polling,
 *                        websocket (a ThWsConn), the upgrade, heartbeats,
 *                        namespace connect, events and acks; hub events as
 *                        Socket.IO packets, made once per event
 *   th-server-rest.c     REST (the price object, the price wait), CORS, /healthz
 *   th-server-metrics.c  /metrics, the latency histogram, process figures
 *   th-server-listen.c   the listening socket, batched accepting, TLS, the
 *                        socket limit, HTTP timeouts and request framing
 *
 * Clients are transport-neutral (ThServerClient) with a small vtable: rooms,
 * routing, rate limiting, back-pressure (th_server_client_admit) and the
 * protocol are shared by every transport.
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
typedef struct _ThServerSio ThServerSio;
typedef struct _ThServerListen ThServerListen;
typedef struct _ThWsPoller ThWsPoller;
typedef struct _ThServerClientOptions ThServerClientOptions;

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

/* What a transport drops under back-pressure, from the gentlest. */
typedef enum
{
  /* Updates another one of the same key supersedes: those of the incoming
   * update's key, and all but the newest of every other key. A slow client
   * keeps the latest price of each symbol. */
  TH_DROP_SUPERSEDED,
  TH_DROP_CONFLATABLE,        /* every update that may be dropped */
  TH_DROP_ALL,                /* everything not yet being written */
} ThDropMode;

gboolean th_server_drop_frame (const char  *key,
                               gboolean     superseded_later,
                               const char  *incoming,
                               ThDropMode   mode);

/* How a transport sends. Every call is on the main thread. */
typedef struct
{
  const char *name;
  /* Queues @event's bytes (shared, never copied by the plain transport).
   * @conflate: NULL, or the key (an interned symbol) of an update that may
   *   be dropped under back-pressure, superseded by a newer one of its key.
   * @queued_at: monotonic µs when the hub handed it over (for latency). */
  void  (*send_event) (ThServerClient *client,
                       ThEvent        *event,
                       const char     *conflate,
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
  /* Drops queued messages that nobody has started to write, as @mode
   * says (@incoming: the key of the update about to be queued, or NULL);
   * returns how many. */
  guint (*drop)       (ThServerClient *client,
                       const char     *incoming,
                       ThDropMode      mode);
  /* Writes what is queued, without blocking (called once per main-loop
   * iteration for the clients marked dirty). */
  void  (*flush)      (ThServerClient *client);
  /* Optional: the transport's name right now (Socket.IO's changes on
   * upgrade); @name otherwise. */
  const char *(*get_name) (ThServerClient *client);
  /* Optional (Socket.IO): answers the client's event @id, whose answer
   * was deferred (ack_deferred), with @json. */
  void  (*send_ack)   (ThServerClient *client,
                       guint64         id,
                       const char     *json,
                       gsize           length);
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
  gint64      last_progress;   /* monotonic µs: the peer last took bytes, or
                                * the queue last became non-empty */
  JsonNode  **ack;             /* nullable: where the first reply's data goes
                                * (a Socket.IO ack), see th_server_client_send */
  char       *ack_raw;         /* the first reply's data as the client wrote it,
                                * when it was echoed (pong), for the ack */
  guint64     ack_id;          /* during a dispatch with an ack: its id */
  gboolean    ack_deferred;    /* the handler answers the ack later
                                * (transport->send_ack): not at the end of
                                * the dispatch */
  GPtrArray  *requests;        /* nullable: get_history requests waiting
                                * for the store (th-server-history.c) */
  const char *raw_data;        /* during a dispatch: the event's data as the
                                * client wrote it (not owned), or NULL */
  gsize       raw_data_len;
  gboolean    dropping;        /* in an episode of drops, logged once */
  gint64      last_drop;       /* monotonic µs of the episode's last drop */
  gboolean    logged_bad;      /* a malformed /ws message was logged */
  gboolean    closing;
  gboolean    in_dirty;        /* in the server's list of clients to flush */
  guint       pass_mark;       /* th_server_deliver_pending's pass that found it */
  guint64     pass_rooms;      /* that pass: the bits of its rooms (Room.pass_bit) */
  gboolean    admitted;        /* counts against max-connections (a Socket.IO
                                * session only once its namespace CONNECT
                                * succeeded) */
  char       *owner;           /* who its token says it is (alert rules);
                                * NULL before authentication */
  gboolean    admin;           /* its token is an admin one (or no auth) */
  ThServerClientOptions *options; /* nullable: set_options (th-server-options.c) */
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
  guint64 ws_bad_messages;     /* /ws messages that are not an envelope */
  guint64 http_requests;
  guint64 sio_encodings;       /* events turned into Socket.IO packets */
  guint64 sio_bad_packets;     /* malformed or unsupported Socket.IO packets */
  guint64 sio_unauthorized;    /* Socket.IO connects refused by auth */
  guint64 sio_timeouts;        /* sessions closed for a missed pong */
  guint64 sio_connect_timeouts; /* sessions closed for not connecting in time */
  guint64 sockets_accepted;
  guint64 sockets_refused;     /* closed at once: over max-sockets */
  guint64 tls_failures;        /* TLS handshakes that failed */
  guint64 http_timeouts_header;
  guint64 http_timeouts_body;
  guint64 http_timeouts_idle;
  guint64 http_bad_framing;    /* ambiguous request lengths refused */
  GHashTable *events;          /* event name → guint64* (events consumed) */
  guint64 latency_counts[TH_SERVER_LATENCY_BUCKETS + 1];
  double  latency_sum;
  guint64 latency_count;
} ThServerStats;

/* The sink's state, shared by its files (th-server.c owns it). */
typedef struct
{
  char       *name;
  GHashTable *members;   /* ThServerClient* set */
  gboolean    fixed;
  guint       pass_mark;       /* th_server_deliver_pending's pass that found it */
  guint64     pass_bit;        /* that pass: its bit in its members' pass_rooms,
                                * 0 past the 64th room of the pass */
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
  gboolean       dashboard;        /* serve /, /dashboard/, /docs */
  guint          ping_interval;    /* ms */
  guint          ping_timeout;     /* ms */
  guint          connect_timeout;  /* ms: Socket.IO, from open to CONNECT */

  SoupServer    *soup;
  ThServerListen *listen;
  ThWsPoller    *poller;
  ThServerSio   *sio;
  GHashTable    *sio_cache;        /* ThEvent* → GBytes*: this iteration's Socket.IO packets */
  guint          bound_port;
  GHashTable    *clients;          /* ThServerClient* set, pending ones too */
  guint          n_admitted;       /* those that count against max-connections */
  GHashTable    *rooms;            /* name → Room* */
  GArray        *pending_events;   /* PendingEvent: routed in a burst, not yet
                                    * queued to their clients */
  guint          pass_mark;
  GPtrArray     *dirty;            /* ThServerClient* to write */
  guint          flush_id;
  gint64         last_work_end;    /* monotonic µs when the last fan-out work
                                    * (a route or a write pass) ended: bursts
                                    * are batched */
  ThServerClient *writing_through; /* being written as it is queued: not dirty */
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

extern const char *const th_server_fixed_rooms[];   /* th-server-client.c */
void           th_server_room_free          (gpointer        data);
Room          *th_server_room_ensure        (ThServer       *self,
                                             const char     *name,
                                             gboolean        fixed);

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
GTlsCertificate *th_server_get_tls_certificate (ThServer     *self);
ThServerListen *th_server_get_listen        (ThServer       *self);
ThWsPoller    *th_server_get_poller         (ThServer       *self);
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
void           th_server_client_register    (ThServer       *self,
                                             ThServerClient *client);
void           th_server_client_register_pending (ThServer  *self,
                                             ThServerClient *client);
gboolean       th_server_client_admit_pending (ThServer     *self,
                                             ThServerClient *client);
guint          th_server_count_pending      (ThServer       *self);
void           th_server_client_welcome     (ThServerClient *client);
void           th_server_client_gone        (ThServer       *self,
                                             ThServerClient *client);
void           th_server_client_message     (ThServer       *self,
                                             ThServerClient *client,
                                             const char     *text,
                                             gsize           length);
gboolean       th_server_client_take_token  (ThServerClient *client);
void           th_server_client_dispatch    (ThServerClient *client,
                                             const char     *event,
                                             JsonNode       *data);
gboolean       th_server_client_admit       (ThServerClient *client,
                                             gsize           size,
                                             const char     *conflate,
                                             gint64          now);
gboolean       th_server_client_admit_reply (ThServerClient *client,
                                             gsize           size);
const char    *th_server_client_transport_name (ThServerClient *client);
gboolean       th_server_get_socketio       (ThServer       *self);
guint          th_server_get_ping_interval  (ThServer       *self);   /* ms */
guint          th_server_get_ping_timeout   (ThServer       *self);   /* ms */
guint          th_server_get_connect_timeout (ThServer      *self);   /* ms */
GBytes        *th_server_sio_event_bytes    (ThServer       *self,
                                             ThEvent        *event);
GBytes        *th_server_sio_encode_reply   (GBytes         *json);
void           th_server_client_error       (ThServerClient *client,
                                             const char     *code,
                                             const char     *message);
void           th_server_client_send        (ThServerClient *client,
                                             const char     *event,
                                             JsonNode       *data);
const char    *th_server_json_member_raw    (const char     *text,
                                             gsize           length,
                                             const char     *name,
                                             gsize          *value_length);
const char    *th_server_json_element_raw   (const char     *text,
                                             gsize           length,
                                             guint           index,
                                             gsize          *value_length);
void           th_server_mark_dirty         (ThServer       *self,
                                             ThServerClient *client);
void           th_server_deliver_pending    (ThServer       *self);
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
/* TRUE when authentication is off or @token (nullable) is valid; a
 * refusal is counted and logged (Socket.IO CONNECT). */
gboolean       th_server_auth_check         (ThServer          *self,
                                             const char        *token,
                                             const char        *what,
                                             const char        *remote);
gboolean       th_server_auth_check_request (ThServer          *self,
                                             SoupServerMessage *msg,
                                             GHashTable        *query,
                                             gboolean           allow_query,
                                             const char        *what);

void           th_server_auth_identify      (ThServer          *self,
                                             const char        *token,
                                             char             **owner,
                                             gboolean          *admin);

/* th-server-alerts.c: the alert rules of the alerts plugin, for clients
 * (set_alert, remove_alert, list_alerts) and REST (/api/v1/alerts). */
gboolean       th_server_alerts_dispatch    (ThServerClient    *client,
                                             const char        *event,
                                             JsonNode          *data);
void           th_server_alerts_register    (ThServer          *self);

/* th-server-options.c: a client's own options (set_options), such as
 * its conflation of financial_data_update. */
gboolean       th_server_options_dispatch   (ThServerClient    *client,
                                             const char        *event,
                                             JsonNode          *data);
/* TRUE when @event is held back for @client (its conflate_ms). */
gboolean       th_server_options_hold       (ThServerClient    *client,
                                             ThEvent           *event,
                                             const char        *conflate,
                                             gint64             now);
guint          th_server_options_get_conflate_ms (ThServerClient *client);
void           th_server_options_client_gone (ThServerClient   *client);

/* th-server-ws.c */
typedef struct _ThWsConn ThWsConn;

ThWsPoller    *th_ws_poller_new             (void);
void           th_ws_poller_free            (ThWsPoller        *poller);

/* What a connection tells its owner. Every call is on the main thread. */
typedef struct
{
  /* A complete message; text is valid UTF-8. */
  void (*message) (ThWsConn   *conn,
                   gboolean    binary,
                   const char *data,
                   gsize       length,
                   gpointer    user_data);
  /* The peer closed, or broke the protocol: the owner closes (usually
   * with th_ws_conn_close, @code and @reason). */
  void (*close)   (ThWsConn   *conn,
                   guint16     code,
                   const char *reason,
                   gpointer    user_data);
  /* The connection ends; its memory goes right after. */
  void (*gone)    (ThWsConn   *conn,
                   gpointer    user_data);
} ThWsConnCallbacks;

typedef void (*ThWsAcceptedFunc) (ThServer  *self,
                                  GIOStream *stream,
                                  gpointer   data);

ThWsConn      *th_ws_conn_new               (ThServerClient    *owner,
                                             GIOStream         *stream,
                                             const ThWsConnCallbacks *cb,
                                             gpointer           user_data);
void           th_ws_conn_set_owner         (ThWsConn          *conn,
                                             ThServerClient    *owner,
                                             const ThWsConnCallbacks *cb,
                                             gpointer           user_data);
void           th_ws_conn_push              (ThWsConn          *conn,
                                             GBytes            *body,
                                             const char        *conflate,
                                             gint64             queued_at);
guint          th_ws_conn_drop              (ThWsConn          *conn,
                                             const char        *incoming,
                                             ThDropMode         mode);
gsize          th_ws_conn_get_queued        (ThWsConn          *conn);
void           th_ws_conn_set_handshake     (ThWsConn          *conn,
                                             gboolean           handshake);

/* A source that runs above the fan-out (handshakes, first requests) but
 * yields one dispatch at the default priority after @max_run events or
 * @max_usec in a row, so that neither a storm nor a chatty client can shut
 * the broadcast out. Call after each dispatch with the events it took. */
typedef struct
{
  guint  run;     /* events taken at the high priority in a row */
  gint64 since;   /* monotonic µs: the start of that stretch */
  gint64 last;    /* monotonic µs: the last dispatch */
} ThServerYield;

void           th_server_yield_dispatched   (ThServerYield     *yield,
                                             GSource           *source,
                                             int                priority,
                                             guint              n,
                                             guint              max_run,
                                             gint64             max_usec);
gboolean       th_ws_conn_flush             (ThWsConn          *conn);
void           th_ws_conn_close             (ThWsConn          *conn,
                                             guint16            code,
                                             const char        *reason);
gboolean       th_ws_conn_is_closing        (ThWsConn          *conn);
void           th_ws_conn_destroy           (ThWsConn          *conn);
gboolean       th_server_ws_upgrade         (ThServer          *self,
                                             SoupServerMessage *msg,
                                             ThWsAcceptedFunc   accepted,
                                             gpointer           data,
                                             GDestroyNotify     destroy);
gboolean       th_server_admit_connection   (ThServer          *self,
                                             SoupServerMessage *msg,
                                             guint              pending,
                                             const char        *what);
void           th_server_ws_handle          (ThServer          *self,
                                             SoupServerMessage *msg);

/* th-server-listen.c */
ThServerListen *th_server_listen_new        (ThServer          *server);
void           th_server_listen_configure   (ThServerListen    *listen,
                                             ThConfig          *config,
                                             guint              max_connections,
                                             GPtrArray         *problems);
gboolean       th_server_listen_start       (ThServerListen    *listen,
                                             GSocketAddress    *address,
                                             GError           **error);
void           th_server_listen_stop        (ThServerListen    *listen);
void           th_server_listen_free        (ThServerListen    *listen);
guint          th_server_count_sockets      (ThServer          *self);
guint          th_server_get_max_sockets    (ThServer          *self);
int            th_server_http_upgraded      (ThServer          *self,
                                             SoupServerMessage *msg);
void           th_server_upgraded_closed    (ThServer          *self);
void           th_server_http_answer_and_close (ThServer       *self,
                                             SoupServerMessage *msg);
gboolean       th_server_http_check_framing (ThServer          *self,
                                             SoupServerMessage *msg);

/* th-server-sio.c */

ThServerSio   *th_server_sio_new            (ThServer          *self);
void           th_server_sio_free           (ThServerSio       *sio);
void           th_server_sio_register       (ThServerSio       *sio);
void           th_server_sio_stop           (ThServerSio       *sio);

/* th-server-history.c */

/* The parameters as a client wrote them, each nullable. */
typedef struct
{
  const char *symbol;
  const char *timeframe;
  const char *from;
  const char *to;
  const char *days;
  const char *limit;
  const char *format;
  gboolean    ticks;       /* ticks, not candles */
} ThServerHistoryArgs;

/* A checked request. */
typedef struct
{
  char     *symbol;        /* canonical */
  char     *timeframe;     /* a configured name; NULL for ticks */
  gint64    from, to;      /* µs */
  guint     limit;
  gboolean  columns;
  gboolean  ticks;
  GVariant *missing;    /* a(xx): the periods with no candle, once answered */
} ThServerHistoryQuery;

/* FALSE with @code (unknown_symbol, bad_request) and @message (transfer
 * full) when a parameter is wrong; the same checks and messages for REST
 * and the clients. */
gboolean       th_server_history_parse      (ThServer                  *self,
                                             const ThServerHistoryArgs *args,
                                             ThServerHistoryQuery      *q,
                                             const char               **code,
                                             char                     **message);
void           th_server_history_query_clear (ThServerHistoryQuery     *q);
void           th_server_history_run        (ThServer                  *self,
                                             ThServerHistoryQuery      *q,
                                             GCancellable              *cancellable,
                                             GAsyncReadyCallback        callback,
                                             gpointer                   user_data);
GPtrArray     *th_server_history_finish     (ThHub                     *hub,
                                             ThServerHistoryQuery      *q,
                                             GAsyncResult              *result,
                                             GError                   **error);
/* The HTTP status and code of a failed query. */
guint          th_server_history_error      (const GError              *error,
                                             const char               **code);
char          *th_server_history_body       (const ThServerHistoryQuery *q,
                                             GPtrArray                 *items,
                                             gsize                     *length);
void           th_server_history_client_request (ThServerClient        *client,
                                             JsonNode                  *data);
void           th_server_history_client_gone (ThServerClient           *client);

/* th-server-dashboard.c */
gboolean       th_server_dashboard_handle   (ThServer          *self,
                                             SoupServerMessage *msg,
                                             const char        *path);

/* th-server-rest.c */
void           th_server_rest_register      (ThServer          *self);
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
JsonNode      *th_server_tick_to_node       (ThHub             *hub,
                                             ThTick            *tick,
                                             gint64             now);

G_END_DECLS
