/* morango-passphrase-dialog.h: asks for a passphrase, twice when it protects a new backup
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MORANGO_TYPE_PASSPHRASE_DIALOG (morango_passphrase_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoPassphraseDialog, morango_passphrase_dialog, MORANGO, PASSPHRASE_DIALOG,
                      AdwMessageDialog)

/* With @confirm the passphrase is typed twice and the "accept"
 * response is enabled only when both agree; responses: "cancel",
 * "accept" (labelled @accept_label). */
MorangoPassphraseDialog *morango_passphrase_dialog_new            (GtkWindow  *parent,
                                                                   gboolean    confirm,
                                                                   const char *heading,
                                                                   const char *body,
                                                                   const char *accept_label);
/* The passphrase typed, or NULL when there is none or the two differ
 * (a response forced by other means than the button is still checked
 * against this). */
const char              *morango_passphrase_dialog_get_passphrase (MorangoPassphraseDialog *self);

G_END_DECLS
