#include "grpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const code_names[] = {
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
	"Internal", "Unavailable", "DataLoss", "Unauthenticated",
};

const char *spiffe_grpc_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof(code_names) /
	    sizeof(code_names[0]))
		return "Unknown";
	return code_names[code];
}

void spiffe_grpc_prefix(uint8_t out[SPIFFE_GRPC_PREFIX], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* ---- framing ----------------------------------------------------------- */

void spiffe_grpc_deframer_init(spiffe_grpc_deframer *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max ? max : SPIFFE_GRPC_MAX_MESSAGE;
}

void spiffe_grpc_deframer_free(spiffe_grpc_deframer *d)
{
	free(d->buf);
	d->buf = NULL;
	d->hdr_got = d->len = d->got = d->cap = 0;
}

int spiffe_grpc_deframer_partial(const spiffe_grpc_deframer *d)
{
	return d->hdr_got > 0;
}

static int sticky(spiffe_grpc_deframer *d, int err)
{
	d->err = err;
	return err;
}

/* Makes room for n more bytes of the current message. */
static int grow(spiffe_grpc_deframer *d, size_t n)
{
	size_t need = d->got + n, cap;
	uint8_t *b;

	if (need <= d->cap)
		return 0;
	/* Double, but never past the declared length (need <= d->len). */
	cap = d->cap > d->len / 2 ? d->len : d->cap * 2;
	if (cap < need)
		cap = need;
	if (cap < 256 && d->len >= 256)
		cap = 256;
	if (cap > d->len)
		cap = d->len;
	if ((b = realloc(d->buf, cap)) == NULL)
		return SPIFFE_ERR_NOMEM;
	d->buf = b;
	d->cap = cap;
	return 0;
}

int spiffe_grpc_deframer_feed(spiffe_grpc_deframer *d, const uint8_t *p,
			      size_t len, size_t *used, uint8_t **msg,
			      size_t *msg_len, spiffe_errbuf *eb)
{
	size_t off = 0;

	*used = 0;
	*msg = NULL;
	*msg_len = 0;
	if (d->err)
		return spiffe_fail(eb, d->err, "grpc: stream already failed");
	while (d->hdr_got < SPIFFE_GRPC_PREFIX) {
		if (off == len) {
			*used = off;
			return 0;
		}
		d->hdr[d->hdr_got++] = p[off++];
		if (d->hdr_got < SPIFFE_GRPC_PREFIX)
			continue;
		if (d->hdr[0] == 1) {
			*used = off;
			return spiffe_fail(eb, sticky(d, SPIFFE_ERR_PROTOCOL),
					   "grpc: compressed message "
					   "received, but no compression "
					   "was negotiated");
		}
		if (d->hdr[0] != 0) {
			*used = off;
			return spiffe_fail(eb, sticky(d, SPIFFE_ERR_PROTOCOL),
					   "grpc: invalid message flag byte "
					   "0x%02x", d->hdr[0]);
		}
		d->len = (size_t)d->hdr[1] << 24 | (size_t)d->hdr[2] << 16 |
			 (size_t)d->hdr[3] << 8 | d->hdr[4];
		if (d->len > d->max) {
			*used = off;
			return spiffe_fail(eb, sticky(d, SPIFFE_ERR_LIMIT),
					   "grpc: received message larger "
					   "than max (%zu vs. %zu)",
					   d->len, d->max);
		}
		d->got = 0;
	}
	size_t take = d->len - d->got;

	if (take > len - off)
		take = len - off;
	if (take > 0) {
		if (grow(d, take) != 0) {
			*used = off;
			return spiffe_fail(eb, sticky(d, SPIFFE_ERR_NOMEM),
					   "out of memory");
		}
		memcpy(d->buf + d->got, p + off, take);
		d->got += take;
		off += take;
	}
	*used = off;
	if (d->got < d->len)
		return 0;
	if (d->buf == NULL && (d->buf = malloc(1)) == NULL) {
		return spiffe_fail(eb, sticky(d, SPIFFE_ERR_NOMEM),
				   "out of memory");
	}
	*msg = d->buf;
	*msg_len = d->len;
	d->buf = NULL;
	d->hdr_got = d->len = d->got = d->cap = 0;
	return 1;
}

/* ---- requests ---------------------------------------------------------- */

static void set_hdr(spiffe_header *h, const char *name, const char *value)
{
	h->name = (const uint8_t *)name;
	h->name_len = strlen(name);
	h->value = (const uint8_t *)value;
	h->value_len = strlen(value);
	h->flags = 0;
}

void spiffe_grpc_request_init(spiffe_grpc_request *r, const char *path,
			      const char *authority)
{
	memset(r, 0, sizeof(*r));
	set_hdr(&r->h[0], ":method", "POST");
	set_hdr(&r->h[1], ":scheme", "http");
	set_hdr(&r->h[2], ":path", path);
	set_hdr(&r->h[3], ":authority", authority);
	set_hdr(&r->h[4], "content-type", "application/grpc");
	set_hdr(&r->h[5], "te", "trailers");
	r->n = 6;
}

int spiffe_grpc_request_add(spiffe_grpc_request *r, const char *name,
			    const char *value)
{
	if (r->n >= sizeof(r->h) / sizeof(r->h[0]))
		return SPIFFE_ERR_LIMIT;
	set_hdr(&r->h[r->n++], name, value);
	return 0;
}

/* ---- responses --------------------------------------------------------- */

static void status_vset(spiffe_grpc_status *st, int err, int code,
			const char *fmt, va_list ap) SPIFFE_PRINTF(4, 0);

static void status_vset(spiffe_grpc_status *st, int err, int code,
			const char *fmt, va_list ap)
{
	int n;

	st->err = err;
	st->code = code;
	n = vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	if (n < 0)
		n = 0;
	st->msg_len = (size_t)n < sizeof(st->msg) ? (size_t)n :
		      sizeof(st->msg) - 1;
}

void spiffe_grpc_status_set(spiffe_grpc_status *st, int err, int code,
			    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	status_vset(st, err, code, fmt, ap);
	va_end(ap);
}

static int name_is(const spiffe_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && memcmp(h->name, name, n) == 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes v[0..len) into st->msg.  gRPC says a bad escape must
 * not lose the message, so it is kept as it came.  Control bytes become
 * '?' so the text is safe to print.
 */
static void decode_message(spiffe_grpc_status *st, const uint8_t *v,
			   size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o < SPIFFE_GRPC_MAX_STATUS_MESSAGE;
	     i++) {
		uint8_t c = v[i];

		if (c == '%' && len - i >= 3 && hexval(v[i + 1]) >= 0 &&
		    hexval(v[i + 2]) >= 0) {
			c = (uint8_t)(hexval(v[i + 1]) << 4 |
				      hexval(v[i + 2]));
			i += 2;
		}
		st->msg[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	st->msg[o] = '\0';
	st->msg_len = o;
}

/* Parses a grpc-status value: 1 to 10 decimal digits, at most INT_MAX. */
static int parse_code(const uint8_t *v, size_t len, int *code)
{
	uint64_t x = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (x > 0x7fffffff)
		return -1;
	*code = (int)x;
	return 0;
}

/*
 * Reads grpc-status and grpc-message from h[0..n) into st.  Returns 1
 * if grpc-status was there, 0 if not, -1 (st set) if malformed.
 */
static int read_status(const spiffe_header *h, size_t n,
		       spiffe_grpc_status *st)
{
	const spiffe_header *status = NULL, *message = NULL;
	int code;

	for (size_t i = 0; i < n; i++) {
		const spiffe_header **slot = NULL;

		if (name_is(&h[i], "grpc-status"))
			slot = &status;
		else if (name_is(&h[i], "grpc-message"))
			slot = &message;
		else
			continue;
		if (*slot != NULL) {
			spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
					       SPIFFE_GRPC_INTERNAL,
					       "grpc: duplicate %s",
					       slot == &status ?
					       "grpc-status" :
					       "grpc-message");
			return -1;
		}
		*slot = &h[i];
	}
	if (status == NULL)
		return 0;
	if (parse_code(status->value, status->value_len, &code) != 0) {
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL,
				       "grpc: malformed grpc-status");
		return -1;
	}
	st->err = code == SPIFFE_GRPC_OK ? 0 : SPIFFE_ERR_GRPC;
	st->code = code;
	if (message != NULL)
		decode_message(st, message->value, message->value_len);
	else
		decode_message(st, NULL, 0);
	return 1;
}

static int ieq_prefix(const uint8_t *v, size_t len, const char *p)
{
	size_t n = strlen(p);

	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = v[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)p[i])
			return 0;
	}
	return 1;
}

static int is_grpc_type(const spiffe_header *h)
{
	static const char t[] = "application/grpc";
	size_t n = sizeof(t) - 1;

	if (!ieq_prefix(h->value, h->value_len, t))
		return 0;
	return h->value_len == n || h->value[n] == '+' || h->value[n] == ';';
}

/* gRPC's "HTTP to gRPC Status Code Mapping". */
static int http_to_code(int status)
{
	switch (status) {
	case 400: return SPIFFE_GRPC_INTERNAL;
	case 401: return SPIFFE_GRPC_UNAUTHENTICATED;
	case 403: return SPIFFE_GRPC_PERMISSION_DENIED;
	case 404: return SPIFFE_GRPC_UNIMPLEMENTED;
	case 429: case 502: case 503: case 504:
		return SPIFFE_GRPC_UNAVAILABLE;
	}
	return SPIFFE_GRPC_UNKNOWN;
}

int spiffe_grpc_response_headers(const spiffe_header *h, size_t n,
				 int end_stream, spiffe_grpc_status *st)
{
	const spiffe_header *status = NULL, *ctype = NULL;
	int code = 0, rc;

	for (size_t i = 0; i < n; i++) {
		if (name_is(&h[i], ":status") && status == NULL)
			status = &h[i];
		else if (name_is(&h[i], "content-type") && ctype == NULL)
			ctype = &h[i];
	}
	if (status == NULL || status->value_len != 3 ||
	    parse_code(status->value, 3, &code) != 0) {
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL,
				       "malformed header: missing HTTP "
				       "status");
		return SPIFFE_GRPC_HEADERS_FINAL;
	}
	if (code >= 100 && code < 200 && !end_stream)
		return SPIFFE_GRPC_HEADERS_INFO;
	if (code != 200) {
		spiffe_grpc_status_set(st, SPIFFE_ERR_GRPC, http_to_code(code),
				       "unexpected HTTP status code %d", code);
		return SPIFFE_GRPC_HEADERS_FINAL;
	}
	if (end_stream) {
		rc = read_status(h, n, st);
		if (rc == 0)
			spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
					       SPIFFE_GRPC_INTERNAL,
					       "grpc: response ended without "
					       "grpc-status");
		return SPIFFE_GRPC_HEADERS_FINAL;
	}
	if (ctype == NULL || !is_grpc_type(ctype)) {
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_UNKNOWN,
				       "grpc: unexpected content-type");
		return SPIFFE_GRPC_HEADERS_FINAL;
	}
	return SPIFFE_GRPC_HEADERS_OK;
}

int spiffe_grpc_response_trailers(const spiffe_header *h, size_t n,
				  spiffe_grpc_status *st)
{
	if (read_status(h, n, st) == 0)
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL,
				       "grpc: trailers without grpc-status");
	return st->err;
}

void spiffe_grpc_status_from_reset(spiffe_grpc_status *st, uint32_t h2code)
{
	int code;

	switch (h2code) {
	case 0x7: code = SPIFFE_GRPC_UNAVAILABLE; break;   /* REFUSED */
	case 0x8: code = SPIFFE_GRPC_CANCELLED; break;     /* CANCEL */
	case 0xb: code = SPIFFE_GRPC_RESOURCE_EXHAUSTED; break; /* CALM */
	case 0xc: code = SPIFFE_GRPC_PERMISSION_DENIED; break;
	default: code = SPIFFE_GRPC_INTERNAL; break;
	}
	spiffe_grpc_status_set(st, SPIFFE_ERR_CLOSED, code,
			       "stream terminated by RST_STREAM with error "
			       "code %u", (unsigned)h2code);
}

int spiffe_grpc_status_fail(const spiffe_grpc_status *st, spiffe_errbuf *eb)
{
	return spiffe_fail(eb, st->err, "%s: %s",
			   spiffe_grpc_code_name(st->code), st->msg);
}

/* ---- the server side --------------------------------------------------- */

int spiffe_grpc_server_request(const spiffe_header *h, size_t n,
			       spiffe_grpc_server_req *r, int *http_status,
			       spiffe_grpc_status *st)
{
	const spiffe_header *method = NULL, *ctype = NULL;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		if (name_is(&h[i], ":method") && method == NULL)
			method = &h[i];
		else if (name_is(&h[i], ":path") && r->path == NULL) {
			r->path = h[i].value;
			r->path_len = h[i].value_len;
		} else if (name_is(&h[i], "content-type") && ctype == NULL)
			ctype = &h[i];
		else if (name_is(&h[i], "grpc-encoding") &&
			 r->encoding == NULL) {
			r->encoding = h[i].value;
			r->encoding_len = h[i].value_len;
		}
	}
	/* grpc-go looks at the content-type first, then the method. */
	if (ctype == NULL || !is_grpc_type(ctype)) {
		int len = ctype == NULL ? 0 : ctype->value_len > 64 ? 64 :
			  (int)ctype->value_len;

		*http_status = 415;
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INVALID_ARGUMENT,
				       "invalid gRPC request content-type "
				       "\"%.*s\"", len, ctype == NULL ? "" :
				       (const char *)ctype->value);
		return SPIFFE_ERR_PROTOCOL;
	}
	if (method == NULL || method->value_len != 4 ||
	    memcmp(method->value, "POST", 4) != 0) {
		int len = method == NULL ? 0 : method->value_len > 64 ? 64 :
			  (int)method->value_len;

		*http_status = 405;
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL,
				       "Received a HEADERS frame with :method "
				       "\"%.*s\" which should be POST", len,
				       method == NULL ? "" :
				       (const char *)method->value);
		return SPIFFE_ERR_PROTOCOL;
	}
	if (r->path == NULL) {
		*http_status = 400;
		spiffe_grpc_status_set(st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL,
				       "malformed header: missing :path");
		return SPIFFE_ERR_PROTOCOL;
	}
	*http_status = 200;
	return 0;
}

size_t spiffe_grpc_metadata(const spiffe_header *h, size_t n,
			    const char *name, const uint8_t **value,
			    size_t *len)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (!name_is(&h[i], name))
			continue;
		if (count++ == 0) {
			if (value != NULL)
				*value = h[i].value;
			if (len != NULL)
				*len = h[i].value_len;
		}
	}
	return count;
}

static void set_view(spiffe_header *h, const char *name, const char *value,
		     size_t value_len)
{
	h->name = (const uint8_t *)name;
	h->name_len = strlen(name);
	h->value = (const uint8_t *)value;
	h->value_len = value_len;
	h->flags = 0;
}

void spiffe_grpc_trailers_set(spiffe_grpc_trailers *t, int http_status,
			      int code, const char *msg, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *m = (const uint8_t *)msg;
	size_t o = 0, n;

	memset(t, 0, sizeof(*t));
	/* Cut long messages where no UTF-8 sequence continues. */
	if (len > SPIFFE_GRPC_MAX_SENT_MESSAGE) {
		len = SPIFFE_GRPC_MAX_SENT_MESSAGE;
		while (len > 0 && (m[len] & 0xc0) == 0x80)
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		if (m[i] >= 0x20 && m[i] <= 0x7e && m[i] != '%') {
			t->msg[o++] = (char)m[i];
		} else {
			t->msg[o++] = '%';
			t->msg[o++] = hex[m[i] >> 4];
			t->msg[o++] = hex[m[i] & 15];
		}
	}
	snprintf(t->code, sizeof(t->code), "%d", code);
	if (http_status != 0) {
		if (http_status < 100 || http_status > 999)
			http_status = 500;
		snprintf(t->status, sizeof(t->status), "%d", http_status);
		set_view(&t->h[t->n++], ":status", t->status, 3);
		set_view(&t->h[t->n++], "content-type", "application/grpc",
			 16);
	}
	n = strlen(t->code);
	set_view(&t->h[t->n++], "grpc-status", t->code, n);
	set_view(&t->h[t->n++], "grpc-message", t->msg, o);
}

const spiffe_header *spiffe_grpc_response_ok(size_t *n)
{
	static const spiffe_header ok[2] = {
		{ (const uint8_t *)":status", 7, (const uint8_t *)"200", 3,
		  0 },
		{ (const uint8_t *)"content-type", 12,
		  (const uint8_t *)"application/grpc", 16, 0 },
	};

	*n = 2;
	return ok;
}

int spiffe_grpc_deframer_compressed(const spiffe_grpc_deframer *d)
{
	return d->err != 0 && d->hdr_got == SPIFFE_GRPC_PREFIX &&
	       d->hdr[0] == 1;
}
