/* th-ws-feed.h: the base class of WebSocket exchange feeds
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <gio/gio.h>
#include "th-types.h"
#include "th-tick.h"
#include "th-hub.h"

G_BEGIN_DECLS

/**
 * ThWsFeedReject:
 * @TH_WS_FEED_REJECT_PARSE: the frame is not what the venue sends: binary,
 *   not UTF-8, not JSON, truncated, or over `max-frame`
 * @TH_WS_FEED_REJECT_UNKNOWN: well-formed, but a message type the feed
 *   does not know
 * @TH_WS_FEED_REJECT_VALUE: a known message with a wrong or absurd value
 *   (a price that is not a positive finite number, a field of the wrong type)
 *
 * Why a message was rejected; each kind is counted and logged once.
 */
typedef enum {
  TH_WS_FEED_REJECT_PARSE,
  TH_WS_FEED_REJECT_UNKNOWN,
  TH_WS_FEED_REJECT_VALUE,
} ThWsFeedReject;

/**
 * TH_WS_FEED_CONFIG_KEYS:
 *
 * What a WebSocket venue's `.plugin` file writes in its `X-Tickhub-Config`
 * to take the keys that #ThWsFeed reads for it:
 * `X-Tickhub-Config=@websocket,streams:list`. The hub replaces it with
 * th_ws_feed_get_config_spec().
 */
#define TH_WS_FEED_CONFIG_KEYS "@websocket"

#define TH_TYPE_WS_FEED (th_ws_feed_get_type ())
TH_EXPORT
G_DECLARE_DERIVABLE_TYPE (ThWsFeed, th_ws_feed, TH, WS_FEED, GObject)

/**
 * ThWsFeedClass:
 * @parent_class: the parent class
 * @name: the source name and config group, such as `binance`; set it in
 *   class_init
 * @stale_after: default seconds without a data message before the
 *   connection is called stale and replaced (the `stale-after` key)
 * @max_age: seconds after which a connection is replaced by a new one,
 *   opened before the old one closes (Binance closes connections after
 *   24 h); 0 for never
 * @max_attempts: the most connection attempts in any 5 minutes (Binance:
 *   300); 0 for no limit beyond the backoff
 * @configure: reads the subclass's own keys; chain up first
 * @build_url: the URL to connect to, from the config and the symbols; the
 *   default is the group's `url`
 * @opened: the connection is open: send the subscriptions
 * @message: one text message, valid UTF-8, NUL-terminated; parse it and
 *   call th_ws_feed_push_tick() or th_ws_feed_reject()
 * @closed: the connection is over: forget per-connection state
 * @handshake_refused: the server answered the opening handshake with HTTP
 *   @status (401, 403, 429...) instead of 101; call th_ws_feed_reconnect()
 *   with a longer delay, or th_ws_feed_disable(), to override the usual
 *   backoff; optional
 *
 * The base class does what every WebSocket venue needs: connecting to the
 * configured URL, reconnecting with exponential backoff and jitter,
 * answering pings, a watchdog for silent connections, renewing old
 * connections without a gap, counting, recording raw frames, and reporting
 * the source's state. A subclass only builds its URL or subscriptions and
 * parses messages.
 */
struct _ThWsFeedClass
{
  GObjectClass parent_class;

  const char *name;
  double      stale_after;
  double      max_age;
  guint       max_attempts;

  gboolean (*configure) (ThWsFeed    *self,
                         GError     **error);
  char    *(*build_url) (ThWsFeed    *self,
                         GError     **error);
  void     (*opened)    (ThWsFeed    *self);
  void     (*message)   (ThWsFeed    *self,
                         const char  *text,
                         gsize        length);
  void     (*closed)    (ThWsFeed    *self);
  void     (*handshake_refused) (ThWsFeed   *self,
                                 guint       status,
                                 const char *message);

  /*< private >*/
  gpointer padding[7];
};

TH_EXPORT
const char  *th_ws_feed_get_config_spec (void);
TH_EXPORT
ThHub       *th_ws_feed_get_hub       (ThWsFeed       *self);
TH_EXPORT
const char  *th_ws_feed_get_name      (ThWsFeed       *self);
TH_EXPORT
ThSourceState th_ws_feed_get_state    (ThWsFeed       *self);
TH_EXPORT
gboolean     th_ws_feed_is_open       (ThWsFeed       *self);
TH_EXPORT
void         th_ws_feed_send_text     (ThWsFeed       *self,
                                       const char     *text);
TH_EXPORT
void         th_ws_feed_push_tick     (ThWsFeed       *self,
                                       ThTick         *tick);
TH_EXPORT
void         th_ws_feed_reject        (ThWsFeed       *self,
                                       ThWsFeedReject  kind,
                                       const char     *detail);
TH_EXPORT
void         th_ws_feed_count_gap     (ThWsFeed       *self,
                                       guint64         missing,
                                       const char     *detail);
TH_EXPORT
void         th_ws_feed_set_state     (ThWsFeed       *self,
                                       ThSourceState   state,
                                       const char     *reason);
TH_EXPORT
void         th_ws_feed_reconnect     (ThWsFeed       *self,
                                       const char     *reason,
                                       double          delay);
TH_EXPORT
void         th_ws_feed_disable       (ThWsFeed       *self,
                                       const char     *reason);
TH_EXPORT
void         th_ws_feed_renew         (ThWsFeed       *self);
TH_EXPORT
void         th_ws_feed_inject        (ThWsFeed       *self,
                                       const char     *text,
                                       gssize          length,
                                       gint64          receive_time);
TH_EXPORT
gint64       th_ws_feed_get_receive_time (ThWsFeed    *self);
TH_EXPORT
void         th_ws_feed_set_connections (ThWsFeed     *self,
                                         guint         n);
TH_EXPORT
guint        th_ws_feed_get_connection (ThWsFeed      *self);
TH_EXPORT
guint        th_ws_feed_get_n_connections (ThWsFeed   *self);

G_END_DECLS
