/* th-price-book.h: the latest tick per (symbol, source) and the resolver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-clock.h"
#include "th-tick.h"

G_BEGIN_DECLS

#define TH_TYPE_PRICE_BOOK (th_price_book_get_type ())
G_DECLARE_FINAL_TYPE (ThPriceBook, th_price_book, TH, PRICE_BOOK, GObject)

/**
 * TH_PRICE_BOOK_DEFAULT_TTL:
 *
 * How long, in µs, a price stays fresh for a source without a configured
 * `ttl`: 10 s.
 */
#define TH_PRICE_BOOK_DEFAULT_TTL (10 * G_USEC_PER_SEC)

ThPriceBook *th_price_book_new               (ThClock           *clock);
void         th_price_book_set_order         (ThPriceBook       *self,
                                              const char *const *order);
char       **th_price_book_get_order         (ThPriceBook       *self);
void         th_price_book_set_ttl           (ThPriceBook       *self,
                                              const char        *source,
                                              gint64             ttl);
gint64       th_price_book_get_ttl           (ThPriceBook       *self,
                                              const char        *source);
int          th_price_book_get_rank          (ThPriceBook       *self,
                                              const char        *source);
gboolean     th_price_book_update            (ThPriceBook       *self,
                                              ThTick            *tick);
gboolean     th_price_book_confirm           (ThPriceBook       *self,
                                              const char        *source,
                                              const char        *symbol,
                                              gint64             receive_time);
const char  *th_price_book_get_selected      (ThPriceBook       *self,
                                              const char        *symbol);
ThTick      *th_price_book_lookup            (ThPriceBook       *self,
                                              const char        *symbol,
                                              GError           **error);
ThTick      *th_price_book_get_latest        (ThPriceBook       *self,
                                              const char        *symbol,
                                              const char        *source);
void         th_price_book_set_source_reason (ThPriceBook       *self,
                                              const char        *source,
                                              const char        *reason);
char        *th_price_book_explain           (ThPriceBook       *self,
                                              const char        *symbol);
char       **th_price_book_list_symbols      (ThPriceBook       *self);
void         th_price_book_check             (ThPriceBook       *self);

G_END_DECLS
