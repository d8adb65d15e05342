/*
 * workloadapi.c - the Workload API client: one connection, one HTTP/2
 * session and one thread per client.
 *
 * The thread owns the socket and the session; callers never touch them.
 * Everything shared (calls, watches, events) is guarded by c->mu, which
 * the thread also holds while it feeds the session, so the session's
 * callbacks update calls directly.  The thread lets go of the lock only
 * to connect, poll, read, and run watcher callbacks (with the decoding
 * that precedes them), so callers are never held up by the peer.
 *
 * A call is unary (FetchJWTSVID, ValidateJWTSVID: one message, then the
 * status), first-message (the one-shot fetches: the first message ends
 * it and the stream is reset with CANCEL) or a watch's stream (every
 * message is an update; the end is an error and, unless final, a retry
 * after the watch's backoff).  Received DATA is handed back to flow
 * control as soon as it is copied into the call's deframer, so a
 * message larger than the window still arrives; memory is bounded by
 * max_message per stream.
 */
#include "workloadapi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "clock.h"
#include "grpc.h"
#include "h2.h"
#include "thread.h"
#include "wlapi_msg.h"

#define DEFAULT_TIMEOUT_MS 30000
#define READ_CHUNK 16384
#define NEVER INT64_MAX

enum { CALL_UNARY, CALL_FIRST, CALL_WATCH };
enum { CS_QUEUED, CS_OPEN, CS_DONE };

struct call {
	struct call *next;
	int method, kind, state;
	uint8_t *req;                   /* framed request */
	size_t req_len, req_sent;
	uint32_t stream;                /* 0: none (queued or detached) */
	int headers_done;
	int have_status;                /* st holds the outcome so far */
	spiffe_grpc_status st;
	spiffe_grpc_deframer df;
	uint8_t *msg;                   /* unary and first: the response */
	size_t msg_len;
	int64_t deadline;               /* monotonic ms, NEVER for watches */
	int abandoned;                  /* the caller left; free when done */
	struct spiffe_wlapi_watch *w;   /* CALL_WATCH */
};

struct spiffe_wlapi_watch {
	struct spiffe_wlapi_watch *next;
	spiffe_wlapi_client *c;
	int kind;                       /* enum spiffe_wlapi_stream */
	spiffe_wlapi_watcher cb;
	struct call *call;              /* the open stream, if any */
	int64_t retry_at;               /* when to open the next stream */
	unsigned failures;              /* since the last update: backoff */
	int final;                      /* a final error was queued */
	int final_done;                 /* ... and delivered */
	int stop_queued;                /* the stop's event is queued */
	int stopping;                   /* spiffe_wlapi_watch_stop called */
	int stopped;                    /* no callback of it will run */
	int in_cb;                      /* one of its callbacks runs now */
	int self_free;                  /* the thread frees it (see stop) */
};

/* What the thread reports to a watch, in order, outside the lock. */
struct event {
	struct event *next;
	struct spiffe_wlapi_watch *w;
	uint8_t *msg;                   /* an update, or NULL for an error */
	size_t msg_len;
	int err, final, retry;          /* retry: schedule the next stream */
	char text[SPIFFE_ERRBUF_SIZE];
};

struct spiffe_wlapi_client {
	spiffe_addr addr;
	int timeout_ms;
	size_t max_message;
	int omit_header;

	pthread_mutex_t mu;
	pthread_cond_t cv;              /* calls done, callbacks finished */
	pthread_t thread;
	int wake_fd;
	int stop;

	struct call *calls;
	size_t ncalls;
	struct spiffe_wlapi_watch *watches;
	struct event *ev_head, **ev_tail;

	/* the connection, the thread's alone */
	int fd;
	int goaway;
	char goaway_text[160];
	spiffe_h2_session h2;
	uint8_t rbuf[READ_CHUNK];
};

/*
 * For results that need no handling: a reset of a stream that already
 * closed, a consume or drain of what was just delivered or sent.
 */
static void ignore(int rc)
{
	(void)rc;
}

void spiffe_wlapi_options_init(spiffe_wlapi_options *o)
{
	memset(o, 0, sizeof(*o));
}

static void wake(spiffe_wlapi_client *c)
{
	uint64_t one = 1;

	/* A full counter already means "wake up". */
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static int on_thread(const spiffe_wlapi_client *c)
{
	return pthread_equal(pthread_self(), c->thread);
}

/* ---- calls ------------------------------------------------------------- */

static void call_free(struct call *k)
{
	spiffe_grpc_deframer_free(&k->df);
	free(k->req);
	free(k->msg);
	free(k);
}

static void call_unlink(spiffe_wlapi_client *c, struct call *k)
{
	for (struct call **p = &c->calls; *p != NULL; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			c->ncalls--;
			return;
		}
	}
}

static struct call *call_by_stream(spiffe_wlapi_client *c, uint32_t id)
{
	for (struct call *k = c->calls; k != NULL; k = k->next) {
		if (k->state == CS_OPEN && k->stream == id)
			return k;
	}
	return NULL;
}

static struct call *call_new(spiffe_wlapi_client *c, int method, int kind,
			     uint8_t *req, size_t req_len)
{
	struct call *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->method = method;
	k->kind = kind;
	k->req = req;
	k->req_len = req_len;
	k->deadline = NEVER;
	spiffe_grpc_deframer_init(&k->df, c->max_message);
	return k;
}

static void push_event(spiffe_wlapi_client *c, struct event *e)
{
	e->next = NULL;
	*c->ev_tail = e;
	c->ev_tail = &e->next;
}

/* Resets the call's stream if it is still open, and forgets it. */
static void detach(spiffe_wlapi_client *c, struct call *k)
{
	if (k->stream != 0 && c->fd >= 0) {
		/* The stream may already be closed; nothing to undo then. */
		ignore(spiffe_h2_reset(&c->h2, k->stream, SPIFFE_H2_CANCEL));
	}
	k->stream = 0;
}

static void watch_failed(spiffe_wlapi_client *c, struct spiffe_wlapi_watch *w,
			 const spiffe_grpc_status *st);

/*
 * Ends call k with outcome st (st->err 0: success, the message is in
 * k->msg).  A caller waiting for it wakes; an abandoned call is freed;
 * a watch's stream becomes an error event for its watch.
 */
static void finish(spiffe_wlapi_client *c, struct call *k,
		   const spiffe_grpc_status *st)
{
	detach(c, k);
	if (&k->st != st)
		k->st = *st;
	k->have_status = 1;
	k->state = CS_DONE;
	if (k->kind == CALL_WATCH) {
		struct spiffe_wlapi_watch *w = k->w;
		spiffe_grpc_status copy = *st;

		call_unlink(c, k);
		call_free(k);
		if (w != NULL) {
			w->call = NULL;
			watch_failed(c, w, &copy);
		}
		return;
	}
	if (k->abandoned) {
		call_unlink(c, k);
		call_free(k);
		return;
	}
	pthread_cond_broadcast(&c->cv);
}

static void finish_with(spiffe_wlapi_client *c, struct call *k, int err,
			int code, const char *text)
{
	spiffe_grpc_status st;

	spiffe_grpc_status_set(&st, err, code, "%s", text);
	finish(c, k, &st);
}

/* ---- watches ----------------------------------------------------------- */

/*
 * When w's next stream opens after one more failure: go-spiffe's linear
 * backoff, 1 s, 2 s, 3 s ... 30 s, 30 s, with no jitter.
 */
static int64_t next_attempt(struct spiffe_wlapi_watch *w)
{
	int64_t ms = (int64_t)(w->failures + 1) * 1000;

	if (ms >= SPIFFE_WLAPI_BACKOFF_MAX_MS)
		ms = SPIFFE_WLAPI_BACKOFF_MAX_MS;
	else
		w->failures++;
	return spiffe_monotonic_ms() + ms;
}

/* A watch's stream ended: report it; retry unless it is final. */
static void watch_failed(spiffe_wlapi_client *c, struct spiffe_wlapi_watch *w,
			 const spiffe_grpc_status *st)
{
	struct event *e;
	int err = st->err, code = st->code;
	const char *text = st->msg;
	spiffe_grpc_status eos;

	if (w->stopping || w->final)
		return;
	if (err == 0) {
		/* go-spiffe sees io.EOF, which gRPC reports as Unknown. */
		spiffe_grpc_status_set(&eos, SPIFFE_ERR_CLOSED,
				       SPIFFE_GRPC_UNKNOWN, "stream ended");
		err = eos.err;
		code = eos.code;
		text = eos.msg;
	}
	w->retry_at = NEVER;    /* set when the event is delivered */
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		/* Cannot report; still retry. */
		w->retry_at = next_attempt(w);
		return;
	}
	e->w = w;
	e->err = err;
	e->final = code == SPIFFE_GRPC_INVALID_ARGUMENT &&
		   err == SPIFFE_ERR_GRPC;
	e->retry = !e->final;
	if (e->final)
		w->final = 1;
	snprintf(e->text, sizeof(e->text), "%s: %s",
		 spiffe_grpc_code_name(code), text);
	push_event(c, e);
}

static int watch_method(int kind)
{
	switch (kind) {
	case SPIFFE_WLAPI_X509_CONTEXT: return SPIFFE_WLAPI_FETCH_X509_SVID;
	case SPIFFE_WLAPI_X509_BUNDLES: return SPIFFE_WLAPI_FETCH_X509_BUNDLES;
	case SPIFFE_WLAPI_JWT_BUNDLES: return SPIFFE_WLAPI_FETCH_JWT_BUNDLES;
	}
	return -1;
}

static uint8_t *empty_request(size_t *len)
{
	uint8_t *r = malloc(SPIFFE_GRPC_PREFIX);

	if (r != NULL)
		spiffe_grpc_prefix(r, 0);
	*len = SPIFFE_GRPC_PREFIX;
	return r;
}

/* Opens the watch's next stream (queued for the connection). */
static void watch_open(spiffe_wlapi_client *c, struct spiffe_wlapi_watch *w)
{
	size_t len;
	uint8_t *req = empty_request(&len);
	struct call *k = NULL;

	if (req != NULL)
		k = call_new(c, watch_method(w->kind), CALL_WATCH, req, len);
	if (k == NULL) {
		free(req);
		w->retry_at = next_attempt(w);
		return;
	}
	k->w = w;
	k->next = c->calls;
	c->calls = k;
	c->ncalls++;
	w->call = k;
}

/* Drops the events still queued for w. */
static void drop_events(spiffe_wlapi_client *c, struct spiffe_wlapi_watch *w)
{
	struct event **p = &c->ev_head;

	while (*p != NULL) {
		struct event *e = *p;

		if (e->w == w) {
			*p = e->next;
			free(e->msg);
			free(e);
		} else {
			p = &e->next;
		}
	}
	c->ev_tail = &c->ev_head;
	while (*c->ev_tail != NULL)
		c->ev_tail = &(*c->ev_tail)->next;
}

/*
 * Decodes an update for w and calls its callback, or reports why the
 * update was bad (the stream goes on).  Returns 1 if an update went out.
 */
static int deliver_update(struct spiffe_wlapi_watch *w, const uint8_t *p,
			  size_t len)
{
	spiffe_errbuf eb;
	int rc;

	eb.msg[0] = '\0';
	if (w->kind == SPIFFE_WLAPI_X509_CONTEXT) {
		spiffe_x509_context *ctx;

		rc = spiffe_wlapi_parse_x509_context(p, len, &ctx, &eb);
		if (rc == 0) {
			w->cb.x509_context(w->cb.arg, ctx);
			spiffe_x509_context_unref(ctx);
			return 1;
		}
	} else {
		spiffe_bundle_set *set;

		if (w->kind == SPIFFE_WLAPI_X509_BUNDLES)
			rc = spiffe_wlapi_parse_x509_bundles(p, len, &set,
							     &eb);
		else
			rc = spiffe_wlapi_parse_jwt_bundles(p, len, &set, &eb);
		if (rc == 0) {
			if (w->kind == SPIFFE_WLAPI_X509_BUNDLES)
				w->cb.x509_bundles(w->cb.arg, set);
			else
				w->cb.jwt_bundles(w->cb.arg, set);
			spiffe_bundle_set_unref(set);
			return 1;
		}
	}
	if (w->cb.error != NULL)
		w->cb.error(w->cb.arg, rc, eb.msg, 0);
	return 0;
}

/*
 * Runs the queued events, each with the lock released.  Called and
 * returns with c->mu held.
 */
static void deliver(spiffe_wlapi_client *c)
{
	struct event *e;

	while ((e = c->ev_head) != NULL) {
		struct spiffe_wlapi_watch *w = e->w;
		int updated = 0;

		c->ev_head = e->next;
		if (c->ev_head == NULL)
			c->ev_tail = &c->ev_head;
		/* After a stop request only the stop itself is reported. */
		int stop_event = e->final && e->err == SPIFFE_ERR_CANCELED;

		if (!w->stopped && (!w->stopping || stop_event)) {
			w->in_cb = 1;
			pthread_mutex_unlock(&c->mu);
			if (e->msg != NULL)
				updated = deliver_update(w, e->msg,
							 e->msg_len);
			else if (w->cb.error != NULL)
				w->cb.error(w->cb.arg, e->err, e->text,
					    e->final);
			pthread_mutex_lock(&c->mu);
			w->in_cb = 0;
		}
		if (updated)
			w->failures = 0;
		if (e->retry && !w->stopping)
			w->retry_at = next_attempt(w);
		if (e->final)
			w->final_done = 1;
		if (e->final && e->err == SPIFFE_ERR_CANCELED)
			w->stopped = 1;
		free(e->msg);
		free(e);
		pthread_cond_broadcast(&c->cv);
		if (w->stopped && w->self_free) {
			for (struct spiffe_wlapi_watch **p = &c->watches;
			     *p != NULL; p = &(*p)->next) {
				if (*p == w) {
					*p = w->next;
					break;
				}
			}
			drop_events(c, w);
			free(w);
		}
	}
}

/* ---- the session's callbacks (the thread, inside feed/output) --------- */

static void on_headers(void *ctx, uint32_t stream, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	spiffe_wlapi_client *c = ctx;
	struct call *k = call_by_stream(c, stream);
	spiffe_grpc_status st;

	if (k == NULL || k->have_status)
		return;
	if (!k->headers_done) {
		int r = spiffe_grpc_response_headers(
			h, n, (flags & SPIFFE_H2_END_STREAM) != 0, &st);

		if (r == SPIFFE_GRPC_HEADERS_INFO)
			return;
		k->headers_done = 1;
		if (r == SPIFFE_GRPC_HEADERS_OK)
			return;
	} else {
		(void)spiffe_grpc_response_trailers(h, n, &st);
	}
	/* The outcome is known; the close reports it. */
	k->st = st;
	k->have_status = 1;
	if (!(flags & SPIFFE_H2_END_STREAM))
		ignore(spiffe_h2_reset(&c->h2, stream, SPIFFE_H2_CANCEL));
}

static void stream_error(spiffe_wlapi_client *c, struct call *k, int err,
			 const char *text)
{
	int code = err == SPIFFE_ERR_LIMIT || err == SPIFFE_ERR_NOMEM ?
		   SPIFFE_GRPC_RESOURCE_EXHAUSTED : SPIFFE_GRPC_INTERNAL;

	finish_with(c, k, err, code, text);
}

/* Takes a complete message; returns 1 if that ended the call (k may be
 * gone). */
static int on_message(spiffe_wlapi_client *c, struct call *k, uint8_t *msg,
		      size_t len)
{
	struct event *e;

	switch (k->kind) {
	case CALL_FIRST:
		k->msg = msg;
		k->msg_len = len;
		finish_with(c, k, 0, SPIFFE_GRPC_OK, "");
		return 1;
	case CALL_UNARY:
		if (k->msg != NULL) {
			free(msg);
			stream_error(c, k, SPIFFE_ERR_PROTOCOL, "grpc: more "
				     "than one message in a unary response");
			return 1;
		}
		k->msg = msg;
		k->msg_len = len;
		return 0;
	}
	if (k->w == NULL || k->w->stopping ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		free(msg);
		return 0;
	}
	e->w = k->w;
	e->msg = msg;
	e->msg_len = len;
	push_event(c, e);
	return 0;
}

static void on_data(void *ctx, uint32_t stream, const uint8_t *p,
		    size_t len, int end_stream)
{
	spiffe_wlapi_client *c = ctx;
	struct call *k = call_by_stream(c, stream);
	spiffe_errbuf eb;

	/* Every byte goes back to flow control at once: it is copied. */
	if (len > 0)
		ignore(spiffe_h2_consume(&c->h2, stream, len));
	while (k != NULL && !k->have_status && len > 0) {
		size_t used, mlen;
		uint8_t *msg;
		int rc = spiffe_grpc_deframer_feed(&k->df, p, len, &used,
						   &msg, &mlen, &eb);

		if (rc < 0) {
			stream_error(c, k, rc, eb.msg);
			return;
		}
		p += used;
		len -= used;
		if (rc == 1 && on_message(c, k, msg, mlen))
			return;
	}
	(void)end_stream;
}

static void on_stream_close(void *ctx, uint32_t stream, uint32_t code)
{
	spiffe_wlapi_client *c = ctx;
	struct call *k = call_by_stream(c, stream);
	spiffe_grpc_status st;

	if (k == NULL)
		return;
	k->stream = 0;
	if (k->have_status) {
		st = k->st;
	} else if (code != SPIFFE_H2_NO_ERROR) {
		spiffe_grpc_status_from_reset(&st, code);
	} else {
		spiffe_grpc_status_set(&st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL, "server closed "
				       "the stream without sending trailers");
	}
	if (st.err == 0 && spiffe_grpc_deframer_partial(&k->df))
		spiffe_grpc_status_set(&st, SPIFFE_ERR_PROTOCOL,
				       SPIFFE_GRPC_INTERNAL, "grpc: stream "
				       "ended inside a message");
	if (st.err == 0 && k->kind != CALL_WATCH && k->msg == NULL)
		spiffe_grpc_status_set(&st, SPIFFE_ERR_PROTOCOL,
				       k->kind == CALL_UNARY ?
				       SPIFFE_GRPC_INTERNAL :
				       SPIFFE_GRPC_UNKNOWN,
				       "stream ended without a response");
	finish(c, k, &st);
}

static void on_goaway(void *ctx, uint32_t last_stream, uint32_t code,
		      const uint8_t *debug, size_t len)
{
	spiffe_wlapi_client *c = ctx;
	size_t n = 0;
	char text[SPIFFE_H2_MAX_GOAWAY_DEBUG + 1];

	for (size_t i = 0; i < len && n < sizeof(text) - 1; i++)
		text[n++] = debug[i] < 0x20 || debug[i] > 0x7e ? '?' :
			    (char)debug[i];
	text[n] = '\0';
	c->goaway = 1;
	snprintf(c->goaway_text, sizeof(c->goaway_text), "server sent "
		 "GOAWAY (error code %u%s%.100s)", (unsigned)code,
		 n ? ": " : "", text);
	(void)last_stream;
}

/* ---- the connection ---------------------------------------------------- */

/* Ends the connection: every open call fails with err, code, text. */
static void conn_close(spiffe_wlapi_client *c, int err, int code,
		       const char *text)
{
	spiffe_grpc_status st;
	struct call *k, *next;

	if (c->fd < 0)
		return;
	spiffe_grpc_status_set(&st, err, code, "%s", text);
	for (k = c->calls; k != NULL; k = next) {
		next = k->next;
		if (k->state == CS_OPEN) {
			k->stream = 0;
			finish(c, k, &st);
		}
	}
	spiffe_h2_free(&c->h2);
	close(c->fd);
	c->fd = -1;
	c->goaway = 0;
}

/* Fails every queued call (the endpoint could not be reached). */
static void fail_queued(spiffe_wlapi_client *c, int err, const char *text)
{
	struct call *k, *next;

	for (k = c->calls; k != NULL; k = next) {
		next = k->next;
		if (k->state == CS_QUEUED)
			finish_with(c, k, err, SPIFFE_GRPC_UNAVAILABLE, text);
	}
}

static int conn_open(spiffe_wlapi_client *c)
{
	static const spiffe_h2_callbacks cb = {
		on_headers, on_data, on_stream_close, on_goaway, NULL,
	};
	spiffe_h2_options opt;
	spiffe_errbuf eb;
	int fd;

	pthread_mutex_unlock(&c->mu);
	fd = spiffe_addr_connect(&c->addr, &eb);
	pthread_mutex_lock(&c->mu);
	if (fd < 0) {
		fail_queued(c, SPIFFE_ERR_IO, eb.msg);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		close(fd);
		fail_queued(c, SPIFFE_ERR_IO, "fcntl(O_NONBLOCK) failed");
		return -1;
	}
	memset(&opt, 0, sizeof(opt));
	opt.stream_window = SPIFFE_WLAPI_STREAM_WINDOW;
	opt.conn_window = SPIFFE_WLAPI_CONN_WINDOW;
	if (spiffe_h2_init(&c->h2, SPIFFE_H2_CLIENT, &cb, c, &opt) != 0) {
		spiffe_h2_free(&c->h2);
		close(fd);
		fail_queued(c, SPIFFE_ERR_NOMEM, "out of memory");
		return -1;
	}
	c->fd = fd;
	c->goaway = 0;
	return 0;
}

/* Sends what the session has queued; 1 if some is left (EAGAIN). */
static int conn_flush(spiffe_wlapi_client *c)
{
	const uint8_t *p;
	size_t n;
	ssize_t k;

	while (c->fd >= 0) {
		if (spiffe_h2_output(&c->h2, &p, &n) != 0 || n == 0)
			return 0;
		k = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (k <= 0) {
			char text[96];

			snprintf(text, sizeof(text), "connection error: %s",
				 strerror(errno));
			conn_close(c, SPIFFE_ERR_CLOSED,
				   SPIFFE_GRPC_UNAVAILABLE, text);
			return 0;
		}
		ignore(spiffe_h2_output_consumed(&c->h2, (size_t)k));
	}
	return 0;
}

/* Opens queued calls' streams and sends their requests. */
static void conn_submit(spiffe_wlapi_client *c)
{
	for (struct call *k = c->calls; k != NULL && c->fd >= 0;
	     k = k->next) {
		size_t acc;
		int rc;

		if (k->state == CS_QUEUED) {
			spiffe_grpc_request r;
			uint32_t id;

			spiffe_grpc_request_init(&r,
				spiffe_wlapi_method_path(k->method),
				"localhost");
			if (!c->omit_header)
				ignore(spiffe_grpc_request_add(&r,
					"workload.spiffe.io", "true"));
			rc = spiffe_h2_submit_request(&c->h2, r.h, r.n, 0,
						      &id);
			if (rc == SPIFFE_ERR_AGAIN)
				return;
			if (rc == SPIFFE_ERR_CLOSED) {
				/* Stream ids used up, or GOAWAY: anew. */
				conn_close(c, SPIFFE_ERR_CLOSED,
					   SPIFFE_GRPC_UNAVAILABLE,
					   "connection is closing");
				return;
			}
			if (rc != 0) {
				finish_with(c, k, rc, SPIFFE_GRPC_INTERNAL,
					    spiffe_h2_errmsg(&c->h2));
				return;         /* the list changed */
			}
			k->stream = id;
			k->state = CS_OPEN;
		}
		if (k->state != CS_OPEN || k->stream == 0 ||
		    k->req_sent == k->req_len)
			continue;
		rc = spiffe_h2_send_data(&c->h2, k->stream,
					 k->req + k->req_sent,
					 k->req_len - k->req_sent, 1, &acc);
		if (rc == 0)
			k->req_sent += acc;
	}
}

/* Reads what the socket has and feeds it to the session. */
static void conn_read(spiffe_wlapi_client *c)
{
	ssize_t n;

	pthread_mutex_unlock(&c->mu);
	do {
		n = recv(c->fd, c->rbuf, sizeof(c->rbuf), MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	pthread_mutex_lock(&c->mu);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		char text[96];

		snprintf(text, sizeof(text), "connection %s",
			 n == 0 ? "closed by the server" : strerror(errno));
		conn_close(c, SPIFFE_ERR_CLOSED, SPIFFE_GRPC_UNAVAILABLE,
			   text);
		return;
	}
	if (spiffe_h2_feed(&c->h2, c->rbuf, (size_t)n) != 0) {
		char text[SPIFFE_ERRBUF_SIZE];

		snprintf(text, sizeof(text), "connection error: %s",
			 spiffe_h2_errmsg(&c->h2));
		/* Our GOAWAY says why; then the connection goes. */
		(void)conn_flush(c);
		conn_close(c, SPIFFE_ERR_PROTOCOL, SPIFFE_GRPC_INTERNAL,
			   text);
		return;
	}
	if (c->goaway) {
		char text[sizeof(c->goaway_text)];

		memcpy(text, c->goaway_text, sizeof(text));
		conn_close(c, SPIFFE_ERR_CLOSED, SPIFFE_GRPC_UNAVAILABLE,
			   text);
	}
}

/* ---- the thread -------------------------------------------------------- */

/*
 * Timers and the watches' and callers' requests; returns the time of
 * the next timer.
 */
static int64_t housekeeping(spiffe_wlapi_client *c, int64_t now)
{
	int64_t next = NEVER;
	struct call *k, *knext;

	for (k = c->calls; k != NULL; k = knext) {
		knext = k->next;
		if (k->abandoned) {
			detach(c, k);
			call_unlink(c, k);
			call_free(k);
		} else if (k->state != CS_DONE && k->deadline <= now) {
			finish_with(c, k, SPIFFE_ERR_TIMEOUT,
				    SPIFFE_GRPC_DEADLINE_EXCEEDED,
				    "context deadline exceeded");
		} else if (k->state != CS_DONE && k->deadline < next) {
			next = k->deadline;
		}
	}
	for (struct spiffe_wlapi_watch *w = c->watches; w != NULL;
	     w = w->next) {
		if (w->stopping || c->stop) {
			if (w->stopped || w->self_free || w->stop_queued)
				continue;
			if (w->call != NULL) {
				struct call *wk = w->call;

				w->call = NULL;
				wk->w = NULL;
				detach(c, wk);
				call_unlink(c, wk);
				call_free(wk);
			}
			w->stopping = 1;
			drop_events(c, w);
			struct event *e = NULL;

			if (w->final_done ||
			    (e = calloc(1, sizeof(*e))) == NULL) {
				/* Nothing more to report: stopped now. */
				w->stopped = 1;
				pthread_cond_broadcast(&c->cv);
				continue;
			}
			e->w = w;
			e->err = SPIFFE_ERR_CANCELED;
			e->final = 1;
			w->final = w->stop_queued = 1;
			snprintf(e->text, sizeof(e->text), "Canceled: %s",
				 c->stop ? "client closed" : "watch stopped");
			push_event(c, e);
			continue;
		}
		if (w->call != NULL || w->final)
			continue;
		if (w->retry_at <= now)
			watch_open(c, w);
		else if (w->retry_at < next)
			next = w->retry_at;
	}
	return next;
}

static int has_queued(const spiffe_wlapi_client *c)
{
	for (const struct call *k = c->calls; k != NULL; k = k->next) {
		if (k->state == CS_QUEUED)
			return 1;
	}
	return 0;
}

static void *run(void *arg)
{
	spiffe_wlapi_client *c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct pollfd pf[2];
		int64_t now = spiffe_monotonic_ms(), next;
		int timeout, nfd = 1, want_write = 0;

		next = housekeeping(c, now);
		if (c->stop) {
			conn_close(c, SPIFFE_ERR_CANCELED,
				   SPIFFE_GRPC_CANCELLED, "client closed");
			fail_queued(c, SPIFFE_ERR_CANCELED, "client closed");
			deliver(c);
			break;
		}
		if (has_queued(c) && c->fd < 0)
			(void)conn_open(c);
		if (c->fd >= 0) {
			conn_submit(c);
			want_write = conn_flush(c);
		}
		if (c->ev_head != NULL) {
			deliver(c);
			continue;       /* callbacks may have changed things */
		}
		if (next == NEVER) {
			timeout = -1;
		} else {
			int64_t d = next - spiffe_monotonic_ms();

			timeout = d < 0 ? 0 : d > 60000 ? 60000 : (int)d + 1;
		}
		pf[0].fd = c->wake_fd;
		pf[0].events = POLLIN;
		if (c->fd >= 0) {
			pf[1].fd = c->fd;
			pf[1].events = (short)(POLLIN |
					       (want_write ? POLLOUT : 0));
			nfd = 2;
		}
		pthread_mutex_unlock(&c->mu);
		int n = poll(pf, (nfds_t)nfd, timeout);
		if (n > 0 && (pf[0].revents & POLLIN)) {
			uint64_t v;

			if (read(c->wake_fd, &v, sizeof(v)) < 0)
				v = 0;
		}
		pthread_mutex_lock(&c->mu);
		if (n > 0 && nfd == 2 && c->fd >= 0 &&
		    (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
			conn_read(c);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the client -------------------------------------------------------- */

int spiffe_wlapi_client_new(spiffe_wlapi_client **out,
			    const spiffe_wlapi_options *o, spiffe_errbuf *eb)
{
	spiffe_wlapi_options def;
	spiffe_wlapi_client *c;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (o == NULL) {
		spiffe_wlapi_options_init(&def);
		o = &def;
	}
	if (o->timeout_ms < 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "negative timeout");
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if ((rc = spiffe_addr_resolve(&c->addr, o->address, eb)) != 0) {
		free(c);
		return rc;
	}
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->max_message = o->max_message ? o->max_message :
			 SPIFFE_GRPC_MAX_MESSAGE;
	c->omit_header = o->omit_header;
	c->fd = -1;
	c->ev_tail = &c->ev_head;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0) {
		free(c);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "eventfd: %s",
				   strerror(errno));
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = spiffe_thread_create(&c->thread, NULL, run, c)) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		close(c->wake_fd);
		free(c);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "pthread_create: %s",
				   strerror(rc));
	}
	*out = c;
	return 0;
}

void spiffe_wlapi_client_free(spiffe_wlapi_client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	wake(c);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	while (c->calls != NULL) {
		struct call *k = c->calls;

		c->calls = k->next;
		call_free(k);
	}
	while (c->watches != NULL) {
		struct spiffe_wlapi_watch *w = c->watches;

		c->watches = w->next;
		free(w);
	}
	while (c->ev_head != NULL) {
		struct event *e = c->ev_head;

		c->ev_head = e->next;
		free(e->msg);
		free(e);
	}
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	close(c->wake_fd);
	free(c);
}

static void deadline_ts(struct timespec *ts, int64_t deadline_ms)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = deadline_ms - spiffe_monotonic_ms();
	if (ms < 0)
		ms = 0;
	ts->tv_sec = now.tv_sec + (time_t)(ms / 1000);
	ts->tv_nsec = now.tv_nsec + (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/*
 * Runs one call of method with request req[0..len) (framed, taken
 * over) and waits for its outcome: 0 with the response in *msg (the
 * caller frees it), or the error with eb set.
 */
static int do_call(spiffe_wlapi_client *c, int method, int kind,
		   uint8_t *req, size_t len, uint8_t **msg, size_t *msg_len,
		   spiffe_errbuf *eb)
{
	struct call *k;
	struct timespec ts;
	int rc;

	*msg = NULL;
	*msg_len = 0;
	if (c == NULL) {
		free(req);
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "no client");
	}
	if (on_thread(c)) {
		free(req);
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "a Workload API call "
				   "cannot be made from a watch callback");
	}
	if ((k = call_new(c, method, kind, req, len)) == NULL) {
		free(req);
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	k->deadline = spiffe_monotonic_ms() + c->timeout_ms;
	pthread_mutex_lock(&c->mu);
	if (c->ncalls >= SPIFFE_WLAPI_MAX_CALLS) {
		pthread_mutex_unlock(&c->mu);
		call_free(k);
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d calls "
				   "in progress", SPIFFE_WLAPI_MAX_CALLS);
	}
	k->next = c->calls;
	c->calls = k;
	c->ncalls++;
	wake(c);
	/* The thread enforces the deadline; this wait is a backstop for a
	 * thread stuck connecting. */
	deadline_ts(&ts, k->deadline + 1000);
	while (k->state != CS_DONE) {
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT &&
		    k->state != CS_DONE) {
			k->abandoned = 1;
			wake(c);
			pthread_mutex_unlock(&c->mu);
			return spiffe_fail(eb, SPIFFE_ERR_TIMEOUT,
					   "DeadlineExceeded: context "
					   "deadline exceeded");
		}
	}
	call_unlink(c, k);
	pthread_mutex_unlock(&c->mu);
	rc = k->st.err;
	if (rc == 0) {
		*msg = k->msg;
		*msg_len = k->msg_len;
		k->msg = NULL;
	} else {
		(void)spiffe_grpc_status_fail(&k->st, eb);
	}
	call_free(k);
	return rc;
}

static int fetch_first(spiffe_wlapi_client *c, int method, uint8_t **msg,
		       size_t *len, spiffe_errbuf *eb)
{
	size_t rlen;
	uint8_t *req = empty_request(&rlen);

	if (req == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	return do_call(c, method, CALL_FIRST, req, rlen, msg, len, eb);
}

int spiffe_wlapi_fetch_x509_context(spiffe_wlapi_client *c,
				    spiffe_x509_context **out,
				    spiffe_errbuf *eb)
{
	uint8_t *msg;
	size_t len;
	int rc;

	*out = NULL;
	rc = fetch_first(c, SPIFFE_WLAPI_FETCH_X509_SVID, &msg, &len, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_wlapi_parse_x509_context(msg, len, out, eb);
	free(msg);
	return rc;
}

int spiffe_wlapi_fetch_x509_bundles(spiffe_wlapi_client *c,
				    spiffe_bundle_set **out,
				    spiffe_errbuf *eb)
{
	uint8_t *msg;
	size_t len;
	int rc;

	*out = NULL;
	rc = fetch_first(c, SPIFFE_WLAPI_FETCH_X509_BUNDLES, &msg, &len, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_wlapi_parse_x509_bundles(msg, len, out, eb);
	free(msg);
	return rc;
}

int spiffe_wlapi_fetch_jwt_bundles(spiffe_wlapi_client *c,
				   spiffe_bundle_set **out, spiffe_errbuf *eb)
{
	uint8_t *msg;
	size_t len;
	int rc;

	*out = NULL;
	rc = fetch_first(c, SPIFFE_WLAPI_FETCH_JWT_BUNDLES, &msg, &len, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_wlapi_parse_jwt_bundles(msg, len, out, eb);
	free(msg);
	return rc;
}

int spiffe_wlapi_fetch_jwt_svids(spiffe_wlapi_client *c,
				 const char *const *aud, size_t naud,
				 const char *sid,
				 spiffe_wlapi_jwt **out, size_t *n,
				 spiffe_errbuf *eb)
{
	uint8_t *req, *msg;
	size_t rlen, len;
	int rc;

	*out = NULL;
	*n = 0;
	rc = spiffe_wlapi_encode_jwt_request(aud, naud, sid, &req,
					     &rlen, eb);
	if (rc != 0)
		return rc;
	rc = do_call(c, SPIFFE_WLAPI_FETCH_JWT_SVID, CALL_UNARY, req, rlen,
		     &msg, &len, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_wlapi_parse_jwt_svids(msg, len, aud, naud, out, n, eb);
	free(msg);
	return rc;
}

int spiffe_wlapi_validate_jwt(spiffe_wlapi_client *c, const char *token,
			      size_t len, const char *audience,
			      spiffe_jwt_svid *out, char **claims_json,
			      spiffe_errbuf *eb)
{
	uint8_t *req, *msg;
	size_t rlen, mlen;
	int rc;

	if (claims_json != NULL)
		*claims_json = NULL;
	rc = spiffe_wlapi_encode_validate_request(audience, token, len, &req,
						  &rlen, eb);
	if (rc != 0)
		return rc;
	rc = do_call(c, SPIFFE_WLAPI_VALIDATE_JWT_SVID, CALL_UNARY, req,
		     rlen, &msg, &mlen, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_wlapi_parse_validate(msg, mlen, token, len, audience, out,
					 claims_json, eb);
	free(msg);
	return rc;
}

/* ---- watches: the API -------------------------------------------------- */

int spiffe_wlapi_watch_start(spiffe_wlapi_client *c, int kind,
			     const spiffe_wlapi_watcher *cb,
			     spiffe_wlapi_watch **out, spiffe_errbuf *eb)
{
	struct spiffe_wlapi_watch *w;
	int ok;

	*out = NULL;
	if (c == NULL || cb == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "no client or watcher");
	ok = (kind == SPIFFE_WLAPI_X509_CONTEXT && cb->x509_context) ||
	     (kind == SPIFFE_WLAPI_X509_BUNDLES && cb->x509_bundles) ||
	     (kind == SPIFFE_WLAPI_JWT_BUNDLES && cb->jwt_bundles);
	if (!ok)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "watch kind %d needs "
				   "its update callback", kind);
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	w->c = c;
	w->kind = kind;
	w->cb = *cb;
	w->retry_at = 0;
	pthread_mutex_lock(&c->mu);
	if (c->stop) {
		pthread_mutex_unlock(&c->mu);
		free(w);
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "client is closing");
	}
	w->next = c->watches;
	c->watches = w;
	wake(c);
	pthread_mutex_unlock(&c->mu);
	*out = w;
	return 0;
}

void spiffe_wlapi_watch_stop(spiffe_wlapi_watch *w)
{
	spiffe_wlapi_client *c;

	if (w == NULL)
		return;
	c = w->c;
	pthread_mutex_lock(&c->mu);
	w->stopping = 1;
	if (on_thread(c)) {
		/*
		 * From a callback on the client's thread: waiting would
		 * deadlock.  Report the stop here, on this same thread, and
		 * let the thread free the watch.
		 */
		int report = !w->final_done;

		w->final = w->final_done = 1;
		w->stopped = 1;
		w->self_free = 1;
		drop_events(c, w);
		if (w->call != NULL) {
			struct call *k = w->call;

			w->call = NULL;
			k->w = NULL;
			detach(c, k);
			call_unlink(c, k);
			call_free(k);
		}
		/* Free it after the callback now running returns. */
		struct event *e = calloc(1, sizeof(*e));
		if (e != NULL) {
			e->w = w;
			e->err = SPIFFE_ERR_CANCELED;
			push_event(c, e);
		}
		pthread_mutex_unlock(&c->mu);
		if (report && w->cb.error != NULL)
			w->cb.error(w->cb.arg, SPIFFE_ERR_CANCELED,
				    "Canceled: watch stopped", 1);
		return;
	}
	wake(c);
	while (!w->stopped || w->in_cb)
		pthread_cond_wait(&c->cv, &c->mu);
	for (struct spiffe_wlapi_watch **p = &c->watches; *p != NULL;
	     p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	free(w);
}
