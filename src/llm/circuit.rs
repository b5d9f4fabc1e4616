//! A circuit breaker for the LLM: after several failures in a row, stop calling it for
//! a while and use the local brain straight away, instead of making every customer
//! wait for a timeout. After the pause one call is let through to probe.

use std::sync::Mutex;

#[derive(Debug)]
pub struct CircuitBreaker {
    failure_limit: u32,
    open_for_ms: i64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<i64>,
}

impl CircuitBreaker {
    pub fn new(failure_limit: u32, open_for_ms: i64) -> Self {
        Self {
            failure_limit: failure_limit.max(1),
            open_for_ms,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go out now.
    pub fn allows(&self, now_ms: i64) -> bool {
        let state = self.lock();
        match state.open_until {
            Some(until) => now_ms >= until,
            None => true,
        }
    }

    pub fn record_success(&self) {
        let mut state = self.lock();
        state.consecutive_failures = 0;
        state.open_until = None;
    }

    /// Records a failure; returns true when this failure opened the circuit.
    pub fn record_failure(&self, now_ms: i64) -> bool {
        let mut state = self.lock();
        state.consecutive_failures += 1;
        if state.consecutive_failures >= self.failure_limit {
            let was_open = state.open_until.is_some_and(|u| now_ms < u);
            state.open_until = Some(now_ms + self.open_for_ms);
            return !was_open;
        }
        false
    }

    pub fn is_open(&self, now_ms: i64) -> bool {
        !self.allows(now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_limit_and_probes_after_the_pause() {
        let breaker = CircuitBreaker::new(3, 1_000);
        assert!(!breaker.record_failure(0));
        assert!(!breaker.record_failure(1));
        assert!(breaker.allows(2));
        assert!(breaker.record_failure(2));
        assert!(!breaker.allows(500));
        assert!(breaker.allows(1_002), "one probe after the pause");
        breaker.record_success();
        assert!(breaker.allows(1_003));
    }
}
