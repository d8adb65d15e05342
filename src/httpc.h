/*
 * httpc.h - an HTTPS client for one origin: SPIFFE TLS (with an
 * authorizer) from tls.h, keep-alive connections in a small pool shared
 * by threads, fixed-length, chunked and close-delimited responses, and
 * connect, handshake and request deadlines.
 *
 * HTTP/2: with cfg.h2 set, ALPN offers "h2" and "http/1.1" and a server
 * that picks h2 is spoken to in HTTP/2 (h2.h); otherwise, and by
 * default, HTTP/1.1.  Either way a request has a connection to itself
 * (HTTP/2 connections are pooled like HTTP/1.1 ones, one stream at a
 * time: no multiplexing across threads), and the response looks the
 * same: its header list is written as the HTTP/1.1 head it stands for
 * and parsed by the same parser (resp.head, resp.raw), under the same
 * limits.
 *
 * A request with an idempotent method that fails on a pooled connection
 * before any response byte came back (the server closed it while idle)
 * is sent once more on a new connection, as Go's transport does; so is
 * any request whose stream the server refused unprocessed
 * (REFUSED_STREAM, or above the last stream of a GOAWAY).
 */
#ifndef SPIFFE_HTTPC_H
#define SPIFFE_HTTPC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "http1.h"
#include "net.h"
#include "tls.h"

/* Most idle connections one client keeps. */
#define SPIFFE_HTTPC_MAX_POOL 64

/* Client settings; zero fields take the defaults named. */
typedef struct spiffe_httpc_config {
	spiffe_tls_config *tls;      /* CLIENT or MTLS_CLIENT role */
	int connect_timeout_ms;      /* 10000: TCP connect and handshake */
	int timeout_ms;              /* 30000: one request, sent to read */
	size_t max_body;             /* SPIFFE_HTTP_MAX_BODY */
	int pool;                    /* 4 idle connections at most */
	int h2;                      /* set: offer h2 by ALPN (see top) */
} spiffe_httpc_config;

struct spiffe_httpc_conn;

/* A client for one origin.  Fields are private. */
typedef struct spiffe_httpc {
	spiffe_httpc_config cfg;
	char host[SPIFFE_NET_HOST_MAX + 1];
	char port[SPIFFE_NET_PORT_MAX + 1];
	char authority[SPIFFE_NET_HOST_MAX + SPIFFE_NET_PORT_MAX + 4];
	pthread_mutex_t mu;
	struct spiffe_httpc_conn *idle[SPIFFE_HTTPC_MAX_POOL];
	int nidle;
	int inited;
} spiffe_httpc;

/*
 * Splits an "https://host[:port][/path]" URL (port 443 by default; the
 * host may be "[v6]").  *path points into url ("/" when absent).
 */
SPIFFE_CHECK int spiffe_httpc_parse_url(const char *url, size_t len,
					char host[SPIFFE_NET_HOST_MAX + 1],
					char port[SPIFFE_NET_PORT_MAX + 1],
					const char **path, size_t *path_len,
					spiffe_errbuf *eb);

/*
 * Sets up a client of https://host:port; cfg->tls must outlive it.  With
 * cfg->h2 set and no ALPN protocols in cfg->tls yet, sets them to "h2"
 * and "http/1.1" (before its first connection).
 */
SPIFFE_CHECK int spiffe_httpc_init(spiffe_httpc *c,
				   const spiffe_httpc_config *cfg,
				   const char *host, const char *port,
				   spiffe_errbuf *eb);

/* Closes pooled connections; safe on a zeroed struct and twice. */
void spiffe_httpc_free(spiffe_httpc *c);

/* A response: its head (spans into raw) and its decoded body. */
typedef struct spiffe_httpc_resp {
	int status;
	int version;                 /* 10, 11 or 20 (HTTP/2) */
	spiffe_http_head head;
	uint8_t *raw;                /* the head as received (HTTP/2:
					the HTTP/1.1 head it stands for) */
	size_t raw_len;
	uint8_t *body;               /* decoded body */
	size_t body_len;
} spiffe_httpc_resp;

/* Starts an empty response. */
void spiffe_httpc_resp_init(spiffe_httpc_resp *r);
/* Frees it; safe on a zeroed struct and twice. */
void spiffe_httpc_resp_free(spiffe_httpc_resp *r);

/*
 * Looks up a response field like spiffe_http_header_get (0, NOT_FOUND
 * or HTTP when repeated); *val is a view into r.
 */
SPIFFE_CHECK int spiffe_httpc_resp_header(const spiffe_httpc_resp *r,
					  const char *name,
					  const uint8_t **val, size_t *len);

/*
 * Sends method target with fields[0..n) and body[0..blen), and reads
 * the response into resp (which it frees first).  Adds Host (unless a
 * field has it) and Content-Length when there is a body or the method
 * is POST or PUT; fields may not carry Content-Length,
 * Transfer-Encoding or Connection.  Returns 0 for any status (check
 * resp->status), or an error with eb saying what failed, e.g. the TLS
 * layer's `tls: peer "spiffe://..." not authorized: ...`.
 */
SPIFFE_CHECK int spiffe_httpc_request(spiffe_httpc *c, const char *method,
				      size_t mlen, const char *target,
				      size_t tlen,
				      const spiffe_http_kv *fields,
				      size_t n, const uint8_t *body,
				      size_t blen, spiffe_httpc_resp *resp,
				      spiffe_errbuf *eb);

#endif
