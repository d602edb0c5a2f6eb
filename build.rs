//! Gives the C shared library a SONAME, so programs linked against it record a name that
//! changes exactly when its ABI may change: `libotpcore.so.0.MINOR` while the crate is 0.x
//! (Cargo's rule: a new minor version may break), `libotpcore.so.MAJOR` from 1.0 on. The
//! status numbers never change, but struct sizes and functions may between such versions.
//! Cargo passes the flag only when it links a cdylib, so Rust builds are unaffected.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    // ELF targets whose linkers take -soname; macOS sets an install name instead and
    // Windows has no such thing.
    let elf = matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    );
    if elf {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libotpcore.so.{abi}");
    }
}
