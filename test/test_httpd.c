/*
 * test_httpd.c - the HTTPS server and client.
 *
 * With no arguments: unit tests, a server on 127.0.0.1:0 in a thread and
 * our client (or raw TLS) against it.  With arguments it is the helper
 * program test/tls_test.sh drives:
 *
 *   test_httpd serve ADDR CERT KEY [opts]   HTTPS server ("PORT n" out)
 *   test_httpd proxy ADDR CERT KEY BUNDLE UPSTREAM_URL ID [opts]
 *   test_httpd get URL BUNDLE ID [N [h2]]   N GETs on one client
 *   test_httpd hold HOST:PORT BUNDLE N [h2] N idle keep-alive connections
 *
 * opts: -t header_timeout_ms -i idle_timeout_ms -m max_conns -w workers
 *       -M BUNDLE (require client SVIDs: mTLS) -2 0 (no h2 by ALPN)
 *       -u 1 (proxy: offer h2 upstream) -s 1 (every answer is the
 *       example server's "Success!!!", for benchmarks)
 */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "h2.h"
#include "httpc.h"
#include "httpd.h"
#include "net.h"
#include "rproxy.h"
#include "test.h"
#include "tls.h"

#define D "test/data/tls/"

static spiffe_bundle_set *load_bundle(const char *td, const char *path)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_bundle b;
	spiffe_td t;
	char buf[65536];
	size_t n;
	FILE *f = fopen(path, "rb");

	if (f == NULL || s == NULL)
		abort();
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (spiffe_td_parse(&t, td, strlen(td), NULL) != 0)
		abort();
	spiffe_bundle_init(&b, &t);
	if (spiffe_bundle_set_x509_pem(&b, buf, n, NULL) != 0 ||
	    spiffe_bundle_set_put(s, &b, NULL) != 0)
		abort();
	spiffe_bundle_free(&b);
	return s;
}

/* ---- handler -------------------------------------------------------- */

static void handler(void *arg, const spiffe_httpd_req *req,
		    spiffe_httpd_resp *resp)
{
	char line[256];
	int n;

	(void)arg;
	if ((req->target_len == 4 && memcmp(req->target, "/big", 4) == 0) ||
	    (req->target_len == 9 &&
	     memcmp(req->target, "/base/big", 9) == 0)) {
		static uint8_t big[65536];

		memset(big, 'b', sizeof(big));
		if (spiffe_httpd_resp_write(resp, big, sizeof(big)) != 0)
			return;
		return;
	}
	/* HEAD answers without a body of their own: the GET length not
	 * known; known but the answer turned into a 500. */
	if (req->target_len >= 6 &&
	    memcmp(req->target + req->target_len - 6, "/nolen", 6) == 0) {
		spiffe_httpd_resp_head_length(resp,
					      SPIFFE_HTTPD_LENGTH_UNKNOWN);
		return;
	}
	if (req->target_len == 8 && memcmp(req->target, "/headbad", 8) == 0) {
		spiffe_httpd_resp_head_length(resp, 1234);
		resp->err = 1;
		return;
	}
	if (req->target_len == 6 && memcmp(req->target, "/sleep", 6) == 0)
		usleep(300 * 1000);
	if (req->target_len >= 12 &&
	    memcmp(req->target, "/base/fields", 12) == 0) {
		/* What a proxy forwarded: target, fields, body; and fields
		 * of its own, hop-by-hop ones among them. */
		if (spiffe_httpd_resp_write(resp, req->target,
					    req->target_len) != 0 ||
		    spiffe_httpd_resp_write(resp, "\n", 1) != 0)
			return;
		for (size_t i = 0; i < req->nfields; i++) {
			const spiffe_http_kv *f = &req->fields[i];

			if (spiffe_httpd_resp_write(resp, f->name,
						    f->name_len) != 0 ||
			    spiffe_httpd_resp_write(resp, ": ", 2) != 0 ||
			    spiffe_httpd_resp_write(resp, f->value,
						    f->value_len) != 0 ||
			    spiffe_httpd_resp_write(resp, "\n", 1) != 0)
				return;
		}
		if (spiffe_httpd_resp_write(resp, req->body,
					    req->body_len) != 0 ||
		    spiffe_httpd_resp_header(resp, "X-Echo", 6, "1", 1) ||
		    spiffe_httpd_resp_header(resp, "Keep-Alive", 10,
					     "timeout=9", 9) ||
		    spiffe_httpd_resp_header(resp, "Upgrade", 7, "x", 1))
			return;
		resp->status = 201;
		return;
	}
	if (req->target_len == 4 && memcmp(req->target, "/hdr", 4) == 0) {
		/* What the example server reads, through the same call. */
		static const char *const names[] = { "host", "authorization",
						     "cookie" };

		for (size_t i = 0; i < 3; i++) {
			const char *v;
			size_t vl;
			int rc = spiffe_httpd_req_header(req, names[i], &v,
							 &vl);

			n = rc == 0 ? snprintf(line, sizeof(line), "%s=%.*s\n",
					       names[i], (int)vl, v) :
				snprintf(line, sizeof(line), "%s:%d\n",
					 names[i], rc);
			if (spiffe_httpd_resp_write(resp, line, (size_t)n))
				return;
		}
		return;
	}
	if (req->target_len == 4 && memcmp(req->target, "/bad", 4) == 0) {
		/* A field value with a line break must not be sent. */
		if (spiffe_httpd_resp_header(resp, "X-Bad", 5, "a\r\nb", 4))
			return;
	}
	n = snprintf(line, sizeof(line), "%.*s %.*s peer=%s body=%zu\n",
		     (int)req->method_len, req->method, (int)req->target_len,
		     req->target, req->peer ? req->peer->str : "-",
		     req->body_len);
	if (spiffe_httpd_resp_header(resp, "Content-Type", 12, "text/plain",
				     10) != 0 ||
	    spiffe_httpd_resp_write(resp, line, (size_t)n) != 0 ||
	    spiffe_httpd_resp_write(resp, req->body, req->body_len) != 0)
		return;
}

/* The example server's answer, for benchmarks. */
static void success(void *arg, const spiffe_httpd_req *req,
		    spiffe_httpd_resp *resp)
{
	(void)arg;
	(void)req;
	if (spiffe_httpd_resp_header(resp, "Content-Type", 12, "text/plain",
				     10) != 0 ||
	    spiffe_httpd_resp_write(resp, "Success!!!", 10) != 0)
		return;
}

/* ---- in-process server ---------------------------------------------- */

struct srv {
	spiffe_tls_memsource src;
	spiffe_tls_config tls;
	spiffe_httpd httpd;
	pthread_t th;
	int port;
	int run_rc;
	char lastlog[600];
};

static void srv_log(void *arg, const char *msg)
{
	struct srv *s = arg;

	snprintf(s->lastlog, sizeof(s->lastlog), "%s", msg);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	s->run_rc = spiffe_httpd_run(&s->httpd, NULL);
	return NULL;
}

/*
 * Starts a server with handler h; zero idle_ms and write_ms take the
 * defaults.
 */
static void srv_start_full(struct srv *s, const char *svid_name,
			   int header_ms, int max_conns, int no_h2,
			   int idle_ms, int write_ms,
			   spiffe_httpd_handler h, void *arg)
{
	spiffe_httpd_config cfg;
	spiffe_svid_provider sp;
	spiffe_tls_svid *v;
	char c[128], k[128];

	memset(s, 0, sizeof(*s));
	spiffe_tls_memsource_init(&s->src);
	snprintf(c, sizeof(c), D "%s.pem", svid_name);
	snprintf(k, sizeof(k), D "%s-key.pem", svid_name);
	if (spiffe_tls_svid_load(&v, c, k, NULL) != 0)
		abort();
	spiffe_tls_memsource_set_svid(&s->src, v);
	spiffe_tls_svid_unref(v);
	sp = spiffe_tls_memsource_svids(&s->src);
	if (spiffe_tls_config_init(&s->tls, SPIFFE_TLS_SERVER, &sp, NULL,
				   NULL, NULL) != 0)
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.listen = "127.0.0.1:0";
	cfg.tls = &s->tls;
	cfg.handler = h;
	cfg.handler_arg = arg;
	cfg.header_timeout_ms = header_ms;
	cfg.max_conns = max_conns;
	cfg.max_body = 256 * 1024;
	cfg.grace_ms = 2000;
	cfg.log = srv_log;
	cfg.log_arg = s;
	cfg.no_h2 = no_h2;
	cfg.idle_timeout_ms = idle_ms;
	cfg.write_timeout_ms = write_ms;
	cfg.body_timeout_ms = write_ms;
	/* cfg is copied by init. */
	if (spiffe_httpd_init(&s->httpd, &cfg, NULL) != 0)
		abort();
	s->port = spiffe_httpd_port(&s->httpd);
	pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_start_opt(struct srv *s, const char *svid_name,
			  int header_ms, int max_conns, int no_h2,
			  int idle_ms, int write_ms)
{
	srv_start_full(s, svid_name, header_ms, max_conns, no_h2, idle_ms,
		       write_ms, handler, NULL);
}

static void srv_start(struct srv *s, const char *svid_name,
		      int header_ms, int max_conns)
{
	srv_start_opt(s, svid_name, header_ms, max_conns, 0, 0, 0);
}

static void srv_stop(struct srv *s)
{
	spiffe_httpd_stop(&s->httpd);
	pthread_join(s->th, NULL);
	spiffe_httpd_free(&s->httpd);
	spiffe_tls_config_free(&s->tls);
	spiffe_tls_memsource_free(&s->src);
}

/* ---- clients -------------------------------------------------------- */

struct cli {
	spiffe_tls_memsource src;
	spiffe_tls_config tls;
	spiffe_tls_config tls2;      /* ALPN h2 only, for raw sessions */
	spiffe_httpc httpc;
	spiffe_bundle_set *bs;
};

static const char *const h2only[] = { "h2" };

static void cli_init_h2(struct cli *c, int port, const char *want_id,
			int h2)
{
	spiffe_bundle_provider bp;
	spiffe_authorizer az;
	spiffe_id id;
	spiffe_httpc_config hc;
	char ps[8];

	memset(c, 0, sizeof(*c));
	c->bs = load_bundle("example.org", D "bundle-a.pem");
	spiffe_tls_memsource_init(&c->src);
	spiffe_tls_memsource_set_bundles(&c->src, c->bs);
	bp = spiffe_tls_memsource_bundles(&c->src);
	if (spiffe_id_parse_cstr(&id, want_id, NULL) != 0)
		abort();
	spiffe_authorize_id(&az, &id);
	if (spiffe_tls_config_init(&c->tls, SPIFFE_TLS_CLIENT, NULL, &bp, &az,
				   NULL) != 0 ||
	    spiffe_tls_config_init(&c->tls2, SPIFFE_TLS_CLIENT, NULL, &bp,
				   &az, NULL) != 0 ||
	    spiffe_tls_config_set_alpn(&c->tls2, h2only, 1) != 0)
		abort();
	memset(&hc, 0, sizeof(hc));
	hc.tls = &c->tls;
	hc.timeout_ms = 5000;
	hc.h2 = h2;
	snprintf(ps, sizeof(ps), "%d", port);
	if (spiffe_httpc_init(&c->httpc, &hc, "127.0.0.1", ps, NULL) != 0)
		abort();
}

static void cli_init(struct cli *c, int port, const char *want_id)
{
	cli_init_h2(c, port, want_id, 0);
}

static void cli_free(struct cli *c)
{
	spiffe_httpc_free(&c->httpc);
	spiffe_tls_config_free(&c->tls);
	spiffe_tls_config_free(&c->tls2);
	spiffe_tls_memsource_free(&c->src);
	spiffe_bundle_set_unref(c->bs);
}

/* A raw TLS connection for hand-written requests. */
struct raw {
	spiffe_tls_conn tls;
	int fd;
};

static int raw_open_cfg(struct raw *r, spiffe_tls_config *cfg, int port)
{
	char ps[8];
	int64_t dl = spiffe_monotonic_ms() + 5000;

	snprintf(ps, sizeof(ps), "%d", port);
	spiffe_tls_conn_init(&r->tls);
	if (spiffe_net_connect("127.0.0.1", ps, dl, &r->fd, NULL) != 0)
		return -1;
	if (spiffe_tls_conn_setup(&r->tls, cfg, r->fd, NULL, NULL) != 0)
		return -1;
	return spiffe_tls_handshake_wait(&r->tls, dl, NULL);
}

static int raw_open(struct raw *r, struct cli *c, int port)
{
	return raw_open_cfg(r, &c->tls, port);
}

static void raw_close(struct raw *r)
{
	spiffe_tls_conn_free(&r->tls);
	close(r->fd);
}

static int raw_send(struct raw *r, const char *s)
{
	return spiffe_tls_write_wait(&r->tls, s, strlen(s),
				     spiffe_monotonic_ms() + 5000, NULL);
}

/*
 * Reads until `until` appears (NULL: until the end of the stream) or
 * ms pass; returns what came, in a static buffer, and in *rc the last
 * read's result.
 */
static const char *raw_recv(struct raw *r, const char *until, int ms,
			    int *rc)
{
	static char buf[1 << 17];
	size_t len = 0, n;
	int64_t dl = spiffe_monotonic_ms() + ms;

	buf[0] = '\0';
	for (;;) {
		*rc = spiffe_tls_read_wait(&r->tls, buf + len,
					   sizeof(buf) - 1 - len, &n, dl,
					   NULL);
		if (*rc != 0)
			break;
		len += n;
		buf[len] = '\0';
		if (until != NULL && strstr(buf, until) != NULL)
			break;
	}
	return buf;
}

/* ---- tests ---------------------------------------------------------- */

TEST(get_keep_alive)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	const uint8_t *v;
	size_t vl;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	spiffe_httpc_resp_init(&r);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/x", 2,
					       NULL, 0, NULL, 0, &r, &eb), 0);
		CHECK_INT(r.status, 200);
		CHECK_INT(r.body_len, 21);
		CHECK_MEM(r.body, "GET /x peer=- body=0\n", 21);
	}
	CHECK_INT(spiffe_httpc_resp_header(&r, "content-type", &v, &vl), 0);
	CHECK(vl == 10 && memcmp(v, "text/plain", 10) == 0);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	srv_stop(&s);
}

TEST(one_connection_for_many_requests)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	uint64_t accepted, requests;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	spiffe_httpc_resp_init(&r);
	for (int i = 0; i < 5; i++)
		CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1,
					       NULL, 0, NULL, 0, &r, NULL), 0);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	spiffe_httpd_stop(&s.httpd);
	pthread_join(s.th, NULL);
	accepted = s.httpd.accepted;
	requests = s.httpd.requests;
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
	CHECK_INT(accepted, 1);
	CHECK_INT(requests, 5);
}

TEST(post_body_and_big_response)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	static uint8_t body[100000];
	spiffe_http_kv f[1] = { SPIFFE_HTTP_KV("Authorization",
					       "Bearer abc") };
	const uint8_t *v;
	size_t vl;

	memset(body, 'x', sizeof(body));
	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "POST", 4, "/p", 2, f, 1,
				       body, sizeof(body), &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 27 + sizeof(body));
	CHECK_MEM(r.body, "POST /p peer=- body=100000\n", 27);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/big", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.body_len, 65536);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "HEAD", 4, "/big", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 0);
	CHECK_INT(r.head.content_length, 0); /* HEAD: no framing */
	/* The length a GET gets, though no body follows. */
	CHECK_INT(spiffe_httpc_resp_header(&r, "content-length", &v, &vl),
		  0);
	CHECK(vl == 5 && memcmp(v, "65536", 5) == 0);
	/* The handler's field with CR LF never reaches the wire. */
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/bad", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 500);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	srv_stop(&s);
}

TEST(too_large_body_413)
{
	struct srv s;
	struct cli c;
	struct raw w;
	const char *got;
	int rc;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&w, &c, s.port), 0);
	CHECK_INT(raw_send(&w, "POST / HTTP/1.1\r\nHost: a\r\n"
			   "Content-Length: 999999999\r\n\r\n"), 0);
	got = raw_recv(&w, NULL, 3000, &rc);
	CHECK(strncmp(got, "HTTP/1.1 413 ", 13) == 0);
	CHECK(strstr(got, "Connection: close\r\n") != NULL);
	CHECK_INT(rc, SPIFFE_ERR_CLOSED);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

TEST(chunked_pipelined_continue)
{
	struct srv s;
	struct cli c;
	struct raw w;
	const char *got;
	int rc;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&w, &c, s.port), 0);
	/* Chunked body, then a second request in the same write. */
	CHECK_INT(raw_send(&w, "POST /c HTTP/1.1\r\nHost: a\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"
			   "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"
			   "GET /second HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	got = raw_recv(&w, "GET /second peer=- body=0\n", 3000, &rc);
	CHECK_INT(rc, 0);
	CHECK(strstr(got, "POST /c peer=- body=5\nabcde") != NULL);
	/* Expect: 100-continue: the interim response comes first. */
	CHECK_INT(raw_send(&w, "POST /e HTTP/1.1\r\nHost: a\r\n"
			   "Content-Length: 4\r\n"
			   "Expect: 100-continue\r\n\r\n"), 0);
	got = raw_recv(&w, "\r\n\r\n", 3000, &rc);
	CHECK_STR(got, "HTTP/1.1 100 Continue\r\n\r\n");
	CHECK_INT(raw_send(&w, "wxyz"), 0);
	got = raw_recv(&w, "body=4\nwxyz", 3000, &rc);
	CHECK(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	/* Connection: close is honoured. */
	CHECK_INT(raw_send(&w, "GET /z HTTP/1.1\r\nHost: a\r\n"
			   "Connection: close\r\n\r\n"), 0);
	got = raw_recv(&w, NULL, 3000, &rc);
	CHECK(strstr(got, "Connection: close\r\n") != NULL);
	CHECK(strstr(got, "GET /z peer=- body=0\n") != NULL);
	CHECK_INT(rc, SPIFFE_ERR_CLOSED);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

TEST(malformed_request_400)
{
	struct srv s;
	struct cli c;
	struct raw w;
	const char *got;
	int rc;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&w, &c, s.port), 0);
	CHECK_INT(raw_send(&w, "GET / HTTP/1.1\r\nHost: a\r\n"
			   "Bad Field: x\r\n\r\n"), 0);
	got = raw_recv(&w, NULL, 3000, &rc);
	CHECK(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	CHECK_INT(rc, SPIFFE_ERR_CLOSED);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

TEST(slow_loris_closed_others_served)
{
	struct srv s;
	struct cli c;
	struct raw w;
	spiffe_httpc_resp r;
	const char *got;
	int64_t t0;
	int rc;

	srv_start(&s, "server", 400, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	t0 = spiffe_monotonic_ms();
	CHECK_INT(raw_open(&w, &c, s.port), 0);
	CHECK_INT(raw_send(&w, "GET / HTTP/1.1\r\nHo"), 0);
	/* Another client is served meanwhile. */
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1, NULL, 0,
				       NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	spiffe_httpc_resp_free(&r);
	got = raw_recv(&w, NULL, 3000, &rc);
	CHECK_STR(got, "");
	CHECK_INT(rc, SPIFFE_ERR_CLOSED);
	CHECK(spiffe_monotonic_ms() - t0 >= 380);
	CHECK(spiffe_monotonic_ms() - t0 < 2000);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
	CHECK_STR(s.lastlog, "closing a connection: header timeout");
}

TEST(max_conns_refused)
{
	struct srv s;
	struct cli c;
	struct raw a, b;
	spiffe_errbuf eb;
	int64_t dl;
	char ps[8];

	srv_start(&s, "server", 5000, 1);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&a, &c, s.port), 0);
	snprintf(ps, sizeof(ps), "%d", s.port);
	spiffe_tls_conn_init(&b.tls);
	dl = spiffe_monotonic_ms() + 3000;
	CHECK_INT(spiffe_net_connect("127.0.0.1", ps, dl, &b.fd, NULL), 0);
	CHECK_INT(spiffe_tls_conn_setup(&b.tls, &c.tls, b.fd, NULL, NULL), 0);
	CHECK_INT(spiffe_tls_handshake_wait(&b.tls, dl, &eb),
		  SPIFFE_ERR_CLOSED);
	raw_close(&b);
	raw_close(&a);
	cli_free(&c);
	srv_stop(&s);
}

/*
 * Out of descriptors, the server pauses accepting (the listening socket
 * stays readable: a level-triggered loop would spin) and logs why; the
 * connection waits in the listen queue and is served once descriptors
 * free up.
 */
TEST(accept_out_of_fds_pauses)
{
	static const char want[] = "http: Accept error: accept4: Too many "
				   "open files; retrying in ";
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	struct rlimit old, low;
	struct sockaddr_in sa;
	int fillers[64], nfill = 0, fd, seen = 0;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	/* No descriptor left below fd + 1: fill the holes, then cap. */
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)fd + 1;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < 64 && (fillers[nfill] = dup(fd)) >= 0)
		nfill++;
	CHECK(nfill < 64);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)s.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 200 && !seen; i++) {
		char got[sizeof(s.lastlog)];

		usleep(10 * 1000);
		memcpy(got, s.lastlog, sizeof(got));
		got[sizeof(got) - 1] = '\0';
		seen = strncmp(got, want, sizeof(want) - 1) == 0;
	}
	CHECK(seen);
	CHECK_INT(s.httpd.accepted, 0);
	while (nfill > 0)
		close(fillers[--nfill]);
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(fd);
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1, NULL, 0,
				       NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	srv_stop(&s);
}

TEST(wrong_server_id_refused)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	spiffe_errbuf eb;

	srv_start(&s, "wrong", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1, NULL, 0,
				       NULL, 0, &r, &eb),
		  SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(eb.msg, "tls: peer \"spiffe://example.org/wrong\" not "
		  "authorized: unexpected ID \"spiffe://example.org/wrong\" "
		  "(expected \"spiffe://example.org/server\")");
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	srv_stop(&s);
}

TEST(graceful_stop_finishes_in_flight)
{
	struct srv s;
	struct cli c;
	struct raw w;
	const char *got;
	int rc;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&w, &c, s.port), 0);
	CHECK_INT(raw_send(&w, "GET /sleep HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
	usleep(100 * 1000);
	spiffe_httpd_stop(&s.httpd);
	got = raw_recv(&w, NULL, 3000, &rc);
	CHECK(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(got, "Connection: close\r\n") != NULL);
	CHECK_INT(rc, SPIFFE_ERR_CLOSED);
	pthread_join(s.th, NULL);
	CHECK_INT(s.run_rc, 0);
	raw_close(&w);
	cli_free(&c);
	spiffe_httpd_free(&s.httpd);
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
}

TEST(many_client_handshakes_in_flight)
{
	/* A proxy with many workers starts as many upstream handshakes at
	 * once; each client holds an ephemeral key from ClientHello to
	 * ServerHello.  PSA's static key store had 32 slots: the 33rd
	 * handshake failed with "out of memory". */
	enum { N = 80 };
	static struct raw w[N];
	static int done[N];
	struct srv s;
	struct cli c;
	spiffe_errbuf eb;
	int64_t dl = spiffe_monotonic_ms() + 20000;
	char ps[8];
	int i, rc, inflight = 0;

	srv_start(&s, "server", 20000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	snprintf(ps, sizeof(ps), "%d", s.port);
	for (i = 0; i < N; i++) {
		spiffe_tls_conn_init(&w[i].tls);
		CHECK_INT(spiffe_net_connect("127.0.0.1", ps, dl, &w[i].fd,
					     NULL), 0);
		CHECK_INT(spiffe_tls_conn_setup(&w[i].tls, &c.tls, w[i].fd,
						NULL, NULL), 0);
		/* Waiting for the server's flight, as a rule; on an idle
		 * machine the server may answer within this very call. */
		rc = spiffe_tls_handshake(&w[i].tls, &eb);
		if (rc != 0 && rc != SPIFFE_ERR_AGAIN)
			FAILF("handshake %d: %d %s", i, rc, eb.msg);
		CHECK(rc == 0 || rc == SPIFFE_ERR_AGAIN);
		done[i] = rc == 0;
		inflight += rc == SPIFFE_ERR_AGAIN;
	}
	/* Past the 32 slots the static key store had. */
	if (inflight <= 32)
		FAILF("only %d of %d handshakes in flight", inflight, N);
	CHECK(inflight > 32);
	for (i = 0; i < N; i++) {
		if (done[i])
			continue;
		rc = spiffe_tls_handshake_wait(&w[i].tls, dl, &eb);
		if (rc != 0)
			FAILF("handshake %d: %s", i, eb.msg);
		CHECK_INT(rc, 0);
	}
	for (i = 0; i < N; i++)
		raw_close(&w[i]);
	cli_free(&c);
	srv_stop(&s);
}

TEST(rproxy_forwards_end_to_end)
{
	struct srv up, px;
	spiffe_rproxy_config pc;
	struct cli c, upc;
	struct raw w;
	spiffe_rproxy p;
	spiffe_errbuf eb;
	char url[64];
	const char *got;
	int rc;

	srv_start(&up, "server", 5000, 0);
	/* The proxy's upstream client: upc's TLS config, for the server. */
	cli_init(&upc, up.port, "spiffe://example.org/server");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/base/", up.port);
	memset(&pc, 0, sizeof(pc));
	pc.url = url;
	pc.url_len = strlen(url);
	pc.tls = &upc.tls;
	pc.pool = 2;
	CHECK_INT(spiffe_rproxy_init(&p, &pc, &eb), 0);
	srv_start_full(&px, "server", 5000, 0, 0, 0, 0, spiffe_rproxy_handler,
		       &p);
	cli_init(&c, px.port, "spiffe://example.org/server");
	CHECK_INT(raw_open(&w, &c, px.port), 0);
	CHECK_INT(raw_send(&w, "POST /fields?q=1 HTTP/1.1\r\nHost: h:1\r\n"
			   "Authorization: Bearer a.b.c\r\n"
			   "X-Forwarded-For: 10.0.0.1\r\n"
			   "Connection: keep-alive, X-Hop\r\n"
			   "X-Hop: 1\r\nTE: trailers\r\n"
			   "Keep-Alive: timeout=5\r\n"
			   "Proxy-Authorization: Basic eA==\r\n"
			   "X-Forwarded-For: 10.0.0.2\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"
			   "4\r\nbody\r\n0\r\n\r\n"), 0);
	got = raw_recv(&w, "body", 3000, &rc);
	CHECK_INT(rc, 0);
	CHECK(strncmp(got, "HTTP/1.1 201 Created\r\n", 22) == 0);
	CHECK(strstr(got, "\r\nX-Echo: 1\r\n") != NULL);
	CHECK(strstr(got, "Keep-Alive") == NULL);
	CHECK(strstr(got, "Upgrade") == NULL);
	/* The base path joined, end-to-end fields in order, one
	 * X-Forwarded-For with our peer last, the body framed again. */
	CHECK(strstr(got, "\r\n\r\n/base/fields?q=1\n"
		     "Host: h:1\n"
		     "Authorization: Bearer a.b.c\n"
		     "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\n"
		     "Content-Length: 4\n"
		     "body") != NULL);
	/* Absolute-form is reduced to its path and query. */
	CHECK_INT(raw_send(&w, "GET https://x.test/fields HTTP/1.1\r\n"
			   "Host: x.test\r\n\r\n"), 0);
	got = raw_recv(&w, "127.0.0.1\n", 3000, &rc);
	CHECK_INT(rc, 0);
	CHECK(strstr(got, "\r\n\r\n/base/fields\nHost: x.test\n") != NULL);
	/* HEAD: the upstream's Content-Length passes, no body; the next
	 * response on the connection is the next request's. */
	CHECK_INT(raw_send(&w, "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n"
			   "GET /fields HTTP/1.1\r\nHost: y\r\n\r\n"), 0);
	got = raw_recv(&w, "127.0.0.1\n", 3000, &rc);
	CHECK_INT(rc, 0);
	CHECK(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(got, "\r\nContent-Length: 65536\r\n") != NULL);
	CHECK(strstr(got, "\r\n\r\nHTTP/1.1 201 Created\r\n") != NULL);
	CHECK(strstr(got, "\r\n\r\n/base/fields\nHost: y\n") != NULL);
	CHECK(strstr(got, "bbbb") == NULL);
	/* The upstream said no length for HEAD: none is sent on. */
	{
		struct raw u;

		CHECK_INT(raw_open(&u, &upc, up.port), 0);
		CHECK_INT(raw_send(&u, "HEAD /nolen HTTP/1.1\r\nHost: x\r\n"
				   "\r\nGET /nolen HTTP/1.1\r\nHost: x\r\n"
				   "\r\nHEAD /headbad HTTP/1.1\r\nHost: x"
				   "\r\n\r\n"), 0);
		got = raw_recv(&u, "500 Internal Server Error\r\n"
			       "Content-Length: 0\r\n\r\n", 3000, &rc);
		CHECK_INT(rc, 0);
		CHECK(strncmp(got, "HTTP/1.1 200 OK\r\n\r\n"
			      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			      "HTTP/1.1 500 Internal Server Error\r\n"
			      "Content-Length: 0\r\n\r\n", 114) == 0);
		raw_close(&u);
	}
	CHECK_INT(raw_send(&w, "HEAD /nolen HTTP/1.1\r\nHost: x\r\n\r\n"
			   "GET /fields HTTP/1.1\r\nHost: y\r\n\r\n"), 0);
	got = raw_recv(&w, "127.0.0.1\n", 3000, &rc);
	CHECK_INT(rc, 0);
	CHECK(strncmp(got, "HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 201 Created",
		      39) == 0);
	CHECK_INT(raw_send(&w, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	got = raw_recv(&w, "\r\n\r\n", 3000, &rc);
	CHECK(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
	raw_close(&w);
	/* Upstream gone: 502. */
	srv_stop(&up);
	{
		spiffe_httpc_resp r;

		spiffe_httpc_resp_init(&r);
		CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1,
					       NULL, 0, NULL, 0, &r, &eb), 0);
		CHECK_INT(r.status, 502);
		CHECK_INT(r.body_len, 0);
		spiffe_httpc_resp_free(&r);
	}
	cli_free(&c);
	srv_stop(&px);
	spiffe_rproxy_free(&p);
	spiffe_rproxy_free(&p);
	cli_free(&upc);
}

TEST(rproxy_init_checks_url)
{
	struct cli c;
	spiffe_rproxy_config pc;
	spiffe_rproxy p;
	spiffe_errbuf eb;

	cli_init(&c, 1, "spiffe://example.org/server");
	memset(&pc, 0, sizeof(pc));
	pc.tls = &c.tls;
	pc.url = "http://x";
	pc.url_len = 8;
	CHECK_INT(spiffe_rproxy_init(&p, &pc, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "upstream URL: URL must start with https://");
	pc.url = "https://x/?a";
	pc.url_len = 12;
	CHECK_INT(spiffe_rproxy_init(&p, &pc, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "upstream URL: a query is not supported");
	spiffe_rproxy_free(&p);
	cli_free(&c);
}

/* Empty writes and an empty field name, on a response with no buffers
 * yet (under UBSan an empty copy into a NULL body was an error). */
TEST(resp_empty_calls)
{
	spiffe_httpd_resp r;

	memset(&r, 0, sizeof(r));
	CHECK_INT(spiffe_httpd_resp_write(&r, NULL, 0), 0);
	CHECK(r.body == NULL && r.body_len == 0 && r.err == 0);
	CHECK_INT(spiffe_httpd_resp_header(&r, "", 0, "v", 1),
		  SPIFFE_ERR_ARG);
	CHECK(r.nfields == 0 && r.text == NULL && r.err == 1);
	/* An empty value given as (NULL, 0). */
	r.err = 0;
	CHECK_INT(spiffe_httpd_resp_header(&r, "X-Empty", 7, NULL, 0), 0);
	CHECK(r.nfields == 1 && r.text_len == 7 && r.err == 0);
	CHECK_MEM(r.text, "X-Empty", 7);
	free(r.text);
}

TEST(url_parse)
{
	char h[256], p[8];
	const char *path;
	size_t pl;

	CHECK_INT(spiffe_httpc_parse_url("https://localhost:8443", 22, h, p,
					 &path, &pl, NULL), 0);
	CHECK_STR(h, "localhost");
	CHECK_STR(p, "8443");
	CHECK(pl == 1 && path[0] == '/');
	CHECK_INT(spiffe_httpc_parse_url("https://[::1]/a?b", 17, h, p, &path,
					 &pl, NULL), 0);
	CHECK_STR(h, "::1");
	CHECK_STR(p, "443");
	CHECK(pl == 4 && memcmp(path, "/a?b", 4) == 0);
	CHECK_INT(spiffe_httpc_parse_url("http://x:1", 10, h, p, &path, &pl,
					 NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_httpc_parse_url("https://x:99999", 15, h, p, &path,
					 &pl, NULL), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_httpc_parse_url("https://x:1/a b", 15, h, p, &path,
					 &pl, NULL), SPIFFE_ERR_ARG);
}

/* ---- HTTP/2: a client session over raw TLS, and raw frames ---------- */

#define MAXST 48

struct h2st {
	uint32_t id;
	const uint8_t *send;    /* request body not yet queued */
	size_t send_len;
	int status;
	uint8_t *body;
	size_t blen;
	int closed;
	uint32_t code;
};

struct h2c {
	struct raw r;
	spiffe_h2_session s;
	struct h2st st[MAXST];
	int nst;
	int goaway;
	uint32_t goaway_code;
	int eof;
};

static struct h2st *h2c_find(struct h2c *c, uint32_t id)
{
	for (int i = 0; i < c->nst; i++)
		if (c->st[i].id == id)
			return &c->st[i];
	return NULL;
}

static void c_on_headers(void *ctx, uint32_t id, const spiffe_header *h,
			 size_t n, unsigned flags)
{
	struct h2st *st = h2c_find(ctx, id);

	(void)flags;
	for (size_t i = 0; st != NULL && i < n; i++)
		if (h[i].name_len == 7 && memcmp(h[i].name, ":status", 7) == 0)
			st->status = (h[i].value[0] - '0') * 100 +
				(h[i].value[1] - '0') * 10 +
				(h[i].value[2] - '0');
}

static void c_on_data(void *ctx, uint32_t id, const uint8_t *p, size_t len,
		      int end)
{
	struct h2c *c = ctx;
	struct h2st *st = h2c_find(c, id);

	(void)end;
	if (st == NULL || len == 0)
		return;
	st->body = realloc(st->body, st->blen + len + 1);
	if (st->body == NULL)
		abort();
	memcpy(st->body + st->blen, p, len);
	st->blen += len;
	st->body[st->blen] = '\0';
	if (spiffe_h2_consume(&c->s, id, len) != 0)
		abort();
}

static void c_on_close(void *ctx, uint32_t id, uint32_t code)
{
	struct h2st *st = h2c_find(ctx, id);

	if (st != NULL) {
		st->closed = 1;
		st->code = code;
	}
}

static void c_on_goaway(void *ctx, uint32_t last, uint32_t code,
			const uint8_t *dbg, size_t len)
{
	struct h2c *c = ctx;

	(void)last;
	(void)dbg;
	(void)len;
	c->goaway = 1;
	c->goaway_code = code;
}

static int h2c_open(struct h2c *c, struct cli *k, int port)
{
	static const spiffe_h2_callbacks cb = {
		c_on_headers, c_on_data, c_on_close, c_on_goaway, NULL,
	};

	memset(c, 0, sizeof(*c));
	if (raw_open_cfg(&c->r, &k->tls2, port) != 0 ||
	    strcmp(spiffe_tls_alpn(&c->r.tls), "h2") != 0)
		return -1;
	return spiffe_h2_init(&c->s, SPIFFE_H2_CLIENT, &cb, c, NULL);
}

static void h2c_close(struct h2c *c)
{
	for (int i = 0; i < c->nst; i++)
		free(c->st[i].body);
	spiffe_h2_free(&c->s);
	raw_close(&c->r);
}

/*
 * Opens a stream: method and path, then extra fields as name, value
 * pairs (NULL-terminated); a body if blen > 0.  Returns its slot or -1.
 */
static int h2c_req(struct h2c *c, const char *method, const char *path,
		   const uint8_t *body, size_t blen, const char *const *extra)
{
	spiffe_header h[80];
	size_t n = 0;
	uint32_t id;

#define HDR(nm, v) h[n++] = (spiffe_header){ (const uint8_t *)(nm), \
		strlen(nm), (const uint8_t *)(v), strlen(v), 0 }
	HDR(":method", method);
	HDR(":scheme", "https");
	HDR(":authority", "localhost");
	HDR(":path", path);
	for (; extra != NULL && *extra != NULL; extra += 2)
		HDR(extra[0], extra[1]);
#undef HDR
	if (c->nst == MAXST ||
	    spiffe_h2_submit_request(&c->s, h, n, blen == 0, &id) != 0)
		return -1;
	c->st[c->nst].id = id;
	c->st[c->nst].send = body;
	c->st[c->nst].send_len = blen;
	return c->nst++;
}

/* Queues request bodies as there is room, writes all output. */
static int h2c_flush(struct h2c *c)
{
	for (;;) {
		const uint8_t *p;
		size_t len, acc;
		int rc;

		for (int i = 0; i < c->nst; i++) {
			struct h2st *st = &c->st[i];

			if (st->send_len == 0 || st->closed)
				continue;
			if (spiffe_h2_send_data(&c->s, st->id, st->send,
						st->send_len, 1, &acc) != 0)
				return -1;
			st->send += acc;
			st->send_len -= acc;
		}
		rc = spiffe_h2_output(&c->s, &p, &len);

		if (rc != 0 || len == 0)
			return rc;
		rc = spiffe_tls_write_wait(&c->r.tls, p, len,
					   spiffe_monotonic_ms() + 5000, NULL);
		if (rc != 0 || spiffe_h2_output_consumed(&c->s, len) != 0)
			return -1;
	}
}

/* Runs the session until every stream closed (0), or the end (-1). */
static int h2c_run(struct h2c *c, int ms)
{
	int64_t dl = spiffe_monotonic_ms() + ms;
	uint8_t buf[16384];

	for (;;) {
		size_t n;
		int open = 0, rc;

		if (h2c_flush(c) != 0)
			return -1;
		for (int i = 0; i < c->nst; i++)
			open += !c->st[i].closed;
		if (open == 0)
			return 0;
		rc = spiffe_tls_read_wait(&c->r.tls, buf, sizeof(buf), &n, dl,
					  NULL);
		if (rc != 0) {
			c->eof = rc == SPIFFE_ERR_CLOSED;
			return -1;
		}
		if (spiffe_h2_feed(&c->s, buf, n) != 0)
			return -1;
	}
}

/* Frame header for a payload of len bytes. */
static size_t frame(uint8_t *p, size_t len, uint8_t type, uint8_t flags,
		    uint32_t id)
{
	p[0] = (uint8_t)(len >> 16);
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)len;
	p[3] = type;
	p[4] = flags;
	p[5] = (uint8_t)(id >> 24);
	p[6] = (uint8_t)(id >> 16);
	p[7] = (uint8_t)(id >> 8);
	p[8] = (uint8_t)id;
	return 9;
}

/* An HPACK integer with a prefix of bits bits (RFC 7541 section 5.1). */
static size_t hp_int(uint8_t *p, int bits, size_t v)
{
	size_t max = ((size_t)1 << bits) - 1, n = 0;

	if (v < max) {
		p[0] = (uint8_t)v;
		return 1;
	}
	p[n++] = (uint8_t)max;
	for (v -= max; v >= 128; v /= 128)
		p[n++] = (uint8_t)(v % 128 + 128);
	p[n++] = (uint8_t)v;
	return n;
}

/* A literal field without indexing, new name, no Huffman (6.2.2). */
static size_t hp_lit(uint8_t *p, const char *name, const char *val,
		     size_t vlen)
{
	size_t n = 0, nl = strlen(name);

	p[n++] = 0;
	n += hp_int(p + n, 7, nl);
	memcpy(p + n, name, nl);
	n += nl;
	n += hp_int(p + n, 7, vlen);
	memset(p + n, 'v', vlen);
	if (val != NULL)
		memcpy(p + n, val, vlen);
	return n + vlen;
}

/* A GET request's header block for path, plus one field x of vlen. */
static size_t hp_get(uint8_t *p, const char *path, size_t vlen)
{
	size_t n = 0;

	p[n++] = 0x82;          /* :method GET */
	p[n++] = 0x87;          /* :scheme https */
	n += hp_lit(p + n, ":authority", "localhost", 9);
	n += hp_lit(p + n, ":path", path, strlen(path));
	if (vlen > 0)
		n += hp_lit(p + n, "x-big", NULL, vlen);
	return n;
}

static int raw_write(struct raw *r, const uint8_t *p, size_t n)
{
	return spiffe_tls_write_wait(&r->tls, p, n,
				     spiffe_monotonic_ms() + 5000, NULL);
}

/* Opens an h2 connection with raw frames: preface and empty SETTINGS. */
static int raw_h2(struct raw *r, struct cli *c, int port)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	uint8_t b[64];

	if (raw_open_cfg(r, &c->tls2, port) != 0)
		return -1;
	memcpy(b, preface, 24);
	frame(b + 24, 0, 4, 0, 0);
	return raw_write(r, b, 33);
}

/*
 * raw_h2 with a receive buffer of rcvbuf bytes, set before connecting
 * so the window the peer sees stays small.
 */
static int raw_h2_small(struct raw *r, struct cli *c, int port, int rcvbuf)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	struct sockaddr_in a;
	uint8_t b[64];

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	spiffe_tls_conn_init(&r->tls);
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (r->fd < 0 ||
	    setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		       sizeof(rcvbuf)) != 0 ||
	    connect(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    fcntl(r->fd, F_SETFL, O_NONBLOCK) != 0 ||
	    spiffe_tls_conn_setup(&r->tls, &c->tls2, r->fd, NULL, NULL) != 0 ||
	    spiffe_tls_handshake_wait(&r->tls, spiffe_monotonic_ms() + 5000,
				      NULL) != 0)
		return -1;
	memcpy(b, preface, 24);
	frame(b + 24, 0, 4, 0, 0);
	return raw_write(r, b, 33);
}

/* What the server sent on a raw connection, by frames. */
struct seen {
	int goaway;
	uint32_t goaway_code;
	int nrst;
	uint32_t rst_id, rst_code;
	int eof;
	int found;              /* the needle was in a DATA frame */
};

/* Reads frames until the end, ms or the needle in DATA. */
static void raw_frames(struct raw *r, int ms, const char *needle,
		       struct seen *w)
{
	static uint8_t buf[1 << 20];
	size_t len = 0, off = 0, n;
	int64_t dl = spiffe_monotonic_ms() + ms;

	memset(w, 0, sizeof(*w));
	for (;;) {
		int rc = spiffe_tls_read_wait(&r->tls, buf + len,
					      sizeof(buf) - len, &n, dl, NULL);

		if (rc != 0) {
			w->eof = rc == SPIFFE_ERR_CLOSED;
			return;
		}
		len += n;
		while (len - off >= 9) {
			const uint8_t *f = buf + off;
			size_t fl = (size_t)f[0] << 16 | f[1] << 8 | f[2];

			if (len - off < 9 + fl)
				break;
			if (f[3] == 7 && fl >= 8) {
				w->goaway = 1;
				w->goaway_code = (uint32_t)f[13] << 24 |
					f[14] << 16 | f[15] << 8 | f[16];
			}
			if (f[3] == 3 && fl == 4) {
				w->nrst++;
				w->rst_id = (uint32_t)f[5] << 24 |
					f[6] << 16 | f[7] << 8 | f[8];
				w->rst_code = f[12];
			}
			if (f[3] == 0 && needle != NULL &&
			    fl >= strlen(needle) &&
			    memcmp(f + 9, needle, strlen(needle)) == 0)
				w->found = 1;
			off += 9 + fl;
		}
		if (w->found || len == sizeof(buf))
			return;
	}
}

/* A plain HTTP/1.1 request on another connection is served. */
static int others_served(struct cli *c)
{
	spiffe_httpc_resp r;
	int ok;

	spiffe_httpc_resp_init(&r);
	ok = spiffe_httpc_request(&c->httpc, "GET", 3, "/o", 2, NULL, 0,
				  NULL, 0, &r, NULL) == 0 && r.status == 200 &&
		r.body_len == 21;
	spiffe_httpc_resp_free(&r);
	return ok;
}

TEST(h2_concurrent_streams)
{
	struct srv s;
	struct cli c;
	struct h2c h;
	char path[16], want[64];
	static uint8_t body[100000];
	int i;

	memset(body, 'p', sizeof(body));
	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(h2c_open(&h, &c, s.port), 0);
	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof(path), "/s%d", i);
		CHECK_INT(h2c_req(&h, "GET", path, NULL, 0, NULL), i);
	}
	/* A request body and a response body past the initial windows. */
	CHECK_INT(h2c_req(&h, "POST", "/p", body, sizeof(body), NULL), 20);
	CHECK_INT(h2c_req(&h, "GET", "/big", NULL, 0, NULL), 21);
	CHECK_INT(h2c_req(&h, "HEAD", "/big", NULL, 0, NULL), 22);
	CHECK_INT(h2c_run(&h, 5000), 0);
	for (i = 0; i < 20; i++) {
		snprintf(want, sizeof(want), "GET /s%d peer=- body=0\n", i);
		CHECK_INT(h.st[i].status, 200);
		CHECK_INT(h.st[i].code, 0);
		CHECK_STR((char *)h.st[i].body, want);
	}
	CHECK_INT(h.st[20].status, 200);
	CHECK_INT(h.st[20].blen, 27 + sizeof(body));
	CHECK_MEM(h.st[20].body, "POST /p peer=- body=100000\n", 27);
	CHECK_INT(h.st[21].blen, 65536);
	CHECK_INT(h.st[22].status, 200);
	CHECK_INT(h.st[22].blen, 0);
	h2c_close(&h);
	cli_free(&c);
	spiffe_httpd_stop(&s.httpd);
	pthread_join(s.th, NULL);
	CHECK_INT(s.httpd.accepted, 1);
	CHECK_INT(s.httpd.h2_conns, 1);
	CHECK_INT(s.httpd.requests, 23);
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
}

TEST(h2_same_rules_as_http1)
{
	static const char *const auth2[] = { "authorization", "Bearer a",
					     "authorization", "Bearer b",
					     NULL };
	static const char *const hdrs[] = { "authorization", "Bearer t",
					    "cookie", "a=1", "cookie", "b=2",
					    NULL };
	static const char *const other_host[] = { "host", "evil", NULL };
	static const char *const same_host[] = { "host", "localhost", NULL };
	static const char *const badval[] = { "x", "a\001b", NULL };
	const char *many[2 * 66 + 1];
	char names[65][8];
	struct srv s;
	struct cli c;
	struct h2c h;
	static uint8_t body[300000];
	int i;

	for (i = 0; i < 65; i++) {
		snprintf(names[i], sizeof(names[i]), "x-%d", i);
		many[2 * i] = names[i];
		many[2 * i + 1] = "v";
	}
	many[130] = NULL;
	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(h2c_open(&h, &c, s.port), 0);
	CHECK_INT(h2c_req(&h, "GET", "/hdr", NULL, 0, hdrs), 0);
	CHECK_INT(h2c_req(&h, "GET", "/hdr", NULL, 0, auth2), 1);
	CHECK_INT(h2c_req(&h, "GET", "/hdr", NULL, 0, other_host), 2);
	CHECK_INT(h2c_req(&h, "GET", "/hdr", NULL, 0, same_host), 3);
	CHECK_INT(h2c_req(&h, "GET", "/x", NULL, 0, many), 4);
	CHECK_INT(h2c_req(&h, "OPTIONS", "*", NULL, 0, NULL), 5);
	CHECK_INT(h2c_req(&h, "GET", "/x", NULL, 0, badval), 6);
	memset(body, 'b', sizeof(body));
	CHECK_INT(h2c_req(&h, "POST", "/x", body, sizeof(body), NULL), 7);
	CHECK_INT(h2c_req(&h, "GET", "/bad", NULL, 0, NULL), 8);
	CHECK_INT(h2c_run(&h, 5000), 0);
	CHECK_INT(h.st[0].status, 200);
	CHECK_STR((char *)h.st[0].body, "host=localhost\n"
		  "authorization=Bearer t\ncookie=a=1; b=2\n");
	CHECK_INT(h.st[1].status, 400);         /* two Authorizations */
	CHECK_INT(h.st[2].status, 400);         /* Host != :authority */
	CHECK_STR((char *)h.st[3].body, "host=localhost\n"
		  "authorization:-9\ncookie:-9\n");
	CHECK_INT(h.st[4].status, 431);         /* 65 fields */
	CHECK_INT(h.st[5].status, 400);         /* not origin-form */
	CHECK_INT(h.st[6].status, 400);         /* control character */
	CHECK_INT(h.st[7].status, 413);         /* over max_body */
	CHECK_INT(h.st[8].status, 500);         /* handler's bad field */
	h2c_close(&h);
	cli_free(&c);
	srv_stop(&s);
}

TEST(h2_stream_limit)
{
	struct srv s;
	struct cli c;
	struct raw w;
	struct seen got;
	static uint8_t b[33 * 128];
	size_t n = 0;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_h2(&w, &c, s.port), 0);
	/* 33 slow requests at once: the server announced 32. */
	for (uint32_t id = 1; id <= 65; id += 2) {
		size_t hl = hp_get(b + n + 9, "/sleep", 0);

		n += frame(b + n, hl, 1, 0x5, id) + hl;
	}
	CHECK_INT(raw_write(&w, b, n), 0);
	raw_frames(&w, 1000, NULL, &got);
	CHECK_INT(got.nrst, 1);
	CHECK_INT(got.rst_id, 65);
	CHECK_INT(got.rst_code, SPIFFE_H2_REFUSED_STREAM);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

TEST(h2_bad_preface)
{
	struct srv s;
	struct cli c;
	struct raw w;
	struct seen got;
	static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_open_cfg(&w, &c.tls2, s.port), 0);
	CHECK_INT(raw_write(&w, (const uint8_t *)req, sizeof(req) - 1), 0);
	raw_frames(&w, 3000, NULL, &got);
	CHECK_INT(got.goaway, 1);
	CHECK_INT(got.goaway_code, SPIFFE_H2_PROTOCOL_ERROR);
	CHECK_INT(got.eof, 1);
	CHECK(others_served(&c));
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
	CHECK_STR(s.lastlog, "closing an HTTP/2 connection: invalid preface");
}

TEST(h2_ping_flood_unread)
{
	struct srv s;
	struct cli c;
	struct raw w;
	static uint8_t b[17 * 1024];
	int small = 4096, rc = 0, i;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(raw_h2_small(&w, &c, s.port, small), 0);
	for (i = 0; i < 1024; i++)
		frame(b + 17 * i, 8, 6, 0, 0);
	/* PINGs whose ACKs are never read: the server's output grows
	 * until it gives up on this connection. */
	for (i = 0; i < 2000 && rc == 0; i++)
		rc = raw_write(&w, b, sizeof(b));
	CHECK(rc != 0);
	CHECK(others_served(&c));
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
	CHECK_STR(s.lastlog, "closing an HTTP/2 connection: peer sends "
		  "faster than output drains (over 262144 bytes queued)");
}

TEST(h2_oversized_headers)
{
	struct srv s;
	struct cli c;
	struct raw w;
	struct seen got;
	static uint8_t b[80000];
	size_t n = 0, hl;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	/* A field over SPIFFE_HPACK_MAX_STRING: that stream is answered
	 * 431 (logged; no reset), the next served (fault_test.sh checks
	 * the 431 with nghttp and curl). */
	CHECK_INT(raw_h2(&w, &c, s.port), 0);
	hl = hp_get(b + 9, "/x", SPIFFE_HPACK_MAX_STRING + 1);
	n = frame(b, hl, 1, 0x5, 1) + hl;
	hl = hp_get(b + n + 9, "/after", 0);
	n += frame(b + n, hl, 1, 0x5, 3) + hl;
	CHECK_INT(raw_write(&w, b, n), 0);
	raw_frames(&w, 3000, "GET /after", &got);
	CHECK_INT(got.nrst, 0);
	CHECK_INT(got.found, 1);
	CHECK_STR(s.lastlog, "bad request: h2: header list over 16384 bytes, "
		  "128 fields or 12288 bytes a field");
	raw_close(&w);
	/* A 70,000-byte block in CONTINUATIONs: the connection ends. */
	CHECK_INT(raw_h2(&w, &c, s.port), 0);
	hl = hp_get(b + 9, "/x", 16000);
	n = frame(b, hl, 1, 0x1, 1) + hl;
	for (int i = 0; i < 4; i++) {
		hl = hp_lit(b + n + 9, "x-more", NULL, 14000);
		n += frame(b + n, hl, 9, i == 3 ? 0x4 : 0, 1) + hl;
	}
	CHECK_INT(raw_write(&w, b, n), 0);
	raw_frames(&w, 3000, NULL, &got);
	CHECK_INT(got.goaway, 1);
	CHECK_INT(got.goaway_code, SPIFFE_H2_ENHANCE_YOUR_CALM);
	CHECK_INT(got.eof, 1);
	CHECK(others_served(&c));
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

/*
 * Opens and at once resets n streams ("rapid reset"): requests that end
 * at once (their jobs wait for the workers), or with a body to come.
 * Then one more request; returns its slot, -1 on failure.
 */
static int rst_flood(struct h2c *h, int n, int with_body)
{
	static const uint8_t b[1] = { 'x' };
	int rc = 0;

	for (int i = 0; i < n && rc == 0; i++) {
		int k = h2c_req(h, "GET", "/sleep", b, with_body ? 1 : 0,
				NULL);

		rc = k < 0 ? -1 : spiffe_h2_reset(&h->s, h->st[k].id,
						  SPIFFE_H2_CANCEL);
		h->nst = 0;     /* no bookkeeping for these */
		if (rc == 0 && i % 16 == 15)
			rc = h2c_flush(h);
	}
	if (rc != 0 || h2c_flush(h) != 0)
		return -1;
	return h2c_req(h, "GET", "/", NULL, 0, NULL);
}

TEST(h2_rst_flood)
{
	struct srv s;
	struct cli c;
	struct h2c h;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	/* Resets faster than handlers run (both workers are busy): the
	 * jobs pile up. */
	CHECK_INT(h2c_open(&h, &c, s.port), 0);
	CHECK_INT(h2c_req(&h, "GET", "/sleep", NULL, 0, NULL), 0);
	CHECK_INT(h2c_req(&h, "GET", "/sleep", NULL, 0, NULL), 1);
	CHECK_INT(h2c_flush(&h), 0);
	usleep(100 * 1000);
	h.nst = 0;
	CHECK_INT(rst_flood(&h, 200, 0), 0);
	/* Nothing more is served: GOAWAY refuses the next request. */
	CHECK_INT(h2c_run(&h, 3000), 0);
	CHECK_INT(h.st[0].status, 0);
	CHECK_INT(h.st[0].code, SPIFFE_H2_REFUSED_STREAM);
	CHECK_INT(h.goaway, 1);
	CHECK_INT(h.goaway_code, SPIFFE_H2_ENHANCE_YOUR_CALM);
	CHECK_STR(s.lastlog, "closing an HTTP/2 connection: too many streams "
		  "waiting for handlers");
	h2c_close(&h);
	/* Resets of requests still arriving: the rate limit. */
	CHECK_INT(h2c_open(&h, &c, s.port), 0);
	CHECK_INT(rst_flood(&h, 200, 1), 0);
	CHECK_INT(h2c_run(&h, 3000), 0);
	CHECK_INT(h.st[0].code, SPIFFE_H2_REFUSED_STREAM);
	CHECK_INT(h.goaway_code, SPIFFE_H2_ENHANCE_YOUR_CALM);
	CHECK_STR(s.lastlog, "closing an HTTP/2 connection: too many streams "
		  "reset");
	CHECK(others_served(&c));
	h2c_close(&h);
	cli_free(&c);
	srv_stop(&s);
}

TEST(h2_graceful_stop)
{
	struct srv s;
	struct cli c;
	struct h2c h;

	srv_start(&s, "server", 5000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	CHECK_INT(h2c_open(&h, &c, s.port), 0);
	CHECK_INT(h2c_req(&h, "GET", "/sleep", NULL, 0, NULL), 0);
	CHECK_INT(h2c_flush(&h), 0);
	usleep(100 * 1000);
	spiffe_httpd_stop(&s.httpd);
	CHECK_INT(h2c_run(&h, 3000), 0);
	CHECK_INT(h.st[0].status, 200);
	CHECK_STR((char *)h.st[0].body, "GET /sleep peer=- body=0\n");
	CHECK_INT(h.goaway, 1);
	CHECK_INT(h.goaway_code, SPIFFE_H2_NO_ERROR);
	pthread_join(s.th, NULL);
	CHECK_INT(s.run_rc, 0);
	h2c_close(&h);
	cli_free(&c);
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
}

TEST(h2_header_timeout)
{
	struct srv s;
	struct cli c;
	struct raw w;
	struct seen got;
	int64_t t0;

	srv_start(&s, "server", 400, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	t0 = spiffe_monotonic_ms();
	/* Preface and SETTINGS, then no request. */
	CHECK_INT(raw_h2(&w, &c, s.port), 0);
	raw_frames(&w, 3000, NULL, &got);
	CHECK_INT(got.goaway, 1);
	CHECK_INT(got.goaway_code, SPIFFE_H2_NO_ERROR);
	CHECK_INT(got.eof, 1);
	CHECK(spiffe_monotonic_ms() - t0 >= 380);
	CHECK(spiffe_monotonic_ms() - t0 < 2000);
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
	CHECK_STR(s.lastlog, "closing a connection: header timeout");
}

TEST(h2_write_and_body_timeouts)
{
	struct srv s;
	struct cli c;
	struct raw w;
	struct seen got;
	uint8_t b[256];
	size_t n, hl;
	int64_t t0;

	srv_start_opt(&s, "server", 5000, 0, 0, 0, 300);
	cli_init(&c, s.port, "spiffe://example.org/server");
	/* A request whose body never comes: that stream is reset. */
	CHECK_INT(raw_h2(&w, &c, s.port), 0);
	hl = hp_get(b + 9, "/x", 0);
	n = frame(b, hl, 1, 0x4, 1) + hl;
	t0 = spiffe_monotonic_ms();
	CHECK_INT(raw_write(&w, b, n), 0);
	raw_frames(&w, 3000, NULL, &got);
	CHECK_INT(got.nrst, 1);
	CHECK_INT(got.rst_code, SPIFFE_H2_CANCEL);
	CHECK(spiffe_monotonic_ms() - t0 >= 280);
	CHECK_STR(s.lastlog, "resetting a stream: body timeout");
	raw_close(&w);
	/* A window kept shut: the response cannot be written in time. */
	CHECK_INT(raw_open_cfg(&w, &c.tls2, s.port), 0);
	memcpy(b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	n = 24 + frame(b + 24, 6, 4, 0, 0);
	memcpy(b + n, "\x00\x04\x00\x00\x00\x00", 6);
	n += 6;
	hl = hp_get(b + n + 9, "/big", 0);
	n += frame(b + n, hl, 1, 0x5, 1) + hl;
	t0 = spiffe_monotonic_ms();
	CHECK_INT(raw_write(&w, b, n), 0);
	raw_frames(&w, 3000, NULL, &got);
	CHECK_INT(got.eof, 1);
	CHECK(spiffe_monotonic_ms() - t0 >= 280);
	CHECK(spiffe_monotonic_ms() - t0 < 2000);
	CHECK_STR(s.lastlog, "closing a connection: write timeout");
	CHECK(others_served(&c));
	raw_close(&w);
	cli_free(&c);
	srv_stop(&s);
}

TEST(httpc_h2)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	static uint8_t body[100000];
	spiffe_http_kv f[2] = { SPIFFE_HTTP_KV("Authorization", "Bearer abc"),
				SPIFFE_HTTP_KV("Cookie", "k=v") };
	const uint8_t *v;
	size_t vl;
	char want[128], head[64];
	int n;

	memset(body, 'x', sizeof(body));
	srv_start(&s, "server", 5000, 0);
	cli_init_h2(&c, s.port, "spiffe://example.org/server", 1);
	spiffe_httpc_resp_init(&r);
	n = snprintf(want, sizeof(want), "host=127.0.0.1:%d\n"
		     "authorization=Bearer abc\ncookie=k=v\n", s.port);
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n"
		 "content-length: %d\r\n\r\n", n);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/hdr", 4,
					       f, 2, NULL, 0, &r, &eb), 0);
		CHECK_INT(r.status, 200);
		CHECK_INT(r.version, 20);
		CHECK_INT(r.raw_len, strlen(head));
		CHECK_MEM(r.raw, head, r.raw_len);
		CHECK_INT(r.body_len, n);
		CHECK_MEM(r.body, want, r.body_len);
	}
	CHECK_INT(spiffe_httpc_resp_header(&r, "Content-Length", &v, &vl),
		  0);
	CHECK(vl == 2 && memcmp(v, head + 33, 2) == 0);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "POST", 4, "/p", 2, NULL, 0,
				       body, sizeof(body), &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 27 + sizeof(body));
	CHECK_MEM(r.body, "POST /p peer=- body=100000\n", 27);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/big", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.body_len, 65536);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "HEAD", 4, "/big", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body_len, 0);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/bad", 4, NULL,
				       0, NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 500);
	/* The same checks as for HTTP/1.1 on what the caller sends. */
	f[0].value = "a\nb";
	f[0].value_len = 3;
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/", 1, f, 1,
				       NULL, 0, &r, &eb), SPIFFE_ERR_ARG);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	spiffe_httpd_stop(&s.httpd);
	pthread_join(s.th, NULL);
	CHECK_INT(s.httpd.accepted, 1);
	CHECK_INT(s.httpd.h2_conns, 1);
	CHECK_INT(s.httpd.requests, 7);
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
}

TEST(httpc_h2_retry_after_goaway)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;

	/* The server says GOAWAY to an idle connection after 200 ms. */
	srv_start_opt(&s, "server", 5000, 0, 0, 200, 0);
	cli_init_h2(&c, s.port, "spiffe://example.org/server", 1);
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/a", 2, NULL, 0,
				       NULL, 0, &r, NULL), 0);
	usleep(400 * 1000);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/b", 2, NULL, 0,
				       NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.version, 20);
	CHECK_MEM(r.body, "GET /b peer=- body=0\n", 21);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	spiffe_httpd_stop(&s.httpd);
	pthread_join(s.th, NULL);
	CHECK_INT(s.httpd.accepted, 2);
	spiffe_httpd_free(&s.httpd);
	spiffe_tls_config_free(&s.tls);
	spiffe_tls_memsource_free(&s.src);
}

TEST(httpc_h2_to_http1_server)
{
	struct srv s;
	struct cli c;
	spiffe_httpc_resp r;

	srv_start_opt(&s, "server", 5000, 0, 1, 0, 0);
	cli_init_h2(&c, s.port, "spiffe://example.org/server", 1);
	spiffe_httpc_resp_init(&r);
	CHECK_INT(spiffe_httpc_request(&c.httpc, "GET", 3, "/a", 2, NULL, 0,
				       NULL, 0, &r, NULL), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.version, 11);
	spiffe_httpc_resp_free(&r);
	cli_free(&c);
	srv_stop(&s);
}

static int unit_tests(void)
{
	/* ONLY=name runs one test. */
	const char *only = getenv("ONLY");

#define RUN1(t) if (only == NULL || strcmp(only, #t) == 0) RUN(t)
	RUN1(get_keep_alive);
	RUN1(one_connection_for_many_requests);
	RUN1(post_body_and_big_response);
	RUN1(too_large_body_413);
	RUN1(chunked_pipelined_continue);
	RUN1(malformed_request_400);
	RUN1(slow_loris_closed_others_served);
	RUN1(max_conns_refused);
	RUN1(accept_out_of_fds_pauses);
	RUN1(wrong_server_id_refused);
	RUN1(graceful_stop_finishes_in_flight);
	RUN1(many_client_handshakes_in_flight);
	RUN1(rproxy_forwards_end_to_end);
	RUN1(rproxy_init_checks_url);
	RUN1(resp_empty_calls);
	RUN1(url_parse);
	RUN1(h2_concurrent_streams);
	RUN1(h2_same_rules_as_http1);
	RUN1(h2_stream_limit);
	RUN1(h2_bad_preface);
	RUN1(h2_ping_flood_unread);
	RUN1(h2_oversized_headers);
	RUN1(h2_rst_flood);
	RUN1(h2_graceful_stop);
	RUN1(h2_header_timeout);
	RUN1(h2_write_and_body_timeouts);
	RUN1(httpc_h2);
	RUN1(httpc_h2_retry_after_goaway);
	RUN1(httpc_h2_to_http1_server);
	#undef RUN1
	return test_summary();
}

/* ---- helper program for test/tls_test.sh ---------------------------- */

static void say(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "bad number %s\n", s);
		exit(2);
	}
	return v;
}

static int serve(int argc, char **argv, int is_proxy)
{
	spiffe_tls_memsource src;
	spiffe_tls_config tls, uptls;
	spiffe_httpd_config cfg;
	spiffe_httpd srv;
	spiffe_tls_svid *v;
	spiffe_svid_provider sp;
	spiffe_bundle_provider bp;
	spiffe_errbuf eb;
	spiffe_rproxy_config pc;
	spiffe_rproxy px;
	const char *mtls = NULL;
	int i, mode = SPIFFE_TLS_SERVER, opt0 = is_proxy ? 8 : 5, up_h2 = 0;
	int fixed = 0;

	if (argc < opt0) {
		fprintf(stderr, "usage: see test_httpd.c\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	for (i = opt0; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-t") == 0)
			cfg.header_timeout_ms = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "-i") == 0)
			cfg.idle_timeout_ms = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "-m") == 0)
			cfg.max_conns = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "-w") == 0)
			cfg.workers = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "-M") == 0)
			mtls = argv[i + 1];
		else if (strcmp(argv[i], "-2") == 0)
			cfg.no_h2 = num(argv[i + 1]) == 0;
		else if (strcmp(argv[i], "-u") == 0)
			up_h2 = (int)num(argv[i + 1]);
		else if (strcmp(argv[i], "-s") == 0)
			fixed = num(argv[i + 1]) != 0;
	}
	spiffe_tls_memsource_init(&src);
	if (spiffe_tls_svid_load(&v, argv[3], argv[4], &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	spiffe_tls_memsource_set_svid(&src, v);
	spiffe_tls_svid_unref(v);
	if (mtls != NULL || is_proxy) {
		spiffe_bundle_set *bs = load_bundle("example.org",
						    mtls ? mtls : argv[5]);

		spiffe_tls_memsource_set_bundles(&src, bs);
		spiffe_bundle_set_unref(bs);
	}
	if (mtls != NULL)
		mode = SPIFFE_TLS_MTLS_SERVER;
	sp = spiffe_tls_memsource_svids(&src);
	bp = spiffe_tls_memsource_bundles(&src);
	if (spiffe_tls_config_init(&tls, mode, &sp, &bp, NULL, &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	cfg.listen = argv[2];
	cfg.tls = &tls;
	cfg.handler = fixed ? success : handler;
	cfg.catch_signals = 1;
	cfg.log = say;
	if (is_proxy) {
		spiffe_authorizer az;
		spiffe_id id;

		if (spiffe_id_parse_cstr(&id, argv[7], &eb) != 0) {
			fprintf(stderr, "%s\n", eb.msg);
			return 2;
		}
		spiffe_authorize_id(&az, &id);
		if (spiffe_tls_config_init(&uptls, SPIFFE_TLS_CLIENT, NULL,
					   &bp, &az, &eb) != 0)
			return 1;
		memset(&pc, 0, sizeof(pc));
		pc.url = argv[6];
		pc.url_len = strlen(argv[6]);
		pc.tls = &uptls;
		pc.pool = cfg.workers > 0 ? cfg.workers : 2;
		pc.h2 = up_h2;
		pc.log = say;
		if (spiffe_rproxy_init(&px, &pc, &eb) != 0) {
			fprintf(stderr, "%s\n", eb.msg);
			return 2;
		}
		cfg.handler = spiffe_rproxy_handler;
		cfg.handler_arg = &px;
	}
	if (spiffe_httpd_init(&srv, &cfg, &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	printf("PORT %d\n", spiffe_httpd_port(&srv));
	fflush(stdout);
	if (spiffe_httpd_run(&srv, &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	fprintf(stderr, "shut down: %llu accepted, %llu refused, %llu "
		"requests\n", (unsigned long long)srv.accepted,
		(unsigned long long)srv.refused,
		(unsigned long long)srv.requests);
	spiffe_httpd_free(&srv);
	if (is_proxy) {
		spiffe_rproxy_free(&px);
		spiffe_tls_config_free(&uptls);
	}
	spiffe_tls_config_free(&tls);
	spiffe_tls_memsource_free(&src);
	return 0;
}

/* A client config that authorizes exactly id. */
static void client_tls(spiffe_tls_memsource *src, spiffe_tls_config *tls,
		       const char *bundle, const char *id_str)
{
	spiffe_bundle_set *bs = load_bundle("example.org", bundle);
	spiffe_bundle_provider bp;
	spiffe_authorizer az;
	spiffe_id id;
	spiffe_errbuf eb;

	spiffe_tls_memsource_init(src);
	spiffe_tls_memsource_set_bundles(src, bs);
	spiffe_bundle_set_unref(bs);
	bp = spiffe_tls_memsource_bundles(src);
	if (spiffe_id_parse_cstr(&id, id_str, &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		exit(2);
	}
	spiffe_authorize_id(&az, &id);
	if (spiffe_tls_config_init(tls, SPIFFE_TLS_CLIENT, NULL, &bp, &az,
				   &eb) != 0)
		exit(1);
}

static int get(int argc, char **argv)
{
	spiffe_tls_memsource src;
	spiffe_tls_config tls;
	spiffe_httpc_config hc;
	spiffe_httpc c;
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	char host[256], port[8];
	const char *path;
	size_t pl;
	long n = argc > 5 ? num(argv[5]) : 1;
	int rc = 0;
	const char *proto = "";

	if (argc < 5)
		return 2;
	if (spiffe_httpc_parse_url(argv[2], strlen(argv[2]), host, port,
				   &path, &pl, &eb) != 0) {
		fprintf(stderr, "%s\n", eb.msg);
		return 2;
	}
	client_tls(&src, &tls, argv[3], argv[4]);
	memset(&hc, 0, sizeof(hc));
	hc.tls = &tls;
	hc.h2 = argc > 6 && strcmp(argv[6], "h2") == 0;
	memset(&c, 0, sizeof(c));
	spiffe_httpc_resp_init(&r);
	if (spiffe_httpc_init(&c, &hc, host, port, &eb) != 0)
		rc = 1;
	for (long i = 0; rc == 0 && i < n; i++) {
		if (spiffe_httpc_request(&c, "GET", 3, path, pl, NULL, 0, NULL,
					 0, &r, &eb) != 0) {
			fprintf(stderr, "%s\n", eb.msg);
			rc = 1;
		}
	}
	if (hc.h2)
		proto = r.version == 20 ? "HTTP/2 " : "HTTP/1.1 ";
	if (rc == 0)
		printf("%s%d\n%.*s", proto, r.status, (int)r.body_len,
		       (const char *)r.body);
	spiffe_httpc_resp_free(&r);
	spiffe_httpc_free(&c);
	spiffe_tls_config_free(&tls);
	spiffe_tls_memsource_free(&src);
	return rc;
}

static int hold(int argc, char **argv)
{
	spiffe_tls_memsource src;
	spiffe_tls_config tls;
	spiffe_httpc_config hc;
	spiffe_httpc c;
	spiffe_httpc_resp r;
	spiffe_errbuf eb;
	char host[256], port[8];
	long n;
	long ok = 0;
	struct rlimit rl = { 8192, 8192 };

	if (argc < 5)
		return 2;
	n = num(argv[4]);
	setrlimit(RLIMIT_NOFILE, &rl);
	client_tls(&src, &tls, argv[3], "spiffe://example.org/server");
	if (spiffe_net_split(argv[2], strlen(argv[2]), host, port, 0, &eb))
		return 2;
	/* One client per connection: each keeps its connection pooled. */
	spiffe_httpc_resp_init(&r);
	memset(&hc, 0, sizeof(hc));
	hc.tls = &tls;
	hc.pool = 1;
	hc.h2 = argc > 5 && strcmp(argv[5], "h2") == 0;
	for (long i = 0; i < n; i++) {
		spiffe_httpc *h = malloc(sizeof(*h));

		if (h == NULL || spiffe_httpc_init(h, &hc, host, port, &eb))
			return 1;
		if (spiffe_httpc_request(h, "GET", 3, "/", 1, NULL, 0, NULL, 0,
					 &r, &eb) == 0 && r.status == 200)
			ok++;
		else
			fprintf(stderr, "%ld: %s\n", i, eb.msg);
	}
	printf("HELD %ld\n", ok);
	fflush(stdout);
	pause();
	(void)c;
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return unit_tests();
	if (strcmp(argv[1], "serve") == 0)
		return serve(argc, argv, 0);
	if (strcmp(argv[1], "proxy") == 0)
		return serve(argc, argv, 1);
	if (strcmp(argv[1], "get") == 0)
		return get(argc, argv);
	if (strcmp(argv[1], "hold") == 0)
		return hold(argc, argv);
	fprintf(stderr, "unknown mode %s\n", argv[1]);
	return 2;
}
