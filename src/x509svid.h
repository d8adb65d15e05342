/*
 * x509svid.h - TEMPORARY subset of h/x509's API, so the TLS layer can be
 * built and tested before h/x509 lands.  Replaced by h/x509's header and
 * implementation on merge (x509svid_shim.c is then deleted).
 */
#ifndef SPIFFE_X509SVID_H
#define SPIFFE_X509SVID_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "bundle.h"
#include "err.h"
#include "limits.h"
#include "spiffeid.h"

#ifndef SPIFFE_SVID_HINT_MAX
#define SPIFFE_SVID_HINT_MAX 1024
#endif
#ifndef SPIFFE_X509_MAX_PATH
#define SPIFFE_X509_MAX_PATH 17
#endif

/* An X.509-SVID: the leaf's ID, its chain and its private key. */
typedef struct spiffe_x509svid {
	spiffe_id id;
	mbedtls_x509_crt chain;
	size_t nchain;
	mbedtls_pk_context key;
	size_t hint_len;
	char hint[SPIFFE_SVID_HINT_MAX + 1];
} spiffe_x509svid;

/* Starts an empty SVID. */
void spiffe_x509svid_init(spiffe_x509svid *svid);
/* Frees the chain and wipes the key; safe twice. */
void spiffe_x509svid_free(spiffe_x509svid *svid);
/* Parses DER chain + PKCS#8 DER key. */
SPIFFE_CHECK int spiffe_x509svid_parse_der(spiffe_x509svid *svid,
					   const uint8_t *chain,
					   size_t chain_len,
					   const uint8_t *key, size_t key_len,
					   spiffe_errbuf *eb);
/* Parses PEM certificates (leaf first) and a PEM private key. */
SPIFFE_CHECK int spiffe_x509svid_parse_pem(spiffe_x509svid *svid,
					   const char *certs,
					   size_t certs_len,
					   const char *key, size_t key_len,
					   spiffe_errbuf *eb);

/* The path a verification accepted. */
typedef struct spiffe_x509_verified {
	size_t depth;
	const mbedtls_x509_crt *path[SPIFFE_X509_MAX_PATH];
	const mbedtls_x509_crt *anchor;
	int64_t not_after;
} spiffe_x509_verified;

/* Verifies a peer chain against the bundle of the leaf's trust domain. */
SPIFFE_CHECK int spiffe_x509svid_verify(const mbedtls_x509_crt *chain,
					const spiffe_bundle_set *bundles,
					spiffe_id *id,
					spiffe_x509_verified *vc,
					spiffe_errbuf *eb);

/* The SPIFFE ID in crt's one URI SAN. */
SPIFFE_CHECK int spiffe_x509_id_from_cert(const mbedtls_x509_crt *crt,
					  spiffe_id *id, spiffe_errbuf *eb);

#endif
