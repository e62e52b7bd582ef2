/* th-alerts-notify.c: [alerts] notify=true, a desktop notification per alert
 *
 * org.freedesktop.Notifications.Notify on the session bus, asynchronous
 * and not waited for: the summary is "SYMBOL CONDITION", the body the
 * alert's message. No session bus, or no notification service on it, is
 * said once in the log; the alerts go on everywhere else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "th-alerts-private.h"

struct _ThAlertsNotify
{
  GDBusConnection *bus;        /* NULL until connected */
  GCancellable    *cancellable;
  GQueue           waiting;    /* GVariant* (Notify's parameters) before the bus */
  gboolean         failed;     /* said once */
  gboolean         closed;     /* th_alerts_notify_free() was called */
  guint64          sent;
};

/* Calls under way hold a reference (a GRcBox): they may end after the
 * plugin let go. */
static void
notify_clear (gpointer data)
{
  ThAlertsNotify *notify = data;

  g_object_unref (notify->cancellable);
  g_queue_clear_full (&notify->waiting, (GDestroyNotify) g_variant_unref);
  g_clear_object (&notify->bus);
}

static void
notify_release (ThAlertsNotify *notify)
{
  g_rc_box_release_full (notify, notify_clear);
}

static void
say_once (ThAlertsNotify *notify,
          const GError   *error)
{
  if (notify->failed || error == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  notify->failed = TRUE;
  g_message ("alerts: no desktop notifications (%s); the alerts still go to the sinks, the server and D-Bus",
             error->message);
}

static void
on_notified (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  ThAlertsNotify *notify = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL && !notify->closed)
    say_once (notify, error);
  notify_release (notify);
}

static void
send (ThAlertsNotify *notify,
      GVariant       *parameters)
{
  notify->sent++;
  g_dbus_connection_call (notify->bus, "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
                          "org.freedesktop.Notifications", "Notify", parameters, G_VARIANT_TYPE ("(u)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, notify->cancellable, on_notified,
                          g_rc_box_acquire (notify));
}

static void
on_bus (GObject      *source,
        GAsyncResult *result,
        gpointer      data)
{
  ThAlertsNotify *notify = data;
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_bus_get_finish (result, &error);
  GVariant *parameters;

  if (bus == NULL || notify->closed)
    {
      if (bus == NULL && !notify->closed)
        say_once (notify, error);
      g_clear_object (&bus);
      notify_release (notify);
      return;
    }
  notify->bus = bus;
  while ((parameters = g_queue_pop_head (&notify->waiting)) != NULL)
    {
      send (notify, parameters);
      g_variant_unref (parameters);
    }
  notify_release (notify);
}

ThAlertsNotify *
th_alerts_notify_new (void)
{
  ThAlertsNotify *notify = g_rc_box_new0 (ThAlertsNotify);

  notify->cancellable = g_cancellable_new ();
  g_queue_init (&notify->waiting);
  g_bus_get (G_BUS_TYPE_SESSION, notify->cancellable, on_bus, g_rc_box_acquire (notify));
  return notify;
}

void
th_alerts_notify_free (ThAlertsNotify *notify)
{
  if (notify == NULL)
    return;
  notify->closed = TRUE;
  g_cancellable_cancel (notify->cancellable);
  notify_release (notify);
}

void
th_alerts_notify_post (ThAlertsNotify *notify,
                       const char     *summary,
                       const char     *body)
{
  GVariantBuilder hints;
  GVariant *parameters;

  g_variant_builder_init (&hints, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&hints, "{sv}", "category", g_variant_new_string ("tickhub.alert"));
  g_variant_builder_add (&hints, "{sv}", "desktop-entry", g_variant_new_string ("tickhub"));
  parameters = g_variant_ref_sink (g_variant_new ("(susssasa{sv}i)", "tickhub", 0, "", summary, body, NULL,
                                                  &hints, -1));
  if (notify->bus != NULL)
    send (notify, parameters);
  else if (g_queue_get_length (&notify->waiting) < 100)
    g_queue_push_tail (&notify->waiting, g_variant_ref (parameters));
  g_variant_unref (parameters);
}
