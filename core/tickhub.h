/* tickhub.h: the one header of libtickhub
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define TICKHUB_INSIDE
#include "th-types.h"
#include "th-enum-types.h"
#include "th-tick.h"
#include "th-candle.h"
#include "th-event.h"
#include "th-clock.h"
#include "th-config.h"
#include "th-symbol-map.h"
#include "th-price-book.h"
#include "th-feed-source.h"
#include "th-indicator.h"
#include "th-sink.h"
#include "th-history.h"
#include "th-backfill.h"
#include "th-plugin.h"
#include "th-hub.h"
#include "th-alerts.h"
#include "th-ws-feed.h"
#undef TICKHUB_INSIDE
