/* morango-flat-json.h: a fast reader for the flat JSON objects records are
 *
 * SPDX-License-Identifier: MIT
 *
 * Record JSON is one object of scalars.  The stages read one per record,
 * so this reader keeps its buffers from record to record and builds no
 * tree.  Nested values are recognised and skipped (kind COMPLEX, raw
 * text kept) so that callers can fall back to json-glib for them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MORANGO_FLAT_NULL,
  MORANGO_FLAT_TRUE,
  MORANGO_FLAT_FALSE,
  MORANGO_FLAT_STRING,
  MORANGO_FLAT_INT,
  MORANGO_FLAT_DOUBLE,
  MORANGO_FLAT_COMPLEX,
} MorangoFlatKind;

typedef struct {
  const char      *key;     /* decoded, NUL-terminated */
  MorangoFlatKind  kind;
  const char      *text;    /* STRING: decoded; numbers and COMPLEX: the raw text */
  gint64           i;
  double           d;
} MorangoFlatMember;

typedef struct _MorangoFlatJson MorangoFlatJson;

MorangoFlatJson         *morango_flat_json_new       (void);
void                     morango_flat_json_free      (MorangoFlatJson *self);
/* FALSE when @text is not one valid JSON object (then nothing is kept). */
gboolean                 morango_flat_json_parse     (MorangoFlatJson *self,
                                                      const char      *text);
guint                    morango_flat_json_get_n     (MorangoFlatJson *self);
const MorangoFlatMember *morango_flat_json_get       (MorangoFlatJson *self,
                                                      guint            i);
/* The last member named @key (JSON objects keep the last duplicate). */
const MorangoFlatMember *morango_flat_json_lookup    (MorangoFlatJson *self,
                                                      const char      *key);
gboolean                 morango_flat_json_has_complex (MorangoFlatJson *self);

G_END_DECLS
