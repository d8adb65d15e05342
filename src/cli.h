/*
 * cli.h - command-line conventions shared by libspiffe's programs:
 * Go-style flags (as SPIRE's tools take them), Go durations, and bounded
 * reads of input files.
 *
 * Flags are "-name value" or "-name=value", and "--name" is a synonym of
 * "-name".  A bool flag takes no separate value: "-silent", or
 * "-silent=true" / "=false" / "=1" / "=0".  Flags and arguments may
 * come in any order; "--" ends the flags, and "-" alone is an argument
 * (standard input).  A flag given twice is an error, except a list
 * flag, whose comma-separated values accumulate.  "-h", "-help" and
 * "--help" ask for help.
 */
#ifndef SPIFFE_CLI_H
#define SPIFFE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "limits.h"

enum spiffe_flag_kind {
	SPIFFE_FLAG_BOOL = 1,   /* dst is int *: set to 0 or 1 */
	SPIFFE_FLAG_STRING,     /* dst is const char **: points into argv */
	SPIFFE_FLAG_DURATION,   /* dst is int64_t *: nanoseconds */
	SPIFFE_FLAG_LIST,       /* dst is spiffe_cli_list * */
	SPIFFE_FLAG_REPEAT,     /* dst is spiffe_cli_list *: one value per
				   use, commas kept ("-selector a,b") */
};

/* The values of a list flag, in order; each points into argv. */
typedef struct spiffe_cli_list {
	size_t n;
	const char *v[SPIFFE_CLI_LIST_MAX];
} spiffe_cli_list;

/* One flag a program accepts. */
typedef struct spiffe_flag {
	const char *name;       /* without dashes: "socketPath" */
	int kind;               /* enum spiffe_flag_kind */
	void *dst;              /* where the value goes (see the kinds) */
	const char *arg;        /* placeholder in help ("PATH"); not BOOL */
	const char *help;       /* a line or a few, '\n'-separated */
	int set;                /* output: 1 once given */
} spiffe_flag;

/* spiffe_cli_parse's result when help was asked for. */
#define SPIFFE_CLI_HELP 1

/*
 * Parses argv[0..argc) (what follows the command's name) against
 * flags[0..nflags), whose set fields it clears first.  The arguments
 * that are not flags are moved, in order, to argv[0..*nargs).  List
 * values are split in place: argv's commas become NULs.  Returns 0,
 * SPIFFE_CLI_HELP, or SPIFFE_ERR_ARG with eb naming the flag and the
 * problem ("flag provided but not defined: -x", "flag needs an
 * argument: -timeout", "invalid value \"5x\" for flag -timeout: ...").
 */
SPIFFE_CHECK int spiffe_cli_parse(spiffe_flag *flags, size_t nflags,
				  int argc, char **argv, int *nargs,
				  spiffe_errbuf *eb);

/*
 * Writes one entry per flag to f: "  -name ARG" on one line, then the
 * help, indented (a help may span lines).
 */
void spiffe_cli_usage(FILE *f, const spiffe_flag *flags, size_t nflags);

/*
 * Parses s[0..len) as a Go duration ("5s", "1m30s", "1.5h", "250ms";
 * units ns, us, µs, ms, s, m, h; "0" alone needs no unit) into *ns.
 * Signs are refused: a duration here is never negative.  SPIFFE_ERR_ARG
 * with the reason in eb, SPIFFE_ERR_LIMIT past INT64_MAX nanoseconds.
 */
SPIFFE_CHECK int spiffe_cli_duration(const char *s, size_t len,
				     int64_t *ns, spiffe_errbuf *eb);

/*
 * Reads the file at path ("-": standard input) into a buffer from malloc
 * with a NUL after the data, refusing more than max bytes.  The caller
 * frees *out.  SPIFFE_ERR_IO ("cannot read PATH: ..."), SPIFFE_ERR_LIMIT
 * ("PATH is larger than the limit of N bytes") or SPIFFE_ERR_NOMEM.
 */
SPIFFE_CHECK int spiffe_cli_read_file(const char *path, size_t max,
				      char **out, size_t *len,
				      spiffe_errbuf *eb);

#endif
