/* bench/redis-cluster: the Redis hop, end to end, with the clients in
 * another process (bench/fanout-clients, as bench/fanout --external)
 *
 *   1. Latency ingest → client at 1,000 and 10,000 updates/s, two paths
 *      measuring the same updates at the same moments, each with its own
 *      client process (bench/fanout-clients, N /ws clients subscribed to
 *      BTC):
 *        - reference: clients on the ingest node's own server sink (no
 *          Redis on the way);
 *        - cluster: clients on an edge node's server sink, the edge reading
 *          the ingest's stream (ingest → XADD → Redis → XREAD → edge →
 *          client).
 *      The ingest hub runs in this process, pinned to the first CPU, both
 *      client processes to the second; the edge is a tickhubd process
 *      (role=edge, as deployed) that runs where the scheduler finds room
 *      (--edge-cpu pins it); redis-server runs anywhere.
 *      The difference between the two paths is what the Redis hop adds
 *      (XADD, Redis, XREAD, the edge's parsing and relaying, one more
 *      process to schedule), both paths seeing the same moments of the
 *      machine's load (which swings p99 by milliseconds from one run to
 *      the next). Printed beside: the CPU time per
 *      update of the edge process and of this one. Updates are pushed from
 *      a 1 ms timer, as a feed pushes what came in since its last wake-up.
 *   2. Aggregate deliveries/s of edge *processes* (tickhubd, role=edge)
 *      sharing one port with [server] reuse-port=true: one process, then
 *      two, with the same clients spread over them by the kernel; the
 *      ingest (this process) pushes as fast as the clients take it (at most
 *      WINDOW_TICKS updates in flight per client). Printed: deliveries/s,
 *      the edges' CPU time per delivery, and the ratios 2 / 1.
 *
 * redis-server runs in a temporary folder on a unix socket, stopped by its
 * pid; so are the edges.
 *
 *   meson devenv -C build bench/redis-cluster [--clients N] [--seconds S] [--runs N]
 *                                             [--edge-cpu CPU] [--edge-clients N]
 *                                             [latency|reuse-port]
 *
 * Defaults: 10 latency clients per path, 3 s per run, 3 runs at each rate;
 * 1,000 clients on the edges, 5 s per run, 3 runs of 1 then 2 processes;
 * the medians are printed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>
#include <hiredis/hiredis.h>

#include "th-private.h"
#include "fanout-driver.h"
#include "bench-hub.h"

#define WINDOW_TICKS 1024

static cpu_set_t original_cpus;
static int server_cpu = -1;
static int client_cpu = -1;
static int edge_cpu = -1;             /* the latency edge: anywhere unless --edge-cpu */

static void
restore_cpus (gpointer data)
{
  sched_setaffinity (0, sizeof original_cpus, &original_cpus);
}

/* redis-server */

typedef struct
{
  char *dir;
  char *socket;
  GPid  pid;
} Redis;

static void
redis_start (Redis *r)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "redis-server", "--port", "0", "--unixsocket", r->socket, "--dir", r->dir,
                         "--save", "", "--appendonly", "no", "--loglevel", "warning", NULL };
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  redisContext *c = NULL;

  if (!g_spawn_async (r->dir, (char **) argv, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                      restore_cpus, NULL, &r->pid, &error))
    g_error ("cannot start redis-server (setup.sh installs it): %s", error->message);
  for (;;)
    {
      c = redisConnectUnix (r->socket);
      if (c != NULL && !c->err)
        break;
      if (c != NULL)
        redisFree (c);
      c = NULL;
      if (g_get_monotonic_time () > deadline)
        g_error ("redis-server did not answer on %s", r->socket);
      g_usleep (20000);
    }
  redisFree (c);
}

static void
redis_stop (Redis *r)
{
  int status;

  kill (r->pid, SIGTERM);
  waitpid (r->pid, &status, 0);
  g_spawn_close_pid (r->pid);
  unlink (r->socket);
}

/* Hubs in this process */

static const char common[] =
  "[tickhub]\nplugins=redis;server\nsymbols=BTC\ntimeframes=1m\n"
  "[prices]\norder=binance\n[binance]\nttl=3600\n"
  "[server]\nmax-connections=20000\nrate-limit=0\nstatus-interval=0\nclient-buffer=4194304\n"
  "ping-interval=3600\n";

static ThHub *
start_hub (Redis      *r,
           const char *role,
           const char *listen,
           gboolean    reuse_port,
           guint      *port)
{
  g_autofree char *text = g_strdup_printf ("%slisten=%s\nreuse-port=%s\n"
                                           "[redis]\nurl=unix://%s\nrole=%s\nlease=0\n"
                                           "max-length=1000000\nmax-queue=1000000\nblock=1\n",
                                           common, listen, reuse_port ? "true" : "false", r->socket, role);
  g_autoptr(GPtrArray) sinks = NULL;
  ThHub *hub = bench_hub_new (text, NULL);

  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  for (guint i = 0; port != NULL && i < sinks->len; i++)
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sinks->pdata[i]), "port") != NULL)
      g_object_get (sinks->pdata[i], "port", port, NULL);
  return hub;
}

static void
stop_hub (ThHub *hub)
{
  bench_hub_stop (hub);
  g_object_unref (hub);
}

static guint seq = 1;
static FcDriver *also_stamp;   /* a second client process measuring the same updates */

/* One update whose price is its sequence number, stamped in @d's block
 * (and also_stamp's). */
static void
push (ThHub    *hub,
      FcDriver *d)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, seq, g_get_real_time ());

  tick->bid = seq - 0.5;
  tick->ask = seq + 0.5;
  if (seq < d->shm->max_seq)
    {
      gint64 now = g_get_monotonic_time ();

      __atomic_store_n (&fc_shared_push_times (d->shm)[seq], now, __ATOMIC_RELEASE);
      if (also_stamp != NULL)
        __atomic_store_n (&fc_shared_push_times (also_stamp->shm)[seq], now, __ATOMIC_RELEASE);
    }
  seq++;
  th_hub_push_tick (hub, tick);
}

static gboolean
on_wake_fd (int          fd,
            GIOCondition condition,
            gpointer     data)
{
  fc_driver_drain_wake (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
tick_timer (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Until the clients (not extra) have had @target deliveries, or none came
 * for @stall_usec. */
static gboolean
wait_deliveries (FcDriver *d,
                 guint64   target,
                 gint64    stall_usec)
{
  guint waker = g_timeout_add (20, tick_timer, NULL);
  gint64 moved = g_get_monotonic_time ();
  guint64 last = FC_LOAD (d->shm->received_base);

  while (FC_LOAD (d->shm->received_base) < target)
    {
      guint64 r = FC_LOAD (d->shm->received_base);

      if (r != last)
        {
          last = r;
          moved = g_get_monotonic_time ();
        }
      else if (g_get_monotonic_time () - moved > stall_usec)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (waker);
  return FC_LOAD (d->shm->received_base) >= target;
}

static gboolean
connect_clients (FcDriver *d,
                 guint     n,
                 GMainContext *context)
{
  guint waker = g_timeout_add (20, tick_timer, NULL);
  gint64 end = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  fc_driver_connect (d, n, 0, FALSE, 30000);
  while (!fc_driver_done (d) && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_source_remove (waker);
  return fc_driver_done (d) && FC_LOAD (d->shm->batch_subscribed) == n;
}

/* 1. Latency: the same updates measured at once by two client processes,
 * one on the ingest's server (no Redis), one on the edge's (through
 * Redis): both paths see the same moments of the machine's load. */

typedef struct
{
  FcLatency lat;
  guint64   received, expected;
} Run;

static FcDriver *
clients_on (guint   port,
            guint   n_clients,
            guint64 max_samples)
{
  g_autoptr(GError) error = NULL;
  FcDriver *d = fc_driver_new (port, FALSE, FC_MAX_SEQ, max_samples, client_cpu, &error);

  if (d == NULL)
    {
      printf ("cannot start the clients: %s\n", error->message);
      return NULL;
    }
  if (!connect_clients (d, n_clients, NULL))
    {
      printf ("only %u of %u clients subscribed on port %u\n", FC_LOAD (d->shm->batch_subscribed), n_clients, port);
      fc_driver_free (d);
      return NULL;
    }
  return d;
}

static gboolean
latency_run (ThHub  *ingest,
             guint   direct_port,
             guint   edge_port,
             guint   n_clients,
             guint   rate,
             double  seconds,
             Run    *direct,
             Run    *cluster)
{
  guint total = (guint) (rate * seconds);
  FcDriver *a = clients_on (direct_port, n_clients, (guint64) total * n_clients);
  FcDriver *b = a != NULL ? clients_on (edge_port, n_clients, (guint64) total * n_clients) : NULL;
  guint wake_a, wake_b, timer;
  guint64 base_a, base_b;
  gint64 t0;
  guint pushed = 0;

  memset (direct, 0, sizeof *direct);
  memset (cluster, 0, sizeof *cluster);
  if (b == NULL)
    {
      if (a != NULL)
        fc_driver_free (a);
      return FALSE;
    }
  wake_a = g_unix_fd_add (a->wake_fd, G_IO_IN, on_wake_fd, a);
  wake_b = g_unix_fd_add (b->wake_fd, G_IO_IN, on_wake_fd, b);
  also_stamp = b;

  /* Warm-up: the paths carry updates before we measure. */
  base_a = FC_LOAD (a->shm->received_base);
  base_b = FC_LOAD (b->shm->received_base);
  for (guint i = 0; i < 20; i++)
    {
      push (ingest, a);
      bench_run_for (5);
    }
  if (!wait_deliveries (a, base_a + 20 * n_clients, 3 * G_USEC_PER_SEC) ||
      !wait_deliveries (b, base_b + 20 * n_clients, 3 * G_USEC_PER_SEC))
    printf ("(warm-up: %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT " of %u deliveries)\n",
            FC_LOAD (a->shm->received_base) - base_a, FC_LOAD (b->shm->received_base) - base_b, 20 * n_clients);
  bench_run_for (200);

  base_a = FC_LOAD (a->shm->received_base);
  base_b = FC_LOAD (b->shm->received_base);
  fc_driver_record (a, TRUE);
  fc_driver_record (b, TRUE);
  timer = g_timeout_add (1, tick_timer, NULL);
  t0 = g_get_monotonic_time ();
  while (pushed < total)
    {
      guint due = MIN (total, (guint) ((g_get_monotonic_time () - t0) * (double) rate / G_USEC_PER_SEC) + 1);

      for (; pushed < due; pushed++)
        push (ingest, a);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (timer);
  direct->expected = cluster->expected = (guint64) total * n_clients;
  wait_deliveries (a, base_a + direct->expected, G_USEC_PER_SEC);
  wait_deliveries (b, base_b + cluster->expected, G_USEC_PER_SEC);
  fc_driver_record (a, FALSE);
  fc_driver_record (b, FALSE);
  direct->lat = fc_driver_latency (a);
  cluster->lat = fc_driver_latency (b);
  direct->received = FC_LOAD (a->shm->received_base) - base_a;
  cluster->received = FC_LOAD (b->shm->received_base) - base_b;
  also_stamp = NULL;
  g_source_remove (wake_a);
  g_source_remove (wake_b);
  fc_driver_free (a);
  fc_driver_free (b);
  return TRUE;
}

static void
print_run (const char *path,
           guint       rate,
           const Run  *r)
{
  printf ("%-36s %6u/s: p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  (%" G_GUINT64_FORMAT " of %"
          G_GUINT64_FORMAT " deliveries)\n", path, rate, r->lat.p50, r->lat.p99, r->lat.p999,
          r->received, r->expected);
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *v,
        guint   n)
{
  qsort (v, n, sizeof *v, compare_doubles);
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct
{
  GPid  pid;
  char *conf;
} Edge;

static gboolean edge_start   (Edge *e, Redis *r, guint port, guint index, int cpu);
static void     edge_stop    (Edge *e);
static gboolean port_answers (guint port);
static int      reserve_port (guint *port);
static gint64   proc_cpu_usec (GPid pid);
static gint64   self_cpu_usec (void);

static void
bench_latency (Redis  *r,
               guint   n_clients,
               double  seconds,
               guint   runs)
{
  guint ingest_port = 0, edge_port = 0;
  ThHub *ingest = start_hub (r, "ingest", "127.0.0.1:0", FALSE, &ingest_port);
  const guint rates[] = { 1000, 10000 };
  int fd = reserve_port (&edge_port);
  gint64 end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  Edge edge = { 0 };

  /* The edge: a tickhubd process, where the scheduler finds room (or on
   * --edge-cpu); its port reserved with reuse-port. */
  if (!edge_start (&edge, r, edge_port, 9, edge_cpu))
    return;
  while (!port_answers (edge_port) && g_get_monotonic_time () < end)
    bench_run_for (50);
  bench_run_for (1000);
  printf ("\n1. latency, push on the ingest hub → frame read by a /ws client (%u clients in another process%s), "
          "%.0f s per run, %u run%s per rate; the two paths measure the same updates at once\n", n_clients,
          server_cpu >= 0 ? ", pinned" : "", seconds, runs, runs > 1 ? "s" : "");
  if (server_cpu >= 0)
    {
      g_autofree char *where = edge_cpu >= 0 ? g_strdup_printf ("on CPU %d", edge_cpu) : g_strdup ("anywhere");

      printf ("   the ingest (this process) on CPU %d, both client processes on CPU %d, the edge (tickhubd) %s, "
              "redis-server anywhere\n", server_cpu, client_cpu, where);
    }
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    {
      g_autofree double *d50 = g_new0 (double, runs);
      g_autofree double *d99 = g_new0 (double, runs);
      g_autofree double *a50 = g_new0 (double, runs), *a99 = g_new0 (double, runs);
      g_autofree double *b50 = g_new0 (double, runs), *b99 = g_new0 (double, runs);
      g_autofree double *edge_us = g_new0 (double, runs), *ingest_us = g_new0 (double, runs);
      guint n = 0;

      for (guint k = 0; k < runs; k++)
        {
          Run direct, cluster;
          gboolean a, b;

          gint64 edge0 = proc_cpu_usec (edge.pid), self0 = self_cpu_usec ();
          double updates = rates[i] * seconds + 20;

          a = b = latency_run (ingest, ingest_port, edge_port, n_clients, rates[i], seconds, &direct, &cluster);
          /* Including the clients' connections, once per run. */
          edge_us[k] = (proc_cpu_usec (edge.pid) - edge0) / updates;
          ingest_us[k] = (self_cpu_usec () - self0) / updates;
          if (a)
            print_run ("reference: client on the ingest node", rates[i], &direct);
          if (b)
            print_run ("ingest → Redis → edge → client", rates[i], &cluster);
          if (a && b && direct.lat.n > 0 && cluster.lat.n > 0)
            {
              a50[n] = direct.lat.p50;
              a99[n] = direct.lat.p99;
              b50[n] = cluster.lat.p50;
              b99[n] = cluster.lat.p99;
              d50[n] = cluster.lat.p50 - direct.lat.p50;
              d99[n] = cluster.lat.p99 - direct.lat.p99;
              printf ("%-36s %6u/s: p50 %+7.3f ms  p99 %+7.3f ms\n", "   the Redis hop adds", rates[i], d50[n], d99[n]);
              n++;
            }
          fflush (stdout);
        }
      if (n > 0)
        {
          double m99 = median (d99, n);

          printf ("=> at %u updates/s, median of %u: reference p50 %.3f ms p99 %.3f ms; through Redis p50 %.3f ms "
                  "p99 %.3f ms; the Redis hop adds p50 %+.3f ms, p99 %+.3f ms (goal < 1 ms at p99: %s)\n",
                  rates[i], n, median (a50, n), median (a99, n), median (b50, n), median (b99, n), median (d50, n),
                  m99, m99 < 1.0 ? "met" : "NOT met");
          printf ("   CPU per update at %u/s (median): edge process %.1f µs (%.0f %% of a core), ingest process "
                  "%.1f µs (%.0f %%; it also serves the reference clients)\n", rates[i], median (edge_us, runs),
                  median (edge_us, runs) * rates[i] / 1e4, median (ingest_us, runs),
                  median (ingest_us, runs) * rates[i] / 1e4);
        }
      fflush (stdout);
    }
  edge_stop (&edge);
  close (fd);
  stop_hub (ingest);
}

/* 2. Edge processes sharing a port */

static void
pin_child (gpointer data)
{
  int cpu = GPOINTER_TO_INT (data);
  cpu_set_t one;

  if (cpu < 0)
    {
      restore_cpus (NULL);
      return;
    }
  CPU_ZERO (&one);
  CPU_SET (cpu, &one);
  sched_setaffinity (0, sizeof one, &one);
}

/* tickhubd as an edge on @port (reuse-port), on @cpu (-1: anywhere) */
static gboolean
edge_start (Edge       *e,
            Redis      *r,
            guint       port,
            guint       index,
            int         cpu)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *daemon = bench_tickhubd_path ();
  g_autofree char *text = g_strdup_printf ("%slisten=127.0.0.1:%u\nreuse-port=true\n"
                                           "[redis]\nurl=unix://%s\nrole=edge\nblock=1\n",
                                           common, port, r->socket);
  char *argv[] = { daemon, "--no-dbus", "-c", NULL, NULL };

  e->conf = g_strdup_printf ("%s/edge%u.conf", r->dir, index);
  if (!g_file_set_contents (e->conf, text, -1, &error))
    g_error ("%s", error->message);
  argv[3] = e->conf;
  if (!g_spawn_async (r->dir, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                      pin_child, GINT_TO_POINTER (cpu), &e->pid, &error))
    {
      printf ("cannot start %s: %s\n", daemon, error->message);
      return FALSE;
    }
  return TRUE;
}

static void
edge_stop (Edge *e)
{
  int status;

  if (e->pid == 0)
    return;
  kill (e->pid, SIGTERM);
  waitpid (e->pid, &status, 0);
  g_spawn_close_pid (e->pid);
  e->pid = 0;
  unlink (e->conf);
  g_clear_pointer (&e->conf, g_free);
}

/* utime + stime of @pid, µs */
static gint64
proc_cpu_usec (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  const char *p;
  unsigned long long ut = 0, st = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (p = strrchr (text, ')')) == NULL)
    return 0;
  /* After "pid (comm)": state is field 3; utime 14, stime 15. */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return 0;
  return (gint64) (ut + st) * G_USEC_PER_SEC / sysconf (_SC_CLK_TCK);
}

/* TCP sockets @pid holds */
static guint
proc_sockets (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *fd = g_build_filename (path, name, NULL);
      g_autofree char *target = g_file_read_link (fd, NULL);

      if (target != NULL && g_str_has_prefix (target, "socket:"))
        n++;
    }
  return n;
}

static gboolean
port_answers (guint port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port),
                            .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok = connect (fd, (struct sockaddr *) &sa, sizeof sa) == 0;

  close (fd);
  return ok;
}

typedef struct
{
  guint   edges;
  guint   clients, spread[2];
  double  deliveries_s;
  double  cpu_us_per_delivery;   /* the edges' CPU, summed */
  double  cpu_s, seconds;
  double  clients_cpu_s, ingest_cpu_s, redis_cpu_s;   /* the rest of the machine meanwhile */
} Share;

static gint64
self_cpu_usec (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static gboolean
share_run (Redis  *r,
           ThHub  *ingest,
           guint   port,
           guint   n_edges,
           guint   n_clients,
           double  seconds,
           Share  *s)
{
  g_autoptr(GError) error = NULL;
  Edge edges[2] = { { 0 } };
  guint sockets0[2] = { 0 };
  FcDriver *d = NULL;
  guint wake_id = 0;
  guint64 base, pushed = 0, r0;
  gint64 t0, t1, cpu0 = 0, cpu1 = 0, end;
  gint64 clients0 = 0, ingest0 = 0, redis0 = 0;
  gboolean ok = FALSE;

  memset (s, 0, sizeof *s);
  s->edges = n_edges;
  for (guint i = 0; i < n_edges; i++)
    {
      end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
      if (!edge_start (&edges[i], r, port, i, -1))
        goto out;
      /* Listening: the first answers the port; the second, once its
       * listening socket shows among its descriptors and it had time. */
      while (i == 0 && !port_answers (port) && g_get_monotonic_time () < end)
        bench_run_for (50);
      bench_run_for (1500);
      sockets0[i] = proc_sockets (edges[i].pid);
    }

  d = fc_driver_new (port, FALSE, FC_MAX_SEQ, 0, -1, &error);
  if (d == NULL)
    {
      printf ("cannot start the clients: %s\n", error->message);
      goto out;
    }
  wake_id = g_unix_fd_add (d->wake_fd, G_IO_IN, on_wake_fd, d);
  if (!connect_clients (d, n_clients, NULL))
    printf ("(%u edge%s: %u of %u clients subscribed)\n", n_edges, n_edges > 1 ? "s" : "",
            FC_LOAD (d->shm->batch_subscribed), n_clients);
  s->clients = FC_LOAD (d->shm->batch_subscribed);
  if (s->clients == 0)
    goto out;
  for (guint i = 0; i < n_edges; i++)
    s->spread[i] = proc_sockets (edges[i].pid) - sockets0[i];

  /* Warm-up, then the measured window: pushed as fast as the clients take
   * it, at most WINDOW_TICKS updates in flight per client. */
  base = FC_LOAD (d->shm->received_base);
  for (guint phase = 0; phase < 2; phase++)
    {
      gint64 stop_at = g_get_monotonic_time () + (gint64) ((phase == 0 ? 1.0 : seconds) * G_USEC_PER_SEC);

      r0 = FC_LOAD (d->shm->received_base);
      t0 = g_get_monotonic_time ();
      cpu0 = 0;
      for (guint i = 0; i < n_edges; i++)
        cpu0 += proc_cpu_usec (edges[i].pid);
      clients0 = proc_cpu_usec (d->pid);
      ingest0 = self_cpu_usec ();
      redis0 = proc_cpu_usec (r->pid);
      guint waker = g_timeout_add (5, tick_timer, NULL);

      while (g_get_monotonic_time () < stop_at)
        {
          if (pushed * s->clients - (FC_LOAD (d->shm->received_base) - base) < (guint64) WINDOW_TICKS * s->clients)
            {
              for (guint i = 0; i < 10; i++, pushed++)
                push (ingest, d);
              g_main_context_iteration (NULL, FALSE);
            }
          else
            {
              /* The window is full: sleep until the clients have half of
               * it (their eventfd), not spin: this CPU is the edges' too. */
              fc_driver_notify_at (d, base + (pushed - WINDOW_TICKS / 2) * s->clients);
              g_main_context_iteration (NULL, TRUE);
            }
        }
      g_source_remove (waker);
      FC_STORE (d->shm->notify_base, 0);
      t1 = g_get_monotonic_time ();
      cpu1 = 0;
      for (guint i = 0; i < n_edges; i++)
        cpu1 += proc_cpu_usec (edges[i].pid);
    }
  s->clients_cpu_s = (proc_cpu_usec (d->pid) - clients0) / 1e6;
  s->ingest_cpu_s = (self_cpu_usec () - ingest0) / 1e6;
  s->redis_cpu_s = (proc_cpu_usec (r->pid) - redis0) / 1e6;
  s->seconds = (t1 - t0) / 1e6;
  s->deliveries_s = (FC_LOAD (d->shm->received_base) - r0) / s->seconds;
  s->cpu_s = (cpu1 - cpu0) / 1e6;
  s->cpu_us_per_delivery = (cpu1 - cpu0) / (double) MAX (1, FC_LOAD (d->shm->received_base) - r0);
  ok = TRUE;

out:
  if (wake_id != 0)
    g_source_remove (wake_id);
  if (d != NULL)
    fc_driver_free (d);
  for (guint i = 0; i < n_edges; i++)
    edge_stop (&edges[i]);
  return ok;
}

/* A port for the edges: bound with SO_REUSEPORT and kept (not listening,
 * so the kernel gives it no connection) until the end, so that no one
 * else takes it meanwhile. */
static int
reserve_port (guint *port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sa;
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
      bind (fd, (struct sockaddr *) &sa, sizeof sa) < 0 || getsockname (fd, (struct sockaddr *) &sa, &len) < 0)
    g_error ("cannot reserve a port: %s", g_strerror (errno));
  *port = ntohs (sa.sin_port);
  return fd;
}

static void
bench_reuse_port (Redis  *r,
                  guint   n_clients,
                  double  seconds,
                  guint   runs)
{
  ThHub *ingest;
  g_autofree double *ratio = g_new0 (double, runs);
  g_autofree double *per_core = g_new0 (double, runs);
  g_autofree double *cpu_ratio = g_new0 (double, runs);
  g_autofree double *d1 = g_new0 (double, runs), *d2 = g_new0 (double, runs);
  guint n = 0;
  guint port;
  int fd;
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);

  /* Everything floats here: the kernel spreads edges, clients, Redis and
   * this ingest over the CPUs. */
  restore_cpus (NULL);
  fd = reserve_port (&port);
  ingest = start_hub (r, "ingest", "127.0.0.1:0", FALSE, NULL);
  bench_run_for (300);
  printf ("\n2. edge processes (tickhubd, role=edge) sharing port %u with reuse-port=true; %u /ws clients "
          "(another process) spread over them by the kernel; %.0f s each, 1 then 2 processes, %u time%s; %d CPUs\n",
          port, n_clients, seconds, runs, runs > 1 ? "s" : "", (int) cpus);
  for (guint k = 0; k < runs; k++)
    {
      Share one, two;
      gboolean a = share_run (r, ingest, port, 1, n_clients, seconds, &one);
      gboolean b = share_run (r, ingest, port, 2, n_clients, seconds, &two);

      if (a)
        printf ("1 edge process  : %9.0f deliveries/s to %u clients; edge CPU %.2f s = %.3f µs per delivery\n",
                one.deliveries_s, one.clients, one.cpu_s, one.cpu_us_per_delivery);
      if (b)
        printf ("2 edge processes: %9.0f deliveries/s to %u clients (%u + %u by the kernel); edge CPU %.2f s = "
                "%.3f µs per delivery\n", two.deliveries_s, two.clients, two.spread[0], two.spread[1], two.cpu_s,
                two.cpu_us_per_delivery);
      for (guint i = 0; i < 2; i++)
        {
          const Share *x = i == 0 ? &one : &two;

          if (i == 0 ? a : b)
            printf ("   CPUs busy with %u edge%s (CPU-seconds per second): edges %.2f, clients %.2f, ingest %.2f, "
                    "redis-server %.2f, total %.2f of %d\n", x->edges, x->edges > 1 ? "s" : "",
                    x->cpu_s / x->seconds, x->clients_cpu_s / x->seconds, x->ingest_cpu_s / x->seconds,
                    x->redis_cpu_s / x->seconds,
                    (x->cpu_s + x->clients_cpu_s + x->ingest_cpu_s + x->redis_cpu_s) / x->seconds, (int) cpus);
        }
      if (a && b && one.deliveries_s > 0 && one.cpu_s > 0 && two.cpu_s > 0)
        {
          d1[n] = one.deliveries_s;
          d2[n] = two.deliveries_s;
          ratio[n] = two.deliveries_s / one.deliveries_s;
          per_core[n] = (two.deliveries_s / (two.cpu_s / two.seconds)) / (one.deliveries_s / (one.cpu_s / one.seconds));
          cpu_ratio[n] = two.cpu_us_per_delivery / one.cpu_us_per_delivery;
          printf ("   ratio 2 / 1 processes: %.2f× the deliveries/s; per core used by the edges %.2f× (deliveries "
                  "per edge-CPU-second; the edges used %.2f and %.2f cores); %.2f× the CPU per delivery\n",
                  ratio[n], per_core[n], two.cpu_s / two.seconds, one.cpu_s / one.seconds, cpu_ratio[n]);
          n++;
        }
      fflush (stdout);
    }
  if (n > 0)
    printf ("=> median of %u: 1 edge process %.0f deliveries/s, 2 processes %.0f: ratio %.2f× "
            "(per core used by the edges %.2f×, CPU per delivery %.2f×)\n", n, median (d1, n), median (d2, n),
            median (ratio, n), median (per_core, n), median (cpu_ratio, n));
  fflush (stdout);
  stop_hub (ingest);
  close (fd);
}

int
main (int   argc,
      char *argv[])
{
  guint n_clients = 10, edge_clients = 1000, runs = 3;
  double seconds = 3, share_seconds = 5;
  gboolean latency = TRUE, share = TRUE;
  Redis r = { 0 };

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--clients") && i + 1 < argc)
        n_clients = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--edge-clients") && i + 1 < argc)
        edge_clients = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--edge-cpu") && i + 1 < argc)
        edge_cpu = atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--runs") && i + 1 < argc)
        runs = (guint) atoi (argv[++i]);
      else if (g_str_equal (argv[i], "--seconds") && i + 1 < argc)
        seconds = share_seconds = g_ascii_strtod (argv[++i], NULL);
      else if (g_str_equal (argv[i], "latency"))
        share = FALSE;
      else if (g_str_equal (argv[i], "reuse-port"))
        latency = FALSE;
      else
        {
          fprintf (stderr, "usage: %s [--clients N] [--edge-clients N] [--seconds S] [--runs N] [--edge-cpu CPU] "
                   "[latency|reuse-port]\n",
                   argv[0]);
          return 2;
        }
    }
  if (n_clients == 0 || edge_clients == 0 || seconds <= 0 || runs == 0)
    {
      fprintf (stderr, "%s: clients, seconds and runs must be positive\n", argv[0]);
      return 2;
    }

  sched_getaffinity (0, sizeof original_cpus, &original_cpus);
  fc_pin_cpus (&server_cpu, &client_cpu);
  fc_raise_nofile ();
  signal (SIGPIPE, SIG_IGN);

  r.dir = g_dir_make_tmp ("tickhub-bench-cluster-XXXXXX", NULL);
  r.socket = g_build_filename (r.dir, "redis.sock", NULL);
  redis_start (&r);
  printf ("tickhub cluster benchmark: redis-server 7 on a unix socket; load average ");
  {
    g_autofree char *load = NULL;

    if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
      printf ("%s", load);
    else
      printf ("?\n");
  }
  if (latency)
    bench_latency (&r, n_clients, seconds, runs);
  if (share)
    bench_reuse_port (&r, edge_clients, share_seconds, runs);

  redis_stop (&r);
  rmdir (r.dir);
  g_free (r.socket);
  g_free (r.dir);
  return 0;
}
