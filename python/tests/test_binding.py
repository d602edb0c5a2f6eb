"""The compiled binding against the committed header: every function, struct and size it
declares is in the extension as declared, and the import checks refuse any difference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import otpcore
from conftest import REPO
from otpcore import _ffi, _generated, _hot, _otpcore
from otpcore._ffi import ffi, lib

HEADER = (REPO / "include" / "otpcore.h").read_text()


def ctype_of(declaration: str) -> object:
    """The cffi type of a C parameter, return or field type as the header writes it (cffi
    drops `const`, which changes no layout or calling convention)."""
    return ffi.typeof(declaration.replace("const ", "").strip())


def header_functions() -> dict[str, tuple[object, list[object]]]:
    functions = {}
    pattern = r"^(otp_status|const char \*)\s*(otp_\w+)\(([^)]*)\);"
    for returns, name, params in re.findall(pattern, HEADER, re.M):
        args = [] if params.strip() == "void" else [
            ctype_of(re.sub(r"\w+$", "", p.strip())) for p in params.split(",")
        ]
        functions[name] = (ctype_of(returns), args)
    return functions


def test_every_header_function_is_in_the_extension_with_its_exact_signature():
    declared = header_functions()
    assert len(declared) > 50
    assert {name for name in dir(lib) if name.startswith("otp_")} == set(declared)
    for name, (result, args) in declared.items():
        function = ffi.typeof(getattr(lib, name))
        assert function.result is result, name
        assert list(function.args) == args, name


def header_structs() -> dict[str, list[tuple[str, object]]]:
    structs = {}
    for name, body in re.findall(r"^typedef struct (otp_\w+) \{\n(.*?)^\} \1;", HEADER, re.M | re.S):
        fields = []
        body = re.sub(r"/\*\*.*?\*/", "", body, flags=re.S)
        for declaration in filter(None, (line.strip() for line in body.splitlines())):
            match = re.fullmatch(r"(.+?)\s*(\w+)((?:\[\w+\])*);", declaration)
            assert match, declaration
            dimensions = "".join(
                f"[{d if d.isdigit() else _ffi.DEFINES[d]}]" for d in re.findall(r"\[(\w+)\]", match.group(3))
            )
            fields.append((match.group(2), ctype_of(match.group(1) + dimensions)))
        structs[name] = fields
    return structs


def test_every_struct_has_the_header_fields_in_order():
    declared = header_structs()
    assert set(_ffi.STRUCT_SIZES) == set(declared)
    for name, fields in declared.items():
        ours = [(field_name, field.type) for field_name, field in ffi.typeof(name).fields]
        assert ours == fields, name


def test_every_size_constant_is_a_checked_struct_or_a_buffer():
    sizes = {name for name in _ffi.DEFINES if name.endswith("_SIZE")}
    buffers = {"OTP_CODE_BUFFER_SIZE", "OTP_OOB_CODE_BUFFER_SIZE", "OTP_RECOVERY_CODES_TEXT_SIZE"}
    assert sizes == set(_ffi.STRUCT_SIZES.values()) | buffers
    for name, constant in _ffi.STRUCT_SIZES.items():
        assert ffi.sizeof(name) == _ffi.DEFINES[constant]


def test_every_define_and_enumerator_of_the_header_is_read():
    defines = dict((name, int(value)) for name, value in re.findall(r"^#define (OTP_\w+) (\d+)$", HEADER, re.M))
    assert _ffi.DEFINES == defines
    for name, members in _ffi.ENUMS.items():
        body = re.search(rf"^enum {name}\b.*?\{{(.*?)^\}};", HEADER, re.M | re.S).group(1)
        assert members == {m: int(v) for m, v in re.findall(r"^\s*(OTP_\w+) = (\d+),", body, re.M)}


@pytest.mark.parametrize("extension", [_otpcore, _hot], ids=lambda m: m.__name__)
def test_calls_keep_the_gil(extension):
    # setup.py turns cffi's GIL release off, and csrc/hot.c never releases it, so that no
    # thread can wipe an object while a call reads it: neither extension even imports the
    # function that releases the GIL.
    binary = Path(extension.__file__).read_bytes()
    assert b"PyErr_Occurred" in binary  # the names of imported functions are there
    assert b"PyEval_SaveThread" not in binary


@pytest.mark.parametrize(
    "call",
    [
        lambda key: _hot.totp_verify(key, "287082", 59, None),
        lambda key: _hot.hotp_verify(key, "755224", 0),
        lambda key: _hot.totp_generate(key, 59),
        lambda key: _hot.totp_generate_at_step(key, 1),
        lambda key: _hot.hotp_generate(key, 0),
    ],
)
def test_hot_calls_refuse_anything_but_a_key_of_the_right_size(call):
    with pytest.raises(TypeError, match="a key's C object is 12 bytes, not 256"):
        call(ffi.buffer(ffi.new("otp_hotp_params *")))
    with pytest.raises(TypeError):
        call(b"")
    with pytest.raises(TypeError):
        call(None)


def test_import_check_refuses_a_struct_size_that_differs_from_the_header(monkeypatch):
    monkeypatch.setitem(_ffi.DEFINES, "OTP_USER_STATE_SIZE", 431)
    with pytest.raises(ImportError, match="otp_user_state is 432 bytes here but OTP_USER_STATE_SIZE is 431"):
        _ffi._check()


def test_import_check_refuses_an_enumeration_that_differs_from_the_header(monkeypatch):
    status = dict(_ffi.ENUMS["otp_status"], OTP_SOMETHING_NEW=69)
    monkeypatch.setitem(_ffi.ENUMS, "otp_status", status)
    with pytest.raises(ImportError, match="OTP_SOMETHING_NEW"):
        _ffi._check()


def test_import_check_refuses_a_library_of_another_version(monkeypatch):
    monkeypatch.setattr(_generated, "VERSION", "0.0.0-other")
    with pytest.raises(ImportError, match="the bundled library is version"):
        _ffi._check()


def test_version_is_the_crate_version():
    cargo = (REPO / "Cargo.toml").read_text()
    assert f'\nversion = "{otpcore.__version__}"\n' in cargo
    assert ffi.string(lib.otp_version()).decode() == otpcore.__version__


def test_the_package_is_typed_and_every_public_name_is_documented():
    import importlib.resources

    assert (importlib.resources.files("otpcore") / "py.typed").is_file()
    for name in otpcore.__all__:
        if name != "__version__":
            assert getattr(otpcore, name).__doc__, name


def test_defaults_are_the_libraries_defaults(rfc_secret):
    params = ffi.new("otp_totp_params *")
    lib.otp_totp_params_default(params)
    with otpcore.Totp(rfc_secret) as key:
        assert (key.algorithm, key.digits, key.period, key.t0, key.look_back, key.look_ahead) == (
            params.algorithm, params.digits, params.period, params.t0, params.look_back, params.look_ahead
        )
    hotp_params = ffi.new("otp_hotp_params *")
    lib.otp_hotp_params_default(hotp_params)
    with otpcore.Hotp(rfc_secret) as key:
        assert (key.algorithm, key.digits, key.look_ahead) == (
            hotp_params.algorithm, hotp_params.digits, hotp_params.look_ahead
        )
    throttle = ffi.new("otp_throttle *")
    lib.otp_throttle_default(throttle)
    assert ffi.buffer(otpcore.Throttle()._obj)[:] == ffi.buffer(throttle)[:]
    policy = ffi.new("otp_oob_policy *")
    lib.otp_oob_policy_default(policy)
    assert ffi.buffer(otpcore.OobPolicy()._obj)[:] == ffi.buffer(policy)[:]
