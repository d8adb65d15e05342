/*
 * rproxy.c - a reverse proxy as an httpd handler (see rproxy.h).
 */
#include "rproxy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http1.h"

#define XFF "X-Forwarded-For"

int spiffe_rproxy_init(spiffe_rproxy *p, const spiffe_rproxy_config *cfg,
		       spiffe_errbuf *eb)
{
	char host[SPIFFE_NET_HOST_MAX + 1], port[SPIFFE_NET_PORT_MAX + 1];
	spiffe_httpc_config hc;
	const char *path;
	size_t plen;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = spiffe_httpc_parse_url(cfg->url, cfg->url_len, host, port,
				    &path, &plen, eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc, "upstream URL");
	if (memchr(path, '?', plen) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "upstream URL: a query "
				   "is not supported");
	/* Stored without its last '/': joining adds the request's. */
	if (plen > 0 && path[plen - 1] == '/')
		plen--;
	if ((p->base = malloc(plen + 1)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memcpy(p->base, path, plen);
	p->base[plen] = '\0';
	p->base_len = plen;
	memset(&hc, 0, sizeof(hc));
	hc.tls = cfg->tls;
	hc.pool = cfg->pool;
	hc.h2 = cfg->h2;
	rc = spiffe_httpc_init(&p->up, &hc, host, port, eb);
	if (rc != 0) {
		free(p->base);
		p->base = NULL;
		return rc;
	}
	p->log = cfg->log;
	p->log_arg = cfg->log_arg;
	p->inited = 1;
	return 0;
}

void spiffe_rproxy_free(spiffe_rproxy *p)
{
	if (!p->inited)
		return;
	spiffe_httpc_free(&p->up);
	free(p->base);
	memset(p, 0, sizeof(*p));
}

static void say(const spiffe_rproxy *p, const char *fmt, ...)
	SPIFFE_PRINTF(2, 3);

static void say(const spiffe_rproxy *p, const char *fmt, ...)
{
	char msg[SPIFFE_ERRBUF_SIZE + 64];
	va_list ap;

	if (p->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	p->log(p->log_arg, msg);
}

static int name_is(const char *name, size_t len, const char *lit,
		   size_t litlen)
{
	return len == litlen && strncasecmp(name, lit, len) == 0;
}

/*
 * The upstream request-target: the base path joined with the path and
 * query of t[0..len) (origin-form, or absolute-form reduced to them), in
 * a buffer from malloc.  SPIFFE_ERR_HTTP for any other form.
 */
static int join_target(const spiffe_rproxy *p, const char *t, size_t len,
		       char **out, size_t *olen)
{
	const char *path = t;
	size_t plen = len, lead = 0;
	char *s;

	if (len >= 7 && (strncasecmp(t, "http://", 7) == 0 ||
			 (len >= 8 && strncasecmp(t, "https://", 8) == 0))) {
		size_t i = t[4] == ':' ? 7 : 8;

		while (i < len && t[i] != '/' && t[i] != '?')
			i++;
		path = t + i;
		plen = len - i;
		/* "http://h" and "http://h?q" have the path "/". */
		lead = plen == 0 || path[0] == '?';
	} else if (len == 0 || t[0] != '/') {
		return SPIFFE_ERR_HTTP;
	}
	s = malloc(p->base_len + lead + plen + 1);
	if (s == NULL)
		return SPIFFE_ERR_NOMEM;
	memcpy(s, p->base, p->base_len);
	if (lead)
		s[p->base_len] = '/';
	memcpy(s + p->base_len + lead, path, plen);
	*olen = p->base_len + lead + plen;
	s[*olen] = '\0';
	*out = s;
	return 0;
}

/*
 * The value X-Forwarded-For takes upstream, in *out (from malloc): the
 * values it came with joined by ", ", then the client's address.  *out
 * is NULL when there is no address to add: the fields then go through
 * unchanged.  0 or SPIFFE_ERR_NOMEM.
 */
static int forwarded_for(const spiffe_httpd_req *req, char **out,
			 size_t *len)
{
	size_t need, rl, o = 0;
	char *s;

	*out = NULL;
	*len = 0;
	if (req->remote == NULL || req->remote[0] == '\0')
		return 0;
	rl = strlen(req->remote);
	need = rl + 1;
	for (size_t i = 0; i < req->nfields; i++) {
		const spiffe_http_kv *f = &req->fields[i];

		if (name_is(f->name, f->name_len, XFF, sizeof(XFF) - 1))
			need += f->value_len + 2;
	}
	if ((s = malloc(need)) == NULL)
		return SPIFFE_ERR_NOMEM;
	for (size_t i = 0; i < req->nfields; i++) {
		const spiffe_http_kv *f = &req->fields[i];

		if (!name_is(f->name, f->name_len, XFF, sizeof(XFF) - 1))
			continue;
		memcpy(s + o, f->value, f->value_len);
		o += f->value_len;
		memcpy(s + o, ", ", 2);
		o += 2;
	}
	memcpy(s + o, req->remote, rl);
	o += rl;
	s[o] = '\0';
	*out = s;
	*len = o;
	return 0;
}

/* 1 if request field f stays at this hop. */
static int drop_request_field(const spiffe_httpd_req *req,
			      const spiffe_http_kv *f, int have_xff)
{
	if (name_is(f->name, f->name_len, "content-length", 14) ||
	    name_is(f->name, f->name_len, "expect", 6) ||
	    (have_xff && name_is(f->name, f->name_len, XFF, sizeof(XFF) - 1)))
		return 1;
	/* HTTP/2 has no connection-specific fields: no head to consult. */
	return req->head != NULL &&
	       spiffe_http_is_hop_by_hop(req->head, req->raw,
					 (const uint8_t *)f->name,
					 f->name_len);
}

/* 1 if response field f of r stays at this hop. */
static int drop_response_field(const spiffe_httpc_resp *r,
			       const spiffe_http_field *f)
{
	const uint8_t *n = spiffe_http_at(r->raw, f->name);

	return spiffe_http_is_hop_by_hop(&r->head, r->raw, n, f->name.len) ||
	       name_is((const char *)n, f->name.len, "content-length", 14);
}

/*
 * Copies the upstream response r into resp: SPIFFE_ERR_LIMIT, before
 * anything is copied, if it has more fields than a response may carry.
 * A failure to copy after that marks resp failed (the server answers
 * 500).
 */
static int copy_response(const spiffe_httpc_resp *r, int head,
			 spiffe_httpd_resp *resp, spiffe_errbuf *eb)
{
	size_t keep = 0;
	const uint8_t *v;
	size_t vlen;

	for (size_t i = 0; i < r->head.nfields; i++)
		keep += !drop_response_field(r, &r->head.fields[i]);
	if (keep > SPIFFE_HTTPD_MAX_RESP_FIELDS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "upstream response "
				   "has %zu fields, more than %d", keep,
				   SPIFFE_HTTPD_MAX_RESP_FIELDS);
	resp->status = r->status;
	for (size_t i = 0; i < r->head.nfields; i++) {
		const spiffe_http_field *f = &r->head.fields[i];

		if (drop_response_field(r, f))
			continue;
		if (spiffe_httpd_resp_header(resp, (const char *)
					     spiffe_http_at(r->raw, f->name),
					     f->name.len, (const char *)
					     spiffe_http_at(r->raw, f->value),
					     f->value.len) != 0)
			return 0;
	}
	if (spiffe_httpd_resp_write(resp, r->body, r->body_len) != 0)
		resp->err = 1;  /* set already; said for the reader */
	/* HEAD: the length the upstream's GET would have: its one field of
	 * at most 18 digits, else none (chunked, or not said). */
	if (head) {
		uint64_t n = SPIFFE_HTTPD_LENGTH_UNKNOWN;

		if (spiffe_httpc_resp_header(r, "content-length", &v,
					     &vlen) == 0 && vlen > 0 &&
		    vlen <= 18) {
			size_t i;

			n = 0;
			for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9';
			     i++)
				n = n * 10 + (uint64_t)(v[i] - '0');
			if (i < vlen)
				n = SPIFFE_HTTPD_LENGTH_UNKNOWN;
		}
		spiffe_httpd_resp_head_length(resp, n);
	}
	return 0;
}

void spiffe_rproxy_handler(void *arg, const spiffe_httpd_req *req,
			   spiffe_httpd_resp *resp)
{
	spiffe_rproxy *p = arg;
	spiffe_http_kv f[SPIFFE_HTTP_MAX_HEADERS];
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	char *target = NULL, *xff = NULL;
	size_t n = 0, tlen = 0, xlen;
	int rc;

	rc = join_target(p, req->target, req->target_len, &target, &tlen);
	if (rc == 0)
		rc = forwarded_for(req, &xff, &xlen);
	if (rc != 0) {
		/* Not a target we can forward, or out of memory. */
		resp->status = rc == SPIFFE_ERR_HTTP ? 400 : 503;
		free(target);
		return;
	}
	for (size_t i = 0; i < req->nfields; i++) {
		if (drop_request_field(req, &req->fields[i], xff != NULL))
			continue;
		if (n == SPIFFE_HTTP_MAX_HEADERS - (xff != NULL)) {
			resp->status = 431;
			goto out;
		}
		f[n++] = req->fields[i];
	}
	if (xff != NULL) {
		f[n].name = XFF;
		f[n].name_len = sizeof(XFF) - 1;
		f[n].value = xff;
		f[n].value_len = xlen;
		n++;
	}
	spiffe_httpc_resp_init(&r);
	rc = spiffe_httpc_request(&p->up, req->method, req->method_len,
				  target, tlen, f, n, req->body,
				  req->body_len, &r, &eb);
	if (rc == 0)
		rc = copy_response(&r, req->method_len == 4 &&
				   memcmp(req->method, "HEAD", 4) == 0,
				   resp, &eb);
	if (rc != 0) {
		say(p, "http: proxy error: %s", eb.msg);
		resp->status = 502;
	}
	spiffe_httpc_resp_free(&r);
out:
	free(target);
	free(xff);
}
