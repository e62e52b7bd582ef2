/* th-flush-waiters.h: the flushes a sink's writer thread answers,
 * compiled into the sinks that have one (jsonl, store).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  GMutex     *lock;   /* the sink's own: it guards the queue */
  GQueue      queue;  /* waiting flushes, oldest first */
  const char *name;   /* "[jsonl] flush", static: names the sources */
} ThFlushWaiters;

void     th_flush_waiters_init     (ThFlushWaiters *waiters,
                                    GMutex         *lock,
                                    const char     *name);
void     th_flush_waiters_add      (ThFlushWaiters *waiters,
                                    GTask          *task,
                                    GCancellable   *cancellable,
                                    guint64         target);
gboolean th_flush_waiters_any_due  (ThFlushWaiters *waiters,
                                    guint64         done,
                                    gboolean        all);
void     th_flush_waiters_complete (ThFlushWaiters *waiters,
                                    guint64         done,
                                    gboolean        all,
                                    const GError   *error);
void     th_flush_waiters_clear    (ThFlushWaiters *waiters,
                                    const char     *why);

G_END_DECLS
