/* th-alerts-webhook.c: [alerts] webhook=URL, each alert POSTed as JSON
 *
 * The price_alert event's envelope, {"event":"price_alert","data":{...}},
 * one POST per alert, in order, one at a time, from a queue: the main
 * loop never waits (libsoup's async send). A failure (a connection
 * refused, a timeout, a status other than 2xx) is retried after 1 s, 2 s,
 * 4 s... up to 60 s between attempts, `webhook-retries` times, then the
 * alert is given up with a warning; past 1,000 alerts waiting the oldest
 * is dropped. Timers run on real time (network), like the feeds'.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <libsoup/soup.h>

#include "th-alerts-private.h"

#define MAX_QUEUE     1000
#define MAX_BACKOFF_S 60

struct _ThAlertsWebhook
{
  char         *url;
  guint         retries;
  SoupSession  *session;
  GQueue        queue;        /* GBytes* */
  guint         attempt;      /* of the head */
  gboolean      in_flight;
  guint         retry_id;
  GCancellable *cancellable;
  guint64       sent;
  guint64       failed;
};

static void send_next (ThAlertsWebhook *hook);

ThAlertsWebhook *
th_alerts_webhook_new (const char *url,
                       guint       retries,
                       double      timeout)
{
  ThAlertsWebhook *hook = g_new0 (ThAlertsWebhook, 1);

  hook->url = g_strdup (url);
  hook->retries = retries;
  hook->session = soup_session_new_with_options ("timeout", (guint) MAX (timeout, 1), "max-conns-per-host", 1,
                                                 NULL);
  hook->cancellable = g_cancellable_new ();
  g_queue_init (&hook->queue);
  return hook;
}

void
th_alerts_webhook_free (ThAlertsWebhook *hook)
{
  if (hook == NULL)
    return;
  g_cancellable_cancel (hook->cancellable);
  g_clear_handle_id (&hook->retry_id, g_source_remove);
  g_queue_clear_full (&hook->queue, (GDestroyNotify) g_bytes_unref);
  /* A send under way completes (cancelled) and finds the hook gone. */
  if (!hook->in_flight)
    {
      g_object_unref (hook->session);
      g_object_unref (hook->cancellable);
      g_free (hook->url);
      g_free (hook);
    }
  else
    hook->url = (g_free (hook->url), NULL);   /* freed by on_sent */
}

static gboolean
on_retry (gpointer data)
{
  ThAlertsWebhook *hook = data;

  hook->retry_id = 0;
  send_next (hook);
  return G_SOURCE_REMOVE;
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  ThAlertsWebhook *hook = data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  guint status = msg != NULL ? soup_message_get_status (msg) : 0;
  g_autofree char *why = NULL;

  hook->in_flight = FALSE;
  if (hook->url == NULL)
    {
      /* Freed meanwhile. */
      g_object_unref (hook->session);
      g_object_unref (hook->cancellable);
      g_free (hook);
      return;
    }
  if (error == NULL && SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_bytes_unref (g_queue_pop_head (&hook->queue));
      hook->attempt = 0;
      hook->sent++;
      send_next (hook);
      return;
    }

  why = error != NULL ? g_strdup (error->message) : g_strdup_printf ("HTTP %u", status);
  hook->attempt++;
  if (hook->attempt > hook->retries)
    {
      g_warning ("alerts: webhook %s: an alert given up after %u attempts (%s)", hook->url, hook->attempt, why);
      g_bytes_unref (g_queue_pop_head (&hook->queue));
      hook->attempt = 0;
      hook->failed++;
      send_next (hook);
      return;
    }
  {
    guint delay = MIN (1u << MIN (hook->attempt - 1, 6u), MAX_BACKOFF_S);

    g_message ("alerts: webhook %s: %s; retrying in %u s", hook->url, why, delay);
    hook->retry_id = g_timeout_add_seconds (delay, on_retry, hook);
  }
}

static void
send_next (ThAlertsWebhook *hook)
{
  g_autoptr(SoupMessage) msg = NULL;
  GBytes *body;

  if (hook->in_flight || hook->retry_id != 0 || (body = g_queue_peek_head (&hook->queue)) == NULL)
    return;
  msg = soup_message_new (SOUP_METHOD_POST, hook->url);
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  hook->in_flight = TRUE;
  soup_session_send_and_read_async (hook->session, msg, G_PRIORITY_DEFAULT, hook->cancellable, on_sent, hook);
}

/* Queues @event's bytes for the webhook. */
void
th_alerts_webhook_post (ThAlertsWebhook *hook,
                        GBytes          *json)
{
  if (g_queue_get_length (&hook->queue) >= MAX_QUEUE)
    {
      /* The head may be in flight: drop the next oldest. */
      GBytes *old = g_queue_pop_nth (&hook->queue, 1);

      g_clear_pointer (&old, g_bytes_unref);
      hook->failed++;
      g_warning ("alerts: webhook %s: %u alerts waiting; the oldest is dropped", hook->url, MAX_QUEUE);
    }
  g_queue_push_tail (&hook->queue, g_bytes_ref (json));
  send_next (hook);
}
