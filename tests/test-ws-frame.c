/* test-ws-frame.c: the RFC 6455 codec (core/th-ws-frame.c) on its own
 *
 * Frames are built with the codec's header writer and fed to its parser,
 * whole or a few bytes at a time, as a connection's reads would bring them.
 * With -m perf, the parse time of a ticker-sized frame is printed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-ws-frame.h"

static const guint8 KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Appends one frame; masked with KEY when @masked. */
static void
append_frame (GByteArray *out,
              guint8      opcode,
              gboolean    fin,
              const void *payload,
              gsize       length,
              gboolean    masked)
{
  guint8 header[TH_WS_FRAME_HEADER_MAX];
  gsize hlen = _th_ws_frame_write_header (header, opcode, fin, length, masked ? KEY : NULL);
  guint start;

  g_byte_array_append (out, header, (guint) hlen);
  start = out->len;
  g_byte_array_append (out, payload, (guint) length);
  if (masked)
    _th_ws_frame_mask (out->data + start, out->data + start, length, KEY);
}

static guint8 *
pattern (gsize length)
{
  guint8 *p = g_malloc (length + 1);

  for (gsize i = 0; i < length; i++)
    p[i] = (guint8) ('a' + (i * 7 + i / 26) % 26);
  return p;
}

static const char *
op_name (guint8 opcode)
{
  switch (opcode)
    {
    case TH_WS_OP_TEXT: return "text";
    case TH_WS_OP_BINARY: return "binary";
    case TH_WS_OP_CLOSE: return "close";
    case TH_WS_OP_PING: return "ping";
    case TH_WS_OP_PONG: return "pong";
    default: return "?";
    }
}

/* Feeds @input to a new parser @step bytes at a time (0: all at once),
 * keeping what it does not consume as a connection does, and describes
 * what it found, one event per line: "text 5 hello", "oversize 200",
 * "error 1002 reason". Messages over 16 bytes are shown by length and
 * checked against @expect_payload when given. *@max_pending: the most
 * input the caller had to keep. */
static char *
feed (ThWsParserFlags  flags,
      gsize            max_message,
      GByteArray      *input,
      gsize            step,
      const guint8    *expect_payload,
      gsize           *max_pending)
{
  ThWsParser parser;
  g_autoptr(GByteArray) pending = g_byte_array_new ();
  GString *log = g_string_new (NULL);
  gsize at = 0;
  gboolean failed = FALSE;

  _th_ws_parser_init (&parser, flags, max_message);
  if (max_pending != NULL)
    *max_pending = 0;
  if (step == 0)
    step = MAX (input->len, 1);

  while (at < input->len && !failed)
    {
      gsize n = MIN (step, input->len - at);

      g_byte_array_append (pending, input->data + at, (guint) n);
      at += n;
      for (;;)
        {
          ThWsFrame frame;
          gsize used = G_MAXSIZE;
          ThWsParseResult r = _th_ws_parser_next (&parser, pending->data, pending->len, &used, &frame);

          g_assert_cmpuint (used, <=, pending->len);
          switch (r)
            {
            case TH_WS_PARSE_MORE:
              break;
            case TH_WS_PARSE_MESSAGE:
            case TH_WS_PARSE_CONTROL:
              g_string_append_printf (log, "%s %" G_GSIZE_FORMAT, op_name (frame.opcode), frame.length);
              if (frame.length <= 16)
                g_string_append_printf (log, " %.*s", (int) frame.length, (const char *) frame.data);
              else if (expect_payload != NULL)
                g_assert_cmpmem (frame.data, frame.length, expect_payload, frame.length);
              g_string_append_c (log, '\n');
              break;
            case TH_WS_PARSE_OVERSIZE:
              g_string_append_printf (log, "oversize %" G_GUINT64_FORMAT "\n", frame.oversize);
              break;
            case TH_WS_PARSE_ERROR:
              g_string_append_printf (log, "error %u %s\n", frame.close_code, frame.reason);
              failed = TRUE;
              break;
            default:
              g_assert_not_reached ();
            }
          g_byte_array_remove_range (pending, 0, (guint) used);
          if (r == TH_WS_PARSE_MORE || failed)
            break;
        }
      if (max_pending != NULL)
        *max_pending = MAX (*max_pending, pending->len);
    }
  if (!failed)
    g_assert_cmpuint (pending->len, ==, 0);
  _th_ws_parser_clear (&parser);
  return g_string_free (log, FALSE);
}

static void
assert_feeds (ThWsParserFlags  flags,
              gsize            max_message,
              GByteArray      *input,
              const char      *expected)
{
  /* Whole, one byte at a time, and in a few odd sizes: the same result. */
  static const gsize steps[] = { 0, 1, 2, 3, 7, 13, 4096 };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autofree char *got = feed (flags, max_message, input, steps[i], NULL, NULL);

      if (g_strcmp0 (got, expected) != 0)
        g_error ("fed %" G_GSIZE_FORMAT " bytes at a time:\n%s\nexpected:\n%s", steps[i], got, expected);
    }
}

/* The header writer: each length form, at its boundaries, with and
 * without a mask key. */
static void
test_header (void)
{
  static const struct { guint64 length; gsize hlen; guint8 len7; } cases[] = {
    { 0, 2, 0 },
    { 125, 2, 125 },
    { 126, 4, 126 },
    { 65535, 4, 126 },
    { 65536, 10, 127 },
    { G_GUINT64_CONSTANT (0x0102030405060708), 10, 127 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    for (int masked = 0; masked <= 1; masked++)
      {
        guint8 h[TH_WS_FRAME_HEADER_MAX];
        gsize hlen = _th_ws_frame_write_header (h, TH_WS_OP_BINARY, TRUE, cases[i].length, masked ? KEY : NULL);
        guint64 length = 0;

        g_assert_cmpuint (hlen, ==, cases[i].hlen + (masked ? 4 : 0));
        g_assert_cmphex (h[0], ==, 0x82);
        g_assert_cmphex (h[1], ==, (masked ? 0x80 : 0) | cases[i].len7);
        if (cases[i].len7 == 126)
          length = ((guint64) h[2] << 8) | h[3];
        else if (cases[i].len7 == 127)
          for (int k = 0; k < 8; k++)
            length = (length << 8) | h[2 + k];
        else
          length = h[1] & 0x7f;
        g_assert_cmpuint (length, ==, cases[i].length);
        if (masked)
          g_assert_cmpmem (h + hlen - 4, 4, KEY, 4);
      }

  /* FIN and the opcode. */
  {
    guint8 h[TH_WS_FRAME_HEADER_MAX];

    g_assert_cmpuint (_th_ws_frame_write_header (h, TH_WS_OP_TEXT, FALSE, 3, NULL), ==, 2);
    g_assert_cmphex (h[0], ==, 0x01);
    g_assert_cmpuint (_th_ws_frame_write_header (h, TH_WS_OP_CONTINUATION, TRUE, 3, NULL), ==, 2);
    g_assert_cmphex (h[0], ==, 0x80);
    g_assert_cmpuint (_th_ws_frame_write_header (h, TH_WS_OP_PING, TRUE, 0, NULL), ==, 2);
    g_assert_cmphex (h[0], ==, 0x89);
  }
}

/* Writer → parser, at the length boundaries, masked from a client and
 * plain from a server, whole and split. */
static void
test_round_trip (void)
{
  static const gsize lengths[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };

  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    for (int from_client = 0; from_client <= 1; from_client++)
      {
        g_autofree guint8 *payload = pattern (lengths[i]);
        g_autoptr(GByteArray) input = g_byte_array_new ();
        g_autofree char *expected = NULL;
        ThWsParserFlags flags = from_client ? TH_WS_PARSER_FROM_CLIENT : TH_WS_PARSER_FROM_SERVER;
        static const gsize steps[] = { 0, 1, 1000 };

        append_frame (input, TH_WS_OP_TEXT, TRUE, payload, lengths[i], from_client);
        append_frame (input, TH_WS_OP_BINARY, TRUE, payload, lengths[i], from_client);
        if (lengths[i] <= 16)
          expected = g_strdup_printf ("text %" G_GSIZE_FORMAT " %.*s\nbinary %" G_GSIZE_FORMAT " %.*s\n",
                                      lengths[i], (int) lengths[i], payload,
                                      lengths[i], (int) lengths[i], payload);
        else
          expected = g_strdup_printf ("text %" G_GSIZE_FORMAT "\nbinary %" G_GSIZE_FORMAT "\n",
                                      lengths[i], lengths[i]);
        for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
          {
            g_autofree char *got = feed (flags, 1 << 20, input, steps[s], payload, NULL);

            g_assert_cmpstr (got, ==, expected);
          }
      }
}

/* A message in one frame points into the input; a reassembled one into
 * the parser, NUL-terminated. */
static void
test_message_memory (void)
{
  g_autoptr(GByteArray) input = g_byte_array_new ();
  ThWsParser parser;
  ThWsFrame frame;
  gsize used;
  gsize pos = 0;

  append_frame (input, TH_WS_OP_TEXT, TRUE, "one", 3, FALSE);
  append_frame (input, TH_WS_OP_TEXT, FALSE, "tw", 2, FALSE);
  append_frame (input, TH_WS_OP_CONTINUATION, TRUE, "o", 1, FALSE);

  _th_ws_parser_init (&parser, TH_WS_PARSER_FROM_SERVER, 100);
  g_assert_cmpint (_th_ws_parser_next (&parser, input->data, input->len, &used, &frame), ==, TH_WS_PARSE_MESSAGE);
  g_assert_true (frame.data == input->data + 2);
  g_assert_cmpuint (used, ==, 5);
  pos += used;
  g_assert_cmpint (_th_ws_parser_next (&parser, input->data + pos, input->len - pos, &used, &frame), ==,
                   TH_WS_PARSE_MESSAGE);
  g_assert_cmpint (frame.opcode, ==, TH_WS_OP_TEXT);
  g_assert_cmpuint (frame.length, ==, 3);
  g_assert_cmpstr ((const char *) frame.data, ==, "two");
  pos += used;
  g_assert_cmpuint (pos, ==, input->len);
  g_assert_cmpint (_th_ws_parser_next (&parser, input->data + pos, 0, &used, &frame), ==, TH_WS_PARSE_MORE);
  g_assert_cmpuint (used, ==, 0);
  g_assert_null (parser.message);   /* given back */
  g_assert_cmpuint (parser.n_frames, ==, 3);
  _th_ws_parser_clear (&parser);
}

/* Fragments, with control frames between them, whole and byte by byte. */
static void
test_fragments (void)
{
  g_autoptr(GByteArray) input = g_byte_array_new ();

  for (int from_client = 0; from_client <= 1; from_client++)
    {
      g_byte_array_set_size (input, 0);
      append_frame (input, TH_WS_OP_TEXT, FALSE, "hel", 3, from_client);
      append_frame (input, TH_WS_OP_PING, TRUE, "p1", 2, from_client);
      append_frame (input, TH_WS_OP_CONTINUATION, FALSE, "", 0, from_client);
      append_frame (input, TH_WS_OP_CONTINUATION, TRUE, "lo", 2, from_client);
      append_frame (input, TH_WS_OP_BINARY, FALSE, "\x01\x02", 2, from_client);
      append_frame (input, TH_WS_OP_PONG, TRUE, "", 0, from_client);
      append_frame (input, TH_WS_OP_CONTINUATION, TRUE, "\x03", 1, from_client);
      append_frame (input, TH_WS_OP_CLOSE, TRUE, "\x03\xe8" "bye", 5, from_client);
      assert_feeds (from_client ? TH_WS_PARSER_FROM_CLIENT : TH_WS_PARSER_FROM_SERVER, 100, input,
                    "ping 2 p1\n"
                    "text 5 hello\n"
                    "pong 0 \n"
                    "binary 3 \x01\x02\x03\n"
                    "close 5 \x03\xe8" "bye\n");
    }
}

/* The client's policy: a message over the limit is skipped, reported once
 * with its length, never buffered; what follows still arrives. */
static void
test_oversize_skip (void)
{
  g_autofree guint8 *big = pattern (70000);
  g_autoptr(GByteArray) input = g_byte_array_new ();
  gsize max_pending = 0;

  append_frame (input, TH_WS_OP_TEXT, TRUE, "a", 1, FALSE);
  append_frame (input, TH_WS_OP_TEXT, TRUE, big, 101, FALSE);          /* one frame over */
  append_frame (input, TH_WS_OP_TEXT, TRUE, big, 100, FALSE);          /* exactly the limit */
  append_frame (input, TH_WS_OP_BINARY, FALSE, big, 60, FALSE);        /* over once reassembled */
  append_frame (input, TH_WS_OP_PING, TRUE, "x", 1, FALSE);            /* while skipping */
  append_frame (input, TH_WS_OP_CONTINUATION, FALSE, big, 60, FALSE);
  append_frame (input, TH_WS_OP_CONTINUATION, TRUE, big, 70000, FALSE); /* 64-bit length */
  append_frame (input, TH_WS_OP_TEXT, TRUE, "b", 1, FALSE);
  assert_feeds (TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE, 100, input,
                "text 1 a\n"
                "oversize 101\n"
                "text 100\n"
                "ping 1 x\n"
                "oversize 70120\n"
                "text 1 b\n");

  /* Fed byte by byte, the skipped payloads are never kept. */
  g_byte_array_set_size (input, 0);
  append_frame (input, TH_WS_OP_TEXT, TRUE, big, 70000, FALSE);
  append_frame (input, TH_WS_OP_TEXT, TRUE, "c", 1, FALSE);
  {
    g_autofree char *got = feed (TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE, 100, input, 1,
                                 NULL, &max_pending);

    g_assert_cmpstr (got, ==, "oversize 70000\ntext 1 c\n");
    g_assert_cmpuint (max_pending, <, TH_WS_FRAME_HEADER_MAX);
  }
}

/* The server's policy: a message over the limit ends the connection with
 * 1009, whether one frame or its fragments are too big. */
static void
test_oversize_close (void)
{
  g_autofree guint8 *big = pattern (200);
  g_autoptr(GByteArray) input = g_byte_array_new ();

  append_frame (input, TH_WS_OP_TEXT, TRUE, big, 100, TRUE);
  append_frame (input, TH_WS_OP_TEXT, TRUE, big, 101, TRUE);
  append_frame (input, TH_WS_OP_TEXT, TRUE, "never", 5, TRUE);
  assert_feeds (TH_WS_PARSER_FROM_CLIENT, 100, input,
                "text 100\n"
                "error 1009 message over the size limit\n");

  g_byte_array_set_size (input, 0);
  append_frame (input, TH_WS_OP_TEXT, FALSE, big, 50, TRUE);
  append_frame (input, TH_WS_OP_CONTINUATION, FALSE, big, 50, TRUE);
  append_frame (input, TH_WS_OP_CONTINUATION, TRUE, big, 1, TRUE);
  assert_feeds (TH_WS_PARSER_FROM_CLIENT, 100, input, "error 1009 message over the size limit\n");

  /* The limit may change between calls (a reloaded max-message). */
  {
    ThWsParser parser;
    ThWsFrame frame;
    gsize used;

    g_byte_array_set_size (input, 0);
    append_frame (input, TH_WS_OP_TEXT, TRUE, big, 150, TRUE);
    _th_ws_parser_init (&parser, TH_WS_PARSER_FROM_CLIENT, 100);
    parser.max_message = 200;
    g_assert_cmpint (_th_ws_parser_next (&parser, input->data, input->len, &used, &frame), ==,
                     TH_WS_PARSE_MESSAGE);
    g_assert_cmpmem (frame.data, frame.length, big, 150);
    _th_ws_parser_clear (&parser);
  }
}

static GByteArray *
bytes (const char *data,
       gsize       length)
{
  GByteArray *b = g_byte_array_new ();

  g_byte_array_append (b, (const guint8 *) data, (guint) length);
  return b;
}

/* Every protocol error, its close code, from either end; found from the
 * bytes that show it, and for good. */
static void
test_protocol_errors (void)
{
  static const struct {
    const char *name;
    ThWsParserFlags flags;
    const char *data;
    gsize length;
    const char *expected;
  } cases[] = {
#define MASK4 "\x37\xfa\x21\x3d"
    { "reserved bit 1", TH_WS_PARSER_FROM_SERVER, "\xc1\x00", 2, "error 1002 reserved bits set\n" },
    { "reserved bit 2", TH_WS_PARSER_FROM_CLIENT, "\xa1\x80", 2, "error 1002 reserved bits set\n" },
    { "reserved bit 3", TH_WS_PARSER_FROM_SERVER, "\x91\x00", 2, "error 1002 reserved bits set\n" },
    { "masked from a server", TH_WS_PARSER_FROM_SERVER, "\x81\x81" MASK4 "x", 7,
      "error 1002 masked frame from a server\n" },
    { "unmasked from a client", TH_WS_PARSER_FROM_CLIENT, "\x81\x01x", 3,
      "error 1002 unmasked frame from a client\n" },
    { "data opcode 3", TH_WS_PARSER_FROM_SERVER, "\x83\x00", 2, "error 1002 unknown data opcode\n" },
    { "data opcode 7", TH_WS_PARSER_FROM_CLIENT, "\x87\x80" MASK4, 6, "error 1002 unknown data opcode\n" },
    { "control opcode 0xB", TH_WS_PARSER_FROM_SERVER, "\x8b\x00", 2, "error 1002 unknown control opcode\n" },
    { "control opcode 0xF", TH_WS_PARSER_FROM_CLIENT, "\x8f\x80" MASK4, 6, "error 1002 unknown control opcode\n" },
    { "fragmented ping", TH_WS_PARSER_FROM_SERVER, "\x09\x00", 2, "error 1002 fragmented control frame\n" },
    { "fragmented close", TH_WS_PARSER_FROM_CLIENT, "\x08\x80" MASK4, 6, "error 1002 fragmented control frame\n" },
    { "ping of 126 bytes", TH_WS_PARSER_FROM_SERVER, "\x89\x7e\x00\x7e", 4,
      "error 1002 control frame over 125 bytes\n" },
    { "close of 64-bit length", TH_WS_PARSER_FROM_CLIENT, "\x88\xff", 2,
      "error 1002 control frame over 125 bytes\n" },
    { "continuation without a start", TH_WS_PARSER_FROM_SERVER, "\x80\x01x", 3,
      "error 1002 continuation frame without a message\n" },
    { "continuation without a start, masked", TH_WS_PARSER_FROM_CLIENT, "\x00\x80" MASK4, 6,
      "error 1002 continuation frame without a message\n" },
    { "a message inside a fragmented one", TH_WS_PARSER_FROM_SERVER, "\x01\x01x\x81\x01y", 6,
      "error 1002 new message inside a fragmented one\n" },
    { "a message inside a skipped one", TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE,
      "\x01\x05xxxxx\x81\x01y", 10, "error 1002 new message inside a fragmented one\n" },
    { "64-bit length with its top bit", TH_WS_PARSER_FROM_SERVER,
      "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10, "error 1002 frame length out of range\n" },
    { "too big, no skipping", TH_WS_PARSER_FROM_SERVER, "\x81\x05xxxxx", 7,
      "error 1009 message over the size limit\n" },
    /* After a good message, and whatever follows. */
    { "after a message", TH_WS_PARSER_FROM_SERVER, "\x81\x01z\xf1\x00\x81\x01z", 8,
      "text 1 z\nerror 1002 reserved bits set\n" },
#undef MASK4
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GByteArray) input = bytes (cases[i].data, cases[i].length);

      g_test_message ("%s", cases[i].name);
      assert_feeds (cases[i].flags, 4, input, cases[i].expected);
    }

  /* Known from the first two bytes, before the rest arrives; and for good. */
  {
    ThWsParser parser;
    ThWsFrame frame;
    gsize used;
    guint8 data[] = { 0x89, 0x7e };

    _th_ws_parser_init (&parser, TH_WS_PARSER_FROM_SERVER, 100);
    g_assert_cmpint (_th_ws_parser_next (&parser, data, 2, &used, &frame), ==, TH_WS_PARSE_ERROR);
    g_assert_cmpuint (frame.close_code, ==, 1002);
    g_assert_cmpuint (used, ==, 2);
    data[0] = 0x81;
    data[1] = 0x00;
    g_assert_cmpint (_th_ws_parser_next (&parser, data, 2, &used, &frame), ==, TH_WS_PARSE_ERROR);
    g_assert_cmpuint (frame.close_code, ==, 1002);
    g_assert_cmpstr (frame.reason, ==, "control frame over 125 bytes");
    _th_ws_parser_clear (&parser);
  }
}

static void
test_mask (void)
{
  g_autofree guint8 *src = pattern (100);

  /* Every length and start alignment against the byte-wise definition. */
  for (gsize off = 0; off < 8; off++)
    for (gsize len = 0; len + off <= 100; len++)
      {
        guint8 dest[100];
        guint8 again[100];

        _th_ws_frame_mask (dest, src + off, len, KEY);
        for (gsize i = 0; i < len; i++)
          g_assert_cmphex (dest[i], ==, src[off + i] ^ KEY[i & 3]);
        memcpy (again, dest, len);
        _th_ws_frame_mask (again, again, len, KEY);   /* in place */
        g_assert_cmpmem (again, len, src + off, len);
      }
}

static void
test_close_payload (void)
{
  guint8 out[TH_WS_CONTROL_MAX];
  g_autoptr(GString) long_reason = g_string_new (NULL);
  gsize n;

  n = _th_ws_frame_close_payload (out, 1000, NULL);
  g_assert_cmpmem (out, n, "\x03\xe8", 2);
  n = _th_ws_frame_close_payload (out, 1009, "too big");
  g_assert_cmpmem (out, n, "\x03\xf1too big", 9);

  /* Cut to 123 bytes, at a character boundary. */
  for (int i = 0; i < 100; i++)
    g_string_append (long_reason, "é");
  n = _th_ws_frame_close_payload (out, 1002, long_reason->str);
  g_assert_cmpuint (n, ==, 2 + 122);
  g_assert_true (g_utf8_validate_len ((const char *) out + 2, n - 2, NULL));
  g_string_assign (long_reason, "");
  for (int i = 0; i < 130; i++)
    g_string_append_c (long_reason, 'x');
  n = _th_ws_frame_close_payload (out, 1002, long_reason->str);
  g_assert_cmpuint (n, ==, TH_WS_CONTROL_MAX);
}

/* -m perf: what parsing costs per frame of a ticker's size. */
static void
test_parse_speed (void)
{
  const guint n_frames = 1000000;
  g_autofree guint8 *payload = pattern (300);
  g_autoptr(GByteArray) input = g_byte_array_new ();
  g_autoptr(GTimer) timer = g_timer_new ();
  ThWsParser parser;
  guint64 messages = 0;

  if (!g_test_perf ())
    {
      g_test_skip ("a timing: run with -m perf");
      return;
    }
  /* 64 KB of frames, parsed again and again, as one read would bring them. */
  while (input->len < 64 * 1024)
    append_frame (input, TH_WS_OP_TEXT, TRUE, payload, 300, FALSE);
  _th_ws_parser_init (&parser, TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE, 1 << 20);
  g_timer_start (timer);
  while (messages < n_frames)
    {
      gsize pos = 0;

      for (;;)
        {
          ThWsFrame frame;
          gsize used;

          if (_th_ws_parser_next (&parser, input->data + pos, input->len - pos, &used, &frame) != TH_WS_PARSE_MESSAGE)
            break;
          pos += used;
          messages++;
        }
      g_assert_cmpuint (pos, ==, input->len);
    }
  g_test_minimized_result (g_timer_elapsed (timer, NULL) * 1e9 / messages,
                           "parse: %.1f ns per 300-byte frame",
                           g_timer_elapsed (timer, NULL) * 1e9 / messages);
  _th_ws_parser_clear (&parser);
}

/* RFC 6455 §5.5.1, §7.4: what a close frame is answered with. */
static void
test_close_reply (void)
{
  static const struct { const char *payload; gsize length; gushort reply; } cases[] = {
    { "", 0, 1000 },
    { "\x03", 1, 1002 },                     /* a one-byte body */
    { "\x03\xe8", 2, 1000 },
    { "\x03\xe9" "bye", 5, 1001 },
    { "\x03\xeb", 2, 1003 },
    { "\x03\xec", 2, 1002 },                 /* 1004: reserved */
    { "\x03\xed", 2, 1002 },                 /* 1005: never sent */
    { "\x03\xee", 2, 1002 },                 /* 1006: never sent */
    { "\x03\xef", 2, 1007 },
    { "\x03\xf6", 2, 1014 },
    { "\x03\xf7", 2, 1002 },                 /* 1015: never sent */
    { "\x03\xe7", 2, 1002 },                 /* 999 */
    { "\x07\xd0", 2, 1002 },                 /* 2000: reserved */
    { "\x0b\xb8", 2, 3000 },
    { "\x13\x87", 2, 4999 },
    { "\x13\x88", 2, 1002 },                 /* 5000 */
    { "\x03\xe8\xff\xfe", 4, 1007 },         /* a reason that is not UTF-8 */
    { "\x03\xe8\xc3\xa9t\xc3\xa9", 7, 1000 },  /* "été" */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpuint (_th_ws_frame_close_reply ((const guint8 *) cases[i].payload, cases[i].length), ==,
                      cases[i].reply);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ws-frame/header", test_header);
  g_test_add_func ("/ws-frame/round-trip", test_round_trip);
  g_test_add_func ("/ws-frame/message-memory", test_message_memory);
  g_test_add_func ("/ws-frame/fragments", test_fragments);
  g_test_add_func ("/ws-frame/oversize-skip", test_oversize_skip);
  g_test_add_func ("/ws-frame/oversize-close", test_oversize_close);
  g_test_add_func ("/ws-frame/protocol-errors", test_protocol_errors);
  g_test_add_func ("/ws-frame/mask", test_mask);
  g_test_add_func ("/ws-frame/close-payload", test_close_payload);
  g_test_add_func ("/ws-frame/close-reply", test_close_reply);
  g_test_add_func ("/ws-frame/parse-speed", test_parse_speed);

  return g_test_run ();
}
