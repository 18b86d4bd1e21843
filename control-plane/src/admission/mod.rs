//! Fair admission to ingest (see `docs/adr/0004-ingest-fairness.md`).
//!
//! Two rules, kept in memory per process:
//! - **one report per agent**: an agent with a report waiting or in ingest has its next one
//!   refused at once ([`AgentBusy`], answered `ResourceExhausted`). Agents send one report at a
//!   time (ADR 0001), so only a misbehaving client, or a retry racing its own timed-out original,
//!   meets this; nobody can stack a backlog in front of other agents.
//! - **a shared capacity in work units, handed out smallest-tag first**: ingest holds at most
//!   `capacity` units at once (a report needs its work, at most the whole capacity). A report
//!   that cannot enter at once is tagged `virtual time + work`, where the virtual time is the
//!   largest tag admitted so far (self-clocked fair queueing with one report per agent); the
//!   smallest tag goes first. So a big report waits behind the smaller reports that arrive while
//!   it waits, but not forever: every admission moves the virtual time up, and reports arriving
//!   later are tagged from there. The head of the order is never overtaken for lack of capacity
//!   (no backfilling), so a big report gets its capacity as soon as the reports ahead of it end.
//!
//! Nothing here knows what a report contains or reads the clock; it does not touch the store.
//! The per-agent request and work budgets in front of it are [`rate`].

pub mod rate;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;

/// The agent already has a report waiting for or in ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a report of this agent is already being ingested")]
pub struct AgentBusy;

/// Admission to ingest for every agent of this control plane.
#[derive(Debug)]
pub struct IngestQueue {
    capacity: u64,
    inner: Mutex<Inner>,
}

/// Order of waiting reports: tag, then arrival.
type Key = (u64, u64);

#[derive(Debug, Default)]
struct Inner {
    in_use: u64,
    /// The largest tag admitted so far.
    virtual_time: u64,
    /// Agents with a report waiting or admitted.
    busy: HashSet<String>,
    waiting: BTreeMap<Key, Waiter>,
    arrivals: u64,
}

#[derive(Debug)]
struct Waiter {
    need: u64,
    tag: u64,
    wake: oneshot::Sender<()>,
}

impl Inner {
    fn grant(&mut self, need: u64, tag: u64) {
        self.in_use += need;
        self.virtual_time = self.virtual_time.max(tag);
    }

    /// Admits waiting reports in order while the first one fits.
    fn dispatch(&mut self, capacity: u64) {
        while let Some(entry) = self.waiting.first_entry() {
            if self.in_use + entry.get().need > capacity {
                break;
            }
            let waiter = entry.remove();
            self.grant(waiter.need, waiter.tag);
            // A waiter that went away is noticed by its own drop guard, which then finds itself
            // no longer waiting and gives the capacity back.
            let _ = waiter.wake.send(());
        }
    }

    fn release(&mut self, agent: &str, need: u64, capacity: u64) {
        self.in_use = self.in_use.saturating_sub(need);
        self.busy.remove(agent);
        self.dispatch(capacity);
    }
}

impl IngestQueue {
    /// A queue letting at most `capacity` work units into ingest at once.
    pub fn new(capacity: u64) -> Self {
        Self { capacity: capacity.max(1), inner: Mutex::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic elsewhere mid-update; the counters stay usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes the agent's one place in line, or refuses when it is taken.
    pub fn enter(&self, agent_id: &str) -> Result<Ticket<'_>, AgentBusy> {
        if !self.lock().busy.insert(agent_id.to_string()) {
            return Err(AgentBusy);
        }
        Ok(Ticket { queue: self, agent: agent_id.to_string(), held: true })
    }

    /// Reports waiting for capacity (not counting those in ingest).
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Work units held by reports in ingest.
    pub fn in_use(&self) -> u64 {
        self.lock().in_use
    }
}

/// An agent's place in line; dropping it gives the place back.
#[derive(Debug)]
pub struct Ticket<'a> {
    queue: &'a IngestQueue,
    agent: String,
    held: bool,
}

impl<'a> Ticket<'a> {
    /// Waits for a report of `work` units to be admitted, in fair order.
    pub async fn admit(mut self, work: u64) -> Permit<'a> {
        let queue = self.queue;
        let need = work.clamp(1, queue.capacity);
        let agent = std::mem::take(&mut self.agent);
        self.held = false; // the permit or the waiting guard owns the place from here
        let (key, wake) = {
            let mut inner = queue.lock();
            let tag = inner.virtual_time.saturating_add(need);
            inner.arrivals += 1;
            let key = (tag, inner.arrivals);
            let (wake, woken) = oneshot::channel();
            inner.waiting.insert(key, Waiter { need, tag, wake });
            inner.dispatch(queue.capacity);
            if !inner.waiting.contains_key(&key) {
                return Permit { queue, agent, need };
            }
            (key, woken)
        };
        let guard = Waiting { queue, key, agent, need, admitted: false };
        // The sender lives in the map until the waiter is admitted; it is never dropped unsent
        // while this future waits (a lost waiter is removed by the guard, not by the queue).
        let _ = wake.await;
        guard.into_permit()
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.held {
            self.queue.lock().busy.remove(&self.agent);
        }
    }
}

/// A waiting report; if its caller goes away (the client hung up), it leaves the line, or gives
/// back the capacity it was granted meanwhile.
struct Waiting<'a> {
    queue: &'a IngestQueue,
    key: Key,
    agent: String,
    need: u64,
    admitted: bool,
}

impl<'a> Waiting<'a> {
    fn into_permit(mut self) -> Permit<'a> {
        self.admitted = true;
        Permit { queue: self.queue, agent: std::mem::take(&mut self.agent), need: self.need }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.admitted {
            return;
        }
        let capacity = self.queue.capacity;
        let mut inner = self.queue.lock();
        if inner.waiting.remove(&self.key).is_some() {
            inner.busy.remove(&self.agent);
            // The head may have left: the next one may fit now.
            inner.dispatch(capacity);
        } else {
            inner.release(&self.agent, self.need, capacity);
        }
    }
}

/// Capacity held by one report in ingest; dropping it admits the next ones.
#[derive(Debug)]
pub struct Permit<'a> {
    queue: &'a IngestQueue,
    agent: String,
    need: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let capacity = self.queue.capacity;
        self.queue.lock().release(&self.agent, self.need, capacity);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    type Admission<'a> = Pin<Box<dyn Future<Output = Permit<'a>> + 'a>>;

    /// Polls once without a runtime: `Some` when admitted.
    fn poll<'a>(admission: &mut Admission<'a>) -> Option<Permit<'a>> {
        match admission.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(permit) => Some(permit),
            Poll::Pending => None,
        }
    }

    fn admit<'a>(queue: &'a IngestQueue, agent: &str, work: u64) -> Admission<'a> {
        Box::pin(queue.enter(agent).expect("agent not busy").admit(work))
    }

    #[test]
    fn an_agent_has_one_place_in_line() {
        let queue = IngestQueue::new(100);
        let ticket = queue.enter("a").unwrap();
        assert_eq!(queue.enter("a").unwrap_err(), AgentBusy);
        assert!(queue.enter("b").is_ok(), "other agents are not affected");
        drop(ticket);
        let mut first = admit(&queue, "a", 10);
        let permit = poll(&mut first).expect("capacity is free");
        assert_eq!(queue.enter("a").unwrap_err(), AgentBusy, "busy while in ingest");
        drop(permit);
        assert!(queue.enter("a").is_ok());
    }

    #[test]
    fn a_small_report_passes_a_big_one_that_waits_for_capacity() {
        let queue = IngestQueue::new(100);
        let mut filler = admit(&queue, "filler", 100);
        let filler = poll(&mut filler).unwrap();
        let mut big = admit(&queue, "big", 100);
        let mut small = admit(&queue, "small", 5);
        assert!(poll(&mut big).is_none() && poll(&mut small).is_none());
        assert_eq!(queue.waiting(), 2);

        drop(filler);
        let small = poll(&mut small).expect("the small report goes first although it came second");
        assert!(poll(&mut big).is_none(), "the big one needs the whole capacity");
        drop(small);
        assert!(poll(&mut big).is_some());
    }

    #[test]
    fn a_big_report_is_not_starved_by_a_stream_of_small_ones() {
        // Reports of 60 units run one at a time; the big one needs all 100.
        let queue = IngestQueue::new(100);
        let mut running = poll(&mut admit(&queue, "small-0", 60)).unwrap();
        let mut big = admit(&queue, "big", 100);
        assert!(poll(&mut big).is_none());
        for round in 1..1000 {
            // A new small report always waits in line before the running one ends.
            let mut next = admit(&queue, &format!("small-{round}"), 60);
            assert!(poll(&mut next).is_none());
            drop(running);
            if let Some(permit) = poll(&mut big) {
                // Tagged 60 + 100 on arrival: small-1 (tagged 120) went first, small-2 (180) not.
                assert_eq!(round, 2, "admitted once the virtual time reached its tag");
                drop(permit);
                assert!(poll(&mut next).is_some());
                return;
            }
            running = poll(&mut next).expect("the small report is next");
        }
        panic!("the big report starved");
    }

    #[test]
    fn a_caller_that_goes_away_leaves_the_line_or_gives_capacity_back() {
        let queue = IngestQueue::new(100);
        let mut filler = admit(&queue, "filler", 100);
        let filler = poll(&mut filler).unwrap();
        let mut gone = admit(&queue, "gone", 60);
        assert!(poll(&mut gone).is_none());
        drop(gone);
        assert_eq!(queue.waiting(), 0);
        assert!(queue.enter("gone").is_ok(), "its place is free again");

        // Granted while nobody polled, then dropped: the capacity comes back.
        let mut late = admit(&queue, "late", 60);
        assert!(poll(&mut late).is_none());
        drop(filler);
        assert_eq!(queue.in_use(), 60);
        drop(late);
        assert_eq!(queue.in_use(), 0);
        assert!(poll(&mut admit(&queue, "next", 100)).is_some());
    }
}
