/* th-server-metrics.c: GET /metrics in the Prometheus text format, and the
 * process figures of system_status_update
 *
 * Feeds are labelled by their plugin's name (th_hub_get_plugin_name:
 * binance, coingecko, rest_poll_py), sources (the price hierarchy) by
 * source name.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "th-server-private.h"

/* Seconds; the last bucket is +Inf. */
const double th_server_latency_bounds[TH_SERVER_LATENCY_BUCKETS] = {
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

void
th_server_observe_latency (ThServerStats *stats,
                           gint64         usec)
{
  double s = MAX (usec, 0) / (double) G_USEC_PER_SEC;
  guint i = 0;

  while (i < TH_SERVER_LATENCY_BUCKETS && s > th_server_latency_bounds[i])
    i++;
  stats->latency_counts[i]++;
  stats->latency_sum += s;
  stats->latency_count++;
}

/* Resident memory (bytes) from /proc/self/statm and CPU time (user +
 * system, seconds) from getrusage(). */
gboolean
th_server_process_figures (gint64 *rss_bytes,
                           double *cpu_seconds)
{
  struct rusage ru;
  g_autofree char *statm = NULL;
  gboolean ok = TRUE;

  *rss_bytes = 0;
  *cpu_seconds = 0;
  if (g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    {
      char **fields = g_strsplit (statm, " ", 3);

      if (fields[0] != NULL && fields[1] != NULL)
        *rss_bytes = g_ascii_strtoll (fields[1], NULL, 10) * sysconf (_SC_PAGESIZE);
      g_strfreev (fields);
    }
  else
    ok = FALSE;
  if (getrusage (RUSAGE_SELF, &ru) == 0)
    *cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  else
    ok = FALSE;
  return ok;
}

static void
header (GString    *out,
        const char *name,
        const char *type,
        const char *help)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values here are plugin, source, event and room names: checked
 * names without quotes or backslashes; escaped anyway. */
static void
label (GString    *out,
       const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\' || *p == '"')
        g_string_append_c (out, '\\');
      if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

/* The plugin's name: binance, coingecko, rest_poll_py... */
static char *
feed_name (ThHub   *hub,
           GObject *feed)
{
  const char *name = th_hub_get_plugin_name (hub, feed);

  return g_strdup (name != NULL ? name : G_OBJECT_TYPE_NAME (feed));
}

static guint64
stat_u64 (GVariant   *stats,
          const char *key,
          gboolean   *found)
{
  guint64 v = 0;

  *found = stats != NULL && g_variant_lookup (stats, key, "t", &v);
  return v;
}

static void
feed_counter (GString    *out,
              ThHub      *hub,
              GPtrArray  *feeds,
              GVariant  **stats,
              const char *metric,
              const char *key,
              const char *help)
{
  header (out, metric, "counter", help);
  for (guint i = 0; i < feeds->len; i++)
    {
      g_autofree char *name = feed_name (hub, feeds->pdata[i]);
      gboolean found;
      guint64 v = stat_u64 (stats[i], key, &found);

      if (!found)
        continue;
      g_string_append_printf (out, "%s{feed=\"", metric);
      label (out, name);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", v);
    }
}

char *
th_server_render_metrics (ThServer *self)
{
  static const char *const states[] = { "connecting", "live", "stale", "down", "disabled" };
  ThHub *hub = th_server_get_hub (self);
  ThServerStats *st = th_server_get_stats (self);
  GString *out = g_string_sized_new (4096);
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  g_auto(GStrv) sources = th_hub_list_sources (hub);
  GVariant **stats = g_new0 (GVariant *, feeds->len + 1);
  GList *rooms = th_server_list_rooms (self);
  GList *clients = th_server_list_clients (self);
  g_autoptr(GList) events = NULL;
  gsize queued = 0;
  guint64 cumulative = 0;
  gint64 rss;
  double cpu;

  for (guint i = 0; i < feeds->len; i++)
    {
      stats[i] = th_feed_source_get_stats (feeds->pdata[i]);
      if (stats[i] != NULL)
        g_variant_ref_sink (stats[i]);
    }

  feed_counter (out, hub, feeds, stats, "tickhub_feed_messages_total", "messages", "Messages received from the venue.");
  feed_counter (out, hub, feeds, stats, "tickhub_feed_bytes_total", "bytes", "Bytes received from the venue.");
  feed_counter (out, hub, feeds, stats, "tickhub_feed_parse_errors_total", "parse_errors", "Messages that could not be parsed.");
  feed_counter (out, hub, feeds, stats, "tickhub_feed_reconnects_total", "reconnects", "Reconnections to the venue.");
  feed_counter (out, hub, feeds, stats, "tickhub_feed_ticks_total", "ticks", "Ticks the feed produced.");

  header (out, "tickhub_source_state", "gauge", "1 for the current state of each price source.");
  for (guint i = 0; sources != NULL && sources[i] != NULL; i++)
    {
      ThSourceState state = th_hub_get_source_state (hub, sources[i], NULL);

      for (guint s = 0; s < G_N_ELEMENTS (states); s++)
        {
          g_string_append (out, "tickhub_source_state{source=\"");
          label (out, sources[i]);
          g_string_append_printf (out, "\",state=\"%s\"} %d\n", states[s],
                                  g_str_equal (th_source_state_to_string (state), states[s]));
        }
    }

  if (th_hub_get_history (hub) != NULL)
    {
      ThHistory *history = th_hub_get_history (hub);
      ThSourceState state = th_history_get_state (history, NULL);
      g_autoptr(GVariant) hstats = th_history_get_stats (history);
      static const char *const kinds[] = { "candles", "ticks", "source_changes", NULL };
      guint64 v;

      header (out, "tickhub_store_state", "gauge", "1 for the current state of the history store.");
      for (guint s = 0; s < G_N_ELEMENTS (states); s++)
        g_string_append_printf (out, "tickhub_store_state{state=\"%s\"} %d\n", states[s],
                                g_str_equal (th_source_state_to_string (state), states[s]));
      header (out, "tickhub_store_rows_written_total", "counter", "Rows the history store wrote, by kind.");
      for (guint k = 0; kinds[k] != NULL; k++)
        if (g_variant_lookup (hstats, kinds[k], "t", &v))
          g_string_append_printf (out, "tickhub_store_rows_written_total{kind=\"%s\"} %" G_GUINT64_FORMAT "\n", kinds[k], v);
      if (g_variant_lookup (hstats, "queued", "t", &v))
        {
          header (out, "tickhub_store_queued", "gauge", "Records waiting for the history store's writer.");
          g_string_append_printf (out, "tickhub_store_queued %" G_GUINT64_FORMAT "\n", v);
        }
      if (g_variant_lookup (hstats, "dropped", "t", &v))
        {
          header (out, "tickhub_store_dropped_total", "counter", "Records the history store dropped: its queue was full.");
          g_string_append_printf (out, "tickhub_store_dropped_total %" G_GUINT64_FORMAT "\n", v);
        }
      if (g_variant_lookup (hstats, "failures", "t", &v))
        {
          header (out, "tickhub_store_failures_total", "counter", "Writes of the history store that failed.");
          g_string_append_printf (out, "tickhub_store_failures_total %" G_GUINT64_FORMAT "\n", v);
        }
    }

  header (out, "tickhub_ticks_total", "counter", "Ticks the hub took in, by price source.");
  for (guint i = 0; sources != NULL && sources[i] != NULL; i++)
    {
      g_string_append (out, "tickhub_ticks_total{source=\"");
      label (out, sources[i]);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", th_hub_get_source_ticks (hub, sources[i]));
    }

  header (out, "tickhub_ticks_rejected_total", "counter", "Ticks the hub rejected (bad values, unknown symbols).");
  g_string_append_printf (out, "tickhub_ticks_rejected_total %" G_GUINT64_FORMAT "\n", th_hub_get_rejected_ticks (hub));
  header (out, "tickhub_price_divergences_total", "counter",
          "Times a symbol's first fresh source deviated from the others beyond [prices] divergence.");
  g_string_append_printf (out, "tickhub_price_divergences_total %" G_GUINT64_FORMAT "\n", th_hub_get_divergences (hub));

  header (out, "tickhub_events_total", "counter", "Events the server sink received from the hub, by name.");
  events = g_list_sort (g_hash_table_get_keys (st->events), (GCompareFunc) strcmp);
  for (GList *l = events; l != NULL; l = l->next)
    {
      g_string_append (out, "tickhub_events_total{event=\"");
      label (out, l->data);
      g_string_append_printf (out, "\"} %" G_GUINT64_FORMAT "\n", *(guint64 *) g_hash_table_lookup (st->events, l->data));
    }

  for (GList *l = clients; l != NULL; l = l->next)
    queued += ((ThServerClient *) l->data)->transport->get_queued (l->data);

  header (out, "tickhub_server_clients", "gauge", "Connected clients, by transport.");
  {
    /* Every transport, with 0 for those nobody uses now. */
    static const char *const transports[] = { "websocket", "socket.io/polling", "socket.io/websocket", NULL };

    for (guint i = 0; transports[i] != NULL; i++)
      {
        guint n = 0;

        for (GList *l = clients; l != NULL; l = l->next)
          n += g_str_equal (th_server_client_transport_name (l->data), transports[i]);
        g_string_append_printf (out, "tickhub_server_clients{transport=\"%s\"} %u\n", transports[i], n);
      }
  }
  header (out, "tickhub_server_connections_total", "counter", "Connections accepted.");
  g_string_append_printf (out, "tickhub_server_connections_total %" G_GUINT64_FORMAT "\n", st->connections);
  header (out, "tickhub_server_refused_total", "counter", "Handshakes refused (max-connections, allowed-origins).");
  g_string_append_printf (out, "tickhub_server_refused_total %" G_GUINT64_FORMAT "\n", st->refused);
  header (out, "tickhub_server_disconnects_total", "counter", "Clients the server disconnected, by reason.");
  g_string_append_printf (out, "tickhub_server_disconnects_total{reason=\"slow\"} %" G_GUINT64_FORMAT "\n", st->disconnects_slow);
  g_string_append_printf (out, "tickhub_server_disconnects_total{reason=\"rate_limited\"} %" G_GUINT64_FORMAT "\n", st->disconnects_rate);
  g_string_append_printf (out, "tickhub_server_disconnects_total{reason=\"message_too_big\"} %" G_GUINT64_FORMAT "\n", st->disconnects_size);
  header (out, "tickhub_server_rooms", "gauge", "Rooms, the four fixed ones included.");
  g_string_append_printf (out, "tickhub_server_rooms %u\n", g_list_length (rooms));
  header (out, "tickhub_server_room_members", "gauge", "Clients in each room.");
  for (GList *l = rooms; l != NULL; l = l->next)
    {
      g_string_append (out, "tickhub_server_room_members{room=\"");
      label (out, l->data);
      g_string_append_printf (out, "\"} %u\n", th_server_count_room (self, l->data));
    }
  header (out, "tickhub_server_sent_messages_total", "counter", "Events written to clients.");
  g_string_append_printf (out, "tickhub_server_sent_messages_total %" G_GUINT64_FORMAT "\n", st->sent_messages);
  header (out, "tickhub_server_sent_bytes_total", "counter", "Bytes of events written to clients, framing included.");
  g_string_append_printf (out, "tickhub_server_sent_bytes_total %" G_GUINT64_FORMAT "\n", st->sent_bytes);
  header (out, "tickhub_server_dropped_total", "counter", "Events dropped because a client read too slowly.");
  g_string_append_printf (out, "tickhub_server_dropped_total %" G_GUINT64_FORMAT "\n", st->dropped);
  header (out, "tickhub_server_conflated_total", "counter", "Updates replaced by a newer one (conflate-ms).");
  g_string_append_printf (out, "tickhub_server_conflated_total %" G_GUINT64_FORMAT "\n", st->conflated);
  header (out, "tickhub_server_queued_bytes", "gauge", "Bytes waiting to be written, all clients.");
  g_string_append_printf (out, "tickhub_server_queued_bytes %" G_GSIZE_FORMAT "\n", queued);
  header (out, "tickhub_server_client_messages_total", "counter", "Messages received from clients.");
  g_string_append_printf (out, "tickhub_server_client_messages_total %" G_GUINT64_FORMAT "\n", st->client_messages);
  header (out, "tickhub_server_auth_failures_total", "counter",
          "Requests and connections refused for a missing or invalid token.");
  g_string_append_printf (out, "tickhub_server_auth_failures_total %" G_GUINT64_FORMAT "\n",
                          th_server_auth_get_failures (th_server_get_auth (self)));
  header (out, "tickhub_server_socketio_encodings_total", "counter",
          "Events turned into Socket.IO packets (once per event, shared by every Socket.IO client).");
  g_string_append_printf (out, "tickhub_server_socketio_encodings_total %" G_GUINT64_FORMAT "\n", st->sio_encodings);
  header (out, "tickhub_server_ws_bad_messages_total", "counter",
          "/ws messages that are not a JSON envelope (not JSON, nested too deeply, a NUL in a string, no event).");
  g_string_append_printf (out, "tickhub_server_ws_bad_messages_total %" G_GUINT64_FORMAT "\n", st->ws_bad_messages);
  header (out, "tickhub_server_socketio_bad_packets_total", "counter",
          "Malformed or unsupported Socket.IO / Engine.IO packets (binary, unknown types, bad JSON, overlapping polls).");
  g_string_append_printf (out, "tickhub_server_socketio_bad_packets_total %" G_GUINT64_FORMAT "\n", st->sio_bad_packets);
  header (out, "tickhub_server_socketio_unauthorized_total", "counter", "Socket.IO namespace connects refused by authentication.");
  g_string_append_printf (out, "tickhub_server_socketio_unauthorized_total %" G_GUINT64_FORMAT "\n", st->sio_unauthorized);
  header (out, "tickhub_server_socketio_ping_timeouts_total", "counter", "Socket.IO sessions closed because no pong came within ping-timeout.");
  g_string_append_printf (out, "tickhub_server_socketio_ping_timeouts_total %" G_GUINT64_FORMAT "\n", st->sio_timeouts);
  header (out, "tickhub_server_http_requests_total", "counter", "HTTP requests answered.");
  g_string_append_printf (out, "tickhub_server_http_requests_total %" G_GUINT64_FORMAT "\n", st->http_requests);
  header (out, "tickhub_server_socketio_connect_timeouts_total", "counter",
          "Socket.IO sessions closed because they did not connect the namespace in time.");
  g_string_append_printf (out, "tickhub_server_socketio_connect_timeouts_total %" G_GUINT64_FORMAT "\n",
                          st->sio_connect_timeouts);
  header (out, "tickhub_server_sockets", "gauge",
          "Accepted sockets open (HTTP, Socket.IO polling and WebSocket), counted against max-sockets.");
  g_string_append_printf (out, "tickhub_server_sockets %u\n", th_server_count_sockets (self));
  header (out, "tickhub_server_max_sockets", "gauge", "The [server] max-sockets limit in effect.");
  g_string_append_printf (out, "tickhub_server_max_sockets %u\n", th_server_get_max_sockets (self));
  header (out, "tickhub_server_sockets_accepted_total", "counter", "Sockets accepted.");
  g_string_append_printf (out, "tickhub_server_sockets_accepted_total %" G_GUINT64_FORMAT "\n", st->sockets_accepted);
  header (out, "tickhub_server_sockets_refused_total", "counter", "Sockets closed at once because max-sockets were open.");
  g_string_append_printf (out, "tickhub_server_sockets_refused_total %" G_GUINT64_FORMAT "\n", st->sockets_refused);
  header (out, "tickhub_server_tls_failures_total", "counter", "TLS handshakes that failed.");
  g_string_append_printf (out, "tickhub_server_tls_failures_total %" G_GUINT64_FORMAT "\n", st->tls_failures);
  header (out, "tickhub_server_http_timeouts_total", "counter",
          "HTTP connections closed for not sending a request's headers (header), its body (body) "
          "or another request (idle) in time.");
  g_string_append_printf (out, "tickhub_server_http_timeouts_total{phase=\"header\"} %" G_GUINT64_FORMAT "\n"
                          "tickhub_server_http_timeouts_total{phase=\"body\"} %" G_GUINT64_FORMAT "\n"
                          "tickhub_server_http_timeouts_total{phase=\"idle\"} %" G_GUINT64_FORMAT "\n",
                          st->http_timeouts_header, st->http_timeouts_body, st->http_timeouts_idle);
  header (out, "tickhub_server_http_bad_framing_total", "counter",
          "Requests refused (400, connection closed) for an ambiguous length: Content-Length with "
          "Transfer-Encoding, different Content-Lengths, or one that is not a number.");
  g_string_append_printf (out, "tickhub_server_http_bad_framing_total %" G_GUINT64_FORMAT "\n", st->http_bad_framing);

  header (out, "tickhub_server_send_latency_seconds", "histogram",
          "From the hub handing an event to the server to its last byte written to the client's socket.");
  for (guint i = 0; i < TH_SERVER_LATENCY_BUCKETS; i++)
    {
      char bound[G_ASCII_DTOSTR_BUF_SIZE];

      cumulative += st->latency_counts[i];
      g_ascii_formatd (bound, sizeof bound, "%g", th_server_latency_bounds[i]);
      g_string_append_printf (out, "tickhub_server_send_latency_seconds_bucket{le=\"%s\"} %" G_GUINT64_FORMAT "\n",
                              bound, cumulative);
    }
  cumulative += st->latency_counts[TH_SERVER_LATENCY_BUCKETS];
  g_string_append_printf (out, "tickhub_server_send_latency_seconds_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", cumulative);
  {
    char sum[G_ASCII_DTOSTR_BUF_SIZE];

    g_ascii_formatd (sum, sizeof sum, "%.9g", st->latency_sum);
    g_string_append_printf (out, "tickhub_server_send_latency_seconds_sum %s\n", sum);
  }
  g_string_append_printf (out, "tickhub_server_send_latency_seconds_count %" G_GUINT64_FORMAT "\n", st->latency_count);

  th_server_process_figures (&rss, &cpu);
  header (out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  g_string_append_printf (out, "process_resident_memory_bytes %" G_GINT64_FORMAT "\n", rss);
  header (out, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
  {
    char v[G_ASCII_DTOSTR_BUF_SIZE];

    g_ascii_formatd (v, sizeof v, "%.6f", cpu);
    g_string_append_printf (out, "process_cpu_seconds_total %s\n", v);
  }
  header (out, "process_start_time_seconds", "gauge", "Start time of the server since the Unix epoch, in seconds.");
  g_string_append_printf (out, "process_start_time_seconds %" G_GINT64_FORMAT "\n",
                          th_server_get_start_time (self) / G_USEC_PER_SEC);

  for (guint i = 0; i < feeds->len; i++)
    g_clear_pointer (&stats[i], g_variant_unref);
  g_free (stats);
  g_list_free (rooms);
  g_list_free (clients);
  return g_string_free (out, FALSE);
}
