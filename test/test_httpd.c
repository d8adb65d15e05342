/*
 * test_httpd.c - the HTTPS server and client.
 *
 * With no arguments: unit tests, a server on 127.0.0.1:0 in a thread and
 * our client (or raw TLS) against it.  With arguments it is the helper
 * program test/tls_test.sh drives:
 *
 *   test_httpd serve ADDR CERT KEY [opts]   HTTPS server ("PORT n" out)
 *   test_httpd proxy ADDR CERT KEY BUNDLE UPSTREAM_URL ID [opts]
 *   test_httpd get URL BUNDLE ID [N]        N GETs on one client
 *   test_httpd hold HOST:PORT BUNDLE N      N idle keep-alive connections
 *
 * opts: -t header_timeout_ms -i idle_timeout_ms -m max_conns -w workers
 *       -M BUNDLE (require client SVIDs: mTLS)
 */
#include <errno.h>
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
	if (req->target_len == 4 && memcmp(req->target, "/big", 4) == 0) {
		static uint8_t big[65536];

		memset(big, 'b', sizeof(big));
		if (spiffe_httpd_resp_write(resp, big, sizeof(big)) != 0)
			return;
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

static void srv_start_with(struct srv *s, const char *svid_name,
			   int header_ms, int max_conns,
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
	/* cfg is copied by init. */
	if (spiffe_httpd_init(&s->httpd, &cfg, NULL) != 0)
		abort();
	s->port = spiffe_httpd_port(&s->httpd);
	pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_start(struct srv *s, const char *svid_name,
		      int header_ms, int max_conns)
{
	srv_start_with(s, svid_name, header_ms, max_conns, handler, NULL);
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
	spiffe_httpc httpc;
	spiffe_bundle_set *bs;
};

static void cli_init(struct cli *c, int port, const char *want_id)
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
				   NULL) != 0)
		abort();
	memset(&hc, 0, sizeof(hc));
	hc.tls = &c->tls;
	hc.timeout_ms = 5000;
	snprintf(ps, sizeof(ps), "%d", port);
	if (spiffe_httpc_init(&c->httpc, &hc, "127.0.0.1", ps, NULL) != 0)
		abort();
}

static void cli_free(struct cli *c)
{
	spiffe_httpc_free(&c->httpc);
	spiffe_tls_config_free(&c->tls);
	spiffe_tls_memsource_free(&c->src);
	spiffe_bundle_set_unref(c->bs);
}

/* A raw TLS connection for hand-written requests. */
struct raw {
	spiffe_tls_conn tls;
	int fd;
};

static int raw_open(struct raw *r, struct cli *c, int port)
{
	char ps[8];
	int64_t dl = spiffe_monotonic_ms() + 5000;

	snprintf(ps, sizeof(ps), "%d", port);
	spiffe_tls_conn_init(&r->tls);
	if (spiffe_net_connect("127.0.0.1", ps, dl, &r->fd, NULL) != 0)
		return -1;
	if (spiffe_tls_conn_setup(&r->tls, &c->tls, r->fd, NULL, NULL) != 0)
		return -1;
	return spiffe_tls_handshake_wait(&r->tls, dl, NULL);
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
	struct srv s;
	struct cli c;
	spiffe_errbuf eb;
	int64_t dl = spiffe_monotonic_ms() + 20000;
	char ps[8];
	int i, rc;

	srv_start(&s, "server", 20000, 0);
	cli_init(&c, s.port, "spiffe://example.org/server");
	snprintf(ps, sizeof(ps), "%d", s.port);
	for (i = 0; i < N; i++) {
		spiffe_tls_conn_init(&w[i].tls);
		CHECK_INT(spiffe_net_connect("127.0.0.1", ps, dl, &w[i].fd,
					     NULL), 0);
		CHECK_INT(spiffe_tls_conn_setup(&w[i].tls, &c.tls, w[i].fd,
						NULL, NULL), 0);
		rc = spiffe_tls_handshake(&w[i].tls, &eb);
		if (rc != SPIFFE_ERR_AGAIN)
			FAILF("handshake %d: %d %s", i, rc, eb.msg);
		CHECK_INT(rc, SPIFFE_ERR_AGAIN);
	}
	for (i = 0; i < N; i++) {
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
	CHECK_INT(spiffe_rproxy_init(&p, url, strlen(url), &upc.tls, 2, NULL,
				     NULL, &eb), 0);
	srv_start_with(&px, "server", 5000, 0, spiffe_rproxy_handler, &p);
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
	spiffe_rproxy p;
	spiffe_errbuf eb;

	cli_init(&c, 1, "spiffe://example.org/server");
	CHECK_INT(spiffe_rproxy_init(&p, "http://x", 8, &c.tls, 1, NULL,
				     NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "upstream URL: URL must start with https://");
	CHECK_INT(spiffe_rproxy_init(&p, "https://x/?a", 12, &c.tls, 1,
				     NULL, NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "upstream URL: a query is not supported");
	spiffe_rproxy_free(&p);
	cli_free(&c);
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

static int unit_tests(void)
{
	RUN(get_keep_alive);
	RUN(one_connection_for_many_requests);
	RUN(post_body_and_big_response);
	RUN(too_large_body_413);
	RUN(chunked_pipelined_continue);
	RUN(malformed_request_400);
	RUN(slow_loris_closed_others_served);
	RUN(max_conns_refused);
	RUN(accept_out_of_fds_pauses);
	RUN(wrong_server_id_refused);
	RUN(graceful_stop_finishes_in_flight);
	RUN(many_client_handshakes_in_flight);
	RUN(rproxy_forwards_end_to_end);
	RUN(rproxy_init_checks_url);
	RUN(url_parse);
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
	spiffe_rproxy px;
	const char *mtls = NULL;
	int i, mode = SPIFFE_TLS_SERVER, opt0 = is_proxy ? 8 : 5;

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
	cfg.handler = handler;
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
		if (spiffe_rproxy_init(&px, argv[6], strlen(argv[6]), &uptls,
				       cfg.workers > 0 ? cfg.workers : 2, say,
				       NULL, &eb) != 0) {
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
	if (rc == 0)
		printf("%d\n%.*s", r.status, (int)r.body_len,
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
