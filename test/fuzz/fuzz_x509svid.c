/*
 * fuzz_x509svid.c - X.509-SVID parsing and verification.
 *
 * Input: a 2-byte big-endian header, then n bytes of concatenated DER
 * certificates (leaf first), then a PKCS#8 DER key: the two byte fields of
 * the Workload API's X509SVID.  The header's low 14 bits are n; its top
 * two bits pick what runs (each costs public-key operations, so one input
 * does one thing): 0 parses the fields as a DER SVID, 1 as a PEM SVID,
 * 2 verifies the chain, split as the Workload API sends it, against a
 * fixed bundle set read from test/data/x509svid/, 3 does all three.  A
 * parsed SVID must write out and parse back the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/platform_util.h>

#include "bundle.h"
#include "clock.h"
#include "x509svid.h"

#define DATA "test/data/x509svid/"

static spiffe_bundle_set *bundles;

static void add_bundle(const char *td, const char *file)
{
	static uint8_t buf[65536];
	spiffe_bundle b;
	spiffe_td t;
	FILE *f = fopen(file, "rb");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "fuzz_x509svid: run from the repository root "
			"(cannot open %s)\n", file);
		abort();
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (spiffe_td_parse(&t, td, strlen(td), NULL) != 0)
		abort();
	spiffe_bundle_init(&b, &t);
	if (spiffe_bundle_set_x509_pem(&b, (const char *)buf, n, NULL) != 0 ||
	    spiffe_bundle_set_put(bundles, &b, NULL) != 0)
		abort();
	spiffe_bundle_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	spiffe_clock_set(1780272000);   /* 2026-06-01, as the unit tests */
	if ((bundles = spiffe_bundle_set_new()) == NULL)
		abort();
	add_bundle("example.org", DATA "root-ca.pem");
	add_bundle("other.org", DATA "other-td-root-ca.pem");
	return 0;
}

/* Splits der into certificates the way the Workload API client does. */
static void verify_chain(const uint8_t *der, size_t len)
{
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	spiffe_id id;
	spiffe_errbuf eb;
	size_t off = 0, n = 0;

	mbedtls_x509_crt_init(&chain);
	while (off < len && n < SPIFFE_X509_MAX_CHAIN) {
		unsigned char *p = (unsigned char *)der + off;
		size_t body;

		if (mbedtls_asn1_get_tag(&p, der + len, &body,
					 MBEDTLS_ASN1_CONSTRUCTED |
					 MBEDTLS_ASN1_SEQUENCE) != 0)
			break;
		body += (size_t)(p - (der + off));
		if (mbedtls_x509_crt_parse_der(&chain, der + off, body) != 0)
			break;
		off += body;
		n++;
	}
	if (spiffe_x509svid_verify(&chain, bundles, &id, &vc, &eb) == 0) {
		if (vc.depth < 2 || vc.path[0] != &chain || id.len == 0)
			abort();
	} else if (id.len != 0 || vc.depth != 0) {
		abort();
	}
	mbedtls_x509_crt_free(&chain);
}

/* A parsed SVID writes out as PEM and PKCS#8 and parses back the same. */
static void round_trip(const spiffe_x509svid *s)
{
	spiffe_x509svid t;
	uint8_t *key = NULL;
	char *pem = NULL, *kpem = NULL;
	size_t klen = 0, plen = 0, kplen = 0;

	spiffe_x509svid_init(&t);
	if (spiffe_x509_key_write_pkcs8(&s->key, &key, &klen, NULL) != 0 ||
	    spiffe_x509_chain_write_pem(&s->chain, &pem, &plen, NULL) != 0 ||
	    spiffe_x509_key_write_pem(&s->key, &kpem, &kplen, NULL) != 0 ||
	    spiffe_x509svid_parse_pem(&t, pem, plen, kpem, kplen, NULL) != 0 ||
	    t.nchain != s->nchain || !spiffe_id_equal(&t.id, &s->id))
		abort();
	mbedtls_platform_zeroize(key, klen);
	free(key);
	free(pem);
	free(kpem);
	spiffe_x509svid_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_x509svid s;
	spiffe_errbuf eb;
	size_t n;
	int mode;

	if (size < 2)
		return 0;
	mode = data[0] >> 6;
	n = (size_t)(data[0] & 0x3f) << 8 | data[1];
	data += 2;
	size -= 2;
	if (n > size)
		n = size;

	spiffe_x509svid_init(&s);
	if ((mode == 0 || mode == 3) &&
	    spiffe_x509svid_parse_der(&s, data, n, data + n, size - n,
				      &eb) == 0)
		round_trip(&s);
	spiffe_x509svid_free(&s);
	if ((mode == 1 || mode == 3) &&
	    spiffe_x509svid_parse_pem(&s, (const char *)data, n,
				      (const char *)data + n, size - n,
				      &eb) == 0)
		round_trip(&s);
	spiffe_x509svid_free(&s);
	if (mode >= 2)
		verify_chain(data, n);
	return 0;
}
