/*
 * b64.h - strict base64 decoding and encoding.
 *
 * base64url (RFC 4648 section 5) as JOSE uses it: no padding, no
 * whitespace, only [A-Za-z0-9-_], a length that is not 1 mod 4, and
 * canonical final bits (the unused low bits of the last character are
 * zero).  Standard base64 (section 4, with '=' padding) for x5c.
 */
#ifndef SPIFFE_B64_H
#define SPIFFE_B64_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Most bytes that decoding len characters can produce. */
#define SPIFFE_B64_DECODED_MAX(len) (((len) / 4) * 3 + 2)
/* Characters that encoding len bytes needs (unpadded url form). */
#define SPIFFE_B64URL_ENCODED_LEN(len) (((len) / 3) * 4 + ((len) % 3 ? (len) % 3 + 1 : 0))

/*
 * Decodes in[0..len) as unpadded base64url into out (cap bytes) and sets
 * *outlen.  SPIFFE_ERR_BASE64 on any stray byte, padding, bad length or
 * non-canonical bits; SPIFFE_ERR_LIMIT if cap is too small.
 */
SPIFFE_CHECK int spiffe_b64url_decode(uint8_t *out, size_t cap,
				      size_t *outlen, const char *in,
				      size_t len);

/* Encodes unpadded base64url; out gets a terminating NUL too. */
SPIFFE_CHECK int spiffe_b64url_encode(char *out, size_t cap, size_t *outlen,
				      const uint8_t *in, size_t len);

/* Strict standard base64 with mandatory '=' padding (x5c values). */
SPIFFE_CHECK int spiffe_b64std_decode(uint8_t *out, size_t cap,
				      size_t *outlen, const char *in,
				      size_t len);
SPIFFE_CHECK int spiffe_b64std_encode(char *out, size_t cap, size_t *outlen,
				      const uint8_t *in, size_t len);

#endif
