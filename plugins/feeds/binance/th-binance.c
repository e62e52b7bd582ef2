/* th-binance.c: Binance spot market data
 *
 * One combined-stream connection, `{url}?streams=btcusdt@ticker/btcusdt@aggTrade/...`,
 * every payload wrapped as {"stream": NAME, "data": {...}}. Streams per
 * symbol come from `streams=` (default ticker;aggTrade): `ticker` (24 h
 * ticker, 1 s: last, bid, ask, base volume, change %), `aggTrade` and
 * `trade` (trades: price and quantity, for candle volume), `bookTicker`
 * (best bid/ask; the price is the mid), `miniTicker` (last, volume, change
 * from the open). Numbers arrive as strings; times in epoch ms.
 *
 * Limits (docs/venues.md): at most 1024 streams per connection (checked in
 * configure), 5 incoming messages/s (we send none after connecting: the
 * streams are in the URL), 300 connection attempts per 5 minutes (the base
 * class caps them), connections closed after 24 h (renewed after 23 h 50
 * min, the new one open before the old one closes), `serverShutdown`
 * announcing a close (reconnect at once). Pings are answered by the base.
 *
 * Backfill (ThBackfill): `GET {rest-url}/api/v3/klines?symbol=BTCUSDT
 * &interval=1m&startTime=&endTime=&limit=1000`, rows oldest first,
 * `[openTime ms, "open", "high", "low", "close", "volume", closeTime ms,
 * "quoteVolume", trades, ...]`; pages of 1,000 from the last open time on.
 * Requests go one at a time (th-venue-rest.c); a 429 or 418 waits its
 * Retry-After; the weight used this minute (`X-MBX-USED-WEIGHT-1M`) past
 * WEIGHT_PAUSE pauses the requests until the next minute. Odd rows (too
 * short, not numbers, high below low, off the interval's grid) are
 * skipped and counted (`backfill_rows_rejected`).
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

#define MAX_STREAMS 1024
/* Binance publishes no URL limit; servers commonly refuse request lines
 * over 8 KiB. A connection's URL stays under this (`max-url`). */
#define DEFAULT_MAX_URL 8000
#define DEFAULT_LISTING_MAX_AGE (24 * 3600)
/* Binance cuts a connection over 5 incoming messages a second, pongs
 * included: one request every 250 ms leaves room for the pongs. */
#define REQUEST_GAP_MS    250
/* Streams named in one SUBSCRIBE; Binance takes a list, we keep frames small. */
#define REQUEST_STREAMS   200
#define DEFAULT_REST_URL  "https://api.binance.com"
#define KLINES_LIMIT      1000
/* The spot REQUEST_WEIGHT limit is 6,000 a minute; a klines call of 1,000
 * rows weighs 2. Past this, the next call waits for the next minute. */
#define WEIGHT_PAUSE      5000
/* A Retry-After longer than this fails the fetch: the next venue is asked. */
#define MAX_WAIT          (120 * G_USEC_PER_SEC)

#define TH_TYPE_BINANCE (th_binance_get_type ())
G_DECLARE_FINAL_TYPE (ThBinance, th_binance, TH, BINANCE, ThWsFeed)

struct _ThBinance
{
  ThWsFeed    parent_instance;
  char      **streams;     /* stream names, e.g. btcusdt@ticker */
  ThJsonReader *reader;   /* the stream's messages, on a tape */
  char       *rest_url;    /* without a trailing slash */
  ThVenueRest *rest;       /* made at the first fetch */
  char      **kinds;       /* stream types, e.g. ticker */
  GPtrArray  *shards;      /* char*: each connection's streams, joined with / */
  guint       max_streams; /* per connection */
  guint       max_url;     /* bytes of a connection's URL */
  gsize       base_len;    /* of the URL before the streams */
  ThVenueListing *listing; /* exchangeInfo; NULL with listing=false */
  /* Live SUBSCRIBE/UNSUBSCRIBE on the open connection */
  GQueue      outbox;      /* Request*, waiting for their turn */
  GHashTable *requests;    /* id → Request*, sent and not answered */
  guint       next_id;
  guint       send_id;     /* the send timer */
  guint64     requests_sent;
  guint64     requests_confirmed;
  guint64     requests_refused;
  guint64     rows_rejected;
  GHashTable *quotes;      /* code → interned quote currency (USDT for BTCUSDT) */
  /* The last code looked up (the table's own copy: entries are never
   * removed) and its quote: a stream is mostly one symbol after another,
   * and one comparison is a tenth of a hash lookup. */
  const char *last_code;
  const char *last_quote;
  guint       last_shape;  /* the layout (ShapeId) the last frame matched */
};

static void th_binance_backfill_init (ThBackfillInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThBinance, th_binance, TH_TYPE_WS_FEED, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_BACKFILL, th_binance_backfill_init))

static const char *quote_of (ThBinance *self, const char *code);

static const char *const known_streams[] = { "ticker", "aggTrade", "trade", "bookTicker", "miniTicker", NULL };

static void       queue_requests (ThBinance *self, const char *method, GPtrArray *streams);
static GPtrArray *streams_minus  (char **a, char **b);

/* The stream names of the symbols that have a Binance code now. */
static gboolean
build_streams (ThBinance  *self,
               GError    **error)
{
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  ThSymbolMap *map = th_hub_get_symbol_map (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  guint n = 0, unmapped = 0;

  for (guint s = 0; symbols[s] != NULL; s++)
    {
      const char *code = th_symbol_map_lookup (map, symbols[s], "binance");
      g_autofree char *lower = NULL;

      if (code == NULL)
        {
          /* The listing, when it comes, names them or reports them. */
          if (self->listing == NULL)
            g_message ("binance has no code for %s; add [symbols] %s=binance:<CODE> to follow it there",
                       symbols[s], symbols[s]);
          unmapped++;
          continue;
        }
      lower = g_ascii_strdown (code, -1);
      for (guint i = 0; self->kinds[i] != NULL; i++)
        {
          g_autofree char *name = g_strdup_printf ("%s@%s", lower, self->kinds[i]);

          g_strv_builder_add (names, name);
          n++;
        }
    }

  g_strfreev (self->streams);
  self->streams = g_strv_builder_end (names);

  /* Shards: as many connections as the stream count and URL length need,
   * each filled in order up to max-streams streams and max-url bytes. */
  g_ptr_array_set_size (self->shards, 0);
  {
    GString *shard = NULL;
    guint in_shard = 0;

    for (guint i = 0; self->streams[i] != NULL; i++)
      {
        gsize len = strlen (self->streams[i]);

        if (self->base_len + sizeof "?streams=" + len > self->max_url)
          {
            g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                         "[binance] max-url: %u bytes cannot hold even the stream %s; raise it",
                         self->max_url, self->streams[i]);
            if (shard != NULL)
              g_string_free (shard, TRUE);
            return FALSE;
          }
        if (shard != NULL &&
            (in_shard == self->max_streams || self->base_len + sizeof "?streams=" + shard->len + 1 + len > self->max_url))
          {
            g_ptr_array_add (self->shards, g_string_free (shard, FALSE));
            shard = NULL;
          }
        if (shard == NULL)
          {
            shard = g_string_new (NULL);
            in_shard = 0;
          }
        else
          g_string_append_c (shard, '/');
        g_string_append (shard, self->streams[i]);
        in_shard++;
      }
    if (shard != NULL)
      g_ptr_array_add (self->shards, g_string_free (shard, FALSE));
  }
  if (self->shards->len > 1)
    g_info ("binance: %u streams for %u symbols on %u connections (at most %u streams and %u bytes of URL each)",
            n, g_strv_length ((char **) symbols) - unmapped, self->shards->len, self->max_streams, self->max_url);
  th_ws_feed_set_connections (TH_WS_FEED (self), MAX (self->shards->len, 1));
  return TRUE;
}

/* The listing arrived: follow the symbols it names, from a new connection
 * when that changes the streams. */
static void
on_listing (ThVenueListing *listing,
            gpointer        data)
{
  ThBinance *self = data;
  ThWsFeed *feed = TH_WS_FEED (self);
  const char *const *symbols = th_hub_get_symbols (th_ws_feed_get_hub (feed));
  g_auto(GStrv) before = g_strdupv (self->streams);
  guint before_shards = self->shards->len;
  g_autoptr(GError) error = NULL;

  th_venue_listing_complete (listing, symbols);
  if (!build_streams (self, &error))
    {
      g_message ("binance: %s", error->message);
      return;
    }
  if (before == NULL || !g_strv_equal ((const char *const *) before, (const char *const *) self->streams))
    {
      g_autofree char *why = g_strdup_printf ("the listing changed the streams (%u now)", g_strv_length (self->streams));

      /* Live on the one open connection; sharded, new connections. */
      if (th_ws_feed_is_open (feed) && before != NULL && before[0] != NULL &&
          before_shards == 1 && self->shards->len == 1)
        {
          g_autoptr(GPtrArray) added = streams_minus (self->streams, before);
          g_autoptr(GPtrArray) removed = streams_minus (before, self->streams);

          /* On the open connection, within Binance's message rate. */
          queue_requests (self, "UNSUBSCRIBE", removed);
          queue_requests (self, "SUBSCRIBE", added);
        }
      else
        th_ws_feed_reconnect (feed, why, 0);
    }
}

static gboolean
th_binance_configure (ThWsFeed  *feed,
                      GError   **error)
{
  ThBinance *self = TH_BINANCE (feed);
  ThHub *hub = th_ws_feed_get_hub (feed);
  ThConfig *config = th_hub_get_config (hub);
  const char *const *symbols = th_hub_get_symbols (hub);
  g_auto(GStrv) kinds = NULL;

  if (!TH_WS_FEED_CLASS (th_binance_parent_class)->configure (feed, error))
    return FALSE;

  kinds = th_config_get_string_list (config, "binance", "streams");
  if (kinds == NULL)
    kinds = g_strsplit ("ticker;aggTrade", ";", -1);
  if (kinds[0] == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[binance] streams: empty; list some of ticker, aggTrade, trade, bookTicker, miniTicker");
      return FALSE;
    }
  for (guint i = 0; kinds[i] != NULL; i++)
    if (!g_strv_contains (known_streams, kinds[i]))
      {
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                     "[binance] streams: unknown stream “%s”; the streams are ticker, aggTrade, trade, bookTicker, miniTicker",
                     kinds[i]);
        return FALSE;
      }

  g_strfreev (self->kinds);
  self->kinds = g_steal_pointer (&kinds);

  {
    gint64 max_streams = th_config_get_int (config, "binance", "max-streams", MAX_STREAMS);
    gint64 max_url = th_config_get_int (config, "binance", "max-url", DEFAULT_MAX_URL);
    g_autofree char *url = th_config_get_string (config, "binance", "url", "");

    if (max_streams < 1 || max_streams > MAX_STREAMS)
      {
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                     "[binance] max-streams: %" G_GINT64_FORMAT " is not between 1 and %d, Binance's limit per connection",
                     max_streams, MAX_STREAMS);
        return FALSE;
      }
    if (max_url < 256)
      {
        g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                     "[binance] max-url: %" G_GINT64_FORMAT " bytes is too short for a URL; give at least 256 (default %d)",
                     max_url, DEFAULT_MAX_URL);
        return FALSE;
      }
    self->max_streams = (guint) max_streams;
    self->max_url = (guint) MIN (max_url, G_MAXUINT);
    self->base_len = strlen (url);
  }

  g_free (self->rest_url);
  self->rest_url = th_config_get_string (config, "binance", "rest-url", DEFAULT_REST_URL);
  while (g_str_has_suffix (self->rest_url, "/"))
    self->rest_url[strlen (self->rest_url) - 1] = '\0';

  g_clear_pointer (&self->listing, th_venue_listing_free);
  if (th_config_get_boolean (config, "binance", "listing", TRUE))
    {
      double max_age = th_config_get_double (config, "binance", "listing-max-age", DEFAULT_LISTING_MAX_AGE);
      g_autofree char *quote = th_config_get_string (config, "binance", "listing-quote", "USDT");
      g_autofree char *url = g_strdup_printf ("%s/api/v3/exchangeInfo", self->rest_url);

      if (max_age <= 0)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                       "[binance] listing-max-age: must be more than 0 seconds (default %d, a day)",
                       DEFAULT_LISTING_MAX_AGE);
          return FALSE;
        }
      self->listing = th_venue_listing_new ("binance", hub, url, quote, max_age, th_venue_listing_parse_binance);
      th_venue_listing_set_ready_func (self->listing, on_listing, self);
      /* A fresh cache fills the map now; otherwise the venue is asked
       * when the feed first connects (not at --check-config). */
      if (th_venue_listing_missing (self->listing, symbols) > 0 &&
          th_venue_listing_load_cache (self->listing, FALSE))
        th_venue_listing_complete (self->listing, symbols);
    }

  return build_streams (self, error);
}


static char *
th_binance_build_url (ThWsFeed  *feed,
                      GError   **error)
{
  ThBinance *self = TH_BINANCE (feed);
  g_autofree char *base = TH_WS_FEED_CLASS (th_binance_parent_class)->build_url (feed, error);
  guint shard;

  if (base == NULL)
    return NULL;
  if (self->listing != NULL && !th_venue_listing_has_codes (self->listing) &&
      th_venue_listing_missing (self->listing, th_hub_get_symbols (th_ws_feed_get_hub (feed))) > 0)
    th_venue_listing_fetch (self->listing);
  if ((self->streams == NULL || self->streams[0] == NULL) &&
      self->listing != NULL && th_venue_listing_is_fetching (self->listing))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_FAILED,
                           "waiting for Binance's listing (exchangeInfo) to find the symbols' codes");
      return NULL;
    }
  if (self->streams == NULL || self->streams[0] == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                           "no configured symbol has a Binance code; see [symbols]");
      return NULL;
    }
  shard = th_ws_feed_get_connection (feed);
  if (shard >= self->shards->len)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_FAILED, "connection %u has no streams (%u shards)", shard + 1, self->shards->len);
      return NULL;
    }
  return g_strdup_printf ("%s%sstreams=%s", base, strchr (base, '?') != NULL ? "&" : "?",
                          (const char *) self->shards->pdata[shard]);
}

#define HAS(r, obj, key) (_th_json_reader_member ((r), (obj), (key)) != _TH_JSON_NONE)

/* A venue number: a decimal string (or, leniently, a JSON number). */
static gboolean
get_number (ThJsonReader *r,
            guint         obj,
            const char   *member,
            double       *out)
{
  return _th_json_reader_get_number (r, obj, member, TRUE, out) == TH_JSON_FIELD_OK;
}

/* A member that is a whole number (json-glib's G_TYPE_INT64), as is. */
static gboolean
get_int (ThJsonReader *r,
         guint         obj,
         const char   *member,
         gint64       *out)
{
  guint node = _th_json_reader_member (r, obj, member);

  return node != _TH_JSON_NONE && _th_json_reader_int (r, node, out);
}

/* Epoch milliseconds to µs: more than G_MAXINT64 / 1000 would overflow
 * (fuzz/corpus/binance/time-overflow). */
static inline gboolean
time_of_ms (gboolean  have,
            gint64    ms,
            gint64   *out)
{
  if (!have || ms <= 0 || ms > G_MAXINT64 / 1000)
    return FALSE;
  *out = ms * 1000;
  return TRUE;
}

typedef enum
{
  EVENT_NONE,          /* no `e` (and not a bookTicker) */
  EVENT_TICKER,        /* 24hrTicker */
  EVENT_MINI_TICKER,   /* 24hrMiniTicker */
  EVENT_AGG_TRADE,
  EVENT_TRADE,
  EVENT_BOOK_TICKER,
  EVENT_OTHER,
} Event;

/* The fields of a payload that make its tick, as read by either path:
 * the tape reader's (parse_payload()) or a shape's (try_shapes()). */
enum
{
  HAVE_C = 1 << 0, HAVE_V = 1 << 1, HAVE_B = 1 << 2, HAVE_A = 1 << 3,
  HAVE_P_CHANGE = 1 << 4, HAVE_O = 1 << 5, HAVE_P = 1 << 6, HAVE_Q = 1 << 7,
  HAVE_E_TIME = 1 << 8, HAVE_T_TIME = 1 << 9,
};

typedef struct
{
  Event       event;
  const char *event_name;  /* `e` (or bookTicker); NULL for EVENT_NONE */
  const char *code;        /* `s` when a string, NUL-terminated; else NULL */
  gboolean    has_s;       /* `s` is there, whatever it is */
  guint       have;        /* HAVE_*: the numbers read whole */
  double      c, v, b, a, P, o, p, q;
  gint64      E, T;        /* epoch ms, as sent */
} Payload;

static Event
event_of (const char *name)
{
  if (name == NULL)
    return EVENT_NONE;
  if (g_str_equal (name, "24hrTicker"))
    return EVENT_TICKER;
  if (g_str_equal (name, "aggTrade"))
    return EVENT_AGG_TRADE;
  if (g_str_equal (name, "trade"))
    return EVENT_TRADE;
  if (g_str_equal (name, "bookTicker"))
    return EVENT_BOOK_TICKER;
  if (g_str_equal (name, "24hrMiniTicker"))
    return EVENT_MINI_TICKER;
  return EVENT_OTHER;
}

/* The followed symbol of a code, or NULL. */
static const char *
canonical (ThBinance  *self,
           const char *code)
{
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  const char *symbol = code != NULL ? th_symbol_map_reverse (th_hub_get_symbol_map (hub), "binance", code) : NULL;

  /* Only what we follow: a symbol we did not ask for is not ours to trust. */
  return symbol != NULL && th_hub_has_symbol (hub, symbol) ? symbol : NULL;
}

static void
bad (ThBinance  *self,
     const char *what,
     const char *event)
{
  g_autofree char *detail = g_strdup_printf ("%s in a %s message", what, event);

  th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, detail);
}

/* A payload's checks and its tick, for both paths. Checks that fail
 * reject the message (counted and logged), unless @fast: then nothing is
 * done and FALSE says so, for the general path to take the message again
 * and report it as it always has. */
#define REJECT(what) G_STMT_START { if (fast) return FALSE; what; return TRUE; } G_STMT_END

static gboolean
emit_payload (ThBinance     *self,
              const Payload *f,
              gboolean       fast)
{
  const char *symbol = canonical (self, f->code);
  const char *event = f->event_name;
  g_autoptr(ThTick) tick = NULL;
  double price;
  gint64 time;

  if (f->event == EVENT_NONE)
    REJECT (th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_UNKNOWN, "a payload without an event type"));
  if (symbol == NULL && f->has_s && f->event != EVENT_OTHER)
    REJECT (th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_VALUE, "a symbol that is not followed"));

  switch (f->event)
    {
    case EVENT_TICKER:
    case EVENT_MINI_TICKER:
      price = f->c;
      if (!(f->have & HAVE_C) || price <= 0)
        REJECT (bad (self, "no positive last price", event));
      if (!time_of_ms (f->have & HAVE_E_TIME, f->E, &time))
        REJECT (bad (self, "no event time", event));
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, price, time);
      if ((f->have & HAVE_V) && f->v >= 0)
        tick->volume_24h = f->v;
      if (f->event == EVENT_TICKER)
        {
          if ((f->have & HAVE_B) && f->b > 0)
            tick->bid = f->b;
          if ((f->have & HAVE_A) && f->a > 0)
            tick->ask = f->a;
          if (f->have & HAVE_P_CHANGE)
            tick->change_24h = f->P;
        }
      else if ((f->have & HAVE_O) && f->o > 0)
        tick->change_24h = (price - f->o) / f->o * 100;
      break;

    case EVENT_AGG_TRADE:
    case EVENT_TRADE:
      price = f->p;
      if (!(f->have & HAVE_P) || price <= 0)
        REJECT (bad (self, "no positive price", event));
      if (!(f->have & HAVE_Q) || f->q < 0)
        REJECT (bad (self, "no quantity", event));
      if (!time_of_ms (f->have & HAVE_T_TIME, f->T, &time) && !time_of_ms (f->have & HAVE_E_TIME, f->E, &time))
        REJECT (bad (self, "no trade time", event));
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_TRADE, price, time);
      tick->size = f->q;
      break;

    case EVENT_BOOK_TICKER:
      if (!(f->have & HAVE_B) || !(f->have & HAVE_A) || f->b <= 0 || f->a <= 0 || f->a < f->b)
        REJECT (bad (self, "no sane bid and ask", event));
      /* No event time in bookTicker: the receive time stands in. */
      tick = th_tick_new (symbol, "binance", TH_TICK_KIND_QUOTE, (f->b + f->a) / 2,
                          _th_ws_feed_get_receive_time (TH_WS_FEED (self)));
      tick->bid = f->b;
      tick->ask = f->a;
      break;

    case EVENT_OTHER:
    case EVENT_NONE:
    default:
      {
        g_autofree char *detail = NULL;

        if (fast)
          return FALSE;
        detail = g_strdup_printf ("event type “%s”", event);
        th_ws_feed_reject (TH_WS_FEED (self), TH_WS_FEED_REJECT_UNKNOWN, detail);
        return TRUE;
      }
    }

  /* quote_of() gives an interned string: no copy. */
  _th_tick_set_quote_static (tick, quote_of (self, f->code));
  _th_ws_feed_push_tick (TH_WS_FEED (self), tick);
  return TRUE;
}

#undef REJECT

/* One number into a Payload. */
#define READ_NUMBER(r, obj, key, field, bit) \
  G_STMT_START { if (get_number ((r), (obj), (key), &f.field)) f.have |= (bit); } G_STMT_END

/* The general path: the fields read from the tape. */
static void
parse_payload (ThBinance  *self,
               guint       data)
{
  ThJsonReader *r = self->reader;
  const char *event = _th_json_reader_get_string (r, data, "e");
  Payload f = { 0 };

  if (g_strcmp0 (event, "serverShutdown") == 0)
    {
      th_ws_feed_reconnect (TH_WS_FEED (self), "Binance announced a server shutdown", 0);
      return;
    }

  f.code = _th_json_reader_get_string (r, data, "s");
  f.has_s = f.code != NULL || HAS (r, data, "s");
  if (event == NULL && HAS (r, data, "u") && HAS (r, data, "b"))
    event = "bookTicker";
  f.event = event_of (event);
  f.event_name = event;

  switch (f.event)
    {
    case EVENT_TICKER:
      READ_NUMBER (r, data, "b", b, HAVE_B);
      READ_NUMBER (r, data, "a", a, HAVE_A);
      READ_NUMBER (r, data, "P", P, HAVE_P_CHANGE);
      G_GNUC_FALLTHROUGH;
    case EVENT_MINI_TICKER:
      READ_NUMBER (r, data, "c", c, HAVE_C);
      READ_NUMBER (r, data, "v", v, HAVE_V);
      if (f.event == EVENT_MINI_TICKER)
        READ_NUMBER (r, data, "o", o, HAVE_O);
      if (get_int (r, data, "E", &f.E))
        f.have |= HAVE_E_TIME;
      break;
    case EVENT_AGG_TRADE:
    case EVENT_TRADE:
      READ_NUMBER (r, data, "p", p, HAVE_P);
      READ_NUMBER (r, data, "q", q, HAVE_Q);
      if (get_int (r, data, "T", &f.T))
        f.have |= HAVE_T_TIME;
      if (get_int (r, data, "E", &f.E))
        f.have |= HAVE_E_TIME;
      break;
    case EVENT_BOOK_TICKER:
      READ_NUMBER (r, data, "b", b, HAVE_B);
      READ_NUMBER (r, data, "a", a, HAVE_A);
      break;
    case EVENT_NONE:
    case EVENT_OTHER:
    default:
      break;
    }
  emit_payload (self, &f, FALSE);
}

#undef READ_NUMBER

/* The fast path: the layouts Binance sends (and the test venues), matched
 * whole by a shape (th-json-shape.h), their fields taken from it. A frame
 * that matches none, or whose payload a check would reject, goes to the
 * general path unchanged. */

typedef enum
{
  SHAPE_AGG_TRADE,
  SHAPE_TRADE,
  SHAPE_TRADE_IDS,     /* older trades, with the buyer's and seller's order ids */
  SHAPE_TICKER,
  N_SHAPES
} ShapeId;

/* Each payload's layout; the values the general path reads are $n and $i,
 * the others only need to be strings ($s) or whole numbers ($i), which
 * the general path never looks at. Index of `s` and of the fields read. */
static const struct
{
  const char *payload;
  Event       event;
  const char *event_name;
  gint8       s, E, T, p, q, c, v, b, a, P;
} shape_layouts[N_SHAPES] = {
  [SHAPE_AGG_TRADE] = {
    "{\"e\":\"aggTrade\",\"E\":$i,\"s\":$s,\"a\":$i,\"p\":$n,\"q\":$n,\"f\":$i,\"l\":$i,\"T\":$i,\"m\":$b,\"M\":$b}",
    EVENT_AGG_TRADE, "aggTrade", .s = 1, .E = 0, .T = 7, .p = 3, .q = 4, .c = -1, .v = -1, .b = -1, .a = -1, .P = -1 },
  [SHAPE_TRADE] = {
    "{\"e\":\"trade\",\"E\":$i,\"s\":$s,\"t\":$i,\"p\":$n,\"q\":$n,\"T\":$i,\"m\":$b,\"M\":$b}",
    EVENT_TRADE, "trade", .s = 1, .E = 0, .T = 5, .p = 3, .q = 4, .c = -1, .v = -1, .b = -1, .a = -1, .P = -1 },
  [SHAPE_TRADE_IDS] = {
    "{\"e\":\"trade\",\"E\":$i,\"s\":$s,\"t\":$i,\"p\":$n,\"q\":$n,\"b\":$i,\"a\":$i,\"T\":$i,\"m\":$b,\"M\":$b}",
    EVENT_TRADE, "trade", .s = 1, .E = 0, .T = 7, .p = 3, .q = 4, .c = -1, .v = -1, .b = -1, .a = -1, .P = -1 },
  [SHAPE_TICKER] = {
    "{\"e\":\"24hrTicker\",\"E\":$i,\"s\":$s,\"p\":$s,\"P\":$n,\"w\":$s,\"x\":$s,\"c\":$n,\"Q\":$s,\"b\":$n,\"B\":$s,"
    "\"a\":$n,\"A\":$s,\"o\":$s,\"h\":$s,\"l\":$s,\"v\":$n,\"q\":$s,\"O\":$i,\"C\":$i,\"F\":$i,\"L\":$i,\"n\":$i}",
    EVENT_TICKER, "24hrTicker", .s = 1, .E = 0, .T = -1, .p = -1, .q = -1, .c = 6, .v = 15, .b = 8, .a = 10, .P = 3 },
};

/* Combined streams ({"stream":…,"data":{…}}, one value more first), then raw ones. */
static ThJsonShape *combined_shapes[N_SHAPES];
static ThJsonShape *raw_shapes[N_SHAPES];

static void
compile_shapes (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (guint i = 0; i < N_SHAPES; i++)
        {
          g_autofree char *combined = g_strdup_printf ("{\"stream\":$s,\"data\":%s}", shape_layouts[i].payload);

          combined_shapes[i] = _th_json_shape_new (combined, NULL);
          raw_shapes[i] = _th_json_shape_new (shape_layouts[i].payload, NULL);
          g_assert (combined_shapes[i] != NULL && raw_shapes[i] != NULL);
        }
      g_once_init_leave (&done, 1);
    }
}

/* Whether a shape took the frame (its tick pushed). */
static gboolean
try_shapes (ThBinance  *self,
            const char *text,
            gsize       length)
{
  ThJsonShapeValue values[_TH_JSON_SHAPE_MAX_VALUES];
  ThJsonShape **shapes;
  const ThJsonShapeValue *v;
  char code[64];
  Payload f = { 0 };
  guint i;

  if (length > 8 && memcmp (text, "{\"stream\"", 9) == 0)
    shapes = combined_shapes;
  else if (length > 5 && memcmp (text, "{\"e\":\"", 6) == 0)
    shapes = raw_shapes;
  else
    return FALSE;

  /* The layout of the last frame first: streams come in runs. */
  for (guint k = 0; ; k++)
    {
      if (k == N_SHAPES)
        return FALSE;
      i = (self->last_shape + k) % N_SHAPES;
      if (_th_json_shape_match (shapes[i], text, length, values))
        break;
    }
  self->last_shape = i;

  /* The combined shapes' first value is the stream's name. */
  v = shapes == combined_shapes ? values + 1 : values;
#define NUMBER(field, bit) \
  G_STMT_START { if (shape_layouts[i].field >= 0) { f.field = v[shape_layouts[i].field].n; f.have |= (bit); } } G_STMT_END
  NUMBER (c, HAVE_C);
  NUMBER (v, HAVE_V);
  NUMBER (b, HAVE_B);
  NUMBER (a, HAVE_A);
  NUMBER (P, HAVE_P_CHANGE);
  NUMBER (p, HAVE_P);
  NUMBER (q, HAVE_Q);
#undef NUMBER
  f.E = v[shape_layouts[i].E].i;
  f.have |= HAVE_E_TIME;
  if (shape_layouts[i].T >= 0)
    {
      f.T = v[shape_layouts[i].T].i;
      f.have |= HAVE_T_TIME;
    }
  if (v[shape_layouts[i].s].len >= sizeof code)
    return FALSE;
  memcpy (code, v[shape_layouts[i].s].s, v[shape_layouts[i].s].len);
  code[v[shape_layouts[i].s].len] = '\0';
  f.code = code;
  f.has_s = TRUE;
  f.event = shape_layouts[i].event;
  f.event_name = shape_layouts[i].event_name;
  return emit_payload (self, &f, TRUE);
}

static void
th_binance_message (ThWsFeed   *feed,
                    const char *text,
                    gsize       length)
{
  ThBinance *self = TH_BINANCE (feed);
  g_autoptr(GError) error = NULL;
  ThJsonReader *r = self->reader;
  guint obj = 0;
  guint data;

  if (length == (gsize) -1)
    length = strlen (text);
  if (try_shapes (self, text, length))
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

  /* Replies to requests: {"result":null,"id":1}, errors {"code":..,"msg":..}. */
  if (HAS (r, obj, "id") && HAS (r, obj, "result"))
    return;
  if (HAS (r, obj, "code") && HAS (r, obj, "msg"))
    {
      gint64 code = 0;
      const char *msg = _th_json_reader_get_string (r, obj, "msg");
      g_autofree char *reason = g_strdup_printf ("Binance error %" G_GINT64_FORMAT ": %s",
                                                 _th_json_reader_int (r, _th_json_reader_member (r, obj, "code"), &code)
                                                   ? code : 0,
                                                 msg != NULL ? msg : "?");

      g_message ("%s", reason);
      th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, reason);
      return;
    }

  data = _th_json_reader_member (r, obj, "data");
  if (data != _TH_JSON_NONE && _th_json_reader_kind (r, data) == _TH_JSON_KIND_OBJECT)
    parse_payload (self, data);
  else if (HAS (r, obj, "e"))
    parse_payload (self, obj);   /* a raw (non-combined) stream */
  else if (data != _TH_JSON_NONE && _th_json_reader_kind (r, data) == _TH_JSON_KIND_ARRAY)
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "an array stream (not subscribed)");
  else
    th_ws_feed_reject (feed, TH_WS_FEED_REJECT_UNKNOWN, "a message without data");
}

/* Live subscriptions. A request goes out at most every REQUEST_GAP_MS;
 * its answer, {"result":null,"id":N} or {"code":…,"msg":…,"id":N}, is
 * matched by id in handle_answer(), before the stream parser sees it. */

typedef struct
{
  guint  id;
  char  *method;    /* SUBSCRIBE or UNSUBSCRIBE */
  char  *text;      /* the JSON request */
  guint  n_streams;
} Request;

static void
request_free (gpointer data)
{
  Request *r = data;

  g_free (r->method);
  g_free (r->text);
  g_free (r);
}

static void
drop_requests (ThBinance *self)
{
  g_queue_clear_full (&self->outbox, request_free);
  if (self->requests != NULL)
    g_hash_table_remove_all (self->requests);
  g_clear_handle_id (&self->send_id, g_source_remove);
}

static gboolean
on_send (gpointer data)
{
  ThBinance *self = data;
  Request *r = g_queue_pop_head (&self->outbox);

  if (r == NULL || !th_ws_feed_is_open (TH_WS_FEED (self)))
    {
      if (r != NULL)
        request_free (r);
      self->send_id = 0;
      return G_SOURCE_REMOVE;
    }
  th_ws_feed_send_text (TH_WS_FEED (self), r->text);
  self->requests_sent++;
  g_debug ("binance: request %u: %s %u streams", r->id, r->method, r->n_streams);
  g_hash_table_insert (self->requests, GUINT_TO_POINTER (r->id), r);
  if (g_queue_is_empty (&self->outbox))
    {
      self->send_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
queue_requests (ThBinance  *self,
                const char *method,
                GPtrArray  *streams)
{
  for (guint start = 0; start < streams->len; start += REQUEST_STREAMS)
    {
      g_autoptr(JsonBuilder) b = json_builder_new_immutable ();
      g_autoptr(JsonNode) root = NULL;
      Request *r = g_new0 (Request, 1);

      r->id = ++self->next_id;
      r->method = g_strdup (method);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "method");
      json_builder_add_string_value (b, method);
      json_builder_set_member_name (b, "params");
      json_builder_begin_array (b);
      for (guint i = start; i < streams->len && i < start + REQUEST_STREAMS; i++, r->n_streams++)
        json_builder_add_string_value (b, streams->pdata[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, r->id);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      r->text = json_to_string (root, FALSE);
      g_queue_push_tail (&self->outbox, r);
    }
  if (self->send_id == 0 && !g_queue_is_empty (&self->outbox))
    {
      /* The first at once, the next ones spaced. */
      on_send (self);
      if (!g_queue_is_empty (&self->outbox))
        self->send_id = g_timeout_add (REQUEST_GAP_MS, on_send, self);
    }
}

/* Streams in @a and not in @b. */
static GPtrArray *
streams_minus (char **a,
               char **b)
{
  GPtrArray *out = g_ptr_array_new ();
  g_autoptr(GHashTable) set = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; b != NULL && b[i] != NULL; i++)
    g_hash_table_add (set, b[i]);
  for (guint i = 0; a != NULL && a[i] != NULL; i++)
    if (!g_hash_table_contains (set, a[i]))
      g_ptr_array_add (out, a[i]);
  return out;
}

/* An answer to one of our requests? Then it is handled here and the stream
 * parser never sees it. Answers are small and start with one of these
 * members; stream frames start with "stream" (or "e", raw). */
static gboolean
handle_answer (ThBinance  *self,
               const char *text,
               gsize       length)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *obj;
  JsonNode *root, *id_node;
  Request *r;
  gint64 id;

  /* Stream messages ({"stream":…} or {"e":…}) fail on the third byte. */
  if (length < 3 || text[0] != '{' || text[1] != '"' || (text[2] != 'r' && text[2] != 'c' && text[2] != 'i'))
    return FALSE;
  if (!g_str_has_prefix (text, "{\"result\"") && !g_str_has_prefix (text, "{\"code\"") &&
      !g_str_has_prefix (text, "{\"id\""))
    return FALSE;
  if (g_hash_table_size (self->requests) == 0 || length > 4096)
    return FALSE;
  parser = json_parser_new_immutable ();
  if (!th_json_parser_load (parser, text, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return FALSE;
  obj = json_node_get_object (root);
  id_node = json_object_get_member (obj, "id");
  if (id_node == NULL || !JSON_NODE_HOLDS_VALUE (id_node) || json_node_get_value_type (id_node) != G_TYPE_INT64)
    return FALSE;
  id = json_node_get_int (id_node);
  if (id <= 0 || id > G_MAXUINT || (r = g_hash_table_lookup (self->requests, GUINT_TO_POINTER ((guint) id))) == NULL)
    return FALSE;   /* not ours: the parser counts it */

  if (json_object_has_member (obj, "result"))
    self->requests_confirmed++;
  else
    {
      self->requests_refused++;
      g_message ("binance refused request %u (%s of %u streams): %s", r->id, r->method, r->n_streams,
                 th_json_object_get_string (obj, "msg") != NULL ? th_json_object_get_string (obj, "msg") : "no reason given");
    }
  g_hash_table_remove (self->requests, GUINT_TO_POINTER (r->id));
  return TRUE;
}

static void
th_binance_dispatch (ThWsFeed   *feed,
                     const char *text,
                     gsize       length)
{
  if (!handle_answer (TH_BINANCE (feed), text, length))
    th_binance_message (feed, text, length);
}

static void
th_binance_closed (ThWsFeed *feed)
{
  /* A new connection names every stream in its URL. */
  drop_requests (TH_BINANCE (feed));
}

/* Backfill */

typedef struct
{
  char      *code;
  const char *interval;
  gint64     duration;
  gint64     next;         /* the next page's start, µs */
  gint64     to;
  GPtrArray *candles;
  GArray    *trades;
} KlinesFetch;

static void
klines_fetch_free (KlinesFetch *f)
{
  g_free (f->code);
  g_ptr_array_unref (f->candles);
  g_array_unref (f->trades);
  g_free (f);
}

static const char *
interval_of (gint64 duration)
{
  static const struct { gint64 s; const char *name; } intervals[] = {
    { 60, "1m" }, { 180, "3m" }, { 300, "5m" }, { 900, "15m" }, { 1800, "30m" }, { 3600, "1h" },
    { 7200, "2h" }, { 14400, "4h" }, { 21600, "6h" }, { 28800, "8h" }, { 43200, "12h" },
    { 86400, "1d" }, { 259200, "3d" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
    if (intervals[i].s * G_USEC_PER_SEC == duration)
      return intervals[i].name;
  return NULL;
}

static gboolean
row_number (JsonArray *row,
            guint      i,
            double    *out)
{
  JsonNode *node = json_array_get_element (row, i);
  const char *text;
  char *end = NULL;

  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      text = json_node_get_string (node);
      *out = g_ascii_strtod (text, &end);
      return end != text && *end == '\0' && isfinite (*out);
    }
  if (json_node_get_value_type (node) == G_TYPE_DOUBLE || json_node_get_value_type (node) == G_TYPE_INT64)
    {
      *out = json_node_get_double (node);
      return isfinite (*out);
    }
  return FALSE;
}

static gboolean
row_int (JsonArray *row,
         guint      i,
         gint64    *out)
{
  JsonNode *node = json_array_get_element (row, i);

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static void klines_request (GTask *task);

static void
on_klines (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ThBinance *self = g_task_get_source_object (task);
  KlinesFetch *f = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = th_venue_rest_get_finish (self->rest, result, NULL, &error);
  JsonArray *rows;
  gint64 last = -1;
  guint n;

  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT, "binance: klines: the answer is not an array");
      return;
    }
  rows = json_node_get_array (root);
  n = json_array_get_length (rows);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *node = json_array_get_element (rows, i);
      JsonArray *row = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
      double o, h, l, c, v;
      gint64 start, trades = -1;
      ThCandle *candle;

      if (row == NULL || json_array_get_length (row) < 6 || !row_int (row, 0, &start) ||
          !row_number (row, 1, &o) || !row_number (row, 2, &h) || !row_number (row, 3, &l) ||
          !row_number (row, 4, &c) || !row_number (row, 5, &v) ||
          o <= 0 || h <= 0 || l <= 0 || c <= 0 || v < 0 || h < l || h < MAX (o, c) || l > MIN (o, c) ||
          start < 0 || start > G_MAXINT64 / 1000 || (start * 1000) % f->duration != 0)
        {
          self->rows_rejected++;
          continue;
        }
      start *= 1000;
      last = MAX (last, start);
      if (start < f->next || start >= f->to)
        continue;
      if (json_array_get_length (row) >= 9 && !row_int (row, 8, &trades))
        trades = -1;
      candle = th_candle_new (start, f->duration, o, h, l, c, v);
      candle->closed = TRUE;
      g_ptr_array_add (f->candles, candle);
      g_array_append_val (f->trades, trades);
    }

  /* A full page: the rest is after its last row. */
  if (n >= KLINES_LIMIT && last >= f->next && last + f->duration < f->to)
    {
      f->next = last + f->duration;
      klines_request (g_steal_pointer (&task));
      return;
    }
  g_task_return_pointer (task, g_ptr_array_ref (f->candles), (GDestroyNotify) g_ptr_array_unref);
}

static void
klines_request (GTask *task)
{
  ThBinance *self = g_task_get_source_object (task);
  KlinesFetch *f = g_task_get_task_data (task);
  g_autofree char *url = NULL;

  url = g_strdup_printf ("%s/api/v3/klines?symbol=%s&interval=%s&startTime=%" G_GINT64_FORMAT
                         "&endTime=%" G_GINT64_FORMAT "&limit=%d", self->rest_url, f->code, f->interval,
                         f->next / 1000, f->to / 1000 - 1, KLINES_LIMIT);
  th_venue_rest_get_async (self->rest, url, g_task_get_cancellable (task), on_klines, task);
}

static void
on_weight (ThVenueRest        *rest,
           SoupMessageHeaders *headers,
           gpointer            user_data)
{
  ThBinance *self = user_data;
  const char *value = soup_message_headers_get_one (headers, "X-MBX-USED-WEIGHT-1M");
  guint64 weight;

  if (value != NULL && g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &weight, NULL) &&
      weight >= WEIGHT_PAUSE)
    {
      ThClock *clock = th_hub_get_clock (th_ws_feed_get_hub (TH_WS_FEED (self)));
      gint64 now = th_clock_get_time (clock);
      gint64 minute = 60 * G_USEC_PER_SEC;

      g_message ("binance: %" G_GUINT64_FORMAT " of the minute's request weight used; the next history "
                 "request waits for the next minute", weight);
      th_venue_rest_pause_until (rest, now - now % minute + minute);
    }
}

static void
th_binance_fetch_candles_async (ThBackfill          *backfill,
                                const char          *symbol,
                                gint64               duration,
                                gint64               from,
                                gint64               to,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  ThBinance *self = TH_BINANCE (backfill);
  ThHub *hub = th_ws_feed_get_hub (TH_WS_FEED (self));
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  const char *code = hub != NULL ? th_symbol_map_lookup (th_hub_get_symbol_map (hub), symbol, "binance") : NULL;
  const char *interval = interval_of (duration);
  KlinesFetch *f;

  g_task_set_source_tag (task, th_binance_fetch_candles_async);
  g_task_set_name (task, "[binance] klines");
  if (code == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL, "binance has no code for %s", symbol);
      return;
    }
  if (interval == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "binance has no kline interval of %" G_GINT64_FORMAT " s", duration / G_USEC_PER_SEC);
      return;
    }
  if (self->rest == NULL)
    {
      self->rest = th_venue_rest_new ("binance", th_hub_get_clock (hub), 0, 1, MAX_WAIT);
      th_venue_rest_set_headers_func (self->rest, on_weight, self);
    }
  f = g_new0 (KlinesFetch, 1);
  f->code = g_strdup (code);
  f->interval = interval;
  f->duration = duration;
  f->next = from;
  f->to = to;
  f->candles = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  f->trades = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_task_set_task_data (task, f, (GDestroyNotify) klines_fetch_free);
  klines_request (g_steal_pointer (&task));
}

static GPtrArray *
th_binance_fetch_candles_finish (ThBackfill    *backfill,
                                 GAsyncResult  *result,
                                 GArray       **trades,
                                 GError       **error)
{
  GPtrArray *candles;

  g_return_val_if_fail (g_task_is_valid (result, backfill), NULL);
  candles = g_task_propagate_pointer (G_TASK (result), error);
  if (candles != NULL && trades != NULL)
    *trades = g_array_ref (((KlinesFetch *) g_task_get_task_data (G_TASK (result)))->trades);
  return candles;
}

static void
th_binance_backfill_init (ThBackfillInterface *iface)
{
  iface->fetch_candles_async = th_binance_fetch_candles_async;
  iface->fetch_candles_finish = th_binance_fetch_candles_finish;
}

static void
th_binance_dispose (GObject *object)
{
  ThBinance *self = TH_BINANCE (object);

  g_clear_pointer (&self->listing, th_venue_listing_free);
  drop_requests (self);
  if (self->rest != NULL)
    th_venue_rest_shutdown (self->rest);
  g_clear_pointer (&self->rest, th_venue_rest_unref);
  G_OBJECT_CLASS (th_binance_parent_class)->dispose (object);
}

static void
th_binance_finalize (GObject *object)
{
  ThBinance *self = TH_BINANCE (object);

  g_free (self->rest_url);
  g_strfreev (self->streams);
  g_strfreev (self->kinds);
  g_clear_pointer (&self->shards, g_ptr_array_unref);
  g_clear_pointer (&self->requests, g_hash_table_unref);
  g_clear_pointer (&self->reader, _th_json_reader_free);
  g_clear_pointer (&self->quotes, g_hash_table_unref);
  G_OBJECT_CLASS (th_binance_parent_class)->finalize (object);
}

static void
th_binance_class_init (ThBinanceClass *klass)
{
  ThWsFeedClass *feed_class = TH_WS_FEED_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = th_binance_finalize;
  G_OBJECT_CLASS (klass)->dispose = th_binance_dispose;
  feed_class->name = "binance";
  feed_class->stale_after = 30;
  feed_class->max_age = 23 * 3600 + 50 * 60;
  feed_class->max_attempts = 300;
  feed_class->configure = th_binance_configure;
  feed_class->build_url = th_binance_build_url;
  feed_class->message = th_binance_dispatch;
  feed_class->closed = th_binance_closed;
}

static void
th_binance_class_finalize (ThBinanceClass *klass)
{
}

static void
th_binance_init (ThBinance *self)
{
  compile_shapes ();
  self->reader = _th_json_reader_new ();
  self->quotes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->requests = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, request_free);
  g_queue_init (&self->outbox);
  self->shards = g_ptr_array_new_with_free_func (g_free);
}

/* The quote currency of a pair, from its code: USDT for BTCUSDT. */
static const char *
quote_of (ThBinance  *self,
          const char *code)
{
  gpointer key, value;
  const char *quote;

  if (code == NULL)
    return NULL;
  if (self->last_code != NULL && strcmp (self->last_code, code) == 0)
    quote = self->last_quote;
  else
    {
      if (g_hash_table_lookup_extended (self->quotes, code, &key, &value))
        quote = value;
      else
        {
          g_autofree char *q = th_symbol_code_get_quote (code);

          /* An unknown quote stays the hub's [tickhub] quote. */
          quote = q != NULL ? g_intern_string (q) : "";
          key = g_strdup (code);
          g_hash_table_insert (self->quotes, key, (gpointer) quote);
        }
      self->last_code = key;
      self->last_quote = quote;
    }
  return *quote != '\0' ? quote : NULL;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_binance_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_BINANCE);
}
