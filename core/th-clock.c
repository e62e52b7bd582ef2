/* th-clock.c: the real clock and a manual one for tests
 *
 * Everything in the hub that depends on time (price freshness, candle
 * closing, throttling) reads a ThClock, so tests drive time exactly with
 * ThManualClock instead of sleeping.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

typedef struct
{
  GSourceFunc    func;
  gpointer       user_data;
  GDestroyNotify notify;
} Deadline;

static void
deadline_free (gpointer data)
{
  Deadline *d = data;

  if (d->notify != NULL)
    d->notify (d->user_data);
  g_free (d);
}

static gboolean
deadline_dispatch (gpointer data)
{
  Deadline *d = data;

  d->func (d->user_data);
  return G_SOURCE_REMOVE;
}

/**
 * ThClock:
 *
 * The source of time and deadlines for everything in the hub that depends
 * on time.
 *
 * The price book's expiry deadline, candle closing, the hub's housekeeping
 * once a second and the feeds that poll or pace themselves (CoinGecko, the
 * simulator, the replay) read the time with th_clock_get_time() and
 * schedule with th_clock_add_deadline(), on the clock returned by
 * th_hub_get_clock(), instead of calling g_get_real_time() and
 * g_timeout_add(). Network timers (reconnection, watchdogs) do not use it:
 * sockets do not wait for a manual clock.
 *
 * The clock made by th_clock_new() is the system's real-time clock, with
 * deadlines run from the thread-default main context. Tests give the hub a
 * #ThManualClock instead, and move time exactly rather than sleeping. A
 * subclass providing another time base overrides the three vfuncs of
 * #ThClockClass.
 */
G_DEFINE_TYPE (ThClock, th_clock, G_TYPE_OBJECT)

static gint64
th_clock_real_get_time (ThClock *self)
{
  return g_get_real_time ();
}

static guint
th_clock_real_add_deadline (ThClock       *self,
                            gint64         deadline,
                            GSourceFunc    func,
                            gpointer       user_data,
                            GDestroyNotify notify)
{
  g_autoptr(GSource) source = NULL;
  Deadline *d = g_new0 (Deadline, 1);
  gint64 delay = deadline - g_get_real_time ();

  d->func = func;
  d->user_data = user_data;
  d->notify = notify;

  source = g_timeout_source_new (0);
  g_source_set_ready_time (source, g_get_monotonic_time () + MAX (delay, 0));
  g_source_set_callback (source, deadline_dispatch, d, deadline_free);
  g_source_set_static_name (source, "[tickhub] clock deadline");
  return g_source_attach (source, g_main_context_get_thread_default ());
}

static void
th_clock_real_remove_deadline (ThClock *self,
                               guint    id)
{
  GSource *source = g_main_context_find_source_by_id (g_main_context_get_thread_default (), id);

  if (source != NULL)
    g_source_destroy (source);
}

static void
th_clock_class_init (ThClockClass *klass)
{
  klass->get_time = th_clock_real_get_time;
  klass->add_deadline = th_clock_real_add_deadline;
  klass->remove_deadline = th_clock_real_remove_deadline;
}

static void
th_clock_init (ThClock *self)
{
}

/**
 * th_clock_new:
 *
 * Creates a clock that reads g_get_real_time() and runs its deadlines from
 * the thread-default main context of the thread that adds them.
 *
 * Returns: (transfer full): the system's real-time clock
 */
ThClock *
th_clock_new (void)
{
  return g_object_new (TH_TYPE_CLOCK, NULL);
}

/**
 * th_clock_get_time:
 * @self: a #ThClock
 *
 * Reads the clock: the system's real time for the default clock, the time
 * last set for a #ThManualClock.
 *
 * Returns: the wall-clock time in µs since the Unix epoch
 */
gint64
th_clock_get_time (ThClock *self)
{
  g_return_val_if_fail (TH_IS_CLOCK (self), 0);
  return TH_CLOCK_GET_CLASS (self)->get_time (self);
}

/**
 * th_clock_add_deadline:
 * @self: a #ThClock
 * @deadline: when to call @func, in µs since the Unix epoch
 * @func: (scope notified) (closure user_data) (destroy notify): called once
 *   when @deadline is reached; its return value is ignored
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data
 *
 * Schedules a one-shot call. A deadline in the past fires at the next
 * iteration of the main context (or the next change of a manual clock).
 *
 * Returns: an id for th_clock_remove_deadline()
 */
guint
th_clock_add_deadline (ThClock       *self,
                       gint64         deadline,
                       GSourceFunc    func,
                       gpointer       user_data,
                       GDestroyNotify notify)
{
  g_return_val_if_fail (TH_IS_CLOCK (self), 0);
  g_return_val_if_fail (func != NULL, 0);
  return TH_CLOCK_GET_CLASS (self)->add_deadline (self, deadline, func, user_data, notify);
}

/**
 * th_clock_remove_deadline:
 * @self: a #ThClock
 * @id: an id from th_clock_add_deadline() that has not fired, or 0
 *
 * Cancels a deadline: its function is not called, and its @notify, if
 * any, is called at once. An @id of 0 is ignored, so a cleared id can be
 * passed as it is.
 */
void
th_clock_remove_deadline (ThClock *self,
                          guint    id)
{
  g_return_if_fail (TH_IS_CLOCK (self));
  if (id != 0)
    TH_CLOCK_GET_CLASS (self)->remove_deadline (self, id);
}

/* ThManualClock */

struct _ThManualClock
{
  ThClock     parent_instance;
  gint64      now;
  guint       next_id;
  GHashTable *deadlines;   /* id → ManualDeadline */
};

typedef struct
{
  guint     id;
  gint64    when;
  Deadline *d;
} ManualDeadline;

/**
 * ThManualClock:
 *
 * A #ThClock that moves only when told to, for tests.
 *
 * Its time starts at the value given to th_manual_clock_new() and changes
 * only with th_manual_clock_set_time() and th_manual_clock_advance(), which
 * fire the deadlines that fall due, in order, each one seeing the clock at
 * its own deadline (or at the current time, for a deadline added in the
 * past). Nothing fires from the main loop: a test that drives the hub with
 * a manual clock decides exactly when candles close and prices expire.
 */
G_DEFINE_FINAL_TYPE (ThManualClock, th_manual_clock, TH_TYPE_CLOCK)

static void
manual_deadline_free (gpointer data)
{
  ManualDeadline *md = data;

  deadline_free (md->d);
  g_free (md);
}

static gint64
th_manual_clock_get_time (ThClock *clock)
{
  return TH_MANUAL_CLOCK (clock)->now;
}

static guint
th_manual_clock_add_deadline (ThClock       *clock,
                              gint64         deadline,
                              GSourceFunc    func,
                              gpointer       user_data,
                              GDestroyNotify notify)
{
  ThManualClock *self = TH_MANUAL_CLOCK (clock);
  ManualDeadline *md = g_new0 (ManualDeadline, 1);

  md->id = ++self->next_id;
  md->when = deadline;
  md->d = g_new0 (Deadline, 1);
  md->d->func = func;
  md->d->user_data = user_data;
  md->d->notify = notify;
  g_hash_table_insert (self->deadlines, GUINT_TO_POINTER (md->id), md);
  return md->id;
}

static void
th_manual_clock_remove_deadline (ThClock *clock,
                                 guint    id)
{
  g_hash_table_remove (TH_MANUAL_CLOCK (clock)->deadlines, GUINT_TO_POINTER (id));
}

static void
th_manual_clock_finalize (GObject *object)
{
  ThManualClock *self = TH_MANUAL_CLOCK (object);

  g_clear_pointer (&self->deadlines, g_hash_table_unref);
  G_OBJECT_CLASS (th_manual_clock_parent_class)->finalize (object);
}

static void
th_manual_clock_class_init (ThManualClockClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ThClockClass *clock_class = TH_CLOCK_CLASS (klass);

  object_class->finalize = th_manual_clock_finalize;
  clock_class->get_time = th_manual_clock_get_time;
  clock_class->add_deadline = th_manual_clock_add_deadline;
  clock_class->remove_deadline = th_manual_clock_remove_deadline;
}

static void
th_manual_clock_init (ThManualClock *self)
{
  self->deadlines = g_hash_table_new_full (NULL, NULL, NULL, manual_deadline_free);
}

/**
 * th_manual_clock_new:
 * @start_time: the initial time, µs since the Unix epoch
 *
 * A clock that only moves when told to, for tests.
 *
 * Returns: (transfer full): a new #ThManualClock
 */
ThClock *
th_manual_clock_new (gint64 start_time)
{
  ThManualClock *self = g_object_new (TH_TYPE_MANUAL_CLOCK, NULL);

  self->now = start_time;
  return TH_CLOCK (self);
}

/**
 * th_manual_clock_set_time:
 * @self: a #ThManualClock
 * @time: the new time, µs since the Unix epoch
 *
 * Moves the clock to @time, firing every deadline up to it in order; each
 * deadline's callback sees the clock at its own deadline.
 */
void
th_manual_clock_set_time (ThManualClock *self,
                          gint64         time)
{
  g_return_if_fail (TH_IS_MANUAL_CLOCK (self));

  for (;;)
    {
      GHashTableIter iter;
      gpointer value;
      ManualDeadline *first = NULL;

      g_hash_table_iter_init (&iter, self->deadlines);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          ManualDeadline *md = value;

          if (md->when <= time &&
              (first == NULL || md->when < first->when ||
               (md->when == first->when && md->id < first->id)))
            first = md;
        }

      if (first == NULL)
        break;

      g_hash_table_steal (self->deadlines, GUINT_TO_POINTER (first->id));
      if (first->when > self->now)
        self->now = first->when;
      first->d->func (first->d->user_data);
      manual_deadline_free (first);
    }

  self->now = time;
}

/**
 * th_manual_clock_advance:
 * @self: a #ThManualClock
 * @delta: µs to move forward
 *
 * Same as th_manual_clock_set_time() with the current time plus @delta.
 */
void
th_manual_clock_advance (ThManualClock *self,
                         gint64         delta)
{
  g_return_if_fail (TH_IS_MANUAL_CLOCK (self));
  th_manual_clock_set_time (self, self->now + delta);
}
