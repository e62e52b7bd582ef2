/* th-service-alerts.c: org.tickhub.Tickhub1.Alerts, the alert rules on D-Bus
 *
 * Beside org.tickhub.Tickhub1 on /org/tickhub/Tickhub (tickhubd exports
 * both): AddAlert, RemoveAlert and ListAlerts call the hub's alert engine
 * (th_hub_get_alerts(), the alerts plugin) as an administrator, and every
 * ThAlerts::triggered becomes an AlertTriggered signal. Without the alerts
 * plugin the methods fail with Error.NoAlerts.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-service-alerts.h"

struct _ThServiceAlerts
{
  ThDBusAlertsSkeleton parent_instance;

  ThHub    *hub;
  ThAlerts *alerts;     /* weak */
  gulong    triggered_id;
};

enum {
  SIGNAL_ACTIVITY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void th_service_alerts_iface_init (ThDBusAlertsIface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ThServiceAlerts, th_service_alerts, TH_DBUS_TYPE_ALERTS_SKELETON,
                               G_IMPLEMENT_INTERFACE (TH_DBUS_TYPE_ALERTS, th_service_alerts_iface_init))

static ThAlerts *
get_alerts (ThServiceAlerts       *self,
            GDBusMethodInvocation *invocation)
{
  ThAlerts *alerts = th_hub_get_alerts (self->hub);

  g_signal_emit (self, signals[SIGNAL_ACTIVITY], 0);
  if (alerts == NULL)
    g_dbus_method_invocation_return_error_literal (invocation, TH_ERROR, TH_ERROR_NO_ALERTS,
                                                   "alerts are off; add the alerts plugin to [tickhub] plugins");
  return alerts;
}

static gboolean
handle_add_alert (ThDBusAlerts          *object,
                  GDBusMethodInvocation *invocation,
                  const char            *symbol,
                  const char            *condition,
                  GVariant              *options)
{
  ThServiceAlerts *self = TH_SERVICE_ALERTS (object);
  ThAlerts *alerts = get_alerts (self, invocation);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) rule = NULL;

  if (alerts == NULL)
    return TRUE;
  rule = th_alerts_add (alerts, symbol, condition, options, NULL, &error);
  if (rule == NULL)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    th_dbus_alerts_complete_add_alert (object, invocation, rule);
  return TRUE;
}

static gboolean
handle_remove_alert (ThDBusAlerts          *object,
                     GDBusMethodInvocation *invocation,
                     const char            *id)
{
  ThServiceAlerts *self = TH_SERVICE_ALERTS (object);
  ThAlerts *alerts = get_alerts (self, invocation);
  g_autoptr(GError) error = NULL;

  if (alerts == NULL)
    return TRUE;
  if (!th_alerts_remove (alerts, id, NULL, &error))
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    th_dbus_alerts_complete_remove_alert (object, invocation);
  return TRUE;
}

static gboolean
handle_list_alerts (ThDBusAlerts          *object,
                    GDBusMethodInvocation *invocation)
{
  ThServiceAlerts *self = TH_SERVICE_ALERTS (object);
  ThAlerts *alerts = get_alerts (self, invocation);
  g_autoptr(GVariant) list = NULL;

  if (alerts == NULL)
    return TRUE;
  list = th_alerts_list (alerts, NULL);
  th_dbus_alerts_complete_list_alerts (object, invocation, list);
  return TRUE;
}

static void
on_triggered (ThAlerts        *alerts,
              GVariant        *alert,
              ThServiceAlerts *self)
{
  th_dbus_alerts_emit_alert_triggered (TH_DBUS_ALERTS (self), alert);
}

static void
th_service_alerts_dispose (GObject *object)
{
  ThServiceAlerts *self = TH_SERVICE_ALERTS (object);

  if (self->alerts != NULL)
    {
      g_clear_signal_handler (&self->triggered_id, self->alerts);
      g_object_remove_weak_pointer (G_OBJECT (self->alerts), (gpointer *) &self->alerts);
      self->alerts = NULL;
    }
  g_clear_object (&self->hub);

  G_OBJECT_CLASS (th_service_alerts_parent_class)->dispose (object);
}

static void
th_service_alerts_class_init (ThServiceAlertsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_service_alerts_dispose;

  /**
   * ThServiceAlerts::activity:
   *
   * A method was called: D-Bus activity, for the idle exit.
   */
  signals[SIGNAL_ACTIVITY] =
    g_signal_new ("activity", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
th_service_alerts_iface_init (ThDBusAlertsIface *iface)
{
  iface->handle_add_alert = handle_add_alert;
  iface->handle_remove_alert = handle_remove_alert;
  iface->handle_list_alerts = handle_list_alerts;
}

static void
th_service_alerts_init (ThServiceAlerts *self)
{
}

/**
 * th_service_alerts_new:
 * @hub: a loaded hub
 *
 * Returns: (transfer full): the alerts' object, to export at
 *   %TH_SERVICE_OBJECT_PATH beside the service
 */
ThServiceAlerts *
th_service_alerts_new (ThHub *hub)
{
  ThServiceAlerts *self;

  g_return_val_if_fail (TH_IS_HUB (hub), NULL);

  self = g_object_new (TH_TYPE_SERVICE_ALERTS, NULL);
  self->hub = g_object_ref (hub);
  self->alerts = th_hub_get_alerts (hub);
  if (self->alerts != NULL)
    {
      g_object_add_weak_pointer (G_OBJECT (self->alerts), (gpointer *) &self->alerts);
      self->triggered_id = g_signal_connect (self->alerts, "triggered", G_CALLBACK (on_triggered), self);
    }
  return self;
}
