/* th-replay.c: plays a JSON-lines recording of ticks
 *
 * One tick per line:
 *
 *   {"symbol":"BTC","price":42000.5,"size":0.1,"bid":42000,"ask":42001,
 *    "volume":1234.5,"change":-1.2,"timestamp":"2024-01-01T00:00:00.000Z",
 *    "source":"binance","quote":"USD"}
 *
 * as th_tick_to_json() writes them. Only symbol, price and timestamp are
 * required. A line with `size` is a trade, one without is a quote. Numbers
 * may be JSON numbers or strings holding a number (exchanges send both).
 * `timestamp` is ISO 8601 (an offset or Z; none means UTC) or epoch
 * milliseconds, as a JSON number or a string of digits; epoch values before
 * 2000-01-01 are refused, because they are almost always seconds given
 * where milliseconds are expected. `source` defaults to "replay", so a
 * recording of binance replays as binance. Blank lines and lines starting
 * with # are ignored, and so are lines holding a tickhub event other than
 * `financial_data_update`: an event line `{"event":"financial_data_update",
 * "data":{"symbol":..,"data":{..}}}`, as the jsonl sink writes them, is
 * played as a quote, so a recording of events can be replayed too.
 *
 * A bad line (not JSON, a missing or malformed field, a price that is not
 * positive and finite, a bad timestamp, a line over 1 MiB) is skipped and
 * counted; the first few are logged with their line number
 * (`ticks.jsonl:17: price is not a positive number`). Each pass ends with a
 * summary: `N lines, M ticks, K bad lines skipped`.
 *
 * Pacing: `speed=0` plays as fast as possible, `speed=1` at the pace of the
 * timestamps, `speed=2` twice as fast. The tick times are anchored at the
 * first tick, on the hub's clock (so a ThManualClock drives it in tests);
 * a tick older than the one before it plays at once. The timestamps
 * themselves are kept: candles are those of the recording.
 *
 * Nothing blocks the main loop: the file is read in 256 KiB chunks with
 * GIO's async reads, up to 1 MiB ahead of what plays, and lines are played
 * from an idle callback, at most 1000 per main-loop iteration, so sockets
 * and timers are served in between.
 *
 * With `loop=true` the file starts over at its end. Each pass is shifted
 * forward in time by the file's time span plus the mean gap between its
 * ticks, so timestamps keep increasing and candles stay continuous. A pass
 * without a single good tick ends the loop instead of spinning.
 *
 * Source status, under the name "replay" (the ticks themselves keep their
 * recorded sources): live while the file plays; disabled at the end of the
 * file (it will not deliver again, as configured; the reason carries the
 * summary); down when the file cannot be opened or read. With
 * `exit-at-end=true` the hub is asked to quit at the end: exit status 0,
 * or 1 after a read error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#define GROUP           "replay"
#define STATUS_SOURCE   "replay"
#define DEFAULT_SOURCE  "replay"
#define BATCH           1000                    /* lines per main-loop iteration */
#define CHUNK           (256 * 1024)
#define READ_AHEAD      (1024 * 1024)           /* bytes buffered ahead of play */
#define MAX_LINE        (1024 * 1024)
#define MAX_WARNINGS    5
#define MIN_EPOCH_MS    G_GINT64_CONSTANT (946684800000)     /* 2000-01-01 */
#define MAX_EPOCH_MS    G_GINT64_CONSTANT (253402300799999)  /* 9999-12-31 */

#define TH_TYPE_REPLAY (th_replay_get_type ())
G_DECLARE_FINAL_TYPE (ThReplay, th_replay, TH, REPLAY, GObject)

struct _ThReplay
{
  GObject        parent_instance;

  ThHub         *hub;           /* not a reference: the hub owns its feeds */
  ThClock       *clock;
  GMainContext  *context;
  GTimeZone     *utc;
  JsonParser    *parser;

  /* Configuration. */
  GFile         *file;
  char          *name;          /* the file's base name, for messages */
  double         speed;
  gboolean       exit_at_end;
  gboolean       loop;

  /* Reading. */
  GCancellable  *cancellable;
  GInputStream  *stream;
  GByteArray    *buffer;
  gsize          pos;           /* start of the next line in buffer */
  gboolean       reading;
  gboolean       eof;
  gboolean       skipping;      /* inside a line over MAX_LINE */

  /* Playing. */
  gboolean       running;
  GSource       *idle;
  guint          deadline_id;
  ThTick        *held;          /* parsed, waiting for its time */
  gboolean       anchored;
  gint64         anchor_clock;  /* clock time of the anchor tick */
  gint64         anchor_time;   /* its timestamp */

  /* This pass. */
  guint          pass;
  gint64         shift;         /* µs added to timestamps in this pass */
  gint64         min_time;      /* raw timestamps seen */
  gint64         max_time;
  guint64        lines;
  guint64        ticks;
  guint64        bad;
  guint          warned;

  /* format=raw: recorded frames, parsed by the venue's own feed. */
  gboolean       raw;
  GHashTable    *parsers;       /* source name → ThWsFeed (borrowed from the hub) */
};

static void th_replay_feed_source_init (ThFeedSourceInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThReplay, th_replay, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_FEED_SOURCE, th_replay_feed_source_init))

static void open_file (ThReplay *self);
static void read_more (ThReplay *self);
static void kick      (ThReplay *self);

/* Parsing */

typedef enum {
  FIELD_ABSENT,
  FIELD_OK,
  FIELD_BAD,
} Field;

/* A number as exchanges write them: digits, sign, point, exponent. */
static gboolean
parse_number_text (const char *text,
                   double     *out)
{
  char *end = NULL;

  if (*text == '\0')
    return FALSE;
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && strchr ("+-.eE", *p) == NULL)
      return FALSE;

  errno = 0;
  *out = g_ascii_strtod (text, &end);
  return *end == '\0' && errno == 0 && isfinite (*out);
}

static Field
get_number (JsonObject *obj,
            const char *name,
            double     *out)
{
  switch (th_json_object_get_number (obj, name, TRUE, out))
    {
    case TH_JSON_FIELD_OK:
      return FIELD_OK;
    case TH_JSON_FIELD_ABSENT:
      return FIELD_ABSENT;
    case TH_JSON_FIELD_NULL:
      return FIELD_ABSENT;
    case TH_JSON_FIELD_BAD:
    default:
      return FIELD_BAD;
    }
}

static Field
get_string (JsonObject  *obj,
            const char  *name,
            const char **out)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return FIELD_ABSENT;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
      *json_node_get_string (node) == '\0')
    return FIELD_BAD;
  *out = json_node_get_string (node);
  return FIELD_OK;
}

static gboolean
epoch_ms_to_time (double  ms,
                  gint64 *usec,
                  char  **why)
{
  if (ms < MIN_EPOCH_MS)
    {
      *why = g_strdup_printf ("timestamp %.0f is before the year 2000 as epoch milliseconds; "
                              "give milliseconds (seconds × 1000) or ISO 8601", ms);
      return FALSE;
    }
  if (ms > MAX_EPOCH_MS)
    {
      *why = g_strdup_printf ("timestamp %.0f is after the year 9999 as epoch milliseconds", ms);
      return FALSE;
    }
  *usec = (gint64) llround (ms * 1000.0);
  return TRUE;
}

static gboolean
get_timestamp (ThReplay   *self,
               JsonObject *obj,
               gint64     *usec,
               char      **why)
{
  JsonNode *node = json_object_get_member (obj, "timestamp");
  const char *text;
  double ms;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *why = g_strdup ("timestamp is missing");
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_VALUE (node))
    {
      *why = g_strdup ("timestamp is not ISO 8601 or epoch milliseconds");
      return FALSE;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return epoch_ms_to_time ((double) json_node_get_int (node), usec, why);
    case G_TYPE_DOUBLE:
      ms = json_node_get_double (node);
      if (!isfinite (ms))
        break;
      return epoch_ms_to_time (ms, usec, why);
    case G_TYPE_STRING:
      text = json_node_get_string (node);
      if (*text != '\0' && strspn (text, "0123456789.") == strlen (text))
        {
          if (!parse_number_text (text, &ms))
            break;
          return epoch_ms_to_time (ms, usec, why);
        }
      else
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (text, self->utc);

          if (dt == NULL)
            {
              *why = g_strdup_printf ("timestamp “%s” is not ISO 8601 or epoch milliseconds", text);
              return FALSE;
            }
          *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
          if (*usec <= 0)
            {
              *why = g_strdup_printf ("timestamp “%s” is not after 1970", text);
              return FALSE;
            }
          return TRUE;
        }
    default:
      break;
    }

  *why = g_strdup ("timestamp is not ISO 8601 or epoch milliseconds");
  return FALSE;
}

/* Parses one line. Returns the tick; or %NULL with *why set for a bad
 * line, or with *why %NULL for a line to ignore. */
static ThTick *
parse_line (ThReplay   *self,
            const char *line,
            gsize       length,
            char      **why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) tick = NULL;
  JsonNode *root;
  JsonObject *obj;
  const char *symbol = NULL;
  const char *source = DEFAULT_SOURCE;
  const char *quote = NULL;
  const char *event = NULL;
  double price, size = NAN;
  gint64 time;
  static const struct { const char *name; gsize offset; } optional[] = {
    { "bid", G_STRUCT_OFFSET (ThTick, bid) },
    { "ask", G_STRUCT_OFFSET (ThTick, ask) },
    { "volume", G_STRUCT_OFFSET (ThTick, volume_24h) },
  };

  *why = NULL;

  if (!th_json_parser_load (self->parser, line, (gssize) length, &error))
    {
      const char *msg = error->message;
      const char *rest;

      /* json-glib prefixes "<data>:LINE:COLUMN: ", useless for one line. */
      if (g_str_has_prefix (msg, "<data>:") && (rest = strstr (msg, ": ")) != NULL)
        msg = rest + 2;
      *why = g_strdup_printf ("not JSON: %s", msg);
      return NULL;
    }

  root = json_parser_get_root (self->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *why = g_strdup ("not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);

  /* An event envelope, as the jsonl sink writes them. */
  if (get_string (obj, "event", &event) == FIELD_OK && json_object_has_member (obj, "data"))
    {
      JsonNode *data = json_object_get_member (obj, "data");
      JsonNode *inner;

      if (!g_str_equal (event, "financial_data_update"))
        return NULL;
      if (!JSON_NODE_HOLDS_OBJECT (data))
        {
          *why = g_strdup ("financial_data_update without a data object");
          return NULL;
        }
      if (get_string (json_node_get_object (data), "symbol", &symbol) != FIELD_OK)
        {
          *why = g_strdup ("financial_data_update without a symbol");
          return NULL;
        }
      inner = json_object_get_member (json_node_get_object (data), "data");
      if (inner == NULL || !JSON_NODE_HOLDS_OBJECT (inner))
        {
          *why = g_strdup ("financial_data_update without a data object");
          return NULL;
        }
      obj = json_node_get_object (inner);
    }
  else
    {
      switch (get_string (obj, "symbol", &symbol))
        {
        case FIELD_ABSENT:
          *why = g_strdup ("symbol is missing");
          return NULL;
        case FIELD_BAD:
          *why = g_strdup ("symbol is not a non-empty string");
          return NULL;
        case FIELD_OK:
        default:
          break;
        }
    }

  if (!th_symbol_is_valid (symbol))
    {
      *why = g_strdup_printf ("symbol “%s” is not a symbol; use upper-case letters and digits, such as BTC",
                              symbol);
      return NULL;
    }

  switch (get_number (obj, "price", &price))
    {
    case FIELD_ABSENT:
      *why = g_strdup ("price is missing");
      return NULL;
    case FIELD_BAD:
      *why = g_strdup ("price is not a positive number");
      return NULL;
    case FIELD_OK:
    default:
      if (!(price > 0))
        {
          *why = g_strdup ("price is not a positive number");
          return NULL;
        }
      if (price >= 1e15)
        {
          *why = g_strdup ("price is too large");
          return NULL;
        }
    }

  if (!get_timestamp (self, obj, &time, why))
    return NULL;

  if (get_string (obj, "source", &source) == FIELD_BAD)
    {
      *why = g_strdup ("source is not a non-empty string");
      return NULL;
    }
  if (get_string (obj, "quote", &quote) == FIELD_BAD)
    {
      *why = g_strdup ("quote is not a non-empty string");
      return NULL;
    }

  switch (get_number (obj, "size", &size))
    {
    case FIELD_BAD:
      *why = g_strdup ("size is not a number ≥ 0");
      return NULL;
    case FIELD_OK:
      if (size < 0)
        {
          *why = g_strdup ("size is not a number ≥ 0");
          return NULL;
        }
      break;
    case FIELD_ABSENT:
    default:
      break;
    }

  tick = th_tick_new (symbol, source, isnan (size) ? TH_TICK_KIND_QUOTE : TH_TICK_KIND_TRADE, price, time);
  tick->size = size;
  if (quote != NULL)
    th_tick_set_quote (tick, quote);

  for (guint i = 0; i < G_N_ELEMENTS (optional); i++)
    {
      double *field = G_STRUCT_MEMBER_P (tick, optional[i].offset);

      switch (get_number (obj, optional[i].name, field))
        {
        case FIELD_BAD:
          *why = g_strdup_printf ("%s is not a number ≥ 0", optional[i].name);
          return NULL;
        case FIELD_OK:
          if (*field < 0)
            {
              *why = g_strdup_printf ("%s is not a number ≥ 0", optional[i].name);
              return NULL;
            }
          break;
        case FIELD_ABSENT:
        default:
          break;
        }
    }

  if (get_number (obj, "change", &tick->change_24h) == FIELD_BAD)
    {
      *why = g_strdup ("change is not a number");
      return NULL;
    }

  /* What the hub will check; anything it would refuse is a bad line here. */
  if (!th_tick_validate (tick, &error))
    {
      *why = g_strdup (error->message);
      return NULL;
    }

  return g_steal_pointer (&tick);
}

/* Playing */

static void
destroy_idle (ThReplay *self)
{
  if (self->idle != NULL)
    {
      g_source_destroy (self->idle);
      g_clear_pointer (&self->idle, g_source_unref);
    }
}

static void
remove_deadline (ThReplay *self)
{
  if (self->deadline_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->deadline_id);
      self->deadline_id = 0;
    }
}

static void
close_stream (ThReplay *self)
{
  /* A pending read holds its own reference; it is cancelled, or its
   * callback sees a new stream and drops the result. */
  g_clear_object (&self->stream);
  g_byte_array_set_size (self->buffer, 0);
  self->pos = 0;
  self->reading = FALSE;
  self->eof = FALSE;
  self->skipping = FALSE;
}

static void
bad_line (ThReplay   *self,
          const char *why)
{
  self->bad++;

  /* The same lines are bad in every pass of a loop: log the first pass. */
  if (self->pass == 0 && self->warned < MAX_WARNINGS)
    {
      self->warned++;
      g_warning ("%s:%" G_GUINT64_FORMAT ": %s%s", self->name, self->lines, why,
                 self->warned == MAX_WARNINGS ? " (further bad lines are counted, not logged)" : "");
    }
  else
    g_debug ("%s:%" G_GUINT64_FORMAT ": %s", self->name, self->lines, why);
}

static void
push (ThReplay *self,
      ThTick   *tick)
{
  self->ticks++;
  th_hub_push_tick (self->hub, tick);
}

static void
fail (ThReplay   *self,
      const char *what,
      GError     *error)
{
  g_autofree char *reason = g_strdup_printf ("cannot %s “%s”: %s", what, self->name, error->message);

  g_warning ("%s", reason);
  self->running = FALSE;
  destroy_idle (self);
  remove_deadline (self);
  g_clear_pointer (&self->held, th_tick_unref);
  close_stream (self);

  th_hub_report_source_status (self->hub, STATUS_SOURCE, TH_SOURCE_STATE_DOWN, reason);
  if (self->exit_at_end)
    th_hub_request_quit (self->hub, 1);
}

static void
end_of_pass (ThReplay *self)
{
  g_autofree char *summary = g_strdup_printf ("%" G_GUINT64_FORMAT " lines, %" G_GUINT64_FORMAT " ticks, "
                                              "%" G_GUINT64_FORMAT " bad lines skipped",
                                              self->lines, self->ticks, self->bad);
  g_autofree char *reason = NULL;

  close_stream (self);

  if (self->loop && self->ticks > 0)
    {
      gint64 span = self->max_time - self->min_time;
      gint64 gap = self->ticks > 1 ? span / (gint64) (self->ticks - 1) : G_USEC_PER_SEC;

      if (self->pass == 0)
        g_message ("%s: %s; playing it again, in a loop", self->name, summary);
      else
        g_debug ("%s: pass %u: %s", self->name, self->pass + 1, summary);

      self->shift += span + MAX (gap, 1000);
      self->pass++;
      self->lines = self->ticks = self->bad = 0;
      open_file (self);
      return;
    }

  if (self->loop)
    g_warning ("%s: %s; no tick to play, so the loop stops", self->name, summary);
  else
    g_message ("%s: %s", self->name, summary);

  self->running = FALSE;
  reason = g_strdup_printf ("end of file (%s)", summary);
  th_hub_report_source_status (self->hub, STATUS_SOURCE, TH_SOURCE_STATE_DISABLED, reason);
  if (self->exit_at_end)
    th_hub_request_quit (self->hub, 0);
}

static void
on_read (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  ThReplay *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = user_data;
  if (G_INPUT_STREAM (source) != self->stream)
    return;  /* a read of a stream closed since */

  self->reading = FALSE;
  if (bytes == NULL)
    {
      fail (self, "read", error);
      return;
    }

  if (g_bytes_get_size (bytes) == 0)
    self->eof = TRUE;
  else
    g_byte_array_append (self->buffer, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));

  if (self->buffer->len - self->pos < READ_AHEAD)
    read_more (self);
  kick (self);
}

/* Reads the next chunk, unless one is on its way or the file is over. */
static void
read_more (ThReplay *self)
{
  if (self->reading || self->eof || self->stream == NULL)
    return;

  /* Drop the lines played, now and then rather than at every read. */
  if (self->pos >= CHUNK || self->pos == self->buffer->len)
    {
      g_byte_array_remove_range (self->buffer, 0, self->pos);
      self->pos = 0;
    }
  self->reading = TRUE;
  g_input_stream_read_bytes_async (self->stream, CHUNK, G_PRIORITY_DEFAULT, self->cancellable, on_read, self);
}

typedef enum {
  NEXT_LINE,
  NEXT_NEED_MORE,
  NEXT_END,
} Next;

static Next
next_line (ThReplay    *self,
           const char **line,
           gsize       *length)
{
  for (;;)
    {
      const char *data = (const char *) self->buffer->data + self->pos;
      gsize avail = self->buffer->len - self->pos;
      const char *nl = avail > 0 ? memchr (data, '\n', avail) : NULL;

      if (nl != NULL)
        {
          self->pos += (nl - data) + 1;
          if (self->skipping)
            {
              /* The end of an over-long line, counted already. */
              self->skipping = FALSE;
              continue;
            }
          self->lines++;
          *line = data;
          *length = nl - data;
          return NEXT_LINE;
        }

      if (self->skipping)
        {
          self->pos = self->buffer->len;
          return self->eof ? NEXT_END : NEXT_NEED_MORE;
        }

      if (avail > MAX_LINE)
        {
          self->lines++;
          bad_line (self, "line is longer than 1 MiB");
          self->skipping = TRUE;
          continue;
        }

      if (self->eof)
        {
          if (avail == 0)
            return NEXT_END;
          /* A last line without a newline. */
          self->pos = self->buffer->len;
          self->lines++;
          *line = data;
          *length = avail;
          return NEXT_LINE;
        }

      return NEXT_NEED_MORE;
    }
}

/* The feed that parses @source's frames: a loaded ThWsFeed of that name
 * (run it with connect=false). */
static ThWsFeed *
find_parser (ThReplay   *self,
             const char *source)
{
  g_autoptr(GPtrArray) feeds = NULL;

  if (self->parsers == NULL)
    {
      self->parsers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      feeds = th_hub_get_feeds (self->hub);
      for (guint i = 0; i < feeds->len; i++)
        if (TH_IS_WS_FEED (feeds->pdata[i]))
          g_hash_table_insert (self->parsers, g_strdup (th_ws_feed_get_name (feeds->pdata[i])), feeds->pdata[i]);
    }
  return g_hash_table_lookup (self->parsers, source);
}

/* One recorded frame, as a WebSocket feed's `record=` writes them:
 * {"t": receive time in µs, "source": "binance", "text": "<frame>"}
 * (or "base64" for a frame that was not UTF-8 text). */
static void
handle_frame (ThReplay   *self,
              const char *line,
              gsize       length)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonObject *obj;
  JsonNode *root;
  JsonNode *t_node;
  const char *source;
  const char *text;
  ThWsFeed *feed;
  gint64 t;

  if (!th_json_parser_load (parser, line, (gssize) length, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      bad_line (self, "not a JSON object");
      return;
    }
  obj = json_node_get_object (root);
  source = th_json_object_get_string (obj, "source");
  t_node = json_object_get_member (obj, "t");
  t = t_node != NULL && JSON_NODE_HOLDS_VALUE (t_node) && json_node_get_value_type (t_node) == G_TYPE_INT64
      ? json_node_get_int (t_node) : 0;
  if (source == NULL || t <= 0)
    {
      bad_line (self, "a recorded frame needs \"source\" and \"t\"");
      return;
    }

  feed = find_parser (self, source);
  if (feed == NULL)
    {
      g_autofree char *why = g_strdup_printf ("no loaded feed parses “%s” frames; add %s to [tickhub] plugins "
                                              "with [%s] connect=false", source, source, source);
      bad_line (self, why);
      return;
    }

  text = th_json_object_get_string (obj, "text");
  if (text != NULL)
    th_ws_feed_inject (feed, text, -1, t);
  else if (json_object_has_member (obj, "base64"))
    {
      /* A frame that was not UTF-8 text: the feed rejects it as it did live. */
      gsize len;
      g_autofree guchar *data = g_base64_decode (th_json_object_get_string (obj, "base64") != NULL ? th_json_object_get_string (obj, "base64") : "", &len);
      g_autofree char *copy = g_strndup ((const char *) data, len);

      th_ws_feed_inject (feed, copy, (gssize) len, t);
    }
  else
    {
      bad_line (self, "a recorded frame needs \"text\" or \"base64\"");
      return;
    }
  self->ticks++;
}

static void
handle_line (ThReplay   *self,
             const char *line,
             gsize       length)
{
  g_autofree char *why = NULL;
  ThTick *tick;

  while (length > 0 && g_ascii_isspace (line[length - 1]))
    length--;
  while (length > 0 && g_ascii_isspace (*line))
    line++, length--;
  if (length == 0 || *line == '#')
    return;

  if (self->raw)
    {
      handle_frame (self, line, length);
      return;
    }

  tick = parse_line (self, line, length, &why);
  if (tick == NULL)
    {
      if (why != NULL)
        bad_line (self, why);
      return;
    }

  if (self->ticks == 0 && self->held == NULL)
    self->min_time = self->max_time = tick->exchange_time;
  self->min_time = MIN (self->min_time, tick->exchange_time);
  self->max_time = MAX (self->max_time, tick->exchange_time);
  tick->exchange_time += self->shift;

  if (self->speed > 0)
    self->held = tick;
  else
    {
      push (self, tick);
      th_tick_unref (tick);
    }
}

static gboolean
on_deadline (gpointer data)
{
  ThReplay *self = data;

  self->deadline_id = 0;
  kick (self);
  return G_SOURCE_REMOVE;
}

/* Whether the held tick is due now; if not, arms a deadline for it. */
static gboolean
held_is_due (ThReplay *self)
{
  gint64 now = th_clock_get_time (self->clock);
  gint64 due;

  if (!self->anchored)
    {
      self->anchored = TRUE;
      self->anchor_clock = now;
      self->anchor_time = self->held->exchange_time;
      return TRUE;
    }

  due = self->anchor_clock + (gint64) ((self->held->exchange_time - self->anchor_time) / self->speed);
  if (due <= now)
    return TRUE;

  self->deadline_id = th_clock_add_deadline (self->clock, due, on_deadline, self, NULL);
  return FALSE;
}

/* Plays up to BATCH lines. Returns %TRUE to be called again at once. */
static gboolean
play (ThReplay *self)
{
  for (guint n = 0; n < BATCH; n++)
    {
      const char *line;
      gsize length;

      if (!self->running)
        return FALSE;

      if (self->held != NULL)
        {
          g_autoptr(ThTick) tick = NULL;

          if (!held_is_due (self))
            return FALSE;
          tick = g_steal_pointer (&self->held);
          push (self, tick);
          continue;
        }

      switch (next_line (self, &line, &length))
        {
        case NEXT_LINE:
          handle_line (self, line, length);
          break;
        case NEXT_NEED_MORE:
          read_more (self);
          return FALSE;
        case NEXT_END:
        default:
          end_of_pass (self);
          return FALSE;
        }
    }

  /* Read ahead while this chunk plays. */
  if (self->running && self->buffer->len - self->pos < READ_AHEAD)
    read_more (self);
  return self->running;
}

static gboolean
on_idle (gpointer data)
{
  ThReplay *self = data;

  if (play (self))
    return G_SOURCE_CONTINUE;

  /* play() may have stopped the feed, which destroyed the source already. */
  g_clear_pointer (&self->idle, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Resumes playing from the main loop, unless it is already scheduled or
 * waits for a tick's time. */
static void
kick (ThReplay *self)
{
  if (!self->running || self->idle != NULL || self->deadline_id != 0)
    return;

  self->idle = g_idle_source_new ();
  g_source_set_priority (self->idle, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (self->idle, on_idle, self, NULL);
  g_source_set_static_name (self->idle, "[tickhub] replay");
  g_source_attach (self->idle, self->context);
}

static void
on_opened (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileInputStream) stream = g_file_read_finish (G_FILE (source), result, &error);
  ThReplay *self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  self = user_data;
  self->reading = FALSE;
  if (stream == NULL)
    {
      fail (self, "open", error);
      return;
    }

  self->stream = G_INPUT_STREAM (g_steal_pointer (&stream));
  if (self->pass == 0)
    th_hub_report_source_status (self->hub, STATUS_SOURCE, TH_SOURCE_STATE_LIVE, NULL);
  read_more (self);
}

static void
open_file (ThReplay *self)
{
  close_stream (self);
  self->reading = TRUE;
  g_file_read_async (self->file, G_PRIORITY_DEFAULT, self->cancellable, on_opened, self);
}

/* ThFeedSource */

static char *
resolve_path (ThConfig   *config,
              const char *path)
{
  const char *config_path = th_config_get_path (config);
  g_autofree char *base = NULL;
  g_autofree char *expanded = NULL;

  if (g_str_has_prefix (path, "~/"))
    expanded = g_build_filename (g_get_home_dir (), path + 2, NULL);
  else
    expanded = g_strdup (path);

  if (config_path != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (config_path);

      base = g_canonicalize_filename (dir, NULL);
    }
  return g_canonicalize_filename (expanded, base);
}

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

static gboolean
th_replay_configure (ThFeedSource  *feed,
                     GError       **error)
{
  ThReplay *self = TH_REPLAY (feed);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *path = NULL;
  g_autofree char *format = NULL;
  g_autofree char *full = NULL;
  ThConfig *config;
  double speed;

  g_return_val_if_fail (TH_IS_HUB (self->hub), FALSE);

  config = th_hub_get_config (self->hub);

  path = th_config_get_string (config, GROUP, "path", NULL);
  if (path == NULL)
    add_problem (problems, "[" GROUP "] path: no file to play; set it to a JSON-lines file of ticks, "
                 "such as path=ticks.jsonl (relative to the config file's folder)");
  else
    {
      GStatBuf st;
      const char *where = th_config_get_path (config) != NULL ? "the config file's folder" : "the current folder";

      full = resolve_path (config, path);
      if (g_stat (full, &st) != 0 || g_access (full, R_OK) != 0)
        {
          int saved = errno;

          add_problem (problems, "[" GROUP "] path: cannot read “%s”: %s; check the path "
                       "(a relative path is relative to %s)", full, g_strerror (saved), where);
        }
      else if (S_ISDIR (st.st_mode))
        add_problem (problems, "[" GROUP "] path: “%s” is a folder; give a JSON-lines file of ticks", full);
    }

  /* Malformed values are reported by the hub's check of X-Tickhub-Config:
   * th_config_get_*() return the default for them, so they are not
   * reported twice here. */
  speed = th_config_get_double (config, GROUP, "speed", 0);
  if (speed < 0)
    {
      g_autofree char *text = th_config_get_string (config, GROUP, "speed", "");

      add_problem (problems, "[" GROUP "] speed: “%s” is negative; use 0 to play as fast as possible, "
                   "1 for real time, 2 for twice as fast", text);
    }

  self->exit_at_end = th_config_get_boolean (config, GROUP, "exit-at-end", FALSE);
  self->loop = th_config_get_boolean (config, GROUP, "loop", FALSE);
  if (self->loop && self->exit_at_end)
    add_problem (problems, "[" GROUP "] loop: a loop never reaches the end of the file, so it cannot go "
                 "with exit-at-end=true; set one of them to false");

  format = th_config_get_string (config, GROUP, "format", "jsonl");
  self->raw = g_str_equal (format, "raw");
  if (self->raw && speed > 0)
    add_problem (problems, "[" GROUP "] speed: format=raw plays recorded frames as fast as possible; "
                 "set speed=0");

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  self->speed = speed;
  g_clear_object (&self->file);
  self->file = g_file_new_for_path (full);
  g_free (self->name);
  self->name = g_path_get_basename (full);
  g_clear_object (&self->clock);
  self->clock = g_object_ref (th_hub_get_clock (self->hub));
  return TRUE;
}

static void
th_replay_start (ThFeedSource *feed)
{
  ThReplay *self = TH_REPLAY (feed);

  g_return_if_fail (self->file != NULL);

  if (self->running)
    return;

  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();

  self->running = TRUE;
  self->anchored = FALSE;
  self->pass = 0;
  self->shift = 0;
  self->lines = self->ticks = self->bad = 0;
  self->warned = 0;
  open_file (self);
}

static void
th_replay_stop (ThFeedSource *feed)
{
  ThReplay *self = TH_REPLAY (feed);

  self->running = FALSE;
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  destroy_idle (self);
  remove_deadline (self);
  g_clear_pointer (&self->held, th_tick_unref);
  close_stream (self);
}

static void
th_replay_feed_source_init (ThFeedSourceInterface *iface)
{
  iface->configure = th_replay_configure;
  iface->start = th_replay_start;
  iface->stop = th_replay_stop;
}

/* GObject */

static void
th_replay_dispose (GObject *object)
{
  ThReplay *self = TH_REPLAY (object);

  th_replay_stop (TH_FEED_SOURCE (self));
  g_clear_object (&self->cancellable);
  g_clear_object (&self->clock);
  g_clear_object (&self->file);
  g_clear_object (&self->parser);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (th_replay_parent_class)->dispose (object);
}

static void
th_replay_finalize (GObject *object)
{
  ThReplay *self = TH_REPLAY (object);

  g_clear_pointer (&self->parsers, g_hash_table_unref);
  g_clear_pointer (&self->buffer, g_byte_array_unref);
  g_clear_pointer (&self->utc, g_time_zone_unref);
  g_free (self->name);

  G_OBJECT_CLASS (th_replay_parent_class)->finalize (object);
}

static void
th_replay_class_init (ThReplayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_replay_dispose;
  object_class->finalize = th_replay_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThReplay, hub));
}

static void
th_replay_class_finalize (ThReplayClass *klass)
{
}

static void
th_replay_init (ThReplay *self)
{
  self->buffer = g_byte_array_new ();
  self->parser = json_parser_new_immutable ();
  self->utc = g_time_zone_new_utc ();
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_replay_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_REPLAY);
}
