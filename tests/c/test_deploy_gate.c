/*
 * Tests of the deploy-gate part of the otpcore C API through its header only: the
 * throttle (policy checks, lockout, doubling, the retry time), recovery codes (format,
 * single use, constant set layout), the user state (its encoding, every decode error, the
 * throttled verifications that update it), NULL for every pointer argument, too-small
 * buffers and the sizes reported, and outputs left untouched on every error.
 *
 * Exits 0 when every check passes; prints each failure otherwise.
 */
#include "otpcore.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

/* The RFC 4226/6238 SHA-1 secret. */
static const char *const SECRET = "12345678901234567890";
/* An RFC 6238 test time: the first second of its step. */
static const uint64_t T = 1111111111;

static void init_totp(otp_totp *key) {
    otp_secret secret;
    otp_totp_params params;
    EXPECT(otp_secret_from_bytes(&secret, (const uint8_t *)SECRET, strlen(SECRET),
                                 OTP_POLICY_COMPATIBLE),
           OTP_OK);
    EXPECT(otp_totp_params_default(&params), OTP_OK);
    EXPECT(otp_totp_init(key, &secret, &params), OTP_OK);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

static void init_hotp(otp_hotp *key) {
    otp_secret secret;
    otp_hotp_params params;
    EXPECT(otp_secret_from_bytes(&secret, (const uint8_t *)SECRET, strlen(SECRET),
                                 OTP_POLICY_COMPATIBLE),
           OTP_OK);
    EXPECT(otp_hotp_params_default(&params), OTP_OK);
    EXPECT(otp_hotp_init(key, &secret, &params), OTP_OK);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

/* The second failure in a row locks out for a minute, doubling up to four; the sixth is a
 * hard stop. */
static otp_throttle small_throttle(void) {
    otp_throttle t;
    memset(&t, 0, sizeof t);
    t.lockout_after = 2;
    t.hard_stop_after = 6;
    t.lockout_secs = 60;
    t.max_lockout_secs = 240;
    return t;
}

static void totp_code(const otp_totp *key, uint64_t time, char *out) {
    size_t len = 0;
    EXPECT(otp_totp_generate(key, time, out, OTP_CODE_BUFFER_SIZE, &len), OTP_OK);
}

/* The encoding of a state: how these tests compare states, byte for byte. */
static void encode(const otp_user_state *state, uint8_t out[OTP_USER_STATE_LEN]) {
    size_t len = 0;
    EXPECT(otp_user_state_encode(state, out, OTP_USER_STATE_LEN, &len), OTP_OK);
    CHECK(len == OTP_USER_STATE_LEN);
}

static int same_state(const otp_user_state *a, const otp_user_state *b) {
    uint8_t ea[OTP_USER_STATE_LEN], eb[OTP_USER_STATE_LEN];
    encode(a, ea);
    encode(b, eb);
    return memcmp(ea, eb, sizeof ea) == 0;
}

static int throttle_state_is(const otp_throttle_state *s, uint64_t locked_until,
                             uint32_t failures_) {
    return s->locked_until == locked_until && s->failures == failures_;
}

static void test_throttle_policy_is_checked(void) {
    otp_throttle t, bad;
    otp_throttle_state s, before;
    EXPECT(otp_throttle_default(&t), OTP_OK);
    CHECK(t.lockout_after == 5 && t.hard_stop_after == 20 && t.lockout_secs == 60 &&
          t.max_lockout_secs == 3600);
    EXPECT(otp_throttle_validate(&t), OTP_OK);

    bad = t;
    bad.lockout_after = 0;
    EXPECT(otp_throttle_validate(&bad), OTP_INVALID_THROTTLE);
    bad = t;
    bad.hard_stop_after = t.lockout_after - 1;
    EXPECT(otp_throttle_validate(&bad), OTP_INVALID_THROTTLE);
    bad = t;
    bad.hard_stop_after = OTP_MAX_HARD_STOP + 1;
    EXPECT(otp_throttle_validate(&bad), OTP_INVALID_THROTTLE);
    bad.hard_stop_after = OTP_MAX_HARD_STOP;
    EXPECT(otp_throttle_validate(&bad), OTP_OK);
    bad = t;
    bad.lockout_secs = 0;
    EXPECT(otp_throttle_validate(&bad), OTP_INVALID_THROTTLE);
    bad = t;
    bad.max_lockout_secs = t.lockout_secs - 1;
    EXPECT(otp_throttle_validate(&bad), OTP_INVALID_THROTTLE);
    bad.max_lockout_secs = t.lockout_secs; /* a fixed lockout */
    EXPECT(otp_throttle_validate(&bad), OTP_OK);

    /* An invalid policy is refused by every function, before the state is touched. */
    bad.lockout_secs = 0;
    memset(&s, 0, sizeof s);
    s.failures = 1;
    s.locked_until = 7;
    before = s;
    EXPECT(otp_throttle_check(&bad, &s, 100), OTP_INVALID_THROTTLE);
    EXPECT(otp_throttle_check_recovery(&bad, &s, 100), OTP_INVALID_THROTTLE);
    EXPECT(otp_throttle_record_failure(&bad, 100, &s), OTP_INVALID_THROTTLE);
    EXPECT(otp_throttle_record_success(&bad, &s), OTP_INVALID_THROTTLE);
    CHECK(throttle_state_is(&s, before.locked_until, before.failures));
}

static void test_throttle_locks_out_doubles_stops_and_resets(void) {
    otp_throttle t = small_throttle();
    otp_throttle_state s;
    const uint64_t now = 1000000;
    memset(&s, 0, sizeof s);

    EXPECT(otp_throttle_check(&t, &s, now), OTP_OK);
    EXPECT(otp_throttle_record_failure(&t, now, &s), OTP_OK);
    CHECK(throttle_state_is(&s, 0, 1));
    EXPECT(otp_throttle_check(&t, &s, now), OTP_OK);

    /* The second failure in a row starts a lockout of 60 s, however late it comes. */
    EXPECT(otp_throttle_record_failure(&t, now + 100000, &s), OTP_OK);
    CHECK(throttle_state_is(&s, now + 100060, 2));
    EXPECT(otp_throttle_check(&t, &s, now + 100059), OTP_THROTTLED);
    /* retry_at is locked_until: from then on attempts are allowed again. */
    EXPECT(otp_throttle_check(&t, &s, now + 100060), OTP_OK);

    /* Each further failure doubles the lockout, up to max_lockout_secs. */
    EXPECT(otp_throttle_record_failure(&t, now + 100060, &s), OTP_OK);
    CHECK(throttle_state_is(&s, now + 100180, 3));
    EXPECT(otp_throttle_record_failure(&t, now + 100180, &s), OTP_OK);
    CHECK(throttle_state_is(&s, now + 100420, 4));
    /* A clock set back does not shorten it: the next lockout starts at the last one's end. */
    EXPECT(otp_throttle_check(&t, &s, now), OTP_THROTTLED);
    EXPECT(otp_throttle_record_failure(&t, now, &s), OTP_OK);
    CHECK(throttle_state_is(&s, now + 100660, 5));

    /* The sixth is the hard stop: no code is checked, however long one waits... */
    EXPECT(otp_throttle_record_failure(&t, now + 100660, &s), OTP_OK);
    CHECK(s.failures == 6);
    EXPECT(otp_throttle_check(&t, &s, UINT64_MAX), OTP_LOCKED_OUT);
    /* ...but a recovery code may be tried once the lockout ends. */
    EXPECT(otp_throttle_check_recovery(&t, &s, now + 100899), OTP_THROTTLED);
    EXPECT(otp_throttle_check_recovery(&t, &s, now + 100900), OTP_OK);

    /* A success forgets everything. */
    EXPECT(otp_throttle_record_success(&t, &s), OTP_OK);
    CHECK(throttle_state_is(&s, 0, 0));
}

/* The default policy against attackers over a simulated year: bursts, a trickle of four
 * guesses every ten minutes, and waiting out every lockout to the second. None gets more
 * than the hard stop's 20 guesses; the last gets exactly the 10 of the first hour that
 * the Rust docs state. */
static uint64_t attack(const otp_throttle *t, uint64_t horizon, int strategy) {
    otp_throttle_state s;
    uint64_t now = 1700000000, end = now + horizon, guesses = 0, sent = 0;
    memset(&s, 0, sizeof s);
    while (now < end) {
        otp_status st = otp_throttle_check(t, &s, now);
        if (st == OTP_LOCKED_OUT) break;
        if (st == OTP_OK) {
            guesses++;
            EXPECT(otp_throttle_record_failure(t, now, &s), OTP_OK);
        } else {
            CHECK(st == OTP_THROTTLED);
        }
        sent++;
        switch (strategy) {
        case 0: now += 1; break;                                   /* burst */
        case 1: now += (sent % 4 == 0) ? 597 : 1; break;           /* trickle */
        default: now = (st == OTP_THROTTLED) ? s.locked_until : now; /* wait exactly */
        }
    }
    return guesses;
}

static void test_throttle_budget_against_simulated_attackers(void) {
    otp_throttle t;
    const uint64_t year = 365ull * 86400;
    EXPECT(otp_throttle_default(&t), OTP_OK);
    CHECK(attack(&t, year, 0) == 20);
    CHECK(attack(&t, year, 1) == 20);
    CHECK(attack(&t, year, 2) == 20);
    CHECK(attack(&t, 3600, 2) == 10);
    CHECK(attack(&t, 3601, 0) == 10);
}

static void test_user_state_totp_gate(void) {
    otp_totp key;
    otp_throttle t = small_throttle();
    otp_user_state state, before;
    char code[OTP_CODE_BUFFER_SIZE], next[OTP_CODE_BUFFER_SIZE], later[OTP_CODE_BUFFER_SIZE];
    uint64_t step = 99, unlocked;
    int64_t drift = 99;

    init_totp(&key);
    EXPECT(otp_user_state_default(&state), OTP_OK);
    CHECK(state.has_totp_step == 0 && state.hotp_counter == 0 && state.recovery.used == OTP_RECOVERY_USED_MASK);
    CHECK(throttle_state_is(&state.throttle, 0, 0));

    /* RFC 6238: 287082 at time 59 (6 digits), step 1. */
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT("287082"), 59, &state, &step, &drift), OTP_OK);
    CHECK(step == 1 && drift == 0 && state.has_totp_step == 1 && state.totp_step == 1);

    totp_code(&key, T, code);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(code), T, &state, &step, &drift), OTP_OK);
    CHECK(step == T / 30 && drift == 0 && state.totp_step == T / 30);

    /* The same code again is a replay: refused, outputs untouched, and not counted however
       often it comes (it tells a guesser nothing). */
    step = 99;
    drift = 99;
    for (int i = 0; i < 5; i++) {
        EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(code), T + 5, &state, &step, &drift),
               OTP_CODE_REPLAYED);
    }
    CHECK(step == 99 && drift == 99);
    CHECK(state.totp_step == T / 30 && throttle_state_is(&state.throttle, 0, 0));

    /* A malformed code reveals nothing and is not counted; the state is not written. */
    before = state;
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT("12345"), T + 6, &state, &step, &drift),
           OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT("12345x"), T + 6, &state, &step, &drift),
           OTP_CODE_INVALID_CHARACTER);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT("12345\xff"), T + 6, &state, &step, &drift),
           OTP_CODE_INVALID_CHARACTER);
    CHECK(same_state(&state, &before));

    /* A wrong code counts; the second in a row locks out for 60 s. */
    memcpy(next, code, sizeof next);
    next[0] = (char)(next[0] == '9' ? '0' : next[0] + 1);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(next), T + 9, &state, &step, &drift),
           OTP_CODE_INVALID);
    CHECK(throttle_state_is(&state.throttle, 0, 1));
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(next), T + 10, &state, &step, &drift),
           OTP_CODE_INVALID);
    unlocked = T + 10 + 60;
    CHECK(throttle_state_is(&state.throttle, unlocked, 2));
    CHECK(step == 99 && drift == 99);

    /* Locked out: even the right code of the next step is not checked; nothing written. */
    totp_code(&key, T + 30, next);
    before = state;
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(next), T + 30, &state, &step, &drift),
           OTP_THROTTLED);
    CHECK(same_state(&state, &before) && step == 99 && drift == 99);
    /* The retry time is the state's locked_until. */
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(next), unlocked - 1, &state, &step, &drift),
           OTP_THROTTLED);
    /* Whatever bytes come in, the lockout is what is reported. */
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT("12\xc3\xa9" "456"), T + 30, &state, &step,
                                      &drift),
           OTP_THROTTLED);
    CHECK(same_state(&state, &before) && step == 99 && drift == 99);

    /* From locked_until on, a fresh code passes and the throttle is reset. */
    totp_code(&key, unlocked, later);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(later), unlocked, &state, &step, &drift),
           OTP_OK);
    CHECK(step == unlocked / 30 && state.totp_step == unlocked / 30);
    CHECK(throttle_state_is(&state.throttle, 0, 0));

    /* Errors that come before the attempt leave the state as it was. */
    before = state;
    {
        otp_throttle bad = t;
        otp_user_state odd = state;
        otp_totp_params params;
        otp_totp late;
        otp_secret secret;
        bad.lockout_after = 0;
        EXPECT(otp_user_state_verify_totp(&key, &bad, TEXT(later), unlocked + 1, &state, &step, &drift),
               OTP_INVALID_THROTTLE);
        odd.has_totp_step = 2;
        EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(later), unlocked + 1, &odd, &step, &drift),
               OTP_STATE_INVALID_FLAGS);
        CHECK(odd.has_totp_step == 2);
        /* A key whose T0 is after `now`. */
        EXPECT(otp_secret_from_bytes(&secret, (const uint8_t *)SECRET, strlen(SECRET),
                                     OTP_POLICY_COMPATIBLE),
               OTP_OK);
        EXPECT(otp_totp_params_default(&params), OTP_OK);
        params.t0 = unlocked + 1000;
        EXPECT(otp_totp_init(&late, &secret, &params), OTP_OK);
        EXPECT(otp_user_state_verify_totp(&late, &t, TEXT(later), unlocked, &state, &step, &drift),
               OTP_TIME_BEFORE_T0);
        EXPECT(otp_totp_wipe(&late), OTP_OK);
        EXPECT(otp_secret_wipe(&secret), OTP_OK);
    }
    CHECK(same_state(&state, &before));

    /* A wiped key is no key: refused before anything is read or written. */
    EXPECT(otp_totp_wipe(&key), OTP_OK);
    EXPECT(otp_user_state_verify_totp(&key, &t, TEXT(later), unlocked + 60, &state, &step, &drift),
           OTP_NOT_INITIALIZED);
    CHECK(same_state(&state, &before));
}

static void test_user_state_hotp_gate(void) {
    otp_hotp key;
    otp_throttle t = small_throttle();
    otp_user_state state, before;
    uint64_t counter = 99;
    int64_t drift = 99;
    const uint64_t now = 5000;

    init_hotp(&key);
    EXPECT(otp_user_state_default(&state), OTP_OK);
    /* RFC 4226: counter 0 is 755224, counter 2 is 359152 (within the look-ahead of 3). */
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("755224"), now, &state, &counter, &drift),
           OTP_OK);
    CHECK(counter == 0 && drift == 0 && state.hotp_counter == 1);
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("359152"), now, &state, &counter, &drift),
           OTP_OK);
    CHECK(counter == 2 && drift == 1 && state.hotp_counter == 3);

    /* A used counter's code falls behind the stored counter: a failure. */
    counter = 99;
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("755224"), now + 1, &state, &counter, &drift),
           OTP_CODE_INVALID);
    CHECK(counter == 99 && state.hotp_counter == 3 && state.throttle.failures == 1);
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("000000"), now + 2, &state, &counter, &drift),
           OTP_CODE_INVALID);
    CHECK(state.throttle.locked_until == now + 62);

    /* Locked out: counter 3's right code (969429) is not checked. */
    before = state;
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("969429"), now + 3, &state, &counter, &drift),
           OTP_THROTTLED);
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("96942\xff"), now + 3, &state, &counter,
                                      &drift),
           OTP_THROTTLED);
    CHECK(same_state(&state, &before) && counter == 99);
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("969429"), now + 62, &state, &counter, &drift),
           OTP_OK);
    CHECK(counter == 3 && state.hotp_counter == 4 && state.throttle.failures == 0);

    /* The last counter's code could be replayed forever: a used-up counter is an error,
     * not a failure, and nothing is written. */
    state.hotp_counter = UINT64_MAX;
    {
        char last[OTP_CODE_BUFFER_SIZE];
        size_t len;
        EXPECT(otp_hotp_generate(&key, UINT64_MAX, last, sizeof last, &len), OTP_OK);
        EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT(last), now + 100, &state, &counter, &drift),
               OTP_COUNTER_EXHAUSTED);
        CHECK(state.hotp_counter == UINT64_MAX && counter == 3 && state.throttle.failures == 0);
    }

    EXPECT(otp_hotp_wipe(&key), OTP_OK);
    before = state;
    EXPECT(otp_user_state_verify_hotp(&key, &t, TEXT("969429"), now + 200, &state, &counter, &drift),
           OTP_NOT_INITIALIZED);
    CHECK(same_state(&state, &before));
}

/* Code `i` of a generated text, NUL-terminated, into `out`. */
static void code_at(const char *text, size_t i, char out[OTP_RECOVERY_CODE_TEXT_LEN + 1]) {
    memcpy(out, text + i * (OTP_RECOVERY_CODE_TEXT_LEN + 1), OTP_RECOVERY_CODE_TEXT_LEN);
    out[OTP_RECOVERY_CODE_TEXT_LEN] = '\0';
}

static int is_code_symbol(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u');
}

static void test_recovery_codes_generate(void) {
    char text[OTP_RECOVERY_CODES_TEXT_SIZE + 8], other[OTP_RECOVERY_CODES_TEXT_SIZE];
    otp_recovery_codes set, set2, untouched;
    size_t len = 0, remaining = 0, i, j;

    /* Too small: the size needed, and nothing generated or written. */
    memset(text, 'X', sizeof text);
    memset(&set, 0xAB, sizeof set);
    untouched = set;
    EXPECT(otp_recovery_codes_generate(text, OTP_RECOVERY_CODES_TEXT_SIZE - 1, &len, &set),
           OTP_BUFFER_TOO_SMALL);
    CHECK(len == OTP_RECOVERY_CODES_TEXT_SIZE && text[0] == 'X');
    CHECK(memcmp(&set, &untouched, sizeof set) == 0);
    len = 0;
    EXPECT(otp_recovery_codes_generate(text, 0, &len, &set), OTP_BUFFER_TOO_SMALL);
    CHECK(len == OTP_RECOVERY_CODES_TEXT_SIZE);

    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, &set), OTP_OK);
    CHECK(len == OTP_RECOVERY_CODES_TEXT_SIZE - 1 && strlen(text) == len);
    CHECK(text[OTP_RECOVERY_CODES_TEXT_SIZE] == 'X'); /* nothing past the NUL */
    CHECK(set.used == 0);
    for (i = 0; i < OTP_RECOVERY_CODE_COUNT; i++) {
        const char *code = text + i * (OTP_RECOVERY_CODE_TEXT_LEN + 1);
        for (j = 0; j < OTP_RECOVERY_CODE_TEXT_LEN; j++) {
            CHECK(j % 5 == 4 ? code[j] == '-' : is_code_symbol(code[j]));
        }
        CHECK(code[OTP_RECOVERY_CODE_TEXT_LEN] == (i + 1 == OTP_RECOVERY_CODE_COUNT ? '\0' : '\n'));
    }
    EXPECT(otp_recovery_codes_remaining(&set, &remaining), OTP_OK);
    CHECK(remaining == OTP_RECOVERY_CODE_COUNT);

    /* A second set has its own codes and its own salt. */
    EXPECT(otp_recovery_codes_generate(other, sizeof other, &len, &set2), OTP_OK);
    CHECK(memcmp(text, other, sizeof other) != 0);
    CHECK(memcmp(set.salt, set2.salt, sizeof set.salt) != 0);
    /* The codes are the caller's to wipe. */
    memset(other, 0, sizeof other);
    memset(text, 0, sizeof text);
}

static void test_recovery_code_works_once(void) {
    char text[OTP_RECOVERY_CODES_TEXT_SIZE], code[OTP_RECOVERY_CODE_TEXT_LEN + 1];
    char typed[32];
    otp_recovery_codes set, before;
    size_t len, slot = 99, remaining = 99, i, k;

    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, &set), OTP_OK);
    code_at(text, 3, code);
    /* Typed in upper case without the dashes. */
    for (i = 0, k = 0; code[i] != '\0'; i++) {
        if (code[i] != '-') {
            typed[k++] = (char)toupper((unsigned char)code[i]);
        }
    }
    typed[k] = '\0';
    EXPECT(otp_recovery_codes_verify(TEXT(typed), &set, &slot, &remaining), OTP_OK);
    CHECK(slot == 3 && remaining == OTP_RECOVERY_CODE_COUNT - 1 && set.used == (1u << 3));

    /* Used: refused as a replay, nothing written. */
    slot = 99;
    remaining = 99;
    before = set;
    EXPECT(otp_recovery_codes_verify(TEXT(code), &set, &slot, &remaining), OTP_CODE_REPLAYED);
    CHECK(slot == 99 && remaining == 99 && memcmp(&set, &before, sizeof set) == 0);

    /* Another code still works. */
    code_at(text, 9, code);
    EXPECT(otp_recovery_codes_verify(TEXT(code), &set, &slot, &remaining), OTP_OK);
    CHECK(slot == 9 && remaining == OTP_RECOVERY_CODE_COUNT - 2);
    EXPECT(otp_recovery_codes_remaining(&set, &remaining), OTP_OK);
    CHECK(remaining == OTP_RECOVERY_CODE_COUNT - 2);

    /* Well-formed but not in the set; and malformed. */
    slot = 99;
    before = set;
    EXPECT(otp_recovery_codes_verify(TEXT("0000-0000-0000-0000"), &set, &slot, &remaining),
           OTP_CODE_INVALID);
    EXPECT(otp_recovery_codes_verify(TEXT("0000-0000-0000-000"), &set, &slot, &remaining),
           OTP_RECOVERY_CODE_MALFORMED);
    EXPECT(otp_recovery_codes_verify(TEXT("0000-0000-0000-00000"), &set, &slot, &remaining),
           OTP_RECOVERY_CODE_MALFORMED);
    EXPECT(otp_recovery_codes_verify(TEXT("0000-0000-0000-000u"), &set, &slot, &remaining),
           OTP_RECOVERY_CODE_MALFORMED);
    EXPECT(otp_recovery_codes_verify(TEXT("0000-0000-0000-000\xff"), &set, &slot, &remaining),
           OTP_RECOVERY_CODE_MALFORMED);
    EXPECT(otp_recovery_codes_verify("", 0, &set, &slot, &remaining), OTP_RECOVERY_CODE_MALFORMED);
    CHECK(slot == 99 && memcmp(&set, &before, sizeof set) == 0);

    /* A set with bits outside the mask is refused. */
    set.used |= 1u << 10;
    before = set;
    EXPECT(otp_recovery_codes_verify(TEXT(code), &set, &slot, &remaining), OTP_STATE_INVALID_FLAGS);
    EXPECT(otp_recovery_codes_remaining(&set, &remaining), OTP_STATE_INVALID_FLAGS);
    CHECK(slot == 99 && memcmp(&set, &before, sizeof set) == 0);
    memset(text, 0, sizeof text);
}

static void test_user_state_recovery_gate(void) {
    char text[OTP_RECOVERY_CODES_TEXT_SIZE], code[OTP_RECOVERY_CODE_TEXT_LEN + 1];
    otp_throttle t = small_throttle();
    otp_user_state state, before;
    size_t len, slot = 99, remaining = 99;
    const uint64_t now = 7000;

    EXPECT(otp_user_state_default(&state), OTP_OK);
    /* The default set is empty: nothing verifies against it. */
    EXPECT(otp_user_state_verify_recovery(&t, TEXT("0000-0000-0000-0000"), now, &state, &slot,
                                          &remaining),
           OTP_CODE_INVALID);
    CHECK(state.throttle.failures == 1);

    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, &state.recovery), OTP_OK);
    code_at(text, 0, code);
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(code), now + 1, &state, &slot, &remaining),
           OTP_OK);
    CHECK(slot == 0 && remaining == OTP_RECOVERY_CODE_COUNT - 1 && state.recovery.used == 1u);
    CHECK(throttle_state_is(&state.throttle, 0, 0));

    /* Used again: a replay, refused and not counted, however often (more than the hard
       stop). Only that exact code is free: one symbol off it is not in the set and counts;
       twice locks out. */
    slot = 99;
    for (uint32_t i = 0; i <= t.hard_stop_after; i++) {
        EXPECT(otp_user_state_verify_recovery(&t, TEXT(code), now + 2, &state, &slot, &remaining),
               OTP_CODE_REPLAYED);
    }
    CHECK(slot == 99 && throttle_state_is(&state.throttle, 0, 0));
    {
        char near[sizeof code];
        memcpy(near, code, sizeof near);
        near[OTP_RECOVERY_CODE_TEXT_LEN - 1] = near[OTP_RECOVERY_CODE_TEXT_LEN - 1] == 'z' ? 'y' : 'z';
        EXPECT(otp_user_state_verify_recovery(&t, TEXT(near), now + 2, &state, &slot, &remaining),
               OTP_CODE_INVALID);
        CHECK(slot == 99 && state.throttle.failures == 1);
        EXPECT(otp_user_state_verify_recovery(&t, TEXT(near), now + 3, &state, &slot, &remaining),
               OTP_CODE_INVALID);
    }
    CHECK(state.throttle.locked_until == now + 63);

    /* Locked out: an unused code is not checked, and stays unused. */
    code_at(text, 1, code);
    before = state;
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(code), now + 4, &state, &slot, &remaining),
           OTP_THROTTLED);
    EXPECT(otp_user_state_verify_recovery(&t, TEXT("\xff"), now + 4, &state, &slot, &remaining),
           OTP_THROTTLED);
    CHECK(same_state(&state, &before) && slot == 99);
    /* Malformed: not counted, nothing written. */
    EXPECT(otp_user_state_verify_recovery(&t, TEXT("not a code"), now + 63, &state, &slot,
                                          &remaining),
           OTP_RECOVERY_CODE_MALFORMED);
    CHECK(same_state(&state, &before));
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(code), now + 63, &state, &slot, &remaining),
           OTP_OK);
    CHECK(slot == 1 && remaining == OTP_RECOVERY_CODE_COUNT - 2 && state.recovery.used == 3u);
    memset(text, 0, sizeof text);
}

static void test_user_state_encoding(void) {
    otp_user_state state, decoded, sentinel;
    uint8_t buf[OTP_USER_STATE_LEN + 16], copy[OTP_USER_STATE_LEN + 1];
    char text[OTP_RECOVERY_CODES_TEXT_SIZE];
    size_t len = 0, i;

    EXPECT(otp_user_state_default(&state), OTP_OK);
    state.totp_step = 0x0102030405060708ull;
    state.has_totp_step = 1;
    state.hotp_counter = 42;
    state.throttle.locked_until = 2000;
    state.throttle.failures = 3;
    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, &state.recovery), OTP_OK);
    memset(text, 0, sizeof text);
    state.recovery.used = 0x0205;

    /* Too small: the size needed and nothing written. */
    memset(buf, 0xEE, sizeof buf);
    EXPECT(otp_user_state_encode(&state, buf, OTP_USER_STATE_LEN - 1, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == OTP_USER_STATE_LEN && buf[0] == 0xEE);
    len = 0;
    EXPECT(otp_user_state_encode(&state, buf, 0, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == OTP_USER_STATE_LEN);

    /* A larger buffer takes exactly OTP_USER_STATE_LEN bytes. */
    EXPECT(otp_user_state_encode(&state, buf, sizeof buf, &len), OTP_OK);
    CHECK(len == OTP_USER_STATE_LEN && buf[OTP_USER_STATE_LEN] == 0xEE);
    /* The documented layout: magic, version, flags, used bits, then big-endian fields. */
    CHECK(memcmp(buf, "OTPS", 4) == 0 && buf[4] == OTP_USER_STATE_VERSION && buf[5] == 1);
    CHECK(buf[6] == 0x02 && buf[7] == 0x05);
    for (i = 0; i < 8; i++) {
        CHECK(buf[8 + i] == i + 1);
    }
    CHECK(buf[23] == 42 && buf[30] == 0x07 && buf[31] == 0xD0 && buf[35] == 3);
    for (i = 36; i < 104; i++) {
        CHECK(buf[i] == 0); /* reserved, and no out-of-band code pending */
    }
    CHECK(memcmp(buf + 104, state.recovery.salt, OTP_RECOVERY_SALT_LEN) == 0);
    CHECK(memcmp(buf + 120, state.recovery.hashes, sizeof state.recovery.hashes) == 0);

    /* Round trip. */
    EXPECT(otp_user_state_decode(buf, OTP_USER_STATE_LEN, &decoded), OTP_OK);
    CHECK(decoded.totp_step == state.totp_step && decoded.has_totp_step == 1 &&
          decoded.hotp_counter == 42);
    CHECK(throttle_state_is(&decoded.throttle, 2000, 3));
    CHECK(decoded.recovery.used == 0x0205 &&
          memcmp(decoded.recovery.salt, state.recovery.salt, sizeof decoded.recovery.salt) == 0 &&
          memcmp(decoded.recovery.hashes, state.recovery.hashes, sizeof decoded.recovery.hashes) == 0);
    CHECK(same_state(&decoded, &state));

    /* No step accepted: flag clear, and the step is encoded as 0. */
    state.has_totp_step = 0;
    EXPECT(otp_user_state_encode(&state, buf, sizeof buf, &len), OTP_OK);
    CHECK(buf[5] == 0 && buf[8] == 0 && buf[15] == 0);
    EXPECT(otp_user_state_decode(buf, OTP_USER_STATE_LEN, &decoded), OTP_OK);
    CHECK(decoded.has_totp_step == 0 && decoded.totp_step == 0);

    /* Structs that no encoding could produce are refused. */
    state.has_totp_step = 2;
    EXPECT(otp_user_state_encode(&state, buf, sizeof buf, &len), OTP_STATE_INVALID_FLAGS);
    state.has_totp_step = 1;
    state.recovery.used = 0x0400;
    EXPECT(otp_user_state_encode(&state, buf, sizeof buf, &len), OTP_STATE_INVALID_FLAGS);
    state.recovery.used = 0;

    /* Every decode error, each with nothing written. */
    EXPECT(otp_user_state_encode(&state, buf, sizeof buf, &len), OTP_OK);
    memset(&sentinel, 0x5A, sizeof sentinel);
    memcpy(&decoded, &sentinel, sizeof decoded);
    EXPECT(otp_user_state_decode(buf, 0, &decoded), OTP_STATE_WRONG_LENGTH);
    EXPECT(otp_user_state_decode(buf, 4, &decoded), OTP_STATE_WRONG_LENGTH);
    EXPECT(otp_user_state_decode(buf, OTP_USER_STATE_LEN - 1, &decoded), OTP_STATE_WRONG_LENGTH);
    memcpy(copy, buf, OTP_USER_STATE_LEN);
    copy[OTP_USER_STATE_LEN] = 0;
    EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN + 1, &decoded), OTP_STATE_WRONG_LENGTH);
    copy[0] = 'X';
    EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN, &decoded), OTP_STATE_BAD_MAGIC);
    EXPECT(otp_user_state_decode(copy, 5, &decoded), OTP_STATE_BAD_MAGIC);
    copy[0] = 'O';
    copy[4] = 3;
    EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN, &decoded), OTP_STATE_UNSUPPORTED_VERSION);
    copy[4] = 0;
    EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN, &decoded), OTP_STATE_UNSUPPORTED_VERSION);
    copy[4] = OTP_USER_STATE_VERSION;
    /* Any change after the version fails the checksum: a reserved flag, a lowered counter,
     * a cleared throttle, a changed checksum. */
    for (i = 5; i < OTP_USER_STATE_LEN; i += 7) {
        copy[i] ^= 0x04;
        EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN, &decoded), OTP_STATE_CORRUPT);
        copy[i] ^= 0x04;
    }
    CHECK(memcmp(&decoded, &sentinel, sizeof decoded) == 0);
    EXPECT(otp_user_state_decode(copy, OTP_USER_STATE_LEN, &decoded), OTP_OK);
}

static void test_null_pointers(void) {
    otp_totp totp;
    otp_hotp hotp;
    otp_throttle t = small_throttle();
    otp_throttle_state ts;
    otp_user_state us;
    otp_recovery_codes set;
    char text[OTP_RECOVERY_CODES_TEXT_SIZE];
    uint8_t buf[OTP_USER_STATE_LEN];
    size_t len = 0, slot = 0, remaining = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    const char *code = "123456";
    const char *rcode = "0000-0000-0000-0000";

    init_totp(&totp);
    init_hotp(&hotp);
    memset(&ts, 0, sizeof ts);
    EXPECT(otp_user_state_default(&us), OTP_OK);
    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, &set), OTP_OK);
    memset(text, 0, sizeof text);

    EXPECT(otp_throttle_default(NULL), OTP_NULL_POINTER);
    EXPECT(otp_throttle_validate(NULL), OTP_NULL_POINTER);
    EXPECT(otp_throttle_check(NULL, &ts, 0), OTP_NULL_POINTER);
    EXPECT(otp_throttle_check(&t, NULL, 0), OTP_NULL_POINTER);
    EXPECT(otp_throttle_record_failure(NULL, 0, &ts), OTP_NULL_POINTER);
    EXPECT(otp_throttle_record_failure(&t, 0, NULL), OTP_NULL_POINTER);
    EXPECT(otp_throttle_record_success(NULL, &ts), OTP_NULL_POINTER);
    EXPECT(otp_throttle_record_success(&t, NULL), OTP_NULL_POINTER);

    EXPECT(otp_recovery_codes_generate(NULL, sizeof text, &len, &set), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_generate(text, sizeof text, NULL, &set), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_generate(text, sizeof text, &len, NULL), OTP_NULL_POINTER);
    /* NULL comes before the size check. */
    EXPECT(otp_recovery_codes_generate(NULL, 0, &len, &set), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_verify(NULL, 19, &set, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_verify(NULL, 0, &set, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_verify(TEXT(rcode), NULL, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_verify(TEXT(rcode), &set, NULL, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_verify(TEXT(rcode), &set, &slot, NULL), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_remaining(NULL, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_recovery_codes_remaining(&set, NULL), OTP_NULL_POINTER);

    EXPECT(otp_user_state_default(NULL), OTP_NULL_POINTER);
    EXPECT(otp_user_state_encode(NULL, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_user_state_encode(&us, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_user_state_encode(&us, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_user_state_decode(NULL, sizeof buf, &us), OTP_NULL_POINTER);
    EXPECT(otp_user_state_decode(NULL, 0, &us), OTP_NULL_POINTER);
    EXPECT(otp_user_state_decode(buf, sizeof buf, NULL), OTP_NULL_POINTER);

    EXPECT(otp_user_state_verify_totp(NULL, &t, TEXT(code), 59, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_totp(&totp, NULL, TEXT(code), 59, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_totp(&totp, &t, NULL, 6, 59, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_totp(&totp, &t, TEXT(code), 59, NULL, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_totp(&totp, &t, TEXT(code), 59, &us, NULL, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_totp(&totp, &t, TEXT(code), 59, &us, &u64, NULL), OTP_NULL_POINTER);

    EXPECT(otp_user_state_verify_hotp(NULL, &t, TEXT(code), 0, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_hotp(&hotp, NULL, TEXT(code), 0, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_hotp(&hotp, &t, NULL, 6, 0, &us, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_hotp(&hotp, &t, TEXT(code), 0, NULL, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_hotp(&hotp, &t, TEXT(code), 0, &us, NULL, &i64), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_hotp(&hotp, &t, TEXT(code), 0, &us, &u64, NULL), OTP_NULL_POINTER);

    EXPECT(otp_user_state_verify_recovery(NULL, TEXT(rcode), 0, &us, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_recovery(&t, NULL, 19, 0, &us, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(rcode), 0, NULL, &slot, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(rcode), 0, &us, NULL, &remaining), OTP_NULL_POINTER);
    EXPECT(otp_user_state_verify_recovery(&t, TEXT(rcode), 0, &us, &slot, NULL), OTP_NULL_POINTER);

    /* None of the refused calls counted an attempt. */
    CHECK(throttle_state_is(&us.throttle, 0, 0) && us.has_totp_step == 0);
    CHECK(throttle_state_is(&ts, 0, 0));

    EXPECT(otp_totp_wipe(&totp), OTP_OK);
    EXPECT(otp_hotp_wipe(&hotp), OTP_OK);
}

static void test_deploy_gate_statuses_were_produced(void) {
    uint32_t s;
    for (s = OTP_THROTTLED; s <= OTP_STATE_INVALID_FLAGS; s++) {
        if (!seen[s]) {
            failures++;
            fprintf(stderr, "no check produced status %u (%s)\n", (unsigned)s, otp_status_message(s));
        }
        checks++;
    }
}

int main(void) {
    test_throttle_policy_is_checked();
    test_throttle_locks_out_doubles_stops_and_resets();
    test_throttle_budget_against_simulated_attackers();
    test_user_state_totp_gate();
    test_user_state_hotp_gate();
    test_recovery_codes_generate();
    test_recovery_code_works_once();
    test_user_state_recovery_gate();
    test_user_state_encoding();
    test_null_pointers();
    test_deploy_gate_statuses_were_produced();
    if (failures != 0) {
        fprintf(stderr, "%u of %u checks failed\n", failures, checks);
        return 1;
    }
    printf("all %u deploy-gate C API checks passed\n", checks);
    return 0;
}
