/*
 * fuzz_jwtauth.c - the Authorization value a server reads from every
 * request, split by spiffe_jwt_auth_bearer(), against a plain
 * transcription of what the reference does with it: Go's strings.Fields
 * (utf8.DecodeRune, unicode.IsSpace), then exactly two fields, the
 * first "Bearer".  Both must agree on accepting and on the token, which
 * must be a view into the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwtauth.h"
#include "limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RUNE_ERROR 0xfffd

/* utf8.DecodeRune: the rune at p[0..n) and its width (1 if invalid). */
static uint32_t decode_rune(const uint8_t *p, size_t n, size_t *w)
{
	uint8_t c = p[0];
	uint32_t r;
	size_t k;

	*w = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, r = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, r = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, r = c & 0x07;
	else
		return RUNE_ERROR;
	if (n < k)
		return RUNE_ERROR;
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return RUNE_ERROR;
		r = r << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, past U+10FFFF */
	if ((k == 3 && r < 0x800) || (k == 4 && r < 0x10000) ||
	    (r >= 0xd800 && r <= 0xdfff) || r > 0x10ffff)
		return RUNE_ERROR;
	*w = k;
	return r;
}

/* unicode.IsSpace */
static int is_space(uint32_t r)
{
	switch (r) {
	case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
	case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202f: case 0x205f: case 0x3000:
		return 1;
	}
	return r >= 0x2000 && r <= 0x200a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *f[3];
	size_t fl[3], nf = 0, i = 0, w;
	const char *tok;
	size_t tlen;
	int rc, want;

	if (size > SPIFFE_HPACK_MAX_STRING)
		return 0;
	/* strings.Fields: runs of non-space runes. */
	while (i < size) {
		size_t start;

		while (i < size &&
		       is_space(decode_rune(data + i, size - i, &w)))
			i += w;
		if (i == size)
			break;
		start = i;
		while (i < size &&
		       !is_space(decode_rune(data + i, size - i, &w)))
			i += w;
		if (nf < 3) {
			f[nf] = data + start;
			fl[nf] = i - start;
		}
		nf++;
	}
	want = nf == 2 && fl[0] == 6 && memcmp(f[0], "Bearer", 6) == 0;
	rc = spiffe_jwt_auth_bearer((const char *)data, size, &tok, &tlen);
	if ((rc == 0) != want)
		abort();
	if (rc == 0 && ((const uint8_t *)tok != f[1] || tlen != fl[1]))
		abort();
	if (rc != 0 && (tok != NULL || tlen != 0))
		abort();
	return 0;
}
