/* X.509 authorities of a bundle (DER and PEM forms) and bundle sets. */
#include "test.h"

#include <stdlib.h>

#include "bundle.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

static spiffe_td td_of(const char *s)
{
	spiffe_td td;

	if (spiffe_td_parse(&td, s, strlen(s), NULL) != 0)
		abort();
	return td;
}

#define DATA "test/data/x509svid/"

TEST(der_bundle_two_roots)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	size_t len;
	uint8_t *der = slurp(DATA "bundle.der", &len);

	CHECK(der != NULL);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_x509_der(&b, der, len, NULL), 0);
	CHECK_INT(b.nx509, 2);
	CHECK(b.x509.next != NULL);
	CHECK(b.x509.next->next == NULL);
	/* Adding a root already present keeps one copy. */
	CHECK_INT(spiffe_bundle_add_x509(&b, b.x509.raw.p, b.x509.raw.len,
					 NULL), 0);
	CHECK_INT(b.nx509, 2);
	spiffe_bundle_free(&b);
	spiffe_bundle_free(&b);
	free(der);
}

TEST(der_duplicates_collapse)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	size_t len;
	uint8_t *one = slurp(DATA "root-ca.der", &len);
	uint8_t *two = malloc(2 * len);

	CHECK(one != NULL && two != NULL);
	memcpy(two, one, len);
	memcpy(two + len, one, len);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_x509_der(&b, two, 2 * len, NULL), 0);
	CHECK_INT(b.nx509, 1);
	spiffe_bundle_free(&b);
	free(one);
	free(two);
}

TEST(empty_der_is_an_empty_bundle)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	size_t len;
	uint8_t *der = slurp(DATA "root-ca.der", &len);

	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_x509_der(&b, der, len, NULL), 0);
	CHECK_INT(b.nx509, 1);
	/* The Workload API's empty bytes replace the roots with none. */
	CHECK_INT(spiffe_bundle_set_x509_der(&b, der, 0, NULL), 0);
	CHECK_INT(b.nx509, 0);
	CHECK_INT(b.x509.raw.len, 0);
	spiffe_bundle_free(&b);
	free(der);
}

TEST(bad_der_leaves_bundle_unchanged)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	spiffe_errbuf eb;
	size_t len;
	uint8_t *der = slurp(DATA "root-ca.der", &len);
	uint8_t *bad = malloc(len + 3);

	CHECK(der != NULL && bad != NULL);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_x509_der(&b, der, len, NULL), 0);

	/* Trailing garbage after a good certificate. */
	memcpy(bad, der, len);
	memcpy(bad + len, "\x30\x05\x00", 3);
	CHECK_INT(spiffe_bundle_set_x509_der(&b, bad, len + 3, &eb),
		  SPIFFE_ERR_BUNDLE);
	char want[128];
	snprintf(want, sizeof(want), "x509bundle: cannot parse certificate "
		 "at byte %zu: not a DER SEQUENCE within the input", len);
	CHECK_STR(eb.msg, want);
	CHECK_INT(b.nx509, 1);

	/* A truncated certificate. */
	CHECK_INT(spiffe_bundle_set_x509_der(&b, der, len - 1, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "x509bundle: cannot parse certificate at byte 0: "
		  "not a DER SEQUENCE within the input");

	/* A well-formed SEQUENCE that is not a certificate. */
	CHECK_INT(spiffe_bundle_set_x509_der(&b, (const uint8_t *)"\x30\x03"
					     "\x02\x01\x05", 5, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK(strncmp(eb.msg, "x509bundle: cannot parse certificate 1 "
		      "(mbedTLS -0x", 39) == 0);
	CHECK_INT(b.nx509, 1);
	CHECK_INT(b.x509.raw.len, len);
	spiffe_bundle_free(&b);
	free(der);
	free(bad);
}

TEST(pem_bundle)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	spiffe_errbuf eb;
	size_t len, dlen;
	uint8_t *pem = slurp(DATA "root-ca.pem", &len);
	uint8_t *der = slurp(DATA "root-ca.der", &dlen);

	CHECK(pem != NULL && der != NULL);
	spiffe_bundle_init(&b, &td);
	CHECK_INT(spiffe_bundle_set_x509_pem(&b, (char *)pem, len, &eb), 0);
	CHECK_INT(b.nx509, 1);
	CHECK_INT(b.x509.raw.len, dlen);
	CHECK_MEM(b.x509.raw.p, der, dlen);

	CHECK_INT(spiffe_bundle_set_x509_pem(&b, "hello", 5, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "x509bundle: no PEM certificate blocks found");
	/* A block whose END line is missing. */
	CHECK_INT(spiffe_bundle_set_x509_pem(&b, (char *)pem, len - 30, &eb),
		  SPIFFE_ERR_BUNDLE);
	CHECK_STR(eb.msg, "x509bundle: PEM block without END line");
	CHECK_INT(b.nx509, 1);
	/* No text at all, as (NULL, 0): no roots. */
	CHECK_INT(spiffe_bundle_set_x509_pem(&b, NULL, 0, &eb), 0);
	CHECK_INT(b.nx509, 0);
	spiffe_bundle_free(&b);
	free(pem);
	free(der);
}

TEST(certificate_count_limit)
{
	spiffe_td td = td_of("example.org");
	spiffe_bundle b;
	spiffe_errbuf eb;

	/* A bundle already at SPIFFE_BUNDLE_MAX_CERTS takes no more. */
	spiffe_bundle_init(&b, &td);
	b.nx509 = SPIFFE_BUNDLE_MAX_CERTS;
	CHECK_INT(spiffe_bundle_add_x509(&b, (const uint8_t *)"\x30\x00", 2,
					 &eb), SPIFFE_ERR_LIMIT);
	b.nx509 = 0;
	spiffe_bundle_free(&b);
}

TEST(set_put_get_replace)
{
	spiffe_td a = td_of("a.test"), bt = td_of("b.test");
	spiffe_td none = td_of("none.test");
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_bundle x;
	size_t len;
	uint8_t *der = slurp(DATA "bundle.der", &len);

	CHECK(s != NULL && der != NULL);
	spiffe_bundle_init(&x, &a);
	CHECK_INT(spiffe_bundle_set_x509_der(&x, der, len, NULL), 0);
	CHECK_INT(spiffe_bundle_set_put(s, &x, NULL), 0);
	CHECK_INT(x.nx509, 0);            /* moved out */
	spiffe_bundle_init(&x, &bt);
	CHECK_INT(spiffe_bundle_set_put(s, &x, NULL), 0);
	CHECK_INT(spiffe_bundle_set_count(s), 2);
	CHECK_INT(spiffe_bundle_set_get(s, &a)->nx509, 2);
	CHECK_INT(spiffe_bundle_set_get(s, &bt)->nx509, 0);
	CHECK(spiffe_bundle_set_get(s, &none) == NULL);
	/* Same trust domain again: replaced, not added. */
	spiffe_bundle_init(&x, &a);
	CHECK_INT(spiffe_bundle_set_put(s, &x, NULL), 0);
	CHECK_INT(spiffe_bundle_set_count(s), 2);
	CHECK_INT(spiffe_bundle_set_get(s, &a)->nx509, 0);
	CHECK_STR(spiffe_bundle_set_at(s, 1)->td.name, "b.test");
	CHECK(spiffe_bundle_set_at(s, 2) == NULL);
	spiffe_bundle_free(&x);
	spiffe_bundle_set_unref(s);
	free(der);
}

TEST(set_refcount_and_generation)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_bundle_set *t = spiffe_bundle_set_new();
	spiffe_bundle x;
	spiffe_errbuf eb;

	CHECK(s != NULL && t != NULL);
	CHECK(spiffe_bundle_set_generation(s) != 0);
	CHECK(spiffe_bundle_set_generation(t) > spiffe_bundle_set_generation(s));
	CHECK(spiffe_bundle_set_ref(s) == s);
	spiffe_bundle_set_unref(s);     /* still one holder */
	CHECK_INT(spiffe_bundle_set_count(s), 0);
	spiffe_bundle_init(&x, NULL);
	CHECK_INT(spiffe_bundle_set_put(s, &x, &eb), SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "bundle has no trust domain");
	spiffe_bundle_set_unref(s);
	spiffe_bundle_set_unref(t);
	spiffe_bundle_set_unref(NULL);
	CHECK(spiffe_bundle_set_get(NULL, NULL) == NULL);
	CHECK_INT(spiffe_bundle_set_count(NULL), 0);
}

int main(void)
{
	RUN(der_bundle_two_roots);
	RUN(der_duplicates_collapse);
	RUN(empty_der_is_an_empty_bundle);
	RUN(bad_der_leaves_bundle_unchanged);
	RUN(pem_bundle);
	RUN(certificate_count_limit);
	RUN(set_put_get_replace);
	RUN(set_refcount_and_generation);
	return test_summary();
}
