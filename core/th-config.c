/* th-config.c: the keyfile, its lookup and its checking
 *
 * A value may be followed by a comment: a `#` after whitespace ends the
 * value (`plugins=a;b   # the feeds`), so the examples of the documentation
 * can be pasted as they are. Lists are separated by `;`.
 *
 * Before GKeyFile parses the text, check_text() reads it once, line by
 * line, for what GKeyFile would accept without a word: a NUL byte, a group
 * or a key given twice, a localized key. Each is an error naming the line.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "th-private.h"

struct _ThConfig
{
  GObject   parent_instance;
  GKeyFile *key_file;
  char     *path;
};

/**
 * ThConfig:
 *
 * The configuration of a hub: a #GKeyFile with tickhub's conventions.
 *
 * th_config_find_file() finds the file in the XDG configuration
 * directories; loading strips inline comments (a `#` after whitespace ends
 * a value), so the examples of the documentation can be pasted as they
 * are, and refuses a key or a group given twice, a NUL byte and localized
 * keys, which GKeyFile would take silently. The typed getters return the
 * default they are given when a key is absent or malformed: they never
 * fail. Checking is the hub's job:
 * th_hub_load() checks the core groups, each plugin's group against the
 * key types its `.plugin` file declares, and the plugins' own `configure`
 * vfuncs, then reports every problem at once. A plugin reads its own group,
 * named after its module, through th_hub_get_config().
 */
G_DEFINE_FINAL_TYPE (ThConfig, th_config, G_TYPE_OBJECT)

static void
th_config_finalize (GObject *object)
{
  ThConfig *self = TH_CONFIG (object);

  g_clear_pointer (&self->key_file, g_key_file_unref);
  g_clear_pointer (&self->path, g_free);
  G_OBJECT_CLASS (th_config_parent_class)->finalize (object);
}

static void
th_config_class_init (ThConfigClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = th_config_finalize;
}

static void
th_config_init (ThConfig *self)
{
  self->key_file = g_key_file_new ();
}

/**
 * th_config_new:
 *
 * Creates an empty configuration, without a path: every getter returns its
 * default until th_config_load_from_file() or th_config_load_from_data()
 * fills it, or th_config_set_string() sets a value.
 *
 * Returns: (transfer full): an empty configuration
 */
ThConfig *
th_config_new (void)
{
  return g_object_new (TH_TYPE_CONFIG, NULL);
}

/* Cuts `  # comment` off every line, keeping the line count. */
static char *
strip_inline_comments (const char *data,
                       gsize       length)
{
  GString *out = g_string_sized_new (length + 1);
  const char *p = data;
  const char *end = data + length;

  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      const char *line_end = eol != NULL ? eol : end;
      const char *q = p;
      const char *cut = line_end;

      while (q < line_end && (*q == ' ' || *q == '\t'))
        q++;

      if (q < line_end && *q != '#')
        {
          for (const char *r = q + 1; r < line_end; r++)
            if (*r == '#' && (r[-1] == ' ' || r[-1] == '\t'))
              {
                cut = r;
                break;
              }
          while (cut > q && (cut[-1] == ' ' || cut[-1] == '\t' || cut[-1] == '\r'))
            cut--;
        }

      g_string_append_len (out, p, cut - p);
      g_string_append_c (out, '\n');
      p = eol != NULL ? eol + 1 : end;
    }

  return g_string_free (out, FALSE);
}

/* Past this, the problems of the text are counted, not listed. */
#define MAX_TEXT_PROBLEMS 20

typedef struct
{
  char       *name;
  guint       line;     /* where the group first appears */
  GHashTable *keys;     /* key → GUINT_TO_POINTER (the line that set it first) */
} SeenGroup;

static void
seen_group_free (gpointer data)
{
  SeenGroup *group = data;

  g_free (group->name);
  g_hash_table_unref (group->keys);
  g_free (group);
}

typedef struct
{
  const char *name;     /* the file, or "config" */
  GPtrArray  *problems; /* "name:line: [group] key: what; the fix" */
  guint       more;     /* past MAX_TEXT_PROBLEMS */
} TextCheck;

static void
text_problem (TextCheck  *check,
              guint       line,
              const char *format,
              ...) G_GNUC_PRINTF (3, 4);

static void
text_problem (TextCheck  *check,
              guint       line,
              const char *format,
              ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  if (check->problems->len >= MAX_TEXT_PROBLEMS)
    {
      check->more++;
      return;
    }

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (check->problems, g_strdup_printf ("%s:%u: %s", check->name, line, msg));
}

/* What GKeyFile accepts without a word, each an error here that names the
 * line, the group and the key:
 *
 *  - a NUL byte: GKeyFile reads text, and the text would end there;
 *  - a group given twice: GKeyFile merges the two, so a key far below
 *    silently overrides one of the first; one group per name;
 *  - a key given twice in a group: GKeyFile keeps the last value;
 *  - a localized key, `plugins[de]=`: GKeyFile keeps it or drops it
 *    depending on the locale the program runs in; tickhub reads plain keys;
 *  - a line that is not UTF-8 (GKeyFile takes such group names and keys).
 *
 * One pass over the lines, split as GKeyFile splits them: leading
 * whitespace and a trailing \r do not count, `#` starts a comment line, a
 * group is what lies between `[` and the first `]`, a key is what comes
 * before the first `=` without trailing whitespace. Lines GKeyFile refuses
 * are left to it. Hash tables: O(length). */
static gboolean
check_text (const char  *data,
            gsize        length,
            const char  *name,
            GError     **error)
{
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, seen_group_free);
  TextCheck check = { name, problems, 0 };
  SeenGroup *group = NULL;
  const char *p = data;
  const char *end = data + length;
  guint line = 0;

  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      const char *line_end = eol != NULL ? eol : end;
      const char *nul = memchr (p, '\0', line_end - p);
      const char *start = p;
      const char *equals = NULL;
      g_autofree char *key = NULL;

      line++;
      p = eol != NULL ? eol + 1 : end;

      if (line_end > start && line_end[-1] == '\r')
        line_end--;
      while (start < line_end && g_ascii_isspace (*start))
        start++;

      /* GKeyFile checks that values are UTF-8 only when they are read,
       * and group names and keys never: a name that is not would end up
       * in problems, logs and D-Bus replies, which must be UTF-8. */
      if (!g_utf8_validate_len (start, (nul != NULL ? nul : line_end) - start, NULL))
        {
          text_problem (&check, line, "the line is not UTF-8 text; save the file as UTF-8");
          continue;
        }

      if (start < line_end && *start == '[')
        {
          const char *close = memchr (start, ']', line_end - start);

          if (close != NULL)
            {
              g_autofree char *found = g_strndup (start + 1, close - (start + 1));
              SeenGroup *seen = g_hash_table_lookup (groups, found);

              if (nul != NULL)
                text_problem (&check, line, "[%s]: a NUL byte would cut the file short there; remove it", found);
              if (seen != NULL)
                text_problem (&check, line,
                              "[%s]: the group is given again (first on line %u); put all its keys in one [%s]",
                              found, seen->line, found);
              else
                {
                  seen = g_new0 (SeenGroup, 1);
                  seen->name = g_steal_pointer (&found);
                  seen->line = line;
                  seen->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
                  g_hash_table_insert (groups, seen->name, seen);
                }
              group = seen;
              continue;
            }
        }

      if (start < line_end && *start != '#')
        equals = memchr (start, '=', line_end - start);
      if (equals != NULL)
        {
          const char *key_end = equals;

          while (key_end > start && g_ascii_isspace (key_end[-1]))
            key_end--;
          if (key_end > start)
            key = g_strndup (start, key_end - start);
        }

      if (nul != NULL)
        {
          if (group != NULL && key != NULL && nul > equals)
            text_problem (&check, line, "[%s] %s: a NUL byte in the value would cut the file short there; remove it",
                          group->name, key);
          else if (group != NULL)
            text_problem (&check, line, "[%s]: a NUL byte would cut the file short there; remove it", group->name);
          else
            text_problem (&check, line, "a NUL byte would cut the file short there; remove it");
        }

      /* A key before any group is GKeyFile's to report. */
      if (key == NULL || group == NULL)
        continue;

      if (g_str_has_suffix (key, "]") && strchr (key, '[') != NULL)
        {
          const char *locale = strchr (key, '[');
          g_autofree char *plain = g_strndup (key, locale - key);

          text_problem (&check, line, "[%s] %s: a localized key, which tickhub does not read; write %s= without %s",
                        group->name, key, plain, locale);
        }
      else if (g_hash_table_contains (group->keys, key))
        text_problem (&check, line, "[%s] %s: the key is given again (first on line %u); keep one of them",
                      group->name, key, GPOINTER_TO_UINT (g_hash_table_lookup (group->keys, key)));
      else
        g_hash_table_insert (group->keys, g_steal_pointer (&key), GUINT_TO_POINTER (line));
    }

  if (problems->len == 0)
    return TRUE;

  if (check.more > 0)
    g_ptr_array_add (problems, g_strdup_printf ("%s: and %u more problem%s of these kinds", name, check.more,
                                                check.more == 1 ? "" : "s"));
  g_ptr_array_add (problems, NULL);
  {
    g_autofree char *msg = g_strjoinv ("\n", (char **) problems->pdata);

    g_set_error_literal (error, TH_ERROR, TH_ERROR_BAD_CONFIG, msg);
  }
  return FALSE;
}

/**
 * th_config_load_from_data:
 * @self: a #ThConfig
 * @data: keyfile text
 * @length: length of @data, or -1 if NUL-terminated
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Replaces the configuration with @data. Only the text is checked here:
 * its syntax, and what GKeyFile would accept silently, each an error
 * naming its line, the group and the key (`FILE:LINE: [group] key: what;
 * the fix`, one line per problem): a key given twice in a group, a group
 * given twice, a NUL byte (give @length to have one seen), a localized
 * key such as `plugins[de]`. The hub checks the groups, keys and values
 * when it loads. On an error the values stay as they were.
 *
 * Returns: %TRUE on success
 */
gboolean
th_config_load_from_data (ThConfig    *self,
                          const char  *data,
                          gssize       length,
                          GError     **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *clean = NULL;

  g_return_val_if_fail (TH_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (data != NULL, FALSE);

  if (length < 0)
    length = strlen (data);

  if (!check_text (data, length, self->path != NULL ? self->path : "config", error))
    return FALSE;

  clean = strip_inline_comments (data, length);
  if (!g_key_file_load_from_data (kf, clean, -1, G_KEY_FILE_NONE, &local_error))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "%s: %s",
                   self->path != NULL ? self->path : "config", local_error->message);
      return FALSE;
    }

  g_key_file_unref (self->key_file);
  self->key_file = g_steal_pointer (&kf);
  return TRUE;
}

/**
 * th_config_load_from_file:
 * @self: a #ThConfig
 * @path: (type filename): a keyfile
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Reads @path and replaces the configuration with its contents, as
 * th_config_load_from_data() does. The path, made absolute, is remembered
 * for th_config_get_path(): plugins resolve relative file names against its
 * folder. A file that cannot be read or is not a valid keyfile is a
 * %TH_ERROR_BAD_CONFIG error, and the values stay as they were.
 *
 * Returns: %TRUE on success
 */
gboolean
th_config_load_from_file (ThConfig    *self,
                          const char  *path,
                          GError     **error)
{
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize length;

  g_return_val_if_fail (TH_IS_CONFIG (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &data, &length, &local_error))
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG, "cannot read config: %s", local_error->message);
      return FALSE;
    }

  g_free (self->path);
  /* Absolute: plugins resolve relative paths against its folder. */
  self->path = g_canonicalize_filename (path, NULL);
  return th_config_load_from_data (self, data, length, error);
}

const char *
_th_get_data_dir (void)
{
  const char *env = g_getenv ("TICKHUB_DATADIR");

  return env != NULL && *env != '\0' ? env : TH_PKGDATADIR;
}

/**
 * th_config_find_file:
 *
 * Looks for `tickhub/tickhub.conf` in `$XDG_CONFIG_HOME`, then in each of
 * `$XDG_CONFIG_DIRS`, then falls back to the shipped default
 * (`$TICKHUB_DATADIR/tickhub.conf` when set, for uninstalled runs).
 *
 * Returns: (transfer full) (type filename): the path of the first that exists
 */
char *
th_config_find_file (void)
{
  g_autofree char *user = g_build_filename (g_get_user_config_dir (), "tickhub", "tickhub.conf", NULL);
  const char *const *dirs = g_get_system_config_dirs ();

  if (g_file_test (user, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&user);

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], "tickhub", "tickhub.conf", NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&path);
    }

  return g_build_filename (_th_get_data_dir (), "tickhub.conf", NULL);
}

/**
 * th_config_get_path:
 * @self: a #ThConfig
 *
 * The file given to th_config_load_from_file(), as an absolute path.
 *
 * Returns: (nullable) (type filename): the file the config was loaded from,
 *   or %NULL if it was never loaded from a file
 */
const char *
th_config_get_path (ThConfig *self)
{
  g_return_val_if_fail (TH_IS_CONFIG (self), NULL);
  return self->path;
}

/**
 * th_config_get_key_file:
 * @self: a #ThConfig
 *
 * The keyfile that holds the values, for what the typed getters do not
 * cover, such as listing the groups or the keys of a group. Its values are
 * as loaded, with inline comments already removed. Each successful load
 * replaces it with a new one: do not keep it across a load.
 *
 * Returns: (transfer none): the underlying keyfile
 */
GKeyFile *
th_config_get_key_file (ThConfig *self)
{
  g_return_val_if_fail (TH_IS_CONFIG (self), NULL);
  return self->key_file;
}

/**
 * th_config_has_group:
 * @self: a #ThConfig
 * @group: a group name
 *
 * Checks whether the configuration has a `[group]` group, even an empty
 * one.
 *
 * Returns: whether @group is present
 */
gboolean
th_config_has_group (ThConfig   *self,
                     const char *group)
{
  g_return_val_if_fail (TH_IS_CONFIG (self), FALSE);
  return g_key_file_has_group (self->key_file, group);
}

/**
 * th_config_has_key:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 *
 * Checks whether @key is set in @group, whatever its value, an empty one
 * included.
 *
 * Returns: whether @key is set in @group
 */
gboolean
th_config_has_key (ThConfig   *self,
                   const char *group,
                   const char *key)
{
  g_return_val_if_fail (TH_IS_CONFIG (self), FALSE);
  return g_key_file_has_key (self->key_file, group, key, NULL);
}

static char *
raw_value (ThConfig   *self,
           const char *group,
           const char *key)
{
  char *value = g_key_file_get_value (self->key_file, group, key, NULL);

  return value != NULL ? g_strstrip (value) : NULL;
}

/**
 * th_config_get_string:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 * @default_value: (nullable): returned when the key is absent or empty
 *
 * Reads a value as text, with surrounding whitespace removed. An empty
 * value counts as absent.
 *
 * Returns: (transfer full) (nullable): the value, without surrounding spaces,
 *   or a copy of @default_value (%NULL when @default_value is %NULL); free
 *   it with g_free()
 */
char *
th_config_get_string (ThConfig   *self,
                      const char *group,
                      const char *key,
                      const char *default_value)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (TH_IS_CONFIG (self), NULL);

  value = raw_value (self, group, key);
  if (value == NULL || *value == '\0')
    return g_strdup (default_value);
  return g_steal_pointer (&value);
}

/* Items are found with strchr(), not g_strsplit(): the sanitizers'
 * strstr() measures the rest of the string at every item, which makes a
 * list of 100,000 symbols take minutes under ASan. */
static char **
split_list (const char *value)
{
  GPtrArray *items = g_ptr_array_new ();
  const char *p = value;

  for (;;)
    {
      const char *semi = strchr (p, ';');
      const char *end = semi != NULL ? semi : p + strlen (p);

      while (p < end && g_ascii_isspace (*p))
        p++;
      while (end > p && g_ascii_isspace (end[-1]))
        end--;
      if (end > p)
        g_ptr_array_add (items, g_strndup (p, end - p));
      if (semi == NULL)
        break;
      p = semi + 1;
    }
  g_ptr_array_add (items, NULL);
  return (char **) g_ptr_array_free (items, FALSE);
}

/**
 * th_config_get_string_list:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 *
 * A `;`-separated list, each item stripped, empty items dropped.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the items,
 *   or %NULL when the key is absent
 */
char **
th_config_get_string_list (ThConfig   *self,
                           const char *group,
                           const char *key)
{
  g_autofree char *value = NULL;

  g_return_val_if_fail (TH_IS_CONFIG (self), NULL);

  value = raw_value (self, group, key);
  if (value == NULL)
    return NULL;
  return split_list (value);
}

static gboolean
parse_boolean (const char *value,
               gboolean   *out)
{
  if (g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0 ||
      g_strcmp0 (value, "1") == 0 || g_ascii_strcasecmp (value, "on") == 0)
    return *out = TRUE, TRUE;
  if (g_ascii_strcasecmp (value, "false") == 0 || g_ascii_strcasecmp (value, "no") == 0 ||
      g_strcmp0 (value, "0") == 0 || g_ascii_strcasecmp (value, "off") == 0)
    return *out = FALSE, TRUE;
  return FALSE;
}

static gboolean
parse_double (const char *value,
              double     *out)
{
  char *end = NULL;
  double d;

  errno = 0;
  d = g_ascii_strtod (value, &end);
  if (end == value || *end != '\0' || errno != 0 || !isfinite (d))
    return FALSE;
  *out = d;
  return TRUE;
}

/**
 * th_config_get_boolean:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 * @default_value: returned when the key is absent or not a boolean
 *
 * Accepts true/false, yes/no, on/off and 1/0.
 *
 * Returns: the value
 */
gboolean
th_config_get_boolean (ThConfig   *self,
                       const char *group,
                       const char *key,
                       gboolean    default_value)
{
  g_autofree char *value = raw_value (self, group, key);
  gboolean b;

  if (value == NULL || !parse_boolean (value, &b))
    return default_value;
  return b;
}

/**
 * th_config_get_int:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 * @default_value: returned when the key is absent or not an integer
 *
 * Reads a signed 64-bit decimal integer: an optional sign and digits,
 * nothing else (`10`, `-3`; not `1e3`, `0x10` or `10 s`).
 *
 * Returns: the value, or @default_value
 */
gint64
th_config_get_int (ThConfig   *self,
                   const char *group,
                   const char *key,
                   gint64      default_value)
{
  g_autofree char *value = raw_value (self, group, key);
  gint64 i;

  if (value == NULL || !g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &i, NULL))
    return default_value;
  return i;
}

/**
 * th_config_get_double:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 * @default_value: returned when the key is absent or not a number
 *
 * Reads a finite number, written with a `.` whatever the locale (`1.5`,
 * `2e-3`). NaN and infinities are not numbers here.
 *
 * Returns: the value, or @default_value
 */
double
th_config_get_double (ThConfig   *self,
                      const char *group,
                      const char *key,
                      double      default_value)
{
  g_autofree char *value = raw_value (self, group, key);
  double d;

  if (value == NULL || !parse_double (value, &d))
    return default_value;
  return d;
}

/**
 * th_config_set_string:
 * @self: a #ThConfig
 * @group: a group name
 * @key: a key name
 * @value: the value
 *
 * Sets a value, as if it had been in the file.
 */
void
th_config_set_string (ThConfig   *self,
                      const char *group,
                      const char *key,
                      const char *value)
{
  g_return_if_fail (TH_IS_CONFIG (self));
  g_key_file_set_value (self->key_file, group, key, value);
}

/**
 * th_parse_timeframe:
 * @text: a timeframe: a positive integer and a unit, `s`, `m`, `h` or `d`
 *   (`15s`, `1m`, `4h`, `1d`)
 * @duration: (out) (optional): the length in µs
 * @error: return location for a %TH_ERROR_BAD_CONFIG error
 *
 * Parses a timeframe as written in `[tickhub] timeframes`. The number is 1
 * or more, without a sign, spaces or decimals, and the whole timeframe is
 * at most 3650 days.
 *
 * Returns: %TRUE if @text is a timeframe; otherwise %FALSE, with @error
 *   set and @duration untouched
 */
gboolean
th_parse_timeframe (const char *text,
                    gint64     *duration,
                    GError    **error)
{
  gsize len;
  guint64 n;
  gint64 unit;
  g_autofree char *digits = NULL;

  g_return_val_if_fail (text != NULL, FALSE);

  len = strlen (text);
  if (len < 2)
    goto bad;

  switch (text[len - 1])
    {
    case 's': unit = G_USEC_PER_SEC; break;
    case 'm': unit = G_GINT64_CONSTANT (60) * G_USEC_PER_SEC; break;
    case 'h': unit = G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC; break;
    case 'd': unit = G_GINT64_CONSTANT (86400) * G_USEC_PER_SEC; break;
    default: goto bad;
    }

  digits = g_strndup (text, len - 1);
  if (!g_ascii_isdigit (digits[0]) ||
      !g_ascii_string_to_unsigned (digits, 10, 1, G_GINT64_CONSTANT (3650) * 86400, &n, NULL) ||
      (gint64) n * unit > G_GINT64_CONSTANT (3650) * 86400 * G_USEC_PER_SEC)
    goto bad;

  if (duration != NULL)
    *duration = (gint64) n * unit;
  return TRUE;

bad:
  g_set_error (error, TH_ERROR, TH_ERROR_BAD_CONFIG,
               "“%s” is not a timeframe; use a number and s, m, h or d, such as 30s, 1m, 4h or 1d",
               text);
  return FALSE;
}

/**
 * th_format_timeframe:
 * @duration: a length in µs
 *
 * Names a timeframe, the inverse of th_parse_timeframe(): @duration in the
 * largest of `d`, `h`, `m` and `s` that divides it. Only whole seconds
 * count: a remainder below a second is dropped, and a @duration under a
 * second gives `0s`, which th_parse_timeframe() does not accept.
 *
 * Returns: (transfer full): the shortest timeframe name for @duration,
 *   such as `1m` for 60 s or `90s` for 90 s
 */
char *
th_format_timeframe (gint64 duration)
{
  gint64 s = duration / G_USEC_PER_SEC;

  if (s > 0 && s % 86400 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "d", s / 86400);
  if (s > 0 && s % 3600 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h", s / 3600);
  if (s > 0 && s % 60 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", s / 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", s);
}

/* `name(arg, arg)` or `name` → name and args. */
gboolean
_th_parse_call (const char  *text,
                char       **name,
                char      ***args)
{
  const char *open = strchr (text, '(');
  g_autofree char *head = NULL;

  if (open == NULL)
    {
      head = g_strstrip (g_strdup (text));
      if (*head == '\0')
        return FALSE;
      for (const char *p = head; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
          return FALSE;
      *name = g_steal_pointer (&head);
      *args = g_new0 (char *, 1);
      return TRUE;
    }
  else
    {
      const char *close = strrchr (text, ')');
      g_autofree char *inner = NULL;
      g_auto(GStrv) parts = NULL;
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      if (close == NULL || close < open)
        return FALSE;
      for (const char *p = close + 1; *p; p++)
        if (!g_ascii_isspace (*p))
          return FALSE;

      head = g_strstrip (g_strndup (text, open - text));
      if (*head == '\0')
        return FALSE;
      for (const char *p = head; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
          return FALSE;

      inner = g_strstrip (g_strndup (open + 1, close - open - 1));
      if (*inner != '\0')
        {
          parts = g_strsplit (inner, ",", -1);
          for (guint i = 0; parts[i] != NULL; i++)
            {
              g_strstrip (parts[i]);
              if (*parts[i] == '\0')
                return FALSE;
              g_strv_builder_add (builder, parts[i]);
            }
        }

      *name = g_steal_pointer (&head);
      *args = g_strv_builder_end (builder);
      return TRUE;
    }
}

static void
problem (GPtrArray  *problems,
         const char *group,
         const char *key,
         const char *format,
         ...) G_GNUC_PRINTF (4, 5);

static void
problem (GPtrArray  *problems,
         const char *group,
         const char *key,
         const char *format,
         ...)
{
  va_list args;
  g_autofree char *msg = NULL;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  if (key != NULL)
    g_ptr_array_add (problems, g_strdup_printf ("[%s] %s: %s", group, key, msg));
  else
    g_ptr_array_add (problems, g_strdup_printf ("[%s]: %s", group, msg));
}

static gboolean
is_name (const char *s)
{
  if (s == NULL || !g_ascii_isalpha (*s))
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_' && *s != '-')
      return FALSE;
  return TRUE;
}

static gboolean
key_in_spec (const char *spec,
             const char *key,
             char      **type)
{
  g_auto(GStrv) entries = g_strsplit (spec, ",", -1);
  g_autofree char *any = NULL;

  for (guint i = 0; entries[i] != NULL; i++)
    {
      char *colon = strchr (entries[i], ':');
      g_autofree char *name = g_strstrip (colon != NULL ? g_strndup (entries[i], colon - entries[i]) : g_strdup (entries[i]));

      if (g_strcmp0 (name, key) == 0)
        {
          *type = g_strstrip (g_strdup (colon != NULL ? colon + 1 : "string"));
          return TRUE;
        }
      /* `*:type`: any other key (the plugin checks them, such as the
       * rules of [alerts]). */
      if (g_str_equal (name, "*") && any == NULL)
        any = g_strstrip (g_strdup (colon != NULL ? colon + 1 : "string"));
    }
  if (any != NULL)
    {
      *type = g_steal_pointer (&any);
      return TRUE;
    }
  return FALSE;
}

static char *
spec_keys (const char *spec)
{
  g_auto(GStrv) entries = g_strsplit (spec, ",", -1);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; entries[i] != NULL; i++)
    {
      char *colon = strchr (entries[i], ':');
      g_autofree char *name = g_strstrip (colon != NULL ? g_strndup (entries[i], colon - entries[i]) : g_strdup (entries[i]));

      if (*name == '\0' || g_str_equal (name, "*"))
        continue;
      if (out->len > 0)
        g_string_append (out, ", ");
      g_string_append (out, name);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
check_value (ThConfig   *self,
             const char *group,
             const char *key,
             const char *type,
             GPtrArray  *problems)
{
  g_autofree char *value = raw_value (self, group, key);
  double d;
  gboolean b;
  gint64 i;

  if (value == NULL)
    return;

  if (g_str_equal (type, "string") || g_str_equal (type, "list"))
    return;

  if (g_str_equal (type, "bool"))
    {
      if (!parse_boolean (value, &b))
        problem (problems, group, key, "“%s” is not a boolean; use true or false", value);
    }
  else if (g_str_equal (type, "int") || g_str_equal (type, "uint"))
    {
      gint64 min = g_str_equal (type, "uint") ? 0 : G_MININT64;

      if (!g_ascii_string_to_signed (value, 10, min, G_MAXINT64, &i, NULL))
        problem (problems, group, key, "“%s” is not %s; use a whole number such as 10",
                 value, min == 0 ? "a whole number ≥ 0" : "a whole number");
    }
  else if (g_str_equal (type, "number"))
    {
      if (!parse_double (value, &d))
        problem (problems, group, key, "“%s” is not a number; use a number such as 1.5", value);
    }
  else if (g_str_equal (type, "seconds"))
    {
      if (!parse_double (value, &d) || d < 0)
        problem (problems, group, key, "“%s” is not a duration; use a number of seconds ≥ 0 such as 10 or 0.5", value);
    }
  else if (g_str_equal (type, "url") || g_str_equal (type, "ws-url") || g_str_equal (type, "http-url"))
    {
      g_autoptr(GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
      const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
      gboolean ws = scheme != NULL && (g_str_equal (scheme, "ws") || g_str_equal (scheme, "wss"));
      gboolean http = scheme != NULL && (g_str_equal (scheme, "http") || g_str_equal (scheme, "https"));

      if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
        problem (problems, group, key, "“%s” is not a URL; use a full URL such as wss://host:port/path", value);
      else if (g_str_equal (type, "ws-url") && !ws)
        problem (problems, group, key, "“%s” is not a ws:// or wss:// URL", value);
      else if (g_str_equal (type, "http-url") && !http)
        problem (problems, group, key, "“%s” is not an http:// or https:// URL", value);
    }
  else if (g_str_equal (type, "path"))
    {
      if (*value == '\0')
        problem (problems, group, key, "empty path; give a file name, or - for standard output where allowed");
    }
  else if (g_str_equal (type, "timeframe"))
    {
      g_autoptr(GError) error = NULL;

      if (!th_parse_timeframe (value, NULL, &error))
        problem (problems, group, key, "%s", error->message);
    }
  else if (g_str_has_prefix (type, "enum(") && g_str_has_suffix (type, ")"))
    {
      g_autofree char *inner = g_strndup (type + 5, strlen (type) - 6);
      g_auto(GStrv) choices = g_strsplit (inner, "|", -1);
      g_autofree char *list = g_strjoinv (", ", choices);

      if (!g_strv_contains ((const char *const *) choices, value))
        problem (problems, group, key, "“%s” is not one of %s", value, list);
    }
  else
    g_warning ("[%s] %s: the plugin declares an unknown type “%s”", group, key, type);
}

/**
 * _th_config_check_group:
 * @spec: `key:type,key:type`; types are string, list, bool, int, uint,
 *   number, seconds, url, ws-url, http-url, path, timeframe, enum(a|b)
 *
 * Checks every key of @group against @spec.
 */
void
_th_config_check_group (ThConfig   *self,
                        const char *group,
                        const char *spec,
                        GPtrArray  *problems)
{
  g_auto(GStrv) keys = NULL;

  if (!g_key_file_has_group (self->key_file, group))
    return;

  keys = g_key_file_get_keys (self->key_file, group, NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *type = NULL;

      if (!key_in_spec (spec, keys[i], &type))
        {
          g_autofree char *known = spec_keys (spec);

          if (*known == '\0')
            problem (problems, group, keys[i], "unknown key; this group takes no keys, remove it");
          else
            problem (problems, group, keys[i], "unknown key; the keys of [%s] are %s", group, known);
          continue;
        }
      check_value (self, group, keys[i], type, problems);
    }
}

static void
check_symbol_spec (const char *group,
                   const char *key,
                   const char *value,
                   GPtrArray  *problems)
{
  g_auto(GStrv) items = split_list (value);

  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *colon = strchr (items[i], ':');

      if (colon == NULL || colon == items[i] || colon[1] == '\0')
        problem (problems, group, key, "“%s” is not venue:code; give each venue as its feed's name, a colon "
                 "and the venue's code of the symbol, such as myfeed:BTC-USD;otherfeed:bitcoin", items[i]);
    }
}

/* [prices] divergence: `1%`, `0.5%` or `50bps`; `0`, `off` or empty turn
 * it off (@bps 0). */
gboolean
_th_parse_divergence (const char  *text,
                      double      *bps,
                      GError     **error)
{
  g_autofree char *s = g_strstrip (g_strdup (text != NULL ? text : ""));
  char *end = NULL;
  double v;

  *bps = 0;
  if (*s == '\0' || g_str_equal (s, "off") || g_str_equal (s, "0"))
    return TRUE;
  v = g_ascii_strtod (s, &end);
  if (end == s || !isfinite (v) || v <= 0)
    goto bad;
  while (*end == ' ')
    end++;
  if (g_str_equal (end, "%"))
    v *= 100;
  else if (!g_str_equal (end, "bps") && !g_str_equal (end, "bp"))
    goto bad;
  if (v > 10000)
    {
      g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
                   "“%s” is more than 100%%; use a threshold such as 1%% or 50bps", s);
      return FALSE;
    }
  *bps = v;
  return TRUE;

bad:
  g_set_error (error, TH_ERROR, TH_ERROR_BAD_INPUT,
               "“%s” is not a threshold; use a percentage such as 1%% or basis points such as 50bps "
               "(off: 0)", s);
  return FALSE;
}

void
_th_config_check_core (ThConfig  *self,
                       GPtrArray *problems)
{
  _th_config_check_group (self, "tickhub",
                          "plugins:list,symbols:list,quote:string,timeframes:list,plugin-dirs:list,history:uint,warmup:uint,backfill:string",
                          problems);
  _th_config_check_group (self, "prices", "order:list,order-equities:list,divergence:string,divergence-action:string", problems);

  if (th_config_has_key (self, "prices", "divergence"))
    {
      g_autofree char *text = th_config_get_string (self, "prices", "divergence", "");
      g_autoptr(GError) error = NULL;
      double bps;

      if (!_th_parse_divergence (text, &bps, &error))
        problem (problems, "prices", "divergence", "%s", error->message);
    }
  if (th_config_has_key (self, "prices", "divergence-action"))
    {
      g_autofree char *action = th_config_get_string (self, "prices", "divergence-action", "");

      if (!th_config_has_key (self, "prices", "divergence"))
        problem (problems, "prices", "divergence-action",
                 "has no effect without [prices] divergence; set a threshold such as divergence=1%% or remove it");
      else if (g_strcmp0 (action, "flag") != 0 && g_strcmp0 (action, "skip") != 0)
        problem (problems, "prices", "divergence-action",
                 "“%s” is not an action; use flag (report the outlier) or skip (report it and serve "
                 "the next fresh source that agrees)", action);
    }

  if (th_config_has_key (self, "tickhub", "symbols"))
    {
      g_auto(GStrv) symbols = th_config_get_string_list (self, "tickhub", "symbols");

      if (symbols[0] == NULL)
        problem (problems, "tickhub", "symbols", "no symbols; list the base assets to follow, such as BTC;ETH");
      for (guint i = 0; symbols[i] != NULL; i++)
        if (!th_symbol_is_valid (symbols[i]))
          problem (problems, "tickhub", "symbols",
                   "“%s” is not a symbol; use upper-case letters and digits, such as BTC", symbols[i]);
    }

  if (th_config_has_key (self, "tickhub", "quote"))
    {
      g_autofree char *quote = th_config_get_string (self, "tickhub", "quote", "");

      if (!th_symbol_is_valid (quote))
        problem (problems, "tickhub", "quote", "“%s” is not a currency; use upper-case letters such as USD", quote);
    }

  if (th_config_has_key (self, "tickhub", "timeframes"))
    {
      g_auto(GStrv) tfs = th_config_get_string_list (self, "tickhub", "timeframes");
      g_autoptr(GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
      gint64 durations[64];

      for (guint i = 0; tfs[i] != NULL; i++)
        {
          g_autoptr(GError) error = NULL;

          if (!th_parse_timeframe (tfs[i], i < G_N_ELEMENTS (durations) ? &durations[i] : NULL, &error))
            problem (problems, "tickhub", "timeframes", "%s", error->message);
          else if (i < G_N_ELEMENTS (durations))
            {
              if (g_hash_table_contains (seen, &durations[i]))
                problem (problems, "tickhub", "timeframes", "“%s” is listed twice; remove one", tfs[i]);
              g_hash_table_add (seen, &durations[i]);
            }
        }
      if (g_strv_length (tfs) > G_N_ELEMENTS (durations))
        problem (problems, "tickhub", "timeframes", "more than %u timeframes; keep the ones you use",
                 (guint) G_N_ELEMENTS (durations));
    }

  if (th_config_has_key (self, "tickhub", "plugin-dirs"))
    {
      g_auto(GStrv) dirs = th_config_get_string_list (self, "tickhub", "plugin-dirs");

      for (guint i = 0; dirs[i] != NULL; i++)
        if (!g_file_test (dirs[i], G_FILE_TEST_IS_DIR))
          problem (problems, "tickhub", "plugin-dirs", "“%s” is not a directory; create it or remove it", dirs[i]);
    }

  if (g_key_file_has_group (self->key_file, "symbols"))
    {
      g_auto(GStrv) keys = g_key_file_get_keys (self->key_file, "symbols", NULL, NULL);

      for (guint i = 0; keys[i] != NULL; i++)
        {
          g_autofree char *value = raw_value (self, "symbols", keys[i]);

          if (!th_symbol_is_valid (keys[i]))
            problem (problems, "symbols", keys[i],
                     "“%s” is not a symbol; use upper-case letters and digits, such as BTC", keys[i]);
          check_symbol_spec ("symbols", keys[i], value, problems);
        }
    }

  if (g_key_file_has_group (self->key_file, "indicators"))
    {
      g_auto(GStrv) keys = g_key_file_get_keys (self->key_file, "indicators", NULL, NULL);

      for (guint i = 0; keys[i] != NULL; i++)
        {
          g_autofree char *value = raw_value (self, "indicators", keys[i]);
          g_autofree char *name = NULL;
          g_auto(GStrv) args = NULL;

          if (!is_name (keys[i]))
            problem (problems, "indicators", keys[i],
                     "“%s” is not an output name; use letters, digits and _ such as sma_20", keys[i]);
          if (!_th_parse_call (value, &name, &args))
            problem (problems, "indicators", keys[i],
                     "“%s” is not plugin(arguments); write it like sma(20) or macd(12,26,9)", value);
        }
    }
}
