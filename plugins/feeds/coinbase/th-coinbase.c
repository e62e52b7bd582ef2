/* th-coinbase.c: Coinbase Exchange market data
 *
 * One connection to `url` (wss://ws-feed.exchange.coinbase.com). Coinbase
 * sends nothing until it gets a subscribe, and disconnects a client that
 * has not sent one within 5 s, so `opened` sends it at once:
 *
 *   {"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["ticker","heartbeat"]}
 *
 * Each subscribe is answered by the cumulative list of what is subscribed,
 * {"type":"subscriptions","channels":[{"name":"ticker","product_ids":[...]},...]};
 * a requested product missing from it is logged and given as the reason
 * while the source waits for its first price. Channels come from
 * `channels=` (default ticker;heartbeat):
 *
 *   ticker        `ticker` on every trade (cascading matches batched): last
 *                 price, best bid and ask, 24 h base volume, 24 h open (the
 *                 change is computed from it): a quote tick
 *   ticker_batch  the same `ticker` messages, at most every 5 s
 *   heartbeat     `heartbeat` every second per product: liveness, and a
 *                 quiet product's price stays fresh while the heartbeat's
 *                 `last_trade_id` is the trade that price came from
 *   matches       `last_match` once on subscribing, then `match` per trade:
 *                 trade ticks (price and size), for candle volume
 *
 * `level2`, `level3` and `full` need API keys since 2023 and are refused
 * in configure. An `error` message ({"message","reason"}) becomes the
 * source's reason, state down; the connection stays, and the first price
 * after it makes the source live again. Other types (`status`, types added
 * later) are counted as unknown and ignored, as Coinbase asks.
 *
 * Numbers are decimal strings; times are ISO 8601 UTC with microseconds.
 *
 * Sequences: ticker, heartbeat and match messages carry a `sequence` per
 * product. The last one is kept per product and channel (match and
 * last_match share the matches channel; ticker and ticker_batch, which
 * cannot be subscribed together, share the ticker channel):
 *   - a jump of more than one is a gap: counted (stats `gaps`) and logged;
 *     the message is used;
 *   - a sequence equal to or lower than the last one on the same
 *     connection is a duplicate or a message out of order: dropped (no
 *     second tick for the same trade) and counted as a bad value. A
 *     heartbeat that repeats the last sequence is not: a product with no
 *     activity in that second repeats it;
 *   - a new connection starts over: the first message of each product and
 *     channel counts no gap (what came during the reconnection is lost by
 *     nature). If it repeats the last sequence of the previous connection
 *     it is the snapshot Coinbase sends on subscribing (the latest ticker,
 *     `last_match`) of a message already used, and is dropped silently. If
 *     it is lower, the venue started over and it is used.
 *
 * Limits (docs/venues.md): subscribe within 5 s (done in `opened`), 8
 * requests/s per IP with bursts of 20 and 100 client messages/s (we send
 * one message per connection; reconnections back off from 1 s), no
 * connection age limit (max_age 0).
 *
 * Backfill (ThBackfill): `GET {rest-url}/products/{id}/candles
 * ?granularity=60&start=ISO&end=ISO`, rows `[time s, low, high, open,
 * close, volume]` newest first, at most 300 a request (a request that
 * spans more is refused: pages of 300 periods, `end` inclusive), only the
 * granularities 60, 300, 900, 3600, 21600 and 86400; no row for a period
 * without trades (it stays missing). Public REST allows about 10 requests
 * a second per IP: ours go one at a time, 8 a second at most
 * (th-venue-rest.c), a 429 waits its Retry-After (60 s without one).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-json-reader.h"
#include "th-json-shape.h"
#include "th-private.h"
#include "th-venue-listing.h"
#include "th-venue-rest.h"

#define DEFAULT_REST_URL  "https://api.exchange.coinbase.com"
#define CANDLES_LIMIT     300
#define REST_GAP          (G_USEC_PER_SEC / 8)
#define REST_BURST        8
#define MAX_WAIT          (120 * G_USEC_PER_SEC)
#define DEFAULT_LISTING_MAX_AGE (24 * 3600)

#define TH_TYPE_COINBASE (th_coinbase_get_type ())
G_DECLARE_FINAL_TYPE (ThCoinbase, th_coinbase, TH, COINBASE, ThWsFeed)

typedef enum {
  SEQ_TICKER,
  SEQ_HEARTBEAT,
  SEQ_MATCHES,
  N_SEQ
} SeqChannel;

static const char *const seq_channel_names[N_SEQ] = { "ticker", "heartbeat", "matches" };

typedef struct
{
  gint64   last;       /* the last sequence used, -1 before the first */
  gboolean resumed;    /* the connection changed since `last` */
} Sequence;

typedef struct
{
  char     *product_id;   /* Coinbase's code, such as BTC-USD */
  char     *symbol;       /* canonical, such as BTC */
  const char *quote;      /* from the product: USD; interned, outlives the ticks */
  Sequence  seq[N_SEQ];
  gint64    trade_id;     /* of the last price pushed, -1 when unknown */
} Product;

struct _ThCoinbase
{
  ThWsFeed    parent_instance;
  char      **channels;     /* as subscribed */
  GPtrArray  *products;     /* Product, in the order of [tickhub] symbols */
  GHashTable *by_id;        /* product_id → Product, borrowed from products */
  Product    *last;         /* the last one a message named, or NULL: a stream
                             * is mostly one product after another, and one
                             * comparison is a tenth of a hash lookup */
  char       *subscribe;    /* the subscribe message, built once */
  ThJsonReader *reader;   /* the stream's messages, on a tape */
  char       *rest_url;     /* without a trailing slash */
  ThVenueRest *rest;        /* made at the first fetch */
  ThVenueListing *listing;  /* /products; NULL with listing=false */
};

static void th_coinbase_backfill_init (ThBackfillInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThCoinbase, th_coinbase, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_BACKFILL, th_coinbase_backfill_init))

#define KNOWN_CHANNELS "ticker, heartbeat, matches, ticker_batch"
static const char *const known_channels[] = { "ticker", "heartbeat", "matches", "ticker_batch", NULL };
static const char *const auth_channels[] = { "level2", "level3", "full", NULL };

static void
product_free (gpointer data)
{
  Product *p = data;

  g_free (p->product_id);
  g_free (p->symbol);
  g_free (p);
}

static char *
build_subscribe (ThCoinbase *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "subscribe");
  json_builder_set_member_name (b, "product_ids");
  json_builder_begin_array (b);
  for (guint i = 0; i < self->products->len; i++)
    json_builder_add_string_value (b, ((Product *) self->products->pdata[i])->product_id);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "channels");
  json_builder_begin_array (b);
  for (guint i = 0; self->channels[i] != NULL; i++)
    json_builder_add_string_value (b, self->channels[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Follows the symbols that have a Coinbase code and are not followed yet;
 * their product ids go to @added (borrowed) when it is not NULL. */
static void
add_products (ThCoinbase *self,
              GPtrArray  *added)
{
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);

  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code = th_symbol_map_lookup (map, symbols[s], "coinbase");
      Product *p;

      if (code == NULL)
        {
          /* The listing, when it comes, names them or reports them. */
          if (self->listing == NULL)
            g_message ("coinbase has no code for %s; add [symbols] %s=coinbase:<CODE> to follow it there",
                     symbols[s], symbols[s]);
          continue;
        }
      if (g_hash_table_contains (self->by_id, code))
        {
          if (g_str_equal (((Product *) g_hash_table_lookup (self->by_id, code))->symbol, symbols[s]))
            continue;   /* followed already */
          g_message ("coinbase: %s maps to %s, as %s does; it is followed once, as %s",
                     symbols[s], code, ((Product *) g_hash_table_lookup (self->by_id, code))->symbol,
                     ((Product *) g_hash_table_lookup (self->by_id, code))->symbol);
          continue;
        }

      p = g_new0 (Product, 1);
      p->product_id = g_strdup (code);
      p->symbol = g_strdup (symbols[s]);
      {
        g_autofree char *quote = th_symbol_code_get_quote (code);

        p->quote = quote != NULL ? g_intern_string (quote) : NULL;
      }
      for (guint c = 0; c < N_SEQ; c++)
        p->seq[c].last = -1;
      p->trade_id = -1;
      g_ptr_array_add (self->products, p);
      g_hash_table_insert (self->by_id, p->product_id, p);
      if (added != NULL)
        g_ptr_array_add (added, p->product_id);
    }

}

static char *build_subscribe (ThCoinbase *self);

/* The listing arrived: follow the products it names, subscribing to them
 * on the open connection (one message: Coinbase allows 100 a second). */
static void
on_listing (ThVenueListing *listing,
            gpointer        data)
{
  ThCoinbase *self = data;
  ThWsFeed *feed = TH_WS_FEED (self);
  g_autoptr(GPtrArray) added = g_ptr_array_new ();

  th_venue_listing_complete (listing, th_hub_get_symbols (th_ws_feed_get_hub (feed)));
  add_products (self, added);
  if (added->len == 0)
    return;
  g_free (self->subscribe);
  self->subscribe = build_subscribe (self);
  if (th_ws_feed_is_open (feed))
    {
      g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
      g_autoptr(JsonNode) root = NULL;
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "subscribe");
      json_builder_set_member_name (b, "product_ids");
      json_builder_begin_array (b);
      for (guint i = 0; i < added->len; i++)
        json_builder_add_string_value (b, added->pdata[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "channels");
      json_builder_begin_array (b);
      for (guint i = 0; self->channels[i] != NULL; i++)
        json_builder_add_string_value (b, self->channels[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      text = json_to_string (root, FALSE);
      th_ws_feed_send_text (feed, text);
    }
  else
    th_ws_feed_reconnect (feed, "the listing gave codes to more products", 0);
}

static gboolean
th_coinbase_configure (ThWsFeed  *feed,
                       GError   **error)
{
  ThCoinbase *self = TH_COINBASE (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_auto(GStrv) channels = NULL;

  if (!TH_WS_FEED_CLASS (th_coinbase_parent_class)->configure (feed, error))
    return FALSE;

  /* A missing url is reported by the base (unless connect=false). */
  channels = th_config_get_string_list (config, "coinbase", "channels");
  if (channels == NULL)
    channels = g_strsplit ("ticker;heartbeat", ";", -1);
  if (channels[0] == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[coinbase] channels: empty; list some of %s", KNOWN_CHANNELS);
      return FALSE;
    }
  for (guint i = 0; channels[i] != NULL; i++)
    {
      if (g_strv_contains (auth_channels, channels[i]))
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[coinbase] channels: “%s” needs authentication (Coinbase API keys) since 2023, "
                       "which tickhub does not do; use %s", channels[i], KNOWN_CHANNELS);
          return FALSE;
        }
      if (!g_strv_contains (known_channels, channels[i]))
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[coinbase] channels: unknown channel “%s”; the channels are %s", channels[i], KNOWN_CHANNELS);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (g_str_equal (channels[i], channels[j]))
          {
            g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                         "[coinbase] channels: “%s” is listed twice; remove one", channels[i]);
            return FALSE;
          }
    }
  if (g_strv_contains ((const char *const *) channels, "ticker") &&
      g_strv_contains ((const char *const *) channels, "ticker_batch"))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "[coinbase] channels: ticker and ticker_batch send the same ticker messages; keep one");
      return FALSE;
    }
  if (!g_strv_contains ((const char *const *) channels, "heartbeat"))
    g_message ("[coinbase] channels: without heartbeat a quiet market sends nothing for long stretches, "
               "and the connection is replaced after stale-after seconds of silence; add heartbeat to keep it");

  self->last = NULL;
  g_ptr_array_set_size (self->products, 0);
  g_hash_table_remove_all (self->by_id);

  g_free (self->rest_url);
  self->rest_url = th_config_get_string (config, "coinbase", "rest-url", DEFAULT_REST_URL);
  while (g_str_has_suffix (self->rest_url, "/"))
    self->rest_url[strlen (self->rest_url) - 1] = '\0';

  g_clear_pointer (&self->listing, th_venue_listing_free);
  if (th_config_get_boolean (config, "coinbase", "listing", TRUE))
    {
      double max_age = th_config_get_double (config, "coinbase", "listing-max-age", DEFAULT_LISTING_MAX_AGE);
      g_autofree char *quote = th_config_get_string (config, "tickhub", "quote", "USD");
      g_autofree char *url = g_strdup_printf ("%s/products", self->rest_url);

      if (max_age <= 0)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[coinbase] listing-max-age: must be more than 0 seconds (default %d, a day)",
                       DEFAULT_LISTING_MAX_AGE);
          return FALSE;
        }
      self->listing = th_venue_listing_new ("coinbase", hub, url, quote, max_age, th_venue_listing_parse_coinbase);
      th_venue_listing_set_ready_func (self->listing, on_listing, self);
      if (th_venue_listing_missing (self->listing, symbols) > 0 &&
          th_venue_listing_load_cache (self->listing, FALSE))
        th_venue_listing_complete (self->listing, symbols);
    }
  add_products (self, NULL);

  g_strfreev (self->channels);
  self->channels = g_steal_pointer (&channels);
  g_free (self->subscribe);
  self->subscribe = build_subscribe (self);

  return TRUE;
}

static char *
th_coinbase_build_url (ThWsFeed  *feed,
                       GError   **error)
{
  ThCoinbase *self = TH_COINBASE (feed);
  g_autofree char *base = TH_WS_FEED_CLASS (th_coinbase_parent_class)->build_url (feed, error);

  if (base == NULL)
    return NULL;
  if (self->listing != NULL && !th_venue_listing_has_codes (self->listing) &&
      th_venue_listing_missing (self->listing, th_hub_get_symbols (th_ws_feed_get_hub (feed))) > 0)
    th_venue_listing_fetch (self->listing);
  if (self->products->len == 0 && self->listing != NULL && th_venue_listing_is_fetching (self->listing))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_FAILED,
                           "waiting for Coinbase's listing (/products) to find the symbols' codes");
      return NULL;
    }
  if (self->products->len == 0)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "no configured symbol has a Coinbase code; see [symbols]");
      return NULL;
    }
  return g_steal_pointer (&base);
}

static void
th_coinbase_opened (ThWsFeed *feed)
{
  ThCoinbase *self = TH_COINBASE (feed);

  /* Coinbase disconnects a client that does not subscribe within 5 s. */
  th_ws_feed_send_text (feed, self->subscribe);
}

static void
th_coinbase_closed (ThWsFeed *feed)
{
  ThCoinbase *self = TH_COINBASE (feed);

  /* A new connection starts over; the last sequences stay, to recognize
   * the snapshot Coinbase sends on subscribing. */
  for (guint i = 0; i < self->products->len; i++)
    {
      Product *p = self->products->pdata[i];

      for (guint c = 0; c < N_SEQ; c++)
        p->seq[c].resumed = p->seq[c].last >= 0;
    }
}

/* Helpers for fields */

/* A venue number: a decimal string (or, leniently, a JSON number). */
static gboolean
get_number (ThJsonReader *r,
            guint         obj,
            const char   *member,
            double       *out)
{
  return _th_json_reader_get_number (r, obj, member, TRUE, out) == TH_JSON_FIELD_OK;
}

/* ISO 8601 with a zone, such as 2022-10-19T23:28:22.061769Z, to µs since
 * the epoch. (g_date_time_to_unix_usec() is GLib 2.80.) */
static gboolean
get_time (ThJsonReader *r,
          guint         obj,
          const char   *member,
          gint64       *out)
{
  const char *text = _th_json_reader_get_string (r, obj, member);

  /* GDateTime's answers, its usual form read without one. */
  if (text == NULL || !_th_parse_iso8601 (text, out))
    return FALSE;
  return *out > 0;
}

/* The sequence: absent is fine (*present FALSE), anything but a whole
 * number ≥ 0 is not. */
static gboolean
get_sequence (ThJsonReader *r,
              guint         obj,
              const char   *member,
              gint64       *out,
              gboolean     *present)
{
  guint node = _th_json_reader_member (r, obj, member);

  *present = node != _TH_JSON_NONE;
  if (node == _TH_JSON_NONE)
    return TRUE;
  /* An integer beyond 64 bits is not one (json-glib wrapped it around). */
  if (!_th_json_reader_int (r, node, out))
    return FALSE;
  return *out >= 0;
}

static void
bad (ThCoinbase *self,
     const char *what,
     const char *type)
{
  g_autofree char *detail = g_strdup_printf ("%s in a %s message", what, type);

  th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, detail);
}

/* The followed product of a message, or NULL (counted). */
static Product *
product_of (ThCoinbase *self,
            guint       obj,
            const char *type)
{
  guint node = _th_json_reader_member (self->reader, obj, "product_id");
  const char *id;
  Product *p;

  if (self->last != NULL && _th_json_reader_string_is (self->reader, node, self->last->product_id))
    return self->last;
  id = node != _TH_JSON_NONE ? _th_json_reader_string (self->reader, node) : NULL;
  if (id == NULL)
    {
      bad (self, "no product_id", type);
      return NULL;
    }
  p = g_hash_table_lookup (self->by_id, id);
  if (p == NULL)
    {
      /* Only what we follow: a product we did not ask for is not ours to trust. */
      g_autofree char *what = g_strdup_printf ("a product that is not followed (“%s”)", id);

      bad (self, what, type);
    }
  else
    self->last = p;
  return p;
}

typedef enum {
  SEQ_NEXT,       /* newer: use it */
  SEQ_SNAPSHOT,   /* first on a new connection, same as the last one used */
  SEQ_REPEAT,     /* same as the last one, on the same connection */
  SEQ_OLD,        /* lower than the last one, on the same connection */
} SeqVerdict;

static SeqVerdict
check_sequence (ThCoinbase *self,
                Product    *p,
                SeqChannel  channel,
                gint64      seq)
{
  Sequence *s = &p->seq[channel];
  gboolean resumed = s->resumed;

  s->resumed = FALSE;
  if (s->last < 0)
    {
      s->last = seq;
      return SEQ_NEXT;
    }
  if (seq == s->last)
    return resumed ? SEQ_SNAPSHOT : SEQ_REPEAT;
  if (resumed)
    {
      if (seq < s->last)
        g_message ("coinbase: %s %s sequence started over on the new connection (%" G_GINT64_FORMAT
                   " after %" G_GINT64_FORMAT ")", p->product_id, seq_channel_names[channel], seq, s->last);
      s->last = seq;
      return SEQ_NEXT;
    }
  if (seq < s->last)
    return SEQ_OLD;
  /* Both are ≥ 0: no overflow. Only trade ids count one by one: the
   * `sequence` of ticker and heartbeat messages is the product's order-book
   * sequence, so it jumps by design (a ticker only comes with a trade); it
   * only orders them. */
  if (channel == SEQ_MATCHES && seq - s->last > 1)
    {
      g_autofree char *detail = g_strdup_printf ("%s: %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT,
                                                 p->product_id, seq, s->last);

      th_ws_feed_count_gap (TH_WS_FEED (self), (guint64) (seq - s->last - 1), detail);
    }
  s->last = seq;
  return SEQ_NEXT;
}

/* Whether a tick-making message is new; duplicates are dropped. */
static gboolean
is_new (ThCoinbase *self,
        Product    *p,
        SeqChannel  channel,
        gint64      seq,
        const char *type)
{
  gint64 last = p->seq[channel].last;
  g_autofree char *what = NULL;

  switch (check_sequence (self, p, channel, seq))
    {
    case SEQ_NEXT:
      return TRUE;
    case SEQ_SNAPSHOT:
      g_debug ("coinbase: %s %s %" G_GINT64_FORMAT " already used before the reconnection",
               p->product_id, type, seq);
      return FALSE;
    case SEQ_REPEAT:
      what = g_strdup_printf ("%s: sequence %" G_GINT64_FORMAT " again (a duplicate)", p->product_id, seq);
      break;
    case SEQ_OLD:
    default:
      what = g_strdup_printf ("%s: sequence %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT " (out of order)",
                              p->product_id, seq, last);
      break;
    }
  bad (self, what, type);
  return FALSE;
}

/* Messages */

/* The fields of a ticker message, as read by either path: the tape
 * reader's (parse_ticker()) or the shape's (try_shape()). */
enum
{
  HAVE_PRICE = 1 << 0, HAVE_BID = 1 << 1, HAVE_ASK = 1 << 2, HAVE_VOLUME = 1 << 3, HAVE_OPEN = 1 << 4,
};

typedef struct
{
  const char *product_id;   /* NULL when absent or not a string */
  const char *time;         /* NULL when absent or not a string */
  guint       have;         /* HAVE_*: the numbers read whole */
  double      price, best_bid, best_ask, volume_24h, open_24h;
  gboolean    has_seq, seq_int;             /* present; a 64-bit whole number */
  gint64      seq;
  gboolean    has_trade_id, trade_id_int;
  gint64      trade_id;
} Ticker;

/* The followed product of a code, or NULL. */
static Product *
find_product (ThCoinbase *self,
              const char *id)
{
  Product *p;

  if (self->last != NULL && strcmp (self->last->product_id, id) == 0)
    return self->last;
  p = g_hash_table_lookup (self->by_id, id);
  if (p != NULL)
    self->last = p;
  return p;
}

/* A ticker's checks and its tick, for both paths. Checks that fail
 * reject the message (counted and logged), unless @fast: then nothing is
 * done (not even the sequence's) and FALSE says so, for the general path
 * to take the message again and report it as it always has. */
#define REJECT(what) G_STMT_START { if (fast) return FALSE; what; return TRUE; } G_STMT_END

static gboolean
emit_ticker (ThCoinbase   *self,
             const Ticker *t,
             gboolean      fast)
{
  g_autoptr(ThTick) tick = NULL;
  Product *p;
  gint64 time, trade_id;

  if (t->product_id == NULL)
    REJECT (bad (self, "no product_id", "ticker"));
  p = find_product (self, t->product_id);
  if (p == NULL)
    {
      g_autofree char *what = NULL;

      /* Only what we follow: a product we did not ask for is not ours to trust. */
      if (fast)
        return FALSE;
      what = g_strdup_printf ("a product that is not followed (“%s”)", t->product_id);
      bad (self, what, "ticker");
      return TRUE;
    }
  if (!(t->have & HAVE_PRICE) || t->price <= 0)
    REJECT (bad (self, "no positive price", "ticker"));
  /* ISO 8601 with a zone, such as 2022-10-19T23:28:22.061769Z, to µs
   * since the epoch; GDateTime's answers, its usual form read without one. */
  if (t->time == NULL || !_th_parse_iso8601 (t->time, &time) || time <= 0)
    REJECT (bad (self, "no ISO 8601 time", "ticker"));
  /* The sequence: absent is fine, anything but a whole number ≥ 0 is not
   * (an integer beyond 64 bits is not one: json-glib wrapped it around). */
  if (t->has_seq && (!t->seq_int || t->seq < 0))
    REJECT (bad (self, "a sequence that is not a whole number", "ticker"));
  /* Checked last: a message rejected above leaves the sequence alone. */
  if (t->has_seq)
    {
      const Sequence *s = &p->seq[SEQ_TICKER];

      /* What is_new() would drop (a repeat, a snapshot already used, one
       * out of order) the general path drops, with its report. */
      if (fast && s->last >= 0 && (t->seq == s->last || (t->seq < s->last && !s->resumed)))
        return FALSE;
      if (!is_new (self, p, SEQ_TICKER, t->seq, "ticker"))
        return TRUE;
    }

  /* The trade this price comes from, for the heartbeats (parse_heartbeat()). */
  trade_id = t->has_trade_id && t->trade_id_int && t->trade_id >= 0 ? t->trade_id : -1;

  tick = th_tick_new (p->symbol, "coinbase", TH_TICK_KIND_QUOTE, t->price, time);
  _th_tick_set_quote_static (tick, p->quote);
  if ((t->have & HAVE_BID) && t->best_bid > 0)
    tick->bid = t->best_bid;
  if ((t->have & HAVE_ASK) && t->best_ask > 0)
    tick->ask = t->best_ask;
  if ((t->have & HAVE_VOLUME) && t->volume_24h >= 0)
    tick->volume_24h = t->volume_24h;
  if ((t->have & HAVE_OPEN) && t->open_24h > 0)
    tick->change_24h = (t->price - t->open_24h) / t->open_24h * 100;
  _th_ws_feed_push_tick (TH_WS_FEED (self), tick);
  p->trade_id = trade_id;
  return TRUE;
}

#undef REJECT

/* The general path: the fields read from the tape. */
static void
parse_ticker (ThCoinbase *self,
              guint       obj)
{
  ThJsonReader *r = self->reader;
  Ticker t = { 0 };
  guint node;

  t.product_id = _th_json_reader_get_string (r, obj, "product_id");
  t.time = _th_json_reader_get_string (r, obj, "time");
#define READ_NUMBER(key, field, bit) \
  G_STMT_START { if (get_number (r, obj, (key), &t.field)) t.have |= (bit); } G_STMT_END
  READ_NUMBER ("price", price, HAVE_PRICE);
  READ_NUMBER ("best_bid", best_bid, HAVE_BID);
  READ_NUMBER ("best_ask", best_ask, HAVE_ASK);
  READ_NUMBER ("volume_24h", volume_24h, HAVE_VOLUME);
  READ_NUMBER ("open_24h", open_24h, HAVE_OPEN);
#undef READ_NUMBER
  node = _th_json_reader_member (r, obj, "sequence");
  t.has_seq = node != _TH_JSON_NONE;
  t.seq_int = t.has_seq && _th_json_reader_int (r, node, &t.seq);
  node = _th_json_reader_member (r, obj, "trade_id");
  t.has_trade_id = node != _TH_JSON_NONE;
  t.trade_id_int = t.has_trade_id && _th_json_reader_int (r, node, &t.trade_id);
  emit_ticker (self, &t, FALSE);
}

/* The fast path: the ticker as Coinbase sends it, matched whole by a shape
 * (th-json-shape.h), its fields taken from it. A frame that does not
 * match, or that a check would reject, goes to the general path unchanged.
 * The values the general path reads are $n and $i; the others only need
 * to be strings, which it never looks at. */
enum
{
  T_SEQUENCE, T_PRODUCT_ID, T_PRICE, T_OPEN_24H, T_VOLUME_24H, T_LOW_24H, T_HIGH_24H, T_VOLUME_30D,
  T_BEST_BID, T_BEST_BID_SIZE, T_BEST_ASK, T_BEST_ASK_SIZE, T_SIDE, T_TIME, T_TRADE_ID, T_LAST_SIZE,
};

static const char ticker_layout[] =
  "{\"type\":\"ticker\",\"sequence\":$i,\"product_id\":$s,\"price\":$n,\"open_24h\":$n,\"volume_24h\":$n,"
  "\"low_24h\":$s,\"high_24h\":$s,\"volume_30d\":$s,\"best_bid\":$n,\"best_bid_size\":$s,\"best_ask\":$n,"
  "\"best_ask_size\":$s,\"side\":$s,\"time\":$s,\"trade_id\":$i,\"last_size\":$s}";

static ThJsonShape *ticker_shape;

static void
compile_shapes (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      ticker_shape = _th_json_shape_new (ticker_layout, NULL);
      g_assert (ticker_shape != NULL);
      g_once_init_leave (&done, 1);
    }
}

/* A plain string value as a C string in @buf, or FALSE when too long. */
static gboolean
copy_value (const ThJsonShapeValue *v,
            char                   *buf,
            gsize                   size)
{
  if (v->len >= size)
    return FALSE;
  memcpy (buf, v->s, v->len);
  buf[v->len] = '\0';
  return TRUE;
}

/* Whether the shape took the frame (its tick pushed). */
static gboolean
try_shape (ThCoinbase *self,
           const char *text,
           gsize       length)
{
  ThJsonShapeValue v[_TH_JSON_SHAPE_MAX_VALUES];
  char id[64], time[64];
  Ticker t = { 0 };

  if (length < 16 || memcmp (text, "{\"type\":\"ticker\"", 16) != 0 ||
      !_th_json_shape_match (ticker_shape, text, length, v) ||
      !copy_value (&v[T_PRODUCT_ID], id, sizeof id) || !copy_value (&v[T_TIME], time, sizeof time))
    return FALSE;
  t.product_id = id;
  t.time = time;
  t.have = HAVE_PRICE | HAVE_BID | HAVE_ASK | HAVE_VOLUME | HAVE_OPEN;
  t.price = v[T_PRICE].n;
  t.best_bid = v[T_BEST_BID].n;
  t.best_ask = v[T_BEST_ASK].n;
  t.volume_24h = v[T_VOLUME_24H].n;
  t.open_24h = v[T_OPEN_24H].n;
  t.has_seq = t.seq_int = TRUE;
  t.seq = v[T_SEQUENCE].i;
  t.has_trade_id = t.trade_id_int = TRUE;
  t.trade_id = v[T_TRADE_ID].i;
  return emit_ticker (self, &t, TRUE);
}

static void
parse_match (ThCoinbase *self,
             guint       obj,
             const char *type)
{
  Product *p = product_of (self, obj, type);
  g_autoptr(ThTick) tick = NULL;
  double price, size;
  gint64 time, seq = 0;
  gboolean has_seq;

  if (p == NULL)
    return;
  if (!get_number (self->reader, obj, "price", &price) || price <= 0)
    {
      bad (self, "no positive price", type);
      return;
    }
  if (!get_number (self->reader, obj, "size", &size) || size < 0)
    {
      bad (self, "no size", type);
      return;
    }
  if (!get_time (self->reader, obj, "time", &time))
    {
      bad (self, "no ISO 8601 time", type);
      return;
    }
  /* Trades are numbered by trade_id, one by one per product: that is what
   * shows a missed trade. (`sequence` is the product's order-book sequence,
   * which jumps between two trades.) */
  if (!get_sequence (self->reader, obj, "trade_id", &seq, &has_seq))
    {
      bad (self, "a trade_id that is not a whole number", type);
      return;
    }
  if (has_seq && !is_new (self, p, SEQ_MATCHES, seq, type))
    return;

  /* `side` is the MAKER's side: a "sell" match is a taker buy (an uptick),
   * the opposite of the ticker's and most venues' taker side. Candles need
   * only the price and the size, so it is not used. */
  tick = th_tick_new (p->symbol, "coinbase", TH_TICK_KIND_TRADE, price, time);
  _th_tick_set_quote_static (tick, p->quote);
  tick->size = size;
  _th_ws_feed_push_tick (TH_WS_FEED (self), tick);
  p->trade_id = has_seq ? seq : -1;
}

static void
parse_heartbeat (ThCoinbase *self,
                 guint       obj)
{
  Product *p = product_of (self, obj, "heartbeat");
  gint64 seq = 0, last_trade_id = 0;
  gboolean has_seq, has_trade_id;

  if (p == NULL)
    return;
  if (!get_sequence (self->reader, obj, "sequence", &seq, &has_seq))
    {
      bad (self, "a sequence that is not a whole number", "heartbeat");
      return;
    }
  if (!has_seq)
    return;

  /* A heartbeat repeats the last sequence when the product was quiet for
   * that second: that is fine. */
  if (check_sequence (self, p, SEQ_HEARTBEAT, seq) == SEQ_OLD)
    {
      g_autofree char *what = g_strdup_printf ("%s: sequence %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT " (out of order)",
                                               p->product_id, seq, p->seq[SEQ_HEARTBEAT].last);

      bad (self, what, "heartbeat");
      return;
    }

  /* The ticker only comes with a trade, so a quiet product would expire
   * against its ttl between trades. A heartbeat naming the very trade our
   * last price came from says that price is still the latest: it stays
   * fresh. A later last_trade_id means we missed a trade: no such claim. */
  if (p->trade_id >= 0 && get_sequence (self->reader, obj, "last_trade_id", &last_trade_id, &has_trade_id) &&
      has_trade_id && last_trade_id == p->trade_id)
    th_hub_confirm_price (th_ws_feed_get_hub (TH_WS_FEED (self)), "coinbase", p->symbol);
}

/* The product ids of channel @name in a subscriptions message (an array),
 * or _TH_JSON_NONE. */
static guint
subscribed_products (ThJsonReader *r,
                     guint         channels,
                     const char   *name)
{
  for (guint ch = _th_json_reader_first (r, channels); ch != _TH_JSON_NONE && ch < _th_json_reader_next (r, channels);
       ch = _th_json_reader_next (r, ch))
    {
      guint ids;

      if (_th_json_reader_kind (r, ch) != _TH_JSON_KIND_OBJECT ||
          g_strcmp0 (_th_json_reader_get_string (r, ch, "name"), name) != 0)
        continue;
      ids = _th_json_reader_member (r, ch, "product_ids");
      return ids != _TH_JSON_NONE && _th_json_reader_kind (r, ids) == _TH_JSON_KIND_ARRAY ? ids : _TH_JSON_NONE;
    }
  return _TH_JSON_NONE;
}

static gboolean
array_has_string (ThJsonReader *r,
                  guint         array,
                  const char   *s)
{
  if (array == _TH_JSON_NONE)
    return FALSE;
  for (guint e = _th_json_reader_first (r, array); e != _TH_JSON_NONE && e < _th_json_reader_next (r, array);
       e = _th_json_reader_next (r, e))
    if (_th_json_reader_string_is (r, e, s))
      return TRUE;
  return FALSE;
}

/* The cumulative answer to our subscribe: is everything there? */
static void
parse_subscriptions (ThCoinbase *self,
                     guint       obj)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  ThJsonReader *r = self->reader;
  guint channels = _th_json_reader_member (r, obj, "channels");
  g_autoptr(GString) missing = g_string_new (NULL);
  guint n_ok = 0;

  if (channels == _TH_JSON_NONE || _th_json_reader_kind (r, channels) != _TH_JSON_KIND_ARRAY)
    {
      bad (self, "no channel list", "subscriptions");
      return;
    }

  /* missing: "ticker ETH-USD, SOL-USD; heartbeat ETH-USD" */
  for (guint c = 0; self->channels[c] != NULL; c++)
    {
      guint ids = subscribed_products (r, channels, self->channels[c]);
      gsize start = missing->len;

      for (guint i = 0; i < self->products->len; i++)
        {
          const char *id = ((Product *) self->products->pdata[i])->product_id;

          if (array_has_string (r, ids, id))
            n_ok++;
          else if (missing->len == start)
            g_string_append_printf (missing, "%s%s %s", start > 0 ? "; " : "", self->channels[c], id);
          else
            g_string_append_printf (missing, ", %s", id);
        }
    }

  /* A subscriptions message parsed from a recording changes no state. */
  if (!th_ws_feed_is_open (feed))
    return;

  if (missing->len == 0)
    {
      if (th_ws_feed_get_state (feed) == TH_SOURCE_STATE_CONNECTING)
        th_ws_feed_set_state (feed, TH_SOURCE_STATE_CONNECTING, "subscribed; waiting for the first price");
      return;
    }

  g_message ("coinbase: Coinbase did not subscribe %s", missing->str);
  if (n_ok == 0)
    {
      g_autofree char *reason = g_strdup_printf ("Coinbase subscribed nothing of what was asked (missing %s)", missing->str);

      th_ws_feed_set_state (feed, TH_SOURCE_STATE_DOWN, reason);
    }
  else if (th_ws_feed_get_state (feed) == TH_SOURCE_STATE_CONNECTING)
    {
      g_autofree char *reason = g_strdup_printf ("subscribed, but Coinbase left out %s", missing->str);

      th_ws_feed_set_state (feed, TH_SOURCE_STATE_CONNECTING, reason);
    }
}

static void
parse_error (ThCoinbase *self,
             guint       obj)
{
  ThWsFeed *feed = TH_WS_FEED (self);
  const char *message = _th_json_reader_get_string (self->reader, obj, "message");
  const char *reason = _th_json_reader_get_string (self->reader, obj, "reason");
  g_autofree char *text = NULL;

  if (message == NULL || *message == '\0')
    message = "an error without a message";
  if (reason != NULL && *reason != '\0')
    text = g_strdup_printf ("Coinbase: %s: %s", message, reason);
  else
    text = g_strdup_printf ("Coinbase: %s", message);

  /* The connection stays: what was subscribed keeps coming, and the first
   * price makes the source live again. */
  if (th_ws_feed_is_open (feed))
    th_ws_feed_set_state (feed, TH_SOURCE_STATE_DOWN, text);
  else
    g_message ("coinbase: %s", text);
}

static void
th_coinbase_message (ThWsFeed   *feed,
                     const char *text,
                     gsize       length)
{
  ThCoinbase *self = TH_COINBASE (feed);
  g_autoptr(GError) error = NULL;
  ThJsonReader *r = self->reader;
  guint obj = 0;
  const char *type = NULL;

  if (length == (gsize) -1)
    length = strlen (text);
  if (try_shape (self, text, length))
    return;
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

  type = _th_json_reader_get_string (r, obj, "type");
  if (type == NULL)
    {
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a message without a type");
      return;
    }

  if (g_str_equal (type, "ticker"))
    parse_ticker (self, obj);
  else if (g_str_equal (type, "heartbeat"))
    parse_heartbeat (self, obj);
  else if (g_str_equal (type, "match") || g_str_equal (type, "last_match"))
    parse_match (self, obj, type);
  else if (g_str_equal (type, "subscriptions"))
    parse_subscriptions (self, obj);
  else if (g_str_equal (type, "error"))
    parse_error (self, obj);
  else
    {
      /* `status`, and whatever Coinbase adds: ignored, as it asks. */
      g_autofree char *detail = g_strdup_printf ("message type “%s”", type);

      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, detail);
    }
}

/* Backfill */

typedef struct
{
  char      *product;
  gint64     duration;
  gint64     next;         /* the next page's first start, µs */
  gint64     to;
  GPtrArray *candles;
} CandlesFetch;

static void
candles_fetch_free (CandlesFetch *f)
{
  g_free (f->product);
  g_ptr_array_unref (f->candles);
  g_free (f);
}

static gboolean
row_number (JsonArray *row,
            guint      i,
            double    *out)
{
  JsonNode *node = json_array_get_element (row, i);
  GType type;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);
      char *end = NULL;

      *out = g_ascii_strtod (text, &end);
      return end != text && *end == '\0' && isfinite (*out);
    }
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_double (node);
  return isfinite (*out);
}

static void candles_request (GTask *task);

static gint
by_start (gconstpointer a,
          gconstpointer b)
{
  const ThCandle *x = *(ThCandle * const *) a, *y = *(ThCandle * const *) b;

  return x->start < y->start ? -1 : x->start > y->start;
}

static void
on_candles (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ThCoinbase *self = g_task_get_source_object (task);
  CandlesFetch *f = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = th_venue_rest_get_finish (self->rest, result, NULL, &error);
  gint64 page_end = MIN (f->to, f->next + CANDLES_LIMIT * f->duration);
  JsonArray *rows;
  guint n;

  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT, "coinbase: candles: the answer is not an array");
      return;
    }
  rows = json_node_get_array (root);
  n = json_array_get_length (rows);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (rows, i);
      JsonArray *row = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
      double t, l, h, o, c, v;
      gint64 start;
      ThCandle *candle;

      /* [time, low, high, open, close, volume]; odd rows are skipped. */
      if (row == NULL || json_array_get_length (row) < 6 || !row_number (row, 0, &t) ||
          !row_number (row, 1, &l) || !row_number (row, 2, &h) || !row_number (row, 3, &o) ||
          !row_number (row, 4, &c) || !row_number (row, 5, &v) || t != floor (t) || t < 0 || t > 1e12 ||
          o <= 0 || h <= 0 || l <= 0 || c <= 0 || v < 0 || h < l || h < MAX (o, c) || l > MIN (o, c))
        continue;
      start = (gint64) t * G_USEC_PER_SEC;
      /* Some may precede start; ours are those of this page, on the grid. */
      if (start < f->next || start >= page_end || start % f->duration != 0)
        continue;
      candle = th_candle_new (start, f->duration, o, h, l, c, v);
      candle->closed = TRUE;
      g_ptr_array_add (f->candles, candle);
    }

  if (page_end < f->to)
    {
      f->next = page_end;
      candles_request (g_steal_pointer (&task));
      return;
    }
  /* Newest first from Coinbase: oldest first, once each, for the hub. */
  g_ptr_array_sort (f->candles, by_start);
  for (guint i = 1; i < f->candles->len; i++)
    if (((ThCandle *) f->candles->pdata[i])->start == ((ThCandle *) f->candles->pdata[i - 1])->start)
      g_ptr_array_remove_index (f->candles, i--);
  g_task_return_pointer (task, g_ptr_array_ref (f->candles), (GDestroyNotify) g_ptr_array_unref);
}

static char *
iso (gint64 usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);

  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

static void
candles_request (GTask *task)
{
  ThCoinbase *self = g_task_get_source_object (task);
  CandlesFetch *f = g_task_get_task_data (task);
  gint64 last = MIN (f->to, f->next + CANDLES_LIMIT * f->duration) - f->duration;
  g_autofree char *start = iso (f->next);
  g_autofree char *end = iso (last);
  g_autofree char *url = g_strdup_printf ("%s/products/%s/candles?granularity=%" G_GINT64_FORMAT "&start=%s&end=%s",
                                          self->rest_url, f->product, f->duration / G_USEC_PER_SEC, start, end);

  th_venue_rest_get_async (self->rest, url, g_task_get_cancellable (task), on_candles, task);
}

static void
th_coinbase_fetch_candles_async (ThBackfill          *backfill,
                                 const char          *symbol,
                                 gint64               duration,
                                 gint64               from,
                                 gint64               to,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  ThCoinbase *self = TH_COINBASE (backfill);
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  const char *product = hub != NULL ? th_symbol_map_lookup (th_hub_get_symbol_map (hub), symbol, "coinbase") : NULL;
  gint64 s = duration / G_USEC_PER_SEC;
  CandlesFetch *f;

  g_task_set_source_tag (task, th_coinbase_fetch_candles_async);
  g_task_set_name (task, "[coinbase] candles");
  if (product == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL, "coinbase has no product for %s", symbol);
      return;
    }
  if (duration % G_USEC_PER_SEC != 0 || (s != 60 && s != 300 && s != 900 && s != 3600 && s != 21600 && s != 86400))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "coinbase has no candles of %" G_GINT64_FORMAT " s (only 1m, 5m, 15m, 1h, 6h, 1d)", s);
      return;
    }
  if (self->rest == NULL)
    self->rest = th_venue_rest_new ("coinbase", th_hub_get_clock (hub), REST_GAP, REST_BURST, MAX_WAIT);
  f = g_new0 (CandlesFetch, 1);
  f->product = g_strdup (product);
  f->duration = duration;
  f->next = from;
  f->to = to;
  f->candles = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  g_task_set_task_data (task, f, (GDestroyNotify) candles_fetch_free);
  if (from >= to)
    {
      g_task_return_pointer (task, g_ptr_array_ref (f->candles), (GDestroyNotify) g_ptr_array_unref);
      return;
    }
  candles_request (g_steal_pointer (&task));
}

static GPtrArray *
th_coinbase_fetch_candles_finish (ThBackfill    *backfill,
                                  GAsyncResult  *result,
                                  GArray       **trades,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, backfill), NULL);
  /* Coinbase does not say how many trades. */
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
th_coinbase_backfill_init (ThBackfillInterface *iface)
{
  iface->fetch_candles_async = th_coinbase_fetch_candles_async;
  iface->fetch_candles_finish = th_coinbase_fetch_candles_finish;
}

static void
th_coinbase_dispose (GObject *object)
{
  ThCoinbase *self = TH_COINBASE (object);

  g_clear_pointer (&self->listing, th_venue_listing_free);
  if (self->rest != NULL)
    th_venue_rest_shutdown (self->rest);
  g_clear_pointer (&self->rest, th_venue_rest_unref);
  G_OBJECT_CLASS (th_coinbase_parent_class)->dispose (object);
}

static void
th_coinbase_finalize (GObject *object)
{
  ThCoinbase *self = TH_COINBASE (object);

  g_free (self->rest_url);
  g_strfreev (self->channels);
  g_clear_pointer (&self->by_id, g_hash_table_unref);
  g_clear_pointer (&self->products, g_ptr_array_unref);
  g_free (self->subscribe);
  g_clear_pointer (&self->reader, _th_json_reader_free);
  G_OBJECT_CLASS (th_coinbase_parent_class)->finalize (object);
}

static void
th_coinbase_class_init (ThCoinbaseClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_coinbase_finalize;
  G_OBJECT_CLASS (klass)->dispose = th_coinbase_dispose;
  feed_class->name = "coinbase";
  feed_class->stale_after = 10;     /* heartbeats come every second */
  feed_class->max_age = 0;
  feed_class->max_attempts = 0;
  feed_class->configure = th_coinbase_configure;
  feed_class->build_url = th_coinbase_build_url;
  feed_class->opened = th_coinbase_opened;
  feed_class->message = th_coinbase_message;
  feed_class->closed = th_coinbase_closed;
}

static void
th_coinbase_class_finalize (ThCoinbaseClass *klass)
{
}

static void
th_coinbase_init (ThCoinbase *self)
{
  self->products = g_ptr_array_new_with_free_func (product_free);
  self->by_id = g_hash_table_new (g_str_hash, g_str_equal);
  compile_shapes ();
  self->reader = _th_json_reader_new ();
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_coinbase_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_COINBASE);
}
