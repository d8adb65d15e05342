/* Round trips of Workload API messages through the generated nanopb
 * code, with realistic sizes, and the decoder's handling of hostile or
 * unknown input. */
#include "test.h"

#include <stdlib.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "workload.pb.h"

static pb_bytes_array_t *bytes_of(size_t n, uint8_t seed)
{
	/* Never less than the struct itself (its size field is padded
	 * out): clang's UBSan checks member access against the whole. */
	size_t sz = PB_BYTES_ARRAY_T_ALLOCSIZE(n);
	pb_bytes_array_t *b = malloc(sz < sizeof(*b) ? sizeof(*b) : sz);

	b->size = (pb_size_t)n;
	for (size_t i = 0; i < n; i++)
		b->bytes[i] = (uint8_t)(seed + i * 7);
	return b;
}

static char *str_of(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	memcpy(p, s, n);
	return p;
}

/* An X509SVIDResponse with two SVIDs (a 20 KiB chain) and 3 federated
 * bundles; the caller releases it with pb_release. */
static void make_response(X509SVIDResponse *r)
{
	memset(r, 0, sizeof(*r));
	r->svids_count = 2;
	r->svids = calloc(2, sizeof(X509SVID));
	r->svids[0].spiffe_id = str_of("spiffe://example.org/server");
	r->svids[0].x509_svid = bytes_of(20 * 1024, 1);
	r->svids[0].x509_svid_key = bytes_of(138, 2);
	r->svids[0].bundle = bytes_of(1200, 3);
	r->svids[0].hint = str_of("internal");
	r->svids[1].spiffe_id = str_of("spiffe://example.org/other");
	r->svids[1].x509_svid = bytes_of(900, 4);
	r->svids[1].x509_svid_key = bytes_of(138, 5);
	r->svids[1].bundle = bytes_of(1200, 3);
	r->federated_bundles_count = 3;
	r->federated_bundles = calloc(3, sizeof(*r->federated_bundles));
	r->federated_bundles[0].key = str_of("spiffe://a.test");
	r->federated_bundles[0].value = bytes_of(700, 6);
	r->federated_bundles[1].key = str_of("b.test");
	r->federated_bundles[1].value = bytes_of(0, 0);
	r->federated_bundles[2].key = str_of("spiffe://c.test");
	r->federated_bundles[2].value = bytes_of(5000, 8);
}

static int bytes_eq(const pb_bytes_array_t *a, const pb_bytes_array_t *b)
{
	if (a == NULL || b == NULL)
		return a == b || (a ? a->size : b->size) == 0;
	return a->size == b->size && memcmp(a->bytes, b->bytes, a->size) == 0;
}

static uint8_t *encode(const pb_msgdesc_t *f, const void *msg, size_t *len)
{
	size_t n;
	uint8_t *buf;
	pb_ostream_t os;

	if (!pb_get_encoded_size(&n, f, msg))
		return NULL;
	buf = malloc(n + 16);
	os = pb_ostream_from_buffer(buf, n);
	if (!pb_encode(&os, f, msg) || os.bytes_written != n) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

TEST(x509svid_response_round_trip_20k_chain)
{
	X509SVIDResponse in, out;
	size_t len = 0;
	uint8_t *buf;
	pb_istream_t is;

	make_response(&in);
	buf = encode(X509SVIDResponse_fields, &in, &len);
	CHECK(buf != NULL);
	CHECK(len > 20 * 1024 + 9000);
	memset(&out, 0, sizeof(out));
	is = pb_istream_from_buffer(buf, len);
	CHECK(pb_decode(&is, X509SVIDResponse_fields, &out));
	CHECK_INT(out.svids_count, 2);
	CHECK_STR(out.svids[0].spiffe_id, "spiffe://example.org/server");
	CHECK_STR(out.svids[0].hint, "internal");
	CHECK(out.svids[1].hint == NULL);
	for (int i = 0; i < 2; i++) {
		CHECK(bytes_eq(out.svids[i].x509_svid, in.svids[i].x509_svid));
		CHECK(bytes_eq(out.svids[i].x509_svid_key,
			       in.svids[i].x509_svid_key));
		CHECK(bytes_eq(out.svids[i].bundle, in.svids[i].bundle));
	}
	CHECK_INT(out.svids[0].x509_svid->size, 20 * 1024);
	CHECK_INT(out.federated_bundles_count, 3);
	CHECK_STR(out.federated_bundles[1].key, "b.test");
	CHECK(bytes_eq(out.federated_bundles[1].value, NULL));
	CHECK(bytes_eq(out.federated_bundles[2].value,
		       in.federated_bundles[2].value));
	pb_release(X509SVIDResponse_fields, &out);
	pb_release(X509SVIDResponse_fields, &in);
	free(buf);
}

TEST(empty_request_encodes_to_zero_bytes)
{
	X509SVIDRequest req = X509SVIDRequest_init_zero;
	size_t len = 99;
	uint8_t *buf = encode(X509SVIDRequest_fields, &req, &len);

	CHECK(buf != NULL);
	CHECK_INT(len, 0);
	free(buf);
}

TEST(jwtsvid_request_wire_bytes)
{
	/* audience "a", "bc"; spiffe_id "x": tags 0x0A, 0x0A, 0x12. */
	static const uint8_t want[] = { 0x0a, 1, 'a', 0x0a, 2, 'b', 'c',
					0x12, 1, 'x' };
	char *aud[2] = { "a", "bc" };
	JWTSVIDRequest req = JWTSVIDRequest_init_zero;
	size_t len;
	uint8_t *buf;

	req.audience_count = 2;
	req.audience = aud;
	req.spiffe_id = "x";
	buf = encode(JWTSVIDRequest_fields, &req, &len);
	CHECK(buf != NULL);
	CHECK_INT(len, sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));
	free(buf);
}

TEST(unknown_fields_are_skipped)
{
	/* JWTSVID{spiffe_id:"s", field 9 varint 5, svid:"t", field 10 LEN} */
	static const uint8_t in[] = { 0x0a, 1, 's', 0x48, 5, 0x12, 1, 't',
				      0x52, 2, 'z', 'z' };
	JWTSVID out = JWTSVID_init_zero;
	pb_istream_t is = pb_istream_from_buffer(in, sizeof(in));

	CHECK(pb_decode(&is, JWTSVID_fields, &out));
	CHECK_STR(out.spiffe_id, "s");
	CHECK_STR(out.svid, "t");
	pb_release(JWTSVID_fields, &out);
}

TEST(crl_entries_are_ignored)
{
	/* X509SVIDResponse with two crl entries (field 2) and nothing else */
	static const uint8_t in[] = { 0x12, 2, 1, 2, 0x12, 0 };
	X509SVIDResponse out = X509SVIDResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(in, sizeof(in));

	CHECK(pb_decode(&is, X509SVIDResponse_fields, &out));
	CHECK_INT(out.svids_count, 0);
	pb_release(X509SVIDResponse_fields, &out);
}

TEST(truncated_and_overlong_inputs_fail)
{
	X509SVIDResponse in, out;
	size_t len;
	uint8_t *buf;

	make_response(&in);
	buf = encode(X509SVIDResponse_fields, &in, &len);
	CHECK(buf != NULL);
	/* Every truncation inside the first SVID fails cleanly. */
	for (size_t cut = 1; cut < 64; cut++) {
		pb_istream_t is = pb_istream_from_buffer(buf, cut);

		memset(&out, 0, sizeof(out));
		CHECK(!pb_decode(&is, X509SVIDResponse_fields, &out));
		pb_release(X509SVIDResponse_fields, &out);
	}
	/* A length prefix larger than the input fails. */
	static const uint8_t big[] = { 0x0a, 0xff, 0xff, 0xff, 0x7f, 0 };
	pb_istream_t is = pb_istream_from_buffer(big, sizeof(big));
	memset(&out, 0, sizeof(out));
	CHECK(!pb_decode(&is, X509SVIDResponse_fields, &out));
	pb_release(X509SVIDResponse_fields, &out);
	pb_release(X509SVIDResponse_fields, &in);
	free(buf);
}

int main(void)
{
	RUN(x509svid_response_round_trip_20k_chain);
	RUN(empty_request_encodes_to_zero_bytes);
	RUN(jwtsvid_request_wire_bytes);
	RUN(unknown_fields_are_skipped);
	RUN(crl_entries_are_ignored);
	RUN(truncated_and_overlong_inputs_fail);
	return test_summary();
}
