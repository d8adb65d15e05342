#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *spiffe_strerror(int err)
{
	switch (err) {
	case SPIFFE_OK: return "success";
	case SPIFFE_ERR_ARG: return "invalid argument";
	case SPIFFE_ERR_NOMEM: return "out of memory";
	case SPIFFE_ERR_LIMIT: return "limit exceeded";
	case SPIFFE_ERR_MALFORMED: return "malformed input";
	case SPIFFE_ERR_SPIFFEID: return "invalid SPIFFE ID";
	case SPIFFE_ERR_BASE64: return "invalid base64";
	case SPIFFE_ERR_JSON: return "invalid JSON";
	case SPIFFE_ERR_BUNDLE: return "invalid bundle";
	case SPIFFE_ERR_NOT_FOUND: return "not found";
	case SPIFFE_ERR_X509: return "invalid X.509-SVID";
	case SPIFFE_ERR_JWT: return "invalid JWT-SVID";
	case SPIFFE_ERR_SIGNATURE: return "signature verification failed";
	case SPIFFE_ERR_EXPIRED: return "expired or not yet valid";
	case SPIFFE_ERR_AUDIENCE: return "audience mismatch";
	case SPIFFE_ERR_UNAUTHORIZED: return "peer not authorized";
	case SPIFFE_ERR_UNSUPPORTED: return "unsupported";
	case SPIFFE_ERR_CRYPTO: return "cryptographic failure";
	case SPIFFE_ERR_PROTOCOL: return "protocol error";
	case SPIFFE_ERR_HPACK: return "HPACK compression error";
	case SPIFFE_ERR_GRPC: return "gRPC error status";
	case SPIFFE_ERR_HTTP: return "HTTP protocol error";
	case SPIFFE_ERR_TLS: return "TLS error";
	case SPIFFE_ERR_IO: return "I/O error";
	case SPIFFE_ERR_TIMEOUT: return "timed out";
	case SPIFFE_ERR_CLOSED: return "connection closed";
	case SPIFFE_ERR_AGAIN: return "try again";
	case SPIFFE_ERR_ADDRESS: return "invalid Workload API address";
	case SPIFFE_ERR_CANCELED: return "canceled";
	}
	return "unknown error";
}

int spiffe_fail(spiffe_errbuf *eb, int err, const char *fmt, ...)
{
	va_list ap;

	if (eb == NULL)
		return err;
	va_start(ap, fmt);
	vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap);
	va_end(ap);
	return err;
}

int spiffe_wrap(spiffe_errbuf *eb, int err, const char *fmt, ...)
{
	char inner[SPIFFE_ERRBUF_SIZE];
	char prefix[SPIFFE_ERRBUF_SIZE];
	va_list ap;

	if (eb == NULL)
		return err;
	memcpy(inner, eb->msg, sizeof(inner));
	inner[sizeof(inner) - 1] = '\0';
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Truncation is the intent: the message is bounded. */
	size_t n = strlen(prefix);
	if (n > sizeof(eb->msg) - 3)
		n = sizeof(eb->msg) - 3;
	memcpy(eb->msg, prefix, n);
	memcpy(eb->msg + n, ": ", 2);
	size_t room = sizeof(eb->msg) - n - 2;
	size_t m = strlen(inner);
	if (m > room - 1)
		m = room - 1;
	memcpy(eb->msg + n + 2, inner, m);
	eb->msg[n + 2 + m] = '\0';
	return err;
}
