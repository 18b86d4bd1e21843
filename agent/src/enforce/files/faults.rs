//! Fault points on the file-safety layer's system calls, so tests can fail (or "kill") a write at
//! every step and check what is left on disk.
//!
//! Production code always runs with [`Faults::none`], where every point is a no-op. Tests number
//! the points a write passes and fail the k-th one: [`FaultMode::FailOnce`] returns an error
//! there and lets cleanup run (a full disk, a refused `chown`); [`FaultMode::Crash`] fails that
//! point and every later one, so no cleanup reaches the disk (a killed process). This does not
//! model power loss: what the page cache loses without `fsync` is not observable in a test.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// What a test asks the fault points to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum FaultMode {
    /// Only the chosen point fails.
    FailOnce,
    /// The chosen point and every later one fail: the process is "dead".
    Crash,
}

/// Something a test runs at a named point (e.g. a developer editing the file mid-write).
type Hook = Box<dyn Fn(&'static str) + Send + Sync>;

/// The fault points of one [`super::FileKeeper`].
#[derive(Default)]
pub(crate) struct Faults {
    plan: Option<(u32, FaultMode)>,
    seen: AtomicU32,
    tripped: AtomicBool,
    hook: Option<Hook>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").field("plan", &self.plan).field("seen", &self.seen).finish_non_exhaustive()
    }
}

impl Faults {
    /// No faults: every point passes.
    pub(crate) fn none() -> Faults {
        Faults::default()
    }

    /// Fails the point numbered `at` (counting from 0) in the given way.
    #[cfg(test)]
    pub(crate) fn at(at: u32, mode: FaultMode) -> Faults {
        Faults { plan: Some((at, mode)), ..Faults::default() }
    }

    /// Runs `hook` at every point, before the fault check.
    #[cfg(test)]
    pub(crate) fn with_hook(mut self, hook: impl Fn(&'static str) + Send + Sync + 'static) -> Faults {
        self.hook = Some(Box::new(hook));
        self
    }

    /// How many points were passed (or failed) so far.
    #[cfg(test)]
    pub(crate) fn seen(&self) -> u32 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Whether the chosen point was reached.
    #[cfg(test)]
    pub(crate) fn tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// One step of a write is about to happen: fails it when the plan says so.
    pub(crate) fn point(&self, step: &'static str) -> io::Result<()> {
        if let Some(hook) = &self.hook {
            hook(step);
        }
        let Some((at, mode)) = self.plan else { return Ok(()) };
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        if n == at {
            self.tripped.store(true, Ordering::SeqCst);
            return Err(io::Error::other(format!("injected fault at {step}")));
        }
        if mode == FaultMode::Crash && self.tripped.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("process is dead before {step}")));
        }
        Ok(())
    }

    /// Writes `bytes`; when this point fails, half of them reach the file first (a short write).
    pub(crate) fn write_all(&self, out: &mut impl Write, bytes: &[u8], step: &'static str) -> io::Result<()> {
        if let Err(e) = self.point(step) {
            if !self.tripped_before_this() {
                out.write_all(&bytes[..bytes.len() / 2])?;
            }
            return Err(e);
        }
        out.write_all(bytes)
    }

    /// Whether the failing point was an earlier one (a dead process writes nothing at all).
    fn tripped_before_this(&self) -> bool {
        match self.plan {
            Some((at, _)) => self.seen.load(Ordering::SeqCst) > at + 1,
            None => false,
        }
    }
}
