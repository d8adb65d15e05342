/*
 * jwtauth.h - JWT-SVID bearer authentication of HTTP requests
 * (JWT-SVID.md section 5.2), as the go-spiffe "JWT-SVID using proxy"
 * server does it.
 *
 * The Authorization value must split into exactly two fields, "Bearer"
 * (case-sensitive, like the reference, although RFC 7235 makes the
 * scheme case-insensitive) and a token.  Fields are separated by runs of
 * the white space Go's strings.Fields knows (ASCII space, tab, VT, FF,
 * and the Unicode spaces U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028,
 * U+2029, U+202F, U+205F, U+3000).  The token is then parsed and
 * validated (jwtsvid.h) against the bundles of a provider for the
 * expected audiences, with a leeway and a verified-token cache.
 */
#ifndef SPIFFE_JWTAUTH_H
#define SPIFFE_JWTAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "jwtsvid.h"
#include "tls.h"

/* An authenticator, shared by a server's threads.  Fields are private. */
typedef struct spiffe_jwt_auth {
	spiffe_bundle_provider bundles;
	const char *const *aud;
	size_t naud;
	spiffe_jwt_options opts;
	spiffe_jwt_cache cache;
	int inited;
} spiffe_jwt_auth;

/*
 * Sets up a to accept tokens for any of aud[0..naud) (naud >= 1; the
 * array and strings must outlive a) signed by a key of bundles (which
 * must outlive a), with leeway seconds (0..86400) on exp, nbf and iat,
 * and a cache of cache_entries verified tokens (0: none).
 */
SPIFFE_CHECK int spiffe_jwt_auth_init(spiffe_jwt_auth *a,
				      const spiffe_bundle_provider *bundles,
				      const char *const *aud, size_t naud,
				      int64_t leeway, size_t cache_entries,
				      spiffe_errbuf *eb);

/* Frees the cache; safe on a zeroed struct and twice. */
void spiffe_jwt_auth_free(spiffe_jwt_auth *a);

/*
 * Finds the token in Authorization value v[0..len) (see the top):
 * 0 with *tok (a view into v) and *tlen, or SPIFFE_ERR_HTTP.
 */
SPIFFE_CHECK int spiffe_jwt_auth_bearer(const char *v, size_t len,
					const char **tok, size_t *tlen);

/*
 * Authenticates a request whose Authorization value is v[0..len) (NULL
 * when the request has none).  0 with the validated token in svid
 * (initialized by the caller); SPIFFE_ERR_HTTP with "Malformed header"
 * in eb when the value is not "Bearer <token>"; else the validation's
 * error with go-spiffe's message, prefix included ("jwtsvid: token has
 * expired").
 */
SPIFFE_CHECK int spiffe_jwt_auth_check(spiffe_jwt_auth *a, const char *v,
				       size_t len, spiffe_jwt_svid *svid,
				       spiffe_errbuf *eb);

/* "sha256:" and 64 hex digits, and a NUL. */
#define SPIFFE_JWT_FINGERPRINT_SIZE 72

/*
 * Writes "sha256:<hex>" of token[0..len) into out: how the programs'
 * verbose logs name a token without revealing it.
 */
void spiffe_jwt_fingerprint(const char *token, size_t len,
			    char out[SPIFFE_JWT_FINGERPRINT_SIZE]);

#endif
