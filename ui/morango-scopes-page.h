/* morango-scopes-page.h: the Scopes page of the window
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_SCOPES_PAGE (morango_scopes_page_get_type ())
G_DECLARE_FINAL_TYPE (MorangoScopesPage, morango_scopes_page, MORANGO, SCOPES_PAGE, AdwBin)

void           morango_scopes_page_set_engine  (MorangoScopesPage *self,
                                                MorangoEngine      *engine);
MorangoEngine *morango_scopes_page_get_engine  (MorangoScopesPage *self);
/* Whether a reading of the engine's scopes is under way (the
 * "loading" property). */
gboolean       morango_scopes_page_get_loading (MorangoScopesPage *self);
/* The number of scope groups shown (records outside every scope count
 * as one). */
guint          morango_scopes_page_get_n_scopes (MorangoScopesPage *self);

G_END_DECLS
