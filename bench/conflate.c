/* conflate.c: what set_options {"conflate_ms"} saves a client
 *
 *   bench/conflate [SECONDS] [CLIENTS]
 *
 * A hub with the server sink and 500 symbols, each updated 10 times a
 * second (5,000 ticks/s, pushed from a 10 ms timer of the main loop), and
 * CLIENTS (default 10) /ws clients in the same process, in the
 * financial_data room, which ask for conflate_ms 0 (off), 200 and 1000 in
 * turn. For each it prints the financial_data_update messages and bytes a
 * client gets a second and the process's CPU time a second (the hub, the
 * server and the clients' reading), beside the reference: the same without
 * conflation, 5,000 updates/s a client.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <libsoup/soup.h>

#include "th-private.h"
#include "bench-hub.h"

#define N_SYMBOLS 500
#define RATE      10      /* updates a second per symbol */
#define TICK_MS   10

typedef struct
{
  SoupWebsocketConnection *ws;
  guint64 updates;
  guint64 bytes;
  guint   conflate_ms;    /* confirmed by options_set */
} Client;

static char *symbols[N_SYMBOLS];
static double prices[N_SYMBOLS];

static void
on_message (SoupWebsocketConnection *ws,
            gint                     type,
            GBytes                  *message,
            gpointer                 data)
{
  Client *c = data;
  gsize len;
  const char *text = g_bytes_get_data (message, &len);

  if (len > 32 && strncmp (text, "{\"event\":\"financial_data_update\"", 32) == 0)
    {
      c->updates++;
      c->bytes += len;
    }
  else if (len > 26 && strncmp (text, "{\"event\":\"options_set\"", 22) == 0)
    {
      const char *v = strstr (text, "\"conflate_ms\":");

      if (v != NULL)
        c->conflate_ms = (guint) g_ascii_strtoull (v + 14, NULL, 10);
    }
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      data)
{
  Client *c = data;
  g_autoptr(GError) error = NULL;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (c->ws == NULL)
    g_error ("connect: %s", error->message);
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 0);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_message), c);
  soup_websocket_connection_send_text (c->ws, "{\"event\":\"join_room\",\"data\":{\"room\":\"financial_data\"}}");
}

static gboolean
push_ticks (gpointer data)
{
  ThHub *hub = data;
  static guint next;
  gint64 now = g_get_real_time ();

  /* 500 symbols × 10/s = 50 ticks every 10 ms, round robin. */
  for (guint i = 0; i < N_SYMBOLS * RATE * TICK_MS / 1000; i++)
    {
      guint s = next++ % N_SYMBOLS;
      g_autoptr(ThTick) tick = NULL;

      prices[s] *= 1 + (g_random_double () - 0.5) * 1e-4;
      tick = th_tick_new (symbols[s], "binance", TH_TICK_KIND_QUOTE, nearbyint (prices[s] * 100) / 100, now);
      tick->bid = tick->price - 0.01;
      tick->ask = tick->price + 0.01;
      th_hub_push_tick (hub, tick);
    }
  return G_SOURCE_CONTINUE;
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main (int   argc,
      char *argv[])
{
  static const guint modes[] = { 0, 200, 1000 };
  double seconds = argc > 1 ? g_ascii_strtod (argv[1], NULL) : 5;
  guint n_clients = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : 10;
  g_autoptr(GString) text = g_string_new ("[tickhub]\nplugins=server\ntimeframes=1m\nsymbols=");
  g_autoptr(GPtrArray) sinks = NULL;
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autofree Client *clients = NULL;
  double reference_updates = 0, reference_bytes = 0, reference_cpu = 0;
  guint port, timer;
  ThHub *hub;

  if (seconds <= 0 || n_clients == 0)
    {
      g_printerr ("usage: conflate [SECONDS] [CLIENTS]\n");
      return 2;
    }
  for (guint i = 0; i < N_SYMBOLS; i++)
    {
      symbols[i] = g_strdup_printf ("S%03u", i);
      prices[i] = 100 + i;
      g_string_append_printf (text, "%s%s", i ? ";" : "", symbols[i]);
    }
  g_string_append (text, "\n[prices]\norder=binance\n[binance]\nttl=3600\n"
                   "[server]\nlisten=127.0.0.1:0\nrate-limit=0\nstatus-interval=0\n"
                   "client-buffer=16777216\nping-interval=3600\n");
  hub = bench_hub_new (text->str, NULL);
  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  g_object_get (sinks->pdata[0], "port", &port, NULL);

  clients = g_new0 (Client, n_clients);
  for (guint i = 0; i < n_clients; i++)
    {
      g_autofree char *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
      g_autoptr(SoupMessage) msg = soup_message_new ("GET", url);

      soup_session_websocket_connect_async (session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                            on_connected, &clients[i]);
    }
  for (guint i = 0; i < n_clients; i++)
    while (clients[i].ws == NULL)
      g_main_context_iteration (NULL, TRUE);

  printf ("bench/conflate: %u symbols × %u updates/s (%u ticks/s), %u /ws clients in financial_data, %.0f s each\n",
          N_SYMBOLS, RATE, N_SYMBOLS * RATE, n_clients, seconds);
  printf ("%-12s %16s %14s %12s   %s\n", "conflate_ms", "updates/s/client", "KiB/s/client", "CPU s/s", "reference (conflate_ms 0)");
  timer = g_timeout_add (TICK_MS, push_ticks, hub);
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      g_autofree char *set = g_strdup_printf ("{\"event\":\"set_options\",\"data\":{\"conflate_ms\":%u}}", modes[m]);
      guint64 updates = 0, bytes = 0;
      double cpu0, cpu1, per_updates, per_bytes, cpu;
      gboolean all;

      for (guint i = 0; i < n_clients; i++)
        soup_websocket_connection_send_text (clients[i].ws, set);
      do
        {
          g_main_context_iteration (NULL, TRUE);
          all = TRUE;
          for (guint i = 0; i < n_clients; i++)
            all = all && clients[i].conflate_ms == modes[m];
        }
      while (!all);
      bench_run_for (MAX (1000, 2 * modes[m]));        /* settle */
      for (guint i = 0; i < n_clients; i++)
        clients[i].updates = clients[i].bytes = 0;
      cpu0 = cpu_seconds ();
      bench_run_for ((guint) (seconds * 1000));
      cpu1 = cpu_seconds ();
      for (guint i = 0; i < n_clients; i++)
        {
          updates += clients[i].updates;
          bytes += clients[i].bytes;
        }
      per_updates = updates / (double) n_clients / seconds;
      per_bytes = bytes / (double) n_clients / seconds / 1024;
      cpu = (cpu1 - cpu0) / seconds;
      if (modes[m] == 0)
        {
          reference_updates = per_updates;
          reference_bytes = per_bytes;
          reference_cpu = cpu;
        }
      printf ("%-12u %16.0f %14.0f %12.2f   %.0f updates/s, %.0f KiB/s, %.2f CPU s/s (%.1fx fewer updates)\n",
              modes[m], per_updates, per_bytes, cpu, reference_updates, reference_bytes, reference_cpu,
              per_updates > 0 ? reference_updates / per_updates : 0);
      fflush (stdout);
    }
  g_source_remove (timer);

  for (guint i = 0; i < n_clients; i++)
    {
      soup_websocket_connection_close (clients[i].ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      g_clear_object (&clients[i].ws);
    }
  bench_hub_stop (hub);
  g_object_unref (hub);
  for (guint i = 0; i < N_SYMBOLS; i++)
    g_free (symbols[i]);
  return 0;
}
