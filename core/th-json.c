/* th-json.c: the few JSON writing helpers of the hot path
 *
 * json-glib builds a tree and formats doubles with 17 digits; events are
 * written here directly instead, with the shortest digits that read back as
 * the same double.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"

void
_th_json_append_string (GString    *out,
                        const char *str)
{
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p;

  if (str == NULL)
    {
      g_string_append_len (out, "null", 4);
      return;
    }

  g_string_append_c (out, '"');
  for (p = (const unsigned char *) str; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"': g_string_append_len (out, "\\\"", 2); break;
        case '\\': g_string_append_len (out, "\\\\", 2); break;
        case '\n': g_string_append_len (out, "\\n", 2); break;
        case '\r': g_string_append_len (out, "\\r", 2); break;
        case '\t': g_string_append_len (out, "\\t", 2); break;
        default:
          if (*p < 0x20)
            {
              g_string_append_len (out, "\\u00", 4);
              g_string_append_c (out, hex[*p >> 4]);
              g_string_append_c (out, hex[*p & 0xf]);
            }
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

void
_th_json_append_double (GString *out,
                        double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      g_string_append_len (out, "null", 4);
      return;
    }

  if (value == floor (value) && fabs (value) < 1e15)
    {
      g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
      return;
    }

  /* The shortest of 15, 16 or 17 significant digits that round-trips. */
  for (int precision = 15; precision <= 17; precision++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buf, sizeof buf, format, value);
      if (precision == 17 || g_ascii_strtod (buf, NULL) == value)
        break;
    }
  g_string_append (out, buf);
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
  gint64 ms = usec >= 0 ? usec / 1000 : -((-usec + 999) / 1000);
  gint64 days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  gint64 rem = ms - days * 86400000;
  int year, month, day;

  civil_from_days (days, &year, &month, &day);
  if (year < 0 || year > 9999)
    {
      g_string_append_len (out, "null", 4);
      return;
    }

  g_string_append_printf (out, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                          year, month, day,
                          (int) (rem / 3600000),
                          (int) (rem / 60000 % 60),
                          (int) (rem / 1000 % 60),
                          (int) (rem % 1000));
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
