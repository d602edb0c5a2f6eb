"""The binding against the committed header: every function, struct and size it declares."""

from __future__ import annotations

import ctypes
import re
from ctypes import POINTER, c_bool, c_char_p, c_int64, c_size_t, c_uint8, c_uint16, c_uint32, c_uint64

import pytest

import otpcore
from conftest import REPO
from otpcore import _ffi, _generated

HEADER = (REPO / "include" / "otpcore.h").read_text()

SCALARS = {
    "bool": c_bool,
    "uint8_t": c_uint8,
    "uint16_t": c_uint16,
    "uint32_t": c_uint32,
    "uint64_t": c_uint64,
    "int64_t": c_int64,
    "size_t": c_size_t,
}
#: Byte and text pointers are all passed as c_char_p (see _ffi).
BYTE_POINTERS = {"char", "uint8_t"}


def ctype_of(declaration: str) -> object:
    """The ctypes type the binding should use for a C parameter or field type."""
    text = declaration.replace("const ", "").strip()
    if text.endswith("*"):
        base = text[:-1].strip()
        if base in BYTE_POINTERS:
            return c_char_p
        if base.startswith("struct "):
            return POINTER(getattr(_ffi, base.split()[1]))
        return POINTER(SCALARS[base])
    if text.startswith("struct "):
        return getattr(_ffi, text.split()[1])
    return SCALARS[text]


def header_functions() -> dict[str, tuple[object, list[object]]]:
    functions = {}
    pattern = r"^(otp_status|const char \*)\s*(otp_\w+)\(([^)]*)\);"
    for returns, name, params in re.findall(pattern, HEADER, re.M):
        restype = c_uint32 if returns == "otp_status" else c_char_p
        args = [] if params.strip() == "void" else [
            ctype_of(re.sub(r"\w+$", "", p.strip())) for p in params.split(",")
        ]
        functions[name] = (restype, args)
    return functions


def test_every_header_function_is_bound_with_its_exact_signature():
    declared = header_functions()
    assert len(declared) > 50
    assert set(_ffi.SIGNATURES) == set(declared)
    for name, (restype, argtypes) in declared.items():
        ours = _ffi.SIGNATURES[name]
        assert ours[0] is restype, name
        assert ours[1] == argtypes, name
        assert getattr(_ffi.lib, name).argtypes == argtypes


def header_structs() -> dict[str, list[tuple[str, object]]]:
    structs = {}
    for name, body in re.findall(r"^typedef struct (otp_\w+) \{\n(.*?)^\} \1;", HEADER, re.M | re.S):
        fields = []
        body = re.sub(r"/\*\*.*?\*/", "", body, flags=re.S)
        for declaration in filter(None, (line.strip() for line in body.splitlines())):
            match = re.fullmatch(r"(.+?)\s*(\w+)((?:\[\w+\])*);", declaration)
            assert match, declaration
            ctype = ctype_of(match.group(1))
            for dimension in reversed(re.findall(r"\[(\w+)\]", match.group(3))):
                length = int(dimension) if dimension.isdigit() else _generated.DEFINES[dimension]
                ctype = ctype * length
            fields.append((match.group(2), ctype))
        structs[name] = fields
    return structs


def same_ctype(a: object, b: object) -> bool:
    """Array types are made anew by each `T * n`: compare them by element and length."""
    if isinstance(a, type) and issubclass(a, ctypes.Array):
        return (
            isinstance(b, type)
            and issubclass(b, ctypes.Array)
            and a._length_ == b._length_
            and same_ctype(a._type_, b._type_)
        )
    return a is b


def test_every_struct_has_the_header_fields_in_order():
    declared = header_structs()
    assert {cls.__name__ for cls in _ffi.STRUCT_SIZES} == set(declared)
    for cls in _ffi.STRUCT_SIZES:
        ours = cls._fields_
        theirs = declared[cls.__name__]
        assert [n for n, _ in ours] == [n for n, _ in theirs], cls.__name__
        for (name, a), (_, b) in zip(ours, theirs):
            assert same_ctype(a, b), f"{cls.__name__}.{name}"


def test_every_size_constant_is_a_checked_struct_or_a_buffer():
    sizes = {name for name in _generated.DEFINES if name.endswith("_SIZE")}
    buffers = {"OTP_CODE_BUFFER_SIZE", "OTP_OOB_CODE_BUFFER_SIZE", "OTP_RECOVERY_CODES_TEXT_SIZE"}
    assert sizes == set(_ffi.STRUCT_SIZES.values()) | buffers
    for cls, constant in _ffi.STRUCT_SIZES.items():
        assert ctypes.sizeof(cls) == _generated.DEFINES[constant]


def test_import_check_refuses_a_struct_size_that_differs_from_the_header(monkeypatch):
    monkeypatch.setitem(_ffi.DEFINES, "OTP_USER_STATE_SIZE", 431)
    with pytest.raises(ImportError, match="otp_user_state is 432 bytes here but OTP_USER_STATE_SIZE is 431"):
        _ffi._check()


def test_import_check_refuses_an_enumeration_that_differs_from_the_header(monkeypatch):
    status = dict(_generated.ENUMS["otp_status"], OTP_SOMETHING_NEW=69)
    monkeypatch.setitem(_generated.ENUMS, "otp_status", status)
    with pytest.raises(ImportError, match="OTP_SOMETHING_NEW"):
        _ffi._check()


def test_import_check_refuses_a_library_of_another_version(monkeypatch):
    monkeypatch.setattr(_generated, "VERSION", "0.0.0-other")
    with pytest.raises(ImportError, match="the bundled library is version"):
        _ffi._check()


def test_version_is_the_crate_version():
    cargo = (REPO / "Cargo.toml").read_text()
    assert f'\nversion = "{otpcore.__version__}"\n' in cargo
    assert _ffi.lib.otp_version().decode() == otpcore.__version__


def test_the_package_is_typed_and_every_public_name_is_documented():
    import importlib.resources

    assert (importlib.resources.files("otpcore") / "py.typed").is_file()
    for name in otpcore.__all__:
        if name != "__version__":
            assert getattr(otpcore, name).__doc__, name


def test_defaults_are_the_libraries_defaults(rfc_secret):
    params = _ffi.otp_totp_params()
    _ffi.lib.otp_totp_params_default(params)
    with otpcore.Totp(rfc_secret) as key:
        assert (key.algorithm, key.digits, key.period, key.t0, key.look_back, key.look_ahead) == (
            params.algorithm, params.digits, params.period, params.t0, params.look_back, params.look_ahead
        )
    hotp_params = _ffi.otp_hotp_params()
    _ffi.lib.otp_hotp_params_default(hotp_params)
    with otpcore.Hotp(rfc_secret) as key:
        assert (key.algorithm, key.digits, key.look_ahead) == (
            hotp_params.algorithm, hotp_params.digits, hotp_params.look_ahead
        )
    throttle = _ffi.otp_throttle()
    _ffi.lib.otp_throttle_default(throttle)
    assert bytes(otpcore.Throttle()._obj) == bytes(throttle)
    policy = _ffi.otp_oob_policy()
    _ffi.lib.otp_oob_policy_default(policy)
    assert bytes(otpcore.OobPolicy()._obj) == bytes(policy)
