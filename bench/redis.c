/* bench/redis: the redis plugin against a real redis-server
 *
 *   1. Throughput: an ingest hub (the redis sink) publishing every event of
 *      N ticks to the stream, from the first push until XLEN has them all,
 *      beside the reference: the same number of envelopes XADDed by a
 *      plain pipelined hiredis loop on one connection.
 *   2. Latency: ingest → Redis → edge in one process, at 1,000 ticks/s:
 *      from th_hub_push_tick() on the ingest hub to ::price-changed on the
 *      edge hub, percentiles.
 *
 * redis-server runs in a temporary folder on a unix socket, stopped by
 * its pid. Run: meson devenv -C build bench/redis [N]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "th-private.h"
#include "bench-hub.h"

static const char *const symbols[] = { "BTC", "ETH", "SOL", "ADA", "XRP" };

typedef struct
{
  char *dir;
  char *socket;
  GPid  pid;
} Redis;

static redisContext *
redis_connect (Redis *r)
{
  redisContext *c = redisConnectUnix (r->socket);

  if (c == NULL || c->err)
    {
      if (c != NULL)
        redisFree (c);
      return NULL;
    }
  return c;
}

static long long
redis_int (Redis      *r,
           const char *command)
{
  redisContext *c = redis_connect (r);
  redisReply *reply;
  long long v = -1;

  if (c == NULL)
    return -1;
  reply = redisCommand (c, command);
  if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
    v = reply->integer;
  if (reply != NULL)
    freeReplyObject (reply);
  redisFree (c);
  return v;
}

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
                      NULL, NULL, &r->pid, &error))
    g_error ("cannot start redis-server (setup.sh installs it): %s", error->message);
  while ((c = redis_connect (r)) == NULL && g_get_monotonic_time () < deadline)
    g_usleep (20000);
  if (c == NULL)
    g_error ("redis-server did not answer on %s", r->socket);
  redisFree (c);
}

static void
redis_stop (Redis *r)
{
  int status;

  kill (r->pid, SIGTERM);
  waitpid (r->pid, &status, 0);
  g_spawn_close_pid (r->pid);
}

static void
redis_flush (Redis *r)
{
  redisContext *c = redis_connect (r);

  freeReplyObject (redisCommand (c, "FLUSHALL"));
  redisFree (c);
}

static void
on_event (ThHub   *hub,
          ThEvent *event,
          guint   *n)
{
  (*n)++;
}

static void
push (ThHub  *hub,
      guint   i,
      double  price)
{
  g_autoptr(ThTick) tick = th_tick_new (symbols[i % G_N_ELEMENTS (symbols)], "binance",
                                        TH_TICK_KIND_TRADE, price, g_get_real_time ());

  tick->size = 0.01;
  th_hub_push_tick (hub, tick);
}

/* 1. Throughput */

static double
bench_sink (Redis *r,
            guint  n_ticks,
            guint *n_events_out)
{
  g_autofree char *text = g_strdup_printf (
    "[tickhub]\nplugins=redis\nsymbols=BTC;ETH;SOL;ADA;XRP\ntimeframes=1m\n"
    "[prices]\norder=binance\n"
    "[redis]\nurl=unix://%s\nrole=ingest\nlease=0\nmax-length=100000000\nmax-queue=100000000\n", r->socket);
  g_autoptr(ThHub) hub = bench_hub_new (text, NULL);
  guint n_events = 0;
  gint64 t0, deadline;
  long long len = 0;

  g_signal_connect (hub, "event", G_CALLBACK (on_event), &n_events);
  th_hub_start (hub);
  /* Connected and idle first. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  len = redis_int (r, "XLEN tickhub:events");
  n_events = 0;

  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n_ticks; i++)
    {
      push (hub, i, 40000 + (i % 1000) * 0.01);
      if (i % 256 == 0)
        while (g_main_context_iteration (NULL, FALSE))
          ;
    }
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (redis_int (r, "XLEN tickhub:events") < len + n_events && g_get_monotonic_time () < deadline)
    {
      gint64 until = g_get_monotonic_time () + 5000;

      while (g_get_monotonic_time () < until)
        g_main_context_iteration (NULL, FALSE);
    }
  *n_events_out = n_events;
  bench_hub_stop (hub);
  return (g_get_monotonic_time () - t0) / 1e6;
}

static double
bench_plain (Redis *r,
             guint  n)
{
  redisContext *c = redis_connect (r);
  const char *envelope = "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":{\"price\":40000.01,"
                         "\"volume\":null,\"change\":null,\"bid\":null,\"ask\":null,\"source\":\"binance\","
                         "\"timestamp\":\"2026-12-05T17:00:00.000Z\"}}}";
  gint64 t0 = g_get_monotonic_time ();
  guint batch = 1000;

  for (guint done = 0; done < n; done += batch)
    {
      guint k = MIN (batch, n - done);

      for (guint i = 0; i < k; i++)
        redisAppendCommand (c, "XADD plain * e %s n bench", envelope);
      for (guint i = 0; i < k; i++)
        {
          void *reply = NULL;

          if (redisGetReply (c, &reply) != REDIS_OK)
            g_error ("XADD: %s", c->errstr);
          freeReplyObject (reply);
        }
    }
  redisFree (c);
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* 2. Latency */

typedef struct
{
  GHashTable *sent;       /* price (as gint64 cents) → push time */
  GArray     *latencies;  /* double, ms */
} Latency;

static void
on_price (ThHub   *hub,
          const char *symbol,
          ThTick  *tick,
          Latency *l)
{
  gint64 key = (gint64) llround (tick->price * 100);
  gpointer t;

  if (g_hash_table_lookup_extended (l->sent, &key, NULL, &t))
    {
      double ms = (g_get_monotonic_time () - *(gint64 *) t) / 1e3;

      g_array_append_val (l->latencies, ms);
      g_hash_table_remove (l->sent, &key);
    }
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static void
bench_latency (Redis *r,
               guint  n)
{
  g_autofree char *in = g_strdup_printf (
    "[tickhub]\nplugins=redis\nsymbols=BTC\ntimeframes=1m\n[prices]\norder=binance\n"
    "[redis]\nurl=unix://%s\nrole=ingest\nlease=0\n", r->socket);
  g_autofree char *out = g_strdup_printf (
    "[tickhub]\nplugins=redis\nsymbols=BTC\ntimeframes=1m\n[prices]\norder=binance\n"
    "[redis]\nurl=unix://%s\nrole=edge\n", r->socket);
  g_autoptr(ThHub) ingest = bench_hub_new (in, NULL);
  g_autoptr(ThHub) edge = bench_hub_new (out, NULL);
  Latency l = { g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free),
                g_array_new (FALSE, FALSE, sizeof (double)) };
  gint64 deadline;
  double *v;

  g_signal_connect (edge, "price-changed", G_CALLBACK (on_price), &l);
  th_hub_start (ingest);
  th_hub_start (edge);
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);

  for (guint i = 0; i < n; i++)
    {
      double price = 30000 + i * 0.01;
      gint64 *key = g_new (gint64, 1), *t = g_new (gint64, 1);
      gint64 next = g_get_monotonic_time () + 1000;

      *key = (gint64) llround (price * 100);
      *t = g_get_monotonic_time ();
      g_hash_table_insert (l.sent, key, t);
      push (ingest, 0, price);
      while (g_get_monotonic_time () < next)
        g_main_context_iteration (NULL, FALSE);
    }
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (g_hash_table_size (l.sent) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);

  g_array_sort (l.latencies, compare_doubles);
  v = (double *) l.latencies->data;
  if (l.latencies->len == 0)
    printf ("latency: no price reached the edge\n");
  else
    printf ("ingest → Redis → edge at 1,000 ticks/s: %u/%u arrived, p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
            l.latencies->len, n, v[l.latencies->len / 2], v[(guint) (l.latencies->len * 0.99)],
            v[l.latencies->len - 1]);
  bench_hub_stop (ingest);
  bench_hub_stop (edge);
  g_hash_table_unref (l.sent);
  g_array_unref (l.latencies);
}

int
main (int   argc,
      char *argv[])
{
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 100000;
  Redis r = { 0 };
  guint n_events = 0;
  double sink_s, plain_s;

  r.dir = g_dir_make_tmp ("tickhub-bench-redis-XXXXXX", NULL);
  r.socket = g_build_filename (r.dir, "redis.sock", NULL);
  redis_start (&r);

  printf ("tickhub redis benchmark: redis-server on a unix socket, %u ticks of 5 symbols\n", n);
  sink_s = bench_sink (&r, n, &n_events);
  redis_flush (&r);
  plain_s = bench_plain (&r, n_events);
  printf ("%-44s %9.0f events/s (%u events in %.2f s)\n", "redis sink (hub → XADD, hashes)", n_events / sink_s,
          n_events, sink_s);
  printf ("%-44s %9.0f events/s   ratio %.2f\n", "reference: pipelined XADD loop, one connection",
          n_events / plain_s, plain_s / sink_s);
  redis_flush (&r);
  bench_latency (&r, 2000);

  redis_stop (&r);
  unlink (r.socket);
  rmdir (r.dir);
  g_free (r.socket);
  g_free (r.dir);
  return 0;
}
