/* fanout-shared.h: what a bench server and its client process share
 *
 * bench/fanout --external and bench/writeloop run their WebSocket clients
 * in another process, bench/fanout-clients. Both sides map one memory
 * block (a memfd the server side creates and the client process inherits,
 * its number on the command line): this header, then the push time of
 * each sequence number (written by the server side just before it
 * publishes the update whose price is that number), then the latency
 * samples the clients take. CLOCK_MONOTONIC is the same in both
 * processes.
 *
 * The server side drives the clients with commands: it fills in cmd, arg
 * and timeout_ms, then bumps cmd_seq; the client process runs the command
 * while it goes on reading, and sets ack_seq to cmd_seq when it is done.
 * Every field is read and written with __atomic builtins.
 *
 * The client process also writes to an eventfd (its number on the command
 * line) when it acknowledges a command, and when received_base reaches
 * notify_base (which it then sets to 0): the server side can sleep in its
 * main loop until then instead of waking up to look, which would cost it
 * a poll over every connection each time.
 *
 * Plain C (no GLib): bench/fanout-clients uses it too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FC_HEADER_SIZE  4096          /* the header, rounded up */
#define FC_MAX_SEQ      (1u << 20)    /* sequence numbers with a push time */

enum
{
  FC_CMD_NONE,
  /* Opens arg connections and subscribes each to BTC: all at once (the
   * storm) when concurrency is 0, else with at most that many not in yet
   * at any time. Done when all are subscribed or failed, or after
   * timeout_ms (those not in yet are closed and counted as timed out).
   * The deliveries to connections of a batch opened with extra set are
   * not counted in received_base. */
  FC_CMD_CONNECT,
  /* Closes everything; the process exits after its ack. */
  FC_CMD_QUIT,
};

typedef struct
{
  /* Set before the client process starts */
  uint32_t port;
  uint32_t socketio;          /* Socket.IO's websocket transport, else /ws */
  uint32_t max_seq;
  uint32_t pad0;
  uint64_t max_samples;

  /* Commands */
  uint32_t cmd;
  uint32_t arg;
  uint32_t timeout_ms;
  uint32_t concurrency;
  uint32_t extra;
  uint32_t cmd_seq;
  uint32_t ack_seq;
  uint32_t pad1;

  /* The last FC_CMD_CONNECT batch */
  uint32_t batch_connected;   /* got the server's connected event */
  uint32_t batch_subscribed;  /* and the answer to subscribe_symbol */
  uint32_t batch_failed;      /* refused, reset, closed or a bad handshake */
  uint32_t batch_timed_out;   /* not in when the batch's time was up */
  int64_t  batch_in_usec;     /* from the batch's start to its last connected event */
  int64_t  batch_done_usec;   /* to its end (all subscribed, failed or timed out) */

  /* Running figures */
  uint32_t open;              /* connections open */
  uint32_t lost;              /* subscribed connections that ended */
  uint64_t received;          /* financial_data_update frames, every connection */
  uint64_t received_base;     /* those of connections not opened as extra */
  int64_t  last_received;     /* monotonic µs of the last one */
  uint32_t recording;         /* latency samples are taken while set */
  uint32_t pad2;
  uint64_t n_samples;         /* written before it is published */
  uint64_t notify_base;       /* 0, or a received_base to be woken at */

  /* Where the time of the last FC_CMD_CONNECT batch's connections went:
   * per phase (FC_PHASE_*), how many connections ended it, the sum of
   * their times in it (from the end of the phase before, or from their
   * connect()) and the longest. */
  uint32_t phase_count[4];
  int64_t  phase_sum_usec[4];
  int64_t  phase_max_usec[4];
} FcShared;

/* The phases of a connection until its connected event */
enum
{
  FC_PHASE_TCP,       /* connect() to writable: the kernel's handshake (the backlog) */
  FC_PHASE_UPGRADE,   /* request written to the 101 read: accept, HTTP, 101 */
  FC_PHASE_OPEN,      /* Socket.IO: the 101 to the open packet (0{...}) */
  FC_PHASE_WELCOME,   /* the 101 (/ws) or `40` sent (Socket.IO) to the connected event */
  FC_N_PHASES
};

_Static_assert (sizeof (FcShared) <= FC_HEADER_SIZE, "FcShared fits its header");

static inline size_t
fc_shared_size (uint32_t max_seq,
                uint64_t max_samples)
{
  return FC_HEADER_SIZE + sizeof (int64_t) * ((size_t) max_seq + (size_t) max_samples);
}

/* Monotonic µs, by sequence number (0: not pushed) */
static inline int64_t *
fc_shared_push_times (FcShared *s)
{
  return (int64_t *) ((char *) s + FC_HEADER_SIZE);
}

/* Latencies, µs */
static inline int64_t *
fc_shared_samples (FcShared *s)
{
  return fc_shared_push_times (s) + s->max_seq;
}

#define FC_LOAD(field)          __atomic_load_n (&(field), __ATOMIC_ACQUIRE)
#define FC_STORE(field, value)  __atomic_store_n (&(field), (value), __ATOMIC_RELEASE)
