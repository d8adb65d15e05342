/*
 * hpack.h - HPACK header compression for HTTP/2 (RFC 7541), no I/O.
 *
 * One decoder and one encoder per connection, each owning the dynamic
 * table of its direction.  The decoder takes one whole header block
 * (the fragments of a HEADERS frame and its CONTINUATION frames, joined)
 * and fills a caller array of fields whose names and values are copied
 * into a caller byte buffer, or point at the static table.  The encoder
 * writes one header block into a caller buffer.  Names and values are
 * (pointer, length) pairs, never C strings.
 */
#ifndef SPIFFE_HPACK_H
#define SPIFFE_HPACK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

/* Encoder hint: literal without indexing (RFC 7541 section 6.2.2). */
#define SPIFFE_HEADER_NO_INDEX 1u
/*
 * Literal never indexed (section 6.2.3): set by the decoder when the peer
 * sent it so; the encoder uses it for fields with this flag and always
 * for authorization and proxy-authorization.
 */
#define SPIFFE_HEADER_NEVER_INDEX 2u

/* One header field: name and value with their lengths, plus flags. */
typedef struct spiffe_header {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
	unsigned flags;
} spiffe_header;

/* Per-entry overhead in table and header list sizes (section 4.1). */
#define SPIFFE_HPACK_ENTRY_OVERHEAD 32
#define SPIFFE_HPACK_MAX_ENTRIES \
	(SPIFFE_HPACK_TABLE_SIZE / SPIFFE_HPACK_ENTRY_OVERHEAD)

/* Private: where one dynamic table entry's bytes are in the ring. */
struct spiffe_hpack_entry {
	uint16_t off;
	uint16_t name_len;
	uint16_t value_len;
};

/*
 * A dynamic table of at most SPIFFE_HPACK_TABLE_SIZE bytes (fields are
 * private).  Name and value bytes live in a ring; entries too.
 */
typedef struct spiffe_hpack_table {
	uint8_t data[SPIFFE_HPACK_TABLE_SIZE];
	struct spiffe_hpack_entry ent[SPIFFE_HPACK_MAX_ENTRIES];
	size_t first;           /* ring index of the oldest entry */
	size_t count;           /* entries */
	size_t head;            /* where the next entry's bytes go */
	size_t size;            /* RFC 7541 size: lengths + 32 per entry */
	size_t max_size;        /* current maximum size */
} spiffe_hpack_table;

/* Entries in the table; entry 1 is the newest. */
size_t spiffe_hpack_table_count(const spiffe_hpack_table *t);

/* Size of the table as RFC 7541 section 4.1 counts it. */
size_t spiffe_hpack_table_size(const spiffe_hpack_table *t);

/*
 * Copies entry i (1 = newest) into buf (cap bytes) and points h at the
 * copy.  SPIFFE_ERR_NOT_FOUND if there is no entry i, SPIFFE_ERR_LIMIT
 * if buf is too small.
 */
SPIFFE_CHECK int spiffe_hpack_table_get(const spiffe_hpack_table *t,
					size_t i, spiffe_header *h,
					uint8_t *buf, size_t cap);

/* The decoding side of one connection. */
typedef struct spiffe_hpack_dec {
	spiffe_hpack_table tab;
	size_t limit;           /* SETTINGS_HEADER_TABLE_SIZE we announced */
} spiffe_hpack_dec;

/*
 * Prepares d with an empty table whose maximum and allowed size is
 * table_size (capped at SPIFFE_HPACK_TABLE_SIZE): the value of
 * SETTINGS_HEADER_TABLE_SIZE this side announced (4096 by default).
 */
void spiffe_hpack_dec_init(spiffe_hpack_dec *d, size_t table_size);

/* Clears d; safe on a zeroed decoder and twice. */
void spiffe_hpack_dec_free(spiffe_hpack_dec *d);

/*
 * Decodes the header block p[0..len) into out[0..max) and sets *n.
 * Names and values are copied into buf (cap bytes, at least
 * SPIFFE_HPACK_TABLE_SIZE) or point into the static table; the views
 * stay valid while buf does.  Returns:
 *  - 0 on success;
 *  - SPIFFE_ERR_HPACK on a compression error (bad integer, index,
 *    Huffman code, truncated block, misplaced or oversized table size
 *    update, more than SPIFFE_HPACK_MAX_INSERT bytes added to the
 *    table): the decoder is then out of step with the peer and the
 *    connection must end (COMPRESSION_ERROR);
 *  - SPIFFE_ERR_ARG if cap is below SPIFFE_HPACK_TABLE_SIZE;
 *  - SPIFFE_ERR_LIMIT when a name or value exceeds
 *    SPIFFE_HPACK_MAX_STRING, the list exceeds max fields, cap bytes or
 *    SPIFFE_H2_MAX_HEADER_LIST (RFC 9113 section 6.5.2 size).  The block
 *    was still decoded to its end, so the table stays in step; only this
 *    header list is lost (*n is 0).
 */
SPIFFE_CHECK int spiffe_hpack_decode(spiffe_hpack_dec *d, const uint8_t *p,
				     size_t len, spiffe_header *out,
				     size_t max, size_t *n, uint8_t *buf,
				     size_t cap);

/* The encoding side of one connection. */
typedef struct spiffe_hpack_enc {
	spiffe_hpack_table tab;
	size_t pend_min;        /* smallest maximum since the last block */
	size_t pend_max;        /* maximum to signal at the next block */
	int pending;            /* size updates owed at the next block */
	int no_huffman;         /* never Huffman-code strings */
} spiffe_hpack_enc;

/*
 * Prepares e with an empty table of maximum size table_size (capped at
 * SPIFFE_HPACK_TABLE_SIZE): the peer's SETTINGS_HEADER_TABLE_SIZE as both
 * sides assume it at the start (4096 in HTTP/2).
 */
void spiffe_hpack_enc_init(spiffe_hpack_enc *e, size_t table_size);

/* Clears e; safe on a zeroed encoder and twice. */
void spiffe_hpack_enc_free(spiffe_hpack_enc *e);

/*
 * Applies a new SETTINGS_HEADER_TABLE_SIZE from the peer: the table
 * shrinks to min(setting, SPIFFE_HPACK_TABLE_SIZE) and the next block
 * starts with the size updates section 4.2 requires.
 */
void spiffe_hpack_enc_set_limit(spiffe_hpack_enc *e, uint32_t setting);

/* Turns Huffman coding of strings on (the default) or off. */
void spiffe_hpack_enc_set_huffman(spiffe_hpack_enc *e, int on);

/*
 * Most bytes spiffe_hpack_encode() can write for h[0..n), or SIZE_MAX if
 * a name or value exceeds SPIFFE_HPACK_MAX_STRING.
 */
size_t spiffe_hpack_encode_bound(const spiffe_header *h, size_t n);

/*
 * Encodes h[0..n) as one header block into out (cap bytes) and sets
 * *len.  Fields use the static and dynamic tables where they match, are
 * added to the table unless flagged or too large, and strings are
 * Huffman-coded when that is shorter.  SPIFFE_ERR_LIMIT, with the
 * encoder unchanged, if cap < spiffe_hpack_encode_bound(h, n).
 */
SPIFFE_CHECK int spiffe_hpack_encode(spiffe_hpack_enc *e,
				     const spiffe_header *h, size_t n,
				     uint8_t *out, size_t cap, size_t *len);

#endif
