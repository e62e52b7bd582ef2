/* th-coingecko.c: prices from CoinGecko's REST API, polled
 *
 * One call carries every configured coin:
 *
 *   GET {url}/simple/price?ids=bitcoin,ethereum&vs_currencies=usd
 *       &include_24hr_vol=true&include_24hr_change=true&include_last_updated_at=true
 *
 *   {"bitcoin":{"usd":67187.3358936566,"usd_24h_vol":31260929299.5248,
 *               "usd_24h_change":3.63727894677354,"last_updated_at":1711356300}, ...}
 *
 * Each coin becomes one quote tick per symbol mapped to it (`[symbols]
 * BTC=coingecko:bitcoin`): the price in the quote currency (`[tickhub]
 * quote`, lower-cased as CoinGecko's vs_currency), the 24 h volume
 * converted to the base asset, the 24 h change in percent, and the
 * exchange time from `last_updated_at` (epoch seconds; the clock's time
 * when absent). A coin whose entry is null or whose price is missing or not
 * a positive number is skipped and counted; the others still make ticks.
 * Coins in the answer that were not asked for are ignored and counted.
 *
 * Polling: every `poll-interval` seconds (default 60, at least 10: the
 * keyless public API allows about 5-10 calls a minute, per IP). With
 * `poll=auto` (the default) a poll is skipped when every symbol already has
 * a fresh price from a source ranked above coingecko in `[prices] order`,
 * so the WebSocket feeds are not doubled by REST calls; the check is made
 * again at each interval. `poll=always` polls regardless.
 *
 * On demand: the hub calls request_price() when a client asks for a price
 * no source has fresh. That fetches every coin at once, unless a request is
 * in flight already (it will answer), CoinGecko asked us to wait (HTTP 429),
 * or the last request is less than 5 s old.
 *
 * Failures: HTTP 429 is honoured: no request before its Retry-After (seconds
 * or an HTTP date) has passed; without one, 60 s, doubling up to 15 min
 * while CoinGecko keeps refusing. Other failures (an HTTP error, invalid
 * JSON, a refused connection, no answer within `timeout`) retry at the
 * next poll, with the interval doubling up to 10 min while they last. The
 * source is reported down with the reason, and live again on the first good
 * answer.
 *
 * Backfill (ThBackfill), the last resort: `GET {url}/coins/{id}/ohlc
 * ?vs_currency=usd&days=N`, rows `[close time ms, open, high, low, close]`
 * (no volume: stored as NULL). CoinGecko picks the candle length from
 * `days` and counts back from now: 1-2 days give 30-minute candles, 3-30
 * days 4-hour ones, more 4-day ones (the keyless API keeps 365 days). So
 * only a `30m` series within the last 2 days and a `4h` series within the
 * last 30 days can be filled; any other timeframe or an older range fails
 * with G_IO_ERROR_NOT_SUPPORTED and stays missing. History requests go one
 * at a time, at most one every 6 s after a burst of 2 (th-venue-rest.c),
 * apart from the price polls.
 *
 * Nothing blocks the main loop: one SoupSession per feed, asynchronous
 * requests, at most one in flight, all cancelled by stop() and dispose.
 * Every time compared comes from the hub's clock, so a ThManualClock drives
 * the polling in tests.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <libpeas/peas.h>
#include <libsoup/soup.h>
#include <tickhub.h>

#include "th-json-reader.h"
#include "th-venue-rest.h"

#define HISTORY_GAP            (6 * G_USEC_PER_SEC)
#define DAY_US                 (G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC)
#define HISTORY_BURST          2
#define HISTORY_MAX_WAIT       (120 * G_USEC_PER_SEC)

#define GROUP                  "coingecko"
#define SOURCE                 "coingecko"
#define DEFAULT_URL            "https://api.coingecko.com/api/v3"
#define DEFAULT_POLL_INTERVAL  60.0                    /* s */
#define MIN_POLL_INTERVAL      10.0                    /* s: keyless budget ~5-10 calls/min */
#define MAX_POLL_INTERVAL      86400.0                 /* s */
#define DEFAULT_TIMEOUT        10.0                    /* s */
#define MIN_TIMEOUT            1.0                     /* s */
#define MAX_TIMEOUT            300.0                   /* s */
/* The default ttl of "coingecko" prices, X-Tickhub-Default-TTL in
 * coingecko.plugin: keep the two equal. The hub sets the price book's ttl
 * of a feed outside [prices] order only after the feeds are configured,
 * so it cannot be asked here. */
#define DEFAULT_TTL            90.0                    /* s */
#define ON_DEMAND_GAP          (5 * G_USEC_PER_SEC)    /* between two on-demand requests */
#define RATE_LIMIT_BACKOFF     60                      /* s, without Retry-After, doubling... */
#define MAX_RATE_LIMIT_BACKOFF (15 * 60)               /* s ...up to this */
#define MAX_RETRY_AFTER        86400                   /* s: anything longer is nonsense */
#define MAX_ERROR_BACKOFF      (10 * 60)               /* s, unless the interval is longer */
#define MIN_EPOCH_S            946684800.0             /* 2000-01-01 */
#define MAX_EPOCH_S            253402300799.0          /* 9999-12-31 */
#define HTTP_TOO_MANY_REQUESTS 429                     /* not in libsoup 3.2's SoupStatus */

#ifndef TH_USER_AGENT
#define TH_USER_AGENT          "tickhub/0.1"
#endif

#define TH_TYPE_COINGECKO (th_coingecko_get_type ())
G_DECLARE_FINAL_TYPE (ThCoinGecko, th_coingecko, TH, COINGECKO, GObject)

typedef struct
{
  guint64 requests;
  guint64 messages;     /* HTTP answers read, whatever their status */
  guint64 bytes;        /* their bodies */
  guint64 on_demand;
  guint64 responses_ok;
  guint64 http_errors;
  guint64 network_errors;
  guint64 rate_limited;
  guint64 parse_errors;
  guint64 missing_ids;
  guint64 unknown_ids;
  guint64 ticks;
  guint64 skipped_polls;
} Stats;

struct _ThCoinGecko
{
  GObject       parent_instance;

  ThHub        *hub;            /* not a reference: the hub owns its feeds */
  ThClock      *clock;

  /* Configuration. */
  GUri         *uri;            /* the whole /simple/price request */
  char         *host;           /* for messages */
  char         *api_key;        /* NULL for none; never logged */
  const char   *api_key_header;
  gint64        interval;       /* µs */
  guint         timeout;        /* s */
  gboolean      poll_always;
  char         *vs;             /* the quote currency, lower case: "usd" */
  char         *vol_key;        /* "usd_24h_vol" */
  char         *change_key;     /* "usd_24h_change" */
  char         *quote;          /* the quote currency as configured: "USD" */
  GPtrArray    *ids;            /* char*: every coin asked for, once */
  GHashTable   *symbols_by_id;  /* id → GPtrArray of char* symbols */
  GHashTable   *id_by_symbol;   /* symbol → id (owned by ids) */

  /* Running. */
  gboolean      running;
  SoupSession  *session;
  GCancellable *cancellable;
  SoupMessage  *message;        /* the request in flight, or NULL */
  guint         poll_id;        /* clock deadline of the next poll */
  gint64        not_before;     /* no request before: CoinGecko said so (429) */
  gint64        last_request;   /* 0 before the first */
  guint         failures;       /* in a row, other than 429 */
  guint         rate_limits;    /* 429 in a row */
  GHashTable   *warned_ids;     /* ids whose problems were logged once */

  Stats         stats;

  /* Backfill. */
  char         *base_url;       /* without a trailing slash */
  ThVenueRest  *rest;           /* made at the first fetch */
};

static void th_coingecko_feed_source_init (ThFeedSourceInterface *iface);
static void th_coingecko_backfill_init    (ThBackfillInterface   *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThCoinGecko, th_coingecko, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_FEED_SOURCE, th_coingecko_feed_source_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_BACKFILL, th_coingecko_backfill_init))

static void fetch (ThCoinGecko *self);

/* Scheduling */

static gboolean on_poll_deadline (gpointer data);

static void
cancel_poll (ThCoinGecko *self)
{
  if (self->poll_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->poll_id);
      self->poll_id = 0;
    }
}

/* The next poll, at @when on the hub's clock; replaces any other. */
static void
schedule_poll (ThCoinGecko *self,
               gint64       when)
{
  cancel_poll (self);
  self->poll_id = th_clock_add_deadline (self->clock, when, on_poll_deadline, self, NULL);
}

/* Whether a source ranked above coingecko has a fresh price of every
 * symbol we could poll, so that a poll would change nothing. */
static gboolean
all_covered (ThCoinGecko *self)
{
  ThPriceBook *book = th_hub_get_price_book (self->hub);
  g_auto(GStrv) order = th_price_book_get_order (book);
  guint ours = G_MAXUINT;
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; order != NULL && order[i] != NULL; i++)
    if (g_str_equal (order[i], SOURCE))
      {
        ours = i;
        break;
      }

  g_hash_table_iter_init (&iter, self->id_by_symbol);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      const char *selected = th_price_book_get_selected (book, key);
      guint rank = G_MAXUINT;

      if (selected == NULL || g_str_equal (selected, SOURCE))
        return FALSE;
      for (guint i = 0; order != NULL && order[i] != NULL; i++)
        if (g_str_equal (order[i], selected))
          {
            rank = i;
            break;
          }
      /* A fresh lower-priority source would give way to ours. */
      if (rank >= ours)
        return FALSE;
    }
  return TRUE;
}

static gboolean
on_poll_deadline (gpointer data)
{
  ThCoinGecko *self = data;
  gint64 now = th_clock_get_time (self->clock);

  self->poll_id = 0;
  if (!self->running || self->message != NULL)
    return G_SOURCE_REMOVE;   /* the request in flight schedules the next poll */

  if (now < self->not_before)
    {
      schedule_poll (self, self->not_before);
      return G_SOURCE_REMOVE;
    }

  if (!self->poll_always && all_covered (self))
    {
      self->stats.skipped_polls++;
      g_debug ("poll skipped: every symbol has a fresh price from a source ranked above coingecko");
      schedule_poll (self, now + self->interval);
      return G_SOURCE_REMOVE;
    }

  fetch (self);
  return G_SOURCE_REMOVE;
}

/* Responses */

static void
warn_id (ThCoinGecko *self,
         const char  *id,
         const char  *why)
{
  if (g_hash_table_contains (self->warned_ids, id))
    {
      g_debug ("skipped “%s”: %s", id, why);
      return;
    }
  g_hash_table_add (self->warned_ids, g_strdup (id));
  g_warning ("CoinGecko sent no usable price for “%s”: %s; skipped (further problems with it are "
             "counted, not logged)", id, why);
}

typedef enum {
  FIELD_ABSENT,
  FIELD_NULL,
  FIELD_OK,
  FIELD_BAD,
} Field;

static Field
get_number (ThJsonReader *r,
            guint         obj,
            const char   *name,
            double       *out)
{
  switch (_th_json_reader_get_number (r, obj, name, FALSE, out))
    {
    case TH_JSON_FIELD_OK:
      return FIELD_OK;
    case TH_JSON_FIELD_ABSENT:
      return FIELD_ABSENT;
    case TH_JSON_FIELD_NULL:
      return FIELD_NULL;
    case TH_JSON_FIELD_BAD:
    default:
      return FIELD_BAD;
    }
}

/* Turns one coin's entry into ticks. Returns how many were pushed; 0 with
 * @why set when the entry is skipped. */
static guint
handle_coin (ThCoinGecko  *self,
             ThJsonReader *r,
             const char   *id,
             guint         obj,
             gint64        now,
             gboolean     *no_price,
             char        **why)
{
  GPtrArray *symbols = g_hash_table_lookup (self->symbols_by_id, id);
  double price = NAN, volume = NAN, change = NAN, updated = NAN;
  gint64 time = now;
  guint pushed = 0;

  if (obj == _TH_JSON_NONE)
    {
      self->stats.missing_ids++;
      *no_price = TRUE;
      *why = g_strdup ("it is not in the answer");
      return 0;
    }
  if (_th_json_reader_kind (r, obj) == _TH_JSON_KIND_NULL)
    {
      self->stats.parse_errors++;
      *why = g_strdup ("its entry is null");
      return 0;
    }
  if (_th_json_reader_kind (r, obj) != _TH_JSON_KIND_OBJECT)
    {
      self->stats.parse_errors++;
      *why = g_strdup ("its entry is not an object");
      return 0;
    }

  switch (get_number (r, obj, self->vs, &price))
    {
    case FIELD_ABSENT:
      self->stats.missing_ids++;
      *no_price = TRUE;
      *why = g_strdup_printf ("it has no “%s” price", self->vs);
      return 0;
    case FIELD_NULL:
      self->stats.parse_errors++;
      *why = g_strdup_printf ("its “%s” price is null", self->vs);
      return 0;
    case FIELD_BAD:
      self->stats.parse_errors++;
      *why = g_strdup_printf ("its “%s” price is not a number", self->vs);
      return 0;
    case FIELD_OK:
    default:
      if (!(price > 0) || price >= 1e15)
        {
          self->stats.parse_errors++;
          *why = g_strdup_printf ("its “%s” price %g is not a positive number", self->vs, price);
          return 0;
        }
      break;
    }

  /* CoinGecko's 24 h volume is in the quote currency (usd_24h_vol is a
   * dollar amount), while ThTick:volume_24h is in the base asset: divide
   * by the price. The figure is CoinGecko's aggregate over every venue it
   * tracks, so expect it to be far above one exchange's volume. */
  if (get_number (r, obj, self->vol_key, &volume) != FIELD_OK || volume < 0)
    volume = NAN;
  else
    volume /= price;

  if (get_number (r, obj, self->change_key, &change) != FIELD_OK)
    change = NAN;

  /* Epoch seconds; absent, null or absurd: our own receive time. */
  if (get_number (r, obj, "last_updated_at", &updated) == FIELD_OK &&
      updated >= MIN_EPOCH_S && updated <= MAX_EPOCH_S)
    time = (gint64) llround (updated * G_USEC_PER_SEC);

  for (guint i = 0; symbols != NULL && i < symbols->len && self->running; i++)
    {
      g_autoptr(ThTick) tick = th_tick_new (symbols->pdata[i], SOURCE, TH_TICK_KIND_QUOTE, price, time);

      th_tick_set_quote (tick, self->quote);
      tick->volume_24h = volume;
      tick->change_24h = change;
      th_hub_push_tick (self->hub, tick);
      self->stats.ticks++;
      pushed++;
    }
  return pushed;
}

/* A short reason for the status, from CoinGecko's error body
 * ({"status":{"error_code":..,"error_message":".."}} or {"error":".."}). */
static char *
error_message_of (GBytes *body)
{
  ThJsonReader *r;
  gsize size = 0;
  const char *data = body != NULL ? g_bytes_get_data (body, &size) : NULL;
  guint status;
  const char *msg = NULL;
  char *text = NULL;

  if (data == NULL || size == 0)
    return NULL;
  r = _th_json_reader_new ();
  if (!_th_json_reader_parse (r, data, size, NULL) || _th_json_reader_kind (r, 0) != _TH_JSON_KIND_OBJECT)
    goto out;

  status = _th_json_reader_member (r, 0, "status");
  if (status != _TH_JSON_NONE && _th_json_reader_kind (r, status) == _TH_JSON_KIND_OBJECT)
    msg = _th_json_reader_get_string (r, status, "error_message");
  else
    msg = _th_json_reader_get_string (r, 0, "error");

  /* Keep status reasons short and on one line. */
  if (msg != NULL && *msg != '\0')
    text = g_strdelimit (g_utf8_make_valid (msg, MIN (strlen (msg), 200)), "\r\n\t", ' ');
out:
  _th_json_reader_free (r);
  return text;
}

static gint64
seconds_to_usec (gint64 seconds)
{
  return seconds * G_USEC_PER_SEC;
}

/* A failure other than 429: down, and the next poll later and later while
 * the failures last (one interval, then two, four... up to 10 min). */
static void
fail (ThCoinGecko *self,
      const char  *why)
{
  gint64 now = th_clock_get_time (self->clock);
  gint64 cap = MAX (self->interval, seconds_to_usec (MAX_ERROR_BACKOFF));
  gint64 delay = self->interval;
  g_autofree char *reason = NULL;

  self->failures++;
  for (guint i = 1; i < self->failures && delay < cap; i++)
    delay *= 2;
  delay = MIN (delay, cap);

  reason = g_strdup_printf ("%s; retrying in %" G_GINT64_FORMAT " s", why,
                            (delay + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DOWN, reason);
  if (self->running)
    schedule_poll (self, now + delay);
}

/* Retry-After: delay-seconds or an HTTP date. Returns -1 when absent or
 * unreadable. */
static gint64
parse_retry_after (ThCoinGecko *self,
                   SoupMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After");
  g_autofree char *text = NULL;
  guint64 seconds;

  if (value == NULL)
    return -1;
  text = g_strstrip (g_strdup (value));

  if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &seconds, NULL))
    return (gint64) MIN (seconds, MAX_RETRY_AFTER);
  else
    {
      g_autoptr(GDateTime) date = soup_date_time_new_from_http_string (text);
      gint64 now = th_clock_get_time (self->clock) / G_USEC_PER_SEC;

      if (date == NULL)
        return -1;
      return CLAMP (g_date_time_to_unix (date) - now, 0, MAX_RETRY_AFTER);
    }
}

static void
rate_limited (ThCoinGecko *self,
              SoupMessage *msg,
              GBytes      *body)
{
  gint64 now = th_clock_get_time (self->clock);
  gint64 retry_after = parse_retry_after (self, msg);
  g_autofree char *detail = error_message_of (body);
  g_autofree char *reason = NULL;
  gint64 delay;

  self->stats.rate_limited++;
  self->rate_limits++;

  if (retry_after >= 0)
    {
      /* CoinGecko said when. If it refuses again at that time, wait at
       * least an interval from then on rather than knock every second. */
      delay = MAX (retry_after, 1);
      if (self->rate_limits > 1)
        delay = MAX (delay, (self->interval + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
    }
  else
    {
      delay = RATE_LIMIT_BACKOFF;
      for (guint i = 1; i < self->rate_limits && delay < MAX_RATE_LIMIT_BACKOFF; i++)
        delay *= 2;
      delay = MIN (delay, MAX_RATE_LIMIT_BACKOFF);
    }

  g_debug ("rate limited (Retry-After %" G_GINT64_FORMAT " s): %s", retry_after,
           detail != NULL ? detail : "no message");

  self->not_before = now + seconds_to_usec (delay);
  reason = g_strdup_printf ("rate limited by CoinGecko; retrying in %" G_GINT64_FORMAT " s", delay);
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DOWN, reason);
  if (self->running)
    schedule_poll (self, self->not_before);
}

static void
http_error (ThCoinGecko *self,
            SoupMessage *msg,
            GBytes      *body)
{
  guint status = soup_message_get_status (msg);
  const char *phrase = soup_message_get_reason_phrase (msg);
  g_autofree char *detail = error_message_of (body);
  g_autofree char *why = NULL;

  self->stats.http_errors++;

  if (phrase == NULL || *phrase == '\0')
    phrase = soup_status_get_phrase (status);
  why = g_strdup_printf ("CoinGecko answered HTTP %u%s%s%s%s%s", status,
                         phrase != NULL ? " " : "", phrase != NULL ? phrase : "",
                         detail != NULL ? " (" : "", detail != NULL ? detail : "", detail != NULL ? ")" : "");

  if (status == SOUP_STATUS_UNAUTHORIZED || status == SOUP_STATUS_FORBIDDEN)
    {
      char *more = g_strconcat (why, self->api_key != NULL ? "; check [coingecko] api-key"
                                                           : "; a key may be needed: set [coingecko] api-key",
                                NULL);
      g_free (why);
      why = more;
    }
  fail (self, why);
}

static void
handle_answer_on (ThCoinGecko  *self,
                  ThJsonReader *r,
                  GBytes       *body)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) skipped = g_string_new (NULL);
  gsize size = 0;
  const char *data = g_bytes_get_data (body, &size);
  gint64 now = th_clock_get_time (self->clock);
  guint obj = 0;
  guint pushed = 0;
  guint absent = 0;

  if (data == NULL || size == 0)
    {
      self->stats.parse_errors++;
      fail (self, "invalid JSON from CoinGecko: the answer is empty");
      return;
    }
  if (!_th_json_reader_parse (r, data, size, &error))
    {
      g_autofree char *why = NULL;

      self->stats.parse_errors++;
      why = g_strdup_printf ("invalid JSON from CoinGecko: %s", error->message);
      fail (self, why);
      return;
    }
  if (_th_json_reader_kind (r, obj) != _TH_JSON_KIND_OBJECT)
    {
      self->stats.parse_errors++;
      fail (self, "invalid JSON from CoinGecko: the answer is not an object of coins");
      return;
    }
  self->stats.responses_ok++;
  self->failures = 0;
  self->rate_limits = 0;

  /* Coins we did not ask for: ignored, counted (each name once, as
   * json-glib's tree held the last of duplicate names only). */
  {
    g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint k = _th_json_reader_first (r, obj); k != _TH_JSON_NONE && k < _th_json_reader_next (r, obj);
         k = _th_json_reader_next (r, k + 1))
      {
        const char *name = _th_json_reader_string (r, k);

        if (!g_hash_table_add (seen, (gpointer) name))
          continue;
        if (!g_hash_table_contains (self->symbols_by_id, name))
          {
            self->stats.unknown_ids++;
            g_debug ("ignoring “%s”: not asked for", name);
          }
      }
  }

  for (guint i = 0; i < self->ids->len && self->running; i++)
    {
      const char *id = self->ids->pdata[i];
      g_autofree char *why = NULL;
      gboolean no_price = FALSE;
      guint n = handle_coin (self, r, id, _th_json_reader_member (r, obj, id), now, &no_price, &why);

      if (why != NULL)
        {
          warn_id (self, id, why);
          g_string_append_printf (skipped, "%s%s", skipped->len > 0 ? ", " : "", id);
          absent += no_price;
        }
      pushed += n;
    }

  /* A handler of the events may have stopped the feed. */
  if (!self->running)
    return;

  if (pushed > 0)
    th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_LIVE, NULL);
  else
    {
      g_autofree char *reason = NULL;

      if (absent == self->ids->len)
        reason = g_strdup_printf ("no “%s” price in CoinGecko's answer for %s; check the ids in [symbols] "
                                  "and that [tickhub] quote is one of CoinGecko's vs_currencies",
                                  self->vs, skipped->str);
      else
        reason = g_strdup_printf ("no usable price in CoinGecko's answer for %s", skipped->str);
      th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DOWN, reason);
    }

  schedule_poll (self, now + self->interval);
}

static void
handle_answer (ThCoinGecko *self,
               GBytes      *body)
{
  ThJsonReader *r = _th_json_reader_new ();

  handle_answer_on (self, r, body);
  _th_json_reader_free (r);
}

static void
on_response (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autoptr(SoupMessage) msg = NULL;
  ThCoinGecko *self;
  guint status;

  /* Cancelled by stop() or dispose: @user_data may be gone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = user_data;
  msg = g_steal_pointer (&self->message);
  if (!self->running || msg == NULL)
    return;

  if (error != NULL)
    {
      g_autofree char *why = NULL;

      self->stats.network_errors++;
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        why = g_strdup_printf ("no answer from CoinGecko (%s) within %u s", self->host, self->timeout);
      else
        why = g_strdup_printf ("cannot reach CoinGecko (%s): %s", self->host, error->message);
      fail (self, why);
      return;
    }

  self->stats.messages++;
  self->stats.bytes += body != NULL ? g_bytes_get_size (body) : 0;
  status = soup_message_get_status (msg);
  if (status == HTTP_TOO_MANY_REQUESTS)
    rate_limited (self, msg, body);
  else if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    http_error (self, msg, body);
  else
    handle_answer (self, body);
}

/* Sends the request for every coin, unless one is in flight. The next
 * poll is scheduled when it is answered. */
static void
fetch (ThCoinGecko *self)
{
  SoupMessageHeaders *headers;

  if (self->message != NULL)
    return;

  cancel_poll (self);
  self->message = soup_message_new_from_uri (SOUP_METHOD_GET, self->uri);
  headers = soup_message_get_request_headers (self->message);
  soup_message_headers_replace (headers, "Accept", "application/json");
  if (self->api_key != NULL)
    soup_message_headers_replace (headers, self->api_key_header, self->api_key);

  self->stats.requests++;
  self->last_request = th_clock_get_time (self->clock);
  g_debug ("GET %s", g_uri_get_path (self->uri));

  soup_session_send_and_read_async (self->session, self->message, G_PRIORITY_DEFAULT,
                                    self->cancellable, on_response, self);
}

/* ThFeedSource */

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (problems, g_strdup_vprintf (format, args));
  va_end (args);
}

/* Reads a number key: %FALSE when absent or malformed (the hub's check of
 * X-Tickhub-Config reports malformed values; they are not repeated here). */
static gboolean
get_seconds (ThConfig    *config,
             const char  *key,
             double      *value,
             char       **text)
{
  double d = th_config_get_double (config, GROUP, key, NAN);

  if (isnan (d))
    return FALSE;
  *value = d;
  *text = th_config_get_string (config, GROUP, key, "");
  return TRUE;
}

static gboolean
is_http_url (GUri *uri)
{
  const char *scheme = g_uri_get_scheme (uri);
  const char *host = g_uri_get_host (uri);

  return scheme != NULL && host != NULL && *host != '\0' &&
         (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0);
}

static gboolean
is_header_token (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isgraph (*p))
      return FALSE;
  return TRUE;
}

static void
symbols_free (gpointer data)
{
  g_ptr_array_unref (data);
}

static gboolean
th_coingecko_configure (ThFeedSource  *feed,
                        GError       **error)
{
  ThCoinGecko *self = TH_COINGECKO (feed);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) missing = g_ptr_array_new ();
  g_autoptr(GUri) base = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GString) ids = g_string_new (NULL);
  g_autofree char *url = NULL;
  g_autofree char *poll = NULL;
  g_autofree char *api_key = NULL;
  g_autofree char *interval_text = NULL;
  g_autofree char *timeout_text = NULL;
  ThConfig *config;
  ThSymbolMap *map;
  const char *const *symbols;
  double interval = DEFAULT_POLL_INTERVAL;
  double timeout = DEFAULT_TIMEOUT;
  double ttl;

  g_return_val_if_fail (TH_IS_HUB (self->hub), FALSE);

  config = th_hub_get_config (self->hub);
  map = th_hub_get_symbol_map (self->hub);

  /* A URL that is not http(s) is reported by the hub's check of the
   * http-url type; here it only stops us from building a request. */
  url = g_strstrip (th_config_get_string (config, GROUP, "url", DEFAULT_URL));
  while (g_str_has_suffix (url, "/"))
    url[strlen (url) - 1] = '\0';
  g_free (self->base_url);
  self->base_url = g_strdup (url);
  base = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);
  if (base != NULL && is_http_url (base) && g_uri_get_query (base) != NULL)
    add_problem (problems, "[" GROUP "] url: “%s” has a query; give the API's base URL, such as " DEFAULT_URL,
                 url);

  if (get_seconds (config, "poll-interval", &interval, &interval_text) && interval >= 0)
    {
      if (interval < MIN_POLL_INTERVAL)
        add_problem (problems, "[" GROUP "] poll-interval: “%s” is below the minimum of %g s (the keyless public "
                     "API allows about 5-10 calls a minute); use %g or more, such as 60",
                     interval_text, MIN_POLL_INTERVAL, MIN_POLL_INTERVAL);
      else if (interval > MAX_POLL_INTERVAL)
        add_problem (problems, "[" GROUP "] poll-interval: “%s” is too long; use at most %g s, such as 60",
                     interval_text, MAX_POLL_INTERVAL);
    }

  /* A price older than the source's ttl is stale: polls must come faster. */
  ttl = th_config_get_double (config, GROUP, "ttl", DEFAULT_TTL);
  if (ttl > 0 && interval >= ttl && interval >= MIN_POLL_INTERVAL && interval <= MAX_POLL_INTERVAL)
    add_problem (problems, "[" GROUP "] poll-interval: %g s is not shorter than the ttl of CoinGecko's prices "
                 "(%g s), so they would go stale between polls; use a shorter poll-interval or set "
                 "[" GROUP "] ttl above it, such as %g", interval, ttl, ceil (interval * 1.5));

  if (get_seconds (config, "timeout", &timeout, &timeout_text) && timeout >= 0 &&
      (timeout < MIN_TIMEOUT || timeout > MAX_TIMEOUT))
    add_problem (problems, "[" GROUP "] timeout: “%s” is out of range; use a number of seconds from %g to %g, "
                 "such as 10", timeout_text, MIN_TIMEOUT, MAX_TIMEOUT);

  api_key = g_strstrip (th_config_get_string (config, GROUP, "api-key", ""));
  if (*api_key != '\0' && !is_header_token (api_key))
    add_problem (problems, "[" GROUP "] api-key: the key has spaces or control characters; paste it exactly "
                 "as CoinGecko's developer dashboard shows it");

  poll = th_config_get_string (config, GROUP, "poll", "auto");

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  /* The coins: one id per symbol, each asked for once. */
  g_hash_table_remove_all (self->id_by_symbol);
  g_hash_table_remove_all (self->symbols_by_id);
  g_ptr_array_set_size (self->ids, 0);
  symbols = th_hub_get_symbols (self->hub);
  for (guint i = 0; symbols != NULL && symbols[i] != NULL; i++)
    {
      const char *id = th_symbol_map_lookup (map, symbols[i], GROUP);
      gpointer key = NULL;
      gpointer list = NULL;

      if (id == NULL || *id == '\0')
        {
          g_ptr_array_add (missing, (gpointer) symbols[i]);
          continue;
        }

      if (!g_hash_table_lookup_extended (self->symbols_by_id, id, &key, &list))
        {
          key = g_strdup (id);
          list = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (self->ids, key);
          g_hash_table_insert (self->symbols_by_id, key, list);
          if (ids->len > 0)
            g_string_append_c (ids, ',');
          g_string_append_uri_escaped (ids, id, NULL, FALSE);
        }
      g_ptr_array_add (list, g_strdup (symbols[i]));
      g_hash_table_insert (self->id_by_symbol, g_strdup (symbols[i]), key);
    }

  for (guint i = 0; i < missing->len; i++)
    g_message ("coingecko has no id for %s; add [symbols] %s=coingecko:<id>",
               (const char *) missing->pdata[i], (const char *) missing->pdata[i]);

  g_free (self->quote);
  self->quote = g_strdup (th_hub_get_quote (self->hub));
  g_free (self->vs);
  self->vs = g_ascii_strdown (self->quote, -1);
  g_free (self->vol_key);
  self->vol_key = g_strconcat (self->vs, "_24h_vol", NULL);
  g_free (self->change_key);
  self->change_key = g_strconcat (self->vs, "_24h_change", NULL);

  g_clear_pointer (&self->uri, g_uri_unref);
  g_clear_pointer (&self->host, g_free);
  if (base != NULL && is_http_url (base))
    {
      g_autofree char *vs = g_uri_escape_string (self->vs, NULL, FALSE);
      g_autofree char *text = g_strdup_printf ("%s/simple/price?ids=%s&vs_currencies=%s"
                                               "&include_24hr_vol=true&include_24hr_change=true"
                                               "&include_last_updated_at=true", url, ids->str, vs);

      uri = g_uri_parse (text, SOUP_HTTP_URI_FLAGS, NULL);
      self->uri = g_steal_pointer (&uri);
      self->host = g_strdup (g_uri_get_host (base));
    }

  g_clear_pointer (&self->api_key, g_free);
  if (*api_key != '\0')
    {
      self->api_key = g_steal_pointer (&api_key);
      /* Paid plans use their own host and header. */
      self->api_key_header = self->host != NULL && g_ascii_strcasecmp (self->host, "pro-api.coingecko.com") == 0
                             ? "x-cg-pro-api-key" : "x-cg-demo-api-key";
    }

  self->interval = (gint64) llround (interval * G_USEC_PER_SEC);
  self->timeout = (guint) ceil (timeout);
  self->poll_always = g_str_equal (poll, "always");

  g_clear_object (&self->clock);
  self->clock = g_object_ref (th_hub_get_clock (self->hub));
  return TRUE;
}

static void
th_coingecko_start (ThFeedSource *feed)
{
  ThCoinGecko *self = TH_COINGECKO (feed);

  g_return_if_fail (self->clock != NULL);

  if (self->running)
    return;

  if (self->uri == NULL || self->ids->len == 0)
    {
      th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_DISABLED,
                                   self->uri == NULL ? "no usable [coingecko] url"
                                                     : "no configured symbol has a CoinGecko id; "
                                                       "add them as [symbols] BTC=coingecko:bitcoin");
      return;
    }

  if (self->session == NULL)
    self->session = soup_session_new_with_options ("user-agent", TH_USER_AGENT,
                                                   "timeout", self->timeout,
                                                   NULL);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  self->running = TRUE;
  self->failures = 0;
  self->rate_limits = 0;
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_CONNECTING, NULL);

  /* The first poll at once (nothing is fresh yet), the next ones every
   * interval after each answer. */
  on_poll_deadline (self);
}

static void
th_coingecko_stop (ThFeedSource *feed)
{
  ThCoinGecko *self = TH_COINGECKO (feed);

  self->running = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->message);
  cancel_poll (self);
}

static void
th_coingecko_request_price (ThFeedSource *feed,
                            const char   *symbol)
{
  ThCoinGecko *self = TH_COINGECKO (feed);
  gint64 now;

  if (!self->running || symbol == NULL || !g_hash_table_contains (self->id_by_symbol, symbol))
    return;

  if (self->message != NULL)
    {
      g_debug ("price of %s asked for: a request is on its way already", symbol);
      return;
    }

  now = th_clock_get_time (self->clock);
  if (now < self->not_before)
    {
      g_debug ("price of %s asked for: rate limited for %" G_GINT64_FORMAT " s more", symbol,
               (self->not_before - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
      return;
    }
  if (self->last_request != 0 && now - self->last_request < ON_DEMAND_GAP)
    {
      g_debug ("price of %s asked for: the last request is too recent", symbol);
      return;
    }

  g_debug ("price of %s asked for: fetching now", symbol);
  self->stats.on_demand++;
  fetch (self);
}

static GVariant *
th_coingecko_get_stats (ThFeedSource *feed)
{
  ThCoinGecko *self = TH_COINGECKO (feed);
  GVariantBuilder builder;
  const struct { const char *name; guint64 value; } counters[] = {
    { "requests", self->stats.requests },
    { "messages", self->stats.messages },
    { "bytes", self->stats.bytes },
    { "on_demand", self->stats.on_demand },
    { "responses_ok", self->stats.responses_ok },
    { "http_errors", self->stats.http_errors },
    { "network_errors", self->stats.network_errors },
    { "rate_limited", self->stats.rate_limited },
    { "parse_errors", self->stats.parse_errors },
    { "missing_ids", self->stats.missing_ids },
    { "unknown_ids", self->stats.unknown_ids },
    { "ticks", self->stats.ticks },
    { "skipped_polls", self->stats.skipped_polls },
  };

  g_variant_builder_init (&builder, G_VARIANT_TYPE_VARDICT);
  for (guint i = 0; i < G_N_ELEMENTS (counters); i++)
    g_variant_builder_add (&builder, "{sv}", counters[i].name, g_variant_new_uint64 (counters[i].value));
  return g_variant_builder_end (&builder);
}

static void
th_coingecko_feed_source_init (ThFeedSourceInterface *iface)
{
  iface->configure = th_coingecko_configure;
  iface->start = th_coingecko_start;
  iface->stop = th_coingecko_stop;
  iface->request_price = th_coingecko_request_price;
  iface->get_stats = th_coingecko_get_stats;
}

/* Backfill */

typedef struct
{
  gint64     duration;
  gint64     from;
  gint64     to;
} OhlcFetch;

static gboolean
ohlc_number (JsonArray *row,
             guint      i,
             double    *out)
{
  JsonNode *node = json_array_get_element (row, i);

  if (!JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_DOUBLE && json_node_get_value_type (node) != G_TYPE_INT64))
    return FALSE;
  *out = json_node_get_double (node);
  return isfinite (*out);
}

static void
on_ohlc (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ThCoinGecko *self = g_task_get_source_object (task);
  OhlcFetch *f = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = th_venue_rest_get_finish (self->rest, result, NULL, &error);
  g_autoptr(GPtrArray) candles = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
  JsonArray *rows;
  gint64 last = G_MININT64;

  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!JSON_NODE_HOLDS_ARRAY (root))
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT, "coingecko: ohlc: the answer is not an array");
      return;
    }
  rows = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonNode *node = json_array_get_element (rows, i);
      JsonArray *row = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
      double t, o, h, l, c;
      gint64 start;
      ThCandle *candle;

      /* [close time ms, open, high, low, close]; odd rows are skipped. */
      if (row == NULL || json_array_get_length (row) < 5 || !ohlc_number (row, 0, &t) ||
          !ohlc_number (row, 1, &o) || !ohlc_number (row, 2, &h) || !ohlc_number (row, 3, &l) ||
          !ohlc_number (row, 4, &c) || t != floor (t) || t < 0 || t > 1e15 ||
          o <= 0 || h <= 0 || l <= 0 || c <= 0 || h < l || h < MAX (o, c) || l > MIN (o, c))
        continue;
      start = (gint64) t * 1000 - f->duration;
      if (start < f->from || start >= f->to || start % f->duration != 0 || start <= last)
        continue;
      last = start;
      candle = th_candle_new (start, f->duration, o, h, l, c, NAN);
      candle->closed = TRUE;
      g_ptr_array_add (candles, candle);
    }
  g_task_return_pointer (task, g_steal_pointer (&candles), (GDestroyNotify) g_ptr_array_unref);
}

static void
th_coingecko_fetch_candles_async (ThBackfill          *backfill,
                                  const char          *symbol,
                                  gint64               duration,
                                  gint64               from,
                                  gint64               to,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  ThCoinGecko *self = TH_COINGECKO (backfill);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  const char *id = g_hash_table_lookup (self->id_by_symbol, symbol);
  gint64 now, age, days;
  g_autofree char *url = NULL;
  g_autofree char *id_escaped = NULL;
  g_autofree char *vs = NULL;
  OhlcFetch *f;

  g_task_set_source_tag (task, th_coingecko_fetch_candles_async);
  g_task_set_name (task, "[coingecko] ohlc");
  if (id == NULL || self->clock == NULL || self->base_url == NULL)
    {
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL, "coingecko has no id for %s", symbol);
      return;
    }
  now = th_clock_get_time (self->clock);
  age = now - from;
  /* The days that give candles of this length and reach back to from. */
  if (duration == G_GINT64_CONSTANT (1800) * G_USEC_PER_SEC && age <= 2 * DAY_US)
    days = age <= DAY_US ? 1 : 2;
  else if (duration == G_GINT64_CONSTANT (14400) * G_USEC_PER_SEC && age <= 30 * DAY_US)
    days = MAX (3, (age + DAY_US - 1) / DAY_US);
  else
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "coingecko gives only 30-minute candles of the last 2 days and 4-hour ones of "
                               "the last 30 days");
      return;
    }
  if (self->rest == NULL)
    {
      self->rest = th_venue_rest_new ("coingecko", self->clock, HISTORY_GAP, HISTORY_BURST, HISTORY_MAX_WAIT);
      if (self->api_key != NULL)
        th_venue_rest_set_header (self->rest, self->api_key_header, self->api_key);
    }
  f = g_new0 (OhlcFetch, 1);
  f->duration = duration;
  f->from = from;
  f->to = to;
  g_task_set_task_data (task, f, g_free);
  id_escaped = g_uri_escape_string (id, NULL, FALSE);
  vs = g_uri_escape_string (self->vs, NULL, FALSE);
  url = g_strdup_printf ("%s/coins/%s/ohlc?vs_currency=%s&days=%" G_GINT64_FORMAT, self->base_url, id_escaped, vs,
                         days);
  th_venue_rest_get_async (self->rest, url, cancellable, on_ohlc, g_steal_pointer (&task));
}

static GPtrArray *
th_coingecko_fetch_candles_finish (ThBackfill    *backfill,
                                   GAsyncResult  *result,
                                   GArray       **trades,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, backfill), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
th_coingecko_backfill_init (ThBackfillInterface *iface)
{
  iface->fetch_candles_async = th_coingecko_fetch_candles_async;
  iface->fetch_candles_finish = th_coingecko_fetch_candles_finish;
}

/* GObject */

static void
th_coingecko_dispose (GObject *object)
{
  ThCoinGecko *self = TH_COINGECKO (object);

  if (self->rest != NULL)
    th_venue_rest_shutdown (self->rest);
  g_clear_pointer (&self->rest, th_venue_rest_unref);
  th_coingecko_stop (TH_FEED_SOURCE (self));
  g_clear_object (&self->cancellable);
  if (self->session != NULL)
    soup_session_abort (self->session);
  g_clear_object (&self->session);
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (th_coingecko_parent_class)->dispose (object);
}

static void
th_coingecko_finalize (GObject *object)
{
  ThCoinGecko *self = TH_COINGECKO (object);

  g_clear_pointer (&self->uri, g_uri_unref);
  g_free (self->host);
  g_free (self->base_url);
  g_free (self->api_key);
  g_free (self->vs);
  g_free (self->vol_key);
  g_free (self->change_key);
  g_free (self->quote);
  g_clear_pointer (&self->id_by_symbol, g_hash_table_unref);
  g_clear_pointer (&self->symbols_by_id, g_hash_table_unref);
  g_clear_pointer (&self->ids, g_ptr_array_unref);
  g_clear_pointer (&self->warned_ids, g_hash_table_unref);

  G_OBJECT_CLASS (th_coingecko_parent_class)->finalize (object);
}

static void
th_coingecko_class_init (ThCoinGeckoClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_coingecko_dispose;
  object_class->finalize = th_coingecko_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThCoinGecko, hub));
}

static void
th_coingecko_class_finalize (ThCoinGeckoClass *klass)
{
}

static void
th_coingecko_init (ThCoinGecko *self)
{
  /* ids owns the id strings; symbols_by_id's keys are those same strings. */
  self->ids = g_ptr_array_new_with_free_func (g_free);
  self->symbols_by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, symbols_free);
  self->id_by_symbol = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->warned_ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->interval = (gint64) (DEFAULT_POLL_INTERVAL * G_USEC_PER_SEC);
  self->timeout = (guint) DEFAULT_TIMEOUT;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_coingecko_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_COINGECKO);
}
