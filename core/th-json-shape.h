/* th-json-shape.h: strict one-pass matching of a venue's fixed layouts (private)
 *
 * Venues send their main messages in one compact layout, keys always in
 * the same order. A shape is compiled once from a template, the layout
 * with placeholders for the values:
 *
 *   {"stream":$s,"data":{"e":"aggTrade","E":$i,"s":$s,"p":$n,"q":$n,"m":$b}}
 *
 * and a frame is matched against it in one pass, without a tape:
 * - the template's other bytes must be in the frame as they are;
 * - `$s`: a JSON string without escape, control byte or byte ≥ 0x80,
 *   captured as pointer and length (its bytes are its text);
 * - `$i`: a strict JSON integer, -?(0|[1-9][0-9]*), at most 19 digits,
 *   no fraction or exponent, that fits in a gint64;
 * - `$n`: a string holding a venue number, converted by the tape reader's
 *   own conversion (_th_json_decimal_string()) to the same double; a
 *   string the reader would not take as a number does not match;
 * - `$b`: true or false.
 * No whitespace anywhere, nothing after the template. A frame that
 * matches is therefore valid JSON with exactly the template's members in
 * its order (the template, checked when compiled, is JSON without
 * whitespace; it must not repeat a key). Anything else does not match and
 * is left to the general path (the tape reader) as before.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tickhub.h"
#include "th-export.h"

G_BEGIN_DECLS

/* The most placeholders in a template. */
#define _TH_JSON_SHAPE_MAX_VALUES 32

typedef struct
{
  const char *s;       /* $s: the string's bytes in the frame (not NUL-terminated) */
  gsize       len;     /* $s: their number */
  gint64      i;       /* $i */
  double      n;       /* $n */
  gboolean    b;       /* $b */
} ThJsonShapeValue;

typedef struct _ThJsonShape ThJsonShape;

TH_PRIVATE_API
ThJsonShape *_th_json_shape_new      (const char        *template_,
                                      GError           **error);
TH_PRIVATE_API
void         _th_json_shape_free     (ThJsonShape       *shape);
TH_PRIVATE_API
guint        _th_json_shape_n_values (const ThJsonShape *shape);
TH_PRIVATE_API
gboolean     _th_json_shape_match    (const ThJsonShape *shape,
                                      const char        *data,
                                      gsize              length,
                                      ThJsonShapeValue  *values);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThJsonShape, _th_json_shape_free)

G_END_DECLS
