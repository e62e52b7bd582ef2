/* th-service.c: the org.tickhub.Tickhub1 D-Bus object of tickhubd
 *
 * A subclass of the generated skeleton (GeoClue's service manager is the
 * model): it answers the methods from the hub's price book and state, and
 * turns the hub's events into signals.
 *
 * - GetHistory never blocks either: th_hub_get_history_async() reads the
 *   store in a thread; the call is answered when it is done (or, if the
 *   daemon stops first, with an error saying so).
 * - GetPrice never blocks: th_hub_get_price_async() answers at once when a
 *   source is fresh; otherwise it has asked the feeds that can fetch on
 *   demand, and waits for the symbol's next price or [dbus] price-wait
 *   seconds, whichever comes first; then the call is answered with the
 *   price or NoSource and the reasons. The same wait covers the first
 *   seconds after activation, before the first price has arrived.
 * - PriceChanged (from the hub's ::price-changed) is throttled per symbol: at most signal-rate a second;
 *   an update inside the interval arms a timer that sends the latest price
 *   when the interval is over (latest value wins).
 * - SourceStatusChanged follows the hub's ::source-status-changed reports
 *   that change a source's state (an event that only changes the reason, such as
 *   "connecting" then "connected, subscribing", is not a new state).
 *
 * The object emits ::activity on every method call and reply, so that the
 * daemon can count D-Bus activity for its idle exit.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

#include "th-service.h"

/* A GetPrice call waiting for th_hub_get_price_async(). The async call
 * owns it; the service lists it until it is answered, which may happen
 * first (th_service_answer_pending(), dispose): then @invocation is NULL
 * and the callback only frees it. */
typedef struct
{
  ThService             *self;        /* not a reference; NULL once answered */
  GDBusMethodInvocation *invocation;
  GCancellable          *cancellable;
  char                  *symbol;              /* NULL for a GetHistory call */
  gint64                 from, to;            /* a GetHistory call's range */
} PendingPrice;

typedef struct
{
  ThService *self;                    /* not a reference */
  char      *symbol;
  gint64     last_emit;               /* monotonic µs; 0 for never */
  guint      timer_id;
} Throttle;

struct _ThService
{
  ThTickhub1Skeleton parent_instance;

  ThHub      *hub;
  gulong      price_id;
  gulong      status_id;
  double      signal_rate;
  gint64      price_wait;             /* µs */
  gint64      started;                /* monotonic µs */
  char       *config_path;
  guint       idle_timeout;           /* s, for GetStatus; 0 for none */

  GPtrArray  *pending;                /* PendingPrice* not answered yet (not owned) */
  GHashTable *throttles;              /* symbol → Throttle* */
  GHashTable *states;                 /* source → last state signalled */
};

enum {
  SIGNAL_ACTIVITY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void th_service_tickhub1_init (ThTickhub1Iface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (ThService, th_service, TH_TYPE_TICKHUB1_SKELETON,
                               G_IMPLEMENT_INTERFACE (TH_TYPE_TICKHUB1, th_service_tickhub1_init))

/* Errors */

static const GDBusErrorEntry error_entries[] = {
  { TH_ERROR_FAILED, "org.tickhub.Tickhub1.Error.Failed" },
  { TH_ERROR_BAD_CONFIG, "org.tickhub.Tickhub1.Error.BadConfig" },
  { TH_ERROR_PLUGIN, "org.tickhub.Tickhub1.Error.Plugin" },
  { TH_ERROR_NO_SOURCE, "org.tickhub.Tickhub1.Error.NoSource" },
  { TH_ERROR_UNKNOWN_SYMBOL, "org.tickhub.Tickhub1.Error.UnknownSymbol" },
  { TH_ERROR_BAD_INPUT, "org.tickhub.Tickhub1.Error.BadInput" },
  { TH_ERROR_NO_HISTORY, "org.tickhub.Tickhub1.Error.NoHistory" },
  { TH_ERROR_NOT_FOUND, "org.tickhub.Tickhub1.Error.NotFound" },
  { TH_ERROR_NOT_ALLOWED, "org.tickhub.Tickhub1.Error.NotAllowed" },
  { TH_ERROR_NO_ALERTS, "org.tickhub.Tickhub1.Error.NoAlerts" },
  { TH_ERROR_TOO_MANY, "org.tickhub.Tickhub1.Error.TooMany" },
};

/**
 * th_service_register_errors:
 *
 * Maps the codes of %TH_ERROR to `org.tickhub.Tickhub1.Error.*` names, so
 * that a #GError returned to a method call keeps its meaning on the bus.
 */
void
th_service_register_errors (void)
{
  static gsize quark = 0;

  /* TH_ERROR is G_DEFINE_QUARK (th-error-quark, th_error). */
  g_dbus_error_register_error_domain ("th-error-quark", &quark,
                                      error_entries, G_N_ELEMENTS (error_entries));
  g_assert (quark == TH_ERROR);
}

/* Plugin names */

/**
 * th_service_plugin_module:
 * @hub: the hub
 * @extension: one of its feeds or sinks
 *
 * Returns: (transfer full) (nullable): the module name of the plugin that
 *   made @extension, in any language
 */
char *
th_service_plugin_module (ThHub   *hub,
                          GObject *extension)
{
  return g_strdup (th_hub_get_plugin_name (hub, extension));
}

/**
 * th_service_feed_name:
 * @hub: the hub
 * @feed: a feed
 *
 * Returns: (transfer full) (nullable): the source name of @feed
 */
char *
th_service_feed_name (ThHub        *hub,
                      ThFeedSource *feed)
{
  /* Named after their module (coingecko, replay, simulator) unless they
   * say otherwise; a replay's ticks keep their recorded sources. */
  return th_feed_source_get_source_name (feed);
}

/* Prices */

static void
dict_add_number (GVariantDict *dict,
                 const char   *key,
                 double        value)
{
  /* Unknown numbers (NaN) are left out rather than sent as NaN. */
  if (isfinite (value))
    g_variant_dict_insert_value (dict, key, g_variant_new_double (value));
}

static GVariant *
price_to_variant (ThService    *self,
                  const ThTick *tick)
{
  GVariantDict dict;
  gint64 now = th_clock_get_time (th_hub_get_clock (self->hub));

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "symbol", "s", tick->symbol);
  dict_add_number (&dict, "price", tick->price);
  dict_add_number (&dict, "bid", tick->bid);
  dict_add_number (&dict, "ask", tick->ask);
  dict_add_number (&dict, "volume", tick->volume_24h);
  dict_add_number (&dict, "change", tick->change_24h);
  if (tick->source != NULL)
    g_variant_dict_insert (&dict, "source", "s", tick->source);
  if (tick->quote != NULL)
    g_variant_dict_insert (&dict, "quote", "s", tick->quote);
  if (tick->n_sources > 0)
    {
      /* [prices] divergence: the comparison of the fresh sources. */
      g_variant_dict_insert (&dict, "sources", "u", tick->n_sources);
      g_variant_dict_insert (&dict, "spread_bps", "d", tick->spread_bps);
    }
  if (tick->exchange_time != 0)
    g_variant_dict_insert (&dict, "timestamp", "x", tick->exchange_time);
  if (tick->receive_time != 0)
    g_variant_dict_insert (&dict, "age_ms", "x", MAX (now - tick->receive_time, 0) / 1000);
  if (th_hub_get_market (self->hub, tick->symbol) != NULL)
    g_variant_dict_insert (&dict, "market", "s", th_hub_get_market (self->hub, tick->symbol));
  return g_variant_dict_end (&dict);
}

static void
activity (ThService *self)
{
  g_signal_emit (self, signals[SIGNAL_ACTIVITY], 0);
}

static void
pending_price_free (PendingPrice *pending)
{
  g_clear_object (&pending->invocation);
  g_clear_object (&pending->cancellable);
  g_free (pending->symbol);
  g_free (pending);
}

/* Answers @pending now with the price of @symbol or the error, and stops
 * its wait (the callback then only frees it). */
static void
pending_price_answer_now (PendingPrice *pending,
                          const char   *symbol)
{
  ThService *self = pending->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = symbol != NULL ? th_price_book_lookup (th_hub_get_price_book (self->hub), symbol, &error) : NULL;

  g_ptr_array_remove_fast (self->pending, pending);
  if (tick != NULL)
    th_tickhub1_complete_get_price (TH_TICKHUB1 (self), g_steal_pointer (&pending->invocation),
                                    price_to_variant (self, tick));
  else if (error != NULL)
    g_dbus_method_invocation_return_gerror (g_steal_pointer (&pending->invocation), error);
  else
    g_dbus_method_invocation_return_error_literal (g_steal_pointer (&pending->invocation),
                                                   TH_ERROR, TH_ERROR_FAILED, "the tickhub daemon is stopping");
  pending->self = NULL;
  g_cancellable_cancel (pending->cancellable);
}

static void
on_price (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  PendingPrice *pending = user_data;
  ThService *self = pending->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = th_hub_get_price_finish (TH_HUB (source), result, &error);

  if (pending->invocation == NULL)   /* answered already */
    {
      pending_price_free (pending);
      return;
    }
  g_ptr_array_remove_fast (self->pending, pending);
  if (tick != NULL)
    th_tickhub1_complete_get_price (TH_TICKHUB1 (self), g_steal_pointer (&pending->invocation),
                                    price_to_variant (self, tick));
  else
    g_dbus_method_invocation_return_gerror (g_steal_pointer (&pending->invocation), error);
  activity (self);
  pending_price_free (pending);
}

static gboolean
handle_get_price (ThTickhub1            *object,
                  GDBusMethodInvocation *invocation,
                  const char            *symbol)
{
  ThService *self = TH_SERVICE (object);
  PendingPrice *pending;

  activity (self);

  pending = g_new0 (PendingPrice, 1);
  pending->self = self;
  pending->invocation = g_object_ref (invocation);   /* ours to answer now */
  pending->cancellable = g_cancellable_new ();
  pending->symbol = g_strdup (symbol);
  g_ptr_array_add (self->pending, pending);
  th_hub_get_price_async (self->hub, symbol, (guint) (self->price_wait / 1000), pending->cancellable,
                          on_price, pending);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* History */

static void
on_history (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PendingPrice *pending = user_data;
  ThService *self = pending->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) candles = th_hub_get_history_finish (TH_HUB (source), result, &error);
  GVariantBuilder builder;

  if (pending->invocation == NULL)   /* answered already */
    {
      pending_price_free (pending);
      return;
    }
  g_ptr_array_remove_fast (self->pending, pending);
  if (candles == NULL)
    {
      g_dbus_method_invocation_return_gerror (g_steal_pointer (&pending->invocation), error);
      activity (self);
      pending_price_free (pending);
      return;
    }
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xdddddu)"));
  for (guint i = 0; i < candles->len; i++)
    {
      const ThCandle *c = candles->pdata[i];

      g_variant_builder_add (&builder, "(xdddddu)", c->start, c->open, c->high, c->low, c->close,
                             c->volume, (guint32) c->ticks);
    }
  th_tickhub1_complete_get_history (TH_TICKHUB1 (self), g_steal_pointer (&pending->invocation),
                                    pending->from, pending->to, g_variant_builder_end (&builder));
  activity (self);
  pending_price_free (pending);
}

static gboolean
handle_get_history (ThTickhub1            *object,
                    GDBusMethodInvocation *invocation,
                    const char            *symbol,
                    const char            *timeframe,
                    gint64                 from_us,
                    gint64                 to_us,
                    guint                  limit)
{
  ThService *self = TH_SERVICE (object);
  PendingPrice *pending;

  activity (self);

  /* 0: now; from 0 or less: relative to to (0: a day before). */
  if (to_us == 0)
    to_us = th_clock_get_time (th_hub_get_clock (self->hub));
  if (from_us <= 0)
    from_us = to_us + (from_us < 0 ? from_us : -G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC);

  pending = g_new0 (PendingPrice, 1);
  pending->self = self;
  pending->invocation = g_object_ref (invocation);   /* ours to answer now */
  pending->cancellable = g_cancellable_new ();
  pending->from = from_us;
  pending->to = to_us;
  g_ptr_array_add (self->pending, pending);
  th_hub_get_history_async (self->hub, symbol, timeframe, from_us, to_us, limit, pending->cancellable,
                            on_history, pending);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_prices (ThTickhub1            *object,
                   GDBusMethodInvocation *invocation)
{
  ThService *self = TH_SERVICE (object);
  ThPriceBook *book = th_hub_get_price_book (self->hub);
  const char *const *symbols = th_hub_get_symbols (self->hub);
  GVariantBuilder builder;

  activity (self);
  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sa{sv}}"));
  for (guint i = 0; symbols[i] != NULL; i++)
    {
      g_autoptr(ThTick) tick = th_price_book_lookup (book, symbols[i], NULL);

      if (tick != NULL)
        g_variant_builder_add (&builder, "{s@a{sv}}", symbols[i], price_to_variant (self, tick));
    }
  th_tickhub1_complete_get_prices (object, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Sources and plugins */

static GVariant *
strv_variant (const char *const *strv)
{
  return g_variant_new_strv (strv, -1);
}

static gboolean
handle_get_status (ThTickhub1            *object,
                   GDBusMethodInvocation *invocation)
{
  ThService *self = TH_SERVICE (object);
  ThPriceBook *book = th_hub_get_price_book (self->hub);
  const char *const *symbols = th_hub_get_symbols (self->hub);
  g_auto(GStrv) sources = th_hub_list_sources (self->hub);
  g_auto(GStrv) plugins = th_hub_list_plugins (self->hub);
  g_auto(GStrv) timeframes = th_hub_list_timeframes (self->hub);
  g_autoptr(GPtrArray) priced = g_ptr_array_new ();
  GVariantBuilder states;
  GVariantDict dict;

  activity (self);

  for (guint i = 0; symbols[i] != NULL; i++)
    if (th_price_book_get_selected (book, symbols[i]) != NULL)
      g_ptr_array_add (priced, (gpointer) symbols[i]);
  g_ptr_array_add (priced, NULL);

  g_variant_builder_init (&states, G_VARIANT_TYPE ("a{ss}"));
  for (guint i = 0; sources[i] != NULL; i++)
    g_variant_builder_add (&states, "{ss}", sources[i],
                           th_source_state_to_string (th_hub_get_source_state (self->hub, sources[i], NULL)));

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "version", "s", PACKAGE_VERSION);
  g_variant_dict_insert (&dict, "pid", "u", (guint32) getpid ());
  g_variant_dict_insert (&dict, "uptime", "d", (g_get_monotonic_time () - self->started) / 1e6);
  if (self->config_path != NULL)
    g_variant_dict_insert (&dict, "config", "s", self->config_path);
  g_variant_dict_insert_value (&dict, "symbols", strv_variant (symbols));
  g_variant_dict_insert_value (&dict, "priced_symbols", strv_variant ((const char *const *) priced->pdata));
  g_variant_dict_insert (&dict, "quote", "s", th_hub_get_quote (self->hub));
  g_variant_dict_insert_value (&dict, "timeframes", strv_variant ((const char *const *) timeframes));
  g_variant_dict_insert_value (&dict, "plugins", strv_variant ((const char *const *) plugins));
  g_variant_dict_insert_value (&dict, "sources", g_variant_builder_end (&states));
  g_variant_dict_insert (&dict, "rejected_ticks", "t", (guint64) th_hub_get_rejected_ticks (self->hub));
  if (th_hub_get_history (self->hub) != NULL)
    {
      g_autofree char *reason = NULL;
      ThSourceState state = th_history_get_state (th_hub_get_history (self->hub), &reason);

      g_variant_dict_insert (&dict, "store", "s", th_source_state_to_string (state));
      if (reason != NULL)
        g_variant_dict_insert (&dict, "store_reason", "s", reason);
    }
  g_variant_dict_insert (&dict, "idle_timeout", "u", (guint32) self->idle_timeout);
  g_variant_dict_insert (&dict, "signal_rate", "d", self->signal_rate);

  th_tickhub1_complete_get_status (object, invocation, g_variant_dict_end (&dict));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_sources (ThTickhub1            *object,
                     GDBusMethodInvocation *invocation)
{
  ThService *self = TH_SERVICE (object);
  ThPriceBook *book = th_hub_get_price_book (self->hub);
  const char *const *symbols = th_hub_get_symbols (self->hub);
  g_auto(GStrv) sources = th_hub_list_sources (self->hub);
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (self->hub);
  g_autoptr(GHashTable) stats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) g_variant_unref);
  gint64 now = th_clock_get_time (th_hub_get_clock (self->hub));
  GVariantBuilder builder;

  activity (self);

  for (guint i = 0; i < feeds->len; i++)
    {
      char *name = th_service_feed_name (self->hub, feeds->pdata[i]);

      if (name != NULL)
        g_hash_table_insert (stats, name, th_feed_source_get_stats (feeds->pdata[i]));
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; sources[i] != NULL; i++)
    {
      const char *name = sources[i];
      g_autofree char *reason = NULL;
      ThSourceState state = th_hub_get_source_state (self->hub, name, &reason);
      g_autoptr(GPtrArray) selected = g_ptr_array_new ();
      gint64 last = 0;
      GVariant *feed_stats = g_hash_table_lookup (stats, name);
      GVariantDict dict;

      for (guint j = 0; symbols[j] != NULL; j++)
        {
          ThTick *latest = th_price_book_get_latest (book, symbols[j], name);

          if (latest != NULL)
            last = MAX (last, latest->receive_time);
          if (g_strcmp0 (th_price_book_get_selected (book, symbols[j]), name) == 0)
            g_ptr_array_add (selected, (gpointer) symbols[j]);
        }
      g_ptr_array_add (selected, NULL);

      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "name", "s", name);
      g_variant_dict_insert (&dict, "rank", "i", (gint32) th_price_book_get_rank (book, name));
      g_variant_dict_insert (&dict, "state", "s", th_source_state_to_string (state));
      if (reason != NULL)
        g_variant_dict_insert (&dict, "reason", "s", reason);
      g_variant_dict_insert (&dict, "ttl_ms", "x", th_price_book_get_ttl (book, name) / 1000);
      if (last > 0)
        g_variant_dict_insert (&dict, "last_message_age_ms", "x", MAX (now - last, 0) / 1000);
      g_variant_dict_insert_value (&dict, "selected_for", strv_variant ((const char *const *) selected->pdata));
      /* Sources in [prices] order without a loaded feed (or whose ticks
       * come from a replay) have none. */
      g_variant_dict_insert (&dict, "feed", "b", feed_stats != NULL);
      if (feed_stats != NULL && g_variant_n_children (feed_stats) > 0)
        g_variant_dict_insert_value (&dict, "stats", feed_stats);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&dict));
    }

  th_tickhub1_complete_list_sources (object, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
is_indicator_plugin (ThHub      *hub,
                     const char *module)
{
  GKeyFile *kf = th_config_get_key_file (th_hub_get_config (hub));
  g_auto(GStrv) keys = g_key_file_get_keys (kf, "indicators", NULL, NULL);

  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = th_config_get_string (th_hub_get_config (hub), "indicators", keys[i], "");
      char *paren = strchr (value, '(');

      if (paren != NULL)
        *paren = '\0';
      g_strstrip (value);
      if (g_str_equal (value, module))
        return TRUE;
    }
  return FALSE;
}

/* state: "enabled", or "disabled" with the error (th_hub_disable_plugin). */
static void
add_plugin_state (ThHub        *hub,
                  GVariantDict *dict,
                  const char   *plugin)
{
  const char *error = th_hub_get_plugin_error (hub, plugin);

  g_variant_dict_insert (dict, "state", "s", error != NULL ? "disabled" : "enabled");
  if (error != NULL)
    g_variant_dict_insert (dict, "error", "s", error);
}

static gboolean
handle_list_plugins (ThTickhub1            *object,
                     GDBusMethodInvocation *invocation)
{
  ThService *self = TH_SERVICE (object);
  g_auto(GStrv) plugins = th_hub_list_plugins (self->hub);
  g_auto(GStrv) failed = th_hub_list_disabled_plugins (self->hub);
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (self->hub);
  g_autoptr(GPtrArray) sinks = th_hub_get_sinks (self->hub);
  g_autoptr(GHashTable) kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GVariantBuilder builder;

  activity (self);

  for (guint i = 0; i < feeds->len; i++)
    {
      char *module = th_service_plugin_module (self->hub, feeds->pdata[i]);

      if (module == NULL)
        module = th_service_feed_name (self->hub, feeds->pdata[i]);
      if (module != NULL)
        g_hash_table_insert (kinds, module, (gpointer) "feed");
    }
  for (guint i = 0; i < sinks->len; i++)
    {
      char *module = th_service_plugin_module (self->hub, sinks->pdata[i]);

      if (module != NULL)
        g_hash_table_insert (kinds, module, (gpointer) "sink");
    }

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; plugins[i] != NULL; i++)
    {
      const char *kind = g_hash_table_lookup (kinds, plugins[i]);
      GVariantDict dict;

      if (kind == NULL)
        kind = is_indicator_plugin (self->hub, plugins[i]) ? "indicator" : "unknown";
      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "name", "s", plugins[i]);
      g_variant_dict_insert (&dict, "kind", "s", kind);
      add_plugin_state (self->hub, &dict, plugins[i]);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&dict));
    }
  /* Those that failed to load, so never made anything. */
  for (guint i = 0; failed[i] != NULL; i++)
    {
      GVariantDict dict;

      if (g_strv_contains ((const char *const *) plugins, failed[i]))
        continue;
      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "name", "s", failed[i]);
      g_variant_dict_insert (&dict, "kind", "s", "unknown");
      add_plugin_state (self->hub, &dict, failed[i]);
      g_variant_builder_add_value (&builder, g_variant_dict_end (&dict));
    }

  th_tickhub1_complete_list_plugins (object, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* Signals */

static void
throttle_free (gpointer data)
{
  Throttle *throttle = data;

  g_clear_handle_id (&throttle->timer_id, g_source_remove);
  g_free (throttle->symbol);
  g_free (throttle);
}

static void
emit_price_changed (Throttle *throttle)
{
  ThService *self = throttle->self;
  g_autoptr(ThTick) tick = th_price_book_lookup (th_hub_get_price_book (self->hub), throttle->symbol, NULL);

  throttle->last_emit = g_get_monotonic_time ();
  /* Gone stale meanwhile: nothing to announce (SourceStatusChanged and
   * GetPrice say why). */
  if (tick != NULL)
    th_tickhub1_emit_price_changed (TH_TICKHUB1 (self), throttle->symbol, price_to_variant (self, tick));
}

static gboolean
on_throttle_timer (gpointer data)
{
  Throttle *throttle = data;

  throttle->timer_id = 0;
  emit_price_changed (throttle);
  return G_SOURCE_REMOVE;
}

static void
price_changed (ThService  *self,
               const char *symbol)
{
  Throttle *throttle = g_hash_table_lookup (self->throttles, symbol);
  gint64 interval = (gint64) (G_USEC_PER_SEC / self->signal_rate);
  gint64 now = g_get_monotonic_time ();

  if (throttle == NULL)
    {
      throttle = g_new0 (Throttle, 1);
      throttle->self = self;
      throttle->symbol = g_strdup (symbol);
      g_hash_table_insert (self->throttles, throttle->symbol, throttle);
    }

  /* A timer is armed: it will send the latest price. */
  if (throttle->timer_id != 0)
    return;

  if (throttle->last_emit == 0 || now - throttle->last_emit >= interval)
    emit_price_changed (throttle);
  else
    throttle->timer_id = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                             (guint) ((throttle->last_emit + interval - now + 999) / 1000),
                                             on_throttle_timer, throttle, NULL);
}

static void
on_source_status_changed (ThHub         *hub,
                          const char    *source,
                          ThSourceState  state,
                          const char    *reason,
                          ThService     *self)
{
  const char *name = th_source_state_to_string (state);

  if (g_strcmp0 (g_hash_table_lookup (self->states, source), name) == 0)
    return;
  g_hash_table_insert (self->states, g_strdup (source), g_strdup (name));
  th_tickhub1_emit_source_status_changed (TH_TICKHUB1 (self), source, name);
}

static void
on_price_changed (ThHub      *hub,
                  const char *symbol,
                  ThTick     *price,
                  ThService  *self)
{
  price_changed (self, symbol);
}

/* GObject */

static void
th_service_dispose (GObject *object)
{
  ThService *self = TH_SERVICE (object);

  /* Calls still waiting get an answer rather than a timeout. */
  while (self->pending != NULL && self->pending->len > 0)
    pending_price_answer_now (self->pending->pdata[self->pending->len - 1], NULL);
  g_clear_pointer (&self->throttles, g_hash_table_unref);
  g_clear_pointer (&self->states, g_hash_table_unref);
  if (self->hub != NULL)
    {
      g_clear_signal_handler (&self->price_id, self->hub);
      g_clear_signal_handler (&self->status_id, self->hub);
    }
  g_clear_object (&self->hub);

  G_OBJECT_CLASS (th_service_parent_class)->dispose (object);
}

static void
th_service_finalize (GObject *object)
{
  ThService *self = TH_SERVICE (object);

  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_free (self->config_path);

  G_OBJECT_CLASS (th_service_parent_class)->finalize (object);
}

static void
th_service_class_init (ThServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_service_dispose;
  object_class->finalize = th_service_finalize;

  /**
   * ThService::activity:
   *
   * A method was called or answered: D-Bus activity, for the idle exit.
   */
  signals[SIGNAL_ACTIVITY] =
    g_signal_new ("activity", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
th_service_tickhub1_init (ThTickhub1Iface *iface)
{
  iface->handle_get_price = handle_get_price;
  iface->handle_get_prices = handle_get_prices;
  iface->handle_get_history = handle_get_history;
  iface->handle_get_status = handle_get_status;
  iface->handle_list_sources = handle_list_sources;
  iface->handle_list_plugins = handle_list_plugins;
}

static void
th_service_init (ThService *self)
{
  self->started = g_get_monotonic_time ();
  self->pending = g_ptr_array_new ();
  self->throttles = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, throttle_free);
  self->states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/**
 * th_service_new:
 * @hub: a loaded hub
 * @signal_rate: the most PriceChanged signals per symbol per second (> 0)
 * @price_wait: how long, in µs, GetPrice waits for a price when no source
 *   is fresh; 0 to fail at once
 *
 * Returns: (transfer full): the service object, to export at
 *   %TH_SERVICE_OBJECT_PATH
 */
ThService *
th_service_new (ThHub  *hub,
                double  signal_rate,
                gint64  price_wait)
{
  ThService *self;

  g_return_val_if_fail (TH_IS_HUB (hub), NULL);
  g_return_val_if_fail (signal_rate > 0, NULL);

  self = g_object_new (TH_TYPE_SERVICE, NULL);
  self->hub = g_object_ref (hub);
  self->signal_rate = signal_rate;
  self->price_wait = MAX (price_wait, 0);
  self->price_id = g_signal_connect_object (hub, "price-changed", G_CALLBACK (on_price_changed), self, 0);
  self->status_id = g_signal_connect_object (hub, "source-status-changed",
                                             G_CALLBACK (on_source_status_changed), self, 0);
  return self;
}

/**
 * th_service_set_status_info:
 * @self: a #ThService
 * @config_path: (nullable): the configuration file, for GetStatus
 * @idle_timeout: the idle exit in seconds, for GetStatus; 0 for none
 */
void
th_service_set_status_info (ThService  *self,
                            const char *config_path,
                            guint       idle_timeout)
{
  g_return_if_fail (TH_IS_SERVICE (self));

  g_free (self->config_path);
  self->config_path = g_strdup (config_path);
  self->idle_timeout = idle_timeout;
}

/**
 * th_service_is_busy:
 * @self: a #ThService
 *
 * Returns: whether calls are waiting for an answer
 */
gboolean
th_service_is_busy (ThService *self)
{
  g_return_val_if_fail (TH_IS_SERVICE (self), FALSE);
  return self->pending->len > 0;
}

/**
 * th_service_answer_pending:
 * @self: a #ThService
 *
 * Answers every GetPrice call still waiting for a price with what the
 * price book says now: the price, or NoSource and each source's reason;
 * a GetHistory call still waiting for the store gets an error saying
 * that the daemon is stopping.
 * The daemon calls it before it exits.
 */
void
th_service_answer_pending (ThService *self)
{
  g_return_if_fail (TH_IS_SERVICE (self));

  while (self->pending->len > 0)
    {
      PendingPrice *pending = self->pending->pdata[self->pending->len - 1];

      pending_price_answer_now (pending, pending->symbol);
      activity (self);
    }
}
