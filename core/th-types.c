/* th-types.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "th-private.h"

G_DEFINE_QUARK (th-error-quark, th_error)

/**
 * th_source_state_to_string:
 * @state: a #ThSourceState
 *
 * Returns: the name of @state as used in events: `connecting`, `live`,
 *   `stale`, `down` or `disabled`
 */
const char *
th_source_state_to_string (ThSourceState state)
{
  switch (state)
    {
    case TH_SOURCE_STATE_CONNECTING: return "connecting";
    case TH_SOURCE_STATE_LIVE: return "live";
    case TH_SOURCE_STATE_STALE: return "stale";
    case TH_SOURCE_STATE_DOWN: return "down";
    case TH_SOURCE_STATE_DISABLED: return "disabled";
    default: return "unknown";
    }
}

/**
 * th_tick_kind_to_string:
 * @kind: a #ThTickKind
 *
 * Returns: `quote` or `trade`
 */
const char *
th_tick_kind_to_string (ThTickKind kind)
{
  return kind == TH_TICK_KIND_TRADE ? "trade" : "quote";
}
