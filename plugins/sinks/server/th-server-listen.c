/* th-server-listen.c: the listening socket, accepting, and the life of an
 * HTTP connection until it becomes a WebSocket or ends
 *
 * Accepting. The listening socket is made here, with a backlog of
 * [server] backlog (SOMAXCONN by default; GSocket's default of 10 loses
 * connections in a reconnect storm), and handed to libsoup
 * (soup_server_listen_socket) so that libsoup knows the server listens
 * (its keep-alive depends on it). Connections are accepted by our own
 * source on that socket, up to ACCEPT_BATCH per dispatch, at a priority
 * above everything the fan-out does: a storm of clients is taken from the
 * backlog in a few iterations even while the server broadcasts. libsoup
 * watches the same socket at the default priority; GLib dispatches only the
 * highest-priority ready sources and both become ready together, so its
 * watch never runs while ours is attached. Each accepted socket (TLS done
 * here first, when configured) is given to libsoup with
 * soup_server_accept_iostream().
 *
 * The first request. libsoup reads a request with a source of its own at
 * the default priority, one main-loop iteration per step, behind every
 * fan-out pass of a busy server: while saturated, a WebSocket upgrade
 * waited up to a second there. So a plain-TCP connection is first held
 * here until its request's head has arrived: its socket is in an epoll
 * set of ours (edge-triggered) watched at HEAD_PRIORITY, above the
 * fan-out, and peeked (MSG_PEEK: nothing is consumed) at each arrival.
 * Once the head is complete (or more than HEAD_PEEK bytes, or the end,
 * or an error: libsoup's to judge), the connection goes to libsoup, whose
 * first read happens inside soup_server_accept_iostream(): it finds the
 * whole head and answers (a 101, a REST answer) in that same dispatch.
 * The set takes HEAD_BATCH connections a dispatch and, after HEAD_RUN of
 * them or HEAD_RUN_USEC in a row, yields one dispatch at the default
 * priority, so a storm cannot shut the broadcast out either. TLS
 * connections skip it (their bytes are the handshake's).
 *
 * Counting. Every accepted socket counts against [server] max-sockets
 * until it is closed, whatever it became (a REST request, a Socket.IO
 * poll, a WebSocket): over the limit a new one is closed at once. The
 * limit is kept under the process's file descriptor limit. An accepted
 * socket is counted by its HttpConn, which lives as long as the stream
 * libsoup was given; a plain-TCP WebSocket lets go of that stream (see
 * th_server_http_upgraded) and is counted in `upgraded` instead, until
 * its own descriptor is closed.
 *
 * Timeouts. A connection that is not a WebSocket yet is in one of four
 * phases: waiting for a request's line and headers (header-timeout, from
 * the accept or the first byte of a request), reading its body
 * (body-timeout), answering (no limit here: a long poll or a price wait
 * holds a request on purpose), or idle between keep-alive requests
 * (idle-timeout; with libsoup before 3.3 every answer closes its
 * connection instead: see th_server_listen_start()). One timer a second
 * closes the connections past their phase's deadline, unless what they
 * sent is waiting for us to read it (then the server is behind, not the
 * client) (shutdown(2): libsoup sees the end and lets go), so 10,000
 * connections cost one source, not 10,000.
 *
 * Framing. A request whose length is ambiguous (Content-Length with
 * Transfer-Encoding, two different Content-Lengths, one that is not a
 * number) is answered 400 at once and its connection closed, without
 * reading a body (RFC 9112 §6.1 and §6.3): th_server_http_reject_now() is
 * also how the early handlers refuse a body they will not read.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "th-server-private.h"

#define ACCEPT_BATCH        256
#define ACCEPT_PRIORITY     (G_PRIORITY_DEFAULT - 20)
#define ACCEPT_RETRY_MS     100    /* after EMFILE/ENFILE */
#define FD_RESERVE          64     /* descriptors kept for everything else */
#define TRIM_AFTER_CHURN    512    /* malloc_trim() once this many connections
                                    * closed or finished their handshake */
#define HEAD_PRIORITY       (G_PRIORITY_DEFAULT - 10)  /* see "The first request" */
#define HEAD_BATCH          512
#define HEAD_PEEK           8192
#define HEAD_RUN            2048
#define HEAD_RUN_USEC       (20 * 1000)

/* The kernel's send buffer is a queue in front of ours: for a client that
 * stops reading it would hold megabytes of stale updates that our budget
 * and conflation never see. TCP_NOTSENT_LOWAT keeps its unsent part small
 * (the socket is writable, and takes more, only below it), so that what a
 * slow client cannot take waits in our queue, where it is counted,
 * conflated and dropped. The peer's receive buffer still holds what was
 * sent before it stopped. */
#define UNSENT_LOWAT (16 * 1024)

typedef enum
{
  PHASE_HEADERS,     /* TLS handshake, request line and headers */
  PHASE_BODY,
  PHASE_ANSWERING,
  PHASE_IDLE,        /* between keep-alive requests */
  PHASE_UPGRADED,    /* a WebSocket now: no HTTP deadlines */
} Phase;

static const char *const phase_names[] = { "header", "body", "answer", "idle", "upgraded" };

typedef struct
{
  ThServerListen *listen;
  GSocket        *socket;        /* owned: for shutdown() on a timeout */
  GIOStream      *stream;        /* weak: what libsoup (or a ThWsConn) holds */
  GSocketAddress *remote;        /* owned; carries a pointer back to us */
  char           *remote_host;
  GList           link;          /* in listen->http while not upgraded */
  Phase           phase;
  gint64          deadline;      /* monotonic µs, 0: none */
  gboolean        timed_out;
  GIOStream      *held;          /* owned while its first request's head is
                                  * awaited here, then libsoup's */
  GSocketAddress *held_local;
} HttpConn;

struct _ThServerListen
{
  ThServer     *server;
  GSocket      *socket;
  GSource      *accept_source;
  GCancellable *cancellable;     /* TLS handshakes */
  guint         retry_id;
  guint         sweep_id;
  GHashTable   *conns;           /* HttpConn* set: every open accepted socket
                                  * but the upgraded ones below */
  guint         upgraded;        /* plain-TCP WebSockets on a descriptor of
                                  * their own (th_server_http_upgraded) */
  GQueue        http;            /* HttpConn.link: those not upgraded */
  guint         churn;           /* closed or upgraded since the last trim */
  int           head_epfd;       /* connections held for their first head */
  GSource      *head_source;     /* at HEAD_PRIORITY, or yielding at the default */
  ThServerYield head_yield;
  gulong        started_id;
  gulong        read_id;
  gulong        finished_id;
  gulong        aborted_id;

  /* Config */
  guint         backlog;
  gboolean      reuse_port;  /* [server] reuse-port: SO_REUSEPORT */
  guint         max_sockets;
  gboolean      max_sockets_configured;
  guint         header_timeout;  /* seconds, 0: none */
  guint         body_timeout;
  guint         idle_timeout;
  gboolean      close_after_answer;
};

static GQuark conn_quark;

static guint
open_sockets (ThServerListen *listen)
{
  return g_hash_table_size (listen->conns) + listen->upgraded;
}

/* Config */

#define DEFAULT_HEADER_TIMEOUT 10
#define DEFAULT_BODY_TIMEOUT   30
#define DEFAULT_IDLE_TIMEOUT   60

static guint
fd_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return G_MAXUINT;
  return (guint) MIN (rl.rlim_cur, G_MAXUINT);
}

static guint
config_seconds (ThConfig   *config,
                const char *key,
                guint       def,
                GPtrArray  *problems)
{
  gint64 v = th_config_get_int (config, "server", key, def);

  if (v < 0 || v > 86400)
    {
      g_ptr_array_add (problems, g_strdup_printf ("[server] %s: %" G_GINT64_FORMAT " s is out of range; "
                                                  "give 0 (no limit) to 86400 (the default is %u)",
                                                  key, v, def));
      return def;
    }
  return (guint) v;
}

void
th_server_listen_configure (ThServerListen *listen,
                            ThConfig       *config,
                            guint           max_connections,
                            GPtrArray      *problems)
{
  guint def_sockets = max_connections + MAX (max_connections / 4, 256);
  gint64 v;

  v = th_config_get_int (config, "server", "backlog", SOMAXCONN);
  if (v < 1 || v > 65535)
    g_ptr_array_add (problems, g_strdup_printf ("[server] backlog: %" G_GINT64_FORMAT " is out of range; give 1 to "
                                                "65535 (the default is %d, SOMAXCONN; the kernel caps it at "
                                                "net.core.somaxconn)", v, SOMAXCONN));
  listen->backlog = (guint) CLAMP (v, 1, 65535);
  listen->reuse_port = th_config_get_boolean (config, "server", "reuse-port", FALSE);

  v = th_config_get_int (config, "server", "max-sockets", def_sockets);
  if (v < max_connections || v > 10000000)
    g_ptr_array_add (problems, g_strdup_printf ("[server] max-sockets: %" G_GINT64_FORMAT " is out of range; give "
                                                "max-connections (%u) to 10000000 (the default is max-connections "
                                                "plus a quarter, at least 256 more: %u)",
                                                v, max_connections, def_sockets));
  listen->max_sockets = (guint) CLAMP (v, max_connections, 10000000);
  listen->max_sockets_configured = th_config_has_key (config, "server", "max-sockets");

  listen->header_timeout = config_seconds (config, "header-timeout", DEFAULT_HEADER_TIMEOUT, problems);
  listen->body_timeout = config_seconds (config, "body-timeout", DEFAULT_BODY_TIMEOUT, problems);
  listen->idle_timeout = config_seconds (config, "idle-timeout", DEFAULT_IDLE_TIMEOUT, problems);
}

/* Connections */

static void
set_phase (HttpConn *c,
           Phase     phase)
{
  ThServerListen *listen = c->listen;
  guint seconds = 0;

  if (c->phase == PHASE_UPGRADED)
    return;
  c->phase = phase;
  switch (phase)
    {
    case PHASE_HEADERS:
      seconds = listen->header_timeout;
      break;
    case PHASE_BODY:
      seconds = listen->body_timeout;
      break;
    case PHASE_IDLE:
      seconds = listen->idle_timeout;
      break;
    case PHASE_ANSWERING:
      break;
    case PHASE_UPGRADED:
      g_queue_unlink (&listen->http, &c->link);
      break;
    }
  c->deadline = seconds > 0 ? g_get_monotonic_time () + seconds * G_USEC_PER_SEC : 0;
}

static void
conn_free (HttpConn *c)
{
  if (c->held != NULL)
    {
      if (c->listen->head_epfd >= 0)
        epoll_ctl (c->listen->head_epfd, EPOLL_CTL_DEL, g_socket_get_fd (c->socket), NULL);
      g_io_stream_close (c->held, NULL, NULL);
      g_clear_object (&c->held);
      g_clear_object (&c->held_local);
    }
  if (c->phase != PHASE_UPGRADED)
    g_queue_unlink (&c->listen->http, &c->link);
  g_object_set_qdata (G_OBJECT (c->remote), conn_quark, NULL);
  g_object_unref (c->remote);
  g_object_unref (c->socket);
  g_free (c->remote_host);
  g_free (c);
}

static void
conn_drop (HttpConn *c)
{
  ThServerListen *listen = c->listen;

  g_hash_table_remove (listen->conns, c);
  conn_free (c);
  listen->churn++;
}

/* glibc keeps freed memory for reuse: after a burst of closes (a storm
 * that went away, thousands of aborted uploads) or of handshakes (a storm
 * that came in: each left its request's memory behind, between the
 * connections that stay), it is given back, at most once a second. */
static void
maybe_trim (ThServerListen *listen)
{
  if (listen->churn >= TRIM_AFTER_CHURN ||
      (listen->churn > 0 && open_sockets (listen) == 0))
    {
      listen->churn = 0;
      malloc_trim (0);
    }
}

/* The stream is gone: libsoup (or the WebSocket) let go of the socket. */
static void
conn_gone (gpointer  data,
           GObject  *where_the_stream_was)
{
  conn_drop (data);
}

static HttpConn *
conn_for_message (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote != NULL ? g_object_get_qdata (G_OBJECT (remote), conn_quark) : NULL;
}

static void
on_got_headers (SoupServerMessage *msg,
                gpointer           data)
{
  HttpConn *c = conn_for_message (msg);

  if (c != NULL)
    set_phase (c, PHASE_BODY);
}

static void
on_request_started (SoupServer        *soup,
                    SoupServerMessage *msg,
                    gpointer           data)
{
  HttpConn *c = conn_for_message (msg);

  if (c == NULL)
    return;
  /* The first request of a connection starts at the accept; the next
   * ones with their first byte. */
  if (c->phase != PHASE_HEADERS)
    set_phase (c, PHASE_HEADERS);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), NULL);
}

static void
on_request_read (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           data)
{
  ThServerListen *listen = data;
  HttpConn *c = conn_for_message (msg);

  if (c != NULL)
    set_phase (c, PHASE_ANSWERING);
  /* Not a WebSocket handshake (its 101 says "Connection: Upgrade"). */
  if (listen->close_after_answer &&
      !soup_message_headers_header_contains (soup_server_message_get_request_headers (msg), "Connection", "upgrade"))
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
}

static void
on_request_done (SoupServer        *soup,
                 SoupServerMessage *msg,
                 gpointer           data)
{
  HttpConn *c = conn_for_message (msg);

  if (c != NULL)
    set_phase (c, PHASE_IDLE);
}

/* The handshake has been answered 101: no HTTP deadlines any more.
 *
 * A plain TCP connection is driven on its descriptor from now on, and
 * the GIO objects around it (the GSocket, the GSocketConnection, its two
 * streams, libsoup's stream over them, the peer's address: about 2 KB)
 * would only be kept to close it, for as long as the client stays. So it
 * gets a descriptor of its own (a dup(2) of the socket's), returned here,
 * and the ThWsConn lets go of the GIO objects once libsoup's read-ahead is
 * drained through them (closing them closes only the original
 * descriptor). The socket then counts as an upgraded one, not through
 * the stream's life, until th_server_upgraded_closed().
 *
 * Returns -1 for TLS (the GIO streams carry the TLS), and when dup(2)
 * fails (out of descriptors): that connection keeps its streams and is
 * counted as before. */
int
th_server_http_upgraded (ThServer          *self,
                         SoupServerMessage *msg)
{
  HttpConn *c = conn_for_message (msg);
  ThServerListen *listen;
  int fd;

  if (c == NULL)
    return -1;
  listen = c->listen;
  set_phase (c, PHASE_UPGRADED);
  listen->churn++;
  if (th_server_is_tls (self))
    return -1;
  fd = fcntl (g_socket_get_fd (c->socket), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    {
      g_debug ("server: dup of %s's socket: %s; it keeps its streams", c->remote_host, g_strerror (errno));
      return -1;
    }
  g_object_weak_unref (G_OBJECT (c->stream), conn_gone, c);
  g_hash_table_remove (listen->conns, c);
  conn_free (c);
  listen->upgraded++;
  return fd;
}

/* A descriptor th_server_http_upgraded() returned has been closed. */
void
th_server_upgraded_closed (ThServer *self)
{
  ThServerListen *listen = th_server_get_listen (self);

  g_return_if_fail (listen != NULL && listen->upgraded > 0);
  listen->upgraded--;
  listen->churn++;
}

guint
th_server_count_sockets (ThServer *self)
{
  ThServerListen *listen = th_server_get_listen (self);

  return listen != NULL ? open_sockets (listen) : 0;
}

guint
th_server_get_max_sockets (ThServer *self)
{
  ThServerListen *listen = th_server_get_listen (self);

  return listen != NULL ? listen->max_sockets : 0;
}

/* Holding a connection for its first request's head */

typedef enum
{
  HEAD_WAIT,       /* not all there yet */
  HEAD_COMPLETE,
  HEAD_LIBSOUP,    /* the end, an error, or too long to peek: libsoup's to judge */
} HeadState;

static HeadState
head_arrived (HttpConn *c)
{
  char buf[HEAD_PEEK];
  ssize_t n = recv (g_socket_get_fd (c->socket), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);

  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? HEAD_WAIT : HEAD_LIBSOUP;
  if (n == 0 || (gsize) n == sizeof buf)
    return HEAD_LIBSOUP;
  /* The empty line that ends the head; libsoup also takes bare LFs. */
  return memmem (buf, (gsize) n, "\n\r\n", 3) != NULL || memmem (buf, (gsize) n, "\n\n", 2) != NULL
         ? HEAD_COMPLETE : HEAD_WAIT;
}

static void give_to_libsoup (ThServerListen *listen, HttpConn *c, GIOStream *stream, GSocketAddress *local);

static void
head_release (ThServerListen *listen,
              HttpConn       *c)
{
  g_autoptr(GIOStream) stream = g_steal_pointer (&c->held);
  g_autoptr(GSocketAddress) local = g_steal_pointer (&c->held_local);

  if (epoll_ctl (listen->head_epfd, EPOLL_CTL_DEL, g_socket_get_fd (c->socket), NULL) < 0)
    g_debug ("server: epoll_ctl: %s", g_strerror (errno));
  /* May free @c (libsoup refused it, or answered and closed already). */
  give_to_libsoup (listen, c, stream, local);
}

static void
head_hold (ThServerListen *listen,
           HttpConn       *c,
           GIOStream      *stream,
           GSocketAddress *local)
{
  struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c };

  /* Accepted late (a storm, a busy server), a connection usually has its
   * request already: answered now, at the accept's priority. */
  if (head_arrived (c) != HEAD_WAIT)
    {
      give_to_libsoup (listen, c, stream, local);
      return;
    }
  c->held = g_object_ref (stream);
  c->held_local = g_object_ref (local);
  if (epoll_ctl (listen->head_epfd, EPOLL_CTL_ADD, g_socket_get_fd (c->socket), &ev) < 0)
    {
      g_debug ("server: epoll_ctl: %s", g_strerror (errno));
      head_release (listen, c);
    }
}

static gboolean
head_dispatch (int          epfd,
               GIOCondition condition,
               gpointer     data)
{
  ThServerListen *listen = data;
  struct epoll_event events[HEAD_BATCH];
  int n = epoll_wait (epfd, events, G_N_ELEMENTS (events), 0);

  /* Each event is a different connection, and handing one to libsoup
   * does not end another. */
  for (int i = 0; i < n; i++)
    {
      HttpConn *c = events[i].data.ptr;

      if (head_arrived (c) != HEAD_WAIT)
        head_release (listen, c);
    }

  th_server_yield_dispatched (&listen->head_yield, listen->head_source, HEAD_PRIORITY, (guint) MAX (n, 0),
                              HEAD_RUN, HEAD_RUN_USEC);
  return G_SOURCE_CONTINUE;
}

static gboolean
sweep (gpointer data)
{
  ThServerListen *listen = data;
  ThServerStats *stats = th_server_get_stats (listen->server);
  gint64 now = g_get_monotonic_time ();

  for (GList *l = listen->http.head, *next; l != NULL; l = next)
    {
      HttpConn *c = l->data;

      next = l->next;
      if (c->deadline == 0 || now < c->deadline || c->timed_out)
        continue;
      /* Bytes are waiting that we have not read: the delay is ours (a
       * storm, a busy server), not the client's. Held here, that is a
       * complete head not yet handed on. */
      if (c->held != NULL ? head_arrived (c) == HEAD_COMPLETE
                          : c->phase != PHASE_IDLE && g_socket_get_available_bytes (c->socket) > 0)
        {
          c->deadline = now + G_USEC_PER_SEC;
          continue;
        }
      c->timed_out = TRUE;
      switch (c->phase)
        {
        case PHASE_HEADERS:
          stats->http_timeouts_header++;
          break;
        case PHASE_BODY:
          stats->http_timeouts_body++;
          break;
        default:
          stats->http_timeouts_idle++;
          break;
        }
      g_debug ("server: closing %s: no complete %s within its timeout", c->remote_host,
               c->phase == PHASE_IDLE ? "request after the last one" : phase_names[c->phase]);
      if (c->held != NULL)
        {
          /* Not libsoup's yet: ours to close. */
          conn_drop (c);
          continue;
        }
      /* libsoup reads the end of the stream and closes it; the weak
       * reference then frees us. */
      g_socket_shutdown (c->socket, TRUE, TRUE, NULL);
    }
  maybe_trim (listen);
  return G_SOURCE_CONTINUE;
}

/* Answering before the body */

#define LINGER_MSEC   2000         /* reading what follows a refused request */
#define LINGER_BYTES  (256 * 1024)

typedef struct
{
  ThServer          *server;
  SoupServerMessage *msg;
  GIOStream         *stream;
  GSocket           *socket;      /* nullable */
  GBytes            *response;
  GCancellable      *cancellable;
  guint              linger_id;
  gsize              drained;
  guint8             buf[4096];
} Answer;

static void
answer_free (Answer *a)
{
  g_clear_handle_id (&a->linger_id, g_source_remove);
  if (a->stream != NULL)
    g_io_stream_close (a->stream, NULL, NULL);
  g_clear_object (&a->msg);
  g_clear_object (&a->stream);
  g_clear_object (&a->socket);
  g_clear_object (&a->cancellable);
  g_clear_pointer (&a->response, g_bytes_unref);
  g_free (a);
}

static gboolean
linger_over (gpointer data)
{
  Answer *a = data;

  a->linger_id = 0;
  g_cancellable_cancel (a->cancellable);   /* the pending read ends it */
  return G_SOURCE_REMOVE;
}

/* A lingering close: what the client sent after the refused request
 * (its body, a pipelined request) is read and dropped until it stops,
 * as HTTP servers do, so that closing does not reset the connection
 * before the client has read our answer (a close with unread input sends
 * RST, and the peer's stack may then discard the answer). */
static void
linger_read (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  Answer *a = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n > 0 && (a->drained += n) < LINGER_BYTES && !g_cancellable_is_cancelled (a->cancellable))
    {
      g_input_stream_read_async (G_INPUT_STREAM (source), a->buf, sizeof a->buf, G_PRIORITY_DEFAULT,
                                 a->cancellable, linger_read, a);
      return;
    }
  answer_free (a);
}

static void
answer_written (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  Answer *a = data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL) || a->socket == NULL)
    {
      answer_free (a);
      return;
    }
  /* Our side is done (FIN); theirs is read until it ends. */
  g_socket_shutdown (a->socket, FALSE, TRUE, NULL);
  a->cancellable = g_cancellable_new ();
  a->linger_id = g_timeout_add (LINGER_MSEC, linger_over, a);
  g_input_stream_read_async (g_io_stream_get_input_stream (a->stream), a->buf, sizeof a->buf,
                             G_PRIORITY_DEFAULT, a->cancellable, linger_read, a);
}

static GBytes *
serialize_response (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);
  g_autoptr(GBytes) content = soup_message_body_flatten (body);
  guint status = soup_server_message_get_status (msg);
  GString *out = g_string_new (NULL);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  g_string_append_printf (out, "HTTP/1.1 %u %s\r\n", status, soup_status_get_phrase (status));
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    if (g_ascii_strcasecmp (name, "Content-Length") != 0 && g_ascii_strcasecmp (name, "Connection") != 0 &&
        g_ascii_strcasecmp (name, "Transfer-Encoding") != 0)
      g_string_append_printf (out, "%s: %s\r\n", name, value);
  g_string_append_printf (out, "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
                          g_bytes_get_size (content));
  g_string_append_len (out, g_bytes_get_data (content, NULL), g_bytes_get_size (content));
  return g_string_free_to_bytes (out);
}

static gboolean
answer_now (gpointer data)
{
  Answer *a = data;
  HttpConn *c = conn_for_message (a->msg);
  gsize len;
  const char *p;

  a->response = serialize_response (a->msg);
  if (c != NULL)
    a->socket = g_object_ref (c->socket);
  a->stream = soup_server_message_steal_connection (a->msg);
  if (a->stream == NULL)
    {
      answer_free (a);
      return G_SOURCE_REMOVE;
    }
  p = g_bytes_get_data (a->response, &len);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (a->stream), p, len, G_PRIORITY_DEFAULT,
                                   NULL, answer_written, a);
  return G_SOURCE_REMOVE;
}

/* From an early handler (before libsoup reads the body): the response
 * set on @msg is written at once and the connection closed, the body
 * never read. For a request we refuse to read: its body cannot be
 * skipped safely (its length may be what is wrong), and an upload we
 * will not take should not cost its bytes. */
void
th_server_http_answer_and_close (ThServer          *self,
                                 SoupServerMessage *msg)
{
  Answer *a = g_new0 (Answer, 1);
  GSource *source;

  a->server = self;
  a->msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  /* libsoup is still in the middle of reading the headers: steal the
   * connection once it has returned. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_static_name (source, "[server] answer now");
  g_source_set_callback (source, answer_now, a, NULL);
  g_source_attach (source, NULL);
  g_source_unref (source);
}

/* Request framing, RFC 9112 §6.1 and §6.3: a length that two parsers
 * could read differently is how requests are smuggled past a proxy. */
static const char *
framing_problem (SoupMessageHeaders *headers)
{
  const char *te = soup_message_headers_get_list (headers, "Transfer-Encoding");
  const char *cl = soup_message_headers_get_list (headers, "Content-Length");
  g_auto(GStrv) values = NULL;

  if (cl == NULL)
    return NULL;
  if (te != NULL)
    return "Content-Length together with Transfer-Encoding";
  values = g_strsplit (cl, ",", -1);
  for (guint i = 0; values[i] != NULL; i++)
    {
      const char *v = g_strstrip (values[i]);
      gsize n = strlen (v);

      if (n == 0 || n > 18 || strspn (v, "0123456789") != n)
        return "a Content-Length that is not a number";
      if (i > 0 && strcmp (values[0], v) != 0)
        return "two different Content-Lengths";
    }
  return NULL;
}

/* For the early handlers: FALSE when @msg has been refused (400, then the
 * connection closes). */
gboolean
th_server_http_check_framing (ThServer          *self,
                              SoupServerMessage *msg)
{
  const char *problem = framing_problem (soup_server_message_get_request_headers (msg));
  g_autofree char *text = NULL;

  if (problem == NULL)
    return TRUE;
  th_server_get_stats (self)->http_bad_framing++;
  g_debug ("server: %s sent %s; answering 400 and closing", soup_server_message_get_remote_host (msg), problem);
  text = g_strdup_printf ("the request's length is ambiguous: %s", problem);
  th_server_send_error (self, msg, SOUP_STATUS_BAD_REQUEST, "bad_request", text);
  th_server_http_answer_and_close (self, msg);
  return FALSE;
}

/* Accepting */

typedef struct
{
  ThServerListen *listen;
  HttpConn       *conn;
  GSocketAddress *local;
} Handshake;

static void
give_to_libsoup (ThServerListen *listen,
                 HttpConn       *c,
                 GIOStream      *stream,
                 GSocketAddress *local)
{
  g_autoptr(GError) error = NULL;

  c->stream = stream;
  g_object_weak_ref (G_OBJECT (stream), conn_gone, c);
  if (!soup_server_accept_iostream (th_server_get_soup (listen->server), stream, local, c->remote, &error))
    {
      g_debug ("server: libsoup refused a connection from %s: %s", c->remote_host, error->message);
      g_io_stream_close (stream, NULL, NULL);
    }
}

static void
on_tls_handshake (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Handshake *h = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) tls = G_IO_STREAM (source);

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (tls), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* The server stopped; its connections are forgotten already. */
      g_io_stream_close (tls, NULL, NULL);
    }
  else if (error != NULL)
    {
      /* Scanners and plain-HTTP clients on a TLS port: not worth a warning. */
      g_debug ("server: TLS handshake with %s failed: %s", h->conn->remote_host, error->message);
      th_server_get_stats (h->listen->server)->tls_failures++;
      g_io_stream_close (tls, NULL, NULL);
      conn_drop (h->conn);
    }
  else
    give_to_libsoup (h->listen, h->conn, tls, h->local);
  g_object_unref (h->local);
  g_free (h);
}

static void
take (ThServerListen *listen,
      GSocket        *socket)
{
  ThServer *self = listen->server;
  ThServerStats *stats = th_server_get_stats (self);
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  HttpConn *c;
  int lowat = UNSENT_LOWAT;

  if (open_sockets (listen) >= listen->max_sockets)
    {
      /* The last line of defence; max-connections answers 503 well
       * before this in any normal use. */
      if (stats->sockets_refused++ == 0 || stats->sockets_refused % 1000 == 0)
        g_warning ("server: %u sockets open, the [server] max-sockets limit: closing new ones "
                   "(%" G_GUINT64_FORMAT " so far)", listen->max_sockets, stats->sockets_refused);
      g_socket_close (socket, NULL);
      return;
    }

  c = g_new0 (HttpConn, 1);
  c->listen = listen;
  c->socket = g_object_ref (socket);
  c->remote = g_socket_get_remote_address (socket, &error);
  local = g_socket_get_local_address (socket, NULL);
  if (c->remote == NULL || local == NULL)
    {
      /* Reset before we looked: nothing to serve. */
      g_socket_close (socket, NULL);
      g_clear_object (&c->remote);
      g_object_unref (c->socket);
      g_free (c);
      return;
    }
  if (G_IS_INET_SOCKET_ADDRESS (c->remote))
    c->remote_host = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (c->remote)));
  else
    c->remote_host = g_strdup ("?");
  g_object_set_qdata (G_OBJECT (c->remote), conn_quark, c);
  c->link.data = c;
  g_queue_push_tail_link (&listen->http, &c->link);
  g_hash_table_add (listen->conns, c);
  stats->sockets_accepted++;
  set_phase (c, PHASE_HEADERS);

  g_socket_set_blocking (socket, FALSE);
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
#ifdef TCP_NOTSENT_LOWAT
  if (setsockopt (g_socket_get_fd (socket), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat) < 0)
    g_debug ("server: TCP_NOTSENT_LOWAT: %s", g_strerror (errno));
#else
  (void) lowat;
#endif

  connection = g_socket_connection_factory_create_connection (socket);
  if (th_server_is_tls (self))
    {
      GIOStream *tls = g_tls_server_connection_new (G_IO_STREAM (connection),
                                                    th_server_get_tls_certificate (self), &error);
      Handshake *h;

      if (tls == NULL)
        {
          g_warning ("server: cannot start TLS with %s: %s", c->remote_host, error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          conn_drop (c);
          return;
        }
      g_object_set (tls, "require-close-notify", FALSE, NULL);
      h = g_new0 (Handshake, 1);
      h->listen = listen;
      h->conn = c;
      h->local = g_steal_pointer (&local);
      /* The header timeout covers the handshake: a client that opens a
       * TLS connection and says nothing is closed like any other. */
      g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, listen->cancellable,
                                        on_tls_handshake, h);
      return;
    }
  if (listen->head_source != NULL)
    head_hold (listen, c, G_IO_STREAM (connection), local);
  else
    give_to_libsoup (listen, c, G_IO_STREAM (connection), local);
}

static gboolean accept_ready (GSocket *socket, GIOCondition condition, gpointer data);

static void
attach_accept (ThServerListen *listen)
{
  listen->accept_source = g_socket_create_source (listen->socket, G_IO_IN, NULL);
  g_source_set_priority (listen->accept_source, ACCEPT_PRIORITY);
  g_source_set_static_name (listen->accept_source, "[server] accept");
  g_source_set_callback (listen->accept_source, G_SOURCE_FUNC (accept_ready), listen, NULL);
  g_source_attach (listen->accept_source, NULL);
}

static gboolean
resume_accept (gpointer data)
{
  ThServerListen *listen = data;

  listen->retry_id = 0;
  attach_accept (listen);
  return G_SOURCE_REMOVE;
}

static gboolean
accept_ready (GSocket      *socket,
              GIOCondition  condition,
              gpointer      data)
{
  ThServerListen *listen = data;

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);

      if (client != NULL)
        {
          take (listen, client);
          continue;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        {
          /* Out of descriptors: the pending connections wait in the
           * backlog; try again shortly instead of spinning. */
          g_warning ("server: cannot accept: %s; raise the file descriptor limit (ulimit -n, LimitNOFILE=) "
                     "or lower [server] max-sockets", error->message);
          listen->accept_source = NULL;
          listen->retry_id = g_timeout_add (ACCEPT_RETRY_MS, resume_accept, listen);
          return G_SOURCE_REMOVE;
        }
      /* ECONNABORTED and the like: that one connection is lost. */
      g_debug ("server: accept: %s", error->message);
    }
  return G_SOURCE_CONTINUE;
}

/* Starting and stopping */

ThServerListen *
th_server_listen_new (ThServer *server)
{
  ThServerListen *listen = g_new0 (ThServerListen, 1);

  if (conn_quark == 0)
    conn_quark = g_quark_from_static_string ("th-server-http-conn");
  listen->server = server;
  listen->conns = g_hash_table_new (NULL, NULL);
  listen->cancellable = g_cancellable_new ();
  g_queue_init (&listen->http);
  listen->head_epfd = -1;
  listen->backlog = SOMAXCONN;
  listen->max_sockets = 1024;
  listen->header_timeout = DEFAULT_HEADER_TIMEOUT;
  listen->body_timeout = DEFAULT_BODY_TIMEOUT;
  listen->idle_timeout = DEFAULT_IDLE_TIMEOUT;
  return listen;
}

/* [server] reuse-port: several processes on one port, the kernel
 * spreading the connections between them, so one box uses all its cores
 * (docs/deploy.md). g_socket_bind() turns SO_REUSEPORT off for a stream
 * socket, hence bind(2) here. */
static gboolean
bind_reuse_port (GSocket         *socket,
                 GSocketAddress  *address,
                 GError         **error)
{
  struct sockaddr_storage native;
  gsize len = g_socket_address_get_native_size (address);
  int fd = g_socket_get_fd (socket);

  if (!g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, TRUE, error) ||
      !g_socket_set_option (socket, SOL_SOCKET, SO_REUSEPORT, TRUE, error) ||
      !g_socket_address_to_native (address, &native, sizeof native, error))
    {
      g_prefix_error (error, "[server] reuse-port: ");
      return FALSE;
    }
  if (bind (fd, (struct sockaddr *) &native, (socklen_t) len) < 0)
    {
      int errsv = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
                   "Error binding to address with SO_REUSEPORT: %s", g_strerror (errsv));
      return FALSE;
    }
  return TRUE;
}

gboolean
th_server_listen_start (ThServerListen  *listen,
                        GSocketAddress  *address,
                        GError         **error)
{
  SoupServer *soup = th_server_get_soup (listen->server);
  g_autoptr(GSocket) socket = NULL;
  guint limit = fd_limit ();

  if (limit != G_MAXUINT && listen->max_sockets > limit - MIN (limit, FD_RESERVE))
    {
      guint usable = limit > FD_RESERVE * 2 ? limit - FD_RESERVE : limit / 2;

      /* Only worth a warning when the limit cannot serve max-connections,
       * or max-sockets was asked for. */
      if (listen->max_sockets_configured || th_server_get_max_connections (listen->server) > usable)
        g_warning ("server: [server] %s is %u but the process may open only %u files: "
                   "serving at most %u sockets; raise the limit (ulimit -n, LimitNOFILE=)",
                   listen->max_sockets_configured ? "max-sockets" : "max-connections",
                   listen->max_sockets_configured ? listen->max_sockets
                                                  : th_server_get_max_connections (listen->server),
                   limit, usable);
      listen->max_sockets = usable;
    }

  socket = g_socket_new (g_socket_address_get_family (address), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return FALSE;
  if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, (int) listen->backlog);
  if (!(listen->reuse_port ? bind_reuse_port (socket, address, error) : g_socket_bind (socket, address, TRUE, error)) ||
      !g_socket_listen (socket, error) ||
      !soup_server_listen_socket (soup, socket,
                                  th_server_is_tls (listen->server) ? SOUP_SERVER_LISTEN_HTTPS : 0, error))
    return FALSE;
  listen->socket = g_steal_pointer (&socket);

  /* libsoup before 3.3 never lets go of a keep-alive connection that the
   * client closes between two requests: the next request's message has
   * nobody to tell when it fails, so nothing disconnects it (fixed by
   * libsoup's "server: do not leak idle connections closed by the
   * client"). Its socket, its max-sockets slot and libsoup's objects would
   * stay until the daemon exits, whatever idle-timeout's shutdown does.
   * With such a libsoup (Debian 12 has 3.2), every answer but a WebSocket
   * upgrade closes its connection, as HTTP/1.1 allows: no connection is
   * ever idle. */
  listen->close_after_answer = !soup_check_version (3, 3, 0);
  listen->started_id = g_signal_connect (soup, "request-started", G_CALLBACK (on_request_started), listen);
  listen->read_id = g_signal_connect (soup, "request-read", G_CALLBACK (on_request_read), listen);
  listen->finished_id = g_signal_connect (soup, "request-finished", G_CALLBACK (on_request_done), listen);
  listen->aborted_id = g_signal_connect (soup, "request-aborted", G_CALLBACK (on_request_done), listen);
  if (!th_server_is_tls (listen->server))
    {
      listen->head_epfd = epoll_create1 (EPOLL_CLOEXEC);
      if (listen->head_epfd < 0)
        {
          int errsv = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "epoll_create1: %s", g_strerror (errsv));
          return FALSE;
        }
      listen->head_source = g_unix_fd_source_new (listen->head_epfd, G_IO_IN);
      g_source_set_static_name (listen->head_source, "[server] first requests");
      g_source_set_priority (listen->head_source, HEAD_PRIORITY);
      g_source_set_callback (listen->head_source, G_SOURCE_FUNC (head_dispatch), listen, NULL);
      g_source_attach (listen->head_source, NULL);
    }
  attach_accept (listen);
  listen->sweep_id = g_timeout_add_seconds (1, sweep, listen);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, listen->sweep_id), "[server] timeouts");
  return TRUE;
}

/* No more accepting; connections already accepted are libsoup's (or
 * the WebSockets') to end. */
void
th_server_listen_stop (ThServerListen *listen)
{
  SoupServer *soup = th_server_get_soup (listen->server);

  if (listen->accept_source != NULL)
    {
      g_source_destroy (listen->accept_source);
      g_clear_pointer (&listen->accept_source, g_source_unref);
    }
  g_cancellable_cancel (listen->cancellable);
  if (listen->head_source != NULL)
    {
      GList *next;

      /* Those still held are ours to end. */
      for (GList *l = listen->http.head; l != NULL; l = next)
        {
          next = l->next;
          if (((HttpConn *) l->data)->held != NULL)
            conn_drop (l->data);
        }
      g_source_destroy (listen->head_source);
      g_clear_pointer (&listen->head_source, g_source_unref);
    }
  g_clear_handle_id (&listen->retry_id, g_source_remove);
  g_clear_handle_id (&listen->sweep_id, g_source_remove);
  if (soup != NULL)
    {
      g_clear_signal_handler (&listen->started_id, soup);
      g_clear_signal_handler (&listen->read_id, soup);
      g_clear_signal_handler (&listen->finished_id, soup);
      g_clear_signal_handler (&listen->aborted_id, soup);
    }
}

void
th_server_listen_free (ThServerListen *listen)
{
  GHashTableIter iter;
  gpointer c;

  if (listen == NULL)
    return;
  th_server_listen_stop (listen);
  /* Connections still open (a WebSocket not yet finalized) outlive us:
   * forget them. */
  g_hash_table_iter_init (&iter, listen->conns);
  while (g_hash_table_iter_next (&iter, &c, NULL))
    {
      HttpConn *hc = c;

      if (hc->stream != NULL)
        g_object_weak_unref (G_OBJECT (hc->stream), conn_gone, hc);
      conn_free (hc);
    }
  g_hash_table_unref (listen->conns);
  g_clear_object (&listen->cancellable);
  g_clear_object (&listen->socket);
  if (listen->head_epfd >= 0)
    close (listen->head_epfd);
  g_free (listen);
}
