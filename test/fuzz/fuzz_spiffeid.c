/*
 * fuzz_spiffeid - spiffe_id_parse and spiffe_td_parse on arbitrary bytes.
 *
 * Checks that a parsed ID re-parses to itself and splits into a trust
 * domain and path that rebuild it, and that every message is printable
 * ASCII (untrusted bytes are escaped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spiffeid.h"

static void printable(const spiffe_errbuf *eb)
{
	size_t n = strnlen(eb->msg, sizeof(eb->msg));

	if (n == 0 || n == sizeof(eb->msg))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (eb->msg[i] < 0x20 || eb->msg[i] > 0x7e)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	static spiffe_id id, again, built, tdid;
	spiffe_td td, td2;
	spiffe_errbuf eb;
	const char *path;
	size_t plen;

	if (spiffe_id_parse(&id, s, size, &eb) != 0) {
		printable(&eb);
		if (id.len != 0)
			abort();
	} else {
		if (id.len != size || memcmp(id.str, s, size) != 0 ||
		    id.str[size] != '\0')
			abort();
		if (spiffe_id_parse(&again, id.str, id.len, &eb) != 0 ||
		    !spiffe_id_equal(&id, &again))
			abort();
		spiffe_id_td(&id, &td);
		path = spiffe_id_path(&id, &plen);
		if (!spiffe_id_member_of(&id, &td))
			abort();
		if (spiffe_id_from_path(&built, &td, path, plen, &eb) != 0 ||
		    !spiffe_id_equal(&built, &id))
			abort();
		if (spiffe_td_parse(&td2, s, size, &eb) != 0 ||
		    !spiffe_td_equal(&td, &td2))
			abort();
		spiffe_td_id(&td, &tdid);
		if (!spiffe_id_member_of(&tdid, &td) ||
		    (plen == 0) != spiffe_id_equal(&tdid, &id))
			abort();
	}
	if (spiffe_td_parse(&td, s, size, &eb) != 0) {
		printable(&eb);
		if (td.len != 0)
			abort();
	} else if (td.len == 0 || td.len > SPIFFE_TD_MAX ||
		   td.name[td.len] != '\0') {
		abort();
	}
	return 0;
}
