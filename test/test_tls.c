/*
 * test_tls.c - SPIFFE TLS configurations: handshakes between our server
 * and client roles over non-blocking socketpairs, with certificates from
 * test/data/tls/gen.py (python3-cryptography).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rng.h"
#include "test.h"
#include "tls.h"

#define D "test/data/tls/"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* A bundle set of up to two trust domains from PEM files. */
static spiffe_bundle_set *bundles(const char *td1, const char *pem1,
				  const char *td2, const char *pem2)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	const char *tds[2] = { td1, td2 }, *pems[2] = { pem1, pem2 };

	for (int i = 0; i < 2 && tds[i] != NULL; i++) {
		spiffe_td td;
		spiffe_bundle b;
		size_t len;
		char *pem = slurp(pems[i], &len);

		if (pem == NULL ||
		    spiffe_td_parse(&td, tds[i], strlen(tds[i]), NULL) != 0)
			abort();
		spiffe_bundle_init(&b, &td);
		if (spiffe_bundle_set_x509_pem(&b, pem, len, NULL) != 0 ||
		    spiffe_bundle_set_put(s, &b, NULL) != 0)
			abort();
		spiffe_bundle_free(&b);
		free(pem);
	}
	return s;
}

static spiffe_tls_svid *svid(const char *name)
{
	char c[256], k[256];
	spiffe_tls_svid *s;
	spiffe_errbuf eb;

	snprintf(c, sizeof(c), D "%s.pem", name);
	snprintf(k, sizeof(k), D "%s-key.pem", name);
	if (spiffe_tls_svid_load(&s, c, k, &eb) != 0) {
		fprintf(stderr, "%s: %s\n", name, eb.msg);
		abort();
	}
	return s;
}

static spiffe_id id_of(const char *s)
{
	spiffe_id id;

	if (spiffe_id_parse_cstr(&id, s, NULL) != 0)
		abort();
	return id;
}

/* One side of a test connection. */
struct side {
	spiffe_tls_memsource src;
	spiffe_tls_config cfg;
	spiffe_tls_conn conn;
	spiffe_errbuf eb;
	int rc;
	int fd;
};

static void side_init(struct side *s, int mode, const char *svid_name,
		      spiffe_bundle_set *bs, const spiffe_authorizer *az)
{
	spiffe_svid_provider sp;
	spiffe_bundle_provider bp;
	spiffe_errbuf eb;

	memset(s, 0, sizeof(*s));
	spiffe_tls_memsource_init(&s->src);
	if (svid_name != NULL) {
		spiffe_tls_svid *v = svid(svid_name);

		spiffe_tls_memsource_set_svid(&s->src, v);
		spiffe_tls_svid_unref(v);
	}
	spiffe_tls_memsource_set_bundles(&s->src, bs);
	sp = spiffe_tls_memsource_svids(&s->src);
	bp = spiffe_tls_memsource_bundles(&s->src);
	if (spiffe_tls_config_init(&s->cfg, mode, &sp, &bp, az, &eb) != 0) {
		fprintf(stderr, "config: %s\n", eb.msg);
		abort();
	}
	spiffe_tls_conn_init(&s->conn);
	s->fd = -1;
}

static void side_reset(struct side *s)
{
	spiffe_tls_conn_free(&s->conn);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->rc = 0;
	memset(&s->eb, 0, sizeof(s->eb));
}

static void side_free(struct side *s)
{
	side_reset(s);
	spiffe_tls_config_free(&s->cfg);
	spiffe_tls_memsource_free(&s->src);
}

/*
 * Runs both handshakes to their end over a fresh socketpair; each side's
 * result lands in rc and eb.  A side that failed closes its socket, as
 * a program would, so the other side sees the alert or the end.
 */
static void handshake(struct side *srv, struct side *cli)
{
	int sv[2];
	int sdone = 0, cdone = 0;

	side_reset(srv);
	side_reset(cli);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		abort();
	srv->fd = sv[0];
	cli->fd = sv[1];
	srv->rc = spiffe_tls_conn_setup(&srv->conn, &srv->cfg, sv[0], NULL,
					&srv->eb);
	cli->rc = spiffe_tls_conn_setup(&cli->conn, &cli->cfg, sv[1],
					"localhost", &cli->eb);
	sdone = srv->rc != 0;
	cdone = cli->rc != 0;
	for (int i = 0; i < 1000 && (!sdone || !cdone); i++) {
		if (!sdone) {
			srv->rc = spiffe_tls_handshake(&srv->conn, &srv->eb);
			if (srv->rc != SPIFFE_ERR_AGAIN) {
				sdone = 1;
				if (srv->rc != 0)
					shutdown(srv->fd, SHUT_RDWR);
			}
		}
		if (!cdone) {
			cli->rc = spiffe_tls_handshake(&cli->conn, &cli->eb);
			if (cli->rc != SPIFFE_ERR_AGAIN) {
				cdone = 1;
				if (cli->rc != 0)
					shutdown(cli->fd, SHUT_RDWR);
			}
		}
	}
}

/*
 * A client refused by an mTLS server: under TLS 1.3 its own handshake
 * ends before the server judges its certificate, so the refusal (the
 * server's alert, then the end of the stream) shows on its first read.
 * Never application data.
 */
static int client_refused(struct side *c)
{
	char buf[16];
	size_t n;
	int rc;

	if (c->rc != 0)
		return c->rc != SPIFFE_ERR_AGAIN;
	for (int i = 0; i < 100; i++) {
		rc = spiffe_tls_read(&c->conn, buf, sizeof(buf), &n, NULL);
		if (rc != SPIFFE_ERR_AGAIN)
			return rc == SPIFFE_ERR_TLS || rc == SPIFFE_ERR_CLOSED;
	}
	return 0;
}

/* Sends one message each way over an open pair. */
static int exchange(struct side *a, struct side *b)
{
	char buf[64];
	size_t n;

	if (spiffe_tls_write(&a->conn, "ping", 4, &n, NULL) != 0 || n != 4)
		return 0;
	if (spiffe_tls_read(&b->conn, buf, sizeof(buf), &n, NULL) != 0 ||
	    n != 4 || memcmp(buf, "ping", 4) != 0)
		return 0;
	if (spiffe_tls_write(&b->conn, "pong", 4, &n, NULL) != 0 || n != 4)
		return 0;
	if (spiffe_tls_read(&a->conn, buf, sizeof(buf), &n, NULL) != 0 ||
	    n != 4 || memcmp(buf, "pong", 4) != 0)
		return 0;
	return 1;
}

TEST(server_client_authorized)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	spiffe_id want = id_of("spiffe://example.org/server");
	spiffe_authorizer az;
	struct side s, c;
	static const char *const alpn[] = { "h2", "http/1.1" };

	spiffe_authorize_id(&az, &want);
	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, &az);
	CHECK_INT(spiffe_tls_config_set_alpn(&s.cfg, alpn, 2), 0);
	CHECK_INT(spiffe_tls_config_set_alpn(&c.cfg, alpn + 1, 1), 0);
	handshake(&s, &c);
	CHECK_INT(s.rc, 0);
	CHECK_INT(c.rc, 0);
	CHECK(spiffe_tls_peer_id(&c.conn) != NULL);
	CHECK_STR(spiffe_tls_peer_id(&c.conn)->str,
		  "spiffe://example.org/server");
	CHECK(spiffe_tls_peer_id(&s.conn) == NULL);
	CHECK_STR(spiffe_tls_alpn(&c.conn), "http/1.1");
	CHECK_STR(spiffe_tls_alpn(&s.conn), "http/1.1");
	CHECK(exchange(&c, &s));
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(alpn_h2_preferred)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;
	static const char *const alpn[] = { "h2", "http/1.1" };

	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
	CHECK_INT(spiffe_tls_config_set_alpn(&s.cfg, alpn, 2), 0);
	CHECK_INT(spiffe_tls_config_set_alpn(&c.cfg, alpn, 2), 0);
	handshake(&s, &c);
	CHECK_INT(c.rc, 0);
	CHECK_STR(spiffe_tls_alpn(&s.conn), "h2");
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(wrong_id_refused)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	spiffe_id want = id_of("spiffe://example.org/server");
	spiffe_authorizer az;
	struct side s, c;

	spiffe_authorize_id(&az, &want);
	side_init(&s, SPIFFE_TLS_SERVER, "wrong", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, &az);
	handshake(&s, &c);
	CHECK_INT(c.rc, SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(c.eb.msg, "tls: peer \"spiffe://example.org/wrong\" not "
		  "authorized: unexpected ID \"spiffe://example.org/wrong\" "
		  "(expected \"spiffe://example.org/server\")");
	/* The server saw the access_denied alert, not a finished
	 * handshake. */
	CHECK(s.rc != 0);
	CHECK(spiffe_tls_peer_id(&c.conn) == NULL);
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(authorizer_messages)
{
	spiffe_id peer = id_of("spiffe://example.org/client");
	spiffe_id ids[2] = { id_of("spiffe://example.org/a"),
			     id_of("spiffe://example.org/b") };
	spiffe_td td;
	spiffe_authorizer az;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_td_parse(&td, "x", 1, NULL), 0);
	spiffe_authorize_any(&az);
	CHECK_INT(spiffe_authorize(&az, &peer, NULL, &eb), 0);
	spiffe_authorize_id(&az, &ids[0]);
	CHECK_INT(spiffe_authorize(&az, &peer, NULL, &eb),
		  SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(eb.msg, "unexpected ID \"spiffe://example.org/client\"");
	spiffe_authorize_id(&az, &peer);
	CHECK_INT(spiffe_authorize(&az, &peer, NULL, &eb), 0);
	spiffe_authorize_one_of(&az, ids, 2);
	CHECK_INT(spiffe_authorize(&az, &peer, NULL, &eb),
		  SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(eb.msg, "unexpected ID \"spiffe://example.org/client\"");
	CHECK_INT(spiffe_authorize(&az, &ids[1], NULL, &eb), 0);
	spiffe_authorize_one_of(&az, ids, 0);
	CHECK_INT(spiffe_authorize(&az, &ids[0], NULL, &eb),
		  SPIFFE_ERR_UNAUTHORIZED);
	spiffe_authorize_member_of(&az, &td);
	CHECK_INT(spiffe_authorize(&az, &peer, NULL, &eb),
		  SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(eb.msg, "unexpected trust domain \"example.org\"");
}

TEST(member_of_in_handshake)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	spiffe_td td;
	spiffe_authorizer az;
	struct side s, c;

	CHECK_INT(spiffe_td_parse(&td, "other.org", 9, NULL), 0);
	spiffe_authorize_member_of(&az, &td);
	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, &az);
	handshake(&s, &c);
	CHECK_INT(c.rc, SPIFFE_ERR_UNAUTHORIZED);
	CHECK_STR(c.eb.msg, "tls: peer \"spiffe://example.org/server\" not "
		  "authorized: unexpected trust domain \"example.org\" "
		  "(expected trust domain \"other.org\")");
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

static int deny_all(void *arg, const spiffe_id *id,
		    const mbedtls_x509_crt *chain, spiffe_errbuf *eb)
{
	(*(int *)arg)++;
	(void)chain;
	return spiffe_fail(eb, SPIFFE_ERR_UNAUTHORIZED, "no thanks, %s",
			   id->str);
}

TEST(func_authorizer)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	spiffe_authorizer az;
	struct side s, c;
	int calls = 0;

	spiffe_authorize_func(&az, deny_all, &calls);
	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, &az);
	handshake(&s, &c);
	CHECK_INT(c.rc, SPIFFE_ERR_UNAUTHORIZED);
	CHECK_INT(calls, 1);
	CHECK_STR(c.eb.msg, "tls: peer \"spiffe://example.org/server\" not "
		  "authorized: no thanks, spiffe://example.org/server "
		  "(refused by the authorizer)");
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(mtls_authorized)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	spiffe_id cid = id_of("spiffe://example.org/client");
	spiffe_id sid = id_of("spiffe://example.org/server");
	spiffe_authorizer saz, caz;
	struct side s, c;

	spiffe_authorize_id(&saz, &cid);
	spiffe_authorize_id(&caz, &sid);
	side_init(&s, SPIFFE_TLS_MTLS_SERVER, "server", bs, &saz);
	side_init(&c, SPIFFE_TLS_MTLS_CLIENT, "client", bs, &caz);
	handshake(&s, &c);
	CHECK_INT(s.rc, 0);
	CHECK_INT(c.rc, 0);
	CHECK_STR(spiffe_tls_peer_id(&s.conn)->str,
		  "spiffe://example.org/client");
	CHECK_STR(spiffe_tls_peer_id(&c.conn)->str,
		  "spiffe://example.org/server");
	CHECK(exchange(&c, &s));
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(mtls_client_without_cert_refused)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;

	side_init(&s, SPIFFE_TLS_MTLS_SERVER, "server", bs, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
	handshake(&s, &c);
	CHECK_INT(s.rc, SPIFFE_ERR_TLS);
	CHECK(spiffe_tls_peer_id(&s.conn) == NULL);
	CHECK(client_refused(&c));
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(peer_trust_domain_without_bundle)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;

	side_init(&s, SPIFFE_TLS_MTLS_SERVER, "server", bs, NULL);
	side_init(&c, SPIFFE_TLS_MTLS_CLIENT, "other-client", bs, NULL);
	handshake(&s, &c);
	CHECK_INT(s.rc, SPIFFE_ERR_NOT_FOUND);
	CHECK(strstr(s.eb.msg, "tls: peer \"spiffe://other.org/client\" "
		     "rejected: x509svid: could not get X509 bundle") ==
	      s.eb.msg);
	CHECK(strstr(s.eb.msg, "\"other.org\"") != NULL);
	CHECK(client_refused(&c));
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(other_trust_domain_with_bundle)
{
	/* The same peer verifies once other.org's bundle is held, against
	 * that bundle only. */
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem",
					"other.org", D "bundle-b.pem");
	struct side s, c;

	side_init(&s, SPIFFE_TLS_MTLS_SERVER, "server", bs, NULL);
	side_init(&c, SPIFFE_TLS_MTLS_CLIENT, "other-client", bs, NULL);
	handshake(&s, &c);
	CHECK_INT(s.rc, 0);
	CHECK_STR(spiffe_tls_peer_id(&s.conn)->str,
		  "spiffe://other.org/client");
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(keys_shared_across_domains_not_trusted)
{
	/* other.org's bundle holds example.org's CA: a chain to "some
	 * trusted root" is not enough (B-6.2). */
	spiffe_bundle_set *bs = bundles("other.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;

	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
	handshake(&s, &c);
	CHECK_INT(c.rc, SPIFFE_ERR_NOT_FOUND);
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(ca_as_leaf_refused)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;

	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
	/* Present the CA certificate as the server's leaf. */
	{
		spiffe_x509svid raw;
		spiffe_tls_svid *v;
		size_t cl, kl;
		char *cp = slurp(D "ca-as-leaf.pem", &cl);
		char *kp = slurp(D "ca-as-leaf-key.pem", &kl);
		mbedtls_x509_crt_init(&raw.chain);

		/* The SVID parser rightly refuses a CA leaf, so build the
		 * bad SVID by hand. */
		spiffe_x509svid_init(&raw);
		CHECK_INT(mbedtls_x509_crt_parse(&raw.chain,
						 (const uint8_t *)cp, cl + 1),
			  0);
		CHECK_INT(mbedtls_pk_parse_key(&raw.key, (const uint8_t *)kp,
					       kl + 1, NULL, 0, spiffe_rng,
					       NULL), 0);
		raw.nchain = 1;
		CHECK_INT(spiffe_tls_svid_new(&v, &raw, NULL), 0);
		spiffe_tls_memsource_set_svid(&s.src, v);
		spiffe_tls_svid_unref(v);
		free(cp);
		free(kp);
	}
	handshake(&s, &c);
	CHECK_INT(c.rc, SPIFFE_ERR_X509);
	CHECK_STR(c.eb.msg, "tls: peer \"spiffe://example.org/ca-as-leaf\" "
		  "rejected: x509svid: leaf certificate with CA flag set to "
		  "true");
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(intermediate_and_rsa)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;
	const char *names[] = { "server-chain", "server-rsa" };

	for (int i = 0; i < 2; i++) {
		side_init(&s, SPIFFE_TLS_SERVER, names[i], NULL, NULL);
		side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
		handshake(&s, &c);
		CHECK_INT(s.rc, 0);
		CHECK_INT(c.rc, 0);
		CHECK_STR(spiffe_tls_peer_id(&c.conn)->str,
			  "spiffe://example.org/server");
		CHECK(exchange(&s, &c));
		side_free(&s);
		side_free(&c);
	}
	spiffe_bundle_set_unref(bs);
}

TEST(rotation_next_handshake)
{
	spiffe_bundle_set *bs = bundles("example.org", D "bundle-a.pem", NULL,
					NULL);
	struct side s, c;
	spiffe_tls_svid *v2 = svid("server2");
	char serial1[64], serial2[64], want1[64], want2[64];
	const mbedtls_x509_crt *crt;

	side_init(&s, SPIFFE_TLS_SERVER, "server", NULL, NULL);
	side_init(&c, SPIFFE_TLS_CLIENT, NULL, bs, NULL);
	{
		spiffe_tls_svid *v1 = s.src.svid;

		crt = spiffe_tls_svid_chain(v1);
		snprintf(want1, sizeof(want1), "%02X%02X", crt->serial.p[0],
			 crt->serial.p[1]);
		crt = spiffe_tls_svid_chain(v2);
		snprintf(want2, sizeof(want2), "%02X%02X", crt->serial.p[0],
			 crt->serial.p[1]);
	}
	handshake(&s, &c);
	CHECK_INT(c.rc, 0);
	spiffe_tls_peer_serial(&c.conn, serial1, sizeof(serial1));
	CHECK_STR(serial1, want1);
	/* Rotate while the first connection is still open. */
	spiffe_tls_memsource_set_svid(&s.src, v2);
	spiffe_tls_svid_unref(v2);
	{
		struct side s2 = s;     /* keep the old connection alive */
		spiffe_tls_conn_init(&s.conn);
		s.fd = -1;
		handshake(&s, &c);
		CHECK_INT(c.rc, 0);
		spiffe_tls_peer_serial(&c.conn, serial2, sizeof(serial2));
		CHECK_STR(serial2, want2);
		spiffe_tls_conn_free(&s2.conn);
		close(s2.fd);
	}
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(bs);
}

TEST(ca_removed_from_bundle_refused_next_time)
{
	spiffe_bundle_set *both = bundles("example.org", D "bundle-a-a2.pem",
					  NULL, NULL);
	spiffe_bundle_set *only_a = bundles("example.org", D "bundle-a.pem",
					    NULL, NULL);
	struct side s, c;

	side_init(&s, SPIFFE_TLS_MTLS_SERVER, "server", both, NULL);
	side_init(&c, SPIFFE_TLS_MTLS_CLIENT, "client-a2", both, NULL);
	handshake(&s, &c);
	CHECK_INT(s.rc, 0);
	CHECK_INT(c.rc, 0);
	spiffe_tls_memsource_set_bundles(&s.src, only_a);
	handshake(&s, &c);
	CHECK_INT(s.rc, SPIFFE_ERR_X509);
	CHECK_STR(s.eb.msg, "tls: peer \"spiffe://example.org/client\" "
		  "rejected: x509svid: could not verify leaf certificate: "
		  "certificate signed by unknown authority");
	CHECK(client_refused(&c));
	side_free(&s);
	side_free(&c);
	spiffe_bundle_set_unref(both);
	spiffe_bundle_set_unref(only_a);
}

TEST(no_svid_yet)
{
	struct side s;
	spiffe_errbuf eb;

	side_init(&s, SPIFFE_TLS_SERVER, NULL, NULL, NULL);
	CHECK_INT(spiffe_tls_conn_setup(&s.conn, &s.cfg, -1, NULL, &eb),
		  SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "tls: no X.509-SVID available");
	side_free(&s);
}

TEST(config_errors)
{
	spiffe_tls_config cfg;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_tls_config_init(&cfg, SPIFFE_TLS_SERVER, NULL, NULL,
					 NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_tls_config_init(&cfg, SPIFFE_TLS_CLIENT, NULL, NULL,
					 NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_tls_config_init(&cfg, 99, NULL, NULL, NULL, &eb),
		  SPIFFE_ERR_ARG);
	spiffe_tls_config_free(&cfg);
	spiffe_tls_config_free(&cfg);
}

int main(void)
{
	RUN(server_client_authorized);
	RUN(alpn_h2_preferred);
	RUN(wrong_id_refused);
	RUN(authorizer_messages);
	RUN(member_of_in_handshake);
	RUN(func_authorizer);
	RUN(mtls_authorized);
	RUN(mtls_client_without_cert_refused);
	RUN(peer_trust_domain_without_bundle);
	RUN(other_trust_domain_with_bundle);
	RUN(keys_shared_across_domains_not_trusted);
	RUN(ca_as_leaf_refused);
	RUN(intermediate_and_rsa);
	RUN(rotation_next_handshake);
	RUN(ca_removed_from_bundle_refused_next_time);
	RUN(no_svid_yet);
	RUN(config_errors);
	return test_summary();
}
