/* fanout-driver.h: the server side's half of bench/fanout-clients
 *
 * Shared by bench/fanout --external and bench/writeloop: CPU pinning, the
 * descriptor limit, the shared block (fanout-shared.h), starting the
 * client process next to our own binary, commands, latency percentiles.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "fanout-shared.h"

G_BEGIN_DECLS

typedef struct
{
  FcShared *shm;
  gsize     size;
  GPid      pid;       /* 0 once it has exited */
  int       status;    /* its wait status, once it has exited */
  int       cpu;       /* where it runs, or -1 */
  int       wake_fd;   /* an eventfd the clients write to, see fanout-shared.h */
} FcDriver;

typedef struct
{
  guint64 n;
  double  p50, p99, p999;   /* ms */
} FcLatency;

/* Pins the calling thread (call it before any other thread starts: they
 * inherit it) to the first CPU it may use, and picks the second for the
 * clients. Returns FALSE (nothing pinned, both -1) with fewer than 2. */
gboolean  fc_pin_cpus          (int        *server_cpu,
                                int        *client_cpu);
/* Raises RLIMIT_NOFILE to the hard limit; returns the new soft limit. */
guint     fc_raise_nofile      (void);
/* The client process, started on @client_cpu (-1: anywhere), with a
 * shared block for @max_seq sequence numbers and @max_samples samples. */
FcDriver *fc_driver_new        (guint        port,
                                gboolean     socketio,
                                guint        max_seq,
                                guint64      max_samples,
                                int          client_cpu,
                                GError     **error);
void      fc_driver_command    (FcDriver   *driver,
                                guint       cmd,
                                guint       arg,
                                guint       timeout_ms);
/* FC_CMD_CONNECT with its options (see fanout-shared.h) */
void      fc_driver_connect    (FcDriver   *driver,
                                guint       n,
                                guint       concurrency,
                                gboolean    extra,
                                guint       timeout_ms);
/* Whether the last command is done (or the client process is gone). */
gboolean  fc_driver_done       (FcDriver   *driver);
gboolean  fc_driver_alive      (FcDriver   *driver);
/* Asks for a wake-up (on wake_fd) once the connections not opened as
 * extra have had @target deliveries in all. */
void      fc_driver_notify_at  (FcDriver   *driver,
                                guint64     target);
/* Empties wake_fd (non-blocking). */
void      fc_driver_drain_wake (FcDriver   *driver);
/* Stamps sequence number @seq as pushed now. */
void      fc_driver_mark_push  (FcDriver   *driver,
                                guint       seq);
/* Starts or stops latency samples; stopping sorts what was taken. */
void      fc_driver_record     (FcDriver   *driver,
                                gboolean    on);
FcLatency fc_driver_latency    (FcDriver   *driver);
/* Sends FC_CMD_QUIT, waits a little for the process (kills it after
 * that), unmaps the block. */
void      fc_driver_free       (FcDriver   *driver);

/* Resident memory of this process, bytes. */
gint64    fc_rss_bytes         (void);

G_END_DECLS
