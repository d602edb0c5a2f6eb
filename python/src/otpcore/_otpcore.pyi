"""The compiled binding setup.py generates with cffi from include/otpcore.h: `ffi` (its C
types, allocation and buffers) and `lib` (the header's functions, constants and
enumerators). cffi builds both at run time from the header's declarations, so they are
typed here as what they are to Python: dynamic."""

from typing import Any

ffi: Any
lib: Any
