/* th-ws-feed.c: the base class of WebSocket exchange feeds
 *
 * States, as published in `source_status`:
 *   connecting  an attempt is under way, or the connection is open but has
 *               not delivered a price yet (subscribing)
 *   live        prices arrive
 *   stale       the connection went silent for `stale-after` seconds; it
 *               is replaced at once
 *   down        the connection failed or closed; the reason says when the
 *               next attempt is
 *   disabled    switched off (a missing API key, `connect=false`); no retry
 *
 * Reconnecting: 1 s, doubling up to `reconnect-max`, each delay with ±20 %
 * jitter so that many clients do not come back in step; the backoff starts
 * over once a connection has stayed up for a minute. A class may also cap
 * connection attempts per 5 minutes (Binance: 300). A subclass can ask for
 * an immediate reconnection (Binance's serverShutdown) or a long pause
 * (CoinCap's Unauthorized).
 *
 * Network timers run on real time (the main loop), not on the hub's clock:
 * sockets do not wait for a manual clock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "th-private.h"
#include "th-ws-client.h"

#define DEFAULT_MAX_FRAME       (4 * 1024 * 1024)
#define DEFAULT_RECONNECT_MAX   60.0
#define DEFAULT_CONNECT_TIMEOUT 10.0
#define BACKOFF_START           1.0
#define STABLE_AFTER            (60 * G_USEC_PER_SEC)
#define ATTEMPT_WINDOW          (G_GINT64_CONSTANT (300) * G_USEC_PER_SEC)

/* One connection of the feed; a venue that shards its streams has several
 * (th_ws_feed_set_connections()). Each reconnects, renews and is watched
 * on its own. */
typedef struct
{
  ThWsFeed      *self;
  guint          index;
  ThWsClient    *client;
  ThWsClient    *renewing;       /* the replacement, while it opens */
  gint64         connected_at;   /* monotonic, 0 when not open */
  gint64         last_data;      /* monotonic time of the last data message */
  double         backoff;
  guint          retry_id;
  guint          max_age_id;
  GHashTable    *overlap;        /* hashes of frames seen on the old connection while renewing */
  gint64         overlap_until;  /* monotonic: drop repeats of those until then */
  guint64        ticks_at_connect;
} Conn;

typedef struct
{
  ThHub         *hub;            /* not a reference: the hub owns its feeds */

  /* config */
  char          *url;
  double         stale_after;
  double         reconnect_max;
  double         connect_timeout;
  guint64        max_frame;
  gboolean       connect;
  FILE          *record;
  char          *record_path;

  /* connections */
  GPtrArray     *conns;          /* Conn*, never shrinks: n_conns are in use */
  guint          n_conns;
  Conn          *current;        /* whose URL is built or message handled */
  ThWsClient    *opening;        /* during the opened vfunc */
  gboolean       started;
  gboolean       disabled;
  guint          watchdog_id;
  GQueue         attempts;       /* monotonic times, for max_attempts */
  gint64         inject_time;    /* receive time of an injected frame */
  gint64         inject_now;     /* the clock read by th_ws_feed_inject() for it, or 0 */
  gint64         clock_now;      /* the clock read for the message being parsed, or 0 */
  guint64        duplicates;
  gint64         message_time;   /* receive time of the message being parsed */

  ThSourceState  state;
  char          *reason;

  /* counters */
  guint64        messages;
  guint64        bytes;
  guint64        rejected[3];
  gboolean       warned[3];
  guint64        oversize;
  guint64        ticks;
  guint64        gaps;
  gboolean       warned_gap;
  guint64        connects;
  guint64        reconnects;
} ThWsFeedPrivate;

enum {
  PROP_0,
  PROP_HUB,
};

static void th_ws_feed_feed_source_init (ThFeedSourceInterface *iface);

/**
 * ThWsFeed:
 *
 * The abstract base class of the WebSocket exchange feeds; it implements
 * #ThFeedSource.
 *
 * A venue plugin (binance, coinbase, coincap) subclasses it: in its
 * class_init it sets the `name` of its #ThWsFeedClass and a few limits,
 * and it builds its URL (the `build_url` vfunc) or sends its subscriptions
 * (`opened`), then parses one message at a time (`message`), handing ticks
 * to th_ws_feed_push_tick() and bad messages to th_ws_feed_reject().
 *
 * The base class owns the connection's life. It reads the keys every
 * WebSocket venue takes from the feed's group (`url`, `stale-after`,
 * `reconnect-max`, `connect-timeout`, `max-frame`, `record`, `connect`),
 * connects, reconnects with exponential backoff and jitter, replaces a
 * connection that stays silent for `stale-after` seconds, renews old
 * connections without a gap (th_ws_feed_renew()), skips frames over
 * `max-frame` bytes, records each frame with its receive time to the
 * `record` file, counts messages, rejections, gaps and reconnections for
 * th_feed_source_get_stats(), and reports the source's state to the hub.
 * With `connect=false` it does not connect at all: a replay hands it
 * recorded frames with th_ws_feed_inject(), which go through the same
 * parser as live ones.
 *
 * Network timers (backoff, watchdog, renewal) run on the main loop's real
 * time; freshness and candles run on the hub's #ThClock.
 */
G_DEFINE_ABSTRACT_TYPE_WITH_CODE (ThWsFeed, th_ws_feed, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (ThWsFeed)
                                  G_IMPLEMENT_INTERFACE (TH_TYPE_FEED_SOURCE, th_ws_feed_feed_source_init))

static void connect_now (Conn *conn);

#define CONN(priv, i) ((Conn *) g_ptr_array_index ((priv)->conns, (i)))

static const char *
feed_name (ThWsFeed *self)
{
  const char *name = TH_WS_FEED_GET_CLASS (self)->name;

  return name != NULL ? name : G_OBJECT_TYPE_NAME (self);
}

static void
drop_client (ThWsClient **client)
{
  if (*client != NULL)
    {
      th_ws_client_abort (*client);
      g_clear_object (client);
    }
}

static void
conn_stop (Conn *conn)
{
  drop_client (&conn->client);
  drop_client (&conn->renewing);
  g_clear_handle_id (&conn->retry_id, g_source_remove);
  g_clear_handle_id (&conn->max_age_id, g_source_remove);
}

static void
conn_free (gpointer data)
{
  Conn *conn = data;

  conn_stop (conn);
  g_clear_pointer (&conn->overlap, g_hash_table_unref);
  g_free (conn);
}

static void
th_ws_feed_dispose (GObject *object)
{
  ThWsFeed *self = TH_WS_FEED (object);
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  for (guint i = 0; i < priv->conns->len; i++)
    conn_stop (CONN (priv, i));
  g_clear_handle_id (&priv->watchdog_id, g_source_remove);
  if (priv->record != NULL)
    {
      fclose (priv->record);
      priv->record = NULL;
    }
  G_OBJECT_CLASS (th_ws_feed_parent_class)->dispose (object);
}

static void
th_ws_feed_finalize (GObject *object)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (TH_WS_FEED (object));

  g_clear_pointer (&priv->conns, g_ptr_array_unref);
  g_free (priv->url);
  g_free (priv->record_path);
  g_free (priv->reason);
  g_queue_clear_full (&priv->attempts, g_free);
  G_OBJECT_CLASS (th_ws_feed_parent_class)->finalize (object);
}

static void
th_ws_feed_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (TH_WS_FEED (object));

  switch (prop_id)
    {
    case PROP_HUB:
      g_value_set_object (value, priv->hub);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
th_ws_feed_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (TH_WS_FEED (object));

  switch (prop_id)
    {
    case PROP_HUB:
      priv->hub = g_value_get_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static char *
th_ws_feed_real_build_url (ThWsFeed  *self,
                           GError   **error)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  if (priv->url == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[%s] url: missing; give the venue's WebSocket URL (ws:// or wss://)", feed_name (self));
      return NULL;
    }
  return g_strdup (priv->url);
}

/**
 * th_ws_feed_get_config_spec:
 *
 * The keys the base class reads from every WebSocket feed's group, with
 * their types, in the syntax of `X-Tickhub-Config`: `url`, `stale-after`,
 * `reconnect-max`, `connect-timeout`, `max-frame`, `record` and `connect`.
 * A venue's `.plugin` file takes them all with %TH_WS_FEED_CONFIG_KEYS.
 *
 * Returns: the key spec
 */
const char *
th_ws_feed_get_config_spec (void)
{
  /* What th_ws_feed_real_configure() reads: keep the two together. */
  return "url:ws-url,stale-after:seconds,reconnect-max:seconds,connect-timeout:seconds,"
         "max-frame:uint,record:path,connect:bool";
}

static gboolean
th_ws_feed_real_configure (ThWsFeed  *self,
                           GError   **error)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  ThWsFeedClass *klass = TH_WS_FEED_GET_CLASS (self);
  ThConfig *config = th_hub_get_config (priv->hub);
  const char *group = feed_name (self);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *record = NULL;

  priv->url = th_config_get_string (config, group, "url", NULL);
  priv->stale_after = th_config_get_double (config, group, "stale-after",
                                            klass->stale_after > 0 ? klass->stale_after : 30);
  priv->reconnect_max = th_config_get_double (config, group, "reconnect-max", DEFAULT_RECONNECT_MAX);
  priv->connect_timeout = th_config_get_double (config, group, "connect-timeout", DEFAULT_CONNECT_TIMEOUT);
  priv->max_frame = (guint64) th_config_get_int (config, group, "max-frame", DEFAULT_MAX_FRAME);
  priv->connect = th_config_get_boolean (config, group, "connect", TRUE);

  if (priv->connect && priv->url == NULL)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] url: missing; give the venue's WebSocket URL (ws:// or wss://), "
                                                "or connect=false to parse recordings only", group));
  if (priv->stale_after <= 0)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] stale-after: must be more than 0 seconds", group));
  if (priv->reconnect_max < BACKOFF_START)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] reconnect-max: must be at least %g seconds", group, BACKOFF_START));
  if (priv->connect_timeout <= 0)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] connect-timeout: must be more than 0 seconds", group));
  if (priv->max_frame < 1024)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] max-frame: must be at least 1024 bytes", group));

  record = th_config_get_string (config, group, "record", NULL);
  if (record != NULL)
    {
      const char *conf = th_config_get_path (config);
      g_autofree char *dir = conf != NULL ? g_path_get_dirname (conf) : g_get_current_dir ();

      priv->record_path = g_path_is_absolute (record) ? g_strdup (record) : g_build_filename (dir, record, NULL);
      priv->record = fopen (priv->record_path, "ae");
      if (priv->record == NULL)
        g_ptr_array_add (problems, g_strdup_printf ("[%s] record: cannot open “%s”: %s; check the directory exists and is writable",
                                                    group, priv->record_path, g_strerror (errno)));
      else
        setvbuf (priv->record, NULL, _IOFBF, 64 * 1024);
    }

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }
  return TRUE;
}

static void
th_ws_feed_class_init (ThWsFeedClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_ws_feed_dispose;
  object_class->finalize = th_ws_feed_finalize;
  object_class->get_property = th_ws_feed_get_property;
  object_class->set_property = th_ws_feed_set_property;
  g_object_class_override_property (object_class, PROP_HUB, "hub");

  klass->stale_after = 30;
  klass->configure = th_ws_feed_real_configure;
  klass->build_url = th_ws_feed_real_build_url;
}

static void
th_ws_feed_init (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  Conn *conn = g_new0 (Conn, 1);

  priv->state = TH_SOURCE_STATE_CONNECTING;
  priv->connect = TRUE;
  g_queue_init (&priv->attempts);
  priv->conns = g_ptr_array_new_with_free_func (conn_free);
  conn->self = self;
  conn->backoff = BACKOFF_START;
  g_ptr_array_add (priv->conns, conn);
  priv->n_conns = 1;
}

/* State */

/**
 * th_ws_feed_set_state:
 * @self: a #ThWsFeed
 * @state: the new state
 * @reason: (nullable): a human reason
 *
 * Sets and reports the source's state, for example the reason from an
 * `error` message of the venue.
 */
void
th_ws_feed_set_state (ThWsFeed      *self,
                      ThSourceState  state,
                      const char    *reason)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_if_fail (TH_IS_WS_FEED (self));

  if (priv->state == state && g_strcmp0 (priv->reason, reason) == 0)
    return;
  priv->state = state;
  g_free (priv->reason);
  priv->reason = g_strdup (reason);
  /* Before start (say, disabled in configure) the state is kept and
   * published when the feed starts, once sinks listen. */
  if (priv->hub != NULL && priv->started)
    th_hub_report_source_status (priv->hub, feed_name (self), state, reason);
}

/**
 * th_ws_feed_get_state:
 * @self: a #ThWsFeed
 *
 * The state last set with th_ws_feed_set_state(), by the subclass or by
 * the base class as the connection comes and goes.
 *
 * Returns: the source's state; %TH_SOURCE_STATE_CONNECTING until one is set
 */
ThSourceState
th_ws_feed_get_state (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_val_if_fail (TH_IS_WS_FEED (self), TH_SOURCE_STATE_DOWN);
  return priv->state;
}

/**
 * th_ws_feed_get_hub:
 * @self: a #ThWsFeed
 *
 * The hub given in the construct-only #ThFeedSource:hub property. The feed
 * holds no reference to it: the hub owns its feeds.
 *
 * Returns: (transfer none): the hub
 */
ThHub *
th_ws_feed_get_hub (ThWsFeed *self)
{
  g_return_val_if_fail (TH_IS_WS_FEED (self), NULL);
  return _th_ws_feed_get_hub (self);
}

/* th_ws_feed_get_hub() without the type check, for the feeds' parsers,
 * whose instance is known good: the check, g_type_check_instance_is_a()
 * for a subclass, was 55 instructions a call. */
ThHub *
_th_ws_feed_get_hub (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  return priv->hub;
}

/**
 * th_ws_feed_get_name:
 * @self: a #ThWsFeed
 *
 * The name of the source: the `name` field of the #ThWsFeedClass, or the
 * type name when the class sets none. Ticks pushed without a source get
 * it.
 *
 * Returns: the source name, which is also the config group
 */
const char *
th_ws_feed_get_name (ThWsFeed *self)
{
  g_return_val_if_fail (TH_IS_WS_FEED (self), NULL);
  return feed_name (self);
}

/**
 * th_ws_feed_is_open:
 * @self: a #ThWsFeed
 *
 * Checks whether the current connection has completed its opening
 * handshake. While th_ws_feed_renew() opens a replacement, the current
 * connection is still the old one.
 *
 * Returns: whether a connection is open
 */
gboolean
th_ws_feed_is_open (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  Conn *conn;

  g_return_val_if_fail (TH_IS_WS_FEED (self), FALSE);
  conn = priv->current != NULL ? priv->current : CONN (priv, 0);
  return conn->client != NULL && conn->connected_at > 0;
}

/**
 * th_ws_feed_set_connections:
 * @self: a #ThWsFeed
 * @n: how many connections, at least 1
 *
 * For a venue that shards its streams across connections (Binance: at
 * most 1024 streams and a URL of bounded length per connection): the feed
 * keeps @n connections, each connecting, reconnecting and renewed on its
 * own. #ThWsFeedClass.build_url and #ThWsFeedClass.opened learn which one
 * they serve from th_ws_feed_get_connection(). Call it in configure, or
 * later: new connections open at once, extra ones close.
 */
void
th_ws_feed_set_connections (ThWsFeed *self,
                            guint     n)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  guint before;

  g_return_if_fail (TH_IS_WS_FEED (self));
  g_return_if_fail (n >= 1);

  before = priv->n_conns;
  while (priv->conns->len < n)
    {
      Conn *conn = g_new0 (Conn, 1);

      conn->self = self;
      conn->index = priv->conns->len;
      conn->backoff = BACKOFF_START;
      g_ptr_array_add (priv->conns, conn);
    }
  for (guint i = n; i < before; i++)
    conn_stop (CONN (priv, i));
  priv->n_conns = n;
  for (guint i = before; i < n; i++)
    connect_now (CONN (priv, i));
}

/**
 * th_ws_feed_get_connection:
 * @self: a #ThWsFeed
 *
 * Which connection the feed is busy with: the one whose URL is being
 * built, that just opened, or whose message is being parsed.
 *
 * Returns: its index, from 0; 0 outside those moments
 */
guint
th_ws_feed_get_connection (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_val_if_fail (TH_IS_WS_FEED (self), 0);
  return priv->current != NULL ? priv->current->index : 0;
}

/**
 * th_ws_feed_get_n_connections:
 * @self: a #ThWsFeed
 *
 * How many connections the feed keeps: 1 unless the venue class shards
 * its streams with th_ws_feed_set_connections().
 *
 * Returns: the number of connections
 */
guint
th_ws_feed_get_n_connections (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_val_if_fail (TH_IS_WS_FEED (self), 1);
  return priv->n_conns;
}

/* Reconnecting */

static void
on_retry (gpointer data)
{
  Conn *conn = data;

  conn->retry_id = 0;
  connect_now (conn);
}

static void
schedule_retry (Conn          *conn,
                ThSourceState  state,
                const char    *why,
                double         min_delay)
{
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autofree char *reason = NULL;
  Conn *current = priv->current;
  double delay;

  drop_client (&conn->client);
  drop_client (&conn->renewing);
  g_clear_handle_id (&conn->max_age_id, g_source_remove);
  if (TH_WS_FEED_GET_CLASS (self)->closed != NULL)
    {
      priv->current = conn;
      TH_WS_FEED_GET_CLASS (self)->closed (self);
      priv->current = current;
    }

  if (!priv->started || priv->disabled || !priv->connect || conn->index >= priv->n_conns)
    return;

  /* A connection that stayed up a while starts the backoff over. */
  if (conn->connected_at > 0 && g_get_monotonic_time () - conn->connected_at >= STABLE_AFTER)
    conn->backoff = BACKOFF_START;
  conn->connected_at = 0;

  if (min_delay == 0)
    delay = 0;
  else
    {
      delay = conn->backoff * g_random_double_range (0.8, 1.2);
      conn->backoff = MIN (conn->backoff * 2, priv->reconnect_max);
      if (min_delay > delay)
        delay = min_delay;
    }

  priv->reconnects++;
  if (priv->n_conns > 1)
    reason = g_strdup_printf ("connection %u of %u: %s; %s", conn->index + 1, priv->n_conns, why,
                              delay > 0 ? "retrying in" : "reconnecting now");
  else
    reason = g_strdup_printf ("%s; %s", why, delay > 0 ? "retrying in" : "reconnecting now");
  if (delay > 0)
    {
      char *with = g_strdup_printf ("%s %.3g s", reason, delay);

      g_free (reason);
      reason = with;
    }
  th_ws_feed_set_state (self, state, reason);

  g_clear_handle_id (&conn->retry_id, g_source_remove);
  conn->retry_id = g_timeout_add_once ((guint) (delay * 1000), on_retry, conn);
}

/**
 * th_ws_feed_reconnect:
 * @self: a #ThWsFeed
 * @reason: why, for the source's status
 * @delay: 0 to reconnect at once; a negative number for the usual
 *   backoff; otherwise the least number of seconds to wait
 *
 * Drops the connection and connects again.
 */
void
th_ws_feed_reconnect (ThWsFeed   *self,
                      const char *reason,
                      double      delay)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_if_fail (TH_IS_WS_FEED (self));
  /* From a message: that message's connection; otherwise all of them. */
  if (priv->current != NULL)
    schedule_retry (priv->current, TH_SOURCE_STATE_DOWN, reason, delay < 0 ? -1 : delay);
  else
    for (guint i = 0; i < priv->n_conns; i++)
      schedule_retry (CONN (priv, i), TH_SOURCE_STATE_DOWN, reason, delay < 0 ? -1 : delay);
}

/**
 * th_ws_feed_disable:
 * @self: a #ThWsFeed
 * @reason: why, for the source's status
 *
 * Drops the connection for good: the source is `disabled` until the
 * daemon restarts.
 */
void
th_ws_feed_disable (ThWsFeed   *self,
                    const char *reason)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_if_fail (TH_IS_WS_FEED (self));

  priv->disabled = TRUE;
  for (guint i = 0; i < priv->conns->len; i++)
    conn_stop (CONN (priv, i));
  g_clear_handle_id (&priv->watchdog_id, g_source_remove);
  th_ws_feed_set_state (self, TH_SOURCE_STATE_DISABLED, reason);
}

/* Messages */

static void
record_frame (ThWsFeed   *self,
              const char *data,
              gsize       length,
              gboolean    text)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autoptr(GString) line = g_string_sized_new (length + 64);

  g_string_append_printf (line, "{\"t\":%" G_GINT64_FORMAT ",\"source\":", priv->message_time);
  _th_json_append_string (line, feed_name (self));
  if (text)
    {
      g_string_append (line, ",\"text\":");
      _th_json_append_string (line, data);
    }
  else
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) data, length);

      g_string_append_printf (line, ",\"base64\":\"%s\"", b64);
    }
  g_string_append (line, "}\n");
  fwrite (line->str, 1, line->len, priv->record);
}

/**
 * th_ws_feed_reject:
 * @self: a #ThWsFeed
 * @kind: what was wrong
 * @detail: what exactly, for the log
 *
 * Counts a rejected message; the first of each kind is logged as a
 * warning, the others at debug level.
 */
void
th_ws_feed_reject (ThWsFeed       *self,
                   ThWsFeedReject  kind,
                   const char     *detail)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  static const char *const what[] = { "an unreadable message", "an unknown message", "a bad value" };

  g_return_if_fail (TH_IS_WS_FEED (self));
  g_return_if_fail (kind <= TH_WS_FEED_REJECT_VALUE);

  priv->rejected[kind]++;
  if (!priv->warned[kind])
    {
      priv->warned[kind] = TRUE;
      g_warning ("%s: rejected %s: %s (further ones are counted, not logged)",
                 feed_name (self), what[kind], detail);
    }
  else
    g_debug ("%s: rejected %s: %s", feed_name (self), what[kind], detail);
}

/**
 * th_ws_feed_count_gap:
 * @self: a #ThWsFeed
 * @missing: how many messages were missed
 * @detail: where, for the log
 *
 * Counts a gap in the venue's sequence numbers.
 */
void
th_ws_feed_count_gap (ThWsFeed   *self,
                      guint64     missing,
                      const char *detail)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_if_fail (TH_IS_WS_FEED (self));

  priv->gaps++;
  if (!priv->warned_gap)
    {
      priv->warned_gap = TRUE;
      g_message ("%s: sequence gap, %" G_GUINT64_FORMAT " message%s missed: %s "
                 "(further gaps are counted, not logged)",
                 feed_name (self), missing, missing == 1 ? "" : "s", detail);
    }
  else
    g_debug ("%s: sequence gap, %" G_GUINT64_FORMAT " missed: %s", feed_name (self), missing, detail);
}

/**
 * th_ws_feed_get_receive_time:
 * @self: a #ThWsFeed
 *
 * The receive time of the message being parsed: the hub's clock for a
 * live message, the recorded time for an injected one. Venues that send
 * no timestamp (CoinCap, Binance's bookTicker) use it as the exchange
 * time, so a replayed recording keeps its times.
 *
 * Returns: µs since the Unix epoch
 */
gint64
th_ws_feed_get_receive_time (ThWsFeed *self)
{
  g_return_val_if_fail (TH_IS_WS_FEED (self), 0);
  return _th_ws_feed_get_receive_time (self);
}

/* th_ws_feed_get_receive_time() without the type check (a feed's parser). */
gint64
_th_ws_feed_get_receive_time (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  if (priv->inject_time > 0)
    return priv->inject_time;
  if (priv->message_time > 0)
    return priv->message_time;
  return th_clock_get_time (_th_hub_get_clock (priv->hub));
}

/**
 * th_ws_feed_push_tick:
 * @self: a #ThWsFeed
 * @tick: a tick parsed from the current message
 *
 * Hands a tick to the hub and marks the source live.
 */
void
th_ws_feed_push_tick (ThWsFeed *self,
                      ThTick   *tick)
{
  g_return_if_fail (TH_IS_WS_FEED (self));
  g_return_if_fail (tick != NULL);

  _th_ws_feed_push_tick (self, tick);
}

/* th_ws_feed_push_tick() without the type check, for the feeds' parsers,
 * which push one or more ticks a message from a known-good instance. */
void
_th_ws_feed_push_tick (ThWsFeed *self,
                       ThTick   *tick)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  if (tick->source == NULL)
    th_tick_set_source (tick, feed_name (self));
  /* Freshness is about now, even for a replayed frame: the hub stamps the
   * receive time from its clock, read once for the message (clock_now) or
   * at each tick pushed outside a message's parse. */
  priv->ticks++;
  _th_hub_push_tick_at (priv->hub, tick, priv->clock_now);

  if (priv->state != TH_SOURCE_STATE_LIVE && priv->inject_time == 0)
    th_ws_feed_set_state (self, TH_SOURCE_STATE_LIVE, NULL);
}

/* g_utf8_validate_len(), whose answer it gives, with a fast path for the
 * plain ASCII that venues send: eight bytes at a time, none with the high
 * bit set and none zero (a NUL is not UTF-8 for g_utf8_validate_len()).
 * Anything else goes to GLib's check, from the start. It was a tenth of
 * the instructions per message (bench/ingest). */
static gboolean
text_is_utf8 (const char *data,
              gsize       length)
{
  const guint64 high = G_GUINT64_CONSTANT (0x8080808080808080);
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const unsigned char *p = (const unsigned char *) data;
  gsize i = 0;

#ifdef __SSE2__
  /* Thirty-two bytes a step: a byte's high bit, or 0xff where it is zero,
   * gathered in one mask. */
  for (; i + 32 <= length; i += 32)
    {
      __m128i a = _mm_loadu_si128 ((const __m128i *) (const void *) (p + i));
      __m128i b = _mm_loadu_si128 ((const __m128i *) (const void *) (p + i + 16));
      __m128i zero = _mm_setzero_si128 ();
      __m128i bad = _mm_or_si128 (_mm_or_si128 (a, b),
                                  _mm_or_si128 (_mm_cmpeq_epi8 (a, zero), _mm_cmpeq_epi8 (b, zero)));

      if (G_UNLIKELY (_mm_movemask_epi8 (bad) != 0))
        return g_utf8_validate_len (data, length, NULL);
    }
#endif
  for (; i + 8 <= length; i += 8)
    {
      guint64 w;

      memcpy (&w, p + i, sizeof w);
      if (G_UNLIKELY (((w | ((w - ones) & ~w)) & high) != 0))
        return g_utf8_validate_len (data, length, NULL);
    }
  for (; i < length; i++)
    if (G_UNLIKELY (p[i] == 0 || p[i] >= 0x80))
      return g_utf8_validate_len (data, length, NULL);
  return TRUE;
}

static void
handle_message (ThWsFeed   *self,
                const char *data,
                gsize       length,
                gboolean    text)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  priv->messages++;
  priv->bytes += length;
  if (priv->current != NULL)
    priv->current->last_data = g_get_monotonic_time ();
  /* One reading of the clock per message: what is recorded is what the
   * parser sees, so a replay gives the same times. */
  if (priv->inject_time > 0)
    priv->message_time = priv->inject_time;
  else
    priv->message_time = th_clock_get_time (_th_hub_get_clock (priv->hub));

  if (priv->record != NULL && priv->inject_time == 0)
    record_frame (self, data, length, text && text_is_utf8 (data, length));

  if (!text)
    {
      th_ws_feed_reject (self, TH_WS_FEED_REJECT_PARSE, "a binary frame");
      priv->message_time = 0;
      return;
    }
  if (!text_is_utf8 (data, length))
    {
      th_ws_feed_reject (self, TH_WS_FEED_REJECT_PARSE, "a text frame that is not UTF-8");
      priv->message_time = 0;
      return;
    }
  /* text_is_utf8() found no NUL in the @length bytes (nor does
   * g_utf8_validate_len() let one by): strlen (data) != length is only
   * whether the byte after them is not the NUL, read without strlen(). */
  if (data[length] != '\0')
    {
      th_ws_feed_reject (self, TH_WS_FEED_REJECT_PARSE, "a text frame with a NUL byte");
      priv->message_time = 0;
      return;
    }

  /* The same reading is the hub's now for the message's ticks (and their
   * receive time), unless the frame is replayed at a recorded time:
   * freshness is about now. */
  priv->clock_now = priv->inject_time > 0 ? priv->inject_now : priv->message_time;
  TH_WS_FEED_GET_CLASS (self)->message (self, data, length);
  priv->message_time = 0;
  priv->clock_now = 0;
}

/**
 * th_ws_feed_inject:
 * @self: a #ThWsFeed
 * @text: a frame as the venue sent it
 * @length: its length, or -1 if NUL-terminated
 * @receive_time: when it was received, µs since the Unix epoch
 *
 * Parses a recorded frame exactly as a live one, without a connection:
 * how a recording (`record=`) is replayed, and how benchmarks measure the
 * parser.
 */
void
th_ws_feed_inject (ThWsFeed   *self,
                   const char *text,
                   gssize      length,
                   gint64      receive_time)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autofree char *copy = NULL;

  g_return_if_fail (TH_IS_WS_FEED (self));
  g_return_if_fail (text != NULL);

  /* The parsers want a NUL after the frame. Nothing past @length may be
   * read to see whether there is one already: copy. */
  if (length < 0)
    length = strlen (text);
  else
    {
      copy = g_malloc ((gsize) length + 1);
      memcpy (copy, text, (gsize) length);
      copy[length] = '\0';
      text = copy;
    }

  priv->inject_now = receive_time > 0 ? 0 : th_clock_get_time (_th_hub_get_clock (priv->hub));
  priv->inject_time = receive_time > 0 ? receive_time : priv->inject_now;
  handle_message (self, text, (gsize) length, TRUE);
  priv->inject_time = 0;
  priv->inject_now = 0;
}

/* Connections */

#define OVERLAP_WINDOW   (10 * G_USEC_PER_SEC)
#define OVERLAP_MAX      8192

/* FNV-1a, 64 bits, with the length: the same frame on two connections. */
static gpointer
frame_key (const char *data,
           gsize       length)
{
  guint64 h = G_GUINT64_CONSTANT (14695981039346656037) ^ length;

  for (gsize i = 0; i < length; i++)
    {
      h ^= (guchar) data[i];
      h *= G_GUINT64_CONSTANT (1099511628211);
    }
  return GSIZE_TO_POINTER ((gsize) h);
}

/* While a renewed connection overlaps the old one, both deliver the same
 * frames: remember the old one's, drop their repeats on the new one. */
static gboolean
is_repeat (Conn       *conn,
           ThWsClient *client,
           const char *data,
           gsize       length)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (conn->self);
  gint64 now = g_get_monotonic_time ();

  if (conn->renewing != NULL && client == conn->client)
    {
      if (conn->overlap == NULL)
        conn->overlap = g_hash_table_new (g_direct_hash, g_direct_equal);
      if (g_hash_table_size (conn->overlap) < OVERLAP_MAX)
        g_hash_table_add (conn->overlap, frame_key (data, length));
      return FALSE;
    }

  if (conn->overlap == NULL)
    return FALSE;
  if (now > conn->overlap_until && conn->renewing == NULL)
    {
      g_clear_pointer (&conn->overlap, g_hash_table_unref);
      return FALSE;
    }
  if (g_hash_table_remove (conn->overlap, frame_key (data, length)))
    {
      priv->duplicates++;
      return TRUE;
    }
  return FALSE;
}

static void
on_client_message (ThWsClient         *client,
                   ThWsClientDataType  type,
                   const char         *data,
                   gsize               length,
                   gpointer            user_data)
{
  Conn *conn = user_data;
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  if (client == conn->renewing)
    {
      /* The replacement delivers: it takes over, the old one goes. */
      g_info ("%s: renewed connection takes over", feed_name (self));
      drop_client (&conn->client);
      if (TH_WS_FEED_GET_CLASS (self)->closed != NULL)
        {
          priv->current = conn;
          TH_WS_FEED_GET_CLASS (self)->closed (self);
          priv->current = NULL;
        }
      conn->client = g_steal_pointer (&conn->renewing);
      conn->connected_at = g_get_monotonic_time ();
      conn->overlap_until = conn->connected_at + OVERLAP_WINDOW;
    }
  else if (client != conn->client)
    return;

  if (is_repeat (conn, client, data, length))
    return;
  priv->current = conn;
  handle_message (self, data, length, type == TH_WS_CLIENT_TEXT);
  priv->current = NULL;
}

static void
on_client_oversize (ThWsClient *client,
                    guint64     length,
                    gpointer    user_data)
{
  Conn *conn = user_data;
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autofree char *detail = g_strdup_printf ("a message of %" G_GUINT64_FORMAT " bytes, over max-frame (%" G_GUINT64_FORMAT ")",
                                             length, priv->max_frame);

  priv->oversize++;
  priv->messages++;
  conn->last_data = g_get_monotonic_time ();
  th_ws_feed_reject (self, TH_WS_FEED_REJECT_PARSE, detail);
}

static void
on_client_closed (ThWsClient   *client,
                  gushort       code,
                  const char   *reason,
                  const GError *error,
                  gpointer      user_data)
{
  Conn *conn = user_data;
  ThWsFeed *self = conn->self;
  g_autofree char *why = NULL;

  if (client == conn->renewing)
    {
      g_message ("%s: the renewing connection closed before taking over", feed_name (self));
      drop_client (&conn->renewing);
      return;
    }
  if (client != conn->client)
    return;

  if (error != NULL)
    why = g_strdup_printf ("connection lost: %s", error->message);
  else
    why = g_strdup_printf ("closed by the server (%u%s%s)", code,
                           reason != NULL && *reason != '\0' ? " " : "", reason != NULL ? reason : "");
  /* The hub logs the state change that follows, with this reason. */
  schedule_retry (conn, TH_SOURCE_STATE_DOWN, why, -1);
}

static void renew_conn (Conn *conn);

static void
on_max_age (gpointer data)
{
  Conn *conn = data;

  conn->max_age_id = 0;
  renew_conn (conn);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Conn *conn = user_data;
  g_autoptr(ThWsFeed) self = conn->self;   /* the reference open_client() took */
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  ThWsClient *client = TH_WS_CLIENT (source);
  g_autoptr(GError) error = NULL;
  ThWsFeedClass *klass = TH_WS_FEED_GET_CLASS (self);
  gboolean ok = th_ws_client_connect_finish (client, result, &error);

  if (client != conn->client && client != conn->renewing)
    return;  /* dropped meanwhile */

  if (!ok)
    {
      g_autofree char *why = g_strdup_printf ("cannot connect: %s", error->message);

      if (client == conn->renewing)
        {
          g_message ("%s: renewing the connection failed: %s; keeping the current one", feed_name (self), error->message);
          drop_client (&conn->renewing);
          conn->max_age_id = g_timeout_add_once (60 * 1000, on_max_age, conn);
          return;
        }
      g_debug ("%s: %s", feed_name (self), why);
      if (klass->handshake_refused != NULL && th_ws_client_get_http_status (client) != 0)
        {
          /* The subclass may pause longer (a bad key) or disable. */
          priv->current = conn;
          klass->handshake_refused (self, th_ws_client_get_http_status (client), error->message);
          priv->current = NULL;
          if (priv->disabled || conn->retry_id != 0)
            return;
        }
      schedule_retry (conn, TH_SOURCE_STATE_DOWN, why, -1);
      return;
    }

  priv->connects++;
  if (client == conn->client)
    {
      conn->connected_at = g_get_monotonic_time ();
      conn->last_data = conn->connected_at;
      conn->ticks_at_connect = priv->ticks;
      th_ws_feed_set_state (self, TH_SOURCE_STATE_CONNECTING, "connected, subscribing");
    }
  if (klass->max_age > 0 && conn->max_age_id == 0)
    conn->max_age_id = g_timeout_add_once ((guint) (klass->max_age * 1000), on_max_age, conn);

  /* Subscriptions go to the connection that just opened. */
  if (klass->opened != NULL)
    {
      priv->current = conn;
      priv->opening = client;
      klass->opened (self);
      priv->opening = NULL;
      priv->current = NULL;
    }
}

/* How long to wait before another attempt is allowed, in µs. */
static gint64
attempt_delay (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  guint max = TH_WS_FEED_GET_CLASS (self)->max_attempts;
  gint64 now = g_get_monotonic_time ();

  while (!g_queue_is_empty (&priv->attempts) &&
         now - *(gint64 *) g_queue_peek_head (&priv->attempts) >= ATTEMPT_WINDOW)
    g_free (g_queue_pop_head (&priv->attempts));

  if (max == 0 || g_queue_get_length (&priv->attempts) < max)
    return 0;
  return *(gint64 *) g_queue_peek_head (&priv->attempts) + ATTEMPT_WINDOW - now;
}

static ThWsClient *
open_client (Conn     *conn,
             GError  **error)
{
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autofree char *url = NULL;
  g_autoptr(GUri) uri = NULL;
  ThWsClient *client;

  priv->current = conn;
  url = TH_WS_FEED_GET_CLASS (self)->build_url (self, error);
  priv->current = NULL;
  if (url == NULL)
    return NULL;
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, error);
  if (uri == NULL)
    return NULL;

  if (TH_WS_FEED_GET_CLASS (self)->max_attempts > 0)
    {
      gint64 *t = g_new (gint64, 1);

      *t = g_get_monotonic_time ();
      g_queue_push_tail (&priv->attempts, t);
    }

  client = th_ws_client_new (uri, priv->max_frame);
  th_ws_client_set_handlers (client, on_client_message, on_client_oversize, on_client_closed, conn);
  /* Released by on_connected(); the feed holds its connections. */
  g_object_ref (self);
  th_ws_client_connect_async (client, (guint) ceil (priv->connect_timeout), NULL, on_connected, conn);
  return client;
}

static void
connect_now (Conn *conn)
{
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autoptr(GError) error = NULL;
  gint64 wait = attempt_delay (self);

  if (!priv->started || priv->disabled || !priv->connect || conn->index >= priv->n_conns)
    return;

  if (wait > 0)
    {
      g_autofree char *why = g_strdup_printf ("connection attempts limited to %u per 5 minutes",
                                              TH_WS_FEED_GET_CLASS (self)->max_attempts);

      schedule_retry (conn, TH_SOURCE_STATE_DOWN, why, wait / 1e6);
      return;
    }

  drop_client (&conn->client);
  th_ws_feed_set_state (self, TH_SOURCE_STATE_CONNECTING, "connecting");
  conn->client = open_client (conn, &error);
  if (conn->client == NULL)
    schedule_retry (conn, TH_SOURCE_STATE_DOWN, error->message, -1);
}

/**
 * th_ws_feed_renew:
 * @self: a #ThWsFeed
 *
 * Opens a new connection and, once it delivers its first message, closes
 * the current one: no gap. Done by itself after the class's `max_age`.
 */
void
th_ws_feed_renew (ThWsFeed *self)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  g_return_if_fail (TH_IS_WS_FEED (self));

  for (guint i = 0; i < priv->n_conns; i++)
    renew_conn (CONN (priv, i));
}

static void
renew_conn (Conn *conn)
{
  ThWsFeed *self = conn->self;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);
  g_autoptr(GError) error = NULL;

  if (!priv->started || priv->disabled || conn->renewing != NULL || conn->index >= priv->n_conns)
    return;
  if (conn->client == NULL || conn->connected_at == 0)
    {
      connect_now (conn);
      return;
    }

  g_info ("%s: renewing the connection", feed_name (self));
  conn->renewing = open_client (conn, &error);
  if (conn->renewing == NULL)
    g_message ("%s: cannot renew the connection: %s", feed_name (self), error->message);
}

static gboolean
on_watchdog (gpointer data)
{
  ThWsFeed *self = data;
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  /* When every market this venue serves is closed, silence is expected,
   * not a fault (Alpaca sends nothing outside US hours). */
  if (_th_hub_venue_closed (priv->hub, feed_name (self)))
    return G_SOURCE_CONTINUE;
  for (guint i = 0; i < priv->n_conns; i++)
    {
      Conn *conn = CONN (priv, i);

      if (conn->client != NULL && conn->connected_at > 0 &&
          g_get_monotonic_time () - conn->last_data > (gint64) (priv->stale_after * G_USEC_PER_SEC))
        {
          g_autofree char *why = g_strdup_printf ("no data for %g s", priv->stale_after);
          /* A connection that never delivered a price (say, a subscription
           * the venue ignored) backs off instead of looping. */
          gboolean delivered = priv->ticks > conn->ticks_at_connect;

          g_debug ("%s: %s", feed_name (self), why);
          schedule_retry (conn, TH_SOURCE_STATE_STALE, why, delivered ? 0 : -1);
        }
    }
  return G_SOURCE_CONTINUE;
}

/**
 * th_ws_feed_send_text:
 * @self: a #ThWsFeed
 * @text: a message
 *
 * Sends a text message on the current connection (during #ThWsFeedClass.opened,
 * on the connection that just opened).
 */
void
th_ws_feed_send_text (ThWsFeed   *self,
                      const char *text)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  ThWsClient *client;

  g_return_if_fail (TH_IS_WS_FEED (self));

  client = priv->opening != NULL ? priv->opening
           : (priv->current != NULL ? priv->current : CONN (priv, 0))->client;
  if (client != NULL)
    th_ws_client_send_text (client, text, -1);
}

/* ThFeedSource */

static gboolean
th_ws_feed_configure (ThFeedSource  *source,
                      GError       **error)
{
  return TH_WS_FEED_GET_CLASS (source)->configure (TH_WS_FEED (source), error);
}

static void
th_ws_feed_start (ThFeedSource *source)
{
  ThWsFeed *self = TH_WS_FEED (source);
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  if (priv->started)
    return;
  priv->started = TRUE;

  if (priv->disabled)
    {
      th_hub_report_source_status (priv->hub, feed_name (self), priv->state, priv->reason);
      return;
    }
  if (!priv->connect)
    {
      th_ws_feed_set_state (self, TH_SOURCE_STATE_DISABLED, "connect=false: parsing recorded frames only");
      return;
    }

  priv->watchdog_id = g_timeout_add (MAX (100, (guint) (priv->stale_after * 1000 / 4)), on_watchdog, self);
  for (guint i = 0; i < priv->n_conns; i++)
    connect_now (CONN (priv, i));
}

static void
th_ws_feed_stop (ThFeedSource *source)
{
  ThWsFeed *self = TH_WS_FEED (source);
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (self);

  priv->started = FALSE;
  g_clear_handle_id (&priv->watchdog_id, g_source_remove);
  for (guint i = 0; i < priv->conns->len; i++)
    {
      Conn *conn = CONN (priv, i);

      g_clear_handle_id (&conn->retry_id, g_source_remove);
      g_clear_handle_id (&conn->max_age_id, g_source_remove);
      if (conn->client != NULL)
        {
          /* An orderly close; nothing more reaches the hub. */
          th_ws_client_set_handlers (conn->client, NULL, NULL, NULL, NULL);
          th_ws_client_close (conn->client, 1000, "tickhub stopping");
          g_clear_object (&conn->client);
        }
      drop_client (&conn->renewing);
    }
  if (priv->record != NULL)
    fflush (priv->record);
}

static GVariant *
th_ws_feed_get_stats (ThFeedSource *source)
{
  ThWsFeedPrivate *priv = th_ws_feed_get_instance_private (TH_WS_FEED (source));
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sv}"));
  g_variant_builder_add (&b, "{sv}", "messages", g_variant_new_uint64 (priv->messages));
  g_variant_builder_add (&b, "{sv}", "bytes", g_variant_new_uint64 (priv->bytes));
  g_variant_builder_add (&b, "{sv}", "parse_errors", g_variant_new_uint64 (priv->rejected[TH_WS_FEED_REJECT_PARSE]));
  g_variant_builder_add (&b, "{sv}", "unknown_messages", g_variant_new_uint64 (priv->rejected[TH_WS_FEED_REJECT_UNKNOWN]));
  g_variant_builder_add (&b, "{sv}", "bad_values", g_variant_new_uint64 (priv->rejected[TH_WS_FEED_REJECT_VALUE]));
  g_variant_builder_add (&b, "{sv}", "oversize", g_variant_new_uint64 (priv->oversize));
  g_variant_builder_add (&b, "{sv}", "ticks", g_variant_new_uint64 (priv->ticks));
  g_variant_builder_add (&b, "{sv}", "gaps", g_variant_new_uint64 (priv->gaps));
  g_variant_builder_add (&b, "{sv}", "connects", g_variant_new_uint64 (priv->connects));
  g_variant_builder_add (&b, "{sv}", "reconnects", g_variant_new_uint64 (priv->reconnects));
  g_variant_builder_add (&b, "{sv}", "duplicates", g_variant_new_uint64 (priv->duplicates));
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string (th_source_state_to_string (priv->state)));
  return g_variant_builder_end (&b);
}

static char *
th_ws_feed_source_name (ThFeedSource *source)
{
  return g_strdup (feed_name (TH_WS_FEED (source)));
}

static void
th_ws_feed_feed_source_init (ThFeedSourceInterface *iface)
{
  iface->configure = th_ws_feed_configure;
  iface->start = th_ws_feed_start;
  iface->stop = th_ws_feed_stop;
  iface->get_stats = th_ws_feed_get_stats;
  iface->get_source_name = th_ws_feed_source_name;
}
