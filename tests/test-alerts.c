/* test-alerts.c: the alerts sink on a hub with a manual clock
 *
 * Each kind of rule on a pushed series: when it fires and when it does not
 * (cooldown, hysteresis, crossings both ways, once), the trusted price
 * only (never a lower-priority or stale source, never the simulator unless
 * the rule asks), the config checks, the runtime API with its limits and
 * owners, and the state file across a restart.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "th-private.h"
#include "test-utils.h"

#define T0     G_GINT64_CONSTANT (1704067200000000)   /* 2024-01-01T00:00:00Z */
#define SEC    G_GINT64_CONSTANT (1000000)
#define MINUTE (60 * SEC)

#define BASE "[tickhub]\nplugins=alerts\nsymbols=BTC;ETH\ntimeframes=1m\n" \
             "[prices]\norder=binance;coinbase\n[binance]\nttl=10\n[coinbase]\nttl=10\n"

typedef struct
{
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;
  char      *dir;
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  fx->dir = th_test_make_tmp_dir ("tickhub-alerts-XXXXXX");
  fx->clock = th_manual_clock_new (T0);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  if (fx->hub != NULL)
    th_test_hub_stop (fx->hub);
  g_clear_object (&fx->hub);
  g_clear_object (&fx->clock);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
  th_test_drain ();
  g_assert_true (th_test_remove_tmp_dir (fx->dir));
  g_free (fx->dir);
}

/* A hub of BASE, the [alerts] group given and @extra; its state file in
 * the fixture's folder. */
static void
start_hub (Fixture    *fx,
           const char *alerts,
           const char *extra)
{
  g_autofree char *text = g_strdup_printf (BASE "%s[alerts]\nstate-file=%s/alerts.json\n%s",
                                           extra != NULL ? extra : "", fx->dir, alerts != NULL ? alerts : "");

  fx->hub = th_test_hub_new (text, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);
}

static void
push_from (Fixture    *fx,
           const char *source,
           const char *symbol,
           double      price)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, source, TH_TICK_KIND_QUOTE, price,
                                        th_clock_get_time (fx->clock));

  th_hub_push_tick (fx->hub, tick);
}

static void
push (Fixture *fx,
      double   price)
{
  push_from (fx, "binance", "BTC", price);
}

static void
advance (Fixture *fx,
         gint64   usec)
{
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), usec);
}

static guint
alerts_of (Fixture    *fx,
           const char *id)
{
  g_autofree char *needle = g_strdup_printf ("\"id\":\"%s\"", id);

  return th_test_count_events (fx->events, "price_alert", needle);
}

/* above: fires on the first tick over X, once until the price is back at
 * or under X, then not before the cooldown has passed. */
static void
test_above_cooldown (Fixture       *fx,
                     gconstpointer  data)
{
  JsonObject *alert;
  g_autoptr(GPtrArray) all = NULL;

  start_hub (fx, "btc-high=BTC above 100 message=\"BTC is up\"\n", NULL);

  push (fx, 99);
  push (fx, 100);                       /* not above */
  g_assert_cmpuint (alerts_of (fx, "btc-high"), ==, 0);
  push (fx, 101);
  g_assert_cmpuint (alerts_of (fx, "btc-high"), ==, 1);
  all = th_test_events_data (fx->events, "price_alert", NULL);
  alert = all->pdata[0];
  g_assert_cmpstr (json_object_get_string_member (alert, "symbol"), ==, "BTC");
  g_assert_cmpstr (json_object_get_string_member (alert, "condition"), ==, "above 100");
  g_assert_cmpstr (json_object_get_string_member (alert, "source"), ==, "binance");
  g_assert_cmpstr (json_object_get_string_member (alert, "message"), ==, "BTC is up");
  g_assert_cmpfloat (json_object_get_double_member (alert, "price"), ==, 101);
  g_assert_cmpstr (json_object_get_string_member (alert, "timestamp"), ==, "2024-01-01T00:00:00.000Z");

  push (fx, 102);                       /* still above: no new alert */
  push (fx, 99);                        /* re-armed, but cooling (5 min) */
  push (fx, 103);
  g_assert_cmpuint (alerts_of (fx, "btc-high"), ==, 1);
  advance (fx, 5 * MINUTE - SEC);
  push (fx, 104);
  g_assert_cmpuint (alerts_of (fx, "btc-high"), ==, 1);
  advance (fx, SEC);                    /* the cooldown's end: the next tick over X fires */
  push (fx, 104);
  g_assert_cmpuint (alerts_of (fx, "btc-high"), ==, 2);
}

/* Hysteresis: an above rule re-arms only below X − margin, a below rule
 * only above X + margin (in percent of X too). */
static void
test_hysteresis (Fixture       *fx,
                 gconstpointer  data)
{
  start_hub (fx, "hi=BTC above 100 hysteresis=5 cooldown=0\n"
                 "lo=BTC below 100 hysteresis=2% cooldown=0\n", NULL);

  push (fx, 101);
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 1);
  push (fx, 96);                        /* under X, not under X − 5 */
  push (fx, 101);
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 1);
  g_assert_cmpuint (alerts_of (fx, "lo"), ==, 1);   /* 96 < 100 */
  push (fx, 95);                        /* re-arms hi */
  push (fx, 101);
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 2);
  g_assert_cmpuint (alerts_of (fx, "lo"), ==, 1);   /* 101 is not above 102 */
  push (fx, 99);
  g_assert_cmpuint (alerts_of (fx, "lo"), ==, 1);
  push (fx, 102);                       /* at X + 2 %: re-armed */
  push (fx, 99);
  g_assert_cmpuint (alerts_of (fx, "lo"), ==, 2);
}

/* crosses: either way, from the previous trusted price; touching X counts
 * once; with a margin, not again until the price was that far from X. */
static void
test_crosses (Fixture       *fx,
              gconstpointer  data)
{
  start_hub (fx, "x=BTC crosses 100 cooldown=0\n"
                 "xm=BTC crosses 200 hysteresis=10 cooldown=0\n", NULL);

  push (fx, 90);
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 0);
  push (fx, 110);                       /* up */
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 1);
  push (fx, 105);
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 1);
  push (fx, 95);                        /* down */
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 2);
  push (fx, 100);                       /* up to X exactly */
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 3);
  push (fx, 101);                       /* from X: no new crossing */
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 3);

  push (fx, 190);
  push (fx, 201);                       /* up */
  g_assert_cmpuint (alerts_of (fx, "xm"), ==, 1);
  push (fx, 199);                       /* down, but not re-armed */
  push (fx, 201);
  g_assert_cmpuint (alerts_of (fx, "xm"), ==, 1);
  push (fx, 211);                       /* 10 away: re-armed */
  push (fx, 199);                       /* down */
  g_assert_cmpuint (alerts_of (fx, "xm"), ==, 2);
  g_assert_cmpuint (alerts_of (fx, "x"), ==, 3);   /* all above 100 since */
}

/* once: fires once, then the rule is gone. */
static void
test_once (Fixture       *fx,
           gconstpointer  data)
{
  g_autoptr(GVariant) list = NULL;

  start_hub (fx, "dip=BTC below 50 once cooldown=0\n", NULL);
  push (fx, 49);
  push (fx, 60);
  push (fx, 40);
  g_assert_cmpuint (alerts_of (fx, "dip"), ==, 1);
  list = th_alerts_list (th_hub_get_alerts (fx->hub), NULL);
  g_assert_cmpuint (g_variant_n_children (list), ==, 0);
}

/* Only the trusted price counts: not a lower-priority source while the
 * first is fresh, not a stale tick, not the simulator unless asked. */
static void
test_trusted_price (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(ThTick) stale = NULL;
  g_autoptr(GPtrArray) all = NULL;

  start_hub (fx, "hi=BTC above 100 cooldown=0\nsim=ETH above 100 simulator cooldown=0\n"
                 "nosim=ETH above 100 cooldown=0\n", NULL);

  push (fx, 90);
  push_from (fx, "coinbase", "BTC", 150);   /* binance is fresh and first */
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 0);

  /* A tick received long ago is not fresh: never selected. */
  advance (fx, 20 * SEC);
  stale = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 160, th_clock_get_time (fx->clock) - 15 * SEC);
  stale->receive_time = th_clock_get_time (fx->clock) - 15 * SEC;
  th_hub_push_tick (fx->hub, stale);
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 0);

  /* A fresh tick from coinbase, now that it is the only fresh source. */
  push_from (fx, "coinbase", "BTC", 120);
  g_assert_cmpuint (alerts_of (fx, "hi"), ==, 1);
  all = th_test_events_data (fx->events, "price_alert", "BTC");
  g_assert_cmpstr (json_object_get_string_member (all->pdata[0], "source"), ==, "coinbase");

  push_from (fx, "simulator", "ETH", 150);
  g_assert_cmpuint (alerts_of (fx, "sim"), ==, 1);
  g_assert_cmpuint (alerts_of (fx, "nosim"), ==, 0);
}

/* change: the trusted price against the one a window ago. */
static void
test_change (Fixture       *fx,
             gconstpointer  data)
{
  g_autoptr(GPtrArray) all = NULL;

  start_hub (fx, "pump=BTC change >= 5% in 1h cooldown=0\n"
                 "dump=BTC change <= -3% in 15m cooldown=0\n", NULL);

  push (fx, 100);
  advance (fx, 30 * MINUTE);
  push (fx, 106);                       /* +6 %, but not an hour of history */
  g_assert_cmpuint (alerts_of (fx, "pump"), ==, 0);
  advance (fx, 31 * MINUTE);
  push (fx, 106);                       /* the price an hour ago: 100 */
  g_assert_cmpuint (alerts_of (fx, "pump"), ==, 1);
  all = th_test_events_data (fx->events, "price_alert", NULL);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (all->pdata[0], "value"), 6, 1e-9);
  g_assert_cmpuint (alerts_of (fx, "dump"), ==, 0);   /* 106 → 106 in 15 min */
  advance (fx, 14 * MINUTE);
  push (fx, 102);                       /* −3.8 % in 15 min */
  g_assert_cmpuint (alerts_of (fx, "dump"), ==, 1);
}

/* An indicator output on a timeframe, from the closed candles. */
static void
test_indicator (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GPtrArray) all = NULL;

  start_hub (fx, "trend=BTC sma_2(1m) > 105 cooldown=0\n", "[indicators]\nsma_2=sma(2)\n");

  push (fx, 100);
  advance (fx, MINUTE);
  push (fx, 110);                       /* closes 100 */
  advance (fx, MINUTE);
  push (fx, 120);                       /* closes 110: sma 105, not above */
  g_assert_cmpuint (alerts_of (fx, "trend"), ==, 0);
  advance (fx, MINUTE);
  push (fx, 130);                       /* closes 120: sma 115 */
  g_assert_cmpuint (alerts_of (fx, "trend"), ==, 1);
  all = th_test_events_data (fx->events, "price_alert", NULL);
  g_assert_cmpfloat (json_object_get_double_member (all->pdata[0], "value"), ==, 115);
  g_assert_cmpstr (json_object_get_string_member (all->pdata[0], "kind"), ==, "indicator");
}

/* Trust: no source at all, a source down for longer than a duration. */
static void
test_sources (Fixture       *fx,
              gconstpointer  data)
{
  start_hub (fx, "none=BTC no_source cooldown=0\nbdown=BTC source binance down for 2m cooldown=0\n", NULL);

  push (fx, 100);
  advance (fx, 11 * SEC);               /* past binance's ttl: no source */
  th_test_wait_until (alerts_of (fx, "none") == 1, TH_TEST_WAIT_MS);
  push (fx, 101);                       /* back: re-armed */
  advance (fx, 11 * SEC);
  th_test_wait_until (alerts_of (fx, "none") == 2, TH_TEST_WAIT_MS);

  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_DOWN, "test");
  advance (fx, MINUTE);
  th_test_drain ();
  g_assert_cmpuint (alerts_of (fx, "bdown"), ==, 0);
  advance (fx, MINUTE);
  th_test_wait_until (alerts_of (fx, "bdown") == 1, TH_TEST_WAIT_MS);
  advance (fx, 10 * MINUTE);            /* still down: once per episode */
  th_test_drain ();
  g_assert_cmpuint (alerts_of (fx, "bdown"), ==, 1);
  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_LIVE, NULL);
  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_DOWN, "again");
  advance (fx, 2 * MINUTE);
  th_test_wait_until (alerts_of (fx, "bdown") == 2, TH_TEST_WAIT_MS);
}

/* --check-config's messages: group, key, what and the fix. */
static void
test_config_errors (void)
{
  static const struct { const char *rule; const char *message; } cases[] = {
    { "k=DOGE above 1", "[alerts] k: unknown symbol “DOGE”; the symbols are BTC, ETH" },
    { "k=BTC abov 1", "[alerts] k: “abov” is not a condition; write it like" },
    { "k=BTC above", "[alerts] k: “above” needs a threshold" },
    { "k=BTC above -5", "[alerts] k: the price -5 is not above 0" },
    { "k=BTC above 5 cooldown=-1m", "[alerts] k: the cooldown “-1m” is negative" },
    { "k=BTC above 5 colldown=1m", "[alerts] k: unknown option “colldown”" },
    { "k=BTC above 5 hysteresis=x", "[alerts] k: hysteresis “x” is not a number" },
    { "k=BTC rsi(1m) > 70", "[alerts] k: unknown indicator “rsi”" },
    { "k=BTC sma_2(4h) > 70", "timeframe “4h”, which is not in [tickhub] timeframes (1m)" },
    { "k=BTC change >= 5 in 1x", "[alerts] k: the window “1x” is not a duration" },
    { "k=BTC source kraken down for 1m", "[alerts] k: unknown source “kraken”" },
    { "k=BTC above 5 message=\"open", "[alerts] k: cannot read" },
    { "k!=BTC above 5", "[alerts] k!: a rule's id is 1 to 64 letters" },
    { "max-rules=0", "[alerts] max-rules: give at least 1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf (BASE "[indicators]\nsma_2=sma(2)\n[alerts]\n%s\n", cases[i].rule);
      g_autoptr(GError) error = th_test_hub_load_error (text);

      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG);
      if (strstr (error->message, cases[i].message) == NULL)
        g_error ("%s: expected “%s” in “%s”", cases[i].rule, cases[i].message, error->message);
    }
}

/* The runtime API: add, list, remove; bad input changes nothing. */
static void
test_runtime (Fixture       *fx,
              gconstpointer  data)
{
  ThAlerts *alerts;
  g_autoptr(GVariant) rule = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GError) error = NULL;
  GVariantDict dict;
  g_autoptr(GVariant) options = NULL;
  const char *id_ref = NULL;
  g_autofree char *id = NULL;

  start_hub (fx, "max-client-rules=2\nconf=BTC above 1000\n", "[indicators]\nsma_2=sma(2)\n");
  alerts = th_hub_get_alerts (fx->hub);
  g_assert_nonnull (alerts);

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "cooldown", "d", 0.0);
  g_variant_dict_insert (&dict, "message", "s", "hello");
  options = g_variant_ref_sink (g_variant_dict_end (&dict));
  rule = th_alerts_add (alerts, "BTC", "crosses 100", options, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (rule, "id", "&s", &id_ref));
  id = g_strdup (id_ref);
  g_assert_true (g_variant_lookup (rule, "owner", "&s", NULL));

  /* Bad input: an error naming the problem, no rule. */
  g_assert_null (th_alerts_add (alerts, "BTC", "abov 5", NULL, "alice", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  g_assert_null (th_alerts_add (alerts, "XRP", "above 5", NULL, "alice", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL);
  g_clear_error (&error);
  g_assert_null (th_alerts_add (alerts, "BTC", "sma_3(1m) > 5", NULL, "alice", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_assert_nonnull (strstr (error->message, "the indicator outputs are sma_2"));
  g_clear_error (&error);
  g_assert_null (th_alerts_add (alerts, "BTC", "above 5 cooldown=-3", NULL, "alice", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);

  /* The per-client limit. */
  g_clear_pointer (&rule, g_variant_unref);
  rule = th_alerts_add (alerts, "ETH", "below 5", NULL, "alice", &error);
  g_assert_no_error (error);
  g_clear_pointer (&rule, g_variant_unref);
  g_assert_null (th_alerts_add (alerts, "ETH", "below 6", NULL, "alice", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_TOO_MANY);
  g_assert_nonnull (strstr (error->message, "max-client-rules"));
  g_clear_error (&error);

  /* What each sees: its own and the file's. */
  list = th_alerts_list (alerts, "alice");
  g_assert_cmpuint (g_variant_n_children (list), ==, 3);
  g_clear_pointer (&list, g_variant_unref);
  list = th_alerts_list (alerts, "bob");
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  g_clear_pointer (&list, g_variant_unref);

  /* Owners. */
  {
    g_autofree char *mine = g_strdup (id);

    g_assert_false (th_alerts_remove (alerts, mine, "bob", &error));
    g_assert_error (error, TH_ERROR, TH_ERROR_NOT_ALLOWED);
    g_clear_error (&error);
    g_assert_false (th_alerts_remove (alerts, "conf", NULL, &error));
    g_assert_error (error, TH_ERROR, TH_ERROR_NOT_ALLOWED);
    g_clear_error (&error);
    g_assert_false (th_alerts_remove (alerts, "nope", NULL, &error));
    g_assert_error (error, TH_ERROR, TH_ERROR_NOT_FOUND);
    g_clear_error (&error);

    /* The runtime rule fires like any other. */
    push (fx, 90);
    push (fx, 110);
    g_assert_cmpuint (alerts_of (fx, mine), ==, 1);

    g_assert_true (th_alerts_remove (alerts, mine, "alice", &error));
    g_assert_no_error (error);
    push (fx, 90);
    g_assert_cmpuint (alerts_of (fx, mine), ==, 1);
  }
  list = th_alerts_list (alerts, NULL);
  g_assert_cmpuint (g_variant_n_children (list), ==, 2);
}

/* Runtime rules are in the state file and come back after a restart. */
static void
test_restart (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GVariant) rule = NULL;
  g_autoptr(GVariant) list = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fx->dir, "alerts.json", NULL);
  g_autofree char *text = NULL;
  const char *id;
  g_autofree char *saved_id = NULL;

  start_hub (fx, NULL, NULL);
  rule = th_alerts_add (th_hub_get_alerts (fx->hub), "BTC", "above 100 hysteresis=1% message=\"to the moon\"",
                        NULL, "alice", &error);
  g_assert_no_error (error);
  g_assert_true (g_variant_lookup (rule, "id", "&s", &id));
  saved_id = g_strdup (id);
  th_test_hub_stop (fx->hub);           /* the flush waits for the write */
  g_clear_object (&fx->hub);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, saved_id));

  start_hub (fx, NULL, NULL);
  list = th_alerts_list (th_hub_get_alerts (fx->hub), "alice");
  g_assert_cmpuint (g_variant_n_children (list), ==, 1);
  push (fx, 101);
  g_assert_cmpuint (alerts_of (fx, saved_id), ==, 1);
  g_assert_cmpuint (th_test_count_events (fx->events, "price_alert", "\"message\":\"to the moon\""), ==, 1);
}

/* Many rules: a tick fires exactly those it passes. */
static void
test_many (Fixture       *fx,
           gconstpointer  data)
{
  ThAlerts *alerts;

  start_hub (fx, "max-rules=5000\n", NULL);
  alerts = th_hub_get_alerts (fx->hub);
  for (guint i = 1; i <= 2000; i++)
    {
      g_autofree char *cond = g_strdup_printf ("%s %u cooldown=0", i % 2 ? "above" : "crosses", i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) rule = th_alerts_add (alerts, "BTC", cond, NULL, NULL, &error);

      g_assert_no_error (error);
    }
  push (fx, 0.5);
  g_assert_cmpuint (th_test_count_events (fx->events, "price_alert", NULL), ==, 0);
  push (fx, 1000.5);                    /* above 1..999 (500 odd) and crosses 2..1000 (500 even) */
  g_assert_cmpuint (th_test_count_events (fx->events, "price_alert", NULL), ==, 1000);
  push (fx, 1000.7);
  g_assert_cmpuint (th_test_count_events (fx->events, "price_alert", NULL), ==, 1000);
}


/* The webhook: each alert POSTed to a receiver on loopback, retried after
 * a failure, while the hub goes on. */
typedef struct
{
  GPtrArray *bodies;
  guint      requests;
} Receiver;

static void
on_hook (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           data)
{
  Receiver *r = data;
  SoupMessageBody *body = soup_server_message_get_request_body (msg);

  r->requests++;
  /* The first attempt fails: the alert comes again. */
  if (r->requests == 1)
    {
      soup_server_message_set_status (msg, 500, NULL);
      return;
    }
  g_ptr_array_add (r->bodies, g_strndup (body->data, body->length));
  soup_server_message_set_status (msg, 200, NULL);
}

static void
test_webhook (Fixture       *fx,
              gconstpointer  data)
{
  Receiver r = { g_ptr_array_new_with_free_func (g_free), 0 };
  guint port;
  g_autoptr(SoupServer) server = th_test_soup_server_new (&port);
  g_autofree char *alerts = NULL;

  soup_server_add_handler (server, "/hook", on_hook, &r, NULL);
  alerts = g_strdup_printf ("webhook=http://127.0.0.1:%u/hook\nwebhook-retries=3\n"
                            "hi=BTC above 100 cooldown=0\nlo=BTC below 90 cooldown=0\n", port);
  start_hub (fx, alerts, NULL);

  push (fx, 101);                       /* hi */
  push (fx, 89);                        /* lo, while hi's POST is retried */
  g_assert_cmpuint (th_test_count_events (fx->events, "price_alert", NULL), ==, 2);
  th_test_wait_until (r.bodies->len == 2, 15000);
  g_assert_cmpuint (r.requests, ==, 3);
  /* In order, the event as the sinks have it. */
  th_test_assert_contains ((char *) r.bodies->pdata[0], "{\"event\":\"price_alert\",\"data\":{\"id\":\"hi\"");
  th_test_assert_contains ((char *) r.bodies->pdata[1], "{\"event\":\"price_alert\",\"data\":{\"id\":\"lo\"");
  th_test_assert_contains ((char *) r.bodies->pdata[0], "\"price\":101");
  g_ptr_array_unref (r.bodies);
  soup_server_disconnect (server);
}

static GTestDBus *session_bus;

/* notify=true: org.freedesktop.Notifications.Notify on the session bus,
 * here a private bus with a fake notification service. */
static const char notifications_xml[] =
  "<node><interface name='org.freedesktop.Notifications'>"
  "<method name='Notify'><arg type='s' direction='in'/><arg type='u' direction='in'/>"
  "<arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='s' direction='in'/>"
  "<arg type='as' direction='in'/><arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
  "<arg type='u' direction='out'/></method></interface></node>";

static void
on_notify_call (GDBusConnection       *connection,
                const char            *sender,
                const char            *path,
                const char            *interface,
                const char            *method,
                GVariant              *parameters,
                GDBusMethodInvocation *invocation,
                gpointer               data)
{
  g_ptr_array_add (data, g_variant_ref (parameters));
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", 1));
}

static void
on_name (GDBusConnection *connection,
         const char      *name,
         gpointer         data)
{
  *(gboolean *) data = TRUE;
}

static void
test_notify (Fixture       *fx,
             gconstpointer  data)
{
  static const GDBusInterfaceVTable vtable = { on_notify_call, NULL, NULL, { 0 } };
  g_autoptr(GDBusConnection) service = NULL;
  g_autoptr(GDBusNodeInfo) info = NULL;
  g_autoptr(GPtrArray) calls = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr(GError) error = NULL;
  const char *summary = NULL, *body = NULL, *app = NULL;
  gboolean owned = FALSE;
  guint reg, own;

  service = g_dbus_connection_new_for_address_sync (g_test_dbus_get_bus_address (session_bus),
                                                    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                    G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                    NULL, NULL, &error);
  g_assert_no_error (error);
  info = g_dbus_node_info_new_for_xml (notifications_xml, &error);
  g_assert_no_error (error);
  reg = g_dbus_connection_register_object (service, "/org/freedesktop/Notifications", info->interfaces[0],
                                           &vtable, calls, NULL, &error);
  g_assert_no_error (error);
  own = g_bus_own_name_on_connection (service, "org.freedesktop.Notifications", G_BUS_NAME_OWNER_FLAGS_NONE,
                                      on_name, NULL, &owned, NULL);
  th_test_wait_until (owned, TH_TEST_WAIT_MS);

  start_hub (fx, "notify=true\nhi=BTC above 100 message=\"BTC over 100\"\n", NULL);
  push (fx, 101);
  th_test_wait_until (calls->len == 1, TH_TEST_WAIT_MS);
  g_variant_get (calls->pdata[0], "(&su&s&s&sasa{sv}i)", &app, NULL, NULL, &summary, &body, NULL, NULL, NULL);
  g_assert_cmpstr (app, ==, "tickhub");
  g_assert_cmpstr (summary, ==, "BTC above 100");
  g_assert_cmpstr (body, ==, "BTC over 100");

  /* The session bus goes with the hub, before the bus does. */
  th_test_hub_stop (fx->hub);
  g_clear_object (&fx->hub);
  th_test_drain ();
  g_bus_unown_name (own);
  g_dbus_connection_unregister_object (service, reg);
  g_dbus_connection_close_sync (service, NULL, NULL);
  g_clear_object (&service);
}

/* Every sink gets the alert: the jsonl file records it. */
static void
test_jsonl (Fixture       *fx,
            gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "events.jsonl", NULL);
  g_autofree char *extra = g_strdup_printf ("[jsonl]\npath=%s\nevents=price_alert\n", path);
  g_autofree char *text = NULL;
  g_autoptr(GString) config = NULL;

  /* BASE with jsonl among the plugins. */
  config = g_string_new (NULL);
  g_string_printf (config, BASE "%s[alerts]\nstate-file=%s/alerts.json\nhi=BTC above 100\n", extra, fx->dir);
  g_string_replace (config, "plugins=alerts", "plugins=alerts;jsonl", 1);
  fx->hub = th_test_hub_new (config->str, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);

  push (fx, 101);
  th_test_hub_stop (fx->hub);           /* flushes the file */
  g_clear_object (&fx->hub);
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  th_test_assert_contains (text, "{\"event\":\"price_alert\",\"data\":{\"id\":\"hi\",\"symbol\":\"BTC\"");
}

/* The index against a plain model of the rules, on a random walk over
 * integer prices, so that ties with thresholds and margins happen often. */
typedef enum { M_ARMED, M_REARMING, M_COOLING } ModelState;

typedef struct
{
  char      *id;
  int        op;        /* 0 >, 1 >=, 2 <, 3 <=, 4 crosses */
  double     x, m;
  gint64     cooldown;
  ModelState state;
  gint64     last, until;
  guint      fired;
} ModelRule;

static void
model_rearmed (ModelRule *r,
               gint64     now)
{
  if (r->fired > 0 && now < r->last + r->cooldown)
    {
      r->state = M_COOLING;
      r->until = r->last + r->cooldown;
    }
  else
    r->state = M_ARMED;
}

static void
model_fire (ModelRule *r,
            gint64     now)
{
  r->fired++;
  r->last = now;
  if (r->op < 4 || r->m > 0)
    r->state = M_REARMING;
  else
    model_rearmed (r, now);
}

static void
test_random (Fixture       *fx,
             gconstpointer  data)
{
  static const char *const ops[] = { ">", ">=", "<", "<=", "crosses" };
  g_autoptr(GRand) rand = g_rand_new_with_seed (g_test_rand_int ());
  ModelRule rules[300];
  double prev = 0, v = 100;
  gboolean has_prev = FALSE;
  guint expected = 0;

  start_hub (fx, "max-rules=1000\n", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      ModelRule *r = &rules[i];
      g_autofree char *cond = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) rule = NULL;

      r->id = g_strdup_printf ("r%u", i);
      r->op = g_rand_int_range (rand, 0, 5);
      r->x = g_rand_int_range (rand, 90, 111);
      r->m = g_rand_int_range (rand, 0, 3) == 0 ? 0 : g_rand_int_range (rand, 0, 4);
      r->cooldown = g_rand_boolean (rand) ? 0 : g_rand_int_range (rand, 1, 6) * SEC;
      r->state = M_ARMED;
      r->fired = 0;
      cond = g_strdup_printf ("%s %g id=%s hysteresis=%g cooldown=%" G_GINT64_FORMAT "s", ops[r->op], r->x, r->id,
                              r->m, r->cooldown / SEC);
      rule = th_alerts_add (th_hub_get_alerts (fx->hub), "BTC", cond, NULL, NULL, &error);
      g_assert_no_error (error);
    }

  for (guint tick = 0; tick < 3000; tick++)
    {
      gint64 now;

      advance (fx, g_rand_int_range (rand, 0, 3) * SEC);
      now = th_clock_get_time (fx->clock);
      v = CLAMP (v + g_rand_int_range (rand, -3, 4), 85, 115);

      for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
        {
          ModelRule *r = &rules[i];

          if (r->state == M_COOLING && r->until <= now)
            r->state = M_ARMED;
        }
      for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
        {
          ModelRule *r = &rules[i];
          gboolean holds = r->op == 0 ? v > r->x : r->op == 1 ? v >= r->x : r->op == 2 ? v < r->x : v <= r->x;
          gboolean back = r->op == 0 ? v <= r->x - r->m : r->op == 1 ? v < r->x - r->m
                        : r->op == 2 ? v >= r->x + r->m : v > r->x + r->m;

          if (r->op == 4)
            {
              if (r->state == M_REARMING && (v >= r->x + r->m || v <= r->x - r->m))
                model_rearmed (r, now);
              continue;
            }
          if (r->state == M_REARMING && back)
            model_rearmed (r, now);
          else if (r->state == M_ARMED && holds)
            {
              model_fire (r, now);
              expected++;
            }
        }
      for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
        {
          ModelRule *r = &rules[i];

          if (r->op == 4 && r->state == M_ARMED && has_prev &&
              ((prev < r->x && r->x <= v) || (v <= r->x && r->x < prev)))
            {
              model_fire (r, now);
              expected++;
            }
        }
      prev = v;
      has_prev = TRUE;

      push (fx, v);
      if (th_test_count_events (fx->events, "price_alert", NULL) != expected)
        g_error ("tick %u (price %g): %u alerts, the model says %u", tick, v,
                 th_test_count_events (fx->events, "price_alert", NULL), expected);
    }
  for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      g_assert_cmpuint (alerts_of (fx, rules[i].id), ==, rules[i].fired);
      g_free (rules[i].id);
    }
  g_test_message ("%u alerts", expected);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  /* One private session bus for the whole run, started here while this is
   * the only thread: GTestDBus forks a watcher (a copy of this process that
   * exit()s when we do) at its first g_test_dbus_up(). Forked later, after
   * other tests have started threads, LeakSanitizer in that copy reported
   * the blocks only those threads (absent in a fork) pointed to. */
  session_bus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (session_bus);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/alerts/above-cooldown", test_above_cooldown);
  ADD ("/alerts/hysteresis", test_hysteresis);
  ADD ("/alerts/crosses", test_crosses);
  ADD ("/alerts/once", test_once);
  ADD ("/alerts/trusted-price", test_trusted_price);
  ADD ("/alerts/change", test_change);
  ADD ("/alerts/indicator", test_indicator);
  ADD ("/alerts/sources", test_sources);
  ADD ("/alerts/runtime", test_runtime);
  ADD ("/alerts/restart", test_restart);
  ADD ("/alerts/many", test_many);
  ADD ("/alerts/random", test_random);
  ADD ("/alerts/webhook", test_webhook);
  ADD ("/alerts/notify", test_notify);
  ADD ("/alerts/jsonl", test_jsonl);
  g_test_add_func ("/alerts/config-errors", test_config_errors);
#undef ADD

  status = g_test_run ();
  g_test_dbus_down (session_bus);
  g_clear_object (&session_bus);
  return status;
}
