/* morango-history-dialog.h: the syncs with one peer, newest first
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_HISTORY_DIALOG (morango_history_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MorangoHistoryDialog, morango_history_dialog, MORANGO, HISTORY_DIALOG, AdwWindow)

/* Reads the history through the engine at once (see "loading"). */
MorangoHistoryDialog *morango_history_dialog_new         (MorangoEngine          *engine,
                                                          const MorangoKnownPeer *peer);
gboolean              morango_history_dialog_get_loading (MorangoHistoryDialog   *self);
/* The list of entries (one AdwActionRow each). */
GtkListBox           *morango_history_dialog_get_list    (MorangoHistoryDialog   *self);

G_END_DECLS
