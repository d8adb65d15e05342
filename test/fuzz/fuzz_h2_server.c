/*
 * fuzz_h2_server - a server session fed arbitrary frames after a valid
 * client preface and SETTINGS; the application answers some streams,
 * consumes everything and resets as the bytes say.  See
 * fuzz_h2_common.h for the input format and invariants.
 */
#include "fuzz_h2_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const uint8_t hello[] =
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
		"\0\0\x0c\x04\0\0\0\0\0" "\0\x04\0\x10\0\0" "\0\x06\0\0\x40\0";
	struct fz *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return 0;
	if (spiffe_h2_init(&x->s, SPIFFE_H2_SERVER, &fz_cbs, x, NULL) != 0 ||
	    spiffe_h2_feed(&x->s, hello, sizeof(hello) - 1) != 0)
		abort();
	fz_drain(x);
	fz_run(x, d, n);
	spiffe_h2_free(&x->s);
	free(x);
	return 0;
}
