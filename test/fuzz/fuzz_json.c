/*
 * fuzz_json - the JSON reader on arbitrary bytes.
 *
 * On success walks every token: the tree shape (skip, count) must be
 * consistent, every string must decode to its recorded length, compare
 * equal to itself, and survive quote -> parse -> str; every member must
 * be found by name; numbers go through int64, uint64 and numeric_date.
 * On failure the message must be printable ASCII.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void printable(const spiffe_errbuf *eb)
{
	size_t n = strnlen(eb->msg, sizeof(eb->msg));

	if (n == 0 || n == sizeof(eb->msg))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (eb->msg[i] < 0x20 || eb->msg[i] > 0x7e)
			abort();
	}
}

/* Walks the subtree at i; returns the index after it. */
static int walk(const spiffe_json *j, int i)
{
	const spiffe_json_tok *t = &j->tok[i];
	int k = i + 1;

	if (t->skip == 0 || (size_t)i + t->skip > j->ntok ||
	    t->start > t->end || t->end > j->len)
		abort();
	if (t->type == SPIFFE_JSON_ARRAY) {
		for (uint32_t m = 0; m < t->count; m++) {
			if (spiffe_json_at(j, i, m) != k)
				abort();
			k = walk(j, k);
		}
		if (spiffe_json_at(j, i, t->count) != SPIFFE_ERR_NOT_FOUND)
			abort();
	} else if (t->type == SPIFFE_JSON_OBJECT) {
		for (uint32_t m = 0; m < t->count; m++) {
			static char name[SPIFFE_JSON_MAX_INPUT];
			size_t n;

			if (j->tok[k].type != SPIFFE_JSON_STRING)
				abort();
			k = walk(j, k);
			if (spiffe_json_str(j, k - 1, name, sizeof(name),
					    &n) != 0)
				abort();
			/* Names with a NUL cannot be looked up by C string. */
			if (memchr(name, 0, n) == NULL &&
			    spiffe_json_get(j, i, name) != k)
				abort();
			k = walk(j, k);
		}
	}
	if (k != spiffe_json_next(j, i))
		abort();
	return k;
}

static void scalars(const spiffe_json *j, int i)
{
	static char buf[SPIFFE_JSON_MAX_INPUT + 1];
	static char q[6 * SPIFFE_JSON_MAX_INPUT + 3];
	static char back[SPIFFE_JSON_MAX_INPUT + 1];
	const spiffe_json_tok *t = &j->tok[i];
	spiffe_json j2;
	int64_t v;
	uint64_t u;
	size_t n, qn, bn;
	int rc;

	rc = spiffe_json_int64(j, i, &v);
	rc = spiffe_json_uint64(j, i, &u);
	rc = spiffe_json_numeric_date(j, i, &v);
	if (rc == 0 && (v > (1LL << 53) || v < -(1LL << 53)))
		abort();
	rc = spiffe_json_str(j, i, buf, sizeof(buf), &n);
	if (t->type != SPIFFE_JSON_STRING) {
		if (rc != SPIFFE_ERR_JSON)
			abort();
		return;
	}
	if (rc != 0 || n != t->count || !spiffe_json_str_eq(j, i, buf, n))
		abort();
	if (n > 0 && spiffe_json_str_eq(j, i, buf, n - 1))
		abort();
	if (spiffe_json_str(j, i, buf, n, NULL) != SPIFFE_ERR_LIMIT)
		abort();
	if (spiffe_json_quote(q, sizeof(q), &qn, buf, n) != 0)
		abort();
	spiffe_json_init(&j2);
	if (qn <= SPIFFE_JSON_MAX_INPUT) {
		if (spiffe_json_parse(&j2, q, qn, NULL) != 0 ||
		    spiffe_json_str(&j2, 0, back, sizeof(back), &bn) != 0 ||
		    bn != n || memcmp(back, buf, n) != 0)
			abort();
	}
	spiffe_json_free(&j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_errbuf eb;
	spiffe_json j;

	spiffe_json_init(&j);
	if (spiffe_json_parse(&j, (const char *)data, size, &eb) != 0) {
		printable(&eb);
		if (j.tok != NULL || j.ntok != 0)
			abort();
		return 0;
	}
	if (j.ntok == 0 || walk(&j, 0) != (int)j.ntok)
		abort();
	for (size_t i = 0; i < j.ntok; i++)
		scalars(&j, (int)i);
	spiffe_json_free(&j);
	return 0;
}
