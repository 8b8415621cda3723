/* morango-flat-json.c: a fast reader for flat JSON objects
 *
 * SPDX-License-Identifier: MIT
 */

#include <errno.h>
#include <string.h>

#include "morango-flat-json.h"

typedef struct {
  gsize            key;      /* offsets into the arena until the parse ends */
  MorangoFlatKind  kind;
  gsize            text;
  gint64           i;
  double           d;
} Slot;

struct _MorangoFlatJson
{
  GArray            *slots;    /* Slot */
  GArray            *members;  /* MorangoFlatMember, resolved after a parse */
  GString           *arena;    /* decoded strings, NUL-separated */
  gboolean           complex;
};

MorangoFlatJson *
morango_flat_json_new (void)
{
  MorangoFlatJson *self = g_new0 (MorangoFlatJson, 1);

  self->slots = g_array_sized_new (FALSE, FALSE, sizeof (Slot), 16);
  self->members = g_array_sized_new (FALSE, FALSE, sizeof (MorangoFlatMember), 16);
  self->arena = g_string_sized_new (1024);
  return self;
}

void
morango_flat_json_free (MorangoFlatJson *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->slots);
  g_array_unref (self->members);
  g_string_free (self->arena, TRUE);
  g_free (self);
}

static inline const char *
skip_ws (const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  return p;
}

static int
hex4 (const char *p)
{
  int v = 0;

  for (int k = 0; k < 4; k++)
    {
      int h = g_ascii_xdigit_value (p[k]);
      if (h < 0)
        return -1;
      v = v * 16 + h;
    }
  return v;
}

/* Decodes the string starting after its opening quote into the arena;
 * returns the position after the closing quote, or NULL. */
static const char *
read_string (GString    *arena,
             const char *p,
             gsize      *offset)
{
  *offset = arena->len;
  for (;;)
    {
      const char *run = p;

      while (*p != '"' && *p != '\\' && (guchar) *p >= 0x20)
        p++;
      g_string_append_len (arena, run, p - run);
      if (*p == '"')
        break;
      if (*p != '\\')
        return NULL;   /* control character or end of text */
      p++;
      switch (*p++)
        {
        case '"':  g_string_append_c (arena, '"'); break;
        case '\\': g_string_append_c (arena, '\\'); break;
        case '/':  g_string_append_c (arena, '/'); break;
        case 'b':  g_string_append_c (arena, '\b'); break;
        case 'f':  g_string_append_c (arena, '\f'); break;
        case 'n':  g_string_append_c (arena, '\n'); break;
        case 'r':  g_string_append_c (arena, '\r'); break;
        case 't':  g_string_append_c (arena, '\t'); break;
        case 'u':
          {
            int u = hex4 (p);

            if (u < 0)
              return NULL;
            p += 4;
            if (u >= 0xd800 && u <= 0xdbff && p[0] == '\\' && p[1] == 'u')
              {
                int lo = hex4 (p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff)
                  {
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                  }
              }
            if (u == 0 || (u >= 0xd800 && u <= 0xdfff))
              u = 0xfffd;   /* NUL or a lone surrogate cannot live in C text */
            g_string_append_unichar (arena, u);
          }
          break;
        default:
          return NULL;
        }
    }
  g_string_append_c (arena, '\0');
  return p + 1;
}

static const char *
read_number (const char *p,
             Slot       *slot)
{
  const char *start = p;
  gboolean is_float = FALSE;
  char *end = NULL;

  if (*p == '-')
    p++;
  if (*p == '0')
    p++;
  else if (*p >= '1' && *p <= '9')
    while (g_ascii_isdigit (*p))
      p++;
  else
    return NULL;
  if (*p == '.')
    {
      is_float = TRUE;
      p++;
      if (!g_ascii_isdigit (*p))
        return NULL;
      while (g_ascii_isdigit (*p))
        p++;
    }
  if (*p == 'e' || *p == 'E')
    {
      is_float = TRUE;
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return NULL;
      while (g_ascii_isdigit (*p))
        p++;
    }
  if (!is_float)
    {
      errno = 0;
      slot->i = g_ascii_strtoll (start, &end, 10);
      if (errno == 0 && end == p)
        {
          slot->kind = MORANGO_FLAT_INT;
          slot->d = (double) slot->i;
          return p;
        }
    }
  slot->kind = MORANGO_FLAT_DOUBLE;
  slot->d = g_ascii_strtod (start, NULL);
  return p;
}

/* Checks a string after its opening quote without decoding it. */
static const char *
skip_string (const char *p)
{
  for (;;)
    {
      guchar c = (guchar) *p++;

      if (c == '"')
        return p;
      if (c < 0x20)
        return NULL;   /* control character or end of text */
      if (c == '\\')
        {
          c = (guchar) *p++;
          if (c == 'u')
            {
              if (hex4 (p) < 0)
                return NULL;
              p += 4;
            }
          else if (!strchr ("\"\\/bfnrt", c) || c == '\0')
            return NULL;
        }
    }
}

/* Checks one nested value (object or array) and returns what follows;
 * NULL when it is not valid JSON or nests deeper than a record can. */
static const char *
skip_nested (const char *p,
             int         depth)
{
  char close = *p == '{' ? '}' : ']';
  gboolean object = *p == '{';
  Slot dummy;

  if (depth > 64)
    return NULL;
  p = skip_ws (p + 1);
  if (*p == close)
    return p + 1;
  for (;;)
    {
      if (object)
        {
          if (*p++ != '"' || (p = skip_string (p)) == NULL)
            return NULL;
          p = skip_ws (p);
          if (*p++ != ':')
            return NULL;
          p = skip_ws (p);
        }
      switch (*p)
        {
        case '"':
          p = skip_string (p + 1);
          break;
        case '{':
        case '[':
          p = skip_nested (p, depth + 1);
          break;
        case 't':
          p = strncmp (p, "true", 4) == 0 ? p + 4 : NULL;
          break;
        case 'f':
          p = strncmp (p, "false", 5) == 0 ? p + 5 : NULL;
          break;
        case 'n':
          p = strncmp (p, "null", 4) == 0 ? p + 4 : NULL;
          break;
        default:
          p = read_number (p, &dummy);
        }
      if (p == NULL)
        return NULL;
      p = skip_ws (p);
      if (*p == ',')
        {
          p = skip_ws (p + 1);
          continue;
        }
      if (*p != close)
        return NULL;
      return p + 1;
    }
}

gboolean
morango_flat_json_parse (MorangoFlatJson *self,
                         const char      *text)
{
  const char *p = skip_ws (text);

  g_array_set_size (self->slots, 0);
  g_array_set_size (self->members, 0);
  g_string_truncate (self->arena, 0);
  self->complex = FALSE;

  /* Escapes decode to valid UTF-8 by construction; the rest is copied. */
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  if (*p++ != '{')
    return FALSE;
  p = skip_ws (p);
  if (*p == '}')
    p++;
  else
    for (;;)
      {
        Slot slot = { 0 };

        if (*p++ != '"' || (p = read_string (self->arena, p, &slot.key)) == NULL)
          return FALSE;
        p = skip_ws (p);
        if (*p++ != ':')
          return FALSE;
        p = skip_ws (p);
        switch (*p)
          {
          case '"':
            slot.kind = MORANGO_FLAT_STRING;
            if ((p = read_string (self->arena, p + 1, &slot.text)) == NULL)
              return FALSE;
            break;
          case 't':
            if (strncmp (p, "true", 4) != 0)
              return FALSE;
            slot.kind = MORANGO_FLAT_TRUE;
            p += 4;
            break;
          case 'f':
            if (strncmp (p, "false", 5) != 0)
              return FALSE;
            slot.kind = MORANGO_FLAT_FALSE;
            p += 5;
            break;
          case 'n':
            if (strncmp (p, "null", 4) != 0)
              return FALSE;
            slot.kind = MORANGO_FLAT_NULL;
            p += 4;
            break;
          case '{':
          case '[':
            {
              const char *start = p;

              if ((p = skip_nested (p, 1)) == NULL)
                return FALSE;
              slot.kind = MORANGO_FLAT_COMPLEX;
              slot.text = self->arena->len;
              g_string_append_len (self->arena, start, p - start);
              g_string_append_c (self->arena, '\0');
              self->complex = TRUE;
            }
            break;
          default:
            {
              const char *start = p;

              if ((p = read_number (p, &slot)) == NULL)
                return FALSE;
              slot.text = self->arena->len;
              g_string_append_len (self->arena, start, p - start);
              g_string_append_c (self->arena, '\0');
            }
          }
        g_array_append_val (self->slots, slot);
        p = skip_ws (p);
        if (*p == ',')
          {
            p = skip_ws (p + 1);
            continue;
          }
        if (*p++ != '}')
          return FALSE;
        break;
      }
  if (*skip_ws (p) != '\0')
    return FALSE;

  /* The arena has stopped moving: hand out pointers. */
  g_array_set_size (self->members, self->slots->len);
  for (guint i = 0; i < self->slots->len; i++)
    {
      Slot *s = &g_array_index (self->slots, Slot, i);
      MorangoFlatMember *m = &g_array_index (self->members, MorangoFlatMember, i);

      m->key = self->arena->str + s->key;
      m->kind = s->kind;
      m->text = (s->kind == MORANGO_FLAT_STRING || s->kind == MORANGO_FLAT_INT ||
                 s->kind == MORANGO_FLAT_DOUBLE || s->kind == MORANGO_FLAT_COMPLEX)
                ? self->arena->str + s->text : NULL;
      m->i = s->i;
      m->d = s->d;
    }
  return TRUE;
}

guint
morango_flat_json_get_n (MorangoFlatJson *self)
{
  return self->members->len;
}

const MorangoFlatMember *
morango_flat_json_get (MorangoFlatJson *self,
                       guint            i)
{
  return &g_array_index (self->members, MorangoFlatMember, i);
}

const MorangoFlatMember *
morango_flat_json_lookup (MorangoFlatJson *self,
                          const char      *key)
{
  for (guint i = self->members->len; i > 0; i--)
    {
      const MorangoFlatMember *m = &g_array_index (self->members, MorangoFlatMember, i - 1);
      if (strcmp (m->key, key) == 0)
        return m;
    }
  return NULL;
}

gboolean
morango_flat_json_has_complex (MorangoFlatJson *self)
{
  return self->complex;
}
