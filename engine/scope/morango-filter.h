/* morango-filter.h: partitions, filters, scope definitions and scopes (protocol §6)
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <json-glib/json-glib.h>
#include <string.h>

#include "morango-db.h"

G_BEGIN_DECLS

/* Exact byte-prefix test, never SQL LIKE (quirk 7). */
static inline gboolean
morango_partition_has_prefix (const char *partition,
                              const char *prefix)
{
  return strncmp (partition, prefix, strlen (prefix)) == 0;
}

/* Python's string.Template.safe_substitute: "$$" -> "$", "$name" and
 * "${name}" replaced when name is a key of @params (values rendered as
 * Python's str() would), everything else left as it is.  @params may be
 * NULL. */
char          *morango_template_substitute   (const char    *tmpl,
                                              JsonObject    *params);

/* An immutable, reference-counted list of partition prefixes. */
typedef struct _MorangoFilter MorangoFilter;

#define MORANGO_TYPE_FILTER (morango_filter_get_type ())
GType          morango_filter_get_type       (void) G_GNUC_CONST;

/* Substitutes @params into @tmpl, then splits on runs of whitespace;
 * nothing left gives the single entry "" (everything). */
MorangoFilter *morango_filter_new            (const char    *tmpl,
                                              JsonObject    *params);
/* The same with @params_json a JSON object text (NULL or "" for none). */
MorangoFilter *morango_filter_new_with_json  (const char    *tmpl,
                                              const char    *params_json,
                                              GError       **error);
/* A filter as sent on the wire (newline-joined). */
MorangoFilter *morango_filter_parse          (const char    *text);
MorangoFilter *morango_filter_new_from_entries (const char * const *entries,
                                                gssize             n_entries);
MorangoFilter *morango_filter_ref            (MorangoFilter *self);
void           morango_filter_unref          (MorangoFilter *self);

guint          morango_filter_get_n_entries  (MorangoFilter *self);
const char    *morango_filter_get_entry      (MorangoFilter *self,
                                              guint          i);
/* Entries as a NULL-terminated array owned by the filter. */
const char * const *morango_filter_get_entries (MorangoFilter *self);
/* Does some entry prefix @partition? */
gboolean       morango_filter_contains       (MorangoFilter *self,
                                              const char    *partition);
/* Does every entry of @self start with some entry of @other? */
gboolean       morango_filter_is_subset_of   (MorangoFilter *self,
                                              MorangoFilter *other);
/* Concatenation: the filter of a.text + "\n" + b.text. */
MorangoFilter *morango_filter_add            (MorangoFilter *a,
                                              MorangoFilter *b);
/* Same set of entries. */
gboolean       morango_filter_equal          (MorangoFilter *a,
                                              MorangoFilter *b);
/* Entries joined with "\n": the wire form. */
char          *morango_filter_to_string      (MorangoFilter *self);
/* Is "" one of the entries (the filter matches everything)? */
gboolean       morango_filter_is_everything  (MorangoFilter *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoFilter, morango_filter_unref)

/* A row of morango_scopedefinition. */
typedef struct {
  char   *id;
  char   *profile;
  gint64  version;
  char   *primary_scope_param_key;   /* "" when the definition cannot be a root */
  char   *description;
  char   *read_filter_template;
  char   *write_filter_template;
  char   *read_write_filter_template;
} MorangoScopeDefinition;

MorangoScopeDefinition *morango_scope_definition_new_from_json (JsonObject *object,
                                                                GError    **error);
MorangoScopeDefinition *morango_scope_definition_copy  (const MorangoScopeDefinition *def);
void                    morango_scope_definition_free  (MorangoScopeDefinition *def);
/* Inserts or replaces the definition in morango_scopedefinition. */
gboolean                morango_scope_definition_save  (const MorangoScopeDefinition *def,
                                                        MorangoDb                    *db,
                                                        GError                      **error);
/* NULL with MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION when absent. */
MorangoScopeDefinition *morango_scope_definition_load  (MorangoDb                    *db,
                                                        const char                   *id,
                                                        GError                      **error);
/* The description template filled with the params. */
char                   *morango_scope_definition_describe (const MorangoScopeDefinition *def,
                                                           JsonObject                   *params);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoScopeDefinition, morango_scope_definition_free)

/* A scope: read = rw + read template, write = rw + write template. */
typedef struct _MorangoScope MorangoScope;

MorangoScope  *morango_scope_new             (const MorangoScopeDefinition *def,
                                              const char                   *params_json,
                                              GError                      **error);
MorangoScope  *morango_scope_new_from_filters (MorangoFilter *read,
                                               MorangoFilter *write);
void           morango_scope_free            (MorangoScope  *self);
MorangoFilter *morango_scope_get_read        (MorangoScope  *self);
MorangoFilter *morango_scope_get_write       (MorangoScope  *self);
gboolean       morango_scope_is_subset_of    (MorangoScope  *self,
                                              MorangoScope  *other);
gboolean       morango_scope_equal           (MorangoScope  *a,
                                              MorangoScope  *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MorangoScope, morango_scope_free)

/* The scope gate of protocol §6.4: may a transfer with @filter in the
 * direction @push go ahead, given the client's and the server's scopes?
 * When not, *@message is the 403 text Morango answers. */
gboolean       morango_scope_gate_transfer   (MorangoScope  *client,
                                              MorangoScope  *server,
                                              MorangoFilter *filter,
                                              gboolean       push,
                                              char         **message);

G_END_DECLS
