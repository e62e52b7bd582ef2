/* th-symbol-map.c
 *
 * Canonical symbols (`BTC`) and what each venue calls them (`BTCUSDT` on
 * Binance, `BTC-USD` on Coinbase, `bitcoin` on CoinCap and CoinGecko). The
 * shipped `symbols.conf` is loaded first, then the `[symbols]` overrides of
 * the config: an override replaces a symbol's code for the venues it names
 * and keeps the others.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-private.h"

struct _ThSymbolMap
{
  GObject     parent_instance;
  GHashTable *forward;   /* symbol → (venue → code) */
  GHashTable *reverse;   /* venue → (code → symbol) */
  /* th_symbol_map_reverse()'s last venue (a key of reverse, which keeps
   * its venues for good) and its table: a feed names its own venue on
   * every message, a string comparison instead of a hash lookup. */
  const char *last_venue;
  GHashTable *last_rev;
  /* Changes with every th_symbol_map_set(): a value no other map nor
   * earlier state of this one had (_th_symbol_map_get_generation()). */
  guint       generation;
};

static guint generations;

static void
next_generation (ThSymbolMap *self)
{
  self->generation = (guint) g_atomic_int_add ((gint *) &generations, 1) + 1;
}

/* A number that changes whenever a code is set (a reverse lookup may then
 * answer otherwise, or a symbol string it gave be freed), and differs
 * between maps: a feed may keep th_symbol_map_reverse()'s answers while
 * it stays the same. */
guint
_th_symbol_map_get_generation (ThSymbolMap *self)
{
  return self->generation;
}

/**
 * ThSymbolMap:
 *
 * Canonical symbols and what each venue calls them.
 *
 * Events, the price book and clients name an asset by its canonical symbol
 * (`BTC`, see th_symbol_is_valid()); each venue has its own code for it
 * (`BTCUSDT` on Binance, `BTC-USD` on Coinbase, `bitcoin` on CoinCap and
 * CoinGecko). Feeds subscribe with th_symbol_map_lookup() and name what
 * they receive with th_symbol_map_reverse().
 *
 * The hub's map (th_hub_get_symbol_map()) is built by th_hub_load(): the
 * shipped `symbols.conf` first, then the `[symbols]` group of the
 * configuration, whose entries replace a symbol's code for the venues they
 * name and keep the others.
 */
G_DEFINE_FINAL_TYPE (ThSymbolMap, th_symbol_map, G_TYPE_OBJECT)

static void
th_symbol_map_finalize (GObject *object)
{
  ThSymbolMap *self = TH_SYMBOL_MAP (object);

  g_clear_pointer (&self->forward, g_hash_table_unref);
  g_clear_pointer (&self->reverse, g_hash_table_unref);
  G_OBJECT_CLASS (th_symbol_map_parent_class)->finalize (object);
}

static void
th_symbol_map_class_init (ThSymbolMapClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = th_symbol_map_finalize;
}

static GHashTable *
string_table (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
th_symbol_map_init (ThSymbolMap *self)
{
  self->forward = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  self->reverse = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_hash_table_unref);
  next_generation (self);
}

/**
 * th_symbol_map_new:
 *
 * Creates a map without any symbol.
 *
 * Returns: (transfer full): an empty map
 */
ThSymbolMap *
th_symbol_map_new (void)
{
  return g_object_new (TH_TYPE_SYMBOL_MAP, NULL);
}

/**
 * th_symbol_is_valid:
 * @symbol: a string
 *
 * Canonical symbols are 1 to 20 upper-case ASCII letters, digits, `.` or
 * `_`, starting with a letter or digit.
 *
 * Returns: whether @symbol is a canonical symbol
 */
gboolean
th_symbol_is_valid (const char *symbol)
{
  gsize n = 0;

  if (symbol == NULL || !(g_ascii_isupper (*symbol) || g_ascii_isdigit (*symbol)))
    return FALSE;
  for (const char *p = symbol; *p; p++, n++)
    if (!(g_ascii_isupper (*p) || g_ascii_isdigit (*p) || *p == '.' || *p == '_'))
      return FALSE;
  return n <= 20;
}

/**
 * th_symbol_map_set:
 * @self: a #ThSymbolMap
 * @symbol: canonical symbol
 * @venue: venue (feed) name, such as `binance`
 * @code: (nullable): the venue's code, or %NULL to remove it
 *
 * Sets the code of @symbol on @venue, replacing the one it had, or removes
 * it. The reverse direction follows: the old code no longer resolves, and
 * @code resolves to @symbol on @venue (if another symbol had the same code
 * there, the last one set wins). @symbol is known to the map afterwards,
 * even when @code is %NULL. @symbol is not checked here; see
 * th_symbol_map_add().
 */
void
th_symbol_map_set (ThSymbolMap *self,
                   const char  *symbol,
                   const char  *venue,
                   const char  *code)
{
  GHashTable *codes;
  GHashTable *rev;
  const char *old;

  g_return_if_fail (TH_IS_SYMBOL_MAP (self));
  g_return_if_fail (symbol != NULL && venue != NULL);

  next_generation (self);
  codes = g_hash_table_lookup (self->forward, symbol);
  if (codes == NULL)
    {
      codes = string_table ();
      g_hash_table_insert (self->forward, g_strdup (symbol), codes);
    }
  rev = g_hash_table_lookup (self->reverse, venue);
  if (rev == NULL)
    {
      rev = string_table ();
      g_hash_table_insert (self->reverse, g_strdup (venue), rev);
    }

  old = g_hash_table_lookup (codes, venue);
  if (old != NULL)
    g_hash_table_remove (rev, old);

  if (code == NULL)
    {
      g_hash_table_remove (codes, venue);
      return;
    }

  g_hash_table_insert (codes, g_strdup (venue), g_strdup (code));
  g_hash_table_insert (rev, g_strdup (code), g_strdup (symbol));
}

/**
 * th_symbol_map_add:
 * @self: a #ThSymbolMap
 * @symbol: canonical symbol
 * @spec: `venue:code;venue:code`, possibly empty
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Adds @symbol with the codes of @spec; codes for venues that @spec does not
 * name are kept.
 *
 * Returns: %TRUE if @spec is well formed
 */
gboolean
th_symbol_map_add (ThSymbolMap *self,
                   const char  *symbol,
                   const char  *spec,
                   GError     **error)
{
  g_auto(GStrv) items = NULL;

  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), FALSE);
  g_return_val_if_fail (symbol != NULL && spec != NULL, FALSE);

  if (!th_symbol_is_valid (symbol))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "“%s” is not a symbol", symbol);
      return FALSE;
    }

  items = g_strsplit (spec, ";", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      char *colon = strchr (item, ':');

      if (*item == '\0')
        continue;
      if (colon == NULL || colon == item || colon[1] == '\0')
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "%s: “%s” is not venue:code", symbol, item);
          return FALSE;
        }
    }

  if (!g_hash_table_contains (self->forward, symbol))
    g_hash_table_insert (self->forward, g_strdup (symbol), string_table ());

  for (guint i = 0; items[i] != NULL; i++)
    {
      char *colon = strchr (items[i], ':');
      g_autofree char *venue = NULL;
      g_autofree char *code = NULL;

      if (colon == NULL)
        continue;
      venue = g_strstrip (g_strndup (items[i], colon - items[i]));
      code = g_strstrip (g_strdup (colon + 1));
      th_symbol_map_set (self, symbol, venue, code);
    }
  return TRUE;
}

/**
 * th_symbol_map_load_file:
 * @self: a #ThSymbolMap
 * @path: (type filename): a keyfile with a `[symbols]` group
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Adds every entry `SYMBOL=venue:code;venue:code` of the `[symbols]` group
 * of @path, as th_symbol_map_add() does; a file without that group adds
 * nothing. A file that cannot be read or parsed, or a malformed entry, is a
 * %TH_ERROR_BAD_CONFIG error naming @path; the entries before a malformed
 * one stay added.
 *
 * Returns: %TRUE on success
 */
gboolean
th_symbol_map_load_file (ThSymbolMap *self,
                         const char  *path,
                         GError     **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_auto(GStrv) keys = NULL;

  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), FALSE);

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "%s: %s", path, local_error->message);
      return FALSE;
    }

  keys = g_key_file_get_keys (kf, "symbols", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *value = g_key_file_get_value (kf, "symbols", keys[i], NULL);

      if (!th_symbol_map_add (self, keys[i], value, &local_error))
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "%s: %s", path, local_error->message);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * th_symbol_map_lookup:
 * @self: a #ThSymbolMap
 * @symbol: canonical symbol
 * @venue: venue name
 *
 * The code @venue uses for @symbol, for subscribing.
 *
 * Returns: (nullable): the venue's code for @symbol, or %NULL if it has
 *   none; owned by the map until that code is set again
 */
const char *
th_symbol_map_lookup (ThSymbolMap *self,
                      const char  *symbol,
                      const char  *venue)
{
  GHashTable *codes;

  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), NULL);

  codes = g_hash_table_lookup (self->forward, symbol);
  return codes != NULL ? g_hash_table_lookup (codes, venue) : NULL;
}

/**
 * th_symbol_map_reverse:
 * @self: a #ThSymbolMap
 * @venue: venue name
 * @code: the venue's code
 *
 * The canonical symbol of a code received from @venue. Codes are compared
 * exactly, case included.
 *
 * Returns: (nullable): the canonical symbol of @code on @venue, or %NULL if
 *   @code is not mapped there; owned by the map until that code is set
 *   again
 */
const char *
th_symbol_map_reverse (ThSymbolMap *self,
                       const char  *venue,
                       const char  *code)
{
  GHashTable *rev;

  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), NULL);

  if (self->last_venue != NULL && venue != NULL && strcmp (self->last_venue, venue) == 0)
    rev = self->last_rev;
  else
    {
      gpointer key;

      if (!g_hash_table_lookup_extended (self->reverse, venue, &key, (gpointer *) &rev))
        return NULL;
      self->last_venue = key;
      self->last_rev = rev;
    }
  return g_hash_table_lookup (rev, code);
}

/**
 * th_symbol_map_contains:
 * @self: a #ThSymbolMap
 * @symbol: canonical symbol
 *
 * Checks whether @symbol was ever added or set, with codes or without.
 *
 * Returns: whether @symbol is known
 */
gboolean
th_symbol_map_contains (ThSymbolMap *self,
                        const char  *symbol)
{
  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), FALSE);
  return g_hash_table_contains (self->forward, symbol);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char **) a, *(const char **) b);
}

/**
 * th_symbol_map_list:
 * @self: a #ThSymbolMap
 *
 * Lists every symbol of the map. For the hub's map that is every symbol of
 * the shipped map and of `[symbols]`, not only the configured ones (see
 * th_hub_get_symbols()).
 *
 * Returns: (transfer full) (array zero-terminated=1): the known symbols,
 *   sorted by strcmp(); free with g_strfreev()
 */
char **
th_symbol_map_list (ThSymbolMap *self)
{
  GPtrArray *out = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (TH_IS_SYMBOL_MAP (self), NULL);

  g_hash_table_iter_init (&iter, self->forward);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (out, g_strdup (key));
  g_ptr_array_sort (out, compare_strings);
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

/**
 * th_symbol_code_get_quote:
 * @code: a venue's pair code, such as `BTCUSDT`, `btcusdt`, `BTC-USD` or
 *   `XBT/EUR`
 *
 * The quote currency a pair code names: what follows a `-`, `/` or `_`
 * when that is 3 to 5 letters after a base of two characters or more, else the longest well-known quote currency the code ends with (FDUSD,
 * USDT, USDC, BUSD, TUSD, DAI, USD, EUR, GBP, TRY, BRL, JPY, AUD, BTC, ETH,
 * BNB) after a base of two characters or more. Feeds use it so that a
 * price in USDT is never compared with a price in USD (`[prices]
 * divergence`).
 *
 * Returns: (transfer full) (nullable): the quote in upper case, or %NULL
 *   when @code names none (an asset id such as `bitcoin`)
 */
char *
th_symbol_code_get_quote (const char *code)
{
  static const char *const known[] = {
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "USD", "EUR", "GBP", "TRY",
    "BRL", "JPY", "AUD", "BTC", "ETH", "BNB", NULL
  };
  g_autofree char *up = NULL;
  const char *sep;
  gsize len;

  g_return_val_if_fail (code != NULL, NULL);

  up = g_ascii_strup (code, -1);
  sep = strpbrk (up, "-/_");
  if (sep != NULL)
    {
      const char *q = sep + 1;
      gsize n = strlen (q);
      gboolean letters = n >= 3 && n <= 5;

      for (gsize k = 0; letters && k < n; k++)
        letters = g_ascii_isupper (q[k]);
      /* A base before it, and a currency after it (not avalanche-2). */
      return sep - up >= 2 && letters ? g_strdup (q) : NULL;
    }

  len = strlen (up);
  for (guint i = 0; known[i] != NULL; i++)
    {
      gsize k = strlen (known[i]);

      if (len >= k + 2 && strcmp (up + len - k, known[i]) == 0)
        return g_strdup (known[i]);
    }
  return NULL;
}
