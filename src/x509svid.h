/*
 * x509svid.h - X.509-SVIDs (X509-SVID.md): a workload's own SVID (chain
 * and private key) and the verification of a peer's chain.
 *
 * Parsing follows go-spiffe's x509svid.Parse/ParseRaw, rule for rule and
 * with its messages: exactly one URI SAN on the leaf, a SPIFFE ID with a
 * non-root path, leaf not a CA, leaf key usage with digitalSignature and
 * without keyCertSign or cRLSign, every later certificate a CA with
 * keyCertSign, and a private key that matches the leaf.
 *
 * Verification is go-spiffe's x509svid.Verify plus the validator rules of
 * X509-SVID.md section 5 that it lacks (non-root path, key usage present
 * with digitalSignature), with RFC 5280 path validation by mbedTLS against
 * the bundle of the leaf's trust domain only.  Every validity time is
 * compared with spiffe_now().  mbedTLS 3.6 implements neither name nor
 * policy constraints: a CA that marks them critical does not parse, and a
 * path through a CA that carries them non-critical is refused.
 *
 * Supported keys: EC P-256, P-384, P-521 and RSA of at least
 * SPIFFE_X509_RSA_MIN_BITS; signatures use SHA-256, SHA-384 or SHA-512
 * (ECDSA, RSA PKCS#1 v1.5 or RSASSA-PSS).
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

/* An X.509-SVID: the leaf's ID, its chain and its private key. */
typedef struct spiffe_x509svid {
	spiffe_id id;                 /* the leaf's SPIFFE ID */
	mbedtls_x509_crt chain;       /* leaf first, then its signers */
	size_t nchain;                /* certificates in chain, 0 = empty */
	mbedtls_pk_context key;       /* private key of the leaf */
	size_t hint_len;              /* 0 = no hint */
	char hint[SPIFFE_SVID_HINT_MAX + 1]; /* Workload API hint, + NUL */
} spiffe_x509svid;

/* Starts an empty SVID. */
void spiffe_x509svid_init(spiffe_x509svid *svid);

/*
 * Frees the chain and wipes the key; leaves svid empty.  Safe on a zeroed
 * struct and twice in a row.
 */
void spiffe_x509svid_free(spiffe_x509svid *svid);

/*
 * Parses the Workload API form into svid: chain[0..chain_len) is the DER
 * certificates concatenated, leaf first; key[0..key_len) is an
 * unencrypted PKCS#8 DER private key.  At most SPIFFE_X509_MAX_CHAIN
 * certificates of SPIFFE_X509_MAX_DER bytes and a key of
 * SPIFFE_X509_MAX_KEY bytes.  On error svid is unchanged and eb says why
 * ("x509svid: certificate validation failed: ...").  The hint is kept.
 */
SPIFFE_CHECK int spiffe_x509svid_parse_der(spiffe_x509svid *svid,
					   const uint8_t *chain,
					   size_t chain_len,
					   const uint8_t *key, size_t key_len,
					   spiffe_errbuf *eb);

/*
 * The same from PEM text: certs holds CERTIFICATE blocks, leaf first
 * (text between blocks is ignored, other block types are an error); key
 * holds one private key as PKCS#8 ("PRIVATE KEY"), SEC1 ("EC PRIVATE
 * KEY") or PKCS#1 ("RSA PRIVATE KEY"), unencrypted.  Each text is at most
 * SPIFFE_X509_MAX_PEM bytes.
 */
SPIFFE_CHECK int spiffe_x509svid_parse_pem(spiffe_x509svid *svid,
					   const char *certs,
					   size_t certs_len,
					   const char *key, size_t key_len,
					   spiffe_errbuf *eb);

/*
 * Parses a certificate chain without a key, leaf first (the input of
 * spiffe_x509svid_verify): PEM text, read as spiffe_x509svid_parse_pem
 * reads certificates, when p[0..len) holds "-----BEGIN ", else
 * concatenated DER.  At most SPIFFE_X509_MAX_CHAIN certificates in
 * SPIFFE_X509_MAX_PEM bytes; none is an error.  Replaces chain
 * (initialized) and sets *n to the count; on error chain is unchanged.
 */
SPIFFE_CHECK int spiffe_x509_chain_parse(mbedtls_x509_crt *chain, size_t *n,
					 const uint8_t *p, size_t len,
					 spiffe_errbuf *eb);

/*
 * Sets the SVID's hint (the Workload API's X509SVID.hint, any bytes but
 * NUL, at most SPIFFE_SVID_HINT_MAX); len 0 clears it.
 */
SPIFFE_CHECK int spiffe_x509svid_set_hint(spiffe_x509svid *svid,
					  const char *hint, size_t len,
					  spiffe_errbuf *eb);

/*
 * The path a verification accepted.  The pointers are views into the
 * peer chain and into the bundle set given to spiffe_x509svid_verify,
 * valid while both live and are unchanged.
 */
typedef struct spiffe_x509_verified {
	size_t depth;       /* certificates in path, leaf to anchor, >= 2 */
	const mbedtls_x509_crt *path[SPIFFE_X509_MAX_PATH]; /* [0] = leaf */
	const mbedtls_x509_crt *anchor; /* path[depth - 1], a bundle CA */
	int64_t not_after;  /* earliest notAfter on the path, Unix seconds */
} spiffe_x509_verified;

/*
 * Verifies a peer's X.509-SVID chain (leaf first, then the certificates
 * it presented; for TLS, mbedtls_ssl_get_peer_cert()) against the X.509
 * authorities in bundles of the leaf's trust domain, at spiffe_now().
 * No host name is checked; the caller authorizes the returned ID.
 *
 * On success *id is the peer's SPIFFE ID and, when vc is not NULL, *vc
 * the accepted path.  On failure *id is zeroed, *vc is zeroed, eb says
 * why ("x509svid: could not verify leaf certificate: certificate signed
 * by unknown authority") and the result is SPIFFE_ERR_X509 (the chain
 * breaks an SVID or path rule), SPIFFE_ERR_NOT_FOUND (no bundle for the
 * trust domain), SPIFFE_ERR_EXPIRED (a time is out of its window),
 * SPIFFE_ERR_UNSUPPORTED (a key or signature algorithm outside the
 * policy, or a name or policy constraint, which is not implemented),
 * SPIFFE_ERR_LIMIT (more than SPIFFE_X509_MAX_CHAIN certificates, or a
 * path of more than MBEDTLS_X509_MAX_INTERMEDIATE_CA intermediates) or
 * SPIFFE_ERR_ARG.
 */
SPIFFE_CHECK int spiffe_x509svid_verify(const mbedtls_x509_crt *chain,
					const spiffe_bundle_set *bundles,
					spiffe_id *id,
					spiffe_x509_verified *vc,
					spiffe_errbuf *eb);

/*
 * The SPIFFE ID in crt's one URI SAN.  Fails with SPIFFE_ERR_X509 when
 * there is no URI SAN or more than one (whatever their schemes), or with
 * spiffe_id_parse's error when the URI is not a SPIFFE ID; *id is then
 * zeroed.
 */
SPIFFE_CHECK int spiffe_x509_id_from_cert(const mbedtls_x509_crt *crt,
					  spiffe_id *id, spiffe_errbuf *eb);

/*
 * Replaces dst (initialized) with copies of the certificates of the list
 * src, in order.  On error dst is unchanged.
 */
SPIFFE_CHECK int spiffe_x509_chain_copy(mbedtls_x509_crt *dst,
					const mbedtls_x509_crt *src,
					spiffe_errbuf *eb);

/*
 * Writes the certificates of the list chain as PEM CERTIFICATE blocks
 * into a NUL-terminated buffer from malloc; *len excludes the NUL.  The
 * caller frees *out.
 */
SPIFFE_CHECK int spiffe_x509_chain_write_pem(const mbedtls_x509_crt *chain,
					     char **out, size_t *len,
					     spiffe_errbuf *eb);

/*
 * Writes a private key (EC or RSA) as unencrypted PKCS#8 DER, the
 * Workload API form, into a buffer from malloc.  The caller wipes
 * (mbedtls_platform_zeroize) and frees *out.
 */
SPIFFE_CHECK int spiffe_x509_key_write_pkcs8(const mbedtls_pk_context *key,
					     uint8_t **out, size_t *len,
					     spiffe_errbuf *eb);

/*
 * The same as a PEM "PRIVATE KEY" block, NUL-terminated; *len excludes
 * the NUL.  The caller wipes and frees *out.
 */
SPIFFE_CHECK int spiffe_x509_key_write_pem(const mbedtls_pk_context *key,
					   char **out, size_t *len,
					   spiffe_errbuf *eb);

#endif
