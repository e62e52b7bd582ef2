/* th-flush-waiters.c: the flushes a sink's writer thread answers.
 *
 * A sink with a writer thread (jsonl, store) counts what it has consumed
 * and what its writer has done with. A flush waits for everything consumed
 * before it: its target is the consumed count when it was asked for, and
 * the writer answers it, in the task's own context, once its done count
 * reaches that (or, when the sink stops, at once). The queue is guarded by
 * the sink's lock, which the writer holds when it answers; a cancelled
 * flush is answered by its cancellable's source if the writer has not
 * answered it yet.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "th-flush-waiters.h"

typedef struct
{
  ThFlushWaiters *waiters;
  guint64         target;         /* answered once this many are done */
  GTask          *task;
  GSource        *cancel_source;
  GError         *error;
} Waiter;

void
th_flush_waiters_init (ThFlushWaiters *waiters,
                       GMutex         *lock,
                       const char     *name)
{
  waiters->lock = lock;
  waiters->name = name;
  g_queue_init (&waiters->queue);
}

static void
waiter_free (gpointer data)
{
  Waiter *w = data;

  if (w->cancel_source != NULL)
    {
      g_source_destroy (w->cancel_source);
      g_source_unref (w->cancel_source);
    }
  g_clear_object (&w->task);
  g_clear_error (&w->error);
  g_free (w);
}

/* In the task's context, after the writer is done with it. */
static gboolean
answer (gpointer data)
{
  Waiter *w = data;

  if (w->cancel_source != NULL)
    g_source_destroy (w->cancel_source);
  if (w->error != NULL)
    g_task_return_error (w->task, g_steal_pointer (&w->error));
  else
    g_task_return_boolean (w->task, TRUE);
  return G_SOURCE_REMOVE;
}

/* In the task's context: the caller gave up waiting. */
static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Waiter *w = data;
  gboolean still_waiting;

  g_mutex_lock (w->waiters->lock);
  still_waiting = g_queue_remove (&w->waiters->queue, w);
  g_mutex_unlock (w->waiters->lock);

  /* Otherwise the writer has answered it already and answer() is due. */
  if (still_waiting)
    {
      g_task_return_error_if_cancelled (w->task);
      waiter_free (w);
    }
  return G_SOURCE_REMOVE;
}

/* With the lock held: @task (taken) waits until @target are done. */
void
th_flush_waiters_add (ThFlushWaiters *waiters,
                      GTask          *task,
                      GCancellable   *cancellable,
                      guint64         target)
{
  Waiter *w = g_new0 (Waiter, 1);

  w->waiters = waiters;
  w->target = target;
  w->task = task;
  if (cancellable != NULL)
    {
      w->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_static_name (w->cancel_source, waiters->name);
      g_source_set_callback (w->cancel_source, G_SOURCE_FUNC (on_cancelled), w, NULL);
      g_source_attach (w->cancel_source, g_task_get_context (task));
    }
  g_queue_push_tail (&waiters->queue, w);
}

/* With the lock held: is a flush waiting whose target @done reaches (with
 * @all, any flush at all)? */
gboolean
th_flush_waiters_any_due (ThFlushWaiters *waiters,
                          guint64         done,
                          gboolean        all)
{
  for (GList *l = waiters->queue.head; l != NULL; l = l->next)
    if (all || ((Waiter *) l->data)->target <= done)
      return TRUE;
  return FALSE;
}

/* With the lock held: answers every flush whose target @done reaches (with
 * @all, every flush), each with a copy of @error, or TRUE without one. */
void
th_flush_waiters_complete (ThFlushWaiters *waiters,
                           guint64         done,
                           gboolean        all,
                           const GError   *error)
{
  for (GList *l = waiters->queue.head, *next; l != NULL; l = next)
    {
      Waiter *w = l->data;
      g_autoptr(GSource) source = NULL;

      next = l->next;
      if (!all && w->target > done)
        continue;
      g_queue_delete_link (&waiters->queue, l);
      w->error = error != NULL ? g_error_copy (error) : NULL;
      source = g_idle_source_new ();
      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_static_name (source, waiters->name);
      g_source_set_callback (source, answer, w, waiter_free);
      g_source_attach (source, g_task_get_context (w->task));
    }
}

/* No writer left (the sink's dispose): fails what still waits, at once. */
void
th_flush_waiters_clear (ThFlushWaiters *waiters,
                        const char     *why)
{
  Waiter *w;

  while ((w = g_queue_pop_head (&waiters->queue)) != NULL)
    {
      g_task_return_new_error (w->task, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s", why);
      waiter_free (w);
    }
}
