/*
 * fuzz_jwks.c - spiffe_bundle_set_jwks and spiffe_bundle_parse_spiffe on
 * arbitrary bytes.  Invariants: a failed parse leaves the bundle as it
 * was; what parses marshals, and the marshalled form parses back to the
 * same authorities.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"

static spiffe_td td;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same_counts(const spiffe_bundle *a, const spiffe_bundle *b)
{
	if (a->njwt != b->njwt || a->nx509 != b->nx509)
		abort();
	for (size_t i = 0; i < a->njwt; i++) {
		if (spiffe_bundle_find_jwt(b, a->jwt[i].kid,
					   a->jwt[i].kid_len) == NULL)
			abort();
	}
}

static void round_trip(const spiffe_bundle *b)
{
	spiffe_bundle c;
	spiffe_errbuf eb;
	char *out = NULL;
	size_t len = 0;

	if (spiffe_bundle_marshal_spiffe(b, &out, &len, &eb) != 0)
		abort();
	spiffe_bundle_init(&c, &td);
	if (spiffe_bundle_parse_spiffe(&c, out, len, &eb) != 0)
		abort();
	free(out);
	check_same_counts(b, &c);
	if (c.has_sequence != b->has_sequence ||
	    c.sequence != b->sequence ||
	    c.has_refresh_hint != b->has_refresh_hint ||
	    c.refresh_hint != b->refresh_hint)
		abort();
	spiffe_bundle_free(&c);
	if (spiffe_bundle_marshal_jwks(b, &out, &len, &eb) != 0)
		abort();
	spiffe_bundle_init(&c, &td);
	if (spiffe_bundle_set_jwks(&c, out, len, &eb) != 0 ||
	    c.njwt != b->njwt)
		abort();
	free(out);
	spiffe_bundle_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char seed[] = "{\"keys\":[]}";
	spiffe_bundle b;
	spiffe_errbuf eb;
	size_t njwt;

	if (td.len == 0 && spiffe_td_parse(&td, "example.org", 11, &eb) != 0)
		abort();
	spiffe_bundle_init(&b, &td);
	if (spiffe_bundle_set_jwks(&b, (const char *)data, size, &eb) == 0)
		round_trip(&b);
	njwt = b.njwt;
	if (spiffe_bundle_parse_spiffe(&b, (const char *)data, size, &eb) ==
	    0) {
		round_trip(&b);
	} else if (b.njwt != njwt || b.has_sequence) {
		abort();        /* must be unchanged on error */
	}
	if (spiffe_bundle_set_jwks(&b, seed, sizeof(seed) - 1, &eb) != 0 ||
	    b.njwt != 0)
		abort();
	spiffe_bundle_free(&b);
	return 0;
}
