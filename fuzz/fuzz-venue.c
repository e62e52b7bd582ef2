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
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"

static ThHub *hub;
static ThWsFeed *feed;
static guint64 n_inputs;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  hub = th_fuzz_hub_new ("[tickhub]\n"
                         "plugins=" TH_FUZZ_VENUE "\n"
                         "symbols=BTC;ETH;SOL\n"
                         "timeframes=1m;5m\n"
                         "[" TH_FUZZ_VENUE "]\n"
                         "connect=false\n");
  feed = th_fuzz_hub_first_feed (hub);
  th_fuzz_check (TH_IS_WS_FEED (feed), "the " TH_FUZZ_VENUE " feed is not a ThWsFeed");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  gint64 receive_time = TH_FUZZ_EPOCH + (gint64) (n_inputs++ % 100000) * 250000;

  /* The frame exactly as large as it came: no byte after it to lean on. */
  th_ws_feed_inject (feed, (const char *) data, (gssize) size, receive_time);
  th_manual_clock_advance (th_fuzz_hub_clock (hub), 250000);
  th_fuzz_drain ();
  return 0;
}
