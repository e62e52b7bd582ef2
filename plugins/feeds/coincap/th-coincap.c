/* th-coincap.c: CoinCap v3 prices
 *
 * One connection, `{url}?assets=bitcoin,ethereum&apiKey=KEY`; nothing is
 * sent after it opens. Each frame is one flat JSON object, asset id → USD
 * price as a decimal string, holding only the assets whose price changed:
 * {"bitcoin":"6929.82","ethereum":"404.97"}. Each asset becomes one quote
 * tick. Asset ids are CoinCap slugs from the symbol map (coincap:bitcoin).
 *
 * The keyless v2 API (ws.coincap.io) was shut down in 2025; v3 needs a key
 * (`api-key`). Without one the source is `disabled`, with a reason that
 * says so: a valid configuration, not a failure, and nothing is attempted.
 * A bad key is answered with a text frame "Unauthorized" (then a close):
 * the source goes down and the next attempt waits UNAUTHORIZED_RETRY
 * instead of the usual backoff, since retrying every minute with the same
 * key cannot succeed and only spends the key's quota.
 *
 * The watchdog (`stale-after`, 30 s by default) watches the connection,
 * not an asset: CoinCap sends only changes, so one quiet asset may be
 * silent for minutes, but the followed set as a whole (BTC and ETH change
 * several times a second) is not silent for 30 s on a live connection.
 * Raise `stale-after` when following only quiet assets. Pings are
 * answered by the base; CoinCap does not close connections on a schedule
 * (no max_age) nor publish a connection-rate limit (no max_attempts).
 *
 * The key goes only into the request line: it is never logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-json-reader.h"
#include "th-private.h"
#include "th-venue-listing.h"

/* Seconds before trying again after CoinCap rejected the key: a constant,
 * not a key, since a bad key needs a person, not a faster retry. */
#define UNAUTHORIZED_RETRY  300.0
#define UNAUTHORIZED_REASON "CoinCap rejected the API key (Unauthorized)"
#define NO_KEY_REASON       "CoinCap v3 needs an API key: set [coincap] api-key"
#define NO_ASSET_REASON     "no configured symbol has a CoinCap asset id; add them as [symbols] BTC=coincap:bitcoin"

/* No asset trades above a trillion dollars a unit: a bigger number is a
 * corrupt frame, not a price. */
#define MAX_PRICE 1e12

#define DEFAULT_REST_URL        "https://rest.coincap.io/v3"
#define DEFAULT_LISTING_MAX_AGE (24 * 3600)
/* CoinCap publishes no URL limit; servers commonly refuse request lines
 * over 8 KiB. Past this (`max-url`), the assets are split across
 * connections. */
#define DEFAULT_MAX_URL 8000
/* The places of a frame whose asset is remembered (ThCoinCap.followed). */
#define ASSET_CACHE 16

/* A frame's asset id (the reader's string) and its value on the tape. */
typedef struct
{
  const char *id;
  guint       value;
} Member;

#define TH_TYPE_COINCAP (th_coincap_get_type ())
G_DECLARE_FINAL_TYPE (ThCoinCap, th_coincap, TH, COINCAP, ThWsFeed)

struct _ThCoinCap
{
  ThWsFeed    parent_instance;
  char       *assets;      /* asset ids, URL-escaped, comma-separated; NULL for none */
  char       *api_key;     /* as configured; NULL for none; never logged */
  ThJsonReader *reader;    /* the frames, on a tape */
  Member     *members;     /* a frame's assets, reused (a plain array: GLib's
                            * were a few percent of a message) */
  guint       n_members;
  guint       members_size;
  ThVenueListing *listing; /* /v3/assets; NULL with listing=false or no key */
  GPtrArray  *shards;      /* char*: each connection's assets, comma-separated */
  guint       max_url;
  /* The followed symbol of the asset at each place of the last frames
   * (CoinCap lists them in the same order): a comparison of the id
   * instead of th_symbol_map_reverse() and th_hub_has_symbol(), two hash
   * lookups, a sixth of a message. Valid while the symbol map's
   * generation stays (the symbol is the map's string); an asset the hub
   * follows stays followed (its state is kept for good). */
  struct { char *id; const char *symbol; } followed[ASSET_CACHE];
  ThSymbolMap *followed_map;
  guint       followed_generation;
};

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThCoinCap, th_coincap, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL, {})

/* A key is pasted, not typed: a space or a control character in it is a
 * mistake, not something to escape and send. */
static gboolean
is_plain_key (const char *key)
{
  for (const char *p = key; *p != '\0'; p++)
    if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
      return FALSE;
  return TRUE;
}

/* The asset ids of the symbols that have one now, for the URL. */
static void
build_assets (ThCoinCap *self)
{
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *id = th_symbol_map_lookup (map, symbols[s], "coincap");

      if (id == NULL)
        {
          /* The listing, when it comes, names them or reports them. */
          if (self->listing == NULL)
            g_message ("coincap has no asset id for %s; add [symbols] %s=coincap:<ID> to follow it there",
                       symbols[s], symbols[s]);
          continue;
        }
      g_ptr_array_add (ids, g_uri_escape_string (id, NULL, FALSE));
    }

  g_clear_pointer (&self->assets, g_free);
  g_ptr_array_set_size (self->shards, 0);
  if (ids->len > 0)
    {
      GString *shard = NULL;
      /* The URL without the assets: base, "?assets=", "&apiKey=" and the key. */
      g_autofree char *base = th_config_get_string (th_hub_get_config (hub), "coincap", "url", "");
      gsize fixed = strlen (base) + strlen ("?assets=&apiKey=") + (self->api_key != NULL ? 3 * strlen (self->api_key) : 0);

      for (guint i = 0; i < ids->len; i++)
        {
          const char *id = ids->pdata[i];

          if (shard != NULL && fixed + shard->len + 1 + strlen (id) > self->max_url)
            {
              g_ptr_array_add (self->shards, g_string_free (shard, FALSE));
              shard = NULL;
            }
          if (shard == NULL)
            shard = g_string_new (id);
          else
            {
              g_string_append_c (shard, ',');
              g_string_append (shard, id);
            }
        }
      g_ptr_array_add (self->shards, g_string_free (shard, FALSE));
      g_ptr_array_add (ids, NULL);
      self->assets = g_strjoinv (",", (char **) ids->pdata);
    }
  th_ws_feed_set_connections (TH_WS_FEED (self), MAX (self->shards->len, 1));
}

/* The listing arrived. CoinCap takes its assets in the URL only: a new
 * connection when that changes them. */
static void
on_listing (ThVenueListing *listing,
            gpointer        data)
{
  ThCoinCap *self = data;
  ThWsFeed *feed = TH_WS_FEED (self);
  g_autofree char *before = g_strdup (self->assets);

  th_venue_listing_complete (listing, th_hub_get_symbols (th_ws_feed_get_hub (feed)));
  build_assets (self);
  if (g_strcmp0 (before, self->assets) != 0)
    th_ws_feed_reconnect (feed, "the listing changed the assets", 0);
}

static gboolean
th_coincap_configure (ThWsFeed  *feed,
                      GError   **error)
{
  ThCoinCap *self = TH_COINCAP (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autofree char *key = NULL;

  if (!TH_WS_FEED_CLASS (th_coincap_parent_class)->configure (feed, error))
    return FALSE;

  /* Empty or absent: valid, the source is disabled when it starts. */
  key = th_config_get_string (config, "coincap", "api-key", NULL);
  if (key != NULL && !is_plain_key (key))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "[coincap] api-key: the key has spaces or control characters; "
                           "paste it exactly as CoinCap shows it");
      return FALSE;
    }

  g_free (self->api_key);
  self->api_key = g_steal_pointer (&key);

  g_clear_pointer (&self->listing, th_venue_listing_free);
  if (self->api_key != NULL && th_config_get_boolean (config, "coincap", "listing", TRUE))
    {
      double max_age = th_config_get_double (config, "coincap", "listing-max-age", DEFAULT_LISTING_MAX_AGE);
      g_autofree char *rest = th_config_get_string (config, "coincap", "rest-url", DEFAULT_REST_URL);
      g_autofree char *url = NULL;
      g_autofree char *bearer = g_strdup_printf ("Bearer %s", self->api_key);

      if (max_age <= 0)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[coincap] listing-max-age: must be more than 0 seconds (default %d, a day)",
                       DEFAULT_LISTING_MAX_AGE);
          return FALSE;
        }
      while (g_str_has_suffix (rest, "/"))
        rest[strlen (rest) - 1] = '\0';
      /* The key goes in a header, so the URL may be logged. */
      url = g_strdup_printf ("%s/assets?limit=2000", rest);
      self->listing = th_venue_listing_new ("coincap", hub, url, "", max_age, th_venue_listing_parse_coincap);
      th_venue_listing_set_header (self->listing, "Authorization", bearer);
      th_venue_listing_set_ready_func (self->listing, on_listing, self);
      if (th_venue_listing_missing (self->listing, symbols) > 0 &&
          th_venue_listing_load_cache (self->listing, FALSE))
        th_venue_listing_complete (self->listing, symbols);
    }
  {
    gint64 max_url = th_config_get_int (config, "coincap", "max-url", DEFAULT_MAX_URL);

    if (max_url < 256)
      {
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                     "[coincap] max-url: %" G_GINT64_FORMAT " bytes is too short for a URL; give at least 256 (default %d)",
                     max_url, DEFAULT_MAX_URL);
        return FALSE;
      }
    self->max_url = (guint) MIN (max_url, G_MAXUINT);
  }
  build_assets (self);

  /* Nothing to connect with: disabled, not down, and no retry. The base
   * publishes the state when the feed starts. */
  if (self->api_key == NULL)
    th_ws_feed_disable (feed, NO_KEY_REASON);
  else if (self->assets == NULL &&
           (self->listing == NULL || th_venue_listing_missing (self->listing, symbols) == 0))
    th_ws_feed_disable (feed, NO_ASSET_REASON);
  return TRUE;
}

/* Some deployments refuse a bad key in the handshake itself. */
static void
th_coincap_handshake_refused (ThWsFeed   *feed,
                              guint       status,
                              const char *message)
{
  if (status == 401 || status == 403)
    th_ws_feed_reconnect (feed, "CoinCap refused the API key (HTTP 401/403)", UNAUTHORIZED_RETRY);
}

static char *
th_coincap_build_url (ThWsFeed  *feed,
                      GError   **error)
{
  ThCoinCap *self = TH_COINCAP (feed);
  g_autofree char *base = NULL;
  g_autofree char *key = NULL;
  guint shard;

  if (self->listing != NULL && !th_venue_listing_has_codes (self->listing) &&
      th_venue_listing_missing (self->listing, th_hub_get_symbols (th_ws_feed_get_hub (feed))) > 0)
    th_venue_listing_fetch (self->listing);
  if (self->api_key != NULL && self->assets == NULL && self->listing != NULL &&
      th_venue_listing_is_fetching (self->listing))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_FAILED,
                           "waiting for CoinCap's listing (/v3/assets) to find the symbols' asset ids");
      return NULL;
    }
  if (self->api_key == NULL || self->assets == NULL)
    {
      /* Disabled in configure, or no asset after the listing. */
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           self->api_key == NULL ? NO_KEY_REASON : NO_ASSET_REASON);
      return NULL;
    }

  base = TH_WS_FEED_CLASS (th_coincap_parent_class)->build_url (feed, error);
  if (base == NULL)
    return NULL;
  key = g_uri_escape_string (self->api_key, NULL, FALSE);
  shard = th_ws_feed_get_connection (feed);
  if (shard >= self->shards->len)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_FAILED, "connection %u has no assets (%u shards)", shard + 1, self->shards->len);
      return NULL;
    }
  return g_strdup_printf ("%s%sassets=%s&apiKey=%s", base, strchr (base, '?') != NULL ? "&" : "?",
                          (const char *) self->shards->pdata[shard], key);
}

/* A CoinCap price: a plain positive decimal string such as "6929.82"
 * (or, leniently, a JSON number). No sign, no spaces, no "NaN" or "inf",
 * no hexadecimal, nothing absurd. */
static gboolean
get_price (ThJsonReader *r,
           guint         node,
           double       *out)
{
  const char *s;

  switch (_th_json_reader_kind (r, node))
    {
    case _TH_JSON_KIND_STRING:
      /* Digits, point, sign and exponent only, read whole by
       * g_ascii_strtod() (or its exact shortcut): the reader's numeric
       * string; and it starts with a digit. */
      s = _th_json_reader_string (r, node);
      if (s == NULL || !g_ascii_isdigit (*s) || _th_json_reader_number (r, node, TRUE, out) != TH_JSON_FIELD_OK)
        return FALSE;
      break;
    case _TH_JSON_KIND_NUMBER:
      /* An integer beyond 64 bits keeps its size here (json-glib wrapped
       * it around): far above MAX_PRICE. */
      if (!_th_json_reader_double (r, node, out))
        return FALSE;
      break;
    default:
      return FALSE;
    }
  return isfinite (*out) && *out > 0 && *out < MAX_PRICE;
}

/* The members of a frame as json-glib's ordered iterator gives them: each
 * name once, where it first comes, with the value of its last occurrence
 * (the last of duplicate names wins). Fills self->members; names are the
 * reader's, valid until the next parse. */
static void
distinct_members (ThCoinCap    *self,
                  ThJsonReader *r,
                  guint         obj)
{
  guint n = _th_json_reader_length (r, obj);
  g_autoptr(GHashTable) seen = NULL;

  /* A price frame holds a few assets: a linear search is cheapest. A big
   * object (a hostile frame) gets a table, so the work stays linear. */
  if (n > 16)
    seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint k = _th_json_reader_first (r, obj); k != _TH_JSON_NONE && k < _th_json_reader_next (r, obj);
       k = _th_json_reader_next (r, k + 1))
    {
      const char *key = _th_json_reader_string (r, k);
      guint at = G_MAXUINT;

      if (seen != NULL)
        {
          gpointer found;

          if (g_hash_table_lookup_extended (seen, key, NULL, &found))
            at = GPOINTER_TO_UINT (found);
          else
            g_hash_table_insert (seen, (gpointer) key, GUINT_TO_POINTER (self->n_members));
        }
      else
        for (guint i = 0; i < self->n_members && at == G_MAXUINT; i++)
          if (strcmp (self->members[i].id, key) == 0)
            at = i;
      if (at == G_MAXUINT)
        {
          if (self->n_members == self->members_size)
            {
              self->members_size *= 2;
              self->members = g_renew (Member, self->members, self->members_size);
            }
          self->members[self->n_members].id = key;
          self->members[self->n_members].value = k + 1;
          self->n_members++;
        }
      else
        self->members[at].value = k + 1;
    }
}

static void
bad (ThCoinCap  *self,
     const char *id,
     const char *what)
{
  g_autofree char *detail = g_strdup_printf ("asset “%s”: %s", id, what);

  th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, detail);
}

static void
forget_followed (ThCoinCap *self)
{
  for (guint i = 0; i < ASSET_CACHE; i++)
    {
      g_clear_pointer (&self->followed[i].id, g_free);
      self->followed[i].symbol = NULL;
    }
}

static void
th_coincap_message (ThWsFeed   *feed,
                    const char *text,
                    gsize       length)
{
  ThCoinCap *self = TH_COINCAP (feed);
  ThHub *hub = _th_ws_feed_get_hub (feed);
  ThSymbolMap *map = _th_hub_get_symbol_map (hub);
  g_autoptr(GError) error = NULL;
  ThJsonReader *r = self->reader;
  guint obj = 0;
  guint node;
  gboolean flat = FALSE;
  gint64 time;

  /* The whole answer to a bad key, in plain text; a close follows. */
  if (text[0] == 'U' && g_str_has_prefix (text, "Unauthorized"))
    {
      /* A replayed recording has no connection to drop. */
      if (th_ws_feed_is_open (feed))
        th_ws_feed_reconnect (feed, UNAUTHORIZED_REASON, UNAUTHORIZED_RETRY);
      return;
    }

  if (length == (gsize) -1)
    length = strlen (text);
  if (!_th_json_reader_parse (r, text, length, &error))
    {
      g_autofree char *detail = g_strdup_printf ("not JSON (%s)", error->message);

      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, detail);
      return;
    }

  if (_th_json_reader_kind (r, obj) != _TH_JSON_KIND_OBJECT)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_PARSE, "not a JSON object");
      return;
    }

  /* A price frame has at least one scalar member; an object of objects
   * ({"data":{...}}) or an empty one is some other message. */
  /* A frame of many members (a hostile one) leaves no big arrays behind. */
  if (self->members_size > 64)
    {
      self->members_size = 4;
      g_free (self->members);
      self->members = g_new (Member, self->members_size);
    }
  self->n_members = 0;
  distinct_members (self, r, obj);
  for (guint i = 0; i < self->n_members && !flat; i++)
    {
      ThJsonKind kind = _th_json_reader_kind (r, self->members[i].value);

      flat = kind != _TH_JSON_KIND_OBJECT && kind != _TH_JSON_KIND_ARRAY;
    }
  if (!flat)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN,
                         self->n_members == 0 ? "an empty object" : "an object without asset prices");
      return;
    }

  /* CoinCap sends no timestamp: the receive time stands in as the
   * exchange time, the same for every asset of the frame (and the
   * recorded one when a recording is replayed). */
  time = _th_ws_feed_get_receive_time (feed);

  if (map != self->followed_map || _th_symbol_map_get_generation (map) != self->followed_generation)
    {
      forget_followed (self);
      self->followed_map = map;
      self->followed_generation = _th_symbol_map_get_generation (map);
    }

  /* One bad asset does not spoil the others. */
  for (guint i = 0; i < self->n_members; i++)
    {
      const char *id = self->members[i].id;
      const char *symbol;
      g_autoptr(ThTick) tick = NULL;
      double price;

      if (i < ASSET_CACHE && self->followed[i].id != NULL && strcmp (self->followed[i].id, id) == 0)
        symbol = self->followed[i].symbol;
      else
        {
          symbol = th_symbol_map_reverse (map, "coincap", id);
          /* Only what we follow: an asset we did not ask for is not ours to trust. */
          if (symbol == NULL || !th_hub_has_symbol (hub, symbol))
            {
              bad (self, id, "not followed");
              continue;
            }
          if (i < ASSET_CACHE)
            {
              g_free (self->followed[i].id);
              self->followed[i].id = g_strdup (id);
              self->followed[i].symbol = symbol;
            }
        }
      node = self->members[i].value;
      if (!get_price (r, node, &price))
        {
          bad (self, id, "not a positive decimal price");
          continue;
        }
      tick = th_tick_new (symbol, "coincap", TH_TICK_KIND_QUOTE, price, time);
      /* CoinCap's prices stream is in US dollars, whatever [tickhub] quote says. */
      _th_tick_set_quote_static (tick, "USD");
      _th_ws_feed_push_tick (feed, tick);
    }
}

static void
th_coincap_dispose (GObject *object)
{
  ThCoinCap *self = TH_COINCAP (object);

  g_clear_pointer (&self->listing, th_venue_listing_free);
  G_OBJECT_CLASS (th_coincap_parent_class)->dispose (object);
}

static void
th_coincap_finalize (GObject *object)
{
  ThCoinCap *self = TH_COINCAP (object);

  g_free (self->assets);
  g_clear_pointer (&self->shards, g_ptr_array_unref);
  g_free (self->api_key);
  g_clear_pointer (&self->reader, _th_json_reader_free);
  g_free (self->members);
  forget_followed (self);
  G_OBJECT_CLASS (th_coincap_parent_class)->finalize (object);
}

static void
th_coincap_class_init (ThCoinCapClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_coincap_finalize;
  G_OBJECT_CLASS (klass)->dispose = th_coincap_dispose;
  feed_class->name = "coincap";
  feed_class->stale_after = 30;
  feed_class->max_age = 0;
  feed_class->max_attempts = 0;
  feed_class->configure = th_coincap_configure;
  feed_class->build_url = th_coincap_build_url;
  feed_class->handshake_refused = th_coincap_handshake_refused;
  feed_class->message = th_coincap_message;
}

static void
th_coincap_class_finalize (ThCoinCapClass *klass)
{
}

static void
th_coincap_init (ThCoinCap *self)
{
  self->reader = _th_json_reader_new ();
  self->members_size = 4;
  self->members = g_new (Member, self->members_size);
  self->shards = g_ptr_array_new_with_free_func (g_free);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_coincap_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_COINCAP);
}
