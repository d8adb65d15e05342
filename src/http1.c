/*
 * http1.c - HTTP/1.1 heads, bodies and writers (RFC 9110, RFC 9112).
 *
 * The head parsers find lines incrementally: h->scan remembers how far
 * the search for a CRLF got, so bytes are searched once however the head
 * is split, and each line is checked once, when complete.  Rules that
 * span fields (framing, Host, Connection) run once over the field array
 * when the empty line arrives.  The body reader is a byte-at-a-time state
 * machine for chunk framing and a copy loop for data, so it keeps no
 * input between calls.
 */
#include "http1.h"

#include <string.h>

/* Character classes: RFC 9110 sections 5.5, 5.6.2, 5.6.4; RFC 3986. */
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z'))
#define IS_TCHAR(c)                                                       \
	(IS_DIGIT(c) || IS_ALPHA(c) || (c) == '!' || (c) == '#' ||        \
	 (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||         \
	 (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' ||          \
	 (c) == '^' || (c) == '_' || (c) == '`' || (c) == '|' || (c) == '~')
#define IS_VCHAR(c) ((c) >= 0x21 && (c) <= 0x7e)
#define IS_FIELD(c) (IS_VCHAR(c) || (c) >= 0x80 || (c) == ' ' || (c) == '\t')
#define IS_QDTEXT(c) (IS_FIELD(c) && (c) != '"' && (c) != '\\')
/* uri-host (reg-name, IPv4, IP-literal) and ":" port. */
#define IS_HOST(c)                                                        \
	(IS_DIGIT(c) || IS_ALPHA(c) || (c) == '-' || (c) == '.' ||        \
	 (c) == '_' || (c) == '~' || (c) == '%' || (c) == '!' ||          \
	 (c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' ||         \
	 (c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' ||          \
	 (c) == ';' || (c) == '=' || (c) == ':' || (c) == '[' || (c) == ']')

enum {
	C_TCHAR = 1,
	C_FIELD = 2,
	C_TARGET = 4,
	C_HOST = 8,
	C_QDTEXT = 16,
};

#define CLASS(c)                                                          \
	(uint8_t)((IS_TCHAR(c) ? C_TCHAR : 0) | (IS_FIELD(c) ? C_FIELD : 0) | \
		  (IS_VCHAR(c) ? C_TARGET : 0) | (IS_HOST(c) ? C_HOST : 0) |  \
		  (IS_QDTEXT(c) ? C_QDTEXT : 0))
#define CLASS4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), \
	CLASS4((c) + 12)
#define CLASS64(c) CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), \
	CLASS16((c) + 48)

static const uint8_t ctype[256] = {
	CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192)
};

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* 1 if a[0..n) equals b[0..n) ignoring ASCII case. */
static int ieq(const uint8_t *a, const void *b, size_t n)
{
	const uint8_t *q = b;

	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(q[i]))
			return 0;
	return 1;
}

static spiffe_http_span span(size_t s, size_t e)
{
	/* Offsets are below SPIFFE_HTTP_MAX_HEAD, so they fit. */
	spiffe_http_span r = { (uint32_t)s, (uint32_t)(e - s) };

	return r;
}

/*
 * Steps *i through the list p[*i..e) (RFC 9110 section 5.6.1), skipping
 * empty elements, and sets [*ts, *te) to the next element.  Returns 1
 * for a token, 0 at the end of the list, -1 for an element that is not
 * a single token.
 */
static int list_next(const uint8_t *p, size_t *i, size_t e, size_t *ts,
		     size_t *te)
{
	size_t k = *i;

	while (k < e && (p[k] == ',' || is_ws(p[k])))
		k++;
	if (k == e) {
		*i = k;
		return 0;
	}
	*ts = k;
	while (k < e && (ctype[p[k]] & C_TCHAR))
		k++;
	*te = k;
	while (k < e && is_ws(p[k]))
		k++;
	if (*ts == *te || (k < e && p[k] != ','))
		return -1;
	*i = k;
	return 1;
}

/* ---- heads ------------------------------------------------------------ */

enum { PH_START, PH_FIELDS, PH_DONE, PH_ERROR };
enum { ROLE_NONE, ROLE_REQUEST, ROLE_RESPONSE };
#define INTERIM 1

enum {
	F_OTHER,
	F_CONTENT_LENGTH,
	F_TRANSFER_ENCODING,
	F_HOST,
	F_AUTHORIZATION,
	F_CONNECTION,
	F_EXPECT,
};

static int field_kind(const uint8_t *n, size_t len)
{
	switch (len) {
	case 4:
		return ieq(n, "host", 4) ? F_HOST : F_OTHER;
	case 6:
		return ieq(n, "expect", 6) ? F_EXPECT : F_OTHER;
	case 10:
		return ieq(n, "connection", 10) ? F_CONNECTION : F_OTHER;
	case 13:
		return ieq(n, "authorization", 13) ? F_AUTHORIZATION : F_OTHER;
	case 14:
		return ieq(n, "content-length", 14) ? F_CONTENT_LENGTH
						    : F_OTHER;
	case 17:
		return ieq(n, "transfer-encoding", 17) ? F_TRANSFER_ENCODING
						       : F_OTHER;
	}
	return F_OTHER;
}

static int status_err(int status)
{
	switch (status) {
	case 413:
	case 414:
	case 431:
		return SPIFFE_ERR_LIMIT;
	case 501:
	case 505:
		return SPIFFE_ERR_UNSUPPORTED;
	}
	return SPIFFE_ERR_HTTP;
}

static int head_error(spiffe_http_head *h, int status, int err)
{
	h->phase = PH_ERROR;
	h->err = err;
	h->error_status = h->role == ROLE_RESPONSE ? 502 : status;
	return err;
}

/* Fails h with the status a server answers; the message goes to eb. */
#define HEAD_FAIL(h, eb, status, ...)                                     \
	head_error((h), (status), spiffe_fail((eb), status_err(status),    \
					      "http1: " __VA_ARGS__))

void spiffe_http_head_init(spiffe_http_head *h)
{
	memset(h, 0, sizeof(*h));
}

/*
 * Looks for the CRLF ending the line at h->pos within p[0..end), going
 * on from h->scan.  Returns 1 and sets *cr to the CR's offset, 0 if the
 * line is not complete, -1 for a bare LF or -2 for a bare CR (*cr then
 * is its offset).
 */
static int find_line(spiffe_http_head *h, const uint8_t *p, size_t end,
		     size_t *cr)
{
	const uint8_t *lf, *c;
	size_t stop;

	if (h->scan >= end)
		return 0;
	/* Two memchr passes beat one byte loop testing for both. */
	lf = memchr(p + h->scan, '\n', end - h->scan);
	stop = lf != NULL ? (size_t)(lf - p) : end;
	c = memchr(p + h->scan, '\r', stop - h->scan);
	if (c != NULL && (size_t)(c - p) + 1 < stop) {
		*cr = (size_t)(c - p);
		return -2;
	}
	if (lf == NULL) {
		h->scan = c != NULL ? end - 1 : end;
		return 0;
	}
	*cr = stop;
	if (c == NULL)
		return -1;
	*cr = stop - 1;
	h->scan = stop + 1;
	return 1;
}

/* "HTTP/" DIGIT "." DIGIT in p[s..e); 505 unless the major version is 1. */
static int version(spiffe_http_head *h, const uint8_t *p, size_t s,
		   size_t e, spiffe_errbuf *eb)
{
	if (e - s != 8 || memcmp(p + s, "HTTP/", 5) != 0 ||
	    !IS_DIGIT(p[s + 5]) || p[s + 6] != '.' || !IS_DIGIT(p[s + 7]))
		return HEAD_FAIL(h, eb, 400, "bad HTTP version at byte %zu",
				 s);
	if (p[s + 5] != '1')
		return HEAD_FAIL(h, eb, 505, "HTTP version %c.%c not "
				 "supported", p[s + 5], p[s + 7]);
	/* RFC 9110 section 6.2: a later 1.x reads as the 1.1 we know. */
	h->minor = p[s + 7] != '0';
	return 0;
}

/* method SP request-target SP HTTP-version, in p[s..e). */
static int request_line(spiffe_http_head *h, const uint8_t *p, size_t s,
			size_t e, spiffe_errbuf *eb)
{
	size_t i = s, t;

	while (i < e && (ctype[p[i]] & C_TCHAR))
		i++;
	if (i == s || i == e || p[i] != ' ')
		return HEAD_FAIL(h, eb, 400, "bad method at byte %zu", i);
	h->method = span(s, i);
	t = ++i;
	while (i < e && (ctype[p[i]] & C_TARGET))
		i++;
	if (i == t || i == e || p[i] != ' ')
		return HEAD_FAIL(h, eb, 400, "bad request-target at byte %zu",
				 i);
	h->target = span(t, i);
	return version(h, p, i + 1, e, eb);
}

/* HTTP-version SP 3DIGIT SP reason-phrase, in p[s..e). */
static int status_line(spiffe_http_head *h, const uint8_t *p, size_t s,
		       size_t e, spiffe_errbuf *eb)
{
	const uint8_t *c;
	size_t i;
	int rc;

	/* The SP before an empty reason is often left out; harmless. */
	if (e - s < 12 || p[s + 8] != ' ' || (e - s > 12 && p[s + 12] != ' '))
		return HEAD_FAIL(h, eb, 400, "malformed status line");
	c = p + s + 9;
	rc = version(h, p, s, s + 8, eb);
	if (rc)
		return rc;
	if (!IS_DIGIT(c[0]) || !IS_DIGIT(c[1]) || !IS_DIGIT(c[2]))
		return HEAD_FAIL(h, eb, 400, "malformed status code");
	h->status = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
	if (h->status < 100 || h->status > 599)
		return HEAD_FAIL(h, eb, 400, "status code %d out of range",
				 h->status);
	s = e - s > 12 ? s + 13 : e;
	for (i = s; i < e; i++)
		if (!(ctype[p[i]] & C_FIELD))
			return HEAD_FAIL(h, eb, 400,
					 "control character 0x%02x in reason "
					 "phrase at byte %zu", p[i], i);
	h->reason = span(s, e);
	return 0;
}

/* field-name ":" OWS field-value OWS, in p[s..e) (e > s). */
static int field_line(spiffe_http_head *h, const uint8_t *p, size_t s,
		      size_t e, spiffe_errbuf *eb)
{
	size_t i = s, v, ve;

	if (is_ws(p[s]))
		return HEAD_FAIL(h, eb, 400, "%s at byte %zu", h->nfields ?
				 "obsolete line folding" :
				 "whitespace before the first field", s);
	while (i < e && (ctype[p[i]] & C_TCHAR))
		i++;
	if (i == e || p[i] != ':') {
		if (i < e && is_ws(p[i]))
			return HEAD_FAIL(h, eb, 400, "whitespace before colon "
					 "at byte %zu", i);
		return HEAD_FAIL(h, eb, 400, "bad field name at byte %zu", i);
	}
	if (i == s)
		return HEAD_FAIL(h, eb, 400, "empty field name at byte %zu",
				 s);
	v = i + 1;
	while (v < e && is_ws(p[v]))
		v++;
	ve = e;
	while (ve > v && is_ws(p[ve - 1]))
		ve--;
	for (size_t k = v; k < ve; k++)
		if (!(ctype[p[k]] & C_FIELD))
			return HEAD_FAIL(h, eb, 400, "control character "
					 "0x%02x in field value at byte %zu",
					 p[k], k);
	if (h->nfields == SPIFFE_HTTP_MAX_HEADERS)
		return HEAD_FAIL(h, eb, 431, "more than %d fields",
				 SPIFFE_HTTP_MAX_HEADERS);
	h->fields[h->nfields].name = span(s, i);
	h->fields[h->nfields].value = span(v, ve);
	h->nfields++;
	return 0;
}

/* 1*DIGIT into *v, at most 2^64 - 1. */
static int content_length(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)p[i] - '0';

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/*
 * The rules that span fields, run once the head is complete: framing
 * (RFC 9112 section 6), Connection, and for requests Host,
 * Authorization and Expect.  Returns INTERIM for a 1xx response.
 */
static int head_rules(spiffe_http_head *h, const uint8_t *p,
		      int head_request, spiffe_errbuf *eb)
{
	const spiffe_http_field *cl = NULL;
	size_t nte = 0, nhost = 0, nauth = 0;
	int chunked = 0, chunked_last = 0, other = 0, close = 0, ka = 0;
	int request = h->role == ROLE_REQUEST;

	if (!request && h->status < 200) {
		if (h->status == 101)
			return HEAD_FAIL(h, eb, 501, "101 Switching Protocols "
					 "without an upgrade request");
		if (++h->interim > SPIFFE_HTTP_MAX_INTERIM)
			return HEAD_FAIL(h, eb, 431, "more than %d 1xx "
					 "responses", SPIFFE_HTTP_MAX_INTERIM);
		return INTERIM;
	}
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *f = &h->fields[i];
		const uint8_t *v = p + f->value.off;
		size_t k = f->value.off, e = k + f->value.len, ts, te;
		int rc;

		switch (field_kind(p + f->name.off, f->name.len)) {
		case F_CONTENT_LENGTH:
			if (cl != NULL)
				return HEAD_FAIL(h, eb, 400, "more than one "
						 "Content-Length");
			cl = f;
			break;
		case F_TRANSFER_ENCODING:
			nte++;
			while ((rc = list_next(p, &k, e, &ts, &te)) > 0) {
				if (te - ts != 7 ||
				    !ieq(p + ts, "chunked", 7)) {
					other = 1;
					chunked_last = 0;
					continue;
				}
				if (chunked)
					return HEAD_FAIL(h, eb, 400, "chunked "
							 "applied twice");
				chunked = chunked_last = 1;
			}
			if (rc < 0)
				return HEAD_FAIL(h, eb, 400, "bad "
						 "Transfer-Encoding element "
						 "at byte %zu", ts);
			break;
		case F_CONNECTION:
			while ((rc = list_next(p, &k, e, &ts, &te)) > 0) {
				if (te - ts == 5 && ieq(p + ts, "close", 5))
					close = 1;
				if (te - ts == 10 &&
				    ieq(p + ts, "keep-alive", 10))
					ka = 1;
			}
			if (rc < 0)
				return HEAD_FAIL(h, eb, 400, "bad Connection "
						 "element at byte %zu", ts);
			break;
		case F_HOST:
			nhost++;
			for (size_t j = 0; j < f->value.len; j++)
				if (!(ctype[v[j]] & C_HOST))
					return HEAD_FAIL(h, eb, 400, "bad "
							 "Host at byte %zu",
							 k + j);
			break;
		case F_AUTHORIZATION:
			nauth++;
			break;
		case F_EXPECT:
			if (f->value.len == 12 && ieq(v, "100-continue", 12))
				h->expect_continue = 1;
			break;
		}
	}
	if (cl != NULL && nte > 0)
		return HEAD_FAIL(h, eb, 400, "both Content-Length and "
				 "Transfer-Encoding");
	if (nte > 0) {
		/* RFC 9112 section 6.1: faulty framing in HTTP/1.0. */
		if (h->minor == 0)
			return HEAD_FAIL(h, eb, 400, "Transfer-Encoding in an "
					 "HTTP/1.0 message");
		/* Section 6.3: the length cannot be known; MUST 400. */
		if (!chunked_last)
			return HEAD_FAIL(h, eb, 400, "Transfer-Encoding does "
					 "not end in chunked");
		if (other)
			return HEAD_FAIL(h, eb, 501, "transfer coding other "
					 "than chunked");
		h->framing = SPIFFE_HTTP_BODY_CHUNKED;
	} else if (cl != NULL) {
		if (content_length(p + cl->value.off, cl->value.len,
				   &h->content_length) != 0)
			return HEAD_FAIL(h, eb, 400, "bad Content-Length at "
					 "byte %u", (unsigned)cl->value.off);
		h->framing = SPIFFE_HTTP_BODY_LENGTH;
	}
	h->keep_alive = !close && (h->minor > 0 || ka);
	if (request) {
		if (nhost > 1)
			return HEAD_FAIL(h, eb, 400, "more than one Host");
		if (nhost == 0 && h->minor > 0)
			return HEAD_FAIL(h, eb, 400, "HTTP/1.1 request "
					 "without Host");
		if (nauth > 1)
			return HEAD_FAIL(h, eb, 400, "more than one "
					 "Authorization");
		if (h->minor == 0)
			h->expect_continue = 0; /* RFC 9110 section 10.1.1 */
		return 0;
	}
	h->expect_continue = 0;
	if (head_request || h->status == 204 || h->status == 304) {
		h->framing = SPIFFE_HTTP_BODY_NONE;
		h->content_length = 0;
	} else if (h->framing == SPIFFE_HTTP_BODY_NONE) {
		h->framing = SPIFFE_HTTP_BODY_CLOSE;
		h->keep_alive = 0;
	}
	return 0;
}

static int head_too_long(spiffe_http_head *h, size_t lim,
			 spiffe_errbuf *eb)
{
	if (h->role == ROLE_RESPONSE && lim == SPIFFE_HTTP_MAX_HEAD)
		return HEAD_FAIL(h, eb, 431, "response head over %d bytes",
				 SPIFFE_HTTP_MAX_HEAD);
	if (h->phase == PH_FIELDS)
		return HEAD_FAIL(h, eb, 431, "header block over %d bytes",
				 SPIFFE_HTTP_MAX_HEADER_BLOCK);
	if (h->role == ROLE_REQUEST)
		return HEAD_FAIL(h, eb, 414, "request line over %d bytes",
				 SPIFFE_HTTP_MAX_REQUEST_LINE);
	return HEAD_FAIL(h, eb, 431, "status line over %d bytes",
			 SPIFFE_HTTP_MAX_STATUS_LINE);
}

static int parse_head(spiffe_http_head *h, const uint8_t *p, size_t len,
		      int role, int head_request, spiffe_errbuf *eb)
{
	if (h->phase == PH_DONE)
		return 0;
	if (h->phase == PH_ERROR)
		return spiffe_fail(eb, h->err, "http1: head already failed");
	if (h->role == ROLE_NONE)
		h->role = role;
	if (h->role != role || (p == NULL && len > 0) || len < h->scan)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: parse called "
				   "with another role or fewer bytes");
	for (;;) {
		size_t lim, cr, next;
		int rc;

		if (h->phase == PH_FIELDS)
			lim = h->hdr_start + SPIFFE_HTTP_MAX_HEADER_BLOCK;
		else if (role == ROLE_REQUEST)
			lim = h->pos + SPIFFE_HTTP_MAX_REQUEST_LINE + 2;
		else
			lim = h->pos + SPIFFE_HTTP_MAX_STATUS_LINE + 2;
		/* Binds responses only: a request head fits by itself. */
		if (lim > SPIFFE_HTTP_MAX_HEAD)
			lim = SPIFFE_HTTP_MAX_HEAD;
		rc = find_line(h, p, len < lim ? len : lim, &cr);
		if (rc < 0)
			return HEAD_FAIL(h, eb, 400, "bare %s at byte %zu",
					 rc == -1 ? "LF" : "CR", cr);
		if (rc == 0)
			return len < lim ? SPIFFE_ERR_AGAIN
					 : head_too_long(h, lim, eb);
		next = cr + 2;
		if (h->phase == PH_START) {
			/* RFC 9112 section 2.2: skip one empty line. */
			if (cr == 0 && role == ROLE_REQUEST) {
				h->pos = next;
				continue;
			}
			rc = role == ROLE_REQUEST ?
				request_line(h, p, h->pos, cr, eb) :
				status_line(h, p, h->pos, cr, eb);
			if (rc)
				return rc;
			h->phase = PH_FIELDS;
			h->hdr_start = next;
		} else if (cr == h->pos) {
			h->pos = next;
			rc = head_rules(h, p, head_request, eb);
			if (rc == INTERIM) {
				h->phase = PH_START;
				h->nfields = 0;
				continue;
			}
			if (rc)
				return rc;
			h->head_len = next;
			h->phase = PH_DONE;
			return 0;
		} else {
			rc = field_line(h, p, h->pos, cr, eb);
			if (rc)
				return rc;
		}
		h->pos = next;
	}
}

int spiffe_http_request_parse(spiffe_http_head *h, const uint8_t *p,
			      size_t len, spiffe_errbuf *eb)
{
	return parse_head(h, p, len, ROLE_REQUEST, 0, eb);
}

int spiffe_http_response_parse(spiffe_http_head *h, const uint8_t *p,
			       size_t len, int head_request,
			       spiffe_errbuf *eb)
{
	return parse_head(h, p, len, ROLE_RESPONSE, head_request, eb);
}

int spiffe_http_header_get(const spiffe_http_head *h, const uint8_t *p,
			   const char *name, const uint8_t **val, size_t *vlen)
{
	size_t n = strlen(name);
	const spiffe_http_field *found = NULL;

	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *f = &h->fields[i];

		if (f->name.len != n || !ieq(p + f->name.off, name, n))
			continue;
		if (found != NULL)
			return SPIFFE_ERR_HTTP;
		found = f;
	}
	if (found == NULL)
		return SPIFFE_ERR_NOT_FOUND;
	*val = p + found->value.off;
	*vlen = found->value.len;
	return 0;
}

int spiffe_http_is_hop_by_hop(const spiffe_http_head *h, const uint8_t *p,
			      const uint8_t *name, size_t len)
{
	static const struct {
		const char *s;
		size_t n;
	} fixed[] = {
		{ "connection", 10 }, { "keep-alive", 10 },
		{ "proxy-connection", 16 }, { "te", 2 }, { "trailer", 7 },
		{ "transfer-encoding", 17 }, { "upgrade", 7 },
		{ "proxy-authenticate", 18 }, { "proxy-authorization", 19 },
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (len == fixed[i].n && ieq(name, fixed[i].s, len))
			return 1;
	if ((len == 4 && ieq(name, "host", 4)) ||
	    (len == 14 && ieq(name, "content-length", 14)))
		return 0;
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *f = &h->fields[i];
		size_t k = f->value.off, e = k + f->value.len, ts, te;

		if (field_kind(p + f->name.off, f->name.len) != F_CONNECTION)
			continue;
		while (list_next(p, &k, e, &ts, &te) > 0)
			if (te - ts == len && ieq(p + ts, name, len))
				return 1;
	}
	return 0;
}

/* ---- bodies ----------------------------------------------------------- */

enum {
	B_DONE,
	B_ERROR,
	B_LENGTH,       /* fixed-length data */
	B_CLOSE,        /* data until the connection ends */
	B_DATA,         /* chunk data */
	/* chunk-size [ chunk-ext ] CRLF (RFC 9112 section 7.1) */
	B_SIZE0,        /* first hex digit */
	B_SIZE,         /* more hex digits */
	B_SEMI,         /* BWS before ";" */
	B_NAME0,        /* BWS before an extension name */
	B_NAME,         /* extension name */
	B_NAME_WS,      /* BWS after a name: "=" or ";" next */
	B_VAL0,         /* BWS after "=" */
	B_TOK,          /* token value */
	B_QS,           /* quoted-string value */
	B_QP,           /* after a backslash in it */
	B_VAL_END,      /* after the closing quote */
	B_SIZE_LF,
	B_DATA_CR,      /* CRLF after chunk data */
	B_DATA_LF,
	/* trailer-section CRLF */
	B_TRAILER,      /* start of a trailer line */
	B_TR_NAME,
	B_TR_VALUE,
	B_TR_LF,
	B_END_LF,
};

static int body_error(spiffe_http_body *b, int status, int err)
{
	b->state = B_ERROR;
	b->err = err;
	b->error_status = status;
	return err;
}

#define BODY_FAIL(b, eb, status, ...)                                     \
	body_error((b), (status), spiffe_fail((eb), status_err(status),    \
					      "http1: " __VA_ARGS__))

int spiffe_http_body_begin(spiffe_http_body *b, int framing,
			   uint64_t content_length, uint64_t limit,
			   spiffe_errbuf *eb)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	switch (framing) {
	case SPIFFE_HTTP_BODY_NONE:
		b->state = B_DONE;
		return 0;
	case SPIFFE_HTTP_BODY_LENGTH:
		if (content_length > limit)
			return BODY_FAIL(b, eb, 413, "Content-Length %llu "
					 "over the limit of %llu",
					 (unsigned long long)content_length,
					 (unsigned long long)limit);
		b->remaining = content_length;
		b->state = content_length ? B_LENGTH : B_DONE;
		return 0;
	case SPIFFE_HTTP_BODY_CHUNKED:
		b->state = B_SIZE0;
		return 0;
	case SPIFFE_HTTP_BODY_CLOSE:
		b->state = B_CLOSE;
		return 0;
	}
	b->state = B_ERROR;
	b->err = SPIFFE_ERR_ARG;
	return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: unknown framing %d",
			   framing);
}

static int hexval(uint8_t c)
{
	if (IS_DIGIT(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Where a chunk-size line goes after CR, ";" or whitespace. */
static int ext_next(uint8_t c, int ws_state)
{
	if (c == '\r')
		return B_SIZE_LF;
	if (c == ';')
		return B_NAME0;
	if (is_ws(c))
		return ws_state;
	return -1;
}

/* One byte of chunk framing (everything but chunk data). */
static int chunk_byte(spiffe_http_body *b, uint8_t c, spiffe_errbuf *eb)
{
	int next = -1, d;

	if (b->state >= B_SIZE0 && b->state <= B_SIZE_LF &&
	    ++b->line > SPIFFE_HTTP_MAX_CHUNK_LINE + 2)
		return BODY_FAIL(b, eb, 400, "chunk-size line over %d bytes",
				 SPIFFE_HTTP_MAX_CHUNK_LINE);
	if (b->state >= B_TRAILER &&
	    ++b->trailer > SPIFFE_HTTP_MAX_TRAILER)
		return BODY_FAIL(b, eb, 431, "trailer section over %d bytes",
				 SPIFFE_HTTP_MAX_TRAILER);
	switch (b->state) {
	case B_SIZE0:
	case B_SIZE:
		d = hexval(c);
		if (d >= 0) {
			if (b->remaining > (UINT64_MAX >> 4))
				return BODY_FAIL(b, eb, 400, "chunk size over "
						 "64 bits");
			b->remaining = (b->remaining << 4) | (uint64_t)d;
			next = B_SIZE;
		} else if (b->state == B_SIZE) {
			next = ext_next(c, B_SEMI);
		}
		break;
	case B_SEMI:
		if (c == ';' || is_ws(c))
			next = ext_next(c, B_SEMI);
		break;
	case B_NAME0:
		if (is_ws(c))
			next = B_NAME0;
		else if (ctype[c] & C_TCHAR)
			next = B_NAME;
		break;
	case B_NAME:
		if (ctype[c] & C_TCHAR)
			next = B_NAME;
		else if (c == '=')
			next = B_VAL0;
		else
			next = ext_next(c, B_NAME_WS);
		break;
	case B_NAME_WS:
		/* BWS leads to "=" or ";", never to the line's end. */
		if (c == '=')
			next = B_VAL0;
		else if (c != '\r')
			next = ext_next(c, B_NAME_WS);
		break;
	case B_VAL0:
		if (is_ws(c))
			next = B_VAL0;
		else if (c == '"')
			next = B_QS;
		else if (ctype[c] & C_TCHAR)
			next = B_TOK;
		break;
	case B_TOK:
		next = (ctype[c] & C_TCHAR) ? B_TOK : ext_next(c, B_SEMI);
		break;
	case B_QS:
		if (c == '"')
			next = B_VAL_END;
		else if (c == '\\')
			next = B_QP;
		else if (ctype[c] & C_QDTEXT)
			next = B_QS;
		break;
	case B_QP:
		if (ctype[c] & C_FIELD)
			next = B_QS;
		break;
	case B_VAL_END:
		next = ext_next(c, B_SEMI);
		break;
	case B_SIZE_LF:
		if (c != '\n')
			break;
		b->line = 0;
		if (b->remaining == 0) {
			next = B_TRAILER;
		} else if (b->remaining > b->limit - b->total) {
			return BODY_FAIL(b, eb, 413, "chunked body over the "
					 "limit of %llu",
					 (unsigned long long)b->limit);
		} else {
			next = B_DATA;
		}
		break;
	case B_DATA_CR:
		if (c == '\r')
			next = B_DATA_LF;
		break;
	case B_DATA_LF:
		if (c == '\n')
			next = B_SIZE0;
		break;
	case B_TRAILER:
		if (c == '\r')
			next = B_END_LF;
		else if (ctype[c] & C_TCHAR)
			next = B_TR_NAME;
		break;
	case B_TR_NAME:
		if (c == ':')
			next = B_TR_VALUE;
		else if (ctype[c] & C_TCHAR)
			next = B_TR_NAME;
		break;
	case B_TR_VALUE:
		if (c == '\r')
			next = B_TR_LF;
		else if (ctype[c] & C_FIELD)
			next = B_TR_VALUE;
		break;
	case B_TR_LF:
		if (c == '\n')
			next = B_TRAILER;
		break;
	case B_END_LF:
		if (c == '\n')
			next = B_DONE;
		break;
	}
	if (next < 0)
		return BODY_FAIL(b, eb, 400, "bad byte 0x%02x in chunk "
				 "framing", c);
	b->state = next;
	return 0;
}

int spiffe_http_body_read(spiffe_http_body *b, const uint8_t *in,
			  size_t len, size_t *consumed, uint8_t *out,
			  size_t cap, size_t *produced, spiffe_errbuf *eb)
{
	size_t i = 0, o = 0;
	int rc = 0;

	*consumed = 0;
	*produced = 0;
	if (b->state == B_ERROR)
		return spiffe_fail(eb, b->err, "http1: body already failed");
	if (in == NULL && len > 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: no input");
	while (b->state != B_DONE) {
		if (b->state == B_LENGTH || b->state == B_DATA ||
		    b->state == B_CLOSE) {
			size_t n = len - i;

			if (b->state != B_CLOSE && n > b->remaining)
				n = (size_t)b->remaining;
			if (out != NULL && n > cap - o)
				n = cap - o;
			if (n == 0)
				break;
			if (b->state == B_CLOSE && n > b->limit - b->total) {
				rc = BODY_FAIL(b, eb, 413, "body over the "
					       "limit of %llu",
					       (unsigned long long)b->limit);
				break;
			}
			if (out != NULL)
				memmove(out + o, in + i, n);
			i += n;
			o += n;
			b->total += n;
			if (b->state == B_CLOSE)
				continue;
			b->remaining -= n;
			if (b->remaining == 0)
				b->state = b->state == B_LENGTH ? B_DONE
								: B_DATA_CR;
			continue;
		}
		if (i == len)
			break;
		rc = chunk_byte(b, in[i], eb);
		if (rc)
			break;
		i++;
	}
	*consumed = i;
	*produced = o;
	if (rc)
		return rc;
	return b->state == B_DONE ? 0 : SPIFFE_ERR_AGAIN;
}

/* ---- writers ---------------------------------------------------------- */

struct out {
	uint8_t *p;
	size_t cap;
	size_t len;
	int full;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->full || n > o->cap - o->len) {
		o->full = 1;
		return;
	}
	if (n > 0)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

static int all(const char *s, size_t n, int cls)
{
	for (size_t i = 0; i < n; i++)
		if (!(ctype[(uint8_t)s[i]] & cls))
			return 0;
	return 1;
}

/* Writes the field lines and the empty line; then reports o's fate. */
static int put_fields(struct out *o, const spiffe_http_kv *f, size_t n,
		      size_t *outlen, spiffe_errbuf *eb)
{
	if (n > 0 && f == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: no fields");
	for (size_t i = 0; i < n; i++) {
		const char *v = f[i].value;
		size_t vl = f[i].value_len;

		if (f[i].name_len == 0 || f[i].name == NULL ||
		    !all(f[i].name, f[i].name_len, C_TCHAR))
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: field "
					   "%zu: name is not a token", i);
		if ((vl > 0 && v == NULL) || !all(v, vl, C_FIELD) ||
		    (vl > 0 && (is_ws((uint8_t)v[0]) ||
				is_ws((uint8_t)v[vl - 1]))))
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: field "
					   "%zu: value has a control "
					   "character or edge whitespace", i);
		put(o, f[i].name, f[i].name_len);
		put(o, ": ", 2);
		put(o, v, vl);
		put(o, "\r\n", 2);
	}
	put(o, "\r\n", 2);
	if (o->full)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "http1: head does "
				   "not fit in %zu bytes", o->cap);
	*outlen = o->len;
	return 0;
}

int spiffe_http_write_request(uint8_t *out, size_t cap, size_t *outlen,
			      const char *method, size_t mlen,
			      const char *target, size_t tlen,
			      const spiffe_http_kv *fields, size_t n,
			      spiffe_errbuf *eb)
{
	struct out o = { out, out != NULL ? cap : 0, 0, 0 };

	if (mlen == 0 || method == NULL || !all(method, mlen, C_TCHAR))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: method is not "
				   "a token");
	if (tlen == 0 || target == NULL || !all(target, tlen, C_TARGET))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: request-target "
				   "has a space or control character");
	put(&o, method, mlen);
	put(&o, " ", 1);
	put(&o, target, tlen);
	put(&o, " HTTP/1.1\r\n", 11);
	return put_fields(&o, fields, n, outlen, eb);
}

int spiffe_http_write_response(uint8_t *out, size_t cap, size_t *outlen,
			       int status, const spiffe_http_kv *fields,
			       size_t n, spiffe_errbuf *eb)
{
	struct out o = { out, out != NULL ? cap : 0, 0, 0 };
	const char *reason = spiffe_http_reason(status);
	char code[4];

	if (status < 100 || status > 599)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "http1: status %d out "
				   "of range", status);
	code[0] = (char)('0' + status / 100);
	code[1] = (char)('0' + status / 10 % 10);
	code[2] = (char)('0' + status % 10);
	code[3] = ' ';
	put(&o, "HTTP/1.1 ", 9);
	put(&o, code, 4);
	put(&o, reason, strlen(reason));
	put(&o, "\r\n", 2);
	return put_fields(&o, fields, n, outlen, eb);
}

int spiffe_http_chunk_encode(uint8_t *out, size_t cap, size_t *outlen,
			     const uint8_t *data, size_t n)
{
	struct out o = { out, out != NULL ? cap : 0, 0, 0 };
	char hex[16];
	size_t k = sizeof(hex);
	uint64_t v = n;

	if (n > 0 && data == NULL)
		return SPIFFE_ERR_ARG;
	do {
		hex[--k] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v != 0);
	put(&o, hex + k, sizeof(hex) - k);
	put(&o, "\r\n", 2);
	put(&o, data, n);
	put(&o, "\r\n", 2);
	if (o.full)
		return SPIFFE_ERR_LIMIT;
	*outlen = o.len;
	return 0;
}

const char *spiffe_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "";
}
