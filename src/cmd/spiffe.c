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
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "b64.h"
#include "bundle.h"
#include "cli.h"
#include "clock.h"
#include "json.h"
#include "jwtsvid.h"
#include "spiffeid.h"
#include "x509svid.h"

#define EXIT_INVALID 1
#define EXIT_USAGE 2

/* ---- every flag of every command ---------------------------------------- */

static struct opts {
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

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Writes p[0..len) for a terminal: C0 and C1 controls, DEL and bytes
 * that are not UTF-8 become \xNN, so no input can drive the terminal.
 */
static void put_safe(FILE *f, const char *p, size_t len)
{
	const unsigned char *u = (const unsigned char *)p;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(u + i, len - i);

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
		size_t k = utf8_len(u + i, len - i);

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
	for (size_t i = 0; i < j->tok[keys].count; i++) {
		int k = spiffe_json_at(j, keys, i), u;

		if (k < 0 || j->tok[k].type != SPIFFE_JSON_OBJECT)
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
		spiffe_json_free(&j);
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
		errline("not a valid JWT-SVID: %s", eb.msg);
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

	if (check_format("bundleFormat", o.format, WANT_JWT) != 0)
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
	if ((set = spiffe_bundle_set_new()) == NULL ||
	    (td.len > 0 && spiffe_bundle_set_put(set, &b, &eb) != 0)) {
		errline("out of memory");
		exit(EXIT_USAGE);
	}
	rc = spiffe_jwtsvid_parse_and_validate(&s, t, len, set, o.audience.v,
					       o.audience.n, NULL, &eb);
	if (rc != 0) {
		errline("JWT-SVID is not valid: %s", eb.msg);
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

	if (check_format("bundleFormat", o.format, WANT_X509) != 0)
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
	if ((set = spiffe_bundle_set_new()) == NULL ||
	    (td.len > 0 && spiffe_bundle_set_put(set, &b, &eb) != 0)) {
		errline("out of memory");
		exit(EXIT_USAGE);
	}
	rc = spiffe_x509svid_verify(&chain, set, &id, &vc, &eb);
	if (rc == SPIFFE_ERR_NOT_FOUND && td.len > 0) {
		errline("X.509-SVID is not valid: %s (the bundle is for "
			"\"%s\")", eb.msg, td.name);
		rc = EXIT_INVALID;
	} else if (rc != 0) {
		errline("X.509-SVID is not valid: %s", eb.msg);
		rc = rc == SPIFFE_ERR_NOMEM ? EXIT_USAGE : EXIT_INVALID;
	} else if (want.len > 0 && !spiffe_id_equal(&id, &want)) {
		errline("unexpected ID \"%s\" (want \"%s\")", id.str,
			want.str);
		rc = EXIT_INVALID;
	} else if (td.len > 0 && !spiffe_id_member_of(&id, &td)) {
		errline("unexpected trust domain of \"%s\" (want \"%s\")",
			id.str, td.name);
		rc = EXIT_INVALID;
	} else if (o.json) {
		spiffe_id_td(&id, &td);
		fputs("{\"spiffe_id\":", out);
		json_str(out, id.str, id.len);
		fputs(",\"trust_domain\":", out);
		json_str(out, td.name, td.len);
		fprintf(out, ",\"path_length\":%zu,\"expires_at\":",
			vc.depth);
		{
			struct tm tm;

			if (utc(vc.not_after, &tm))
				fprintf(out, "\"%04d-%02d-%02dT%02d:%02d:"
					"%02dZ\"", tm.tm_year + 1900,
					tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
					tm.tm_min, tm.tm_sec);
			else
				fputs("null", out);
		}
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

/* ---- commands ----------------------------------------------------------- */

#define F_OUTPUT { "output", SPIFFE_FLAG_STRING, &o.output, "FORMAT", \
	"pretty or json (default pretty)", 0 }

static spiffe_flag id_parse_flags[] = { F_OUTPUT };

static spiffe_flag jwt_inspect_flags[] = { F_OUTPUT };

static spiffe_flag jwt_validate_flags[] = {
	{ "token", SPIFFE_FLAG_STRING, &o.token, "TOKEN|-",
	  "the JWT-SVID, or - to read it from standard input (required)",
	  0 },
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
	  "X.509 authorities: PEM or DER certificates, or a SPIFFE bundle "
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

static const struct cmd {
	const char *name;
	const char *args;       /* the arguments, for the usage line */
	int nargs;
	int (*run)(char **args);
	spiffe_flag *flags;
	size_t nflags;
	int offline;            /* honours SPIFFE_TEST_NOW */
	const char *required;   /* flags that must be given, "a,b" */
	const char *summary;
	const char *help;
} cmds[] = {
	{ "jwt validate", "", 0, cmd_jwt_validate, FLAGS(jwt_validate_flags),
	  1, "token,audience,bundle",
	  "Validates a JWT-SVID against a bundle file",
	  "Validates the token with libspiffe against the JWKS or SPIFFE "
	  "bundle in\nFILE: format, signature, audience, expiry.  The bundle "
	  "is taken to be\nthe one of the trust domain the token's sub names "
	  "(so a token any key in\nFILE signed passes, whatever its trust "
	  "domain), unless -trustDomain says\nwhose it is.  Prints the SPIFFE "
	  "ID.\n" },
	{ "jwt inspect", "TOKEN|-", 1, cmd_jwt_inspect,
	  FLAGS(jwt_inspect_flags), 1, "",
	  "Shows a JWT-SVID's header and claims, UNVERIFIED",
	  "Decodes the token (- reads it from standard input) and prints its "
	  "header\nand claims.  Nothing is verified: not the signature, the "
	  "audience or\nthe times.  A token that breaks the JWT-SVID format "
	  "exits 1 after showing\nwhat decodes.\n" },
	{ "x509 verify", "", 0, cmd_x509_verify, FLAGS(x509_verify_flags), 1,
	  "chain,bundle",
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
	  "its X.509 and\nJWT authorities.  auto tells JSON with "
	  "spiffe_sequence, spiffe_refresh_hint\nor keys of use x509-svid or "
	  "jwt-svid (a SPIFFE bundle) from other JSON (a\nJWKS), PEM from "
	  "DER.\n" },
	{ "id parse", "STRING", 1, cmd_id_parse, FLAGS(id_parse_flags), 0, "",
	  "Parses a SPIFFE ID: trust domain and path, or why not",
	  "Prints the SPIFFE ID's trust domain and path, or the exact rule "
	  "it breaks.\n" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void cmd_usage(FILE *f, const struct cmd *c)
{
	fprintf(f, "Usage: spiffe %s [flags]%s%s\n\n%s\n", c->name,
		c->nargs > 0 ? " " : "", c->args, c->help);
	if (c->nflags > 0) {
		fputs("Flags:\n", f);
		spiffe_cli_usage(f, c->flags, c->nflags);
	}
}

static void usage(FILE *f, int full)
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
	if (!full) {
		fputs("\nRun `spiffe -h` for every command's flags.\n", f);
		return;
	}
	for (size_t i = 0; i < NCMDS; i++) {
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
		usage(stderr, 0);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "-help") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout, 1);
		return fflush(stdout) == 0 ? 0 : EXIT_USAGE;
	}
	c = find_cmd(argc - 1, argv + 1, &used);
	if (c == NULL) {
		errline("unknown command \"%s\" (see spiffe -h)", argv[1]);
		return EXIT_USAGE;
	}
	o.output = "pretty";
	o.format = "auto";
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
	if (c->offline && (rc = test_clock()) != 0)
		return rc;
	if ((out = open_memstream(&buf, &blen)) == NULL) {
		errline("out of memory");
		return EXIT_USAGE;
	}
	rc = c->run(argv + 1 + used);
	if (fclose(out) != 0) {
		errline("out of memory");
		rc = EXIT_USAGE;
	} else if ((rc == 0 || strcmp(c->name, "jwt inspect") == 0) &&
		   (fwrite(buf, 1, blen, stdout) != blen ||
		    fflush(stdout) != 0)) {
		errline("cannot write the output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	free(buf);
	return rc;
}
