/*
 * fuzz_jwtsvid.c - JWT-SVID parse_insecure and parse_and_validate on
 * arbitrary bytes, against a fixed bundle set (the committed vector keys,
 * test/data/bundle/jwks-valid.json; run from the repo root) and a fixed
 * clock.  Invariants: validation never succeeds where the insecure parse
 * fails, agrees with it on what it read, and a valid token gives the
 * same result and the same claims when stored in and restored from the
 * verified-token cache.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "clock.h"
#include "jwtsvid.h"

#define NOW 1767225600

static spiffe_bundle_set *set;
static spiffe_jwt_cache cache;
static spiffe_jwt_svid s1, s2, s3;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char text[1 << 16];
	FILE *f = fopen("test/data/bundle/jwks-valid.json", "rb");
	spiffe_td td;
	spiffe_bundle b;
	spiffe_errbuf eb;
	size_t len;

	if (f == NULL) {
		fprintf(stderr, "fuzz_jwtsvid: run from the repo root\n");
		abort();
	}
	len = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (spiffe_td_parse(&td, "example.org", 11, &eb) != 0)
		abort();
	spiffe_bundle_init(&b, &td);
	set = spiffe_bundle_set_new();
	if (set == NULL || spiffe_bundle_set_jwks(&b, text, len, &eb) != 0 ||
	    spiffe_bundle_set_put(set, &b, &eb) != 0 ||
	    spiffe_jwt_cache_init(&cache, 16, &eb) != 0)
		abort();
	spiffe_bundle_free(&b);
	spiffe_jwtsvid_init(&s1);
	spiffe_jwtsvid_init(&s2);
	spiffe_jwtsvid_init(&s3);
	spiffe_clock_set(NOW);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const aud[] = {
		"spiffe://example.org/server", "x"
	};
	const char *tok = (const char *)data;
	spiffe_jwt_options o;
	spiffe_errbuf eb;
	int r1, r2, r3;

	spiffe_jwt_options_init(&o);
	r1 = spiffe_jwtsvid_parse_insecure(&s1, tok, size, &eb);
	r2 = spiffe_jwtsvid_parse_and_validate(&s2, tok, size, set, aud, 2,
					       &o, &eb);
	if (r2 != 0)
		return 0;       /* never cached: the cache cannot change it */
	/* Valid: through the cache twice (store, then hit), same result. */
	o.cache = &cache;
	for (int i = 0; i < 2; i++) {
		r3 = spiffe_jwtsvid_parse_and_validate(&s3, tok, size, set,
						       aud, 2, &o, &eb);
		if (r3 != r2)
			abort();
	}
	if (r1 != 0 || !spiffe_id_equal(&s1.id, &s2.id) ||
	    !spiffe_id_equal(&s2.id, &s3.id) || s1.naud != s2.naud ||
	    s3.naud != s2.naud || s1.exp != s2.exp || s3.exp != s2.exp ||
	    s1.alg != s2.alg || s2.kid.len == 0 ||
	    s2.claims.len != s3.claims.len ||
	    memcmp(s2.claims.p, s3.claims.p, s2.claims.len) != 0)
		abort();
	return 0;
}
