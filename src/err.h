/*
 * err.h - error values and the caller-supplied error buffer.
 *
 * Every fallible libspiffe function returns int: 0 on success or a
 * negative enum spiffe_err value.  Where a person needs detail, the
 * function also takes a spiffe_errbuf (which may be NULL) and writes one
 * line into it saying what failed and with which values.
 */
#ifndef SPIFFE_ERR_H
#define SPIFFE_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define SPIFFE_CHECK __attribute__((warn_unused_result))
#define SPIFFE_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SPIFFE_CHECK
#define SPIFFE_PRINTF(f, a)
#endif

enum spiffe_err {
	SPIFFE_OK = 0,
	SPIFFE_ERR_ARG = -1,          /* caller passed an invalid argument */
	SPIFFE_ERR_NOMEM = -2,        /* allocation failed */
	SPIFFE_ERR_LIMIT = -3,        /* input exceeds a configured limit */
	SPIFFE_ERR_MALFORMED = -4,    /* bytes do not follow the grammar */
	SPIFFE_ERR_SPIFFEID = -5,     /* not a valid SPIFFE ID/trust domain */
	SPIFFE_ERR_BASE64 = -6,       /* invalid base64/base64url */
	SPIFFE_ERR_JSON = -7,         /* invalid JSON */
	SPIFFE_ERR_BUNDLE = -8,       /* invalid bundle / JWKS */
	SPIFFE_ERR_NOT_FOUND = -9,    /* no such bundle, key, entry */
	SPIFFE_ERR_X509 = -10,        /* X.509 parse or SVID rule failed */
	SPIFFE_ERR_JWT = -11,         /* JWT-SVID parse or rule failed */
	SPIFFE_ERR_SIGNATURE = -12,   /* signature does not verify */
	SPIFFE_ERR_EXPIRED = -13,     /* outside validity time */
	SPIFFE_ERR_AUDIENCE = -14,    /* audience mismatch */
	SPIFFE_ERR_UNAUTHORIZED = -15,/* authorizer rejected the peer */
	SPIFFE_ERR_UNSUPPORTED = -16, /* algorithm, key type, feature */
	SPIFFE_ERR_CRYPTO = -17,      /* crypto library failure */
	SPIFFE_ERR_PROTOCOL = -18,    /* HTTP/2 or gRPC protocol violation */
	SPIFFE_ERR_HPACK = -19,       /* HPACK compression error */
	SPIFFE_ERR_GRPC = -20,        /* gRPC call ended with non-OK status */
	SPIFFE_ERR_HTTP = -21,        /* HTTP/1.1 protocol error */
	SPIFFE_ERR_TLS = -22,         /* TLS handshake or record error */
	SPIFFE_ERR_IO = -23,          /* system call failed */
	SPIFFE_ERR_TIMEOUT = -24,     /* deadline passed */
	SPIFFE_ERR_CLOSED = -25,      /* peer or object closed */
	SPIFFE_ERR_AGAIN = -26,       /* need more input / would block */
	SPIFFE_ERR_ADDRESS = -27,     /* invalid Workload API address */
	SPIFFE_ERR_CANCELED = -28,    /* operation canceled locally */
};

/* Names an error value ("invalid SPIFFE ID", ...); never NULL. */
const char *spiffe_strerror(int err);

#define SPIFFE_ERRBUF_SIZE 512

/* One line of detail about the last failure; msg is always terminated. */
typedef struct spiffe_errbuf {
	char msg[SPIFFE_ERRBUF_SIZE];
} spiffe_errbuf;

/*
 * Formats a message into eb (if not NULL) and returns err, so a failure
 * reads `return spiffe_fail(eb, SPIFFE_ERR_JWT, "token has expired");`.
 */
int spiffe_fail(spiffe_errbuf *eb, int err, const char *fmt, ...)
	SPIFFE_PRINTF(3, 4);

/*
 * Prefixes the message already in eb with "prefix: " (for wrapping a
 * lower layer's error) and returns err.
 */
int spiffe_wrap(spiffe_errbuf *eb, int err, const char *fmt, ...)
	SPIFFE_PRINTF(3, 4);

#endif
