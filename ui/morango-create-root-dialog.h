/* morango-create-root-dialog.h: a new root certificate: its scope definition and params
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define MORANGO_TYPE_CREATE_ROOT_DIALOG (morango_create_root_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoCreateRootDialog, morango_create_root_dialog, MORANGO, CREATE_ROOT_DIALOG,
                      AdwMessageDialog)

/* @definitions: the MorangoScopeDefinition * that can make a root
 * (morango_engine_list_root_scopes_async()), at least one.  Responses
 * "cancel" and "create", the latter enabled once every param is
 * filled in. */
MorangoCreateRootDialog *morango_create_root_dialog_new                  (GtkWindow *parent,
                                                                          GPtrArray *definitions);
const char              *morango_create_root_dialog_get_scope_definition (MorangoCreateRootDialog *self);
/* The params typed, by name; NULL when one is still empty. */
JsonObject              *morango_create_root_dialog_dup_params           (MorangoCreateRootDialog *self);

G_END_DECLS
