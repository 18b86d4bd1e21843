//! The agent daemon's component tests: the durable outbox on real files, the event loop fed
//! synthetic events through a fake transport, CA pinning and enrollment over real TLS on
//! 127.0.0.1:0, and the `notify` watcher.

// Fakes and fixtures that cannot proceed should panic with a message: unwrap() is the point here.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod event_loop;
mod outbox;
mod support;
mod tls;
mod watcher;
