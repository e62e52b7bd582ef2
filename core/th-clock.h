/* th-clock.h: an injectable source of time and deadlines
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <glib-object.h>

G_BEGIN_DECLS

#define TH_TYPE_CLOCK (th_clock_get_type ())
TH_EXPORT
G_DECLARE_DERIVABLE_TYPE (ThClock, th_clock, TH, CLOCK, GObject)

/**
 * ThClockClass:
 * @parent_class: the parent class
 * @get_time: returns the wall-clock time in µs since the Unix epoch
 * @add_deadline: calls @func once the wall-clock time reaches @deadline;
 *   returns a non-zero id for th_clock_remove_deadline()
 * @remove_deadline: cancels a deadline that has not fired
 *
 * The default implementation (th_clock_new()) is the system's real-time
 * clock, with deadlines run from the thread-default main context.
 */
struct _ThClockClass
{
  GObjectClass parent_class;

  gint64 (*get_time)        (ThClock       *self);
  guint  (*add_deadline)    (ThClock       *self,
                             gint64         deadline,
                             GSourceFunc    func,
                             gpointer       user_data,
                             GDestroyNotify notify);
  void   (*remove_deadline) (ThClock       *self,
                             guint          id);

  /*< private >*/
  gpointer padding[8];
};

TH_EXPORT
ThClock *th_clock_new             (void);
TH_EXPORT
gint64   th_clock_get_time        (ThClock       *self);
TH_EXPORT
guint    th_clock_add_deadline    (ThClock       *self,
                                   gint64         deadline,
                                   GSourceFunc    func,
                                   gpointer       user_data,
                                   GDestroyNotify notify);
TH_EXPORT
void     th_clock_remove_deadline (ThClock       *self,
                                   guint          id);

#define TH_TYPE_MANUAL_CLOCK (th_manual_clock_get_type ())
TH_EXPORT
G_DECLARE_FINAL_TYPE (ThManualClock, th_manual_clock, TH, MANUAL_CLOCK, ThClock)

TH_EXPORT
ThClock *th_manual_clock_new      (gint64         start_time);
TH_EXPORT
void     th_manual_clock_set_time (ThManualClock *self,
                                   gint64         time);
TH_EXPORT
void     th_manual_clock_advance  (ThManualClock *self,
                                   gint64         delta);

G_END_DECLS
