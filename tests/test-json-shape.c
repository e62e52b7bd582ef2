/* test-json-shape.c: the shapes (core/th-json-shape.c) match exactly the
 * compact layouts they describe, and the venues' fast path gives the same
 * ticks, events and rejections as their general path
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-json-reader.h"
#include "th-json-shape.h"
#include "th-private.h"
#include "test-utils.h"

#define AGG_TRADE \
  "{\"stream\":$s,\"data\":{\"e\":\"aggTrade\",\"E\":$i,\"s\":$s,\"a\":$i,\"p\":$n,\"q\":$n,\"f\":$i,\"l\":$i," \
  "\"T\":$i,\"m\":$b,\"M\":$b}}"
#define AGG_TRADE_FRAME \
  "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1672515782136,\"s\":\"BTCUSDT\",\"a\":12345," \
  "\"p\":\"43000.01\",\"q\":\"0.25\",\"f\":100,\"l\":105,\"T\":1672515782137,\"m\":true,\"M\":false}}"

static ThJsonShape *
shape_new (const char *template_)
{
  g_autoptr(GError) error = NULL;
  ThJsonShape *shape = _th_json_shape_new (template_, &error);

  g_assert_no_error (error);
  g_assert_nonnull (shape);
  return shape;
}

static gboolean
matches (ThJsonShape *shape,
         const char  *text)
{
  ThJsonShapeValue v[_TH_JSON_SHAPE_MAX_VALUES];

  return _th_json_shape_match (shape, text, strlen (text), v);
}

static void
test_captures (void)
{
  g_autoptr(ThJsonShape) shape = shape_new (AGG_TRADE);
  ThJsonShapeValue v[_TH_JSON_SHAPE_MAX_VALUES];

  g_assert_cmpuint (_th_json_shape_n_values (shape), ==, 11);
  g_assert_true (_th_json_shape_match (shape, AGG_TRADE_FRAME, strlen (AGG_TRADE_FRAME), v));
  g_assert_cmpuint (v[0].len, ==, 16);
  g_assert_true (strncmp (v[0].s, "btcusdt@aggTrade", v[0].len) == 0);
  g_assert_cmpint (v[1].i, ==, 1672515782136);
  g_assert_cmpuint (v[2].len, ==, 7);
  g_assert_true (strncmp (v[2].s, "BTCUSDT", v[2].len) == 0);
  g_assert_cmpint (v[3].i, ==, 12345);
  g_assert_cmpfloat (v[4].n, ==, 43000.01);
  g_assert_cmpfloat (v[5].n, ==, 0.25);
  g_assert_cmpint (v[6].i, ==, 100);
  g_assert_cmpint (v[7].i, ==, 105);
  g_assert_cmpint (v[8].i, ==, 1672515782137);
  g_assert_true (v[9].b);
  g_assert_false (v[10].b);

  /* Integers at the edges, an empty string, a string of every printable byte. */
  {
    g_autoptr(ThJsonShape) ints = shape_new ("[$i,$i,$i,$i,$s,$s]");
#define PRINTABLE " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\x7f"
    static const char text[] = "[9223372036854775807,-9223372036854775808,0,-0,\"\",\"" PRINTABLE "\"]";

    g_assert_true (_th_json_shape_match (ints, text, strlen (text), v));
    g_assert_cmpint (v[0].i, ==, G_MAXINT64);
    g_assert_cmpint (v[1].i, ==, G_MININT64);
    g_assert_cmpint (v[2].i, ==, 0);
    g_assert_cmpint (v[3].i, ==, 0);
    g_assert_cmpuint (v[4].len, ==, 0);
    g_assert_cmpuint (v[5].len, ==, strlen (PRINTABLE));
    g_assert_true (memcmp (v[5].s, PRINTABLE, v[5].len) == 0);
#undef PRINTABLE
  }
}

static void
test_bad_templates (void)
{
  static const char *const bad[] = {
    "{\"a\": $i}", "{\"a\":$x}", "{\"a\":$}", "$", "{\"a\":$i", "{\"a\":$i}}", "[$i $i]", "{\"a\"\n:$i}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      ThJsonShape *shape = _th_json_shape_new (bad[i], &error);

      g_assert_null (shape);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
    }
}

/* Frames that are not the layout, or not compact, or not strict. */
static void
test_no_match (void)
{
  g_autoptr(ThJsonShape) shape = shape_new (AGG_TRADE);
  ThJsonShapeValue v[_TH_JSON_SHAPE_MAX_VALUES];
  const char *good = AGG_TRADE_FRAME;
  gsize len = strlen (good);
  static const char *const bad[] = {
    /* an escape, a control byte, a byte >= 0x80 in a $s */
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTC\\u0055SDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTC\\\"\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTC\x01\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"btcusdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"caf\xc3\xa9\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    /* reordered, extra, missing, duplicate members */
    "{\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true},\"stream\":\"x\"}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"s\":\"BTCUSDT\",\"E\":1,\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true,\"x\":1}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"x\",\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    /* values of another kind */
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":\"1\",\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":1,\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":null,\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":1,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"aggTrade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":tru,\"M\":true}}",
    "{\"stream\":\"x\",\"data\":{\"e\":\"trade\",\"E\":1,\"s\":\"BTCUSDT\",\"a\":1,\"p\":\"1\",\"q\":\"1\",\"f\":1,\"l\":1,\"T\":1,\"m\":true,\"M\":true}}",
  };

  g_assert_true (matches (shape, good));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("%s", bad[i]);
      g_assert_false (matches (shape, bad[i]));
    }

  /* Truncated at every length, and the frame exactly as long as it is. */
  for (gsize n = 0; n < len; n++)
    {
      g_autofree char *cut = g_strndup (good, n);

      g_assert_false (_th_json_shape_match (shape, cut, n, v));
    }
  /* Trailing bytes */
  {
    static const char *const tails[] = { " ", "\n", "}", "x", "\0", "{}" };

    for (guint i = 0; i < G_N_ELEMENTS (tails); i++)
      {
        g_autofree char *longer = g_strconcat (good, tails[i], NULL);

        g_assert_false (_th_json_shape_match (shape, longer, len + MAX (strlen (tails[i]), 1), v));
      }
  }
  /* Whitespace at every place: no match, but inside a $s, where a space
   * is the string's own (and \t \n \r, control bytes, never). */
  for (gsize at = 0; at <= len; at++)
    {
      static const char ws[] = { ' ', '\t', '\n', '\r' };

      for (guint w = 0; w < G_N_ELEMENTS (ws); w++)
        {
          g_autofree char *spaced = g_strdup_printf ("%.*s%c%s", (int) at, good, ws[w], good + at);
          gboolean in_string = FALSE;

          if (_th_json_shape_match (shape, spaced, len + 1, v))
            {
              g_assert_cmpint (ws[w], ==, ' ');
              for (guint k = 0; k < 11; k++)
                if ((k == 0 || k == 2) && memchr (v[k].s, ' ', v[k].len) != NULL)
                  in_string = TRUE;
              g_assert_true (in_string);
            }
        }
    }
}

static void
test_integers (void)
{
  g_autoptr(ThJsonShape) shape = shape_new ("{\"a\":$i}");
  static const char *const bad[] = {
    "01", "00", "-01", "1.0", "1.", "1e3", "1E3", "-", "+1", "", "99999999999999999999", "12345678901234567890",
    "9223372036854775808", "-9223372036854775809", "0x1", " 1", "1 ", "\"1\"", "-a", "1a",
  };
  static const char *const good[] = { "0", "-0", "1", "-1", "1234567890123456789", "9223372036854775807" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"a\":%s}", bad[i]);

      g_test_message ("%s", text);
      g_assert_false (matches (shape, text));
    }
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"a\":%s}", good[i]);
      ThJsonShapeValue v[1];

      g_assert_true (_th_json_shape_match (shape, text, strlen (text), v));
      g_assert_cmpint (v[0].i, ==, g_ascii_strtoll (good[i], NULL, 10));
    }
}

/* $n against the tape reader on the same string: the same verdict, the
 * same double (bit for bit). */
static void
check_number (ThJsonShape  *shape,
              ThJsonReader *r,
              const char   *s)
{
  g_autofree char *text = g_strdup_printf ("{\"a\":\"%s\"}", s);
  ThJsonShapeValue v[1];
  gboolean parsed = _th_json_reader_parse (r, text, strlen (text), NULL);
  double reader_value = 0;
  gboolean reader_ok = parsed && _th_json_reader_get_number (r, 0, "a", TRUE, &reader_value) == TH_JSON_FIELD_OK;
  gboolean shape_ok = _th_json_shape_match (shape, text, strlen (text), v);

  if (shape_ok != reader_ok)
    g_error ("$n and the reader disagree on “%s”: %d, %d", s, shape_ok, reader_ok);
  if (shape_ok && memcmp (&v[0].n, &reader_value, sizeof (double)) != 0)
    g_error ("$n and the reader read “%s” as %.17g and %.17g", s, v[0].n, reader_value);
}

static void
test_numbers (void)
{
  g_autoptr(ThJsonShape) shape = shape_new ("{\"a\":$n}");
  ThJsonReader *r = _th_json_reader_new ();
  static const char *const fixed[] = {
    "", "0", "-0", "1", "1.5", "43000.01", "0.00000001", "1.", ".5", "-.5", "1e3", "1E-3", "+1", "--1", "1e400",
    "-1e400", "1e-400", "NaN", "nan", "inf", "Infinity", "abc", "1 ", " 1", "1,5", "0x10", "12345678901234567890",
    "1234567890.123456789", "9007199254740993", "0.1000000000000000055511151231257827", "1.2.3", "1-", "e", ".",
  };
  static const char alphabet[] = "0123456789012345678901234567890123456789.-+eE x";

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    check_number (shape, r, fixed[i]);
  for (guint i = 0; i < 20000; i++)
    {
      char s[32];
      guint n = (guint) g_test_rand_int_range (0, 28);

      for (guint k = 0; k < n; k++)
        s[k] = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];
      s[n] = '\0';
      check_number (shape, r, s);
    }
  /* Decimals as venues send them */
  for (guint i = 0; i < 20000; i++)
    {
      g_autofree char *s = g_strdup_printf ("%s%u.%0*u", g_test_rand_bit () ? "" : "-",
                                            (guint) g_test_rand_int_range (0, 1000000),
                                            g_test_rand_int_range (1, 10), (guint) g_test_rand_int_range (0, 1000000000));

      check_number (shape, r, s);
    }
  _th_json_reader_free (r);
}

/* Differential: the same frames to two hubs, as they are to the first
 * (the fast path when a shape matches) and with a space after the opening
 * brace to the second (always the general path, since a shape takes no
 * whitespace); their events, byte for byte, and their counts agree. */

typedef struct
{
  ThHub     *hub;
  ThWsFeed  *feed;
  GPtrArray *events;
  GPtrArray *log;
} Side;

static void
side_init (Side       *side,
           const char *config)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (G_GINT64_CONSTANT (1704067200000000));
  g_autoptr(GPtrArray) feeds = NULL;

  side->hub = th_test_hub_new (config, clock);
  side->events = th_test_capture_events (side->hub);
  th_hub_start (side->hub);
  feeds = th_hub_get_feeds (side->hub);
  side->feed = feeds->pdata[0];
  g_assert_true (TH_IS_WS_FEED (side->feed));
}

static void
side_clear (Side *side)
{
  th_test_hub_clear (&side->hub);
  g_clear_pointer (&side->events, g_ptr_array_unref);
}

static char *
side_events (Side *side)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < side->events->len; i++)
    {
      g_string_append (s, th_event_get_json (side->events->pdata[i]));
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

static void
compare_sides (Side *fast,
               Side *general)
{
  static const char *const stats[] = { "ticks", "parse_errors", "unknown_messages", "bad_values", "messages" };
  g_autofree char *a = side_events (fast);
  g_autofree char *b = side_events (general);
  g_autoptr(GVariant) sa = th_feed_source_get_stats (TH_FEED_SOURCE (fast->feed));
  g_autoptr(GVariant) sb = th_feed_source_get_stats (TH_FEED_SOURCE (general->feed));

  g_assert_cmpstr (a, ==, b);
  for (guint i = 0; i < G_N_ELEMENTS (stats); i++)
    {
      guint64 x = 0, y = 0;

      g_variant_lookup (sa, stats[i], "t", &x);
      g_variant_lookup (sb, stats[i], "t", &y);
      g_test_message ("%s: %" G_GUINT64_FORMAT, stats[i], x);
      g_assert_cmpuint (x, ==, y);
    }
}

static void
inject_both (Side       *fast,
             Side       *general,
             const char *frame,
             gint64      receive_time)
{
  g_autofree char *spaced = g_strconcat ("{ ", frame + 1, NULL);

  g_assert_true (frame[0] == '{');
  th_ws_feed_inject (fast->feed, frame, -1, receive_time);
  th_ws_feed_inject (general->feed, spaced, -1, receive_time);
  th_manual_clock_advance (TH_MANUAL_CLOCK (th_hub_get_clock (fast->hub)), 250000);
  th_manual_clock_advance (TH_MANUAL_CLOCK (th_hub_get_clock (general->hub)), 250000);
}

/* A venue decimal: mostly good, sometimes zero, negative or not a number. */
static const char *
random_decimal (char *buf,
                gsize size)
{
  static const char *const odd[] = {
    "0", "0.0", "-1.5", "-0", "1e3", "1E-2", ".5", "1.", "", "abc", "NaN", "1e400", "12345678901234567890.5",
    "0.000000000000000000001", "+2", "1,5",
  };

  switch (g_test_rand_int_range (0, 10))
    {
    case 0:
      return odd[g_test_rand_int_range (0, G_N_ELEMENTS (odd))];
    case 1:
      g_snprintf (buf, size, "%u", (guint) g_test_rand_int_range (0, 100000));
      return buf;
    default:
      g_snprintf (buf, size, "%u.%0*u", (guint) g_test_rand_int_range (0, 100000), g_test_rand_int_range (1, 9),
                  (guint) g_test_rand_int_range (0, 100000000));
      return buf;
    }
}

/* Epoch ms: mostly now, sometimes 0, negative, past the µs range, huge.
 * (Not the last ms of the µs range, 9223372036854775: the feeds take it,
 * and the hub's housekeeping overflows on a tick that far ahead, either
 * path.) */
static const char *
random_ms (char *buf,
           gsize size)
{
  static const char *const odd[] = {
    "0", "-1", "-0", "9223372036854776", "9223372036854775807", "1", "-9223372036854775808", "99999999999999999999",
  };

  if (g_test_rand_int_range (0, 12) == 0)
    return odd[g_test_rand_int_range (0, G_N_ELEMENTS (odd))];
  g_snprintf (buf, size, "%" G_GINT64_FORMAT, G_GINT64_CONSTANT (1704067200000) + g_test_rand_int_range (0, 100000000));
  return buf;
}

static void
test_binance_differential (void)
{
  static const char config[] =
    "[tickhub]\nplugins=binance\nsymbols=BTC;ETH;SOL\ntimeframes=1m;5m\n"
    "[binance]\nconnect=false\nlisting=false\nstreams=ticker;aggTrade;trade\n";
  static const char *const codes[] = { "BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "btcusdt", "", "BTC USDT" };
  Side fast = { 0 }, general = { 0 };
  g_autoptr(ThJsonShape) agg_trade = shape_new (AGG_TRADE);
  guint matched = 0;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  side_init (&fast, config);
  side_init (&general, config);

  for (guint i = 0; i < 6000; i++)
    {
      const char *code = codes[g_test_rand_int_range (0, G_N_ELEMENTS (codes))];
      g_autofree char *lower = g_ascii_strdown (code, -1);
      g_autofree char *payload = NULL;
      g_autofree char *frame = NULL;
      char b1[64], b2[64], b3[64], b4[64], b5[64], t1[32], t2[32];
      const char *m = g_test_rand_bit () ? "true" : "false";

      switch (g_test_rand_int_range (0, 4))
        {
        case 0:
          payload = g_strdup_printf ("{\"e\":\"aggTrade\",\"E\":%s,\"s\":\"%s\",\"a\":%d,\"p\":\"%s\",\"q\":\"%s\",\"f\":100,"
                                     "\"l\":105,\"T\":%s,\"m\":%s,\"M\":true}",
                                     random_ms (t1, sizeof t1), code, g_test_rand_int (), random_decimal (b1, sizeof b1),
                                     random_decimal (b2, sizeof b2), random_ms (t2, sizeof t2), m);
          break;
        case 1:
          payload = g_strdup_printf ("{\"e\":\"trade\",\"E\":%s,\"s\":\"%s\",\"t\":%d,\"p\":\"%s\",\"q\":\"%s\",\"T\":%s,"
                                     "\"m\":%s,\"M\":true}",
                                     random_ms (t1, sizeof t1), code, g_test_rand_int (), random_decimal (b1, sizeof b1),
                                     random_decimal (b2, sizeof b2), random_ms (t2, sizeof t2), m);
          break;
        case 2:
          payload = g_strdup_printf ("{\"e\":\"trade\",\"E\":%s,\"s\":\"%s\",\"t\":%d,\"p\":\"%s\",\"q\":\"%s\",\"b\":88,"
                                     "\"a\":50,\"T\":%s,\"m\":%s,\"M\":true}",
                                     random_ms (t1, sizeof t1), code, g_test_rand_int (), random_decimal (b1, sizeof b1),
                                     random_decimal (b2, sizeof b2), random_ms (t2, sizeof t2), m);
          break;
        default:
          payload = g_strdup_printf ("{\"e\":\"24hrTicker\",\"E\":%s,\"s\":\"%s\",\"p\":\"120.5\",\"P\":\"%s\",\"w\":\"43000\","
                                     "\"x\":\"42880\",\"c\":\"%s\",\"Q\":\"0.01\",\"b\":\"%s\",\"B\":\"1.2\",\"a\":\"%s\","
                                     "\"A\":\"0.5\",\"o\":\"42880\",\"h\":\"43100\",\"l\":\"42700\",\"v\":\"%s\","
                                     "\"q\":\"530000000\",\"O\":0,\"C\":86400000,\"F\":0,\"L\":18150,\"n\":18151}",
                                     random_ms (t1, sizeof t1), code, random_decimal (b1, sizeof b1),
                                     random_decimal (b2, sizeof b2), random_decimal (b3, sizeof b3),
                                     random_decimal (b4, sizeof b4), random_decimal (b5, sizeof b5));
          break;
        }
      if (g_test_rand_int_range (0, 4) == 0)
        frame = g_steal_pointer (&payload);   /* a raw stream */
      else
        frame = g_strdup_printf ("{\"stream\":\"%s@x\",\"data\":%s}", lower, payload);
      /* The layouts are the feed's: most frames take its fast path. */
      matched += matches (agg_trade, frame);
      inject_both (&fast, &general, frame, G_GINT64_CONSTANT (1704067200000000) + i * 250000);
    }
  th_test_drain ();
  g_assert_cmpuint (matched, >, 600);
  g_assert_cmpuint (th_test_feed_stat (fast.hub, "ticks"), >, 1000);
  g_assert_cmpuint (th_test_feed_stat (fast.hub, "bad_values"), >, 100);
  compare_sides (&fast, &general);
  side_clear (&fast);
  side_clear (&general);
}

static void
test_coinbase_differential (void)
{
  static const char config[] =
    "[tickhub]\nplugins=coinbase\nsymbols=BTC;ETH;SOL\ntimeframes=1m;5m\n"
    "[coinbase]\nconnect=false\nlisting=false\n";
  static const char *const products[] = { "BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "", "btc-usd" };
  static const char *const times[] = {
    "2022-10-19T23:28:22.061769Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+02:00", "yesterday", "",
    "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2024-13-01T00:00:00Z",
  };
  gint64 seq[G_N_ELEMENTS (products)] = { 0 };
  Side fast = { 0 }, general = { 0 };

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  side_init (&fast, config);
  side_init (&general, config);

  for (guint i = 0; i < 6000; i++)
    {
      guint p = (guint) g_test_rand_int_range (0, G_N_ELEMENTS (products));
      g_autofree char *frame = NULL;
      char b1[64], b2[64], b3[64], b4[64], b5[64];
      gint64 s;

      /* Mostly the next, sometimes a repeat, one from before, a negative one. */
      switch (g_test_rand_int_range (0, 12))
        {
        case 0:  s = seq[p]; break;
        case 1:  s = seq[p] - g_test_rand_int_range (1, 5); break;
        case 2:  s = -g_test_rand_int_range (1, 5); break;
        default: s = seq[p] += g_test_rand_int_range (1, 50); break;
        }
      frame = g_strdup_printf ("{\"type\":\"ticker\",\"sequence\":%" G_GINT64_FORMAT ",\"product_id\":\"%s\",\"price\":\"%s\","
                               "\"open_24h\":\"%s\",\"volume_24h\":\"%s\",\"low_24h\":\"1280.52\",\"high_24h\":\"1313.8\","
                               "\"volume_30d\":\"9788783.60117027\",\"best_bid\":\"%s\",\"best_bid_size\":\"0.46688654\","
                               "\"best_ask\":\"%s\",\"best_ask_size\":\"1.56637040\",\"side\":\"%s\",\"time\":\"%s\","
                               "\"trade_id\":%d,\"last_size\":\"11.4396987\"}",
                               s, products[p], random_decimal (b1, sizeof b1), random_decimal (b2, sizeof b2),
                               random_decimal (b3, sizeof b3), random_decimal (b4, sizeof b4),
                               random_decimal (b5, sizeof b5), g_test_rand_bit () ? "buy" : "sell",
                               g_test_rand_int_range (0, 8) == 0 ? times[g_test_rand_int_range (0, G_N_ELEMENTS (times))]
                                                                 : times[0],
                               g_test_rand_int_range (-3, 1000000));
      inject_both (&fast, &general, frame, G_GINT64_CONSTANT (1704067200000000) + i * 250000);
    }
  th_test_drain ();
  g_assert_cmpuint (th_test_feed_stat (fast.hub, "ticks"), >, 1000);
  g_assert_cmpuint (th_test_feed_stat (fast.hub, "bad_values"), >, 100);
  compare_sides (&fast, &general);
  side_clear (&fast);
  side_clear (&general);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json-shape/captures", test_captures);
  g_test_add_func ("/json-shape/bad-templates", test_bad_templates);
  g_test_add_func ("/json-shape/no-match", test_no_match);
  g_test_add_func ("/json-shape/integers", test_integers);
  g_test_add_func ("/json-shape/numbers", test_numbers);
  g_test_add_func ("/json-shape/binance-differential", test_binance_differential);
  g_test_add_func ("/json-shape/coinbase-differential", test_coinbase_differential);
  return g_test_run ();
}
