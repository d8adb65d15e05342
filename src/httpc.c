/*
 * httpc.c - the HTTPS client (see httpc.h).
 */
#include "httpc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "h2.h"

/* An HTTP/2 request in flight, as the session's callbacks see it. */
struct call {
	spiffe_httpc *c;
	spiffe_h2_session *h2;
	uint32_t sid;
	spiffe_httpc_resp *resp;
	int head_req;
	unsigned interim;            /* 1xx sections seen */
	int got_head;                /* the final response head came */
	int got_any;                 /* any response byte came */
	int done;                    /* the stream closed */
	uint32_t code;               /* its RST_STREAM code, 0 if none */
	int err;                     /* a response we refuse, 0 if none */
	spiffe_errbuf eb;
	size_t cap;                  /* of resp->body */
};

struct spiffe_httpc_conn {
	spiffe_tls_conn tls;
	int fd;
	spiffe_h2_session *h2;       /* ALPN chose h2, else NULL */
	struct call *call;
};

typedef struct spiffe_httpc_conn cconn;

int spiffe_httpc_parse_url(const char *url, size_t len,
			   char host[SPIFFE_NET_HOST_MAX + 1],
			   char port[SPIFFE_NET_PORT_MAX + 1],
			   const char **path, size_t *path_len,
			   spiffe_errbuf *eb)
{
	static const char scheme[] = "https://";
	const size_t sl = sizeof(scheme) - 1;
	const char *slash;
	size_t alen;
	char addr[SPIFFE_NET_HOST_MAX + SPIFFE_NET_PORT_MAX + 4];
	int rc;

	if (len <= sl || memcmp(url, scheme, sl) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "URL must start with "
				   "https://");
	slash = memchr(url + sl, '/', len - sl);
	alen = (size_t)((slash ? slash : url + len) - (url + sl));
	if (alen == 0 || alen + 5 > sizeof(addr))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "URL host is empty or "
				   "too long");
	memcpy(addr, url + sl, alen);
	/* No port: add the default, unless the host is "[v6]" with one. */
	if (addr[alen - 1] == ']' ||
	    (addr[0] != '[' && memchr(addr, ':', alen) == NULL)) {
		memcpy(addr + alen, ":443", 4);
		alen += 4;
	}
	rc = spiffe_net_split(addr, alen, host, port, 0, eb);
	if (rc != 0)
		return rc;
	if (slash != NULL) {
		*path = slash;
		*path_len = (size_t)(url + len - slash);
	} else {
		*path = "/";
		*path_len = 1;
	}
	for (size_t i = 0; i < *path_len; i++)
		if ((unsigned char)(*path)[i] <= 0x20 ||
		    (unsigned char)(*path)[i] >= 0x7f || (*path)[i] == '#')
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "URL path "
					   "has a character it may not have");
	return 0;
}

int spiffe_httpc_init(spiffe_httpc *c, const spiffe_httpc_config *cfg,
		      const char *host, const char *port, spiffe_errbuf *eb)
{
	size_t hl = strlen(host), pl = strlen(port);
	int v6;

	memset(c, 0, sizeof(*c));
	if (cfg->tls == NULL || (cfg->tls->mode != SPIFFE_TLS_CLIENT &&
				 cfg->tls->mode != SPIFFE_TLS_MTLS_CLIENT))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpc: the TLS "
				   "configuration is not a client's");
	if (hl == 0 || hl > SPIFFE_NET_HOST_MAX || pl == 0 ||
	    pl > SPIFFE_NET_PORT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpc: bad host or "
				   "port");
	c->cfg = *cfg;
	if (c->cfg.connect_timeout_ms <= 0)
		c->cfg.connect_timeout_ms = 10000;
	if (c->cfg.timeout_ms <= 0)
		c->cfg.timeout_ms = 30000;
	if (c->cfg.max_body == 0)
		c->cfg.max_body = SPIFFE_HTTP_MAX_BODY;
	if (c->cfg.pool <= 0)
		c->cfg.pool = 4;
	if (c->cfg.pool > SPIFFE_HTTPC_MAX_POOL)
		c->cfg.pool = SPIFFE_HTTPC_MAX_POOL;
	if (c->cfg.h2 && cfg->tls->alpn[0] == NULL) {
		static const char *const alpn[] = { "h2", "http/1.1" };

		if (spiffe_tls_config_set_alpn(cfg->tls, alpn, 2) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpc: cannot "
					   "set ALPN");
	}
	memcpy(c->host, host, hl + 1);
	memcpy(c->port, port, pl + 1);
	v6 = memchr(host, ':', hl) != NULL;
	snprintf(c->authority, sizeof(c->authority), "%s%s%s:%s",
		 v6 ? "[" : "", host, v6 ? "]" : "", port);
	pthread_mutex_init(&c->mu, NULL);
	c->inited = 1;
	return 0;
}

static void cconn_free(cconn *k)
{
	if (k == NULL)
		return;
	if (k->h2 != NULL) {
		spiffe_h2_free(k->h2);
		free(k->h2);
	}
	spiffe_tls_close_notify(&k->tls);
	spiffe_tls_conn_free(&k->tls);
	if (k->fd >= 0)
		close(k->fd);
	free(k);
}

void spiffe_httpc_free(spiffe_httpc *c)
{
	if (!c->inited)
		return;
	for (int i = 0; i < c->nidle; i++)
		cconn_free(c->idle[i]);
	pthread_mutex_destroy(&c->mu);
	memset(c, 0, sizeof(*c));
}

void spiffe_httpc_resp_init(spiffe_httpc_resp *r)
{
	memset(r, 0, sizeof(*r));
	spiffe_http_head_init(&r->head);
}

void spiffe_httpc_resp_free(spiffe_httpc_resp *r)
{
	free(r->raw);
	free(r->body);
	spiffe_httpc_resp_init(r);
}

int spiffe_httpc_resp_header(const spiffe_httpc_resp *r, const char *name,
			     const uint8_t **val, size_t *len)
{
	return spiffe_http_header_get(&r->head, r->raw, name, val, len);
}

static int alpn_is_h2(const char *p)
{
	return p != NULL && p[0] == 'h' && p[1] == '2' && p[2] == '\0';
}

static int h2_setup(cconn *k, spiffe_errbuf *eb);
static int h2_idle_ok(cconn *k);

/* A pooled connection the server has not closed, or NULL. */
static cconn *pool_get(spiffe_httpc *c)
{
	for (;;) {
		cconn *k = NULL;
		struct pollfd p;

		pthread_mutex_lock(&c->mu);
		if (c->nidle > 0)
			k = c->idle[--c->nidle];
		pthread_mutex_unlock(&c->mu);
		if (k == NULL)
			return NULL;
		/* Readable while idle means closed (or junk): drop it.
		 * HTTP/2 may have sent frames: the session reads them. */
		p.fd = k->fd;
		p.events = POLLIN;
		if (poll(&p, 1, 0) == 0 && !spiffe_tls_pending(&k->tls))
			return k;
		if (k->h2 != NULL && h2_idle_ok(k))
			return k;
		cconn_free(k);
	}
}

static void pool_put(spiffe_httpc *c, cconn *k)
{
	pthread_mutex_lock(&c->mu);
	if (c->nidle < c->cfg.pool) {
		c->idle[c->nidle++] = k;
		k = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	cconn_free(k);
}

static int dial(spiffe_httpc *c, cconn **out, spiffe_errbuf *eb)
{
	int64_t deadline = spiffe_monotonic_ms() + c->cfg.connect_timeout_ms;
	cconn *k = calloc(1, sizeof(*k));
	int rc;

	*out = NULL;
	if (k == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	spiffe_tls_conn_init(&k->tls);
	rc = spiffe_net_connect(c->host, c->port, deadline, &k->fd, eb);
	if (rc == 0)
		rc = spiffe_tls_conn_setup(&k->tls, c->cfg.tls, k->fd,
					   c->host, eb);
	if (rc == 0)
		rc = spiffe_tls_handshake_wait(&k->tls, deadline, eb);
	if (rc == 0 && alpn_is_h2(spiffe_tls_alpn(&k->tls)))
		rc = h2_setup(k, eb);
	if (rc != 0) {
		cconn_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

/* ---- HTTP/2 ----------------------------------------------------------- */

static void call_fail(struct call *q, int err, const char *why)
{
	if (q->err != 0)
		return;
	q->err = spiffe_fail(&q->eb, err, "httpc: %s from %s", why,
			     q->c->authority);
	/* Only this stream is lost; the connection can go on. */
	if (spiffe_h2_reset(q->h2, q->sid, SPIFFE_H2_CANCEL) != 0)
		q->done = 1;
}

/*
 * The final response headers h[0..n): written as the HTTP/1.1 head they
 * stand for into resp->raw and parsed by the same parser, so a caller
 * reads (and the proxy forwards) the same fields under the same rules
 * whatever the protocol.
 */
static void h2_head(struct call *q, int status, const spiffe_header *h,
		    size_t n)
{
	spiffe_http_kv kv[SPIFFE_H2_MAX_HEADERS];
	spiffe_httpc_resp *r = q->resp;
	size_t m = 0, cap = 32 + strlen(spiffe_http_reason(status)), len;

	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len > 0 && h[i].name[0] == ':')
			continue;
		kv[m].name = (const char *)h[i].name;
		kv[m].name_len = h[i].name_len;
		kv[m].value = (const char *)h[i].value;
		kv[m].value_len = h[i].value_len;
		cap += h[i].name_len + h[i].value_len + 4;
		m++;
	}
	r->raw = malloc(cap);
	if (r->raw == NULL) {
		call_fail(q, SPIFFE_ERR_NOMEM, "out of memory");
		return;
	}
	if (spiffe_http_write_response(r->raw, cap, &len, status, kv, m,
				       NULL) != 0 ||
	    spiffe_http_response_parse(&r->head, r->raw, len, q->head_req,
				       NULL) != 0) {
		call_fail(q, SPIFFE_ERR_HTTP, "bad response header");
		return;
	}
	r->raw_len = len;
	q->got_head = 1;
}

static void cb_headers(void *ctx, uint32_t sid, const spiffe_header *h,
		       size_t n, unsigned flags)
{
	cconn *k = ctx;
	struct call *q = k->call;
	int status = 0;

	if (q == NULL || sid != q->sid || q->err != 0)
		return;
	q->got_any = 1;
	if (flags & SPIFFE_H2_TRAILERS)
		return;         /* dropped, as on HTTP/1.1 */
	/* The session checked :status: three digits, 100 or more. */
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == 7 && memcmp(h[i].name, ":status", 7) == 0)
			status = (h[i].value[0] - '0') * 100 +
				(h[i].value[1] - '0') * 10 +
				(h[i].value[2] - '0');
	if (status < 200) {
		if (++q->interim > SPIFFE_HTTP_MAX_INTERIM)
			call_fail(q, SPIFFE_ERR_LIMIT, "too many 1xx "
				  "responses");
		return;
	}
	h2_head(q, status, h, n);
}

static void cb_data(void *ctx, uint32_t sid, const uint8_t *p, size_t len,
		    int end)
{
	cconn *k = ctx;
	struct call *q = k->call;
	spiffe_httpc_resp *r;

	(void)end;
	if (q == NULL || sid != q->sid || q->err != 0)
		return;
	r = q->resp;
	q->got_any = 1;
	if (len > q->c->cfg.max_body - r->body_len) {
		call_fail(q, SPIFFE_ERR_LIMIT, "response body too large");
		return;
	}
	if (r->body_len + len > q->cap) {
		size_t cap = q->cap ? q->cap : 1024;
		uint8_t *nb;

		while (cap < r->body_len + len)
			cap = cap > q->c->cfg.max_body / 2 ?
				q->c->cfg.max_body : cap * 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			call_fail(q, SPIFFE_ERR_NOMEM, "out of memory");
			return;
		}
		r->body = nb;
		q->cap = cap;
	}
	if (len > 0)
		memcpy(r->body + r->body_len, p, len);
	r->body_len += len;
	if (spiffe_h2_consume(q->h2, sid, len) != 0)
		call_fail(q, SPIFFE_ERR_NOMEM, "out of memory");
}

static void cb_close(void *ctx, uint32_t sid, uint32_t code)
{
	cconn *k = ctx;
	struct call *q = k->call;

	if (q == NULL || sid != q->sid)
		return;
	q->done = 1;
	q->code = code;
}

/* ALPN chose h2: k gets a client session. */
static int h2_setup(cconn *k, spiffe_errbuf *eb)
{
	static const spiffe_h2_callbacks cb = {
		cb_headers, cb_data, cb_close, NULL, NULL,
	};

	k->h2 = malloc(sizeof(*k->h2));
	if (k->h2 == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (spiffe_h2_init(k->h2, SPIFFE_H2_CLIENT, &cb, k, NULL) != 0) {
		spiffe_h2_free(k->h2);
		free(k->h2);
		k->h2 = NULL;
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	return 0;
}

/*
 * An idle HTTP/2 connection takes what the server sent meanwhile
 * (SETTINGS, PING, GOAWAY); 1 if it can still carry a request.
 */
static int h2_idle_ok(cconn *k)
{
	uint8_t buf[4096];

	for (;;) {
		size_t n;
		int rc = spiffe_tls_read(&k->tls, buf, sizeof(buf), &n, NULL);

		if (rc == SPIFFE_ERR_AGAIN)
			return !spiffe_h2_done(k->h2);
		if (rc != 0 || spiffe_h2_feed(k->h2, buf, n) != 0)
			return 0;
	}
}

/* The request as an HTTP/2 header list, names in lowercase. */
struct h2req {
	spiffe_header h[SPIFFE_HTTP_MAX_HEADERS + 6];
	size_t n;
	uint8_t *names;
	char clen[24];
};

static int h2_build(spiffe_httpc *c, struct h2req *b, const char *method,
		    size_t mlen, const char *target, size_t tlen,
		    const spiffe_http_kv *f, size_t n, size_t blen,
		    int want_clen, spiffe_errbuf *eb)
{
	const char *auth = c->authority;
	size_t alen = strlen(c->authority), total = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		total += f[i].name_len;
	b->names = malloc(total ? total : 1);
	if (b->names == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	b->n = 4;
	for (size_t i = 0; i < n; i++) {
		uint8_t *nm = b->names + off;

		for (size_t j = 0; j < f[i].name_len; j++) {
			uint8_t x = (uint8_t)f[i].name[j];

			nm[j] = x >= 'A' && x <= 'Z' ? (uint8_t)(x + 32) : x;
		}
		off += f[i].name_len;
		if (f[i].name_len == 4 && memcmp(nm, "host", 4) == 0) {
			auth = f[i].value;
			alen = f[i].value_len;
			continue;
		}
		b->h[b->n++] = (spiffe_header){
			nm, f[i].name_len, (const uint8_t *)f[i].value,
			f[i].value_len, 0 };
	}
	if (want_clen)
		b->h[b->n++] = (spiffe_header){
			(const uint8_t *)"content-length", 14,
			(const uint8_t *)b->clen,
			(size_t)snprintf(b->clen, sizeof(b->clen), "%zu",
					 blen), 0 };
	b->h[0] = (spiffe_header){ (const uint8_t *)":method", 7,
				   (const uint8_t *)method, mlen, 0 };
	b->h[1] = (spiffe_header){ (const uint8_t *)":scheme", 7,
				   (const uint8_t *)"https", 5, 0 };
	b->h[2] = (spiffe_header){ (const uint8_t *)":authority", 10,
				   (const uint8_t *)auth, alen, 0 };
	b->h[3] = (spiffe_header){ (const uint8_t *)":path", 5,
				   (const uint8_t *)target, tlen, 0 };
	return 0;
}

/* Writes everything the session has to send. */
static int h2_flush(cconn *k, int64_t deadline, spiffe_errbuf *eb)
{
	for (;;) {
		const uint8_t *p;
		size_t len;
		int rc = spiffe_h2_output(k->h2, &p, &len);

		if (rc != 0)
			return spiffe_fail(eb, rc, "httpc: HTTP/2 output");
		if (len == 0)
			return 0;
		rc = spiffe_tls_write_wait(&k->tls, p, len, deadline, eb);
		if (rc == 0)
			rc = spiffe_h2_output_consumed(k->h2, len);
		if (rc != 0)
			return rc;
	}
}

/*
 * One exchange on HTTP/2 connection k.  *got says whether any response
 * byte came (no retry then), *refused whether the server refused the
 * stream unprocessed (safe to retry), *clean whether k may be pooled.
 */
static int h2_exchange(spiffe_httpc *c, cconn *k, const struct h2req *b,
		       const uint8_t *body, size_t blen, int head_req,
		       spiffe_httpc_resp *resp, int64_t deadline, int *got,
		       int *refused, int *clean, spiffe_errbuf *eb)
{
	uint8_t buf[16384];
	struct call q;
	size_t sent = 0;
	int rc;

	*got = *refused = *clean = 0;
	memset(&q, 0, sizeof(q));
	q.c = c;
	q.h2 = k->h2;
	q.resp = resp;
	q.head_req = head_req;
	rc = spiffe_h2_submit_request(k->h2, b->h, b->n, blen == 0, &q.sid);
	if (rc == SPIFFE_ERR_CLOSED || rc == SPIFFE_ERR_AGAIN) {
		*refused = 1;
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "httpc: %s is "
				   "closing the connection", c->authority);
	}
	if (rc != 0)
		return spiffe_fail(eb, rc, "httpc: %s",
				   spiffe_h2_errmsg(k->h2));
	k->call = &q;
	for (;;) {
		size_t n;

		if (sent < blen) {
			rc = spiffe_h2_send_data(k->h2, q.sid, body + sent,
						 blen - sent, 1, &n);
			if (rc == 0)
				sent += n;
			else if (rc != SPIFFE_ERR_CLOSED)
				break;
		}
		rc = h2_flush(k, deadline, eb);
		if (rc != 0 || q.done)
			break;
		/* Read only when the body cannot go on (windows shut). */
		if (sent < blen && spiffe_h2_send_room(k->h2, q.sid) > 0)
			continue;
		rc = spiffe_tls_read_wait(&k->tls, buf, sizeof(buf), &n,
					  deadline, eb);
		if (rc != 0)
			break;
		rc = spiffe_h2_feed(k->h2, buf, n);
		if (rc != 0) {
			spiffe_fail(eb, rc, "httpc: HTTP/2 from %s: %s",
				    c->authority, spiffe_h2_errmsg(k->h2));
			break;
		}
	}
	k->call = NULL;
	*got = q.got_any;
	if (rc != 0)
		return rc;
	if (q.err != 0) {
		if (eb != NULL)
			*eb = q.eb;
		return q.err;
	}
	if (q.code != SPIFFE_H2_NO_ERROR || !q.got_head) {
		*refused = q.code == SPIFFE_H2_REFUSED_STREAM && !q.got_any;
		return spiffe_fail(eb, SPIFFE_ERR_PROTOCOL, "httpc: %s reset "
				   "the stream (HTTP/2 error 0x%x)",
				   c->authority, (unsigned)q.code);
	}
	resp->status = resp->head.status;
	resp->version = 20;
	*clean = !spiffe_h2_done(k->h2);
	return 0;
}

static int idempotent(const char *m, size_t n)
{
	static const char *const ok[] = { "GET", "HEAD", "PUT", "DELETE",
					   "OPTIONS", "TRACE" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strlen(ok[i]) == n && memcmp(ok[i], m, n) == 0)
			return 1;
	return 0;
}

/* Reads the response head into r->raw; the bytes after it in *extra. */
static int read_head(spiffe_httpc *c, cconn *k, int head_req,
		     spiffe_httpc_resp *r, int64_t deadline, size_t *got,
		     spiffe_errbuf *eb)
{
	size_t cap = 0;
	int rc;

	*got = 0;
	for (;;) {
		size_t n;

		if (cap - r->raw_len < 2048) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *p;

			if (ncap > SPIFFE_HTTP_MAX_HEAD + 16384)
				ncap = SPIFFE_HTTP_MAX_HEAD + 16384;
			if (ncap <= cap)
				return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
						   "httpc: response head too "
						   "large");
			p = realloc(r->raw, ncap);
			if (p == NULL)
				return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
						   "out of memory");
			r->raw = p;
			cap = ncap;
		}
		rc = spiffe_tls_read_wait(&k->tls, r->raw + r->raw_len,
					  cap - r->raw_len, &n, deadline, eb);
		if (rc != 0)
			return rc;
		r->raw_len += n;
		*got += n;
		rc = spiffe_http_response_parse(&r->head, r->raw, r->raw_len,
						head_req, eb);
		if (rc == 0)
			return 0;
		if (rc != SPIFFE_ERR_AGAIN)
			return spiffe_wrap(eb, rc, "httpc: bad response from "
					   "%s", c->authority);
	}
}

/* Reads and decodes the body; *clean says the connection is reusable. */
static int read_body(spiffe_httpc *c, cconn *k, spiffe_httpc_resp *r,
		     int64_t deadline, int *clean, spiffe_errbuf *eb)
{
	spiffe_http_body b;
	uint8_t buf[16384];
	const uint8_t *in = r->raw + r->head.head_len;
	size_t inlen = r->raw_len - r->head.head_len, cap = 0;
	int rc;

	*clean = 0;
	rc = spiffe_http_body_begin(&b, r->head.framing,
				    r->head.content_length, c->cfg.max_body,
				    eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc, "httpc: response body");
	for (;;) {
		size_t used, made;

		/* Room for what this input can decode to (never a NULL
		 * buffer: NULL + 0 is undefined too). */
		if (r->body == NULL || cap - r->body_len < inlen) {
			size_t need = r->body_len + inlen;
			uint8_t *p;

			if (need > c->cfg.max_body)
				need = c->cfg.max_body;
			if (need < r->body_len + 1)
				need = r->body_len + 1;
			p = realloc(r->body, need);
			if (p == NULL)
				return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
						   "out of memory");
			r->body = p;
			cap = need;
		}
		rc = spiffe_http_body_read(&b, in, inlen, &used,
					   r->body + r->body_len,
					   cap - r->body_len, &made, eb);
		r->body_len += made;
		in += used;
		inlen -= used;
		if (rc == 0) {
			*clean = inlen == 0 && r->head.keep_alive;
			return 0;
		}
		if (rc != SPIFFE_ERR_AGAIN)
			return spiffe_wrap(eb, rc, "httpc: response body");
		if (inlen > 0)
			continue;
		rc = spiffe_tls_read_wait(&k->tls, buf, sizeof(buf), &inlen,
					  deadline, eb);
		if (rc == SPIFFE_ERR_CLOSED &&
		    r->head.framing == SPIFFE_HTTP_BODY_CLOSE)
			return 0;
		if (rc != 0)
			return rc;
		in = buf;
	}
}

int spiffe_httpc_request(spiffe_httpc *c, const char *method, size_t mlen,
			 const char *target, size_t tlen,
			 const spiffe_http_kv *fields, size_t n,
			 const uint8_t *body, size_t blen,
			 spiffe_httpc_resp *resp, spiffe_errbuf *eb)
{
	spiffe_http_kv kv[SPIFFE_HTTP_MAX_HEADERS + 2];
	struct h2req h2b;
	char clen[24];
	size_t nkv = 0, cap = 256, hlen, got;
	uint8_t *req = NULL;
	int rc, has_host = 0, head_req, clean, tries, want_clen;

	spiffe_httpc_resp_free(resp);
	h2b.names = NULL;
	if (n > SPIFFE_HTTP_MAX_HEADERS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "httpc: too many "
				   "fields");
	for (size_t i = 0; i < n; i++) {
		const spiffe_http_kv *f = &fields[i];

		if (f->name_len == 4 && strncasecmp(f->name, "host", 4) == 0)
			has_host = 1;
		if ((f->name_len == 14 &&
		     strncasecmp(f->name, "content-length", 14) == 0) ||
		    (f->name_len == 17 &&
		     strncasecmp(f->name, "transfer-encoding", 17) == 0) ||
		    (f->name_len == 10 &&
		     strncasecmp(f->name, "connection", 10) == 0))
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "httpc: %.*s "
					   "is set by the client",
					   (int)f->name_len, f->name);
		kv[nkv++] = *f;
		cap += f->name_len + f->value_len + 4;
	}
	if (!has_host) {
		kv[nkv].name = "Host";
		kv[nkv].name_len = 4;
		kv[nkv].value = c->authority;
		kv[nkv].value_len = strlen(c->authority);
		cap += kv[nkv].value_len + 8;
		nkv++;
	}
	want_clen = blen > 0 ||
		(mlen == 4 && memcmp(method, "POST", 4) == 0) ||
		(mlen == 3 && memcmp(method, "PUT", 3) == 0);
	if (want_clen) {
		kv[nkv].name = "Content-Length";
		kv[nkv].name_len = 14;
		kv[nkv].value = clen;
		kv[nkv].value_len = (size_t)snprintf(clen, sizeof(clen), "%zu",
						     blen);
		nkv++;
	}
	cap += mlen + tlen + 64 + 40;
	if (blen > SIZE_MAX - cap)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "httpc: body too "
				   "large");
	/* The HTTP/1.1 writer's checks hold for both protocols; without a
	 * buffer it only checks (and finds no room: LIMIT). */
	rc = spiffe_http_write_request(NULL, 0, &hlen, method, mlen, target,
				       tlen, kv, nkv, eb);
	if (rc != SPIFFE_ERR_LIMIT)
		return rc;
	head_req = mlen == 4 && memcmp(method, "HEAD", 4) == 0;

	for (tries = 0; tries < 2; tries++) {
		int64_t deadline;
		cconn *k = pool_get(c);
		int reused = k != NULL, refused = 0, h2got = 0;

		if (k == NULL) {
			rc = dial(c, &k, eb);
			if (rc != 0)
				break;
		}
		deadline = spiffe_monotonic_ms() + c->cfg.timeout_ms;
		spiffe_httpc_resp_free(resp);
		if (k->h2 != NULL) {
			if (h2b.names == NULL)
				rc = h2_build(c, &h2b, method, mlen, target,
					      tlen, fields, n, blen, want_clen,
					      eb);
			if (rc == 0)
				rc = h2_exchange(c, k, &h2b, body, blen,
						 head_req, resp, deadline,
						 &h2got, &refused, &clean, eb);
			got = (size_t)h2got;
		} else {
			if (req == NULL) {
				req = malloc(cap + blen);
				if (req == NULL) {
					cconn_free(k);
					rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM,
							 "out of memory");
					break;
				}
				rc = spiffe_http_write_request(
					req, cap, &hlen, method, mlen, target,
					tlen, kv, nkv, eb);
				if (rc != 0) {
					cconn_free(k);
					break;
				}
				if (blen > 0)
					memcpy(req + hlen, body, blen);
			}
			rc = spiffe_tls_write_wait(&k->tls, req, hlen + blen,
						   deadline, eb);
			got = 0;
			if (rc == 0)
				rc = read_head(c, k, head_req, resp, deadline,
					       &got, eb);
		}
		if (rc != 0 && (refused ||
				(reused && got == 0 &&
				 (rc == SPIFFE_ERR_CLOSED ||
				  rc == SPIFFE_ERR_IO ||
				  rc == SPIFFE_ERR_TLS) &&
				 idempotent(method, mlen)))) {
			/* The server dropped the idle connection, or
			 * refused the stream unprocessed: retry. */
			cconn_free(k);
			continue;
		}
		if (rc == 0 && k->h2 == NULL) {
			rc = read_body(c, k, resp, deadline, &clean, eb);
			resp->status = resp->head.status;
			resp->version = resp->head.minor ? 11 : 10;
		}
		if (rc == 0 && clean)
			pool_put(c, k);
		else
			cconn_free(k);
		break;
	}
	free(req);
	free(h2b.names);
	return rc;
}
