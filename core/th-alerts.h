/* th-alerts.h: the interface of an alert engine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <gio/gio.h>
#include "th-types.h"
#include "th-hub.h"

G_BEGIN_DECLS

#define TH_TYPE_ALERTS (th_alerts_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThAlerts, th_alerts, TH, ALERTS, GObject)

/**
 * ThAlertsInterface:
 * @g_iface: the parent interface
 * @add: checks and adds a rule; returns it as `a{sv}` (see th_alerts_add())
 * @remove: removes a rule, if @owner may (see th_alerts_remove())
 * @list: the rules @owner sees, as `aa{sv}` (see th_alerts_list())
 *
 * What a plugin that evaluates alert rules (the `alerts` sink)
 * implements, so that the server, the D-Bus service and plugins in any
 * language can add, remove and list rules at run time. An engine
 * registers itself with th_hub_set_alerts() and emits
 * #ThAlerts::triggered for every alert, right after the `price_alert`
 * event.
 */
struct _ThAlertsInterface
{
  GTypeInterface g_iface;

  GVariant *(*add)    (ThAlerts    *self,
                       const char  *symbol,
                       const char  *condition,
                       GVariant    *options,
                       const char  *owner,
                       GError     **error);
  gboolean  (*remove) (ThAlerts    *self,
                       const char  *id,
                       const char  *owner,
                       GError     **error);
  GVariant *(*list)   (ThAlerts    *self,
                       const char  *owner);
};

TH_EXPORT
GVariant *th_alerts_add    (ThAlerts    *self,
                            const char  *symbol,
                            const char  *condition,
                            GVariant    *options,
                            const char  *owner,
                            GError     **error);
TH_EXPORT
gboolean  th_alerts_remove (ThAlerts    *self,
                            const char  *id,
                            const char  *owner,
                            GError     **error);
TH_EXPORT
GVariant *th_alerts_list   (ThAlerts    *self,
                            const char  *owner);

TH_EXPORT
void      th_hub_set_alerts (ThHub      *hub,
                             ThAlerts   *alerts);
TH_EXPORT
ThAlerts *th_hub_get_alerts (ThHub      *hub);
TH_EXPORT
char    **th_hub_list_indicator_outputs (ThHub *hub);

G_END_DECLS
