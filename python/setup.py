"""Builds the otpcore wheel from the otpcore checkout this folder sits in.

Besides the Python sources, the wheel holds three things made here:

- the C library, built by cargo from ../Cargo.toml with the README's command
  (`cargo rustc --release --lib --features ffi --crate-type cdylib`), so users of the
  wheel need no compiler;
- `_generated.py`: the constants and enumerations of the committed header
  ../include/otpcore.h and the crate's version, which the binding checks its struct
  layouts, enumerations and the library against when it is imported;
- the crate's license files.

cargo honours CARGO_TARGET_DIR (a relative one is taken from the checkout, as when cargo
runs there); the Python build's own scratch folders go under that target folder too, so
the checkout stays clean. A build from a source distribution has no crate to build and
stops with an error saying so.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

CRATE = Path(__file__).resolve().parent.parent
MANIFEST = CRATE / "Cargo.toml"
HEADER = CRATE / "include" / "otpcore.h"
LICENSES = ("LICENSE-MIT", "LICENSE-APACHE")


def require_checkout() -> None:
    for path in (MANIFEST, HEADER):
        if not path.is_file():
            raise SetupError(
                f"{path} is missing: the otpcore Python package builds only from an otpcore "
                "checkout (pip install ./python there); source distributions are not supported"
            )


def cargo_target_dir() -> Path:
    configured = os.environ.get("CARGO_TARGET_DIR")
    return CRATE / configured if configured else CRATE / "target"


def crate_version() -> str:
    """The `version` of the `[package]` table of Cargo.toml (no TOML parser before 3.11)."""
    section = None
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif section == "[package]":
            match = re.fullmatch(r'version\s*=\s*"([^"]+)"', stripped)
            if match:
                return match.group(1)
    raise SetupError(f"no version in the [package] table of {MANIFEST}")


def header_constants(text: str) -> "tuple[dict[str, int], dict[str, dict[str, int]]]":
    """The integer `#define OTP_*` constants and the `enum otp_*` members of the header.

    Anything of those two kinds that is not a plain integer stops the build, so that the
    binding never checks itself against a partial reading of the header.
    """
    defines = {}
    for match in re.finditer(r"^#define (OTP_\w+)(.*)$", text, re.M):
        value = match.group(2).strip()
        if not value.isdigit():
            raise SetupError(f"{HEADER}: {match.group(1)} is not an integer: {value!r}")
        defines[match.group(1)] = int(value)
    enums = {}
    for match in re.finditer(r"^enum (otp_\w+)\b(.*?)^\};", text, re.M | re.S):
        members = dict(
            (name, int(value))
            for name, value in re.findall(r"^\s*(OTP_\w+) = (\d+),\s*$", match.group(2), re.M)
        )
        if not members:
            raise SetupError(f"{HEADER}: enum {match.group(1)} has no member of the form NAME = N")
        enums[match.group(1)] = members
    if not defines or len(enums) != len(re.findall(r"^enum otp_", text, re.M)):
        raise SetupError(f"{HEADER}: the constants or enumerations could not all be read")
    return defines, enums


def build_library() -> Path:
    """Builds the C library with cargo and returns its path (as cargo reports it)."""
    cargo = os.environ.get("CARGO", "cargo")
    command = [
        cargo, "rustc", "--release", "--locked", "--lib", "--features", "ffi",
        "--crate-type", "cdylib", "--manifest-path", str(MANIFEST),
        "--message-format=json-render-diagnostics",
    ]  # fmt: skip
    try:
        # Progress and compiler messages go to stderr, where pip shows them (-v) or
        # repeats them on failure; stdout carries cargo's JSON messages.
        result = subprocess.run(command, cwd=CRATE, stdout=subprocess.PIPE, text=True)
    except FileNotFoundError as e:
        raise SetupError(f"{cargo} not found: building otpcore needs Rust's cargo") from e
    if result.returncode != 0:
        raise SetupError(f"{' '.join(command)} failed with exit status {result.returncode}")
    libraries = [
        Path(filename)
        for message in map(json.loads, filter(None, result.stdout.splitlines()))
        if message.get("reason") == "compiler-artifact" and "cdylib" in message["target"]["kind"]
        for filename in message["filenames"]
    ]
    if len(libraries) != 1:
        raise SetupError(f"expected one shared library from cargo, got {libraries}")
    return libraries[0]


def generated_module(library: str) -> str:
    defines, enums = header_constants(HEADER.read_text(encoding="utf-8"))
    return (
        f'"""Made by setup.py from {HEADER.name} and Cargo.toml when the wheel was built."""\n\n'
        f"VERSION = {crate_version()!r}\n"
        f"LIBRARY = {library!r}\n"
        f"DEFINES = {defines!r}\n"
        f"ENUMS = {enums!r}\n"
    )


class BuildPy(build_py):
    """Adds the C library, the header's constants and the licenses to the package."""

    def run(self) -> None:
        if self.editable_mode:
            raise SetupError(
                "editable installs are not supported: the wheel carries a C library built "
                "from the crate; reinstall with pip install ./python after a change"
            )
        require_checkout()
        super().run()
        package = Path(self.build_lib) / "otpcore"
        library = build_library()
        shutil.copyfile(library, package / library.name)
        (package / "_generated.py").write_text(generated_module(library.name), encoding="utf-8")
        for name in LICENSES:
            shutil.copyfile(CRATE / name, package / name)


class BdistWheel(bdist_wheel):
    """Tags the wheel for this platform (it holds a native library) but for any Python 3:
    the library is loaded with ctypes, so no CPython ABI is involved."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> "tuple[str, str, str]":
        _, _, platform = super().get_tag()
        return "py3", "none", platform


require_checkout()
scratch = cargo_target_dir() / "python-build"
scratch.mkdir(parents=True, exist_ok=True)
setup(
    version=crate_version(),
    cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel},
    options={
        "build": {"build_base": str(scratch / "build")},
        "egg_info": {"egg_base": str(scratch)},
    },
)
