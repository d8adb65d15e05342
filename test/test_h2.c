#include "test.h"
#include "h2.h"

#include <stdlib.h>

/* --- recording peer ------------------------------------------------------ */

#define MAXS 16

struct srec {
	uint32_t id;
	int sections;           /* header sections received */
	unsigned flags;         /* flags of the last section */
	char last[2048];        /* last section, "name: value\n" lines */
	size_t data;            /* body bytes */
	uint32_t sum;           /* running hash of the body */
	int ended;              /* end_stream seen */
	int closed;             /* on_stream_close calls */
	uint32_t code;
};

struct rec {
	spiffe_h2_session s;
	struct srec st[MAXS];
	int n;
	int auto_consume;
	int reset_on_data;      /* reset the stream from on_data */
	int goaways;
	uint32_t goaway_last, goaway_code;
	int ping_acks;
	uint8_t ping[8];
};

static struct srec *sr(struct rec *r, uint32_t id)
{
	for (int i = 0; i < r->n; i++)
		if (r->st[i].id == id)
			return &r->st[i];
	if (r->n == MAXS)
		abort();
	r->st[r->n].id = id;
	return &r->st[r->n++];
}

static void cb_headers(void *ctx, uint32_t id, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	struct rec *r = ctx;
	struct srec *x = sr(r, id);
	size_t o = 0;

	x->sections++;
	x->flags = flags;
	for (size_t i = 0; i < n; i++) {
		if (o + h[i].name_len + h[i].value_len + 3 >= sizeof(x->last))
			break;
		memcpy(x->last + o, h[i].name, h[i].name_len);
		o += h[i].name_len;
		x->last[o++] = ':';
		x->last[o++] = ' ';
		memcpy(x->last + o, h[i].value, h[i].value_len);
		o += h[i].value_len;
		x->last[o++] = '\n';
	}
	x->last[o] = '\0';
	if (flags & SPIFFE_H2_END_STREAM)
		x->ended = 1;
}

static void cb_data(void *ctx, uint32_t id, const uint8_t *p, size_t len,
		    int end)
{
	struct rec *r = ctx;
	struct srec *x = sr(r, id);

	x->data += len;
	for (size_t i = 0; i < len; i++)
		x->sum = x->sum * 31 + p[i];
	if (end)
		x->ended = 1;
	if (r->auto_consume && spiffe_h2_consume(&r->s, id, len) != 0)
		abort();
	if (r->reset_on_data &&
	    spiffe_h2_reset(&r->s, id, SPIFFE_H2_CANCEL) != 0)
		abort();
}

static void cb_close(void *ctx, uint32_t id, uint32_t code)
{
	struct srec *x = sr(ctx, id);

	x->closed++;
	x->code = code;
}

static void cb_goaway(void *ctx, uint32_t last, uint32_t code,
		      const uint8_t *dbg, size_t len)
{
	struct rec *r = ctx;

	r->goaways++;
	r->goaway_last = last;
	r->goaway_code = code;
}

static void cb_ping(void *ctx, const uint8_t *op)
{
	struct rec *r = ctx;

	r->ping_acks++;
	memcpy(r->ping, op, 8);
}

static const spiffe_h2_callbacks cbs = {
	cb_headers, cb_data, cb_close, cb_goaway, cb_ping,
};

static int rec_init(struct rec *r, int role, const spiffe_h2_options *o)
{
	memset(r, 0, sizeof(*r));
	return spiffe_h2_init(&r->s, role, &cbs, r, o);
}

/* Moves bytes both ways until both outputs are empty. */
static int pump_by(struct rec *a, struct rec *b, size_t step)
{
	struct rec *from[2] = { a, b }, *to[2] = { b, a };

	for (int round = 0; round < 1000000; round++) {
		int moved = 0;
		for (int k = 0; k < 2; k++) {
			const uint8_t *p;
			size_t len;
			int rc;

			if (spiffe_h2_output(&from[k]->s, &p, &len) != 0)
				return -1000;
			if (len == 0)
				continue;
			if (len > step)
				len = step;
			rc = spiffe_h2_feed(&to[k]->s, p, len);
			if (spiffe_h2_output_consumed(&from[k]->s, len) != 0)
				return -1001;
			if (rc != 0)
				return rc;
			moved = 1;
		}
		if (!moved)
			return 0;
	}
	return -1002;
}

static int pump(struct rec *a, struct rec *b)
{
	return pump_by(a, b, SIZE_MAX);
}

static int pair(struct rec *c, struct rec *s, const spiffe_h2_options *co,
		const spiffe_h2_options *so)
{
	if (rec_init(c, SPIFFE_H2_CLIENT, co) != 0 ||
	    rec_init(s, SPIFFE_H2_SERVER, so) != 0)
		return -1;
	return pump(c, s);
}

#define HD(n, v) { (const uint8_t *)(n), sizeof(n) - 1, \
	(const uint8_t *)(v), sizeof(v) - 1, 0 }

static const spiffe_header get_req[] = {
	HD(":method", "GET"), HD(":scheme", "http"), HD(":path", "/"),
	HD(":authority", "example.org"),
};
static const spiffe_header x509_req[] = {
	HD(":method", "POST"), HD(":scheme", "http"),
	HD(":path", "/SpiffeWorkloadAPI/FetchX509SVID"),
	HD(":authority", "localhost"), HD("content-type", "application/grpc"),
	HD("te", "trailers"), HD("workload.spiffe.io", "true"),
};
static const spiffe_header jwtb_req[] = {
	HD(":method", "POST"), HD(":scheme", "http"),
	HD(":path", "/SpiffeWorkloadAPI/FetchJWTBundles"),
	HD(":authority", "localhost"), HD("content-type", "application/grpc"),
	HD("te", "trailers"), HD("workload.spiffe.io", "true"),
};
static const spiffe_header jwt_req[] = {
	HD(":method", "POST"), HD(":scheme", "http"),
	HD(":path", "/SpiffeWorkloadAPI/FetchJWTSVID"),
	HD(":authority", "localhost"), HD("content-type", "application/grpc"),
	HD("te", "trailers"), HD("workload.spiffe.io", "true"),
};
static const spiffe_header ok_resp[] = {
	HD(":status", "200"), HD("content-type", "application/grpc"),
};
static const spiffe_header ok_trailers[] = {
	HD("grpc-status", "0"), HD("grpc-message", ""),
};

static int send_all(struct rec *r, uint32_t id, const void *p, size_t len,
		    int end)
{
	size_t acc;
	int rc = spiffe_h2_send_data(&r->s, id, p, len, end, &acc);

	return rc != 0 ? rc : acc == len ? 0 : -1;
}

/* --- frame scanning ------------------------------------------------------ */

struct frame {
	uint32_t len, id;
	uint8_t type, flags;
	const uint8_t *p;
};

/* The n-th frame (0-based) of type in p[0..len), or -1. */
static int find_frame(const uint8_t *p, size_t len, uint8_t type, int nth,
		      struct frame *f)
{
	size_t o = 0;

	if (len >= 24 && memcmp(p, "PRI * HTTP/2.0", 14) == 0)
		o = 24;
	while (o + 9 <= len) {
		f->len = (uint32_t)p[o] << 16 | (uint32_t)p[o + 1] << 8 |
			p[o + 2];
		f->type = p[o + 3];
		f->flags = p[o + 4];
		f->id = ((uint32_t)p[o + 5] << 24 | (uint32_t)p[o + 6] << 16 |
			 (uint32_t)p[o + 7] << 8 | p[o + 8]) & 0x7fffffff;
		f->p = p + o + 9;
		if (o + 9 + f->len > len)
			return -1;
		if (f->type == type && nth-- == 0)
			return 0;
		o += 9 + f->len;
	}
	return -1;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

/* The error code of the GOAWAY r has queued, or -1. */
static long goaway_code(struct rec *r)
{
	const uint8_t *p;
	size_t len;
	struct frame f;

	if (spiffe_h2_output(&r->s, &p, &len) != 0 ||
	    find_frame(p, len, 0x7, 0, &f) != 0)
		return -1;
	return (long)be32(f.p + 4);
}

/* The code of the RST_STREAM r has queued for id, or -1. */
static long rst_code(struct rec *r, uint32_t id)
{
	const uint8_t *p;
	size_t len;
	struct frame f;

	if (spiffe_h2_output(&r->s, &p, &len) != 0)
		return -1;
	for (int i = 0; find_frame(p, len, 0x3, i, &f) == 0; i++)
		if (f.id == id)
			return (long)be32(f.p);
	return -1;
}

static void drain(struct rec *r)
{
	const uint8_t *p;
	size_t len;

	if (spiffe_h2_output(&r->s, &p, &len) != 0 ||
	    spiffe_h2_output_consumed(&r->s, len) != 0)
		abort();
}

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

static int feed_hex(struct rec *r, const char *hex)
{
	static uint8_t b[70000];
	size_t n = unhex(hex, b, sizeof(b));

	return spiffe_h2_feed(&r->s, b, n);
}

static size_t put_frame(uint8_t *b, uint32_t len, uint8_t type,
			uint8_t flags, uint32_t id)
{
	b[0] = (uint8_t)(len >> 16);
	b[1] = (uint8_t)(len >> 8);
	b[2] = (uint8_t)len;
	b[3] = type;
	b[4] = flags;
	b[5] = (uint8_t)(id >> 24);
	b[6] = (uint8_t)(id >> 16);
	b[7] = (uint8_t)(id >> 8);
	b[8] = (uint8_t)id;
	return 9;
}

static int feed_frame(struct rec *r, uint8_t type, uint8_t flags,
		      uint32_t id, const uint8_t *p, size_t len)
{
	static uint8_t b[9 + 70000];

	put_frame(b, (uint32_t)len, type, flags, id);
	if (len > 0)
		memcpy(b + 9, p, len);
	return spiffe_h2_feed(&r->s, b, 9 + len);
}

/* A server that has read the client preface and an empty SETTINGS. */
static int raw_server(struct rec *r, const spiffe_h2_options *o)
{
	if (rec_init(r, SPIFFE_H2_SERVER, o) != 0)
		return -1;
	if (feed_hex(r, "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a"
		     "000000 04 00 00000000") != 0)
		return -1;
	drain(r);
	return 0;
}

/* A client that has read the server's SETTINGS and opened stream 1. */
static int raw_client(struct rec *r)
{
	uint32_t id;

	if (rec_init(r, SPIFFE_H2_CLIENT, NULL) != 0 ||
	    feed_hex(r, "000000 04 00 00000000") != 0 ||
	    spiffe_h2_submit_request(&r->s, get_req, 4, 1, &id) != 0 ||
	    id != 1)
		return -1;
	drain(r);
	return 0;
}

/* Request on stream 1: GET http / with :authority x, no indexing. */
#define OPEN1 "000006 01 04 00000001 828684010178 "
#define OPEN1_END "000006 01 05 00000001 828684010178 "

static size_t encode(const spiffe_header *h, size_t n, uint8_t *out,
		     size_t cap)
{
	spiffe_hpack_enc e;
	size_t len;

	spiffe_hpack_enc_init(&e, 4096);
	if (spiffe_hpack_encode(&e, h, n, out, cap, &len) != 0)
		abort();
	return len;
}

/* --- end to end ---------------------------------------------------------- */

TEST(preface_and_settings_exchange)
{
	struct rec c, s;
	const uint8_t *p;
	size_t len;
	struct frame f;

	CHECK_INT(rec_init(&c, SPIFFE_H2_CLIENT, NULL), 0);
	CHECK_INT(rec_init(&s, SPIFFE_H2_SERVER, NULL), 0);
	CHECK_INT(spiffe_h2_output(&c.s, &p, &len), 0);
	CHECK(len > 24 + 9);
	CHECK_MEM(p, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	/* SETTINGS first: ENABLE_PUSH 0, windows, header list size */
	CHECK_INT(p[24 + 3], 0x4);
	CHECK_INT(find_frame(p, len, 0x8, 0, &f), 0);
	CHECK_INT(f.id, 0);
	CHECK_INT(be32(f.p), SPIFFE_H2_CONN_WINDOW - 65535);
	CHECK_INT(spiffe_h2_output(&s.s, &p, &len), 0);
	CHECK_INT(p[3], 0x4);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(spiffe_h2_done(&c.s), 0);
	CHECK_INT(spiffe_h2_error_code(&c.s), 0);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(unary_request_response_with_trailers)
{
	struct rec c, s;
	uint32_t id;
	struct srec *x;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	c.auto_consume = s.auto_consume = 1;
	CHECK_INT(spiffe_h2_submit_request(&c.s, jwt_req, 7, 0, &id), 0);
	CHECK_INT(id, 1);
	CHECK_INT(send_all(&c, id, "\0\0\0\0\3abc", 8, 1), 0);
	CHECK_INT(pump(&c, &s), 0);
	x = sr(&s, 1);
	CHECK_INT(x->sections, 1);
	CHECK(strstr(x->last, ":path: /SpiffeWorkloadAPI/FetchJWTSVID\n"));
	CHECK(strstr(x->last, "workload.spiffe.io: true\n"));
	CHECK_INT(x->data, 8);
	CHECK_INT(x->ended, 1);
	CHECK_INT(spiffe_h2_submit_response(&s.s, 1, ok_resp, 2, 0), 0);
	CHECK_INT(send_all(&s, 1, "\0\0\0\0\2hi", 7, 0), 0);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, 1, ok_trailers, 2), 0);
	CHECK_INT(pump(&c, &s), 0);
	x = sr(&c, 1);
	CHECK_INT(x->sections, 2);
	CHECK_INT(x->flags, SPIFFE_H2_END_STREAM | SPIFFE_H2_TRAILERS);
	CHECK(strstr(x->last, "grpc-status: 0\n"));
	CHECK_INT(x->data, 7);
	CHECK_INT(x->closed, 1);
	CHECK_INT(x->code, 0);
	CHECK_INT(sr(&s, 1)->closed, 1);
	CHECK_INT(sr(&s, 1)->code, 0);
	CHECK_INT(spiffe_h2_stream_count(&c.s), 0);
	CHECK_INT(spiffe_h2_stream_count(&s.s), 0);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* The same exchange delivered one byte per feed call. */
TEST(byte_at_a_time)
{
	struct rec c, s;
	uint32_t id;

	CHECK_INT(rec_init(&c, SPIFFE_H2_CLIENT, NULL), 0);
	CHECK_INT(rec_init(&s, SPIFFE_H2_SERVER, NULL), 0);
	c.auto_consume = s.auto_consume = 1;
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 0, &id), 0);
	CHECK_INT(send_all(&c, id, "\0\0\0\0\0", 5, 1), 0);
	CHECK_INT(pump_by(&c, &s, 1), 0);
	CHECK_INT(sr(&s, 1)->ended, 1);
	CHECK_INT(spiffe_h2_submit_response(&s.s, 1, ok_resp, 2, 0), 0);
	CHECK_INT(send_all(&s, 1, "\0\0\0\0\3xyz", 8, 0), 0);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, 1, ok_trailers, 2), 0);
	CHECK_INT(pump_by(&c, &s, 1), 0);
	CHECK_INT(sr(&c, 1)->data, 8);
	CHECK_INT(sr(&c, 1)->closed, 1);
	CHECK_INT(sr(&c, 1)->code, 0);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* An X.509 watch, a JWT bundle watch and a unary call at once. */
TEST(concurrent_streams)
{
	struct rec c, s;
	uint32_t a, b, u;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	c.auto_consume = s.auto_consume = 1;
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 0, &a), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, jwtb_req, 7, 0, &b), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, jwt_req, 7, 0, &u), 0);
	CHECK(a == 1 && b == 3 && u == 5);
	CHECK_INT(send_all(&c, a, "\0\0\0\0\0", 5, 1), 0);
	CHECK_INT(send_all(&c, b, "\0\0\0\0\0", 5, 1), 0);
	CHECK_INT(send_all(&c, u, "\0\0\0\0\0", 5, 1), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(spiffe_h2_stream_count(&s.s), 3);
	for (uint32_t id = 1; id <= 5; id += 2) {
		CHECK_INT(spiffe_h2_submit_response(&s.s, id, ok_resp, 2, 0),
			  0);
		CHECK_INT(send_all(&s, id, "\0\0\0\0\1m", 6, 0), 0);
	}
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, u, ok_trailers, 2), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, u)->closed, 1);
	CHECK_INT(sr(&c, a)->closed, 0);
	CHECK_INT(sr(&c, b)->closed, 0);
	CHECK_INT(spiffe_h2_stream_count(&c.s), 2);
	/* watches keep streaming */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(send_all(&s, a, "\0\0\0\0\1n", 6, 0), 0);
		CHECK_INT(send_all(&s, b, "\0\0\0\0\1n", 6, 0), 0);
		CHECK_INT(pump(&c, &s), 0);
	}
	CHECK_INT(sr(&c, a)->data, 24);
	CHECK_INT(sr(&c, b)->data, 24);
	/* the client cancels one watch; the server ends the other */
	CHECK_INT(spiffe_h2_reset(&c.s, b, SPIFFE_H2_CANCEL), 0);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, a, ok_trailers, 2), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, b)->closed, 1);
	CHECK_INT(sr(&s, b)->code, SPIFFE_H2_CANCEL);
	CHECK_INT(sr(&c, b)->closed, 1);
	CHECK_INT(sr(&c, b)->code, SPIFFE_H2_CANCEL);
	CHECK_INT(sr(&c, a)->closed, 1);
	CHECK_INT(sr(&c, a)->code, 0);
	CHECK_INT(spiffe_h2_stream_count(&c.s), 0);
	CHECK_INT(spiffe_h2_stream_count(&s.s), 0);
	/* sends on a closed stream are refused */
	CHECK_INT(spiffe_h2_reset(&c.s, b, SPIFFE_H2_CANCEL),
		  SPIFFE_ERR_CLOSED);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

static uint8_t big[1 << 20];

/* 1 MiB through 64 KiB windows: only WINDOW_UPDATEs let it through. */
TEST(flow_control_one_mib_through_64k_windows)
{
	struct rec c, s;
	spiffe_h2_options o = { 65535, 65535, 0, 0 };
	uint32_t id, sum = 0;
	size_t off = 0;

	for (size_t i = 0; i < sizeof(big); i++) {
		big[i] = (uint8_t)(i * 7 + (i >> 11));
		sum = sum * 31 + big[i];
	}
	CHECK_INT(pair(&c, &s, &o, &o), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, ok_resp, 2, 0), 0);
	/* nobody consumes: exactly one window arrives, then it stalls */
	while (off < sizeof(big)) {
		size_t acc;
		CHECK_INT(spiffe_h2_send_data(&s.s, id, big + off,
					      sizeof(big) - off, 1, &acc), 0);
		off += acc;
		if (acc == 0)
			break;
		CHECK_INT(pump(&c, &s), 0);
	}
	CHECK_INT(sr(&c, id)->data, 65535);
	CHECK_INT(spiffe_h2_send_room(&s.s, id), 0);
	/* consuming opens the windows; consume as it arrives from now on */
	CHECK_INT(spiffe_h2_consume(&c.s, id, 65535), 0);
	CHECK_INT(spiffe_h2_consume(&c.s, id, 1), SPIFFE_ERR_ARG);
	c.auto_consume = 1;
	while (off < sizeof(big)) {
		size_t acc;
		CHECK_INT(pump(&c, &s), 0);
		CHECK_INT(spiffe_h2_send_data(&s.s, id, big + off,
					      sizeof(big) - off, 1, &acc), 0);
		off += acc;
	}
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, id)->data, sizeof(big));
	CHECK_INT(sr(&c, id)->sum, sum);
	CHECK_INT(sr(&c, id)->ended, 1);
	CHECK_INT(sr(&c, id)->closed, 1);
	CHECK_INT(sr(&s, id)->closed, 1);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* Default windows: a 4 MiB gRPC message flows without a consume. */
TEST(default_windows_hold_a_4mib_message)
{
	struct rec c, s;
	uint32_t id;
	size_t off = 0, total = 4u << 20;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, ok_resp, 2, 0), 0);
	while (off < total) {
		size_t acc, k = total - off > sizeof(big) ?
			sizeof(big) : total - off;
		CHECK_INT(spiffe_h2_send_data(&s.s, id, big, k, 0, &acc), 0);
		off += acc;
		CHECK_INT(pump(&c, &s), 0);
	}
	CHECK_INT(sr(&c, id)->data, total);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* The peer lowers and raises SETTINGS_INITIAL_WINDOW_SIZE mid-stream. */
TEST(initial_window_change_adjusts_open_streams)
{
	struct rec c;
	const uint8_t *p;
	size_t len;
	struct frame f;

	CHECK_INT(raw_client(&c), 0);
	/* response headers: :status 200 (0x88) */
	CHECK_INT(feed_hex(&c, "000001 01 04 00000001 88"), 0);
	CHECK_INT(sr(&c, 1)->sections, 1);
	drain(&c);
	/* the stream was opened with END_STREAM; use a second one */
	uint32_t id;
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 0, &id), 0);
	CHECK_INT(id, 3);
	drain(&c);
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 000400000000"), 0);
	CHECK_INT(send_all(&c, 3, "hello", 5, 0), 0);
	CHECK_INT(spiffe_h2_output(&c.s, &p, &len), 0);
	CHECK(find_frame(p, len, 0x0, 0, &f) != 0);      /* no DATA */
	drain(&c);
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 000400000003"), 0);
	CHECK_INT(spiffe_h2_output(&c.s, &p, &len), 0);
	CHECK_INT(find_frame(p, len, 0x0, 0, &f), 0);
	CHECK_INT(f.len, 3);                             /* window of 3 */
	drain(&c);
	/* a stream WINDOW_UPDATE lets the rest out */
	CHECK_INT(feed_hex(&c, "000004 08 00 00000003 00000010"), 0);
	CHECK_INT(spiffe_h2_output(&c.s, &p, &len), 0);
	CHECK_INT(find_frame(p, len, 0x0, 0, &f), 0);
	CHECK_INT(f.len, 2);
	drain(&c);
	/* 2^31-1 now overflows stream 3's window (3+16-5+...) */
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 00047fffffff"),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&c), SPIFFE_H2_FLOW_CONTROL_ERROR);
	spiffe_h2_free(&c.s);
}

/* The peer shrinks our encoder's table: requests keep decoding. */
TEST(peer_header_table_size_is_honoured)
{
	struct rec c, s;
	uint32_t id;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 1, &id),
			  0);
		CHECK_INT(pump(&c, &s), 0);
		CHECK(strstr(sr(&s, id)->last, "te: trailers\n"));
		/* 0, then 100: the client's table follows each value */
		CHECK_INT(feed_hex(&c, i == 0 ?
				   "000006 04 00 00000000 000100000000" :
				   "000006 04 00 00000000 000100000064"), 0);
	}
	CHECK_INT(spiffe_hpack_table_size(&s.s.dec.tab) <= 100, 1);
	CHECK_INT(spiffe_hpack_table_size(&c.s.enc.tab),
		  spiffe_hpack_table_size(&s.s.dec.tab));
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(send_backpressure_and_room)
{
	struct rec c, s;
	uint32_t id;
	size_t acc;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 0, &id), 0);
	CHECK_INT(spiffe_h2_send_room(&c.s, id), SPIFFE_H2_STREAM_SENDBUF);
	CHECK_INT(spiffe_h2_send_data(&c.s, id, big, sizeof(big), 1, &acc),
		  0);
	CHECK_INT(acc, SPIFFE_H2_STREAM_SENDBUF);
	CHECK_INT(spiffe_h2_send_room(&c.s, id), 0);
	/* END_STREAM waits for all data, so more can still be queued */
	CHECK_INT(spiffe_h2_send_data(&c.s, id, big, 10, 0, &acc), 0);
	CHECK_INT(acc, 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK(spiffe_h2_send_room(&c.s, id) > 0);
	CHECK_INT(spiffe_h2_send_data(&c.s, id, big, 10, 1, &acc), 0);
	CHECK_INT(acc, 10);
	CHECK_INT(spiffe_h2_send_room(&c.s, id), 0);
	CHECK_INT(spiffe_h2_send_data(&c.s, id, big, 1, 0, &acc),
		  SPIFFE_ERR_CLOSED);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, id)->ended, 1);
	CHECK_INT(sr(&s, id)->data, SPIFFE_H2_STREAM_SENDBUF + 10);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(ping_and_ack)
{
	struct rec c, s;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	CHECK_INT(spiffe_h2_ping(&c.s, (const uint8_t *)"keepaliv"), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(c.ping_acks, 1);
	CHECK_MEM(c.ping, "keepaliv", 8);
	CHECK_INT(s.ping_acks, 0);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(goaway_lets_open_streams_finish)
{
	struct rec c, s;
	uint32_t id;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(spiffe_h2_goaway(&s.s, SPIFFE_H2_NO_ERROR,
				   (const uint8_t *)"bye", 3), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(c.goaways, 1);
	CHECK_INT(c.goaway_last, 1);
	CHECK_INT(c.goaway_code, SPIFFE_H2_NO_ERROR);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id),
		  SPIFFE_ERR_CLOSED);
	CHECK_INT(spiffe_h2_done(&c.s), 0);
	CHECK_INT(spiffe_h2_submit_response(&s.s, 1, ok_resp, 2, 1), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, 1)->closed, 1);
	CHECK_INT(sr(&c, 1)->code, 0);
	CHECK_INT(spiffe_h2_done(&c.s), 1);
	CHECK_INT(spiffe_h2_done(&s.s), 1);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* Streams above the GOAWAY's last id were never processed. */
TEST(goaway_refuses_later_streams)
{
	struct rec c;
	uint32_t id;

	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(id, 5);
	CHECK_INT(feed_hex(&c, "00000b 07 00 00000000 00000001 00000000"
			   "6f6f70"), 0);
	CHECK_INT(c.goaways, 1);
	CHECK_INT(sr(&c, 3)->closed, 1);
	CHECK_INT(sr(&c, 3)->code, SPIFFE_H2_REFUSED_STREAM);
	CHECK_INT(sr(&c, 5)->code, SPIFFE_H2_REFUSED_STREAM);
	CHECK_INT(sr(&c, 1)->closed, 0);
	CHECK_INT(spiffe_h2_stream_count(&c.s), 1);
	/* a later GOAWAY may not raise the last stream id */
	CHECK_INT(feed_hex(&c, "000008 07 00 00000000 00000003 00000000"),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&c), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
}

/* A HEADERS frame split over CONTINUATION frames, as a peer may send. */
TEST(continuation_reassembles)
{
	struct rec s;
	uint8_t blk[256];
	size_t n = encode(x509_req, 7, blk, sizeof(blk));

	CHECK_INT(raw_server(&s, NULL), 0);
	CHECK_INT(feed_frame(&s, 0x1, 0x0, 1, blk, 10), 0);
	CHECK_INT(feed_frame(&s, 0x9, 0x0, 1, blk + 10, 0), 0);
	CHECK_INT(feed_frame(&s, 0x9, 0x0, 1, blk + 10, 5), 0);
	CHECK_INT(sr(&s, 1)->sections, 0);
	CHECK_INT(feed_frame(&s, 0x9, 0x4, 1, blk + 15, n - 15), 0);
	CHECK_INT(sr(&s, 1)->sections, 1);
	CHECK(strstr(sr(&s, 1)->last, "te: trailers\n"));
	spiffe_h2_free(&s.s);
}

/* Our encoder splits a large block into HEADERS + CONTINUATION. */
TEST(large_header_block_is_split)
{
	struct rec c, s;
	static uint8_t v[6000];
	spiffe_header h[7];
	const uint8_t *p;
	size_t len;
	struct frame f;
	uint32_t id;

	/* bytes whose Huffman codes are long, so no compression */
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)"{}<>^`|~"[i % 8];
	memcpy(h, get_req, sizeof(get_req));
	for (int i = 4; i < 7; i++)
		h[i] = (spiffe_header){ (const uint8_t *)"x-big", 5, v,
					sizeof(v), SPIFFE_HEADER_NO_INDEX };
	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	/* pretend the server allows 1 MiB lists (it announced 16 KiB) */
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 000600100000"), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, h, 7, 1, &id), 0);
	CHECK_INT(spiffe_h2_output(&c.s, &p, &len), 0);
	CHECK_INT(find_frame(p, len, 0x1, 0, &f), 0);
	CHECK_INT(f.len, 16384);
	CHECK_INT(f.flags, 0x1);        /* END_STREAM, no END_HEADERS */
	CHECK_INT(find_frame(p, len, 0x9, 0, &f), 0);
	CHECK_INT(f.flags, 0x4);
	CHECK(f.len > 1000);
	/* 18 KiB of fields is over our list limit: a stream error only */
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, id)->closed, 1);
	CHECK_INT(sr(&c, id)->code, SPIFFE_H2_FRAME_SIZE_ERROR);
	CHECK_INT(sr(&s, id)->sections, 0);
	/* HPACK stayed in step: the next request works */
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, id)->sections, 1);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/*
 * With report_oversized (an HTTP server's choice), a request over our
 * header list limits opens its stream and comes with no fields and
 * SPIFFE_H2_OVERSIZED, so the server can answer it (431).
 */
TEST(oversized_request_reported)
{
	struct rec c, s;
	static uint8_t v[6000];
	spiffe_header h[7];
	spiffe_h2_options so = { 0, 0, 0, 1 };
	static const spiffe_header r431[] = { HD(":status", "431") };
	uint32_t id;

	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)"{}<>^`|~"[i % 8];
	memcpy(h, get_req, sizeof(get_req));
	for (int i = 4; i < 7; i++)
		h[i] = (spiffe_header){ (const uint8_t *)"x-big", 5, v,
					sizeof(v), SPIFFE_HEADER_NO_INDEX };
	CHECK_INT(pair(&c, &s, NULL, &so), 0);
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 000600100000"), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, h, 7, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, id)->sections, 1);
	CHECK_INT(sr(&s, id)->flags,
		  SPIFFE_H2_OVERSIZED | SPIFFE_H2_END_STREAM);
	CHECK_STR(sr(&s, id)->last, "");
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, r431, 1, 1), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, id)->closed, 1);
	CHECK_INT(sr(&c, id)->code, 0);
	CHECK_STR(sr(&c, id)->last, ":status: 431\n");
	/* HPACK stayed in step: the next request works */
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 1, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, id)->sections, 1);
	CHECK_INT(sr(&s, id)->flags, SPIFFE_H2_END_STREAM);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/*
 * A HEADERS frame that depends on itself is a stream PROTOCOL_ERROR
 * (RFC 9113 section 5.3.1), even when its list is also over our limits
 * and the server asked for those as reports.
 */
TEST(self_dependency_before_oversized)
{
	struct rec r;
	spiffe_h2_options so = { 0, 0, 0, 1 };
	static uint8_t p[64 + 13000];
	size_t n = 0, vlen = 13000;     /* over SPIFFE_HPACK_MAX_STRING */
	/* GET http / (static 2, 6, 4), :authority x, then x-big: 13000
	 * bytes (HPACK integer 127 + 12873 = 0x7f 0xc9 0x64) */
	static const char hb[] = "\x82\x86\x84\x01\x01x\x00\x05x-big"
				 "\x7f\xc9\x64";

	CHECK(vlen > SPIFFE_HPACK_MAX_STRING);
	CHECK_INT(raw_server(&r, &so), 0);
	/* priority: dependency 1 (itself), weight 17 */
	memcpy(p + n, "\x00\x00\x00\x01\x10", 5);
	n += 5;
	memcpy(p + n, hb, sizeof(hb) - 1);
	n += sizeof(hb) - 1;
	memset(p + n, 'v', vlen);
	n += vlen;
	CHECK_INT(feed_frame(&r, 0x1, 0x25, 1, p, n), 0);
	CHECK_INT(rst_code(&r, 1), SPIFFE_H2_PROTOCOL_ERROR);
	CHECK_INT(goaway_code(&r), -1);
	CHECK_INT(sr(&r, 1)->sections, 0);
	spiffe_h2_free(&r.s);
}

TEST(reset_from_on_data_discards_rest)
{
	struct rec c, s;
	uint32_t id;

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	s.reset_on_data = 1;
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 0, &id), 0);
	CHECK_INT(send_all(&c, id, big, 40000, 0), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&s, id)->closed, 1);
	CHECK_INT(sr(&s, id)->code, SPIFFE_H2_CANCEL);
	CHECK_INT(sr(&c, id)->code, SPIFFE_H2_CANCEL);
	/* everything the client sent is back in the connection window */
	CHECK_INT(s.s.recv_window + s.s.conn_unacked,
		  SPIFFE_H2_CONN_WINDOW);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

/* Padded DATA split across feeds, reset mid-frame: every byte returns. */
TEST(window_accounting_with_padding_and_reset)
{
	struct rec r;
	uint8_t f[9 + 1 + 100 + 10];

	CHECK_INT(raw_server(&r, NULL), 0);
	CHECK_INT(feed_hex(&r, OPEN1), 0);
	put_frame(f, 111, 0x0, 0x8, 1);
	f[9] = 10;
	memset(f + 10, 'd', 100);
	memset(f + 110, 0, 10);
	/* half the data, then the app consumes and resets the stream */
	CHECK_INT(spiffe_h2_feed(&r.s, f, 60), 0);
	CHECK_INT(sr(&r, 1)->data, 50);
	CHECK_INT(spiffe_h2_consume(&r.s, 1, 20), 0);
	CHECK_INT(spiffe_h2_reset(&r.s, 1, SPIFFE_H2_CANCEL), 0);
	CHECK_INT(spiffe_h2_feed(&r.s, f + 60, sizeof(f) - 60), 0);
	CHECK_INT(sr(&r, 1)->data, 50);
	CHECK_INT(sr(&r, 1)->code, SPIFFE_H2_CANCEL);
	CHECK_INT(r.s.recv_window + r.s.conn_unacked, SPIFFE_H2_CONN_WINDOW);
	/* DATA for the closed stream counts and returns as well */
	CHECK_INT(spiffe_h2_feed(&r.s, f, sizeof(f)), 0);
	CHECK_INT(r.s.recv_window + r.s.conn_unacked, SPIFFE_H2_CONN_WINDOW);
	spiffe_h2_free(&r.s);
}

/* --- protocol errors: connection ----------------------------------------- */

struct conn_case {
	const char *name;
	int role;
	const char *hex;        /* fed after the preface and SETTINGS */
	long code;              /* GOAWAY error code */
	int err;                /* what feed returns */
};

static const struct conn_case conn_cases[] = {
	{ "frame over SETTINGS_MAX_FRAME_SIZE", SPIFFE_H2_SERVER,
	  "004001 00 00 00000001", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "DATA on stream 0", SPIFFE_H2_SERVER,
	  "000001 00 00 00000000 ff", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "DATA on idle stream", SPIFFE_H2_SERVER,
	  "000001 00 00 00000003 ff", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "DATA padding past payload", SPIFFE_H2_SERVER,
	  OPEN1 "000002 00 08 00000001 05ff", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "padded DATA of length 0", SPIFFE_H2_SERVER,
	  OPEN1 "000000 00 08 00000001", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS on stream 0", SPIFFE_H2_SERVER,
	  "000006 01 04 00000000 828684010178", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS on even stream from client", SPIFFE_H2_SERVER,
	  "000006 01 04 00000002 828684010178", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS too short for PADDED|PRIORITY", SPIFFE_H2_SERVER,
	  "000003 01 2c 00000001 000000", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS padding past payload", SPIFFE_H2_SERVER,
	  "000008 01 0c 00000001 08 828684010178 00", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "CONTINUATION without HEADERS", SPIFFE_H2_SERVER,
	  "000000 09 04 00000001", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "PING inside a header block", SPIFFE_H2_SERVER,
	  "000003 01 00 00000001 828684 "
	  "000008 06 00 00000000 0000000000000000", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "CONTINUATION of another stream", SPIFFE_H2_SERVER,
	  "000003 01 00 00000001 828684 000003 09 04 00000003 010178", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "HPACK index 0", SPIFFE_H2_SERVER,
	  "000001 01 04 00000001 80", 0x9, SPIFFE_ERR_HPACK },
	{ "HPACK size update over SETTINGS", SPIFFE_H2_SERVER,
	  "000003 01 04 00000001 3fe21f", 0x9, SPIFFE_ERR_HPACK },
	{ "PRIORITY on stream 0", SPIFFE_H2_SERVER,
	  "000005 02 00 00000000 0000000110", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "PRIORITY of 4 bytes on idle stream", SPIFFE_H2_SERVER,
	  "000004 02 00 00000003 00000001", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "RST_STREAM on idle stream", SPIFFE_H2_SERVER,
	  "000004 03 00 00000001 00000008", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "RST_STREAM on stream 0", SPIFFE_H2_SERVER,
	  "000004 03 00 00000000 00000008", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "RST_STREAM of 3 bytes", SPIFFE_H2_SERVER,
	  OPEN1 "000003 03 00 00000001 000008", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS of 5 bytes", SPIFFE_H2_SERVER,
	  "000005 04 00 00000000 0000000000", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS ACK with payload", SPIFFE_H2_SERVER,
	  "000006 04 01 00000000 000100000000", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS on stream 1", SPIFFE_H2_SERVER,
	  "000000 04 00 00000001", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS_ENABLE_PUSH 2", SPIFFE_H2_SERVER,
	  "000006 04 00 00000000 000200000002", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS_INITIAL_WINDOW_SIZE 2^31", SPIFFE_H2_SERVER,
	  "000006 04 00 00000000 000480000000", 0x3, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS_MAX_FRAME_SIZE 16383", SPIFFE_H2_SERVER,
	  "000006 04 00 00000000 000500003fff", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS_MAX_FRAME_SIZE 2^24", SPIFFE_H2_SERVER,
	  "000006 04 00 00000000 000501000000", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "SETTINGS_ENABLE_PUSH 1 to a client", SPIFFE_H2_CLIENT,
	  "000006 04 00 00000000 000200000001", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "PUSH_PROMISE to a server", SPIFFE_H2_SERVER,
	  OPEN1 "000005 05 04 00000001 0000000282", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "PUSH_PROMISE to a client", SPIFFE_H2_CLIENT,
	  "000005 05 04 00000001 0000000282", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "PING of 7 bytes", SPIFFE_H2_SERVER,
	  "000007 06 00 00000000 00000000000000", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "PING on stream 1", SPIFFE_H2_SERVER,
	  "000008 06 00 00000001 0000000000000000", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "GOAWAY on stream 1", SPIFFE_H2_SERVER,
	  "000008 07 00 00000001 0000000000000000", 0x1,
	  SPIFFE_ERR_PROTOCOL },
	{ "GOAWAY of 4 bytes", SPIFFE_H2_SERVER,
	  "000004 07 00 00000000 00000000", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "WINDOW_UPDATE of 0 on stream 0", SPIFFE_H2_SERVER,
	  "000004 08 00 00000000 00000000", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "connection window over 2^31-1", SPIFFE_H2_SERVER,
	  "000004 08 00 00000000 7fffffff", 0x3, SPIFFE_ERR_PROTOCOL },
	{ "WINDOW_UPDATE of 3 bytes", SPIFFE_H2_SERVER,
	  "000003 08 00 00000000 000001", 0x6, SPIFFE_ERR_PROTOCOL },
	{ "WINDOW_UPDATE on idle stream", SPIFFE_H2_SERVER,
	  "000004 08 00 00000005 00000001", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS on a stream the client did not open", SPIFFE_H2_CLIENT,
	  "000001 01 04 00000003 88", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "HEADERS on an even stream to a client", SPIFFE_H2_CLIENT,
	  "000001 01 04 00000002 88", 0x1, SPIFFE_ERR_PROTOCOL },
	{ "DATA on an idle stream to a client", SPIFFE_H2_CLIENT,
	  "000001 00 00 00000007 00", 0x1, SPIFFE_ERR_PROTOCOL },
};

TEST(connection_errors_send_goaway_with_rfc_code)
{
	for (size_t i = 0; i < sizeof(conn_cases) / sizeof(conn_cases[0]);
	     i++) {
		const struct conn_case *k = &conn_cases[i];
		struct rec r;
		int rc;

		if (k->role == SPIFFE_H2_SERVER)
			rc = raw_server(&r, NULL);
		else
			rc = raw_client(&r);
		CHECK_INT(rc, 0);
		rc = feed_hex(&r, k->hex);
		if (rc != k->err || goaway_code(&r) != k->code) {
			FAILF("%s: feed %d, GOAWAY %ld (want %d, %ld): %s",
			      k->name, rc, goaway_code(&r), k->err, k->code,
			      spiffe_h2_errmsg(&r.s));
			return;
		}
		/* the session is dead: feed keeps failing, output remains */
		CHECK_INT(spiffe_h2_feed(&r.s, (const uint8_t *)"x", 1),
			  k->err);
		CHECK_INT(spiffe_h2_error_code(&r.s), k->code);
		CHECK_INT(spiffe_h2_done(&r.s), 1);
		CHECK_INT(spiffe_h2_ping(&r.s, (const uint8_t *)"12345678"),
			  SPIFFE_ERR_CLOSED);
		spiffe_h2_free(&r.s);
	}
}

TEST(invalid_preface_and_first_frame)
{
	struct rec r;

	CHECK_INT(rec_init(&r, SPIFFE_H2_SERVER, NULL), 0);
	drain(&r);
	CHECK_INT(spiffe_h2_feed(&r.s, (const uint8_t *)"GET / HTTP/1.1\r\n",
				 16), SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&r.s);

	CHECK_INT(rec_init(&r, SPIFFE_H2_SERVER, NULL), 0);
	drain(&r);
	CHECK_INT(feed_hex(&r, "505249202a20485454502f322e300d0a0d0a534d0d0a"
			   "0d0a 000008 06 00 00000000 0000000000000000"),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&r.s);

	CHECK_INT(rec_init(&r, SPIFFE_H2_CLIENT, NULL), 0);
	drain(&r);
	CHECK_INT(feed_hex(&r, "000000 04 01 00000000"), SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&r.s);
}

/* Flow-control violations on the connection and on one stream. */
TEST(data_over_windows)
{
	struct rec r;
	spiffe_h2_options o = { 1 << 20, 0, 0, 0 };
	spiffe_h2_options o2 = { 0, 1 << 20, 0, 0 };
	static uint8_t d[16384];

	/* connection window 65535 exceeded by the fourth 16 KiB frame */
	o.conn_window = 65535;
	CHECK_INT(raw_server(&r, &o), 0);
	CHECK_INT(feed_hex(&r, OPEN1), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(feed_frame(&r, 0x0, 0, 1, d, sizeof(d)), 0);
	CHECK_INT(feed_frame(&r, 0x0, 0, 1, d, sizeof(d)),
		  SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_FLOW_CONTROL_ERROR);
	spiffe_h2_free(&r.s);

	/* stream window 65535 exceeded: RST only, connection lives */
	o2.stream_window = 65535;
	CHECK_INT(raw_server(&r, &o2), 0);
	CHECK_INT(feed_hex(&r, OPEN1), 0);
	for (int i = 0; i < 4; i++)
		CHECK_INT(feed_frame(&r, 0x0, 0, 1, d, sizeof(d)), 0);
	CHECK_INT(rst_code(&r, 1), SPIFFE_H2_FLOW_CONTROL_ERROR);
	CHECK_INT(goaway_code(&r), -1);
	CHECK_INT(sr(&r, 1)->data, 3 * 16384);
	CHECK_INT(sr(&r, 1)->code, SPIFFE_H2_FLOW_CONTROL_ERROR);
	/* more DATA for the reset stream is ignored */
	CHECK_INT(feed_frame(&r, 0x0, 0, 1, d, 100), 0);
	spiffe_h2_free(&r.s);
}

/* --- protocol errors: stream --------------------------------------------- */

struct stream_case {
	const char *name;
	const char *hex;        /* fed to a server after preface, SETTINGS */
	uint32_t stream;
	long code;              /* RST_STREAM code */
};

static const struct stream_case stream_cases[] = {
	{ "WINDOW_UPDATE of 0 on a stream",
	  OPEN1 "000004 08 00 00000001 00000000", 1, 0x1 },
	{ "stream window over 2^31-1",
	  OPEN1 "000004 08 00 00000001 7fffffff", 1, 0x3 },
	{ "DATA after END_STREAM",
	  OPEN1_END "000001 00 00 00000001 ff", 1, 0x5 },
	{ "HEADERS after END_STREAM",
	  OPEN1_END "000001 01 05 00000001 82", 1, 0x5 },
	{ "PRIORITY depending on itself",
	  OPEN1 "000005 02 00 00000001 0000000110", 1, 0x1 },
	{ "PRIORITY of 4 bytes",
	  OPEN1 "000004 02 00 00000001 00000003", 1, 0x6 },
	{ "HEADERS depending on itself",
	  "00000b 01 25 00000003 0000000310 828684010178", 3, 0x1 },
	{ "trailers without END_STREAM",
	  OPEN1 "000005 01 04 00000001 400178017a", 1, 0x1 },
	{ "trailers with a pseudo-header",
	  OPEN1 "000001 01 05 00000001 82", 1, 0x1 },
	{ "content-length and shorter body",
	  "00000a 01 04 00000001 828684010178 0f0d0133 "
	  "000002 00 01 00000001 6162", 1, 0x1 },
	{ "content-length and longer body",
	  "00000a 01 04 00000001 828684010178 0f0d0131 "
	  "000002 00 00 00000001 6162", 1, 0x1 },
	{ "content-length with END_STREAM on HEADERS",
	  "00000a 01 05 00000001 828684010178 0f0d0131", 1, 0x1 },
};

TEST(stream_errors_send_rst_with_rfc_code)
{
	for (size_t i = 0;
	     i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
		const struct stream_case *k = &stream_cases[i];
		struct rec r;
		int rc;

		CHECK_INT(raw_server(&r, NULL), 0);
		rc = feed_hex(&r, k->hex);
		if (rc != 0 || rst_code(&r, k->stream) != k->code ||
		    goaway_code(&r) != -1) {
			FAILF("%s: feed %d, RST %ld, GOAWAY %ld (want %ld)",
			      k->name, rc, rst_code(&r, k->stream),
			      goaway_code(&r), k->code);
			return;
		}
		/* the connection is still good */
		drain(&r);
		CHECK_INT(feed_hex(&r, "000008 06 00 00000000"
				   "0102030405060708"), 0);
		CHECK_INT(spiffe_h2_stream_count(&r.s), 0);
		spiffe_h2_free(&r.s);
	}
}

/* Requests that break RFC 9113 section 8 never reach the application. */
TEST(malformed_requests_are_reset)
{
	static const spiffe_header bad[][6] = {
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("X-Upper", "1") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("connection", "close") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("te", "gzip") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD("a", "b"), HD(":path", "/") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD(":status", "200") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":authority", "x"), HD("a", "b") },
		{ HD(":method", "GET"), HD(":method", "GET"),
		  HD(":scheme", "http"), HD(":path", "/") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", ""), HD("a", "b") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("a", "b\r\nc") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("a", " b") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("transfer-encoding", "chunked") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("", "x") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD("content-length", "1x") },
		{ HD(":method", "CONNECT"), HD(":scheme", "http"),
		  HD(":path", "/"), HD(":authority", "x") },
		{ HD(":method", "GET"), HD(":scheme", "http"),
		  HD(":path", "/"), HD(":protocol", "websocket") },
		{ HD(":method", "GET"), HD(":scheme", "https"),
		  HD(":path", "index"), HD("a", "b") },
	};
	uint8_t blk[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rec r;
		size_t n = 0;

		while (n < 6 && bad[i][n].name != NULL)
			n++;
		size_t len = encode(bad[i], n, blk, sizeof(blk));
		CHECK_INT(raw_server(&r, NULL), 0);
		CHECK_INT(feed_frame(&r, 0x1, 0x5, 1, blk, len), 0);
		if (rst_code(&r, 1) != SPIFFE_H2_PROTOCOL_ERROR ||
		    sr(&r, 1)->sections != 0) {
			FAILF("case %zu: RST %ld", i, rst_code(&r, 1));
			return;
		}
		/* our side refuses to send the same */
		struct rec c;
		uint32_t id;
		CHECK_INT(rec_init(&c, SPIFFE_H2_CLIENT, NULL), 0);
		CHECK_INT(spiffe_h2_submit_request(&c.s, bad[i], n, 1, &id),
			  SPIFFE_ERR_ARG);
		spiffe_h2_free(&c.s);
		spiffe_h2_free(&r.s);
	}
}

/* Allowed forms: te: trailers, CONNECT, OPTIONS *, other schemes. */
TEST(valid_request_forms_pass)
{
	static const spiffe_header good[][5] = {
		{ HD(":method", "CONNECT"), HD(":authority", "h:443") },
		{ HD(":method", "OPTIONS"), HD(":scheme", "https"),
		  HD(":path", "*"), HD("te", "trailers") },
		{ HD(":method", "GET"), HD(":scheme", "foo"),
		  HD(":path", "x"), HD("content-length", "0") },
	};
	uint8_t blk[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct rec r;
		size_t n = 0;

		while (n < 5 && good[i][n].name != NULL)
			n++;
		size_t len = encode(good[i], n, blk, sizeof(blk));
		CHECK_INT(raw_server(&r, NULL), 0);
		CHECK_INT(feed_frame(&r, 0x1, 0x5, 1, blk, len), 0);
		if (rst_code(&r, 1) != -1 || sr(&r, 1)->sections != 1) {
			FAILF("case %zu: RST %ld", i, rst_code(&r, 1));
			return;
		}
		spiffe_h2_free(&r.s);
	}
}

TEST(response_rules_on_the_client)
{
	struct rec c;

	/* no :status */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000001 01 05 00000001 82"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	CHECK_INT(sr(&c, 1)->code, SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* 101 */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000005 01 04 00000001 0803313031"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* DATA before the response headers */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000001 00 01 00000001 61"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* 100 then 200: two sections, the first informational */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000005 01 04 00000001 0803313030"), 0);
	CHECK_INT(sr(&c, 1)->sections, 1);
	CHECK_INT(sr(&c, 1)->flags, 0);
	CHECK_INT(feed_hex(&c, "000001 01 05 00000001 88"), 0);
	CHECK_INT(sr(&c, 1)->sections, 2);
	CHECK_INT(sr(&c, 1)->flags, SPIFFE_H2_END_STREAM);
	CHECK_INT(sr(&c, 1)->closed, 1);
	CHECK_INT(sr(&c, 1)->code, 0);
	spiffe_h2_free(&c.s);
	/* 100 with END_STREAM */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000005 01 05 00000001 0803313030"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* te is connection-specific in a response */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "00000e 01 05 00000001 88 0002 7465 08"
			   "747261696c657273"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* trailers with :status */
	CHECK_INT(raw_client(&c), 0);
	CHECK_INT(feed_hex(&c, "000001 01 04 00000001 88"
			   "000001 01 05 00000001 88"), 0);
	CHECK_INT(rst_code(&c, 1), SPIFFE_H2_PROTOCOL_ERROR);
	spiffe_h2_free(&c.s);
	/* HEAD responses may announce a length without a body */
	uint32_t id;
	static const spiffe_header head[] = {
		HD(":method", "HEAD"), HD(":scheme", "http"), HD(":path", "/"),
	};
	CHECK_INT(rec_init(&c, SPIFFE_H2_CLIENT, NULL), 0);
	CHECK_INT(feed_hex(&c, "000000 04 00 00000000"), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, head, 3, 1, &id), 0);
	drain(&c);
	CHECK_INT(feed_hex(&c, "000004 01 05 00000001 885c0131"), 0);
	CHECK_INT(rst_code(&c, 1), -1);
	CHECK_INT(sr(&c, 1)->closed, 1);
	spiffe_h2_free(&c.s);
}

TEST(concurrency_limit_refuses_streams)
{
	struct rec r;
	spiffe_h2_options o = { 0, 0, 1, 0 };

	CHECK_INT(raw_server(&r, &o), 0);
	CHECK_INT(feed_hex(&r, OPEN1 "000006 01 04 00000003 828684010178"),
		  0);
	CHECK_INT(rst_code(&r, 3), SPIFFE_H2_REFUSED_STREAM);
	CHECK_INT(sr(&r, 3)->sections, 0);
	CHECK_INT(spiffe_h2_stream_count(&r.s), 1);
	/* once stream 1 is gone, stream 5 is accepted */
	CHECK_INT(spiffe_h2_reset(&r.s, 1, SPIFFE_H2_CANCEL), 0);
	CHECK_INT(feed_hex(&r, "000006 01 04 00000005 828684010178"), 0);
	CHECK_INT(sr(&r, 5)->sections, 1);
	/* a lower id after a higher one is a closed stream: ignored */
	CHECK_INT(feed_hex(&r, "000006 01 04 00000003 828684010178"), 0);
	CHECK_INT(sr(&r, 3)->sections, 0);
	spiffe_h2_free(&r.s);

	/* the client waits for the server's limit */
	struct rec c, s;
	uint32_t id;
	CHECK_INT(pair(&c, &s, NULL, &o), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 0, &id), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 0, &id),
		  SPIFFE_ERR_AGAIN);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(header_block_limits)
{
	struct rec r;
	static uint8_t d[16384];
	uint8_t blk[256];
	size_t n = encode(get_req, 4, blk, sizeof(blk));

	/* more than SPIFFE_H2_MAX_CONTINUATION frames */
	CHECK_INT(raw_server(&r, NULL), 0);
	CHECK_INT(feed_frame(&r, 0x1, 0x0, 1, blk, 1), 0);
	for (int i = 0; i < SPIFFE_H2_MAX_CONTINUATION; i++)
		CHECK_INT(feed_frame(&r, 0x9, 0x0, 1, d, 0), 0);
	CHECK_INT(feed_frame(&r, 0x9, 0x0, 1, d, 0), SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_ENHANCE_YOUR_CALM);
	spiffe_h2_free(&r.s);

	/* a block over SPIFFE_H2_MAX_HEADER_BLOCK */
	CHECK_INT(raw_server(&r, NULL), 0);
	CHECK_INT(feed_frame(&r, 0x1, 0x0, 1, d, sizeof(d)), 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(feed_frame(&r, 0x9, 0x0, 1, d, sizeof(d)), 0);
	CHECK_INT(feed_frame(&r, 0x9, 0x4, 1, d, 1), SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_ENHANCE_YOUR_CALM);
	spiffe_h2_free(&r.s);
	(void)n;
}

/* Unknown frames, unknown settings and PRIORITY are ignored. */
TEST(ignored_frames)
{
	struct rec r;

	CHECK_INT(raw_server(&r, NULL), 0);
	CHECK_INT(feed_hex(&r, "000003 fa 07 00000001 616263"
			   "000006 04 00 00000000 00ff00000001"
			   "000005 02 00 00000009 0000000110"
			   OPEN1
			   "000005 02 00 00000001 0000000310"), 0);
	CHECK_INT(sr(&r, 1)->sections, 1);
	CHECK_INT(goaway_code(&r), -1);
	CHECK_INT(rst_code(&r, 1), -1);
	/* RST_STREAM and WINDOW_UPDATE for a closed stream are ignored */
	CHECK_INT(spiffe_h2_reset(&r.s, 1, SPIFFE_H2_CANCEL), 0);
	drain(&r);
	CHECK_INT(feed_hex(&r, "000004 03 00 00000001 00000008"
			   "000004 08 00 00000001 00000001"
			   "000001 00 00 00000001 61"), 0);
	CHECK_INT(goaway_code(&r), -1);
	spiffe_h2_free(&r.s);
}

/* PING and SETTINGS floods stop at the output cap. */
TEST(ack_flood_is_bounded)
{
	struct rec r;
	static uint8_t b[17 * 1000];
	int rc = 0, rounds;

	CHECK_INT(raw_server(&r, NULL), 0);
	for (int i = 0; i < 1000; i++) {
		put_frame(b + i * 17, 8, 0x6, 0, 0);
		memset(b + i * 17 + 9, i, 8);
	}
	for (rounds = 0; rounds < 100 && rc == 0; rounds++)
		rc = spiffe_h2_feed(&r.s, b, sizeof(b));
	CHECK_INT(rc, SPIFFE_ERR_PROTOCOL);
	CHECK_INT(goaway_code(&r), SPIFFE_H2_ENHANCE_YOUR_CALM);
	CHECK(r.s.out_len - r.s.out_off < SPIFFE_H2_MAX_OUTPUT + 1024);
	spiffe_h2_free(&r.s);
}

TEST(submission_rules)
{
	struct rec c, s;
	uint32_t id;
	static const spiffe_header noms[] = { HD(":status", "200") };
	static const spiffe_header bad_tr[] = { HD(":status", "200") };
	static const spiffe_header info[] = { HD(":status", "103") };

	CHECK_INT(pair(&c, &s, NULL, NULL), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, noms, 1, 1, &id),
		  SPIFFE_ERR_ARG);
	CHECK(strstr(spiffe_h2_errmsg(&c.s), "pseudo-header") != NULL);
	CHECK_INT(spiffe_h2_submit_response(&c.s, 1, ok_resp, 2, 1),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_request(&s.s, get_req, 4, 1, &id),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_request(&c.s, get_req, 4, 0, &id), 0);
	CHECK_INT(pump(&c, &s), 0);
	/* server: no data before headers; no 1xx with END_STREAM */
	CHECK_INT(send_all(&s, id, "x", 1, 0), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, info, 1, 1),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, info, 1, 0), 0);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, get_req, 4, 0),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, ok_resp, 2, 0), 0);
	CHECK_INT(spiffe_h2_submit_response(&s.s, id, ok_resp, 2, 0),
		  SPIFFE_ERR_CLOSED);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, id, bad_tr, 1),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, id, ok_trailers, 2), 0);
	CHECK_INT(spiffe_h2_submit_trailers(&s.s, id, ok_trailers, 2),
		  SPIFFE_ERR_CLOSED);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, id)->sections, 3);     /* 103, 200, trailers */
	/* the server has not ended: the client side is half-closed */
	CHECK_INT(sr(&c, id)->closed, 0);
	CHECK_INT(send_all(&c, id, "", 0, 1), 0);
	CHECK_INT(pump(&c, &s), 0);
	CHECK_INT(sr(&c, id)->closed, 1);
	CHECK_INT(sr(&s, id)->closed, 1);
	/* the peer's header list limit */
	CHECK_INT(feed_hex(&c, "000006 04 00 00000000 000600000040"), 0);
	CHECK_INT(spiffe_h2_submit_request(&c.s, x509_req, 7, 1, &id),
		  SPIFFE_ERR_LIMIT);
	spiffe_h2_free(&c.s);
	spiffe_h2_free(&s.s);
}

TEST(options_are_checked)
{
	spiffe_h2_session s;
	spiffe_h2_options small = { 1000, 0, 0, 0 };
	spiffe_h2_options many = { 0, 0, SPIFFE_H2_MAX_STREAMS + 1, 0 };

	CHECK_INT(spiffe_h2_init(&s, 7, NULL, NULL, NULL), SPIFFE_ERR_ARG);
	spiffe_h2_free(&s);
	CHECK_INT(spiffe_h2_init(&s, SPIFFE_H2_CLIENT, NULL, NULL, &small),
		  SPIFFE_ERR_ARG);
	spiffe_h2_free(&s);
	CHECK_INT(spiffe_h2_init(&s, SPIFFE_H2_SERVER, NULL, NULL, &many),
		  SPIFFE_ERR_ARG);
	spiffe_h2_free(&s);
	/* no callbacks at all is fine */
	CHECK_INT(spiffe_h2_init(&s, SPIFFE_H2_SERVER, NULL, NULL, NULL), 0);
	spiffe_h2_free(&s);
	spiffe_h2_free(&s);
	memset(&s, 0, sizeof(s));
	spiffe_h2_free(&s);
}

int main(void)
{
	RUN(preface_and_settings_exchange);
	RUN(unary_request_response_with_trailers);
	RUN(byte_at_a_time);
	RUN(concurrent_streams);
	RUN(flow_control_one_mib_through_64k_windows);
	RUN(default_windows_hold_a_4mib_message);
	RUN(initial_window_change_adjusts_open_streams);
	RUN(peer_header_table_size_is_honoured);
	RUN(send_backpressure_and_room);
	RUN(ping_and_ack);
	RUN(goaway_lets_open_streams_finish);
	RUN(goaway_refuses_later_streams);
	RUN(continuation_reassembles);
	RUN(large_header_block_is_split);
	RUN(oversized_request_reported);
	RUN(self_dependency_before_oversized);
	RUN(reset_from_on_data_discards_rest);
	RUN(window_accounting_with_padding_and_reset);
	RUN(connection_errors_send_goaway_with_rfc_code);
	RUN(invalid_preface_and_first_frame);
	RUN(data_over_windows);
	RUN(stream_errors_send_rst_with_rfc_code);
	RUN(malformed_requests_are_reset);
	RUN(valid_request_forms_pass);
	RUN(response_rules_on_the_client);
	RUN(concurrency_limit_refuses_streams);
	RUN(header_block_limits);
	RUN(ignored_frames);
	RUN(ack_flood_is_bounded);
	RUN(submission_rules);
	RUN(options_are_checked);
	return test_summary();
}
