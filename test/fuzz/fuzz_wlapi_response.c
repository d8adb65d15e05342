/*
 * Fuzz target: each Workload API response decoded from bytes and turned
 * into library objects.  Byte 0 picks the message type; the rest is the
 * message.  Rendered claims must parse as strict JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "json.h"
#include "wlapi_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A valid ES256 token of the test vectors (sub spiffe://example.org/
 * client, aud spiffe://example.org/server), checked at its own time. */
#define NOW 1767225600
static const char token[] =
	"eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMjU2IiwidHlwIjoiSldUIn0.eyJz"
	"dWIiOiJzcGlmZmU6Ly9leGFtcGxlLm9yZy9jbGllbnQiLCJhdWQiOlsic3Bp"
	"ZmZlOi8vZXhhbXBsZS5vcmcvc2VydmVyIl0sImV4cCI6MTc2NzIyOTIwMCwi"
	"aWF0IjoxNzY3MjI1NjAwfQ.oenZNektb3nRQ4J4CL0Z8aWLoHVjuvLCH-UDu"
	"v6sXuvGO_ZAgSbfPzhVr_Wwu096UZI8U78qlllm4P3WNys72Q";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const aud[] = { "spiffe://example.org/server" };
	spiffe_errbuf eb;
	int kind;

	if (size < 1)
		return 0;
	spiffe_clock_set(NOW);
	kind = data[0] % 6;
	data++;
	size--;
	switch (kind) {
	case 0: {
		spiffe_x509_context *c;

		if (!spiffe_wlapi_parse_x509_context(data, size, &c, &eb)) {
			if (c->nsvids == 0 || c->bundles == NULL)
				abort();
			spiffe_x509_context_unref(c);
		}
		break;
	}
	case 1:
	case 2: {
		spiffe_bundle_set *s;
		int rc = kind == 1 ?
			 spiffe_wlapi_parse_x509_bundles(data, size, &s, &eb) :
			 spiffe_wlapi_parse_jwt_bundles(data, size, &s, &eb);

		if (rc == 0)
			spiffe_bundle_set_unref(s);
		else if (s != NULL)
			abort();
		break;
	}
	case 3: {
		spiffe_wlapi_jwt *v;
		size_t n;

		if (spiffe_wlapi_parse_jwt_svids(data, size, aud, 1, &v, &n,
						 &eb) == 0) {
			if (n == 0 || v[0].token_len != strlen(v[0].token))
				abort();
			spiffe_wlapi_jwt_free(v, n);
		}
		break;
	}
	case 4: {
		spiffe_jwt_svid out;
		char *json;

		spiffe_jwtsvid_init(&out);
		if (spiffe_wlapi_parse_validate(data, size, token,
						sizeof(token) - 1, aud[0],
						&out, &json, &eb) == 0)
			free(json);
		spiffe_jwtsvid_free(&out);
		break;
	}
	default: {
		char *json;
		size_t len;
		spiffe_json j;

		if (spiffe_wlapi_struct_to_json(data, size, &json, &len,
						&eb) != 0)
			break;
		if (len != strlen(json))
			abort();
		spiffe_json_init(&j);
		/* The output is JSON our strict reader takes, within its
		 * limits. */
		int rc = spiffe_json_parse(&j, json, len, &eb);
		if (rc != 0 && rc != SPIFFE_ERR_LIMIT)
			abort();
		spiffe_json_free(&j);
		free(json);
		break;
	}
	}
	return 0;
}
