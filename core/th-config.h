/* th-config.h: the keyfile configuration
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

#define TH_TYPE_CONFIG (th_config_get_type ())
TH_EXPORT
G_DECLARE_FINAL_TYPE (ThConfig, th_config, TH, CONFIG, GObject)

TH_EXPORT
ThConfig  *th_config_new              (void);
TH_EXPORT
gboolean   th_config_load_from_file   (ThConfig    *self,
                                       const char  *path,
                                       GError     **error);
TH_EXPORT
gboolean   th_config_load_from_data   (ThConfig    *self,
                                       const char  *data,
                                       gssize       length,
                                       GError     **error);
TH_EXPORT
char      *th_config_find_file        (void);
TH_EXPORT
const char *th_config_get_path        (ThConfig    *self);
TH_EXPORT
GKeyFile  *th_config_get_key_file     (ThConfig    *self);
TH_EXPORT
gboolean   th_config_has_group        (ThConfig    *self,
                                       const char  *group);
TH_EXPORT
gboolean   th_config_has_key          (ThConfig    *self,
                                       const char  *group,
                                       const char  *key);
TH_EXPORT
char      *th_config_get_string       (ThConfig    *self,
                                       const char  *group,
                                       const char  *key,
                                       const char  *default_value);
TH_EXPORT
char     **th_config_get_string_list  (ThConfig    *self,
                                       const char  *group,
                                       const char  *key);
TH_EXPORT
gboolean   th_config_get_boolean      (ThConfig    *self,
                                       const char  *group,
                                       const char  *key,
                                       gboolean     default_value);
TH_EXPORT
gint64     th_config_get_int          (ThConfig    *self,
                                       const char  *group,
                                       const char  *key,
                                       gint64       default_value);
TH_EXPORT
double     th_config_get_double       (ThConfig    *self,
                                       const char  *group,
                                       const char  *key,
                                       double       default_value);
TH_EXPORT
void       th_config_set_string       (ThConfig    *self,
                                       const char  *group,
                                       const char  *key,
                                       const char  *value);

TH_EXPORT
gboolean   th_parse_timeframe         (const char  *text,
                                       gint64      *duration,
                                       GError     **error);
TH_EXPORT
char      *th_format_timeframe        (gint64       duration);

G_END_DECLS
