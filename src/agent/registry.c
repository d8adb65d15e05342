/*
 * registry.c - registration entries: the file format, matching, and
 * locked read-modify-write updates.
 */
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/store.h"
#include "clock.h"
#include "json.h"
#include "rng.h"

/*
 * Worst-case tokens: an entry is an object with 8 members (17 tokens)
 * plus a selector array (at most SPIFFE_AGENT_ENTRY_SELECTORS more).
 */
_Static_assert(4 + (size_t)SPIFFE_AGENT_MAX_ENTRIES *
	       (18 + SPIFFE_AGENT_ENTRY_SELECTORS) <= SPIFFE_JSON_MAX_TOKENS,
	       "a full registry must fit the JSON token limit");

/* ---- entries and lists ------------------------------------------------- */

void spiffe_agent_entry_init(spiffe_agent_entry *e)
{
	memset(e, 0, sizeof(*e));
	spiffe_selectors_init(&e->sel);
}

void spiffe_agent_entry_free(spiffe_agent_entry *e)
{
	if (e == NULL)
		return;
	free(e->spiffe_id);
	free(e->parent_id);
	free(e->hint);
	spiffe_selectors_free(&e->sel);
	spiffe_agent_entry_init(e);
}

void spiffe_agent_entries_init(spiffe_agent_entries *l)
{
	memset(l, 0, sizeof(*l));
}

void spiffe_agent_entries_free(spiffe_agent_entries *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		spiffe_agent_entry_free(&l->v[i]);
	free(l->v);
	spiffe_agent_entries_init(l);
}

/* A new zeroed entry at the end of l, or NULL when out of memory. */
static spiffe_agent_entry *push(spiffe_agent_entries *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		spiffe_agent_entry *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	spiffe_agent_entry_init(&l->v[l->n]);
	return &l->v[l->n++];
}

static char *dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* Deep copy of src into dst (freed first). */
static int copy_entry(spiffe_agent_entry *dst, const spiffe_agent_entry *src)
{
	spiffe_agent_entry_free(dst);
	memcpy(dst->id, src->id, sizeof(dst->id));
	dst->x509_svid_ttl = src->x509_svid_ttl;
	dst->jwt_svid_ttl = src->jwt_svid_ttl;
	dst->created = src->created;
	dst->spiffe_id = dup_or_empty(src->spiffe_id);
	dst->parent_id = dup_or_empty(src->parent_id);
	dst->hint = dup_or_empty(src->hint);
	if (dst->spiffe_id == NULL || dst->parent_id == NULL ||
	    dst->hint == NULL || spiffe_selectors_copy(&dst->sel,
						       &src->sel) != 0) {
		spiffe_agent_entry_free(dst);
		return SPIFFE_ERR_NOMEM;
	}
	return 0;
}

static int append_copy(spiffe_agent_entries *l, const spiffe_agent_entry *e,
		       spiffe_errbuf *eb)
{
	spiffe_agent_entry *d = push(l);

	if (d == NULL || copy_entry(d, e) != 0) {
		if (d != NULL)
			l->n--;
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	}
	return 0;
}

static int entry_equal(const spiffe_agent_entry *a,
		       const spiffe_agent_entry *b)
{
	return strcmp(a->id, b->id) == 0 &&
	       strcmp(a->spiffe_id, b->spiffe_id) == 0 &&
	       strcmp(a->parent_id, b->parent_id) == 0 &&
	       strcmp(a->hint, b->hint) == 0 &&
	       a->x509_svid_ttl == b->x509_svid_ttl &&
	       a->jwt_svid_ttl == b->jwt_svid_ttl &&
	       a->created == b->created &&
	       spiffe_selectors_equal(&a->sel, &b->sel);
}

static int entries_equal(const spiffe_agent_entries *a,
			 const spiffe_agent_entries *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (!entry_equal(&a->v[i], &b->v[i]))
			return 0;
	return 1;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const spiffe_agent_entry *a = pa, *b = pb;
	int c = strcmp(a->spiffe_id, b->spiffe_id);

	return c != 0 ? c : strcmp(a->id, b->id);
}

static void sort_entries(spiffe_agent_entries *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), cmp_entry);
}

/* ---- validation ------------------------------------------------------- */

static int is_id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static int check_entry_id(const char *p, size_t len, spiffe_errbuf *eb)
{
	if (len == 0 || len > SPIFFE_AGENT_ENTRY_ID_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entry id must "
				   "be 1 to %d bytes",
				   SPIFFE_AGENT_ENTRY_ID_MAX);
	for (size_t i = 0; i < len; i++)
		if (!is_id_char((unsigned char)p[i]))
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entry "
					   "id characters are limited to "
					   "letters, digits, '.', '_' and "
					   "'-'");
	return 0;
}

/* A SPIFFE ID in td; need_path: not the trust domain's own ID. */
static int check_sid(const char *s, const spiffe_td *td, int need_path,
		     const char *what, spiffe_errbuf *eb)
{
	spiffe_id id;
	size_t plen;
	int rc;

	rc = spiffe_id_parse(&id, s, strlen(s), eb);
	if (rc != 0)
		return spiffe_wrap(eb, rc, "%s", what);
	if (!spiffe_id_member_of(&id, td))
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s \"%s\" is not "
				   "in trust domain \"%s\"", what, id.str,
				   td->name);
	(void)spiffe_id_path(&id, &plen);
	if (need_path && plen == 0)
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s \"%s\" has no "
				   "path (a workload ID needs one)", what,
				   id.str);
	return 0;
}

/* Every rule of the file format for one entry (strings trusted C). */
static int check_entry(const spiffe_agent_entry *e, const spiffe_td *td,
		       spiffe_errbuf *eb)
{
	int rc;

	rc = check_entry_id(e->id, strnlen(e->id, sizeof(e->id)), eb);
	if (rc != 0)
		return rc;
	if (e->spiffe_id == NULL || e->parent_id == NULL || e->hint == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "entry is incomplete");
	rc = check_sid(e->spiffe_id, td, 1, "spiffe_id", eb);
	if (rc == 0 && e->parent_id[0] != '\0')
		rc = check_sid(e->parent_id, td, 0, "parent_id", eb);
	if (rc != 0)
		return rc;
	if (e->sel.n == 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "an entry needs "
				   "at least one selector");
	if (e->sel.n > SPIFFE_AGENT_ENTRY_SELECTORS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "selectors", SPIFFE_AGENT_ENTRY_SELECTORS);
	for (size_t i = 0; i < e->sel.n; i++) {
		rc = spiffe_selector_check(e->sel.v[i], strlen(e->sel.v[i]),
					   eb);
		if (rc != 0)
			return rc;
	}
	if (e->x509_svid_ttl < 0 || e->x509_svid_ttl > SPIFFE_AGENT_TTL_MAX ||
	    e->jwt_svid_ttl < 0 || e->jwt_svid_ttl > SPIFFE_AGENT_TTL_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "TTLs must be 0 "
				   "to %d seconds", SPIFFE_AGENT_TTL_MAX);
	if (strlen(e->hint) > SPIFFE_AGENT_HINT_MAX)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "hint longer than %d "
				   "bytes", SPIFFE_AGENT_HINT_MAX);
	for (const unsigned char *h = (const unsigned char *)e->hint; *h; h++)
		if (*h < 0x20 || *h == 0x7f)
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "hint "
					   "has a control character");
	if (e->created < 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "created is "
				   "negative");
	return 0;
}

static int cmp_ids(const void *pa, const void *pb)
{
	const spiffe_agent_entry *const *a = pa, *const *b = pb;

	return strcmp((*a)->id, (*b)->id);
}

/* Whole-list rules on a list sorted by spiffe_id: count, unique ids,
 * no exact duplicates. */
static int check_list(const spiffe_agent_entries *l, spiffe_errbuf *eb)
{
	const spiffe_agent_entry **byid;
	int rc = 0;

	if (l->n > SPIFFE_AGENT_MAX_ENTRIES)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "entries", SPIFFE_AGENT_MAX_ENTRIES);
	if (l->n < 2)
		return 0;
	byid = malloc(l->n * sizeof(*byid));
	if (byid == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < l->n; i++)
		byid[i] = &l->v[i];
	qsort(byid, l->n, sizeof(*byid), cmp_ids);
	for (size_t i = 1; i < l->n && rc == 0; i++)
		if (strcmp(byid[i - 1]->id, byid[i]->id) == 0)
			rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entry id "
					 "\"%s\" appears twice", byid[i]->id);
	free(byid);
	/* Exact duplicates share a spiffe_id, so they are neighbours. */
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		for (size_t k = i + 1; k < l->n && rc == 0 &&
		     strcmp(l->v[i].spiffe_id, l->v[k].spiffe_id) == 0; k++) {
			const spiffe_agent_entry *a = &l->v[i], *b = &l->v[k];

			if (strcmp(a->parent_id, b->parent_id) == 0 &&
			    spiffe_selectors_equal(&a->sel, &b->sel))
				rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
						 "entries \"%s\" and \"%s\" "
						 "have the same spiffe_id, "
						 "parent_id and selectors",
						 l->v[i].id, l->v[k].id);
		}
	}
	return rc;
}

/* ---- parsing ------------------------------------------------------------ */

/* String token i into a new buffer of at most max bytes; no NUL. */
static int get_str(const spiffe_json *j, int i, size_t max, char **out,
		   size_t *outlen, const char *what, spiffe_errbuf *eb)
{
	size_t len, raw;
	char *s;
	int rc;

	if (j->tok[i].type != SPIFFE_JSON_STRING)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "\"%s\" must be "
				   "a string", what);
	/* Decoding never makes a string longer than its source text. */
	raw = (size_t)(j->tok[i].end - j->tok[i].start);
	if (raw > max * 6 + 6)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "\"%s\" is longer "
				   "than %zu bytes", what, max);
	if (raw > max)
		raw = max;
	s = malloc(raw + 1);
	if (s == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	rc = spiffe_json_str(j, i, s, raw + 1, &len);
	if (rc == SPIFFE_ERR_LIMIT || (rc == 0 && len > max))
		rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "\"%s\" is longer "
				 "than %zu bytes", what, max);
	else if (rc != 0)
		rc = spiffe_fail(eb, rc, "\"%s\" is not a valid string", what);
	else if (memchr(s, '\0', len) != NULL)
		rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "\"%s\" contains "
				 "NUL", what);
	if (rc != 0) {
		free(s);
		return rc;
	}
	*out = s;
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

static int get_int(const spiffe_json *j, int i, int64_t *v, const char *what,
		   spiffe_errbuf *eb)
{
	if (j->tok[i].type != SPIFFE_JSON_NUMBER ||
	    spiffe_json_int64(j, i, v) != 0)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "\"%s\" must be "
				   "an integer", what);
	return 0;
}

static int parse_selectors(const spiffe_json *j, int arr,
			   spiffe_selectors *sel, spiffe_errbuf *eb)
{
	int i;

	if (j->tok[arr].type != SPIFFE_JSON_ARRAY)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "\"selectors\" "
				   "must be an array");
	if (j->tok[arr].count > SPIFFE_AGENT_ENTRY_SELECTORS)
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d "
				   "selectors", SPIFFE_AGENT_ENTRY_SELECTORS);
	i = arr + 1;
	for (uint32_t k = 0; k < j->tok[arr].count; k++) {
		char *s;
		size_t len;
		int rc;

		rc = get_str(j, i, SPIFFE_SELECTOR_MAX, &s, &len, "selectors",
			     eb);
		if (rc == 0) {
			rc = spiffe_selectors_add(sel, s, len, eb);
			free(s);
		}
		if (rc != 0)
			return spiffe_wrap(eb, rc, "selector %u", k + 1);
		i = spiffe_json_next(j, i);
	}
	return 0;
}

enum { M_ID, M_SID, M_PID, M_SEL, M_XTTL, M_JTTL, M_HINT, M_CREATED, M_N };
static const char *const members[M_N] = {
	"id", "spiffe_id", "parent_id", "selectors", "x509_svid_ttl",
	"jwt_svid_ttl", "hint", "created",
};

static int parse_entry(const spiffe_json *j, int obj, const spiffe_td *td,
		       spiffe_agent_entry *e, spiffe_errbuf *eb)
{
	int seen[M_N] = { 0 };
	int i = obj + 1, rc = 0;
	char *s;
	size_t len;

	if (j->tok[obj].type != SPIFFE_JSON_OBJECT)
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "not an object");
	for (uint32_t k = 0; k < j->tok[obj].count && rc == 0; k++) {
		int key = i, val = i + 1, m;

		for (m = 0; m < M_N; m++)
			if (spiffe_json_str_eq(j, key, members[m],
					       strlen(members[m])))
				break;
		if (m == M_N) {
			char name[40];

			if (spiffe_json_str(j, key, name, sizeof(name),
					    NULL) != 0)
				memcpy(name, "...", 4);
			return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "unknown "
					   "member \"%s\"", name);
		}
		seen[m] = 1;
		switch (m) {
		case M_ID:
			rc = get_str(j, val, SPIFFE_AGENT_ENTRY_ID_MAX, &s,
				     &len, "id", eb);
			if (rc == 0) {
				memcpy(e->id, s, len + 1);
				free(s);
			}
			break;
		case M_SID:
			rc = get_str(j, val, SPIFFE_ID_MAX, &e->spiffe_id,
				     NULL, "spiffe_id", eb);
			break;
		case M_PID:
			rc = get_str(j, val, SPIFFE_ID_MAX, &e->parent_id,
				     NULL, "parent_id", eb);
			break;
		case M_SEL:
			rc = parse_selectors(j, val, &e->sel, eb);
			break;
		case M_XTTL:
			rc = get_int(j, val, &e->x509_svid_ttl,
				     "x509_svid_ttl", eb);
			break;
		case M_JTTL:
			rc = get_int(j, val, &e->jwt_svid_ttl, "jwt_svid_ttl",
				     eb);
			break;
		case M_HINT:
			rc = get_str(j, val, SPIFFE_AGENT_HINT_MAX, &e->hint,
				     NULL, "hint", eb);
			break;
		case M_CREATED:
			rc = get_int(j, val, &e->created, "created", eb);
			break;
		}
		i = spiffe_json_next(j, val);
	}
	if (rc != 0)
		return rc;
	if (!seen[M_ID] || !seen[M_SID] || !seen[M_SEL])
		return spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "\"%s\" is "
				   "missing", !seen[M_ID] ? "id" :
				   !seen[M_SID] ? "spiffe_id" : "selectors");
	if ((e->parent_id == NULL && (e->parent_id = strdup("")) == NULL) ||
	    (e->hint == NULL && (e->hint = strdup("")) == NULL))
		return spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	return check_entry(e, td, eb);
}

int spiffe_agent_registry_parse(const char *text, size_t len,
				const spiffe_td *td, spiffe_agent_entries *out,
				spiffe_errbuf *eb)
{
	spiffe_agent_entries l;
	spiffe_json j;
	int version = 0, arr = -1, i, rc;

	spiffe_agent_entries_free(out);
	spiffe_agent_entries_init(&l);
	spiffe_json_init(&j);
	if (len > SPIFFE_AGENT_REGISTRY_MAX) {
		rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "entries file of %zu "
				 "bytes exceeds the limit of %u", len,
				 (unsigned)SPIFFE_AGENT_REGISTRY_MAX);
		goto out;
	}
	rc = spiffe_json_parse(&j, text, len, eb);
	if (rc != 0)
		goto out;
	if (j.tok[0].type != SPIFFE_JSON_OBJECT) {
		rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entries file is "
				 "not a JSON object");
		goto out;
	}
	i = 1;
	for (uint32_t k = 0; k < j.tok[0].count; k++) {
		int key = i, val = i + 1;
		int64_t v;

		if (spiffe_json_str_eq(&j, key, "version", 7)) {
			if (get_int(&j, val, &v, "version", eb) != 0 ||
			    v != 1) {
				rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED,
						 "entries file \"version\" "
						 "must be 1");
				goto out;
			}
			version = 1;
		} else if (spiffe_json_str_eq(&j, key, "entries", 7)) {
			arr = val;
		} else {
			rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entries "
					 "file has an unknown member");
			goto out;
		}
		i = spiffe_json_next(&j, val);
	}
	if (!version || arr < 0 || j.tok[arr].type != SPIFFE_JSON_ARRAY) {
		rc = spiffe_fail(eb, SPIFFE_ERR_MALFORMED, "entries file "
				 "needs \"version\": 1 and an \"entries\" "
				 "array");
		goto out;
	}
	if (j.tok[arr].count > SPIFFE_AGENT_MAX_ENTRIES) {
		rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "more than %d entries",
				 SPIFFE_AGENT_MAX_ENTRIES);
		goto out;
	}
	i = arr + 1;
	for (uint32_t k = 0; k < j.tok[arr].count; k++) {
		spiffe_agent_entry *e = push(&l);

		if (e == NULL) {
			rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of "
					 "memory");
			goto out;
		}
		rc = parse_entry(&j, i, td, e, eb);
		if (rc != 0) {
			rc = spiffe_wrap(eb, rc, "entry %u", k + 1);
			goto out;
		}
		i = spiffe_json_next(&j, i);
	}
	sort_entries(&l);
	rc = check_list(&l, eb);
out:
	spiffe_json_free(&j);
	if (rc == 0)
		*out = l;
	else
		spiffe_agent_entries_free(&l);
	return rc;
}

/* ---- writing ------------------------------------------------------------ */

struct buf {
	char *p;
	size_t n, cap;
	int err;
};

/* Makes room for need more bytes (and a NUL). */
static int room(struct buf *b, size_t need)
{
	if (b->err)
		return -1;
	if (need > SPIFFE_AGENT_REGISTRY_MAX ||
	    b->n + need >= SPIFFE_AGENT_REGISTRY_MAX + 64) {
		b->err = SPIFFE_ERR_LIMIT;
		return -1;
	}
	if (b->n + need + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->n + need + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->err = SPIFFE_ERR_NOMEM;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static void add(struct buf *b, const char *s, size_t len)
{
	if (room(b, len) == 0) {
		memcpy(b->p + b->n, s, len);
		b->n += len;
	}
}

#define ADDLIT(b, lit) add(b, lit, sizeof(lit) - 1)

static void add_quoted(struct buf *b, const char *s)
{
	size_t len = strlen(s), w;

	if (room(b, 6 * len + 2) != 0)
		return;
	if (spiffe_json_quote(b->p + b->n, b->cap - b->n, &w, s, len) != 0)
		b->err = SPIFFE_ERR_JSON;
	else
		b->n += w;
}

static void add_int(struct buf *b, int64_t v)
{
	char num[32];
	int n = snprintf(num, sizeof(num), "%lld", (long long)v);

	add(b, num, (size_t)n);
}

int spiffe_agent_registry_marshal(const spiffe_agent_entries *l, char **out,
				  size_t *len, spiffe_errbuf *eb)
{
	struct buf b = { NULL, 0, 0, 0 };

	*out = NULL;
	*len = 0;
	ADDLIT(&b, "{\"version\":1,\"entries\":[\n");
	for (size_t i = 0; i < l->n; i++) {
		const spiffe_agent_entry *e = &l->v[i];

		ADDLIT(&b, "{\"id\":");
		add_quoted(&b, e->id);
		ADDLIT(&b, ",\"spiffe_id\":");
		add_quoted(&b, e->spiffe_id ? e->spiffe_id : "");
		ADDLIT(&b, ",\"parent_id\":");
		add_quoted(&b, e->parent_id ? e->parent_id : "");
		ADDLIT(&b, ",\"selectors\":[");
		for (size_t k = 0; k < e->sel.n; k++) {
			if (k > 0)
				ADDLIT(&b, ",");
			add_quoted(&b, e->sel.v[k]);
		}
		ADDLIT(&b, "],\"x509_svid_ttl\":");
		add_int(&b, e->x509_svid_ttl);
		ADDLIT(&b, ",\"jwt_svid_ttl\":");
		add_int(&b, e->jwt_svid_ttl);
		ADDLIT(&b, ",\"hint\":");
		add_quoted(&b, e->hint ? e->hint : "");
		ADDLIT(&b, ",\"created\":");
		add_int(&b, e->created);
		if (i + 1 < l->n)
			ADDLIT(&b, "},\n");
		else
			ADDLIT(&b, "}\n");
	}
	ADDLIT(&b, "]}\n");
	if (b.err == 0 && b.n > SPIFFE_AGENT_REGISTRY_MAX)
		b.err = SPIFFE_ERR_LIMIT;
	if (b.err != 0) {
		free(b.p);
		if (b.err == SPIFFE_ERR_LIMIT)
			return spiffe_fail(eb, b.err, "entries file would "
					   "exceed %u bytes", (unsigned)
					   SPIFFE_AGENT_REGISTRY_MAX);
		if (b.err == SPIFFE_ERR_JSON)
			return spiffe_fail(eb, SPIFFE_ERR_ARG, "an entry "
					   "string is not valid UTF-8");
		return spiffe_fail(eb, b.err, "out of memory");
	}
	b.p[b.n] = '\0';
	*out = b.p;
	*len = b.n;
	return 0;
}

/* ---- the registry ----------------------------------------------------- */

void spiffe_agent_registry_init(spiffe_agent_registry *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	r->inited = 1;
	r->dirfd = -1;
	r->held_fd = -1;
}

void spiffe_agent_registry_free(spiffe_agent_registry *r)
{
	if (r == NULL)
		return;
	if (r->inited) {
		pthread_mutex_destroy(&r->mu);
		if (r->dirfd >= 0)
			close(r->dirfd);
		if (r->held_fd >= 0)
			close(r->held_fd);
	}
	spiffe_agent_entries_free(&r->entries);
	memset(r, 0, sizeof(*r));
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Installs a newly loaded state (entries moved from l). */
static void install(spiffe_agent_registry *r, spiffe_agent_entries *l,
		    int fd, const struct stat *st, int rc,
		    const spiffe_errbuf *err, int *changed)
{
	int ch = !entries_equal(&r->entries, l) || rc != r->load_rc;

	spiffe_agent_entries_free(&r->entries);
	r->entries = *l;
	spiffe_agent_entries_init(l);
	if (r->held_fd >= 0)
		close(r->held_fd);
	r->held_fd = fd;
	if (st != NULL)
		r->st = *st;
	else
		memset(&r->st, 0, sizeof(r->st));
	r->load_rc = rc;
	if (rc != 0)
		r->load_err = *err;
	if (ch)
		r->generation++;
	if (changed != NULL)
		*changed = ch;
}

/* Loads the file if it changed (force: always).  Under r->mu. */
static int load(spiffe_agent_registry *r, int force, int *changed,
		spiffe_errbuf *eb)
{
	spiffe_agent_entries l;
	spiffe_errbuf err;
	struct stat st;
	char *text;
	size_t len;
	int fd, rc;

	if (changed != NULL)
		*changed = 0;
	if (r->dirfd < 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "registry is not open");
	if (fstatat(r->dirfd, SPIFFE_AGENT_ENTRIES_FILE, &st,
		    AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			return spiffe_fail(eb, SPIFFE_ERR_IO, "cannot stat "
					   SPIFFE_AGENT_ENTRIES_FILE ": %s",
					   strerror(errno));
		if (!force && r->held_fd < 0 && r->load_rc == 0)
			return 0;       /* still absent */
		spiffe_agent_entries_init(&l);
		install(r, &l, -1, NULL, 0, NULL, changed);
		return 0;
	}
	if (!force && r->held_fd >= 0 && same_stat(&st, &r->st)) {
		if (r->load_rc != 0 && eb != NULL)
			*eb = r->load_err;
		return r->load_rc;
	}
	spiffe_agent_entries_init(&l);
	rc = spiffe_agent_file_read(r->dirfd, SPIFFE_AGENT_ENTRIES_FILE,
				    SPIFFE_AGENT_REGISTRY_MAX, 0, &text, &len,
				    &st, &fd, &err);
	if (rc == SPIFFE_ERR_NOT_FOUND) {
		/* Removed between the two looks: absent. */
		install(r, &l, -1, NULL, 0, NULL, changed);
		return 0;
	}
	if (rc == 0) {
		rc = spiffe_agent_registry_parse(text, len, &r->td, &l, &err);
		free(text);
	} else {
		/* Unreadable: hold nothing, so the next call retries. */
		fd = -1;
		memset(&st, 0, sizeof(st));
	}
	if (rc != 0)
		spiffe_wrap(&err, rc, SPIFFE_AGENT_ENTRIES_FILE);
	install(r, &l, fd, fd >= 0 ? &st : NULL, rc, &err, changed);
	if (rc != 0 && eb != NULL)
		*eb = err;
	return rc;
}

int spiffe_agent_registry_open(spiffe_agent_registry *r, int dirfd,
			       const spiffe_td *td, spiffe_errbuf *eb)
{
	int rc;

	if (!r->inited || r->dirfd >= 0 || td == NULL || td->len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "registry: bad "
				   "arguments");
	pthread_mutex_lock(&r->mu);
	r->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (r->dirfd < 0) {
		pthread_mutex_unlock(&r->mu);
		return spiffe_fail(eb, SPIFFE_ERR_IO, "registry: dup: %s",
				   strerror(errno));
	}
	r->td = *td;
	rc = load(r, 1, NULL, eb);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int spiffe_agent_registry_refresh(spiffe_agent_registry *r, int *changed,
				  spiffe_errbuf *eb)
{
	int rc;

	pthread_mutex_lock(&r->mu);
	rc = load(r, 0, changed, eb);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int spiffe_agent_registry_match(spiffe_agent_registry *r,
				const spiffe_selectors *workload,
				spiffe_agent_entries *out, spiffe_errbuf *eb)
{
	int rc = 0;

	spiffe_agent_entries_free(out);
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->entries.n && rc == 0; i++) {
		const spiffe_agent_entry *e = &r->entries.v[i];

		if (e->sel.n > 0 && spiffe_selectors_subset(&e->sel, workload))
			rc = append_copy(out, e, eb);
	}
	pthread_mutex_unlock(&r->mu);
	if (rc != 0)
		spiffe_agent_entries_free(out);
	return rc;
}

int spiffe_agent_registry_list(spiffe_agent_registry *r,
			       spiffe_agent_entries *out, spiffe_errbuf *eb)
{
	int rc = 0;

	spiffe_agent_entries_free(out);
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->entries.n && rc == 0; i++)
		rc = append_copy(out, &r->entries.v[i], eb);
	pthread_mutex_unlock(&r->mu);
	if (rc != 0)
		spiffe_agent_entries_free(out);
	return rc;
}

static ssize_t find_id(const spiffe_agent_entries *l, const char *id,
		       size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].id) == len &&
		    memcmp(l->v[i].id, id, len) == 0)
			return (ssize_t)i;
	return -1;
}

int spiffe_agent_registry_get(spiffe_agent_registry *r, const char *id,
			      size_t len, spiffe_agent_entry *out,
			      spiffe_errbuf *eb)
{
	ssize_t i;
	int rc;

	pthread_mutex_lock(&r->mu);
	i = find_id(&r->entries, id, len);
	if (i < 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "no entry with id "
				 "\"%.*s\"", (int)(len > 64 ? 64 : len), id);
	else if (copy_entry(out, &r->entries.v[i]) != 0)
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
	else
		rc = 0;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* A random version 4 UUID, lowercase. */
static int uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t w = 0;

	if (spiffe_rng(NULL, b, sizeof(b)) != 0)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[w++] = '-';
		out[w++] = hex[b[i] >> 4];
		out[w++] = hex[b[i] & 15];
	}
	out[w] = '\0';
	return 0;
}

/* The file's current entries, read afresh (under the file lock). */
static int read_current(spiffe_agent_registry *r, spiffe_agent_entries *l,
			spiffe_errbuf *eb)
{
	char *text;
	size_t len;
	int rc;

	rc = spiffe_agent_file_read(r->dirfd, SPIFFE_AGENT_ENTRIES_FILE,
				    SPIFFE_AGENT_REGISTRY_MAX, 0, &text, &len,
				    NULL, NULL, eb);
	if (rc == SPIFFE_ERR_NOT_FOUND)
		return 0;
	if (rc != 0)
		return rc;
	rc = spiffe_agent_registry_parse(text, len, &r->td, l, eb);
	free(text);
	if (rc != 0)
		spiffe_wrap(eb, rc, SPIFFE_AGENT_ENTRIES_FILE " does not "
			    "load; fix or remove it first");
	return rc;
}

static int save(spiffe_agent_registry *r, const spiffe_agent_entries *l,
		spiffe_errbuf *eb)
{
	char *text;
	size_t len;
	int rc;

	rc = spiffe_agent_registry_marshal(l, &text, &len, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_agent_file_write(r->dirfd, SPIFFE_AGENT_ENTRIES_FILE, text,
				     len, eb);
	free(text);
	return rc;
}

int spiffe_agent_registry_create(spiffe_agent_registry *r,
				 const spiffe_agent_entry *e,
				 spiffe_agent_entry *out, spiffe_errbuf *eb)
{
	spiffe_agent_entries l;
	spiffe_agent_entry *n;
	int lockfd = -1, rc;

	spiffe_agent_entries_init(&l);
	pthread_mutex_lock(&r->mu);
	if (r->dirfd < 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "registry is not open");
		goto out;
	}
	rc = spiffe_agent_lock(r->dirfd, SPIFFE_AGENT_ENTRIES_LOCK, &lockfd,
			       eb);
	if (rc == 0)
		rc = read_current(r, &l, eb);
	if (rc != 0)
		goto out;
	n = push(&l);
	if (n == NULL || copy_entry(n, e) != 0) {
		if (n != NULL)
			l.n--;
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (n->id[0] == '\0' && uuid4(n->id) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_CRYPTO, "random generator "
				 "failed");
		goto out;
	}
	n->created = spiffe_now();
	rc = check_entry(n, &r->td, eb);
	if (rc != 0)
		goto out;
	for (size_t i = 0; i + 1 < l.n; i++) {
		const spiffe_agent_entry *o = &l.v[i];

		if (strcmp(o->id, n->id) == 0) {
			rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "entry id \"%s\" "
					 "is in use", n->id);
			goto out;
		}
		if (strcmp(o->spiffe_id, n->spiffe_id) == 0 &&
		    strcmp(o->parent_id, n->parent_id) == 0 &&
		    spiffe_selectors_equal(&o->sel, &n->sel)) {
			rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "similar entry "
					 "already exists: \"%s\" has the same "
					 "spiffe_id, parent_id and selectors",
					 o->id);
			goto out;
		}
	}
	if (l.n > SPIFFE_AGENT_MAX_ENTRIES) {
		rc = spiffe_fail(eb, SPIFFE_ERR_LIMIT, "the registry holds "
				 "%d entries, its limit",
				 SPIFFE_AGENT_MAX_ENTRIES);
		goto out;
	}
	if (out != NULL && copy_entry(out, n) != 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOMEM, "out of memory");
		goto out;
	}
	sort_entries(&l);
	rc = save(r, &l, eb);
	if (rc == 0)
		rc = load(r, 0, NULL, eb);
out:
	if (lockfd >= 0)
		close(lockfd);
	pthread_mutex_unlock(&r->mu);
	spiffe_agent_entries_free(&l);
	return rc;
}

int spiffe_agent_registry_delete(spiffe_agent_registry *r, const char *id,
				 size_t len, spiffe_errbuf *eb)
{
	spiffe_agent_entries l;
	int lockfd = -1, rc;
	ssize_t i;

	spiffe_agent_entries_init(&l);
	pthread_mutex_lock(&r->mu);
	if (r->dirfd < 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_ARG, "registry is not open");
		goto out;
	}
	rc = spiffe_agent_lock(r->dirfd, SPIFFE_AGENT_ENTRIES_LOCK, &lockfd,
			       eb);
	if (rc == 0)
		rc = read_current(r, &l, eb);
	if (rc != 0)
		goto out;
	i = find_id(&l, id, len);
	if (i < 0) {
		rc = spiffe_fail(eb, SPIFFE_ERR_NOT_FOUND, "no entry with id "
				 "\"%.*s\"", (int)(len > 64 ? 64 : len), id);
		goto out;
	}
	spiffe_agent_entry_free(&l.v[i]);
	memmove(&l.v[i], &l.v[i + 1], (l.n - (size_t)i - 1) * sizeof(l.v[0]));
	l.n--;
	rc = save(r, &l, eb);
	if (rc == 0)
		rc = load(r, 0, NULL, eb);
out:
	if (lockfd >= 0)
		close(lockfd);
	pthread_mutex_unlock(&r->mu);
	spiffe_agent_entries_free(&l);
	return rc;
}
