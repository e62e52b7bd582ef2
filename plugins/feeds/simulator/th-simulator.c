/* th-simulator.c: made-up prices for demos and tests
 *
 * One geometric random walk per configured symbol: every `interval` seconds
 * the log price of each symbol moves by a normal step of standard deviation
 * `volatility` (no drift: the step is corrected by -σ²/2 so the expected
 * price stays where it is). Each step pushes, per symbol,
 *
 *   - a quote: the mid price, a bid and an ask 1 bp either side, the 24 h
 *     volume and the 24 h change;
 *   - then, with `trades=true`, a trade at that bid or ask (seller- or
 *     buyer-initiated at random) of a random size, so candles get volume.
 *
 * Sizes are exponential with the mean that keeps the rolling 24 h volume
 * near a plausible figure for the symbol; the 24 h volume decays with a
 * 24 h time constant and grows by each size. The 24 h change is measured
 * against a reference price that follows the price with the same time
 * constant (a cheap stand-in for "the price 24 h ago"). Prices are rounded
 * to 2 decimals from 1 up and to 6 significant digits below 1, sizes to 4
 * significant digits.
 *
 * Repeatable: each symbol draws from its own GRand seeded with `seed`
 * (default 42) and the symbol's name, so a symbol's prices depend only on
 * the seed, the interval and the volatility, not on which other symbols are
 * configured. Every step draws the same numbers whether `trades` is on or
 * off, so the price path does not depend on it either. Timestamps come from
 * the hub's clock and steps are clock deadlines, so a test with a
 * ThManualClock drives the simulator exactly without sleeping.
 *
 * Every tick says "source":"simulator", and the source reports itself
 * live with the reason "simulated prices (demo mode)": nothing here is
 * market data.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>

#include <libpeas/peas.h>
#include <tickhub.h>

#define GROUP             "simulator"
#define SOURCE            "simulator"
#define DEFAULT_INTERVAL  1.0
#define MIN_INTERVAL      0.01
#define MAX_INTERVAL      86400.0
#define DEFAULT_SEED      42
#define DEFAULT_VOLATILITY 0.0005
#define MAX_VOLATILITY    0.1
#define HALF_SPREAD       0.0001      /* 1 bp each side of the mid */
#define DAY               86400.0     /* s */
#define MIN_LEVEL         1e-6
#define MAX_LEVEL         1e12

#define TH_TYPE_SIMULATOR (th_simulator_get_type ())
G_DECLARE_FINAL_TYPE (ThSimulator, th_simulator, TH, SIMULATOR, GObject)

typedef struct
{
  char   *symbol;
  GRand  *rand;
  double  level;        /* the walk itself, unrounded */
  double  reference;    /* "the price 24 h ago" */
  double  volume_24h;
  double  base_volume;  /* a plausible 24 h volume, in the base asset */
} Walk;

struct _ThSimulator
{
  GObject    parent_instance;

  ThHub     *hub;         /* not a reference: the hub owns its feeds */
  ThClock   *clock;
  gint64     interval;    /* µs */
  guint64    seed;
  double     volatility;
  gboolean   trades;

  GPtrArray *walks;       /* Walk* */
  guint      deadline_id;
  gint64     next;        /* µs, the next step's deadline */
  gboolean   running;
};

static void th_simulator_feed_source_init (ThFeedSourceInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThSimulator, th_simulator, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_FEED_SOURCE, th_simulator_feed_source_init))

/* Starting prices and 24 h volumes, roughly those of early 2024. */
static const struct
{
  const char *symbol;
  double      price;
  double      volume;
} defaults[] = {
  { "BTC",   43000, 25000 },
  { "ETH",   2300,  400000 },
  { "SOL",   100,   3e6 },
  { "ADA",   0.5,   4e8 },
  { "XRP",   0.6,   1e9 },
  { "DOGE",  0.08,  5e9 },
  { "AAPL",  190,   5.5e7 },
  { "MSFT",  380,   2.2e7 },
  { "GOOGL", 140,   2.5e7 },
  { "AMZN",  150,   4e7 },
  { "TSLA",  240,   1.1e8 },
  { "NVDA",  480,   4.5e7 },
};
#define OTHER_PRICE  100
#define OTHER_VOLUME 1e6

static void
walk_free (gpointer data)
{
  Walk *w = data;

  g_free (w->symbol);
  g_rand_free (w->rand);
  g_free (w);
}

/* FNV-1a: a fixed hash, so seeds stay valid across GLib versions. */
static guint32
hash_name (const char *s)
{
  guint32 h = 2166136261u;

  for (; *s != '\0'; s++)
    {
      h ^= (guchar) *s;
      h *= 16777619u;
    }
  return h;
}

/* Rounds @x to @digits decimals; dividing by an exact power of ten gives
 * the double nearest the decimal, so it prints short in events. */
static double
round_decimals (double x,
                int    digits)
{
  if (digits >= 0)
    {
      double scale = pow (10, digits);
      return round (x * scale) / scale;
    }
  else
    {
      double scale = pow (10, -digits);
      return round (x / scale) * scale;
    }
}

static double
round_significant (double x,
                   int    digits)
{
  if (!(x > 0))
    return x;
  return round_decimals (x, digits - 1 - (int) floor (log10 (x)));
}

/* Prices move by cents from 1 up, by a millionth of their size below. */
static int
price_decimals (double x)
{
  return x >= 1 ? 2 : 5 - (int) floor (log10 (x));
}

static double
round_price (double x)
{
  return round_decimals (x, price_decimals (x));
}

/* A standard normal draw (Box-Muller, one value per call). */
static double
gaussian (GRand *rand)
{
  double u1 = 1.0 - g_rand_double (rand);   /* (0, 1] */
  double u2 = g_rand_double (rand);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

static Walk *
walk_new (const char *symbol,
          guint64     seed)
{
  Walk *w = g_new0 (Walk, 1);
  guint32 seeds[3] = { (guint32) (seed & 0xffffffffu), (guint32) (seed >> 32), hash_name (symbol) };
  double price = OTHER_PRICE;
  double volume = OTHER_VOLUME;
  double change;

  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    if (g_str_equal (defaults[i].symbol, symbol))
      {
        price = defaults[i].price;
        volume = defaults[i].volume;
        break;
      }

  w->symbol = g_strdup (symbol);
  w->rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  w->level = price;
  w->base_volume = volume;
  change = g_rand_double_range (w->rand, -3.0, 3.0);
  w->reference = price / (1.0 + change / 100.0);
  w->volume_24h = volume * g_rand_double_range (w->rand, 0.8, 1.2);
  return w;
}

static void
step (ThSimulator *self,
      Walk        *w,
      gint64       now)
{
  double dt = self->interval / (double) G_USEC_PER_SEC;
  double sigma = self->volatility;
  double decay = exp (-dt / DAY);
  /* Always the same three draws, whatever the options. */
  double z = gaussian (w->rand);
  double side = g_rand_double (w->rand);
  double u = 1.0 - g_rand_double (w->rand);
  double size = round_significant (-log (u) * w->base_volume * dt / DAY, 4);
  double price, half, bid, ask;

  w->level *= exp (sigma * z - 0.5 * sigma * sigma);
  w->level = CLAMP (w->level, MIN_LEVEL, MAX_LEVEL);

  /* At least one price step either side of the mid. */
  price = round_price (w->level);
  half = MAX (price * HALF_SPREAD, pow (10, -price_decimals (price)));
  bid = round_price (price - half);
  ask = round_price (price + half);

  w->reference += (price - w->reference) * (1.0 - decay);
  w->volume_24h = w->volume_24h * decay + (size > 0 ? size : 0);

  {
    g_autoptr(ThTick) quote = th_tick_new (w->symbol, SOURCE, TH_TICK_KIND_QUOTE, price, now);

    quote->bid = bid;
    quote->ask = ask;
    quote->volume_24h = round_decimals (w->volume_24h, 2);
    quote->change_24h = round_decimals ((price / w->reference - 1.0) * 100.0, 3);
    th_hub_push_tick (self->hub, quote);
  }

  if (self->trades && size > 0 && self->running)
    {
      g_autoptr(ThTick) trade = th_tick_new (w->symbol, SOURCE, TH_TICK_KIND_TRADE,
                                             side < 0.5 ? bid : ask, now);

      trade->size = size;
      th_hub_push_tick (self->hub, trade);
    }
}

static gboolean on_deadline (gpointer data);

static void
schedule (ThSimulator *self)
{
  self->deadline_id = th_clock_add_deadline (self->clock, self->next, on_deadline, self, NULL);
}

static gboolean
on_deadline (gpointer data)
{
  ThSimulator *self = data;
  gint64 now = th_clock_get_time (self->clock);

  self->deadline_id = 0;

  /* A handler of the events may stop the feed (and the hub) under us. */
  for (guint i = 0; self->running && i < self->walks->len; i++)
    step (self, self->walks->pdata[i], now);

  if (!self->running)
    return G_SOURCE_REMOVE;

  /* On schedule, without drift; after a stall, skip the missed steps
   * rather than burst them out. */
  self->next += self->interval;
  if (self->next <= now)
    self->next = now + self->interval;
  schedule (self);
  return G_SOURCE_REMOVE;
}

/* Reads a number key: %FALSE when absent or malformed (the hub's check of
 * X-Tickhub-Config reports malformed values; they are not repeated here). */
static gboolean
get_number (ThConfig    *config,
            const char  *key,
            double      *value,
            char       **text)
{
  double d = th_config_get_double (config, GROUP, key, NAN);

  if (isnan (d))
    return FALSE;
  *value = d;
  *text = th_config_get_string (config, GROUP, key, "");
  return TRUE;
}

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
add_problem (GPtrArray  *problems,
             const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (problems, g_strdup_vprintf (format, args));
  va_end (args);
}

static gboolean
th_simulator_configure (ThFeedSource  *feed,
                        GError       **error)
{
  ThSimulator *self = TH_SIMULATOR (feed);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  ThConfig *config;
  const char *const *symbols;
  double interval = DEFAULT_INTERVAL;
  double volatility = DEFAULT_VOLATILITY;
  double ttl;
  gint64 seed;
  g_autofree char *interval_text = NULL;
  g_autofree char *volatility_text = NULL;

  g_return_val_if_fail (TH_IS_HUB (self->hub), FALSE);

  config = th_hub_get_config (self->hub);

  /* A negative interval is reported by the "seconds" check already. */
  if (get_number (config, "interval", &interval, &interval_text) &&
      interval >= 0 && (interval < MIN_INTERVAL || interval > MAX_INTERVAL))
    add_problem (problems, "[" GROUP "] interval: “%s” is out of range; use a number of seconds "
                 "from %g to %g, such as 1", interval_text, MIN_INTERVAL, MAX_INTERVAL);

  /* A price older than the source's ttl is stale: ticks must come faster. */
  ttl = th_config_get_double (config, GROUP, "ttl", TH_PRICE_BOOK_DEFAULT_TTL / (double) G_USEC_PER_SEC);
  if (ttl > 0 && interval >= ttl && interval <= MAX_INTERVAL)
    add_problem (problems, "[" GROUP "] interval: %g s is not shorter than the ttl of the simulator's "
                 "prices (%g s), so they would go stale between ticks; use a shorter interval or set "
                 "[" GROUP "] ttl above it", interval, ttl);

  if (get_number (config, "volatility", &volatility, &volatility_text) &&
      (volatility < 0 || volatility > MAX_VOLATILITY))
    add_problem (problems, "[" GROUP "] volatility: “%s” is out of range; use the standard deviation "
                 "of one step of the log price, from 0 to %g, such as 0.0005",
                 volatility_text, MAX_VOLATILITY);

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  /* A negative or malformed seed is reported by the "uint" check. */
  seed = th_config_get_int (config, GROUP, "seed", DEFAULT_SEED);

  self->interval = (gint64) llround (interval * G_USEC_PER_SEC);
  self->volatility = volatility;
  self->seed = (guint64) seed;
  self->trades = th_config_get_boolean (config, GROUP, "trades", TRUE);

  g_clear_object (&self->clock);
  self->clock = g_object_ref (th_hub_get_clock (self->hub));

  g_ptr_array_set_size (self->walks, 0);
  symbols = th_hub_get_symbols (self->hub);
  for (guint i = 0; symbols[i] != NULL; i++)
    g_ptr_array_add (self->walks, walk_new (symbols[i], self->seed));

  return TRUE;
}

static void
th_simulator_start (ThFeedSource *feed)
{
  ThSimulator *self = TH_SIMULATOR (feed);

  g_return_if_fail (self->clock != NULL);

  if (self->running)
    return;

  self->running = TRUE;
  th_hub_report_source_status (self->hub, SOURCE, TH_SOURCE_STATE_LIVE, "simulated prices (demo mode)");

  /* The first step at once, the next ones every interval after it. */
  self->next = th_clock_get_time (self->clock);
  schedule (self);
}

static void
th_simulator_stop (ThFeedSource *feed)
{
  ThSimulator *self = TH_SIMULATOR (feed);

  self->running = FALSE;
  if (self->deadline_id != 0)
    {
      th_clock_remove_deadline (self->clock, self->deadline_id);
      self->deadline_id = 0;
    }
}

static void
th_simulator_feed_source_init (ThFeedSourceInterface *iface)
{
  iface->configure = th_simulator_configure;
  iface->start = th_simulator_start;
  iface->stop = th_simulator_stop;
}

static void
th_simulator_dispose (GObject *object)
{
  ThSimulator *self = TH_SIMULATOR (object);

  th_simulator_stop (TH_FEED_SOURCE (self));
  g_clear_object (&self->clock);

  G_OBJECT_CLASS (th_simulator_parent_class)->dispose (object);
}

static void
th_simulator_finalize (GObject *object)
{
  ThSimulator *self = TH_SIMULATOR (object);

  g_clear_pointer (&self->walks, g_ptr_array_unref);

  G_OBJECT_CLASS (th_simulator_parent_class)->finalize (object);
}

static void
th_simulator_class_init (ThSimulatorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_simulator_dispose;
  object_class->finalize = th_simulator_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThSimulator, hub));
}

static void
th_simulator_class_finalize (ThSimulatorClass *klass)
{
}

static void
th_simulator_init (ThSimulator *self)
{
  self->walks = g_ptr_array_new_with_free_func (walk_free);
  self->interval = (gint64) (DEFAULT_INTERVAL * G_USEC_PER_SEC);
  self->seed = DEFAULT_SEED;
  self->volatility = DEFAULT_VOLATILITY;
  self->trades = TRUE;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_simulator_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_FEED_SOURCE, TH_TYPE_SIMULATOR);
}
