#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* First capacity of the token array; it doubles up to the limit. */
#define FIRST_CAP 16

/* Bytes of a member name shown in a duplicate-name message. */
#define SHOW_MAX 32

struct parser {
	spiffe_json *j;
	const unsigned char *s;
	size_t len;
	size_t pos;
	spiffe_errbuf *eb;
	size_t depth;
	uint32_t stack[SPIFFE_JSON_MAX_DEPTH];  /* open containers */
	char *names;            /* escaped member names, decoded */
	size_t names_len, names_cap;
	uint32_t *name_at;      /* token index -> offset in names */
	size_t name_at_cap;
};

enum state { ST_VALUE, ST_AFTER, ST_KEY };

void spiffe_json_init(spiffe_json *j)
{
	memset(j, 0, sizeof(*j));
}

void spiffe_json_free(spiffe_json *j)
{
	if (j == NULL)
		return;
	free(j->tok);
	memset(j, 0, sizeof(*j));
}

static int bad(struct parser *p, size_t at, const char *why)
{
	return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "%s at offset %zu", why,
			   at);
}

/* "expected <what> but found <the byte at pos>". */
static int expected(struct parser *p, const char *what)
{
	unsigned char c;

	if (p->pos >= p->len)
		return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "expected %s but "
				   "found end of input at offset %zu", what,
				   p->pos);
	c = p->s[p->pos];
	if (c > 0x20 && c < 0x7f && c != '\'' && c != '"' && c != '\\')
		return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "expected %s but "
				   "found '%c' at offset %zu", what, c,
				   p->pos);
	return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "expected %s but found "
			   "byte 0x%02x at offset %zu", what, c, p->pos);
}

static int add_tok(struct parser *p, int type, size_t start, uint32_t *idx)
{
	spiffe_json *j = p->j;
	spiffe_json_tok *t;

	if (j->ntok == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : FIRST_CAP;

		if (j->cap >= SPIFFE_JSON_MAX_TOKENS)
			return spiffe_fail(p->eb, SPIFFE_ERR_LIMIT,
					   "more than %d tokens at offset %zu",
					   SPIFFE_JSON_MAX_TOKENS, start);
		if (cap > SPIFFE_JSON_MAX_TOKENS)
			cap = SPIFFE_JSON_MAX_TOKENS;
		t = realloc(j->tok, cap * sizeof(*t));
		if (t == NULL)
			return spiffe_fail(p->eb, SPIFFE_ERR_NOMEM,
					   "out of memory for %zu tokens",
					   cap);
		j->tok = t;
		j->cap = cap;
	}
	t = &j->tok[j->ntok];
	memset(t, 0, sizeof(*t));
	t->type = (uint8_t)type;
	t->start = (uint32_t)start;
	t->end = (uint32_t)start + 1;
	t->skip = 1;
	*idx = (uint32_t)j->ntok++;
	return 0;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The XXXX of "\uXXXX" at s[i..n), or -1 if short or not hex. */
static long hex4(const unsigned char *s, size_t i, size_t n)
{
	long v = 0;

	if (n < i || n - i < 6 || s[i] != '\\' || s[i + 1] != 'u')
		return -1;
	for (size_t k = 2; k < 6; k++) {
		int h = hexval(s[i + k]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

static size_t utf8_len(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/*
 * Scans the string at p->pos (a '"'): escapes, surrogate pairs, UTF-8,
 * no control characters.  The token gets the decoded length in count.
 */
static int scan_string(struct parser *p, uint32_t *idx)
{
	const unsigned char *s = p->s;
	size_t open = p->pos, i = open + 1, n = 0;
	const char *why;
	int esc = 0, rc;

	for (;;) {
		unsigned char c;

		if (i >= p->len)
			return bad(p, open, "unterminated string starting");
		c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			long cp, lo;

			esc = 1;
			if (i + 1 >= p->len)
				return bad(p, open,
					   "unterminated string starting");
			switch (s[i + 1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				n++;
				i += 2;
				continue;
			case 'u':
				break;
			default:
				return bad(p, i, "invalid escape");
			}
			cp = hex4(s, i, p->len);
			if (cp < 0)
				return bad(p, i, "invalid \\u escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return bad(p, i, "unpaired low surrogate in "
					   "\\u escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 7 < p->len && s[i + 6] == '\\' &&
				    s[i + 7] == 'u') {
					lo = hex4(s, i + 6, p->len);
					if (lo < 0)
						return bad(p, i + 6, "invalid "
							   "\\u escape");
				} else {
					lo = -1;
				}
				if (lo < 0xdc00 || lo > 0xdfff)
					return bad(p, i, "unpaired high "
						   "surrogate in \\u escape");
				n += 4;
				i += 12;
				continue;
			}
			n += utf8_len((uint32_t)cp);
			i += 6;
			continue;
		}
		if (c < 0x20) {
			return spiffe_fail(p->eb, SPIFFE_ERR_JSON,
					   "control character 0x%02x in "
					   "string at offset %zu", c, i);
		}
		if (c < 0x80) {
			n++;
			i++;
			continue;
		}
		size_t k = spiffe_utf8_seq(s + i, p->len - i, &why);
		if (k == 0)
			return spiffe_fail(p->eb, SPIFFE_ERR_JSON,
					   "invalid UTF-8 (%s) at offset %zu",
					   why, i);
		n += k;
		i += k;
	}
	rc = add_tok(p, SPIFFE_JSON_STRING, open + 1, idx);
	if (rc != 0)
		return rc;
	p->j->tok[*idx].end = (uint32_t)i;
	p->j->tok[*idx].escaped = (uint8_t)esc;
	p->j->tok[*idx].count = (uint32_t)n;
	p->pos = i + 1;
	return 0;
}

static int is_digit(const struct parser *p, size_t i)
{
	return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at p->pos. */
static int scan_number(struct parser *p)
{
	size_t i = p->pos;
	uint32_t idx;
	int rc;

	if (p->s[i] == '-') {
		i++;
		if (!is_digit(p, i))
			return bad(p, i, "expected digit after '-'");
	}
	if (p->s[i] == '0') {
		i++;
		if (is_digit(p, i))
			return bad(p, i - 1, "leading zero in number");
	} else {
		while (is_digit(p, i))
			i++;
	}
	if (i < p->len && p->s[i] == '.') {
		i++;
		if (!is_digit(p, i))
			return bad(p, i, "expected digit after '.'");
		while (is_digit(p, i))
			i++;
	}
	if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
		i++;
		if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
			i++;
		if (!is_digit(p, i))
			return bad(p, i, "expected digit in exponent");
		while (is_digit(p, i))
			i++;
	}
	rc = add_tok(p, SPIFFE_JSON_NUMBER, p->pos, &idx);
	if (rc != 0)
		return rc;
	p->j->tok[idx].end = (uint32_t)i;
	p->pos = i;
	return 0;
}

static int scan_literal(struct parser *p, const char *word, int type)
{
	size_t n = strlen(word);
	uint32_t idx;
	int rc;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "invalid literal "
				   "(expected %s) at offset %zu", word,
				   p->pos);
	rc = add_tok(p, type, p->pos, &idx);
	if (rc != 0)
		return rc;
	p->j->tok[idx].end = (uint32_t)(p->pos + n);
	p->pos += n;
	return 0;
}

/* A value ended: count it in the container it is in. */
static void value_done(struct parser *p)
{
	if (p->depth > 0)
		p->j->tok[p->stack[p->depth - 1]].count++;
}

/* Closes the innermost container at p->pos (its '}' or ']'). */
static void close_container(struct parser *p)
{
	uint32_t top = p->stack[--p->depth];
	spiffe_json_tok *t = &p->j->tok[top];

	t->end = (uint32_t)(p->pos + 1);
	t->skip = (uint32_t)(p->j->ntok - top);
	p->pos++;
	value_done(p);
}

static void show_name(char *out, const spiffe_json *j, int i);

/*
 * Decodes escaped member name key once into p->names, so that the
 * duplicate check below is a memcmp.  (Comparing through the decoder
 * made an object of 1024 long escaped names take seconds.)
 */
static int keep_name(struct parser *p, uint32_t key)
{
	size_t n = p->j->tok[key].count, got, cap;
	uint32_t *at;
	char *b;

	if (p->name_at_cap < p->j->cap) {
		at = realloc(p->name_at, p->j->cap * sizeof(*at));
		if (at == NULL)
			return spiffe_fail(p->eb, SPIFFE_ERR_NOMEM,
					   "out of memory for member names");
		p->name_at = at;
		p->name_at_cap = p->j->cap;
	}
	/* names_len + n + 1 <= len + 1: no overflow. */
	if (p->names_cap - p->names_len < n + 1) {
		cap = p->names_cap ? p->names_cap : 256;
		while (cap - p->names_len < n + 1)
			cap *= 2;
		b = realloc(p->names, cap);
		if (b == NULL)
			return spiffe_fail(p->eb, SPIFFE_ERR_NOMEM,
					   "out of memory for member names");
		p->names = b;
		p->names_cap = cap;
	}
	if (spiffe_json_str(p->j, (int)key, p->names + p->names_len, n + 1,
			    &got) != 0 || got != n)
		return spiffe_fail(p->eb, SPIFFE_ERR_JSON, "internal error "
				   "decoding member name");
	p->name_at[key] = (uint32_t)p->names_len;
	p->names_len += n;
	return 0;
}

static const char *name_of(const struct parser *p, uint32_t k)
{
	const spiffe_json_tok *t = &p->j->tok[k];

	if (t->escaped)
		return p->names + p->name_at[k];
	return p->j->text + t->start;
}

/*
 * Rejects key token key if an earlier member of obj has the same
 * decoded name: O(members^2) memcmp, bounded by SPIFFE_JSON_MAX_MEMBERS.
 */
static int check_dup(struct parser *p, uint32_t obj, uint32_t key)
{
	const spiffe_json_tok *t = p->j->tok;
	const char *name = name_of(p, key);
	uint32_t k = obj + 1, n = t[key].count;

	for (uint32_t m = 0; m < t[obj].count; m++) {
		if (t[k].count == n && memcmp(name_of(p, k), name, n) == 0) {
			char shown[SHOW_MAX * 4 + 6];

			show_name(shown, p->j, (int)key);
			return spiffe_fail(p->eb, SPIFFE_ERR_JSON,
					   "duplicate member name %s at "
					   "offset %u", shown,
					   (unsigned)t[key].start - 1);
		}
		k++;
		k += t[k].skip;
	}
	return 0;
}

static int scan_key(struct parser *p)
{
	uint32_t obj = p->stack[p->depth - 1], key;
	int rc;

	if (p->pos >= p->len || p->s[p->pos] != '"')
		return expected(p, "a member name");
	if (p->j->tok[obj].count >= SPIFFE_JSON_MAX_MEMBERS)
		return spiffe_fail(p->eb, SPIFFE_ERR_LIMIT, "object has more "
				   "than %d members at offset %zu",
				   SPIFFE_JSON_MAX_MEMBERS, p->pos);
	rc = scan_string(p, &key);
	if (rc == 0 && p->j->tok[key].escaped)
		rc = keep_name(p, key);
	if (rc != 0)
		return rc;
	rc = check_dup(p, obj, key);
	if (rc != 0)
		return rc;
	skip_ws(p);
	if (p->pos >= p->len || p->s[p->pos] != ':')
		return expected(p, "':'");
	p->pos++;
	return 0;
}

/* Opens an array or object at p->pos. */
static int open_container(struct parser *p, int type)
{
	uint32_t idx;
	int rc;

	if (p->depth == SPIFFE_JSON_MAX_DEPTH)
		return spiffe_fail(p->eb, SPIFFE_ERR_LIMIT, "nesting deeper "
				   "than %d at offset %zu",
				   SPIFFE_JSON_MAX_DEPTH, p->pos);
	rc = add_tok(p, type, p->pos, &idx);
	if (rc != 0)
		return rc;
	p->stack[p->depth++] = idx;
	p->pos++;
	return 0;
}

/* The grammar, iteratively: containers live on p->stack. */
static int parse(struct parser *p)
{
	enum state st = ST_VALUE;
	int rc;

	for (;;) {
		unsigned char c;
		int obj;

		skip_ws(p);
		switch (st) {
		case ST_KEY:
			rc = scan_key(p);
			if (rc != 0)
				return rc;
			st = ST_VALUE;
			continue;
		case ST_VALUE:
			if (p->pos >= p->len)
				return expected(p, "a value");
			c = p->s[p->pos];
			if (c == '{' || c == '[') {
				rc = open_container(p, c == '{' ?
						    SPIFFE_JSON_OBJECT :
						    SPIFFE_JSON_ARRAY);
				if (rc != 0)
					return rc;
				skip_ws(p);
				if (p->pos < p->len &&
				    p->s[p->pos] == (c == '{' ? '}' : ']')) {
					close_container(p);
					st = ST_AFTER;
				} else {
					st = c == '{' ? ST_KEY : ST_VALUE;
				}
				continue;
			}
			if (c == '"') {
				uint32_t idx;

				rc = scan_string(p, &idx);
			} else if (c == '-' || (c >= '0' && c <= '9')) {
				rc = scan_number(p);
			} else if (c == 't') {
				rc = scan_literal(p, "true", SPIFFE_JSON_TRUE);
			} else if (c == 'f') {
				rc = scan_literal(p, "false",
						  SPIFFE_JSON_FALSE);
			} else if (c == 'n') {
				rc = scan_literal(p, "null", SPIFFE_JSON_NULL);
			} else {
				return expected(p, "a value");
			}
			if (rc != 0)
				return rc;
			value_done(p);
			st = ST_AFTER;
			continue;
		case ST_AFTER:
			if (p->depth == 0) {
				if (p->pos != p->len)
					return expected(p, "end of input");
				return 0;
			}
			obj = p->j->tok[p->stack[p->depth - 1]].type ==
			      SPIFFE_JSON_OBJECT;
			if (p->pos < p->len && p->s[p->pos] == ',') {
				p->pos++;
				st = obj ? ST_KEY : ST_VALUE;
				continue;
			}
			if (p->pos < p->len &&
			    p->s[p->pos] == (obj ? '}' : ']')) {
				close_container(p);
				continue;
			}
			return expected(p, obj ? "',' or '}'" : "',' or ']'");
		}
	}
}

int spiffe_json_parse(spiffe_json *j, const char *text, size_t len,
		      spiffe_errbuf *eb)
{
	struct parser p;
	int rc;

	if (j == NULL || (text == NULL && len != 0))
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "spiffe_json_parse: NULL argument");
	j->ntok = 0;
	j->text = NULL;
	j->len = 0;
	if (len > SPIFFE_JSON_MAX_INPUT) {
		spiffe_json_free(j);
		return spiffe_fail(eb, SPIFFE_ERR_LIMIT, "JSON text is %zu "
				   "bytes, limit %u", len,
				   (unsigned)SPIFFE_JSON_MAX_INPUT);
	}
	/* Member-name comparison during the parse reads j->text. */
	j->text = text;
	j->len = len;
	memset(&p, 0, sizeof(p));
	p.j = j;
	p.s = (const unsigned char *)text;
	p.len = len;
	p.eb = eb;
	rc = parse(&p);
	free(p.names);
	free(p.name_at);
	if (rc != 0)
		spiffe_json_free(j);
	return rc;
}

/* Token i if it exists and has type type (0: any), else NULL. */
static const spiffe_json_tok *tok_at(const spiffe_json *j, int i, int type)
{
	if (j == NULL || j->tok == NULL || i < 0 || (size_t)i >= j->ntok)
		return NULL;
	if (type != 0 && j->tok[i].type != type)
		return NULL;
	return &j->tok[i];
}

/*
 * Decodes the escape at *pp (a backslash) into b, returns its length
 * and moves *pp past it.  The parser has validated the text; the bounds
 * are checked again so that a changed text cannot make us overrun.
 */
static size_t decode_escape(const unsigned char **pp,
			    const unsigned char *end, uint8_t b[4])
{
	const unsigned char *s = *pp;
	size_t n = (size_t)(end - s);
	long cp, lo;

	if (n < 2) {
		*pp = end;
		return 0;
	}
	switch (s[1]) {
	case 'b': b[0] = '\b'; break;
	case 'f': b[0] = '\f'; break;
	case 'n': b[0] = '\n'; break;
	case 'r': b[0] = '\r'; break;
	case 't': b[0] = '\t'; break;
	case 'u': goto unicode;
	default: b[0] = s[1]; break;
	}
	*pp = s + 2;
	return 1;
unicode:
	cp = hex4(s, 0, n);
	if (cp < 0) {
		*pp = end;
		return 0;
	}
	*pp = s + 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		lo = hex4(s, 6, n);
		if (lo < 0xdc00 || lo > 0xdfff) {
			*pp = end;
			return 0;
		}
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*pp = s + 12;
	}
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	b[0] = (uint8_t)(0xf0 | cp >> 18);
	b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
	b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
	b[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

/* Yields the decoded bytes of a string token one at a time. */
struct decoder {
	const unsigned char *p, *end;
	uint8_t b[4];
	size_t n, i;
};

static void dec_init(struct decoder *d, const spiffe_json *j,
		     const spiffe_json_tok *t)
{
	d->p = (const unsigned char *)j->text + t->start;
	d->end = (const unsigned char *)j->text + t->end;
	d->n = d->i = 0;
}

/* The next decoded byte, or -1 at the end. */
static int dec_next(struct decoder *d)
{
	while (d->i == d->n) {
		if (d->p >= d->end)
			return -1;
		if (*d->p != '\\')
			return *d->p++;
		d->n = decode_escape(&d->p, d->end, d->b);
		d->i = 0;
	}
	return d->b[d->i++];
}

/*
 * String token i decoded, quoted and escaped (non-printables as \xHH),
 * at most SHOW_MAX decoded bytes, for messages.
 */
static void show_name(char *out, const spiffe_json *j, int i)
{
	static const char hex[] = "0123456789abcdef";
	struct decoder d;
	size_t n = 0;
	int c;

	dec_init(&d, j, &j->tok[i]);
	*out++ = '"';
	while ((c = dec_next(&d)) >= 0) {
		if (n++ == SHOW_MAX)
			break;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			*out++ = (char)c;
		} else {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	*out++ = '"';
	if (c >= 0) {
		memcpy(out, "...", 3);
		out += 3;
	}
	*out = '\0';
}

int spiffe_json_str_eq(const spiffe_json *j, int i, const char *s,
		       size_t slen)
{
	const spiffe_json_tok *t = tok_at(j, i, SPIFFE_JSON_STRING);
	struct decoder d;
	size_t k;
	int c;

	if (t == NULL || (s == NULL && slen != 0) || t->count != slen)
		return 0;
	if (!t->escaped)
		return slen == 0 || memcmp(j->text + t->start, s, slen) == 0;
	dec_init(&d, j, t);
	for (k = 0; (c = dec_next(&d)) >= 0; k++) {
		if (k >= slen || (unsigned char)s[k] != c)
			return 0;
	}
	return k == slen;
}

int spiffe_json_str(const spiffe_json *j, int i, char *out, size_t cap,
		    size_t *len)
{
	const spiffe_json_tok *t = tok_at(j, i, SPIFFE_JSON_STRING);
	struct decoder d;
	size_t k = 0;
	int c;

	if (len != NULL)
		*len = 0;
	if (t == NULL)
		return SPIFFE_ERR_JSON;
	if (out == NULL || cap == 0 || t->count > cap - 1)
		return SPIFFE_ERR_LIMIT;
	dec_init(&d, j, t);
	while ((c = dec_next(&d)) >= 0) {
		if (k >= cap - 1)
			return SPIFFE_ERR_LIMIT;
		out[k++] = (char)c;
	}
	out[k] = '\0';
	if (len != NULL)
		*len = k;
	return 0;
}

int spiffe_json_get(const spiffe_json *j, int obj, const char *key)
{
	const spiffe_json_tok *t = tok_at(j, obj, SPIFFE_JSON_OBJECT);
	size_t klen;
	int k;

	if (t == NULL || key == NULL)
		return SPIFFE_ERR_JSON;
	klen = strlen(key);
	k = obj + 1;
	for (uint32_t m = 0; m < t->count; m++) {
		if (spiffe_json_str_eq(j, k, key, klen))
			return k + 1;
		k = spiffe_json_next(j, k + 1);
	}
	return SPIFFE_ERR_NOT_FOUND;
}

int spiffe_json_at(const spiffe_json *j, int arr, size_t n)
{
	const spiffe_json_tok *t = tok_at(j, arr, SPIFFE_JSON_ARRAY);
	int k;

	if (t == NULL)
		return SPIFFE_ERR_JSON;
	if (n >= t->count)
		return SPIFFE_ERR_NOT_FOUND;
	k = arr + 1;
	for (size_t m = 0; m < n; m++)
		k = spiffe_json_next(j, k);
	return k;
}

/*
 * Splits number token t into sign, integer digits [*ip, *ie), fraction
 * digits [*fp, *fe) and the exponent clamped to +-EXP_CLAMP.
 */
#define EXP_CLAMP 100000000L

struct num {
	int neg;
	const char *ip, *ie, *fp, *fe;
	long exp;
};

static int split_number(const spiffe_json *j, const spiffe_json_tok *t,
			struct num *n)
{
	const char *s = j->text + t->start, *e = j->text + t->end;
	int eneg = 0;

	memset(n, 0, sizeof(*n));
	if (s < e && *s == '-') {
		n->neg = 1;
		s++;
	}
	n->ip = s;
	while (s < e && *s >= '0' && *s <= '9')
		s++;
	n->ie = s;
	if (n->ip == n->ie)
		return SPIFFE_ERR_JSON;
	n->fp = n->fe = s;
	if (s < e && *s == '.') {
		n->fp = ++s;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
		n->fe = s;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < e && (*s == '+' || *s == '-'))
			eneg = *s++ == '-';
		while (s < e && *s >= '0' && *s <= '9') {
			if (n->exp < EXP_CLAMP)
				n->exp = n->exp * 10 + (*s - '0');
			s++;
		}
		if (eneg)
			n->exp = -n->exp;
	}
	return s == e ? 0 : SPIFFE_ERR_JSON;
}

/* An integer token's sign and magnitude; LIMIT past UINT64_MAX. */
static int int_parts(const spiffe_json *j, int i, int *neg, uint64_t *mag)
{
	const spiffe_json_tok *t = tok_at(j, i, SPIFFE_JSON_NUMBER);
	struct num n;
	uint64_t v = 0;

	if (t == NULL || split_number(j, t, &n) != 0)
		return SPIFFE_ERR_JSON;
	if (n.fp != n.ie || n.ie != j->text + t->end)
		return SPIFFE_ERR_JSON;         /* fraction or exponent */
	for (const char *s = n.ip; s < n.ie; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return SPIFFE_ERR_LIMIT;
		v = v * 10 + d;
	}
	*neg = n.neg;
	*mag = v;
	return 0;
}

int spiffe_json_int64(const spiffe_json *j, int i, int64_t *v)
{
	uint64_t mag;
	int neg, rc;

	rc = int_parts(j, i, &neg, &mag);
	if (rc != 0)
		return rc;
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return SPIFFE_ERR_LIMIT;
		*v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		     -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return SPIFFE_ERR_LIMIT;
		*v = (int64_t)mag;
	}
	return 0;
}

int spiffe_json_uint64(const spiffe_json *j, int i, uint64_t *v)
{
	uint64_t mag;
	int neg, rc;

	rc = int_parts(j, i, &neg, &mag);
	if (rc != 0)
		return rc;
	if (neg && mag != 0)
		return SPIFFE_ERR_LIMIT;
	*v = mag;
	return 0;
}

/*
 * Exact: the digits d1 d2 ... (integer then fraction) with the decimal
 * point after k = (integer digits) + exp of them; the whole part is the
 * first k digits (zero-padded when k is past the end).  Stops as soon as
 * the value passes 2^53, so a huge exponent costs nothing.
 */
int spiffe_json_numeric_date(const spiffe_json *j, int i, int64_t *v)
{
	const spiffe_json_tok *t = tok_at(j, i, SPIFFE_JSON_NUMBER);
	const uint64_t max = (uint64_t)1 << 53;
	size_t ni, nf;
	uint64_t w = 0;
	struct num n;
	long k, d;
	int nonzero = 0;

	if (t == NULL || split_number(j, t, &n) != 0)
		return SPIFFE_ERR_JSON;
	ni = (size_t)(n.ie - n.ip);
	nf = (size_t)(n.fe - n.fp);
	/* ni + nf <= SPIFFE_JSON_MAX_INPUT, far below EXP_CLAMP. */
	k = (long)ni + n.exp;
	for (d = 0; d < k; d++) {
		char c;

		if ((size_t)d < ni)
			c = n.ip[d];
		else if ((size_t)d < ni + nf)
			c = n.fp[d - (long)ni];
		else
			c = '0';
		if (w == 0 && c == '0' && (size_t)d >= ni + nf)
			break;          /* only zeros left: w stays 0 */
		w = w * 10 + (uint64_t)(c - '0');
		if (w > max)
			return SPIFFE_ERR_LIMIT;
	}
	if (w == max) {
		/* Exactly 2^53 is allowed; anything after it is not. */
		for (d = k < 0 ? 0 : k; (size_t)d < ni + nf; d++) {
			char c = (size_t)d < ni ? n.ip[d] :
				 n.fp[d - (long)ni];

			if (c != '0')
				nonzero = 1;
		}
		if (nonzero)
			return SPIFFE_ERR_LIMIT;
	}
	*v = n.neg ? -(int64_t)w : (int64_t)w;
	return 0;
}

/* Bytes that c takes inside a quoted string (1, 2 or 6). */
static size_t quoted_len(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c < 0x20 ? 6 : 1;
}

/* Checks the UTF-8 and sizes the output first, so out is all or none. */
int spiffe_json_quote(char *out, size_t cap, size_t *outlen, const char *s,
		      size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	const char *why;
	size_t need = 2, w = 0, i, k;

	if (outlen != NULL)
		*outlen = 0;
	if (out == NULL || (s == NULL && len != 0))
		return SPIFFE_ERR_ARG;
	/* need <= 2 + 6 * len; len is bounded by the caller's memory. */
	for (i = 0; i < len; i += k) {
		k = 1;
		if (u[i] >= 0x80) {
			k = spiffe_utf8_seq(u + i, len - i, &why);
			if (k == 0)
				return SPIFFE_ERR_JSON;
			need += k;
		} else {
			need += quoted_len(u[i]);
		}
		if (need >= cap)
			return SPIFFE_ERR_LIMIT;
	}
	if (need >= cap)
		return SPIFFE_ERR_LIMIT;
	out[w++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = u[i];

		switch (quoted_len(c)) {
		case 2:
			out[w++] = '\\';
			out[w++] = (char)c;
			break;
		case 6:
			memcpy(out + w, "\\u00", 4);
			out[w + 4] = hex[c >> 4];
			out[w + 5] = hex[c & 15];
			w += 6;
			break;
		default:
			out[w++] = (char)c;
			break;
		}
	}
	out[w++] = '"';
	out[w] = '\0';
	if (outlen != NULL)
		*outlen = w;
	return 0;
}
