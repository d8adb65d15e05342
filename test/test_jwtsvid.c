/*
 * test_jwtsvid.c - JWT-SVID parse and validation against the tokens in
 * test/data/jwtsvid/ (made by test/data/gen_jwt_vectors.py with PyJWT,
 * python3-cryptography), go-spiffe's TestParseAndValidate table, leeway
 * edges, and the verified-token cache.  Run from the repo root.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "bundle.h"
#include "clock.h"
#include "jwtsvid.h"

#define DIR "test/data/jwtsvid/"
#define NOW 1767225600
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

static char *token(const char *name, size_t *len)
{
	char path[256];

	snprintf(path, sizeof(path), DIR "%s.jwt", name);
	return slurp(path, len);
}

/* example.org from jwks-valid.json and other.org from jwks-other-td. */
static spiffe_bundle_set *make_set(void)
{
	static const char *const td[] = { "example.org", "other.org" };
	static const char *const file[] = {
		"test/data/bundle/jwks-valid.json",
		"test/data/bundle/jwks-other-td.json",
	};
	spiffe_bundle_set *s = spiffe_bundle_set_new();

	for (size_t i = 0; s != NULL && i < 2; i++) {
		spiffe_td t;
		spiffe_bundle b;
		spiffe_errbuf eb;
		size_t len = 0;
		char *text = slurp(file[i], &len);
		int rc = text == NULL ? -1 :
			spiffe_td_parse(&t, td[i], strlen(td[i]), &eb);

		if (rc == 0) {
			spiffe_bundle_init(&b, &t);
			rc = spiffe_bundle_set_jwks(&b, text, len, &eb);
			if (rc == 0)
				rc = spiffe_bundle_set_put(s, &b, &eb);
			spiffe_bundle_free(&b);
		}
		free(text);
		if (rc != 0) {
			spiffe_bundle_set_unref(s);
			return NULL;
		}
	}
	return s;
}

static spiffe_bundle_set *set;

static const struct vec {
	const char *file;
	int rc;                 /* parse_and_validate, audience AUD */
	const char *msg;
	int insecure_rc;        /* parse_insecure */
} vecs[] = {
	/* Valid: the nine algorithms, RSA 2048 and 3072, every curve. */
	{ "es256-valid", 0, NULL, 0 },
	{ "es384-valid", 0, NULL, 0 },
	{ "es512-valid", 0, NULL, 0 },
	{ "rs256-valid", 0, NULL, 0 },
	{ "rs384-valid", 0, NULL, 0 },
	{ "rs512-valid", 0, NULL, 0 },
	{ "ps256-valid", 0, NULL, 0 },
	{ "ps384-valid", 0, NULL, 0 },
	{ "ps512-valid", 0, NULL, 0 },
	{ "rs256-rsa3072-valid", 0, NULL, 0 },
	{ "ps384-rsa3072-valid", 0, NULL, 0 },
	{ "rs512-rsa3072-valid", 0, NULL, 0 },
	{ "typ-jose-valid", 0, NULL, 0 },
	{ "no-typ-valid", 0, NULL, 0 },
	{ "aud-string-valid", 0, NULL, 0 },
	{ "aud-multi-valid", 0, NULL, 0 },
	{ "fractional-dates-valid", 0, NULL, 0 },
	{ "extra-claims-valid", 0, NULL, 0 },
	{ "escaped-strings-valid", 0, NULL, 0 },
	/* alg, before anything else. */
	{ "alg-none", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "unsupported alg \"none\" (want RS, ES or PS with 256, 384 or 512)",
	  SPIFFE_ERR_JWT },
	{ "alg-rs256-lowercase", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "unsupported alg \"rs256\" (want RS, ES or PS with 256, 384 or "
	  "512)", SPIFFE_ERR_JWT },
	{ "alg-eddsa", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "unsupported alg \"EdDSA\" (want RS, ES or PS with 256, 384 or "
	  "512)", SPIFFE_ERR_JWT },
	{ "hs256-pubkey-as-secret", SPIFFE_ERR_JWT, "unable to parse JWT "
	  "token: unsupported alg \"HS256\" (want RS, ES or PS with 256, 384 "
	  "or 512)", SPIFFE_ERR_JWT },
	{ "alg-missing", SPIFFE_ERR_JWT,
	  "unable to parse JWT token: header has no alg", SPIFFE_ERR_JWT },
	{ "alg-number", SPIFFE_ERR_JWT,
	  "unable to parse JWT token: header alg is not a string",
	  SPIFFE_ERR_JWT },
	/* Serialization and encoding. */
	{ "four-parts", SPIFFE_ERR_JWT, "unable to parse JWT token: compact "
	  "serialization has 4 parts, expected 3", SPIFFE_ERR_JWT },
	{ "two-parts", SPIFFE_ERR_JWT, "unable to parse JWT token: compact "
	  "serialization has 2 parts, expected 3", SPIFFE_ERR_JWT },
	{ "one-part", SPIFFE_ERR_JWT, "unable to parse JWT token: compact "
	  "serialization has 1 part, expected 3", SPIFFE_ERR_JWT },
	{ "empty", SPIFFE_ERR_JWT, "unable to parse JWT token: compact "
	  "serialization has 1 part, expected 3", SPIFFE_ERR_JWT },
	{ "json-serialization", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "compact serialization has 1 part, expected 3", SPIFFE_ERR_JWT },
	{ "whitespace", SPIFFE_ERR_JWT, "unable to parse JWT token: header is "
	  "not canonical unpadded base64url", SPIFFE_ERR_JWT },
	{ "trailing-newline", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "signature is not canonical unpadded base64url", SPIFFE_ERR_JWT },
	{ "padded-b64", SPIFFE_ERR_JWT, "unable to parse JWT token: payload "
	  "is not canonical unpadded base64url", SPIFFE_ERR_JWT },
	{ "std-alphabet-b64", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "signature is not canonical unpadded base64url", SPIFFE_ERR_JWT },
	{ "noncanonical-b64", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "payload is not canonical unpadded base64url", SPIFFE_ERR_JWT },
	{ "noncanonical-b64-unsigned-fix", SPIFFE_ERR_JWT, "unable to parse "
	  "JWT token: payload is not canonical unpadded base64url",
	  SPIFFE_ERR_JWT },
	{ "too-long", SPIFFE_ERR_LIMIT, "unable to parse JWT token: token is "
	  "22967 bytes, more than the limit of 8192", SPIFFE_ERR_LIMIT },
	/* Header. */
	{ "extra-header", SPIFFE_ERR_JWT, "unable to parse JWT token: header "
	  "parameter \"cty\" is not allowed in a JWT-SVID (only alg, kid, "
	  "typ)", SPIFFE_ERR_JWT },
	{ "extra-header-crit", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header parameter \"crit\" is not allowed in a JWT-SVID (only alg, "
	  "kid, typ)", SPIFFE_ERR_JWT },
	{ "extra-header-jwk", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header parameter \"jwk\" is not allowed in a JWT-SVID (only alg, "
	  "kid, typ)", SPIFFE_ERR_JWT },
	{ "extra-header-x5c", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header parameter \"x5c\" is not allowed in a JWT-SVID (only alg, "
	  "kid, typ)", SPIFFE_ERR_JWT },
	{ "duplicate-header", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header: duplicate member name \"alg\" at offset 29",
	  SPIFFE_ERR_JWT },
	{ "header-not-object", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header is not a JSON object", SPIFFE_ERR_JWT },
	{ "header-not-json", SPIFFE_ERR_JWT, "unable to parse JWT token: "
	  "header: expected a member name but found '}' at offset 15",
	  SPIFFE_ERR_JWT },
	{ "kid-number", SPIFFE_ERR_JWT, "unable to parse JWT token: header "
	  "kid is not a string", SPIFFE_ERR_JWT },
	{ "typ-invalid", SPIFFE_ERR_JWT, "token header type not equal to "
	  "either JWT or JOSE", SPIFFE_ERR_JWT },
	{ "typ-lowercase", SPIFFE_ERR_JWT, "token header type not equal to "
	  "either JWT or JOSE", SPIFFE_ERR_JWT },
	{ "typ-number", SPIFFE_ERR_JWT, "token header type not equal to "
	  "either JWT or JOSE", SPIFFE_ERR_JWT },
	{ "typ-media-type", SPIFFE_ERR_JWT, "token header type not equal to "
	  "either JWT or JOSE", SPIFFE_ERR_JWT },
	/* Claims. */
	{ "duplicate-claim", SPIFFE_ERR_JWT, "unable to get claims from "
	  "token: duplicate member name \"sub\" at offset 37",
	  SPIFFE_ERR_JWT },
	{ "claims-not-object", SPIFFE_ERR_JWT, "unable to get claims from "
	  "token: claims are not a JSON object", SPIFFE_ERR_JWT },
	{ "claims-not-json", SPIFFE_ERR_JWT, "unable to get claims from "
	  "token: invalid literal (expected null) at offset 0",
	  SPIFFE_ERR_JWT },
	{ "empty-claims", SPIFFE_ERR_JWT, "unable to get claims from token: "
	  "expected a value but found end of input at offset 0",
	  SPIFFE_ERR_JWT },
	{ "aud-number", SPIFFE_ERR_JWT, "unable to get claims from token: "
	  "expected string or array value to unmarshal to Audience",
	  SPIFFE_ERR_JWT },
	{ "aud-array-number", SPIFFE_ERR_JWT, "unable to get claims from "
	  "token: expected string or array value to unmarshal to Audience",
	  SPIFFE_ERR_JWT },
	{ "aud-too-many", SPIFFE_ERR_LIMIT, "unable to get claims from "
	  "token: aud has 34 values, more than the limit of 32",
	  SPIFFE_ERR_LIMIT },
	{ "exp-string", SPIFFE_ERR_JWT, "unable to get claims from token: "
	  "exp: expected number value to unmarshal NumericDate",
	  SPIFFE_ERR_JWT },
	{ "nbf-string", SPIFFE_ERR_JWT, "unable to get claims from token: "
	  "nbf: expected number value to unmarshal NumericDate",
	  SPIFFE_ERR_JWT },
	{ "iss-number", SPIFFE_ERR_JWT, "unable to get claims from token: iss "
	  "is not a string", SPIFFE_ERR_JWT },
	{ "sub-number", SPIFFE_ERR_JWT, "unable to get claims from token: sub "
	  "is not a string", SPIFFE_ERR_JWT },
	{ "missing-sub", SPIFFE_ERR_JWT, "token missing subject claim",
	  SPIFFE_ERR_JWT },
	{ "empty-sub", SPIFFE_ERR_JWT, "token missing subject claim",
	  SPIFFE_ERR_JWT },
	{ "missing-exp", SPIFFE_ERR_JWT, "token missing exp claim",
	  SPIFFE_ERR_JWT },
	{ "exp-null", SPIFFE_ERR_JWT, "token missing exp claim",
	  SPIFFE_ERR_JWT },
	{ "missing-aud", SPIFFE_ERR_JWT, "token missing aud claim",
	  SPIFFE_ERR_JWT },
	{ "aud-empty-array", SPIFFE_ERR_JWT, "token has an empty aud claim",
	  SPIFFE_ERR_JWT },
	{ "sub-not-spiffe", SPIFFE_ERR_JWT, "token has an invalid subject "
	  "claim: scheme is missing or invalid: expected \"spiffe://\" in "
	  "\"invalid subject\"", SPIFFE_ERR_JWT },
	{ "sub-uppercase-scheme", SPIFFE_ERR_JWT, "token has an invalid "
	  "subject claim: scheme is missing or invalid: scheme must be "
	  "lowercase \"spiffe://\" in \"SPIFFE://example.org/client\"",
	  SPIFFE_ERR_JWT },
	/* Key selection: kid, only in the bundle of sub's trust domain. */
	{ "missing-kid", SPIFFE_ERR_JWT, "token header missing key id", 0 },
	{ "empty-kid", SPIFFE_ERR_JWT, "token header missing key id", 0 },
	{ "unknown-kid", SPIFFE_ERR_NOT_FOUND, "no JWT authority \"nokey\" "
	  "found for trust domain \"example.org\"", 0 },
	{ "sub-other-td", SPIFFE_ERR_NOT_FOUND, "no JWT authority \"ec256\" "
	  "found for trust domain \"other.org\"", 0 },
	{ "sub-unknown-td", SPIFFE_ERR_NOT_FOUND, "no bundle found for trust "
	  "domain \"another.domain\"", 0 },
	/* Signature: alg must fit the key, bytes must verify. */
	{ "rs256-token-ec-kid", SPIFFE_ERR_SIGNATURE, "unable to get claims "
	  "from token: error in cryptographic primitive (alg RS256 does not "
	  "match JWT authority \"ec384\", which is EC P-384)", 0 },
	{ "es256-token-rsa-kid", SPIFFE_ERR_SIGNATURE, "unable to get claims "
	  "from token: error in cryptographic primitive (alg ES256 does not "
	  "match JWT authority \"rsa2048\", which is RSA-2048)", 0 },
	{ "es384-token-ec256-kid", SPIFFE_ERR_SIGNATURE, "unable to get "
	  "claims from token: error in cryptographic primitive (alg ES384 "
	  "does not match JWT authority \"ec256\", which is EC P-256)", 0 },
	{ "ps256-token-signed-rs256", SPIFFE_ERR_SIGNATURE, "unable to get "
	  "claims from token: error in cryptographic primitive (PS256 "
	  "signature does not verify with JWT authority \"rsa2048\")", 0 },
	{ "attacker-key", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature does not "
	  "verify with JWT authority \"ec256\")", 0 },
	{ "bad-signature", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature does not "
	  "verify with JWT authority \"ec256\")", 0 },
	{ "claims-swapped", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature does not "
	  "verify with JWT authority \"ec256\")", 0 },
	{ "ecdsa-der-sig", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature of 70 "
	  "bytes, not 64)", 0 },
	{ "ecdsa-sig-short", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature of 63 "
	  "bytes, not 64)", 0 },
	{ "ecdsa-sig-long", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature of 65 "
	  "bytes, not 64)", 0 },
	{ "ecdsa-sig-zero", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature does not "
	  "verify with JWT authority \"ec256\")", 0 },
	{ "empty-signature", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (ES256 signature of 0 "
	  "bytes, not 64)", 0 },
	{ "rsa-sig-short", SPIFFE_ERR_SIGNATURE, "unable to get claims from "
	  "token: error in cryptographic primitive (RS256 signature of 255 "
	  "bytes for a 256-byte modulus)", 0 },
	/* Signature before time: a badly signed expired token. */
	{ "expired-bad-signature", SPIFFE_ERR_SIGNATURE, "unable to get "
	  "claims from token: error in cryptographic primitive (ES256 "
	  "signature does not verify with JWT authority \"ec256\")", 0 },
	/* Audience and time, leeway 60 s, clock at NOW. */
	{ "aud-mismatch", SPIFFE_ERR_AUDIENCE, "expected audience in "
	  "[\"spiffe://example.org/server\"] "
	  "(audience=[\"spiffe://example.org/other\"])", 0 },
	{ "expired", SPIFFE_ERR_EXPIRED, "token has expired", 0 },
	{ "nbf-future", SPIFFE_ERR_EXPIRED, "token not valid yet (nbf)", 0 },
	{ "iat-future", SPIFFE_ERR_EXPIRED, "token issued in the future "
	  "(iat)", 0 },
	{ "exp-minus-30", 0, NULL, 0 },
	{ "exp-minus-60", 0, NULL, 0 },
	{ "exp-minus-61", SPIFFE_ERR_EXPIRED, "token has expired", 0 },
	{ "exp-minus-120", SPIFFE_ERR_EXPIRED, "token has expired", 0 },
	{ "nbf-plus-30", 0, NULL, 0 },
	{ "nbf-plus-120", SPIFFE_ERR_EXPIRED, "token not valid yet (nbf)", 0 },
	{ "iat-plus-30", 0, NULL, 0 },
	{ "iat-plus-120", SPIFFE_ERR_EXPIRED, "token issued in the future "
	  "(iat)", 0 },
};

/* Runs one vector; on failure says so and returns 0. */
static int run_vec(const struct vec *v, spiffe_jwt_svid *s,
		   const spiffe_jwt_options *o)
{
	spiffe_errbuf eb;
	size_t len = 0;
	char *t = token(v->file, &len);
	int rc, rc2;

	if (t == NULL) {
		FAILF("cannot read %s", v->file);
		return 0;
	}
	eb.msg[0] = '\0';
	rc = spiffe_jwtsvid_parse_and_validate(s, t, len, set, aud1, 1, o,
					       &eb);
	if (rc != v->rc || (rc != 0 && strcmp(eb.msg, v->msg) != 0)) {
		FAILF("%s: rc %d \"%s\", expected %d \"%s\"", v->file, rc,
		      rc ? eb.msg : "", v->rc, v->msg ? v->msg : "");
		free(t);
		return 0;
	}
	if (rc == 0 && (strcmp(s->id.str, "spiffe://example.org/client") ||
			s->naud == 0)) {
		FAILF("%s: id %s", v->file, s->id.str);
		free(t);
		return 0;
	}
	rc2 = spiffe_jwtsvid_parse_insecure(s, t, len, &eb);
	free(t);
	if (rc2 != v->insecure_rc) {
		FAILF("%s: parse_insecure rc %d (%s), expected %d", v->file,
		      rc2, eb.msg, v->insecure_rc);
		return 0;
	}
	/* parse_insecure gives parse_and_validate's message too. */
	if (rc2 != 0 && strcmp(eb.msg, v->msg) != 0) {
		FAILF("%s: parse_insecure \"%s\"", v->file, eb.msg);
		return 0;
	}
	return 1;
}

TEST(vectors_exact_outcomes)
{
	spiffe_jwt_svid s;

	spiffe_clock_set(NOW);
	spiffe_jwtsvid_init(&s);
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		if (!run_vec(&vecs[i], &s, NULL))
			break;
	}
	spiffe_jwtsvid_free(&s);
	spiffe_jwtsvid_free(&s);
}

TEST(vectors_same_outcomes_through_cache)
{
	spiffe_jwt_svid s;
	spiffe_jwt_cache c;
	spiffe_jwt_options o;
	spiffe_errbuf eb;

	spiffe_clock_set(NOW);
	CHECK_INT(spiffe_jwt_cache_init(&c, 64, &eb), 0);
	spiffe_jwt_options_init(&o);
	o.cache = &c;
	spiffe_jwtsvid_init(&s);
	/* Twice: the second pass hits the cache for each verified token. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
			if (!run_vec(&vecs[i], &s, &o))
				goto out;
		}
	}
	CHECK(c.hits > 0);
out:
	spiffe_jwtsvid_free(&s);
	spiffe_jwt_cache_free(&c);
}

TEST(valid_token_fields)
{
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	size_t len = 0;
	char *t = token("aud-multi-valid", &len);

	CHECK(t != NULL);
	spiffe_clock_set(NOW);
	spiffe_jwtsvid_init(&s);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	free(t);
	CHECK_STR(s.id.str, "spiffe://example.org/client");
	CHECK_INT(s.alg, SPIFFE_JWT_ES256);
	CHECK_STR(spiffe_jwt_alg_name(s.alg), "ES256");
	CHECK_STR(s.kid.p, "ec256");
	CHECK_INT(s.typ.len, 0);
	CHECK_INT(s.naud, 3);
	CHECK_STR(s.aud[0].p, "spiffe://example.org/other");
	CHECK_STR(s.aud[1].p, AUD);
	CHECK_STR(s.aud[2].p, "x");
	CHECK_INT(s.exp, NOW + 3600);
	CHECK_INT(s.has_iat, 1);
	CHECK_INT(s.iat, NOW);
	CHECK_INT(s.has_nbf, 0);
	CHECK_STR(s.header.p, "{\"alg\":\"ES256\",\"kid\":\"ec256\"}");
	CHECK(strncmp(s.claims.p, "{\"sub\":\"spiffe://example.org/client\"",
		      35) == 0);
	CHECK_INT(s.claims.len, strlen(s.claims.p));
	int v = spiffe_json_get(&s.claims_json, 0, "iat");
	CHECK(v > 0);

	/* PyJWT's header, typ JWT; escapes decoded; fractional dates. */
	t = token("es512-valid", &len);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	free(t);
	CHECK_INT(s.alg, SPIFFE_JWT_ES512);
	CHECK_STR(s.typ.p, "JWT");
	CHECK_STR(s.kid.p, "ec521");
	t = token("escaped-strings-valid", &len);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	free(t);
	CHECK_STR(s.kid.p, "ec256");
	CHECK_STR(s.aud[0].p, AUD);
	CHECK_INT(s.has_iat, 0);
	t = token("fractional-dates-valid", &len);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	free(t);
	CHECK_INT(s.exp, NOW + 3600);
	CHECK_INT(s.iat, NOW - 1);      /* NOW - 0.5, truncated toward 0 */
	CHECK_INT(s.nbf, NOW - 11);     /* NOW - 10.25, likewise */
	for (int a = SPIFFE_JWT_RS256; a <= SPIFFE_JWT_PS512; a++)
		CHECK(strlen(spiffe_jwt_alg_name(a)) == 5);
	CHECK_STR(spiffe_jwt_alg_name(0), "?");
	CHECK_STR(spiffe_jwt_alg_name(10), "?");
	spiffe_jwtsvid_free(&s);
}

/* Validates vector name with leeway (or default when < 0) at time now. */
static int check_at(const char *name, int64_t now, int64_t leeway,
		    const char *const *aud, size_t n, spiffe_errbuf *eb)
{
	spiffe_jwt_svid s;
	spiffe_jwt_options o;
	size_t len = 0;
	char *t = token(name, &len);
	int rc;

	if (t == NULL)
		return -1000;
	spiffe_jwt_options_init(&o);
	if (leeway >= 0)
		o.leeway = leeway;
	spiffe_clock_set(now);
	spiffe_jwtsvid_init(&s);
	rc = spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud, n, &o,
					       eb);
	spiffe_jwtsvid_free(&s);
	free(t);
	return rc;
}

TEST(leeway_edges)
{
	spiffe_errbuf eb;

	/* exp = NOW + 3600; default leeway 60 s. */
	CHECK_INT(check_at("es256-valid", NOW + 3600, -1, aud1, 1, &eb), 0);
	CHECK_INT(check_at("es256-valid", NOW + 3630, -1, aud1, 1, &eb), 0);
	CHECK_INT(check_at("es256-valid", NOW + 3660, -1, aud1, 1, &eb), 0);
	CHECK_INT(check_at("es256-valid", NOW + 3661, -1, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_STR(eb.msg, "token has expired");
	CHECK_INT(check_at("es256-valid", NOW + 3720, -1, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	/* Leeway 0: exp is the last valid second. */
	CHECK_INT(check_at("es256-valid", NOW + 3600, 0, aud1, 1, &eb), 0);
	CHECK_INT(check_at("es256-valid", NOW + 3601, 0, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_INT(check_at("exp-minus-30", NOW, 0, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_INT(check_at("exp-minus-30", NOW, 30, aud1, 1, &eb), 0);
	CHECK_INT(check_at("exp-minus-30", NOW, 29, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	/* nbf = NOW + 30 / + 120. */
	CHECK_INT(check_at("nbf-plus-30", NOW, 0, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_STR(eb.msg, "token not valid yet (nbf)");
	CHECK_INT(check_at("nbf-plus-30", NOW + 30, 0, aud1, 1, &eb), 0);
	CHECK_INT(check_at("nbf-plus-120", NOW + 59, -1, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_INT(check_at("nbf-plus-120", NOW + 60, -1, aud1, 1, &eb), 0);
	/* iat = NOW + 30 / + 120. */
	CHECK_INT(check_at("iat-plus-30", NOW, 0, aud1, 1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_STR(eb.msg, "token issued in the future (iat)");
	CHECK_INT(check_at("iat-plus-120", NOW + 60, -1, aud1, 1, &eb), 0);
	/* Leeway bounds. */
	CHECK_INT(check_at("es256-valid", NOW, 86401, aud1, 1, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "leeway 86401 s out of range 0..86400");
	CHECK_INT(check_at("exp-minus-120", NOW, 86400, aud1, 1, &eb), 0);
	spiffe_clock_set(NOW);
}

TEST(audiences)
{
	static const char *const none[] = { NULL };
	static const char *const empty[] = { "" };
	static const char *const two[] = { "spiffe://example.org/x", AUD };
	static const char *const other[] = { "spiffe://example.org/x",
					     "a\"b" };
	spiffe_errbuf eb;

	/* Zero expected audiences is a caller error, never a pass. */
	CHECK_INT(check_at("es256-valid", NOW, -1, aud1, 0, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "no expected audience given: validation needs at "
		  "least one");
	CHECK_INT(check_at("es256-valid", NOW, -1, NULL, 1, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(check_at("es256-valid", NOW, -1, none, 1, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(check_at("es256-valid", NOW, -1, empty, 1, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "expected audience 0 is empty");
	/* Any one in common is enough. */
	CHECK_INT(check_at("es256-valid", NOW, -1, two, 2, &eb), 0);
	CHECK_INT(check_at("aud-multi-valid", NOW, -1, two, 2, &eb), 0);
	CHECK_INT(check_at("aud-string-valid", NOW, -1, two, 2, &eb), 0);
	CHECK_INT(check_at("aud-multi-valid", NOW, -1, other, 2, &eb),
		  SPIFFE_ERR_AUDIENCE);
	CHECK_STR(eb.msg, "expected audience in [\"spiffe://example.org/x\" "
		  "\"a\\\"b\"] (audience=[\"spiffe://example.org/other\" "
		  "\"spiffe://example.org/server\" \"x\"])");
	/* Audience is checked before time. */
	CHECK_INT(check_at("expired", NOW, -1, other, 2, &eb),
		  SPIFFE_ERR_AUDIENCE);
	spiffe_clock_set(NOW);
}

/*
 * go-spiffe's TestParseAndValidate (svid/jwtsvid/svid_test.go), with
 * our vectors: key1 is EC P-384 (ES384, kid ec384), key2 RSA-2048
 * (RS256); trust domain example.org; audience "spiffe://…/server"
 * stands for "audience".  Cases that pass a nil audience to go-spiffe
 * pass AUD here (validation without an audience is refused).
 */
TEST(gospiffe_parse_and_validate_table)
{
	static const char *const another[] = { "another" };
	static const struct {
		const char *name, *file;
		const char *const *aud;
		int rc;
		const char *msg;
	} t[] = {
		{ "success", "es384-valid", aud1, 0, NULL },
		{ "unsupported algorithm", "hs256-pubkey-as-secret", aud1,
		  SPIFFE_ERR_JWT, "unable to parse JWT token: unsupported "
		  "alg \"HS256\" (want RS, ES or PS with 256, 384 or 512)" },
		{ "missing subject", "missing-sub", aud1, SPIFFE_ERR_JWT,
		  "token missing subject claim" },
		{ "missing expiration claim", "missing-exp", aud1,
		  SPIFFE_ERR_JWT, "token missing exp claim" },
		{ "expired", "exp-minus-120", aud1, SPIFFE_ERR_EXPIRED,
		  "token has expired" },
		{ "unexpected audience", "es384-valid", another,
		  SPIFFE_ERR_AUDIENCE, "expected audience in [\"another\"] "
		  "(audience=[\"spiffe://example.org/server\"])" },
		{ "invalid subject claim", "sub-not-spiffe", aud1,
		  SPIFFE_ERR_JWT, "token has an invalid subject claim: "
		  "scheme is missing or invalid: expected \"spiffe://\" in "
		  "\"invalid subject\"" },
		{ "missing key", "empty-kid", aud1, SPIFFE_ERR_JWT,
		  "token header missing key id" },
		{ "no bundle for trust domain", "sub-unknown-td", aud1,
		  SPIFFE_ERR_NOT_FOUND, "no bundle found for trust domain "
		  "\"another.domain\"" },
		{ "no bundle for authority", "unknown-kid", aud1,
		  SPIFFE_ERR_NOT_FOUND, "no JWT authority \"nokey\" found for "
		  "trust domain \"example.org\"" },
		{ "mismatched JWT authority", "rs256-token-ec-kid", aud1,
		  SPIFFE_ERR_SIGNATURE, "unable to get claims from token: "
		  "error in cryptographic primitive (alg RS256 does not match "
		  "JWT authority \"ec384\", which is EC P-384)" },
		{ "invalid typ", "typ-invalid", aud1, SPIFFE_ERR_JWT,
		  "token header type not equal to either JWT or JOSE" },
	};
	spiffe_jwt_svid s;
	spiffe_errbuf eb;

	spiffe_jwtsvid_init(&s);
	spiffe_clock_set(NOW);
	/* "malformed": go-spiffe's literal "invalid token". */
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, "invalid token", 13,
						    set, aud1, 1, NULL, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "unable to parse JWT token: compact serialization "
		  "has 1 part, expected 3");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = check_at(t[i].file, NOW, -1, t[i].aud, 1, &eb);

		if (rc != t[i].rc || (rc != 0 && strcmp(eb.msg, t[i].msg))) {
			FAILF("%s: rc %d \"%s\"", t[i].name, rc, eb.msg);
			break;
		}
	}
	spiffe_jwtsvid_free(&s);
}

TEST(arguments_and_reuse)
{
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	size_t len = 0, len2 = 0;
	char *t = token("rs512-rsa3072-valid", &len);
	char *small = token("es256-valid", &len2);

	CHECK(t != NULL && small != NULL);
	spiffe_clock_set(NOW);
	spiffe_jwtsvid_init(&s);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(NULL, t, len, set, aud1,
						    1, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, NULL, aud1,
						    1, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, NULL, 5, set, aud1,
						    1, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_jwtsvid_parse_insecure(&s, NULL, 0, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_INT(spiffe_jwtsvid_validate_claims(&s, aud1, 1, NULL, &eb),
		  SPIFFE_ERR_ARG);
	/* A big token, then a small one, then the big one again. */
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, small, len2, set,
						    aud1, 1, NULL, &eb), 0);
	CHECK_INT(s.alg, SPIFFE_JWT_ES256);
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	CHECK_INT(s.alg, SPIFFE_JWT_RS512);
	/* Only len bytes are read: one less breaks the signature's b64. */
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len - 1, set,
						    aud1, 1, NULL, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "unable to parse JWT token: signature is not "
		  "canonical unpadded base64url");
	/* A failed parse leaves no view into freed or stale memory. */
	CHECK_INT(spiffe_jwtsvid_parse_and_validate(&s, t, len, set, aud1, 1,
						    NULL, &eb), 0);
	CHECK_INT(spiffe_jwtsvid_parse_insecure(&s, "e30.e30.", 8, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "unable to parse JWT token: header has no alg");
	CHECK_STR(s.claims.p, "");
	CHECK_STR(s.kid.p, "");
	CHECK_INT(s.naud, 0);
	CHECK_INT(s.id.len, 0);
	CHECK_INT(s.claims_json.ntok, 0);
	/* Insecure parse, then the claim checks on their own. */
	CHECK_INT(spiffe_jwtsvid_parse_insecure(&s, small, len2, &eb), 0);
	CHECK_INT(spiffe_jwtsvid_validate_claims(&s, aud1, 1, NULL, &eb), 0);
	CHECK_INT(spiffe_jwtsvid_validate_claims(&s, aud1, 0, NULL, &eb),
		  SPIFFE_ERR_ARG);
	spiffe_clock_set(NOW + 7200);
	CHECK_INT(spiffe_jwtsvid_validate_claims(&s, aud1, 1, NULL, &eb),
		  SPIFFE_ERR_EXPIRED);
	spiffe_clock_set(NOW);
	free(t);
	free(small);
	spiffe_jwtsvid_free(&s);
	spiffe_jwtsvid_free(&s);
}

/* One validation through cache c; returns rc. */
static int cached(spiffe_jwt_cache *c, const spiffe_bundle_set *st,
		  const char *name, const char *const *aud,
		  spiffe_errbuf *eb)
{
	spiffe_jwt_svid s;
	spiffe_jwt_options o;
	size_t len = 0;
	char *t = token(name, &len);
	int rc;

	if (t == NULL)
		return -1000;
	spiffe_jwt_options_init(&o);
	o.cache = c;
	spiffe_jwtsvid_init(&s);
	rc = spiffe_jwtsvid_parse_and_validate(&s, t, len, st, aud, 1, &o,
					       eb);
	spiffe_jwtsvid_free(&s);
	free(t);
	return rc;
}

TEST(cache_hit_miss_expiry_generation)
{
	static const char *const another[] = { "another" };
	spiffe_jwt_cache c;
	spiffe_errbuf eb;
	spiffe_bundle_set *set2;

	spiffe_clock_set(NOW);
	CHECK_INT(spiffe_jwt_cache_init(&c, 0, &eb), SPIFFE_ERR_ARG);
	spiffe_jwt_cache_free(&c);      /* zeroed by the failed init */
	CHECK_INT(spiffe_jwt_cache_init(&c, 4, &eb), 0);
	CHECK_INT(cached(&c, set, "es256-valid", aud1, &eb), 0);
	CHECK_INT(c.misses, 1);
	CHECK_INT(c.hits, 0);
	CHECK_INT(spiffe_jwt_cache_count(&c), 1);
	CHECK_INT(cached(&c, set, "es256-valid", aud1, &eb), 0);
	CHECK_INT(c.hits, 1);
	/* A hit still checks audience and time. */
	CHECK_INT(cached(&c, set, "es256-valid", another, &eb),
		  SPIFFE_ERR_AUDIENCE);
	CHECK_INT(c.hits, 2);
	/* Failed signatures are never cached. */
	CHECK_INT(cached(&c, set, "bad-signature", aud1, &eb),
		  SPIFFE_ERR_SIGNATURE);
	CHECK_INT(cached(&c, set, "claims-swapped", aud1, &eb),
		  SPIFFE_ERR_SIGNATURE);
	CHECK_INT(spiffe_jwt_cache_count(&c), 1);
	/* Tokens failing format rules are looked up, never stored. */
	CHECK_INT(cached(&c, set, "missing-kid", aud1, &eb), SPIFFE_ERR_JWT);
	CHECK_INT(c.hits + c.misses, 6);
	CHECK_INT(spiffe_jwt_cache_count(&c), 1);
	/* A new bundle set (new generation) misses and replaces. */
	set2 = make_set();
	CHECK(set2 != NULL);
	CHECK(spiffe_bundle_set_generation(set2) !=
	      spiffe_bundle_set_generation(set));
	CHECK_INT(cached(&c, set2, "es256-valid", aud1, &eb), 0);
	CHECK_INT(c.hits, 2);
	CHECK_INT(spiffe_jwt_cache_count(&c), 1);
	CHECK_INT(cached(&c, set2, "es256-valid", aud1, &eb), 0);
	CHECK_INT(c.hits, 3);
	/* ...and a token absent from the new set's bundle would fail. */
	spiffe_bundle_set_unref(set2);
	/* Expiry: exp NOW + 3600, leeway 60. */
	spiffe_clock_set(NOW + 3660);
	CHECK_INT(cached(&c, set, "es256-valid", aud1, &eb), 0);
	CHECK_INT(spiffe_jwt_cache_count(&c), 1);
	spiffe_clock_set(NOW + 3661);
	CHECK_INT(cached(&c, set, "es256-valid", aud1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_STR(eb.msg, "token has expired");
	CHECK_INT(spiffe_jwt_cache_count(&c), 0);
	spiffe_clock_set(NOW);
	/* Tokens that die before they are stored are not stored. */
	CHECK_INT(cached(&c, set, "exp-minus-120", aud1, &eb),
		  SPIFFE_ERR_EXPIRED);
	CHECK_INT(spiffe_jwt_cache_count(&c), 0);
	/* Capacity 4: the fifth token evicts one. */
	static const char *const five[] = {
		"es384-valid", "es512-valid", "rs256-valid", "ps256-valid",
		"typ-jose-valid",
	};
	for (size_t i = 0; i < 5; i++)
		CHECK_INT(cached(&c, set, five[i], aud1, &eb), 0);
	CHECK_INT(spiffe_jwt_cache_count(&c), 4);
	uint64_t h = c.hits;
	CHECK_INT(cached(&c, set, "typ-jose-valid", aud1, &eb), 0);
	CHECK_INT(c.hits, h + 1);
	spiffe_jwt_cache_clear(&c);
	CHECK_INT(spiffe_jwt_cache_count(&c), 0);
	CHECK_INT(cached(&c, set, "typ-jose-valid", aud1, &eb), 0);
	CHECK_INT(c.hits, h + 1);
	spiffe_jwt_cache_free(&c);
	spiffe_jwt_cache_free(&c);
	CHECK_INT(spiffe_jwt_cache_count(&c), 0);
}

static int same_str(spiffe_jwt_str a, spiffe_jwt_str b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0 &&
	       a.p[a.len] == '\0' && b.p[b.len] == '\0';
}

TEST(cache_hit_gives_the_same_svid_as_a_parse)
{
	static const char *const names[] = {
		"aud-multi-valid", "extra-claims-valid", "rs256-valid",
		"escaped-strings-valid", "fractional-dates-valid",
	};
	spiffe_jwt_cache c;
	spiffe_jwt_options o;
	spiffe_jwt_svid fresh, hit;
	spiffe_errbuf eb;

	spiffe_clock_set(NOW);
	CHECK_INT(spiffe_jwt_cache_init(&c, 8, &eb), 0);
	spiffe_jwt_options_init(&o);
	o.cache = &c;
	spiffe_jwtsvid_init(&fresh);
	spiffe_jwtsvid_init(&hit);
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		size_t len = 0;
		char *t = token(names[k], &len);
		uint64_t h0 = c.hits;

		CHECK(t != NULL);
		CHECK_INT(spiffe_jwtsvid_parse_insecure(&fresh, t, len, &eb),
			  0);
		CHECK_INT(spiffe_jwtsvid_parse_and_validate(&hit, t, len, set,
							    aud1, 1, &o, &eb),
			  0);
		/* A fresh svid struct, filled from the cache alone. */
		spiffe_jwtsvid_free(&hit);
		CHECK_INT(spiffe_jwtsvid_parse_and_validate(&hit, t, len, set,
							    aud1, 1, &o, &eb),
			  0);
		free(t);
		CHECK_INT(c.hits, h0 + 1);
		CHECK(spiffe_id_equal(&fresh.id, &hit.id));
		CHECK_INT(hit.alg, fresh.alg);
		CHECK(same_str(hit.kid, fresh.kid));
		CHECK(same_str(hit.typ, fresh.typ));
		CHECK_INT(hit.naud, fresh.naud);
		for (size_t i = 0; i < hit.naud; i++)
			CHECK(same_str(hit.aud[i], fresh.aud[i]));
		CHECK_INT(hit.exp, fresh.exp);
		CHECK_INT(hit.has_nbf, fresh.has_nbf);
		CHECK_INT(hit.nbf, fresh.nbf);
		CHECK_INT(hit.has_iat, fresh.has_iat);
		CHECK_INT(hit.iat, fresh.iat);
		CHECK(same_str(hit.header, fresh.header));
		CHECK(same_str(hit.claims, fresh.claims));
		CHECK_INT(hit.claims_json.ntok, fresh.claims_json.ntok);
		CHECK(hit.claims_json.text == hit.claims.p);
		for (const char *m = "sub\0aud\0exp\0iat\0jti\0"; *m;
		     m += strlen(m) + 1)
			CHECK_INT(spiffe_json_get(&hit.claims_json, 0, m),
				  spiffe_json_get(&fresh.claims_json, 0, m));
		/* Views point into hit's own memory, not the cache's. */
		CHECK(hit.claims.p >= hit.buf &&
		      hit.claims.p < hit.buf + hit.cap);
	}
	spiffe_jwtsvid_free(&fresh);
	spiffe_jwtsvid_free(&hit);
	spiffe_jwt_cache_free(&c);
}

TEST(cache_churn_keeps_index_consistent)
{
	static const char *const names[] = {
		"es256-valid", "es384-valid", "es512-valid", "rs256-valid",
		"rs384-valid", "rs512-valid", "ps256-valid", "ps384-valid",
		"ps512-valid", "typ-jose-valid", "no-typ-valid",
		"aud-string-valid", "aud-multi-valid", "exp-minus-30",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	spiffe_jwt_cache c;
	spiffe_errbuf eb;
	uint64_t seed = 1;

	spiffe_clock_set(NOW);
	CHECK_INT(spiffe_jwt_cache_init(&c, 5, &eb), 0);
	for (int i = 0; i < 400; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		const char *name = names[(seed >> 33) % n];
		uint64_t hits;

		CHECK_INT(cached(&c, set, name, aud1, &eb), 0);
		CHECK(spiffe_jwt_cache_count(&c) <= 5);
		/* Right after, the same token must hit. */
		hits = c.hits;
		CHECK_INT(cached(&c, set, name, aud1, &eb), 0);
		CHECK_INT(c.hits, hits + 1);
	}
	spiffe_jwt_cache_free(&c);
}

struct worker {
	spiffe_jwt_cache *c;
	int ok, n;
};

static void *work(void *arg)
{
	static const char *const names[] = {
		"es256-valid", "es384-valid", "rs256-valid", "ps384-valid",
		"bad-signature", "aud-mismatch",
	};
	static const int want[] = {
		0, 0, 0, 0, SPIFFE_ERR_SIGNATURE, SPIFFE_ERR_AUDIENCE,
	};
	struct worker *w = arg;
	spiffe_errbuf eb;

	for (int i = 0; i < w->n; i++) {
		size_t k = (size_t)i % 6;

		if (cached(w->c, set, names[k], aud1, &eb) == want[k])
			w->ok++;
	}
	return NULL;
}

TEST(threads_share_set_and_cache)
{
	spiffe_jwt_cache c;
	spiffe_errbuf eb;
	pthread_t th[4];
	struct worker w[4];

	spiffe_clock_set(NOW);
	CHECK_INT(spiffe_jwt_cache_init(&c, 3, &eb), 0);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 4; i++) {
			w[i].c = pass ? &c : NULL;
			w[i].ok = 0;
			w[i].n = 60;
			CHECK_INT(pthread_create(&th[i], NULL, work, &w[i]),
				  0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			CHECK_INT(w[i].ok, w[i].n);
		}
	}
	spiffe_jwt_cache_free(&c);
}

TEST(every_prefix_and_byte_flip_is_rejected)
{
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	size_t len = 0;
	char *t = token("es256-valid", &len);

	CHECK(t != NULL);
	spiffe_clock_set(NOW);
	spiffe_jwtsvid_init(&s);
	for (size_t i = 0; i < len; i++) {
		if (spiffe_jwtsvid_parse_and_validate(&s, t, i, set, aud1, 1,
						      NULL, &eb) == 0) {
			FAILF("prefix of %zu bytes accepted", i);
			break;
		}
	}
	for (size_t i = 0; i < len; i++) {
		char o = t[i];

		t[i] = (char)(o ^ 0x01);
		int rc = spiffe_jwtsvid_parse_and_validate(&s, t, len, set,
							   aud1, 1, NULL, &eb);
		t[i] = o;
		if (rc == 0) {
			FAILF("flip at %zu accepted", i);
			break;
		}
	}
	free(t);
	spiffe_jwtsvid_free(&s);
}

int main(void)
{
	set = make_set();
	if (set == NULL) {
		fprintf(stderr, "FAIL setup: cannot load bundles (run from "
			"the repo root)\n");
		return 1;
	}
	RUN(vectors_exact_outcomes);
	RUN(vectors_same_outcomes_through_cache);
	RUN(valid_token_fields);
	RUN(leeway_edges);
	RUN(audiences);
	RUN(gospiffe_parse_and_validate_table);
	RUN(arguments_and_reuse);
	RUN(cache_hit_miss_expiry_generation);
	RUN(cache_hit_gives_the_same_svid_as_a_parse);
	RUN(cache_churn_keeps_index_consistent);
	RUN(threads_share_set_and_cache);
	RUN(every_prefix_and_byte_flip_is_rejected);
	spiffe_bundle_set_unref(set);
	spiffe_clock_set(-1);
	return test_summary();
}
