/* th-sink.h: the interface of sink plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <gio/gio.h>
#include "th-event.h"

G_BEGIN_DECLS

#define TH_TYPE_SINK (th_sink_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThSink, th_sink, TH, SINK, GObject)

/**
 * ThSinkInterface:
 * @g_iface: the parent interface
 * @configure: reads and checks the plugin's own config group; optional
 * @start: starts the sink (opens files, listens); optional
 * @consume: takes one event; must not block the main loop
 * @flush_async: writes out everything consumed so far; optional
 * @flush_finish: finishes @flush_async
 * @stop: stops the sink; called after the final flush; optional
 * @flush: flush_async for bindings that cannot implement a vfunc taking a
 *   callback (GJS): completes @task, made by th_sink_flush_async(), with
 *   g_task_return_boolean() or g_task_return_error(), keeping a reference
 *   while the flush runs; th_sink_flush_finish() propagates it. Used when
 *   @flush_async is %NULL; optional
 * @keeps_alive: whether the sink does useful work while nobody calls the
 *   program that hosts the hub, so that a host which exits when idle must
 *   keep running; asked after @configure; optional (%TRUE without it)
 *
 * A sink receives every #ThEvent the hub emits, in order, from the main
 * context of the hub. The same event (and the same bytes) goes to every sink.
 */
struct _ThSinkInterface
{
  GTypeInterface g_iface;

  gboolean (*configure)    (ThSink              *self,
                            GError             **error);
  void     (*start)        (ThSink              *self);
  void     (*consume)      (ThSink              *self,
                            ThEvent             *event);
  void     (*flush_async)  (ThSink              *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data);
  gboolean (*flush_finish) (ThSink              *self,
                            GAsyncResult        *result,
                            GError             **error);
  void     (*stop)         (ThSink              *self);
  void     (*flush)        (ThSink              *self,
                            GTask               *task);
  gboolean (*keeps_alive)  (ThSink              *self);
};

TH_EXPORT
gboolean th_sink_configure    (ThSink              *self,
                               GError             **error);
TH_EXPORT
void     th_sink_start        (ThSink              *self);
TH_EXPORT
void     th_sink_consume      (ThSink              *self,
                               ThEvent             *event);
TH_EXPORT
void     th_sink_flush_async  (ThSink              *self,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
TH_EXPORT
gboolean th_sink_flush_finish (ThSink              *self,
                               GAsyncResult        *result,
                               GError             **error);
TH_EXPORT
void     th_sink_stop         (ThSink              *self);
TH_EXPORT
void     th_sink_flush        (ThSink              *self,
                               GTask               *task);
TH_EXPORT
gboolean th_sink_keeps_alive  (ThSink              *self);

G_END_DECLS
