/*
 * h2.h - HTTP/2 connection core (RFC 9113), client and server, no I/O.
 *
 * The caller moves bytes: what arrives from the transport goes into
 * spiffe_h2_feed(), which parses frames and calls back with headers,
 * data and stream events; what the session wants to send accumulates in
 * a bounded output buffer that the caller drains with spiffe_h2_output()
 * and spiffe_h2_output_consumed().  The session answers SETTINGS and
 * PING, runs flow control in both directions, checks the stream state
 * machine and the header rules of RFC 9113 section 8, and turns every
 * violation into the error code the RFC names: RST_STREAM for a stream
 * error, GOAWAY for a connection error (after which feed fails and only
 * output is left to flush).
 *
 * A client stream: spiffe_h2_submit_request() opens it and sends the
 * request headers; spiffe_h2_send_data() queues the body (END_STREAM with
 * the last piece); on_headers brings the response headers, on_data the
 * body, on_headers with SPIFFE_H2_TRAILERS the trailers, and
 * on_stream_close the end.  A server stream starts with on_headers for a
 * new stream id; spiffe_h2_submit_response(), spiffe_h2_send_data() and
 * spiffe_h2_submit_trailers() answer it.  Received data is counted
 * against our windows until the application calls spiffe_h2_consume().
 *
 * Callbacks run only inside spiffe_h2_feed() and spiffe_h2_output(); they
 * may call every function here except feed, output, output_consumed and
 * free.  Header lists are arrays of spiffe_header (hpack.h).
 */
#ifndef SPIFFE_H2_H
#define SPIFFE_H2_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hpack.h"
#include "limits.h"

/* Roles. */
#define SPIFFE_H2_CLIENT 0
#define SPIFFE_H2_SERVER 1

/* RFC 9113 section 7 error codes. */
#define SPIFFE_H2_NO_ERROR 0x0
#define SPIFFE_H2_PROTOCOL_ERROR 0x1
#define SPIFFE_H2_INTERNAL_ERROR 0x2
#define SPIFFE_H2_FLOW_CONTROL_ERROR 0x3
#define SPIFFE_H2_SETTINGS_TIMEOUT 0x4
#define SPIFFE_H2_STREAM_CLOSED 0x5
#define SPIFFE_H2_FRAME_SIZE_ERROR 0x6
#define SPIFFE_H2_REFUSED_STREAM 0x7
#define SPIFFE_H2_CANCEL 0x8
#define SPIFFE_H2_COMPRESSION_ERROR 0x9
#define SPIFFE_H2_CONNECT_ERROR 0xa
#define SPIFFE_H2_ENHANCE_YOUR_CALM 0xb
#define SPIFFE_H2_INADEQUATE_SECURITY 0xc
#define SPIFFE_H2_HTTP_1_1_REQUIRED 0xd

/* on_headers flags. */
#define SPIFFE_H2_END_STREAM 1u /* the peer ended its side of the stream */
#define SPIFFE_H2_TRAILERS 2u   /* a trailer section, after the body */
/* A request whose header list was over our limits (with no fields; see
 * spiffe_h2_options.report_oversized). */
#define SPIFFE_H2_OVERSIZED 4u

/*
 * What the session reports.  Any member may be NULL.  Views passed in are
 * valid only during the call.
 *  - on_headers: a header section for stream: request headers (server;
 *    a new stream id), response headers (client; 1xx sections may come
 *    first) or trailers.  Pseudo-header fields come first.  A request
 *    over our limits comes with SPIFFE_H2_OVERSIZED, h NULL and n 0
 *    (only with report_oversized).
 *  - on_data: len body bytes; end_stream is set on the last call, which
 *    may have len 0.  The bytes count against the windows until
 *    spiffe_h2_consume().
 *  - on_stream_close: the stream is gone, once for every stream that
 *    was reported or opened: code is 0 after both sides ended it, the
 *    RST_STREAM code otherwise (ours or the peer's), REFUSED_STREAM for
 *    a stream the peer's GOAWAY left unprocessed.
 *  - on_goaway: the peer sent GOAWAY; streams above last_stream will
 *    not be processed (they were closed already).
 *  - on_ping_ack: the peer acknowledged a PING we sent.
 */
typedef struct spiffe_h2_callbacks {
	void (*on_headers)(void *ctx, uint32_t stream, const spiffe_header *h,
			   size_t n, unsigned flags);
	void (*on_data)(void *ctx, uint32_t stream, const uint8_t *p,
			size_t len, int end_stream);
	void (*on_stream_close)(void *ctx, uint32_t stream, uint32_t code);
	void (*on_goaway)(void *ctx, uint32_t last_stream, uint32_t code,
			  const uint8_t *debug, size_t len);
	void (*on_ping_ack)(void *ctx, const uint8_t opaque[8]);
} spiffe_h2_callbacks;

/*
 * Session options; a zero member takes the default from limits.h.
 * stream_window (>= 65535) is our SETTINGS_INITIAL_WINDOW_SIZE,
 * conn_window (>= 65535) our connection receive window, max_streams
 * (<= SPIFFE_H2_MAX_STREAMS) the SETTINGS_MAX_CONCURRENT_STREAMS we
 * announce as a server.
 */
typedef struct spiffe_h2_options {
	uint32_t stream_window;
	uint32_t conn_window;
	uint32_t max_streams;
	/* Server: a request whose header list is over our limits (a field
	 * over SPIFFE_HPACK_MAX_STRING, more than SPIFFE_H2_MAX_HEADERS
	 * fields, a list over SPIFFE_H2_MAX_HEADER_LIST) opens its stream
	 * and comes to on_headers with no fields and SPIFFE_H2_OVERSIZED,
	 * so an HTTP server can answer 431 as Go's net/http does.  Unset,
	 * the stream is reset with FRAME_SIZE_ERROR, as grpc-go does. */
	int report_oversized;
} spiffe_h2_options;

struct spiffe_h2_stream;

/* One HTTP/2 connection (fields are private). */
typedef struct spiffe_h2_session {
	int role;
	spiffe_h2_callbacks cb;
	void *ctx;
	int in_callback;

	/* settings: ours, and the peer's as last received */
	uint32_t local_window, local_conn_window, local_max_streams;
	uint32_t peer_initial_window, peer_max_frame, peer_max_streams;
	uint32_t peer_max_header_list;
	int report_oversized;   /* see spiffe_h2_options */
	int got_settings;       /* the peer's first SETTINGS arrived */

	/* connection flow control */
	int64_t send_window;    /* what we may still send */
	int64_t recv_window;    /* what the peer may still send */
	uint32_t conn_unacked;  /* consumed, not yet returned */

	/* streams */
	struct spiffe_h2_stream *streams[SPIFFE_H2_MAX_STREAMS];
	size_t nstreams;        /* slots used, closed ones included */
	size_t nclosed;         /* closed, not yet reported */
	size_t rr;              /* round-robin cursor for DATA */
	uint32_t next_id;       /* client: id of the next stream we open */
	uint32_t last_peer_id;  /* highest stream id the peer opened */

	/* shutdown */
	int dead;               /* a connection error happened */
	int dead_err;           /* what feed returns after that */
	uint32_t dead_code;     /* the GOAWAY code we sent */
	int goaway_sent, goaway_recv;
	uint32_t goaway_last;   /* last stream id of the peer's GOAWAY */

	/* input: frame being parsed */
	int in;
	size_t preface_got;
	uint8_t fh[9];
	size_t fh_got;
	uint32_t f_len, f_stream, f_left;
	uint8_t f_type, f_flags, f_pad;
	int f_phase, f_skip, f_end_done;
	uint8_t fbuf[8 + SPIFFE_H2_MAX_GOAWAY_DEBUG];
	size_t fbuf_got;

	/* input: header block being collected */
	uint8_t *hblock;
	size_t hlen, hcap;
	uint32_t h_stream;
	uint8_t h_flags;
	int h_disp, h_selfdep, h_cont, h_pending;

	/* output */
	uint8_t *out;
	size_t out_off, out_len, out_cap;

	spiffe_hpack_dec dec;
	spiffe_hpack_enc enc;
	spiffe_errbuf eb;
} spiffe_h2_session;

/*
 * Prepares s for one connection in role (SPIFFE_H2_CLIENT or _SERVER),
 * reporting to cb with ctx (cb is copied; opt may be NULL).  The output
 * holds the connection preface at once: the client magic and SETTINGS,
 * or the server SETTINGS, plus a connection WINDOW_UPDATE.  Returns 0,
 * SPIFFE_ERR_ARG for bad options or SPIFFE_ERR_NOMEM; s can be freed
 * either way.
 */
SPIFFE_CHECK int spiffe_h2_init(spiffe_h2_session *s, int role,
				const spiffe_h2_callbacks *cb, void *ctx,
				const spiffe_h2_options *opt);

/* Frees everything s owns; safe on a zeroed session and twice. */
void spiffe_h2_free(spiffe_h2_session *s);

/*
 * Consumes p[0..len) from the peer, calling back as frames complete.
 * Returns 0, or after a connection error (GOAWAY queued, see
 * spiffe_h2_errmsg()) SPIFFE_ERR_PROTOCOL, SPIFFE_ERR_HPACK
 * (COMPRESSION_ERROR) or SPIFFE_ERR_NOMEM, and the same on every later
 * call.  SPIFFE_ERR_ARG from inside a callback.
 */
SPIFFE_CHECK int spiffe_h2_feed(spiffe_h2_session *s, const uint8_t *p,
				size_t len);

/*
 * Frames queued DATA as windows allow and points *p at the bytes waiting
 * to be sent (*len of them, maybe 0); the view is valid until the next
 * call on s.  Also reports closed streams.  0, or SPIFFE_ERR_ARG from
 * inside a callback.
 */
SPIFFE_CHECK int spiffe_h2_output(spiffe_h2_session *s, const uint8_t **p,
				  size_t *len);

/* Drops the first n output bytes (sent); SPIFFE_ERR_ARG if n is more. */
SPIFFE_CHECK int spiffe_h2_output_consumed(spiffe_h2_session *s, size_t n);

/*
 * Client: opens a stream and queues its request headers h[0..n) (with
 * END_STREAM if end_stream); sets *stream to its id.  SPIFFE_ERR_ARG for
 * headers that break RFC 9113 section 8 (message in spiffe_h2_errmsg()),
 * SPIFFE_ERR_AGAIN when the peer's stream limit or the output buffer is
 * full, SPIFFE_ERR_LIMIT for a header list over the peer's or our limit,
 * SPIFFE_ERR_CLOSED after GOAWAY or a connection error.
 */
SPIFFE_CHECK int spiffe_h2_submit_request(spiffe_h2_session *s,
					  const spiffe_header *h, size_t n,
					  int end_stream, uint32_t *stream);

/*
 * Server: queues response headers h[0..n) for stream (a 1xx section may
 * precede the final one), with END_STREAM if end_stream.  Errors as for
 * spiffe_h2_submit_request(); SPIFFE_ERR_CLOSED for an unknown, closed
 * or already answered stream.
 */
SPIFFE_CHECK int spiffe_h2_submit_response(spiffe_h2_session *s,
					   uint32_t stream,
					   const spiffe_header *h, size_t n,
					   int end_stream);

/*
 * Copies as much of p[0..len) as the stream's send queue holds
 * (SPIFFE_H2_STREAM_SENDBUF) and sets *accepted; END_STREAM follows the
 * data when end_stream is set and all of it was accepted.  The data goes
 * out as the peer's windows open.  SPIFFE_ERR_CLOSED for an unknown or
 * ended stream, SPIFFE_ERR_ARG before the response headers (server).
 */
SPIFFE_CHECK int spiffe_h2_send_data(spiffe_h2_session *s, uint32_t stream,
				     const uint8_t *p, size_t len,
				     int end_stream, size_t *accepted);

/* Bytes spiffe_h2_send_data() would accept now (0 if none or closed). */
size_t spiffe_h2_send_room(const spiffe_h2_session *s, uint32_t stream);

/*
 * Queues trailers h[0..n) to follow the stream's queued data, ending the
 * stream.  The headers are copied.  Errors as spiffe_h2_send_data(), and
 * SPIFFE_ERR_ARG for pseudo-header or invalid fields.
 */
SPIFFE_CHECK int spiffe_h2_submit_trailers(spiffe_h2_session *s,
					   uint32_t stream,
					   const spiffe_header *h, size_t n);

/*
 * Resets stream with RST_STREAM(code) and drops its queued data; the
 * close is reported to on_stream_close with code.  SPIFFE_ERR_CLOSED if
 * the stream is unknown or closed.
 */
SPIFFE_CHECK int spiffe_h2_reset(spiffe_h2_session *s, uint32_t stream,
				 uint32_t code);

/*
 * Tells the session the application is done with n bytes delivered by
 * on_data on stream: WINDOW_UPDATEs go out once half of a window has
 * been consumed.  Bytes of a stream that closed return to the
 * connection window by themselves, so consuming them is a no-op (0).
 * SPIFFE_ERR_ARG if n is more than was delivered.
 */
SPIFFE_CHECK int spiffe_h2_consume(spiffe_h2_session *s, uint32_t stream,
				   size_t n);

/*
 * Queues a PING with opaque (8 bytes); its ACK comes to on_ping_ack.
 * SPIFFE_ERR_AGAIN if the output buffer is full.
 */
SPIFFE_CHECK int spiffe_h2_ping(spiffe_h2_session *s, const uint8_t *opaque);

/*
 * Queues GOAWAY(code) naming the last stream the peer opened, with up to
 * SPIFFE_H2_MAX_GOAWAY_DEBUG bytes of debug data.  No new streams are
 * accepted or opened afterwards; open ones may finish.
 */
SPIFFE_CHECK int spiffe_h2_goaway(spiffe_h2_session *s, uint32_t code,
				  const uint8_t *debug, size_t len);

/*
 * 1 when the connection has nothing left to do once output is flushed:
 * after a connection error, or after GOAWAY (sent or received) when no
 * stream is open.
 */
int spiffe_h2_done(const spiffe_h2_session *s);

/* The GOAWAY code of our connection error, or 0 if none happened. */
uint32_t spiffe_h2_error_code(const spiffe_h2_session *s);

/* One line about the last connection error or rejected submission. */
const char *spiffe_h2_errmsg(const spiffe_h2_session *s);

/* Open streams (not yet closed, in either direction). */
size_t spiffe_h2_stream_count(const spiffe_h2_session *s);

#endif
