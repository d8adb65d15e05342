/*
 * rng.h - the process-wide random generator and crypto start-up.
 *
 * One CTR-DRBG seeded from the platform entropy source (getrandom),
 * created on first use and shared by every thread (mbedTLS locks it).
 * This and the PSA crypto subsystem are libspiffe's only process-wide
 * state; spiffe_crypto_init() starts both and is safe to call often.
 */
#ifndef SPIFFE_RNG_H
#define SPIFFE_RNG_H

#include <stddef.h>

#include "err.h"

/* Starts PSA crypto and the DRBG once; 0 or SPIFFE_ERR_CRYPTO. */
SPIFFE_CHECK int spiffe_crypto_init(void);

/*
 * Fills out with len random bytes; the signature of mbedTLS's f_rng, so
 * it can be passed as (spiffe_rng, NULL).  Returns 0 or an mbedTLS error.
 */
int spiffe_rng(void *unused, unsigned char *out, size_t len);

#endif
