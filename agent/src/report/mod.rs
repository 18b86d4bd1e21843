//! Reporting to the control plane: the [`ReportTransport`] trait the daemon sends through, the
//! delta between inventories ([`delta`]) and the retry schedule ([`Backoff`]).
//!
//! The trait is the seam between the daemon core and the network: the gRPC implementation lives in
//! `crate::grpc`, tests use an in-memory fake. Nothing here decides *what* to send (that is the
//! outbox) or *when* (that is the daemon).

pub mod delta;

use std::future::Future;
use std::time::Duration;

use muster_proto::v1::{HeartbeatResponse, ReportRequest, ReportResponse};

/// A report or renewal did not get an answer from the control plane.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The control plane answered with a gRPC error that may pass later (rate limits, a
    /// revocation being looked into, an internal error): retried with backoff.
    #[error("control plane refused the call: {code}: {message}")]
    Status { code: String, message: String },
    /// The control plane refused the request for what it is (over a limit, malformed): sending
    /// the same request again cannot succeed.
    #[error("control plane rejected the request for good: {code}: {message}")]
    Rejected { code: String, message: String },
    /// No connection could be made or it broke.
    #[error("control plane unreachable: {0}")]
    Unreachable(String),
    /// Storing a renewed certificate failed.
    #[error("cannot store the renewed certificate: {0}")]
    State(#[from] crate::state::StateError),
    /// A renewed certificate could not be requested or used.
    #[error("certificate renewal failed: {0}")]
    Renewal(String),
}

/// New certificate validity after a renewal (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CertificateValidity {
    pub issued_at_unix: i64,
    pub not_after_unix: i64,
}

impl CertificateValidity {
    /// Half of the lifetime: when the agent renews.
    pub fn renew_at_unix(&self) -> i64 {
        self.issued_at_unix + (self.not_after_unix - self.issued_at_unix) / 2
    }
}

/// Sends reports to the control plane (and renews the certificate that authenticates them).
pub trait ReportTransport: Send {
    /// Sends one report and returns the control plane's answer.
    fn report(&mut self, req: ReportRequest) -> impl Future<Output = Result<ReportResponse, TransportError>> + Send;

    /// Tells the control plane the agent is alive and the last sequence it queued.
    fn heartbeat(
        &mut self,
        last_sequence: u64,
    ) -> impl Future<Output = Result<HeartbeatResponse, TransportError>> + Send;

    /// Obtains and stores a fresh client certificate; later reports use it.
    fn renew(&mut self) -> impl Future<Output = Result<CertificateValidity, TransportError>> + Send;
}

/// Exponential backoff with jitter: the n-th consecutive failure waits a random time in
/// `[d/2, d]` where `d = min(base * 2^(n-1), max)`, so agents that lost the control plane
/// together do not return together.
#[derive(Clone, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max, failures: 0 }
    }

    /// Records a failure and returns how long to wait; `jitter` is uniform in `[0, 1)`.
    pub fn fail(&mut self, jitter: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(30);
        let full = self.base.saturating_mul(1u32 << exp).min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        full / 2 + full.mul_f64(jitter / 2.0)
    }

    /// Records a success: the next failure starts from `base` again.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// What a stream session tells [`keep_stream_open`]: that it received a message, so the next
/// failure waits from the shortest time again instead of continuing the backoff.
#[derive(Clone, Debug, Default)]
pub struct StreamProgress {
    received: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StreamProgress {
    /// Records that the stream delivered a message.
    pub fn received(&self) {
        self.received.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Keeps one server stream open until `shutdown` resolves: runs `session` again each time it
/// ends (it returns why), waiting with capped, jittered backoff between attempts. A session that
/// delivered a message (see [`StreamProgress`]) resets the backoff. `stream` names the stream in
/// the log; `quiet` logs its ends at debug level instead of info (for streams whose absence is
/// normal, such as before enrollment).
pub async fn keep_stream_open<S, F>(
    stream: &'static str,
    (min, max): (Duration, Duration),
    quiet: bool,
    shutdown: impl Future<Output = ()>,
    mut session: S,
) where
    S: FnMut(StreamProgress) -> F,
    F: Future<Output = Result<(), String>>,
{
    tokio::pin!(shutdown);
    let mut backoff = Backoff::new(min, max);
    loop {
        let progress = StreamProgress::default();
        let outcome = tokio::select! {
            () = &mut shutdown => return,
            outcome = session(progress.clone()) => outcome,
        };
        if progress.received.load(std::sync::atomic::Ordering::Relaxed) {
            backoff.succeed();
        }
        let wait = backoff.fail(os_jitter());
        let retry_in_ms = wait.as_millis() as u64;
        if let Err(error) = outcome {
            if quiet {
                tracing::debug!(stream, error = %error, retry_in_ms, "stream ended");
            } else {
                tracing::info!(stream, error = %error, retry_in_ms, "stream ended");
            }
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// A uniform random number in `[0, 1)` from the OS, for [`Backoff::fail`]; `0.5` if the OS has none.
pub fn os_jitter() -> f64 {
    match getrandom::u64() {
        Ok(v) => (v >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_delivered_a_message_retries_after_the_shortest_wait_again() {
        let starts = std::sync::Mutex::new(Vec::new());
        let session = |progress: StreamProgress| {
            let attempt = starts
                .lock()
                .map(|mut starts| {
                    starts.push(tokio::time::Instant::now());
                    starts.len()
                })
                .unwrap_or(0);
            async move {
                if attempt == 4 {
                    progress.received();
                }
                Err::<(), _>("closed".to_string())
            }
        };
        let shutdown = tokio::time::sleep(Duration::from_secs(30));
        keep_stream_open("test", (Duration::from_secs(2), Duration::from_secs(60)), true, shutdown, session).await;
        let starts = starts.into_inner().unwrap_or_default();
        assert!(starts.len() >= 6, "{} attempts", starts.len());
        let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        // Failures back off: [1,2] s, then [2,4] s, then [4,8] s ...
        assert!(gaps[2] >= Duration::from_secs(4), "{gaps:?}");
        // ... until a session that delivered: the next wait starts from the shortest again.
        assert!(gaps[3] <= Duration::from_secs(2), "{gaps:?}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        assert_eq!(b.fail(1.0), Duration::from_secs(1));
        assert_eq!(b.fail(1.0), Duration::from_secs(2));
        assert_eq!(b.fail(0.0), Duration::from_secs(2)); // 4 s halved by the jitter floor
        assert_eq!(b.fail(1.0), Duration::from_secs(8));
        assert_eq!(b.fail(1.0), Duration::from_secs(8));
        assert_eq!(b.failures(), 5);
        b.succeed();
        assert_eq!(b.fail(1.0), Duration::from_secs(1));
    }

    #[test]
    fn os_jitter_is_in_range() {
        for _ in 0..100 {
            let j = os_jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
