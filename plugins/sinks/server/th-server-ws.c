/* th-server-ws.c: RFC 6455 on a stolen connection, and the /ws transport
 *
 * libsoup does the HTTP part: the request, the handshake checks and the
 * 101 response (soup_websocket_server_process_handshake). Then we steal
 * the connection and speak RFC 6455 ourselves, instead of handing it to a
 * SoupWebsocketConnection. The reason is the outgoing side: libsoup copies
 * every frame, writes each on its own, keeps an unbounded queue and does
 * not say how much of it is still waiting, so a slow reader grows memory
 * without bound and 1,000 recipients cost 1,000 copies and 1,000 writes.
 *
 * The connection (ThWsConn) is shared by two transports: the plain /ws
 * protocol below, and Socket.IO's websocket transport (th-server-sio.c).
 * Each connection has a ring of frames. A frame is a small header of our
 * own and a GBytes body, shared by every recipient (no copy). Writes take
 * up to 64 frames per call, started from one idle callback per main-loop
 * iteration for all clients that have something new (so events consumed
 * in one iteration are coalesced).
 *
 * A plain TCP connection is driven on its file descriptor: sendmsg(2)
 * and recv(2), and one epoll set for every such connection of the server
 * (ThWsPoller), a single GSource in the main loop. With thousands of
 * clients this matters: GLib's main loop walks every source on every
 * iteration and poll(2)s every descriptor, and GIO's streams add a GError
 * for each write that would block. Input libsoup read ahead of the
 * handshake is drained through the stream first; then the connection
 * keeps only a descriptor of its own (th_server_http_upgraded dup(2)s
 * it) and lets go of the GIO objects (GSocket, GSocketConnection, its
 * streams, libsoup's stream over them: about 2 KB a client, for as long
 * as it stays), and a ring that stays empty for a sweep period is freed
 * (ring_emptied), so an idle client holds little more than this struct
 * and its ThServerClient. TLS connections
 * keep the GIO streams and a source each. We count the bytes we queue and the
 * bytes the kernel takes, so the per-client budget (client-buffer, whose
 * policy is th_server_client_admit(), the same for every transport) is
 * exact.
 *
 * Incoming (the codec in core/th-ws-frame.c reads the frames): frames
 * must be masked; fragmented messages are reassembled up to max-message
 * (over it: close 1009); text must be UTF-8 (else 1007); complete
 * messages go to the owner's callback; pings are answered; a close is
 * echoed. permessage-deflate is not negotiated.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>

#include "th-server-private.h"
#include "th-ws-frame.h"

#define RING_MIN            16
/* An emptied ring is freed once no frame came for a whole sweep period
 * (between one and two of them: see ring_emptied). */
#define IDLE_RING_MSEC      500
#define IDLE_TRIM_AFTER     512   /* rings freed in a sweep before a malloc_trim() */
#define FRAMES_PER_WRITE    64
#define WRITE_SLICE         (512 * 1024)          /* bytes per client per iteration */
#define READ_CHUNK          (16 * 1024)
#define CLOSE_WAIT_MSEC     1000
/* Connections still in their handshake (th_ws_conn_set_handshake): read
 * at a priority above the fan-out's write pass and the other clients'
 * reads, HANDSHAKE_BATCH events per dispatch. After HANDSHAKE_RUN events
 * or HANDSHAKE_RUN_USEC in a row (a stretch ends when the source has not
 * been dispatched for HANDSHAKE_RUN_USEC) the source drops to the default
 * priority for one dispatch, so that neither a flood of handshakes nor a
 * client that keeps sending before its CONNECT can shut the broadcast
 * out. */
#define HANDSHAKE_PRIORITY  (G_PRIORITY_DEFAULT - 10)
#define HANDSHAKE_BATCH     64
#define HANDSHAKE_RUN       512
#define HANDSHAKE_RUN_USEC  (20 * 1000)

typedef struct
{
  guint8   head[10];
  guint8   head_len;
  guint8   is_close : 1;
  const char *conflate; /* interned key of a droppable update, or NULL */
  GBytes  *body;        /* nullable */
  gsize    size;        /* head_len + body size */
  gsize    sent;
  gint64   queued_at;   /* monotonic µs; 0 for replies */
} Frame;

struct _ThWsConn
{
  ThServerClient          *owner;      /* counts what is sent; marked dirty */
  const ThWsConnCallbacks *cb;
  gpointer                 user_data;

  GIOStream      *stream;     /* NULL once a plain connection is on its fd */
  GInputStream   *in;
  GOutputStream  *out;
  GSource        *in_source;  /* the stream's, until reading moves to the fd */
  GSource        *out_source; /* the stream's (TLS) */
  guint           close_timer;
  guint           drain_id;   /* the first read, through the stream */

  /* A plain TCP connection: its descriptor once libsoup's read-ahead is
   * drained; -1 before, and for TLS. It is ours (th_server_http_upgraded):
   * the stream goes with the drain, we close the descriptor. */
  ThWsPoller     *poller;
  int             fd;
  int             fd_pending;
  guint32         epoll_mask; /* what the poller watches now */
  int             epoll_set;  /* the poller's epoll set it is in, -1: none */
  gboolean        handshake;  /* in the poller's handshake set */
  gboolean        reading;
  gboolean        waiting_out; /* the socket was full: waiting to write */

  Frame          *ring;       /* NULL once freed idle (ring_emptied) */
  guint           ring_cap;   /* a power of two, or 0 */
  guint           idle_slot;  /* 1 + its index in the poller's idle list; 0: not in it */
  gboolean        ring_used;  /* a frame was queued since the last sweep */
  guint           ring_head;
  guint           ring_len;
  gsize           queued;     /* bytes not yet taken by the kernel */

  GByteArray     *rbuf;       /* nullable: the start of a frame not yet complete */
  ThWsParser      parser;     /* and a fragmented message being reassembled */

  gboolean        close_queued;
  gboolean        close_written;
  gboolean        close_received;
  gboolean        broken;     /* a protocol error: input is discarded */
  gboolean        destroyed;
  gboolean        in_read;    /* in read_ready(): it frees the memory */
  gboolean        buried;     /* in the poller's graveyard */
};

/* The poller: one epoll set for the plain connections */

struct _ThWsPoller
{
  int        epfd;
  GSource   *source;
  int        hs_epfd;     /* connections in their handshake */
  GSource   *hs_source;   /* at HANDSHAKE_PRIORITY, or yielding at the default */
  ThServerYield hs_yield;
  gboolean   dispatching;
  GPtrArray *graveyard;   /* ThWsConn* ended during a dispatch, freed after */
  GPtrArray *idle;        /* ThWsConn* whose ring emptied (ring_emptied) */
  guint      idle_id;     /* the sweep of @idle, while it is not empty */
};

static void conn_free (ThWsConn *c);
static gboolean read_ready (ThWsConn *c);
static gboolean write_some (ThWsConn *c);

static void
update_epoll (ThWsConn *c)
{
  guint32 mask = (c->reading ? EPOLLIN : 0) | (c->waiting_out ? EPOLLOUT : 0);
  struct epoll_event ev = { .events = mask, .data.ptr = c };
  int set;
  int op;

  if (c->fd < 0)
    return;
  set = c->handshake ? c->poller->hs_epfd : c->poller->epfd;
  if (c->epoll_mask != 0 && c->epoll_set != set)
    {
      /* Moving between the sets */
      if (epoll_ctl (c->epoll_set, EPOLL_CTL_DEL, c->fd, NULL) < 0)
        g_debug ("server: epoll_ctl: %s", g_strerror (errno));
      c->epoll_mask = 0;
      c->epoll_set = -1;
    }
  if (mask == c->epoll_mask)
    return;
  op = c->epoll_mask == 0 ? EPOLL_CTL_ADD : (mask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
  if (epoll_ctl (set, op, c->fd, &ev) < 0)
    g_debug ("server: epoll_ctl: %s", g_strerror (errno));
  c->epoll_mask = mask;
  c->epoll_set = mask != 0 ? set : -1;
}

/* Handles up to @max events of @epfd; returns how many there were. In
 * the handshake set (@handshake), what a read queued is written at once:
 * the answer to a handshake step should not wait for the next write pass,
 * which at 10,000 clients takes tens of milliseconds. */
static int
poller_run (ThWsPoller *p,
            int         epfd,
            int         max,
            gboolean    handshake)
{
  struct epoll_event events[256];
  int n = epoll_wait (epfd, events, MIN (max, (int) G_N_ELEMENTS (events)), 0);

  p->dispatching = TRUE;
  for (int i = 0; i < n; i++)
    {
      ThWsConn *c = events[i].data.ptr;

      if (c->destroyed)
        continue;
      if ((events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->waiting_out)
        {
          c->waiting_out = FALSE;
          update_epoll (c);
          write_some (c);
        }
      if (!c->destroyed && c->reading && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
          read_ready (c) && handshake && !c->destroyed && c->ring_len > 0)
        th_ws_conn_flush (c);
    }
  p->dispatching = FALSE;
  /* Ended meanwhile: a later event of the batch may have named them. */
  for (guint i = 0; i < p->graveyard->len; i++)
    conn_free (p->graveyard->pdata[i]);
  g_ptr_array_set_size (p->graveyard, 0);
  return MAX (n, 0);
}

static gboolean
poller_dispatch (int          epfd,
                 GIOCondition condition,
                 gpointer     data)
{
  poller_run (data, epfd, 256, FALSE);
  return G_SOURCE_CONTINUE;
}

static gboolean
handshake_dispatch (int          epfd,
                    GIOCondition condition,
                    gpointer     data)
{
  ThWsPoller *p = data;
  int n = poller_run (p, epfd, HANDSHAKE_BATCH, TRUE);

  th_server_yield_dispatched (&p->hs_yield, p->hs_source, HANDSHAKE_PRIORITY, (guint) n,
                              HANDSHAKE_RUN, HANDSHAKE_RUN_USEC);
  return G_SOURCE_CONTINUE;
}

void
th_server_yield_dispatched (ThServerYield *y,
                            GSource       *source,
                            int            priority,
                            guint          n,
                            guint          max_run,
                            gint64         max_usec)
{
  gint64 now = g_source_get_time (source);

  if (g_source_get_priority (source) != priority)
    {
      /* Dispatched at the default priority: the fan-out had its turn in
       * this iteration; back above it, a new stretch. */
      g_source_set_priority (source, priority);
      y->run = 0;
      y->since = now;
    }
  else
    {
      if (now - y->last > max_usec)
        {
          y->run = 0;   /* the main loop did other work meanwhile */
          y->since = now;
        }
      y->run += n;
      if (y->run >= max_run || now - y->since > max_usec)
        g_source_set_priority (source, G_PRIORITY_DEFAULT);
    }
  y->last = now;
}

ThWsPoller *
th_ws_poller_new (void)
{
  ThWsPoller *p = g_new0 (ThWsPoller, 1);

  p->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (p->epfd < 0)
    g_error ("server: epoll_create1: %s", g_strerror (errno));
  p->graveyard = g_ptr_array_new ();
  p->idle = g_ptr_array_new ();
  p->source = g_unix_fd_source_new (p->epfd, G_IO_IN);
  g_source_set_static_name (p->source, "[server] clients");
  g_source_set_callback (p->source, G_SOURCE_FUNC (poller_dispatch), p, NULL);
  g_source_attach (p->source, NULL);
  p->hs_epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (p->hs_epfd < 0)
    g_error ("server: epoll_create1: %s", g_strerror (errno));
  p->hs_source = g_unix_fd_source_new (p->hs_epfd, G_IO_IN);
  g_source_set_static_name (p->hs_source, "[server] clients in their handshake");
  g_source_set_priority (p->hs_source, HANDSHAKE_PRIORITY);
  g_source_set_callback (p->hs_source, G_SOURCE_FUNC (handshake_dispatch), p, NULL);
  g_source_attach (p->hs_source, NULL);
  return p;
}

/* Every connection has ended before. */
void
th_ws_poller_free (ThWsPoller *p)
{
  if (p == NULL)
    return;
  g_source_destroy (p->source);
  g_source_unref (p->source);
  g_source_destroy (p->hs_source);
  g_source_unref (p->hs_source);
  g_ptr_array_unref (p->graveyard);
  g_clear_handle_id (&p->idle_id, g_source_remove);
  g_ptr_array_unref (p->idle);
  close (p->epfd);
  close (p->hs_epfd);
  g_free (p);
}

/* The ring of outgoing frames */

static Frame *
ring_at (ThWsConn *c,
         guint     i)
{
  return &c->ring[(c->ring_head + i) & (c->ring_cap - 1)];
}

static void
ring_grow (ThWsConn *c)
{
  guint cap = MAX (RING_MIN, c->ring_cap * 2);
  Frame *ring = g_new (Frame, cap);

  for (guint i = 0; i < c->ring_len; i++)
    ring[i] = *ring_at (c, i);
  g_free (c->ring);
  c->ring = ring;
  c->ring_cap = cap;
  c->ring_head = 0;
}

static void
idle_unlist (ThWsConn *c)
{
  GPtrArray *idle = c->poller->idle;
  guint i = c->idle_slot - 1;

  g_ptr_array_remove_index_fast (idle, i);
  if (i < idle->len)
    ((ThWsConn *) idle->pdata[i])->idle_slot = i + 1;
  c->idle_slot = 0;
}

/* Frees the rings that stayed empty for a whole period. */
static gboolean
idle_sweep (gpointer data)
{
  ThWsPoller *p = data;
  guint freed = 0;

  /* Backwards: a removal moves the last one, seen already, into its place. */
  for (guint i = p->idle->len; i-- > 0;)
    {
      ThWsConn *c = p->idle->pdata[i];

      if (c->ring_len == 0 && !c->ring_used)
        {
          g_clear_pointer (&c->ring, g_free);
          c->ring_cap = 0;
          c->ring_head = 0;
          idle_unlist (c);
          freed++;
        }
      else
        c->ring_used = FALSE;
    }
  /* After a storm's clients went quiet, their rings lay between what
   * stays: the pages they leave whole go back to the system. */
  if (freed >= IDLE_TRIM_AFTER)
    malloc_trim (0);
  if (p->idle->len > 0)
    return G_SOURCE_CONTINUE;
  p->idle_id = 0;
  return G_SOURCE_REMOVE;
}

/* The ring has emptied. An idle client (most of them, most of the time)
 * should hold none, but freeing it at once, as a first version did, cost
 * a free and a malloc in every write pass to a client sent to again and
 * again: Socket.IO at 10,000 clients went from 1.6 to 3.3-3.9 µs of CPU
 * per delivery. So it is listed, and the poller's sweep frees it once a
 * whole period went by without a frame. A connection without the poller
 * (TLS) keeps its ring. */
static void
ring_emptied (ThWsConn *c)
{
  ThWsPoller *p = c->poller;

  if (c->ring == NULL || c->ring_len > 0 || p == NULL || c->idle_slot != 0)
    return;
  g_ptr_array_add (p->idle, c);
  c->idle_slot = p->idle->len;
  if (p->idle_id == 0)
    {
      p->idle_id = g_timeout_add (IDLE_RING_MSEC, idle_sweep, p);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, p->idle_id), "[server] idle rings");
    }
}

static void
push_frame (ThWsConn *c,
            guint8    opcode,
            GBytes   *body,          /* transfer full, nullable */
            const char *conflate,
            gint64    queued_at)
{
  gsize len = body != NULL ? g_bytes_get_size (body) : 0;
  Frame *f;

  if (c->ring_len == c->ring_cap)
    ring_grow (c);
  c->ring_used = TRUE;
  f = ring_at (c, c->ring_len++);
  memset (f, 0, sizeof *f);
  f->head_len = (guint8) _th_ws_frame_write_header (f->head, opcode, TRUE, len, NULL);
  f->body = body;
  f->size = f->head_len + len;
  f->conflate = conflate;
  f->is_close = opcode == TH_WS_OP_CLOSE;
  f->queued_at = queued_at;
  if (c->queued == 0)
    c->owner->last_progress = g_get_monotonic_time ();
  c->queued += f->size;
  th_server_mark_dirty (c->owner->server, c->owner);
}

/* Queues a text message; @body is shared, never copied. */
void
th_ws_conn_push (ThWsConn   *c,
                 GBytes     *body,
                 const char *conflate,
                 gint64      queued_at)
{
  if (c->close_queued)
    {
      g_bytes_unref (body);
      return;
    }
  push_frame (c, TH_WS_OP_TEXT, body, conflate, queued_at);
}

/* Drops the frames nobody has started to write, as @mode says (see
 * ThDropMode); returns how many. */
guint
th_ws_conn_drop (ThWsConn   *c,
                 const char *incoming,
                 ThDropMode  mode)
{
  g_autoptr(GPtrArray) seen = g_ptr_array_new ();
  g_autofree gboolean *later = g_new0 (gboolean, c->ring_len + 1);
  guint kept = 0;
  guint dropped = 0;

  /* From the newest: is a frame superseded by a later one of its key? */
  for (guint i = c->ring_len; mode == TH_DROP_SUPERSEDED && i > 0; i--)
    {
      const char *key = ring_at (c, i - 1)->conflate;

      if (key == NULL)
        continue;
      if (g_ptr_array_find (seen, key, NULL))
        later[i - 1] = TRUE;
      else
        g_ptr_array_add (seen, (gpointer) key);
    }

  for (guint i = 0; i < c->ring_len; i++)
    {
      Frame f = *ring_at (c, i);

      if (f.sent == 0 && !f.is_close && th_server_drop_frame (f.conflate, later[i], incoming, mode))
        {
          c->queued -= f.size;
          g_clear_pointer (&f.body, g_bytes_unref);
          dropped++;
          continue;
        }
      *ring_at (c, kept++) = f;
    }
  c->ring_len = kept;
  ring_emptied (c);
  return dropped;
}

/* While @handshake, @c is read before the fan-out (see HANDSHAKE_PRIORITY)
 * and what its reads queue is written at once: for a connection whose
 * client waits for an answer before it counts as connected (Socket.IO's
 * namespace CONNECT). TLS connections keep their stream's source. */
void
th_ws_conn_set_handshake (ThWsConn *c,
                          gboolean  handshake)
{
  c->handshake = handshake;
  update_epoll (c);
}

gsize
th_ws_conn_get_queued (ThWsConn *c)
{
  return c->queued;
}

void
th_ws_conn_set_owner (ThWsConn                *c,
                      ThServerClient          *owner,
                      const ThWsConnCallbacks *cb,
                      gpointer                 user_data)
{
  c->owner = owner;
  c->cb = cb;
  c->user_data = user_data;
}

/* Writing */

static gboolean on_writable (GObject *stream, gpointer data);

static void
frame_done (ThWsConn      *c,
            Frame         *f,
            ThServerStats *stats,
            gint64         now)
{
  if (f->queued_at > 0)
    {
      stats->sent_messages++;
      stats->sent_bytes += f->size;
      c->owner->sent_messages++;
      c->owner->sent_bytes += f->size;
      th_server_observe_latency (stats, now - f->queued_at);
    }
  if (f->is_close)
    c->close_written = TRUE;
  g_clear_pointer (&f->body, g_bytes_unref);
}

static gboolean
close_timeout (gpointer data)
{
  ThWsConn *c = data;

  c->close_timer = 0;
  th_ws_conn_destroy (c);
  return G_SOURCE_REMOVE;
}

/* Writes until the kernel takes no more or the slice is used; returns
 * FALSE if the connection was destroyed. */
static gboolean
write_some (ThWsConn *c)
{
  ThServerStats *stats = th_server_get_stats (c->owner->server);
  gsize slice = 0;

  while (c->ring_len > 0 && slice < WRITE_SLICE)
    {
      struct iovec vec[2 * FRAMES_PER_WRITE];
      guint n = 0;
      gsize written = 0;
      g_autoptr(GError) error = NULL;
      GPollableReturn r;
      gint64 now;

      for (guint i = 0; i < c->ring_len && i < FRAMES_PER_WRITE; i++)
        {
          Frame *f = ring_at (c, i);
          gsize off = f->sent;

          if (off < f->head_len)
            {
              vec[n++] = (struct iovec) { f->head + off, f->head_len - off };
              off = f->head_len;
            }
          if (f->body != NULL)
            {
              gsize blen;
              const guint8 *b = g_bytes_get_data (f->body, &blen);

              if (off - f->head_len < blen)
                vec[n++] = (struct iovec) { (guint8 *) b + (off - f->head_len), blen - (off - f->head_len) };
            }
        }

      if (c->fd >= 0)
        {
          struct msghdr mh = { .msg_iov = vec, .msg_iovlen = n };
          gssize sent;

          do
            sent = sendmsg (c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
          while (sent < 0 && errno == EINTR);
          if (sent >= 0)
            {
              written = sent;
              r = G_POLLABLE_RETURN_OK;
            }
          else if (errno == EAGAIN || errno == EWOULDBLOCK)
            r = G_POLLABLE_RETURN_WOULD_BLOCK;
          else
            {
              g_set_error_literal (&error, G_IO_ERROR, g_io_error_from_errno (errno), g_strerror (errno));
              r = G_POLLABLE_RETURN_FAILED;
            }
        }
      else
        r = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (c->out),
                                                         (GOutputVector *) vec, n, &written, NULL, &error);
      if (r == G_POLLABLE_RETURN_WOULD_BLOCK)
        {
          c->waiting_out = TRUE;
          if (c->fd >= 0)
            update_epoll (c);
          else if (c->out_source == NULL)
            {
              c->out_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (c->out), NULL);
              g_source_set_static_name (c->out_source, "[server] client writable");
              g_source_set_callback (c->out_source, G_SOURCE_FUNC (on_writable), c, NULL);
              g_source_attach (c->out_source, NULL);
            }
          return TRUE;
        }
      if (r == G_POLLABLE_RETURN_FAILED)
        {
          g_debug ("server: client %s: write failed: %s", c->owner->id, error != NULL ? error->message : "?");
          th_ws_conn_destroy (c);
          return FALSE;
        }

      now = g_get_monotonic_time ();
      c->queued -= written;
      c->owner->last_progress = now;
      slice += written;
      while (written > 0)
        {
          Frame *f = ring_at (c, 0);
          gsize left = f->size - f->sent;

          if (written < left)
            {
              f->sent += written;
              break;
            }
          written -= left;
          frame_done (c, f, stats, now);
          c->ring_head = (c->ring_head + 1) & (c->ring_cap - 1);
          c->ring_len--;
        }
    }

  if (c->ring_len > 0)
    th_server_mark_dirty (c->owner->server, c->owner);   /* the rest next iteration */
  else if (c->close_written && c->close_received)
    {
      th_ws_conn_destroy (c);
      return FALSE;
    }
  else
    ring_emptied (c);
  return TRUE;
}

static gboolean
on_writable (GObject  *stream,
             gpointer  data)
{
  ThWsConn *c = data;

  g_source_destroy (c->out_source);
  g_clear_pointer (&c->out_source, g_source_unref);
  c->waiting_out = FALSE;
  write_some (c);
  return G_SOURCE_REMOVE;
}

/* Returns FALSE if the connection was destroyed. */
gboolean
th_ws_conn_flush (ThWsConn *c)
{
  /* Waiting for the socket already: it continues when writable. */
  if (!c->waiting_out)
    return write_some (c);
  return TRUE;
}

/* Closing */

void
th_ws_conn_close (ThWsConn   *c,
                  guint16     code,
                  const char *reason)
{
  if (!c->close_queued)
    {
      guint8 payload[TH_WS_CONTROL_MAX];
      gsize plen = _th_ws_frame_close_payload (payload, code, reason);

      c->close_queued = TRUE;
      push_frame (c, TH_WS_OP_CLOSE, g_bytes_new (payload, plen), NULL, 0);
    }

  if (th_server_is_stopped (c->owner->server))
    {
      /* Stopping: one attempt to write what the kernel takes now, and
       * the end, even for a connection that was closing already. */
      if (write_some (c))
        th_ws_conn_destroy (c);
      return;
    }
  if (c->close_timer == 0)
    c->close_timer = g_timeout_add (CLOSE_WAIT_MSEC, close_timeout, c);
}

gboolean
th_ws_conn_is_closing (ThWsConn *c)
{
  return c->close_queued;
}

static void
conn_free (ThWsConn *c)
{
  /* The poller may hold an event for it in the batch it dispatches. */
  if (c->poller != NULL && c->poller->dispatching && !c->buried)
    {
      c->buried = TRUE;
      g_ptr_array_add (c->poller->graveyard, c);
      return;
    }
  g_clear_pointer (&c->rbuf, g_byte_array_unref);
  _th_ws_parser_clear (&c->parser);
  g_free (c);
}

/* Ends the connection now; the owner's gone() callback runs first. */
void
th_ws_conn_destroy (ThWsConn *c)
{
  ThServer *server;

  if (c->destroyed)
    return;
  c->destroyed = TRUE;

  server = c->owner->server;   /* gone() may free the owner */
  if (c->cb != NULL && c->cb->gone != NULL)
    c->cb->gone (c, c->user_data);
  g_clear_handle_id (&c->close_timer, g_source_remove);
  g_clear_handle_id (&c->drain_id, g_source_remove);
  c->reading = FALSE;
  c->waiting_out = FALSE;
  update_epoll (c);
  if (c->in_source != NULL)
    {
      g_source_destroy (c->in_source);
      g_clear_pointer (&c->in_source, g_source_unref);
    }
  if (c->out_source != NULL)
    {
      g_source_destroy (c->out_source);
      g_clear_pointer (&c->out_source, g_source_unref);
    }
  /* A socket's close does not block. */
  if (c->stream != NULL)
    g_io_stream_close (c->stream, NULL, NULL);
  g_clear_object (&c->stream);
  if (c->fd_pending >= 0)
    {
      close (c->fd_pending);
      c->fd = c->fd_pending = -1;
      th_server_upgraded_closed (server);
    }
  for (guint i = 0; i < c->ring_len; i++)
    g_clear_pointer (&ring_at (c, i)->body, g_bytes_unref);
  g_clear_pointer (&c->ring, g_free);
  if (c->idle_slot != 0)
    idle_unlist (c);
  /* Callers up the stack (flush_dirty, route) check that a client is
   * still known before they touch it again; the reader checks
   * c->destroyed, and frees the input (a message being handled may lie
   * in it) once out of the parser. */
  if (!c->in_read)
    conn_free (c);
}

/* Reading */

static void
protocol_close (ThWsConn   *c,
                guint16     code,
                const char *reason)
{
  g_debug ("server: client %s: %s; closing (%u)", c->owner->id, reason, code);
  c->broken = TRUE;
  c->cb->close (c, code, reason, c->user_data);
}

static void
handle_message (ThWsConn     *c,
                guint8        opcode,
                const guint8 *data,
                gsize         len)
{
  if (c->close_queued)
    return;
  if (opcode == TH_WS_OP_TEXT && !g_utf8_validate_len ((const char *) data, len, NULL))
    {
      protocol_close (c, 1007, "text message is not UTF-8");
      return;
    }
  c->cb->message (c, opcode == TH_WS_OP_BINARY, (const char *) data, len, c->user_data);
}

/* Parses the frames in @buf (unmasking them in place); returns how many
 * bytes were used. While closing, only control frames count. A callback
 * may destroy the connection: *@destroyed says so. */
static gsize
parse_frames (ThWsConn *c,
              guint8   *buf,
              gsize     buf_len,
              gboolean *destroyed)
{
  gsize pos = 0;
  gboolean go_on = TRUE;

  c->parser.max_message = th_server_get_max_message (c->owner->server);
  while (go_on && !c->broken && !c->destroyed)
    {
      ThWsFrame frame;
      gsize used;
      ThWsParseResult r = _th_ws_parser_next (&c->parser, buf + pos, buf_len - pos, &used, &frame);

      pos += used;
      switch (r)
        {
        case TH_WS_PARSE_MORE:
          go_on = FALSE;
          break;
        case TH_WS_PARSE_MESSAGE:
          handle_message (c, frame.opcode, frame.data, frame.length);
          break;
        case TH_WS_PARSE_CONTROL:
          if (frame.opcode == TH_WS_OP_PING && !c->close_queued)
            push_frame (c, TH_WS_OP_PONG, g_bytes_new (frame.data, frame.length), NULL, 0);
          else if (frame.opcode == TH_WS_OP_CLOSE)
            {
              c->close_received = TRUE;
              if (!c->close_queued)
                {
                  /* The peer's code echoed when it is one it may send;
                   * 1002 or 1007 otherwise (RFC 6455 §7.4). */
                  c->cb->close (c, _th_ws_frame_close_reply (frame.data, frame.length), "", c->user_data);
                }
              go_on = FALSE;
            }
          break;
        case TH_WS_PARSE_ERROR:
          if (frame.close_code == 1009)
            {
              g_autofree char *why = g_strdup_printf ("message over max-message (%" G_GSIZE_FORMAT " bytes)",
                                                      c->parser.max_message);

              th_server_get_stats (c->owner->server)->disconnects_size++;
              protocol_close (c, 1009, why);
            }
          else
            protocol_close (c, frame.close_code, frame.reason);
          break;
        case TH_WS_PARSE_OVERSIZE:     /* not without TH_WS_PARSER_SKIP_OVERSIZE */
        default:
          g_assert_not_reached ();
        }
    }
  *destroyed = c->destroyed;
  return c->broken ? buf_len : pos;
}

/* > 0: bytes read; 0: the end (or an error); -1: nothing for now. */
static gssize
conn_recv (ThWsConn *c,
           guint8   *buf,
           gsize     len)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  if (c->fd >= 0)
    {
      do
        n = recv (c->fd, buf, len, MSG_DONTWAIT);
      while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -1;
      if (n < 0)
        g_debug ("server: client %s: read failed: %s", c->owner->id, g_strerror (errno));
      return MAX (n, 0);
    }
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (c->in), buf, len, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return -1;
  if (n < 0)
    g_debug ("server: client %s: read failed: %s", c->owner->id, error->message);
  return MAX (n, 0);
}

static void
reading_stop (ThWsConn *c)
{
  c->reading = FALSE;
  update_epoll (c);
  if (c->in_source != NULL)
    {
      /* Allowed from the source's own dispatch. */
      g_source_destroy (c->in_source);
      g_clear_pointer (&c->in_source, g_source_unref);
    }
}

/* Reads what there is. Returns FALSE when @c has ended (its memory may
 * be gone). */
static gboolean
read_ready (ThWsConn *c)
{
  /* One read buffer for every client (main thread only): a client keeps
   * bytes of its own only for a frame cut in two by the network. */
  static guint8 scratch[READ_CHUNK];

  for (;;)
    {
      gssize n;
      guint8 *buf;
      gsize len;
      gsize used;
      gboolean destroyed = FALSE;

      n = conn_recv (c, scratch, sizeof scratch);
      if (n < 0)
        {
          /* libsoup's read-ahead is drained: the descriptor from now on,
           * and the GIO objects go (closing them closes the original
           * descriptor, not ours). */
          if (c->fd < 0 && c->fd_pending >= 0)
            {
              reading_stop (c);
              if (c->out_source != NULL)
                {
                  /* Waiting to write: the poller watches that now. */
                  g_source_destroy (c->out_source);
                  g_clear_pointer (&c->out_source, g_source_unref);
                }
              c->fd = c->fd_pending;
              c->reading = TRUE;
              update_epoll (c);
              g_io_stream_close (c->stream, NULL, NULL);
              g_clear_object (&c->stream);
              c->in = NULL;
              c->out = NULL;
            }
          return TRUE;
        }
      if (n == 0)
        {
          /* EOF or a reset: the peer is gone. */
          reading_stop (c);
          th_ws_conn_destroy (c);
          return FALSE;
        }
      if (c->broken)
        continue;   /* after a protocol error, input is only read to see the end */

      if (c->rbuf != NULL && c->rbuf->len > 0)
        {
          g_byte_array_append (c->rbuf, scratch, n);
          buf = c->rbuf->data;
          len = c->rbuf->len;
        }
      else
        {
          buf = scratch;
          len = n;
        }
      /* A callback may end the connection: its memory stays until we
       * are out of the parser. */
      c->in_read = TRUE;
      used = parse_frames (c, buf, len, &destroyed);
      c->in_read = FALSE;
      if (destroyed)
        {
          conn_free (c);
          return FALSE;
        }
      if (buf == scratch)
        {
          if (used < len)
            {
              if (c->rbuf == NULL)
                c->rbuf = g_byte_array_new ();
              g_byte_array_append (c->rbuf, scratch + used, len - used);
            }
        }
      else if (used == len)
        g_clear_pointer (&c->rbuf, g_byte_array_unref);   /* give the memory back */
      else
        g_byte_array_remove_range (c->rbuf, 0, used);

      if (c->close_received)
        {
          reading_stop (c);
          if (c->close_written)
            {
              th_ws_conn_destroy (c);
              return FALSE;
            }
          /* else write_some() ends it once our close frame is out */
          return TRUE;
        }
    }
}

/* read_ready(), then for a connection in its handshake the answer at
 * once (see poller_run) */
static void
read_and_answer (ThWsConn *c)
{
  gboolean handshake = c->handshake;

  if (read_ready (c) && handshake && !c->destroyed && c->ring_len > 0)
    th_ws_conn_flush (c);
}

static gboolean
on_readable (GObject  *stream,
             gpointer  data)
{
  /* read_ready() removes the source itself when it is done with it. */
  read_and_answer (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
first_read (gpointer data)
{
  ThWsConn *c = data;

  c->drain_id = 0;
  read_and_answer (c);
  return G_SOURCE_REMOVE;
}

/* The descriptor of its own a plain connection gets on its upgrade
 * (th_server_http_upgraded), on the stolen stream until a ThWsConn takes
 * it; closed with the stream otherwise. */
typedef struct
{
  ThServer *server;
  int       fd;
} OwnFd;

static GQuark
own_fd_quark (void)
{
  return g_quark_from_static_string ("th-server-own-fd");
}

static void
own_fd_free (gpointer data)
{
  OwnFd *own = data;

  close (own->fd);
  th_server_upgraded_closed (own->server);
  g_free (own);
}

/* Takes over a stolen connection. Returns NULL (and closes @stream) if it
 * cannot be polled. */
ThWsConn *
th_ws_conn_new (ThServerClient          *owner,
                GIOStream               *stream,
                const ThWsConnCallbacks *cb,
                gpointer                 user_data)
{
  OwnFd *own;
  ThWsConn *c;

  if (!G_IS_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream)) ||
      !G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream)))
    {
      g_io_stream_close (stream, NULL, NULL);
      return NULL;
    }
  c = g_new0 (ThWsConn, 1);
  c->owner = owner;
  c->cb = cb;
  c->user_data = user_data;
  c->stream = g_object_ref (stream);
  _th_ws_parser_init (&c->parser, TH_WS_PARSER_FROM_CLIENT, th_server_get_max_message (owner->server));
  c->in = g_io_stream_get_input_stream (c->stream);
  c->out = g_io_stream_get_output_stream (c->stream);
  c->fd = -1;
  c->fd_pending = -1;
  c->epoll_set = -1;
  own = g_object_steal_qdata (G_OBJECT (stream), own_fd_quark ());
  if (own != NULL)
    {
      /* What libsoup read ahead is taken through the stream first
       * (first_read, or the stream's source), then the descriptor; until
       * then, output goes through the stream too. */
      c->poller = th_server_get_poller (owner->server);
      c->fd_pending = own->fd;
      g_free (own);
      c->drain_id = g_idle_add_full (G_PRIORITY_HIGH, first_read, c, NULL);
    }
  c->reading = TRUE;
  c->in_source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (c->in), NULL);
  g_source_set_static_name (c->in_source, "[server] client readable");
  g_source_set_callback (c->in_source, G_SOURCE_FUNC (on_readable), c, NULL);
  g_source_attach (c->in_source, NULL);
  return c;
}

/* The WebSocket handshake, for /ws and /socket.io/?transport=websocket:
 * libsoup checks it and answers 101; once the 101 is written the
 * connection is stolen and handed to @accepted (or closed when the
 * server stopped meanwhile). */

typedef struct
{
  ThServer         *server;
  ThWsAcceptedFunc  accepted;
  gpointer          data;
  GDestroyNotify    destroy;
} Upgrade;

static void
upgrade_free (gpointer data,
              GClosure *closure)
{
  Upgrade *u = data;

  if (u->destroy != NULL)
    u->destroy (u->data);
  g_free (u);
}

static void
on_wrote_informational (SoupServerMessage *msg,
                        gpointer           data)
{
  Upgrade *u = data;
  g_autoptr(GIOStream) stream = NULL;
  int fd;

  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    return;

  g_object_ref (msg);
  fd = th_server_http_upgraded (u->server, msg);
  stream = soup_server_message_steal_connection (msg);
  g_object_unref (msg);
  if (stream == NULL)
    {
      if (fd >= 0)
        {
          close (fd);
          th_server_upgraded_closed (u->server);
        }
      return;
    }
  /* A plain TCP connection: ThWsConn drives it on its descriptor. */
  if (fd >= 0)
    {
      OwnFd *own = g_new (OwnFd, 1);

      own->server = u->server;
      own->fd = fd;
      g_object_set_qdata_full (G_OBJECT (stream), own_fd_quark (), own, own_fd_free);
    }
  if (th_server_is_stopped (u->server))
    {
      g_io_stream_close (stream, NULL, NULL);
      return;
    }
  u->accepted (u->server, stream, u->data);
}

/* Returns FALSE, with an error response set on @msg, if @msg is not a
 * WebSocket handshake. */
gboolean
th_server_ws_upgrade (ThServer          *self,
                      SoupServerMessage *msg,
                      ThWsAcceptedFunc   accepted,
                      gpointer           data,
                      GDestroyNotify     destroy)
{
  g_autoptr(GError) error = NULL;
  Upgrade *u;

  if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error))
    {
      if (destroy != NULL)
        destroy (data);
      return FALSE;
    }
  /* No extensions: permessage-deflate would cost a compression per client
   * and defeat sending the same bytes to everyone. */
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, NULL, NULL))
    {
      if (destroy != NULL)
        destroy (data);
      return FALSE;
    }

  u = g_new0 (Upgrade, 1);
  u->server = self;
  u->accepted = accepted;
  u->data = data;
  u->destroy = destroy;
  g_signal_connect_data (msg, "wrote-informational", G_CALLBACK (on_wrote_informational), u,
                         upgrade_free, 0);
  return TRUE;
}

/* The /ws transport: one ThWsConn, the envelope as it is */

typedef struct
{
  ThServerClient  base;
  ThWsConn       *conn;
} WsClient;

static void
ws_send_event (ThServerClient *client,
               ThEvent        *event,
               const char     *conflate,
               gint64          queued_at)
{
  WsClient *c = (WsClient *) client;
  GBytes *body = th_event_get_bytes (event);

  if (client->closing)
    return;
  if (!th_server_client_admit (client, g_bytes_get_size (body) + 10, conflate, queued_at))
    return;
  th_ws_conn_push (c->conn, g_bytes_ref (body), conflate, queued_at);
}

/* Replies are small and never dropped; a client that does not read its
 * replies is bounded by the rate limit and, in the end, by client-buffer. */
static void
ws_send_text (ThServerClient *client,
              GBytes         *json)
{
  WsClient *c = (WsClient *) client;

  if (client->closing || !th_server_client_admit_reply (client, g_bytes_get_size (json) + 10))
    {
      g_bytes_unref (json);
      return;
    }
  th_ws_conn_push (c->conn, json, NULL, 0);
}

static void
ws_close (ThServerClient *client,
          guint16         code,
          const char     *reason)
{
  WsClient *c = (WsClient *) client;

  client->closing = TRUE;
  th_ws_conn_close (c->conn, code, reason);
}

static gsize
ws_get_queued (ThServerClient *client)
{
  return th_ws_conn_get_queued (((WsClient *) client)->conn);
}

static guint
ws_drop (ThServerClient *client,
         const char     *incoming,
         ThDropMode      mode)
{
  return th_ws_conn_drop (((WsClient *) client)->conn, incoming, mode);
}

static void
ws_flush (ThServerClient *client)
{
  th_ws_conn_flush (((WsClient *) client)->conn);
}

static const ThServerTransport ws_transport = {
  .name = "websocket",
  .send_event = ws_send_event,
  .send_text = ws_send_text,
  .close = ws_close,
  .get_queued = ws_get_queued,
  .drop = ws_drop,
  .flush = ws_flush,
};

static void
on_ws_message (ThWsConn   *conn,
               gboolean    binary,
               const char *data,
               gsize       len,
               gpointer    user_data)
{
  WsClient *c = user_data;

  if (c->base.closing)
    return;
  if (binary)
    {
      th_server_client_error (&c->base, "bad_request", "binary messages are not accepted; send JSON text");
      return;
    }
  th_server_client_message (c->base.server, &c->base, data, len);
}

static void
on_ws_close (ThWsConn   *conn,
             guint16     code,
             const char *reason,
             gpointer    user_data)
{
  ws_close (user_data, code, reason);
}

static void
on_ws_gone (ThWsConn *conn,
            gpointer  user_data)
{
  WsClient *c = user_data;

  th_server_client_gone (c->base.server, &c->base);
  g_free (c);
}

static const ThWsConnCallbacks ws_callbacks = {
  .message = on_ws_message,
  .close = on_ws_close,
  .gone = on_ws_gone,
};

typedef struct
{
  char    *remote;
  char    *origin;
  char    *owner;
  gboolean admin;
} WsPeer;

static void
ws_peer_free (gpointer data)
{
  WsPeer *p = data;

  g_free (p->remote);
  g_free (p->origin);
  g_free (p->owner);
  g_free (p);
}

static void
ws_accepted (ThServer  *self,
             GIOStream *stream,
             gpointer   data)
{
  WsPeer *p = data;
  WsClient *c = g_new0 (WsClient, 1);

  th_server_client_init (self, &c->base, &ws_transport, p->remote, p->origin);
  c->base.owner = g_strdup (p->owner);
  c->base.admin = p->admin;
  c->base.last_progress = g_get_monotonic_time ();
  c->conn = th_ws_conn_new (&c->base, stream, &ws_callbacks, c);
  if (c->conn == NULL)
    {
      th_server_client_gone (self, &c->base);
      g_free (c);
      return;
    }
  th_server_client_added (self, &c->base);
  /* The connected event now, not at the next write pass (the last use of
   * c here: a failed write ends the client). */
  th_ws_conn_flush (c->conn);
}

/* Refuses a new connection of any transport when the server stops, is
 * full or the origin is not allowed; returns FALSE with @msg answered. */
gboolean
th_server_admit_connection (ThServer          *self,
                            SoupServerMessage *msg,
                            guint              pending,
                            const char        *what)
{
  ThServerStats *stats = th_server_get_stats (self);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *origin = soup_message_headers_get_one (headers, "Origin");

  if (th_server_is_stopped (self))
    {
      th_server_send_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "unavailable", "the server is stopping");
      return FALSE;
    }
  if (th_server_count_clients (self) + pending >= th_server_get_max_connections (self))
    {
      g_autofree char *text = g_strdup_printf ("the server has its maximum of %u connections "
                                               "([server] max-connections); try again later",
                                               th_server_get_max_connections (self));

      stats->refused++;
      g_message ("server: refused a %s connection from %s: %u connections already",
                 what, soup_server_message_get_remote_host (msg), th_server_get_max_connections (self));
      th_server_send_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too_many_connections", text);
      return FALSE;
    }
  if (!th_server_origin_allowed (self, origin))
    {
      stats->refused++;
      g_message ("server: refused a %s connection from %s: origin “%s” is not in [server] allowed-origins",
                 what, soup_server_message_get_remote_host (msg), origin);
      th_server_send_error (self, msg, SOUP_STATUS_FORBIDDEN, "forbidden_origin",
                            "this origin is not allowed");
      return FALSE;
    }
  return TRUE;
}

void
th_server_ws_handle (ThServer          *self,
                     SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  WsPeer *p;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
      th_server_send_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                            "the WebSocket endpoint takes GET with an Upgrade: websocket header");
      return;
    }
  if (!th_server_admit_connection (self, msg, 0, "WebSocket"))
    return;
  /* After the admission checks (origin first: a page from a foreign
   * origin learns nothing, not even whether authentication is on). */
  if (!th_server_auth_check_request (self, msg, NULL, TRUE, "a WebSocket connection"))
    {
      th_server_get_stats (self)->refused++;
      return;
    }

  p = g_new0 (WsPeer, 1);
  p->remote = g_strdup (soup_server_message_get_remote_host (msg));
  p->origin = g_strdup (soup_message_headers_get_one (headers, "Origin"));
  {
    g_autofree char *token = th_server_auth_request_token (msg, NULL, TRUE);

    th_server_auth_identify (self, token, &p->owner, &p->admin);
  }
  if (!th_server_ws_upgrade (self, msg, ws_accepted, p, ws_peer_free))
    th_server_send_error (self, msg, SOUP_STATUS_BAD_REQUEST, "bad_request",
                          "not a WebSocket handshake: connect with a WebSocket client");
}
