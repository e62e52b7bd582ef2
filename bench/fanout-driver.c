/* fanout-driver.c: start and drive bench/fanout-clients (see fanout-driver.h)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fanout-driver.h"

gboolean
fc_pin_cpus (int *server_cpu,
             int *client_cpu)
{
  cpu_set_t allowed, one;
  int found[2] = { -1, -1 };
  int n = 0;

  *server_cpu = *client_cpu = -1;
  if (sched_getaffinity (0, sizeof allowed, &allowed) < 0)
    return FALSE;
  for (int cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
    if (CPU_ISSET (cpu, &allowed))
      found[n++] = cpu;
  if (n < 2)
    return FALSE;
  CPU_ZERO (&one);
  CPU_SET (found[0], &one);
  if (sched_setaffinity (0, sizeof one, &one) < 0)
    return FALSE;
  *server_cpu = found[0];
  *client_cpu = found[1];
  return TRUE;
}

guint
fc_raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return 1024;
  rl.rlim_cur = rl.rlim_max;
  setrlimit (RLIMIT_NOFILE, &rl);
  getrlimit (RLIMIT_NOFILE, &rl);
  return rl.rlim_cur > G_MAXUINT ? G_MAXUINT : (guint) rl.rlim_cur;
}

gint64
fc_rss_bytes (void)
{
  g_autofree char *statm = NULL;
  gint64 pages = 0;

  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    sscanf (statm, "%*d %" G_GINT64_FORMAT, &pages);
  return pages * sysconf (_SC_PAGESIZE);
}

/* bench/fanout-clients, next to the running binary. */
static char *
clients_path (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = NULL;

  if (self == NULL)
    return NULL;
  dir = g_path_get_dirname (self);
  return g_build_filename (dir, "fanout-clients", NULL);
}

FcDriver *
fc_driver_new (guint     port,
               gboolean  socketio,
               guint     max_seq,
               guint64   max_samples,
               int       client_cpu,
               GError  **error)
{
  g_autofree char *path = clients_path ();
  g_autofree char *fd_text = NULL;
  g_autofree char *wake_text = NULL;
  FcDriver *d;
  gsize size = fc_shared_size (max_seq, max_samples);
  char *argv[6];
  int wake_fd;
  pid_t pid;
  int fd;

  if (path == NULL || !g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: not found (build bench/fanout-clients)",
                   path != NULL ? path : "fanout-clients");
      return NULL;
    }
  /* Inherited by the client process (no close-on-exec). */
  fd = memfd_create ("tickhub-fanout", 0);
  if (fd < 0 || ftruncate (fd, (off_t) size) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "memfd: %s", g_strerror (errno));
      if (fd >= 0)
        close (fd);
      return NULL;
    }
  /* Inherited too; ours only to read. */
  wake_fd = eventfd (0, EFD_NONBLOCK);
  if (wake_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "eventfd: %s", g_strerror (errno));
      close (fd);
      return NULL;
    }
  d = g_new0 (FcDriver, 1);
  d->wake_fd = wake_fd;
  d->size = size;
  d->cpu = client_cpu;
  d->shm = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (d->shm == MAP_FAILED)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "mmap: %s", g_strerror (errno));
      close (fd);
      close (wake_fd);
      g_free (d);
      return NULL;
    }
  /* Every page touched now: our resident size does not grow later when
   * we read what the clients wrote. */
  memset (d->shm, 0, size);
  d->shm->port = port;
  d->shm->socketio = socketio;
  d->shm->max_seq = max_seq;
  d->shm->max_samples = max_samples;

  fd_text = g_strdup_printf ("%d", fd);
  wake_text = g_strdup_printf ("%d", wake_fd);
  argv[0] = path;
  argv[1] = (char *) "--shm-fd";
  argv[2] = fd_text;
  argv[3] = (char *) "--wake-fd";
  argv[4] = wake_text;
  argv[5] = NULL;
  pid = fork ();
  if (pid == 0)
    {
      /* Only system calls between fork and exec. */
      if (client_cpu >= 0)
        {
          cpu_set_t set;

          CPU_ZERO (&set);
          CPU_SET (client_cpu, &set);
          sched_setaffinity (0, sizeof set, &set);
        }
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      execv (argv[0], argv);
      _exit (127);
    }
  close (fd);
  if (pid < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "fork: %s", g_strerror (errno));
      munmap (d->shm, size);
      close (wake_fd);
      g_free (d);
      return NULL;
    }
  d->pid = pid;
  return d;
}

gboolean
fc_driver_alive (FcDriver *d)
{
  if (d->pid != 0 && waitpid (d->pid, &d->status, WNOHANG) == d->pid)
    {
      d->pid = 0;
      if (!WIFEXITED (d->status) || WEXITSTATUS (d->status) != 0)
        g_printerr ("fanout-clients ended: %s %d\n", WIFEXITED (d->status) ? "exit status" : "signal",
                    WIFEXITED (d->status) ? WEXITSTATUS (d->status) : WTERMSIG (d->status));
    }
  return d->pid != 0;
}

void
fc_driver_command (FcDriver *d,
                   guint     cmd,
                   guint     arg,
                   guint     timeout_ms)
{
  FC_STORE (d->shm->cmd, cmd);
  FC_STORE (d->shm->arg, arg);
  FC_STORE (d->shm->timeout_ms, timeout_ms);
  FC_STORE (d->shm->cmd_seq, FC_LOAD (d->shm->cmd_seq) + 1);
}

void
fc_driver_connect (FcDriver *d,
                   guint     n,
                   guint     concurrency,
                   gboolean  extra,
                   guint     timeout_ms)
{
  FC_STORE (d->shm->concurrency, concurrency);
  FC_STORE (d->shm->extra, extra ? 1 : 0);
  fc_driver_command (d, FC_CMD_CONNECT, n, timeout_ms);
}

gboolean
fc_driver_done (FcDriver *d)
{
  return FC_LOAD (d->shm->ack_seq) == FC_LOAD (d->shm->cmd_seq) || !fc_driver_alive (d);
}

void
fc_driver_notify_at (FcDriver *d,
                     guint64   target)
{
  FC_STORE (d->shm->notify_base, target);
  /* Reached already: the clients will not see it cross. */
  if (FC_LOAD (d->shm->received_base) >= target)
    {
      guint64 one = 1;

      FC_STORE (d->shm->notify_base, 0);
      if (write (d->wake_fd, &one, sizeof one) < 0)
        {
          /* a full counter wakes up all the same */
        }
    }
}

void
fc_driver_drain_wake (FcDriver *d)
{
  guint64 count;

  while (read (d->wake_fd, &count, sizeof count) > 0)
    ;
}

void
fc_driver_mark_push (FcDriver *d,
                     guint     seq)
{
  if (seq < d->shm->max_seq)
    FC_STORE (fc_shared_push_times (d->shm)[seq], g_get_monotonic_time ());
}

void
fc_driver_record (FcDriver *d,
                  gboolean  on)
{
  FC_STORE (d->shm->recording, on ? 1 : 0);
}

static int
compare_i64 (const void *a,
             const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

FcLatency
fc_driver_latency (FcDriver *d)
{
  FcLatency l = { 0 };
  gint64 *s = fc_shared_samples (d->shm);

  l.n = FC_LOAD (d->shm->n_samples);
  if (l.n == 0)
    return l;
  qsort (s, l.n, sizeof (gint64), compare_i64);
  l.p50 = s[l.n / 2] / 1000.0;
  l.p99 = s[l.n * 99 / 100] / 1000.0;
  l.p999 = s[l.n * 999 / 1000] / 1000.0;
  return l;
}

void
fc_driver_free (FcDriver *d)
{
  if (d == NULL)
    return;
  if (fc_driver_alive (d))
    {
      gint64 end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      fc_driver_command (d, FC_CMD_QUIT, 0, 0);
      while (fc_driver_alive (d) && g_get_monotonic_time () < end)
        g_usleep (1000);
      if (fc_driver_alive (d))
        {
          g_printerr ("fanout-clients (pid %d) does not quit; killing it\n", (int) d->pid);
          kill (d->pid, SIGKILL);
          waitpid (d->pid, &d->status, 0);
          d->pid = 0;
        }
    }
  munmap (d->shm, d->size);
  close (d->wake_fd);
  g_free (d);
}
