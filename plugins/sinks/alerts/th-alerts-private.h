/* th-alerts-private.h: what the files of the alerts sink share
 *
 *   th-alerts-rule.c   a rule read from its text (and options)
 *   th-alerts.c        the plugin: config, the index and its evaluation on
 *                      the hub's typed signals, delivery, the state file
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tickhub.h>

G_BEGIN_DECLS

typedef enum
{
  TH_ALERT_KIND_PRICE,
  TH_ALERT_KIND_CHANGE,
  TH_ALERT_KIND_INDICATOR,
  TH_ALERT_KIND_NO_SOURCE,
  TH_ALERT_KIND_SOURCE,
  TH_ALERT_KIND_DIVERGES,
} ThAlertKind;

typedef enum
{
  TH_ALERT_OP_GT,
  TH_ALERT_OP_GE,
  TH_ALERT_OP_LT,
  TH_ALERT_OP_LE,
  TH_ALERT_OP_CROSS,
} ThAlertOp;

typedef enum
{
  TH_ALERT_NOWHERE,
  TH_ALERT_ARMED,      /* its firing entry is in the track */
  TH_ALERT_REARMING,   /* fired; waits for the value to go back past the margin */
  TH_ALERT_COOLING,    /* re-armed, waits for its cooldown to end */
} ThAlertWhere;

typedef struct _ThAlertTrack ThAlertTrack;

typedef struct
{
  char        *id;
  char        *symbol;
  char        *condition;     /* as written, without the options */
  char        *message;       /* nullable */
  char        *owner;         /* nullable: the engine's own (admin) */
  char        *hysteresis_text;
  ThAlertKind  kind;
  ThAlertOp    op;
  double       threshold;
  gint64       window;        /* change: µs */
  char        *output;        /* indicator */
  char        *timeframe;     /* indicator */
  char        *source;        /* source rule */
  ThSourceState state;        /* source rule */
  gint64       duration;      /* source rule: µs */
  gint64       cooldown;      /* µs */
  double       margin;        /* hysteresis */
  gboolean     margin_pct;
  gboolean     once;
  gboolean     simulator;
  gboolean     from_config;

  /* State */
  guint64       serial;
  guint64       fired;
  gint64        last_fired;   /* hub clock µs; 0: never */
  ThAlertTrack *track;        /* price, change and indicator rules */
  ThAlertWhere  where;
  GSequenceIter *it1;         /* its entries in the track */
  GSequenceIter *it2;
  gboolean      armed;        /* no_source and source rules */
  gboolean      in_state;     /* source rules: the source is in the state */
  gint64        since;        /* ... since then (hub clock) */
  guint         deadline_id;  /* ... until the duration has passed */
  gpointer      engine;       /* source rules' deadlines */
  gboolean      removed;
} ThAlertRule;

/* What a rule may name. */
typedef struct
{
  char **symbols;
  char **timeframes;
  char **outputs;     /* NULL before the indicators are made */
  char **instances;   /* the keys of [indicators] */
  char **sources;
  gboolean divergence;  /* [prices] divergence is set: a diverges rule can fire */
} ThAlertContext;

/* th-alerts-webhook.c */
typedef struct _ThAlertsWebhook ThAlertsWebhook;

ThAlertsWebhook *th_alerts_webhook_new  (const char      *url,
                                         guint            retries,
                                         double           timeout);
void             th_alerts_webhook_free (ThAlertsWebhook *hook);
void             th_alerts_webhook_post (ThAlertsWebhook *hook,
                                         GBytes          *json);

/* th-alerts-notify.c */
typedef struct _ThAlertsNotify ThAlertsNotify;

ThAlertsNotify  *th_alerts_notify_new   (void);
void             th_alerts_notify_free  (ThAlertsNotify  *notify);
void             th_alerts_notify_post  (ThAlertsNotify  *notify,
                                         const char      *summary,
                                         const char      *body);

const char  *th_alert_kind_to_string  (ThAlertKind        kind);
gboolean     th_alert_id_is_valid     (const char        *id);
ThAlertRule *th_alert_rule_parse      (ThAlertContext    *ctx,
                                       const char        *symbol,
                                       const char        *text,
                                       GVariant          *options,
                                       GError           **error);
void         th_alert_rule_free       (ThAlertRule       *rule);
GVariant    *th_alert_rule_to_variant (const ThAlertRule *rule);

G_END_DECLS
