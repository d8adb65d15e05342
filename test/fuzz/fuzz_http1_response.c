/*
 * fuzz_http1_response.c - the client side: response heads and bodies.
 *
 * The input is what a server sends.  Its head is parsed as the answer
 * to GET and to HEAD (which may differ only in framing and
 * content_length), then the bytes after it are read as its body and,
 * separately, as a chunked body.  An input without a head is read whole
 * as a chunked body.  A parsed HTTP/1.1 head written back with
 * spiffe_http_write_response must parse to the same fields.
 */
#include "http1_fuzz.h"

static void round_trip(const spiffe_http_head *h, const uint8_t *p)
{
	static uint8_t out[2 * SPIFFE_HTTP_MAX_HEAD];
	spiffe_http_kv kv[SPIFFE_HTTP_MAX_HEADERS];
	spiffe_http_head h2;
	size_t n;
	int rc;

	for (size_t i = 0; i < h->nfields; i++) {
		kv[i].name = (const char *)p + h->fields[i].name.off;
		kv[i].name_len = h->fields[i].name.len;
		kv[i].value = (const char *)p + h->fields[i].value.off;
		kv[i].value_len = h->fields[i].value.len;
	}
	rc = spiffe_http_write_response(out, sizeof(out), &n, h->status, kv,
					h->nfields, NULL);
	REQUIRE(rc == 0);
	spiffe_http_head_init(&h2);
	rc = spiffe_http_response_parse(&h2, out, n, 0, NULL);
	if (rc == SPIFFE_ERR_LIMIT)
		return;
	REQUIRE(rc == 0 && h2.head_len == n && h2.status == h->status);
	REQUIRE(h2.nfields == h->nfields && h2.framing == h->framing &&
		h2.content_length == h->content_length &&
		h2.keep_alive == h->keep_alive);
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *a = &h->fields[i], *b = &h2.fields[i];

		REQUIRE(a->name.len == b->name.len &&
			a->value.len == b->value.len);
		REQUIRE(memcmp(p + a->name.off, out + b->name.off,
			       a->name.len) == 0);
		REQUIRE(memcmp(p + a->value.off, out + b->value.off,
			       a->value.len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_http_head h, hh;
	unsigned step = size ? data[0] : 0;
	int rc = fz_head(1, 0, &h, data, size);
	int rch = fz_head(1, 1, &hh, data, size);

	REQUIRE(rc == rch);
	REQUIRE(rc == 0 || rc == SPIFFE_ERR_AGAIN || h.error_status == 502);
	if (rc != 0) {
		fz_body(SPIFFE_HTTP_BODY_CHUNKED, 0, data, size, step);
		return 0;
	}
	REQUIRE(h.status >= 200 && h.status <= 599);
	REQUIRE(hh.framing == SPIFFE_HTTP_BODY_NONE);
	REQUIRE(hh.head_len == h.head_len && hh.nfields == h.nfields);
	fz_fields(&h, data);
	if (h.minor == 1)
		round_trip(&h, data);
	fz_body(h.framing, h.content_length, data + h.head_len,
		size - h.head_len, step);
	fz_body(SPIFFE_HTTP_BODY_CHUNKED, 0, data + h.head_len,
		size - h.head_len, step);
	return 0;
}
