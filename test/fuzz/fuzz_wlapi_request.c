/*
 * fuzz_wlapi_request.c - the agent's Workload API request decoders
 * (agent/wlmsg.h) on arbitrary bytes, against two independent readings:
 * a plain transcription of protobuf-go's wire rules (which the decoders
 * follow, grpc-go's server using protobuf-go), and nanopb's decoder of
 * the same messages.
 *
 * Byte 0 picks the message (JWTSVIDRequest, ValidateJWTSVIDRequest, or a
 * fieldless request); the rest is the message.  Invariants:
 *  - ours accepts only what the wire rules accept, and refuses what they
 *    accept only for a reason of its own: a string that is not UTF-8
 *    (protobuf-go refuses those too), more audiences than our limit;
 *  - every view lies inside the input, and a decoded JWTSVIDRequest has
 *    at most SPIFFE_JWT_MAX_AUDIENCES audiences;
 *  - when nanopb accepts too, both read the same strings (nanopb's are
 *    NUL-terminated copies: compared up to a first NUL).
 * nanopb is laxer on the wire (sign-extended 32-bit tags, varints of any
 * length in skipped fields) and stricter on types (a known field of
 * another wire type fails; ours skips it, as protobuf-go does), so
 * whether it accepts is not compared.
 */
#include <pb_decode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wlmsg.h"
#include "workload.pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const spiffe_agent_str *s, const uint8_t *p, size_t len)
{
	if (s->len == 0)
		return;
	if ((const uint8_t *)s->p < p ||
	    (const uint8_t *)s->p + s->len > p + len)
		abort();
}

/* Ours (view) and nanopb's (copy) read the same string. */
static void same(const spiffe_agent_str *s, const char *nano)
{
	const char *nul;
	size_t want;

	if (nano == NULL) {
		if (s->len != 0)
			abort();
		return;
	}
	nul = s->len ? memchr(s->p, '\0', s->len) : NULL;
	want = nul != NULL ? (size_t)(nul - s->p) : s->len;
	if (strlen(nano) != want || memcmp(nano, s->p, want) != 0)
		abort();
}

/*
 * The wire format as protobuf-go's protowire reads it, transcribed
 * plainly: varints of at most 10 bytes (the 10th at most 1), field
 * numbers 1..2^29-1, wire types 0, 1, 2, 5 and groups closed by their
 * own end tag, lengths within the message.
 */

/* A varint at *off: 0, or -1 if malformed. */
static int ref_varint(const uint8_t *p, size_t len, size_t *off,
		      uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 10; i++) {
		uint8_t b;

		if (*off >= len)
			return -1;
		b = p[(*off)++];
		if (i == 9 && b > 1)
			return -1;
		*v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Fields from *off to the end (group 0) or to the end tag of group:
 * 0 at the end, 1 at that end tag, -1 if malformed. */
static int ref_fields(const uint8_t *p, size_t len, size_t *off,
		      uint64_t group, int depth)
{
	while (*off < len) {
		uint64_t tag, num, v;

		if (ref_varint(p, len, off, &tag) != 0)
			return -1;
		num = tag >> 3;
		if (num < 1 || num > (1u << 29) - 1)
			return -1;
		switch (tag & 7) {
		case 0:
			if (ref_varint(p, len, off, &v) != 0)
				return -1;
			break;
		case 1:
		case 5:
			v = (tag & 7) == 1 ? 8 : 4;
			if (len - *off < v)
				return -1;
			*off += v;
			break;
		case 2:
			if (ref_varint(p, len, off, &v) != 0 ||
			    v > len - *off)
				return -1;
			*off += v;
			break;
		case 3:
			if (depth >= 64 ||
			    ref_fields(p, len, off, num, depth + 1) != 1)
				return -1;
			break;
		case 4:
			return group == num ? 1 : -1;
		default:
			return -1;
		}
	}
	return group ? -1 : 0;
}

static int ref_ok(const uint8_t *p, size_t len)
{
	size_t off = 0;

	return ref_fields(p, len, &off, 0, 0) == 0;
}

/* Ours against the reference walk; where ours refused what the walk
 * takes, only for a reason of its own (UTF-8, our limit). */
static void check_ref(int rc, const spiffe_errbuf *eb, const uint8_t *p,
		      size_t len)
{
	int ok = ref_ok(p, len);

	if (rc == 0 && !ok)
		abort();
	if (rc != 0 && ok && rc != SPIFFE_ERR_LIMIT &&
	    strstr(eb->msg, "UTF-8") == NULL)
		abort();
}

static void jwt_req(const uint8_t *p, size_t len)
{
	spiffe_agent_jwt_req r;
	JWTSVIDRequest m = JWTSVIDRequest_init_zero;
	pb_istream_t is = pb_istream_from_buffer(p, len);
	spiffe_errbuf eb;
	int ours = spiffe_agent_decode_jwt_req(p, len, &r, &eb);
	int nano = pb_decode(&is, JWTSVIDRequest_fields, &m);

	check_ref(ours, &eb, p, len);
	if (ours == 0) {
		if (r.naud > SPIFFE_JWT_MAX_AUDIENCES)
			abort();
		for (size_t i = 0; i < r.naud; i++)
			inside(&r.aud[i], p, len);
		inside(&r.spiffe_id, p, len);
	}
	if (ours == 0 && nano) {
		if (m.audience_count != r.naud)
			abort();
		for (size_t i = 0; i < r.naud; i++)
			same(&r.aud[i], m.audience[i]);
		same(&r.spiffe_id, m.spiffe_id);
	}
	if (ours == SPIFFE_ERR_LIMIT && nano &&
	    m.audience_count <= SPIFFE_JWT_MAX_AUDIENCES)
		abort();
	pb_release(JWTSVIDRequest_fields, &m);
}

static void validate_req(const uint8_t *p, size_t len)
{
	spiffe_agent_validate_req r;
	ValidateJWTSVIDRequest m = ValidateJWTSVIDRequest_init_zero;
	pb_istream_t is = pb_istream_from_buffer(p, len);
	spiffe_errbuf eb;
	int ours = spiffe_agent_decode_validate_req(p, len, &r, &eb);
	int nano = pb_decode(&is, ValidateJWTSVIDRequest_fields, &m);

	check_ref(ours, &eb, p, len);
	if (ours == 0) {
		inside(&r.audience, p, len);
		inside(&r.svid, p, len);
	}
	if (ours == 0 && nano) {
		same(&r.audience, m.audience);
		same(&r.svid, m.svid);
	}
	pb_release(ValidateJWTSVIDRequest_fields, &m);
}

static void empty_req(const uint8_t *p, size_t len)
{
	spiffe_errbuf eb;

	check_ref(spiffe_agent_decode_empty(p, len, &eb), &eb, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > SPIFFE_AGENT_MAX_REQUEST + 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		jwt_req(data + 1, size - 1);
		break;
	case 1:
		validate_req(data + 1, size - 1);
		break;
	default:
		empty_req(data + 1, size - 1);
		break;
	}
	return 0;
}
