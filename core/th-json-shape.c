/* th-json-shape.c: strict one-pass matching of a venue's fixed layouts
 *
 * See th-json-shape.h. A compiled shape is a list of steps, each a
 * literal (bytes of the template, compared with memcmp()) then one
 * placeholder; the last step's placeholder is the end of the frame.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-json-shape.h"
#include "th-json-reader.h"
#include "th-json-scan.h"
#include "th-private.h"

typedef enum
{
  STEP_END,
  STEP_STRING,
  STEP_INT,
  STEP_NUMBER,
  STEP_BOOL,
} StepKind;

typedef struct
{
  guint64 mask;     /* the literal's bytes in a 64-bit load (up to 8) */
  guint32 offset;   /* of the literal in the template */
  guint16 length;   /* of the literal */
  guint8  kind;     /* StepKind: the placeholder after it */
} Step;

struct _ThJsonShape
{
  char  *text;      /* the template */
  guint  n_values;
  Step   steps[];   /* n_values + 1 */
};

static inline gboolean
is_digit (guchar c)
{
  return (guchar) (c - '0') < 10;
}

static inline guint64
load64 (const void *p)
{
  guint64 w;

  memcpy (&w, p, sizeof w);
  return w;
}

#if G_BYTE_ORDER == G_LITTLE_ENDIAN && defined (__GNUC__)
#define SWAR 1
#endif

/* Whether the @n bytes at @p (@avail ≥ @n of them readable) are @literal's
 * (padded with 8 NULs in the shape). Literals are mostly a few bytes: one
 * or two 8-byte comparisons, not a call. */
static inline gboolean
same_bytes (const guchar *p,
            gsize         avail,
            const char   *literal,
            gsize         n,
            guint64       mask)
{
#ifdef SWAR
  if (n <= 8 && avail >= 8)
    return ((load64 (p) ^ load64 (literal)) & mask) == 0;
  if (n > 8 && n <= 16)
    return load64 (p) == load64 (literal) && load64 (p + n - 8) == load64 (literal + n - 8);
#endif
  return memcmp (p, literal, n) == 0;
}

static StepKind
placeholder (char c)
{
  switch (c)
    {
    case 's': return STEP_STRING;
    case 'i': return STEP_INT;
    case 'n': return STEP_NUMBER;
    case 'b': return STEP_BOOL;
    default:  return STEP_END;
    }
}

/**
 * _th_json_shape_new:
 * @template_: the layout, compact JSON with `$s`, `$i`, `$n` and `$b` for values
 * @error: a #TH_ERROR_BAD_INPUT for a template that is not such a layout
 *
 * Returns: (transfer full) (nullable): the compiled shape
 */
ThJsonShape *
_th_json_shape_new (const char  *template_,
                    GError     **error)
{
  g_autoptr(GString) sample = g_string_new (NULL);
  ThJsonReader *reader;
  ThJsonShape *shape;
  gsize len = strlen (template_);
  guint n = 0, step = 0;
  gsize literal = 0;
  gboolean ok;

  for (gsize i = 0; i < len; i++)
    {
      if (g_ascii_isspace (template_[i]))
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "shape: whitespace at byte %zu", i);
          return NULL;
        }
      if (template_[i] == '$')
        {
          if (i + 1 == len || placeholder (template_[i + 1]) == STEP_END)
            {
              g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "shape: a $ at byte %zu is no placeholder", i);
              return NULL;
            }
          n++;
          i++;
        }
    }
  if (n > _TH_JSON_SHAPE_MAX_VALUES || len > G_MAXUINT32)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "shape: too large (%u placeholders)", n);
      return NULL;
    }

  shape = g_malloc0 (sizeof *shape + (n + 1) * sizeof (Step));
  /* 8 NULs after it: same_bytes() reads a literal 8 bytes at a time. */
  shape->text = g_malloc0 (len + 9);
  memcpy (shape->text, template_, len);
  shape->n_values = n;
  for (gsize i = 0; i <= len; i++)
    {
      StepKind kind = i < len && template_[i] == '$' ? placeholder (template_[i + 1]) : STEP_END;

      if (i < len && kind == STEP_END)
        {
          g_string_append_c (sample, template_[i]);
          continue;
        }
      if (i - literal > G_MAXUINT16)
        {
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT, "shape: a literal of %zu bytes", i - literal);
          _th_json_shape_free (shape);
          return NULL;
        }
      shape->steps[step].offset = (guint32) literal;
      shape->steps[step].length = (guint16) (i - literal);
      shape->steps[step].kind = (guint8) kind;
      shape->steps[step].mask = i - literal >= 8 ? G_MAXUINT64 : (G_GUINT64_CONSTANT (1) << ((i - literal) * 8)) - 1;
      step++;
      /* A value of each kind, for the check below. */
      switch (kind)
        {
        case STEP_STRING: g_string_append (sample, "\"x\""); break;
        case STEP_INT:    g_string_append (sample, "0"); break;
        case STEP_NUMBER: g_string_append (sample, "\"1\""); break;
        case STEP_BOOL:   g_string_append (sample, "true"); break;
        case STEP_END:
        default:          break;
        }
      i++;
      literal = i + 1;
    }

  /* The template is JSON: what matches it is too. */
  reader = _th_json_reader_new ();
  ok = _th_json_reader_parse (reader, sample->str, sample->len, error);
  _th_json_reader_free (reader);
  if (!ok)
    {
      g_prefix_error (error, "shape: not JSON: ");
      _th_json_shape_free (shape);
      return NULL;
    }
  return shape;
}

void
_th_json_shape_free (ThJsonShape *shape)
{
  if (shape == NULL)
    return;
  g_free (shape->text);
  g_free (shape);
}

guint
_th_json_shape_n_values (const ThJsonShape *shape)
{
  return shape->n_values;
}

/* A plain string from its opening quote (the tape reader's fast scan,
 * stopping where it would go on to escapes or UTF-8): *@start and *@len
 * its text; *@pp after its closing quote. */
G_ALWAYS_INLINE static inline gboolean
plain_string (const guchar **pp,
              const guchar  *end,
              const char   **start,
              gsize         *len)
{
  const guchar *p = *pp;
  const guchar *s;

  if (p == end || *p != '"')
    return FALSE;
  s = ++p;
  p = _th_json_skip_plain (p, end);
  if (p == end || *p != '"')
    return FALSE;
  *start = (const char *) s;
  *len = (gsize) (p - s);
  *pp = p + 1;
  return TRUE;
}

/**
 * _th_json_shape_match:
 * @shape: a compiled shape
 * @data: the frame
 * @length: its bytes
 * @values: (out caller-allocates): room for the shape's values, in the
 *   template's order; undefined when the frame does not match
 *
 * Returns: whether the frame is the layout, whole and strict
 */
gboolean
_th_json_shape_match (const ThJsonShape *shape,
                      const char        *data,
                      gsize              length,
                      ThJsonShapeValue  *values)
{
  const guchar *p = (const guchar *) data;
  const guchar *end = p + length;
  ThJsonShapeValue *v = values;

  for (const Step *step = shape->steps; ; step++)
    {
      if ((gsize) (end - p) < step->length || !same_bytes (p, (gsize) (end - p), shape->text + step->offset, step->length, step->mask))
        return FALSE;
      p += step->length;
      switch ((StepKind) step->kind)
        {
        case STEP_END:
          return p == end;

        case STEP_STRING:
          if (!plain_string (&p, end, &v->s, &v->len))
            return FALSE;
          break;

        case STEP_NUMBER:
          {
            const char *s;
            gsize len;

            if (!plain_string (&p, end, &s, &len) || !_th_json_decimal_string (s, len, &v->n))
              return FALSE;
          }
          break;

        case STEP_INT:
          {
            gboolean negative = FALSE;
            const guchar *digits;
            guint64 m = 0;

            if (p < end && *p == '-')
              {
                negative = TRUE;
                p++;
              }
            digits = p;
            if (p == end || !is_digit (*p))
              return FALSE;
            if (*p == '0')
              p++;
            else
              {
                /* m wraps around past 19 digits, then is not used. */
                while (p < end && is_digit (*p))
                  m = m * 10 + (guint64) (*p++ - '0');
                if (p - digits > 19)
                  return FALSE;
              }
            /* No leading zero, fraction or exponent. */
            if (p < end && (is_digit (*p) || *p == '.' || *p == 'e' || *p == 'E'))
              return FALSE;
            if (negative ? m > (guint64) G_MAXINT64 + 1 : m > (guint64) G_MAXINT64)
              return FALSE;
            v->i = negative ? (gint64) (0 - m) : (gint64) m;
          }
          break;

        case STEP_BOOL:
          if ((gsize) (end - p) >= 4 && memcmp (p, "true", 4) == 0)
            {
              v->b = TRUE;
              p += 4;
            }
          else if ((gsize) (end - p) >= 5 && memcmp (p, "false", 5) == 0)
            {
              v->b = FALSE;
              p += 5;
            }
          else
            return FALSE;
          break;

        default:
          g_assert_not_reached ();
        }
      v++;
    }
}
