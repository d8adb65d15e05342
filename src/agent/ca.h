/*
 * ca.h - the agent's local certificate authority and JWT signer.
 *
 * On first start spiffe_agent_ca_open creates, in the data folder:
 *   ca_key.pem    EC P-256 CA key (SEC1 PEM)
 *   jwt_key.pem   EC P-256 JWT signing key (SEC1 PEM)
 *   jwt_kid       its key ID: 22 random base64url characters
 *   ca_cert.pem   the self-signed root, written last: its presence marks
 *                 a complete set (a crash before it means "not created")
 * each mode 0600, written atomically (store.h), under an flock on
 * ca.lock so that two processes starting together make one CA.  Later
 * starts load and check them, so the bundle survives restarts.
 *
 * The root: X.509 v3, subject and issuer "O=SPIFFE, CN=spiffe-agent CA",
 * random positive 128-bit serial, valid from 10 s before creation for
 * SPIFFE_AGENT_CA_VALIDITY (five years of 365 days; there is no
 * rotation: a new CA means a new folder), basicConstraints CA=true with
 * pathLenConstraint 0 (it signs only leaves), keyUsage keyCertSign and
 * cRLSign (critical), subjectKeyIdentifier, and one URI SAN, the trust
 * domain's own ID "spiffe://<td>" (SPIFFE-ID 3.1).
 *
 * X.509-SVIDs (X509-SVID 4): a fresh EC P-256 key each, subject
 * "O=SPIFFE", random positive 128-bit serial, one URI SAN (the SPIFFE
 * ID), basicConstraints CA=false (critical), keyUsage digitalSignature
 * (critical), extKeyUsage serverAuth and clientAuth, subject and
 * authority key identifiers, ECDSA-SHA256; valid from 10 s before now
 * (but not before the root) to now + TTL, never past the root.
 *
 * JWT-SVIDs (JWT-SVID 2, 3): header exactly
 * {"alg":"ES256","kid":"<kid>","typ":"JWT"} and claims exactly
 * {"aud":[...],"exp":N,"iat":N,"sub":"<id>"} (aud always an array),
 * signed with the raw 64-byte r||s ECDSA signature.
 *
 * One spiffe_agent_ca may be used by many threads once open: signing is
 * serialized by a mutex (mbedTLS caches per-key tables on first use).
 */
#ifndef SPIFFE_AGENT_CA_H
#define SPIFFE_AGENT_CA_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "bundle.h"
#include "err.h"
#include "jwtsvid.h"
#include "limits.h"
#include "spiffeid.h"

#define SPIFFE_AGENT_CA_VALIDITY (5 * 365 * 86400)  /* seconds */
#define SPIFFE_AGENT_X509_TTL 3600      /* default X.509-SVID TTL, s */
#define SPIFFE_AGENT_JWT_TTL 300        /* default JWT-SVID TTL, s */
#define SPIFFE_AGENT_BACKDATE 10        /* notBefore = now - this */
#define SPIFFE_AGENT_KID_LEN 22         /* base64url of 16 random bytes */

/* A counted byte string (not necessarily NUL-terminated). */
typedef struct spiffe_agent_str {
	const char *p;
	size_t len;
} spiffe_agent_str;

/* The CA: its root, its keys, and the bundles derived from them. */
typedef struct spiffe_agent_ca {
	int inited;
	pthread_mutex_t mu;             /* serializes signing */
	int open;                       /* keys loaded */
	int created;                    /* open created them */
	spiffe_td td;
	mbedtls_pk_context key;         /* CA private key */
	mbedtls_x509_crt cert;          /* the root */
	int64_t not_before, not_after;  /* root validity, Unix seconds */
	mbedtls_pk_context jwt_key;     /* JWT signing key */
	char kid[SPIFFE_AGENT_KID_LEN + 1];
	char *jwks;                     /* the JWT bundle, from malloc */
	size_t jwks_len;
	spiffe_bundle_set *bundles;     /* our trust domain's bundle */
} spiffe_agent_ca;

/* Starts a closed CA. */
void spiffe_agent_ca_init(spiffe_agent_ca *ca);
/* Frees keys and buffers; safe on a zeroed struct and twice in a row. */
void spiffe_agent_ca_free(spiffe_agent_ca *ca);

/*
 * Loads the CA of trust domain td from the data folder dirfd (see
 * store.h; the caller keeps dirfd), creating it on first start.  Every
 * loaded file is checked: the root must be a self-signed EC P-256 CA
 * whose only URI SAN is spiffe://<td>, not expired by spiffe_now(), with
 * the CA key as its key pair, and whose subject is encoded exactly as
 * leaves name their issuer.  Errors say which file failed and why; a CA
 * that exists but does not load is never replaced.
 */
SPIFFE_CHECK int spiffe_agent_ca_open(spiffe_agent_ca *ca, int dirfd,
				      const spiffe_td *td, spiffe_errbuf *eb);

/* An issued X.509-SVID; the caller owns the buffers. */
typedef struct spiffe_agent_x509svid {
	uint8_t *cert;          /* DER certificate chain, leaf first */
	size_t cert_len;
	uint8_t *key;           /* unencrypted PKCS#8 DER private key */
	size_t key_len;
	int64_t not_before, not_after;
} spiffe_agent_x509svid;

/* Starts an empty SVID. */
void spiffe_agent_x509svid_init(spiffe_agent_x509svid *s);
/* Wipes the key and frees both buffers; safe on zeroed and twice. */
void spiffe_agent_x509svid_free(spiffe_agent_x509svid *s);

/*
 * Issues an X.509-SVID for id into out (replacing what it held), valid
 * for ttl seconds (0: SPIFFE_AGENT_X509_TTL; at most
 * SPIFFE_AGENT_TTL_MAX), cut at the root's notAfter.  id must be in the
 * CA's trust domain with a non-root path.  SPIFFE_ERR_EXPIRED when the
 * root has expired.
 */
SPIFFE_CHECK int spiffe_agent_ca_issue_x509(spiffe_agent_ca *ca,
					    const spiffe_id *id, int64_t ttl,
					    spiffe_agent_x509svid *out,
					    spiffe_errbuf *eb);

/*
 * Issues a JWT-SVID for id with audiences aud[0..naud) (1 to
 * SPIFFE_JWT_MAX_AUDIENCES non-empty UTF-8 strings), iat now and exp
 * now + ttl (0: SPIFFE_AGENT_JWT_TTL; at most SPIFFE_AGENT_TTL_MAX).
 * The token (NUL-terminated, from malloc) goes to *token, its length to
 * *len; it is at most SPIFFE_JWT_MAX bytes.
 */
SPIFFE_CHECK int spiffe_agent_ca_issue_jwt(spiffe_agent_ca *ca,
					   const spiffe_id *id,
					   const spiffe_agent_str *aud,
					   size_t naud, int64_t ttl,
					   char **token, size_t *len,
					   spiffe_errbuf *eb);

/*
 * The X.509 bundle: the root as DER (the Workload API's concatenated
 * DER form).  A view valid until spiffe_agent_ca_free.
 */
const uint8_t *spiffe_agent_ca_x509_bundle(const spiffe_agent_ca *ca,
					   size_t *len);

/*
 * The JWT bundle as a JWKS document: {"keys":[{"kty":"EC","crv":"P-256",
 * "x":...,"y":...,"kid":...,"use":"jwt-svid"}]}.  A view valid until
 * spiffe_agent_ca_free.
 */
const char *spiffe_agent_ca_jwks(const spiffe_agent_ca *ca, size_t *len);

/*
 * The CA's bundles as a set (one bundle: the root and the JWT key), for
 * validating tokens and peers; a view valid until spiffe_agent_ca_free
 * (take a reference with spiffe_bundle_set_ref to keep it longer).
 */
const spiffe_bundle_set *spiffe_agent_ca_bundles(const spiffe_agent_ca *ca);

/*
 * Validates token[0..len) for ValidateJWTSVID (Workload API 6.2.3):
 * exactly as spiffe_jwtsvid_parse_and_validate does (alg, typ, kid, sub,
 * signature, then audience, nbf, exp and iat with a leeway of
 * SPIFFE_JWT_DEFAULT_LEEWAY), against the bundle of sub's trust domain
 * among the CA's bundles (so only this trust domain's tokens pass), with
 * aud[0..aud_len) the one expected audience.  s (initialized by the
 * caller) receives the token (its SPIFFE ID and claims for the reply).
 * An empty audience or token is SPIFFE_ERR_ARG ("audience must be
 * specified", "svid must be specified"), as SPIRE answers.
 */
SPIFFE_CHECK int spiffe_agent_ca_validate_jwt(spiffe_agent_ca *ca,
					      const char *token, size_t len,
					      const char *aud, size_t aud_len,
					      spiffe_jwt_svid *s,
					      spiffe_errbuf *eb);

#endif
