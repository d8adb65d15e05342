/*
 * wlapi_msg.h - Workload API messages: requests encoded, responses
 * decoded and turned into library objects (private to libspiffe; the
 * client in workloadapi.c and the tests use it).
 *
 * Every response is first walked by hand (wlapi_msg.c) before nanopb
 * decodes it: string fields must not hold a NUL byte (nanopb would
 * silently cut the string there: "spiffe://td\0evil" would read as
 * "spiffe://td"), declared fields must have their declared wire type,
 * and repeated fields are counted against the limits in limits.h before
 * nanopb allocates anything (it grows arrays one element at a time).
 * Conversion follows go-spiffe's workloadapi client (see
 * gospiffe-behaviour.md section 4.4) with the stricter checks noted at
 * each function.
 */
#ifndef SPIFFE_WLAPI_MSG_H
#define SPIFFE_WLAPI_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "workloadapi.h"

/* The Workload API's methods. */
enum spiffe_wlapi_method {
	SPIFFE_WLAPI_FETCH_X509_SVID = 0,
	SPIFFE_WLAPI_FETCH_X509_BUNDLES,
	SPIFFE_WLAPI_FETCH_JWT_SVID,
	SPIFFE_WLAPI_FETCH_JWT_BUNDLES,
	SPIFFE_WLAPI_VALIDATE_JWT_SVID,
};

/* The method's HTTP/2 :path ("/SpiffeWorkloadAPI/FetchX509SVID"). */
const char *spiffe_wlapi_method_path(int method);

/*
 * The gRPC-framed FetchJWTSVID request (5-byte prefix, then the
 * message) for aud[0..naud) and sid (NULL or "" for none), in a
 * buffer from malloc the caller frees.
 */
SPIFFE_CHECK int spiffe_wlapi_encode_jwt_request(const char *const *aud,
						 size_t naud,
						 const char *sid,
						 uint8_t **out, size_t *len,
						 spiffe_errbuf *eb);

/* The same for ValidateJWTSVID (audience and token). */
SPIFFE_CHECK int spiffe_wlapi_encode_validate_request(const char *audience,
						      const char *token,
						      size_t token_len,
						      uint8_t **out,
						      size_t *len,
						      spiffe_errbuf *eb);

/* A new context (one reference) with no SVIDs and no bundles, or NULL. */
spiffe_x509_context *spiffe_x509_context_new(void);

/*
 * X509SVIDResponse bytes into a new context (one reference).  Stricter
 * than go-spiffe: each SVID's spiffe_id must be the certificate's URI
 * SAN; bundles are taken from the SVIDs kept (a duplicate hint's SVID is
 * skipped with its bundle).
 */
SPIFFE_CHECK int spiffe_wlapi_parse_x509_context(const uint8_t *p,
						 size_t len,
						 spiffe_x509_context **out,
						 spiffe_errbuf *eb);

/* X509BundlesResponse bytes into a new bundle set. */
SPIFFE_CHECK int spiffe_wlapi_parse_x509_bundles(const uint8_t *p,
						 size_t len,
						 spiffe_bundle_set **out,
						 spiffe_errbuf *eb);

/* JWTBundlesResponse bytes into a new bundle set (each value a JWKS). */
SPIFFE_CHECK int spiffe_wlapi_parse_jwt_bundles(const uint8_t *p,
						size_t len,
						spiffe_bundle_set **out,
						spiffe_errbuf *eb);

/*
 * JWTSVIDResponse bytes into *n tokens (*out from malloc; free with
 * spiffe_wlapi_jwt_free), each parsed and checked against the
 * audiences aud[0..naud) and the leeway, and its sub against the
 * response's spiffe_id.
 */
SPIFFE_CHECK int spiffe_wlapi_parse_jwt_svids(const uint8_t *p, size_t len,
					      const char *const *aud,
					      size_t naud,
					      spiffe_wlapi_jwt **out,
					      size_t *n, spiffe_errbuf *eb);

/*
 * ValidateJWTSVIDResponse bytes for token[0..token_len) and audience:
 * out gets the token parsed locally (audience and time checked), whose
 * sub must equal the server's spiffe_id; claims_json, if not NULL, the
 * claims rendered as JSON (malloc'd).
 */
SPIFFE_CHECK int spiffe_wlapi_parse_validate(const uint8_t *p, size_t len,
					     const char *token,
					     size_t token_len,
					     const char *audience,
					     spiffe_jwt_svid *out,
					     char **claims_json,
					     spiffe_errbuf *eb);

/*
 * A google.protobuf.Struct in p[0..len) as a JSON object (members in
 * wire order, duplicates rejected, numbers as exact integers when they
 * are whole and below 2^53, else with 17 significant digits; nesting at
 * most SPIFFE_JSON_MAX_DEPTH, output at most SPIFFE_WLAPI_MAX_CLAIMS).
 * *out is NUL-terminated, from malloc; *outlen excludes the NUL.
 */
SPIFFE_CHECK int spiffe_wlapi_struct_to_json(const uint8_t *p, size_t len,
					     char **out, size_t *outlen,
					     spiffe_errbuf *eb);

#endif
