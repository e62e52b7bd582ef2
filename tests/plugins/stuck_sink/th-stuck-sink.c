/* th-stuck-sink.c: a sink whose flush never completes (tests only)
 *
 * What a sink stuck on a dead peer looks like to the hub: flush_async
 * keeps its task and never completes it, cancelled or not. Every event
 * it is handed after its flush began (that is, after the hub's stop
 * began) is counted in the object data "late-events" and logged, so a
 * test in the process or around tickhubd can tell. The pending task is
 * completed, with an error, only when the sink is disposed, so that
 * nothing leaks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#define TH_TYPE_STUCK_SINK (th_stuck_sink_get_type ())
G_DECLARE_FINAL_TYPE (ThStuckSink, th_stuck_sink, TH, STUCK_SINK, GObject)

struct _ThStuckSink
{
  GObject   parent_instance;
  ThHub    *hub;           /* not a reference: the hub owns its sinks */
  GTask    *flush;         /* never completed until dispose */
  gboolean  flushing;
  guint     late;          /* events consumed after the flush began */
};

static void th_stuck_sink_sink_init (ThSinkInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThStuckSink, th_stuck_sink, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_stuck_sink_sink_init))

static void
th_stuck_sink_consume (ThSink  *sink,
                       ThEvent *event)
{
  ThStuckSink *self = TH_STUCK_SINK (sink);

  if (!self->flushing)
    return;
  self->late++;
  g_object_set_data (G_OBJECT (self), "late-events", GUINT_TO_POINTER (self->late));
  g_message ("stuck_sink: got an event after the stop began: %s", th_event_get_json (event));
}

static void
th_stuck_sink_flush_async (ThSink              *sink,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  ThStuckSink *self = TH_STUCK_SINK (sink);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  /* Cancellation is ignored: the task stays pending. */
  g_task_set_check_cancellable (task, FALSE);
  self->flushing = TRUE;
  if (self->flush != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, "stuck_sink: a flush is pending already");
      g_object_unref (task);
      return;
    }
  self->flush = task;
  g_message ("stuck_sink: flushing, and never done");
}

static gboolean
th_stuck_sink_flush_finish (ThSink        *sink,
                            GAsyncResult  *result,
                            GError       **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
th_stuck_sink_sink_init (ThSinkInterface *iface)
{
  iface->consume = th_stuck_sink_consume;
  iface->flush_async = th_stuck_sink_flush_async;
  iface->flush_finish = th_stuck_sink_flush_finish;
}

static void
th_stuck_sink_dispose (GObject *object)
{
  ThStuckSink *self = TH_STUCK_SINK (object);
  g_autoptr(GTask) flush = g_steal_pointer (&self->flush);

  if (flush != NULL)
    g_task_return_new_error (flush, G_IO_ERROR, G_IO_ERROR_CLOSED, "stuck_sink: disposed before its flush");

  G_OBJECT_CLASS (th_stuck_sink_parent_class)->dispose (object);
}

static void
th_stuck_sink_class_init (ThStuckSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_stuck_sink_dispose;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThStuckSink, hub));
}

static void
th_stuck_sink_class_finalize (ThStuckSinkClass *klass)
{
}

static void
th_stuck_sink_init (ThStuckSink *self)
{
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_stuck_sink_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_STUCK_SINK);
}
