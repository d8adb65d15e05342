#include "test.h"
#include "spiffeid.h"

#include <stdlib.h>

/* go-spiffe's messages (gospiffe-behaviour.md section 1.1). */
#define TDC "trust domain characters are limited to lowercase letters, " \
	"numbers, dots, dashes, and underscores"
#define PSC "path segment characters are limited to letters, numbers, " \
	"dots, dashes, and underscores"
#define SCH "scheme is missing or invalid"
#define NOTD "trust domain is missing"
#define EMPTYSEG "path cannot contain empty segments"
#define DOTSEG "path cannot contain dot segments"
#define TRAIL "path cannot have a trailing slash"

struct idcase {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	int rc;
	const char *msg;        /* on failure */
	const char *td, *path;  /* on success */
};

static const struct idcase id_cases[] = {
	/* id_test.go TestFromString */
	{ "", 0, SPIFFE_ERR_SPIFFEID, "cannot be empty", 0, 0 },
	{ "spiffe://trustdomain", 0, 0, 0, "trustdomain", "" },
	{ "spiffe://trustdomain/path", 0, 0, 0, "trustdomain", "/path" },
	{ "s", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"s\"", 0, 0 },
	{ "spiffe:/", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"spiffe:/\"", 0, 0 },
	{ "Spiffe://", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": scheme must be lowercase \"spiffe://\" in \"Spiffe://\"",
	  0, 0 },
	{ "spiffe://", 0, SPIFFE_ERR_SPIFFEID,
	  NOTD " in \"spiffe://\"", 0, 0 },
	{ "spiffe:///", 0, SPIFFE_ERR_SPIFFEID,
	  NOTD " in \"spiffe:///\"", 0, 0 },
	{ "spiffe://trustdomain/", 0, SPIFFE_ERR_SPIFFEID,
	  TRAIL ": \"/\" at offset 20 in \"spiffe://trustdomain/\"", 0, 0 },
	{ "spiffe://trustdomain//", 0, SPIFFE_ERR_SPIFFEID,
	  EMPTYSEG ": \"//\" at offset 20 in \"spiffe://trustdomain//\"",
	  0, 0 },
	{ "spiffe://trustdomain//path", 0, SPIFFE_ERR_SPIFFEID,
	  EMPTYSEG ": \"//\" at offset 20 in "
	  "\"spiffe://trustdomain//path\"", 0, 0 },
	{ "spiffe://trustdomain/path/", 0, SPIFFE_ERR_SPIFFEID,
	  TRAIL ": \"/\" at offset 25 in \"spiffe://trustdomain/path/\"",
	  0, 0 },
	{ "spiffe://trustdomain/.", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/.\" at offset 20 in \"spiffe://trustdomain/.\"", 0, 0 },
	{ "spiffe://trustdomain/./path", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/.\" at offset 20 in \"spiffe://trustdomain/./path\"",
	  0, 0 },
	{ "spiffe://trustdomain/path/./other", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/.\" at offset 25 in "
	  "\"spiffe://trustdomain/path/./other\"", 0, 0 },
	{ "spiffe://trustdomain/path/..", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/..\" at offset 25 in "
	  "\"spiffe://trustdomain/path/..\"", 0, 0 },
	{ "spiffe://trustdomain/..", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/..\" at offset 20 in \"spiffe://trustdomain/..\"",
	  0, 0 },
	{ "spiffe://trustdomain/../path", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/..\" at offset 20 in \"spiffe://trustdomain/../path\"",
	  0, 0 },
	{ "spiffe://trustdomain/path/../other", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/..\" at offset 25 in "
	  "\"spiffe://trustdomain/path/../other\"", 0, 0 },
	{ "spiffe://trustdomain/.path", 0, 0, 0, "trustdomain", "/.path" },
	{ "spiffe://trustdomain/..path", 0, 0, 0, "trustdomain", "/..path" },
	{ "spiffe://trustdomain/...", 0, 0, 0, "trustdomain", "/..." },
	{ "spiffe://%F0%9F%A4%AF/path", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '%' (percent-encoding not allowed) at offset 9 in "
	  "\"spiffe://%F0%9F%A4%AF/path\"", 0, 0 },
	{ "spiffe://trustdomain/%F0%9F%A4%AF", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '%' (percent-encoding not allowed) at offset 21 in "
	  "\"spiffe://trustdomain/%F0%9F%A4%AF\"", 0, 0 },
	{ "spiffe://%62%61%64/path", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '%' (percent-encoding not allowed) at offset 9 in "
	  "\"spiffe://%62%61%64/path\"", 0, 0 },
	{ "spiffe://trustdomain/%62%61%64", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '%' (percent-encoding not allowed) at offset 21 in "
	  "\"spiffe://trustdomain/%62%61%64\"", 0, 0 },
	/* Derived from go-spiffe's algorithm. */
	{ "spiffe://TD/x", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found 'T' (uppercase not allowed) at offset 9 in "
	  "\"spiffe://TD/x\"", 0, 0 },
	{ "spiffe://td:443/x", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found ':' (port not allowed) at offset 11 in "
	  "\"spiffe://td:443/x\"", 0, 0 },
	{ "spiffe://u@td/x", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '@' (user info not allowed) at offset 10 in "
	  "\"spiffe://u@td/x\"", 0, 0 },
	{ "spiffe://td?q", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '?' (query not allowed) at offset 11 in "
	  "\"spiffe://td?q\"", 0, 0 },
	{ "spiffe://td#f", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '#' (fragment not allowed) at offset 11 in "
	  "\"spiffe://td#f\"", 0, 0 },
	{ "spiffe://td/p?q", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '?' (query not allowed) at offset 13 in "
	  "\"spiffe://td/p?q\"", 0, 0 },
	{ "spiffe://td/p#f", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '#' (fragment not allowed) at offset 13 in "
	  "\"spiffe://td/p#f\"", 0, 0 },
	{ "spiffe://[::1]/x", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '[' (IP literal not allowed) at offset 9 in "
	  "\"spiffe://[::1]/x\"", 0, 0 },
	{ "SPIFFE://td/x", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": scheme must be lowercase \"spiffe://\" in "
	  "\"SPIFFE://td/x\"", 0, 0 },
	{ "spiffe://td/X", 0, 0, 0, "td", "/X" },
	{ "spiffe://1.2.3.4/x", 0, 0, 0, "1.2.3.4", "/x" },
	/* TestFromURI's character cases. */
	{ "spiffe://trust$domain", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found '$' at offset 14 in \"spiffe://trust$domain\"", 0, 0 },
	{ "spiffe://trustdomain/path$", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '$' at offset 25 in \"spiffe://trustdomain/path$\"",
	  0, 0 },
	/* Ours: more schemes, bytes shown escaped, rule order. */
	{ "spiffe:", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"spiffe:\"", 0, 0 },
	{ "https://td/x", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"https://td/x\"", 0, 0 },
	{ " spiffe://td", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \" spiffe://td\"", 0, 0 },
	{ "spiffe:\\\\td", 0, SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"spiffe:\\x5c\\x5ctd\"", 0, 0 },
	{ "spiffe://td/a b", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x20 at offset 13 in \"spiffe://td/a b\"", 0, 0 },
	{ "spiffe://td/a\0b", 15, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x00 at offset 13 in \"spiffe://td/a\\x00b\"",
	  0, 0 },
	{ "spiffe://td\0", 12, SPIFFE_ERR_SPIFFEID,
	  TDC ": found byte 0x00 at offset 11 in \"spiffe://td\\x00\"", 0, 0 },
	{ "spiffe://td/\xc3\xa9", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0xc3 at offset 12 in "
	  "\"spiffe://td/\\xc3\\xa9\"", 0, 0 },
	{ "spiffe://td/a\"b", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x22 at offset 13 in \"spiffe://td/a\\x22b\"",
	  0, 0 },
	{ "spiffe://td/a'b", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x27 at offset 13 in \"spiffe://td/a'b\"", 0, 0 },
	{ "spiffe://td/a\\b", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x5c at offset 13 in \"spiffe://td/a\\x5cb\"",
	  0, 0 },
	{ "spiffe://td/\x1b[31m", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found byte 0x1b at offset 12 in \"spiffe://td/\\x1b[31m\"",
	  0, 0 },
	{ "spiffe://td//a?", 0, SPIFFE_ERR_SPIFFEID,
	  EMPTYSEG ": \"//\" at offset 11 in \"spiffe://td//a?\"", 0, 0 },
	{ "spiffe://td/a?/", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '?' (query not allowed) at offset 13 in "
	  "\"spiffe://td/a?/\"", 0, 0 },
	{ "spiffe://td/./", 0, SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/.\" at offset 11 in \"spiffe://td/./\"", 0, 0 },
	{ "spiffe://td/a/.b/..c/...", 0, 0, 0, "td", "/a/.b/..c/..." },
	{ "spiffe://T", 0, SPIFFE_ERR_SPIFFEID,
	  TDC ": found 'T' (uppercase not allowed) at offset 9 in "
	  "\"spiffe://T\"", 0, 0 },
	{ "spiffe://td/%", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '%' (percent-encoding not allowed) at offset 12 in "
	  "\"spiffe://td/%\"", 0, 0 },
	{ "spiffe://td/a@b:c", 0, SPIFFE_ERR_SPIFFEID,
	  PSC ": found '@' at offset 13 in \"spiffe://td/a@b:c\"", 0, 0 },
	{ "spiffe://a_b-c.d/A-Z_0.9", 0, 0, 0, "a_b-c.d", "/A-Z_0.9" },
	{ "spiffe://-/_", 0, 0, 0, "-", "/_" },
	{ "spiffe://.", 0, 0, 0, ".", "" },
	{ "spiffe://../a", 0, 0, 0, "..", "/a" },
};

static void check_id_case(const struct idcase *c, size_t n)
{
	spiffe_errbuf eb;
	spiffe_id id;
	spiffe_td td;
	size_t len = c->len ? c->len : strlen(c->in);
	size_t plen;
	const char *path;
	int rc;

	memset(&id, 0x5a, sizeof(id));
	strcpy(eb.msg, "untouched");
	rc = spiffe_id_parse(&id, c->in, len, &eb);
	if (rc != c->rc) {
		FAILF("case %zu \"%s\": rc %d, expected %d (%s)", n, c->in, rc,
		      c->rc, eb.msg);
		return;
	}
	if (rc != 0) {
		if (strcmp(eb.msg, c->msg) != 0)
			FAILF("case %zu: message\n  got  %s\n  want %s", n,
			      eb.msg, c->msg);
		if (id.len != 0 || id.td_len != 0 || id.str[0] != '\0')
			FAILF("case %zu: id not zeroed", n);
		return;
	}
	spiffe_id_td(&id, &td);
	path = spiffe_id_path(&id, &plen);
	if (id.len != len || memcmp(id.str, c->in, len) != 0 ||
	    id.str[len] != '\0' || strcmp(td.name, c->td) != 0 ||
	    td.len != strlen(c->td) || strcmp(path, c->path) != 0 ||
	    plen != strlen(c->path))
		FAILF("case %zu \"%s\": got td \"%s\" path \"%s\"", n, c->in,
		      td.name, path);
}

TEST(id_parse_table)
{
	for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++)
		check_id_case(&id_cases[i], i);
}

/* How the message names byte c (independent restatement of the rule). */
static void describe(char *out, size_t cap, unsigned char c, int in_td)
{
	const char *why = "";

	if (c == '%')
		why = " (percent-encoding not allowed)";
	else if (c == '?')
		why = " (query not allowed)";
	else if (c == '#')
		why = " (fragment not allowed)";
	else if (in_td && c >= 'A' && c <= 'Z')
		why = " (uppercase not allowed)";
	else if (in_td && c == ':')
		why = " (port not allowed)";
	else if (in_td && c == '@')
		why = " (user info not allowed)";
	else if (in_td && c == '[')
		why = " (IP literal not allowed)";
	if (c > ' ' && c < 0x7f && c != '\'' && c != '"' &&
	    c != '\\')
		snprintf(out, cap, "'%c'%s", c, why);
	else
		snprintf(out, cap, "byte 0x%02x%s", c, why);
}

/* The input as messages show it. */
static void shown(char *out, const char *s, size_t len)
{
	*out++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= ' ' && c < 0x7f && c != '"' && c != '\\')
			*out++ = (char)c;
		else
			out += sprintf(out, "\\x%02x", c);
	}
	*out++ = '"';
	*out = '\0';
}

/* Go's string(rune(c)): one byte below 0x80, else two-byte UTF-8. */
static size_t put_rune(char *out, unsigned c)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = (char)(0xc0 | (c >> 6));
	out[1] = (char)(0x80 | (c & 0x3f));
	return 2;
}

static int td_char_ok(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

static int path_char_ok(unsigned c)
{
	return td_char_ok(c) || (c >= 'A' && c <= 'Z');
}

/* go-spiffe's loop: spiffe://trustdomain<c>/path for every c but '/'. */
TEST(id_every_trust_domain_byte)
{
	for (unsigned c = 0; c < 256; c++) {
		char in[64], want[512], what[64], sh[256], td[16];
		spiffe_errbuf eb;
		spiffe_id id;
		spiffe_td t;
		size_t n, k;
		int rc;

		if (c == '/')
			continue;
		n = (size_t)sprintf(in, "spiffe://trustdomain");
		k = put_rune(in + n, c);
		n += k;
		n += (size_t)sprintf(in + n, "/path");
		rc = spiffe_id_parse(&id, in, n, &eb);
		if (td_char_ok(c)) {
			CHECK_INT(rc, 0);
			spiffe_id_td(&id, &t);
			snprintf(td, sizeof(td), "trustdomain%c", c);
			CHECK_STR(t.name, td);
			CHECK_STR(spiffe_id_path(&id, NULL), "/path");
			continue;
		}
		CHECK_INT(rc, SPIFFE_ERR_SPIFFEID);
		describe(what, sizeof(what), (unsigned char)in[20], 1);
		shown(sh, in, n);
		snprintf(want, sizeof(want),
			 TDC ": found %s at offset 20 in %s", what, sh);
		CHECK_STR(eb.msg, want);
	}
}

/* go-spiffe's loop: spiffe://trustdomain/path<c> for every c but '/'. */
TEST(id_every_path_byte)
{
	for (unsigned c = 0; c < 256; c++) {
		char in[64], want[512], what[64], sh[256], p[16];
		spiffe_errbuf eb;
		spiffe_id id;
		size_t n;
		int rc;

		if (c == '/')
			continue;
		n = (size_t)sprintf(in, "spiffe://trustdomain/path");
		n += put_rune(in + n, c);
		rc = spiffe_id_parse(&id, in, n, &eb);
		if (path_char_ok(c)) {
			CHECK_INT(rc, 0);
			snprintf(p, sizeof(p), "/path%c", c);
			CHECK_STR(spiffe_id_path(&id, NULL), p);
			continue;
		}
		CHECK_INT(rc, SPIFFE_ERR_SPIFFEID);
		describe(what, sizeof(what), (unsigned char)in[25], 0);
		shown(sh, in, n);
		snprintf(want, sizeof(want),
			 PSC ": found %s at offset 25 in %s", what, sh);
		CHECK_STR(eb.msg, want);
	}
}

TEST(id_length_limits)
{
	static char buf[SPIFFE_ID_MAX + 64];
	char want[512], head[80];
	spiffe_errbuf eb;
	spiffe_id id;

	/* A 255-byte trust domain is fine, 256 is not. */
	memcpy(buf, "spiffe://", 9);
	memset(buf + 9, 'a', 256);
	CHECK_INT(spiffe_id_parse(&id, buf, 9 + 255, &eb), 0);
	CHECK_INT(id.td_len, 255);
	CHECK_INT(spiffe_id_parse(&id, buf, 9 + 256, &eb), SPIFFE_ERR_LIMIT);
	memcpy(head, buf, 64);
	head[64] = '\0';
	snprintf(want, sizeof(want), "trust domain is too long: 256 bytes, "
		 "limit 255 in \"%s\"...", head);
	CHECK_STR(eb.msg, want);
	CHECK_INT(id.len, 0);

	/* A 2048-byte ID is fine, 2049 is not. */
	memset(buf + 9, 'a', sizeof(buf) - 9);
	buf[9 + 200] = '/';
	CHECK_INT(spiffe_id_parse(&id, buf, SPIFFE_ID_MAX, &eb), 0);
	CHECK_INT(id.len, SPIFFE_ID_MAX);
	CHECK_INT(id.td_len, 200);
	CHECK_INT(id.str[SPIFFE_ID_MAX], '\0');
	CHECK_INT(spiffe_id_parse(&id, buf, SPIFFE_ID_MAX + 1, &eb),
		  SPIFFE_ERR_LIMIT);
	snprintf(want, sizeof(want), "SPIFFE ID is too long: 2049 bytes, "
		 "limit 2048 in \"%s\"...", head);
	CHECK_STR(eb.msg, want);
	CHECK_INT(id.len, 0);

	/* The length is checked before anything else. */
	buf[0] = 'X';
	CHECK_INT(spiffe_id_parse(&id, buf, SPIFFE_ID_MAX + 1, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_id_parse(&id, buf, SPIFFE_ID_MAX, &eb),
		  SPIFFE_ERR_SPIFFEID);
}

TEST(id_parse_arguments)
{
	spiffe_errbuf eb;
	spiffe_id id;

	CHECK_INT(spiffe_id_parse(&id, NULL, 0, &eb), SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, "cannot be empty");
	CHECK_INT(spiffe_id_parse(&id, NULL, 1, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_id_parse(NULL, "spiffe://td", 11, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_id_parse(&id, "spiffe://td/x", 13, NULL), 0);
	CHECK_INT(spiffe_id_parse(&id, "spiffe://td/", 12, NULL),
		  SPIFFE_ERR_SPIFFEID);
	/* Only len bytes are read. */
	CHECK_INT(spiffe_id_parse(&id, "spiffe://td/x/", 13, &eb), 0);
	CHECK_STR(id.str, "spiffe://td/x");
	CHECK_INT(spiffe_id_parse_cstr(&id, "spiffe://td/y", &eb), 0);
	CHECK_STR(id.str, "spiffe://td/y");
	CHECK_INT(spiffe_id_parse_cstr(&id, "spiffe://td/y/", &eb),
		  SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, TRAIL ": \"/\" at offset 13 in \"spiffe://td/y/\"");
	CHECK_INT(spiffe_id_parse_cstr(&id, NULL, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(id.len, 0);
}

struct tdcase {
	const char *in;
	int rc;
	const char *out;        /* name, or the message */
};

static const struct tdcase td_cases[] = {
	/* trustdomain_test.go */
	{ "", SPIFFE_ERR_SPIFFEID, NOTD },
	{ "spiffe://trustdomain", 0, "trustdomain" },
	{ "spiffe://trustdomain/path", 0, "trustdomain" },
	{ "spiffe:/trustdomain/path", SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"spiffe:/trustdomain/path\"" },
	{ "spiffe://", SPIFFE_ERR_SPIFFEID, NOTD " in \"spiffe://\"" },
	{ "spiffe:///path", SPIFFE_ERR_SPIFFEID,
	  NOTD " in \"spiffe:///path\"" },
	{ "spiffe://trustdomain/", SPIFFE_ERR_SPIFFEID,
	  TRAIL ": \"/\" at offset 20 in \"spiffe://trustdomain/\"" },
	{ "spiffe://trustdomain/path/", SPIFFE_ERR_SPIFFEID,
	  TRAIL ": \"/\" at offset 25 in \"spiffe://trustdomain/path/\"" },
	{ "spiffe://%F0%9F%A4%AF/path", SPIFFE_ERR_SPIFFEID,
	  TDC ": found '%' (percent-encoding not allowed) at offset 9 in "
	  "\"spiffe://%F0%9F%A4%AF/path\"" },
	{ "spiffe://trustdomain/%F0%9F%A4%AF", SPIFFE_ERR_SPIFFEID,
	  PSC ": found '%' (percent-encoding not allowed) at offset 21 in "
	  "\"spiffe://trustdomain/%F0%9F%A4%AF\"" },
	{ "BAD", SPIFFE_ERR_SPIFFEID,
	  TDC ": found 'B' (uppercase not allowed) at offset 0 in \"BAD\"" },
	{ "spiffe://trust$domain", SPIFFE_ERR_SPIFFEID,
	  TDC ": found '$' at offset 14 in \"spiffe://trust$domain\"" },
	{ "spiffe://trustdomain/path$", SPIFFE_ERR_SPIFFEID,
	  PSC ": found '$' at offset 25 in \"spiffe://trustdomain/path$\"" },
	/* Ours. */
	{ "example.org", 0, "example.org" },
	{ "td:443", SPIFFE_ERR_SPIFFEID,
	  TDC ": found ':' (port not allowed) at offset 2 in \"td:443\"" },
	{ "td/path", SPIFFE_ERR_SPIFFEID,
	  TDC ": found '/' at offset 2 in \"td/path\"" },
	{ "https://td", SPIFFE_ERR_SPIFFEID,
	  SCH ": expected \"spiffe://\" in \"https://td\"" },
	{ "SPIFFE://td", SPIFFE_ERR_SPIFFEID,
	  SCH ": scheme must be lowercase \"spiffe://\" in \"SPIFFE://td\"" },
	{ "u@td", SPIFFE_ERR_SPIFFEID,
	  TDC ": found '@' (user info not allowed) at offset 1 in \"u@td\"" },
	{ "1.2.3.4", 0, "1.2.3.4" },
};

TEST(td_parse_table)
{
	for (size_t i = 0; i < sizeof(td_cases) / sizeof(td_cases[0]); i++) {
		const struct tdcase *c = &td_cases[i];
		spiffe_errbuf eb;
		spiffe_td td;
		int rc;

		memset(&td, 0x5a, sizeof(td));
		rc = spiffe_td_parse(&td, c->in, strlen(c->in), &eb);
		if (rc != c->rc) {
			FAILF("case %zu \"%s\": rc %d, expected %d (%s)", i,
			      c->in, rc, c->rc, eb.msg);
			continue;
		}
		if (rc != 0) {
			if (strcmp(eb.msg, c->out) != 0)
				FAILF("case %zu: message\n  got  %s\n"
				      "  want %s", i, eb.msg, c->out);
			if (td.len != 0 || td.name[0] != '\0')
				FAILF("case %zu: td not zeroed", i);
		} else if (strcmp(td.name, c->out) != 0 ||
			   td.len != strlen(c->out)) {
			FAILF("case %zu: got \"%s\"", i, td.name);
		}
	}
}

/* trustdomain_test.go's loop over every byte, bare and as an ID. */
TEST(td_every_byte)
{
	for (unsigned c = 0; c < 256; c++) {
		char in[64], want[512], what[64], sh[256], name[16];
		spiffe_errbuf eb;
		spiffe_td td;
		size_t n;

		n = (size_t)sprintf(in, "trustdomain");
		n += put_rune(in + n, c);
		if (td_char_ok(c)) {
			snprintf(name, sizeof(name), "trustdomain%c", c);
			CHECK_INT(spiffe_td_parse(&td, in, n, &eb), 0);
			CHECK_STR(td.name, name);
			n = (size_t)sprintf(in, "spiffe://%s", name);
			CHECK_INT(spiffe_td_parse(&td, in, n, &eb), 0);
			CHECK_STR(td.name, name);
			continue;
		}
		CHECK_INT(spiffe_td_parse(&td, in, n, &eb),
			  SPIFFE_ERR_SPIFFEID);
		describe(what, sizeof(what), (unsigned char)in[11], 1);
		shown(sh, in, n);
		snprintf(want, sizeof(want),
			 TDC ": found %s at offset 11 in %s", what, sh);
		CHECK_STR(eb.msg, want);
	}
}

TEST(td_length_limit)
{
	char buf[300], want[512];
	spiffe_errbuf eb;
	spiffe_td td;

	memset(buf, 'a', sizeof(buf));
	CHECK_INT(spiffe_td_parse(&td, buf, 255, &eb), 0);
	CHECK_INT(td.len, 255);
	CHECK_INT(td.name[255], '\0');
	CHECK_INT(spiffe_td_parse(&td, buf, 256, &eb), SPIFFE_ERR_LIMIT);
	snprintf(want, sizeof(want), "trust domain is too long: 256 bytes, "
		 "limit 255 in \"%.64s\"...", buf);
	CHECK_STR(eb.msg, want);
	CHECK_INT(td.len, 0);
	CHECK_INT(spiffe_td_parse(&td, NULL, 0, &eb), SPIFFE_ERR_SPIFFEID);
	CHECK_INT(spiffe_td_parse(&td, NULL, 3, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_td_parse(NULL, "td", 2, &eb), SPIFFE_ERR_ARG);
}

static spiffe_td mktd(const char *s)
{
	spiffe_td td;

	if (spiffe_td_parse(&td, s, strlen(s), NULL) != 0)
		abort();
	return td;
}

static spiffe_id mkid(const char *s)
{
	spiffe_id id;

	if (spiffe_id_parse(&id, s, strlen(s), NULL) != 0)
		abort();
	return id;
}

struct pathcase {
	const char *path;
	int rc;
	const char *out;        /* the ID, or the message */
};

static const struct pathcase path_cases[] = {
	{ "", 0, "spiffe://trustdomain" },
	{ "/foo", 0, "spiffe://trustdomain/foo" },
	{ "/foo/bar", 0, "spiffe://trustdomain/foo/bar" },
	{ "foo", SPIFFE_ERR_SPIFFEID,
	  "path must have a leading slash in \"foo\"" },
	{ "/", SPIFFE_ERR_SPIFFEID, TRAIL ": \"/\" at offset 0 in \"/\"" },
	{ "//", SPIFFE_ERR_SPIFFEID,
	  EMPTYSEG ": \"//\" at offset 0 in \"//\"" },
	{ "/foo/", SPIFFE_ERR_SPIFFEID,
	  TRAIL ": \"/\" at offset 4 in \"/foo/\"" },
	{ "/.", SPIFFE_ERR_SPIFFEID, DOTSEG ": \"/.\" at offset 0 in \"/.\"" },
	{ "/a/..", SPIFFE_ERR_SPIFFEID,
	  DOTSEG ": \"/..\" at offset 2 in \"/a/..\"" },
	{ "/$", SPIFFE_ERR_SPIFFEID, PSC ": found '$' at offset 1 in \"/$\"" },
	{ "/a%20b", SPIFFE_ERR_SPIFFEID,
	  PSC ": found '%' (percent-encoding not allowed) at offset 2 in "
	  "\"/a%20b\"" },
};

TEST(id_from_path)
{
	spiffe_td td = mktd("trustdomain"), zero;
	static char buf[SPIFFE_ID_MAX];
	char want[512];
	spiffe_errbuf eb;
	spiffe_id id;
	size_t n;

	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]);
	     i++) {
		const struct pathcase *c = &path_cases[i];
		int rc;

		rc = spiffe_id_from_path(&id, &td, c->path, strlen(c->path),
					 &eb);
		if (rc != c->rc) {
			FAILF("case %zu \"%s\": rc %d (%s)", i, c->path, rc,
			      eb.msg);
			continue;
		}
		if (rc != 0) {
			if (strcmp(eb.msg, c->out) != 0)
				FAILF("case %zu: message\n  got  %s\n"
				      "  want %s", i, eb.msg, c->out);
			if (id.len != 0)
				FAILF("case %zu: id not zeroed", i);
			continue;
		}
		if (strcmp(id.str, c->out) != 0 || id.len != strlen(c->out) ||
		    id.td_len != 11) {
			FAILF("case %zu: got \"%s\"", i, id.str);
			continue;
		}
		/* What from_path builds parses to itself. */
		spiffe_id again = mkid(id.str);
		CHECK(spiffe_id_equal(&id, &again));
	}

	memset(&zero, 0, sizeof(zero));
	CHECK_INT(spiffe_id_from_path(&id, &zero, "/x", 2, &eb),
		  SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, "trust domain is empty");
	CHECK_INT(spiffe_id_from_path(&id, &td, NULL, 0, &eb), 0);
	CHECK_STR(id.str, "spiffe://trustdomain");
	CHECK_INT(spiffe_id_from_path(&id, &td, NULL, 1, &eb),
		  SPIFFE_ERR_ARG);

	/* 9 + 11 + 2028 = 2048 bytes fits; one more does not. */
	memset(buf, 'a', sizeof(buf));
	buf[0] = '/';
	n = SPIFFE_ID_MAX - 9 - 11;
	CHECK_INT(spiffe_id_from_path(&id, &td, buf, n, &eb), 0);
	CHECK_INT(id.len, SPIFFE_ID_MAX);
	CHECK_INT(spiffe_id_from_path(&id, &td, buf, n + 1, &eb),
		  SPIFFE_ERR_LIMIT);
	snprintf(want, sizeof(want), "SPIFFE ID is too long: 2049 bytes, "
		 "limit 2048 in \"%.64s\"...", buf);
	CHECK_STR(eb.msg, want);
}

TEST(td_id_and_accessors)
{
	static const char *const ins[] = {
		"trustdomain", "spiffe://trustdomain",
		"spiffe://trustdomain/path",
	};
	spiffe_id id, zid;
	spiffe_td td, zero;
	size_t n;

	for (size_t i = 0; i < 3; i++) {
		td = mktd(ins[i]);
		spiffe_td_id(&td, &id);
		CHECK_STR(id.str, "spiffe://trustdomain");
		CHECK_INT(id.len, 20);
		CHECK_INT(id.td_len, 11);
		CHECK_STR(spiffe_id_path(&id, &n), "");
		CHECK_INT(n, 0);
	}
	memset(&zero, 0, sizeof(zero));
	memset(&id, 0x5a, sizeof(id));
	spiffe_td_id(&zero, &id);
	CHECK_INT(id.len, 0);
	CHECK_STR(id.str, "");

	/* The zero ID has the zero trust domain and an empty path. */
	memset(&zid, 0, sizeof(zid));
	spiffe_id_td(&zid, &td);
	CHECK_INT(td.len, 0);
	CHECK_STR(td.name, "");
	CHECK_STR(spiffe_id_path(&zid, &n), "");
	CHECK_INT(n, 0);

	id = mkid("spiffe://foo.test/sub/C");
	spiffe_id_td(&id, &td);
	CHECK_STR(td.name, "foo.test");
	CHECK_INT(td.len, 8);
	CHECK_STR(spiffe_id_path(&id, &n), "/sub/C");
	CHECK_INT(n, 6);
}

TEST(id_equal_and_member_of)
{
	spiffe_id a = mkid("spiffe://foo.test/A");
	spiffe_id a2 = mkid("spiffe://foo.test/A");
	spiffe_id b = mkid("spiffe://foo.test/B");
	spiffe_id c = mkid("spiffe://foo.test/sub/C");
	spiffe_id ba = mkid("spiffe://bar.test/A");
	spiffe_id root = mkid("spiffe://foo.test");
	spiffe_id longer = mkid("spiffe://foo.testx/A");
	spiffe_td foo = mktd("foo.test"), bar = mktd("bar.test");
	spiffe_td foo2 = mktd("spiffe://foo.test/x"), fo = mktd("foo.tes");
	spiffe_id zid;
	spiffe_td ztd;

	memset(&zid, 0, sizeof(zid));
	memset(&ztd, 0, sizeof(ztd));

	CHECK(spiffe_id_equal(&a, &a2));
	CHECK(!spiffe_id_equal(&a, &b));
	CHECK(!spiffe_id_equal(&a, &ba));
	CHECK(!spiffe_id_equal(&a, &zid));
	CHECK(spiffe_id_equal(&zid, &zid));

	CHECK(spiffe_td_equal(&foo, &foo2));
	CHECK(!spiffe_td_equal(&foo, &bar));
	CHECK(!spiffe_td_equal(&foo, &fo));
	CHECK(!spiffe_td_equal(&foo, &ztd));
	CHECK(spiffe_td_equal(&ztd, &ztd));

	CHECK(spiffe_id_member_of(&a, &foo));
	CHECK(spiffe_id_member_of(&b, &foo));
	CHECK(spiffe_id_member_of(&c, &foo));
	CHECK(spiffe_id_member_of(&root, &foo));
	CHECK(!spiffe_id_member_of(&ba, &foo));
	CHECK(spiffe_id_member_of(&ba, &bar));
	CHECK(!spiffe_id_member_of(&a, &fo));
	CHECK(!spiffe_id_member_of(&longer, &foo));
	CHECK(!spiffe_id_member_of(&a, &ztd));
	/* Unlike go-spiffe's MatchMemberOf(TrustDomain{}). */
	CHECK(!spiffe_id_member_of(&zid, &ztd));
	CHECK(!spiffe_id_member_of(&zid, &foo));
}

/* Outputs may alias inputs: re-parse in place, swap a trust domain. */
TEST(inputs_may_alias_outputs)
{
	spiffe_id id = mkid("spiffe://td/a/b");
	spiffe_td td = mktd("a-much-longer-trust-domain"), s = mktd("x");
	const char *path;
	size_t n;

	CHECK_INT(spiffe_id_parse(&id, id.str, id.len, NULL), 0);
	CHECK_STR(id.str, "spiffe://td/a/b");
	path = spiffe_id_path(&id, &n);
	CHECK_INT(spiffe_id_from_path(&id, &td, path, n, NULL), 0);
	CHECK_STR(id.str, "spiffe://a-much-longer-trust-domain/a/b");
	path = spiffe_id_path(&id, &n);
	CHECK_INT(spiffe_id_from_path(&id, &s, path, n, NULL), 0);
	CHECK_STR(id.str, "spiffe://x/a/b");
	CHECK_INT(id.td_len, 1);
	CHECK_INT(spiffe_td_parse(&td, td.name + 2, td.len - 2, NULL), 0);
	CHECK_STR(td.name, "much-longer-trust-domain");
	CHECK_INT(spiffe_td_parse(&td, id.str, id.len, NULL), 0);
	CHECK_STR(td.name, "x");
}

int main(void)
{
	RUN(id_parse_table);
	RUN(id_every_trust_domain_byte);
	RUN(id_every_path_byte);
	RUN(id_length_limits);
	RUN(id_parse_arguments);
	RUN(td_parse_table);
	RUN(td_every_byte);
	RUN(td_length_limit);
	RUN(id_from_path);
	RUN(td_id_and_accessors);
	RUN(id_equal_and_member_of);
	RUN(inputs_may_alias_outputs);
	return test_summary();
}
