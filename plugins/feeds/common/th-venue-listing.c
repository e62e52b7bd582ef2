/* th-venue-listing.c: a venue's own listing, fetched at start and cached,
 * completing the symbol map
 *
 * Why: following hundreds of symbols should not take hundreds of lines of
 * `[symbols]`. Each venue publishes what it trades (Binance
 * `GET /api/v3/exchangeInfo`, Coinbase `GET /products`, CoinCap
 * `GET /v3/assets`); a symbol with no code for the venue in the map (the
 * shipped symbols.conf, then `[symbols]`) takes the code the listing gives
 * its canonical name: Binance's `baseAsset` against the quote asset
 * (`listing-quote`, USDT by default), Coinbase's `base_currency` against
 * `[tickhub] quote`, CoinCap's `symbol` (the first, best-ranked asset of
 * that symbol). `[symbols]` entries always win: the listing only fills
 * holes.
 *
 * The answer is boiled down to that table and cached in
 * `$XDG_CACHE_HOME/tickhub/VENUE-listing.json` (a few kB where Binance's
 * exchangeInfo is megabytes); a cache younger than `listing-max-age` is
 * used without asking the venue. The cache is read at configure time and
 * written when a fetch succeeds: small, once, off the hot path.
 *
 * A symbol the venue does not list is reported once (one log line naming
 * every such symbol) and not asked for again until the next fetch; a failed
 * fetch is logged once, falls back on an old cache if there is one, and is
 * tried again after 60 s, doubling up to an hour. Requests go through
 * th-venue-rest.c (one at a time, 429's Retry-After honoured).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <string.h>

#include "th-venue-listing.h"
#include "th-venue-rest.h"

#define RETRY_FIRST   60      /* s */
#define RETRY_MAX     3600    /* s */
#define MAX_WAIT      (120 * G_USEC_PER_SEC)

struct _ThVenueListing
{
  char          *venue;
  ThHub         *hub;          /* borrowed: the feed holds the hub */
  char          *url;
  char          *quote;
  double         max_age;
  ThVenueListingParse parse;
  ThVenueListingReady ready;
  gpointer       ready_data;
  ThVenueRest   *rest;         /* made at the first fetch */
  char          *header_name;  /* sent with the request (an API key) */
  char          *header_value; /* never logged */
  GCancellable  *cancellable;
  GHashTable    *codes;        /* symbol → code; NULL until known */
  GHashTable    *reported;     /* symbols reported as not listed */
  gboolean       fetching;
  guint          retry_id;
  guint          retry_delay;
  gboolean       failure_logged;
  guint64        fetches;
};

typedef struct
{
  ThVenueListing *listing;
  ThVenueRest    *rest;
  GCancellable   *cancellable;
} Fetch;

ThVenueListing *
th_venue_listing_new (const char          *venue,
                      ThHub               *hub,
                      const char          *url,
                      const char          *quote,
                      double               max_age,
                      ThVenueListingParse  parse)
{
  ThVenueListing *listing = g_new0 (ThVenueListing, 1);

  listing->venue = g_strdup (venue);
  listing->hub = hub;
  listing->url = g_strdup (url);
  listing->quote = g_strdup (quote != NULL ? quote : "");
  listing->max_age = max_age;
  listing->parse = parse;
  listing->cancellable = g_cancellable_new ();
  listing->reported = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  listing->retry_delay = RETRY_FIRST;
  return listing;
}

void
th_venue_listing_free (ThVenueListing *listing)
{
  if (listing == NULL)
    return;
  g_cancellable_cancel (listing->cancellable);
  if (listing->rest != NULL)
    th_venue_rest_shutdown (listing->rest);
  g_clear_pointer (&listing->rest, th_venue_rest_unref);
  g_clear_handle_id (&listing->retry_id, g_source_remove);
  g_clear_object (&listing->cancellable);
  g_clear_pointer (&listing->codes, g_hash_table_unref);
  g_clear_pointer (&listing->reported, g_hash_table_unref);
  g_free (listing->header_name);
  g_free (listing->header_value);
  g_free (listing->venue);
  g_free (listing->url);
  g_free (listing->quote);
  g_free (listing);
}

void
th_venue_listing_set_ready_func (ThVenueListing      *listing,
                                 ThVenueListingReady  ready,
                                 gpointer             user_data)
{
  listing->ready = ready;
  listing->ready_data = user_data;
}

void
th_venue_listing_set_header (ThVenueListing *listing,
                             const char     *name,
                             const char     *value)
{
  g_free (listing->header_name);
  g_free (listing->header_value);
  listing->header_name = g_strdup (name);
  listing->header_value = g_strdup (value);
}

char *
th_venue_listing_cache_path (ThVenueListing *listing)
{
  g_autofree char *name = g_strdup_printf ("%s-listing.json", listing->venue);

  return g_build_filename (g_get_user_cache_dir (), "tickhub", name, NULL);
}

gboolean
th_venue_listing_has_codes (ThVenueListing *listing)
{
  return listing->codes != NULL;
}

gboolean
th_venue_listing_is_fetching (ThVenueListing *listing)
{
  return listing->fetching;
}

guint64
th_venue_listing_get_fetches (ThVenueListing *listing)
{
  return listing->fetches;
}

guint
th_venue_listing_get_n_unlisted (ThVenueListing *listing)
{
  return g_hash_table_size (listing->reported);
}

static GHashTable *
new_codes (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* Reads the cache: {"venue","quote","fetched": epoch s,"codes":{SYMBOL: code}}.
 * Only a cache of the same quote, younger than max_age unless @any_age. */
gboolean
th_venue_listing_load_cache (ThVenueListing *listing,
                             gboolean        any_age)
{
  g_autofree char *path = th_venue_listing_cache_path (listing);
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) codes = NULL;
  JsonObject *root, *map;
  JsonObjectIter iter;
  const char *symbol;
  JsonNode *value;
  gint64 fetched;

  if (!g_file_get_contents (path, &text, &length, NULL))
    return FALSE;
  if (!json_parser_load_from_data (parser, text, (gssize) length, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_message ("%s: ignoring the listing cache %s: not what tickhub writes", listing->venue, path);
      return FALSE;
    }
  root = json_node_get_object (json_parser_get_root (parser));
  if (g_strcmp0 (json_object_get_string_member_with_default (root, "quote", ""), listing->quote) != 0 ||
      !json_object_has_member (root, "codes") ||
      !JSON_NODE_HOLDS_OBJECT (json_object_get_member (root, "codes")))
    return FALSE;
  fetched = json_object_get_int_member_with_default (root, "fetched", 0);
  if (!any_age && (g_get_real_time () / G_USEC_PER_SEC - fetched > listing->max_age || fetched <= 0))
    return FALSE;

  codes = new_codes ();
  map = json_object_get_object_member (root, "codes");
  json_object_iter_init (&iter, map);
  while (json_object_iter_next (&iter, &symbol, &value))
    if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_STRING &&
        th_symbol_is_valid (symbol))
      g_hash_table_insert (codes, g_strdup (symbol), g_strdup (json_node_get_string (value)));

  g_clear_pointer (&listing->codes, g_hash_table_unref);
  listing->codes = g_steal_pointer (&codes);
  g_debug ("%s: %u symbols from the listing cache %s", listing->venue, g_hash_table_size (listing->codes), path);
  return TRUE;
}

static void
write_cache (ThVenueListing *listing)
{
  g_autofree char *path = th_venue_listing_cache_path (listing);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GHashTableIter iter;
  gpointer key, value;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "venue");
  json_builder_add_string_value (b, listing->venue);
  json_builder_set_member_name (b, "quote");
  json_builder_add_string_value (b, listing->quote);
  json_builder_set_member_name (b, "fetched");
  json_builder_add_int_value (b, g_get_real_time () / G_USEC_PER_SEC);
  json_builder_set_member_name (b, "codes");
  json_builder_begin_object (b);
  g_hash_table_iter_init (&iter, listing->codes);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      json_builder_set_member_name (b, key);
      json_builder_add_string_value (b, value);
    }
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_message ("%s: cannot cache the listing in %s: %s", listing->venue, dir, g_strerror (errno));
      return;
    }
  if (!g_file_set_contents (path, text, -1, &error))
    g_message ("%s: cannot cache the listing: %s", listing->venue, error->message);
}

static gboolean
on_retry (gpointer data)
{
  ThVenueListing *listing = data;

  listing->retry_id = 0;
  th_venue_listing_fetch (listing);
  return G_SOURCE_REMOVE;
}

static void
on_fetched (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Fetch *f = data;
  ThVenueListing *listing = f->listing;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GHashTable) codes = NULL;
  guint status = 0;
  gboolean cancelled = g_cancellable_is_cancelled (f->cancellable);

  root = th_venue_rest_get_finish (f->rest, result, &status, &error);
  th_venue_rest_unref (f->rest);
  g_object_unref (f->cancellable);
  g_free (f);
  if (cancelled)
    return;   /* the listing is gone */

  listing->fetching = FALSE;
  if (root != NULL)
    {
      codes = new_codes ();
      if (!listing->parse (root, listing->quote, codes, &error))
        g_clear_pointer (&root, json_node_unref);
    }
  if (root == NULL)
    {
      gboolean old = listing->codes == NULL && th_venue_listing_load_cache (listing, TRUE);

      if (!listing->failure_logged)
        g_message ("%s: cannot fetch the venue's listing from %s: %s; %s; trying again in %u s",
                   listing->venue, listing->url, error != NULL ? error->message : "no answer",
                   old ? "using the older cached listing" :
                   "symbols without a [symbols] entry are not followed there until it succeeds",
                   listing->retry_delay);
      listing->failure_logged = TRUE;
      listing->retry_id = g_timeout_add_seconds (listing->retry_delay, on_retry, listing);
      listing->retry_delay = MIN (listing->retry_delay * 2, RETRY_MAX);
      if (old && listing->ready != NULL)
        listing->ready (listing, listing->ready_data);
      return;
    }

  listing->failure_logged = FALSE;
  listing->retry_delay = RETRY_FIRST;
  g_clear_pointer (&listing->codes, g_hash_table_unref);
  listing->codes = g_steal_pointer (&codes);
  /* A new listing may list what the last one did not: report afresh. */
  g_hash_table_remove_all (listing->reported);
  g_info ("%s: the venue lists %u symbols against %s", listing->venue, g_hash_table_size (listing->codes),
          *listing->quote != '\0' ? listing->quote : "USD");
  write_cache (listing);
  if (listing->ready != NULL)
    listing->ready (listing, listing->ready_data);
}

void
th_venue_listing_fetch (ThVenueListing *listing)
{
  Fetch *f;

  if (listing->fetching || listing->retry_id != 0)
    return;
  if (listing->rest == NULL)
    {
      listing->rest = th_venue_rest_new (listing->venue, th_hub_get_clock (listing->hub),
                                       G_USEC_PER_SEC, 1, MAX_WAIT);
      if (listing->header_name != NULL)
        th_venue_rest_set_header (listing->rest, listing->header_name, listing->header_value);
    }
  listing->fetching = TRUE;
  listing->fetches++;
  f = g_new0 (Fetch, 1);
  f->listing = listing;
  f->rest = th_venue_rest_ref (listing->rest);
  f->cancellable = g_object_ref (listing->cancellable);
  th_venue_rest_get_async (listing->rest, listing->url, listing->cancellable, on_fetched, f);
}

/* Symbols with no code for the venue that the listing may still give. */
guint
th_venue_listing_missing (ThVenueListing    *listing,
                          const char *const *symbols)
{
  ThSymbolMap *map = th_hub_get_symbol_map (listing->hub);
  guint n = 0;

  for (guint s = 0; symbols[s] != NULL; s++)
    if (th_symbol_map_lookup (map, symbols[s], listing->venue) == NULL &&
        !g_hash_table_contains (listing->reported, symbols[s]))
      n++;
  return n;
}

/* Fills the symbol map's holes for the venue from the listing; reports the
 * symbols it does not list, once. Returns how many codes were added. */
guint
th_venue_listing_complete (ThVenueListing    *listing,
                           const char *const *symbols)
{
  ThSymbolMap *map = th_hub_get_symbol_map (listing->hub);
  g_autoptr(GString) unlisted = NULL;
  guint added = 0, n_unlisted = 0;

  if (listing->codes == NULL)
    return 0;
  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code;

      if (th_symbol_map_lookup (map, symbols[s], listing->venue) != NULL)
        continue;
      code = g_hash_table_lookup (listing->codes, symbols[s]);
      if (code != NULL && th_symbol_map_reverse (map, listing->venue, code) == NULL)
        {
          th_symbol_map_set (map, symbols[s], listing->venue, code);
          added++;
        }
      else if (!g_hash_table_contains (listing->reported, symbols[s]))
        {
          g_hash_table_add (listing->reported, g_strdup (symbols[s]));
          if (unlisted == NULL)
            unlisted = g_string_new (NULL);
          if (n_unlisted < 20)
            g_string_append_printf (unlisted, "%s%s", n_unlisted > 0 ? ", " : "", symbols[s]);
          n_unlisted++;
        }
    }
  if (n_unlisted > 0)
    g_message ("%s does not list %u symbol%s (%s%s)%s%s: not followed there; "
               "give [symbols] SYMBOL=%s:<CODE> if the venue names it otherwise",
               listing->venue, n_unlisted, n_unlisted > 1 ? "s" : "", unlisted->str,
               n_unlisted > 20 ? ", …" : "", *listing->quote != '\0' ? " against " : "", listing->quote,
               listing->venue);
  if (added > 0)
    g_info ("%s: the listing gave codes to %u symbols", listing->venue, added);
  return added;
}

/* Parsers: each venue's listing answer, boiled down to symbol → code. */

static const char *
member_string (JsonObject *obj,
               const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static void
add_code (GHashTable *codes,
          const char *symbol,
          const char *code)
{
  if (symbol == NULL || code == NULL || *code == '\0' || strlen (code) > 64 ||
      !th_symbol_is_valid (symbol) || g_hash_table_contains (codes, symbol))
    return;
  g_hash_table_insert (codes, g_strdup (symbol), g_strdup (code));
}

/* GET /api/v3/exchangeInfo: {"symbols":[{"symbol","status","baseAsset","quoteAsset"}]} */
gboolean
th_venue_listing_parse_binance (JsonNode    *root,
                                const char  *quote,
                                GHashTable  *codes,
                                GError     **error)
{
  JsonNode *list;
  JsonArray *symbols;

  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (list = json_object_get_member (json_node_get_object (root), "symbols")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "exchangeInfo has no \"symbols\" array");
      return FALSE;
    }
  symbols = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (symbols); i++)
    {
      JsonNode *node = json_array_get_element (symbols, i);
      JsonObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      o = json_node_get_object (node);
      if (g_strcmp0 (member_string (o, "status"), "TRADING") != 0 ||
          g_strcmp0 (member_string (o, "quoteAsset"), quote) != 0)
        continue;
      add_code (codes, member_string (o, "baseAsset"), member_string (o, "symbol"));
    }
  return TRUE;
}

/* GET /products: [{"id","base_currency","quote_currency","status","trading_disabled"}] */
gboolean
th_venue_listing_parse_coinbase (JsonNode    *root,
                                 const char  *quote,
                                 GHashTable  *codes,
                                 GError     **error)
{
  JsonArray *products;

  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "/products is not an array");
      return FALSE;
    }
  products = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (products); i++)
    {
      JsonNode *node = json_array_get_element (products, i);
      JsonObject *o;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        continue;
      o = json_node_get_object (node);
      if (g_strcmp0 (member_string (o, "status"), "online") != 0 ||
          json_object_get_boolean_member_with_default (o, "trading_disabled", FALSE) ||
          g_strcmp0 (member_string (o, "quote_currency"), quote) != 0)
        continue;
      add_code (codes, member_string (o, "base_currency"), member_string (o, "id"));
    }
  return TRUE;
}

/* GET /v3/assets: {"data":[{"id":"bitcoin","rank":"1","symbol":"BTC",…}]},
 * best ranked first: the first asset of a symbol wins. */
gboolean
th_venue_listing_parse_coincap (JsonNode    *root,
                                const char  *quote,
                                GHashTable  *codes,
                                GError     **error)
{
  JsonNode *list;
  JsonArray *assets;

  if (!JSON_NODE_HOLDS_OBJECT (root) ||
      (list = json_object_get_member (json_node_get_object (root), "data")) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "/assets has no \"data\" array");
      return FALSE;
    }
  assets = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (assets); i++)
    {
      JsonNode *node = json_array_get_element (assets, i);

      if (JSON_NODE_HOLDS_OBJECT (node))
        add_code (codes, member_string (json_node_get_object (node), "symbol"),
                  member_string (json_node_get_object (node), "id"));
    }
  return TRUE;
}
