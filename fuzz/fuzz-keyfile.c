/* fuzz-keyfile.c: the config loader, as tickhubd --check-config runs it
 * before it loads a plugin
 *
 * th_config_load_from_data() (the text check in front of GKeyFile, inline
 * comments, GKeyFile), then the core groups' checks and a plugin group's
 * typed checks against the specs the shipped plugins declare
 * (X-Tickhub-Config), then every value read back through the typed
 * getters. Problems must each be one line naming a group.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "th-fuzz.h"

static const char *const specs[][2] = {
  { "binance", NULL },   /* @websocket,streams:list, expanded below */
  { "coingecko", "url:http-url,poll-interval:seconds,api-key:string,poll:enum(auto|always),timeout:seconds" },
  { "replay", "path:path,speed:number,exit-at-end:bool,loop:bool,format:enum(jsonl|raw)" },
  { "simulator", "interval:seconds,seed:uint,volatility:number,trades:bool" },
  { "server", "listen:string,max-connections:uint,max-message:uint,rate-limit:number,allowed-origins:list,"
              "status-interval:seconds,conflate-ms:uint,client-buffer:uint,price-wait:seconds,tokens:path,"
              "jwt-secret:string,tls-certificate:path,tls-key:path,socketio:bool,ping-interval:seconds,"
              "ping-timeout:seconds,backlog:uint,max-sockets:uint,header-timeout:seconds,body-timeout:seconds,"
              "idle-timeout:seconds,connect-timeout:seconds" },
};

static char *binance_spec;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  th_fuzz_init ();
  binance_spec = g_strconcat (th_ws_feed_get_config_spec (), ",streams:list", NULL);
  return 0;
}

static void
check_problems (GPtrArray *problems)
{
  for (guint i = 0; i < problems->len; i++)
    {
      const char *p = problems->pdata[i];

      th_fuzz_check (g_utf8_validate (p, -1, NULL), "a problem that is not UTF-8: %s", p);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  GKeyFile *kf;
  g_auto(GStrv) groups = NULL;

  if (!th_config_load_from_data (config, (const char *) data, (gssize) size, NULL))
    return 0;

  _th_config_check_core (config, problems);
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    if (th_config_has_group (config, specs[i][0]))
      _th_config_check_group (config, specs[i][0], specs[i][1] != NULL ? specs[i][1] : binance_spec, problems);
  check_problems (problems);

  kf = th_config_get_key_file (config);
  groups = g_key_file_get_groups (kf, NULL);
  for (guint g = 0; groups[g] != NULL; g++)
    {
      g_auto(GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);

      th_fuzz_check (g_utf8_validate (groups[g], -1, NULL), "a group name that is not UTF-8");
      for (guint k = 0; keys != NULL && keys[k] != NULL; k++)
        {
          g_autofree char *s = th_config_get_string (config, groups[g], keys[k], NULL);
          g_auto(GStrv) list = th_config_get_string_list (config, groups[g], keys[k]);
          gint64 duration;

          th_fuzz_check (s == NULL || g_utf8_validate (s, -1, NULL), "a value that is not UTF-8");
          (void) th_config_get_boolean (config, groups[g], keys[k], FALSE);
          (void) th_config_get_int (config, groups[g], keys[k], 0);
          (void) th_config_get_double (config, groups[g], keys[k], 0);
          for (guint l = 0; list != NULL && list[l] != NULL; l++)
            if (th_parse_timeframe (list[l], &duration, NULL))
              {
                g_autofree char *again = th_format_timeframe (duration);
                gint64 d2;

                th_fuzz_check (th_parse_timeframe (again, &d2, NULL) && d2 == duration,
                               "timeframe “%s” is %" G_GINT64_FORMAT " µs, written back as “%s”",
                               list[l], duration, again);
              }
        }
    }
  return 0;
}
