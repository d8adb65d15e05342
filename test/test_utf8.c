#include "test.h"
#include "utf8.h"

/* One sequence at the start of in[0..len): its length or 0 and why. */
static const struct {
	const char *in;
	size_t len;
	size_t want;
	const char *why;
} seqs[] = {
	{ "A", 1, 1, NULL },
	{ "\x7f", 1, 1, NULL },
	{ "", 1, 1, NULL },                             /* NUL is ASCII */
	{ "\xc2\x80", 2, 2, NULL },                     /* U+0080 */
	{ "\xdf\xbf", 2, 2, NULL },                     /* U+07FF */
	{ "\xe0\xa0\x80", 3, 3, NULL },                 /* U+0800 */
	{ "\xed\x9f\xbf", 3, 3, NULL },                 /* U+D7FF */
	{ "\xee\x80\x80", 3, 3, NULL },                 /* U+E000 */
	{ "\xef\xbf\xbf", 3, 3, NULL },                 /* U+FFFF */
	{ "\xf0\x90\x80\x80", 4, 4, NULL },             /* U+10000 */
	{ "\xf4\x8f\xbf\xbf", 4, 4, NULL },             /* U+10FFFF */
	{ "\xe2\x82\xac" "x", 4, 3, NULL },             /* only the first */
	{ "\x80", 1, 0, "unexpected continuation byte" },
	{ "\xbf", 1, 0, "unexpected continuation byte" },
	{ "\xc0\x80", 2, 0, "overlong encoding" },
	{ "\xc1\xbf", 2, 0, "overlong encoding" },
	{ "\xe0\x9f\xbf", 3, 0, "overlong encoding" },
	{ "\xf0\x8f\xbf\xbf", 4, 0, "overlong encoding" },
	{ "\xed\xa0\x80", 3, 0, "surrogate" },          /* U+D800 */
	{ "\xed\xbf\xbf", 3, 0, "surrogate" },          /* U+DFFF */
	{ "\xf4\x90\x80\x80", 4, 0, "code point above U+10FFFF" },
	{ "\xf5\x80\x80\x80", 4, 0, "code point above U+10FFFF" },
	{ "\xf7\xbf\xbf\xbf", 4, 0, "code point above U+10FFFF" },
	{ "\xf8\x88\x80\x80\x80", 5, 0, "invalid byte" },
	{ "\xff", 1, 0, "invalid byte" },
	{ "\xc2", 1, 0, "truncated sequence" },
	{ "\xe2\x82", 2, 0, "truncated sequence" },
	{ "\xf0\x90\x80", 3, 0, "truncated sequence" },
	{ "\xc2" "A", 2, 0, "missing continuation byte" },
	{ "\xe2\x82" "A", 3, 0, "missing continuation byte" },
	{ "\xf0\x90\xc0\x80", 4, 0, "missing continuation byte" },
};

#define NSEQS (sizeof(seqs) / sizeof(seqs[0]))

TEST(sequences)
{
	for (size_t i = 0; i < NSEQS; i++) {
		const char *why = "unset";
		size_t k = spiffe_utf8_seq((const unsigned char *)seqs[i].in,
					   seqs[i].len, &why);

		CHECK_INT(k, seqs[i].want);
		CHECK_STR(why, seqs[i].why != NULL ? seqs[i].why : "unset");
		/* Without a why, the same answer. */
		CHECK_INT(spiffe_utf8_seq((const unsigned char *)seqs[i].in,
					  seqs[i].len, NULL), seqs[i].want);
	}
}

TEST(whole_strings)
{
	static const char ok[] = "spiffe://example.org/\xc3\xa9t\xc3\xa9/"
				 "\xe2\x82\xac/\xf0\x9f\x98\x80";

	CHECK_INT(spiffe_utf8_valid((const unsigned char *)ok,
				    sizeof(ok) - 1), 1);
	CHECK_INT(spiffe_utf8_valid((const unsigned char *)"", 0), 1);
	/* Every proper prefix that cuts the final 4-byte sequence. */
	for (size_t cut = 1; cut < 4; cut++)
		CHECK_INT(spiffe_utf8_valid((const unsigned char *)ok,
					    sizeof(ok) - 1 - cut), 0);
	CHECK_INT(spiffe_utf8_valid((const unsigned char *)"ab\xed\xa0\x80",
				    5), 0);
	CHECK_INT(spiffe_utf8_valid((const unsigned char *)"ab\x80" "cd", 5),
		  0);
}

/* Every 1- and 2-byte input against the definition by code point. */
TEST(every_short_input)
{
	unsigned char b[2];

	for (unsigned x = 0; x < 256; x++) {
		b[0] = (unsigned char)x;
		CHECK_INT(spiffe_utf8_seq(b, 1, NULL), x < 0x80 ? 1u : 0u);
		for (unsigned y = 0; y < 256; y++) {
			size_t want = 0;

			b[1] = (unsigned char)y;
			if (x < 0x80)
				want = 1;
			else if (x >= 0xc2 && x <= 0xdf && (y & 0xc0) == 0x80)
				want = 2;
			CHECK_INT(spiffe_utf8_seq(b, 2, NULL), want);
		}
	}
}

int main(void)
{
	RUN(sequences);
	RUN(whole_strings);
	RUN(every_short_input);
	return test_summary();
}
