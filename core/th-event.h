/* th-event.h: the JSON envelope every sink shares
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <glib-object.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define TH_TYPE_EVENT (th_event_get_type ())

/**
 * ThEvent:
 *
 * An event, `{"event": NAME, "data": {...}}`, serialized once: every sink
 * gets the same bytes from th_event_get_bytes(). Events are immutable and
 * reference counted.
 */
typedef struct _ThEvent ThEvent;

TH_EXPORT
GType        th_event_get_type        (void) G_GNUC_CONST;
TH_EXPORT
ThEvent     *th_event_new             (const char *name,
                                       const char *symbol,
                                       JsonNode   *data);
TH_EXPORT
ThEvent     *th_event_new_from_json   (const char *json,
                                       gssize      length,
                                       GError    **error);
TH_EXPORT
ThEvent     *th_event_ref             (ThEvent    *event);
TH_EXPORT
void         th_event_unref           (ThEvent    *event);
TH_EXPORT
const char  *th_event_get_name        (ThEvent    *event);
TH_EXPORT
const char  *th_event_get_symbol      (ThEvent    *event);
TH_EXPORT
const char  *th_event_get_timeframe   (ThEvent    *event);
TH_EXPORT
GBytes      *th_event_get_bytes       (ThEvent    *event);
TH_EXPORT
const char  *th_event_get_json        (ThEvent    *event);
TH_EXPORT
JsonNode    *th_event_get_data        (ThEvent    *event);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThEvent, th_event_unref)

#include "th-types.h"

TH_EXPORT
char        *th_format_time            (gint64      usec);
TH_EXPORT
const char  *th_json_object_get_string (JsonObject *object,
                                        const char *member);
TH_EXPORT
ThJsonField  th_json_object_get_number (JsonObject *object,
                                        const char *member,
                                        gboolean    strings,
                                        double     *value);
TH_EXPORT
char        *th_json_to_string         (JsonNode   *node,
                                        gsize      *length);

/**
 * TH_JSON_MAX_DEPTH:
 *
 * How deeply arrays and objects may nest in a JSON text that
 * th_json_parser_load() accepts. tickhub's own messages and every venue's
 * need fewer than 10 levels.
 */
#define TH_JSON_MAX_DEPTH 64

TH_EXPORT
gboolean     th_json_parser_load       (JsonParser *parser,
                                        const char *data,
                                        gssize      length,
                                        GError    **error);
TH_EXPORT
JsonNode    *th_json_parse             (const char *data,
                                        gssize      length,
                                        GError    **error);

G_END_DECLS
