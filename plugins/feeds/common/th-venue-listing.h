/* th-venue-listing.h: a venue's own listing of what it trades, fetched at
 * start, cached, and used to complete the symbol map; compiled into the
 * WebSocket feed plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>
#include <tickhub.h>

G_BEGIN_DECLS

typedef struct _ThVenueListing ThVenueListing;

/* Reads a listing answer into @codes (canonical symbol → venue code, both
 * owned by the table); the first entry for a symbol wins. */
typedef gboolean (*ThVenueListingParse) (JsonNode    *root,
                                         const char  *quote,
                                         GHashTable  *codes,
                                         GError     **error);

/* The listing arrived (or a stale cache stands in after a failed fetch). */
typedef void (*ThVenueListingReady) (ThVenueListing *listing,
                                     gpointer        user_data);

ThVenueListing *th_venue_listing_new        (const char          *venue,
                                             ThHub               *hub,
                                             const char          *url,
                                             const char          *quote,
                                             double               max_age,
                                             ThVenueListingParse  parse);
void         th_venue_listing_free          (ThVenueListing      *listing);
void         th_venue_listing_set_ready_func (ThVenueListing     *listing,
                                             ThVenueListingReady  ready,
                                             gpointer             user_data);
void         th_venue_listing_set_header    (ThVenueListing      *listing,
                                             const char          *name,
                                             const char          *value);
char        *th_venue_listing_cache_path    (ThVenueListing      *listing);
gboolean     th_venue_listing_load_cache    (ThVenueListing      *listing,
                                             gboolean             any_age);
void         th_venue_listing_fetch         (ThVenueListing      *listing);
gboolean     th_venue_listing_has_codes     (ThVenueListing      *listing);
gboolean     th_venue_listing_is_fetching   (ThVenueListing      *listing);
guint64      th_venue_listing_get_fetches   (ThVenueListing      *listing);
guint        th_venue_listing_get_n_unlisted (ThVenueListing     *listing);
guint        th_venue_listing_complete      (ThVenueListing      *listing,
                                             const char *const   *symbols);
guint        th_venue_listing_missing       (ThVenueListing      *listing,
                                             const char *const   *symbols);

gboolean     th_venue_listing_parse_binance  (JsonNode *root, const char *quote, GHashTable *codes, GError **error);
gboolean     th_venue_listing_parse_coinbase (JsonNode *root, const char *quote, GHashTable *codes, GError **error);
gboolean     th_venue_listing_parse_coincap  (JsonNode *root, const char *quote, GHashTable *codes, GError **error);

G_END_DECLS
