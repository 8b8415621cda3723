/* morango-engine-certificates.c: certificates, chains and backups, asynchronously
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "morango-certificate.h"
#include "morango-chain.h"
#include "morango-engine-certificates.h"
#include "morango-engine-private.h"
#include "morango-i18n-private.h"
#include "morango-json.h"
#include "morango-store.h"
#include "morango-trust.h"

/* A chain or a backup is a few kilobytes; anything far bigger is not
 * one, and is not read into memory. */
#define MAX_FILE_SIZE (1024 * 1024)

/* ------------------------------------------------------------------ */
/* MorangoEngineCertificate */

struct _MorangoEngineCertificate
{
  GObject   parent_instance;

  char     *id;
  char     *parent_id;
  char     *root_id;
  guint     depth;
  char     *profile;
  char     *scope_definition;
  gint64    scope_version;
  char     *scope_params;
  char     *description;
  GStrv     read_filter;
  GStrv     write_filter;
  char     *fingerprint;
  gboolean  has_private_key;
  gboolean  trust_anchor;
  gboolean  root_trusted;
};

G_DEFINE_FINAL_TYPE (MorangoEngineCertificate, morango_engine_certificate, G_TYPE_OBJECT)

static void
morango_engine_certificate_finalize (GObject *object)
{
  MorangoEngineCertificate *self = MORANGO_ENGINE_CERTIFICATE (object);

  g_free (self->id);
  g_free (self->parent_id);
  g_free (self->root_id);
  g_free (self->profile);
  g_free (self->scope_definition);
  g_free (self->scope_params);
  g_free (self->description);
  g_strfreev (self->read_filter);
  g_strfreev (self->write_filter);
  g_free (self->fingerprint);
  G_OBJECT_CLASS (morango_engine_certificate_parent_class)->finalize (object);
}

static void
morango_engine_certificate_class_init (MorangoEngineCertificateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_engine_certificate_finalize;
}

static void
morango_engine_certificate_init (MorangoEngineCertificate *self)
{
}

static GStrv
filter_entries (MorangoFilter *filter)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; i < morango_filter_get_n_entries (filter); i++)
    g_strv_builder_add (builder, morango_filter_get_entry (filter, i));
  return g_strv_builder_end (builder);
}

/* A snapshot of @c as @db sees it, for the main thread.  A definition
 * this folder does not know leaves the scope fields empty rather than
 * hiding the certificate. */
static MorangoEngineCertificate *
describe (MorangoDb          *db,
          MorangoCertificate *c,
          const char         *root_id,
          guint               depth)
{
  MorangoEngineCertificate *self = g_object_new (MORANGO_TYPE_ENGINE_CERTIFICATE, NULL);
  g_autoptr(MorangoScopeDefinition) def = NULL;
  g_autoptr(MorangoScope) scope = NULL;

  self->id = g_strdup (morango_certificate_get_id (c));
  self->parent_id = g_strdup (morango_certificate_get_parent_id (c));
  self->root_id = g_strdup (root_id ? root_id : self->id);
  self->depth = depth;
  self->profile = g_strdup (morango_certificate_get_profile (c));
  self->scope_definition = g_strdup (morango_certificate_get_scope_definition_id (c));
  self->scope_version = morango_certificate_get_scope_version (c);
  self->scope_params = g_strdup (morango_certificate_get_scope_params (c));
  self->fingerprint = morango_key_get_fingerprint (morango_certificate_get_key (c));
  self->has_private_key = morango_certificate_has_private_key (c);
  self->root_trusted = morango_trust_is_trusted (db, self->root_id);
  self->trust_anchor = self->parent_id == NULL && self->root_trusted;

  def = morango_scope_definition_load (db, self->scope_definition, NULL);
  if (def != NULL)
    {
      g_autoptr(JsonObject) params = morango_json_parse_object (self->scope_params, "scope_params", NULL);

      if (params != NULL)
        self->description = morango_scope_definition_describe (def, params);
    }
  scope = morango_certificate_get_scope (c, db, NULL);
  if (scope != NULL)
    {
      self->read_filter = filter_entries (morango_scope_get_read (scope));
      self->write_filter = filter_entries (morango_scope_get_write (scope));
    }
  return self;
}

#define GETTER(type, name, field)                                             \
type                                                                          \
morango_engine_certificate_##name (MorangoEngineCertificate *self)            \
{                                                                             \
  g_return_val_if_fail (MORANGO_IS_ENGINE_CERTIFICATE (self), (type) 0);      \
  return self->field;                                                         \
}

GETTER (const char *, get_id, id)
GETTER (const char *, get_parent_id, parent_id)
GETTER (const char *, get_root_id, root_id)
GETTER (guint, get_depth, depth)
GETTER (const char *, get_profile, profile)
GETTER (const char *, get_scope_definition, scope_definition)
GETTER (gint64, get_scope_version, scope_version)
GETTER (const char *, get_scope_params, scope_params)
GETTER (const char *, get_description, description)
GETTER (const char *, get_fingerprint, fingerprint)
GETTER (gboolean, has_private_key, has_private_key)
GETTER (gboolean, is_trust_anchor, trust_anchor)
GETTER (gboolean, is_root_trusted, root_trusted)

const char * const *
morango_engine_certificate_get_read_filter (MorangoEngineCertificate *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CERTIFICATE (self), NULL);
  return (const char * const *) self->read_filter;
}

const char * const *
morango_engine_certificate_get_write_filter (MorangoEngineCertificate *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CERTIFICATE (self), NULL);
  return (const char * const *) self->write_filter;
}

/* Depth and root of each certificate of @certs, which come parents
 * first, as snapshots. */
static GListStore *
describe_all (MorangoDb *db,
              GPtrArray *certs)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GListStore *store = g_list_store_new (MORANGO_TYPE_ENGINE_CERTIFICATE);

  for (guint i = 0; i < certs->len; i++)
    {
      MorangoCertificate *c = g_ptr_array_index (certs, i);
      const char *parent_id = morango_certificate_get_parent_id (c);
      MorangoEngineCertificate *parent = parent_id ? g_hash_table_lookup (seen, parent_id) : NULL;
      g_autoptr(MorangoEngineCertificate) item =
        describe (db, c, parent ? parent->root_id : NULL, parent ? parent->depth + 1 : 0);

      g_hash_table_insert (seen, item->id, item);
      g_list_store_append (store, item);
    }
  return store;
}

/* ------------------------------------------------------------------ */
/* What each call carries to its thread */

typedef struct {
  char       *id;
  char       *passphrase;
  GFile      *file;
  gboolean    trust_root;
  JsonObject *params;
} Call;

static void
call_free (Call *call)
{
  g_free (call->id);
  if (call->passphrase)
    memset (call->passphrase, 0, strlen (call->passphrase));
  g_free (call->passphrase);
  g_clear_object (&call->file);
  g_clear_pointer (&call->params, json_object_unref);
  g_free (call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static GTask *
start (MorangoEngine       *self,
       gpointer             source_tag,
       Call                *call,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, call, (GDestroyNotify) call_free);
  return task;
}

/* The text of a chain or backup file; a file that is too big, or not
 * text, is refused with a message that names it. */
static char *
read_file (GFile   *file,
           GError **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *name = g_file_get_parse_name (file);
  g_autofree char *text = NULL;
  gsize length = 0;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return NULL;
  if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY, _("“%s” is a directory"), name);
      return NULL;
    }
  if (g_file_info_get_size (info) > MAX_FILE_SIZE)
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("“%s” is too big to be a certificate chain or backup"), name);
      return NULL;
    }
  if (!g_file_load_contents (file, NULL, &text, &length, NULL, error))
    return NULL;
  if (length > MAX_FILE_SIZE || strlen (text) != length || !g_utf8_validate (text, length, NULL))
    {
      g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
                   _("“%s” is not a certificate chain: it is not text"), name);
      return NULL;
    }
  return g_steal_pointer (&text);
}

/* A backup handed to an import: said so, with what to do instead,
 * rather than the chain parser's complaint about its shape. */
static gboolean
refuse_backup (GFile       *file,
               const char  *text,
               GError     **error)
{
  g_autofree char *name = NULL;

  if (!morango_certificate_text_is_backup (text))
    return TRUE;
  name = g_file_get_parse_name (file);
  g_set_error (error, MORANGO_ERROR, MORANGO_ERROR_INVALID,
               _("“%s” is a certificate backup, not a chain; restore it (with its passphrase) instead"), name);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Listing */

static void
list_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autoptr(GPtrArray) certs = NULL;

  if (store == NULL ||
      (certs = morango_certificate_list (morango_store_get_db (store), &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, describe_all (morango_store_get_db (store), certs), g_object_unref);
}

void
morango_engine_list_certificates_async (MorangoEngine       *self,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = start (self, morango_engine_list_certificates_async, g_new0 (Call, 1), cancellable, callback, user_data);
  g_task_run_in_thread (task, list_thread);
}

GListModel *
morango_engine_list_certificates_finish (MorangoEngine  *self,
                                         GAsyncResult   *result,
                                         GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* MorangoEngineChainPreview */

struct _MorangoEngineChainPreview
{
  GObject     parent_instance;

  GListStore *certificates;
  char       *untrusted_reason;
  gboolean    root_trusted;
  guint       n_new;
};

G_DEFINE_FINAL_TYPE (MorangoEngineChainPreview, morango_engine_chain_preview, G_TYPE_OBJECT)

static void
morango_engine_chain_preview_finalize (GObject *object)
{
  MorangoEngineChainPreview *self = MORANGO_ENGINE_CHAIN_PREVIEW (object);

  g_clear_object (&self->certificates);
  g_free (self->untrusted_reason);
  G_OBJECT_CLASS (morango_engine_chain_preview_parent_class)->finalize (object);
}

static void
morango_engine_chain_preview_class_init (MorangoEngineChainPreviewClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = morango_engine_chain_preview_finalize;
}

static void
morango_engine_chain_preview_init (MorangoEngineChainPreview *self)
{
}

static MorangoEngineCertificate *
preview_item (MorangoEngineChainPreview *self,
              gboolean                   last)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->certificates));
  g_autoptr(MorangoEngineCertificate) item = g_list_model_get_item (G_LIST_MODEL (self->certificates),
                                                                     last ? n - 1 : 0);

  /* The store keeps it alive. */
  return item;
}

GListModel *
morango_engine_chain_preview_get_certificates (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return G_LIST_MODEL (self->certificates);
}

const char *
morango_engine_chain_preview_get_last_id (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return preview_item (self, TRUE)->id;
}

const char *
morango_engine_chain_preview_get_root_id (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return preview_item (self, FALSE)->id;
}

const char *
morango_engine_chain_preview_get_root_fingerprint (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return preview_item (self, FALSE)->fingerprint;
}

const char *
morango_engine_chain_preview_get_root_scope_definition (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return preview_item (self, FALSE)->scope_definition;
}

const char *
morango_engine_chain_preview_get_root_scope_params (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return preview_item (self, FALSE)->scope_params;
}

gboolean
morango_engine_chain_preview_is_root_trusted (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), FALSE);
  return self->root_trusted;
}

const char *
morango_engine_chain_preview_get_untrusted_reason (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), NULL);
  return self->untrusted_reason;
}

guint
morango_engine_chain_preview_get_n_new (MorangoEngineChainPreview *self)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE_CHAIN_PREVIEW (self), 0);
  return self->n_new;
}

/* ------------------------------------------------------------------ */
/* Preview and import */

static gboolean
count_certificates (MorangoDb *db,
                    guint     *n,
                    GError   **error)
{
  g_autoptr(GPtrArray) all = morango_certificate_list (db, error);

  if (all == NULL)
    return FALSE;
  *n = all->len;
  return TRUE;
}

/* The import itself, run inside a transaction that is then rolled
 * back: the same checks, in the same order, as the real one, so the
 * preview can never promise what the import would refuse. */
static MorangoEngineChainPreview *
preview (MorangoDb   *db,
         GFile       *file,
         GError     **error)
{
  g_autoptr(MorangoEngineChainPreview) self = g_object_new (MORANGO_TYPE_ENGINE_CHAIN_PREVIEW, NULL);
  g_autoptr(MorangoTransaction) tx = NULL;
  g_autoptr(MorangoCertificate) last = NULL;
  g_autoptr(GPtrArray) chain = NULL;
  g_autoptr(GError) untrusted = NULL;
  g_autofree char *text = NULL;
  guint before = 0, after = 0;

  text = read_file (file, error);
  if (text == NULL || !refuse_backup (file, text, error))
    return NULL;
  if ((tx = morango_transaction_begin (db, NULL, error)) == NULL ||
      !count_certificates (db, &before, error))
    return NULL;
  last = morango_certificate_chain_import_text (db, text, NULL, MORANGO_CHAIN_IMPORT_DEFAULT, NULL, &untrusted);
  if (last == NULL && !g_error_matches (untrusted, MORANGO_ERROR, MORANGO_ERROR_CERT_UNTRUSTED))
    {
      g_propagate_error (error, g_steal_pointer (&untrusted));
      return NULL;
    }
  if (last == NULL)
    {
      last = morango_certificate_chain_import_text (db, text, NULL, MORANGO_CHAIN_IMPORT_TRUST_ROOT, NULL, error);
      if (last == NULL)
        return NULL;
      self->untrusted_reason = g_strdup (untrusted->message);
    }
  if (!count_certificates (db, &after, error))
    return NULL;
  chain = morango_certificate_get_chain (db, morango_certificate_get_id (last), error);
  if (chain == NULL)
    return NULL;
  self->root_trusted = untrusted == NULL;
  self->n_new = after - before;
  self->certificates = describe_all (db, chain);
  /* describe_all() saw the root trusted inside the transaction; say
   * how things stand outside it. */
  if (!self->root_trusted)
    for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->certificates)); i++)
      {
        g_autoptr(MorangoEngineCertificate) item = g_list_model_get_item (G_LIST_MODEL (self->certificates), i);

        item->root_trusted = item->trust_anchor = FALSE;
      }
  /* tx is freed uncommitted: everything above is rolled back. */
  return g_steal_pointer (&self);
}

static void
preview_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  MorangoEngineChainPreview *result = NULL;

  if (store != NULL)
    result = preview (morango_store_get_db (store), call->file, &error);
  if (result == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, result, g_object_unref);
}

void
morango_engine_preview_chain_async (MorangoEngine       *self,
                                    GFile               *file,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->file = g_object_ref (file);
  task = start (self, morango_engine_preview_chain_async, call, cancellable, callback, user_data);
  g_task_run_in_thread (task, preview_thread);
}

MorangoEngineChainPreview *
morango_engine_preview_chain_finish (MorangoEngine  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
import_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autoptr(MorangoCertificate) last = NULL;
  g_autofree char *text = NULL;

  if (store == NULL || (text = read_file (call->file, &error)) == NULL ||
      !refuse_backup (call->file, text, &error))
    goto failed;
  last = morango_certificate_chain_import_text (morango_store_get_db (store), text, NULL,
                                                call->trust_root ? MORANGO_CHAIN_IMPORT_TRUST_ROOT
                                                                 : MORANGO_CHAIN_IMPORT_DEFAULT,
                                                NULL, &error);
  if (last == NULL)
    goto failed;
  morango_engine_certificates_changed (source_object);
  g_task_return_pointer (task, g_strdup (morango_certificate_get_id (last)), g_free);
  return;

failed:
  g_task_return_error (task, g_steal_pointer (&error));
}

void
morango_engine_import_chain_async (MorangoEngine       *self,
                                   GFile               *file,
                                   gboolean             trust_root,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->file = g_object_ref (file);
  call->trust_root = trust_root;
  task = start (self, morango_engine_import_chain_async, call, cancellable, callback, user_data);
  g_task_run_in_thread (task, import_thread);
}

char *
morango_engine_import_chain_finish (MorangoEngine  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Export */

static void
export_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autofree char *text = NULL;

  if (store == NULL ||
      (text = morango_certificate_chain_export_text (morango_store_get_db (store), call->id, &error)) == NULL ||
      !g_file_replace_contents (call->file, text, strlen (text), NULL, FALSE, G_FILE_CREATE_NONE, NULL,
                                cancellable, &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
morango_engine_export_chain_async (MorangoEngine       *self,
                                   const char          *id,
                                   GFile               *file,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->id = g_strdup (id);
  call->file = g_object_ref (file);
  task = start (self, morango_engine_export_chain_async, call, cancellable, callback, user_data);
  g_task_run_in_thread (task, export_thread);
}

gboolean
morango_engine_export_chain_finish (MorangoEngine  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* New roots */

static void
add_template_params (GPtrArray  *names,
                     const char *template,
                     const char *skip)
{
  const char *p = template;

  while (p != NULL && (p = strstr (p, "${")) != NULL)
    {
      const char *end = strchr (p + 2, '}');
      g_autofree char *name = NULL;

      if (end == NULL)
        return;
      name = g_strndup (p + 2, end - p - 2);
      if (*name && g_strcmp0 (name, skip) != 0 &&
          !g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
        g_ptr_array_add (names, g_steal_pointer (&name));
      p = end + 1;
    }
}

GStrv
morango_engine_scope_definition_get_params (const MorangoScopeDefinition *def)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (def != NULL, NULL);

  add_template_params (names, def->read_write_filter_template, def->primary_scope_param_key);
  add_template_params (names, def->read_filter_template, def->primary_scope_param_key);
  add_template_params (names, def->write_filter_template, def->primary_scope_param_key);
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_steal (names, NULL);
}

static void
root_scopes_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  GPtrArray *defs, *out;

  if (store == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  defs = morango_profile_get_scope_definitions (morango_store_get_profile (store));
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) morango_scope_definition_free);
  for (guint i = 0; defs != NULL && i < defs->len; i++)
    {
      MorangoScopeDefinition *def = g_ptr_array_index (defs, i);

      if (def->primary_scope_param_key != NULL && *def->primary_scope_param_key)
        g_ptr_array_add (out, morango_scope_definition_copy (def));
    }
  g_task_return_pointer (task, out, (GDestroyNotify) g_ptr_array_unref);
}

void
morango_engine_list_root_scopes_async (MorangoEngine       *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = start (self, morango_engine_list_root_scopes_async, g_new0 (Call, 1), cancellable, callback, user_data);
  g_task_run_in_thread (task, root_scopes_thread);
}

GPtrArray *
morango_engine_list_root_scopes_finish (MorangoEngine  *self,
                                        GAsyncResult   *result,
                                        GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
create_root_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autoptr(MorangoCertificate) root = NULL;

  if (store == NULL ||
      (root = morango_certificate_create_root (morango_store_get_db (store), call->id, call->params,
                                               NULL, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  morango_engine_certificates_changed (source_object);
  g_task_return_pointer (task, g_strdup (morango_certificate_get_id (root)), g_free);
}

void
morango_engine_create_root_async (MorangoEngine       *self,
                                  const char          *scope_definition,
                                  JsonObject          *params,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (scope_definition != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->id = g_strdup (scope_definition);
  /* A copy: the caller's object is not touched from another thread. */
  if (params != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), params);
      g_autoptr(JsonNode) copy = json_node_copy (node);

      call->params = json_node_dup_object (copy);
    }
  task = start (self, morango_engine_create_root_async, call, cancellable, callback, user_data);
  g_task_run_in_thread (task, create_root_thread);
}

char *
morango_engine_create_root_finish (MorangoEngine  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Backup and restore */

static void
backup_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autofree char *path = g_file_get_path (call->file);

  if (store != NULL && path == NULL)
    {
      g_autofree char *name = g_file_get_parse_name (call->file);

      /* The file is made with mode 0600 through its path. */
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   _("A backup can only be written to a local file, not to “%s”"), name);
    }
  if (store == NULL || path == NULL ||
      !morango_certificate_backup_to_file (morango_store_get_db (store), call->id, call->passphrase, path,
                                           &error))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

void
morango_engine_backup_certificate_async (MorangoEngine       *self,
                                         const char          *id,
                                         const char          *passphrase,
                                         GFile               *file,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (passphrase != NULL);
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->id = g_strdup (id);
  call->passphrase = g_strdup (passphrase);
  call->file = g_object_ref (file);
  task = start (self, morango_engine_backup_certificate_async, call, cancellable, callback, user_data);
  /* Encrypting the key is slow on purpose: not in the shared pool. */
  morango_engine_run_in_own_thread (task, "morango-backup", backup_thread);
}

gboolean
morango_engine_backup_certificate_finish (MorangoEngine  *self,
                                          GAsyncResult   *result,
                                          GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
restore_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  Call *call = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MorangoStore) store = morango_engine_open_store (source_object, &error);
  g_autoptr(MorangoCertificate) c = NULL;
  g_autofree char *text = NULL;

  if (store == NULL || (text = read_file (call->file, &error)) == NULL ||
      (c = morango_certificate_restore (morango_store_get_db (store), text, call->passphrase, NULL,
                                        &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  morango_engine_certificates_changed (source_object);
  g_task_return_pointer (task, g_strdup (morango_certificate_get_id (c)), g_free);
}

void
morango_engine_restore_certificate_async (MorangoEngine       *self,
                                          GFile               *file,
                                          const char          *passphrase,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Call *call;

  g_return_if_fail (MORANGO_IS_ENGINE (self));
  g_return_if_fail (G_IS_FILE (file));
  g_return_if_fail (passphrase != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  call = g_new0 (Call, 1);
  call->file = g_object_ref (file);
  call->passphrase = g_strdup (passphrase);
  task = start (self, morango_engine_restore_certificate_async, call, cancellable, callback, user_data);
  morango_engine_run_in_own_thread (task, "morango-restore", restore_thread);
}

char *
morango_engine_restore_certificate_finish (MorangoEngine  *self,
                                           GAsyncResult   *result,
                                           GError        **error)
{
  g_return_val_if_fail (MORANGO_IS_ENGINE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
