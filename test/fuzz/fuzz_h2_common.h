/*
 * fuzz_h2_common.h - what the two HTTP/2 fuzz targets share: an
 * application that answers, sends, consumes and resets as bytes steer
 * it, and invariants checked after every feed.
 */
#ifndef FUZZ_H2_COMMON_H
#define FUZZ_H2_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2.h"

#define HDR(n, v) { (const uint8_t *)(n), sizeof(n) - 1, \
	(const uint8_t *)(v), sizeof(v) - 1, 0 }

static const spiffe_header fz_req[] = {
	HDR(":method", "POST"), HDR(":scheme", "http"),
	HDR(":path", "/SpiffeWorkloadAPI/FetchX509SVID"),
	HDR(":authority", "localhost"),
	HDR("content-type", "application/grpc"),
	HDR("te", "trailers"), HDR("workload.spiffe.io", "true"),
};
static const spiffe_header fz_resp[] = {
	HDR(":status", "200"), HDR("content-type", "application/grpc"),
};
static const spiffe_header fz_trailers[] = {
	HDR("grpc-status", "0"),
};

struct fz {
	spiffe_h2_session s;
	unsigned opened;        /* streams opened from callbacks */
	uint32_t sink;          /* keeps reads of delivered bytes */
};

static void fz_touch(struct fz *x, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x->sink += p[i];
}

static void fz_headers(void *c, uint32_t id, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	struct fz *x = c;
	size_t acc;

	for (size_t i = 0; i < n; i++) {
		fz_touch(x, h[i].name, h[i].name_len);
		fz_touch(x, h[i].value, h[i].value_len);
	}
	if (x->s.role == SPIFFE_H2_SERVER && !(flags & SPIFFE_H2_TRAILERS)) {
		switch (id % 4) {
		case 1:
			if (spiffe_h2_submit_response(&x->s, id, fz_resp, 2,
						      0) == 0 &&
			    spiffe_h2_send_data(&x->s, id,
						(const uint8_t *)"\0\0\0\0\1a",
						6, 0, &acc) == 0)
				x->sink += spiffe_h2_submit_trailers(
					&x->s, id, fz_trailers, 1);
			break;
		case 3:
			x->sink += spiffe_h2_submit_response(&x->s, id,
							     fz_resp, 2, 0);
			break;
		}
	}
	if (id % 11 == 0)
		x->sink += spiffe_h2_reset(&x->s, id, SPIFFE_H2_CANCEL);
}

static void fz_data(void *c, uint32_t id, const uint8_t *p, size_t len,
		    int end)
{
	struct fz *x = c;
	size_t acc;

	fz_touch(x, p, len);
	if (spiffe_h2_consume(&x->s, id, len) != 0)
		abort();
	if (len > 0 && p[0] == 0xaa)
		x->sink += spiffe_h2_reset(&x->s, id, SPIFFE_H2_CANCEL);
	else if (len > 0 && p[0] == 0xbb)
		x->sink += spiffe_h2_send_data(&x->s, id, p, len, end, &acc);
}

static void fz_close(void *c, uint32_t id, uint32_t code)
{
	struct fz *x = c;
	uint32_t nid;

	x->sink += id + code;
	/* A client opens a replacement stream now and then. */
	if (x->s.role == SPIFFE_H2_CLIENT && x->opened < 8 && code == 0) {
		x->opened++;
		x->sink += spiffe_h2_submit_request(&x->s, fz_req, 7, 1, &nid);
	}
}

static void fz_goaway(void *c, uint32_t last, uint32_t code,
		      const uint8_t *dbg, size_t len)
{
	struct fz *x = c;

	fz_touch(x, dbg, len);
	x->sink += last + code;
}

static void fz_ping(void *c, const uint8_t *op)
{
	fz_touch(c, op, 8);
}

static const spiffe_h2_callbacks fz_cbs = {
	fz_headers, fz_data, fz_close, fz_goaway, fz_ping,
};

/* Drains output; checks what must hold whatever the peer sends. */
static void fz_drain(struct fz *x)
{
	const spiffe_h2_session *s = &x->s;
	const uint8_t *p;
	size_t len;

	if (spiffe_h2_output(&x->s, &p, &len) != 0)
		abort();
	fz_touch(x, p, len);
	if (spiffe_h2_output_consumed(&x->s, len) != 0)
		abort();
	/* Every received byte is returned once at most. */
	if (s->recv_window < 0 ||
	    s->recv_window + s->conn_unacked > s->local_conn_window)
		abort();
	if (s->nstreams > SPIFFE_H2_MAX_STREAMS || s->nclosed > s->nstreams)
		abort();
}

/*
 * Feeds d[1..n) in pieces whose size d[0] picks, draining output and
 * checking invariants after each.
 */
static void fz_run(struct fz *x, const uint8_t *d, size_t n)
{
	size_t step = n > 0 ? 1 + (size_t)d[0] * 67 : 1;

	for (size_t off = 1; off < n;) {
		size_t k = n - off < step ? n - off : step;
		int rc = spiffe_h2_feed(&x->s, d + off, k);
		fz_drain(x);
		if (rc != 0) {
			if (rc != SPIFFE_ERR_PROTOCOL &&
			    rc != SPIFFE_ERR_HPACK && rc != SPIFFE_ERR_NOMEM)
				abort();
			if (spiffe_h2_error_code(&x->s) == 0 ||
			    !spiffe_h2_done(&x->s))
				abort();
			break;
		}
		off += k;
	}
	fz_drain(x);
	fz_drain(x);
}

#endif
