/* th-server-alerts.c: alert rules over the server, for the alerts plugin
 *
 *   client events (/ws and Socket.IO):
 *     set_alert {"symbol","condition",cooldown?,hysteresis?,once?,simulator?,message?,id?}
 *                                     → alert_set {the rule}
 *     remove_alert {"id"}             → alert_removed {"id"}
 *     list_alerts {}                  → alerts {"alerts": [rules]}
 *   REST:
 *     GET /api/v1/alerts              → 200 {"alerts": [rules]}
 *     POST /api/v1/alerts (JSON body) → 201 {the rule}
 *     DELETE /api/v1/alerts/{id}      → 200 {"id","removed":true}
 *
 * The server finds the engine through the hub (th_hub_get_alerts()). A
 * client's rules are its own: it sees and removes those, plus it sees the
 * configuration file's; an admin (an admin token, or any client when
 * authentication is off) sees and removes every runtime rule. Bad input is
 * an `error` event or a 400 naming the problem, and changes nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "th-private.h"
#include "th-server-private.h"

#define ALERTS_PATH "/api/v1/alerts"

/* The error code for clients, and the HTTP status, of an engine's error. */
static const char *
error_code (const GError *error,
            guint        *status)
{
  guint dummy;

  if (status == NULL)
    status = &dummy;
  if (error->domain == TH_ERROR)
    switch (error->code)
      {
      case TH_ERROR_UNKNOWN_SYMBOL:
        *status = SOUP_STATUS_BAD_REQUEST;
        return "unknown_symbol";
      case TH_ERROR_NOT_FOUND:
        *status = SOUP_STATUS_NOT_FOUND;
        return "not_found";
      case TH_ERROR_NOT_ALLOWED:
        *status = SOUP_STATUS_FORBIDDEN;
        return "forbidden";
      case TH_ERROR_TOO_MANY:
        *status = SOUP_STATUS_BAD_REQUEST;
        return "too_many_rules";
      case TH_ERROR_NO_ALERTS:
        *status = SOUP_STATUS_SERVICE_UNAVAILABLE;
        return "no_alerts";
      default:
        break;
      }
  *status = SOUP_STATUS_BAD_REQUEST;
  return "bad_request";
}

static ThAlerts *
get_alerts (ThServer  *self,
            GError   **error)
{
  ThAlerts *alerts = th_hub_get_alerts (th_server_get_hub (self));

  if (alerts == NULL)
    g_set_error_literal (error, TH_ERROR, TH_ERROR_NO_ALERTS,
                         "alerts are off; add the alerts plugin to [tickhub] plugins");
  return alerts;
}

/* The options of a set_alert or a POST, as a{sv}: every member but symbol
 * and condition (strings, numbers, booleans). */
static GVariant *
options_of (JsonObject  *object,
            GError     **error)
{
  GVariantDict dict;
  g_autoptr(GList) members = json_object_get_members (object);

  g_variant_dict_init (&dict, NULL);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (object, name);
      GType type = JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : G_TYPE_INVALID;

      if (g_str_equal (name, "symbol") || g_str_equal (name, "condition") || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (type == G_TYPE_STRING)
        g_variant_dict_insert (&dict, name, "s", json_node_get_string (node));
      else if (type == G_TYPE_BOOLEAN)
        g_variant_dict_insert (&dict, name, "b", json_node_get_boolean (node));
      else if (type == G_TYPE_INT64 || type == G_TYPE_DOUBLE)
        g_variant_dict_insert (&dict, name, "d", json_node_get_double (node));
      else
        {
          g_autofree char *quoted = _th_utf8_excerpt (name, 64);

          g_variant_dict_clear (&dict);
          g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                       "“%s” must be a string, a number or true/false", quoted);
          return NULL;
        }
    }
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

/* Adds the rule described by @data for @owner (NULL: an admin). */
static GVariant *
add_rule (ThServer    *self,
          JsonNode    *data,
          const char  *owner,
          GError     **error)
{
  ThAlerts *alerts = get_alerts (self, error);
  JsonObject *object;
  const char *symbol, *condition;
  g_autoptr(GVariant) options = NULL;
  g_autofree char *upper = NULL;

  if (alerts == NULL)
    return NULL;
  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "an alert is {\"symbol\": \"BTC\", \"condition\": \"above 50000\"} "
                           "with optional cooldown, hysteresis, once, simulator and message");
      return NULL;
    }
  object = json_node_get_object (data);
  symbol = json_object_get_string_member_with_default (object, "symbol", NULL);
  condition = json_object_get_string_member_with_default (object, "condition", NULL);
  if (symbol == NULL || condition == NULL)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                           "an alert needs \"symbol\" and \"condition\" strings, such as "
                           "{\"symbol\": \"BTC\", \"condition\": \"above 50000\"}");
      return NULL;
    }
  options = options_of (object, error);
  if (options == NULL)
    return NULL;
  /* Symbols are upper case, as subscribe_symbol takes them. */
  upper = g_ascii_strup (symbol, -1);
  return th_alerts_add (alerts, th_hub_has_symbol (th_server_get_hub (self), upper) ? upper : symbol,
                        condition, options, owner, error);
}

static JsonNode *
alerts_node (GVariant *list)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "alerts");
  json_builder_add_value (b, json_gvariant_serialize (list));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
removed_node (const char *id)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "removed");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Client events */

static const char *
owner_of (ThServerClient *client)
{
  /* An admin acts for everyone; its rules are nobody's in particular. */
  return client->admin ? NULL : (client->owner != NULL ? client->owner : "anonymous");
}

gboolean
th_server_alerts_dispatch (ThServerClient *client,
                           const char     *event,
                           JsonNode       *data)
{
  ThServer *self = client->server;
  g_autoptr(GError) error = NULL;

  if (g_str_equal (event, "set_alert"))
    {
      g_autoptr(GVariant) rule = add_rule (self, data, owner_of (client), &error);
      g_autoptr(JsonNode) reply = NULL;

      if (rule == NULL)
        {
          th_server_client_error (client, error_code (error, NULL), error->message);
          return TRUE;
        }
      reply = json_gvariant_serialize (rule);
      th_server_client_send (client, "alert_set", reply);
      return TRUE;
    }
  if (g_str_equal (event, "remove_alert"))
    {
      ThAlerts *alerts = get_alerts (self, &error);
      const char *id = NULL;
      g_autoptr(JsonNode) reply = NULL;

      if (data != NULL && JSON_NODE_HOLDS_OBJECT (data))
        id = json_object_get_string_member_with_default (json_node_get_object (data), "id", NULL);
      if (alerts != NULL && id == NULL)
        g_set_error_literal (&error, TH_ERROR, TH_ERROR_BAD_INPUT, "remove_alert needs {\"id\": ID}");
      if (error == NULL)
        th_alerts_remove (alerts, id, owner_of (client), &error);
      if (error != NULL)
        {
          th_server_client_error (client, error_code (error, NULL), error->message);
          return TRUE;
        }
      reply = removed_node (id);
      th_server_client_send (client, "alert_removed", reply);
      return TRUE;
    }
  if (g_str_equal (event, "list_alerts"))
    {
      ThAlerts *alerts = get_alerts (self, &error);
      g_autoptr(GVariant) list = NULL;
      g_autoptr(JsonNode) reply = NULL;

      if (alerts == NULL)
        {
          th_server_client_error (client, error_code (error, NULL), error->message);
          return TRUE;
        }
      list = th_alerts_list (alerts, owner_of (client));
      reply = alerts_node (list);
      th_server_client_send (client, "alerts", reply);
      return TRUE;
    }
  return FALSE;
}

/* REST */

static void
send_error (ThServer          *self,
            SoupServerMessage *msg,
            const GError      *error)
{
  guint status;
  const char *code = error_code (error, &status);

  th_server_send_error (self, msg, status, code, error->message);
}

static void
alerts_handler (SoupServer        *soup,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  ThServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  const char *id = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *owner = NULL;
  gboolean admin;
  ThAlerts *alerts;

  if (g_str_has_prefix (path, ALERTS_PATH "/") && path[strlen (ALERTS_PATH "/")] != '\0')
    id = path + strlen (ALERTS_PATH "/");
  else if (!g_str_equal (path, ALERTS_PATH) && !g_str_equal (path, ALERTS_PATH "/"))
    {
      if (th_server_get_auth (self) != NULL &&
          !th_server_auth_check_request (self, msg, query, FALSE, "an HTTP request"))
        return;
      th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such endpoint");
      return;
    }
  th_server_get_stats (self)->http_requests++;

  if (method == SOUP_METHOD_OPTIONS)
    {
      SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
      const char *origin = soup_message_headers_get_one (req, "Origin");
      const char *allow = id != NULL ? "DELETE, OPTIONS" : "GET, HEAD, POST, OPTIONS";

      soup_message_headers_replace (resp, "Allow", allow);
      if (origin != NULL && !th_server_origin_allowed (self, origin))
        {
          th_server_send_error (self, msg, SOUP_STATUS_FORBIDDEN, "forbidden_origin", "this origin is not allowed");
          return;
        }
      th_server_add_cors (self, msg);
      soup_message_headers_replace (resp, "Access-Control-Allow-Methods", allow);
      soup_message_headers_replace (resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
      soup_message_headers_replace (resp, "Access-Control-Max-Age", "600");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }
  if ((id == NULL && method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD && method != SOUP_METHOD_POST) ||
      (id != NULL && method != SOUP_METHOD_DELETE))
    {
      soup_message_headers_replace (resp, "Allow", id != NULL ? "DELETE, OPTIONS" : "GET, HEAD, POST, OPTIONS");
      th_server_send_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                            id != NULL ? "an alert takes DELETE" : "/api/v1/alerts takes GET and POST");
      return;
    }
  if (!th_server_auth_check_request (self, msg, query, FALSE, "an HTTP request"))
    return;
  token = th_server_auth_request_token (msg, query, FALSE);
  th_server_auth_identify (self, token, &owner, &admin);
  if (admin)
    g_clear_pointer (&owner, g_free);

  alerts = get_alerts (self, &error);
  if (alerts == NULL)
    {
      send_error (self, msg, error);
      return;
    }

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    {
      g_autoptr(GVariant) list = th_alerts_list (alerts, owner);
      g_autoptr(JsonNode) body = alerts_node (list);

      th_server_send_json (self, msg, SOUP_STATUS_OK, body);
    }
  else if (method == SOUP_METHOD_POST)
    {
      g_autoptr(GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (msg));
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();
      gsize length;
      const char *text = g_bytes_get_data (bytes, &length);
      g_autoptr(GVariant) rule = NULL;
      g_autoptr(JsonNode) body = NULL;

      if (length == 0 || !th_json_parser_load (parser, text, (gssize) length, &error))
        {
          g_autofree char *why = g_strdup_printf ("the body is not JSON (%s); send {\"symbol\": \"BTC\", "
                                                  "\"condition\": \"above 50000\"}",
                                                  error != NULL ? error->message : "empty");

          th_server_send_error (self, msg, SOUP_STATUS_BAD_REQUEST, "bad_request", why);
          return;
        }
      rule = add_rule (self, json_parser_get_root (parser), owner, &error);
      if (rule == NULL)
        {
          send_error (self, msg, error);
          return;
        }
      body = json_gvariant_serialize (rule);
      th_server_send_json (self, msg, SOUP_STATUS_CREATED, body);
    }
  else
    {
      g_autofree char *decoded = g_uri_unescape_string (id, NULL);
      g_autoptr(JsonNode) body = NULL;

      if (decoded == NULL || !th_alerts_remove (alerts, decoded, owner, &error))
        {
          if (error == NULL)
            g_set_error_literal (&error, TH_ERROR, TH_ERROR_BAD_INPUT, "the id is not a valid URL path segment");
          send_error (self, msg, error);
          return;
        }
      body = removed_node (decoded);
      th_server_send_json (self, msg, SOUP_STATUS_OK, body);
    }
}

/* A POST may carry a body (up to max-message); nothing else here does. */
static void
alerts_early_handler (SoupServer        *soup,
                      SoupServerMessage *msg,
                      const char        *path,
                      GHashTable        *query,
                      gpointer           user_data)
{
  ThServer *self = user_data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (req);
  goffset length = soup_message_headers_get_content_length (req);

  if (!th_server_http_check_framing (self, msg))
    return;
  if (encoding == SOUP_ENCODING_NONE || (encoding == SOUP_ENCODING_CONTENT_LENGTH && length == 0))
    return;
  if (soup_server_message_get_method (msg) == SOUP_METHOD_POST && encoding == SOUP_ENCODING_CONTENT_LENGTH &&
      length <= (goffset) th_server_get_max_message (self))
    return;
  th_server_send_error (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "bad_request",
                        soup_server_message_get_method (msg) == SOUP_METHOD_POST
                        ? "the body is over [server] max-message, or not sent with a Content-Length"
                        : "this endpoint takes no request body");
  th_server_http_answer_and_close (self, msg);
}

void
th_server_alerts_register (ThServer *self)
{
  soup_server_add_early_handler (th_server_get_soup (self), ALERTS_PATH, alerts_early_handler, self, NULL);
  soup_server_add_handler (th_server_get_soup (self), ALERTS_PATH, alerts_handler, self, NULL);
}
