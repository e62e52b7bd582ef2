/* th-symbol-map.h: canonical symbols and each venue's codes
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

#define TH_TYPE_SYMBOL_MAP (th_symbol_map_get_type ())
TH_EXPORT
G_DECLARE_FINAL_TYPE (ThSymbolMap, th_symbol_map, TH, SYMBOL_MAP, GObject)

TH_EXPORT
ThSymbolMap *th_symbol_map_new         (void);
TH_EXPORT
gboolean     th_symbol_map_load_file   (ThSymbolMap *self,
                                        const char  *path,
                                        GError     **error);
TH_EXPORT
gboolean     th_symbol_map_add         (ThSymbolMap *self,
                                        const char  *symbol,
                                        const char  *spec,
                                        GError     **error);
TH_EXPORT
void         th_symbol_map_set         (ThSymbolMap *self,
                                        const char  *symbol,
                                        const char  *venue,
                                        const char  *code);
TH_EXPORT
const char  *th_symbol_map_lookup      (ThSymbolMap *self,
                                        const char  *symbol,
                                        const char  *venue);
TH_EXPORT
const char  *th_symbol_map_reverse     (ThSymbolMap *self,
                                        const char  *venue,
                                        const char  *code);
TH_EXPORT
gboolean     th_symbol_map_contains    (ThSymbolMap *self,
                                        const char  *symbol);
TH_EXPORT
char       **th_symbol_map_list        (ThSymbolMap *self);

TH_EXPORT
gboolean     th_symbol_is_valid        (const char  *symbol);
TH_EXPORT
char        *th_symbol_code_get_quote  (const char  *code);

G_END_DECLS
