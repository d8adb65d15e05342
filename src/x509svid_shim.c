/*
 * x509svid_shim.c - TEMPORARY stand-in for h/x509 (see x509svid.h):
 * just enough SPIFFE verification for the TLS tests.  Deleted on merge.
 */
#include "x509svid.h"

#include <string.h>

#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>

#include "rng.h"

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
	mbedtls_pk_free(&svid->key);
	spiffe_x509svid_init(svid);
}

int spiffe_x509_id_from_cert(const mbedtls_x509_crt *crt, spiffe_id *id,
			     spiffe_errbuf *eb)
{
	const mbedtls_x509_sequence *s;
	const mbedtls_x509_buf *uri = NULL;
	int n = 0;

	memset(id, 0, sizeof(*id));
	for (s = &crt->subject_alt_names; s != NULL && s->buf.p != NULL;
	     s = s->next) {
		if ((s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) ==
		    MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER) {
			uri = &s->buf;
			n++;
		}
	}
	if (n == 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "certificate contains no URI SAN");
	if (n > 1)
		return spiffe_fail(eb, SPIFFE_ERR_X509,
				   "certificate contains more than one URI SAN");
	return spiffe_id_parse(id, (const char *)uri->p, uri->len, eb);
}

static int finish(spiffe_x509svid *svid, spiffe_x509svid *tmp,
		  spiffe_errbuf *eb)
{
	int rc;

	rc = spiffe_x509_id_from_cert(&tmp->chain, &tmp->id, eb);
	if (rc != 0)
		return rc;
	if (tmp->chain.MBEDTLS_PRIVATE(ca_istrue))
		return spiffe_fail(eb, SPIFFE_ERR_X509, "x509svid: leaf "
				   "certificate must not have CA flag set");
	if (mbedtls_pk_check_pair(&tmp->chain.pk, &tmp->key, spiffe_rng,
				  NULL) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_X509, "x509svid: leaf "
				   "certificate does not match private key");
	for (const mbedtls_x509_crt *c = &tmp->chain; c && c->raw.p;
	     c = c->next)
		tmp->nchain++;
	spiffe_x509svid_free(svid);
	*svid = *tmp;
	return 0;
}

int spiffe_x509svid_parse_pem(spiffe_x509svid *svid, const char *certs,
			      size_t certs_len, const char *key,
			      size_t key_len, spiffe_errbuf *eb)
{
	spiffe_x509svid tmp;
	int rc;

	spiffe_x509svid_init(&tmp);
	/* mbedTLS wants PEM text with its terminating NUL counted. */
	if (certs_len == 0 || certs[certs_len - 1] != '\0' || key_len == 0 ||
	    key[key_len - 1] != '\0') {
		rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "shim: PEM needs NUL");
		goto out;
	}
	if (mbedtls_x509_crt_parse(&tmp.chain, (const uint8_t *)certs,
				   certs_len) != 0 ||
	    mbedtls_pk_parse_key(&tmp.key, (const uint8_t *)key, key_len,
				 NULL, 0, spiffe_rng, NULL) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_X509, "x509svid: cannot "
				 "parse PEM");
		goto out;
	}
	rc = finish(svid, &tmp, eb);
	if (rc == 0)
		return 0;
out:
	spiffe_x509svid_free(&tmp);
	return rc;
}

int spiffe_x509svid_parse_der(spiffe_x509svid *svid, const uint8_t *chain,
			      size_t chain_len, const uint8_t *key,
			      size_t key_len, spiffe_errbuf *eb)
{
	(void)svid; (void)chain; (void)chain_len; (void)key; (void)key_len;
	return spiffe_fail(eb, SPIFFE_ERR_UNSUPPORTED, "shim: no DER");
}

int spiffe_x509svid_verify(const mbedtls_x509_crt *chain,
			   const spiffe_bundle_set *bundles, spiffe_id *id,
			   spiffe_x509_verified *vc, spiffe_errbuf *eb)
{
	const spiffe_bundle *b;
	spiffe_td td;
	uint32_t flags = 0;
	int rc;

	if (vc != NULL)
		memset(vc, 0, sizeof(*vc));
	rc = spiffe_x509_id_from_cert(chain, id, eb);
	if (rc != 0)
		return spiffe_wrap(eb, SPIFFE_ERR_X509, "x509svid: could not "
				   "get leaf SPIFFE ID");
	if (chain->MBEDTLS_PRIVATE(ca_istrue)) {
		memset(id, 0, sizeof(*id));
		return spiffe_fail(eb, SPIFFE_ERR_X509, "x509svid: leaf "
				   "certificate with CA flag set to true");
	}
	spiffe_id_td(id, &td);
	b = bundles ? spiffe_bundle_set_get(bundles, &td) : NULL;
	if (b == NULL) {
		memset(id, 0, sizeof(*id));
		return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "x509svid: could "
				   "not get X509 bundle: x509bundle: no X.509 "
				   "bundle for trust domain \"%s\"", td.name);
	}
	rc = mbedtls_x509_crt_verify((mbedtls_x509_crt *)chain,
				     (mbedtls_x509_crt *)&b->x509, NULL,
				     NULL, &flags, NULL, NULL);
	if (rc != 0 || b->nx509 == 0) {
		memset(id, 0, sizeof(*id));
		if (flags & (MBEDTLS_X509_BADCERT_EXPIRED |
			     MBEDTLS_X509_BADCERT_FUTURE))
			return spiffe_fail(eb, SPIFFE_ERR_EXPIRED,
					   "x509svid: could not verify leaf "
					   "certificate: certificate has "
					   "expired or is not yet valid");
		return spiffe_fail(eb, SPIFFE_ERR_X509, "x509svid: could not "
				   "verify leaf certificate: certificate "
				   "signed by unknown authority");
	}
	return 0;
}
