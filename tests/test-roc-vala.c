/* test-roc-vala.c: the Vala example plugin (roc_vala), loaded through
 * libpeas like any C plugin: proof that tickhub-1.0.vapi can express the
 * interfaces and that a Vala class takes part as a C one does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>

#include "th-private.h"
#include "test-utils.h"

static gboolean
have_plugin (void)
{
  if (peas_engine_get_plugin_info (th_test_plugin_engine (), "roc_vala") != NULL)
    return TRUE;
  g_test_skip ("roc_vala is not built (-Dvapi=disabled or no valac)");
  return FALSE;
}

static void
test_values (void)
{
  g_autoptr(ThIndicator) roc = NULL;
  g_auto(GStrv) outputs = NULL;
  /* TA-Lib's ROC test series, period 3: ROC = 100 (x_t - x_{t-3}) / x_{t-3} */
  const double closes[] = { 91.5, 94.815, 94.375, 95.095, 93.78, 94.625, 92.53, 92.75, 90.315, 92.47 };
  double provisional;

  if (!have_plugin ())
    return;
  roc = th_test_indicator_new ("roc_vala", "3", NULL);
  g_assert_nonnull (roc);
  outputs = th_indicator_get_outputs (roc);
  g_assert_cmpuint (g_strv_length (outputs), ==, 1);
  g_assert_cmpstr (outputs[0], ==, "");

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      double got = th_test_feed_close (roc, closes[i], TRUE);

      if (i < 3)
        g_assert_true (isnan (got));
      else
        g_assert_cmpfloat (got, ==, 100.0 * (closes[i] - closes[i - 3]) / closes[i - 3]);
    }
  /* Provisional values leave the state alone. */
  provisional = th_test_feed_close (roc, 100, FALSE);
  g_assert_cmpfloat (provisional, ==, 100.0 * (100 - closes[7]) / closes[7]);
  g_assert_cmpfloat (th_test_feed_close (roc, 90, FALSE), ==, 100.0 * (90 - closes[7]) / closes[7]);
  g_assert_cmpfloat (th_test_feed_close (roc, 95, TRUE), ==, 100.0 * (95 - closes[7]) / closes[7]);
  /* A zero close N periods back: no value, rather than an infinity. */
  {
    g_autoptr(ThIndicator) one = th_test_indicator_new ("roc_vala", "1", NULL);

    g_assert_true (isnan (th_test_feed_close (one, 0, TRUE)));
    g_assert_true (isnan (th_test_feed_close (one, 5, TRUE)));
    g_assert_cmpfloat (th_test_feed_close (one, 10, TRUE), ==, 100);
  }
}

static void
test_bad_arguments (void)
{
  const char *bad[] = { "0", "-1", "x", "1.5", "10001", "", "+3" };

  if (!have_plugin ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      const char *args[] = { bad[i], NULL };   /* "" too: one empty argument */
      g_autoptr(GError) error = NULL;
      g_autoptr(ThIndicator) roc = th_test_indicator_newv ("roc_vala", args, &error);

      g_assert_null (roc);
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      g_assert_nonnull (strstr (error->message, "roc_vala"));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/roc-vala/values", test_values);
  g_test_add_func ("/roc-vala/bad-arguments", test_bad_arguments);

  return g_test_run ();
}
