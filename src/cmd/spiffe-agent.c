/*
 * spiffe-agent.c - the Workload API server for one host: a local CA,
 * Unix workload attestation and registration entries in a data folder.
 *
 *   spiffe-agent run [-config FILE] [-trustDomain TD] [-socketPath PATH]
 *                    [-dataDir DIR] [-x509SVIDTTL D] [-jwtSVIDTTL D]
 *                    [-logLevel LEVEL]
 *   spiffe-agent entry create -spiffeID ID -selector S [-selector S ...]
 *                    [-parentID ID] [-x509SVIDTTL S] [-jwtSVIDTTL S]
 *                    [-hint H] [-entryID ID] [-dataDir DIR] ...
 *   spiffe-agent entry show [-entryID ID] [-spiffeID ID] [-parentID ID]
 *                    [-selector S ...] [-dataDir DIR] ...
 *   spiffe-agent entry delete -entryID ID [-dataDir DIR] ...
 *   spiffe-agent healthcheck [-socketPath PATH] [-timeout D]
 *
 * The config file (-config) holds the run settings, one "key = value" a
 * line, the keys being the flag names (trustDomain, socketPath, dataDir,
 * x509SVIDTTL, jwtSVIDTTL, logLevel); '#' starts a comment line, a value
 * may be in double quotes, and a flag given on the command line wins.
 * The entry commands read the same file for dataDir and trustDomain.
 *
 * Exit status: 0 success; 1 failure (the agent stopped on an error, an
 * entry command was refused, an unhealthy agent); 2 bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/attest.h"
#include "agent/ca.h"
#include "agent/log.h"
#include "agent/registry.h"
#include "agent/server.h"
#include "agent/store.h"
#include "cli.h"
#include "clock.h"
#include "evloop.h"
#include "rng.h"
#include "spiffeid.h"
#include "workloadapi.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

#define DEFAULT_TD "example.org"
#define DEFAULT_SOCKET "/tmp/agent.sock"
#define DEFAULT_DATA_DIR "/var/lib/spiffe-agent"

static void errline(const char *fmt, ...) SPIFFE_PRINTF(1, 2);

static void errline(const char *fmt, ...)
{
	va_list ap;

	fputs("spiffe-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- settings ----------------------------------------------------------- */

static struct opts {
	const char *config;
	const char *td;
	const char *socket;
	const char *data_dir;
	const char *x509_ttl;
	const char *jwt_ttl;
	const char *log_level;
	/* entry commands */
	const char *spiffe_id;
	const char *parent_id;
	const char *entry_id;
	const char *hint;
	spiffe_cli_list selectors;
	/* healthcheck */
	int64_t timeout;
	int verbose;
} o;

/* Values from the config file, kept for the run's lifetime. */
static char *config_text;

/* The settings a config file may hold: the run flags, by name. */
static const struct setting {
	const char *key;
	const char **dst;
} settings[] = {
	{ "trustDomain", &o.td },
	{ "socketPath", &o.socket },
	{ "dataDir", &o.data_dir },
	{ "x509SVIDTTL", &o.x509_ttl },
	{ "jwtSVIDTTL", &o.jwt_ttl },
	{ "logLevel", &o.log_level },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Reads the config file into the settings a flag did not set (set[k] is
 * 1 for those given on the command line).  Exits on a bad file.
 */
static void read_config(const char *path, const int *set)
{
	int seen[NSETTINGS] = { 0 };
	spiffe_errbuf eb;
	size_t len, lineno = 0;
	char *p, *end;

	if (spiffe_cli_read_file(path, SPIFFE_AGENT_CONFIG_MAX, &config_text,
				 &len, &eb) != 0) {
		errline("%s", eb.msg);
		exit(EXIT_USAGE);
	}
	if (memchr(config_text, '\0', len) != NULL) {
		errline("%s: holds a NUL byte", path);
		exit(EXIT_USAGE);
	}
	for (p = config_text, end = config_text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = p, *eol = nl != NULL ? nl : end, *eq, *k, *ke, *v;
		size_t key;

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		*eol = '\0';
		while (is_blank(*line))
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			errline("%s:%zu: want \"key = value\"", path, lineno);
			exit(EXIT_USAGE);
		}
		for (k = line, ke = eq; ke > k && is_blank(ke[-1]); ke--)
			;
		*ke = '\0';
		for (v = eq + 1; is_blank(*v); v++)
			;
		for (ke = eol; ke > v && is_blank(ke[-1]); ke--)
			;
		*ke = '\0';
		if (*v == '"') {
			size_t vl = strlen(v);

			if (vl < 2 || v[vl - 1] != '"') {
				errline("%s:%zu: unterminated quote", path,
					lineno);
				exit(EXIT_USAGE);
			}
			v[vl - 1] = '\0';
			v++;
		}
		for (key = 0; key < NSETTINGS; key++)
			if (strcmp(k, settings[key].key) == 0)
				break;
		if (key == NSETTINGS) {
			errline("%s:%zu: unknown setting \"%s\"", path, lineno,
				k);
			exit(EXIT_USAGE);
		}
		if (seen[key]++) {
			errline("%s:%zu: %s given twice", path, lineno, k);
			exit(EXIT_USAGE);
		}
		if (*v == '\0') {
			errline("%s:%zu: %s is empty", path, lineno, k);
			exit(EXIT_USAGE);
		}
		if (!set[key])
			*settings[key].dst = v;
	}
}

/*
 * A TTL: whole seconds ("3600", as SPIRE's entry flags take it) or a Go
 * duration ("1h", "4s") of whole seconds, 1 s to SPIFFE_AGENT_TTL_MAX.
 */
static int parse_ttl(const char *name, const char *s, int64_t *secs)
{
	spiffe_errbuf eb;
	int64_t ns, v = 0;
	size_t n = strlen(s), i;

	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		if (v <= SPIFFE_AGENT_TTL_MAX)
			v = v * 10 + (s[i] - '0');
	if (i == n && n > 0) {
		ns = v > SPIFFE_AGENT_TTL_MAX ? INT64_MAX : v * 1000000000;
	} else if (spiffe_cli_duration(s, n, &ns, &eb) != 0) {
		errline("invalid value \"%s\" for %s: %s", s, name, eb.msg);
		return -1;
	}
	if (ns % 1000000000 != 0 || ns < 1000000000 ||
	    ns / 1000000000 > SPIFFE_AGENT_TTL_MAX) {
		errline("invalid value \"%s\" for %s: want whole seconds from "
			"1s to %ds", s, name, SPIFFE_AGENT_TTL_MAX);
		return -1;
	}
	*secs = ns / 1000000000;
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

#define F_CONFIG { "config", SPIFFE_FLAG_STRING, &o.config, "FILE", \
	"settings: one \"key = value\" a line, keys named as the flags\n" \
	"(trustDomain, socketPath, dataDir, x509SVIDTTL, jwtSVIDTTL,\n" \
	"logLevel), values optionally in \"quotes\", # comments; a flag\n" \
	"given on the command line wins", 0 }
#define F_TD { "trustDomain", SPIFFE_FLAG_STRING, &o.td, "TD", \
	"the trust domain (default " DEFAULT_TD ")", 0 }
#define F_DATA { "dataDir", SPIFFE_FLAG_STRING, &o.data_dir, "DIR", \
	"the data folder: CA keys and entries.json, mode 0700\n" \
	"(default " DEFAULT_DATA_DIR ")", 0 }
#define F_SOCKET { "socketPath", SPIFFE_FLAG_STRING, &o.socket, "PATH", \
	"the Workload API socket (default " DEFAULT_SOCKET ")", 0 }

static spiffe_flag run_flags[] = {
	F_CONFIG, F_TD, F_SOCKET, F_DATA,
	{ "x509SVIDTTL", SPIFFE_FLAG_STRING, &o.x509_ttl, "DURATION",
	  "X.509-SVID lifetime of entries without their own, as 1h or\n"
	  "3600 (default 1h); SVIDs are re-issued at half of it", 0 },
	{ "jwtSVIDTTL", SPIFFE_FLAG_STRING, &o.jwt_ttl, "DURATION",
	  "JWT-SVID lifetime of entries without their own (default 5m)",
	  0 },
	{ "logLevel", SPIFFE_FLAG_STRING, &o.log_level, "LEVEL",
	  "debug, info, warn or error (default info)", 0 },
};

static spiffe_flag create_flags[] = {
	{ "spiffeID", SPIFFE_FLAG_STRING, &o.spiffe_id, "ID",
	  "the SPIFFE ID to issue to matching workloads (required)", 0 },
	{ "parentID", SPIFFE_FLAG_STRING, &o.parent_id, "ID",
	  "the parent SPIFFE ID, recorded with the entry", 0 },
	{ "selector", SPIFFE_FLAG_REPEAT, &o.selectors, "TYPE:VALUE",
	  "a selector the workload must have, as unix:uid:1000;\n"
	  "give it once per selector (at least one)", 0 },
	{ "x509SVIDTTL", SPIFFE_FLAG_STRING, &o.x509_ttl, "DURATION",
	  "X.509-SVID lifetime, as 1h or 3600 (default: the agent's)", 0 },
	{ "jwtSVIDTTL", SPIFFE_FLAG_STRING, &o.jwt_ttl, "DURATION",
	  "JWT-SVID lifetime, as 5m or 300 (default: the agent's)", 0 },
	{ "hint", SPIFFE_FLAG_STRING, &o.hint, "HINT",
	  "a hint for workloads with several identities", 0 },
	{ "entryID", SPIFFE_FLAG_STRING, &o.entry_id, "ID",
	  "the entry's ID (default: a random UUID)", 0 },
	F_DATA, F_TD, F_CONFIG,
};

static spiffe_flag show_flags[] = {
	{ "entryID", SPIFFE_FLAG_STRING, &o.entry_id, "ID",
	  "show this entry only", 0 },
	{ "spiffeID", SPIFFE_FLAG_STRING, &o.spiffe_id, "ID",
	  "show entries with this SPIFFE ID", 0 },
	{ "parentID", SPIFFE_FLAG_STRING, &o.parent_id, "ID",
	  "show entries with this parent ID", 0 },
	{ "selector", SPIFFE_FLAG_REPEAT, &o.selectors, "TYPE:VALUE",
	  "show entries that have this selector (repeatable: all of them)",
	  0 },
	F_DATA, F_TD, F_CONFIG,
};

static spiffe_flag delete_flags[] = {
	{ "entryID", SPIFFE_FLAG_STRING, &o.entry_id, "ID",
	  "the entry to delete (required)", 0 },
	F_DATA, F_TD, F_CONFIG,
};

static spiffe_flag health_flags[] = {
	F_SOCKET,
	{ "timeout", SPIFFE_FLAG_DURATION, &o.timeout, "DURATION",
	  "how long to wait for the agent (default 5s)", 0 },
	{ "verbose", SPIFFE_FLAG_BOOL, &o.verbose, NULL,
	  "say why the agent is unhealthy", 0 },
};

struct cmd {
	const char *name;
	spiffe_flag *flags;
	size_t nflags;
	int (*run)(void);
	const char *help;
};

#define NFLAGS(f) (sizeof(f) / sizeof((f)[0]))

/* 1 if flag name is among flags and was given. */
static int flag_set(const spiffe_flag *flags, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(flags[i].name, name) == 0)
			return flags[i].set;
	return 0;
}

/* Applies -config and the defaults for the command's flags. */
static void settle(const spiffe_flag *flags, size_t n)
{
	int set[NSETTINGS];

	for (size_t k = 0; k < NSETTINGS; k++)
		set[k] = flag_set(flags, n, settings[k].key);
	if (o.config != NULL)
		read_config(o.config, set);
	if (o.td == NULL)
		o.td = DEFAULT_TD;
	if (o.socket == NULL)
		o.socket = DEFAULT_SOCKET;
	if (o.data_dir == NULL)
		o.data_dir = DEFAULT_DATA_DIR;
	if (o.log_level == NULL)
		o.log_level = "info";
}

/* ---- run ---------------------------------------------------------------- */

static void on_signal(spiffe_evloop *l, void *arg, int signo)
{
	int *got = arg;

	*got = signo;
	spiffe_evloop_stop(l);
}

/* More descriptors: each workload connection takes two (socket, pidfd). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void log_line(const spiffe_agent_log *log, int level,
		     const char *msg, const char *key, const char *val)
{
	spiffe_agent_logline l;

	spiffe_agent_log_begin(&l, log, level, msg);
	if (key != NULL)
		spiffe_agent_log_cstr(&l, key, val);
	spiffe_agent_log_end(&l);
}

static int cmd_run(void)
{
	spiffe_agent_server_config cfg;
	spiffe_agent_server *srv = NULL;
	spiffe_agent_listener lis;
	spiffe_agent_registry reg;
	spiffe_agent_attestor att;
	spiffe_agent_logline l;
	spiffe_agent_log log;
	spiffe_agent_ca ca;
	spiffe_evloop loop;
	spiffe_errbuf eb;
	spiffe_td td;
	int64_t x509_ttl = SPIFFE_AGENT_X509_TTL;
	int64_t jwt_ttl = SPIFFE_AGENT_JWT_TTL;
	int dirfd = -1, signo = 0, rc = EXIT_FAIL;

	settle(run_flags, NFLAGS(run_flags));
	log.fd = STDERR_FILENO;
	if (spiffe_agent_log_level_parse(o.log_level, strlen(o.log_level),
					 &log.level) != 0) {
		errline("invalid log level \"%s\" (want debug, info, warn or "
			"error)", o.log_level);
		return EXIT_USAGE;
	}
	if ((o.x509_ttl != NULL &&
	     parse_ttl("x509SVIDTTL", o.x509_ttl, &x509_ttl) != 0) ||
	    (o.jwt_ttl != NULL &&
	     parse_ttl("jwtSVIDTTL", o.jwt_ttl, &jwt_ttl) != 0))
		return EXIT_USAGE;
	if (spiffe_td_parse(&td, o.td, strlen(o.td), &eb) != 0 ||
	    strcmp(td.name, o.td) != 0) {
		errline("invalid trust domain \"%s\": %s", o.td,
			strcmp(td.name, o.td) != 0 && td.len > 0 ?
			"give the bare name, as example.org" : eb.msg);
		return EXIT_USAGE;
	}
	spiffe_agent_ca_init(&ca);
	spiffe_agent_registry_init(&reg);
	spiffe_agent_attestor_init(&att);
	spiffe_agent_listener_init(&lis);
	memset(&loop, 0, sizeof(loop));
	loop.epfd = loop.wakefd = loop.sigfd = -1;
	/* Signals first: blocked before anything could start a thread. */
	if (spiffe_evloop_init(&loop, NULL, NULL, &eb) != 0 ||
	    spiffe_evloop_catch_signals(&loop, on_signal, &signo, &eb) != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Cannot start", "error",
			 eb.msg);
		goto out;
	}
	raise_nofile();
	if (spiffe_crypto_init() != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Cannot start", "error",
			 "crypto initialization failed");
		goto out;
	}
	if (spiffe_agent_dir_open(o.data_dir, &dirfd, &eb) != 0 ||
	    spiffe_agent_ca_open(&ca, dirfd, &td, &eb) != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Cannot open the CA", "error",
			 eb.msg);
		goto out;
	}
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_INFO, ca.created ?
			       "Created the CA" : "Loaded the CA");
	spiffe_agent_log_cstr(&l, "trust_domain", td.name);
	spiffe_agent_log_cstr(&l, "data_dir", o.data_dir);
	spiffe_agent_log_int(&l, "expires_at", ca.not_after);
	spiffe_agent_log_end(&l);
	/* A registry that does not load is served as empty until it does. */
	if (spiffe_agent_registry_open(&reg, dirfd, &td, &eb) != 0) {
		if (reg.dirfd < 0) {
			log_line(&log, SPIFFE_LOG_ERROR, "Cannot open the "
				 "registry", "error", eb.msg);
			goto out;
		}
		log_line(&log, SPIFFE_LOG_ERROR, "Registry does not load; no "
			 "entries are served until it does", "error", eb.msg);
	}
	if (spiffe_agent_listen(&lis, o.socket, &eb) != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Cannot serve the Workload "
			 "API", "error", eb.msg);
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.x509_ttl = x509_ttl;
	cfg.jwt_ttl = jwt_ttl;
	cfg.log = &log;
	if (spiffe_agent_server_new(&srv, &loop, lis.fd, &ca, &reg, &att,
				    &cfg, &eb) != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Cannot start", "error",
			 eb.msg);
		goto out;
	}
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_INFO,
			       "Serving the Workload API");
	spiffe_agent_log_cstr(&l, "socket", o.socket);
	spiffe_agent_log_int(&l, "entries", (int64_t)reg.entries.n);
	spiffe_agent_log_end(&l);
	if (spiffe_evloop_run(&loop, &eb) != 0) {
		log_line(&log, SPIFFE_LOG_ERROR, "Event loop failed", "error",
			 eb.msg);
		goto out;
	}
	spiffe_agent_log_begin(&l, &log, SPIFFE_LOG_INFO, "Stopping");
	spiffe_agent_log_cstr(&l, "signal", signo == 0 ? "" :
			      strsignal(signo));
	spiffe_agent_log_end(&l);
	rc = 0;
out:
	spiffe_agent_server_free(srv);
	spiffe_agent_listener_close(&lis);
	spiffe_agent_registry_free(&reg);
	spiffe_agent_attestor_free(&att);
	spiffe_agent_ca_free(&ca);
	if (dirfd >= 0)
		close(dirfd);
	spiffe_evloop_free(&loop);
	free(config_text);
	return rc;
}

/* ---- entry commands ----------------------------------------------------- */

/* Opens the registry of -dataDir and -trustDomain; exits on failure. */
/*
 * Opens the registry in o.data_dir; only entry create makes the folder,
 * the commands that read stop when it is not there.
 */
static void open_registry(spiffe_agent_registry *reg, int *dirfd, int create)
{
	spiffe_errbuf eb;
	spiffe_td td;

	if (spiffe_td_parse(&td, o.td, strlen(o.td), &eb) != 0 ||
	    strcmp(td.name, o.td) != 0) {
		errline("invalid trust domain \"%s\"", o.td);
		exit(EXIT_USAGE);
	}
	if (spiffe_crypto_init() != 0) {
		errline("crypto initialization failed");
		exit(EXIT_FAIL);
	}
	if (!create && access(o.data_dir, F_OK) != 0 && errno == ENOENT) {
		errline("no data folder %s: no entries were created there "
			"(see -dataDir)", o.data_dir);
		exit(EXIT_FAIL);
	}
	spiffe_agent_registry_init(reg);
	if (spiffe_agent_dir_open(o.data_dir, dirfd, &eb) != 0 ||
	    spiffe_agent_registry_open(reg, *dirfd, &td, &eb) != 0) {
		errline("%s", eb.msg);
		exit(EXIT_FAIL);
	}
}

/* Prints e as `spire-server entry show` does. */
static void print_entry(const spiffe_agent_entry *e)
{
	printf("Entry ID         : %s\n", e->id);
	printf("SPIFFE ID        : %s\n", e->spiffe_id);
	printf("Parent ID        : %s\n", e->parent_id);
	printf("Revision         : 0\n");
	if (e->x509_svid_ttl == 0)
		printf("X509-SVID TTL    : default\n");
	else
		printf("X509-SVID TTL    : %lld\n",
		       (long long)e->x509_svid_ttl);
	if (e->jwt_svid_ttl == 0)
		printf("JWT-SVID TTL     : default\n");
	else
		printf("JWT-SVID TTL     : %lld\n",
		       (long long)e->jwt_svid_ttl);
	for (size_t i = 0; i < e->sel.n; i++)
		printf("Selector         : %s\n", e->sel.v[i]);
	if (e->hint[0] != '\0')
		printf("Hint             : %s\n", e->hint);
	printf("\n");
}

static char *dup_or_die(const char *s)
{
	char *d = strdup(s != NULL ? s : "");

	if (d == NULL) {
		errline("out of memory");
		exit(EXIT_FAIL);
	}
	return d;
}

static int cmd_create(void)
{
	spiffe_agent_registry reg;
	spiffe_agent_entry e, out;
	spiffe_errbuf eb;
	int dirfd = -1, rc = EXIT_FAIL;

	settle(create_flags, NFLAGS(create_flags));
	if (o.spiffe_id == NULL || o.selectors.n == 0) {
		errline("entry create needs -spiffeID and at least one "
			"-selector");
		return EXIT_USAGE;
	}
	spiffe_agent_entry_init(&e);
	spiffe_agent_entry_init(&out);
	if (o.entry_id != NULL) {
		if (strlen(o.entry_id) > SPIFFE_AGENT_ENTRY_ID_MAX) {
			errline("-entryID is longer than %d bytes",
				SPIFFE_AGENT_ENTRY_ID_MAX);
			return EXIT_USAGE;
		}
		memcpy(e.id, o.entry_id, strlen(o.entry_id) + 1);
	}
	if ((o.x509_ttl != NULL &&
	     parse_ttl("-x509SVIDTTL", o.x509_ttl, &e.x509_svid_ttl) != 0) ||
	    (o.jwt_ttl != NULL &&
	     parse_ttl("-jwtSVIDTTL", o.jwt_ttl, &e.jwt_svid_ttl) != 0))
		return EXIT_USAGE;
	e.spiffe_id = dup_or_die(o.spiffe_id);
	e.parent_id = dup_or_die(o.parent_id);
	e.hint = dup_or_die(o.hint);
	for (size_t i = 0; i < o.selectors.n; i++) {
		const char *sv = o.selectors.v[i];

		if (spiffe_agent_selector_attestable(sv, strlen(sv),
						     &eb) != 0 ||
		    spiffe_selectors_add(&e.sel, sv, strlen(sv), &eb) != 0) {
			errline("invalid selector \"%s\": %s",
				o.selectors.v[i], eb.msg);
			spiffe_agent_entry_free(&e);
			return EXIT_USAGE;
		}
	}
	open_registry(&reg, &dirfd, 1);
	if (spiffe_agent_registry_create(&reg, &e, &out, &eb) != 0) {
		errline("%s", eb.msg);
	} else {
		print_entry(&out);
		rc = 0;
	}
	spiffe_agent_entry_free(&e);
	spiffe_agent_entry_free(&out);
	spiffe_agent_registry_free(&reg);
	close(dirfd);
	free(config_text);
	return rc;
}

static int cmd_show(void)
{
	spiffe_agent_registry reg;
	spiffe_agent_entries all;
	spiffe_selectors want;
	spiffe_errbuf eb;
	size_t n = 0;
	char *keep;
	int dirfd = -1;

	settle(show_flags, NFLAGS(show_flags));
	if (o.entry_id != NULL && (o.spiffe_id != NULL ||
				   o.parent_id != NULL ||
				   o.selectors.n > 0)) {
		errline("the -entryID flag can't be combined with others");
		return EXIT_USAGE;
	}
	spiffe_selectors_init(&want);
	for (size_t i = 0; i < o.selectors.n; i++) {
		if (spiffe_selectors_add(&want, o.selectors.v[i],
					 strlen(o.selectors.v[i]), &eb) != 0) {
			errline("invalid selector \"%s\": %s",
				o.selectors.v[i], eb.msg);
			spiffe_selectors_free(&want);
			return EXIT_USAGE;
		}
	}
	open_registry(&reg, &dirfd, 0);
	spiffe_agent_entries_init(&all);
	if (spiffe_agent_registry_list(&reg, &all, &eb) != 0) {
		errline("%s", eb.msg);
		exit(EXIT_FAIL);
	}
	if ((keep = calloc(all.n + 1, 1)) == NULL) {
		errline("out of memory");
		exit(EXIT_FAIL);
	}
	for (size_t i = 0; i < all.n; i++) {
		const spiffe_agent_entry *e = &all.v[i];

		keep[i] = (o.entry_id == NULL ||
			   strcmp(e->id, o.entry_id) == 0) &&
			  (o.spiffe_id == NULL ||
			   strcmp(e->spiffe_id, o.spiffe_id) == 0) &&
			  (o.parent_id == NULL ||
			   strcmp(e->parent_id, o.parent_id) == 0) &&
			  spiffe_selectors_subset(&want, &e->sel);
		n += (size_t)keep[i];
	}
	if (o.entry_id != NULL && n == 0) {
		errline("error fetching entry ID %s: entry not found",
			o.entry_id);
		exit(EXIT_FAIL);
	}
	printf("Found %zu %s\n", n, n == 1 ? "entry" : "entries");
	for (size_t i = 0; i < all.n; i++)
		if (keep[i])
			print_entry(&all.v[i]);
	free(keep);
	spiffe_agent_entries_free(&all);
	spiffe_selectors_free(&want);
	spiffe_agent_registry_free(&reg);
	close(dirfd);
	free(config_text);
	return 0;
}

static int cmd_delete(void)
{
	spiffe_agent_registry reg;
	spiffe_errbuf eb;
	int dirfd = -1, rc = EXIT_FAIL;

	settle(delete_flags, NFLAGS(delete_flags));
	if (o.entry_id == NULL) {
		errline("entry delete needs -entryID");
		return EXIT_USAGE;
	}
	open_registry(&reg, &dirfd, 0);
	if (spiffe_agent_registry_delete(&reg, o.entry_id,
					 strlen(o.entry_id), &eb) != 0) {
		errline("%s", eb.msg);
	} else {
		printf("Deleted entry with ID: %s\n", o.entry_id);
		rc = 0;
	}
	spiffe_agent_registry_free(&reg);
	close(dirfd);
	free(config_text);
	return rc;
}

/* ---- healthcheck -------------------------------------------------------- */

/*
 * Healthy: the agent answers FetchX509Bundles with bundles, or with
 * PermissionDenied (it works; the caller just has no entry).
 * Everything else, an unreachable socket or a timeout included, is not.
 */
static int cmd_health(void)
{
	static char addr[128];
	spiffe_wlapi_options wo;
	spiffe_wlapi_client *c = NULL;
	spiffe_bundle_set *set = NULL;
	spiffe_errbuf eb;
	int rc;

	if (o.socket == NULL)
		o.socket = DEFAULT_SOCKET;
	if (strncmp(o.socket, "unix:///", 8) == 0)
		o.socket += 7;          /* the form spiffe and SPIRE take */
	if (o.socket[0] != '/' ||
	    (size_t)snprintf(addr, sizeof(addr), "unix://%s", o.socket) >=
	    sizeof(addr)) {
		errline("-socketPath must be an absolute path of at most %zu "
			"bytes", sizeof(addr) - 8);
		return EXIT_USAGE;
	}
	if (o.timeout < 1000000) {
		errline("-timeout must be at least 1ms");
		return EXIT_USAGE;
	}
	spiffe_wlapi_options_init(&wo);
	wo.address = addr;
	wo.timeout_ms = o.timeout / 1000000 > INT_MAX ? INT_MAX :
			(int)(o.timeout / 1000000);
	rc = spiffe_wlapi_client_new(&c, &wo, &eb);
	if (rc == 0)
		rc = spiffe_wlapi_fetch_x509_bundles(c, &set, &eb);
	if (set != NULL)
		spiffe_bundle_set_unref(set);
	spiffe_wlapi_client_free(c);
	if (rc == SPIFFE_ERR_GRPC &&
	    strncmp(eb.msg, "PermissionDenied:", 17) == 0)
		rc = 0;
	if (rc != 0) {
		if (o.verbose)
			fprintf(stderr, "Agent is unhealthy: %s\n", eb.msg);
		else
			fprintf(stderr, "Agent is unhealthy.\n");
		return EXIT_FAIL;
	}
	printf("Agent is healthy.\n");
	return 0;
}

/* ---- main --------------------------------------------------------------- */

static const struct cmd cmds[] = {
	{ "run", run_flags, NFLAGS(run_flags), cmd_run,
	  "Runs the agent: serves the Workload API on -socketPath" },
	{ "entry create", create_flags, NFLAGS(create_flags), cmd_create,
	  "Creates a registration entry" },
	{ "entry show", show_flags, NFLAGS(show_flags), cmd_show,
	  "Shows registration entries" },
	{ "entry delete", delete_flags, NFLAGS(delete_flags), cmd_delete,
	  "Deletes a registration entry" },
	{ "healthcheck", health_flags, NFLAGS(health_flags), cmd_health,
	  "Checks that the agent answers (exit 0 yes, 1 no, 2 usage)" },
};

static void usage(FILE *f)
{
	fputs("Usage: spiffe-agent <command> [flags]\n\n"
	      "The SPIFFE Workload API for one host: a local CA, Unix "
	      "workload\nattestation and registration entries.\n\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-14s %s\n", cmds[i].name, cmds[i].help);
	fputs("\nRun \"spiffe-agent <command> -h\" for a command's flags.\n",
	      f);
}

static int is_help(const char *a)
{
	return strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0 ||
	       strcmp(a, "--help") == 0 || strcmp(a, "help") == 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c = NULL;
	spiffe_errbuf eb;
	int used = 0, nargs, rc;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *n = cmds[i].name, *sp = strchr(n, ' ');

		if (sp == NULL && strcmp(argv[1], n) == 0) {
			c = &cmds[i];
			used = 1;
		} else if (sp != NULL && argc > 2 &&
			   strncmp(argv[1], n, (size_t)(sp - n)) == 0 &&
			   argv[1][sp - n] == '\0' &&
			   strcmp(argv[2], sp + 1) == 0) {
			c = &cmds[i];
			used = 2;
		}
	}
	if (c == NULL) {
		if (strcmp(argv[1], "entry") == 0 &&
		    (argc == 2 || is_help(argv[2]))) {
			printf("Usage: spiffe-agent entry "
			       "<create|show|delete> [flags]\n");
			return argc == 2 ? EXIT_USAGE : 0;
		}
		errline("unknown command \"%s%s%s\" (see spiffe-agent -h)",
			argv[1], argc > 2 && strcmp(argv[1], "entry") == 0 ?
			" " : "", argc > 2 && strcmp(argv[1], "entry") == 0 ?
			argv[2] : "");
		return EXIT_USAGE;
	}
	o.timeout = 5000000000;
	rc = spiffe_cli_parse(c->flags, c->nflags, argc - 1 - used,
			      argv + 1 + used, &nargs, &eb);
	if (rc == SPIFFE_CLI_HELP) {
		printf("Usage: spiffe-agent %s [flags]\n\n%s.\n\nFlags:\n",
		       c->name, c->help);
		spiffe_cli_usage(stdout, c->flags, c->nflags);
		return 0;
	}
	if (rc != 0) {
		errline("%s: %s (see spiffe-agent %s -h)", c->name, eb.msg,
			c->name);
		return EXIT_USAGE;
	}
	if (nargs != 0) {
		errline("%s: unexpected argument \"%s\" (see spiffe-agent %s "
			"-h)", c->name, argv[1 + used], c->name);
		return EXIT_USAGE;
	}
	return c->run();
}
