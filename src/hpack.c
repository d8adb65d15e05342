/*
 * hpack.c - HPACK (RFC 7541): integers, strings, Huffman code, static
 * and dynamic tables, decoder and encoder.
 */
#include "hpack.h"

#include <string.h>

/* --- static table (RFC 7541 Appendix A) ---------------------------------- */

struct static_entry {
	const char *name;
	uint8_t name_len;
	const char *value;
	uint8_t value_len;
};

#define S(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }
static const struct static_entry static_table[] = {
	S(":authority", ""),
	S(":method", "GET"),
	S(":method", "POST"),
	S(":path", "/"),
	S(":path", "/index.html"),
	S(":scheme", "http"),
	S(":scheme", "https"),
	S(":status", "200"),
	S(":status", "204"),
	S(":status", "206"),
	S(":status", "304"),
	S(":status", "400"),
	S(":status", "404"),
	S(":status", "500"),
	S("accept-charset", ""),
	S("accept-encoding", "gzip, deflate"),
	S("accept-language", ""),
	S("accept-ranges", ""),
	S("accept", ""),
	S("access-control-allow-origin", ""),
	S("age", ""),
	S("allow", ""),
	S("authorization", ""),
	S("cache-control", ""),
	S("content-disposition", ""),
	S("content-encoding", ""),
	S("content-language", ""),
	S("content-length", ""),
	S("content-location", ""),
	S("content-range", ""),
	S("content-type", ""),
	S("cookie", ""),
	S("date", ""),
	S("etag", ""),
	S("expect", ""),
	S("expires", ""),
	S("from", ""),
	S("host", ""),
	S("if-match", ""),
	S("if-modified-since", ""),
	S("if-none-match", ""),
	S("if-range", ""),
	S("if-unmodified-since", ""),
	S("last-modified", ""),
	S("link", ""),
	S("location", ""),
	S("max-forwards", ""),
	S("proxy-authenticate", ""),
	S("proxy-authorization", ""),
	S("range", ""),
	S("referer", ""),
	S("refresh", ""),
	S("retry-after", ""),
	S("server", ""),
	S("set-cookie", ""),
	S("strict-transport-security", ""),
	S("transfer-encoding", ""),
	S("user-agent", ""),
	S("vary", ""),
	S("via", ""),
	S("www-authenticate", ""),
};
#undef S

#define STATIC_COUNT (sizeof(static_table) / sizeof(static_table[0]))

/* --- Huffman code (RFC 7541 Appendix B) --------------------------------
 *
 * The code is canonical: codes of one length are consecutive integers in
 * symbol order, and each length's first code is (previous first + count)
 * shifted left.  huff_code/huff_len are Appendix B as printed; the decoder
 * tables are derived from it: huff_sym lists symbols ordered by (length,
 * symbol), huff_first[L] is the first code of length L, huff_lim[L] the
 * first value past the codes of length L, huff_offs[L] the index in
 * huff_sym of the first symbol of length L.  test_hpack checks every
 * symbol round-trips.
 */
static const uint32_t huff_code[257] = {
	0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5,
	0xfffffe6, 0xfffffe7, 0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9,
	0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed, 0xfffffee,
	0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
	0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9,
	0xffffffa, 0xffffffb, 0x14, 0x3f8, 0x3f9, 0xffa,
	0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb,
	0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
	0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b,
	0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb,
	0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa, 0x21,
	0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
	0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
	0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
	0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73,
	0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
	0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5,
	0x25, 0x26, 0x27, 0x6, 0x74, 0x75,
	0x28, 0x29, 0x2a, 0x7, 0x2b, 0x76,
	0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
	0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd,
	0x1ffd, 0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8,
	0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, 0x3fffd6, 0x7fffda,
	0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
	0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1,
	0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5,
	0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd,
	0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
	0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf,
	0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2,
	0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2,
	0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
	0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2,
	0x3fffe8, 0x1ffffec, 0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde,
	0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3,
	0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
	0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3,
	0x7ffffe4, 0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6,
	0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb,
	0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
	0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8,
	0x7ffffe9, 0x7ffffea, 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed,
	0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, 0x3fffffff,
};

static const uint8_t huff_len[257] = {
	13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28,
	28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
	28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12,
	13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
	5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8,
	15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
	15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7,
	6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7,
	7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20,
	22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
	24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23,
	22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21,
	23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21,
	23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
	26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27,
	27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24,
	21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21,
	22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
	26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27,
	27, 27, 27, 26, 30,
};

static const uint16_t huff_sym[257] = {
	48, 49, 50, 97, 99, 101, 105, 111, 115, 116, 32, 37,
	45, 46, 47, 51, 52, 53, 54, 55, 56, 57, 61, 65,
	95, 98, 100, 102, 103, 104, 108, 109, 110, 112, 114, 117,
	58, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76,
	77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89,
	106, 107, 113, 118, 119, 120, 121, 122, 38, 42, 44, 59,
	88, 90, 33, 34, 40, 41, 63, 39, 43, 124, 35, 62,
	0, 36, 64, 91, 93, 126, 94, 125, 60, 96, 123, 92,
	195, 208, 128, 130, 131, 162, 184, 194, 224, 226, 153, 161,
	167, 172, 176, 177, 179, 209, 216, 217, 227, 229, 230, 129,
	132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169, 170,
	173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228, 232,
	233, 1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150,
	151, 152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182,
	183, 188, 191, 197, 231, 239, 9, 142, 144, 145, 148, 159,
	171, 206, 215, 225, 236, 237, 199, 207, 234, 235, 192, 193,
	200, 201, 202, 205, 210, 213, 218, 219, 238, 240, 242, 243,
	255, 203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245,
	246, 247, 248, 250, 251, 252, 253, 254, 2, 3, 4, 5,
	6, 7, 8, 11, 12, 14, 15, 16, 17, 18, 19, 20,
	21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 127, 220,
	249, 10, 13, 22, 256,
};

static const uint32_t huff_lim[31] = {
	0x0, 0x0, 0x0, 0x0, 0x0, 0xa,
	0x2e, 0x7c, 0xfe, 0x1fc, 0x3fd, 0x7fd,
	0xffc, 0x1ffe, 0x3ffe, 0x7fff, 0xfffe, 0x1fffc,
	0x3fff8, 0x7fff3, 0xfffee, 0x1fffe9, 0x3fffec, 0x7ffff5,
	0xfffff6, 0x1fffff0, 0x3ffffef, 0x7fffff1, 0xfffffff, 0x1ffffffe,
	0x40000000,
};

static const uint32_t huff_first[31] = {
	0x0, 0x0, 0x0, 0x0, 0x0, 0x0,
	0x14, 0x5c, 0xf8, 0x1fc, 0x3f8, 0x7fa,
	0xffa, 0x1ff8, 0x3ffc, 0x7ffc, 0xfffe, 0x1fffc,
	0x3fff8, 0x7fff0, 0xfffe6, 0x1fffdc, 0x3fffd2, 0x7fffd8,
	0xffffea, 0x1ffffec, 0x3ffffe0, 0x7ffffde, 0xfffffe2, 0x1ffffffe,
	0x3ffffffc,
};

static const uint16_t huff_offs[31] = {
	0, 0, 0, 0, 0, 0, 10, 36, 68, 0, 74, 79,
	82, 84, 90, 92, 0, 0, 0, 95, 98, 106, 119, 145,
	174, 186, 190, 205, 224, 0, 253,
};

#define HUFF_EOS 256
#define HUFF_MIN_LEN 5
#define HUFF_MAX_LEN 30

/*
 * Decodes the Huffman string p[0..n) into dst (room bytes) and sets *len
 * to its decoded length, which may exceed room: bytes past room are
 * counted, not written.  SPIFFE_ERR_HPACK on EOS in the string, padding
 * longer than 7 bits, or padding that is not all ones (section 5.2).
 */
static int huff_decode(const uint8_t *p, size_t n, uint8_t *dst,
		       size_t room, size_t *len)
{
	uint64_t acc = 0;       /* unread bits, most significant first */
	unsigned nbits = 0;
	size_t i = 0, o = 0;

	for (;;) {
		unsigned l;
		uint32_t v = 0;

		while (nbits <= 56 && i < n) {
			acc |= (uint64_t)p[i++] << (56 - nbits);
			nbits += 8;
		}
		for (l = HUFF_MIN_LEN; l <= HUFF_MAX_LEN && l <= nbits; l++) {
			v = (uint32_t)(acc >> (64 - l));
			if (v < huff_lim[l])
				break;
		}
		if (l > HUFF_MAX_LEN || l > nbits)
			break;
		uint16_t sym = huff_sym[v - huff_first[l] + huff_offs[l]];
		if (sym == HUFF_EOS)
			return SPIFFE_ERR_HPACK;
		if (o < room)
			dst[o] = (uint8_t)sym;
		o++;
		acc <<= l;
		nbits -= l;
	}
	/* Every 30 bits hold a code, so what is left is the padding. */
	if (nbits > 7)
		return SPIFFE_ERR_HPACK;
	if (nbits > 0 && (acc >> (64 - nbits)) != (1u << nbits) - 1)
		return SPIFFE_ERR_HPACK;
	*len = o;
	return 0;
}

/* Bytes the Huffman code of p[0..n) takes. */
static size_t huff_len_of(const uint8_t *p, size_t n)
{
	uint64_t bits = 0;

	for (size_t i = 0; i < n; i++)
		bits += huff_len[p[i]];
	return (size_t)((bits + 7) / 8);
}

/* Writes the Huffman code of p[0..n) to out, padded with ones. */
static size_t huff_encode(const uint8_t *p, size_t n, uint8_t *out)
{
	uint64_t acc = 0;       /* pending bits in the low nbits */
	unsigned nbits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << huff_len[p[i]]) | huff_code[p[i]];
		nbits += huff_len[p[i]];
		while (nbits >= 8) {
			nbits -= 8;
			out[o++] = (uint8_t)(acc >> nbits);
		}
	}
	if (nbits > 0)
		out[o++] = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
	return o;
}

/* --- integers and strings (sections 5.1, 5.2) ---------------------------- */

/*
 * Reads an integer with an N-bit prefix at *pp.  Values above UINT32_MAX
 * and encodings of more than 5 continuation bytes are errors.
 */
static int read_int(const uint8_t **pp, const uint8_t *end, unsigned prefix,
		    uint32_t *out)
{
	const uint8_t *p = *pp;
	uint32_t max = (1u << prefix) - 1;
	uint64_t v;
	unsigned shift = 0;

	if (p == end)
		return SPIFFE_ERR_HPACK;
	v = *p++ & max;
	if (v == max) {
		for (;;) {
			if (p == end || shift > 28)
				return SPIFFE_ERR_HPACK;
			uint8_t b = *p++;
			v += (uint64_t)(b & 0x7f) << shift;
			if (v > UINT32_MAX)
				return SPIFFE_ERR_HPACK;
			if (!(b & 0x80))
				break;
			shift += 7;
		}
	}
	*pp = p;
	*out = (uint32_t)v;
	return 0;
}

/* Writes v with an N-bit prefix; first holds the representation bits. */
static size_t write_int(uint8_t *out, uint8_t first, unsigned prefix,
			size_t v)
{
	size_t max = ((size_t)1 << prefix) - 1;
	size_t o = 0;

	if (v < max) {
		out[o++] = (uint8_t)(first | v);
		return o;
	}
	out[o++] = (uint8_t)(first | max);
	v -= max;
	while (v >= 128) {
		out[o++] = (uint8_t)(0x80 | (v & 0x7f));
		v >>= 7;
	}
	out[o++] = (uint8_t)v;
	return o;
}

/*
 * Reads a string literal at *pp into dst (room bytes) and sets *len to
 * its decoded length.  A string longer than room is consumed (and its
 * Huffman code checked) but not stored; the caller sees *len > room.
 */
static int read_string(const uint8_t **pp, const uint8_t *end, uint8_t *dst,
		       size_t room, size_t *len)
{
	const uint8_t *p = *pp;
	uint32_t n;
	int huff, rc;

	if (p == end)
		return SPIFFE_ERR_HPACK;
	huff = *p & 0x80;
	rc = read_int(&p, end, 7, &n);
	if (rc != 0)
		return rc;
	if (n > (size_t)(end - p))
		return SPIFFE_ERR_HPACK;
	if (huff) {
		rc = huff_decode(p, n, dst, room, len);
		if (rc != 0)
			return rc;
	} else {
		*len = n;
		if (n <= room)
			memcpy(dst, p, n);
	}
	*pp = p + n;
	return 0;
}

/*
 * Writes p[0..n) as a string literal, Huffman-coded unless that is
 * longer (on a tie Huffman wins, as in RFC 7541 C.6.2).
 */
static size_t write_string(uint8_t *out, const uint8_t *p, size_t n,
			   int huffman)
{
	size_t o, h = huffman && n > 0 ? huff_len_of(p, n) : SIZE_MAX;

	if (h <= n) {
		o = write_int(out, 0x80, 7, h);
		return o + huff_encode(p, n, out + o);
	}
	o = write_int(out, 0, 7, n);
	if (n > 0)
		memcpy(out + o, p, n);
	return o + n;
}

/* --- dynamic table (sections 2.3.2, 4) ----------------------------------- */

static void tab_init(spiffe_hpack_table *t, size_t max_size)
{
	t->first = 0;
	t->count = 0;
	t->head = 0;
	t->size = 0;
	t->max_size = max_size;
}

static void tab_evict(spiffe_hpack_table *t)
{
	const struct spiffe_hpack_entry *e = &t->ent[t->first];

	t->size -= (size_t)e->name_len + e->value_len +
		SPIFFE_HPACK_ENTRY_OVERHEAD;
	t->first = (t->first + 1) % SPIFFE_HPACK_MAX_ENTRIES;
	t->count--;
	if (t->count == 0)
		t->head = 0;
}

static void tab_resize(spiffe_hpack_table *t, size_t max_size)
{
	t->max_size = max_size;
	while (t->size > max_size)
		tab_evict(t);
}

/* Copies p[0..n) into the ring at t->head. */
static void ring_put(spiffe_hpack_table *t, const uint8_t *p, size_t n)
{
	size_t k = SPIFFE_HPACK_TABLE_SIZE - t->head;

	if (k > n)
		k = n;
	if (k > 0)
		memcpy(t->data + t->head, p, k);
	if (n > k)
		memcpy(t->data, p + k, n - k);
	t->head = (t->head + n) % SPIFFE_HPACK_TABLE_SIZE;
}

/* Copies n ring bytes from off into dst. */
static void ring_get(const spiffe_hpack_table *t, size_t off, uint8_t *dst,
		     size_t n)
{
	size_t k = SPIFFE_HPACK_TABLE_SIZE - off;

	if (k > n)
		k = n;
	if (k > 0)
		memcpy(dst, t->data + off, k);
	if (n > k)
		memcpy(dst + k, t->data, n - k);
}

/* Compares n ring bytes from off with p; 1 when equal. */
static int ring_eq(const spiffe_hpack_table *t, size_t off, const uint8_t *p,
		   size_t n)
{
	size_t k = SPIFFE_HPACK_TABLE_SIZE - off;

	if (k > n)
		k = n;
	if (k > 0 && memcmp(t->data + off, p, k) != 0)
		return 0;
	return n == k || memcmp(t->data, p + k, n - k) == 0;
}

static void tab_clear(spiffe_hpack_table *t)
{
	while (t->count > 0)
		tab_evict(t);
}

/*
 * Adds an entry, evicting old ones first (section 4.4).  The name and
 * value must not point into the table: eviction could overwrite them.
 * An entry larger than the maximum size empties the table.
 */
static void tab_add(spiffe_hpack_table *t, const uint8_t *name, size_t nlen,
		    const uint8_t *value, size_t vlen)
{
	size_t need;

	if (nlen > t->max_size || vlen > t->max_size - nlen ||
	    nlen + vlen > t->max_size - SPIFFE_HPACK_ENTRY_OVERHEAD ||
	    t->max_size < SPIFFE_HPACK_ENTRY_OVERHEAD) {
		tab_clear(t);
		return;
	}
	need = nlen + vlen + SPIFFE_HPACK_ENTRY_OVERHEAD;
	while (t->size + need > t->max_size)
		tab_evict(t);
	size_t slot = (t->first + t->count) % SPIFFE_HPACK_MAX_ENTRIES;
	struct spiffe_hpack_entry *e = &t->ent[slot];
	e->off = (uint16_t)t->head;
	e->name_len = (uint16_t)nlen;
	e->value_len = (uint16_t)vlen;
	ring_put(t, name, nlen);
	ring_put(t, value, vlen);
	t->count++;
	t->size += need;
}

/* Entry i (1 = newest); i must be in 1..count. */
static const struct spiffe_hpack_entry *tab_at(const spiffe_hpack_table *t,
					       size_t i)
{
	size_t slot = (t->first + t->count - i) % SPIFFE_HPACK_MAX_ENTRIES;

	return &t->ent[slot];
}

static size_t value_off(const struct spiffe_hpack_entry *e)
{
	return (e->off + (size_t)e->name_len) % SPIFFE_HPACK_TABLE_SIZE;
}

size_t spiffe_hpack_table_count(const spiffe_hpack_table *t)
{
	return t->count;
}

size_t spiffe_hpack_table_size(const spiffe_hpack_table *t)
{
	return t->size;
}

int spiffe_hpack_table_get(const spiffe_hpack_table *t, size_t i,
			   spiffe_header *h, uint8_t *buf, size_t cap)
{
	if (i == 0 || i > t->count)
		return SPIFFE_ERR_NOT_FOUND;
	const struct spiffe_hpack_entry *e = tab_at(t, i);
	if ((size_t)e->name_len + e->value_len > cap)
		return SPIFFE_ERR_LIMIT;
	ring_get(t, e->off, buf, e->name_len);
	ring_get(t, value_off(e), buf + e->name_len, e->value_len);
	h->name = buf;
	h->name_len = e->name_len;
	h->value = buf + e->name_len;
	h->value_len = e->value_len;
	h->flags = 0;
	return 0;
}

/* --- decoder ------------------------------------------------------------- */

void spiffe_hpack_dec_init(spiffe_hpack_dec *d, size_t table_size)
{
	if (table_size > SPIFFE_HPACK_TABLE_SIZE)
		table_size = SPIFFE_HPACK_TABLE_SIZE;
	tab_init(&d->tab, table_size);
	d->limit = table_size;
}

void spiffe_hpack_dec_free(spiffe_hpack_dec *d)
{
	tab_init(&d->tab, 0);
	d->limit = 0;
}

/*
 * Looks up index idx (1-based over static then dynamic entries).  Static
 * strings are returned in place; dynamic ones are copied to dst (room
 * bytes), name then value (only the name when want_value is 0).  *used
 * gets the bytes copied, or SIZE_MAX when they did not fit.
 */
static int lookup(const spiffe_hpack_table *t, uint32_t idx, int want_value,
		  spiffe_header *h, uint8_t *dst, size_t room, size_t *used)
{
	*used = 0;
	if (idx == 0)
		return SPIFFE_ERR_HPACK;
	if (idx <= STATIC_COUNT) {
		const struct static_entry *s = &static_table[idx - 1];
		h->name = (const uint8_t *)s->name;
		h->name_len = s->name_len;
		h->value = (const uint8_t *)s->value;
		h->value_len = s->value_len;
		return 0;
	}
	if (idx - STATIC_COUNT > t->count)
		return SPIFFE_ERR_HPACK;
	const struct spiffe_hpack_entry *e = tab_at(t, idx - STATIC_COUNT);
	size_t n = e->name_len, v = want_value ? e->value_len : 0;
	if (n + v > room) {
		*used = SIZE_MAX;
		return 0;
	}
	ring_get(t, e->off, dst, n);
	ring_get(t, value_off(e), dst + n, v);
	h->name = dst;
	h->name_len = n;
	h->value = dst + n;
	h->value_len = v;
	*used = n + v;
	return 0;
}

/* Decoding state of one header block. */
struct dec_state {
	uint8_t *buf;
	size_t cap;
	size_t used;            /* bytes of buf holding list strings */
	size_t list_size;       /* RFC 9113 section 6.5.2 size */
	size_t count;
	size_t inserted;        /* bytes added to the table */
	int lost;               /* a limit was hit: the list is dropped */
};

/*
 * Decodes one literal representation (the first byte's pattern already
 * picked prefix and indexing).  While the list is intact, strings go to
 * the end of buf; once it is lost, buf is scratch space for an entry on
 * its way into the table, and other fields are only checked, never
 * copied (so a byte of input cannot cost a 4 KiB copy).  Returns 1 when
 * strings did not fit, so the caller drops the list and decodes the
 * field again as scratch.
 */
static int dec_literal(spiffe_hpack_dec *d, struct dec_state *st,
		       const uint8_t **pp, const uint8_t *end,
		       unsigned prefix, int indexing, spiffe_header *h)
{
	uint8_t *dst = st->lost ? st->buf : st->buf + st->used;
	size_t room = !st->lost ? st->cap - st->used : indexing ? st->cap : 0;
	size_t nlen, vlen, used;
	uint32_t idx;
	int rc, stored = 1;

	rc = read_int(pp, end, prefix, &idx);
	if (rc != 0)
		return rc;
	if (idx == 0) {
		size_t r = room < SPIFFE_HPACK_MAX_STRING ?
			room : SPIFFE_HPACK_MAX_STRING;
		rc = read_string(pp, end, dst, r, &nlen);
		if (rc != 0)
			return rc;
		if (nlen > r) {
			stored = 0;
			nlen = 0;
		}
		h->name = dst;
		h->name_len = nlen;
		dst += nlen;
		room -= nlen;
	} else {
		rc = lookup(&d->tab, idx, 0, h, dst, room, &used);
		if (rc != 0)
			return rc;
		if (used == SIZE_MAX) {
			stored = 0;
		} else {
			dst += used;
			room -= used;
		}
	}
	size_t r = room < SPIFFE_HPACK_MAX_STRING ?
		room : SPIFFE_HPACK_MAX_STRING;
	rc = read_string(pp, end, dst, stored ? r : 0, &vlen);
	if (rc != 0)
		return rc;
	if (vlen > r)
		stored = 0;
	if (!stored && !st->lost)
		return 1;
	h->value = dst;
	h->value_len = vlen;
	if (indexing && stored) {
		/*
		 * Entries naming a big entry are cheap to send and dear to
		 * copy; a block that adds more than this is an attack.
		 */
		st->inserted += h->name_len + vlen;
		if (st->inserted > SPIFFE_HPACK_MAX_INSERT)
			return SPIFFE_ERR_HPACK;
		tab_add(&d->tab, h->name, h->name_len, h->value, vlen);
	} else if (indexing) {
		/* too large to store, so too large for the table */
		tab_clear(&d->tab);
	}
	if (stored && !st->lost) {
		/* Static names stay in place; only copies used buf. */
		st->used = (size_t)(dst + vlen - st->buf);
	}
	return stored ? 0 : 2;
}

int spiffe_hpack_decode(spiffe_hpack_dec *d, const uint8_t *p, size_t len,
			spiffe_header *out, size_t max, size_t *n,
			uint8_t *buf, size_t cap)
{
	const uint8_t *end;
	struct dec_state st = { buf, cap, 0, 0, 0, 0, 0 };
	int fields = 0;

	*n = 0;
	if (cap < SPIFFE_HPACK_TABLE_SIZE)
		return SPIFFE_ERR_ARG;
	if (len == 0)
		return 0;
	end = p + len;
	while (p < end) {
		const uint8_t *start = p;
		spiffe_header h;
		uint8_t b = *p;
		uint32_t v;
		size_t used;
		int rc;

		h.flags = 0;
		if (b & 0x80) {                 /* indexed (6.1) */
			rc = read_int(&p, end, 7, &v);
			if (rc != 0)
				return rc;
			/* A lost list needs no copy, only a valid index. */
			uint8_t *dst = st.lost ? buf : buf + st.used;
			size_t room = st.lost ? 0 : cap - st.used;
			rc = lookup(&d->tab, v, 1, &h, dst, room, &used);
			if (rc != 0)
				return rc;
			if (used == SIZE_MAX)
				st.lost = 1;
			else if (!st.lost)
				st.used += used;
		} else if ((b & 0xe0) == 0x20) { /* table size update (6.3) */
			if (fields)
				return SPIFFE_ERR_HPACK;
			rc = read_int(&p, end, 5, &v);
			if (rc != 0)
				return rc;
			if (v > d->limit)
				return SPIFFE_ERR_HPACK;
			tab_resize(&d->tab, v);
			continue;
		} else {                         /* literals (6.2) */
			int indexing = (b & 0xc0) == 0x40;
			unsigned prefix = indexing ? 6 : 4;
			if ((b & 0xf0) == 0x10)
				h.flags = SPIFFE_HEADER_NEVER_INDEX;
			rc = dec_literal(d, &st, &p, end, prefix, indexing,
					 &h);
			if (rc == 1) {
				/* No room: drop the list, redo as scratch. */
				st.lost = 1;
				p = start;
				rc = dec_literal(d, &st, &p, end, prefix,
						 indexing, &h);
			}
			if (rc < 0)
				return rc;
			if (rc == 2)
				st.lost = 1;
		}
		fields = 1;
		if (st.lost)
			continue;
		st.list_size += h.name_len + h.value_len +
			SPIFFE_HPACK_ENTRY_OVERHEAD;
		if (st.count == max ||
		    st.list_size > SPIFFE_H2_MAX_HEADER_LIST) {
			st.lost = 1;
			continue;
		}
		out[st.count++] = h;
	}
	if (st.lost)
		return SPIFFE_ERR_LIMIT;
	*n = st.count;
	return 0;
}

/* --- encoder ------------------------------------------------------------- */

void spiffe_hpack_enc_init(spiffe_hpack_enc *e, size_t table_size)
{
	if (table_size > SPIFFE_HPACK_TABLE_SIZE)
		table_size = SPIFFE_HPACK_TABLE_SIZE;
	tab_init(&e->tab, table_size);
	e->pend_min = table_size;
	e->pend_max = table_size;
	e->pending = 0;
	e->no_huffman = 0;
}

void spiffe_hpack_enc_free(spiffe_hpack_enc *e)
{
	tab_init(&e->tab, 0);
	e->pending = 0;
}

void spiffe_hpack_enc_set_limit(spiffe_hpack_enc *e, uint32_t setting)
{
	size_t m = setting < SPIFFE_HPACK_TABLE_SIZE ?
		setting : SPIFFE_HPACK_TABLE_SIZE;

	if (!e->pending || m < e->pend_min)
		e->pend_min = m;
	e->pend_max = m;
	e->pending = e->pend_min != e->tab.max_size ||
		e->pend_max != e->tab.max_size;
}

void spiffe_hpack_enc_set_huffman(spiffe_hpack_enc *e, int on)
{
	e->no_huffman = !on;
}

/* Worst case of one integer below 2^14 with a 4..7-bit prefix. */
#define INT_MAX_BYTES 3
#define FIELD_MAX_BYTES (3 * INT_MAX_BYTES)

size_t spiffe_hpack_encode_bound(const spiffe_header *h, size_t n)
{
	size_t total = 2 * INT_MAX_BYTES;       /* two size updates */

	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len > SPIFFE_HPACK_MAX_STRING ||
		    h[i].value_len > SPIFFE_HPACK_MAX_STRING)
			return SIZE_MAX;
		size_t f = FIELD_MAX_BYTES + h[i].name_len + h[i].value_len;
		if (total > SIZE_MAX - 1 - f)
			return SIZE_MAX;
		total += f;
	}
	return total;
}

static int bytes_eq(const uint8_t *a, size_t alen, const char *b,
		    size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Fields whose values must never enter a table (RFC 7541 7.1.3). */
static int sensitive(const spiffe_header *h)
{
	return bytes_eq(h->name, h->name_len, "authorization", 13) ||
		bytes_eq(h->name, h->name_len, "proxy-authorization", 19);
}

/*
 * Finds h in the static then the dynamic table: returns the index of a
 * full match, or 0 and sets *name_idx to the first entry with the name
 * (0 if none).
 */
static size_t enc_find(const spiffe_hpack_table *t, const spiffe_header *h,
		       size_t *name_idx)
{
	*name_idx = 0;
	for (size_t i = 0; i < STATIC_COUNT; i++) {
		const struct static_entry *s = &static_table[i];
		if (!bytes_eq(h->name, h->name_len, s->name, s->name_len))
			continue;
		if (*name_idx == 0)
			*name_idx = i + 1;
		if (bytes_eq(h->value, h->value_len, s->value, s->value_len))
			return i + 1;
	}
	for (size_t i = 1; i <= t->count; i++) {
		const struct spiffe_hpack_entry *e = tab_at(t, i);
		if (e->name_len != h->name_len ||
		    !ring_eq(t, e->off, h->name, h->name_len))
			continue;
		if (*name_idx == 0)
			*name_idx = STATIC_COUNT + i;
		if (e->value_len == h->value_len &&
		    ring_eq(t, value_off(e), h->value, h->value_len))
			return STATIC_COUNT + i;
	}
	return 0;
}

int spiffe_hpack_encode(spiffe_hpack_enc *e, const spiffe_header *h,
			size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t o = 0;
	int huffman = !e->no_huffman;

	*len = 0;
	if (spiffe_hpack_encode_bound(h, n) > cap)
		return SPIFFE_ERR_LIMIT;
	if (e->pending) {
		if (e->pend_min < e->tab.max_size) {
			o += write_int(out + o, 0x20, 5, e->pend_min);
			tab_resize(&e->tab, e->pend_min);
		}
		if (e->pend_max != e->tab.max_size) {
			o += write_int(out + o, 0x20, 5, e->pend_max);
			tab_resize(&e->tab, e->pend_max);
		}
		e->pending = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const spiffe_header *f = &h[i];
		int never = (f->flags & SPIFFE_HEADER_NEVER_INDEX) ||
			sensitive(f);
		size_t name_idx, idx = enc_find(&e->tab, f, &name_idx);
		size_t need = f->name_len + f->value_len +
			SPIFFE_HPACK_ENTRY_OVERHEAD;

		if (idx != 0 && !never) {
			o += write_int(out + o, 0x80, 7, idx);
			continue;
		}
		/* Entries over 3/4 of the table would flush it for one use. */
		int indexing = !never &&
			!(f->flags & SPIFFE_HEADER_NO_INDEX) &&
			need <= e->tab.max_size / 4 * 3;
		if (indexing)
			o += write_int(out + o, 0x40, 6, name_idx);
		else
			o += write_int(out + o, never ? 0x10 : 0, 4, name_idx);
		if (name_idx == 0)
			o += write_string(out + o, f->name, f->name_len,
					  huffman);
		o += write_string(out + o, f->value, f->value_len, huffman);
		if (indexing)
			tab_add(&e->tab, f->name, f->name_len, f->value,
				f->value_len);
	}
	*len = o;
	return 0;
}
