/* fuzz-json-reader.c: the tape reader (core/th-json-reader.c) against
 * json-glib and against the grammar
 *
 * Differential, on the same bytes:
 *
 * - accept or reject: the reader accepts exactly what a small recursive
 *   RFC 8259 checker written here accepts (with tickhub's limits: nesting
 *   up to TH_JSON_MAX_DEPTH, no NUL in a string, no lone surrogate
 *   escape). What the reader accepts, th_json_parse() (the guard and
 *   json-glib) accepts too. json-glib 1.6 takes a few texts that are not
 *   JSON; those the reader must refuse, and the checker says they are not
 *   JSON.
 * - values: every value on the tape equals json-glib's: kinds, array
 *   lengths, object members (the last of duplicate keys, as json-glib),
 *   strings byte for byte, integers, doubles bit for bit; and for every
 *   member, _th_json_reader_get_number() and _th_json_reader_get_string()
 *   answer what th_json_object_get_number() and th_json_object_get_string()
 *   answer on json-glib's tree (the venues' getters). An integer beyond
 *   64 bits is the one known difference: json-glib wraps it around, the
 *   reader calls it a bad number.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-fuzz.h"
#include "th-json-reader.h"

/* The grammar, by the book (RFC 8259, section 2 to 8), independent of the
 * reader's code. */

typedef struct
{
  const guchar *p;
  const guchar *end;
} Ref;

static gboolean ref_value (Ref *r, guint depth);

static void
ref_ws (Ref *r)
{
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static gboolean
ref_lit (Ref        *r,
         const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (r->end - r->p) < n || memcmp (r->p, word, n) != 0)
    return FALSE;
  r->p += n;
  return TRUE;
}

static int
ref_hex4 (Ref *r)
{
  int v = 0;

  if (r->end - r->p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value ((char) r->p[i]);

      if (d < 0)
        return -1;
      v = v * 16 + d;
    }
  r->p += 4;
  return v;
}

static gboolean
ref_string (Ref *r)
{
  if (r->p == r->end || *r->p != '"')
    return FALSE;
  r->p++;
  while (r->p < r->end)
    {
      guchar c = *r->p++;

      if (c == '"')
        return TRUE;
      if (c < 0x20)
        return FALSE;
      if (c != '\\')
        continue;     /* the bytes are valid UTF-8: checked before */
      if (r->p == r->end)
        return FALSE;
      c = *r->p++;
      if (c == 'u')
        {
          int u = ref_hex4 (r);

          if (u <= 0 || (u >= 0xdc00 && u <= 0xdfff))
            return FALSE;
          if (u >= 0xd800 && u <= 0xdbff)
            {
              int low;

              if (!ref_lit (r, "\\u"))
                return FALSE;
              low = ref_hex4 (r);
              if (low < 0xdc00 || low > 0xdfff)
                return FALSE;
            }
        }
      else if (strchr ("\"\\/bfnrt", c) == NULL || c == '\0')
        return FALSE;
    }
  return FALSE;
}

static gboolean
ref_digits (Ref *r)
{
  const guchar *start = r->p;

  while (r->p < r->end && g_ascii_isdigit (*r->p))
    r->p++;
  return r->p > start;
}

static gboolean
ref_number (Ref *r)
{
  if (r->p < r->end && *r->p == '-')
    r->p++;
  if (r->p < r->end && *r->p == '0')
    r->p++;
  else if (r->p == r->end || *r->p < '1' || *r->p > '9' || !ref_digits (r))
    return FALSE;
  if (r->p < r->end && *r->p == '.')
    {
      r->p++;
      if (!ref_digits (r))
        return FALSE;
    }
  if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
    {
      r->p++;
      if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
        r->p++;
      if (!ref_digits (r))
        return FALSE;
    }
  return TRUE;
}

static gboolean
ref_value (Ref  *r,
           guint depth)
{
  ref_ws (r);
  if (r->p == r->end)
    return FALSE;
  switch (*r->p)
    {
    case '{':
    case '[':
      {
        gboolean object = *r->p == '{';
        guchar close = object ? '}' : ']';

        if (depth == TH_JSON_MAX_DEPTH)
          return FALSE;
        r->p++;
        ref_ws (r);
        if (r->p < r->end && *r->p == close)
          {
            r->p++;
            return TRUE;
          }
        for (;;)
          {
            if (object)
              {
                ref_ws (r);
                if (!ref_string (r))
                  return FALSE;
                ref_ws (r);
                if (!ref_lit (r, ":"))
                  return FALSE;
              }
            if (!ref_value (r, depth + 1))
              return FALSE;
            ref_ws (r);
            if (r->p == r->end)
              return FALSE;
            if (*r->p == close)
              {
                r->p++;
                return TRUE;
              }
            if (*r->p != ',')
              return FALSE;
            r->p++;
          }
      }
    case '"':
      return ref_string (r);
    case 't':
      return ref_lit (r, "true");
    case 'f':
      return ref_lit (r, "false");
    case 'n':
      return ref_lit (r, "null");
    default:
      return ref_number (r);
    }
}

static gboolean
ref_is_json (const char *data,
             gsize       size)
{
  Ref r = { (const guchar *) data, (const guchar *) data + size };

  /* Outside strings only ASCII is allowed, so checking the whole text is
   * checking the strings; a NUL byte is refused here too. */
  if (!g_utf8_validate_len (data, size, NULL))
    return FALSE;
  if (!ref_value (&r, 0))
    return FALSE;
  ref_ws (&r);
  return r.p == r.end;
}

/* Values */

static gboolean
same_double (double a,
             double b)
{
  return memcmp (&a, &b, sizeof a) == 0 || (isnan (a) && isnan (b));
}

/* Whether the number at @v is an integer beyond 64 bits (json-glib wraps
 * it around; the reader's _th_json_reader_int() refuses it). */
static gboolean
wraps (ThJsonReader *r,
       guint         v)
{
  gint64 i;
  double d;

  return _th_json_reader_kind (r, v) == _TH_JSON_KIND_NUMBER &&
         !_th_json_reader_int (r, v, &i) && _th_json_reader_double (r, v, &d) &&
         floor (d) == d && fabs (d) >= 9.2e18;
}

static void compare (ThJsonReader *r, guint v, JsonNode *node, guint depth);

static void
compare_members (ThJsonReader *r,
                 guint         v,
                 JsonObject   *object,
                 guint         depth)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  guint n_distinct = 0;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    {
      guint m = _th_json_reader_member (r, v, name);
      double a = 0, b = 0;
      ThJsonField fa, fb;

      th_fuzz_check (m != _TH_JSON_NONE, "member “%s” is not on the tape", name);
      compare (r, m, member, depth + 1);

      /* The venues' getters. */
      for (int strings = 0; strings < 2; strings++)
        {
          fa = _th_json_reader_get_number (r, v, name, strings, &a);
          fb = th_json_object_get_number (object, name, strings, &b);
          if (fb == TH_JSON_FIELD_OK && fa == TH_JSON_FIELD_BAD && wraps (r, m))
            continue;
          th_fuzz_check (fa == fb, "get_number (“%s”, strings=%d): %d on the tape, %d in json-glib",
                         name, strings, fa, fb);
          th_fuzz_check (fa != TH_JSON_FIELD_OK || same_double (a, b),
                         "get_number (“%s”): %.17g on the tape, %.17g in json-glib", name, a, b);
        }
      th_fuzz_check (g_strcmp0 (_th_json_reader_get_string (r, v, name),
                                th_json_object_get_string (object, name)) == 0,
                     "get_string (“%s”) differs", name);
      n_distinct++;
    }
  /* And nothing more on the tape: each of its names is one of json-glib's. */
  for (guint k = _th_json_reader_first (r, v); k != _TH_JSON_NONE && k < _th_json_reader_next (r, v);
       k = _th_json_reader_next (r, k + 1))
    {
      const char *key = _th_json_reader_string (r, k);

      th_fuzz_check (key != NULL && json_object_has_member (object, key),
                     "a name on the tape json-glib does not have: “%s”", key != NULL ? key : "(not a string)");
    }
  th_fuzz_check (n_distinct == json_object_get_size (object), "object sizes differ");
}

static void
compare (ThJsonReader *r,
         guint         v,
         JsonNode     *node,
         guint         depth)
{
  ThJsonKind kind = _th_json_reader_kind (r, v);

  th_fuzz_check (depth <= TH_JSON_MAX_DEPTH + 1, "deeper than the limit: %u", depth);
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_NULL:
      th_fuzz_check (kind == _TH_JSON_KIND_NULL, "null in json-glib, kind %d on the tape", kind);
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        guint n = json_array_get_length (array);
        guint e = _th_json_reader_first (r, v);

        th_fuzz_check (kind == _TH_JSON_KIND_ARRAY, "an array in json-glib, kind %d on the tape", kind);
        th_fuzz_check (_th_json_reader_length (r, v) == n, "array lengths differ: %u, %u",
                       _th_json_reader_length (r, v), n);
        for (guint i = 0; i < n; i++)
          {
            th_fuzz_check (e != _TH_JSON_NONE, "array element %u missing", i);
            if (i < 4)
              th_fuzz_check (_th_json_reader_element (r, v, i) == e, "element %u found elsewhere", i);
            compare (r, e, json_array_get_element (array, i), depth + 1);
            e = _th_json_reader_next (r, e);
          }
        th_fuzz_check (_th_json_reader_element (r, v, n) == _TH_JSON_NONE, "an element past the end");
      }
      break;
    case JSON_NODE_OBJECT:
      th_fuzz_check (kind == _TH_JSON_KIND_OBJECT, "an object in json-glib, kind %d on the tape", kind);
      compare_members (r, v, json_node_get_object (node), depth);
      break;
    case JSON_NODE_VALUE:
    default:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_BOOLEAN:
          th_fuzz_check (kind == (json_node_get_boolean (node) ? _TH_JSON_KIND_TRUE : _TH_JSON_KIND_FALSE),
                         "booleans differ");
          break;
        case G_TYPE_STRING:
          th_fuzz_check (kind == _TH_JSON_KIND_STRING, "a string in json-glib, kind %d on the tape", kind);
          th_fuzz_check (strcmp (_th_json_reader_string (r, v), json_node_get_string (node)) == 0,
                         "strings differ: “%s”, “%s”", _th_json_reader_string (r, v), json_node_get_string (node));
          th_fuzz_check (_th_json_reader_string_is (r, v, json_node_get_string (node)), "string_is is false");
          break;
        case G_TYPE_INT64:
          {
            gint64 i = 0;
            double d = 0;

            th_fuzz_check (kind == _TH_JSON_KIND_NUMBER, "an integer in json-glib, kind %d on the tape", kind);
            if (!_th_json_reader_int (r, v, &i))
              {
                th_fuzz_check (wraps (r, v), "an integer json-glib read (%" G_GINT64_FORMAT ") is not one on the tape",
                               json_node_get_int (node));
                break;
              }
            th_fuzz_check (i == json_node_get_int (node), "integers differ: %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT,
                           i, json_node_get_int (node));
            th_fuzz_check (_th_json_reader_double (r, v, &d) && same_double (d, (double) i), "int as double");
          }
          break;
        case G_TYPE_DOUBLE:
          {
            double d = 0;
            gint64 i;

            th_fuzz_check (kind == _TH_JSON_KIND_NUMBER, "a double in json-glib, kind %d on the tape", kind);
            th_fuzz_check (!_th_json_reader_int (r, v, &i), "a double in json-glib, an integer on the tape");
            th_fuzz_check (_th_json_reader_double (r, v, &d) && same_double (d, json_node_get_double (node)),
                           "doubles differ: %.17g, %.17g", d, json_node_get_double (node));
          }
          break;
        default:
          th_fuzz_fail (__FILE__, __LINE__, "type", "json-glib value of type %s",
                        g_type_name (json_node_get_value_type (node)));
        }
    }
}

static ThJsonReader *reader;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  reader = _th_json_reader_new ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *text = (const char *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) root = NULL;
  gboolean ok = _th_json_reader_parse (reader, text, size, &error);
  gboolean json = ref_is_json (text, size);

  th_fuzz_check (ok == (error == NULL), "a result and an error that disagree");
  th_fuzz_check (error == NULL || g_error_matches (error, TH_ERROR, TH_ERROR_BAD_INPUT),
                 "not a TH_ERROR_BAD_INPUT");
  th_fuzz_check (error == NULL || g_utf8_validate (error->message, -1, NULL), "an error message not in UTF-8");
  th_fuzz_check (ok == json, "the reader %s a text the grammar %s: %s",
                 ok ? "accepts" : "refuses", json ? "accepts" : "refuses",
                 error != NULL ? error->message : "");
  root = th_json_parse (text, (gssize) size, NULL);
  if (!ok)
    return 0;
  th_fuzz_check (root != NULL, "json-glib refuses a text the reader accepts");
  compare (reader, 0, root, 1);
  return 0;
}
