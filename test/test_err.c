#include "test.h"
#include "err.h"
#include "clock.h"

TEST(strerror_names_every_value)
{
	CHECK_STR(spiffe_strerror(SPIFFE_OK), "success");
	CHECK_STR(spiffe_strerror(SPIFFE_ERR_SPIFFEID), "invalid SPIFFE ID");
	CHECK_STR(spiffe_strerror(SPIFFE_ERR_CANCELED), "canceled");
	CHECK_STR(spiffe_strerror(-999), "unknown error");
	for (int e = SPIFFE_ERR_CANCELED; e < 0; e++)
		CHECK(strcmp(spiffe_strerror(e), "unknown error") != 0);
}

TEST(fail_and_wrap_format)
{
	spiffe_errbuf eb;

	CHECK_INT(spiffe_fail(&eb, SPIFFE_ERR_JWT, "token has %s", "expired"),
		  SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "token has expired");
	CHECK_INT(spiffe_wrap(&eb, SPIFFE_ERR_JWT, "jwtsvid"), SPIFFE_ERR_JWT);
	CHECK_STR(eb.msg, "jwtsvid: token has expired");
	CHECK_INT(spiffe_fail(NULL, SPIFFE_ERR_ARG, "x"), SPIFFE_ERR_ARG);
}

TEST(fail_truncates_long_messages)
{
	spiffe_errbuf eb;
	char big[2000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	spiffe_fail(&eb, SPIFFE_ERR_ARG, "%s", big);
	CHECK_INT(strlen(eb.msg), SPIFFE_ERRBUF_SIZE - 1);
}

TEST(clock_can_be_fixed)
{
	spiffe_clock_set(1234);
	CHECK_INT(spiffe_now(), 1234);
	spiffe_clock_set(-1);
	CHECK(spiffe_now() > 1700000000);
}

int main(void)
{
	RUN(strerror_names_every_value);
	RUN(fail_and_wrap_format);
	RUN(fail_truncates_long_messages);
	RUN(clock_can_be_fixed);
	return test_summary();
}
