/* test-json.c: number and time formatting, events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"

static char *
fmt_double (double v)
{
  GString *s = g_string_new (NULL);

  _th_json_append_double (s, v);
  return g_string_free (s, FALSE);
}

static char *
fmt_time (gint64 us)
{
  GString *s = g_string_new (NULL);

  _th_json_append_time (s, us);
  return g_string_free (s, FALSE);
}

static void
test_doubles (void)
{
  static const struct { double v; const char *s; } cases[] = {
    { 42000.5, "42000.5" },
    { 0.1, "0.1" },
    { 1e-8, "0.00000001" },
    { 1e-12, "1e-12" },
    { 123456789012.5, "123456789012.5" },
    { -0.0, "0" },
    { 67187.3358936566, "67187.3358936566" },
    { 3, "3" },
    { -2.5, "-2.5" },
    { 0.30000000000000004, "0.30000000000000004" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = fmt_double (cases[i].v);

      g_assert_cmpstr (s, ==, cases[i].s);
      g_assert_cmpfloat (g_ascii_strtod (s, NULL), ==, cases[i].v);
    }

  {
    g_autofree char *n = fmt_double (NAN);
    g_autofree char *inf = fmt_double (INFINITY);

    g_assert_cmpstr (n, ==, "null");
    g_assert_cmpstr (inf, ==, "null");
  }
}

static void
test_round_trip_random (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);

  for (int i = 0; i < 100000; i++)
    {
      double v = g_rand_double_range (rand, -1e6, 1e6) * pow (10, g_rand_int_range (rand, -12, 6));
      g_autofree char *s = fmt_double (v);

      g_assert_cmpfloat (g_ascii_strtod (s, NULL), ==, v);
    }
}

/* What the writer gave before its exact 16/17-digit path: the shortest of
 * %.15g, %.16g and %.17g that strtod() reads back (C locale). */
static char *
reference_double (double v)
{
  char buf[64];

  for (int precision = 15; precision <= 17; precision++)
    {
      g_snprintf (buf, sizeof buf, "%.*g", precision, v);
      if (precision == 17 || g_ascii_strtod (buf, NULL) == v)
        break;
    }
  return g_strdup (buf);
}

static guint
significant_digits (const char *text)
{
  guint n = 0, zeros = 0;
  gboolean started = FALSE;

  for (const char *p = text; *p != '\0' && *p != 'e'; p++)
    {
      if (!g_ascii_isdigit (*p))
        continue;
      if (*p == '0' && !started)
        continue;
      started = TRUE;
      if (*p == '0')
        zeros++;
      else
        {
          n += zeros + 1;
          zeros = 0;
        }
    }
  return n;
}

static void
check_against_reference (double v)
{
  g_autofree char *s = fmt_double (v);
  g_autofree char *ref = reference_double (v);

  g_assert_cmpfloat (g_ascii_strtod (s, NULL), ==, v);
  /* -0 is written 0 (test_doubles); below 1e-4 the fast path writes
   * fixed decimals where %g has an exponent: only the exact path's range
   * is compared. */
  if (fabs (v) < 1e-4 || fabs (v) >= 1e14)
    return;
  /* 16 digits may be written from the fast path, the fewest decimals that
   * read back: another 16-digit decimal naming the same double (the
   * writer's comment). Anything else is the same text. */
  if (significant_digits (ref) == 16)
    g_assert_cmpuint (significant_digits (s), <=, 16);
  else if (g_strcmp0 (s, ref) != 0)
    g_error ("%.17g: wrote %s, %%.Ng gives %s", v, s, ref);
}

/* The 16/17-digit path (1e-4 up to 1e14) is exact: the same text as the
 * snprintf() and strtod() loop it replaces, for computed values (24 h
 * changes), random magnitudes, values of a few binary digits (ties in the
 * rounding), powers of ten and two and their neighbours. */
static void
test_doubles_exact (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  static const struct { double v; const char *s; } cases[] = {
    { 0.30000000000000004, "0.30000000000000004" },
    { 1.0000000000000002, "1.0000000000000002" },
    { 0.00010000000000000002, "0.00010000000000000002" },
    { 99999999999999.98, "99999999999999.98" },
    { 2.4658426577993637, "2.4658426577993637" },
    { 0.1 + 0.7, "0.7999999999999999" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = fmt_double (cases[i].v);

      g_assert_cmpstr (s, ==, cases[i].s);
      check_against_reference (cases[i].v);
    }

  for (int i = 0; i < 300000; i++)
    {
      double open = nearbyint (g_rand_double_range (rand, 0.01, 100000) * 100) / 100;
      double last = nearbyint (open * exp (g_rand_double_range (rand, -0.2, 0.2)) * 100) / 100;
      double mag = g_rand_double_range (rand, 1, 10) * pow (10, g_rand_int_range (rand, -5, 15));
      double bin = ldexp ((double) g_rand_int (rand), -g_rand_int_range (rand, 0, 60)) + g_rand_int_range (rand, 0, 100000);

      check_against_reference ((last - open) / open * 100);
      check_against_reference (-(last - open));
      check_against_reference (mag);
      check_against_reference (bin);
    }

  for (int e = -5; e <= 15; e++)
    {
      double p = pow (10, e);

      check_against_reference (p);
      check_against_reference (nextafter (p, 0));
      check_against_reference (nextafter (p, INFINITY));
      check_against_reference (nextafter (nextafter (p, 0), 0));
    }
  for (int e = -15; e <= 48; e++)
    {
      double p = ldexp (1, e);

      check_against_reference (p);
      check_against_reference (nextafter (p, 0));
      check_against_reference (nextafter (p, INFINITY));
      check_against_reference (-nextafter (p, 0));
    }
}

/* The writer keeps the date of the last day it wrote: times in a row on
 * one day, across midnight, back to an earlier day, before 1970 and out
 * of range in between, each as GDateTime formats it. */
static void
test_times_date_cache (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (17);
  gint64 t = G_GINT64_CONSTANT (1704067200000000) - 3 * G_USEC_PER_SEC;

  for (int i = 0; i < 20000; i++)
    {
      gint64 us;
      g_autofree char *s = NULL;
      g_autofree char *expected = NULL;
      g_autoptr(GDateTime) dt = NULL;

      switch (i % 5)
        {
        case 0:  us = t += g_rand_int_range (rand, 0, 2 * G_USEC_PER_SEC); break;      /* across midnight */
        case 1:  us = t - (gint64) g_rand_int_range (rand, 1, 400) * 86400 * G_USEC_PER_SEC; break; /* an earlier day */
        case 2:  us = -(gint64) g_rand_int_range (rand, 1, 1000000) * G_USEC_PER_SEC - g_rand_int_range (rand, 0, 999999);
                 break;                                                                  /* before 1970 */
        case 3:  us = G_GINT64_CONSTANT (300000000000000000); break;                    /* year > 9999 */
        default: us = t; break;                                                          /* the same day again */
        }
      s = fmt_time (us);
      if (us > G_GINT64_CONSTANT (253402300799999999))
        {
          g_assert_cmpstr (s, ==, "null");
          continue;
        }
      /* Whole milliseconds, rounded down (towards the past). */
      dt = g_date_time_new_from_unix_utc (0);
      {
        gint64 ms = us >= 0 ? us / 1000 : -((-us + 999) / 1000);
        g_autoptr(GDateTime) at = g_date_time_add (dt, ms * 1000);
        g_autofree char *date = g_date_time_format (at, "%Y-%m-%dT%H:%M:%S");

        expected = g_strdup_printf ("\"%s.%03dZ\"", date, (int) (((ms % 1000) + 1000) % 1000));
      }
      g_assert_cmpstr (s, ==, expected);
    }
}

static void
test_times (void)
{
  g_autofree char *a = fmt_time (G_GINT64_CONSTANT (1704067200000000));
  g_autofree char *b = fmt_time (G_GINT64_CONSTANT (1672515782136000) + 999);
  g_autofree char *c = fmt_time (G_GINT64_CONSTANT (951782400000000)); /* 2000-02-29 */
  gint64 us;

  g_assert_cmpstr (a, ==, "\"2024-01-01T00:00:00.000Z\"");
  g_assert_cmpstr (b, ==, "\"2022-12-31T19:43:02.136Z\"");
  g_assert_cmpstr (c, ==, "\"2000-02-29T00:00:00.000Z\"");

  g_assert_true (_th_parse_time ("2024-01-01T00:00:00.000Z", &us));
  g_assert_cmpint (us, ==, G_GINT64_CONSTANT (1704067200000000));
  g_assert_true (_th_parse_time ("2022-10-19T23:28:22.061769Z", &us));
  g_assert_cmpint (us % G_USEC_PER_SEC, ==, 61769);
  g_assert_true (_th_parse_time ("2024-01-01T02:00:00+02:00", &us));
  g_assert_cmpint (us, ==, G_GINT64_CONSTANT (1704067200000000));
  g_assert_true (_th_parse_time ("1672515782136", &us));
  g_assert_cmpint (us, ==, G_GINT64_CONSTANT (1672515782136000));
  g_assert_false (_th_parse_time ("yesterday", &us));

  {
    g_autofree char *text = th_format_time (G_GINT64_CONSTANT (1704067200123456));

    g_assert_cmpstr (text, ==, "2024-01-01T00:00:00.123Z");
  }
  g_assert_false (_th_parse_time ("", &us));
}

static void
test_strings (void)
{
  GString *s = g_string_new (NULL);

  _th_json_append_string (s, "a\"b\\c\n\x01é");
  g_assert_cmpstr (s->str, ==, "\"a\\\"b\\\\c\\n\\u0001é\"");
  g_string_free (s, TRUE);
}

static void
test_event_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  const char *json = "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":1.5}}}";
  g_autoptr(ThEvent) ev = th_event_new_from_json (json, -1, &error);
  g_autoptr(ThEvent) bad = NULL;
  JsonNode *data;

  g_assert_no_error (error);
  g_assert_cmpstr (th_event_get_name (ev), ==, "financial_data_update");
  g_assert_cmpstr (th_event_get_symbol (ev), ==, "BTC");
  g_assert_cmpstr (th_event_get_json (ev), ==, json);
  data = th_event_get_data (ev);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (data));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (data), "symbol"), ==, "BTC");

  bad = th_event_new_from_json ("[1,2]", -1, &error);
  g_assert_null (bad);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_assert_null (th_event_new_from_json ("{\"event\":", -1, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
}

static void
test_tick_json (void)
{
  g_autoptr(ThTick) t = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, 42000.5, G_GINT64_CONSTANT (1704067200000000));
  g_autofree char *json = NULL;
  g_autoptr(GError) error = NULL;

  t->size = 0.1;
  t->bid = 42000;
  json = th_tick_to_json (t);
  g_assert_cmpstr (json, ==,
                   "{\"symbol\":\"BTC\",\"price\":42000.5,\"size\":0.1,\"bid\":42000,"
                   "\"timestamp\":\"2024-01-01T00:00:00.000Z\",\"source\":\"binance\"}");
  g_assert_true (th_tick_validate (t, &error));

  t->price = -1;
  g_assert_false (th_tick_validate (t, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  t->price = NAN;
  g_assert_false (th_tick_validate (t, NULL));
  t->price = 1;
  t->bid = INFINITY;
  g_assert_false (th_tick_validate (t, NULL));
  t->bid = NAN;
  t->size = NAN;
  g_assert_false (th_tick_validate (t, NULL));  /* a trade needs a size */
}

/* th_json_to_string(): trees (REST bodies, replies, events built from a
 * JsonNode) get the same shortest doubles as the hot path. */
/* th_tick_new() keeps symbol and source in the tick's own block: the
 * setters, copies and NULL names still work (ASan sees a bad free). */
static void
test_tick_strings (void)
{
  g_autoptr(ThTick) a = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 43000, 1);
  g_autoptr(ThTick) b = NULL;
  g_autoptr(ThTick) c = th_tick_new (NULL, NULL, TH_TICK_KIND_QUOTE, 1, 1);
  g_autoptr(ThTick) d = th_tick_new ("", "x", TH_TICK_KIND_TRADE, 1, 1);

  g_assert_cmpstr (a->symbol, ==, "BTC");
  g_assert_cmpstr (a->source, ==, "binance");
  b = th_tick_copy (a);
  th_tick_set_symbol (a, "ETH");
  th_tick_set_source (a, "coinbase");
  th_tick_set_quote (a, "USD");
  g_assert_cmpstr (a->symbol, ==, "ETH");
  g_assert_cmpstr (a->source, ==, "coinbase");
  g_assert_cmpstr (b->symbol, ==, "BTC");
  g_assert_cmpstr (b->source, ==, "binance");
  th_tick_set_symbol (b, "SOL");
  th_tick_set_symbol (b, "ADA");
  g_assert_cmpstr (b->symbol, ==, "ADA");
  g_assert_null (c->symbol);
  g_assert_null (c->source);
  th_tick_set_source (c, "kraken");
  g_assert_cmpstr (c->source, ==, "kraken");
  g_assert_cmpstr (d->symbol, ==, "");
  g_assert_cmpstr (d->source, ==, "x");
  th_tick_set_source (d, NULL);
  g_assert_null (d->source);

  /* A quote that lives forever is pointed at, then replaced or copied
   * as before. */
  _th_tick_set_quote_static (b, "USDT");
  g_assert_cmpstr (b->quote, ==, "USDT");
  {
    g_autoptr(ThTick) e = th_tick_copy (b);

    g_assert_true (e->quote != b->quote);
    g_assert_cmpstr (e->quote, ==, "USDT");
  }
  th_tick_set_quote (b, "EUR");
  g_assert_cmpstr (b->quote, ==, "EUR");
  _th_tick_set_quote_static (b, g_intern_string ("GBP"));
  _th_tick_set_quote_static (b, NULL);
  g_assert_null (b->quote);
  _th_tick_set_quote_static (d, "USD");
}

/* _th_parse_iso8601() gives GDateTime's answers: on random times in its
 * own form (every fraction length, every year), on dates that do not
 * exist, and on the forms it leaves to GLib. */
static gboolean
iso_reference (const char *text,
               gint64     *usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);

  if (dt == NULL)
    return FALSE;
  *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

static void
check_iso (const char *text)
{
  gint64 a = 0, b = 0;
  gboolean ok_a = _th_parse_iso8601 (text, &a);
  gboolean ok_b = iso_reference (text, &b);

  if (ok_a != ok_b || (ok_a && a != b))
    g_error ("%s: %d %" G_GINT64_FORMAT ", GDateTime %d %" G_GINT64_FORMAT, text, ok_a, a, ok_b, b);
}

static void
test_iso8601 (void)
{
  static const char *const fixed[] = {
    "2022-10-19T23:28:22.061769Z", "2022-10-19T23:28:22Z", "2022-10-19T23:28:22.Z",
    "2022-10-19T23:28:22.0617691Z", "2022-10-19T23:28:22.061769123Z", "2022-10-19t23:28:22Z",
    "2022-10-19T23:28:22z", "2022-10-19 23:28:22Z", "2022-10-19T23:28:22+02:00",
    "2022-10-19T23:28:22.5-0130", "2022-10-19T23:28:60Z", "2016-12-31T23:59:60.5Z",
    "2022-10-19T24:00:00Z", "2022-10-19T23:60:00Z", "2022-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2022-04-31T00:00:00Z", "2022-13-01T00:00:00Z",
    "2022-00-01T00:00:00Z", "2022-01-00T00:00:00Z", "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z",
    "2022-1a-19T23:28:22Z", "2022-10-19T23:28:2xZ", "2022-10-19T23:28:22.06a769Z", "+2022-10-19T23:28:22Z",
    "2022-10-19T23:28:22.-1Z", "2022-10-19T23:28:22,5Z", "20221019T232822Z", "2022-292T23:28:22Z",
    "2022-10-19T23:28Z", "2022-10-19", "", "Z", "2022-10-19T23:28:22.0000000000000000000001Z",
    "2022-10-19T-3:28:22Z", "-022-10-19T23:28:22Z", "2022-10-19T23:28:22.061769ZZ",
  };
  GRand *rand = g_rand_new_with_seed (17);

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    check_iso (fixed[i]);
  for (guint i = 0; i < 200000; i++)
    {
      char text[64];
      int digits = g_rand_int_range (rand, 0, 9);
      int year = i % 4 == 0 ? g_rand_int_range (rand, 0, 10000) : g_rand_int_range (rand, 1960, 2110);
      int n;

      n = g_snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", year,
                      g_rand_int_range (rand, 0, 14), g_rand_int_range (rand, 0, 33),
                      g_rand_int_range (rand, 0, 25), g_rand_int_range (rand, 0, 61),
                      g_rand_int_range (rand, 0, 62));
      if (digits > 0)
        {
          text[n++] = '.';
          for (int d = 0; d < digits; d++)
            text[n++] = (char) ('0' + g_rand_int_range (rand, 0, 10));
        }
      text[n++] = 'Z';
      text[n] = '\0';
      check_iso (text);
    }
  g_rand_free (rand);
}

static void
test_tree (void)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;
  gsize length;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "z");        /* insertion order, not sorted */
  json_builder_add_double_value (b, 43023.9);
  json_builder_set_member_name (b, "a");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, -42);
  json_builder_add_double_value (b, 0.1 + 0.2);
  json_builder_add_double_value (b, NAN);
  json_builder_add_boolean_value (b, TRUE);
  json_builder_add_boolean_value (b, FALSE);
  json_builder_add_null_value (b);
  json_builder_add_string_value (b, "q\"\n\u00e9");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "empty");
  json_builder_begin_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  text = th_json_to_string (root, &length);
  g_assert_cmpstr (text, ==,
                   "{\"z\":43023.9,\"a\":[-42,0.30000000000000004,null,true,false,null,\"q\\\"\\n\u00e9\"],\"empty\":{}}");
  g_assert_cmpuint (length, ==, strlen (text));

  /* And it reads back as the same tree. */
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  again = th_json_to_string (json_parser_get_root (parser), NULL);
  g_assert_cmpstr (again, ==, text);
}

static char *
nested (const char *open,
        const char *close,
        guint       depth)
{
  GString *s = g_string_sized_new (depth * 2 + 2);

  for (guint i = 0; i < depth; i++)
    g_string_append (s, open);
  for (guint i = 0; i < depth; i++)
    g_string_append (s, close);
  return g_string_free (s, FALSE);
}

static void
assert_refused (const char *text,
                gssize      length,
                const char *message)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;

  g_assert_false (th_json_parser_load (parser, text, length, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  if (message != NULL)
    g_assert_cmpstr (error->message, ==, message);
}

static void
assert_parses (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;

  g_assert_true (th_json_parser_load (parser, text, -1, &error));
  g_assert_no_error (error);
  g_assert_nonnull (json_parser_get_root (parser));
}

/* json-glib has no depth limit and overflows the stack on deep nesting:
 * th_json_parser_load() refuses it before json-glib sees it. */
static void
test_depth_limit (void)
{
  g_autofree char *at_limit = nested ("[", "]", TH_JSON_MAX_DEPTH);
  g_autofree char *over = nested ("[", "]", TH_JSON_MAX_DEPTH + 1);
  g_autofree char *huge = nested ("[", "]", 500000);
  g_autofree char *objects = NULL;
  g_autofree char *open_only = g_strnfill (200000, '{');
  g_autofree char *inside = NULL;
  g_autofree char *unbalanced = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  assert_parses (at_limit);
  assert_refused (over, -1, "nested deeper than 64 levels");
  assert_refused (huge, -1, "nested deeper than 64 levels");
  assert_refused (open_only, -1, "nested deeper than 64 levels");

  /* Objects count the same, mixed with arrays. */
  {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < 100; i++)
      g_string_append (s, i % 2 ? "[" : "{\"a\":");
    g_string_append (s, "1");
    for (guint i = 100; i > 0; i--)
      g_string_append (s, (i - 1) % 2 ? "]" : "}");
    objects = g_string_free (s, FALSE);
  }
  assert_refused (objects, -1, "nested deeper than 64 levels");

  /* Brackets inside strings are text, escaped quotes do not end them. */
  {
    g_autofree char *brackets = g_strnfill (1000, '[');
    inside = g_strdup_printf ("{\"a\":\"%s\\\"%s\",\"b\":[1]}", brackets, brackets);
  }
  assert_parses (inside);

  /* Closing brackets first do not buy depth for later ones. */
  {
    g_autofree char *closers = g_strnfill (100, ']');
    g_autofree char *deep = nested ("[", "]", 100);
    unbalanced = g_strconcat (closers, deep, NULL);
  }
  assert_refused (unbalanced, -1, NULL);

  /* A length shorter than the text: only that part counts. */
  assert_parses ("[1]");
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    g_assert_true (th_json_parser_load (parser, "[1]]]]", 3, &error));
    g_assert_no_error (error);
  }

  node = th_json_parse (huge, -1, &error);
  g_assert_null (node);
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  node = th_json_parse ("{\"x\":[1,2]}", -1, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
}

/* What is not JSON but json-glib's scanner might take, and NUL. */
static void
test_refused_text (void)
{
  static const char with_nul[] = "{\"a\":\"BTC\0X\"}";

  assert_refused ("{\"symbol\":\"BTC\\u0000X\"}", -1, "a string holds a NUL character");
  assert_refused ("{\"room\":\"financial_data\\u0000zzz\"}", -1, "a string holds a NUL character");
  assert_refused ("[\"42000.5\\u0000\"]", -1, "a string holds a NUL character");
  assert_refused (with_nul, sizeof with_nul - 1, "a string holds a NUL character");
  assert_refused ("[1]\0", 4, "a NUL byte");
  /* A single-quoted string or a comment could hide a quote from the
   * depth count: none is JSON. */
  assert_refused ("['\"', [[1]]]", -1, "unexpected “'” outside a string");
  assert_refused ("/* \" */ [1]", -1, "unexpected “/” outside a string");
  assert_refused ("# \"\n[1]", -1, "unexpected “#” outside a string");
  /* Inside strings they are text; other escapes of NUL's neighbours too. */
  assert_parses ("{\"a\":\"it's /* # \\u0001 \\u0010\"}");
  assert_parses ("{\"a\":\"\\\\u0000\"}");
  /* Malformed text keeps json-glib's error. */
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    g_autoptr(GError) error = NULL;
    g_assert_false (th_json_parser_load (parser, "{\"a\":", -1, &error));
    g_assert_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE);
  }
}

/* json-glib 1.6 turns a lone UTF-16 surrogate escape into bytes that are
 * not UTF-8 (found by fuzz/fuzz-json, corpus json/lone-surrogate-*). */
static void
test_surrogates (void)
{
  static const char *const lone[] = {
    "[\"\\ud800x\"]",          /* a high surrogate, then a character */
    "{\"symbol\":\"BTC\\udbff\"}",
    "[\"\\ud800\\n\"]",      /* then another escape */
    "[\"\\ud800\\u0041\"]",  /* then an escape that is not a low surrogate */
    "[\"\\udc00x\"]",          /* a low surrogate alone */
    "[\"a\\uDFFF\"]",
  };

  for (guint i = 0; i < G_N_ELEMENTS (lone); i++)
    assert_refused (lone[i], -1, "a string holds a lone UTF-16 surrogate (\\uD800 to \\uDFFF not in a pair)");

  /* A pair is one character outside the BMP: kept, as UTF-8. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) node = th_json_parse ("[\"\\ud83d\\ude00 \\uD834\\uDD1E\"]", -1, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (json_array_get_string_element (json_node_get_array (node), 0), ==, "\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e");
  }
  /* json-glib makes a code point of what follows \u, digits or not: a
   * surrogate out of "\ud80" and a control character (fuzz-json,
   * corpus json/short-escape). */
  assert_refused ("[\"\\ud80\x10\"]", -1, "a \\u escape without four hex digits in a string");
  assert_refused ("[\"\\u12\"]", -1, "a \\u escape without four hex digits in a string");
  assert_refused ("[\"\\u", -1, "a \\u escape without four hex digits in a string");
  /* json-glib takes octal escapes: "\775" made the byte 0xfd (fuzz-json,
   * corpus json/octal-escape). */
  assert_refused ("\"\\775808\"", -1, "an escape that JSON does not have in a string (\\7)");
  assert_refused ("[\"\\x41\"]", -1, "an escape that JSON does not have in a string (\\x)");
  assert_refused ("[\"\\\x01\"]", -1, "an escape that JSON does not have in a string (\\?)");
  assert_parses ("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"]");
  /* Escaped text that only looks like one is text. */
  assert_parses ("{\"a\":\"\\\\ud800\"}");
}

/* Any member a peer sends, an object or an array too, reads as a string
 * or NULL, without the critical of json-glib's *_with_default() getters
 * (fuzz-coinbase: a channel "name" that was an array; fuzz-jwt: an "alg"
 * that was an object). */
static void
test_string_member (void)
{
  g_autoptr(JsonNode) node = th_json_parse ("{\"s\":\"BTC\",\"n\":1,\"z\":null,\"o\":{\"x\":1},\"a\":[\"BTC\"]}", -1, NULL);
  JsonObject *obj = json_node_get_object (node);

  g_assert_cmpstr (th_json_object_get_string (obj, "s"), ==, "BTC");
  g_assert_null (th_json_object_get_string (obj, "n"));
  g_assert_null (th_json_object_get_string (obj, "z"));
  g_assert_null (th_json_object_get_string (obj, "o"));
  g_assert_null (th_json_object_get_string (obj, "a"));
  g_assert_null (th_json_object_get_string (obj, "absent"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/json/doubles", test_doubles);
  g_test_add_func ("/json/tick-strings", test_tick_strings);
  g_test_add_func ("/json/iso8601", test_iso8601);
  g_test_add_func ("/json/doubles-round-trip", test_round_trip_random);
  g_test_add_func ("/json/doubles-exact", test_doubles_exact);
  g_test_add_func ("/json/times", test_times);
  g_test_add_func ("/json/times-date-cache", test_times_date_cache);
  g_test_add_func ("/json/strings", test_strings);
  g_test_add_func ("/json/event-round-trip", test_event_round_trip);
  g_test_add_func ("/json/tick", test_tick_json);
  g_test_add_func ("/json/tree", test_tree);
  g_test_add_func ("/json/depth-limit", test_depth_limit);
  g_test_add_func ("/json/refused-text", test_refused_text);
  g_test_add_func ("/json/surrogates", test_surrogates);
  g_test_add_func ("/json/string-member", test_string_member);

  return g_test_run ();
}
