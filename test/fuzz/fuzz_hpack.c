/*
 * fuzz_hpack - the HPACK decoder on arbitrary header blocks, and a round
 * trip: every list it decodes is encoded again and decoded by a second
 * decoder, which must get the same list.
 *
 * Input: one byte of options (decoder table size, Huffman, encoder table
 * limit), then blocks, each a 2-byte little-endian length and its bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static spiffe_hpack_dec dec, dec2;
static spiffe_hpack_enc enc;
static spiffe_header f[SPIFFE_H2_MAX_HEADERS], f2[SPIFFE_H2_MAX_HEADERS];
static uint8_t buf[SPIFFE_H2_MAX_HEADER_LIST], buf2[SPIFFE_H2_MAX_HEADER_LIST];
static uint8_t blk[2 * SPIFFE_H2_MAX_HEADER_LIST];

static int same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	size_t pos = 1;

	if (n < 1)
		return 0;
	spiffe_hpack_dec_init(&dec, (size_t)(d[0] & 0x0f) * 300);
	spiffe_hpack_dec_init(&dec2, 4096);
	spiffe_hpack_enc_init(&enc, 4096);
	spiffe_hpack_enc_set_huffman(&enc, !(d[0] & 0x10));
	while (pos + 2 <= n) {
		size_t len = (size_t)d[pos] | (size_t)d[pos + 1] << 8;
		size_t cnt, cnt2, blen;
		int rc;

		pos += 2;
		if (len > n - pos)
			len = n - pos;
		rc = spiffe_hpack_decode(&dec, d + pos, len, f,
					 SPIFFE_H2_MAX_HEADERS, &cnt, buf,
					 sizeof(buf));
		pos += len;
		if (rc == SPIFFE_ERR_HPACK)
			break;          /* the decoder is out of step now */
		if (spiffe_hpack_table_size(&dec.tab) > dec.tab.max_size)
			abort();
		if (rc == SPIFFE_ERR_LIMIT)
			continue;
		if (rc != 0)
			abort();
		/* Shrink the encoder's table now and then. */
		if ((d[0] & 0x20) && len > 0)
			spiffe_hpack_enc_set_limit(&enc, (uint32_t)d[pos - 1] *
						   16);
		if (spiffe_hpack_encode(&enc, f, cnt, blk, sizeof(blk),
					&blen) != 0)
			abort();
		if (spiffe_hpack_decode(&dec2, blk, blen, f2,
					SPIFFE_H2_MAX_HEADERS, &cnt2, buf2,
					sizeof(buf2)) != 0 || cnt2 != cnt)
			abort();
		for (size_t i = 0; i < cnt; i++) {
			if (!same(f[i].name, f[i].name_len, f2[i].name,
				  f2[i].name_len) ||
			    !same(f[i].value, f[i].value_len, f2[i].value,
				  f2[i].value_len))
				abort();
			/* never-indexed stays never-indexed (7.1.3) */
			if ((f[i].flags & SPIFFE_HEADER_NEVER_INDEX) &&
			    !(f2[i].flags & SPIFFE_HEADER_NEVER_INDEX))
				abort();
		}
		if (spiffe_hpack_table_size(&enc.tab) !=
		    spiffe_hpack_table_size(&dec2.tab) ||
		    spiffe_hpack_table_count(&enc.tab) !=
		    spiffe_hpack_table_count(&dec2.tab))
			abort();
	}
	spiffe_hpack_dec_free(&dec);
	spiffe_hpack_dec_free(&dec2);
	spiffe_hpack_enc_free(&enc);
	return 0;
}
