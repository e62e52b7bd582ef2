/* fuzz-venue.c: one WebSocket venue's parser, as far as the hub
 *
 * Built once per venue (TH_FUZZ_VENUE: binance, coinbase, coincap): a hub
 * loads the venue's plugin as the daemon does (connect=false) and each
 * input is one frame handed to th_ws_feed_inject(), the path a live frame
 * takes after the WebSocket client: UTF-8 and NUL checks, the venue's
 * JSON parse and normalization, then th_hub_push_tick() into the price
 * book, candles and events. The manual clock moves 250 ms per input, so
 * candles close and prices expire as the frames go by.
 *
 * Binance and Coinbase also check their fast path (core/th-json-shape.c:
 * a frame in the venue's compact layout is read without the tape reader)
 * against their general path: a second hub gets each input that opens an
 * object with a space after its brace, which no shape takes, and the
 * events both hubs emit for it must be the same bytes.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "th-fuzz.h"

#define CONFIG "[tickhub]\n" \
               "plugins=" TH_FUZZ_VENUE "\n" \
               "symbols=BTC;ETH;SOL\n" \
               "timeframes=1m;5m\n" \
               "[" TH_FUZZ_VENUE "]\n" \
               "connect=false\n"

static ThHub *hub;
static ThWsFeed *feed;
static guint64 n_inputs;
static gboolean differential;
static ThHub *general_hub;      /* the same venue, fed the spaced frames */
static ThWsFeed *general_feed;
static GString *events;         /* each hub's events of this input */
static GString *general_events;

static void
on_event (ThHub    *source,
          ThEvent  *event,
          gpointer  data)
{
  g_string_append (data, th_event_get_json (event));
  g_string_append_c (data, '\n');
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  hub = th_fuzz_hub_new (CONFIG);
  feed = th_fuzz_hub_first_feed (hub);
  th_fuzz_check (TH_IS_WS_FEED (feed), "the " TH_FUZZ_VENUE " feed is not a ThWsFeed");
  differential = strcmp (TH_FUZZ_VENUE, "binance") == 0 || strcmp (TH_FUZZ_VENUE, "coinbase") == 0;
  if (differential)
    {
      events = g_string_new (NULL);
      general_events = g_string_new (NULL);
      general_hub = th_fuzz_hub_new (CONFIG);
      general_feed = th_fuzz_hub_first_feed (general_hub);
      g_signal_connect (hub, "event", G_CALLBACK (on_event), events);
      g_signal_connect (general_hub, "event", G_CALLBACK (on_event), general_events);
    }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  gint64 receive_time = TH_FUZZ_EPOCH + (gint64) (n_inputs++ % 100000) * 250000;

  if (differential)
    {
      g_string_truncate (events, 0);
      g_string_truncate (general_events, 0);
    }
  /* The frame exactly as large as it came: no byte after it to lean on. */
  th_ws_feed_inject (feed, (const char *) data, (gssize) size, receive_time);
  th_manual_clock_advance (th_fuzz_hub_clock (hub), 250000);
  if (differential)
    {
      if (size > 0 && data[0] == '{')
        {
          g_autofree char *spaced = g_malloc (size + 1);

          spaced[0] = '{';
          spaced[1] = ' ';
          memcpy (spaced + 2, data + 1, size - 1);
          th_ws_feed_inject (general_feed, spaced, (gssize) size + 1, receive_time);
        }
      else
        th_ws_feed_inject (general_feed, (const char *) data, (gssize) size, receive_time);
      th_manual_clock_advance (th_fuzz_hub_clock (general_hub), 250000);
    }
  th_fuzz_drain ();
  if (differential)
    th_fuzz_check (strcmp (events->str, general_events->str) == 0,
                   "the fast path's events differ from the general path's:\n%s\nagainst\n%s",
                   events->str, general_events->str);
  return 0;
}
