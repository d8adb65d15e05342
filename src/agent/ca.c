/*
 * ca.c - the agent's CA: root and JWT key on disk, X.509-SVIDs and
 * JWT-SVIDs.
 */
#include "ca.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "agent/store.h"
#include "b64.h"
#include "clock.h"
#include "json.h"
#include "rng.h"

#define F_CA_KEY "ca_key.pem"
#define F_CA_CERT "ca_cert.pem"
#define F_JWT_KEY "jwt_key.pem"
#define F_JWT_KID "jwt_kid"
#define F_CA_LOCK "ca.lock"

#define CA_SUBJECT "O=SPIFFE,CN=spiffe-agent CA"
#define LEAF_SUBJECT "O=SPIFFE"
#define SELF_TEST_ID "spiffe://self-test/x"

/* A leaf fits: fixed fields and extensions plus a 2048-byte URI. */
#define CERT_BUF (SPIFFE_ID_MAX + 2048)
#define KEY_BUF 512
#define URI_SAN_TAG (MBEDTLS_ASN1_CONTEXT_SPECIFIC | \
		     MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER)

void spiffe_agent_ca_init(spiffe_agent_ca *ca)
{
	memset(ca, 0, sizeof(*ca));
	pthread_mutex_init(&ca->mu, NULL);
	ca->inited = 1;
	mbedtls_pk_init(&ca->key);
	mbedtls_x509_crt_init(&ca->cert);
	mbedtls_pk_init(&ca->jwt_key);
}

void spiffe_agent_ca_free(spiffe_agent_ca *ca)
{
	if (ca == NULL)
		return;
	if (ca->inited) {
		pthread_mutex_destroy(&ca->mu);
		mbedtls_pk_free(&ca->key);
		mbedtls_x509_crt_free(&ca->cert);
		mbedtls_pk_free(&ca->jwt_key);
	}
	free(ca->jwks);
	if (ca->bundles != NULL)
		spiffe_bundle_set_unref(ca->bundles);
	memset(ca, 0, sizeof(*ca));
}

void spiffe_agent_x509svid_init(spiffe_agent_x509svid *s)
{
	memset(s, 0, sizeof(*s));
}

void spiffe_agent_x509svid_free(spiffe_agent_x509svid *s)
{
	if (s == NULL)
		return;
	if (s->key != NULL)
		mbedtls_platform_zeroize(s->key, s->key_len);
	free(s->key);
	free(s->cert);
	memset(s, 0, sizeof(*s));
}

/* ---- time ------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t x509_time(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 +
	       t->hour * 3600 + t->min * 60 + t->sec;
}

/* "YYYYMMDDhhmmss" for t, as mbedtls_x509write_crt_set_validity wants. */
static int fmt_time(int64_t t, char out[16])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year + 1900 < 1950 ||
	    tm.tm_year + 1900 > 9999)
		return -1;
	const int v[6] = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			   tm.tm_hour, tm.tm_min, tm.tm_sec };
	char *w = out;

	for (int i = 0; i < 6; i++) {
		int x = v[i];

		if (i == 0) {
			*w++ = (char)('0' + x / 1000);
			*w++ = (char)('0' + x / 100 % 10);
		}
		*w++ = (char)('0' + x / 10 % 10);
		*w++ = (char)('0' + x % 10);
	}
	*w = '\0';
	return 0;
}

/* ---- keys and certificates -------------------------------------------- */

static int gen_p256(mbedtls_pk_context *pk)
{
	int rc = mbedtls_pk_setup(pk,
				  mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));

	if (rc == 0)
		rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
					 mbedtls_pk_ec(*pk), spiffe_rng, NULL);
	return rc;
}

static int is_p256(const mbedtls_pk_context *pk)
{
	return mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY &&
	       mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk)) ==
	       MBEDTLS_ECP_DP_SECP256R1;
}

/* A random positive serial of 16 bytes, minimally encoded. */
static int rand_serial(unsigned char s[16])
{
	if (spiffe_rng(NULL, s, 16) != 0)
		return -1;
	s[0] &= 0x7f;
	if (s[0] == 0)
		s[0] = 1;
	return 0;
}

struct cert_spec {
	int is_ca;
	const char *subject;
	const char *uri;
	size_t uri_len;
	mbedtls_pk_context *subject_key;
	mbedtls_pk_context *issuer_key;
	int64_t not_before, not_after;
};

/* Writes the certificate at the end of buf; *der, *len locate it. */
static int write_cert(const struct cert_spec *s, unsigned char *buf,
		      size_t cap, unsigned char **der, size_t *len)
{
	static const unsigned char leaf_bc[] = { 0x30, 0x00 }; /* CA=false */
	/* SEQUENCE { id-kp-serverAuth, id-kp-clientAuth } */
	static const unsigned char leaf_eku[] = {
		0x30, 0x14,
		0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01,
		0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02,
	};
	mbedtls_x509write_cert w;
	mbedtls_x509_san_list san;
	unsigned char serial[16];
	char nb[16], na[16];
	int rc;

	if (rand_serial(serial) != 0 || fmt_time(s->not_before, nb) != 0 ||
	    fmt_time(s->not_after, na) != 0)
		return -1;
	memset(&san, 0, sizeof(san));
	san.node.type = MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER;
	san.node.san.unstructured_name.p = (unsigned char *)s->uri;
	san.node.san.unstructured_name.len = s->uri_len;

	mbedtls_x509write_crt_init(&w);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, s->subject_key);
	mbedtls_x509write_crt_set_issuer_key(&w, s->issuer_key);
	if ((rc = mbedtls_x509write_crt_set_subject_name(&w, s->subject)) ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, CA_SUBJECT)) ||
	    (rc = mbedtls_x509write_crt_set_serial_raw(&w, serial, 16)) ||
	    (rc = mbedtls_x509write_crt_set_validity(&w, nb, na)) ||
	    (rc = mbedtls_x509write_crt_set_subject_alternative_name(&w,
								      &san)) ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)))
		goto out;
	if (s->is_ca) {
		/* mbedTLS marks basicConstraints critical for a CA. */
		if ((rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1,
								      0)) ||
		    (rc = mbedtls_x509write_crt_set_key_usage(&w,
				MBEDTLS_X509_KU_KEY_CERT_SIGN |
				MBEDTLS_X509_KU_CRL_SIGN)))
			goto out;
	} else {
		/* mbedTLS writes CA=false not critical and extKeyUsage
		 * critical; X509-SVID and SPIRE want the opposite, so both
		 * are ours.  It always marks keyUsage critical. */
		if ((rc = mbedtls_x509write_crt_set_extension(&w,
				MBEDTLS_OID_BASIC_CONSTRAINTS,
				sizeof(MBEDTLS_OID_BASIC_CONSTRAINTS) - 1,
				1, leaf_bc, sizeof(leaf_bc))) ||
		    (rc = mbedtls_x509write_crt_set_key_usage(&w,
				MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) ||
		    (rc = mbedtls_x509write_crt_set_extension(&w,
				MBEDTLS_OID_EXTENDED_KEY_USAGE,
				sizeof(MBEDTLS_OID_EXTENDED_KEY_USAGE) - 1,
				0, leaf_eku, sizeof(leaf_eku))) ||
		    (rc = mbedtls_x509write_crt_set_authority_key_identifier(
				&w)))
			goto out;
	}
	rc = mbedtls_x509write_crt_der(&w, buf, cap, spiffe_rng, NULL);
	if (rc > 0) {
		*len = (size_t)rc;
		*der = buf + cap - (size_t)rc;
		rc = 0;
	} else if (rc == 0) {
		rc = -1;
	}
out:
	mbedtls_x509write_crt_free(&w);
	return rc;
}

/*
 * PKCS#8 PrivateKeyInfo (RFC 5958) around pk's SEC1 ECPrivateKey, in a
 * new buffer from malloc.
 */
static int pkcs8_der(mbedtls_pk_context *pk, uint8_t **out, size_t *outlen)
{
	static const char ec_oid[] = MBEDTLS_OID_EC_ALG_UNRESTRICTED;
	static const char p256_oid[] = MBEDTLS_OID_EC_GRP_SECP256R1;
	unsigned char buf[KEY_BUF];
	unsigned char *c;
	size_t len;
	int r, rc = -1;

	r = mbedtls_pk_write_key_der(pk, buf, sizeof(buf));
	if (r <= 0)
		goto out;
	len = (size_t)r;
	c = buf + sizeof(buf) - len;
#define ADD(f) do { if ((r = (f)) < 0) goto out; len += (size_t)r; } while (0)
	ADD(mbedtls_asn1_write_len(&c, buf, len));
	ADD(mbedtls_asn1_write_tag(&c, buf, MBEDTLS_ASN1_OCTET_STRING));
	{
		size_t par = 0;

		if ((r = mbedtls_asn1_write_oid(&c, buf, p256_oid,
						sizeof(p256_oid) - 1)) < 0)
			goto out;
		par = (size_t)r;
		/* The return counts the parameters too. */
		ADD(mbedtls_asn1_write_algorithm_identifier(&c, buf, ec_oid,
			sizeof(ec_oid) - 1, par));
	}
	ADD(mbedtls_asn1_write_int(&c, buf, 0));
	ADD(mbedtls_asn1_write_len(&c, buf, len));
	ADD(mbedtls_asn1_write_tag(&c, buf, MBEDTLS_ASN1_CONSTRUCTED |
				   MBEDTLS_ASN1_SEQUENCE));
#undef ADD
	*out = malloc(len);
	if (*out == NULL)
		goto out;
	memcpy(*out, c, len);
	*outlen = len;
	rc = 0;
out:
	mbedtls_platform_zeroize(buf, sizeof(buf));
	return rc;
}

/* ---- issuing ------------------------------------------------------------ */

static int check_id(const spiffe_agent_ca *ca, const spiffe_id *id,
		    spiffe_errbuf *eb)
{
	size_t plen;

	if (!ca->open)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "CA is not open");
	if (id == NULL || id->len == 0 || !spiffe_id_member_of(id, &ca->td))
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "cannot issue for "
				   "\"%s\": not in trust domain \"%s\"",
				   id ? id->str : "", ca->td.name);
	(void)spiffe_id_path(id, &plen);
	if (plen == 0)
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "cannot issue for "
				   "\"%s\": an SVID needs a path (X509-SVID "
				   "3.1)", id->str);
	return 0;
}

static int check_ttl(int64_t *ttl, int64_t def, spiffe_errbuf *eb)
{
	if (*ttl == 0)
		*ttl = def;
	if (*ttl < 0 || *ttl > SPIFFE_AGENT_TTL_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "TTL %lld is outside 1 "
				   "to %d seconds", (long long)*ttl,
				   SPIFFE_AGENT_TTL_MAX);
	return 0;
}

int spiffe_agent_ca_issue_x509(spiffe_agent_ca *ca, const spiffe_id *id,
			       int64_t ttl, spiffe_agent_x509svid *out,
			       spiffe_errbuf *eb)
{
	mbedtls_pk_context key;
	struct cert_spec s;
	unsigned char *buf = NULL, *der;
	size_t len;
	int64_t now = spiffe_now();
	int rc;

	spiffe_agent_x509svid_free(out);
	if ((rc = check_id(ca, id, eb)) != 0 ||
	    (rc = check_ttl(&ttl, SPIFFE_AGENT_X509_TTL, eb)) != 0)
		return rc;
	if (now >= ca->not_after)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, "the CA expired at "
				   "%lld; create a new data folder",
				   (long long)ca->not_after);
	memset(&s, 0, sizeof(s));
	s.subject = LEAF_SUBJECT;
	s.uri = id->str;
	s.uri_len = id->len;
	s.not_before = now - SPIFFE_AGENT_BACKDATE;
	if (s.not_before < ca->not_before)
		s.not_before = ca->not_before;
	s.not_after = ttl > ca->not_after - now ? ca->not_after : now + ttl;
	mbedtls_pk_init(&key);
	if (gen_p256(&key) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot generate an "
				 "SVID key");
		goto out;
	}
	buf = malloc(CERT_BUF);
	if (buf == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	s.subject_key = &key;
	s.issuer_key = &ca->key;
	pthread_mutex_lock(&ca->mu);
	rc = write_cert(&s, buf, CERT_BUF, &der, &len);
	pthread_mutex_unlock(&ca->mu);
	if (rc != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot write the "
				 "X.509-SVID (mbedTLS -0x%04x)",
				 (unsigned)-rc);
		goto out;
	}
	out->cert = malloc(len);
	if (out->cert == NULL || pkcs8_der(&key, &out->key,
					   &out->key_len) != 0) {
		spiffe_agent_x509svid_free(out);
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "cannot encode the "
				 "X.509-SVID");
		goto out;
	}
	memcpy(out->cert, der, len);
	out->cert_len = len;
	out->not_before = s.not_before;
	out->not_after = s.not_after;
out:
	free(buf);
	mbedtls_pk_free(&key);
	return rc;
}

/* Appends text[0..len) to b (cap bytes, *n used); -1 if it won't fit. */
static int put(char *b, size_t cap, size_t *n, const char *text,
	       size_t len)
{
	if (len >= cap - *n)
		return -1;
	memcpy(b + *n, text, len);
	*n += len;
	b[*n] = '\0';
	return 0;
}

static int put_quoted(char *b, size_t cap, size_t *n, const char *s,
		      size_t len)
{
	size_t w;
	int rc = spiffe_json_quote(b + *n, cap - *n, &w, s, len);

	if (rc == 0)
		*n += w;
	return rc;
}

static int put_b64(char *b, size_t cap, size_t *n, const void *p,
		   size_t len)
{
	size_t w;
	int rc = spiffe_b64url_encode(b + *n, cap - *n, &w, p, len);

	if (rc == 0)
		*n += w;
	return rc;
}

int spiffe_agent_ca_issue_jwt(spiffe_agent_ca *ca, const spiffe_id *id,
			      const spiffe_agent_str *aud, size_t naud,
			      int64_t ttl, char **token, size_t *len,
			      spiffe_errbuf *eb)
{
	unsigned char hash[32], der[MBEDTLS_ECDSA_MAX_LEN], raw[64];
	char hdr[128], num[64], *claims = NULL, *tok = NULL;
	size_t hn = 0, cn = 0, tn = 0, ccap, tcap, dlen, rlen;
	int64_t now = spiffe_now();
	int rc;

	*token = NULL;
	*len = 0;
	if ((rc = check_id(ca, id, eb)) != 0 ||
	    (rc = check_ttl(&ttl, SPIFFE_AGENT_JWT_TTL, eb)) != 0)
		return rc;
	if (naud == 0 || aud == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "audience must be "
				   "specified");
	if (naud > SPIFFE_JWT_MAX_AUDIENCES)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "audiences", SPIFFE_JWT_MAX_AUDIENCES);
	/* Quoting makes a string at most 6 times longer, plus quotes. */
	ccap = 128 + 6 * id->len;
	for (size_t i = 0; i < naud; i++) {
		if (aud[i].len == 0)
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "audience %zu "
					   "is empty", i);
		if (aud[i].len > SPIFFE_JWT_MAX)
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "audience "
					   "%zu is longer than a token may "
					   "be", i);
		ccap += 6 * aud[i].len + 3;
	}
	claims = malloc(ccap);
	if (claims == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	/* {"alg":"ES256","kid":"...","typ":"JWT"} */
	if (put(hdr, sizeof(hdr), &hn, "{\"alg\":\"ES256\",\"kid\":", 21) ||
	    put_quoted(hdr, sizeof(hdr), &hn, ca->kid, SPIFFE_AGENT_KID_LEN) ||
	    put(hdr, sizeof(hdr), &hn, ",\"typ\":\"JWT\"}", 13))
		goto internal;
	/* {"aud":[...],"exp":N,"iat":N,"sub":"..."} */
	if (put(claims, ccap, &cn, "{\"aud\":[", 8))
		goto internal;
	for (size_t i = 0; i < naud; i++) {
		if ((i > 0 && put(claims, ccap, &cn, ",", 1)) ||
		    put_quoted(claims, ccap, &cn, aud[i].p, aud[i].len)) {
			rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "audience %zu is "
					 "not valid UTF-8", i);
			goto out;
		}
	}
	snprintf(num, sizeof(num), "],\"exp\":%lld,\"iat\":%lld,\"sub\":",
		 (long long)(now + ttl), (long long)now);
	if (put(claims, ccap, &cn, num, strlen(num)) ||
	    put_quoted(claims, ccap, &cn, id->str, id->len) ||
	    put(claims, ccap, &cn, "}", 1))
		goto internal;
	tcap = SPIFFE_B64URL_ENCODED_LEN(hn) + SPIFFE_B64URL_ENCODED_LEN(cn) +
	       SPIFFE_B64URL_ENCODED_LEN(64) + 3;
	if (tcap - 1 > SPIFFE_JWT_MAX) {
		rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "JWT-SVID of %zu bytes "
				 "would exceed the limit of %u", tcap - 1,
				 (unsigned)SPIFFE_JWT_MAX);
		goto out;
	}
	tok = malloc(tcap);
	if (tok == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (put_b64(tok, tcap, &tn, hdr, hn) || put(tok, tcap, &tn, ".", 1) ||
	    put_b64(tok, tcap, &tn, claims, cn))
		goto internal;
	if (mbedtls_sha256((const unsigned char *)tok, tn, hash, 0) != 0)
		goto crypto;
	pthread_mutex_lock(&ca->mu);
	rc = mbedtls_pk_sign(&ca->jwt_key, MBEDTLS_MD_SHA256, hash,
			     sizeof(hash), der, sizeof(der), &dlen,
			     spiffe_rng, NULL);
	pthread_mutex_unlock(&ca->mu);
	if (rc != 0 || mbedtls_ecdsa_der_to_raw(256, der, dlen, raw,
						sizeof(raw), &rlen) != 0 ||
	    rlen != sizeof(raw))
		goto crypto;
	if (put(tok, tcap, &tn, ".", 1) ||
	    put_b64(tok, tcap, &tn, raw, sizeof(raw)))
		goto internal;
	*token = tok;
	*len = tn;
	tok = NULL;
	rc = 0;
	goto out;
internal:
	rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "JWT-SVID does not fit its "
			 "buffer");
	goto out;
crypto:
	rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot sign the JWT-SVID");
out:
	free(claims);
	free(tok);
	return rc;
}

const uint8_t *spiffe_agent_ca_x509_bundle(const spiffe_agent_ca *ca,
					   size_t *len)
{
	*len = ca->open ? ca->cert.raw.len : 0;
	return ca->open ? ca->cert.raw.p : NULL;
}

const char *spiffe_agent_ca_jwks(const spiffe_agent_ca *ca, size_t *len)
{
	*len = ca->jwks_len;
	return ca->jwks;
}

const spiffe_bundle_set *spiffe_agent_ca_bundles(const spiffe_agent_ca *ca)
{
	return ca->open ? ca->bundles : NULL;
}

int spiffe_agent_ca_validate_jwt(spiffe_agent_ca *ca, const char *token,
				 size_t len, const char *aud, size_t aud_len,
				 spiffe_jwt_svid *s, spiffe_errbuf *eb)
{
	const char *expected[1];
	char *copy;
	int rc;

	if (!ca->open)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "CA is not open");
	if (aud == NULL || aud_len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "audience must be "
				   "specified");
	if (token == NULL || len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "svid must be "
				   "specified");
	/* The validator takes C strings: a NUL inside would cut it. */
	if (aud_len > SPIFFE_JWT_MAX || memchr(aud, '\0', aud_len) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "audience is too long "
				   "or contains NUL");
	copy = malloc(aud_len + 1);
	if (copy == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memcpy(copy, aud, aud_len);
	copy[aud_len] = '\0';
	expected[0] = copy;
	rc = spiffe_jwtsvid_parse_and_validate(s, token, len, ca->bundles,
					       expected, 1, NULL, eb);
	free(copy);
	return rc;
}

/* ---- create and load ------------------------------------------------- */

static int build_jwks(spiffe_agent_ca *ca, spiffe_errbuf *eb)
{
	unsigned char pt[65];
	size_t ptlen, n = 0, cap = 256;
	char *j;

	if (mbedtls_ecp_write_public_key(mbedtls_pk_ec(ca->jwt_key),
					 MBEDTLS_ECP_PF_UNCOMPRESSED, &ptlen,
					 pt, sizeof(pt)) != 0 ||
	    ptlen != 65)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot export the "
				   "JWT public key");
	j = malloc(cap);
	if (j == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (put(j, cap, &n, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
		"\"x\":\"", 40) ||
	    put_b64(j, cap, &n, pt + 1, 32) ||
	    put(j, cap, &n, "\",\"y\":\"", 7) ||
	    put_b64(j, cap, &n, pt + 33, 32) ||
	    put(j, cap, &n, "\",\"kid\":", 8) ||
	    put_quoted(j, cap, &n, ca->kid, SPIFFE_AGENT_KID_LEN) ||
	    put(j, cap, &n, ",\"use\":\"jwt-svid\"}]}", 20)) {
		free(j);
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "JWKS does not fit "
				   "its buffer");
	}
	free(ca->jwks);
	ca->jwks = j;
	ca->jwks_len = n;
	return 0;
}

static int is_kid_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Reads a PEM key file into pk (which must be EC P-256). */
static int load_key(int dirfd, const char *name, mbedtls_pk_context *pk,
		    spiffe_errbuf *eb)
{
	char *buf;
	size_t len;
	int rc;

	rc = spiffe_agent_file_read(dirfd, name, SPIFFE_AGENT_PEM_MAX, 1,
				    &buf, &len, NULL, NULL, eb);
	if (rc != 0)
		return rc;
	mbedtls_pk_free(pk);
	mbedtls_pk_init(pk);
	rc = mbedtls_pk_parse_key(pk, (const unsigned char *)buf, len + 1,
				  NULL, 0, spiffe_rng, NULL);
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "%s: not a PEM "
				   "private key (mbedTLS -0x%04x)", name,
				   (unsigned)-rc);
	if (!is_p256(pk))
		return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, "%s: not an EC "
				   "P-256 key", name);
	return 0;
}

/* Checks the root: a self-signed P-256 CA of ca->td, in validity. */
static int check_root(spiffe_agent_ca *ca, spiffe_errbuf *eb)
{
	const mbedtls_x509_crt *c = &ca->cert;
	const mbedtls_x509_sequence *san;
	spiffe_id tdid;
	uint32_t flags = 0;
	int uris = 0, rc;

	spiffe_td_id(&ca->td, &tdid);
	if (c->next != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": holds "
				   "more than one certificate");
	if (c->version != 3 || mbedtls_x509_crt_get_ca_istrue(c) != 1 ||
	    mbedtls_x509_crt_check_key_usage(c,
					     MBEDTLS_X509_KU_KEY_CERT_SIGN))
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": not an "
				   "X.509 v3 CA certificate with keyCertSign");
	if (!is_p256(&c->pk))
		return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, F_CA_CERT ": "
				   "key is not EC P-256");
	for (san = &c->subject_alt_names; san != NULL && san->buf.p != NULL;
	     san = san->next) {
		if (san->buf.tag != URI_SAN_TAG)
			continue;
		uris++;
		if (san->buf.len != tdid.len ||
		    memcmp(san->buf.p, tdid.str, tdid.len) != 0)
			uris = 99;
	}
	if (uris != 1)
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": its only "
				   "URI SAN must be %s (was the trust domain "
				   "changed?)", tdid.str);
	rc = mbedtls_x509_crt_verify(&ca->cert, &ca->cert, NULL, NULL, &flags,
				     NULL, NULL);
	/* Time is ours to judge, by spiffe_now(). */
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED |
			     MBEDTLS_X509_BADCERT_FUTURE);
	if ((rc != 0 && rc != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) ||
	    flags != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": not a "
				   "valid self-signed certificate (flags "
				   "0x%x)", (unsigned)flags);
	ca->not_before = x509_time(&c->valid_from);
	ca->not_after = x509_time(&c->valid_to);
	if (spiffe_now() >= ca->not_after)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, F_CA_CERT ": the CA"
				   " expired at %lld; move the data folder "
				   "away to create a new CA",
				   (long long)ca->not_after);
	if (mbedtls_pk_check_pair(&c->pk, &ca->key, spiffe_rng, NULL) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_KEY " does not "
				   "match " F_CA_CERT);
	return 0;
}

/*
 * Leaves name their issuer with CA_SUBJECT, so its encoding must be the
 * root's subject byte for byte (Go and OpenSSL match names on it).  A
 * certificate written as an SVID would be (with the CA's own key as the
 * subject key, which saves a key generation) must name it.
 */
static int check_issuer_name(spiffe_agent_ca *ca, spiffe_errbuf *eb)
{
	struct cert_spec s;
	mbedtls_x509_crt leaf;
	unsigned char *buf, *der;
	size_t len;
	int rc;

	buf = malloc(CERT_BUF);
	if (buf == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memset(&s, 0, sizeof(s));
	s.subject = LEAF_SUBJECT;
	s.uri = SELF_TEST_ID;
	s.uri_len = sizeof(SELF_TEST_ID) - 1;
	s.subject_key = &ca->key;
	s.issuer_key = &ca->key;
	s.not_before = ca->not_before;
	s.not_after = ca->not_before + 60;
	mbedtls_x509_crt_init(&leaf);
	pthread_mutex_lock(&ca->mu);
	rc = write_cert(&s, buf, CERT_BUF, &der, &len);
	pthread_mutex_unlock(&ca->mu);
	if (rc == 0)
		rc = mbedtls_x509_crt_parse_der(&leaf, der, len);
	if (rc != 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot write a test "
				 "certificate (mbedTLS -0x%04x)",
				 (unsigned)(rc < 0 ? -rc : rc));
	else if (leaf.issuer_raw.len != ca->cert.subject_raw.len ||
		 memcmp(leaf.issuer_raw.p, ca->cert.subject_raw.p,
			leaf.issuer_raw.len) != 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": its "
				 "subject is not \"" CA_SUBJECT "\"");
	mbedtls_x509_crt_free(&leaf);
	free(buf);
	return rc;
}

/* The bundle set: our trust domain with the root and the JWT key. */
static int build_bundles(spiffe_agent_ca *ca, spiffe_errbuf *eb)
{
	spiffe_bundle b;
	spiffe_bundle_set *set = spiffe_bundle_set_new();
	int rc;

	if (set == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	spiffe_bundle_init(&b, &ca->td);
	rc = spiffe_bundle_add_x509(&b, ca->cert.raw.p, ca->cert.raw.len, eb);
	if (rc == 0)
		rc = spiffe_bundle_add_jwt(&b, ca->kid, SPIFFE_AGENT_KID_LEN,
					   &ca->jwt_key, eb);
	if (rc == 0)
		rc = spiffe_bundle_set_put(set, &b, eb);
	spiffe_bundle_free(&b);
	if (rc != 0) {
		spiffe_bundle_set_unref(set);
		return rc;
	}
	if (ca->bundles != NULL)
		spiffe_bundle_set_unref(ca->bundles);
	ca->bundles = set;
	return 0;
}

static int load(spiffe_agent_ca *ca, int dirfd, spiffe_errbuf *eb)
{
	char *buf;
	size_t len;
	int rc;

	rc = load_key(dirfd, F_CA_KEY, &ca->key, eb);
	if (rc == 0)
		rc = load_key(dirfd, F_JWT_KEY, &ca->jwt_key, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_agent_file_read(dirfd, F_JWT_KID, 64, 0, &buf, &len,
				    NULL, NULL, eb);
	if (rc != 0)
		return rc;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len; i++)
		if (!is_kid_char(buf[i]))
			len = 0;
	if (len != SPIFFE_AGENT_KID_LEN) {
		free(buf);
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, F_JWT_KID ": not "
				   "%d base64url characters",
				   SPIFFE_AGENT_KID_LEN);
	}
	memcpy(ca->kid, buf, len);
	ca->kid[len] = '\0';
	free(buf);
	rc = spiffe_agent_file_read(dirfd, F_CA_CERT, SPIFFE_AGENT_PEM_MAX, 0,
				    &buf, &len, NULL, NULL, eb);
	if (rc != 0)
		return rc;
	mbedtls_x509_crt_free(&ca->cert);
	mbedtls_x509_crt_init(&ca->cert);
	rc = mbedtls_x509_crt_parse(&ca->cert, (const unsigned char *)buf,
				    len + 1);
	free(buf);
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, F_CA_CERT ": not a "
				   "PEM certificate (mbedTLS -0x%04x)",
				   (unsigned)(rc < 0 ? -rc : rc));
	rc = check_root(ca, eb);
	if (rc == 0)
		rc = build_jwks(ca, eb);
	if (rc != 0)
		return rc;
	rc = check_issuer_name(ca, eb);
	if (rc == 0)
		rc = build_bundles(ca, eb);
	if (rc == 0)
		ca->open = 1;
	return rc;
}

/* Writes a PEM key file. */
static int save_key(int dirfd, const char *name, mbedtls_pk_context *pk,
		    spiffe_errbuf *eb)
{
	unsigned char pem[1024];
	int rc;

	rc = mbedtls_pk_write_key_pem(pk, pem, sizeof(pem));
	if (rc == 0)
		rc = spiffe_agent_file_write(dirfd, name, pem,
					     strlen((char *)pem), eb);
	else
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot encode %s",
				 name);
	mbedtls_platform_zeroize(pem, sizeof(pem));
	return rc;
}

static int create(spiffe_agent_ca *ca, int dirfd, spiffe_errbuf *eb)
{
	mbedtls_pk_context key, jwt;
	struct cert_spec s;
	unsigned char rnd[16], *der, *buf = NULL;
	char kid[SPIFFE_AGENT_KID_LEN + 2];
	spiffe_id tdid;
	size_t len, klen;
	int64_t now = spiffe_now();
	int rc;

	mbedtls_pk_init(&key);
	mbedtls_pk_init(&jwt);
	spiffe_td_id(&ca->td, &tdid);
	if (gen_p256(&key) != 0 || gen_p256(&jwt) != 0 ||
	    spiffe_rng(NULL, rnd, sizeof(rnd)) != 0 ||
	    spiffe_b64url_encode(kid, sizeof(kid), &klen, rnd,
				 sizeof(rnd)) != 0 ||
	    klen != SPIFFE_AGENT_KID_LEN) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot generate the "
				 "CA keys");
		goto out;
	}
	kid[klen++] = '\n';
	buf = malloc(CERT_BUF * 2);
	if (buf == NULL) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.is_ca = 1;
	s.subject = CA_SUBJECT;
	s.uri = tdid.str;
	s.uri_len = tdid.len;
	s.subject_key = &key;
	s.issuer_key = &key;
	s.not_before = now - SPIFFE_AGENT_BACKDATE;
	s.not_after = now + SPIFFE_AGENT_CA_VALIDITY;
	rc = write_cert(&s, buf, CERT_BUF, &der, &len);
	if (rc == 0)
		rc = mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n",
					      "-----END CERTIFICATE-----\n",
					      der, len, buf + CERT_BUF,
					      CERT_BUF, &len);
	if (rc != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot write the CA "
				 "certificate (mbedTLS -0x%04x)",
				 (unsigned)-rc);
		goto out;
	}
	/* The certificate last: its presence marks a complete CA. */
	if ((rc = save_key(dirfd, F_JWT_KEY, &jwt, eb)) != 0 ||
	    (rc = spiffe_agent_file_write(dirfd, F_JWT_KID, kid, klen,
					  eb)) != 0 ||
	    (rc = save_key(dirfd, F_CA_KEY, &key, eb)) != 0 ||
	    (rc = spiffe_agent_file_write(dirfd, F_CA_CERT, buf + CERT_BUF,
					  len - 1, eb)) != 0)
		goto out;
	ca->created = 1;
out:
	free(buf);
	mbedtls_pk_free(&key);
	mbedtls_pk_free(&jwt);
	return rc;
}

int spiffe_agent_ca_open(spiffe_agent_ca *ca, int dirfd, const spiffe_td *td,
			 spiffe_errbuf *eb)
{
	char *buf;
	size_t len;
	int lockfd = -1, rc;

	if (!ca->inited || ca->open || td == NULL || td->len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "CA: bad arguments");
	if (spiffe_crypto_init() != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "cannot start the "
				   "random generator");
	ca->td = *td;
	/* Two processes starting on a new folder must not each write half
	 * of a CA. */
	rc = spiffe_agent_lock(dirfd, F_CA_LOCK, &lockfd, eb);
	if (rc == 0)
		rc = spiffe_agent_file_read(dirfd, F_CA_CERT,
					    SPIFFE_AGENT_PEM_MAX, 0, &buf,
					    &len, NULL, NULL, eb);
	if (rc == SPIFFE_ERR_NOT_FOUND)
		rc = create(ca, dirfd, eb);
	else if (rc == 0)
		free(buf);
	if (rc == 0)
		rc = load(ca, dirfd, eb);
	if (lockfd >= 0)
		close(lockfd);
	if (rc != 0) {
		spiffe_agent_ca_free(ca);
		spiffe_agent_ca_init(ca);
	}
	return rc;
}
