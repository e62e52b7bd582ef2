/* fanout.c: one symbol room, N WebSocket clients, one process
 *
 * The hub and the server sink run in the main thread on 127.0.0.1:0; N raw
 * WebSocket clients run in a second thread (blocking handshakes one by
 * one, then epoll), each subscribed to BTC. The main thread pushes ticks
 * whose price is their sequence number; clients note when each
 * financial_data_update arrives. Printed per N:
 *   - deliveries per second, pushing as fast as the server takes them
 *   - event-to-client latency p50/p99/p99.9 (push → frame read by the
 *     client), at a paced rate of 100 ticks/s
 *   - server memory per connection: RSS growth / N (user space; the
 *     clients' buffers are allocated before the baseline)
 *
 *   meson devenv -C build bench/fanout [--socketio] [N...]     (default: 100 1000 10000)
 *
 * With --socketio the clients are Socket.IO clients on the websocket
 * transport (/socket.io/?EIO=4&transport=websocket, 40, then 42[...]
 * events) instead of /ws.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
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

static gint64
rss_bytes (void)
{
  g_autofree char *statm = NULL;
  gint64 pages = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%*d %" G_GINT64_FORMAT, &pages);
  return pages * sysconf (_SC_PAGESIZE);
}

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

static void
push (ThHub  *hub,
      Bench  *b,
      guint   seq)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, seq, g_get_real_time ());

  tick->bid = seq - 0.5;
  tick->ask = seq + 0.5;
  tick->volume_24h = 12345.678;
  tick->change_24h = -1.25;
  __atomic_store_n (&b->push_time[seq], g_get_monotonic_time (), __ATOMIC_RELEASE);
  th_hub_push_tick (hub, tick);
}

static void
on_stopped (GObject *source, GAsyncResult *result, gpointer data)
{
  th_hub_stop_finish (TH_HUB (source), result, NULL);
  *(gboolean *) data = TRUE;
}

static void
run (guint n)
{
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=server\nsymbols=BTC\ntimeframes=1m\n"
                                           "[prices]\norder=binance\n[binance]\nttl=3600\n"
                                           "[server]\nlisten=127.0.0.1:0\nmax-connections=%u\nrate-limit=0\n"
                                           "status-interval=0\nclient-buffer=4194304\n"
                                           /* the bench's clients do not answer pings */
                                           "ping-interval=3600\n", n + 10);
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) sinks = NULL;
  Bench b = { 0 };
  GThread *thread;
  gint64 rss0, rss1, t0, t1;
  guint ticks = MAX (200, 2000000 / n);
  guint paced = 100;
  guint seq = 1;
  guint64 expected;
  gboolean stopped = FALSE;

  th_config_load_from_data (config, text, -1, &error);
  g_assert_no_error (error);
  hub = th_hub_new (config, NULL);
  if (!th_hub_load (hub, &error))
    g_error ("%s", error->message);
  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  g_object_get (sinks->pdata[0], "port", &b.port, NULL);

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
  rss0 = rss_bytes ();

  thread = g_thread_new ("clients", client_thread, &b);
  while (!g_atomic_int_get (&b.ready))
    g_main_context_iteration (NULL, FALSE);
  for (int i = 0; i < 200; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  rss1 = rss_bytes ();

  /* Throughput: ticks as fast as the server takes them, 10 per main-loop
   * iteration, each to N clients. */
  expected = 0;
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < ticks; i++)
    {
      push (hub, &b, seq++);
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

      push (hub, &b, seq++);
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

  th_hub_stop_async (hub, NULL, on_stopped, &stopped);
  while (!stopped)
    g_main_context_iteration (NULL, TRUE);
  g_free (b.conns);
  g_free (b.push_time);
  g_free (b.samples);
}

int
main (int   argc,
      char *argv[])
{
  struct rlimit rl;
  guint max_clients;

  /* Both ends of every connection live in this process. */
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  max_clients = rl.rlim_cur > 300 ? (guint) ((rl.rlim_cur - 200) / 2) : 50;
  g_log_set_writer_func (g_log_writer_default, NULL, NULL);
  g_setenv ("G_MESSAGES_DEBUG", "", TRUE);

  if (argc > 1 && g_str_equal (argv[1], "--socketio"))
    {
      use_socketio = TRUE;
      argv[1] = argv[0];
      argv++;
      argc--;
    }
  if (argc > 1)
    for (int i = 1; i < argc; i++)
      {
        guint n = (guint) g_ascii_strtoull (argv[i], NULL, 10);

        run (MIN (MAX (n, 1), max_clients));
      }
  else
    {
      static const guint sizes[] = { 100, 1000, 10000 };

      for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
        {
          if (sizes[i] > max_clients)
            printf ("(%u clients need %u descriptors; the limit is %u: running %u)\n",
                    sizes[i], 2 * sizes[i] + 200, (guint) rl.rlim_cur, max_clients);
          run (MIN (sizes[i], max_clients));
        }
    }
  return 0;
}
