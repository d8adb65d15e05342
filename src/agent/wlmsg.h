/*
 * wlmsg.h - the Workload API messages as the agent's server sees them:
 * requests decoded into views, responses encoded by hand into one
 * gRPC-framed buffer (the 5-byte prefix, then the protobuf bytes), with
 * no copies of certificates, keys or tokens on the way.
 *
 * Requests are decoded as protobuf-go would (grpc-go's server uses it):
 * unknown fields, and known fields of another wire type, are skipped; a
 * repeated singular field keeps its last value; string fields must be
 * valid UTF-8.  A malformed message fails with SPIFFE_ERR_MALFORMED and
 * protobuf-go's words, which the server returns as gRPC Internal
 * "grpc: error unmarshalling request: <words>", as grpc-go does.
 *
 * Responses are written as protobuf-go writes them: fields in number
 * order, empty proto3 strings left out.
 */
#ifndef SPIFFE_AGENT_WLMSG_H
#define SPIFFE_AGENT_WLMSG_H

#include <stddef.h>
#include <stdint.h>

#include "agent/ca.h"
#include "err.h"
#include "json.h"
#include "limits.h"

/* A decoded JWTSVIDRequest; the views point into the message. */
typedef struct spiffe_agent_jwt_req {
	spiffe_agent_str aud[SPIFFE_JWT_MAX_AUDIENCES];
	size_t naud;
	spiffe_agent_str spiffe_id;     /* len 0: unset */
} spiffe_agent_jwt_req;

/* A decoded ValidateJWTSVIDRequest; views into the message. */
typedef struct spiffe_agent_validate_req {
	spiffe_agent_str audience;
	spiffe_agent_str svid;
} spiffe_agent_validate_req;

/*
 * Checks that p[0..len) is a well-formed message of a type with no
 * fields of interest (X509SVIDRequest, X509BundlesRequest,
 * JWTBundlesRequest: every field is unknown and skipped).
 */
SPIFFE_CHECK int spiffe_agent_decode_empty(const uint8_t *p, size_t len,
					   spiffe_errbuf *eb);

/*
 * Decodes a JWTSVIDRequest from p[0..len) into r.  More than
 * SPIFFE_JWT_MAX_AUDIENCES audiences is SPIFFE_ERR_LIMIT.
 */
SPIFFE_CHECK int spiffe_agent_decode_jwt_req(const uint8_t *p, size_t len,
					     spiffe_agent_jwt_req *r,
					     spiffe_errbuf *eb);

/* Decodes a ValidateJWTSVIDRequest from p[0..len) into r. */
SPIFFE_CHECK int spiffe_agent_decode_validate_req(const uint8_t *p,
						  size_t len,
						  spiffe_agent_validate_req *r,
						  spiffe_errbuf *eb);

/* One X509SVID of a response; the bytes stay the caller's. */
typedef struct spiffe_agent_x509_item {
	spiffe_agent_str spiffe_id;
	const uint8_t *cert;            /* DER chain, leaf first */
	size_t cert_len;
	const uint8_t *key;             /* PKCS#8 DER */
	size_t key_len;
	spiffe_agent_str hint;          /* len 0: none */
} spiffe_agent_x509_item;

/* One JWTSVID of a response. */
typedef struct spiffe_agent_jwt_item {
	spiffe_agent_str spiffe_id;
	spiffe_agent_str token;
	spiffe_agent_str hint;
} spiffe_agent_jwt_item;

/*
 * Each encoder writes the gRPC-framed message into a buffer from malloc
 * (*out, *len; the caller frees it).  SPIFFE_ERR_LIMIT when the message
 * would exceed SPIFFE_GRPC_MAX_MESSAGE (what clients accept by
 * default), SPIFFE_ERR_NOMEM.
 */

/* X509SVIDResponse: the SVIDs v[0..n), each with bundle. */
SPIFFE_CHECK int spiffe_agent_encode_x509_svids(
	const spiffe_agent_x509_item *v, size_t n, const uint8_t *bundle,
	size_t bundle_len, uint8_t **out, size_t *len);

/* X509BundlesResponse: bundles = { key: der }. */
SPIFFE_CHECK int spiffe_agent_encode_x509_bundles(const char *key,
						  size_t key_len,
						  const uint8_t *der,
						  size_t der_len,
						  uint8_t **out, size_t *len);

/* JWTBundlesResponse: bundles = { key: jwks }. */
SPIFFE_CHECK int spiffe_agent_encode_jwt_bundles(const char *key,
						 size_t key_len,
						 const char *jwks,
						 size_t jwks_len,
						 uint8_t **out, size_t *len);

/* JWTSVIDResponse: the tokens v[0..n). */
SPIFFE_CHECK int spiffe_agent_encode_jwt_svids(
	const spiffe_agent_jwt_item *v, size_t n, uint8_t **out,
	size_t *len);

/*
 * ValidateJWTSVIDResponse: spiffe_id and the claims, the JSON object
 * parsed in claims (token 0), as a google.protobuf.Struct: numbers
 * become doubles, and a string "aud" becomes a one-element list, as
 * SPIRE sends it.
 */
SPIFFE_CHECK int spiffe_agent_encode_validate(const char *id,
					      size_t id_len,
					      const spiffe_json *claims,
					      uint8_t **out, size_t *len,
					      spiffe_errbuf *eb);

#endif
