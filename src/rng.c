#include "rng.h"

#include <pthread.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <psa/crypto.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int init_rc = SPIFFE_ERR_CRYPTO;
static mbedtls_entropy_context entropy;
static mbedtls_ctr_drbg_context drbg;
/*
 * fork() copies the generator, so a child would repeat its parent's
 * output (keys, serials, ids): the first call in a new process reseeds.
 * mu is held around every use and across fork() (pthread_atfork), so no
 * lock inside mbedTLS is copied held into a child.
 */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t seeded_pid;

static void fork_prepare(void)
{
	pthread_mutex_lock(&mu);
}

static void fork_done(void)
{
	pthread_mutex_unlock(&mu);
}

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
	if (pthread_atfork(fork_prepare, fork_done, fork_done) != 0)
		return;
	seeded_pid = getpid();
	init_rc = 0;
}

int spiffe_crypto_init(void)
{
	pthread_once(&once, init_once);
	return init_rc;
}

int spiffe_rng(void *unused, unsigned char *out, size_t len)
{
	pid_t pid;
	int rc = 0;

	(void)unused;
	if (spiffe_crypto_init() != 0)
		return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
	pid = getpid();
	pthread_mutex_lock(&mu);
	if (pid != seeded_pid) {
		rc = mbedtls_ctr_drbg_reseed(&drbg,
					     (const unsigned char *)&pid,
					     sizeof(pid));
		if (rc == 0)
			seeded_pid = pid;
	}
	if (rc == 0)
		rc = mbedtls_ctr_drbg_random(&drbg, out, len);
	pthread_mutex_unlock(&mu);
	return rc;
}
