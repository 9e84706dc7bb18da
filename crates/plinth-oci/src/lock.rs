//! Advisory whole-file locks (`flock(2)`) used by the store to coordinate plinth processes.
//!
//! A lock is held as long as its [`FileLock`] lives; the kernel releases it when the file
//! descriptor is closed, so a killed process never leaves a lock behind. `flock` locks belong to
//! the open file description, so two handles opened separately in one process (for example in two
//! threads) exclude each other just like two processes do.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

/// Shared or exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockKind {
    Shared,
    Exclusive,
}

/// A held lock on a file (created if missing).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    fn open(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    }

    /// Waits until the lock is granted.
    pub(crate) fn acquire(path: &Path, kind: LockKind) -> io::Result<FileLock> {
        let file = Self::open(path)?;
        let op = match kind {
            LockKind::Shared => FlockOperation::LockShared,
            LockKind::Exclusive => FlockOperation::LockExclusive,
        };
        loop {
            match flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(FileLock { _file: file })
    }

    /// Takes the lock if nobody holds a conflicting one; `Ok(None)` if someone does.
    pub(crate) fn try_acquire(path: &Path, kind: LockKind) -> io::Result<Option<FileLock>> {
        let file = Self::open(path)?;
        let op = match kind {
            LockKind::Shared => FlockOperation::NonBlockingLockShared,
            LockKind::Exclusive => FlockOperation::NonBlockingLockExclusive,
        };
        match flock(&file, op) {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_shared_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let a = FileLock::acquire(&p, LockKind::Shared).unwrap();
        let b = FileLock::try_acquire(&p, LockKind::Shared).unwrap();
        assert!(b.is_some(), "two shared locks coexist");
        assert!(
            FileLock::try_acquire(&p, LockKind::Exclusive)
                .unwrap()
                .is_none()
        );
        drop(a);
        drop(b);
        let x = FileLock::try_acquire(&p, LockKind::Exclusive).unwrap();
        assert!(x.is_some());
        assert!(
            FileLock::try_acquire(&p, LockKind::Shared)
                .unwrap()
                .is_none()
        );
    }
}
