/* th-tick.h: one normalized market-data update
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include "th-types.h"

G_BEGIN_DECLS

#define TH_TYPE_TICK (th_tick_get_type ())

/**
 * TH_TICK_MIN_PRICE:
 *
 * The smallest price th_tick_validate() accepts: far below any traded
 * asset's (the cheapest tokens trade around 1e-9), far above the subnormal
 * numbers that only a broken or hostile peer sends.
 */
#define TH_TICK_MIN_PRICE 1e-12

/**
 * TH_TICK_MAX_PRICE:
 *
 * The price th_tick_validate() refuses from: no asset is quoted at a
 * quadrillion.
 */
#define TH_TICK_MAX_PRICE 1e15

typedef struct _ThTick ThTick;

/**
 * ThTick:
 * @symbol: canonical base asset, such as `BTC`
 * @quote: (nullable): quote currency, such as `USD`; %NULL means the
 *   configured `[tickhub] quote`
 * @source: the source that produced the tick, such as `binance`
 * @kind: a trade or a quote
 * @price: last or traded price; always finite and positive once accepted
 * @size: traded size for a trade, NaN otherwise
 * @bid: best bid, NaN when unknown
 * @ask: best ask, NaN when unknown
 * @volume_24h: 24 h volume in the base asset, NaN when unknown
 * @change_24h: 24 h change in percent, NaN when unknown
 * @exchange_time: the exchange's timestamp, µs since the Unix epoch (UTC)
 * @receive_time: when tickhub received it, µs since the Unix epoch, set by
 *   the hub from its clock when 0
 *
 * A normalized tick. Fields a source does not provide are NaN, and appear as
 * `null` in events. Ticks are reference counted and must not be changed once
 * handed to th_hub_push_tick(). Change @symbol, @quote and @source with
 * th_tick_set_symbol(), th_tick_set_quote() and th_tick_set_source(), never
 * by assigning or freeing the fields: th_tick_new() keeps its strings in the
 * tick's own block.
 */
struct _ThTick
{
  char       *symbol;
  char       *quote;
  char       *source;
  ThTickKind  kind;
  double      price;
  double      size;
  double      bid;
  double      ask;
  double      volume_24h;
  double      change_24h;
  gint64      exchange_time;
  gint64      receive_time;

  /*< private >*/
  gint        ref_count;
  /* Set by the price book on a source's state when [prices] divergence
   * is on: how many fresh sources of the same quote there were (0: not
   * compared) and their spread, in basis points of their median. */
  guint       n_sources;
  /* Which of symbol (1) and source (2) th_tick_new() wrote into the
   * tick's own block, after the struct, and whether quote (4) is a
   * string that lives forever (_th_tick_set_quote_static()): not freed
   * on their own. */
  guint       inline_strings;
  double      spread_bps;
};

TH_EXPORT
GType   th_tick_get_type   (void) G_GNUC_CONST;
TH_EXPORT
ThTick *th_tick_new        (const char *symbol,
                            const char *source,
                            ThTickKind  kind,
                            double      price,
                            gint64      exchange_time);
TH_EXPORT
ThTick *th_tick_ref        (ThTick     *tick);
TH_EXPORT
void    th_tick_unref      (ThTick     *tick);
TH_EXPORT
ThTick *th_tick_copy       (const ThTick *tick);
TH_EXPORT
void    th_tick_set_symbol (ThTick     *tick,
                            const char *symbol);
TH_EXPORT
void    th_tick_set_quote  (ThTick     *tick,
                            const char *quote);
TH_EXPORT
void    th_tick_set_source (ThTick     *tick,
                            const char *source);
TH_EXPORT
gboolean th_tick_validate  (const ThTick *tick,
                            GError      **error);
TH_EXPORT
char   *th_tick_to_json    (const ThTick *tick);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThTick, th_tick_unref)

G_END_DECLS
