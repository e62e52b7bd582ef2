/* bench/universe: tickhubd's CPU with 500 symbols on three venues
 *
 * Why: issue 17 asks whether a universe of 500 symbols on Binance,
 * Coinbase and CoinCap at once fits in a fifth of a core. This starts
 * three loopback venues in this process (libsoup servers speaking each
 * venue's WebSocket protocol and listing endpoint), runs the real
 * build/daemon/tickhubd against them (--no-dbus, its own config, its own
 * cache directory), feeds it at the venues' real message rates per symbol
 * and reads its CPU time (utime + stime from /proc/PID/stat) over a
 * window. The same run with 5 symbols is printed beside it as the
 * reference.
 *
 * Rates per symbol (public figures for liquid USDT/USD pairs, rounded):
 * Binance `ticker` 1/s and `aggTrade` 3/s; Coinbase `ticker` 1/s and
 * `heartbeat` 1/s; CoinCap one frame 2/s holding the half of the assets
 * that changed. For 500 symbols: 3,000 frames/s in all.
 *
 *   meson devenv -C build bench/universe [SECONDS]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "bench-hub.h"

#define TICK_MS 20          /* the sending timer */

typedef struct
{
  const char *name;        /* binance, coinbase, coincap */
  SoupServer *server;
  guint       port;
  GPtrArray  *conns;       /* SoupWebsocketConnection */
} Venue;

typedef struct
{
  guint      n;
  char     **bases;        /* B000… */
  Venue      venues[3];
  guint64    sent;
  guint64    seq;
  guint      step;
} Run;

static void
on_closed (SoupWebsocketConnection *conn,
           Venue                   *v)
{
  g_ptr_array_remove (v->conns, conn);
}

static void
on_ws (SoupServer              *server,
       SoupServerMessage       *msg,
       const char              *path,
       SoupWebsocketConnection *conn,
       gpointer                 data)
{
  Venue *v = data;

  soup_websocket_connection_set_max_incoming_payload_size (conn, 1024 * 1024);
  g_ptr_array_add (v->conns, g_object_ref (conn));
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), v);
}

static void
on_listing (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           data)
{
  Run *run = data;
  const char *venue = g_object_get_data (G_OBJECT (server), "venue");
  g_autoptr(GString) out = g_string_new (NULL);

  if (g_str_equal (venue, "binance"))
    {
      g_string_append (out, "{\"symbols\":[");
      for (guint i = 0; i < run->n; i++)
        g_string_append_printf (out, "%s{\"symbol\":\"%sUSDT\",\"status\":\"TRADING\",\"baseAsset\":\"%s\",\"quoteAsset\":\"USDT\"}",
                                i > 0 ? "," : "", run->bases[i], run->bases[i]);
      g_string_append (out, "]}");
    }
  else if (g_str_equal (venue, "coinbase"))
    {
      g_string_append (out, "[");
      for (guint i = 0; i < run->n; i++)
        g_string_append_printf (out, "%s{\"id\":\"%s-USD\",\"base_currency\":\"%s\",\"quote_currency\":\"USD\",\"status\":\"online\"}",
                                i > 0 ? "," : "", run->bases[i], run->bases[i]);
      g_string_append (out, "]");
    }
  else
    {
      g_string_append (out, "{\"data\":[");
      for (guint i = 0; i < run->n; i++)
        {
          g_autofree char *id = g_ascii_strdown (run->bases[i], -1);

          g_string_append_printf (out, "%s{\"id\":\"%s-coin\",\"symbol\":\"%s\"}", i > 0 ? "," : "", id, run->bases[i]);
        }
      g_string_append (out, "]}");
    }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, out->str, out->len);
}

static void
venue_start (Run        *run,
             Venue      *v,
             const char *name,
             const char *ws_path,
             const char *listing_path)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  v->name = name;
  v->conns = g_ptr_array_new_with_free_func (g_object_unref);
  v->server = soup_server_new (NULL, NULL);
  g_object_set_data (G_OBJECT (v->server), "venue", (gpointer) name);
  soup_server_add_websocket_handler (v->server, ws_path, NULL, NULL, on_ws, v, NULL);
  soup_server_add_handler (v->server, listing_path, on_listing, run, NULL);
  if (!soup_server_listen_local (v->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("listen: %s", error->message);
  uris = soup_server_get_uris (v->server);
  v->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
}

static void
broadcast (Run        *run,
           Venue      *v,
           const char *text)
{
  /* Binance shards: every connection gets it; the daemon ignores what it
   * does not follow on that one, as a venue would not send it. Sent on
   * the first only, to keep the rate honest. */
  if (v->conns->len > 0)
    {
      soup_websocket_connection_send_text (v->conns->pdata[run->step % v->conns->len], text);
      run->sent++;
    }
}

/* Every TICK_MS: this tick's share of each venue's per-second messages. */
static gboolean
on_tick (gpointer data)
{
  Run *run = data;
  guint per_s = 1000 / TICK_MS;
  gint64 ms = g_get_real_time () / 1000;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *iso = g_date_time_format_iso8601 (now);

  run->step++;
  for (guint i = 0; i < run->n; i++)
    {
      g_autofree char *lower = g_ascii_strdown (run->bases[i], -1);
      double price = 100 + i + (run->step % 100) * 0.01;

      /* Binance ticker 1/s, aggTrade 3/s; Coinbase ticker 1/s, heartbeat 1/s. */
      if ((run->step + i) % per_s == 0)
        {
          g_autofree char *t = g_strdup_printf ("{\"stream\":\"%susdt@ticker\",\"data\":{\"e\":\"24hrTicker\",\"E\":%" G_GINT64_FORMAT ","
                                                "\"s\":\"%sUSDT\",\"c\":\"%.2f\",\"b\":\"%.2f\",\"a\":\"%.2f\",\"v\":\"1000\",\"P\":\"0.5\"}}",
                                                lower, ms, run->bases[i], price, price - 0.01, price + 0.01);
          guint64 seq_t = ++run->seq, seq_h = ++run->seq;
          g_autofree char *c = g_strdup_printf ("{\"type\":\"ticker\",\"sequence\":%" G_GUINT64_FORMAT ",\"product_id\":\"%s-USD\","
                                                "\"price\":\"%.2f\",\"open_24h\":\"100\",\"volume_24h\":\"10\",\"best_bid\":\"%.2f\","
                                                "\"best_ask\":\"%.2f\",\"time\":\"%s\",\"trade_id\":%" G_GUINT64_FORMAT "}",
                                                seq_t, run->bases[i], price, price - 0.01, price + 0.01, iso, seq_t);
          g_autofree char *h = g_strdup_printf ("{\"type\":\"heartbeat\",\"sequence\":%" G_GUINT64_FORMAT ",\"last_trade_id\":%" G_GUINT64_FORMAT ","
                                                "\"product_id\":\"%s-USD\",\"time\":\"%s\"}", seq_h, seq_t, run->bases[i], iso);

          broadcast (run, &run->venues[0], t);
          broadcast (run, &run->venues[1], c);
          broadcast (run, &run->venues[1], h);
        }
      if ((run->step + i) % (per_s / 3) == 0)
        {
          g_autofree char *a = g_strdup_printf ("{\"stream\":\"%susdt@aggTrade\",\"data\":{\"e\":\"aggTrade\",\"E\":%" G_GINT64_FORMAT ","
                                                "\"s\":\"%sUSDT\",\"a\":%u,\"p\":\"%.2f\",\"q\":\"0.5\",\"T\":%" G_GINT64_FORMAT ",\"m\":true}}",
                                                lower, ms, run->bases[i], run->step, price, ms);

          broadcast (run, &run->venues[0], a);
        }
    }
  /* CoinCap: 2 frames a second, half of the assets in each. */
  if (run->step % (per_s / 2) == 0)
    {
      g_autoptr(GString) f = g_string_new ("{");

      for (guint i = run->step % 2; i < run->n; i += 2)
        {
          g_autofree char *lower = g_ascii_strdown (run->bases[i], -1);

          g_string_append_printf (f, "%s\"%s-coin\":\"%.2f\"", f->len > 1 ? "," : "", lower, 100 + i + (run->step % 100) * 0.01);
        }
      g_string_append_c (f, '}');
      broadcast (run, &run->venues[2], f->str);
    }
  return G_SOURCE_CONTINUE;
}

static guint64
cpu_ticks (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after = strrchr (text, ')')) == NULL)
    return 0;
  fields = g_strsplit (after + 2, " ", -1);
  /* After "pid (comm) ": state is field 0; utime 11, stime 12. */
  if (g_strv_length (fields) < 13)
    return 0;
  return g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10);
}

static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
}

/* One measurement: @n symbols; returns the daemon's CPU in % of a core. */
static double
measure (guint   n,
         guint   seconds,
         double *rate)
{
  Run run = { .n = n };
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *dir = g_dir_make_tmp ("bench-universe-XXXXXX", NULL);
  g_autofree char *conf = g_build_filename (dir, "tickhub.conf", NULL);
  g_autofree char *symbols = NULL;
  g_autofree char *text = NULL;
  g_autofree char *daemon = bench_tickhubd_path ();
  g_auto(GStrv) env = g_get_environ ();
  char *argv[] = { daemon, "--no-dbus", "-c", conf, NULL };
  g_autoptr(GError) error = NULL;
  guint64 c0, c1;
  gint64 t0, t1;
  guint64 sent0;
  GPid pid;
  guint tick;
  double cpu;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *base = g_strdup_printf ("B%03u", i);

      g_strv_builder_add (b, base);
    }
  run.bases = g_strv_builder_end (b);
  symbols = g_strjoinv (";", run.bases);
  venue_start (&run, &run.venues[0], "binance", "/stream", "/api/v3/exchangeInfo");
  venue_start (&run, &run.venues[1], "coinbase", "/", "/products");
  venue_start (&run, &run.venues[2], "coincap", "/prices", "/v3/assets");

  text = g_strdup_printf ("[tickhub]\nplugins=binance;coinbase;coincap\nsymbols=%s\ntimeframes=1m\n"
                          "[prices]\norder=binance;coinbase;coincap\n"
                          "[binance]\nurl=ws://127.0.0.1:%u/stream\nrest-url=http://127.0.0.1:%u\n"
                          "[coinbase]\nurl=ws://127.0.0.1:%u/\nrest-url=http://127.0.0.1:%u\n"
                          "[coincap]\nurl=ws://127.0.0.1:%u/prices\nrest-url=http://127.0.0.1:%u/v3\napi-key=bench\n",
                          symbols, run.venues[0].port, run.venues[0].port, run.venues[1].port, run.venues[1].port,
                          run.venues[2].port, run.venues[2].port);
  g_file_set_contents (conf, text, -1, NULL);
  env = g_environ_setenv (env, "XDG_CACHE_HOME", dir, TRUE);
  /* BENCH_VERBOSE=1 shows the daemon's log: a rejected frame is logged there. */
  if (!g_spawn_async (NULL, argv, env, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                      (g_getenv ("BENCH_VERBOSE") != NULL ? 0 : G_SPAWN_STDERR_TO_DEV_NULL),
                      NULL, NULL, &pid, &error))
    g_error ("cannot start %s: %s", daemon, error->message);

  /* Connected and subscribed from the listings, then warmed up. */
  tick = g_timeout_add (TICK_MS, on_tick, &run);
  run_for (4000);
  c0 = cpu_ticks (pid);
  t0 = g_get_monotonic_time ();
  sent0 = run.sent;
  run_for (seconds * 1000);
  c1 = cpu_ticks (pid);
  t1 = g_get_monotonic_time ();
  g_source_remove (tick);

  cpu = 100.0 * (double) (c1 - c0) / (double) sysconf (_SC_CLK_TCK) / ((t1 - t0) / 1e6);
  *rate = (run.sent - sent0) / ((t1 - t0) / 1e6);
  if (run.venues[0].conns->len == 0 || run.venues[1].conns->len == 0 || run.venues[2].conns->len == 0)
    g_printerr ("universe: warning: a venue had no connection (binance %u, coinbase %u, coincap %u)\n",
                run.venues[0].conns->len, run.venues[1].conns->len, run.venues[2].conns->len);

  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  for (guint v = 0; v < 3; v++)
    {
      soup_server_disconnect (run.venues[v].server);
      g_object_unref (run.venues[v].server);
      g_ptr_array_unref (run.venues[v].conns);
    }
  g_unlink (conf);
  {
    g_autofree char *cache = g_build_filename (dir, "tickhub", NULL);
    const char *names[] = { "binance-listing.json", "coinbase-listing.json", "coincap-listing.json" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *p = g_build_filename (cache, names[i], NULL);

        g_unlink (p);
      }
    g_rmdir (cache);
  }
  g_rmdir (dir);
  g_strfreev (run.bases);
  return cpu;
}

int
main (int   argc,
      char *argv[])
{
  guint seconds = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 10;
  double rate_ref, rate;
  double ref, cpu;

  if (seconds == 0)
    seconds = 10;
  ref = measure (5, seconds, &rate_ref);
  cpu = measure (500, seconds, &rate);
  printf ("universe: tickhubd CPU over %u s, 3 venues (binance, coinbase, coincap) at real per-symbol rates\n", seconds);
  printf ("universe:   5 symbols (reference): %6.1f %% of a core at %6.0f frames/s\n", ref, rate_ref);
  printf ("universe: 500 symbols:             %6.1f %% of a core at %6.0f frames/s (goal < 20 %%)\n", cpu, rate);
  return 0;
}
