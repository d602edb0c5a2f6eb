/*
 * Tests of the otpcore C API through its header only: RFC 4226/6238 vectors, every status
 * code, NULL for every pointer argument, too-small buffers and the sizes reported,
 * wiping, key URI round trips and invalid enumeration values.
 *
 * Exits 0 when every check passes; prints each failure otherwise.
 */
#include "otpcore.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static const char *const SHA1_SECRET = "12345678901234567890";
static const char *const SHA256_SECRET = "12345678901234567890123456789012";
static const char *const SHA512_SECRET =
    "1234567890123456789012345678901234567890123456789012345678901234";

static int all_zero(const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i] != 0) {
            return 0;
        }
    }
    return 1;
}

static otp_status secret_from(otp_secret *out, const char *bytes) {
    return otp_secret_from_bytes(out, (const uint8_t *)bytes, strlen(bytes), OTP_POLICY_COMPATIBLE);
}

static void init_totp(otp_totp *key, const char *secret_bytes, uint32_t algorithm, uint32_t digits) {
    otp_secret secret;
    otp_totp_params params;
    EXPECT(secret_from(&secret, secret_bytes), OTP_OK);
    EXPECT(otp_totp_params_default(&params), OTP_OK);
    params.algorithm = algorithm;
    params.digits = digits;
    EXPECT(otp_totp_init(key, &secret, &params), OTP_OK);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

static void init_hotp(otp_hotp *key) {
    otp_secret secret;
    otp_hotp_params params;
    EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
    EXPECT(otp_hotp_params_default(&params), OTP_OK);
    EXPECT(otp_hotp_init(key, &secret, &params), OTP_OK);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

static void test_version_and_messages(void) {
    const char *unknown = otp_status_message(0xFFFFFFFFu);
    uint32_t s;
    const char *version = otp_version();
    CHECK(version != NULL && version[0] >= '0' && version[0] <= '9' && strchr(version, '.') != NULL);
    CHECK(strcmp(unknown, "unknown status") == 0);
    CHECK(strcmp(otp_status_message(OTP_OK), "success") == 0);
    for (s = 0; s <= OTP_STATUS_MAX; s++) {
        const char *m = otp_status_message(s);
        CHECK(m != NULL && m[0] != '\0');
        if (s == 8 || s == 9 || (s >= 51 && s <= 59)) {
            CHECK(strcmp(m, unknown) == 0);
        } else {
            CHECK(strcmp(m, unknown) != 0);
        }
    }
    CHECK(strcmp(otp_status_message(OTP_STATUS_MAX + 1), unknown) == 0);
}

/* RFC 4226 Appendix D. */
static void test_hotp_rfc_vectors(void) {
    static const char *const codes[10] = {"755224", "287082", "359152", "969429", "338314",
                                          "254676", "287922", "162583", "399871", "520489"};
    otp_hotp key;
    char buf[OTP_CODE_BUFFER_SIZE];
    size_t len = 0;
    uint64_t counter;
    init_hotp(&key);
    for (counter = 0; counter < 10; counter++) {
        uint64_t matched = 99;
        int64_t drift = 99;
        EXPECT(otp_hotp_generate(&key, counter, buf, sizeof buf, &len), OTP_OK);
        CHECK(len == 6 && strcmp(buf, codes[counter]) == 0);
        EXPECT(otp_hotp_verify(&key, TEXT(codes[counter]), counter, &matched, &drift), OTP_OK);
        CHECK(matched == counter && drift == 0);
    }
    EXPECT(otp_hotp_wipe(&key), OTP_OK);
}

/* RFC 6238 Appendix B. */
static void test_totp_rfc_vectors(void) {
    static const struct {
        uint64_t time;
        const char *sha1, *sha256, *sha512;
    } vectors[6] = {
        {59, "94287082", "46119246", "90693936"},
        {1111111109, "07081804", "68084774", "25091201"},
        {1111111111, "14050471", "67062674", "99943326"},
        {1234567890, "89005924", "91819424", "93441116"},
        {2000000000, "69279037", "90698825", "38618901"},
        {20000000000ull, "65353130", "77737706", "47863826"},
    };
    otp_totp sha1, sha256, sha512;
    size_t i;
    init_totp(&sha1, SHA1_SECRET, OTP_ALGORITHM_SHA1, 8);
    init_totp(&sha256, SHA256_SECRET, OTP_ALGORITHM_SHA256, 8);
    init_totp(&sha512, SHA512_SECRET, OTP_ALGORITHM_SHA512, 8);
    for (i = 0; i < 6; i++) {
        const otp_totp *keys[3];
        const char *want[3];
        size_t k;
        keys[0] = &sha1;
        keys[1] = &sha256;
        keys[2] = &sha512;
        want[0] = vectors[i].sha1;
        want[1] = vectors[i].sha256;
        want[2] = vectors[i].sha512;
        for (k = 0; k < 3; k++) {
            char buf[OTP_CODE_BUFFER_SIZE];
            size_t len = 0;
            uint64_t step = 0, expected_step = vectors[i].time / 30;
            int64_t drift = 99;
            EXPECT(otp_totp_generate(keys[k], vectors[i].time, buf, sizeof buf, &len), OTP_OK);
            CHECK(len == 8 && strcmp(buf, want[k]) == 0);
            EXPECT(otp_totp_verify(keys[k], TEXT(want[k]), vectors[i].time, false, 0, &step, &drift),
                   OTP_OK);
            CHECK(step == expected_step && drift == 0);
            EXPECT(otp_totp_generate_at_step(keys[k], expected_step, buf, sizeof buf, &len), OTP_OK);
            CHECK(strcmp(buf, want[k]) == 0);
        }
    }
    EXPECT(otp_totp_wipe(&sha1), OTP_OK);
    EXPECT(otp_totp_wipe(&sha256), OTP_OK);
    EXPECT(otp_totp_wipe(&sha512), OTP_OK);
}

static void test_totp_verification_outcomes(void) {
    otp_totp key;
    otp_totp_params params;
    char code[OTP_CODE_BUFFER_SIZE], previous[OTP_CODE_BUFFER_SIZE];
    char grouped[8];
    size_t len;
    uint64_t step = 1234, t = 1111111111, seconds = 0;
    int64_t drift = 1234;
    init_totp(&key, SHA1_SECRET, OTP_ALGORITHM_SHA1, 6);

    EXPECT(otp_totp_get_params(&key, &params), OTP_OK);
    CHECK(params.algorithm == OTP_ALGORITHM_SHA1 && params.digits == 6 && params.period == 30 &&
          params.t0 == 0 && params.look_back == 1 && params.look_ahead == 1);
    EXPECT(otp_totp_step_at(&key, t, &step), OTP_OK);
    CHECK(step == t / 30);
    EXPECT(otp_totp_seconds_left(&key, t, &seconds), OTP_OK);
    CHECK(seconds == 30 - t % 30);

    EXPECT(otp_totp_generate(&key, t, code, sizeof code, &len), OTP_OK);
    EXPECT(otp_totp_generate(&key, t - 30, previous, sizeof previous, &len), OTP_OK);

    /* A code from the previous step is inside the default window, with drift -1. */
    EXPECT(otp_totp_verify(&key, TEXT(previous), t, false, 0, &step, &drift), OTP_OK);
    CHECK(step == t / 30 - 1 && drift == -1);

    /* Grouped digits are accepted. */
    memcpy(grouped, code, 3);
    grouped[3] = ' ';
    memcpy(grouped + 4, code + 3, 4);
    EXPECT(otp_totp_verify(&key, TEXT(grouped), t, false, 0, &step, &drift), OTP_OK);
    CHECK(step == t / 30 && drift == 0);

    /* Replay: the step just accepted, or anything before it, is refused; outputs untouched. */
    step = 1234;
    drift = 1234;
    EXPECT(otp_totp_verify(&key, TEXT(code), t, true, t / 30, &step, &drift), OTP_CODE_REPLAYED);
    EXPECT(otp_totp_verify(&key, TEXT(previous), t, true, t / 30 - 1, &step, &drift),
           OTP_CODE_REPLAYED);
    CHECK(step == 1234 && drift == 1234);
    /* A later code after an earlier accepted step is fine. */
    EXPECT(otp_totp_verify(&key, TEXT(code), t, true, t / 30 - 1, &step, &drift), OTP_OK);
    CHECK(step == t / 30);

    /* Wrong and malformed codes. */
    step = 1234;
    drift = 1234;
    code[0] = (char)(code[0] == '9' ? '0' : code[0] + 1);
    EXPECT(otp_totp_verify(&key, TEXT(code), t, false, 0, &step, &drift), OTP_CODE_INVALID);
    EXPECT(otp_totp_verify(&key, TEXT("12345"), t, false, 0, &step, &drift), OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_totp_verify(&key, TEXT("1234567"), t, false, 0, &step, &drift),
           OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_totp_verify(&key, "", 0, t, false, 0, &step, &drift), OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_totp_verify(&key, TEXT("12345a"), t, false, 0, &step, &drift),
           OTP_CODE_INVALID_CHARACTER);
    EXPECT(otp_totp_verify(&key, TEXT("12345\xff"), t, false, 0, &step, &drift),
           OTP_CODE_INVALID_CHARACTER);
    /* Bytes outside ASCII are read as the Rust API reads text: too many digits first. */
    EXPECT(otp_totp_verify(&key, TEXT("1234567\xc3\xa9" "9"), t, false, 0, &step, &drift),
           OTP_CODE_WRONG_LENGTH);
    CHECK(step == 1234 && drift == 1234);

    EXPECT(otp_totp_wipe(&key), OTP_OK);
}

static void test_totp_params_errors(void) {
    otp_secret secret;
    otp_totp key, zero;
    otp_totp_params params;
    char buf[OTP_CODE_BUFFER_SIZE];
    size_t len;
    uint64_t step = 0;
    int64_t drift = 0;
    memset(&key, 0, sizeof key);
    memset(&zero, 0, sizeof zero);
    EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
    EXPECT(otp_totp_params_default(&params), OTP_OK);

    params.digits = 5;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_DIGITS);
    params.digits = 11;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_DIGITS);
    params.digits = 256 + 6; /* must not wrap to 6 */
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_DIGITS);
    params.digits = 6;
    params.algorithm = 0;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_ENUM);
    params.algorithm = 4;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_ENUM);
    params.algorithm = 0xFFFFFFFFu;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_ENUM);
    params.algorithm = OTP_ALGORITHM_SHA256;
    params.period = 0;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_INVALID_PERIOD);
    params.period = 30;
    params.look_back = OTP_MAX_WINDOW + 1;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_WINDOW_TOO_LARGE);
    params.look_back = 0;
    params.look_ahead = OTP_MAX_WINDOW + 1;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_WINDOW_TOO_LARGE);
    /* Failed inits wrote nothing. */
    CHECK(memcmp(&key, &zero, sizeof key) == 0);

    params.look_ahead = OTP_MAX_WINDOW;
    params.t0 = 1000;
    EXPECT(otp_totp_init(&key, &secret, &params), OTP_OK);
    EXPECT(otp_totp_generate(&key, 999, buf, sizeof buf, &len), OTP_TIME_BEFORE_T0);
    EXPECT(otp_totp_step_at(&key, 999, &step), OTP_TIME_BEFORE_T0);
    EXPECT(otp_totp_seconds_left(&key, 999, &step), OTP_TIME_BEFORE_T0);
    EXPECT(otp_totp_verify(&key, TEXT("123456"), 999, false, 0, &step, &drift), OTP_TIME_BEFORE_T0);
    EXPECT(otp_totp_step_at(&key, 1000 + 65, &step), OTP_OK);
    CHECK(step == 2);

    EXPECT(otp_totp_wipe(&key), OTP_OK);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

static void test_wipe_leaves_every_byte_zero(void) {
    otp_totp totp;
    otp_hotp hotp;
    otp_secret secret;
    char buf[OTP_CODE_BUFFER_SIZE];
    size_t len;
    uint64_t step;
    int64_t drift;

    memset(&totp, 0, sizeof totp);
    /* A zero-filled object is not a key. */
    EXPECT(otp_totp_generate(&totp, 59, buf, sizeof buf, &len), OTP_NOT_INITIALIZED);

    init_totp(&totp, SHA512_SECRET, OTP_ALGORITHM_SHA512, 8);
    CHECK(!all_zero(&totp, sizeof totp));
    EXPECT(otp_totp_wipe(&totp), OTP_OK);
    CHECK(all_zero(&totp, sizeof totp));
    EXPECT(otp_totp_generate(&totp, 59, buf, sizeof buf, &len), OTP_NOT_INITIALIZED);
    EXPECT(otp_totp_verify(&totp, TEXT("123456"), 59, false, 0, &step, &drift), OTP_NOT_INITIALIZED);
    EXPECT(otp_totp_wipe(&totp), OTP_OK); /* again: allowed */
    CHECK(all_zero(&totp, sizeof totp));

    /* Re-initialising over a live key replaces it. */
    init_totp(&totp, SHA1_SECRET, OTP_ALGORITHM_SHA1, 8);
    init_totp(&totp, SHA1_SECRET, OTP_ALGORITHM_SHA1, 6);
    EXPECT(otp_totp_generate(&totp, 59, buf, sizeof buf, &len), OTP_OK);
    CHECK(strcmp(buf, "287082") == 0);
    EXPECT(otp_totp_wipe(&totp), OTP_OK);
    CHECK(all_zero(&totp, sizeof totp));

    init_hotp(&hotp);
    CHECK(!all_zero(&hotp, sizeof hotp));
    EXPECT(otp_hotp_wipe(&hotp), OTP_OK);
    CHECK(all_zero(&hotp, sizeof hotp));
    EXPECT(otp_hotp_generate(&hotp, 0, buf, sizeof buf, &len), OTP_NOT_INITIALIZED);
    EXPECT(otp_hotp_verify(&hotp, TEXT("755224"), 0, &step, &drift), OTP_NOT_INITIALIZED);

    EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
    CHECK(!all_zero(&secret, sizeof secret));
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
    CHECK(all_zero(&secret, sizeof secret));
    EXPECT(otp_secret_len(&secret, &len), OTP_NOT_INITIALIZED);
    EXPECT(otp_totp_init(&totp, &secret, NULL), OTP_NULL_POINTER);
    {
        otp_totp_params params;
        EXPECT(otp_totp_params_default(&params), OTP_OK);
        EXPECT(otp_totp_init(&totp, &secret, &params), OTP_NOT_INITIALIZED);
    }

    CHECK(sizeof(otp_totp) == OTP_TOTP_SIZE);
    CHECK(sizeof(otp_hotp) == OTP_HOTP_SIZE);
    CHECK(sizeof(otp_secret) == OTP_SECRET_SIZE);
}

static void test_hotp_verify_and_resync(void) {
    otp_hotp key;
    otp_hotp_params params;
    uint64_t counter = 1234;
    int64_t drift = 1234;
    init_hotp(&key);
    EXPECT(otp_hotp_get_params(&key, &params), OTP_OK);
    CHECK(params.algorithm == OTP_ALGORITHM_SHA1 && params.digits == 6 && params.look_ahead == 3);

    /* Look-ahead 3: counter 3 is reachable from 0, counter 4 is not. */
    EXPECT(otp_hotp_verify(&key, TEXT("969429"), 0, &counter, &drift), OTP_OK);
    CHECK(counter == 3 && drift == 3);
    counter = 1234;
    drift = 1234;
    EXPECT(otp_hotp_verify(&key, TEXT("338314"), 0, &counter, &drift), OTP_CODE_INVALID);
    /* An old code, behind the stored counter, is outside the window. */
    EXPECT(otp_hotp_verify(&key, TEXT("755224"), 1, &counter, &drift), OTP_CODE_INVALID);
    EXPECT(otp_hotp_verify(&key, TEXT("75522"), 0, &counter, &drift), OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_hotp_verify(&key, TEXT("75522x"), 0, &counter, &drift), OTP_CODE_INVALID_CHARACTER);
    CHECK(counter == 1234 && drift == 1234);

    /* Resync: counters 7 and 8 found from 0 with a look-ahead of 10. */
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("399871"), 0, 10, &counter, &drift), OTP_OK);
    CHECK(counter == 8 && drift == 8);
    counter = 1234;
    drift = 1234;
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("520489"), 0, 10, &counter, &drift),
           OTP_CODE_INVALID);
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("399871"), 0, 5, &counter, &drift),
           OTP_CODE_INVALID);
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("399871"), 0, OTP_MAX_RESYNC_WINDOW + 1,
                           &counter, &drift),
           OTP_WINDOW_TOO_LARGE);
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("399871"), UINT64_MAX, 10, &counter, &drift),
           OTP_COUNTER_EXHAUSTED);
    EXPECT(otp_hotp_verify(&key, TEXT("162583"), UINT64_MAX, &counter, &drift),
           OTP_COUNTER_EXHAUSTED);
    {
        /* Both apply, an exhausted counter and a code too long: the header says the counter
           comes first. */
        char long_code[OTP_MAX_CODE_INPUT_LEN + 1];
        memset(long_code, '1', sizeof long_code);
        EXPECT(otp_hotp_verify(&key, long_code, sizeof long_code, UINT64_MAX, &counter, &drift),
               OTP_COUNTER_EXHAUSTED);
        EXPECT(otp_hotp_verify(&key, long_code, sizeof long_code, 0, &counter, &drift),
               OTP_CODE_WRONG_LENGTH);
        EXPECT(otp_hotp_resync(&key, long_code, sizeof long_code, TEXT("x"), UINT64_MAX,
                               OTP_MAX_RESYNC_WINDOW + 1, &counter, &drift),
               OTP_COUNTER_EXHAUSTED);
        EXPECT(otp_hotp_resync(&key, long_code, sizeof long_code, TEXT("x"), 0,
                               OTP_MAX_RESYNC_WINDOW + 1, &counter, &drift),
               OTP_CODE_WRONG_LENGTH);
        EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("x"), 0, OTP_MAX_RESYNC_WINDOW + 1,
                               &counter, &drift),
               OTP_CODE_INVALID_CHARACTER);
    }
    {
        /* Six digits behind more spaces than OTP_MAX_CODE_INPUT_LEN allows. */
        char padded[OTP_MAX_CODE_INPUT_LEN + 2];
        memset(padded, ' ', sizeof padded);
        memcpy(padded, "755", 3);
        memcpy(padded + sizeof padded - 3, "224", 3);
        EXPECT(otp_hotp_verify(&key, padded, sizeof padded, 0, &counter, &drift),
               OTP_CODE_WRONG_LENGTH);
    }
    EXPECT(otp_hotp_resync(&key, TEXT("16258"), TEXT("399871"), 0, 10, &counter, &drift),
           OTP_CODE_WRONG_LENGTH);
    EXPECT(otp_hotp_resync(&key, TEXT("162583"), TEXT("3998\xff" "1"), 0, 10, &counter, &drift),
           OTP_CODE_INVALID_CHARACTER);
    CHECK(counter == 1234 && drift == 1234);

    {
        otp_secret secret;
        otp_hotp other;
        memset(&other, 0, sizeof other);
        EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
        params.look_ahead = OTP_MAX_WINDOW + 1;
        EXPECT(otp_hotp_init(&other, &secret, &params), OTP_WINDOW_TOO_LARGE);
        params.look_ahead = 3;
        params.algorithm = 7;
        EXPECT(otp_hotp_init(&other, &secret, &params), OTP_INVALID_ENUM);
        params.algorithm = OTP_ALGORITHM_SHA1;
        params.digits = 4;
        EXPECT(otp_hotp_init(&other, &secret, &params), OTP_INVALID_DIGITS);
        CHECK(all_zero(&other, sizeof other));
        EXPECT(otp_secret_wipe(&secret), OTP_OK);
    }
    EXPECT(otp_hotp_wipe(&key), OTP_OK);
}

static void test_secrets_and_base32(void) {
    otp_secret a, b;
    uint8_t bytes[OTP_MAX_SECRET_LEN + 1];
    char text[OTP_MAX_SECRET_BASE32_LEN + 1];
    size_t len = 0;
    bool equal = true;
    memset(bytes, 7, sizeof bytes);

    /* Policies: 80 bits pass the compatible policy only. */
    EXPECT(otp_secret_from_bytes(&a, bytes, 10, OTP_POLICY_COMPATIBLE), OTP_OK);
    EXPECT(otp_secret_from_bytes(&b, bytes, 10, OTP_POLICY_STRICT), OTP_SECRET_TOO_SHORT);
    EXPECT(otp_secret_from_bytes(&b, bytes, 9, OTP_POLICY_COMPATIBLE), OTP_SECRET_TOO_SHORT);
    EXPECT(otp_secret_from_bytes(&b, bytes, 16, OTP_POLICY_STRICT), OTP_OK);
    EXPECT(otp_secret_from_bytes(&b, bytes, 0, OTP_POLICY_COMPATIBLE), OTP_SECRET_EMPTY);
    EXPECT(otp_secret_from_bytes(&b, bytes, OTP_MAX_SECRET_LEN + 1, OTP_POLICY_COMPATIBLE),
           OTP_SECRET_TOO_LONG);
    EXPECT(otp_secret_from_bytes(&b, bytes, OTP_MAX_SECRET_LEN, OTP_POLICY_COMPATIBLE), OTP_OK);
    EXPECT(otp_secret_from_bytes(&b, bytes, 16, 0), OTP_INVALID_ENUM);
    EXPECT(otp_secret_from_bytes(&b, bytes, 16, 3), OTP_INVALID_ENUM);
    EXPECT(otp_secret_len(&b, &len), OTP_OK);
    CHECK(len == OTP_MAX_SECRET_LEN);

    /* Base32 import: lenient reading, both policies, one status per fault. */
    EXPECT(otp_secret_from_base32(&a, TEXT("jbsw y3dp-ehpk 3pxp"), OTP_POLICY_COMPATIBLE), OTP_OK);
    EXPECT(otp_secret_to_base32(&a, text, sizeof text, &len), OTP_OK);
    CHECK(len == 16 && strcmp(text, "JBSWY3DPEHPK3PXP") == 0);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSWY3DPEHPK3PXP"), OTP_POLICY_STRICT),
           OTP_SECRET_TOO_SHORT);
    EXPECT(otp_secret_from_base32(&b, TEXT("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), OTP_POLICY_STRICT),
           OTP_OK);
    EXPECT(otp_secret_bytes(&b, bytes, sizeof bytes, &len), OTP_OK);
    CHECK(len == 20 && memcmp(bytes, SHA1_SECRET, 20) == 0);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSW!3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE),
           OTP_BASE32_INVALID_CHARACTER);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSW\xc3\xa9" "3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE),
           OTP_BASE32_INVALID_CHARACTER);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSW\xff"), OTP_POLICY_COMPATIBLE),
           OTP_BASE32_INVALID_CHARACTER);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSWY3DPEHPK3PXPA"), OTP_POLICY_COMPATIBLE),
           OTP_BASE32_INVALID_LENGTH);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSWY3DPEHPK3P=XP"), OTP_POLICY_COMPATIBLE),
           OTP_BASE32_INVALID_PADDING);
    EXPECT(otp_secret_from_base32(&b, "", 0, OTP_POLICY_COMPATIBLE), OTP_SECRET_EMPTY);
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSWY3DPEHPK3PXP"), 9), OTP_INVALID_ENUM);

    /* Comparison. */
    EXPECT(otp_secret_from_base32(&b, TEXT("JBSWY3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE), OTP_OK);
    EXPECT(otp_secret_equal(&a, &b, &equal), OTP_OK);
    CHECK(equal);
    EXPECT(otp_secret_from_bytes(&b, (const uint8_t *)SHA1_SECRET, 20, OTP_POLICY_COMPATIBLE), OTP_OK);
    EXPECT(otp_secret_equal(&a, &b, &equal), OTP_OK);
    CHECK(!equal);

    /* Generation from the OS. */
    EXPECT(otp_secret_generate(&a, OTP_SECRET_DEFAULT_LEN), OTP_OK);
    EXPECT(otp_secret_generate(&b, OTP_SECRET_DEFAULT_LEN), OTP_OK);
    EXPECT(otp_secret_len(&a, &len), OTP_OK);
    CHECK(len == 20);
    EXPECT(otp_secret_equal(&a, &b, &equal), OTP_OK);
    CHECK(!equal);
    EXPECT(otp_secret_generate(&b, 15), OTP_SECRET_TOO_SHORT);
    EXPECT(otp_secret_generate(&b, 0), OTP_SECRET_EMPTY);
    EXPECT(otp_secret_generate(&b, OTP_MAX_SECRET_LEN + 1), OTP_SECRET_TOO_LONG);
    EXPECT(otp_secret_generate(&b, OTP_MAX_SECRET_LEN), OTP_OK);

    /* Plain base32 of arbitrary bytes (RFC 4648 test vector). */
    EXPECT(otp_base32_encode((const uint8_t *)"foobar", 6, text, sizeof text, &len), OTP_OK);
    CHECK(len == 10 && strcmp(text, "MZXW6YTBOI") == 0);
    EXPECT(otp_base32_decode(TEXT("mzxw6ytboi======"), bytes, sizeof bytes, &len), OTP_OK);
    CHECK(len == 6 && memcmp(bytes, "foobar", 6) == 0);
    EXPECT(otp_base32_decode(TEXT("MZXW6YTBO"), bytes, sizeof bytes, &len), OTP_BASE32_INVALID_LENGTH);
    EXPECT(otp_base32_encode((const uint8_t *)"", 0, text, sizeof text, &len), OTP_OK);
    CHECK(len == 0 && text[0] == '\0');

    EXPECT(otp_secret_wipe(&a), OTP_OK);
    EXPECT(otp_secret_wipe(&b), OTP_OK);
}

static void test_too_small_buffers_report_the_size_needed(void) {
    otp_hotp key;
    otp_totp totp;
    otp_secret secret;
    otp_uri uri, parsed;
    otp_secret parsed_secret;
    char buf[300];
    uint8_t bytes[8];
    size_t len = 0, full = 0;
    const char *uri_text = "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME";
    const char *built =
        "otpauth://totp/ACME:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=ACME";

    init_hotp(&key);
    init_totp(&totp, SHA1_SECRET, OTP_ALGORITHM_SHA1, 8);
    memset(buf, 'X', sizeof buf);
    EXPECT(otp_hotp_generate(&key, 0, buf, 6, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 7 && buf[0] == 'X');
    EXPECT(otp_hotp_generate(&key, 0, buf, 7, &len), OTP_OK);
    CHECK(len == 6 && strcmp(buf, "755224") == 0);
    EXPECT(otp_totp_generate(&totp, 59, buf, 0, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 9);
    EXPECT(otp_totp_generate_at_step(&totp, 1, buf, 8, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 9);

    EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
    memset(buf, 'X', sizeof buf);
    EXPECT(otp_secret_to_base32(&secret, buf, 32, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 33 && buf[0] == 'X');
    EXPECT(otp_secret_bytes(&secret, bytes, sizeof bytes, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 20);
    EXPECT(otp_base32_encode((const uint8_t *)"foobar", 6, buf, 10, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 11 && buf[0] == 'X');
    EXPECT(otp_base32_decode(TEXT("MZXW6YTBOI"), bytes, 5, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == 6);

    memset(&uri, 0, sizeof uri);
    uri.kind = OTP_TYPE_TOTP;
    uri.algorithm = OTP_ALGORITHM_SHA1;
    uri.digits = 6;
    uri.period = 30;
    uri.issuer = "ACME";
    uri.issuer_len = 4;
    uri.account = "alice";
    uri.account_len = 5;
    EXPECT(otp_uri_build(&uri, &secret, buf, sizeof buf, &full), OTP_OK);
    CHECK(strcmp(buf, built) == 0 && full == strlen(built));
    memset(buf, 'X', sizeof buf);
    EXPECT(otp_uri_build(&uri, &secret, buf, full, &len), OTP_BUFFER_TOO_SMALL);
    CHECK(len == full + 1 && buf[0] == 'X');

    /* Parsing: account and issuer need 5 + 1 + 4 + 1 bytes; the report keeps two for NULs. */
    memset(&parsed, 0xAB, sizeof parsed);
    EXPECT(otp_uri_parse(TEXT(uri_text), &parsed, &parsed_secret, buf, 10, &len),
           OTP_BUFFER_TOO_SMALL);
    CHECK(len == 11 && buf[0] == 'X');
    EXPECT(otp_uri_parse(TEXT(uri_text), &parsed, &parsed_secret, buf, len, &len), OTP_OK);
    CHECK(len == 11 && strcmp(parsed.account, "alice") == 0 && strcmp(parsed.issuer, "ACME") == 0);

    EXPECT(otp_secret_wipe(&secret), OTP_OK);
    EXPECT(otp_secret_wipe(&parsed_secret), OTP_OK);
    EXPECT(otp_hotp_wipe(&key), OTP_OK);
    EXPECT(otp_totp_wipe(&totp), OTP_OK);
}

static otp_uri totp_uri(const char *issuer, const char *account) {
    otp_uri uri;
    memset(&uri, 0, sizeof uri);
    uri.kind = OTP_TYPE_TOTP;
    uri.algorithm = OTP_ALGORITHM_SHA1;
    uri.digits = 6;
    uri.period = 30;
    uri.issuer = issuer;
    uri.issuer_len = issuer ? strlen(issuer) : 0;
    uri.account = account;
    uri.account_len = strlen(account);
    return uri;
}

static void test_uri_round_trips(void) {
    otp_secret secret, parsed_secret;
    otp_uri uri, parsed;
    otp_totp_params totp_params;
    otp_hotp_params hotp_params;
    char text[512], fields[512];
    size_t len = 0, used = 0;
    uint32_t flags = 99;
    bool equal = false;

    EXPECT(otp_secret_from_base32(&secret, TEXT("JBSWY3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE), OTP_OK);

    /* TOTP with the defaults and an issuer that needs percent-encoding. */
    uri = totp_uri("ACME Co", "alice@example.com");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_OK);
    CHECK(strcmp(text, "otpauth://totp/ACME%20Co:alice@example.com?secret=JBSWY3DPEHPK3PXP"
                       "&issuer=ACME%20Co") == 0);
    CHECK(len == strlen(text));
    EXPECT(otp_uri_compatibility(&uri, &flags), OTP_OK);
    CHECK(flags == 0);
    EXPECT(otp_uri_parse(text, len, &parsed, &parsed_secret, fields, sizeof fields, &used), OTP_OK);
    CHECK(parsed.kind == OTP_TYPE_TOTP && parsed.algorithm == OTP_ALGORITHM_SHA1 &&
          parsed.digits == 6 && parsed.period == 30);
    CHECK(parsed.account_len == 17 && strcmp(parsed.account, "alice@example.com") == 0);
    CHECK(parsed.issuer_len == 7 && strcmp(parsed.issuer, "ACME Co") == 0);
    CHECK(used == 17 + 1 + 7 + 1);
    EXPECT(otp_secret_equal(&secret, &parsed_secret, &equal), OTP_OK);
    CHECK(equal);
    EXPECT(otp_uri_totp_params(&parsed, &totp_params), OTP_OK);
    CHECK(totp_params.algorithm == OTP_ALGORITHM_SHA1 && totp_params.digits == 6 &&
          totp_params.period == 30 && totp_params.look_back == 1);

    /* Non-default settings round-trip and are flagged as ignored by common apps. */
    uri = totp_uri(NULL, "bob");
    uri.algorithm = OTP_ALGORITHM_SHA512;
    uri.digits = 8;
    uri.period = 60;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_OK);
    CHECK(strcmp(text, "otpauth://totp/bob?secret=JBSWY3DPEHPK3PXP&algorithm=SHA512&digits=8"
                       "&period=60") == 0);
    EXPECT(otp_uri_compatibility(&uri, &flags), OTP_OK);
    CHECK(flags == (OTP_COMPAT_ALGORITHM_IGNORED | OTP_COMPAT_DIGITS_IGNORED |
                    OTP_COMPAT_PERIOD_IGNORED));
    EXPECT(otp_uri_parse(text, len, &parsed, &parsed_secret, fields, sizeof fields, &used), OTP_OK);
    CHECK(parsed.issuer == NULL && parsed.issuer_len == 0 && strcmp(parsed.account, "bob") == 0);
    CHECK(parsed.algorithm == OTP_ALGORITHM_SHA512 && parsed.digits == 8 && parsed.period == 60);
    CHECK(used == 4);
    EXPECT(otp_uri_totp_params(&parsed, &totp_params), OTP_OK);
    CHECK(totp_params.algorithm == OTP_ALGORITHM_SHA512 && totp_params.digits == 8 &&
          totp_params.period == 60);

    /* HOTP with a counter. */
    uri = totp_uri("Deploy", "carol");
    uri.kind = OTP_TYPE_HOTP;
    uri.counter = 42;
    uri.algorithm = OTP_ALGORITHM_SHA256;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_OK);
    CHECK(strcmp(text, "otpauth://hotp/Deploy:carol?secret=JBSWY3DPEHPK3PXP&issuer=Deploy"
                       "&algorithm=SHA256&counter=42") == 0);
    EXPECT(otp_uri_compatibility(&uri, &flags), OTP_OK);
    CHECK(flags == OTP_COMPAT_ALGORITHM_IGNORED);
    EXPECT(otp_uri_parse(text, len, &parsed, &parsed_secret, fields, sizeof fields, &used), OTP_OK);
    CHECK(parsed.kind == OTP_TYPE_HOTP && parsed.counter == 42 &&
          parsed.algorithm == OTP_ALGORITHM_SHA256);
    EXPECT(otp_uri_hotp_params(&parsed, &hotp_params), OTP_OK);
    CHECK(hotp_params.algorithm == OTP_ALGORITHM_SHA256 && hotp_params.digits == 6 &&
          hotp_params.look_ahead == 3);

    /* A parsed key is usable: the key of the RFC 6238 SHA-1 secret gives its code. */
    {
        const char *rfc = "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8";
        otp_totp key;
        char code[OTP_CODE_BUFFER_SIZE];
        EXPECT(otp_uri_parse(TEXT(rfc), &parsed, &parsed_secret, fields, sizeof fields, &used), OTP_OK);
        EXPECT(otp_uri_totp_params(&parsed, &totp_params), OTP_OK);
        EXPECT(otp_totp_init(&key, &parsed_secret, &totp_params), OTP_OK);
        EXPECT(otp_totp_generate(&key, 59, code, sizeof code, &len), OTP_OK);
        CHECK(strcmp(code, "94287082") == 0);
        EXPECT(otp_totp_wipe(&key), OTP_OK);
    }

    EXPECT(otp_secret_wipe(&secret), OTP_OK);
    EXPECT(otp_secret_wipe(&parsed_secret), OTP_OK);
}

static void test_uri_errors(void) {
    static const struct {
        const char *text;
        otp_status want;
    } cases[] = {
        {"http://totp/a?secret=JBSWY3DPEHPK3PXP", OTP_URI_INVALID_SCHEME},
        {"otpauth://motp/a?secret=JBSWY3DPEHPK3PXP", OTP_URI_UNKNOWN_TYPE},
        {"otpauth://totp", OTP_URI_MALFORMED},
        {"otpauth://totp?secret=JBSWY3DPEHPK3PXP", OTP_URI_MALFORMED},
        {"otpauth://totp/a?secret", OTP_SECRET_EMPTY},
        {"otpauth://totp/a?issuer=x", OTP_URI_MISSING_SECRET},
        {"otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP", OTP_URI_MISSING_COUNTER},
        {"otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=x", OTP_URI_INVALID_COUNTER},
        {"otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=18446744073709551616",
         OTP_URI_INVALID_COUNTER},
        {"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&secret=JBSWY3DPEHPK3PXP",
         OTP_URI_DUPLICATE_PARAMETER},
        {"otpauth://totp/a%G1?secret=JBSWY3DPEHPK3PXP", OTP_URI_INVALID_PERCENT_ENCODING},
        {"otpauth://totp/a%FF?secret=JBSWY3DPEHPK3PXP", OTP_URI_INVALID_UTF8},
        {"otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=B", OTP_URI_ISSUER_MISMATCH},
        {"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", OTP_UNKNOWN_ALGORITHM},
        {"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=5", OTP_INVALID_DIGITS},
        {"otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=0", OTP_INVALID_PERIOD},
        {"otpauth://totp/?secret=JBSWY3DPEHPK3PXP", OTP_ACCOUNT_NAME_EMPTY},
        {"otpauth://totp/:a?secret=JBSWY3DPEHPK3PXP&issuer=B", OTP_URI_ISSUER_MISMATCH},
        {"otpauth://totp/Iss:al%3Aice?secret=JBSWY3DPEHPK3PXP", OTP_ACCOUNT_NAME_HAS_COLON},
        {"otpauth://totp/Iss:al%0Aice?secret=JBSWY3DPEHPK3PXP",
         OTP_ACCOUNT_NAME_CONTROL_CHARACTER},
        {"otpauth://totp/Iss:al%FFice?secret=JBSWY3DPEHPK3PXP", OTP_URI_INVALID_UTF8},
        {"otpauth://totp/A:alice%00evil?secret=JBSWY3DPEHPK3PXP",
         OTP_ACCOUNT_NAME_CONTROL_CHARACTER},
        {"otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=A%0A", OTP_INVALID_ISSUER},
        {"otpauth://totp/a?secret=JBSWY3DP", OTP_SECRET_TOO_SHORT},
        {"otpauth://totp/a?secret=JBSW!3DPEHPK3PXP", OTP_BASE32_INVALID_CHARACTER},
        {"otpauth://totp/a?secret=", OTP_SECRET_EMPTY},
        {"otpauth://totp/a\xff?secret=JBSWY3DPEHPK3PXP", OTP_INVALID_UTF8},
    };
    otp_uri parsed, sentinel;
    otp_secret parsed_secret, secret;
    otp_uri uri;
    char fields[256];
    char text[256];
    size_t i, len = 77;
    uint32_t flags = 0;
    memset(&sentinel, 0x5A, sizeof sentinel);
    memset(&parsed_secret, 0, sizeof parsed_secret);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed = sentinel;
        memset(fields, 0x5A, sizeof fields);
        EXPECT(otp_uri_parse(TEXT(cases[i].text), &parsed, &parsed_secret, fields, sizeof fields,
                             &len),
               cases[i].want);
        /* Every byte of `fields` still 0x5A: the first, and each equal to the next. */
        if (memcmp(&parsed, &sentinel, sizeof parsed) != 0 || len != 77 || fields[0] != 0x5A ||
            memcmp(fields, fields + 1, sizeof fields - 1) != 0) {
            failures++;
            fprintf(stderr, "case %u wrote outputs on error\n", (unsigned)i);
        }
        checks++;
    }
    /* Failed parses never set up the secret. */
    CHECK(all_zero(&parsed_secret, sizeof parsed_secret));

    /* Building refuses what cannot be read back. */
    EXPECT(otp_secret_from_base32(&secret, TEXT("JBSWY3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE), OTP_OK);
    uri = totp_uri(NULL, "");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_ACCOUNT_NAME_EMPTY);
    uri = totp_uri(NULL, "a:b");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_ACCOUNT_NAME_HAS_COLON);
    uri = totp_uri(NULL, " a");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_ACCOUNT_NAME_LEADING_SPACE);
    uri = totp_uri(NULL, "a\nb");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len),
           OTP_ACCOUNT_NAME_CONTROL_CHARACTER);
    uri = totp_uri("A:B", "a");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_ISSUER);
    uri = totp_uri("", "a");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_ISSUER);
    uri = totp_uri(NULL, "a\xff");
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_UTF8);
    uri = totp_uri(NULL, "a");
    uri.period = 0;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_PERIOD);
    uri = totp_uri(NULL, "a");
    uri.digits = 11;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_DIGITS);
    uri = totp_uri(NULL, "a");
    uri.kind = 0;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_ENUM);
    EXPECT(otp_uri_compatibility(&uri, &flags), OTP_INVALID_ENUM);
    uri.kind = 3;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_ENUM);
    uri = totp_uri(NULL, "a");
    uri.algorithm = 0;
    EXPECT(otp_uri_build(&uri, &secret, text, sizeof text, &len), OTP_INVALID_ENUM);
    EXPECT(otp_secret_wipe(&secret), OTP_OK);
}

/* Every pointer argument of every function, NULL in turn. */
static void test_null_pointers(void) {
    otp_secret secret;
    otp_totp totp;
    otp_hotp hotp;
    otp_totp_params tp;
    otp_hotp_params hp;
    otp_uri uri, parsed;
    char buf[256];
    uint8_t bytes[64];
    size_t len;
    uint64_t u64;
    int64_t i64;
    uint32_t u32;
    bool b;
    const char *code = "123456";
    const char *uri_text = "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP";

    EXPECT(secret_from(&secret, SHA1_SECRET), OTP_OK);
    init_totp(&totp, SHA1_SECRET, OTP_ALGORITHM_SHA1, 6);
    init_hotp(&hotp);
    uri = totp_uri("I", "a");

    EXPECT(otp_unix_time(NULL), OTP_NULL_POINTER);

    EXPECT(otp_secret_from_bytes(NULL, bytes, 16, OTP_POLICY_COMPATIBLE), OTP_NULL_POINTER);
    EXPECT(otp_secret_from_bytes(&secret, NULL, 16, OTP_POLICY_COMPATIBLE), OTP_NULL_POINTER);
    EXPECT(otp_secret_from_bytes(&secret, NULL, 0, OTP_POLICY_COMPATIBLE), OTP_NULL_POINTER);
    EXPECT(otp_secret_from_base32(NULL, TEXT("JBSWY3DPEHPK3PXP"), OTP_POLICY_COMPATIBLE), OTP_NULL_POINTER);
    EXPECT(otp_secret_from_base32(&secret, NULL, 16, OTP_POLICY_COMPATIBLE), OTP_NULL_POINTER);
    EXPECT(otp_secret_generate(NULL, 20), OTP_NULL_POINTER);
    EXPECT(otp_secret_len(NULL, &len), OTP_NULL_POINTER);
    EXPECT(otp_secret_len(&secret, NULL), OTP_NULL_POINTER);
    EXPECT(otp_secret_bytes(NULL, bytes, sizeof bytes, &len), OTP_NULL_POINTER);
    EXPECT(otp_secret_bytes(&secret, NULL, sizeof bytes, &len), OTP_NULL_POINTER);
    EXPECT(otp_secret_bytes(&secret, bytes, sizeof bytes, NULL), OTP_NULL_POINTER);
    EXPECT(otp_secret_to_base32(NULL, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_secret_to_base32(&secret, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_secret_to_base32(&secret, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_secret_equal(NULL, &secret, &b), OTP_NULL_POINTER);
    EXPECT(otp_secret_equal(&secret, NULL, &b), OTP_NULL_POINTER);
    EXPECT(otp_secret_equal(&secret, &secret, NULL), OTP_NULL_POINTER);
    EXPECT(otp_secret_wipe(NULL), OTP_NULL_POINTER);
    EXPECT(otp_base32_encode(NULL, 1, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_base32_encode(bytes, 1, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_base32_encode(bytes, 1, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_base32_decode(NULL, 2, bytes, sizeof bytes, &len), OTP_NULL_POINTER);
    EXPECT(otp_base32_decode(TEXT("MY"), NULL, sizeof bytes, &len), OTP_NULL_POINTER);
    EXPECT(otp_base32_decode(TEXT("MY"), bytes, sizeof bytes, NULL), OTP_NULL_POINTER);

    EXPECT(otp_totp_params_default(NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_params_default(&tp), OTP_OK);
    EXPECT(otp_totp_init(NULL, &secret, &tp), OTP_NULL_POINTER);
    EXPECT(otp_totp_init(&totp, NULL, &tp), OTP_NULL_POINTER);
    EXPECT(otp_totp_init(&totp, &secret, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_get_params(NULL, &tp), OTP_NULL_POINTER);
    EXPECT(otp_totp_get_params(&totp, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_step_at(NULL, 59, &u64), OTP_NULL_POINTER);
    EXPECT(otp_totp_step_at(&totp, 59, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_seconds_left(NULL, 59, &u64), OTP_NULL_POINTER);
    EXPECT(otp_totp_seconds_left(&totp, 59, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate(NULL, 59, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate(&totp, 59, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate(&totp, 59, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate_at_step(NULL, 1, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate_at_step(&totp, 1, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate_at_step(&totp, 1, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_verify(NULL, TEXT(code), 59, false, 0, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_totp_verify(&totp, NULL, 6, 59, false, 0, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_totp_verify(&totp, TEXT(code), 59, false, 0, NULL, &i64), OTP_NULL_POINTER);
    EXPECT(otp_totp_verify(&totp, TEXT(code), 59, false, 0, &u64, NULL), OTP_NULL_POINTER);
    EXPECT(otp_totp_wipe(NULL), OTP_NULL_POINTER);

    EXPECT(otp_hotp_params_default(NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_params_default(&hp), OTP_OK);
    EXPECT(otp_hotp_init(NULL, &secret, &hp), OTP_NULL_POINTER);
    EXPECT(otp_hotp_init(&hotp, NULL, &hp), OTP_NULL_POINTER);
    EXPECT(otp_hotp_init(&hotp, &secret, NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_get_params(NULL, &hp), OTP_NULL_POINTER);
    EXPECT(otp_hotp_get_params(&hotp, NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_generate(NULL, 0, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_hotp_generate(&hotp, 0, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_hotp_generate(&hotp, 0, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_verify(NULL, TEXT(code), 0, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_verify(&hotp, NULL, 6, 0, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_verify(&hotp, TEXT(code), 0, NULL, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_verify(&hotp, TEXT(code), 0, &u64, NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_resync(NULL, TEXT(code), TEXT(code), 0, 5, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_resync(&hotp, NULL, 6, TEXT(code), 0, 5, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_resync(&hotp, TEXT(code), NULL, 6, 0, 5, &u64, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_resync(&hotp, TEXT(code), TEXT(code), 0, 5, NULL, &i64), OTP_NULL_POINTER);
    EXPECT(otp_hotp_resync(&hotp, TEXT(code), TEXT(code), 0, 5, &u64, NULL), OTP_NULL_POINTER);
    EXPECT(otp_hotp_wipe(NULL), OTP_NULL_POINTER);

    EXPECT(otp_uri_build(NULL, &secret, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_build(&uri, NULL, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_build(&uri, &secret, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_build(&uri, &secret, buf, sizeof buf, NULL), OTP_NULL_POINTER);
    uri.account = NULL;
    EXPECT(otp_uri_build(&uri, &secret, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_compatibility(&uri, &u32), OTP_NULL_POINTER);
    EXPECT(otp_uri_totp_params(&uri, &tp), OTP_NULL_POINTER);
    EXPECT(otp_uri_hotp_params(&uri, &hp), OTP_NULL_POINTER);
    uri.account = "a";
    EXPECT(otp_uri_compatibility(NULL, &u32), OTP_NULL_POINTER);
    EXPECT(otp_uri_compatibility(&uri, NULL), OTP_NULL_POINTER);
    EXPECT(otp_uri_totp_params(NULL, &tp), OTP_NULL_POINTER);
    EXPECT(otp_uri_totp_params(&uri, NULL), OTP_NULL_POINTER);
    EXPECT(otp_uri_hotp_params(NULL, &hp), OTP_NULL_POINTER);
    EXPECT(otp_uri_hotp_params(&uri, NULL), OTP_NULL_POINTER);
    EXPECT(otp_uri_parse(NULL, 10, &parsed, &secret, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_parse(TEXT(uri_text), NULL, &secret, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_parse(TEXT(uri_text), &parsed, NULL, buf, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_parse(TEXT(uri_text), &parsed, &secret, NULL, sizeof buf, &len), OTP_NULL_POINTER);
    EXPECT(otp_uri_parse(TEXT(uri_text), &parsed, &secret, buf, sizeof buf, NULL), OTP_NULL_POINTER);

    /* NULL checks come before any other validation. */
    EXPECT(otp_secret_from_bytes(NULL, bytes, 0, 99), OTP_NULL_POINTER);
    EXPECT(otp_totp_generate(&totp, 59, NULL, 0, &len), OTP_NULL_POINTER);

    EXPECT(otp_secret_wipe(&secret), OTP_OK);
    EXPECT(otp_totp_wipe(&totp), OTP_OK);
    EXPECT(otp_hotp_wipe(&hotp), OTP_OK);
}

static void test_clock(void) {
    uint64_t now = 0;
    EXPECT(otp_unix_time(&now), OTP_OK);
    CHECK(now > 1700000000u);
}

/* Statuses no input from C can produce: a panic (a bug), the OS failing to provide
 * randomness or a clock before 1970. The Rust unit tests in src/ffi cover their mapping.
 * The deploy-gate statuses (throttle, recovery codes, user state) are test_deploy_gate.c's,
 * the out-of-band code statuses test_oob.c's. */
static int unreachable_from_c(uint32_t s) {
    return s == OTP_PANIC || s == OTP_RANDOMNESS_UNAVAILABLE || s == OTP_CLOCK_BEFORE_UNIX_EPOCH ||
           (s >= OTP_THROTTLED && s <= OTP_STATE_INVALID_FLAGS) || s == OTP_LOCKED_OUT ||
           s == OTP_STATE_CORRUPT || (s >= OTP_OOB_KEY_TOO_SHORT && s <= OTP_OOB_NO_CODE_PENDING);
}

static void test_every_status_was_produced(void) {
    uint32_t s;
    for (s = 0; s <= OTP_STATUS_MAX; s++) {
        int assigned = strcmp(otp_status_message(s), "unknown status") != 0;
        if (assigned && !unreachable_from_c(s) && !seen[s]) {
            failures++;
            fprintf(stderr, "no check produced status %u (%s)\n", (unsigned)s, otp_status_message(s));
        }
        checks++;
    }
}

/* Every struct a caller allocates or passes has a size constant for bindings in other
 * languages to check their layouts against. */
static void test_struct_sizes_match_their_constants(void) {
    CHECK(sizeof(otp_secret) == OTP_SECRET_SIZE);
    CHECK(sizeof(otp_totp) == OTP_TOTP_SIZE);
    CHECK(sizeof(otp_hotp) == OTP_HOTP_SIZE);
    CHECK(sizeof(otp_totp_params) == OTP_TOTP_PARAMS_SIZE);
    CHECK(sizeof(otp_hotp_params) == OTP_HOTP_PARAMS_SIZE);
    CHECK(sizeof(otp_uri) == OTP_URI_SIZE);
    CHECK(sizeof(otp_recovery_codes) == OTP_RECOVERY_CODES_SIZE);
    CHECK(sizeof(otp_throttle) == OTP_THROTTLE_SIZE);
    CHECK(sizeof(otp_throttle_state) == OTP_THROTTLE_STATE_SIZE);
    CHECK(sizeof(otp_user_state) == OTP_USER_STATE_SIZE);
    CHECK(sizeof(otp_oob_key) == OTP_OOB_KEY_SIZE);
    CHECK(sizeof(otp_oob_policy) == OTP_OOB_POLICY_SIZE);
    CHECK(sizeof(otp_oob_record) == OTP_OOB_RECORD_SIZE);
}

/* Keys longer than every hash block, up to OTP_MAX_SECRET_LEN (256) bytes, give the codes
 * Python's hmac module computes (8 digits, counter 1); 257 bytes are refused. */
static void test_secrets_up_to_256_bytes(void) {
    static const size_t lengths[2] = {200, 256};
    static const char *const codes[2][3] = {{"20484750", "69212083", "73963353"},
                                            {"41825696", "06779048", "61186015"}};
    uint8_t bytes[OTP_MAX_SECRET_LEN + 1];
    char buf[OTP_CODE_BUFFER_SIZE];
    size_t i, n, len = 0;
    uint32_t algorithm;
    CHECK(OTP_MAX_SECRET_LEN == 256);
    for (n = 0; n < 2; n++) {
        otp_secret secret = {0};
        for (i = 0; i < lengths[n]; i++) {
            bytes[i] = (uint8_t)(i * 131 + lengths[n] * 7 + 3);
        }
        EXPECT(otp_secret_from_bytes(&secret, bytes, lengths[n], OTP_POLICY_STRICT), OTP_OK);
        for (algorithm = OTP_ALGORITHM_SHA1; algorithm <= OTP_ALGORITHM_SHA512; algorithm++) {
            otp_hotp key = {0};
            otp_hotp_params params;
            EXPECT(otp_hotp_params_default(&params), OTP_OK);
            params.algorithm = algorithm;
            params.digits = 8;
            EXPECT(otp_hotp_init(&key, &secret, &params), OTP_OK);
            EXPECT(otp_hotp_generate(&key, 1, buf, sizeof buf, &len), OTP_OK);
            CHECK(len == 8 && strcmp(buf, codes[n][algorithm - 1]) == 0);
            EXPECT(otp_hotp_wipe(&key), OTP_OK);
        }
        EXPECT(otp_secret_wipe(&secret), OTP_OK);
    }
    {
        otp_secret secret = {0};
        char text[OTP_MAX_SECRET_BASE32_LEN + 1];
        EXPECT(otp_secret_from_bytes(&secret, bytes, OTP_MAX_SECRET_LEN + 1,
                                     OTP_POLICY_COMPATIBLE),
               OTP_SECRET_TOO_LONG);
        EXPECT(otp_secret_generate(&secret, OTP_MAX_SECRET_LEN), OTP_OK);
        EXPECT(otp_secret_to_base32(&secret, text, sizeof text, &len), OTP_OK);
        CHECK(len == OTP_MAX_SECRET_BASE32_LEN);
        EXPECT(otp_secret_wipe(&secret), OTP_OK);
    }
}

int main(void) {
    test_version_and_messages();
    test_hotp_rfc_vectors();
    test_totp_rfc_vectors();
    test_totp_verification_outcomes();
    test_totp_params_errors();
    test_wipe_leaves_every_byte_zero();
    test_hotp_verify_and_resync();
    test_secrets_and_base32();
    test_too_small_buffers_report_the_size_needed();
    test_uri_round_trips();
    test_uri_errors();
    test_null_pointers();
    test_clock();
    test_every_status_was_produced();
    test_struct_sizes_match_their_constants();
    test_secrets_up_to_256_bytes();
    if (failures != 0) {
        fprintf(stderr, "%u of %u checks failed\n", failures, checks);
        return 1;
    }
    printf("all %u C API checks passed\n", checks);
    return 0;
}
