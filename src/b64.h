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
#define SPIFFE_B64URL_ENCODED_LEN(len) \
	(((len) / 3) * 4 + ((len) % 3 ? (len) % 3 + 1 : 0))

/*
 * Decodes in[0..len) as unpadded base64url into out (cap bytes) and sets
 * *outlen (may be NULL; 0 on failure).  SPIFFE_ERR_BASE64 on any stray
 * byte, padding, bad length or non-canonical bits; SPIFFE_ERR_LIMIT if
 * cap is too small for valid input; SPIFFE_ERR_ARG for NULL with a
 * non-zero length.  out is written only on success.
 */
SPIFFE_CHECK int spiffe_b64url_decode(uint8_t *out, size_t cap,
				      size_t *outlen, const char *in,
				      size_t len);

/*
 * Encodes unpadded base64url; out gets a terminating NUL too, so cap
 * must be at least SPIFFE_B64URL_ENCODED_LEN(len) + 1 (else
 * SPIFFE_ERR_LIMIT).  *outlen excludes the NUL.
 */
SPIFFE_CHECK int spiffe_b64url_encode(char *out, size_t cap, size_t *outlen,
				      const uint8_t *in, size_t len);

/*
 * Strict standard base64 with mandatory '=' padding (x5c values): length
 * a multiple of 4, '=' only as the last one or two characters, canonical
 * final bits, no whitespace.  Encoding needs 4 * ((len + 2) / 3) + 1
 * bytes of cap.  Same return values as the url forms.
 */
SPIFFE_CHECK int spiffe_b64std_decode(uint8_t *out, size_t cap,
				      size_t *outlen, const char *in,
				      size_t len);
SPIFFE_CHECK int spiffe_b64std_encode(char *out, size_t cap, size_t *outlen,
				      const uint8_t *in, size_t len);

#endif
