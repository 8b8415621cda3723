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

G_END_DECLS
