/* test-json-reader.c: the tape reader accepts what json-glib accepts (and
 * is JSON), refuses the rest, and gives the same values
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-json-reader.h"
#include "th-private.h"

static gboolean
parse (ThJsonReader *r,
       const char   *text)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = _th_json_reader_parse (r, text, strlen (text), &error);

  g_assert_true (ok == (error == NULL));
  if (!ok)
    g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  return ok;
}

static void
test_bad (void)
{
  static const char *const bad[] = {
    "", "   ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[01]", "[1.]", "[.5]",
    "[1e]", "[-]", "[+1]", "[0x10]", "[tru]", "[nul]", "[True]", "'a'", "[\"a\" \"b\"]",
    "[1] [2]", "{\"a\":1}x", "[\"\\u0000\"]", "[\"\\ud800\"]", "[\"\\udc00\"]",
    "[\"\\ud800\\u0041\"]", "[\"\\x41\"]", "[\"\\u12\"]", "[\"a\nb\"]", "[\"\t\"]",
    "[\"\xc0\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xf4\x90\x80\x80\"]", "[\"\xff\"]", "[\"\xe2\x82\"]",
    "[\"abc", "[1 // c\n]", "[NaN]", "[Infinity]", "\xef\xbb\xbf[1]",
    "{\"\t\":1}", "{\"\xff\":1}", "{\"\\\":1}", "{\"\x7f\xc3\":1}",
  };
  g_autoptr(GError) error = NULL;
  ThJsonReader *r = _th_json_reader_new ();

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (parse (r, bad[i]))
      g_error ("accepted: %s", bad[i]);
  /* A NUL byte in the middle of the text. */
  g_assert_false (_th_json_reader_parse (r, "[\"a\0b\"]", 7, &error));
  _th_json_reader_free (r);
}

static void
test_nesting (void)
{
  ThJsonReader *r = _th_json_reader_new ();
  GString *deep = g_string_new (NULL);

  for (guint n = TH_JSON_MAX_DEPTH; n <= TH_JSON_MAX_DEPTH + 1; n++)
    {
      g_string_truncate (deep, 0);
      for (guint i = 0; i < n; i++)
        g_string_append_c (deep, i % 2 ? '[' : '{');
      /* objects need keys: build arrays only */
      g_string_truncate (deep, 0);
      for (guint i = 0; i < n; i++)
        g_string_append_c (deep, '[');
      for (guint i = 0; i < n; i++)
        g_string_append_c (deep, ']');
      g_assert_true (parse (r, deep->str) == (n <= TH_JSON_MAX_DEPTH));
    }
  /* 100,000 levels: refused without recursion. */
  g_string_truncate (deep, 0);
  for (guint i = 0; i < 100000; i++)
    g_string_append (deep, "{\"a\":");
  g_assert_false (parse (r, deep->str));
  g_string_free (deep, TRUE);
  _th_json_reader_free (r);
}

static void
test_values (void)
{
  ThJsonReader *r = _th_json_reader_new ();
  guint v, data;
  gint64 i;
  double d;

  g_assert_true (parse (r, " {\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"p\":\"42000.12\",\"q\":\"1e-3\","
                        "\"T\":1672515782136,\"n\":[1,{\"x\":[]},3],\"s\":\"BTC\\u00e9\\ud83d\\ude00\\n\","
                        "\"a\":1,\"a\":2,\"big\":12345678901234567890,\"neg\":-9223372036854775808,"
                        "\"f\":-0.5e2,\"h\":1e400,\"b\":true,\"z\":null,\"\\u0061b\":7}} "));
  g_assert_cmpint (_th_json_reader_kind (r, 0), ==, _TH_JSON_KIND_OBJECT);
  g_assert_cmpuint (_th_json_reader_length (r, 0), ==, 2);
  data = _th_json_reader_member (r, 0, "data");
  g_assert_cmpint (_th_json_reader_kind (r, data), ==, _TH_JSON_KIND_OBJECT);
  g_assert_cmpstr (_th_json_reader_get_string (r, data, "e"), ==, "aggTrade");
  g_assert_true (_th_json_reader_string_is (r, _th_json_reader_member (r, data, "e"), "aggTrade"));
  g_assert_cmpint (_th_json_reader_get_number (r, data, "p", TRUE, &d), ==, TH_JSON_FIELD_OK);
  g_assert_true (d == g_ascii_strtod ("42000.12", NULL));
  g_assert_cmpint (_th_json_reader_get_number (r, data, "p", FALSE, &d), ==, TH_JSON_FIELD_BAD);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "q", TRUE, &d), ==, TH_JSON_FIELD_OK);
  g_assert_true (d == 1e-3);
  g_assert_true (_th_json_reader_int (r, _th_json_reader_member (r, data, "T"), &i));
  g_assert_cmpint (i, ==, 1672515782136);
  /* The last of duplicate keys, as json-glib. */
  g_assert_true (_th_json_reader_int (r, _th_json_reader_member (r, data, "a"), &i));
  g_assert_cmpint (i, ==, 2);
  g_assert_false (_th_json_reader_int (r, _th_json_reader_member (r, data, "big"), &i));
  g_assert_true (_th_json_reader_double (r, _th_json_reader_member (r, data, "big"), &d));
  g_assert_true (d == 12345678901234567890.0);
  g_assert_true (_th_json_reader_int (r, _th_json_reader_member (r, data, "neg"), &i));
  g_assert_cmpint (i, ==, G_MININT64);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "f", FALSE, &d), ==, TH_JSON_FIELD_OK);
  g_assert_cmpfloat (d, ==, -50.0);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "h", FALSE, &d), ==, TH_JSON_FIELD_BAD);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "z", FALSE, &d), ==, TH_JSON_FIELD_NULL);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "none", FALSE, &d), ==, TH_JSON_FIELD_ABSENT);
  g_assert_cmpint (_th_json_reader_get_number (r, data, "b", FALSE, &d), ==, TH_JSON_FIELD_BAD);
  g_assert_cmpstr (_th_json_reader_get_string (r, data, "s"), ==, "BTC\xc3\xa9\xf0\x9f\x98\x80\n");
  g_assert_true (_th_json_reader_int (r, _th_json_reader_member (r, data, "ab"), &i));
  g_assert_cmpint (i, ==, 7);
  v = _th_json_reader_member (r, data, "n");
  g_assert_cmpuint (_th_json_reader_length (r, v), ==, 3);
  g_assert_true (_th_json_reader_int (r, _th_json_reader_element (r, v, 2), &i));
  g_assert_cmpint (i, ==, 3);
  g_assert_cmpint (_th_json_reader_kind (r, _th_json_reader_element (r, v, 1)), ==, _TH_JSON_KIND_OBJECT);
  g_assert_cmpuint (_th_json_reader_element (r, v, 3), ==, _TH_JSON_NONE);
  g_assert_cmpuint (_th_json_reader_member (r, v, "x"), ==, _TH_JSON_NONE);
  _th_json_reader_free (r);
}

/* Numbers and numeric strings: the double of th_json_object_get_number()
 * on json-glib's tree. */
static void
test_same_as_json_glib (void)
{
  static const char *const numbers[] = {
    "0", "-0", "42000.12", "0.1", "43000.10", "12345.678", "9007199254740993", "0.30000000000000004",
    "123456789012345678", "1.7976931348623157e308", "2.2250738585072014e-308", "4.9e-324", "1e22",
    "1e23", "-1.5E-7", "99999999999999999999", "0.000001", "530000000", "3.14159265358979323846",
    /* 16 to 19 digits, corrected to the nearest double; two ties to even. */
    "2300.1672515782136", "0.2848719087613487", "95318.41938212985", "4503599627370496.5",
    "4503599627370497.5", "1844674407370955161.5", "999999999999999999.9", "-0.9999999999999999999",
  };
  ThJsonReader *r = _th_json_reader_new ();

  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    for (int quoted = 0; quoted <= 1; quoted++)
      {
        g_autofree char *text = g_strdup_printf (quoted ? "{\"v\":\"%s\"}" : "{\"v\":%s}", numbers[i]);
        g_autoptr(JsonNode) root = th_json_parse (text, -1, NULL);
        double a = 0, b = 0;
        ThJsonField fa, fb;

        g_assert_nonnull (root);
        g_assert_true (parse (r, text));
        fa = th_json_object_get_number (json_node_get_object (root), "v", TRUE, &a);
        fb = _th_json_reader_get_number (r, 0, "v", TRUE, &b);
        if (!quoted && strcmp (numbers[i], "99999999999999999999") == 0)
          {
            /* json-glib wraps it around to a wrong value; refused here. */
            g_assert_cmpint (fb, ==, TH_JSON_FIELD_BAD);
            continue;
          }
        g_assert_cmpint (fa, ==, fb);
        if (fa == TH_JSON_FIELD_OK && memcmp (&a, &b, sizeof a) != 0)
          g_error ("%s: json-glib %.17g, reader %.17g", text, a, b);
      }
  _th_json_reader_free (r);
}

/* Decimal strings of 1 to 19 digits (the reader's exact shortcut, beyond
 * 15 digits corrected to the nearest double by integer comparisons) read
 * bit for bit as g_ascii_strtod() reads them: random ones, and midpoints
 * between two doubles with their neighbours. */
static void
test_exact_decimals (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (17);
  ThJsonReader *r = _th_json_reader_new ();

  for (guint i = 0; i < 200000; i++)
    {
      char digits[20], text[64], json[80];
      guint n = (guint) g_rand_int_range (rand, 1, 20);
      guint k = (guint) g_rand_int_range (rand, 0, (gint32) n + 1);
      guint64 m = 0;
      int o = 0;
      double a, b;

      for (guint j = 0; j < n; j++)
        digits[j] = (char) ('0' + g_rand_int_range (rand, j == 0 && k < n ? 1 : 0, 10));
      if (i % 3 == 0)
        {
          /* A midpoint (2L + 1) · 2^-j (+ -1, 0, 1 in its last digit) in decimal. */
          guint j = (guint) g_rand_int_range (rand, 1, 5);

          m = (G_GUINT64_CONSTANT (1) << 52) + (g_rand_int (rand) % (G_GUINT64_CONSTANT (1) << 20)) * 4096;
          m = 2 * m + 1;
          for (guint x = 0; x < j; x++)
            m *= 5;
          m += (guint64) g_rand_int_range (rand, -1, 2);
          o = g_snprintf (text, sizeof text, "%" G_GUINT64_FORMAT, m);
          memmove (text + o - j + 1, text + o - j, j + 1);
          text[o - j] = '.';
        }
      else
        {
          if (k == n)
            o += g_snprintf (text, sizeof text, "0.");
          memcpy (text + o, digits, n - k);
          o += (int) (n - k);
          if (k > 0 && k < n)
            text[o++] = '.';
          if (k > 0)
            {
              memcpy (text + o, digits + n - k, k);
              o += (int) k;
            }
          text[o] = '\0';
        }
      g_snprintf (json, sizeof json, "{\"v\":\"%s\"}", text);
      g_assert_true (parse (r, json));
      b = g_ascii_strtod (text, NULL);
      g_assert_cmpint (_th_json_reader_get_number (r, 0, "v", TRUE, &a), ==, TH_JSON_FIELD_OK);
      if (memcmp (&a, &b, sizeof a) != 0)
        g_error ("%s: g_ascii_strtod %.17g, reader %.17g", text, b, a);
    }
  _th_json_reader_free (r);
}

/* A member by walking the names, the last duplicate winning: the lookup's
 * reference, indexed or not. */
static guint
walk_member (ThJsonReader *r,
             guint         obj,
             const char   *key)
{
  guint found = _TH_JSON_NONE;

  for (guint k = _th_json_reader_first (r, obj); k != _TH_JSON_NONE && k < _th_json_reader_next (r, obj);
       k = _th_json_reader_next (r, k + 1))
    if (g_strcmp0 (_th_json_reader_string (r, k), key) == 0)
      found = k + 1;
  return found;
}

/* Large objects are looked up through an index of their names: the same
 * answers as the walk for duplicates, colliding names, escaped names,
 * absent and empty keys, two large objects in turn and a second parse. */
static void
test_member_index (void)
{
  static const char *const texts[] = {
    "{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":2,\"p\":\"1.5\",\"q\":\"2\",\"f\":3,\"l\":4,"
    "\"T\":5,\"m\":true,\"M\":false,\"p\":\"9.5\",\"\":7,\"inner\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,"
    "\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"a\":9}}",
    "{\"best_bid\":1,\"a_long_member_name_x\":0,\"best_ask\":2,\"best_bid_size\":3,\"best_ask_size\":4,\"bxxxxxxd\":5,"
    "\"price\":6,\"time\":7,\"type\":8,\"side\":9,\"best_bid\":10}",
    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"\\u0068\":8,\"h\":9,\"i\":10}",
    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7}",
  };
  static const char *const keys[] = {
    "e", "E", "s", "a", "p", "q", "T", "m", "M", "", "inner", "b", "h", "i", "x", "pp",
    "best_bid", "best_ask", "best_bid_size", "best_ask_size", "bxxxxxxd", "price", "time",
    "type", "side", "best", "g", "\xc3\xa9", "a_long_member_name_x", "a_long_member_name_y",
  };
  ThJsonReader *r = _th_json_reader_new ();

  for (guint round = 0; round < 2; round++)
    for (guint t = 0; t < G_N_ELEMENTS (texts); t++)
      {
        guint inner;

        g_assert_true (parse (r, texts[t]));
        inner = _th_json_reader_member (r, 0, "inner");
        for (guint i = 0; i < 3; i++)
          for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
            {
              g_assert_cmpuint (_th_json_reader_member (r, 0, keys[k]), ==, walk_member (r, 0, keys[k]));
              if (inner != _TH_JSON_NONE)
                g_assert_cmpuint (_th_json_reader_member (r, inner, keys[k]), ==, walk_member (r, inner, keys[k]));
            }
      }
  g_assert_true (parse (r, texts[0]));
  g_assert_true (_th_json_reader_string_is (r, _th_json_reader_member (r, 0, "p"), "9.5"));
  g_assert_true (parse (r, texts[2]));
  g_assert_cmpuint (_th_json_reader_member (r, 0, "h"), ==, 18);
  g_assert_true (parse (r, texts[1]));
  g_assert_cmpuint (_th_json_reader_member (r, 0, "best_bid"), ==, 22);
  _th_json_reader_free (r);
}

/* The scans that go sixteen bytes at a time (strings, digits), the
 * one-letter name and both tapes (made to measure up to 4096 bytes,
 * grown as the parse goes past that): a stop byte at every place of
 * strings of every length up to 40, as a value and as a member name;
 * digit runs of every length; texts either side of 4096 bytes. */
static void
test_scan_sizes (void)
{
  static const char *const inserts[] = { "\\\"", "\xc3\xa9", "\x01", "\xff", "\\u00e9" };
  static const char *const decoded[] = { "\"", "\xc3\xa9", NULL, NULL, "\xc3\xa9" };
  ThJsonReader *r = _th_json_reader_new ();
  GString *body = g_string_new (NULL);
  GString *want = g_string_new (NULL);
  GString *text = g_string_new (NULL);

  for (guint len = 0; len <= 40; len++)
    for (guint pos = 0; pos <= len; pos++)
      for (guint kind = 0; kind < G_N_ELEMENTS (inserts); kind++)
        {
          gboolean valid = pos == len || decoded[kind] != NULL;

          g_string_truncate (body, 0);
          g_string_truncate (want, 0);
          for (guint i = 0; i < len; i++)
            {
              if (i == pos)
                {
                  g_string_append (body, inserts[kind]);
                  if (decoded[kind] != NULL)
                    g_string_append (want, decoded[kind]);
                }
              g_string_append_c (body, (char) ('a' + i % 26));
              g_string_append_c (want, (char) ('a' + i % 26));
            }
          g_string_printf (text, "[\"%s\",1]", body->str);
          g_assert_true (parse (r, text->str) == valid);
          if (valid)
            g_assert_cmpstr (_th_json_reader_string (r, 1), ==, want->str);
          g_string_printf (text, "{\"%s\":1,\"x\":\"%s\"}", body->str, body->str);
          g_assert_true (parse (r, text->str) == valid);
          if (valid)
            {
              g_assert_cmpstr (_th_json_reader_string (r, 1), ==, want->str);
              g_assert_cmpuint (_th_json_reader_member (r, 0, want->str), ==, 2);
              g_assert_cmpstr (_th_json_reader_get_string (r, 0, "x"), ==, want->str);
            }
        }

  /* Digit runs from 1 to 40 long, in each part of a number, then a byte
   * that ends them or makes them wrong. */
  for (guint len = 1; len <= 40; len++)
    for (guint part = 0; part < 3; part++)
      for (guint tail = 0; tail < 3; tail++)
        {
          static const char *const tails[] = { "", "]", "x]" };
          double d;

          g_string_assign (body, part == 0 ? "" : "7");
          if (part == 1)
            g_string_append_c (body, '.');
          else if (part == 2)
            g_string_append (body, "e-");
          for (guint i = 0; i < len; i++)
            g_string_append_c (body, (char) ('1' + (i * 7) % 9));
          g_string_printf (text, "[%s%s", body->str, tails[tail]);
          g_assert_true (parse (r, text->str) == (tail == 1));
          if (tail != 1)
            continue;
          g_assert_true (_th_json_reader_double (r, 1, &d));
          g_assert_true (d == g_ascii_strtod (body->str, NULL));
        }

  /* Either side of 4096 bytes (the made-to-measure tape), a token a byte
   * pair, and far past it. */
  for (guint size = 4090; size <= 4100; size++)
    {
      guint n = (size - 1) / 2;

      g_string_assign (text, "[");
      for (guint i = 0; i < n; i++)
        g_string_append (text, i + 1 < n ? "1," : "1");
      while (text->len + 1 < size)
        g_string_append_c (text, ' ');
      g_string_append_c (text, ']');
      g_assert_cmpuint (text->len, ==, size);
      g_assert_true (parse (r, text->str));
      g_assert_cmpuint (_th_json_reader_length (r, 0), ==, n);
      g_assert_cmpuint (_th_json_reader_element (r, 0, n - 1), ==, n);
    }
  g_string_assign (text, "[");
  for (guint i = 0; i < 100000; i++)
    g_string_append (text, i > 0 ? ",[]" : "[]");
  g_string_append_c (text, ']');
  g_assert_true (parse (r, text->str));
  g_assert_cmpuint (_th_json_reader_length (r, 0), ==, 100000);
  g_assert_true (parse (r, "{\"a\":1}"));
  g_assert_cmpuint (_th_json_reader_member (r, 0, "a"), ==, 2);

  g_string_free (text, TRUE);
  g_string_free (want, TRUE);
  g_string_free (body, TRUE);
  _th_json_reader_free (r);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-reader/bad", test_bad);
  g_test_add_func ("/json-reader/nesting", test_nesting);
  g_test_add_func ("/json-reader/values", test_values);
  g_test_add_func ("/json-reader/same-as-json-glib", test_same_as_json_glib);
  g_test_add_func ("/json-reader/member-index", test_member_index);
  g_test_add_func ("/json-reader/exact-decimals", test_exact_decimals);
  g_test_add_func ("/json-reader/scan-sizes", test_scan_sizes);
  return g_test_run ();
}
