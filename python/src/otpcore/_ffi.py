"""The C API of the bundled library through `_otpcore`, checked at import.

`_otpcore` is a CPython extension that setup.py generates with cffi (API mode) from
include/otpcore.h as the C compiler preprocesses it: its functions, constants and
enumerations are the header's, and the C compiler lays out every struct from the header
itself, so nothing of the C API is written out here. When this module is imported it
checks, and refuses to load (ImportError) on any difference:

- the size of every struct against its `OTP_*_SIZE` constant in the header;
- the Python enumerations against the header's enumerations, both ways;
- the library's `otp_version()` against the crate version the wheel was built from.

The extension keeps the GIL during calls (see setup.py), so no thread can wipe an object
(close) while another thread's call reads it.
"""

from __future__ import annotations

from . import _generated
from ._enums import HEADER_ENUMS

try:
    # Re-exported (`as`): the other modules call the library through these.
    from ._otpcore import ffi as ffi, lib as lib
except ImportError as e:
    raise ImportError(f"otpcore: cannot load the binding or its bundled C library: {e}") from e

#: The members of each of the header's enumerations (`OTP_OK`: 0, ...), by enum name.
ENUMS: dict[str, dict[str, int]] = {
    name: dict(ffi.typeof(f"enum {name}").relements) for name in HEADER_ENUMS
}

#: The header's `#define OTP_*` integer constants (the enumerators are in ENUMS).
DEFINES: dict[str, int] = {
    name: getattr(lib, name)
    for name in dir(lib)
    if name.startswith("OTP_") and not any(name in members for members in ENUMS.values())
}

#: Every struct of the header (a typedef of the same name), and the constant of its size.
STRUCT_SIZES: dict[str, str] = {
    name: f"OTP_{name.removeprefix('otp_').upper()}_SIZE"
    for name in ffi.list_types()[0]
    if ffi.typeof(name).kind == "struct"
}


def _define(name: str) -> int:
    try:
        return DEFINES[name]
    except KeyError:
        raise ImportError(f"otpcore: include/otpcore.h defines no {name}") from None


def _check() -> None:
    """Refuses to import a binding that disagrees with the header or the library."""
    for struct, constant in STRUCT_SIZES.items():
        size, expected = ffi.sizeof(struct), _define(constant)
        if size != expected:
            raise ImportError(
                f"otpcore: struct {struct} is {size} bytes here but {constant} is "
                f"{expected}: the binding's layout differs from include/otpcore.h"
            )
    for c_name, (py_enum, prefix) in HEADER_ENUMS.items():
        ours = {prefix + member.name: member.value for member in py_enum}
        theirs = ENUMS[c_name]
        if ours != theirs:
            raise ImportError(
                f"otpcore: {py_enum.__name__} differs from enum {c_name} of include/otpcore.h: "
                f"{sorted(set(ours.items()) ^ set(theirs.items()))}"
            )
    version = ffi.string(lib.otp_version()).decode("ascii")
    if version != _generated.VERSION:
        raise ImportError(
            f"otpcore: the bundled library is version {version}, the binding {_generated.VERSION}"
        )


_check()

VERSION: str = _generated.VERSION


def status_message(status: int) -> str:
    """The library's English text for `status` (no secret material)."""
    return str(ffi.string(lib.otp_status_message(status)).decode("ascii"))

