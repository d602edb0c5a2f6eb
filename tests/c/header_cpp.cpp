// The header compiled as C++17 (-Wall -Wextra -Werror) and linked: the extern "C" guard
// and the typed enums work, and an RFC 6238 vector comes out right.
#include "otpcore.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

int main() {
    const char *bytes = "12345678901234567890";
    otp_secret secret{};
    otp_totp key{};
    otp_totp_params params{};
    char code[OTP_CODE_BUFFER_SIZE] = {};
    std::size_t len = 0;
    std::uint64_t step = 0;
    std::int64_t drift = 0;

    if (otp_secret_from_bytes(&secret, reinterpret_cast<const std::uint8_t *>(bytes), 20,
                              OTP_POLICY_COMPATIBLE) != OTP_OK ||
        otp_totp_params_default(&params) != OTP_OK) {
        return 1;
    }
    params.digits = 8;
    if (otp_totp_init(&key, &secret, &params) != OTP_OK ||
        otp_totp_generate(&key, 59, code, sizeof code, &len) != OTP_OK) {
        return 1;
    }
    if (std::strcmp(code, "94287082") != 0) {
        std::fprintf(stderr, "C++: got %s\n", code);
        return 1;
    }
    otp_status status = otp_totp_verify(&key, code, len, 59, true, 1, &step, &drift);
    if (status != OTP_CODE_REPLAYED) {
        std::fprintf(stderr, "C++: replay gave %s\n", otp_status_message(status));
        return 1;
    }
    otp_totp_wipe(&key);
    otp_secret_wipe(&secret);
    std::printf("C++17 header check passed (otpcore %s)\n", otp_version());
    return 0;
}
