/* th-alerts-rule.c: reading an alert rule from its text
 *
 *   SYMBOL CONDITION [OPTIONS]        (a key of [alerts]; at run time the
 *                                      symbol comes apart)
 *
 * Conditions:
 *   above X | below X | crosses X | > X | >= X | < X | <= X   the price
 *   change >= 5% in 1h | change <= -3% in 15m                  the change over a window
 *   NAME(TF) > 70 | NAME(TF) crosses 0 (any operator above)    an indicator output
 *   no_source                                                  no source is fresh
 *   source NAME down|stale [for DURATION]                      a source's state
 *   diverges                                                   its sources disagree ([prices] divergence)
 * Options: cooldown=DURATION (5m), hysteresis=N or N%, once, repeat,
 *   simulator, message="TEXT" (words are split as a shell does).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "th-private.h"
#include "th-alerts-private.h"

#define DEFAULT_COOLDOWN (5 * 60 * G_USEC_PER_SEC)
#define MAX_ID_LENGTH    64
#define MAX_MESSAGE      1024

static const char *const kind_names[] = { "price", "change", "indicator", "no_source", "source", "diverges" };

const char *
th_alert_kind_to_string (ThAlertKind kind)
{
  return kind_names[kind];
}

void
th_alert_rule_free (ThAlertRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->id);
  g_free (rule->symbol);
  g_free (rule->condition);
  g_free (rule->message);
  g_free (rule->owner);
  g_free (rule->hysteresis_text);
  g_free (rule->output);
  g_free (rule->timeframe);
  g_free (rule->source);
  g_free (rule);
}

gboolean
th_alert_id_is_valid (const char *id)
{
  gsize len = strlen (id);

  if (len == 0 || len > MAX_ID_LENGTH)
    return FALSE;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return TRUE;
}

/* A duration: a number of seconds, or a number and s, m, h or d. */
static gboolean
parse_duration (const char  *text,
                const char  *what,
                gint64      *usec,
                GError     **error)
{
  char *end;
  double seconds;

  if (text[0] == '-')
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                   "%s “%s” is negative; give 0 or more, such as 30s, 10m or 1h", what, text);
      return FALSE;
    }
  seconds = g_ascii_strtod (text, &end);
  if (end != text && g_ascii_isdigit (text[0]) && isfinite (seconds) && seconds >= 0)
    {
      double unit = 0;

      switch (*end)
        {
        case '\0': unit = 1; break;
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: break;
        }
      if (unit > 0 && (*end == '\0' || end[1] == '\0') && seconds * unit <= 3650.0 * 86400)
        {
          *usec = (gint64) (seconds * unit * G_USEC_PER_SEC);
          return TRUE;
        }
    }
  g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
               "%s “%s” is not a duration; give seconds or a number and s, m, h or d, such as 30s, 10m or 1h",
               what, text);
  return FALSE;
}

static gboolean
parse_number (const char  *text,
              double      *value,
              gboolean    *percent)
{
  g_autofree char *copy = g_strdup (text);
  gsize len = strlen (copy);
  char *end;

  if (percent != NULL)
    *percent = FALSE;
  if (len > 1 && copy[len - 1] == '%' && percent != NULL)
    {
      copy[len - 1] = '\0';
      *percent = TRUE;
    }
  *value = g_ascii_strtod (copy, &end);
  return end != copy && *end == '\0' && isfinite (*value);
}

static gboolean
parse_op (const char *text,
          ThAlertOp  *op)
{
  static const struct { const char *name; ThAlertOp op; } ops[] = {
    { "above", TH_ALERT_OP_GT }, { ">", TH_ALERT_OP_GT }, { ">=", TH_ALERT_OP_GE },
    { "below", TH_ALERT_OP_LT }, { "<", TH_ALERT_OP_LT }, { "<=", TH_ALERT_OP_LE },
    { "crosses", TH_ALERT_OP_CROSS },
  };

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    if (g_ascii_strcasecmp (text, ops[i].name) == 0)
      {
        *op = ops[i].op;
        return TRUE;
      }
  return FALSE;
}

static gboolean
bad (GError    **error,
     const char *format,
     ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad (GError    **error,
     const char *format,
     ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_INPUT, msg);
  return FALSE;
}

#define CONDITIONS_HINT "write it like “above 50000”, “crosses 3000”, “change >= 5%% in 1h”, " \
                        "“rsi_14(1h) > 70”, “no_source”, “diverges” or “source binance down for 2m”"

/* The indicator output NAME and the timeframe of NAME(TF). */
static gboolean
parse_indicator (ThAlertContext *ctx,
                 const char     *text,
                 ThAlertRule    *rule,
                 GError        **error)
{
  const char *open = strchr (text, '(');
  gsize len = strlen (text);
  g_autofree char *name = NULL;
  g_autofree char *tf = NULL;
  gboolean known = FALSE;

  if (open == NULL || open == text || text[len - 1] != ')')
    return bad (error, "“%s” is not a condition; " CONDITIONS_HINT, text);
  name = g_strndup (text, open - text);
  tf = g_strndup (open + 1, len - (open - text) - 2);

  if (!g_strv_contains ((const char *const *) ctx->timeframes, tf))
    {
      g_autofree char *list = g_strjoinv (", ", ctx->timeframes);

      return bad (error, "“%s” names the timeframe “%s”, which is not in [tickhub] timeframes (%s); "
                  "use one of them", text, tf, list);
    }
  if (ctx->outputs != NULL)
    known = g_strv_contains ((const char *const *) ctx->outputs, name);
  else
    {
      /* Before the indicators are made (while the config loads): an
       * instance of [indicators], or one of its outputs (name_suffix). */
      for (guint i = 0; ctx->instances != NULL && ctx->instances[i] != NULL && !known; i++)
        {
          gsize n = strlen (ctx->instances[i]);

          known = g_str_equal (name, ctx->instances[i]) ||
                  (g_str_has_prefix (name, ctx->instances[i]) && name[n] == '_' && name[n + 1] != '\0');
        }
    }
  if (!known)
    {
      g_autofree char *list = NULL;

      if (ctx->outputs != NULL && ctx->outputs[0] != NULL)
        list = g_strjoinv (", ", ctx->outputs);
      else if (ctx->outputs == NULL && ctx->instances != NULL && ctx->instances[0] != NULL)
        list = g_strjoinv (", ", ctx->instances);
      return bad (error, "unknown indicator “%s”; %s%s", name,
                  list != NULL ? "the indicator outputs are " : "configure it in [indicators] first, such as rsi_14=rsi(14)",
                  list != NULL ? list : "");
    }
  rule->output = g_steal_pointer (&name);
  rule->timeframe = g_steal_pointer (&tf);
  return TRUE;
}

static gboolean
parse_threshold (const char  *text,
                 ThAlertRule *rule,
                 GError     **error)
{
  gboolean percent;

  if (!parse_number (text, &rule->threshold, &percent))
    return bad (error, "“%s” is not a number; write the threshold like 50000 or 0.5", text);
  if (percent && rule->kind != TH_ALERT_KIND_CHANGE)
    return bad (error, "“%s”: a percentage is only for change rules; write the threshold like 50000", text);
  if (rule->kind == TH_ALERT_KIND_PRICE && rule->threshold <= 0)
    return bad (error, "the price %s is not above 0; give a price such as 50000", text);
  return TRUE;
}

/* The condition, from @words[*i]; *i moves past it. */
static gboolean
parse_condition (ThAlertContext *ctx,
                 char          **words,
                 guint          *i,
                 ThAlertRule    *rule,
                 GError        **error)
{
  guint n = g_strv_length (words) - *i;
  char **w = words + *i;
  ThAlertOp op;

  if (n == 0)
    return bad (error, "no condition; " CONDITIONS_HINT);

  if (parse_op (w[0], &op) || g_ascii_strcasecmp (w[0], "price") == 0)
    {
      guint k = g_ascii_strcasecmp (w[0], "price") == 0 ? 1 : 0;

      if (n < k + 2 || !parse_op (w[k], &op))
        return bad (error, "“%s” needs a threshold; write it like “above 50000”", w[0]);
      rule->kind = TH_ALERT_KIND_PRICE;
      rule->op = op;
      if (!parse_threshold (w[k + 1], rule, error))
        return FALSE;
      *i += k + 2;
      return TRUE;
    }

  if (g_ascii_strcasecmp (w[0], "change") == 0)
    {
      gboolean percent;
      guint used;

      rule->kind = TH_ALERT_KIND_CHANGE;
      if (n < 5 || !parse_op (w[1], &op))
        return bad (error, "a change rule reads “change >= 5%% in 1h” or “change <= -3%% in 15m”");
      rule->op = op;
      if (!parse_number (w[2], &rule->threshold, &percent))
        return bad (error, "“%s” is not a percentage; write the change like 5%% or -3%%", w[2]);
      used = 3;
      if (!percent && g_str_equal (w[3], "%"))
        used = 4;
      if (n < used + 2 || g_ascii_strcasecmp (w[used], "in") != 0)
        return bad (error, "a change rule needs its window: “change >= 5%% in 1h”");
      if (!parse_duration (w[used + 1], "the window", &rule->window, error))
        return FALSE;
      if (rule->window < G_USEC_PER_SEC || rule->window > G_GINT64_CONSTANT (7) * 86400 * G_USEC_PER_SEC)
        return bad (error, "the window “%s” is not from 1 s to 7 d; give one such as 15m or 1h", w[used + 1]);
      *i += used + 2;
      return TRUE;
    }

  if (g_ascii_strcasecmp (w[0], "diverges") == 0)
    {
      rule->kind = TH_ALERT_KIND_DIVERGES;
      if (!ctx->divergence)
        return bad (error, "“diverges” needs the divergence check; set [prices] divergence (such as 1%%)");
      *i += 1;
      return TRUE;
    }

  if (g_ascii_strcasecmp (w[0], "no_source") == 0)
    {
      rule->kind = TH_ALERT_KIND_NO_SOURCE;
      *i += 1;
      return TRUE;
    }

  if (g_ascii_strcasecmp (w[0], "source") == 0)
    {
      rule->kind = TH_ALERT_KIND_SOURCE;
      if (n < 3)
        return bad (error, "a source rule reads “source binance down for 2m” (or stale)");
      if (!g_strv_contains ((const char *const *) ctx->sources, w[1]))
        {
          g_autofree char *list = g_strjoinv (", ", ctx->sources);

          return bad (error, "unknown source “%s”; the sources are %s", w[1], *list != '\0' ? list : "none");
        }
      rule->source = g_strdup (w[1]);
      if (g_ascii_strcasecmp (w[2], "down") == 0)
        rule->state = TH_SOURCE_STATE_DOWN;
      else if (g_ascii_strcasecmp (w[2], "stale") == 0)
        rule->state = TH_SOURCE_STATE_STALE;
      else
        return bad (error, "“%s”: a source rule watches for down or stale, such as “source %s down for 2m”",
                    w[2], w[1]);
      *i += 3;
      if (n >= 5 && g_ascii_strcasecmp (w[3], "for") == 0)
        {
          if (!parse_duration (w[4], "the duration", &rule->duration, error))
            return FALSE;
          *i += 2;
        }
      return TRUE;
    }

  if (strchr (w[0], '(') != NULL)
    {
      rule->kind = TH_ALERT_KIND_INDICATOR;
      if (!parse_indicator (ctx, w[0], rule, error))
        return FALSE;
      if (n < 3 || !parse_op (w[1], &op))
        return bad (error, "“%s” needs an operator and a value, such as “%s > 70” or “%s crosses 0”",
                    w[0], w[0], w[0]);
      rule->op = op;
      if (!parse_threshold (w[2], rule, error))
        return FALSE;
      *i += 3;
      return TRUE;
    }

  return bad (error, "“%s” is not a condition; " CONDITIONS_HINT, w[0]);
}

static gboolean
set_option_text (ThAlertRule *rule,
                 const char  *key,
                 const char  *value,
                 GError     **error)
{
  if (g_str_equal (key, "cooldown"))
    return parse_duration (value, "the cooldown", &rule->cooldown, error);
  if (g_str_equal (key, "hysteresis"))
    {
      gboolean percent;

      if (!parse_number (value, &rule->margin, &percent))
        return bad (error, "hysteresis “%s” is not a number; give a margin such as 100 or 0.5%%", value);
      if (rule->margin < 0)
        return bad (error, "hysteresis “%s” is negative; give 0 or more, such as 100 or 0.5%%", value);
      rule->margin_pct = percent;
      g_free (rule->hysteresis_text);
      rule->hysteresis_text = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "once") || g_str_equal (key, "simulator"))
    {
      gboolean on;

      if (g_str_equal (value, "true") || g_str_equal (value, "yes") || g_str_equal (value, "1"))
        on = TRUE;
      else if (g_str_equal (value, "false") || g_str_equal (value, "no") || g_str_equal (value, "0"))
        on = FALSE;
      else
        return bad (error, "%s=“%s” is not true or false", key, value);
      if (g_str_equal (key, "once"))
        rule->once = on;
      else
        rule->simulator = on;
      return TRUE;
    }
  if (g_str_equal (key, "message"))
    {
      if (strlen (value) > MAX_MESSAGE)
        return bad (error, "the message is longer than %d bytes; shorten it", MAX_MESSAGE);
      g_free (rule->message);
      rule->message = g_strdup (value);
      return TRUE;
    }
  if (g_str_equal (key, "id"))
    {
      if (!th_alert_id_is_valid (value))
        {
          g_autofree char *quoted = _th_utf8_excerpt (value, 80);

          return bad (error, "the id “%s” is not 1 to %d letters, digits, -, _ or .", quoted, MAX_ID_LENGTH);
        }
      g_free (rule->id);
      rule->id = g_strdup (value);
      return TRUE;
    }
  return bad (error, "unknown option “%s”; the options are cooldown=, hysteresis=, once, repeat, simulator "
              "and message=", key);
}

static gboolean
set_option_variant (ThAlertRule *rule,
                    const char  *key,
                    GVariant    *value,
                    GError     **error)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return set_option_text (rule, key, g_variant_get_string (value, NULL), error);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) &&
      (g_str_equal (key, "once") || g_str_equal (key, "simulator")))
    return set_option_text (rule, key, g_variant_get_boolean (value) ? "true" : "false", error);
  if ((g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE) || g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) ||
       g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) || g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32)) &&
      (g_str_equal (key, "cooldown") || g_str_equal (key, "hysteresis")))
    {
      double d = g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE) ? g_variant_get_double (value)
               : g_variant_is_of_type (value, G_VARIANT_TYPE_INT64) ? (double) g_variant_get_int64 (value)
               : g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) ? (double) g_variant_get_int32 (value)
               : (double) g_variant_get_uint32 (value);
      char buf[G_ASCII_DTOSTR_BUF_SIZE];

      if (!isfinite (d))
        return bad (error, "%s is not a finite number", key);
      return set_option_text (rule, key, g_ascii_dtostr (buf, sizeof buf, d), error);
    }
  if (g_str_equal (key, "symbol") || g_str_equal (key, "condition"))
    return TRUE;   /* the caller's own fields */
  return bad (error, "option “%s” has the wrong type (%s); cooldown and hysteresis take numbers or text, "
              "once and simulator true or false, message and id text", key, g_variant_get_type_string (value));
}

/* Parses @text: "SYMBOL CONDITION [OPTIONS]" when @symbol is NULL, else
 * "CONDITION [OPTIONS]"; @options (a{sv}, nullable) win over the text. */
ThAlertRule *
th_alert_rule_parse (ThAlertContext *ctx,
                     const char     *symbol,
                     const char     *text,
                     GVariant       *options,
                     GError        **error)
{
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) words = NULL;
  ThAlertRule *rule;
  guint i = 0, cond_start;
  int argc;

  if (text == NULL || *text == '\0' || strspn (text, " \t") == strlen (text))
    {
      if (symbol == NULL)
        bad (error, "no rule; write it like “BTC above 50000 cooldown=10m”");
      else
        bad (error, "no condition; " CONDITIONS_HINT);
      return NULL;
    }
  if (!g_shell_parse_argv (text, &argc, &words, &local))
    {
      g_autofree char *quoted = _th_utf8_excerpt (text, 200);

      bad (error, "cannot read “%s” (%s); put a message with spaces in double quotes, "
           "message=\"like this\"", quoted, local->message);
      return NULL;
    }

  rule = g_new0 (ThAlertRule, 1);
  rule->cooldown = DEFAULT_COOLDOWN;

  if (symbol == NULL)
    symbol = words[i++];
  if (!g_strv_contains ((const char *const *) ctx->symbols, symbol))
    {
      g_autofree char *list = g_strjoinv (", ", ctx->symbols);
      g_autofree char *quoted = _th_utf8_excerpt (symbol, 32);

      g_set_error (error, TH_ERROR, TH_ERROR_UNKNOWN_SYMBOL,
                   "unknown symbol “%s”; the symbols are %s (in [tickhub] symbols)", quoted, list);
      th_alert_rule_free (rule);
      return NULL;
    }
  rule->symbol = g_strdup (symbol);

  cond_start = i;
  if (!parse_condition (ctx, words, &i, rule, error))
    {
      th_alert_rule_free (rule);
      return NULL;
    }
  {
    g_autofree char *joined = NULL;
    char *saved = words[i];

    words[i] = NULL;
    joined = g_strjoinv (" ", words + cond_start);
    words[i] = saved;
    rule->condition = g_steal_pointer (&joined);
  }

  for (; words[i] != NULL; i++)
    {
      const char *eq = strchr (words[i], '=');
      g_autofree char *key = eq != NULL ? g_strndup (words[i], eq - words[i]) : g_strdup (words[i]);
      const char *value = eq != NULL ? eq + 1 : NULL;

      if (value == NULL && (g_str_equal (key, "once") || g_str_equal (key, "simulator")))
        value = "true";
      else if (value == NULL && g_str_equal (key, "repeat"))
        {
          g_free (key);
          key = g_strdup ("once");
          value = "false";
        }
      if (value == NULL)
        {
          bad (error, "“%s” after the condition is not an option; the options are cooldown=10m, "
               "hysteresis=100 (or 0.5%%), once, repeat, simulator and message=\"...\"", words[i]);
          th_alert_rule_free (rule);
          return NULL;
        }
      if (!set_option_text (rule, key, value, error))
        {
          th_alert_rule_free (rule);
          return NULL;
        }
    }

  if (options != NULL)
    {
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_iter_init (&iter, options);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          gboolean ok = set_option_variant (rule, key, value, error);

          g_variant_unref (value);
          if (!ok)
            {
              th_alert_rule_free (rule);
              return NULL;
            }
        }
    }

  if (rule->margin > 0 && (rule->kind == TH_ALERT_KIND_NO_SOURCE || rule->kind == TH_ALERT_KIND_SOURCE ||
                           rule->kind == TH_ALERT_KIND_DIVERGES))
    {
      bad (error, "hysteresis is for rules on a price, a change or an indicator; remove it");
      th_alert_rule_free (rule);
      return NULL;
    }
  return rule;
}

/* The rule as a{sv} (th-alerts.c's ThAlerts documentation). */
GVariant *
th_alert_rule_to_variant (const ThAlertRule *rule)
{
  GVariantDict dict;

  g_variant_dict_init (&dict, NULL);
  g_variant_dict_insert (&dict, "id", "s", rule->id);
  g_variant_dict_insert (&dict, "symbol", "s", rule->symbol);
  g_variant_dict_insert (&dict, "condition", "s", rule->condition);
  g_variant_dict_insert (&dict, "kind", "s", th_alert_kind_to_string (rule->kind));
  g_variant_dict_insert (&dict, "cooldown", "d", rule->cooldown / (double) G_USEC_PER_SEC);
  g_variant_dict_insert (&dict, "hysteresis", "s", rule->hysteresis_text != NULL ? rule->hysteresis_text : "0");
  g_variant_dict_insert (&dict, "once", "b", rule->once);
  g_variant_dict_insert (&dict, "simulator", "b", rule->simulator);
  if (rule->message != NULL)
    g_variant_dict_insert (&dict, "message", "s", rule->message);
  g_variant_dict_insert (&dict, "owner", "s", rule->owner != NULL ? rule->owner : "admin");
  g_variant_dict_insert (&dict, "fired", "t", rule->fired);
  return g_variant_dict_end (&dict);
}
