/* writeloop.c: the reference of bench/fanout --external, a plain write loop
 *
 * What a fan-out costs with nothing but the kernel: a server on epoll,
 * without GLib's main loop, that accepts the WebSocket handshakes of
 * bench/fanout-clients on /ws (a 101 with the right Sec-WebSocket-Accept,
 * then a `connected` event; `symbol_subscribed` answers the subscribe
 * message) and, for each update, formats one text frame as long as
 * tickhub's financial_data_update (the price is the sequence number) and
 * writes it with one write() per client, in a loop. The clients run in
 * another process, pinned to another CPU when there are two, exactly as
 * for bench/fanout --external. Printed:
 *   - the storm: time until all N clients have their `connected` event,
 *     failures (this server listens with a backlog of SOMAXCONN)
 *   - latency from the push to the client's read at 10 updates/s for 5 s,
 *     p50/p99/p99.9
 *
 *   meson devenv -C build bench/writeloop [N]     (default 1000)
 *
 * bench/fanout --external runs it and prints tickhub's latency as a ratio
 * of this one.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

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

#include "fanout-driver.h"

#define PEER_BUF          4096
#define STORM_TIMEOUT_MS  30000
#define RATE              10       /* updates per second */
#define SECONDS           5
#define WS_GUID           "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct
{
  int      fd;
  gboolean open;          /* handshake done */
  gboolean subscribed;
  guint    len;
  guint8   buf[PEER_BUF];
} Peer;

typedef struct
{
  int        ep;
  int        listener;
  GPtrArray *peers;        /* Peer*, every connection */
  GPtrArray *subscribers;  /* Peer*, in the order they subscribed */
  guint      serial;
  guint64    short_writes;
} Server;

/* This process's CPU time (user + system), µs */
static gint64
cpu_usec (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static gsize
frame_header (guint8 *head,
              gsize   len)
{
  head[0] = 0x81;   /* FIN, text */
  if (len < 126)
    {
      head[1] = (guint8) len;
      return 2;
    }
  head[1] = 126;
  head[2] = (guint8) (len >> 8);
  head[3] = (guint8) len;
  return 4;
}

/* A whole text frame of @text into @out (at least strlen + 4 bytes). */
static gsize
frame_text (guint8     *out,
            const char *text,
            gsize       len)
{
  gsize h = frame_header (out, len);

  memcpy (out + h, text, len);
  return h + len;
}

static void
peer_close (Server *s,
            Peer   *p)
{
  close (p->fd);   /* leaves the epoll set */
  g_ptr_array_remove_fast (s->peers, p);
  if (p->subscribed)
    g_ptr_array_remove (s->subscribers, p);
  g_free (p);
}

/* Replies are a few hundred bytes to an empty socket: one write. */
static gboolean
peer_write (Peer       *p,
            const void *data,
            gsize       len)
{
  return write (p->fd, data, len) == (gssize) len;
}

static gboolean
peer_handshake (Server *s,
                Peer   *p)
{
  const guint8 *end = memmem (p->buf, p->len, "\r\n\r\n", 4);
  g_autofree char *head = NULL;
  g_autofree char *accept = NULL;
  g_autofree char *welcome = NULL;
  g_autoptr(GChecksum) sha1 = NULL;
  g_autoptr(GString) out = NULL;
  const char *key, *key_end;
  guint8 digest[20];
  gsize dlen = sizeof digest;
  guint8 frame[512];
  gsize used;

  if (end == NULL)
    return p->len < PEER_BUF;   /* more to come */
  used = end + 4 - p->buf;
  head = g_strndup ((const char *) p->buf, used);
  key = strcasestr (head, "\r\nSec-WebSocket-Key:");
  if (!g_str_has_prefix (head, "GET /ws ") || key == NULL)
    return FALSE;
  key += strlen ("\r\nSec-WebSocket-Key:");
  while (*key == ' ')
    key++;
  key_end = strstr (key, "\r\n");

  sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  g_checksum_update (sha1, (const guchar *) key, key_end - key);
  g_checksum_update (sha1, (const guchar *) WS_GUID, strlen (WS_GUID));
  g_checksum_get_digest (sha1, digest, &dlen);
  accept = g_base64_encode (digest, dlen);

  out = g_string_new (NULL);
  g_string_append_printf (out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
  welcome = g_strdup_printf ("{\"event\":\"connected\",\"data\":{\"client_id\":\"%08x\",\"server\":\"writeloop\","
                             "\"version\":\"0\"}}", ++s->serial);
  g_string_append_len (out, (const char *) frame, frame_text (frame, welcome, strlen (welcome)));
  if (!peer_write (p, out->str, out->len))
    return FALSE;
  p->open = TRUE;
  memmove (p->buf, p->buf + used, p->len - used);
  p->len -= used;
  return TRUE;
}

/* The client's frames (masked, small): subscribe_symbol is answered, a
 * close ends the connection. */
static gboolean
peer_frames (Server *s,
             Peer   *p)
{
  static const char subscribed[] = "{\"event\":\"symbol_subscribed\",\"data\":{\"symbol\":\"BTC\",\"room\":\"symbol_BTC\"}}";
  gsize pos = 0;
  gboolean ok = TRUE;

  while (ok && p->len - pos >= 6)
    {
      guint8 *h = p->buf + pos;
      gsize len = h[1] & 0x7F;
      guint8 *mask = h + 2;
      guint8 *data = h + 6;

      if (!(h[1] & 0x80) || len >= 126)
        return FALSE;   /* clients mask; ours send small frames */
      if (p->len - pos < 6 + len)
        break;
      for (gsize i = 0; i < len; i++)
        data[i] ^= mask[i & 3];
      if ((h[0] & 0x0F) == 0x8)
        ok = FALSE;
      else if ((h[0] & 0x0F) == 0x1 && !p->subscribed && memmem (data, len, "\"subscribe_symbol\"", 18) != NULL)
        {
          guint8 frame[256];

          ok = peer_write (p, frame, frame_text (frame, subscribed, sizeof subscribed - 1));
          p->subscribed = TRUE;
          g_ptr_array_add (s->subscribers, p);
        }
      pos += 6 + len;
    }
  memmove (p->buf, p->buf + pos, p->len - pos);
  p->len -= pos;
  return ok;
}

static void
peer_readable (Server *s,
               Peer   *p)
{
  for (;;)
    {
      gssize n = read (p->fd, p->buf + p->len, PEER_BUF - p->len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n <= 0)
        {
          peer_close (s, p);
          return;
        }
      p->len += n;
      if ((!p->open && !peer_handshake (s, p)) || (p->open && !peer_frames (s, p)))
        {
          peer_close (s, p);
          return;
        }
    }
}

static void
accept_all (Server *s)
{
  int one = 1;

  for (;;)
    {
      int fd = accept4 (s->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      struct epoll_event ev = { .events = EPOLLIN };
      Peer *p;

      if (fd < 0)
        return;   /* EAGAIN, or out of descriptors: the client times out */
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      p = g_new0 (Peer, 1);
      p->fd = fd;
      ev.data.ptr = p;
      epoll_ctl (s->ep, EPOLL_CTL_ADD, fd, &ev);
      g_ptr_array_add (s->peers, p);
    }
}

/* One epoll round, at most @timeout_ms. */
static void
serve (Server *s,
       int     timeout_ms)
{
  struct epoll_event events[256];
  int n = epoll_wait (s->ep, events, G_N_ELEMENTS (events), timeout_ms);

  for (int i = 0; i < n; i++)
    {
      if (events[i].data.ptr == NULL)
        accept_all (s);
      else
        peer_readable (s, events[i].data.ptr);
    }
}

static void
serve_until (Server *s,
             gint64  deadline)
{
  for (;;)
    {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0)
        return;
      serve (s, (int) ((left + 999) / 1000));
    }
}

/* The update: as long as tickhub's financial_data_update, price = @seq. */
static gsize
update_frame (guint8 *out,
              guint   seq)
{
  char text[512];
  int len = g_snprintf (text, sizeof text,
                        "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":%u,"
                        "\"volume\":12345.678,\"change\":-1.25,\"bid\":%u.5,\"ask\":%u.5,\"source\":\"binance\","
                        "\"timestamp\":\"2025-01-01T00:00:00.000Z\"}}}", seq, seq - 1, seq);

  return frame_text (out, text, len);
}

static double
load_average (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return -1;
  return g_ascii_strtod (text, NULL);
}

static int
listen_loopback (guint *port)
{
  struct sockaddr_in sa = { 0 };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (fd < 0 || bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (fd, SOMAXCONN) < 0 ||
      getsockname (fd, (struct sockaddr *) &sa, &len) < 0)
    g_error ("listen: %s", g_strerror (errno));
  *port = ntohs (sa.sin_port);
  return fd;
}

int
main (int   argc,
      char *argv[])
{
  Server s = { 0 };
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
  g_autoptr(GError) error = NULL;
  FcDriver *d;
  FcShared *shm;
  FcLatency lat;
  guint n = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 1000;
  guint paced = RATE * SECONDS;
  guint limit, in, port;
  int server_cpu, client_cpu;
  gboolean pinned;
  gint64 start, end, cpu0;
  guint64 expected;

  pinned = fc_pin_cpus (&server_cpu, &client_cpu);
  limit = fc_raise_nofile ();
  n = CLAMP (n, 1, limit > 200 ? limit - 100 : 100);
  if (pinned)
    printf ("plain write loop: server on CPU %d, clients (another process) on CPU %d\n", server_cpu, client_cpu);
  else
    printf ("plain write loop: not pinned (fewer than 2 CPUs); clients in another process\n");

  s.ep = epoll_create1 (EPOLL_CLOEXEC);
  s.listener = listen_loopback (&port);
  s.peers = g_ptr_array_new ();
  s.subscribers = g_ptr_array_new ();
  epoll_ctl (s.ep, EPOLL_CTL_ADD, s.listener, &ev);

  d = fc_driver_new (port, FALSE, paced + 2, (guint64) paced * n, client_cpu, &error);
  if (d == NULL)
    g_error ("%s", error->message);
  shm = d->shm;

  /* The storm */
  fc_driver_connect (d, n, 0, FALSE, STORM_TIMEOUT_MS);
  end = g_get_monotonic_time () + (STORM_TIMEOUT_MS + 10000) * (gint64) 1000;
  while (!fc_driver_done (d) && g_get_monotonic_time () < end)
    serve (&s, 1);
  in = FC_LOAD (shm->batch_subscribed);
  printf ("plain write loop %6u clients: storm %u in after %.2f s, %u failed, %u timed out\n",
          n, FC_LOAD (shm->batch_connected), FC_LOAD (shm->batch_in_usec) / 1e6,
          FC_LOAD (shm->batch_failed), FC_LOAD (shm->batch_timed_out));

  /* The latency: one frame per update, one write() per client */
  fc_driver_record (d, TRUE);
  cpu0 = cpu_usec ();
  start = g_get_monotonic_time ();
  for (guint i = 0; i < paced; i++)
    {
      guint seq = i + 1;
      guint8 frame[600];
      gsize len;

      serve_until (&s, start + (gint64) i * G_USEC_PER_SEC / RATE);
      len = update_frame (frame, seq);
      fc_driver_mark_push (d, seq);
      for (guint j = 0; j < s.subscribers->len; j++)
        if (!peer_write (s.subscribers->pdata[j], frame, len))
          s.short_writes++;
    }
  expected = (guint64) paced * in;
  end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (__atomic_load_n (&shm->received, __ATOMIC_RELAXED) < expected && g_get_monotonic_time () < end)
    serve (&s, 1);
  fc_driver_record (d, FALSE);
  lat = fc_driver_latency (d);
  printf ("plain write loop %6u clients: latency at %u updates/s p50 %.3f ms p99 %.3f ms p99.9 %.3f ms "
          "(%" G_GUINT64_FORMAT " samples, %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " delivered, "
          "%" G_GUINT64_FORMAT " short writes), server CPU %.2f ms per update (load average %.2f)\n",
          in, RATE, lat.p50, lat.p99, lat.p999, lat.n, (guint64) __atomic_load_n (&shm->received, __ATOMIC_RELAXED),
          expected, s.short_writes, (cpu_usec () - cpu0) / 1000.0 / paced, load_average ());
  fflush (stdout);

  fc_driver_free (d);
  while (s.peers->len > 0)
    peer_close (&s, s.peers->pdata[s.peers->len - 1]);
  g_ptr_array_unref (s.peers);
  g_ptr_array_unref (s.subscribers);
  close (s.listener);
  close (s.ep);
  return 0;
}
