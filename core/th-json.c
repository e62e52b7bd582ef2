/* th-json.c: the few JSON helpers of the hot path, and the guard in front
 * of json-glib's parser
 *
 * json-glib builds a tree and formats doubles with 17 digits; events are
 * written here directly instead, with the shortest digits that read back as
 * the same double.
 *
 * json-glib 1.6 parses recursively with no depth limit: 100,000 nested
 * brackets overflow the stack. Every JSON text that comes from outside
 * (venues, clients, files) goes through th_json_parser_load(), which scans
 * the bytes once first (about 0.3 ns a byte) and refuses what is nested too
 * deep, or holds a NUL in a string, before json-glib sees it.
 *
 * json-glib 1.6 also turns a lone UTF-16 surrogate escape ("\ud800x",
 * "\udc00") into the three bytes of that code point, which are not UTF-8:
 * such a string went on into symbols, replies and logs. The scan refuses
 * a high surrogate escape not followed by a low one, and a low one alone.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th-private.h"

G_STATIC_ASSERT (TH_JSON_MAX_DEPTH > 0);

void
_th_json_append_string (GString    *out,
                        const char *str)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p;

  if (str == NULL)
    {
      _th_string_append_lit (out, "null");
      return;
    }

  g_string_append_c (out, '"');
  p = (const unsigned char *) str;
  for (;;)
    {
      const unsigned char *run = p;

      /* The run of bytes written as they are, copied at once. */
      while (*p >= 0x20 && *p != '"' && *p != '\\')
        p++;
      if (p > run)
        _th_string_append_len (out, (const char *) run, (gsize) (p - run));
      if (*p == '\0')
        break;
      switch (*p)
        {
        case '"': _th_string_append_lit (out, "\\\""); break;
        case '\\': _th_string_append_lit (out, "\\\\"); break;
        case '\n': _th_string_append_lit (out, "\\n"); break;
        case '\r': _th_string_append_lit (out, "\\r"); break;
        case '\t': _th_string_append_lit (out, "\\t"); break;
        default:
          _th_string_append_lit (out, "\\u00");
          g_string_append_c (out, hex[*p >> 4]);
          g_string_append_c (out, hex[*p & 0xf]);
        }
      p++;
    }
  g_string_append_c (out, '"');
}

/* Powers of ten that are exact doubles (up to 10^22). */
static const double pow10_table[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* "00" to "99". */
static const char digit_pairs[201] =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
  "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
  "8081828384858687888990919293949596979899";

/* Writes the last @n decimal digits of @m (zeros in front) to the @n bytes
 * before @end, two at a time. */
static inline void
write_digits (char    *end,
              guint64  m,
              int      n)
{
  for (; n >= 2; n -= 2)
    {
      end -= 2;
      memcpy (end, digit_pairs + 2 * (m % 100), 2);
      m /= 100;
    }
  if (n > 0)
    end[-1] = (char) ('0' + m % 10);
}

/* Appends the decimal digits of @m. */
static void
append_uint (GString *out,
             guint64  m)
{
  char buf[24];
  char *p = buf + sizeof buf;

  while (m >= 100)
    {
      p -= 2;
      memcpy (p, digit_pairs + 2 * (m % 100), 2);
      m /= 100;
    }
  if (m >= 10)
    {
      p -= 2;
      memcpy (p, digit_pairs + 2 * m, 2);
    }
  else
    *--p = (char) ('0' + m);
  _th_string_append_len (out, p, (gsize) (buf + sizeof buf - p));
}

/* 10^n as unsigned 128-bit integers, 0 ≤ n ≤ 38: a table, not a loop of
 * 128-bit multiplications (two thirds of exact_digits() before). */
static const unsigned __int128 pow10_u128_table[] = {
  (unsigned __int128) 1U,
  (unsigned __int128) 10U,
  (unsigned __int128) 100U,
  (unsigned __int128) 1000U,
  (unsigned __int128) 10000U,
  (unsigned __int128) 100000U,
  (unsigned __int128) 1000000U,
  (unsigned __int128) 10000000U,
  (unsigned __int128) 100000000U,
  (unsigned __int128) 1000000000U,
  (unsigned __int128) 10000000000U,
  (unsigned __int128) 100000000000U,
  (unsigned __int128) 1000000000000U,
  (unsigned __int128) 10000000000000U,
  (unsigned __int128) 100000000000000U,
  (unsigned __int128) 1000000000000000U,
  (unsigned __int128) 10000000000000000U,
  (unsigned __int128) 100000000000000000U,
  (unsigned __int128) 1000000000000000000U,
  (unsigned __int128) 10000000000000000000U,
  (unsigned __int128) 10000000000000000000U * 10U,
  (unsigned __int128) 10000000000000000000U * 100U,
  (unsigned __int128) 10000000000000000000U * 1000U,
  (unsigned __int128) 10000000000000000000U * 10000U,
  (unsigned __int128) 10000000000000000000U * 100000U,
  (unsigned __int128) 10000000000000000000U * 1000000U,
  (unsigned __int128) 10000000000000000000U * 10000000U,
  (unsigned __int128) 10000000000000000000U * 100000000U,
  (unsigned __int128) 10000000000000000000U * 1000000000U,
  (unsigned __int128) 10000000000000000000U * 10000000000U,
  (unsigned __int128) 10000000000000000000U * 100000000000U,
  (unsigned __int128) 10000000000000000000U * 1000000000000U,
  (unsigned __int128) 10000000000000000000U * 10000000000000U,
  (unsigned __int128) 10000000000000000000U * 100000000000000U,
  (unsigned __int128) 10000000000000000000U * 1000000000000000U,
  (unsigned __int128) 10000000000000000000U * 10000000000000000U,
  (unsigned __int128) 10000000000000000000U * 100000000000000000U,
  (unsigned __int128) 10000000000000000000U * 1000000000000000000U,
  (unsigned __int128) 10000000000000000000U * 10000000000000000000U,
};
#define pow10_u128(n) (pow10_u128_table[(n)])

/* The @precision significant digits of |@value| = f·2^-s, correctly
 * rounded (ties to even, as printf): *@digits and the decimal exponent of
 * the first digit. Exact: f < 2^53 and 10^k ≤ 10^22 < 2^74, so f·10^k
 * fits 128 bits. Returns whether the digits read back as @value (what
 * strtod() of them gives: the nearest double, ties to even). Only for
 * 1e-4 ≤ |@value| < 1e14 (so 0 < s ≤ 66 and 0 ≤ k ≤ 22). */
static gboolean
exact_digits (double   value,
              int      precision,
              guint64 *digits,
              int     *exponent)
{
  /* The bits of a normal double (all of this range): value = f·2^(e2-53)
   * with 2^52 ≤ f < 2^53, as frexp() and ldexp() gave, without the calls. */
  guint64 bits;
  int e2, s, e10;
  guint64 f;
  unsigned __int128 n, q, r, half, diff, low, scaled_gap;
  int k;

  memcpy (&bits, &value, sizeof bits);
  e2 = (int) ((bits >> 52) & 0x7ff) - 1022;
  f = (bits & ((G_GUINT64_CONSTANT (1) << 52) - 1)) | (G_GUINT64_CONSTANT (1) << 52);
  s = 53 - e2;
  /* floor((e2 - 1)·log10 2) (exact for |e2| < 1,100), the decimal exponent
   * of 2^(e2-1) ≤ |value| < 2^e2: the first digit's, or one below (then
   * the loop below moves it up), instead of log10(). */
  e10 = ((e2 - 1) * 78913) >> 18;

  for (;;)
    {
      k = precision - 1 - e10;
      n = (unsigned __int128) f * pow10_u128 (k);
      q = n >> s;
      /* log10 may be off by one at a power of ten: the digits say. */
      if (q < pow10_u128 (precision - 1))
        e10--;
      else if (q >= pow10_u128 (precision))
        e10++;
      else
        break;
    }
  r = n & ((((unsigned __int128) 1) << s) - 1);
  half = ((unsigned __int128) 1) << (s - 1);
  if (r > half || (r == half && (q & 1) != 0))
    {
      q++;
      diff = (((unsigned __int128) 1) << s) - r;   /* the digits are above */
      low = 0;
    }
  else
    {
      diff = r;                                     /* below (or exact) */
      low = 1;
    }
  if (q == pow10_u128 (precision))
    {
      /* Rounded up to the next power of ten: "1" and zeros, one place
       * further left. The check below stays at the scale of k, where
       * diff was measured. */
      q /= 10;
      e10++;
    }
  *digits = q;
  *exponent = e10;

  /* It reads back as @value iff it is nearer to it than to a neighbour:
   * |D - value| < half the gap 2^-s between doubles; scaled by 10^k·2^s,
   * 2·diff < 10^k. Below a power of two (f = 2^52) the gap under it is
   * half as wide. A tie goes to the even mantissa. */
  scaled_gap = pow10_u128 (k);
  if (low && diff != 0 && f == G_GUINT64_CONSTANT (1) << 52)
    return 4 * diff < scaled_gap || (4 * diff == scaled_gap && (f & 1) == 0);
  return 2 * diff < scaled_gap || (2 * diff == scaled_gap && (f & 1) == 0);
}

/* %.16g if it reads back, else %.17g, for 1e-4 ≤ |@value| < 1e14: always
 * in fixed notation there, trailing zeros stripped. 15 digits are not
 * tried: the fast path of _th_json_append_double() covers every value of
 * that range that 15 digits give (a 15-digit decimal m·10^-k with
 * m < 10^15 < 2^50 and k ≤ 18: a·10^k is within 0.25 of m). */
static void
append_exact (GString *out,
              double   value)
{
  char buf[48];
  char digits[20];
  guint64 q;
  int e10, precision = 16, n = 0, i = 0;

  if (!exact_digits (value, 16, &q, &e10))
    {
      precision = 17;
      exact_digits (value, 17, &q, &e10);
    }
  write_digits (digits + precision, q, precision);
  /* Trailing zeros go (%g), but never those before the point. */
  n = precision;
  while (n > 1 && n > e10 + 1 && digits[n - 1] == '0')
    n--;

  if (value < 0)
    buf[i++] = '-';
  if (e10 < 0)
    {
      buf[i++] = '0';
      buf[i++] = '.';
      for (int z = 0; z < -e10 - 1; z++)
        buf[i++] = '0';
      memcpy (buf + i, digits, n);
      i += n;
    }
  else
    {
      memcpy (buf + i, digits, e10 + 1);
      i += e10 + 1;
      if (n > e10 + 1)
        {
          buf[i++] = '.';
          memcpy (buf + i, digits + e10 + 1, n - e10 - 1);
          i += n - e10 - 1;
        }
    }
  _th_string_append_len (out, buf, i);
}

void
_th_json_append_double (GString *out,
                        double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  double a;

  if (!isfinite (value))
    {
      _th_string_append_lit (out, "null");
      return;
    }

  /* Fast path, for prices and sizes: the fewest decimals k with
   * m / 10^k == value for an integer m below 2^53. Both m and 10^k are
   * exact doubles and the division is correctly rounded, so the text
   * "m·10^-k" reads back as the same double, exactly like the slow path.
   * Up to 9 decimals for any value; up to 22 (10^22 is the last exact
   * power) from 1e-4 up, where %g too writes fixed digits: computed
   * values (a 24 h change, a VWAP) of 15 or 16 significant digits used
   * to go through two or three snprintf() and strtod() below, the
   * writer's main cost per tick. The fewest decimals is the fewest
   * significant digits, so the text is as short as the slow path's; at
   * 15 digits or fewer it is the same text (a double tells 15-digit
   * decimals apart), at 16 it may differ from %.16g in the last digit
   * when two 16-digit decimals name the same double, both exact. */
  a = fabs (value);
  for (int k = 0; k <= 22; k++)
    {
      double scaled = a * pow10_table[k];
      double m;

      if (scaled >= 9007199254740992.0 || (k > 9 && a < 1e-4))
        break;
      /* nearbyint(), inline: below 2^52, adding and taking away 2^52
       * rounds to an integer (in the current rounding mode, as
       * nearbyint()); from 2^52 on every double is one. */
      m = scaled < 4503599627370496.0 ? (scaled + 4503599627370496.0) - 4503599627370496.0 : scaled;
      if (m / pow10_table[k] == a)
        {
          guint64 im = (guint64) m;
          /* m < 2^53 < 10^16: from 16 decimals on it is all fraction. */
          guint64 ip = k < 16 ? im / (guint64) pow10_table[k] : 0;
          guint64 frac = k < 16 ? im % (guint64) pow10_table[k] : im;

          if (value < 0 && im != 0)
            g_string_append_c (out, '-');
          append_uint (out, ip);
          if (k > 0)
            {
              char digits[24];

              write_digits (digits + k, frac, k);
              /* m / 10^k is the shortest: no trailing zero to strip. */
              g_string_append_c (out, '.');
              _th_string_append_len (out, digits, k);
            }
          return;
        }
    }

  /* From 1e-4 up to 1e14 (a computed 24 h change, a ratio): the fast
   * path above has ruled out 15 digits (see append_exact()); 16 or 17
   * exact digits, in integers. */
  if (a >= 1e-4 && a < 1e14)
    {
      append_exact (out, value);
      return;
    }

  /* The shortest of 15, 16 or 17 significant digits that round-trips,
   * in the C locale whatever the program's LC_NUMERIC. */
  {
    static locale_t c_locale;
    locale_t old;

    if (g_once_init_enter (&c_locale))
      g_once_init_leave (&c_locale, newlocale (LC_ALL_MASK, "C", (locale_t) 0));

    old = uselocale (c_locale);
    for (int precision = 15; precision <= 17; precision++)
      {
        snprintf (buf, sizeof buf, "%.*g", precision, value);
        if (precision == 17 || strtod (buf, NULL) == value)
          break;
      }
    uselocale (old);
  }
  _th_string_append_len (out, buf, strlen (buf));
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): no
 * GDateTime allocation per event. */
static void
civil_from_days (gint64 z, int *year, int *month, int *day)
{
  gint64 era, doe, yoe, doy, mp;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *day = (int) (doy - (153 * mp + 2) / 5 + 1);
  *month = (int) (mp < 10 ? mp + 3 : mp - 9);
  *year = (int) (yoe + era * 400 + (*month <= 2));
}

void
_th_json_append_time (GString *out,
                      gint64   usec)
{
  /* The date part of the last day written, by thread: the ticks of a
   * day share it, and civil_from_days() was half the cost. */
  static __thread gint64 date_days = G_MININT64;
  static __thread char date[11];
  gint64 ms = usec >= 0 ? usec / 1000 : -((-usec + 999) / 1000);
  gint64 days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  gint64 rem = ms - days * 86400000;
  char buf[26];

#define D2(p, v) ((p)[0] = (char) ('0' + (v) / 10), (p)[1] = (char) ('0' + (v) % 10))
  if (G_UNLIKELY (days != date_days))
    {
      int year, month, day;

      civil_from_days (days, &year, &month, &day);
      if (year < 0 || year > 9999)
        {
          _th_string_append_lit (out, "null");
          return;
        }
      D2 (date, year / 100);
      D2 (date + 2, year % 100);
      date[4] = '-';
      D2 (date + 5, month);
      date[7] = '-';
      D2 (date + 8, day);
      date_days = days;
    }

  {
    int hh = (int) (rem / 3600000), mi = (int) (rem / 60000 % 60);
    int ss = (int) (rem / 1000 % 60), milli = (int) (rem % 1000);

    buf[0] = '"';
    memcpy (buf + 1, date, 10);
    buf[11] = 'T';
    D2 (buf + 12, hh);
    buf[14] = ':';
    D2 (buf + 15, mi);
    buf[17] = ':';
    D2 (buf + 18, ss);
    buf[20] = '.';
    buf[21] = (char) ('0' + milli / 100);
    D2 (buf + 22, milli % 100);
    buf[24] = 'Z';
    buf[25] = '"';
  }
#undef D2
  _th_string_append_len (out, buf, sizeof buf);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
 * civil_from_days()). */
static gint64
days_from_civil (int year,
                 int month,
                 int day)
{
  gint64 y = year - (month <= 2);
  gint64 era = (y >= 0 ? y : y - 399) / 400;
  gint64 yoe = y - era * 400;
  gint64 doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

  return era * 146097 + doe - 719468;
}

static inline int
two_digits (const char *p)
{
  if (!g_ascii_isdigit (p[0]) || !g_ascii_isdigit (p[1]))
    return -1;
  return (p[0] - '0') * 10 + (p[1] - '0');
}

/* What g_date_time_new_from_iso8601 (@text, NULL) reads, as µs since the
 * epoch: FALSE where it gives NULL. The venues' own form,
 * `YYYY-MM-DDTHH:MM:SS[.f]Z` with at most six decimals and a valid date
 * and time, is read here without a GDateTime (a tenth of a Coinbase
 * message's instructions); anything else (other forms, zones, leap
 * seconds, more decimals, a date that does not exist) goes to GLib, which
 * decides. tests/test-json.c compares the two on many values. */
gboolean
_th_parse_iso8601 (const char *text,
                   gint64     *usec)
{
  static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  g_autoptr(GDateTime) dt = NULL;
  gsize len;

  g_return_val_if_fail (text != NULL, FALSE);

  len = strlen (text);
  if (len >= 20 && len <= 27 && text[4] == '-' && text[7] == '-' && text[10] == 'T' &&
      text[13] == ':' && text[16] == ':' && text[len - 1] == 'Z' &&
      (len == 20 || (text[19] == '.' && len >= 22)))
    {
      int century = two_digits (text), yy = two_digits (text + 2);
      int month = two_digits (text + 5), day = two_digits (text + 8);
      int hour = two_digits (text + 11), minute = two_digits (text + 14);
      int second = two_digits (text + 17);
      gint64 micro = 0;
      gsize i;

      for (i = 20; i + 1 < len && g_ascii_isdigit (text[i]); i++)
        micro = micro * 10 + (text[i] - '0');
      if (century >= 0 && yy >= 0 && (century > 0 || yy > 0) && month >= 1 && month <= 12 && day >= 1 &&
          hour >= 0 && hour <= 23 && minute >= 0 && minute <= 59 && second >= 0 && second <= 59 &&
          (len == 20 || i + 1 == len))
        {
          int year = century * 100 + yy;
          gboolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

          if (day <= month_days[month - 1] + (month == 2 && leap))
            {
              for (; i < 26; i++)
                micro *= 10;
              *usec = ((days_from_civil (year, month, day) * 24 + hour) * 60 + minute) * 60 * G_USEC_PER_SEC +
                      second * G_USEC_PER_SEC + (len == 20 ? 0 : micro);
              return TRUE;
            }
        }
    }

  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return FALSE;
  *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

/* ISO 8601 with a zone (Z or ±hh:mm), or epoch milliseconds as digits. */
gboolean
_th_parse_time (const char *text,
                gint64     *usec)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autoptr(GTimeZone) utc = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;

  if (g_ascii_isdigit (text[0]) && strchr (text, '-') == NULL)
    {
      guint64 ms;

      if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64 / 1000, &ms, NULL))
        return FALSE;
      *usec = (gint64) ms * 1000;
      return TRUE;
    }

  utc = g_time_zone_new_utc ();
  dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL)
    return FALSE;

  *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

/* The code unit of the escape `uXXXX` at @p (after its backslash), or -1
 * when @p is not one. */
static gint
escaped_unit (const guchar *p,
              const guchar *end)
{
  gint unit = 0;

  if (end - p < 5 || p[0] != 'u')
    return -1;
  for (int i = 1; i <= 4; i++)
    {
      gint d = g_ascii_xdigit_value ((char) p[i]);

      if (d < 0)
        return -1;
      unit = unit * 16 + d;
    }
  return unit;
}

/* Fails with %TH_ERROR_BAD_INPUT. The scan follows json-glib's tokenizer
 * only as far as needed to count nesting exactly on any input json-glib
 * would accept up to its first error: strings are double-quoted with
 * backslash escapes. json-glib's scanner also knows single-quoted strings
 * and comments (`#`, `//`, C comments), inside which a `"` would make the
 * two disagree on what is a string; none of them is JSON, so a `'`, `/` or
 * `#` outside a string is refused here. */
static gboolean
check_json (const char *data,
            gsize       length,
            guint       max_depth,
            GError    **error)
{
  const guchar *p = (const guchar *) data;
  const guchar *end = p + length;
  guint depth = 0;

  while (p < end)
    {
      guchar c = *p++;

      switch (c)
        {
        case '"':
          while (p < end)
            {
              c = *p++;
              if (c == '"')
                break;
              if (c == '\\')
                {
                  gint unit;

                  if (p == end)
                    break;
                  if (end - p >= 5 && memcmp (p, "u0000", 5) == 0)
                    goto nul;
                  /* JSON's escapes only: json-glib's scanner also takes
                   * octal ones (\\775), which make bytes that are not
                   * UTF-8. */
                  if (strchr ("\"\\/bfnrtu", *p) == NULL || *p == '\0')
                    {
                      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                                   "an escape that JSON does not have in a string (\\%c)",
                                   g_ascii_isprint (*p) ? *p : '?');
                      return FALSE;
                    }
                  unit = escaped_unit (p, end);
                  /* json-glib reads four characters after \u whatever
                   * they are, and makes a code point of non-digits too. */
                  if (*p == 'u' && unit < 0)
                    {
                      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                                           "a \\u escape without four hex digits in a string");
                      return FALSE;
                    }
                  if (unit >= 0xd800 && unit <= 0xdbff)
                    {
                      /* A high surrogate: a low one must follow. */
                      gint low = end - p >= 7 && p[5] == '\\' ? escaped_unit (p + 6, end) : -1;

                      if (low < 0xdc00 || low > 0xdfff)
                        goto surrogate;
                      p += 11;
                      continue;
                    }
                  if (unit >= 0xdc00 && unit <= 0xdfff)
                    goto surrogate;
                  p++;
                }
              else if (c == '\0')
                goto nul;
            }
          break;
        case '[':
        case '{':
          if (++depth > max_depth)
            {
              g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "nested deeper than %u levels", max_depth);
              return FALSE;
            }
          break;
        case ']':
        case '}':
          if (depth > 0)
            depth--;
          break;
        case '\'':
        case '/':
        case '#':
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                       "unexpected “%c” outside a string", c);
          return FALSE;
        case '\0':
          g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "a NUL byte");
          return FALSE;
        default:
          break;
        }
    }
  return TRUE;

nul:
  g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "a string holds a NUL character");
  return FALSE;

surrogate:
  g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                       "a string holds a lone UTF-16 surrogate (\\uD800 to \\uDFFF not in a pair)");
  return FALSE;
}

/**
 * th_json_parser_load:
 * @parser: a #JsonParser
 * @data: (array length=length) (element-type guint8): JSON text
 * @length: length of @data in bytes, or -1 if NUL-terminated
 * @error: return location for a #GError
 *
 * json_parser_load_from_data() for text from outside the process: a text
 * nested deeper than %TH_JSON_MAX_DEPTH arrays and objects, or with a NUL
 * in a string (`\u0000` or a raw byte), or a lone UTF-16 surrogate escape
 * in a string (which json-glib would turn into bytes that are not UTF-8),
 * is refused with %TH_ERROR_BAD_INPUT before json-glib parses it (json-glib has no depth
 * limit of its own and overflows the stack on deep nesting). Other
 * malformed text fails with json-glib's own error. Parse every venue
 * message, client message, file line or body with this function.
 *
 * Returns: whether @parser now holds the parsed text
 */
gboolean
th_json_parser_load (JsonParser  *parser,
                     const char  *data,
                     gssize       length,
                     GError     **error)
{
  g_return_val_if_fail (JSON_IS_PARSER (parser), FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (length < 0)
    length = (gssize) strlen (data);
  if (!check_json (data, (gsize) length, TH_JSON_MAX_DEPTH, error))
    return FALSE;
  return json_parser_load_from_data (parser, data, length, error);
}

/**
 * th_json_parse:
 * @data: (array length=length) (element-type guint8): JSON text
 * @length: length of @data in bytes, or -1 if NUL-terminated
 * @error: return location for a #GError
 *
 * Parses a JSON text from outside the process with the limits of
 * th_json_parser_load().
 *
 * Returns: (transfer full) (nullable): the root node, or %NULL on error
 */
JsonNode *
th_json_parse (const char  *data,
               gssize       length,
               GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!th_json_parser_load (parser, data, length, error))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, "empty JSON text");
      return NULL;
    }
  return json_node_ref (root);
}

char *
_th_utf8_excerpt (const char *text,
                  gsize       max_bytes)
{
  g_autofree char *valid = NULL;
  const char *end;
  gsize len;

  if (text == NULL)
    return g_strdup ("");
  len = strlen (text);
  valid = g_utf8_make_valid (text, len);
  len = strlen (valid);
  if (len <= max_bytes)
    return g_steal_pointer (&valid);

  /* Back to the start of the character the cut would split. */
  end = valid + max_bytes;
  while (end > valid && (((guchar) *end) & 0xC0) == 0x80)
    end--;
  return g_strdup_printf ("%.*s…", (int) (end - valid), valid);
}
