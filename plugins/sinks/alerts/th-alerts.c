/* th-alerts.c: the `alerts` sink: price alerts on the hub's typed signals
 *
 * Rules come from [alerts] (one per key) and at run time (ThAlerts: the
 * server, D-Bus). They are evaluated on ::price-changed (the trusted price
 * of the hierarchy: only the selected, fresh source's ticks get there),
 * ::indicators-updated, ::source-status-changed and the
 * price_source_changed events (no_source).
 *
 * The index. Rules on a value (the price, the change over a window, an
 * indicator output) live in a track per symbol and value. A track keeps
 * its rules' entries in sorted sequences (GSequence, balanced trees):
 *   up     entries that trigger when the value rises to them (armed `>`
 *          and `>=` rules; `<` rules waiting to re-arm), ascending;
 *   down   entries that trigger when the value falls to them (armed `<`,
 *          `<=`; `>` rules waiting to re-arm), descending;
 *   cross  armed `crosses` rules, ascending;
 *   cooling re-armed rules waiting for their cooldown, by its end.
 * A value walks each sequence from its start while entries trigger, and
 * a cross from the previous value to this one is a range of `cross`; so a
 * tick costs O(log n + what fires or re-arms), however many rules wait.
 * A rule that fired leaves its firing entry for a re-arming one (the
 * condition stopped holding, past the hysteresis margin), then goes
 * through cooling when its cooldown has not passed.
 *
 * Alerts go out as a `price_alert` event through th_hub_emit_event (every
 * sink, the server's rooms price_alerts and symbol_<S>), then
 * ThAlerts::triggered (D-Bus AlertTriggered). They are emitted after the
 * track is updated, so a handler may add or remove rules.
 *
 * Runtime rules are kept in a state file (JSON, written whole with
 * g_file_set_contents in a thread, so the main loop never waits for the
 * disk) and read back at the next start.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <libpeas/peas.h>
#include <json-glib/json-glib.h>

#include "th-private.h"
#include "th-alerts-private.h"

#define DEFAULT_MAX_RULES         100000
#define DEFAULT_MAX_CLIENT_RULES  100
#define SIMULATOR                 "simulator"

#define TH_TYPE_ALERTS_SINK (th_alerts_sink_get_type ())
G_DECLARE_FINAL_TYPE (ThAlertsSink, th_alerts_sink, TH, ALERTS_SINK, GObject)

typedef struct
{
  double       key;
  gboolean     strict;
  gboolean     fire;      /* TRUE: the rule fires; FALSE: it re-arms */
  ThAlertRule *rule;
} Entry;

typedef struct _Symbol Symbol;

struct _ThAlertTrack
{
  char        *key;
  Symbol      *sym;
  ThAlertKind  kind;
  gboolean     simulator;  /* also on the simulator's prices */
  gint64       window;     /* change */
  char        *timeframe;  /* indicator */
  char        *output;
  GSequence   *up;
  GSequence   *down;
  GSequence   *cross;
  GSequence   *cooling;
  double       prev;
  gboolean     has_prev;
  guint        n_rules;

  /* What an idle value needs, cached: the first entry of up, down and
   * cooling, and the thresholds of cross around the previous value (the
   * greatest below it, the least above it, whether one is at it). Looked
   * up again (O(log n)) after a rule moved; a value that reaches none of
   * them costs a few comparisons, whatever the number of rules. */
  gboolean     dirty;
  gboolean     up_any, up_strict, down_any, down_strict, cool_any;
  double       up_key, down_key, cool_key;
  gboolean     bracket_valid, cross_at;
  double       cross_lo, cross_hi;
};

typedef struct
{
  gint64 t;
  double p;
} Sample;

struct _Symbol
{
  char       *symbol;
  double      price;
  const char *source;       /* interned */
  gboolean    has_price;
  GArray     *samples;      /* Sample, for change rules: one a second */
  guint       head;
  GHashTable *tracks;       /* key → ThAlertTrack* */
  GPtrArray  *change_tracks;
  GPtrArray  *indicator_tracks;
  GPtrArray  *no_source;    /* ThAlertRule* */
  GPtrArray  *diverges;     /* ThAlertRule*: [prices] divergence */
  ThAlertTrack *price_track;      /* the price tracks, when they exist */
  ThAlertTrack *price_sim_track;
};

/* An alert to emit once the structures are updated. */
typedef struct
{
  char       *id;
  char       *symbol;
  char       *condition;
  char       *message;
  double      price;
  const char *source;       /* interned */
  double      value;
  gboolean    has_value;
  gint64      timestamp;
  ThAlertKind kind;
} Pending;

struct _ThAlertsSink
{
  GObject      parent_instance;
  ThHub       *hub;

  guint        max_rules;
  guint        max_client_rules;
  char        *state_path;

  GHashTable  *rules;        /* id → ThAlertRule* (owned) */
  GHashTable  *symbols;      /* symbol → Symbol* */
  GHashTable  *owners;       /* owner → count of its runtime rules */
  GPtrArray   *source_rules; /* ThAlertRule* */
  GArray      *pending;      /* Pending */
  GPtrArray   *doomed;       /* once rules that fired, removed after the evaluation */
  guint64      serial;
  guint        depth;        /* evaluations under way */

  gulong       price_handler;
  gulong       indicators_handler;
  gulong       status_handler;
  gulong       divergence_handler;

  ThAlertsWebhook *webhook;  /* [alerts] webhook, or NULL */
  ThAlertsNotify  *notify;   /* [alerts] notify=true, or NULL */

  /* The state file */
  gboolean     writing;
  gboolean     dirty;
  GPtrArray   *flushes;      /* GTask* waiting for the write */

  gboolean     configured;
  gboolean     started;
  gboolean     stopped;
};

static void th_alerts_sink_sink_init   (ThSinkInterface   *iface);
static void th_alerts_sink_alerts_init (ThAlertsInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (ThAlertsSink, th_alerts_sink, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_SINK, th_alerts_sink_sink_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (TH_TYPE_ALERTS, th_alerts_sink_alerts_init))

static void write_state (ThAlertsSink *self);

static const char *simulator_name;   /* interned "simulator" */

/* Entries */

static int
compare_up (gconstpointer a,
            gconstpointer b,
            gpointer      data)
{
  const Entry *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  if (x->strict != y->strict)
    return x->strict ? 1 : -1;
  return x->rule->serial < y->rule->serial ? -1 : x->rule->serial > y->rule->serial;
}

static int
compare_down (gconstpointer a,
              gconstpointer b,
              gpointer      data)
{
  const Entry *x = a, *y = b;

  if (x->key != y->key)
    return x->key > y->key ? -1 : 1;
  if (x->strict != y->strict)
    return x->strict ? 1 : -1;
  return x->rule->serial < y->rule->serial ? -1 : x->rule->serial > y->rule->serial;
}

static int
compare_key (gconstpointer a,
             gconstpointer b,
             gpointer      data)
{
  const Entry *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return x->rule->serial < y->rule->serial ? -1 : x->rule->serial > y->rule->serial;
}

static GSequenceIter *
insert (GSequence        *seq,
        ThAlertRule      *rule,
        double            key,
        gboolean          strict,
        gboolean          fire,
        GCompareDataFunc  cmp)
{
  Entry *e = g_new (Entry, 1);

  e->key = key;
  e->strict = strict;
  e->fire = fire;
  e->rule = rule;
  return g_sequence_insert_sorted (seq, e, cmp, NULL);
}

static void
unplace (ThAlertRule *rule)
{
  if (rule->track != NULL)
    rule->track->dirty = TRUE;
  g_clear_pointer (&rule->it1, g_sequence_remove);
  g_clear_pointer (&rule->it2, g_sequence_remove);
  rule->where = TH_ALERT_NOWHERE;
}

static double
margin_of (const ThAlertRule *rule)
{
  return rule->margin_pct ? fabs (rule->threshold) * rule->margin / 100 : rule->margin;
}

static void
arm (ThAlertRule *rule)
{
  ThAlertTrack *t = rule->track;

  unplace (rule);
  t->dirty = TRUE;
  switch (rule->op)
    {
    case TH_ALERT_OP_GT:
    case TH_ALERT_OP_GE:
      rule->it1 = insert (t->up, rule, rule->threshold, rule->op == TH_ALERT_OP_GT, TRUE, compare_up);
      break;
    case TH_ALERT_OP_LT:
    case TH_ALERT_OP_LE:
      rule->it1 = insert (t->down, rule, rule->threshold, rule->op == TH_ALERT_OP_LT, TRUE, compare_down);
      break;
    case TH_ALERT_OP_CROSS:
      rule->it1 = insert (t->cross, rule, rule->threshold, FALSE, TRUE, compare_key);
      break;
    }
  rule->where = TH_ALERT_ARMED;
}

/* Re-armed: armed, or cooling until its cooldown has passed. */
static void
rearmed (ThAlertRule *rule,
         gint64       now)
{
  if (rule->last_fired != 0 && now < rule->last_fired + rule->cooldown)
    {
      unplace (rule);
      rule->track->dirty = TRUE;
      rule->it1 = insert (rule->track->cooling, rule, (double) (rule->last_fired + rule->cooldown), FALSE, FALSE,
                          compare_key);
      rule->where = TH_ALERT_COOLING;
    }
  else
    arm (rule);
}

/* Fired: waits to re-arm. A `>` rule re-arms once the value is back at or
 * below X − margin (`>=`: below), a `<` rule at X + margin, a `crosses`
 * rule once the value is margin away from X on either side (at once
 * without a margin). */
static void
wait_rearm (ThAlertRule *rule,
            gint64       now)
{
  ThAlertTrack *t = rule->track;
  double m = margin_of (rule);

  unplace (rule);
  t->dirty = TRUE;
  switch (rule->op)
    {
    case TH_ALERT_OP_GT:
    case TH_ALERT_OP_GE:
      rule->it1 = insert (t->down, rule, rule->threshold - m, rule->op == TH_ALERT_OP_GE, FALSE, compare_down);
      break;
    case TH_ALERT_OP_LT:
    case TH_ALERT_OP_LE:
      rule->it1 = insert (t->up, rule, rule->threshold + m, rule->op == TH_ALERT_OP_LE, FALSE, compare_up);
      break;
    case TH_ALERT_OP_CROSS:
      if (m <= 0)
        {
          rearmed (rule, now);
          return;
        }
      rule->it1 = insert (t->up, rule, rule->threshold + m, FALSE, FALSE, compare_up);
      rule->it2 = insert (t->down, rule, rule->threshold - m, FALSE, FALSE, compare_down);
      break;
    }
  rule->where = TH_ALERT_REARMING;
}

/* Tracks and symbols */

static void
track_free (ThAlertTrack *t)
{
  g_free (t->key);
  g_free (t->timeframe);
  g_free (t->output);
  g_sequence_free (t->up);
  g_sequence_free (t->down);
  g_sequence_free (t->cross);
  g_sequence_free (t->cooling);
  g_free (t);
}

static void
symbol_free (Symbol *sym)
{
  g_free (sym->symbol);
  g_array_unref (sym->samples);
  g_hash_table_unref (sym->tracks);
  g_ptr_array_unref (sym->change_tracks);
  g_ptr_array_unref (sym->indicator_tracks);
  g_ptr_array_unref (sym->no_source);
  g_ptr_array_unref (sym->diverges);
  g_free (sym);
}

static Symbol *
get_symbol (ThAlertsSink *self,
            const char   *symbol)
{
  Symbol *sym = g_hash_table_lookup (self->symbols, symbol);

  if (sym == NULL)
    {
      sym = g_new0 (Symbol, 1);
      sym->symbol = g_strdup (symbol);
      sym->samples = g_array_new (FALSE, FALSE, sizeof (Sample));
      sym->tracks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) track_free);
      sym->change_tracks = g_ptr_array_new ();
      sym->indicator_tracks = g_ptr_array_new ();
      sym->no_source = g_ptr_array_new ();
      sym->diverges = g_ptr_array_new ();
      g_hash_table_insert (self->symbols, sym->symbol, sym);
    }
  return sym;
}

static ThAlertTrack *
get_track (ThAlertsSink *self,
           ThAlertRule  *rule)
{
  Symbol *sym = get_symbol (self, rule->symbol);
  g_autofree char *key = NULL;
  ThAlertTrack *t;

  switch (rule->kind)
    {
    case TH_ALERT_KIND_PRICE:
      key = g_strdup_printf ("price%s", rule->simulator ? "+sim" : "");
      break;
    case TH_ALERT_KIND_CHANGE:
      key = g_strdup_printf ("change:%" G_GINT64_FORMAT "%s", rule->window, rule->simulator ? "+sim" : "");
      break;
    case TH_ALERT_KIND_INDICATOR:
      key = g_strdup_printf ("ind:%s:%s%s", rule->timeframe, rule->output, rule->simulator ? "+sim" : "");
      break;
    default:
      g_assert_not_reached ();
    }
  t = g_hash_table_lookup (sym->tracks, key);
  if (t != NULL)
    return t;

  t = g_new0 (ThAlertTrack, 1);
  t->key = g_steal_pointer (&key);
  t->sym = sym;
  t->kind = rule->kind;
  t->simulator = rule->simulator;
  t->window = rule->window;
  t->timeframe = g_strdup (rule->timeframe);
  t->output = g_strdup (rule->output);
  t->up = g_sequence_new (g_free);
  t->down = g_sequence_new (g_free);
  t->cross = g_sequence_new (g_free);
  t->cooling = g_sequence_new (g_free);
  g_hash_table_insert (sym->tracks, t->key, t);
  if (t->kind == TH_ALERT_KIND_PRICE && t->simulator)
    sym->price_sim_track = t;
  else if (t->kind == TH_ALERT_KIND_PRICE)
    sym->price_track = t;
  if (t->kind == TH_ALERT_KIND_CHANGE)
    g_ptr_array_add (sym->change_tracks, t);
  else if (t->kind == TH_ALERT_KIND_INDICATOR)
    g_ptr_array_add (sym->indicator_tracks, t);
  /* A price track starts from the symbol's last price: a crossing is
   * measured from it. */
  if (t->kind == TH_ALERT_KIND_PRICE && sym->has_price && (t->simulator || g_strcmp0 (sym->source, SIMULATOR) != 0))
    {
      t->prev = sym->price;
      t->has_prev = TRUE;
    }
  return t;
}

static void
track_release (ThAlertsSink *self,
               ThAlertTrack *t)
{
  Symbol *sym = t->sym;

  if (--t->n_rules > 0)
    return;
  g_ptr_array_remove (sym->change_tracks, t);
  g_ptr_array_remove (sym->indicator_tracks, t);
  if (sym->price_track == t)
    sym->price_track = NULL;
  if (sym->price_sim_track == t)
    sym->price_sim_track = NULL;
  g_hash_table_remove (sym->tracks, t->key);
}

/* Firing */

static gint64
now_of (ThAlertsSink *self)
{
  return th_clock_get_time (th_hub_get_clock (self->hub));
}

static void
queue_alert (ThAlertsSink *self,
             ThAlertRule  *rule,
             double        price,
             const char   *source,
             double        value,
             gboolean      has_value,
             gint64        timestamp)
{
  Pending p = { 0 };

  rule->fired++;
  rule->last_fired = now_of (self);
  p.id = g_strdup (rule->id);
  p.symbol = g_strdup (rule->symbol);
  p.condition = g_strdup (rule->condition);
  p.message = g_strdup (rule->message);
  p.price = price;
  p.source = source != NULL ? g_intern_string (source) : NULL;
  p.value = value;
  p.has_value = has_value;
  p.timestamp = timestamp;
  p.kind = rule->kind;
  g_array_append_val (self->pending, p);
}

static void remove_rule (ThAlertsSink *self,
                         ThAlertRule  *rule);

/* A once rule fired: out of the index now, freed once the evaluation is
 * over (its track may be the one being walked). */
static void
doom (ThAlertsSink *self,
      ThAlertRule  *rule)
{
  unplace (rule);
  rule->removed = TRUE;
  g_ptr_array_add (self->doomed, rule);
}

/* A rule of a track fired on @value. */
static void
fire (ThAlertsSink *self,
      ThAlertRule  *rule,
      double        value,
      gint64        timestamp,
      gint64        now)
{
  Symbol *sym = rule->track->sym;

  queue_alert (self, rule, sym->has_price ? sym->price : NAN, sym->source, value,
               rule->kind != TH_ALERT_KIND_PRICE, timestamp);
  if (rule->once)
    doom (self, rule);
  else
    wait_rearm (rule, now);
}

static gboolean
triggers (const Entry *e,
          double       v,
          gboolean     up)
{
  if (up)
    return v > e->key || (!e->strict && v == e->key);
  return v < e->key || (!e->strict && v == e->key);
}

/* The probe of a crossing range: the first entry above (or at) @key. */
static int
compare_probe (gconstpointer a,
               gconstpointer b,
               gpointer      data)
{
  const Entry *x = a, *probe = b;
  gboolean after_equal = GPOINTER_TO_INT (data);

  if (x == probe)
    return 0;
  if (x->key < probe->key || (after_equal && x->key == probe->key))
    return -1;
  return 1;
}

static void
refresh_heads (ThAlertTrack *t)
{
  GSequenceIter *it;

  it = g_sequence_get_begin_iter (t->up);
  t->up_any = !g_sequence_iter_is_end (it);
  if (t->up_any)
    {
      t->up_key = ((Entry *) g_sequence_get (it))->key;
      t->up_strict = ((Entry *) g_sequence_get (it))->strict;
    }
  it = g_sequence_get_begin_iter (t->down);
  t->down_any = !g_sequence_iter_is_end (it);
  if (t->down_any)
    {
      t->down_key = ((Entry *) g_sequence_get (it))->key;
      t->down_strict = ((Entry *) g_sequence_get (it))->strict;
    }
  it = g_sequence_get_begin_iter (t->cooling);
  t->cool_any = !g_sequence_iter_is_end (it);
  if (t->cool_any)
    t->cool_key = ((Entry *) g_sequence_get (it))->key;
  t->bracket_valid = FALSE;
  t->dirty = FALSE;
}

/* The cross thresholds around @v. */
static void
refresh_bracket (ThAlertTrack *t,
                 double        v)
{
  Entry probe = { 0 };
  ThAlertRule dummy = { 0 };
  GSequenceIter *ge, *gt;

  probe.rule = &dummy;
  probe.key = v;
  ge = g_sequence_search (t->cross, &probe, compare_probe, GINT_TO_POINTER (FALSE));
  gt = g_sequence_search (t->cross, &probe, compare_probe, GINT_TO_POINTER (TRUE));
  t->cross_at = !g_sequence_iter_is_end (ge) && ((Entry *) g_sequence_get (ge))->key == v;
  t->cross_hi = g_sequence_iter_is_end (gt) ? INFINITY : ((Entry *) g_sequence_get (gt))->key;
  t->cross_lo = g_sequence_iter_is_begin (ge) ? -INFINITY
              : ((Entry *) g_sequence_get (g_sequence_iter_prev (ge)))->key;
  t->bracket_valid = TRUE;
}

static gboolean
head_triggers (gboolean any,
               double   key,
               gboolean strict,
               double   v,
               gboolean up)
{
  if (!any)
    return FALSE;
  if (up)
    return v > key || (!strict && v == key);
  return v < key || (!strict && v == key);
}

static void
evaluate (ThAlertsSink *self,
          ThAlertTrack *t,
          double        v,
          gint64        timestamp)
{
  gint64 now;
  g_autoptr(GPtrArray) hits = NULL;
  GSequenceIter *it;

  if (!isfinite (v))
    return;
  if (t->dirty)
    refresh_heads (t);

  /* An idle value: nothing reached, no cooldown over, no threshold crossed. */
  now = t->cool_any ? now_of (self) : 0;
  if (!(t->cool_any && t->cool_key <= (double) now) &&
      !head_triggers (t->up_any, t->up_key, t->up_strict, v, TRUE) &&
      !head_triggers (t->down_any, t->down_key, t->down_strict, v, FALSE) &&
      (!t->has_prev || t->prev == v || g_sequence_is_empty (t->cross) ||
       (t->bracket_valid && !t->cross_at && t->cross_lo < v && v < t->cross_hi)))
    goto done;   /* inside (lo, hi) with no threshold at the old value: the bracket holds for v too */

  hits = g_ptr_array_new ();
  now = now_of (self);

  /* Cooldowns that ended. */
  while ((it = g_sequence_get_begin_iter (t->cooling)) != g_sequence_get_end_iter (t->cooling))
    {
      Entry *e = g_sequence_get (it);

      if (e->key > (double) now)
        break;
      arm (e->rule);
    }

  /* Entries the value reached: firing ones and re-arming ones. */
  for (it = g_sequence_get_begin_iter (t->up); !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
    {
      Entry *e = g_sequence_get (it);

      if (!triggers (e, v, TRUE))
        break;
      g_ptr_array_add (hits, e);
    }
  for (it = g_sequence_get_begin_iter (t->down); !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
    {
      Entry *e = g_sequence_get (it);

      if (!triggers (e, v, FALSE))
        break;
      g_ptr_array_add (hits, e);
    }
  /* Re-arming first: a crossing rule re-armed by this value may fire on
   * it below. Entries are freed as rules move: take what is needed now. */
  for (guint i = 0; i < hits->len; i++)
    {
      Entry *e = hits->pdata[i];

      hits->pdata[i] = e->fire ? e->rule : NULL;
      if (!e->fire)
        rearmed (e->rule, now);
    }
  for (guint i = 0; i < hits->len; i++)
    if (hits->pdata[i] != NULL)
      fire (self, hits->pdata[i], v, timestamp, now);
  g_ptr_array_set_size (hits, 0);

  /* Crossings: prev < X <= v, or v <= X < prev. */
  if (t->has_prev && t->prev != v && g_sequence_get_length (t->cross) > 0)
    {
      Entry probe = { 0 };
      gboolean rising = v > t->prev;
      ThAlertRule dummy = { 0 };

      dummy.serial = 0;
      probe.rule = &dummy;
      probe.key = rising ? t->prev : v;
      it = g_sequence_search (t->cross, &probe, compare_probe, GINT_TO_POINTER (rising));
      for (; !g_sequence_iter_is_end (it); it = g_sequence_iter_next (it))
        {
          Entry *e = g_sequence_get (it);

          if (rising ? e->key > v : e->key >= t->prev)
            break;
          g_ptr_array_add (hits, e->rule);
        }
      for (guint i = 0; i < hits->len; i++)
        fire (self, hits->pdata[i], v, timestamp, now);
    }
  t->bracket_valid = FALSE;

done:
  t->prev = v;
  t->has_prev = TRUE;
  if (t->dirty)
    refresh_heads (t);
  if (!t->bracket_valid && !g_sequence_is_empty (t->cross))
    refresh_bracket (t, v);
}

/* Delivery */

static void
emit_pending (ThAlertsSink *self)
{
  g_autoptr(GArray) pending = NULL;

  if (self->depth > 0)
    return;
  while (self->doomed->len > 0)
    remove_rule (self, g_ptr_array_steal_index (self->doomed, self->doomed->len - 1));
  if (self->pending->len == 0)
    return;
  pending = g_steal_pointer (&self->pending);
  self->pending = g_array_new (FALSE, FALSE, sizeof (Pending));

  for (guint i = 0; i < pending->len; i++)
    {
      Pending *p = &g_array_index (pending, Pending, i);
      GString *out = g_string_sized_new (256);
      g_autoptr(ThEvent) event = NULL;
      g_autofree char *message = NULL;
      GVariantDict dict;
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_autoptr(GVariant) alert = NULL;

      if (p->message != NULL)
        message = g_strdup (p->message);
      else if (p->kind == TH_ALERT_KIND_PRICE)
        message = g_strdup_printf ("%s %s: %s (%s)", p->symbol, p->condition,
                                   g_ascii_formatd (buf, sizeof buf, "%.10g", p->price), p->source);
      else if (p->has_value)
        message = g_strdup_printf ("%s %s: %s", p->symbol, p->condition,
                                   g_ascii_formatd (buf, sizeof buf, "%.6g", p->value));
      else
        message = g_strdup_printf ("%s %s", p->symbol, p->condition);

      g_string_append (out, "{\"event\":\"price_alert\",\"data\":{\"id\":");
      _th_json_append_string (out, p->id);
      g_string_append (out, ",\"symbol\":");
      _th_json_append_string (out, p->symbol);
      g_string_append (out, ",\"condition\":");
      _th_json_append_string (out, p->condition);
      g_string_append (out, ",\"kind\":");
      _th_json_append_string (out, th_alert_kind_to_string (p->kind));
      g_string_append (out, ",\"price\":");
      _th_json_append_double (out, p->price);
      g_string_append (out, ",\"source\":");
      _th_json_append_string (out, p->source);
      g_string_append (out, ",\"value\":");
      _th_json_append_double (out, p->has_value ? p->value : NAN);
      g_string_append (out, ",\"timestamp\":");
      _th_json_append_time (out, p->timestamp);
      g_string_append (out, ",\"message\":");
      _th_json_append_string (out, message);
      g_string_append (out, "}}");
      g_message ("alert %s: %s", p->id, message);

      event = _th_event_new_take ("price_alert", p->symbol, NULL, out);
      th_hub_emit_event (self->hub, event);
      if (self->webhook != NULL && !self->stopped)
        th_alerts_webhook_post (self->webhook, th_event_get_bytes (event));
      if (self->notify != NULL && !self->stopped)
        {
          g_autofree char *summary = g_strdup_printf ("%s %s", p->symbol, p->condition);

          th_alerts_notify_post (self->notify, summary, message);
        }

      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "id", "s", p->id);
      g_variant_dict_insert (&dict, "symbol", "s", p->symbol);
      g_variant_dict_insert (&dict, "condition", "s", p->condition);
      g_variant_dict_insert (&dict, "kind", "s", th_alert_kind_to_string (p->kind));
      if (isfinite (p->price))
        g_variant_dict_insert (&dict, "price", "d", p->price);
      if (p->source != NULL)
        g_variant_dict_insert (&dict, "source", "s", p->source);
      if (p->has_value && isfinite (p->value))
        g_variant_dict_insert (&dict, "value", "d", p->value);
      g_variant_dict_insert (&dict, "timestamp", "x", p->timestamp);
      g_variant_dict_insert (&dict, "message", "s", message);
      alert = g_variant_ref_sink (g_variant_dict_end (&dict));
      if (!self->stopped)
        {
          static guint triggered;

          if (triggered == 0)
            triggered = g_signal_lookup ("triggered", TH_TYPE_ALERTS);
          g_signal_emit (self, triggered, 0, alert);
        }

      g_free (p->id);
      g_free (p->symbol);
      g_free (p->condition);
      g_free (p->message);
    }
}

/* The hub's signals */

static void
add_sample (Symbol *sym,
            gint64  t,
            double  price,
            gint64  keep)
{
  Sample s = { t, price };

  if (sym->samples->len > sym->head)
    {
      Sample *last = &g_array_index (sym->samples, Sample, sym->samples->len - 1);

      if (t < last->t)
        return;   /* older than the last: the exchange's clock went back */
      if (t / G_USEC_PER_SEC == last->t / G_USEC_PER_SEC)
        {
          last->p = price;
          return;
        }
    }
  g_array_append_val (sym->samples, s);
  /* Keep one sample at or before t − keep. */
  while (sym->samples->len - sym->head >= 2 &&
         g_array_index (sym->samples, Sample, sym->head + 1).t <= t - keep)
    sym->head++;
  if (sym->head > 1024 && sym->head > sym->samples->len / 2)
    {
      g_array_remove_range (sym->samples, 0, sym->head);
      sym->head = 0;
    }
}

/* The price at or before @t: the last sample then. */
static gboolean
price_at (Symbol *sym,
          gint64  t,
          double *price)
{
  guint lo = sym->head, hi = sym->samples->len;

  if (lo == hi || g_array_index (sym->samples, Sample, lo).t > t)
    return FALSE;
  while (hi - lo > 1)
    {
      guint mid = lo + (hi - lo) / 2;

      if (g_array_index (sym->samples, Sample, mid).t <= t)
        lo = mid;
      else
        hi = mid;
    }
  *price = g_array_index (sym->samples, Sample, lo).p;
  return TRUE;
}

static void
on_price_changed (ThHub        *hub,
                  const char   *symbol,
                  ThTick       *tick,
                  ThAlertsSink *self)
{
  Symbol *sym = g_hash_table_lookup (self->symbols, symbol);
  gboolean simulated;
  ThAlertTrack *t;

  if (sym == NULL || self->stopped)
    return;
  /* Interned only when the source changes (a lock and a lookup). */
  if (sym->source == NULL || strcmp (sym->source, tick->source) != 0)
    sym->source = g_intern_string (tick->source);
  simulated = sym->source == simulator_name;
  sym->price = tick->price;
  sym->has_price = TRUE;

  self->depth++;
  if (!simulated && (t = sym->price_track) != NULL)
    evaluate (self, t, tick->price, tick->exchange_time);
  if ((t = sym->price_sim_track) != NULL)
    evaluate (self, t, tick->price, tick->exchange_time);

  if (sym->change_tracks->len > 0)
    {
      gint64 keep = 0;

      for (guint i = 0; i < sym->change_tracks->len; i++)
        keep = MAX (keep, ((ThAlertTrack *) sym->change_tracks->pdata[i])->window);
      add_sample (sym, tick->exchange_time, tick->price, keep);
      for (guint i = 0; i < sym->change_tracks->len; i++)
        {
          double ref;

          t = sym->change_tracks->pdata[i];
          if ((simulated && !t->simulator) || !price_at (sym, tick->exchange_time - t->window, &ref) || ref <= 0)
            continue;
          evaluate (self, t, (tick->price / ref - 1) * 100, tick->exchange_time);
        }
    }
  self->depth--;
  emit_pending (self);
}

static void
on_indicators_updated (ThHub        *hub,
                       const char   *symbol,
                       const char   *timeframe,
                       ThCandle     *candle,
                       GVariant     *values,
                       ThAlertsSink *self)
{
  Symbol *sym = g_hash_table_lookup (self->symbols, symbol);
  gboolean simulated;

  if (sym == NULL || sym->indicator_tracks->len == 0 || self->stopped)
    return;
  simulated = g_strcmp0 (sym->source, SIMULATOR) == 0;
  self->depth++;
  for (guint i = 0; i < sym->indicator_tracks->len; i++)
    {
      ThAlertTrack *t = sym->indicator_tracks->pdata[i];
      double v;

      if (!g_str_equal (t->timeframe, timeframe) || (simulated && !t->simulator) ||
          !g_variant_lookup (values, t->output, "d", &v) || !isfinite (v))
        continue;
      evaluate (self, t, v, now_of (self));
    }
  self->depth--;
  emit_pending (self);
}

/* Source rules */

static gboolean
on_source_deadline (gpointer data)
{
  ThAlertRule *rule = data;
  ThAlertsSink *self = rule->engine;

  rule->deadline_id = 0;
  if (!rule->in_state || !rule->armed || self->stopped)
    return G_SOURCE_REMOVE;
  if (rule->last_fired != 0 && now_of (self) < rule->last_fired + rule->cooldown)
    return G_SOURCE_REMOVE;
  {
    Symbol *sym = get_symbol (self, rule->symbol);

    rule->armed = FALSE;
    queue_alert (self, rule, sym->has_price ? sym->price : NAN, rule->source, NAN, FALSE, now_of (self));
    if (rule->once)
      doom (self, rule);
  }
  emit_pending (self);
  return G_SOURCE_REMOVE;
}

static void
source_state (ThAlertsSink  *self,
              ThAlertRule   *rule,
              ThSourceState  state)
{
  ThClock *clock = th_hub_get_clock (self->hub);

  if (state == rule->state)
    {
      if (rule->in_state)
        return;
      rule->in_state = TRUE;
      rule->since = now_of (self);
      if (rule->deadline_id != 0)
        th_clock_remove_deadline (clock, rule->deadline_id);
      rule->deadline_id = th_clock_add_deadline (clock, rule->since + rule->duration, on_source_deadline, rule, NULL);
    }
  else
    {
      rule->in_state = FALSE;
      rule->armed = TRUE;
      if (rule->deadline_id != 0)
        th_clock_remove_deadline (clock, rule->deadline_id);
      rule->deadline_id = 0;
    }
}

static void
on_source_status_changed (ThHub         *hub,
                          const char    *source,
                          ThSourceState  state,
                          const char    *reason,
                          ThAlertsSink  *self)
{
  if (self->stopped)
    return;
  for (guint i = 0; i < self->source_rules->len; i++)
    {
      ThAlertRule *rule = self->source_rules->pdata[i];

      if (g_str_equal (rule->source, source))
        source_state (self, rule, state);
    }
}

/* Rules */

static void
place_rule (ThAlertsSink *self,
            ThAlertRule  *rule)
{
  rule->serial = ++self->serial;
  switch (rule->kind)
    {
    case TH_ALERT_KIND_PRICE:
    case TH_ALERT_KIND_CHANGE:
    case TH_ALERT_KIND_INDICATOR:
      rule->track = get_track (self, rule);
      rule->track->n_rules++;
      arm (rule);
      break;
    case TH_ALERT_KIND_NO_SOURCE:
      rule->armed = th_price_book_get_selected (th_hub_get_price_book (self->hub), rule->symbol) != NULL ||
                    !self->started;
      g_ptr_array_add (get_symbol (self, rule->symbol)->no_source, rule);
      break;
    case TH_ALERT_KIND_DIVERGES:
      rule->armed = TRUE;
      g_ptr_array_add (get_symbol (self, rule->symbol)->diverges, rule);
      break;
    case TH_ALERT_KIND_SOURCE:
      rule->engine = self;
      rule->armed = TRUE;
      g_ptr_array_add (self->source_rules, rule);
      if (self->started)
        source_state (self, rule, th_hub_get_source_state (self->hub, rule->source, NULL));
      break;
    }
  g_hash_table_insert (self->rules, rule->id, rule);
  if (!rule->from_config)
    {
      const char *owner = rule->owner != NULL ? rule->owner : "admin";

      g_hash_table_insert (self->owners, g_strdup (owner),
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->owners, owner)) + 1));
    }
}

static void
remove_rule (ThAlertsSink *self,
             ThAlertRule  *rule)
{
  unplace (rule);
  if (rule->track != NULL)
    track_release (self, rule->track);
  rule->track = NULL;
  if (rule->kind == TH_ALERT_KIND_NO_SOURCE)
    g_ptr_array_remove (get_symbol (self, rule->symbol)->no_source, rule);
  if (rule->kind == TH_ALERT_KIND_DIVERGES)
    g_ptr_array_remove (get_symbol (self, rule->symbol)->diverges, rule);
  if (rule->kind == TH_ALERT_KIND_SOURCE)
    {
      if (rule->deadline_id != 0)
        th_clock_remove_deadline (th_hub_get_clock (self->hub), rule->deadline_id);
      rule->deadline_id = 0;
      g_ptr_array_remove (self->source_rules, rule);
    }
  if (!rule->from_config)
    {
      const char *owner = rule->owner != NULL ? rule->owner : "admin";
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (self->owners, owner));

      if (n <= 1)
        g_hash_table_remove (self->owners, owner);
      else
        g_hash_table_insert (self->owners, g_strdup (owner), GUINT_TO_POINTER (n - 1));
      write_state (self);
    }
  g_hash_table_remove (self->rules, rule->id);   /* frees it */
}

static void
context_init (ThAlertsSink   *self,
              ThAlertContext *ctx,
              gboolean        loading)
{
  ThConfig *config = th_hub_get_config (self->hub);
  GPtrArray *sources = g_ptr_array_new ();
  g_auto(GStrv) listed = th_hub_list_sources (self->hub);
  g_auto(GStrv) order = th_config_get_string_list (config, "prices", "order");
  g_auto(GStrv) plugins = th_config_get_string_list (config, "tickhub", "plugins");

  ctx->symbols = g_strdupv ((char **) th_hub_get_symbols (self->hub));
  ctx->timeframes = th_hub_list_timeframes (self->hub);
  ctx->outputs = loading ? NULL : th_hub_list_indicator_outputs (self->hub);
  ctx->instances = g_key_file_get_keys (th_config_get_key_file (config), "indicators", NULL, NULL);
  /* A source may be named before it reports: those the hub knows, those
   * of [prices] order and the plugins (a feed's source is its name). */
  for (guint i = 0; listed != NULL && listed[i] != NULL; i++)
    g_ptr_array_add (sources, g_strdup (listed[i]));
  for (guint i = 0; order != NULL && order[i] != NULL; i++)
    g_ptr_array_add (sources, g_strdup (order[i]));
  for (guint i = 0; plugins != NULL && plugins[i] != NULL; i++)
    g_ptr_array_add (sources, g_strdup (plugins[i]));
  g_ptr_array_add (sources, NULL);
  ctx->sources = (char **) g_ptr_array_free (sources, FALSE);
  {
    g_autofree char *divergence = th_config_get_string (config, "prices", "divergence", NULL);
    double bps = 0;

    ctx->divergence = divergence != NULL && _th_parse_divergence (divergence, &bps, NULL) && bps > 0;
  }
}

static void
context_clear (ThAlertContext *ctx)
{
  g_strfreev (ctx->symbols);
  g_strfreev (ctx->timeframes);
  g_strfreev (ctx->outputs);
  g_strfreev (ctx->instances);
  g_strfreev (ctx->sources);
}

static char *
new_id (ThAlertsSink *self)
{
  for (;;)
    {
      char *id = g_strdup_printf ("a%08x", g_random_int ());

      if (!g_hash_table_contains (self->rules, id))
        return id;
      g_free (id);
    }
}

/* Checks and places a runtime rule. */
static ThAlertRule *
add_runtime (ThAlertsSink *self,
             const char   *symbol,
             const char   *condition,
             GVariant     *options,
             const char   *owner,
             GError      **error)
{
  ThAlertContext ctx = { 0 };
  ThAlertRule *rule;
  guint n_owner = GPOINTER_TO_UINT (g_hash_table_lookup (self->owners, owner != NULL ? owner : "admin"));

  if (g_hash_table_size (self->rules) >= self->max_rules)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_TOO_MANY,
                   "there are %u alert rules already, the most [alerts] max-rules allows; remove some first",
                   g_hash_table_size (self->rules));
      return NULL;
    }
  if (owner != NULL && n_owner >= self->max_client_rules)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_TOO_MANY,
                   "you have %u alert rules already, the most [alerts] max-client-rules allows; remove some first",
                   n_owner);
      return NULL;
    }

  context_init (self, &ctx, FALSE);
  rule = th_alert_rule_parse (&ctx, symbol, condition, options, error);
  context_clear (&ctx);
  if (rule == NULL)
    return NULL;
  if (rule->id == NULL)
    rule->id = new_id (self);
  else if (g_hash_table_contains (self->rules, rule->id))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                   "there is already an alert rule “%s”; choose another id or leave it out", rule->id);
      th_alert_rule_free (rule);
      return NULL;
    }
  rule->owner = g_strdup (owner);
  place_rule (self, rule);
  write_state (self);
  return rule;
}

/* ThAlerts */

static GVariant *
th_alerts_sink_add (ThAlerts    *alerts,
                    const char  *symbol,
                    const char  *condition,
                    GVariant    *options,
                    const char  *owner,
                    GError     **error)
{
  ThAlertsSink *self = TH_ALERTS_SINK (alerts);
  ThAlertRule *rule;

  if (!self->configured)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_NO_ALERTS, "the alerts plugin is not configured");
      return NULL;
    }
  rule = add_runtime (self, symbol, condition, options, owner, error);
  if (rule == NULL)
    return NULL;
  g_message ("alert rule %s added by %s: %s %s", rule->id, owner != NULL ? owner : "admin", rule->symbol,
             rule->condition);
  return th_alert_rule_to_variant (rule);
}

static gboolean
th_alerts_sink_remove (ThAlerts    *alerts,
                       const char  *id,
                       const char  *owner,
                       GError     **error)
{
  ThAlertsSink *self = TH_ALERTS_SINK (alerts);
  ThAlertRule *rule = g_hash_table_lookup (self->rules, id);

  if (rule == NULL || rule->removed)
    {
      g_autofree char *quoted = _th_utf8_excerpt (id, 80);

      g_set_error (error, TH_ERROR, TH_ERROR_NOT_FOUND, "no alert rule “%s”; list the rules to see their ids", quoted);
      return FALSE;
    }
  if (rule->from_config)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_NOT_ALLOWED,
                   "alert rule “%s” comes from the configuration file; remove it from [alerts] there", id);
      return FALSE;
    }
  if (owner != NULL && g_strcmp0 (owner, rule->owner) != 0)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_NOT_ALLOWED,
                   "alert rule “%s” is another client's; only its owner or an admin token may remove it", id);
      return FALSE;
    }
  g_message ("alert rule %s removed by %s", id, owner != NULL ? owner : "admin");
  remove_rule (self, rule);
  return TRUE;
}

static int
compare_ids (gconstpointer a,
             gconstpointer b)
{
  return strcmp ((*(ThAlertRule *const *) a)->id, (*(ThAlertRule *const *) b)->id);
}

static GVariant *
th_alerts_sink_list (ThAlerts   *alerts,
                     const char *owner)
{
  ThAlertsSink *self = TH_ALERTS_SINK (alerts);
  g_autoptr(GPtrArray) rules = g_ptr_array_new ();
  GVariantBuilder b;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rules);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ThAlertRule *rule = value;

      if (owner == NULL || rule->from_config || g_strcmp0 (owner, rule->owner) == 0)
        g_ptr_array_add (rules, rule);
    }
  g_ptr_array_sort (rules, compare_ids);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < rules->len; i++)
    g_variant_builder_add_value (&b, th_alert_rule_to_variant (rules->pdata[i]));
  return g_variant_builder_end (&b);
}

static void
th_alerts_sink_alerts_init (ThAlertsInterface *iface)
{
  iface->add = th_alerts_sink_add;
  iface->remove = th_alerts_sink_remove;
  iface->list = th_alerts_sink_list;
}

/* The state file: the runtime rules, as JSON */

static char *
state_text (ThAlertsSink *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) rules = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->rules);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((ThAlertRule *) value)->from_config)
      g_ptr_array_add (rules, value);
  g_ptr_array_sort (rules, compare_ids);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "rules");
  json_builder_begin_array (b);
  for (guint i = 0; i < rules->len; i++)
    {
      ThAlertRule *rule = rules->pdata[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_string_value (b, rule->id);
      json_builder_set_member_name (b, "symbol");
      json_builder_add_string_value (b, rule->symbol);
      json_builder_set_member_name (b, "condition");
      json_builder_add_string_value (b, rule->condition);
      json_builder_set_member_name (b, "cooldown");
      json_builder_add_double_value (b, rule->cooldown / (double) G_USEC_PER_SEC);
      if (rule->hysteresis_text != NULL)
        {
          json_builder_set_member_name (b, "hysteresis");
          json_builder_add_string_value (b, rule->hysteresis_text);
        }
      json_builder_set_member_name (b, "once");
      json_builder_add_boolean_value (b, rule->once);
      json_builder_set_member_name (b, "simulator");
      json_builder_add_boolean_value (b, rule->simulator);
      if (rule->message != NULL)
        {
          json_builder_set_member_name (b, "message");
          json_builder_add_string_value (b, rule->message);
        }
      if (rule->owner != NULL)
        {
          json_builder_set_member_name (b, "owner");
          json_builder_add_string_value (b, rule->owner);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

static void
write_in_thread (GTask        *task,
                 gpointer      source,
                 gpointer      data,
                 GCancellable *cancellable)
{
  ThAlertsSink *self = source;
  const char *text = data;
  g_autofree char *dir = g_path_get_dirname (self->state_path);
  GError *error = NULL;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create the folder “%s”: %s",
                               dir, g_strerror (saved));
      return;
    }
  if (!g_file_set_contents_full (self->state_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_state_written (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  ThAlertsSink *self = TH_ALERTS_SINK (source);
  g_autoptr(GError) error = NULL;

  self->writing = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_warning ("alerts: cannot save the runtime rules in “%s”: %s; they will be lost at the next restart",
               self->state_path, error->message);
  if (self->dirty)
    write_state (self);
  if (!self->writing)
    {
      g_autoptr(GPtrArray) flushes = g_steal_pointer (&self->flushes);

      self->flushes = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < flushes->len; i++)
        g_task_return_boolean (flushes->pdata[i], TRUE);
    }
}

/* Writes the runtime rules (in a thread; one write at a time, the last
 * state wins). */
static void
write_state (ThAlertsSink *self)
{
  g_autoptr(GTask) task = NULL;

  if (!self->configured || self->state_path == NULL)
    return;
  if (self->writing)
    {
      self->dirty = TRUE;
      return;
    }
  self->dirty = FALSE;
  self->writing = TRUE;
  task = g_task_new (self, NULL, on_state_written, NULL);
  g_task_set_source_tag (task, write_state);
  g_task_set_task_data (task, state_text (self), g_free);
  g_task_run_in_thread (task, write_in_thread);
}

/* Reads the runtime rules back (at start: a small file). */
static void
read_state (ThAlertsSink *self)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;
  JsonArray *rules;
  gsize length;
  guint added = 0;

  if (!g_file_get_contents (self->state_path, &text, &length, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_warning ("alerts: cannot read the runtime rules from “%s”: %s", self->state_path, error->message);
      return;
    }
  if (!th_json_parser_load (parser, text, (gssize) length, &error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      (rules = json_object_get_array_member (json_node_get_object (root), "rules")) == NULL)
    {
      g_warning ("alerts: “%s” is not a file of alert rules (%s); move it away, the rules in it are ignored",
                 self->state_path, error != NULL ? error->message : "no \"rules\" array");
      return;
    }
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *o = json_array_get_object_element (rules, i);
      const char *symbol, *condition;
      g_autoptr(GError) local = NULL;
      GVariantDict dict;
      g_autoptr(GVariant) options = NULL;
      ThAlertRule *rule;

      if (o == NULL)
        continue;
      symbol = json_object_get_string_member_with_default (o, "symbol", NULL);
      condition = json_object_get_string_member_with_default (o, "condition", NULL);
      if (symbol == NULL || condition == NULL || !json_object_has_member (o, "id"))
        continue;
      g_variant_dict_init (&dict, NULL);
      g_variant_dict_insert (&dict, "id", "s", json_object_get_string_member_with_default (o, "id", ""));
      g_variant_dict_insert (&dict, "cooldown", "d", json_object_get_double_member_with_default (o, "cooldown", 300));
      if (json_object_has_member (o, "hysteresis"))
        g_variant_dict_insert (&dict, "hysteresis", "s", json_object_get_string_member_with_default (o, "hysteresis", "0"));
      g_variant_dict_insert (&dict, "once", "b", json_object_get_boolean_member_with_default (o, "once", FALSE));
      g_variant_dict_insert (&dict, "simulator", "b", json_object_get_boolean_member_with_default (o, "simulator", FALSE));
      if (json_object_has_member (o, "message"))
        g_variant_dict_insert (&dict, "message", "s", json_object_get_string_member_with_default (o, "message", ""));
      options = g_variant_ref_sink (g_variant_dict_end (&dict));
      rule = add_runtime (self, symbol, condition, options,
                          json_object_get_string_member_with_default (o, "owner", NULL), &local);
      if (rule != NULL)
        added++;
      else
        g_warning ("alerts: the saved rule %s (%s %s) is dropped: %s",
                   json_object_get_string_member_with_default (o, "id", "?"), symbol, condition, local->message);
    }
  g_info ("alerts: %u runtime rules read from “%s”", added, self->state_path);
}

/* ThSink */

static gboolean
is_setting (const char *key)
{
  return g_str_equal (key, "max-rules") || g_str_equal (key, "max-client-rules") ||
         g_str_equal (key, "state-file") || g_str_equal (key, "webhook") ||
         g_str_equal (key, "webhook-retries") || g_str_equal (key, "webhook-timeout") ||
         g_str_equal (key, "notify");
}

static gboolean
th_alerts_sink_configure (ThSink  *sink,
                          GError **error)
{
  ThAlertsSink *self = TH_ALERTS_SINK (sink);
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *state = NULL;
  g_auto(GStrv) keys = NULL;
  ThAlertContext ctx = { 0 };
  ThConfig *config;
  gint64 n;

  if (self->hub == NULL || self->started || self->stopped)
    {
      g_set_error_literal (error, TH_ERROR, TH_ERROR_PLUGIN, "[alerts]: the sink is configured once, before it starts");
      return FALSE;
    }
  config = th_hub_get_config (self->hub);

  n = th_config_get_int (config, "alerts", "max-rules", DEFAULT_MAX_RULES);
  if (th_config_has_key (config, "alerts", "max-rules") && n < 1)
    g_ptr_array_add (problems, g_strdup_printf ("[alerts] max-rules: give at least 1 (the default is %d)",
                                                DEFAULT_MAX_RULES));
  self->max_rules = n > 0 ? (guint) MIN (n, G_MAXUINT) : DEFAULT_MAX_RULES;
  n = th_config_get_int (config, "alerts", "max-client-rules", DEFAULT_MAX_CLIENT_RULES);
  if (th_config_has_key (config, "alerts", "max-client-rules") && n < 1)
    g_ptr_array_add (problems, g_strdup_printf ("[alerts] max-client-rules: give at least 1 (the default is %d)",
                                                DEFAULT_MAX_CLIENT_RULES));
  self->max_client_rules = n > 0 ? (guint) MIN (n, G_MAXUINT) : DEFAULT_MAX_CLIENT_RULES;

  state = th_config_get_string (config, "alerts", "state-file", NULL);
  g_clear_pointer (&self->state_path, g_free);
  if (state == NULL)
    self->state_path = g_build_filename (g_get_user_state_dir (), "tickhub", "alerts.json", NULL);
  else
    {
      const char *config_path = th_config_get_path (config);
      g_autofree char *config_full = config_path != NULL ? g_canonicalize_filename (config_path, NULL) : NULL;
      g_autofree char *dir = config_full != NULL ? g_path_get_dirname (config_full) : NULL;

      self->state_path = g_canonicalize_filename (state, dir);
    }

  {
    g_autofree char *url = th_config_get_string (config, "alerts", "webhook", NULL);
    gint64 retries = th_config_get_int (config, "alerts", "webhook-retries", 5);
    double timeout = th_config_get_double (config, "alerts", "webhook-timeout", 10);

    if (th_config_has_key (config, "alerts", "webhook-timeout") && !(timeout >= 1 && timeout <= 300))
      g_ptr_array_add (problems, g_strdup ("[alerts] webhook-timeout: give seconds from 1 to 300 (the default is 10)"));
    g_clear_pointer (&self->webhook, th_alerts_webhook_free);
    if (url != NULL && *url != '\0')
      self->webhook = th_alerts_webhook_new (url, (guint) CLAMP (retries, 0, 100), CLAMP (timeout, 1, 300));
  }

  /* The rules of the file: every key that is not a setting. */
  context_init (self, &ctx, TRUE);
  keys = g_key_file_get_keys (th_config_get_key_file (config), "alerts", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *text = NULL;
      g_autoptr(GError) local = NULL;
      ThAlertRule *rule;

      if (is_setting (keys[i]))
        continue;
      if (!th_alert_id_is_valid (keys[i]))
        {
          g_ptr_array_add (problems, g_strdup_printf ("[alerts] %s: a rule's id is 1 to 64 letters, digits, -, _ "
                                                      "or .; rename the key, such as btc-high", keys[i]));
          continue;
        }
      text = th_config_get_string (config, "alerts", keys[i], NULL);
      rule = th_alert_rule_parse (&ctx, NULL, text, NULL, &local);
      if (rule == NULL)
        {
          g_ptr_array_add (problems, g_strdup_printf ("[alerts] %s: %s", keys[i], local->message));
          continue;
        }
      if (rule->id != NULL)
        {
          g_ptr_array_add (problems, g_strdup_printf ("[alerts] %s: the key is the rule's id; remove id=%s",
                                                      keys[i], rule->id));
          th_alert_rule_free (rule);
          continue;
        }
      rule->id = g_strdup (keys[i]);
      rule->from_config = TRUE;
      rule->owner = g_strdup ("config");
      place_rule (self, rule);
    }
  context_clear (&ctx);

  if (problems->len > 0)
    {
      g_autofree char *msg = NULL;

      g_ptr_array_add (problems, NULL);
      msg = g_strjoinv ("\n", (char **) problems->pdata);
      g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
      return FALSE;
    }

  self->configured = TRUE;
  th_hub_set_alerts (self->hub, TH_ALERTS (self));
  /* A write of the state file may end after the hub is gone. */
  g_object_add_weak_pointer (G_OBJECT (self->hub), (gpointer *) &self->hub);
  return TRUE;
}


/* diverges: the hub's ::price-divergence ([prices] divergence). A rule
 * fires when the symbol's first fresh source is flagged, and re-arms when
 * it agrees again. */
static void
on_price_divergence (ThHub        *hub,
                     const char   *symbol,
                     const char   *source,
                     double        price,
                     double        median,
                     double        bps,
                     gboolean      diverged,
                     ThAlertsSink *self)
{
  Symbol *sym;
  gint64 now;

  if (!self->started || self->stopped ||
      (sym = g_hash_table_lookup (self->symbols, symbol)) == NULL || sym->diverges->len == 0)
    return;

  now = now_of (self);
  self->depth++;
  for (guint i = sym->diverges->len; i > 0; i--)
    {
      ThAlertRule *rule = sym->diverges->pdata[i - 1];

      if (!diverged)
        rule->armed = TRUE;
      else if (rule->armed && (rule->last_fired == 0 || now >= rule->last_fired + rule->cooldown))
        {
          rule->armed = FALSE;
          /* The value is how far it is from the others, in bp. */
          queue_alert (self, rule, price, g_intern_string (source), bps, TRUE, now);
          if (rule->once)
            doom (self, rule);
        }
    }
  self->depth--;
  emit_pending (self);
}

static void
th_alerts_sink_start (ThSink *sink)
{
  ThAlertsSink *self = TH_ALERTS_SINK (sink);
  g_auto(GStrv) outputs = NULL;
  g_autoptr(GPtrArray) unknown = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  if (!self->configured || self->started || self->stopped)
    return;
  self->started = TRUE;

  /* An indicator rule of the file names an output: now they are known. */
  outputs = th_hub_list_indicator_outputs (self->hub);
  g_hash_table_iter_init (&iter, self->rules);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      ThAlertRule *rule = value;

      if (rule->kind == TH_ALERT_KIND_INDICATOR && !g_strv_contains ((const char *const *) outputs, rule->output))
        g_ptr_array_add (unknown, rule);
    }
  for (guint i = 0; i < unknown->len; i++)
    {
      ThAlertRule *rule = unknown->pdata[i];
      g_autofree char *list = g_strjoinv (", ", outputs);

      g_warning ("alerts: [alerts] %s names the indicator output “%s”, which [indicators] does not make "
                 "(its outputs are %s); the rule is ignored", rule->id, rule->output, list);
      remove_rule (self, rule);
    }

  read_state (self);

  for (guint i = 0; i < self->source_rules->len; i++)
    {
      ThAlertRule *rule = self->source_rules->pdata[i];

      source_state (self, rule, th_hub_get_source_state (self->hub, rule->source, NULL));
    }
  if (th_config_get_boolean (th_hub_get_config (self->hub), "alerts", "notify", FALSE))
    self->notify = th_alerts_notify_new ();
  self->price_handler = g_signal_connect (self->hub, "price-changed", G_CALLBACK (on_price_changed), self);
  self->indicators_handler = g_signal_connect (self->hub, "indicators-updated",
                                               G_CALLBACK (on_indicators_updated), self);
  self->status_handler = g_signal_connect (self->hub, "source-status-changed",
                                           G_CALLBACK (on_source_status_changed), self);
  self->divergence_handler = g_signal_connect (self->hub, "price-divergence",
                                               G_CALLBACK (on_price_divergence), self);
}

/* no_source: the price_source_changed events. */
static void
th_alerts_sink_consume (ThSink  *sink,
                        ThEvent *event)
{
  ThAlertsSink *self = TH_ALERTS_SINK (sink);
  const char *symbol = th_event_get_symbol (event);
  Symbol *sym;
  gboolean none;
  gint64 now;

  if (!self->started || self->stopped || symbol == NULL ||
      !g_str_equal (th_event_get_name (event), "price_source_changed") ||
      (sym = g_hash_table_lookup (self->symbols, symbol)) == NULL || sym->no_source->len == 0)
    return;

  none = th_price_book_get_selected (th_hub_get_price_book (self->hub), symbol) == NULL;
  now = now_of (self);
  self->depth++;
  for (guint i = sym->no_source->len; i > 0; i--)
    {
      ThAlertRule *rule = sym->no_source->pdata[i - 1];

      if (!none)
        rule->armed = TRUE;
      else if (rule->armed && (rule->last_fired == 0 || now >= rule->last_fired + rule->cooldown))
        {
          rule->armed = FALSE;
          queue_alert (self, rule, NAN, NULL, NAN, FALSE, now);
          if (rule->once)
            doom (self, rule);
        }
    }
  self->depth--;
  emit_pending (self);
}

static void
th_alerts_sink_flush (ThSink *sink,
                      GTask  *task)
{
  ThAlertsSink *self = TH_ALERTS_SINK (sink);

  if (self->writing)
    g_ptr_array_add (self->flushes, g_object_ref (task));
  else
    g_task_return_boolean (task, TRUE);
}

static void
disconnect (ThAlertsSink *self)
{
  if (self->hub == NULL)
    return;
  g_clear_signal_handler (&self->price_handler, self->hub);
  g_clear_signal_handler (&self->indicators_handler, self->hub);
  g_clear_signal_handler (&self->status_handler, self->hub);
  g_clear_signal_handler (&self->divergence_handler, self->hub);
}

static void
th_alerts_sink_stop (ThSink *sink)
{
  ThAlertsSink *self = TH_ALERTS_SINK (sink);

  self->stopped = TRUE;
  disconnect (self);
  g_clear_pointer (&self->webhook, th_alerts_webhook_free);
  g_clear_pointer (&self->notify, th_alerts_notify_free);
  for (guint i = 0; i < self->source_rules->len; i++)
    {
      ThAlertRule *rule = self->source_rules->pdata[i];

      if (rule->deadline_id != 0)
        th_clock_remove_deadline (th_hub_get_clock (self->hub), rule->deadline_id);
      rule->deadline_id = 0;
    }
}

static void
th_alerts_sink_sink_init (ThSinkInterface *iface)
{
  iface->configure = th_alerts_sink_configure;
  iface->start = th_alerts_sink_start;
  iface->consume = th_alerts_sink_consume;
  iface->flush = th_alerts_sink_flush;
  iface->stop = th_alerts_sink_stop;
}

/* GObject */

static void
th_alerts_sink_dispose (GObject *object)
{
  ThAlertsSink *self = TH_ALERTS_SINK (object);

  if (self->hub != NULL)
    {
      for (guint i = 0; i < self->source_rules->len; i++)
        {
          ThAlertRule *rule = self->source_rules->pdata[i];

          if (rule->deadline_id != 0)
            th_clock_remove_deadline (th_hub_get_clock (self->hub), rule->deadline_id);
          rule->deadline_id = 0;
        }
      disconnect (self);
      if (th_hub_get_alerts (self->hub) == TH_ALERTS (self))
        th_hub_set_alerts (self->hub, NULL);
      if (self->configured)
        g_object_remove_weak_pointer (G_OBJECT (self->hub), (gpointer *) &self->hub);
      self->hub = NULL;
    }
  G_OBJECT_CLASS (th_alerts_sink_parent_class)->dispose (object);
}

static void
th_alerts_sink_finalize (GObject *object)
{
  ThAlertsSink *self = TH_ALERTS_SINK (object);

  /* The rules' entries go with their tracks. */
  g_hash_table_unref (self->symbols);
  g_hash_table_unref (self->rules);
  g_hash_table_unref (self->owners);
  g_ptr_array_unref (self->source_rules);
  g_array_unref (self->pending);
  g_ptr_array_unref (self->doomed);
  g_ptr_array_unref (self->flushes);
  g_clear_pointer (&self->webhook, th_alerts_webhook_free);
  g_clear_pointer (&self->notify, th_alerts_notify_free);
  g_free (self->state_path);

  G_OBJECT_CLASS (th_alerts_sink_parent_class)->finalize (object);
}

static void
th_alerts_sink_class_init (ThAlertsSinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = th_alerts_sink_dispose;
  object_class->finalize = th_alerts_sink_finalize;
  th_plugin_class_install_hub (object_class, G_STRUCT_OFFSET (ThAlertsSink, hub));
}

static void
th_alerts_sink_class_finalize (ThAlertsSinkClass *klass)
{
}

static void
th_alerts_sink_init (ThAlertsSink *self)
{
  if (simulator_name == NULL)
    simulator_name = g_intern_static_string (SIMULATOR);
  self->rules = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) th_alert_rule_free);
  self->symbols = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) symbol_free);
  self->owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->source_rules = g_ptr_array_new ();
  self->pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  self->doomed = g_ptr_array_new ();
  self->flushes = g_ptr_array_new_with_free_func (g_object_unref);
  self->max_rules = DEFAULT_MAX_RULES;
  self->max_client_rules = DEFAULT_MAX_CLIENT_RULES;
}

G_MODULE_EXPORT void peas_register_types (PeasObjectModule *module);

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  th_alerts_sink_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, TH_TYPE_SINK, TH_TYPE_ALERTS_SINK);
}
