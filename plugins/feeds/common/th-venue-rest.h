/* th-venue-rest.h: a venue's REST history requests, one at a time, within
 * its rate limits; compiled into the feed plugins that backfill
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <tickhub.h>

G_BEGIN_DECLS

typedef struct _ThVenueRest ThVenueRest;

/* Called with every answer's headers (a weight to watch), in order. */
typedef void (*ThVenueRestHeaders) (ThVenueRest        *rest,
                                    SoupMessageHeaders *headers,
                                    gpointer            user_data);

ThVenueRest *th_venue_rest_new          (const char         *name,
                                         ThClock            *clock,
                                         gint64              min_gap,
                                         guint               burst,
                                         gint64              max_wait);
ThVenueRest *th_venue_rest_ref          (ThVenueRest        *rest);
void         th_venue_rest_unref        (ThVenueRest        *rest);
void         th_venue_rest_shutdown     (ThVenueRest        *rest);
void         th_venue_rest_set_timeout  (ThVenueRest        *rest,
                                         guint               seconds);
void         th_venue_rest_set_headers_func (ThVenueRest     *rest,
                                         ThVenueRestHeaders  func,
                                         gpointer            user_data);
void         th_venue_rest_set_header   (ThVenueRest        *rest,
                                         const char         *name,
                                         const char         *value);
void         th_venue_rest_pause_until  (ThVenueRest        *rest,
                                         gint64              time);
guint64      th_venue_rest_get_requests (ThVenueRest        *rest);
guint64      th_venue_rest_get_limited  (ThVenueRest        *rest);
void         th_venue_rest_get_async    (ThVenueRest        *rest,
                                         const char         *url,
                                         GCancellable       *cancellable,
                                         GAsyncReadyCallback callback,
                                         gpointer            user_data);
JsonNode    *th_venue_rest_get_finish   (ThVenueRest        *rest,
                                         GAsyncResult       *result,
                                         guint              *status,
                                         GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThVenueRest, th_venue_rest_unref)

G_END_DECLS
