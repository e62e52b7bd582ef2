/* th-json-reader.c: a strict JSON reader for the hot path: one validating
 * pass, a flat tape, lookups on the tape (see th-json-reader.h)
 *
 * The venues' messages went through json-glib, which builds a tree of
 * GObject-free but still allocated nodes and hashes each object's members:
 * about 10 µs for a Binance 24 h ticker. Here the bytes are read once into
 * a tape of 16-byte tokens reused from message to message; a lookup by key
 * walks the members of one object, skipping nested values in one step.
 *
 * Strictness: what RFC 8259 allows and nothing else, with the limits of
 * th_json_parser_load() (nesting, no NUL in a string, no lone surrogate).
 * Everything json-glib would refuse is refused; json-glib takes a few texts
 * that are not JSON (see fuzz/fuzz-json-reader.c) and this reader does not.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "th-json-reader.h"
#include "th-json-scan.h"
#include "th-private.h"

enum
{
  TOK_ESCAPED = 1 << 0,   /* a string with a backslash in it */
  TOK_DECODED = 1 << 1,   /* its unescaped text is in the scratch buffer */
  TOK_INTEGER = 1 << 2,   /* a number without fraction or exponent */
};

/* Objects with at least this many members get an index on their first
 * lookup; smaller ones are walked. */
#define INDEX_MIN_MEMBERS 8
#define INDEX_BUCKETS     64

typedef struct
{
  guint8  kind;
  guint8  flags;
  guint16 bucket;   /* of a member name: its index bucket (name_bucket()) */
  guint32 offset;   /* first byte (of a string: after the quote) */
  guint32 length;   /* bytes of a string or number; children of a container */
  guint32 end;      /* the index after this value and all it holds */
} Token;

struct _ThJsonReader
{
  const char *data;
  gsize       size;
  Token      *tokens;
  guint       n_tokens;
  guint       capacity;
  char       *scratch;        /* unescaped strings, at their own offsets */
  gsize       scratch_size;
  /* The member index of one object (the last large one looked up in):
   * member names hashed into buckets, chained newest first, so that the
   * first match is the last duplicate, as in the walk. */
  guint       index_object;   /* _TH_JSON_NONE: none for this parse */
  gboolean    index_usable;   /* FALSE when a name is escaped: walk instead */
  guint32    *chain;          /* per tape index: the next name in the bucket, + 1 */
  guint       chain_capacity;
  guint32     buckets[INDEX_BUCKETS];   /* a name's tape index + 1; 0: empty */
};

ThJsonReader *
_th_json_reader_new (void)
{
  ThJsonReader *reader = g_new0 (ThJsonReader, 1);

  reader->capacity = 64;
  reader->tokens = g_new (Token, reader->capacity);
  reader->index_object = _TH_JSON_NONE;
  return reader;
}

void
_th_json_reader_free (ThJsonReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->tokens);
  g_free (reader->scratch);
  g_free (reader->chain);
  g_free (reader);
}

/* The tape's room doubled, from inside the parse, which keeps its fill
 * in a local; the new tokens array is returned. */
G_NO_INLINE static Token *
grow (ThJsonReader *reader)
{
  reader->capacity *= 2;
  reader->tokens = g_renew (Token, reader->tokens, reader->capacity);
  return reader->tokens;
}

static inline int
hex4 (const guchar *p)
{
  int unit = 0;

  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value ((char) p[i]);

      if (d < 0)
        return -1;
      unit = unit * 16 + d;
    }
  return unit;
}

static inline gboolean
is_ws (guchar c)
{
  /* One comparison settles the usual case, a byte above the space. */
  return c <= ' ' && (c == ' ' || c == '\n' || c == '\r' || c == '\t');
}

/* The bytes a string's fast loop stops at (th-json-scan.h): one load and
 * one test a byte instead of four comparisons. */
const guint8 _th_json_string_stop[256] = {
  [0x00 ... 0x1f] = 1,
  ['"'] = 1,
  ['\\'] = 1,
  [0x80 ... 0xff] = 1,
};

#define FAIL(...) G_STMT_START { \
    g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, __VA_ARGS__); \
    return FALSE; \
  } G_STMT_END

/* The rest of a string from @p, where the fast loop stopped on a byte
 * that is not the closing quote: escapes, UTF-8, errors. *@pp is left on
 * the closing quote, *@flags_out says whether there was an escape. */
G_NO_INLINE static gboolean
scan_string_slow (const guchar  *p,
                  const guchar **pp,
                  guint8        *flags_out,
                  const guchar  *begin,
                  const guchar  *end,
                  GError       **error)
{
  guint8 flags = 0;

  for (;;)
    {
      guchar c;

      while (p + 4 <= end && !(_th_json_string_stop[p[0]] | _th_json_string_stop[p[1]] | _th_json_string_stop[p[2]] | _th_json_string_stop[p[3]]))
        p += 4;
      while (p < end && !_th_json_string_stop[*p])
        p++;
      if (G_UNLIKELY (p == end))
        FAIL ("an unterminated string");
      c = *p;
      if (c == '"')
        break;
      if (c == '\\')
        {
          flags |= TOK_ESCAPED;
          if (end - p < 2)
            FAIL ("an unterminated string");
          switch (p[1])
            {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
              p += 2;
              break;
            case 'u':
              {
                int unit = end - p >= 6 ? hex4 (p + 2) : -1;

                if (unit < 0)
                  FAIL ("a \\u escape without four hex digits in a string");
                if (unit == 0)
                  FAIL ("a string holds a NUL character");
                if (unit >= 0xdc00 && unit <= 0xdfff)
                  goto surrogate;
                if (unit >= 0xd800 && unit <= 0xdbff)
                  {
                    int low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4 (p + 8) : -1;

                    if (low < 0xdc00 || low > 0xdfff)
                      goto surrogate;
                    p += 12;
                  }
                else
                  p += 6;
              }
              break;
            default:
              FAIL ("an escape that JSON does not have in a string (\\%c)",
                    g_ascii_isprint (p[1]) ? p[1] : '?');
            }
        }
      else if (c < 0x20)
        {
          if (c == 0)
            FAIL ("a string holds a NUL character");
          FAIL ("a control character (0x%02x) in a string", c);
        }
      else
        {
          /* UTF-8 (RFC 3629): no overlong form, no surrogate, at most U+10FFFF. */
          guint n;
          guchar lo = 0x80, hi = 0xbf;

          if (c >= 0xc2 && c <= 0xdf)
            n = 1;
          else if (c >= 0xe0 && c <= 0xef)
            {
              n = 2;
              if (c == 0xe0)
                lo = 0xa0;
              else if (c == 0xed)
                hi = 0x9f;
            }
          else if (c >= 0xf0 && c <= 0xf4)
            {
              n = 3;
              if (c == 0xf0)
                lo = 0x90;
              else if (c == 0xf4)
                hi = 0x8f;
            }
          else
            goto utf8;
          if ((gsize) (end - p) <= n || p[1] < lo || p[1] > hi)
            goto utf8;
          for (guint i = 2; i <= n; i++)
            if ((p[i] & 0xc0) != 0x80)
              goto utf8;
          p += n + 1;
        }
    }

  *flags_out = flags;
  *pp = p;
  return TRUE;

surrogate:
  FAIL ("a string holds a lone UTF-16 surrogate (\\uD800 to \\uDFFF not in a pair)");
utf8:
  FAIL ("a string that is not UTF-8 (byte %" G_GSIZE_FORMAT ")", (gsize) (p - begin));
}

/* A string from after its opening quote; *@pp is left on the closing
 * one and *@flags says whether it holds an escape. Plain strings end
 * here (_th_json_skip_plain()); the rest goes on in scan_string_slow().
 * Inlined in both its callers: the call was a fifth of its cost. */
G_ALWAYS_INLINE static inline gboolean
scan_string (const guchar **pp,
             guint8        *flags,
             const guchar  *begin,
             const guchar  *end,
             GError       **error)
{
  const guchar *p = _th_json_skip_plain (*pp, end);

  if (G_LIKELY (p < end && *p == '"'))
    {
      *flags = 0;
      *pp = p;
      return TRUE;
    }
  return scan_string_slow (p, pp, flags, begin, end, error);
}

static inline gboolean
is_digit (guchar c)
{
  return (guint) (c - '0') < 10;
}

/* The first byte from @p on that is not a digit (or @end): sixteen bytes
 * at a time where there are sixteen, in one signed comparison each way
 * (bytes from 0x80 are negative: below '0'). An epoch time has 13 digits. */
static inline const guchar *
skip_digits (const guchar *p,
             const guchar *end)
{
#ifdef __SSE2__
  while (end - p >= 16)
    {
      __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) p);
      guint other = (guint) _mm_movemask_epi8 (_mm_or_si128 (_mm_cmplt_epi8 (x, _mm_set1_epi8 ('0')),
                                                             _mm_cmpgt_epi8 (x, _mm_set1_epi8 ('9'))));

      if (other != 0)
        return p + __builtin_ctz (other);
      p += 16;
    }
#endif
  while (p < end && is_digit (*p))
    p++;
  return p;
}

/* A number from its first byte; *@pp is left after it and *@flags says
 * whether it is an integer. */
G_ALWAYS_INLINE static inline gboolean
scan_number (const guchar **pp,
             guint8        *flags,
             const guchar  *end,
             GError       **error)
{
  const guchar *p = *pp;

  *flags = TOK_INTEGER;
  if (*p == '-')
    p++;
  if (p == end || !is_digit (*p))
    FAIL ("a number without digits");
  if (*p == '0')
    p++;
  else
    p = skip_digits (p + 1, end);
  if (p < end && *p == '.')
    {
      *flags = 0;
      p++;
      if (p == end || !is_digit (*p))
        FAIL ("a number without digits after its decimal point");
      p = skip_digits (p + 1, end);
    }
  if (p < end && (*p == 'e' || *p == 'E'))
    {
      *flags = 0;
      p++;
      if (p < end && (*p == '+' || *p == '-'))
        p++;
      if (p == end || !is_digit (*p))
        FAIL ("a number without digits in its exponent");
      p = skip_digits (p + 1, end);
    }
  *pp = p;
  return TRUE;
}

/* A member name's index bucket: from its length and first and last bytes
 * (for a one-letter name, 7 × the letter: every letter its own bucket);
 * the empty name's is 0. */
static inline guint
bucket_of (guint first,
           guint last,
           gsize len)
{
  return (first * 5 + last * 2 + (guint) len * 9) & (INDEX_BUCKETS - 1);
}

/* The tape's fill, its room and the innermost open container are locals
 * of the parse: stored in the reader, each would be read again after
 * every store to a token (a guint32 there may alias them). */
#define PUSH_NAME(kind_, flags_, bucket_, offset_, length_) G_STMT_START { \
    if (checked && G_UNLIKELY (n == capacity)) \
      { \
        tokens = grow (reader); \
        capacity = reader->capacity; \
      } \
    tokens[n] = (Token) { .kind = (kind_), .flags = (flags_), .bucket = (bucket_), \
                          .offset = (offset_), .length = (length_), .end = n + 1 }; \
    n++; \
  } G_STMT_END
#define PUSH(kind_, flags_, offset_, length_) PUSH_NAME (kind_, flags_, 0, offset_, length_)

#undef FAIL
#define FAIL(...) G_STMT_START { \
    reader->n_tokens = n; \
    g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, __VA_ARGS__); \
    return FALSE; \
  } G_STMT_END

/* Frames up to this size get a tape with a token for each of their bytes
 * before the parse (64 KiB of tape at most), so that a token is written
 * without checking the room for it: every token starts on a byte of its
 * own (a quote, a bracket, a number's or literal's first byte). Larger
 * ones grow the tape as they go. */
#define PRESIZE_MAX_BYTES 4096

/* The parse; @checked: whether the tape may fill up (a constant in both
 * callers, so each gets its own copy). */
G_ALWAYS_INLINE static inline gboolean
parse_tape (ThJsonReader *reader,
            const char   *data,
            gsize         length,
            GError      **error,
            const gboolean checked)
{
  const guchar *begin = (const guchar *) data;
  const guchar *p = begin;
  const guchar *end = begin + length;
  Token *tokens;
  guint n = 0;
  guint capacity;
  /* The open containers but the innermost: their tape index, members or
   * elements so far, and whether an object. */
  guint stack[TH_JSON_MAX_DEPTH];
  guint counts[TH_JSON_MAX_DEPTH];
  gboolean objects[TH_JSON_MAX_DEPTH];
  guint depth = 0;
  /* The innermost (when depth > 0). */
  guint top = 0;
  guint top_count = 0;
  gboolean top_object = FALSE;

  reader->data = data;
  reader->size = length;
  reader->n_tokens = 0;
  reader->index_object = _TH_JSON_NONE;
  tokens = reader->tokens;
  capacity = reader->capacity;
  if (length >= G_MAXUINT32)
    FAIL ("a JSON text of 4 GiB or more");

  while (p < end && is_ws (*p))
    p++;
  if (p == end)
    FAIL ("empty JSON text");

value:
  if (G_UNLIKELY (p == end))
    FAIL ("the text ends where a value should be");
  /* Counted for the root too, where nothing reads it. */
  top_count++;
  switch (*p)
    {
    case '"':
      {
        const guchar *start = ++p;
        guint8 flags;

        if (!scan_string (&p, &flags, begin, end, error))
          {
            reader->n_tokens = n;
            return FALSE;
          }
        PUSH (_TH_JSON_KIND_STRING, flags, (guint32) (start - begin), (guint32) (p - start));
        p++;
      }
      break;
    case '{':
    case '[':
      if (depth == TH_JSON_MAX_DEPTH)
        FAIL ("nested deeper than %u levels", (guint) TH_JSON_MAX_DEPTH);
      stack[depth] = top;
      counts[depth] = top_count;
      objects[depth] = top_object;
      depth++;
      top = n;
      top_count = 0;
      top_object = *p == '{';
      PUSH (top_object ? _TH_JSON_KIND_OBJECT : _TH_JSON_KIND_ARRAY, 0, (guint32) (p - begin), 0);
      p++;
      while (p < end && is_ws (*p))
        p++;
      if (p < end && *p == (top_object ? '}' : ']'))
        {
          p++;
          goto close;
        }
      if (top_object)
        goto key;
      goto value;
    case 't':
      if (end - p < 4 || memcmp (p, "true", 4) != 0)
        goto unexpected;
      PUSH (_TH_JSON_KIND_TRUE, 0, (guint32) (p - begin), 0);
      p += 4;
      break;
    case 'f':
      if (end - p < 5 || memcmp (p, "false", 5) != 0)
        goto unexpected;
      PUSH (_TH_JSON_KIND_FALSE, 0, (guint32) (p - begin), 0);
      p += 5;
      break;
    case 'n':
      if (end - p < 4 || memcmp (p, "null", 4) != 0)
        goto unexpected;
      PUSH (_TH_JSON_KIND_NULL, 0, (guint32) (p - begin), 0);
      p += 4;
      break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      {
        const guchar *start = p;
        guint8 flags;

        if (!scan_number (&p, &flags, end, error))
          {
            reader->n_tokens = n;
            return FALSE;
          }
        PUSH (_TH_JSON_KIND_NUMBER, flags, (guint32) (start - begin), (guint32) (p - start));
      }
      break;
    default:
      goto unexpected;
    }

after:
  /* A member or element and its comma, without spaces: tried first. */
  if (G_LIKELY (p < end && *p == ',' && depth > 0))
    {
      p++;
      while (p < end && is_ws (*p))
        p++;
      if (top_object)
        goto key;
      goto value;
    }
  while (p < end && is_ws (*p))
    p++;
  if (depth == 0)
    {
      if (p != end)
        goto unexpected;
      reader->n_tokens = n;
      return TRUE;
    }
  if (p == end)
    FAIL ("the text ends inside an %s", top_object ? "object" : "array");
  if (*p == ',')
    {
      p++;
      while (p < end && is_ws (*p))
        p++;
      if (top_object)
        goto key;
      goto value;
    }
  if (*p == (top_object ? '}' : ']'))
    {
      p++;
      goto close;
    }
  goto unexpected;

close:
  /* The innermost container ends (p is after its bracket). */
  tokens[top].length = top_count;
  tokens[top].end = n;
  depth--;
  top = stack[depth];
  top_count = counts[depth];
  top_object = objects[depth];
  goto after;

key:
  if (p == end || *p != '"')
    {
      if (p == end)
        FAIL ("the text ends where a member name should be");
      FAIL ("a member name that is not a string (byte %" G_GSIZE_FORMAT ")", (gsize) (p - begin));
    }
  {
    const guchar *start = ++p;
    guint8 flags;

    /* A one-letter name (all of Binance's): a plain byte, then the quote. */
    if (end - p >= 2 && p[1] == '"' && !_th_json_string_stop[p[0]])
      {
        flags = 0;
        p++;
      }
    else if (!scan_string (&p, &flags, begin, end, error))
      {
        reader->n_tokens = n;
        return FALSE;
      }
    /* Its index bucket, while its bytes are at hand: the index of a
     * large object is then built without reading the names again. */
    PUSH_NAME (_TH_JSON_KIND_STRING, flags,
               p > start ? bucket_of (start[0], p[-1], (gsize) (p - start)) : 0,
               (guint32) (start - begin), (guint32) (p - start));
    p++;
  }
  /* Venues write "name":value, without spaces: tried first. */
  if (G_LIKELY (p < end && *p == ':'))
    p++;
  else
    {
      while (p < end && is_ws (*p))
        p++;
      if (p == end || *p != ':')
        FAIL ("no “:” after a member name");
      p++;
    }
  while (p < end && is_ws (*p))
    p++;
  goto value;

unexpected:
  if (g_ascii_isprint (*p))
    FAIL ("unexpected “%c” (byte %" G_GSIZE_FORMAT ")", *p, (gsize) (p - begin));
  FAIL ("unexpected byte 0x%02x (byte %" G_GSIZE_FORMAT ")", *p, (gsize) (p - begin));
}

#undef PUSH
#undef PUSH_NAME
#undef FAIL

/**
 * _th_json_reader_parse:
 * @reader: a reader
 * @data: (array length=length): the text; kept by the caller while @reader is used
 * @length: its length in bytes
 * @error: %TH_ERROR_BAD_INPUT when it is not one JSON value
 *
 * Returns: whether @data is a JSON text, now on the tape
 */
gboolean
_th_json_reader_parse (ThJsonReader *reader,
                       const char   *data,
                       gsize         length,
                       GError      **error)
{
  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  if (length <= PRESIZE_MAX_BYTES)
    {
      if (reader->capacity < length)
        {
          reader->capacity = MAX (reader->capacity * 2, (guint) length);
          reader->tokens = g_renew (Token, reader->tokens, reader->capacity);
        }
      return parse_tape (reader, data, length, error, FALSE);
    }
  return parse_tape (reader, data, length, error, TRUE);
}

static inline const Token *
token (ThJsonReader *reader,
       guint         value)
{
  return value < reader->n_tokens ? &reader->tokens[value] : NULL;
}

ThJsonKind
_th_json_reader_kind (ThJsonReader *reader,
                      guint         value)
{
  const Token *t = token (reader, value);

  g_return_val_if_fail (t != NULL, _TH_JSON_KIND_NULL);
  return (ThJsonKind) t->kind;
}

/* Elements of an array, members of an object; 0 for anything else. */
guint
_th_json_reader_length (ThJsonReader *reader,
                        guint         value)
{
  const Token *t = token (reader, value);

  return t != NULL && (t->kind == _TH_JSON_KIND_ARRAY || t->kind == _TH_JSON_KIND_OBJECT) ? t->length : 0;
}

/* The first element of an array, or the first member name of an object
 * (its value is the next index); _TH_JSON_NONE when empty. */
guint
_th_json_reader_first (ThJsonReader *reader,
                       guint         value)
{
  const Token *t = token (reader, value);

  if (t == NULL || (t->kind != _TH_JSON_KIND_ARRAY && t->kind != _TH_JSON_KIND_OBJECT) || t->length == 0)
    return _TH_JSON_NONE;
  return value + 1;
}

/* The index after @value and all it holds: its next sibling, when it has one. */
guint
_th_json_reader_next (ThJsonReader *reader,
                      guint         value)
{
  const Token *t = token (reader, value);

  return t != NULL ? t->end : _TH_JSON_NONE;
}

guint
_th_json_reader_element (ThJsonReader *reader,
                         guint         array,
                         guint         index)
{
  const Token *t = token (reader, array);
  guint v;

  if (t == NULL || t->kind != _TH_JSON_KIND_ARRAY || index >= t->length)
    return _TH_JSON_NONE;
  v = array + 1;
  while (index-- > 0)
    v = reader->tokens[v].end;
  return v;
}

static const char *
decode (ThJsonReader *reader,
        Token        *t)
{
  const guchar *p = (const guchar *) reader->data + t->offset;
  const guchar *end = p + t->length;
  char *out;
  char *o;

  if (t->flags & TOK_DECODED)
    return reader->scratch + t->offset;
  if (reader->scratch_size < reader->size + 1)
    {
      g_free (reader->scratch);
      reader->scratch_size = MAX (reader->size + 1, 256);
      reader->scratch = g_malloc (reader->scratch_size);
    }
  /* The text unescaped is never longer; its NUL falls on the closing quote. */
  out = o = reader->scratch + t->offset;
  if (!(t->flags & TOK_ESCAPED))
    {
      memcpy (o, p, t->length);
      o += t->length;
    }
  else
    while (p < end)
      {
        if (*p != '\\')
          {
            *o++ = (char) *p++;
            continue;
          }
        switch (p[1])
          {
          case 'b': *o++ = '\b'; p += 2; break;
          case 'f': *o++ = '\f'; p += 2; break;
          case 'n': *o++ = '\n'; p += 2; break;
          case 'r': *o++ = '\r'; p += 2; break;
          case 't': *o++ = '\t'; p += 2; break;
          case 'u':
            {
              gunichar c = (gunichar) hex4 (p + 2);

              p += 6;
              if (c >= 0xd800 && c <= 0xdbff)
                {
                  /* Checked by the parse: a low surrogate follows. */
                  c = 0x10000 + ((c - 0xd800) << 10) + ((gunichar) hex4 (p + 2) - 0xdc00);
                  p += 6;
                }
              o += g_unichar_to_utf8 (c, o);
            }
            break;
          default: *o++ = (char) p[1]; p += 2; break;
          }
      }
  *o = '\0';
  t->flags |= TOK_DECODED;
  return out;
}

/* The text of a string value (also of a member name), unescaped; %NULL
 * when @value is not a string. */
const char *
_th_json_reader_string (ThJsonReader *reader,
                        guint         value)
{
  Token *t = value < reader->n_tokens ? &reader->tokens[value] : NULL;

  if (t == NULL || t->kind != _TH_JSON_KIND_STRING)
    return NULL;
  return decode (reader, t);
}

/* Whether @value is the string @text, without copying it. */
gboolean
_th_json_reader_string_is (ThJsonReader *reader,
                           guint         value,
                           const char   *text)
{
  Token *t = value < reader->n_tokens ? &reader->tokens[value] : NULL;

  if (t == NULL || t->kind != _TH_JSON_KIND_STRING)
    return FALSE;
  if (t->flags & TOK_ESCAPED)
    return strcmp (decode (reader, t), text) == 0;
  return strlen (text) == t->length && memcmp (reader->data + t->offset, text, t->length) == 0;
}

/* A member name's bucket (of the name as in the text: unusable when
 * escaped); the parse stores it in the name's token. */
static inline guint
name_bucket (const char *name,
             gsize       len)
{
  return len > 0 ? bucket_of ((guchar) name[0], (guchar) name[len - 1], len) : 0;
}

/* Indexes the member names of @object (an object token with @t->length
 * members); not usable when one of them is escaped. */
G_NO_INLINE static void
build_index (ThJsonReader *reader,
             guint         object,
             const Token  *t)
{
  guint k = object + 1;

  reader->index_object = object;
  reader->index_usable = FALSE;
  if (reader->chain_capacity < reader->n_tokens)
    {
      reader->chain_capacity = MAX (reader->capacity, reader->n_tokens);
      g_free (reader->chain);
      reader->chain = g_new (guint32, reader->chain_capacity);
    }
  memset (reader->buckets, 0, sizeof reader->buckets);
  for (guint i = 0; i < t->length; i++)
    {
      const Token *kt = &reader->tokens[k];
      guint b;

      if (kt->flags & TOK_ESCAPED)
        return;
      b = kt->bucket;
      reader->chain[k] = reader->buckets[b];
      reader->buckets[b] = k + 1;
      k = reader->tokens[k + 1].end;
    }
  reader->index_usable = TRUE;
}

/* A venue's keys are short (Binance's one letter): those are counted and
 * compared in line, cheaper than the calls to strlen() and memcmp(); a
 * longer name is compared eight bytes at a time. */
static inline gsize
key_length (const char *key)
{
  if (key[0] == '\0')
    return 0;
  if (key[1] == '\0')
    return 1;
  if (key[2] == '\0')
    return 2;
  return strlen (key);
}

static inline guint64
load8 (const char *p)
{
  guint64 w;

  memcpy (&w, p, sizeof w);
  return w;
}

static inline gboolean
same_bytes (const char *a,
            const char *b,
            gsize       len)
{
  if (len >= 8)
    {
      /* The first eight bytes, the middle ones, then the last eight
       * (overlapping the ones before). */
      gsize i;

      for (i = 0; i + 8 < len; i += 8)
        if (load8 (a + i) != load8 (b + i))
          return FALSE;
      return load8 (a + len - 8) == load8 (b + len - 8);
    }
  for (gsize i = 0; i < len; i++)
    if (a[i] != b[i])
      return FALSE;
  return TRUE;
}

/* The lookup by walking every name of @object (@t), for a small object
 * or one with an escaped name; out of line, so that the indexed lookup
 * saves fewer registers. */
G_NO_INLINE static guint
walk_members (ThJsonReader *reader,
              guint         object,
              const Token  *t,
              const char   *key,
              gsize         key_len)
{
  guint found = _TH_JSON_NONE;
  guint k = object + 1;

  for (guint i = 0; i < t->length; i++)
    {
      Token *kt = &reader->tokens[k];

      if (G_LIKELY (!(kt->flags & TOK_ESCAPED)))
        {
          /* Venue keys are short, often one letter: compared in line. */
          if (kt->length == key_len && same_bytes (reader->data + kt->offset, key, key_len))
            found = k + 1;
        }
      else if (strcmp (decode (reader, kt), key) == 0)
        found = k + 1;
      k = reader->tokens[k + 1].end;
    }
  return found;
}

/* The value of @key in @object (the last one, when the key is there more
 * than once); _TH_JSON_NONE when absent or @object is not an object. */
guint
_th_json_reader_member (ThJsonReader *reader,
                        guint         object,
                        const char   *key)
{
  const Token *t = token (reader, object);
  gsize key_len;

  if (t == NULL || t->kind != _TH_JSON_KIND_OBJECT)
    return _TH_JSON_NONE;
  key_len = key_length (key);

  /* A large object (a venue's message): its names hashed once, then each
   * lookup reads one short chain instead of every name. */
  if (t->length >= INDEX_MIN_MEMBERS)
    {
      if (reader->index_object != object)
        build_index (reader, object, t);
      if (reader->index_usable)
        {
          for (guint32 c = reader->buckets[name_bucket (key, key_len)]; c != 0; c = reader->chain[c - 1])
            {
              const Token *kt = &reader->tokens[c - 1];

              if (kt->length == key_len && same_bytes (reader->data + kt->offset, key, key_len))
                return c;   /* the value follows its name: (c - 1) + 1 */
            }
          return _TH_JSON_NONE;
        }
    }
  return walk_members (reader, object, t, key, key_len);
}

/* Numbers */

static const double exact_pow10[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const guint64 exact_pow10_int[] = {
  G_GUINT64_CONSTANT (1), G_GUINT64_CONSTANT (10), G_GUINT64_CONSTANT (100),
  G_GUINT64_CONSTANT (1000), G_GUINT64_CONSTANT (10000), G_GUINT64_CONSTANT (100000),
  G_GUINT64_CONSTANT (1000000), G_GUINT64_CONSTANT (10000000), G_GUINT64_CONSTANT (100000000),
  G_GUINT64_CONSTANT (1000000000), G_GUINT64_CONSTANT (10000000000), G_GUINT64_CONSTANT (100000000000),
  G_GUINT64_CONSTANT (1000000000000), G_GUINT64_CONSTANT (10000000000000),
  G_GUINT64_CONSTANT (100000000000000), G_GUINT64_CONSTANT (1000000000000000),
  G_GUINT64_CONSTANT (10000000000000000), G_GUINT64_CONSTANT (100000000000000000),
  G_GUINT64_CONSTANT (1000000000000000000), G_GUINT64_CONSTANT (10000000000000000000),
};

/* Decimal text (digits, one optional '.', optional leading '-') as a
 * double, when it can be done exactly; FALSE for anything else
 * (exponents, more than 19 digits), left to strtod(). Up to 19 digits the
 * mantissa m is exact in 64 bits and 10^k (k ≤ 19 decimals) is an exact
 * double:
 * - m ≤ 2^53: m and 10^k are exact doubles, and one correctly rounded
 *   division gives the correctly rounded value — the one strtod() returns;
 * - no decimals: (double) m is the one rounding;
 * - else (16 to 19 digits: CoinCap's prices, a Binance quantity)
 *   nearest_quotient() corrects the double m / 10^k to the nearest one by
 *   exact integer comparisons. */
#ifdef __SIZEOF_INT128__
/* Compares m / 10^k with (2L + 1) · 2^(e - 1): the midpoint between the
 * double L · 2^e (L its 53-bit significand) and the next one up. Both
 * sides fit in 128 bits for the doubles near m / 10^k (m < 2^64, k ≤ 19). */
static inline int
compare_midpoint (guint64 m,
                  int     k,
                  guint64 L,
                  int     e)
{
  unsigned __int128 lhs = m;
  unsigned __int128 rhs = (unsigned __int128) (2 * L + 1) * exact_pow10_int[k];
  int shift = e - 1;

  if (shift < 0)
    lhs <<= -shift;
  else
    rhs <<= shift;
  return lhs < rhs ? -1 : lhs > rhs;
}

/* The double of bits @b as L · 2^e, L its 53-bit significand (a positive
 * normal double): read from the bits, not with frexp() and ldexp(), which
 * were a third of the cost of a 17-digit price. */
static inline guint64
split_bits (guint64 b,
            int    *e)
{
  *e = (int) (b >> 52) - 1075;
  return (b & ((G_GUINT64_CONSTANT (1) << 52) - 1)) | (G_GUINT64_CONSTANT (1) << 52);
}

/* The double nearest m / 10^k (ties to even), for 2^53 < m < 2^64 and
 * 1 ≤ k ≤ 19: the quotient of the two roundings is within an ulp or two
 * of it, then moved while m / 10^k is past a midpoint. The quotient is a
 * positive normal double (≥ 2^53 / 10^19), so the next one up or down is
 * its bits plus or minus one, even across a power of two. */
static double
nearest_quotient (guint64 m,
                  int     k)
{
  double d = (double) m / exact_pow10[k];
  guint64 b;

  memcpy (&b, &d, sizeof b);
  for (;;)
    {
      int e, c;
      guint64 L = split_bits (b, &e);

      c = compare_midpoint (m, k, L, e);
      if (c > 0 || (c == 0 && (L & 1)))
        {
          b++;
          continue;
        }
      L = split_bits (b - 1, &e);
      c = compare_midpoint (m, k, L, e);
      if (c < 0 || (c == 0 && !(L & 1)))
        {
          b--;
          continue;
        }
      memcpy (&d, &b, sizeof d);
      return d;
    }
}
#endif

static inline gboolean
fast_decimal (const char *s,
              gsize       len,
              double     *out)
{
  const char *p = s;
  const char *end = s + len;
  const char *digits;
  guint64 m = 0;
  int decimals = 0;
  gboolean negative = FALSE;

  if (p < end && *p == '-')
    {
      negative = TRUE;
      p++;
    }
  /* The whole part, then the fraction: at least a digit in each, the
   * point not last. m wraps around past 19 digits, then is not used. */
  digits = p;
  while (p < end && is_digit ((guchar) *p))
    m = m * 10 + (guint64) (*p++ - '0');
  if (p == digits)
    return FALSE;
  if (p < end && *p == '.')
    {
      const char *fraction = ++p;

      while (p < end && is_digit ((guchar) *p))
        m = m * 10 + (guint64) (*p++ - '0');
      decimals = (int) (p - fraction);
      if (decimals == 0)
        return FALSE;
    }
  if (p != end || (p - digits) - (decimals > 0) > 19)
    return FALSE;
  if (m <= G_GUINT64_CONSTANT (1) << 53)
    *out = (double) m / exact_pow10[decimals];
  else if (decimals == 0)
    *out = (double) m;
  else
#ifdef __SIZEOF_INT128__
    *out = nearest_quotient (m, decimals);
#else
    return FALSE;
#endif
  if (negative)
    *out = -*out;
  return TRUE;
}

/* g_ascii_strtod() of the @len bytes at @s, which are not NUL-terminated
 * (a copy, on the stack when short); *@whole: whether it read them all. */
static double
strtod_len (const char *s,
            gsize       len,
            gboolean   *whole)
{
  char buf[64];
  g_autofree char *copy = NULL;
  const char *text;
  char *end = NULL;
  double v;

  if (len < sizeof buf)
    {
      memcpy (buf, s, len);
      buf[len] = '\0';
      text = buf;
    }
  else
    text = copy = g_strndup (s, len);
  v = g_ascii_strtod (text, &end);
  *whole = *end == '\0';
  return v;
}

static double
text_to_double (const char *s,
                gsize       len)
{
  gboolean whole;
  double v;

  if (fast_decimal (s, len, &v))
    return v;
  return strtod_len (s, len, &whole);
}

/* A string value's text (@len bytes, unescaped, no NUL among them) as a
 * venue number: digits, sign, point and exponent that g_ascii_strtod()
 * reads whole to a finite double. The conversion of
 * _th_json_reader_number() on a string, shared with the shapes
 * (th-json-shape.c) so that both give the same double. */
gboolean
_th_json_decimal_string (const char *text,
                         gsize       len,
                         double     *out)
{
  gboolean whole;

  if (len == 0)
    return FALSE;
  /* What the fast path takes (digits, one point, a leading minus)
   * passes the check below too. */
  if (fast_decimal (text, len, out))
    return TRUE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (text[i]) && text[i] != '.' && text[i] != '-' &&
        text[i] != '+' && text[i] != 'e' && text[i] != 'E')
      return FALSE;
  *out = strtod_len (text, len, &whole);
  return whole && isfinite (*out);
}

/* Whether @value is an integer number that fits in 64 bits (json-glib's
 * G_TYPE_INT64 node), and which. */
gboolean
_th_json_reader_int (ThJsonReader *reader,
                     guint         value,
                     gint64       *out)
{
  const Token *t = token (reader, value);
  const char *p, *end;
  gboolean negative = FALSE;
  guint64 m = 0;

  if (t == NULL || t->kind != _TH_JSON_KIND_NUMBER || !(t->flags & TOK_INTEGER))
    return FALSE;
  p = reader->data + t->offset;
  end = p + t->length;
  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }
  /* Up to 19 digits cannot overflow 64 bits unsigned. */
  if (end - p <= 19)
    for (; p < end; p++)
      m = m * 10 + (guint64) (*p - '0');
  else
    for (; p < end; p++)
      {
        guint64 d = (guint64) (*p - '0');

        if (m > (G_MAXUINT64 - d) / 10)
          return FALSE;
        m = m * 10 + d;
      }
  if (negative ? m > (guint64) G_MAXINT64 + 1 : m > (guint64) G_MAXINT64)
    return FALSE;
  *out = negative ? (gint64) (0 - m) : (gint64) m;
  return TRUE;
}

/* Any number as a double (json_node_get_double()); FALSE for what is not a number. */
gboolean
_th_json_reader_double (ThJsonReader *reader,
                        guint         value,
                        double       *out)
{
  const Token *t = token (reader, value);
  gint64 i;

  if (t == NULL || t->kind != _TH_JSON_KIND_NUMBER)
    return FALSE;
  if ((t->flags & TOK_INTEGER) && _th_json_reader_int (reader, value, &i))
    *out = (double) i;
  else
    *out = text_to_double (reader->data + t->offset, t->length);
  return TRUE;
}

/* th_json_object_get_number() on one value: a finite number, or with
 * @strings a string of digits, sign, point and exponent that g_ascii_strtod()
 * reads whole to a finite double. */
ThJsonField
_th_json_reader_number (ThJsonReader *reader,
                        guint         value,
                        gboolean      strings,
                        double       *out)
{
  Token *t = value < reader->n_tokens ? &reader->tokens[value] : NULL;

  if (t == NULL)
    return TH_JSON_FIELD_ABSENT;
  switch (t->kind)
    {
    case _TH_JSON_KIND_NULL:
      return TH_JSON_FIELD_NULL;
    case _TH_JSON_KIND_NUMBER:
      {
        gint64 i;

        /* json-glib 1.6 wraps an integer beyond 64 bits around (to -1 for
         * 99999999999999999999): such a number is refused here instead. */
        if ((t->flags & TOK_INTEGER) && !_th_json_reader_int (reader, value, &i))
          return TH_JSON_FIELD_BAD;
      }
      _th_json_reader_double (reader, value, out);
      return isfinite (*out) ? TH_JSON_FIELD_OK : TH_JSON_FIELD_BAD;
    case _TH_JSON_KIND_STRING:
      {
        const char *text;
        gsize len;

        if (!strings)
          return TH_JSON_FIELD_BAD;
        if (t->flags & TOK_ESCAPED)
          {
            text = decode (reader, t);
            len = strlen (text);
          }
        else
          {
            text = reader->data + t->offset;
            len = t->length;
          }
        return _th_json_decimal_string (text, len, out) ? TH_JSON_FIELD_OK : TH_JSON_FIELD_BAD;
      }
    default:
      return TH_JSON_FIELD_BAD;
    }
}

/* th_json_object_get_string() on the tape. */
const char *
_th_json_reader_get_string (ThJsonReader *reader,
                            guint         object,
                            const char   *key)
{
  guint v = _th_json_reader_member (reader, object, key);

  return v != _TH_JSON_NONE ? _th_json_reader_string (reader, v) : NULL;
}

/* th_json_object_get_number() on the tape. */
ThJsonField
_th_json_reader_get_number (ThJsonReader *reader,
                            guint         object,
                            const char   *key,
                            gboolean      strings,
                            double       *out)
{
  guint v = _th_json_reader_member (reader, object, key);

  if (v == _TH_JSON_NONE)
    return TH_JSON_FIELD_ABSENT;
  return _th_json_reader_number (reader, v, strings, out);
}
