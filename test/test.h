/*
 * test.h - the unit-test harness.
 *
 * A test file defines TEST(name) functions and a main() that calls
 * RUN(name) for each, then returns test_summary().  A test fails on its
 * first failed CHECK; SKIP ends it without a verdict.  The summary line
 * "RESULT <passed> <failed> <skipped>" is what test/run.sh adds up.
 */
#ifndef SPIFFE_TEST_H
#define SPIFFE_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_skipped, test_cur_failed;
static int test_cur_skipped;
static const char *test_cur_name;

#define TEST(name) static void name(void)

#define RUN(name)                                                          \
	do {                                                               \
		test_cur_name = #name;                                     \
		test_cur_failed = 0;                                       \
		test_cur_skipped = 0;                                      \
		name();                                                    \
		if (test_cur_skipped) {                                    \
			test_skipped++;                                    \
		} else if (test_cur_failed) {                              \
			test_failed++;                                     \
		} else {                                                   \
			test_passed++;                                     \
		}                                                          \
	} while (0)

#define FAILF(...)                                                         \
	do {                                                               \
		fprintf(stderr, "FAIL %s (%s:%d): ", test_cur_name,        \
			__FILE__, __LINE__);                               \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		test_cur_failed = 1;                                       \
	} while (0)

/* Ends the test without a verdict, saying why (counted as skipped). */
#define SKIP(...)                                                          \
	do {                                                               \
		fprintf(stderr, "SKIP %s: ", test_cur_name);               \
		fprintf(stderr, __VA_ARGS__);                              \
		fputc('\n', stderr);                                       \
		test_cur_skipped = 1;                                      \
		return;                                                    \
	} while (0)

/* Under user-mode emulation (make test-cross), /proc describes the
 * emulator, not the test's processes. */
#define SKIP_IF_EMULATED()                                                 \
	do {                                                               \
		if (getenv("SPIFFE_TEST_EMULATED") != NULL)                \
			SKIP("/proc describes the emulator under qemu-user"); \
	} while (0)

#define CHECK(c)                                                           \
	do {                                                               \
		if (!(c)) {                                                \
			FAILF("%s", #c);                                   \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_INT(a, b)                                                    \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_) {                                            \
			FAILF("%s == %lld, expected %lld", #a, a_, b_);    \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_STR(a, b)                                                    \
	do {                                                               \
		const char *a_ = (a), *b_ = (b);                           \
		if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {     \
			FAILF("%s == \"%s\", expected \"%s\"", #a,         \
			      a_ ? a_ : "(null)", b_ ? b_ : "(null)");     \
			return;                                            \
		}                                                          \
	} while (0)

#define CHECK_MEM(a, b, n)                                                 \
	do {                                                               \
		if (memcmp((a), (b), (n)) != 0) {                          \
			FAILF("%s differs from %s", #a, #b);               \
			return;                                            \
		}                                                          \
	} while (0)

/* Prints the tally and returns the exit status for main(). */
static inline int test_summary(void)
{
	printf("RESULT %d %d %d\n", test_passed, test_failed, test_skipped);
	return test_failed ? 1 : 0;
}

#endif
