/* th-types.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"
#include "th-private.h"

/**
 * th_error_quark:
 *
 * The error domain of libtickhub, also available as %TH_ERROR; its codes
 * are #ThError.
 *
 * Returns: the #GQuark of the `th-error-quark` domain
 */
G_DEFINE_QUARK (th-error-quark, th_error)

/**
 * th_source_state_to_string:
 * @state: a #ThSourceState
 *
 * The name of a source state, as written in the `state` member of
 * `source_status` events and in feed statistics.
 *
 * Returns: `connecting`, `live`, `stale`, `down` or `disabled`; `unknown`
 *   for a value outside the enumeration. The string is static.
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
 * The name of a tick kind, in lower case.
 *
 * Returns: `trade` for %TH_TICK_KIND_TRADE, `quote` for any other value.
 *   The string is static.
 */
const char *
th_tick_kind_to_string (ThTickKind kind)
{
  return kind == TH_TICK_KIND_TRADE ? "trade" : "quote";
}
