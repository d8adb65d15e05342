/* gRPC framing, request headers, response headers, trailers and status. */
#include "test.h"

#include <stdlib.h>

#include "grpc.h"

static spiffe_header hd(const char *name, const char *value)
{
	spiffe_header h;

	h.name = (const uint8_t *)name;
	h.name_len = strlen(name);
	h.value = (const uint8_t *)value;
	h.value_len = strlen(value);
	h.flags = 0;
	return h;
}

TEST(code_names)
{
	CHECK_STR(spiffe_grpc_code_name(0), "OK");
	CHECK_STR(spiffe_grpc_code_name(3), "InvalidArgument");
	CHECK_STR(spiffe_grpc_code_name(7), "PermissionDenied");
	CHECK_STR(spiffe_grpc_code_name(8), "ResourceExhausted");
	CHECK_STR(spiffe_grpc_code_name(14), "Unavailable");
	CHECK_STR(spiffe_grpc_code_name(16), "Unauthenticated");
	CHECK_STR(spiffe_grpc_code_name(17), "Unknown");
	CHECK_STR(spiffe_grpc_code_name(-1), "Unknown");
}

TEST(prefix_bytes)
{
	uint8_t p[5];

	spiffe_grpc_prefix(p, 0x01020304);
	CHECK_MEM(p, "\x00\x01\x02\x03\x04", 5);
	spiffe_grpc_prefix(p, 0);
	CHECK_MEM(p, "\x00\x00\x00\x00\x00", 5);
}

/* Feeds in[0..len) in chunks of step bytes; collects messages. */
static int feed_all(spiffe_grpc_deframer *d, const uint8_t *in, size_t len,
		    size_t step, uint8_t **msgs, size_t *lens, size_t max,
		    size_t *n, spiffe_errbuf *eb)
{
	size_t off = 0;

	*n = 0;
	while (off < len) {
		size_t chunk = len - off < step ? len - off : step;
		size_t coff = 0;

		while (coff < chunk) {
			size_t used;
			uint8_t *m;
			size_t ml;
			int rc = spiffe_grpc_deframer_feed(d, in + off + coff,
							   chunk - coff, &used,
							   &m, &ml, eb);

			if (rc < 0)
				return rc;
			coff += used;
			if (rc == 1) {
				if (*n == max)
					return -1000;
				msgs[*n] = m;
				lens[(*n)++] = ml;
			} else if (used == 0) {
				return -1001;
			}
		}
		off += chunk;
	}
	return 0;
}

TEST(deframer_any_chunking)
{
	/* "abc", "", 300 bytes of 'x', "z" */
	uint8_t in[5 + 3 + 5 + 5 + 300 + 5 + 1];
	size_t o = 0;

	spiffe_grpc_prefix(in, 3);
	memcpy(in + 5, "abc", 3);
	o = 8;
	spiffe_grpc_prefix(in + o, 0);
	o += 5;
	spiffe_grpc_prefix(in + o, 300);
	o += 5;
	memset(in + o, 'x', 300);
	o += 300;
	spiffe_grpc_prefix(in + o, 1);
	o += 5;
	in[o++] = 'z';
	CHECK_INT(o, sizeof(in));
	for (size_t step = 1; step <= sizeof(in); step++) {
		spiffe_grpc_deframer d;
		uint8_t *m[8];
		size_t l[8], n;
		spiffe_errbuf eb;

		spiffe_grpc_deframer_init(&d, 0);
		CHECK_INT(feed_all(&d, in, sizeof(in), step, m, l, 8, &n, &eb),
			  0);
		CHECK_INT(n, 4);
		CHECK_INT(l[0], 3);
		CHECK_MEM(m[0], "abc", 3);
		CHECK_INT(l[1], 0);
		CHECK(m[1] != NULL);
		CHECK_INT(l[2], 300);
		CHECK(m[2][0] == 'x' && m[2][299] == 'x');
		CHECK_INT(l[3], 1);
		CHECK(m[3][0] == 'z');
		CHECK_INT(spiffe_grpc_deframer_partial(&d), 0);
		for (size_t i = 0; i < n; i++)
			free(m[i]);
		spiffe_grpc_deframer_free(&d);
	}
}

TEST(deframer_partial_state)
{
	spiffe_grpc_deframer d;
	uint8_t in[7] = { 0, 0, 0, 0, 4, 'a', 'b' };
	uint8_t *m;
	size_t used, ml;
	spiffe_errbuf eb;

	spiffe_grpc_deframer_init(&d, 0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, in, 2, &used, &m, &ml, &eb),
		  0);
	CHECK_INT(used, 2);
	CHECK_INT(spiffe_grpc_deframer_partial(&d), 1);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, in + 2, 5, &used, &m, &ml,
					    &eb), 0);
	CHECK_INT(used, 5);
	CHECK(m == NULL);
	CHECK_INT(spiffe_grpc_deframer_partial(&d), 1);
	/* Freeing with a partial message held leaks nothing (ASan). */
	spiffe_grpc_deframer_free(&d);
	spiffe_grpc_deframer_free(&d);
}

TEST(deframer_limit_checked_before_allocation)
{
	spiffe_grpc_deframer d;
	uint8_t in[5] = { 0, 0, 0, 0x10, 0x01 };     /* 4097 bytes */
	uint8_t ok[5] = { 0, 0, 0, 0x10, 0x00 };     /* 4096 bytes */
	uint8_t *m;
	size_t used, ml;
	spiffe_errbuf eb;

	spiffe_grpc_deframer_init(&d, 4096);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, in, 5, &used, &m, &ml, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "grpc: received message larger than max "
		  "(4097 vs. 4096)");
	CHECK(d.buf == NULL);
	/* The error sticks. */
	CHECK_INT(spiffe_grpc_deframer_feed(&d, ok, 5, &used, &m, &ml, &eb),
		  SPIFFE_ERR_LIMIT);
	spiffe_grpc_deframer_free(&d);

	spiffe_grpc_deframer_init(&d, 4096);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, ok, 5, &used, &m, &ml, &eb),
		  0);
	/* Nothing of the body arrived, so nothing was allocated. */
	CHECK(d.buf == NULL);
	spiffe_grpc_deframer_free(&d);

	/* 0xffffffff against the default 4 MiB. */
	uint8_t huge[5] = { 0, 0xff, 0xff, 0xff, 0xff };
	spiffe_grpc_deframer_init(&d, 0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, huge, 5, &used, &m, &ml, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "grpc: received message larger than max "
		  "(4294967295 vs. 4194304)");
	spiffe_grpc_deframer_free(&d);
}

TEST(deframer_grows_with_arrival)
{
	spiffe_grpc_deframer d;
	uint8_t pfx[5];
	uint8_t chunk[1000];
	uint8_t *m;
	size_t used, ml;
	spiffe_errbuf eb;

	spiffe_grpc_prefix(pfx, 1000000);
	memset(chunk, 7, sizeof(chunk));
	spiffe_grpc_deframer_init(&d, 0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, pfx, 5, &used, &m, &ml, &eb),
		  0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, chunk, 1000, &used, &m, &ml,
					    &eb), 0);
	/* A peer that announced 1 MB and sent 1000 bytes holds < 4 KiB. */
	CHECK(d.cap >= 1000 && d.cap < 4096);
	spiffe_grpc_deframer_free(&d);
}

TEST(deframer_rejects_compression_and_bad_flags)
{
	spiffe_grpc_deframer d;
	uint8_t c[6] = { 1, 0, 0, 0, 1, 'x' };
	uint8_t f[6] = { 2, 0, 0, 0, 1, 'x' };
	uint8_t *m;
	size_t used, ml;
	spiffe_errbuf eb;

	spiffe_grpc_deframer_init(&d, 0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, c, 6, &used, &m, &ml, &eb),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_STR(eb.msg, "grpc: compressed message received, but no "
		  "compression was negotiated");
	spiffe_grpc_deframer_free(&d);
	spiffe_grpc_deframer_init(&d, 0);
	CHECK_INT(spiffe_grpc_deframer_feed(&d, f, 6, &used, &m, &ml, &eb),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_STR(eb.msg, "grpc: invalid message flag byte 0x02");
	spiffe_grpc_deframer_free(&d);
}

TEST(request_headers)
{
	spiffe_grpc_request r;
	static const char *const want[][2] = {
		{ ":method", "POST" },
		{ ":scheme", "http" },
		{ ":path", "/SpiffeWorkloadAPI/FetchX509SVID" },
		{ ":authority", "localhost" },
		{ "content-type", "application/grpc" },
		{ "te", "trailers" },
		{ "workload.spiffe.io", "true" },
	};

	spiffe_grpc_request_init(&r, "/SpiffeWorkloadAPI/FetchX509SVID",
				 "localhost");
	CHECK_INT(spiffe_grpc_request_add(&r, "workload.spiffe.io", "true"),
		  0);
	CHECK_INT(r.n, 7);
	for (size_t i = 0; i < r.n; i++) {
		CHECK_INT(r.h[i].name_len, strlen(want[i][0]));
		CHECK_MEM(r.h[i].name, want[i][0], r.h[i].name_len);
		CHECK_INT(r.h[i].value_len, strlen(want[i][1]));
		CHECK_MEM(r.h[i].value, want[i][1], r.h[i].value_len);
	}
	for (int i = 0; i < SPIFFE_GRPC_MAX_METADATA - 1; i++)
		CHECK_INT(spiffe_grpc_request_add(&r, "x", "y"), 0);
	CHECK_INT(spiffe_grpc_request_add(&r, "x", "y"), SPIFFE_ERR_LIMIT);
}

TEST(headers_ok_and_content_types)
{
	spiffe_grpc_status st;
	static const char *const good[] = {
		"application/grpc", "application/grpc+proto",
		"application/grpc;charset=utf-8", "Application/GRPC",
	};
	static const char *const bad[] = {
		"application/grpcx", "application/json", "text/plain",
		"application/grp", "",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		spiffe_header h[2] = { hd(":status", "200"),
				       hd("content-type", good[i]) };

		CHECK_INT(spiffe_grpc_response_headers(h, 2, 0, &st),
			  SPIFFE_GRPC_HEADERS_OK);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spiffe_header h[2] = { hd(":status", "200"),
				       hd("content-type", bad[i]) };

		CHECK_INT(spiffe_grpc_response_headers(h, 2, 0, &st),
			  SPIFFE_GRPC_HEADERS_FINAL);
		CHECK_INT(st.err, SPIFFE_ERR_PROTOCOL);
		CHECK_INT(st.code, SPIFFE_GRPC_UNKNOWN);
		CHECK_STR(st.msg, "grpc: unexpected content-type");
	}
	spiffe_header none[1] = { hd(":status", "200") };
	CHECK_INT(spiffe_grpc_response_headers(none, 1, 0, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(st.err, SPIFFE_ERR_PROTOCOL);
}

TEST(headers_http_status_mapping)
{
	static const struct { const char *s; int code; } v[] = {
		{ "400", SPIFFE_GRPC_INTERNAL },
		{ "401", SPIFFE_GRPC_UNAUTHENTICATED },
		{ "403", SPIFFE_GRPC_PERMISSION_DENIED },
		{ "404", SPIFFE_GRPC_UNIMPLEMENTED },
		{ "429", SPIFFE_GRPC_UNAVAILABLE },
		{ "502", SPIFFE_GRPC_UNAVAILABLE },
		{ "503", SPIFFE_GRPC_UNAVAILABLE },
		{ "504", SPIFFE_GRPC_UNAVAILABLE },
		{ "500", SPIFFE_GRPC_UNKNOWN },
		{ "302", SPIFFE_GRPC_UNKNOWN },
	};
	spiffe_grpc_status st;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		spiffe_header h[2] = {
			hd(":status", v[i].s),
			hd("content-type", "application/grpc"),
		};

		CHECK_INT(spiffe_grpc_response_headers(h, 2, i & 1, &st),
			  SPIFFE_GRPC_HEADERS_FINAL);
		CHECK_INT(st.err, SPIFFE_ERR_GRPC);
		CHECK_INT(st.code, v[i].code);
	}
	spiffe_header h503[1] = { hd(":status", "503") };
	CHECK_INT(spiffe_grpc_response_headers(h503, 1, 1, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(spiffe_grpc_status_fail(&st, &eb), SPIFFE_ERR_GRPC);
	CHECK_STR(eb.msg, "Unavailable: unexpected HTTP status code 503");

	spiffe_header info[1] = { hd(":status", "100") };
	CHECK_INT(spiffe_grpc_response_headers(info, 1, 0, &st),
		  SPIFFE_GRPC_HEADERS_INFO);
	static const char *const malformed[] = { "20", "2000", "2a0", "" };
	for (size_t i = 0; i < 4; i++) {
		spiffe_header h[1] = { hd(":status", malformed[i]) };

		CHECK_INT(spiffe_grpc_response_headers(h, 1, 0, &st),
			  SPIFFE_GRPC_HEADERS_FINAL);
		CHECK_INT(st.err, SPIFFE_ERR_PROTOCOL);
		CHECK_STR(st.msg, "malformed header: missing HTTP status");
	}
	spiffe_header nostatus[1] = { hd("content-type", "application/grpc") };
	CHECK_INT(spiffe_grpc_response_headers(nostatus, 1, 0, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(st.err, SPIFFE_ERR_PROTOCOL);
}

TEST(trailers_only_permission_denied)
{
	spiffe_header h[4] = {
		hd(":status", "200"),
		hd("content-type", "application/grpc"),
		hd("grpc-status", "7"),
		hd("grpc-message", "no identity issued"),
	};
	spiffe_grpc_status st;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_grpc_response_headers(h, 4, 1, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(st.err, SPIFFE_ERR_GRPC);
	CHECK_INT(st.code, SPIFFE_GRPC_PERMISSION_DENIED);
	CHECK_INT(spiffe_grpc_status_fail(&st, &eb), SPIFFE_ERR_GRPC);
	CHECK_STR(eb.msg, "PermissionDenied: no identity issued");
	/* Without a content-type a trailers-only status still counts. */
	spiffe_header t[2] = { hd(":status", "200"), hd("grpc-status", "3") };
	CHECK_INT(spiffe_grpc_response_headers(t, 2, 1, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(st.code, SPIFFE_GRPC_INVALID_ARGUMENT);
	CHECK_STR(st.msg, "");
	/* Ending the stream with no grpc-status is a protocol error. */
	CHECK_INT(spiffe_grpc_response_headers(h, 2, 1, &st),
		  SPIFFE_GRPC_HEADERS_FINAL);
	CHECK_INT(st.err, SPIFFE_ERR_PROTOCOL);
	CHECK_INT(st.code, SPIFFE_GRPC_INTERNAL);
	CHECK_STR(st.msg, "grpc: response ended without grpc-status");
}

TEST(trailers_status_and_percent_decoding)
{
	static const struct {
		const char *in, *out;
	} v[] = {
		{ "plain", "plain" },
		{ "security header missing from request",
		  "security header missing from request" },
		{ "a%20b", "a b" },
		{ "100%25", "100%" },
		{ "%E2%9C%93 ok", "\xe2\x9c\x93 ok" },
		{ "%e2%9c%93", "\xe2\x9c\x93" },
		{ "bad %zz escape", "bad %zz escape" },
		{ "trailing %", "trailing %" },
		{ "trailing %4", "trailing %4" },
		{ "nul %00 here", "nul ? here" },
		{ "newline%0Aand%0d", "newline?and?" },
		{ "del \x7f", "del ?" },
		{ "", "" },
	};
	spiffe_grpc_status st;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		spiffe_header h[2] = { hd("grpc-status", "13"),
				       hd("grpc-message", v[i].in) };

		CHECK_INT(spiffe_grpc_response_trailers(h, 2, &st),
			  SPIFFE_ERR_GRPC);
		CHECK_INT(st.code, SPIFFE_GRPC_INTERNAL);
		CHECK_STR(st.msg, v[i].out);
		CHECK_INT(st.msg_len, strlen(v[i].out));
	}
	spiffe_header ok[1] = { hd("grpc-status", "0") };
	CHECK_INT(spiffe_grpc_response_trailers(ok, 1, &st), 0);
	CHECK_INT(st.code, 0);
	spiffe_header big[1] = { hd("grpc-status", "2147483647") };
	CHECK_INT(spiffe_grpc_response_trailers(big, 1, &st),
		  SPIFFE_ERR_GRPC);
	CHECK_INT(st.code, 2147483647);
}

TEST(trailers_malformed)
{
	static const char *const bad[] = {
		"", "-1", "+1", "1 ", " 1", "0x1", "2147483648", "99999999999",
		"1a",
	};
	spiffe_grpc_status st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		spiffe_header h[1] = { hd("grpc-status", bad[i]) };

		CHECK_INT(spiffe_grpc_response_trailers(h, 1, &st),
			  SPIFFE_ERR_PROTOCOL);
		CHECK_STR(st.msg, "grpc: malformed grpc-status");
	}
	spiffe_header none[1] = { hd("grpc-message", "x") };
	CHECK_INT(spiffe_grpc_response_trailers(none, 1, &st),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_STR(st.msg, "grpc: trailers without grpc-status");
	spiffe_header dup[2] = { hd("grpc-status", "0"),
				 hd("grpc-status", "0") };
	CHECK_INT(spiffe_grpc_response_trailers(dup, 2, &st),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_STR(st.msg, "grpc: duplicate grpc-status");
}

TEST(long_message_is_cut)
{
	char in[3 * 1000 + 1];
	spiffe_grpc_status st;

	for (size_t i = 0; i < 1000; i++)
		memcpy(in + 3 * i, "%41", 3);
	in[3000] = '\0';
	spiffe_header h[2] = { hd("grpc-status", "2"),
			       hd("grpc-message", in) };
	CHECK_INT(spiffe_grpc_response_trailers(h, 2, &st), SPIFFE_ERR_GRPC);
	CHECK_INT(st.msg_len, SPIFFE_GRPC_MAX_STATUS_MESSAGE);
	CHECK_INT(strlen(st.msg), SPIFFE_GRPC_MAX_STATUS_MESSAGE);
	CHECK(st.msg[0] == 'A');
}

TEST(reset_mapping)
{
	spiffe_grpc_status st;

	spiffe_grpc_status_from_reset(&st, 0x7);
	CHECK_INT(st.code, SPIFFE_GRPC_UNAVAILABLE);
	CHECK_INT(st.err, SPIFFE_ERR_CLOSED);
	spiffe_grpc_status_from_reset(&st, 0x8);
	CHECK_INT(st.code, SPIFFE_GRPC_CANCELLED);
	spiffe_grpc_status_from_reset(&st, 0xb);
	CHECK_INT(st.code, SPIFFE_GRPC_RESOURCE_EXHAUSTED);
	spiffe_grpc_status_from_reset(&st, 0x2);
	CHECK_INT(st.code, SPIFFE_GRPC_INTERNAL);
	CHECK_STR(st.msg, "stream terminated by RST_STREAM with error code 2");
}

int main(void)
{
	RUN(code_names);
	RUN(prefix_bytes);
	RUN(deframer_any_chunking);
	RUN(deframer_partial_state);
	RUN(deframer_limit_checked_before_allocation);
	RUN(deframer_grows_with_arrival);
	RUN(deframer_rejects_compression_and_bad_flags);
	RUN(request_headers);
	RUN(headers_ok_and_content_types);
	RUN(headers_http_status_mapping);
	RUN(trailers_only_permission_denied);
	RUN(trailers_status_and_percent_decoding);
	RUN(trailers_malformed);
	RUN(long_message_is_cut);
	RUN(reset_mapping);
	return test_summary();
}
