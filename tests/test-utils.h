/* test-utils.h: what the C tests share
 *
 * One static library that every C test links (libsoup's tests/test-utils
 * is the model): hubs built from config text, on a manual or the real
 * clock, and the events they emit; waiting on the main loop; temp folders
 * and files; captured log messages; indicator plugins loaded as the hub
 * loads them; local HTTP servers, and HTTP and WebSocket clients. A local
 * venue (a fake exchange) is tests/fake-ws-server.h.
 *
 * Everything that can fail fails the test, with the error's message, at
 * the helper's caller where that matters (the macros).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <math.h>
#include <string.h>

#include <libpeas/peas.h>
#include <libsoup/soup.h>

#include "th-private.h"

/* How long the waits of the tests give a local server or client. */
#define TH_TEST_WAIT_MS 10000

/* Hubs */

ThConfig    *th_test_config_new         (const char   *config_text);
char        *th_test_config_last_wins   (const char   *config_text);
ThHub       *th_test_hub_new            (const char   *config_text,
                                         ThClock      *clock);
ThHub       *th_test_hub_try_new        (const char   *config_text,
                                         ThClock      *clock,
                                         GError      **error);
GError      *th_test_hub_load_error     (const char   *config_text);
void         th_test_hub_stop           (ThHub        *hub);
void         th_test_hub_clear          (ThHub       **hub);
guint64      th_test_feed_stat          (ThHub        *hub,
                                         const char   *name);
void         th_test_push_quote         (ThHub        *hub,
                                         const char   *symbol,
                                         double        price);

/* Events */

GPtrArray   *th_test_capture_events     (ThHub        *hub);
guint        th_test_count_events       (GPtrArray    *events,
                                         const char   *name,
                                         const char   *needle);
const char  *th_test_last_event_json    (GPtrArray    *events,
                                         const char   *name);
char        *th_test_events_json        (GPtrArray    *events,
                                         const char   *name);
JsonObject  *th_test_event_data         (ThEvent      *event);
GPtrArray   *th_test_events_data        (GPtrArray    *events,
                                         const char   *name,
                                         const char   *symbol);

/* JSON */

JsonNode    *th_test_parse_json         (const char   *text);
double       th_test_json_number        (JsonObject   *object,
                                         const char   *member);
char        *th_test_nested_array       (guint         depth);

/* The main loop */

void         th_test_run_for            (guint         ms);
void         th_test_drain              (void);

/* Iterates the default main context until @cond (evaluated each time)
 * holds, or fails the test after @timeout_ms. */
#define th_test_wait_until(cond, timeout_ms) \
  G_STMT_START { \
    gint64 _th_deadline = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > _th_deadline) \
          { \
            g_autofree char *_th_msg = g_strdup_printf ("timed out after %u ms waiting for %s", \
                                                        (guint) (timeout_ms), #cond); \
            g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, _th_msg); \
          } \
        if (!g_main_context_iteration (NULL, FALSE)) \
          g_usleep (1000); \
      } \
  } G_STMT_END

/* Folders and files */

char        *th_test_make_tmp_dir       (const char   *tmpl);
gboolean     th_test_remove_tmp_dir     (const char   *path);
char        *th_test_write_file         (const char   *dir,
                                         const char   *name,
                                         const char   *contents);

/* Log messages */

GPtrArray   *th_test_capture_log        (const char   *domain);
gboolean     th_test_log_contains       (const char   *needle);

/* Checks */

/* Fails the test unless @needle is in @haystack (a NULL @haystack has
 * nothing in it), showing both. */
#define th_test_assert_contains(haystack, needle) \
  G_STMT_START { \
    const char *_th_haystack = (haystack); \
    const char *_th_needle = (needle); \
    if (_th_haystack == NULL || strstr (_th_haystack, _th_needle) == NULL) \
      { \
        g_autofree char *_th_msg = g_strdup_printf ("expected “%s” in:\n%s", _th_needle, \
                                                    _th_haystack != NULL ? _th_haystack : "(nothing)"); \
        g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, _th_msg); \
      } \
  } G_STMT_END

/* Fails the test unless a hub made of @config_text refuses it as a bad
 * config whose message has @needle in it. */
#define th_test_assert_bad_config(config_text, needle) \
  G_STMT_START { \
    g_autoptr(GError) _th_error = th_test_hub_load_error (config_text); \
    g_assert_error (_th_error, TH_ERROR, TH_ERROR_BAD_CONFIG); \
    th_test_assert_contains (_th_error->message, needle); \
  } G_STMT_END

/* Fails the test unless number @member of @object is within @epsilon of
 * @expected; a NaN @expected wants null. */
#define th_test_assert_json_number(object, member, expected, epsilon) \
  G_STMT_START { \
    double _th_value = th_test_json_number ((object), (member)); \
    double _th_expected = (expected); \
    if (isnan (_th_expected)) \
      g_assert_true (isnan (_th_value)); \
    else \
      g_assert_cmpfloat_with_epsilon (_th_value, _th_expected, (epsilon)); \
  } G_STMT_END

/* Equal, or both NaN. */
#define th_test_assert_same(got, expected) \
  G_STMT_START { \
    double _th_got = (got); \
    double _th_expected = (expected); \
    if (isnan (_th_expected)) \
      g_assert_true (isnan (_th_got)); \
    else \
      g_assert_cmpfloat (_th_got, ==, _th_expected); \
  } G_STMT_END

gboolean     th_test_same               (double        a,
                                         double        b);

/* Plugins and indicators */

PeasEngine  *th_test_plugin_engine_new  (void);
PeasEngine  *th_test_plugin_engine      (void);
ThIndicator *th_test_indicator_newv     (const char        *plugin,
                                         const char *const *args,
                                         GError           **error);
ThIndicator *th_test_indicator_new      (const char        *plugin,
                                         const char        *args,
                                         GError           **error);
void         th_test_indicator_update   (ThIndicator       *ind,
                                         const ThCandle    *candle,
                                         gboolean           commit,
                                         double            *out,
                                         guint              n_outputs);
void         th_test_feed_close_outputs (ThIndicator       *ind,
                                         double             close,
                                         gboolean           commit,
                                         double            *out,
                                         guint              n_outputs);
double       th_test_feed_close         (ThIndicator       *ind,
                                         double             close,
                                         gboolean           commit);

/* Local servers and clients (libsoup) */

SoupServer  *th_test_soup_server_new    (guint        *port);
guint16      th_test_closed_port        (void);
guint        th_test_server_port        (ThHub        *hub);
SoupSession *th_test_session_new        (void);

/* An HTTP request under way, then its answer. */
typedef struct
{
  SoupMessage *msg;
  GBytes      *bytes;       /* the body; NULL if the request failed */
  char        *body;        /* the body as a string, "" if none */
  GError      *error;       /* why it failed */
  guint        status;
  gboolean     done;
} ThTestHttp;

ThTestHttp  *th_test_http_start         (SoupSession  *session,
                                         SoupMessage  *msg);
ThTestHttp  *th_test_http_send          (SoupSession  *session,
                                         SoupMessage  *msg);
void         th_test_http_free          (ThTestHttp   *http);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThTestHttp, th_test_http_free)

/* A WebSocket client: the handshake, then what the server sends. */
typedef struct
{
  SoupWebsocketConnection *conn;
  GQueue                   messages;    /* char*: the text frames not looked at yet */
  GQueue                   times;       /* gint64*: when each came, monotonic µs */
  guint                    status;      /* of the handshake */
  GError                  *error;       /* why the handshake failed */
  gboolean                 done;        /* the handshake is over */
  gboolean                 closed;
  gushort                  close_code;
} ThTestWs;

ThTestWs    *th_test_ws_connect         (SoupSession  *session,
                                         SoupMessage  *msg,
                                         const char   *origin);
gboolean     th_test_ws_has_message     (ThTestWs     *ws);
void         th_test_ws_send            (ThTestWs     *ws,
                                         const char   *text);
void         th_test_ws_free            (ThTestWs     *ws);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ThTestWs, th_test_ws_free)
