/* morango-certificates-page.h: the Certificates page of the window
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <adwaita.h>

#include "morango-engine.h"

G_BEGIN_DECLS

#define MORANGO_TYPE_CERTIFICATES_PAGE (morango_certificates_page_get_type ())
G_DECLARE_FINAL_TYPE (MorangoCertificatesPage, morango_certificates_page, MORANGO, CERTIFICATES_PAGE, AdwBin)

void           morango_certificates_page_set_engine (MorangoCertificatesPage *self,
                                               MorangoEngine      *engine);
MorangoEngine *morango_certificates_page_get_engine (MorangoCertificatesPage *self);

/* Reads the chain in @file and shows what it holds and what it would
 * make trusted, asking to confirm before anything is stored (what the
 * Import button does once a file is chosen). */
void           morango_certificates_page_import_file (MorangoCertificatesPage *self,
                                                      GFile                   *file);

/* The certificates listed (MorangoEngineCertificate), tree order. */
GListModel    *morango_certificates_page_get_certificates (MorangoCertificatesPage *self);
/* The certificate whose details are shown; NULL when none. */
const char    *morango_certificates_page_get_selected_id  (MorangoCertificatesPage *self);
/* Reading the list (the "loading" property). */
gboolean       morango_certificates_page_get_loading      (MorangoCertificatesPage *self);
/* An operation (preview, import, export, …) is running (the "busy"
 * property). */
gboolean       morango_certificates_page_get_busy         (MorangoCertificatesPage *self);
/* The dialog the page shows now (an import preview, a passphrase, a
 * new root, or a refusal), NULL when none. */
AdwMessageDialog *morango_certificates_page_get_dialog    (MorangoCertificatesPage *self);
/* The last refusal or error shown, NULL before one. */
const char    *morango_certificates_page_get_last_error   (MorangoCertificatesPage *self);

G_END_DECLS
