/* test-hub.c: routing from ticks to events, on a manual clock
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "th-private.h"
#include "test-utils.h"

#define SEC G_USEC_PER_SEC
#define MIN_US (G_GINT64_CONSTANT (60) * SEC)
/* 2024-01-01T00:00:00Z */
#define T0 G_GINT64_CONSTANT (1704067200000000)

typedef struct
{
  ThClock   *clock;
  ThHub     *hub;
  GPtrArray *events;   /* ThEvent */
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  const char *text = data != NULL ? data :
    "[tickhub]\nplugins=sma\nsymbols=BTC;ETH\ntimeframes=1m\n"
    "[prices]\norder=binance;coinbase\n[binance]\nttl=10\n[coinbase]\nttl=10\n"
    "[indicators]\nsma_3=sma(3)\n";

  fx->clock = th_manual_clock_new (T0);
  fx->hub = th_test_hub_new (text, fx->clock);
  fx->events = th_test_capture_events (fx->hub);
  th_hub_start (fx->hub);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  g_clear_object (&fx->hub);
  g_clear_object (&fx->clock);
  g_clear_pointer (&fx->events, g_ptr_array_unref);
}

static void
push (Fixture    *fx,
      const char *symbol,
      const char *source,
      ThTickKind  kind,
      double      price,
      gint64      exchange_time)
{
  g_autoptr(ThTick) tick = th_tick_new (symbol, source, kind, price, exchange_time);

  if (kind == TH_TICK_KIND_TRADE)
    tick->size = 1;
  th_hub_push_tick (fx->hub, tick);
}

/* The events named @name, as JSON, joined by newlines. */
static char *
events_named (Fixture    *fx,
              const char *name)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < fx->events->len; i++)
    {
      ThEvent *ev = fx->events->pdata[i];

      if (g_strcmp0 (th_event_get_name (ev), name) != 0)
        continue;
      if (out->len > 0)
        g_string_append_c (out, '\n');
      g_string_append (out, th_event_get_json (ev));
    }
  return g_string_free (out, FALSE);
}

static void
test_financial_update (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 42000.5, T0 + 1500);
  g_autofree char *json = NULL;

  tick->bid = 42000;
  tick->ask = 42001;
  tick->volume_24h = 1234.5;
  tick->change_24h = -2.25;
  th_hub_push_tick (fx->hub, tick);

  json = events_named (fx, "financial_data_update");
  g_assert_cmpstr (json, ==,
    "{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"BTC\",\"data\":"
    "{\"price\":42000.5,\"volume\":1234.5,\"change\":-2.25,\"bid\":42000,\"ask\":42001,"
    "\"source\":\"binance\",\"timestamp\":\"2024-01-01T00:00:00.001Z\"}}}");
  g_assert_cmpstr (th_event_get_symbol (fx->events->pdata[1]), ==, "BTC");
}

static void
on_event_keep_bytes (ThHub    *hub,
                     ThEvent  *event,
                     gpointer  data)
{
  GPtrArray *kept = data;

  if (g_strcmp0 (th_event_get_name (event), "financial_data_update") != 0)
    return;
  g_ptr_array_add (kept, g_bytes_ref (th_event_get_bytes (event)));
  g_ptr_array_add (kept, g_strdup (th_event_get_json (event)));
}

/* A sink may keep an event's bytes after the event is gone (the hub's
 * events hold their envelope in the block the bytes free); ticks of three
 * symbols in turn, two of them (BTC, BDX) in the same slot of the hub's
 * state cache, each reach their own symbol's state and book. */
static void
test_event_bytes_outlive_events (Fixture       *fx,
                                 gconstpointer  data)
{
  g_autoptr(GPtrArray) kept = g_ptr_array_new ();
  static const char *const symbols[] = { "BTC", "ETH", "BTC", "BDX", "ETH", "BDX" };

  g_signal_connect (fx->hub, "event", G_CALLBACK (on_event_keep_bytes), kept);
  for (guint i = 0; i < G_N_ELEMENTS (symbols); i++)
    push (fx, symbols[i], "binance", TH_TICK_KIND_TRADE, 100 + i, T0 + i * 1000);
  g_signal_handlers_disconnect_by_func (fx->hub, on_event_keep_bytes, kept);
  /* Every event gone: only the bytes are left. */
  g_ptr_array_set_size (fx->events, 0);

  g_assert_cmpuint (kept->len, ==, 2 * G_N_ELEMENTS (symbols));
  for (guint i = 0; i < G_N_ELEMENTS (symbols); i++)
    {
      GBytes *bytes = kept->pdata[2 * i];
      g_autofree char *json = kept->pdata[2 * i + 1];
      g_autofree char *prefix = g_strdup_printf ("{\"event\":\"financial_data_update\",\"data\":{\"symbol\":\"%s\","
                                                 "\"data\":{\"price\":%u,", symbols[i], 100 + i);
      gsize len;
      const char *text = g_bytes_get_data (bytes, &len);

      g_assert_cmpuint (len, ==, strlen (json));
      g_assert_cmpmem (text, len, json, strlen (json));
      g_assert_cmpint (text[len], ==, '\0');
      g_assert_true (g_str_has_prefix (text, prefix));
      g_bytes_unref (bytes);
    }
  {
    g_autoptr(ThTick) btc = th_hub_get_price (fx->hub, "BTC", NULL);
    g_autoptr(ThTick) eth = th_hub_get_price (fx->hub, "ETH", NULL);
    g_autoptr(ThTick) bdx = th_hub_get_price (fx->hub, "BDX", NULL);

    g_assert_cmpfloat (btc->price, ==, 102);
    g_assert_cmpfloat (eth->price, ==, 104);
    g_assert_cmpfloat (bdx->price, ==, 105);
  }
}

/* The blocks of freed events are reused (th-event.c's cache): the bytes
 * a sink keeps past its event must not be one of them, whatever events
 * are made after, of any length. */
static char *
event_text (guint i)
{
  /* From 20 to about 1,500 bytes: some fit the cached blocks, some not. */
  GString *out = g_string_new ("{\"event\":\"x\",\"data\":\"");

  for (guint k = 0; k < (i * 37) % 1500; k++)
    g_string_append_c (out, 'a' + (i + k) % 26);
  g_string_append (out, "\"}");
  return g_string_free (out, FALSE);
}

static void
test_event_kept_bytes_intact (void)
{
  g_autoptr(GPtrArray) kept = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < 2000; i++)
    {
      char *text = event_text (i);
      ThEvent *event = _th_event_new_copy ("x", i % 3 ? "BTC" : NULL, i % 5 ? NULL : "1m",
                                           text, strlen (text));
      gsize len;
      const char *data;

      g_assert_cmpstr (th_event_get_json (event), ==, text);
      g_assert_cmpstr (th_event_get_name (event), ==, "x");
      g_assert_cmpstr (th_event_get_symbol (event), ==, i % 3 ? "BTC" : NULL);
      g_assert_cmpstr (th_event_get_timeframe (event), ==, i % 5 ? NULL : "1m");
      /* Every third one kept past its event; the others go back. */
      if (i % 3 == 0)
        {
          g_ptr_array_add (kept, g_bytes_ref (th_event_get_bytes (event)));
          g_ptr_array_add (texts, text);
        }
      else
        g_free (text);
      th_event_unref (event);

      data = g_bytes_get_data (kept->pdata[kept->len - 1], &len);
      g_assert_cmpmem (data, len, texts->pdata[texts->len - 1], strlen (texts->pdata[texts->len - 1]));
    }
  for (guint i = 0; i < kept->len; i++)
    {
      gsize len;
      const char *data = g_bytes_get_data (kept->pdata[i], &len);

      g_assert_cmpmem (data, len, texts->pdata[i], strlen (texts->pdata[i]));
      g_assert_cmpint (data[len], ==, '\0');
    }
}

typedef struct
{
  GAsyncQueue *queue;   /* GBytes, then the queue itself to stop */
} FreeThread;

static gpointer
free_bytes_thread (gpointer data)
{
  FreeThread *ft = data;

  for (;;)
    {
      gpointer item = g_async_queue_pop (ft->queue);

      if (item == ft->queue)
        return NULL;
      g_bytes_unref (item);
    }
}

/* A sink's thread drops the last reference to the bytes, so the block
 * goes back to the cache from there while this thread takes blocks for
 * new events. */
static void
test_event_bytes_freed_on_other_thread (void)
{
  FreeThread ft = { g_async_queue_new () };
  GThread *threads[2];

  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    threads[t] = g_thread_new ("free-bytes", free_bytes_thread, &ft);
  for (guint i = 0; i < 20000; i++)
    {
      char *text = event_text (i % 40);
      ThEvent *event = _th_event_new_copy ("financial_data_update", "ETH", NULL, text, strlen (text));
      GBytes *bytes = g_bytes_ref (th_event_get_bytes (event));

      th_event_unref (event);
      g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), text, strlen (text));
      g_async_queue_push (ft.queue, bytes);
      g_free (text);
    }
  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    g_async_queue_push (ft.queue, ft.queue);
  for (guint t = 0; t < G_N_ELEMENTS (threads); t++)
    g_thread_join (threads[t]);
  g_async_queue_unref (ft.queue);
}

static void
test_only_selected_source_publishes (Fixture       *fx,
                                     gconstpointer  data)
{
  g_autofree char *json = NULL;
  g_autofree char *changes = NULL;

  push (fx, "BTC", "coinbase", TH_TICK_KIND_QUOTE, 100, T0);
  push (fx, "BTC", "binance", TH_TICK_KIND_QUOTE, 101, T0);
  push (fx, "BTC", "coinbase", TH_TICK_KIND_QUOTE, 102, T0);   /* not selected */
  push (fx, "BTC", "binance", TH_TICK_KIND_QUOTE, 103, T0);

  json = events_named (fx, "financial_data_update");
  g_assert_nonnull (strstr (json, "\"price\":100,"));
  g_assert_nonnull (strstr (json, "\"price\":101,"));
  g_assert_null (strstr (json, "\"price\":102,"));
  g_assert_nonnull (strstr (json, "\"price\":103,"));

  changes = events_named (fx, "price_source_changed");
  g_assert_cmpstr (changes, ==,
    "{\"event\":\"price_source_changed\",\"data\":{\"symbol\":\"BTC\",\"from\":null,\"to\":\"coinbase\"}}\n"
    "{\"event\":\"price_source_changed\",\"data\":{\"symbol\":\"BTC\",\"from\":\"coinbase\",\"to\":\"binance\"}}");
}

static void
test_no_source_event (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *changes = NULL;
  g_autofree char *errors = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) price = NULL;

  push (fx, "ETH", "binance", TH_TICK_KIND_QUOTE, 2000, T0);
  th_hub_report_source_status (fx->hub, "coinbase", TH_SOURCE_STATE_DOWN, "connection refused");
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 10 * SEC);

  changes = events_named (fx, "price_source_changed");
  g_assert_nonnull (strstr (changes, "{\"symbol\":\"ETH\",\"from\":\"binance\",\"to\":null}"));
  errors = events_named (fx, "error");
  g_assert_nonnull (strstr (errors, "\"code\":\"no_source\""));
  g_assert_nonnull (strstr (errors, "binance: last price 10.0 s old (ttl 10 s)"));
  g_assert_nonnull (strstr (errors, "coinbase: no price yet, connection refused"));

  price = th_hub_get_price (fx->hub, "ETH", &error);
  g_assert_null (price);
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_clear_error (&error);

  g_assert_null (th_hub_get_price (fx->hub, "DOGE", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL);
}

static void
test_candles_and_sma (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *candles = NULL;
  g_autofree char *indicators = NULL;
  const double closes[] = { 10, 11, 12, 13, 14 };

  for (guint i = 0; i < G_N_ELEMENTS (closes); i++)
    {
      push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, closes[i] - 1, T0 + i * MIN_US + 1000);
      push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, closes[i], T0 + i * MIN_US + 2000);
    }

  candles = events_named (fx, "candle_update");
  indicators = events_named (fx, "technical_indicators_update");

  g_assert_nonnull (strstr (candles,
    "{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"candle\":{\"start\":\"2024-01-01T00:00:00.000Z\","
    "\"open\":9,\"high\":10,\"low\":9,\"close\":10,\"volume\":2,\"ticks\":2,\"closed\":true}}"));
  /* Four candles closed; SMA(3) of closes 10, 11, 12, 13. */
  g_assert_cmpstr (indicators, ==,
    "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":null,\"timestamp\":\"2024-01-01T00:00:00.000Z\"},\"warm\":false}}\n"
    "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":null,\"timestamp\":\"2024-01-01T00:01:00.000Z\"},\"warm\":false}}\n"
    "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":11,\"timestamp\":\"2024-01-01T00:02:00.000Z\"},\"warm\":false}}\n"
    "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"closed\":true,\"indicators\":{\"sma_3\":12,\"timestamp\":\"2024-01-01T00:03:00.000Z\"},\"warm\":false}}");

  {
    g_autoptr(GPtrArray) hist = th_hub_get_candles (fx->hub, "BTC", MIN_US, 10);

    g_assert_cmpuint (hist->len, ==, 5);
    g_assert_false (((ThCandle *) hist->pdata[4])->closed);
    g_assert_null (th_hub_get_candles (fx->hub, "BTC", 5 * MIN_US, 10));
  }
}

static void
test_provisional_at_most_once_a_second (Fixture       *fx,
                                        gconstpointer  data)
{
  g_autofree char *candles = NULL;
  g_autofree char *indicators = NULL;

  for (int i = 0; i < 3; i++)
    push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 10 + i, T0 - MIN_US * (3 - i));

  /* Three ticks within one second of the clock: one provisional update.
   * (The first closes the candle of 23:59.) */
  push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 20, T0);
  g_ptr_array_set_size (fx->events, 0);
  for (int i = 1; i < 3; i++)
    push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 20 + i, T0 + i * 1000);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), SEC);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), SEC);  /* nothing new */

  candles = events_named (fx, "candle_update");
  indicators = events_named (fx, "technical_indicators_update");
  g_assert_cmpstr (candles, ==,
    "{\"event\":\"candle_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"candle\":{\"start\":\"2024-01-01T00:00:00.000Z\","
    "\"open\":20,\"high\":22,\"low\":20,\"close\":22,\"volume\":3,\"ticks\":3,\"closed\":false}}}");
  /* closes 11, 12 committed, 22 provisional: (11 + 12 + 22) / 3 = 15 */
  g_assert_nonnull (strstr (indicators, "\"closed\":false,\"indicators\":{\"sma_3\":15,"));
  g_assert_null (strchr (indicators, '\n'));
}

static void
test_quiet_candle_closes_by_time (Fixture       *fx,
                                  gconstpointer  data)
{
  g_autofree char *candles = NULL;

  /* Live: exchange time = clock time. */
  push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 10, T0 + 30 * SEC);
  g_ptr_array_set_size (fx->events, 0);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 60 * SEC);
  g_assert_cmpuint (fx->events->len, >, 0);
  candles = events_named (fx, "candle_update");
  g_assert_nonnull (strstr (candles, "\"closed\":true"));
}

static void
test_rejects_are_counted (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(ThTick) bad = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, -5, T0);
  g_autoptr(ThTick) nan = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, NAN, T0);
  g_autoptr(ThTick) unknown = th_tick_new ("XYZ", "binance", TH_TICK_KIND_QUOTE, 5, T0);

  if (!g_test_subprocess ())
    {
      /* Structured logging bypasses g_test_expect_message(): check the
       * child's stderr instead. */
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr ("*rejected a tick from binance: BTC tick from binance: price -5 is not a finite positive number*");
      g_test_trap_assert_stderr_unmatched ("*price nan*");
      g_test_trap_assert_stderr ("*ignoring XYZ from binance: not in [tickhub] symbols*");
      return;
    }

  /* A rejected tick is a warning, not a bug: not fatal here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  th_hub_push_tick (fx->hub, bad);
  th_hub_push_tick (fx->hub, nan);        /* counted, not logged again */
  th_hub_push_tick (fx->hub, unknown);
  th_hub_push_tick (fx->hub, unknown);
  g_assert_cmpuint (th_hub_get_rejected_ticks (fx->hub), ==, 4);
  g_assert_cmpuint (fx->events->len, ==, 0);
}

/* Subnormal and absurd prices are refused, the range's ends are exact. */
static void
test_price_range (Fixture       *fx,
                  gconstpointer  data)
{
  const double refused[] = { 1e-320, 4.9e-324, 1e-13, 1e15, 2e300 };
  const double accepted[] = { 1e-12, 0.00000001, 999999999999999.9 };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, refused[i], T0);

      g_assert_false (th_tick_validate (tick, &error));
      g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
      g_assert_nonnull (strstr (error->message, "outside the valid range"));
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, accepted[i], T0);

      g_assert_true (th_tick_validate (tick, &error));
      g_assert_no_error (error);
    }

  /* Through the hub: counted, no event. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    push (fx, "BTC", "binance", TH_TICK_KIND_QUOTE, refused[i], T0 + 1000);
  g_assert_cmpuint (th_hub_get_rejected_ticks (fx->hub), ==, G_N_ELEMENTS (refused));
  g_assert_cmpuint (fx->events->len, ==, 0);
}

/* Times from the year 10000 on are refused (a venue's epoch milliseconds
 * up to G_MAXINT64 / 1000 are µs that fit, but the hub's estimate of the
 * exchange's clock, now minus the tick's delay, would overflow); the last
 * microsecond of 9999 is taken. */
static void
test_time_range (Fixture       *fx,
                 gconstpointer  data)
{
  const gint64 end = G_GINT64_CONSTANT (253402300800000000);
  const gint64 refused[] = { end, G_GINT64_CONSTANT (9223372036854775) * 1000, G_MAXINT64 };
  g_autoptr(GError) error = NULL;
  g_autoptr(ThTick) last = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 5, end - 1);
  g_autoptr(ThTick) received = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 5, T0);

  g_assert_true (th_tick_validate (last, &error));
  g_assert_no_error (error);
  received->receive_time = end;
  g_assert_false (th_tick_validate (received, &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_BAD_INPUT);
  g_clear_error (&error);
  received->receive_time = -1;
  g_assert_false (th_tick_validate (received, NULL));

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_QUOTE, 5, refused[i]);

      g_assert_false (th_tick_validate (tick, &error));
      g_assert_nonnull (strstr (error->message, "past the year 9999"));
      g_clear_error (&error);
      th_hub_push_tick (fx->hub, tick);
    }
  g_assert_cmpuint (th_hub_get_rejected_ticks (fx->hub), ==, G_N_ELEMENTS (refused));
  g_assert_cmpuint (fx->events->len, ==, 0);
}

static void
test_source_status_event (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *json = NULL;
  g_autofree char *reason = NULL;

  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_STALE, "silent for 30 s");
  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_STALE, "silent for 30 s");
  json = events_named (fx, "source_status");
  g_assert_cmpstr (json, ==,
    "{\"event\":\"source_status\",\"data\":{\"source\":\"binance\",\"state\":\"stale\","
    "\"reason\":\"silent for 30 s\",\"last_message_age_ms\":null}}");
  g_assert_cmpint (th_hub_get_source_state (fx->hub, "binance", &reason), ==, TH_SOURCE_STATE_STALE);
  g_assert_cmpstr (reason, ==, "silent for 30 s");
}

static void
test_disable_plugin (Fixture       *fx,
                     gconstpointer  data)
{
  g_autofree char *indicators = NULL;
  g_autofree char *reason = NULL;
  g_auto(GStrv) disabled = NULL;

  if (!g_test_subprocess ())
    {
      /* Structured logging bypasses g_test_expect_message(): check the
       * child's stderr instead ('?' for the quotes: no locale is set). */
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr ("*plugin ?sma? disabled: Sma.update raised ZeroDivisionError\nTraceback: ...*");
      g_test_trap_assert_stderr_unmatched ("*a second time*");
      g_test_trap_assert_stderr ("*plugin ?simulator? disabled: it broke\nand the rest of the story*");
      g_test_trap_assert_stderr ("*source simulator: disabled: plugin failed: it broke*");
      g_test_trap_assert_stderr ("*plugin ?jsonl? disabled: disabled*");
      return;
    }

  /* A failed plugin is a warning, not a bug: not fatal here. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_null (th_hub_get_plugin_error (fx->hub, "sma"));

  /* An indicator: its outputs stay null from now on, logged once. */
  th_hub_disable_plugin (fx->hub, "sma", "Sma.update raised ZeroDivisionError\nTraceback: ...");
  th_hub_disable_plugin (fx->hub, "sma", "a second time: not logged");
  g_assert_cmpstr (th_hub_get_plugin_error (fx->hub, "sma"), ==, "Sma.update raised ZeroDivisionError\nTraceback: ...");

  for (guint i = 0; i < 5; i++)
    push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 10 + i, T0 + i * MIN_US + 1000);
  indicators = events_named (fx, "technical_indicators_update");
  g_assert_nonnull (strstr (indicators, "\"sma_3\":null,\"timestamp\":\"2024-01-01T00:03:00.000Z\""));
  g_assert_null (strstr (indicators, "\"sma_3\":1"));

  /* A feed: stopped, its source disabled with the first line, its ticks
   * refused. */
  th_hub_disable_plugin (fx->hub, "simulator", "it broke\nand the rest of the story");
  g_assert_cmpint (th_hub_get_source_state (fx->hub, "simulator", &reason), ==, TH_SOURCE_STATE_DISABLED);
  g_assert_cmpstr (reason, ==, "plugin failed: it broke");
  while (g_main_context_iteration (NULL, FALSE))
    ;
  {
    g_autoptr(ThTick) tick = th_tick_new ("BTC", "simulator", TH_TICK_KIND_QUOTE, 1, T0 + 10 * MIN_US);
    guint64 rejected = th_hub_get_rejected_ticks (fx->hub);

    th_hub_push_tick (fx->hub, tick);
    const ThTick *latest;

    latest = th_price_book_get_latest (th_hub_get_price_book (fx->hub), "BTC", "simulator");
    g_assert_null (latest);
    g_assert_cmpuint (th_hub_get_rejected_ticks (fx->hub), ==, rejected);
  }

  /* A sink: no more events, not flushed at stop. */
  th_hub_disable_plugin (fx->hub, "jsonl", NULL);
  g_assert_cmpstr (th_hub_get_plugin_error (fx->hub, "jsonl"), ==, "disabled");

  disabled = th_hub_list_disabled_plugins (fx->hub);
  g_assert_cmpstrv (disabled, ((const char *const[]) { "jsonl", "simulator", "sma", NULL }));

  th_test_hub_stop (fx->hub);
}

/* The typed API: what the events say, as signals with typed arguments
 * and getters, in the same order as the events. */
typedef struct
{
  GPtrArray *log;       /* char*: one line per signal, in order */
} Typed;

static void
on_typed_event (ThHub      *hub,
                ThEvent    *event,
                Typed      *t)
{
  g_ptr_array_add (t->log, g_strdup_printf ("event %s", th_event_get_name (event)));
}

static void
on_price_changed (ThHub      *hub,
                  const char *symbol,
                  ThTick     *price,
                  Typed      *t)
{
  g_ptr_array_add (t->log, g_strdup_printf ("price %s %g %s", symbol, price->price, price->source));
}

static void
on_status_changed (ThHub         *hub,
                   const char    *source,
                   ThSourceState  state,
                   const char    *reason,
                   Typed         *t)
{
  g_ptr_array_add (t->log, g_strdup_printf ("status %s %s %s", source, th_source_state_to_string (state),
                                            reason != NULL ? reason : "-"));
}

static void
on_candle_closed (ThHub      *hub,
                  const char *symbol,
                  const char *timeframe,
                  ThCandle   *candle,
                  Typed      *t)
{
  g_autofree char *start = th_format_time (candle->start);

  g_ptr_array_add (t->log, g_strdup_printf ("candle %s %s %s %g %s", symbol, timeframe, start, candle->close,
                                            candle->closed ? "closed" : "forming"));
}

static void
on_indicators_updated (ThHub      *hub,
                       const char *symbol,
                       const char *timeframe,
                       ThCandle   *candle,
                       GVariant   *values,
                       Typed      *t)
{
  g_autofree char *text = g_variant_print (values, FALSE);

  g_ptr_array_add (t->log, g_strdup_printf ("indicators %s %s %s %s", symbol, timeframe, text,
                                            candle->closed ? "closed" : "provisional"));
}

static void
test_typed_signals (Fixture       *fx,
                    gconstpointer  data)
{
  Typed t = { g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *joined = NULL;

  g_signal_connect (fx->hub, "event", G_CALLBACK (on_typed_event), &t);
  g_signal_connect (fx->hub, "price-changed", G_CALLBACK (on_price_changed), &t);
  g_signal_connect (fx->hub, "source-status-changed", G_CALLBACK (on_status_changed), &t);
  g_signal_connect (fx->hub, "candle-closed", G_CALLBACK (on_candle_closed), &t);
  g_signal_connect (fx->hub, "indicators-updated", G_CALLBACK (on_indicators_updated), &t);

  th_hub_report_source_status (fx->hub, "binance", TH_SOURCE_STATE_LIVE, NULL);
  push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 10, T0 + 1000);
  push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 11, T0 + MIN_US + 1000);
  /* Not the selected source: no price change. */
  push (fx, "BTC", "coinbase", TH_TICK_KIND_TRADE, 99, T0 + MIN_US + 2000);
  th_hub_report_source_status (fx->hub, "coinbase", TH_SOURCE_STATE_DOWN, "HTTP 500");

  g_ptr_array_add (t.log, NULL);
  joined = g_strjoinv ("\n", (char **) t.log->pdata);
  g_assert_cmpstr (joined, ==,
    "event source_status\n"
    "status binance live -\n"
    "event price_source_changed\n"
    "event financial_data_update\n"
    "price BTC 10 binance\n"
    "event financial_data_update\n"
    "price BTC 11 binance\n"
    "event candle_update\n"
    "candle BTC 1m 2024-01-01T00:00:00.000Z 10 closed\n"
    "event technical_indicators_update\n"
    "indicators BTC 1m {'sma_3': nan} closed\n"
    "event source_status\n"
    "status coinbase down HTTP 500");
  g_ptr_array_unref (t.log);
}

static void
test_typed_getters (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GVariant) none = th_hub_get_indicators (fx->hub, "BTC", "1m", NULL, NULL);
  g_autoptr(GVariant) values = NULL;
  g_autoptr(GVariant) other = NULL;
  g_autoptr(GPtrArray) closed = NULL;
  gint64 start = 0;
  gboolean is_closed = FALSE;
  double sma;

  g_assert_null (none);
  for (guint i = 0; i < 5; i++)
    push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 10 + i, T0 + i * MIN_US + 1000);

  values = th_hub_get_indicators (fx->hub, "BTC", "1m", &start, &is_closed);
  g_assert_nonnull (values);
  g_assert_cmpstr (g_variant_get_type_string (values), ==, "a{sd}");
  g_assert_true (g_variant_lookup (values, "sma_3", "d", &sma));
  g_assert_cmpfloat (sma, ==, 12);   /* closes 11, 12, 13 */
  g_assert_cmpint (start, ==, T0 + 3 * MIN_US);
  g_assert_true (is_closed);
  g_assert_null (th_hub_get_indicators (fx->hub, "BTC", "5m", NULL, NULL));
  g_assert_null (th_hub_get_indicators (fx->hub, "DOGE", "1m", NULL, NULL));

  /* The provisional values of the forming candle, once a second. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), SEC);
  g_clear_pointer (&values, g_variant_unref);
  values = th_hub_get_indicators (fx->hub, "BTC", "1m", &start, &is_closed);
  g_assert_false (is_closed);
  g_assert_cmpint (start, ==, T0 + 4 * MIN_US);
  g_assert_true (g_variant_lookup (values, "sma_3", "d", &sma));
  g_assert_cmpfloat (sma, ==, 13);   /* 12, 13 and the forming 14 */

  closed = th_hub_get_closed_candles (fx->hub, "BTC", "1m", 2);
  g_assert_cmpuint (closed->len, ==, 2);
  g_assert_cmpfloat (((ThCandle *) closed->pdata[0])->close, ==, 12);
  g_assert_cmpfloat (((ThCandle *) closed->pdata[1])->close, ==, 13);
  g_assert_true (((ThCandle *) closed->pdata[1])->closed);
  g_clear_pointer (&closed, g_ptr_array_unref);
  closed = th_hub_get_closed_candles (fx->hub, "BTC", "1m", 100);
  g_assert_cmpuint (closed->len, ==, 4);
  g_clear_pointer (&closed, g_ptr_array_unref);
  closed = th_hub_get_closed_candles (fx->hub, "BTC", "1m", 0);
  g_assert_cmpuint (closed->len, ==, 0);
  g_assert_null (th_hub_get_closed_candles (fx->hub, "BTC", "7m", 5));

  /* Values computed elsewhere replace them, and say so. */
  {
    ThCandle c = { .start = T0 + 4 * MIN_US, .duration = MIN_US, .closed = TRUE };
    GVariantBuilder b;
    g_autofree char *last = NULL;

    g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sd}"));
    g_variant_builder_add (&b, "{sd}", "rsi", 70.25);
    g_variant_builder_add (&b, "{sd}", "macd", NAN);
    g_assert_true (th_hub_publish_indicators (fx->hub, "BTC", "1m", &c, g_variant_builder_end (&b)));
    g_variant_builder_init (&b, G_VARIANT_TYPE ("a{sd}"));
    g_assert_false (th_hub_publish_indicators (fx->hub, "BTC", "2m", &c, g_variant_builder_end (&b)));
    other = th_hub_get_indicators (fx->hub, "BTC", "1m", NULL, &is_closed);
    g_assert_true (is_closed);
    g_assert_true (g_variant_lookup (other, "rsi", "d", &sma));
    g_assert_cmpfloat (sma, ==, 70.25);
    last = events_named (fx, "technical_indicators_update");
    g_assert_true (g_str_has_suffix (last,
      "{\"event\":\"technical_indicators_update\",\"data\":{\"symbol\":\"BTC\",\"timeframe\":\"1m\",\"closed\":true,"
      "\"indicators\":{\"rsi\":70.25,\"macd\":null,\"timestamp\":\"2024-01-01T00:04:00.000Z\"},\"warm\":false}}"));
  }
}

typedef struct
{
  ThTick  *tick;
  GError  *error;
  gboolean done;
} PriceResult;

static void
on_price (GObject      *source,
          GAsyncResult *result,
          gpointer      data)
{
  PriceResult *r = data;

  r->tick = th_hub_get_price_finish (TH_HUB (source), result, &r->error);
  r->done = TRUE;
}

static void
wait_price (PriceResult *r,
            gint64       max_usec)
{
  th_test_wait_until (r->done, max_usec / 1000);
}

static void
price_result_clear (PriceResult *r)
{
  g_clear_pointer (&r->tick, th_tick_unref);
  g_clear_error (&r->error);
  r->done = FALSE;
}

static void
test_get_price_async (Fixture       *fx,
                      gconstpointer  data)
{
  PriceResult r = { 0 };
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 t0;

  /* Unknown symbol: at once. */
  th_hub_get_price_async (fx->hub, "DOGE", 5000, NULL, on_price, &r);
  wait_price (&r, 100000);
  g_assert_error (r.error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL);
  price_result_clear (&r);

  /* No wait asked: the reasons at once. */
  th_hub_get_price_async (fx->hub, "BTC", 0, NULL, on_price, &r);
  wait_price (&r, 100000);
  g_assert_error (r.error, TH_ERROR, TH_ERROR_NO_SOURCE);
  price_result_clear (&r);

  /* The first price completes the wait. */
  th_hub_get_price_async (fx->hub, "BTC", 60000, NULL, on_price, &r);
  for (int i = 0; i < 5; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_false (r.done);
  push (fx, "ETH", "binance", TH_TICK_KIND_TRADE, 5, T0 + 1000);
  g_assert_false (r.done);
  push (fx, "BTC", "binance", TH_TICK_KIND_TRADE, 42, T0 + 1000);
  wait_price (&r, 100000);
  g_assert_no_error (r.error);
  g_assert_cmpfloat (r.tick->price, ==, 42);
  price_result_clear (&r);

  /* A fresh price: at once. */
  th_hub_get_price_async (fx->hub, "BTC", 60000, NULL, on_price, &r);
  wait_price (&r, 100000);
  g_assert_cmpfloat (r.tick->price, ==, 42);
  price_result_clear (&r);

  /* The deadline, in real time: NoSource with the reasons. */
  t0 = g_get_monotonic_time ();
  th_hub_get_price_async (fx->hub, "ETH", 0, NULL, on_price, &r);
  wait_price (&r, 100000);
  g_assert_no_error (r.error);    /* ETH has its price */
  price_result_clear (&r);
  th_manual_clock_advance (TH_MANUAL_CLOCK (fx->clock), 11 * SEC);   /* past the TTL */
  th_hub_get_price_async (fx->hub, "BTC", 200, NULL, on_price, &r);
  wait_price (&r, 5 * SEC);
  g_assert_error (r.error, TH_ERROR, TH_ERROR_NO_SOURCE);
  g_assert_nonnull (strstr (r.error->message, "binance"));
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 200000);
  price_result_clear (&r);

  /* Cancelled. */
  th_hub_get_price_async (fx->hub, "BTC", 60000, cancellable, on_price, &r);
  g_cancellable_cancel (cancellable);
  wait_price (&r, SEC);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  price_result_clear (&r);

  /* The hub stops: the waits complete with what there is. */
  th_hub_get_price_async (fx->hub, "BTC", 60000, NULL, on_price, &r);
  th_hub_stop_async (fx->hub, NULL, NULL, NULL);
  wait_price (&r, SEC);
  g_assert_error (r.error, TH_ERROR, TH_ERROR_NO_SOURCE);
  price_result_clear (&r);
}

static ThHub *
load_hub (const char *text)
{
  g_autoptr(ThConfig) config = th_config_new ();
  g_autoptr(ThHub) hub = NULL;
  g_autoptr(GError) error = NULL;

  th_config_load_from_data (config, text, -1, &error);
  g_assert_no_error (error);
  hub = th_hub_new (config, NULL);
  th_hub_load (hub, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&hub);
}

/* Without [prices] order: the enabled plugins that declare a rank in
 * their .plugin file (X-Tickhub-Rank), lowest first, then the feeds
 * without one; venues that are not enabled are not in it. A source's ttl
 * is its group's, else its plugin's X-Tickhub-Default-TTL, else 10 s. */
static void
test_default_order_from_plugins (void)
{
  g_autoptr(ThHub) hub = load_hub ("[tickhub]\nplugins=simulator;coingecko;binance\nsymbols=BTC\n"
                                   "[binance]\nconnect=false\n[simulator]\ninterval=1\n");
  g_autoptr(ThHub) ttl = load_hub ("[tickhub]\nplugins=simulator;coingecko;binance\nsymbols=BTC\n"
                                   "[binance]\nconnect=false\nttl=3\n[coingecko]\nttl=120\n"
                                   "[simulator]\ninterval=1\n");
  g_autoptr(ThHub) ordered = load_hub ("[tickhub]\nplugins=simulator\nsymbols=BTC\n"
                                       "[prices]\norder=coincap;simulator;mine\n[simulator]\ninterval=1\n");
  g_auto(GStrv) sources = th_hub_list_sources (hub);
  g_auto(GStrv) ordered_sources = th_hub_list_sources (ordered);
  ThPriceBook *book = th_hub_get_price_book (hub);

  g_assert_cmpstrv (sources, ((const char *const[]) { "binance", "coingecko", "simulator", NULL }));
  g_assert_cmpint (th_price_book_get_ttl (book, "binance"), ==, 10 * SEC);
  g_assert_cmpint (th_price_book_get_ttl (book, "coingecko"), ==, 90 * SEC);
  g_assert_cmpint (th_price_book_get_ttl (book, "simulator"), ==, TH_PRICE_BOOK_DEFAULT_TTL);

  book = th_hub_get_price_book (ttl);
  g_assert_cmpint (th_price_book_get_ttl (book, "binance"), ==, 3 * SEC);
  g_assert_cmpint (th_price_book_get_ttl (book, "coingecko"), ==, 120 * SEC);

  /* An explicit order wins; a venue listed there without its plugin
   * enabled still gets its plugin's default ttl. */
  g_assert_cmpstrv (ordered_sources, ((const char *const[]) { "coincap", "simulator", "mine", NULL }));
  book = th_hub_get_price_book (ordered);
  g_assert_cmpint (th_price_book_get_ttl (book, "coincap"), ==, 5 * SEC);
  g_assert_cmpint (th_price_book_get_ttl (book, "mine"), ==, TH_PRICE_BOOK_DEFAULT_TTL);
}

/* Each feed's source name: a WebSocket venue's class name, else the
 * plugin's module name. */
static void
test_feed_source_names (void)
{
  g_autoptr(ThHub) hub = load_hub ("[tickhub]\nplugins=simulator;coingecko;binance\nsymbols=BTC\n"
                                   "[binance]\nconnect=false\n[simulator]\ninterval=1\n");
  g_autoptr(GPtrArray) feeds = th_hub_get_feeds (hub);
  static const char *const expected[] = { "simulator", "coingecko", "binance" };

  g_assert_cmpuint (feeds->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < feeds->len; i++)
    {
      g_autofree char *name = th_feed_source_get_source_name (feeds->pdata[i]);

      g_assert_cmpstr (name, ==, expected[i]);
    }
  g_assert_true (TH_IS_WS_FEED (feeds->pdata[2]));
  g_assert_cmpstr (th_ws_feed_get_name (feeds->pdata[2]), ==, "binance");
}

/* A no_source explanation names the sources that could have answered:
 * the loaded feeds, and those that had a tick or reported a reason. The
 * venues the order lists without their plugin are left out. */
static void
test_no_source_names_loaded_feeds (void)
{
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  g_autoptr(ThHub) hub = th_test_hub_new ("[tickhub]\nplugins=binance\nsymbols=BTC;ETH\ntimeframes=1m\n"
                                          "[prices]\norder=coincap;binance;coinbase;coingecko\n"
                                          "[binance]\nconnect=false\nttl=10\n", clock);
  g_autoptr(GPtrArray) events = th_test_capture_events (hub);
  g_autoptr(ThTick) tick = th_tick_new ("ETH", "mine", TH_TICK_KIND_QUOTE, 2000, T0);
  g_autoptr(GError) error = NULL;
  g_autofree char *errors = NULL;

  th_hub_start (hub);
  th_hub_push_tick (hub, tick);
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 10 * SEC);

  errors = th_test_events_json (events, "error");
  th_test_assert_contains (errors, "\"code\":\"no_source\"");
  th_test_assert_contains (errors, "no fresh price for ETH: binance: no price yet");
  th_test_assert_contains (errors, "; mine: last price 10.0 s old (ttl 10 s)");
  g_assert_null (strstr (errors, "coincap"));
  g_assert_null (strstr (errors, "coinbase"));
  g_assert_null (strstr (errors, "coingecko"));

  /* The same explanation for a caller. */
  g_assert_null (th_hub_get_price (hub, "BTC", &error));
  g_assert_error (error, TH_ERROR, TH_ERROR_NO_SOURCE);
  th_test_assert_contains (error->message, "no fresh price for BTC: binance: no price yet, connect=false");
  th_test_assert_contains (error->message, "; mine: no price yet");
  g_assert_null (strstr (error->message, "coin"));
  g_clear_error (&error);

  /* A source of the order that reports a reason can answer: it is named. */
  th_hub_report_source_status (hub, "coinbase", TH_SOURCE_STATE_DOWN, "connection refused");
  g_assert_null (th_hub_get_price (hub, "BTC", &error));
  th_test_assert_contains (error->message, "; coinbase: no price yet, connection refused; mine: no price yet");
  g_assert_null (strstr (error->message, "coincap"));

  th_test_hub_stop (hub);
}

typedef struct
{
  gboolean  done;
  GError   *error;
} StopResult;

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  StopResult *r = data;

  th_hub_stop_finish (TH_HUB (source), result, &r->error);
  r->done = TRUE;
}

static void
on_late_price (ThHub      *hub,
               const char *symbol,
               ThTick     *price,
               guint      *n)
{
  (*n)++;
}

/* A sink whose flush never completes, and ignores cancellation: the stop
 * waits for it until the caller cancels, then completes at once. From the
 * start of the stop, nothing is emitted: not the no_source of a price
 * that expires meanwhile, not a feed's status, not a candle closing, not
 * an event a plugin hands over. */
static void
test_stop_with_stuck_sink (void)
{
  g_autofree char *plugin_dir = g_test_build_filename (G_TEST_BUILT, "plugins", NULL);
  g_autofree char *text = g_strdup_printf ("[tickhub]\nplugins=stuck_sink;sma\nsymbols=BTC;ETH\ntimeframes=1m\n"
                                           "plugin-dirs=%s\n"
                                           "[prices]\norder=binance;coincap;coinbase;coingecko\n[binance]\nttl=10\n"
                                           "[indicators]\nsma_3=sma(3)\n", plugin_dir);
  g_autoptr(ThClock) clock = th_manual_clock_new (T0);
  g_autoptr(ThHub) hub = th_test_hub_new (text, clock);
  g_autoptr(GPtrArray) events = th_test_capture_events (hub);
  g_autoptr(GPtrArray) sinks = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(ThTick) tick = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, 100, T0);
  g_autoptr(ThTick) late = th_tick_new ("BTC", "binance", TH_TICK_KIND_TRADE, 101, T0 + 61 * SEC);
  g_autoptr(JsonNode) data = th_test_parse_json ("{\"uptime\":1}");
  g_autoptr(ThEvent) status = th_event_new ("system_status_update", NULL, data);
  StopResult r = { 0 };
  guint n_events, n_prices = 0;
  gint64 t0;
  g_autofree char *reason = NULL;

  th_hub_start (hub);
  sinks = th_hub_get_sinks (hub);
  g_assert_cmpuint (sinks->len, ==, 1);
  tick->size = 1;
  th_hub_push_tick (hub, tick);
  g_assert_cmpuint (th_test_count_events (events, "financial_data_update", NULL), ==, 1);
  g_signal_connect (hub, "price-changed", G_CALLBACK (on_late_price), &n_prices);

  th_hub_stop_async (hub, cancellable, on_stopped, &r);
  n_events = events->len;

  /* While the sink does not flush: the price expires (no_source, had the
   * expiry still run), the feed reports, a tick comes late, the forming
   * candle's period ends, a plugin emits. */
  th_manual_clock_advance (TH_MANUAL_CLOCK (clock), 70 * SEC);
  th_hub_report_source_status (hub, "binance", TH_SOURCE_STATE_DOWN, "stopped");
  late->size = 1;
  th_hub_push_tick (hub, late);
  th_hub_emit_event (hub, status);
  th_test_run_for (50);

  g_assert_false (r.done);
  g_assert_cmpuint (events->len, ==, n_events);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_object_get_data (sinks->pdata[0], "late-events")), ==, 0);
  g_assert_cmpuint (n_prices, ==, 0);
  /* Recorded all the same. */
  g_assert_cmpint (th_hub_get_source_state (hub, "binance", &reason), ==, TH_SOURCE_STATE_DOWN);
  g_assert_cmpstr (reason, ==, "stopped");

  /* The caller's deadline: the stop completes without the sink. */
  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  th_test_wait_until (r.done, 1000);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, SEC);
  g_assert_error (r.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&r.error);
  g_assert_cmpuint (events->len, ==, n_events);

  /* Stopped: a second stop completes at once. */
  th_hub_stop_async (hub, NULL, on_stopped, &r);
  r.done = FALSE;
  th_test_wait_until (r.done, 1000);
  g_assert_no_error (r.error);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/hub/financial-update", test_financial_update);
  ADD ("/hub/only-selected-source-publishes", test_only_selected_source_publishes);
  ADD ("/hub/no-source-event", test_no_source_event);
  ADD ("/hub/candles-and-sma", test_candles_and_sma);
  ADD ("/hub/provisional-at-most-once-a-second", test_provisional_at_most_once_a_second);
  ADD ("/hub/quiet-candle-closes-by-time", test_quiet_candle_closes_by_time);
  ADD ("/hub/rejects-are-counted", test_rejects_are_counted);
  ADD ("/hub/source-status-event", test_source_status_event);
  ADD ("/hub/price-range", test_price_range);
  ADD ("/hub/time-range", test_time_range);
  ADD ("/hub/typed-signals", test_typed_signals);
  ADD ("/hub/typed-getters", test_typed_getters);
  ADD ("/hub/get-price-async", test_get_price_async);
  g_test_add ("/hub/event-bytes-outlive-events", Fixture,
              "[tickhub]\nplugins=sma\nsymbols=BTC;ETH;BDX\ntimeframes=1m\n[prices]\norder=binance\n",
              fixture_setup, test_event_bytes_outlive_events, fixture_teardown);
  g_test_add ("/hub/disable-plugin", Fixture,
              "[tickhub]\nplugins=simulator;jsonl\nsymbols=BTC;ETH\ntimeframes=1m\n"
              "[prices]\norder=binance;simulator\n[binance]\nttl=10\n"
              "[simulator]\ninterval=3600\nttl=7200\n[jsonl]\npath=/dev/null\n"
              "[indicators]\nsma_3=sma(3)\n",
              fixture_setup, test_disable_plugin, fixture_teardown);
#undef ADD
  g_test_add_func ("/hub/default-order-from-plugins", test_default_order_from_plugins);
  g_test_add_func ("/hub/feed-source-names", test_feed_source_names);
  g_test_add_func ("/hub/no-source-names-loaded-feeds", test_no_source_names_loaded_feeds);
  g_test_add_func ("/hub/stop-with-stuck-sink", test_stop_with_stuck_sink);
  g_test_add_func ("/hub/event-kept-bytes-intact", test_event_kept_bytes_intact);
  g_test_add_func ("/hub/event-bytes-freed-on-other-thread", test_event_bytes_freed_on_other_thread);

  return g_test_run ();
}
