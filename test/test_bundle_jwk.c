/*
 * test_bundle_jwk.c - the JWK forms of bundles (jwks.c), against the
 * vectors in test/data/bundle/ written by test/data/gen_jwt_vectors.py
 * (python3-cryptography, PyJWT, openssl).  Run from the repo root.
 */
#include <stdint.h>
#include <stdlib.h>

#include <mbedtls/pk.h>

#include "test.h"
#include "b64.h"
#include "bundle.h"

#define DIR "test/data/bundle/"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)n + 1)) != NULL) {
		*len = fread(b, 1, (size_t)n, f);
		b[*len] = '\0';
	}
	fclose(f);
	return b;
}

static spiffe_td example(void)
{
	spiffe_td td;
	spiffe_errbuf eb;

	if (spiffe_td_parse(&td, "example.org", 11, &eb) != 0)
		memset(&td, 0, sizeof(td));
	return td;
}

enum form { JWKS, SPIFFE };

/* Parses file name in form into b (already initialised). */
static int load(spiffe_bundle *b, enum form f, const char *name,
		spiffe_errbuf *eb)
{
	char path[256];
	size_t len = 0;
	char *text;
	int rc;

	snprintf(path, sizeof(path), DIR "%s", name);
	text = slurp(path, &len);
	if (text == NULL) {
		snprintf(eb->msg, sizeof(eb->msg), "cannot read %s", path);
		return -1000;
	}
	eb->msg[0] = '\0';
	rc = f == JWKS ? spiffe_bundle_set_jwks(b, text, len, eb)
		       : spiffe_bundle_parse_spiffe(b, text, len, eb);
	free(text);
	return rc;
}

static const struct vec {
	enum form form;
	const char *file;
	int rc;
	size_t njwt, nx509;
	const char *msg;        /* exact, when rc != 0 */
} vecs[] = {
	/* Workload API JWKS: use ignored, unknown types skipped. */
	{ JWKS, "jwks-valid.json", 0, 5, 0, NULL },
	{ JWKS, "jwks-no-use.json", 0, 5, 0, NULL },
	{ JWKS, "jwks-use-ignored.json", 0, 3, 0, NULL },
	{ JWKS, "jwks-unknown-kty.json", 0, 2, 0, NULL },
	{ JWKS, "jwks-unknown-kty-no-kid.json", 0, 1, 0, NULL },
	{ JWKS, "jwks-unknown-crv.json", 0, 1, 0, NULL },
	{ JWKS, "jwks-oct.json", 0, 0, 0, NULL },
	{ JWKS, "jwks-other-td.json", 0, 1, 0, NULL },
	{ JWKS, "jwks-empty-object.json", 0, 0, 0, NULL },
	{ JWKS, "jwks-empty-keys.json", 0, 0, 0, NULL },
	{ JWKS, "jwks-null-keys.json", 0, 0, 0, NULL },
	{ JWKS, "jwks-max-keys.json", 0, 256, 0, NULL },
	{ JWKS, "jwks-missing-kid.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: error adding authority 1 of JWKS: keyID cannot be "
	  "empty" },
	{ JWKS, "jwks-empty-kid.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: error adding authority 0 of JWKS: keyID cannot be "
	  "empty" },
	{ JWKS, "jwks-kid-number.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: \"kid\" is not a string" },
	{ JWKS, "jwks-missing-kty.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: missing json web key type (kty)" },
	{ JWKS, "jwks-duplicate-kid.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: error adding authority 1 of JWKS: duplicate key ID "
	  "\"k\"" },
	{ JWKS, "jwks-duplicate-member.json", SPIFFE_ERR_JSON, 0, 0,
	  "jwtbundle: unable to parse JWKS: duplicate member name \"keys\" "
	  "at offset 11" },
	{ JWKS, "jwks-duplicate-key-member.json", SPIFFE_ERR_JSON, 0, 0,
	  "jwtbundle: unable to parse JWKS: duplicate member name \"kid\" "
	  "at offset 145" },
	{ JWKS, "jwks-keys-object.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: unable to parse JWKS: \"keys\" is not an array" },
	{ JWKS, "jwks-key-not-object.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0 is not a JSON object" },
	{ JWKS, "jwks-too-many-keys.json", SPIFFE_ERR_LIMIT, 0, 0,
	  "jwtbundle: JWKS has 257 keys, more than the limit of 256" },
	{ JWKS, "jwks-ec-short-x.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid EC public key, wrong length for x "
	  "(31 bytes, P-256 needs 32)" },
	{ JWKS, "jwks-ec-long-y.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid EC public key, wrong length for y "
	  "(33 bytes, P-256 needs 32)" },
	{ JWKS, "jwks-ec521-pyjwt-unpadded.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid EC public key, wrong length for x "
	  "(65 bytes, P-521 needs 66)" },
	{ JWKS, "jwks-ec-crv-mismatch.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid EC public key, wrong length for x "
	  "(32 bytes, P-384 needs 48)" },
	{ JWKS, "jwks-ec-not-on-curve.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid EC key, X/Y are not on declared curve "
	  "P-256" },
	{ JWKS, "jwks-ec-missing-y.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: EC key without x or y" },
	{ JWKS, "jwks-ec-private.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: has private key member \"d\"" },
	{ JWKS, "jwks-ec-padded-b64.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: \"x\" is not unpadded base64url" },
	{ JWKS, "jwks-rsa-1024.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: RSA modulus of 1024 bits (need 2048..8192)" },
	{ JWKS, "jwks-rsa-missing-e.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid RSA key, missing n/e values" },
	{ JWKS, "jwks-rsa-n-leading-zero.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid RSA key, n or e is empty or has a "
	  "leading zero octet" },
	{ JWKS, "jwks-rsa-e-even.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid RSA exponent (must be odd, "
	  "3..2147483647)" },
	{ JWKS, "jwks-rsa-e-one.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "jwtbundle: key 0: invalid RSA exponent (must be odd, "
	  "3..2147483647)" },
	/* The SPIFFE bundle format: use decides. */
	{ SPIFFE, "spiffe-valid.json", 0, 2, 2, NULL },
	{ SPIFFE, "spiffe-x5c-two-certs.json", 0, 0, 1, NULL },
	{ SPIFFE, "spiffe-empty-keys.json", 0, 0, 0, NULL },
	{ SPIFFE, "spiffe-unknown-use.json", 0, 1, 0, NULL },
	{ SPIFFE, "spiffe-unknown-kty.json", 0, 1, 0, NULL },
	{ SPIFFE, "spiffe-x5c-missing.json", 0, 1, 0, NULL },
	{ SPIFFE, "spiffe-sequence-max.json", 0, 0, 0, NULL },
	{ SPIFFE, "spiffe-x5c-escaped-slash.json", 0, 0, 1, NULL },
	{ SPIFFE, "spiffe-no-keys.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: no authorities found" },
	{ SPIFFE, "spiffe-keys-null.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: no authorities found" },
	{ SPIFFE, "spiffe-missing-kid.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: error adding authority 1 of JWKS: keyID cannot be "
	  "empty" },
	{ SPIFFE, "spiffe-x5c-not-ca.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: x509-svid entry 0: certificate is not a CA" },
	{ SPIFFE, "spiffe-x5c-key-mismatch.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: x509-svid entry 0: public keys in key and x5c "
	  "fields do not match" },
	{ SPIFFE, "spiffe-x5c-bad-b64.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: x509-svid entry 0: x5c[0] is not padded standard "
	  "base64" },
	{ SPIFFE, "spiffe-x5c-url-b64.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: x509-svid entry 0: x5c[0] is not padded standard "
	  "base64" },
	{ SPIFFE, "spiffe-sequence-negative.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: unable to parse JWKS: spiffe_sequence is not an "
	  "unsigned 64-bit integer" },
	{ SPIFFE, "spiffe-sequence-fraction.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: unable to parse JWKS: spiffe_sequence is not an "
	  "unsigned 64-bit integer" },
	{ SPIFFE, "spiffe-sequence-overflow.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: unable to parse JWKS: spiffe_sequence is not an "
	  "unsigned 64-bit integer" },
	{ SPIFFE, "spiffe-refresh-hint-string.json", SPIFFE_ERR_BUNDLE, 0, 0,
	  "spiffebundle: unable to parse JWKS: spiffe_refresh_hint is not a "
	  "64-bit integer" },
	{ SPIFFE, "spiffe-duplicate-member.json", SPIFFE_ERR_JSON, 0, 0,
	  "spiffebundle: unable to parse JWKS: duplicate member name "
	  "\"spiffe_sequence\" at offset 31" },
	/* A plain JWKS read as a SPIFFE bundle: no use, nothing taken. */
	{ SPIFFE, "jwks-no-use.json", 0, 0, 0, NULL },
};

TEST(vectors_exact_outcomes)
{
	spiffe_td td = example();

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		spiffe_bundle b;
		spiffe_errbuf eb;
		int rc;

		spiffe_bundle_init(&b, &td);
		rc = load(&b, v->form, v->file, &eb);
		if (rc != v->rc) {
			FAILF("%s: rc %d, expected %d (%s)", v->file, rc,
			      v->rc, eb.msg);
			spiffe_bundle_free(&b);
			return;
		}
		if (rc != 0 && strcmp(eb.msg, v->msg) != 0) {
			FAILF("%s: message \"%s\", expected \"%s\"", v->file,
			      eb.msg, v->msg);
			spiffe_bundle_free(&b);
			return;
		}
		if (b.njwt != v->njwt || b.nx509 != v->nx509) {
			FAILF("%s: %zu JWT + %zu X.509 authorities, expected "
			      "%zu + %zu", v->file, b.njwt, b.nx509, v->njwt,
			      v->nx509);
			spiffe_bundle_free(&b);
			return;
		}
		spiffe_bundle_free(&b);
	}
}

static int is_ec(const spiffe_jwt_authority *a, mbedtls_ecp_group_id id)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(&a->pk);

	return (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) &&
	       mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(a->pk)) == id;
}

/* 1 if a's key is the public key in PEM file path. */
static int same_key_as(const spiffe_jwt_authority *a, const char *path)
{
	mbedtls_pk_context pk;
	unsigned char d1[2048], d2[2048];
	int n1, n2, ok;

	mbedtls_pk_init(&pk);
	if (mbedtls_pk_parse_public_keyfile(&pk, path) != 0) {
		mbedtls_pk_free(&pk);
		return 0;
	}
	n1 = mbedtls_pk_write_pubkey_der(&pk, d1, sizeof(d1));
	n2 = mbedtls_pk_write_pubkey_der(&a->pk, d2, sizeof(d2));
	ok = n1 > 0 && n1 == n2 &&
	     memcmp(d1 + sizeof(d1) - n1, d2 + sizeof(d2) - n2,
		    (size_t)n1) == 0;
	mbedtls_pk_free(&pk);
	return ok;
}

TEST(jwks_keys_match_generated_keys)
{
	static const char *const kids[] = {
		"ec256", "ec384", "ec521", "rsa2048", "rsa3072"
	};
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;

	spiffe_bundle_init(&b, &td);
	CHECK_INT(load(&b, JWKS, "jwks-valid.json", &eb), 0);
	for (size_t i = 0; i < 5; i++) {
		char path[128];
		const spiffe_jwt_authority *a =
			spiffe_bundle_find_jwt(&b, kids[i], strlen(kids[i]));

		CHECK(a != NULL);
		CHECK_INT(a->kid_len, strlen(kids[i]));
		snprintf(path, sizeof(path),
			 "test/data/jwtsvid/keys/%s.pub.pem", kids[i]);
		if (!same_key_as(a, path)) {
			FAILF("key %s differs from %s", kids[i], path);
			spiffe_bundle_free(&b);
			return;
		}
	}
	CHECK(is_ec(spiffe_bundle_find_jwt(&b, "ec256", 5),
		    MBEDTLS_ECP_DP_SECP256R1));
	CHECK(is_ec(spiffe_bundle_find_jwt(&b, "ec521", 5),
		    MBEDTLS_ECP_DP_SECP521R1));
	CHECK_INT(mbedtls_pk_get_bitlen(
			  &spiffe_bundle_find_jwt(&b, "rsa3072", 7)->pk),
		  3072);
	CHECK(spiffe_bundle_find_jwt(&b, "ec25", 4) == NULL);
	CHECK(spiffe_bundle_find_jwt(&b, "ec2566", 6) == NULL);
	CHECK(spiffe_bundle_find_jwt(&b, NULL, 0) == NULL);
	CHECK(spiffe_bundle_find_jwt(NULL, "ec256", 5) == NULL);
	spiffe_bundle_free(&b);
	spiffe_bundle_free(&b);         /* twice is fine */
}

TEST(unknown_types_are_skipped_not_fatal)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;

	spiffe_bundle_init(&b, &td);
	CHECK_INT(load(&b, JWKS, "jwks-unknown-kty.json", &eb), 0);
	CHECK(spiffe_bundle_find_jwt(&b, "ec256", 5) != NULL);
	CHECK(spiffe_bundle_find_jwt(&b, "rsa2048", 7) != NULL);
	CHECK(spiffe_bundle_find_jwt(&b, "ed", 2) == NULL);
	CHECK(spiffe_bundle_find_jwt(&b, "hmac", 4) == NULL);
	/* An oct key under the name of an RSA key is no authority. */
	CHECK_INT(load(&b, JWKS, "jwks-oct.json", &eb), 0);
	CHECK_INT(b.njwt, 0);
	CHECK(b.jwt == NULL);
	spiffe_bundle_free(&b);
}

TEST(errors_leave_the_bundle_unchanged)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;

	spiffe_bundle_init(&b, &td);
	CHECK_INT(load(&b, SPIFFE, "spiffe-valid.json", &eb), 0);
	CHECK_INT(load(&b, JWKS, "jwks-missing-kid.json", &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_INT(load(&b, SPIFFE, "spiffe-x5c-not-ca.json", &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_INT(load(&b, SPIFFE, "spiffe-no-keys.json", &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_INT(load(&b, SPIFFE, "spiffe-sequence-negative.json", &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_INT(b.nx509, 2);
	CHECK_INT(b.njwt, 2);
	CHECK(spiffe_bundle_find_jwt(&b, "ec256", 5) != NULL);
	CHECK_INT(b.has_sequence, 1);
	CHECK_INT(b.sequence, 42);
	CHECK_INT(b.has_refresh_hint, 1);
	CHECK_INT(b.refresh_hint, 300);
	/* Success replaces everything, sequence and hint included. */
	CHECK_INT(load(&b, SPIFFE, "spiffe-empty-keys.json", &eb), 0);
	CHECK_INT(b.nx509, 0);
	CHECK_INT(b.njwt, 0);
	CHECK_INT(b.has_sequence, 0);
	CHECK_INT(b.has_refresh_hint, 0);
	/* set_jwks replaces only the JWT authorities. */
	CHECK_INT(load(&b, SPIFFE, "spiffe-valid.json", &eb), 0);
	CHECK_INT(load(&b, JWKS, "jwks-other-td.json", &eb), 0);
	CHECK_INT(b.nx509, 2);
	CHECK_INT(b.njwt, 1);
	CHECK(spiffe_bundle_find_jwt(&b, "other-ec256", 11) != NULL);
	spiffe_bundle_free(&b);
}

/* The DER of a certificate in test/data/bundle/<name>.der.b64. */
static int cert_der(const char *name, uint8_t *der, size_t cap, size_t *len)
{
	char path[128];
	size_t n = 0;
	char *t;
	int rc;

	snprintf(path, sizeof(path), DIR "%s.der.b64", name);
	if ((t = slurp(path, &n)) == NULL)
		return -1;
	while (n > 0 && t[n - 1] == '\n')
		n--;
	rc = spiffe_b64std_decode(der, cap, len, t, n);
	free(t);
	return rc;
}

TEST(spiffe_bundle_takes_first_x5c_cert_and_metadata)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;
	uint8_t ca1[4096], ca2[4096];
	size_t l1, l2;

	CHECK_INT(cert_der("ca1", ca1, sizeof(ca1), &l1), 0);
	CHECK_INT(cert_der("ca2", ca2, sizeof(ca2), &l2), 0);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(load(&b, SPIFFE, "spiffe-x5c-two-certs.json", &eb), 0);
	CHECK_INT(b.nx509, 1);
	CHECK_INT(b.x509.raw.len, l1);
	CHECK_MEM(b.x509.raw.p, ca1, l1);
	CHECK_INT(load(&b, SPIFFE, "spiffe-valid.json", &eb), 0);
	CHECK_INT(b.nx509, 2);
	CHECK_MEM(b.x509.raw.p, ca1, l1);
	CHECK(b.x509.next != NULL);
	CHECK_INT(b.x509.next->raw.len, l2);
	CHECK_MEM(b.x509.next->raw.p, ca2, l2);
	CHECK(spiffe_bundle_find_jwt(&b, "rsa2048", 7) != NULL);
	CHECK_INT(load(&b, SPIFFE, "spiffe-x5c-escaped-slash.json", &eb), 0);
	CHECK_INT(b.x509.raw.len, l2);
	CHECK_MEM(b.x509.raw.p, ca2, l2);
	CHECK_INT(load(&b, SPIFFE, "spiffe-sequence-max.json", &eb), 0);
	CHECK_INT(b.has_sequence, 1);
	CHECK(b.sequence == UINT64_MAX);
	CHECK_INT(b.refresh_hint, -5);
	CHECK_INT(load(&b, SPIFFE, "spiffe-unknown-use.json", &eb), 0);
	CHECK_INT(b.njwt, 1);
	CHECK(spiffe_bundle_find_jwt(&b, "rsa3072", 7) != NULL);
	spiffe_bundle_free(&b);
}

/* 1 if a and b hold the same authorities, sequence and hint. */
static int same_bundle(const spiffe_bundle *a, const spiffe_bundle *b)
{
	const mbedtls_x509_crt *x = &a->x509, *y = &b->x509;

	if (a->nx509 != b->nx509 || a->njwt != b->njwt ||
	    a->has_sequence != b->has_sequence ||
	    a->sequence != b->sequence ||
	    a->has_refresh_hint != b->has_refresh_hint ||
	    a->refresh_hint != b->refresh_hint)
		return 0;
	for (size_t i = 0; i < a->nx509; i++, x = x->next, y = y->next) {
		if (x->raw.len != y->raw.len ||
		    memcmp(x->raw.p, y->raw.p, x->raw.len) != 0)
			return 0;
	}
	for (size_t i = 0; i < a->njwt; i++) {
		const spiffe_jwt_authority *p = &a->jwt[i];
		const spiffe_jwt_authority *q =
			spiffe_bundle_find_jwt(b, p->kid, p->kid_len);
		unsigned char d1[2048], d2[2048];
		int n1, n2;

		if (q == NULL)
			return 0;
		n1 = mbedtls_pk_write_pubkey_der(&p->pk, d1, sizeof(d1));
		n2 = mbedtls_pk_write_pubkey_der(&q->pk, d2, sizeof(d2));
		if (n1 <= 0 || n1 != n2 ||
		    memcmp(d1 + sizeof(d1) - n1, d2 + sizeof(d2) - n2,
			   (size_t)n1) != 0)
			return 0;
	}
	return 1;
}

TEST(marshal_parse_round_trip)
{
	spiffe_td td = example();
	spiffe_bundle a, b, c;
	spiffe_errbuf eb;
	char *out = NULL;
	size_t len = 0;

	spiffe_bundle_init(&a, &td);
	spiffe_bundle_init(&b, &td);
	spiffe_bundle_init(&c, &td);
	CHECK_INT(load(&a, SPIFFE, "spiffe-valid.json", &eb), 0);
	CHECK_INT(load(&c, JWKS, "jwks-valid.json", &eb), 0);
	/* Every JWT key type, every X.509 key type, negative hint. */
	for (size_t i = 0; i < c.njwt; i++) {
		if (spiffe_bundle_find_jwt(&a, c.jwt[i].kid,
					   c.jwt[i].kid_len) != NULL)
			continue;
		CHECK_INT(spiffe_bundle_add_jwt(&a, c.jwt[i].kid,
						c.jwt[i].kid_len, &c.jwt[i].pk,
						&eb), 0);
	}
	CHECK_INT(a.njwt, 5);
	a.refresh_hint = -7;
	CHECK_INT(spiffe_bundle_marshal_spiffe(&a, &out, &len, &eb), 0);
	CHECK(out != NULL && len == strlen(out));
	CHECK_INT(spiffe_bundle_parse_spiffe(&b, out, len, &eb), 0);
	free(out);
	CHECK(same_bundle(&a, &b));
	/* The JWKS form carries the JWT authorities only. */
	CHECK_INT(spiffe_bundle_marshal_jwks(&a, &out, &len, &eb), 0);
	CHECK(strncmp(out, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",",
		      35) == 0);
	spiffe_bundle_free(&b);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_jwks(&b, out, len, &eb), 0);
	free(out);
	CHECK_INT(b.njwt, 5);
	CHECK_INT(b.nx509, 0);
	for (size_t i = 0; i < a.njwt; i++)
		CHECK(spiffe_bundle_find_jwt(&b, a.jwt[i].kid,
					     a.jwt[i].kid_len) != NULL);
	/* The SPIFFE form of a JWKS marshal keeps them (use jwt-svid). */
	spiffe_bundle_free(&c);
	spiffe_bundle_init(&c, &td);
	CHECK_INT(spiffe_bundle_marshal_jwks(&a, &out, &len, &eb), 0);
	CHECK_INT(spiffe_bundle_parse_spiffe(&c, out, len, &eb), 0);
	free(out);
	CHECK_INT(c.njwt, 5);
	/* An empty bundle. */
	spiffe_bundle_free(&b);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_marshal_spiffe(&b, &out, &len, &eb), 0);
	CHECK_STR(out, "{\"keys\":[]}");
	free(out);
	CHECK_INT(spiffe_bundle_marshal_jwks(&b, &out, &len, &eb), 0);
	CHECK_STR(out, "{\"keys\":[]}");
	free(out);
	spiffe_bundle_free(&a);
	spiffe_bundle_free(&b);
	spiffe_bundle_free(&c);
}

TEST(marshal_escapes_kid)
{
	spiffe_td td = example();
	spiffe_bundle a, b;
	spiffe_errbuf eb;
	mbedtls_pk_context pk;
	char *out = NULL;
	size_t len = 0;
	static const char kid[] = "a\"b\\c\x01\xc3\xa9";

	mbedtls_pk_init(&pk);
	CHECK_INT(mbedtls_pk_parse_public_keyfile(
			  &pk, "test/data/jwtsvid/keys/ec384.pub.pem"), 0);
	spiffe_bundle_init(&a, &td);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_add_jwt(&a, kid, sizeof(kid) - 1, &pk, &eb),
		  0);
	mbedtls_pk_free(&pk);
	CHECK_INT(spiffe_bundle_marshal_jwks(&a, &out, &len, &eb), 0);
	CHECK(strstr(out, "\"kid\":\"a\\\"b\\\\c\\u0001\xc3\xa9\"") != NULL);
	CHECK_INT(spiffe_bundle_set_jwks(&b, out, len, &eb), 0);
	free(out);
	CHECK(spiffe_bundle_find_jwt(&b, kid, sizeof(kid) - 1) != NULL);
	spiffe_bundle_free(&a);
	spiffe_bundle_free(&b);
}

TEST(add_jwt_rules)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;
	mbedtls_pk_context ec, weak;
	char longkid[SPIFFE_KID_MAX + 2];

	memset(longkid, 'k', sizeof(longkid));
	mbedtls_pk_init(&ec);
	mbedtls_pk_init(&weak);
	CHECK_INT(mbedtls_pk_parse_public_keyfile(
			  &ec, "test/data/jwtsvid/keys/ec256.pub.pem"), 0);
	CHECK_INT(mbedtls_pk_parse_public_keyfile(
			  &weak, "test/data/jwtsvid/keys/rsa1024.pub.pem"), 0);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_add_jwt(&b, "a", 1, &ec, &eb), 0);
	CHECK_INT(spiffe_bundle_add_jwt(&b, "a", 1, &ec, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "jwtbundle: duplicate key ID \"a\"");
	CHECK_INT(spiffe_bundle_add_jwt(&b, "", 0, &ec, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "jwtbundle: keyID cannot be empty");
	CHECK_INT(spiffe_bundle_add_jwt(&b, longkid, SPIFFE_KID_MAX + 1, &ec,
					&eb), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_bundle_add_jwt(&b, longkid, SPIFFE_KID_MAX, &ec,
					&eb), 0);
	CHECK_INT(spiffe_bundle_add_jwt(&b, "w", 1, &weak, &eb),
		  SPIFFE_ERR_UNSUPPORTED);
	CHECK_STR(eb.msg, "jwtbundle: authority \"w\": RSA modulus of 1024 "
		  "bits (need 2048..8192)");
	CHECK_INT(b.njwt, 2);
	/* The bundle holds its own copy. */
	mbedtls_pk_free(&ec);
	CHECK(spiffe_bundle_find_jwt(&b, "a", 1) != NULL);
	CHECK(is_ec(spiffe_bundle_find_jwt(&b, "a", 1),
		    MBEDTLS_ECP_DP_SECP256R1));
	mbedtls_pk_free(&weak);
	spiffe_bundle_free(&b);
}

TEST(bounded_inputs)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;
	/* An unknown kty is skipped before its (too long) kid is read. */
	char doc[1024];
	int n;

	spiffe_bundle_init(&b, &td);
	n = snprintf(doc, sizeof(doc), "{\"keys\":[{\"kty\":\"oct\","
		     "\"kid\":\"%0256d\"}]}", 0);
	CHECK_INT(spiffe_bundle_set_jwks(&b, doc, (size_t)n, &eb), 0);
	CHECK_INT(spiffe_bundle_set_jwks(&b, "", 0, &eb), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_bundle_set_jwks(&b, "[]", 2, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "jwtbundle: unable to parse JWKS: not a JSON "
		  "object");
	CHECK_INT(spiffe_bundle_parse_spiffe(&b, "null", 4, &eb),
		  SPIFFE_ERR_BUNDLE);
	spiffe_bundle_free(&b);
}

TEST(long_members_are_rejected)
{
	spiffe_td td = example();
	spiffe_bundle b;
	spiffe_errbuf eb;
	char *doc = malloc(8192);
	int n;

	CHECK(doc != NULL);
	spiffe_bundle_init(&b, &td);
	n = snprintf(doc, 8192, "{\"keys\":[{\"kty\":\"EC\","
		     "\"kid\":\"%0256d\",\"crv\":\"P-256\",\"x\":\"AAAA\","
		     "\"y\":\"AAAA\"}]}", 0);
	/* x is checked before kid. */
	CHECK_INT(spiffe_bundle_set_jwks(&b, doc, (size_t)n, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "jwtbundle: key 0: invalid EC public key, wrong "
		  "length for x (3 bytes, P-256 needs 32)");
	n = snprintf(doc, 8192, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\","
		     "\"n\":\"%01400d\",\"e\":\"AQAB\"}]}", 0);
	CHECK_INT(spiffe_bundle_set_jwks(&b, doc, (size_t)n, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "jwtbundle: key 0: \"n\" is too long");
	spiffe_bundle_free(&b);
	free(doc);
}

int main(void)
{
	RUN(vectors_exact_outcomes);
	RUN(jwks_keys_match_generated_keys);
	RUN(unknown_types_are_skipped_not_fatal);
	RUN(errors_leave_the_bundle_unchanged);
	RUN(spiffe_bundle_takes_first_x5c_cert_and_metadata);
	RUN(marshal_parse_round_trip);
	RUN(marshal_escapes_kid);
	RUN(add_jwt_rules);
	RUN(bounded_inputs);
	RUN(long_members_are_rejected);
	return test_summary();
}
