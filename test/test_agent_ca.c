/* The agent's CA: files and modes, reload, the exact extensions of the
 * root and of issued X.509-SVIDs (walked in the DER, critical flags
 * included), validity clipping, and the exact bytes of JWT-SVIDs.
 *
 * With arguments it is also the helper of test/agent_ca_test.sh:
 *   test_agent_ca --write DIR    writes an SVID, key, bundle, JWT, JWKS
 *   test_agent_ca --bench N      issues N X.509-SVIDs, prints the rate */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/sha256.h>

#include "agent/ca.h"
#include "agent/store.h"
#include "b64.h"
#include "clock.h"
#include "rng.h"
#include "x509svid.h"

#define T0 1700000000

/* A fresh empty folder under /tmp; path in dir. */
static int tmpdir(char dir[64])
{
	snprintf(dir, 64, "/tmp/agent-ca.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static void rmtree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int mode_of(const char *dir, const char *name)
{
	char p[128];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (lstat(p, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* Opens (creating) the CA for td in dir. */
static int open_ca(spiffe_agent_ca *ca, const char *dir, const char *td,
		   spiffe_errbuf *eb)
{
	spiffe_td t;
	int fd, rc;

	if (spiffe_td_parse(&t, td, strlen(td), eb) != 0)
		return -100;
	rc = spiffe_agent_dir_open(dir, &fd, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_agent_ca_open(ca, fd, &t, eb);
	close(fd);
	return rc;
}

static spiffe_id make_id(const char *s)
{
	spiffe_id id;

	if (spiffe_id_parse_cstr(&id, s, NULL) != 0)
		memset(&id, 0, sizeof(id));
	return id;
}

/* ---- a DER walk over a certificate's extensions ---------------------- */

struct ext {
	const unsigned char *oid;
	size_t oid_len;
	int critical;
	const unsigned char *val;
	size_t val_len;
};

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

static int cert_exts(const unsigned char *der, size_t len, struct ext *x,
		     size_t max, size_t *n)
{
	unsigned char *p = (unsigned char *)der, *end = p + len, *tend, *eend;
	size_t l;

	*n = 0;
	if (mbedtls_asn1_get_tag(&p, end, &l, SEQ) ||
	    mbedtls_asn1_get_tag(&p, end, &l, SEQ))
		return -1;
	tend = p + l;
	if (mbedtls_asn1_get_tag(&p, tend, &l, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
				 MBEDTLS_ASN1_CONSTRUCTED | 0))
		return -1;
	p += l;
	static const int skip[] = { MBEDTLS_ASN1_INTEGER, SEQ, SEQ, SEQ, SEQ,
				    SEQ };
	for (size_t i = 0; i < 6; i++) {
		if (mbedtls_asn1_get_tag(&p, tend, &l, skip[i]))
			return -1;
		p += l;
	}
	if (mbedtls_asn1_get_tag(&p, tend, &l, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
				 MBEDTLS_ASN1_CONSTRUCTED | 3) ||
	    mbedtls_asn1_get_tag(&p, tend, &l, SEQ))
		return -1;
	eend = p + l;
	while (p < eend && *n < max) {
		unsigned char *xend;

		if (mbedtls_asn1_get_tag(&p, eend, &l, SEQ))
			return -1;
		xend = p + l;
		if (mbedtls_asn1_get_tag(&p, xend, &l, MBEDTLS_ASN1_OID))
			return -1;
		x[*n].oid = p;
		x[*n].oid_len = l;
		p += l;
		x[*n].critical = 0;
		if (p < xend && *p == MBEDTLS_ASN1_BOOLEAN &&
		    mbedtls_asn1_get_bool(&p, xend, &x[*n].critical))
			return -1;
		if (mbedtls_asn1_get_tag(&p, xend, &l,
					 MBEDTLS_ASN1_OCTET_STRING))
			return -1;
		x[*n].val = p;
		x[*n].val_len = l;
		p = xend;
		(*n)++;
	}
	return p == eend && p == tend ? 0 : -1;
}

static const struct ext *find_ext(const struct ext *x, size_t n,
				  const char *oid, size_t oid_len)
{
	for (size_t i = 0; i < n; i++)
		if (x[i].oid_len == oid_len &&
		    memcmp(x[i].oid, oid, oid_len) == 0)
			return &x[i];
	return NULL;
}

#define FIND(x, n, OID) find_ext(x, n, OID, MBEDTLS_OID_SIZE(OID))

static int64_t crt_time(const mbedtls_x509_time *t)
{
	struct tm tm = { .tm_year = t->year - 1900, .tm_mon = t->mon - 1,
			 .tm_mday = t->day, .tm_hour = t->hour,
			 .tm_min = t->min, .tm_sec = t->sec };

	return (int64_t)timegm(&tm);
}

/* ---- tests ------------------------------------------------------------- */

TEST(create_then_reload_same_bundle)
{
	spiffe_agent_ca a, b;
	spiffe_errbuf eb;
	char dir[64], sub[80];
	const uint8_t *ra, *rb;
	const char *ja, *jb;
	size_t la, lb, ka, kb;

	CHECK_INT(tmpdir(dir), 0);
	snprintf(sub, sizeof(sub), "%s/data", dir);
	spiffe_agent_ca_init(&a);
	spiffe_agent_ca_init(&b);
	CHECK_INT(open_ca(&a, sub, "example.org", &eb), 0);
	CHECK_INT(a.created, 1);
	CHECK_INT(mode_of(dir, "data"), 0700);
	CHECK_INT(mode_of(sub, "ca_key.pem"), 0600);
	CHECK_INT(mode_of(sub, "ca_cert.pem"), 0600);
	CHECK_INT(mode_of(sub, "jwt_key.pem"), 0600);
	CHECK_INT(mode_of(sub, "jwt_kid"), 0600);
	/* Nothing else (no temporary files left behind). */
	DIR *d = opendir(sub);
	struct dirent *de;
	int files = 0;
	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL)
		files += de->d_name[0] != '.';
	closedir(d);
	CHECK_INT(files, 5);
	CHECK_INT(mode_of(sub, "ca.lock"), 0600);

	CHECK_INT(open_ca(&b, sub, "example.org", &eb), 0);
	CHECK_INT(b.created, 0);
	ra = spiffe_agent_ca_x509_bundle(&a, &la);
	rb = spiffe_agent_ca_x509_bundle(&b, &lb);
	CHECK(la > 0);
	CHECK_INT(la, lb);
	CHECK_MEM(ra, rb, la);
	ja = spiffe_agent_ca_jwks(&a, &ka);
	jb = spiffe_agent_ca_jwks(&b, &kb);
	CHECK_INT(ka, kb);
	CHECK_MEM(ja, jb, ka);
	CHECK_STR(a.kid, b.kid);
	CHECK_INT(strlen(a.kid), SPIFFE_AGENT_KID_LEN);
	spiffe_agent_ca_free(&a);
	spiffe_agent_ca_free(&a);
	spiffe_agent_ca_free(&b);
	rmtree(dir);
}

TEST(existing_folder_gets_0700)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	char dir[64];

	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(chmod(dir, 0755), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(mode_of("/", dir + 1), 0700);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(root_extensions)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	mbedtls_x509_crt *c;
	struct ext x[16];
	const struct ext *e;
	size_t n;
	char dir[64], dn[256];

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	c = &ca.cert;
	CHECK_INT(c->version, 3);
	CHECK_INT(mbedtls_x509_crt_get_ca_istrue(c), 1);
	CHECK_INT(ca.not_before, T0 - 10);
	CHECK_INT(ca.not_after, T0 + 5 * 365 * 86400);
	CHECK_INT(crt_time(&c->valid_from), T0 - 10);
	CHECK_INT(crt_time(&c->valid_to), T0 + 5 * 365 * 86400);
	CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &c->subject) > 0);
	CHECK_STR(dn, "O=SPIFFE, CN=spiffe-agent CA");
	CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &c->issuer) > 0);
	CHECK_STR(dn, "O=SPIFFE, CN=spiffe-agent CA");
	CHECK_INT(c->serial.len, 16);
	CHECK(c->serial.p[0] != 0 && (c->serial.p[0] & 0x80) == 0);
	CHECK_INT(cert_exts(c->raw.p, c->raw.len, x, 16, &n), 0);
	CHECK_INT(n, 4);
	/* basicConstraints: critical, cA TRUE, pathLen 0. */
	e = FIND(x, n, MBEDTLS_OID_BASIC_CONSTRAINTS);
	CHECK(e != NULL && e->critical);
	CHECK_INT(e->val_len, 8);
	CHECK_MEM(e->val, "\x30\x06\x01\x01\xff\x02\x01\x00", 8);
	/* keyUsage: critical, keyCertSign + cRLSign (bits 5 and 6). */
	e = FIND(x, n, MBEDTLS_OID_KEY_USAGE);
	CHECK(e != NULL && e->critical);
	CHECK_INT(e->val_len, 4);
	CHECK_MEM(e->val, "\x03\x02\x01\x06", 4);
	e = FIND(x, n, MBEDTLS_OID_SUBJECT_ALT_NAME);
	CHECK(e != NULL && !e->critical);
	CHECK_INT(e->val_len, 2 + 2 + 20);
	CHECK_MEM(e->val, "\x30\x16\x86\x14spiffe://example.org", 24);
	e = FIND(x, n, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER);
	CHECK(e != NULL && !e->critical);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(svid_extensions_exactly)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	mbedtls_x509_crt leaf;
	mbedtls_pk_context key;
	struct ext x[16];
	const struct ext *e, *ski, *aki;
	spiffe_id id = make_id("spiffe://example.org/workload/a");
	uint32_t flags = 0;
	size_t n;
	char dir[64], dn[256];

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&s);
	mbedtls_x509_crt_init(&leaf);
	mbedtls_pk_init(&key);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	spiffe_clock_set(T0 + 1000);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb), 0);
	CHECK_INT(s.not_before, T0 + 1000 - 10);
	CHECK_INT(s.not_after, T0 + 1000 + 3600);
	CHECK_INT(mbedtls_x509_crt_parse_der(&leaf, s.cert, s.cert_len), 0);
	CHECK(leaf.next == NULL);
	CHECK_INT(leaf.version, 3);
	CHECK_INT(mbedtls_x509_crt_get_ca_istrue(&leaf), 0);
	CHECK_INT(crt_time(&leaf.valid_from), T0 + 990);
	CHECK_INT(crt_time(&leaf.valid_to), T0 + 4600);
	CHECK(crt_time(&leaf.valid_from) >= ca.not_before);
	CHECK(crt_time(&leaf.valid_to) <= ca.not_after);
	CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &leaf.subject) > 0);
	CHECK_STR(dn, "O=SPIFFE");
	CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &leaf.issuer) > 0);
	CHECK_STR(dn, "O=SPIFFE, CN=spiffe-agent CA");
	CHECK_INT(leaf.serial.len, 16);
	CHECK(leaf.serial.p[0] != 0 && (leaf.serial.p[0] & 0x80) == 0);
	CHECK(mbedtls_pk_get_type(&leaf.pk) == MBEDTLS_PK_ECKEY);
	CHECK_INT(mbedtls_pk_get_bitlen(&leaf.pk), 256);
	CHECK_INT(leaf.subject_alt_names.next == NULL, 1);
	CHECK_INT(leaf.subject_alt_names.buf.tag,
		  MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		  MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER);
	CHECK_INT(leaf.subject_alt_names.buf.len, id.len);
	CHECK_MEM(leaf.subject_alt_names.buf.p, id.str, id.len);

	CHECK_INT(cert_exts(leaf.raw.p, leaf.raw.len, x, 16, &n), 0);
	CHECK_INT(n, 6);
	/* basicConstraints: critical, empty SEQUENCE (cA FALSE). */
	e = FIND(x, n, MBEDTLS_OID_BASIC_CONSTRAINTS);
	CHECK(e != NULL && e->critical);
	CHECK_INT(e->val_len, 2);
	CHECK_MEM(e->val, "\x30\x00", 2);
	/* keyUsage: critical, digitalSignature only (bit 0). */
	e = FIND(x, n, MBEDTLS_OID_KEY_USAGE);
	CHECK(e != NULL && e->critical);
	CHECK_INT(e->val_len, 4);
	CHECK_MEM(e->val, "\x03\x02\x07\x80", 4);
	/* extKeyUsage: serverAuth, clientAuth, not critical. */
	e = FIND(x, n, MBEDTLS_OID_EXTENDED_KEY_USAGE);
	CHECK(e != NULL && !e->critical);
	CHECK_INT(e->val_len, 22);
	CHECK_MEM(e->val, "\x30\x14\x06\x08" MBEDTLS_OID_SERVER_AUTH
		  "\x06\x08" MBEDTLS_OID_CLIENT_AUTH, 22);
	/* One URI SAN, not critical (the subject is not empty). */
	e = FIND(x, n, MBEDTLS_OID_SUBJECT_ALT_NAME);
	CHECK(e != NULL && !e->critical);
	CHECK_INT(e->val_len, 4 + id.len);
	CHECK_INT(e->val[2], 0x86);
	ski = FIND(x, n, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER);
	aki = FIND(x, n, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER);
	CHECK(ski != NULL && !ski->critical);
	CHECK(aki != NULL && !aki->critical);
	/* AKI keyIdentifier equals the root's SKI. */
	{
		struct ext rx[16];
		const struct ext *rski;
		size_t rn;

		CHECK_INT(cert_exts(ca.cert.raw.p, ca.cert.raw.len, rx, 16,
				    &rn), 0);
		rski = FIND(rx, rn, MBEDTLS_OID_SUBJECT_KEY_IDENTIFIER);
		CHECK(rski != NULL && rski->val_len == 22);
		CHECK_INT(aki->val_len, 24);
		CHECK_MEM(aki->val + 4, rski->val + 2, 20);
		CHECK(ski->val_len != 22 ||
		      memcmp(ski->val, rski->val, 22) != 0);
	}
	/* mbedTLS agrees on the usages. */
	CHECK_INT(mbedtls_x509_crt_check_key_usage(&leaf,
			MBEDTLS_X509_KU_DIGITAL_SIGNATURE), 0);
	CHECK(mbedtls_x509_crt_check_key_usage(&leaf,
			MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0);
	CHECK(mbedtls_x509_crt_check_key_usage(&leaf,
			MBEDTLS_X509_KU_CRL_SIGN) != 0);
	CHECK_INT(mbedtls_x509_crt_check_extended_key_usage(&leaf,
			MBEDTLS_OID_SERVER_AUTH,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)), 0);
	CHECK_INT(mbedtls_x509_crt_check_extended_key_usage(&leaf,
			MBEDTLS_OID_CLIENT_AUTH,
			MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)), 0);
	/* The chain verifies (times aside: the clock is fixed). */
	mbedtls_x509_crt_verify(&leaf, &ca.cert, NULL, NULL, &flags, NULL,
				NULL);
	CHECK_INT(flags & ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
				      MBEDTLS_X509_BADCERT_FUTURE), 0);
	/* The key is PKCS#8 (version 0, id-ecPublicKey, P-256) and pairs. */
	CHECK_INT(s.key_len, 150);
	CHECK_MEM(s.key, "\x30\x81\x93", 3);
	CHECK_MEM(s.key + 3, "\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce"
		  "\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 24);
	CHECK_INT(mbedtls_pk_parse_key(&key, s.key, s.key_len, NULL, 0,
				       spiffe_rng, NULL), 0);
	CHECK_INT(mbedtls_pk_check_pair(&leaf.pk, &key, spiffe_rng, NULL),
		  0);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&leaf);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(svid_serials_and_keys_differ)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid a, b;
	spiffe_errbuf eb;
	mbedtls_x509_crt ca_, cb;
	spiffe_id id = make_id("spiffe://example.org/w");
	char dir[64];

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&a);
	spiffe_agent_x509svid_init(&b);
	mbedtls_x509_crt_init(&ca_);
	mbedtls_x509_crt_init(&cb);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 60, &a, &eb), 0);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 60, &b, &eb), 0);
	CHECK_INT(mbedtls_x509_crt_parse_der(&ca_, a.cert, a.cert_len), 0);
	CHECK_INT(mbedtls_x509_crt_parse_der(&cb, b.cert, b.cert_len), 0);
	CHECK(memcmp(ca_.serial.p, cb.serial.p, 16) != 0);
	CHECK(a.key_len != b.key_len || memcmp(a.key, b.key, a.key_len) != 0);
	CHECK_INT(a.not_after - a.not_before, 70);
	mbedtls_x509_crt_free(&ca_);
	mbedtls_x509_crt_free(&cb);
	spiffe_agent_x509svid_free(&a);
	spiffe_agent_x509svid_free(&b);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(svid_validity_clipped_to_root)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/w");
	char dir[64];

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&s);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	spiffe_clock_set(ca.not_after - 100);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 3600, &s, &eb), 0);
	CHECK_INT(s.not_after, ca.not_after);
	CHECK_INT(s.not_before, ca.not_after - 110);
	/* Right after creation, notBefore is not before the root's. */
	spiffe_clock_set(T0 - 5);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb), 0);
	CHECK_INT(s.not_before, ca.not_before);
	spiffe_clock_set(ca.not_after);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK(s.cert == NULL && s.key == NULL);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(issue_rejects)
{
	spiffe_agent_ca ca, closed;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	spiffe_id other = make_id("spiffe://other.org/w");
	spiffe_id root = make_id("spiffe://example.org");
	spiffe_id ok = make_id("spiffe://example.org/w");
	spiffe_agent_str aud = { "x", 1 };
	char dir[64], *tok;
	size_t len;

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_ca_init(&closed);
	spiffe_agent_x509svid_init(&s);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &other, 0, &s, &eb),
		  SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, "cannot issue for \"spiffe://other.org/w\": not in "
		  "trust domain \"example.org\"");
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &root, 0, &s, &eb),
		  SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, "cannot issue for \"spiffe://example.org\": an SVID "
		  "needs a path (X509-SVID 3.1)");
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &root, &aud, 1, 0, &tok,
					    &len, &eb), SPIFFE_ERR_SPIFFEID);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &ok, -1, &s, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "TTL -1 is outside 1 to 31622400 seconds");
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &ok,
					     SPIFFE_AGENT_TTL_MAX + 1, &s,
					     &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_agent_ca_issue_x509(&closed, &ok, 0, &s, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "CA is not open");
	CHECK(s.cert == NULL);
	spiffe_agent_ca_free(&closed);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

/* Decodes the base64url part [p, p+n) into out (NUL-terminated). */
static size_t part(const char *p, size_t n, char *out, size_t cap)
{
	size_t len = 0;

	if (spiffe_b64url_decode((uint8_t *)out, cap - 1, &len, p, n) != 0)
		return 0;
	out[len] = '\0';
	return len;
}

TEST(jwt_exact_bytes)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/workload");
	spiffe_agent_str aud[3] = { { "spiffe://example.org/server", 27 },
				    { "b\"c\\d", 5 },
				    { "\xc3\xa9t\xc3\xa9", 5 } };
	char dir[64], *tok, want[256], h[256], c[512];
	unsigned char sig[64], der[MBEDTLS_ECDSA_MAX_LEN], hash[32];
	size_t len, d1, d2, n, dlen;

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud, 3, 0, &tok, &len,
					    &eb), 0);
	CHECK_INT(strlen(tok), len);
	d1 = (size_t)(strchr(tok, '.') - tok);
	d2 = (size_t)(strchr(tok + d1 + 1, '.') - tok);
	CHECK(strchr(tok + d2 + 1, '.') == NULL);
	CHECK(part(tok, d1, h, sizeof(h)) > 0);
	snprintf(want, sizeof(want), "{\"alg\":\"ES256\",\"kid\":\"%s\","
		 "\"typ\":\"JWT\"}", ca.kid);
	CHECK_STR(h, want);
	CHECK(part(tok + d1 + 1, d2 - d1 - 1, c, sizeof(c)) > 0);
	CHECK_STR(c, "{\"aud\":[\"spiffe://example.org/server\","
		  "\"b\\\"c\\\\d\",\"\xc3\xa9t\xc3\xa9\"],"
		  "\"exp\":1700000300,\"iat\":1700000000,"
		  "\"sub\":\"spiffe://example.org/workload\"}");
	/* Raw r||s of 64 bytes that verifies with the JWT key. */
	CHECK_INT(spiffe_b64url_decode(sig, sizeof(sig), &n, tok + d2 + 1,
				       len - d2 - 1), 0);
	CHECK_INT(n, 64);
	CHECK_INT(len - d2 - 1, 86);
	CHECK_INT(mbedtls_ecdsa_raw_to_der(256, sig, 64, der, sizeof(der),
					   &dlen), 0);
	CHECK_INT(mbedtls_sha256((unsigned char *)tok, d2, hash, 0), 0);
	CHECK_INT(mbedtls_pk_verify(&ca.jwt_key, MBEDTLS_MD_SHA256, hash, 32,
				    der, dlen), 0);
	/* A flipped signing-input byte does not. */
	hash[0] ^= 1;
	CHECK(mbedtls_pk_verify(&ca.jwt_key, MBEDTLS_MD_SHA256, hash, 32,
				der, dlen) != 0);
	free(tok);
	/* One audience is still an array; the TTL is the caller's. */
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud, 1, 60, &tok, &len,
					    &eb), 0);
	d1 = (size_t)(strchr(tok, '.') - tok);
	d2 = (size_t)(strchr(tok + d1 + 1, '.') - tok);
	CHECK(part(tok + d1 + 1, d2 - d1 - 1, c, sizeof(c)) > 0);
	CHECK_STR(c, "{\"aud\":[\"spiffe://example.org/server\"],"
		  "\"exp\":1700000060,\"iat\":1700000000,"
		  "\"sub\":\"spiffe://example.org/workload\"}");
	free(tok);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(jwks_exact)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	char dir[64], want[512], x[64], y[64];
	unsigned char pt[65];
	size_t len, xl, yl;
	const char *j;

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(mbedtls_ecp_write_public_key(mbedtls_pk_ec(ca.jwt_key),
					       MBEDTLS_ECP_PF_UNCOMPRESSED,
					       &len, pt, sizeof(pt)), 0);
	CHECK_INT(spiffe_b64url_encode(x, sizeof(x), &xl, pt + 1, 32), 0);
	CHECK_INT(spiffe_b64url_encode(y, sizeof(y), &yl, pt + 33, 32), 0);
	snprintf(want, sizeof(want), "{\"keys\":[{\"kty\":\"EC\",\"crv\":"
		 "\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\",\"use\":"
		 "\"jwt-svid\"}]}", x, y, ca.kid);
	j = spiffe_agent_ca_jwks(&ca, &len);
	CHECK_INT(len, strlen(want));
	CHECK_STR(j, want);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(jwt_rejects)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/w");
	spiffe_agent_str aud[SPIFFE_JWT_MAX_AUDIENCES + 1];
	spiffe_agent_str empty = { "", 0 }, bad = { "\xff", 1 };
	static char big[SPIFFE_JWT_MAX];
	char dir[64], *tok = (char *)1;
	size_t len = 7;

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	for (size_t i = 0; i <= SPIFFE_JWT_MAX_AUDIENCES; i++)
		aud[i] = (spiffe_agent_str){ "a", 1 };
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud, 0, 0, &tok, &len,
					    &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "audience must be specified");
	CHECK(tok == NULL && len == 0);
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud,
					    SPIFFE_JWT_MAX_AUDIENCES + 1, 0,
					    &tok, &len, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "more than 32 audiences");
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, &empty, 1, 0, &tok,
					    &len, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "audience 0 is empty");
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, &bad, 1, 0, &tok,
					    &len, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "audience 0 is not valid UTF-8");
	memset(big, 'a', sizeof(big));
	aud[0] = (spiffe_agent_str){ big, sizeof(big) * 3 / 4 };
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud, 1, 0, &tok, &len,
					    &eb), SPIFFE_ERR_LIMIT);
	CHECK(strncmp(eb.msg, "JWT-SVID of ", 12) == 0);
	CHECK(tok == NULL);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(svid_passes_the_library_validator)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid s;
	spiffe_x509svid v;
	spiffe_x509_verified vc;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/workload"), got;
	char dir[64];

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&s);
	spiffe_x509svid_init(&v);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb), 0);
	/* The Workload API form, as a client parses it. */
	if (spiffe_x509svid_parse_der(&v, s.cert, s.cert_len, s.key,
				      s.key_len, &eb) != 0)
		FAILF("parse: %s", eb.msg);
	CHECK_STR(v.id.str, id.str);
	if (spiffe_x509svid_verify(&v.chain, spiffe_agent_ca_bundles(&ca),
				   &got, &vc, &eb) != 0)
		FAILF("verify: %s", eb.msg);
	CHECK_STR(got.str, id.str);
	CHECK_INT(vc.depth, 2);
	CHECK_INT(vc.not_after, s.not_after);
	spiffe_x509svid_free(&v);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(validate_own_jwt)
{
	spiffe_agent_ca ca, other;
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/workload");
	spiffe_agent_str aud[2] = { { "spiffe://example.org/server", 27 },
				    { "extra", 5 } };
	char dir[64], dir2[64], *tok, *tok2;
	size_t len, len2;

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(tmpdir(dir2), 0);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_ca_init(&other);
	spiffe_jwtsvid_init(&s);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(open_ca(&other, dir2, "example.org", &eb), 0);
	CHECK(spiffe_agent_ca_bundles(&ca) != NULL);
	CHECK_INT(spiffe_agent_ca_issue_jwt(&ca, &id, aud, 2, 0, &tok, &len,
					    &eb), 0);
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, aud[0].p,
					       aud[0].len, &s, &eb), 0);
	CHECK_STR(s.id.str, "spiffe://example.org/workload");
	CHECK_INT(s.naud, 2);
	CHECK_INT(s.exp, T0 + 300);
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, "extra", 5, &s,
					       &eb), 0);
	/* Not for this audience. */
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, "other", 5, &s,
					       &eb), SPIFFE_ERR_AUDIENCE);
	/* Expired (past exp and the 60 s leeway). */
	spiffe_clock_set(T0 + 300 + 61);
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, aud[0].p,
					       aud[0].len, &s, &eb),
		  SPIFFE_ERR_EXPIRED);
	spiffe_clock_set(T0);
	/* Another CA's token for the same trust domain: unknown key. */
	CHECK_INT(spiffe_agent_ca_issue_jwt(&other, &id, aud, 1, 0, &tok2,
					    &len2, &eb), 0);
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok2, len2, aud[0].p,
					       aud[0].len, &s, &eb),
		  SPIFFE_ERR_NOT_FOUND);
	/* The same token with another CA's signature. */
	{
		size_t hs = (size_t)(strrchr(tok, '.') - tok);
		size_t ss = (size_t)(strrchr(tok2, '.') - tok2);
		char forged[1024];

		CHECK(hs + len2 - ss < sizeof(forged));
		memcpy(forged, tok, hs);
		memcpy(forged + hs, tok2 + ss, len2 - ss);
		CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, forged,
						       hs + len2 - ss,
						       aud[0].p, aud[0].len,
						       &s, &eb),
			  SPIFFE_ERR_SIGNATURE);
	}
	/* Caller errors, as SPIRE words them. */
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, "", 0, &s,
					       &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "audience must be specified");
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, "", 0, "a", 1, &s, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "svid must be specified");
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, tok, len, "a\0b", 3, &s,
					       &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_agent_ca_validate_jwt(&ca, "x.y.z", 5, "a", 1, &s,
					       &eb), SPIFFE_ERR_JWT);
	free(tok);
	free(tok2);
	spiffe_jwtsvid_free(&s);
	spiffe_agent_ca_free(&ca);
	spiffe_agent_ca_free(&other);
	spiffe_clock_set(-1);
	rmtree(dir);
	rmtree(dir2);
}

/* Writes text to dir/name with mode. */
static int put_file(const char *dir, const char *name, const char *text,
		    size_t len, int mode)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd) == 0 && chmod(p, (mode_t)mode) == 0 ? 0 : -1;
}

static int copy_in(const char *dir, const char *from, const char *to)
{
	char p[128], buf[8192];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, from);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 ? put_file(dir, to, buf, (size_t)n, 0600) : -1;
}

/* Replaces dir/ca_cert.pem with a root of the same key, trust domain and
 * extensions as ours, but the given subject. */
static int write_root_with_subject(const char *dir, const char *subject)
{
	static const char uri[] = "spiffe://example.org";
	mbedtls_x509write_cert w;
	mbedtls_x509_san_list san;
	mbedtls_pk_context key;
	unsigned char der[4096], pem[4096], serial[1] = { 7 };
	char p[128];
	size_t olen;
	int n, rc = -1;
	FILE *f;

	snprintf(p, sizeof(p), "%s/ca_key.pem", dir);
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	memset(&san, 0, sizeof(san));
	san.node.type = MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER;
	san.node.san.unstructured_name.p = (unsigned char *)uri;
	san.node.san.unstructured_name.len = sizeof(uri) - 1;
	if (mbedtls_pk_parse_keyfile(&key, p, NULL, spiffe_rng, NULL) != 0)
		goto out;
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	if (mbedtls_x509write_crt_set_subject_name(&w, subject) ||
	    mbedtls_x509write_crt_set_issuer_name(&w, subject) ||
	    mbedtls_x509write_crt_set_serial_raw(&w, serial, 1) ||
	    mbedtls_x509write_crt_set_validity(&w, "20200101000000",
					       "20491231235959") ||
	    mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0) ||
	    mbedtls_x509write_crt_set_key_usage(&w,
			MBEDTLS_X509_KU_KEY_CERT_SIGN) ||
	    mbedtls_x509write_crt_set_subject_alternative_name(&w, &san))
		goto out;
	n = mbedtls_x509write_crt_der(&w, der, sizeof(der), spiffe_rng, NULL);
	if (n <= 0 || mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
					       "-----END CERTIFICATE-----\n",
					       der + sizeof(der) - n,
					       (size_t)n, pem, sizeof(pem),
					       &olen) != 0)
		goto out;
	snprintf(p, sizeof(p), "%s/ca_cert.pem", dir);
	f = fopen(p, "w");
	if (f == NULL)
		goto out;
	rc = fwrite(pem, 1, olen - 1, f) == olen - 1 ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
out:
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	return rc;
}

TEST(reload_failures_are_clear)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	char dir[64], p[128], first[1024];
	size_t flen;
	const uint8_t *r;

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	r = spiffe_agent_ca_x509_bundle(&ca, &flen);
	CHECK(flen < sizeof(first));
	memcpy(first, r, flen);
	spiffe_agent_ca_free(&ca);

	/* Another trust domain: refused, never silently replaced. */
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "other.org", &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "ca_cert.pem: its only URI SAN must be "
		  "spiffe://other.org (was the trust domain changed?)");
	CHECK_INT(ca.open, 0);
	/* A key readable by others. */
	snprintf(p, sizeof(p), "%s/ca_key.pem", dir);
	CHECK_INT(chmod(p, 0640), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_IO);
	CHECK(strstr(eb.msg, "ca_key.pem must be a regular file of uid") ==
	      eb.msg);
	CHECK(strstr(eb.msg, "mode 0640") != NULL);
	CHECK_INT(chmod(p, 0600), 0);
	/* A symbolic link is not followed. */
	snprintf(p, sizeof(p), "%s/jwt_kid", dir);
	CHECK_INT(rename(p, "/tmp/agent-ca-kid-moved"), 0);
	CHECK_INT(symlink("/tmp/agent-ca-kid-moved", p), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "cannot open jwt_kid: Too many levels of symbolic "
		  "links");
	CHECK_INT(unlink(p), 0);
	CHECK_INT(rename("/tmp/agent-ca-kid-moved", p), 0);
	/* The wrong key for the certificate. */
	CHECK_INT(copy_in(dir, "ca_key.pem", "saved_key"), 0);
	CHECK_INT(copy_in(dir, "jwt_key.pem", "ca_key.pem"), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "ca_key.pem does not match ca_cert.pem");
	/* A corrupt key. */
	CHECK_INT(put_file(dir, "ca_key.pem", "garbage\n", 8, 0600), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_CRYPTO);
	CHECK(strncmp(eb.msg, "ca_key.pem: not a PEM private key", 33) == 0);
	CHECK_INT(copy_in(dir, "saved_key", "ca_key.pem"), 0);
	/* A bad kid. */
	CHECK_INT(copy_in(dir, "jwt_kid", "saved_kid"), 0);
	CHECK_INT(put_file(dir, "jwt_kid", "abc/def\n", 8, 0600), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "jwt_kid: not 22 base64url characters");
	CHECK_INT(copy_in(dir, "saved_kid", "jwt_kid"), 0);
	/* A missing piece with the certificate present. */
	snprintf(p, sizeof(p), "%s/jwt_key.pem", dir);
	CHECK_INT(rename(p, "/tmp/agent-ca-jwt-moved"), 0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb),
		  SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "jwt_key.pem does not exist");
	CHECK_INT(rename("/tmp/agent-ca-jwt-moved", p), 0);
	/* Restored: the same root as at first. */
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(ca.created, 0);
	r = spiffe_agent_ca_x509_bundle(&ca, &flen);
	CHECK_MEM(r, first, flen);
	spiffe_agent_ca_free(&ca);
	/* Same key and trust domain, another subject: leaves would name
	 * an issuer that is not there. */
	CHECK_INT(copy_in(dir, "ca_cert.pem", "saved_cert"), 0);
	CHECK_INT(write_root_with_subject(dir, "O=Other,CN=x"), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "ca_cert.pem: its subject is not \"O=SPIFFE,"
		  "CN=spiffe-agent CA\"");
	/* The same subject written by the same code: accepted. */
	CHECK_INT(write_root_with_subject(dir, "O=SPIFFE,CN=spiffe-agent CA"),
		  0);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	spiffe_agent_ca_free(&ca);
	CHECK_INT(copy_in(dir, "saved_cert", "ca_cert.pem"), 0);
	/* No certificate: a half-made CA is made again. */
	snprintf(p, sizeof(p), "%s/ca_cert.pem", dir);
	CHECK_INT(unlink(p), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	CHECK_INT(ca.created, 1);
	r = spiffe_agent_ca_x509_bundle(&ca, &flen);
	CHECK(memcmp(r, first, 32) != 0);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

TEST(expired_root_refused)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	char dir[64], want[200];

	spiffe_clock_set(T0);
	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(T0 + SPIFFE_AGENT_CA_VALIDITY);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), SPIFFE_ERR_EXPIRED);
	snprintf(want, sizeof(want), "ca_cert.pem: the CA expired at %lld; "
		 "move the data folder away to create a new CA",
		 (long long)(T0 + SPIFFE_AGENT_CA_VALIDITY));
	CHECK_STR(eb.msg, want);
	spiffe_agent_ca_free(&ca);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(rng_differs_after_fork)
{
	unsigned char a[32], b[32];
	int p[2], st;
	pid_t pid;

	CHECK_INT(spiffe_rng(NULL, a, sizeof(a)), 0);
	CHECK_INT(pipe(p), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (spiffe_rng(NULL, b, sizeof(b)) != 0 ||
		    write(p[1], b, sizeof(b)) != (ssize_t)sizeof(b))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	CHECK_INT(spiffe_rng(NULL, a, sizeof(a)), 0);
	CHECK_INT(read(p[0], b, sizeof(b)), sizeof(b));
	close(p[0]);
	CHECK_INT(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The child reseeded: it does not repeat the parent. */
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

#define THREADS 4
#define PER_THREAD 10

struct worker {
	spiffe_agent_ca *ca;
	int bad;
};

static void *issue_many(void *arg)
{
	struct worker *wk = arg;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/thread");
	spiffe_agent_str aud = { "a", 1 };
	mbedtls_x509_crt leaf;
	uint32_t flags;
	char *tok;
	size_t len;

	spiffe_agent_x509svid_init(&s);
	for (int i = 0; i < PER_THREAD && !wk->bad; i++) {
		mbedtls_x509_crt_init(&leaf);
		flags = 0;
		if (spiffe_agent_ca_issue_x509(wk->ca, &id, 0, &s, &eb) != 0 ||
		    mbedtls_x509_crt_parse_der(&leaf, s.cert, s.cert_len) ||
		    mbedtls_x509_crt_verify(&leaf, &wk->ca->cert, NULL, NULL,
					    &flags, NULL, NULL) != 0)
			wk->bad = 1;
		mbedtls_x509_crt_free(&leaf);
		if (spiffe_agent_ca_issue_jwt(wk->ca, &id, &aud, 1, 0, &tok,
					      &len, &eb) != 0)
			wk->bad = 1;
		else
			free(tok);
	}
	spiffe_agent_x509svid_free(&s);
	return NULL;
}

TEST(issue_from_threads)
{
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	struct worker wk[THREADS];
	pthread_t t[THREADS];
	char dir[64];

	CHECK_INT(tmpdir(dir), 0);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, dir, "example.org", &eb), 0);
	for (int i = 0; i < THREADS; i++) {
		wk[i].ca = &ca;
		wk[i].bad = 0;
		CHECK_INT(pthread_create(&t[i], NULL, issue_many, &wk[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		CHECK_INT(pthread_join(t[i], NULL), 0);
		CHECK_INT(wk[i].bad, 0);
	}
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

#define STARTERS 4

TEST(concurrent_first_starts_make_one_ca)
{
	unsigned char h[STARTERS][32], mine[32];
	spiffe_agent_ca ca;
	spiffe_errbuf eb;
	char dir[64], sub[80];
	const uint8_t *r;
	size_t len;
	pid_t pids[STARTERS];
	int p[2], st;

	CHECK_INT(tmpdir(dir), 0);
	snprintf(sub, sizeof(sub), "%s/data", dir);
	CHECK_INT(pipe(p), 0);
	for (int i = 0; i < STARTERS; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			unsigned char d[32];

			spiffe_agent_ca_init(&ca);
			if (open_ca(&ca, sub, "example.org", &eb) != 0)
				_exit(1);
			r = spiffe_agent_ca_x509_bundle(&ca, &len);
			if (mbedtls_sha256(r, len, d, 0) != 0 ||
			    write(p[1], d, 32) != 32)
				_exit(2);
			_exit(0);
		}
	}
	close(p[1]);
	for (int i = 0; i < STARTERS; i++) {
		CHECK_INT(waitpid(pids[i], &st, 0), pids[i]);
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), 0);
		CHECK_INT(read(p[0], h[i], 32), 32);
	}
	close(p[0]);
	spiffe_agent_ca_init(&ca);
	CHECK_INT(open_ca(&ca, sub, "example.org", &eb), 0);
	CHECK_INT(ca.created, 0);
	r = spiffe_agent_ca_x509_bundle(&ca, &len);
	CHECK_INT(mbedtls_sha256(r, len, mine, 0), 0);
	for (int i = 0; i < STARTERS; i++)
		CHECK_MEM(h[i], mine, 32);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
}

/* ---- helper modes ------------------------------------------------------ */

static int write_out(const char *dir, const char *name, const void *p,
		     size_t len)
{
	char path[512];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Writes svid.der, svid.key.der, bundle.der, jwt, jwks.json to dir. */
static int tool_write(const char *dir)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/workload");
	spiffe_agent_str aud = { "spiffe://example.org/server", 27 };
	char data[600], *tok;
	const uint8_t *b;
	const char *j;
	size_t len;
	int rc;

	snprintf(data, sizeof(data), "%s/data", dir);
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&s);
	rc = open_ca(&ca, data, "example.org", &eb);
	if (rc == 0)
		rc = spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb);
	if (rc == 0)
		rc = spiffe_agent_ca_issue_jwt(&ca, &id, &aud, 1, 0, &tok,
					       &len, &eb);
	if (rc != 0) {
		fprintf(stderr, "error: %s\n", eb.msg);
		return 1;
	}
	b = spiffe_agent_ca_x509_bundle(&ca, &len);
	rc |= write_out(dir, "bundle.der", b, len);
	j = spiffe_agent_ca_jwks(&ca, &len);
	rc |= write_out(dir, "jwks.json", j, len);
	rc |= write_out(dir, "svid.der", s.cert, s.cert_len);
	rc |= write_out(dir, "svid.key.der", s.key, s.key_len);
	rc |= write_out(dir, "jwt", tok, strlen(tok));
	free(tok);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_ca_free(&ca);
	return rc == 0 ? 0 : 1;
}

/* CPU seconds of this process: rates per core, whatever else runs. */
static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Issues n X.509-SVIDs and n JWT-SVIDs; prints the rates (CPU time). */
static int tool_bench(long n)
{
	spiffe_agent_ca ca;
	spiffe_agent_x509svid s;
	spiffe_errbuf eb;
	spiffe_id id = make_id("spiffe://example.org/workload");
	spiffe_agent_str aud = { "spiffe://example.org/server", 27 };
	char dir[64], *tok;
	size_t len;
	double t;

	if (tmpdir(dir) != 0)
		return 1;
	spiffe_agent_ca_init(&ca);
	spiffe_agent_x509svid_init(&s);
	t = secs();
	if (open_ca(&ca, dir, "example.org", &eb) != 0)
		return 1;
	printf("CA create: %.2f ms CPU\n", (secs() - t) * 1e3);
	spiffe_agent_ca_free(&ca);
	spiffe_agent_ca_init(&ca);
	t = secs();
	if (open_ca(&ca, dir, "example.org", &eb) != 0)
		return 1;
	printf("CA load: %.2f ms CPU\n", (secs() - t) * 1e3);
	t = secs();
	for (long i = 0; i < n; i++) {
		if (spiffe_agent_ca_issue_x509(&ca, &id, 0, &s, &eb) != 0)
			return 1;
	}
	t = secs() - t;
	printf("X.509-SVID: %ld in %.3f CPU s = %.0f/s per core\n", n, t,
	       (double)n / t);
	t = secs();
	for (long i = 0; i < n; i++) {
		if (spiffe_agent_ca_issue_jwt(&ca, &id, &aud, 1, 0, &tok,
					      &len, &eb) != 0)
			return 1;
		free(tok);
	}
	t = secs() - t;
	printf("JWT-SVID: %ld in %.3f CPU s = %.0f/s per core\n", n, t,
	       (double)n / t);
	spiffe_agent_x509svid_free(&s);
	spiffe_agent_ca_free(&ca);
	rmtree(dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write") == 0)
		return tool_write(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--bench") == 0)
		return tool_bench(strtol(argv[2], NULL, 10));
	RUN(create_then_reload_same_bundle);
	RUN(existing_folder_gets_0700);
	RUN(root_extensions);
	RUN(svid_extensions_exactly);
	RUN(svid_serials_and_keys_differ);
	RUN(svid_validity_clipped_to_root);
	RUN(issue_rejects);
	RUN(jwt_exact_bytes);
	RUN(jwks_exact);
	RUN(jwt_rejects);
	RUN(validate_own_jwt);
	RUN(svid_passes_the_library_validator);
	RUN(reload_failures_are_clear);
	RUN(expired_root_refused);
	RUN(rng_differs_after_fork);
	RUN(concurrent_first_starts_make_one_ca);
	RUN(issue_from_threads);
	return test_summary();
}
