"""Answers a batch of otpcore interop questions with pyotp, one per input line.

Input lines are tab-separated; text fields are hex-encoded UTF-8 so that no character can
break the format. One output line per input line: `ok<TAB>...` or `err<TAB>message`.

  hotp   SECRET_B32 ALG DIGITS COUNTER         -> ok CODE
  totp   SECRET_B32 ALG DIGITS PERIOD TIME     -> ok CODE      (pyotp.TOTP.at)
  parse  URI_HEX                               -> ok TYPE ISSUER_HEX|- NAME_HEX SECRET ALG DIGITS PERIOD COUNTER
  build  TYPE SECRET_B32 ALG DIGITS PERIOD COUNTER NAME_HEX ISSUER_HEX|-   -> ok URI_HEX
"""

import hashlib
import sys

import pyotp

# pyotp 2.12 refuses secrets under 112 bits; otpcore accepts the 80-bit secrets that
# services still issue, so the code comparison lowers the limit (the HMAC is the same).
pyotp.OTP.min_secret_length_bits = 80

DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def text(hex_text):
    return bytes.fromhex(hex_text).decode("utf-8")


def hex_or_dash(value):
    return "-" if value is None else value.encode("utf-8").hex()


def answer(fields):
    op = fields[0]
    if op == "hotp":
        _, secret, alg, digits, counter = fields
        otp = pyotp.HOTP(secret, digits=int(digits), digest=DIGESTS[alg])
        return [otp.at(int(counter))]
    if op == "totp":
        _, secret, alg, digits, period, time = fields
        otp = pyotp.TOTP(secret, digits=int(digits), digest=DIGESTS[alg], interval=int(period))
        return [otp.at(int(time))]
    if op == "parse":
        otp = pyotp.parse_uri(text(fields[1]))
        kind = "hotp" if isinstance(otp, pyotp.HOTP) else "totp"
        return [
            kind,
            hex_or_dash(otp.issuer),
            hex_or_dash(otp.name),
            otp.secret,
            otp.digest().name.upper(),
            str(otp.digits),
            str(getattr(otp, "interval", 30)),
            str(getattr(otp, "initial_count", 0)),
        ]
    if op == "build":
        _, kind, secret, alg, digits, period, counter, name, issuer = fields
        issuer = None if issuer == "-" else text(issuer)
        if kind == "hotp":
            otp = pyotp.HOTP(secret, digits=int(digits), digest=DIGESTS[alg])
            uri = otp.provisioning_uri(name=text(name), issuer_name=issuer, initial_count=int(counter))
        else:
            otp = pyotp.TOTP(secret, digits=int(digits), digest=DIGESTS[alg], interval=int(period))
            uri = otp.provisioning_uri(name=text(name), issuer_name=issuer)
        return [uri.encode("utf-8").hex()]
    raise ValueError(f"unknown operation {op}")


def main():
    out = []
    for line in sys.stdin.read().splitlines():
        try:
            out.append("\t".join(["ok"] + answer(line.split("\t"))))
        except Exception as error:  # every failure is an answer, reported per case
            out.append("err\t" + repr(error).replace("\t", " ").replace("\n", " "))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
