#include "utf8.h"

size_t spiffe_utf8_seq(const unsigned char *s, size_t n, const char **why)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	const char *w;
	size_t k;

	if (c < 0x80)
		return 1;
	if (c < 0xc0) {
		w = "unexpected continuation byte";
		goto bad;
	}
	if (c < 0xc2) {
		w = "overlong encoding";
		goto bad;
	}
	if (c < 0xe0) {
		k = 2;
	} else if (c < 0xf0) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		w = c < 0xf8 ? "code point above U+10FFFF" : "invalid byte";
		goto bad;
	}
	for (size_t i = 1; i < k; i++) {
		if (i >= n) {
			w = "truncated sequence";
			goto bad;
		}
		if ((s[i] & 0xc0) != 0x80) {
			w = "missing continuation byte";
			goto bad;
		}
	}
	if (s[1] < lo) {
		w = "overlong encoding";
		goto bad;
	}
	if (s[1] > hi) {
		w = c == 0xed ? "surrogate" : "code point above U+10FFFF";
		goto bad;
	}
	return k;
bad:
	if (why != NULL)
		*why = w;
	return 0;
}

int spiffe_utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k) {
		k = spiffe_utf8_seq(s + i, n - i, NULL);
		if (k == 0)
			return 0;
	}
	return 1;
}
