/*
 * test_jwtauth.c - Authorization: Bearer parsing as the reference server
 * does it (Go's strings.Fields, case-sensitive "Bearer"), and request
 * authentication against the JWT vectors of test/data/jwtsvid/ (made by
 * python3-jwt).  Run from the repo root.
 */
#include <stdlib.h>

#include "test.h"
#include "bundle.h"
#include "clock.h"
#include "jwtauth.h"
#include "tls.h"

#define NOW 1767225600          /* gen_jwt_vectors.py's NOW */
#define AUD "spiffe://example.org/server"

static const char *const aud1[] = { AUD };

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

/* "Bearer " + the vector's token, in a buffer from malloc. */
static char *bearer(const char *name, size_t *len)
{
	char path[256], *tok, *v;
	size_t n;

	snprintf(path, sizeof(path), "test/data/jwtsvid/%s.jwt", name);
	if ((tok = slurp(path, &n)) == NULL || (v = malloc(n + 8)) == NULL)
		abort();
	memcpy(v, "Bearer ", 7);
	memcpy(v + 7, tok, n + 1);
	*len = n + 7;
	free(tok);
	return v;
}

TEST(bearer_fields)
{
	static const struct {
		const char *v;
		const char *tok;        /* NULL: malformed */
	} cases[] = {
		{ "Bearer abc", "abc" },
		{ "Bearer   abc", "abc" },
		{ "\tBearer\tabc\t", "abc" },
		{ " Bearer \v\f abc ", "abc" },
		/* Unicode white space splits fields, as in Go. */
		{ "Bearer\xc2\xa0" "abc", "abc" },
		{ "Bearer\xc2\x85" "abc", "abc" },
		{ "Bearer\xe1\x9a\x80" "abc", "abc" },
		{ "Bearer\xe2\x80\x80" "abc", "abc" },
		{ "Bearer\xe2\x80\x8a" "abc", "abc" },
		{ "Bearer\xe2\x80\xa8" "abc", "abc" },
		{ "Bearer\xe2\x80\xaf" "abc", "abc" },
		{ "Bearer\xe2\x81\x9f" "abc", "abc" },
		{ "Bearer\xe3\x80\x80" "abc", "abc" },
		/* Near misses are part of a field. */
		{ "Bearer\xc2\xa1" "abc", NULL },
		{ "Bearer\xe2\x80\x8b" "abc", NULL },   /* U+200B: not space */
		{ "Bearer\xe2\x80", NULL },
		{ "", NULL },
		{ "   ", NULL },
		{ "Bearer", NULL },
		{ "Bearer ", NULL },
		{ "bearer abc", NULL },
		{ "BEARER abc", NULL },
		{ "Basic abc", NULL },
		{ "Bearer abc def", NULL },
		{ "Bearer abc def ghi", NULL },
		{ "Bearerabc", NULL },
		{ "abc", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *tok;
		size_t tl;
		int rc = spiffe_jwt_auth_bearer(cases[i].v,
						strlen(cases[i].v), &tok,
						&tl);

		if (cases[i].tok == NULL) {
			if (rc != SPIFFE_ERR_HTTP || tok != NULL) {
				FAILF("case %zu: \"%s\" accepted", i,
				      cases[i].v);
				return;
			}
			continue;
		}
		if (rc != 0 || tl != strlen(cases[i].tok) ||
		    memcmp(tok, cases[i].tok, tl) != 0) {
			FAILF("case %zu: \"%s\" gave %d", i, cases[i].v, rc);
			return;
		}
	}
}

TEST(bearer_uses_length_not_nul)
{
	const char v[] = "Bearer abc\0def";
	const char *tok;
	size_t tl;

	/* The NUL is a byte of the field: still two fields. */
	CHECK_INT(spiffe_jwt_auth_bearer(v, sizeof(v) - 1, &tok, &tl), 0);
	CHECK_INT(tl, 7);
	CHECK_INT(spiffe_jwt_auth_bearer(v, 8, &tok, &tl), 0);
	CHECK_INT(tl, 1);
	CHECK(tok[0] == 'a');
}

/* An authenticator over jwks-valid.json (example.org). */
struct fixture {
	spiffe_tls_memsource src;
	spiffe_jwt_auth auth;
};

static int fixture_init(struct fixture *f, int64_t leeway, size_t cache)
{
	spiffe_bundle_set *s = spiffe_bundle_set_new();
	spiffe_bundle_provider bp;
	spiffe_bundle b;
	spiffe_td td;
	size_t len = 0;
	char *text = slurp("test/data/bundle/jwks-valid.json", &len);
	int rc;

	if (s == NULL || text == NULL ||
	    spiffe_td_parse(&td, "example.org", 11, NULL) != 0)
		abort();
	spiffe_bundle_init(&b, &td);
	if (spiffe_bundle_set_jwks(&b, text, len, NULL) != 0 ||
	    spiffe_bundle_set_put(s, &b, NULL) != 0)
		abort();
	spiffe_bundle_free(&b);
	free(text);
	spiffe_tls_memsource_init(&f->src);
	spiffe_tls_memsource_set_bundles(&f->src, s);
	spiffe_bundle_set_unref(s);
	bp = spiffe_tls_memsource_bundles(&f->src);
	rc = spiffe_jwt_auth_init(&f->auth, &bp, aud1, 1, leeway, cache,
				  NULL);
	return rc;
}

static void fixture_free(struct fixture *f)
{
	spiffe_jwt_auth_free(&f->auth);
	spiffe_jwt_auth_free(&f->auth);
	spiffe_tls_memsource_free(&f->src);
}

/* Runs check on vector name at time now; the message in eb. */
static int check(struct fixture *f, const char *name, int64_t now,
		 spiffe_errbuf *eb)
{
	spiffe_jwt_svid svid;
	size_t len;
	char *v = bearer(name, &len);
	int rc;

	spiffe_clock_set(now);
	spiffe_jwtsvid_init(&svid);
	rc = spiffe_jwt_auth_check(&f->auth, v, len, &svid, eb);
	if (rc == 0 && strcmp(svid.id.str, "spiffe://example.org/client"))
		rc = -1000;
	spiffe_jwtsvid_free(&svid);
	spiffe_clock_set(-1);
	free(v);
	return rc;
}

TEST(check_valid_and_cached)
{
	struct fixture f;
	spiffe_errbuf eb;

	CHECK_INT(fixture_init(&f, 60, 16), 0);
	CHECK_INT(check(&f, "es256-valid", NOW, &eb), 0);
	CHECK_INT(f.auth.cache.misses, 1);
	CHECK_INT(check(&f, "es256-valid", NOW, &eb), 0);
	CHECK_INT(f.auth.cache.hits, 1);
	/* The time checks run on a cache hit too: 1 h + 60 s later. */
	CHECK_INT(check(&f, "es256-valid", NOW + 3661, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_STR(eb.msg, "jwtsvid: token has expired");
	fixture_free(&f);
}

TEST(check_leeway)
{
	struct fixture f;
	spiffe_errbuf eb;

	CHECK_INT(fixture_init(&f, 0, 0), 0);
	CHECK_INT(check(&f, "es256-valid", NOW + 3600, &eb), 0);
	CHECK_INT(check(&f, "es256-valid", NOW + 3601, &eb),
		  SPIFFE_ERR_EXPIRED);
	fixture_free(&f);
	CHECK_INT(fixture_init(&f, 60, 0), 0);
	CHECK_INT(check(&f, "es256-valid", NOW + 3660, &eb), 0);
	fixture_free(&f);
}

TEST(check_refusals_with_gospiffe_words)
{
	struct fixture f;
	spiffe_jwt_svid svid;
	spiffe_errbuf eb;

	CHECK_INT(fixture_init(&f, 60, 16), 0);
	CHECK_INT(check(&f, "aud-mismatch", NOW, &eb), SPIFFE_ERR_AUDIENCE);
	CHECK(strncmp(eb.msg, "jwtsvid: expected audience in "
		      "[\"spiffe://example.org/server\"] (audience=[", 73)
	      == 0);
	CHECK_INT(check(&f, "bad-signature", NOW, &eb),
		  SPIFFE_ERR_SIGNATURE);
	CHECK(strncmp(eb.msg, "jwtsvid: unable to get claims from token: ",
		      42) == 0);
	spiffe_jwtsvid_init(&svid);
	CHECK_INT(spiffe_jwt_auth_check(&f.auth, NULL, 0, &svid, &eb),
		  SPIFFE_ERR_HTTP);
	CHECK_STR(eb.msg, "Malformed header");
	CHECK_INT(spiffe_jwt_auth_check(&f.auth, "bearer x", 8, &svid, &eb),
		  SPIFFE_ERR_HTTP);
	CHECK_STR(eb.msg, "Malformed header");
	CHECK_INT(spiffe_jwt_auth_check(&f.auth, "Bearer x", 8, &svid, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "jwtsvid: unable to parse JWT token: compact "
		  "serialization has 1 part, expected 3");
	spiffe_jwtsvid_free(&svid);
	/* No bundles yet: refused, never let through. */
	spiffe_tls_memsource_set_bundles(&f.src, NULL);
	CHECK_INT(check(&f, "es256-valid", NOW, &eb), SPIFFE_ERR_NOT_FOUND);
	fixture_free(&f);
}

TEST(init_arguments)
{
	spiffe_tls_memsource src;
	spiffe_bundle_provider bp;
	spiffe_jwt_auth a;
	static const char *const empty[] = { "" };

	spiffe_tls_memsource_init(&src);
	bp = spiffe_tls_memsource_bundles(&src);
	CHECK_INT(spiffe_jwt_auth_init(&a, &bp, aud1, 0, 60, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwt_auth_init(&a, &bp, empty, 1, 60, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwt_auth_init(&a, &bp, aud1, 1, -1, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwt_auth_init(&a, &bp, aud1, 1, 86401, 0, NULL),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwt_auth_init(&a, NULL, aud1, 1, 60, 0, NULL),
		  SPIFFE_ERR_ARG);
	spiffe_jwt_auth_free(&a);
	spiffe_tls_memsource_free(&src);
}

TEST(fingerprint)
{
	char fp[SPIFFE_JWT_FINGERPRINT_SIZE];

	/* FIPS 180-2 appendix B.1: SHA-256("abc"). */
	spiffe_jwt_fingerprint("abc", 3, fp);
	CHECK_STR(fp, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3961"
		  "77a9cb410ff61f20015ad");
}

int main(void)
{
	RUN(bearer_fields);
	RUN(bearer_uses_length_not_nul);
	RUN(check_valid_and_cached);
	RUN(check_leeway);
	RUN(check_refusals_with_gospiffe_words);
	RUN(init_arguments);
	RUN(fingerprint);
	return test_summary();
}
