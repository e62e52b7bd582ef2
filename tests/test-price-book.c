/* test-price-book.c: the price hierarchy, driven by a manual clock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

#define T0 G_GINT64_CONSTANT (1700000000000000)
#define SEC G_USEC_PER_SEC

typedef struct
{
  ThClock     *clock;
  ThPriceBook *book;
  GPtrArray   *changes;   /* "SYMBOL:from>to" */
} Fixture;

static void
on_changed (ThPriceBook *book,
            const char  *symbol,
            const char  *from,
            const char  *to,
            Fixture     *fx)
{
  g_ptr_array_add (fx->changes, g_strdup_printf ("%s:%s>%s", symbol,
                                                 from != NULL ? from : "-",
                                                 to != NULL ? to : "-"));
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  static const char *const order[] = { "binance", "coincap", "coinbase", "coingecko", NULL };

  fx->clock = th_manual_clock_new (T0);
  fx->book = th_price_book_new (fx->clock);
  fx->changes = g_ptr_array_new_with_free_func (g_free);
  th_price_book_set_order (fx->book, order);
  th_price_book_set_ttl (fx->book, "binance", 10 * SEC);
  th_price_book_set_ttl (fx->book, "coincap", 5 * SEC);
  th_price_book_set_ttl (fx->book, "coinbase", 10 * SEC);
  th_price_book_set_ttl (fx->book, "coingecko", 60 * SEC);
  g_signal_connect (fx->book, "source-changed", G_CALLBACK (on_changed), fx);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_clear_object (&fx->book);
  g_clear_object (&fx->clock);
  g_clear_pointer (&fx->changes, g_ptr_array_unref);
}

static void
advance (Fixture *fx,
         gint64   delta)
{
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), delta);
}

static gboolean
push (Fixture    *fx,
      const char *symbol,
      const char *source,
      double      price)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, source, TH_TICK_KIND_QUOTE, price,
                                        th_clock_get_time (fx->clock));

  return th_price_book_update (fx->book, tick);
}

static void
assert_changes (Fixture    *fx,
                const char *expected)
{
  g_autofree char *got = NULL;

  g_ptr_array_add (fx->changes, NULL);
  got = g_strjoinv (" ", (char **) fx->changes->pdata);
  g_ptr_array_remove_index (fx->changes, fx->changes->len - 1);
  g_assert_cmpstr (got, ==, expected);
}

static void
assert_price (Fixture    *fx,
              const char *symbol,
              const char *source,
              double      price)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = th_price_book_lookup (fx->book, symbol, &error);

  g_assert_no_error (error);
  g_assert_nonnull (tick);
  g_assert_cmpstr (tick->source, ==, source);
  g_assert_cmpfloat (tick->price, ==, price);
}

static void
test_highest_priority_wins (Fixture       *fx,
                            gconstpointer  data)
{
  g_assert_true (push (fx, "BTC", "coinbase", 100));
  g_assert_true (push (fx, "BTC", "binance", 101));
  /* A lower-priority tick updates the book but is not selected. */
  g_assert_false (push (fx, "BTC", "coinbase", 102));
  assert_price (fx, "BTC", "binance", 101);
  assert_changes (fx, "BTC:->coinbase BTC:coinbase>binance");
}

static void
test_stale_source_falls_back (Fixture       *fx,
                              gconstpointer  data)
{
  push (fx, "BTC", "binance", 100);
  advance (fx, 2 * SEC);
  push (fx, "BTC", "coinbase", 99);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "binance");

  /* binance expires at T0 + 10 s exactly: the deadline notices, no tick. */
  advance (fx, 8 * SEC - 1);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "binance");
  advance (fx, 1);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "coinbase");
  assert_price (fx, "BTC", "coinbase", 99);
  assert_changes (fx, "BTC:->binance BTC:binance>coinbase");
}

static void
test_recovered_source_takes_over (Fixture       *fx,
                                  gconstpointer  data)
{
  push (fx, "BTC", "binance", 100);
  advance (fx, 5 * SEC);
  push (fx, "BTC", "coinbase", 99);
  advance (fx, 6 * SEC);
  push (fx, "BTC", "coinbase", 98);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "coinbase");
  g_assert_true (push (fx, "BTC", "binance", 101));
  assert_price (fx, "BTC", "binance", 101);
  assert_changes (fx, "BTC:->binance BTC:binance>coinbase BTC:coinbase>binance");
}

/* A confirmation (a venue heartbeat naming the last trade) moves the
 * freshness, not the price. */
static void
test_confirm_keeps_fresh (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(ThTick) held = NULL;
  g_autoptr(GError) error = NULL;
  ThTick *latest;

  /* Nothing to confirm before a first price. */
  g_assert_false (th_price_book_confirm (fx->book, "coinbase", "BTC", 0));
  g_assert_null (th_price_book_get_latest (fx->book, "BTC", "coinbase"));

  push (fx, "BTC", "coinbase", 99);
  push (fx, "BTC", "coingecko", 98);
  held = th_price_book_lookup (fx->book, "BTC", &error);   /* forces copy on write */
  g_assert_no_error (error);
  for (int i = 0; i < 30; i++)
    {
      advance (fx, 9 * SEC);   /* under coinbase's 10 s each time */
      g_assert_true (th_price_book_confirm (fx->book, "coinbase", "BTC", 0));
    }
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "coinbase");
  latest = th_price_book_get_latest (fx->book, "BTC", "coinbase");
  g_assert_cmpfloat (latest->price, ==, 99);
  g_assert_cmpint (latest->exchange_time, ==, T0);              /* the trade's time stays */
  g_assert_cmpint (latest->receive_time, ==, T0 + 270 * SEC);
  g_assert_cmpint (held->receive_time, ==, T0);                  /* the holder's copy did not move */

  /* Without confirmations it expires like any price... */
  advance (fx, 10 * SEC);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, NULL);
  /* ...and a late confirmation brings it back (the venue vouches for it). */
  g_assert_true (th_price_book_confirm (fx->book, "coinbase", "BTC", 0));
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "coinbase");
  /* A confirmation from the past changes nothing. */
  g_assert_true (th_price_book_confirm (fx->book, "coinbase", "BTC", T0));
  g_assert_cmpint (th_price_book_get_latest (fx->book, "BTC", "coinbase")->receive_time, ==, T0 + 280 * SEC);
  assert_changes (fx, "BTC:->coinbase BTC:coinbase>- BTC:->coinbase");
}

static void
test_every_ttl_is_its_own (Fixture       *fx,
                           gconstpointer  data)
{
  push (fx, "ETH", "coincap", 10);
  push (fx, "ETH", "coingecko", 11);
  advance (fx, 5 * SEC);  /* coincap: 5 s */
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "ETH"), ==, "coingecko");
  advance (fx, 55 * SEC); /* coingecko: 60 s */
  g_assert_null (th_price_book_get_selected (fx->book, "ETH"));
  assert_changes (fx, "ETH:->coincap ETH:coincap>coingecko ETH:coingecko>-");
}

static void
test_no_source_is_an_error (Fixture       *fx,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = NULL;

  push (fx, "BTC", "binance", 100);
  th_price_book_set_source_reason (fx->book, "coinbase", "connection refused");
  advance (fx, 12 * SEC);

  tick = th_price_book_lookup (fx->book, "BTC", &error);
  g_assert_null (tick);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_assert_nonnull (strstr (error->message, "no fresh price for BTC"));
  g_assert_nonnull (strstr (error->message, "binance: last price 12.0 s old (ttl 10 s)"));
  g_assert_nonnull (strstr (error->message, "coinbase: no price yet, connection refused"));
  g_assert_nonnull (strstr (error->message, "coingecko: no price yet"));
  g_clear_error (&error);

  /* A symbol never seen is no_source too, not unknown: the book does not
   * know the configuration. */
  g_assert_null (th_price_book_lookup (fx->book, "DOGE", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
}

static void
test_unknown_source_ranks_last (Fixture       *fx,
                                gconstpointer  data)
{
  push (fx, "BTC", "simulator", 1);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "simulator");
  push (fx, "BTC", "coingecko", 2);
  g_assert_cmpstr (th_price_book_get_selected (fx->book, "BTC"), ==, "coingecko");
  g_assert_cmpint (th_price_book_get_ttl (fx->book, "simulator"), ==, TH_PRICE_BOOK_DEFAULT_TTL);
  g_assert_cmpint (th_price_book_get_rank (fx->book, "binance"), ==, 0);
  g_assert_cmpint (th_price_book_get_rank (fx->book, "coingecko"), ==, 3);
  g_assert_cmpint (th_price_book_get_rank (fx->book, "simulator"), ==, 4);
  g_assert_cmpint (th_price_book_get_rank (fx->book, "nobody"), ==, -1);
}

static void
test_trade_keeps_quote_fields (Fixture       *fx,
                               gconstpointer  data)
{
  g_autoptr(ThTick) quote = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 100, T0);
  g_autoptr(ThTick) trade = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, 100.5, T0 + 1000);
  g_autoptr(ThTick) held = NULL;
  g_autoptr(ThTick) now = NULL;

  quote->bid = 99.9;
  quote->ask = 100.1;
  quote->volume_24h = 1234;
  quote->change_24h = -1.5;
  trade->size = 0.25;
  th_price_book_update (fx->book, quote);
  held = th_price_book_lookup (fx->book, "BTC", NULL);
  th_price_book_update (fx->book, trade);

  now = th_price_book_lookup (fx->book, "BTC", NULL);
  g_assert_cmpfloat (now->price, ==, 100.5);
  g_assert_cmpfloat (now->bid, ==, 99.9);
  g_assert_cmpfloat (now->ask, ==, 100.1);
  g_assert_cmpfloat (now->volume_24h, ==, 1234);
  g_assert_cmpfloat (now->change_24h, ==, -1.5);
  g_assert_cmpint (now->exchange_time, ==, T0 + 1000);
  /* What a caller holds does not change under it. */
  g_assert_cmpfloat (held->price, ==, 100);
}

static void
test_many_symbols_one_deadline (Fixture       *fx,
                                gconstpointer  data)
{
  for (int i = 0; i < 100; i++)
    {
      g_autofree char *sym = g_strdup_printf ("S%d", i);

      push (fx, sym, "binance", 1 + i);
      advance (fx, 10 * 1000);
    }
  g_ptr_array_set_size (fx->changes, 0);
  /* The first expires at T0 + 10 s, the last 990 ms later. */
  advance (fx, 10 * SEC - 100 * 10 * 1000);
  g_assert_cmpuint (fx->changes->len, ==, 1);
  advance (fx, SEC);
  g_assert_cmpuint (fx->changes->len, ==, 100);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/price-book/highest-priority-wins", test_highest_priority_wins);
  ADD ("/price-book/stale-source-falls-back", test_stale_source_falls_back);
  ADD ("/price-book/confirm-keeps-fresh", test_confirm_keeps_fresh);
  ADD ("/price-book/recovered-source-takes-over", test_recovered_source_takes_over);
  ADD ("/price-book/every-ttl-is-its-own", test_every_ttl_is_its_own);
  ADD ("/price-book/no-source-is-an-error", test_no_source_is_an_error);
  ADD ("/price-book/unknown-source-ranks-last", test_unknown_source_ranks_last);
  ADD ("/price-book/trade-keeps-quote-fields", test_trade_keeps_quote_fields);
  ADD ("/price-book/many-symbols-one-deadline", test_many_symbols_one_deadline);
#undef ADD

  return g_test_run ();
}
