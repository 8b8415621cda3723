/* morango-import-dialog.h: what a chain file holds and what it would make trusted
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine-certificates.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_IMPORT_DIALOG (morango_import_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoImportDialog, morango_import_dialog, MORANGO, IMPORT_DIALOG, AdwMessageDialog)

/* Shows @preview of @file and asks to confirm; responses "cancel" and
 * "import".  Nothing is stored by the dialog itself. */
MorangoImportDialog       *morango_import_dialog_new         (GtkWindow                 *parent,
                                                              GFile                     *file,
                                                              MorangoEngineChainPreview *preview);
GFile                     *morango_import_dialog_get_file    (MorangoImportDialog       *self);
MorangoEngineChainPreview *morango_import_dialog_get_preview (MorangoImportDialog       *self);
/* Whether confirming also makes the chain's root a trust anchor. */
gboolean                   morango_import_dialog_get_trusts_root (MorangoImportDialog   *self);

G_END_DECLS
