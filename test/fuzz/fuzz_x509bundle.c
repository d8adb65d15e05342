/* Fuzz target: X.509 bundles from concatenated DER and from PEM. */
#include <stdint.h>
#include <stdlib.h>

#include "bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_td td = { 11, "example.org" };
	spiffe_bundle b;
	spiffe_errbuf eb;
	size_t n;

	spiffe_bundle_init(&b, &td);
	if (spiffe_bundle_set_x509_der(&b, data, size, &eb) == 0) {
		/* Every certificate kept is distinct and counted. */
		n = 0;
		for (mbedtls_x509_crt *c = &b.x509; c && c->raw.len; c = c->next)
			n++;
		if (n != b.nx509)
			abort();
	}
	if (spiffe_bundle_set_x509_pem(&b, (const char *)data, size, &eb) != 0
	    && b.nx509 > SPIFFE_BUNDLE_MAX_CERTS)
		abort();
	spiffe_bundle_free(&b);
	return 0;
}
