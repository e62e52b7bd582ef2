/* th-plugin.c: the `hub` property of C plugin classes, written once
 *
 * The plugin interfaces (ThFeedSource, ThIndicator, ThSink) declare a
 * construct-only `hub` property, and every C plugin implemented it the
 * same way: a PROP_HUB, a get_property and a set_property keeping the hub
 * as a plain pointer, and g_object_class_override_property().
 * th_plugin_class_install_hub() is that code, called with one line from
 * class_init, given where the plugin keeps its `ThHub *hub` member.
 *
 * Why a helper and not a ThPlugin base class: a plugin keeps its struct,
 * its parent (GObject, or ThWsFeed, which keeps the hub of the WebSocket
 * venues itself) and every `self->hub` it reads; only its property code
 * goes. Bindings are not concerned: Python, JavaScript and Vala classes
 * declare the property in their own language.
 *
 * How: a GObject class has one get_property and one set_property, so the
 * helper installs a pair that handles `hub` and passes any other property
 * on to the pair the class had when it was called. A plugin with
 * properties of its own sets its handlers first, then calls the helper
 * (the server sink does, for `port`). The offset and the class's own
 * handlers are kept as qdata on the class's type; plugin classes are
 * final, so an instance's type is the class that called the helper.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-private.h"

/* An id the class's own properties (an enum counting from 1) do not
 * reach: its handlers never see it. */
#define PROP_HUB 0xffff

typedef struct
{
  gsize                  hub_offset;
  GObjectGetPropertyFunc get_property;  /* the class's own */
  GObjectSetPropertyFunc set_property;
} HubClassData;

static GQuark
hub_class_data_quark (void)
{
  return g_quark_from_static_string ("th-plugin-hub-class-data");
}

static inline const HubClassData *
get_class_data (GObject *object)
{
  return g_type_get_qdata (G_OBJECT_TYPE (object), hub_class_data_quark ());
}

static void
hub_get_property (GObject    *object,
                  guint       prop_id,
                  GValue     *value,
                  GParamSpec *pspec)
{
  const HubClassData *data = get_class_data (object);

  if (prop_id == PROP_HUB)
    g_value_set_object (value, G_STRUCT_MEMBER (ThHub *, object, data->hub_offset));
  else
    data->get_property (object, prop_id, value, pspec);
}

static void
hub_set_property (GObject      *object,
                  guint         prop_id,
                  const GValue *value,
                  GParamSpec   *pspec)
{
  const HubClassData *data = get_class_data (object);

  /* Not a reference: the hub owns its plugins. */
  if (prop_id == PROP_HUB)
    G_STRUCT_MEMBER (ThHub *, object, data->hub_offset) = g_value_get_object (value);
  else
    data->set_property (object, prop_id, value, pspec);
}

/**
 * th_plugin_class_install_hub:
 * @klass: the class of a plugin, final, implementing #ThFeedSource,
 *   #ThIndicator or #ThSink
 * @hub_offset: where the instance struct keeps the hub: the
 *   G_STRUCT_OFFSET() of a `ThHub *` member
 *
 * Implements the construct-only `hub` property of the plugin interfaces
 * (#ThFeedSource:hub, #ThIndicator:hub, #ThSink:hub) for a C plugin: the
 * hub given at construction is stored in the member at @hub_offset, as a
 * plain pointer (the hub owns its plugins: no reference back), and read
 * from there. Call it from class_init:
 *
 * ```c
 * struct _MyIndicator
 * {
 *   GObject  parent_instance;
 *   ThHub   *hub;
 *   ...
 * };
 *
 * static void
 * my_indicator_class_init (MyIndicatorClass *klass)
 * {
 *   th_plugin_class_install_hub (G_OBJECT_CLASS (klass),
 *                                G_STRUCT_OFFSET (MyIndicator, hub));
 * }
 * ```
 *
 * It sets the class's #GObjectClass.get_property and
 * #GObjectClass.set_property. A class with properties of its own sets
 * its handlers first, then calls this: any property but `hub` goes on
 * to them, so they only handle their own. The class must be final
 * (%G_TYPE_FLAG_FINAL, as G_DECLARE_FINAL_TYPE() classes registered with
 * G_DEFINE_DYNAMIC_TYPE_EXTENDED() are in the shipped plugins).
 *
 * Subclasses of #ThWsFeed do not need it: the base class keeps the hub
 * (th_ws_feed_get_hub()).
 */
void
th_plugin_class_install_hub (GObjectClass *klass,
                             gsize         hub_offset)
{
  GType type;
  HubClassData *data;

  g_return_if_fail (G_IS_OBJECT_CLASS (klass));
  g_return_if_fail (klass->set_property != hub_set_property);  /* once */
  type = G_OBJECT_CLASS_TYPE (klass);
  g_return_if_fail (G_TYPE_IS_FINAL (type));
  g_return_if_fail (hub_offset >= sizeof (GObject));  /* a member of the subclass */

  /* A dynamic type's class is initialized again if its module is unloaded
   * and loaded again: the data is then updated in place. */
  data = g_type_get_qdata (type, hub_class_data_quark ());
  if (data == NULL)
    {
      data = g_new0 (HubClassData, 1);
      g_type_set_qdata (type, hub_class_data_quark (), data);
    }
  data->hub_offset = hub_offset;
  data->get_property = klass->get_property;
  data->set_property = klass->set_property;

  klass->get_property = hub_get_property;
  klass->set_property = hub_set_property;
  g_object_class_override_property (klass, PROP_HUB, "hub");
}
