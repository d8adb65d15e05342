/*
 * jwtauth.c - JWT-SVID bearer authentication (see jwtauth.h).
 */
#include "jwtauth.h"

#include <string.h>

#include <mbedtls/sha256.h>

#include "bundle.h"

int spiffe_jwt_auth_init(spiffe_jwt_auth *a,
			 const spiffe_bundle_provider *bundles,
			 const char *const *aud, size_t naud, int64_t leeway,
			 size_t cache_entries, spiffe_errbuf *eb)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (bundles == NULL || bundles->get == NULL || aud == NULL ||
	    naud == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "jwtauth: bundles and "
				   "at least one audience are required");
	for (size_t i = 0; i < naud; i++)
		if (aud[i] == NULL || aud[i][0] == '\0')
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "jwtauth: "
					   "audience %zu is empty", i);
	if (leeway < 0 || leeway > 86400)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "jwtauth: leeway %lld "
				   "s out of range 0..86400",
				   (long long)leeway);
	spiffe_jwt_options_init(&a->opts);
	a->opts.leeway = leeway;
	if (cache_entries > 0) {
		rc = spiffe_jwt_cache_init(&a->cache, cache_entries, eb);
		if (rc != 0)
			return rc;
		a->opts.cache = &a->cache;
	}
	a->bundles = *bundles;
	a->aud = aud;
	a->naud = naud;
	a->inited = 1;
	return 0;
}

void spiffe_jwt_auth_free(spiffe_jwt_auth *a)
{
	if (!a->inited)
		return;
	spiffe_jwt_cache_free(&a->cache);
	memset(a, 0, sizeof(*a));
}

/* Bytes of the white space (unicode.IsSpace) at p[0..n), or 0. */
static size_t go_space(const uint8_t *p, size_t n)
{
	switch (p[0]) {
	case ' ': case '\t': case '\n': case '\v': case '\f': case '\r':
		return 1;
	case 0xc2:      /* U+0085, U+00A0 */
		return n >= 2 && (p[1] == 0x85 || p[1] == 0xa0) ? 2 : 0;
	case 0xe1:      /* U+1680 */
		return n >= 3 && p[1] == 0x9a && p[2] == 0x80 ? 3 : 0;
	case 0xe2:      /* U+2000..U+200A, U+2028, U+2029, U+202F, U+205F */
		if (n < 3)
			return 0;
		if (p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8a) ||
				     p[2] == 0xa8 || p[2] == 0xa9 ||
				     p[2] == 0xaf))
			return 3;
		return p[1] == 0x81 && p[2] == 0x9f ? 3 : 0;
	case 0xe3:      /* U+3000 */
		return n >= 3 && p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
	}
	return 0;
}

int spiffe_jwt_auth_bearer(const char *v, size_t len, const char **tok,
			   size_t *tlen)
{
	const uint8_t *p = (const uint8_t *)v;
	const uint8_t *f[3];
	size_t fl[3], nf = 0, i = 0, sp;

	*tok = NULL;
	*tlen = 0;
	while (i < len) {
		size_t start;

		while (i < len && (sp = go_space(p + i, len - i)) > 0)
			i += sp;
		if (i == len)
			break;
		if (nf == 3)
			return SPIFFE_ERR_HTTP;
		start = i;
		while (i < len && go_space(p + i, len - i) == 0)
			i++;
		f[nf] = p + start;
		fl[nf++] = i - start;
	}
	if (nf != 2 || fl[0] != 6 || memcmp(f[0], "Bearer", 6) != 0)
		return SPIFFE_ERR_HTTP;
	*tok = (const char *)f[1];
	*tlen = fl[1];
	return 0;
}

int spiffe_jwt_auth_check(spiffe_jwt_auth *a, const char *v, size_t len,
			  spiffe_jwt_svid *svid, spiffe_errbuf *eb)
{
	spiffe_bundle_set *set;
	const char *tok;
	size_t tlen;
	int rc;

	if (v == NULL || spiffe_jwt_auth_bearer(v, len, &tok, &tlen) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_HTTP, "Malformed header");
	set = a->bundles.get(a->bundles.arg);
	if (set == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "jwtsvid: no JWT "
				   "bundles to validate with");
	rc = spiffe_jwtsvid_parse_and_validate(svid, tok, tlen, set, a->aud,
					       a->naud, &a->opts, eb);
	spiffe_bundle_set_unref(set);
	if (rc != 0)
		return spiffe_wrap(eb, rc, "jwtsvid");
	return 0;
}

void spiffe_jwt_fingerprint(const char *token, size_t len,
			    char out[SPIFFE_JWT_FINGERPRINT_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[32];

	memcpy(out, "sha256:", 7);
	if (mbedtls_sha256((const uint8_t *)token, len, h, 0) != 0) {
		out[7] = '\0';
		return;
	}
	for (size_t i = 0; i < sizeof(h); i++) {
		out[7 + 2 * i] = hex[h[i] >> 4];
		out[8 + 2 * i] = hex[h[i] & 15];
	}
	out[7 + 2 * sizeof(h)] = '\0';
}
