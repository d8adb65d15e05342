/*
 * rproxy.h - a reverse proxy to one upstream origin, as a spiffe_httpd
 * handler: Go's httputil.NewSingleHostReverseProxy with its default
 * director, over SPIFFE TLS both ways.
 *
 * Per request, upstream: every field but the hop-by-hop ones
 * (spiffe_http_is_hop_by_hop: Connection, Keep-Alive, TE, Upgrade, the
 * names Connection lists, ...) goes through byte for byte, Authorization
 * and Host included; Content-Length and Expect are dropped because the
 * body, read whole, is framed again; the client's address is appended to
 * X-Forwarded-For ("prior, 127.0.0.1").  The request-target is joined to
 * the upstream URL's path ("/api" + "/x" = "/api/x"); an absolute-form
 * target is reduced to its path and query.
 *
 * Per response, downstream: the status, every end-to-end field and the
 * body.  When the upstream cannot be reached, fails our TLS checks (its
 * SVID is not the one the TLS configuration's authorizer wants), or
 * answers with something that is not HTTP, the client gets 502 and the
 * log callback a line in Go's words ("http: proxy error: ...").
 *
 * Upstream connections are kept alive in the httpc pool and shared by the
 * server's workers.
 */
#ifndef SPIFFE_RPROXY_H
#define SPIFFE_RPROXY_H

#include <stddef.h>

#include "err.h"
#include "httpc.h"
#include "httpd.h"
#include "tls.h"

/* A proxy.  Fields are private. */
typedef struct spiffe_rproxy {
	spiffe_httpc up;
	char *base;                 /* upstream path, "" for "/" */
	size_t base_len;
	void (*log)(void *arg, const char *msg);
	void *log_arg;
	int inited;
} spiffe_rproxy;

/*
 * Sets up a proxy to url ("https://host[:port][/path]", no query) over
 * tls, a CLIENT or MTLS_CLIENT configuration that must outlive p.  pool
 * is the number of idle upstream connections kept (0: 4; match the
 * server's workers).  log (may be NULL) gets a line per failed request.
 */
SPIFFE_CHECK int spiffe_rproxy_init(spiffe_rproxy *p, const char *url,
				    size_t url_len, spiffe_tls_config *tls,
				    int pool,
				    void (*log)(void *arg, const char *msg),
				    void *log_arg, spiffe_errbuf *eb);

/* Closes the upstream connections; safe on a zeroed struct and twice. */
void spiffe_rproxy_free(spiffe_rproxy *p);

/*
 * The spiffe_httpd handler (arg is the spiffe_rproxy): forwards req and
 * fills resp with the upstream's answer, or 400 / 502 (see the top).
 */
void spiffe_rproxy_handler(void *arg, const spiffe_httpd_req *req,
			   spiffe_httpd_resp *resp);

#endif
