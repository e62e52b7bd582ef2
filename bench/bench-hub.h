/* bench-hub.h: the hub plumbing every benchmark repeats.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tickhub.h"

G_BEGIN_DECLS

ThHub *bench_hub_new  (const char *config_text,
                       ThClock    *clock);
void   bench_hub_stop (ThHub      *hub);
void   bench_run_for  (guint       ms);
char  *bench_tickhubd_path (void);

G_END_DECLS
