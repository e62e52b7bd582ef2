/* th-fuzz.h: what the libFuzzer targets share
 *
 * Each target (fuzz/fuzz-*.c) feeds one input to the code the daemon runs
 * for that kind of input: venue frames through the real feed plugins
 * loaded by a hub (th_ws_feed_inject(), the path of a live frame), server
 * code from the server plugin the hub loaded, HTTP and WebSocket requests
 * over loopback sockets to a server started in the same process. Nothing
 * is mocked but the far end of a socket.
 *
 * Findings: a crash, a sanitizer report, a leak, a g_critical() or
 * g_error() (bad input must never reach one: docs/ARCHITECTURE.md), a
 * broken invariant checked by th_fuzz_check(), or a request the server
 * never answers.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "th-private.h"

G_BEGIN_DECLS

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Fails the run (abort(), which libFuzzer reports as a crash) with a
 * message when @cond is false. */
#define th_fuzz_check(cond, ...) \
  G_STMT_START { \
    if (G_UNLIKELY (!(cond))) \
      th_fuzz_fail (__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } G_STMT_END

G_NORETURN G_GNUC_PRINTF (4, 5)
void      th_fuzz_fail             (const char  *file,
                                    int          line,
                                    const char  *cond,
                                    const char  *format,
                                    ...);

/* Environment (the build tree's plugins and data, no user config) and
 * logging (criticals and errors abort, the rest is dropped unless
 * TH_FUZZ_VERBOSE is set). Call first. */
void      th_fuzz_init             (void);

/* The fixed start of the manual clock: 2024-01-01T00:00:00Z. */
#define TH_FUZZ_EPOCH G_GINT64_CONSTANT (1704067200000000)

/* A hub made of @config_text on a manual clock, loaded and started;
 * aborts with the problems when the config is refused. */
ThHub    *th_fuzz_hub_new          (const char  *config_text);
ThManualClock *th_fuzz_hub_clock   (ThHub       *hub);
gpointer  th_fuzz_hub_first_feed   (ThHub       *hub);
gpointer  th_fuzz_hub_first_sink   (ThHub       *hub);
ThHub    *th_fuzz_server_hub_new   (const char  *server_config,
                                    guint16     *port);

/* A function of the server plugin the hub loaded (its exported symbols:
 * the plugin is linked with default visibility), as the daemon has it. */
gpointer  th_fuzz_server_symbol    (const char  *name);
#define TH_FUZZ_SERVER_FUNC(name) ((__typeof__ (name) *) th_fuzz_server_symbol (#name))

/* Iterates the default main context without blocking until it has nothing
 * ready. */
void      th_fuzz_drain            (void);

/* A loopback TCP client of a server in this process: every wait iterates
 * the default main context, so the server runs while we wait. A wait that
 * lasts over TH_FUZZ_HANG_SECONDS fails the run (a hang). */
#define TH_FUZZ_HANG_SECONDS 10

typedef struct _ThFuzzConn ThFuzzConn;

ThFuzzConn *th_fuzz_conn_new       (guint16      port);
void      th_fuzz_conn_free        (ThFuzzConn  *conn);
gboolean  th_fuzz_conn_send        (ThFuzzConn  *conn,
                                    const void  *data,
                                    gsize        length);
/* One HTTP/1.1 response (to a HEAD request: no body whatever the headers
 * say): FALSE when the connection ended first. @status,
 * @body: the response's; @keep_alive: whether the connection stays open. */
gboolean  th_fuzz_conn_read_http   (ThFuzzConn  *conn,
                                    gboolean     head,
                                    guint       *status,
                                    GByteArray  *body,
                                    gboolean    *keep_alive);
/* WebSocket, after a 101: one text, binary or control frame from the
 * server (FALSE when the connection ended or broke the protocol), and a
 * masked frame to it. */
gboolean  th_fuzz_conn_read_ws     (ThFuzzConn  *conn,
                                    guint8      *opcode,
                                    GByteArray  *payload);
gboolean  th_fuzz_conn_send_ws     (ThFuzzConn  *conn,
                                    guint8       opcode,
                                    const void  *data,
                                    gsize        length);
/* Two masked text frames in one write. */
gboolean  th_fuzz_conn_send_ws2    (ThFuzzConn  *conn,
                                    const void  *first,
                                    gsize        first_length,
                                    const void  *second,
                                    gsize        second_length);
/* The opening handshake for @path; FALSE unless the server answered 101. */
gboolean  th_fuzz_conn_ws_handshake (ThFuzzConn *conn,
                                    const char  *path);

G_END_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThFuzzConn, th_fuzz_conn_free)
