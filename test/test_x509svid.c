/*
 * test_x509svid.c - X.509-SVID parsing and verification against the
 * vectors of test/data/gen_x509_vectors.py (python3-cryptography).
 */
#include "test.h"

#include <stdlib.h>

#include <mbedtls/asn1.h>
#include <mbedtls/x509.h>

#include "bundle.h"
#include "clock.h"
#include "err.h"
#include "x509svid.h"

#define DATA "test/data/x509svid/"

/* 2026-06-01T00:00:00Z: inside every window but the negative ones. */
#define NOW 1780272000
#define T2026 1767225600        /* 2026-01-01T00:00:00Z */
#define T2027 1798761600        /* 2027-01-01T00:00:00Z */
#define T2036 2082758400        /* 2036-01-01T00:00:00Z */

#define V "x509svid: could not verify leaf certificate: "
#define C "x509svid: certificate validation failed: "
#define K "x509svid: private key validation failed: "

/* ---- fixtures ----------------------------------------------------------- */

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
static uint8_t *slurp(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	uint8_t *buf;
	long n;

	snprintf(path, sizeof(path), DATA "%s", name);
	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* Parses base.pem with base-key.pem (or the key file given). */
static int parse_pem_files(spiffe_x509svid *s, const char *crt,
			   const char *key, spiffe_errbuf *eb)
{
	size_t cl = 0, kl = 0;
	uint8_t *cb = slurp(crt, &cl), *kb = slurp(key, &kl);
	int rc = -1000;

	if (cb != NULL && kb != NULL)
		rc = spiffe_x509svid_parse_pem(s, (char *)cb, cl, (char *)kb,
					       kl, eb);
	free(cb);
	free(kb);
	return rc;
}

static int parse_base(spiffe_x509svid *s, const char *base,
		      spiffe_errbuf *eb)
{
	char crt[128], key[128];

	snprintf(crt, sizeof(crt), "%s.pem", base);
	snprintf(key, sizeof(key), "%s-key.pem", base);
	return parse_pem_files(s, crt, key, eb);
}

static int parse_der_files(spiffe_x509svid *s, const char *crt,
			   const char *key, spiffe_errbuf *eb)
{
	size_t cl = 0, kl = 0;
	uint8_t *cb = slurp(crt, &cl), *kb = slurp(key, &kl);
	int rc = -1000;

	if (cb != NULL && kb != NULL)
		rc = spiffe_x509svid_parse_der(s, cb, cl, kb, kl, eb);
	free(cb);
	free(kb);
	return rc;
}

/* Appends the certificates of a PEM file to list, as a peer chain. */
static int load_chain(mbedtls_x509_crt *list, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), DATA "%s", name);
	return mbedtls_x509_crt_parse_file(list, path);
}

/* A set with one bundle of trust domain td from PEM file pem (NULL: an
 * empty bundle), or NULL. */
static spiffe_bundle_set *set_of(const char *td, const char *pem)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_bundle b;
	spiffe_td t;
	size_t len = 0;
	uint8_t *buf = NULL;
	int rc = 0;

	if (s == NULL || spiffe_td_parse(&t, td, strlen(td), NULL) != 0)
		return NULL;
	spiffe_bundle_init(&b, &t);
	if (pem != NULL) {
		buf = slurp(pem, &len);
		rc = buf == NULL ? -1 :
		     spiffe_bundle_set_x509_pem(&b, (char *)buf, len, NULL);
	}
	if (rc == 0)
		rc = spiffe_bundle_set_put(s, &b, NULL);
	spiffe_bundle_free(&b);
	free(buf);
	if (rc != 0) {
		spiffe_bundle_set_unref(s);
		return NULL;
	}
	return s;
}

/* Adds a bundle to set s from a DER file. */
static int add_der_bundle(spiffe_bundle_set *s, const char *td,
			  const char *der)
{
	spiffe_bundle b;
	spiffe_td t;
	size_t len = 0;
	uint8_t *buf = slurp(der, &len);
	int rc = -1;

	if (buf != NULL && spiffe_td_parse(&t, td, strlen(td), NULL) == 0) {
		spiffe_bundle_init(&b, &t);
		rc = spiffe_bundle_set_x509_der(&b, buf, len, NULL);
		if (rc == 0)
			rc = spiffe_bundle_set_put(s, &b, NULL);
		spiffe_bundle_free(&b);
	}
	free(buf);
	return rc;
}

/* Verifies the chain in a PEM file against set; eb gets the message. */
static int verify_file(const char *name, const spiffe_bundle_set *set,
		       spiffe_id *id, spiffe_errbuf *eb)
{
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	int rc;

	mbedtls_x509_crt_init(&chain);
	if (load_chain(&chain, name) != 0) {
		mbedtls_x509_crt_free(&chain);
		return -1000;
	}
	rc = spiffe_x509svid_verify(&chain, set, id, &vc, eb);
	if (rc != 0 && (id->len != 0 || vc.depth != 0 || vc.anchor != NULL))
		rc = -1001;     /* outputs must be zeroed on failure */
	mbedtls_x509_crt_free(&chain);
	return rc;
}

static spiffe_bundle_set *example;      /* example.org: root-ca.pem */

/* ---- parse: good -------------------------------------------------------- */

TEST(parse_pem_good_leaf)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(parse_base(&s, "good-leaf", &eb), 0);
	CHECK_STR(s.id.str, "spiffe://example.org/workload");
	CHECK_INT(s.nchain, 1);
	CHECK(s.chain.next == NULL);
	CHECK_INT(mbedtls_pk_get_type(&s.key), MBEDTLS_PK_ECKEY);
	CHECK_INT(s.hint_len, 0);
	spiffe_x509svid_free(&s);
	spiffe_x509svid_free(&s);
	CHECK_INT(s.nchain, 0);
}

TEST(parse_pem_key_forms_and_types)
{
	static const char *const ok[][2] = {
		{ "good-leaf.pem", "good-leaf-key-sec1.pem" },
		{ "good-leaf-p384.pem", "good-leaf-p384-key.pem" },
		{ "good-leaf-p521.pem", "good-leaf-p521-key.pem" },
		{ "good-leaf-rsa.pem", "good-leaf-rsa-key.pem" },
		{ "good-leaf-rsa.pem", "good-leaf-rsa-key-pkcs1.pem" },
		{ "good-leaf-dns-san.pem", "good-leaf-dns-san-key.pem" },
		{ "leaf-rsa-pss.pem", "leaf-rsa-pss-key.pem" },
	};
	spiffe_x509svid s;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		spiffe_x509svid_init(&s);
		eb.msg[0] = '\0';
		if (parse_pem_files(&s, ok[i][0], ok[i][1], &eb) != 0) {
			FAILF("%s + %s: %s", ok[i][0], ok[i][1], eb.msg);
			spiffe_x509svid_free(&s);
			return;
		}
		CHECK_STR(s.id.str, "spiffe://example.org/workload");
		spiffe_x509svid_free(&s);
	}
}

TEST(parse_pem_chain_via_intermediate)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(parse_base(&s, "good-chain", &eb), 0);
	CHECK_INT(s.nchain, 2);
	CHECK(s.chain.next != NULL && s.chain.next->next == NULL);
	CHECK_STR(s.id.str, "spiffe://example.org/workload");
	spiffe_x509svid_free(&s);
}

/* The Workload API form: concatenated DER chain and PKCS#8 DER key. */
TEST(parse_der_workload_api_form)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(parse_der_files(&s, "good-chain.der", "good-chain-key.der",
				  &eb), 0);
	CHECK_INT(s.nchain, 2);
	CHECK_STR(s.id.str, "spiffe://example.org/workload");
	CHECK_INT(parse_der_files(&s, "good-leaf.der", "good-leaf-key.der",
				  &eb), 0);
	CHECK_INT(s.nchain, 1);
	spiffe_x509svid_free(&s);
}

/* Go's Parse checks neither signatures nor times nor the trust domain. */
TEST(parse_accepts_what_only_verify_rejects)
{
	static const char *const ok[] = {
		"expired-leaf", "not-yet-valid-leaf", "unknown-root",
		"impostor-root", "other-td", "leaf-sha1", "self-signed-leaf",
		"name-constraints-noncritical-leaf",
		"intermediate-pathlen-exceeded", "expired-intermediate",
	};
	spiffe_x509svid s;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		spiffe_x509svid_init(&s);
		if (parse_base(&s, ok[i], &eb) != 0) {
			FAILF("%s: %s", ok[i], eb.msg);
			spiffe_x509svid_free(&s);
			return;
		}
		spiffe_x509svid_free(&s);
	}
	spiffe_x509svid_init(&s);
	CHECK_INT(parse_pem_files(&s, "bad-signature.pem", "good-leaf-key.pem",
				  &eb), 0);
	spiffe_x509svid_free(&s);
}

/* ---- parse: every rule, exact outcome ----------------------------------- */

struct parse_case {
	const char *base;
	int rc;
	const char *msg;
};

static const struct parse_case parse_cases[] = {
	{ "leaf-ca-true", SPIFFE_ERR_X509,
	  C "leaf certificate must not have CA flag set to true" },
	{ "leaf-keycertsign", SPIFFE_ERR_X509,
	  C "leaf certificate must not have 'keyCertSign' set as key usage" },
	{ "leaf-crlsign", SPIFFE_ERR_X509,
	  C "leaf certificate must not have 'cRLSign' set as key usage" },
	{ "leaf-no-digitalsignature", SPIFFE_ERR_X509,
	  C "leaf certificate must have 'digitalSignature' set as key "
	  "usage" },
	{ "leaf-no-keyusage", SPIFFE_ERR_X509,
	  C "leaf certificate must have 'digitalSignature' set as key "
	  "usage (no key usage extension)" },
	{ "two-uri-sans", SPIFFE_ERR_X509,
	  C "cannot get leaf certificate SPIFFE ID: certificate contains "
	  "more than one URI SAN" },
	{ "no-uri-san", SPIFFE_ERR_X509,
	  C "cannot get leaf certificate SPIFFE ID: certificate contains no "
	  "URI SAN" },
	{ "root-path-id", SPIFFE_ERR_X509,
	  C "leaf certificate SPIFFE ID must have a non-root path" },
	{ "uri-not-spiffe", SPIFFE_ERR_X509,
	  C "cannot get leaf certificate SPIFFE ID: scheme is missing or "
	  "invalid: expected \"spiffe://\" in "
	  "\"https://example.org/workload\"" },
	{ "intermediate-not-ca", SPIFFE_ERR_X509,
	  C "signing certificate must have CA flag set to true "
	  "(certificate 1)" },
	{ "intermediate-no-keycertsign", SPIFFE_ERR_X509,
	  C "signing certificate must have 'keyCertSign' set as key usage "
	  "(certificate 1)" },
	{ "intermediate-no-keyusage", SPIFFE_ERR_X509,
	  C "signing certificate must have 'keyCertSign' set as key usage "
	  "(certificate 1)" },
	{ "key-mismatch", SPIFFE_ERR_X509,
	  K "leaf certificate does not match private key" },
	{ "leaf-rsa-1024", SPIFFE_ERR_UNSUPPORTED,
	  K "unsupported private key type RSA-1024, less than 2048 bits" },
	{ "leaf-unknown-critical-ext", SPIFFE_ERR_X509,
	  "x509svid: cannot parse PEM encoded certificate 0: X509 - The "
	  "extension tag or value is invalid : ASN1 - ASN1 tag was of an "
	  "unexpected value (-0x2562)" },
	{ "name-constraints-leaf", 0, "" },
};

TEST(parse_rules_exact)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++) {
		const struct parse_case *pc = &parse_cases[i];
		int rc;

		spiffe_x509svid_init(&s);
		eb.msg[0] = '\0';
		rc = parse_base(&s, pc->base, &eb);
		if (rc != pc->rc || (rc != 0 && strcmp(eb.msg, pc->msg))) {
			FAILF("%s: rc %d \"%s\", expected %d \"%s\"",
			      pc->base, rc, eb.msg, pc->rc, pc->msg);
			spiffe_x509svid_free(&s);
			return;
		}
		if (rc != 0)
			CHECK_INT(s.nchain, 0);
		spiffe_x509svid_free(&s);
	}
}

TEST(parse_key_of_another_type)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(parse_pem_files(&s, "good-leaf.pem", "good-leaf-rsa-key.pem",
				  &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, K "leaf certificate does not match private key");
	CHECK_INT(parse_der_files(&s, "good-leaf.der", "x25519-key.der", &eb),
		  SPIFFE_ERR_UNSUPPORTED);
	CHECK_STR(eb.msg, K "unsupported private key type EC x25519");
	CHECK_INT(parse_der_files(&s, "good-leaf.der", "ed25519-key.der", &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse DER encoded private key: "
		  "PK - Invalid key tag or value (-0x3d00)");
	spiffe_x509svid_free(&s);
}

/* The Workload API key is PKCS#8; SEC1 DER is refused there. */
TEST(parse_der_key_must_be_pkcs8)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	size_t kl = 0, cl = 0;
	uint8_t *k = slurp("good-leaf-key.der", &kl);
	uint8_t *c = slurp("good-leaf.der", &cl);
	uint8_t *k2;

	spiffe_x509svid_init(&s);
	CHECK(k != NULL && c != NULL);
	CHECK_INT(parse_der_files(&s, "good-leaf.der",
				  "good-leaf-key-sec1.der", &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse DER encoded private key: "
		  "not an unencrypted PKCS#8 PrivateKeyInfo");
	/* One byte of trailing garbage. */
	k2 = malloc(kl + 1);
	CHECK(k2 != NULL);
	memcpy(k2, k, kl);
	k2[kl] = 0;
	CHECK_INT(spiffe_x509svid_parse_der(&s, c, cl, k2, kl + 1, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse DER encoded private key: "
		  "not an unencrypted PKCS#8 PrivateKeyInfo");
	/* Empty key. */
	CHECK_INT(spiffe_x509svid_parse_der(&s, c, cl, NULL, 0, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse DER encoded private key: "
		  "not an unencrypted PKCS#8 PrivateKeyInfo");
	/* A PEM key where DER is expected. */
	free(k2);
	k2 = slurp("good-leaf-key.pem", &kl);
	CHECK(k2 != NULL);
	CHECK_INT(spiffe_x509svid_parse_der(&s, c, cl, k2, kl, &eb),
		  SPIFFE_ERR_X509);
	free(k2);
	free(k);
	free(c);
	CHECK_INT(s.nchain, 0);
	spiffe_x509svid_free(&s);
}

TEST(parse_der_chain_errors)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	size_t cl = 0, kl = 0, rl = 0;
	uint8_t *c = slurp("good-leaf.der", &cl);
	uint8_t *k = slurp("good-leaf-key.der", &kl);
	uint8_t *r = slurp("root-ca.der", &rl);
	uint8_t *big;

	spiffe_x509svid_init(&s);
	CHECK(c != NULL && k != NULL && r != NULL);
	CHECK_INT(spiffe_x509svid_parse_der(&s, NULL, 0, k, kl, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, C "no certificates found");

	/* Leaf, then one stray byte. */
	big = malloc(cl + 17 * rl);
	CHECK(big != NULL);
	memcpy(big, c, cl);
	big[cl] = 0x30;
	CHECK_INT(spiffe_x509svid_parse_der(&s, big, cl + 1, k, kl, &eb),
		  SPIFFE_ERR_X509);
	{
		char want[160];

		snprintf(want, sizeof(want), "x509svid: cannot parse DER "
			 "encoded certificate 1: not a DER SEQUENCE within "
			 "the input (at byte %zu)", cl);
		CHECK_STR(eb.msg, want);
	}
	/* A SEQUENCE that is not a certificate. */
	{
		static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

		CHECK_INT(spiffe_x509svid_parse_der(&s, junk, sizeof(junk), k,
						    kl, &eb),
			  SPIFFE_ERR_X509);
		CHECK(strncmp(eb.msg, "x509svid: cannot parse DER encoded "
			      "certificate 0: X509 - ", 53) == 0);
	}
	/* Leaf and 16 signing certificates: one over the limit. */
	for (int i = 0; i < 16; i++)
		memcpy(big + cl + (size_t)i * rl, r, rl);
	CHECK_INT(spiffe_x509svid_parse_der(&s, big, cl + 16 * rl, k, kl, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "x509svid: certificate chain has more than 16 "
		  "certificates");
	/* 16 in all is fine (the root is a CA with keyCertSign). */
	CHECK_INT(spiffe_x509svid_parse_der(&s, big, cl + 15 * rl, k, kl, &eb),
		  0);
	CHECK_INT(s.nchain, 16);
	free(big);

	/* One certificate over SPIFFE_X509_MAX_DER. */
	{
		size_t n = SPIFFE_X509_MAX_DER + 1;

		big = calloc(1, n + 4);
		CHECK(big != NULL);
		big[0] = 0x30;
		big[1] = 0x83;
		big[2] = (uint8_t)(n >> 16);
		big[3] = (uint8_t)(n >> 8);
		big[4] = (uint8_t)n;
		CHECK_INT(spiffe_x509svid_parse_der(&s, big, n + 4, k, kl,
						    &eb),
			  SPIFFE_ERR_X509);
		/* The header claims n + 5 bytes; only n + 4 are there. */
		CHECK(strstr(eb.msg, "not a DER SEQUENCE") != NULL);
		free(big);
		big = calloc(1, n + 5);
		CHECK(big != NULL);
		big[0] = 0x30;
		big[1] = 0x83;
		big[2] = (uint8_t)(n >> 16);
		big[3] = (uint8_t)(n >> 8);
		big[4] = (uint8_t)n;
		CHECK_INT(spiffe_x509svid_parse_der(&s, big, n + 5, k, kl,
						    &eb),
			  SPIFFE_ERR_LIMIT);
		CHECK_STR(eb.msg, "x509svid: certificate 0 is 65542 bytes, "
			  "over the limit of 65536");
		free(big);
	}
	/* A key over SPIFFE_X509_MAX_KEY. */
	big = calloc(1, SPIFFE_X509_MAX_KEY + 1);
	CHECK(big != NULL);
	CHECK_INT(spiffe_x509svid_parse_der(&s, c, cl, big,
					    SPIFFE_X509_MAX_KEY + 1, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "x509svid: private key is 16385 bytes, over the "
		  "limit of 16384");
	free(big);
	/* The 16-certificate SVID from above is still there. */
	CHECK_INT(s.nchain, 16);
	free(c);
	free(k);
	free(r);
	spiffe_x509svid_free(&s);
}

TEST(parse_pem_errors)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	size_t cl = 0, kl = 0;
	uint8_t *c = slurp("good-leaf.pem", &cl);
	uint8_t *k = slurp("good-leaf-key.pem", &kl);
	char *both, *big;

	spiffe_x509svid_init(&s);
	CHECK(c != NULL && k != NULL);
	CHECK_INT(spiffe_x509svid_parse_pem(&s, "", 0, (char *)k, kl, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse PEM encoded certificate: "
		  "no PEM blocks found");
	CHECK_INT(spiffe_x509svid_parse_pem(&s, "not pem", 7, (char *)k, kl,
					    &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse PEM encoded certificate: "
		  "no PEM blocks found");
	CHECK_INT(spiffe_x509svid_parse_pem(&s, (char *)c, cl, "", 0, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse PEM encoded private key: "
		  "no PEM blocks found");
	/* A key block in the certificate text is not skipped. */
	both = malloc(cl + kl);
	CHECK(both != NULL);
	memcpy(both, c, cl);
	memcpy(both + cl, k, kl);
	CHECK_INT(spiffe_x509svid_parse_pem(&s, both, cl + kl, (char *)k, kl,
					    &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse PEM encoded certificate: "
		  "PEM block 1 is not a CERTIFICATE");
	/* A certificate where the key should be. */
	CHECK_INT(spiffe_x509svid_parse_pem(&s, (char *)c, cl, (char *)c, cl,
					    &eb), SPIFFE_ERR_X509);
	CHECK(strncmp(eb.msg, "x509svid: cannot parse PEM encoded private "
		      "key: ", 45) == 0);
	/* Damaged base64. */
	memcpy(both, c, cl);
	both[40] = '!';
	CHECK_INT(spiffe_x509svid_parse_pem(&s, both, cl, (char *)k, kl, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: cannot parse PEM encoded certificate: "
		  "PEM block 0: PEM - PEM string is not as expected : BASE64 "
		  "- Invalid character in input (-0x112c)");
	/* Truncated block. */
	CHECK_INT(spiffe_x509svid_parse_pem(&s, (char *)c, cl - 30, (char *)k,
					    kl, &eb), SPIFFE_ERR_X509);
	CHECK(strncmp(eb.msg, "x509svid: cannot parse PEM encoded "
		      "certificate: PEM block 0: ", 52) == 0);
	free(both);
	/* Over the PEM limit. */
	big = malloc(SPIFFE_X509_MAX_PEM + 1);
	CHECK(big != NULL);
	memset(big, ' ', SPIFFE_X509_MAX_PEM + 1);
	CHECK_INT(spiffe_x509svid_parse_pem(&s, big, SPIFFE_X509_MAX_PEM + 1,
					    (char *)k, kl, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "x509svid: PEM text of 2097153 bytes exceeds the "
		  "limit of 2097152");
	free(big);
	free(c);
	free(k);
	CHECK_INT(s.nchain, 0);
	spiffe_x509svid_free(&s);
}

TEST(parse_failure_leaves_svid_unchanged)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(spiffe_x509svid_set_hint(&s, "internal", 8, &eb), 0);
	CHECK_INT(parse_base(&s, "good-chain", &eb), 0);
	CHECK_INT(parse_base(&s, "leaf-ca-true", &eb), SPIFFE_ERR_X509);
	CHECK_INT(s.nchain, 2);
	CHECK_STR(s.id.str, "spiffe://example.org/workload");
	CHECK_STR(s.hint, "internal");
	/* A new SVID replaces the old one and keeps the hint. */
	CHECK_INT(parse_base(&s, "good-leaf-rsa", &eb), 0);
	CHECK_INT(s.nchain, 1);
	CHECK_INT(mbedtls_pk_get_type(&s.key), MBEDTLS_PK_RSA);
	CHECK_STR(s.hint, "internal");
	spiffe_x509svid_free(&s);
	CHECK_INT(s.hint_len, 0);
}

TEST(hint_rules)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	char big[SPIFFE_SVID_HINT_MAX + 1];

	spiffe_x509svid_init(&s);
	memset(big, 'h', sizeof(big));
	CHECK_INT(spiffe_x509svid_set_hint(&s, big, sizeof(big), &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "x509svid: hint of 1025 bytes exceeds the limit of "
		  "1024");
	CHECK_INT(spiffe_x509svid_set_hint(&s, big, sizeof(big) - 1, &eb), 0);
	CHECK_INT(s.hint_len, SPIFFE_SVID_HINT_MAX);
	CHECK_INT(s.hint[SPIFFE_SVID_HINT_MAX], 0);
	CHECK_INT(spiffe_x509svid_set_hint(&s, "a\0b", 3, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "x509svid: hint contains a NUL byte");
	CHECK_INT(spiffe_x509svid_set_hint(&s, NULL, 0, &eb), 0);
	CHECK_INT(s.hint_len, 0);
	CHECK_STR(s.hint, "");
	spiffe_x509svid_free(&s);
}

TEST(free_is_safe_on_zeroed_struct)
{
	spiffe_x509svid s;

	memset(&s, 0, sizeof(s));
	spiffe_x509svid_free(&s);
	spiffe_x509svid_free(&s);
	spiffe_x509svid_free(NULL);
	CHECK_INT(s.nchain, 0);
}

/* ---- verify: go-spiffe's Verify tests, then the spec's additions -------- */

TEST(verify_empty_chain)
{
	mbedtls_x509_crt empty;
	spiffe_id id;
	spiffe_errbuf eb;

	mbedtls_x509_crt_init(&empty);
	CHECK_INT(spiffe_x509svid_verify(&empty, example, &id, NULL, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: empty certificates chain");
	CHECK_INT(spiffe_x509svid_verify(NULL, example, &id, NULL, &eb),
		  SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "x509svid: empty certificates chain");
}

TEST(verify_nil_bundle_set)
{
	spiffe_id id;
	spiffe_errbuf eb;

	CHECK_INT(verify_file("good-leaf.pem", NULL, &id, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "x509svid: bundle set is required");
}

TEST(verify_empty_bundle)
{
	spiffe_bundle_set *s = set_of("example.org", NULL);
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK(s != NULL);
	rc = verify_file("good-leaf.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, V "certificate signed by unknown authority");
}

TEST(verify_no_bundle_for_trust_domain)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK(s != NULL);
	rc = verify_file("good-leaf.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "x509svid: could not get X509 bundle: x509bundle: "
		  "no X.509 bundle for trust domain \"example.org\"");
}

/* The bundle comes from the leaf's trust domain only, even when another
 * trust domain's bundle holds the CA that signed it. */
TEST(verify_roots_for_another_trust_domain)
{
	spiffe_bundle_set *s = set_of("other.org", "root-ca.pem");
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK(s != NULL);
	rc = verify_file("good-leaf.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "x509svid: could not get X509 bundle: x509bundle: "
		  "no X.509 bundle for trust domain \"example.org\"");
}

TEST(verify_leaf_of_other_trust_domain)
{
	spiffe_bundle_set *s;
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK_INT(verify_file("other-td.pem", example, &id, &eb),
		  SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "x509svid: could not get X509 bundle: x509bundle: "
		  "no X.509 bundle for trust domain \"other.org\"");
	/* other.org's bundle holds example.org's root: not other.org's CA. */
	s = set_of("other.org", "root-ca.pem");
	CHECK(s != NULL);
	CHECK_INT(add_der_bundle(s, "example.org", "root-ca.der"), 0);
	rc = verify_file("other-td.pem", s, &id, &eb);
	CHECK_INT(rc, SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, V "certificate signed by unknown authority");
	spiffe_bundle_set_unref(s);
	/* With its own trust domain's CA it verifies. */
	s = set_of("other.org", "other-td-root-ca.pem");
	CHECK(s != NULL);
	rc = verify_file("other-td.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, 0);
	CHECK_STR(id.str, "spiffe://other.org/workload");
}

struct verify_case {
	const char *file;
	int rc;
	const char *msg;
};

static const struct verify_case verify_cases[] = {
	/* go-spiffe verify_test.go */
	{ "uri-not-spiffe.pem", SPIFFE_ERR_X509,
	  "x509svid: could not get leaf SPIFFE ID: scheme is missing or "
	  "invalid: expected \"spiffe://\" in "
	  "\"https://example.org/workload\"" },
	{ "no-uri-san.pem", SPIFFE_ERR_X509,
	  "x509svid: could not get leaf SPIFFE ID: certificate contains no "
	  "URI SAN" },
	{ "two-uri-sans.pem", SPIFFE_ERR_X509,
	  "x509svid: could not get leaf SPIFFE ID: certificate contains "
	  "more than one URI SAN" },
	{ "leaf-ca-true.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate with CA flag set to true" },
	{ "leaf-keycertsign.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate with KeyCertSign key usage" },
	{ "leaf-crlsign.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate with KeyCrlSign key usage" },
	{ "expired-leaf.pem", SPIFFE_ERR_EXPIRED,
	  V "certificate has expired (not after 2026-01-01T00:00:00Z)" },
	{ "unknown-root.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority" },
	/* X509-SVID section 5.2, beyond go-spiffe's Verify */
	{ "root-path-id.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate SPIFFE ID must have a non-root path" },
	{ "leaf-no-keyusage.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate without key usage extension" },
	{ "leaf-no-digitalsignature.pem", SPIFFE_ERR_X509,
	  "x509svid: leaf certificate without DigitalSignature key usage" },
	/* RFC 5280 path validation */
	{ "not-yet-valid-leaf.pem", SPIFFE_ERR_EXPIRED,
	  V "certificate is not yet valid (not before "
	  "2027-01-01T00:00:00Z)" },
	{ "impostor-root.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority" },
	{ "bad-signature.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority" },
	{ "intermediate-not-ca.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority (possibly because "
	  "certificate 1 of the chain is not a CA)" },
	{ "intermediate-no-keycertsign.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority (possibly because "
	  "certificate 1 of the chain lacks keyCertSign)" },
	{ "intermediate-pathlen-exceeded.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority" },
	{ "expired-intermediate.pem", SPIFFE_ERR_EXPIRED,
	  V "CA certificate at depth 1 has expired (not after "
	  "2026-01-01T00:00:00Z)" },
	{ "leaf-sha1.pem", SPIFFE_ERR_UNSUPPORTED,
	  V "certificate at depth 0 is signed with a hash other than "
	  "SHA-256, SHA-384 or SHA-512" },
	{ "leaf-rsa-1024.pem", SPIFFE_ERR_UNSUPPORTED,
	  V "certificate at depth 0 has an unsupported key (RSA-1024, less "
	  "than 2048 bits)" },
	{ "intermediate-rsa-1024.pem", SPIFFE_ERR_UNSUPPORTED,
	  V "certificate at depth 1 has an unsupported key (RSA-1024, less "
	  "than 2048 bits)" },
	{ "leaf-rsa-pss.pem", SPIFFE_ERR_X509,
	  V "certificate signed by unknown authority" },
	{ "chain-9-intermediates.pem", SPIFFE_ERR_LIMIT,
	  V "certificate path has more than 8 intermediate CAs" },
	/* Successes */
	{ "chain-8-intermediates.pem", 0, "" },
	{ "good-leaf.pem", 0, "" },
	{ "good-chain.pem", 0, "" },
	{ "good-leaf-rsa.pem", 0, "" },
	{ "good-leaf-p384.pem", 0, "" },
	{ "good-leaf-p521.pem", 0, "" },
	{ "good-leaf-dns-san.pem", 0, "" },
	/* mbedTLS and Go both accept a CA without key usage. */
	{ "intermediate-no-keyusage.pem", 0, "" },
};

TEST(verify_rules_exact)
{
	spiffe_id id;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]);
	     i++) {
		const struct verify_case *vc = &verify_cases[i];
		int rc;

		eb.msg[0] = '\0';
		rc = verify_file(vc->file, example, &id, &eb);
		if (rc != vc->rc || (rc != 0 && strcmp(eb.msg, vc->msg))) {
			FAILF("%s: rc %d \"%s\", expected %d \"%s\"",
			      vc->file, rc, eb.msg, vc->rc, vc->msg);
			return;
		}
		if (rc == 0 && strcmp(id.str,
				      "spiffe://example.org/workload") != 0) {
			FAILF("%s: id %s", vc->file, id.str);
			return;
		}
	}
}

TEST(verify_success_reports_the_path)
{
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	const spiffe_bundle *b;
	spiffe_id id;
	spiffe_td td;
	spiffe_errbuf eb;

	mbedtls_x509_crt_init(&chain);
	CHECK_INT(load_chain(&chain, "good-chain.pem"), 0);
	CHECK_INT(spiffe_x509svid_verify(&chain, example, &id, &vc, &eb), 0);
	CHECK_STR(id.str, "spiffe://example.org/workload");
	CHECK(spiffe_td_parse(&td, "example.org", 11, NULL) == 0);
	b = spiffe_bundle_set_get(example, &td);
	CHECK(b != NULL);
	CHECK_INT(vc.depth, 3);
	CHECK(vc.path[0] == &chain);
	CHECK(vc.path[1] == chain.next);
	CHECK(vc.path[2] == &b->x509);
	CHECK(vc.anchor == &b->x509);
	CHECK_INT(vc.not_after, T2036);
	/* The peer may send the root too; the path still ends at the
	 * bundle's copy. */
	CHECK_INT(load_chain(&chain, "root-ca.pem"), 0);
	CHECK_INT(spiffe_x509svid_verify(&chain, example, &id, &vc, &eb), 0);
	CHECK_INT(vc.depth, 3);
	CHECK(vc.anchor == &b->x509);
	mbedtls_x509_crt_free(&chain);
}

/* Two roots in a Workload API (concatenated DER) bundle. */
TEST(verify_against_der_bundle_with_two_roots)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	const spiffe_bundle *b;
	spiffe_id id;
	spiffe_td td;
	spiffe_errbuf eb;

	CHECK(s != NULL);
	CHECK_INT(add_der_bundle(s, "example.org", "bundle.der"), 0);
	CHECK(spiffe_td_parse(&td, "example.org", 11, NULL) == 0);
	b = spiffe_bundle_set_get(s, &td);
	CHECK(b != NULL && b->nx509 == 2);
	mbedtls_x509_crt_init(&chain);
	CHECK_INT(load_chain(&chain, "good-leaf.pem"), 0);
	CHECK_INT(spiffe_x509svid_verify(&chain, s, &id, &vc, &eb), 0);
	CHECK(vc.anchor == &b->x509);
	CHECK_INT(vc.depth, 2);
	mbedtls_x509_crt_free(&chain);
	mbedtls_x509_crt_init(&chain);
	CHECK_INT(load_chain(&chain, "good-leaf-next-root.pem"), 0);
	CHECK_INT(spiffe_x509svid_verify(&chain, s, &id, &vc, &eb), 0);
	CHECK(vc.anchor == b->x509.next);
	mbedtls_x509_crt_free(&chain);
	spiffe_bundle_set_unref(s);
}

TEST(verify_rsa_root_and_pss_signature)
{
	spiffe_bundle_set *s = set_of("example.org", "rsa-root-ca.pem");
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK(s != NULL);
	rc = verify_file("leaf-rsa-pss.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	if (rc != 0)
		FAILF("%s", eb.msg);
	CHECK_INT(rc, 0);
}

/* Validity is inclusive at both ends (RFC 5280 4.1.2.5), by spiffe_now. */
TEST(verify_time_boundaries)
{
	spiffe_id id;
	spiffe_errbuf eb;
	int rc[6];

	spiffe_clock_set(T2026);
	rc[0] = verify_file("expired-leaf.pem", example, &id, &eb);
	spiffe_clock_set(T2026 + 1);
	rc[1] = verify_file("expired-leaf.pem", example, &id, &eb);
	spiffe_clock_set(T2027 - 1);
	rc[2] = verify_file("not-yet-valid-leaf.pem", example, &id, &eb);
	spiffe_clock_set(T2027);
	rc[3] = verify_file("not-yet-valid-leaf.pem", example, &id, &eb);
	/* go-spiffe "with time": a good leaf once it has expired. */
	spiffe_clock_set(T2036 + 1);
	rc[4] = verify_file("good-leaf.pem", example, &id, &eb);
	spiffe_clock_set(NOW);
	CHECK_STR(eb.msg, V "certificate has expired (not after "
		  "2036-01-01T00:00:00Z)");
	spiffe_clock_set(T2026 - 1);
	rc[5] = verify_file("good-leaf.pem", example, &id, &eb);
	spiffe_clock_set(NOW);
	CHECK_STR(eb.msg, V "certificate is not yet valid (not before "
		  "2026-01-01T00:00:00Z)");
	CHECK_INT(rc[0], 0);
	CHECK_INT(rc[1], SPIFFE_ERR_EXPIRED);
	CHECK_INT(rc[2], SPIFFE_ERR_EXPIRED);
	CHECK_INT(rc[3], 0);
	CHECK_INT(rc[4], SPIFFE_ERR_EXPIRED);
	CHECK_INT(rc[5], SPIFFE_ERR_EXPIRED);
}

/* mbedTLS accepts a self-signed end-entity certificate that is itself a
 * trust anchor; a SPIFFE bundle holds CAs, so this is refused. */
TEST(verify_leaf_that_is_its_own_anchor)
{
	spiffe_bundle_set *s = set_of("example.org", "self-signed-leaf.pem");
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	CHECK(s != NULL);
	rc = verify_file("self-signed-leaf.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, V "leaf certificate is itself in the X.509 bundle; "
		  "an X.509-SVID must chain to a CA of the bundle");
}

/*
 * mbedTLS 3.6 does not implement name constraints.  A CA that marks them
 * critical (as RFC 5280 requires) does not parse, so no bundle can hold
 * it; one that does not is refused by verify rather than trusted without
 * its constraints.
 */
TEST(verify_name_constraints)
{
	mbedtls_x509_crt crt;
	spiffe_bundle b;
	spiffe_bundle_set *s;
	spiffe_td td;
	spiffe_id id;
	spiffe_errbuf eb;
	size_t len = 0;
	uint8_t *der = slurp("name-constraints-ca.der", &len);
	int rc;

	CHECK(der != NULL);
	mbedtls_x509_crt_init(&crt);
	rc = mbedtls_x509_crt_parse_der(&crt, der, len);
	mbedtls_x509_crt_free(&crt);
	CHECK_INT(rc, MBEDTLS_ERR_X509_INVALID_EXTENSIONS +
		  MBEDTLS_ERR_ASN1_UNEXPECTED_TAG);
	CHECK(spiffe_td_parse(&td, "example.org", 11, NULL) == 0);
	spiffe_bundle_init(&b, &td);
	rc = spiffe_bundle_set_x509_der(&b, der, len, &eb);
	spiffe_bundle_free(&b);
	free(der);
	CHECK_INT(rc, SPIFFE_ERR_BUNDLE);

	s = set_of("example.org", "name-constraints-noncritical-ca.pem");
	CHECK(s != NULL);
	rc = verify_file("name-constraints-noncritical-leaf.pem", s, &id, &eb);
	spiffe_bundle_set_unref(s);
	CHECK_INT(rc, SPIFFE_ERR_UNSUPPORTED);
	CHECK_STR(eb.msg, V "CA certificate at depth 1 has a name constraints "
		  "extension, which is not supported");
}

/* Unknown critical extensions stop mbedTLS at parse time. */
TEST(unknown_critical_extension_does_not_parse)
{
	mbedtls_x509_crt crt;

	mbedtls_x509_crt_init(&crt);
	CHECK_INT(load_chain(&crt, "leaf-unknown-critical-ext.pem"),
		  MBEDTLS_ERR_X509_INVALID_EXTENSIONS +
		  MBEDTLS_ERR_ASN1_UNEXPECTED_TAG);
	mbedtls_x509_crt_free(&crt);
}

TEST(verify_chain_limit)
{
	mbedtls_x509_crt chain;
	spiffe_id id;
	spiffe_errbuf eb;
	int rc;

	mbedtls_x509_crt_init(&chain);
	CHECK_INT(load_chain(&chain, "good-leaf.pem"), 0);
	for (int i = 0; i < SPIFFE_X509_MAX_CHAIN; i++)
		CHECK_INT(load_chain(&chain, "intermediate-ca.pem"), 0);
	rc = spiffe_x509svid_verify(&chain, example, &id, NULL, &eb);
	mbedtls_x509_crt_free(&chain);
	CHECK_INT(rc, SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "x509svid: certificate chain has more than 16 "
		  "certificates");
}

/* Certificates the peer sends but the path does not use are ignored. */
TEST(verify_ignores_unused_presented_certs)
{
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	spiffe_id id;
	spiffe_errbuf eb;

	mbedtls_x509_crt_init(&chain);
	CHECK_INT(load_chain(&chain, "good-leaf.pem"), 0);
	CHECK_INT(load_chain(&chain, "unknown-root-ca.pem"), 0);
	CHECK_INT(load_chain(&chain, "intermediate-ca.pem"), 0);
	CHECK_INT(spiffe_x509svid_verify(&chain, example, &id, &vc, &eb), 0);
	CHECK_INT(vc.depth, 2);
	mbedtls_x509_crt_free(&chain);
}

/* An SVID parsed from the Workload API form verifies as a peer chain. */
TEST(verify_parsed_svid)
{
	spiffe_x509svid s;
	spiffe_x509_verified vc;
	spiffe_id id;
	spiffe_errbuf eb;

	spiffe_x509svid_init(&s);
	CHECK_INT(parse_der_files(&s, "good-chain.der", "good-chain-key.der",
				  &eb), 0);
	CHECK_INT(spiffe_x509svid_verify(&s.chain, example, &id, &vc, &eb), 0);
	CHECK(spiffe_id_equal(&id, &s.id));
	CHECK_INT(vc.depth, 3);
	CHECK_INT(spiffe_x509svid_verify(&s.chain, example, NULL, &vc, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "spiffe_x509svid_verify: NULL argument");
	CHECK_INT(vc.depth, 0);
	spiffe_x509svid_free(&s);
}

/* ---- helpers ------------------------------------------------------------ */

TEST(id_from_cert)
{
	static const struct {
		const char *file;
		int rc;
		const char *msg;
	} cases[] = {
		{ "good-leaf.pem", 0, "spiffe://example.org/workload" },
		{ "root-path-id.pem", 0, "spiffe://example.org" },
		{ "root-ca.pem", 0, "spiffe://example.org" },
		{ "no-uri-san.pem", SPIFFE_ERR_X509,
		  "certificate contains no URI SAN" },
		{ "two-uri-sans.pem", SPIFFE_ERR_X509,
		  "certificate contains more than one URI SAN" },
		{ "uri-not-spiffe.pem", SPIFFE_ERR_SPIFFEID,
		  "scheme is missing or invalid: expected "
		  "\"spiffe://\" in \"https://example.org/workload\"" },
	};
	mbedtls_x509_crt crt;
	spiffe_id id;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		mbedtls_x509_crt_init(&crt);
		CHECK_INT(load_chain(&crt, cases[i].file), 0);
		rc = spiffe_x509_id_from_cert(&crt, &id, &eb);
		mbedtls_x509_crt_free(&crt);
		CHECK_INT(rc, cases[i].rc);
		CHECK_STR(rc == 0 ? id.str : eb.msg, cases[i].msg);
		if (rc != 0)
			CHECK_INT(id.len, 0);
	}
}

TEST(chain_copy_and_write_pem)
{
	spiffe_x509svid s;
	mbedtls_x509_crt copy;
	spiffe_errbuf eb;
	size_t flen = 0, len = 0;
	uint8_t *file = slurp("good-chain.pem", &flen);
	char *pem = NULL;

	CHECK(file != NULL);
	spiffe_x509svid_init(&s);
	mbedtls_x509_crt_init(&copy);
	CHECK_INT(parse_base(&s, "good-chain", &eb), 0);
	CHECK_INT(load_chain(&copy, "root-ca.pem"), 0);     /* replaced */
	CHECK_INT(spiffe_x509_chain_copy(&copy, &s.chain, &eb), 0);
	CHECK(copy.next != NULL && copy.next->next == NULL);
	CHECK(copy.raw.p != s.chain.raw.p);
	CHECK_INT(copy.raw.len, s.chain.raw.len);
	CHECK_MEM(copy.raw.p, s.chain.raw.p, copy.raw.len);
	CHECK_INT(copy.next->raw.len, s.chain.next->raw.len);
	CHECK_MEM(copy.next->raw.p, s.chain.next->raw.p, copy.next->raw.len);
	/* PEM written by mbedTLS equals the PEM python-cryptography wrote. */
	CHECK_INT(spiffe_x509_chain_write_pem(&copy, &pem, &len, &eb), 0);
	CHECK_INT(len, flen);
	CHECK_MEM(pem, file, len);
	CHECK_INT(pem[len], 0);
	free(pem);
	/* An empty list copies and writes as empty. */
	mbedtls_x509_crt_free(&copy);
	{
		mbedtls_x509_crt empty;

		mbedtls_x509_crt_init(&empty);
		CHECK_INT(spiffe_x509_chain_copy(&copy, &empty, &eb), 0);
		CHECK_INT(copy.raw.len, 0);
		CHECK_INT(spiffe_x509_chain_write_pem(&empty, &pem, &len, &eb),
			  0);
		CHECK_INT(len, 0);
		CHECK_STR(pem, "");
		free(pem);
	}
	mbedtls_x509_crt_free(&copy);
	spiffe_x509svid_free(&s);
	free(file);
}

/* PKCS#1 DER is canonical, so our PKCS#8 RSA key must equal OpenSSL's. */
TEST(key_write_rsa_matches_openssl)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	size_t flen = 0, len = 0;
	uint8_t *file = slurp("good-leaf-rsa-key.pem", &flen);
	char *pem = NULL;

	CHECK(file != NULL);
	spiffe_x509svid_init(&s);
	CHECK_INT(parse_pem_files(&s, "good-leaf-rsa.pem",
				  "good-leaf-rsa-key-pkcs1.pem", &eb), 0);
	CHECK_INT(spiffe_x509_key_write_pem(&s.key, &pem, &len, &eb), 0);
	CHECK_INT(len, flen);
	CHECK_MEM(pem, file, len);
	free(pem);
	spiffe_x509svid_free(&s);
	free(file);
}

/* Written keys parse back as the Workload API form. */
TEST(key_write_pkcs8_round_trip)
{
	static const char *const bases[] = {
		"good-leaf", "good-leaf-p384", "good-leaf-p521",
		"good-leaf-rsa",
	};
	spiffe_x509svid s, t;
	spiffe_errbuf eb;
	uint8_t *der = NULL;
	size_t len = 0;
	char *pem = NULL, *cpem = NULL;
	size_t plen = 0, clen = 0;

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		spiffe_x509svid_init(&s);
		spiffe_x509svid_init(&t);
		CHECK_INT(parse_base(&s, bases[i], &eb), 0);
		CHECK_INT(spiffe_x509_key_write_pkcs8(&s.key, &der, &len, &eb),
			  0);
		CHECK_INT(spiffe_x509svid_parse_der(&t, s.chain.raw.p,
						    s.chain.raw.len, der, len,
						    &eb), 0);
		CHECK_INT(spiffe_x509_key_write_pem(&s.key, &pem, &plen, &eb),
			  0);
		CHECK_INT(plen, strlen(pem));
		CHECK(strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
		CHECK_INT(spiffe_x509_chain_write_pem(&s.chain, &cpem, &clen,
						      &eb), 0);
		CHECK_INT(spiffe_x509svid_parse_pem(&t, cpem, clen, pem, plen,
						    &eb), 0);
		CHECK_STR(t.id.str, s.id.str);
		free(cpem);
		free(pem);
		free(der);
		spiffe_x509svid_free(&s);
		spiffe_x509svid_free(&t);
	}
}

int main(void)
{
	spiffe_clock_set(NOW);
	example = set_of("example.org", "root-ca.pem");
	if (example == NULL) {
		fprintf(stderr, "cannot load the example.org bundle\n");
		return 1;
	}
	RUN(parse_pem_good_leaf);
	RUN(parse_pem_key_forms_and_types);
	RUN(parse_pem_chain_via_intermediate);
	RUN(parse_der_workload_api_form);
	RUN(parse_accepts_what_only_verify_rejects);
	RUN(parse_rules_exact);
	RUN(parse_key_of_another_type);
	RUN(parse_der_key_must_be_pkcs8);
	RUN(parse_der_chain_errors);
	RUN(parse_pem_errors);
	RUN(parse_failure_leaves_svid_unchanged);
	RUN(hint_rules);
	RUN(free_is_safe_on_zeroed_struct);
	RUN(verify_empty_chain);
	RUN(verify_nil_bundle_set);
	RUN(verify_empty_bundle);
	RUN(verify_no_bundle_for_trust_domain);
	RUN(verify_roots_for_another_trust_domain);
	RUN(verify_leaf_of_other_trust_domain);
	RUN(verify_rules_exact);
	RUN(verify_success_reports_the_path);
	RUN(verify_against_der_bundle_with_two_roots);
	RUN(verify_rsa_root_and_pss_signature);
	RUN(verify_time_boundaries);
	RUN(verify_leaf_that_is_its_own_anchor);
	RUN(verify_name_constraints);
	RUN(unknown_critical_extension_does_not_parse);
	RUN(verify_chain_limit);
	RUN(verify_ignores_unused_presented_certs);
	RUN(verify_parsed_svid);
	RUN(id_from_cert);
	RUN(chain_copy_and_write_pem);
	RUN(key_write_rsa_matches_openssl);
	RUN(key_write_pkcs8_round_trip);
	spiffe_bundle_set_unref(example);
	spiffe_clock_set(-1);
	return test_summary();
}
