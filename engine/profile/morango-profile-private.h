/* morango-profile-private.h: the parsed description, for the app and store layers
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include "morango-profile.h"

G_BEGIN_DECLS

typedef enum {
  MORANGO_FIELD_ID,            /* the record id: char(32) primary key */
  MORANGO_FIELD_SOURCE_ID,     /* _morango_source_id */
  MORANGO_FIELD_PARTITION,     /* _morango_partition */
  MORANGO_FIELD_UUID,          /* Morango's UUIDField: 32 lowercase hex */
  MORANGO_FIELD_STRING,        /* varchar(max_length) */
  MORANGO_FIELD_TEXT,
  MORANGO_FIELD_INTEGER,
  MORANGO_FIELD_FLOAT,
  MORANGO_FIELD_BOOLEAN,
  MORANGO_FIELD_DATETIME,      /* naive UTC text in the table, ISO with Z in JSON */
  MORANGO_FIELD_DATE,
  MORANGO_FIELD_FOREIGN_KEY,   /* column <name>_id holding the target's id */
} MorangoFieldType;

typedef enum {
  MORANGO_DEFAULT_NONE,
  MORANGO_DEFAULT_LITERAL,
  MORANGO_DEFAULT_RANDOM_UUID,
  MORANGO_DEFAULT_NOW,
} MorangoDefaultKind;

typedef enum {
  MORANGO_ON_DELETE_CASCADE,
  MORANGO_ON_DELETE_SET_NULL,
} MorangoOnDelete;

typedef enum {
  MORANGO_SOURCE_ID_FIELDS,    /* non-empty join of field values */
  MORANGO_SOURCE_ID_RANDOM,    /* a random UUID4 hex */
  MORANGO_SOURCE_ID_UUID5,     /* UUIDv5(namespace, field value) hex */
} MorangoSourceIdRule;

typedef enum {
  MORANGO_ID_HASH,             /* sha2_uuid(partition template, source id, model name) */
  MORANGO_ID_SOURCE_ID,        /* the source id itself */
} MorangoIdRule;

typedef struct _MorangoModel MorangoModel;

typedef struct {
  char               *name;          /* field name, the key of Django-style error dicts */
  char               *column;        /* column and JSON key (attname): <name>_id for FKs */
  MorangoFieldType    type;
  gboolean            null;
  gboolean            blank;
  gboolean            unique;
  gboolean            index;
  gboolean            serialize;
  gint64              max_length;    /* 0: none */
  MorangoDefaultKind  default_kind;
  JsonNode           *default_value; /* MORANGO_DEFAULT_LITERAL */
  /* foreign keys */
  char               *fk_target;
  MorangoModel       *fk_model;
  MorangoOnDelete     on_delete;
  gboolean            fk_self;
} MorangoField;

/* A reference to @model from (@from_model, @from_field): used for cascades. */
typedef struct {
  MorangoModel *from_model;
  MorangoField *from_field;
} MorangoDependent;

struct _MorangoModel
{
  char                *name;          /* morango_model_name */
  char                *class_name;    /* for messages Python prints with the class */
  char                *table;
  char                *verbose_name;
  guint                index;         /* position in registry order */
  GPtrArray           *fields;        /* MorangoField*, in serialization order */
  int                  id_col;
  int                  source_id_col;
  int                  partition_col;
  int                  self_ref_col;  /* -1: no self-referencing FK */
  MorangoSourceIdRule  source_id_rule;
  GPtrArray           *source_id_fields;  /* MorangoField* */
  char                *source_id_separator;
  char                *uuid5_namespace;
  MorangoIdRule        id_rule;
  char                *partition_template;
  GPtrArray           *dependents;    /* MorangoDependent*: FKs pointing here */

  /* SQL built once from validated identifiers. */
  char                *sql_select_columns;  /* "id", "a", ... in field order */
  char                *sql_select_dirty;
  char                *sql_select_by_id;
  char                *sql_exists;
  char                *sql_upsert;          /* all columns + dirty bit, ON CONFLICT(id) */
  char                *sql_update;          /* all columns + dirty bit, by id */
  char                *sql_clear_dirty;
  char                *sql_delete;
};

MorangoModel *morango_profile_get_model      (MorangoProfile *self,
                                              const char     *model_name);
guint         morango_profile_get_n_models   (MorangoProfile *self);
MorangoModel *morango_profile_get_model_at   (MorangoProfile *self,
                                              guint           i);
MorangoField *morango_model_get_field        (MorangoModel   *model,
                                              const char     *name_or_column);
int           morango_model_get_field_index  (MorangoModel   *model,
                                              const char     *name_or_column);

G_END_DECLS
