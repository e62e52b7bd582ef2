/* th-hub-relay.c: an upstream hub's events, published as they are.
 *
 * An edge node (the `redis` feed) serves what an ingest node decided: its
 * hub must not re-rank sources, rebuild candles or recompute indicators.
 * th_hub_relay_event() hands the upstream envelope's bytes to every sink
 * unchanged, and records what the typed getters need: a
 * `financial_data_update` goes into the price book (so REST, D-Bus and
 * `symbol_data` answer with the upstream price, and the price goes stale
 * through the usual TTLs when the upstream falls silent) and emits
 * ::price-changed; a `source_status` updates the source's state and emits
 * ::source-status-changed. The book's own `price_source_changed` is muted
 * while a relayed price is recorded: the upstream's event says it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-hub-private.h"

/* Events an edge relays; anything else is not ours and is refused.
 * system_status_update describes the upstream process, not this one. */
static const char *const relayed[] = {
  "financial_data_update", "candle_update", "technical_indicators_update",
  "source_status", "price_source_changed", "price_alert", "price_divergence",
  "error", NULL,
};

static gboolean
state_from_string (const char    *text,
                   ThSourceState *state)
{
  for (int s = TH_SOURCE_STATE_CONNECTING; s <= TH_SOURCE_STATE_DISABLED; s++)
    if (g_strcmp0 (text, th_source_state_to_string ((ThSourceState) s)) == 0)
      {
        *state = (ThSourceState) s;
        return TRUE;
      }
  return FALSE;
}

static gint64
parse_time (const char *text)
{
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL)
    return 0;
  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return 0;
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
}

static double
number (JsonObject *object,
        const char *member)
{
  double value = NAN;

  if (th_json_object_get_number (object, member, FALSE, &value) != TH_JSON_FIELD_OK)
    return NAN;
  return value;
}

static gboolean
relay_price (ThHub      *self,
             JsonObject *data,
             GError    **error)
{
  const char *symbol = th_json_object_get_string (data, "symbol");
  JsonNode *inner_node = json_object_get_member (data, "data");
  JsonObject *inner;
  const char *source;
  g_autoptr(ThTick) tick = NULL;
  g_autoptr(GError) invalid = NULL;
  gint64 when;

  if (symbol == NULL || inner_node == NULL || !JSON_NODE_HOLDS_OBJECT (inner_node))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "financial_data_update without symbol or data");
      return FALSE;
    }
  inner = json_node_get_object (inner_node);
  source = th_json_object_get_string (inner, "source");
  when = parse_time (th_json_object_get_string (inner, "timestamp"));
  if (source == NULL || when == 0)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "financial_data_update for %.32s without source or timestamp", symbol);
      return FALSE;
    }
  if (!th_hub_has_symbol (self, symbol))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL, "%.32s is not in [tickhub] symbols", symbol);
      return FALSE;
    }

  tick = th_tick_new (symbol, source, TH_TICK_KIND_QUOTE, number (inner, "price"), when);
  tick->bid = number (inner, "bid");
  tick->ask = number (inner, "ask");
  tick->volume_24h = number (inner, "volume");
  tick->change_24h = number (inner, "change");
  th_tick_set_quote (tick, self->quote);
  tick->receive_time = th_clock_get_time (self->clock);
  if (!th_tick_validate (tick, &invalid))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "%s", invalid->message);
      return FALSE;
    }

  {
    SourceStatus *status = _th_hub_get_source_status (self, source);

    status->last_tick = tick->receive_time;
    status->ticks++;
  }

  self->relaying = TRUE;
  th_price_book_update (self->book, tick);
  self->relaying = FALSE;
  return TRUE;
}

static gboolean
relay_status (ThHub      *self,
              JsonObject *data,
              GError    **error)
{
  const char *source = th_json_object_get_string (data, "source");
  const char *state_text = th_json_object_get_string (data, "state");
  const char *reason = th_json_object_get_string (data, "reason");
  SourceStatus *status;
  ThSourceState state;

  if (source == NULL || state_text == NULL || !state_from_string (state_text, &state))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "source_status without a source or a known state");
      return FALSE;
    }
  status = _th_hub_get_source_status (self, source);
  status->reported = TRUE;
  status->state = state;
  g_free (status->reason);
  status->reason = g_strdup (reason);
  th_price_book_set_source_reason (self->book, source,
                                   state == TH_SOURCE_STATE_LIVE ? NULL : (reason != NULL ? reason : state_text));
  return TRUE;
}

/**
 * th_hub_relay_event:
 * @self: a started #ThHub
 * @event: an event written by another tickhub hub (an envelope)
 * @error: return location for a #GError
 *
 * Publishes @event, an upstream hub's event, exactly as it is: the same
 * bytes go to every sink, nothing is re-ranked or recomputed. A
 * `financial_data_update` is also recorded in the price book (the typed
 * getters answer with it, and it goes stale through the source's TTL) and
 * emitted as #ThHub::price-changed; a `source_status` updates the source's
 * state and emits #ThHub::source-status-changed. Used by the feeds of
 * edge nodes (the `redis` feed).
 *
 * Returns: %TRUE if @event was published; %FALSE with @error
 *   (%TH_ERROR_BAD_INPUT, %TH_ERROR_UNKNOWN_SYMBOL) when it is not an event
 *   this hub relays (a name it does not know, a malformed price, a symbol
 *   it does not serve). The caller counts the refusals.
 */
gboolean
th_hub_relay_event (ThHub    *self,
                    ThEvent  *event,
                    GError  **error)
{
  const char *name;
  JsonNode *data;
  JsonObject *object;

  g_return_val_if_fail (TH_IS_HUB (self), FALSE);
  g_return_val_if_fail (event != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!self->started || self->stopping)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "the hub is not running");
      return FALSE;
    }

  name = th_event_get_name (event);
  if (name == NULL || !g_strv_contains (relayed, name))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "“%.40s” is not an event an edge relays",
                   name != NULL ? name : "(none)");
      return FALSE;
    }

  data = th_event_get_data (event);
  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "%s without a data object", name);
      return FALSE;
    }
  object = json_node_get_object (data);

  if (g_str_equal (name, "financial_data_update"))
    {
      ThTick *latest;
      const char *symbol = th_json_object_get_string (object, "symbol");
      JsonObject *inner;

      if (!relay_price (self, object, error))
        return FALSE;
      th_hub_emit_event (self, event);
      inner = json_node_get_object (json_object_get_member (object, "data"));
      latest = th_price_book_get_latest (self->book, symbol, th_json_object_get_string (inner, "source"));
      if (latest != NULL)
        g_signal_emit_by_name (self, "price-changed", symbol, latest);
      return TRUE;
    }

  if (g_str_equal (name, "source_status"))
    {
      ThSourceState state = TH_SOURCE_STATE_DOWN;

      if (!relay_status (self, object, error))
        return FALSE;
      th_hub_emit_event (self, event);
      state_from_string (th_json_object_get_string (object, "state"), &state);
      g_signal_emit_by_name (self, "source-status-changed", th_json_object_get_string (object, "source"),
                             state, th_json_object_get_string (object, "reason"));
      return TRUE;
    }

  th_hub_emit_event (self, event);
  return TRUE;
}
