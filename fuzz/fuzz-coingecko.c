/* fuzz-coingecko.c: CoinGecko's answers, as far as the hub
 *
 * CoinGecko is polled over HTTP, so its parser is reached the way the
 * daemon reaches it: the coingecko plugin, loaded by a hub with its url=
 * pointing at a libsoup server in this process, fetches
 * /simple/price?ids=... and gets the input as the answer's body. The
 * first byte picks the status: 200 mostly, or 429 (with a Retry-After
 * from the second byte), 500, 503, 401 or 404 (the error body is parsed
 * for CoinGecko's message). The manual clock is moved to the next poll.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <libsoup/soup.h>

#include "th-fuzz.h"

static SoupServer *server;
static ThHub *hub;
static ThFeedSource *feed;
static GBytes *answer;
static guint answer_status;
static char retry_after[8];

static void
handler (SoupServer        *soup,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  gsize size;
  gconstpointer data = g_bytes_get_data (answer, &size);

  /* No Nagle delay between the headers and the body. */
  g_socket_set_option (soup_server_message_get_socket (msg), IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  soup_server_message_set_status (msg, answer_status, NULL);
  if (answer_status == 429)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", retry_after);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, data, size);
}

static guint64
stat (const char *name)
{
  g_autoptr(GVariant) stats = th_feed_source_get_stats (feed);
  guint64 value = 0;

  g_variant_lookup (stats, name, "t", &value);
  return value;
}

/* Runs the main loop until more than @done answers were handled. */
static void
wait_answer (guint64 done)
{
  gint64 since = g_get_monotonic_time ();

  while (stat ("messages") + stat ("network_errors") <= done)
    {
      th_fuzz_check (g_get_monotonic_time () - since < TH_FUZZ_HANG_SECONDS * G_USEC_PER_SEC,
                     "no answer handled within %d s", TH_FUZZ_HANG_SECONDS);
      g_main_context_iteration (NULL, TRUE);
    }
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  GSList *uris;
  guint port;

  th_fuzz_init ();
  answer = g_bytes_new_static ("{}", 2);
  answer_status = 200;
  server = soup_server_new (NULL, NULL);
  soup_server_add_handler (server, "/api/v3/simple/price", handler, NULL, NULL);
  th_fuzz_check (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error),
                 "cannot listen: %s", error->message);
  uris = soup_server_get_uris (server);
  port = (guint) g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  config = g_strdup_printf ("[tickhub]\n"
                            "plugins=coingecko\n"
                            "symbols=BTC;ETH;SOL\n"
                            "timeframes=1m\n"
                            "[coingecko]\n"
                            "url=http://127.0.0.1:%u/api/v3\n"
                            "poll-interval=10\n"
                            "poll=always\n", port);
  hub = th_fuzz_hub_new (config);
  feed = th_fuzz_hub_first_feed (hub);
  /* The poll the start made: answered before the first input. */
  wait_answer (0);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const guint errors[] = { 429, 500, 503, 401, 404, 429 };
  guint64 requests = stat ("requests");
  guint64 done = stat ("messages") + stat ("network_errors");

  if (size < 2)
    return 0;
  answer_status = data[0] < 200 ? 200 : errors[data[0] % G_N_ELEMENTS (errors)];
  g_snprintf (retry_after, sizeof retry_after, "%u", data[1]);
  g_bytes_unref (answer);
  answer = g_bytes_new (data + 2, size - 2);

  /* The next poll: after the interval, a backoff or a Retry-After. */
  for (guint i = 0; stat ("requests") == requests; i++)
    {
      th_fuzz_check (i < 100000, "no poll within %u s of the hub's clock", i);
      th_manual_clock_advance (th_fuzz_hub_clock (hub), 10 * G_USEC_PER_SEC);
    }
  wait_answer (done);
  th_fuzz_drain ();
  return 0;
}
