//! Writes into a local folder that survive a crash and compare versions.
//!
//! object_store's local store renames a staged file into place without fsync, so a power cut
//! can leave a checkpoint naming objects that never reached the disk, and it has no
//! conditional update. Here every put writes a staged file beside the target, fsyncs it,
//! renames (or, create-only, hard-links) it into place and fsyncs the folder, so the new name
//! and its bytes are both durable once the put returns. A conditional put holds an exclusive
//! `flock` on the folder while it compares the target's version and replaces it, so two
//! writers of one key (two processes, two hosts on one NFS export with working locks) are
//! serialised and the second sees the first's version.
//!
//! Staged files are named `<name>#<digits>`, the names object_store's listing skips.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What a write into the folder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrote {
    /// Written; the file's new version.
    Done(String),
    /// Create-only and the file exists, or conditional and its version was not the expected
    /// one: nothing was written.
    Refused,
}

/// How a write treats an existing file.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'v> {
    /// Replace it.
    Replace,
    /// Only if there is none.
    Create,
    /// Only if there is none (`None`) or its version is this one (under the folder's lock).
    If(Option<&'v str>),
}

/// A file's version: inode, modification time (µs) and size, as object_store's local store
/// computes its ETags, so versions read here and versions from its listings compare equal. A
/// rename-based write always makes a new inode.
pub fn version(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    format!("{:x}-{mtime:x}-{:x}", meta.ino(), meta.len())
}

/// Reads a file and its version from one open handle; `None` when it does not exist.
pub fn read_versioned(path: &Path) -> std::io::Result<Option<(Vec<u8>, String)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(Some((bytes, version(&meta))))
}

/// Writes `body` (or, with `from`, a copy of that local file) to `path` as `mode` says,
/// durably (see the module's documentation).
pub fn write(path: &Path, body: Body<'_>, mode: Mode<'_>) -> std::io::Result<Wrote> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a key names a file inside the folder"))?;
    ensure_dir(dir)?;
    // Held until the end of the function: other conditional writers of this folder wait.
    let _lock = match mode {
        Mode::If(_) => {
            let lock = File::open(dir)?;
            lock.lock()?;
            Some(lock)
        }
        Mode::Replace | Mode::Create => None,
    };
    if let Mode::If(expected) = mode {
        let current = match std::fs::metadata(path) {
            Ok(meta) => Some(version(&meta)),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if current.as_deref() != expected {
            return Ok(Wrote::Refused);
        }
    }
    let staged = match stage(path, body) {
        // The folder was removed with its last object meanwhile: make it again.
        Err(e) if e.kind() == ErrorKind::NotFound => {
            ensure_dir(dir)?;
            stage(path, body)?
        }
        other => other?,
    };
    let placed = match mode {
        Mode::Replace | Mode::If(_) => std::fs::rename(&staged, path),
        Mode::Create => {
            let linked = std::fs::hard_link(&staged, path);
            let _ = std::fs::remove_file(&staged);
            match linked {
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(Wrote::Refused),
                other => other,
            }
        }
    };
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    File::open(dir)?.sync_all()?;
    Ok(Wrote::Done(version(&std::fs::metadata(path)?)))
}

/// What a write puts in the file.
#[derive(Debug, Clone, Copy)]
pub enum Body<'b> {
    /// These bytes.
    Bytes(&'b [u8]),
    /// A copy of this local file.
    File(&'b Path),
}

/// Writes the staged copy beside `path` and fsyncs it.
fn stage(path: &Path, body: Body<'_>) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut name = path.as_os_str().to_owned();
        name.push(format!("#{}{n:06}", std::process::id()));
        let staged = PathBuf::from(name);
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)
        {
            Ok(f) => f,
            // A staged file left by a crashed process of the same id: take the next name.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        let written = match body {
            Body::Bytes(bytes) => file.write_all(bytes),
            Body::File(from) => File::open(from)
                .and_then(|mut src| std::io::copy(&mut src, &mut file))
                .map(|_| ()),
        }
        .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
        return Ok(staged);
    }
}

/// Creates `dir` and any missing parents, fsyncing the parent of each folder it made so the
/// new names survive a crash.
fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.is_dir() {
        missing.push(at.to_path_buf());
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
    std::fs::create_dir_all(dir)?;
    for made in missing.iter().rev() {
        if let Some(parent) = made.parent() {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_writes_compare_versions_and_create_only_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/_current.json");
        assert_eq!(read_versioned(&path).unwrap(), None);
        let Wrote::Done(v1) = write(&path, Body::Bytes(b"one"), Mode::If(None)).unwrap() else {
            panic!("the first conditional write creates the file")
        };
        assert_eq!(
            write(&path, Body::Bytes(b"x"), Mode::If(None)).unwrap(),
            Wrote::Refused,
            "it exists now"
        );
        let (bytes, read) = read_versioned(&path).unwrap().unwrap();
        assert_eq!(
            (bytes.as_slice(), read.as_str()),
            (&b"one"[..], v1.as_str())
        );
        let Wrote::Done(v2) = write(&path, Body::Bytes(b"two"), Mode::If(Some(&v1))).unwrap()
        else {
            panic!("the version matches")
        };
        assert_ne!(v1, v2);
        assert_eq!(
            write(&path, Body::Bytes(b"three"), Mode::If(Some(&v1))).unwrap(),
            Wrote::Refused,
            "a stale version loses"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            write(&path, Body::Bytes(b"x"), Mode::Create).unwrap(),
            Wrote::Refused
        );
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["_current.json"], "no staged file is left behind");
    }

    #[test]
    fn concurrent_conditional_writers_never_both_win_a_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let Wrote::Done(v0) = write(&path, Body::Bytes(b"0"), Mode::Replace).unwrap() else {
            panic!()
        };
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (path, v0) = (&path, &v0);
                    s.spawn(move || {
                        let body = format!("writer {i}");
                        write(path, Body::Bytes(body.as_bytes()), Mode::If(Some(v0))).unwrap()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|w| matches!(w, Wrote::Done(_)))
                .count()
        });
        assert_eq!(wins, 1, "exactly one writer replaces version v0");
    }
}
