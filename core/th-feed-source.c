/* th-feed-source.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

/**
 * ThFeedSource:
 *
 * A source of ticks: an exchange feed, a REST poller, a replay or the
 * simulator. Implementations are libpeas extensions; they receive the
 * #ThHub in the construct-only #ThFeedSource:hub property, read their group
 * of the config with th_hub_get_config(), push ticks with
 * th_hub_push_tick() and report their health with
 * th_hub_report_source_status().
 */
G_DEFINE_INTERFACE (ThFeedSource, th_feed_source, G_TYPE_OBJECT)

static void
th_feed_source_default_init (ThFeedSourceInterface *iface)
{
  /**
   * ThFeedSource:hub:
   *
   * The hub that created the feed.
   */
  g_object_interface_install_property (iface,
    g_param_spec_object ("hub", NULL, NULL, TH_TYPE_HUB,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

/**
 * th_feed_source_configure:
 * @self: a #ThFeedSource
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Lets the feed read and check its config group before anything starts.
 *
 * Returns: %TRUE if the feed's configuration is usable
 */
gboolean
th_feed_source_configure (ThFeedSource *self,
                          GError      **error)
{
  ThFeedSourceInterface *iface;

  g_return_val_if_fail (TH_IS_FEED_SOURCE (self), FALSE);

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->configure == NULL)
    return TRUE;
  return iface->configure (self, error);
}

/**
 * th_feed_source_start:
 * @self: a #ThFeedSource
 *
 * Starts the feed.
 */
void
th_feed_source_start (ThFeedSource *self)
{
  ThFeedSourceInterface *iface;

  g_return_if_fail (TH_IS_FEED_SOURCE (self));

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->start != NULL)
    iface->start (self);
}

/**
 * th_feed_source_stop:
 * @self: a #ThFeedSource
 *
 * Stops the feed.
 */
void
th_feed_source_stop (ThFeedSource *self)
{
  ThFeedSourceInterface *iface;

  g_return_if_fail (TH_IS_FEED_SOURCE (self));

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->stop != NULL)
    iface->stop (self);
}

/**
 * th_feed_source_request_price:
 * @self: a #ThFeedSource
 * @symbol: a canonical symbol
 *
 * Asks the feed for a fresh price of @symbol now. Feeds that cannot fetch
 * on demand ignore it.
 */
void
th_feed_source_request_price (ThFeedSource *self,
                              const char   *symbol)
{
  ThFeedSourceInterface *iface;

  g_return_if_fail (TH_IS_FEED_SOURCE (self));

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->request_price != NULL)
    iface->request_price (self, symbol);
}

/**
 * th_feed_source_get_stats:
 * @self: a #ThFeedSource
 *
 * The feed's counters, for monitoring (`/metrics`, D-Bus): an `a{sv}`
 * dictionary; counters are `t` (guint64) values named in snake case, such
 * as `messages`, `bytes`, `parse_errors`, `unknown_messages`,
 * `reconnects`, `gaps`.
 *
 * Returns: (transfer full): an `a{sv}` #GVariant, empty for feeds without
 *   counters
 */
GVariant *
th_feed_source_get_stats (ThFeedSource *self)
{
  ThFeedSourceInterface *iface;
  GVariant *stats = NULL;

  g_return_val_if_fail (TH_IS_FEED_SOURCE (self), NULL);

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->get_stats != NULL)
    stats = iface->get_stats (self);
  if (stats == NULL)
    stats = g_variant_new ("a{sv}", NULL);
  /* Transfer full either way: a floating value (g_variant_new) becomes the
   * caller's reference, a full one (from a binding) is already it. */
  return g_variant_take_ref (stats);
}

/**
 * th_feed_source_get_source_name:
 * @self: a #ThFeedSource
 *
 * The name of the feed's source: the `source` of the ticks it pushes and
 * of its `source_status` events, the name `[prices] order`, the price
 * book and D-Bus's `ListSources` know it by. Most feeds are named after
 * the plugin that made them, which is what a feed is called without a
 * `get_source_name` vfunc, or when its vfunc returns %NULL or an empty
 * string (th_hub_get_plugin_name()). A feed named otherwise implements
 * the vfunc: the WebSocket venues give their class's name
 * (th_ws_feed_get_name()), the REST pollers the `source` key of their
 * group. A replay's ticks keep their recorded sources whatever the feed
 * is called.
 *
 * Returns: (transfer full) (nullable): the source name; %NULL only for a
 *   feed without a name of its own that no hub made
 */
char *
th_feed_source_get_source_name (ThFeedSource *self)
{
  ThFeedSourceInterface *iface;
  g_autoptr(ThHub) hub = NULL;
  char *name = NULL;

  g_return_val_if_fail (TH_IS_FEED_SOURCE (self), NULL);

  iface = TH_FEED_SOURCE_GET_IFACE (self);
  if (iface->get_source_name != NULL)
    name = iface->get_source_name (self);
  if (name != NULL && *name != '\0')
    return name;
  g_free (name);

  g_object_get (self, "hub", &hub, NULL);
  return hub != NULL ? g_strdup (th_hub_get_plugin_name (hub, self)) : NULL;
}
