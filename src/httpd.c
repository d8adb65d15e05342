/*
 * httpd.c - the HTTPS server (see httpd.h).
 *
 * A connection moves through these states in the loop thread:
 *
 *   HS ---> HEAD ---> BODY ---> BUSY ---> WRITE ---> IDLE ---> HEAD ...
 *            ^          ^  (worker)        |  \
 *            |          +-- 100 Continue --+   +--> closed
 *            +------------ pipelined bytes ---+
 *
 * Only BUSY belongs to a worker (through its job); everything else is
 * touched by the loop thread alone.  Closed connections are freed after
 * the current round of events, so a later event of the same round never
 * sees freed memory.
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
#include "net.h"
#include "thread.h"

enum { S_HS, S_IDLE, S_HEAD, S_BODY, S_BUSY, S_WRITE, S_CLOSED };

#define IN_FIRST 2048

/* Per-request state: allocated at a request's first byte. */
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
	struct spiffe_httpd_job *next;
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
};

typedef struct spiffe_httpd_conn conn;
typedef struct spiffe_httpd_job job;

static void conn_close(conn *c);
static void conn_read(conn *c);
static void conn_write(conn *c);
static void conn_process(conn *c);
static void begin_drain(spiffe_httpd *s);

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

	if (name_eq(name, nlen, "content-length") ||
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
	memcpy(r->text + r->text_len, value, vlen);
	r->text_len += vlen;
	r->nfields++;
	return 0;
}

int spiffe_httpd_resp_write(spiffe_httpd_resp *r, const void *data,
			    size_t len)
{
	int rc;

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
	int status = r->status, rc, bad, send_body;

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
	if (status != 204 && status != 304) {
		kv[n].name = "Content-Length";
		kv[n].name_len = 14;
		kv[n].value = clen;
		kv[n].value_len = (size_t)snprintf(clen, sizeof(clen), "%zu",
						   blen);
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
	if (send_body) {
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
	c->state = S_CLOSED;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
	c->next = s->reap;
	s->reap = c;
	if (spiffe_timer_set(&s->loop, &s->reap_timer, 0) != 0)
		logmsg(s, "out of memory: closed connections freed later");
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

		while (s->queue == NULL && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->queue == NULL)
			break;
		j = s->queue;
		s->queue = j->next;
		if (s->queue == NULL)
			s->queue_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		s->cfg.handler(s->cfg.handler_arg, &j->req, &j->resp);
		pthread_mutex_lock(&s->mu);
		j->next = s->done;
		s->done = j;
		spiffe_evloop_wake(&s->loop);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void dispatch(conn *c)
{
	spiffe_httpd *s = c->srv;
	job *j = c->job;
	spiffe_http_head *h = &j->head;
	const uint8_t *p = c->in;
	const uint8_t *hv;
	size_t hl;

	memset(&j->req, 0, sizeof(j->req));
	j->kv = malloc((h->nfields ? h->nfields : 1) * sizeof(*j->kv));
	if (j->kv == NULL) {
		fail_request(c, 503);
		return;
	}
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
	j->req.body = p + h->head_len;
	j->req.body_len = j->produced;
	j->req.version = h->minor ? 11 : 10;
	j->req.peer = spiffe_tls_peer_id(&c->tls);
	j->req.remote = c->remote;
	j->req.head = h;
	j->req.raw = p;
	resp_free(&j->resp);
	c->keep_alive = h->keep_alive && !s->draining;
	c->state = S_BUSY;
	spiffe_timer_cancel(&s->loop, &c->timer);
	want(c, 0);
	s->requests++;
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->queue_tail != NULL)
		s->queue_tail->next = j;
	else
		s->queue = j;
	s->queue_tail = j;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
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

		if (fd < 0)
			return;   /* EAGAIN, or an error for one peer */
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
	if (s->lfd >= 0) {
		spiffe_evloop_del(&s->loop, &s->listen_ev);
		close(s->lfd);
		s->lfd = -1;
	}
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == S_HS || (c->state == S_IDLE && c->in_len == 0))
			conn_close(c);
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
#undef DEF
	if (s->cfg.max_body == 0 || s->cfg.max_body > (size_t)1 << 30)
		s->cfg.max_body = SPIFFE_HTTP_MAX_BODY;
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
	rc = spiffe_net_listen(cfg->listen, 511, &s->lfd, eb);
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
	for (j = s->done; j != NULL; j = j->next)
		j->c->state = S_IDLE;
	s->done = NULL;
	for (j = s->queue; j != NULL; j = j->next)
		j->c->state = S_IDLE;
	s->queue = NULL;
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
