//! The relay: delivers outbox events to a sink, at least once, in order per topic.
//!
//! A failed delivery is retried with exponential backoff and full jitter (seeded, so it is
//! reproducible), up to a retry budget; then the event goes to the dead-letter list. Every event
//! travels as a JSON envelope `{"seq", "topic", "payload", "attempt"}` whose payload is parsed when
//! it is JSON and carried as a string otherwise.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::json::Value;
use crate::{Event, Outbox};

/// Where events go (a message broker, a webhook, ...).
pub trait Sink {
    /// Delivers one envelope; `Err` means "try again later".
    fn deliver(&mut self, topic: &str, envelope: &str) -> Result<(), String>;
}

/// Retry settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_secs(60),
            max_attempts: 8,
        }
    }
}

impl Backoff {
    /// The ceiling of the delay before attempt `attempt` (1-based): base * 2^(attempt-1), capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// A delay in `[0, ceiling]` drawn from `rng` (full jitter).
    pub fn delay(&self, attempt: u32, rng: &mut SplitMix64) -> Duration {
        let ceiling = self.ceiling(attempt).as_micros() as u64;
        Duration::from_micros(if ceiling == 0 {
            0
        } else {
            rng.next_u64() % (ceiling + 1)
        })
    }
}

/// A small, fast, seedable PRNG (SplitMix64) for jitter.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The JSON envelope of an event.
pub fn envelope(event: &Event, attempt: u32) -> String {
    let payload =
        Value::parse(&event.payload).unwrap_or_else(|_| Value::String(event.payload.clone()));
    let mut map = BTreeMap::new();
    map.insert("seq".to_owned(), Value::from(event.seq));
    map.insert("topic".to_owned(), Value::from(event.topic.as_str()));
    map.insert("payload".to_owned(), payload);
    map.insert("attempt".to_owned(), Value::from(u64::from(attempt)));
    Value::Object(map).to_json()
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pending {
    event: Event,
    attempt: u32,
    due: Duration,
}

/// What one relay pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Moves events from an outbox to a sink.
#[derive(Debug)]
pub struct Relay {
    backoff: Backoff,
    rng: SplitMix64,
    pending: Vec<Pending>,
    dead: Vec<(Event, String)>,
    clock: Duration,
}

impl Relay {
    pub fn new(backoff: Backoff, seed: u64) -> Self {
        Relay {
            backoff,
            rng: SplitMix64::new(seed),
            pending: Vec::new(),
            dead: Vec::new(),
            clock: Duration::ZERO,
        }
    }

    /// Events that ran out of attempts, with the last error.
    pub fn dead_letters(&self) -> &[(Event, String)] {
        &self.dead
    }

    /// Events waiting for a retry.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// One pass at time `now`: takes up to `batch` new events from the outbox and delivers every
    /// event that is due, oldest first. An event whose topic has an earlier event still waiting is
    /// held back, so each topic stays in order.
    pub fn pass(
        &mut self,
        outbox: &Outbox,
        sink: &mut dyn Sink,
        now: Duration,
        batch: usize,
    ) -> Pass {
        self.clock = now;
        for event in outbox.drain(batch) {
            self.pending.push(Pending {
                event,
                attempt: 0,
                due: now,
            });
        }
        self.pending.sort_by_key(|p| p.event.seq);
        let mut report = Pass::default();
        let mut blocked: HashSet<String> = HashSet::new();
        let mut keep = Vec::with_capacity(self.pending.len());
        for mut item in std::mem::take(&mut self.pending) {
            if blocked.contains(&item.event.topic) || item.due > now {
                blocked.insert(item.event.topic.clone());
                keep.push(item);
                continue;
            }
            item.attempt += 1;
            match sink.deliver(&item.event.topic, &envelope(&item.event, item.attempt)) {
                Ok(()) => report.delivered += 1,
                Err(error) if item.attempt >= self.backoff.max_attempts => {
                    report.dead += 1;
                    self.dead.push((item.event, error));
                }
                Err(_) => {
                    report.retried += 1;
                    item.due = now + self.backoff.delay(item.attempt, &mut self.rng);
                    blocked.insert(item.event.topic.clone());
                    keep.push(item);
                }
            }
        }
        self.pending = keep;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Flaky {
        fail_first: usize,
        seen: Vec<(String, String)>,
    }

    impl Sink for Flaky {
        fn deliver(&mut self, topic: &str, envelope: &str) -> Result<(), String> {
            if self.fail_first > 0 {
                self.fail_first -= 1;
                return Err("broker unavailable".into());
            }
            self.seen.push((topic.to_owned(), envelope.to_owned()));
            Ok(())
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(400));
        assert_eq!(b.ceiling(40), Duration::from_secs(1));
        let mut rng = SplitMix64::new(7);
        for attempt in 1..10 {
            assert!(b.delay(attempt, &mut rng) <= b.ceiling(attempt));
        }
    }

    #[test]
    fn envelopes_carry_json_payloads() {
        let event = Event {
            seq: 3,
            topic: "blog.post".into(),
            payload: "{\"id\":1}".into(),
        };
        assert_eq!(
            envelope(&event, 2),
            r#"{"attempt":2,"payload":{"id":1},"seq":3,"topic":"blog.post"}"#
        );
        let text = Event {
            payload: "plain".into(),
            ..event
        };
        assert!(envelope(&text, 1).contains("\"payload\":\"plain\""));
    }

    #[test]
    fn retries_in_order_then_dead_letters() {
        let outbox = Outbox::with_capacity(10);
        outbox.publish("a", "1").unwrap();
        outbox.publish("a", "2").unwrap();
        outbox.publish("b", "3").unwrap();
        let backoff = Backoff {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
            max_attempts: 3,
        };
        let mut relay = Relay::new(backoff, 1);
        let mut sink = Flaky {
            fail_first: 1,
            seen: Vec::new(),
        };
        let first = relay.pass(&outbox, &mut sink, Duration::ZERO, 10);
        assert_eq!(
            first,
            Pass {
                delivered: 1,
                retried: 1,
                dead: 0
            }
        ); // a#1 failed, a#2 held, b ok
        let second = relay.pass(&outbox, &mut sink, Duration::from_millis(20), 10);
        assert_eq!(second.delivered, 2);
        let topics: Vec<&str> = sink.seen.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(topics, ["b", "a", "a"]);
        assert!(sink.seen[1].1.contains("\"seq\":1"));

        outbox.publish("c", "4").unwrap();
        let mut down = Flaky {
            fail_first: usize::MAX,
            seen: Vec::new(),
        };
        for step in 0..5 {
            relay.pass(&outbox, &mut down, Duration::from_millis(100 * step), 10);
        }
        assert_eq!(relay.dead_letters().len(), 1);
        assert_eq!(relay.waiting(), 0);
    }
}
