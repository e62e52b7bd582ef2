/* th-feed-source.h: the interface of feed plugins
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

#define TH_TYPE_FEED_SOURCE (th_feed_source_get_type ())
TH_EXPORT
G_DECLARE_INTERFACE (ThFeedSource, th_feed_source, TH, FEED_SOURCE, GObject)

/**
 * ThFeedSourceInterface:
 * @g_iface: the parent interface
 * @configure: reads and checks the plugin's own config group; optional.
 *   The hub has already checked each key against the plugin's
 *   `X-Tickhub-Config` types and reported malformed values, and calls
 *   configure anyway, so that every problem is found in one pass: read
 *   values with a default and do not report a malformed one again. Report
 *   several problems as one %TH_ERROR_BAD_CONFIG error, one per line. The
 *   price book's order and TTLs are set before configure runs.
 * @start: starts delivering ticks with th_hub_push_tick()
 * @stop: stops; no tick may be pushed after it returns
 * @request_price: asks for a fresh price of @symbol now, because no source
 *   has a fresh one; optional, for sources that can fetch on demand. The
 *   hub calls it on every miss of every client: coalesce and rate-limit.
 * @get_stats: returns counters and facts about the feed as an `a{sv}`
 *   dictionary (for example `messages`, `bytes`, `parse_errors`,
 *   `reconnects` as `t`); optional
 * @get_source_name: returns the name of the feed's source, a new string, or
 *   %NULL; optional, for a feed not named after its plugin (see
 *   th_feed_source_get_source_name())
 *
 * A feed produces #ThTick values and hands them to the hub given in its
 * construct-only #ThFeedSource:hub property.
 */
struct _ThFeedSourceInterface
{
  GTypeInterface g_iface;

  gboolean (*configure)     (ThFeedSource *self,
                             GError      **error);
  void     (*start)         (ThFeedSource *self);
  void     (*stop)          (ThFeedSource *self);
  void     (*request_price) (ThFeedSource *self,
                             const char   *symbol);
  GVariant *(*get_stats)    (ThFeedSource *self);
  char     *(*get_source_name) (ThFeedSource *self);
};

TH_EXPORT
gboolean th_feed_source_configure     (ThFeedSource *self,
                                       GError      **error);
TH_EXPORT
void     th_feed_source_start         (ThFeedSource *self);
TH_EXPORT
void     th_feed_source_stop          (ThFeedSource *self);
TH_EXPORT
void     th_feed_source_request_price (ThFeedSource *self,
                                       const char   *symbol);
TH_EXPORT
GVariant *th_feed_source_get_stats    (ThFeedSource *self);
TH_EXPORT
char     *th_feed_source_get_source_name (ThFeedSource *self);

G_END_DECLS
