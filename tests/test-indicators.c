/* test-indicators.c: every indicator end to end
 *
 * A replay file through tickhubd to the jsonl sink, with every indicator
 * plugin configured; the closed candles of the output are fed to the same
 * plugins directly, and each published value must be the one they give,
 * for every symbol and timeframe, warm-up nulls included. (The numerics of
 * each indicator are tested in its own test-<name>.c.) Then the `hub`
 * property the C plugins get from th_plugin_class_install_hub().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

static const struct { const char *key, *plugin, *args; } specs[] = {
  { "sma_20", "sma", "20" },
  { "ema_12", "ema", "12" },
  { "wma_10", "wma", "10" },
  { "rsi", "rsi", "14" },
  { "macd", "macd", "12,26,9" },
  { "bb", "bollinger", "20,2" },
  { "stoch", "stoch", "14,3,3" },
  { "atr", "atr", "14" },
  { "vwap", "vwap", "" },
  { "obv", "obv", "" },
  { "roc", "roc_vala", "12" },   /* Vala; absent when built with -Dvapi=disabled */
};

typedef struct
{
  GPtrArray *candles;     /* ThCandle, closed, in order */
  GPtrArray *indicators;  /* JsonObject (the "indicators" member), closed, in order */
} Series;

static void
series_free (Series *s)
{
  g_ptr_array_unref (s->candles);
  g_ptr_array_unref (s->indicators);
  g_free (s);
}

static char *
write_replay (const char *dir)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  const char *symbols[] = { "BTC", "ETH" };
  double price[] = { 43000, 2300 };
  gint64 t0 = G_GINT64_CONSTANT (1704067200000);  /* ms, 2024-01-01 */

  /* 120 minutes, a few trades per minute per symbol; minute 37 is empty. */
  for (int m = 0; m < 120; m++)
    for (int k = 0; k < 4; k++)
      for (guint s = 0; s < G_N_ELEMENTS (symbols); s++)
        {
          if (m == 37)
            continue;
          price[s] = nearbyint (price[s] * exp (g_rand_double_range (rand, -0.003, 0.003)) * 100) / 100;
          g_string_append_printf (out, "{\"symbol\":\"%s\",\"price\":%.2f,\"size\":%.3f,\"timestamp\":%" G_GINT64_FORMAT ",\"source\":\"binance\"}\n",
                                  symbols[s], price[s], g_rand_double_range (rand, 0.01, 2),
                                  t0 + m * 60000 + k * 14000 + (gint64) s);
        }
  return th_test_write_file (dir, "ticks.jsonl", out->str);
}

static GHashTable *
read_output (const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) series_free);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(ThEvent) ev = NULL;
      JsonObject *data;
      g_autofree char *key = NULL;
      Series *s;

      if (*lines[i] == '\0')
        continue;
      ev = th_event_new_from_json (lines[i], -1, NULL);
      g_assert_nonnull (ev);
      if (!g_str_equal (th_event_get_name (ev), "candle_update") &&
          !g_str_equal (th_event_get_name (ev), "technical_indicators_update"))
        continue;

      data = json_node_get_object (th_event_get_data (ev));
      key = g_strdup_printf ("%s/%s", json_object_get_string_member (data, "symbol"),
                             json_object_get_string_member (data, "timeframe"));
      s = g_hash_table_lookup (series, key);
      if (s == NULL)
        {
          s = g_new0 (Series, 1);
          s->candles = g_ptr_array_new_with_free_func ((GDestroyNotify) th_candle_free);
          s->indicators = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
          g_hash_table_insert (series, g_strdup (key), s);
        }

      if (g_str_equal (th_event_get_name (ev), "candle_update"))
        {
          JsonObject *c = json_object_get_object_member (data, "candle");
          ThCandle *candle;
          gint64 start;
          JsonNode *vol;

          if (!json_object_get_boolean_member (c, "closed"))
            continue;
          g_assert_true (_th_parse_time (json_object_get_string_member (c, "start"), &start));
          vol = json_object_get_member (c, "volume");
          candle = th_candle_new (start, 0,
                                  json_object_get_double_member (c, "open"),
                                  json_object_get_double_member (c, "high"),
                                  json_object_get_double_member (c, "low"),
                                  json_object_get_double_member (c, "close"),
                                  JSON_NODE_HOLDS_NULL (vol) ? NAN : json_node_get_double (vol));
          g_ptr_array_add (s->candles, candle);
        }
      else
        {
          if (!json_object_get_boolean_member (data, "closed"))
            continue;
          g_ptr_array_add (s->indicators, json_object_ref (json_object_get_object_member (data, "indicators")));
        }
    }
  return series;
}

static void
check_series (const char *name,
              Series     *s)
{
  g_assert_cmpuint (s->candles->len, ==, s->indicators->len);
  g_assert_cmpuint (s->candles->len, >, 30);

  for (guint k = 0; k < G_N_ELEMENTS (specs); k++)
    {
      g_autoptr(ThIndicator) ind = NULL;
      g_auto(GStrv) outputs = NULL;
      guint warm = 0;

      if (g_str_equal (specs[k].plugin, "roc_vala") &&
          peas_engine_get_plugin_info (th_test_plugin_engine (), "roc_vala") == NULL)
        continue;
      ind = th_test_indicator_new (specs[k].plugin, specs[k].args, NULL);
      outputs = th_indicator_get_outputs (ind);

      for (guint i = 0; i < s->candles->len; i++)
        {
          g_autoptr(ThIndicatorValues) v = th_indicator_values_new (g_strv_length (outputs));
          ThCandle *c = s->candles->pdata[i];
          JsonObject *published = s->indicators->pdata[i];

          c->duration = 60 * G_USEC_PER_SEC;
          c->closed = TRUE;
          th_indicator_update (ind, c, TRUE, v);
          for (guint j = 0; outputs[j] != NULL; j++)
            {
              g_autofree char *out = g_strconcat (specs[k].key, outputs[j], NULL);
              JsonNode *node = json_object_get_member (published, out);
              double want = th_indicator_values_get (v, j);

              if (node == NULL)
                g_error ("%s: %s missing from candle %u", name, out, i);
              if (isnan (want))
                {
                  if (!JSON_NODE_HOLDS_NULL (node))
                    g_error ("%s: %s at candle %u is %g, want null", name, out, i, json_node_get_double (node));
                }
              else
                {
                  if (JSON_NODE_HOLDS_NULL (node))
                    g_error ("%s: %s at candle %u is null, want %.17g", name, out, i, want);
                  g_assert_cmpfloat (json_node_get_double (node), ==, want);
                  warm++;
                }
            }
        }
      /* Every indicator warmed up on this much data. */
      if (warm == 0)
        g_error ("%s: %s never produced a value", name, specs[k].key);
    }
}

static void
test_every_indicator_end_to_end (void)
{
  g_autofree char *dir = th_test_make_tmp_dir ("tickhub-ind-XXXXXX");
  g_autofree char *replay = write_replay (dir);
  g_autofree char *out = g_build_filename (dir, "out.jsonl", NULL);
  g_autofree char *conf = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) series = NULL;
  const char *argv[] = { g_getenv ("TICKHUBD"), "--config", NULL, NULL };

  g_string_append_printf (text, "[tickhub]\nplugins=replay;jsonl\nsymbols=BTC;ETH\ntimeframes=1m;5m\n"
                          "[replay]\npath=%s\nexit-at-end=true\n[jsonl]\npath=%s\n"
                          "events=candle_update;technical_indicators_update\n[indicators]\n", replay, out);
  for (guint k = 0; k < G_N_ELEMENTS (specs); k++)
    if (!g_str_equal (specs[k].plugin, "roc_vala") || peas_engine_get_plugin_info (th_test_plugin_engine (), "roc_vala") != NULL)
      g_string_append_printf (text, "%s=%s(%s)\n", specs[k].key, specs[k].plugin, specs[k].args);
  conf = th_test_write_file (dir, "tickhub.conf", text->str);
  argv[2] = conf;

  proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_subprocess_wait_check (proc, NULL, &error);
  g_assert_no_error (error);

  series = read_output (out);
  g_assert_nonnull (g_hash_table_lookup (series, "BTC/1m"));
  g_assert_nonnull (g_hash_table_lookup (series, "ETH/1m"));
  check_series ("BTC/1m", g_hash_table_lookup (series, "BTC/1m"));
  check_series ("ETH/1m", g_hash_table_lookup (series, "ETH/1m"));

  th_test_remove_tmp_dir (dir);
}

/* Every compiled indicator plugin gives back the hub it was made with,
 * and holds no reference to it. */
static void
test_hub_property (void)
{
  static const char *const plugins[] = {
    "sma", "ema", "wma", "rsi", "macd", "bollinger", "stoch", "atr", "vwap", "obv", "zscore",
    "roc_vala",   /* Vala, its own property; absent when built with -Dvapi=disabled */
  };
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);
  g_autoptr(PeasEngine) engine = peas_engine_new ();
  g_auto(GStrv) dirs = g_strsplit (g_getenv ("TICKHUB_PLUGIN_PATH"), ":", -1);

  for (guint i = 0; dirs[i] != NULL; i++)
    peas_engine_add_search_path (engine, dirs[i], NULL);
  for (guint k = 0; k < G_N_ELEMENTS (plugins); k++)
    {
      PeasPluginInfo *info = peas_engine_get_plugin_info (engine, plugins[k]);
      g_autoptr(GObject) ind = NULL;
      g_autoptr(ThHub) got = NULL;
      guint refs = G_OBJECT (hub)->ref_count;

      if (info == NULL && g_str_equal (plugins[k], "roc_vala"))
        continue;
      g_assert_true (peas_engine_load_plugin (engine, info));
      ind = G_OBJECT (peas_engine_create_extension (engine, info, TH_TYPE_INDICATOR, "hub", hub, NULL));
      g_assert_nonnull (ind);
      g_assert_cmpuint (G_OBJECT (hub)->ref_count, ==, refs);
      g_object_get (ind, "hub", &got, NULL);
      g_assert_true (got == hub);
    }
}

/* th_plugin_class_install_hub() on a class with a property of its own,
 * whose handlers it chains to. */
#define TEST_TYPE_PLUGIN (test_plugin_get_type ())
G_DECLARE_FINAL_TYPE (TestPlugin, test_plugin, TEST, PLUGIN, GObject)

struct _TestPlugin
{
  GObject  parent_instance;
  int      answer;
  ThHub   *hub;
};

enum {
  PROP_0,
  PROP_ANSWER,
};

G_DEFINE_FINAL_TYPE_WITH_CODE (TestPlugin, test_plugin, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (TH_TYPE_SINK, NULL))

static void
test_plugin_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_ANSWER:
      g_value_set_int (value, TEST_PLUGIN (object)->answer);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_plugin_set_property (GObject      *object,
                          guint         prop_id,
                          const GValue *value,
                          GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_ANSWER:
      TEST_PLUGIN (object)->answer = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
test_plugin_class_init (TestPluginClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = test_plugin_get_property;
  object_class->set_property = test_plugin_set_property;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (TestPlugin, hub));
  g_object_class_install_property (object_class, PROP_ANSWER,
    g_param_spec_int ("answer", NULL, NULL, 0, 100, 0,
                      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
test_plugin_init (TestPlugin *self)
{
}

static void
test_install_hub (void)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThHub) hub = th_hub_new (config, NULL);
  guint refs = G_OBJECT (hub)->ref_count;
  g_autoptr(TestPlugin) plugin = g_object_new (TEST_TYPE_PLUGIN, "answer", 42, "hub", hub, NULL);
  g_autoptr(TestPlugin) orphan = g_object_new (TEST_TYPE_PLUGIN, NULL);
  g_autoptr(ThHub) got = NULL;
  int answer = 0;

  g_assert_true (plugin->hub == hub);
  g_assert_cmpint (plugin->answer, ==, 42);
  g_assert_cmpuint (G_OBJECT (hub)->ref_count, ==, refs);
  g_object_get (plugin, "hub", &got, "answer", &answer, NULL);
  g_assert_true (got == hub);
  g_assert_cmpint (answer, ==, 42);
  g_object_set (plugin, "answer", 7, NULL);
  g_assert_cmpint (plugin->answer, ==, 7);
  g_assert_null (orphan->hub);
  g_assert_true (G_TYPE_IS_FINAL (TEST_TYPE_PLUGIN));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/indicators/every-indicator-end-to-end", test_every_indicator_end_to_end);
  g_test_add_func ("/indicators/hub-property", test_hub_property);
  g_test_add_func ("/plugin/install-hub", test_install_hub);
  return g_test_run ();
}
