/* th-sink.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

/**
 * ThSink:
 *
 * A consumer of events: a file, the WebSocket server, a bridge. Sinks are
 * libpeas extensions that receive the #ThHub in the construct-only
 * #ThSink:hub property.
 */
G_DEFINE_INTERFACE (ThSink, th_sink, G_TYPE_OBJECT)

static void
th_sink_default_init (ThSinkInterface *iface)
{
  /**
   * ThSink:hub:
   *
   * The hub that created the sink.
   */
  g_object_interface_install_property (iface,
    g_param_spec_object ("hub", NULL, NULL, TH_TYPE_HUB,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

/**
 * th_sink_configure:
 * @self: a #ThSink
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Lets the sink read and check its config group before anything starts;
 * th_hub_load() calls it once. A sink without a `configure` vfunc has
 * nothing to check.
 *
 * Returns: %TRUE if the sink's configuration is usable
 */
gboolean
th_sink_configure (ThSink  *self,
                   GError **error)
{
  ThSinkInterface *iface;

  g_return_val_if_fail (TH_IS_SINK (self), FALSE);

  iface = TH_SINK_GET_IFACE (self);
  if (iface->configure == NULL)
    return TRUE;
  return iface->configure (self, error);
}

/**
 * th_sink_start:
 * @self: a #ThSink
 *
 * Starts the sink: it opens its files or starts listening. th_hub_start()
 * starts every sink before any feed, so sinks see the first events.
 */
void
th_sink_start (ThSink *self)
{
  ThSinkInterface *iface;

  g_return_if_fail (TH_IS_SINK (self));

  iface = TH_SINK_GET_IFACE (self);
  if (iface->start != NULL)
    iface->start (self);
}

/**
 * th_sink_consume:
 * @self: a #ThSink
 * @event: an event
 *
 * Hands @event to the sink, which takes its own reference if it keeps it.
 */
void
th_sink_consume (ThSink  *self,
                 ThEvent *event)
{
  ThSinkInterface *iface;

  g_return_if_fail (TH_IS_SINK (self));
  g_return_if_fail (event != NULL);

  iface = TH_SINK_GET_IFACE (self);
  if (iface->consume != NULL)
    iface->consume (self, event);
}

static void
flush_noop (ThSink              *self,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, th_sink_flush_async);
  g_task_return_boolean (task, TRUE);
}

/**
 * th_sink_flush_async:
 * @self: a #ThSink
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when everything consumed so far is written out
 * @user_data: data for @callback
 *
 * Flushes the sink without blocking.
 */
void
th_sink_flush_async (ThSink              *self,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  ThSinkInterface *iface;

  g_return_if_fail (TH_IS_SINK (self));

  iface = TH_SINK_GET_IFACE (self);
  if (iface->flush_async != NULL)
    iface->flush_async (self, cancellable, callback, user_data);
  else if (iface->flush != NULL)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, th_sink_flush_async);
      iface->flush (self, task);
    }
  else
    flush_noop (self, cancellable, callback, user_data);
}

/**
 * th_sink_flush:
 * @self: a #ThSink
 * @task: (transfer none): the task of a th_sink_flush_async() call
 *
 * Calls the `flush` vfunc: the form of flush_async for bindings that cannot
 * implement a vfunc taking a callback (GJS). The sink completes @task with
 * g_task_return_boolean() or g_task_return_error(), now or later, keeping a
 * reference to it meanwhile. Hosts call th_sink_flush_async(), which uses
 * this when the sink has no `flush_async`; a sink without either completes
 * @task at once.
 */
void
th_sink_flush (ThSink *self,
               GTask  *task)
{
  ThSinkInterface *iface;

  g_return_if_fail (TH_IS_SINK (self));
  g_return_if_fail (G_IS_TASK (task));

  iface = TH_SINK_GET_IFACE (self);
  if (iface->flush != NULL)
    iface->flush (self, task);
  else
    g_task_return_boolean (task, TRUE);
}

/**
 * th_sink_flush_finish:
 * @self: a #ThSink
 * @result: the result
 * @error: return location for an error
 *
 * Finishes th_sink_flush_async(). For a sink without a `flush_async`
 * vfunc, the flush is what its `flush` vfunc gave the task, and always
 * succeeds for a sink with neither.
 *
 * Returns: %TRUE if everything was written; %FALSE with @error set
 *   otherwise
 */
gboolean
th_sink_flush_finish (ThSink        *self,
                      GAsyncResult  *result,
                      GError       **error)
{
  ThSinkInterface *iface;

  g_return_val_if_fail (TH_IS_SINK (self), FALSE);

  if (g_task_is_valid (result, self) && g_task_get_source_tag (G_TASK (result)) == th_sink_flush_async)
    return g_task_propagate_boolean (G_TASK (result), error);

  iface = TH_SINK_GET_IFACE (self);
  g_return_val_if_fail (iface->flush_finish != NULL, FALSE);
  return iface->flush_finish (self, result, error);
}

/**
 * th_sink_stop:
 * @self: a #ThSink
 *
 * Stops the sink; the hub calls it after the final flush.
 */
void
th_sink_stop (ThSink *self)
{
  ThSinkInterface *iface;

  g_return_if_fail (TH_IS_SINK (self));

  iface = TH_SINK_GET_IFACE (self);
  if (iface->stop != NULL)
    iface->stop (self);
}

/**
 * th_sink_keeps_alive:
 * @self: a configured #ThSink
 *
 * Whether the sink does useful work while nobody calls the program that
 * hosts the hub: a server has clients of its own, a file records. A host
 * that exits when idle, such as tickhubd started on demand by D-Bus,
 * keeps running as long as one of its sinks says so. A sink that only
 * makes sense while someone watches the host says %FALSE: the jsonl sink
 * writing to standard output, which nobody reads in a service started on
 * demand. The answer may depend on the sink's group, read by
 * th_sink_configure(), which runs first.
 *
 * Returns: what the `keeps_alive` vfunc says; %TRUE for a sink without it
 */
gboolean
th_sink_keeps_alive (ThSink *self)
{
  ThSinkInterface *iface;

  g_return_val_if_fail (TH_IS_SINK (self), FALSE);

  iface = TH_SINK_GET_IFACE (self);
  if (iface->keeps_alive == NULL)
    return TRUE;
  return iface->keeps_alive (self);
}
