/*
 * selector.h - workload selectors ("type:value") and sets of them.
 *
 * A selector names one attested property of a workload, such as
 * "unix:uid:1000".  The type is 1..SPIFFE_SELECTOR_TYPE_MAX bytes of
 * [a-z0-9_-]; the value after the first ':' is at least one byte of
 * valid UTF-8 with no control characters (C0 or DEL), and the whole is
 * at most SPIFFE_SELECTOR_MAX bytes.  Selectors compare byte for byte.
 *
 * A set keeps its selectors sorted (by strcmp) and unique, each a
 * NUL-terminated copy on the heap, so lookups are binary searches.
 */
#ifndef SPIFFE_AGENT_SELECTOR_H
#define SPIFFE_AGENT_SELECTOR_H

#include <stddef.h>

#include "err.h"
#include "limits.h"

typedef struct spiffe_selectors {
	char **v;       /* sorted, unique, NUL-terminated */
	size_t n;
	size_t cap;
} spiffe_selectors;

/* Starts an empty set. */
void spiffe_selectors_init(spiffe_selectors *s);
/* Frees the set; safe on a zeroed struct and twice in a row. */
void spiffe_selectors_free(spiffe_selectors *s);

/*
 * Checks that p[0..len) is a well-formed selector (see above).  Returns 0
 * or SPIFFE_ERR_MALFORMED / SPIFFE_ERR_LIMIT with the reason in eb.
 */
SPIFFE_CHECK int spiffe_selector_check(const char *p, size_t len,
				       spiffe_errbuf *eb);

/*
 * Adds a copy of selector p[0..len) after checking it.  A selector that
 * is already present is an error (SPIFFE_ERR_ARG); a full set gives
 * SPIFFE_ERR_LIMIT.  On error s is unchanged.
 */
SPIFFE_CHECK int spiffe_selectors_add(spiffe_selectors *s, const char *p,
				      size_t len, spiffe_errbuf *eb);

/* 1 if p[0..len) is in s, else 0. */
int spiffe_selectors_contains(const spiffe_selectors *s, const char *p,
			      size_t len);

/* 1 if every selector of sub is in super (an empty sub gives 1). */
int spiffe_selectors_subset(const spiffe_selectors *sub,
			    const spiffe_selectors *super);

/* 1 if a and b hold the same selectors, else 0. */
int spiffe_selectors_equal(const spiffe_selectors *a,
			   const spiffe_selectors *b);

/* Replaces dst with a copy of src; on error dst is unchanged. */
SPIFFE_CHECK int spiffe_selectors_copy(spiffe_selectors *dst,
				       const spiffe_selectors *src);

#endif
