/* config.c: how long a configuration with many symbols takes to check
 *
 * A config of N symbols, listed in `[tickhub] symbols` and mapped in
 * `[symbols]`, with the default timeframes and history and the jsonl sink:
 * the time to parse it (th_config_load_from_data(), the text checks
 * included) and to load a hub on it (th_hub_load(): the checks, the symbol
 * map, one state per symbol and timeframe), which is what `tickhubd
 * --check-config` does; and the process's peak memory. Run as
 * `bench/config [N...]`; by default 8,000 and 100,000, the sizes issue 18
 * measured. With `--indicators`, the shipped config's five indicators too
 * (one instance per symbol, timeframe and indicator).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "th-private.h"

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static char *
config_text (guint    n,
             gboolean indicators)
{
  GString *text = g_string_new ("[tickhub]\nplugins=jsonl\nsymbols=");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%sS%07u", i > 0 ? ";" : "", i);
  g_string_append (text, "\n[jsonl]\npath=/dev/null\n[symbols]\n");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "S%07u=binance:S%07uUSDT;coinbase:S%07u-USD\n", i, i, i);
  if (indicators)
    g_string_append (text, "[indicators]\nsma_20=sma(20)\nema_20=ema(20)\nrsi=rsi(14)\n"
                           "macd=macd(12,26,9)\nbb=bollinger(20,2)\n");
  return g_string_free (text, FALSE);
}

static void
bench (guint    n,
       gboolean indicators)
{
  g_autofree char *text = config_text (n, indicators);
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;
  double t0, t1, t2;

  t0 = now_s ();
  if (!th_config_load_from_data (config, text, -1, &error))
    g_error ("%s", error->message);
  t1 = now_s ();
  hub = th_hub_new (config, NULL);
  if (!th_hub_load (hub, &error))
    g_error ("%s", error->message);
  t2 = now_s ();

  g_assert_cmpuint (g_strv_length ((char **) th_hub_get_symbols (hub)), ==, n);
  printf ("%8u symbols: parse %7.3f s, load %7.3f s, total %7.3f s\n", n, t1 - t0, t2 - t1, t2 - t0);
}

int
main (int   argc,
      char *argv[])
{
  static const guint defaults[] = { 8000, 100000 };
  gboolean indicators = FALSE;
  GArray *sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  struct rusage usage;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--indicators"))
        indicators = TRUE;
      else
        {
          guint n = (guint) strtoul (argv[i], NULL, 10);

          g_array_append_val (sizes, n);
        }
    }
  if (sizes->len == 0)
    g_array_append_vals (sizes, defaults, G_N_ELEMENTS (defaults));

  printf ("tickhub config benchmark: [tickhub] symbols and [symbols] of N entries, "
          "timeframes 1m;5m;1h, history 500%s\n", indicators ? ", five indicators" : "");
  for (guint i = 0; i < sizes->len; i++)
    bench (g_array_index (sizes, guint, i), indicators);

  getrusage (RUSAGE_SELF, &usage);
  printf ("peak memory: %.0f MB\n", usage.ru_maxrss / 1024.0);
  g_array_unref (sizes);
  return 0;
}
