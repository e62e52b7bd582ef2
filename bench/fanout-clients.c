/* fanout-clients.c: the WebSocket clients of bench/fanout --external and
 * bench/writeloop, in a process of their own
 *
 *   fanout-clients --shm-fd FD [--wake-fd FD]
 *
 * Started by the server side (fanout-driver.c), which creates the shared
 * block of fanout-shared.h and sends commands through it. One thread,
 * epoll, no GLib: the clients should cost the machine as little as can be.
 *
 * FC_CMD_CONNECT N opens N connections to 127.0.0.1:PORT at once: every
 * non-blocking connect() first, then epoll drives the handshakes (the
 * storm). On /ws a client waits for the server's `connected` event, sends
 * {"event":"subscribe_symbol","data":{"symbol":"BTC"}} and is in once
 * `symbol_subscribed` comes back. On Socket.IO's websocket transport
 * (/socket.io/?EIO=4&transport=websocket) it reads the open packet, sends
 * `40`, waits for the `connected` event, sends
 * 42["subscribe_symbol",{"symbol":"BTC"}] and waits for
 * `symbol_subscribed`; it answers the Engine.IO ping `2` with `3`.
 *
 * Every financial_data_update is counted; while `recording` is set, its
 * price (the sequence number the server side pushed) gives the push time
 * in the shared block, and now − then is a latency sample.
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fanout-shared.h"

#define CONN_BUF      2048          /* what a read left of a frame or a handshake */
#define SCRATCH       (64 * 1024)   /* one read */
#define MAX_BATCHES   16
#define MAX_EVENTS    1024
#define WAIT_MSEC     2

typedef enum
{
  CONN_IDLE,          /* not started yet (a batch with a concurrency limit) */
  CONN_CONNECTING,    /* TCP */
  CONN_HANDSHAKE,     /* request sent, waiting for the 101 */
  CONN_OPENING,       /* Socket.IO: waiting for the open packet */
  CONN_WELCOME,       /* waiting for the connected event */
  CONN_SUBSCRIBING,   /* waiting for symbol_subscribed */
  CONN_IN,
  CONN_DEAD,
} ConnState;

typedef struct
{
  int      fd;
  uint8_t  state;
  uint8_t  batch;
  uint16_t len;
  int64_t  mark;      /* monotonic µs: the end of its last phase */
  uint8_t  buf[CONN_BUF];
} Conn;

typedef struct
{
  Conn    *conns;
  uint32_t n;
  uint32_t started;
  uint32_t pending;     /* neither in nor failed */
  uint32_t concurrency; /* 0: all at once */
  int64_t  start;
  int64_t  deadline;
  int      active;
  int      base;        /* its deliveries count in received_base */
} Batch;

static FcShared *shm;
static int64_t  *push_times;
static int64_t  *samples;
static int       ep = -1;
static int       wake_fd = -1;
static Batch     batches[MAX_BATCHES];
static unsigned  n_batches;
static uint8_t   scratch[SCRATCH];
static uint64_t  received;
static uint64_t  received_base;
static uint64_t  n_samples;

static const char ws_request[] =
  "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
static const char sio_request[] =
  "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
static const char ws_subscribe[] = "{\"event\":\"subscribe_symbol\",\"data\":{\"symbol\":\"BTC\"}}";
static const char sio_subscribe[] = "42[\"subscribe_symbol\",{\"symbol\":\"BTC\"}]";

#define HAS_PREFIX(data, len, lit) \
  ((len) >= sizeof (lit) - 1 && memcmp ((data), (lit), sizeof (lit) - 1) == 0)

/* Tells the server side to look (an eventfd). */
static void
wake (void)
{
  uint64_t one = 1;

  if (wake_fd >= 0 && write (wake_fd, &one, sizeof one) < 0)
    {
      /* a full counter is still a wake-up */
    }
}

static int64_t
now_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A masked text frame, as a client sends; a write that does not take it
 * all (never with these few bytes) counts as a failure. */
static int
send_text (int         fd,
           const char *text)
{
  uint8_t frame[128];
  static const uint8_t mask[4] = { 0x11, 0x22, 0x33, 0x44 };
  size_t len = strlen (text);

  if (len >= 126)
    abort ();
  frame[0] = 0x81;
  frame[1] = 0x80 | (uint8_t) len;
  memcpy (frame + 2, mask, 4);
  for (size_t i = 0; i < len; i++)
    frame[6 + i] = (uint8_t) text[i] ^ mask[i & 3];
  return write (fd, frame, 6 + len) == (ssize_t) (6 + len);
}

static void
conn_end (Conn *c,
          int   timed_out)
{
  Batch *b = &batches[c->batch];

  if (c->state == CONN_DEAD)
    return;
  if (c->state != CONN_IDLE)
    {
      close (c->fd);
      c->fd = -1;
      __atomic_sub_fetch (&shm->open, 1, __ATOMIC_RELEASE);
    }
  if (c->state == CONN_IN)
    __atomic_add_fetch (&shm->lost, 1, __ATOMIC_RELEASE);
  else
    {
      b->pending--;
      if (timed_out)
        __atomic_add_fetch (&shm->batch_timed_out, 1, __ATOMIC_RELEASE);
      else
        __atomic_add_fetch (&shm->batch_failed, 1, __ATOMIC_RELEASE);
    }
  c->state = CONN_DEAD;
}

/* @c ends phase @ph at @now */
static void
conn_phase (Conn    *c,
            int      ph,
            int64_t  now)
{
  int64_t d = now - c->mark;

  c->mark = now;
  __atomic_add_fetch (&shm->phase_count[ph], 1, __ATOMIC_RELEASE);
  __atomic_add_fetch (&shm->phase_sum_usec[ph], d, __ATOMIC_RELEASE);
  if (d > FC_LOAD (shm->phase_max_usec[ph]))
    FC_STORE (shm->phase_max_usec[ph], d);
}

static void
conn_welcomed (Conn   *c,
               int64_t now)
{
  Batch *b = &batches[c->batch];

  conn_phase (c, FC_PHASE_WELCOME, now);
  __atomic_add_fetch (&shm->batch_connected, 1, __ATOMIC_RELEASE);
  FC_STORE (shm->batch_in_usec, now - b->start);
  if (!send_text (c->fd, shm->socketio ? sio_subscribe : ws_subscribe))
    {
      conn_end (c, 0);
      return;
    }
  c->state = CONN_SUBSCRIBING;
}

static void
conn_subscribed (Conn *c)
{
  batches[c->batch].pending--;
  __atomic_add_fetch (&shm->batch_subscribed, 1, __ATOMIC_RELEASE);
  c->state = CONN_IN;
}

static void
delivery (Conn          *c,
          const uint8_t *data,
          size_t         len,
          int64_t        now)
{
  received++;
  __atomic_store_n (&shm->received, received, __ATOMIC_RELAXED);
  if (batches[c->batch].base)
    {
      uint64_t target = __atomic_load_n (&shm->notify_base, __ATOMIC_RELAXED);

      received_base++;
      __atomic_store_n (&shm->received_base, received_base, __ATOMIC_RELAXED);
      if (target != 0 && received_base >= target &&
          __atomic_compare_exchange_n (&shm->notify_base, &target, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        wake ();
    }
  __atomic_store_n (&shm->last_received, now, __ATOMIC_RELAXED);

  if (__atomic_load_n (&shm->recording, __ATOMIC_RELAXED) && n_samples < shm->max_samples)
    {
      const uint8_t *price = memmem (data, len, "\"price\":", 8);
      unsigned long seq;
      int64_t sent;

      if (price == NULL)
        return;
      /* The frame goes on after the number: strtoul stops there. */
      seq = strtoul ((const char *) price + 8, NULL, 10);
      if (seq == 0 || seq >= shm->max_seq)
        return;
      sent = __atomic_load_n (&push_times[seq], __ATOMIC_ACQUIRE);
      if (sent > 0)
        {
          samples[n_samples++] = now - sent;
          FC_STORE (shm->n_samples, n_samples);
        }
    }
}

static void
conn_frame (Conn          *c,
            unsigned       opcode,
            const uint8_t *data,
            size_t         len,
            int64_t        now)
{
  if (opcode == 0x8)
    {
      conn_end (c, 0);       /* a close from the server */
      return;
    }
  if (opcode != 0x1)
    return;

  if (shm->socketio)
    {
      if (HAS_PREFIX (data, len, "42[\"financial_data_update\""))
        delivery (c, data, len, now);
      else if (len == 1 && data[0] == '2')
        {
          if (!send_text (c->fd, "3"))
            conn_end (c, 0);
        }
      else if (c->state == CONN_OPENING && len > 0 && data[0] == '0')
        {
          conn_phase (c, FC_PHASE_OPEN, now);
          if (!send_text (c->fd, "40"))
            conn_end (c, 0);
          else
            c->state = CONN_WELCOME;
        }
      else if (c->state == CONN_WELCOME && HAS_PREFIX (data, len, "42[\"connected\""))
        conn_welcomed (c, now);
      else if (c->state == CONN_SUBSCRIBING && HAS_PREFIX (data, len, "42[\"symbol_subscribed\""))
        conn_subscribed (c);
    }
  else
    {
      if (HAS_PREFIX (data, len, "{\"event\":\"financial_data_update\""))
        delivery (c, data, len, now);
      else if (c->state == CONN_WELCOME && HAS_PREFIX (data, len, "{\"event\":\"connected\""))
        conn_welcomed (c, now);
      else if (c->state == CONN_SUBSCRIBING && HAS_PREFIX (data, len, "{\"event\":\"symbol_subscribed\""))
        conn_subscribed (c);
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

  while (c->state != CONN_DEAD && len - pos >= 2)
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
      if (plen > SCRATCH)
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

static void
conn_writable (Conn *c)
{
  int err = 0;
  socklen_t elen = sizeof err;
  const char *req = shm->socketio ? sio_request : ws_request;
  size_t rlen = shm->socketio ? sizeof sio_request - 1 : sizeof ws_request - 1;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

  if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0 ||
      write (c->fd, req, rlen) != (ssize_t) rlen ||
      epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
    {
      conn_end (c, 0);
      return;
    }
  conn_phase (c, FC_PHASE_TCP, now_usec ());
  c->state = CONN_HANDSHAKE;
}

static void
conn_readable (Conn *c)
{
  for (;;)
    {
      size_t have = c->len;
      size_t total, used = 0, left;
      ssize_t r;
      int64_t now;

      /* One read buffer for everyone: a connection keeps only what a
       * read cut in two. */
      memcpy (scratch, c->buf, have);
      r = read (c->fd, scratch + have, SCRATCH - have);
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
              conn_phase (c, FC_PHASE_UPGRADE, now);
              c->state = shm->socketio ? CONN_OPENING : CONN_WELCOME;
            }
        }
      if (c->state != CONN_HANDSHAKE)
        used += conn_frames (c, scratch + used, total - used, now);
      if (c->state == CONN_DEAD)
        return;
      left = total - used;
      if (left > CONN_BUF)
        {
          conn_end (c, 0);
          return;
        }
      memcpy (c->buf, scratch + used, left);
      c->len = (uint16_t) left;
      if ((size_t) r < SCRATCH - have)
        return;   /* drained */
    }
}

static void
conn_start (Conn *c)
{
  struct sockaddr_in sa = { 0 };
  struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
  int one = 1;

  c->state = CONN_CONNECTING;
  c->mark = now_usec ();
  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    {
      c->state = CONN_IDLE;   /* nothing to close */
      conn_end (c, 0);
      return;
    }
  __atomic_add_fetch (&shm->open, 1, __ATOMIC_RELEASE);
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sa.sin_family = AF_INET;
  sa.sin_port = htons ((uint16_t) shm->port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if ((connect (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS) ||
      epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
    conn_end (c, 0);
}

/* Starts connections: all of them, or up to the batch's concurrency. */
static void
batch_fill (Batch *b)
{
  while (b->active && b->started < b->n &&
         (b->concurrency == 0 || b->started - (b->n - b->pending) < b->concurrency))
    conn_start (&b->conns[b->started++]);
}

static void
batch_start (uint32_t n,
             uint32_t concurrency,
             int      extra,
             uint32_t timeout_ms)
{
  Batch *b;

  FC_STORE (shm->batch_connected, 0);
  FC_STORE (shm->batch_subscribed, 0);
  FC_STORE (shm->batch_failed, 0);
  FC_STORE (shm->batch_timed_out, 0);
  FC_STORE (shm->batch_in_usec, 0);
  FC_STORE (shm->batch_done_usec, 0);
  for (int i = 0; i < FC_N_PHASES; i++)
    {
      FC_STORE (shm->phase_count[i], 0);
      FC_STORE (shm->phase_sum_usec[i], 0);
      FC_STORE (shm->phase_max_usec[i], 0);
    }
  if (n_batches == MAX_BATCHES)
    {
      FC_STORE (shm->batch_failed, n);
      return;
    }
  b = &batches[n_batches];
  b->conns = calloc (n, sizeof (Conn));
  if (b->conns == NULL)
    {
      FC_STORE (shm->batch_failed, n);
      return;
    }
  for (uint32_t i = 0; i < n; i++)
    b->conns[i].batch = (uint8_t) n_batches;
  n_batches++;
  b->n = n;
  b->pending = n;
  b->concurrency = concurrency;
  b->base = !extra;
  b->start = now_usec ();
  b->deadline = b->start + (int64_t) timeout_ms * 1000;
  b->active = 1;
  batch_fill (b);
}

/* Returns 1 when the active batch is over. */
static int
batch_check (int64_t now)
{
  Batch *b = n_batches > 0 ? &batches[n_batches - 1] : NULL;

  if (b == NULL || !b->active)
    return 0;
  if (b->pending > 0 && now < b->deadline)
    return 0;
  for (uint32_t i = 0; i < b->n && b->pending > 0; i++)
    if (b->conns[i].state != CONN_IN)
      conn_end (&b->conns[i], 1);   /* those not started too */
  b->active = 0;
  FC_STORE (shm->batch_done_usec, now - b->start);
  return 1;
}

static void
close_all (void)
{
  for (unsigned i = 0; i < n_batches; i++)
    {
      for (uint32_t j = 0; j < batches[i].n; j++)
        if (batches[i].conns[j].state != CONN_DEAD && batches[i].conns[j].state != CONN_IDLE)
          close (batches[i].conns[j].fd);
      free (batches[i].conns);
    }
  n_batches = 0;
}

int
main (int   argc,
      char *argv[])
{
  struct epoll_event events[MAX_EVENTS];
  struct stat st;
  uint32_t handled = 0;
  uint32_t acked_batch = 0;
  int fd = -1;

  for (int i = 1; i + 1 < argc; i++)
    if (strcmp (argv[i], "--shm-fd") == 0)
      fd = atoi (argv[i + 1]);
    else if (strcmp (argv[i], "--wake-fd") == 0)
      wake_fd = atoi (argv[i + 1]);
  if (fd < 0 || fstat (fd, &st) < 0 || (size_t) st.st_size < FC_HEADER_SIZE)
    {
      fprintf (stderr, "usage: %s --shm-fd FD (started by bench/fanout --external or bench/writeloop)\n", argv[0]);
      return 2;
    }
  shm = mmap (NULL, (size_t) st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shm == MAP_FAILED)
    {
      perror ("fanout-clients: mmap");
      return 1;
    }
  close (fd);
  if ((size_t) st.st_size < fc_shared_size (shm->max_seq, shm->max_samples))
    {
      fprintf (stderr, "fanout-clients: the shared block is too small\n");
      return 1;
    }
  push_times = fc_shared_push_times (shm);
  samples = fc_shared_samples (shm);
  ep = epoll_create1 (EPOLL_CLOEXEC);
  if (ep < 0)
    {
      perror ("fanout-clients: epoll_create1");
      return 1;
    }

  for (;;)
    {
      uint32_t seq = FC_LOAD (shm->cmd_seq);
      int n;
      int64_t now;

      if (seq != handled)
        {
          handled = seq;
          switch (FC_LOAD (shm->cmd))
            {
            case FC_CMD_CONNECT:
              batch_start (FC_LOAD (shm->arg), FC_LOAD (shm->concurrency), FC_LOAD (shm->extra),
                           FC_LOAD (shm->timeout_ms));
              break;
            case FC_CMD_QUIT:
              close_all ();
              close (ep);
              FC_STORE (shm->ack_seq, handled);
              wake ();
              munmap (shm, (size_t) st.st_size);
              return 0;
            default:
              FC_STORE (shm->ack_seq, handled);
              wake ();
              break;
            }
          acked_batch = 0;
        }

      n = epoll_wait (ep, events, MAX_EVENTS, WAIT_MSEC);
      for (int i = 0; i < n; i++)
        {
          Conn *c = events[i].data.ptr;

          if (c->state == CONN_DEAD || c->state == CONN_IDLE)
            continue;
          if (c->state == CONN_CONNECTING)
            conn_writable (c);
          else
            conn_readable (c);
        }
      now = now_usec ();
      if (n_batches > 0)
        batch_fill (&batches[n_batches - 1]);
      if (!acked_batch && batch_check (now))
        {
          acked_batch = 1;
          FC_STORE (shm->ack_seq, handled);
          wake ();
        }
      else if (!acked_batch && (n_batches == 0 || !batches[n_batches - 1].active))
        {
          /* A batch that could not start */
          acked_batch = 1;
          FC_STORE (shm->ack_seq, handled);
          if (handled != 0)
            wake ();
        }
    }
}
