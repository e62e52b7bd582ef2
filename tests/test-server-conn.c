/* test-server-conn.c: the server's connections: storms, accepting while
 * broadcasting, limits, HTTP timeouts and request framing
 *
 * The hub and the server sink run in the main thread; the clients are raw
 * sockets, many at once, driven by a second thread with epoll (a storm),
 * or one by one from the main thread (framing, timeouts). These check
 * behaviour: every client of a storm gets in, none waits for the
 * broadcast, limits refuse cleanly; how fast is bench/fanout's business.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "th-private.h"
#include "test-utils.h"

#define WAIT_USEC (20 * G_USEC_PER_SEC)

typedef struct
{
  ThHub *hub;
  guint  port;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=server\nsymbols=BTC;ETH\ntimeframes=1m\n"
    "[prices]\norder=binance\n[binance]\nttl=3600\n"
    "[server]\nlisten=127.0.0.1:0\nstatus-interval=0\nrate-limit=0\nping-interval=3600\n%s\n",
    data != NULL ? (const char *) data : "");

  fx->hub = th_test_hub_new (text, NULL);
  th_hub_start (fx->hub);
  fx->port = th_test_server_port (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  th_test_hub_stop (fx->hub);
  g_clear_object (&fx->hub);
  th_test_drain ();
}

static guint
fd_budget (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return 100000;
  /* Both ends of each connection are in this process. */
  return rl.rlim_cur > 400 ? (guint) (rl.rlim_cur - 200) / 2 : 100;
}

static int
connect_to (guint    port,
            gboolean blocking)
{
  struct sockaddr_in sa = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  int one = 1;

  g_assert_cmpint (fd, >=, 0);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    g_assert_cmpint (errno, ==, EINPROGRESS);
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static char *exchange (Fixture *fx, const char *request, gint64 wait_usec);

/* /metrics, on a connection of its own that closes after it. */
static char *
metrics (Fixture *fx)
{
  g_autofree char *answer = exchange (fx, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                      WAIT_USEC);

  g_assert_nonnull (answer);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 "));
  return g_strdup (strstr (answer, "\r\n\r\n") + 4);
}

static double
metric (Fixture    *fx,
        const char *line_start)
{
  g_autofree char *text = metrics (fx);
  g_autofree char *needle = g_strconcat ("\n", line_start, " ", NULL);
  const char *p = strstr (text, needle);

  if (p == NULL)
    g_error ("no “%s” in /metrics:\n%s", line_start, text);
  return g_ascii_strtod (p + strlen (needle), NULL);
}

/* Storms: many raw WebSocket clients from a second thread */

typedef enum
{
  C_CONNECTING,
  C_HANDSHAKE,         /* request sent; waiting for the connected event */
  C_IN,
  C_REFUSED,           /* an HTTP error (503) */
  C_FAILED,
} ClientState;

typedef struct
{
  int          fd;
  ClientState  state;
  guint        status;
  GString     *in;
  guint        updates;
} Client;

typedef struct
{
  guint     port;
  guint     n;
  gboolean  socketio;
  Client   *clients;
  gint      done;          /* the storm is over (every client in or out) */
  gint      updates;       /* financial_data_update frames read, every client */
  gint      quit;
  guint     in;            /* counts, once done */
  guint     refused;
  guint     failed;
  gint64    took;          /* µs from the first connect to the last answer */
  GThread  *thread;
} Storm;

static void
send_all (int         fd,
          const char *data,
          gsize       len)
{
  while (len > 0)
    {
      gssize n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        {
          g_usleep (100);
          continue;
        }
      g_assert_cmpint (n, >, 0);
      data += n;
      len -= n;
    }
}

/* A masked text frame, as a client sends. */
static void
send_text_frame (int         fd,
                 const char *text)
{
  guint8 frame[256];
  gsize len = strlen (text);

  g_assert_cmpuint (len, <, 126);
  frame[0] = 0x81;
  frame[1] = 0x80 | (guint8) len;
  memset (frame + 2, 0, 4);           /* a zero mask: the text as is */
  memcpy (frame + 6, text, len);
  send_all (fd, (const char *) frame, 6 + len);
}

static void
client_send_handshake (Storm  *st,
                       Client *c)
{
  g_autofree char *req = g_strdup_printf (
    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    st->socketio ? "/socket.io/?EIO=4&transport=websocket" : "/ws", st->port);

  send_all (c->fd, req, strlen (req));
  c->state = C_HANDSHAKE;
}

/* What came on @c so far moves it on. */
static void
client_progress (Storm  *st,
                 Client *c)
{
  const char *text = c->in->str;

  if (c->state == C_HANDSHAKE)
    {
      if (c->in->len >= 12 && !g_str_has_prefix (text, "HTTP/1.1 101"))
        {
          c->status = (guint) g_ascii_strtoull (text + 9, NULL, 10);
          c->state = C_REFUSED;
          return;
        }
      if (memmem (text, c->in->len, "\"connected\"", 11) != NULL)
        {
          c->state = C_IN;
          send_text_frame (c->fd, st->socketio ? "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]"
                                               : "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
          g_string_truncate (c->in, 0);
        }
    }
  else if (c->state == C_IN)
    {
      static const char name[] = "financial_data_update";
      const char *p = text, *end = text + c->in->len;

      /* Frame headers hold NUL bytes: memmem, not strstr. */
      while ((p = memmem (p, end - p, name, sizeof name - 1)) != NULL)
        {
          c->updates++;
          g_atomic_int_inc (&st->updates);
          p += sizeof name - 1;
        }
      /* Keep a tail that may hold half a name. */
      if (c->in->len >= sizeof name)
        g_string_erase (c->in, 0, c->in->len - (sizeof name - 2));
    }
}

static gpointer
storm_thread (gpointer data)
{
  Storm *st = data;
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + WAIT_USEC;
  guint settled = 0;

  for (guint i = 0; i < st->n; i++)
    {
      Client *c = &st->clients[i];
      struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };

      c->fd = connect_to (st->port, FALSE);
      c->in = g_string_new (NULL);
      c->state = C_CONNECTING;
      epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
    }

  while (!g_atomic_int_get (&st->quit))
    {
      struct epoll_event events[256];
      int n = epoll_wait (ep, events, G_N_ELEMENTS (events), 20);

      for (int i = 0; i < n; i++)
        {
          Client *c = events[i].data.ptr;
          ClientState before = c->state;

          if (c->state == C_CONNECTING && (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            {
              int err = 0;
              socklen_t len = sizeof err;
              struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

              getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
              if (err != 0)
                c->state = C_FAILED;
              else
                {
                  epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
                  client_send_handshake (st, c);
                }
            }
          if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->state != C_CONNECTING &&
              c->state != C_FAILED && c->state != C_REFUSED)
            for (;;)
              {
                char buf[8192];
                gssize r = recv (c->fd, buf, sizeof buf, 0);

                if (r > 0)
                  {
                    g_string_append_len (c->in, buf, r);
                    /* Socket.IO: answer the open packet with CONNECT. */
                    if (st->socketio && c->state == C_HANDSHAKE && memmem (c->in->str, c->in->len, "\"sid\"", 5) != NULL &&
                        !GPOINTER_TO_INT (c->status))
                      {
                        c->status = 1;   /* CONNECT sent */
                        send_text_frame (c->fd, "40");
                      }
                    client_progress (st, c);
                    continue;
                  }
                if (r == 0 || (errno != EAGAIN && errno != EINTR))
                  {
                    if (c->state == C_HANDSHAKE)
                      c->state = C_FAILED;
                    else if (c->state == C_IN)
                      c->state = C_FAILED;    /* dropped after it was in */
                    epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
                  }
                break;
              }
          if (before != c->state && (c->state == C_IN || c->state == C_REFUSED || c->state == C_FAILED) &&
              (before == C_HANDSHAKE || before == C_CONNECTING))
            settled++;
        }
      if (!g_atomic_int_get (&st->done) && (settled == st->n || g_get_monotonic_time () > deadline))
        {
          for (guint i = 0; i < st->n; i++)
            {
              st->in += st->clients[i].state == C_IN;
              st->refused += st->clients[i].state == C_REFUSED;
              st->failed += st->clients[i].state != C_IN && st->clients[i].state != C_REFUSED;
            }
          st->took = g_get_monotonic_time () - start;
          g_atomic_int_set (&st->done, TRUE);
        }
    }
  close (ep);
  return NULL;
}

static Storm *
storm_start (Fixture  *fx,
             guint     n,
             gboolean  socketio)
{
  Storm *st = g_new0 (Storm, 1);

  st->port = fx->port;
  st->n = n;
  st->socketio = socketio;
  st->clients = g_new0 (Client, n);
  st->thread = g_thread_new ("storm", storm_thread, st);
  return st;
}

/* Runs the main loop until every client of @st is in or out. */
static void
storm_wait (Storm *st)
{
  while (!g_atomic_int_get (&st->done))
    g_main_context_iteration (NULL, FALSE);
  g_test_message ("%u clients: %u in, %u refused, %u failed, in %.2f s",
                  st->n, st->in, st->refused, st->failed, st->took / 1e6);
}

static void
storm_free (Storm *st)
{
  g_atomic_int_set (&st->quit, TRUE);
  g_thread_join (st->thread);
  for (guint i = 0; i < st->n; i++)
    {
      close (st->clients[i].fd);
      g_string_free (st->clients[i].in, TRUE);
    }
  g_free (st->clients);
  g_free (st);
}

static void
test_storm (Fixture       *fx,
            gconstpointer  data)
{
  guint n = MIN (4000, fd_budget ());
  Storm *ws = storm_start (fx, n / 2, FALSE);
  Storm *sio = storm_start (fx, n / 2, TRUE);

  storm_wait (ws);
  storm_wait (sio);
  g_assert_cmpuint (ws->in, ==, ws->n);
  g_assert_cmpuint (sio->in, ==, sio->n);
  th_test_run_for (100);
  g_assert_cmpfloat (metric (fx, "tickhub_server_clients{transport=\"websocket\"}"), ==, ws->n);
  g_assert_cmpfloat (metric (fx, "tickhub_server_clients{transport=\"socket.io/websocket\"}"), ==, sio->n);
  storm_free (ws);
  storm_free (sio);
}

/* The listening socket's backlog, as `ss -ltn` shows it: asked of the
 * kernel with sock_diag (for a listener, idiag_wqueue is the backlog). */
static guint
listen_backlog (guint port)
{
  struct
  {
    struct nlmsghdr         nlh;
    struct inet_diag_req_v2 r;
  } req = {
    .nlh = { .nlmsg_len = sizeof req, .nlmsg_type = SOCK_DIAG_BY_FAMILY, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
    .r = { .sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP, .idiag_states = 1 << 10 /* TCP_LISTEN */ },
  };
  int fd = socket (AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  guint backlog = 0;
  gboolean done = FALSE;

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (send (fd, &req, sizeof req, 0), ==, sizeof req);
  while (!done)
    {
      long buf[8192 / sizeof (long)];
      gssize n = recv (fd, buf, sizeof buf, 0);

      g_assert_cmpint (n, >, 0);
      for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK (h, (guint) n); h = NLMSG_NEXT (h, n))
        {
          struct inet_diag_msg *m = NLMSG_DATA (h);

          if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
            {
              done = TRUE;
              break;
            }
          if (ntohs (m->id.idiag_sport) == port)
            backlog = m->idiag_wqueue;
        }
    }
  close (fd);
  g_assert_cmpuint (backlog, >, 0);
  return backlog;
}

static guint
somaxconn (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/net/core/somaxconn", &text, NULL, NULL))
    return SOMAXCONN;
  return (guint) g_ascii_strtoull (text, NULL, 10);
}

static void
test_backlog (Fixture       *fx,
              gconstpointer  data)
{
  if (data == NULL)
    g_assert_cmpuint (listen_backlog (fx->port), ==, MIN (SOMAXCONN, somaxconn ()));
  else
    g_assert_cmpuint (listen_backlog (fx->port), ==, MIN (50, somaxconn ()));
}

/* Ticks pushed flat out while a second wave of clients connects: every
 * one of them gets in (accepting is not starved by the broadcast), and
 * the first wave goes on getting updates meanwhile (the broadcast is not
 * starved by the handshakes either). On /ws, or on Socket.IO, whose
 * clients also need the namespace CONNECT (`40`) answered while the
 * server broadcasts: it is read before the fan-out, in bounded batches. */
static void
accept_while_broadcasting (Fixture  *fx,
                           gboolean  socketio)
{
  guint budget = MIN (1000, fd_budget () / 2);
  Storm *first = storm_start (fx, budget, socketio);
  Storm *second;
  guint seq = 0;
  guint before, during;

  storm_wait (first);
  g_assert_cmpuint (first->in, ==, first->n);
  /* The first wave subscribed as it came in: the broadcast reaches it. */
  /* A client is in once it has its `connected` event; its subscription
   * follows, and an update broadcast before the server has read it is
   * rightly not for it: a price every 50 ms until one reaches the wave,
   * within a few seconds however loaded the machine. */
  for (guint i = 0; i < 100 && g_atomic_int_get (&first->updates) == 0; i++)
    {
      th_test_push_quote (fx->hub, "BTC", 99 + i % 2);
      th_test_run_for (50);
    }
  before = (guint) g_atomic_int_get (&first->updates);
  g_assert_cmpuint (before, >, 0);
  second = storm_start (fx, budget, socketio);
  while (!g_atomic_int_get (&second->done))
    {
      for (guint i = 0; i < 20; i++)
        th_test_push_quote (fx->hub, "BTC", 100 + (seq++ % 1000));
      g_main_context_iteration (NULL, FALSE);
    }
  during = (guint) g_atomic_int_get (&first->updates) - before;
  storm_wait (second);
  g_assert_cmpuint (second->in, ==, second->n);
  /* Updates reached the first wave while the second connected. */
  g_test_message ("the first wave read %u updates while the second connected", during);
  g_assert_cmpuint (during, >, 0);
  /* And the broadcast went on meanwhile: the first wave got updates. */
  th_test_run_for (200);
  {
    guint64 updates = 0;

    for (guint i = 0; i < first->n; i++)
      updates += first->clients[i].updates;
    g_test_message ("%u ticks pushed while %u clients connected; the first wave read %" G_GUINT64_FORMAT " updates",
                    seq, second->n, updates);
    g_assert_cmpuint (updates, >, 0);
  }
  storm_free (first);
  storm_free (second);
}

static void
test_accept_while_broadcasting (Fixture       *fx,
                                gconstpointer  data)
{
  accept_while_broadcasting (fx, FALSE);
}

static void
test_sio_accept_while_broadcasting (Fixture       *fx,
                                    gconstpointer  data)
{
  accept_while_broadcasting (fx, TRUE);
}

/* Over max-connections: the extra clients get 503 at once, the others
 * are in and keep getting updates. */
static void
test_over_the_limit (Fixture       *fx,
                     gconstpointer  data)
{
  Storm *st = storm_start (fx, 60, FALSE);
  guint before = 0, after = 0;

  storm_wait (st);
  g_assert_cmpuint (st->in, ==, 50);
  g_assert_cmpuint (st->refused, ==, 10);
  for (guint i = 0; i < st->n; i++)
    if (st->clients[i].state == C_REFUSED)
      g_assert_cmpuint (st->clients[i].status, ==, 503);
  th_test_run_for (100);
  for (guint i = 0; i < st->n; i++)
    before += st->clients[i].updates;
  th_test_push_quote (fx->hub, "BTC", 42000);
  th_test_run_for (300);
  for (guint i = 0; i < st->n; i++)
    after += st->clients[i].updates;
  g_assert_cmpuint (after - before, ==, 50);
  storm_free (st);
}

/* One connection at a time, from the main thread */

/* Sends @request, then reads until the server closes the connection (or
 * @wait_usec passes: then returns NULL). */
static char *
exchange (Fixture    *fx,
          const char *request,
          gint64      wait_usec)
{
  int fd = connect_to (fx->port, TRUE);
  GString *got = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + wait_usec;

  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  if (request != NULL && *request != '\0')
    g_assert_cmpint (send (fd, request, strlen (request), MSG_NOSIGNAL), ==, (gssize) strlen (request));
  for (;;)
    {
      char buf[4096];
      gssize n = recv (fd, buf, sizeof buf, 0);

      if (n > 0)
        g_string_append_len (got, buf, n);
      else if (n == 0 || errno != EAGAIN)
        break;
      if (g_get_monotonic_time () > deadline)
        {
          close (fd);
          g_string_free (got, TRUE);
          return NULL;
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  close (fd);
  return g_string_free (got, FALSE);
}

static guint
count_responses (const char *text)
{
  guint n = 0;

  for (const char *p = text; (p = strstr (p, "HTTP/1.1 ")) != NULL; p++)
    n++;
  return n;
}

static void
test_framing (Fixture       *fx,
              gconstpointer  data)
{
  static const struct
  {
    const char *head;
    gboolean    ours;    /* FALSE: libsoup may refuse it itself, before any handler */
  } cases[] = {
    /* Content-Length with Transfer-Encoding */
    { "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", TRUE },
    { "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
      "Transfer-Encoding: chunked\r\n\r\n", TRUE },
    /* not a number */
    { "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", TRUE },
    { "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", TRUE },
    { "GET /ws HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n", TRUE },
    /* Two different lengths, as two lines or one list, a hexadecimal
     * one: libsoup refuses some of these itself (400, then it closes). */
    { "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", FALSE },
    { "POST /api/v1/prices HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", FALSE },
    { "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n", FALSE },
  };
  /* The smuggled request that follows must never be answered. */
  static const char smuggled[] = "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  guint n_ours = 0;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *request = NULL;
      g_autofree char *answer = NULL;

#ifdef __SANITIZE_ADDRESS__
      /* libsoup 3.2.3 leaks the request's path when it refuses one
       * itself (fixed upstream in 3.4, docs/platform.md). */
      if (!cases[i].ours)
        continue;
#endif
      request = g_strconcat (cases[i].head, smuggled, NULL);
      answer = exchange (fx, request, WAIT_USEC);
      g_test_message ("%s→ %s", cases[i].head, answer != NULL ? answer : "(nothing)");
      g_assert_nonnull (answer);    /* answered, and the connection closed */
      g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 400 "));
      g_assert_cmpuint (count_responses (answer), ==, 1);
      if (cases[i].ours || strstr (answer, "\"bad_request\"") != NULL)
        {
          g_assert_nonnull (strstr (answer, "\r\nConnection: close\r\n"));
          g_assert_nonnull (strstr (answer, "\"bad_request\""));
          n_ours++;
        }
    }
  g_assert_cmpfloat (metric (fx, "tickhub_server_http_bad_framing_total"), ==, n_ours);

  /* A plain request still works, and keep-alive with it (with libsoup
   * before 3.3 each answer closes its connection: see
   * test_closed_between_requests). */
  {
    g_autofree char *answer = exchange (fx, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                                        WAIT_USEC);

    g_assert_nonnull (answer);
    g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 200 "));
    g_assert_cmpuint (count_responses (answer), ==, soup_check_version (3, 3, 0) ? 2 : 1);
  }
}

/* A POST for a Socket.IO session that does not exist is refused before
 * its body is read (the 64 KB are never sent, the answer still comes). */
static void
test_unknown_session_post (Fixture       *fx,
                           gconstpointer  data)
{
  g_autofree char *answer = exchange (fx, "POST /socket.io/?EIO=4&transport=polling&sid=nope HTTP/1.1\r\n"
                                          "Host: x\r\nContent-Type: text/plain\r\nContent-Length: 65536\r\n\r\n4hello",
                                      WAIT_USEC);

  g_assert_nonnull (answer);
  g_assert_true (g_str_has_prefix (answer, "HTTP/1.1 400 "));
  g_assert_nonnull (strstr (answer, "Session ID unknown"));
}

/* header-timeout=1, body-timeout=1, idle-timeout=1 */
static void
test_timeouts (Fixture       *fx,
               gconstpointer  data)
{
  static const struct
  {
    const char *what;
    const char *request;
  } cases[] = {
    { "nothing at all", "" },
    { "half a request line", "GET /heal" },
    { "headers without their end", "GET /healthz HTTP/1.1\r\nHost: x\r\n" },
    { "part of a body", NULL },    /* a POST to a real Socket.IO session, below */
    { "an idle keep-alive connection", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" },
  };
  g_autoptr(SoupSession) session = th_test_session_new ();
  g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", fx->port);
  g_autoptr(ThTestWs) ws = th_test_ws_connect (session, soup_message_new ("GET", url), NULL);

  g_autofree char *open = exchange (fx, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
                                        "Connection: close\r\n\r\n", WAIT_USEC);
  const char *sid = strstr (open, "\"sid\":\"");
  g_autofree char *post = NULL;

  g_assert_nonnull (ws->conn);
  g_assert_nonnull (sid);
  post = g_strdup_printf ("POST /socket.io/?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\nHost: x\r\n"
                          "Content-Type: text/plain\r\nContent-Length: 100\r\n\r\n4hello",
                          (int) strcspn (sid + 7, "\""), sid + 7);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 start = g_get_monotonic_time ();
      g_autofree char *answer = exchange (fx, cases[i].request != NULL ? cases[i].request : post,
                                          6 * G_USEC_PER_SEC);

      g_test_message ("%s: closed after %.1f s", cases[i].what, (g_get_monotonic_time () - start) / 1e6);
      g_assert_nonnull (answer);     /* closed by the server */
    }
  g_assert_cmpfloat (metric (fx, "tickhub_server_http_timeouts_total{phase=\"header\"}"), >=, 3);
  g_assert_cmpfloat (metric (fx, "tickhub_server_http_timeouts_total{phase=\"body\"}"), ==, 1);
  /* With libsoup before 3.3 the answer closes the connection: never idle. */
  if (soup_check_version (3, 3, 0))
    g_assert_cmpfloat (metric (fx, "tickhub_server_http_timeouts_total{phase=\"idle\"}"), >=, 1);
  else
    g_assert_cmpfloat (metric (fx, "tickhub_server_http_timeouts_total{phase=\"idle\"}"), ==, 0);
  /* The WebSocket has been idle all along: no HTTP timeout applies. */
  g_assert_false (ws->closed);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets"), >=, 1);
}

static gboolean read_answer (int fd, GString *got);

/* A connection's first request is held until its head has arrived
 * (th-server-listen.c, "The first request"): a head sent in pieces, with
 * the server running between them, and one longer than what is peeked,
 * are answered like any other; a WebSocket upgrade in pieces too. */
static void
test_request_in_pieces (Fixture       *fx,
                        gconstpointer  data)
{
  static const char *const pieces[] = { "GET /hea", "lthz HTTP/1.1\r\nHo", "st: x\r\nConnection: close\r\n", "\r", "\n" };
  int fd = connect_to (fx->port, TRUE);
  GString *got = g_string_new (NULL);
  g_autoptr(GString) pad = g_string_new ("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ");
  g_autofree char *long_answer = NULL;
  g_autofree char *ws_answer = NULL;
  gint64 deadline;

  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (pieces); i++)
    {
      send_all (fd, pieces[i], strlen (pieces[i]));
      for (guint j = 0; j < 20; j++)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (1000);
        }
      if (i + 1 < G_N_ELEMENTS (pieces))
        {
          char c;

          /* Nothing answered before the head is whole. */
          g_assert_cmpint (recv (fd, &c, 1, MSG_PEEK), ==, -1);
          g_assert_cmpint (errno, ==, EAGAIN);
        }
    }
  deadline = g_get_monotonic_time () + WAIT_USEC;
  while (!read_answer (fd, got) && g_get_monotonic_time () < deadline)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  close (fd);
  g_assert_true (g_str_has_prefix (got->str, "HTTP/1.1 200 "));
  g_string_free (got, TRUE);

  /* Longer than the 8 KB peeked: libsoup reads it all. */
  for (guint i = 0; i < 1000; i++)
    g_string_append (pad, "0123456789");
  g_string_append (pad, "\r\n\r\n");
  long_answer = exchange (fx, pad->str, WAIT_USEC);
  g_assert_nonnull (long_answer);
  g_assert_true (g_str_has_prefix (long_answer, "HTTP/1.1 200 "));

  /* An upgrade whose head comes in two parts. */
  fd = connect_to (fx->port, TRUE);
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  send_all (fd, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", 68);
  for (guint j = 0; j < 20; j++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  send_all (fd, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 74);
  got = g_string_new (NULL);
  deadline = g_get_monotonic_time () + WAIT_USEC;
  while (strstr (got->str, "\r\n\r\n") == NULL && g_get_monotonic_time () < deadline)
    {
      char buf[4096];
      gssize n = recv (fd, buf, sizeof buf, 0);

      if (n > 0)
        g_string_append_len (got, buf, n);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }
  close (fd);
  ws_answer = g_string_free (got, FALSE);
  g_assert_true (g_str_has_prefix (ws_answer, "HTTP/1.1 101 "));
  g_assert_nonnull (strstr (ws_answer, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

/* Reads @fd (non-blocking) into @got; TRUE once it holds a whole answer
 * (its headers and Content-Length bytes of body, if any). */
static gboolean
read_answer (int      fd,
             GString *got)
{
  const char *end, *length;
  char buf[4096];
  gssize n;

  while ((n = recv (fd, buf, sizeof buf, 0)) > 0)
    g_string_append_len (got, buf, n);
  end = strstr (got->str, "\r\n\r\n");
  if (end == NULL)
    return FALSE;
  length = g_strstr_len (got->str, end - got->str, "\r\nContent-Length: ");
  return length == NULL ||     /* 204 */
         got->len - (gsize) (end + 4 - got->str) >= g_ascii_strtoull (length + 18, NULL, 10);
}

/* A client that closes its keep-alive connection after an answer, before
 * another request, frees its socket and its max-sockets slot. libsoup
 * before 3.3 never notices such a close (the socket stayed open until the
 * daemon exited, and an idle-timeout's shutdown did not free it either),
 * so with it every answer closes its connection; later ones notice. */
static void
test_closed_between_requests (Fixture       *fx,
                              gconstpointer  data)
{
  static const char *const requests[] = {
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/v1/prices HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
    "OPTIONS /api/v1/prices HTTP/1.1\r\nHost: x\r\nOrigin: http://example.com\r\n"
    "Access-Control-Request-Method: GET\r\n\r\n",
  };

  for (guint round = 0; round < 4; round++)
    for (guint i = 0; i < G_N_ELEMENTS (requests); i++)
      {
        int fd = connect_to (fx->port, TRUE);
        g_autoptr(GString) got = g_string_new (NULL);

        send_all (fd, requests[i], strlen (requests[i]));
        g_unix_set_fd_nonblocking (fd, TRUE, NULL);
        th_test_wait_until (read_answer (fd, got), TH_TEST_WAIT_MS);
        g_assert_true (g_str_has_prefix (got->str, "HTTP/1.1 "));
        if (!soup_check_version (3, 3, 0))
          g_assert_nonnull (strstr (got->str, "\r\nConnection: close\r\n"));
        close (fd);
      }
  /* Only the /metrics connection that asks is left. */
  th_test_wait_until (metric (fx, "tickhub_server_sockets") == 1, TH_TEST_WAIT_MS);
}

/* Sockets that never became clients count against max-sockets: over
 * it, a new one is closed at once. */
static void
test_max_sockets (Fixture       *fx,
                  gconstpointer  data)
{
  int fds[9];
  g_autofree char *answer = NULL;

  /* The refusal is a warning: captured, not fatal. */
  th_test_capture_log ("Tickhub-Server");

  for (guint i = 0; i < G_N_ELEMENTS (fds) - 1; i++)
    fds[i] = connect_to (fx->port, TRUE);
  th_test_run_for (200);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets"), ==, 8 + 1);   /* + this /metrics */
  /* Two more: the 9th is the last one allowed, the 10th too many. */
  fds[G_N_ELEMENTS (fds) - 1] = connect_to (fx->port, TRUE);
  th_test_run_for (100);
  answer = exchange (fx, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5 * G_USEC_PER_SEC);
  g_assert_nonnull (answer);
  g_assert_cmpstr (answer, ==, "");        /* closed without a word */
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
  th_test_run_for (300);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets_refused_total"), ==, 1);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets"), ==, 1);
  g_assert_true (th_test_log_contains ("the [server] max-sockets limit: closing new ones"));
}

/* Reads what has come on @fd (non-blocking) into @got; TRUE once @needle
 * is in it. */
static gboolean
read_until_has (int         fd,
                GString    *got,
                const char *needle)
{
  char buf[4096];
  gssize n;

  while ((n = recv (fd, buf, sizeof buf, 0)) > 0)
    g_string_append_len (got, buf, n);
  return memmem (got->str, got->len, needle, strlen (needle)) != NULL;
}

/* A WebSocket client (/ws, or Socket.IO's websocket transport) connected
 * and subscribed to BTC; its input so far is dropped. */
static int
ws_client_open (Fixture  *fx,
                gboolean  socketio)
{
  int fd = connect_to (fx->port, TRUE);
  g_autoptr(GString) got = g_string_new (NULL);
  g_autofree char *req = g_strdup_printf (
    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    socketio ? "/socket.io/?EIO=4&transport=websocket" : "/ws", fx->port);

  send_all (fd, req, strlen (req));
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  if (socketio)
    {
      th_test_wait_until (read_until_has (fd, got, "\"sid\""), TH_TEST_WAIT_MS);
      send_text_frame (fd, "40");
    }
  th_test_wait_until (read_until_has (fd, got, "\"connected\""), TH_TEST_WAIT_MS);
  g_assert_true (g_str_has_prefix (got->str, "HTTP/1.1 101 "));
  send_text_frame (fd, socketio ? "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]"
                                : "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}");
  g_string_truncate (got, 0);
  th_test_wait_until (read_until_has (fd, got, "BTC"), TH_TEST_WAIT_MS);
  return fd;
}

/* A plain-TCP WebSocket is driven on a descriptor of its own once it is
 * upgraded (its GIO and libsoup objects let go): it still counts as a
 * socket, against max-sockets too, until it closes, and it still gets
 * its updates. */
static void
test_websocket_sockets (Fixture       *fx,
                        gconstpointer  data)
{
  int ws[4];
  int idle[5];
  g_autofree char *answer = NULL;

  th_test_capture_log ("Tickhub-Server");

  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    ws[i] = ws_client_open (fx, i % 2 == 1);
  th_test_run_for (100);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets"), ==, 4 + 1);   /* + this /metrics */

  /* Four idle sockets, then a fifth: max-sockets (9) are open... */
  for (guint i = 0; i < G_N_ELEMENTS (idle) - 1; i++)
    idle[i] = connect_to (fx->port, TRUE);
  th_test_run_for (200);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets"), ==, 8 + 1);
  idle[G_N_ELEMENTS (idle) - 1] = connect_to (fx->port, TRUE);
  th_test_run_for (100);
  /* ...and the next one is closed at once: the WebSockets count. */
  answer = exchange (fx, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 5 * G_USEC_PER_SEC);
  g_assert_nonnull (answer);
  g_assert_cmpstr (answer, ==, "");
  for (guint i = 0; i < G_N_ELEMENTS (idle); i++)
    close (idle[i]);
  th_test_run_for (300);

  /* An update still reaches every one of them. */
  th_test_push_quote (fx->hub, "BTC", 42123);
  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    {
      g_autoptr(GString) got = g_string_new (NULL);

      th_test_wait_until (read_until_has (ws[i], got, "42123"), TH_TEST_WAIT_MS);
    }

  /* Closed by the clients: their slots come back. */
  for (guint i = 0; i < G_N_ELEMENTS (ws); i++)
    close (ws[i]);
  th_test_wait_until (metric (fx, "tickhub_server_sockets") == 1, TH_TEST_WAIT_MS);
  g_assert_cmpfloat (metric (fx, "tickhub_server_sockets_refused_total"), ==, 1);
}

/* [server] reuse-port: two servers on one port (SO_REUSEPORT), both
 * answering; without it the second one cannot listen. */
static void
test_reuse_port (void)
{
  guint16 port = th_test_closed_port ();
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                                           "[server]\nlisten=127.0.0.1:%u\nstatus-interval=0\nreuse-port=true\n",
                                           port);
  g_autofree char *plain = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                                            "[server]\nlisten=127.0.0.1:%u\nstatus-interval=0\n", port);
  g_autoptr(ThHub) a = th_test_hub_new (text, NULL);
  g_autoptr(ThHub) b = th_test_hub_new (text, NULL);
  g_autoptr(ThHub) c = th_test_hub_new (plain, NULL);
  g_autofree char *listening = g_strdup_printf ("listening on http://127.0.0.1:%u/", port);
  GPtrArray *log = th_test_capture_log ("Tickhub-Server");
  guint n_listening = 0;

  th_hub_start (a);
  th_hub_start (b);
  g_assert_cmpuint (th_test_server_port (a), ==, port);
  g_assert_cmpuint (th_test_server_port (b), ==, port);
  g_assert_null (th_hub_get_plugin_error (a, "server"));
  g_assert_null (th_hub_get_plugin_error (b, "server"));

  for (guint i = 0; i < log->len; i++)
    if (strstr (log->pdata[i], listening) != NULL)
      n_listening++;
  g_assert_cmpuint (n_listening, ==, 2);

  /* Without the option on both sides, the port is taken (a warning). */
  th_hub_start (c);
  g_assert_true (th_test_log_contains ("Address already in use"));

  th_test_hub_stop (a);
  th_test_hub_stop (b);
  th_test_hub_stop (c);
}

static void
test_config_problems (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThHub) hub = th_test_hub_try_new ("[tickhub]\nplugins=server\nsymbols=BTC\n"
                                              "[server]\nmax-connections=100\nbacklog=0\nmax-sockets=10\n"
                                              "header-timeout=-1\nbody-timeout=100000\nidle-timeout=x\n",
                                              NULL, &error);

  g_assert_null (hub);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_nonnull (strstr (error->message, "[server] backlog: 0 is out of range"));
  g_assert_nonnull (strstr (error->message, "[server] max-sockets: 10 is out of range; give max-connections (100)"));
  g_assert_nonnull (strstr (error->message, "[server] header-timeout: -1 s is out of range"));
  g_assert_nonnull (strstr (error->message, "[server] body-timeout: 100000 s is out of range"));
  g_assert_nonnull (strstr (error->message, "[server] idle-timeout"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, group, func) \
  g_test_add (path, Fixture, group, fixture_setup, func, fixture_teardown)

  ADD ("/server/conn/backlog-somaxconn", NULL, test_backlog);
  ADD ("/server/conn/backlog-configured", "backlog=50", test_backlog);
  ADD ("/server/conn/storm", "max-connections=10000", test_storm);
  ADD ("/server/conn/accept-while-broadcasting", "max-connections=10000", test_accept_while_broadcasting);
  ADD ("/server/conn/socketio-accept-while-broadcasting", "max-connections=10000", test_sio_accept_while_broadcasting);
  ADD ("/server/conn/over-max-connections", "max-connections=50", test_over_the_limit);
  ADD ("/server/conn/max-sockets", "max-connections=5\nmax-sockets=9", test_max_sockets);
  ADD ("/server/conn/websocket-sockets", "max-connections=5\nmax-sockets=9", test_websocket_sockets);
  ADD ("/server/http/framing", NULL, test_framing);
  ADD ("/server/http/unknown-session-post", NULL, test_unknown_session_post);
  ADD ("/server/http/timeouts", "header-timeout=1\nbody-timeout=1\nidle-timeout=1", test_timeouts);
  ADD ("/server/http/closed-between-requests", NULL, test_closed_between_requests);
  ADD ("/server/http/request-in-pieces", NULL, test_request_in_pieces);
  g_test_add_func ("/server/conn/config-problems", test_config_problems);
  g_test_add_func ("/server/conn/reuse-port", test_reuse_port);

  return g_test_run ();
}
