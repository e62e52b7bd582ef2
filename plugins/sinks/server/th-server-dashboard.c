/* th-server-dashboard.c: the dashboard's files, /docs and the OpenAPI document
 *
 * Public files, read from the data directory ($TICKHUB_DATADIR, or
 * $datadir/tickhub once installed), never from anywhere else:
 *
 *   GET /                      dashboard/index.html   ([server] dashboard)
 *   GET /dashboard/PATH        dashboard/PATH         ([server] dashboard)
 *   GET /docs                  dashboard/docs.html    ([server] dashboard)
 *   GET /api/v1/openapi.json   openapi.json           (always)
 *
 * They need no token even with authentication on (they hold no data: the
 * page asks for a token and sends it with what it fetches). PATH is one or
 * more segments of [A-Za-z0-9._-] that do not start with a dot, so a
 * request cannot leave the folder (no "..", no percent-escapes, no hidden
 * files); node_modules is never served (vendor/ has the copies served).
 *
 * Each answer carries an ETag (size and modification time), Last-Modified
 * and Cache-Control: no-cache (the browser keeps the file and asks again,
 * answered 304 when If-None-Match or If-Modified-Since still match), so an
 * upgrade is seen at the next load. HTML gets a Content-Security-Policy
 * that allows the page's own scripts and connections only.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>

#include "th-server-private.h"
#include "th-private.h"

#define MAX_SEGMENTS 8
#define MAX_FILE     (16 * 1024 * 1024)

static const struct
{
  const char *suffix;
  const char *type;
} content_types[] = {
  { ".html", "text/html; charset=utf-8" },
  { ".js", "text/javascript; charset=utf-8" },
  { ".mjs", "text/javascript; charset=utf-8" },
  { ".css", "text/css; charset=utf-8" },
  { ".json", "application/json" },
  { ".svg", "image/svg+xml" },
  { ".png", "image/png" },
  { ".ico", "image/x-icon" },
  { ".txt", "text/plain; charset=utf-8" },
  { ".LICENSE", "text/plain; charset=utf-8" },
};

static const char *
content_type_for (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (content_types); i++)
    if (g_str_has_suffix (name, content_types[i].suffix))
      return content_types[i].type;
  return "application/octet-stream";
}

/* A relative path made of safe segments only. */
static gboolean
path_ok (const char *rel)
{
  g_auto(GStrv) segments = NULL;
  guint n;

  if (rel == NULL || *rel == '\0' || strlen (rel) > 256)
    return FALSE;
  segments = g_strsplit (rel, "/", -1);
  n = g_strv_length (segments);
  if (n > MAX_SEGMENTS)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      const char *s = segments[i];

      if (*s == '\0' || *s == '.' || g_str_equal (s, "node_modules"))
        return FALSE;
      for (const char *p = s; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && *p != '.' && *p != '_' && *p != '-')
          return FALSE;
    }
  return TRUE;
}

static void
not_found (ThServer          *self,
           SoupServerMessage *msg)
{
  th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such file");
}

/* Whether the request's validators match the file (a 304). */
static gboolean
not_modified (SoupMessageHeaders *req,
              const char         *etag,
              gint64              mtime)
{
  const char *inm = soup_message_headers_get_one (req, "If-None-Match");
  const char *ims = soup_message_headers_get_one (req, "If-Modified-Since");

  if (inm != NULL)
    {
      g_auto(GStrv) tags = g_strsplit (inm, ",", -1);

      for (guint i = 0; tags[i] != NULL; i++)
        {
          const char *t = g_strstrip (tags[i]);

          /* Weak comparison (RFC 9110 §13.1.2): W/ is ignored. */
          if (g_str_has_prefix (t, "W/"))
            t += 2;
          if (g_str_equal (t, "*") || g_str_equal (t, etag + 2))
            return TRUE;
        }
      return FALSE;   /* If-Modified-Since is ignored when If-None-Match is there */
    }
  if (ims != NULL)
    {
      g_autoptr(GDateTime) since = soup_date_time_new_from_http_string (ims);

      return since != NULL && mtime / G_USEC_PER_SEC <= g_date_time_to_unix (since);
    }
  return FALSE;
}

static void
send_file (ThServer          *self,
           SoupServerMessage *msg,
           const char        *path,
           const char        *name)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                                                 G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED ","
                                                 G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC,
                                                 G_FILE_QUERY_INFO_NONE, NULL, NULL);
  g_autoptr(GDateTime) modified = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *last_modified = NULL;
  g_autofree char *body = NULL;
  const char *type = content_type_for (name);
  gsize length;
  gint64 mtime;

  if (info == NULL || g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR ||
      g_file_info_get_size (info) > MAX_FILE)
    {
      not_found (self, msg);
      return;
    }
  mtime = (gint64) g_file_info_get_attribute_uint64 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED) * G_USEC_PER_SEC +
          g_file_info_get_attribute_uint32 (info, G_FILE_ATTRIBUTE_TIME_MODIFIED_USEC);
  etag = g_strdup_printf ("W/\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\"",
                          (gint64) g_file_info_get_size (info), mtime);
  modified = g_date_time_new_from_unix_utc (mtime / G_USEC_PER_SEC);
  last_modified = soup_date_time_to_string (modified, SOUP_DATE_HTTP);

  th_server_get_stats (self)->http_requests++;
  th_server_add_cors (self, msg);
  soup_message_headers_replace (resp, "ETag", etag);
  soup_message_headers_replace (resp, "Last-Modified", last_modified);
  soup_message_headers_replace (resp, "Cache-Control", "no-cache");
  soup_message_headers_replace (resp, "X-Content-Type-Options", "nosniff");
  if (g_str_has_suffix (name, ".html"))
    {
      /* The page's own scripts and connections only; no framing. */
      soup_message_headers_replace (resp, "Content-Security-Policy",
                                    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                    "img-src 'self' data:; connect-src 'self' ws: wss:; "
                                    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      soup_message_headers_replace (resp, "X-Frame-Options", "DENY");
      soup_message_headers_replace (resp, "Referrer-Policy", "no-referrer");
    }
  if (not_modified (req, etag, mtime))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }
  if (!g_file_get_contents (path, &body, &length, NULL))
    {
      soup_message_headers_remove (resp, "ETag");
      soup_message_headers_remove (resp, "Last-Modified");
      th_server_get_stats (self)->http_requests--;   /* counted by th_server_send_error */
      not_found (self, msg);
      return;
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, g_steal_pointer (&body), length);
}

/* Answers @msg when @path is one of this file's; FALSE for any other
 * path (or, with [server] dashboard=false, for the dashboard's). */
gboolean
th_server_dashboard_handle (ThServer          *self,
                            SoupServerMessage *msg,
                            const char        *path)
{
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *file = NULL;
  const char *name;

  if (g_str_equal (path, "/api/v1/openapi.json"))
    file = g_build_filename (_th_get_data_dir (), "openapi.json", NULL);
  else if (!self->dashboard)
    return FALSE;
  else if (g_str_equal (path, "/"))
    file = g_build_filename (_th_get_data_dir (), "dashboard", "index.html", NULL);
  else if (g_str_equal (path, "/docs"))
    file = g_build_filename (_th_get_data_dir (), "dashboard", "docs.html", NULL);
  else if (g_str_has_prefix (path, "/dashboard/"))
    {
      const char *rel = path + strlen ("/dashboard/");

      if (!path_ok (rel))
        {
          th_server_send_error (self, msg, SOUP_STATUS_NOT_FOUND, "not_found", "no such file");
          return TRUE;
        }
      file = g_build_filename (_th_get_data_dir (), "dashboard", rel, NULL);
    }
  else
    return FALSE;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD)
    {
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
      th_server_send_error (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed",
                            "this path takes GET");
      return TRUE;
    }
  name = strrchr (file, G_DIR_SEPARATOR);
  send_file (self, msg, file, name != NULL ? name + 1 : file);
  return TRUE;
}
