/* th-venue-rest.c: a venue's REST history requests, one at a time, within
 * its rate limits
 *
 * Requests wait in a queue and go one at a time, at most `burst` at once
 * then one every `min_gap` (a token bucket), on the hub's clock (so a
 * ThManualClock drives them in tests). An answer
 * 429 (or Binance's 418) pauses the queue for its Retry-After (seconds or
 * an HTTP date; 60 s without one) and sends the same request again then:
 * never earlier, so a venue that asks us to wait is not hammered. A wait
 * longer than `max_wait` fails the request instead (the hub asks the next
 * venue), as does a third refusal in a row. Other HTTP errors fail at once
 * with the venue's message. A plugin that watches a weight header
 * (Binance's X-MBX-USED-WEIGHT-1M) pauses the queue itself with
 * th_venue_rest_pause_until().
 *
 * Nothing blocks: SoupSession's asynchronous send; th_venue_rest_shutdown()
 * cancels what is queued and in flight.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "th-venue-rest.h"

#ifndef TH_USER_AGENT
#define TH_USER_AGENT "tickhub/0.1"
#endif

#define DEFAULT_RETRY_AFTER  60     /* s */
#define MAX_REFUSALS         3
#define MAX_BODY_IN_ERROR    200

struct _ThVenueRest
{
  gatomicrefcount ref;
  char         *name;
  ThClock      *clock;
  SoupSession  *session;
  gint64        min_gap;
  guint         burst;
  double        tokens;         /* requests that may go now */
  gint64        refilled;       /* when tokens was last topped up */
  gint64        max_wait;
  gint64        next_at;        /* no request before (the clock's time) */
  GQueue        queue;          /* GTask* */
  GTask        *current;        /* in flight */
  guint         deadline;       /* the next send, on the clock */
  GCancellable *cancellable;    /* shutdown */
  char         *header_name;    /* sent with every request (an API key) */
  char         *header_value;
  ThVenueRestHeaders headers_func;
  gpointer      headers_data;
  guint64       requests;
  guint64       limited;
};

typedef struct
{
  char    *url;
  guint    refusals;
  guint    status;
  GSource *cancelled;   /* while queued: takes the task out when cancelled */
} Request;

static void send_next (ThVenueRest *rest);
static void watch     (ThVenueRest *rest,
                       GTask       *task);

static void
request_unwatch (Request *r)
{
  if (r->cancelled != NULL)
    {
      g_source_destroy (r->cancelled);
      g_clear_pointer (&r->cancelled, g_source_unref);
    }
}

static void
request_free (Request *r)
{
  request_unwatch (r);
  g_free (r->url);
  g_free (r);
}

ThVenueRest *
th_venue_rest_new (const char *name,
                   ThClock    *clock,
                   gint64      min_gap,
                   guint       burst,
                   gint64      max_wait)
{
  ThVenueRest *rest = g_new0 (ThVenueRest, 1);

  rest->burst = MAX (burst, 1);
  rest->tokens = rest->burst;
  rest->refilled = th_clock_get_time (clock);
  g_atomic_ref_count_init (&rest->ref);
  rest->name = g_strdup (name);
  rest->clock = g_object_ref (clock);
  rest->min_gap = min_gap;
  rest->max_wait = max_wait;
  rest->session = soup_session_new_with_options ("user-agent", TH_USER_AGENT, "timeout", 30, NULL);
  rest->cancellable = g_cancellable_new ();
  g_queue_init (&rest->queue);
  return rest;
}

ThVenueRest *
th_venue_rest_ref (ThVenueRest *rest)
{
  g_atomic_ref_count_inc (&rest->ref);
  return rest;
}

void
th_venue_rest_shutdown (ThVenueRest *rest)
{
  GTask *task;

  g_cancellable_cancel (rest->cancellable);
  if (rest->session != NULL)
    soup_session_abort (rest->session);
  if (rest->deadline != 0)
    {
      th_clock_remove_deadline (rest->clock, rest->deadline);
      rest->deadline = 0;
    }
  while ((task = g_queue_pop_head (&rest->queue)) != NULL)
    {
      request_unwatch (g_task_get_task_data (task));
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: stopped", rest->name);
      g_object_unref (task);
    }
}

void
th_venue_rest_unref (ThVenueRest *rest)
{
  if (!g_atomic_ref_count_dec (&rest->ref))
    return;
  th_venue_rest_shutdown (rest);
  g_clear_object (&rest->session);
  g_clear_object (&rest->clock);
  g_clear_object (&rest->cancellable);
  g_free (rest->name);
  g_free (rest->header_name);
  g_free (rest->header_value);
  g_free (rest);
}

void
th_venue_rest_set_timeout (ThVenueRest *rest,
                           guint        seconds)
{
  g_object_set (rest->session, "timeout", seconds, NULL);
}

void
th_venue_rest_set_headers_func (ThVenueRest        *rest,
                                ThVenueRestHeaders  func,
                                gpointer            user_data)
{
  rest->headers_func = func;
  rest->headers_data = user_data;
}

void
th_venue_rest_set_header (ThVenueRest *rest,
                          const char  *name,
                          const char  *value)
{
  g_free (rest->header_name);
  g_free (rest->header_value);
  rest->header_name = g_strdup (name);
  rest->header_value = g_strdup (value);
}

void
th_venue_rest_pause_until (ThVenueRest *rest,
                           gint64       time)
{
  rest->next_at = MAX (rest->next_at, time);
}

guint64
th_venue_rest_get_requests (ThVenueRest *rest)
{
  return rest->requests;
}

guint64
th_venue_rest_get_limited (ThVenueRest *rest)
{
  return rest->limited;
}

/* Retry-After: delay-seconds or an HTTP date; -1 when absent or bad. */
static gint64
retry_after (ThVenueRest *rest,
             SoupMessage *msg)
{
  const char *value = soup_message_headers_get_one (soup_message_get_response_headers (msg), "Retry-After");
  g_autofree char *text = value != NULL ? g_strstrip (g_strdup (value)) : NULL;
  guint64 n;

  if (text == NULL || text[0] == '\0')
    return -1;
  if (g_ascii_isdigit (text[0]) && g_ascii_string_to_unsigned (text, 10, 0, 86400 * 7, &n, NULL))
    return (gint64) n;
  {
    g_autoptr(GDateTime) date = soup_date_time_new_from_http_string (text);
    g_autoptr(GDateTime) now = NULL;

    if (date == NULL)
      return -1;
    now = g_date_time_new_from_unix_utc (th_clock_get_time (rest->clock) / G_USEC_PER_SEC);
    return MAX (g_date_time_difference (date, now) / G_USEC_PER_SEC, 0);
  }
}

static void schedule (ThVenueRest *rest);

static gboolean
on_due (gpointer data)
{
  ThVenueRest *rest = data;

  rest->deadline = 0;
  schedule (rest);
  return G_SOURCE_REMOVE;
}

static void
schedule (ThVenueRest *rest)
{
  gint64 now = th_clock_get_time (rest->clock);
  gint64 at = rest->next_at;

  if (rest->current != NULL || rest->deadline != 0 || g_queue_is_empty (&rest->queue))
    return;
  if (rest->min_gap > 0)
    {
      if (now > rest->refilled)
        rest->tokens = MIN ((double) rest->burst, rest->tokens + (double) (now - rest->refilled) / rest->min_gap);
      rest->refilled = MAX (rest->refilled, now);
      if (rest->tokens < 1)
        at = MAX (at, now + (gint64) ((1 - rest->tokens) * rest->min_gap) + 1);
    }
  if (now >= at)
    {
      if (rest->min_gap > 0)
        rest->tokens -= 1;
      send_next (rest);
    }
  else
    rest->deadline = th_clock_add_deadline (rest->clock, at, on_due, rest, NULL);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  ThVenueRest *rest = user_data;
  GTask *task = g_steal_pointer (&rest->current);
  Request *r = g_task_get_task_data (task);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  gint64 now = th_clock_get_time (rest->clock);
  guint status;

  if (body == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      goto next;
    }
  status = soup_message_get_status (msg);
  r->status = status;
  if (rest->headers_func != NULL)
    rest->headers_func (rest, soup_message_get_response_headers (msg), rest->headers_data);

  if (status == 429 || status == 418)
    {
      gint64 wait = retry_after (rest, msg);

      rest->limited++;
      if (wait < 0)
        wait = DEFAULT_RETRY_AFTER;
      rest->next_at = MAX (rest->next_at, now + MAX (wait, 1) * G_USEC_PER_SEC);
      if (++r->refusals >= MAX_REFUSALS || wait * G_USEC_PER_SEC > rest->max_wait)
        g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                                 "%s: rate limited (HTTP %u, Retry-After %" G_GINT64_FORMAT " s)",
                                 rest->name, status, wait);
      else
        {
          g_message ("%s: rate limited (HTTP %u); the next request in %" G_GINT64_FORMAT " s, as Retry-After says",
                     rest->name, status, wait);
          watch (rest, task);
          g_queue_push_head (&rest->queue, g_steal_pointer (&task));
        }
      goto next;
    }
  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      gsize len;
      const char *data = g_bytes_get_data (body, &len);
      g_autofree char *text = g_utf8_make_valid (data != NULL ? data : "", MIN (len, MAX_BODY_IN_ERROR));

      g_task_return_new_error (task, G_IO_ERROR, status == 400 || status == 404 ? G_IO_ERROR_NOT_FOUND
                                                                                : G_IO_ERROR_FAILED,
                               "%s: HTTP %u %s: %s", rest->name, status,
                               soup_status_get_phrase (status) != NULL ? soup_status_get_phrase (status) : "",
                               text);
      goto next;
    }
  {
    g_autoptr(JsonParser) parser = json_parser_new_immutable ();
    gsize len;
    const char *data = g_bytes_get_data (body, &len);

    if (!th_json_parser_load (parser, data != NULL ? data : "", (gssize) len, &error) ||
        json_parser_get_root (parser) == NULL)
      g_task_return_new_error (task, TH_ERROR, TH_ERROR_BAD_INPUT, "%s: the answer is not JSON%s%s", rest->name,
                               error != NULL ? ": " : "", error != NULL ? error->message : "");
    else
      g_task_return_pointer (task, json_node_copy (json_parser_get_root (parser)), (GDestroyNotify) json_node_unref);
  }

next:
  g_clear_object (&task);
  if (!g_cancellable_is_cancelled (rest->cancellable))
    schedule (rest);
  th_venue_rest_unref (rest);
}

static void
send_next (ThVenueRest *rest)
{
  GTask *task;
  Request *r;
  g_autoptr(SoupMessage) msg = NULL;

  while ((task = g_queue_pop_head (&rest->queue)) != NULL && g_task_return_error_if_cancelled (task))
    g_object_unref (task);
  if (task == NULL)
    return;
  r = g_task_get_task_data (task);
  request_unwatch (r);
  msg = soup_message_new (SOUP_METHOD_GET, r->url);
  if (msg == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: bad URL “%s”", rest->name, r->url);
      g_object_unref (task);
      schedule (rest);
      return;
    }
  soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept", "application/json");
  if (rest->header_name != NULL && rest->header_value != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (msg), rest->header_name, rest->header_value);
  rest->current = task;
  rest->requests++;
  g_debug ("%s: GET %s", rest->name, r->url);
  soup_session_send_and_read_async (rest->session, msg, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task) != NULL ? g_task_get_cancellable (task)
                                                                          : rest->cancellable, on_sent,
                                    th_venue_rest_ref (rest));
}

typedef struct
{
  ThVenueRest *rest;    /* the queue holds the task, the rest outlives it */
  GTask       *task;
} Watch;

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      data)
{
  Watch *w = data;
  GTask *task = w->task;

  if (g_queue_remove (&w->rest->queue, task))
    {
      Request *r = g_task_get_task_data (task);

      /* Its source is this one, being dispatched: forgotten, not destroyed. */
      g_clear_pointer (&r->cancelled, g_source_unref);
      g_task_return_error_if_cancelled (task);
      g_object_unref (task);
    }
  return G_SOURCE_REMOVE;
}

/* A request cancelled while it waits in the queue (a Retry-After) leaves
 * it at once: whoever waits for it is not kept waiting. */
static void
watch (ThVenueRest *rest,
       GTask       *task)
{
  Request *r = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  Watch *w;

  if (cancellable == NULL || r->cancelled != NULL)
    return;
  w = g_new0 (Watch, 1);
  w->rest = rest;
  w->task = task;
  r->cancelled = g_cancellable_source_new (cancellable);
  g_source_set_static_name (r->cancelled, "[venue] REST request cancelled");
  g_source_set_callback (r->cancelled, G_SOURCE_FUNC (on_cancelled), w, g_free);
  g_source_attach (r->cancelled, g_task_get_context (task));
}

void
th_venue_rest_get_async (ThVenueRest         *rest,
                         const char          *url,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Request *r = g_new0 (Request, 1);

  g_task_set_source_tag (task, th_venue_rest_get_async);
  g_task_set_name (task, "[venue] REST history");
  r->url = g_strdup (url);
  g_task_set_task_data (task, r, (GDestroyNotify) request_free);
  if (g_cancellable_is_cancelled (rest->cancellable))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "%s: stopped", rest->name);
      g_object_unref (task);
      return;
    }
  watch (rest, task);
  g_queue_push_tail (&rest->queue, task);
  schedule (rest);
}

JsonNode *
th_venue_rest_get_finish (ThVenueRest   *rest,
                          GAsyncResult  *result,
                          guint         *status,
                          GError       **error)
{
  Request *r = g_task_get_task_data (G_TASK (result));

  if (status != NULL)
    *status = r->status;
  return g_task_propagate_pointer (G_TASK (result), error);
}
