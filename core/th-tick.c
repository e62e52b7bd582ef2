/* th-tick.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"

G_DEFINE_BOXED_TYPE (ThTick, th_tick, th_tick_ref, th_tick_unref)

enum
{
  TICK_INLINE_SYMBOL = 1 << 0,
  TICK_INLINE_SOURCE = 1 << 1,
  TICK_STATIC_QUOTE  = 1 << 2,
};

/**
 * th_tick_new:
 * @symbol: canonical base asset, such as `BTC`
 * @source: the producing source, such as `binance`
 * @kind: trade or quote
 * @price: the price
 * @exchange_time: the exchange's timestamp in µs since the Unix epoch
 *
 * Creates a tick; every optional number starts as NaN (unknown).
 *
 * Returns: (transfer full): a new #ThTick
 */
ThTick *
th_tick_new (const char *symbol,
             const char *source,
             ThTickKind  kind,
             double      price,
             gint64      exchange_time)
{
  /* One allocation: the struct, then the symbol and source it points at
   * (three allocations and three frees a tick before). */
  gsize symbol_size = symbol != NULL ? strlen (symbol) + 1 : 0;
  gsize source_size = source != NULL ? strlen (source) + 1 : 0;
  ThTick *tick = g_malloc (sizeof (ThTick) + symbol_size + source_size);
  char *strings = (char *) (tick + 1);

  /* Every field set here (the others zero) rather than by g_malloc0():
   * calloc() of the block cost 400 instructions a tick, malloc() 50. */
  *tick = (ThTick) { .ref_count = 1 };
  if (symbol != NULL)
    {
      tick->symbol = memcpy (strings, symbol, symbol_size);
      tick->inline_strings |= TICK_INLINE_SYMBOL;
    }
  if (source != NULL)
    {
      tick->source = memcpy (strings + symbol_size, source, source_size);
      tick->inline_strings |= TICK_INLINE_SOURCE;
    }
  tick->kind = kind;
  tick->price = price;
  tick->size = NAN;
  tick->bid = NAN;
  tick->ask = NAN;
  tick->volume_24h = NAN;
  tick->change_24h = NAN;
  tick->exchange_time = exchange_time;
  return tick;
}

/**
 * th_tick_ref:
 * @tick: a #ThTick
 *
 * Adds a reference to @tick. The count is atomic.
 *
 * Returns: (transfer full): @tick
 */
ThTick *
th_tick_ref (ThTick *tick)
{
  g_return_val_if_fail (tick != NULL, NULL);
  g_atomic_int_inc (&tick->ref_count);
  return tick;
}

/**
 * th_tick_unref:
 * @tick: (transfer full): a #ThTick
 *
 * Drops a reference; frees the tick with the last one.
 */
void
th_tick_unref (ThTick *tick)
{
  g_return_if_fail (tick != NULL);

  if (!g_atomic_int_dec_and_test (&tick->ref_count))
    return;

  if (!(tick->inline_strings & TICK_INLINE_SYMBOL))
    g_free (tick->symbol);
  if (!(tick->inline_strings & TICK_STATIC_QUOTE))
    g_free (tick->quote);
  if (!(tick->inline_strings & TICK_INLINE_SOURCE))
    g_free (tick->source);
  g_free (tick);
}

/**
 * th_tick_copy:
 * @tick: a #ThTick
 *
 * Copies every field of @tick, strings included, into a new tick with a
 * reference count of its own, which can be changed while @tick is shared.
 *
 * Returns: (transfer full): a new tick with the same values
 */
ThTick *
th_tick_copy (const ThTick *tick)
{
  ThTick *copy;

  g_return_val_if_fail (tick != NULL, NULL);

  copy = g_memdup2 (tick, sizeof *tick);
  copy->ref_count = 1;
  copy->inline_strings = 0;
  copy->symbol = g_strdup (tick->symbol);
  copy->quote = g_strdup (tick->quote);
  copy->source = g_strdup (tick->source);
  return copy;
}

/**
 * th_tick_set_symbol:
 * @tick: a #ThTick
 * @symbol: the canonical symbol
 *
 * Replaces the symbol of @tick with a copy of @symbol. Like the other
 * setters, for a tick no one else holds yet: a tick handed to
 * th_hub_push_tick() must not change.
 */
void
th_tick_set_symbol (ThTick     *tick,
                    const char *symbol)
{
  g_return_if_fail (tick != NULL);
  if (!(tick->inline_strings & TICK_INLINE_SYMBOL))
    g_free (tick->symbol);
  tick->inline_strings &= ~TICK_INLINE_SYMBOL;
  tick->symbol = g_strdup (symbol);
}

/**
 * th_tick_set_quote:
 * @tick: a #ThTick
 * @quote: (nullable): the quote currency
 *
 * Replaces the quote currency of @tick with a copy of @quote. %NULL means
 * the configured `[tickhub] quote`, which th_hub_push_tick() fills in.
 */
void
th_tick_set_quote (ThTick     *tick,
                   const char *quote)
{
  g_return_if_fail (tick != NULL);
  if (!(tick->inline_strings & TICK_STATIC_QUOTE))
    g_free (tick->quote);
  tick->inline_strings &= ~TICK_STATIC_QUOTE;
  tick->quote = g_strdup (quote);
}

/* th_tick_set_quote() with a string that lives as long as the program
 * (interned, or a literal): the tick points at it instead of a copy. */
void
_th_tick_set_quote_static (ThTick     *tick,
                           const char *quote)
{
  g_return_if_fail (tick != NULL);
  if (!(tick->inline_strings & TICK_STATIC_QUOTE))
    g_free (tick->quote);
  tick->inline_strings |= TICK_STATIC_QUOTE;
  tick->quote = (char *) quote;
}

/**
 * th_tick_set_source:
 * @tick: a #ThTick
 * @source: the source name
 *
 * Replaces the source of @tick with a copy of @source.
 * th_ws_feed_push_tick() sets it to the feed's name when it is unset.
 */
void
th_tick_set_source (ThTick     *tick,
                    const char *source)
{
  g_return_if_fail (tick != NULL);
  if (!(tick->inline_strings & TICK_INLINE_SOURCE))
    g_free (tick->source);
  tick->inline_strings &= ~TICK_INLINE_SOURCE;
  tick->source = g_strdup (source);
}

/* 10000-01-01T00:00:00Z in µs: no venue's clock is past it, and times
 * below it leave room for differences (a tick's delay, the exchange's
 * clock estimated from it) in 64 bits. */
#define TIME_END G_GINT64_CONSTANT (253402300800000000)

static gboolean
optional_ok (double value)
{
  return isnan (value) || (isfinite (value) && value >= 0);
}

/**
 * th_tick_validate:
 * @tick: a #ThTick
 * @error: return location for a %TH_ERROR_BAD_INPUT error
 *
 * Checks what the hub requires of every tick: a symbol and a source, a
 * price from %TH_TICK_MIN_PRICE up to (not including) %TH_TICK_MAX_PRICE
 * (no subnormal or absurd number), a timestamp (and a receive time, when
 * set) after 1970 and before the year 10000, and optional fields that
 * are unknown (NaN) or finite and not negative (the 24 h change may be
 * negative).
 *
 * Returns: %TRUE if the tick is acceptable
 */
gboolean
th_tick_validate (const ThTick *tick,
                  GError      **error)
{
  g_return_val_if_fail (tick != NULL, FALSE);

  if (tick->symbol == NULL || *tick->symbol == '\0')
    return g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "tick without a symbol"), FALSE;
  if (tick->source == NULL || *tick->source == '\0')
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "%s tick without a source", tick->symbol), FALSE;
  if (!isfinite (tick->price) || tick->price <= 0)
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s tick from %s: price %g is not a finite positive number",
                        tick->symbol, tick->source, tick->price), FALSE;
  if (tick->price < TH_TICK_MIN_PRICE || tick->price >= TH_TICK_MAX_PRICE)
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s tick from %s: price %g is outside the valid range (%g to %g)",
                        tick->symbol, tick->source, tick->price, TH_TICK_MIN_PRICE, TH_TICK_MAX_PRICE), FALSE;
  if (tick->exchange_time <= 0)
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s tick from %s has no timestamp", tick->symbol, tick->source), FALSE;
  if (tick->exchange_time >= TIME_END || tick->receive_time < 0 || tick->receive_time >= TIME_END)
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s tick from %s has a time past the year 9999", tick->symbol, tick->source), FALSE;
  if (!optional_ok (tick->bid) || !optional_ok (tick->ask) ||
      !optional_ok (tick->volume_24h) || !optional_ok (tick->size) ||
      !(isnan (tick->change_24h) || isfinite (tick->change_24h)))
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s tick from %s has a negative or infinite field",
                        tick->symbol, tick->source), FALSE;
  if (tick->kind == TH_TICK_KIND_TRADE && !(isfinite (tick->size) && tick->size >= 0))
    return g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                        "%s trade from %s has no size", tick->symbol, tick->source), FALSE;

  return TRUE;
}

/**
 * th_tick_to_json:
 * @tick: a #ThTick
 *
 * Serializes @tick in the replay format, one line without a newline:
 * `{"symbol":"BTC","price":42000.5,"size":0.1,...,"timestamp":"..","source":"binance"}`.
 * Unknown fields are left out.
 *
 * Returns: (transfer full): the JSON text
 */
char *
th_tick_to_json (const ThTick *tick)
{
  GString *out = g_string_sized_new (192);

  g_return_val_if_fail (tick != NULL, NULL);

  g_string_append (out, "{\"symbol\":");
  _th_json_append_string (out, tick->symbol);
  g_string_append (out, ",\"price\":");
  _th_json_append_double (out, tick->price);
#define OPTIONAL(name, field) \
  if (!isnan (tick->field)) \
    { \
      g_string_append (out, ",\"" name "\":"); \
      _th_json_append_double (out, tick->field); \
    }
  if (tick->kind == TH_TICK_KIND_TRADE)
    OPTIONAL ("size", size);
  OPTIONAL ("bid", bid);
  OPTIONAL ("ask", ask);
  OPTIONAL ("volume", volume_24h);
  OPTIONAL ("change", change_24h);
#undef OPTIONAL
  g_string_append (out, ",\"timestamp\":");
  _th_json_append_time (out, tick->exchange_time);
  g_string_append (out, ",\"source\":");
  _th_json_append_string (out, tick->source);
  if (tick->quote != NULL)
    {
      g_string_append (out, ",\"quote\":");
      _th_json_append_string (out, tick->quote);
    }
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}
