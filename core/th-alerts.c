/* th-alerts.c: the interface of an alert engine
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-hub-private.h"

/**
 * ThAlerts:
 *
 * An engine of price alerts: rules on a symbol's trusted price, its change
 * over a window, an indicator output or the health of its sources, each
 * firing a `price_alert` event. The `alerts` sink plugin implements it and
 * registers itself with the hub (th_hub_set_alerts()), so that the server
 * sink, the D-Bus service and plugins in any language add, remove and
 * list rules with th_hub_get_alerts() without knowing the plugin.
 *
 * A rule is a dictionary (`a{sv}`): `id` (s), `symbol` (s), `condition`
 * (s, as written, such as `above 50000`), `kind` (s: `price`, `change`,
 * `indicator`, `no_source` or `source`), `cooldown` (d, seconds),
 * `hysteresis` (s, such as `100` or `0.5%`), `once` (b), `simulator` (b:
 * whether prices from the simulator count), `message` (s, when given),
 * `owner` (s: who added it; `config` for the rules of the configuration
 * file) and `fired` (t: how many times it fired since the start).
 */
G_DEFINE_INTERFACE (ThAlerts, th_alerts, G_TYPE_OBJECT)

static void
th_alerts_default_init (ThAlertsInterface *iface)
{
  /**
   * ThAlerts::triggered:
   * @self: the engine
   * @alert: the alert, `a{sv}`: `id` (s), `symbol` (s), `condition` (s),
   *   `price` (d, when the symbol has a trusted price), `source` (s, the
   *   source of that price, or the source a source rule is about),
   *   `timestamp` (x, µs since the epoch), `message` (s), and for
   *   change and indicator rules `value` (d: the change in percent or the
   *   indicator's value)
   *
   * A rule fired. Emitted right after the `price_alert` event that says
   * the same thing (D-Bus `AlertTriggered` comes from it).
   */
  g_signal_new ("triggered", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST,
                0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_VARIANT);
}

/**
 * th_alerts_add:
 * @self: a #ThAlerts
 * @symbol: a configured symbol
 * @condition: the condition, as in the `[alerts]` group without the
 *   symbol: `above 50000`, `crosses 3000 cooldown=10m`, `change >= 5% in
 *   1h`, `rsi_14(1h) > 70`, `no_source`, `source binance down for 2m`
 * @options: (nullable): an `a{sv}` of options, which win over the same
 *   options written in @condition: `id` (s), `cooldown` (d seconds, or s
 *   such as `10m`), `hysteresis` (d, or s such as `0.5%`), `once` (b),
 *   `simulator` (b), `message` (s)
 * @owner: (nullable): who adds the rule (a client's identity); %NULL for
 *   the engine's own (an administrator)
 * @error: return location for an error
 *
 * Checks and adds a rule that lasts until it is removed (and across
 * restarts: the engine keeps it). Fails with %TH_ERROR_BAD_INPUT for a
 * malformed condition or option (the message names what and the fix),
 * %TH_ERROR_UNKNOWN_SYMBOL, or %TH_ERROR_TOO_MANY over the engine's
 * limits; nothing changes then.
 *
 * Returns: (transfer full): the rule as added, `a{sv}` (see #ThAlerts),
 *   or %NULL on error
 */
GVariant *
th_alerts_add (ThAlerts    *self,
               const char  *symbol,
               const char  *condition,
               GVariant    *options,
               const char  *owner,
               GError     **error)
{
  GVariant *rule;

  g_return_val_if_fail (TH_IS_ALERTS (self), NULL);
  g_return_val_if_fail (symbol != NULL, NULL);
  g_return_val_if_fail (condition != NULL, NULL);
  g_return_val_if_fail (options == NULL || g_variant_is_of_type (options, G_VARIANT_TYPE_VARDICT), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  rule = TH_ALERTS_GET_IFACE (self)->add (self, symbol, condition, options, owner, error);
  return rule != NULL ? g_variant_ref_sink (rule) : NULL;
}

/**
 * th_alerts_remove:
 * @self: a #ThAlerts
 * @id: a rule's id
 * @owner: (nullable): who asks; %NULL for an administrator, who may remove
 *   any rule added at run time
 * @error: return location for an error
 *
 * Removes a rule added at run time. Fails with %TH_ERROR_NOT_FOUND for an
 * unknown id, and %TH_ERROR_NOT_ALLOWED for a rule of another owner or one
 * of the configuration file (remove it there).
 *
 * Returns: %TRUE when the rule was removed
 */
gboolean
th_alerts_remove (ThAlerts    *self,
                  const char  *id,
                  const char  *owner,
                  GError     **error)
{
  g_return_val_if_fail (TH_IS_ALERTS (self), FALSE);
  g_return_val_if_fail (id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return TH_ALERTS_GET_IFACE (self)->remove (self, id, owner, error);
}

/**
 * th_alerts_list:
 * @self: a #ThAlerts
 * @owner: (nullable): whose rules; %NULL for every rule
 *
 * The rules of @owner and those of the configuration file (everyone's),
 * or every rule, sorted by id.
 *
 * Returns: (transfer full): an `aa{sv}` array of rules (see #ThAlerts)
 */
GVariant *
th_alerts_list (ThAlerts   *self,
                const char *owner)
{
  GVariant *list;

  g_return_val_if_fail (TH_IS_ALERTS (self), NULL);

  list = TH_ALERTS_GET_IFACE (self)->list (self, owner);
  if (list == NULL)
    list = g_variant_new ("aa{sv}", NULL);
  return g_variant_ref_sink (list);
}

/* The hub's engine: kept on the hub as a weak pointer, like its history
 * provider, without a field in the hub's private state. */

static GQuark
alerts_quark (void)
{
  return g_quark_from_static_string ("th-hub-alerts");
}

/* The hub's qdata: the engine, weakly. Freed with the hub, whichever
 * goes first. */
typedef struct
{
  ThAlerts *alerts;
} AlertsBox;

static void
alerts_gone (gpointer  data,
             GObject  *where_the_object_was)
{
  ((AlertsBox *) data)->alerts = NULL;
}

static void
alerts_box_free (gpointer data)
{
  AlertsBox *box = data;

  if (box->alerts != NULL)
    g_object_weak_unref (G_OBJECT (box->alerts), alerts_gone, box);
  g_free (box);
}

/**
 * th_hub_set_alerts:
 * @hub: a #ThHub
 * @alerts: (nullable): the alert engine, or %NULL to forget it
 *
 * Registers @alerts as the hub's alert engine: the `alerts` plugin does it
 * when it is configured, and th_hub_get_alerts() hands it to whoever asks.
 * The hub keeps a weak pointer: an engine that is finalized is forgotten.
 * One engine at a time; a second replaces the first.
 */
void
th_hub_set_alerts (ThHub    *hub,
                   ThAlerts *alerts)
{
  AlertsBox *box;

  g_return_if_fail (TH_IS_HUB (hub));
  g_return_if_fail (alerts == NULL || TH_IS_ALERTS (alerts));

  if (alerts == NULL)
    {
      g_object_set_qdata (G_OBJECT (hub), alerts_quark (), NULL);
      return;
    }
  box = g_new0 (AlertsBox, 1);
  box->alerts = alerts;
  g_object_weak_ref (G_OBJECT (alerts), alerts_gone, box);
  g_object_set_qdata_full (G_OBJECT (hub), alerts_quark (), box, alerts_box_free);
}

/**
 * th_hub_get_alerts:
 * @hub: a #ThHub
 *
 * The alert engine registered with th_hub_set_alerts(), if any.
 *
 * Returns: (transfer none) (nullable): the engine, or %NULL when no plugin
 *   evaluates alerts
 */
ThAlerts *
th_hub_get_alerts (ThHub *hub)
{
  AlertsBox *box;

  g_return_val_if_fail (TH_IS_HUB (hub), NULL);
  box = g_object_get_qdata (G_OBJECT (hub), alerts_quark ());
  return box != NULL ? box->alerts : NULL;
}

/**
 * th_hub_list_indicator_outputs:
 * @hub: a loaded #ThHub
 *
 * The names of every configured indicator output (`sma_20`, `macd`,
 * `macd_signal`, `macd_histogram`...), in the order of `[indicators]`; an
 * indicator whose plugin failed before naming its outputs has none. What
 * an alert rule on an indicator may name.
 *
 * Returns: (transfer full) (array zero-terminated=1): the output names
 */
char **
th_hub_list_indicator_outputs (ThHub *hub)
{
  GPtrArray *names;

  g_return_val_if_fail (TH_IS_HUB (hub), NULL);

  names = g_ptr_array_new ();
  for (guint i = 0; hub->specs != NULL && i < hub->specs->len; i++)
    {
      IndicatorSpec *spec = hub->specs->pdata[i];

      for (guint o = 0; spec->outputs != NULL && o < spec->n_outputs; o++)
        g_ptr_array_add (names, g_strdup (spec->outputs[o]));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}
