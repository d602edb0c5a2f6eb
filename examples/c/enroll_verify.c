/*
 * Enrollment and verification with the otpcore C API.
 *
 *   otp_example enroll ACCOUNT
 *       Generates a secret and prints the key URI (show it as a QR code) and the base32
 *       key (for typing). Store the secret, encrypted, with the account.
 *   otp_example verify BASE32_SECRET CODE [UNIX_TIME]
 *       Verifies a TOTP code at UNIX_TIME (default: now). Exit status 0: valid;
 *       1: refused (wrong or replayed); 2: malformed input or other error.
 */
#include "otpcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, otp_status status) {
    fprintf(stderr, "%s: %s\n", what, otp_status_message(status));
    return 2;
}

static int enroll(const char *account) {
    otp_secret secret = {0};
    otp_uri uri;
    char text[512], key[OTP_MAX_SECRET_BASE32_LEN + 1];
    size_t len;
    otp_status status = otp_secret_generate(&secret, OTP_SECRET_DEFAULT_LEN);
    if (status != OTP_OK) {
        return fail("generate", status);
    }
    memset(&uri, 0, sizeof uri);
    uri.kind = OTP_TYPE_TOTP;
    uri.algorithm = OTP_ALGORITHM_SHA1;
    uri.digits = 6;
    uri.period = 30;
    uri.issuer = "Deploy Portal";
    uri.issuer_len = strlen(uri.issuer);
    uri.account = account;
    uri.account_len = strlen(account);
    status = otp_uri_build(&uri, &secret, text, sizeof text, &len);
    if (status == OTP_OK) {
        status = otp_secret_to_base32(&secret, key, sizeof key, &len);
    }
    otp_secret_wipe(&secret);
    if (status != OTP_OK) {
        return fail("enroll", status);
    }
    printf("%s\nkey: %s\n", text, key);
    /* Both strings hold the secret. */
    memset(text, 0, sizeof text);
    memset(key, 0, sizeof key);
    return 0;
}

static int verify(const char *base32, const char *code, const char *time_arg) {
    otp_secret secret = {0};
    otp_totp key = {0};
    otp_totp_params params;
    uint64_t now = 0, step = 0;
    int64_t drift = 0;
    otp_status status;

    if (time_arg != NULL) {
        char *end = NULL;
        now = strtoull(time_arg, &end, 10);
        if (end == time_arg || *end != '\0') {
            fprintf(stderr, "bad time: %s\n", time_arg);
            return 2;
        }
    } else if ((status = otp_unix_time(&now)) != OTP_OK) {
        return fail("clock", status);
    }

    status = otp_secret_from_base32(&secret, base32, strlen(base32), OTP_POLICY_COMPATIBLE);
    if (status != OTP_OK) {
        return fail("secret", status);
    }
    otp_totp_params_default(&params);
    status = otp_totp_init(&key, &secret, &params);
    otp_secret_wipe(&secret);
    if (status != OTP_OK) {
        return fail("key", status);
    }
    /* A real server passes the last accepted step it stored for this user. */
    status = otp_totp_verify(&key, code, strlen(code), now, false, 0, &step, &drift);
    otp_totp_wipe(&key);

    if (status == OTP_OK) {
        printf("valid: step %llu, drift %lld (store the step as last accepted)\n",
               (unsigned long long)step, (long long)drift);
        return 0;
    }
    if (status == OTP_CODE_INVALID || status == OTP_CODE_REPLAYED) {
        printf("refused: %s\n", otp_status_message(status));
        return 1;
    }
    return fail("verify", status);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "enroll") == 0) {
        return enroll(argv[2]);
    }
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "verify") == 0) {
        return verify(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    }
    fprintf(stderr, "usage: %s enroll ACCOUNT\n       %s verify BASE32_SECRET CODE [UNIX_TIME]\n",
            argv[0], argv[0]);
    return 2;
}
