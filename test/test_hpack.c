#include "test.h"
#include "hpack.h"

#include <stdlib.h>

/* Hex with optional spaces, as RFC 7541 Appendix C prints it. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			if (n == cap)
				abort();
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

#define H(n, v) { (const uint8_t *)(n), sizeof(n) - 1, \
	(const uint8_t *)(v), sizeof(v) - 1, 0 }

static int hdr_is(const spiffe_header *h, const char *n, const char *v)
{
	size_t nl = strlen(n), vl = strlen(v);

	return h->name_len == nl && h->value_len == vl &&
		memcmp(h->name, n, nl) == 0 && memcmp(h->value, v, vl) == 0;
}

static uint8_t scratch[SPIFFE_H2_MAX_HEADER_LIST];
static spiffe_header fields[SPIFFE_H2_MAX_HEADERS];

/* Table entry i (1 = newest) is name: value. */
static int entry_is(const spiffe_hpack_table *t, size_t i, const char *n,
		    const char *v)
{
	static uint8_t buf[SPIFFE_HPACK_TABLE_SIZE];
	spiffe_header h;

	if (spiffe_hpack_table_get(t, i, &h, buf, sizeof(buf)) != 0)
		return 0;
	return hdr_is(&h, n, v);
}

/*
 * One step of an Appendix C sequence: decoding hex gives list[0..n),
 * and encoding list gives hex back.
 */
static int rfc_step(spiffe_hpack_dec *d, spiffe_hpack_enc *e,
		    const char *hex, const spiffe_header *list, size_t n)
{
	uint8_t block[512], out[512];
	size_t len = unhex(hex, block, sizeof(block)), olen, got;

	if (spiffe_hpack_decode(d, block, len, fields, SPIFFE_H2_MAX_HEADERS,
				&got, scratch, sizeof(scratch)) != 0)
		return 0;
	if (got != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (fields[i].name_len != list[i].name_len ||
		    fields[i].value_len != list[i].value_len ||
		    memcmp(fields[i].name, list[i].name,
			   list[i].name_len) != 0 ||
		    memcmp(fields[i].value, list[i].value,
			   list[i].value_len) != 0)
			return 0;
	}
	if (spiffe_hpack_encode(e, list, n, out, sizeof(out), &olen) != 0)
		return 0;
	return olen == len && memcmp(out, block, len) == 0;
}

/* Decodes hex and returns the result; fields in fields[0..*n). */
static int dec_hex(spiffe_hpack_dec *d, const char *hex, size_t *n)
{
	uint8_t block[512];
	size_t len = unhex(hex, block, sizeof(block));

	return spiffe_hpack_decode(d, block, len, fields,
				   SPIFFE_H2_MAX_HEADERS, n, scratch,
				   sizeof(scratch));
}

TEST(c2_representations)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;
	size_t n;

	/* C.2.1 literal with indexing */
	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	spiffe_header h1[] = { H("custom-key", "custom-header") };
	CHECK(rfc_step(&d, &e, "400a 6375 7374 6f6d 2d6b 6579 0d63 7573"
		       "746f 6d2d 6865 6164 6572", h1, 1));
	CHECK_INT(spiffe_hpack_table_size(&d.tab), 55);
	CHECK(entry_is(&d.tab, 1, "custom-key", "custom-header"));
	CHECK_INT(spiffe_hpack_table_size(&e.tab), 55);

	/* C.2.2 literal without indexing */
	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	spiffe_header h2[] = { H(":path", "/sample/path") };
	h2[0].flags = SPIFFE_HEADER_NO_INDEX;
	CHECK(rfc_step(&d, &e, "040c 2f73 616d 706c 652f 7061 7468", h2, 1));
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
	CHECK_INT(spiffe_hpack_table_count(&e.tab), 0);

	/* C.2.3 literal never indexed */
	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	spiffe_header h3[] = { H("password", "secret") };
	h3[0].flags = SPIFFE_HEADER_NEVER_INDEX;
	CHECK(rfc_step(&d, &e, "1008 7061 7373 776f 7264 0673 6563 7265 74",
		       h3, 1));
	CHECK_INT(fields[0].flags, SPIFFE_HEADER_NEVER_INDEX);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
	CHECK_INT(spiffe_hpack_table_count(&e.tab), 0);

	/* C.2.4 indexed */
	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	spiffe_header h4[] = { H(":method", "GET") };
	CHECK(rfc_step(&d, &e, "82", h4, 1));
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
	CHECK_INT(dec_hex(&d, "82", &n), 0);
	CHECK(hdr_is(&fields[0], ":method", "GET"));
}

static const spiffe_header req1[] = {
	H(":method", "GET"), H(":scheme", "http"), H(":path", "/"),
	H(":authority", "www.example.com"),
};
static const spiffe_header req2[] = {
	H(":method", "GET"), H(":scheme", "http"), H(":path", "/"),
	H(":authority", "www.example.com"), H("cache-control", "no-cache"),
};
static const spiffe_header req3[] = {
	H(":method", "GET"), H(":scheme", "https"), H(":path", "/index.html"),
	H(":authority", "www.example.com"), H("custom-key", "custom-value"),
};

/* The tables after each request of C.3 and C.4 (both sides agree). */
static int req_tables(const spiffe_hpack_dec *d, const spiffe_hpack_enc *e,
		      int step)
{
	const spiffe_hpack_table *ts[2] = { &d->tab, &e->tab };

	for (int k = 0; k < 2; k++) {
		const spiffe_hpack_table *t = ts[k];
		switch (step) {
		case 1:
			if (spiffe_hpack_table_count(t) != 1 ||
			    spiffe_hpack_table_size(t) != 57 ||
			    !entry_is(t, 1, ":authority", "www.example.com"))
				return 0;
			break;
		case 2:
			if (spiffe_hpack_table_count(t) != 2 ||
			    spiffe_hpack_table_size(t) != 110 ||
			    !entry_is(t, 1, "cache-control", "no-cache") ||
			    !entry_is(t, 2, ":authority", "www.example.com"))
				return 0;
			break;
		case 3:
			if (spiffe_hpack_table_count(t) != 3 ||
			    spiffe_hpack_table_size(t) != 164 ||
			    !entry_is(t, 1, "custom-key", "custom-value") ||
			    !entry_is(t, 2, "cache-control", "no-cache") ||
			    !entry_is(t, 3, ":authority", "www.example.com"))
				return 0;
			break;
		}
	}
	return 1;
}

TEST(c3_requests_without_huffman)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;

	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	CHECK(rfc_step(&d, &e, "8286 8441 0f77 7777 2e65 7861 6d70 6c65"
		       "2e63 6f6d", req1, 4));
	CHECK(req_tables(&d, &e, 1));
	CHECK(rfc_step(&d, &e, "8286 84be 5808 6e6f 2d63 6163 6865",
		       req2, 5));
	CHECK(req_tables(&d, &e, 2));
	CHECK(rfc_step(&d, &e, "8287 85bf 400a 6375 7374 6f6d 2d6b 6579"
		       "0c63 7573 746f 6d2d 7661 6c75 65", req3, 5));
	CHECK(req_tables(&d, &e, 3));
}

TEST(c4_requests_with_huffman)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;

	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	CHECK(rfc_step(&d, &e, "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		       req1, 4));
	CHECK(req_tables(&d, &e, 1));
	CHECK(rfc_step(&d, &e, "8286 84be 5886 a8eb 1064 9cbf", req2, 5));
	CHECK(req_tables(&d, &e, 2));
	CHECK(rfc_step(&d, &e, "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925"
		       "a849 e95b b8e8 b4bf", req3, 5));
	CHECK(req_tables(&d, &e, 3));
}

static const spiffe_header resp1[] = {
	H(":status", "302"), H("cache-control", "private"),
	H("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
	H("location", "https://www.example.com"),
};
static const spiffe_header resp2[] = {
	H(":status", "307"), H("cache-control", "private"),
	H("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
	H("location", "https://www.example.com"),
};
static const spiffe_header resp3[] = {
	H(":status", "200"), H("cache-control", "private"),
	H("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
	H("location", "https://www.example.com"),
	H("content-encoding", "gzip"),
	H("set-cookie",
	  "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
};

static int resp_tables(const spiffe_hpack_dec *d, const spiffe_hpack_enc *e,
		       int step)
{
	const spiffe_hpack_table *ts[2] = { &d->tab, &e->tab };

	for (int k = 0; k < 2; k++) {
		const spiffe_hpack_table *t = ts[k];
		switch (step) {
		case 1:
			if (spiffe_hpack_table_count(t) != 4 ||
			    spiffe_hpack_table_size(t) != 222 ||
			    !entry_is(t, 1, "location",
				      "https://www.example.com") ||
			    !entry_is(t, 2, "date",
				      "Mon, 21 Oct 2013 20:13:21 GMT") ||
			    !entry_is(t, 3, "cache-control", "private") ||
			    !entry_is(t, 4, ":status", "302"))
				return 0;
			break;
		case 2:
			if (spiffe_hpack_table_count(t) != 4 ||
			    spiffe_hpack_table_size(t) != 222 ||
			    !entry_is(t, 1, ":status", "307") ||
			    !entry_is(t, 2, "location",
				      "https://www.example.com") ||
			    !entry_is(t, 3, "date",
				      "Mon, 21 Oct 2013 20:13:21 GMT") ||
			    !entry_is(t, 4, "cache-control", "private"))
				return 0;
			break;
		case 3:
			if (spiffe_hpack_table_count(t) != 3 ||
			    spiffe_hpack_table_size(t) != 215 ||
			    !entry_is(t, 1, "set-cookie",
				      "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; "
				      "max-age=3600; version=1") ||
			    !entry_is(t, 2, "content-encoding", "gzip") ||
			    !entry_is(t, 3, "date",
				      "Mon, 21 Oct 2013 20:13:22 GMT"))
				return 0;
			break;
		}
	}
	return 1;
}

TEST(c5_responses_without_huffman)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;

	spiffe_hpack_dec_init(&d, 256);
	spiffe_hpack_enc_init(&e, 256);
	spiffe_hpack_enc_set_huffman(&e, 0);
	CHECK(rfc_step(&d, &e, "4803 3330 3258 0770 7269 7661 7465 611d"
		       "4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
		       "2032 303a 3133 3a32 3120 474d 546e 1768"
		       "7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
		       "6c65 2e63 6f6d", resp1, 4));
	CHECK(resp_tables(&d, &e, 1));
	CHECK(rfc_step(&d, &e, "4803 3330 37c1 c0bf", resp2, 4));
	CHECK(resp_tables(&d, &e, 2));
	CHECK(rfc_step(&d, &e, "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420"
		       "3230 3133 2032 303a 3133 3a32 3220 474d"
		       "54c0 5a04 677a 6970 7738 666f 6f3d 4153"
		       "444a 4b48 514b 425a 584f 5157 454f 5049"
		       "5541 5851 5745 4f49 553b 206d 6178 2d61"
		       "6765 3d33 3630 303b 2076 6572 7369 6f6e"
		       "3d31", resp3, 6));
	CHECK(resp_tables(&d, &e, 3));
}

TEST(c6_responses_with_huffman)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;

	spiffe_hpack_dec_init(&d, 256);
	spiffe_hpack_enc_init(&e, 256);
	CHECK(rfc_step(&d, &e, "4882 6402 5885 aec3 771a 4b61 96d0 7abe"
		       "9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
		       "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8"
		       "e9ae 82ae 43d3", resp1, 4));
	CHECK(resp_tables(&d, &e, 1));
	CHECK(rfc_step(&d, &e, "4883 640e ffc1 c0bf", resp2, 4));
	CHECK(resp_tables(&d, &e, 2));
	CHECK(rfc_step(&d, &e, "88c1 6196 d07a be94 1054 d444 a820 0595"
		       "040b 8166 e084 a62d 1bff c05a 839b d9ab"
		       "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b"
		       "3960 d5af 2708 7f36 72c1 ab27 0fb5 291f"
		       "9587 3160 65c0 03ed 4ee5 b106 3d50 07", resp3, 6));
	CHECK(resp_tables(&d, &e, 3));
}

/* Every byte value goes through the Huffman encoder and decoder. */
TEST(huffman_every_symbol_round_trips)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;
	uint8_t val[11], out[64];
	size_t olen, n;

	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	memset(val, 'e', sizeof(val));
	for (int s = 0; s < 256; s++) {
		/* 10 five-bit 'e's make Huffman shorter for any symbol. */
		val[0] = (uint8_t)s;
		spiffe_header h = { (const uint8_t *)"x", 1, val, sizeof(val),
				    SPIFFE_HEADER_NO_INDEX };
		CHECK_INT(spiffe_hpack_encode(&e, &h, 1, out, sizeof(out),
					      &olen), 0);
		CHECK(olen >= 4 && (out[3] & 0x80));  /* value is Huffman */
		CHECK_INT(spiffe_hpack_decode(&d, out, olen, fields, 4, &n,
					      scratch, sizeof(scratch)), 0);
		CHECK_INT(n, 1);
		CHECK_INT(fields[0].value_len, sizeof(val));
		CHECK_MEM(fields[0].value, val, sizeof(val));
	}
}

TEST(integer_overflow_is_an_error)
{
	spiffe_hpack_dec d;
	size_t n;

	spiffe_hpack_dec_init(&d, 4096);
	/* 127 + 2^35-ish: over 32 bits */
	CHECK_INT(dec_hex(&d, "ff ff ff ff ff 0f", &n), SPIFFE_ERR_HPACK);
	/* zero-valued continuation bytes past five */
	CHECK_INT(dec_hex(&d, "ff 80 80 80 80 80 00", &n), SPIFFE_ERR_HPACK);
	/* string length past the block */
	CHECK_INT(dec_hex(&d, "00 7f ff ff ff 0f", &n), SPIFFE_ERR_HPACK);
	/* truncated integer and truncated string */
	CHECK_INT(dec_hex(&d, "ff", &n), SPIFFE_ERR_HPACK);
	CHECK_INT(dec_hex(&d, "40 05 6162", &n), SPIFFE_ERR_HPACK);
	CHECK_INT(dec_hex(&d, "40", &n), SPIFFE_ERR_HPACK);
	/* largest accepted integer: a 4 GiB string length, not in block */
	CHECK_INT(dec_hex(&d, "00 01 61 7f 80 ff ff ff 0f", &n),
		  SPIFFE_ERR_HPACK);
}

TEST(bad_indexes_are_errors)
{
	spiffe_hpack_dec d;
	size_t n;

	spiffe_hpack_dec_init(&d, 4096);
	CHECK_INT(dec_hex(&d, "80", &n), SPIFFE_ERR_HPACK);       /* 0 */
	CHECK_INT(dec_hex(&d, "be", &n), SPIFFE_ERR_HPACK);       /* 62 */
	CHECK_INT(dec_hex(&d, "7e 01 61", &n), SPIFFE_ERR_HPACK); /* name 62 */
	CHECK_INT(dec_hex(&d, "bd", &n), 0);                      /* 61 */
	CHECK(hdr_is(&fields[0], "www-authenticate", ""));
	CHECK_INT(dec_hex(&d, "40 01 61 01 62", &n), 0);
	CHECK_INT(dec_hex(&d, "be", &n), 0);
	CHECK(hdr_is(&fields[0], "a", "b"));
	CHECK_INT(dec_hex(&d, "bf", &n), SPIFFE_ERR_HPACK);       /* 63 */
}

TEST(table_size_updates)
{
	spiffe_hpack_dec d;
	size_t n;

	spiffe_hpack_dec_init(&d, 4096);
	CHECK_INT(dec_hex(&d, "40 01 61 01 62", &n), 0);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 1);
	/* after a field: error */
	CHECK_INT(dec_hex(&d, "82 20", &n), SPIFFE_ERR_HPACK);
	/* over the announced 4096: error; 4096 itself is fine */
	CHECK_INT(dec_hex(&d, "3f e2 1f", &n), SPIFFE_ERR_HPACK);
	spiffe_hpack_dec_init(&d, 4096);
	CHECK_INT(dec_hex(&d, "40 01 61 01 62", &n), 0);
	CHECK_INT(dec_hex(&d, "3f e1 1f 82", &n), 0);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 1);
	/* two updates at the start: 0 evicts, then back to 4096 */
	CHECK_INT(dec_hex(&d, "20 3f e1 1f", &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
	CHECK_INT(dec_hex(&d, "be", &n), SPIFFE_ERR_HPACK);
}

TEST(huffman_padding_and_eos)
{
	spiffe_hpack_dec d;
	size_t n;

	spiffe_hpack_dec_init(&d, 4096);
	/* 'a' (00011) + 111 padding is fine */
	CHECK_INT(dec_hex(&d, "00 01 78 81 1f", &n), 0);
	CHECK(hdr_is(&fields[0], "x", "a"));
	/* 'a' + 000 padding: not the EOS prefix */
	CHECK_INT(dec_hex(&d, "00 01 78 81 18", &n), SPIFFE_ERR_HPACK);
	/* 8 bits of padding */
	CHECK_INT(dec_hex(&d, "00 01 78 81 ff", &n), SPIFFE_ERR_HPACK);
	/* 'a' + 11 ones */
	CHECK_INT(dec_hex(&d, "00 01 78 82 1f ff", &n), SPIFFE_ERR_HPACK);
	/* EOS (30 ones) in the string */
	CHECK_INT(dec_hex(&d, "00 01 78 84 ff ff ff ff", &n),
		  SPIFFE_ERR_HPACK);
	/* empty Huffman string */
	CHECK_INT(dec_hex(&d, "00 01 78 80", &n), 0);
	CHECK(hdr_is(&fields[0], "x", ""));
}

/* A block of literals without indexing: name "x", values of vlen. */
static size_t long_value_block(uint8_t *b, size_t vlen, int indexing)
{
	size_t o = 0;

	b[o++] = indexing ? 0x40 : 0x00;
	b[o++] = 1;
	b[o++] = 'x';
	/* 7-bit prefix length */
	if (vlen < 127) {
		b[o++] = (uint8_t)vlen;
	} else {
		size_t v = vlen - 127;
		b[o++] = 0x7f;
		while (v >= 128) {
			b[o++] = (uint8_t)(0x80 | (v & 0x7f));
			v >>= 7;
		}
		b[o++] = (uint8_t)v;
	}
	memset(b + o, 'v', vlen);
	return o + vlen;
}

TEST(string_over_limit_keeps_table_in_step)
{
	static uint8_t blk[3 * SPIFFE_HPACK_MAX_STRING];
	spiffe_hpack_dec d;
	size_t n, len = 0;

	spiffe_hpack_dec_init(&d, 4096);
	/* a: b with indexing, then an over-long value */
	memcpy(blk, "\x40\x01" "a" "\x01" "b", 5);
	len = 5 + long_value_block(blk + 5, SPIFFE_HPACK_MAX_STRING + 1, 0);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	CHECK_INT(n, 0);
	CHECK(entry_is(&d.tab, 1, "a", "b"));
	/* exactly the limit fits */
	len = long_value_block(blk, SPIFFE_HPACK_MAX_STRING, 0);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), 0);
	CHECK_INT(fields[0].value_len, SPIFFE_HPACK_MAX_STRING);
	/* over-long with indexing: too big for the table, which empties */
	len = long_value_block(blk, SPIFFE_HPACK_MAX_STRING + 1, 1);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
}

TEST(list_over_limit_still_indexes)
{
	static uint8_t blk[4 * SPIFFE_HPACK_MAX_STRING];
	spiffe_hpack_dec d;
	size_t n, len = 0;

	spiffe_hpack_dec_init(&d, 4096);
	/* three 7000-byte values overflow the 16 KiB list ... */
	for (int i = 0; i < 3; i++)
		len += long_value_block(blk + len, 7000, 0);
	/* ... and an indexed entry after that must still be added */
	memcpy(blk + len, "\x40\x01" "k" "\x01" "v", 5);
	len += 5;
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	CHECK(entry_is(&d.tab, 1, "k", "v"));
	/* field count limit */
	CHECK_INT(dec_hex(&d, "82 82 82", &n), 0);
	uint8_t three[] = { 0x82, 0x82, 0x82 };
	CHECK_INT(spiffe_hpack_decode(&d, three, 3, fields, 2, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	/* a 4000-byte entry indexed while the list is already lost */
	len = 0;
	for (int i = 0; i < 3; i++)
		len += long_value_block(blk + len, 7000, 0);
	len += long_value_block(blk + len, 4000, 1);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 2);
	CHECK_INT(spiffe_hpack_table_size(&d.tab), 34 + 4033);
	CHECK_INT(dec_hex(&d, "be", &n), 0);
	CHECK_INT(fields[0].value_len, 4000);
}

/*
 * Entries naming a 4000-byte entry cost two bytes each to send: past
 * SPIFFE_HPACK_MAX_INSERT bytes added in one block the decoder gives up
 * rather than copy on; below it the block is only over the list limit.
 */
static size_t insert_flood(uint8_t *b, int copies)
{
	size_t o = 0, v = 4000 - 127;

	b[o++] = 0x40;                  /* literal with indexing, new name */
	b[o++] = 0x7f;                  /* name length 4000 */
	while (v >= 128) {
		b[o++] = (uint8_t)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	b[o++] = (uint8_t)v;
	memset(b + o, 'n', 4000);
	o += 4000;
	b[o++] = 0;                     /* empty value */
	for (int i = 0; i < copies; i++) {
		b[o++] = 0x7e;          /* same again, name index 62 */
		b[o++] = 0;
	}
	return o;
}

TEST(insert_flood_is_refused)
{
	static uint8_t blk[8192];
	spiffe_hpack_dec d;
	size_t n, len;

	spiffe_hpack_dec_init(&d, 4096);
	len = insert_flood(blk, 20);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 1);
	CHECK_INT(spiffe_hpack_table_size(&d.tab), 4032);
	spiffe_hpack_dec_init(&d, 4096);
	len = insert_flood(blk, SPIFFE_HPACK_MAX_INSERT / 4000);
	CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n, scratch,
				      sizeof(scratch)), SPIFFE_ERR_HPACK);
}

/* RFC 7541 4.4: a new entry may name the entry it evicts. */
TEST(new_entry_names_evicted_entry)
{
	spiffe_hpack_dec d;
	size_t n;

	spiffe_hpack_dec_init(&d, 64);
	CHECK_INT(dec_hex(&d, "40 04 61616161 01 62", &n), 0);   /* 37 */
	/* name index 62 = "aaaa", value of 20 bytes: 56 > 64 - 37 */
	CHECK_INT(dec_hex(&d, "7e 14 6363636363636363636363636363636363636363",
			  &n), 0);
	CHECK(hdr_is(&fields[0], "aaaa", "cccccccccccccccccccc"));
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 1);
	CHECK(entry_is(&d.tab, 1, "aaaa", "cccccccccccccccccccc"));
}

/* Entries wrap around the byte ring and still read back whole. */
TEST(table_ring_wraps)
{
	static uint8_t blk[2048];
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;
	spiffe_header h;
	uint8_t val[1000];
	size_t n, len;

	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_init(&e, 4096);
	for (int i = 0; i < 20; i++) {
		memset(val, 'a' + i, sizeof(val));
		h = (spiffe_header){ (const uint8_t *)"k", 1, val,
				     sizeof(val), 0 };
		CHECK_INT(spiffe_hpack_encode(&e, &h, 1, blk, sizeof(blk),
					      &len), 0);
		CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n,
					      scratch, sizeof(scratch)), 0);
		CHECK_INT(spiffe_hpack_table_count(&d.tab), i < 3 ? i + 1 : 3);
		/* encoding it again is one indexed byte: 0xbe */
		CHECK_INT(spiffe_hpack_encode(&e, &h, 1, blk, sizeof(blk),
					      &len), 0);
		CHECK_INT(len, 1);
		CHECK_INT(blk[0], 0xbe);
		CHECK_INT(spiffe_hpack_decode(&d, blk, len, fields, 8, &n,
					      scratch, sizeof(scratch)), 0);
		CHECK_INT(fields[0].value_len, sizeof(val));
		CHECK_MEM(fields[0].value, val, sizeof(val));
	}
}

TEST(encoder_never_indexes_authorization)
{
	spiffe_hpack_enc e;
	uint8_t out[64];
	size_t len;
	spiffe_header h[] = { H("authorization", "Bearer x") };

	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	CHECK_INT(spiffe_hpack_encode(&e, h, 1, out, sizeof(out), &len), 0);
	/* never indexed, name index 23 = 15 + 8 */
	CHECK_INT(len, 11);
	CHECK_MEM(out, "\x1f\x08\x08" "Bearer x", 11);
	CHECK_INT(spiffe_hpack_table_count(&e.tab), 0);
}

TEST(encoder_signals_size_changes)
{
	spiffe_hpack_enc e;
	spiffe_hpack_dec d;
	uint8_t out[64];
	size_t len, n;
	spiffe_header h[] = { H("k", "v") };

	spiffe_hpack_enc_init(&e, 4096);
	spiffe_hpack_dec_init(&d, 4096);
	spiffe_hpack_enc_set_huffman(&e, 0);
	/* a larger setting than ours changes nothing */
	spiffe_hpack_enc_set_limit(&e, 65536);
	CHECK_INT(spiffe_hpack_encode(&e, h, 1, out, sizeof(out), &len), 0);
	CHECK_INT(out[0], 0x40);
	CHECK_INT(spiffe_hpack_decode(&d, out, len, fields, 8, &n, scratch,
				      sizeof(scratch)), 0);
	/* 0 then 4096 before the next block: both are signalled */
	spiffe_hpack_enc_set_limit(&e, 0);
	spiffe_hpack_enc_set_limit(&e, 4096);
	CHECK_INT(spiffe_hpack_encode(&e, h, 1, out, sizeof(out), &len), 0);
	CHECK_MEM(out, "\x20\x3f\xe1\x1f\x40", 5);
	CHECK_INT(spiffe_hpack_decode(&d, out, len, fields, 8, &n, scratch,
				      sizeof(scratch)), 0);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 1);
	/* 0: the table goes and nothing is indexed */
	spiffe_hpack_enc_set_limit(&e, 0);
	CHECK_INT(spiffe_hpack_encode(&e, h, 1, out, sizeof(out), &len), 0);
	CHECK_MEM(out, "\x20\x00\x01" "k", 4);
	CHECK_INT(spiffe_hpack_decode(&d, out, len, fields, 8, &n, scratch,
				      sizeof(scratch)), 0);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
	CHECK_INT(spiffe_hpack_table_count(&e.tab), 0);
}

TEST(encoder_too_small_buffer_changes_nothing)
{
	spiffe_hpack_enc e;
	uint8_t out[8];
	size_t len;
	spiffe_header h[] = { H("custom-key", "custom-value") };

	spiffe_hpack_enc_init(&e, 4096);
	CHECK_INT(spiffe_hpack_encode(&e, h, 1, out, sizeof(out), &len),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_hpack_table_count(&e.tab), 0);
	CHECK(spiffe_hpack_encode_bound(h, 1) > sizeof(out));
	static uint8_t big[SPIFFE_HPACK_MAX_STRING + 1];
	spiffe_header hb = { (const uint8_t *)"x", 1, big, sizeof(big), 0 };
	CHECK(spiffe_hpack_encode_bound(&hb, 1) == SIZE_MAX);
}

TEST(free_is_safe_twice_and_on_zeroed)
{
	spiffe_hpack_dec d;
	spiffe_hpack_enc e;

	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	spiffe_hpack_dec_free(&d);
	spiffe_hpack_dec_free(&d);
	spiffe_hpack_enc_free(&e);
	spiffe_hpack_enc_free(&e);
	CHECK_INT(spiffe_hpack_table_count(&d.tab), 0);
}

int main(void)
{
	RUN(c2_representations);
	RUN(c3_requests_without_huffman);
	RUN(c4_requests_with_huffman);
	RUN(c5_responses_without_huffman);
	RUN(c6_responses_with_huffman);
	RUN(huffman_every_symbol_round_trips);
	RUN(integer_overflow_is_an_error);
	RUN(bad_indexes_are_errors);
	RUN(table_size_updates);
	RUN(huffman_padding_and_eos);
	RUN(string_over_limit_keeps_table_in_step);
	RUN(list_over_limit_still_indexes);
	RUN(insert_flood_is_refused);
	RUN(new_entry_names_evicted_entry);
	RUN(table_ring_wraps);
	RUN(encoder_never_indexes_authorization);
	RUN(encoder_signals_size_changes);
	RUN(encoder_too_small_buffer_changes_nothing);
	RUN(free_is_safe_twice_and_on_zeroed);
	return test_summary();
}
