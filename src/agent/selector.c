/*
 * selector.c - workload selectors and sorted selector sets.
 */
#include "selector.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void spiffe_selectors_init(spiffe_selectors *s)
{
	memset(s, 0, sizeof(*s));
}

void spiffe_selectors_free(spiffe_selectors *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	spiffe_selectors_init(s);
}

static int is_type_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '-';
}

/*
 * Length of the valid UTF-8 sequence at p[0..len) that encodes one
 * character other than a control character, or 0 if there is none.
 */
static size_t utf8_char(const unsigned char *p, size_t len)
{
	if (p[0] < 0x80)
		return (p[0] >= 0x20 && p[0] != 0x7f) ? 1 : 0;
	return spiffe_utf8_seq(p, len, NULL);
}

int spiffe_selector_check(const char *p, size_t len, spiffe_errbuf *eb)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t t = 0;

	if (len > SPIFFE_SELECTOR_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "selector of %zu bytes exceeds the limit "
				   "of %d", len, SPIFFE_SELECTOR_MAX);
	while (t < len && u[t] != ':') {
		if (!is_type_char(u[t]))
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "selector type characters are "
					   "limited to a-z, 0-9, '_' and '-' "
					   "(byte 0x%02x at %zu)", u[t], t);
		t++;
	}
	if (t == len)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "selector must be \"type:value\" (no ':')");
	if (t == 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "selector type is empty");
	if (t > SPIFFE_SELECTOR_TYPE_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
				   "selector type of %zu bytes exceeds the "
				   "limit of %d", t, SPIFFE_SELECTOR_TYPE_MAX);
	if (t + 1 == len)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
				   "selector value is empty");
	for (size_t i = t + 1; i < len;) {
		size_t n = utf8_char(u + i, len - i);

		if (n == 0)
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
					   "selector value has a control "
					   "character or invalid UTF-8 at "
					   "byte %zu", i);
		i += n;
	}
	return 0;
}

/* strcmp order for a counted string against a NUL-terminated one. */
static int cmp(const char *p, size_t len, const char *s)
{
	size_t sl = strlen(s);
	size_t k = len < sl ? len : sl;
	int c = k > 0 ? memcmp(p, s, k) : 0;

	if (c != 0)
		return c;
	return len < sl ? -1 : (len > sl ? 1 : 0);
}

/* Index of p in s, or of where it would go (*found says which). */
static size_t find(const spiffe_selectors *s, const char *p, size_t len,
		   int *found)
{
	size_t lo = 0, hi = s->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(p, len, s->v[mid]);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int spiffe_selectors_add(spiffe_selectors *s, const char *p, size_t len,
			 spiffe_errbuf *eb)
{
	int rc, found;
	size_t at;
	char *copy;

	rc = spiffe_selector_check(p, len, eb);
	if (rc != 0)
		return rc;
	at = find(s, p, len, &found);
	if (found)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "duplicate selector "
				   "\"%.*s\"", (int)(len > 200 ? 200 : len),
				   p);
	if (s->n >= SPIFFE_SELECTORS_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "selectors in a set", SPIFFE_SELECTORS_MAX);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return spiffe_fail(eb, SPIFFE_ERR_NOMEM,
					   "out of memory");
		s->v = v;
		s->cap = cap;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	memcpy(copy, p, len);
	copy[len] = '\0';
	memmove(s->v + at + 1, s->v + at, (s->n - at) * sizeof(*s->v));
	s->v[at] = copy;
	s->n++;
	return 0;
}

int spiffe_selectors_contains(const spiffe_selectors *s, const char *p,
			      size_t len)
{
	int found;

	(void)find(s, p, len, &found);
	return found;
}

int spiffe_selectors_subset(const spiffe_selectors *sub,
			    const spiffe_selectors *super)
{
	size_t j = 0;

	/* Both are sorted: one merge pass. */
	for (size_t i = 0; i < sub->n; i++) {
		int c = 1;

		while (j < super->n && (c = strcmp(super->v[j],
						   sub->v[i])) < 0)
			j++;
		if (j == super->n || c != 0)
			return 0;
		j++;
	}
	return 1;
}

int spiffe_selectors_equal(const spiffe_selectors *a,
			   const spiffe_selectors *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	}
	return 1;
}

int spiffe_selectors_copy(spiffe_selectors *dst, const spiffe_selectors *src)
{
	spiffe_selectors t;

	spiffe_selectors_init(&t);
	if (src->n > 0) {
		t.v = calloc(src->n, sizeof(*t.v));
		if (t.v == NULL)
			return SPIFFE_ERR_NOMEM;
		t.cap = src->n;
	}
	for (size_t i = 0; i < src->n; i++) {
		t.v[i] = strdup(src->v[i]);
		if (t.v[i] == NULL) {
			spiffe_selectors_free(&t);
			return SPIFFE_ERR_NOMEM;
		}
		t.n++;
	}
	spiffe_selectors_free(dst);
	*dst = t;
	return 0;
}
