//! The server key file: 64 hexadecimal digits, mode 0600, beside an SQLite database or
//! named with `--key-file`.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::{GateError, ServerKey};

/// Reads the server key at `path`; `None` when there is no file.
pub fn read_key(path: &Path) -> Result<Option<ServerKey>, GateError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            ServerKey::from_hex(&text)
                .map(Some)
                .ok_or(GateError::BadServerKey {
                    path: format!("{}", path.display()),
                })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(GateError::Store(format!(
            "cannot read the server key file {}: {e}",
            path.display()
        ))),
    }
}

/// Creates the key file, mode 0600, never over an existing one: the key is written to a
/// file of its own (O_EXCL), synced, then linked to `path`, which fails if `path` exists;
/// of two processes creating it at once, the second reads the first one's key.
pub fn create_key(path: &Path) -> Result<ServerKey, GateError> {
    let io = |what: &str, e: std::io::Error| {
        GateError::Store(format!(
            "cannot {what} the server key file {}: {e}",
            path.display()
        ))
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
                std::fs::File::open(dir)
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
