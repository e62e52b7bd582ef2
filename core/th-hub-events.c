/* th-hub-events.c: the hub's events: each written once as a JSON envelope
 * (by hand, no JsonNode tree per tick) and shared by every sink, then the
 * typed signal that carries the same news (::price-changed,
 * ::candle-closed, ::indicators-updated); the indicators run on candles.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-hub-private.h"

/* Events */

/**
 * th_hub_emit_event:
 * @self: a #ThHub
 * @event: an event
 *
 * Hands @event to every sink, then emits #ThHub::event. Once
 * th_hub_stop_async() has begun, @event is dropped: no event reaches a
 * sink after the stop begins.
 */
void
th_hub_emit_event (ThHub   *self,
                   ThEvent *event)
{
  g_return_if_fail (TH_IS_HUB (self));
  g_return_if_fail (event != NULL);

  if (G_UNLIKELY (self->stopping))
    return;

  for (guint i = 0; i < self->sinks->len; i++)
    {
      if (G_UNLIKELY (self->n_disabled_sinks > 0) && _th_hub_sink_is_disabled (self, self->sinks->pdata[i]))
        continue;
      th_sink_consume (self->sinks->pdata[i], event);
    }

  g_signal_emit (self, _th_hub_signals[SIGNAL_EVENT], 0, event);
}

void
_th_hub_emit_take (ThHub      *self,
           const char *name,
           const char *symbol,
           const char *timeframe,
           GString    *envelope)
{
  g_autoptr(ThEvent) event = _th_event_new_take (name, symbol, timeframe, envelope);

  th_hub_emit_event (self, event);
}

GString *
_th_hub_envelope_begin (const char *name)
{
  GString *out = g_string_sized_new (256);

  g_string_append (out, "{\"event\":\"");
  g_string_append (out, name);
  g_string_append (out, "\",\"data\":{");
  return out;
}

void
_th_hub_envelope_end (GString *out)
{
  g_string_append (out, "}}");
}

/* The member @lit (`,"name":`, a string literal) and @value: a NaN is
 * written `null` here, as _th_json_append_double() writes it, without
 * the call (the fields a venue does not send, a CoinCap tick's volume,
 * change, bid and ask, are NaN); the test is one comparison, and
 * _th_json_append_double() still writes the infinities `null`. */
#define append_member(out, lit, value)                                 \
  G_STMT_START {                                                       \
    double member_value_ = (value);                                    \
    if (G_LIKELY (member_value_ == member_value_))                     \
      {                                                                \
        _th_string_append_lit ((out), lit);                            \
        _th_json_append_double ((out), member_value_);                 \
      }                                                                \
    else                                                               \
      _th_string_append_lit ((out), lit "null");                       \
  } G_STMT_END

void
_th_hub_emit_financial (ThHub        *self,
                const ThTick *state)
{
  /* Written into the hub's reused buffer, then copied once into the
   * event: one allocation for the text instead of a GString grown for
   * each event. The buffer is free again before the event goes out, so
   * a sink that pushes a tick meanwhile may write its own. */
  GString *out = self->scratch;
  g_autoptr(ThEvent) event = NULL;
  ThMarketHours *hours;

  g_string_truncate (out, 0);
  _th_string_append_lit (out, "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":");
  _th_json_append_string (out, state->symbol);
  _th_string_append_lit (out, ",\"data\":{\"price\":");
  _th_json_append_double (out, state->price);
  append_member (out, ",\"volume\":", state->volume_24h);
  append_member (out, ",\"change\":", state->change_24h);
  append_member (out, ",\"bid\":", state->bid);
  append_member (out, ",\"ask\":", state->ask);
  _th_string_append_lit (out, ",\"source\":");
  _th_json_append_string (out, state->source);
  _th_string_append_lit (out, ",\"timestamp\":");
  _th_json_append_time (out, state->exchange_time);
  if (state->n_sources > 0)
    {
      /* [prices] divergence: the comparison of the fresh sources. */
      _th_string_append_lit (out, ",\"quote\":");
      _th_json_append_string (out, state->quote);
      g_string_append_printf (out, ",\"sources\":%u,\"spread_bps\":", state->n_sources);
      _th_json_append_double (out, round (state->spread_bps * 100) / 100);
    }
  /* Only for a symbol whose market has hours (US equities): the same as
   * th_hub_get_market(), without its lookup when no symbol has hours. */
  hours = self->markets != NULL && g_hash_table_size (self->markets) > 0
          ? _th_hub_get_market_hours (self, state->symbol) : NULL;
  if (hours != NULL)
    {
      _th_string_append_lit (out, ",\"market\":");
      _th_json_append_string (out, _th_market_hours_is_open (hours, th_clock_get_time (self->clock)) ? "open" : "closed");
    }
  _th_string_append_lit (out, "}}}");

  event = _th_event_new_copy ("financial_data_update", state->symbol, NULL, out->str, out->len);
  th_hub_emit_event (self, event);

  g_signal_emit (self, _th_hub_signals[SIGNAL_PRICE_CHANGED], 0, state->symbol, state);
  if (G_UNLIKELY (self->price_waits->len > 0))
    _th_hub_price_waits_complete (self, state->symbol);
}

void
_th_hub_emit_candle (ThHub          *self,
             const char     *symbol,
             const char     *timeframe,
             const ThCandle *candle)
{
  GString *out = _th_hub_envelope_begin ("candle_update");
  g_autofree char *json = th_candle_to_json (candle);

  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, symbol);
  g_string_append (out, ",\"timeframe\":");
  _th_json_append_string (out, timeframe);
  g_string_append (out, ",\"candle\":");
  g_string_append (out, json);
  _th_hub_envelope_end (out);

  _th_hub_emit_take (self, "candle_update", symbol, timeframe, out);
}

/* The outputs of @values (one per spec) as `a{sd}`, in the configured
 * order. */
static GVariant *
values_to_variant (ThHub              *self,
                   ThIndicatorValues **values)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sd}"));
  for (guint k = 0; k < self->specs->len; k++)
    {
      IndicatorSpec *spec = self->specs->pdata[k];

      for (guint j = 0; j < spec->n_outputs; j++)
        g_variant_builder_add (&builder, "{sd}", spec->outputs[j], th_indicator_values_get (values[k], j));
    }
  return g_variant_builder_end (&builder);
}

/* technical_indicators_update, the values kept for th_hub_get_indicators()
 * and ::indicators-updated: one path for the hub's own indicators and
 * th_hub_publish_indicators(). Takes @values (a{sd}, floating or not). */
void
_th_hub_publish_indicators (ThHub          *self,
                    SymbolState    *state,
                    guint           t,
                    const ThCandle *candle,
                    GVariant       *values)
{
  Series *s = &state->series[t];
  const char *timeframe = self->timeframes[t].name;
  GString *out;
  GVariantIter iter;
  const char *name;
  double value;

  g_clear_pointer (&s->published_values, g_variant_unref);
  s->published_values = g_variant_ref_sink (values);
  s->published_start = candle->start;
  s->published_closed = candle->closed;

  out = _th_hub_envelope_begin ("technical_indicators_update");
  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, state->symbol);
  g_string_append (out, ",\"timeframe\":");
  _th_json_append_string (out, timeframe);
  g_string_append_printf (out, ",\"closed\":%s,\"indicators\":{", candle->closed ? "true" : "false");
  g_variant_iter_init (&iter, s->published_values);
  while (g_variant_iter_next (&iter, "{&sd}", &name, &value))
    {
      _th_json_append_string (out, name);
      g_string_append_c (out, ':');
      _th_json_append_double (out, value);
      g_string_append_c (out, ',');
    }
  g_string_append (out, "\"timestamp\":");
  _th_json_append_time (out, candle->start);
  /* Warm: the indicators have taken [tickhub] warmup closed candles,
   * stored or live. */
  g_string_append (out, self->warmup == 0 || s->fed >= self->warmup ? "},\"warm\":true" : "},\"warm\":false");
  _th_hub_envelope_end (out);
  _th_hub_emit_take (self, "technical_indicators_update", state->symbol, timeframe, out);

  g_signal_emit (self, _th_hub_signals[SIGNAL_INDICATORS_UPDATED], 0, state->symbol, timeframe, candle,
                 s->published_values);
}

void
_th_hub_run_indicators (ThHub          *self,
                SymbolState    *state,
                guint           t,
                const ThCandle *candle)
{
  Series *s = &state->series[t];
  ThIndicatorValues **values = candle->closed ? s->values : s->provisional;
  guint n = MIN (self->specs->len, MAX_SPECS);

  if (self->specs->len == 0)
    return;
  /* The stored candles first: a closed one waits for them, the forming
   * one is not computed on a cold state. */
  if (s->warming)
    {
      if (candle->closed)
        g_ptr_array_add (s->deferred, th_candle_copy (candle));
      return;
    }
  if (candle->closed)
    s->fed++;

  for (guint k = 0; k < n; k++)
    {
      IndicatorSpec *spec = self->specs->pdata[k];

      th_indicator_values_reset (values[k]);
      /* A failed plugin's outputs stay null. */
      if (G_UNLIKELY (spec->disabled || s->indicators[k] == NULL))
        continue;
      /* The vfunc itself: this runs for every closed candle of every
       * series, and the interface was looked up once. */
      if (s->ifaces[k]->update != NULL)
        s->ifaces[k]->update (s->indicators[k], candle, candle->closed, values[k]);
    }

  _th_hub_publish_indicators (self, state, t, candle, values_to_variant (self, values));
}

/* Warm indicators: at start, each series' indicators take the last
 * [tickhub] warmup closed candles of the store before any live one. */

typedef struct
{
  char  *symbol;
  guint  t;
} WarmUp;

/* Feeds @candle (closed, stored) to the series' indicators, into the
 * closed values, without publishing. */
static void
feed_stored (ThHub          *self,
             Series         *s,
             const ThCandle *candle)
{
  guint n = MIN (self->specs->len, MAX_SPECS);

  for (guint k = 0; k < n; k++)
    {
      IndicatorSpec *spec = self->specs->pdata[k];

      th_indicator_values_reset (s->values[k]);
      if (G_UNLIKELY (spec->disabled || s->indicators[k] == NULL) || s->ifaces[k]->update == NULL)
        continue;
      s->ifaces[k]->update (s->indicators[k], candle, TRUE, s->values[k]);
    }
  s->fed++;
}

static void
on_warm_up (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  ThHub *self = TH_HUB (source);
  WarmUp *w = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) candles = th_hub_get_history_finish (self, result, &error);
  g_autoptr(GPtrArray) deferred = NULL;
  g_autoptr(GPtrArray) history = NULL;
  const ThCandle *last = NULL;
  SymbolState *state;
  gint64 first_live = G_MAXINT64;
  Series *s;

  if (self->states == NULL || (state = g_hash_table_lookup (self->states, w->symbol)) == NULL ||
      !(s = &state->series[w->t])->warming)
    goto out;
  s->warming = FALSE;
  deferred = g_steal_pointer (&s->deferred);
  /* Stopping: nothing is published any more. */
  if (self->stopping || self->stopped)
    goto out;
  if (candles == NULL && !self->warmup_warned)
    {
      self->warmup_warned = TRUE;
      g_message ("indicators start cold (marked \"warm\": false until they have taken %u candles): %s",
                 self->warmup, error->message);
    }

  /* Stored candles that start before the first live one of the series. */
  history = _th_candle_series_get_history (s->series, 1 + self->history);
  if (history->len > 0)
    first_live = ((ThCandle *) history->pdata[0])->start;
  if (deferred->len > 0)
    first_live = MIN (first_live, ((ThCandle *) deferred->pdata[0])->start);
  for (guint i = 0; candles != NULL && i < candles->len; i++)
    {
      const ThCandle *c = candles->pdata[i];

      if (c->start >= first_live)
        break;
      feed_stored (self, s, c);
      last = c;
    }
  /* Published once: the values of the last stored candle, unless live
   * candles closed meanwhile (theirs follow). */
  if (last != NULL && deferred->len == 0)
    _th_hub_publish_indicators (self, state, w->t, last, values_to_variant (self, s->values));
  for (guint i = 0; i < deferred->len; i++)
    _th_hub_run_indicators (self, state, w->t, deferred->pdata[i]);

out:
  g_free (w->symbol);
  g_free (w);
}

void
_th_hub_warm_up (ThHub *self)
{
  GHashTableIter iter;
  gpointer value;
  gint64 now;

  if (self->history_provider == NULL || self->specs->len == 0 || self->warmup == 0 || self->states == NULL)
    return;

  now = th_clock_get_time (self->clock);
  g_clear_object (&self->warmup_cancellable);
  self->warmup_cancellable = g_cancellable_new ();
  g_hash_table_iter_init (&iter, self->states);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      SymbolState *state = value;

      for (guint t = 0; t < self->n_timeframes; t++)
        {
          Series *s = &state->series[t];
          gint64 duration = self->timeframes[t].duration;
          WarmUp *w = g_new0 (WarmUp, 1);

          s->warming = TRUE;
          s->deferred = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
          w->symbol = g_strdup (state->symbol);
          w->t = t;
          /* The latest warmup candles of twice as long: a longer gap (the
           * daemon down) leaves the indicators colder, never fed across
           * it with candles from long ago. */
          th_hub_get_history_async (self, state->symbol, self->timeframes[t].name,
                                    now - 2 * (gint64) self->warmup * duration, now + duration, self->warmup,
                                    self->warmup_cancellable, on_warm_up, w);
        }
    }
}

void
_th_hub_publish_closed (ThHub       *self,
                SymbolState *state,
                guint        t,
                GPtrArray   *closed)
{
  for (guint i = 0; i < closed->len; i++)
    {
      const ThCandle *candle = closed->pdata[i];

      _th_hub_emit_candle (self, state->symbol, self->timeframes[t].name, candle);
      g_signal_emit (self, _th_hub_signals[SIGNAL_CANDLE_CLOSED], 0, state->symbol, self->timeframes[t].name, candle);
      _th_hub_run_indicators (self, state, t, candle);
    }
  g_ptr_array_set_size (closed, 0);
}

void
_th_hub_on_source_changed (ThPriceBook *book,
                   const char  *symbol,
                   const char  *from,
                   const char  *to,
                   ThHub       *self)
{
  GString *out;
  const char *reason;

  /* The book's expiry is stopped with the hub; a lookup meanwhile still
   * re-resolves, and says nothing. */
  if (self->stopping || self->relaying)
    return;

  out = _th_hub_envelope_begin ("price_source_changed");

  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, symbol);
  g_string_append (out, ",\"from\":");
  _th_json_append_string (out, from);
  g_string_append (out, ",\"to\":");
  _th_json_append_string (out, to);
  reason = _th_price_book_get_change_reason (book);
  if (reason != NULL)
    {
      g_string_append (out, ",\"reason\":");
      _th_json_append_string (out, reason);
    }
  _th_hub_envelope_end (out);

  if (reason != NULL)
    g_message ("%s: price source %s → %s (%s)", symbol, from != NULL ? from : "(none)",
               to != NULL ? to : "(none)", reason);
  else if (to != NULL)
    g_info ("%s: price source %s → %s", symbol, from != NULL ? from : "(none)", to);
  else
    g_message ("%s: no fresh price from any source (was %s)", symbol, from != NULL ? from : "(none)");

  _th_hub_emit_take (self, "price_source_changed", symbol, NULL, out);

  if (to == NULL)
    {
      g_autofree char *why = th_price_book_explain (book, symbol);
      g_autofree char *msg = g_strdup_printf ("no fresh price for %s: %s", symbol, why);

      out = _th_hub_envelope_begin ("error");
      g_string_append (out, "\"code\":\"no_source\",\"message\":");
      _th_json_append_string (out, msg);
      g_string_append (out, ",\"symbol\":");
      _th_json_append_string (out, symbol);
      _th_hub_envelope_end (out);
      _th_hub_emit_take (self, "error", symbol, NULL, out);
    }
}

/* [prices] divergence: the book flagged the first fresh source of a
 * symbol, or it agrees again. */
void
_th_hub_on_divergence (const ThDivergence *d,
                       gpointer            user_data)
{
  ThHub *self = user_data;
  GString *out;

  if (self->stopping)
    return;

  if (d->diverged)
    {
      self->divergences++;
      g_message ("%s: %s's price %g is %.0f bp from the median %g of %u other fresh source(s)",
                 d->symbol, d->source, d->price, d->bps, d->median, d->n_sources - 1);
    }
  else
    g_info ("%s: %s agrees again (%.0f bp from the median)", d->symbol, d->source, d->bps);

  out = _th_hub_envelope_begin ("price_divergence");
  g_string_append (out, "\"symbol\":");
  _th_json_append_string (out, d->symbol);
  g_string_append (out, ",\"source\":");
  _th_json_append_string (out, d->source);
  g_string_append (out, ",\"quote\":");
  _th_json_append_string (out, d->quote);
  g_string_append (out, ",\"price\":");
  _th_json_append_double (out, d->price);
  g_string_append (out, ",\"median\":");
  _th_json_append_double (out, d->median);
  g_string_append (out, ",\"bps\":");
  _th_json_append_double (out, round (d->bps * 100) / 100);
  g_string_append (out, ",\"sources\":[");
  for (guint i = 0; i < d->n_sources; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      _th_json_append_string (out, d->sources[i]);
    }
  g_string_append_printf (out, "],\"diverged\":%s", d->diverged ? "true" : "false");
  _th_hub_envelope_end (out);
  _th_hub_emit_take (self, "price_divergence", d->symbol, NULL, out);

  g_signal_emit (self, _th_hub_signals[SIGNAL_PRICE_DIVERGENCE], 0, d->symbol, d->source,
                 d->price, d->median, d->bps, d->diverged);
}
