/*
 * Tests of the out-of-band code (SMS) C API through the header only: the server key object,
 * the policy checks, issuing into sentinel-filled buffers, every verification outcome, the
 * record encoding checks, NULL for every pointer argument, and wiping.
 *
 * Exits 0 when every check passes; prints each failure otherwise.
 */
#include "otpcore.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static const uint8_t KEY_BYTES[32] = {1, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t ALICE[] = "alice";
static const uint8_t BOB[] = "bob";
#define ALICE_LEN (sizeof ALICE - 1)
#define BOB_LEN (sizeof BOB - 1)
static const uint64_t T = 1700000000u;

static int all_bytes(const void *p, size_t n, unsigned char value) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i] != value) {
            return 0;
        }
    }
    return 1;
}

static void init_key(otp_oob_key *key) {
    EXPECT(otp_oob_key_init(key, KEY_BYTES, sizeof KEY_BYTES), OTP_OK);
}

/* Issues a code for alice at `now` into `code` (a NUL-terminated string of digits). */
static void issue(const otp_oob_key *key, const otp_oob_policy *policy, uint64_t now,
                  otp_oob_record *record, char code[OTP_OOB_CODE_BUFFER_SIZE]) {
    size_t len = 0;
    EXPECT(otp_oob_issue(key, ALICE, ALICE_LEN, policy, now, record, code,
                         OTP_OOB_CODE_BUFFER_SIZE, &len),
           OTP_OK);
    CHECK(len == policy->digits && strlen(code) == len);
}

/* The same code with its last digit changed: always wrong. */
static void wrong_code(const char *code, char out[OTP_OOB_CODE_BUFFER_SIZE]) {
    size_t n = strlen(code);
    memcpy(out, code, n + 1);
    out[n - 1] = (char)('0' + (out[n - 1] - '0' + 1) % 10);
}

static void test_key_init_and_wipe(void) {
    otp_oob_key key = {{0}};
    otp_oob_key empty = {{0}};
    otp_oob_record record;
    otp_oob_policy policy;
    uint8_t long_key[OTP_OOB_KEY_MAX_LEN + 1];
    char code[OTP_OOB_CODE_BUFFER_SIZE];
    size_t len = 0;
    memset(long_key, 7, sizeof long_key);
    memset(&record, 0, sizeof record);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);

    CHECK(sizeof(otp_oob_key) == OTP_OOB_KEY_SIZE);
    CHECK(sizeof(otp_oob_record) == OTP_OOB_RECORD_LEN);
    EXPECT(otp_oob_key_init(&key, KEY_BYTES, OTP_OOB_KEY_MIN_LEN - 1), OTP_OOB_KEY_TOO_SHORT);
    EXPECT(otp_oob_key_init(&key, KEY_BYTES, 0), OTP_OOB_KEY_TOO_SHORT);
    EXPECT(otp_oob_key_init(&key, long_key, sizeof long_key), OTP_OOB_KEY_TOO_LONG);
    CHECK(all_bytes(&key, sizeof key, 0));
    EXPECT(otp_oob_key_init(NULL, KEY_BYTES, sizeof KEY_BYTES), OTP_NULL_POINTER);
    EXPECT(otp_oob_key_init(&key, NULL, 0), OTP_NULL_POINTER);
    CHECK(all_bytes(&key, sizeof key, 0));

    /* A zero-filled key is not initialised. */
    EXPECT(otp_oob_issue(&empty, ALICE, ALICE_LEN, &policy, T, &record, code, sizeof code, &len),
           OTP_NOT_INITIALIZED);
    EXPECT(otp_oob_verify(&empty, ALICE, ALICE_LEN, TEXT("123456"), T, &record),
           OTP_NOT_INITIALIZED);

    EXPECT(otp_oob_key_init(&key, KEY_BYTES, OTP_OOB_KEY_MIN_LEN), OTP_OK);
    EXPECT(otp_oob_key_init(&key, long_key, OTP_OOB_KEY_MAX_LEN), OTP_OK);
    CHECK(!all_bytes(&key, sizeof key, 0));
    /* A failed init leaves an initialised key as it was. */
    EXPECT(otp_oob_key_init(&key, KEY_BYTES, 3), OTP_OOB_KEY_TOO_SHORT);
    CHECK(!all_bytes(&key, sizeof key, 0));
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
    CHECK(all_bytes(&key, sizeof key, 0));
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
    EXPECT(otp_oob_key_wipe(NULL), OTP_NULL_POINTER);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("123456"), T, &record),
           OTP_NOT_INITIALIZED);
}

static void test_policy_is_checked(void) {
    otp_oob_key key = {{0}};
    otp_oob_policy policy, bad;
    otp_oob_record record;
    char code[OTP_OOB_CODE_BUFFER_SIZE];
    size_t len = 0;
    uint64_t at = 1;
    size_t i;
    init_key(&key);
    memset(&record, 0, sizeof record);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);
    CHECK(policy.digits == 6 && policy.max_attempts == 3 && policy.ttl_secs == 300 &&
          policy.resend_cooldown_secs == 60);
    EXPECT(otp_oob_policy_default(NULL), OTP_NULL_POINTER);

    for (i = 0; i < 10; i++) {
        bad = policy;
        switch (i) {
        case 0: bad.digits = 5; break;
        case 1: bad.digits = 9; break;
        case 2: bad.digits = 256 + 6; break;
        case 3: bad.ttl_secs = 0; break;
        case 4: bad.ttl_secs = OTP_OOB_MAX_TTL_SECS + 1; break;
        case 5: bad.max_attempts = 0; break;
        case 6: bad.max_attempts = OTP_OOB_MAX_ATTEMPTS + 1; break;
        case 7: bad.resend_cooldown_secs = 0; break;
        case 8: bad.resend_cooldown_secs = OTP_OOB_MAX_COOLDOWN_SECS + 1; break;
        default: bad.max_attempts = 256 + 3; break;
        }
        memset(code, 0xAA, sizeof code);
        len = 0xAA;
        EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &bad, T, &record, code, sizeof code, &len),
               OTP_INVALID_OOB_POLICY);
        CHECK(all_bytes(code, sizeof code, 0xAA) && len == 0xAA);
        CHECK(all_bytes(&record, sizeof record, 0));
        EXPECT(otp_oob_next_issue_at(&record, &bad, &at), OTP_INVALID_OOB_POLICY);
        CHECK(at == 1);
    }
    /* The bounds themselves are allowed. */
    bad = policy;
    bad.digits = 8;
    bad.ttl_secs = OTP_OOB_MAX_TTL_SECS;
    bad.max_attempts = OTP_OOB_MAX_ATTEMPTS;
    bad.resend_cooldown_secs = OTP_OOB_MAX_COOLDOWN_SECS;
    issue(&key, &bad, T, &record, code);
    bad.digits = 7;
    bad.ttl_secs = 1;
    bad.max_attempts = 1;
    bad.resend_cooldown_secs = 1;
    memset(&record, 0, sizeof record);
    issue(&key, &bad, T, &record, code);
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
}

static void test_issue_writes_only_on_success(void) {
    otp_oob_key key = {{0}};
    otp_oob_policy policy;
    otp_oob_record record, before;
    char code[OTP_OOB_CODE_BUFFER_SIZE];
    size_t len = 0;
    uint64_t at = 0;
    size_t i;
    init_key(&key);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);
    memset(&record, 0, sizeof record);
    EXPECT(otp_oob_next_issue_at(&record, &policy, &at), OTP_OK);
    CHECK(at == 0);

    /* Too small a buffer: the size needed, and no code issued. */
    memset(code, 0xAA, sizeof code);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, &record, code, 6, &len),
           OTP_BUFFER_TOO_SMALL);
    CHECK(len == 7 && all_bytes(code, sizeof code, 0xAA) && all_bytes(&record, sizeof record, 0));
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, &record, code, 0, &len),
           OTP_BUFFER_TOO_SMALL);
    CHECK(len == 7);

    memset(code, 0xAA, sizeof code);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, &record, code, 7, &len), OTP_OK);
    CHECK(len == 6 && code[6] == '\0' && (unsigned char)code[7] == 0xAA);
    for (i = 0; i < 6; i++) {
        CHECK(code[i] >= '0' && code[i] <= '9');
    }
    /* The record is pending, holds the issue time and not the code's digits. */
    CHECK(record.bytes[0] == 1 && record.bytes[1] == 6 && record.bytes[2] == 0 &&
          record.bytes[3] == 3);
    CHECK(record.bytes[15] == (uint8_t)(T & 0xff) && record.bytes[23] == (uint8_t)((T + 300) & 0xff));
    EXPECT(otp_oob_next_issue_at(&record, &policy, &at), OTP_OK);
    CHECK(at == T + 60);

    /* Within the cooldown, and before the issue time: refused, nothing written. */
    before = record;
    memset(code, 0xAA, sizeof code);
    len = 0xAA;
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T + 59, &record, code, sizeof code, &len),
           OTP_OOB_ISSUE_TOO_SOON);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T - 1, &record, code, sizeof code, &len),
           OTP_OOB_TIME_BEFORE_ISSUE);
    CHECK(memcmp(&record, &before, sizeof record) == 0);
    CHECK(all_bytes(code, sizeof code, 0xAA) && len == 0xAA);
    /* From the end of the cooldown on, a new code replaces the old one. */
    issue(&key, &policy, T + 60, &record, code);
    CHECK(memcmp(&record, &before, sizeof record) != 0);

    /* NULL for each pointer in turn. */
    memset(&record, 0, sizeof record);
    EXPECT(otp_oob_issue(NULL, ALICE, ALICE_LEN, &policy, T, &record, code, sizeof code, &len),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_issue(&key, NULL, 0, &policy, T, &record, code, sizeof code, &len),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, NULL, T, &record, code, sizeof code, &len),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, NULL, code, sizeof code, &len),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, &record, NULL, 0, &len),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T, &record, code, sizeof code, NULL),
           OTP_NULL_POINTER);
    CHECK(all_bytes(&record, sizeof record, 0));
    EXPECT(otp_oob_next_issue_at(NULL, &policy, &at), OTP_NULL_POINTER);
    EXPECT(otp_oob_next_issue_at(&record, NULL, &at), OTP_NULL_POINTER);
    EXPECT(otp_oob_next_issue_at(&record, &policy, NULL), OTP_NULL_POINTER);
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
}

static void test_verify_outcomes(void) {
    otp_oob_key key = {{0}}, other_key = {{0}};
    otp_oob_policy policy;
    otp_oob_record record, before;
    char code[OTP_OOB_CODE_BUFFER_SIZE], wrong[OTP_OOB_CODE_BUFFER_SIZE];
    char grouped[OTP_OOB_CODE_BUFFER_SIZE + 1];
    uint8_t other_bytes[32];
    int i;
    init_key(&key);
    memset(other_bytes, 9, sizeof other_bytes);
    EXPECT(otp_oob_key_init(&other_key, other_bytes, sizeof other_bytes), OTP_OK);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);

    memset(&record, 0, sizeof record);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("123456"), T, &record),
           OTP_OOB_NO_CODE_PENDING);

    issue(&key, &policy, T, &record, code);
    wrong_code(code, wrong);
    /* Malformed codes and times before the issue: errors, nothing counted or written. */
    before = record;
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("12a456"), T, &record),
           OTP_CODE_INVALID_CHARACTER);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("12345"), T, &record), OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("1234567"), T, &record),
           OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, "", 0, T, &record), OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, code, strlen(code), T - 1, &record),
           OTP_OOB_TIME_BEFORE_ISSUE);
    CHECK(memcmp(&record, &before, sizeof record) == 0);

    /* Wrong code, another user, another key: each counted as a wrong try. */
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, wrong, strlen(wrong), T, &record), OTP_CODE_INVALID);
    CHECK(record.bytes[2] == 1);
    EXPECT(otp_oob_verify(&key, BOB, BOB_LEN, code, strlen(code), T, &record), OTP_CODE_INVALID);
    CHECK(record.bytes[2] == 2);
    /* The right code, grouped with a space, one second before expiry. */
    memcpy(grouped, code, 3);
    grouped[3] = ' ';
    memcpy(grouped + 4, code + 3, 4);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, grouped, strlen(grouped), T + 299, &record),
           OTP_OK);
    /* Used: the tag stays, to recognise this code typed again (a replay); any other code
       finds no pending code. Neither writes the record. */
    CHECK(record.bytes[0] == 2 && record.bytes[2] == 3);
    CHECK(!all_bytes(record.bytes + 24, 32, 0));
    before = record;
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, code, strlen(code), T + 299, &record),
           OTP_CODE_REPLAYED);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, wrong, strlen(wrong), T + 299, &record),
           OTP_OOB_NO_CODE_PENDING);
    CHECK(memcmp(&record, &before, sizeof record) == 0);

    /* Another key never verifies. */
    issue(&key, &policy, T + 60, &record, code);
    EXPECT(otp_oob_verify(&other_key, ALICE, ALICE_LEN, code, strlen(code), T + 60, &record),
           OTP_CODE_INVALID);

    /* Expiry: from issue time + ttl on, even the right code. */
    issue(&key, &policy, T + 120, &record, code);
    before = record;
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, code, strlen(code), T + 420, &record),
           OTP_OOB_CODE_EXPIRED);
    CHECK(memcmp(&record, &before, sizeof record) == 0);

    /* The attempt bound: after three wrong tries even the right code is refused. */
    issue(&key, &policy, T + 180, &record, code);
    wrong_code(code, wrong);
    for (i = 0; i < 3; i++) {
        EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, wrong, strlen(wrong), T + 181, &record),
               OTP_CODE_INVALID);
    }
    before = record;
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, code, strlen(code), T + 182, &record),
           OTP_OOB_TOO_MANY_ATTEMPTS);
    CHECK(memcmp(&record, &before, sizeof record) == 0);

    /* NULL for each pointer in turn. */
    EXPECT(otp_oob_verify(NULL, ALICE, ALICE_LEN, TEXT("123456"), T, &record), OTP_NULL_POINTER);
    EXPECT(otp_oob_verify(&key, NULL, 0, TEXT("123456"), T, &record), OTP_NULL_POINTER);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, NULL, 0, T, &record), OTP_NULL_POINTER);
    EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("123456"), T, NULL), OTP_NULL_POINTER);

    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
    EXPECT(otp_oob_key_wipe(&other_key), OTP_OK);
}

static void test_record_encoding_is_checked(void) {
    otp_oob_key key = {{0}};
    otp_oob_policy policy;
    otp_oob_record record, bad;
    char code[OTP_OOB_CODE_BUFFER_SIZE];
    size_t len = 0xAA;
    uint64_t at = 1;
    size_t i;
    init_key(&key);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);
    memset(&record, 0, sizeof record);
    issue(&key, &policy, T, &record, code);

    for (i = 0; i < 7; i++) {
        bad = record;
        switch (i) {
        case 0: bad.bytes[0] = 3; break;               /* unknown state */
        case 1: bad.bytes[1] = 9; break;               /* digits */
        case 2: bad.bytes[3] = 0; break;               /* no tries allowed */
        case 3: bad.bytes[2] = 4; break;               /* more tries used than allowed */
        case 4: bad.bytes[5] = 1; break;               /* reserved */
        case 5: bad.bytes[17] = 1; break;              /* expiry far beyond 10 minutes */
        default:                                       /* an empty record that is not zero */
            memset(&bad, 0, sizeof bad);
            bad.bytes[40] = 1;
            break;
        }
        memset(code, 0xAA, sizeof code);
        EXPECT(otp_oob_verify(&key, ALICE, ALICE_LEN, TEXT("123456"), T, &bad),
               OTP_OOB_RECORD_INVALID);
        EXPECT(otp_oob_issue(&key, ALICE, ALICE_LEN, &policy, T + 600, &bad, code, sizeof code, &len),
               OTP_OOB_RECORD_INVALID);
        EXPECT(otp_oob_next_issue_at(&bad, &policy, &at), OTP_OOB_RECORD_INVALID);
        CHECK(all_bytes(code, sizeof code, 0xAA) && len == 0xAA && at == 1);
    }
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
}

static void test_every_oob_status_was_produced(void) {
    uint32_t s;
    for (s = OTP_OOB_KEY_TOO_SHORT; s <= OTP_OOB_NO_CODE_PENDING; s++) {
        if (!seen[s]) {
            failures++;
            fprintf(stderr, "no check produced status %u (%s)\n", (unsigned)s, otp_status_message(s));
        }
        checks++;
    }
}

/* Whether two states have the same encoding (their structs have padding bytes). */
static int same_state(const otp_user_state *a, const otp_user_state *b) {
    uint8_t ea[OTP_USER_STATE_LEN], eb[OTP_USER_STATE_LEN];
    size_t la = 0, lb = 0;
    EXPECT(otp_user_state_encode(a, ea, sizeof ea, &la), OTP_OK);
    EXPECT(otp_user_state_encode(b, eb, sizeof eb, &lb), OTP_OK);
    return la == lb && memcmp(ea, eb, la) == 0;
}

/* The user-state call: codes issued into state.oob, verified under the throttle, the state
 * written back for every counted outcome and encoded with the record. */
static void test_user_state_verify_oob(void) {
    otp_oob_key key = {{0}};
    otp_oob_policy policy;
    otp_throttle throttle;
    otp_user_state state, decoded, before;
    char code[OTP_OOB_CODE_BUFFER_SIZE], wrong[OTP_OOB_CODE_BUFFER_SIZE];
    uint8_t encoded[OTP_USER_STATE_LEN];
    size_t len = 0;

    init_key(&key);
    EXPECT(otp_oob_policy_default(&policy), OTP_OK);
    EXPECT(otp_throttle_default(&throttle), OTP_OK);
    EXPECT(otp_user_state_default(&state), OTP_OK);
    CHECK(all_bytes(&state.oob, sizeof state.oob, 0));
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT("123456"), T,
                                     &state),
           OTP_OOB_NO_CODE_PENDING);
    CHECK(state.throttle.failures == 1);

    issue(&key, &policy, T, &state.oob, code);
    /* The record travels in the state's encoding. */
    EXPECT(otp_user_state_encode(&state, encoded, sizeof encoded, &len), OTP_OK);
    CHECK(memcmp(encoded + 40, state.oob.bytes, OTP_OOB_RECORD_LEN) == 0);
    EXPECT(otp_user_state_decode(encoded, len, &decoded), OTP_OK);
    CHECK(memcmp(&decoded.oob, &state.oob, sizeof state.oob) == 0);

    wrong_code(code, wrong);
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(wrong), T + 1,
                                     &decoded),
           OTP_CODE_INVALID);
    CHECK(decoded.throttle.failures == 2);
    /* A malformed code is not counted and nothing is written. */
    before = decoded;
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT("12a456"), T + 2,
                                     &decoded),
           OTP_CODE_INVALID_CHARACTER);
    CHECK(same_state(&before, &decoded));
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(code), T + 3,
                                     &decoded),
           OTP_OK);
    CHECK(decoded.throttle.failures == 0);
    /* The used code again is a replay: refused, not counted, even after its expiry. Any
       other code finds none pending and counts. */
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(code), T + 4,
                                     &decoded),
           OTP_CODE_REPLAYED);
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(code), T + 4000,
                                     &decoded),
           OTP_CODE_REPLAYED);
    CHECK(decoded.throttle.failures == 0);
    {
        char other[OTP_OOB_CODE_BUFFER_SIZE];
        memcpy(other, code, strlen(code) + 1);
        other[0] = (char)(other[0] == '9' ? '0' : other[0] + 1);
        EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(other), T + 5,
                                         &decoded),
               OTP_OOB_NO_CODE_PENDING);
    }
    CHECK(decoded.throttle.failures == 1);

    /* At the hard stop the code is not checked and nothing is written. */
    issue(&key, &policy, T + 100, &decoded.oob, code);
    decoded.throttle.failures = throttle.hard_stop_after;
    before = decoded;
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(code), T + 101,
                                     &decoded),
           OTP_LOCKED_OUT);
    CHECK(same_state(&before, &decoded));

    EXPECT(otp_user_state_verify_oob(NULL, &throttle, ALICE, ALICE_LEN, TEXT(code), T, &state),
           OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_oob(&key, NULL, ALICE, ALICE_LEN, TEXT(code), T, &state),
           OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_oob(&key, &throttle, NULL, 0, TEXT(code), T, &state),
           OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, NULL, 6, T, &state),
           OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_oob(&key, &throttle, ALICE, ALICE_LEN, TEXT(code), T, NULL),
           OTP_NULL_POINTER);
    EXPECT(otp_oob_key_wipe(&key), OTP_OK);
}

int main(void) {
    test_key_init_and_wipe();
    test_policy_is_checked();
    test_issue_writes_only_on_success();
    test_verify_outcomes();
    test_record_encoding_is_checked();
    test_user_state_verify_oob();
    test_every_oob_status_was_produced();
    if (failures != 0) {
        fprintf(stderr, "%u of %u out-of-band checks failed\n", failures, checks);
        return 1;
    }
    printf("all %u out-of-band C API checks passed\n", checks);
    return 0;
}
