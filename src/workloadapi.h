/*
 * workloadapi.h - the SPIFFE Workload API client, and the X.509 and JWT
 * sources programs use (SPIFFE_Workload_API.md, _Workload_Endpoint.md).
 *
 * gRPC over our own HTTP/2 on a Unix (or loopback TCP) socket.  Every
 * call sends `workload.spiffe.io: true`.  One client holds one
 * connection and multiplexes calls and watches over it; a background
 * thread owned by the client drives the connection.
 *
 * Errors: SPIFFE_ERR_GRPC when the server answered with a non-OK status
 * (eb reads "<StatusName>: <message>", e.g. "PermissionDenied: no
 * identity issued"), SPIFFE_ERR_IO / SPIFFE_ERR_CLOSED when the endpoint
 * cannot be reached or dropped the connection, SPIFFE_ERR_TIMEOUT when a
 * deadline passed, SPIFFE_ERR_LIMIT when a message exceeded the maximum
 * size (gRPC ResourceExhausted), and the identity modules' errors when a
 * response holds invalid material.
 *
 * Shared results are immutable snapshots with reference counts: a TLS
 * handshake on one thread may hold a context while the watch thread
 * installs the next one.
 */
#ifndef SPIFFE_WORKLOADAPI_H
#define SPIFFE_WORKLOADAPI_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "err.h"
#include "grpc.h"
#include "jwtsvid.h"
#include "spiffeid.h"
#include "tls.h"
#include "x509svid.h"

/* enum spiffe_grpc_code and spiffe_grpc_code_name() are in grpc.h. */

typedef struct spiffe_wlapi_options {
	const char *address;     /* NULL: $SPIFFE_ENDPOINT_SOCKET */
	int timeout_ms;          /* one-shot and unary calls; 0: 30000 */
	size_t max_message;      /* received message bound; 0: 4 MiB */
	int omit_header;         /* tests only: leave out the header */
} spiffe_wlapi_options;

/* Zeroes o (the defaults). */
void spiffe_wlapi_options_init(spiffe_wlapi_options *o);

/*
 * An X.509 context: the SVIDs the workload is entitled to (svids[0] is
 * the default; hints are unique, the first of a duplicate wins) and the
 * bundles: the SVIDs' own trust domain and every federated one.
 */
typedef struct spiffe_x509_context {
	spiffe_x509svid *svids;
	size_t nsvids;
	spiffe_bundle_set *bundles;
	/* private */
	unsigned refs;
} spiffe_x509_context;

spiffe_x509_context *spiffe_x509_context_ref(spiffe_x509_context *c);
void spiffe_x509_context_unref(spiffe_x509_context *c);

/* A JWT-SVID as fetched: the token, its parsed form and its hint. */
typedef struct spiffe_wlapi_jwt {
	char *token;             /* NUL-terminated compact JWS */
	size_t token_len;
	spiffe_jwt_svid svid;    /* parsed, not signature-verified */
	char hint[SPIFFE_SVID_HINT_MAX + 1];
} spiffe_wlapi_jwt;

/* Frees n tokens from a fetch and the array. */
void spiffe_wlapi_jwt_free(spiffe_wlapi_jwt *v, size_t n);

typedef struct spiffe_wlapi_client spiffe_wlapi_client;

/*
 * Creates a client for o->address (or the environment).  Connecting is
 * lazy; an invalid address fails here with SPIFFE_ERR_ADDRESS.
 */
SPIFFE_CHECK int spiffe_wlapi_client_new(spiffe_wlapi_client **out,
					 const spiffe_wlapi_options *o,
					 spiffe_errbuf *eb);
/*
 * Stops every watch (each gets its final error), fails calls still in
 * progress, closes the connection, frees c and every watch handle of
 * it; NULL is fine.  Not from a watch callback (it joins that thread).
 */
void spiffe_wlapi_client_free(spiffe_wlapi_client *c);

/* One-shot calls: open the stream, take one message, cancel.  No retry. */
SPIFFE_CHECK int spiffe_wlapi_fetch_x509_context(spiffe_wlapi_client *c,
						 spiffe_x509_context **out,
						 spiffe_errbuf *eb);
SPIFFE_CHECK int spiffe_wlapi_fetch_x509_bundles(spiffe_wlapi_client *c,
						 spiffe_bundle_set **out,
						 spiffe_errbuf *eb);
SPIFFE_CHECK int spiffe_wlapi_fetch_jwt_bundles(spiffe_wlapi_client *c,
						spiffe_bundle_set **out,
						spiffe_errbuf *eb);

/*
 * FetchJWTSVID for audiences aud[0..naud) (naud >= 1) and, if not NULL,
 * one SPIFFE ID.  Each token is parsed; one whose sub differs from the
 * response's spiffe_id or that lacks a requested audience fails the
 * call.  The caller frees *out with spiffe_wlapi_jwt_free(*out, *n).
 */
SPIFFE_CHECK int spiffe_wlapi_fetch_jwt_svids(spiffe_wlapi_client *c,
					      const char *const *aud,
					      size_t naud,
					      const char *spiffe_id,
					      spiffe_wlapi_jwt **out,
					      size_t *n, spiffe_errbuf *eb);

/*
 * ValidateJWTSVID: the server validates token for audience.  On success
 * out (initialized) holds the token parsed locally with the audience
 * and time checked; the server's spiffe_id must equal the token's sub,
 * else SPIFFE_ERR_JWT.  On failure out is left empty.  claims_json, if
 * not NULL, receives the server's claims Struct rendered as JSON
 * (malloc'd).
 */
SPIFFE_CHECK int spiffe_wlapi_validate_jwt(spiffe_wlapi_client *c,
					   const char *token, size_t len,
					   const char *audience,
					   spiffe_jwt_svid *out,
					   char **claims_json,
					   spiffe_errbuf *eb);

/*
 * Watches.  Callbacks run on the client's thread and must not block;
 * an update callback that keeps its argument takes a reference.  error
 * reports each failed update or broken stream with final = 0 (the watch
 * goes on: same stream for a bad message, reconnect with backoff for a
 * broken one) or final = 1 (InvalidArgument or a local stop).
 *
 * Backoff, per watch: 1 s, 2 s, 3 s ... capped at 30 s, reset when that
 * watch's stream delivers an update (one that decoded and went to the
 * update callback).  A stream that ends with status OK is reconnected
 * too.  A call on the client from a callback fails with SPIFFE_ERR_ARG
 * (it would wait for its own thread); watch_stop from a callback is
 * fine and reports the stop to its error callback before returning.
 */
typedef struct spiffe_wlapi_watcher {
	void (*x509_context)(void *arg, spiffe_x509_context *ctx);
	void (*x509_bundles)(void *arg, spiffe_bundle_set *set);
	void (*jwt_bundles)(void *arg, spiffe_bundle_set *set);
	void (*error)(void *arg, int err, const char *msg, int final);
	void *arg;
} spiffe_wlapi_watcher;

typedef struct spiffe_wlapi_watch spiffe_wlapi_watch;

enum spiffe_wlapi_stream {
	SPIFFE_WLAPI_X509_CONTEXT = 1,
	SPIFFE_WLAPI_X509_BUNDLES,
	SPIFFE_WLAPI_JWT_BUNDLES,
};

/* Starts a watch of kind (enum spiffe_wlapi_stream). */
SPIFFE_CHECK int spiffe_wlapi_watch_start(spiffe_wlapi_client *c, int kind,
					  const spiffe_wlapi_watcher *w,
					  spiffe_wlapi_watch **out,
					  spiffe_errbuf *eb);
/* Stops a watch; when it returns no callback of it runs or will run. */
void spiffe_wlapi_watch_stop(spiffe_wlapi_watch *w);

/*
 * The X.509 source: watches X.509 contexts and always holds the latest
 * good one.  _new blocks until the first update or startup_timeout_ms
 * (0: 30 s); on timeout the error names the last status seen ("timed
 * out after 30s; last error: PermissionDenied: no identity issued").
 * On a broken stream it keeps serving the last good context and
 * reconnects.
 */
typedef struct spiffe_x509_source spiffe_x509_source;

SPIFFE_CHECK int spiffe_x509_source_new(spiffe_x509_source **out,
					const spiffe_wlapi_options *o,
					int startup_timeout_ms,
					spiffe_errbuf *eb);
/* Stops the watch and frees everything; NULL is fine. */
void spiffe_x509_source_free(spiffe_x509_source *s);
/* The current context, referenced (unref when done); never NULL. */
spiffe_x509_context *spiffe_x509_source_get(spiffe_x509_source *s);
/* Increases with every installed update (for logs and tests). */
uint64_t spiffe_x509_source_version(spiffe_x509_source *s);

/*
 * The source as TLS providers (tls.h), go-spiffe's X509Source as an
 * x509svid.Source and an x509bundle.Source: the default SVID (svids[0])
 * of the current context, copied for TLS once per update on the watch
 * thread (so rotation reaches the next handshake), and the context's
 * bundle set.  s must outlive every configuration using them.
 */
spiffe_svid_provider spiffe_x509_source_svid_provider(spiffe_x509_source *s);
spiffe_bundle_provider spiffe_x509_source_bundle_provider(
	spiffe_x509_source *s);

/*
 * The JWT source: watches JWT bundles and fetches JWT-SVIDs on demand,
 * caching them per (audience set, SPIFFE ID), at most
 * SPIFFE_WLAPI_JWT_CACHE entries, and fetching again once half of a
 * token's lifetime has passed; when that fetch fails, a cached token
 * that has not expired is served.  _new waits as the X.509 source's.
 */
typedef struct spiffe_jwt_source spiffe_jwt_source;

SPIFFE_CHECK int spiffe_jwt_source_new(spiffe_jwt_source **out,
				       const spiffe_wlapi_options *o,
				       int startup_timeout_ms,
				       spiffe_errbuf *eb);
void spiffe_jwt_source_free(spiffe_jwt_source *s);
/* The current JWT bundles, referenced (unref when done); never NULL. */
spiffe_bundle_set *spiffe_jwt_source_bundles(spiffe_jwt_source *s);
/* The same as a provider (for spiffe_jwt_auth); s must outlive it. */
spiffe_bundle_provider spiffe_jwt_source_bundle_provider(
	spiffe_jwt_source *s);
/*
 * The default JWT-SVID's token for aud[0..naud) (and spiffe_id if not
 * NULL) into a malloc'd NUL-terminated string the caller frees.
 */
SPIFFE_CHECK int spiffe_jwt_source_fetch(spiffe_jwt_source *s,
					 const char *const *aud, size_t naud,
					 const char *spiffe_id, char **token,
					 spiffe_errbuf *eb);

#endif
