/* th-gjs-loader.c: the hub's side of the JavaScript plugins
 *
 * libpeas 1.34 has no JavaScript loader: a JavaScript plugin's `.plugin`
 * file names its script in `X-Tickhub-JavaScript`, libpeas lists it like
 * any plugin, and the hub loads it through tickhub's GJS bridge
 * (libtickhub-gjs.so, bindings/gjs/), which evaluates the script and hands
 * back the classes it defined. The bridge, not this library, links libgjs:
 * it is opened the first time a JavaScript plugin loads, so programs that
 * never load one never map SpiderMonkey.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gmodule.h>

#include "th-private.h"

typedef gboolean (*LoadFunc)    (ThHub *hub, const char *module, const char *file, GType *types, GError **error);
typedef void     (*ReleaseFunc) (ThHub *hub);

static GModule     *bridge;
static LoadFunc     bridge_load;
static ReleaseFunc  bridge_release;

static gboolean
open_bridge (GError **error)
{
  const char *path = g_getenv ("TICKHUB_GJS_BRIDGE");
  GModule *module;

  if (bridge != NULL)
    return TRUE;
  if (path == NULL || *path == '\0')
    path = TH_PKGLIBDIR G_DIR_SEPARATOR_S "libtickhub-gjs.so";

  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN,
                   "JavaScript plugins need tickhub's GJS bridge, which cannot be opened (%s); "
                   "build tickhub with libgjs-dev installed", g_module_error ());
      return FALSE;
    }
  if (!g_module_symbol (module, "th_gjs_bridge_load", (gpointer *) &bridge_load) ||
      !g_module_symbol (module, "th_gjs_bridge_release", (gpointer *) &bridge_release))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_PLUGIN, "%s is not tickhub's GJS bridge", path);
      g_module_close (module);
      return FALSE;
    }
  /* It holds types and a JavaScript engine: never unloaded. */
  g_module_make_resident (module);
  bridge = module;
  return TRUE;
}

/* types: GType[3], for ThFeedSource, ThSink and ThIndicator. */
gboolean
_th_gjs_bridge_load (ThHub       *hub,
                     const char  *module,
                     const char  *file,
                     GType       *types,
                     GError     **error)
{
  if (!open_bridge (error))
    return FALSE;
  return bridge_load (hub, module, file, types, error);
}

void
_th_gjs_bridge_release (ThHub *hub)
{
  if (bridge != NULL)
    bridge_release (hub);
}
