/*
 * bench_jwtsvid.c - JWT-SVID validations per second, fresh and through
 * the verified-token cache, beside mbedTLS's own verify of the same
 * signature with the same key and hash (run from the repo root; tokens
 * and keys from test/data/).  Each figure is the best of five 0.2 s
 * rounds (about one second), ours and mbedTLS's interleaved, so a noisy
 * neighbour on the machine skews both alike.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>

#include "b64.h"
#include "bundle.h"
#include "clock.h"
#include "jwtsvid.h"

#define NOW 1767225600

static const char *const aud[] = { "spiffe://example.org/server" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (b = malloc((size_t)n + 1)) != NULL) {
		*len = fread(b, 1, (size_t)n, f);
		b[*len] = '\0';
	}
	fclose(f);
	return b;
}

struct job {
	int (*fn)(struct job *);
	const char *tok;
	size_t len;
	spiffe_bundle_set *set;
	spiffe_jwt_options opt;
	spiffe_jwt_svid svid;
	/* raw mbedTLS */
	const spiffe_jwt_authority *key;
	uint8_t hash[32];
	uint8_t sig[512];
	size_t siglen;
	mbedtls_mpi r, s;
};

static int run_ours(struct job *j)
{
	spiffe_errbuf eb;

	return spiffe_jwtsvid_parse_and_validate(&j->svid, j->tok, j->len,
						 j->set, aud, 1, &j->opt, &eb);
}

static int run_ecdsa(struct job *j)
{
	mbedtls_ecp_keypair *kp = mbedtls_pk_ec(j->key->pk);

	return mbedtls_ecdsa_verify(&kp->MBEDTLS_PRIVATE(grp), j->hash, 32,
				    &kp->MBEDTLS_PRIVATE(Q), &j->r, &j->s);
}

static int run_rsa(struct job *j)
{
	return mbedtls_rsa_rsassa_pkcs1_v15_verify(mbedtls_pk_rsa(j->key->pk),
						   MBEDTLS_MD_SHA256, 32,
						   j->hash, j->sig);
}

/* Operations per second over secs seconds; -1 if fn fails. */
static double rate(struct job *j, int (*fn)(struct job *), double secs)
{
	double t0 = now_s(), t;
	long n = 0, batch = 1;

	j->fn = fn;
	for (;;) {
		for (long i = 0; i < batch; i++) {
			if (j->fn(j) != 0)
				return -1;
		}
		n += batch;
		t = now_s() - t0;
		if (t >= secs)
			break;
		if (t < secs / 10)
			batch *= 2;
	}
	return (double)n / t;
}

static void best(double *b, double r)
{
	if (r < 0 || *b < 0)
		*b = -1;
	else if (r > *b)
		*b = r;
}

/* Prepares the raw-verify inputs: hash and signature of the token. */
static int prepare_raw(struct job *j)
{
	const char *d2 = j->tok + j->len;
	spiffe_errbuf eb;
	spiffe_jwt_svid s;
	int rc;

	while (d2 > j->tok && d2[-1] != '.')
		d2--;
	if (spiffe_b64url_decode(j->sig, sizeof(j->sig), &j->siglen, d2,
				 (size_t)(j->tok + j->len - d2)) != 0)
		return -1;
	if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
		       (const uint8_t *)j->tok, (size_t)(d2 - 1 - j->tok),
		       j->hash) != 0)
		return -1;
	spiffe_jwtsvid_init(&s);
	rc = spiffe_jwtsvid_parse_insecure(&s, j->tok, j->len, &eb);
	if (rc == 0) {
		spiffe_td td;

		spiffe_id_td(&s.id, &td);
		j->key = spiffe_bundle_find_jwt(
			spiffe_bundle_set_get(j->set, &td), s.kid.p,
			s.kid.len);
	}
	spiffe_jwtsvid_free(&s);
	if (rc != 0 || j->key == NULL)
		return -1;
	mbedtls_mpi_init(&j->r);
	mbedtls_mpi_init(&j->s);
	if (j->siglen == 64 &&
	    (mbedtls_mpi_read_binary(&j->r, j->sig, 32) != 0 ||
	     mbedtls_mpi_read_binary(&j->s, j->sig + 32, 32) != 0))
		return -1;
	return 0;
}

int main(void)
{
	static const struct {
		const char *name, *file, *raw;
		int (*raw_fn)(struct job *);
	} cases[] = {
		{ "ES256", "test/data/jwtsvid/es256-valid.jwt",
		  "ECDSA P-256 verify", run_ecdsa },
		{ "RS256", "test/data/jwtsvid/rs256-valid.jwt",
		  "RSA-2048 PKCS#1 v1.5 verify", run_rsa },
	};
	spiffe_bundle_set *set = spiffe_bundle_set_new();
	spiffe_jwt_cache cache;
	spiffe_errbuf eb;
	spiffe_bundle b;
	spiffe_td td;
	size_t len = 0;
	char *jwks = slurp("test/data/bundle/jwks-valid.json", &len);

	if (set == NULL || jwks == NULL ||
	    spiffe_td_parse(&td, "example.org", 11, &eb) != 0) {
		fprintf(stderr, "bench_jwtsvid: run from the repo root\n");
		return 1;
	}
	spiffe_bundle_init(&b, &td);
	if (spiffe_bundle_set_jwks(&b, jwks, len, &eb) != 0 ||
	    spiffe_bundle_set_put(set, &b, &eb) != 0 ||
	    spiffe_jwt_cache_init(&cache, 1024, &eb) != 0) {
		fprintf(stderr, "bench_jwtsvid: %s\n", eb.msg);
		return 1;
	}
	free(jwks);
	spiffe_clock_set(NOW);
	printf("%-28s %12s   %-30s %12s %7s\n", "JWT-SVID validation",
	       "ours/s", "mbedTLS alone", "mbedTLS/s", "ratio");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct job j;
		double fresh, cached, raw;

		memset(&j, 0, sizeof(j));
		j.set = set;
		j.tok = slurp(cases[i].file, &j.len);
		spiffe_jwtsvid_init(&j.svid);
		spiffe_jwt_options_init(&j.opt);
		if (j.tok == NULL || prepare_raw(&j) != 0) {
			fprintf(stderr, "bench_jwtsvid: cannot load %s\n",
				cases[i].file);
			return 1;
		}
		raw = fresh = cached = 0;
		for (int r = 0; r < 5; r++) {
			j.opt.cache = NULL;
			best(&raw, rate(&j, cases[i].raw_fn, 0.2));
			best(&fresh, rate(&j, run_ours, 0.2));
			j.opt.cache = &cache;
			best(&cached, rate(&j, run_ours, 0.2));
		}
		if (raw < 0 || fresh < 0 || cached < 0) {
			fprintf(stderr, "bench_jwtsvid: %s failed\n",
				cases[i].name);
			return 1;
		}
		printf("%-28s %12.0f   %-30s %12.0f %6.1f%%\n", cases[i].name,
		       fresh, cases[i].raw, raw, 100.0 * fresh / raw);
		printf("%-28s %12.0f   %-30s %12s %7s\n",
		       cases[i].name[0] == 'E' ? "ES256, cached (repeat)" :
		       "RS256, cached (repeat)", cached,
		       "(target > 1,000,000/s)", "", "");
		mbedtls_mpi_free(&j.r);
		mbedtls_mpi_free(&j.s);
		spiffe_jwtsvid_free(&j.svid);
		free((char *)j.tok);
	}
	spiffe_jwt_cache_free(&cache);
	spiffe_bundle_set_unref(set);
	return 0;
}
