/* th-ws-frame.h: RFC 6455 framing, private to libtickhub
 *
 * One codec for both ends: the feed client (th-ws-client.c) and the
 * server sink's connections (plugins/sinks/server/th-server-ws.c). Not
 * installed, not in the GIR.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <glib.h>

#include "th-private.h"

G_BEGIN_DECLS

typedef enum
{
  TH_WS_OP_CONTINUATION = 0x0,
  TH_WS_OP_TEXT = 0x1,
  TH_WS_OP_BINARY = 0x2,
  TH_WS_OP_CLOSE = 0x8,
  TH_WS_OP_PING = 0x9,
  TH_WS_OP_PONG = 0xA,
} ThWsOpcode;

/* The longest header: 2 bytes, a 64-bit length, a mask key. Without a
 * mask key a header takes at most 10 bytes. */
#define TH_WS_FRAME_HEADER_MAX 14

/* A control frame's payload: 125 bytes at most, so a close reason 123. */
#define TH_WS_CONTROL_MAX      125

TH_PRIVATE_API
void  _th_ws_frame_mask          (guint8       *dest,
                                  const guint8 *src,
                                  gsize         length,
                                  const guint8 *mask);
TH_PRIVATE_API
gushort _th_ws_frame_close_reply (const guint8 *data,
                                  gsize         length);
TH_PRIVATE_API
gsize _th_ws_frame_close_payload (guint8       *out,
                                  gushort       code,
                                  const char   *reason);

/**
 * _th_ws_frame_write_header:
 * @out: room for %TH_WS_FRAME_HEADER_MAX bytes (10 without @mask)
 * @opcode: a #ThWsOpcode
 * @fin: whether this is the last frame of its message
 * @length: the payload's length
 * @mask: (nullable): the 4-byte mask key (a client's frames), or %NULL
 *
 * Writes a frame header with the shortest length form for @length.
 *
 * Inline: the server writes one header per recipient of every event, and
 * as a call into the library it cost 13 more instructions a frame
 * (callgrind, bench/fanout 100: 1.6 % of a delivery's).
 *
 * Returns: the header's length, 2 to 14 bytes
 */
static inline gsize
_th_ws_frame_write_header (guint8       *out,
                           guint8        opcode,
                           gboolean      fin,
                           guint64       length,
                           const guint8 *mask)
{
  gsize at = 2;

  out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  if (length < 126)
    out[1] = (guint8) length;
  else if (length <= G_MAXUINT16)
    {
      out[1] = 126;
      out[2] = (guint8) (length >> 8);
      out[3] = (guint8) length;
      at = 4;
    }
  else
    {
      out[1] = 127;
      for (int i = 0; i < 8; i++)
        out[2 + i] = (guint8) (length >> (56 - 8 * i));
      at = 10;
    }

  if (mask != NULL)
    {
      out[1] |= 0x80;
      memcpy (out + at, mask, 4);
      at += 4;
    }
  return at;
}

typedef enum
{
  /* Frames from a server (we are the client): a masked one is an error. */
  TH_WS_PARSER_FROM_SERVER = 0,
  /* Frames from a client (we are the server): each must be masked. */
  TH_WS_PARSER_FROM_CLIENT = 1 << 0,
  /* A message over max_message is skipped without being buffered and
   * reported as TH_WS_PARSE_OVERSIZE; the connection carries on (a feed
   * counts it). Without the flag it is an error with close code 1009. */
  TH_WS_PARSER_SKIP_OVERSIZE = 1 << 1,
} ThWsParserFlags;

typedef enum
{
  TH_WS_PARSE_MORE,       /* no complete frame left: keep the rest, read more */
  TH_WS_PARSE_MESSAGE,    /* a complete text or binary message */
  TH_WS_PARSE_CONTROL,    /* a close, ping or pong frame */
  TH_WS_PARSE_OVERSIZE,   /* a message over max_message is being skipped */
  TH_WS_PARSE_ERROR,      /* the peer broke the protocol: close with close_code */
} ThWsParseResult;

/* What one _th_ws_parser_next() found. */
typedef struct
{
  guint8       opcode;      /* MESSAGE: TEXT or BINARY; CONTROL: CLOSE, PING or PONG */
  guint8      *data;        /* MESSAGE, CONTROL: the payload, unmasked */
  gsize        length;
  guint64      oversize;    /* OVERSIZE: the message's length */
  gushort      close_code;  /* ERROR: 1002 (protocol) or 1009 (too big) */
  const char  *reason;      /* ERROR: what was wrong, static */
} ThWsFrame;

/* The reader of one connection's input, embedded in its owner. The
 * fields are private, except max_message, which the owner may change
 * between calls. */
typedef struct
{
  gsize        max_message;     /* bytes of payload per message */
  guint64      n_frames;        /* frame headers read so far */
  GByteArray  *message;         /* the fragments of a message so far */
  guint64      skip_bytes;      /* payload bytes still to discard */
  guint64      skipped;         /* the oversized message's length so far */
  const char  *error_reason;
  guint16      flags;           /* ThWsParserFlags */
  guint16      error_code;      /* once an error was found, for good */
  guint8       message_opcode;
  guint8       message_done : 1;  /* @message was handed out: free it next */
  guint8       skipping : 1;      /* discarding an oversized message */
} ThWsParser;

TH_PRIVATE_API
void            _th_ws_parser_init  (ThWsParser      *parser,
                                     ThWsParserFlags  flags,
                                     gsize            max_message);
TH_PRIVATE_API
void            _th_ws_parser_clear (ThWsParser      *parser);
TH_PRIVATE_API
ThWsParseResult _th_ws_parser_next  (ThWsParser      *parser,
                                     guint8          *buf,
                                     gsize            length,
                                     gsize           *used,
                                     ThWsFrame       *frame);

G_END_DECLS
