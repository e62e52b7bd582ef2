/* th-service-alerts.h: the org.tickhub.Tickhub1.Alerts D-Bus object of tickhubd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tickhub.h>

#include "th-dbus-alerts-generated.h"

G_BEGIN_DECLS

#define TH_TYPE_SERVICE_ALERTS (th_service_alerts_get_type ())
G_DECLARE_FINAL_TYPE (ThServiceAlerts, th_service_alerts, TH, SERVICE_ALERTS, ThDBusAlertsSkeleton)

ThServiceAlerts *th_service_alerts_new (ThHub *hub);

G_END_DECLS
