/*
 * http1.h - HTTP/1.1 message heads, bodies and writers, without I/O.
 *
 * Bytes go in as (pointer, length); results are offsets into the caller's
 * bytes (spiffe_http_span) or land in caller buffers.  Nothing here reads
 * a socket, allocates or keeps global state.
 *
 * The grammar is RFC 9112's, read strictly:
 *   - lines end in CRLF; a bare LF or a bare CR anywhere in a head, a
 *     chunk-size line or a trailer is an error (RFC 9112 section 2.2
 *     allows accepting a bare LF; we do not, so `openssl s_client` needs
 *     -crlf).  One empty line before a request line is ignored;
 *   - start lines have single SPs; methods and field names are tokens; a
 *     request-target is visible ASCII; versions are "HTTP/1.x" (x > 1
 *     reads as 1, as RFC 9110 section 6.2 asks), others get 505;
 *   - whitespace before a field's colon, obsolete line folding, and
 *     control characters (NUL included) in values are errors;
 *   - Content-Length and Transfer-Encoding together, more than one
 *     Content-Length (even with equal values), a list or non-digits in
 *     it, or a value past 2^64 - 1 are errors;
 *   - Transfer-Encoding must end in "chunked" (once), else 400; any
 *     coding before it gets 501; an HTTP/1.0 request with it gets 400;
 *   - an HTTP/1.1 request needs exactly one Host with URI host
 *     characters; at most one Authorization (the server's JWT-SVID check
 *     depends on it).
 * Empty list elements in Connection and Transfer-Encoding are ignored
 * (RFC 9110 section 5.6.1); other elements must be tokens.
 *
 * Errors: SPIFFE_ERR_HTTP (malformed), SPIFFE_ERR_LIMIT (a limit in
 * limits.h), SPIFFE_ERR_UNSUPPORTED (version, transfer coding, 101) and
 * SPIFFE_ERR_AGAIN (need more bytes).  After an error on a request, the
 * struct's error_status is the status the server answers with (400, 413,
 * 414, 431, 501, 505) before closing the connection; on a response it is
 * 502, what a proxy answers its own client.  A line of detail goes to
 * the errbuf.
 *
 * A server connection: keep the bytes received in a buffer; per request,
 * spiffe_http_head_init, then spiffe_http_request_parse on the buffer
 * after each read until it returns 0 (on an error, write error_status
 * with Connection: close and close).  If expect_continue and the body is
 * wanted, write a 100 response.  spiffe_http_body_begin with the head's
 * framing and content_length, then spiffe_http_body_read on the bytes
 * from head_len on until it returns 0.  Answer with
 * spiffe_http_write_response (and spiffe_http_chunk_encode), close
 * unless keep_alive, and start over at the first unconsumed byte: a
 * pipelined request may already be there.
 *
 * A client or proxy upstream: spiffe_http_write_request, then
 * spiffe_http_response_parse (saying whether the request was HEAD) and
 * the body the same way; a CLOSE body ends when the server closes, any
 * other ends early only by error.  A proxy forwards the fields for which
 * spiffe_http_is_hop_by_hop is 0 and frames the body itself.
 */
#ifndef SPIFFE_HTTP1_H
#define SPIFFE_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

/* How a message body is delimited (RFC 9112 section 6.3). */
enum spiffe_http_framing {
	SPIFFE_HTTP_BODY_NONE = 0,   /* no body */
	SPIFFE_HTTP_BODY_LENGTH,     /* content_length bytes */
	SPIFFE_HTTP_BODY_CHUNKED,    /* chunked transfer coding */
	SPIFFE_HTTP_BODY_CLOSE,      /* response: until the server closes */
};

/* Bytes p[off .. off + len) of the buffer that was parsed. */
typedef struct spiffe_http_span {
	uint32_t off;
	uint32_t len;
} spiffe_http_span;

/* One field line: name as sent, value without surrounding whitespace. */
typedef struct spiffe_http_field {
	spiffe_http_span name;
	spiffe_http_span value;
} spiffe_http_field;

/*
 * A parsed request or response head.  Spans are offsets into the buffer
 * given to the parse call, so they stay valid if the caller moves the
 * buffer; they mean nothing for other bytes.
 */
typedef struct spiffe_http_head {
	spiffe_http_span method;     /* request: method token */
	spiffe_http_span target;     /* request: request-target */
	spiffe_http_span reason;     /* response: reason phrase, maybe empty */
	int status;                  /* response: final status code */
	int minor;                   /* HTTP/1.minor: 0 or 1 */
	int framing;                 /* enum spiffe_http_framing */
	uint64_t content_length;     /* framing LENGTH: body bytes, else 0 */
	int keep_alive;              /* connection may carry another message */
	int expect_continue;         /* request: Expect: 100-continue (1.1) */
	unsigned interim;            /* response: 1xx heads skipped */
	int error_status;            /* after an error: see the top */
	size_t head_len;             /* bytes the head (interims too) took */
	size_t nfields;
	spiffe_http_field fields[SPIFFE_HTTP_MAX_HEADERS];
	/* Parser state; private. */
	size_t pos;                  /* start of the next unparsed line */
	size_t scan;                 /* bytes before this hold no line end */
	size_t hdr_start;            /* start of the current header block */
	int phase;
	int role;
	int err;
} spiffe_http_head;

/* Readies h for a new message; h owns no memory, so there is no _free. */
void spiffe_http_head_init(spiffe_http_head *h);

/*
 * Parses a request head from p[0..len): all bytes received so far for
 * this message, from its first byte, the same bytes at the same offsets
 * on every call (the buffer may move; it may not be compacted).  Each
 * line is checked once, when its CRLF arrives: a call costs the new
 * bytes plus the lines they complete, and the head's cross-field rules
 * run once, when it ends.
 *
 * Returns 0 when the head is complete: h describes it and its body (if
 * any) starts at p + h->head_len; later calls return 0 again.  Returns
 * SPIFFE_ERR_AGAIN when more bytes are needed, or an error (see the top)
 * with h->error_status set; later calls return the same error.
 */
SPIFFE_CHECK int spiffe_http_request_parse(spiffe_http_head *h,
					   const uint8_t *p, size_t len,
					   spiffe_errbuf *eb);

/*
 * Parses a response head like spiffe_http_request_parse.  head_request
 * is nonzero when the request was HEAD (the response then has no body).
 * 1xx responses (100 Continue, 103 Early Hints) are skipped: h->interim
 * counts them, so a client waiting for 100 Continue sees it go up while
 * this returns SPIFFE_ERR_AGAIN, and h describes the final response.
 * 101 Switching Protocols is SPIFFE_ERR_UNSUPPORTED (we never ask to
 * upgrade).  Framing is NONE for HEAD, 204 and 304; CHUNKED or LENGTH
 * from the fields; otherwise CLOSE, with keep_alive 0.  A
 * Transfer-Encoding not ending in chunked, which RFC 9112 section 6.3
 * reads as close-delimited, is refused: we could not decode it anyway.
 */
SPIFFE_CHECK int spiffe_http_response_parse(spiffe_http_head *h,
					    const uint8_t *p, size_t len,
					    int head_request,
					    spiffe_errbuf *eb);

/* Where span s of a parsed buffer p starts. */
static inline const uint8_t *spiffe_http_at(const uint8_t *p,
					    spiffe_http_span s)
{
	return p + s.off;
}

/*
 * Looks up field name (a NUL-terminated name of the caller's, compared
 * case-insensitively) in parsed head h of buffer p.  Returns 0 and
 * points *val (a view into p) and *vlen at its value if it occurs
 * exactly once, SPIFFE_ERR_NOT_FOUND if it does not occur, or
 * SPIFFE_ERR_HTTP if it occurs more than once.
 */
SPIFFE_CHECK int spiffe_http_header_get(const spiffe_http_head *h,
					const uint8_t *p, const char *name,
					const uint8_t **val, size_t *vlen);

/*
 * 1 if field name[0..len) must not be forwarded by a proxy: one of
 * Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization,
 * or a name listed in a Connection field of h (parsed from p).  Host and
 * Content-Length are never hop-by-hop, whatever Connection says: a peer
 * cannot make a proxy drop the fields that route and frame the message.
 * 0 otherwise.
 */
int spiffe_http_is_hop_by_hop(const spiffe_http_head *h, const uint8_t *p,
			      const uint8_t *name, size_t len);

/* A message body being read: fixed length, chunked or close-delimited. */
typedef struct spiffe_http_body {
	uint64_t remaining;          /* bytes left in the body or chunk */
	uint64_t total;              /* body bytes so far */
	uint64_t limit;
	int error_status;            /* after an error: 400, 413 or 431 */
	/* Private. */
	int state;
	int err;
	uint32_t line;               /* bytes of the chunk-size line */
	uint32_t trailer;            /* bytes of the trailer section */
} spiffe_http_body;

/*
 * Starts reading a body with the given framing (a head's framing and
 * content_length); at most limit body bytes are accepted.  Returns
 * SPIFFE_ERR_LIMIT with error_status 413 at once if a Content-Length is
 * over the limit, so a server can answer before any body arrives.
 */
SPIFFE_CHECK int spiffe_http_body_begin(spiffe_http_body *b, int framing,
					uint64_t content_length,
					uint64_t limit, spiffe_errbuf *eb);

/*
 * Decodes body bytes from in[0..len) into out[0..cap): *consumed input
 * bytes were used, *produced body bytes written.  out may equal in
 * (decoding in place: output never runs ahead of input) but must not
 * otherwise overlap it; a NULL out validates and counts the body bytes
 * without copying them (cap is then ignored).  Chunk extensions are
 * checked against the grammar and dropped; trailer fields are checked
 * like header fields and dropped.
 *
 * Returns 0 when the body is complete (input after *consumed belongs to
 * the next message), SPIFFE_ERR_AGAIN when more input or output room is
 * needed, or an error with b->error_status set: 400 malformed chunking,
 * 413 over the limit, 431 trailers too large.  A CLOSE body never
 * completes here: it ends when the connection does.  For LENGTH and
 * CHUNKED, a connection that ends first means a truncated body.
 */
SPIFFE_CHECK int spiffe_http_body_read(spiffe_http_body *b,
				       const uint8_t *in, size_t len,
				       size_t *consumed, uint8_t *out,
				       size_t cap, size_t *produced,
				       spiffe_errbuf *eb);

/* A field to write: name and value as (pointer, length). */
typedef struct spiffe_http_kv {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} spiffe_http_kv;

/* A spiffe_http_kv from two string literals. */
#define SPIFFE_HTTP_KV(n, v) { (n), sizeof(n) - 1, (v), sizeof(v) - 1 }

/*
 * Writes "method SP target SP HTTP/1.1 CRLF", the fields and the empty
 * line into out[0..cap) and sets *outlen.  The method and names must be
 * tokens, the target visible ASCII, values free of control characters
 * (CR, LF and NUL included) and of surrounding whitespace: nothing a
 * caller passes can inject a line.  SPIFFE_ERR_ARG naming the bad part,
 * or SPIFFE_ERR_LIMIT if out is too small.
 */
SPIFFE_CHECK int spiffe_http_write_request(uint8_t *out, size_t cap,
					   size_t *outlen,
					   const char *method, size_t mlen,
					   const char *target, size_t tlen,
					   const spiffe_http_kv *fields,
					   size_t n, spiffe_errbuf *eb);

/*
 * Writes "HTTP/1.1 status reason CRLF", the fields and the empty line
 * (status 100..599, reason from spiffe_http_reason), checked as above.
 */
SPIFFE_CHECK int spiffe_http_write_response(uint8_t *out, size_t cap,
					    size_t *outlen, int status,
					    const spiffe_http_kv *fields,
					    size_t n, spiffe_errbuf *eb);

/* Most bytes spiffe_http_chunk_encode adds around n data bytes. */
#define SPIFFE_HTTP_CHUNK_OVERHEAD 20

/*
 * Writes data[0..n) as one chunk ("hex CRLF data CRLF") into out[0..cap)
 * and sets *outlen; n == 0 writes the last chunk and an empty trailer
 * section ("0 CRLF CRLF").  SPIFFE_ERR_LIMIT if out is too small.
 */
SPIFFE_CHECK int spiffe_http_chunk_encode(uint8_t *out, size_t cap,
					  size_t *outlen,
					  const uint8_t *data, size_t n);

/*
 * The reason phrase for status ("Not Found"), static; "" for a code we
 * do not name (a reason phrase may be empty).
 */
const char *spiffe_http_reason(int status);

#endif
