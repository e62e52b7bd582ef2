/* indicators.c: the cost of one indicator update, through the plugin call
 * path (th_indicator_update → the plugin's vfunc), per indicator and for
 * the default set together; committed (closed candle) and provisional.
 * Then the same indicator, the rolling z-score, in C (zscore), Python
 * (zscore_py, through libpeas's python3 loader and our overrides' guard)
 * and JavaScript (zscore_js, through the GJS bridge): what a language
 * costs per update.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <stdio.h>

#include <libpeas/peas.h>

#include "th-private.h"

#define N_CANDLES 4096

static PeasEngine *engine;
static ThCandle candles[N_CANDLES];

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static ThIndicator *configure (ThIndicator *ind,
                               const char  *plugin,
                               const char  *args);

static ThIndicator *
make (const char *plugin,
      const char *args)
{
  PeasPluginInfo *info = peas_engine_get_plugin_info (engine, plugin);
  ThIndicator *ind;

  if (info == NULL || !peas_engine_load_plugin (engine, info))
    return NULL;
  ind = TH_INDICATOR (peas_engine_create_extension (engine, info, TH_TYPE_INDICATOR, "hub", NULL, NULL));
  return configure (ind, plugin, args);
}

/* A JavaScript plugin through the GJS bridge, as the hub loads it. */
static ThIndicator *
make_js (ThHub      *hub,
         const char *plugin,
         const char *args)
{
  g_auto(GStrv) dirs = g_strsplit (g_getenv ("TICKHUB_PLUGIN_PATH") != NULL ? g_getenv ("TICKHUB_PLUGIN_PATH") : "", ":", -1);
  g_autofree char *script = g_strconcat (plugin, ".js", NULL);
  g_autoptr(GError) error = NULL;
  GType types[3];

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *file = g_build_filename (dirs[i], plugin, script, NULL);

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!_th_gjs_bridge_load (hub, plugin, file, types, &error))
        {
          g_printerr ("%s: %s\n", plugin, error->message);
          return NULL;
        }
      return configure (g_object_new (types[2], "hub", hub, NULL), plugin, args);
    }
  return NULL;
}

static ThIndicator *
configure (ThIndicator *ind,
           const char  *plugin,
           const char  *args)
{
  g_auto(GStrv) argv = g_strsplit (args, ",", -1);
  g_autoptr(GError) error = NULL;

  if (!th_indicator_configure (ind, *args != '\0' ? (const char *const *) argv : NULL, &error))
    {
      g_printerr ("%s(%s): %s\n", plugin, args, error->message);
      g_object_unref (ind);
      return NULL;
    }
  return ind;
}

/* The vfuncs called directly, as the hub does with the interface it
 * looked up once per instance: what the invoker's checks cost. */
static double
run_direct (ThIndicator **inds,
            guint         n_inds,
            guint         n)
{
  g_autoptr(ThIndicatorValues) values = th_indicator_values_new (TH_INDICATOR_MAX_OUTPUTS);
  ThIndicatorInterface *ifaces[16];
  double t0;
  volatile double sink = 0;

  for (guint k = 0; k < n_inds; k++)
    ifaces[k] = TH_INDICATOR_GET_IFACE (inds[k]);
  t0 = now_s ();
  for (guint i = 0; i < n; i++)
    for (guint k = 0; k < n_inds; k++)
      {
        th_indicator_values_reset (values);
        ifaces[k]->update (inds[k], &candles[i % N_CANDLES], TRUE, values);
        sink += th_indicator_values_get (values, 0);
      }
  (void) sink;
  return (now_s () - t0) * 1e9 / n;
}

static double
run (ThIndicator **inds,
     guint         n_inds,
     guint         n,
     gboolean      commit)
{
  g_autoptr(ThIndicatorValues) values = th_indicator_values_new (TH_INDICATOR_MAX_OUTPUTS);
  double t0 = now_s ();
  volatile double sink = 0;

  for (guint i = 0; i < n; i++)
    for (guint k = 0; k < n_inds; k++)
      {
        th_indicator_values_reset (values);
        th_indicator_update (inds[k], &candles[i % N_CANDLES], commit, values);
        sink += th_indicator_values_get (values, 0);
      }
  (void) sink;
  return (now_s () - t0) * 1e9 / n;
}

int
main (int   argc,
      char *argv[])
{
  static const struct { const char *plugin, *args; gboolean in_default; } set[] = {
    { "sma", "20", TRUE }, { "ema", "20", TRUE }, { "rsi", "14", TRUE }, { "macd", "12,26,9", TRUE },
    { "bollinger", "20,2", TRUE }, { "wma", "20", FALSE }, { "stoch", "14,3,3", FALSE },
    { "atr", "14", FALSE }, { "vwap", "", FALSE }, { "obv", "", FALSE },
  };
  guint n = argc > 1 ? (guint) atoi (argv[1]) : 2000000;
  g_auto(GStrv) dirs = g_strsplit (g_getenv ("TICKHUB_PLUGIN_PATH") != NULL ? g_getenv ("TICKHUB_PLUGIN_PATH") : "", ":", -1);
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  ThIndicator *defaults[G_N_ELEMENTS (set)];
  guint n_defaults = 0;
  double price = 43000;

  engine = peas_engine_new ();
  peas_engine_enable_loader (engine, "python3");
  for (guint i = 0; dirs[i] != NULL; i++)
    if (*dirs[i] != '\0')
      peas_engine_add_search_path (engine, dirs[i], NULL);

  for (guint i = 0; i < N_CANDLES; i++)
    {
      double open = price;

      price *= exp (g_rand_double_range (rand, -0.002, 0.002));
      candles[i] = (ThCandle) {
        .start = G_GINT64_CONSTANT (1704067200000000) + (gint64) i * 60000000, .duration = 60000000,
        .open = open, .high = MAX (open, price) * 1.0005, .low = MIN (open, price) * 0.9995, .close = price,
        .volume = g_rand_double_range (rand, 0.1, 10), .ticks = 10, .closed = TRUE,
      };
    }

  printf ("tickhub indicator benchmark: %u updates each, through the plugin call path\n", n);
  printf ("%-22s %10s %12s %12s\n", "indicator", "ns/update", "updates/s", "provisional");
  for (guint i = 0; i < G_N_ELEMENTS (set); i++)
    {
      ThIndicator *ind = make (set[i].plugin, set[i].args);
      g_autofree char *label = g_strdup_printf ("%s(%s)", set[i].plugin, set[i].args);
      double ns, pns;

      if (ind == NULL)
        {
          printf ("%-22s %10s\n", label, "(missing)");
          continue;
        }
      ns = run (&ind, 1, n, TRUE);
      pns = run (&ind, 1, n / 4, FALSE);
      printf ("%-22s %10.1f %12.0f %9.1f ns\n", label, ns, 1e9 / ns, pns);
      if (set[i].in_default)
        defaults[n_defaults++] = ind;
      else
        g_object_unref (ind);
    }

  if (n_defaults > 0)
    {
      double ns = run (defaults, n_defaults, n, TRUE);
      double direct = run_direct (defaults, n_defaults, n);

      printf ("%-22s %10.1f %12.0f   (%u indicators per candle, th_indicator_update)\n",
              "default set together", ns, 1e9 / ns, n_defaults);
      printf ("%-22s %10.1f %12.0f   (the same, vfuncs called directly, as the hub does)\n",
              "default set, direct", direct, 1e9 / direct);
    }
  for (guint i = 0; i < n_defaults; i++)
    g_object_unref (defaults[i]);

  /* One indicator, three languages. Scripts run far fewer updates. */
  {
    g_autoptr(ThConfig) config = th_config_new ();
    g_autoptr(ThHub) hub = th_hub_new (config, NULL);
    struct { const char *label; ThIndicator *ind; guint n; } langs[3] = {
      { "C           zscore(20)", make ("zscore", "20"), n },
      { "Python   zscore_py(20)", make ("zscore_py", "20"), MAX (n / 20, 1000) },
      { "JS       zscore_js(20)", make_js (hub, "zscore_js", "20"), MAX (n / 20, 1000) },
    };
    double c_ns = 0;

    printf ("\nthe same indicator in three languages (th_indicator_update, committed)\n");
    printf ("%-22s %10s %12s %12s\n", "indicator", "ns/update", "updates/s", "vs C");
    for (guint i = 0; i < G_N_ELEMENTS (langs); i++)
      {
        double ns;

        if (langs[i].ind == NULL)
          {
            printf ("%-22s %10s\n", langs[i].label, "(missing)");
            continue;
          }
        ns = run (&langs[i].ind, 1, langs[i].n, TRUE);
        if (i == 0)
          c_ns = ns;
        printf ("%-22s %10.1f %12.0f %10.1fx\n", langs[i].label, ns, 1e9 / ns, c_ns > 0 ? ns / c_ns : 0);
      }
    for (guint i = 0; i < G_N_ELEMENTS (langs); i++)
      g_clear_object (&langs[i].ind);
    /* The JavaScript context goes after its last object. */
    _th_gjs_bridge_release (hub);
  }

  g_object_unref (engine);
  return 0;
}
