/* fuzz-json.c: th_json_parser_load(), the guard every JSON text from
 * outside goes through (venue frames and bodies, client messages, replay
 * lines, tokens), and json-glib behind it
 *
 * Beyond crashes, checks what the rest of tickhub takes for granted of a
 * parsed text: every string in the tree (member names too) is valid UTF-8
 * without NUL, and writing the tree back gives JSON that parses again.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"

static void
check_string (const char *s)
{
  th_fuzz_check (s != NULL && g_utf8_validate (s, -1, NULL), "a parsed string is not UTF-8: “%s”",
                 s != NULL ? s : "(null)");
}

static void
check_node (JsonNode *node,
            guint     depth)
{
  th_fuzz_check (depth <= TH_JSON_MAX_DEPTH + 1, "a tree %u deep got through", depth);
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member))
          {
            check_string (name);
            check_node (member, depth + 1);
          }
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          check_node (json_array_get_element (array, i), depth + 1);
      }
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        check_string (json_node_get_string (node));
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(JsonNode) root = th_json_parse ((const char *) data, (gssize) size, NULL);
  g_autofree char *text = NULL;
  g_autoptr(JsonNode) again = NULL;
  g_autoptr(GError) error = NULL;

  if (root == NULL)
    return 0;
  check_node (root, 1);
  text = th_json_to_string (root, NULL);
  again = th_json_parse (text, -1, &error);
  th_fuzz_check (again != NULL, "what was parsed does not parse again when written: %s\n  %s",
                 error != NULL ? error->message : "no root", text);
  return 0;
}
