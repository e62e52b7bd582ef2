/* th-plugin.h: the `hub` property of C plugin classes, written once
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

TH_EXPORT
void th_plugin_class_install_hub (GObjectClass *klass,
                                  gsize         hub_offset);

G_END_DECLS
