/*
 * json.h - a bounded, strict RFC 8259 JSON reader.
 *
 * Like jsmn, parsing produces a flat array of tokens holding offsets into
 * the caller's text (which must outlive the spiffe_json); unlike jsmn the
 * grammar is strict: exactly one value (surrounded by optional
 * whitespace), no trailing commas, no leading zeros, no control
 * characters in strings, valid escapes only (\uXXXX surrogates must
 * pair), valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF),
 * nesting at most SPIFFE_JSON_MAX_DEPTH, input at most
 * SPIFFE_JSON_MAX_INPUT bytes, at most SPIFFE_JSON_MAX_TOKENS tokens and
 * SPIFFE_JSON_MAX_MEMBERS members an object.  Duplicate member names in
 * any object (compared after unescaping) are rejected: JOSE headers and
 * bundle maps require it, and nothing we read needs duplicates.
 *
 * Token tree: token 0 is the root.  A container's children follow it;
 * the next sibling of token i is i + tok[i].skip.  An object's children
 * alternate key (a STRING token), value.
 */
#ifndef SPIFFE_JSON_H
#define SPIFFE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "limits.h"

#ifndef SPIFFE_JSON_MAX_MEMBERS
#define SPIFFE_JSON_MAX_MEMBERS 1024
#endif

enum spiffe_json_type {
	SPIFFE_JSON_NULL = 1,
	SPIFFE_JSON_FALSE,
	SPIFFE_JSON_TRUE,
	SPIFFE_JSON_NUMBER,
	SPIFFE_JSON_STRING,
	SPIFFE_JSON_ARRAY,
	SPIFFE_JSON_OBJECT,
};

typedef struct spiffe_json_tok {
	uint8_t type;        /* enum spiffe_json_type */
	uint8_t escaped;     /* STRING: contains a backslash escape */
	uint32_t start;      /* STRING: after the opening quote;
				else the first byte */
	uint32_t end;        /* STRING: at the closing quote; else one past */
	uint32_t count;      /* ARRAY: elements; OBJECT: members;
				STRING: decoded length in bytes */
	uint32_t skip;       /* tokens in this subtree, itself included */
} spiffe_json_tok;

typedef struct spiffe_json {
	const char *text;
	size_t len;
	spiffe_json_tok *tok;
	size_t ntok;
	size_t cap;
} spiffe_json;

void spiffe_json_init(spiffe_json *j);
/* Frees the token array; safe on a zeroed struct and twice in a row. */
void spiffe_json_free(spiffe_json *j);

/*
 * Parses text[0..len).  On success j->tok[0..ntok) describes it and the
 * text must stay alive and unchanged while j is used.  SPIFFE_ERR_JSON
 * with the reason and byte offset in eb ("leading zero in number at
 * offset 7"), SPIFFE_ERR_LIMIT naming the limit, or SPIFFE_ERR_NOMEM;
 * on failure the token array is freed.  j may be parsed into again.
 */
SPIFFE_CHECK int spiffe_json_parse(spiffe_json *j, const char *text,
				   size_t len, spiffe_errbuf *eb);

/*
 * Index of the value of member key (a NUL-terminated name compared with
 * the decoded member name) in object token obj; SPIFFE_ERR_NOT_FOUND if
 * absent, SPIFFE_ERR_JSON if obj is not an object.
 */
int spiffe_json_get(const spiffe_json *j, int obj, const char *key);

/*
 * Index of the n-th element of array token arr; SPIFFE_ERR_NOT_FOUND if
 * n >= its count, SPIFFE_ERR_JSON if arr is not an array.
 */
int spiffe_json_at(const spiffe_json *j, int arr, size_t n);

/* The token after i's subtree (its next sibling inside a container). */
static inline int spiffe_json_next(const spiffe_json *j, int i)
{
	return i + (int)j->tok[i].skip;
}

/*
 * Decodes string token i into out (cap bytes, NUL-terminated) and sets
 * *len (may be NULL).  The decoded bytes may contain NUL (from \u0000):
 * callers that need a C string check memchr.  SPIFFE_ERR_JSON if not a
 * string, SPIFFE_ERR_LIMIT if it does not fit.
 */
SPIFFE_CHECK int spiffe_json_str(const spiffe_json *j, int i, char *out,
				 size_t cap, size_t *len);

/* 1 if string token i decodes to exactly s[0..slen), else 0. */
int spiffe_json_str_eq(const spiffe_json *j, int i, const char *s,
		       size_t slen);

/*
 * An integer number token (no fraction, no exponent) into *v, parsed
 * exactly; SPIFFE_ERR_JSON if not an integer, SPIFFE_ERR_LIMIT if out of
 * range (for uint64 that includes negatives; "-0" is 0).
 */
SPIFFE_CHECK int spiffe_json_int64(const spiffe_json *j, int i, int64_t *v);
SPIFFE_CHECK int spiffe_json_uint64(const spiffe_json *j, int i,
				    uint64_t *v);

/*
 * A NumericDate (RFC 7519): any JSON number, truncated toward zero to
 * whole seconds (fractions and exponents accepted, like go-jose);
 * SPIFFE_ERR_LIMIT if its magnitude exceeds 2^53.  Computed exactly from
 * the decimal text (no floating point, no locale), so 2^53 + 1 is
 * rejected where a float64 parser would round it to 2^53.
 */
SPIFFE_CHECK int spiffe_json_numeric_date(const spiffe_json *j, int i,
					  int64_t *v);

/*
 * Writes s[0..len) as a JSON string literal (with quotes, NUL-terminated;
 * *outlen excludes the NUL) into out.  '"', '\\' and bytes below 0x20
 * are escaped (\u00XX for the latter), valid UTF-8 passes through.
 * SPIFFE_ERR_JSON if s is not valid UTF-8, SPIFFE_ERR_LIMIT if cap is
 * too small; out is written only on success.
 */
SPIFFE_CHECK int spiffe_json_quote(char *out, size_t cap, size_t *outlen,
				   const char *s, size_t len);

#endif
