/* th-json-scan.h: the plain-string scan shared by the tape reader and the
 * shapes (inside libtickhub only)
 *
 * A JSON string's fast loop stops at the quote, the backslash, a control
 * character and any byte of a multibyte UTF-8 sequence (0x80 and above):
 * up to there the string is plain ASCII that needs no check. The tape
 * reader goes on from a stop that is not the closing quote (escapes,
 * UTF-8, errors); a shape takes only plain strings and gives up.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <glib.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

G_BEGIN_DECLS

/* 1 for the bytes a string's fast loop stops at (th-json-reader.c). */
extern const guint8 _th_json_string_stop[256];

/* Which bytes of @w (eight bytes, little-endian order) a string's fast
 * loop stops at, as _th_json_string_stop[]: the quote, the backslash,
 * below 0x20, 0x80 and above. Each test below is exact for the lowest
 * byte it flags (a borrow only runs upwards from a flagged byte), so the
 * lowest set bit of the answer is on the first byte to stop at; 0 when
 * there is none. */
static inline guint64
_th_json_stop_bytes (guint64 w)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 high = G_GUINT64_CONSTANT (0x8080808080808080);
  guint64 quote = w ^ (ones * '"');
  guint64 backslash = w ^ (ones * '\\');

  return (((w - ones * 0x20) & ~w) |
          ((quote - ones) & ~quote) |
          ((backslash - ones) & ~backslash) |
          w) & high;
}

/* The first byte from @p on, before @end, that a string's fast loop
 * stops at, or @end: sixteen bytes at a time with SSE2, then eight, then
 * one. */
G_ALWAYS_INLINE static inline const guchar *
_th_json_skip_plain (const guchar *p,
                     const guchar *end)
{
#ifdef __SSE2__
  /* The quote, the backslash, and in one signed comparison both below
   * 0x20 and 0x80 and above (negative as signed bytes). */
  while (end - p >= 16)
    {
      __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) p);
      guint stop = (guint) _mm_movemask_epi8 (_mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (x, _mm_set1_epi8 ('"')),
                                                                          _mm_cmpeq_epi8 (x, _mm_set1_epi8 ('\\'))),
                                                            _mm_cmplt_epi8 (x, _mm_set1_epi8 (0x20))));

      if (stop != 0)
        return p + __builtin_ctz (stop);
      p += 16;
    }
#endif
  while (end - p >= 8)
    {
      guint64 w;
      guint64 stop;

      memcpy (&w, p, sizeof w);
#if G_BYTE_ORDER == G_BIG_ENDIAN
      w = GUINT64_SWAP_LE_BE (w);
#endif
      stop = _th_json_stop_bytes (w);
      if (stop != 0)
        return p + (__builtin_ctzll (stop) >> 3);
      p += 8;
    }
  while (p < end && !_th_json_string_stop[*p])
    p++;
  return p;
}

G_END_DECLS
