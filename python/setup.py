"""Builds the otpcore wheel from the otpcore checkout this folder sits in.

Besides the Python sources, the wheel holds what is made here:

- the C library, built by cargo from ../Cargo.toml with the README's command
  (`cargo rustc --release --lib --features ffi --crate-type cdylib`), so users of the
  wheel need no compiler;
- `_otpcore`, the binding: a CPython extension that cffi (API mode) generates from the
  committed header ../include/otpcore.h as the C compiler preprocesses it, compiled against
  that header and linked to the library beside it (found through an rpath of the
  extension's own folder). Its declarations, struct layouts, constants and enumerations are
  the header's: nothing of the C API is written out by hand in Python;
- `_hot`, csrc/hot.c compiled against the same header and library: TOTP and HOTP generate
  and verify without cffi's per-call cost (the file says why);
- `_generated.py`: the crate's version, which the binding checks the library against when
  it is imported;
- the crate's license files.

Building needs cargo, a C compiler and the Python headers (cffi comes from PyPI as a build
dependency). cargo honours CARGO_TARGET_DIR (a relative one is taken from the checkout, as
when cargo runs there); the Python build's own scratch folders go under that target folder
too, so the checkout stays clean. A build from a source distribution has no crate to build
and stops with an error saying so.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cffi
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

CRATE = Path(__file__).resolve().parent.parent
MANIFEST = CRATE / "Cargo.toml"
HEADER = CRATE / "include" / "otpcore.h"
LICENSES = ("LICENSE-MIT", "LICENSE-APACHE")
CFFI_EXTENSION = "otpcore._otpcore"

# cffi's generated wrappers release the GIL around every C call. otpcore's objects need
# exclusive access to be wiped (the header: "init and wipe need exclusive access"), so a
# key closed by one thread while another thread's call reads it would be a data race.
# Keeping the GIL, as the package always has, rules that out: no Python code runs while a
# call is in the library, and no call takes more than a few microseconds. These two macros
# are what cffi's wrappers release and take the GIL with; the preamble comes after
# Python.h and before the wrappers, so it changes them and nothing else. The test suite
# checks the built extension never imports the functions that release the GIL.
PREAMBLE = """\
#include "otpcore.h"

#undef Py_BEGIN_ALLOW_THREADS
#define Py_BEGIN_ALLOW_THREADS {
#undef Py_END_ALLOW_THREADS
#define Py_END_ALLOW_THREADS }
"""


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


def header_declarations(preprocessed: str) -> str:
    """The header's own part of the C preprocessor's output (`-dD`: with its #define lines),
    for cffi's cdef: the lines the line markers attribute to otpcore.h, less the include
    guard. The system headers it includes declare only the standard integer types and
    bool, which cffi knows already (and whose glibc declarations it could not parse)."""
    kept = []
    in_header = False
    for line in preprocessed.splitlines():
        marker = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if marker:
            in_header = Path(marker.group(1)).name == HEADER.name
        elif in_header and line.strip() and not re.fullmatch(r"#define OTPCORE_H\s*", line):
            kept.append(line)
    declarations = "\n".join(kept)
    if "otp_totp_verify" not in declarations or "#define OTP_TOTP_SIZE" not in declarations:
        raise SetupError(f"could not find the declarations of {HEADER} in the preprocessor's output")
    return declarations + "\n"


class BuildPy(build_py):
    """Adds the crate's version and the licenses to the package."""

    def run(self) -> None:
        if self.editable_mode:
            raise SetupError(
                "editable installs are not supported: the wheel carries a C library built "
                "from the crate; reinstall with pip install ./python after a change"
            )
        require_checkout()
        super().run()
        package = Path(self.build_lib) / "otpcore"
        (package / "_generated.py").write_text(
            f'"""Made by setup.py from Cargo.toml when the wheel was built."""\n\n'
            f"VERSION = {crate_version()!r}\n",
            encoding="utf-8",
        )
        for name in LICENSES:
            shutil.copyfile(CRATE / name, package / name)


class BuildExt(build_ext):
    """Builds the C library with cargo into the package, generates `_otpcore`'s C source
    with cffi from the preprocessed header, and compiles both extensions against the
    header and the library."""

    def build_extensions(self) -> None:
        if self.inplace:
            raise SetupError("editable installs are not supported: pip install ./python")
        require_checkout()
        package = Path(self.get_ext_fullpath(CFFI_EXTENSION)).parent
        package.mkdir(parents=True, exist_ok=True)
        library = build_library()
        shutil.copyfile(library, package / library.name)

        scratch = Path(self.build_temp)
        scratch.mkdir(parents=True, exist_ok=True)
        preprocessed = scratch / "otpcore.i"
        preprocessed.unlink(missing_ok=True)
        self.compiler.preprocess(str(HEADER), str(preprocessed), extra_postargs=["-dD"])
        ffi = cffi.FFI()
        ffi.cdef(header_declarations(preprocessed.read_text(encoding="utf-8")))
        ffi.set_source(CFFI_EXTENSION, PREAMBLE)
        source = scratch / "_otpcore.c"
        ffi.emit_c_code(str(source))

        # The library sits beside the extensions in the package: they link to that copy and
        # find it there at run time ($ORIGIN; @loader_path on macOS). The crate's other
        # outputs in cargo's folder (an rlib) are never on the link line.
        origin = "@loader_path" if sys.platform == "darwin" else "$ORIGIN"
        for extension in self.extensions:
            if extension.name == CFFI_EXTENSION:
                extension.sources = [str(source)]
            extension.library_dirs = [str(package)]
            extension.extra_link_args = [f"-Wl,-rpath,{origin}"]
        super().build_extensions()


require_checkout()
scratch = cargo_target_dir() / "python-build"
# A fresh build folder every time: what an earlier build of another commit left in it
# (a module since removed) would otherwise go into this wheel.
shutil.rmtree(scratch / "build", ignore_errors=True)
scratch.mkdir(parents=True, exist_ok=True)
setup(
    version=crate_version(),
    ext_modules=[
        # Its C source is generated when it is built (BuildExt); setup() itself refuses
        # a source path outside this folder, where cargo's target folder may be.
        Extension(CFFI_EXTENSION, sources=[], include_dirs=[str(HEADER.parent)], libraries=["otpcore"]),
        Extension("otpcore._hot", ["csrc/hot.c"], include_dirs=[str(HEADER.parent)], libraries=["otpcore"]),
    ],
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
    options={
        "build": {"build_base": str(scratch / "build")},
        "egg_info": {"egg_base": str(scratch)},
    },
)
