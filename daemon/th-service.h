/* th-service.h: the org.tickhub.Tickhub1 D-Bus object of tickhubd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tickhub.h>

#include "th-dbus-generated.h"

G_BEGIN_DECLS

/* The object path the service is exported at. */
#define TH_SERVICE_OBJECT_PATH "/org/tickhub/Tickhub"
/* The bus name, also tickhubd's GApplication id. */
#define TH_SERVICE_BUS_NAME "org.tickhub.Tickhub"

/* [dbus] defaults. */
#define TH_SERVICE_DEFAULT_IDLE_TIMEOUT 60      /* s */
#define TH_SERVICE_DEFAULT_SIGNAL_RATE  1.0     /* PriceChanged per symbol per s */
#define TH_SERVICE_DEFAULT_PRICE_WAIT   5.0     /* s */

#define TH_TYPE_SERVICE (th_service_get_type ())
G_DECLARE_FINAL_TYPE (ThService, th_service, TH, SERVICE, ThTickhub1Skeleton)

ThService *th_service_new              (ThHub      *hub,
                                        double      signal_rate,
                                        gint64      price_wait);
void       th_service_set_status_info  (ThService  *self,
                                        const char *config_path,
                                        guint       idle_timeout);
gboolean   th_service_is_busy          (ThService  *self);
void       th_service_answer_pending   (ThService  *self);

void       th_service_register_errors  (void);

char      *th_service_feed_name        (ThHub        *hub,
                                        ThFeedSource *feed);
char      *th_service_plugin_module    (ThHub        *hub,
                                        GObject      *extension);

G_END_DECLS
