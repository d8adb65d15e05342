#include "test.h"
#include "b64.h"

/* RFC 4648 section 10. */
static const struct {
	const char *raw, *std, *url;
} rfc[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

#define NRFC (sizeof(rfc) / sizeof(rfc[0]))

TEST(rfc4648_vectors)
{
	for (size_t i = 0; i < NRFC; i++) {
		uint8_t bin[16];
		char txt[16];
		size_t n = 99, rl = strlen(rfc[i].raw);

		CHECK_INT(spiffe_b64url_decode(bin, sizeof(bin), &n,
					       rfc[i].url, strlen(rfc[i].url)),
			  0);
		CHECK_INT(n, rl);
		CHECK_MEM(bin, rfc[i].raw, rl);
		n = 99;
		CHECK_INT(spiffe_b64std_decode(bin, sizeof(bin), &n,
					       rfc[i].std, strlen(rfc[i].std)),
			  0);
		CHECK_INT(n, rl);
		CHECK_MEM(bin, rfc[i].raw, rl);
		CHECK_INT(spiffe_b64url_encode(txt, sizeof(txt), &n,
			  (const uint8_t *)rfc[i].raw, rl), 0);
		CHECK_STR(txt, rfc[i].url);
		CHECK_INT(n, strlen(rfc[i].url));
		CHECK_INT(n, SPIFFE_B64URL_ENCODED_LEN(rl));
		CHECK_INT(spiffe_b64std_encode(txt, sizeof(txt), &n,
			  (const uint8_t *)rfc[i].raw, rl), 0);
		CHECK_STR(txt, rfc[i].std);
		CHECK_INT(n, strlen(rfc[i].std));
	}
}

struct bad {
	const char *in;
	size_t len;             /* 0: strlen(in) */
	int rc;
};

static const struct bad url_bad[] = {
	{ "Zg==", 0, SPIFFE_ERR_BASE64 },       /* padding */
	{ "Zm8=", 0, SPIFFE_ERR_BASE64 },
	{ "Zg=", 0, SPIFFE_ERR_BASE64 },
	{ "Z", 0, SPIFFE_ERR_BASE64 },          /* length 1 mod 4 */
	{ "Zm9vY", 0, SPIFFE_ERR_BASE64 },
	{ "Zh", 0, SPIFFE_ERR_BASE64 },         /* low 4 bits set */
	{ "Zv", 0, SPIFFE_ERR_BASE64 },
	{ "Zm9", 0, SPIFFE_ERR_BASE64 },        /* low 2 bits set */
	{ "Zm-", 0, SPIFFE_ERR_BASE64 },
	{ "Zm9v\n", 0, SPIFFE_ERR_BASE64 },     /* whitespace */
	{ " Zm9v", 0, SPIFFE_ERR_BASE64 },
	{ "Zm 9v", 0, SPIFFE_ERR_BASE64 },
	{ "Zm9v\r\nYg", 0, SPIFFE_ERR_BASE64 },
	{ "+/+/", 0, SPIFFE_ERR_BASE64 },       /* standard alphabet */
	{ "ab+c", 0, SPIFFE_ERR_BASE64 },
	{ "ab/c", 0, SPIFFE_ERR_BASE64 },
	{ "Zm9v\0", 5, SPIFFE_ERR_BASE64 },
	{ "Zm\0v", 4, SPIFFE_ERR_BASE64 },
	{ "Zm9\xff", 0, SPIFFE_ERR_BASE64 },
	{ "Zm.v", 0, SPIFFE_ERR_BASE64 },
};

static const struct bad std_bad[] = {
	{ "Zg", 0, SPIFFE_ERR_BASE64 },         /* padding missing */
	{ "Zm8", 0, SPIFFE_ERR_BASE64 },
	{ "Zg=", 0, SPIFFE_ERR_BASE64 },        /* padding short */
	{ "Zg===", 0, SPIFFE_ERR_BASE64 },      /* padding long */
	{ "Z===", 0, SPIFFE_ERR_BASE64 },
	{ "====", 0, SPIFFE_ERR_BASE64 },
	{ "=", 0, SPIFFE_ERR_BASE64 },
	{ "Zh==", 0, SPIFFE_ERR_BASE64 },       /* low 4 bits set */
	{ "Zm9=", 0, SPIFFE_ERR_BASE64 },       /* low 2 bits set */
	{ "Zm=v", 0, SPIFFE_ERR_BASE64 },       /* '=' inside */
	{ "Z=9v", 0, SPIFFE_ERR_BASE64 },
	{ "Zg==Zg==", 0, SPIFFE_ERR_BASE64 },   /* padding in the middle */
	{ "Zm8=Zm9v", 0, SPIFFE_ERR_BASE64 },
	{ "-_-_", 0, SPIFFE_ERR_BASE64 },       /* url alphabet */
	{ "Zm9v\r\n", 0, SPIFFE_ERR_BASE64 },   /* whitespace */
	{ "Zm9v Zm9v", 0, SPIFFE_ERR_BASE64 },
	{ "Zm9v\0\0\0\0", 8, SPIFFE_ERR_BASE64 },
	{ "Zm9\x80", 0, SPIFFE_ERR_BASE64 },
};

TEST(url_rejections)
{
	for (size_t i = 0; i < sizeof(url_bad) / sizeof(url_bad[0]); i++) {
		uint8_t bin[16];
		size_t n = 99;
		size_t len = url_bad[i].len ? url_bad[i].len :
			     strlen(url_bad[i].in);
		int rc = spiffe_b64url_decode(bin, sizeof(bin), &n,
					      url_bad[i].in, len);

		if (rc != url_bad[i].rc || n != 0)
			FAILF("url case %zu: rc %d n %zu", i, rc, n);
	}
}

TEST(std_rejections)
{
	for (size_t i = 0; i < sizeof(std_bad) / sizeof(std_bad[0]); i++) {
		uint8_t bin[16];
		size_t n = 99;
		size_t len = std_bad[i].len ? std_bad[i].len :
			     strlen(std_bad[i].in);
		int rc = spiffe_b64std_decode(bin, sizeof(bin), &n,
					      std_bad[i].in, len);

		if (rc != std_bad[i].rc || n != 0)
			FAILF("std case %zu: rc %d n %zu", i, rc, n);
	}
}

/* Every byte value against the alphabets (catches a short table). */
TEST(every_character)
{
	static const char url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789-_";
	static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"abcdefghijklmnopqrstuvwxyz0123456789+/";

	for (int c = 0; c < 256; c++) {
		char in[4] = { 'A', 'A', 'A', (char)c };
		const char *u = c ? memchr(url, c, 64) : NULL;
		const char *s = c ? memchr(std, c, 64) : NULL;
		uint8_t bin[3];
		size_t n;

		CHECK_INT(spiffe_b64url_decode(bin, 3, &n, in, 4),
			  u ? 0 : SPIFFE_ERR_BASE64);
		if (u)
			CHECK_INT(bin[2], u - url);
		CHECK_INT(spiffe_b64std_decode(bin, 3, &n, in, 4),
			  s ? 0 : c == '=' ? 0 : SPIFFE_ERR_BASE64);
		if (s)
			CHECK_INT(bin[2], s - std);
	}
}

TEST(capacity_limits)
{
	uint8_t bin[8] = { 0 };
	char txt[16];
	size_t n = 99;

	/* Decoding needs exactly the decoded size. */
	CHECK_INT(spiffe_b64url_decode(bin, 6, &n, "Zm9vYmFy", 8), 0);
	CHECK_INT(n, 6);
	CHECK_INT(spiffe_b64url_decode(bin, 5, &n, "Zm9vYmFy", 8),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(n, 0);
	CHECK_INT(spiffe_b64url_decode(bin, 4, &n, "Zm9vYmE", 7),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64std_decode(bin, 5, &n, "Zm9vYmE=", 8), 0);
	CHECK_INT(spiffe_b64std_decode(bin, 4, &n, "Zm9vYmE=", 8),
		  SPIFFE_ERR_LIMIT);
	/* Bad input is reported as such even when it would not fit. */
	CHECK_INT(spiffe_b64url_decode(bin, 0, &n, "Zm9v!", 5),
		  SPIFFE_ERR_BASE64);
	CHECK_INT(spiffe_b64url_decode(NULL, 0, &n, "", 0), 0);
	CHECK_INT(n, 0);
	CHECK_INT(spiffe_b64url_decode(bin, 8, NULL, "Zm8", 3), 0);
	CHECK_INT(spiffe_b64url_decode(bin, 8, &n, NULL, 1), SPIFFE_ERR_ARG);
	CHECK_INT(spiffe_b64url_decode(NULL, 8, &n, "Zm8", 3), SPIFFE_ERR_ARG);

	/* Encoding needs room for the NUL too. */
	CHECK_INT(spiffe_b64url_encode(txt, 9, &n, (const uint8_t *)"foobar",
				       6), 0);
	CHECK_STR(txt, "Zm9vYmFy");
	CHECK_INT(spiffe_b64url_encode(txt, 8, &n, (const uint8_t *)"foobar",
				       6), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64url_encode(txt, 3, &n, (const uint8_t *)"f", 1),
		  0);
	CHECK_STR(txt, "Zg");
	CHECK_INT(spiffe_b64url_encode(txt, 2, &n, (const uint8_t *)"f", 1),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64std_encode(txt, 5, &n, (const uint8_t *)"f", 1),
		  0);
	CHECK_STR(txt, "Zg==");
	CHECK_INT(spiffe_b64std_encode(txt, 4, &n, (const uint8_t *)"f", 1),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64url_encode(txt, 1, &n, NULL, 0), 0);
	CHECK_STR(txt, "");
	CHECK_INT(spiffe_b64url_encode(txt, 0, &n, NULL, 0),
		  SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64url_encode(NULL, 0, &n, NULL, 0), SPIFFE_ERR_ARG);
	/* A length whose encoding does not fit in size_t. */
	CHECK_INT(spiffe_b64url_encode(txt, sizeof(txt), &n, bin,
				       SIZE_MAX), SPIFFE_ERR_LIMIT);
	CHECK_INT(spiffe_b64std_encode(txt, sizeof(txt), &n, bin,
				       SIZE_MAX / 4 * 3), SPIFFE_ERR_LIMIT);
}

/* Pseudo-random bytes of every length round-trip through both forms. */
TEST(round_trip)
{
	uint8_t bin[200] = { 0 }, back[200];
	char txt[300];
	uint32_t x = 12345;

	for (size_t len = 0; len <= sizeof(bin); len++) {
		size_t n, m;

		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			bin[i] = (uint8_t)(x >> 16);
		}
		CHECK_INT(spiffe_b64url_encode(txt, sizeof(txt), &n, bin, len),
			  0);
		CHECK_INT(n, SPIFFE_B64URL_ENCODED_LEN(len));
		CHECK(SPIFFE_B64_DECODED_MAX(n) >= len);
		CHECK_INT(spiffe_b64url_decode(back, sizeof(back), &m, txt, n),
			  0);
		CHECK_INT(m, len);
		CHECK_MEM(back, bin, len);
		CHECK_INT(spiffe_b64std_encode(txt, sizeof(txt), &n, bin, len),
			  0);
		CHECK_INT(n, (len + 2) / 3 * 4);
		CHECK_INT(spiffe_b64std_decode(back, sizeof(back), &m, txt, n),
			  0);
		CHECK_INT(m, len);
		CHECK_MEM(back, bin, len);
	}
}

int main(void)
{
	RUN(rfc4648_vectors);
	RUN(url_rejections);
	RUN(std_rejections);
	RUN(every_character);
	RUN(capacity_limits);
	RUN(round_trip);
	return test_summary();
}
