/*
 * fuzz_b64 - strict base64 decoders on arbitrary text, and encoders on
 * arbitrary bytes.
 *
 * Decoding is strict, so whatever decodes must encode back to exactly
 * the input; whatever is encoded must decode back to the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

#define MAX_IN 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bin[SPIFFE_B64_DECODED_MAX(MAX_IN)];
	static char txt[MAX_IN / 3 * 4 + 8];
	const char *s = (const char *)data;
	size_t n, m;

	if (size > MAX_IN)
		return 0;
	if (spiffe_b64url_decode(bin, sizeof(bin), &n, s, size) == 0) {
		if (spiffe_b64url_encode(txt, sizeof(txt), &m, bin, n) != 0 ||
		    m != size || memcmp(txt, s, size) != 0)
			abort();
	} else if (n != 0) {
		abort();
	}
	if (spiffe_b64std_decode(bin, sizeof(bin), &n, s, size) == 0) {
		if (spiffe_b64std_encode(txt, sizeof(txt), &m, bin, n) != 0 ||
		    m != size || memcmp(txt, s, size) != 0)
			abort();
	} else if (n != 0) {
		abort();
	}
	/* The other way: bytes to text and back. */
	if (spiffe_b64url_encode(txt, sizeof(txt), &m, data, size) != 0 ||
	    m != SPIFFE_B64URL_ENCODED_LEN(size) ||
	    spiffe_b64url_decode(bin, sizeof(bin), &n, txt, m) != 0 ||
	    n != size || memcmp(bin, data, size) != 0)
		abort();
	if (spiffe_b64std_encode(txt, sizeof(txt), &m, data, size) != 0 ||
	    spiffe_b64std_decode(bin, sizeof(bin), &n, txt, m) != 0 ||
	    n != size || memcmp(bin, data, size) != 0)
		abort();
	return 0;
}
