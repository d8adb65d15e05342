#include "b64.h"

#include <stdint.h>

#define BAD 0xff

static const char url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char std_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character to 6-bit value, BAD for everything else ('=' included). */
#define ROW_BAD16 BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, \
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD
#define ROW_DIGITS 52, 53, 54, 55, 56, 57, 58, 59, 60, 61
#define ROW_UPPER 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25
#define ROW_LOWER 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, \
	40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51

static const uint8_t url_value[256] = {
	ROW_BAD16, ROW_BAD16,
	/* 0x20: ' ' ... '/', '-' is 62 */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, 62, BAD, BAD,
	/* 0x30: '0' ... '?' */
	ROW_DIGITS, BAD, BAD, BAD, BAD, BAD, BAD,
	/* 0x40: '@', 'A' ... 'Z', '[' ... '_', '_' is 63 */
	BAD, ROW_UPPER, BAD, BAD, BAD, BAD, 63,
	/* 0x60: '`', 'a' ... 'z', '{' ... 0x7f */
	BAD, ROW_LOWER, BAD, BAD, BAD, BAD, BAD,
	ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16,
	ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16,
};

static const uint8_t std_value[256] = {
	ROW_BAD16, ROW_BAD16,
	/* 0x20: ' ' ... '/', '+' is 62, '/' is 63 */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, 62, BAD, BAD, BAD, 63,
	/* 0x30: '0' ... '?' */
	ROW_DIGITS, BAD, BAD, BAD, BAD, BAD, BAD,
	/* 0x40: '@', 'A' ... 'Z', '[' ... '_' */
	BAD, ROW_UPPER, BAD, BAD, BAD, BAD, BAD,
	/* 0x60: '`', 'a' ... 'z', '{' ... 0x7f */
	BAD, ROW_LOWER, BAD, BAD, BAD, BAD, BAD,
	ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16,
	ROW_BAD16, ROW_BAD16, ROW_BAD16, ROW_BAD16,
};

/*
 * Decodes len characters (len % 4 != 1) with table val, nothing else
 * in them.  The final 2 or 3 characters give 1 or 2 bytes, and the bits
 * they carry past those bytes must be zero.
 */
static int decode(const uint8_t *val, uint8_t *out, size_t cap,
		  size_t *outlen, const char *in, size_t len)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t full = len / 4, rest = len % 4;
	size_t need = full * 3 + (rest ? rest - 1 : 0);
	uint8_t *w = out;

	if (rest == 1)
		return SPIFFE_ERR_BASE64;
	for (size_t i = 0; i < len; i++) {
		if (val[p[i]] == BAD)
			return SPIFFE_ERR_BASE64;
	}
	if (rest == 2 && (val[p[len - 1]] & 0x0f) != 0)
		return SPIFFE_ERR_BASE64;
	if (rest == 3 && (val[p[len - 1]] & 0x03) != 0)
		return SPIFFE_ERR_BASE64;
	if (need > cap)
		return SPIFFE_ERR_LIMIT;
	for (size_t i = 0; i < full; i++, p += 4) {
		uint32_t v = (uint32_t)val[p[0]] << 18 |
			     (uint32_t)val[p[1]] << 12 |
			     (uint32_t)val[p[2]] << 6 | val[p[3]];

		*w++ = (uint8_t)(v >> 16);
		*w++ = (uint8_t)(v >> 8);
		*w++ = (uint8_t)v;
	}
	if (rest >= 2) {
		uint32_t v = (uint32_t)val[p[0]] << 18 |
			     (uint32_t)val[p[1]] << 12;

		if (rest == 3)
			v |= (uint32_t)val[p[2]] << 6;
		*w++ = (uint8_t)(v >> 16);
		if (rest == 3)
			*w++ = (uint8_t)(v >> 8);
	}
	if (outlen != NULL)
		*outlen = need;
	return 0;
}

int spiffe_b64url_decode(uint8_t *out, size_t cap, size_t *outlen,
			 const char *in, size_t len)
{
	if (outlen != NULL)
		*outlen = 0;
	if ((in == NULL && len != 0) || (out == NULL && cap != 0))
		return SPIFFE_ERR_ARG;
	return decode(url_value, out, cap, outlen, in, len);
}

int spiffe_b64std_decode(uint8_t *out, size_t cap, size_t *outlen,
			 const char *in, size_t len)
{
	if (outlen != NULL)
		*outlen = 0;
	if ((in == NULL && len != 0) || (out == NULL && cap != 0))
		return SPIFFE_ERR_ARG;
	if (len % 4 != 0)
		return SPIFFE_ERR_BASE64;
	/* "xx==" or "xxx=": strip the padding, then decode as unpadded. */
	if (len != 0 && in[len - 1] == '=') {
		len--;
		if (in[len - 1] == '=')
			len--;
	}
	return decode(std_value, out, cap, outlen, in, len);
}

/* Encodes with alphabet abc; pad adds '=' to a multiple of 4. */
static int encode(const char *abc, int pad, char *out, size_t cap,
		  size_t *outlen, const uint8_t *in, size_t len)
{
	size_t full = len / 3, rest = len % 3, need;
	const uint8_t *p = in;
	char *w = out;

	if (outlen != NULL)
		*outlen = 0;
	if ((in == NULL && len != 0) || out == NULL)
		return SPIFFE_ERR_ARG;
	/* 4 * (full + 1) + 1 must not wrap. */
	if (full > (SIZE_MAX - 5) / 4)
		return SPIFFE_ERR_LIMIT;
	need = full * 4 + (rest == 0 ? 0 : pad ? 4 : rest + 1);
	if (need >= cap)
		return SPIFFE_ERR_LIMIT;
	for (size_t i = 0; i < full; i++, p += 3) {
		uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

		*w++ = abc[v >> 18];
		*w++ = abc[(v >> 12) & 63];
		*w++ = abc[(v >> 6) & 63];
		*w++ = abc[v & 63];
	}
	if (rest != 0) {
		uint32_t v = (uint32_t)p[0] << 16;

		if (rest == 2)
			v |= (uint32_t)p[1] << 8;
		*w++ = abc[v >> 18];
		*w++ = abc[(v >> 12) & 63];
		if (rest == 2)
			*w++ = abc[(v >> 6) & 63];
		else if (pad)
			*w++ = '=';
		if (pad)
			*w++ = '=';
	}
	*w = '\0';
	if (outlen != NULL)
		*outlen = need;
	return 0;
}

int spiffe_b64url_encode(char *out, size_t cap, size_t *outlen,
			 const uint8_t *in, size_t len)
{
	return encode(url_alphabet, 0, out, cap, outlen, in, len);
}

int spiffe_b64std_encode(char *out, size_t cap, size_t *outlen,
			 const uint8_t *in, size_t len)
{
	return encode(std_alphabet, 1, out, cap, outlen, in, len);
}
