/* fuzz-ws-frame.c: the RFC 6455 frame parser (core/th-ws-frame.c) as each
 * of its two owners drives it
 *
 * Built twice:
 *   fuzz-ws-frame-server  frames from a client, as the server sink's
 *                         connections read them (th-server-ws.c
 *                         parse_frames: TH_WS_PARSER_FROM_CLIENT, an
 *                         oversized message is an error, 1009)
 *   fuzz-ws-frame-client  frames from a venue, as the feed client reads
 *                         them (th-ws-client.c on_read/parse_frames:
 *                         TH_WS_PARSER_FROM_SERVER | SKIP_OVERSIZE, one
 *                         spare byte past the data for deliver()'s NUL)
 *
 * The first byte of an input picks how the rest arrives: in reads of 1 to
 * 256 bytes (a small generator seeded by it), the unconsumed tail kept in
 * front of the next read, as both owners do; a close frame ends the
 * connection. Checked: what each result promises (lengths, the size
 * limit, control frames, payloads inside the buffer or the parser, an
 * error for good), and the close code each owner would answer with.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"
#include "th-ws-frame.h"

#ifdef TH_FUZZ_FROM_CLIENT
# define FLAGS TH_WS_PARSER_FROM_CLIENT
/* [server] max-message's default. */
# define MAX_MESSAGE (64 * 1024)
#else
# define FLAGS (TH_WS_PARSER_FROM_SERVER | TH_WS_PARSER_SKIP_OVERSIZE)
/* A venue's max-frame, small so that inputs reach it. */
# define MAX_MESSAGE 4096
#endif

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  return 0;
}

static gboolean
check_close_reply (const guint8 *data,
                   gsize         length)
{
  gushort code = _th_ws_frame_close_reply (data, length);
  guint8 payload[TH_WS_CONTROL_MAX];
  gsize n;

  th_fuzz_check (code == 1000 || code == 1001 || code == 1002 || code == 1003 ||
                 (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999),
                 "a close reply with code %u, which an endpoint may not send", code);
  /* The reply the owner writes: at most a control frame's payload. */
  n = _th_ws_frame_close_payload (payload, code, "a reason");
  th_fuzz_check (n >= 2 && n <= TH_WS_CONTROL_MAX, "a close payload of %zu bytes", n);
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  ThWsParser parser;
  g_autoptr(GByteArray) inbuf = g_byte_array_new ();
  guint32 seed;
  gsize at = 1;
  gboolean open = TRUE;
  gboolean failed = FALSE;

  if (size < 1)
    return 0;
  seed = data[0] * 2654435761u + 1;
  _th_ws_parser_init (&parser, FLAGS, MAX_MESSAGE);

  while (open && at < size)
    {
      gsize n, pos = 0;

      seed = seed * 1103515245u + 12345u;
      n = MIN (size - at, 1 + ((seed >> 16) & 0xff));
      /* One spare byte past the data, as th-ws-client.c keeps. */
      g_byte_array_set_size (inbuf, inbuf->len + (guint) n + 1);
      g_byte_array_set_size (inbuf, inbuf->len - 1);
      memcpy (inbuf->data + inbuf->len - n, data + at, n);
      at += n;

      while (open)
        {
          ThWsFrame frame;
          gsize used = 0;
          guint8 *buf = inbuf->data + pos;
          gsize avail = inbuf->len - pos;
          ThWsParseResult r = _th_ws_parser_next (&parser, buf, avail, &used, &frame);
          gboolean inside;

          th_fuzz_check (used <= avail, "used %zu of %zu bytes", used, avail);
          pos += used;
          inside = frame.data >= buf && frame.data + frame.length <= buf + used;

          switch (r)
            {
            case TH_WS_PARSE_MORE:
              th_fuzz_check (!failed, "MORE after an error");
              goto next_read;
            case TH_WS_PARSE_MESSAGE:
              th_fuzz_check (!failed, "a message after an error");
              th_fuzz_check (frame.opcode == TH_WS_OP_TEXT || frame.opcode == TH_WS_OP_BINARY,
                             "a message with opcode %u", frame.opcode);
              th_fuzz_check (frame.length <= MAX_MESSAGE, "a message of %zu bytes over the limit", frame.length);
              th_fuzz_check (inside || (parser.message != NULL && frame.data == parser.message->data &&
                                        frame.data[frame.length] == '\0'),
                             "a message neither in the input nor reassembled with a NUL");
              /* deliver() in th-ws-client.c borrows the byte after it. */
              {
                guint8 saved = frame.data[frame.length];

                frame.data[frame.length] = '\0';
                frame.data[frame.length] = saved;
              }
              /* The server owner checks text for UTF-8 (1007). */
              if (frame.opcode == TH_WS_OP_TEXT)
                (void) g_utf8_validate_len ((const char *) frame.data, frame.length, NULL);
              break;
            case TH_WS_PARSE_CONTROL:
              th_fuzz_check (!failed, "a control frame after an error");
              th_fuzz_check (frame.opcode == TH_WS_OP_CLOSE || frame.opcode == TH_WS_OP_PING ||
                             frame.opcode == TH_WS_OP_PONG, "a control frame with opcode %u", frame.opcode);
              th_fuzz_check (frame.length <= TH_WS_CONTROL_MAX && inside, "a control frame of %zu bytes",
                             frame.length);
              if (frame.opcode == TH_WS_OP_CLOSE)
                open = check_close_reply (frame.data, frame.length);
              break;
            case TH_WS_PARSE_OVERSIZE:
              th_fuzz_check ((FLAGS & TH_WS_PARSER_SKIP_OVERSIZE) != 0, "OVERSIZE without SKIP_OVERSIZE");
              th_fuzz_check (frame.oversize > MAX_MESSAGE, "an oversize of %" G_GUINT64_FORMAT " bytes",
                             frame.oversize);
              break;
            case TH_WS_PARSE_ERROR:
              th_fuzz_check (frame.close_code == 1002 || frame.close_code == 1009,
                             "an error with close code %u", frame.close_code);
              th_fuzz_check (frame.reason != NULL, "an error without a reason");
              th_fuzz_check (frame.close_code != 1009 || (FLAGS & TH_WS_PARSER_SKIP_OVERSIZE) == 0,
                             "1009 although oversized messages are skipped");
              th_fuzz_check (used == avail, "an error left %zu bytes unread", avail - used);
              /* For good: the next call says it again. Both owners close. */
              if (failed)
                open = FALSE;
              failed = TRUE;
              break;
            default:
              th_fuzz_fail (__FILE__, __LINE__, "result", "result %d", r);
            }
        }
    next_read:
      g_byte_array_remove_range (inbuf, 0, (guint) pos);
    }

  _th_ws_parser_clear (&parser);
  return 0;
}
