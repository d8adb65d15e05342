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

/* Proxy settings; zero fields take the defaults named. */
typedef struct spiffe_rproxy_config {
	const char *url;             /* "https://host[:port][/path]", no
				      * query: the upstream */
	size_t url_len;
	spiffe_tls_config *tls;      /* CLIENT or MTLS_CLIENT role */
	int pool;                    /* 4 idle upstream connections; match
				      * the server's workers */
	int h2;                      /* set: offer h2 upstream (httpc.h) */
	/* Gets a line per failed request; may be NULL. */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
} spiffe_rproxy_config;

/*
 * Sets up a proxy as cfg says; cfg->tls must outlive p.  SPIFFE_ERR_ARG
 * for a URL that is not one (the message names the problem),
 * SPIFFE_ERR_NOMEM.
 */
SPIFFE_CHECK int spiffe_rproxy_init(spiffe_rproxy *p,
				    const spiffe_rproxy_config *cfg,
				    spiffe_errbuf *eb);

/* Closes the upstream connections; safe on a zeroed struct and twice. */
void spiffe_rproxy_free(spiffe_rproxy *p);

/*
 * The spiffe_httpd handler (arg is the spiffe_rproxy): forwards req and
 * fills resp with the upstream's answer, or 400 / 502 (see the top).
 */
void spiffe_rproxy_handler(void *arg, const spiffe_httpd_req *req,
			   spiffe_httpd_resp *resp);

#endif
