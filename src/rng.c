#include "rng.h"

#include <pthread.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <psa/crypto.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc = SPIFFE_ERR_CRYPTO;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;

static void init_once(void)
{
	static const unsigned char pers[] = "libspiffe";

	if (psa_crypto_init() != PSA_SUCCESS)
		return;
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, pers,
				  sizeof(pers) - 1) != 0)
		return;
	init_rc = 0;
}

int spiffe_crypto_init(void)
{
	pthread_once(&once, init_once);
	return init_rc;
}

int spiffe_rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	if (spiffe_crypto_init() != 0)
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	return mbedtls_ctr_drbg_random(&drbg, out, len);
}
