/*
 * Fuzz target: the gRPC deframer fed in chunks, and response headers and
 * trailers, and a server's request headers, read from header lists.
 *
 * Input: byte 0 picks the chunk size and flags; bytes 1-2 give how many
 * of the rest are body (the deframer's input); what follows is header
 * fields, each a length byte and name, a length byte and value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_status(const spiffe_grpc_status *st)
{
	spiffe_errbuf eb;

	if (st->msg_len != strlen(st->msg) ||
	    st->msg_len > SPIFFE_GRPC_MAX_STATUS_MESSAGE)
		abort();
	for (size_t i = 0; i < st->msg_len; i++) {
		unsigned char c = (unsigned char)st->msg[i];

		if (c < 0x20 || c == 0x7f)
			abort();
	}
	if ((st->err == 0) != (st->code == 0 && st->err == 0))
		abort();
	if (spiffe_grpc_status_fail(st, &eb) != st->err)
		abort();
}

/* The same header list read as a request by a server (the agent). */
static void server_side(const spiffe_header *h, size_t n)
{
	spiffe_grpc_server_req r;
	spiffe_grpc_status st;
	spiffe_grpc_trailers t;
	int http = 0;
	int rc = spiffe_grpc_server_request(h, n, &r, &http, &st);

	if (rc == 0) {
		if (r.path == NULL)
			abort();
		return;
	}
	if (rc != SPIFFE_ERR_PROTOCOL ||
	    (http != 400 && http != 405 && http != 415) || st.code == 0)
		abort();
	if (st.msg_len != strlen(st.msg))
		abort();
	/* The refusal quotes the peer's bytes; on the wire they must be
	 * percent-encoded into visible ASCII. */
	spiffe_grpc_trailers_set(&t, http, st.code, st.msg, st.msg_len);
	if (t.n != 4)
		abort();
	for (size_t i = 0; i < t.n; i++)
		for (size_t k = 0; k < t.h[i].value_len; k++)
			if (t.h[i].value[k] < 0x20 || t.h[i].value[k] > 0x7e)
				abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	spiffe_grpc_deframer d;
	spiffe_header h[16];
	spiffe_grpc_status st;
	spiffe_errbuf eb;
	size_t chunk, body, off, n = 0;

	if (size < 3)
		return 0;
	chunk = (size_t)(data[0] & 0x1f) + 1;
	body = (size_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	if (body > size)
		body = size;

	spiffe_grpc_deframer_init(&d, 4096);
	for (off = 0; off < body;) {
		size_t len = body - off < chunk ? body - off : chunk;
		size_t coff = 0;

		while (coff < len) {
			size_t used, mlen;
			uint8_t *msg;
			const uint8_t *p = data + off + coff;
			int rc = spiffe_grpc_deframer_feed(&d, p, len - coff,
							   &used, &msg, &mlen,
							   &eb);

			if (rc < 0)
				goto framed;
			if (used > len - coff ||
			    (rc == 0 && used != len - coff))
				abort();
			coff += used;
			if (rc == 1) {
				if (msg == NULL || mlen > 4096)
					abort();
				free(msg);
			}
		}
		off += len;
	}
framed:
	spiffe_grpc_deframer_free(&d);

	for (off = body; off < size && n < 16;) {
		size_t nl = data[off++], vl;

		if (nl > size - off)
			break;
		h[n].name = data + off;
		h[n].name_len = nl;
		off += nl;
		if (off >= size)
			break;
		vl = data[off++];
		if (vl > size - off)
			break;
		h[n].value = data + off;
		h[n].value_len = vl;
		h[n].flags = 0;
		off += vl;
		n++;
	}
	int r = spiffe_grpc_response_headers(h, n, data[-3] >> 7, &st);
	if (r == SPIFFE_GRPC_HEADERS_FINAL)
		check_status(&st);
	else if (r != SPIFFE_GRPC_HEADERS_OK && r != SPIFFE_GRPC_HEADERS_INFO)
		abort();
	if (spiffe_grpc_response_trailers(h, n, &st) != st.err)
		abort();
	check_status(&st);
	server_side(h, n);
	return 0;
}
