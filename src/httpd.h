/*
 * httpd.h - an HTTPS server: one event-loop thread, a small worker pool.
 *
 * The loop thread accepts, runs non-blocking TLS handshakes, reads and
 * parses requests incrementally (http1.h), so a slow or idle peer costs
 * memory, never a thread.  A complete request (head and a body of at
 * most max_body bytes) goes to the handler on a worker thread; the loop
 * writes the response back without blocking.  HTTP/1.1 keep-alive,
 * pipelining (one request at a time), Connection: close, Expect:
 * 100-continue, HEAD.
 *
 * Timeouts: header_timeout from accept (TLS handshake and first head)
 * or from the first byte of a later request to the end of its head (the
 * reference server's ReadHeaderTimeout); body_timeout for a body;
 * idle_timeout between requests; write_timeout for a response.  Any of
 * them closes the connection.  Past max_conns, new connections are
 * accepted and closed at once.  Out of file descriptors (or memory),
 * accepting pauses 5 ms, then 10 ms, ... up to 1 s while it lasts, with
 * a log line each time; connections wait in the listen queue.
 *
 * Memory per connection: about 1.3 KiB of our own plus the TLS state
 * (tls.c) while idle; per request, a parse state of about 4 KiB and
 * buffers for the request and the response, freed when the response is
 * written.  The TLS record buffers' pages are handed back to the kernel
 * after the handshake and after large exchanges (spiffe_tls_trim), so
 * an idle keep-alive connection holds only the pages its small records
 * touch: about 13 KiB of RSS each (1,000 idle connections in
 * test/tls_test.sh, glibc x86-64).
 *
 * HTTP/2: ALPN offers "h2" and "http/1.1" (unless the TLS configuration
 * names its own protocols, or no_h2 is set), and a client that picks h2
 * gets an HTTP/2 session (h2.h) on the loop thread.  Each stream is a
 * request of its own for the same handler: its header list is written
 * as the HTTP/1.1 head it stands for and parsed by the same parser, so
 * the handler sees the same fields under the same limits and rules
 * (:authority as Host, exactly one Host, at most one Authorization,
 * SPIFFE_HTTP_MAX_HEADERS fields, :path origin-form; cookie crumbs
 * joined), and req.head and req.raw index that text.  Up to h2_streams
 * streams run at once; their request bodies together stay within
 * max_body (a stream past that is refused with REFUSED_STREAM, which
 * clients retry).  Responses go out as HEADERS and DATA as the peer's
 * windows open.  Timeouts: header_timeout from accept to the first
 * stream, idle_timeout while no stream is open (then GOAWAY), and per
 * stream body_timeout for its request body (then RST_STREAM); a
 * response not written within write_timeout of being ready (the peer's
 * window stays shut, or it does not read) closes the connection.  A
 * peer that resets more than SPIFFE_HTTPD_H2_RESETS streams a second,
 * or more streams than it may open while their handlers still run, or
 * breaks the protocol, gets GOAWAY (then the server reads and drops
 * what it still sends for a second, so the GOAWAY is not lost to a
 * reset) and is closed.  Memory per HTTP/2
 * connection: an idle one holds about 29 KiB of RSS (the session's
 * 12 KiB with its two HPACK tables, up to 8 KiB of frame buffers it
 * keeps, and the TLS state); an open stream adds about 3 KiB, its head
 * and its bodies.
 *
 * Shutdown (SIGTERM/SIGINT when catch_signals is set, or
 * spiffe_httpd_stop): stop accepting, close idle connections, finish
 * requests in progress (their responses say Connection: close; HTTP/2
 * connections get GOAWAY and finish their open streams), then return
 * from spiffe_httpd_run; after grace_ms whatever is left is closed.
 */
#ifndef SPIFFE_HTTPD_H
#define SPIFFE_HTTPD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "evloop.h"
#include "http1.h"
#include "spiffeid.h"
#include "tls.h"

/* Most header fields a handler may add to one response. */
#define SPIFFE_HTTPD_MAX_RESP_FIELDS 32

/*
 * A request as the handler sees it.  Every pointer is a view valid
 * during the handler call only.
 */
typedef struct spiffe_httpd_req {
	const char *method;
	size_t method_len;
	const char *target;          /* request-target, e.g. "/path?q" */
	size_t target_len;
	const char *host;            /* Host field; NULL if absent */
	size_t host_len;
	const spiffe_http_kv *fields;/* every field line, as received */
	size_t nfields;
	const uint8_t *body;         /* decoded body (chunked undone) */
	size_t body_len;
	int version;                 /* 10, 11 or 20 (HTTP/2) */
	const spiffe_id *peer;       /* mTLS client's ID, or NULL */
	const char *remote;          /* peer's IP ("127.0.0.1"), or "" */
	/* The parsed head and the bytes it indexes (for HTTP/2, the head
	 * the stream's header list stands for), for
	 * spiffe_http_is_hop_by_hop() (a proxy drops those fields). */
	const spiffe_http_head *head;
	const uint8_t *raw;
} spiffe_httpd_req;

/*
 * Looks up field name (NUL-terminated, case-insensitive).  0 with a view
 * of its value if it occurs once, SPIFFE_ERR_NOT_FOUND if not at all,
 * SPIFFE_ERR_HTTP if more than once.
 */
SPIFFE_CHECK int spiffe_httpd_req_header(const spiffe_httpd_req *r,
					 const char *name, const char **val,
					 size_t *len);

/*
 * A response being built by the handler: status (default 200), fields,
 * body.  The server adds Content-Length and Connection; a handler may
 * not set those nor Transfer-Encoding.  Fields are private.
 */
typedef struct spiffe_httpd_resp {
	int status;
	int close;                   /* set: close the connection after */
	int err;                     /* a failed call: answer 500 */
	size_t nfields;
	struct {
		uint32_t noff, nlen, voff, vlen;
	} f[SPIFFE_HTTPD_MAX_RESP_FIELDS];
	uint8_t *text;               /* field names and values */
	size_t text_len, text_cap;
	uint8_t *body;
	size_t body_len, body_cap;
	uint64_t head_len;           /* see spiffe_httpd_resp_head_length */
	int has_head_len;
} spiffe_httpd_resp;

/* Adds a field (copied; checked when the response is written). */
SPIFFE_CHECK int spiffe_httpd_resp_header(spiffe_httpd_resp *r,
					  const char *name, size_t nlen,
					  const char *value, size_t vlen);

/*
 * For an answer to HEAD that has no body of its own (a proxy's): the
 * Content-Length the same request with GET would get, or
 * SPIFFE_HTTPD_LENGTH_UNKNOWN to send none.  Without it the server sends
 * the body's length, as for any other response.  Ignored when the
 * response becomes a 500.
 */
#define SPIFFE_HTTPD_LENGTH_UNKNOWN UINT64_MAX
void spiffe_httpd_resp_head_length(spiffe_httpd_resp *r, uint64_t len);

/* Appends body bytes (copied). */
SPIFFE_CHECK int spiffe_httpd_resp_write(spiffe_httpd_resp *r,
					 const void *data, size_t len);

/*
 * Fills resp for req; runs on a worker thread.  Whatever it leaves in
 * resp is sent (a handler that fails a resp_* call gets a 500).
 */
typedef void (*spiffe_httpd_handler)(void *arg, const spiffe_httpd_req *req,
				     spiffe_httpd_resp *resp);

/* Server settings; zero fields take the defaults named. */
typedef struct spiffe_httpd_config {
	const char *listen;          /* "host:port", ":port", "[::1]:0" */
	spiffe_tls_config *tls;      /* SERVER or MTLS_SERVER role */
	spiffe_httpd_handler handler;
	void *handler_arg;
	int workers;                 /* 2 */
	int max_conns;               /* 1024 */
	int header_timeout_ms;       /* 10000 */
	int body_timeout_ms;         /* 30000 */
	int idle_timeout_ms;         /* 120000 */
	int write_timeout_ms;        /* 30000 */
	int grace_ms;                /* 10000 */
	size_t max_body;             /* SPIFFE_HTTP_MAX_BODY */
	int h2_streams;              /* SPIFFE_HTTPD_H2_STREAMS per client */
	int no_h2;                   /* set: ALPN offers http/1.1 only */
	int catch_signals;           /* SIGTERM/SIGINT shut down */
	/* Called from the loop thread with one line about a connection
	 * that failed (handshake refused, malformed request); may be
	 * NULL. */
	void (*log)(void *arg, const char *msg);
	void *log_arg;
} spiffe_httpd_config;

struct spiffe_httpd_conn;
struct spiffe_httpd_job;

/* A server.  Fields are private. */
typedef struct spiffe_httpd {
	spiffe_httpd_config cfg;
	spiffe_evloop loop;
	spiffe_ev listen_ev;
	int lfd;
	int port;
	struct spiffe_httpd_conn *conns;   /* every open connection */
	struct spiffe_httpd_conn *reap;    /* closed, to free */
	size_t nconns;
	spiffe_timer reap_timer, drain_timer;
	spiffe_timer accept_timer;         /* accepting again after EMFILE */
	int accept_delay_ms;
	int draining;
	atomic_int stop_asked;
	pthread_t *threads;
	int nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct spiffe_httpd_job *queue, *queue_tail; /* to workers */
	struct spiffe_httpd_job *done;               /* from workers */
	int idle_workers;            /* waiting for a job */
	int quit;
	int inited;
	uint64_t accepted, refused, requests, h2_conns;
} spiffe_httpd;

/*
 * Binds cfg->listen and prepares the loop (no threads yet).  cfg and
 * what it points to must outlive srv.  If cfg->tls has no ALPN
 * protocols yet, sets them (see the top).
 */
SPIFFE_CHECK int spiffe_httpd_init(spiffe_httpd *srv,
				   const spiffe_httpd_config *cfg,
				   spiffe_errbuf *eb);

/* The port bound (useful with port 0). */
int spiffe_httpd_port(const spiffe_httpd *srv);

/*
 * Starts the workers and serves until shut down (see the top); 0, or an
 * error if the loop itself failed.
 */
SPIFFE_CHECK int spiffe_httpd_run(spiffe_httpd *srv, spiffe_errbuf *eb);

/* Asks a running server to shut down gracefully; any thread. */
void spiffe_httpd_stop(spiffe_httpd *srv);

/* Closes everything; safe on a zeroed struct and twice. */
void spiffe_httpd_free(spiffe_httpd *srv);

#endif
