/* soak-clients.c: the clients of bench/soak, in a process of their own
 *
 *   soak-clients --port PORT [--ws N] [--sio N] [--slow N] [--reconnect N]
 *                [--slow-rate BYTES] [--reconnect-min S] [--reconnect-max S]
 *                [--speed X] [--symbols A;B;C]
 *
 * One thread, epoll, no GLib, as bench/fanout-clients: several hundred
 * connections should cost the machine little next to the server they
 * measure. Kinds of client, each half on /ws and half on Socket.IO's
 * websocket transport (/socket.io/?EIO=4&transport=websocket):
 *
 * - normal (--ws on /ws, --sio on Socket.IO): join the financial_data
 *   room; every third also subscribes to one symbol (symbol_data, candle
 *   and indicator updates), every fifth joins system_status. They read all
 *   they get at once.
 * - slow (--slow): the same, but with a small receive buffer, read at
 *   most --slow-rate bytes a second (default 8 KiB/s, in steps of 100 ms),
 *   so the server's back-pressure (client-buffer, dropping superseded
 *   updates) has something to do. One in four of them also stops reading
 *   for 40 s of every 100 (STALL_SECONDS), which the server ends after 30 s
 *   (1013); it reads again afterwards, sees the close and comes back.
 * - reconnecting (--reconnect): stay between --reconnect-min and
 *   --reconnect-max seconds (default 2 and 8), then go, half of them with
 *   a close frame and half by just closing the socket, and come back at
 *   once.
 *
 * Any client the server closes, or that fails to connect, comes back one
 * second later. Everything is counted per kind.
 *
 * Latency: the replay plays a tick whose timestamp is t at
 * anchor + (t − t0) / speed on the server's monotonic clock, the same
 * clock as ours. So for each financial_data_update a normal client reads,
 * now − t / speed is the latency plus a constant; the smallest value seen
 * so far stands for the constant (the fastest delivery), and the rest is
 * the event's latency: from the moment the replay was due to play the tick
 * to its read here (timer lateness, the hub, the server's queues, the
 * kernel and this process's own delay). The first 5 s are not sampled
 * while that minimum settles.
 *
 * Standard input drives it: each line makes it print one JSON line of
 * figures since the previous one on standard output; end of input closes
 * everything and exits.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONN_BUF        (64 * 1024)     /* a connection's unread part of a frame */
#define MAX_EVENTS      256
#define TICK_MSEC       100             /* the slow readers' and timers' step */
#define RETRY_USEC      1000000
#define WARMUP_USEC     5000000
#define HIST_BUCKETS    1024            /* 2 % apart, from 1 µs to beyond 100 s */
#define HIST_BASE       1.02
#define STALL_PERIOD    100             /* seconds; a stalling slow reader... */
#define STALL_SECONDS   40              /* ...reads nothing for this long of each */

typedef enum
{
  KIND_WS,
  KIND_SIO,
  KIND_SLOW,
  KIND_RECONNECT,
  N_KINDS,
} Kind;

static const char *kind_names[N_KINDS] = { "ws", "sio", "slow", "reconnect" };

typedef enum
{
  CONN_WAITING,       /* not connected; connects at `due` */
  CONN_CONNECTING,    /* TCP */
  CONN_HANDSHAKE,     /* request sent, waiting for the 101 */
  CONN_OPENING,       /* Socket.IO: waiting for the open packet */
  CONN_WELCOME,       /* waiting for the connected event */
  CONN_IN,
} ConnState;

typedef struct
{
  int       fd;
  int       index;
  Kind      kind;
  int       sio;
  ConnState state;
  int64_t   due;        /* WAITING: connect at; IN, reconnecting: leave at */
  size_t    len;
  uint8_t  *buf;
} Conn;

typedef struct
{
  uint64_t connects;          /* connections that got to IN */
  uint64_t failures;          /* refused, reset or closed before IN */
  uint64_t server_closes;     /* closed by the server once IN */
  uint64_t leaves;            /* reconnecting clients that left on purpose */
  uint64_t frames;
  uint64_t updates;           /* financial_data_update */
  uint64_t bytes;
} KindStats;

static Conn      *conns;
static int        n_conns;
static int        ep = -1;
static int        port;
static double     speed = 10.0;
static long       slow_rate = 8192;
static double     reconnect_min = 2.0;
static double     reconnect_max = 8.0;
static char     **symbols;
static int        n_symbols;
static KindStats  stats[N_KINDS];
static uint64_t   close_codes[5];     /* 1000, 1001, 1008, 1013, other */
static uint64_t   hist[HIST_BUCKETS];
static uint64_t   hist_n;
static double     hist_max;
static double     anchor = INFINITY;
static int64_t    first_update;
static int64_t    start_usec;
static uint8_t    scratch[CONN_BUF * 2];

static int64_t
now_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double
uniform (double lo,
         double hi)
{
  return lo + (hi - lo) * ((double) random () / RAND_MAX);
}

#define HAS_PREFIX(data, len, lit) \
  ((len) >= sizeof (lit) - 1 && memcmp ((data), (lit), sizeof (lit) - 1) == 0)

/* A masked frame, as a client sends; a short write counts as a failure. */
static int
send_frame (Conn       *c,
            unsigned    opcode,
            const char *data,
            size_t      len)
{
  uint8_t frame[256];
  static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

  if (len >= 126)
    abort ();
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (uint8_t) len;
  memcpy (frame + 2, mask, 4);
  for (size_t i = 0; i < len; i++)
    frame[6 + i] = (uint8_t) data[i] ^ mask[i & 3];
  return write (c->fd, frame, 6 + len) == (ssize_t) (6 + len);
}

static int
send_text (Conn       *c,
           const char *text)
{
  return send_frame (c, 0x1, text, strlen (text));
}

/* An event in the connection's protocol. */
static int
send_event (Conn       *c,
            const char *event,
            const char *data)
{
  char text[200];

  if (c->sio)
    snprintf (text, sizeof text, "42[\"%s\",%s]", event, data);
  else
    snprintf (text, sizeof text, "{\"event\":\"%s\",\"data\":%s}", event, data);
  return send_text (c, text);
}

static void
conn_schedule (Conn   *c,
               int64_t due)
{
  c->state = CONN_WAITING;
  c->due = due;
  c->len = 0;
}

/* Ends the connection; @how: 0 a failure or the server's close, 1 a leave. */
static void
conn_end (Conn *c,
          int   leave)
{
  int64_t now = now_usec ();

  if (c->state == CONN_WAITING)
    return;
  close (c->fd);
  c->fd = -1;
  if (leave)
    {
      stats[c->kind].leaves++;
      conn_schedule (c, now);
    }
  else
    {
      if (c->state == CONN_IN)
        stats[c->kind].server_closes++;
      else
        stats[c->kind].failures++;
      conn_schedule (c, now + RETRY_USEC);
    }
}

static void
conn_start (Conn *c)
{
  struct sockaddr_in sa = { 0 };
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
  int one = 1;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    {
      stats[c->kind].failures++;
      conn_schedule (c, now_usec () + RETRY_USEC);
      return;
    }
  c->state = CONN_CONNECTING;
  c->len = 0;
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c->kind == KIND_SLOW)
    {
      int rcvbuf = 8192;

      setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((uint16_t) port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if ((connect (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS) ||
      epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
    conn_end (c, 0);
}

static void
conn_writable (Conn *c)
{
  static const char ws_request[] =
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  static const char sio_request[] =
    "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  const char *req = c->sio ? sio_request : ws_request;
  size_t rlen = c->sio ? sizeof sio_request - 1 : sizeof ws_request - 1;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
  socklen_t elen = sizeof (int);
  int err = 0;

  if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0 ||
      write (c->fd, req, rlen) != (ssize_t) rlen ||
      epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
    {
      conn_end (c, 0);
      return;
    }
  c->state = CONN_HANDSHAKE;
}

/* The connected event came: join the rooms and count the client in. */
static void
conn_welcomed (Conn *c)
{
  char data[64];
  int ok;

  ok = send_event (c, "join_room", "{\"room\":\"financial_data\"}");
  if (ok && c->index % 3 == 0 && n_symbols > 0)
    {
      snprintf (data, sizeof data, "{\"symbol\":\"%s\"}", symbols[(c->index / 3) % n_symbols]);
      ok = send_event (c, "subscribe_symbol", data);
    }
  if (ok && c->index % 5 == 0)
    ok = send_event (c, "join_room", "{\"room\":\"system_status\"}");
  if (!ok)
    {
      conn_end (c, 0);
      return;
    }
  c->state = CONN_IN;
  stats[c->kind].connects++;
  if (c->kind == KIND_RECONNECT)
    c->due = now_usec () + (int64_t) (uniform (reconnect_min, reconnect_max) * 1e6);
  else if (c->kind == KIND_SLOW)
    epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);   /* read on the timer from now on */
}

/* "2024-01-01T00:00:05.123Z" → ms since the epoch, or -1. */
static int64_t
parse_time (const uint8_t *p,
            size_t         len)
{
  int y, mo, d, h, mi, s, ms;
  int64_t days;
  unsigned yy, era, yoe, doy, doe;

  if (len < 24 || p[4] != '-' || p[10] != 'T' || p[19] != '.' ||
      sscanf ((const char *) p, "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &y, &mo, &d, &h, &mi, &s, &ms) != 7)
    return -1;
  /* days from civil (Howard Hinnant) */
  yy = (unsigned) (y - (mo <= 2));
  era = yy / 400;
  yoe = yy - era * 400;
  doy = (unsigned) ((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  days = (int64_t) era * 146097 + (int64_t) doe - 719468;
  return ((days * 24 + h) * 60 + mi) * 60000 + (int64_t) s * 1000 + ms;
}

static void
latency_sample (const uint8_t *data,
                size_t         len,
                int64_t        now)
{
  const uint8_t *ts = memmem (data, len, "\"timestamp\":\"", 13);
  int64_t t;
  double off, lat;
  int bucket;

  if (ts == NULL)
    return;
  ts += 13;
  t = parse_time (ts, len - (size_t) (ts - data));
  if (t < 0)
    return;
  off = (double) now - (double) t * 1000.0 / speed;
  if (off < anchor)
    anchor = off;
  if (first_update == 0)
    first_update = now;
  if (now - first_update < WARMUP_USEC)
    return;
  lat = off - anchor;
  bucket = lat < 1.0 ? 0 : (int) (log (lat) / log (HIST_BASE));
  if (bucket >= HIST_BUCKETS)
    bucket = HIST_BUCKETS - 1;
  hist[bucket]++;
  hist_n++;
  if (lat > hist_max)
    hist_max = lat;
}

static void
conn_frame (Conn          *c,
            unsigned       opcode,
            const uint8_t *data,
            size_t         len,
            int64_t        now)
{
  int update = 0;

  stats[c->kind].frames++;
  if (opcode == 0x8)
    {
      unsigned code = len >= 2 ? ((unsigned) data[0] << 8) | data[1] : 0;

      close_codes[code == 1000 ? 0 : code == 1001 ? 1 : code == 1008 ? 2 : code == 1013 ? 3 : 4]++;
      conn_end (c, 0);
      return;
    }
  if (opcode == 0x9)
    {
      if (len < 126 && !send_frame (c, 0xA, (const char *) data, len))
        conn_end (c, 0);
      return;
    }
  if (opcode != 0x1)
    return;

  if (c->sio)
    {
      if (HAS_PREFIX (data, len, "42[\"financial_data_update\""))
        update = 1;
      else if (len == 1 && data[0] == '2')
        {
          if (!send_text (c, "3"))
            conn_end (c, 0);
        }
      else if (c->state == CONN_OPENING && len > 0 && data[0] == '0')
        {
          if (!send_text (c, "40"))
            conn_end (c, 0);
          else
            c->state = CONN_WELCOME;
        }
      else if (c->state == CONN_WELCOME && HAS_PREFIX (data, len, "42[\"connected\""))
        conn_welcomed (c);
      else if (len > 0 && data[0] == '1')
        conn_end (c, 0);     /* Engine.IO close */
    }
  else
    {
      if (HAS_PREFIX (data, len, "{\"event\":\"financial_data_update\""))
        update = 1;
      else if (c->state == CONN_WELCOME && HAS_PREFIX (data, len, "{\"event\":\"connected\""))
        conn_welcomed (c);
    }
  if (update)
    {
      stats[c->kind].updates++;
      if (c->kind == KIND_WS || c->kind == KIND_SIO)
        latency_sample (data, len, now);
    }
}

/* Handles the complete frames of @p; returns how many bytes they took. */
static size_t
conn_frames (Conn          *c,
             const uint8_t *p,
             size_t         len,
             int64_t        now)
{
  size_t pos = 0;

  while (c->state != CONN_WAITING && len - pos >= 2)
    {
      const uint8_t *h = p + pos;
      size_t avail = len - pos;
      uint64_t plen = h[1] & 0x7F;
      size_t hlen = 2;

      if (h[1] & 0x80)
        {
          conn_end (c, 0);   /* a server never masks */
          break;
        }
      if (plen == 126)
        {
          if (avail < 4)
            break;
          plen = ((uint64_t) h[2] << 8) | h[3];
          hlen = 4;
        }
      else if (plen == 127)
        {
          if (avail < 10)
            break;
          plen = 0;
          for (int i = 0; i < 8; i++)
            plen = (plen << 8) | h[2 + i];
          hlen = 10;
        }
      if (plen + hlen > CONN_BUF)
        {
          conn_end (c, 0);
          break;
        }
      if (avail < hlen + plen)
        break;
      conn_frame (c, h[0] & 0x0F, h + hlen, (size_t) plen, now);
      pos += hlen + (size_t) plen;
    }
  return pos;
}

/* Reads what is there, at most @budget bytes (0: no limit). */
static void
conn_read (Conn  *c,
           size_t budget)
{
  for (;;)
    {
      size_t have = c->len;
      size_t want = sizeof scratch - have;
      size_t total, used = 0, left;
      ssize_t r;
      int64_t now;

      if (budget > 0 && want > budget)
        want = budget;
      if (want == 0)
        return;
      memcpy (scratch, c->buf, have);
      r = read (c->fd, scratch + have, want);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0 && errno == EAGAIN)
        return;
      if (r <= 0)
        {
          conn_end (c, 0);
          return;
        }
      now = now_usec ();
      stats[c->kind].bytes += (uint64_t) r;
      total = have + (size_t) r;

      if (c->state == CONN_HANDSHAKE)
        {
          const uint8_t *end = memmem (scratch, total, "\r\n\r\n", 4);

          if (end == NULL)
            used = 0;
          else if (total < 12 || memcmp (scratch, "HTTP/1.1 101", 12) != 0)
            {
              conn_end (c, 0);
              return;
            }
          else
            {
              used = (size_t) (end + 4 - scratch);
              c->state = c->sio ? CONN_OPENING : CONN_WELCOME;
            }
        }
      if (c->state != CONN_HANDSHAKE)
        used += conn_frames (c, scratch + used, total - used, now);
      if (c->state == CONN_WAITING)
        return;
      left = total - used;
      if (left > CONN_BUF)
        {
          conn_end (c, 0);
          return;
        }
      memcpy (c->buf, scratch + used, left);
      c->len = left;
      if (budget > 0)
        {
          budget -= (size_t) r;
          if (budget == 0)
            return;
        }
      if ((size_t) r < want)
        return;   /* drained */
    }
}

/* Every TICK_MSEC: (re)connections due, leaves due, the slow readers. */
static void
tick (int64_t now)
{
  for (int i = 0; i < n_conns; i++)
    {
      Conn *c = &conns[i];

      if (c->state == CONN_WAITING && now >= c->due)
        conn_start (c);
      else if (c->state == CONN_IN && c->kind == KIND_RECONNECT && now >= c->due)
        {
          if (c->index % 2 == 0)
            send_frame (c, 0x8, "\x03\xe8", 2);   /* 1000 */
          conn_end (c, 1);
        }
      else if (c->state == CONN_IN && c->kind == KIND_SLOW &&
               !(c->index % 4 == 0 &&
                 ((now - start_usec) / 1000000 + c->index) % STALL_PERIOD >= STALL_PERIOD - STALL_SECONDS))
        conn_read (c, (size_t) (slow_rate * TICK_MSEC / 1000));
    }
}

static double
percentile (double p)
{
  uint64_t want = (uint64_t) ceil (p * (double) hist_n);
  uint64_t seen = 0;

  if (hist_n == 0)
    return -1;
  for (int i = 0; i < HIST_BUCKETS; i++)
    {
      seen += hist[i];
      if (seen >= want && seen > 0)
        return pow (HIST_BASE, i + 1);   /* the bucket's upper bound */
    }
  return hist_max;
}

/* One JSON line of the figures since the last report. */
static void
report (void)
{
  int in[N_KINDS] = { 0 };

  for (int i = 0; i < n_conns; i++)
    if (conns[i].state == CONN_IN)
      in[conns[i].kind]++;

  printf ("{\"t\":%.3f", (double) (now_usec () - start_usec) / 1e6);
  for (int k = 0; k < N_KINDS; k++)
    printf (",\"%s\":{\"in\":%d,\"connects\":%llu,\"failures\":%llu,\"server_closes\":%llu,"
            "\"leaves\":%llu,\"frames\":%llu,\"updates\":%llu,\"bytes\":%llu}",
            kind_names[k], in[k], (unsigned long long) stats[k].connects,
            (unsigned long long) stats[k].failures, (unsigned long long) stats[k].server_closes,
            (unsigned long long) stats[k].leaves, (unsigned long long) stats[k].frames,
            (unsigned long long) stats[k].updates, (unsigned long long) stats[k].bytes);
  printf (",\"close_codes\":{\"1000\":%llu,\"1001\":%llu,\"1008\":%llu,\"1013\":%llu,\"other\":%llu}",
          (unsigned long long) close_codes[0], (unsigned long long) close_codes[1],
          (unsigned long long) close_codes[2], (unsigned long long) close_codes[3],
          (unsigned long long) close_codes[4]);
  printf (",\"latency\":{\"n\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}}\n",
          (unsigned long long) hist_n, percentile (0.50) / 1000, percentile (0.99) / 1000,
          hist_max / 1000);
  fflush (stdout);

  memset (stats, 0, sizeof stats);
  memset (close_codes, 0, sizeof close_codes);
  memset (hist, 0, sizeof hist);
  hist_n = 0;
  hist_max = 0;
}

static void
split_symbols (const char *list)
{
  char *copy = strdup (list);
  char *save = NULL;

  for (char *s = strtok_r (copy, ";,", &save); s != NULL; s = strtok_r (NULL, ";,", &save))
    {
      symbols = realloc (symbols, sizeof (char *) * (size_t) (n_symbols + 1));
      symbols[n_symbols++] = s;
    }
}

int
main (int   argc,
      char *argv[])
{
  struct epoll_event events[MAX_EVENTS];
  struct epoll_event in_ev = { .events = EPOLLIN, .data.ptr = NULL };
  int counts[N_KINDS] = { 0 };
  int64_t next_tick;
  char line[256];
  size_t line_len = 0;

  for (int i = 1; i + 1 < argc; i += 2)
    {
      const char *opt = argv[i], *val = argv[i + 1];

      if (strcmp (opt, "--port") == 0)
        port = atoi (val);
      else if (strcmp (opt, "--ws") == 0)
        counts[KIND_WS] = atoi (val);
      else if (strcmp (opt, "--sio") == 0)
        counts[KIND_SIO] = atoi (val);
      else if (strcmp (opt, "--slow") == 0)
        counts[KIND_SLOW] = atoi (val);
      else if (strcmp (opt, "--reconnect") == 0)
        counts[KIND_RECONNECT] = atoi (val);
      else if (strcmp (opt, "--slow-rate") == 0)
        slow_rate = atol (val);
      else if (strcmp (opt, "--reconnect-min") == 0)
        reconnect_min = atof (val);
      else if (strcmp (opt, "--reconnect-max") == 0)
        reconnect_max = atof (val);
      else if (strcmp (opt, "--speed") == 0)
        speed = atof (val);
      else if (strcmp (opt, "--symbols") == 0)
        split_symbols (val);
      else
        port = 0;
    }
  if (port <= 0 || speed <= 0 || slow_rate < 100 || reconnect_max < reconnect_min)
    {
      fprintf (stderr, "usage: %s --port PORT [--ws N] [--sio N] [--slow N] [--reconnect N] [--slow-rate BYTES]\n"
                       "       [--reconnect-min S] [--reconnect-max S] [--speed X] [--symbols A;B]\n"
                       "(started by bench/soak; a line on stdin prints the figures, EOF quits)\n", argv[0]);
      return 2;
    }

  ep = epoll_create1 (EPOLL_CLOEXEC);
  if (ep < 0 || epoll_ctl (ep, EPOLL_CTL_ADD, STDIN_FILENO, &in_ev) < 0)
    {
      perror ("soak-clients: epoll");
      return 1;
    }
  for (int k = 0; k < N_KINDS; k++)
    n_conns += counts[k];
  conns = calloc ((size_t) n_conns + 1, sizeof (Conn));
  start_usec = now_usec ();
  srandom ((unsigned) start_usec);
  for (int k = 0, i = 0; k < N_KINDS; k++)
    for (int j = 0; j < counts[k]; j++, i++)
      {
        Conn *c = &conns[i];

        c->index = i;
        c->kind = k;
        /* normal clients by their kind; the others half and half */
        c->sio = k == KIND_SIO || (k >= KIND_SLOW && j % 2 == 1);
        c->fd = -1;
        c->buf = malloc (CONN_BUF);
        /* not all in the same millisecond: spread over the first second */
        conn_schedule (c, start_usec + (int64_t) (1e6 * i / (n_conns + 1)));
      }

  next_tick = now_usec ();
  for (;;)
    {
      int64_t now = now_usec ();
      int timeout = next_tick > now ? (int) ((next_tick - now + 999) / 1000) : 0;
      int n = epoll_wait (ep, events, MAX_EVENTS, timeout);

      for (int i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;

          if (c == NULL)
            {
              ssize_t r = read (STDIN_FILENO, line + line_len, sizeof line - line_len);

              if (r <= 0)
                {
                  for (int j = 0; j < n_conns; j++)
                    if (conns[j].state != CONN_WAITING)
                      close (conns[j].fd);
                  return 0;
                }
              line_len += (size_t) r;
              for (char *nl; (nl = memchr (line, '\n', line_len)) != NULL;)
                {
                  report ();
                  line_len -= (size_t) (nl + 1 - line);
                  memmove (line, nl + 1, line_len);
                }
              if (line_len == sizeof line)
                line_len = 0;
              continue;
            }
          if (c->state == CONN_WAITING)
            continue;
          if (c->state == CONN_CONNECTING)
            conn_writable (c);
          else
            conn_read (c, 0);
        }
      now = now_usec ();
      if (now >= next_tick)
        {
          tick (now);
          next_tick = now + TICK_MSEC * 1000;
        }
    }
}
