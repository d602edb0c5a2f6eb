/*
 * The check macros shared by the C tests: each test program counts its checks and
 * failures, and records which statuses it saw so it can show them all reachable.
 * Included by exactly one translation unit per test program.
 */
#ifndef OTPCORE_TEST_CHECK_H
#define OTPCORE_TEST_CHECK_H

#include "otpcore.h"

#include <stdio.h>
#include <string.h>

static unsigned checks;
static unsigned failures;
/* Which statuses some check has produced, to show that every one is reachable. */
static int seen[OTP_STATUS_MAX + 1];

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

#define EXPECT(expr, want)                                                       \
    do {                                                                         \
        otp_status got_ = (expr);                                                \
        checks++;                                                                \
        if (got_ <= OTP_STATUS_MAX) {                                            \
            seen[got_] = 1;                                                      \
        }                                                                        \
        if (got_ != (otp_status)(want)) {                                        \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: %s gave %u (%s), want %s\n", __FILE__,       \
                    __LINE__, #expr, (unsigned)got_, otp_status_message(got_),   \
                    #want);                                                      \
        }                                                                        \
    } while (0)

#define TEXT(s) (s), strlen(s)

#endif
