/*
 * bundle.h - trust bundles: the authorities of one trust domain, and
 * sets of them keyed by trust domain (SPIFFE_Trust_Domain_and_Bundle.md).
 *
 * A spiffe_bundle holds both kinds of authority: X.509 CA certificates
 * (which verify X.509-SVIDs) and JWT keys by kid (which verify
 * JWT-SVIDs).  It is read from three forms:
 *   - concatenated DER or PEM certificates (Workload API X.509 bundles);
 *   - a plain JWKS (Workload API JWT bundles): every key with a kid and a
 *     supported type is a JWT authority whatever its "use" (SPIRE serves
 *     them with no "use");
 *   - the SPIFFE bundle format (federation): "use" decides, "x509-svid"
 *     takes the first x5c certificate, "jwt-svid" needs a kid, plus
 *     spiffe_sequence and spiffe_refresh_hint.
 * In the JWK forms an entry with an unknown kty or use is skipped, never
 * fatal to the rest.  An empty bundle is valid and trusts nothing.
 */
#ifndef SPIFFE_BUNDLE_H
#define SPIFFE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "err.h"
#include "limits.h"
#include "spiffeid.h"

#ifndef SPIFFE_KID_MAX
#define SPIFFE_KID_MAX 255
#endif

typedef struct spiffe_jwt_authority {
	char kid[SPIFFE_KID_MAX + 1];
	size_t kid_len;
	mbedtls_pk_context pk;   /* EC P-256/384/521 or RSA >= 2048 bits */
} spiffe_jwt_authority;

typedef struct spiffe_bundle {
	spiffe_td td;
	mbedtls_x509_crt x509;         /* X.509 authorities, a crt list */
	size_t nx509;                  /* 0: the list is empty */
	spiffe_jwt_authority *jwt;     /* JWT authorities */
	size_t njwt;
	int has_sequence;
	uint64_t sequence;             /* spiffe_sequence */
	int has_refresh_hint;
	int64_t refresh_hint;          /* spiffe_refresh_hint, seconds */
} spiffe_bundle;

/* Starts an empty bundle of trust domain td. */
void spiffe_bundle_init(spiffe_bundle *b, const spiffe_td *td);
/* Frees everything; safe on a zeroed struct and twice in a row. */
void spiffe_bundle_free(spiffe_bundle *b);

/*
 * Replaces b's X.509 authorities with the certificates in der[0..len)
 * (concatenated DER, as the Workload API sends them; 0 bytes = none).
 * Duplicates are kept once.  On error b is unchanged.
 */
SPIFFE_CHECK int spiffe_bundle_set_x509_der(spiffe_bundle *b,
					    const uint8_t *der, size_t len,
					    spiffe_errbuf *eb);
/* The same from PEM text (one or more CERTIFICATE blocks). */
SPIFFE_CHECK int spiffe_bundle_set_x509_pem(spiffe_bundle *b,
					    const char *pem, size_t len,
					    spiffe_errbuf *eb);
/* Adds one DER certificate unless an identical one is present. */
SPIFFE_CHECK int spiffe_bundle_add_x509(spiffe_bundle *b, const uint8_t *der,
					size_t len, spiffe_errbuf *eb);

/*
 * Replaces b's JWT authorities with the keys of a JWKS (the Workload API
 * form: use ignored).  On error b is unchanged.
 */
SPIFFE_CHECK int spiffe_bundle_set_jwks(spiffe_bundle *b, const char *json,
					size_t len, spiffe_errbuf *eb);

/*
 * Parses a document in the SPIFFE bundle format into b (both kinds of
 * authority, sequence and refresh hint).  On error b is unchanged.
 */
SPIFFE_CHECK int spiffe_bundle_parse_spiffe(spiffe_bundle *b,
					    const char *json, size_t len,
					    spiffe_errbuf *eb);

/*
 * Writes b in the SPIFFE bundle format (x509-svid keys with x5c,
 * jwt-svid keys with kid, sequence and hint when set) into a buffer from
 * malloc; the caller frees *out.
 */
SPIFFE_CHECK int spiffe_bundle_marshal_spiffe(const spiffe_bundle *b,
					      char **out, size_t *len,
					      spiffe_errbuf *eb);

/* Writes b's JWT authorities as a JWKS ({"keys":[...]}, each with kid
 * and use "jwt-svid"); the caller frees *out. */
SPIFFE_CHECK int spiffe_bundle_marshal_jwks(const spiffe_bundle *b,
					    char **out, size_t *len,
					    spiffe_errbuf *eb);

/* Adds a JWT authority (copies the public part of pk). */
SPIFFE_CHECK int spiffe_bundle_add_jwt(spiffe_bundle *b, const char *kid,
				       size_t kid_len,
				       const mbedtls_pk_context *pk,
				       spiffe_errbuf *eb);

/* The JWT authority with this kid, or NULL. */
const spiffe_jwt_authority *spiffe_bundle_find_jwt(const spiffe_bundle *b,
						   const char *kid,
						   size_t kid_len);

/*
 * A set of bundles keyed by trust domain.  Built by one thread, then
 * shared read-only: spiffe_bundle_set_ref/unref count the holders and the
 * last unref frees it.  Each set has a generation number, unique in the
 * process, so caches can tell when the bundles they trusted changed.
 */
typedef struct spiffe_bundle_set spiffe_bundle_set;

/* A new empty set with one reference, or NULL when out of memory. */
spiffe_bundle_set *spiffe_bundle_set_new(void);
spiffe_bundle_set *spiffe_bundle_set_ref(spiffe_bundle_set *s);
void spiffe_bundle_set_unref(spiffe_bundle_set *s);

/*
 * Moves b into the set (b is left empty, to be freed or reused),
 * replacing any bundle of the same trust domain.  Only before sharing.
 */
SPIFFE_CHECK int spiffe_bundle_set_put(spiffe_bundle_set *s,
				       spiffe_bundle *b, spiffe_errbuf *eb);

/* The bundle of trust domain td, or NULL. */
const spiffe_bundle *spiffe_bundle_set_get(const spiffe_bundle_set *s,
					   const spiffe_td *td);
size_t spiffe_bundle_set_count(const spiffe_bundle_set *s);
const spiffe_bundle *spiffe_bundle_set_at(const spiffe_bundle_set *s,
					  size_t i);
uint64_t spiffe_bundle_set_generation(const spiffe_bundle_set *s);

#endif
