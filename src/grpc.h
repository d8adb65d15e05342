/*
 * grpc.h - the client side of gRPC over HTTP/2 (grpc's PROTOCOL-HTTP2.md),
 * with no I/O: the length-prefixed message framing, the request header
 * list, and reading a response's headers, trailers and status.
 *
 * A call's outcome is a spiffe_grpc_status: the gRPC code, the message
 * (percent-decoded, bounded) and which libspiffe error it means
 * (SPIFFE_ERR_GRPC for a status the server sent, SPIFFE_ERR_PROTOCOL for
 * a response that breaks the protocol, SPIFFE_ERR_CLOSED for a stream the
 * peer reset).  Messages read "<CodeName>: <message>".
 *
 * The server side (at the end) reads a request's headers as grpc-go's
 * server does and writes a status as trailers or as a trailers-only
 * response; the same deframer splits request bodies.
 */
#ifndef SPIFFE_GRPC_H
#define SPIFFE_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hpack.h"
#include "limits.h"

/* gRPC status codes (the Workload API uses the ones named here). */
enum spiffe_grpc_code {
	SPIFFE_GRPC_OK = 0,
	SPIFFE_GRPC_CANCELLED = 1,
	SPIFFE_GRPC_UNKNOWN = 2,
	SPIFFE_GRPC_INVALID_ARGUMENT = 3,
	SPIFFE_GRPC_DEADLINE_EXCEEDED = 4,
	SPIFFE_GRPC_NOT_FOUND = 5,
	SPIFFE_GRPC_PERMISSION_DENIED = 7,
	SPIFFE_GRPC_RESOURCE_EXHAUSTED = 8,
	SPIFFE_GRPC_UNIMPLEMENTED = 12,
	SPIFFE_GRPC_INTERNAL = 13,
	SPIFFE_GRPC_UNAVAILABLE = 14,
	SPIFFE_GRPC_UNAUTHENTICATED = 16,
};

/*
 * The name of a status code as grpc-go spells it ("PermissionDenied");
 * codes 0..16 are named, any other value gives "Unknown".
 */
const char *spiffe_grpc_code_name(int code);

/* Bytes of the prefix before each message: flag, 32-bit length. */
#define SPIFFE_GRPC_PREFIX 5

/* Writes the prefix of an uncompressed message of len bytes. */
void spiffe_grpc_prefix(uint8_t out[SPIFFE_GRPC_PREFIX], uint32_t len);

/*
 * Splits a response body into messages, whatever the DATA chunking.  A
 * message's buffer grows as its bytes arrive (never past the length its
 * prefix declared, and that length is checked against max first), so a
 * peer that announces a large message and sends little gets little
 * memory.  Fields are private.
 */
typedef struct spiffe_grpc_deframer {
	size_t max;             /* largest message accepted */
	uint8_t hdr[SPIFFE_GRPC_PREFIX];
	size_t hdr_got;
	uint8_t *buf;           /* the message being received */
	size_t len, got, cap;   /* declared length, bytes held, buffer */
	int err;                /* sticky error, 0 if none */
} spiffe_grpc_deframer;

/* Starts d for messages of at most max bytes (0: the 4 MiB default). */
void spiffe_grpc_deframer_init(spiffe_grpc_deframer *d, size_t max);

/* Frees a partly received message; safe on a zeroed d and twice. */
void spiffe_grpc_deframer_free(spiffe_grpc_deframer *d);

/*
 * Takes bytes from p[0..len), up to the end of the next message, and
 * sets *used.  Returns 1 when a message is complete: *msg (from malloc,
 * never NULL, even for an empty message; the caller frees it) holds its
 * *msg_len bytes.  Returns 0 when all of p was taken and no message is
 * complete.  Errors, which stick: SPIFFE_ERR_LIMIT for a message over
 * max (gRPC ResourceExhausted), SPIFFE_ERR_PROTOCOL for a compressed
 * message or an unknown flag byte, SPIFFE_ERR_NOMEM.
 */
SPIFFE_CHECK int spiffe_grpc_deframer_feed(spiffe_grpc_deframer *d,
					   const uint8_t *p, size_t len,
					   size_t *used, uint8_t **msg,
					   size_t *msg_len,
					   spiffe_errbuf *eb);

/* 1 while part of a message (a prefix byte or more) is held. */
int spiffe_grpc_deframer_partial(const spiffe_grpc_deframer *d);

/* Custom metadata a request may carry besides the six fixed headers. */
#define SPIFFE_GRPC_MAX_METADATA 4

/*
 * The header list of one request: ":method POST", ":scheme http",
 * ":path", ":authority", "content-type application/grpc", "te
 * trailers", then metadata.  The views point at the strings given,
 * which must outlive the list.
 */
typedef struct spiffe_grpc_request {
	spiffe_header h[6 + SPIFFE_GRPC_MAX_METADATA];
	size_t n;
} spiffe_grpc_request;

/*
 * Fills r for a call of path ("/Service/Method") on authority (e.g.
 * "localhost"); both NUL-terminated.
 */
void spiffe_grpc_request_init(spiffe_grpc_request *r, const char *path,
			      const char *authority);

/*
 * Appends the metadata pair name: value (NUL-terminated; the name in
 * lowercase).  SPIFFE_ERR_LIMIT when the list is full.
 */
SPIFFE_CHECK int spiffe_grpc_request_add(spiffe_grpc_request *r,
					 const char *name,
					 const char *value);

/* The longest status message kept (longer ones are cut). */
#define SPIFFE_GRPC_MAX_STATUS_MESSAGE 256

/*
 * A call's outcome.  err: 0 for OK, SPIFFE_ERR_GRPC for a non-OK status
 * from the server, SPIFFE_ERR_PROTOCOL for a response that is not valid
 * gRPC (code then says how grpc-go would report it), SPIFFE_ERR_CLOSED
 * for a stream the peer reset.  msg holds the message, with bytes below
 * 0x20 and 0x7f replaced by '?', NUL-terminated.
 */
typedef struct spiffe_grpc_status {
	int err;
	int code;
	size_t msg_len;
	char msg[SPIFFE_GRPC_MAX_STATUS_MESSAGE + 1];
} spiffe_grpc_status;

/* Sets st to err, code and the formatted message (cut to fit). */
void spiffe_grpc_status_set(spiffe_grpc_status *st, int err, int code,
			    const char *fmt, ...) SPIFFE_PRINTF(4, 5);

/* What the first header section of a response means. */
enum spiffe_grpc_headers_result {
	SPIFFE_GRPC_HEADERS_OK = 0,     /* messages follow */
	SPIFFE_GRPC_HEADERS_INFO = 1,   /* 1xx: ignore, wait for more */
	SPIFFE_GRPC_HEADERS_FINAL = 2,  /* *st is the call's outcome */
};

/*
 * Reads the response's first header section h[0..n) (pseudo-headers
 * first, as HTTP/2 delivers them); end_stream says the section ended the
 * stream.  ":status 200" and a gRPC content-type ("application/grpc"
 * alone or followed by '+' or ';') let messages follow; a section that
 * ends the stream is trailers-only and must hold grpc-status.  Another
 * status maps to a code as gRPC's table says (404 Unimplemented, 503
 * Unavailable, ...).  Returns an enum spiffe_grpc_headers_result; *st is
 * set for SPIFFE_GRPC_HEADERS_FINAL.
 */
int spiffe_grpc_response_headers(const spiffe_header *h, size_t n,
				 int end_stream, spiffe_grpc_status *st);

/*
 * Reads the trailers h[0..n): grpc-status (decimal, required) and
 * grpc-message (percent-encoded, optional), into *st.  Returns st->err.
 */
int spiffe_grpc_response_trailers(const spiffe_header *h, size_t n,
				  spiffe_grpc_status *st);

/*
 * The outcome of a stream the peer reset with HTTP/2 error code h2code,
 * as gRPC maps it (REFUSED_STREAM Unavailable, CANCEL Cancelled,
 * ENHANCE_YOUR_CALM ResourceExhausted, others Internal).
 */
void spiffe_grpc_status_from_reset(spiffe_grpc_status *st, uint32_t h2code);

/* Writes "<CodeName>: <message>" into eb and returns st->err. */
int spiffe_grpc_status_fail(const spiffe_grpc_status *st, spiffe_errbuf *eb);

/* ---- the server side -------------------------------------------------- */

/* What a server takes from a request's header list (views into it). */
typedef struct spiffe_grpc_server_req {
	const uint8_t *path;            /* ":path" */
	size_t path_len;
	const uint8_t *encoding;        /* "grpc-encoding", NULL if absent */
	size_t encoding_len;
} spiffe_grpc_server_req;

/*
 * Reads a request's header list h[0..n) as grpc-go's server does:
 * ":method" must be POST (else HTTP 405 with Internal) and the
 * content-type a gRPC one, "application/grpc" alone or followed by '+'
 * or ';' (else HTTP 415 with InvalidArgument).  Returns 0 and fills r,
 * or SPIFFE_ERR_PROTOCOL with *http_status and st set to the refusal to
 * send as a trailers-only response (spiffe_grpc_trailers_set).
 */
SPIFFE_CHECK int spiffe_grpc_server_request(const spiffe_header *h,
					    size_t n,
					    spiffe_grpc_server_req *r,
					    int *http_status,
					    spiffe_grpc_status *st);

/*
 * Counts the fields named name (lowercase, NUL-terminated) in h[0..n);
 * *value and *len (each may be NULL) get the first one's value.
 */
size_t spiffe_grpc_metadata(const spiffe_header *h, size_t n,
			    const char *name, const uint8_t **value,
			    size_t *len);

/* The longest grpc-message a server sends, in bytes before encoding. */
#define SPIFFE_GRPC_MAX_SENT_MESSAGE 512

/*
 * A status as a server sends it: the fields of the trailers that end a
 * response (grpc-status, grpc-message), or of a trailers-only response
 * (":status", content-type, then the same two).  The fields point into
 * the struct itself, so it must not be copied or moved once set.
 */
typedef struct spiffe_grpc_trailers {
	spiffe_header h[4];
	size_t n;
	char status[4];                 /* HTTP status, 3 digits */
	char code[12];                  /* grpc-status, decimal */
	char msg[3 * SPIFFE_GRPC_MAX_SENT_MESSAGE + 1];
} spiffe_grpc_trailers;

/*
 * Sets t to status code with message msg[0..len), cut to at most
 * SPIFFE_GRPC_MAX_SENT_MESSAGE bytes (never inside a UTF-8 sequence)
 * and percent-encoded as gRPC asks (bytes outside 0x20..0x7e, and '%').
 * http_status 0 gives trailers for a call whose response headers went
 * out; another value gives a trailers-only response with that :status
 * (200 for a call refused before its response began).
 */
void spiffe_grpc_trailers_set(spiffe_grpc_trailers *t, int http_status,
			      int code, const char *msg, size_t len);

/*
 * The header fields that start a successful response: ":status 200",
 * "content-type application/grpc".  Sets *n to 2; the array is static.
 */
const spiffe_header *spiffe_grpc_response_ok(size_t *n);

/*
 * 1 if d failed on a message whose flag byte says compressed (so a
 * server can answer as gRPC does for the encoding in use), else 0.
 */
int spiffe_grpc_deframer_compressed(const spiffe_grpc_deframer *d);

#endif
