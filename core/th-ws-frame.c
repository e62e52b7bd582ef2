/* th-ws-frame.c: RFC 6455 framing, for the feed client and the server sink
 *
 * Both ends of tickhub speak WebSocket on a plain GIO stream instead of a
 * SoupWebsocketConnection, and this is their one codec: the header writer
 * (FIN, opcode, 7/16/64-bit length, optional mask key; inline, in
 * th-ws-frame.h), masking, the close payload, and an incremental parser
 * over a byte buffer that unmasks in place, reassembles fragments, and
 * checks the protocol (reserved bits, opcodes, control frames,
 * continuations, masking) with the close code RFC 6455 gives each error.
 * What differs between the two ends is policy, given as flags: a server
 * requires masked frames, a client refuses them; a message over the size
 * limit is skipped without being buffered (the feed counts it and carries
 * on) or ends the connection with 1009 (the server).
 *
 * Why by hand: libsoup 3.2 fails the whole connection on one frame over
 * its size limit or one text frame that is not UTF-8, where an exchange
 * feed must drop the one message and go on; and it copies every outgoing
 * frame and writes each on its own, where the server shares one event's
 * bytes between all its clients and writes many frames per writev.
 * The parser is not where the time goes: a 300-byte text frame, a
 * ticker's size, parses in 5-18 ns (tests/test-ws-frame -m perf, on a
 * busy 2-core machine), next to about 11 µs to parse and normalize its
 * JSON (bench/ingest, binance 24hrTicker).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-ws-frame.h"

/**
 * _th_ws_frame_mask:
 * @dest: where the result goes; may be @src
 * @src: a payload
 * @length: its length
 * @mask: the 4-byte mask key
 *
 * Masks or unmasks (the same operation) a payload from its first byte.
 */
void
_th_ws_frame_mask (guint8       *dest,
                   const guint8 *src,
                   gsize         length,
                   const guint8 *mask)
{
  guint8 key[8];
  guint64 key64;
  gsize i = 0;

  for (int k = 0; k < 8; k++)
    key[k] = mask[k & 3];
  memcpy (&key64, key, 8);
  /* Eight bytes at a time; the offset stays a multiple of 4. */
  for (; i + 8 <= length; i += 8)
    {
      guint64 word;

      memcpy (&word, src + i, 8);
      word ^= key64;
      memcpy (dest + i, &word, 8);
    }
  for (; i < length; i++)
    dest[i] = src[i] ^ mask[i & 3];
}

/**
 * _th_ws_frame_close_payload:
 * @out: room for %TH_WS_CONTROL_MAX bytes
 * @code: the close code
 * @reason: (nullable): why, UTF-8
 *
 * Writes a close frame's payload: @code, then @reason cut to fit (123
 * bytes at most, at a character boundary).
 *
 * Returns: the payload's length
 */
gsize
_th_ws_frame_close_payload (guint8     *out,
                            gushort     code,
                            const char *reason)
{
  gsize rlen = reason != NULL ? strlen (reason) : 0;

  if (rlen > TH_WS_CONTROL_MAX - 2)
    {
      rlen = TH_WS_CONTROL_MAX - 2;
      while (rlen > 0 && ((guchar) reason[rlen] & 0xc0) == 0x80)
        rlen--;
    }
  out[0] = (guint8) (code >> 8);
  out[1] = (guint8) code;
  if (rlen > 0)
    memcpy (out + 2, reason, rlen);
  return 2 + rlen;
}

/**
 * _th_ws_frame_close_reply:
 * @data: a received close frame's payload
 * @length: its length
 *
 * The code to answer a peer's close frame with (RFC 6455 §5.5.1, §7.4):
 * 1000 for an empty payload; the peer's own code when an endpoint may
 * send it (1000-1003, 1007-1014, 3000-4999); 1002 for a one-byte payload
 * or any other code (999, 1004-1006, 1015, 5000...); 1007 for a reason
 * that is not UTF-8.
 *
 * Returns: the close code to send back
 */
gushort
_th_ws_frame_close_reply (const guint8 *data,
                          gsize         length)
{
  gushort code;

  if (length == 0)
    return 1000;
  if (length == 1)
    return 1002;
  code = (gushort) ((data[0] << 8) | data[1]);
  if (!((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)))
    return 1002;
  if (!g_utf8_validate_len ((const char *) data + 2, length - 2, NULL))
    return 1007;
  return code;
}

/* The parser */

/**
 * _th_ws_parser_init:
 * @parser: a parser to set up
 * @flags: #ThWsParserFlags: which end we are, what to do with big messages
 * @max_message: the most payload bytes of one message (all its fragments)
 *
 * Sets up @parser for a connection's input; _th_ws_parser_clear() frees
 * what it holds.
 */
void
_th_ws_parser_init (ThWsParser      *parser,
                    ThWsParserFlags  flags,
                    gsize            max_message)
{
  memset (parser, 0, sizeof *parser);
  parser->flags = (guint16) flags;
  parser->max_message = max_message;
}

/**
 * _th_ws_parser_clear:
 * @parser: a parser
 *
 * Frees a message being reassembled; @parser can be set up again.
 */
void
_th_ws_parser_clear (ThWsParser *parser)
{
  g_clear_pointer (&parser->message, g_byte_array_unref);
  parser->message_done = FALSE;
}

static ThWsParseResult
parse_error (ThWsParser *parser,
             gushort     code,
             const char *reason,
             gsize       length,
             gsize      *used,
             ThWsFrame  *frame)
{
  parser->error_code = code;
  parser->error_reason = reason;
  g_clear_pointer (&parser->message, g_byte_array_unref);
  parser->message_done = FALSE;
  parser->skipping = FALSE;
  parser->skip_bytes = 0;
  frame->close_code = code;
  frame->reason = reason;
  /* Nothing after an error is read. */
  *used = length;
  return TH_WS_PARSE_ERROR;
}

/**
 * _th_ws_parser_next:
 * @parser: a parser
 * @buf: the input not consumed yet (payloads are unmasked in place)
 * @length: its length
 * @used: (out): how many bytes of @buf were consumed
 * @frame: (out caller-allocates): what was found
 *
 * Reads frames from @buf up to the first thing for the caller: a complete
 * message, a control frame, an oversized message being skipped (with
 * %TH_WS_PARSER_SKIP_OVERSIZE; its payload is skipped by the next calls,
 * as it comes), a protocol error (for good: every later call returns it
 * again), or the end of what @buf holds complete (%TH_WS_PARSE_MORE). The
 * caller drops the first *@used bytes of its input either way, keeps the
 * rest and calls again; after %TH_WS_PARSE_MORE, once more bytes came.
 *
 * A message's @frame->data points into @buf when it came in one frame,
 * and into the parser when it was reassembled (then a NUL follows it); it
 * is valid until the next call. Text is not checked for UTF-8 here.
 *
 * Returns: a #ThWsParseResult
 */
ThWsParseResult
_th_ws_parser_next (ThWsParser *parser,
                    guint8     *buf,
                    gsize       length,
                    gsize      *used,
                    ThWsFrame  *frame)
{
  gboolean from_client = (parser->flags & TH_WS_PARSER_FROM_CLIENT) != 0;
  /* A GByteArray holds up to 4 GiB. */
  guint64 max = MIN (parser->max_message, G_MAXUINT32 - 1);
  gsize pos = 0;

  memset (frame, 0, sizeof *frame);
  if (parser->message_done)
    {
      g_clear_pointer (&parser->message, g_byte_array_unref);
      parser->message_done = FALSE;
    }
  if (parser->error_code != 0)
    return parse_error (parser, parser->error_code, parser->error_reason, length, used, frame);

  for (;;)
    {
      guint8 *h = buf + pos;
      gsize avail = length - pos;
      gboolean fin, masked;
      guint8 opcode;
      guint64 plen;
      gsize hlen = 2;
      guint8 *payload;

      if (parser->skip_bytes > 0)
        {
          gsize n = (gsize) MIN ((guint64) avail, parser->skip_bytes);

          parser->skip_bytes -= n;
          pos += n;
          if (parser->skip_bytes > 0)
            break;
          continue;
        }

      if (avail < 2)
        break;

      fin = (h[0] & 0x80) != 0;
      opcode = h[0] & 0x0f;
      masked = (h[1] & 0x80) != 0;
      plen = h[1] & 0x7f;

      /* What the first two bytes say is checked before waiting for more. */
      if ((h[0] & 0x70) != 0)
        return parse_error (parser, 1002, "reserved bits set", length, used, frame);
      if (masked != from_client)
        return parse_error (parser, 1002, from_client ? "unmasked frame from a client" : "masked frame from a server",
                            length, used, frame);
      if (opcode >= TH_WS_OP_CLOSE)
        {
          if (opcode > TH_WS_OP_PONG)
            return parse_error (parser, 1002, "unknown control opcode", length, used, frame);
          if (!fin)
            return parse_error (parser, 1002, "fragmented control frame", length, used, frame);
          if (plen > TH_WS_CONTROL_MAX)
            return parse_error (parser, 1002, "control frame over 125 bytes", length, used, frame);
        }
      else if (opcode > TH_WS_OP_BINARY)
        return parse_error (parser, 1002, "unknown data opcode", length, used, frame);
      else if (opcode == TH_WS_OP_CONTINUATION && parser->message == NULL && !parser->skipping)
        return parse_error (parser, 1002, "continuation frame without a message", length, used, frame);
      else if (opcode != TH_WS_OP_CONTINUATION && (parser->message != NULL || parser->skipping))
        return parse_error (parser, 1002, "new message inside a fragmented one", length, used, frame);

      if (plen == 126)
        {
          if (avail < 4)
            break;
          plen = ((guint64) h[2] << 8) | h[3];
          hlen = 4;
        }
      else if (plen == 127)
        {
          if (avail < 10)
            break;
          plen = 0;
          for (int i = 0; i < 8; i++)
            plen = (plen << 8) | h[2 + i];
          hlen = 10;
          if (plen >> 63)
            return parse_error (parser, 1002, "frame length out of range", length, used, frame);
        }
      if (masked)
        hlen += 4;
      if (avail < hlen)
        break;

      if (opcode < TH_WS_OP_CLOSE &&
          (parser->skipping || plen > max ||
           (parser->message != NULL && parser->message->len + plen > max)))
        {
          if ((parser->flags & TH_WS_PARSER_SKIP_OVERSIZE) == 0)
            return parse_error (parser, 1009, "message over the size limit", length, used, frame);

          /* Skip it to its end, without buffering, as it comes. */
          if (!parser->skipping)
            {
              parser->skipping = TRUE;
              parser->skipped = parser->message != NULL ? parser->message->len : 0;
              g_clear_pointer (&parser->message, g_byte_array_unref);
            }
          parser->n_frames++;
          parser->skipped += plen;
          parser->skip_bytes = plen;
          pos += hlen;
          if (fin)
            {
              parser->skipping = FALSE;
              frame->oversize = parser->skipped;
              *used = pos;
              return TH_WS_PARSE_OVERSIZE;
            }
          continue;
        }

      if (avail - hlen < plen)
        break;
      payload = h + hlen;
      if (masked)
        _th_ws_frame_mask (payload, payload, (gsize) plen, h + hlen - 4);
      pos += hlen + (gsize) plen;
      parser->n_frames++;

      if (opcode >= TH_WS_OP_CLOSE || (fin && parser->message == NULL))
        {
          frame->opcode = opcode;
          frame->data = payload;
          frame->length = (gsize) plen;
          *used = pos;
          return opcode >= TH_WS_OP_CLOSE ? TH_WS_PARSE_CONTROL : TH_WS_PARSE_MESSAGE;
        }

      if (parser->message == NULL)
        {
          parser->message = g_byte_array_sized_new ((guint) plen + 1);
          parser->message_opcode = opcode;
        }
      g_byte_array_append (parser->message, payload, (guint) plen);
      if (fin)
        {
          g_byte_array_append (parser->message, (const guint8 *) "", 1);
          parser->message_done = TRUE;
          frame->opcode = parser->message_opcode;
          frame->data = parser->message->data;
          frame->length = parser->message->len - 1;
          *used = pos;
          return TH_WS_PARSE_MESSAGE;
        }
    }

  *used = pos;
  return TH_WS_PARSE_MORE;
}
