/* th-jsonl.c: the jsonl sink, one event envelope per line
 *
 * `[jsonl] path=FILE` (or `-` for standard output) gets every event as the
 * hub serialized it, th_event_get_bytes(), followed by "\n", in the order
 * the hub emitted them. A file is appended to, and created with mode 0644.
 *
 * The main loop never writes. consume() takes a reference on the event's
 * bytes and appends it to a queue; a writer thread swaps the whole queue
 * out and writes it with writev(), hundreds of lines per call, without
 * copying them. The backlog (queued plus being written) is bounded by
 * `max-queue` events: past it, new events are dropped and counted, with one
 * warning per episode. A reader that stops reading costs memory up to that
 * bound and never stalls the hub.
 *
 * Where a write can block (a FIFO, a pipe on standard output, a socket)
 * the writer has a non-blocking descriptor of its own and waits in poll(),
 * so stop can always end it: flush waits for the reader, stop does not.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib-unix.h>
#include <libpeas/peas.h>
#include <tickhub.h>

#include "th-flush-waiters.h"

#define DEFAULT_MAX_QUEUE 100000
/* Events per writev(): two iovecs each (the line and its "\n") and one for
 * the "\n" that ends a line cut short by an earlier error. */
#define CHUNK_EVENTS      ((IOV_MAX - 1) / 2)

static const char *const known_events[] = {
  "financial_data_update",
  "technical_indicators_update",
  "candle_update",
  "source_status",
  "price_source_changed",
  "system_status_update",
  "price_alert",
  "error",
  NULL
};

#define TH_TYPE_JSONL (th_jsonl_get_type ())
G_DECLARE_FINAL_TYPE (ThJsonl, th_jsonl, TH, JSONL, GObject)

struct _ThJsonl
{
  GObject     parent_instance;
  ThHub      *hub;            /* not a reference: the hub owns its sinks */

  /* Set by configure; the writer only reads them. */
  char       *display;        /* “/path/file.jsonl” or "standard output" */
  int         fd;
  int         wake[2];        /* written by stop to end a wait in poll() */
  gboolean    is_socket;      /* written with send (MSG_DONTWAIT | MSG_NOSIGNAL) */
  gboolean    is_stdout;      /* path=- */
  gboolean    is_regular;
  gboolean    do_fsync;
  guint64     max_queue;
  GHashTable *events;         /* names to write; NULL for all */

  /* Main thread only. */
  GThread    *thread;
  gboolean    stopped;
  gboolean    dropping;
  guint64     dropped;

  /* Shared with the writer, under lock. */
  GMutex      lock;
  GCond       cond;
  GPtrArray  *incoming;       /* GBytes*: consumed, not yet taken by the writer */
  guint64     consumed;       /* events queued since the start */
  guint64     written;        /* events the writer is done with, written or not */
  guint64     lost;           /* ... that a write error lost */
  guint64     unwritten;      /* ... left unwritten at stop: the reader did not read */
  guint64     lost_reported;  /* lost + unwritten already reported by a flush */
  char       *last_error;
  ThFlushWaiters flushes;
  gboolean    writer_idle;
  gint        quit;           /* also read without the lock, atomically */

  /* Writer thread only. */
  GPtrArray  *outgoing;
  guint64     synced;         /* events written when fsync() last ran */
  gboolean    failing;
  gboolean    need_newline;   /* an error cut a line short: end it first */
};

static void th_jsonl_sink_init (ThSinkInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThJsonl, th_jsonl, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_jsonl_sink_init))

static void stop_writer          (ThJsonl             *self);
static void th_jsonl_flush_async (ThSink              *sink,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);

/* Flushes */

static GError *
take_flush_error (ThJsonl *self)
{
  guint64 missing = self->lost + self->unwritten;
  guint64 count = missing - self->lost_reported;

  if (count == 0)
    return NULL;

  self->lost_reported = missing;
  return g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                      "jsonl: %" G_GUINT64_FORMAT " event%s could not be written to %s: %s",
                      count, count == 1 ? "" : "s", self->display,
                      self->last_error != NULL ? self->last_error : "unknown error");
}

/* In the writer, with the lock held: hands every flush whose events are all
 * written back to its context. With @all, every flush, due or not. */
static void
complete_flushes (ThJsonl  *self,
                  gboolean  all)
{
  g_autoptr(GError) error = NULL;
  guint64 upto = self->written;

  if (!all && !th_flush_waiters_any_due (&self->flushes, upto, FALSE))
    return;

  if (self->do_fsync && self->is_regular && self->synced < upto)
    {
      int r;

      /* Never with the lock held: consume() takes it on the main thread. */
      g_mutex_unlock (&self->lock);
      do
        r = fsync (self->fd);
      while (r < 0 && errno == EINTR);
      g_mutex_lock (&self->lock);

      self->synced = upto;
      if (r < 0)
        {
          int saved_errno = errno;

          error = g_error_new (G_IO_ERROR, g_io_error_from_errno (saved_errno),
                               "jsonl: cannot sync %s: %s", self->display, g_strerror (saved_errno));
        }
    }

  if (error == NULL)
    error = take_flush_error (self);
  th_flush_waiters_complete (&self->flushes, upto, all, error);
}

/* The writer thread */

static ssize_t
write_iov (ThJsonl            *self,
           const struct iovec *iov,
           int                 n)
{
  if (self->is_socket)
    {
      struct msghdr msg = { 0 };

      msg.msg_iov = (struct iovec *) iov;
      msg.msg_iovlen = n;
      return sendmsg (self->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
  return writev (self->fd, iov, n);
}

/* Waits until the output takes more. FALSE once the sink is stopping: stop
 * does not wait for a reader that does not read. */
static gboolean
wait_writable (ThJsonl *self)
{
  struct pollfd fds[2] = {
    { .fd = self->fd, .events = POLLOUT },
    { .fd = self->wake[0], .events = POLLIN },
  };

  while (!g_atomic_int_get (&self->quit))
    {
      if (poll (fds, G_N_ELEMENTS (fds), -1) < 0)
        {
          if (errno == EINTR)
            continue;
          g_usleep (10 * 1000);  /* out of memory, say: try the write again */
          return TRUE;
        }
      if (fds[0].revents != 0)
        return TRUE;  /* writable, or an error the write will tell */
    }
  return FALSE;
}

/* Writes @n lines; returns how many were not written in full. */
static guint
write_lines (ThJsonl  *self,
             GBytes  **lines,
             guint     n,
             int      *error_code)
{
  struct iovec iov[2 * CHUNK_EVENTS + 1];
  struct iovec *v = iov;
  guint first;
  guint left = 0;
  guint complete;
  gboolean partial = FALSE;
  ptrdiff_t at;

  *error_code = 0;

  if (self->need_newline)
    iov[left++] = (struct iovec) { (void *) "\n", 1 };
  first = left;
  for (guint i = 0; i < n; i++)
    {
      gsize len;
      gconstpointer data = g_bytes_get_data (lines[i], &len);

      iov[left++] = (struct iovec) { (void *) data, len };
      iov[left++] = (struct iovec) { (void *) "\n", 1 };
    }

  while (left > 0)
    {
      ssize_t r = write_iov (self, v, (int) MIN (left, IOV_MAX));

      if (r < 0)
        {
          if (errno == EINTR)
            continue;
          if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable (self))
            continue;
          *error_code = errno == EWOULDBLOCK ? EAGAIN : errno;
          break;
        }

      while (left > 0 && (size_t) r >= v->iov_len)
        {
          r -= v->iov_len;
          v++;
          left--;
          partial = FALSE;
        }
      if (r > 0)
        {
          v->iov_base = (char *) v->iov_base + r;
          v->iov_len -= r;
          partial = TRUE;
        }
    }

  if (left == 0)
    {
      self->need_newline = FALSE;
      return 0;
    }

  /* Event i is iov[first + 2i] and its "\n" iov[first + 2i + 1]. */
  at = v - iov;
  complete = at > (ptrdiff_t) first ? (guint) (at - first) / 2 : 0;
  self->need_newline = at < (ptrdiff_t) first || (at - first) % 2 == 1 || partial;
  return n - complete;
}

/* In the writer, without the lock: logs the start and the end of a run of
 * write errors, once each. */
static void
report_write_result (ThJsonl *self,
                     guint    missing,
                     int      error_code)
{
  if (missing == 0)
    {
      if (self->failing)
        {
          self->failing = FALSE;
          g_message ("jsonl: writing to %s again", self->display);
        }
      return;
    }

  /* EAGAIN: stopping, and the reader is not reading; reported at stop. */
  if (error_code == EAGAIN)
    return;

  if (!self->failing)
    {
      self->failing = TRUE;
      g_warning ("jsonl: cannot write to %s: %s; events are lost until it works again",
                 self->display, g_strerror (error_code));
    }

  if (error_code == EPIPE)
    {
      /* The SIGPIPE this thread got, blocked and pending: take it. */
      static const struct timespec no_wait = { 0, 0 };
      sigset_t set;

      sigemptyset (&set);
      sigaddset (&set, SIGPIPE);
      sigtimedwait (&set, NULL, &no_wait);
    }
}

/* In the writer, with the lock held. */
static void
count_write_result (ThJsonl *self,
                    guint    done,
                    guint    missing,
                    int      error_code)
{
  self->written += done;
  if (missing == 0)
    return;

  if (error_code == EAGAIN)
    {
      self->unwritten += missing;
      return;
    }

  self->lost += missing;
  g_free (self->last_error);
  self->last_error = g_strdup (g_strerror (error_code));
}

static gpointer
writer_thread (gpointer data)
{
  ThJsonl *self = data;
  sigset_t set;

  /* A write to a pipe whose reader is gone raises SIGPIPE in the thread
   * that writes. Blocked in this thread only, it becomes EPIPE, whatever
   * the process does with the signal. */
  sigemptyset (&set);
  sigaddset (&set, SIGPIPE);
  pthread_sigmask (SIG_BLOCK, &set, NULL);

  g_mutex_lock (&self->lock);
  for (;;)
    {
      GPtrArray *batch;

      complete_flushes (self, FALSE);

      if (self->incoming->len == 0)
        {
          if (self->quit)
            break;
          self->writer_idle = TRUE;
          g_cond_wait (&self->cond, &self->lock);
          self->writer_idle = FALSE;
          continue;
        }

      batch = self->incoming;
      self->incoming = self->outgoing;
      self->outgoing = batch;
      g_mutex_unlock (&self->lock);

      for (guint i = 0; i < batch->len; i += CHUNK_EVENTS)
        {
          GBytes **lines = (GBytes **) batch->pdata + i;
          guint n = MIN (CHUNK_EVENTS, batch->len - i);
          int error_code;
          guint missing = write_lines (self, lines, n, &error_code);

          for (guint j = 0; j < n; j++)
            g_clear_pointer (&lines[j], g_bytes_unref);
          report_write_result (self, missing, error_code);

          g_mutex_lock (&self->lock);
          count_write_result (self, n, missing, error_code);
          if (i + n < batch->len)
            {
              complete_flushes (self, FALSE);
              g_mutex_unlock (&self->lock);
            }
        }
      g_ptr_array_set_size (batch, 0);
    }

  complete_flushes (self, TRUE);
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* Configuration */

static int
open_stdout (gboolean  *is_socket,
             GError   **error)
{
  struct stat st;
  int fd = -1;

  if (fstat (STDOUT_FILENO, &st) < 0)
    {
      int saved_errno = errno;

      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[jsonl] path: standard output is not open (%s); give a file name instead of -",
                   g_strerror (saved_errno));
      return -1;
    }

  /* A pipe of our own, so that it can be non-blocking without changing
   * standard output for everyone else who shares it. */
  if (S_ISFIFO (st.st_mode))
    fd = open ("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    fd = fcntl (STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                   "[jsonl] path: cannot use standard output: %s; give a file name instead of -",
                   g_strerror (saved_errno));
      return -1;
    }

  *is_socket = S_ISSOCK (st.st_mode);
  return fd;
}

static int
open_file (const char  *path,
           GError     **error)
{
  /* Non-blocking: opening a FIFO must not wait for a reader, and writing
   * to one must not wait either (regular files ignore the flag). */
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0644);
  int saved_errno = errno;
  struct stat st;

  if (fd >= 0)
    return fd;

  if (saved_errno == ENXIO && stat (path, &st) == 0 && S_ISFIFO (st.st_mode))
    g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                 "[jsonl] path: cannot open “%s”: it is a FIFO that no program reads; "
                 "start the reader first", path);
  else
    g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
                 "[jsonl] path: cannot open “%s”: %s; check the directory exists and is writable",
                 path, g_strerror (saved_errno));
  return -1;
}

static gboolean
open_output (ThJsonl     *self,
             ThConfig    *config,
             const char  *path,
             GError     **error)
{
  struct stat st;
  int fd;

  if (g_str_equal (path, "-"))
    {
      fd = open_stdout (&self->is_socket, error);
      if (fd < 0)
        return FALSE;
      self->display = g_strdup ("standard output");
      self->is_stdout = TRUE;
    }
  else
    {
      /* Relative to the config file's folder; to the working directory for
       * a config that was not read from a file. */
      const char *config_path = th_config_get_path (config);
      g_autofree char *config_full = config_path != NULL ? g_canonicalize_filename (config_path, NULL) : NULL;
      g_autofree char *dir = config_full != NULL ? g_path_get_dirname (config_full) : NULL;
      g_autofree char *full = g_canonicalize_filename (path, dir);

      fd = open_file (full, error);
      if (fd < 0)
        return FALSE;
      self->display = g_strdup_printf ("“%s”", full);
    }

  self->fd = fd;
  self->is_regular = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
  return TRUE;
}

static void
close_output (ThJsonl *self)
{
  if (self->fd >= 0)
    {
      close (self->fd);
      self->fd = -1;
    }
  for (guint i = 0; i < G_N_ELEMENTS (self->wake); i++)
    if (self->wake[i] >= 0)
      {
        close (self->wake[i]);
        self->wake[i] = -1;
      }
}

static gboolean
th_jsonl_configure (ThSink  *sink,
                    GError **error)
{
  ThJsonl *self = TH_JSONL (sink);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = NULL;
  g_auto(GStrv) names = NULL;
  ThConfig *config;
  gint64 max_queue;

  if (self->hub == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_PLUGIN, "[jsonl]: the sink was created without a hub");
      return FALSE;
    }
  if (self->thread != NULL || self->stopped)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_PLUGIN, "[jsonl]: the sink is configured before it starts, not after");
      return FALSE;
    }
  config = th_hub_get_config (self->hub);

  /* A second call before start starts over. */
  close_output (self);
  g_clear_pointer (&self->display, g_free);
  self->is_stdout = FALSE;
  g_clear_pointer (&self->events, g_hash_table_unref);

  names = th_config_get_string_list (config, "jsonl", "events");
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    {
      guint k = 0;

      while (known_events[k] != NULL && !g_str_equal (names[i], known_events[k]))
        k++;
      if (known_events[k] == NULL)
        {
          g_autofree char *known = g_strjoinv (", ", (char **) known_events);

          g_ptr_array_add (problems,
                           g_strdup_printf ("[jsonl] events: unknown event “%s”; the events are %s",
                                            names[i], known));
          continue;
        }
      if (self->events == NULL)
        self->events = g_hash_table_new (g_str_hash, g_str_equal);
      g_hash_table_add (self->events, (gpointer) known_events[k]);
    }

  /* A value that is not a whole number is reported by the hub's checks of
   * the X-Tickhub-Config types; only 0 is left to report here. */
  max_queue = th_config_get_int (config, "jsonl", "max-queue", DEFAULT_MAX_QUEUE);
  if (max_queue == 0)
    g_ptr_array_add (problems,
                     g_strdup_printf ("[jsonl] max-queue: 0 would drop every event; give at least 1 (the default is %d)",
                                      DEFAULT_MAX_QUEUE));
  self->max_queue = max_queue > 0 ? (guint64) max_queue : DEFAULT_MAX_QUEUE;

  self->do_fsync = th_config_get_boolean (config, "jsonl", "fsync", FALSE);

  path = th_config_get_string (config, "jsonl", "path", NULL);
  if (path == NULL)
    g_ptr_array_add (problems,
                     g_strdup ("[jsonl] path: missing; give the file to append to (relative to the "
                               "config file's folder) or - for standard output"));
  else if (!open_output (self, config, path, &local_error))
    g_ptr_array_add (problems, g_strdup (local_error->message));

  if (problems->len == 0 && !g_unix_open_pipe (self->wake, FD_CLOEXEC, &local_error))
    g_ptr_array_add (problems, g_strdup_printf ("[jsonl]: cannot create a pipe: %s", local_error->message));

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      close_output (self);
      return FALSE;
    }

  g_unix_set_fd_nonblocking (self->wake[0], TRUE, NULL);
  g_unix_set_fd_nonblocking (self->wake[1], TRUE, NULL);
  return TRUE;
}

/* Running */

static void
th_jsonl_start (ThSink *sink)
{
  ThJsonl *self = TH_JSONL (sink);
  g_autoptr(GError) error = NULL;

  if (self->thread != NULL || self->stopped || self->fd < 0)
    return;

  self->thread = g_thread_try_new ("th-jsonl", writer_thread, self, &error);
  if (self->thread == NULL)
    {
      g_warning ("jsonl: cannot start the writer thread: %s; nothing will be written to %s",
                 error->message, self->display);
      stop_writer (self);
    }
}

static void
th_jsonl_consume (ThSink  *sink,
                  ThEvent *event)
{
  ThJsonl *self = TH_JSONL (sink);
  guint64 backlog;

  if (self->stopped || self->fd < 0)
    return;
  if (self->events != NULL && !g_hash_table_contains (self->events, th_event_get_name (event)))
    return;

  g_mutex_lock (&self->lock);
  backlog = self->consumed - self->written;
  if (backlog < self->max_queue)
    {
      g_ptr_array_add (self->incoming, g_bytes_ref (th_event_get_bytes (event)));
      self->consumed++;
      /* One wake-up per batch, not one per event. */
      if (self->writer_idle)
        {
          self->writer_idle = FALSE;
          g_cond_signal (&self->cond);
        }
    }
  g_mutex_unlock (&self->lock);

  if (backlog >= self->max_queue)
    {
      self->dropped++;
      if (!self->dropping)
        {
          self->dropping = TRUE;
          g_warning ("jsonl: writer is behind, dropping events (%" G_GUINT64_FORMAT " so far); "
                     "%s takes them slower than they come",
                     self->dropped, self->display);
        }
    }
  else if (self->dropping && backlog <= self->max_queue / 2)
    {
      self->dropping = FALSE;
      g_message ("jsonl: writer caught up with %s; %" G_GUINT64_FORMAT " events dropped so far",
                 self->display, self->dropped);
    }
}

static void
th_jsonl_flush_async (ThSink              *sink,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  ThJsonl *self = TH_JSONL (sink);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, th_jsonl_flush_async);
  g_task_set_name (task, "[jsonl] flush");

  if (g_task_return_error_if_cancelled (task))
    return;

  /* Stopped, or never configured: nothing is waiting to be written. */
  if (self->stopped || self->fd < 0)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  /* The writer completes it, once everything consumed so far is written;
   * before start, once it starts. */
  g_mutex_lock (&self->lock);
  th_flush_waiters_add (&self->flushes, g_steal_pointer (&task), cancellable, self->consumed);
  if (self->writer_idle)
    {
      self->writer_idle = FALSE;
      g_cond_signal (&self->cond);
    }
  g_mutex_unlock (&self->lock);
}

static gboolean
th_jsonl_flush_finish (ThSink        *sink,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, sink), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == th_jsonl_flush_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Ends the writer: what can be written without waiting is, the rest is
 * counted. Safe to call more than once. */
static void
stop_writer (ThJsonl *self)
{
  guint64 lines;

  if (self->stopped)
    return;
  self->stopped = TRUE;

  if (self->thread == NULL)
    {
      close_output (self);
      return;
    }

  g_mutex_lock (&self->lock);
  g_atomic_int_set (&self->quit, TRUE);
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  if (self->wake[1] >= 0 && write (self->wake[1], "q", 1) < 0)
    {
      /* Full already (it holds one byte at most) or closed: nothing to do. */
    }
  g_thread_join (g_steal_pointer (&self->thread));
  close_output (self);

  lines = self->written - self->lost - self->unwritten;
  if (self->dropped > 0 || self->lost > 0 || self->unwritten > 0)
    g_message ("jsonl: %s: %" G_GUINT64_FORMAT " events written, %" G_GUINT64_FORMAT " dropped "
               "because the writer was behind, %" G_GUINT64_FORMAT " lost to write errors, %"
               G_GUINT64_FORMAT " not written at stop because the reader was not reading",
               self->display, lines, self->dropped, self->lost, self->unwritten);
  else
    g_debug ("jsonl: %s: %" G_GUINT64_FORMAT " events written", self->display, lines);
}

static void
th_jsonl_stop (ThSink *sink)
{
  stop_writer (TH_JSONL (sink));
}

/* Standard output is nobody's in a daemon started on demand: it does not
 * keep one running. A file records, whoever calls the daemon. */
static gboolean
th_jsonl_keeps_alive (ThSink *sink)
{
  return !TH_JSONL (sink)->is_stdout;
}

static void
th_jsonl_sink_init (ThSinkInterface *iface)
{
  iface->configure = th_jsonl_configure;
  iface->start = th_jsonl_start;
  iface->consume = th_jsonl_consume;
  iface->flush_async = th_jsonl_flush_async;
  iface->flush_finish = th_jsonl_flush_finish;
  iface->stop = th_jsonl_stop;
  iface->keeps_alive = th_jsonl_keeps_alive;
}

/* GObject */

static void
th_jsonl_dispose (GObject *object)
{
  ThJsonl *self = TH_JSONL (object);

  stop_writer (self);
  /* Flushes asked for before a start that never came. */
  th_flush_waiters_clear (&self->flushes, "jsonl: the sink was disposed before it started");

  g_ptr_array_set_size (self->incoming, 0);
  g_ptr_array_set_size (self->outgoing, 0);
  g_clear_pointer (&self->events, g_hash_table_unref);

  G_OBJECT_CLASS (th_jsonl_parent_class)->dispose (object);
}

static void
th_jsonl_finalize (GObject *object)
{
  ThJsonl *self = TH_JSONL (object);

  g_ptr_array_unref (self->incoming);
  g_ptr_array_unref (self->outgoing);
  g_free (self->display);
  g_free (self->last_error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);

  G_OBJECT_CLASS (th_jsonl_parent_class)->finalize (object);
}

static void
th_jsonl_class_init (ThJsonlClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_jsonl_dispose;
  object_class->finalize = th_jsonl_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThJsonl, hub));
}

static void
th_jsonl_class_finalize (ThJsonlClass *klass)
{
}

static void
th_jsonl_init (ThJsonl *self)
{
  self->fd = -1;
  self->wake[0] = self->wake[1] = -1;
  self->max_queue = DEFAULT_MAX_QUEUE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  th_flush_waiters_init (&self->flushes, &self->lock, "[jsonl] flush");
  self->incoming = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->outgoing = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_jsonl_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_JSONL);
}
