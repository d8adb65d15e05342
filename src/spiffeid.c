#include "spiffeid.h"

#include <stdio.h>
#include <string.h>

#define SCHEME "spiffe://"
#define SCHEME_LEN 9

static const char ERR_EMPTY[] = "cannot be empty";
static const char ERR_SCHEME[] = "scheme is missing or invalid";
static const char ERR_NO_TD[] = "trust domain is missing";
static const char ERR_TD_CHAR[] = "trust domain characters are limited to "
	"lowercase letters, numbers, dots, dashes, and underscores";
static const char ERR_PATH_CHAR[] = "path segment characters are limited "
	"to letters, numbers, dots, dashes, and underscores";
static const char ERR_EMPTY_SEG[] = "path cannot contain empty segments";
static const char ERR_DOT_SEG[] = "path cannot contain dot segments";
static const char ERR_TRAILING[] = "path cannot have a trailing slash";
static const char ERR_NO_SLASH[] = "path must have a leading slash";

/* Input bytes shown in a message; the rest is elided. */
#define SHOW_MAX 64

/* "\"<escaped s>\"" with at most SHOW_MAX input bytes, then "..." */
struct shown {
	char s[SHOW_MAX * 4 + 6];
};

static const char *show(struct shown *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len < SHOW_MAX ? len : SHOW_MAX;
	char *w = o->s;

	*w++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			*w++ = (char)c;
		} else {
			*w++ = '\\';
			*w++ = 'x';
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		}
	}
	*w++ = '"';
	if (n < len) {
		memcpy(w, "...", 3);
		w += 3;
	}
	*w = '\0';
	return o->s;
}

static int is_td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static int is_path_char(unsigned char c)
{
	return is_td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Why a byte that is not allowed is there, when that is known. */
static const char *why(unsigned char c, int in_td)
{
	switch (c) {
	case '%': return " (percent-encoding not allowed)";
	case '?': return " (query not allowed)";
	case '#': return " (fragment not allowed)";
	}
	if (!in_td)
		return "";
	if (c >= 'A' && c <= 'Z')
		return " (uppercase not allowed)";
	switch (c) {
	case ':': return " (port not allowed)";
	case '@': return " (user info not allowed)";
	case '[': return " (IP literal not allowed)";
	}
	return "";
}

/* The go-spiffe message plus which byte, where, and in what input. */
static int bad_char(spiffe_errbuf *eb, const char *msg, const char *s,
		    size_t len, size_t at, int in_td)
{
	unsigned char c = (unsigned char)s[at];
	struct shown sh;
	char what[16];

	if (c > 0x20 && c < 0x7f && c != '\'' && c != '"' &&
	    c != '\\') {
		what[0] = '\'';
		what[1] = (char)c;
		what[2] = '\'';
		what[3] = '\0';
	} else {
		snprintf(what, sizeof(what), "byte 0x%02x", c);
	}
	return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID,
			   "%s: found %s%s at offset %zu in %s", msg, what,
			   why(c, in_td), at, show(&sh, s, len));
}

/* A path rule broken by the segment seg ("//", "/.", ...) at offset at. */
static int bad_seg(spiffe_errbuf *eb, const char *msg, const char *seg,
		   const char *s, size_t len, size_t at)
{
	struct shown sh;

	return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID,
			   "%s: \"%s\" at offset %zu in %s", msg, seg, at,
			   show(&sh, s, len));
}

/* "/." or "/.." in s[seg..seg+n), else NULL. */
static const char *dot_seg(const char *s, size_t seg, size_t n)
{
	if (n == 2 && s[seg + 1] == '.')
		return "/.";
	if (n == 3 && s[seg + 1] == '.' && s[seg + 2] == '.')
		return "/..";
	return NULL;
}

/*
 * Validates the path s[start..len) the way go-spiffe's ValidatePath
 * scans it, reporting offsets into s.
 */
static int check_path(const char *s, size_t len, size_t start,
		      spiffe_errbuf *eb)
{
	struct shown sh;
	const char *dot;
	size_t seg = start;

	if (start == len)
		return 0;
	if (s[start] != '/')
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s in %s",
				   ERR_NO_SLASH, show(&sh, s, len));
	for (size_t i = start + 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/') {
			if (i - seg == 1)
				return bad_seg(eb, ERR_EMPTY_SEG, "//", s, len,
					       seg);
			dot = dot_seg(s, seg, i - seg);
			if (dot != NULL)
				return bad_seg(eb, ERR_DOT_SEG, dot, s, len,
					       seg);
			seg = i;
		} else if (!is_path_char(c)) {
			return bad_char(eb, ERR_PATH_CHAR, s, len, i, 0);
		}
	}
	if (len - seg == 1)
		return bad_seg(eb, ERR_TRAILING, "/", s, len, seg);
	dot = dot_seg(s, seg, len - seg);
	if (dot != NULL)
		return bad_seg(eb, ERR_DOT_SEG, dot, s, len, seg);
	return 0;
}

static int too_long(spiffe_errbuf *eb, const char *what, size_t len,
		    size_t max, const char *s, size_t slen)
{
	struct shown sh;

	return spiffe_fail(eb, SPIFFE_ERR_LIMIT,
			   "%s is too long: %zu bytes, limit %zu in %s", what,
			   len, max, show(&sh, s, slen));
}

static void id_zero(spiffe_id *id)
{
	memset(id, 0, sizeof(*id));
}

/* Validates a whole ID; sets *td_len.  Does not touch any output. */
static int check_id(const char *s, size_t len, size_t *td_len,
		    spiffe_errbuf *eb)
{
	struct shown sh;
	size_t i;
	int rc;

	if (len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s", ERR_EMPTY);
	if (len > SPIFFE_ID_MAX)
		return too_long(eb, "SPIFFE ID", len, SPIFFE_ID_MAX, s, len);
	if (len < SCHEME_LEN || memcmp(s, SCHEME, SCHEME_LEN) != 0) {
		int folded = len >= SCHEME_LEN;

		for (i = 0; folded && i < SCHEME_LEN; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			folded = c == (unsigned char)SCHEME[i];
		}
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s: %s in %s",
				   ERR_SCHEME, folded ?
				   "scheme must be lowercase \"spiffe://\"" :
				   "expected \"spiffe://\"",
				   show(&sh, s, len));
	}
	for (i = SCHEME_LEN; i < len && s[i] != '/'; i++) {
		if (!is_td_char((unsigned char)s[i]))
			return bad_char(eb, ERR_TD_CHAR, s, len, i, 1);
	}
	if (i == SCHEME_LEN)
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s in %s",
				   ERR_NO_TD, show(&sh, s, len));
	if (i - SCHEME_LEN > SPIFFE_TD_MAX)
		return too_long(eb, "trust domain", i - SCHEME_LEN,
				SPIFFE_TD_MAX, s, len);
	rc = check_path(s, len, i, eb);
	if (rc != 0)
		return rc;
	*td_len = i - SCHEME_LEN;
	return 0;
}

int spiffe_id_parse(spiffe_id *id, const char *s, size_t len,
		    spiffe_errbuf *eb)
{
	size_t td_len = 0;
	int rc;

	if (id == NULL || (s == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "spiffe_id_parse: "
				   "NULL argument");
	rc = check_id(s, len, &td_len, eb);
	if (rc != 0) {
		id_zero(id);
		return rc;
	}
	/* s may point into id itself. */
	memmove(id->str, s, len);
	id->str[len] = '\0';
	id->len = len;
	id->td_len = td_len;
	return 0;
}

int spiffe_id_parse_cstr(spiffe_id *id, const char *s, spiffe_errbuf *eb)
{
	if (s == NULL) {
		if (id != NULL)
			id_zero(id);
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "spiffe_id_parse_cstr: "
				   "NULL argument");
	}
	return spiffe_id_parse(id, s, strlen(s), eb);
}

/* path may point into id itself (the path of the ID being replaced). */
int spiffe_id_from_path(spiffe_id *id, const spiffe_td *td,
			const char *path, size_t len, spiffe_errbuf *eb)
{
	size_t tl;
	int rc;

	if (id == NULL || td == NULL || (path == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "spiffe_id_from_path: "
				   "NULL argument");
	tl = td->len;
	if (tl == 0 || tl > SPIFFE_TD_MAX)
		rc = spiffe_fail(eb, SPIFFE_ERR_SPIFFEID,
				 "trust domain is empty");
	else if (len > SPIFFE_ID_MAX - SCHEME_LEN - tl)
		rc = too_long(eb, "SPIFFE ID", SCHEME_LEN + tl + len,
			      SPIFFE_ID_MAX, path, len);
	else
		rc = check_path(path, len, 0, eb);
	if (rc != 0) {
		id_zero(id);
		return rc;
	}
	/* The path first: its new place does not overlap scheme + td. */
	if (len != 0)
		memmove(id->str + SCHEME_LEN + tl, path, len);
	memcpy(id->str, SCHEME, SCHEME_LEN);
	memmove(id->str + SCHEME_LEN, td->name, tl);
	id->len = SCHEME_LEN + tl + len;
	id->str[id->len] = '\0';
	id->td_len = tl;
	return 0;
}

static int has_colon_slash(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == ':' && s[i + 1] == '/')
			return 1;
	}
	return 0;
}

/* Validates a trust domain name or ID; sets *off and *td_len. */
static int check_td(const char *s, size_t len, size_t *off, size_t *td_len,
		    spiffe_errbuf *eb)
{
	if (len == 0)
		return spiffe_fail(eb, SPIFFE_ERR_SPIFFEID, "%s", ERR_NO_TD);
	if (has_colon_slash(s, len)) {
		*off = SCHEME_LEN;
		return check_id(s, len, td_len, eb);
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_td_char((unsigned char)s[i]))
			return bad_char(eb, ERR_TD_CHAR, s, len, i, 1);
	}
	if (len > SPIFFE_TD_MAX)
		return too_long(eb, "trust domain", len, SPIFFE_TD_MAX, s,
				len);
	*off = 0;
	*td_len = len;
	return 0;
}

/* s may point into td itself. */
int spiffe_td_parse(spiffe_td *td, const char *s, size_t len,
		    spiffe_errbuf *eb)
{
	size_t off = 0, td_len = 0;
	int rc;

	if (td == NULL || (s == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "spiffe_td_parse: "
				   "NULL argument");
	rc = check_td(s, len, &off, &td_len, eb);
	if (rc != 0) {
		memset(td, 0, sizeof(*td));
		return rc;
	}
	memmove(td->name, s + off, td_len);
	td->name[td_len] = '\0';
	td->len = td_len;
	return 0;
}

void spiffe_id_td(const spiffe_id *id, spiffe_td *td)
{
	size_t n = id->td_len;

	if (id->len == 0 || n > SPIFFE_TD_MAX) {
		memset(td, 0, sizeof(*td));
		return;
	}
	memcpy(td->name, id->str + SCHEME_LEN, n);
	td->name[n] = '\0';
	td->len = n;
}

const char *spiffe_id_path(const spiffe_id *id, size_t *len)
{
	size_t off = SCHEME_LEN + id->td_len;

	if (id->len == 0 || off > id->len) {
		if (len != NULL)
			*len = 0;
		return "";
	}
	if (len != NULL)
		*len = id->len - off;
	return id->str + off;
}

int spiffe_id_equal(const spiffe_id *a, const spiffe_id *b)
{
	return a->len == b->len && a->len <= SPIFFE_ID_MAX &&
	       memcmp(a->str, b->str, a->len) == 0;
}

int spiffe_td_equal(const spiffe_td *a, const spiffe_td *b)
{
	return a->len == b->len && a->len <= SPIFFE_TD_MAX &&
	       memcmp(a->name, b->name, a->len) == 0;
}

int spiffe_id_member_of(const spiffe_id *id, const spiffe_td *td)
{
	return id->len != 0 && td->len != 0 && id->td_len == td->len &&
	       td->len <= SPIFFE_TD_MAX &&
	       memcmp(id->str + SCHEME_LEN, td->name, td->len) == 0;
}

void spiffe_td_id(const spiffe_td *td, spiffe_id *id)
{
	if (td->len == 0 || td->len > SPIFFE_TD_MAX) {
		id_zero(id);
		return;
	}
	memcpy(id->str, SCHEME, SCHEME_LEN);
	memcpy(id->str + SCHEME_LEN, td->name, td->len);
	id->len = SCHEME_LEN + td->len;
	id->str[id->len] = '\0';
	id->td_len = td->len;
}
