#include "test.h"
#include "http1.h"

#include <stdlib.h>

/*
 * Every parse runs on a heap copy of exactly the bytes given, so ASan
 * catches a read past them.  Spans are offsets, so they read the same
 * in the caller's literal.
 */
static int parse(int response, int head_req, const char *s, size_t n,
		 spiffe_http_head *h)
{
	uint8_t *p = malloc(n ? n : 1);
	spiffe_errbuf eb;
	int rc;

	memcpy(p, s, n);
	spiffe_http_head_init(h);
	rc = response ? spiffe_http_response_parse(h, p, n, head_req, &eb)
		      : spiffe_http_request_parse(h, p, n, &eb);
	free(p);
	return rc;
}

#define REQ(lit, h) parse(0, 0, (lit), sizeof(lit) - 1, (h))
#define RESP(lit, h) parse(1, 0, (lit), sizeof(lit) - 1, (h))
#define RESP_TO_HEAD(lit, h) parse(1, 1, (lit), sizeof(lit) - 1, (h))

/* 1 if span s of buf reads want. */
static int is(const char *buf, spiffe_http_span s, const char *want)
{
	return s.len == strlen(want) && memcmp(buf + s.off, want, s.len) == 0;
}

#define CHECK_SPAN(buf, s, want)                                          \
	do {                                                               \
		if (!is((buf), (s), (want))) {                             \
			FAILF("%s == \"%.*s\", expected \"%s\"", #s,       \
			      (int)(s).len, (buf) + (s).off, (want));      \
			return;                                            \
		}                                                          \
	} while (0)

/* A request must fail with exactly err and status. */
#define CHECK_REQ_FAIL(lit, err, status)                                  \
	do {                                                               \
		spiffe_http_head h_;                                       \
		CHECK_INT(REQ(lit, &h_), err);                             \
		CHECK_INT(h_.error_status, status);                        \
	} while (0)

#define CHECK_RESP_FAIL(lit, err)                                         \
	do {                                                               \
		spiffe_http_head h_;                                       \
		CHECK_INT(RESP(lit, &h_), err);                            \
		CHECK_INT(h_.error_status, 502);                           \
	} while (0)

/* Decodes a whole body of the given framing into out; returns rc. */
static int body(int framing, uint64_t cl, uint64_t limit, const char *s,
		size_t n, char *out, size_t cap, size_t *produced,
		size_t *consumed, int *status)
{
	spiffe_http_body b;
	uint8_t *p = malloc(n ? n : 1);
	int rc;

	memcpy(p, s, n);
	*produced = *consumed = 0;
	rc = spiffe_http_body_begin(&b, framing, cl, limit, NULL);
	if (rc == 0)
		rc = spiffe_http_body_read(&b, p, n, consumed, (uint8_t *)out,
					   cap, produced, NULL);
	*status = b.error_status;
	free(p);
	return rc;
}

static int chunked(const char *lit, size_t n, int *status)
{
	char out[256];
	size_t produced, consumed;

	return body(SPIFFE_HTTP_BODY_CHUNKED, 0, 64, lit, n, out,
		    sizeof(out), &produced, &consumed, status);
}

#define CHECK_CHUNKED_OK(lit)                                             \
	do {                                                               \
		int s_;                                                    \
		CHECK_INT(chunked(lit, sizeof(lit) - 1, &s_), 0);          \
	} while (0)

#define CHECK_CHUNKED_FAIL(lit, err, st)                                  \
	do {                                                               \
		int s_;                                                    \
		CHECK_INT(chunked(lit, sizeof(lit) - 1, &s_), err);        \
		CHECK_INT(s_, st);                                         \
	} while (0)

/* ---- requests: valid ------------------------------------------------- */

TEST(get_keep_alive)
{
	static const char m[] = "GET /index.html?q=1 HTTP/1.1\r\n"
				"Host: example.org:8443\r\n"
				"User-Agent: curl/8.5.0\r\n"
				"Accept: */*\r\n\r\n";
	spiffe_http_head h;

	CHECK_INT(REQ(m, &h), 0);
	CHECK_SPAN(m, h.method, "GET");
	CHECK_SPAN(m, h.target, "/index.html?q=1");
	CHECK_INT(h.minor, 1);
	CHECK_INT(h.nfields, 3);
	CHECK_SPAN(m, h.fields[0].name, "Host");
	CHECK_SPAN(m, h.fields[0].value, "example.org:8443");
	CHECK_SPAN(m, h.fields[2].name, "Accept");
	CHECK_SPAN(m, h.fields[2].value, "*/*");
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(h.expect_continue, 0);
	CHECK_INT(h.head_len, sizeof(m) - 1);
	/* Once complete, more bytes change nothing. */
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m,
					    sizeof(m), NULL), 0);
	CHECK_INT(h.head_len, sizeof(m) - 1);
}

TEST(keep_alive_rules)
{
	spiffe_http_head h;

	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		      &h), 0);
	CHECK_INT(h.keep_alive, 0);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: a\r\n"
		      "Connection: Keep-Alive, CLOSE\r\n\r\n", &h), 0);
	CHECK_INT(h.keep_alive, 0);
	CHECK_INT(REQ("GET / HTTP/1.0\r\n\r\n", &h), 0);
	CHECK_INT(h.minor, 0);
	CHECK_INT(h.keep_alive, 0);
	CHECK_INT(REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h),
		  0);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: a\r\n"
		      "Connection: , upgrade ,, \r\n\r\n", &h), 0);
	CHECK_INT(h.keep_alive, 1);
	/* A later 1.x reads as 1.1 (RFC 9110 section 6.2). */
	CHECK_INT(REQ("GET / HTTP/1.9\r\nHost: a\r\n\r\n", &h), 0);
	CHECK_INT(h.minor, 1);
}

TEST(post_content_length)
{
	static const char m[] = "POST /api HTTP/1.1\r\nHost: a\r\n"
				"Content-Length: 5\r\n\r\nhelloGET";
	spiffe_http_head h;
	char out[16];
	size_t produced, consumed;
	int st;

	CHECK_INT(REQ(m, &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_LENGTH);
	CHECK_INT(h.content_length, 5);
	CHECK_INT(body(h.framing, h.content_length, 100, m + h.head_len,
		       sizeof(m) - 1 - h.head_len, out, sizeof(out),
		       &produced, &consumed, &st), 0);
	CHECK_INT(produced, 5);
	CHECK_INT(consumed, 5);
	CHECK_MEM(out, "hello", 5);
	/* Partial body: AGAIN, then the rest. */
	CHECK_INT(body(h.framing, h.content_length, 100, m + h.head_len, 3,
		       out, sizeof(out), &produced, &consumed, &st),
		  SPIFFE_ERR_AGAIN);
	CHECK_INT(produced, 3);
	/* Content-Length: 0 is a body of no bytes. */
	CHECK_INT(REQ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n"
		      "\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_LENGTH);
	CHECK_INT(h.content_length, 0);
	CHECK_INT(body(h.framing, 0, 100, "", 0, out, sizeof(out), &produced,
		       &consumed, &st), 0);
}

static const char chunked_req[] =
	"POST /upload HTTP/1.1\r\nHost: a\r\n"
	"Transfer-Encoding: chunked\r\n\r\n"
	"5;name=val;q=\"a \\\"b\\\"\"\r\nhello\r\n"
	"6 ; x ; y = z\r\n world\r\n"
	"00\r\nX-Trailer: 1\r\nOther:two \r\n\r\n"
	"GET / HTTP/1.1\r\n";

TEST(chunked_with_extensions_and_trailers)
{
	spiffe_http_head h;
	char out[64];
	size_t produced, consumed, blen;
	int st;

	CHECK_INT(REQ(chunked_req, &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_CHUNKED);
	blen = sizeof(chunked_req) - 1 - h.head_len - 16;
	CHECK_INT(body(h.framing, 0, 11, chunked_req + h.head_len, blen + 16,
		       out, sizeof(out), &produced, &consumed, &st), 0);
	CHECK_INT(produced, 11);
	CHECK_MEM(out, "hello world", 11);
	CHECK_INT(consumed, blen);
	/* One byte short of the end: AGAIN. */
	CHECK_INT(body(h.framing, 0, 11, chunked_req + h.head_len, blen - 1,
		       out, sizeof(out), &produced, &consumed, &st),
		  SPIFFE_ERR_AGAIN);
	CHECK_INT(consumed, blen - 1);
	/* Transfer-Encoding is case-insensitive. */
	CHECK_INT(REQ("POST / HTTP/1.1\r\nHost: a\r\n"
		      "Transfer-Encoding: ChUnKeD\r\n\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_CHUNKED);
}

/* Decodes chunked_req's body one byte and one output byte at a time. */
TEST(chunked_split_everywhere)
{
	spiffe_http_head h;
	spiffe_http_body b;
	const uint8_t *p;
	uint8_t out[64];
	size_t n, o = 0, i = 0;
	int rc = SPIFFE_ERR_AGAIN;

	CHECK_INT(REQ(chunked_req, &h), 0);
	p = (const uint8_t *)chunked_req + h.head_len;
	n = sizeof(chunked_req) - 1 - h.head_len;
	CHECK_INT(spiffe_http_body_begin(&b, h.framing, 0, 100, NULL), 0);
	while (rc == SPIFFE_ERR_AGAIN && i < n) {
		size_t c, pr;
		uint8_t one = p[i];

		rc = spiffe_http_body_read(&b, &one, 1, &c, out + o,
					   o < sizeof(out) ? 1 : 0, &pr,
					   NULL);
		CHECK(c <= 1);
		if (c == 0 && rc == SPIFFE_ERR_AGAIN)
			CHECK(pr == 0);
		i += c;
		o += pr;
	}
	CHECK_INT(rc, 0);
	CHECK_INT(o, 11);
	CHECK_MEM(out, "hello world", 11);
	CHECK_INT(i, n - 16);
}

/* Out may equal in: decoding in place. */
TEST(chunked_in_place)
{
	uint8_t buf[] = "3\r\nabc\r\n2;x=\"\"\r\nde\r\n0\r\n\r\n";
	spiffe_http_body b;
	size_t c, pr;

	CHECK_INT(spiffe_http_body_begin(&b, SPIFFE_HTTP_BODY_CHUNKED, 0, 5,
					 NULL), 0);
	CHECK_INT(spiffe_http_body_read(&b, buf, sizeof(buf) - 1, &c, buf,
					sizeof(buf), &pr, NULL), 0);
	CHECK_INT(c, sizeof(buf) - 1);
	CHECK_INT(pr, 5);
	CHECK_MEM(buf, "abcde", 5);
	/* A NULL out counts without copying; done reads as done. */
	CHECK_INT(spiffe_http_body_read(&b, buf, 3, &c, NULL, 0, &pr, NULL),
		  0);
	CHECK_INT(c, 0);
}

TEST(pipelined_requests)
{
	static const char m[] = "POST /a HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 3\r\n\r\nabc"
				"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	spiffe_http_head h;
	spiffe_http_body b;
	size_t c, pr, off;

	spiffe_http_head_init(&h);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m,
					    sizeof(m) - 1, NULL), 0);
	CHECK_SPAN(m, h.target, "/a");
	CHECK_INT(spiffe_http_body_begin(&b, h.framing, h.content_length,
					 100, NULL), 0);
	CHECK_INT(spiffe_http_body_read(&b, (const uint8_t *)m + h.head_len,
					sizeof(m) - 1 - h.head_len, &c, NULL,
					0, &pr, NULL), 0);
	CHECK_INT(c, 3);
	off = h.head_len + c;
	spiffe_http_head_init(&h);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m + off,
					    sizeof(m) - 1 - off, NULL), 0);
	CHECK_SPAN(m + off, h.method, "GET");
	CHECK_SPAN(m + off, h.target, "/b");
	CHECK_INT(h.head_len, sizeof(m) - 1 - off);
}

static int same_span(spiffe_http_span a, spiffe_http_span b)
{
	return a.off == b.off && a.len == b.len;
}

static int same_head(const spiffe_http_head *a, const spiffe_http_head *b)
{
	return same_span(a->method, b->method) &&
	       same_span(a->target, b->target) &&
	       same_span(a->reason, b->reason) && a->status == b->status &&
	       a->minor == b->minor && a->framing == b->framing &&
	       a->content_length == b->content_length &&
	       a->keep_alive == b->keep_alive &&
	       a->expect_continue == b->expect_continue &&
	       a->interim == b->interim && a->head_len == b->head_len &&
	       a->error_status == b->error_status &&
	       a->nfields == b->nfields &&
	       memcmp(a->fields, b->fields,
		      a->nfields * sizeof(a->fields[0])) == 0;
}

/* One parse call on an exact-size copy of m[0..len). */
static int feed(int response, spiffe_http_head *h, const char *m,
		size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	int rc;

	memcpy(p, m, len);
	rc = response ? spiffe_http_response_parse(h, p, len, 0, NULL)
		      : spiffe_http_request_parse(h, p, len, NULL);
	free(p);
	return rc;
}

/*
 * Feeds m[0..n) in two pieces split at every offset, and growing one
 * byte a call: each must end as one call on the whole does.
 */
static int split_matches(int response, const char *m, size_t n)
{
	spiffe_http_head whole, h;
	int want = parse(response, 0, m, n, &whole), rc;

	for (size_t k = 0; k <= n; k++) {
		spiffe_http_head_init(&h);
		rc = feed(response, &h, m, k);
		if (rc == SPIFFE_ERR_AGAIN)
			rc = feed(response, &h, m, n);
		if (rc != want || !same_head(&h, &whole))
			return 0;
	}
	spiffe_http_head_init(&h);
	rc = SPIFFE_ERR_AGAIN;
	for (size_t len = 0; len <= n && rc == SPIFFE_ERR_AGAIN; len++)
		rc = feed(response, &h, m, len);
	return rc == want && same_head(&h, &whole);
}

#define CHECK_SPLIT(resp, lit) CHECK(split_matches((resp), (lit), \
						   sizeof(lit) - 1))

TEST(split_at_every_byte)
{
	CHECK_SPLIT(0, "GET / HTTP/1.1\r\nHost: a\r\nX:  b c \t\r\n\r\n");
	CHECK_SPLIT(0, chunked_req);
	CHECK_SPLIT(0, "\r\nGET / HTTP/1.0\r\n\r\n");
	CHECK_SPLIT(0, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	CHECK_SPLIT(0, "GET / HTTP/1.1\r\nHost: a\r\rX: y\r\n\r\n");
	CHECK_SPLIT(1, "HTTP/1.1 100 Continue\r\n\r\n"
		       "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
	CHECK_SPLIT(1, "HTTP/1.1 200 OK\r\nX: y\n\r\n");
}

TEST(expect_continue)
{
	spiffe_http_head h;

	CHECK_INT(REQ("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n"
		      "Expect: 100-Continue\r\n\r\n", &h), 0);
	CHECK_INT(h.expect_continue, 1);
	/* RFC 9110 section 10.1.1: ignored in HTTP/1.0. */
	CHECK_INT(REQ("PUT /x HTTP/1.0\r\nContent-Length: 9\r\n"
		      "Expect: 100-continue\r\n\r\n", &h), 0);
	CHECK_INT(h.expect_continue, 0);
}

TEST(leading_empty_line)
{
	spiffe_http_head h;

	CHECK_INT(REQ("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	CHECK_INT(h.method.off, 2);
	CHECK_REQ_FAIL("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
}

TEST(values_and_lookup)
{
	static const char m[] = "GET / HTTP/1.1\r\nhost: a\r\n"
				"X-Empty:\r\nX-Pad: \t v a l \t \r\n"
				"X-Obs: caf\xc3\xa9\r\n"
				"Authorization: Bearer abc.def.ghi\r\n"
				"X-Dup: 1\r\nx-dup: 2\r\n\r\n";
	spiffe_http_head h;
	const uint8_t *v;
	size_t vl;
	const uint8_t *p = (const uint8_t *)m;

	CHECK_INT(REQ(m, &h), 0);
	CHECK_INT(spiffe_http_header_get(&h, p, "X-EMPTY", &v, &vl), 0);
	CHECK_INT(vl, 0);
	CHECK_INT(spiffe_http_header_get(&h, p, "x-pad", &v, &vl), 0);
	CHECK_INT(vl, 5);
	CHECK_MEM(v, "v a l", 5);
	CHECK_INT(spiffe_http_header_get(&h, p, "x-obs", &v, &vl), 0);
	CHECK_INT(vl, 5);
	CHECK_INT(spiffe_http_header_get(&h, p, "authorization", &v, &vl), 0);
	CHECK_INT(vl, 18);
	CHECK_MEM(v, "Bearer abc.def.ghi", 18);
	CHECK_INT(spiffe_http_header_get(&h, p, "X-Dup", &v, &vl),
		  SPIFFE_ERR_HTTP);
	CHECK_INT(spiffe_http_header_get(&h, p, "X-None", &v, &vl),
		  SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_http_header_get(&h, p, "X-Du", &v, &vl),
		  SPIFFE_ERR_NOT_FOUND);
}

TEST(incomplete_heads)
{
	spiffe_http_head h;

	CHECK_INT(REQ("", &h), SPIFFE_ERR_AGAIN);
	CHECK_INT(REQ("GET", &h), SPIFFE_ERR_AGAIN);
	CHECK_INT(REQ("GET / HTTP/1.1\r", &h), SPIFFE_ERR_AGAIN);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: a\r\n", &h), SPIFFE_ERR_AGAIN);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: a\r\n\r", &h),
		  SPIFFE_ERR_AGAIN);
	CHECK_INT(RESP("HTTP/1.1 100 Continue\r\n\r\n", &h), SPIFFE_ERR_AGAIN);
	CHECK_INT(h.interim, 1);
}

TEST(errors_are_sticky)
{
	static const char m[] = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
	spiffe_http_head h;
	spiffe_errbuf eb;

	spiffe_http_head_init(&h);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m,
					    sizeof(m) - 1, &eb),
		  SPIFFE_ERR_HTTP);
	CHECK(strstr(eb.msg, "whitespace before colon") != NULL);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m,
					    sizeof(m) - 1, &eb),
		  SPIFFE_ERR_HTTP);
	CHECK_INT(h.error_status, 400);
	/* Fewer bytes than already scanned, or the other role: ARG. */
	spiffe_http_head_init(&h);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m, 10, NULL),
		  SPIFFE_ERR_AGAIN);
	CHECK_INT(spiffe_http_request_parse(&h, (const uint8_t *)m, 9, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_response_parse(&h, (const uint8_t *)m, 10, 0,
					     NULL), SPIFFE_ERR_ARG);
}

/* ---- requests: hostile ------------------------------------------------ */

/* The errbuf names the rule a request broke. */
static int says(const char *m, size_t n, const char *why)
{
	spiffe_http_head h;
	spiffe_errbuf eb;

	spiffe_http_head_init(&h);
	eb.msg[0] = '\0';
	return spiffe_http_request_parse(&h, (const uint8_t *)m, n, &eb) < 0 &&
	       strstr(eb.msg, why) != NULL;
}

#define CHECK_SAYS(lit, why) CHECK(says((lit), sizeof(lit) - 1, (why)))

TEST(error_messages)
{
	CHECK_SAYS("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
		   "obsolete line folding at byte 31");
	CHECK_SAYS("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
		   "whitespace before the first field");
	CHECK_SAYS("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF at byte 14");
	CHECK_SAYS("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		   "bare CR at byte 23");
	CHECK_SAYS("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n",
		   "both Content-Length and Transfer-Encoding");
	CHECK_SAYS("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		   "control character 0x01 in field value at byte 28");
}

TEST(smuggling_framing)
{
	/* CL + TE, in either order. */
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: chunked\r\n"
		       "Content-Length: 5\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* Conflicting, identical, and listed Content-Lengths. */
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		       "Content-Length: 6\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
		       "content-length: 5\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 5, 5\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 5,6\r\n\r\n", SPIFFE_ERR_HTTP, 400);
}

TEST(content_length_values)
{
	spiffe_http_head h;
	spiffe_http_body b;

	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: -1\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: +5\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 0x5\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 5 5\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length:\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 18446744073709551616\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Content-Length: 99999999999999999999999\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* The largest value parses; the body limit then answers 413. */
	CHECK_INT(REQ("POST / HTTP/1.1\r\nHost: a\r\n"
		      "Content-Length: 18446744073709551615\r\n\r\n", &h), 0);
	CHECK_INT(h.content_length, UINT64_MAX);
	CHECK_INT(spiffe_http_body_begin(&b, h.framing, h.content_length,
					 SPIFFE_HTTP_MAX_BODY, NULL),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(b.error_status, 413);
	/* Surrounding whitespace is not part of the value. */
	CHECK_INT(REQ("POST / HTTP/1.1\r\nHost: a\r\n"
		      "Content-Length: \t 12 \r\n\r\n", &h), 0);
	CHECK_INT(h.content_length, 12);
}

TEST(transfer_encoding_values)
{
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: gzip\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: gzip, chunked\r\n\r\n",
		       SPIFFE_ERR_UNSUPPORTED, 501);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: chunked, chunked\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: chunked\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: chunked, gzip\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: chunked;q=1\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: identity\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding:\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.1\r\nHost: a\r\n"
		       "Transfer-Encoding: \"chunked\"\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("POST / HTTP/1.0\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
}

TEST(line_grammar)
{
	/* Obsolete line folding, and whitespace before the first field. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tc\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\n Host: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* Whitespace before the colon, empty and bad names. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* Bare CR anywhere. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* Bare LF: rejected, our documented choice. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\nHost: a\n\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\n\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nX: a\nb\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* NUL and other controls in values and names. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX\0: b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nX: a \0\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	/* Connection must be a token list. */
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
}

TEST(request_line_grammar)
{
	CHECK_REQ_FAIL("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GE\x80T / HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL(" / HTTP/1.1\r\nHost: a\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET /\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\n", SPIFFE_ERR_AGAIN, 0);
}

TEST(versions)
{
	CHECK_REQ_FAIL("GET / HTTP/2.0\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_UNSUPPORTED, 505);
	CHECK_REQ_FAIL("GET / HTTP/0.9\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_UNSUPPORTED, 505);
	CHECK_REQ_FAIL("GET / HTTP/3.0\r\n\r\n", SPIFFE_ERR_UNSUPPORTED, 505);
	CHECK_REQ_FAIL("GET / http/1.1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.10\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.x\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/2\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
}

TEST(host_and_authorization)
{
	spiffe_http_head h;

	CHECK_REQ_FAIL("GET / HTTP/1.1\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\n"
		       "Authorization: Bearer x\r\n"
		       "AUTHORIZATION: Bearer y\r\n\r\n",
		       SPIFFE_ERR_HTTP, 400);
	CHECK_REQ_FAIL("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\n"
		       "Authorization: a\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &h), 0);
	CHECK_INT(REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h), 0);
	CHECK_INT(REQ("GET / HTTP/1.0\r\n\r\n", &h), 0);
}

/* A request line of n bytes: "GET /aaa... HTTP/1.1". */
static char *long_line(size_t n, const char *rest)
{
	size_t r = strlen(rest);
	char *s = malloc(n + r + 1);

	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', n - 14);
	memcpy(s + n - 9, " HTTP/1.1", 9);
	memcpy(s + n, rest, r + 1);
	return s;
}

TEST(request_line_limit)
{
	spiffe_http_head h;
	char *s;
	int rc;

	s = long_line(SPIFFE_HTTP_MAX_REQUEST_LINE, "\r\nHost: a\r\n\r\n");
	rc = parse(0, 0, s, strlen(s), &h);
	free(s);
	CHECK_INT(rc, 0);
	s = long_line(SPIFFE_HTTP_MAX_REQUEST_LINE + 1, "\r\nHost: a\r\n\r\n");
	rc = parse(0, 0, s, strlen(s), &h);
	free(s);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 414);
	/* Known before the line ends: MAX + 2 bytes and no CRLF. */
	s = long_line(SPIFFE_HTTP_MAX_REQUEST_LINE + 2, "");
	rc = parse(0, 0, s, SPIFFE_HTTP_MAX_REQUEST_LINE + 1, &h);
	CHECK_INT(rc, SPIFFE_ERR_AGAIN);
	rc = parse(0, 0, s, SPIFFE_HTTP_MAX_REQUEST_LINE + 2, &h);
	free(s);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 414);
}

/* A head whose header block (fields + final CRLF) is n bytes. */
static char *block(size_t n)
{
	static const char start[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	size_t s0 = sizeof(start) - 1, used = 9; /* "Host: a\r\n" */
	char *s = malloc(s0 + n + 1);
	size_t k = s0;

	memcpy(s, start, s0);
	/* Fields "X: vvv\r\n" of at most 4000 bytes, then the CRLF. */
	while (n - used > 2) {
		size_t f = n - used - 2;

		if (f > 4000)
			f = 4000;
		if (f < 5)
			break;
		memcpy(s + k, "X: ", 3);
		memset(s + k + 3, 'v', f - 5);
		memcpy(s + k + f - 2, "\r\n", 2);
		k += f;
		used += f;
	}
	memcpy(s + k, "\r\n", 3);
	return s;
}

TEST(header_block_limit)
{
	spiffe_http_head h;
	char *s;
	int rc;

	s = block(SPIFFE_HTTP_MAX_HEADER_BLOCK);
	rc = parse(0, 0, s, strlen(s), &h);
	CHECK_INT(h.head_len, strlen(s));
	free(s);
	CHECK_INT(rc, 0);
	s = block(SPIFFE_HTTP_MAX_HEADER_BLOCK + 1);
	rc = parse(0, 0, s, strlen(s), &h);
	free(s);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 431);
	/* One endless field line: 431 as soon as the block is full. */
	s = malloc(SPIFFE_HTTP_MAX_HEAD + 100);
	memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
	memset(s + 19, 'v', SPIFFE_HTTP_MAX_HEAD + 81);
	rc = parse(0, 0, s, 16 + SPIFFE_HTTP_MAX_HEADER_BLOCK - 1, &h);
	CHECK_INT(rc, SPIFFE_ERR_AGAIN);
	rc = parse(0, 0, s, 16 + SPIFFE_HTTP_MAX_HEADER_BLOCK, &h);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 431);
	rc = parse(0, 0, s, SPIFFE_HTTP_MAX_HEAD + 100, &h);
	free(s);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 431);
}

TEST(too_many_fields)
{
	char s[2048];
	size_t k;
	spiffe_http_head h;

	k = (size_t)snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < SPIFFE_HTTP_MAX_HEADERS; i++)
		k += (size_t)snprintf(s + k, sizeof(s) - k, "X%d: v\r\n", i);
	memcpy(s + k, "\r\n", 3);
	CHECK_INT(parse(0, 0, s, k + 2, &h), 0);
	CHECK_INT(h.nfields, SPIFFE_HTTP_MAX_HEADERS);
	memcpy(s + k, "Y: v\r\n\r\n", 9);
	CHECK_INT(parse(0, 0, s, k + 8, &h), SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 431);
}

/* ---- chunked bodies --------------------------------------------------- */

TEST(chunked_hostile)
{
	/* Size over 64 bits: 400; leading zeros are not an overflow. */
	CHECK_CHUNKED_FAIL("10000000000000000\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("fffffffffffffffff\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_OK("000000000000000000001\r\na\r\n0\r\n\r\n");
	/* Representable but over the limit (64): 413 before any data. */
	CHECK_CHUNKED_FAIL("ffffffffffffffff\r\n", SPIFFE_ERR_LIMIT, 413);
	CHECK_CHUNKED_FAIL("41\r\n", SPIFFE_ERR_LIMIT, 413);
	CHECK_CHUNKED_FAIL("20\r\n" "0123456789abcdef0123456789abcdef\r\n"
			   "21\r\n", SPIFFE_ERR_LIMIT, 413);
	/* Data not followed by CRLF. */
	CHECK_CHUNKED_FAIL("5\r\nhelloX\r\n0\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5\r\nhello\rX", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5\r\nhello\n0\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	/* Bad sizes and line ends. */
	CHECK_CHUNKED_FAIL("\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("g\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("-1\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0x5\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL(" 5\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5\rhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5 \r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	/* Extensions: grammar checked. */
	CHECK_CHUNKED_FAIL("5;\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;=x\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a=\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a \r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a=b c\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a=\"b\"c\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a=\"b\0\"\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a=\"b\r\n\"\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("5;a\0\r\nhello\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_OK("1 ;a ; b= \"\\\"q\" ;c=d\r\nx\r\n0;z\r\n\r\n");
	/* Trailers: field grammar, no folding, bounded. */
	CHECK_CHUNKED_FAIL("0\r\nX: a\r\n b\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\nX : a\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\nX\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\nX: \0\r\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\nX: a\n\r\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\n\n", SPIFFE_ERR_HTTP, 400);
	CHECK_CHUNKED_FAIL("0\r\n\r\r", SPIFFE_ERR_HTTP, 400);
}

TEST(chunked_limits)
{
	char *s = malloc(SPIFFE_HTTP_MAX_TRAILER + 64);
	int st;
	size_t n;

	/* A chunk-size line of exactly the limit passes; one more fails. */
	memset(s, '0', SPIFFE_HTTP_MAX_CHUNK_LINE);
	memcpy(s + SPIFFE_HTTP_MAX_CHUNK_LINE, "\r\n\r\n", 4);
	CHECK_INT(chunked(s, SPIFFE_HTTP_MAX_CHUNK_LINE + 4, &st), 0);
	memset(s, '0', SPIFFE_HTTP_MAX_CHUNK_LINE + 1);
	memcpy(s + SPIFFE_HTTP_MAX_CHUNK_LINE + 1, "\r\n\r\n", 4);
	CHECK_INT(chunked(s, SPIFFE_HTTP_MAX_CHUNK_LINE + 5, &st),
		  SPIFFE_ERR_HTTP);
	CHECK_INT(st, 400);
	/*
	 * Trailer section "X: vvv CRLF CRLF" of exactly the limit passes;
	 * one byte more fails.
	 */
	n = SPIFFE_HTTP_MAX_TRAILER - 7;
	memcpy(s, "0\r\nX: ", 6);
	memset(s + 6, 'v', n);
	memcpy(s + 6 + n, "\r\n\r\n", 4);
	CHECK_INT(chunked(s, n + 10, &st), 0);
	n++;
	memset(s + 6, 'v', n);
	memcpy(s + 6 + n, "\r\n\r\n", 4);
	CHECK_INT(chunked(s, n + 10, &st), SPIFFE_ERR_LIMIT);
	CHECK_INT(st, 431);
	free(s);
}

TEST(body_limits)
{
	char out[8];
	size_t pr, c;
	int st;
	spiffe_http_body b;

	/* Content-Length over the limit: 413 before reading. */
	CHECK_INT(body(SPIFFE_HTTP_BODY_LENGTH, 9, 8, "", 0, out, 8, &pr, &c,
		       &st), SPIFFE_ERR_LIMIT);
	CHECK_INT(st, 413);
	CHECK_INT(body(SPIFFE_HTTP_BODY_LENGTH, 8, 8, "12345678", 8, out, 8,
		       &pr, &c, &st), 0);
	/* Chunked: the sum of chunks counts. */
	CHECK_INT(body(SPIFFE_HTTP_BODY_CHUNKED, 0, 8, "4\r\n1234\r\n"
		       "5\r\n12345\r\n0\r\n\r\n", 24, out, 8, &pr, &c, &st),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(st, 413);
	CHECK_INT(pr, 4);
	/* Close-delimited. */
	CHECK_INT(body(SPIFFE_HTTP_BODY_CLOSE, 0, 8, "123456789", 9, NULL, 0,
		       &pr, &c, &st), SPIFFE_ERR_LIMIT);
	CHECK_INT(body(SPIFFE_HTTP_BODY_CLOSE, 0, 8, "12345678", 8, NULL, 0,
		       &pr, &c, &st), SPIFFE_ERR_AGAIN);
	CHECK_INT(pr, 8);
	/* Output room bounds each call. */
	CHECK_INT(body(SPIFFE_HTTP_BODY_LENGTH, 6, 8, "abcdef", 6, out, 4,
		       &pr, &c, &st), SPIFFE_ERR_AGAIN);
	CHECK_INT(pr, 4);
	CHECK_INT(c, 4);
	/* No body, unknown framing. */
	CHECK_INT(body(SPIFFE_HTTP_BODY_NONE, 0, 8, "x", 1, out, 8, &pr, &c,
		       &st), 0);
	CHECK_INT(c, 0);
	CHECK_INT(spiffe_http_body_begin(&b, 99, 0, 8, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_body_read(&b, (const uint8_t *)"x", 1, &c, NULL,
					0, &pr, NULL), SPIFFE_ERR_ARG);
}

/* ---- responses -------------------------------------------------------- */

TEST(response_content_length)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
				"Content-Type: text/plain\r\n\r\nSuccess!!!";
	spiffe_http_head h;

	CHECK_INT(RESP(m, &h), 0);
	CHECK_INT(h.status, 200);
	CHECK_SPAN(m, h.reason, "OK");
	CHECK_INT(h.minor, 1);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_LENGTH);
	CHECK_INT(h.content_length, 10);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(h.head_len, sizeof(m) - 1 - 10);
	CHECK_INT(h.interim, 0);
	CHECK_INT(RESP("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n"
		       "Content-Length: 0\r\n\r\n", &h), 0);
	CHECK_INT(h.status, 401);
	CHECK_INT(h.keep_alive, 0);
	CHECK_INT(RESP("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
		       "Content-Length: 1\r\n\r\n", &h), 0);
	CHECK_INT(h.keep_alive, 1);
	/* No reason, with or without its SP; reason with obs-text. */
	CHECK_INT(RESP("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", &h), 0);
	CHECK_INT(h.reason.len, 0);
	CHECK_INT(RESP("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", &h), 0);
	CHECK_INT(h.reason.len, 0);
	CHECK_INT(RESP("HTTP/1.1 200 \xc3\xa7" "a va\r\n\r\n", &h), 0);
	CHECK_INT(h.reason.len, 6);
}

TEST(response_chunked)
{
	static const char m[] = "HTTP/1.1 200 OK\r\n"
				"Transfer-Encoding: chunked\r\n\r\n"
				"a\r\nSuccess!!!\r\n0\r\n\r\n";
	spiffe_http_head h;
	char out[16];
	size_t pr, c;
	int st;

	CHECK_INT(RESP(m, &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_CHUNKED);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(body(h.framing, 0, 100, m + h.head_len,
		       sizeof(m) - 1 - h.head_len, out, sizeof(out), &pr, &c,
		       &st), 0);
	CHECK_INT(pr, 10);
	CHECK_MEM(out, "Success!!!", 10);
}

TEST(response_close_delimited)
{
	static const char m[] = "HTTP/1.1 200 OK\r\nContent-Type: x\r\n\r\n"
				"all of it";
	spiffe_http_head h;
	char out[16];
	size_t pr, c;
	int st;

	CHECK_INT(RESP(m, &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_CLOSE);
	CHECK_INT(h.keep_alive, 0);
	CHECK_INT(body(h.framing, 0, 100, m + h.head_len, 9, out,
		       sizeof(out), &pr, &c, &st), SPIFFE_ERR_AGAIN);
	CHECK_INT(pr, 9);
	CHECK_INT(RESP("HTTP/1.0 200 OK\r\n\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_CLOSE);
	CHECK_INT(h.keep_alive, 0);
}

TEST(response_without_body)
{
	spiffe_http_head h;

	CHECK_INT(RESP("HTTP/1.1 204 No Content\r\n\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n"
		       "\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	CHECK_INT(h.content_length, 0);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(RESP_TO_HEAD("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n"
			       "\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	CHECK_INT(h.keep_alive, 1);
	CHECK_INT(RESP_TO_HEAD("HTTP/1.1 200 OK\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	/* A HEAD response without length still ends at its head. */
	CHECK_INT(RESP_TO_HEAD("HTTP/1.1 200 OK\r\n\r\n", &h), 0);
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_NONE);
	CHECK_INT(h.keep_alive, 1);
}

TEST(response_interim)
{
	static const char m[] = "HTTP/1.1 100 Continue\r\n\r\n"
				"HTTP/1.1 103 Early Hints\r\n"
				"Link: </a>\r\n\r\n"
				"HTTP/1.1 200 OK\r\n"
				"Content-Length: 2\r\n\r\nok";
	spiffe_http_head h;

	CHECK_INT(RESP(m, &h), 0);
	CHECK_INT(h.interim, 2);
	CHECK_INT(h.status, 200);
	CHECK_SPAN(m, h.reason, "OK");
	CHECK_INT(h.nfields, 1);
	CHECK_SPAN(m, h.fields[0].name, "Content-Length");
	CHECK_INT(h.framing, SPIFFE_HTTP_BODY_LENGTH);
	CHECK_INT(h.head_len, sizeof(m) - 3);
	/* The 100 is seen while the final head is still on its way. */
	spiffe_http_head_init(&h);
	CHECK_INT(spiffe_http_response_parse(&h, (const uint8_t *)m, 30, 0,
					     NULL), SPIFFE_ERR_AGAIN);
	CHECK_INT(h.interim, 1);
	CHECK_INT(spiffe_http_response_parse(&h, (const uint8_t *)m,
					     sizeof(m) - 1, 0, NULL), 0);
	CHECK_INT(h.interim, 2);
	CHECK_RESP_FAIL("HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 100 Continue\r\n\r\n"
			"HTTP/1.1 100 Continue\r\n\r\n", SPIFFE_ERR_LIMIT);
	CHECK_RESP_FAIL("HTTP/1.1 101 Switching Protocols\r\n"
			"Upgrade: websocket\r\n\r\n", SPIFFE_ERR_UNSUPPORTED);
}

TEST(response_malformed)
{
	CHECK_RESP_FAIL("HTTP/1.1 20 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 2000 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 2x0 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1  200 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1200 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 099 Low\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 600 High\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 O\x01K\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\rX\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\n\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/2 200 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/2.0 200 OK\r\n\r\n", SPIFFE_ERR_UNSUPPORTED);
	CHECK_RESP_FAIL("ICY 200 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("\r\nHTTP/1.1 200 OK\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\r\nX : y\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
			"Transfer-Encoding: chunked\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
			"Content-Length: 1\r\n\r\n", SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
			SPIFFE_ERR_HTTP);
	CHECK_RESP_FAIL("HTTP/1.1 200 OK\r\n"
			"Transfer-Encoding: gzip, chunked\r\n\r\n",
			SPIFFE_ERR_UNSUPPORTED);
}

TEST(response_limits)
{
	char *s = malloc(2 * SPIFFE_HTTP_MAX_HEAD);
	spiffe_http_head h;
	size_t k;
	int rc;

	/* Status line: reason of exactly the limit, then one more. */
	memcpy(s, "HTTP/1.1 200 ", 13);
	memset(s + 13, 'r', SPIFFE_HTTP_MAX_STATUS_LINE - 13);
	memcpy(s + SPIFFE_HTTP_MAX_STATUS_LINE, "\r\n\r\n", 4);
	CHECK_INT(parse(1, 0, s, SPIFFE_HTTP_MAX_STATUS_LINE + 4, &h), 0);
	memset(s + 13, 'r', SPIFFE_HTTP_MAX_STATUS_LINE - 12);
	memcpy(s + SPIFFE_HTTP_MAX_STATUS_LINE + 1, "\r\n\r\n", 4);
	CHECK_INT(parse(1, 0, s, SPIFFE_HTTP_MAX_STATUS_LINE + 5, &h),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 502);
	/* Interim heads count against the whole-head limit. */
	k = 0;
	for (int i = 0; i < 3; i++) {
		memcpy(s + k, "HTTP/1.1 103 Early Hints\r\nLink: ", 32);
		memset(s + k + 32, 'l', 8000);
		memcpy(s + k + 8032, "\r\n\r\n", 4);
		k += 8036;
	}
	memcpy(s + k, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(s + k + 20, 'x', 1000);
	memcpy(s + k + 1020, "\r\n\r\n", 4);
	k += 1024;
	CHECK(k > SPIFFE_HTTP_MAX_HEAD);
	rc = parse(1, 0, s, k, &h);
	free(s);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_INT(h.error_status, 502);
	CHECK_INT(h.interim, 3);
}

/* ---- writers ---------------------------------------------------------- */

TEST(write_request_and_parse_back)
{
	static const char want[] = "GET /x?y=1 HTTP/1.1\r\nHost: proxy\r\n"
				   "Authorization: Bearer a.b.c\r\n"
				   "X-Empty: \r\n\r\n";
	const spiffe_http_kv f[] = {
		SPIFFE_HTTP_KV("Host", "proxy"),
		SPIFFE_HTTP_KV("Authorization", "Bearer a.b.c"),
		SPIFFE_HTTP_KV("X-Empty", ""),
	};
	uint8_t out[128];
	size_t n;
	spiffe_http_head h;

	CHECK_INT(spiffe_http_write_request(out, sizeof(out), &n, "GET", 3,
					    "/x?y=1", 6, f, 3, NULL), 0);
	CHECK_INT(n, sizeof(want) - 1);
	CHECK_MEM(out, want, n);
	CHECK_INT(parse(0, 0, (const char *)out, n, &h), 0);
	CHECK_INT(h.nfields, 3);
	/* Every buffer too small by any amount: LIMIT, nothing past cap. */
	for (size_t cap = 0; cap < sizeof(want) - 1; cap++) {
		uint8_t *o = malloc(cap ? cap : 1);

		CHECK_INT(spiffe_http_write_request(o, cap, &n, "GET", 3,
						    "/x?y=1", 6, f, 3, NULL),
			  SPIFFE_ERR_LIMIT);
		free(o);
	}
}

TEST(write_rejects_injection)
{
	uint8_t out[256];
	size_t n;
	spiffe_errbuf eb;
	const spiffe_http_kv crlf[] = {
		SPIFFE_HTTP_KV("X", "a\r\nSet-Cookie: x"),
	};
	const spiffe_http_kv lf[] = { SPIFFE_HTTP_KV("X", "a\nb") };
	const spiffe_http_kv cr[] = { SPIFFE_HTTP_KV("X", "a\rb") };
	const spiffe_http_kv nul[] = { { "X", 1, "a\0b", 3 } };
	const spiffe_http_kv colon[] = { SPIFFE_HTTP_KV("X: y\r\nZ", "b") };
	const spiffe_http_kv space[] = { SPIFFE_HTTP_KV("X Y", "b") };
	const spiffe_http_kv empty[] = { SPIFFE_HTTP_KV("", "b") };
	const spiffe_http_kv lead[] = { SPIFFE_HTTP_KV("X", " b") };
	const spiffe_http_kv trail[] = { SPIFFE_HTTP_KV("X", "b\t") };
	const spiffe_http_kv obs[] = { SPIFFE_HTTP_KV("X", "caf\xc3\xa9") };

	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, crlf,
					     1, &eb), SPIFFE_ERR_ARG);
	CHECK(strstr(eb.msg, "field 0") != NULL);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, lf, 1,
					     NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, cr, 1,
					     NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, nul, 1,
					     NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, colon,
					     1, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, space,
					     1, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, empty,
					     1, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, lead,
					     1, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, trail,
					     1, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, obs, 1,
					     NULL), 0);
	CHECK_INT(spiffe_http_write_request(out, sizeof(out), &n, "GET /", 5,
					    "/", 1, NULL, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_request(out, sizeof(out), &n, "GET", 3,
					    "/ HTTP/1.0\r\n", 12, NULL, 0,
					    NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_request(out, sizeof(out), &n, "GET", 3,
					    "", 0, NULL, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 99, NULL, 0,
					     NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 600, NULL,
					     0, NULL), SPIFFE_ERR_ARG);
}

TEST(write_responses)
{
	const spiffe_http_kv f[] = {
		SPIFFE_HTTP_KV("Content-Length", "10"),
	};
	uint8_t out[128];
	size_t n;

	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 200, f, 1,
					     NULL), 0);
	CHECK_INT(n, 39);
	CHECK_MEM(out, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", n);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 100, NULL,
					     0, NULL), 0);
	CHECK_INT(n, 25);
	CHECK_MEM(out, "HTTP/1.1 100 Continue\r\n\r\n", n);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 431, NULL,
					     0, NULL), 0);
	CHECK_MEM(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n",
		  n);
	CHECK_INT(spiffe_http_write_response(out, sizeof(out), &n, 299, NULL,
					     0, NULL), 0);
	CHECK_INT(n, 17);
	CHECK_MEM(out, "HTTP/1.1 299 \r\n\r\n", n);
	CHECK_INT(spiffe_http_write_response(NULL, 100, &n, 200, NULL, 0,
					     NULL), SPIFFE_ERR_LIMIT);
}

TEST(reason_phrases)
{
	static const int named[] = { 200, 400, 401, 404, 405, 408, 413, 414,
				     431, 500, 501, 502, 503, 504, 505 };

	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		CHECK(spiffe_http_reason(named[i])[0] != '\0');
	CHECK_STR(spiffe_http_reason(401), "Unauthorized");
	CHECK_STR(spiffe_http_reason(505), "HTTP Version Not Supported");
	CHECK_STR(spiffe_http_reason(299), "");
}

TEST(chunk_encoder)
{
	uint8_t out[512], data[300], back[300];
	size_t n, c, pr, k = 0;
	spiffe_http_body b;

	CHECK_INT(spiffe_http_chunk_encode(out, sizeof(out), &n,
					   (const uint8_t *)"hello", 5), 0);
	CHECK_INT(n, 10);
	CHECK_MEM(out, "5\r\nhello\r\n", 10);
	memset(data, 'z', sizeof(data));
	CHECK_INT(spiffe_http_chunk_encode(out, sizeof(out), &n, data, 300),
		  0);
	CHECK_MEM(out, "12c\r\nzz", 7);
	k = n;
	CHECK_INT(spiffe_http_chunk_encode(out + k, sizeof(out) - k, &n, NULL,
					   0), 0);
	CHECK_INT(n, 5);
	CHECK_MEM(out + k, "0\r\n\r\n", 5);
	k += n;
	/* What we encode, we decode. */
	CHECK_INT(spiffe_http_body_begin(&b, SPIFFE_HTTP_BODY_CHUNKED, 0, 300,
					 NULL), 0);
	CHECK_INT(spiffe_http_body_read(&b, out, k, &c, back, sizeof(back),
					&pr, NULL), 0);
	CHECK_INT(c, k);
	CHECK_INT(pr, 300);
	CHECK_MEM(back, data, 300);
	CHECK_INT(spiffe_http_chunk_encode(out, 9, &n,
					   (const uint8_t *)"hello", 5),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_http_chunk_encode(out, sizeof(out), &n, NULL, 1),
		  SPIFFE_ERR_ARG);
}

TEST(hop_by_hop)
{
	static const char m[] = "GET / HTTP/1.1\r\nHost: a\r\n"
				"Connection: keep-alive, X-Secret,\r\n"
				"connection: Host, Content-Length\r\n\r\n";
	const uint8_t *p = (const uint8_t *)m;
	spiffe_http_head h;

#define HOP(s) spiffe_http_is_hop_by_hop(&h, p, (const uint8_t *)(s), \
					 sizeof(s) - 1)
	CHECK_INT(REQ(m, &h), 0);
	CHECK_INT(HOP("Connection"), 1);
	CHECK_INT(HOP("KEEP-ALIVE"), 1);
	CHECK_INT(HOP("Proxy-Connection"), 1);
	CHECK_INT(HOP("te"), 1);
	CHECK_INT(HOP("Trailer"), 1);
	CHECK_INT(HOP("Transfer-Encoding"), 1);
	CHECK_INT(HOP("Upgrade"), 1);
	CHECK_INT(HOP("Proxy-Authenticate"), 1);
	CHECK_INT(HOP("Proxy-Authorization"), 1);
	CHECK_INT(HOP("x-secret"), 1);
	CHECK_INT(HOP("Host"), 0);
	CHECK_INT(HOP("Content-Length"), 0);
	CHECK_INT(HOP("Authorization"), 0);
	CHECK_INT(HOP("X-Secre"), 0);
	CHECK_INT(HOP("Trailers"), 0);
#undef HOP
}

/* ---- messages captured from curl, wrk and Python (test/data/http1) --- */

#define ANY SIZE_MAX

struct vector {
	const char *file;
	int response;
	int head_request;
	int status;                  /* response: status; request: minor */
	int framing;
	int keep_alive;
	size_t body;                 /* decoded body bytes, or ANY */
};

/* Checks each message in a captured file, in order; 1 if all match. */
static int check_file(const struct vector *v, size_t n)
{
	static uint8_t buf[8192], out[8192];
	char path[128];
	FILE *f;
	size_t len, off = 0;

	snprintf(path, sizeof(path), "test/data/http1/%s", v[0].file);
	f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return 0;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		spiffe_http_head h;
		spiffe_http_body b;
		size_t c, pr;
		int rc;

		spiffe_http_head_init(&h);
		rc = v[i].response ?
			spiffe_http_response_parse(&h, buf + off, len - off,
						   v[i].head_request, NULL) :
			spiffe_http_request_parse(&h, buf + off, len - off,
						  NULL);
		if (rc != 0 || h.framing != v[i].framing ||
		    h.keep_alive != v[i].keep_alive ||
		    (v[i].response ? h.status : h.minor) != v[i].status)
			return 0;
		off += h.head_len;
		if (spiffe_http_body_begin(&b, h.framing, h.content_length,
					   SPIFFE_HTTP_MAX_BODY, NULL) != 0 ||
		    spiffe_http_body_read(&b, buf + off, len - off, &c, out,
					  sizeof(out), &pr, NULL) != 0 ||
		    (v[i].body != ANY && pr != v[i].body))
			return 0;
		off += c;
	}
	return off == len;
}

TEST(captured_messages)
{
	enum { NONE = SPIFFE_HTTP_BODY_NONE, LEN = SPIFFE_HTTP_BODY_LENGTH,
	       CHUNKED = SPIFFE_HTTP_BODY_CHUNKED };
	static const struct vector get[] = {
		{ "curl-get.http", 0, 0, 1, NONE, 1, 0 } };
	static const struct vector form[] = {
		{ "curl-post-form.http", 0, 0, 1, LEN, 1, 11 } };
	static const struct vector up[] = {
		{ "curl-chunked-upload.http", 0, 0, 1, CHUNKED, 1, 300 } };
	static const struct vector expect[] = {
		{ "curl-expect-100.http", 0, 0, 1, LEN, 1, 300 } };
	static const struct vector old[] = {
		{ "curl-http10.http", 0, 0, 0, NONE, 0, 0 } };
	static const struct vector wrk[] = {
		{ "wrk-get.http", 0, 0, 1, NONE, 1, 0 } };
	static const struct vector py[] = {
		{ "python-get-then-404.http", 1, 0, 200, LEN, 1, 300 },
		{ "", 1, 0, 404, LEN, 0, ANY } };
	static const struct vector head[] = {
		{ "python-head.http", 1, 1, 200, NONE, 1, 0 } };
	static const struct vector nm[] = {
		{ "python-not-modified.http", 1, 0, 304, NONE, 1, 0 } };

	CHECK(check_file(get, 1));
	CHECK(check_file(form, 1));
	CHECK(check_file(up, 1));
	CHECK(check_file(expect, 1));
	CHECK(check_file(old, 1));
	CHECK(check_file(wrk, 1));
	CHECK(check_file(py, 2));
	CHECK(check_file(head, 1));
	CHECK(check_file(nm, 1));
}

int main(void)
{
	RUN(get_keep_alive);
	RUN(keep_alive_rules);
	RUN(post_content_length);
	RUN(chunked_with_extensions_and_trailers);
	RUN(chunked_split_everywhere);
	RUN(chunked_in_place);
	RUN(pipelined_requests);
	RUN(split_at_every_byte);
	RUN(expect_continue);
	RUN(leading_empty_line);
	RUN(values_and_lookup);
	RUN(incomplete_heads);
	RUN(errors_are_sticky);
	RUN(error_messages);
	RUN(smuggling_framing);
	RUN(content_length_values);
	RUN(transfer_encoding_values);
	RUN(line_grammar);
	RUN(request_line_grammar);
	RUN(versions);
	RUN(host_and_authorization);
	RUN(request_line_limit);
	RUN(header_block_limit);
	RUN(too_many_fields);
	RUN(chunked_hostile);
	RUN(chunked_limits);
	RUN(body_limits);
	RUN(response_content_length);
	RUN(response_chunked);
	RUN(response_close_delimited);
	RUN(response_without_body);
	RUN(response_interim);
	RUN(response_malformed);
	RUN(response_limits);
	RUN(write_request_and_parse_back);
	RUN(write_rejects_injection);
	RUN(write_responses);
	RUN(reason_phrases);
	RUN(chunk_encoder);
	RUN(hop_by_hop);
	RUN(captured_messages);
	return test_summary();
}
