/* th-event.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"

struct _ThEvent
{
  gint      ref_count;
  char     *name;      /* name, symbol and timeframe: in the event's own block */
  char     *symbol;
  char     *timeframe;
  char     *timeframe_owned; /* th_event_new(): the data's timeframe, or NULL */
  GBytes   *bytes;     /* the envelope, NUL-terminated past its length */
  JsonNode *data;      /* parsed on demand */
  gboolean  in_bytes;  /* the envelope follows the strings in the event's
                        * block, which bytes frees (_th_event_new_copy()) */
  gsize     capacity;  /* the block's size, for its reuse (block_take()) */
};

G_DEFINE_BOXED_TYPE (ThEvent, th_event, th_event_ref, th_event_unref)

/* One allocation per event: the struct, then its strings. */
static char *
place (char      **dest,
       const char *str,
       gsize       len)
{
  memcpy (*dest, str, len + 1);
  *dest += len + 1;
  return *dest - len - 1;
}

/* The blocks of the hub's per-tick events (_th_event_new_copy()), freed
 * by their bytes, are kept for the next events in a few process-wide
 * slots instead of going back to malloc: a malloc and a free an event
 * were a tenth of the hub's cost per tick. The bytes may be freed on any
 * thread (a sink keeps them), so a slot is taken with an atomic exchange
 * and filled with a compare-and-exchange from empty: a block is in one
 * slot or owned by one event, never both. Only blocks up to
 * BLOCK_CACHE_MAX are kept; a new block is at least BLOCK_MIN so that
 * the next, slightly longer event fits in it. */
#define BLOCK_CACHE_SLOTS 4
#define BLOCK_CACHE_MAX   1024
#define BLOCK_MIN         384

static ThEvent *block_cache[BLOCK_CACHE_SLOTS];

/* A cached block of at least @size bytes, or NULL. */
static ThEvent *
block_take (gsize size)
{
  for (guint i = 0; i < BLOCK_CACHE_SLOTS; i++)
    {
      ThEvent *block;

      if (g_atomic_pointer_get (&block_cache[i]) == NULL)
        continue;
      block = g_atomic_pointer_exchange (&block_cache[i], NULL);
      if (block == NULL)
        continue;
      if (block->capacity >= size)
        return block;
      g_free (block);
    }
  return NULL;
}

/* The free function of the bytes of _th_event_new_copy(): on any thread. */
static void
block_release (gpointer data)
{
  ThEvent *block = data;

  if (block->capacity <= BLOCK_CACHE_MAX)
    for (guint i = 0; i < BLOCK_CACHE_SLOTS; i++)
      if (g_atomic_pointer_get (&block_cache[i]) == NULL &&
          g_atomic_pointer_compare_and_exchange (&block_cache[i], NULL, block))
        return;
  g_free (block);
}

/* @extra bytes more at the end of the block, at *@rest when not NULL;
 * @reuse: from the cache of blocks, and at least BLOCK_MIN when new. */
static ThEvent *
event_alloc (const char *name,
             const char *symbol,
             const char *timeframe,
             gsize       extra,
             char      **rest,
             gboolean    reuse)
{
  gsize n_name = strlen (name);
  gsize n_symbol = symbol != NULL ? strlen (symbol) : 0;
  gsize n_timeframe = timeframe != NULL ? strlen (timeframe) : 0;
  gsize size = sizeof (ThEvent) + n_name + 1 +
               (symbol != NULL ? n_symbol + 1 : 0) +
               (timeframe != NULL ? n_timeframe + 1 : 0) + extra;
  ThEvent *event = NULL;
  char *tail;

  if (reuse && size <= BLOCK_CACHE_MAX)
    {
      event = block_take (size);
      if (event == NULL)
        {
          size = MAX (size, BLOCK_MIN);
          event = g_malloc (size);
          event->capacity = size;
        }
    }
  else
    {
      event = g_malloc (size);
      event->capacity = size;
    }
  tail = (char *) (event + 1);

  event->ref_count = 1;
  event->name = place (&tail, name, n_name);
  event->symbol = symbol != NULL ? place (&tail, symbol, n_symbol) : NULL;
  event->timeframe = timeframe != NULL ? place (&tail, timeframe, n_timeframe) : NULL;
  event->timeframe_owned = NULL;
  event->bytes = NULL;
  event->data = NULL;
  event->in_bytes = FALSE;
  if (rest != NULL)
    *rest = tail;
  return event;
}

static GBytes *
bytes_from_string (GString *str)
{
  gsize len = str->len;

  /* g_string_free keeps the trailing NUL: th_event_get_json() relies on it. */
  return g_bytes_new_take (g_string_free (str, FALSE), len);
}

ThEvent *
_th_event_new_take (const char *name,
                    const char *symbol,
                    const char *timeframe,
                    GString    *envelope)
{
  ThEvent *event = event_alloc (name, symbol, timeframe, 0, NULL, FALSE);

  event->bytes = bytes_from_string (envelope);
  return event;
}

/* An event whose envelope is a copy of @json (@length bytes): the hub
 * writes its per-tick events into one reused buffer. */
ThEvent *
_th_event_new_copy (const char *name,
                    const char *symbol,
                    const char *timeframe,
                    const char *json,
                    gsize       length)
{
  char *copy;
  /* One block for the event and its envelope (two allocations an event
   * instead of three): the bytes own the block and free it with their
   * last reference, which th_event_unref() drops last; a sink may keep
   * the bytes longer than the event. */
  ThEvent *event = event_alloc (name, symbol, timeframe, length + 1, &copy, TRUE);

  memcpy (copy, json, length);
  /* NUL-terminated past its length, like bytes_from_string(). */
  copy[length] = '\0';
  event->bytes = g_bytes_new_with_free_func (copy, length, block_release, event);
  event->in_bytes = TRUE;
  return event;
}

/**
 * th_event_new:
 * @name: the event name, such as `financial_data_update`
 * @symbol: (nullable): the symbol the event is about, for routing to
 *   `symbol_<SYMBOL>` rooms
 * @data: (transfer none): the `data` member of the envelope
 *
 * Creates and serializes an event.
 *
 * Returns: (transfer full): a new #ThEvent
 */
ThEvent *
th_event_new (const char *name,
              const char *symbol,
              JsonNode   *data)
{
  ThEvent *event;
  GString *out;
  g_autofree char *json = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (data != NULL, NULL);

  event = event_alloc (name, symbol, NULL, 0, NULL, FALSE);
  json = th_json_to_string (data, NULL);
  out = g_string_sized_new (strlen (json) + strlen (name) + 24);
  g_string_append (out, "{\"event\":");
  _th_json_append_string (out, name);
  g_string_append (out, ",\"data\":");
  g_string_append (out, json);
  g_string_append_c (out, '}');
  event->bytes = bytes_from_string (out);
  event->data = json_node_copy (data);

  if (JSON_NODE_HOLDS_OBJECT (data))
    {
      JsonObject *obj = json_node_get_object (data);
      JsonNode *tf = json_object_get_member (obj, "timeframe");

      if (tf != NULL && JSON_NODE_HOLDS_VALUE (tf) && json_node_get_value_type (tf) == G_TYPE_STRING)
        event->timeframe = event->timeframe_owned = g_strdup (json_node_get_string (tf));
    }
  return event;
}

/**
 * th_event_new_from_json:
 * @json: an envelope `{"event": NAME, "data": ...}`
 * @length: length of @json, or -1 if NUL-terminated
 * @error: return location for a %TH_ERROR_BAD_INPUT error
 *
 * Parses an envelope, as received from a client or another node. The
 * symbol is taken from `data.symbol` when it is a string.
 *
 * Returns: (transfer full) (nullable): the event, or %NULL on error
 */
ThEvent *
th_event_new_from_json (const char *json,
                        gssize      length,
                        GError    **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  JsonObject *obj;
  JsonNode *name;
  JsonNode *data;
  JsonNode *symbol;
  const char *symbol_str = NULL;

  g_return_val_if_fail (json != NULL, NULL);

  if (!th_json_parser_load (parser, json, length, &local_error))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "not JSON: %s", local_error->message);
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "an event must be a JSON object");
      return NULL;
    }

  obj = json_node_get_object (root);
  name = json_object_get_member (obj, "event");
  if (name == NULL || !JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "an event needs an \"event\" string");
      return NULL;
    }

  data = json_object_get_member (obj, "data");
  if (data == NULL)
    {
      g_autoptr(JsonNode) empty = json_node_init_object (json_node_alloc (), json_object_new ());
      return th_event_new (json_node_get_string (name), NULL, empty);
    }

  if (JSON_NODE_HOLDS_OBJECT (data))
    {
      symbol = json_object_get_member (json_node_get_object (data), "symbol");
      if (symbol != NULL && JSON_NODE_HOLDS_VALUE (symbol) && json_node_get_value_type (symbol) == G_TYPE_STRING)
        symbol_str = json_node_get_string (symbol);
    }

  return th_event_new (json_node_get_string (name), symbol_str, data);
}

/**
 * th_event_ref:
 * @event: a #ThEvent
 *
 * Adds a reference to @event. The count is atomic; the event itself never
 * changes once made, except for th_event_get_data() parsing on first use.
 *
 * Returns: (transfer full): @event
 */
ThEvent *
th_event_ref (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  g_atomic_int_inc (&event->ref_count);
  return event;
}

/**
 * th_event_unref:
 * @event: (transfer full): a #ThEvent
 *
 * Drops a reference to @event; the last one frees it. Its bytes live on
 * for whoever took a reference to them from th_event_get_bytes().
 */
void
th_event_unref (ThEvent *event)
{
  g_return_if_fail (event != NULL);

  if (!g_atomic_int_dec_and_test (&event->ref_count))
    return;

  g_free (event->timeframe_owned);
  g_clear_pointer (&event->data, json_node_unref);
  if (event->in_bytes)
    /* The block is the bytes': this may free it. */
    g_bytes_unref (event->bytes);
  else
    {
      g_bytes_unref (event->bytes);
      g_free (event);
    }
}

/**
 * th_event_get_name:
 * @event: a #ThEvent
 *
 * The event's name, the `event` member of its envelope, such as
 * `financial_data_update` or `candle_update`.
 *
 * Returns: the event name
 */
const char *
th_event_get_name (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  return event->name;
}

/**
 * th_event_get_symbol:
 * @event: a #ThEvent
 *
 * The symbol the event is about, which routes it to the `symbol_<SYMBOL>`
 * rooms of the server. For an event parsed with th_event_new_from_json(),
 * it is `data.symbol` when that is a string.
 *
 * Returns: (nullable): the symbol the event is about, or %NULL for an
 *   event about no symbol, such as `source_status`
 */
const char *
th_event_get_symbol (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  return event->symbol;
}

/**
 * th_event_get_timeframe:
 * @event: a #ThEvent
 *
 * The timeframe an event is about: set by the hub on its `candle_update`
 * and `technical_indicators_update` events, and taken from `data.timeframe`
 * when that is a string for events made with th_event_new() or
 * th_event_new_from_json().
 *
 * Returns: (nullable): the timeframe of a candle or indicator event, such
 *   as `1m`
 */
const char *
th_event_get_timeframe (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  return event->timeframe;
}

/**
 * th_event_get_bytes:
 * @event: a #ThEvent
 *
 * The serialized envelope, shared by every sink: send these bytes as they
 * are, without copying.
 *
 * Returns: (transfer none): the JSON envelope
 */
GBytes *
th_event_get_bytes (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  return event->bytes;
}

/**
 * th_event_get_json:
 * @event: a #ThEvent
 *
 * The serialized envelope as a NUL-terminated string: the memory of
 * th_event_get_bytes() itself, not a copy, valid as long as @event is.
 *
 * Returns: the JSON envelope as a string (the data of th_event_get_bytes())
 */
const char *
th_event_get_json (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);
  return g_bytes_get_data (event->bytes, NULL);
}

/**
 * th_event_get_data:
 * @event: a #ThEvent
 *
 * The `data` member, parsed on first use. Call it from the thread that
 * created the event.
 *
 * Returns: (transfer none): the event's data
 */
JsonNode *
th_event_get_data (ThEvent *event)
{
  g_return_val_if_fail (event != NULL, NULL);

  if (event->data == NULL)
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      gsize len;
      const char *json = g_bytes_get_data (event->bytes, &len);

      if (th_json_parser_load (parser, json, len, NULL))
        {
          JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
          event->data = json_node_ref (json_object_get_member (obj, "data"));
        }
      else
        event->data = json_node_init_null (json_node_alloc ());
    }

  return event->data;
}

/**
 * th_json_object_get_string:
 * @object: a JSON object, as parsed from a message from outside
 * @member: the member's name
 *
 * The string @member holds, or %NULL when it is absent or holds anything
 * else (a number, null, an object, an array). Unlike
 * json_object_get_string_member_with_default(), which logs a critical
 * when the member is an object or an array, any text a peer sends is
 * fine here.
 *
 * Returns: (nullable): the string, owned by @object
 */
const char *
th_json_object_get_string (JsonObject *object,
                           const char *member)
{
  JsonNode *node;

  g_return_val_if_fail (object != NULL && member != NULL, NULL);

  node = json_object_get_member (object, member);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/**
 * th_json_object_get_number:
 * @object: a JSON object, as parsed from a venue's message
 * @member: the member's name
 * @strings: whether a string holding a number counts (exchanges send
 *   prices as strings to keep their digits)
 * @value: (out): the number, when %TH_JSON_FIELD_OK
 *
 * Reads a finite number. A string must be a plain decimal number: digits,
 * a sign, a point and an exponent, nothing else (no spaces, no `NaN`, no
 * `inf`, no hexadecimal).
 *
 * Returns: what the member holds
 */
ThJsonField
th_json_object_get_number (JsonObject *object,
                           const char *member,
                           gboolean    strings,
                           double     *value)
{
  JsonNode *node;
  const char *text;
  char *end = NULL;

  g_return_val_if_fail (object != NULL && member != NULL && value != NULL, TH_JSON_FIELD_BAD);

  node = json_object_get_member (object, member);
  if (node == NULL)
    return TH_JSON_FIELD_ABSENT;
  if (JSON_NODE_HOLDS_NULL (node))
    return TH_JSON_FIELD_NULL;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return TH_JSON_FIELD_BAD;

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      *value = (double) json_node_get_int (node);
      return TH_JSON_FIELD_OK;
    case G_TYPE_DOUBLE:
      *value = json_node_get_double (node);
      return isfinite (*value) ? TH_JSON_FIELD_OK : TH_JSON_FIELD_BAD;
    case G_TYPE_STRING:
      if (!strings)
        return TH_JSON_FIELD_BAD;
      text = json_node_get_string (node);
      if (text == NULL || *text == '\0')
        return TH_JSON_FIELD_BAD;
      for (const char *p = text; *p != '\0'; p++)
        if (!g_ascii_isdigit (*p) && strchr ("+-.eE", *p) == NULL)
          return TH_JSON_FIELD_BAD;
      *value = g_ascii_strtod (text, &end);
      return *end == '\0' && isfinite (*value) ? TH_JSON_FIELD_OK : TH_JSON_FIELD_BAD;
    default:
      return TH_JSON_FIELD_BAD;
    }
}

/**
 * th_format_time:
 * @usec: µs since the Unix epoch
 *
 * Formats a time as events carry them: ISO 8601, UTC, milliseconds,
 * `2024-01-01T00:00:00.000Z`.
 *
 * Returns: (transfer full): the text; `null` for a year outside 0-9999
 */
char *
th_format_time (gint64 usec)
{
  GString *out = g_string_sized_new (32);

  _th_json_append_time (out, usec);
  /* Without the quotes of the JSON string. */
  if (out->len > 2 && out->str[0] == '"')
    {
      g_string_truncate (out, out->len - 1);
      g_string_erase (out, 0, 1);
    }
  return g_string_free (out, FALSE);
}

static void
append_node (GString  *out,
             JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *obj = json_node_get_object (node);
        /* In insertion order (json-glib 1.6 has no ordered iterator). */
        g_autoptr(GList) names = json_object_get_members (obj);

        g_string_append_c (out, '{');
        for (GList *l = names; l != NULL; l = l->next)
          {
            if (l != names)
              g_string_append_c (out, ',');
            _th_json_append_string (out, l->data);
            g_string_append_c (out, ':');
            append_node (out, json_object_get_member (obj, l->data));
          }
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);

        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            append_node (out, json_array_get_element (array, i));
          }
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_NULL:
      g_string_append_len (out, "null", 4);
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          _th_json_append_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          if (json_node_get_boolean (node))
            g_string_append_len (out, "true", 4);
          else
            g_string_append_len (out, "false", 5);
          break;
        case G_TYPE_STRING:
          _th_json_append_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append_len (out, "null", 4);
          break;
        }
      break;
    }
}

/**
 * th_json_to_string:
 * @node: a JSON tree
 * @length: (out) (optional): the length of the text
 *
 * Writes @node as compact JSON the way events are written: each double
 * with the fewest digits that read back as the same double (`43023.9`,
 * not json-glib's `43023.900000000001`), NaN and infinities as `null`,
 * object members in insertion order.
 *
 * Returns: (transfer full): the text
 */
char *
th_json_to_string (JsonNode *node,
                   gsize    *length)
{
  GString *out = g_string_sized_new (256);

  g_return_val_if_fail (node != NULL, NULL);

  append_node (out, node);
  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}
