/* fanout.c: one symbol room, N WebSocket clients
 *
 * Two modes. The hub and the server sink always run in the main thread on
 * 127.0.0.1:0; the main thread pushes ticks whose price is their sequence
 * number, and the clients note when each financial_data_update arrives.
 *
 * In-process (the default): N raw WebSocket clients run in a second thread
 * of this process (blocking handshakes one by one, then epoll), each
 * subscribed to BTC. Printed per N:
 *   - deliveries per second, pushing as fast as the server takes them
 *   - event-to-client latency p50/p99/p99.9 (push → frame read by the
 *     client), at a paced rate of 100 ticks/s
 *   - server memory per connection: RSS growth / N (user space; the
 *     clients' buffers are allocated before the baseline)
 *
 *   meson devenv -C build bench/fanout [--socketio] [N...]     (default: 100 1000 10000)
 *
 * External (--external): the clients are another process,
 * bench/fanout-clients (plain C, epoll), started next to this binary and
 * driven through a shared memory block (fanout-shared.h, fanout-driver.c),
 * so that what is measured is the server's own cost. With 2 CPUs or more
 * this process is pinned to the first and the clients to the second.
 * Printed per N:
 *   - the storm: N clients connect at once (every connect() first, then
 *     the handshakes); time until all have the server's `connected`
 *     event, failures, and those not in after 30 s
 *   - deliveries per second, pushing as fast as the server takes them
 *   - latency p50/p99/p99.9 at 10 updates/s for 5 s, as a feed pushes
 *   - server memory per idle connection: this process's RSS growth / N
 *   - accepting while saturated: M more clients (--extra M, default 2000)
 *     connect at once while the server sends as fast as it can to the N;
 *     new connections per second, failures, deliveries per second meanwhile
 * and first bench/writeloop (a plain epoll write loop, the reference) at
 * 1,000 clients, so that tickhub's latency is printed as a ratio of it.
 *
 *   meson devenv -C build bench/fanout --external [--socketio] [--extra M] [--phases] [N...]
 *                                                              (default: 1000 5000 10000)
 *
 * --phases prints where each phase starts in CLOCK_MONOTONIC seconds, for
 * `perf record -k mono` and `perf report --time START,END`.
 *
 * With --socketio the clients are Socket.IO clients on the websocket
 * transport (/socket.io/?EIO=4&transport=websocket, 40, then 42[...]
 * events) instead of /ws.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "th-private.h"
#include "fanout-driver.h"
#include "bench-hub.h"

#define CLIENT_BUF 4096

static gboolean use_socketio;

typedef struct
{
  int    fd;
  guint  len;
  guint8 buf[CLIENT_BUF];
} Conn;

typedef struct
{
  guint     n;
  guint     port;
  Conn     *conns;
  gint      ready;          /* all connected and subscribed */
  gint      quit;
  gint64   *push_time;      /* by sequence number */
  guint     max_seq;
  gint64   *samples;        /* latencies, µs */
  guint64   n_samples;
  guint64   max_samples;
  gint64    received;       /* deliveries */
  gint      recording;
} Bench;

/* The client thread */

static gboolean
write_all (int fd, const void *data, gsize len)
{
  const guint8 *p = data;

  while (len > 0)
    {
      ssize_t n = write (fd, p, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= n;
    }
  return TRUE;
}

/* Reads until @needle has come. */
static gboolean
read_until (Conn       *c,
            const char *needle)
{
  while (c->len < 4 || memmem (c->buf, c->len, needle, strlen (needle)) == NULL)
    {
      ssize_t n = read (c->fd, c->buf + c->len, CLIENT_BUF - c->len);

      if (n <= 0)
        return FALSE;
      c->len += n;
    }
  return TRUE;
}

/* A masked text frame, as a client sends. */
static gboolean
send_text (int         fd,
           const char *text)
{
  guint8 frame[128];
  guint8 mask[4] = { 0x11, 0x22, 0x33, 0x44 };
  gsize len = strlen (text);

  g_assert (len < 126);
  frame[0] = 0x81;
  frame[1] = 0x80 | (guint8) len;
  memcpy (frame + 2, mask, 4);
  for (gsize i = 0; i < len; i++)
    frame[6 + i] = text[i] ^ mask[i & 3];
  return write_all (fd, frame, 6 + len);
}

static gboolean
client_connect (Bench *b,
                Conn  *c)
{
  struct sockaddr_in sa = { 0 };
  char req[512];
  static const char sub[] = "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}";
  static const char sio_sub[] = "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]";
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return FALSE;
  sa.sin_family = AF_INET;
  sa.sin_port = htons (b->port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    return FALSE;
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_snprintf (req, sizeof req,
              "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
              use_socketio ? "/socket.io/?EIO=4&transport=websocket" : "/ws", b->port);
  if (!write_all (c->fd, req, strlen (req)))
    return FALSE;
  c->len = 0;
  if (use_socketio)
    {
      /* The 101 response and the open packet; then the namespace. */
      if (!read_until (c, "\"pingTimeout\"") || !send_text (c->fd, "40"))
        return FALSE;
    }
  /* The connected event */
  if (!read_until (c, "\"connected\""))
    return FALSE;
  c->len = 0;
  return send_text (c->fd, use_socketio ? sio_sub : sub);
}

static void
client_frames (Bench *b,
               Conn  *c,
               gint64 now)
{
  guint pos = 0;

  for (;;)
    {
      guint8 *p = c->buf + pos;
      guint avail = c->len - pos;
      guint64 len;
      guint hlen = 2;

      if (avail < 2)
        break;
      len = p[1] & 0x7F;
      if (len == 126)
        {
          if (avail < 4)
            break;
          len = (p[2] << 8) | p[3];
          hlen = 4;
        }
      else if (len == 127)
        g_error ("unexpected 64-bit frame");
      if (avail < hlen + len)
        break;
      if ((p[0] & 0x0F) == 1 && len > 40 &&
          (use_socketio ? memcmp (p + hlen, "42[\"financial_data_update\"", 26) == 0
                        : memcmp (p + hlen, "{\"event\":\"financial_data_update\"", 32) == 0))
        {
          const char *price = memmem (p + hlen, len, "\"price\":", 8);

          if (price != NULL)
            {
              guint seq = (guint) g_ascii_strtoull (price + 8, NULL, 10);

              b->received++;
              if (g_atomic_int_get (&b->recording) && seq < b->max_seq && b->n_samples < b->max_samples)
                {
                  gint64 sent = __atomic_load_n (&b->push_time[seq], __ATOMIC_ACQUIRE);

                  if (sent > 0)
                    b->samples[b->n_samples++] = now - sent;
                }
            }
        }
      pos += hlen + len;
    }
  memmove (c->buf, c->buf + pos, c->len - pos);
  c->len -= pos;
}

static gpointer
client_thread (gpointer data)
{
  Bench *b = data;
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  struct epoll_event events[256];

  for (guint i = 0; i < b->n; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &b->conns[i] };

      if (!client_connect (b, &b->conns[i]))
        g_error ("client %u cannot connect: %s", i, g_strerror (errno));
      g_unix_set_fd_nonblocking (b->conns[i].fd, TRUE, NULL);
      epoll_ctl (ep, EPOLL_CTL_ADD, b->conns[i].fd, &ev);
    }
  g_atomic_int_set (&b->ready, TRUE);

  while (!g_atomic_int_get (&b->quit))
    {
      int n = epoll_wait (ep, events, G_N_ELEMENTS (events), 50);
      gint64 now = g_get_monotonic_time ();

      for (int i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;

          for (;;)
            {
              ssize_t r = read (c->fd, c->buf + c->len, CLIENT_BUF - c->len);

              if (r <= 0)
                break;
              c->len += r;
              client_frames (b, c, now);
            }
        }
    }
  for (guint i = 0; i < b->n; i++)
    close (b->conns[i].fd);
  close (ep);
  return NULL;
}

/* The server side */

static int
compare_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* A tick whose price is @seq; its push time goes to @push_time[@seq]
 * when @seq < @max_seq. */
static void
push (ThHub  *hub,
      gint64 *push_time,
      guint   max_seq,
      guint   seq)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, seq, g_get_real_time ());

  tick->bid = seq - 0.5;
  tick->ask = seq + 0.5;
  tick->volume_24h = 12345.678;
  tick->change_24h = -1.25;
  if (seq < max_seq)
    __atomic_store_n (&push_time[seq], g_get_monotonic_time (), __ATOMIC_RELEASE);
  th_hub_push_tick (hub, tick);
}

/* A started hub with the server sink on 127.0.0.1:0, one symbol (BTC). */
static ThHub *
start_hub (guint  max_connections,
           guint *port)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\ntimeframes=1m\n"
                                           "[prices]\norder=binance\n[binance]\nttl=3600\n"
                                           "[server]\nlisten=127.0.0.1:0\nmax-connections=%u\nrate-limit=0\n"
                                           "status-interval=0\nclient-buffer=4194304\n"
                                           /* the in-process clients do not answer pings */
                                           "ping-interval=3600\n", max_connections);
  g_autoptr(GPtrArray) sinks = NULL;
  ThHub *hub = bench_hub_new (text, NULL);

  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  g_object_get (sinks->pdata[0], "port", port, NULL);
  return hub;
}

static void
stop_hub (ThHub *hub)
{
  bench_hub_stop (hub);
  g_object_unref (hub);
}

static void
run (guint n)
{
  ThHub *hub;
  Bench b = { 0 };
  GThread *thread;
  gint64 rss0, rss1, t0, t1;
  guint ticks = MAX (200, 2000000 / n);
  guint paced = 100;
  guint seq = 1;
  guint64 expected;

  hub = start_hub (n + 10, &b.port);

  b.n = n;
  b.conns = g_new0 (Conn, n);
  b.max_seq = ticks + paced + 2;
  b.push_time = g_new0 (gint64, b.max_seq);
  b.max_samples = (guint64) paced * n;
  b.samples = g_new (gint64, b.max_samples);
  /* Touch the client-side memory before the baseline. */
  memset (b.conns, 0, sizeof (Conn) * n);
  memset (b.samples, 0, sizeof (gint64) * b.max_samples);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  rss0 = fc_rss_bytes ();

  thread = g_thread_new ("clients", client_thread, &b);
  while (!g_atomic_int_get (&b.ready))
    g_main_context_iteration (NULL, FALSE);
  for (int i = 0; i < 200; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  rss1 = fc_rss_bytes ();

  /* Throughput: ticks as fast as the server takes them, 10 per main-loop
   * iteration, each to N clients. */
  expected = 0;
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < ticks; i++)
    {
      push (hub, b.push_time, b.max_seq, seq++);
      if (i % 10 == 9)
        g_main_context_iteration (NULL, FALSE);
    }
  expected = (guint64) ticks * n;
  while ((guint64) __atomic_load_n (&b.received, __ATOMIC_RELAXED) < expected &&
         g_get_monotonic_time () - t0 < 120 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, FALSE);
  t1 = g_get_monotonic_time ();

  /* Latency: paced, 100 ticks/s. */
  g_atomic_int_set (&b.recording, TRUE);
  for (guint i = 0; i < paced; i++)
    {
      gint64 next = g_get_monotonic_time () + 10000;

      push (hub, b.push_time, b.max_seq, seq++);
      while (g_get_monotonic_time () < next)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (100);
    }
  {
    gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while ((guint64) __atomic_load_n (&b.received, __ATOMIC_RELAXED) < expected + (guint64) paced * n &&
           g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE);
  }
  g_atomic_int_set (&b.quit, TRUE);
  g_thread_join (thread);

  qsort (b.samples, b.n_samples, sizeof (gint64), compare_i64);
  printf ("%s %6u clients: %9.0f deliveries/s (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " in %.2f s); "
          "latency at %u ticks/s p50 %.2f ms p99 %.2f ms p99.9 %.2f ms (%" G_GUINT64_FORMAT " samples); "
          "server memory %.1f KB per connection\n",
          use_socketio ? "socket.io" : "websocket", n, MIN ((guint64) b.received, expected) / ((t1 - t0) / 1e6), MIN ((guint64) b.received, expected),
          expected, (t1 - t0) / 1e6, 1000000 / 10000,
          b.n_samples ? b.samples[b.n_samples / 2] / 1000.0 : 0,
          b.n_samples ? b.samples[b.n_samples * 99 / 100] / 1000.0 : 0,
          b.n_samples ? b.samples[b.n_samples * 999 / 1000] / 1000.0 : 0,
          b.n_samples, (rss1 - rss0) / 1024.0 / n);
  fflush (stdout);

  stop_hub (hub);
  g_free (b.conns);
  g_free (b.push_time);
  g_free (b.samples);
}

/* The external mode: the clients in another process (fanout-clients) */

#define STORM_TIMEOUT_MS  30000
#define LATENCY_RATE      10          /* updates per second */
#define LATENCY_SECONDS   5
#define DEFAULT_EXTRA     2000
#define WINDOW_TICKS      32          /* accept while saturated: updates in flight per client */
#define TOPUP_CONCURRENCY 8           /* under the listen backlog of 10 */
#define TOPUP_TIMEOUT_MS  240000

static cpu_set_t original_cpus;       /* before we pinned ourselves */
static int server_cpu = -1;
static int client_cpu = -1;
static guint extra_clients = DEFAULT_EXTRA;
static gboolean show_phases;

/* With --phases: where each phase starts, in CLOCK_MONOTONIC seconds (the
 * clock of perf record -k mono, for perf report --time). */
static void
phase (guint       n,
       const char *name)
{
  if (show_phases)
    {
      printf ("phase %u %s %.6f\n", n, name, g_get_monotonic_time () / 1e6);
      fflush (stdout);
    }
}

typedef struct
{
  guint   n;
  double  load;                       /* 1-minute load average before */
  guint   storm_in, failed, timed_out; /* the storm */
  double  storm_s, storm_cpu_ms;
  guint   topped_up, topup_missing;   /* connected afterwards, a few at a time */
  double  topup_s;
  guint   in;                         /* subscribed, for what follows */
  guint64 delivered, expected;        /* throughput */
  double  deliveries_s, cpu_us_per_delivery;
  FcLatency latency;
  double  cpu_ms_per_update;
  double  kb_per_conn;
  double  heap_kb_per_conn;     /* malloc's bytes in use, not RSS */
  guint   extra, extra_in, extra_failed, extra_timed_out;
  double  extra_s, accepts_s, saturated_deliveries_s;
  guint   lost;
  /* Where a connection's time went, the storm [0] and while saturated
   * [1]: per FC_PHASE_*, the mean and the longest, ms. */
  double  phase_mean_ms[2][FC_N_PHASES], phase_max_ms[2][FC_N_PHASES];
} External;

static void
take_phases (FcShared *shm,
             External *x,
             guint     which)
{
  for (guint i = 0; i < FC_N_PHASES; i++)
    {
      guint32 n = FC_LOAD (shm->phase_count[i]);

      x->phase_mean_ms[which][i] = n > 0 ? FC_LOAD (shm->phase_sum_usec[i]) / 1000.0 / n : 0;
      x->phase_max_ms[which][i] = FC_LOAD (shm->phase_max_usec[i]) / 1000.0;
    }
}

static void
print_phases (const External *x,
              guint           which,
              const char     *what)
{
  static const char *const names[FC_N_PHASES] = { "TCP", "upgrade (accept, HTTP, 101)", "open packet",
                                                  "connected event" };
  const char *transport = use_socketio ? "socket.io" : "websocket";

  printf ("%s %6u clients: %s, a connection's time, mean / longest:", transport, x->n, what);
  for (guint i = 0; i < FC_N_PHASES; i++)
    if (i != FC_PHASE_OPEN || use_socketio)
      printf ("%s %s %.1f / %.1f ms", i > 0 ? ";" : "", names[i], x->phase_mean_ms[which][i],
              x->phase_max_ms[which][i]);
  printf ("\n");
}

/* This process's CPU time (user + system), µs: the server's own cost,
 * whatever else the machine runs meanwhile. */
static gint64
cpu_usec (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static double
load_average (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

/* The main loop sleeps until something happens: a connection, a timer,
 * or the clients' eventfd (a command done, a delivery count reached).
 * Waking it up only to look would cost a poll over every connection. */

#define SLOW_WAKE_MS      100         /* for time-outs and stalls only */

static gboolean
on_wake_fd (int          fd,
            GIOCondition condition,
            gpointer     data)
{
  fc_driver_drain_wake (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main loop until @d's command is done or @timeout_usec passes;
 * returns whether it is done. */
static gboolean
wait_command (FcDriver *d,
              gint64    timeout_usec)
{
  guint waker = g_timeout_add (SLOW_WAKE_MS, wake_up, NULL);
  gint64 end = g_get_monotonic_time () + timeout_usec;

  while (!fc_driver_done (d) && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (waker);
  return fc_driver_done (d);
}

/* Runs the main loop until the connections not opened as extra have had
 * @target deliveries, none came for @stall_usec, or @timeout_usec
 * passed. */
static void
wait_deliveries (FcDriver *d,
                 guint64   target,
                 gint64    stall_usec,
                 gint64    timeout_usec)
{
  guint waker = g_timeout_add (SLOW_WAKE_MS, wake_up, NULL);
  gint64 start = g_get_monotonic_time ();
  gint64 moved = start;
  guint64 last = FC_LOAD (d->shm->received_base);

  fc_driver_notify_at (d, target);
  for (;;)
    {
      guint64 r = FC_LOAD (d->shm->received_base);
      gint64 now = g_get_monotonic_time ();

      if (r >= target || now - start > timeout_usec)
        break;
      if (r != last)
        {
          last = r;
          moved = now;
        }
      else if (now - moved > stall_usec)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  FC_STORE (d->shm->notify_base, 0);
  g_source_remove (waker);
}

/* Ticks at LATENCY_RATE per second from a timer, as a feed pushes them */
typedef struct
{
  ThHub    *hub;
  FcDriver *d;
  guint    *seq;
  guint     left;
} Paced;

static gboolean
push_paced (gpointer data)
{
  Paced *p = data;
  guint seq = (*p->seq)++;

  push (p->hub, fc_shared_push_times (p->d->shm), p->d->shm->max_seq, seq);
  return --p->left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
run_external (guint     n,
              External *x)
{
  g_autoptr(GError) error = NULL;
  guint port;
  ThHub *hub = start_hub (n + extra_clients + 10, &port);
  guint ticks = MAX (200, 2000000 / n);
  guint paced = LATENCY_RATE * LATENCY_SECONDS;
  guint seq = 1;
  guint wake_id;
  FcDriver *d;
  FcShared *shm;
  gint64 *push_time;
  gint64 rss0, rss1, t0, t1, cpu0;
  gsize heap0;
  guint64 base, total0;
  guint64 pushed;
  Paced p;

  memset (x, 0, sizeof *x);
  x->n = n;
  x->load = load_average ();
  d = fc_driver_new (port, use_socketio, FC_MAX_SEQ, (guint64) paced * n, client_cpu, &error);
  if (d == NULL)
    {
      printf ("cannot start the clients: %s\n", error->message);
      stop_hub (hub);
      return FALSE;
    }
  shm = d->shm;
  push_time = fc_shared_push_times (shm);
  wake_id = g_unix_fd_add (d->wake_fd, G_IO_IN, on_wake_fd, d);
  bench_run_for (100);
  /* What the previous size freed goes back to the system, so that it
   * does not hide this size's growth. */
  malloc_trim (0);
  rss0 = fc_rss_bytes ();
  heap0 = mallinfo2 ().uordblks;

  /* The storm: N at once */
  phase (n, "storm");
  cpu0 = cpu_usec ();
  fc_driver_connect (d, n, 0, FALSE, STORM_TIMEOUT_MS);
  if (!wait_command (d, (STORM_TIMEOUT_MS + 15000) * (gint64) 1000) || !fc_driver_alive (d))
    goto lost;
  x->storm_cpu_ms = (cpu_usec () - cpu0) / 1000.0;
  x->storm_in = FC_LOAD (shm->batch_connected);
  x->in = FC_LOAD (shm->batch_subscribed);
  x->failed = FC_LOAD (shm->batch_failed);
  x->timed_out = FC_LOAD (shm->batch_timed_out);
  x->storm_s = FC_LOAD (shm->batch_in_usec) / 1e6;
  take_phases (shm, x, 0);
  /* The rest a few at a time, so that what follows has its N clients. */
  if (x->in < n)
    {
      phase (n, "top-up");
      fc_driver_connect (d, n - x->in, TOPUP_CONCURRENCY, FALSE, TOPUP_TIMEOUT_MS);
      if (!wait_command (d, (TOPUP_TIMEOUT_MS + 15000) * (gint64) 1000) || !fc_driver_alive (d))
        goto lost;
      x->topped_up = FC_LOAD (shm->batch_subscribed);
      x->topup_missing = n - x->in - x->topped_up;
      x->topup_s = FC_LOAD (shm->batch_done_usec) / 1e6;
      x->in += x->topped_up;
    }
  /* Idle: after the server's sweep (once a second) has given what a
   * burst of handshakes left behind back to the system, as it does in
   * service (th-server-listen.c, maybe_trim). */
  bench_run_for (1200);
  rss1 = fc_rss_bytes ();
  x->kb_per_conn = x->in > 0 ? (rss1 - rss0) / 1024.0 / x->in : 0;
  x->heap_kb_per_conn = x->in > 0 ? ((double) mallinfo2 ().uordblks - heap0) / 1024.0 / x->in : 0;
  if (x->in == 0)
    goto out;

  /* Throughput: ticks as fast as the server takes them, 10 per main-loop
   * iteration (as in the in-process mode). */
  phase (n, "throughput");
  x->expected = (guint64) ticks * x->in;
  t0 = g_get_monotonic_time ();
  cpu0 = cpu_usec ();
  for (guint i = 0; i < ticks; i++)
    {
      push (hub, push_time, shm->max_seq, seq++);
      if (i % 10 == 9)
        g_main_context_iteration (NULL, FALSE);
    }
  wait_deliveries (d, x->expected, 3 * G_USEC_PER_SEC, 120 * G_USEC_PER_SEC);
  t1 = FC_LOAD (shm->last_received);
  x->delivered = MIN (FC_LOAD (shm->received_base), x->expected);
  x->deliveries_s = t1 > t0 ? x->delivered / ((t1 - t0) / 1e6) : 0;
  x->cpu_us_per_delivery = x->delivered > 0 ? (double) (cpu_usec () - cpu0) / x->delivered : 0;

  /* Latency at LATENCY_RATE updates/s, from a timer as a feed's ticks */
  phase (n, "latency");
  base = FC_LOAD (shm->received_base);
  fc_driver_record (d, TRUE);
  cpu0 = cpu_usec ();
  p = (Paced) { hub, d, &seq, paced };
  g_timeout_add (1000 / LATENCY_RATE, push_paced, &p);
  while (p.left > 0)
    g_main_context_iteration (NULL, TRUE);
  wait_deliveries (d, base + (guint64) paced * x->in, G_USEC_PER_SEC, 5 * G_USEC_PER_SEC);
  x->cpu_ms_per_update = (cpu_usec () - cpu0) / 1000.0 / paced;
  fc_driver_record (d, FALSE);
  x->latency = fc_driver_latency (d);

  /* Accepting while saturated: extra_clients connect at once while the
   * server sends as fast as it can (at most WINDOW_TICKS updates in
   * flight per client, so that memory stays bounded). */
  if (extra_clients > 0)
    {
      phase (n, "accept-while-saturated");
      base = FC_LOAD (shm->received_base);
      total0 = FC_LOAD (shm->received);
      pushed = 0;
      x->extra = extra_clients;
      fc_driver_connect (d, extra_clients, 0, TRUE, STORM_TIMEOUT_MS);
      t0 = g_get_monotonic_time ();
      while (!fc_driver_done (d) && g_get_monotonic_time () - t0 < (STORM_TIMEOUT_MS + 15000) * (gint64) 1000)
        {
          if (pushed * x->in - (FC_LOAD (shm->received_base) - base) < (guint64) WINDOW_TICKS * x->in)
            for (guint i = 0; i < 10; i++, pushed++)
              push (hub, push_time, shm->max_seq, seq++);
          g_main_context_iteration (NULL, FALSE);
        }
      t1 = g_get_monotonic_time ();
      x->extra_in = FC_LOAD (shm->batch_connected);
      x->extra_failed = FC_LOAD (shm->batch_failed);
      x->extra_timed_out = FC_LOAD (shm->batch_timed_out);
      x->extra_s = FC_LOAD (shm->batch_in_usec) / 1e6;
      x->accepts_s = x->extra_s > 0 ? x->extra_in / x->extra_s : 0;
      take_phases (shm, x, 1);
      x->saturated_deliveries_s = (FC_LOAD (shm->received) - total0) / ((t1 - t0) / 1e6);
      /* Let the queues drain before the end. */
      wait_deliveries (d, base + pushed * x->in, G_USEC_PER_SEC, 30 * G_USEC_PER_SEC);
    }

out:
  phase (n, "end");
  x->lost = FC_LOAD (shm->lost);
  g_source_remove (wake_id);
  fc_driver_free (d);
  stop_hub (hub);
  return TRUE;

lost:
  printf ("%6u clients: the client process does not answer; giving up this size\n", n);
  g_source_remove (wake_id);
  fc_driver_free (d);
  stop_hub (hub);
  return FALSE;
}

static void
print_external (const External *x)
{
  const char *transport = use_socketio ? "socket.io" : "websocket";

  printf ("%s %6u clients: storm %u in after %.2f s, %u failed, %u timed out (%u s limit); "
          "server CPU %.0f ms (load average %.2f)\n",
          transport, x->n, x->storm_in, x->storm_s, x->failed, x->timed_out, STORM_TIMEOUT_MS / 1000,
          x->storm_cpu_ms, x->load);
  print_phases (x, 0, "storm");
  if (x->topped_up + x->topup_missing > 0)
    printf ("%s %6u clients: the %u missing connected %u at a time: %u in after %.2f s, %u not\n",
            transport, x->n, x->topped_up + x->topup_missing, TOPUP_CONCURRENCY, x->topped_up,
            x->topup_s, x->topup_missing);
  if (x->in == 0)
    return;
  printf ("%s %6u clients: %9.0f deliveries/s (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT "), "
          "server CPU %.2f µs per delivery; server memory %.1f KB per connection (RSS; %.1f KB of it "
          "allocated by malloc, the rest its free space and pages touched by the storm)\n",
          transport, x->in, x->deliveries_s, x->delivered, x->expected, x->cpu_us_per_delivery, x->kb_per_conn,
          x->heap_kb_per_conn);
  printf ("%s %6u clients: latency at %u updates/s p50 %.2f ms p99 %.2f ms p99.9 %.2f ms (%" G_GUINT64_FORMAT
          " samples), server CPU %.2f ms per update\n",
          transport, x->in, LATENCY_RATE, x->latency.p50, x->latency.p99, x->latency.p999, x->latency.n,
          x->cpu_ms_per_update);
  if (x->extra > 0)
    printf ("%s %6u clients: while saturated, %u of %u new clients in after %.2f s = %.0f connections/s, "
            "%u failed, %u timed out; %.0f deliveries/s meanwhile\n",
            transport, x->in, x->extra_in, x->extra, x->extra_s, x->accepts_s,
            x->extra_failed, x->extra_timed_out, x->saturated_deliveries_s);
  if (x->extra > 0)
    print_phases (x, 1, "while saturated");
  if (x->lost > 0)
    printf ("%s %6u clients: %u connections ended by the server during the run\n", transport, x->in, x->lost);
  fflush (stdout);
}

static void
restore_cpus (gpointer data)
{
  sched_setaffinity (0, sizeof original_cpus, &original_cpus);
}

/* bench/writeloop, next to us, with @n clients: its lines are printed
 * as they are; its p50, p99 and CPU time per update (ms) are returned. */
static gboolean
run_writeloop (guint   n,
               double *p50,
               double *p99,
               double *cpu_ms)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self != NULL ? g_path_get_dirname (self) : g_strdup (".");
  g_autofree char *path = g_build_filename (dir, "writeloop", NULL);
  g_autofree char *count = g_strdup_printf ("%u", n);
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  char *argv[] = { path, count, NULL };
  gboolean found = FALSE;
  int status;

  /* With our own CPU mask it would see one CPU: it gets the original. */
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, restore_cpus, NULL, &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      printf ("bench/writeloop: %s\n", error->message);
      return FALSE;
    }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *p = strstr (lines[i], " p50 ");
      const char *cpu = strstr (lines[i], "server CPU ");

      if (*lines[i] != '\0')
        printf ("%s\n", lines[i]);
      if (p != NULL && sscanf (p, " p50 %lf ms p99 %lf ms", p50, p99) == 2)
        found = TRUE;
      if (cpu != NULL)
        sscanf (cpu, "server CPU %lf ms", cpu_ms);
    }
  fflush (stdout);
  return found;
}

static void
external_main (guint       *sizes,
               guint        n_sizes,
               guint        limit)
{
  g_autofree External *results = g_new0 (External, n_sizes);
  gboolean have_ref = FALSE;
  double ref_p50 = 0, ref_p99 = 0, ref_cpu = 0;
  guint ref_n = sizes[0];

  for (guint i = 0; i < n_sizes; i++)
    if (sizes[i] == 1000)
      ref_n = 1000;

  printf ("fan-out with the clients in another process (bench/fanout-clients): %s\n",
          server_cpu >= 0 ? "" : "not pinned (fewer than 2 CPUs)");
  if (server_cpu >= 0)
    printf ("pinned: server (this process) on CPU %d, clients on CPU %d\n", server_cpu, client_cpu);
  printf ("transport %s; %u more clients connect while saturated; storms time out after %u s\n",
          use_socketio ? "Socket.IO (websocket)" : "/ws", extra_clients, STORM_TIMEOUT_MS / 1000);
  fflush (stdout);

  /* The reference first, on a quiet machine. */
  have_ref = run_writeloop (ref_n, &ref_p50, &ref_p99, &ref_cpu);

  for (guint i = 0; i < n_sizes; i++)
    {
      guint n = sizes[i];

      if (n + extra_clients + 200 > limit)
        {
          printf ("(%u + %u clients need more descriptors than the limit of %u: skipped)\n",
                  n, extra_clients, limit);
          continue;
        }
      if (run_external (n, &results[i]))
        print_external (&results[i]);
    }

  printf ("\nsummary (%s, clients in another process%s)\n", use_socketio ? "socket.io" : "websocket",
          server_cpu >= 0 ? ", pinned" : "");
  printf ("%8s %22s %12s %10s %8s %8s %8s %8s %26s\n", "clients", "storm in/failed/t.o.", "deliveries/s",
          "CPU us/dlv", "p50 ms", "p99 ms", "p99.9 ms", "KB/conn", "new conn/s while saturated");
  for (guint i = 0; i < n_sizes; i++)
    {
      const External *x = &results[i];
      g_autofree char *storm = NULL;
      g_autofree char *accepts = NULL;

      if (x->n == 0)
        continue;
      storm = g_strdup_printf ("%u/%u/%u %.1fs", x->storm_in, x->failed, x->timed_out, x->storm_s);
      accepts = g_strdup_printf ("%.0f (%u failed, %u t.o.)", x->accepts_s, x->extra_failed, x->extra_timed_out);
      printf ("%8u %22s %12.0f %10.2f %8.2f %8.2f %8.2f %8.1f %26s\n", x->n, storm, x->deliveries_s,
              x->cpu_us_per_delivery, x->latency.p50, x->latency.p99, x->latency.p999, x->kb_per_conn, accepts);
      if (have_ref && x->n == ref_n && x->latency.n > 0 && ref_p50 > 0 && ref_p99 > 0)
        printf ("%8s latency at %u clients, %u updates/s: tickhub / plain write loop = %.2f× at p50, %.2f× at p99 "
                "(write loop p50 %.3f ms, p99 %.3f ms)\n", "", ref_n, LATENCY_RATE,
                x->latency.p50 / ref_p50, x->latency.p99 / ref_p99, ref_p50, ref_p99);
      if (have_ref && x->n == ref_n && ref_cpu > 0)
        printf ("%8s server CPU per update at %u clients: tickhub / plain write loop = %.2f× "
                "(%.2f ms and %.2f ms)\n", "", ref_n, x->cpu_ms_per_update / ref_cpu,
                x->cpu_ms_per_update, ref_cpu);
    }
  fflush (stdout);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  gboolean external = FALSE;
  guint limit, max_clients;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--socketio"))
        use_socketio = TRUE;
      else if (g_str_equal (argv[i], "--external"))
        external = TRUE;
      else if (g_str_equal (argv[i], "--phases"))
        show_phases = TRUE;
      else if (g_str_equal (argv[i], "--extra") && i + 1 < argc)
        extra_clients = (guint) g_ascii_strtoull (argv[++i], NULL, 10);
      else if (g_ascii_isdigit (argv[i][0]))
        {
          guint n = MAX ((guint) g_ascii_strtoull (argv[i], NULL, 10), 1);

          g_array_append_val (sizes, n);
        }
      else
        {
          fprintf (stderr, "usage: %s [--socketio] [--external [--extra M] [--phases]] [N...]\n", argv[0]);
          return 2;
        }
    }

  /* Pinned before any thread starts: the hub's threads inherit it. */
  if (external)
    {
      sched_getaffinity (0, sizeof original_cpus, &original_cpus);
      fc_pin_cpus (&server_cpu, &client_cpu);
    }
  limit = fc_raise_nofile ();
  g_log_set_writer_func (g_log_writer_default, NULL, NULL);
  g_setenv ("G_MESSAGES_DEBUG", "", TRUE);

  if (external)
    {
      if (sizes->len == 0)
        {
          static const guint defaults[] = { 1000, 5000, 10000 };

          g_array_append_vals (sizes, defaults, G_N_ELEMENTS (defaults));
        }
      external_main ((guint *) sizes->data, sizes->len, limit);
      return 0;
    }

  /* Both ends of every connection live in this process. */
  max_clients = limit > 300 ? (limit - 200) / 2 : 50;
  if (sizes->len == 0)
    {
      static const guint defaults[] = { 100, 1000, 10000 };

      for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
        {
          if (defaults[i] > max_clients)
            printf ("(%u clients need %u descriptors; the limit is %u: running %u)\n",
                    defaults[i], 2 * defaults[i] + 200, limit, max_clients);
          run (MIN (defaults[i], max_clients));
        }
    }
  else
    for (guint i = 0; i < sizes->len; i++)
      run (MIN (g_array_index (sizes, guint, i), max_clients));
  return 0;
}
