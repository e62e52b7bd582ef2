/* th-price-book.h: the latest tick per (symbol, source) and the resolver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include "th-clock.h"
#include "th-tick.h"

G_BEGIN_DECLS

#define TH_TYPE_PRICE_BOOK (th_price_book_get_type ())
TH_EXPORT
G_DECLARE_FINAL_TYPE (ThPriceBook, th_price_book, TH, PRICE_BOOK, GObject)

/**
 * TH_PRICE_BOOK_DEFAULT_TTL:
 *
 * How long, in µs, a price stays fresh for a source without a configured
 * `ttl`: 10 s.
 */
#define TH_PRICE_BOOK_DEFAULT_TTL (10 * G_USEC_PER_SEC)

TH_EXPORT
ThPriceBook *th_price_book_new               (ThClock           *clock);
TH_EXPORT
void         th_price_book_set_order         (ThPriceBook       *self,
                                              const char *const *order);
TH_EXPORT
char       **th_price_book_get_order         (ThPriceBook       *self);
TH_EXPORT
void         th_price_book_set_ttl           (ThPriceBook       *self,
                                              const char        *source,
                                              gint64             ttl);
TH_EXPORT
gint64       th_price_book_get_ttl           (ThPriceBook       *self,
                                              const char        *source);
TH_EXPORT
int          th_price_book_get_rank          (ThPriceBook       *self,
                                              const char        *source);
TH_EXPORT
gboolean     th_price_book_update            (ThPriceBook       *self,
                                              ThTick            *tick);
TH_EXPORT
gboolean     th_price_book_confirm           (ThPriceBook       *self,
                                              const char        *source,
                                              const char        *symbol,
                                              gint64             receive_time);
TH_EXPORT
const char  *th_price_book_get_selected      (ThPriceBook       *self,
                                              const char        *symbol);
TH_EXPORT
ThTick      *th_price_book_lookup            (ThPriceBook       *self,
                                              const char        *symbol,
                                              GError           **error);
TH_EXPORT
ThTick      *th_price_book_get_latest        (ThPriceBook       *self,
                                              const char        *symbol,
                                              const char        *source);
TH_EXPORT
void         th_price_book_set_source_reason (ThPriceBook       *self,
                                              const char        *source,
                                              const char        *reason);
TH_EXPORT
char        *th_price_book_explain           (ThPriceBook       *self,
                                              const char        *symbol);
TH_EXPORT
char       **th_price_book_list_symbols      (ThPriceBook       *self);
TH_EXPORT
void         th_price_book_check             (ThPriceBook       *self);

G_END_DECLS
