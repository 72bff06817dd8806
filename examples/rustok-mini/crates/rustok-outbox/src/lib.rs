//! RusToK outbox: domain events are appended here and drained by a relay.
//!
//! This is an in-memory, bounded outbox. It is `required` in `modules.toml`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use rustok_core::{ModuleHealth, RusToKModule};

pub mod json;
pub mod relay;

pub use relay::{Backoff, Relay, Sink};

/// Default number of events the outbox holds before it reports `degraded`.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A domain event waiting to be relayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Sequence number, starting at 1.
    pub seq: u64,
    /// Topic, e.g. `"blog.post.published"`.
    pub topic: String,
    /// Opaque payload.
    pub payload: String,
}

/// Returned by [`Outbox::publish`] when the outbox is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxFull;

impl fmt::Display for OutboxFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outbox is full")
    }
}

impl std::error::Error for OutboxFull {}

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    queue: VecDeque<Event>,
}

/// A bounded, thread-safe outbox.
#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    state: Mutex<State>,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` events.
    pub fn with_capacity(capacity: usize) -> Self {
        Outbox {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// Appends an event and returns its sequence number.
    pub fn publish(&self, topic: &str, payload: &str) -> Result<u64, OutboxFull> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.queue.len() >= self.capacity {
            return Err(OutboxFull);
        }
        state.next_seq += 1;
        let seq = state.next_seq;
        state.queue.push_back(Event {
            seq,
            topic: topic.to_owned(),
            payload: payload.to_owned(),
        });
        Ok(seq)
    }

    /// Removes and returns up to `max` events, oldest first.
    pub fn drain(&self, max: usize) -> Vec<Event> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let n = max.min(state.queue.len());
        state.queue.drain(..n).collect()
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .len()
    }

    /// Whether no events are pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of pending events.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox::with_capacity(DEFAULT_CAPACITY)
    }
}

/// The outbox module.
#[derive(Debug, Default)]
pub struct OutboxModule {
    outbox: Outbox,
}

impl OutboxModule {
    /// A module with an empty outbox of [`DEFAULT_CAPACITY`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The module's outbox.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl RusToKModule for OutboxModule {
    fn slug(&self) -> &'static str {
        "outbox"
    }

    fn name(&self) -> &'static str {
        "Outbox"
    }

    fn health(&self) -> ModuleHealth {
        if self.outbox.state.is_poisoned() {
            ModuleHealth::Unhealthy
        } else if self.outbox.len() >= self.outbox.capacity() {
            ModuleHealth::Degraded
        } else {
            ModuleHealth::Healthy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_drain_and_backpressure() {
        let outbox = Outbox::with_capacity(2);
        assert_eq!(outbox.publish("a", "1"), Ok(1));
        assert_eq!(outbox.publish("b", "2"), Ok(2));
        assert_eq!(outbox.publish("c", "3"), Err(OutboxFull));
        let drained = outbox.drain(10);
        assert_eq!(drained.len(), 2);
        assert_eq!(drained[0].topic, "a");
        assert!(outbox.is_empty());
        assert_eq!(outbox.publish("d", "4"), Ok(3));
    }

    #[test]
    fn module_reports_degraded_when_full() {
        let module = OutboxModule {
            outbox: Outbox::with_capacity(1),
        };
        assert_eq!(module.health(), ModuleHealth::Healthy);
        module.outbox().publish("x", "").unwrap();
        assert_eq!(module.health(), ModuleHealth::Degraded);
        assert_eq!(module.slug(), "outbox");
    }
}
