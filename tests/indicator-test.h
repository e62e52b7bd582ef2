/* indicator-test.h: what the indicator tests share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libpeas/peas.h>

#include "th-private.h"

/* An instance of indicator @plugin, configured with @args, loaded through
 * libpeas as the hub loads it; NULL with @error for bad arguments. */
static inline ThIndicator *
indicator_test_new (PeasEngine        *engine,
                    const char        *plugin,
                    const char *const *args,
                    GError           **error)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (engine, plugin);
  ThIndicator *ind;

  g_assert_nonnull (info);
  g_assert_true (peas_engine_load_plugin (engine, info));
  ind = TH_INDICATOR (peas_engine_create_extension (engine, info, TH_TYPE_INDICATOR, "hub", NULL, NULL));
  if (!th_indicator_configure (ind, args, error))
    g_clear_object (&ind);
  return ind;
}
