/* th-server-auth.c: optional bearer-token and JWT authentication
 *
 * Two ways, either or both:
 *   [server] tokens=FILE       one opaque token per line (# comments and
 *                              blank lines ignored); the file is watched
 *                              and reloaded when it changes, so tokens can
 *                              be added or revoked without a restart.
 *   [server] jwt-secret=TEXT   HS256 JSON Web Tokens signed with TEXT;
 *                              `exp` is required and checked, `nbf` too
 *                              when present. Any other `alg` (`none`
 *                              first of all) is refused.
 *
 * A request presents its token as `Authorization: Bearer TOKEN` (REST,
 * WebSocket), `?token=TOKEN` (WebSocket only: browsers cannot set headers
 * on a WebSocket), or in the Socket.IO CONNECT `auth` payload. A failure
 * is a bare 401 / refused connect for the client and a counted, rate-
 * limited log line with the reason for the operator: the client never
 * learns whether its token was unknown, expired or forged.
 *
 * Tokens from the file are kept as SHA-256 digests and looked up by
 * digest, and JWT signatures are compared in constant time, so response
 * times say nothing about how close a guess was.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "th-private.h"
#include "th-server-private.h"

#define MAX_TOKEN_LENGTH   8192
#define MIN_SECRET_LENGTH  32
#define LOG_INTERVAL_USEC  (10 * G_USEC_PER_SEC)

struct _ThServerAuth
{
  char         *tokens_path;     /* NULL: no token file */
  GHashTable   *digests;         /* hex SHA-256 of each token (set) */
  GFileMonitor *monitor;
  GBytes       *secret;          /* NULL: no JWT */

  guint64       failures;
  gint64        logged_at;       /* monotonic µs of the last failure logged */
  guint64       unlogged;        /* failures since then */
};

static const char *const reason_names[] = {
  [TH_SERVER_AUTH_OK] = "ok",
  [TH_SERVER_AUTH_MISSING] = "no token",
  [TH_SERVER_AUTH_UNKNOWN] = "unknown token",
  [TH_SERVER_AUTH_MALFORMED] = "malformed token",
  [TH_SERVER_AUTH_BAD_ALG] = "JWT algorithm is not HS256",
  [TH_SERVER_AUTH_BAD_SIGNATURE] = "bad JWT signature",
  [TH_SERVER_AUTH_EXPIRED] = "expired JWT",
  [TH_SERVER_AUTH_NOT_YET_VALID] = "JWT not valid yet (nbf)",
  [TH_SERVER_AUTH_NO_EXP] = "JWT without exp",
};

const char *
th_server_auth_reason_to_string (ThServerAuthResult result)
{
  g_return_val_if_fail (result < G_N_ELEMENTS (reason_names), "?");
  return reason_names[result];
}

/* Token file */

static char *
digest_of (const char *token,
           gsize       length)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) token, length);
}

/* Reads @path into a new set of digests; NULL with @error when the file
 * cannot be read or holds no token. */
static GHashTable *
read_tokens (const char  *path,
             GError     **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      gsize len = strlen (line);

      gboolean admin = FALSE;

      if (len == 0 || line[0] == '#')
        continue;
      /* "TOKEN admin": an admin token (bearer tokens have no spaces). */
      if (len > 6 && g_str_has_suffix (line, "admin") && g_ascii_isspace (line[len - 6]))
        {
          admin = TRUE;
          len -= 6;
          while (len > 0 && g_ascii_isspace (line[len - 1]))
            len--;
          line[len] = '\0';
          if (len == 0)
            continue;
        }
      if (len > MAX_TOKEN_LENGTH)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "line %u is longer than %u characters", i + 1, MAX_TOKEN_LENGTH);
          return NULL;
        }
      g_hash_table_insert (set, digest_of (line, len), GINT_TO_POINTER (admin ? 2 : 1));
    }
  if (g_hash_table_size (set) == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "it holds no token");
      return NULL;
    }
  return g_steal_pointer (&set);
}

static void
on_tokens_changed (GFileMonitor      *monitor,
                   GFile             *file,
                   GFile             *other,
                   GFileMonitorEvent  event,
                   ThServerAuth      *auth)
{
  g_autoptr(GError) error = NULL;
  GHashTable *set;

  if (event != G_FILE_MONITOR_EVENT_CHANGES_DONE_HINT && event != G_FILE_MONITOR_EVENT_CREATED &&
      event != G_FILE_MONITOR_EVENT_DELETED && event != G_FILE_MONITOR_EVENT_MOVED_IN &&
      event != G_FILE_MONITOR_EVENT_RENAMED)
    return;
  set = read_tokens (auth->tokens_path, &error);
  if (set == NULL)
    {
      /* Keeping the old set is safer than locking everyone out while an
       * editor is halfway through saving; a revoked token stays valid
       * until the file is readable again, which the log says. */
      g_warning ("server: cannot reload [server] tokens from %s: %s; keeping the %u tokens read before",
                 auth->tokens_path, error->message, g_hash_table_size (auth->digests));
      return;
    }
  g_hash_table_unref (auth->digests);
  auth->digests = set;
  g_message ("server: reloaded %u tokens from %s", g_hash_table_size (set), auth->tokens_path);
}

/* Configuration */

/* A file named in the config: relative to the config file's folder (to
 * the working directory for a config that was not read from a file), as
 * the jsonl sink's path= is. */
char *
th_server_config_file (ThConfig   *config,
                       const char *path)
{
  const char *config_path = th_config_get_path (config);
  g_autofree char *config_full = config_path != NULL ? g_canonicalize_filename (config_path, NULL) : NULL;
  g_autofree char *dir = config_full != NULL ? g_path_get_dirname (config_full) : NULL;

  return g_canonicalize_filename (path, dir);
}

ThServerAuth *
th_server_auth_new (ThConfig  *config,
                    GPtrArray *problems)
{
  g_autofree char *path = th_config_get_string (config, "server", "tokens", NULL);
  g_autofree char *secret = th_config_get_string (config, "server", "jwt-secret", NULL);
  ThServerAuth *auth;

  if (path != NULL && path[0] == '\0')
    g_clear_pointer (&path, g_free);
  if (secret != NULL && secret[0] == '\0')
    g_clear_pointer (&secret, g_free);
  if (path == NULL && secret == NULL)
    return NULL;

  auth = g_new0 (ThServerAuth, 1);
  if (path != NULL)
    {
      g_autoptr(GError) error = NULL;
      GStatBuf st;

      auth->tokens_path = th_server_config_file (config, path);
      auth->digests = read_tokens (auth->tokens_path, &error);
      if (auth->digests == NULL)
        {
          g_ptr_array_add (problems, g_strdup_printf ("[server] tokens: cannot use %s: %s; give a file with one "
                                                      "token per line (# starts a comment)",
                                                      auth->tokens_path, error->message));
          auth->digests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
        }
      else if (g_stat (auth->tokens_path, &st) == 0 && (st.st_mode & S_IROTH) != 0)
        g_warning ("server: %s ([server] tokens) is readable by every user; chmod o-r it",
                   auth->tokens_path);
    }
  if (secret != NULL)
    {
      gsize len = strlen (secret);

      if (len < MIN_SECRET_LENGTH)
        g_ptr_array_add (problems, g_strdup_printf ("[server] jwt-secret: %" G_GSIZE_FORMAT " characters is too "
                                                    "short for HS256; use at least %d random characters, "
                                                    "such as the output of `openssl rand -base64 32`",
                                                    len, MIN_SECRET_LENGTH));
      auth->secret = g_bytes_new_take (g_steal_pointer (&secret), len);
    }
  return auth;
}

void
th_server_auth_start (ThServerAuth *auth)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GError) error = NULL;

  if (auth == NULL || auth->tokens_path == NULL || auth->monitor != NULL)
    return;
  file = g_file_new_for_path (auth->tokens_path);
  auth->monitor = g_file_monitor_file (file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (auth->monitor == NULL)
    {
      g_warning ("server: cannot watch %s for changes: %s; restart tickhubd after editing it",
                 auth->tokens_path, error->message);
      return;
    }
  g_signal_connect (auth->monitor, "changed", G_CALLBACK (on_tokens_changed), auth);
}

void
th_server_auth_free (ThServerAuth *auth)
{
  if (auth == NULL)
    return;
  if (auth->monitor != NULL)
    {
      g_signal_handlers_disconnect_by_data (auth->monitor, auth);
      g_file_monitor_cancel (auth->monitor);
      g_object_unref (auth->monitor);
    }
  g_free (auth->tokens_path);
  g_clear_pointer (&auth->digests, g_hash_table_unref);
  g_clear_pointer (&auth->secret, g_bytes_unref);
  g_free (auth);
}

guint64
th_server_auth_get_failures (ThServerAuth *auth)
{
  return auth != NULL ? auth->failures : 0;
}

/* JWT (RFC 7519) with HS256 (RFC 7518 §3.2) */

static GBytes *
base64url_decode (const char *text,
                  gsize       length)
{
  g_autoptr(GString) b64 = g_string_sized_new (length + 3);
  guchar *data;
  gsize out_len;

  if (length == 0)
    return NULL;
  for (gsize i = 0; i < length; i++)
    {
      char c = text[i];

      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!g_ascii_isalnum (c))
        return NULL;   /* padding and anything else are not base64url */
      g_string_append_c (b64, c);
    }
  if (length % 4 == 1)
    return NULL;
  while (b64->len % 4 != 0)
    g_string_append_c (b64, '=');
  data = g_base64_decode (b64->str, &out_len);
  return g_bytes_new_take (data, out_len);
}

static JsonObject *
decode_json_object (const char *text,
                    gsize       length)
{
  g_autoptr(GBytes) bytes = base64url_decode (text, length);
  g_autoptr(JsonParser) parser = NULL;
  gconstpointer data;
  gsize size;
  JsonNode *root;

  if (bytes == NULL)
    return NULL;
  data = g_bytes_get_data (bytes, &size);
  if (size == 0 || !g_utf8_validate (data, size, NULL))
    return NULL;
  parser = json_parser_new_immutable ();
  if (!th_json_parser_load (parser, data, size, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_object_ref (json_node_get_object (root));
}

static gboolean
equal_in_constant_time (const guint8 *a,
                        const guint8 *b,
                        gsize         length)
{
  guint8 diff = 0;

  for (gsize i = 0; i < length; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

/* A claim that is a number of seconds since the epoch: FALSE when absent;
 * when present, @ok says whether it is a number. */
static gboolean
get_time_claim (JsonObject *claims,
                const char *name,
                double     *value,
                gboolean   *ok)
{
  JsonNode *node = json_object_get_member (claims, name);

  *ok = TRUE;
  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_INT64 && json_node_get_value_type (node) != G_TYPE_DOUBLE))
    {
      *ok = FALSE;
      return TRUE;
    }
  *value = json_node_get_double (node);
  return TRUE;
}

static ThServerAuthResult
check_jwt (ThServerAuth *auth,
           const char   *token,
           gsize         length,
           gint64        now_usec)
{
  const char *dot1 = memchr (token, '.', length);
  const char *dot2 = dot1 != NULL ? memchr (dot1 + 1, '.', length - (dot1 + 1 - token)) : NULL;
  const char *sig_text;
  gsize sig_len;
  g_autoptr(JsonObject) header = NULL;
  g_autoptr(JsonObject) claims = NULL;
  g_autoptr(GBytes) signature = NULL;
  g_autoptr(GHmac) hmac = NULL;
  guint8 expected[32];
  gsize expected_len = sizeof expected;
  gsize secret_len;
  const guchar *secret;
  double exp, nbf, now = now_usec / (double) G_USEC_PER_SEC;
  gboolean ok;

  if (dot1 == NULL || dot2 == NULL || memchr (dot2 + 1, '.', length - (dot2 + 1 - token)) != NULL)
    return TH_SERVER_AUTH_MALFORMED;
  header = decode_json_object (token, dot1 - token);
  if (header == NULL)
    return TH_SERVER_AUTH_MALFORMED;
  if (g_strcmp0 (th_json_object_get_string (header, "alg"), "HS256") != 0)
    return TH_SERVER_AUTH_BAD_ALG;

  sig_text = dot2 + 1;
  sig_len = length - (sig_text - token);
  signature = base64url_decode (sig_text, sig_len);
  if (signature == NULL)
    return TH_SERVER_AUTH_MALFORMED;

  /* The signature before the claims: nothing of an unsigned payload is
   * looked at. */
  secret = g_bytes_get_data (auth->secret, &secret_len);
  hmac = g_hmac_new (G_CHECKSUM_SHA256, secret, secret_len);
  g_hmac_update (hmac, (const guchar *) token, dot2 - token);
  g_hmac_get_digest (hmac, expected, &expected_len);
  if (g_bytes_get_size (signature) != expected_len ||
      !equal_in_constant_time (g_bytes_get_data (signature, NULL), expected, expected_len))
    return TH_SERVER_AUTH_BAD_SIGNATURE;

  claims = decode_json_object (dot1 + 1, dot2 - (dot1 + 1));
  if (claims == NULL)
    return TH_SERVER_AUTH_MALFORMED;
  if (!get_time_claim (claims, "exp", &exp, &ok))
    return TH_SERVER_AUTH_NO_EXP;
  if (!ok)
    return TH_SERVER_AUTH_MALFORMED;
  if (now >= exp)
    return TH_SERVER_AUTH_EXPIRED;
  if (get_time_claim (claims, "nbf", &nbf, &ok))
    {
      if (!ok)
        return TH_SERVER_AUTH_MALFORMED;
      if (now < nbf)
        return TH_SERVER_AUTH_NOT_YET_VALID;
    }
  return TH_SERVER_AUTH_OK;
}

ThServerAuthResult
th_server_auth_verify (ThServerAuth *auth,
                       const char   *token,
                       gint64        now_usec)
{
  gsize length;
  ThServerAuthResult result = TH_SERVER_AUTH_UNKNOWN;

  if (auth == NULL)
    return TH_SERVER_AUTH_OK;
  if (token == NULL || token[0] == '\0')
    return TH_SERVER_AUTH_MISSING;
  length = strnlen (token, MAX_TOKEN_LENGTH + 1);
  if (length > MAX_TOKEN_LENGTH)
    return TH_SERVER_AUTH_MALFORMED;

  if (auth->digests != NULL)
    {
      g_autofree char *digest = digest_of (token, length);

      if (g_hash_table_contains (auth->digests, digest))
        return TH_SERVER_AUTH_OK;
    }
  if (auth->secret != NULL)
    {
      result = check_jwt (auth, token, length, now_usec);
      /* A token that is not a JWT at all was most likely meant for the
       * token file. */
      if (result == TH_SERVER_AUTH_MALFORMED && auth->digests != NULL && memchr (token, '.', length) == NULL)
        result = TH_SERVER_AUTH_UNKNOWN;
    }
  return result;
}

/* Records a failure: counted, and logged at most once per 10 s with the
 * number of failures since the last line, so a client hammering with bad
 * tokens cannot flood the journal. */
void
th_server_auth_failed (ThServerAuth       *auth,
                       ThServerAuthResult  result,
                       const char         *what,
                       const char         *remote)
{
  gint64 now = g_get_monotonic_time ();

  if (auth == NULL)
    return;
  auth->failures++;
  if (auth->logged_at != 0 && now - auth->logged_at < LOG_INTERVAL_USEC)
    {
      auth->unlogged++;
      return;
    }
  if (auth->unlogged > 0)
    g_message ("server: refused %s from %s: %s (and %" G_GUINT64_FORMAT " other refusals in the last %d s)",
               what, remote, th_server_auth_reason_to_string (result), auth->unlogged,
               (int) ((now - auth->logged_at) / G_USEC_PER_SEC));
  else
    g_message ("server: refused %s from %s: %s", what, remote, th_server_auth_reason_to_string (result));
  auth->logged_at = now;
  auth->unlogged = 0;
}

/* The bearer token of a request: the Authorization header, or, when
 * @allow_query (WebSocket handshakes), ?token= (@query may be NULL: the
 * request's own query is parsed then). */
char *
th_server_auth_request_token (SoupServerMessage *msg,
                              GHashTable        *query,
                              gboolean           allow_query)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *header = soup_message_headers_get_one (headers, "Authorization");

  if (header != NULL)
    {
      while (*header == ' ')
        header++;
      if (g_ascii_strncasecmp (header, "Bearer ", 7) == 0)
        {
          header += 7;
          while (*header == ' ')
            header++;
          return g_strdup (header);
        }
      return NULL;   /* Basic and friends: not ours */
    }
  if (!allow_query)
    return NULL;
  if (query == NULL)
    {
      const char *text = g_uri_get_query (soup_server_message_get_uri (msg));
      g_autoptr(GHashTable) params = NULL;

      if (text == NULL)
        return NULL;
      params = g_uri_parse_params (text, -1, "&", G_URI_PARAMS_NONE, NULL);
      return params != NULL ? g_strdup (g_hash_table_lookup (params, "token")) : NULL;
    }
  return g_strdup (g_hash_table_lookup (query, "token"));
}

gboolean
th_server_auth_check (ThServer   *self,
                      const char *token,
                      const char *what,
                      const char *remote)
{
  ThServerAuth *auth = th_server_get_auth (self);
  ThServerAuthResult result;

  if (auth == NULL)
    return TRUE;
  result = th_server_auth_verify (auth, token, g_get_real_time ());
  if (result == TH_SERVER_AUTH_OK)
    return TRUE;
  th_server_auth_failed (auth, result, what, remote);
  return FALSE;
}

/* Checks a REST or WebSocket request; on failure answers it with a bare
 * 401 and returns FALSE. */
gboolean
th_server_auth_check_request (ThServer          *self,
                              SoupServerMessage *msg,
                              GHashTable        *query,
                              gboolean           allow_query,
                              const char        *what)
{
  ThServerAuth *auth = th_server_get_auth (self);
  g_autofree char *token = NULL;
  ThServerAuthResult result;

  if (auth == NULL)
    return TRUE;
  token = th_server_auth_request_token (msg, query, allow_query);
  result = th_server_auth_verify (auth, token, g_get_real_time ());
  if (result == TH_SERVER_AUTH_OK)
    return TRUE;
  th_server_auth_failed (auth, result, what, soup_server_message_get_remote_host (msg));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "WWW-Authenticate",
                                "Bearer realm=\"tickhub\"");
  th_server_send_error (self, msg, SOUP_STATUS_UNAUTHORIZED, "unauthorized", "authentication required");
  return FALSE;
}

/* Who a token that th_server_auth_verify() accepted is, for the alert
 * rules a client owns: "token:" and the start of its digest (a token of
 * the file), "jwt:" and its `sub` claim; and whether it is an admin one
 * ("TOKEN admin" in the file, `"admin": true` in a JWT), whose holder
 * manages every rule. Without authentication every client is an admin
 * (the server is the local user's). */
void
th_server_auth_identify (ThServer    *self,
                         const char  *token,
                         char       **owner,
                         gboolean    *admin)
{
  ThServerAuth *auth = th_server_get_auth (self);
  gsize length;

  *owner = NULL;
  *admin = FALSE;
  if (auth == NULL)
    {
      *owner = g_strdup ("local");
      *admin = TRUE;
      return;
    }
  if (token == NULL || token[0] == '\0')
    return;
  length = strnlen (token, MAX_TOKEN_LENGTH + 1);
  if (length > MAX_TOKEN_LENGTH)
    return;
  if (auth->digests != NULL)
    {
      g_autofree char *digest = digest_of (token, length);
      gpointer value = g_hash_table_lookup (auth->digests, digest);

      if (value != NULL)
        {
          *owner = g_strdup_printf ("token:%.12s", digest);
          *admin = GPOINTER_TO_INT (value) == 2;
          return;
        }
    }
  if (auth->secret != NULL)
    {
      const char *dot1 = memchr (token, '.', length);
      const char *dot2 = dot1 != NULL ? memchr (dot1 + 1, '.', length - (dot1 + 1 - token)) : NULL;
      g_autoptr(JsonObject) claims = dot2 != NULL ? decode_json_object (dot1 + 1, dot2 - (dot1 + 1)) : NULL;
      JsonNode *sub = claims != NULL ? json_object_get_member (claims, "sub") : NULL;
      JsonNode *flag = claims != NULL ? json_object_get_member (claims, "admin") : NULL;

      if (claims == NULL)
        return;
      if (sub != NULL && json_node_get_value_type (sub) == G_TYPE_STRING)
        {
          g_autofree char *quoted = _th_utf8_excerpt (json_node_get_string (sub), 200);

          *owner = g_strconcat ("jwt:", quoted, NULL);
        }
      else
        {
          g_autofree char *digest = digest_of (token, length);

          *owner = g_strdup_printf ("jwt:%.12s", digest);
        }
      *admin = flag != NULL && json_node_get_value_type (flag) == G_TYPE_BOOLEAN && json_node_get_boolean (flag);
    }
}
