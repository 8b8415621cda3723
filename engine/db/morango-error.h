/* morango-error.h: the engine's error domains
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Errors of the SQLite layer. */
#define MORANGO_DB_ERROR (morango_db_error_quark ())
typedef enum {
  MORANGO_DB_ERROR_OPEN,         /* the file could not be opened or created */
  MORANGO_DB_ERROR_NOT_MORANGO,  /* a readable SQLite file that is not ours */
  MORANGO_DB_ERROR_CORRUPT,      /* not a database, or damaged */
  MORANGO_DB_ERROR_TOO_NEW,      /* written by a newer schema version */
  MORANGO_DB_ERROR_BUSY,         /* locked by another writer past the timeout */
  MORANGO_DB_ERROR_CONSTRAINT,   /* a constraint was violated */
  MORANGO_DB_ERROR_FAILED,       /* any other SQLite failure */
  MORANGO_DB_ERROR_WRONG_THREAD, /* used on a thread it was not handed over to */
  MORANGO_DB_ERROR_READ_ONLY,    /* a write or a transaction on a reading connection */
  MORANGO_DB_ERROR_INSECURE,     /* readable or writable by others: not used */
  MORANGO_DB_ERROR_PERMISSION,   /* a write where the file or folder cannot be written */
} MorangoDbError;

/* Errors of everything above the db layer.  The certificate codes map
 * one to one to Morango's exception classes (protocol §7.6). */
#define MORANGO_ERROR (morango_error_quark ())
typedef enum {
  MORANGO_ERROR_FAILED,
  MORANGO_ERROR_INVALID,                  /* malformed input: JSON, ids, fields */
  MORANGO_ERROR_NOT_FOUND,
  MORANGO_ERROR_INVALID_SOURCE_ID,        /* InvalidMorangoSourceId */
  MORANGO_ERROR_UNKNOWN_MODEL,
  MORANGO_ERROR_UNKNOWN_PROFILE,
  MORANGO_ERROR_UNKNOWN_SCOPE_DEFINITION,
  MORANGO_ERROR_INVALID_FSIC_PARTITION,   /* MorangoInvalidFSICPartition */
  MORANGO_ERROR_INVALID_FSIC,             /* v2 FSIC without super/sub */
  MORANGO_ERROR_LIMIT_EXCEEDED,           /* MorangoLimitExceeded */
  MORANGO_ERROR_RECORD_REJECTED,          /* receipt verification failed */
  MORANGO_ERROR_VALIDATION,               /* an application row failed validation */
  MORANGO_ERROR_CERT_ID_INVALID,          /* CertificateIDInvalid */
  MORANGO_ERROR_CERT_SIGNATURE_INVALID,   /* CertificateSignatureInvalid */
  MORANGO_ERROR_CERT_ROOT_SCOPE_INVALID,  /* CertificateRootScopeInvalid */
  MORANGO_ERROR_CERT_SCOPE_NOT_SUBSET,    /* CertificateScopeNotSubset */
  MORANGO_ERROR_CERT_PROFILE_INVALID,     /* CertificateProfileInvalid */
  MORANGO_ERROR_CERT_PARENT_MISSING,      /* Django's DoesNotExist for the parent */
  MORANGO_ERROR_CERT_CHAIN_INVALID,       /* the AssertionErrors of chain import */
  MORANGO_ERROR_CERT_CONFLICT,            /* same id, different text (quirk 18) */
  MORANGO_ERROR_CERT_UNTRUSTED,           /* chain ends in a root we do not trust */
  MORANGO_ERROR_KEY_INVALID,
  MORANGO_ERROR_NONCE_INVALID,            /* NonceDoesNotExist / NonceExpired */
  MORANGO_ERROR_PERMISSION_DENIED,
  MORANGO_ERROR_CANCELLED,
  MORANGO_ERROR_AMBIGUOUS,                /* several answers fit; the caller must choose */
  MORANGO_ERROR_PIN_MISMATCH,             /* a peer's TLS certificate is not the one pinned */
  MORANGO_ERROR_NOT_CONFIRMED,            /* the user did not confirm what was shown */
} MorangoError;

GQuark morango_db_error_quark (void);
GQuark morango_error_quark    (void);

G_END_DECLS
