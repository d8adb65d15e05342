/*
 * fuzz_h2_client - a client session with three streams open (a unary
 * call and two watches) fed arbitrary frames after a valid server
 * SETTINGS.  See fuzz_h2_common.h for the input format and invariants.
 */
#include "fuzz_h2_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const uint8_t settings[] =
		"\0\0\x0c\x04\0\0\0\0\0" "\0\x03\0\0\0\x64" "\0\x04\0\x01\0\0";
	struct fz *x = calloc(1, sizeof(*x));
	uint32_t id;
	size_t acc;

	if (x == NULL)
		return 0;
	if (spiffe_h2_init(&x->s, SPIFFE_H2_CLIENT, &fz_cbs, x, NULL) != 0 ||
	    spiffe_h2_submit_request(&x->s, fz_req, 7, 0, &id) != 0 ||
	    spiffe_h2_send_data(&x->s, id, (const uint8_t *)"\0\0\0\0\0", 5,
				1, &acc) != 0 ||
	    spiffe_h2_submit_request(&x->s, fz_req, 7, 0, &id) != 0 ||
	    spiffe_h2_submit_request(&x->s, fz_req, 7, 1, &id) != 0)
		abort();
	fz_drain(x);
	if (spiffe_h2_feed(&x->s, settings, sizeof(settings) - 1) != 0)
		abort();
	fz_drain(x);
	fz_run(x, d, n);
	spiffe_h2_free(&x->s);
	free(x);
	return 0;
}
