/*
 * utf8.h - well-formed UTF-8 (RFC 3629 section 4): no overlong forms, no
 * surrogates, nothing above U+10FFFF.  One checker for every module that
 * takes text from outside (JSON, protobuf strings, selectors, logs).
 */
#ifndef SPIFFE_UTF8_H
#define SPIFFE_UTF8_H

#include <stddef.h>

/*
 * Length (1 to 4) of the well-formed UTF-8 sequence at s[0..n), n >= 1,
 * or 0 with *why (when why is not NULL) saying what is wrong.  An ASCII
 * byte is a sequence of 1.
 */
size_t spiffe_utf8_seq(const unsigned char *s, size_t n, const char **why);

/* 1 if s[0..n) is well-formed UTF-8, else 0. */
int spiffe_utf8_valid(const unsigned char *s, size_t n);

#endif
