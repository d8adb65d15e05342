/*
 * tls.c - SPIFFE TLS over mbedTLS (see tls.h for the design).
 *
 * Memory: mbedTLS allocates a connection's input and output record
 * buffers in mbedtls_ssl_setup (MBEDTLS_SSL_IN_CONTENT_LEN and
 * MBEDTLS_SSL_OUT_CONTENT_LEN plus record overhead, about 16.6 KiB
 * each), zeroes them (so every page is resident), and frees the
 * handshake state when the handshake ends.  The buffers' pages go back
 * to the kernel right after setup and after every handshake (and on
 * spiffe_tls_trim()), so a connection keeps only the pages its records
 * touch, and closing it does not touch them again (free_buffer).  What
 * else a connection keeps: the session and transform (about 1.5 KiB),
 * and the peer's parsed certificate when the peer was verified.
 */
#include "tls.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform.h>
#include <mbedtls/platform_util.h>

#include "clock.h"
#include "rng.h"

enum { ST_NEW, ST_HANDSHAKE, ST_OPEN, ST_DEAD };
enum { AZ_ANY = 1, AZ_ID, AZ_ONE_OF, AZ_MEMBER_OF, AZ_FUNC };

struct spiffe_tls_svid {
	atomic_int refs;
	spiffe_x509svid svid;
};

/*
 * One mbedTLS configuration, built for one SVID (or none, for a plain
 * client) and shared by the connections set up while it was current.
 */
struct spiffe_tls_gen {
	atomic_int refs;
	mbedtls_ssl_config conf;
	spiffe_tls_svid *svid;
};

/* ---- SVIDs ---------------------------------------------------------- */

int spiffe_tls_svid_new(spiffe_tls_svid **out, spiffe_x509svid *svid,
			spiffe_errbuf *eb)
{
	spiffe_tls_svid *s;

	*out = NULL;
	if (svid->nchain == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: SVID has no "
				   "certificate");
	s = malloc(sizeof(*s));
	if (s == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "tls: out of memory");
	atomic_init(&s->refs, 1);
	s->svid = *svid;
	/* The chain's first node and the key live inside the struct: a
	 * plain copy moves them, and svid is reset without freeing. */
	spiffe_x509svid_init(svid);
	*out = s;
	return 0;
}

static int read_file(const char *path, char **out, size_t *len,
		     spiffe_errbuf *eb)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_IO, "tls: cannot open %s: "
				   "%s", path, strerror(errno));
	for (;;) {
		if (cap - n < 4096) {
			char *p;

			if (cap >= SPIFFE_X509_MAX_CHAIN * 4u *
				   SPIFFE_X509_MAX_DER) {
				free(buf);
				fclose(f);
				return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
						   "tls: %s is too large",
						   path);
			}
			cap = cap ? cap * 2 : 8192;
			p = realloc(buf, cap + 1);
			if (p == NULL) {
				free(buf);
				fclose(f);
				return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
						   "tls: out of memory");
			}
			buf = p;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int spiffe_tls_svid_load(spiffe_tls_svid **out, const char *cert_path,
			 const char *key_path, spiffe_errbuf *eb)
{
	spiffe_x509svid svid;
	char *certs = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	int rc;

	*out = NULL;
	spiffe_x509svid_init(&svid);
	rc = read_file(cert_path, &certs, &clen, eb);
	if (rc == 0)
		rc = read_file(key_path, &key, &klen, eb);
	/* PEM text with its terminating NUL, as mbedTLS wants it. */
	if (rc == 0)
		rc = spiffe_x509svid_parse_pem(&svid, certs, clen + 1, key,
					       klen + 1, eb);
	if (rc == 0)
		rc = spiffe_tls_svid_new(out, &svid, eb);
	spiffe_x509svid_free(&svid);
	free(certs);
	if (key != NULL) {
		mbedtls_platform_zeroize(key, klen);
		free(key);
	}
	return rc;
}

spiffe_tls_svid *spiffe_tls_svid_ref(spiffe_tls_svid *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void spiffe_tls_svid_unref(spiffe_tls_svid *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	spiffe_x509svid_free(&s->svid);
	free(s);
}

const spiffe_id *spiffe_tls_svid_id(const spiffe_tls_svid *s)
{
	return &s->svid.id;
}

const mbedtls_x509_crt *spiffe_tls_svid_chain(const spiffe_tls_svid *s)
{
	return &s->svid.chain;
}

/* ---- memory source -------------------------------------------------- */

void spiffe_tls_memsource_init(spiffe_tls_memsource *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
}

void spiffe_tls_memsource_free(spiffe_tls_memsource *m)
{
	spiffe_tls_svid_unref(m->svid);
	spiffe_bundle_set_unref(m->bundles);
	m->svid = NULL;
	m->bundles = NULL;
}

void spiffe_tls_memsource_set_svid(spiffe_tls_memsource *m,
				   spiffe_tls_svid *svid)
{
	spiffe_tls_svid *old;

	spiffe_tls_svid_ref(svid);
	pthread_mutex_lock(&m->mu);
	old = m->svid;
	m->svid = svid;
	pthread_mutex_unlock(&m->mu);
	spiffe_tls_svid_unref(old);
}

void spiffe_tls_memsource_set_bundles(spiffe_tls_memsource *m,
				      spiffe_bundle_set *bundles)
{
	spiffe_bundle_set *old;

	if (bundles != NULL)
		spiffe_bundle_set_ref(bundles);
	pthread_mutex_lock(&m->mu);
	old = m->bundles;
	m->bundles = bundles;
	pthread_mutex_unlock(&m->mu);
	if (old != NULL)
		spiffe_bundle_set_unref(old);
}

static spiffe_tls_svid *mem_svid(void *arg)
{
	spiffe_tls_memsource *m = arg;
	spiffe_tls_svid *s;

	pthread_mutex_lock(&m->mu);
	s = spiffe_tls_svid_ref(m->svid);
	pthread_mutex_unlock(&m->mu);
	return s;
}

static spiffe_bundle_set *mem_bundles(void *arg)
{
	spiffe_tls_memsource *m = arg;
	spiffe_bundle_set *s;

	pthread_mutex_lock(&m->mu);
	s = m->bundles ? spiffe_bundle_set_ref(m->bundles) : NULL;
	pthread_mutex_unlock(&m->mu);
	return s;
}

spiffe_svid_provider spiffe_tls_memsource_svids(spiffe_tls_memsource *m)
{
	spiffe_svid_provider p = { mem_svid, m };

	return p;
}

spiffe_bundle_provider spiffe_tls_memsource_bundles(spiffe_tls_memsource *m)
{
	spiffe_bundle_provider p = { mem_bundles, m };

	return p;
}

/* ---- authorizers ---------------------------------------------------- */

static void az_reset(spiffe_authorizer *a, int kind)
{
	memset(a, 0, sizeof(*a));
	a->kind = kind;
}

void spiffe_authorize_any(spiffe_authorizer *a)
{
	az_reset(a, AZ_ANY);
}

void spiffe_authorize_id(spiffe_authorizer *a, const spiffe_id *id)
{
	az_reset(a, AZ_ID);
	a->id = *id;
}

void spiffe_authorize_one_of(spiffe_authorizer *a, const spiffe_id *ids,
			     size_t n)
{
	az_reset(a, AZ_ONE_OF);
	a->ids = ids;
	a->nids = n;
}

void spiffe_authorize_member_of(spiffe_authorizer *a, const spiffe_td *td)
{
	az_reset(a, AZ_MEMBER_OF);
	a->td = *td;
}

void spiffe_authorize_func(spiffe_authorizer *a, spiffe_authorize_fn fn,
			   void *arg)
{
	az_reset(a, AZ_FUNC);
	a->fn = fn;
	a->arg = arg;
}

int spiffe_authorize(const spiffe_authorizer *a, const spiffe_id *id,
		     const mbedtls_x509_crt *chain, spiffe_errbuf *eb)
{
	spiffe_td td;

	switch (a->kind) {
	case AZ_ANY:
		return 0;
	case AZ_ID:
		if (spiffe_id_equal(id, &a->id))
			return 0;
		break;
	case AZ_ONE_OF:
		for (size_t i = 0; i < a->nids; i++)
			if (spiffe_id_equal(id, &a->ids[i]))
				return 0;
		break;
	case AZ_MEMBER_OF:
		if (spiffe_id_member_of(id, &a->td))
			return 0;
		spiffe_id_td(id, &td);
		return spiffe_fail(eb, SPIFFE_ERR_UNAUTHORIZED,
				   "unexpected trust domain \"%s\"", td.name);
	case AZ_FUNC: {
		int rc = a->fn(a->arg, id, chain, eb);

		if (rc > 0)     /* a caller's slip must not read as success */
			rc = SPIFFE_ERR_UNAUTHORIZED;
		return rc;
	}
	default:
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "no authorizer set");
	}
	return spiffe_fail(eb, SPIFFE_ERR_UNAUTHORIZED, "unexpected ID "
			   "\"%s\"", id->str);
}

/* Appends to out[0..cap) at *n, truncating; out stays terminated. */
static void append(char *out, size_t cap, size_t *n, const char *fmt, ...)
	SPIFFE_PRINTF(4, 5);

static void append(char *out, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*n >= cap)
		return;
	va_start(ap, fmt);
	r = vsnprintf(out + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (r > 0)
		*n = (size_t)r >= cap - *n ? cap : *n + (size_t)r;
}

/* What a refused peer was expected to be, for the handshake error. */
static void az_expected(const spiffe_authorizer *a, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	switch (a->kind) {
	case AZ_ID:
		append(out, cap, &n, "expected \"%s\"", a->id.str);
		return;
	case AZ_ONE_OF:
		append(out, cap, &n, "expected one of [");
		for (size_t i = 0; i < a->nids; i++)
			append(out, cap, &n, "%s\"%s\"", i ? ", " : "",
			       a->ids[i].str);
		append(out, cap, &n, "]");
		return;
	case AZ_MEMBER_OF:
		append(out, cap, &n, "expected trust domain \"%s\"",
		       a->td.name);
		return;
	default:
		append(out, cap, &n, "refused by the authorizer");
	}
}

/* ---- configurations ------------------------------------------------- */

static int presents(int mode)
{
	return mode == SPIFFE_TLS_SERVER || mode == SPIFFE_TLS_MTLS_SERVER ||
	       mode == SPIFFE_TLS_MTLS_CLIENT;
}

static int verifies(int mode)
{
	return mode != SPIFFE_TLS_SERVER;
}

static int is_server(int mode)
{
	return mode == SPIFFE_TLS_SERVER || mode == SPIFFE_TLS_MTLS_SERVER;
}

/*
 * mbedTLS gets no trust anchors: every chain it builds ends untrusted,
 * and the verify callback, which sees the leaf, decides (see tls.h).
 */
static int no_anchors(void *arg, const mbedtls_x509_crt *child,
		      mbedtls_x509_crt **candidates)
{
	(void)arg;
	(void)child;
	*candidates = NULL;
	return 0;
}

int spiffe_tls_config_init(spiffe_tls_config *cfg, int mode,
			   const spiffe_svid_provider *svids,
			   const spiffe_bundle_provider *bundles,
			   const spiffe_authorizer *authz, spiffe_errbuf *eb)
{
	memset(cfg, 0, sizeof(*cfg));
	if (mode < SPIFFE_TLS_SERVER || mode > SPIFFE_TLS_MTLS_CLIENT)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: unknown mode %d",
				   mode);
	if (presents(mode) && (svids == NULL || svids->get == NULL))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: this mode needs "
				   "an SVID provider");
	if (verifies(mode) && (bundles == NULL || bundles->get == NULL))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: this mode needs "
				   "a bundle provider");
	if (authz != NULL && (authz->kind < AZ_ANY || authz->kind > AZ_FUNC ||
			      (authz->kind == AZ_FUNC && authz->fn == NULL)))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: authorizer not "
				   "built by spiffe_authorize_*");
	if (spiffe_crypto_init() != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "tls: cannot start "
				   "PSA crypto and the random generator");
	cfg->mode = mode;
	if (svids != NULL)
		cfg->svids = *svids;
	if (bundles != NULL)
		cfg->bundles = *bundles;
	if (authz != NULL)
		cfg->authz = *authz;
	else
		spiffe_authorize_any(&cfg->authz);
	pthread_mutex_init(&cfg->mu, NULL);
	cfg->ready = 1;
	return 0;
}

int spiffe_tls_config_set_alpn(spiffe_tls_config *cfg,
			       const char *const *protos, size_t n)
{
	if (n > SPIFFE_TLS_MAX_ALPN)
		return SPIFFE_ERR_LIMIT;
	memset(cfg->alpn, 0, sizeof(cfg->alpn));
	for (size_t i = 0; i < n; i++)
		cfg->alpn[i] = protos[i];
	return 0;
}

static void gen_unref(struct spiffe_tls_gen *g)
{
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	mbedtls_ssl_config_free(&g->conf);
	spiffe_tls_svid_unref(g->svid);
	free(g);
}

void spiffe_tls_config_free(spiffe_tls_config *cfg)
{
	if (!cfg->ready)
		return;
	gen_unref(cfg->gen);
	cfg->gen = NULL;
	pthread_mutex_destroy(&cfg->mu);
	cfg->ready = 0;
}

static int gen_build(const spiffe_tls_config *cfg, spiffe_tls_svid *svid,
		     struct spiffe_tls_gen **out, spiffe_errbuf *eb)
{
	struct spiffe_tls_gen *g = calloc(1, sizeof(*g));
	mbedtls_ssl_config *c;
	int rc;

	if (g == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "tls: out of memory");
	atomic_init(&g->refs, 1);
	c = &g->conf;
	mbedtls_ssl_config_init(c);
	rc = mbedtls_ssl_config_defaults(c, is_server(cfg->mode) ?
					 MBEDTLS_SSL_IS_SERVER :
					 MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM,
					 MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0)
		goto fail;
	mbedtls_ssl_conf_rng(c, spiffe_rng, NULL);
	mbedtls_ssl_conf_min_tls_version(c, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(c, MBEDTLS_SSL_VERSION_TLS1_3);
	if (verifies(cfg->mode)) {
		mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_cb(c, no_anchors, NULL);
	} else {
		mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_NONE);
	}
	if (svid != NULL) {
		rc = mbedtls_ssl_conf_own_cert(c, &svid->svid.chain,
					       &svid->svid.key);
		if (rc != 0)
			goto fail;
		g->svid = spiffe_tls_svid_ref(svid);
	}
	if (cfg->alpn[0] != NULL) {
		/* mbedTLS keeps the pointer; cfg outlives every gen. */
		rc = mbedtls_ssl_conf_alpn_protocols(c,
						     (const char **)cfg->alpn);
		if (rc != 0)
			goto fail;
	}
	*out = g;
	return 0;
fail:
	gen_unref(g);
	return spiffe_fail(eb, SPIFFE_ERR_TLS, "tls: configuration failed "
			   "(mbedTLS -0x%04x)", (unsigned)-rc);
}

/* A reference to the configuration for the current SVID. */
static int gen_get(spiffe_tls_config *cfg, struct spiffe_tls_gen **out,
		   spiffe_errbuf *eb)
{
	spiffe_tls_svid *svid = NULL;
	struct spiffe_tls_gen *g;
	int rc = 0;

	if (presents(cfg->mode)) {
		svid = cfg->svids.get(cfg->svids.arg);
		if (svid == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "tls: no "
					   "X.509-SVID available");
	}
	pthread_mutex_lock(&cfg->mu);
	g = cfg->gen;
	if (g == NULL || g->svid != svid) {
		/* Built under the lock: rotation is rare, and racing
		 * builders would only waste work. */
		rc = gen_build(cfg, svid, &g, eb);
		if (rc == 0) {
			gen_unref(cfg->gen);
			cfg->gen = g;
		}
	}
	if (rc == 0)
		atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&cfg->mu);
	spiffe_tls_svid_unref(svid);
	if (rc == 0)
		*out = g;
	return rc;
}

/* ---- connections ---------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	spiffe_tls_conn *c = ctx;
	ssize_t n;

	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	spiffe_tls_conn *c = ctx;
	ssize_t n;

	do
		n = recv(c->fd, buf, len, 0);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

void spiffe_tls_conn_init(spiffe_tls_conn *c)
{
	memset(c, 0, sizeof(*c));
	mbedtls_ssl_init(&c->ssl);
	c->fd = -1;
}

/*
 * Frees a record buffer as mbedtls_ssl_free would (zeroized first), but
 * without faulting back in the pages trimming gave back: whole pages
 * are dropped again (which zeroes them), only the edges are written.
 * Zeroizing all of it would make every idle connection's close cost
 * the buffers' full size in resident memory.
 */
static void free_buffer(unsigned char **pp, size_t len)
{
	unsigned char *p = *pp;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a, e;

	if (p == NULL)
		return;
	a = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
	e = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
	if (e > a && madvise((void *)a, e - a, MADV_DONTNEED) == 0) {
		mbedtls_platform_zeroize(p, a - (uintptr_t)p);
		mbedtls_platform_zeroize((void *)e, (uintptr_t)p + len - e);
	} else {
		mbedtls_platform_zeroize(p, len);
	}
	mbedtls_free(p);
	*pp = NULL;
}

void spiffe_tls_conn_free(spiffe_tls_conn *c)
{
	mbedtls_ssl_context *s = &c->ssl;

	free_buffer(&s->MBEDTLS_PRIVATE(out_buf),
		    s->MBEDTLS_PRIVATE(out_buf_len));
	free_buffer(&s->MBEDTLS_PRIVATE(in_buf),
		    s->MBEDTLS_PRIVATE(in_buf_len));
	/* A zeroed ssl context is what mbedtls_ssl_init makes. */
	mbedtls_ssl_free(&c->ssl);
	gen_unref(c->gen);
	free(c->peer);
	spiffe_tls_conn_init(c);
}

static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth,
		     uint32_t *flags);
static void drop_buffers(mbedtls_ssl_context *s);

int spiffe_tls_conn_setup(spiffe_tls_conn *c, spiffe_tls_config *cfg,
			  int fd, const char *server_name,
			  spiffe_errbuf *eb)
{
	int rc;

	if (c->state != ST_NEW || c->gen != NULL || !cfg->ready)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: connection "
				   "already set up");
	rc = gen_get(cfg, &c->gen, eb);
	if (rc != 0)
		return rc;
	c->cfg = cfg;
	c->fd = fd;
	rc = mbedtls_ssl_setup(&c->ssl, &c->gen->conf);
	if (rc == 0 && !is_server(cfg->mode))
		/* SNI only: NULL says "no name to check" (mbedTLS 3.6 wants
		 * it said), and the verify callback ignores names anyway. */
		rc = mbedtls_ssl_set_hostname(&c->ssl, server_name);
	if (rc != 0) {
		mbedtls_ssl_free(&c->ssl);
		mbedtls_ssl_init(&c->ssl);
		gen_unref(c->gen);
		c->gen = NULL;
		return spiffe_fail(eb, rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ?
				   SPIFFE_ERR_NOMEM : SPIFFE_ERR_TLS,
				   "tls: setup failed (mbedTLS -0x%04x)",
				   (unsigned)-rc);
	}
	if (verifies(cfg->mode))
		mbedtls_ssl_set_verify(&c->ssl, verify_cb, c);
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	/* mbedtls_ssl_setup zeroed both buffers, making every page
	 * resident; a handshake touches only a few of them. */
	drop_buffers(&c->ssl);
	c->state = ST_HANDSHAKE;
	return 0;
}

/* The verify flag whose alert fits a SPIFFE verification error. */
static uint32_t flag_for(int rc)
{
	switch (rc) {
	case SPIFFE_ERR_EXPIRED:
		return MBEDTLS_X509_BADCERT_EXPIRED; /* certificate_expired */
	case SPIFFE_ERR_UNAUTHORIZED:
		return MBEDTLS_X509_BADCERT_OTHER;     /* access_denied */
	default:
		return MBEDTLS_X509_BADCERT_NOT_TRUSTED; /* unknown_ca */
	}
}

/*
 * Called by mbedTLS for each certificate of the chain it built, leaf
 * (depth 0) last; crt at depth 0 is the peer's chain as sent.  Its
 * verdict replaces mbedTLS's.
 */
static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth,
		     uint32_t *flags)
{
	spiffe_tls_conn *c = arg;
	const spiffe_tls_config *cfg = c->cfg;
	spiffe_bundle_set *bundles;
	spiffe_errbuf tmp, *eb = c->eb ? c->eb : &tmp;
	spiffe_id *id;
	char want[256];
	int rc;

	*flags = 0;
	if (depth != 0)
		return 0;
	id = malloc(sizeof(*id));
	if (id == NULL)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	bundles = cfg->bundles.get(cfg->bundles.arg);
	if (bundles == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "tls: no trust "
				 "bundles available");
		goto refuse;
	}
	rc = spiffe_x509svid_verify(crt, bundles, id, NULL, eb);
	spiffe_bundle_set_unref(bundles);
	if (rc != 0) {
		spiffe_errbuf idb;

		if (spiffe_x509_id_from_cert(crt, id, &idb) == 0)
			spiffe_wrap(eb, rc, "tls: peer \"%s\" rejected",
				    id->str);
		else
			spiffe_wrap(eb, rc, "tls: peer rejected");
		goto refuse;
	}
	rc = spiffe_authorize(&cfg->authz, id, crt, eb);
	if (rc != 0) {
		az_expected(&cfg->authz, want, sizeof(want));
		spiffe_wrap(eb, rc, "tls: peer \"%s\" not authorized",
			    id->str);
		size_t n = strlen(eb->msg);
		append(eb->msg, sizeof(eb->msg), &n, " (%s)", want);
		rc = SPIFFE_ERR_UNAUTHORIZED;
		goto refuse;
	}
	free(c->peer);
	c->peer = id;
	return 0;
refuse:
	free(id);
	c->verr = rc;
	*flags = flag_for(rc);
	return 0;
}

static int tls_error(spiffe_tls_conn *c, int rc, const char *what,
		     spiffe_errbuf *eb)
{
	char msg[128];

	switch (rc) {
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
	case MBEDTLS_ERR_NET_CONN_RESET:
		c->state = ST_DEAD;
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "tls: %s: "
				   "connection closed by peer", what);
	case MBEDTLS_ERR_NET_SEND_FAILED:
	case MBEDTLS_ERR_NET_RECV_FAILED:
		c->state = ST_DEAD;
		return spiffe_fail(eb, SPIFFE_ERR_IO, "tls: %s: %s", what,
				   strerror(errno));
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		c->state = ST_DEAD;
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "tls: %s: out of "
				   "memory", what);
	}
	mbedtls_strerror(rc, msg, sizeof(msg));
	c->state = ST_DEAD;
	return spiffe_fail(eb, SPIFFE_ERR_TLS, "tls: %s: %s (-0x%04x)", what,
			   msg, (unsigned)-rc);
}

int spiffe_tls_handshake(spiffe_tls_conn *c, spiffe_errbuf *eb)
{
	spiffe_errbuf tmp;
	int rc;

	if (c->state == ST_OPEN)
		return 0;
	if (c->state != ST_HANDSHAKE)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "tls: handshake on a "
				   "connection that is not set up or failed");
	c->eb = eb ? eb : &tmp;
	rc = mbedtls_ssl_handshake(&c->ssl);
	c->eb = NULL;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = rc == MBEDTLS_ERR_SSL_WANT_READ ?
			  SPIFFE_TLS_WANT_READ : SPIFFE_TLS_WANT_WRITE;
		return SPIFFE_ERR_AGAIN;
	}
	if (c->verr != 0) {
		/* The message is already in eb (from verify_cb). */
		c->state = ST_DEAD;
		return c->verr;
	}
	if (rc != 0)
		return tls_error(c, rc, "handshake failed", eb);
	if (verifies(c->cfg->mode) && c->peer == NULL) {
		/* Unreachable unless mbedTLS skipped verification. */
		c->state = ST_DEAD;
		return spiffe_fail(eb, SPIFFE_ERR_TLS, "tls: handshake ended "
				   "without peer verification");
	}
	c->state = ST_OPEN;
	spiffe_tls_trim(c);
	return 0;
}

/* Releases the whole pages inside p[0..len) (they read as zeros next). */
static void drop_pages(unsigned char *p, size_t len)
{
	static size_t page;
	uintptr_t a, e;

	if (p == NULL)
		return;
	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	/* The first bytes of the input buffer hold the record counter. */
	a = ((uintptr_t)p + 64 + page - 1) & ~(uintptr_t)(page - 1);
	e = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
	if (e > a)
		(void)madvise((void *)a, e - a, MADV_DONTNEED);
}

void spiffe_tls_trim(spiffe_tls_conn *c)
{
	mbedtls_ssl_context *s = &c->ssl;

	/* Private fields, read for this alone (mbedTLS 3.6 has no API to
	 * release idle record buffers): nothing unsent, no partial or
	 * unread record. */
	if (c->state != ST_OPEN || s->MBEDTLS_PRIVATE(out_left) != 0 ||
	    mbedtls_ssl_check_pending(s) ||
	    mbedtls_ssl_get_bytes_avail(s) != 0)
		return;
	drop_buffers(s);
}

static void drop_buffers(mbedtls_ssl_context *s)
{
	drop_pages(s->MBEDTLS_PRIVATE(in_buf), s->MBEDTLS_PRIVATE(in_buf_len));
	drop_pages(s->MBEDTLS_PRIVATE(out_buf),
		   s->MBEDTLS_PRIVATE(out_buf_len));
}

int spiffe_tls_want(const spiffe_tls_conn *c)
{
	return c->want;
}

int spiffe_tls_read(spiffe_tls_conn *c, void *buf, size_t cap, size_t *n,
		    spiffe_errbuf *eb)
{
	int rc;

	*n = 0;
	if (c->state != ST_OPEN)
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "tls: read on a "
				   "connection that is not open");
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	rc = mbedtls_ssl_read(&c->ssl, buf, cap);
	if (rc > 0) {
		*n = (size_t)rc;
		return 0;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = rc == MBEDTLS_ERR_SSL_WANT_READ ?
			  SPIFFE_TLS_WANT_READ : SPIFFE_TLS_WANT_WRITE;
		return SPIFFE_ERR_AGAIN;
	}
	if (rc == 0)
		rc = MBEDTLS_ERR_SSL_CONN_EOF;
	return tls_error(c, rc, "read", eb);
}

int spiffe_tls_pending(const spiffe_tls_conn *c)
{
	return c->state == ST_OPEN &&
	       (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 ||
		mbedtls_ssl_check_pending(&c->ssl));
}

int spiffe_tls_write(spiffe_tls_conn *c, const void *buf, size_t len,
		     size_t *n, spiffe_errbuf *eb)
{
	int rc;

	*n = 0;
	if (c->state != ST_OPEN)
		return spiffe_fail(eb, SPIFFE_ERR_CLOSED, "tls: write on a "
				   "connection that is not open");
	if (len > INT32_MAX)
		len = INT32_MAX;
	rc = mbedtls_ssl_write(&c->ssl, buf, len);
	if (rc > 0) {
		*n = (size_t)rc;
		return 0;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = rc == MBEDTLS_ERR_SSL_WANT_READ ?
			  SPIFFE_TLS_WANT_READ : SPIFFE_TLS_WANT_WRITE;
		return SPIFFE_ERR_AGAIN;
	}
	return tls_error(c, rc, "write", eb);
}

void spiffe_tls_close_notify(spiffe_tls_conn *c)
{
	if (c->state == ST_OPEN)
		(void)mbedtls_ssl_close_notify(&c->ssl);
	c->state = ST_DEAD;
}

const char *spiffe_tls_alpn(const spiffe_tls_conn *c)
{
	return c->state == ST_OPEN ? mbedtls_ssl_get_alpn_protocol(&c->ssl) :
				     NULL;
}

const spiffe_id *spiffe_tls_peer_id(const spiffe_tls_conn *c)
{
	return c->state == ST_OPEN ? c->peer : NULL;
}

void spiffe_tls_peer_serial(const spiffe_tls_conn *c, char *out, size_t cap)
{
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	size_t n = 0;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (crt == NULL)
		return;
	for (size_t i = 0; i < crt->serial.len && n + 3 <= cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02X",
				      crt->serial.p[i]);
}

/* ---- blocking helpers ----------------------------------------------- */

int spiffe_poll_wait(int fd, int want, int64_t deadline, spiffe_errbuf *eb)
{
	struct pollfd p;

	p.fd = fd;
	p.events = want == SPIFFE_TLS_WANT_WRITE ? POLLOUT : POLLIN;
	for (;;) {
		int64_t left = deadline - spiffe_monotonic_ms();
		int rc;

		if (left <= 0)
			return spiffe_fail(eb, SPIFFE_ERR_TIMEOUT,
					   "timed out");
		rc = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return spiffe_fail(eb, SPIFFE_ERR_IO, "poll: %s",
					   strerror(errno));
	}
}

int spiffe_tls_handshake_wait(spiffe_tls_conn *c, int64_t deadline,
			      spiffe_errbuf *eb)
{
	for (;;) {
		int rc = spiffe_tls_handshake(c, eb);

		if (rc != SPIFFE_ERR_AGAIN)
			return rc;
		rc = spiffe_poll_wait(c->fd, c->want, deadline, eb);
		if (rc != 0)
			return spiffe_wrap(eb, rc, "tls: handshake");
	}
}

int spiffe_tls_read_wait(spiffe_tls_conn *c, void *buf, size_t cap,
			 size_t *n, int64_t deadline, spiffe_errbuf *eb)
{
	for (;;) {
		int rc = spiffe_tls_read(c, buf, cap, n, eb);

		if (rc != SPIFFE_ERR_AGAIN)
			return rc;
		rc = spiffe_poll_wait(c->fd, c->want, deadline, eb);
		if (rc != 0)
			return spiffe_wrap(eb, rc, "tls: read");
	}
}

int spiffe_tls_write_wait(spiffe_tls_conn *c, const void *buf, size_t len,
			  int64_t deadline, spiffe_errbuf *eb)
{
	const uint8_t *p = buf;

	while (len > 0) {
		size_t n;
		int rc = spiffe_tls_write(c, p, len, &n, eb);

		if (rc == SPIFFE_ERR_AGAIN) {
			rc = spiffe_poll_wait(c->fd, c->want, deadline, eb);
			if (rc != 0)
				return spiffe_wrap(eb, rc, "tls: write");
			continue;
		}
		if (rc != 0)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}
