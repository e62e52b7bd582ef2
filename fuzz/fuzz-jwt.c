/* fuzz-jwt.c: the server's token check (th-server-auth.c), as a request's
 * bearer token, ?token= or Socket.IO auth reaches it
 *
 * The server plugin's own th_server_auth_new() and
 * th_server_auth_verify(), with tokens= (a file of opaque tokens) and
 * jwt-secret= both set. An input is a token; when its first byte is odd,
 * the rest is taken as "header.claims" and signed with the secret first,
 * so that the claims (exp, nbf) are parsed too: nothing is parsed past a
 * bad signature.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "th-fuzz.h"
#include "th-server-private.h"

#define SECRET "fuzzing-secret-that-is-long-enough-for-hs256"

static __typeof__ (th_server_auth_verify) *auth_verify;
static ThServerAuth *auth;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = NULL;
  g_autofree char *tokens = NULL;
  g_autofree char *text = NULL;

  th_fuzz_init ();
  dir = g_dir_make_tmp ("tickhub-fuzz-jwt-XXXXXX", NULL);
  tokens = g_build_filename (dir, "tokens", NULL);
  th_fuzz_check (g_file_set_contents (tokens, "# fuzz\nopaque-token-1\nopaque-token-2\n", -1, NULL),
                 "cannot write %s", tokens);
  g_chmod (tokens, 0600);
  text = g_strdup_printf ("[server]\ntokens=%s\njwt-secret=%s\n", tokens, SECRET);
  th_fuzz_check (th_config_load_from_data (config, text, -1, NULL), "bad config");
  auth = TH_FUZZ_SERVER_FUNC (th_server_auth_new) (config, problems);
  th_fuzz_check (auth != NULL && problems->len == 0, "auth refused: %s",
                 problems->len > 0 ? (char *) problems->pdata[0] : "?");
  auth_verify = TH_FUZZ_SERVER_FUNC (th_server_auth_verify);
  return 0;
}

static char *
sign (const char *header_claims)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) SECRET, strlen (SECRET));
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autofree char *b64 = NULL;

  g_hmac_update (hmac, (const guchar *) header_claims, -1);
  g_hmac_get_digest (hmac, digest, &len);
  b64 = g_base64_encode (digest, len);
  g_strdelimit (b64, "+", '-');
  g_strdelimit (b64, "/", '_');
  g_strdelimit (b64, "=", '\0');
  return g_strconcat (header_claims, ".", b64, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *token = NULL;
  ThServerAuthResult result;

  if (size < 1)
    return 0;
  token = g_strndup ((const char *) data + 1, size - 1);
  if (data[0] & 1)
    {
      char *signed_token = sign (token);

      g_free (token);
      token = signed_token;
    }
  result = auth_verify (auth, token, TH_FUZZ_EPOCH);
  th_fuzz_check (result <= TH_SERVER_AUTH_NO_EXP, "result %d", result);
  th_fuzz_check (result != TH_SERVER_AUTH_OK || strncmp (token, "opaque-token-", 13) == 0 ||
                 strchr (token, '.') != NULL, "a token that is neither listed nor a JWT passed: %s", token);
  return 0;
}
