/* th-json-reader.h: a strict JSON reader for the hot path (private)
 *
 * One pass over the bytes validates a whole JSON text (RFC 8259: UTF-8,
 * escapes, surrogate pairs, numbers, nesting up to TH_JSON_MAX_DEPTH) and
 * writes a flat tape of tokens; no tree is built. Values are looked up on
 * the tape: object members by key (the last of duplicate keys wins, as in
 * json-glib), strings unescaped only when asked for, numbers converted to
 * the same double as json-glib and th_json_object_get_number() give.
 *
 * A value is named by its index on the tape (a guint); the root is 0, and
 * _TH_JSON_NONE stands for "no such value". Strings returned are valid
 * until the next parse with the same reader; the text parsed must stay
 * alive and unchanged while the reader is used on it.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tickhub.h"
#include "th-export.h"

G_BEGIN_DECLS

#define _TH_JSON_NONE ((guint) -1)

typedef enum
{
  _TH_JSON_KIND_NULL,
  _TH_JSON_KIND_FALSE,
  _TH_JSON_KIND_TRUE,
  _TH_JSON_KIND_NUMBER,
  _TH_JSON_KIND_STRING,
  _TH_JSON_KIND_ARRAY,
  _TH_JSON_KIND_OBJECT,
} ThJsonKind;

typedef struct _ThJsonReader ThJsonReader;

TH_PRIVATE_API
ThJsonReader *_th_json_reader_new        (void);
TH_PRIVATE_API
void          _th_json_reader_free       (ThJsonReader *reader);
TH_PRIVATE_API
gboolean      _th_json_reader_parse      (ThJsonReader *reader,
                                          const char   *data,
                                          gsize         length,
                                          GError      **error);
TH_PRIVATE_API
ThJsonKind    _th_json_reader_kind       (ThJsonReader *reader,
                                          guint         value);
TH_PRIVATE_API
guint         _th_json_reader_length     (ThJsonReader *reader,
                                          guint         value);
TH_PRIVATE_API
guint         _th_json_reader_first      (ThJsonReader *reader,
                                          guint         value);
TH_PRIVATE_API
guint         _th_json_reader_next       (ThJsonReader *reader,
                                          guint         value);
TH_PRIVATE_API
guint         _th_json_reader_element    (ThJsonReader *reader,
                                          guint         array,
                                          guint         index);
TH_PRIVATE_API
guint         _th_json_reader_member     (ThJsonReader *reader,
                                          guint         object,
                                          const char   *key);
TH_PRIVATE_API
const char   *_th_json_reader_string     (ThJsonReader *reader,
                                          guint         value);
TH_PRIVATE_API
gboolean      _th_json_reader_string_is  (ThJsonReader *reader,
                                          guint         value,
                                          const char   *text);
TH_PRIVATE_API
gboolean      _th_json_reader_int        (ThJsonReader *reader,
                                          guint         value,
                                          gint64       *out);
TH_PRIVATE_API
gboolean      _th_json_reader_double     (ThJsonReader *reader,
                                          guint         value,
                                          double       *out);
TH_PRIVATE_API
ThJsonField   _th_json_reader_number     (ThJsonReader *reader,
                                          guint         value,
                                          gboolean      strings,
                                          double       *out);
TH_PRIVATE_API
const char   *_th_json_reader_get_string (ThJsonReader *reader,
                                          guint         object,
                                          const char   *key);
TH_PRIVATE_API
ThJsonField   _th_json_reader_get_number (ThJsonReader *reader,
                                          guint         object,
                                          const char   *key,
                                          gboolean      strings,
                                          double       *out);
TH_PRIVATE_API
gboolean      _th_json_decimal_string    (const char   *text,
                                          gsize         len,
                                          double       *out);

G_END_DECLS
