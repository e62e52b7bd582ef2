/* test-symbol-map.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

static ThSymbolMap *
shipped_map (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (g_getenv ("TICKHUB_DATADIR"), "symbols.conf", NULL);
  ThSymbolMap *map = th_symbol_map_new ();

  th_symbol_map_load_file (map, path, &error);
  g_assert_no_error (error);
  return map;
}

static void
test_shipped (void)
{
  g_autoptr(ThSymbolMap) map = shipped_map ();
  const char *venues[] = { "binance", "coinbase", "coincap", "coingecko" };
  const char *majors[] = { "BTC", "ETH", "SOL", "ADA", "XRP" };

  g_assert_cmpstr (th_symbol_map_lookup (map, "BTC", "binance"), ==, "BTCUSDT");
  g_assert_cmpstr (th_symbol_map_lookup (map, "ETH", "coinbase"), ==, "ETH-USD");
  g_assert_cmpstr (th_symbol_map_lookup (map, "SOL", "coincap"), ==, "solana");
  g_assert_cmpstr (th_symbol_map_lookup (map, "XRP", "coingecko"), ==, "ripple");
  g_assert_cmpstr (th_symbol_map_reverse (map, "binance", "ETHUSDT"), ==, "ETH");
  g_assert_cmpstr (th_symbol_map_reverse (map, "coincap", "bitcoin"), ==, "BTC");
  g_assert_null (th_symbol_map_reverse (map, "binance", "NOPE"));
  g_assert_null (th_symbol_map_lookup (map, "AAPL", "binance"));
  g_assert_true (th_symbol_map_contains (map, "AAPL"));

  /* Every major is on every venue. */
  for (guint i = 0; i < G_N_ELEMENTS (majors); i++)
    for (guint j = 0; j < G_N_ELEMENTS (venues); j++)
      g_assert_nonnull (th_symbol_map_lookup (map, majors[i], venues[j]));
}

static void
test_override_keeps_other_venues (void)
{
  g_autoptr(ThSymbolMap) map = shipped_map ();
  g_autoptr(GError) error = NULL;

  th_symbol_map_add (map, "BTC", "binance:BTCFDUSD", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (th_symbol_map_lookup (map, "BTC", "binance"), ==, "BTCFDUSD");
  g_assert_cmpstr (th_symbol_map_lookup (map, "BTC", "coinbase"), ==, "BTC-USD");
  /* The old code no longer maps back. */
  g_assert_null (th_symbol_map_reverse (map, "binance", "BTCUSDT"));
  g_assert_cmpstr (th_symbol_map_reverse (map, "binance", "BTCFDUSD"), ==, "BTC");
}

static void
test_new_symbol_and_errors (void)
{
  g_autoptr(ThSymbolMap) map = th_symbol_map_new ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) list = NULL;

  g_assert_true (th_symbol_map_add (map, "PEPE", "binance:PEPEUSDT ; coingecko:pepe", &error));
  g_assert_cmpstr (th_symbol_map_lookup (map, "PEPE", "coingecko"), ==, "pepe");
  g_assert_false (th_symbol_map_add (map, "PEPE", "binance", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_clear_error (&error);
  g_assert_false (th_symbol_map_add (map, "pepe", "binance:X", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);

  list = th_symbol_map_list (map);
  g_assert_cmpuint (g_strv_length (list), ==, 1);

  g_assert_true (th_symbol_is_valid ("BTC"));
  g_assert_true (th_symbol_is_valid ("1INCH"));
  g_assert_true (th_symbol_is_valid ("BRK.B"));
  g_assert_false (th_symbol_is_valid ("btc"));
  g_assert_false (th_symbol_is_valid (""));
  g_assert_false (th_symbol_is_valid ("B TC"));
  g_assert_false (th_symbol_is_valid ("ABCDEFGHIJKLMNOPQRSTU"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/symbol-map/shipped", test_shipped);
  g_test_add_func ("/symbol-map/override-keeps-other-venues", test_override_keeps_other_venues);
  g_test_add_func ("/symbol-map/new-symbol-and-errors", test_new_symbol_and_errors);

  return g_test_run ();
}
