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

struct spiffe_httpc_conn {
	spiffe_tls_conn tls;
	int fd;
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
		/* Readable while idle means closed (or junk): drop it. */
		p.fd = k->fd;
		p.events = POLLIN;
		if (poll(&p, 1, 0) == 0 && !spiffe_tls_pending(&k->tls))
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
	if (rc != 0) {
		cconn_free(k);
		return rc;
	}
	*out = k;
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

		/* Room for what this input can decode to. */
		if (cap - r->body_len < inlen) {
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
	char clen[24];
	size_t nkv = 0, cap = 256, hlen, got;
	uint8_t *req;
	int rc, has_host = 0, head_req, clean, tries;

	spiffe_httpc_resp_free(resp);
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
	if (blen > 0 || (mlen == 4 && memcmp(method, "POST", 4) == 0) ||
	    (mlen == 3 && memcmp(method, "PUT", 3) == 0)) {
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
	req = malloc(cap + blen);
	if (req == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rc = spiffe_http_write_request(req, cap, &hlen, method, mlen, target,
				       tlen, kv, nkv, eb);
	if (rc != 0) {
		free(req);
		return rc;
	}
	if (blen > 0)
		memcpy(req + hlen, body, blen);
	head_req = mlen == 4 && memcmp(method, "HEAD", 4) == 0;

	for (tries = 0; tries < 2; tries++) {
		int64_t deadline;
		cconn *k = pool_get(c);
		int reused = k != NULL;

		if (k == NULL) {
			rc = dial(c, &k, eb);
			if (rc != 0)
				break;
		}
		deadline = spiffe_monotonic_ms() + c->cfg.timeout_ms;
		spiffe_httpc_resp_free(resp);
		rc = spiffe_tls_write_wait(&k->tls, req, hlen + blen, deadline,
					   eb);
		got = 0;
		if (rc == 0)
			rc = read_head(c, k, head_req, resp, deadline, &got,
				       eb);
		if (rc != 0 && reused && got == 0 &&
		    (rc == SPIFFE_ERR_CLOSED || rc == SPIFFE_ERR_IO ||
		     rc == SPIFFE_ERR_TLS) &&
		    idempotent(method, mlen)) {
			/* The server dropped the idle connection: retry. */
			cconn_free(k);
			continue;
		}
		if (rc == 0)
			rc = read_body(c, k, resp, deadline, &clean, eb);
		if (rc == 0) {
			resp->status = resp->head.status;
			if (clean)
				pool_put(c, k);
			else
				cconn_free(k);
		} else {
			cconn_free(k);
		}
		break;
	}
	free(req);
	return rc;
}
