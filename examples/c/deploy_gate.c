/*
 * The deploy gate in C: a second factor before "Transport to Production", the flow that
 * `otpgate` (otpgate/src/bin/otpgate/) runs on a database, here on files. Enrolls a user (the key in groups of four and the key URI),
 * confirms the enrollment, hands out recovery codes, then gates a deployment: a fresh code
 * passes, a replayed one fails (without counting: it tells a guesser nothing), wrong codes
 * lock the user out, a recovery code works once.
 *
 *   deploy_gate
 *       Runs the whole flow on a simulated clock, computing the codes a phone would show.
 *   deploy_gate --state FILE --enroll
 *       Enrolls a new user into FILE, which must not exist yet: shows the key URI (as a QR
 *       code with any QR tool, for example `qrencode -t ansiutf8 URI`) or the key to type.
 *   deploy_gate --state FILE
 *       Shows the user's state.
 *   deploy_gate --state FILE --code NNNNNN
 *       Confirms the enrollment, then gates a deployment with the code the phone shows.
 *   deploy_gate --state FILE --recovery xxxx-xxxx-xxxx-xxxx
 *       Gates a deployment with a recovery code.
 *
 * FILE holds the user's state in its versioned OTP_USER_STATE_LEN-byte encoding and
 * FILE.key the secret in base32, both readable by the owner only (a real deployment keeps
 * the secret encrypted, as otpgate does). Exit status 0:
 * granted (or nothing to gate); 1: refused; 2: error.
 *
 * It fails closed: a missing state file is an error, never a silent enrollment (only
 * --enroll creates one, and never over an existing one). Each run that checks a code holds
 * an exclusive lock on FILE from reading the state to the durable write of the new state
 * (a unique temporary file, fsync, rename, fsync of the directory), so however many
 * processes race with the same code, exactly one accepts it. A server with a database does
 * the same with a compare-and-swap on a version column: see the README's C API section.
 */
#define _POSIX_C_SOURCE 200809L

#include "otpcore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ACCOUNT = "alice@example.com";
static const char *const ISSUER = "Deploy Portal";

/* The third failure in a row locks out for a minute, each further one for twice as long up
 * to an hour, and the tenth is a hard stop. */
static otp_throttle gate_throttle(void) {
    otp_throttle t;
    memset(&t, 0, sizeof t);
    t.lockout_after = 3;
    t.hard_stop_after = 10;
    t.lockout_secs = 60;
    t.max_lockout_secs = 3600;
    return t;
}

static int fail(const char *what, otp_status status) {
    fprintf(stderr, "deploy_gate: %s: %s\n", what, otp_status_message(status));
    return 2;
}

/* Prints the enrollment: the key for typing, in groups of four, and the key URI. */
static otp_status show_enrollment(const otp_secret *secret) {
    char key[OTP_MAX_SECRET_BASE32_LEN + 1], uri_text[512];
    size_t key_len, uri_len, i;
    otp_uri uri;
    otp_status status;

    memset(&uri, 0, sizeof uri);
    uri.kind = OTP_TYPE_TOTP;
    uri.algorithm = OTP_ALGORITHM_SHA1;
    uri.digits = 6;
    uri.period = 30;
    uri.issuer = ISSUER;
    uri.issuer_len = strlen(ISSUER);
    uri.account = ACCOUNT;
    uri.account_len = strlen(ACCOUNT);
    status = otp_secret_to_base32(secret, key, sizeof key, &key_len);
    if (status == OTP_OK) {
        status = otp_uri_build(&uri, secret, uri_text, sizeof uri_text, &uri_len);
    }
    if (status == OTP_OK) {
        printf("In Google Authenticator (or any authenticator app), choose \"Enter a setup key\"\n"
               "and type:");
        for (i = 0; i < key_len; i += 4) {
            printf(" %.4s", key + i);
        }
        printf("\nor show this key URI as a QR code (qrencode -t ansiutf8 '...') and scan it:\n");
        printf("key URI: %s\n\n", uri_text);
    }
    /* Both texts hold the secret. */
    memset(key, 0, sizeof key);
    memset(uri_text, 0, sizeof uri_text);
    return status;
}

/* Prints freshly generated recovery codes, two per line. */
static void show_recovery_codes(const char *codes) {
    size_t i;
    printf("Recovery codes: each works once if you lose your phone. Store them offline now;\n");
    printf("only their salted hashes are kept.\n");
    for (i = 0; i < OTP_RECOVERY_CODE_COUNT; i += 2) {
        const char *code = codes + i * (OTP_RECOVERY_CODE_TEXT_LEN + 1);
        printf("  %.19s      %.19s\n", code, code + OTP_RECOVERY_CODE_TEXT_LEN + 1);
    }
    printf("\n");
}

/* What the user sees after a code attempt at the gate. */
static void describe(otp_status status, const otp_user_state *state, uint64_t now, uint64_t step,
                     int64_t drift) {
    switch (status) {
    case OTP_OK:
        printf("accepted (step %llu, drift %lld)\n", (unsigned long long)step, (long long)drift);
        break;
    case OTP_CODE_REPLAYED:
        printf("refused: this code was already used (not counted as a failure)\n");
        break;
    case OTP_CODE_INVALID:
        printf("refused: wrong code\n");
        break;
    case OTP_THROTTLED:
        printf("refused without checking: too many failures, retry in %llu s\n",
               (unsigned long long)(state->throttle.locked_until - now));
        break;
    default:
        printf("refused: %s\n", otp_status_message(status));
    }
}

static void describe_recovery(otp_status status, const otp_user_state *state, uint64_t now,
                              size_t slot, size_t remaining) {
    switch (status) {
    case OTP_OK:
        printf("accepted (recovery code %u, %u left)\n", (unsigned)(slot + 1), (unsigned)remaining);
        break;
    case OTP_CODE_REPLAYED:
        printf("refused: recovery code already used (not counted as a failure)\n");
        break;
    case OTP_CODE_INVALID:
        printf("refused: unknown recovery code\n");
        break;
    default:
        describe(status, state, now, 0, 0);
    }
}

static void transport(int granted) {
    if (granted) {
        printf("      -> Transport to Production: build 1.4.2 deployed to production\n");
    } else {
        printf("      -> Transport to Production: not allowed\n");
    }
}

/* One attempt with a TOTP code at `now`, described after `label`; returns whether access is
 * granted. */
static int gate(const otp_totp *key, const char *code, uint64_t now, otp_user_state *state,
                const char *label) {
    const otp_throttle throttle = gate_throttle();
    uint64_t step = 0;
    int64_t drift = 0;
    otp_status status =
        otp_user_state_verify_totp(key, &throttle, code, strlen(code), now, state, &step, &drift);
    fputs(label, stdout);
    describe(status, state, now, step, drift);
    return status == OTP_OK;
}

/* In demo(): a call that cannot fail with the demo's inputs is still checked; the key is
 * wiped before giving up. */
#define DEMO_CHECK(what, call)                                                                     \
    do {                                                                                           \
        if ((status = (call)) != OTP_OK) {                                                         \
            otp_totp_wipe(&key);                                                                   \
            return fail(what, status);                                                             \
        }                                                                                          \
    } while (0)

/* The whole flow on a simulated clock that starts now, with the phone simulated too. */
static int demo(void) {
    const otp_throttle throttle = gate_throttle();
    otp_secret secret = {0};
    otp_totp key = {0};
    otp_totp_params params;
    otp_user_state state;
    uint8_t stored[OTP_USER_STATE_LEN];
    char code[OTP_CODE_BUFFER_SIZE], fresh[OTP_CODE_BUFFER_SIZE];
    char recovery[OTP_RECOVERY_CODES_TEXT_SIZE], first[OTP_RECOVERY_CODE_TEXT_LEN + 1];
    static const char *const wrong[3] = {"123456", "654321", "111111"};
    uint64_t start, now;
    size_t len, slot = 0, remaining = 0, i;
    otp_status status;

    if ((status = otp_unix_time(&start)) != OTP_OK) {
        return fail("clock", status);
    }
    now = start;
    if ((status = otp_secret_generate(&secret, OTP_SECRET_DEFAULT_LEN)) != OTP_OK) {
        return fail("secret", status);
    }
    otp_totp_params_default(&params);
    status = otp_totp_init(&key, &secret, &params);
    if (status != OTP_OK) {
        otp_secret_wipe(&secret);
        return fail("key", status);
    }
    otp_user_state_default(&state);

    printf("== 1. Enroll %s for two-factor authentication\n\n", ACCOUNT);
    status = show_enrollment(&secret);
    otp_secret_wipe(&secret);
    if (status != OTP_OK) {
        otp_totp_wipe(&key);
        return fail("enroll", status);
    }

    printf("== 2. Confirm the enrollment with the first code\n\n");
    DEMO_CHECK("generate", otp_totp_generate(&key, now, code, sizeof code, &len));
    printf("phone shows %s\n", code);
    if (!gate(&key, code, now, &state, "  enrollment: ")) {
        otp_totp_wipe(&key);
        fprintf(stderr, "deploy_gate: enrollment failed\n");
        return 2;
    }
    if ((status = otp_recovery_codes_generate(recovery, sizeof recovery, &len, &state.recovery)) !=
        OTP_OK) {
        otp_totp_wipe(&key);
        return fail("recovery codes", status);
    }
    show_recovery_codes(recovery);
    memcpy(first, recovery, OTP_RECOVERY_CODE_TEXT_LEN);
    first[OTP_RECOVERY_CODE_TEXT_LEN] = '\0';
    /* The demo keeps one code to type later; the rest are not needed any more. */
    memset(recovery, 0, sizeof recovery);
    DEMO_CHECK("state", otp_user_state_encode(&state, stored, sizeof stored, &len));
    printf("persisted the user's state: %u bytes (version %u encoding)\n\n", (unsigned)len,
           (unsigned)stored[4]);

    printf("== 3. Transport to Production, 30 seconds later\n\n");
    now += 30;
    DEMO_CHECK("generate", otp_totp_generate(&key, now, fresh, sizeof fresh, &len));
    printf("[t+30s] fresh code %s\n", fresh);
    transport(gate(&key, fresh, now, &state, "  "));

    now += 5;
    printf("[t+35s] the same code %s again (replayed, say from a shoulder-surfer)\n", fresh);
    transport(gate(&key, fresh, now, &state, "  "));

    for (i = 0; i < 3; i++) {
        now += 5;
        printf("[t+%us] wrong code %s\n", (unsigned)(now - start), wrong[i]);
        transport(gate(&key, wrong[i], now, &state, "  "));
    }

    now += 5;
    DEMO_CHECK("generate", otp_totp_generate(&key, now, code, sizeof code, &len));
    printf("[t+55s] the right code %s, but the user is locked out\n", code);
    transport(gate(&key, code, now, &state, "  "));

    /* The state survives a restart: encode, decode, and the lockout is still there. */
    DEMO_CHECK("state", otp_user_state_encode(&state, stored, sizeof stored, &len));
    otp_totp_wipe(&key);
    if ((status = otp_user_state_decode(stored, len, &state)) != OTP_OK) {
        return fail("state", status);
    }
    now = state.throttle.locked_until;
    printf("\n== 4. Phone lost: a recovery code, after the lockout\n\n");
    printf("[t+%llus] recovery code %s\n  ", (unsigned long long)(now - start), first);
    status = otp_user_state_verify_recovery(&throttle, first, strlen(first), now, &state, &slot,
                                            &remaining);
    describe_recovery(status, &state, now, slot, remaining);
    transport(status == OTP_OK);
    now += 5;
    printf("[later] the same recovery code again\n  ");
    status = otp_user_state_verify_recovery(&throttle, first, strlen(first), now, &state, &slot,
                                            &remaining);
    describe_recovery(status, &state, now, slot, remaining);
    transport(status == OTP_OK);
    memset(first, 0, sizeof first);

    printf("\nTry it with your phone: deploy_gate --state FILE --enroll\n");
    return 0;
}

/* The directory part of `path` ("." for a bare name), for fsync after a rename. */
static int open_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t len = slash == NULL ? 0 : (size_t)(slash - path);
    if (slash == NULL) {
        return open(".", O_RDONLY);
    }
    if (len == 0) {
        len = 1; /* the root directory */
    }
    if (len >= sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, len);
    dir[len] = '\0';
    return open(dir, O_RDONLY);
}

static int write_all(int fd, const void *bytes, size_t len) {
    const char *p = bytes;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        p += n;
        len -= (size_t)n;
    }
    return 1;
}

/* Writes `len` bytes durably into a new file with a unique name next to `path` (mode
 * 0600, as mkstemp creates it) and returns that name in `tmp`; 0 on failure, with nothing
 * left behind. Unique names let any number of processes write at once. */
static int write_temporary(const char *path, const void *bytes, size_t len, char *tmp,
                           size_t cap) {
    int fd, ok;
    if (snprintf(tmp, cap, "%s.XXXXXX", path) >= (int)cap) {
        errno = ENAMETOOLONG;
        return 0;
    }
    fd = mkstemp(tmp);
    if (fd < 0) {
        return 0;
    }
    ok = write_all(fd, bytes, len) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        unlink(tmp);
    }
    return ok;
}

/* Makes a rename or link in `path`'s directory durable. */
static int sync_parent_dir(const char *path) {
    int ok, fd = open_parent_dir(path);
    if (fd < 0) {
        return 0;
    }
    ok = fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

/* Replaces `path` with `len` bytes atomically and durably: a crash leaves the old or the
 * new contents, never half a state (which could restore an old counter). */
static int write_private(const char *path, const void *bytes, size_t len) {
    char tmp[4096];
    if (!write_temporary(path, bytes, len, tmp, sizeof tmp)) {
        return 0;
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return 0;
    }
    return sync_parent_dir(path);
}

/* Creates `path` with `len` bytes, durably, only if it does not exist (errno EEXIST
 * otherwise): link() of a complete temporary file never replaces an existing one. */
static int create_private(const char *path, const void *bytes, size_t len) {
    char tmp[4096];
    int ok;
    if (!write_temporary(path, bytes, len, tmp, sizeof tmp)) {
        return 0;
    }
    ok = link(tmp, path) == 0;
    unlink(tmp);
    return ok && sync_parent_dir(path);
}

/* Reads at most `cap` bytes of `path`; returns the count, or -1 (errno set). */
static long read_file(const char *path, void *out, size_t cap) {
    size_t n;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    n = fread(out, 1, cap, f);
    fclose(f);
    return (long)n;
}

/* Opens the state file and takes an exclusive lock on it, held until the descriptor is
 * closed. A writer replaces the file by rename while others wait for the lock on the old
 * one, so after locking, the descriptor must still be the file at `path`: otherwise start
 * over on the new one. Returns the descriptor, or -1 (errno set; ENOENT: not enrolled). */
static int lock_state(const char *path) {
    for (;;) {
        struct flock lock;
        struct stat locked, current;
        int fd = open(path, O_RDWR);
        if (fd < 0) {
            return -1;
        }
        memset(&lock, 0, sizeof lock);
        lock.l_type = F_WRLCK;
        lock.l_whence = SEEK_SET;
        while (fcntl(fd, F_SETLKW, &lock) != 0) {
            if (errno != EINTR) {
                close(fd);
                return -1;
            }
        }
        if (fstat(fd, &locked) != 0) {
            close(fd);
            return -1;
        }
        if (stat(path, &current) != 0) {
            /* Removed while this run waited: no user there any more. */
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
        if (current.st_dev == locked.st_dev && current.st_ino == locked.st_ino) {
            return fd;
        }
        /* Replaced while this run waited: lock the new file instead. */
        close(fd);
    }
}

/* Reads the whole (small) state file from the locked descriptor. Reading through another
 * descriptor would drop the lock: POSIX releases a process's record locks on a file when
 * any descriptor of it is closed. */
static long read_locked(int fd, void *out, size_t cap) {
    size_t total = 0;
    while (total < cap) {
        ssize_t n = pread(fd, (char *)out + total, cap - total, (off_t)total);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        total += (size_t)n;
    }
    return (long)total;
}

static int save(const char *path, const otp_user_state *state) {
    uint8_t buf[OTP_USER_STATE_LEN];
    size_t len;
    otp_status status = otp_user_state_encode(state, buf, sizeof buf, &len);
    if (status != OTP_OK) {
        fail("state", status);
        return 0;
    }
    if (!write_private(path, buf, len)) {
        fprintf(stderr, "deploy_gate: cannot write %s: %s\n", path, strerror(errno));
        return 0;
    }
    return 1;
}

/* Enrolls a new user: the state file is created only where none exists, so enrolling
 * never resets an existing user's replay protection and throttle. */
static int enroll(const char *path, const char *key_path) {
    otp_secret secret = {0};
    otp_user_state state;
    uint8_t buf[OTP_USER_STATE_LEN];
    char key[OTP_MAX_SECRET_BASE32_LEN + 1];
    size_t len, state_len;
    int written;
    otp_status status = otp_secret_generate(&secret, OTP_SECRET_DEFAULT_LEN);
    if (status == OTP_OK) {
        status = otp_secret_to_base32(&secret, key, sizeof key, &len);
    }
    otp_user_state_default(&state);
    if (status == OTP_OK) {
        status = otp_user_state_encode(&state, buf, sizeof buf, &state_len);
    }
    if (status != OTP_OK) {
        otp_secret_wipe(&secret);
        memset(key, 0, sizeof key);
        return fail("secret", status);
    }
    if (!create_private(path, buf, state_len)) {
        int err = errno;
        otp_secret_wipe(&secret);
        memset(key, 0, sizeof key);
        fprintf(stderr, "deploy_gate: cannot enroll into %s: %s\n", path,
                err == EEXIST ? "it exists already (a user is enrolled there)" : strerror(err));
        return 2;
    }
    /* This demo keeps the secret next to the state in plain base32; a real server keeps it
     * encrypted (see the README's "Deploy gate" section). Until it is written, a check
     * fails closed for want of the key. */
    written = write_private(key_path, key, len);
    memset(key, 0, sizeof key);
    if (!written) {
        otp_secret_wipe(&secret);
        fprintf(stderr, "deploy_gate: cannot write %s: %s\n", key_path, strerror(errno));
        return 2;
    }
    printf("Enrolling %s; state in %s\n\n", ACCOUNT, path);
    status = show_enrollment(&secret);
    otp_secret_wipe(&secret);
    if (status != OTP_OK) {
        return fail("enroll", status);
    }
    printf("Then confirm with the code your phone shows:\n  deploy_gate --state %s --code NNNNNN\n",
           path);
    return 0;
}

/* The flow across runs, for a real phone, on the state file locked as `fd`: read, verify,
 * write the new state durably; the caller releases the lock afterwards. */
static int gate_locked(int fd, const char *path, const char *key_path, const char *code,
                       const char *recovery) {
    const otp_throttle throttle = gate_throttle();
    char key_text[OTP_MAX_SECRET_BASE32_LEN + 2];
    uint8_t bytes[OTP_USER_STATE_LEN + 1];
    otp_user_state state;
    otp_secret secret = {0};
    otp_totp key = {0};
    otp_totp_params params;
    uint64_t now = 0;
    long n;
    int enrolled, granted;
    otp_status status;

    n = read_locked(fd, bytes, sizeof bytes);
    if (n < 0) {
        fprintf(stderr, "deploy_gate: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    if ((status = otp_user_state_decode(bytes, (size_t)n, &state)) != OTP_OK) {
        return fail(path, status);
    }
    n = read_file(key_path, key_text, sizeof key_text - 1);
    if (n < 0) {
        fprintf(stderr, "deploy_gate: cannot read %s: %s\n", key_path, strerror(errno));
        return 2;
    }
    while (n > 0 && (key_text[n - 1] == '\n' || key_text[n - 1] == '\r' || key_text[n - 1] == ' ')) {
        n--;
    }
    status = otp_secret_from_base32(&secret, key_text, (size_t)n, OTP_POLICY_COMPATIBLE);
    memset(key_text, 0, sizeof key_text);
    if (status != OTP_OK) {
        return fail(key_path, status);
    }
    otp_totp_params_default(&params);
    status = otp_totp_init(&key, &secret, &params);
    otp_secret_wipe(&secret);
    if (status != OTP_OK) {
        return fail("key", status);
    }
    if ((status = otp_unix_time(&now)) != OTP_OK) {
        otp_totp_wipe(&key);
        return fail("clock", status);
    }
    enrolled = state.has_totp_step == 1;

    if (code != NULL) {
        granted = gate(&key, code, now, &state, enrolled ? "code: " : "enrollment: ");
        otp_totp_wipe(&key);
        if (granted && !enrolled) {
            /* The recovery codes are committed in the same write as the confirmation, and
             * shown only once that write is durable. */
            char codes[OTP_RECOVERY_CODES_TEXT_SIZE];
            size_t len;
            status = otp_recovery_codes_generate(codes, sizeof codes, &len, &state.recovery);
            if (status != OTP_OK) {
                return fail("recovery codes", status);
            }
            if (!save(path, &state)) {
                memset(codes, 0, sizeof codes);
                return 2;
            }
            printf("enrollment confirmed.\n\n");
            show_recovery_codes(codes);
            memset(codes, 0, sizeof codes);
            printf("From now on every Transport to Production needs a fresh code:\n"
                   "  deploy_gate --state %s --code NNNNNN\n",
                   path);
            return 0;
        }
        /* Persist before acting on the outcome: the accepted step, or a wrong code
         * counted toward the throttle (a replay is not counted). */
        if (!save(path, &state)) {
            return 2;
        }
    } else if (recovery != NULL) {
        size_t slot = 0, remaining = 0;
        otp_totp_wipe(&key);
        status = otp_user_state_verify_recovery(&throttle, recovery, strlen(recovery), now, &state,
                                                &slot, &remaining);
        if (!save(path, &state)) {
            return 2;
        }
        printf("recovery: ");
        describe_recovery(status, &state, now, slot, remaining);
        granted = status == OTP_OK;
    } else {
        size_t remaining = 0;
        otp_totp_wipe(&key);
        otp_recovery_codes_remaining(&state.recovery, &remaining);
        printf("%s: enrollment %s\n", ACCOUNT, enrolled ? "confirmed" : "waiting for the first code");
        printf("failed attempts in the current window: %u\n", (unsigned)state.throttle.failures);
        if (state.throttle.locked_until > now) {
            printf("locked out for %llu s\n", (unsigned long long)(state.throttle.locked_until - now));
        }
        printf("recovery codes left: %u\n", (unsigned)remaining);
        printf("give a code with --code NNNNNN or a recovery code with --recovery CODE\n");
        return 0;
    }
    if (enrolled) {
        transport(granted);
    }
    return granted ? 0 : 1;
}

static int with_state(const char *path, const char *code, const char *recovery, int enrolling) {
    char key_path[4096];
    int fd, result;

    if (snprintf(key_path, sizeof key_path, "%s.key", path) >= (int)sizeof key_path) {
        fprintf(stderr, "deploy_gate: path too long\n");
        return 2;
    }
    if (enrolling) {
        return enroll(path, key_path);
    }
    fd = lock_state(path);
    if (fd < 0 && errno == ENOENT) {
        fprintf(stderr,
                "deploy_gate: %s does not exist: no user is enrolled there (enroll with "
                "deploy_gate --state %s --enroll)\n",
                path, path);
        return 2;
    }
    if (fd < 0) {
        fprintf(stderr, "deploy_gate: cannot lock %s: %s\n", path, strerror(errno));
        return 2;
    }
    result = gate_locked(fd, path, key_path, code, recovery);
    /* Releases the lock, after the new state is durable. */
    close(fd);
    return result;
}

static const char *const USAGE =
    "usage: deploy_gate [--state FILE [--enroll | --code NNNNNN | --recovery CODE]]\n";

int main(int argc, char **argv) {
    const char *state = NULL, *code = NULL, *recovery = NULL;
    int i, enrolling = 0;
    for (i = 1; i < argc; i++) {
        const char **slot;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(USAGE, stdout);
            return 0;
        } else if (strcmp(argv[i], "--enroll") == 0) {
            enrolling = 1;
            continue;
        } else if (strcmp(argv[i], "--state") == 0) {
            slot = &state;
        } else if (strcmp(argv[i], "--code") == 0) {
            slot = &code;
        } else if (strcmp(argv[i], "--recovery") == 0) {
            slot = &recovery;
        } else {
            fputs(USAGE, stderr);
            return 2;
        }
        if (i + 1 == argc) {
            fprintf(stderr, "%s needs a value\n%s", argv[i], USAGE);
            return 2;
        }
        *slot = argv[++i];
    }
    if (enrolling + (code != NULL) + (recovery != NULL) > 1) {
        fprintf(stderr, "deploy_gate: give one of --enroll, --code and --recovery\n%s", USAGE);
        return 2;
    }
    if (state != NULL) {
        return with_state(state, code, recovery, enrolling);
    }
    if (enrolling || code != NULL || recovery != NULL) {
        fprintf(stderr, "deploy_gate: --enroll, --code and --recovery need --state FILE: enroll "
                        "first with --state FILE --enroll, add the key to your phone, then give "
                        "the code it shows\n");
        return 2;
    }
    return demo();
}
