/* Workload API responses into library objects, from hand-built nanopb
 * messages and hand-written protobuf bytes; requests' wire bytes. */
#include "test.h"

#include <stdlib.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "clock.h"
#include "wlapi_msg.h"
#include "workload.pb.h"

#define X509 "test/data/x509svid/"
#define JWT "test/data/jwtsvid/"
#define BUNDLE "test/data/bundle/"
#define NOW 1767225600  /* the JWT vectors' time */

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	p[n] = 0;
	*len = (size_t)n;
	return p;
}

static pb_bytes_array_t *file_bytes(const char *path)
{
	size_t n;
	uint8_t *p = slurp(path, &n);
	pb_bytes_array_t *b;

	if (p == NULL)
		return NULL;
	b = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(n));
	b->size = (pb_size_t)n;
	memcpy(b->bytes, p, n);
	free(p);
	return b;
}

static pb_bytes_array_t *raw_bytes(const void *p, size_t n)
{
	pb_bytes_array_t *b = malloc(PB_BYTES_ARRAY_T_ALLOCSIZE(n));

	b->size = (pb_size_t)n;
	memcpy(b->bytes, p, n);
	return b;
}

static char *dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	memcpy(p, s, n);
	return p;
}

static uint8_t *encode(const pb_msgdesc_t *f, const void *msg, size_t *len)
{
	size_t n;
	uint8_t *buf;
	pb_ostream_t os;

	if (!pb_get_encoded_size(&n, f, msg))
		return NULL;
	buf = malloc(n + 1);
	os = pb_ostream_from_buffer(buf, n);
	if (!pb_encode(&os, f, msg)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* An X509SVID with the good leaf, its key and the root as bundle. */
static void good_svid(X509SVID *s, const char *id, const char *hint)
{
	memset(s, 0, sizeof(*s));
	s->spiffe_id = dup(id);
	s->x509_svid = file_bytes(X509 "good-leaf.der");
	s->x509_svid_key = file_bytes(X509 "good-leaf-key.der");
	s->bundle = file_bytes(X509 "root-ca.der");
	s->hint = hint ? dup(hint) : NULL;
}

static int x509_ctx(X509SVIDResponse *r, spiffe_x509_context **out,
		    spiffe_errbuf *eb)
{
	size_t len = 0;
	uint8_t *buf = encode(X509SVIDResponse_fields, r, &len);
	int rc;

	pb_release(X509SVIDResponse_fields, r);
	if (buf == NULL)
		return -9999;
	rc = spiffe_wlapi_parse_x509_context(buf, len, out, eb);
	free(buf);
	return rc;
}

static spiffe_td td_of(const char *s)
{
	spiffe_td td;

	memset(&td, 0, sizeof(td));
	if (spiffe_td_parse(&td, s, strlen(s), NULL) != 0)
		td.len = 0;
	return td;
}

TEST(x509_context_good)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;
	spiffe_td td;

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", "internal");
	CHECK_INT(x509_ctx(&r, &c, &eb), 0);
	CHECK_INT(c->nsvids, 1);
	CHECK_STR(c->svids[0].id.str, "spiffe://example.org/workload");
	CHECK_STR(c->svids[0].hint, "internal");
	CHECK_INT(spiffe_bundle_set_count(c->bundles), 1);
	td = td_of("example.org");
	CHECK(spiffe_bundle_set_get(c->bundles, &td) != NULL);
	CHECK_INT(spiffe_bundle_set_get(c->bundles, &td)->nx509, 1);
	CHECK(spiffe_x509_context_ref(c) == c);
	spiffe_x509_context_unref(c);
	spiffe_x509_context_unref(c);
	spiffe_x509_context_unref(NULL);
}

TEST(x509_context_chain_with_intermediate)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	free(r.svids[0].x509_svid);
	free(r.svids[0].x509_svid_key);
	r.svids[0].x509_svid = file_bytes(X509 "good-chain.der");
	r.svids[0].x509_svid_key = file_bytes(X509 "good-chain-key.der");
	CHECK_INT(x509_ctx(&r, &c, &eb), 0);
	CHECK_INT(c->svids[0].nchain, 2);
	CHECK_INT(c->svids[0].hint_len, 0);
	spiffe_x509_context_unref(c);
}

TEST(x509_context_no_svids)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = (void *)1;
	spiffe_errbuf eb;

	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "no SVIDs in response");
	CHECK(c == NULL);
}

TEST(x509_context_duplicate_hints_first_wins)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;

	r.svids_count = 4;
	r.svids = calloc(4, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", "a");
	/* A later SVID with the same hint is skipped, even unparsable. */
	r.svids[1].spiffe_id = dup("spiffe://example.org/dup");
	r.svids[1].x509_svid = raw_bytes("junk", 4);
	r.svids[1].hint = dup("a");
	/* Empty hints are never duplicates of each other. */
	good_svid(&r.svids[2], "spiffe://example.org/workload", NULL);
	good_svid(&r.svids[3], "spiffe://example.org/workload", "");
	CHECK_INT(x509_ctx(&r, &c, &eb), 0);
	CHECK_INT(c->nsvids, 3);
	CHECK_STR(c->svids[0].hint, "a");
	CHECK_INT(c->svids[1].hint_len, 0);
	CHECK_INT(c->svids[2].hint_len, 0);
	spiffe_x509_context_unref(c);
}

TEST(x509_context_empty_bundle_keeps_svid)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;
	spiffe_td td = td_of("example.org");
	const spiffe_bundle *b;

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	free(r.svids[0].bundle);
	r.svids[0].bundle = NULL;
	CHECK_INT(x509_ctx(&r, &c, &eb), 0);
	CHECK_INT(c->nsvids, 1);
	b = spiffe_bundle_set_get(c->bundles, &td);
	CHECK(b != NULL);
	CHECK_INT(b->nx509, 0);
	spiffe_x509_context_unref(c);
}

TEST(x509_context_bad_key)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	free(r.svids[0].x509_svid_key);
	r.svids[0].x509_svid_key = file_bytes(X509 "good-chain-key.der");
	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "SVID 0: x509svid: private key validation failed: "
		  "leaf certificate does not match private key");
	CHECK(c == NULL);

	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	free(r.svids[0].x509_svid_key);
	r.svids[0].x509_svid_key = raw_bytes("\x30\x03\x02\x01\x00", 5);
	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_X509);
	CHECK(strncmp(eb.msg, "SVID 0: x509svid: cannot parse DER encoded "
		      "private key", 52) == 0);

	/* Missing key: a mandatory field at its default. */
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	free(r.svids[0].x509_svid_key);
	r.svids[0].x509_svid_key = NULL;
	CHECK(x509_ctx(&r, &c, &eb) < 0);
	CHECK(c == NULL);
}

TEST(x509_context_spiffe_id_must_match_cert)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/other", NULL);
	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_X509);
	CHECK_STR(eb.msg, "SVID 0: spiffe_id spiffe://example.org/other is "
		  "not the certificate's URI SAN "
		  "spiffe://example.org/workload");
	CHECK(c == NULL);

	/* Another trust domain would file the bundle under it. */
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://evil.org/workload", NULL);
	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_X509);

	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "", NULL);
	CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_SPIFFEID);
	CHECK(strncmp(eb.msg, "SVID 0: spiffe_id: ", 19) == 0);
}

TEST(x509_context_federated_keys_both_forms)
{
	X509SVIDResponse r = X509SVIDResponse_init_zero;
	spiffe_x509_context *c = NULL;
	spiffe_errbuf eb;
	spiffe_td a = td_of("a.test"), b = td_of("b.test");
	spiffe_td own = td_of("example.org");

	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	r.federated_bundles_count = 3;
	r.federated_bundles = calloc(3, sizeof(*r.federated_bundles));
	r.federated_bundles[0].key = dup("spiffe://a.test");
	r.federated_bundles[0].value = file_bytes(X509 "root-ca.der");
	r.federated_bundles[1].key = dup("b.test");
	r.federated_bundles[1].value = file_bytes(X509 "bundle.der");
	r.federated_bundles[2].key = dup("spiffe://empty.test");
	CHECK_INT(x509_ctx(&r, &c, &eb), 0);
	CHECK_INT(spiffe_bundle_set_count(c->bundles), 4);
	CHECK_INT(spiffe_bundle_set_get(c->bundles, &a)->nx509, 1);
	CHECK_INT(spiffe_bundle_set_get(c->bundles, &b)->nx509, 2);
	CHECK_INT(spiffe_bundle_set_get(c->bundles, &own)->nx509, 1);
	spiffe_x509_context_unref(c);

	static const char *const bad[] = { "spiffe://", "Bad.Test",
					   "https://a.test", "" };
	for (size_t i = 0; i < 4; i++) {
		memset(&r, 0, sizeof(r));
		r.svids_count = 1;
		r.svids = calloc(1, sizeof(X509SVID));
		good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
		r.federated_bundles_count = 1;
		r.federated_bundles = calloc(1, sizeof(*r.federated_bundles));
		r.federated_bundles[0].key = dup(bad[i]);
		CHECK_INT(x509_ctx(&r, &c, &eb), SPIFFE_ERR_SPIFFEID);
		CHECK(strncmp(eb.msg, "federated_bundles key: ", 23) == 0);
		CHECK(c == NULL);
	}

	/* A bundle that is not DER fails the update. */
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(X509SVID));
	good_svid(&r.svids[0], "spiffe://example.org/workload", NULL);
	r.federated_bundles_count = 1;
	r.federated_bundles = calloc(1, sizeof(*r.federated_bundles));
	r.federated_bundles[0].key = dup("a.test");
	r.federated_bundles[0].value = raw_bytes("nope", 4);
	CHECK(x509_ctx(&r, &c, &eb) < 0);
	CHECK(strncmp(eb.msg, "federated bundle a.test: ", 25) == 0);
}

/* ---- hand-written protobuf bytes ----------------------------------- */

struct pbw {
	uint8_t b[4096];
	size_t n;
};

static void w_varint(struct pbw *w, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;

		v >>= 7;
		w->b[w->n++] = (uint8_t)(c | (v ? 0x80 : 0));
	} while (v);
}

static void w_bytes(struct pbw *w, unsigned field, const void *p, size_t n)
{
	w_varint(w, (uint64_t)field << 3 | 2);
	w_varint(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void w_sub(struct pbw *w, unsigned field, const struct pbw *sub)
{
	w_bytes(w, field, sub->b, sub->n);
}

static void w_double(struct pbw *w, unsigned field, double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	w_varint(w, (uint64_t)field << 3 | 1);
	for (int i = 0; i < 8; i++)
		w->b[w->n++] = (uint8_t)(u >> (8 * i));
}

TEST(nul_in_string_fields_rejected)
{
	struct pbw svid = { .n = 0 }, resp = { .n = 0 };
	spiffe_x509_context *c = NULL;
	spiffe_bundle_set *set = NULL;
	spiffe_errbuf eb;

	/* nanopb would read "spiffe://example.org/workload\0x" as the ID. */
	w_bytes(&svid, 1, "spiffe://example.org/workload\0x", 31);
	w_sub(&resp, 1, &svid);
	CHECK_INT(spiffe_wlapi_parse_x509_context(resp.b, resp.n, &c, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "X509SVID.spiffe_id: string holds a NUL byte");

	struct pbw e = { .n = 0 }, b = { .n = 0 };
	w_bytes(&e, 1, "spiffe://a.test\0evil", 20);
	w_sub(&b, 1, &e);
	CHECK_INT(spiffe_wlapi_parse_jwt_bundles(b.b, b.n, &set, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "map entry.key: string holds a NUL byte");
	CHECK(set == NULL);

	struct pbw j = { .n = 0 }, jr = { .n = 0 };
	spiffe_wlapi_jwt *v = NULL;
	size_t n = 7;
	const char *aud = "x";
	w_bytes(&j, 3, "hint\0", 5);
	w_sub(&jr, 1, &j);
	CHECK_INT(spiffe_wlapi_parse_jwt_svids(jr.b, jr.n, &aud, 1, &v, &n,
					       &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "JWTSVID.hint: string holds a NUL byte");
	CHECK(v == NULL);
	CHECK_INT(n, 0);
	/* Bytes fields may hold NUL. */
	struct pbw ok = { .n = 0 }, okr = { .n = 0 };
	w_bytes(&ok, 1, "a.test", 6);
	w_bytes(&ok, 2, "\0\0", 2);
	w_sub(&okr, 2, &ok);
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(okr.b, okr.n, &set, &eb),
		  SPIFFE_ERR_BUNDLE);
}

TEST(wire_type_and_counts_checked_before_decoding)
{
	struct pbw w = { .n = 0 };
	spiffe_x509_context *c = NULL;
	spiffe_bundle_set *set = NULL;
	spiffe_errbuf eb;

	/* svids as a varint */
	w_varint(&w, 1 << 3 | 0);
	w_varint(&w, 5);
	CHECK_INT(spiffe_wlapi_parse_x509_context(w.b, w.n, &c, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "X509SVIDResponse.svids: wrong wire type 0");

	/* 129 empty SVIDs */
	w.n = 0;
	for (int i = 0; i <= SPIFFE_WLAPI_MAX_SVIDS; i++)
		w_bytes(&w, 1, "", 0);
	CHECK_INT(spiffe_wlapi_parse_x509_context(w.b, w.n, &c, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "X509SVIDResponse.svids: more than 128 entries");

	/* Truncated length */
	static const uint8_t trunc[] = { 0x12, 0x05, 0x0a, 0x01 };
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(trunc, sizeof(trunc), &set,
						  &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "X509BundlesResponse: malformed protobuf");
	/* A group wire type */
	static const uint8_t group[] = { 0x0b, 0x0c };
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(group, sizeof(group), &set,
						  &eb), SPIFFE_ERR_MALFORMED);
	/* Field number 0 */
	static const uint8_t zero[] = { 0x02, 0x00 };
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(zero, sizeof(zero), &set,
						  &eb), SPIFFE_ERR_MALFORMED);
	/* Unknown fields and CRLs are skipped; an empty map is a set. */
	static const uint8_t unk[] = { 0x0a, 0x01, 0xff, 0x48, 0x05,
				       0x7d, 1, 2, 3, 4 };
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(unk, sizeof(unk), &set,
						  &eb), 0);
	CHECK_INT(spiffe_bundle_set_count(set), 0);
	spiffe_bundle_set_unref(set);
}

TEST(x509_bundles_response)
{
	X509BundlesResponse r = X509BundlesResponse_init_zero;
	spiffe_bundle_set *set = NULL;
	spiffe_errbuf eb;
	size_t len;
	uint8_t *buf;
	spiffe_td a = td_of("example.org"), b = td_of("b.test");

	r.bundles_count = 2;
	r.bundles = calloc(2, sizeof(*r.bundles));
	r.bundles[0].key = dup("spiffe://example.org");
	r.bundles[0].value = file_bytes(X509 "bundle.der");
	r.bundles[1].key = dup("b.test");
	buf = encode(X509BundlesResponse_fields, &r, &len);
	pb_release(X509BundlesResponse_fields, &r);
	CHECK_INT(spiffe_wlapi_parse_x509_bundles(buf, len, &set, &eb), 0);
	free(buf);
	CHECK_INT(spiffe_bundle_set_count(set), 2);
	CHECK_INT(spiffe_bundle_set_get(set, &a)->nx509, 2);
	CHECK_INT(spiffe_bundle_set_get(set, &b)->nx509, 0);
	spiffe_bundle_set_unref(set);
}

static int jwt_bundles(const char *const *files, const char *const *keys,
		       size_t n, spiffe_bundle_set **set, spiffe_errbuf *eb)
{
	JWTBundlesResponse r = JWTBundlesResponse_init_zero;
	size_t len;
	uint8_t *buf;
	int rc;

	r.bundles_count = (pb_size_t)n;
	r.bundles = calloc(n, sizeof(*r.bundles));
	for (size_t i = 0; i < n; i++) {
		r.bundles[i].key = dup(keys[i]);
		r.bundles[i].value = files[i] ? file_bytes(files[i]) : NULL;
	}
	buf = encode(JWTBundlesResponse_fields, &r, &len);
	pb_release(JWTBundlesResponse_fields, &r);
	rc = spiffe_wlapi_parse_jwt_bundles(buf, len, set, eb);
	free(buf);
	return rc;
}

TEST(jwt_bundles_response)
{
	static const char *const files[] = { BUNDLE "jwks-valid.json",
					     BUNDLE "jwks-unknown-kty.json",
					     BUNDLE "jwks-no-use.json" };
	static const char *const keys[] = { "spiffe://example.org", "a.test",
					    "spiffe://b.test" };
	spiffe_bundle_set *set = NULL;
	spiffe_errbuf eb;
	spiffe_td td = td_of("a.test");
	const spiffe_bundle *b;

	CHECK_INT(jwt_bundles(files, keys, 3, &set, &eb), 0);
	CHECK_INT(spiffe_bundle_set_count(set), 3);
	/* OKP, XYZ and oct are skipped; the EC and RSA keys stay. */
	b = spiffe_bundle_set_get(set, &td);
	CHECK(b != NULL);
	CHECK_INT(b->njwt, 2);
	CHECK(spiffe_bundle_find_jwt(b, "ec256", 5) != NULL);
	CHECK(spiffe_bundle_find_jwt(b, "rsa2048", 7) != NULL);
	CHECK(spiffe_bundle_find_jwt(b, "ed", 2) == NULL);
	td = td_of("b.test");
	CHECK(spiffe_bundle_set_get(set, &td)->njwt >= 1);
	spiffe_bundle_set_unref(set);

	/* One bad JWKS fails the update (go-spiffe too). */
	static const char *const bad[] = {
		BUNDLE "jwks-valid.json", BUNDLE "jwks-ec-not-on-curve.json",
	};
	CHECK_INT(jwt_bundles(bad, keys, 2, &set, &eb), SPIFFE_ERR_BUNDLE);
	CHECK(strncmp(eb.msg, "bundle a.test: jwtbundle: ", 26) == 0);
	CHECK(set == NULL);
	/* An empty value is not a JWKS. */
	static const char *const empty[] = { NULL };
	CHECK(jwt_bundles(empty, keys, 1, &set, &eb) < 0);
	CHECK(set == NULL);
}

static char *file_str(const char *path)
{
	size_t n;
	char *p = (char *)slurp(path, &n);

	while (p != NULL && n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		p[--n] = '\0';
	return p;
}

static int jwt_svids(JWTSVIDResponse *r, const char *const *aud,
		     size_t naud, spiffe_wlapi_jwt **v, size_t *n,
		     spiffe_errbuf *eb)
{
	size_t len;
	uint8_t *buf = encode(JWTSVIDResponse_fields, r, &len);
	int rc;

	pb_release(JWTSVIDResponse_fields, r);
	rc = spiffe_wlapi_parse_jwt_svids(buf, len, aud, naud, v, n, eb);
	free(buf);
	return rc;
}

TEST(jwt_svid_response)
{
	JWTSVIDResponse r = JWTSVIDResponse_init_zero;
	const char *aud[] = { "spiffe://example.org/server" };
	const char *wrong[] = { "spiffe://example.org/other" };
	spiffe_wlapi_jwt *v = NULL;
	size_t n = 0;
	spiffe_errbuf eb;
	char *tok = file_str(JWT "es256-valid.jwt");

	CHECK(tok != NULL);
	spiffe_clock_set(NOW);
	r.svids_count = 3;
	r.svids = calloc(3, sizeof(JWTSVID));
	r.svids[0].spiffe_id = dup("spiffe://example.org/client");
	r.svids[0].svid = dup(tok);
	r.svids[0].hint = dup("h");
	r.svids[1].spiffe_id = dup("spiffe://example.org/client");
	r.svids[1].svid = dup("not a token");
	r.svids[1].hint = dup("h");
	r.svids[2].spiffe_id = dup("spiffe://example.org/client");
	r.svids[2].svid = dup(tok);
	CHECK_INT(jwt_svids(&r, aud, 1, &v, &n, &eb), 0);
	CHECK_INT(n, 2);
	CHECK_STR(v[0].token, tok);
	CHECK_INT(v[0].token_len, strlen(tok));
	CHECK_STR(v[0].hint, "h");
	CHECK_STR(v[0].svid.id.str, "spiffe://example.org/client");
	CHECK_INT(v[0].svid.exp, NOW + 3600);
	CHECK_STR(v[1].hint, "");
	spiffe_wlapi_jwt_free(v, n);

	/* Audience not in the token fails the call. */
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(JWTSVID));
	r.svids[0].spiffe_id = dup("spiffe://example.org/client");
	r.svids[0].svid = dup(tok);
	CHECK_INT(jwt_svids(&r, wrong, 1, &v, &n, &eb), SPIFFE_ERR_AUDIENCE);
	CHECK(strncmp(eb.msg, "JWT-SVID 0: ", 12) == 0);
	CHECK(v == NULL);

	/* sub must equal the response's spiffe_id. */
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(JWTSVID));
	r.svids[0].spiffe_id = dup("spiffe://example.org/server");
	r.svids[0].svid = dup(tok);
	CHECK_INT(jwt_svids(&r, aud, 1, &v, &n, &eb), SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "JWT-SVID 0: spiffe_id spiffe://example.org/server "
		  "is not the token's subject spiffe://example.org/client");

	/* Expired (exp + leeway in the past). */
	spiffe_clock_set(NOW + 3600 + 61);
	memset(&r, 0, sizeof(r));
	r.svids_count = 1;
	r.svids = calloc(1, sizeof(JWTSVID));
	r.svids[0].spiffe_id = dup("spiffe://example.org/client");
	r.svids[0].svid = dup(tok);
	CHECK_INT(jwt_svids(&r, aud, 1, &v, &n, &eb), SPIFFE_ERR_EXPIRED);
	spiffe_clock_set(NOW);

	memset(&r, 0, sizeof(r));
	CHECK_INT(jwt_svids(&r, aud, 1, &v, &n, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "there were no SVIDs in the response");
	free(tok);
	spiffe_clock_set(-1);
}

TEST(jwt_request_wire_bytes)
{
	const char *aud[] = { "a", "bc" };
	static const uint8_t want[] = { 0, 0, 0, 0, 10, 0x0a, 1, 'a', 0x0a, 2,
					'b', 'c', 0x12, 1, 'x' };
	static const uint8_t want2[] = { 0, 0, 0, 0, 3, 0x0a, 1, 'a' };
	uint8_t *out;
	size_t len;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_wlapi_encode_jwt_request(aud, 2, "x", &out, &len,
						  &eb), 0);
	CHECK_INT(len, sizeof(want));
	CHECK_MEM(out, want, len);
	free(out);
	CHECK_INT(spiffe_wlapi_encode_jwt_request(aud, 1, NULL, &out, &len,
						  &eb), 0);
	CHECK_INT(len, sizeof(want2));
	CHECK_MEM(out, want2, len);
	free(out);
	CHECK_INT(spiffe_wlapi_encode_jwt_request(aud, 0, NULL, &out, &len,
						  &eb), SPIFFE_ERR_ARG);

	static const uint8_t want3[] = { 0, 0, 0, 0, 8, 0x0a, 1, 'a', 0x12, 3,
					 't', '.', 'k' };
	CHECK_INT(spiffe_wlapi_encode_validate_request("a", "t.kXYZ", 3, &out,
						       &len, &eb), 0);
	CHECK_INT(len, sizeof(want3));
	CHECK_MEM(out, want3, len);
	free(out);
	CHECK_INT(spiffe_wlapi_encode_validate_request("a", "t\0k", 3, &out,
						       &len, &eb),
		  SPIFFE_ERR_ARG);
}

/* Struct { fields: key -> Value } helpers */
static void st_entry(struct pbw *st, const char *key, const struct pbw *v)
{
	struct pbw e = { .n = 0 };

	w_bytes(&e, 1, key, strlen(key));
	w_sub(&e, 2, v);
	w_sub(st, 1, &e);
}

static struct pbw v_str(const char *s)
{
	struct pbw v = { .n = 0 };

	w_bytes(&v, 3, s, strlen(s));
	return v;
}

static struct pbw v_num(double d)
{
	struct pbw v = { .n = 0 };

	w_double(&v, 2, d);
	return v;
}

TEST(claims_struct_to_json)
{
	struct pbw st = { .n = 0 }, list = { .n = 0 }, lv = { .n = 0 };
	struct pbw inner = { .n = 0 }, iv = { .n = 0 };
	struct pbw b = { .n = 0 }, nul = { .n = 0 };
	struct pbw s1 = v_str("spiffe://example.org/client");
	struct pbw a1 = v_str("x"), a2 = v_str("q\"\\\x01\xc3\xa9");
	struct pbw n1 = v_num(1767229200), n2 = v_num(1.5), n3 = v_num(-42);
	struct pbw n4 = v_num(1e300);
	char *json;
	size_t jl;
	spiffe_errbuf eb;

	st_entry(&st, "sub", &s1);
	w_sub(&list, 1, &a1);
	w_sub(&list, 1, &a2);
	w_sub(&lv, 6, &list);
	st_entry(&st, "aud", &lv);
	st_entry(&st, "exp", &n1);
	st_entry(&st, "f", &n2);
	st_entry(&st, "neg", &n3);
	st_entry(&st, "big", &n4);
	w_varint(&b, 4 << 3);
	w_varint(&b, 1);
	st_entry(&st, "b", &b);
	w_varint(&nul, 1 << 3);
	w_varint(&nul, 0);
	st_entry(&st, "n", &nul);
	st_entry(&inner, "k", &n3);
	w_sub(&iv, 5, &inner);
	st_entry(&st, "o", &iv);
	struct pbw el = { .n = 0 }, elv = { .n = 0 }, eo = { .n = 0 };
	w_sub(&elv, 6, &el);
	st_entry(&st, "el", &elv);
	w_sub(&eo, 5, &el);
	st_entry(&st, "eo", &eo);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb), 0);
	CHECK_STR(json, "{\"sub\":\"spiffe://example.org/client\","
		  "\"aud\":[\"x\",\"q\\\"\\\\\\u0001\xc3\xa9\"],"
		  "\"exp\":1767229200,\"f\":1.5,\"neg\":-42,"
		  "\"big\":1.0000000000000001e+300,\"b\":true,\"n\":null,"
		  "\"o\":{\"k\":-42},\"el\":[],\"eo\":{}}");
	CHECK_INT(jl, strlen(json));
	free(json);
	CHECK_INT(spiffe_wlapi_struct_to_json(NULL, 0, &json, &jl, &eb), 0);
	CHECK_STR(json, "{}");
	free(json);
}

TEST(claims_struct_rejects)
{
	struct pbw st = { .n = 0 }, v = v_str("a"), nan = v_num(0.0 / 0.0);
	struct pbw two = { .n = 0 }, none = { .n = 0 };
	char *json = (char *)1;
	size_t jl;
	spiffe_errbuf eb;

	st_entry(&st, "a", &v);
	st_entry(&st, "a", &v);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "claims: duplicate member name");
	CHECK(json == NULL);

	st.n = 0;
	st_entry(&st, "x", &nan);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "claims: number is not finite");

	w_bytes(&two, 3, "s", 1);
	w_double(&two, 2, 1);
	st.n = 0;
	st_entry(&st, "x", &two);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "claims: value with more than one kind");
	st.n = 0;
	st_entry(&st, "x", &none);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "claims: value without a kind");

	/* Invalid UTF-8 in a string value. */
	struct pbw bad = v_str("\xff");
	st.n = 0;
	st_entry(&st, "x", &bad);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_JSON);

	/* 40 nested lists: deeper than SPIFFE_JSON_MAX_DEPTH. */
	struct pbw cur = v_str("deep");
	for (int i = 0; i < 40; i++) {
		struct pbw l = { .n = 0 }, lv = { .n = 0 };

		w_sub(&l, 1, &cur);
		w_sub(&lv, 6, &l);
		cur = lv;
	}
	st.n = 0;
	st_entry(&st, "x", &cur);
	CHECK_INT(spiffe_wlapi_struct_to_json(st.b, st.n, &json, &jl, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "claims: nested deeper than 32");
}

TEST(validate_response)
{
	struct pbw resp = { .n = 0 }, st = { .n = 0 };
	struct pbw s1 = v_str("spiffe://example.org/client");
	char *tok = file_str(JWT "es256-valid.jwt");
	spiffe_jwt_svid out;
	char *json;
	spiffe_errbuf eb;

	spiffe_clock_set(NOW);
	st_entry(&st, "sub", &s1);
	w_bytes(&resp, 1, "spiffe://example.org/client", 27);
	w_sub(&resp, 2, &st);
	spiffe_jwtsvid_init(&out);
	CHECK_INT(spiffe_wlapi_parse_validate(resp.b, resp.n, tok,
					      strlen(tok),
					      "spiffe://example.org/server",
					      &out, &json, &eb), 0);
	CHECK_STR(out.id.str, "spiffe://example.org/client");
	CHECK_STR(json, "{\"sub\":\"spiffe://example.org/client\"}");
	free(json);
	spiffe_jwtsvid_free(&out);

	/* The server's ID must be the token's sub. */
	resp.n = 0;
	w_bytes(&resp, 1, "spiffe://example.org/other", 26);
	w_sub(&resp, 2, &st);
	CHECK_INT(spiffe_wlapi_parse_validate(resp.b, resp.n, tok,
					      strlen(tok),
					      "spiffe://example.org/server",
					      &out, NULL, &eb),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "the server's spiffe_id spiffe://example.org/other "
		  "is not the token's subject spiffe://example.org/client");
	CHECK_INT(out.id.len, 0);
	/* The local audience check applies too. */
	resp.n = 0;
	w_bytes(&resp, 1, "spiffe://example.org/client", 27);
	CHECK_INT(spiffe_wlapi_parse_validate(resp.b, resp.n, tok,
					      strlen(tok), "other", &out,
					      &json, &eb),
		  SPIFFE_ERR_AUDIENCE);
	CHECK(json == NULL);
	/* claims twice */
	w_sub(&resp, 2, &st);
	w_sub(&resp, 2, &st);
	CHECK_INT(spiffe_wlapi_parse_validate(resp.b, resp.n, tok,
					      strlen(tok),
					      "spiffe://example.org/server",
					      &out, &json, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "claims: claims field repeated");
	free(tok);
	spiffe_clock_set(-1);
}

TEST(method_paths)
{
	CHECK_STR(spiffe_wlapi_method_path(SPIFFE_WLAPI_FETCH_X509_SVID),
		  "/SpiffeWorkloadAPI/FetchX509SVID");
	CHECK_STR(spiffe_wlapi_method_path(SPIFFE_WLAPI_FETCH_X509_BUNDLES),
		  "/SpiffeWorkloadAPI/FetchX509Bundles");
	CHECK_STR(spiffe_wlapi_method_path(SPIFFE_WLAPI_FETCH_JWT_SVID),
		  "/SpiffeWorkloadAPI/FetchJWTSVID");
	CHECK_STR(spiffe_wlapi_method_path(SPIFFE_WLAPI_FETCH_JWT_BUNDLES),
		  "/SpiffeWorkloadAPI/FetchJWTBundles");
	CHECK_STR(spiffe_wlapi_method_path(SPIFFE_WLAPI_VALIDATE_JWT_SVID),
		  "/SpiffeWorkloadAPI/ValidateJWTSVID");
	CHECK(spiffe_wlapi_method_path(5) == NULL);
}

int main(void)
{
	RUN(x509_context_good);
	RUN(x509_context_chain_with_intermediate);
	RUN(x509_context_no_svids);
	RUN(x509_context_duplicate_hints_first_wins);
	RUN(x509_context_empty_bundle_keeps_svid);
	RUN(x509_context_bad_key);
	RUN(x509_context_spiffe_id_must_match_cert);
	RUN(x509_context_federated_keys_both_forms);
	RUN(nul_in_string_fields_rejected);
	RUN(wire_type_and_counts_checked_before_decoding);
	RUN(x509_bundles_response);
	RUN(jwt_bundles_response);
	RUN(jwt_svid_response);
	RUN(jwt_request_wire_bytes);
	RUN(claims_struct_to_json);
	RUN(claims_struct_rejects);
	RUN(validate_response);
	RUN(method_paths);
	return test_summary();
}
