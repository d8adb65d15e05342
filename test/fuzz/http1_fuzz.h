/*
 * http1_fuzz.h - checks shared by the HTTP/1.1 fuzz targets.
 *
 * Beyond "no crash", each input checks properties: a head parsed in two
 * pieces ends as one parsed whole; every span lies inside the head; a
 * body decoded at once, piecewise into a tiny buffer, and in place gives
 * the same bytes, consumption and result.
 */
#ifndef HTTP1_FUZZ_H
#define HTTP1_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                        \
	do {                                                               \
		if (!(c))                                                  \
			__builtin_trap();                                  \
	} while (0)

static int fz_same_span(spiffe_http_span a, spiffe_http_span b)
{
	return a.off == b.off && a.len == b.len;
}

static int fz_same_head(const spiffe_http_head *a, const spiffe_http_head *b)
{
	return fz_same_span(a->method, b->method) &&
	       fz_same_span(a->target, b->target) &&
	       fz_same_span(a->reason, b->reason) && a->status == b->status &&
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

static int fz_parse(int response, int head_request, spiffe_http_head *h,
		    const uint8_t *p, size_t len)
{
	spiffe_errbuf eb;

	return response ?
		spiffe_http_response_parse(h, p, len, head_request, &eb) :
		spiffe_http_request_parse(h, p, len, &eb);
}

/* Parses data whole, then split at a point data picks; compares. */
static int fz_head(int response, int head_request, spiffe_http_head *h,
		   const uint8_t *data, size_t size)
{
	spiffe_http_head h2;
	size_t k = size ? (data[size - 1] * 257u + size) % (size + 1) : 0;
	uint8_t *pre = malloc(k ? k : 1);
	int rc, rc2;

	spiffe_http_head_init(h);
	rc = fz_parse(response, head_request, h, data, size);
	memcpy(pre, data, k);
	spiffe_http_head_init(&h2);
	rc2 = fz_parse(response, head_request, &h2, pre, k);
	free(pre);
	if (rc2 == SPIFFE_ERR_AGAIN)
		rc2 = fz_parse(response, head_request, &h2, data, size);
	REQUIRE(rc == rc2 && fz_same_head(h, &h2));
	/* Calls after the end repeat the answer. */
	REQUIRE(fz_parse(response, head_request, &h2, data, size) == rc);
	if (rc != 0)
		return rc;
	REQUIRE(h->head_len <= size && h->head_len <= SPIFFE_HTTP_MAX_HEAD);
	REQUIRE(h->nfields <= SPIFFE_HTTP_MAX_HEADERS);
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *f = &h->fields[i];

		REQUIRE(f->name.len > 0);
		REQUIRE(f->name.off + f->name.len <= h->head_len);
		REQUIRE(f->value.off + f->value.len <= h->head_len);
	}
	REQUIRE(h->method.off + h->method.len <= h->head_len);
	REQUIRE(h->target.off + h->target.len <= h->head_len);
	REQUIRE(h->reason.off + h->reason.len <= h->head_len);
	REQUIRE(h->framing != SPIFFE_HTTP_BODY_CLOSE || !h->keep_alive);
	return 0;
}

/* Looks up and classifies every field name; must not fail oddly. */
static void fz_fields(const spiffe_http_head *h, const uint8_t *p)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *f = &h->fields[i];
		char name[SPIFFE_HTTP_MAX_HEAD + 1];
		const uint8_t *v;
		size_t vl;
		int rc;

		memcpy(name, p + f->name.off, f->name.len);
		name[f->name.len] = '\0';
		rc = spiffe_http_header_get(h, p, name, &v, &vl);
		REQUIRE(rc == 0 || rc == SPIFFE_ERR_HTTP);
		if (rc == 0)
			REQUIRE(v == p + f->value.off && vl == f->value.len);
		(void)spiffe_http_is_hop_by_hop(h, p, p + f->name.off,
						f->name.len);
	}
}

/*
 * Decodes in[0..len) as a body three ways (at once, piecewise into a
 * 3-byte buffer with steps data picks, in place) and requires they
 * agree.
 */
static void fz_body(int framing, uint64_t cl, const uint8_t *in,
		    size_t len, unsigned step)
{
	spiffe_http_body b;
	uint8_t *whole = malloc(len ? len : 1);
	uint8_t *copy = malloc(len ? len : 1);
	size_t c1, p1, c2 = 0, p2 = 0, c3, p3;
	int rc1, rc2, rc3, st1;

	if (spiffe_http_body_begin(&b, framing, cl, SPIFFE_HTTP_MAX_BODY,
				   NULL) != 0) {
		REQUIRE(b.error_status == 413);
		goto out;
	}
	rc1 = spiffe_http_body_read(&b, in, len, &c1, whole, len, &p1, NULL);
	st1 = b.error_status;
	REQUIRE(c1 <= len && p1 <= c1);
	REQUIRE(rc1 == 0 || rc1 == SPIFFE_ERR_AGAIN ||
		((rc1 == SPIFFE_ERR_HTTP || rc1 == SPIFFE_ERR_LIMIT) &&
		 st1 != 0));
	if (rc1 == SPIFFE_ERR_AGAIN)
		REQUIRE(c1 == len);

	REQUIRE(spiffe_http_body_begin(&b, framing, cl, SPIFFE_HTTP_MAX_BODY,
				       NULL) == 0);
	step = step % 7 + 1;
	for (;;) {
		uint8_t small[3];
		size_t n = len - c2 < step ? len - c2 : step, c, pr;

		rc2 = spiffe_http_body_read(&b, in + c2, n, &c, small,
					    sizeof(small), &pr, NULL);
		REQUIRE(c <= n && pr <= sizeof(small));
		REQUIRE(p2 + pr <= p1 && memcmp(small, whole + p2, pr) == 0);
		c2 += c;
		p2 += pr;
		if (rc2 != SPIFFE_ERR_AGAIN || c2 == len)
			break;
		REQUIRE(c > 0);
	}
	REQUIRE(rc2 == rc1 && c2 == c1 && p2 == p1);
	if (rc1 != 0 && rc1 != SPIFFE_ERR_AGAIN)
		REQUIRE(b.error_status == st1);

	memcpy(copy, in, len);
	REQUIRE(spiffe_http_body_begin(&b, framing, cl, SPIFFE_HTTP_MAX_BODY,
				       NULL) == 0);
	rc3 = spiffe_http_body_read(&b, copy, len, &c3, copy, len, &p3, NULL);
	REQUIRE(rc3 == rc1 && c3 == c1 && p3 == p1);
	REQUIRE(memcmp(copy, whole, p1) == 0);
out:
	free(whole);
	free(copy);
}

#endif
