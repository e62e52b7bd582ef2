/* th-export.h: what libtickhub exports
 *
 * The library is built with -fvisibility=hidden: only what is marked here
 * is ABI. TH_EXPORT marks the public API (in the headers <tickhub.h>
 * includes, in the GIR); TH_PRIVATE_API marks the few private helpers that
 * code outside the library calls (the plugins built here, tools/tickhub,
 * the tests and benchmarks): exported, but named _th_* and declared only
 * in the uninstalled th-private.h. tests/test-abi.py compares the exported
 * symbols with tests/data/libtickhub.symbols.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if defined(__GNUC__) || defined(__clang__)
# define TH_EXPORT      __attribute__ ((visibility ("default"))) extern
# define TH_PRIVATE_API __attribute__ ((visibility ("default")))
#else
# define TH_EXPORT      extern
# define TH_PRIVATE_API
#endif
