//! The server key file: 64 hexadecimal digits, mode 0600, beside an SQLite database or
//! named with `--key-file`.
//!
//! Reading it is guarded, since whoever can put a file in its place chooses the key: the
//! file is opened without following a symbolic link (`O_NOFOLLOW`) and without blocking
//! (`O_NONBLOCK`, so a FIFO does not hang the gate), then checked on the open descriptor
//! (`fstat`, so it cannot be swapped between the check and the read): a regular file (not
//! `/dev/zero`, a FIFO or a directory), owned by the user running the gate, with no
//! permission bit for its group or others; and only [`MAX_KEY_FILE_LEN`] bytes are read.
//! Each failed check is its own [`GateError`]. (Directories on the way are followed: the
//! key's directory is trusted, as the database's is.)

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::{GateError, ServerKey};

/// The most a key file may hold: the 64 digits with room for surrounding white space. A
/// longer file is not a key file ([`GateError::BadServerKey`]) and is not read further.
pub const MAX_KEY_FILE_LEN: u64 = 256;

fn shown(path: &Path) -> String {
    format!("{}", path.display())
}

/// Opens `path` for reading without following a final symbolic link and without blocking.
#[cfg(unix)]
fn open_guarded(path: &Path) -> Result<Option<File>, GateError> {
    use rustix::fs::{Mode, OFlags};
    use rustix::io::Errno;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(Errno::NOENT) => Ok(None),
        Err(Errno::LOOP) => Err(GateError::KeyFileSymlink { path: shown(path) }),
        Err(e) => Err(GateError::KeyFileUnreadable {
            path: shown(path),
            reason: format!("{}", std::io::Error::from(e)),
        }),
    }
}

#[cfg(not(unix))]
fn open_guarded(path: &Path) -> Result<Option<File>, GateError> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(GateError::KeyFileSymlink { path: shown(path) });
    }
    match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(GateError::KeyFileUnreadable {
            path: shown(path),
            reason: format!("{e}"),
        }),
    }
}

/// The checks on the open file: regular, the running user's, no group or other bits.
fn check_file(file: &File, path: &Path) -> Result<(), GateError> {
    let meta = file.metadata().map_err(|e| GateError::KeyFileUnreadable {
        path: shown(path),
        reason: format!("{e}"),
    })?;
    if !meta.is_file() {
        return Err(GateError::KeyFileNotRegular { path: shown(path) });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != rustix::process::geteuid().as_raw() {
            return Err(GateError::KeyFileOwner { path: shown(path) });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(GateError::KeyFilePermissions {
                path: shown(path),
                mode,
            });
        }
    }
    Ok(())
}

/// Reads the server key at `path`, after the checks of the [module](self); `None` when
/// there is no file.
pub fn read_key(path: &Path) -> Result<Option<ServerKey>, GateError> {
    let Some(file) = open_guarded(path)? else {
        return Ok(None);
    };
    check_file(&file, path)?;
    let bad = || GateError::BadServerKey { path: shown(path) };
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_KEY_FILE_LEN.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| GateError::KeyFileUnreadable {
            path: shown(path),
            reason: format!("{e}"),
        })?;
    if u64::try_from(bytes.len()).map_or(true, |n| n > MAX_KEY_FILE_LEN) {
        return Err(bad());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
    ServerKey::from_hex(text).map(Some).ok_or_else(bad)
}

/// Creates the key file, mode 0600, never over an existing one: the key is written to a
/// file of its own (O_EXCL), synced, then linked to `path`, which fails if `path` exists;
/// of two processes creating it at once, the second reads the first one's key.
pub fn create_key(path: &Path) -> Result<ServerKey, GateError> {
    let io = |what: &str, e: std::io::Error| GateError::KeyFileUnreadable {
        path: shown(path),
        reason: format!("cannot {what} it: {e}"),
    };
    let key = ServerKey::generate()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(key.to_hex().as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| io("sync the directory of", e))?;
            }
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            read_key(path)?.ok_or_else(|| io("read", e))
        }
        Err(e) => Err(io("create", e)),
    }
}
