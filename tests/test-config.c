/* test-config.c: parsing, lookup and the checks that name group, key and fix
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "th-private.h"
#include "test-utils.h"

/* The names the tests below use. */
#define config_from(text) th_test_config_new (text)
#define assert_has(haystack, needle) th_test_assert_contains (haystack, needle)

/* Loads a hub on @text and returns its error message (NULL when valid). */
static char *
load_problems (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ThHub) hub = th_test_hub_try_new (text, NULL, &error);

  if (hub != NULL)
    return NULL;
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  return g_strdup (error->message);
}

static void
test_inline_comments (void)
{
  g_autoptr(ThConfig) config = config_from (
    "[tickhub]                      # the core\n"
    "plugins=sma;jsonl   # module names\n"
    "symbols = BTC ; ETH;;SOL\n"
    "# a comment line\n"
    "[binance]\n"
    "url=wss://host/path#fragment\n");
  g_auto(GStrv) plugins = th_config_get_string_list (config, "tickhub", "plugins");
  g_auto(GStrv) symbols = th_config_get_string_list (config, "tickhub", "symbols");
  g_autofree char *url = th_config_get_string (config, "binance", "url", NULL);

  g_assert_cmpuint (g_strv_length (plugins), ==, 2);
  g_assert_cmpstr (plugins[1], ==, "jsonl");
  g_assert_cmpuint (g_strv_length (symbols), ==, 3);
  g_assert_cmpstr (symbols[2], ==, "SOL");
  g_assert_cmpstr (url, ==, "wss://host/path#fragment");
}

static void
test_getters (void)
{
  g_autoptr(ThConfig) config = config_from (
    "[a]\nb=yes\ni=-12\nd=2.5\nbad=x\nempty=\n");
  g_autofree char *missing = th_config_get_string (config, "a", "nope", "dflt");
  g_autofree char *empty = th_config_get_string (config, "a", "empty", "dflt");

  g_assert_true (th_config_get_boolean (config, "a", "b", FALSE));
  g_assert_cmpint (th_config_get_int (config, "a", "i", 0), ==, -12);
  g_assert_cmpfloat (th_config_get_double (config, "a", "d", 0), ==, 2.5);
  g_assert_cmpfloat (th_config_get_double (config, "a", "bad", 7), ==, 7);
  g_assert_cmpstr (missing, ==, "dflt");
  g_assert_cmpstr (empty, ==, "dflt");
  g_assert_null (th_config_get_string_list (config, "a", "nope"));
}

static void
test_syntax_error (void)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (th_config_load_from_data (config, "[tickhub\nplugins=x\n", -1, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
}

static void
test_every_problem_is_reported (void)
{
  g_autofree char *msg = load_problems (
    "[tickhub]\n"
    "plugins=sma;nosuchplugin\n"
    "symbols=BTC;btc\n"
    "timeframes=1m;7x;1m\n"
    "frobnicate=1\n"
    "[prices]\n"
    "order=binance\n"
    "[binance]\n"
    "ttl=soon\n"
    "[indicators]\n"
    "sma_0=sma(0)\n"
    "sma_x=sma(x)\n"
    "broken=sma(20\n"
    "what=nosuch(3)\n"
    "[symbols]\n"
    "BTC=binance\n"
    "[nonsense]\n"
    "a=b\n");
  g_auto(GStrv) lines = NULL;

  g_assert_nonnull (msg);
  lines = g_strsplit (msg, "\n", -1);
  if (g_test_verbose ())
    g_printerr ("%s\n", msg);

  assert_has (msg, "[tickhub] plugins: unknown plugin “nosuchplugin”");
  assert_has (msg, "add the plugin's folder to [tickhub] plugin-dirs");
  assert_has (msg, "[tickhub] symbols: “btc” is not a symbol");
  assert_has (msg, "[tickhub] timeframes: “7x” is not a timeframe");
  assert_has (msg, "[tickhub] timeframes: “1m” is listed twice");
  assert_has (msg, "[tickhub] frobnicate: unknown key; the keys of [tickhub] are plugins, symbols");
  assert_has (msg, "[binance] ttl: “soon” is not a duration");
  assert_has (msg, "[indicators] sma_0: sma period “0” is not a whole number from 1 to 10000");
  assert_has (msg, "[indicators] sma_x: sma period “x”");
  assert_has (msg, "[indicators] broken: “sma(20” is not plugin(arguments)");
  assert_has (msg, "[indicators] what: unknown plugin “nosuch”");
  assert_has (msg, "[symbols] BTC: “binance” is not venue:code");
  assert_has (msg, "[nonsense]: unknown group");
  g_assert_cmpuint (g_strv_length (lines), ==, 12);
}

/* The error of loading @length bytes of @data (-1: up to the NUL). */
static char *
text_problems (const char *data,
               gssize      length)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (th_config_load_from_data (config, data, length, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  if (g_test_verbose ())
    g_printerr ("%s\n", error->message);
  return g_strdup (error->message);
}

/* GKeyFile keeps the last of two values: an error, naming both lines. */
static void
test_duplicate_key (void)
{
  g_autofree char *msg = text_problems ("[tickhub]\nplugins=simulator\nsymbols=BTC\n\n"
                                        "# later, forgotten\n  symbols = ETH   # the second\n", -1);

  g_assert_cmpstr (msg, ==, "config:6: [tickhub] symbols: the key is given again (first on line 3); keep one of them");
}

/* GKeyFile merges two groups of one name: an error too, and a key of the
 * second that the first had already is given again. */
static void
test_duplicate_group (void)
{
  g_autofree char *msg = text_problems ("[tickhub]   # see [prices]\nplugins=simulator\n"
                                        "[prices]\norder=simulator\n"
                                        "[tickhub]\nsymbols=BTC\nplugins=jsonl\n", -1);
  g_auto(GStrv) lines = g_strsplit (msg, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_cmpstr (lines[0], ==, "config:5: [tickhub]: the group is given again (first on line 1); "
                                 "put all its keys in one [tickhub]");
  g_assert_cmpstr (lines[1], ==, "config:7: [tickhub] plugins: the key is given again (first on line 2); "
                                 "keep one of them");
}

/* A NUL ends the text for GKeyFile, and silently cut the rest of the
 * file: an error wherever it is. */
static void
test_nul_byte (void)
{
  static const char data[] = "[tickhub]\nplugins=simulator\n[jsonl]\npath=out\0put.jsonl\n"
                             "\0# a comment\n[sim\0ulator]\nttl=1\n";
  g_autofree char *msg = text_problems (data, sizeof data - 1);
  g_auto(GStrv) lines = g_strsplit (msg, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[0], ==, "config:4: [jsonl] path: a NUL byte in the value would cut the file short there; "
                                 "remove it");
  g_assert_cmpstr (lines[1], ==, "config:5: [jsonl]: a NUL byte would cut the file short there; remove it");
  g_assert_cmpstr (lines[2], ==, "config:6: [sim]: a NUL byte would cut the file short there; remove it");
}

/* `key[de]=` is a localized key to GKeyFile, kept or dropped by the
 * locale: tickhub reads plain keys only. */
static void
test_locale_key (void)
{
  g_autofree char *msg = text_problems ("[tickhub]\nplugins=simulator\nplugins[de]=jsonl\n"
                                        "[simulator]\ninterval[en_GB.UTF-8] = 2\n", -1);
  g_auto(GStrv) lines = g_strsplit (msg, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_cmpstr (lines[0], ==, "config:3: [tickhub] plugins[de]: a localized key, which tickhub does not read; "
                                 "write plugins= without [de]");
  g_assert_cmpstr (lines[1], ==, "config:5: [simulator] interval[en_GB.UTF-8]: a localized key, which tickhub does "
                                 "not read; write interval= without [en_GB.UTF-8]");
}

/* GKeyFile takes group names and keys that are not UTF-8; they would go
 * on into problems, logs and D-Bus replies (found by fuzz/fuzz-keyfile,
 * corpus keyfile/not-utf8-group). */
static void
test_not_utf8 (void)
{
  g_autofree char *msg = text_problems ("[tickhub]\nplugins=simulator\n[ \xc0]\nx=1\n[sim]\nk\xff=2\n"
                                        "v=caf\xc3\xa9 \xe9\n", -1);
  g_auto(GStrv) lines = g_strsplit (msg, "\n", -1);

  g_assert_true (g_utf8_validate (msg, -1, NULL));
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[0], ==, "config:3: the line is not UTF-8 text; save the file as UTF-8");
  g_assert_cmpstr (lines[1], ==, "config:6: the line is not UTF-8 text; save the file as UTF-8");
  g_assert_cmpstr (lines[2], ==, "config:7: the line is not UTF-8 text; save the file as UTF-8");
}

/* From a file, the file names the place; the values stay as they were. */
static void
test_text_problems_in_file (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-config-XXXXXX");
  g_autofree char *path = th_test_write_file (dir, "tickhub.conf", "[a]\nb=1\n[a]\nb=2\n");
  g_autofree char *expected = g_strdup_printf ("%s:3: [a]: the group is given again (first on line 1); "
                                               "put all its keys in one [a]\n"
                                               "%s:4: [a] b: the key is given again (first on line 2); keep one of them",
                                               path, path);
  g_autoptr(ThConfig) config = config_from ("[a]\nb=0\n");
  g_autoptr(GError) error = NULL;

  g_assert_false (th_config_load_from_file (config, path, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpint (th_config_get_int (config, "a", "b", -1), ==, 0);
  th_test_remove_tmp_dir (dir);
}

/* Twenty problems are listed; the others counted. What is not one: the
 * same key in two groups, keys that differ in case, a `#` line. */
static void
test_text_problems_are_bounded (void)
{
  g_autoptr(GString) text = g_string_new ("[tickhub]\nplugins=simulator\n[simulator]\nplugins=x\nPlugins=y\n# plugins=z\n");
  g_autofree char *msg = NULL;
  g_auto(GStrv) lines = NULL;

  for (guint i = 0; i < 25; i++)
    g_string_append (text, "interval=1\n");
  msg = text_problems (text->str, -1);
  lines = g_strsplit (msg, "\n", -1);

  g_assert_cmpuint (g_strv_length (lines), ==, 21);
  g_assert_cmpstr (lines[0], ==, "config:8: [simulator] interval: the key is given again (first on line 7); keep one of them");
  g_assert_cmpstr (lines[20], ==, "config: and 4 more problems of these kinds");
}

/* 100,000 symbols, listed in [tickhub] symbols and mapped in [symbols]:
 * every one of them is followed and mapped, and has its candles. Loading
 * them once allocated `history` candles per symbol and timeframe up front
 * (9.6 GB with the defaults); now the history grows as candles close.
 * The timing is bench/config's. */
static void
test_many_symbols (void)
{
  const guint n = 100000;
  g_autoptr(GString) text = g_string_new ("[tickhub]\nplugins=jsonl\ntimeframes=1s;1m;1h\nhistory=50\nsymbols=");
  g_autoptr(ThClock) clock = th_manual_clock_new (G_GINT64_CONSTANT (1704067200000000));
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GPtrArray) candles = NULL;
  const char *const *symbols;
  ThSymbolMap *map;

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%sS%05u", i > 0 ? ";" : "", i);
  g_string_append (text, "\n[jsonl]\npath=/dev/null\n[symbols]\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "S%05u=mine:s%05u-usd\n", i, i);

  hub = th_test_hub_new (text->str, clock);
  symbols = th_hub_get_symbols (hub);
  map = th_hub_get_symbol_map (hub);
  g_assert_cmpuint (g_strv_length ((char **) symbols), ==, n);
  for (guint i = 0; i < n; i++)
    {
      char symbol[16], code[16];

      g_snprintf (symbol, sizeof symbol, "S%05u", i);
      g_snprintf (code, sizeof code, "s%05u-usd", i);
      g_assert_cmpstr (symbols[i], ==, symbol);
      g_assert_true (th_hub_has_symbol (hub, symbol));
      g_assert_cmpstr (th_symbol_map_lookup (map, symbol, "mine"), ==, code);
      g_assert_cmpstr (th_symbol_map_reverse (map, "mine", code), ==, symbol);
    }

  /* The last symbol's candles, past the history kept (history=50): a
   * second each, on timeframes of 1 s and more. */
  th_hub_start (hub);
  for (guint i = 0; i <= 60; i++)
    {
      g_autoptr(ThTick) tick = th_tick_new ("S99999", "mine", TH_TICK_KIND_QUOTE, 100 + i,
                                            th_clock_get_time (clock));

      th_hub_push_tick (hub, tick);
      th_manual_clock_advance (TH_MANUAL_CLOCK (clock), G_USEC_PER_SEC);
    }
  candles = th_hub_get_closed_candles (hub, "S99999", "1s", 1000);
  g_assert_nonnull (candles);
  g_assert_cmpuint (candles->len, ==, 50);
  g_assert_cmpfloat (((ThCandle *) candles->pdata[0])->close, ==, 110);
  g_assert_cmpfloat (((ThCandle *) candles->pdata[49])->close, ==, 159);
  th_test_hub_stop (hub);
}

static void
test_disabled_plugin_group (void)
{
  g_autofree char *msg = load_problems (
    "[tickhub]\nplugins=simulator\n[sma]\nperiod=3\n");

  /* sma exists but is not enabled: say so rather than "unknown group". */
  assert_has (msg, "[sma]: plugin “sma” is not enabled; add it to [tickhub] plugins or remove this group");
}

static void
test_no_plugins (void)
{
  g_autofree char *msg = load_problems ("[tickhub]\nsymbols=BTC\n");

  assert_has (msg, "[tickhub] plugins: no plugins");
}

/* A group the host program reads itself: unknown to a hub until the host
 * declares it with its keys, then checked like the others. */
static void
test_host_group (void)
{
  static const char *text =
    "[tickhub]\nplugins=simulator\n[dbus]\nidle-timeout=1\n"
    "[myhost]\nport=x\ncolour=red\nname=a\n[nonsense]\na=1\n";
  g_autoptr(ThConfig) config = config_from (text);
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *msg = load_problems (text);

  /* The core knows no [dbus]: that is tickhubd's, which declares it. */
  assert_has (msg, "[dbus]: unknown group; the groups are [tickhub], [prices], [indicators], [symbols] "
                   "and one per plugin, named after it");
  assert_has (msg, "[myhost]: unknown group");

  th_hub_add_config_group (hub, "myhost", "port:number");
  th_hub_add_config_group (hub, "myhost", "port:uint,name:string");   /* replaces the first */
  th_hub_add_config_group (hub, "dbus", "idle-timeout:seconds");
  g_assert_false (th_hub_load (hub, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
  g_assert_null (strstr (error->message, "[dbus]:"));
  g_assert_null (strstr (error->message, "[myhost]: unknown group"));
  assert_has (error->message, "[myhost] port: “x” is not");
  assert_has (error->message, "[myhost] colour: unknown key; the keys of [myhost] are port, name");
  assert_has (error->message, "[nonsense]: unknown group; the groups are [tickhub], [prices], [indicators], "
                              "[symbols], [myhost], [dbus] and one per plugin, named after it");
}

/* X-Tickhub-Config=@websocket: the keys ThWsFeed reads, with their types. */
static void
test_websocket_keys (void)
{
  g_autofree char *msg = load_problems (
    "[tickhub]\nplugins=binance\n"
    "[binance]\nconnect=false\nstale-after=soon\nmax-frame=-1\nrecord=\ncolour=red\n");

  assert_has (msg, "[binance] stale-after: “soon” is not a duration");
  assert_has (msg, "[binance] max-frame: “-1” is not");
  assert_has (msg, "[binance] colour: unknown key; the keys of [binance] are url, stale-after, reconnect-max, "
                   "connect-timeout, max-frame, record, connect, streams, rest-url, listing, listing-max-age, listing-quote, "
                   "max-streams, max-url, ttl");
  g_assert_cmpstr (th_ws_feed_get_config_spec (), ==,
                   "url:ws-url,stale-after:seconds,reconnect-max:seconds,connect-timeout:seconds,"
                   "max-frame:uint,record:path,connect:bool");
}

static void
test_valid (void)
{
  g_autofree char *msg = load_problems (
    "[tickhub]\nplugins=sma\nsymbols=BTC;ETH\ntimeframes=1m;1h\n"
    "[prices]\norder=binance;coinbase\n[binance]\nttl=2.5\n"
    "[indicators]\nsma_20=sma(20)\nfast = sma( 5 )\n");

  g_assert_null (msg);
}

static void
test_lookup_order (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tickhub-config-XXXXXX", NULL);
  g_autofree char *user = g_build_filename (dir, "user", "tickhub", NULL);
  g_autofree char *sys = g_build_filename (dir, "sys", "tickhub", NULL);
  g_autofree char *user_file = g_build_filename (user, "tickhub.conf", NULL);
  g_autofree char *sys_file = g_build_filename (sys, "tickhub.conf", NULL);
  g_autofree char *found = NULL;

  if (g_test_subprocess ())
    {
      /* Only here: GLib caches the XDG directories on first use. */
      g_setenv ("XDG_CONFIG_HOME", g_getenv ("TEST_USER_DIR"), TRUE);
      g_setenv ("XDG_CONFIG_DIRS", g_getenv ("TEST_SYS_DIR"), TRUE);
      found = th_config_find_file ();
      g_print ("%s", found);
      return;
    }

  g_mkdir_with_parents (user, 0700);
  g_mkdir_with_parents (sys, 0700);
  g_file_set_contents (sys_file, "", 0, NULL);

  {
    g_autofree char *user_root = g_build_filename (dir, "user", NULL);
    g_autofree char *sys_root = g_build_filename (dir, "sys", NULL);

    g_setenv ("TEST_USER_DIR", user_root, TRUE);
    g_setenv ("TEST_SYS_DIR", sys_root, TRUE);
  }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout (sys_file);

  g_file_set_contents (user_file, "", 0, NULL);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout (user_file);

  g_remove (user_file);
  g_remove (sys_file);
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*tickhub.conf");
}

static void
test_parse_call (void)
{
  g_autofree char *name = NULL;
  g_auto(GStrv) args = NULL;

  g_assert_true (_th_parse_call ("macd( 12, 26 ,9 )", &name, &args));
  g_assert_cmpstr (name, ==, "macd");
  g_assert_cmpuint (g_strv_length (args), ==, 3);
  g_assert_cmpstr (args[1], ==, "26");
  g_clear_pointer (&name, g_free);
  g_clear_pointer (&args, g_strfreev);

  g_assert_true (_th_parse_call ("obv", &name, &args));
  g_assert_cmpuint (g_strv_length (args), ==, 0);
  g_clear_pointer (&name, g_free);
  g_clear_pointer (&args, g_strfreev);

  g_assert_false (_th_parse_call ("sma(1,,2)", &name, &args));
  g_assert_false (_th_parse_call ("(2)", &name, &args));
  g_assert_false (_th_parse_call ("sma(2) x", &name, &args));
  g_assert_false (_th_parse_call ("a b", &name, &args));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/inline-comments", test_inline_comments);
  g_test_add_func ("/config/getters", test_getters);
  g_test_add_func ("/config/syntax-error", test_syntax_error);
  g_test_add_func ("/config/duplicate-key", test_duplicate_key);
  g_test_add_func ("/config/duplicate-group", test_duplicate_group);
  g_test_add_func ("/config/nul-byte", test_nul_byte);
  g_test_add_func ("/config/locale-key", test_locale_key);
  g_test_add_func ("/config/not-utf8", test_not_utf8);
  g_test_add_func ("/config/text-problems-in-file", test_text_problems_in_file);
  g_test_add_func ("/config/text-problems-are-bounded", test_text_problems_are_bounded);
  g_test_add_func ("/config/many-symbols", test_many_symbols);
  g_test_add_func ("/config/every-problem-is-reported", test_every_problem_is_reported);
  g_test_add_func ("/config/disabled-plugin-group", test_disabled_plugin_group);
  g_test_add_func ("/config/no-plugins", test_no_plugins);
  g_test_add_func ("/config/host-group", test_host_group);
  g_test_add_func ("/config/websocket-keys", test_websocket_keys);
  g_test_add_func ("/config/valid", test_valid);
  g_test_add_func ("/config/lookup-order", test_lookup_order);
  g_test_add_func ("/config/parse-call", test_parse_call);

  return g_test_run ();
}
