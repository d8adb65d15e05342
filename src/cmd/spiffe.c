/*
 * spiffe.c - the `spiffe` command: the SPIFFE Workload API from the
 * command line (flags and output modelled on `spire-agent api`) and
 * offline checks of SPIFFE IDs, JWT-SVIDs, X.509-SVIDs and bundles.
 *
 * Exit status: 0 success; 1 the thing checked is invalid, or the agent
 * refused (a gRPC status); 2 a usage or I/O error (bad flags, unreadable
 * file, unusable bundle file, endpoint unreachable).  An error is one
 * line on stderr, "spiffe: ...".  Output is held until the command has
 * succeeded, so a failure leaves stdout empty (jwt inspect still shows
 * what it could decode; watch prints as updates come).
 *
 * Test hook: SPIFFE_TEST_NOW=<Unix seconds> fixes the clock of the
 * offline commands, for the fixed-time vectors in test/data/; a warning
 * on stderr says it is in effect.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "spiffe.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

/* ---- every flag of every command ---------------------------------------- */

static struct opts {
	const char *socket;
	int64_t timeout;        /* nanoseconds */
	const char *write_dir;
	int silent;
	const char *spiffe_id;
	const char *aud1;       /* api validate jwt: one audience */
	const char *svid;
	const char *output;
	const char *token;
	spiffe_cli_list audience;
	const char *bundle;
	const char *format;
	const char *trust_domain;
	const char *chain;
	const char *id;
	const char *member_of;
	int json;               /* -output json */
} o;

/* Where a command writes: a memory stream, copied to stdout on success. */
static FILE *out;

/* ---- text that came from outside ---------------------------------------- */

/*
 * Writes p[0..len) for a terminal: C0 and C1 controls, DEL and bytes
 * that are not UTF-8 become \xNN, so no input can drive the terminal.
 */
static void put_safe(FILE *f, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;

	for (size_t i = 0; i < len;) {
		size_t n = spiffe_utf8_seq(u + i, len - i, NULL);

		if ((n == 1 && u[i] >= 0x20 && u[i] != 0x7f) ||
		    (n > 1 && !(u[i] == 0xc2 && u[i + 1] < 0xa0))) {
			fwrite(u + i, 1, n, f);
			i += n;
		} else {
			fprintf(f, "\\x%02x", u[i]);
			i++;
		}
	}
}

/* Prints "spiffe: <message>" as one safe line on stderr. */
static void SPIFFE_PRINTF(1, 2) errline(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	fputs("spiffe: ", stderr);
	put_safe(stderr, buf, (size_t)n);
	fputc('\n', stderr);
}

/*
 * Writes s[0..len) as a JSON string.  Bytes that are not UTF-8 (a hint
 * may hold any) become U+FFFD, so the output is always valid JSON.
 */
static void json_str(FILE *f, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *fixed, *q;
	size_t n = 0, qlen;

	if (len > SIZE_MAX / 6 - 3 || (fixed = malloc(len * 3 + 1)) == NULL)
		goto nomem;
	for (size_t i = 0; i < len;) {
		size_t k = spiffe_utf8_seq(u + i, len - i, NULL);

		if (k == 0) {
			memcpy(fixed + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		} else {
			memcpy(fixed + n, u + i, k);
			n += k;
			i += k;
		}
	}
	if ((q = malloc(n * 6 + 3)) == NULL) {
		free(fixed);
		goto nomem;
	}
	if (spiffe_json_quote(q, n * 6 + 3, &qlen, fixed, n) == 0)
		fwrite(q, 1, qlen, f);
	else
		fputs("\"\"", f);       /* unreachable: fixed is UTF-8 */
	free(q);
	free(fixed);
	return;
nomem:
	errline("out of memory");
	exit(EXIT_USAGE);
}

static void json_cstr(FILE *f, const char *s)
{
	json_str(f, s, strlen(s));
}

/* ---- time --------------------------------------------------------------- */

/* "2026-01-01 00:00:00 +0000 UTC", Go's time.Time in UTC, as SPIRE. */
static void put_go_time(FILE *f, const mbedtls_x509_time *t)
{
	fprintf(f, "%04d-%02d-%02d %02d:%02d:%02d +0000 UTC", t->year,
		t->mon, t->day, t->hour, t->min, t->sec);
}

/* "2026-01-01T00:00:00Z" as a JSON string. */
static void json_x509_time(FILE *f, const mbedtls_x509_time *t)
{
	fprintf(f, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"", t->year, t->mon,
		t->day, t->hour, t->min, t->sec);
}

/* Unix seconds as a broken-down UTC time; 0 if out of range. */
static int utc(int64_t secs, struct tm *tm)
{
	time_t t = (time_t)secs;

	if ((int64_t)t != secs || gmtime_r(&t, tm) == NULL ||
	    tm->tm_year > 9999 - 1900 || tm->tm_year < -1900)
		return 0;
	return 1;
}

/* "2026-01-01T00:00:00Z" for Unix seconds, or null. */
static void json_unix_time(FILE *f, int64_t secs)
{
	struct tm tm;

	if (utc(secs, &tm))
		fprintf(f, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		fputs("null", f);
}

/* Go's time format, then the seconds: "... +0000 UTC (1767225600)". */
static void put_unix_time(FILE *f, int64_t secs)
{
	struct tm tm;

	if (utc(secs, &tm))
		fprintf(f, "%04d-%02d-%02d %02d:%02d:%02d +0000 UTC (%lld)",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)secs);
	else
		fprintf(f, "%lld", (long long)secs);
}

/* ---- certificates and keys ---------------------------------------------- */

/* A key's type for people: "EC P-256", "RSA-2048". */
static const char *key_type(const mbedtls_pk_context *pk, char *buf,
			    size_t n)
{
	if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY) {
		mbedtls_ecp_group_id id =
			mbedtls_ecp_keypair_get_group_id(mbedtls_pk_ec(*pk));

		snprintf(buf, n, "EC %s",
			 id == MBEDTLS_ECP_DP_SECP256R1 ? "P-256" :
			 id == MBEDTLS_ECP_DP_SECP384R1 ? "P-384" :
			 id == MBEDTLS_ECP_DP_SECP521R1 ? "P-521" :
			 "(another curve)");
	} else if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_RSA) {
		snprintf(buf, n, "RSA-%zu", mbedtls_pk_get_bitlen(pk));
	} else {
		snprintf(buf, n, "%s", mbedtls_pk_get_name(pk));
	}
	return buf;
}

/* {"subject":..,"serial":..,"not_before":..,"not_after":..} */
static void json_cert(FILE *f, const mbedtls_x509_crt *c)
{
	char dn[1024];
	size_t i = 0;
	int n = mbedtls_x509_dn_gets(dn, sizeof(dn), &c->subject);

	fputs("{\"subject\":", f);
	json_str(f, dn, n > 0 ? (size_t)n : 0);
	/* The serial as lowercase hex without leading zeros, as
	 * `openssl x509 -serial` and Python's "%x" write it. */
	fputs(",\"serial\":\"", f);
	while (i + 1 < c->serial.len && c->serial.p[i] == 0)
		i++;
	for (size_t k = i; k < c->serial.len; k++)
		fprintf(f, k == i ? "%x" : "%02x", c->serial.p[k]);
	fputs("\",\"not_before\":", f);
	json_x509_time(f, &c->valid_from);
	fputs(",\"not_after\":", f);
	json_x509_time(f, &c->valid_to);
	fputc('}', f);
}

/* [CERT,...] for the certificates of a crt list. */
static void json_certs(FILE *f, const mbedtls_x509_crt *list)
{
	fputc('[', f);
	for (const mbedtls_x509_crt *c = list; c != NULL && c->raw.len > 0;
	     c = c->next) {
		if (c != list)
			fputc(',', f);
		json_cert(f, c);
	}
	fputc(']', f);
}

/* "<prefix>CA #n Valid After:\t..." lines, as SPIRE prints a bundle. */
static void put_cas(FILE *f, const char *prefix, const mbedtls_x509_crt *l)
{
	int n = 1;

	for (const mbedtls_x509_crt *c = l; c != NULL && c->raw.len > 0;
	     c = c->next, n++) {
		fprintf(f, "%sCA #%d Valid After:\t", prefix, n);
		put_go_time(f, &c->valid_from);
		fprintf(f, "\n%sCA #%d Valid Until:\t", prefix, n);
		put_go_time(f, &c->valid_to);
		fputc('\n', f);
	}
}

/* ---- input -------------------------------------------------------------- */

/* Reads a file for a flag or argument; exits 2 when it cannot. */
static char *read_input(const char *path, size_t *len)
{
	spiffe_errbuf eb;
	char *buf;

	if (spiffe_cli_read_file(path, SPIFFE_CLI_MAX_FILE, &buf, len,
				 &eb) != 0) {
		errline("%s", eb.msg);
		exit(EXIT_USAGE);
	}
	return buf;
}

/*
 * A token given as an argument is taken as it is; "-" reads standard
 * input, where one final newline (as echo writes) is not part of it.
 */
static char *read_token(const char *arg, size_t *len)
{
	char *t;

	if (strcmp(arg, "-") != 0) {
		*len = strlen(arg);
		if ((t = strdup(arg)) == NULL) {
			errline("out of memory");
			exit(EXIT_USAGE);
		}
		return t;
	}
	t = read_input(arg, len);
	if (*len > 0 && t[*len - 1] == '\n')
		t[--*len] = '\0';
	if (*len > 0 && t[*len - 1] == '\r')
		t[--*len] = '\0';
	return t;
}

/*
 * What a refused token most likely is, for the end of the error line:
 * "" when nothing stands out.  arg is how it was given.
 */
static const char *token_hint(const char *t, size_t len, const char *arg)
{
	static char hint[160];
	size_t i;

	if (len == 0)
		return " (the token is empty)";
	if (len > 7 && strncasecmp(t, "Bearer ", 7) == 0)
		return " (give the token without \"Bearer \")";
	for (i = 0; i < len; i++)
		if (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' ||
		    t[i] == '\r')
			break;
	if (i < len) {
		snprintf(hint, sizeof(hint), " (the token has whitespace at "
			 "byte %zu; give it alone, on one line)", i);
		return hint;
	}
	if (strcmp(arg, "-") != 0 && access(arg, F_OK) == 0)
		return " (this names a file: to read the token from it, give "
		       "- and redirect the file to standard input)";
	return "";
}

/* ---- bundles ------------------------------------------------------------ */

enum { WANT_X509 = 1, WANT_JWT = 2 };

static const struct bundle_format {
	const char *name;       /* -format value */
	const char *title;      /* for people */
	int has;                /* WANT_X509, WANT_JWT */
} formats[] = {
	{ "jwks", "JWKS", WANT_JWT },
	{ "spiffe", "SPIFFE bundle", WANT_X509 | WANT_JWT },
	{ "pem", "PEM certificates", WANT_X509 },
	{ "der", "DER certificates", WANT_X509 },
};

static const struct bundle_format *format_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

/*
 * The SPIFFE bundle format differs from a plain JWKS by spiffe_sequence,
 * spiffe_refresh_hint, or keys whose "use" is x509-svid or jwt-svid (the
 * Workload API's JWKS has no "use").
 */
static int looks_spiffe(const spiffe_json *j)
{
	int keys;

	if (j->tok[0].type != SPIFFE_JSON_OBJECT)
		return 0;
	if (spiffe_json_get(j, 0, "spiffe_sequence") >= 0 ||
	    spiffe_json_get(j, 0, "spiffe_refresh_hint") >= 0)
		return 1;
	keys = spiffe_json_get(j, 0, "keys");
	if (keys < 0 || j->tok[keys].type != SPIFFE_JSON_ARRAY)
		return 0;
	/* Sibling by sibling: spiffe_json_at would make this quadratic. */
	for (int k = keys + 1, i = 0; (uint32_t)i < j->tok[keys].count;
	     k = spiffe_json_next(j, k), i++) {
		int u;

		if (j->tok[k].type != SPIFFE_JSON_OBJECT)
			continue;
		u = spiffe_json_get(j, k, "use");
		if (u >= 0 && (spiffe_json_str_eq(j, u, "x509-svid", 9) ||
			       spiffe_json_str_eq(j, u, "jwt-svid", 8)))
			return 1;
	}
	return 0;
}

/*
 * Tells the format of a bundle file: JSON is a SPIFFE bundle or a JWKS
 * (only a SPIFFE bundle when X.509 authorities are wanted), text with
 * "-----BEGIN " is PEM, anything else DER.
 */
static int detect_format(const char *text, size_t len, int want,
			 const struct bundle_format **fmt, spiffe_errbuf *eb)
{
	size_t i = 0;
	spiffe_json j;
	int rc;

	while (i < len && (text[i] == ' ' || text[i] == '\t' ||
			   text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{') {
		spiffe_json_init(&j);
		rc = spiffe_json_parse(&j, text, len, eb);
		if (rc != 0)
			return spiffe_wrap(eb, rc, "not valid JSON");
		*fmt = format_by_name(want == WANT_X509 || looks_spiffe(&j) ?
				      "spiffe" : "jwks");
		/* A JWKS may have no keys, but JSON without "keys" at all
		 * is more likely some other document. */
		rc = 0;
		if (j.tok[0].type != SPIFFE_JSON_OBJECT)
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE, "not a JWKS or "
					 "a SPIFFE bundle: not a JSON object");
		else if (spiffe_json_get(&j, 0, "keys") < 0)
			rc = spiffe_fail(eb, SPIFFE_ERR_BUNDLE, "not a JWKS or "
					 "a SPIFFE bundle: no \"keys\" member%s",
					 spiffe_json_get(&j, 0, "bundles") >= 0 ?
					 " (for the output of `spiffe api fetch "
					 "jwt-bundles -output json`, take one "
					 "trust domain's value of \"bundles\")" :
					 "");
		spiffe_json_free(&j);
		if (rc != 0)
			return rc;
	} else if (memmem(text, len, "-----BEGIN ", 11) != NULL) {
		*fmt = format_by_name("pem");
	} else {
		*fmt = format_by_name("der");
	}
	return 0;
}

/*
 * Loads text[0..len) in format name ("auto": detected) into b, which
 * must hold want.  Returns 0, SPIFFE_ERR_ARG (a format that cannot hold
 * what is wanted) or the parser's error, with eb saying why.
 */
static int load_bundle(spiffe_bundle *b, const char *text, size_t len,
		       const char *name, int want,
		       const struct bundle_format **used, spiffe_errbuf *eb)
{
	const struct bundle_format *f = NULL;
	int rc;

	if (strcmp(name, "auto") != 0)
		f = format_by_name(name);
	else if ((rc = detect_format(text, len, want, &f, eb)) != 0)
		return rc;
	*used = f;
	if (f == NULL)
		return spiffe_fail(eb, SPIFFE_ERR_ARG, "unknown format");
	if ((f->has & want) == 0)
		return spiffe_fail(eb, SPIFFE_ERR_ARG,
				   "a bundle in %s has no %s authorities",
				   f->title, want == WANT_JWT ? "JWT" :
				   "X.509");
	if (strcmp(f->name, "jwks") == 0)
		return spiffe_bundle_set_jwks(b, text, len, eb);
	if (strcmp(f->name, "spiffe") == 0)
		return spiffe_bundle_parse_spiffe(b, text, len, eb);
	if (strcmp(f->name, "pem") == 0)
		return spiffe_bundle_set_x509_pem(b, text, len, eb);
	return spiffe_bundle_set_x509_der(b, (const uint8_t *)text, len, eb);
}

/* Checks a -format value against the formats a command can use. */
static int check_format(const char *flag, const char *v, int want)
{
	const struct bundle_format *f = format_by_name(v);

	if (strcmp(v, "auto") == 0 || (f != NULL && (f->has & want) != 0))
		return 0;
	errline("invalid value \"%s\" for flag -%s (want auto, %s)", v,
		flag, want == WANT_JWT ? "jwks or spiffe" :
		want == WANT_X509 ? "spiffe, pem or der" :
		"jwks, spiffe, pem or der");
	return EXIT_USAGE;
}

/* Reads and loads the bundle file of -bundle; exits 2 when it cannot. */
static void bundle_file(spiffe_bundle *b, const char *path, int want)
{
	const struct bundle_format *used;
	spiffe_errbuf eb;
	size_t len;
	char *text = read_input(path, &len);
	int rc = load_bundle(b, text, len, o.format, want, &used, &eb);

	free(text);
	if (rc == 0 && (want == WANT_X509 ? b->nx509 : b->njwt) == 0)
		rc = spiffe_fail(&eb, SPIFFE_ERR_BUNDLE, "no %s authorities "
				 "in the %s", want == WANT_X509 ? "X.509" :
				 "JWT", used->title);
	if (rc != 0) {
		errline("bundle %s: %s", path, eb.msg);
		spiffe_bundle_free(b);
		exit(EXIT_USAGE);
	}
}

/* A set holding b (moved) if it has a trust domain, else none. */
static spiffe_bundle_set *bundle_set_of(spiffe_bundle *b)
{
	spiffe_bundle_set *set = spiffe_bundle_set_new();
	spiffe_errbuf eb;

	if (set == NULL) {
		errline("out of memory");
		exit(EXIT_USAGE);
	}
	if (b->td.len > 0 && spiffe_bundle_set_put(set, b, &eb) != 0) {
		errline("%s", eb.msg);
		exit(EXIT_USAGE);
	}
	return set;
}

/* Two flags cannot both read standard input. */
static int one_stdin(const char *a, const char *av, const char *b,
		     const char *bv)
{
	if (strcmp(av, "-") != 0 || strcmp(bv, "-") != 0)
		return 0;
	errline("-%s and -%s cannot both read standard input", a, b);
	return EXIT_USAGE;
}

/* ---- id parse ----------------------------------------------------------- */

static int cmd_id_parse(char **args)
{
	spiffe_errbuf eb;
	spiffe_id id;
	spiffe_td td;
	const char *path;
	size_t plen;

	if (spiffe_id_parse(&id, args[0], strlen(args[0]), &eb) != 0) {
		errline("invalid SPIFFE ID: %s", eb.msg);
		return EXIT_INVALID;
	}
	spiffe_id_td(&id, &td);
	path = spiffe_id_path(&id, &plen);
	if (o.json) {
		fputs("{\"spiffe_id\":", out);
		json_str(out, id.str, id.len);
		fputs(",\"trust_domain\":", out);
		json_str(out, td.name, td.len);
		fputs(",\"path\":", out);
		json_str(out, path, plen);
		fputs("}\n", out);
	} else {
		fprintf(out, "SPIFFE ID:\t%s\nTrust domain:\t%s\n"
			"Path:\t\t%s\n", id.str, td.name,
			plen > 0 ? path : "(none)");
	}
	return 0;
}

/* ---- jwt inspect and validate ------------------------------------------- */

/* Prints what a parsed token says, for people. */
static void put_jwt(FILE *f, const spiffe_jwt_svid *s)
{
	fputs("Header:\t\t", f);
	put_safe(f, s->header.p, s->header.len);
	fputs("\nClaims:\t\t", f);
	put_safe(f, s->claims.p, s->claims.len);
	fprintf(f, "\nSPIFFE ID:\t%s\nAudience:\t", s->id.str);
	for (size_t i = 0; i < s->naud; i++) {
		if (i > 0)
			fputs(", ", f);
		put_safe(f, s->aud[i].p, s->aud[i].len);
	}
	fprintf(f, "\nAlgorithm:\t%s\nKey ID:\t\t",
		spiffe_jwt_alg_name(s->alg));
	if (s->kid.len > 0)
		put_safe(f, s->kid.p, s->kid.len);
	else
		fputs("(none)", f);
	if (s->has_iat) {
		fputs("\nIssued at:\t", f);
		put_unix_time(f, s->iat);
	}
	if (s->has_nbf) {
		fputs("\nNot before:\t", f);
		put_unix_time(f, s->nbf);
	}
	fputs("\nExpires at:\t", f);
	put_unix_time(f, s->exp);
	fputc('\n', f);
}

/*
 * For a token that is not a JWT-SVID: shows each of the first two parts
 * that decodes to JSON, so people can see what is wrong with it.
 */
static void put_jwt_parts(FILE *f, const char *t, size_t len)
{
	static const char *const label[] = { "Header:\t\t", "Claims:\t\t" };
	size_t start = 0;

	for (int part = 0; part < 2 && start <= len; part++) {
		const char *dot = memchr(t + start, '.', len - start);
		size_t end = dot != NULL ? (size_t)(dot - t) : len;
		size_t cap = SPIFFE_B64_DECODED_MAX(end - start), n;
		uint8_t *buf = malloc(cap + 1);
		spiffe_json j;

		spiffe_json_init(&j);
		if (buf != NULL &&
		    spiffe_b64url_decode(buf, cap, &n, t + start,
					 end - start) == 0 &&
		    spiffe_json_parse(&j, (char *)buf, n, NULL) == 0) {
			fputs(label[part], f);
			put_safe(f, (char *)buf, n);
			fputc('\n', f);
		}
		spiffe_json_free(&j);
		free(buf);
		if (dot == NULL)
			break;
		start = end + 1;
	}
}

static int cmd_jwt_inspect(char **args)
{
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	size_t len;
	char *t = read_token(args[0], &len);
	int rc;

	spiffe_jwtsvid_init(&s);
	rc = spiffe_jwtsvid_parse_insecure(&s, t, len, &eb);
	if (rc != 0) {
		if (!o.json)
			put_jwt_parts(out, t, len);
		errline("not a valid JWT-SVID: %s%s", eb.msg,
			token_hint(t, len, args[0]));
		rc = EXIT_INVALID;
	} else if (o.json) {
		fputs("{\"verified\":false,\"spiffe_id\":", out);
		json_str(out, s.id.str, s.id.len);
		fputs(",\"header\":", out);
		fwrite(s.header.p, 1, s.header.len, out);
		fputs(",\"claims\":", out);
		fwrite(s.claims.p, 1, s.claims.len, out);
		fputs("}\n", out);
	} else {
		fputs("NOT VERIFIED: this token's signature, audience and "
		      "times were not checked.\n", out);
		put_jwt(out, &s);
		if (s.exp < spiffe_now())
			fputs("The token has expired.\n", out);
	}
	spiffe_jwtsvid_free(&s);
	free(t);
	return rc;
}

static int cmd_jwt_validate(char **args)
{
	spiffe_bundle_set *set;
	spiffe_jwt_svid s;
	spiffe_bundle b;
	spiffe_errbuf eb;
	spiffe_td td;
	size_t len;
	char *t;
	int rc;

	if (check_format("bundleFormat", o.format, WANT_JWT) != 0 ||
	    one_stdin("token", o.token, "bundle", o.bundle) != 0)
		return EXIT_USAGE;
	memset(&td, 0, sizeof(td));
	if (o.trust_domain != NULL &&
	    spiffe_td_parse(&td, o.trust_domain, strlen(o.trust_domain),
			    &eb) != 0) {
		errline("invalid value for flag -trustDomain: %s", eb.msg);
		return EXIT_USAGE;
	}
	t = read_token(o.token, &len);
	spiffe_jwtsvid_init(&s);
	/* The bundle is that of -trustDomain, else of the token's sub. */
	if (td.len == 0 &&
	    spiffe_jwtsvid_parse_insecure(&s, t, len, NULL) == 0)
		spiffe_id_td(&s.id, &td);
	spiffe_bundle_init(&b, &td);
	bundle_file(&b, o.bundle, WANT_JWT);
	set = bundle_set_of(&b);
	rc = spiffe_jwtsvid_parse_and_validate(&s, t, len, set, o.audience.v,
					       o.audience.n, NULL, &eb);
	if (rc != 0) {
		errline("JWT-SVID is not valid: %s%s", eb.msg,
			token_hint(t, len, o.token));
		rc = rc == SPIFFE_ERR_NOMEM ? EXIT_USAGE : EXIT_INVALID;
	} else if (o.json) {
		fputs("{\"spiffe_id\":", out);
		json_str(out, s.id.str, s.id.len);
		fputs(",\"header\":", out);
		fwrite(s.header.p, 1, s.header.len, out);
		fputs(",\"claims\":", out);
		fwrite(s.claims.p, 1, s.claims.len, out);
		fputs("}\n", out);
	} else {
		fprintf(out, "%s\n", s.id.str);
	}
	spiffe_bundle_set_unref(set);
	spiffe_bundle_free(&b);
	spiffe_jwtsvid_free(&s);
	free(t);
	return rc;
}

/* ---- x509 verify -------------------------------------------------------- */

static int cmd_x509_verify(char **args)
{
	mbedtls_x509_crt chain;
	spiffe_x509_verified vc;
	spiffe_bundle_set *set;
	spiffe_bundle b;
	spiffe_errbuf eb;
	spiffe_id want, id;
	spiffe_td td;
	size_t len, n;
	char *text;
	int rc;

	if (check_format("bundleFormat", o.format, WANT_X509) != 0 ||
	    one_stdin("chain", o.chain, "bundle", o.bundle) != 0)
		return EXIT_USAGE;
	memset(&want, 0, sizeof(want));
	memset(&td, 0, sizeof(td));
	if (o.id != NULL && o.member_of != NULL) {
		errline("-id and -memberOf exclude each other");
		return EXIT_USAGE;
	}
	if (o.id != NULL && spiffe_id_parse_cstr(&want, o.id, &eb) != 0) {
		errline("invalid value for flag -id: %s", eb.msg);
		return EXIT_USAGE;
	}
	if (o.member_of != NULL &&
	    spiffe_td_parse(&td, o.member_of, strlen(o.member_of), &eb) != 0) {
		errline("invalid value for flag -memberOf: %s", eb.msg);
		return EXIT_USAGE;
	}
	if (want.len > 0)
		spiffe_id_td(&want, &td);
	mbedtls_x509_crt_init(&chain);
	text = read_input(o.chain, &len);
	rc = spiffe_x509_chain_parse(&chain, &n, (const uint8_t *)text, len,
				     &eb);
	free(text);
	if (rc != 0) {
		errline("X.509-SVID is not valid: %s", eb.msg);
		return rc == SPIFFE_ERR_NOMEM ? EXIT_USAGE : EXIT_INVALID;
	}
	/* The bundle is that of the trust domain -id or -memberOf names,
	 * else of the leaf's own. */
	if (td.len == 0 && spiffe_x509_id_from_cert(&chain, &id, NULL) == 0)
		spiffe_id_td(&id, &td);
	spiffe_bundle_init(&b, &td);
	bundle_file(&b, o.bundle, WANT_X509);
	set = bundle_set_of(&b);
	rc = spiffe_x509svid_verify(&chain, set, &id, &vc, &eb);
	if (rc == SPIFFE_ERR_NOT_FOUND && td.len > 0) {
		errline("X.509-SVID is not valid: %s (the bundle is for "
			"\"%s\")", eb.msg, td.name);
		rc = EXIT_INVALID;
	} else if (rc != 0) {
		errline("X.509-SVID is not valid: %s", eb.msg);
		rc = rc == SPIFFE_ERR_NOMEM ? EXIT_USAGE : EXIT_INVALID;
	} else if (want.len > 0 && !spiffe_id_equal(&id, &want)) {
		errline("X.509-SVID is not valid: unexpected ID \"%s\" "
			"(want \"%s\")", id.str, want.str);
		rc = EXIT_INVALID;
	} else if (td.len > 0 && !spiffe_id_member_of(&id, &td)) {
		errline("X.509-SVID is not valid: unexpected trust domain "
			"of \"%s\" (want \"%s\")", id.str, td.name);
		rc = EXIT_INVALID;
	} else if (o.json) {
		spiffe_id_td(&id, &td);
		fputs("{\"spiffe_id\":", out);
		json_str(out, id.str, id.len);
		fputs(",\"trust_domain\":", out);
		json_str(out, td.name, td.len);
		fprintf(out, ",\"path_length\":%zu,\"expires_at\":",
			vc.depth);
		json_unix_time(out, vc.not_after);
		fputs("}\n", out);
	} else {
		fprintf(out, "%s\n", id.str);
	}
	spiffe_bundle_set_unref(set);
	spiffe_bundle_free(&b);
	mbedtls_x509_crt_free(&chain);
	return rc;
}

/* ---- bundle inspect ----------------------------------------------------- */

static int cmd_bundle_inspect(char **args)
{
	const struct bundle_format *used = NULL;
	spiffe_bundle b;
	spiffe_errbuf eb;
	char kt[64];
	size_t len;
	char *text;
	int rc;

	if (check_format("format", o.format, WANT_X509 | WANT_JWT) != 0)
		return EXIT_USAGE;
	text = read_input(args[0], &len);
	spiffe_bundle_init(&b, NULL);
	rc = load_bundle(&b, text, len, o.format, WANT_X509 | WANT_JWT,
			 &used, &eb);
	free(text);
	if (rc != 0) {
		errline("bundle is not valid: %s", eb.msg);
		spiffe_bundle_free(&b);
		return rc == SPIFFE_ERR_NOMEM ? EXIT_USAGE : EXIT_INVALID;
	}
	if (o.json) {
		fputs("{\"format\":", out);
		json_cstr(out, used->name);
		if (b.has_sequence)
			fprintf(out, ",\"sequence\":%llu",
				(unsigned long long)b.sequence);
		else
			fputs(",\"sequence\":null", out);
		if (b.has_refresh_hint)
			fprintf(out, ",\"refresh_hint\":%lld",
				(long long)b.refresh_hint);
		else
			fputs(",\"refresh_hint\":null", out);
		fputs(",\"x509_authorities\":", out);
		json_certs(out, &b.x509);
		fputs(",\"jwt_authorities\":[", out);
		for (size_t i = 0; i < b.njwt; i++) {
			fputs(i > 0 ? ",{\"kid\":" : "{\"kid\":", out);
			json_str(out, b.jwt[i].kid, b.jwt[i].kid_len);
			fputs(",\"key_type\":", out);
			json_cstr(out, key_type(&b.jwt[i].pk, kt, sizeof(kt)));
			fputc('}', out);
		}
		fputs("]}\n", out);
	} else {
		fprintf(out, "Format:\t\t\t%s\n", used->title);
		if (b.has_sequence)
			fprintf(out, "Sequence:\t\t%llu\n",
				(unsigned long long)b.sequence);
		if (b.has_refresh_hint)
			fprintf(out, "Refresh hint:\t\t%llds\n",
				(long long)b.refresh_hint);
		fprintf(out, "X.509 authorities:\t%zu\n", b.nx509);
		put_cas(out, "", &b.x509);
		fprintf(out, "JWT authorities:\t%zu\n", b.njwt);
		for (size_t i = 0; i < b.njwt; i++) {
			fprintf(out, "JWT authority #%zu:\t", i + 1);
			put_safe(out, b.jwt[i].kid, b.jwt[i].kid_len);
			fprintf(out, " (%s)\n",
				key_type(&b.jwt[i].pk, kt, sizeof(kt)));
		}
	}
	spiffe_bundle_free(&b);
	return 0;
}

/* ---- the Workload API --------------------------------------------------- */

/* Exit status for a failed call: the agent's verdict or bad material is
 * 1; not reaching it, or a local problem, is 2. */
static int api_exit(int rc)
{
	switch (rc) {
	case SPIFFE_ERR_IO:
	case SPIFFE_ERR_CLOSED:
	case SPIFFE_ERR_TIMEOUT:
	case SPIFFE_ERR_ADDRESS:
	case SPIFFE_ERR_ARG:
	case SPIFFE_ERR_NOMEM:
	case SPIFFE_ERR_CANCELED:
		return EXIT_USAGE;
	}
	return EXIT_INVALID;
}

/*
 * A client for -socketPath (a bare absolute path is a Unix socket, as
 * SPIRE takes it) or $SPIFFE_ENDPOINT_SOCKET.  Exits 2 when it cannot.
 */
static spiffe_wlapi_client *api_client(void)
{
	static char addr[SPIFFE_CLI_ADDR_SIZE];
	spiffe_wlapi_options wo;
	spiffe_wlapi_client *c;
	spiffe_errbuf eb;

	spiffe_wlapi_options_init(&wo);
	if (spiffe_cli_socket_address(o.socket, addr, &wo.address,
				      &eb) != 0) {
		errline("invalid value for flag -socketPath: %s", eb.msg);
		exit(EXIT_USAGE);
	}
	if (o.timeout < 1000000) {
		errline("flag -timeout must be at least 1ms");
		exit(EXIT_USAGE);
	}
	wo.timeout_ms = o.timeout / 1000000 > INT_MAX ? INT_MAX :
			(int)(o.timeout / 1000000);
	if (spiffe_wlapi_client_new(&c, &wo, &eb) != 0) {
		if (o.socket != NULL)
			errline("invalid value for flag -socketPath: %s",
				eb.msg);
		else if (getenv(SPIFFE_ENDPOINT_ENV) != NULL &&
			 *getenv(SPIFFE_ENDPOINT_ENV) != '\0')
			errline("%s: %s", SPIFFE_ENDPOINT_ENV, eb.msg);
		else if (strstr(eb.msg, "(set " SPIFFE_ENDPOINT_ENV ")"))
			/* The library's hint; this command has a flag too. */
			errline("%.*s or give -socketPath)",
				(int)strlen(eb.msg) - 1, eb.msg);
		else
			errline("%s", eb.msg);
		exit(EXIT_USAGE);
	}
	return c;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Writes v / unit with its fraction, trailing zeros dropped: 1.5ms. */
static void put_frac(char *buf, size_t n, int64_t v, int64_t unit,
		     int digits, const char *suffix)
{
	char frac[16];
	int k;

	snprintf(frac, sizeof(frac), "%0*lld", digits,
		 (long long)(v % unit));
	for (k = digits; k > 0 && frac[k - 1] == '0'; k--)
		frac[k - 1] = '\0';
	snprintf(buf, n, "%lld%s%s%s", (long long)(v / unit),
		 k > 0 ? "." : "", frac, suffix);
}

/* A duration as Go prints one: "850ns", "1.5ms", "2m3.25s". */
static const char *go_duration(char *buf, size_t n, int64_t d)
{
	size_t l = 0;

	if (d < 1000)
		snprintf(buf, n, "%lldns", (long long)d);
	else if (d < 1000000)
		put_frac(buf, n, d, 1000, 3, "\xc2\xb5s");
	else if (d < 1000000000)
		put_frac(buf, n, d, 1000000, 6, "ms");
	else {
		int64_t h = d / 3600000000000, m = d / 60000000000 % 60;

		if (h > 0)
			l = (size_t)snprintf(buf, n, "%lldh", (long long)h);
		if (h > 0 || m > 0)
			l += (size_t)snprintf(buf + l, n - l, "%lldm",
					      (long long)m);
		put_frac(buf + l, n - l, d % 60000000000, 1000000000, 9,
			 "s");
	}
	return buf;
}

/* "2026-01-01T00:00:00.123Z" from the wall clock. */
static void put_timestamp(FILE *f)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000);
}

static int by_td(const void *a, const void *b)
{
	const spiffe_bundle *x = *(const spiffe_bundle *const *)a;
	const spiffe_bundle *y = *(const spiffe_bundle *const *)b;

	return strcmp(x->td.name, y->td.name);
}

/* The set's bundles sorted by trust domain name, in an array from malloc
 * (NULL when empty); exits 2 when out of memory. */
static const spiffe_bundle **sorted(const spiffe_bundle_set *s, size_t *n)
{
	const spiffe_bundle **v;

	*n = s != NULL ? spiffe_bundle_set_count(s) : 0;
	if (*n == 0)
		return NULL;
	if ((v = calloc(*n, sizeof(*v))) == NULL) {
		errline("out of memory");
		exit(EXIT_USAGE);
	}
	for (size_t i = 0; i < *n; i++)
		v[i] = spiffe_bundle_set_at(s, i);
	qsort(v, *n, sizeof(*v), by_td);
	return v;
}

/* Verifies each SVID against the context's bundles, as SPIRE's fetch
 * does; says which failed. */
static int verify_svids(const spiffe_x509_context *ctx)
{
	spiffe_errbuf eb;
	spiffe_id id;

	for (size_t i = 0; i < ctx->nsvids; i++) {
		if (spiffe_x509svid_verify(&ctx->svids[i].chain, ctx->bundles,
					   &id, NULL, &eb) != 0) {
			errline("\"%s\" SVID failed verification against "
				"bundle: %s", ctx->svids[i].id.str, eb.msg);
			return EXIT_INVALID;
		}
	}
	return 0;
}

/* SPIRE's printout of an X.509 context, with chain and bundle sizes. */
static void put_x509_context(FILE *f, const spiffe_x509_context *ctx,
			     int64_t ns)
{
	const spiffe_bundle **v;
	char d[64];
	size_t n;

	fprintf(f, "Received %zu svid%s after %s\n", ctx->nsvids,
		ctx->nsvids == 1 ? "" : "s", go_duration(d, sizeof(d), ns));
	v = sorted(ctx->bundles, &n);
	for (size_t i = 0; i < ctx->nsvids; i++) {
		const spiffe_x509svid *s = &ctx->svids[i];
		const mbedtls_x509_crt *c;
		spiffe_td td;
		int k = 1;

		spiffe_id_td(&s->id, &td);
		fprintf(f, "\nSPIFFE ID:\t\t%s\n", s->id.str);
		if (s->hint_len > 0) {
			fputs("Hint:\t\t\t", f);
			put_safe(f, s->hint, s->hint_len);
			fputc('\n', f);
		}
		fprintf(f, "Chain length:\t\t%zu\nSVID Valid After:\t",
			s->nchain);
		put_go_time(f, &s->chain.valid_from);
		fputs("\nSVID Valid Until:\t", f);
		put_go_time(f, &s->chain.valid_to);
		fputc('\n', f);
		for (c = s->chain.next; c != NULL; c = c->next, k++) {
			fprintf(f, "Intermediate #%d Valid After:\t", k);
			put_go_time(f, &c->valid_from);
			fprintf(f, "\nIntermediate #%d Valid Until:\t", k);
			put_go_time(f, &c->valid_to);
			fputc('\n', f);
		}
		for (size_t j = 0; j < n; j++) {
			char pfx[SPIFFE_TD_MAX + 4] = "";

			if (!spiffe_td_equal(&v[j]->td, &td))
				continue;
			fprintf(f, "Bundle size:\t\t%zu\n", v[j]->nx509);
			put_cas(f, pfx, &v[j]->x509);
		}
		for (size_t j = 0; j < n; j++) {
			char pfx[SPIFFE_TD_MAX + 4];

			if (spiffe_td_equal(&v[j]->td, &td))
				continue;
			snprintf(pfx, sizeof(pfx), "[%s] ", v[j]->td.name);
			fprintf(f, "%sBundle size:\t%zu\n", pfx, v[j]->nx509);
			put_cas(f, pfx, &v[j]->x509);
		}
	}
	fputc('\n', f);
	free(v);
}

/* {"example.org":[CERT...],...} */
static void json_x509_bundles(FILE *f, const spiffe_bundle_set *s)
{
	size_t n;
	const spiffe_bundle **v = sorted(s, &n);

	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		json_str(f, v[i]->td.name, v[i]->td.len);
		fputc(':', f);
		json_certs(f, &v[i]->x509);
	}
	fputc('}', f);
	free(v);
}

/* "svids":[...],"bundles":{...} (the caller adds the braces). */
static void json_x509_context(FILE *f, const spiffe_x509_context *ctx)
{
	fputs("\"svids\":[", f);
	for (size_t i = 0; i < ctx->nsvids; i++) {
		const spiffe_x509svid *s = &ctx->svids[i];

		fputs(i > 0 ? ",{\"spiffe_id\":" : "{\"spiffe_id\":", f);
		json_str(f, s->id.str, s->id.len);
		fputs(",\"hint\":", f);
		json_str(f, s->hint, s->hint_len);
		fputs(",\"certificates\":", f);
		json_certs(f, &s->chain);
		fputc('}', f);
	}
	fputs("],\"bundles\":", f);
	json_x509_bundles(f, ctx->bundles);
}

/* A bundle's JWT authorities as a JWKS (malloc'd); exits 2 on failure. */
static char *jwks_of(const spiffe_bundle *b, size_t *len)
{
	spiffe_errbuf eb;
	char *j;

	if (spiffe_bundle_marshal_jwks(b, &j, len, &eb) != 0) {
		errline("cannot write the JWKS of \"%s\": %s", b->td.name,
			eb.msg);
		exit(EXIT_USAGE);
	}
	return j;
}

/* SPIRE's "bundle(spiffe://td):\n\t<JWKS>" for each trust domain. */
static void put_jwt_bundles(FILE *f, const spiffe_bundle_set *s)
{
	size_t n, len;
	const spiffe_bundle **v = sorted(s, &n);

	for (size_t i = 0; i < n; i++) {
		char *j = jwks_of(v[i], &len);

		fprintf(f, "bundle(spiffe://%s):\n\t", v[i]->td.name);
		put_safe(f, j, len);
		fputc('\n', f);
		free(j);
	}
	free(v);
}

/* {"example.org":<JWKS>,...} */
static void json_jwt_bundles(FILE *f, const spiffe_bundle_set *s)
{
	size_t n, len;
	const spiffe_bundle **v = sorted(s, &n);

	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		char *j = jwks_of(v[i], &len);

		if (i > 0)
			fputc(',', f);
		json_str(f, v[i]->td.name, v[i]->td.len);
		fputc(':', f);
		fwrite(j, 1, len, f);
		free(j);
	}
	fputc('}', f);
	free(v);
}

/*
 * Writes len bytes to dir/name through a temporary file and a rename,
 * so a reader never sees half a key; mode 0600 for keys.
 */
static int write_file(const char *dir, const char *name, const void *p,
		      size_t len, mode_t mode)
{
	char path[4096], tmp[4096];
	const char *b = p;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name,
			     (long)getpid()) >= sizeof(tmp)) {
		errline("cannot write %s/%s: path too long", dir, name);
		return EXIT_USAGE;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0) {
		errline("cannot write %s: %s", path, strerror(errno));
		return EXIT_USAGE;
	}
	while (len > 0) {
		ssize_t w = write(fd, b, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		b += w;
		len -= (size_t)w;
	}
	if (len > 0 || fsync(fd) != 0 || close(fd) != 0 ||
	    rename(tmp, path) != 0) {
		errline("cannot write %s: %s", path, strerror(errno));
		if (len > 0)
			close(fd);
		unlink(tmp);
		return EXIT_USAGE;
	}
	return 0;
}

/* The PEM of a crt list into a file. */
static int write_certs(const char *name, const mbedtls_x509_crt *list)
{
	spiffe_errbuf eb;
	char *pem = NULL;
	size_t len = 0;
	int rc;

	if (list->raw.len > 0 &&
	    spiffe_x509_chain_write_pem(list, &pem, &len, &eb) != 0) {
		errline("cannot write %s: %s", name, eb.msg);
		return EXIT_USAGE;
	}
	rc = write_file(o.write_dir, name, pem != NULL ? pem : "", len, 0644);
	free(pem);
	return rc;
}

/* -write: SPIRE's files, svid.N.pem, svid.N.key, bundle.N.pem and
 * federated_bundle.N.M.pem (M in trust domain order). */
static int write_x509_context(const spiffe_x509_context *ctx)
{
	const spiffe_bundle **v;
	spiffe_errbuf eb;
	char name[64];
	size_t n;
	int rc = 0;

	v = sorted(ctx->bundles, &n);
	for (size_t i = 0; rc == 0 && i < ctx->nsvids; i++) {
		const spiffe_x509svid *s = &ctx->svids[i];
		spiffe_td td;
		char *key;
		size_t klen, m = 0;

		spiffe_id_td(&s->id, &td);
		snprintf(name, sizeof(name), "svid.%zu.pem", i);
		fprintf(out, "Writing SVID #%zu to file %s/%s.\n", i,
			o.write_dir, name);
		if ((rc = write_certs(name, &s->chain)) != 0)
			break;
		snprintf(name, sizeof(name), "svid.%zu.key", i);
		fprintf(out, "Writing key #%zu to file %s/%s.\n", i,
			o.write_dir, name);
		if (spiffe_x509_key_write_pem(&s->key, &key, &klen,
					      &eb) != 0) {
			errline("cannot write %s: %s", name, eb.msg);
			rc = EXIT_USAGE;
			break;
		}
		rc = write_file(o.write_dir, name, key, klen, 0600);
		mbedtls_platform_zeroize(key, klen);
		free(key);
		for (size_t j = 0; rc == 0 && j < n; j++) {
			if (spiffe_td_equal(&v[j]->td, &td)) {
				snprintf(name, sizeof(name), "bundle.%zu.pem",
					 i);
				fprintf(out, "Writing bundle #%zu to file "
					"%s/%s.\n", i, o.write_dir, name);
			} else {
				snprintf(name, sizeof(name),
					 "federated_bundle.%zu.%zu.pem", i,
					 m);
				fprintf(out, "Writing federated bundle #%zu "
					"for trust domain spiffe://%s to file "
					"%s/%s.\n", m++, v[j]->td.name,
					o.write_dir, name);
			}
			rc = write_certs(name, &v[j]->x509);
		}
	}
	free(v);
	return rc;
}

static int cmd_fetch_x509(char **args)
{
	spiffe_wlapi_client *c = api_client();
	spiffe_x509_context *ctx;
	spiffe_errbuf eb;
	int64_t t0 = mono_ns();
	int rc = spiffe_wlapi_fetch_x509_context(c, &ctx, &eb);

	if (rc != 0) {
		errline("cannot fetch X.509-SVIDs: %s", eb.msg);
		spiffe_wlapi_client_free(c);
		return api_exit(rc);
	}
	t0 = mono_ns() - t0;
	if ((rc = verify_svids(ctx)) == 0 && !o.silent) {
		if (o.json) {
			fputc('{', out);
			json_x509_context(out, ctx);
			fputs("}\n", out);
		} else {
			put_x509_context(out, ctx, t0);
		}
	}
	if (rc == 0 && o.write_dir != NULL) {
		FILE *keep = out;

		if (o.silent || o.json)
			out = fopen("/dev/null", "w");
		rc = out != NULL ? write_x509_context(ctx) : EXIT_USAGE;
		if (out != keep && out != NULL)
			fclose(out);
		out = keep;
	}
	spiffe_x509_context_unref(ctx);
	spiffe_wlapi_client_free(c);
	return rc;
}

static int cmd_fetch_x509_bundles(char **args)
{
	spiffe_wlapi_client *c = api_client();
	spiffe_bundle_set *set;
	spiffe_errbuf eb;
	int64_t t0 = mono_ns();
	int rc = spiffe_wlapi_fetch_x509_bundles(c, &set, &eb);
	const spiffe_bundle **v;
	char d[64];
	size_t n;

	if (rc != 0) {
		errline("cannot fetch X.509 bundles: %s", eb.msg);
		spiffe_wlapi_client_free(c);
		return api_exit(rc);
	}
	t0 = mono_ns() - t0;
	if (o.json) {
		fputs("{\"bundles\":", out);
		json_x509_bundles(out, set);
		fputs("}\n", out);
	} else {
		v = sorted(set, &n);
		fprintf(out, "Received %zu bundle%s after %s\n\n", n,
			n == 1 ? "" : "s", go_duration(d, sizeof(d), t0));
		for (size_t i = 0; i < n; i++) {
			char pfx[SPIFFE_TD_MAX + 4];

			snprintf(pfx, sizeof(pfx), "[%s] ", v[i]->td.name);
			fprintf(out, "%sBundle size:\t%zu\n", pfx,
				v[i]->nx509);
			put_cas(out, pfx, &v[i]->x509);
		}
		free(v);
	}
	spiffe_bundle_set_unref(set);
	spiffe_wlapi_client_free(c);
	return 0;
}

static int cmd_fetch_jwt_bundles(char **args)
{
	spiffe_wlapi_client *c = api_client();
	spiffe_bundle_set *set;
	spiffe_errbuf eb;
	int rc = spiffe_wlapi_fetch_jwt_bundles(c, &set, &eb);

	if (rc != 0) {
		errline("cannot fetch JWT bundles: %s", eb.msg);
		spiffe_wlapi_client_free(c);
		return api_exit(rc);
	}
	if (o.json) {
		fputs("{\"bundles\":", out);
		json_jwt_bundles(out, set);
		fputs("}\n", out);
	} else {
		put_jwt_bundles(out, set);
	}
	spiffe_bundle_set_unref(set);
	spiffe_wlapi_client_free(c);
	return 0;
}

static int cmd_fetch_jwt(char **args)
{
	spiffe_wlapi_client *c;
	spiffe_bundle_set *set;
	spiffe_wlapi_jwt *v;
	spiffe_errbuf eb;
	spiffe_id id;
	size_t n;
	int rc;

	if (o.spiffe_id != NULL &&
	    spiffe_id_parse_cstr(&id, o.spiffe_id, &eb) != 0) {
		errline("invalid value for flag -spiffeID: %s", eb.msg);
		return EXIT_USAGE;
	}
	c = api_client();
	rc = spiffe_wlapi_fetch_jwt_svids(c, o.audience.v, o.audience.n,
					  o.spiffe_id, &v, &n, &eb);
	if (rc != 0) {
		errline("cannot fetch JWT-SVIDs: %s", eb.msg);
		spiffe_wlapi_client_free(c);
		return api_exit(rc);
	}
	if ((rc = spiffe_wlapi_fetch_jwt_bundles(c, &set, &eb)) != 0) {
		errline("cannot fetch JWT bundles: %s", eb.msg);
		spiffe_wlapi_jwt_free(v, n);
		spiffe_wlapi_client_free(c);
		return api_exit(rc);
	}
	if (o.json)
		fputs("{\"svids\":[", out);
	for (size_t i = 0; i < n; i++) {
		const spiffe_jwt_svid *s = &v[i].svid;

		if (!o.json) {
			fprintf(out, "token(%s):\n\t%s\n", s->id.str,
				v[i].token);
			if (v[i].hint[0] != '\0') {
				fprintf(out, "hint(%s):\n\t", s->id.str);
				put_safe(out, v[i].hint, strlen(v[i].hint));
				fputc('\n', out);
			}
			continue;
		}
		fputs(i > 0 ? ",{\"spiffe_id\":" : "{\"spiffe_id\":", out);
		json_str(out, s->id.str, s->id.len);
		fputs(",\"hint\":", out);
		json_cstr(out, v[i].hint);
		fputs(",\"token\":", out);
		json_str(out, v[i].token, v[i].token_len);
		fputs(",\"audience\":[", out);
		for (size_t k = 0; k < s->naud; k++) {
			if (k > 0)
				fputc(',', out);
			json_str(out, s->aud[k].p, s->aud[k].len);
		}
		fputs("],\"expires_at\":", out);
		json_unix_time(out, s->exp);
		fputc('}', out);
	}
	if (o.json) {
		fputs("],\"bundles\":", out);
		json_jwt_bundles(out, set);
		fputs("}\n", out);
	} else {
		put_jwt_bundles(out, set);
	}
	spiffe_bundle_set_unref(set);
	spiffe_wlapi_jwt_free(v, n);
	spiffe_wlapi_client_free(c);
	return 0;
}

static int cmd_validate_jwt(char **args)
{
	spiffe_wlapi_client *c;
	spiffe_jwt_svid s;
	spiffe_errbuf eb;
	spiffe_json j;
	char *t, *claims = NULL;
	size_t len;
	int rc;

	t = read_token(o.svid, &len);
	c = api_client();
	spiffe_jwtsvid_init(&s);
	spiffe_json_init(&j);
	rc = spiffe_wlapi_validate_jwt(c, t, len, o.aud1, &s, &claims, &eb);
	if (rc != 0) {
		/* The agent says InvalidArgument for a token it refuses. */
		if (strncmp(eb.msg, "InvalidArgument: ", 17) == 0)
			errline("JWT-SVID is not valid: %s%s", eb.msg + 17,
				token_hint(t, len, o.svid));
		else
			errline("cannot validate the JWT-SVID: %s", eb.msg);
		rc = api_exit(rc);
	} else if (claims == NULL ||
		   spiffe_json_parse(&j, claims, strlen(claims), &eb) != 0 ||
		   j.tok[0].type != SPIFFE_JSON_OBJECT) {
		errline("the agent's claims are not a JSON object");
		rc = EXIT_INVALID;
	} else if (o.json) {
		fputs("{\"spiffe_id\":", out);
		json_str(out, s.id.str, s.id.len);
		fprintf(out, ",\"claims\":%s}\n", claims);
	} else {
		fprintf(out, "SVID is valid.\nSPIFFE ID : %s\nClaims    : ",
			s.id.str);
		put_safe(out, claims, strlen(claims));
		fputc('\n', out);
	}
	spiffe_json_free(&j);
	free(claims);
	spiffe_jwtsvid_free(&s);
	spiffe_wlapi_client_free(c);
	free(t);
	return rc;
}

/* ---- api watch ---------------------------------------------------------- */

#define WATCH_QUEUE 16          /* updates waiting to be printed */

enum { W_X509 = 1, W_JWT, W_ERROR };

struct witem {
	int kind;
	spiffe_x509_context *ctx;       /* W_X509, referenced */
	spiffe_bundle_set *set;         /* W_JWT, referenced */
	int stream;                     /* W_ERROR: W_X509 or W_JWT */
	int final;
	char msg[SPIFFE_ERRBUF_SIZE];
};

/*
 * Updates go from the client's thread (which must not block on stdout)
 * through a bounded queue to the main thread, woken by a pipe; the
 * signal handler writes to the same pipe.
 */
static struct {
	pthread_mutex_t mu;
	struct witem q[WATCH_QUEUE];
	size_t head, n, dropped;
	int stopping;
	int pipe[2];
} W = { .mu = PTHREAD_MUTEX_INITIALIZER, .pipe = { -1, -1 } };

static volatile sig_atomic_t stop_signal;

static void wake(void)
{
	int e = errno;

	if (write(W.pipe[1], "", 1) < 0) {
		/* Full: the main thread has wake-ups pending anyway. */
	}
	errno = e;
}

static void on_signal(int sig)
{
	stop_signal = sig;
	wake();
}

static void item_free(struct witem *it)
{
	if (it->ctx != NULL)
		spiffe_x509_context_unref(it->ctx);
	if (it->set != NULL)
		spiffe_bundle_set_unref(it->set);
	memset(it, 0, sizeof(*it));
}

static void push(const struct witem *it)
{
	pthread_mutex_lock(&W.mu);
	if (W.n == WATCH_QUEUE) {
		/* The reader is slow: drop the oldest, say so later. */
		item_free(&W.q[W.head]);
		W.head = (W.head + 1) % WATCH_QUEUE;
		W.n--;
		W.dropped++;
	}
	W.q[(W.head + W.n) % WATCH_QUEUE] = *it;
	W.n++;
	pthread_mutex_unlock(&W.mu);
	wake();
}

static void on_x509(void *arg, spiffe_x509_context *ctx)
{
	struct witem it = { .kind = W_X509 };

	it.ctx = spiffe_x509_context_ref(ctx);
	push(&it);
}

static void on_jwt(void *arg, spiffe_bundle_set *set)
{
	struct witem it = { .kind = W_JWT };

	it.set = spiffe_bundle_set_ref(set);
	push(&it);
}

static void on_error(void *arg, int err, const char *msg, int final)
{
	struct witem it = { .kind = W_ERROR, .final = final };

	it.stream = (int)(intptr_t)arg;
	snprintf(it.msg, sizeof(it.msg), "%s", msg);
	pthread_mutex_lock(&W.mu);
	if (W.stopping) {               /* our own stop: not news */
		pthread_mutex_unlock(&W.mu);
		return;
	}
	pthread_mutex_unlock(&W.mu);
	push(&it);
}

/* Prints one update; returns 1 for a final error. */
static int print_item(const struct witem *it, int64_t *last)
{
	int64_t now = mono_ns();
	const char *what = it->stream == W_JWT ? "JWT bundles" :
			   "X.509 contexts";

	if (it->kind == W_ERROR) {
		fputs("spiffe: ", stderr);
		put_timestamp(stderr);
		fprintf(stderr, " watch of %s: ", what);
		put_safe(stderr, it->msg, strlen(it->msg));
		fputs(it->final ? "\n" : " (retrying)\n", stderr);
		return it->final;
	}
	if (it->kind == W_X509 && verify_svids(it->ctx) != 0)
		return 0;
	if (o.json) {
		fputs("{\"time\":\"", out);
		put_timestamp(out);
		if (it->kind == W_X509) {
			fputs("\",\"update\":\"x509_context\",", out);
			json_x509_context(out, it->ctx);
		} else {
			fputs("\",\"update\":\"jwt_bundles\",\"bundles\":",
			      out);
			json_jwt_bundles(out, it->set);
		}
		fputs("}\n", out);
	} else if (it->kind == W_X509) {
		put_timestamp(out);
		fputs(" X.509 context update\n", out);
		put_x509_context(out, it->ctx, now - *last);
		*last = now;
	} else {
		put_timestamp(out);
		fputs(" JWT bundles update\n", out);
		put_jwt_bundles(out, it->set);
		fputc('\n', out);
	}
	return 0;
}

static int cmd_watch(char **args)
{
	static const int kinds[] = { SPIFFE_WLAPI_X509_CONTEXT,
				     SPIFFE_WLAPI_JWT_BUNDLES };
	spiffe_wlapi_watch *w[2] = { NULL, NULL };
	spiffe_wlapi_client *c;
	struct sigaction sa;
	spiffe_errbuf eb;
	int64_t last = mono_ns();
	int rc = 0;

	o.timeout = 30000000000;        /* calls the watch makes: none */
	if (pipe2(W.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		errline("cannot make a pipe: %s", strerror(errno));
		return EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;      /* no SA_RESTART: poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	c = api_client();
	for (int i = 0; i < 2 && rc == 0; i++) {
		spiffe_wlapi_watcher wr = {
			.x509_context = on_x509, .jwt_bundles = on_jwt,
			.error = on_error,
			.arg = (void *)(intptr_t)(i == 0 ? W_X509 : W_JWT),
		};

		rc = spiffe_wlapi_watch_start(c, kinds[i], &wr, &w[i], &eb);
		if (rc != 0) {
			errline("cannot watch: %s", eb.msg);
			rc = api_exit(rc);
		}
	}
	while (rc == 0 && !stop_signal) {
		struct pollfd p = { .fd = W.pipe[0], .events = POLLIN };
		struct witem got[WATCH_QUEUE];
		size_t n = 0, dropped;
		char buf[64];

		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			errline("poll: %s", strerror(errno));
			rc = EXIT_USAGE;
			break;
		}
		while (read(W.pipe[0], buf, sizeof(buf)) > 0)
			;
		pthread_mutex_lock(&W.mu);
		for (; W.n > 0; W.n--, W.head = (W.head + 1) % WATCH_QUEUE)
			got[n++] = W.q[W.head];
		dropped = W.dropped;
		W.dropped = 0;
		pthread_mutex_unlock(&W.mu);
		if (dropped > 0)
			errline("%zu updates were not shown: the output is "
				"slower than the updates", dropped);
		for (size_t i = 0; i < n; i++) {
			if (rc == 0 && print_item(&got[i], &last) != 0)
				rc = EXIT_INVALID;
			item_free(&got[i]);
		}
		if (fflush(out) != 0) {
			errline("cannot write the output: %s",
				strerror(errno));
			rc = EXIT_USAGE;
		}
	}
	pthread_mutex_lock(&W.mu);
	W.stopping = 1;
	pthread_mutex_unlock(&W.mu);
	for (int i = 0; i < 2; i++)
		if (w[i] != NULL)
			spiffe_wlapi_watch_stop(w[i]);
	spiffe_wlapi_client_free(c);
	for (; W.n > 0; W.n--, W.head = (W.head + 1) % WATCH_QUEUE)
		item_free(&W.q[W.head]);
	return rc;
}

/* ---- commands ----------------------------------------------------------- */

#define F_OUTPUT { "output", SPIFFE_FLAG_STRING, &o.output, "FORMAT", \
	"pretty or json (default pretty)", 0 }

#define F_SOCKET { "socketPath", SPIFFE_FLAG_STRING, &o.socket, "PATH", \
	"the Workload API: a socket's absolute path, unix:///path or\n" \
	"tcp://IP:port (default $SPIFFE_ENDPOINT_SOCKET)", 0 }
#define F_TIMEOUT { "timeout", SPIFFE_FLAG_DURATION, &o.timeout, \
	"DURATION", "how long to wait for the agent, as 500ms or 1m30s " \
	"(default 5s)", 0 }

static spiffe_flag fetch_x509_flags[] = {
	{ "write", SPIFFE_FLAG_STRING, &o.write_dir, "DIR",
	  "also write svid.N.pem, svid.N.key (mode 0600), bundle.N.pem and\n"
	  "federated_bundle.N.M.pem into DIR, as SPIRE does", 0 },
	{ "silent", SPIFFE_FLAG_BOOL, &o.silent, NULL,
	  "print nothing on success", 0 },
	F_SOCKET, F_TIMEOUT, F_OUTPUT,
};

static spiffe_flag fetch_jwt_flags[] = {
	{ "audience", SPIFFE_FLAG_LIST, &o.audience, "A[,B...]",
	  "the audiences the token is for (required)", 0 },
	{ "spiffeID", SPIFFE_FLAG_STRING, &o.spiffe_id, "SPIFFE_ID",
	  "the identity to get a token for (default: the agent's choice)",
	  0 },
	F_SOCKET, F_TIMEOUT, F_OUTPUT,
};

static spiffe_flag fetch_bundles_flags[] = { F_SOCKET, F_TIMEOUT, F_OUTPUT };

static spiffe_flag validate_jwt_flags[] = {
	{ "audience", SPIFFE_FLAG_STRING, &o.aud1, "AUDIENCE",
	  "the audience the token must name (required)", 0 },
	{ "svid", SPIFFE_FLAG_STRING, &o.svid, "TOKEN|-",
	  "the JWT-SVID, or - to read it from standard input, where one\n"
	  "final newline is dropped (required)", 0 },
	F_SOCKET, F_TIMEOUT, F_OUTPUT,
};

static spiffe_flag watch_flags[] = { F_SOCKET, F_OUTPUT };

static spiffe_flag id_parse_flags[] = { F_OUTPUT };

static spiffe_flag jwt_inspect_flags[] = { F_OUTPUT };

static spiffe_flag jwt_validate_flags[] = {
	{ "token", SPIFFE_FLAG_STRING, &o.token, "TOKEN|-",
	  "the JWT-SVID, or - to read it from standard input, where one\n"
	  "final newline is dropped (required)", 0 },
	{ "audience", SPIFFE_FLAG_LIST, &o.audience, "A[,B...]",
	  "audiences to accept; the token must name one (required)", 0 },
	{ "bundle", SPIFFE_FLAG_STRING, &o.bundle, "FILE",
	  "JWKS or SPIFFE bundle of the trust domain (required)", 0 },
	{ "bundleFormat", SPIFFE_FLAG_STRING, &o.format, "FORMAT",
	  "auto, jwks or spiffe (default auto)", 0 },
	{ "trustDomain", SPIFFE_FLAG_STRING, &o.trust_domain, "TD",
	  "the bundle's trust domain (default: that of the token's sub)",
	  0 },
	F_OUTPUT,
};

static spiffe_flag x509_verify_flags[] = {
	{ "chain", SPIFFE_FLAG_STRING, &o.chain, "FILE",
	  "the X.509-SVID chain, leaf first, PEM or DER (required)", 0 },
	{ "bundle", SPIFFE_FLAG_STRING, &o.bundle, "FILE",
	  "X.509 authorities: PEM or DER certificates, or a SPIFFE bundle\n"
	  "(required)", 0 },
	{ "bundleFormat", SPIFFE_FLAG_STRING, &o.format, "FORMAT",
	  "auto, spiffe, pem or der (default auto)", 0 },
	{ "id", SPIFFE_FLAG_STRING, &o.id, "SPIFFE_ID",
	  "accept only this SPIFFE ID; the bundle is its trust domain's", 0 },
	{ "memberOf", SPIFFE_FLAG_STRING, &o.member_of, "TD",
	  "accept only IDs of this trust domain, whose bundle it is", 0 },
	F_OUTPUT,
};

static spiffe_flag bundle_inspect_flags[] = {
	{ "format", SPIFFE_FLAG_STRING, &o.format, "FORMAT",
	  "auto, jwks, spiffe, pem or der (default auto)", 0 },
	F_OUTPUT,
};

#define FLAGS(a) a, sizeof(a) / sizeof(a[0])

enum {
	M_OFFLINE = 1,          /* honours SPIFFE_TEST_NOW */
	M_STREAM = 2,           /* prints as it goes, not on success */
	M_ALIAS = 4,            /* another name of the next command */
	M_PARTIAL = 8,          /* shows its output on failure too */
};

static const struct cmd {
	const char *name;
	const char *args;       /* the arguments, for the usage line */
	int nargs;
	int (*run)(char **args);
	spiffe_flag *flags;
	size_t nflags;
	int mode;               /* M_OFFLINE, M_STREAM, M_ALIAS */
	const char *required;   /* flags that must be given, "a,b" */
	const char *summary;
	const char *help;
} cmds[] = {
	{ "api fetch", "", 0, cmd_fetch_x509, FLAGS(fetch_x509_flags),
	  M_ALIAS, "", "The same as api fetch x509 (as in SPIRE)", "" },
	{ "api fetch x509", "", 0, cmd_fetch_x509, FLAGS(fetch_x509_flags),
	  0, "", "Fetches X.509-SVIDs and bundles from the Workload API",
	  "Fetches the workload's X.509-SVIDs and bundles and prints, as "
	  "`spire-agent\napi fetch x509` does, each SVID's SPIFFE ID, hint, "
	  "chain length and\nvalidity, and the size and validity of its "
	  "bundle and the federated ones.\nEach SVID must verify against "
	  "its bundle.  -write saves them as PEM files.\n" },
	{ "api fetch jwt", "", 0, cmd_fetch_jwt, FLAGS(fetch_jwt_flags), 0,
	  "audience", "Fetches JWT-SVIDs and JWT bundles",
	  "Fetches JWT-SVIDs for the audiences and prints each token "
	  "(token(ID):),\nthen the JWT bundles (bundle(spiffe://TD):) as "
	  "JWKS, like `spire-agent\napi fetch jwt`.\n" },
	{ "api fetch jwt-bundles", "", 0, cmd_fetch_jwt_bundles,
	  FLAGS(fetch_bundles_flags), 0, "", "Fetches the JWT bundles",
	  "Fetches the JWT bundles and prints each trust domain's as a "
	  "JWKS.\n" },
	{ "api fetch x509-bundles", "", 0, cmd_fetch_x509_bundles,
	  FLAGS(fetch_bundles_flags), 0, "", "Fetches the X.509 bundles",
	  "Fetches the X.509 bundles and prints each trust domain's size "
	  "and the\nvalidity of its CAs.\n" },
	{ "api validate jwt", "", 0, cmd_validate_jwt,
	  FLAGS(validate_jwt_flags), 0, "audience,svid",
	  "Has the agent validate a JWT-SVID",
	  "Sends the token to the Workload API's ValidateJWTSVID and prints "
	  "the SPIFFE\nID and claims the agent returns.  A token the agent "
	  "refuses exits 1.\n" },
	{ "api watch", "", 0, cmd_watch, FLAGS(watch_flags), M_STREAM, "",
	  "Prints X.509 context and JWT bundle updates",
	  "Watches X.509 contexts and JWT bundles and prints each update "
	  "with a\ntimestamp (JSON: one object a line), until SIGINT or "
	  "SIGTERM, which exit\n0.  Errors go to stderr; the watch retries "
	  "(1 s, 2 s, ... 30 s apart)\nexcept after InvalidArgument, which "
	  "exits 1.\n" },
	{ "jwt validate", "", 0, cmd_jwt_validate, FLAGS(jwt_validate_flags),
	  M_OFFLINE, "token,audience,bundle",
	  "Validates a JWT-SVID against a bundle file",
	  "Validates the token with libspiffe against the JWKS or SPIFFE "
	  "bundle in\nFILE: format, signature, audience, expiry.  The bundle "
	  "is taken to be\nthe one of the trust domain the token's sub names "
	  "(so a token any key in\nFILE signed passes, whatever its trust "
	  "domain), unless -trustDomain says\nwhose it is.  Prints the SPIFFE "
	  "ID.\n" },
	{ "jwt inspect", "TOKEN|-", 1, cmd_jwt_inspect,
	  FLAGS(jwt_inspect_flags), M_OFFLINE | M_PARTIAL, "",
	  "Shows a JWT-SVID's header and claims, UNVERIFIED",
	  "Decodes the token (- reads it from standard input) and prints its "
	  "header\nand claims.  Nothing is verified: not the signature, the "
	  "audience or\nthe times.  A token that breaks the JWT-SVID format "
	  "exits 1 after showing\nwhat decodes.\n" },
	{ "x509 verify", "", 0, cmd_x509_verify, FLAGS(x509_verify_flags),
	  M_OFFLINE, "chain,bundle",
	  "Verifies an X.509-SVID chain against a bundle file",
	  "Verifies the chain as an X.509-SVID (X509-SVID.md section 5, "
	  "RFC 5280\npaths) against the X.509 authorities in FILE.  The "
	  "bundle belongs to the\ntrust domain -id or -memberOf names; "
	  "without them, to the leaf's own\ntrust domain, so any SPIFFE ID "
	  "the bundle's CAs vouch for is accepted.\nPrints the SPIFFE "
	  "ID.\n" },
	{ "bundle inspect", "FILE|-", 1, cmd_bundle_inspect,
	  FLAGS(bundle_inspect_flags), 0, "",
	  "Parses a bundle file and prints its authorities",
	  "Reads a JWKS, a SPIFFE bundle, or PEM or DER certificates (- is "
	  "standard\ninput), checks it as libspiffe loads bundles, and prints "
	  "its X.509 and\nJWT authorities.  With -format auto, JSON with "
	  "spiffe_sequence,\nspiffe_refresh_hint or a key whose use is "
	  "x509-svid or jwt-svid is a\nSPIFFE bundle and other JSON a JWKS; "
	  "text with \"-----BEGIN \" is PEM, the\nrest DER.\n" },
	{ "id parse", "STRING", 1, cmd_id_parse, FLAGS(id_parse_flags), 0, "",
	  "Parses a SPIFFE ID: trust domain and path, or why not",
	  "Prints the SPIFFE ID's trust domain and path, or the exact rule "
	  "it breaks.\n" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void cmd_usage(FILE *f, const struct cmd *c)
{
	if (c->mode & M_ALIAS)
		c++;
	fprintf(f, "Usage: spiffe %s [flags]%s%s\n\n%s\n", c->name,
		c->nargs > 0 ? " " : "", c->args, c->help);
	if (c->nflags > 0) {
		fputs("Flags:\n", f);
		spiffe_cli_usage(f, c->flags, c->nflags);
	}
}

static void usage(FILE *f)
{
	fputs("Usage: spiffe COMMAND [flags] [arguments]\n\n"
	      "The SPIFFE Workload API from the command line (modelled on\n"
	      "`spire-agent api`), and offline checks of SPIFFE IDs, "
	      "JWT-SVIDs,\nX.509-SVIDs and bundles.\n\nCommands:\n", f);
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-22s %s\n", cmds[i].name, cmds[i].summary);
	fputs("\nFlags are Go-style: -flag value or -flag=value, and --flag "
	      "is the same.\nExit status: 0 success; 1 the thing checked is "
	      "invalid, or the agent\nrefused (a gRPC status); 2 a usage or "
	      "I/O error (bad flags, unreadable\nfile or bundle, endpoint "
	      "unreachable).  Errors are one line on stderr.\n", f);
	for (size_t i = 0; i < NCMDS; i++) {
		if (cmds[i].mode & M_ALIAS)
			continue;
		fputs("\n", f);
		cmd_usage(f, &cmds[i]);
	}
}

/* The command named by the first words of argv, longest first. */
static const struct cmd *find_cmd(int argc, char **argv, int *used)
{
	const struct cmd *best = NULL;

	*used = 0;
	for (size_t i = 0; i < NCMDS; i++) {
		const char *p = cmds[i].name;
		int w = 0;

		while (*p != '\0' && w < argc) {
			size_t l = strcspn(p, " ");

			if (strlen(argv[w]) != l || memcmp(argv[w], p, l) != 0)
				break;
			w++;
			p += l;
			if (*p == ' ')
				p++;
		}
		if (*p == '\0' && w > *used) {
			best = &cmds[i];
			*used = w;
		}
	}
	return best;
}

/*
 * Says that argv's first words name no command, and which commands
 * they begin, if any: "api fetch" -> "api fetch x509, ...".
 */
static int unknown_cmd(int argc, char **argv)
{
	char words[256] = "", list[1024] = "";
	size_t wl = 0, ll = 0;

	for (int i = 0; i < argc && argv[i][0] != '-'; i++) {
		int n = snprintf(words + wl, sizeof(words) - wl, "%s%s",
				 i > 0 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(words) - wl)
			break;
		wl += (size_t)n;
	}
	for (size_t i = 0; wl > 0 && i < NCMDS; i++) {
		if (strncmp(cmds[i].name, words, wl) != 0 ||
		    cmds[i].name[wl] != ' ' || (cmds[i].mode & M_ALIAS))
			continue;
		ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s%s",
				       ll > 0 ? ", " : "", cmds[i].name);
		if (ll >= sizeof(list))
			break;
	}
	if (ll > 0)
		errline("\"%s\" needs a subcommand: %s (see spiffe -h)", words,
			list);
	else
		errline("unknown command \"%s\" (see spiffe -h)",
			wl > 0 ? words : argv[0]);
	return EXIT_USAGE;
}

/* SPIFFE_TEST_NOW, a test hook: fixes the clock of offline commands. */
static int test_clock(void)
{
	const char *v = getenv("SPIFFE_TEST_NOW");
	int64_t t = 0;

	if (v == NULL)
		return 0;
	for (const char *p = v; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' ||
		    t > (INT64_MAX - (*p - '0')) / 10) {
			errline("SPIFFE_TEST_NOW must be Unix seconds, not "
				"\"%s\"", v);
			return EXIT_USAGE;
		}
		t = t * 10 + (*p - '0');
	}
	if (*v == '\0') {
		errline("SPIFFE_TEST_NOW must be Unix seconds, not \"\"");
		return EXIT_USAGE;
	}
	spiffe_clock_set(t);
	errline("warning: the clock reads %lld, as SPIFFE_TEST_NOW (a test "
		"hook) says", (long long)t);
	return 0;
}

/* Checks that every flag named in list ("a,b") was given. */
static int check_required(const struct cmd *c)
{
	for (const char *p = c->required; *p != '\0';) {
		size_t l = strcspn(p, ",");

		for (size_t i = 0; i < c->nflags; i++) {
			if (strlen(c->flags[i].name) == l &&
			    memcmp(c->flags[i].name, p, l) == 0 &&
			    !c->flags[i].set) {
				errline("%s: flag -%s is required (see "
					"spiffe %s -h)", c->name,
					c->flags[i].name, c->name);
				return EXIT_USAGE;
			}
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;
	spiffe_errbuf eb;
	char *buf = NULL;
	size_t blen = 0;
	int used, nargs, rc;

	if (argc < 2) {
		errline("no command given (see spiffe -h)");
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
	}
	c = find_cmd(argc - 1, argv + 1, &used);
	/* "api fetch jwtx" is no command, not "api fetch" and an argument */
	if (c == NULL || (c->nargs == 0 && used + 1 < argc &&
			  argv[used + 1][0] != '-'))
		return unknown_cmd(argc - 1, argv + 1);
	o.output = "pretty";
	o.format = "auto";
	o.timeout = 5000000000;
	rc = spiffe_cli_parse(c->flags, c->nflags, argc - 1 - used,
			      argv + 1 + used, &nargs, &eb);
	if (rc == SPIFFE_CLI_HELP) {
		cmd_usage(stdout, c);
		return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
	}
	if (rc != 0) {
		errline("%s: %s (see spiffe %s -h)", c->name, eb.msg,
			c->name);
		return EXIT_USAGE;
	}
	if (nargs != c->nargs) {
		if (nargs > c->nargs)
			errline("%s: unexpected argument \"%s\" (see "
				"spiffe %s -h)", c->name,
				argv[1 + used + c->nargs], c->name);
		else
			errline("%s: missing argument %s (see spiffe %s -h)",
				c->name, c->args, c->name);
		return EXIT_USAGE;
	}
	if (check_required(c) != 0)
		return EXIT_USAGE;
	if (strcmp(o.output, "json") == 0) {
		o.json = 1;
	} else if (strcmp(o.output, "pretty") != 0) {
		errline("invalid value \"%s\" for flag -output (want pretty "
			"or json)", o.output);
		return EXIT_USAGE;
	}
	if ((c->mode & M_OFFLINE) && (rc = test_clock()) != 0)
		return rc;
	if (c->mode & M_STREAM) {
		out = stdout;
		return c->run(argv + 1 + used);
	}
	if ((out = open_memstream(&buf, &blen)) == NULL) {
		errline("out of memory");
		return EXIT_USAGE;
	}
	rc = c->run(argv + 1 + used);
	if (fclose(out) != 0) {
		errline("out of memory");
		rc = EXIT_USAGE;
	} else if ((rc == 0 || (c->mode & M_PARTIAL)) &&
		   (fwrite(buf, 1, blen, stdout) != blen ||
		    fflush(stdout) != 0)) {
		errline("cannot write the output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	free(buf);
	return rc;
}
