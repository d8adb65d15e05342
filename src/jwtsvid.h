/*
 * jwtsvid.h - JWT-SVIDs (JWT-SVID.md): parse, and parse-and-validate
 * against a bundle set, with an optional verified-token cache.
 *
 * A JWT-SVID is a JWS in compact serialization (three base64url parts,
 * at most SPIFFE_JWT_MAX bytes).  We take exactly what the standard
 * allows and reject the rest:
 *   - header: a JSON object with only "alg", "kid" and "typ" (any other
 *     member, including "crit", "jwk", "x5c", is rejected: JWT-SVID
 *     section 2; go-spiffe tolerates them);
 *   - "alg" exactly RS256/384/512, ES256/384/512 or PS256/384/512,
 *     checked before anything else in the token is looked at;
 *   - "typ" absent or exactly "JWT" or "JOSE";
 *   - "kid" a string.  Validation REQUIRES a non-empty kid: the standard
 *     makes it optional, but SPIRE and go-spiffe require it (spiffe#358)
 *     and a kid is the only safe way to pick the key;
 *   - claims: "sub" a SPIFFE ID, "aud" a string or a non-empty array of
 *     strings (at most SPIFFE_JWT_MAX_AUDIENCES), "exp" a NumericDate,
 *     "nbf" and "iat" optional NumericDates, "iss" and "jti" strings if
 *     present; other claims are allowed.  A missing or empty "aud" is a
 *     format error (JWT-SVID section 3.2: it MUST be present; go-spiffe
 *     lets it through when no audience is expected);
 *   - duplicate member names anywhere are rejected; base64url must be
 *     unpadded and canonical; ECDSA signatures are raw r||s of twice the
 *     field size (DER is rejected), RSA signatures exactly the modulus
 *     size; PSS uses MGF1 with the same hash and a salt of hash length.
 *
 * Validation follows go-spiffe's order, so errors match its wording:
 * parse, typ, claim types, sub/exp/aud present, sub a SPIFFE ID, kid
 * present, bundle of sub's trust domain, authority by kid (only in that
 * bundle), alg matching the key, signature; then audience, nbf, exp, iat
 * with a leeway (default SPIFFE_JWT_DEFAULT_LEEWAY).  So a badly signed
 * expired token reports the signature.  Return values: SPIFFE_ERR_JWT
 * (malformed or rule broken), SPIFFE_ERR_LIMIT (too long, too many
 * audiences), SPIFFE_ERR_NOT_FOUND (no bundle or authority),
 * SPIFFE_ERR_SIGNATURE (key/alg mismatch or bad signature),
 * SPIFFE_ERR_AUDIENCE, SPIFFE_ERR_EXPIRED (exp, nbf or iat),
 * SPIFFE_ERR_ARG (caller error, e.g. no expected audience),
 * SPIFFE_ERR_NOMEM.  Messages carry go-spiffe's words without its
 * "jwtsvid: " prefix, plus the values that failed.
 */
#ifndef SPIFFE_JWTSVID_H
#define SPIFFE_JWTSVID_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "err.h"
#include "json.h"
#include "limits.h"
#include "spiffeid.h"

enum spiffe_jwt_alg {
	SPIFFE_JWT_RS256 = 1,
	SPIFFE_JWT_RS384,
	SPIFFE_JWT_RS512,
	SPIFFE_JWT_ES256,
	SPIFFE_JWT_ES384,
	SPIFFE_JWT_ES512,
	SPIFFE_JWT_PS256,
	SPIFFE_JWT_PS384,
	SPIFFE_JWT_PS512,
};

/* The JOSE name of alg ("ES256"), or "?" for a value out of range. */
const char *spiffe_jwt_alg_name(int alg);

/* A view of a decoded string: bytes [p, p + len), NUL-terminated. */
typedef struct spiffe_jwt_str {
	const char *p;
	size_t len;
} spiffe_jwt_str;

/*
 * A parsed JWT-SVID.  Every view (kid, aud, header, claims, claims_json)
 * points into memory the struct owns and stays valid until the next
 * parse into it or spiffe_jwtsvid_free.
 */
typedef struct spiffe_jwt_svid {
	spiffe_id id;                   /* "sub" */
	int alg;                        /* enum spiffe_jwt_alg */
	spiffe_jwt_str kid;             /* len 0: no kid */
	spiffe_jwt_str typ;             /* len 0: no typ */
	size_t naud;
	spiffe_jwt_str aud[SPIFFE_JWT_MAX_AUDIENCES];
	int64_t exp;                    /* NumericDates, whole seconds */
	int has_nbf;
	int64_t nbf;
	int has_iat;
	int64_t iat;
	spiffe_jwt_str header;          /* decoded header JSON */
	spiffe_jwt_str claims;          /* decoded claims JSON */
	spiffe_json claims_json;        /* claims parsed (for other claims) */
	/* private */
	spiffe_json hdr_json;
	spiffe_jwt_str sig;             /* decoded signature bytes */
	size_t si_len;                  /* signing input: token[0..si_len) */
	size_t used;                    /* bytes of buf in use */
	char *buf;
	size_t cap;
} spiffe_jwt_svid;

void spiffe_jwtsvid_init(spiffe_jwt_svid *s);
/* Frees the buffers; safe on a zeroed struct and twice in a row. */
void spiffe_jwtsvid_free(spiffe_jwt_svid *s);

/*
 * Parses token[0..len) WITHOUT verifying its signature, time or
 * audience: for printing a token, or for one that came from a trusted
 * source (the Workload API) together with spiffe_jwtsvid_validate_claims.
 * Checks every format rule above (kid may be absent).  Fills s.
 */
SPIFFE_CHECK int spiffe_jwtsvid_parse_insecure(spiffe_jwt_svid *s,
					       const char *token, size_t len,
					       spiffe_errbuf *eb);

typedef struct spiffe_jwt_cache spiffe_jwt_cache;

/* Options for validation; NULL means the defaults. */
typedef struct spiffe_jwt_options {
	int64_t leeway;            /* seconds, 0..86400; default 60 */
	spiffe_jwt_cache *cache;   /* NULL: verify every signature */
} spiffe_jwt_options;

/* Sets the defaults: leeway SPIFFE_JWT_DEFAULT_LEEWAY, no cache. */
void spiffe_jwt_options_init(spiffe_jwt_options *o);

/*
 * The time and audience checks on a parsed token: aud must share at
 * least one value with the n >= 1 expected audiences (n == 0 is
 * SPIFFE_ERR_ARG, never a pass), then nbf, exp, iat against
 * spiffe_now() with the leeway.
 */
SPIFFE_CHECK int spiffe_jwtsvid_validate_claims(const spiffe_jwt_svid *s,
						const char *const *aud,
						size_t n,
						const spiffe_jwt_options *o,
						spiffe_errbuf *eb);

/*
 * Parses token[0..len) and validates it: format, key from the bundle of
 * sub's trust domain in set, signature, then the claims as
 * spiffe_jwtsvid_validate_claims.  aud[0..n) are the expected audiences
 * (NUL-terminated, n >= 1).  With o->cache, a token whose signature was
 * verified before under the same bundle set generation skips the
 * signature.  Fills s (also on some failures, for logging; trust it only
 * when 0 is returned).  Thread-safe for a shared set and cache.
 */
SPIFFE_CHECK int spiffe_jwtsvid_parse_and_validate(
	spiffe_jwt_svid *s, const char *token, size_t len,
	const spiffe_bundle_set *set, const char *const *aud, size_t n,
	const spiffe_jwt_options *o, spiffe_errbuf *eb);

/*
 * A cache of tokens whose signatures verified, shared by a server's
 * threads (a mutex guards it).  Entries are found by a keyed hash
 * (SipHash-2-4, random key from spiffe_rng at init) of the whole token,
 * then confirmed by comparing every byte; they die at the token's exp
 * plus leeway and whenever the bundle set generation changes.  At most
 * capacity entries (then the clock algorithm evicts), each holding a
 * copy of its token and of what parsing it gave (at most
 * SPIFFE_JWT_CACHE_MAX_ENTRY bytes; bigger tokens are not cached).  A
 * hit restores that parse instead of repeating it and skips the
 * signature; the audience and time checks run on every call.
 */
struct spiffe_jwt_cache {
	pthread_mutex_t mu;
	uint64_t key[2];
	size_t cap;             /* entries */
	size_t mask;            /* index slots - 1 (a power of two) */
	uint32_t *index;        /* 0 empty, else entry number + 1 */
	struct spiffe_jwt_cache_entry *e;
	size_t hand;            /* clock hand */
	size_t used;
	int ready;
	uint64_t hits, misses;  /* counters, for tests and benchmarks */
};

/*
 * Starts a cache of capacity entries (1..SPIFFE_JWT_CACHE_MAX).
 * SPIFFE_ERR_NOMEM, or SPIFFE_ERR_CRYPTO if no random key could be had.
 */
SPIFFE_CHECK int spiffe_jwt_cache_init(spiffe_jwt_cache *c, size_t capacity,
				       spiffe_errbuf *eb);
/* Frees every entry; safe on a zeroed struct and twice in a row. */
void spiffe_jwt_cache_free(spiffe_jwt_cache *c);
/* Drops every entry (keeps the capacity and key). */
void spiffe_jwt_cache_clear(spiffe_jwt_cache *c);
/* Entries held now. */
size_t spiffe_jwt_cache_count(spiffe_jwt_cache *c);

#endif
