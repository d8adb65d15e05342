/* Registration entries: the file format (exact bytes, strict loading,
 * every rejection with its message), create/show/delete, duplicates,
 * reload after another process's change, matching order, limits, and
 * concurrent creates from several processes. */
#include "test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/registry.h"
#include "agent/store.h"
#include "clock.h"

#define S(lit) lit, sizeof(lit) - 1

static spiffe_td TD;

static void setup(void)
{
	if (spiffe_td_parse(&TD, S("example.org"), NULL) != 0)
		abort();
}

static int tmpdir(char dir[64])
{
	snprintf(dir, 64, "/tmp/agent-reg.XXXXXX");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static void rmtree(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int open_reg(spiffe_agent_registry *r, const char *dir,
		    spiffe_errbuf *eb)
{
	int fd, rc;

	spiffe_agent_registry_init(r);
	rc = spiffe_agent_dir_open(dir, &fd, eb);
	if (rc != 0)
		return rc;
	rc = spiffe_agent_registry_open(r, fd, &TD, eb);
	close(fd);
	return rc;
}

/* Writes dir/entries.json atomically (as another process would). */
static int put_entries(const char *dir, const char *text)
{
	spiffe_errbuf eb;
	int fd, rc;

	if (spiffe_agent_dir_open(dir, &fd, &eb) != 0)
		return -1;
	rc = spiffe_agent_file_write(fd, SPIFFE_AGENT_ENTRIES_FILE, text,
				     strlen(text), &eb);
	close(fd);
	return rc;
}

static char *slurp(const char *dir, const char *name)
{
	char p[128];
	static char buf[1 << 16];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* An entry for spiffe://example.org/<path> with the given selectors. */
static void mk(spiffe_agent_entry *e, const char *id, const char *path,
	       const char *const *sel)
{
	char sid[256];

	spiffe_agent_entry_init(e);
	snprintf(e->id, sizeof(e->id), "%s", id);
	snprintf(sid, sizeof(sid), "spiffe://example.org/%s", path);
	e->spiffe_id = strdup(sid);
	for (; *sel != NULL; sel++)
		if (spiffe_selectors_add(&e->sel, *sel, strlen(*sel),
					 NULL) != 0)
			abort();
}

static const char GOOD[] =
	"{\"entries\":[\n"
	" {\"spiffe_id\":\"spiffe://example.org/web\",\"id\":\"e2\","
	"  \"selectors\":[\"unix:uid:1000\",\"unix:gid:50\"],"
	"  \"x509_svid_ttl\":600,\"hint\":\"web\",\"created\":5},\n"
	" {\"id\":\"e1\",\"spiffe_id\":\"spiffe://example.org/db\","
	"  \"parent_id\":\"spiffe://example.org/agent\","
	"  \"selectors\":[\"unix:path:/usr/bin/db\"],\"jwt_svid_ttl\":60}\n"
	"],\"version\":1}";

TEST(parse_good_file)
{
	spiffe_agent_entries l;
	spiffe_errbuf eb;

	spiffe_agent_entries_init(&l);
	CHECK_INT(spiffe_agent_registry_parse(S(GOOD), &TD, &l, &eb), 0);
	CHECK_INT(l.n, 2);
	/* Sorted by spiffe_id: db before web. */
	CHECK_STR(l.v[0].id, "e1");
	CHECK_STR(l.v[0].spiffe_id, "spiffe://example.org/db");
	CHECK_STR(l.v[0].parent_id, "spiffe://example.org/agent");
	CHECK_INT(l.v[0].sel.n, 1);
	CHECK_INT(l.v[0].x509_svid_ttl, 0);
	CHECK_INT(l.v[0].jwt_svid_ttl, 60);
	CHECK_STR(l.v[0].hint, "");
	CHECK_INT(l.v[0].created, 0);
	CHECK_STR(l.v[1].id, "e2");
	CHECK_STR(l.v[1].parent_id, "");
	CHECK_INT(l.v[1].sel.n, 2);
	CHECK_STR(l.v[1].sel.v[0], "unix:gid:50");
	CHECK_STR(l.v[1].sel.v[1], "unix:uid:1000");
	CHECK_INT(l.v[1].x509_svid_ttl, 600);
	CHECK_STR(l.v[1].hint, "web");
	CHECK_INT(l.v[1].created, 5);
	spiffe_agent_entries_free(&l);
	spiffe_agent_entries_free(&l);
}

TEST(marshal_exact_and_round_trip)
{
	static const char want[] =
		"{\"version\":1,\"entries\":[\n"
		"{\"id\":\"e1\",\"spiffe_id\":\"spiffe://example.org/db\","
		"\"parent_id\":\"spiffe://example.org/agent\",\"selectors\":"
		"[\"unix:path:/usr/bin/db\"],\"x509_svid_ttl\":0,"
		"\"jwt_svid_ttl\":60,\"hint\":\"\",\"created\":0},\n"
		"{\"id\":\"e2\",\"spiffe_id\":\"spiffe://example.org/web\","
		"\"parent_id\":\"\",\"selectors\":[\"unix:gid:50\","
		"\"unix:uid:1000\"],\"x509_svid_ttl\":600,\"jwt_svid_ttl\":0,"
		"\"hint\":\"web\",\"created\":5}\n"
		"]}\n";
	spiffe_agent_entries l, m;
	spiffe_errbuf eb;
	char *t, *t2;
	size_t n, n2;

	spiffe_agent_entries_init(&l);
	spiffe_agent_entries_init(&m);
	CHECK_INT(spiffe_agent_registry_parse(S(GOOD), &TD, &l, &eb), 0);
	CHECK_INT(spiffe_agent_registry_marshal(&l, &t, &n, &eb), 0);
	CHECK_STR(t, want);
	CHECK_INT(n, sizeof(want) - 1);
	CHECK_INT(spiffe_agent_registry_parse(t, n, &TD, &m, &eb), 0);
	CHECK_INT(spiffe_agent_registry_marshal(&m, &t2, &n2, &eb), 0);
	CHECK_STR(t2, want);
	free(t);
	free(t2);
	spiffe_agent_entries_free(&l);
	/* No entries. */
	CHECK_INT(spiffe_agent_registry_marshal(&l, &t, &n, &eb), 0);
	CHECK_STR(t, "{\"version\":1,\"entries\":[\n]}\n");
	CHECK_INT(spiffe_agent_registry_parse(t, n, &TD, &m, &eb), 0);
	CHECK_INT(m.n, 0);
	free(t);
	spiffe_agent_entries_free(&m);
}

/* One entry object around members, in a version 1 file. */
#define FILE1(members) "{\"version\":1,\"entries\":[{" members "}]}"
#define BASE "\"id\":\"a\",\"spiffe_id\":\"spiffe://example.org/w\","
#define SEL "\"selectors\":[\"unix:uid:1\"]"

TEST(parse_rejects)
{
	static const struct {
		const char *in;
		int err;
		const char *msg;       /* NULL: not checked (JSON reader's) */
	} v[] = {
		{ "[]", SPIFFE_ERR_MALFORMED, "entries file is not a JSON "
		  "object" },
		{ "{\"entries\":[]}", SPIFFE_ERR_MALFORMED, "entries file "
		  "needs \"version\": 1 and an \"entries\" array" },
		{ "{\"version\":1}", SPIFFE_ERR_MALFORMED, "entries file "
		  "needs \"version\": 1 and an \"entries\" array" },
		{ "{\"version\":1,\"entries\":{}}", SPIFFE_ERR_MALFORMED,
		  "entries file needs \"version\": 1 and an \"entries\" "
		  "array" },
		{ "{\"version\":2,\"entries\":[]}", SPIFFE_ERR_MALFORMED,
		  "entries file \"version\" must be 1" },
		{ "{\"version\":1.0,\"entries\":[]}", SPIFFE_ERR_MALFORMED,
		  "entries file \"version\" must be 1" },
		{ "{\"version\":1,\"entries\":[],\"x\":0}",
		  SPIFFE_ERR_MALFORMED, "entries file has an unknown member" },
		{ "{\"version\":1,\"entries\":[1]}", SPIFFE_ERR_MALFORMED,
		  "entry 1: not an object" },
		{ FILE1(BASE "\"selector\":[\"unix:uid:1\"]"),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: unknown member \"selector\"" },
		{ FILE1("\"spiffe_id\":\"spiffe://example.org/w\"," SEL),
		  SPIFFE_ERR_MALFORMED, "entry 1: \"id\" is missing" },
		{ FILE1("\"id\":\"a\"," SEL), SPIFFE_ERR_MALFORMED,
		  "entry 1: \"spiffe_id\" is missing" },
		{ FILE1(BASE "\"hint\":\"\""), SPIFFE_ERR_MALFORMED,
		  "entry 1: \"selectors\" is missing" },
		{ FILE1(BASE "\"selectors\":[]"), SPIFFE_ERR_MALFORMED,
		  "entry 1: an entry needs at least one selector" },
		{ FILE1(BASE "\"selectors\":\"unix:uid:1\""),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: \"selectors\" must be an array" },
		{ FILE1(BASE "\"selectors\":[\"unix:uid:1\",1]"),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: selector 2: \"selectors\" must be a string" },
		{ FILE1(BASE "\"selectors\":[\"uid1\"]"), SPIFFE_ERR_MALFORMED,
		  "entry 1: selector 1: selector must be \"type:value\" "
		  "(no ':')" },
		{ FILE1(BASE "\"selectors\":[\"unix:\"]"),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: selector 1: selector value is empty" },
		{ FILE1(BASE "\"selectors\":[\":x\"]"), SPIFFE_ERR_MALFORMED,
		  "entry 1: selector 1: selector type is empty" },
		{ FILE1(BASE "\"selectors\":[\"Unix:x\"]"),
		  SPIFFE_ERR_MALFORMED, "entry 1: selector 1: selector type "
		  "characters are limited to a-z, 0-9, '_' and '-' (byte 0x55 "
		  "at 0)" },
		{ FILE1(BASE "\"selectors\":[\"unix:a\\nb\"]"),
		  SPIFFE_ERR_MALFORMED, "entry 1: selector 1: selector value "
		  "has a control character or invalid UTF-8 at byte 6" },
		{ FILE1(BASE "\"selectors\":[\"unix:a\\u0000\"]"),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: selector 1: \"selectors\" contains NUL" },
		{ FILE1(BASE "\"selectors\":[\"unix:uid:1\",\"unix:uid:1\"]"),
		  SPIFFE_ERR_ARG, "entry 1: selector 2: duplicate selector "
		  "\"unix:uid:1\"" },
		{ FILE1("\"id\":\"a\",\"spiffe_id\":\"spiffe://example.org/\","
			SEL), SPIFFE_ERR_SPIFFEID, "entry 1: spiffe_id: path "
		  "cannot have a trailing slash: \"/\" at offset 20 in "
		  "\"spiffe://example.org/\"" },
		{ FILE1("\"id\":\"a\",\"spiffe_id\":\"spiffe://other.org/w\","
			SEL), SPIFFE_ERR_SPIFFEID, "entry 1: spiffe_id "
		  "\"spiffe://other.org/w\" is not in trust domain "
		  "\"example.org\"" },
		{ FILE1("\"id\":\"a\",\"spiffe_id\":\"spiffe://example.org\","
			SEL), SPIFFE_ERR_SPIFFEID, "entry 1: spiffe_id "
		  "\"spiffe://example.org\" has no path (a workload ID needs "
		  "one)" },
		{ FILE1(BASE SEL ",\"parent_id\":\"x\""), SPIFFE_ERR_SPIFFEID,
		  "entry 1: parent_id: scheme is missing or invalid: expected "
		  "\"spiffe://\" in \"x\"" },
		{ FILE1(BASE SEL ",\"parent_id\":\"spiffe://o.org/a\""),
		  SPIFFE_ERR_SPIFFEID, "entry 1: parent_id "
		  "\"spiffe://o.org/a\" is not in trust domain "
		  "\"example.org\"" },
		{ FILE1(BASE SEL ",\"x509_svid_ttl\":-1"),
		  SPIFFE_ERR_MALFORMED, "entry 1: TTLs must be 0 to 31622400 "
		  "seconds" },
		{ FILE1(BASE SEL ",\"jwt_svid_ttl\":31622401"),
		  SPIFFE_ERR_MALFORMED, "entry 1: TTLs must be 0 to 31622400 "
		  "seconds" },
		{ FILE1(BASE SEL ",\"jwt_svid_ttl\":1.5"),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: \"jwt_svid_ttl\" must be an integer" },
		{ FILE1(BASE SEL ",\"x509_svid_ttl\":\"60\""),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: \"x509_svid_ttl\" must be an integer" },
		{ FILE1(BASE SEL ",\"created\":-5"), SPIFFE_ERR_MALFORMED,
		  "entry 1: created is negative" },
		{ FILE1(BASE SEL ",\"hint\":\"a\\u0001\""),
		  SPIFFE_ERR_MALFORMED,
		  "entry 1: hint has a control character" },
		{ FILE1(BASE SEL ",\"hint\":null"), SPIFFE_ERR_MALFORMED,
		  "entry 1: \"hint\" must be a string" },
		{ FILE1("\"id\":\"a b\",\"spiffe_id\":\"spiffe://example.org/"
			"w\"," SEL), SPIFFE_ERR_MALFORMED, "entry 1: entry id "
		  "characters are limited to letters, digits, '.', '_' and "
		  "'-'" },
		{ FILE1("\"id\":\"\",\"spiffe_id\":\"spiffe://example.org/w\","
			SEL), SPIFFE_ERR_MALFORMED,
		  "entry 1: entry id must be 1 to 64 bytes" },
		{ "{\"version\":1,\"entries\":[{" BASE SEL "},{\"id\":\"a\","
		  "\"spiffe_id\":\"spiffe://example.org/v\"," SEL "}]}",
		  SPIFFE_ERR_MALFORMED, "entry id \"a\" appears twice" },
		{ "{\"version\":1,\"entries\":[{" BASE SEL "},{\"id\":\"b\","
		  "\"spiffe_id\":\"spiffe://example.org/w\"," SEL "}]}",
		  SPIFFE_ERR_MALFORMED, "entries \"a\" and \"b\" have the "
		  "same spiffe_id, parent_id and selectors" },
		{ FILE1(BASE SEL ",\"hint\":\"a\",\"hint\":\"b\""),
		  SPIFFE_ERR_JSON, NULL },
		{ "{\"version\":1,\"entries\":[", SPIFFE_ERR_JSON, NULL },
		{ "", SPIFFE_ERR_JSON, NULL },
	};
	spiffe_agent_entries l;
	spiffe_errbuf eb;

	spiffe_agent_entries_init(&l);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int rc = spiffe_agent_registry_parse(v[i].in, strlen(v[i].in),
						     &TD, &l, &eb);

		if (rc != v[i].err)
			FAILF("case %zu: rc %d, msg %s", i, rc, eb.msg);
		CHECK_INT(rc, v[i].err);
		if (v[i].msg != NULL)
			CHECK_STR(eb.msg, v[i].msg);
		CHECK_INT(l.n, 0);
	}
}

/* A file with n entries (each with k selectors), in a new buffer. */
static char *big_file(size_t n, size_t k)
{
	size_t cap = 256 + n * (160 + k * 24), w;
	char *t = malloc(cap);

	if (t == NULL)
		return NULL;
	w = (size_t)snprintf(t, cap, "{\"version\":1,\"entries\":[");
	for (size_t i = 0; i < n; i++) {
		w += (size_t)snprintf(t + w, cap - w, "%s{\"id\":\"e%zu\","
				      "\"spiffe_id\":\"spiffe://example.org/"
				      "w%zu\",\"selectors\":[", i ? "," : "",
				      i, i);
		for (size_t s = 0; s < k; s++)
			w += (size_t)snprintf(t + w, cap - w, "%s\"t:%zu\"",
					      s ? "," : "", s);
		w += (size_t)snprintf(t + w, cap - w, "]}");
	}
	snprintf(t + w, cap - w, "]}");
	return t;
}

TEST(parse_limits)
{
	spiffe_agent_entries l;
	spiffe_errbuf eb;
	char *t;

	spiffe_agent_entries_init(&l);
	/* The largest registry, every entry with the most selectors. */
	t = big_file(SPIFFE_AGENT_MAX_ENTRIES, SPIFFE_AGENT_ENTRY_SELECTORS);
	CHECK(t != NULL);
	CHECK_INT(spiffe_agent_registry_parse(t, strlen(t), &TD, &l, &eb), 0);
	CHECK_INT(l.n, SPIFFE_AGENT_MAX_ENTRIES);
	free(t);
	t = big_file(SPIFFE_AGENT_MAX_ENTRIES + 1, 1);
	CHECK_INT(spiffe_agent_registry_parse(t, strlen(t), &TD, &l, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "more than 1024 entries");
	free(t);
	t = big_file(1, SPIFFE_AGENT_ENTRY_SELECTORS + 1);
	CHECK_INT(spiffe_agent_registry_parse(t, strlen(t), &TD, &l, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "entry 1: more than 32 selectors");
	free(t);
	/* Longest hint, and one byte more. */
	static char hint[SPIFFE_AGENT_HINT_MAX + 1];
	static char file[2 * SPIFFE_AGENT_HINT_MAX];
	memset(hint, 'h', sizeof(hint));
	snprintf(file, sizeof(file), FILE1(BASE SEL ",\"hint\":\"%.*s\""),
		 SPIFFE_AGENT_HINT_MAX, hint);
	CHECK_INT(spiffe_agent_registry_parse(file, strlen(file), &TD, &l,
					      &eb), 0);
	CHECK_INT(strlen(l.v[0].hint), SPIFFE_AGENT_HINT_MAX);
	snprintf(file, sizeof(file), FILE1(BASE SEL ",\"hint\":\"%.*s\""),
		 SPIFFE_AGENT_HINT_MAX + 1, hint);
	CHECK_INT(spiffe_agent_registry_parse(file, strlen(file), &TD, &l,
					      &eb), SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "entry 1: \"hint\" is longer than 1024 bytes");
	spiffe_agent_entries_free(&l);
}

TEST(create_show_delete)
{
	static const char *const sel[] = { "unix:uid:1000", NULL };
	spiffe_agent_registry r;
	spiffe_agent_entry e, got;
	spiffe_agent_entries l;
	spiffe_errbuf eb;
	struct stat st;
	char dir[64], p[128], want[1024];
	const char *text;

	setup();
	CHECK_INT(tmpdir(dir), 0);
	spiffe_clock_set(1700000000);
	spiffe_agent_entries_init(&l);
	spiffe_agent_entry_init(&got);
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	CHECK_INT(r.entries.n, 0);
	mk(&e, "", "web", sel);
	e.hint = strdup("web");
	e.x509_svid_ttl = 120;
	CHECK_INT(spiffe_agent_registry_create(&r, &e, &got, &eb), 0);
	/* A random version 4 UUID. */
	CHECK_INT(strlen(got.id), 36);
	CHECK(got.id[8] == '-' && got.id[13] == '-' && got.id[14] == '4' &&
	      got.id[18] == '-' && got.id[23] == '-');
	CHECK(strchr("89ab", got.id[19]) != NULL);
	CHECK_INT(got.created, 1700000000);
	CHECK_INT(r.entries.n, 1);
	/* The file: mode 0600, exact bytes. */
	snprintf(p, sizeof(p), "%s/entries.json", dir);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	snprintf(want, sizeof(want), "{\"version\":1,\"entries\":[\n"
		 "{\"id\":\"%s\",\"spiffe_id\":\"spiffe://example.org/web\","
		 "\"parent_id\":\"\",\"selectors\":[\"unix:uid:1000\"],"
		 "\"x509_svid_ttl\":120,\"jwt_svid_ttl\":0,\"hint\":\"web\","
		 "\"created\":1700000000}\n]}\n", got.id);
	text = slurp(dir, "entries.json");
	CHECK(text != NULL);
	CHECK_STR(text, want);
	/* Show. */
	spiffe_agent_entry_free(&e);
	CHECK_INT(spiffe_agent_registry_get(&r, got.id, strlen(got.id), &e,
					    &eb), 0);
	CHECK_STR(e.spiffe_id, "spiffe://example.org/web");
	CHECK_STR(e.hint, "web");
	CHECK_INT(e.sel.n, 1);
	CHECK_INT(spiffe_agent_registry_get(&r, S("nope"), &e, &eb),
		  SPIFFE_ERR_NOT_FOUND);
	CHECK_STR(eb.msg, "no entry with id \"nope\"");
	/* Delete, and again. */
	CHECK_INT(spiffe_agent_registry_delete(&r, got.id, strlen(got.id),
					       &eb), 0);
	CHECK_INT(r.entries.n, 0);
	CHECK_INT(spiffe_agent_registry_list(&r, &l, &eb), 0);
	CHECK_INT(l.n, 0);
	CHECK_INT(spiffe_agent_registry_delete(&r, got.id, strlen(got.id),
					       &eb), SPIFFE_ERR_NOT_FOUND);
	snprintf(want, sizeof(want), "no entry with id \"%s\"", got.id);
	CHECK_STR(eb.msg, want);
	CHECK_STR(slurp(dir, "entries.json"),
		  "{\"version\":1,\"entries\":[\n]}\n");
	spiffe_agent_entry_free(&e);
	spiffe_agent_entry_free(&got);
	spiffe_agent_entries_free(&l);
	spiffe_agent_registry_free(&r);
	spiffe_agent_registry_free(&r);
	spiffe_clock_set(-1);
	rmtree(dir);
}

TEST(create_rejects)
{
	static const char *const s1[] = { "unix:uid:1000", "unix:gid:5",
					  NULL };
	static const char *const s2[] = { "unix:gid:5", NULL };
	spiffe_agent_registry r;
	spiffe_agent_entry e, d;
	spiffe_errbuf eb;
	char dir[64], want[200];

	setup();
	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	mk(&e, "first", "web", s1);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	/* Exact duplicate (another id). */
	mk(&d, "", "web", s1);
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "similar entry already exists: \"first\" has the "
		  "same spiffe_id, parent_id and selectors");
	/* Another parent, or another selector set: fine. */
	d.parent_id = strdup("spiffe://example.org/agent");
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb), 0);
	spiffe_agent_entry_free(&d);
	mk(&d, "", "web", s2);
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb), 0);
	spiffe_agent_entry_free(&d);
	/* The id in use. */
	mk(&d, "first", "other", s2);
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "entry id \"first\" is in use");
	spiffe_agent_entry_free(&d);
	/* No selectors. */
	spiffe_agent_entry_init(&d);
	d.spiffe_id = strdup("spiffe://example.org/x");
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "an entry needs at least one selector");
	spiffe_agent_entry_free(&d);
	/* Outside the trust domain, and the bare trust domain. */
	mk(&d, "", "x", s2);
	free(d.spiffe_id);
	d.spiffe_id = strdup("spiffe://evil.org/x");
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_SPIFFEID);
	CHECK_STR(eb.msg, "spiffe_id \"spiffe://evil.org/x\" is not in trust "
		  "domain \"example.org\"");
	free(d.spiffe_id);
	d.spiffe_id = strdup("spiffe://example.org");
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_SPIFFEID);
	free(d.spiffe_id);
	d.spiffe_id = strdup("spiffe://example.org/x");
	d.hint = strdup("\xff");
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_ARG);
	CHECK_STR(eb.msg, "an entry string is not valid UTF-8");
	free(d.hint);
	d.hint = NULL;
	d.jwt_svid_ttl = -1;
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_MALFORMED);
	spiffe_agent_entry_free(&d);
	CHECK_INT(r.entries.n, 3);
	/* A corrupt file is never overwritten by a create. */
	CHECK_INT(put_entries(dir, "{\"version\":1,\"entries\":[{}]}"), 0);
	mk(&d, "", "y", s2);
	CHECK_INT(spiffe_agent_registry_create(&r, &d, NULL, &eb),
		  SPIFFE_ERR_MALFORMED);
	snprintf(want, sizeof(want), "entries.json does not load; fix or "
		 "remove it first: entry 1: \"id\" is missing");
	CHECK_STR(eb.msg, want);
	CHECK_STR(slurp(dir, "entries.json"),
		  "{\"version\":1,\"entries\":[{}]}");
	spiffe_agent_entry_free(&d);
	spiffe_agent_entry_free(&e);
	spiffe_agent_registry_free(&r);
	rmtree(dir);
}

TEST(reload_after_external_change)
{
	static const char *const sel[] = { "unix:uid:1", NULL };
	spiffe_agent_registry a, b;
	spiffe_agent_entry e;
	spiffe_errbuf eb;
	char dir[64], *text;
	size_t len;
	int changed = -1;
	uint64_t gen;

	setup();
	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(open_reg(&a, dir, &eb), 0);
	CHECK_INT(open_reg(&b, dir, &eb), 0);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 0);
	/* Another process ("entry create") adds one. */
	mk(&e, "x1", "one", sel);
	CHECK_INT(spiffe_agent_registry_create(&b, &e, NULL, &eb), 0);
	gen = a.generation;
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 1);
	CHECK_INT(a.entries.n, 1);
	CHECK_INT(a.generation, gen + 1);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 0);
	/* Rewritten with the same content: a new file, no change. */
	CHECK_INT(spiffe_agent_registry_marshal(&a.entries, &text, &len,
						&eb), 0);
	CHECK_INT(put_entries(dir, text), 0);
	free(text);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 0);
	/* A broken edit: an error on every refresh, and no entries. */
	CHECK_INT(put_entries(dir, "{\"version\":1,\"entries\":[{\"id\":"), 0);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb),
		  SPIFFE_ERR_JSON);
	CHECK(strncmp(eb.msg, "entries.json: ", 14) == 0);
	CHECK_INT(changed, 1);
	CHECK_INT(a.entries.n, 0);
	memset(&eb, 0, sizeof(eb));
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb),
		  SPIFFE_ERR_JSON);
	CHECK(strncmp(eb.msg, "entries.json: ", 14) == 0);
	CHECK_INT(changed, 0);
	/* Fixed: the entries are back. */
	CHECK_INT(put_entries(dir, "{\"version\":1,\"entries\":[{\"id\":\"z\","
			      "\"spiffe_id\":\"spiffe://example.org/z\","
			      "\"selectors\":[\"unix:uid:1\"]}]}"), 0);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 1);
	CHECK_INT(a.entries.n, 1);
	CHECK_STR(a.entries.v[0].id, "z");
	/* Removed: empty. */
	char p[128];
	snprintf(p, sizeof(p), "%s/entries.json", dir);
	CHECK_INT(unlink(p), 0);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 1);
	CHECK_INT(a.entries.n, 0);
	CHECK_INT(spiffe_agent_registry_refresh(&a, &changed, &eb), 0);
	CHECK_INT(changed, 0);
	/* A corrupt file at open: an error, the registry empty and open. */
	CHECK_INT(put_entries(dir, "[]"), 0);
	spiffe_agent_registry_free(&b);
	CHECK_INT(open_reg(&b, dir, &eb), SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "entries.json: entries file is not a JSON object");
	CHECK_INT(b.entries.n, 0);
	CHECK(b.dirfd >= 0);
	spiffe_agent_entry_free(&e);
	spiffe_agent_registry_free(&a);
	spiffe_agent_registry_free(&b);
	rmtree(dir);
}

TEST(match_order)
{
	static const char *const uid[] = { "unix:uid:1000", NULL };
	static const char *const uid_gid[] = { "unix:uid:1000",
					       "unix:gid:1000", NULL };
	static const char *const uid_gid2[] = { "unix:uid:1000",
						"unix:gid:2000", NULL };
	static const char *const path[] = { "unix:path:/usr/bin/x", NULL };
	static const char *const wl[] = { "unix:uid:1000", "unix:gid:1000",
					  "unix:path:/usr/bin/x",
					  "unix:user:alice", NULL };
	spiffe_agent_registry r;
	spiffe_agent_entry e;
	spiffe_agent_entries m;
	spiffe_selectors w;
	spiffe_errbuf eb;
	char dir[64];

	setup();
	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	spiffe_agent_entries_init(&m);
	spiffe_selectors_init(&w);
	mk(&e, "e1", "b", uid);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	spiffe_agent_entry_free(&e);
	mk(&e, "e2", "a", uid_gid);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	spiffe_agent_entry_free(&e);
	mk(&e, "e3", "a", uid_gid2);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	spiffe_agent_entry_free(&e);
	mk(&e, "e0", "a", uid);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	spiffe_agent_entry_free(&e);
	mk(&e, "e4", "c/d", path);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	spiffe_agent_entry_free(&e);
	for (const char *const *s = wl; *s; s++)
		CHECK_INT(spiffe_selectors_add(&w, *s, strlen(*s), &eb), 0);
	CHECK_INT(spiffe_agent_registry_match(&r, &w, &m, &eb), 0);
	CHECK_INT(m.n, 4);
	CHECK_STR(m.v[0].id, "e0");
	CHECK_STR(m.v[0].spiffe_id, "spiffe://example.org/a");
	CHECK_STR(m.v[1].id, "e2");
	CHECK_STR(m.v[2].id, "e1");
	CHECK_STR(m.v[2].spiffe_id, "spiffe://example.org/b");
	CHECK_STR(m.v[3].id, "e4");
	/* Fewer selectors: fewer matches; none: none. */
	spiffe_selectors_free(&w);
	CHECK_INT(spiffe_selectors_add(&w, S("unix:uid:1000"), &eb), 0);
	CHECK_INT(spiffe_agent_registry_match(&r, &w, &m, &eb), 0);
	CHECK_INT(m.n, 2);
	CHECK_STR(m.v[0].id, "e0");
	CHECK_STR(m.v[1].id, "e1");
	spiffe_selectors_free(&w);
	CHECK_INT(spiffe_agent_registry_match(&r, &w, &m, &eb), 0);
	CHECK_INT(m.n, 0);
	CHECK_INT(spiffe_selectors_add(&w, S("unix:uid:10000"), &eb), 0);
	CHECK_INT(spiffe_agent_registry_match(&r, &w, &m, &eb), 0);
	CHECK_INT(m.n, 0);
	spiffe_selectors_free(&w);
	spiffe_agent_entries_free(&m);
	spiffe_agent_registry_free(&r);
	rmtree(dir);
}

TEST(create_at_the_limit)
{
	static const char *const sel[] = { "unix:uid:1", NULL };
	spiffe_agent_registry r;
	spiffe_agent_entry e;
	spiffe_errbuf eb;
	char dir[64], *t;

	setup();
	CHECK_INT(tmpdir(dir), 0);
	t = big_file(SPIFFE_AGENT_MAX_ENTRIES, 1);
	CHECK(t != NULL);
	CHECK_INT(put_entries(dir, t), 0);
	free(t);
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	CHECK_INT(r.entries.n, SPIFFE_AGENT_MAX_ENTRIES);
	mk(&e, "", "new", sel);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "the registry holds 1024 entries, its limit");
	CHECK_INT(spiffe_agent_registry_delete(&r, S("e7"), &eb), 0);
	CHECK_INT(spiffe_agent_registry_create(&r, &e, NULL, &eb), 0);
	CHECK_INT(r.entries.n, SPIFFE_AGENT_MAX_ENTRIES);
	spiffe_agent_entry_free(&e);
	spiffe_agent_registry_free(&r);
	rmtree(dir);
}

#define PROCS 4
#define EACH 10

TEST(concurrent_creates_from_processes)
{
	spiffe_agent_registry r;
	spiffe_errbuf eb;
	pid_t pids[PROCS];
	char dir[64];
	int st;

	setup();
	CHECK_INT(tmpdir(dir), 0);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		CHECK(pids[p] >= 0);
		if (pids[p] == 0) {
			spiffe_agent_registry c;
			int bad = 0;

			if (open_reg(&c, dir, &eb) != 0)
				_exit(2);
			for (int i = 0; i < EACH; i++) {
				char path[32], s[32];
				const char *sel[] = { s, NULL };
				spiffe_agent_entry e;

				snprintf(path, sizeof(path), "p%d/%d", p, i);
				snprintf(s, sizeof(s), "unix:uid:%d", i);
				mk(&e, "", path, sel);
				if (spiffe_agent_registry_create(&c, &e, NULL,
								 &eb) != 0) {
					fprintf(stderr, "child: %s\n",
						eb.msg);
					bad = 1;
				}
				spiffe_agent_entry_free(&e);
			}
			spiffe_agent_registry_free(&c);
			_exit(bad ? 1 : 0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		CHECK_INT(waitpid(pids[p], &st, 0), pids[p]);
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), 0);
	}
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	CHECK_INT(r.entries.n, PROCS * EACH);
	spiffe_agent_registry_free(&r);
	rmtree(dir);
}

struct reader {
	spiffe_agent_registry *r;
	_Atomic int *stop;
	int bad;
	size_t seen;
};

static void *read_loop(void *arg)
{
	struct reader *rd = arg;
	spiffe_agent_entries m;
	spiffe_selectors w;
	spiffe_errbuf eb;

	spiffe_agent_entries_init(&m);
	spiffe_selectors_init(&w);
	if (spiffe_selectors_add(&w, S("unix:uid:1"), &eb) != 0)
		rd->bad = 1;
	while (!*rd->stop && !rd->bad) {
		if (spiffe_agent_registry_refresh(rd->r, NULL, &eb) != 0 ||
		    spiffe_agent_registry_match(rd->r, &w, &m, &eb) != 0)
			rd->bad = 1;
		if (m.n > rd->seen)
			rd->seen = m.n;
	}
	spiffe_agent_entries_free(&m);
	spiffe_selectors_free(&w);
	return NULL;
}

TEST(threads_read_while_one_writes)
{
	spiffe_agent_registry r, w;
	struct reader rd[2];
	pthread_t t[2];
	_Atomic int stop = 0;
	spiffe_errbuf eb;
	char dir[64];

	setup();
	CHECK_INT(tmpdir(dir), 0);
	CHECK_INT(open_reg(&r, dir, &eb), 0);
	CHECK_INT(open_reg(&w, dir, &eb), 0);
	for (int i = 0; i < 2; i++) {
		rd[i] = (struct reader){ &r, &stop, 0, 0 };
		CHECK_INT(pthread_create(&t[i], NULL, read_loop, &rd[i]), 0);
	}
	for (int i = 0; i < 20; i++) {
		char path[16];
		const char *sel[] = { "unix:uid:1", NULL };
		spiffe_agent_entry e;

		snprintf(path, sizeof(path), "w%d", i);
		mk(&e, "", path, sel);
		/* Half through the shared registry, half through another. */
		CHECK_INT(spiffe_agent_registry_create(i % 2 ? &r : &w, &e,
						       NULL, &eb), 0);
		spiffe_agent_entry_free(&e);
	}
	stop = 1;
	for (int i = 0; i < 2; i++) {
		CHECK_INT(pthread_join(t[i], NULL), 0);
		CHECK_INT(rd[i].bad, 0);
	}
	CHECK_INT(spiffe_agent_registry_refresh(&r, NULL, &eb), 0);
	CHECK_INT(r.entries.n, 20);
	spiffe_agent_registry_free(&r);
	spiffe_agent_registry_free(&w);
	rmtree(dir);
}

TEST(selector_sets)
{
	spiffe_selectors a, b, c;
	spiffe_errbuf eb;

	spiffe_selectors_init(&a);
	spiffe_selectors_init(&b);
	spiffe_selectors_init(&c);
	CHECK_INT(spiffe_selectors_add(&a, S("unix:uid:1"), &eb), 0);
	CHECK_INT(spiffe_selectors_add(&a, S("a:z"), &eb), 0);
	CHECK_INT(spiffe_selectors_add(&a, S("unix:gid:1"), &eb), 0);
	CHECK_STR(a.v[0], "a:z");
	CHECK_STR(a.v[1], "unix:gid:1");
	CHECK_STR(a.v[2], "unix:uid:1");
	CHECK_INT(spiffe_selectors_add(&a, S("unix:gid:1"), &eb),
		  SPIFFE_ERR_ARG);
	CHECK(spiffe_selectors_contains(&a, S("unix:gid:1")));
	CHECK(!spiffe_selectors_contains(&a, S("unix:gid:")));
	CHECK(!spiffe_selectors_contains(&a, S("unix:gid:10")));
	CHECK(!spiffe_selectors_contains(&a, NULL, 0));
	CHECK(spiffe_selectors_subset(&b, &a));
	CHECK_INT(spiffe_selectors_add(&b, S("unix:uid:1"), &eb), 0);
	CHECK(spiffe_selectors_subset(&b, &a));
	CHECK(!spiffe_selectors_subset(&a, &b));
	CHECK_INT(spiffe_selectors_add(&b, S("zz:1"), &eb), 0);
	CHECK(!spiffe_selectors_subset(&b, &a));
	CHECK_INT(spiffe_selectors_copy(&c, &a), 0);
	CHECK(spiffe_selectors_equal(&a, &c));
	CHECK(!spiffe_selectors_equal(&a, &b));
	/* UTF-8 values; bad ones. */
	CHECK_INT(spiffe_selector_check(S("unix:path:/caf\xc3\xa9"), &eb), 0);
	CHECK_INT(spiffe_selector_check(S("unix:path:/\xc3"), &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_selector_check(S("unix:path:/\xed\xa0\x80"), &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_selector_check(S("unix:path:/\xc0\xaf"), &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_selector_check(S("unix:a\x7f"), &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_selector_check(S("unix:a b"), &eb), 0);
	char big[SPIFFE_SELECTOR_MAX + 2];
	memset(big, 'a', sizeof(big));
	memcpy(big, "t:", 2);
	CHECK_INT(spiffe_selector_check(big, SPIFFE_SELECTOR_MAX, &eb), 0);
	CHECK_INT(spiffe_selector_check(big, SPIFFE_SELECTOR_MAX + 1, &eb),
		  SPIFFE_ERR_LIMIT);
	memset(big, 'a', SPIFFE_SELECTOR_TYPE_MAX + 1);
	big[SPIFFE_SELECTOR_TYPE_MAX + 1] = ':';
	CHECK_INT(spiffe_selector_check(big, SPIFFE_SELECTOR_TYPE_MAX + 3,
					&eb), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_selector_check(big + 1, SPIFFE_SELECTOR_TYPE_MAX + 2,
					&eb), 0);
	spiffe_selectors_free(&a);
	spiffe_selectors_free(&a);
	spiffe_selectors_free(&b);
	spiffe_selectors_free(&c);
}

int main(void)
{
	setup();
	RUN(parse_good_file);
	RUN(marshal_exact_and_round_trip);
	RUN(parse_rejects);
	RUN(parse_limits);
	RUN(create_show_delete);
	RUN(create_rejects);
	RUN(reload_after_external_change);
	RUN(match_order);
	RUN(create_at_the_limit);
	RUN(concurrent_creates_from_processes);
	RUN(threads_read_while_one_writes);
	RUN(selector_sets);
	return test_summary();
}
