/* th-types.h: enumerations and the error domain of libtickhub
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(TICKHUB_INSIDE) && !defined(TICKHUB_COMPILATION)
# error "Only <tickhub.h> can be included directly."
#endif

#include "th-export.h"
#include <glib-object.h>

G_BEGIN_DECLS

/**
 * ThTickKind:
 * @TH_TICK_KIND_QUOTE: a ticker or quote update: a last price, maybe with
 *   bid, ask and 24 h statistics, but no traded size
 * @TH_TICK_KIND_TRADE: an executed trade: `price` and `size` are the trade's
 *
 * What a tick reports. Trades add volume to candles; quotes only move prices.
 */
typedef enum {
  TH_TICK_KIND_QUOTE,
  TH_TICK_KIND_TRADE,
} ThTickKind;

/**
 * ThSourceState:
 * @TH_SOURCE_STATE_CONNECTING: the source is connecting or subscribing
 * @TH_SOURCE_STATE_LIVE: the source delivers data
 * @TH_SOURCE_STATE_STALE: the source is connected but has been silent too long
 * @TH_SOURCE_STATE_DOWN: the source failed and will retry
 * @TH_SOURCE_STATE_DISABLED: the source is switched off by configuration
 *   (for example a missing API key); it will not retry
 *
 * The health of a price source, as published in `source_status` events.
 */
typedef enum {
  TH_SOURCE_STATE_CONNECTING,
  TH_SOURCE_STATE_LIVE,
  TH_SOURCE_STATE_STALE,
  TH_SOURCE_STATE_DOWN,
  TH_SOURCE_STATE_DISABLED,
} ThSourceState;

/**
 * ThJsonField:
 * @TH_JSON_FIELD_ABSENT: the member is not there
 * @TH_JSON_FIELD_NULL: the member is `null`
 * @TH_JSON_FIELD_OK: the member holds what was asked for
 * @TH_JSON_FIELD_BAD: the member holds something else
 *
 * What th_json_object_get_number() found.
 */
typedef enum {
  TH_JSON_FIELD_ABSENT,
  TH_JSON_FIELD_NULL,
  TH_JSON_FIELD_OK,
  TH_JSON_FIELD_BAD,
} ThJsonField;

/**
 * ThError:
 * @TH_ERROR_FAILED: generic failure
 * @TH_ERROR_BAD_CONFIG: the configuration is invalid; the message names the
 *   group, the key and the fix
 * @TH_ERROR_PLUGIN: a plugin could not be found, loaded or configured
 * @TH_ERROR_NO_SOURCE: no source has a fresh price for the symbol
 * @TH_ERROR_UNKNOWN_SYMBOL: the symbol is not configured
 * @TH_ERROR_BAD_INPUT: malformed data from a file, a client or an exchange
 * @TH_ERROR_NO_HISTORY: no store keeps history (no `store` plugin), or the
 *   store cannot answer now; the message says why
 * @TH_ERROR_NOT_FOUND: no such thing, such as an alert rule id
 * @TH_ERROR_NOT_ALLOWED: the caller may not do this, such as remove
 *   another client's alert rule
 * @TH_ERROR_NO_ALERTS: no plugin evaluates alert rules (no `alerts` plugin)
 * @TH_ERROR_TOO_MANY: over a limit, such as `[alerts] max-rules`
 *
 * Error codes of the %TH_ERROR domain.
 */
typedef enum {
  TH_ERROR_FAILED,
  TH_ERROR_BAD_CONFIG,
  TH_ERROR_PLUGIN,
  TH_ERROR_NO_SOURCE,
  TH_ERROR_UNKNOWN_SYMBOL,
  TH_ERROR_BAD_INPUT,
  TH_ERROR_NO_HISTORY,
  TH_ERROR_NOT_FOUND,
  TH_ERROR_NOT_ALLOWED,
  TH_ERROR_NO_ALERTS,
  TH_ERROR_TOO_MANY,
} ThError;

/**
 * TH_ERROR:
 *
 * The error domain of libtickhub; codes are #ThError.
 */
#define TH_ERROR (th_error_quark ())
TH_EXPORT
GQuark th_error_quark (void);

TH_EXPORT
const char *th_source_state_to_string (ThSourceState state);
TH_EXPORT
const char *th_tick_kind_to_string    (ThTickKind    kind);

G_END_DECLS
