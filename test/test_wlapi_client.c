/*
 * test_wlapi_client - the Workload API client, two ways.
 *
 * With no arguments: unit tests that need no server (addresses, an
 * endpoint nobody listens on, a server that never answers).
 *
 * With arguments it is the probe test/wlapi_test.sh drives against the
 * python3-grpcio server (one line of output per fact, flushed):
 *   x509 ADDR              fetch an X.509 context
 *   x509bundles ADDR       fetch X.509 bundles
 *   jwtbundles ADDR        fetch JWT bundles
 *   jwt ADDR AUD...        fetch JWT-SVIDs for AUD...
 *   validate ADDR AUD TOK  ValidateJWTSVID
 *   noheader ADDR          fetch an X.509 context without the header
 *   watch ADDR N           watch X.509 contexts until N updates
 *   watchfor ADDR MS [noheader]  a watch for MS ms, errors timed
 *   multi ADDR             two watches and unary calls on one client
 *   source ADDR SECS       an X.509 source, printing each new version
 *   timeout ADDR MS        an X.509 source that cannot start
 *   jwtsource ADDR AUD     a JWT source: bundles, then a token twice
 *   rss ADDR               an X.509 source's resident memory
 */
#include "test.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "h2.h"
#include "workloadapi.h"

static void serial_hex(const spiffe_x509_context *c, char *out, size_t cap)
{
	const mbedtls_x509_buf *s = &c->svids[0].chain.serial;
	size_t i = 0, o = 0;

	while (i + 1 < s->len && s->p[i] == 0)
		i++;
	for (; i < s->len && o + 3 < cap; i++) {
		static const char hx[] = "0123456789abcdef";

		if (o == 0 && (s->p[i] >> 4) == 0) {
			out[o++] = hx[s->p[i] & 15];
			continue;
		}
		out[o++] = hx[s->p[i] >> 4];
		out[o++] = hx[s->p[i] & 15];
	}
	out[o] = '\0';
}

static void options(spiffe_wlapi_options *o, const char *addr)
{
	spiffe_wlapi_options_init(o);
	o->address = addr;
	o->timeout_ms = 10000;
}

static void print_context(const char *tag, spiffe_x509_context *c)
{
	char serial[80];

	serial_hex(c, serial, sizeof(serial));
	printf("%s svid %s serial %s chain %zu hint '%s' bundles %zu\n", tag,
	       c->svids[0].id.str, serial, c->svids[0].nchain,
	       c->svids[0].hint, spiffe_bundle_set_count(c->bundles));
	for (size_t i = 0; i < spiffe_bundle_set_count(c->bundles); i++) {
		const spiffe_bundle *b = spiffe_bundle_set_at(c->bundles, i);

		printf("%s bundle %s x509 %zu\n", tag, b->td.name, b->nx509);
	}
	fflush(stdout);
}

static void print_set(const char *tag, spiffe_bundle_set *s)
{
	for (size_t i = 0; i < spiffe_bundle_set_count(s); i++) {
		const spiffe_bundle *b = spiffe_bundle_set_at(s, i);

		printf("%s %s x509 %zu jwt %zu\n", tag, b->td.name, b->nx509,
		       b->njwt);
	}
	fflush(stdout);
}

static int fail(const char *what, int rc, const spiffe_errbuf *eb)
{
	printf("error %s %d %s\n", what, rc, eb->msg);
	fflush(stdout);
	return 1;
}

/* ---- the probe's commands ------------------------------------------- */

struct watch_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int updates, jwt_updates, errors;
	char last[SPIFFE_ERRBUF_SIZE];
};

static void w_x509(void *arg, spiffe_x509_context *c)
{
	struct watch_state *s = arg;

	print_context("update", c);
	pthread_mutex_lock(&s->mu);
	s->updates++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void w_jwt(void *arg, spiffe_bundle_set *set)
{
	struct watch_state *s = arg;

	print_set("jwtupdate", set);
	pthread_mutex_lock(&s->mu);
	s->jwt_updates++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void w_error(void *arg, int err, const char *msg, int final)
{
	struct watch_state *s = arg;

	printf("watcherror %d final %d %s\n", err, final, msg);
	fflush(stdout);
	pthread_mutex_lock(&s->mu);
	s->errors++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int cmd_watch(const char *addr, int n)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_wlapi_watch *w;
	spiffe_wlapi_watcher cb = { w_x509, NULL, NULL, w_error, NULL };
	struct watch_state s = { PTHREAD_MUTEX_INITIALIZER,
				 PTHREAD_COND_INITIALIZER, 0, 0, 0, "" };
	spiffe_errbuf eb;
	int rc;

	options(&o, addr);
	cb.arg = &s;
	if ((rc = spiffe_wlapi_client_new(&c, &o, &eb)) != 0)
		return fail("client", rc, &eb);
	if ((rc = spiffe_wlapi_watch_start(c, SPIFFE_WLAPI_X509_CONTEXT, &cb,
					   &w, &eb)) != 0)
		return fail("watch", rc, &eb);
	printf("watching\n");
	fflush(stdout);
	pthread_mutex_lock(&s.mu);
	while (s.updates < n)
		pthread_cond_wait(&s.cv, &s.mu);
	pthread_mutex_unlock(&s.mu);
	spiffe_wlapi_watch_stop(w);
	spiffe_wlapi_client_free(c);
	printf("done %d updates\n", s.updates);
	return 0;
}

static int64_t watch_t0;

static void w_error_timed(void *arg, int err, const char *msg, int final)
{
	printf("watcherror@%lld %d final %d %s\n",
	       (long long)(spiffe_monotonic_ms() - watch_t0), err, final, msg);
	fflush(stdout);
	(void)arg;
}

/* A watch for ms milliseconds, each error with its time. */
static int cmd_watchfor(const char *addr, int ms, int noheader)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_wlapi_watch *w;
	spiffe_wlapi_watcher cb = { w_x509, NULL, NULL, w_error_timed, NULL };
	struct watch_state s = { PTHREAD_MUTEX_INITIALIZER,
				 PTHREAD_COND_INITIALIZER, 0, 0, 0, "" };
	spiffe_errbuf eb;
	int rc;

	options(&o, addr);
	o.omit_header = noheader;
	cb.arg = &s;
	if ((rc = spiffe_wlapi_client_new(&c, &o, &eb)) != 0)
		return fail("client", rc, &eb);
	watch_t0 = spiffe_monotonic_ms();
	if ((rc = spiffe_wlapi_watch_start(c, SPIFFE_WLAPI_X509_CONTEXT, &cb,
					   &w, &eb)) != 0)
		return fail("watch", rc, &eb);
	usleep((useconds_t)ms * 1000);
	spiffe_wlapi_watch_stop(w);
	spiffe_wlapi_client_free(c);
	return 0;
}

static int cmd_multi(const char *addr)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_wlapi_watch *w1, *w2;
	spiffe_wlapi_watcher cb = { w_x509, NULL, w_jwt, w_error, NULL };
	struct watch_state s = { PTHREAD_MUTEX_INITIALIZER,
				 PTHREAD_COND_INITIALIZER, 0, 0, 0, "" };
	const char *aud[] = { "spiffe://example.org/server" };
	spiffe_errbuf eb;
	int rc;

	options(&o, addr);
	cb.arg = &s;
	if ((rc = spiffe_wlapi_client_new(&c, &o, &eb)) != 0)
		return fail("client", rc, &eb);
	if ((rc = spiffe_wlapi_watch_start(c, SPIFFE_WLAPI_X509_CONTEXT, &cb,
					   &w1, &eb)) != 0 ||
	    (rc = spiffe_wlapi_watch_start(c, SPIFFE_WLAPI_JWT_BUNDLES, &cb,
					   &w2, &eb)) != 0)
		return fail("watch", rc, &eb);
	pthread_mutex_lock(&s.mu);
	while (s.updates < 1 || s.jwt_updates < 1)
		pthread_cond_wait(&s.cv, &s.mu);
	pthread_mutex_unlock(&s.mu);
	/* Unary and one-shot calls while both streams stay open. */
	for (int i = 0; i < 3; i++) {
		spiffe_wlapi_jwt *v;
		size_t n;
		spiffe_x509_context *ctx;
		spiffe_jwt_svid out;

		if ((rc = spiffe_wlapi_fetch_jwt_svids(c, aud, 1, NULL, &v, &n,
						       &eb)) != 0)
			return fail("jwt", rc, &eb);
		spiffe_jwtsvid_init(&out);
		rc = spiffe_wlapi_validate_jwt(c, v[0].token, v[0].token_len,
					       aud[0], &out, NULL, &eb);
		spiffe_jwtsvid_free(&out);
		spiffe_wlapi_jwt_free(v, n);
		if (rc != 0)
			return fail("validate", rc, &eb);
		if ((rc = spiffe_wlapi_fetch_x509_context(c, &ctx, &eb)) != 0)
			return fail("x509", rc, &eb);
		spiffe_x509_context_unref(ctx);
	}
	printf("multi ok updates %d jwt %d errors %d\n", s.updates,
	       s.jwt_updates, s.errors);
	spiffe_wlapi_watch_stop(w1);
	spiffe_wlapi_watch_stop(w2);
	spiffe_wlapi_client_free(c);
	return 0;
}

static int cmd_source(const char *addr, int secs)
{
	spiffe_wlapi_options o;
	spiffe_x509_source *src;
	spiffe_errbuf eb;
	uint64_t seen = 0;
	int64_t end;
	int rc;

	options(&o, addr);
	if ((rc = spiffe_x509_source_new(&src, &o, 10000, &eb)) != 0)
		return fail("source", rc, &eb);
	end = spiffe_monotonic_ms() + (int64_t)secs * 1000;
	while (spiffe_monotonic_ms() < end) {
		uint64_t v = spiffe_x509_source_version(src);
		spiffe_x509_context *c = spiffe_x509_source_get(src);
		char serial[80];

		serial_hex(c, serial, sizeof(serial));
		if (v != seen) {
			printf("version %llu serial %s\n",
			       (unsigned long long)v, serial);
			fflush(stdout);
			seen = v;
		}
		spiffe_x509_context_unref(c);
		usleep(20000);
	}
	spiffe_x509_source_free(src);
	printf("source done\n");
	return 0;
}

static int cmd_timeout(const char *addr, int ms)
{
	spiffe_wlapi_options o;
	spiffe_x509_source *src;
	spiffe_errbuf eb;
	int rc;

	options(&o, addr);
	rc = spiffe_x509_source_new(&src, &o, ms, &eb);
	if (rc == 0) {
		spiffe_x509_source_free(src);
		printf("started\n");
		return 1;
	}
	printf("error %d %s\n", rc, eb.msg);
	return 0;
}

static int cmd_jwtsource(const char *addr, const char *aud)
{
	spiffe_wlapi_options o;
	spiffe_jwt_source *src;
	spiffe_bundle_set *set;
	spiffe_errbuf eb;
	char *t1, *t2;
	int rc;

	options(&o, addr);
	if ((rc = spiffe_jwt_source_new(&src, &o, 10000, &eb)) != 0)
		return fail("jwtsource", rc, &eb);
	set = spiffe_jwt_source_bundles(src);
	print_set("jwtbundle", set);
	spiffe_bundle_set_unref(set);
	if ((rc = spiffe_jwt_source_fetch(src, &aud, 1, NULL, &t1, &eb)) != 0)
		return fail("fetch", rc, &eb);
	sleep(1);       /* a new token would have another iat */
	if ((rc = spiffe_jwt_source_fetch(src, &aud, 1, NULL, &t2, &eb)) != 0)
		return fail("fetch", rc, &eb);
	printf("cached %s\n", strcmp(t1, t2) == 0 ? "yes" : "no");
	free(t1);
	free(t2);
	spiffe_jwt_source_free(src);
	return 0;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = -1;
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmd_rss(const char *addr)
{
	spiffe_wlapi_options o;
	spiffe_x509_source *src;
	spiffe_x509_context *c;
	spiffe_errbuf eb;
	long before, after;
	int rc;

	options(&o, addr);
	/* Warm up the allocator and the crypto's one-time state first. */
	if ((rc = spiffe_x509_source_new(&src, &o, 10000, &eb)) != 0)
		return fail("source", rc, &eb);
	spiffe_x509_source_free(src);
	before = rss_kib();
	if ((rc = spiffe_x509_source_new(&src, &o, 10000, &eb)) != 0)
		return fail("source", rc, &eb);
	usleep(200000);
	after = rss_kib();
	c = spiffe_x509_source_get(src);
	printf("rss before %ld KiB after %ld KiB delta %ld KiB chain %zu "
	       "bundle %zu\n", before, after, after - before,
	       c->svids[0].nchain,
	       spiffe_bundle_set_at(c->bundles, 0)->nx509);
	spiffe_x509_context_unref(c);
	spiffe_x509_source_free(src);
	return 0;
}

static int probe(int argc, char **argv)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_errbuf eb;
	const char *cmd = argv[1], *addr = argv[2];
	int rc = 0;

	if (strcmp(cmd, "watch") == 0 && argc == 4)
		return cmd_watch(addr, atoi(argv[3]));
	if (strcmp(cmd, "watchfor") == 0 && argc >= 4)
		return cmd_watchfor(addr, atoi(argv[3]), argc == 5);
	if (strcmp(cmd, "multi") == 0)
		return cmd_multi(addr);
	if (strcmp(cmd, "source") == 0 && argc == 4)
		return cmd_source(addr, atoi(argv[3]));
	if (strcmp(cmd, "timeout") == 0 && argc == 4)
		return cmd_timeout(addr, atoi(argv[3]));
	if (strcmp(cmd, "jwtsource") == 0 && argc == 4)
		return cmd_jwtsource(addr, argv[3]);
	if (strcmp(cmd, "rss") == 0)
		return cmd_rss(addr);
	options(&o, addr);
	o.omit_header = strcmp(cmd, "noheader") == 0;
	if ((rc = spiffe_wlapi_client_new(&c, &o, &eb)) != 0)
		return fail("client", rc, &eb);
	if (strcmp(cmd, "x509") == 0 || strcmp(cmd, "noheader") == 0) {
		spiffe_x509_context *ctx;

		rc = spiffe_wlapi_fetch_x509_context(c, &ctx, &eb);
		if (rc == 0) {
			print_context("x509", ctx);
			spiffe_x509_context_unref(ctx);
		}
	} else if (strcmp(cmd, "x509bundles") == 0 ||
		   strcmp(cmd, "jwtbundles") == 0) {
		spiffe_bundle_set *set;

		rc = cmd[0] == 'x' ?
		     spiffe_wlapi_fetch_x509_bundles(c, &set, &eb) :
		     spiffe_wlapi_fetch_jwt_bundles(c, &set, &eb);
		if (rc == 0) {
			print_set(cmd, set);
			spiffe_bundle_set_unref(set);
		}
	} else if (strcmp(cmd, "jwt") == 0 && argc >= 4) {
		const char *const *aud = (const char *const *)argv + 3;
		spiffe_wlapi_jwt *v;
		size_t n;

		rc = spiffe_wlapi_fetch_jwt_svids(c, aud, (size_t)argc - 3,
						  NULL, &v, &n, &eb);
		for (size_t i = 0; rc == 0 && i < n; i++)
			printf("jwt %s sub %s naud %zu hint '%s' token %s\n",
			       v[i].svid.alg == SPIFFE_JWT_ES256 ? "ES256" :
			       "?", v[i].svid.id.str, v[i].svid.naud,
			       v[i].hint, v[i].token);
		if (rc == 0)
			spiffe_wlapi_jwt_free(v, n);
	} else if (strcmp(cmd, "validate") == 0 && argc == 5) {
		spiffe_jwt_svid out;
		char *json;

		spiffe_jwtsvid_init(&out);
		rc = spiffe_wlapi_validate_jwt(c, argv[4], strlen(argv[4]),
					       argv[3], &out, &json, &eb);
		if (rc == 0) {
			printf("valid sub %s claims %s\n", out.id.str, json);
			free(json);
		}
		spiffe_jwtsvid_free(&out);
	} else {
		fprintf(stderr, "usage: see the comment at the top\n");
		rc = 2;
	}
	spiffe_wlapi_client_free(c);
	if (rc < 0)
		return fail(cmd, rc, &eb);
	return rc;
}

/* ---- unit tests (no server) ----------------------------------------- */

TEST(bad_address_fails_at_new)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c = (void *)1;
	spiffe_errbuf eb;

	spiffe_wlapi_options_init(&o);
	o.address = "unix://host/path";
	CHECK_INT(spiffe_wlapi_client_new(&c, &o, &eb), SPIFFE_ERR_ADDRESS);
	CHECK(c == NULL);
	o.address = "/no/scheme";
	CHECK_INT(spiffe_wlapi_client_new(&c, &o, &eb), SPIFFE_ERR_ADDRESS);
	spiffe_wlapi_client_free(NULL);
	spiffe_x509_source_free(NULL);
	spiffe_jwt_source_free(NULL);
	spiffe_wlapi_watch_stop(NULL);
}

static char tmpdir[64];

static void sock_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "unix://%s/%s", tmpdir, name);
}

TEST(unreachable_endpoint)
{
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_x509_context *ctx = (void *)1;
	spiffe_errbuf eb;
	char addr[128];
	int rc;

	sock_path(addr, sizeof(addr), "nobody");
	spiffe_wlapi_options_init(&o);
	o.address = addr;
	CHECK_INT(spiffe_wlapi_client_new(&c, &o, &eb), 0);
	rc = spiffe_wlapi_fetch_x509_context(c, &ctx, &eb);
	CHECK_INT(rc, SPIFFE_ERR_IO);
	CHECK(ctx == NULL);
	CHECK(strncmp(eb.msg, "Unavailable: ", 13) == 0);
	CHECK(strstr(eb.msg, "No such file or directory") != NULL);
	spiffe_wlapi_client_free(c);
}

/* A socket that accepts and then never answers. */
struct silent {
	int lfd;
	pthread_t t;
	int conn;
};

static void *silent_run(void *arg)
{
	struct silent *s = arg;

	s->conn = accept(s->lfd, NULL, NULL);
	return NULL;
}

static int silent_start(struct silent *s, const char *name)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", tmpdir, name);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	s->conn = -1;
	if (s->lfd < 0 ||
	    bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(s->lfd, 4) != 0)
		return -1;
	return pthread_create(&s->t, NULL, silent_run, s);
}

static void silent_stop(struct silent *s)
{
	pthread_join(s->t, NULL);
	if (s->conn >= 0)
		close(s->conn);
	close(s->lfd);
}

TEST(deadline_on_a_silent_server)
{
	struct silent s;
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	spiffe_bundle_set *set = (void *)1;
	spiffe_errbuf eb;
	char addr[128];
	int64_t t0;

	CHECK_INT(silent_start(&s, "silent"), 0);
	sock_path(addr, sizeof(addr), "silent");
	spiffe_wlapi_options_init(&o);
	o.address = addr;
	o.timeout_ms = 300;
	CHECK_INT(spiffe_wlapi_client_new(&c, &o, &eb), 0);
	t0 = spiffe_monotonic_ms();
	CHECK_INT(spiffe_wlapi_fetch_jwt_bundles(c, &set, &eb),
		  SPIFFE_ERR_TIMEOUT);
	CHECK(spiffe_monotonic_ms() - t0 >= 300);
	CHECK(spiffe_monotonic_ms() - t0 < 1300);
	CHECK_STR(eb.msg, "DeadlineExceeded: context deadline exceeded");
	CHECK(set == NULL);
	spiffe_wlapi_client_free(c);
	silent_stop(&s);
}

TEST(source_startup_timeout_without_server)
{
	spiffe_wlapi_options o;
	spiffe_x509_source *src = (void *)1;
	spiffe_errbuf eb;
	char addr[128];

	sock_path(addr, sizeof(addr), "nobody");
	spiffe_wlapi_options_init(&o);
	o.address = addr;
	/* The first attempt fails at once; 1.5 s sees a retry after 1 s. */
	CHECK_INT(spiffe_x509_source_new(&src, &o, 1500, &eb),
		  SPIFFE_ERR_TIMEOUT);
	CHECK(src == NULL);
	CHECK(strncmp(eb.msg, "timed out after 1.5s; last error: "
		      "Unavailable: ", 47) == 0);
}

/* ---- a scripted HTTP/2 server: what grpc servers rarely do ---------- */

enum {
	S_GOAWAY, S_RESET, S_TWO, S_NO_TRAILERS, S_COMPRESSED, S_HUGE,
	S_TRAILERS_ONLY,
};

struct script {
	int lfd, fd, mode;
	pthread_t t;
	spiffe_h2_session h2;
	uint32_t stream;
	int respond, done, header_ok;
};

static spiffe_header hdr(const char *n, const char *v)
{
	spiffe_header h = { (const uint8_t *)n, strlen(n),
			    (const uint8_t *)v, strlen(v), 0 };

	return h;
}

static void s_headers(void *ctx, uint32_t stream, const spiffe_header *h,
		      size_t n, unsigned flags)
{
	struct script *s = ctx;

	s->stream = stream;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len == 18 &&
		    memcmp(h[i].name, "workload.spiffe.io", 18) == 0 &&
		    h[i].value_len == 4 && memcmp(h[i].value, "true", 4) == 0)
			s->header_ok = 1;
	}
	if (flags & SPIFFE_H2_END_STREAM)
		s->respond = 1;
}

static void s_data(void *ctx, uint32_t stream, const uint8_t *p, size_t len,
		   int end)
{
	struct script *s = ctx;

	(void)p;
	if (spiffe_h2_consume(&s->h2, stream, len) != 0)
		s->done = 1;
	if (end)
		s->respond = 1;
}

static void s_respond(struct script *s)
{
	spiffe_header ok[2] = { hdr(":status", "200"),
				hdr("content-type", "application/grpc") };
	spiffe_header tr[1] = { hdr("grpc-status", "0") };
	spiffe_header to[4] = { hdr(":status", "200"),
				hdr("content-type", "application/grpc"),
				hdr("grpc-status", "14"),
				hdr("grpc-message", "try%20again") };
	uint8_t two[10] = { 0 };
	uint8_t comp[6] = { 1, 0, 0, 0, 1, 'x' };
	uint8_t huge[5] = { 0, 0, 0, 0x13, 0x88 };      /* 5000 bytes */
	size_t acc;
	int rc = 0;

	switch (s->mode) {
	case S_GOAWAY:
		rc = spiffe_h2_goaway(&s->h2, SPIFFE_H2_NO_ERROR,
				      (const uint8_t *)"bye", 3);
		s->done = 1;
		break;
	case S_RESET:
		rc = spiffe_h2_reset(&s->h2, s->stream,
				     SPIFFE_H2_REFUSED_STREAM);
		break;
	case S_TWO:
		rc = spiffe_h2_submit_response(&s->h2, s->stream, ok, 2, 0);
		if (rc == 0)
			rc = spiffe_h2_send_data(&s->h2, s->stream, two, 10, 0,
						 &acc);
		if (rc == 0)
			rc = spiffe_h2_submit_trailers(&s->h2, s->stream, tr,
						       1);
		break;
	case S_NO_TRAILERS:
		rc = spiffe_h2_submit_response(&s->h2, s->stream, ok, 2, 0);
		if (rc == 0)
			rc = spiffe_h2_send_data(&s->h2, s->stream, two, 5, 1,
						 &acc);
		break;
	case S_COMPRESSED:
	case S_HUGE:
		rc = spiffe_h2_submit_response(&s->h2, s->stream, ok, 2, 0);
		if (rc == 0 && s->mode == S_COMPRESSED)
			rc = spiffe_h2_send_data(&s->h2, s->stream, comp, 6, 0,
						 &acc);
		else if (rc == 0)
			rc = spiffe_h2_send_data(&s->h2, s->stream, huge, 5, 0,
						 &acc);
		break;
	case S_TRAILERS_ONLY:
		rc = spiffe_h2_submit_response(&s->h2, s->stream, to, 4, 1);
		break;
	}
	if (rc != 0)
		s->done = 1;
}

static int s_flush(struct script *s)
{
	const uint8_t *p;
	size_t n;

	while (spiffe_h2_output(&s->h2, &p, &n) == 0 && n > 0) {
		ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);

		if (k <= 0 || spiffe_h2_output_consumed(&s->h2, (size_t)k))
			return -1;
	}
	return 0;
}

static void *s_run(void *arg)
{
	static const spiffe_h2_callbacks cb = { s_headers, s_data, NULL,
						NULL, NULL };
	struct script *s = arg;
	uint8_t buf[4096];

	if ((s->fd = accept(s->lfd, NULL, NULL)) < 0)
		return NULL;
	if (spiffe_h2_init(&s->h2, SPIFFE_H2_SERVER, &cb, s, NULL) != 0)
		s->done = 1;
	while (!s->done) {
		struct pollfd pf = { s->fd, POLLIN, 0 };
		ssize_t n;

		if (s_flush(s) != 0)
			break;
		if (s->respond) {
			s->respond = 0;
			s_respond(s);
			continue;
		}
		if (poll(&pf, 1, 5000) <= 0)
			break;
		if ((n = recv(s->fd, buf, sizeof(buf), 0)) <= 0)
			break;
		if (spiffe_h2_feed(&s->h2, buf, (size_t)n) != 0)
			break;
	}
	(void)s_flush(s);
	/* Let the client read everything before the close. */
	shutdown(s->fd, SHUT_WR);
	{
		struct pollfd pf = { s->fd, POLLIN, 0 };

		while (poll(&pf, 1, 2000) > 0 &&
		       recv(s->fd, buf, sizeof(buf), 0) > 0)
			;
	}
	spiffe_h2_free(&s->h2);
	close(s->fd);
	return NULL;
}

static int script_start(struct script *s, int mode, char *addr, size_t cap)
{
	struct sockaddr_un sun;

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/script%d", tmpdir,
		 mode);
	snprintf(addr, cap, "unix://%s", sun.sun_path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s->lfd < 0 ||
	    bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(s->lfd, 4) != 0)
		return -1;
	return pthread_create(&s->t, NULL, s_run, s);
}

/* Runs one call against a scripted server; returns its error. */
static int scripted(int mode, int jwt, size_t max_message,
		    spiffe_errbuf *eb, int *header_ok)
{
	struct script s;
	spiffe_wlapi_options o;
	spiffe_wlapi_client *c;
	char addr[160], path[160];
	int rc;

	if (script_start(&s, mode, addr, sizeof(addr)) != 0)
		return -9999;
	spiffe_wlapi_options_init(&o);
	o.address = addr;
	o.timeout_ms = 5000;
	o.max_message = max_message;
	rc = spiffe_wlapi_client_new(&c, &o, eb);
	if (rc == 0 && jwt) {
		const char *aud = "a";
		spiffe_wlapi_jwt *v = NULL;
		size_t n = 0;

		rc = spiffe_wlapi_fetch_jwt_svids(c, &aud, 1, NULL, &v, &n,
						  eb);
		spiffe_wlapi_jwt_free(v, n);
	} else if (rc == 0) {
		spiffe_bundle_set *set = NULL;

		rc = spiffe_wlapi_fetch_x509_bundles(c, &set, eb);
		spiffe_bundle_set_unref(set);
	}
	spiffe_wlapi_client_free(c);
	pthread_join(s.t, NULL);
	close(s.lfd);
	snprintf(path, sizeof(path), "%s", addr + 7);
	unlink(path);
	*header_ok = s.header_ok;
	return rc;
}

TEST(scripted_server_outcomes)
{
	static const struct {
		int mode, jwt, err;
		size_t max;
		const char *msg;
	} v[] = {
		{ S_GOAWAY, 0, SPIFFE_ERR_CLOSED, 0,
		  "Unavailable: server sent GOAWAY (error code 0: bye)" },
		{ S_RESET, 0, SPIFFE_ERR_CLOSED, 0,
		  "Unavailable: stream terminated by RST_STREAM with error "
		  "code 7" },
		{ S_TWO, 1, SPIFFE_ERR_PROTOCOL, 0,
		  "Internal: grpc: more than one message in a unary "
		  "response" },
		{ S_NO_TRAILERS, 1, SPIFFE_ERR_PROTOCOL, 0,
		  "Internal: server closed the stream without sending "
		  "trailers" },
		{ S_COMPRESSED, 0, SPIFFE_ERR_PROTOCOL, 0,
		  "Internal: grpc: compressed message received, but no "
		  "compression was negotiated" },
		{ S_HUGE, 0, SPIFFE_ERR_LIMIT, 4096,
		  "ResourceExhausted: grpc: received message larger than "
		  "max (5000 vs. 4096)" },
		{ S_TRAILERS_ONLY, 1, SPIFFE_ERR_GRPC, 0,
		  "Unavailable: try again" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		spiffe_errbuf eb;
		int hok = 0;

		CHECK_INT(scripted(v[i].mode, v[i].jwt, v[i].max, &eb, &hok),
			  v[i].err);
		CHECK_STR(eb.msg, v[i].msg);
		CHECK_INT(hok, 1);
	}
}

static int unit_tests(void)
{
	char tmpl[] = "/tmp/wlapi-test-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
	RUN(bad_address_fails_at_new);
	RUN(unreachable_endpoint);
	RUN(deadline_on_a_silent_server);
	RUN(source_startup_timeout_without_server);
	RUN(scripted_server_outcomes);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/silent", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	return test_summary();
}

int main(int argc, char **argv)
{
	if (argc >= 3)
		return probe(argc, argv);
	return unit_tests();
}
