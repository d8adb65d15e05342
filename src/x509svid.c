/*
 * x509svid.c - X.509-SVID parsing and verification (X509-SVID.md).
 */
#include "x509svid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/platform_util.h>

#include "clock.h"
#include "rng.h"

#define PEM_CRT_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_CRT_END "-----END CERTIFICATE-----"
#define PEM_KEY_BEGIN "-----BEGIN PRIVATE KEY-----"
#define PEM_KEY_END "-----END PRIVATE KEY-----"
#define PEM_ANY_BEGIN "-----BEGIN "

#define MSG_CERTS "x509svid: certificate validation failed: "
#define MSG_KEY "x509svid: private key validation failed: "
#define MSG_VERIFY "x509svid: could not verify leaf certificate: "

_Static_assert(MBEDTLS_X509_MAX_VERIFY_CHAIN_SIZE <= SPIFFE_X509_MAX_PATH,
	       "a path mbedTLS accepts must fit spiffe_x509_verified.path");

/* ---- small helpers ------------------------------------------------------ */

/* mbedTLS's text for rc, then its code: "X509 - ... (-0x2180)". */
static const char *mbed_str(int rc, char *buf, size_t n)
{
	size_t l;

	mbedtls_strerror(rc, buf, n);
	l = strlen(buf);
	snprintf(buf + l, n - l, " (-0x%04x)", (unsigned)-rc);
	return buf;
}

/* Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* An X.509 time (validated by mbedTLS) as Unix seconds. */
static int64_t x509_unix(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 +
	       (int64_t)t->hour * 3600 + t->min * 60 + t->sec;
}

/* "2026-01-01T00:00:00Z" */
static const char *x509_time_str(const mbedtls_x509_time *t, char *buf,
				 size_t n)
{
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", t->year, t->mon,
		 t->day, t->hour, t->min, t->sec);
	return buf;
}

/*
 * mbedTLS needs a random generator to blind private-key operations
 * (deriving an EC public key, checking a key pair).
 */
static int rng_ready(spiffe_errbuf *eb)
{
	if (spiffe_crypto_init() != 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
				   "x509svid: cannot start the random "
				   "generator");
	return 0;
}

static int is_ca(const mbedtls_x509_crt *c)
{
	return mbedtls_x509_crt_get_ca_istrue(c) == 1;
}

static int has_ku(const mbedtls_x509_crt *c)
{
	return mbedtls_x509_crt_has_ext_type(c, MBEDTLS_X509_EXT_KEY_USAGE);
}

/* 1 if c has a key usage extension with bit set. */
static int ku_has(const mbedtls_x509_crt *c, unsigned bit)
{
	return has_ku(c) && mbedtls_x509_crt_check_key_usage(c, bit) == 0;
}

/* ---- SPIFFE ID ---------------------------------------------------------- */

int spiffe_x509_id_from_cert(const mbedtls_x509_crt *crt, spiffe_id *id,
			     spiffe_errbuf *eb)
{
	const mbedtls_x509_buf *uri = NULL;
	const mbedtls_x509_sequence *s;
	size_t n = 0;

	if (id == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_id_from_cert: NULL argument");
	memset(id, 0, sizeof(*id));
	if (crt == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_id_from_cert: NULL argument");
	/*
	 * GeneralName uniformResourceIdentifier is [6] IMPLICIT IA5String;
	 * the constructed form is counted too, so that it cannot hide a
	 * second URI from this check.
	 */
	for (s = &crt->subject_alt_names; s != NULL; s = s->next) {
		if (s->buf.p == NULL)
			continue;
		if ((s->buf.tag & ~MBEDTLS_ASN1_CONSTRUCTED) ==
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC |
		     MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER)) {
			uri = &s->buf;
			n++;
		}
	}
	if (n == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "certificate contains no URI SAN");
	if (n > 1)
		return spiffe_fail(eb, SPIFFE_ERR_X509, "certificate contains "
				   "more than one URI SAN");
	if (uri->tag & MBEDTLS_ASN1_CONSTRUCTED)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "certificate URI SAN is not an IA5String");
	return spiffe_id_parse(id, (const char *)uri->p, uri->len, eb);
}

/* 1 if id has no path (spiffe://td). */
static int root_id(const spiffe_id *id)
{
	size_t plen;

	(void)spiffe_id_path(id, &plen);
	return plen == 0;
}

/* ---- SVID rules (go-spiffe x509svid.Parse) ------------------------------ */

static int validate_certs(spiffe_x509svid *s, spiffe_errbuf *eb)
{
	const mbedtls_x509_crt *leaf = &s->chain, *c;
	size_t i;
	int rc;

	if (s->nchain == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   MSG_CERTS "no certificates found");
	rc = spiffe_x509_id_from_cert(leaf, &s->id, eb);
	if (rc != 0)
		return spiffe_wrap(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "cannot get leaf certificate SPIFFE ID");
	if (root_id(&s->id))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "leaf certificate SPIFFE ID must have a "
				   "non-root path");
	if (is_ca(leaf))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "leaf certificate must not have CA flag "
				   "set to true");
	if (!ku_has(leaf, MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "leaf certificate must have "
				   "'digitalSignature' set as key usage%s",
				   has_ku(leaf) ? "" :
				   " (no key usage extension)");
	if (ku_has(leaf, MBEDTLS_X509_KU_KEY_CERT_SIGN))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "leaf certificate must not have "
				   "'keyCertSign' set as key usage");
	if (ku_has(leaf, MBEDTLS_X509_KU_CRL_SIGN))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
				   "leaf certificate must not have 'cRLSign' "
				   "set as key usage");
	for (c = leaf->next, i = 1; c != NULL; c = c->next, i++) {
		if (!is_ca(c))
			return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
					   "signing certificate must have CA "
					   "flag set to true (certificate "
					   "%zu)", i);
		if (!ku_has(c, MBEDTLS_X509_KU_KEY_CERT_SIGN))
			return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_CERTS
					   "signing certificate must have "
					   "'keyCertSign' set as key usage "
					   "(certificate %zu)", i);
	}
	return 0;
}

/*
 * Names an unsupported key ("EC x25519", "RSA-1024") into buf, or
 * returns NULL when pk is one the profile allows.
 */
static const char *unsupported_key(const mbedtls_pk_context *pk, char *buf,
				   size_t n)
{
	mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);

	if (t == MBEDTLS_PK_ECKEY) {
		mbedtls_ecp_group_id g =
			mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));
		const mbedtls_ecp_curve_info *ci;

		if (g == MBEDTLS_ECP_DP_SECP256R1 ||
		    g == MBEDTLS_ECP_DP_SECP384R1 ||
		    g == MBEDTLS_ECP_DP_SECP521R1)
			return NULL;
		ci = mbedtls_ecp_curve_info_from_grp_id(g);
		snprintf(buf, n, "EC %s", ci != NULL ? ci->name : "?");
		return buf;
	}
	if (t == MBEDTLS_PK_RSA) {
		size_t bits = mbedtls_pk_get_bitlen(pk);

		if (bits >= SPIFFE_X509_RSA_MIN_BITS)
			return NULL;
		snprintf(buf, n, "RSA-%zu, less than %d bits", bits,
			 SPIFFE_X509_RSA_MIN_BITS);
		return buf;
	}
	snprintf(buf, n, "%s", mbedtls_pk_get_name(pk));
	return buf;
}

static int validate_key(spiffe_x509svid *s, spiffe_errbuf *eb)
{
	char what[64];
	int rc;

	if (unsupported_key(&s->key, what, sizeof(what)) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, MSG_KEY
				   "unsupported private key type %s", what);
	if ((rc = rng_ready(eb)) != 0)
		return rc;
	rc = mbedtls_pk_check_pair(&s->chain.pk, &s->key,
				   spiffe_rng, NULL);
	if (rc == MBEDTLS_ERR_PK_ALLOC_FAILED)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_KEY
				   "leaf certificate does not match private "
				   "key");
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/* Parses one DER certificate, the *n-th of the input, onto list. */
static int add_cert(mbedtls_x509_crt *list, size_t *n, const uint8_t *der,
		    size_t len, const char *form, spiffe_errbuf *eb)
{
	char m[160];
	int rc;

	if (*n >= SPIFFE_X509_MAX_CHAIN)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: certificate chain has more "
				   "than %d certificates",
				   SPIFFE_X509_MAX_CHAIN);
	if (len > SPIFFE_X509_MAX_DER)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: certificate %zu is %zu bytes, "
				   "over the limit of %u", *n, len,
				   (unsigned)SPIFFE_X509_MAX_DER);
	rc = mbedtls_x509_crt_parse_der(list, der, len);
	if (rc == MBEDTLS_ERR_X509_ALLOC_FAILED)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: cannot parse %s encoded "
				   "certificate %zu: %s", form, *n,
				   mbed_str(rc, m, sizeof(m)));
	(*n)++;
	return 0;
}

/*
 * Length of the whole DER element (tag, length, contents) at p, which
 * must be a SEQUENCE within the len bytes left.
 */
static int der_seq_len(const uint8_t *p, size_t len, size_t *out)
{
	unsigned char *cur = (unsigned char *)p;
	size_t body;

	if (mbedtls_asn1_get_tag(&cur, p + len, &body,
				 MBEDTLS_ASN1_CONSTRUCTED |
				 MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	*out = (size_t)(cur - p) + body;
	return 0;
}

static int parse_chain_der(mbedtls_x509_crt *list, size_t *n,
			   const uint8_t *der, size_t len, spiffe_errbuf *eb)
{
	size_t off = 0, el;
	int rc;

	while (off < len) {
		if (der_seq_len(der + off, len - off, &el) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_X509,
					   "x509svid: cannot parse DER "
					   "encoded certificate %zu: not a "
					   "DER SEQUENCE within the input "
					   "(at byte %zu)", *n, off);
		if ((rc = add_cert(list, n, der + off, el, "DER", eb)) != 0)
			return rc;
		off += el;
	}
	return 0;
}

/* A NUL-terminated copy of text[0..len) from malloc (mbedTLS's PEM
 * reader scans with strstr), or NULL. */
static char *text_copy(const char *text, size_t len)
{
	char *s = malloc(len + 1);

	if (s == NULL)
		return NULL;
	if (len > 0)
		memcpy(s, text, len);
	s[len] = '\0';
	return s;
}

/*
 * Parses every PEM block of text[0..len) as a CERTIFICATE.  The text
 * between blocks is ignored; a block of another type is an error, so a
 * key pasted into a certificate file is not silently skipped.
 */
static int parse_chain_pem(mbedtls_x509_crt *list, size_t *n,
			   const char *text, size_t len, spiffe_errbuf *eb)
{
	static const char begin[] = PEM_CRT_BEGIN, any[] = PEM_ANY_BEGIN;
	mbedtls_pem_context pem;
	size_t off = 0, used, dlen, blocks = 0;
	const unsigned char *der;
	const char *b;
	char *s, m[160];
	int rc = 0, prc;

	if ((s = text_copy(text, len)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	while (off < len &&
	       (b = memmem(s + off, len - off, any, sizeof(any) - 1)) !=
	       NULL) {
		off = (size_t)(b - s);
		if (len - off < sizeof(begin) - 1 ||
		    memcmp(b, begin, sizeof(begin) - 1) != 0) {
			rc = spiffe_fail(eb, SPIFFE_ERR_X509,
					 "x509svid: cannot parse PEM encoded "
					 "certificate: PEM block %zu is not "
					 "a CERTIFICATE", blocks);
			break;
		}
		mbedtls_pem_init(&pem);
		prc = mbedtls_pem_read_buffer(&pem, PEM_CRT_BEGIN, PEM_CRT_END,
					      (const unsigned char *)b, NULL,
					      0, &used);
		if (prc != 0) {
			mbedtls_pem_free(&pem);
			rc = spiffe_fail(eb, SPIFFE_ERR_X509,
					 "x509svid: cannot parse PEM encoded "
					 "certificate: PEM block %zu: %s",
					 blocks, mbed_str(prc, m, sizeof(m)));
			break;
		}
		der = mbedtls_pem_get_buffer(&pem, &dlen);
		rc = add_cert(list, n, der, dlen, "PEM", eb);
		mbedtls_pem_free(&pem);
		if (rc != 0)
			break;
		blocks++;
		off += used;
	}
	free(s);
	if (rc == 0 && blocks == 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_X509,
				 "x509svid: cannot parse PEM encoded "
				 "certificate: no PEM blocks found");
	return rc;
}

/*
 * The Workload API key is PKCS#8 (RFC 5208 PrivateKeyInfo): a SEQUENCE
 * of INTEGER version, AlgorithmIdentifier SEQUENCE, ...  mbedTLS would
 * also take SEC1 and PKCS#1 DER, which the spec does not allow here.
 */
static int is_pkcs8(const uint8_t *der, size_t len)
{
	unsigned char *p = (unsigned char *)der, *end;
	size_t l;

	if (len == 0)
		return 0;
	end = p + len;
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED |
				 MBEDTLS_ASN1_SEQUENCE) != 0 || p + l != end)
		return 0;
	if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_INTEGER) != 0)
		return 0;
	p += l;
	return p < end &&
	       *p == (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
}

static int parse_key(mbedtls_pk_context *pk, const unsigned char *buf,
		     size_t len, const char *form, spiffe_errbuf *eb)
{
	char m[160];
	int rc;

	if ((rc = rng_ready(eb)) != 0)
		return rc;
	rc = mbedtls_pk_parse_key(pk, buf, len, NULL, 0,
				  spiffe_rng, NULL);
	if (rc == MBEDTLS_ERR_PK_ALLOC_FAILED)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	if (rc != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: cannot parse %s encoded "
				   "private key: %s", form,
				   mbed_str(rc, m, sizeof(m)));
	return 0;
}

static int parse_key_der(mbedtls_pk_context *pk, const uint8_t *der,
			 size_t len, spiffe_errbuf *eb)
{
	if (len > SPIFFE_X509_MAX_KEY)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: private key is %zu bytes, over "
				   "the limit of %u", len,
				   (unsigned)SPIFFE_X509_MAX_KEY);
	if (!is_pkcs8(der, len))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: cannot parse DER encoded "
				   "private key: not an unencrypted PKCS#8 "
				   "PrivateKeyInfo");
	return parse_key(pk, der, len, "DER", eb);
}

static int parse_key_pem(mbedtls_pk_context *pk, const char *text,
			 size_t len, spiffe_errbuf *eb)
{
	static const char any[] = PEM_ANY_BEGIN;
	char *s;
	int rc;

	if (len == 0 || memmem(text, len, any, sizeof(any) - 1) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: cannot parse PEM encoded "
				   "private key: no PEM blocks found");
	if ((s = text_copy(text, len)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rc = parse_key(pk, (const unsigned char *)s, len + 1, "PEM", eb);
	mbedtls_platform_zeroize(s, len);
	free(s);
	return rc;
}

/* ---- the SVID ----------------------------------------------------------- */

void spiffe_x509svid_init(spiffe_x509svid *svid)
{
	memset(svid, 0, sizeof(*svid));
	mbedtls_x509_crt_init(&svid->chain);
	mbedtls_pk_init(&svid->key);
}

void spiffe_x509svid_free(spiffe_x509svid *svid)
{
	if (svid == NULL)
		return;
	mbedtls_x509_crt_free(&svid->chain);
	mbedtls_pk_free(&svid->key);        /* wipes the key material */
	spiffe_x509svid_init(svid);
}

/*
 * Validates tmp (chain and key parsed) and moves it into svid, keeping
 * svid's hint.  Moving the crt and pk heads by value is sound: nothing
 * points back into them.
 */
static int finish(spiffe_x509svid *svid, spiffe_x509svid *tmp,
		  spiffe_errbuf *eb)
{
	int rc;

	if ((rc = validate_certs(tmp, eb)) != 0 ||
	    (rc = validate_key(tmp, eb)) != 0)
		return rc;
	memcpy(tmp->hint, svid->hint, sizeof(tmp->hint));
	tmp->hint_len = svid->hint_len;
	spiffe_x509svid_free(svid);
	memcpy(svid, tmp, sizeof(*svid));
	spiffe_x509svid_init(tmp);
	return 0;
}

int spiffe_x509svid_parse_der(spiffe_x509svid *svid, const uint8_t *chain,
			      size_t chain_len, const uint8_t *key,
			      size_t key_len, spiffe_errbuf *eb)
{
	spiffe_x509svid tmp;
	int rc;

	if (svid == NULL || (chain == NULL && chain_len > 0) ||
	    (key == NULL && key_len > 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509svid_parse_der: NULL argument");
	spiffe_x509svid_init(&tmp);
	if ((rc = parse_chain_der(&tmp.chain, &tmp.nchain, chain, chain_len,
				  eb)) == 0 &&
	    (rc = parse_key_der(&tmp.key, key, key_len, eb)) == 0)
		rc = finish(svid, &tmp, eb);
	spiffe_x509svid_free(&tmp);
	return rc;
}

int spiffe_x509svid_parse_pem(spiffe_x509svid *svid, const char *certs,
			      size_t certs_len, const char *key,
			      size_t key_len, spiffe_errbuf *eb)
{
	spiffe_x509svid tmp;
	int rc;

	if (svid == NULL || (certs == NULL && certs_len > 0) ||
	    (key == NULL && key_len > 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509svid_parse_pem: NULL argument");
	if (certs_len > SPIFFE_X509_MAX_PEM || key_len > SPIFFE_X509_MAX_PEM)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: PEM text of %zu bytes exceeds "
				   "the limit of %u",
				   certs_len > key_len ? certs_len : key_len,
				   (unsigned)SPIFFE_X509_MAX_PEM);
	spiffe_x509svid_init(&tmp);
	if ((rc = parse_chain_pem(&tmp.chain, &tmp.nchain, certs, certs_len,
				  eb)) == 0 &&
	    (rc = parse_key_pem(&tmp.key, key, key_len, eb)) == 0)
		rc = finish(svid, &tmp, eb);
	spiffe_x509svid_free(&tmp);
	return rc;
}

int spiffe_x509_chain_parse(mbedtls_x509_crt *chain, size_t *n,
			    const uint8_t *p, size_t len, spiffe_errbuf *eb)
{
	static const char any[] = PEM_ANY_BEGIN;
	mbedtls_x509_crt tmp;
	size_t count = 0;
	int rc;

	if (chain == NULL || n == NULL || (p == NULL && len > 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_chain_parse: NULL argument");
	if (len > SPIFFE_X509_MAX_PEM)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: certificate chain of %zu bytes "
				   "exceeds the limit of %u", len,
				   (unsigned)SPIFFE_X509_MAX_PEM);
	mbedtls_x509_crt_init(&tmp);
	if (len > 0 && memmem(p, len, any, sizeof(any) - 1) != NULL)
		rc = parse_chain_pem(&tmp, &count, (const char *)p, len, eb);
	else
		rc = parse_chain_der(&tmp, &count, p, len, eb);
	if (rc == 0 && count == 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_X509,
				 "x509svid: empty certificates chain");
	if (rc != 0) {
		mbedtls_x509_crt_free(&tmp);
		return rc;
	}
	mbedtls_x509_crt_free(chain);
	*chain = tmp;           /* nothing points into the head: a move */
	*n = count;
	return 0;
}

int spiffe_x509svid_set_hint(spiffe_x509svid *svid, const char *hint,
			     size_t len, spiffe_errbuf *eb)
{
	if (svid == NULL || (hint == NULL && len > 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509svid_set_hint: NULL argument");
	if (len > SPIFFE_SVID_HINT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "x509svid: hint of %zu bytes exceeds the "
				   "limit of %d", len, SPIFFE_SVID_HINT_MAX);
	if (len > 0 && memchr(hint, '\0', len) != NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "x509svid: hint contains a NUL byte");
	if (len > 0)
		memcpy(svid->hint, hint, len);
	svid->hint[len] = '\0';
	svid->hint_len = len;
	return 0;
}

/* ---- verification ------------------------------------------------------- */

/* Signature hashes SHA-256/384/512; EC P-256/384/521 and RSA >= 2048. */
static const mbedtls_x509_crt_profile svid_profile = {
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
	MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSASSA_PSS) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA),
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1) |
	MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP521R1),
	SPIFFE_X509_RSA_MIN_BITS,
};

#define TIME_FLAGS (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)

/* What the verify callback saw of the path, leaf at depth 0. */
struct vpath {
	int64_t now;
	size_t depth;
	int overflow;
	const mbedtls_x509_crt *crt[SPIFFE_X509_MAX_PATH];
	uint32_t flags[SPIFFE_X509_MAX_PATH];
};

/*
 * Called by mbedTLS for each certificate of the path it built.  mbedTLS
 * compares validity times with its own clock; every comparison here is
 * with spiffe_now() instead (notBefore <= now <= notAfter, RFC 5280).
 */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth,
		     uint32_t *flags)
{
	struct vpath *v = ctx;

	*flags &= ~(uint32_t)TIME_FLAGS;
	if (v->now < x509_unix(&crt->valid_from))
		*flags |= MBEDTLS_X509_BADCERT_FUTURE;
	if (v->now > x509_unix(&crt->valid_to))
		*flags |= MBEDTLS_X509_BADCERT_EXPIRED;
	if (depth < 0 || (size_t)depth >= SPIFFE_X509_MAX_PATH) {
		v->overflow = 1;
		*flags |= MBEDTLS_X509_BADCERT_OTHER;
		return 0;
	}
	v->crt[depth] = crt;
	v->flags[depth] = *flags;
	if ((size_t)depth + 1 > v->depth)
		v->depth = (size_t)depth + 1;
	return 0;
}

/*
 * The first extension of c that constrains the certificates below a CA
 * and that mbedTLS does not process (it rejects them only when critical):
 * name constraints, policy mappings, policy constraints, inhibit
 * anyPolicy.  NULL if none.
 */
static const char *unprocessed_constraint(const mbedtls_x509_crt *c)
{
	unsigned char *p = c->v3_ext.p, *end, *next;
	size_t len;

	if (p == NULL || c->v3_ext.len == 0)
		return NULL;
	end = p + c->v3_ext.len;
	if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED |
				 MBEDTLS_ASN1_SEQUENCE) != 0)
		return "a malformed extension";
	end = p + len;
	while (p < end) {
		if (mbedtls_asn1_get_tag(&p, end, &len,
					 MBEDTLS_ASN1_CONSTRUCTED |
					 MBEDTLS_ASN1_SEQUENCE) != 0)
			return "a malformed extension";
		next = p + len;
		if (mbedtls_asn1_get_tag(&p, next, &len,
					 MBEDTLS_ASN1_OID) != 0)
			return "a malformed extension";
		/* id-ce (2.5.29) is 55 1d in DER. */
		if (len == 3 && p[0] == 0x55 && p[1] == 0x1d) {
			switch (p[2]) {
			case 30: return "a name constraints extension";
			case 33: return "a policy mappings extension";
			case 36: return "a policy constraints extension";
			case 54: return "an inhibit anyPolicy extension";
			}
		}
		p = next;
	}
	return NULL;
}

/*
 * A hint for "signed by unknown authority" when the peer did present the
 * issuer of c but mbedTLS would not use it as one.
 */
static const char *untrusted_hint(const mbedtls_x509_crt *chain,
				  const mbedtls_x509_crt *c, char *buf,
				  size_t n)
{
	const mbedtls_x509_crt *p;
	size_t i;

	for (p = chain, i = 0; p != NULL; p = p->next, i++) {
		if (p == c || p->subject_raw.len != c->issuer_raw.len ||
		    memcmp(p->subject_raw.p, c->issuer_raw.p,
			   c->issuer_raw.len) != 0)
			continue;
		if (!is_ca(p))
			snprintf(buf, n, " (possibly because certificate %zu "
				 "of the chain is not a CA)", i);
		else if (has_ku(p) &&
			 !ku_has(p, MBEDTLS_X509_KU_KEY_CERT_SIGN))
			snprintf(buf, n, " (possibly because certificate %zu "
				 "of the chain lacks keyCertSign)", i);
		else
			continue;
		return buf;
	}
	return "";
}

/*
 * mbedTLS flags a certificate for its own key (the leaf) or for the key
 * that signed it; names the one outside the policy.
 */
static int bad_key(const struct vpath *v, size_t d, spiffe_errbuf *eb)
{
	char what[64];
	const char *k = unsupported_key(&v->crt[d]->pk, what, sizeof(what));

	if (k == NULL && d + 1 < v->depth && v->crt[d + 1] != NULL &&
	    (k = unsupported_key(&v->crt[d + 1]->pk, what,
				 sizeof(what))) != NULL)
		d++;
	return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, MSG_VERIFY
			   "certificate at depth %zu has an unsupported key "
			   "(%s)", d, k != NULL ? k : "?");
}

/* Turns the flags of the path into one message, most telling first. */
static int path_error(const struct vpath *v, const mbedtls_x509_crt *chain,
		      spiffe_errbuf *eb)
{
	char tb[32], hb[96];
	size_t d;
	uint32_t f;

	if (v->depth == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
				   "certificate path could not be built");
	/* Like Go: the leaf's own validity first. */
	f = v->flags[0];
	if (f & MBEDTLS_X509_BADCERT_EXPIRED)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, MSG_VERIFY
				   "certificate has expired (not after %s)",
				   x509_time_str(&v->crt[0]->valid_to, tb,
						 sizeof(tb)));
	if (f & MBEDTLS_X509_BADCERT_FUTURE)
		return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, MSG_VERIFY
				   "certificate is not yet valid (not before "
				   "%s)", x509_time_str(&v->crt[0]->valid_from,
							tb, sizeof(tb)));
	for (d = 0; d < v->depth; d++) {
		if (v->flags[d] & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
			return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
					   "certificate signed by unknown "
					   "authority%s",
					   v->crt[d] == NULL ? "" :
					   untrusted_hint(chain, v->crt[d],
							  hb, sizeof(hb)));
	}
	for (d = 1; d < v->depth; d++) {
		f = v->flags[d];
		if (f & MBEDTLS_X509_BADCERT_EXPIRED)
			return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, MSG_VERIFY
					   "CA certificate at depth %zu has "
					   "expired (not after %s)", d,
					   x509_time_str(&v->crt[d]->valid_to,
							 tb, sizeof(tb)));
		if (f & MBEDTLS_X509_BADCERT_FUTURE)
			return spiffe_fail(eb, SPIFFE_ERR_EXPIRED, MSG_VERIFY
					   "CA certificate at depth %zu is "
					   "not yet valid (not before %s)", d,
					   x509_time_str(
						   &v->crt[d]->valid_from, tb,
						   sizeof(tb)));
	}
	for (d = 0; d < v->depth; d++) {
		f = v->flags[d];
		if (f & MBEDTLS_X509_BADCERT_BAD_MD)
			return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
					   MSG_VERIFY "certificate at depth "
					   "%zu is signed with a hash other "
					   "than SHA-256, SHA-384 or SHA-512",
					   d);
		if (f & MBEDTLS_X509_BADCERT_BAD_PK)
			return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
					   MSG_VERIFY "certificate at depth "
					   "%zu has an unsupported public key "
					   "or signature algorithm", d);
		if (f & MBEDTLS_X509_BADCERT_BAD_KEY)
			return bad_key(v, d, eb);
	}
	for (d = 0, f = 0; d < v->depth; d++)
		f |= v->flags[d];
	return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY "verification "
			   "failed (mbedTLS flags 0x%08x)", (unsigned)f);
}

/* 1 if c is one of the certificates of the list. */
static int in_list(const mbedtls_x509_crt *list, const mbedtls_x509_crt *c)
{
	for (; list != NULL; list = list->next) {
		if (list == c)
			return 1;
	}
	return 0;
}

/* The SVID rules on the peer's leaf (go-spiffe Verify and X509-SVID 5.2). */
static int check_peer_leaf(const mbedtls_x509_crt *leaf, spiffe_id *id,
			   spiffe_errbuf *eb)
{
	int rc;

	rc = spiffe_x509_id_from_cert(leaf, id, eb);
	if (rc != 0)
		return spiffe_wrap(eb, SPIFFE_ERR_X509,
				   "x509svid: could not get leaf SPIFFE ID");
	if (root_id(id))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate SPIFFE ID "
				   "must have a non-root path");
	if (is_ca(leaf))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate with CA flag "
				   "set to true");
	if (ku_has(leaf, MBEDTLS_X509_KU_KEY_CERT_SIGN))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate with "
				   "KeyCertSign key usage");
	if (ku_has(leaf, MBEDTLS_X509_KU_CRL_SIGN))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate with "
				   "KeyCrlSign key usage");
	if (!has_ku(leaf))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate without key "
				   "usage extension");
	if (!ku_has(leaf, MBEDTLS_X509_KU_DIGITAL_SIGNATURE))
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: leaf certificate without "
				   "DigitalSignature key usage");
	return 0;
}

static int verify(const mbedtls_x509_crt *chain,
		  const spiffe_bundle_set *bundles, spiffe_id *id,
		  spiffe_x509_verified *vc, spiffe_errbuf *eb)
{
	const spiffe_bundle *b;
	const mbedtls_x509_crt *c;
	const char *what;
	struct vpath v;
	spiffe_td td;
	uint32_t flags = 0;
	size_t n = 0, d;
	int rc;

	if (chain == NULL || chain->raw.len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: empty certificates chain");
	if (bundles == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "x509svid: bundle set is required");
	for (c = chain; c != NULL; c = c->next, n++) {
		if (n >= SPIFFE_X509_MAX_CHAIN)
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
					   "x509svid: certificate chain has "
					   "more than %d certificates",
					   SPIFFE_X509_MAX_CHAIN);
		if (c->raw.len == 0 || c->raw.len > SPIFFE_X509_MAX_DER)
			return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
					   "x509svid: certificate %zu is %zu "
					   "bytes, outside 1..%u", n,
					   c->raw.len,
					   (unsigned)SPIFFE_X509_MAX_DER);
	}
	if ((rc = check_peer_leaf(chain, id, eb)) != 0)
		return rc;

	spiffe_id_td(id, &td);
	b = spiffe_bundle_set_get(bundles, &td);
	if (b == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND,
				   "x509svid: could not get X509 bundle: "
				   "x509bundle: no X.509 bundle for trust "
				   "domain \"%s\"", td.name);
	/* An empty bundle trusts nothing (Go: an empty, non-nil pool). */
	if (b->nx509 == 0 || b->x509.raw.len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
				   "certificate signed by unknown authority");

	/*
	 * RFC 5280 path validation.  mbedTLS takes non-const lists but does
	 * not modify them; the rest of the chain serves as intermediates,
	 * the bundle's CAs as trust anchors, and no host name is checked.
	 */
	memset(&v, 0, sizeof(v));
	v.now = spiffe_now();
	rc = mbedtls_x509_crt_verify_with_profile(
		(mbedtls_x509_crt *)chain, (mbedtls_x509_crt *)&b->x509,
		NULL, &svid_profile, NULL, &flags, verify_cb, &v);
	/* verify_cb never fails, so this is the path length limit. */
	if (rc == MBEDTLS_ERR_X509_FATAL_ERROR)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, MSG_VERIFY
				   "certificate path has more than %d "
				   "intermediate CAs",
				   MBEDTLS_X509_MAX_INTERMEDIATE_CA);
	if (rc != 0 && rc != MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		char m[160];

		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
				   "certificate path could not be built: %s",
				   mbed_str(rc, m, sizeof(m)));
	}
	if (flags != 0 || rc != 0 || v.overflow)
		return path_error(&v, chain, eb);

	/*
	 * mbedTLS accepts a self-signed end-entity certificate found as is
	 * in the trust anchors (a path of one).  A SPIFFE bundle holds
	 * signing authorities; a leaf must chain to one of them.
	 */
	if (v.depth < 2 || v.crt[0] != chain)
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
				   "leaf certificate is itself in the X.509 "
				   "bundle; an X.509-SVID must chain to a CA "
				   "of the bundle");
	for (d = 0; d < v.depth; d++) {
		if (v.crt[d] == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
					   "certificate path has a gap");
	}
	if (!in_list(&b->x509, v.crt[v.depth - 1]))
		return spiffe_fail(eb, SPIFFE_ERR_X509, MSG_VERIFY
				   "certificate path does not end at a CA of "
				   "the bundle");
	for (d = 1; d < v.depth; d++) {
		if ((what = unprocessed_constraint(v.crt[d])) != NULL)
			return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
					   MSG_VERIFY "CA certificate at "
					   "depth %zu has %s, which is not "
					   "supported", d, what);
	}

	if (vc != NULL) {
		vc->depth = v.depth;
		vc->not_after = INT64_MAX;
		for (d = 0; d < v.depth; d++) {
			int64_t na = x509_unix(&v.crt[d]->valid_to);

			vc->path[d] = v.crt[d];
			if (na < vc->not_after)
				vc->not_after = na;
		}
		vc->anchor = v.crt[v.depth - 1];
	}
	return 0;
}

int spiffe_x509svid_verify(const mbedtls_x509_crt *chain,
			   const spiffe_bundle_set *bundles, spiffe_id *id,
			   spiffe_x509_verified *vc, spiffe_errbuf *eb)
{
	int rc;

	if (vc != NULL)
		memset(vc, 0, sizeof(*vc));
	if (id == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509svid_verify: NULL argument");
	memset(id, 0, sizeof(*id));
	rc = verify(chain, bundles, id, vc, eb);
	if (rc != 0) {
		memset(id, 0, sizeof(*id));
		if (vc != NULL)
			memset(vc, 0, sizeof(*vc));
	}
	return rc;
}

/* ---- copying and writing ------------------------------------------------ */

int spiffe_x509_chain_copy(mbedtls_x509_crt *dst,
			   const mbedtls_x509_crt *src, spiffe_errbuf *eb)
{
	mbedtls_x509_crt tmp;
	const mbedtls_x509_crt *c;
	char m[160];
	int rc = 0;

	if (dst == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_chain_copy: NULL argument");
	mbedtls_x509_crt_init(&tmp);
	for (c = src; c != NULL && c->raw.len > 0; c = c->next) {
		rc = mbedtls_x509_crt_parse_der(&tmp, c->raw.p, c->raw.len);
		if (rc != 0)
			break;
	}
	if (rc != 0) {
		mbedtls_x509_crt_free(&tmp);
		if (rc == MBEDTLS_ERR_X509_ALLOC_FAILED)
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "x509svid: cannot copy certificate: %s",
				   mbed_str(rc, m, sizeof(m)));
	}
	mbedtls_x509_crt_free(dst);
	*dst = tmp;             /* nothing points into the head: a move */
	return 0;
}

/* PEM-encodes der into buf[0..size) (NUL included in *olen), or, with
 * buf NULL, sets *olen to the size needed. */
static int pem_block(const char *begin, const char *end,
		     const unsigned char *der, size_t len, unsigned char *buf,
		     size_t size, size_t *olen)
{
	int rc = mbedtls_pem_write_buffer(begin, end, der, len, buf, size,
					  olen);

	if (buf == NULL && rc == MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL)
		return 0;
	return rc;
}

int spiffe_x509_chain_write_pem(const mbedtls_x509_crt *chain, char **out,
				size_t *len, spiffe_errbuf *eb)
{
	const mbedtls_x509_crt *c;
	size_t total = 1, off = 0, n;
	char *buf;

	if (out == NULL || len == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_chain_write_pem: NULL "
				   "argument");
	*out = NULL;
	*len = 0;
	for (c = chain; c != NULL && c->raw.len > 0; c = c->next) {
		if (pem_block(PEM_CRT_BEGIN "\n", PEM_CRT_END "\n", c->raw.p,
			      c->raw.len, NULL, 0, &n) != 0)
			return spiffe_fail(eb, SPIFFE_ERR_X509,
					   "x509svid: cannot encode PEM");
		total += n;     /* n counts a NUL; total keeps only one */
	}
	if ((buf = malloc(total)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	buf[0] = '\0';
	for (c = chain; c != NULL && c->raw.len > 0; c = c->next) {
		if (pem_block(PEM_CRT_BEGIN "\n", PEM_CRT_END "\n", c->raw.p,
			      c->raw.len, (unsigned char *)buf + off,
			      total - off, &n) != 0 || n == 0) {
			free(buf);
			return spiffe_fail(eb, SPIFFE_ERR_X509,
					   "x509svid: cannot encode PEM");
		}
		off += n - 1;
	}
	*out = buf;
	*len = off;
	return 0;
}

/*
 * PrivateKeyInfo ::= SEQUENCE { version INTEGER (0), algorithm
 * AlgorithmIdentifier, privateKey OCTET STRING } (RFC 5208), around the
 * SEC1 or PKCS#1 key mbedTLS writes.  Written backwards from the end of
 * buf, as mbedTLS's ASN.1 writer does; returns the length or an error.
 */
static int write_pkcs8(const mbedtls_pk_context *key, unsigned char *buf,
		       size_t size)
{
	unsigned char *p = buf + size;
	const char *oid = NULL, *curve = NULL;
	size_t oid_len = 0, curve_len = 0, len = 0, par = 0;
	mbedtls_pk_type_t t = mbedtls_pk_get_type(key);
	int rc;

	if (t == MBEDTLS_PK_ECKEY) {
		mbedtls_ecp_group_id g =
			mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*key));

		if (mbedtls_oid_get_oid_by_ec_grp(g, &curve, &curve_len) != 0)
			return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;
	} else if (t != MBEDTLS_PK_RSA) {
		return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;
	}
	if (mbedtls_oid_get_oid_by_pk_alg(t, &oid, &oid_len) != 0)
		return MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE;

#define W(acc, call)                                                \
	do {                                                        \
		if ((rc = (call)) < 0)                              \
			return rc;                                  \
		(acc) += (size_t)rc;                                \
	} while (0)
	W(len, mbedtls_pk_write_key_der(key, buf, size));
	p -= len;
	W(len, mbedtls_asn1_write_len(&p, buf, len));
	W(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_OCTET_STRING));
	/* Parameters: the named curve for EC, NULL for RSA (RFC 3279). */
	if (curve != NULL)
		W(par, mbedtls_asn1_write_oid(&p, buf, curve, curve_len));
	else
		W(par, mbedtls_asn1_write_null(&p, buf));
	/* This one returns the parameters' length too. */
	W(len, mbedtls_asn1_write_algorithm_identifier_ext(&p, buf, oid,
							    oid_len, par, 1));
	W(len, mbedtls_asn1_write_int(&p, buf, 0));
	W(len, mbedtls_asn1_write_len(&p, buf, len));
	W(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
				      MBEDTLS_ASN1_SEQUENCE));
#undef W
	return (int)len;
}

int spiffe_x509_key_write_pkcs8(const mbedtls_pk_context *key,
				uint8_t **out, size_t *len,
				spiffe_errbuf *eb)
{
	unsigned char *buf;
	uint8_t *der;
	char m[160];
	int rc;

	if (key == NULL || out == NULL || len == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_key_write_pkcs8: NULL "
				   "argument");
	*out = NULL;
	*len = 0;
	if ((buf = malloc(SPIFFE_X509_MAX_KEY)) == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rc = write_pkcs8(key, buf, SPIFFE_X509_MAX_KEY);
	if (rc > 0 && (der = malloc((size_t)rc)) != NULL) {
		memcpy(der, buf + SPIFFE_X509_MAX_KEY - rc, (size_t)rc);
		*out = der;
		*len = (size_t)rc;
	}
	mbedtls_platform_zeroize(buf, SPIFFE_X509_MAX_KEY);
	free(buf);
	if (rc == MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE)
		return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED,
				   "x509svid: cannot write private key: only "
				   "EC and RSA keys are supported");
	if (rc <= 0)
		return spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
				   "x509svid: cannot write private key: %s",
				   mbed_str(rc, m, sizeof(m)));
	if (*out == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	return 0;
}

int spiffe_x509_key_write_pem(const mbedtls_pk_context *key, char **out,
			      size_t *len, spiffe_errbuf *eb)
{
	uint8_t *der;
	size_t dlen, n = 0;
	char *buf = NULL;
	int rc;

	if (out == NULL || len == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_x509_key_write_pem: NULL argument");
	*out = NULL;
	*len = 0;
	if ((rc = spiffe_x509_key_write_pkcs8(key, &der, &dlen, eb)) != 0)
		return rc;
	if (pem_block(PEM_KEY_BEGIN "\n", PEM_KEY_END "\n", der, dlen, NULL,
		      0, &n) != 0 || n == 0 || (buf = malloc(n)) == NULL ||
	    pem_block(PEM_KEY_BEGIN "\n", PEM_KEY_END "\n", der, dlen,
		      (unsigned char *)buf, n, &n) != 0) {
		rc = buf == NULL && n > 0 ?
		     spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory") :
		     spiffe_fail(eb, SPIFFE_ERR_CRYPTO,
				 "x509svid: cannot encode PEM");
		if (buf != NULL) {
			mbedtls_platform_zeroize(buf, n);
			free(buf);
		}
	} else {
		*out = buf;
		*len = n - 1;
	}
	mbedtls_platform_zeroize(der, dlen);
	free(der);
	return rc;
}
