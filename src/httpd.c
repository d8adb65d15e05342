/*
 * httpd.c - the HTTPS server (see httpd.h).
 *
 * An HTTP/1.x connection moves through these states in the loop thread:
 *
 *   HS ---> HEAD ---> BODY ---> BUSY ---> WRITE ---> IDLE ---> HEAD ...
 *    |       ^          ^  (worker)        |  \
 *    |       |          +-- 100 Continue --+   +--> closed
 *    |       +------------ pipelined bytes ---+
 *    +---> H2 (ALPN "h2": every stream is a job of its own) ---> LINGER
 *
 * LINGER: after GOAWAY for an error, the write side is shut and what
 * the peer still sends is read and dropped for up to LINGER_MS, so the
 * close does not reset the connection before the peer read the GOAWAY
 * (as Go's server does).
 *
 * Only BUSY belongs to a worker (through its job); everything else is
 * touched by the loop thread alone.  An HTTP/2 stream's job belongs to
 * a worker between dispatch and its return, and to the loop otherwise.
 * Closed connections are freed after the current round of events (and
 * after the last of their jobs came back), so a later event of the same
 * round never sees freed memory.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "h2.h"
#include "limits.h"
#include "net.h"
#include "thread.h"

enum {
	S_HS, S_IDLE, S_HEAD, S_BODY, S_BUSY, S_WRITE, S_H2, S_LINGER,
	S_CLOSED
};

/* Where an HTTP/2 stream's job is. */
enum {
	J_RECV = 1,     /* collecting the request body (loop) */
	J_WORK,         /* queued or in the handler (worker) */
	J_HEAD,         /* response ready, headers not yet taken (loop) */
	J_SEND,         /* body being handed to the session (loop) */
	J_SENT,         /* all handed over, the stream not yet closed */
};

#define IN_FIRST 2048
#define H2_READ 16384           /* bytes read from TLS at a time */
#define H2_READS 8              /* reads per event, for fairness */
#define LINGER_MS 1000          /* after GOAWAY for an error */

/*
 * Per-request state: allocated at a request's first byte (HTTP/1.x) or
 * with a stream's request headers (HTTP/2).
 */
struct spiffe_httpd_job {
	struct spiffe_httpd_conn *c;
	spiffe_http_head head;
	spiffe_http_body body;
	size_t consumed;             /* raw body bytes decoded */
	size_t produced;             /* decoded body bytes */
	int continue_sent;
	spiffe_httpd_req req;
	spiffe_httpd_resp resp;
	spiffe_http_kv *kv;          /* head.nfields views, at dispatch */
	struct spiffe_httpd_job *next;   /* in the queue or done list */
	/* HTTP/2 only. */
	uint32_t sid;                /* stream id; 0 for HTTP/1.x */
	int phase;                   /* J_* */
	int head_only;               /* HEAD: no response body */
	atomic_int cancelled;        /* stream gone: skip the handler */
	uint8_t *raw;                /* the head as HTTP/1.1 text */
	uint8_t *in;                 /* request body */
	size_t in_len, in_cap;
	size_t sent;                 /* response body bytes handed over */
	int64_t t0;                  /* when the request headers came */
	int64_t t1;                  /* when its response was ready */
	struct spiffe_httpd_job *snext;  /* the connection's streams */
};

struct spiffe_httpd_conn {
	spiffe_tls_conn tls;
	spiffe_ev ev;
	spiffe_timer timer;
	spiffe_httpd *srv;
	struct spiffe_httpd_conn *prev, *next;
	struct spiffe_httpd_job *job;
	uint8_t *in;                 /* request bytes, from the first */
	size_t in_len, in_cap;
	uint8_t *out;                /* bytes to write */
	size_t out_len, out_off;
	int state;
	int after_write;             /* state after WRITE */
	int keep_alive;
	int hup;                     /* peer gone while BUSY */
	int first;                   /* header timer runs from accept */
	int big_out;                 /* the last response was large */
	char remote[INET6_ADDRSTRLEN]; /* the peer's IP address */
	int64_t t_accept;
	/* HTTP/2 only. */
	spiffe_h2_session *h2;
	struct spiffe_httpd_job *streams;  /* jobs of open streams */
	size_t nstreams;             /* jobs in streams */
	size_t jobs_out;             /* jobs at the workers */
	size_t body_bytes;           /* request bodies held */
	size_t wlen;                 /* a TLS write to repeat, or 0 */
	size_t moved;                /* bytes through TLS since idle */
	int64_t t_progress;          /* last TLS write, or block */
	int64_t t_idle;              /* when the last stream ended */
	int64_t deadline;            /* the timer's, or 0 */
	int64_t rst_t;               /* start of the reset-count second */
	unsigned rst_n;              /* streams the peer reset in it */
	int opened;                  /* a stream was opened */
	int idle;                    /* nothing in flight */
	int goaway;                  /* GOAWAY sent: no new streams */
	int fatal;                   /* close once the output is out */
};

typedef struct spiffe_httpd_conn conn;
typedef struct spiffe_httpd_job job;

static void conn_close(conn *c);
static void conn_read(conn *c);
static void conn_write(conn *c);
static void conn_process(conn *c);
static void begin_drain(spiffe_httpd *s);
static void h2_start(conn *c);
static void h2_event(conn *c);
static void h2_timer(conn *c);
static void h2_job_back(job *j, int run);
static void h2_drain(conn *c);
static void h2_release(conn *c);

static void logmsg(spiffe_httpd *s, const char *fmt, ...)
	SPIFFE_PRINTF(2, 3);

static void logmsg(spiffe_httpd *s, const char *fmt, ...)
{
	char msg[SPIFFE_ERRBUF_SIZE + 64];
	va_list ap;

	if (s->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_arg, msg);
}

/* ---- requests and responses ---------------------------------------- */

static int name_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i];
		unsigned char y = (unsigned char)b[i];

		if (y == '\0')
			return 0;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return 0;
	}
	return b[i] == '\0';
}

int spiffe_httpd_req_header(const spiffe_httpd_req *r, const char *name,
			    const char **val, size_t *len)
{
	int found = 0;

	*val = NULL;
	*len = 0;
	for (size_t i = 0; i < r->nfields; i++) {
		const spiffe_http_kv *f = &r->fields[i];

		if (!name_eq(f->name, f->name_len, name))
			continue;
		if (found)
			return SPIFFE_ERR_HTTP;
		found = 1;
		*val = f->value;
		*len = f->value_len;
	}
	return found ? 0 : SPIFFE_ERR_NOT_FOUND;
}

static int grow(uint8_t **p, size_t *cap, size_t need, size_t limit)
{
	size_t n = *cap ? *cap : 256;
	uint8_t *q;

	if (need <= *cap)
		return 0;
	if (need > limit)
		return SPIFFE_ERR_LIMIT;
	while (n < need)
		n = n > limit / 2 ? limit : n * 2;
	q = realloc(*p, n);
	if (q == NULL)
		return SPIFFE_ERR_NOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int spiffe_httpd_resp_header(spiffe_httpd_resp *r, const char *name,
			     size_t nlen, const char *value, size_t vlen)
{
	size_t need;
	int rc;

	if (nlen == 0 || name_eq(name, nlen, "content-length") ||
	    name_eq(name, nlen, "transfer-encoding") ||
	    name_eq(name, nlen, "connection")) {
		r->err = 1;
		return SPIFFE_ERR_ARG;
	}
	if (r->nfields == SPIFFE_HTTPD_MAX_RESP_FIELDS ||
	    nlen > SPIFFE_HTTP_MAX_HEADER_BLOCK ||
	    vlen > SPIFFE_HTTP_MAX_HEADER_BLOCK) {
		r->err = 1;
		return SPIFFE_ERR_LIMIT;
	}
	need = r->text_len + nlen + vlen;
	rc = grow(&r->text, &r->text_cap, need, SPIFFE_HTTP_MAX_HEADER_BLOCK);
	if (rc != 0) {
		r->err = 1;
		return rc;
	}
	r->f[r->nfields].noff = (uint32_t)r->text_len;
	r->f[r->nfields].nlen = (uint32_t)nlen;
	memcpy(r->text + r->text_len, name, nlen);
	r->text_len += nlen;
	r->f[r->nfields].voff = (uint32_t)r->text_len;
	r->f[r->nfields].vlen = (uint32_t)vlen;
	if (vlen > 0)        /* an empty value may be given as NULL, 0 */
		memcpy(r->text + r->text_len, value, vlen);
	r->text_len += vlen;
	r->nfields++;
	return 0;
}

int spiffe_httpd_resp_write(spiffe_httpd_resp *r, const void *data,
			    size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	if (len > SIZE_MAX - r->body_len) {
		r->err = 1;
		return SPIFFE_ERR_LIMIT;
	}
	rc = grow(&r->body, &r->body_cap, r->body_len + len,
		  (size_t)1 << 30);
	if (rc != 0) {
		r->err = 1;
		return rc;
	}
	memcpy(r->body + r->body_len, data, len);
	r->body_len += len;
	return 0;
}

void spiffe_httpd_resp_head_length(spiffe_httpd_resp *r, uint64_t len)
{
	r->head_len = len;
	r->has_head_len = 1;
}

/*
 * The Content-Length of response r (status, bad and body length decided)
 * written into out; its length, or -1 when none is sent: for 204 and 304,
 * and for a HEAD answer whose GET length is unknown.
 */
static int content_length(char *out, size_t cap, const spiffe_httpd_resp *r,
			  int status, int bad, int head_only, size_t blen)
{
	if (status == 204 || status == 304)
		return -1;
	if (head_only && !bad && r->has_head_len && blen == 0) {
		if (r->head_len == SPIFFE_HTTPD_LENGTH_UNKNOWN)
			return -1;
		return snprintf(out, cap, "%llu",
				(unsigned long long)r->head_len);
	}
	return snprintf(out, cap, "%zu", blen);
}

static void resp_free(spiffe_httpd_resp *r)
{
	free(r->text);
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->status = 200;
}

static void job_free(job *j)
{
	if (j == NULL)
		return;
	resp_free(&j->resp);
	free(j->kv);
	free(j->raw);
	free(j->in);
	free(j);
}

/*
 * Renders status, fields, framing and body into c->out.  A response the
 * writer refuses (a handler's bad field) becomes a bare 500.
 */
static int render(conn *c, const spiffe_httpd_resp *r, int head_only)
{
	spiffe_http_kv kv[SPIFFE_HTTPD_MAX_RESP_FIELDS + 2];
	char clen[24];
	size_t n = 0, cap = 128, outlen, blen;
	int status = r->status, rc, bad, send_body, cl;

	bad = r->err || status < 200 || status > 599;
	if (bad)
		status = 500;
	blen = bad ? 0 : r->body_len;
	send_body = !head_only && status != 204 && status != 304 && blen > 0;
	for (size_t i = 0; !bad && i < r->nfields; i++) {
		kv[n].name = (const char *)r->text + r->f[i].noff;
		kv[n].name_len = r->f[i].nlen;
		kv[n].value = (const char *)r->text + r->f[i].voff;
		kv[n].value_len = r->f[i].vlen;
		cap += r->f[i].nlen + r->f[i].vlen + 4;
		n++;
	}
	cl = content_length(clen, sizeof(clen), r, status, bad, head_only,
			    blen);
	if (cl >= 0) {
		kv[n].name = "Content-Length";
		kv[n].name_len = 14;
		kv[n].value = clen;
		kv[n].value_len = (size_t)cl;
		n++;
	}
	if (!c->keep_alive) {
		kv[n].name = "Connection";
		kv[n].name_len = 10;
		kv[n].value = "close";
		kv[n].value_len = 5;
		n++;
	}
	cap += 64 + (send_body ? blen : 0);
	c->out = malloc(cap);
	if (c->out == NULL)
		return SPIFFE_ERR_NOMEM;
	rc = spiffe_http_write_response(c->out, cap, &outlen, status, kv, n,
					NULL);
	if (rc != 0) {
		spiffe_httpd_resp fallback;

		free(c->out);
		c->out = NULL;
		if (bad)
			return rc;
		/* A handler's field the writer refused: answer 500. */
		memset(&fallback, 0, sizeof(fallback));
		fallback.err = 1;
		return render(c, &fallback, 1);
	}
	if (send_body && blen > 0) {
		memcpy(c->out + outlen, r->body, blen);
		outlen += blen;
	}
	c->out_len = outlen;
	c->out_off = 0;
	return 0;
}

/* ---- connection plumbing ------------------------------------------- */

static void set_timer(conn *c, int ms)
{
	if (spiffe_timer_set(&c->srv->loop, &c->timer,
			     spiffe_monotonic_ms() + ms) != 0)
		conn_close(c);
}

/* Waits for what TLS wants (after SPIFFE_ERR_AGAIN), or for nothing. */
static void want(conn *c, int what)
{
	uint32_t ev = what == SPIFFE_TLS_WANT_WRITE ? SPIFFE_EV_OUT :
		      what == SPIFFE_TLS_WANT_READ ? SPIFFE_EV_IN : 0;

	if (spiffe_evloop_mod(&c->srv->loop, &c->ev, ev) != 0)
		conn_close(c);
}

static void reap(spiffe_evloop *l, void *arg)
{
	spiffe_httpd *s = arg;

	(void)l;
	while (s->reap != NULL) {
		conn *c = s->reap;

		s->reap = c->next;
		free(c);
	}
}

/* Frees closed connection c after this round of events. */
static void reap_later(conn *c)
{
	spiffe_httpd *s = c->srv;

	c->next = s->reap;
	s->reap = c;
	if (spiffe_timer_set(&s->loop, &s->reap_timer, 0) != 0)
		logmsg(s, "out of memory: closed connections freed later");
}

static void conn_close(conn *c)
{
	spiffe_httpd *s = c->srv;

	if (c->state == S_CLOSED)
		return;
	if (c->state == S_BUSY) {
		/* The worker owns the job: close when it comes back. */
		c->hup = 1;
		spiffe_evloop_del(&s->loop, &c->ev);
		return;
	}
	spiffe_tls_close_notify(&c->tls);
	spiffe_evloop_del(&s->loop, &c->ev);
	spiffe_timer_cancel(&s->loop, &c->timer);
	spiffe_tls_conn_free(&c->tls);
	close(c->ev.fd);
	job_free(c->job);
	c->job = NULL;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	if (c->h2 != NULL)
		h2_release(c);
	c->state = S_CLOSED;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	/* Jobs still at the workers point at c: the last one frees it. */
	if (c->jobs_out == 0)
		reap_later(c);
	if (s->draining && s->nconns == 0)
		spiffe_evloop_stop(&s->loop);
}

/* Sends a bare error status and closes after it. */
static void fail_request(conn *c, int status)
{
	spiffe_httpd_resp r;

	memset(&r, 0, sizeof(r));
	r.status = status;
	c->keep_alive = 0;
	free(c->out);
	c->out = NULL;
	if (render(c, &r, 0) != 0) {
		conn_close(c);
		return;
	}
	c->state = S_WRITE;
	c->after_write = S_CLOSED;
	set_timer(c, c->srv->cfg.write_timeout_ms);
	conn_write(c);
}

static void on_timer(spiffe_evloop *l, void *arg)
{
	conn *c = arg;

	(void)l;
	if (c->state == S_H2) {
		h2_timer(c);
		return;
	}
	if (c->state == S_LINGER) {
		conn_close(c);
		return;
	}
	if (c->state == S_HEAD || c->state == S_HS)
		logmsg(c->srv, "closing a connection: header timeout");
	conn_close(c);
}

/* ---- handing requests to workers ----------------------------------- */

static void *worker(void *arg)
{
	spiffe_httpd *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		job *j;

		int wake;

		while (s->queue == NULL && !s->quit) {
			s->idle_workers++;
			pthread_cond_wait(&s->cv, &s->mu);
			s->idle_workers--;
		}
		if (s->queue == NULL)
			break;
		j = s->queue;
		s->queue = j->next;
		if (s->queue == NULL)
			s->queue_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		/* A stream reset while queued costs no handler call. */
		if (!atomic_load(&j->cancelled))
			s->cfg.handler(s->cfg.handler_arg, &j->req, &j->resp);
		pthread_mutex_lock(&s->mu);
		/* The loop takes the whole list at once: wake it only for
		 * the first job on it. */
		wake = s->done == NULL;
		j->next = s->done;
		s->done = j;
		if (wake) {
			pthread_mutex_unlock(&s->mu);
			spiffe_evloop_wake(&s->loop);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/*
 * Points j->req at the parsed head j->head of raw bytes p and at the
 * body; 0 or SPIFFE_ERR_NOMEM.
 */
static int fill_req(conn *c, job *j, const uint8_t *p, const uint8_t *body,
		    size_t body_len)
{
	spiffe_http_head *h = &j->head;
	const uint8_t *hv;
	size_t hl;

	memset(&j->req, 0, sizeof(j->req));
	j->kv = malloc((h->nfields ? h->nfields : 1) * sizeof(*j->kv));
	if (j->kv == NULL)
		return SPIFFE_ERR_NOMEM;
	j->req.method = (const char *)spiffe_http_at(p, h->method);
	j->req.method_len = h->method.len;
	j->req.target = (const char *)spiffe_http_at(p, h->target);
	j->req.target_len = h->target.len;
	for (size_t i = 0; i < h->nfields; i++) {
		const spiffe_http_field *hf = &h->fields[i];

		j->kv[i].name = (const char *)spiffe_http_at(p, hf->name);
		j->kv[i].name_len = hf->name.len;
		j->kv[i].value = (const char *)spiffe_http_at(p, hf->value);
		j->kv[i].value_len = h->fields[i].value.len;
	}
	j->req.fields = j->kv;
	j->req.nfields = h->nfields;
	if (spiffe_http_header_get(h, p, "host", &hv, &hl) == 0) {
		j->req.host = (const char *)hv;
		j->req.host_len = hl;
	}
	j->req.body = body;
	j->req.body_len = body_len;
	j->req.version = h->minor ? 11 : 10;
	j->req.peer = spiffe_tls_peer_id(&c->tls);
	j->req.remote = c->remote;
	j->req.head = h;
	j->req.raw = p;
	resp_free(&j->resp);
	c->srv->requests++;
	return 0;
}

/* Hands j to a worker. */
static void enqueue(spiffe_httpd *s, job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue = j;
	s->queue_tail = j;
	/* Busy workers take the next job themselves. */
	if (s->idle_workers > 0)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void dispatch(conn *c)
{
	spiffe_httpd *s = c->srv;
	job *j = c->job;

	if (fill_req(c, j, c->in, c->in + j->head.head_len,
		     j->produced) != 0) {
		fail_request(c, 503);
		return;
	}
	c->keep_alive = j->head.keep_alive && !s->draining;
	c->state = S_BUSY;
	spiffe_timer_cancel(&s->loop, &c->timer);
	want(c, 0);
	enqueue(s, j);
}

/* A job came back from a worker: write its response. */
static void finish(conn *c)
{
	job *j = c->job;
	int head_only;

	head_only = j->head.method.len == 4 &&
		    memcmp(spiffe_http_at(c->in, j->head.method), "HEAD",
			   4) == 0;
	c->state = S_WRITE;
	if (c->hup) {
		c->state = S_IDLE;
		conn_close(c);
		return;
	}
	if (c->srv->draining || j->resp.close)
		c->keep_alive = 0;
	if (render(c, &j->resp, head_only) != 0) {
		conn_close(c);
		return;
	}
	c->after_write = c->keep_alive ? S_IDLE : S_CLOSED;
	set_timer(c, c->srv->cfg.write_timeout_ms);
	conn_write(c);
}

static void on_wake(spiffe_evloop *l, void *arg)
{
	spiffe_httpd *s = arg;
	job *done;

	(void)l;
	if (atomic_load(&s->stop_asked) && !s->draining)
		begin_drain(s);
	pthread_mutex_lock(&s->mu);
	done = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->mu);
	while (done != NULL) {
		job *j = done;

		done = j->next;
		if (j->sid != 0)
			h2_job_back(j, 1);
		else
			finish(j->c);
	}
}

/* ---- reading -------------------------------------------------------- */

/* The most raw bytes a request may occupy in c->in at once. */
static size_t in_limit(const spiffe_httpd *s)
{
	return SPIFFE_HTTP_MAX_HEAD + s->cfg.max_body + 16384;
}

/* Starts the state for a request whose first bytes are in c->in. */
static int begin_request(conn *c)
{
	job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return SPIFFE_ERR_NOMEM;
	j->c = c;
	spiffe_http_head_init(&j->head);
	j->resp.status = 200;
	c->job = j;
	c->state = S_HEAD;
	if (!c->first)
		set_timer(c, c->srv->cfg.header_timeout_ms);
	c->first = 0;
	return 0;
}

/* Sends "100 Continue" before reading the body, when asked to. */
static int maybe_continue(conn *c)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	job *j = c->job;

	if (!j->head.expect_continue || j->continue_sent ||
	    c->in_len > j->head.head_len)
		return 0;
	j->continue_sent = 1;
	c->out = malloc(sizeof(cont) - 1);
	if (c->out == NULL)
		return SPIFFE_ERR_NOMEM;
	memcpy(c->out, cont, sizeof(cont) - 1);
	c->out_len = sizeof(cont) - 1;
	c->out_off = 0;
	c->state = S_WRITE;
	c->after_write = S_BODY;
	conn_write(c);
	return 1;
}

/*
 * Parses what c->in holds: the head, then the body decoded in place
 * (the unread raw bytes are moved down behind the decoded ones), then
 * hands the request to a worker.
 */
static void conn_process(conn *c)
{
	spiffe_httpd *s = c->srv;
	job *j;
	int rc;

	if (c->state == S_IDLE) {
		if (c->in_len == 0)
			return;
		if (begin_request(c) != 0) {
			conn_close(c);
			return;
		}
	}
	j = c->job;
	if (c->state == S_HEAD) {
		spiffe_errbuf eb;

		rc = spiffe_http_request_parse(&j->head, c->in, c->in_len,
					       &eb);
		if (rc == SPIFFE_ERR_AGAIN)
			return;
		if (rc != 0) {
			logmsg(s, "bad request: %s", eb.msg);
			fail_request(c, j->head.error_status ?
				     j->head.error_status : 400);
			return;
		}
		rc = spiffe_http_body_begin(&j->body, j->head.framing,
					    j->head.content_length,
					    s->cfg.max_body, &eb);
		if (rc != 0) {
			fail_request(c, j->body.error_status ?
				     j->body.error_status : 400);
			return;
		}
		c->state = S_BODY;
		set_timer(c, s->cfg.body_timeout_ms);
		rc = maybe_continue(c);
		if (rc != 0) {
			if (rc < 0)
				conn_close(c);
			return;
		}
	}
	if (c->state == S_BODY) {
		uint8_t *base = c->in + j->head.head_len;
		size_t raw = c->in_len - j->head.head_len - j->consumed;
		size_t used, made;
		spiffe_errbuf eb;

		rc = spiffe_http_body_read(&j->body, base + j->consumed, raw,
					   &used, base + j->produced,
					   s->cfg.max_body - j->produced,
					   &made, &eb);
		if (rc != 0 && rc != SPIFFE_ERR_AGAIN) {
			logmsg(s, "bad request body: %s", eb.msg);
			fail_request(c, j->body.error_status ?
				     j->body.error_status : 400);
			return;
		}
		j->consumed += used;
		j->produced += made;
		if (j->consumed != j->produced) {
			/* Keep decoded and raw bytes adjacent. */
			memmove(base + j->produced, base + j->consumed,
				raw - used);
			c->in_len -= j->consumed - j->produced;
			j->consumed = j->produced;
		}
		if (rc == SPIFFE_ERR_AGAIN)
			return;
		dispatch(c);
	}
}

/* Reads whatever the socket and TLS have, then processes it. */
static void conn_read(conn *c)
{
	spiffe_httpd *s = c->srv;

	for (;;) {
		size_t n;
		spiffe_errbuf eb;
		int rc;

		if (c->in_cap - c->in_len < 1024) {
			rc = grow(&c->in, &c->in_cap,
				  c->in_cap ? c->in_cap * 2 : IN_FIRST,
				  in_limit(s));
			if (rc == SPIFFE_ERR_LIMIT && c->in_cap > c->in_len)
				rc = 0;
			if (rc != 0) {
				fail_request(c, c->state == S_BODY ? 413 :
					     431);
				return;
			}
		}
		rc = spiffe_tls_read(&c->tls, c->in + c->in_len,
				     c->in_cap - c->in_len, &n, &eb);
		if (rc == SPIFFE_ERR_AGAIN) {
			want(c, spiffe_tls_want(&c->tls));
			break;
		}
		if (rc != 0) {
			conn_close(c);
			return;
		}
		c->in_len += n;
		conn_process(c);
		if (c->state != S_HEAD && c->state != S_BODY &&
		    c->state != S_IDLE)
			return;
	}
	if (c->state == S_IDLE && c->in_len == 0 && c->in != NULL) {
		/* Idle: give the request buffer back. */
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

/* After a response: keep the pipelined bytes, or go idle. */
static void next_request(conn *c)
{
	job *j = c->job;
	size_t used = j->head.head_len + j->consumed;
	int big = c->in_cap > IN_FIRST || c->big_out;

	if (c->in_len > used)
		memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
	job_free(j);
	c->job = NULL;
	c->state = S_IDLE;
	set_timer(c, c->srv->cfg.idle_timeout_ms);
	if (c->in_len > 0) {
		conn_process(c);
		if (c->state == S_BUSY || c->state == S_CLOSED ||
		    c->state == S_WRITE)
			return;
	}
	want(c, SPIFFE_TLS_WANT_READ);
	/* mbedTLS may hold decrypted bytes the socket will not signal. */
	if (spiffe_tls_pending(&c->tls))
		conn_read(c);
	else if (c->in_len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
		/* Large records touched many buffer pages: give them back
		 * (small exchanges keep touching the same first pages). */
		if (big)
			spiffe_tls_trim(&c->tls);
	}
	c->big_out = 0;
}

static void conn_write(conn *c)
{
	while (c->out_off < c->out_len) {
		size_t n;
		spiffe_errbuf eb;
		int rc = spiffe_tls_write(&c->tls, c->out + c->out_off,
					  c->out_len - c->out_off, &n, &eb);

		if (rc == SPIFFE_ERR_AGAIN) {
			want(c, spiffe_tls_want(&c->tls));
			return;
		}
		if (rc != 0) {
			conn_close(c);
			return;
		}
		c->out_off += n;
	}
	free(c->out);
	c->out = NULL;
	c->big_out = c->out_len > 4096;
	c->out_len = c->out_off = 0;
	if (c->after_write == S_CLOSED) {
		conn_close(c);
	} else if (c->after_write == S_BODY) {
		c->state = S_BODY;
		set_timer(c, c->srv->cfg.body_timeout_ms);
		want(c, SPIFFE_TLS_WANT_READ);
		conn_process(c);
	} else {
		next_request(c);
	}
}

/* ---- HTTP/2 ---------------------------------------------------------- */

static int alpn_is_h2(const char *p)
{
	return p != NULL && p[0] == 'h' && p[1] == '2' && p[2] == '\0';
}

/* 1 if p[0..n) is the literal lit. */
static int is_lit(const uint8_t *p, size_t n, const char *lit)
{
	size_t ln = strlen(lit);

	return n == ln && memcmp(p, lit, n) == 0;
}

static void put(uint8_t **w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(*w, p, n);
	*w += n;
}

static job *h2_find(conn *c, uint32_t sid)
{
	for (job *j = c->streams; j != NULL; j = j->snext)
		if (j->sid == sid)
			return j;
	return NULL;
}

/* Gives the request body back (once the handler is done with it). */
static void h2_free_body(conn *c, job *j)
{
	c->body_bytes -= j->in_len;
	free(j->in);
	j->in = NULL;
	j->in_len = j->in_cap = 0;
}

/* Unlinks j from c's streams and frees it. */
static void h2_drop(conn *c, job *j)
{
	job **pp = &c->streams;

	while (*pp != j)
		pp = &(*pp)->snext;
	*pp = j->snext;
	c->nstreams--;
	h2_free_body(c, j);
	job_free(j);
}

/*
 * Ends the connection for a misbehaving peer: GOAWAY(code) with why as
 * debug data, and a close once that is written.  Safe in callbacks.
 */
static void h2_fatal(conn *c, uint32_t code, const char *why)
{
	if (c->fatal)
		return;
	logmsg(c->srv, "closing an HTTP/2 connection: %s", why);
	c->fatal = 1;
	c->goaway = 1;
	if (spiffe_h2_goaway(c->h2, code, (const uint8_t *)why,
			     strlen(why)) != 0)
		return;         /* the close alone tells the peer */
}

/*
 * Answers stream sid with a bare status; a request still coming is cut
 * short with RST_STREAM(NO_ERROR) after the complete response (RFC 9113
 * section 8.1).  Safe in callbacks.
 */
static void h2_reject(conn *c, uint32_t sid, int status, int ended)
{
	char st[3] = { (char)('0' + status / 100),
		       (char)('0' + status / 10 % 10),
		       (char)('0' + status % 10) };
	spiffe_header h[2] = {
		{ (const uint8_t *)":status", 7, (const uint8_t *)st, 3, 0 },
		{ (const uint8_t *)"content-length", 14,
		  (const uint8_t *)"0", 1, 0 },
	};
	int rc = spiffe_h2_submit_response(c->h2, sid, h, 2, 1);

	if (rc == 0 && !ended)
		rc = spiffe_h2_reset(c->h2, sid, SPIFFE_H2_NO_ERROR);
	else if (rc != 0 && rc != SPIFFE_ERR_CLOSED)
		rc = spiffe_h2_reset(c->h2, sid, SPIFFE_H2_REFUSED_STREAM);
	if (rc != 0 && rc != SPIFFE_ERR_CLOSED)
		h2_fatal(c, SPIFFE_H2_INTERNAL_ERROR, "out of memory");
}

/*
 * Writes the request headers h[0..n) of a stream as the HTTP/1.1 head
 * they stand for into j->raw, and parses that into j->head: so the
 * handler sees the same view, under the same limits and rules, whatever
 * the protocol.  :method and :path make the request line (:path must be
 * origin-form), :authority the Host field (a Host that differs is an
 * error), and cookie crumbs are joined (RFC 9113 section 8.2.3).  The
 * session has already checked the pseudo-header set and refused
 * connection-specific fields and CR, LF and NUL in values.  Returns 0,
 * or the status to answer with (eb says why).
 */
static int h2_head(job *j, const spiffe_header *h, size_t n,
		   spiffe_errbuf *eb)
{
	const spiffe_header *method = NULL, *path = NULL, *scheme = NULL;
	const spiffe_header *auth = NULL;
	size_t i, k, need, ncookie = 0;
	uint8_t *w;

	for (i = 0; i < n && h[i].name_len > 0 && h[i].name[0] == ':'; i++) {
		if (is_lit(h[i].name, h[i].name_len, ":method"))
			method = &h[i];
		else if (is_lit(h[i].name, h[i].name_len, ":path"))
			path = &h[i];
		else if (is_lit(h[i].name, h[i].name_len, ":scheme"))
			scheme = &h[i];
		else if (is_lit(h[i].name, h[i].name_len, ":authority"))
			auth = &h[i];
	}
	if (method == NULL || path == NULL || scheme == NULL) {
		spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, "h2: CONNECT is not "
			    "supported");
		return 501;
	}
	if (!is_lit(scheme->value, scheme->value_len, "https")) {
		spiffe_fail(eb, SPIFFE_ERR_HTTP, "h2: :scheme is not https");
		return 400;
	}
	if (path->value_len == 0 || path->value[0] != '/') {
		spiffe_fail(eb, SPIFFE_ERR_HTTP, "h2: :path is not "
			    "origin-form");
		return 400;
	}
	/* Every length is bounded by SPIFFE_HPACK_MAX_STRING and the sum
	 * by SPIFFE_H2_MAX_HEADER_LIST: no overflow. */
	need = method->value_len + 1 + path->value_len + 11 + 2;
	if (auth != NULL)
		need += 6 + auth->value_len + 2;
	for (k = i; k < n; k++) {
		const spiffe_header *f = &h[k];

		if (is_lit(f->name, f->name_len, "cookie")) {
			need += (ncookie++ ? 2 : 10) + f->value_len;
		} else if (auth != NULL &&
			   is_lit(f->name, f->name_len, "host")) {
			if (f->value_len != auth->value_len ||
			    memcmp(f->value, auth->value, f->value_len)) {
				spiffe_fail(eb, SPIFFE_ERR_HTTP, "h2: Host "
					    "differs from :authority");
				return 400;
			}
		} else {
			need += f->name_len + 2 + f->value_len + 2;
		}
	}
	j->raw = malloc(need);
	if (j->raw == NULL) {
		spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		return 503;
	}
	w = j->raw;
	put(&w, method->value, method->value_len);
	put(&w, " ", 1);
	put(&w, path->value, path->value_len);
	put(&w, " HTTP/1.1\r\n", 11);
	if (auth != NULL) {
		put(&w, "host: ", 6);
		put(&w, auth->value, auth->value_len);
		put(&w, "\r\n", 2);
	}
	for (k = i; k < n; k++) {
		const spiffe_header *f = &h[k];

		if (is_lit(f->name, f->name_len, "cookie") ||
		    (auth != NULL && is_lit(f->name, f->name_len, "host")))
			continue;
		put(&w, f->name, f->name_len);
		put(&w, ": ", 2);
		put(&w, f->value, f->value_len);
		put(&w, "\r\n", 2);
	}
	for (k = i, ncookie = 0; k < n; k++) {
		const spiffe_header *f = &h[k];

		if (!is_lit(f->name, f->name_len, "cookie"))
			continue;
		if (ncookie++ == 0)
			put(&w, "cookie: ", 8);
		else
			put(&w, "; ", 2);
		put(&w, f->value, f->value_len);
	}
	if (ncookie > 0)
		put(&w, "\r\n", 2);
	put(&w, "\r\n", 2);
	spiffe_http_head_init(&j->head);
	if (spiffe_http_request_parse(&j->head, j->raw, need, eb) != 0)
		return j->head.error_status ? j->head.error_status : 400;
	return 0;
}

/* The request of j is complete: hand it to a worker. */
static void h2_dispatch(conn *c, job *j)
{
	/* A request without a body still gets a valid pointer. */
	const uint8_t *body = j->in != NULL ? j->in : (const uint8_t *)"";

	if (fill_req(c, j, j->raw, body, j->in_len) != 0) {
		h2_reject(c, j->sid, 503, 1);
		h2_drop(c, j);
		return;
	}
	j->req.version = 20;
	j->phase = J_WORK;
	c->jobs_out++;
	enqueue(c->srv, j);
}

static void h2_on_headers(void *ctx, uint32_t sid, const spiffe_header *h,
			  size_t n, unsigned flags)
{
	conn *c = ctx;
	spiffe_httpd *s = c->srv;
	int ended = (flags & SPIFFE_H2_END_STREAM) != 0;
	spiffe_errbuf eb;
	job *j;
	int status;

	if (c->fatal)
		return;
	if (flags & SPIFFE_H2_TRAILERS) {
		/* Trailer fields are dropped, as on HTTP/1.1; they end the
		 * request. */
		j = h2_find(c, sid);
		if (j != NULL && j->phase == J_RECV)
			h2_dispatch(c, j);
		return;
	}
	c->opened = 1;
	if (flags & SPIFFE_H2_OVERSIZED) {
		logmsg(s, "bad request: h2: header list over %d bytes, %d "
		       "fields or %d bytes a field", SPIFFE_H2_MAX_HEADER_LIST,
		       SPIFFE_H2_MAX_HEADERS, SPIFFE_HPACK_MAX_STRING);
		h2_reject(c, sid, 431, ended);
		return;
	}
	/* Past the stream limit only reset streams still at the workers
	 * are counted: a client resetting faster than handlers run. */
	if (c->nstreams >= 2 * (size_t)s->cfg.h2_streams) {
		h2_fatal(c, SPIFFE_H2_ENHANCE_YOUR_CALM, "too many streams "
			 "waiting for handlers");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		h2_reject(c, sid, 503, ended);
		return;
	}
	j->c = c;
	j->sid = sid;
	j->resp.status = 200;
	j->t0 = spiffe_monotonic_ms();
	status = h2_head(j, h, n, &eb);
	if (status == 0 && j->head.framing == SPIFFE_HTTP_BODY_LENGTH &&
	    j->head.content_length > s->cfg.max_body) {
		spiffe_fail(&eb, SPIFFE_ERR_LIMIT, "h2: content-length over "
			    "%zu", s->cfg.max_body);
		status = 413;
	}
	if (status != 0) {
		logmsg(s, "bad request: %s", eb.msg);
		job_free(j);
		h2_reject(c, sid, status, ended);
		return;
	}
	j->head_only = j->head.method.len == 4 &&
		       memcmp(j->raw, "HEAD", 4) == 0;
	j->phase = J_RECV;
	j->snext = c->streams;
	c->streams = j;
	c->nstreams++;
	if (ended)
		h2_dispatch(c, j);
}

static void h2_on_data(void *ctx, uint32_t sid, const uint8_t *p,
		       size_t len, int end)
{
	conn *c = ctx;
	size_t max = c->srv->cfg.max_body;
	job *j = h2_find(c, sid);

	if (c->fatal || j == NULL || j->phase != J_RECV)
		return;
	if (len > 0) {
		if (len > max - j->in_len) {
			logmsg(c->srv, "bad request body: over %zu bytes",
			       max);
			h2_reject(c, sid, 413, end);
			h2_drop(c, j);
			return;
		}
		/* All streams together hold no more than one HTTP/1.1
		 * request may: the peer can retry a refused stream. */
		if (len > max - c->body_bytes ||
		    grow(&j->in, &j->in_cap, j->in_len + len, max) != 0) {
			if (spiffe_h2_reset(c->h2, sid,
					    SPIFFE_H2_REFUSED_STREAM) != 0)
				h2_fatal(c, SPIFFE_H2_INTERNAL_ERROR,
					 "out of memory");
			h2_drop(c, j);
			return;
		}
		memcpy(j->in + j->in_len, p, len);
		j->in_len += len;
		c->body_bytes += len;
		if (spiffe_h2_consume(c->h2, sid, len) != 0) {
			h2_fatal(c, SPIFFE_H2_INTERNAL_ERROR, "out of memory");
			return;
		}
	}
	if (end)
		h2_dispatch(c, j);
}

static void h2_on_close(void *ctx, uint32_t sid, uint32_t code)
{
	conn *c = ctx;
	job *j = h2_find(c, sid);
	int64_t now;

	if (j == NULL)
		return;
	if (code != SPIFFE_H2_NO_ERROR) {
		/* The peer reset (or broke) a stream we were serving. */
		now = spiffe_monotonic_ms();
		if (now - c->rst_t >= 1000) {
			c->rst_t = now;
			c->rst_n = 0;
		}
		if (++c->rst_n > SPIFFE_HTTPD_H2_RESETS)
			h2_fatal(c, SPIFFE_H2_ENHANCE_YOUR_CALM, "too many "
				 "streams reset");
	}
	if (j->phase == J_WORK)
		atomic_store(&j->cancelled, 1);  /* dropped on return */
	else
		h2_drop(c, j);
}

/*
 * The session holds all of j's response: only its start time stays, for
 * the write timeout, until the stream closes.
 */
static void h2_sent(conn *c, job *j)
{
	h2_free_body(c, j);
	resp_free(&j->resp);
	free(j->kv);
	free(j->raw);
	j->kv = NULL;
	j->raw = NULL;
	j->phase = J_SENT;
}

/* Hands the rest of j's response body to the session, as it has room. */
static int h2_send_body(conn *c, job *j)
{
	spiffe_httpd_resp *r = &j->resp;
	size_t acc;
	int rc = spiffe_h2_send_data(c->h2, j->sid, r->body + j->sent,
				     r->body_len - j->sent, 1, &acc);

	if (rc == SPIFFE_ERR_CLOSED) {
		h2_drop(c, j);
		return 0;
	}
	if (rc != 0)
		return rc;
	j->sent += acc;
	if (j->sent == r->body_len)
		h2_sent(c, j);
	return 0;
}

/*
 * Submits j's response headers (a response the HTTP/1.1 writer would
 * refuse becomes a bare 500) and starts its body.  Field names go out in
 * lowercase; Keep-Alive, Proxy-Connection, Upgrade and TE mean nothing
 * in HTTP/2 and are dropped.
 */
static int h2_respond(conn *c, job *j)
{
	spiffe_httpd_resp *r = &j->resp;
	spiffe_header h[SPIFFE_HTTPD_MAX_RESP_FIELDS + 2];
	spiffe_http_kv kv[SPIFFE_HTTPD_MAX_RESP_FIELDS];
	char st[3], clen[24];
	size_t n = 0, blen, len;
	int status = r->status, bad, end, rc, cl;

	bad = r->err || status < 200 || status > 599;
	for (size_t i = 0; !bad && i < r->nfields; i++) {
		kv[i].name = (const char *)r->text + r->f[i].noff;
		kv[i].name_len = r->f[i].nlen;
		kv[i].value = (const char *)r->text + r->f[i].voff;
		kv[i].value_len = r->f[i].vlen;
	}
	/* Sizing only (no buffer): the writer's checks, nothing written. */
	if (!bad && spiffe_http_write_response(NULL, 0, &len, status, kv,
					       r->nfields, NULL) ==
		    SPIFFE_ERR_ARG)
		bad = 1;
	if (bad)
		status = 500;
	blen = bad ? 0 : r->body_len;
	end = j->head_only || status == 204 || status == 304 || blen == 0;
	st[0] = (char)('0' + status / 100);
	st[1] = (char)('0' + status / 10 % 10);
	st[2] = (char)('0' + status % 10);
	h[n++] = (spiffe_header){ (const uint8_t *)":status", 7,
				  (const uint8_t *)st, 3, 0 };
	for (size_t i = 0; !bad && i < r->nfields; i++) {
		uint8_t *nm = r->text + r->f[i].noff;
		size_t nl = r->f[i].nlen;

		for (size_t k = 0; k < nl; k++)
			if (nm[k] >= 'A' && nm[k] <= 'Z')
				nm[k] = (uint8_t)(nm[k] + 32);
		if (is_lit(nm, nl, "keep-alive") || is_lit(nm, nl, "te") ||
		    is_lit(nm, nl, "proxy-connection") ||
		    is_lit(nm, nl, "upgrade"))
			continue;
		h[n++] = (spiffe_header){ nm, nl, r->text + r->f[i].voff,
					  r->f[i].vlen, 0 };
	}
	cl = content_length(clen, sizeof(clen), r, status, bad, j->head_only,
			    blen);
	if (cl >= 0)
		h[n++] = (spiffe_header){ (const uint8_t *)"content-length",
					  14, (const uint8_t *)clen,
					  (size_t)cl, 0 };
	rc = spiffe_h2_submit_response(c->h2, j->sid, h, n, end);
	if (rc == SPIFFE_ERR_AGAIN)
		return 0;       /* the output is full: next round */
	if ((rc == SPIFFE_ERR_ARG || rc == SPIFFE_ERR_LIMIT) && !bad) {
		r->err = 1;
		return h2_respond(c, j);
	}
	if (rc == SPIFFE_ERR_CLOSED) {
		h2_drop(c, j);
		return 0;
	}
	if (rc == 0 && end) {
		h2_sent(c, j);
		return 0;
	}
	if (rc != 0)
		return rc;
	j->phase = J_SEND;
	return h2_send_body(c, j);
}

/* Gives finished responses to the session; 0 or an error. */
static int h2_pump(conn *c)
{
	job *j, *next;
	int rc = 0;

	for (j = c->streams; j != NULL && rc == 0; j = next) {
		next = j->snext;
		if (j->phase == J_HEAD)
			rc = h2_respond(c, j);
		else if (j->phase == J_SEND)
			rc = h2_send_body(c, j);
	}
	return rc;
}

/*
 * Writes the session's output to TLS until it would block, feeding
 * response bodies in as room opens.  0, or -1 if c was closed.
 */
static int h2_flush(conn *c)
{
	for (;;) {
		const uint8_t *p;
		size_t len, n, try;
		spiffe_errbuf eb;
		int rc = c->fatal ? 0 : h2_pump(c);

		if (rc == 0)
			rc = spiffe_h2_output(c->h2, &p, &len);
		if (rc != 0) {
			logmsg(c->srv, "closing an HTTP/2 connection: %s",
			       spiffe_strerror(rc));
			conn_close(c);
			return -1;
		}
		if (len == 0)
			return 0;
		/* mbedTLS finishes a blocked record only when asked again
		 * with the same length. */
		try = c->wlen ? c->wlen : len;
		rc = spiffe_tls_write(&c->tls, p, try, &n, &eb);
		if (rc == SPIFFE_ERR_AGAIN) {
			if (c->wlen == 0)
				c->t_progress = spiffe_monotonic_ms();
			c->wlen = try;
			return 0;
		}
		if (rc != 0 || spiffe_h2_output_consumed(c->h2, n) != 0) {
			conn_close(c);
			return -1;
		}
		c->wlen = 0;
		c->moved += n;
		c->t_progress = spiffe_monotonic_ms();
	}
}

/* Reads and drops what a lingering peer sends; closes at its end. */
static void linger_read(conn *c)
{
	uint8_t buf[H2_READ];

	for (int i = 0; i < H2_READS; i++) {
		ssize_t n = recv(c->ev.fd, buf, sizeof(buf), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
	}
}

/* The GOAWAY is out: shut the write side and linger (see the top). */
static void linger(conn *c)
{
	spiffe_httpd *s = c->srv;

	h2_release(c);
	spiffe_tls_close_notify(&c->tls);
	c->state = S_LINGER;
	if (shutdown(c->ev.fd, SHUT_WR) != 0 ||
	    spiffe_evloop_mod(&s->loop, &c->ev, SPIFFE_EV_IN) != 0 ||
	    spiffe_timer_set(&s->loop, &c->timer,
			     spiffe_monotonic_ms() + LINGER_MS) != 0) {
		conn_close(c);
		return;
	}
	linger_read(c);
}

/* What a connection's streams are doing. */
struct census {
	size_t recv;            /* receiving request bodies */
	int64_t oldest;         /* the earliest of those started */
	int64_t write_by;       /* write timeout, or INT64_MAX */
	int idle;               /* nothing at all */
};

/*
 * As on HTTP/1.1, a response must be written within write_timeout of
 * being ready (a peer that keeps its window shut, or reads a byte now
 * and then, cannot hold it longer); output that is not a response
 * (control frames) must move within write_timeout.
 */
static void h2_census(conn *c, struct census *k)
{
	int64_t wt = c->srv->cfg.write_timeout_ms;

	k->recv = 0;
	k->oldest = INT64_MAX;
	k->write_by = c->wlen > 0 ? c->t_progress + wt : INT64_MAX;
	for (job *j = c->streams; j != NULL; j = j->snext) {
		if (j->phase == J_RECV) {
			k->recv++;
			if (j->t0 < k->oldest)
				k->oldest = j->t0;
		} else if (j->phase != J_WORK && j->t1 + wt < k->write_by) {
			k->write_by = j->t1 + wt;
		}
	}
	k->idle = c->nstreams == 0 && c->wlen == 0 &&
		spiffe_h2_stream_count(c->h2) == 0;
}

/*
 * After any event: closes c when it is finished, else sets what it
 * waits for and its one timer (see httpd.h for the timeouts).
 */
static void h2_settle(conn *c)
{
	spiffe_httpd *s = c->srv;
	struct census k;
	int64_t d;

	if (c->fatal && c->wlen == 0) {
		linger(c);
		return;
	}
	if (c->fatal || (spiffe_h2_done(c->h2) && c->wlen == 0)) {
		conn_close(c);
		return;
	}
	h2_census(c, &k);
	if (k.idle && !c->idle) {
		c->t_idle = spiffe_monotonic_ms();
		/* Large records touched many buffer pages: give them back
		 * (small exchanges keep touching the same first pages). */
		if (c->moved > 8192)
			spiffe_tls_trim(&c->tls);
		c->moved = 0;
	}
	c->idle = k.idle;
	if (spiffe_evloop_mod(&s->loop, &c->ev, SPIFFE_EV_IN |
			      (c->wlen ? SPIFFE_EV_OUT : 0)) != 0) {
		conn_close(c);
		return;
	}
	d = k.write_by;
	if (k.recv > 0 && k.oldest + s->cfg.body_timeout_ms < d)
		d = k.oldest + s->cfg.body_timeout_ms;
	if (k.idle)
		d = c->opened ? c->t_idle + s->cfg.idle_timeout_ms :
			c->t_accept + s->cfg.header_timeout_ms;
	if (d == INT64_MAX) {
		spiffe_timer_cancel(&s->loop, &c->timer);
		c->deadline = 0;
	} else if (d != c->deadline) {
		c->deadline = d;
		if (spiffe_timer_set(&s->loop, &c->timer, d) != 0)
			conn_close(c);
	}
}

/* Reads what TLS has, feeds the session, writes what it answers. */
static void h2_event(conn *c)
{
	uint8_t buf[H2_READ];

	if (h2_flush(c) != 0)
		return;
	for (int i = 0; i < H2_READS || spiffe_tls_pending(&c->tls); i++) {
		spiffe_errbuf eb;
		size_t n;
		int rc = spiffe_tls_read(&c->tls, buf, sizeof(buf), &n, &eb);

		if (rc == SPIFFE_ERR_AGAIN)
			break;
		if (rc != 0) {
			conn_close(c);
			return;
		}
		c->moved += n;
		if (spiffe_h2_feed(c->h2, buf, n) != 0 && !c->fatal) {
			logmsg(c->srv, "closing an HTTP/2 connection: %s",
			       spiffe_h2_errmsg(c->h2));
			c->fatal = 1;
		}
		if (h2_flush(c) != 0)
			return;
		if (c->fatal)
			break;
	}
	h2_settle(c);
}

static void h2_timer(conn *c)
{
	int64_t now = spiffe_monotonic_ms();
	spiffe_httpd *s = c->srv;
	struct census k;
	job *j, *next;

	c->deadline = 0;
	h2_census(c, &k);
	if (k.idle) {
		if (!c->opened)
			logmsg(s, "closing a connection: header timeout");
		c->fatal = 1;
		if (spiffe_h2_goaway(c->h2, SPIFFE_H2_NO_ERROR, NULL,
				     0) == 0 && h2_flush(c) != 0)
			return;
		conn_close(c);
		return;
	}
	if (now >= k.write_by) {
		logmsg(s, "closing a connection: write timeout");
		conn_close(c);
		return;
	}
	for (j = c->streams; j != NULL; j = next) {
		next = j->snext;
		if (j->phase != J_RECV ||
		    now < j->t0 + s->cfg.body_timeout_ms)
			continue;
		logmsg(s, "resetting a stream: body timeout");
		if (spiffe_h2_reset(c->h2, j->sid, SPIFFE_H2_CANCEL) != 0)
			c->fatal = 1;
		h2_drop(c, j);
	}
	if (h2_flush(c) == 0)
		h2_settle(c);
}

/* ALPN chose h2: the connection becomes an HTTP/2 session. */
static void h2_start(conn *c)
{
	static const spiffe_h2_callbacks cb = {
		h2_on_headers, h2_on_data, h2_on_close, NULL, NULL,
	};
	spiffe_httpd *s = c->srv;
	spiffe_h2_options opt;

	memset(&opt, 0, sizeof(opt));
	opt.max_streams = (uint32_t)s->cfg.h2_streams;
	opt.report_oversized = 1;       /* answered 431, as on HTTP/1.1 */
	c->h2 = malloc(sizeof(*c->h2));
	if (c->h2 == NULL ||
	    spiffe_h2_init(c->h2, SPIFFE_H2_SERVER, &cb, c, &opt) != 0) {
		logmsg(s, "cannot start HTTP/2: out of memory");
		if (c->h2 != NULL)
			spiffe_h2_free(c->h2);
		free(c->h2);
		c->h2 = NULL;
		conn_close(c);
		return;
	}
	c->state = S_H2;
	c->t_progress = spiffe_monotonic_ms();
	s->h2_conns++;
	h2_event(c);
}

/* A stream's job came back from a worker (run: answer it). */
static void h2_job_back(job *j, int run)
{
	conn *c = j->c;

	c->jobs_out--;
	if (c->state != S_H2) {         /* closed or lingering */
		h2_drop(c, j);
		if (c->state == S_CLOSED && c->jobs_out == 0)
			reap_later(c);
		return;
	}
	if (!run) {
		j->phase = J_HEAD;      /* conn_close frees it */
		return;
	}
	if (atomic_load(&j->cancelled)) {
		h2_drop(c, j);
		h2_settle(c);
		return;
	}
	h2_free_body(c, j);
	j->phase = J_HEAD;
	j->t1 = spiffe_monotonic_ms();
	if (j->resp.close) {
		h2_drain(c);
		return;
	}
	if (h2_flush(c) == 0)
		h2_settle(c);
}

/* Graceful end: GOAWAY, then close once open streams are done. */
static void h2_drain(conn *c)
{
	if (!c->goaway) {
		c->goaway = 1;
		if (spiffe_h2_goaway(c->h2, SPIFFE_H2_NO_ERROR, NULL, 0) != 0)
			c->fatal = 1;
	}
	if (h2_flush(c) == 0)
		h2_settle(c);
}

/* Frees c's session and jobs; jobs at the workers stay, cancelled. */
static void h2_release(conn *c)
{
	job *j, *next, **pp = &c->streams;

	for (j = c->streams; j != NULL; j = next) {
		next = j->snext;
		if (j->phase == J_WORK) {
			atomic_store(&j->cancelled, 1);
			*pp = j;
			pp = &j->snext;
			continue;
		}
		h2_free_body(c, j);
		job_free(j);
		c->nstreams--;
	}
	*pp = NULL;
	spiffe_h2_free(c->h2);
	free(c->h2);
	c->h2 = NULL;
}

static void conn_handshake(conn *c)
{
	spiffe_errbuf eb;
	int rc = spiffe_tls_handshake(&c->tls, &eb);

	if (rc == SPIFFE_ERR_AGAIN) {
		want(c, spiffe_tls_want(&c->tls));
		return;
	}
	if (rc != 0) {
		if (rc != SPIFFE_ERR_CLOSED)
			logmsg(c->srv, "TLS handshake failed: %s", eb.msg);
		conn_close(c);
		return;
	}
	if (alpn_is_h2(spiffe_tls_alpn(&c->tls))) {
		h2_start(c);
		return;
	}
	/* The header timeout started at accept keeps running until the
	 * first request's head is in. */
	c->state = S_IDLE;
	c->first = 1;
	want(c, SPIFFE_TLS_WANT_READ);
	conn_read(c);
}

static void on_conn(spiffe_evloop *l, void *arg, uint32_t events)
{
	conn *c = arg;

	(void)l;
	switch (c->state) {
	case S_HS:
		conn_handshake(c);
		break;
	case S_IDLE:
	case S_HEAD:
	case S_BODY:
		conn_read(c);
		break;
	case S_WRITE:
		conn_write(c);
		break;
	case S_BUSY:
		if (events & (SPIFFE_EV_ERR | SPIFFE_EV_HUP))
			conn_close(c);   /* defers to the job's return */
		break;
	case S_H2:
		h2_event(c);
		break;
	case S_LINGER:
		linger_read(c);
		break;
	default:
		break;
	}
}

/* ---- accepting and shutting down ----------------------------------- */

/* The peer's IP address as text; an IPv4 peer of a dual-stack socket
 * reads as IPv4 ("127.0.0.1", not "::ffff:127.0.0.1"), as Go shows it. */
static void remote_ip(const struct sockaddr_storage *ss, char *out,
		      size_t cap)
{
	const void *a = NULL;
	int af = ss->ss_family;

	if (af == AF_INET) {
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	} else if (af == AF_INET6) {
		const struct in6_addr *v6 =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;

		a = v6;
		if (IN6_IS_ADDR_V4MAPPED(v6)) {
			af = AF_INET;
			a = &v6->s6_addr[12];
		}
	}
	if (a == NULL || inet_ntop(af, a, out, (socklen_t)cap) == NULL)
		out[0] = '\0';
}

static void on_accept_resume(spiffe_evloop *l, void *arg)
{
	spiffe_httpd *s = arg;

	if (s->draining || s->lfd < 0)
		return;
	if (spiffe_evloop_mod(l, &s->listen_ev, SPIFFE_EV_IN) != 0)
		logmsg(s, "http: cannot watch the listening socket again");
}

/*
 * accept4 failed with err, for want of descriptors or memory (or in a
 * way that retrying at once would not mend).  The socket stays readable
 * (the loop is level-triggered), so stop watching it for a while instead
 * of spinning, and say so; the delay doubles from 5 ms to 1 s while the
 * failures go on, as Go's net/http does it.
 */
static void accept_pause(spiffe_httpd *s, int err)
{
	s->accept_delay_ms = s->accept_delay_ms == 0 ? 5 :
			     s->accept_delay_ms >= 500 ? 1000 :
			     2 * s->accept_delay_ms;
	logmsg(s, "http: Accept error: accept4: %s; retrying in %dms",
	       strerror(err), s->accept_delay_ms);
	if (spiffe_evloop_mod(&s->loop, &s->listen_ev, 0) != 0 ||
	    spiffe_timer_set(&s->loop, &s->accept_timer,
			     spiffe_monotonic_ms() + s->accept_delay_ms) != 0)
		on_accept_resume(&s->loop, s);
}

static void on_accept(spiffe_evloop *l, void *arg, uint32_t events)
{
	spiffe_httpd *s = arg;
	int one = 1;

	(void)l;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		conn *c;
		spiffe_errbuf eb;

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
			case ENETDOWN:
			case ENETUNREACH:
			case EHOSTDOWN:
			case EHOSTUNREACH:
			case ENONET:
			case ENOPROTOOPT:
			case EOPNOTSUPP:
				/* One peer's connection failed (accept(2)
				 * lists these): the next may do. */
				continue;
			default:
				/* EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying
				 * at once would only spin. */
				accept_pause(s, errno);
				return;
			}
		}
		s->accept_delay_ms = 0;
		s->accepted++;
		if (s->nconns >= (size_t)s->cfg.max_conns || s->draining ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			s->refused++;
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->srv = s;
		remote_ip(&ss, c->remote, sizeof(c->remote));
		spiffe_tls_conn_init(&c->tls);
		if (spiffe_tls_conn_setup(&c->tls, s->cfg.tls, fd, NULL,
					  &eb) != 0) {
			logmsg(s, "cannot set up TLS: %s", eb.msg);
			spiffe_tls_conn_free(&c->tls);
			close(fd);
			free(c);
			continue;
		}
		c->ev.fd = fd;
		c->ev.fn = on_conn;
		c->ev.arg = c;
		c->timer.fn = on_timer;
		c->timer.arg = c;
		c->state = S_HS;
		c->t_accept = spiffe_monotonic_ms();
		c->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		if (spiffe_evloop_add(&s->loop, &c->ev, SPIFFE_EV_IN) != 0) {
			conn_close(c);
			continue;
		}
		set_timer(c, s->cfg.header_timeout_ms);
	}
}

static void on_drain_timeout(spiffe_evloop *l, void *arg)
{
	spiffe_httpd *s = arg;

	logmsg(s, "shutdown grace period over: closing %zu connections",
	      s->nconns);
	spiffe_evloop_stop(l);
}

static void begin_drain(spiffe_httpd *s)
{
	conn *c, *next;

	if (s->draining)
		return;
	s->draining = 1;
	spiffe_timer_cancel(&s->loop, &s->accept_timer);
	if (s->lfd >= 0) {
		spiffe_evloop_del(&s->loop, &s->listen_ev);
		close(s->lfd);
		s->lfd = -1;
	}
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == S_HS || c->state == S_LINGER ||
		    (c->state == S_IDLE && c->in_len == 0))
			conn_close(c);
		else if (c->state == S_H2)
			h2_drain(c);
	}
	if (s->nconns == 0) {
		spiffe_evloop_stop(&s->loop);
		return;
	}
	if (spiffe_timer_set(&s->loop, &s->drain_timer,
			     spiffe_monotonic_ms() + s->cfg.grace_ms) != 0)
		spiffe_evloop_stop(&s->loop);
}

static void on_signal(spiffe_evloop *l, void *arg, int signo)
{
	(void)l;
	(void)signo;
	begin_drain(arg);
}

/* ---- public --------------------------------------------------------- */

int spiffe_httpd_init(spiffe_httpd *s, const spiffe_httpd_config *cfg,
		      spiffe_errbuf *eb)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->lfd = -1;
	if (cfg->tls == NULL || cfg->handler == NULL || cfg->listen == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpd: listen, tls "
				   "and handler are required");
	if (cfg->tls->mode != SPIFFE_TLS_SERVER &&
	    cfg->tls->mode != SPIFFE_TLS_MTLS_SERVER)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpd: the TLS "
				   "configuration is not a server's");
	s->cfg = *cfg;
#define DEF(f, v) if (s->cfg.f <= 0) s->cfg.f = (v)
	DEF(workers, 2);
	DEF(max_conns, 1024);
	DEF(header_timeout_ms, 10000);
	DEF(body_timeout_ms, 30000);
	DEF(idle_timeout_ms, 120000);
	DEF(write_timeout_ms, 30000);
	DEF(grace_ms, 10000);
	DEF(h2_streams, SPIFFE_HTTPD_H2_STREAMS);
#undef DEF
	if (s->cfg.h2_streams > SPIFFE_H2_MAX_STREAMS)
		s->cfg.h2_streams = SPIFFE_H2_MAX_STREAMS;
	if (s->cfg.max_body == 0 || s->cfg.max_body > (size_t)1 << 30)
		s->cfg.max_body = SPIFFE_HTTP_MAX_BODY;
	if (cfg->tls->alpn[0] == NULL) {
		static const char *const alpn[] = { "h2", "http/1.1" };

		rc = spiffe_tls_config_set_alpn(cfg->tls, alpn + !!cfg->no_h2,
						cfg->no_h2 ? 1 : 2);
		if (rc != 0)
			return spiffe_fail(eb, rc, "httpd: cannot set ALPN");
	}
	rc = spiffe_evloop_init(&s->loop, on_wake, s, eb);
	if (rc != 0)
		return rc;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->inited = 1;
	if (s->cfg.catch_signals) {
		rc = spiffe_evloop_catch_signals(&s->loop, on_signal, s, eb);
		if (rc != 0)
			goto fail;
	}
	rc = spiffe_net_listen(cfg->listen, SPIFFE_HTTPD_BACKLOG, &s->lfd,
			       eb);
	if (rc != 0)
		goto fail;
	s->port = spiffe_net_local_port(s->lfd);
	s->listen_ev.fd = s->lfd;
	s->listen_ev.fn = on_accept;
	s->listen_ev.arg = s;
	s->reap_timer.fn = reap;
	s->reap_timer.arg = s;
	s->drain_timer.fn = on_drain_timeout;
	s->drain_timer.arg = s;
	s->accept_timer.fn = on_accept_resume;
	s->accept_timer.arg = s;
	if (spiffe_evloop_add(&s->loop, &s->listen_ev, SPIFFE_EV_IN) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_IO, "httpd: epoll_ctl: %s",
				 strerror(errno));
		goto fail;
	}
	return 0;
fail:
	spiffe_httpd_free(s);
	return rc;
}

int spiffe_httpd_port(const spiffe_httpd *s)
{
	return s->port;
}

int spiffe_httpd_run(spiffe_httpd *s, spiffe_errbuf *eb)
{
	int rc;

	s->threads = calloc((size_t)s->cfg.workers, sizeof(*s->threads));
	if (s->threads == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	for (; s->nthreads < s->cfg.workers; s->nthreads++) {
		pthread_attr_t a;

		/* Handlers are small; 256 KiB of stack is plenty and keeps
		 * the address space (not RSS) of idle workers down. */
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		rc = spiffe_thread_create(&s->threads[s->nthreads], &a, worker,
					  s);
		pthread_attr_destroy(&a);
		if (rc != 0)
			break;
	}
	if (s->nthreads == 0)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "httpd: cannot start "
				   "workers");
	if (atomic_load(&s->stop_asked))
		begin_drain(s);
	rc = s->draining && s->nconns == 0 ? 0 :
	     spiffe_evloop_run(&s->loop, eb);
	/* Stop the workers; jobs in flight finish first. */
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	s->nthreads = 0;
	free(s->threads);
	s->threads = NULL;
	return rc;
}

void spiffe_httpd_stop(spiffe_httpd *s)
{
	atomic_store(&s->stop_asked, 1);
	spiffe_evloop_wake(&s->loop);
}

void spiffe_httpd_free(spiffe_httpd *s)
{
	job *j;

	if (!s->inited)
		return;
	/* Jobs the loop never saw come back (grace ran out). */
	for (int q = 0; q < 2; q++) {
		job *next;

		for (j = q ? s->queue : s->done; j != NULL; j = next) {
			next = j->next;
			if (j->sid != 0)
				h2_job_back(j, 0);
			else
				j->c->state = S_IDLE;
		}
	}
	s->done = s->queue = s->queue_tail = NULL;
	while (s->conns != NULL) {
		if (s->conns->state == S_BUSY)
			s->conns->state = S_IDLE;
		conn_close(s->conns);
	}
	reap(&s->loop, s);
	if (s->lfd >= 0)
		close(s->lfd);
	spiffe_evloop_free(&s->loop);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	memset(s, 0, sizeof(*s));
	s->lfd = -1;
}
