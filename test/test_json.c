#include "test.h"
#include "json.h"

#include <stdlib.h>

struct jcase {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	int rc;
	const char *msg;        /* on failure */
	size_t ntok;            /* on success */
};

#define Y(in, n) { in, 0, 0, NULL, n }
#define YL(in, len, n) { in, len, 0, NULL, n }
#define N(in, msg) { in, 0, SPIFFE_ERR_JSON, msg, 0 }
#define NL(in, len, msg) { in, len, SPIFFE_ERR_JSON, msg, 0 }

/* In the manner of JSONTestSuite: y_ must parse, n_ must not. */
static const struct jcase cases[] = {
	/* y_: structure */
	Y("[]", 1),
	Y("{}", 1),
	Y("[[]]", 2),
	Y("[ ]", 1),
	Y("{ }", 1),
	Y("[1]", 2),
	Y("123", 1),
	Y("\"x\"", 1),
	Y("true", 1),
	Y("false", 1),
	Y("null", 1),
	Y(" [1 , 2 ] ", 3),
	Y("\t\r\n 1 \t\r\n", 1),
	Y("{\"a\":1,\"b\":[true,null]}", 7),
	Y("[[[{}]],{\"x\":[]}]", 7),
	/* y_: numbers */
	Y("-0", 1),
	Y("0", 1),
	Y("-0.0e-0", 1),
	Y("0.5e+10", 1),
	Y("1E-2", 1),
	Y("-1.25e0", 1),
	Y("1e007", 1),
	Y("123456789012345678901234567890", 1),
	/* y_: strings */
	Y("\"\\u00e9\\ud83d\\ude00\"", 1),
	Y("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 1),
	Y("\"\\u0000\"", 1),
	Y("\"\\uDBFF\\uDFFF\"", 1),
	Y("\"\xc3\xa9\xf0\x9f\x98\x80\"", 1),
	Y("\"\xef\xbf\xbf\"", 1),              /* U+FFFF */
	Y("\"\xf4\x8f\xbf\xbf\"", 1),          /* U+10FFFF */
	Y("\"\xed\x9f\xbf\"", 1),              /* U+D7FF */
	Y("\"\xee\x80\x80\"", 1),              /* U+E000 */
	Y("\"\xc2\x80\"", 1),                  /* U+0080 */
	Y("\"\xe0\xa0\x80\"", 1),              /* U+0800 */
	Y("\"\xf0\x90\x80\x80\"", 1),          /* U+10000 */
	Y("\"\x7f\"", 1),
	/* y_: member names that are not duplicates */
	Y("{\"a\":1,\"A\":2}", 5),
	Y("{\"a\":{\"a\":1}}", 5),
	Y("[{\"a\":1},{\"a\":2}]", 7),
	Y("{\"\":0}", 3),
	Y("{\"a\\u0000\":1,\"a\":2}", 5),
	Y("{\"ab\":1,\"a\":2,\"b\":3}", 7),

	/* n_: structure */
	N("", "expected a value but found end of input at offset 0"),
	N(" ", "expected a value but found end of input at offset 1"),
	N("[", "expected a value but found end of input at offset 1"),
	N("{", "expected a member name but found end of input at offset 1"),
	N("[1,]", "expected a value but found ']' at offset 3"),
	N("[1,,2]", "expected a value but found ',' at offset 3"),
	N("[,1]", "expected a value but found ',' at offset 1"),
	N("{\"a\":1,}", "expected a member name but found '}' at offset 7"),
	N("[1 2]", "expected ',' or ']' but found '2' at offset 3"),
	N("[1,2", "expected ',' or ']' but found end of input at offset 4"),
	N("{\"a\" 1}", "expected ':' but found '1' at offset 5"),
	N("{\"a\"}", "expected ':' but found '}' at offset 4"),
	N("{\"a\":}", "expected a value but found '}' at offset 5"),
	N("{\"a\":1 \"b\":2}",
	  "expected ',' or '}' but found byte 0x22 at offset 7"),
	N("{\"a\":1]", "expected ',' or '}' but found ']' at offset 6"),
	N("{1:2}", "expected a member name but found '1' at offset 1"),
	N("{'a':2}", "expected a member name but found byte 0x27 at offset 1"),
	N("{]", "expected a member name but found ']' at offset 1"),
	N("[}", "expected a value but found '}' at offset 1"),
	N("[1]]", "expected end of input but found ']' at offset 3"),
	N("1 2", "expected end of input but found '2' at offset 2"),
	N("{}{}", "expected end of input but found '{' at offset 2"),
	N("{\"a\":1}x", "expected end of input but found 'x' at offset 7"),
	NL("[1]\0", 4,
	   "expected end of input but found byte 0x00 at offset 3"),
	N("\xef\xbb\xbf[]",
	  "expected a value but found byte 0xef at offset 0"),
	N("// c\n1", "expected a value but found '/' at offset 0"),
	N("[\v1]", "expected a value but found byte 0x0b at offset 1"),
	N("[\f]", "expected a value but found byte 0x0c at offset 1"),
	N("'a'", "expected a value but found byte 0x27 at offset 0"),
	/* n_: numbers */
	N("01", "leading zero in number at offset 0"),
	N("-01", "leading zero in number at offset 1"),
	N("[00]", "leading zero in number at offset 1"),
	N("-", "expected digit after '-' at offset 1"),
	N("-a", "expected digit after '-' at offset 1"),
	N("- 1", "expected digit after '-' at offset 1"),
	N("1.", "expected digit after '.' at offset 2"),
	N("1.e3", "expected digit after '.' at offset 2"),
	N(".5", "expected a value but found '.' at offset 0"),
	N("1e", "expected digit in exponent at offset 2"),
	N("1e+", "expected digit in exponent at offset 3"),
	N("1E-x", "expected digit in exponent at offset 3"),
	N("+1", "expected a value but found '+' at offset 0"),
	N("1.5.", "expected end of input but found '.' at offset 3"),
	N("0x10", "expected end of input but found 'x' at offset 1"),
	N("Infinity", "expected a value but found 'I' at offset 0"),
	N("-Infinity", "expected digit after '-' at offset 1"),
	N("NaN", "expected a value but found 'N' at offset 0"),
	N("[1e1.0]", "expected ',' or ']' but found '.' at offset 4"),
	/* n_: literals */
	N("tru", "invalid literal (expected true) at offset 0"),
	N("[nul]", "invalid literal (expected null) at offset 1"),
	N("fals", "invalid literal (expected false) at offset 0"),
	N("True", "expected a value but found 'T' at offset 0"),
	N("truex", "expected end of input but found 'x' at offset 4"),
	/* n_: strings */
	N("\"abc", "unterminated string starting at offset 0"),
	N("[\"a\\", "unterminated string starting at offset 1"),
	N("\"\\x\"", "invalid escape at offset 1"),
	N("\"\\U0041\"", "invalid escape at offset 1"),
	N("\"\\'\"", "invalid escape at offset 1"),
	N("\"\\u12\"", "invalid \\u escape at offset 1"),
	N("\"\\u12G4\"", "invalid \\u escape at offset 1"),
	N("\"\\u", "invalid \\u escape at offset 1"),
	N("\"\\ud800\"", "unpaired high surrogate in \\u escape at offset 1"),
	N("\"\\ud800x\"", "unpaired high surrogate in \\u escape at offset 1"),
	N("\"\\ud800\\u0041\"",
	  "unpaired high surrogate in \\u escape at offset 1"),
	N("\"\\ud800\\ud800\"",
	  "unpaired high surrogate in \\u escape at offset 1"),
	N("\"\\ud800\\n\"",
	  "unpaired high surrogate in \\u escape at offset 1"),
	N("\"\\udc00\"", "unpaired low surrogate in \\u escape at offset 1"),
	N("\"\\uDFFF\\uD800\"",
	  "unpaired low surrogate in \\u escape at offset 1"),
	N("\"\\ud800\\uzzzz\"", "invalid \\u escape at offset 7"),
	N("\"a\nb\"", "control character 0x0a in string at offset 2"),
	N("\"\t\"", "control character 0x09 in string at offset 1"),
	NL("\"\0\"", 3, "control character 0x00 in string at offset 1"),
	N("\"\x1f\"", "control character 0x1f in string at offset 1"),
	N("\"\x80\"", "invalid UTF-8 (unexpected continuation byte) at "
	  "offset 1"),
	N("\"\xbf\"", "invalid UTF-8 (unexpected continuation byte) at "
	  "offset 1"),
	N("\"\xc0\xaf\"", "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xc1\xbf\"", "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xe0\x80\xaf\"", "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xe0\x9f\xbf\"", "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xf0\x80\x80\xaf\"",
	  "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xf0\x8f\xbf\xbf\"",
	  "invalid UTF-8 (overlong encoding) at offset 1"),
	N("\"\xed\xa0\x80\"", "invalid UTF-8 (surrogate) at offset 1"),
	N("\"\xed\xbf\xbf\"", "invalid UTF-8 (surrogate) at offset 1"),
	N("\"\xf4\x90\x80\x80\"",
	  "invalid UTF-8 (code point above U+10FFFF) at offset 1"),
	N("\"\xf5\x80\x80\x80\"",
	  "invalid UTF-8 (code point above U+10FFFF) at offset 1"),
	N("\"\xf8\x88\x80\x80\x80\"",
	  "invalid UTF-8 (invalid byte) at offset 1"),
	N("\"\xff\"", "invalid UTF-8 (invalid byte) at offset 1"),
	N("\"\xc3\"", "invalid UTF-8 (missing continuation byte) at offset 1"),
	N("\"a\xe2\x82\"",
	  "invalid UTF-8 (missing continuation byte) at offset 2"),
	N("\"\xe2\x82", "invalid UTF-8 (truncated sequence) at offset 1"),
	N("\"\xf0\x9f\x98\x20\"",
	  "invalid UTF-8 (missing continuation byte) at offset 1"),
	/* n_: duplicate member names, compared decoded */
	N("{\"a\":1,\"a\":2}", "duplicate member name \"a\" at offset 7"),
	N("{\"a\":1,\"\\u0061\":2}",
	  "duplicate member name \"a\" at offset 7"),
	N("{\"\\/\":1,\"/\":2}", "duplicate member name \"/\" at offset 8"),
	N("{\"\xc3\xa9\":1,\"\\u00e9\":2}",
	  "duplicate member name \"\\xc3\\xa9\" at offset 8"),
	N("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
	  "duplicate member name \"\\xf0\\x9f\\x98\\x80\" at offset 18"),
	N("{\"a\\u0000\":1,\"a\\u0000\":2}",
	  "duplicate member name \"a\\x00\" at offset 13"),
	N("{\"b\":1,\"a\":2,\"b\":3}",
	  "duplicate member name \"b\" at offset 13"),
	N("{\"a\":{\"b\":1,\"b\":2}}",
	  "duplicate member name \"b\" at offset 12"),
	N("[1,{\"x\":1,\"y\":2,\"x\":3}]",
	  "duplicate member name \"x\" at offset 16"),
	N("{\"a\":[{}],\"a\":{}}", "duplicate member name \"a\" at offset 10"),
	N("{\"\":1,\"\":2}", "duplicate member name \"\" at offset 6"),
	N("{\"0123456789012345678901234567890123456789\":1,"
	  "\"0123456789012345678901234567890123456789\":2}",
	  "duplicate member name \"01234567890123456789012345678901\"... "
	  "at offset 46"),
};

TEST(accept_reject_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct jcase *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		spiffe_errbuf eb;
		spiffe_json j;
		int rc;

		spiffe_json_init(&j);
		strcpy(eb.msg, "untouched");
		rc = spiffe_json_parse(&j, c->in, len, &eb);
		if (rc != c->rc) {
			FAILF("case %zu '%s': rc %d, expected %d (%s)", i,
			      c->in, rc, c->rc, eb.msg);
		} else if (rc != 0 && strcmp(eb.msg, c->msg) != 0) {
			FAILF("case %zu: message\n  got  %s\n  want %s", i,
			      eb.msg, c->msg);
		} else if (rc != 0 && (j.tok != NULL || j.ntok != 0)) {
			FAILF("case %zu: tokens left after failure", i);
		} else if (rc == 0 && (j.ntok != c->ntok ||
				       j.tok[0].skip != c->ntok)) {
			FAILF("case %zu '%s': %zu tokens, expected %zu", i,
			      c->in, j.ntok, c->ntok);
		}
		spiffe_json_free(&j);
		spiffe_json_free(&j);
	}
}

/* Every byte value alone and inside a string. */
TEST(every_byte)
{
	for (int c = 0; c < 256; c++) {
		char in[3] = { '"', (char)c, '"' };
		spiffe_errbuf eb;
		spiffe_json j;
		int rc;

		spiffe_json_init(&j);
		rc = spiffe_json_parse(&j, in, 3, &eb);
		CHECK_INT(rc, c >= 0x20 && c < 0x80 && c != '"' && c != '\\' ?
			  0 : SPIFFE_ERR_JSON);
		rc = spiffe_json_parse(&j, in + 1, 1, &eb);
		CHECK_INT(rc, c >= '0' && c <= '9' ? 0 : SPIFFE_ERR_JSON);
		spiffe_json_free(&j);
	}
}

static char *nested(size_t depth, const char *open, const char *close)
{
	size_t ol = strlen(open), cl = strlen(close);
	char *s = malloc(depth * (ol + cl) + 2), *w = s;

	if (s == NULL)
		abort();
	for (size_t i = 0; i < depth; i++, w += ol)
		memcpy(w, open, ol);
	*w++ = '1';
	for (size_t i = 0; i < depth; i++, w += cl)
		memcpy(w, close, cl);
	*w = '\0';
	return s;
}

TEST(depth_limit)
{
	spiffe_errbuf eb;
	spiffe_json j;
	char *s;

	spiffe_json_init(&j);
	s = nested(SPIFFE_JSON_MAX_DEPTH, "[", "]");
	CHECK_INT(spiffe_json_parse(&j, s, strlen(s), &eb), 0);
	CHECK_INT(j.ntok, SPIFFE_JSON_MAX_DEPTH + 1);
	free(s);
	s = nested(SPIFFE_JSON_MAX_DEPTH + 1, "[", "]");
	CHECK_INT(spiffe_json_parse(&j, s, strlen(s), &eb), SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "nesting deeper than 32 at offset 32");
	free(s);
	s = nested(SPIFFE_JSON_MAX_DEPTH, "{\"a\":", "}");
	CHECK_INT(spiffe_json_parse(&j, s, strlen(s), &eb), 0);
	free(s);
	s = nested(SPIFFE_JSON_MAX_DEPTH + 1, "{\"a\":", "}");
	CHECK_INT(spiffe_json_parse(&j, s, strlen(s), &eb), SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "nesting deeper than 32 at offset 160");
	free(s);
	/* Deep but unclosed input fails on the limit, not the stack. */
	s = nested(100000, "[", "");
	CHECK_INT(spiffe_json_parse(&j, s, strlen(s), &eb), SPIFFE_ERR_LIMIT);
	free(s);
	spiffe_json_free(&j);
}

/* "[0,0,...]" with n elements. */
static char *zeros(size_t n, size_t *len)
{
	char *s = malloc(2 * n + 2), *w = s;

	if (s == NULL)
		abort();
	*w++ = '[';
	for (size_t i = 0; i < n; i++) {
		*w++ = '0';
		*w++ = ',';
	}
	w[-1] = ']';
	*len = (size_t)(w - s);
	return s;
}

TEST(token_limit)
{
	char want[128];
	spiffe_errbuf eb;
	spiffe_json j;
	size_t len;
	char *s;

	spiffe_json_init(&j);
	s = zeros(SPIFFE_JSON_MAX_TOKENS - 1, &len);
	CHECK_INT(spiffe_json_parse(&j, s, len, &eb), 0);
	CHECK_INT(j.ntok, SPIFFE_JSON_MAX_TOKENS);
	CHECK_INT(j.tok[0].count, SPIFFE_JSON_MAX_TOKENS - 1);
	CHECK_INT(j.cap, SPIFFE_JSON_MAX_TOKENS);
	free(s);
	s = zeros(SPIFFE_JSON_MAX_TOKENS, &len);
	CHECK_INT(spiffe_json_parse(&j, s, len, &eb), SPIFFE_ERR_LIMIT);
	snprintf(want, sizeof(want), "more than %d tokens at offset %zu",
		 SPIFFE_JSON_MAX_TOKENS, len - 2);
	CHECK_STR(eb.msg, want);
	CHECK(j.tok == NULL);
	free(s);
}

TEST(member_limit)
{
	size_t cap = 16 * (SPIFFE_JSON_MAX_MEMBERS + 2), n, len = 0;
	char *s = malloc(cap), want[128];
	spiffe_errbuf eb;
	spiffe_json j;

	CHECK(s != NULL);
	spiffe_json_init(&j);
	for (int extra = 0; extra < 2; extra++) {
		n = SPIFFE_JSON_MAX_MEMBERS + (size_t)extra;
		len = 0;
		s[len++] = '{';
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(s + len, cap - len,
						"\"k%zu\":0,", i);
		s[len - 1] = '}';
		if (extra == 0) {
			CHECK_INT(spiffe_json_parse(&j, s, len, &eb), 0);
			CHECK_INT(j.tok[0].count, n);
		} else {
			CHECK_INT(spiffe_json_parse(&j, s, len, &eb),
				  SPIFFE_ERR_LIMIT);
			snprintf(want, sizeof(want), "object has more than "
				 "1024 members at offset %zu",
				 len - strlen("\"k1024\":0}"));
			CHECK_STR(eb.msg, want);
		}
	}
	spiffe_json_free(&j);
	free(s);
}

/* Many escaped names (decoded once, kept while the parse runs). */
TEST(escaped_names)
{
	size_t cap = 64 * 1100, len = 0;
	char *s = malloc(cap), want[128];
	spiffe_errbuf eb;
	spiffe_json j;
	int i;

	CHECK(s != NULL);
	spiffe_json_init(&j);
	s[len++] = '[';
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"{\"\\u006b%d\":[],\"k%d\\u0078\":"
					"{\"\\u00e9\":%d}},", i, i, i);
	s[len - 1] = ']';
	CHECK_INT(spiffe_json_parse(&j, s, len, &eb), 0);
	CHECK_INT(j.tok[0].count, 1000);
	i = spiffe_json_at(&j, 0, 999);
	CHECK(spiffe_json_get(&j, i, "k999") > 0);
	i = spiffe_json_get(&j, i, "k999x");
	CHECK(spiffe_json_get(&j, i, "\xc3\xa9") > 0);

	/* One object: "\u006bN" for N < 1000, then "k500" again. */
	len = 0;
	s[len++] = '{';
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"\"\\u006b%d\":%d,", i, i);
	len += (size_t)snprintf(s + len, cap - len, "\"k500\":0}");
	CHECK_INT(spiffe_json_parse(&j, s, len, &eb), SPIFFE_ERR_JSON);
	snprintf(want, sizeof(want), "duplicate member name \"k500\" at "
		 "offset %zu", len - 9);
	CHECK_STR(eb.msg, want);
	free(s);
}

TEST(input_limit)
{
	size_t max = SPIFFE_JSON_MAX_INPUT;
	char *s = malloc(max + 1);
	spiffe_errbuf eb;
	spiffe_json j;

	CHECK(s != NULL);
	memset(s, ' ', max + 1);
	s[0] = '1';
	spiffe_json_init(&j);
	CHECK_INT(spiffe_json_parse(&j, s, max, &eb), 0);
	CHECK_INT(spiffe_json_parse(&j, s, max + 1, &eb), SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "JSON text is 1048577 bytes, limit 1048576");
	CHECK_INT(spiffe_json_parse(&j, NULL, 1, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_json_parse(NULL, "1", 1, &eb), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_json_parse(&j, "1", 1, NULL), 0);
	CHECK_INT(spiffe_json_parse(&j, "x", 1, NULL), SPIFFE_ERR_JSON);
	spiffe_json_free(&j);
	free(s);
}

static const char doc[] =
	"{\"a\":1,\"b\":{\"c\":[10,[20],{\"d\":30}],\"e\":\"x\"},"
	"\"d\\u0041\":\"tab\\there\",\"nul\":\"a\\u0000b\",\"s\":\"\","
	"\"u\":\"\\u00e9\\ud83d\\ude00\",\"t\":true}";

TEST(get_at_next)
{
	spiffe_errbuf eb;
	spiffe_json j;
	int a, b, c, d;

	spiffe_json_init(&j);
	CHECK_INT(spiffe_json_parse(&j, doc, strlen(doc), &eb), 0);
	CHECK_INT(j.tok[0].type, SPIFFE_JSON_OBJECT);
	CHECK_INT(j.tok[0].count, 7);
	CHECK_INT(j.tok[0].skip, j.ntok);
	a = spiffe_json_get(&j, 0, "a");
	CHECK_INT(a, 2);
	CHECK_INT(j.tok[a].type, SPIFFE_JSON_NUMBER);
	b = spiffe_json_get(&j, 0, "b");
	CHECK_INT(b, 4);
	CHECK_INT(j.tok[b].type, SPIFFE_JSON_OBJECT);
	CHECK_INT(j.tok[b].count, 2);
	c = spiffe_json_get(&j, b, "c");
	CHECK_INT(j.tok[c].type, SPIFFE_JSON_ARRAY);
	CHECK_INT(j.tok[c].count, 3);
	CHECK_INT(spiffe_json_at(&j, c, 0), c + 1);
	CHECK_INT(spiffe_json_at(&j, c, 1), c + 2);
	CHECK_INT(spiffe_json_at(&j, c, 2), c + 4);
	CHECK_INT(spiffe_json_next(&j, c + 2), c + 4);
	d = spiffe_json_get(&j, spiffe_json_at(&j, c, 2), "d");
	CHECK_INT(j.tok[d].type, SPIFFE_JSON_NUMBER);
	CHECK_INT(spiffe_json_at(&j, c, 3), SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_json_get(&j, b, "e"), spiffe_json_next(&j, c) + 1);
	CHECK_INT(spiffe_json_next(&j, b), spiffe_json_get(&j, 0, "dA") - 1);
	CHECK_INT(spiffe_json_get(&j, 0, "t"), (int)j.ntok - 1);
	CHECK_INT(j.tok[j.ntok - 1].type, SPIFFE_JSON_TRUE);
	/* Names compare decoded and whole. */
	CHECK(spiffe_json_get(&j, 0, "dA") > 0);
	CHECK_INT(spiffe_json_get(&j, 0, "d\\u0041"), SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_json_get(&j, 0, "d"), SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_json_get(&j, 0, ""), SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_json_get(&j, 0, "c"), SPIFFE_ERR_NOT_FOUND);
	CHECK_INT(spiffe_json_get(&j, 0, "nu"), SPIFFE_ERR_NOT_FOUND);
	/* Wrong types and indices. */
	CHECK_INT(spiffe_json_get(&j, c, "a"), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_get(&j, a, "a"), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_get(&j, -1, "a"), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_get(&j, (int)j.ntok, "a"), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_at(&j, 0, 0), SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_at(&j, 99999, 0), SPIFFE_ERR_JSON);
	spiffe_json_free(&j);
	CHECK_INT(spiffe_json_get(&j, 0, "a"), SPIFFE_ERR_JSON);
}

TEST(str_and_str_eq)
{
	char out[64];
	spiffe_errbuf eb;
	spiffe_json j;
	size_t n = 99;
	int i;

	spiffe_json_init(&j);
	CHECK_INT(spiffe_json_parse(&j, doc, strlen(doc), &eb), 0);
	i = spiffe_json_get(&j, 0, "dA");
	CHECK_INT(spiffe_json_str(&j, i, out, sizeof(out), &n), 0);
	CHECK_STR(out, "tab\there");
	CHECK_INT(n, 8);
	CHECK_INT(j.tok[i].count, 8);
	CHECK_INT(j.tok[i].escaped, 1);
	CHECK(spiffe_json_str_eq(&j, i, "tab\there", 8));
	CHECK(!spiffe_json_str_eq(&j, i, "tab\there!", 9));
	CHECK(!spiffe_json_str_eq(&j, i, "tab\\there", 9));
	CHECK(!spiffe_json_str_eq(&j, i, "tab\thera", 8));
	/* Exactly enough room, then one byte less. */
	CHECK_INT(spiffe_json_str(&j, i, out, 9, &n), 0);
	CHECK_INT(spiffe_json_str(&j, i, out, 8, &n), SPIFFE_ERR_LIMIT);
	CHECK_INT(n, 0);
	CHECK_INT(spiffe_json_str(&j, i, NULL, 0, NULL), SPIFFE_ERR_LIMIT);

	i = spiffe_json_get(&j, 0, "nul");
	CHECK_INT(spiffe_json_str(&j, i, out, sizeof(out), &n), 0);
	CHECK_INT(n, 3);
	CHECK_MEM(out, "a\0b", 4);
	CHECK(spiffe_json_str_eq(&j, i, "a\0b", 3));
	CHECK(!spiffe_json_str_eq(&j, i, "a", 1));

	i = spiffe_json_get(&j, 0, "u");
	CHECK_INT(spiffe_json_str(&j, i, out, sizeof(out), NULL), 0);
	CHECK_STR(out, "\xc3\xa9\xf0\x9f\x98\x80");
	CHECK(spiffe_json_str_eq(&j, i, "\xc3\xa9\xf0\x9f\x98\x80", 6));

	i = spiffe_json_get(&j, 0, "s");
	CHECK_INT(spiffe_json_str(&j, i, out, 1, &n), 0);
	CHECK_STR(out, "");
	CHECK(spiffe_json_str_eq(&j, i, "", 0));
	CHECK(spiffe_json_str_eq(&j, i, NULL, 0));
	CHECK_INT(j.tok[i].escaped, 0);

	i = spiffe_json_get(&j, spiffe_json_get(&j, 0, "b"), "e");
	CHECK_INT(spiffe_json_str(&j, i, out, sizeof(out), &n), 0);
	CHECK_STR(out, "x");
	CHECK(spiffe_json_str_eq(&j, i, "x", 1));
	CHECK(!spiffe_json_str_eq(&j, i, "y", 1));

	/* Not strings. */
	i = spiffe_json_get(&j, 0, "a");
	CHECK_INT(spiffe_json_str(&j, i, out, sizeof(out), &n),
		  SPIFFE_ERR_JSON);
	CHECK(!spiffe_json_str_eq(&j, i, "1", 1));
	CHECK_INT(spiffe_json_str(&j, -1, out, sizeof(out), &n),
		  SPIFFE_ERR_JSON);
	CHECK(!spiffe_json_str_eq(&j, 1000, "", 0));
	/* A key is a string token too. */
	CHECK(spiffe_json_str_eq(&j, 1, "a", 1));
	spiffe_json_free(&j);
}

/* Parses s and returns token 0's int64 result in *v. */
static int int64_of(const char *s, int64_t *v)
{
	spiffe_json j;
	int rc;

	spiffe_json_init(&j);
	if (spiffe_json_parse(&j, s, strlen(s), NULL) != 0)
		return 100;
	rc = spiffe_json_int64(&j, 0, v);
	spiffe_json_free(&j);
	return rc;
}

static int uint64_of(const char *s, uint64_t *v)
{
	spiffe_json j;
	int rc;

	spiffe_json_init(&j);
	if (spiffe_json_parse(&j, s, strlen(s), NULL) != 0)
		return 100;
	rc = spiffe_json_uint64(&j, 0, v);
	spiffe_json_free(&j);
	return rc;
}

static int date_of(const char *s, int64_t *v)
{
	spiffe_json j;
	int rc;

	spiffe_json_init(&j);
	if (spiffe_json_parse(&j, s, strlen(s), NULL) != 0)
		return 100;
	rc = spiffe_json_numeric_date(&j, 0, v);
	spiffe_json_free(&j);
	return rc;
}

TEST(int64_and_uint64)
{
	int64_t v;
	uint64_t u;

	CHECK_INT(int64_of("0", &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(int64_of("-0", &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(int64_of("42", &v), 0);
	CHECK_INT(v, 42);
	CHECK_INT(int64_of("-42", &v), 0);
	CHECK_INT(v, -42);
	CHECK_INT(int64_of("9223372036854775807", &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_INT(int64_of("-9223372036854775808", &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_INT(int64_of("9223372036854775808", &v), SPIFFE_ERR_LIMIT);
	CHECK_INT(int64_of("-9223372036854775809", &v), SPIFFE_ERR_LIMIT);
	CHECK_INT(int64_of("18446744073709551616", &v), SPIFFE_ERR_LIMIT);
	CHECK_INT(int64_of("99999999999999999999999999999", &v),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(int64_of("1.0", &v), SPIFFE_ERR_JSON);
	CHECK_INT(int64_of("1e3", &v), SPIFFE_ERR_JSON);
	CHECK_INT(int64_of("1E0", &v), SPIFFE_ERR_JSON);
	CHECK_INT(int64_of("\"1\"", &v), SPIFFE_ERR_JSON);
	CHECK_INT(int64_of("true", &v), SPIFFE_ERR_JSON);
	CHECK_INT(int64_of("[1]", &v), SPIFFE_ERR_JSON);

	CHECK_INT(uint64_of("18446744073709551615", &u), 0);
	CHECK(u == UINT64_MAX);
	CHECK_INT(uint64_of("18446744073709551616", &u), SPIFFE_ERR_LIMIT);
	CHECK_INT(uint64_of("18446744073709551620", &u), SPIFFE_ERR_LIMIT);
	CHECK_INT(uint64_of("0", &u), 0);
	CHECK(u == 0);
	CHECK_INT(uint64_of("-0", &u), 0);
	CHECK(u == 0);
	CHECK_INT(uint64_of("-1", &u), SPIFFE_ERR_LIMIT);
	CHECK_INT(uint64_of("1.5", &u), SPIFFE_ERR_JSON);
	CHECK_INT(uint64_of("null", &u), SPIFFE_ERR_JSON);
}

TEST(numeric_date)
{
	static const struct {
		const char *in;
		int rc;
		int64_t v;
	} d[] = {
		{ "1700000000", 0, 1700000000 },
		{ "1700000000.9", 0, 1700000000 },
		{ "1700000000.999999999999999999", 0, 1700000000 },
		{ "-1.9", 0, -1 },
		{ "-0.5", 0, 0 },
		{ "0.5", 0, 0 },
		{ "-0", 0, 0 },
		{ "1.7e9", 0, 1700000000 },
		{ "17E8", 0, 1700000000 },
		{ "1.5e0", 0, 1 },
		{ "123456789e-5", 0, 1234 },
		{ "1e-300", 0, 0 },
		{ "0e999999999999", 0, 0 },
		{ "0.0000000000000000000001e22", 0, 1 },
		{ "100000000000000000000e-20", 0, 1 },
		{ "9007199254740992", 0, 9007199254740992LL },
		{ "-9007199254740992", 0, -9007199254740992LL },
		{ "9007199254740992.0000", 0, 9007199254740992LL },
		{ "9.007199254740992e15", 0, 9007199254740992LL },
		{ "9007199254740991.9", 0, 9007199254740991LL },
		{ "9007199254740993", SPIFFE_ERR_LIMIT, 0 },
		{ "9007199254740992.5", SPIFFE_ERR_LIMIT, 0 },
		{ "9007199254740992.0001", SPIFFE_ERR_LIMIT, 0 },
		{ "-9007199254740993", SPIFFE_ERR_LIMIT, 0 },
		{ "9.007199254740993e15", SPIFFE_ERR_LIMIT, 0 },
		{ "1e16", SPIFFE_ERR_LIMIT, 0 },
		{ "1e300", SPIFFE_ERR_LIMIT, 0 },
		{ "1e99999999999999999999999", SPIFFE_ERR_LIMIT, 0 },
		{ "18446744073709551617", SPIFFE_ERR_LIMIT, 0 },
		{ "\"1700000000\"", SPIFFE_ERR_JSON, 0 },
		{ "null", SPIFFE_ERR_JSON, 0 },
	};

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		int64_t v = 12345;
		int rc = date_of(d[i].in, &v);

		if (rc != d[i].rc || (rc == 0 && v != d[i].v))
			FAILF("case %zu %s: rc %d v %" PRId64, i, d[i].in, rc,
			      v);
	}
}

TEST(quote)
{
	char out[64];
	spiffe_json j;
	size_t n = 99;

	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "abc", 3), 0);
	CHECK_STR(out, "\"abc\"");
	CHECK_INT(n, 5);
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "a\"b\\c/", 6), 0);
	CHECK_STR(out, "\"a\\\"b\\\\c/\"");
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "\n\x01\x1f\0", 4),
		  0);
	CHECK_STR(out, "\"\\u000a\\u0001\\u001f\\u0000\"");
	CHECK_INT(n, 26);
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n,
				    "\xc3\xa9\xf0\x9f\x98\x80\x7f", 7), 0);
	CHECK_STR(out, "\"\xc3\xa9\xf0\x9f\x98\x80\x7f\"");
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "", 0), 0);
	CHECK_STR(out, "\"\"");
	CHECK_INT(spiffe_json_quote(out, 3, &n, NULL, 0), 0);
	CHECK_INT(spiffe_json_quote(out, 2, &n, "", 0), SPIFFE_ERR_LIMIT);
	/* Exactly enough room (quotes, text, NUL), then one byte less. */
	CHECK_INT(spiffe_json_quote(out, 6, &n, "abc", 3), 0);
	strcpy(out, "keep");
	CHECK_INT(spiffe_json_quote(out, 5, &n, "abc", 3), SPIFFE_ERR_LIMIT);
	CHECK_STR(out, "keep");
	CHECK_INT(n, 0);
	CHECK_INT(spiffe_json_quote(out, 9, &n, "\x01", 1), 0);
	CHECK_INT(spiffe_json_quote(out, 8, &n, "\x01", 1), SPIFFE_ERR_LIMIT);
	/* Not UTF-8: rejected, whatever the room. */
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "a\xff", 2),
		  SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_quote(out, 3, &n, "aaaa\xff", 5),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "\xed\xa0\x80", 3),
		  SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, "\xc3", 1),
		  SPIFFE_ERR_JSON);
	CHECK_INT(spiffe_json_quote(NULL, 10, &n, "a", 1), SPIFFE_ERR_ARG);

	/* What quote writes parses back to the same bytes. */
	static const char in[] = "x\"\\\b\f\n\r\t\x01\x7f\xc3\xa9";
	char back[64];

	CHECK_INT(spiffe_json_quote(out, sizeof(out), &n, in,
				    sizeof(in) - 1), 0);
	spiffe_json_init(&j);
	CHECK_INT(spiffe_json_parse(&j, out, n, NULL), 0);
	CHECK_INT(spiffe_json_str(&j, 0, back, sizeof(back), &n), 0);
	CHECK_INT(n, sizeof(in) - 1);
	CHECK_MEM(back, in, n);
	spiffe_json_free(&j);
}

int main(void)
{
	RUN(accept_reject_table);
	RUN(every_byte);
	RUN(depth_limit);
	RUN(token_limit);
	RUN(member_limit);
	RUN(escaped_names);
	RUN(input_limit);
	RUN(get_at_next);
	RUN(str_and_str_eq);
	RUN(int64_and_uint64);
	RUN(numeric_date);
	RUN(quote);
	return test_summary();
}
