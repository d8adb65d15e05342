/* Unix workload attestation: /proc parsers with hostile command names,
 * the test process itself through a socket, exited and zombie peers,
 * other executables, deleted executables and the digest cache.  The
 * expected SHA-256 comes from sha256sum(1), not from our code. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/attest.h"
#include "clock.h"

#define S(lit) lit, sizeof(lit) - 1

/* A stat line with the given command name and start time 4242. */
static size_t stat_line(char *out, size_t cap, int pid, const char *comm,
			size_t comm_len)
{
	int n = snprintf(out, cap, "%d (", pid);

	memcpy(out + n, comm, comm_len);
	n += (int)comm_len;
	n += snprintf(out + n, cap - (size_t)n,
		      ") S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
		      "4242 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 "
		      "0 0 0 17 3 0 0 0 0 0\n", pid, pid);
	return (size_t)n;
}

TEST(stat_hostile_command_names)
{
	static const char *const names[] = {
		"a) (b", "with space", "new\nline", ")", "", "((", "))) S 1 2",
		"x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 99 (",
	};
	spiffe_agent_proc_stat st;
	spiffe_errbuf eb;
	char line[512];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = stat_line(line, sizeof(line), 777, names[i],
				     strlen(names[i]));

		CHECK_INT(spiffe_agent_parse_stat(line, n, &st, &eb), 0);
		CHECK_INT(st.pid, 777);
		CHECK_INT(st.state, 'S');
		CHECK_INT(st.start_time, 4242);
	}
}

TEST(stat_real_self)
{
	spiffe_agent_proc_stat st;
	spiffe_errbuf eb;
	char buf[4096];
	int fd;
	ssize_t n;

	SKIP_IF_EMULATED();
	fd = open("/proc/self/stat", O_RDONLY);

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	CHECK(n > 0);
	CHECK_INT(spiffe_agent_parse_stat(buf, (size_t)n, &st, &eb), 0);
	CHECK_INT(st.pid, getpid());
	CHECK_INT(st.state, 'R');
	CHECK(st.start_time > 0);
}

TEST(stat_rejects)
{
	static const struct {
		const char *in;
		int err;
		const char *msg;
	} v[] = {
		{ "", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no process ID at the start" },
		{ "0 (x) S", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no process ID at the start" },
		{ "99999999999 (x) S", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no process ID at the start" },
		{ "-1 (x) S", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no process ID at the start" },
		{ "12 x) S", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no \" (\" after the process ID" },
		{ "12 (x S 1", SPIFFE_ERR_MALFORMED,
		  "/proc stat: command name has no ')'" },
		{ "12 (x)", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no state letter after the command name" },
		{ "12 (x) 1 2", SPIFFE_ERR_MALFORMED,
		  "/proc stat: no state letter after the command name" },
		{ "12 (x) S", SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 4 is missing" },
		{ "12 (x) S 1  2", SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 5 is not an integer" },
		{ "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18",
		  SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 22 (start time) is missing" },
		{ "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5",
		  SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 22 (start time) is not an unsigned "
		  "integer" },
		{ "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
		  "18446744073709551616", SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 22 (start time) is not an unsigned "
		  "integer" },
		{ "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5x",
		  SPIFFE_ERR_MALFORMED,
		  "/proc stat: field 22 (start time) is not an unsigned "
		  "integer" },
		{ "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 x 5",
		  SPIFFE_ERR_MALFORMED, "/proc stat: field 21 is not an "
		  "integer" },
	};
	spiffe_agent_proc_stat st;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK_INT(spiffe_agent_parse_stat(v[i].in, strlen(v[i].in),
						  &st, &eb), v[i].err);
		CHECK_STR(eb.msg, v[i].msg);
	}
	/* The largest start time, and the end of the text as terminator. */
	static const char max[] = "12 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 "
		"15 16 17 18 18446744073709551615";
	CHECK_INT(spiffe_agent_parse_stat(S(max), &st, &eb), 0);
	CHECK(st.start_time == UINT64_MAX);
	/* A name not terminated where the text is cut short. */
	CHECK_INT(spiffe_agent_parse_stat(max, 6, &st, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_INT(spiffe_agent_parse_stat(NULL, 0, &st, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "/proc stat: no process ID at the start");
}

TEST(stat_limit)
{
	static char big[SPIFFE_PROC_STAT_MAX + 1];
	spiffe_agent_proc_stat st;
	spiffe_errbuf eb;
	size_t n;

	memset(big, 'a', sizeof(big));
	n = stat_line(big, sizeof(big), 5, "x", 1);
	CHECK_INT(spiffe_agent_parse_stat(big, n, &st, &eb), 0);
	CHECK_INT(spiffe_agent_parse_stat(big, sizeof(big), &st, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "/proc stat of 4097 bytes exceeds the limit of "
		  "4096");
}

TEST(status_fields)
{
	static const char text[] =
		"Name:\tUid: 5 5 5 5\n"        /* a name never starts a line */
		"Umask:\t0022\n"
		"State:\tS (sleeping)\n"
		"Uid:\t1000\t1001\t1002\t1003\n"
		"Gid:\t100\t101\t102\t103\n"
		"FDSize:\t64\n"
		"Groups:\t4 24 27 4294967295 \n"
		"NStgid:\t77\n";
	spiffe_agent_proc_status st;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_agent_parse_status(S(text), &st, &eb), 0);
	CHECK_INT(st.uid[0], 1000);
	CHECK_INT(st.uid[1], 1001);
	CHECK_INT(st.uid[3], 1003);
	CHECK_INT(st.gid[1], 101);
	CHECK_INT(st.ngroups, 4);
	CHECK_INT(st.groups[0], 4);
	CHECK_INT(st.groups[3], 4294967295u);
}

TEST(status_empty_groups_and_no_final_newline)
{
	static const char a[] = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
		"Groups:\n";
	static const char b[] = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n"
		"Groups:\t";
	static const char c[] = "Groups:\t7\nUid:\t1 2 3 4\nGid:\t5 6 7 8";
	spiffe_agent_proc_status st;
	spiffe_errbuf eb;

	CHECK_INT(spiffe_agent_parse_status(S(a), &st, &eb), 0);
	CHECK_INT(st.ngroups, 0);
	CHECK_INT(spiffe_agent_parse_status(S(b), &st, &eb), 0);
	CHECK_INT(st.ngroups, 0);
	CHECK_INT(spiffe_agent_parse_status(S(c), &st, &eb), 0);
	CHECK_INT(st.ngroups, 1);
	CHECK_INT(st.gid[3], 8);
}

TEST(status_rejects)
{
	static const struct {
		const char *in;
		int err;
		const char *msg;
	} v[] = {
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n", SPIFFE_ERR_MALFORMED,
		  "/proc status: no \"Groups:\" line" },
		{ "Gid:\t0\t0\t0\t0\nGroups:\n", SPIFFE_ERR_MALFORMED,
		  "/proc status: no \"Uid:\" line" },
		{ "Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: malformed \"Uid:\" "
		  "line" },
		{ "Uid:\t0\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: malformed \"Uid:\" "
		  "line" },
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t-1\nGroups:\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: malformed \"Gid:\" "
		  "line" },
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t4294967296\nGroups:\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: malformed \"Gid:\" "
		  "line" },
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t1x\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: malformed \"Groups:\" "
		  "line" },
		{ "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\n"
		  "Uid:\t1 1 1 1\n",
		  SPIFFE_ERR_MALFORMED, "/proc status: \"Uid:\" appears "
		  "twice" },
	};
	spiffe_agent_proc_status st;
	spiffe_errbuf eb;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK_INT(spiffe_agent_parse_status(v[i].in, strlen(v[i].in),
						    &st, &eb), v[i].err);
		CHECK_STR(eb.msg, v[i].msg);
	}
	CHECK_INT(spiffe_agent_parse_status(NULL, 0, &st, &eb),
		  SPIFFE_ERR_MALFORMED);
	CHECK_STR(eb.msg, "/proc status: no \"Uid:\" line");
}

TEST(status_group_limit)
{
	char text[8192];
	spiffe_agent_proc_status st;
	spiffe_errbuf eb;
	size_t n;
	int i;

	n = (size_t)snprintf(text, sizeof(text),
			     "Uid:\t0 0 0 0\nGid:\t0 0 0 0\nGroups:\t");
	for (i = 0; i < SPIFFE_AGENT_MAX_GROUPS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%d ", i);
	CHECK_INT(spiffe_agent_parse_status(text, n, &st, &eb), 0);
	CHECK_INT(st.ngroups, SPIFFE_AGENT_MAX_GROUPS);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "%d\n", i);
	CHECK_INT(spiffe_agent_parse_status(text, n, &st, &eb),
		  SPIFFE_ERR_LIMIT);
	CHECK_STR(eb.msg, "/proc status: more than 256 supplementary groups");
}

/* "unix:sha256:<hex>" of file path, computed by sha256sum(1). */
static int sha256sum_selector(const char *path, char *out, size_t cap)
{
	char cmd[4200];
	char hex[65];
	FILE *f;
	int ok;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	ok = fscanf(f, "%64s", hex) == 1 && strlen(hex) == 64;
	pclose(f);
	if (!ok)
		return -1;
	snprintf(out, cap, "unix:sha256:%s", hex);
	return 0;
}

static int has(const spiffe_agent_workload *w, const char *sel)
{
	return spiffe_selectors_contains(&w->sel, sel, strlen(sel));
}

static int count_prefix(const spiffe_agent_workload *w, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < w->sel.n; i++)
		n += strncmp(w->sel.v[i], prefix, strlen(prefix)) == 0;
	return n;
}

TEST(attest_self_through_socketpair)
{
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	char exe[4096], sel[4300], sha[100];
	ssize_t n;
	int sv[2];
	gid_t groups[1024];
	int ngroups = getgroups(1024, groups);
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());

	SKIP_IF_EMULATED();

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = '\0';
	CHECK_INT(sha256sum_selector(exe, sha, sizeof(sha)), 0);
	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	spiffe_agent_workload_init(&w);
	CHECK_INT(spiffe_agent_attest_fd(NULL, sv[0], &w, &eb), 0);
	close(sv[0]);
	close(sv[1]);
	CHECK_INT(w.pid, getpid());
	CHECK_INT(w.uid, geteuid());
	CHECK_INT(w.gid, getegid());
	snprintf(sel, sizeof(sel), "unix:uid:%u", (unsigned)geteuid());
	CHECK(has(&w, sel));
	snprintf(sel, sizeof(sel), "unix:gid:%u", (unsigned)getegid());
	CHECK(has(&w, sel));
	snprintf(sel, sizeof(sel), "unix:path:%s", exe);
	CHECK(has(&w, sel));
	CHECK(has(&w, sha));
	CHECK_INT(count_prefix(&w, "unix:sha256:"), 1);
	CHECK_INT(count_prefix(&w, "unix:path:"), 1);
	CHECK_INT(count_prefix(&w, "unix:uid:"), 1);
	CHECK_INT(count_prefix(&w, "unix:gid:"), 1);
	if (pw != NULL) {
		snprintf(sel, sizeof(sel), "unix:user:%s", pw->pw_name);
		CHECK(has(&w, sel));
	}
	if (gr != NULL) {
		snprintf(sel, sizeof(sel), "unix:group:%s", gr->gr_name);
		CHECK(has(&w, sel));
	}
	CHECK(ngroups >= 0);
	for (int i = 0; i < ngroups; i++) {
		snprintf(sel, sizeof(sel), "unix:supplementary_gid:%u",
			 (unsigned)groups[i]);
		CHECK(has(&w, sel));
	}
	CHECK_INT(count_prefix(&w, "unix:supplementary_gid:"), ngroups);
	/* The set is sorted, and each selector is one an entry may name. */
	for (size_t i = 1; i < w.sel.n; i++)
		CHECK(strcmp(w.sel.v[i - 1], w.sel.v[i]) < 0);
	for (size_t i = 0; i < w.sel.n; i++)
		CHECK_INT(spiffe_agent_selector_attestable(
			w.sel.v[i], strlen(w.sel.v[i]), &eb), 0);
	spiffe_agent_workload_free(&w);
	spiffe_agent_workload_free(&w);
}

/* What entry create accepts: only selectors attestation can produce. */
TEST(selector_attestable)
{
	static const struct {
		const char *sel, *err;
	} cases[] = {
		{ "unix:uid:0", NULL },
		{ "unix:uid:4294967295", NULL },
		{ "unix:gid:1000", NULL },
		{ "unix:supplementary_gid:27", NULL },
		{ "unix:user:www-data", NULL },
		{ "unix:group:a:b", NULL },     /* names are taken as they are */
		{ "unix:supplementary_group:sudo", NULL },
		{ "unix:path:/usr/bin/app", NULL },
		{ "unix:sha256:0123456789abcdef0123456789abcdef"
		  "0123456789abcdef0123456789abcdef", NULL },
		{ "uid:5", "this agent attests only unix selectors "
		  "(unix:uid:1000, unix:path:/usr/bin/app, ...)" },
		{ "k8s:ns:default", "this agent attests only unix selectors "
		  "(unix:uid:1000, unix:path:/usr/bin/app, ...)" },
		{ "unix:uid", "a unix selector is unix:KIND:VALUE" },
		{ "unix:bogus:5", "unknown unix selector kind \"bogus\" (known: "
		  "uid, user, gid, group, supplementary_gid, "
		  "supplementary_group, path, sha256)" },
		{ "unix:UID:5", "unknown unix selector kind \"UID\" (known: "
		  "uid, user, gid, group, supplementary_gid, "
		  "supplementary_group, path, sha256)" },
		{ "unix:uid:", "unix:uid takes a decimal id (0 to 4294967295, "
		  "no leading zeros)" },
		{ "unix:uid:01", "unix:uid takes a decimal id (0 to "
		  "4294967295, no leading zeros)" },
		{ "unix:uid:-1", "unix:uid takes a decimal id (0 to "
		  "4294967295, no leading zeros)" },
		{ "unix:gid:4294967296", "unix:gid takes a decimal id (0 to "
		  "4294967295, no leading zeros)" },
		{ "unix:supplementary_gid:99999999999", "unix:supplementary_gid "
		  "takes a decimal id (0 to 4294967295, no leading zeros)" },
		{ "unix:user:", "unix:user takes a name" },
		{ "unix:path:bin/app", "unix:path takes an absolute path" },
		{ "unix:path:", "unix:path takes an absolute path" },
		{ "unix:sha256:0123456789ABCDEF0123456789abcdef"
		  "0123456789abcdef0123456789abcdef",
		  "unix:sha256 takes 64 lowercase hex digits" },
		{ "unix:sha256:0123456789abcdef", "unix:sha256 takes 64 "
		  "lowercase hex digits" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spiffe_errbuf eb;
		int rc = spiffe_agent_selector_attestable(
			cases[i].sel, strlen(cases[i].sel), &eb);

		CHECK_INT(rc, cases[i].err != NULL ? SPIFFE_ERR_ARG : 0);
		if (cases[i].err != NULL)
			CHECK_STR(eb.msg, cases[i].err);
	}
}

TEST(attest_not_a_socket)
{
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	int fd = open("/dev/null", O_RDONLY);

	spiffe_agent_workload_init(&w);
	CHECK_INT(spiffe_agent_attest_fd(NULL, fd, &w, &eb), SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "attestation: SO_PEERCRED: Socket operation on "
		  "non-socket");
	CHECK_INT(w.sel.n, 0);
	close(fd);
	/* A TCP socket's "peer credentials" are not a workload's. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_INT(spiffe_agent_attest_fd(NULL, fd, &w, &eb), SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "attestation: not a Unix socket (domain 2)");
	close(fd);
}

/* A child that connects to a listening socket at path, then exits. */
static int connect_and_exit(const char *path, pid_t *child)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t p;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		int s = socket(AF_UNIX, SOCK_STREAM, 0);

		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0)
			_exit(1);
		_exit(0);
	}
	*child = p;
	return 0;
}

TEST(attest_peer_that_exited)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	char dir[] = "/tmp/attest.XXXXXX";
	int ls, cs, st;
	pid_t child;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(ls >= 0);
	CHECK_INT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(ls, 1), 0);
	CHECK_INT(connect_and_exit(sa.sun_path, &child), 0);
	cs = accept(ls, NULL, NULL);
	CHECK(cs >= 0);
	CHECK_INT(waitpid(child, &st, 0), child);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	spiffe_agent_workload_init(&w);
	CHECK_INT(spiffe_agent_attest_fd(NULL, cs, &w, &eb),
		  SPIFFE_ERR_CLOSED);
	char want[100];
	snprintf(want, sizeof(want), "attestation: process %d has exited",
		 (int)child);
	CHECK_STR(eb.msg, want);
	CHECK_INT(w.sel.n, 0);
	close(cs);
	close(ls);
	unlink(sa.sun_path);
	rmdir(dir);
}

TEST(attest_pid_gone_and_zombie)
{
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	char want[100];
	pid_t p = fork();
	int st;

	CHECK(p >= 0);
	if (p == 0)
		_exit(0);
	/* Wait for it to exit without reaping it: a zombie. */
	siginfo_t si;
	CHECK_INT(waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT), 0);
	spiffe_agent_workload_init(&w);
	snprintf(want, sizeof(want), "attestation: process %d has exited",
		 (int)p);
	CHECK_INT(spiffe_agent_attest_pid(NULL, p, &w, &eb),
		  SPIFFE_ERR_CLOSED);
	CHECK_STR(eb.msg, want);
	CHECK_INT(waitpid(p, &st, 0), p);
	CHECK_INT(spiffe_agent_attest_pid(NULL, p, &w, &eb),
		  SPIFFE_ERR_CLOSED);
	CHECK_STR(eb.msg, want);
	CHECK_INT(w.sel.n, 0);
	CHECK_INT(spiffe_agent_attest_pid(NULL, 0, &w, &eb), SPIFFE_ERR_IO);
	CHECK_STR(eb.msg, "attestation: the peer process is not visible in "
		  "this PID namespace");
}

/* Starts exe (argv0 "sleep", one argument "30"); its pid, or -1. */
static pid_t spawn(const char *exe)
{
	int p[2];
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		execl(exe, "sleep", "30", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* EOF on the close-on-exec pipe: the exec has happened. */
	if (pid > 0 && read(p[0], &c, 1) != 0)
		pid = -1;
	close(p[0]);
	return pid;
}

static void stop(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

TEST(attest_other_executable)
{
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	char real[4096], sel[4300], sha[100];
	pid_t pid;

	SKIP_IF_EMULATED();
	CHECK(realpath("/bin/sleep", real) != NULL);
	CHECK_INT(sha256sum_selector(real, sha, sizeof(sha)), 0);
	pid = spawn("/bin/sleep");
	CHECK(pid > 0);
	spiffe_agent_workload_init(&w);
	int rc = spiffe_agent_attest_pid(NULL, pid, &w, &eb);
	stop(pid);
	CHECK_INT(rc, 0);
	CHECK_INT(w.pid, pid);
	snprintf(sel, sizeof(sel), "unix:path:%s", real);
	CHECK(has(&w, sel));
	CHECK(has(&w, sha));
	snprintf(sel, sizeof(sel), "unix:uid:%u", (unsigned)geteuid());
	CHECK(has(&w, sel));
	spiffe_agent_workload_free(&w);
}

/* Copies file from to to (mode 0755). */
static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			n = -1;
		if (n < 0)
			break;
	}
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

TEST(attest_deleted_executable)
{
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	char dir[] = "/tmp/attest.XXXXXX", exe[64], sha[100];
	pid_t pid;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(exe, sizeof(exe), "%s/sleep", dir);
	CHECK_INT(copy_file("/bin/sleep", exe), 0);
	CHECK_INT(sha256sum_selector(exe, sha, sizeof(sha)), 0);
	pid = spawn(exe);
	CHECK(pid > 0);
	unlink(exe);
	rmdir(dir);
	spiffe_agent_workload_init(&w);
	int rc = spiffe_agent_attest_pid(NULL, pid, &w, &eb);
	stop(pid);
	CHECK_INT(rc, 0);
	/* The digest is of the running file; its old path means nothing. */
	CHECK(has(&w, sha));
	CHECK_INT(count_prefix(&w, "unix:path:"), 0);
	CHECK_STR(w.note, "no path selector: the executable was deleted or "
		  "replaced after the process started");
	spiffe_agent_workload_free(&w);
}

TEST(digest_cache)
{
	spiffe_agent_attestor a;
	spiffe_agent_workload w1, w2;
	spiffe_errbuf eb;

	spiffe_agent_attestor_init(&a);
	spiffe_agent_workload_init(&w1);
	spiffe_agent_workload_init(&w2);
	/* A just-built binary is too new to cache; move the clock on. */
	spiffe_clock_set(spiffe_now() + 60);
	CHECK_INT(spiffe_agent_attest_pid(&a, getpid(), &w1, &eb), 0);
	CHECK_INT(a.misses, 1);
	CHECK_INT(a.hits, 0);
	CHECK_INT(spiffe_agent_attest_pid(&a, getpid(), &w2, &eb), 0);
	CHECK_INT(a.hits, 1);
	CHECK(spiffe_selectors_equal(&w1.sel, &w2.sel));
	spiffe_clock_set(-1);
	spiffe_agent_workload_free(&w1);
	spiffe_agent_workload_free(&w2);
	spiffe_agent_attestor_free(&a);
	spiffe_agent_attestor_free(&a);
}

TEST(digest_cache_skips_new_files)
{
	spiffe_agent_attestor a;
	spiffe_agent_workload w;
	spiffe_errbuf eb;
	struct stat st;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	SKIP_IF_EMULATED();

	CHECK(n > 0);
	exe[n] = '\0';
	CHECK_INT(stat(exe, &st), 0);
	/* The clock at the binary's ctime: too new to cache. */
	spiffe_clock_set(st.st_ctim.tv_sec);
	spiffe_agent_attestor_init(&a);
	spiffe_agent_workload_init(&w);
	CHECK_INT(spiffe_agent_attest_pid(&a, getpid(), &w, &eb), 0);
	CHECK_INT(spiffe_agent_attest_pid(&a, getpid(), &w, &eb), 0);
	CHECK_INT(a.hits, 0);
	CHECK_INT(a.misses, 2);
	spiffe_clock_set(-1);
	spiffe_agent_workload_free(&w);
	spiffe_agent_attestor_free(&a);
}

int main(void)
{
	RUN(stat_hostile_command_names);
	RUN(stat_real_self);
	RUN(stat_rejects);
	RUN(stat_limit);
	RUN(status_fields);
	RUN(status_empty_groups_and_no_final_newline);
	RUN(status_rejects);
	RUN(status_group_limit);
	RUN(attest_self_through_socketpair);
	RUN(selector_attestable);
	RUN(attest_not_a_socket);
	RUN(attest_peer_that_exited);
	RUN(attest_pid_gone_and_zombie);
	RUN(attest_other_executable);
	RUN(attest_deleted_executable);
	RUN(digest_cache);
	RUN(digest_cache_skips_new_files);
	return test_summary();
}
