/*
 * h2.c - HTTP/2 connection core (RFC 9113): framing, stream states, flow
 * control, header rules.  See h2.h for the model.
 */
#include "h2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our decoder must hold what a peer may use before it sees SETTINGS. */
_Static_assert(SPIFFE_HPACK_TABLE_SIZE >= 4096, "HPACK table below 4096");
_Static_assert(SPIFFE_H2_MAX_FRAME >= 16384 &&
	       SPIFFE_H2_MAX_SEND_FRAME >= 16384, "frames below 16384");
_Static_assert(SPIFFE_H2_MAX_OUTPUT >= SPIFFE_H2_OUTPUT_LOW +
	       SPIFFE_H2_MAX_HEADER_BLOCK + 9 * (SPIFFE_H2_MAX_HEADER_BLOCK /
						 16384 + 1),
	       "output buffer cannot hold a header block");

/* Frame types (section 6). */
enum {
	F_DATA = 0x0,
	F_HEADERS = 0x1,
	F_PRIORITY = 0x2,
	F_RST_STREAM = 0x3,
	F_SETTINGS = 0x4,
	F_PUSH_PROMISE = 0x5,
	F_PING = 0x6,
	F_GOAWAY = 0x7,
	F_WINDOW_UPDATE = 0x8,
	F_CONTINUATION = 0x9,
};

#define FL_END_STREAM 0x01
#define FL_ACK 0x01
#define FL_END_HEADERS 0x04
#define FL_PADDED 0x08
#define FL_PRIORITY 0x20

/* Settings (section 6.5.2, RFC 8441, RFC 9218). */
enum {
	S_HEADER_TABLE_SIZE = 0x1,
	S_ENABLE_PUSH = 0x2,
	S_MAX_CONCURRENT_STREAMS = 0x3,
	S_INITIAL_WINDOW_SIZE = 0x4,
	S_MAX_FRAME_SIZE = 0x5,
	S_MAX_HEADER_LIST_SIZE = 0x6,
	S_ENABLE_CONNECT_PROTOCOL = 0x8,
	S_NO_RFC7540_PRIORITIES = 0x9,
};

#define FRAME_HEAD 9
#define DEFAULT_WINDOW 65535
#define DEFAULT_TABLE 4096
#define MIN_MAX_FRAME 16384
#define MAX_MAX_FRAME 16777215
#define MAX_WINDOW 0x7fffffff
#define MAX_STREAM_ID 0x7fffffffu
#define KEEP_OUTPUT 4096            /* output kept allocated when idle */
#define KEEP_HBLOCK 4096            /* header block buffer kept */
#define GOAWAY_MSG 128              /* our message in GOAWAY debug data */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(preface) - 1)

enum { IN_PREFACE, IN_HEAD, IN_BODY };
/* Parts of a frame payload: pad length, priority, body, padding. */
enum { PH_PADLEN, PH_PRIO, PH_BODY, PH_PAD };
/* What a header block means for its stream. */
enum { HB_IGNORE, HB_NEW, HB_EXISTING, HB_CLOSED };
/* Where a stream's incoming message is. */
enum { RS_HEADERS, RS_BODY, RS_DONE };
/* Header section kinds for check_fields(). */
enum { K_REQUEST, K_RESPONSE, K_TRAILERS };

/* How an output write treats the SPIFFE_H2_MAX_OUTPUT cap. */
#define OUT_CAPPED 1    /* over the cap: refuse */
#define OUT_PEER 2      /* the peer caused it: failures end the connection */

struct spiffe_h2_stream {
	uint32_t id;
	uint32_t close_code;
	int64_t send_window;
	int64_t recv_window;
	uint32_t recv_unacked;          /* consumed, not yet in an update */
	uint32_t recv_unconsumed;       /* delivered, not yet consumed */
	int64_t content_length;         /* -1: none to check */
	uint64_t data_received;
	uint8_t *sq;                    /* queued DATA: sq[sq_off..+sq_len) */
	size_t sq_off, sq_len, sq_cap;
	uint8_t *trailers;              /* spiffe_header[ntrailers], bytes */
	size_t ntrailers;
	uint8_t recv_state;
	uint8_t local_closed;           /* END_STREAM or RST written */
	uint8_t remote_closed;          /* END_STREAM or RST received */
	uint8_t closed;                 /* gone; close not yet reported */
	uint8_t end_queued;             /* the application ended its side */
	uint8_t sent_final;             /* final headers written */
	uint8_t head;                   /* a HEAD request: no body checks */
};

/* --- small helpers ------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
		(uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_head(uint8_t *p, size_t len, uint8_t type, uint8_t flags,
		     uint32_t id)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	put32(p + 5, id & MAX_STREAM_ID);
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

static int bytes_eq(const uint8_t *a, size_t alen, const char *b,
		    size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

#define EQ(p, n, lit) bytes_eq(p, n, lit, sizeof(lit) - 1)

static void fail_msg(spiffe_h2_session *s, const char *fmt, va_list ap)
	SPIFFE_PRINTF(2, 0);
static void fail_msg(spiffe_h2_session *s, const char *fmt, va_list ap)
{
	vsnprintf(s->eb.msg, sizeof(s->eb.msg), fmt, ap);
}

/* Records why a submission was refused and returns err. */
static int refuse(spiffe_h2_session *s, int err, const char *fmt, ...)
	SPIFFE_PRINTF(3, 4);
static int refuse(spiffe_h2_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fail_msg(s, fmt, ap);
	va_end(ap);
	return err;
}

/* --- output -------------------------------------------------------------- */

/* Makes room for n more output bytes under the given policy. */
static int out_room(spiffe_h2_session *s, size_t n, int policy)
{
	size_t pending = s->out_len - s->out_off, cap;
	uint8_t *nb;

	if ((policy & OUT_CAPPED) && (pending > SPIFFE_H2_MAX_OUTPUT ||
				      n > SPIFFE_H2_MAX_OUTPUT - pending))
		return SPIFFE_ERR_AGAIN;
	if (s->out_cap - s->out_len >= n)
		return 0;
	if (s->out_off > 0) {
		memmove(s->out, s->out + s->out_off, pending);
		s->out_off = 0;
		s->out_len = pending;
		if (s->out_cap - pending >= n)
			return 0;
	}
	cap = s->out_cap ? s->out_cap : 4096;
	while (cap - pending < n) {
		if (cap > SIZE_MAX / 2)
			return SPIFFE_ERR_NOMEM;
		cap *= 2;
	}
	nb = realloc(s->out, cap);
	if (nb == NULL)
		return SPIFFE_ERR_NOMEM;
	s->out = nb;
	s->out_cap = cap;
	return 0;
}

static int conn_error(spiffe_h2_session *s, uint32_t code, int err,
		      const char *fmt, ...) SPIFFE_PRINTF(4, 5);

/* Writes one frame; see OUT_CAPPED and OUT_PEER. */
static int emit(spiffe_h2_session *s, uint8_t type, uint8_t flags,
		uint32_t id, const uint8_t *p, size_t len, int policy)
{
	int rc = out_room(s, FRAME_HEAD + len, policy);

	if (rc != 0 && (policy & OUT_PEER)) {
		if (rc == SPIFFE_ERR_AGAIN)
			return conn_error(s, SPIFFE_H2_ENHANCE_YOUR_CALM,
					  SPIFFE_ERR_PROTOCOL,
					  "peer sends faster than output "
					  "drains (over %u bytes queued)",
					  SPIFFE_H2_MAX_OUTPUT);
		return conn_error(s, SPIFFE_H2_INTERNAL_ERROR,
				  SPIFFE_ERR_NOMEM, "out of memory");
	}
	if (rc != 0)
		return rc;
	put_head(s->out + s->out_len, len, type, flags, id);
	if (len > 0)
		memcpy(s->out + s->out_len + FRAME_HEAD, p, len);
	s->out_len += FRAME_HEAD + len;
	return 0;
}

/*
 * Ends the connection: GOAWAY with code and the message as debug data.
 * Returns err, which feed returns from now on.
 */
static int conn_error(spiffe_h2_session *s, uint32_t code, int err,
		      const char *fmt, ...)
{
	uint8_t g[8 + GOAWAY_MSG];
	va_list ap;
	size_t n;

	if (s->dead)
		return s->dead_err;
	va_start(ap, fmt);
	fail_msg(s, fmt, ap);
	va_end(ap);
	s->dead = 1;
	s->dead_err = err;
	s->dead_code = code;
	s->goaway_sent = 1;
	put32(g, s->last_peer_id);
	put32(g + 4, code);
	n = strlen(s->eb.msg);
	if (n > GOAWAY_MSG)
		n = GOAWAY_MSG;
	memcpy(g + 8, s->eb.msg, n);
	/* Best effort: without memory the peer sees the transport close. */
	(void)emit(s, F_GOAWAY, 0, 0, g, 8 + n, 0);
	return err;
}

/* --- streams ------------------------------------------------------------- */

static struct spiffe_h2_stream *find(const spiffe_h2_session *s, uint32_t id)
{
	for (size_t i = 0; i < s->nstreams; i++) {
		struct spiffe_h2_stream *st = s->streams[i];
		if (st->id == id && !st->closed)
			return st;
	}
	return NULL;
}

static size_t open_count(const spiffe_h2_session *s)
{
	return s->nstreams - s->nclosed;
}

/* A stream id the peer or we could still open: never used yet. */
static int is_idle(const spiffe_h2_session *s, uint32_t id)
{
	int peers = s->role == SPIFFE_H2_SERVER ? (id & 1) : !(id & 1);

	if (peers)
		return id > s->last_peer_id;
	/* A server opens no streams (no push); a client opens odd ones. */
	return s->role == SPIFFE_H2_SERVER || id >= s->next_id;
}

static struct spiffe_h2_stream *stream_alloc(spiffe_h2_session *s,
					     uint32_t id)
{
	struct spiffe_h2_stream *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->id = id;
	st->send_window = s->peer_initial_window;
	st->recv_window = s->local_window;
	st->content_length = -1;
	return st;
}

/*
 * Marks st closed and drops what it holds; the close is reported by the
 * next sweep().  Delivered bytes nobody will consume now go back to the
 * connection window.
 */
static void stream_close(spiffe_h2_session *s, struct spiffe_h2_stream *st,
			 uint32_t code)
{
	if (st->closed)
		return;
	st->closed = 1;
	st->close_code = code;
	s->nclosed++;
	free(st->sq);
	st->sq = NULL;
	st->sq_off = st->sq_len = st->sq_cap = 0;
	free(st->trailers);
	st->trailers = NULL;
	st->ntrailers = 0;
	s->conn_unacked += st->recv_unconsumed;
	st->recv_unconsumed = 0;
}

static void maybe_close(spiffe_h2_session *s, struct spiffe_h2_stream *st)
{
	if (st->local_closed && st->remote_closed)
		stream_close(s, st, SPIFFE_H2_NO_ERROR);
}

/* Reports and frees closed streams; callbacks may close more. */
static void sweep(spiffe_h2_session *s)
{
	while (s->nclosed > 0) {
		size_t i = 0;
		while (i < s->nstreams && !s->streams[i]->closed)
			i++;
		if (i == s->nstreams)
			break;
		struct spiffe_h2_stream *st = s->streams[i];
		uint32_t id = st->id, code = st->close_code;
		s->streams[i] = s->streams[--s->nstreams];
		s->nclosed--;
		free(st);
		if (s->cb.on_stream_close != NULL) {
			s->in_callback = 1;
			s->cb.on_stream_close(s->ctx, id, code);
			s->in_callback = 0;
		}
	}
}

/* RST_STREAM(code) for id and close the stream if we know it. */
static int stream_error(spiffe_h2_session *s, uint32_t id, uint32_t code)
{
	uint8_t p[4];
	struct spiffe_h2_stream *st = find(s, id);
	int rc;

	put32(p, code);
	rc = emit(s, F_RST_STREAM, 0, id, p, 4, OUT_CAPPED | OUT_PEER);
	if (rc != 0)
		return rc;
	if (st != NULL)
		stream_close(s, st, code);
	return 0;
}

/* --- flow control -------------------------------------------------------- */

/* Sends the connection WINDOW_UPDATE once half the window is consumed. */
static int update_conn(spiffe_h2_session *s, int policy)
{
	uint8_t p[4];
	int rc;

	if (s->dead || s->conn_unacked == 0 ||
	    s->conn_unacked < s->local_conn_window / 2)
		return 0;
	put32(p, s->conn_unacked);
	rc = emit(s, F_WINDOW_UPDATE, 0, 0, p, 4, policy);
	if (rc != 0)
		return rc;
	s->recv_window += s->conn_unacked;
	s->conn_unacked = 0;
	return 0;
}

static int update_stream(spiffe_h2_session *s, struct spiffe_h2_stream *st,
			 int policy)
{
	uint8_t p[4];
	int rc;

	if (s->dead || st->remote_closed || st->closed ||
	    st->recv_unacked == 0 || st->recv_unacked < s->local_window / 2)
		return 0;
	put32(p, st->recv_unacked);
	rc = emit(s, F_WINDOW_UPDATE, 0, st->id, p, 4, policy);
	if (rc != 0)
		return rc;
	st->recv_window += st->recv_unacked;
	st->recv_unacked = 0;
	return 0;
}

static int update_all(spiffe_h2_session *s, int policy)
{
	int rc = update_conn(s, policy);

	for (size_t i = 0; rc == 0 && i < s->nstreams; i++)
		rc = update_stream(s, s->streams[i], policy);
	return rc;
}

/* --- header rules (section 8) -------------------------------------------- */

struct hinfo {
	int status;             /* :status of a response */
	int64_t content_length; /* -1 when absent */
	int head;               /* :method is HEAD */
};

/* A regular field name: no controls, space, uppercase, colon, DEL+. */
static int name_ok(const uint8_t *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c <= 0x20 || (c >= 'A' && c <= 'Z') || c >= 0x7f ||
		    c == ':')
			return 0;
	}
	return 1;
}

/* A field value: no NUL, CR, LF; no leading or trailing SP or HTAB. */
static int value_ok(const uint8_t *p, size_t n)
{
	if (n > 0 && (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
		      p[n - 1] == '\t'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || p[i] == '\n' || p[i] == '\r')
			return 0;
	return 1;
}

static int parse_decimal(const uint8_t *p, size_t n, int64_t *v)
{
	int64_t x = 0;

	if (n == 0 || n > 18)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		x = x * 10 + (p[i] - '0');
	}
	*v = x;
	return 1;
}

/*
 * Checks a header section of the given kind against RFC 9113 sections
 * 8.2 and 8.3 and fills *hi.  Returns NULL or why it is malformed.
 */
static const char *check_fields(const spiffe_header *h, size_t n, int kind,
				struct hinfo *hi)
{
	enum { P_METHOD = 1, P_SCHEME = 2, P_AUTHORITY = 4, P_PATH = 8,
	       P_STATUS = 16 };
	const spiffe_header *method = NULL, *scheme = NULL, *path = NULL;
	unsigned seen = 0;
	int regular = 0;

	hi->status = 0;
	hi->content_length = -1;
	hi->head = 0;
	for (size_t i = 0; i < n; i++) {
		const spiffe_header *f = &h[i];
		const uint8_t *nm = f->name;
		size_t nl = f->name_len;

		if (!value_ok(f->value, f->value_len))
			return "invalid field value";
		if (nl > 0 && nm[0] == ':') {
			unsigned bit = 0;
			if (regular)
				return "pseudo-header after regular field";
			if (kind == K_REQUEST) {
				if (EQ(nm, nl, ":method")) {
					bit = P_METHOD;
					method = f;
				} else if (EQ(nm, nl, ":scheme")) {
					bit = P_SCHEME;
					scheme = f;
				} else if (EQ(nm, nl, ":authority")) {
					bit = P_AUTHORITY;
				} else if (EQ(nm, nl, ":path")) {
					bit = P_PATH;
					path = f;
				}
			} else if (kind == K_RESPONSE &&
				   EQ(nm, nl, ":status")) {
				bit = P_STATUS;
			}
			if (bit == 0)
				return kind == K_TRAILERS ?
					"pseudo-header field in trailers" :
					"unknown pseudo-header field";
			if (seen & bit)
				return "duplicate pseudo-header field";
			seen |= bit;
			if (bit == P_STATUS) {
				int64_t v;
				if (f->value_len != 3 ||
				    !parse_decimal(f->value, 3, &v) ||
				    v < 100)
					return "invalid :status";
				hi->status = (int)v;
			}
			continue;
		}
		regular = 1;
		if (!name_ok(nm, nl))
			return "invalid field name";
		if (EQ(nm, nl, "connection") ||
		    EQ(nm, nl, "proxy-connection") ||
		    EQ(nm, nl, "keep-alive") ||
		    EQ(nm, nl, "transfer-encoding") ||
		    EQ(nm, nl, "upgrade"))
			return "connection-specific field";
		/* TE is connection-specific except in requests (8.2.2). */
		if (EQ(nm, nl, "te") && (kind != K_REQUEST ||
					 !EQ(f->value, f->value_len,
					     "trailers")))
			return "te other than trailers in a request";
		if (EQ(nm, nl, "content-length")) {
			int64_t v;
			if (!parse_decimal(f->value, f->value_len, &v))
				return "invalid content-length";
			if (hi->content_length >= 0 && hi->content_length != v)
				return "conflicting content-length";
			hi->content_length = v;
		}
	}
	if (kind == K_REQUEST) {
		if (method == NULL)
			return "missing :method";
		if (EQ(method->value, method->value_len, "CONNECT")) {
			if (!(seen & P_AUTHORITY) ||
			    (seen & (P_SCHEME | P_PATH)))
				return "malformed CONNECT request";
			return NULL;
		}
		if (scheme == NULL || path == NULL)
			return "missing :scheme or :path";
		if (EQ(scheme->value, scheme->value_len, "http") ||
		    EQ(scheme->value, scheme->value_len, "https")) {
			if (path->value_len == 0)
				return "empty :path";
			if (path->value[0] != '/' &&
			    !(EQ(path->value, path->value_len, "*") &&
			      EQ(method->value, method->value_len, "OPTIONS")))
				return "invalid :path";
		}
		hi->head = EQ(method->value, method->value_len, "HEAD");
	} else if (kind == K_RESPONSE) {
		if (!(seen & P_STATUS))
			return "missing :status";
		if (hi->status == 101)
			return ":status 101 is not allowed in HTTP/2";
	}
	return NULL;
}

/* RFC 9113 section 6.5.2 size of a header list. */
static uint64_t list_size(const spiffe_header *h, size_t n)
{
	uint64_t size = 0;

	for (size_t i = 0; i < n; i++)
		size += (uint64_t)h[i].name_len + h[i].value_len +
			SPIFFE_HPACK_ENTRY_OVERHEAD;
	return size;
}

/* --- writing header blocks ----------------------------------------------- */

static size_t send_frame_max(const spiffe_h2_session *s)
{
	return min_size(s->peer_max_frame, SPIFFE_H2_MAX_SEND_FRAME);
}

/* Refuses lists the peer said it would not take, or over our limits. */
static int list_fits(spiffe_h2_session *s, const spiffe_header *h, size_t n)
{
	size_t bound = spiffe_hpack_encode_bound(h, n);

	if (bound == SIZE_MAX || bound > SPIFFE_H2_MAX_HEADER_BLOCK)
		return refuse(s, SPIFFE_ERR_LIMIT, "header list over %u bytes",
			      SPIFFE_H2_MAX_HEADER_BLOCK);
	if (list_size(h, n) > s->peer_max_header_list)
		return refuse(s, SPIFFE_ERR_LIMIT,
			      "header list over the peer's limit of %u bytes",
			      s->peer_max_header_list);
	return 0;
}

/*
 * Encodes h[0..n) and writes HEADERS plus CONTINUATION frames for stream
 * id.  The block is encoded in place after room for the first frame
 * header; when it needs more frames, the chunks move up (last first) to
 * make room for their headers.
 */
static int write_headers(spiffe_h2_session *s, uint32_t id,
			 const spiffe_header *h, size_t n, int end_stream)
{
	size_t bound = spiffe_hpack_encode_bound(h, n);
	size_t fm = send_frame_max(s), blen, k;
	uint8_t es = end_stream ? FL_END_STREAM : 0;
	uint8_t *base;
	int rc;

	if (bound == SIZE_MAX || bound > SPIFFE_H2_MAX_HEADER_BLOCK)
		return SPIFFE_ERR_LIMIT;
	rc = out_room(s, bound + FRAME_HEAD * (bound / fm + 1), OUT_CAPPED);
	if (rc != 0)
		return rc;
	base = s->out + s->out_len;
	rc = spiffe_hpack_encode(&s->enc, h, n, base + FRAME_HEAD, bound,
				 &blen);
	if (rc != 0)
		return rc;
	if (blen <= fm) {
		put_head(base, blen, F_HEADERS, FL_END_HEADERS | es, id);
		s->out_len += FRAME_HEAD + blen;
		return 0;
	}
	k = (blen + fm - 1) / fm;
	for (size_t i = k - 1; i >= 1; i--) {
		size_t len = i == k - 1 ? blen - i * fm : fm;
		uint8_t *dst = base + i * (FRAME_HEAD + fm) + FRAME_HEAD;
		memmove(dst, base + FRAME_HEAD + i * fm, len);
		put_head(dst - FRAME_HEAD, len, F_CONTINUATION,
			 i == k - 1 ? FL_END_HEADERS : 0, id);
	}
	put_head(base, fm, F_HEADERS, es, id);
	s->out_len += blen + k * FRAME_HEAD;
	return 0;
}

/* --- sending DATA -------------------------------------------------------- */

static void local_end(spiffe_h2_session *s, struct spiffe_h2_stream *st)
{
	st->local_closed = 1;
	maybe_close(s, st);
}

/*
 * Writes the next frame of st's send side if windows and output room
 * allow: DATA, then trailers, or an empty END_STREAM DATA.  Returns 1 if
 * it wrote one, 0 if st has nothing it can send now, or an error.
 */
static int send_one(spiffe_h2_session *s, struct spiffe_h2_stream *st)
{
	int rc;

	if (st->closed || st->local_closed || !st->sent_final)
		return 0;
	if (st->sq_len > 0) {
		int64_t w = st->send_window < s->send_window ?
			st->send_window : s->send_window;
		size_t n = min_size(st->sq_len, send_frame_max(s));
		if (w <= 0)
			return 0;
		n = min_size(n, (size_t)w);
		int end = n == st->sq_len && st->end_queued &&
			st->trailers == NULL;
		rc = emit(s, F_DATA, end ? FL_END_STREAM : 0, st->id,
			  st->sq + st->sq_off, n, OUT_CAPPED);
		if (rc == SPIFFE_ERR_AGAIN)
			return 0;
		if (rc != 0)
			return rc;
		st->sq_off += n;
		st->sq_len -= n;
		st->send_window -= (int64_t)n;
		s->send_window -= (int64_t)n;
		if (st->sq_len == 0) {
			free(st->sq);
			st->sq = NULL;
			st->sq_off = st->sq_cap = 0;
		}
		if (end)
			local_end(s, st);
		return 1;
	}
	if (st->trailers != NULL) {
		rc = write_headers(s, st->id,
				   (const spiffe_header *)(void *)st->trailers,
				   st->ntrailers, 1);
		if (rc == SPIFFE_ERR_AGAIN)
			return 0;
		if (rc != 0)
			return rc;
		free(st->trailers);
		st->trailers = NULL;
		st->ntrailers = 0;
		local_end(s, st);
		return 1;
	}
	if (st->end_queued) {
		rc = emit(s, F_DATA, FL_END_STREAM, st->id, NULL, 0,
			  OUT_CAPPED);
		if (rc == SPIFFE_ERR_AGAIN)
			return 0;
		if (rc != 0)
			return rc;
		local_end(s, st);
		return 1;
	}
	return 0;
}

/* Frames DATA round-robin, one frame a stream a turn, up to low water. */
static int schedule(spiffe_h2_session *s)
{
	size_t idle = 0;

	while (s->nstreams > 0 && idle < s->nstreams &&
	       s->out_len - s->out_off < SPIFFE_H2_OUTPUT_LOW) {
		size_t i = s->rr % s->nstreams;
		int rc = send_one(s, s->streams[i]);
		s->rr = i + 1;
		if (rc < 0)
			return rc;
		idle = rc ? 0 : idle + 1;
	}
	return 0;
}

/* --- receiving: frame parts ---------------------------------------------- */

static int enter_body(spiffe_h2_session *s);

/* After the frame header: pad length, priority or the body comes next. */
static int start_payload(spiffe_h2_session *s)
{
	if (s->f_flags & FL_PADDED) {
		s->f_phase = PH_PADLEN;
		return 0;
	}
	if (s->f_type == F_HEADERS && (s->f_flags & FL_PRIORITY)) {
		s->f_phase = PH_PRIO;
		return 0;
	}
	return enter_body(s);
}

/* Skips the rest of the frame. */
static void skip_payload(spiffe_h2_session *s)
{
	s->f_skip = 1;
	s->f_phase = PH_PAD;
}

/* DATA on a stream we will not deliver: its bytes return at once. */
static int data_discard(spiffe_h2_session *s)
{
	s->conn_unacked += s->f_len;
	skip_payload(s);
	return 0;
}

static int data_begin(spiffe_h2_session *s)
{
	uint32_t id = s->f_stream;
	struct spiffe_h2_stream *st;
	int rc;

	if (id == 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "DATA on stream 0");
	if ((s->f_flags & FL_PADDED) && s->f_len < 1)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "padded DATA without pad length");
	if (is_idle(s, id))
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "DATA on idle stream %u", id);
	if (s->f_len > s->recv_window)
		return conn_error(s, SPIFFE_H2_FLOW_CONTROL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "DATA of %u bytes exceeds the connection "
				  "window (%lld)", s->f_len,
				  (long long)s->recv_window);
	s->recv_window -= s->f_len;
	st = find(s, id);
	if (st == NULL)         /* closed: ignore (section 5.1) */
		return data_discard(s);
	if (st->remote_closed)
		rc = stream_error(s, id, SPIFFE_H2_STREAM_CLOSED);
	else if (st->recv_state != RS_BODY)
		rc = stream_error(s, id, SPIFFE_H2_PROTOCOL_ERROR);
	else if (s->f_len > st->recv_window)
		rc = stream_error(s, id, SPIFFE_H2_FLOW_CONTROL_ERROR);
	else {
		st->recv_window -= s->f_len;
		return start_payload(s);
	}
	return rc != 0 ? rc : data_discard(s);
}

/* The DATA body length is known: check content-length, drop padding. */
static int data_start(spiffe_h2_session *s)
{
	struct spiffe_h2_stream *st = find(s, s->f_stream);
	uint32_t len = s->f_left - s->f_pad, overhead = s->f_len - len;
	int rc;

	if (st == NULL)         /* reset since the frame header */
		return data_discard(s);
	if (st->content_length >= 0 &&
	    (len > (uint64_t)st->content_length - st->data_received ||
	     ((s->f_flags & FL_END_STREAM) &&
	      st->data_received + len != (uint64_t)st->content_length))) {
		rc = stream_error(s, s->f_stream, SPIFFE_H2_PROTOCOL_ERROR);
		return rc != 0 ? rc : data_discard(s);
	}
	st->data_received += len;
	/* Padding never reaches the application: consumed now. */
	st->recv_unacked += overhead;
	s->conn_unacked += overhead;
	return 0;
}

static int data_chunk(spiffe_h2_session *s, const uint8_t *p, size_t n)
{
	uint32_t id = s->f_stream;
	struct spiffe_h2_stream *st = find(s, id);
	int end = (s->f_flags & FL_END_STREAM) && n == s->f_left;

	/*
	 * A stream reset by the application drops the rest of its data;
	 * those bytes return to the connection window (padding did).
	 */
	if (st == NULL) {
		s->conn_unacked += s->f_left - s->f_pad;
		s->f_skip = 1;
		return 0;
	}
	st->recv_unconsumed += (uint32_t)n;
	if (end) {
		st->remote_closed = 1;
		s->f_end_done = 1;
	}
	if (s->cb.on_data != NULL) {
		s->in_callback = 1;
		s->cb.on_data(s->ctx, id, p, n, end);
		s->in_callback = 0;
	}
	st = find(s, id);
	if (st == NULL) {
		s->conn_unacked += s->f_left - s->f_pad - (uint32_t)n;
		s->f_skip = 1;
	} else if (end) {
		maybe_close(s, st);
	}
	return 0;
}

static int data_end(spiffe_h2_session *s)
{
	uint32_t id = s->f_stream;
	struct spiffe_h2_stream *st = find(s, id);

	if (s->f_skip || st == NULL || !(s->f_flags & FL_END_STREAM) ||
	    s->f_end_done)
		return 0;
	st->remote_closed = 1;
	if (s->cb.on_data != NULL) {
		s->in_callback = 1;
		s->cb.on_data(s->ctx, id, (const uint8_t *)"", 0, 1);
		s->in_callback = 0;
	}
	st = find(s, id);
	if (st != NULL)
		maybe_close(s, st);
	return 0;
}

/* --- receiving: header blocks -------------------------------------------- */

static int headers_begin(spiffe_h2_session *s)
{
	uint32_t id = s->f_stream, need = 0;
	struct spiffe_h2_stream *st;

	if (id == 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "HEADERS on stream 0");
	if (s->f_flags & FL_PADDED)
		need += 1;
	if (s->f_flags & FL_PRIORITY)
		need += 5;
	if (s->f_len < need)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "HEADERS of %u bytes too short", s->f_len);
	st = find(s, id);
	if (st != NULL) {
		s->h_disp = st->remote_closed ? HB_CLOSED : HB_EXISTING;
	} else if (s->role == SPIFFE_H2_SERVER && (id & 1) &&
		   id > s->last_peer_id) {
		s->last_peer_id = id;
		/* After our GOAWAY new streams are not processed. */
		s->h_disp = s->goaway_sent ? HB_IGNORE : HB_NEW;
	} else if (is_idle(s, id)) {
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "HEADERS on stream %u the %s may not open",
				  id, s->role == SPIFFE_H2_SERVER ?
				  "client" : "server");
	} else {
		s->h_disp = HB_IGNORE;  /* closed stream */
	}
	s->h_stream = id;
	s->h_flags = s->f_flags;
	s->h_selfdep = 0;
	s->h_cont = 0;
	s->h_pending = 1;
	s->hlen = 0;
	return start_payload(s);
}

static int continuation_begin(spiffe_h2_session *s)
{
	if (!s->h_pending)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "CONTINUATION without HEADERS");
	if (++s->h_cont > SPIFFE_H2_MAX_CONTINUATION)
		return conn_error(s, SPIFFE_H2_ENHANCE_YOUR_CALM,
				  SPIFFE_ERR_PROTOCOL,
				  "more than %u CONTINUATION frames",
				  SPIFFE_H2_MAX_CONTINUATION);
	return enter_body(s);
}

/* Room in the block buffer for this frame's fragment. */
static int block_start(spiffe_h2_session *s)
{
	size_t frag = s->f_left - s->f_pad;

	if (frag > SPIFFE_H2_MAX_HEADER_BLOCK - s->hlen)
		return conn_error(s, SPIFFE_H2_ENHANCE_YOUR_CALM,
				  SPIFFE_ERR_PROTOCOL,
				  "header block over %u bytes",
				  SPIFFE_H2_MAX_HEADER_BLOCK);
	if (s->hlen + frag > s->hcap) {
		size_t cap = s->hlen + frag;
		uint8_t *nb = realloc(s->hblock, cap);
		if (nb == NULL)
			return conn_error(s, SPIFFE_H2_INTERNAL_ERROR,
					  SPIFFE_ERR_NOMEM, "out of memory");
		s->hblock = nb;
		s->hcap = cap;
	}
	return 0;
}

static void deliver_headers(spiffe_h2_session *s, uint32_t id,
			    const spiffe_header *h, size_t n, unsigned flags)
{
	if (s->cb.on_headers == NULL)
		return;
	s->in_callback = 1;
	s->cb.on_headers(s->ctx, id, h, n, flags);
	s->in_callback = 0;
}

/* Request headers opening a stream (server). */
static int request_headers(spiffe_h2_session *s, uint32_t id,
			   const spiffe_header *h, size_t n, int end)
{
	struct spiffe_h2_stream *st;
	struct hinfo hi;

	if (open_count(s) >= s->local_max_streams ||
	    s->nstreams == SPIFFE_H2_MAX_STREAMS)
		return stream_error(s, id, SPIFFE_H2_REFUSED_STREAM);
	if (check_fields(h, n, K_REQUEST, &hi) != NULL ||
	    (end && hi.content_length > 0))
		return stream_error(s, id, SPIFFE_H2_PROTOCOL_ERROR);
	st = stream_alloc(s, id);
	if (st == NULL)
		return conn_error(s, SPIFFE_H2_INTERNAL_ERROR,
				  SPIFFE_ERR_NOMEM, "out of memory");
	s->streams[s->nstreams++] = st;
	st->recv_state = RS_BODY;
	st->content_length = hi.content_length;
	st->remote_closed = end ? 1 : 0;
	deliver_headers(s, id, h, n, end ? SPIFFE_H2_END_STREAM : 0);
	return 0;
}

/*
 * Request headers opening a stream (server) whose list was over our
 * limits: opened all the same, so the application can answer, with no
 * fields (report_oversized).
 */
static int request_oversized(spiffe_h2_session *s, uint32_t id, int end)
{
	struct spiffe_h2_stream *st;

	if (open_count(s) >= s->local_max_streams ||
	    s->nstreams == SPIFFE_H2_MAX_STREAMS)
		return stream_error(s, id, SPIFFE_H2_REFUSED_STREAM);
	st = stream_alloc(s, id);
	if (st == NULL)
		return conn_error(s, SPIFFE_H2_INTERNAL_ERROR,
				  SPIFFE_ERR_NOMEM, "out of memory");
	s->streams[s->nstreams++] = st;
	st->recv_state = RS_BODY;
	st->remote_closed = end ? 1 : 0;
	deliver_headers(s, id, NULL, 0, SPIFFE_H2_OVERSIZED |
			(end ? SPIFFE_H2_END_STREAM : 0));
	return 0;
}

/* Response headers (client) or trailers on a stream we know. */
static int stream_headers(spiffe_h2_session *s, struct spiffe_h2_stream *st,
			  const spiffe_header *h, size_t n, int end)
{
	uint32_t id = st->id;
	unsigned flags = end ? SPIFFE_H2_END_STREAM : 0;
	struct hinfo hi;

	if (st->recv_state == RS_HEADERS) {
		if (check_fields(h, n, K_RESPONSE, &hi) != NULL)
			return stream_error(s, id, SPIFFE_H2_PROTOCOL_ERROR);
		if (hi.status < 200) {
			if (end)
				return stream_error(s, id,
						    SPIFFE_H2_PROTOCOL_ERROR);
		} else {
			st->recv_state = RS_BODY;
			if (!st->head && hi.status != 304)
				st->content_length = hi.content_length;
			if (end && st->content_length > 0)
				return stream_error(s, id,
						    SPIFFE_H2_PROTOCOL_ERROR);
		}
	} else {
		if (!end || check_fields(h, n, K_TRAILERS, &hi) != NULL ||
		    (st->content_length >= 0 &&
		     st->data_received != (uint64_t)st->content_length))
			return stream_error(s, id, SPIFFE_H2_PROTOCOL_ERROR);
		st->recv_state = RS_DONE;
		flags |= SPIFFE_H2_TRAILERS;
	}
	if (end)
		st->remote_closed = 1;
	deliver_headers(s, id, h, n, flags);
	st = find(s, id);
	if (st != NULL)
		maybe_close(s, st);
	return 0;
}

/* A complete header block: decode, check, deliver. */
static int block_done(spiffe_h2_session *s)
{
	const size_t fbytes = SPIFFE_H2_MAX_HEADERS * sizeof(spiffe_header);
	uint8_t *mem = malloc(fbytes + SPIFFE_H2_MAX_HEADER_LIST);
	spiffe_header *h = (spiffe_header *)(void *)mem;
	struct spiffe_h2_stream *st;
	uint32_t id = s->h_stream;
	int end = s->h_flags & FL_END_STREAM;
	size_t n = 0;
	int rc, dec;

	if (mem == NULL)
		return conn_error(s, SPIFFE_H2_INTERNAL_ERROR,
				  SPIFFE_ERR_NOMEM, "out of memory");
	dec = spiffe_hpack_decode(&s->dec, s->hblock, s->hlen, h,
				  SPIFFE_H2_MAX_HEADERS, &n, mem + fbytes,
				  SPIFFE_H2_MAX_HEADER_LIST);
	s->hlen = 0;
	if (s->hcap > KEEP_HBLOCK) {
		free(s->hblock);
		s->hblock = NULL;
		s->hcap = 0;
	}
	if (dec == SPIFFE_ERR_HPACK) {
		free(mem);
		return conn_error(s, SPIFFE_H2_COMPRESSION_ERROR,
				  SPIFFE_ERR_HPACK,
				  "HPACK decoding failed on stream %u", id);
	}
	st = find(s, id);
	if (s->h_disp == HB_IGNORE)
		rc = 0;
	else if (s->h_disp == HB_CLOSED)
		rc = stream_error(s, id, SPIFFE_H2_STREAM_CLOSED);
	else if (s->h_selfdep)
		rc = stream_error(s, id, SPIFFE_H2_PROTOCOL_ERROR);
	else if (dec != 0 && s->h_disp == HB_NEW && s->report_oversized)
		rc = request_oversized(s, id, end);
	else if (dec != 0)      /* over our limits; grpc-go's code for it */
		rc = stream_error(s, id, SPIFFE_H2_FRAME_SIZE_ERROR);
	else if (s->h_disp == HB_NEW)
		rc = request_headers(s, id, h, n, end);
	else if (st != NULL)
		rc = stream_headers(s, st, h, n, end);
	else
		rc = 0;         /* reset while its block was arriving */
	free(mem);
	return rc;
}

/* --- receiving: control frames ------------------------------------------- */

static int settings_begin(spiffe_h2_session *s)
{
	if (s->f_stream != 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "SETTINGS on stream %u", s->f_stream);
	if ((s->f_flags & FL_ACK) && s->f_len != 0)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "SETTINGS ACK with %u bytes", s->f_len);
	if (s->f_len % 6 != 0)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "SETTINGS of %u bytes", s->f_len);
	return enter_body(s);
}

static int apply_setting(spiffe_h2_session *s, uint16_t id, uint32_t v)
{
	switch (id) {
	case S_HEADER_TABLE_SIZE:
		spiffe_hpack_enc_set_limit(&s->enc, v);
		break;
	case S_ENABLE_PUSH:
		if (v > 1 || (v == 1 && s->role == SPIFFE_H2_CLIENT))
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "SETTINGS_ENABLE_PUSH %u", v);
		break;
	case S_MAX_CONCURRENT_STREAMS:
		s->peer_max_streams = v;
		break;
	case S_INITIAL_WINDOW_SIZE: {
		int64_t delta = (int64_t)v - s->peer_initial_window;
		if (v > MAX_WINDOW)
			return conn_error(s, SPIFFE_H2_FLOW_CONTROL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "SETTINGS_INITIAL_WINDOW_SIZE %u",
					  v);
		for (size_t i = 0; i < s->nstreams; i++)
			if (s->streams[i]->send_window + delta > MAX_WINDOW)
				return conn_error(
					s, SPIFFE_H2_FLOW_CONTROL_ERROR,
					SPIFFE_ERR_PROTOCOL,
					"SETTINGS_INITIAL_WINDOW_SIZE %u "
					"overflows stream %u", v,
					s->streams[i]->id);
		for (size_t i = 0; i < s->nstreams; i++)
			s->streams[i]->send_window += delta;
		s->peer_initial_window = v;
		break;
	}
	case S_MAX_FRAME_SIZE:
		if (v < MIN_MAX_FRAME || v > MAX_MAX_FRAME)
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "SETTINGS_MAX_FRAME_SIZE %u", v);
		s->peer_max_frame = v;
		break;
	case S_MAX_HEADER_LIST_SIZE:
		s->peer_max_header_list = v;
		break;
	case S_ENABLE_CONNECT_PROTOCOL:
	case S_NO_RFC7540_PRIORITIES:
		if (v > 1)
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "SETTINGS 0x%x value %u", id, v);
		break;
	default:                /* unknown settings are ignored */
		break;
	}
	return 0;
}

/* Collects up to want payload bytes into fbuf; 1 when it has them. */
static int gather(spiffe_h2_session *s, const uint8_t *p, size_t n,
		  size_t want)
{
	size_t k = min_size(n, want - s->fbuf_got);

	memcpy(s->fbuf + s->fbuf_got, p, k);
	s->fbuf_got += k;
	return s->fbuf_got == want;
}

static int settings_chunk(spiffe_h2_session *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		size_t k = min_size(n, 6 - s->fbuf_got);
		if (gather(s, p, k, 6)) {
			int rc = apply_setting(s, (uint16_t)(s->fbuf[0] << 8 |
							     s->fbuf[1]),
					       get32(s->fbuf + 2));
			if (rc != 0)
				return rc;
			s->fbuf_got = 0;
		}
		p += k;
		n -= k;
	}
	return 0;
}

static int fixed_begin(spiffe_h2_session *s, uint32_t len, int on_stream0,
		       const char *name)
{
	if (on_stream0 && s->f_stream != 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "%s on stream %u",
				  name, s->f_stream);
	if (!on_stream0 && s->f_stream == 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "%s on stream 0", name);
	if (s->f_len != len)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL, "%s of %u bytes",
				  name, s->f_len);
	return enter_body(s);
}

/* A stream error on a stream that may be idle: then it ends all. */
static int any_stream_error(spiffe_h2_session *s, uint32_t code,
			    const char *what)
{
	if (is_idle(s, s->f_stream))
		return conn_error(s, code, SPIFFE_ERR_PROTOCOL,
				  "%s on idle stream %u", what, s->f_stream);
	return stream_error(s, s->f_stream, code);
}

static int priority_begin(spiffe_h2_session *s)
{
	if (s->f_stream == 0)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "PRIORITY on stream 0");
	if (s->f_len != 5) {
		skip_payload(s);
		return any_stream_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
					"PRIORITY of wrong size");
	}
	return enter_body(s);
}

static int goaway_end(spiffe_h2_session *s)
{
	uint32_t last = get32(s->fbuf) & MAX_STREAM_ID;
	uint32_t code = get32(s->fbuf + 4);

	if (s->goaway_recv && last > s->goaway_last)
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "GOAWAY raised last stream id %u to %u",
				  s->goaway_last, last);
	s->goaway_recv = 1;
	s->goaway_last = last;
	/* Our streams above last were never processed. */
	if (s->role == SPIFFE_H2_CLIENT)
		for (size_t i = 0; i < s->nstreams; i++)
			if (s->streams[i]->id > last)
				stream_close(s, s->streams[i],
					     SPIFFE_H2_REFUSED_STREAM);
	if (s->cb.on_goaway != NULL) {
		s->in_callback = 1;
		s->cb.on_goaway(s->ctx, last, code, s->fbuf + 8,
				s->fbuf_got - 8);
		s->in_callback = 0;
	}
	return 0;
}

static int window_update_end(spiffe_h2_session *s)
{
	uint32_t inc = get32(s->fbuf) & MAX_WINDOW;
	struct spiffe_h2_stream *st;

	if (s->f_stream == 0) {
		if (inc == 0)
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "WINDOW_UPDATE of 0 on stream 0");
		if (s->send_window + inc > MAX_WINDOW)
			return conn_error(s, SPIFFE_H2_FLOW_CONTROL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "connection window over 2^31-1");
		s->send_window += inc;
		return 0;
	}
	st = find(s, s->f_stream);
	if (st == NULL)
		return 0;
	if (inc == 0)
		return stream_error(s, st->id, SPIFFE_H2_PROTOCOL_ERROR);
	if (st->send_window + inc > MAX_WINDOW)
		return stream_error(s, st->id, SPIFFE_H2_FLOW_CONTROL_ERROR);
	st->send_window += inc;
	return 0;
}

/* --- receiving: dispatch ------------------------------------------------- */

static int frame_begin(spiffe_h2_session *s)
{
	const uint8_t *h = s->fh;

	s->f_len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
	s->f_type = h[3];
	s->f_flags = h[4];
	s->f_stream = get32(h + 5) & MAX_STREAM_ID;
	s->f_left = s->f_len;
	s->f_pad = 0;
	s->f_skip = 0;
	s->f_end_done = 0;
	s->fbuf_got = 0;
	s->f_phase = PH_BODY;

	if (s->f_len > SPIFFE_H2_MAX_FRAME)
		return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "frame of %u bytes exceeds %u", s->f_len,
				  SPIFFE_H2_MAX_FRAME);
	if (s->h_pending && (s->f_type != F_CONTINUATION ||
			     s->f_stream != s->h_stream))
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL,
				  "frame type %u where CONTINUATION of stream "
				  "%u was due", s->f_type, s->h_stream);
	if (!s->got_settings) {
		if (s->f_type != F_SETTINGS || (s->f_flags & FL_ACK))
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "first frame is type %u, not "
					  "SETTINGS", s->f_type);
		s->got_settings = 1;
	}
	switch (s->f_type) {
	case F_DATA:
		return data_begin(s);
	case F_HEADERS:
		return headers_begin(s);
	case F_PRIORITY:
		return priority_begin(s);
	case F_RST_STREAM:
		if (s->f_stream != 0 && is_idle(s, s->f_stream))
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "RST_STREAM on idle stream %u",
					  s->f_stream);
		return fixed_begin(s, 4, 0, "RST_STREAM");
	case F_SETTINGS:
		return settings_begin(s);
	case F_PUSH_PROMISE:
		return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
				  SPIFFE_ERR_PROTOCOL, "PUSH_PROMISE from %s",
				  s->role == SPIFFE_H2_CLIENT ?
				  "server with push disabled" : "client");
	case F_PING:
		return fixed_begin(s, 8, 1, "PING");
	case F_GOAWAY:
		if (s->f_stream != 0)
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "GOAWAY on stream %u", s->f_stream);
		if (s->f_len < 8)
			return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "GOAWAY of %u bytes", s->f_len);
		return enter_body(s);
	case F_WINDOW_UPDATE:
		if (s->f_len != 4)
			return conn_error(s, SPIFFE_H2_FRAME_SIZE_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "WINDOW_UPDATE of %u bytes",
					  s->f_len);
		if (s->f_stream != 0 && is_idle(s, s->f_stream))
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "WINDOW_UPDATE on idle stream %u",
					  s->f_stream);
		return enter_body(s);
	case F_CONTINUATION:
		return continuation_begin(s);
	default:                /* unknown types are ignored (5.5) */
		skip_payload(s);
		return 0;
	}
}

/* Pad length and priority are read: set up the body. */
static int enter_body(spiffe_h2_session *s)
{
	int rc = 0;

	s->f_phase = PH_BODY;
	if (s->f_type == F_DATA)
		rc = data_start(s);
	else if (s->f_type == F_HEADERS || s->f_type == F_CONTINUATION)
		rc = block_start(s);
	if (!s->f_skip && s->f_left == s->f_pad)
		s->f_phase = PH_PAD;
	return rc;
}

static int body_chunk(spiffe_h2_session *s, const uint8_t *p, size_t n)
{
	switch (s->f_type) {
	case F_DATA:
		return data_chunk(s, p, n);
	case F_HEADERS:
	case F_CONTINUATION:
		memcpy(s->hblock + s->hlen, p, n);
		s->hlen += n;
		return 0;
	case F_SETTINGS:
		return settings_chunk(s, p, n);
	case F_GOAWAY:
		if (s->fbuf_got < sizeof(s->fbuf))
			(void)gather(s, p, min_size(n, sizeof(s->fbuf) -
						    s->fbuf_got),
				     sizeof(s->fbuf));
		return 0;
	default:                /* PRIORITY, RST_STREAM, PING, WINDOW_UPDATE */
		(void)gather(s, p, n, s->f_len);
		return 0;
	}
}

/* Consumes payload bytes of the current frame; *used gets how many. */
static int frame_part(spiffe_h2_session *s, const uint8_t *p, size_t n,
		      size_t *used)
{
	size_t k;
	int rc = 0;

	switch (s->f_phase) {
	case PH_PADLEN: {
		uint32_t prio = s->f_type == F_HEADERS &&
			(s->f_flags & FL_PRIORITY) ? 5 : 0;
		s->f_pad = p[0];
		s->f_left--;
		*used = 1;
		if (s->f_pad > s->f_left - prio)
			return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					  SPIFFE_ERR_PROTOCOL,
					  "padding of %u exceeds the payload",
					  s->f_pad);
		if (prio) {
			s->f_phase = PH_PRIO;
			return 0;
		}
		return enter_body(s);
	}
	case PH_PRIO:
		k = min_size(n, 5 - s->fbuf_got);
		*used = k;
		s->f_left -= (uint32_t)k;
		if (gather(s, p, k, 5)) {
			if ((get32(s->fbuf) & MAX_STREAM_ID) == s->f_stream)
				s->h_selfdep = 1;
			s->fbuf_got = 0;
			return enter_body(s);
		}
		return 0;
	case PH_BODY:
		k = min_size(n, s->f_left - s->f_pad);
		*used = k;
		rc = body_chunk(s, p, k);
		s->f_left -= (uint32_t)k;
		if (s->f_skip || s->f_left == s->f_pad)
			s->f_phase = PH_PAD;
		return rc;
	default:                /* PH_PAD and skipped payload */
		k = min_size(n, s->f_left);
		*used = k;
		s->f_left -= (uint32_t)k;
		return 0;
	}
}

static int frame_end(spiffe_h2_session *s)
{
	uint8_t ack[8];

	switch (s->f_type) {
	case F_DATA:
		return data_end(s);
	case F_HEADERS:
	case F_CONTINUATION:
		if (!(s->f_flags & FL_END_HEADERS))
			return 0;
		s->h_pending = 0;
		return block_done(s);
	case F_PRIORITY:
		if (s->f_skip ||
		    (get32(s->fbuf) & MAX_STREAM_ID) != s->f_stream)
			return 0;
		return any_stream_error(s, SPIFFE_H2_PROTOCOL_ERROR,
					"PRIORITY depending on itself");
	case F_RST_STREAM: {
		struct spiffe_h2_stream *st = find(s, s->f_stream);
		if (st != NULL)
			stream_close(s, st, get32(s->fbuf));
		return 0;
	}
	case F_SETTINGS:
		if (s->f_flags & FL_ACK)
			return 0;
		return emit(s, F_SETTINGS, FL_ACK, 0, NULL, 0,
			    OUT_CAPPED | OUT_PEER);
	case F_PING:
		if (s->f_flags & FL_ACK) {
			if (s->cb.on_ping_ack != NULL) {
				s->in_callback = 1;
				s->cb.on_ping_ack(s->ctx, s->fbuf);
				s->in_callback = 0;
			}
			return 0;
		}
		memcpy(ack, s->fbuf, 8);
		return emit(s, F_PING, FL_ACK, 0, ack, 8,
			    OUT_CAPPED | OUT_PEER);
	case F_GOAWAY:
		return goaway_end(s);
	case F_WINDOW_UPDATE:
		return window_update_end(s);
	default:
		return 0;
	}
}

/* After each frame: report closes, return consumed window. */
static int frame_done(spiffe_h2_session *s)
{
	sweep(s);
	return update_all(s, OUT_PEER);
}

int spiffe_h2_feed(spiffe_h2_session *s, const uint8_t *p, size_t len)
{
	int rc = 0;

	if (s->in_callback || (p == NULL && len > 0))
		return SPIFFE_ERR_ARG;
	if (s->dead)
		return s->dead_err;
	sweep(s);
	while (len > 0 && rc == 0) {
		size_t k;

		switch (s->in) {
		case IN_PREFACE:
			k = min_size(len, PREFACE_LEN - s->preface_got);
			if (memcmp(p, preface + s->preface_got, k) != 0)
				return conn_error(s, SPIFFE_H2_PROTOCOL_ERROR,
						  SPIFFE_ERR_PROTOCOL,
						  "invalid preface");
			s->preface_got += k;
			if (s->preface_got == PREFACE_LEN)
				s->in = IN_HEAD;
			break;
		case IN_HEAD:
			k = min_size(len, FRAME_HEAD - s->fh_got);
			memcpy(s->fh + s->fh_got, p, k);
			s->fh_got += k;
			if (s->fh_got < FRAME_HEAD)
				break;
			s->fh_got = 0;
			rc = frame_begin(s);
			if (rc == 0 && s->f_left == 0)
				rc = frame_end(s);
			else if (rc == 0)
				s->in = IN_BODY;
			if (rc == 0 && s->in == IN_HEAD)
				rc = frame_done(s);
			break;
		default:
			rc = frame_part(s, p, len, &k);
			if (rc == 0 && s->f_left == 0) {
				s->in = IN_HEAD;
				rc = frame_end(s);
				if (rc == 0)
					rc = frame_done(s);
			}
			break;
		}
		p += k;
		len -= k;
	}
	if (rc == 0)
		rc = update_all(s, OUT_PEER);
	sweep(s);
	return s->dead ? s->dead_err : rc;
}

/* --- output API ---------------------------------------------------------- */

int spiffe_h2_output(spiffe_h2_session *s, const uint8_t **p, size_t *len)
{
	int rc = 0;

	if (s->in_callback)
		return SPIFFE_ERR_ARG;
	sweep(s);
	if (!s->dead) {
		rc = update_all(s, 0);
		if (rc == 0)
			rc = schedule(s);
		sweep(s);
	}
	*p = s->out != NULL ? s->out + s->out_off : NULL;
	*len = s->out_len - s->out_off;
	return rc;
}

int spiffe_h2_output_consumed(spiffe_h2_session *s, size_t n)
{
	if (s->in_callback || n > s->out_len - s->out_off)
		return SPIFFE_ERR_ARG;
	s->out_off += n;
	if (s->out_off == s->out_len) {
		s->out_off = s->out_len = 0;
		if (s->out_cap > KEEP_OUTPUT) {
			free(s->out);
			s->out = NULL;
			s->out_cap = 0;
		}
	}
	return 0;
}

/* --- setup --------------------------------------------------------------- */

static void put_setting(uint8_t *p, size_t *n, uint16_t id, uint32_t v)
{
	p[*n] = (uint8_t)(id >> 8);
	p[*n + 1] = (uint8_t)id;
	put32(p + *n + 2, v);
	*n += 6;
}

int spiffe_h2_init(spiffe_h2_session *s, int role,
		   const spiffe_h2_callbacks *cb, void *ctx,
		   const spiffe_h2_options *opt)
{
	uint32_t sw = opt && opt->stream_window ? opt->stream_window :
		SPIFFE_H2_STREAM_WINDOW;
	uint32_t cw = opt && opt->conn_window ? opt->conn_window :
		SPIFFE_H2_CONN_WINDOW;
	uint32_t ms = opt && opt->max_streams ? opt->max_streams :
		SPIFFE_H2_MAX_STREAMS;
	uint8_t set[6 * 5], wu[4];
	size_t n = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((role != SPIFFE_H2_CLIENT && role != SPIFFE_H2_SERVER) ||
	    sw < DEFAULT_WINDOW || sw > MAX_WINDOW ||
	    cw < DEFAULT_WINDOW || cw > MAX_WINDOW ||
	    ms > SPIFFE_H2_MAX_STREAMS)
		return SPIFFE_ERR_ARG;
	s->role = role;
	if (cb != NULL)
		s->cb = *cb;
	s->ctx = ctx;
	s->local_window = sw;
	s->local_conn_window = cw;
	s->local_max_streams = ms;
	s->report_oversized = opt != NULL && opt->report_oversized &&
			      role == SPIFFE_H2_SERVER;
	s->peer_initial_window = DEFAULT_WINDOW;
	s->peer_max_frame = MIN_MAX_FRAME;
	s->peer_max_streams = UINT32_MAX;       /* unlimited until told */
	s->peer_max_header_list = UINT32_MAX;
	s->send_window = DEFAULT_WINDOW;
	s->recv_window = DEFAULT_WINDOW;
	s->next_id = 1;
	s->in = role == SPIFFE_H2_SERVER ? IN_PREFACE : IN_HEAD;
	spiffe_hpack_dec_init(&s->dec, SPIFFE_HPACK_TABLE_SIZE);
	spiffe_hpack_enc_init(&s->enc, DEFAULT_TABLE);

	if (role == SPIFFE_H2_CLIENT) {
		rc = out_room(s, PREFACE_LEN, 0);
		if (rc != 0)
			return rc;
		memcpy(s->out, preface, PREFACE_LEN);
		s->out_len = PREFACE_LEN;
		put_setting(set, &n, S_ENABLE_PUSH, 0);
	} else {
		put_setting(set, &n, S_MAX_CONCURRENT_STREAMS, ms);
	}
	if (sw != DEFAULT_WINDOW)
		put_setting(set, &n, S_INITIAL_WINDOW_SIZE, sw);
	if (SPIFFE_HPACK_TABLE_SIZE != DEFAULT_TABLE)
		put_setting(set, &n, S_HEADER_TABLE_SIZE,
			    SPIFFE_HPACK_TABLE_SIZE);
	put_setting(set, &n, S_MAX_HEADER_LIST_SIZE,
		    SPIFFE_H2_MAX_HEADER_LIST);
	rc = emit(s, F_SETTINGS, 0, 0, set, n, 0);
	if (rc == 0 && cw > DEFAULT_WINDOW) {
		put32(wu, cw - DEFAULT_WINDOW);
		rc = emit(s, F_WINDOW_UPDATE, 0, 0, wu, 4, 0);
		s->recv_window = cw;
	}
	return rc;
}

void spiffe_h2_free(spiffe_h2_session *s)
{
	for (size_t i = 0; i < s->nstreams; i++) {
		free(s->streams[i]->sq);
		free(s->streams[i]->trailers);
		free(s->streams[i]);
	}
	free(s->hblock);
	free(s->out);
	spiffe_hpack_dec_free(&s->dec);
	spiffe_hpack_enc_free(&s->enc);
	memset(s, 0, sizeof(*s));
}

/* --- submissions --------------------------------------------------------- */

int spiffe_h2_submit_request(spiffe_h2_session *s, const spiffe_header *h,
			     size_t n, int end_stream, uint32_t *stream)
{
	struct spiffe_h2_stream *st;
	struct hinfo hi;
	const char *why;
	int rc;

	if (s->role != SPIFFE_H2_CLIENT)
		return SPIFFE_ERR_ARG;
	if (s->dead || s->goaway_sent || s->goaway_recv ||
	    s->next_id > MAX_STREAM_ID)
		return SPIFFE_ERR_CLOSED;
	why = check_fields(h, n, K_REQUEST, &hi);
	if (why != NULL)
		return refuse(s, SPIFFE_ERR_ARG, "request headers: %s", why);
	if (open_count(s) >= s->peer_max_streams ||
	    s->nstreams == SPIFFE_H2_MAX_STREAMS)
		return SPIFFE_ERR_AGAIN;
	rc = list_fits(s, h, n);
	if (rc != 0)
		return rc;
	st = stream_alloc(s, s->next_id);
	if (st == NULL)
		return SPIFFE_ERR_NOMEM;
	rc = write_headers(s, st->id, h, n, end_stream);
	if (rc != 0) {
		free(st);
		return rc;
	}
	s->streams[s->nstreams++] = st;
	s->next_id += 2;
	st->head = (uint8_t)hi.head;
	st->sent_final = 1;
	st->recv_state = RS_HEADERS;
	if (end_stream) {
		st->end_queued = 1;
		st->local_closed = 1;
	}
	*stream = st->id;
	return 0;
}

int spiffe_h2_submit_response(spiffe_h2_session *s, uint32_t stream,
			      const spiffe_header *h, size_t n,
			      int end_stream)
{
	struct spiffe_h2_stream *st;
	struct hinfo hi;
	const char *why;
	int rc;

	if (s->role != SPIFFE_H2_SERVER)
		return SPIFFE_ERR_ARG;
	st = find(s, stream);
	if (s->dead || st == NULL || st->sent_final || st->end_queued)
		return SPIFFE_ERR_CLOSED;
	why = check_fields(h, n, K_RESPONSE, &hi);
	if (why != NULL)
		return refuse(s, SPIFFE_ERR_ARG, "response headers: %s", why);
	if (hi.status < 200 && end_stream)
		return refuse(s, SPIFFE_ERR_ARG, "1xx response ends stream");
	rc = list_fits(s, h, n);
	if (rc != 0)
		return rc;
	rc = write_headers(s, stream, h, n, end_stream);
	if (rc != 0)
		return rc;
	if (hi.status >= 200)
		st->sent_final = 1;
	if (end_stream) {
		st->end_queued = 1;
		local_end(s, st);
	}
	return 0;
}

/* The stream the application may still send on, or NULL. */
static struct spiffe_h2_stream *sendable(const spiffe_h2_session *s,
					 uint32_t stream)
{
	struct spiffe_h2_stream *st = find(s, stream);

	if (s->dead || st == NULL || st->end_queued || st->local_closed)
		return NULL;
	return st;
}

int spiffe_h2_send_data(spiffe_h2_session *s, uint32_t stream,
			const uint8_t *p, size_t len, int end_stream,
			size_t *accepted)
{
	struct spiffe_h2_stream *st = sendable(s, stream);
	size_t k;

	*accepted = 0;
	if (st == NULL)
		return SPIFFE_ERR_CLOSED;
	if (!st->sent_final || (p == NULL && len > 0))
		return SPIFFE_ERR_ARG;
	k = min_size(len, SPIFFE_H2_STREAM_SENDBUF - st->sq_len);
	if (k > 0) {
		if (st->sq_off + st->sq_len + k > st->sq_cap) {
			if (st->sq_off > 0) {
				memmove(st->sq, st->sq + st->sq_off,
					st->sq_len);
				st->sq_off = 0;
			}
			if (st->sq_len + k > st->sq_cap) {
				size_t cap = st->sq_len + k;
				uint8_t *nb = realloc(st->sq, cap);
				if (nb == NULL)
					return SPIFFE_ERR_NOMEM;
				st->sq = nb;
				st->sq_cap = cap;
			}
		}
		memcpy(st->sq + st->sq_off + st->sq_len, p, k);
		st->sq_len += k;
	}
	*accepted = k;
	if (end_stream && k == len)
		st->end_queued = 1;
	return 0;
}

size_t spiffe_h2_send_room(const spiffe_h2_session *s, uint32_t stream)
{
	const struct spiffe_h2_stream *st = sendable(s, stream);

	if (st == NULL || !st->sent_final)
		return 0;
	return SPIFFE_H2_STREAM_SENDBUF - st->sq_len;
}

int spiffe_h2_submit_trailers(spiffe_h2_session *s, uint32_t stream,
			      const spiffe_header *h, size_t n)
{
	struct spiffe_h2_stream *st = sendable(s, stream);
	size_t bytes = 0, off;
	spiffe_header *copy;
	struct hinfo hi;
	const char *why;
	uint8_t *mem;
	int rc;

	if (st == NULL)
		return SPIFFE_ERR_CLOSED;
	if (!st->sent_final)
		return SPIFFE_ERR_ARG;
	why = check_fields(h, n, K_TRAILERS, &hi);
	if (why != NULL)
		return refuse(s, SPIFFE_ERR_ARG, "trailers: %s", why);
	rc = list_fits(s, h, n);
	if (rc != 0)
		return rc;
	/* list_fits bounded every length, so these sums cannot wrap. */
	for (size_t i = 0; i < n; i++)
		bytes += h[i].name_len + h[i].value_len;
	off = n * sizeof(spiffe_header);
	mem = malloc(off + bytes + 1);
	if (mem == NULL)
		return SPIFFE_ERR_NOMEM;
	copy = (spiffe_header *)(void *)mem;
	for (size_t i = 0; i < n; i++) {
		copy[i] = h[i];
		copy[i].name = mem + off;
		if (h[i].name_len > 0)
			memcpy(mem + off, h[i].name, h[i].name_len);
		off += h[i].name_len;
		copy[i].value = mem + off;
		if (h[i].value_len > 0)
			memcpy(mem + off, h[i].value, h[i].value_len);
		off += h[i].value_len;
	}
	st->trailers = mem;
	st->ntrailers = n;
	st->end_queued = 1;
	return 0;
}

int spiffe_h2_reset(spiffe_h2_session *s, uint32_t stream, uint32_t code)
{
	struct spiffe_h2_stream *st = find(s, stream);
	uint8_t p[4];
	int rc;

	if (s->dead || st == NULL)
		return SPIFFE_ERR_CLOSED;
	put32(p, code);
	rc = emit(s, F_RST_STREAM, 0, stream, p, 4, 0);
	if (rc != 0)
		return rc;
	st->local_closed = st->remote_closed = 1;
	stream_close(s, st, code);
	return 0;
}

int spiffe_h2_consume(spiffe_h2_session *s, uint32_t stream, size_t n)
{
	struct spiffe_h2_stream *st = find(s, stream);
	int rc;

	if (st == NULL || s->dead)
		return 0;
	if (n > st->recv_unconsumed)
		return SPIFFE_ERR_ARG;
	st->recv_unconsumed -= (uint32_t)n;
	st->recv_unacked += (uint32_t)n;
	s->conn_unacked += (uint32_t)n;
	rc = update_stream(s, st, 0);
	if (rc == 0)
		rc = update_conn(s, 0);
	return rc;
}

int spiffe_h2_ping(spiffe_h2_session *s, const uint8_t *opaque)
{
	if (s->dead)
		return SPIFFE_ERR_CLOSED;
	return emit(s, F_PING, 0, 0, opaque, 8, OUT_CAPPED);
}

int spiffe_h2_goaway(spiffe_h2_session *s, uint32_t code,
		     const uint8_t *debug, size_t len)
{
	uint8_t g[8 + SPIFFE_H2_MAX_GOAWAY_DEBUG];
	int rc;

	if (s->dead)
		return SPIFFE_ERR_CLOSED;
	len = min_size(len, SPIFFE_H2_MAX_GOAWAY_DEBUG);
	put32(g, s->last_peer_id);
	put32(g + 4, code);
	if (len > 0)
		memcpy(g + 8, debug, len);
	rc = emit(s, F_GOAWAY, 0, 0, g, 8 + len, 0);
	if (rc == 0)
		s->goaway_sent = 1;
	return rc;
}

int spiffe_h2_done(const spiffe_h2_session *s)
{
	return s->dead ||
		((s->goaway_sent || s->goaway_recv) && open_count(s) == 0);
}

uint32_t spiffe_h2_error_code(const spiffe_h2_session *s)
{
	return s->dead ? s->dead_code : 0;
}

const char *spiffe_h2_errmsg(const spiffe_h2_session *s)
{
	return s->eb.msg;
}

size_t spiffe_h2_stream_count(const spiffe_h2_session *s)
{
	return open_count(s);
}
