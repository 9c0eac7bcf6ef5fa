//! Stopping a run early: SIGINT/SIGTERM, `--timeout`, or a lost run lease. The first request
//! cancels the statement a warehouse is running at once (its client registers how), the
//! executor stops before the next statement, the window's transaction rolls back, and the
//! process exits with code 130 (124 for `--timeout`). A second signal exits at once, and so
//! does the binary when the run has not ended 30 s after the stop (a connection stalled in the
//! middle of an answer).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::Error;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Why the run was asked to stop: [`Cause`] as a number, for the signal handler's sake.
static CAUSE: AtomicU8 = AtomicU8::new(0);

type Canceller = Arc<dyn Fn() + Send + Sync>;
type Notice = Box<dyn Fn(&str) + Send>;

/// How to cancel each statement in flight: the run's own and the lease heartbeat's, on
/// connections of their own.
static IN_FLIGHT: Mutex<BTreeMap<u64, Canceller>> = Mutex::new(BTreeMap::new());
static NEXT_IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

/// How to tell the user that the run is stopping (the binary's printer); stderr by default.
static NOTICE: Mutex<Option<Notice>> = Mutex::new(None);

/// Whether the process exits by itself when a stopped run does not end in time (the binary
/// sets it; a library caller keeps its process).
static EXIT_WHEN_STUCK: AtomicBool = AtomicBool::new(false);

/// How long a stopping run may take to end its statement and roll back before the process
/// exits anyway (a connection stalled in the middle of an answer never returns).
const STOP_GRACE: Duration = Duration::from_secs(30);

/// What asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// SIGINT/SIGTERM, or a lost lease: exit 130, artifact status `cancelled`.
    Signal,
    /// `--timeout` ran out: exit 124, artifact status `timeout`.
    Timeout,
}

impl Cause {
    pub fn exit_code(self) -> i32 {
        match self {
            Cause::Signal => 130,
            Cause::Timeout => 124,
        }
    }
}

/// Installs the signal handler; call once from `main`. The handler only raises the request
/// (the cancel calls go out on a thread of their own), so a second signal exits at once.
pub fn install() {
    EXIT_WHEN_STUCK.store(true, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| {
        if requested() {
            std::process::exit(Cause::Signal.exit_code());
        }
        request("interrupted; cancelling the running statement (again to exit now)");
    });
}

/// Says how the "stopping" line is printed (in the log format the user chose).
pub fn set_notice(notice: Notice) {
    if let Ok(mut guard) = NOTICE.lock() {
        *guard = Some(notice);
    }
}

/// Asks the run to stop as a signal would, saying why (a lost run lease).
pub fn request(reason: &str) {
    request_for(Cause::Signal, reason);
}

fn request_for(cause: Cause, reason: &str) {
    if REQUESTED.swap(true, Ordering::SeqCst) {
        return;
    }
    CAUSE.store(cause as u8, Ordering::SeqCst);
    say(&format!("stopping: {reason}"));
    let cancellers: Vec<Canceller> = IN_FLIGHT
        .lock()
        .map(|guard| guard.values().cloned().collect())
        .unwrap_or_default();
    call_off_thread(cancellers);
    if EXIT_WHEN_STUCK.load(Ordering::SeqCst) {
        std::thread::spawn(move || {
            std::thread::sleep(stop_grace());
            say(&format!(
                "stopping: the run did not end within {}s of the stop; exiting without waiting for the warehouse's answer",
                stop_grace().as_secs()
            ));
            std::process::exit(cause.exit_code());
        });
    }
}

/// `STOP_GRACE`, or `SIGBATCH_STOP_GRACE_SECONDS` where set.
fn stop_grace() -> Duration {
    std::env::var("SIGBATCH_STOP_GRACE_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .map_or(STOP_GRACE, Duration::from_secs)
}

fn say(message: &str) {
    match NOTICE.lock().as_deref() {
        Ok(Some(notice)) => notice(message),
        _ => eprintln!("sigbatch: {message}"),
    }
}

/// Sends the cancel calls from a thread of their own: each is an HTTP request that may wait.
fn call_off_thread(cancellers: Vec<Canceller>) {
    if !cancellers.is_empty() {
        std::thread::spawn(move || cancellers.iter().for_each(|cancel| cancel()));
    }
}

/// Stops the run as SIGTERM would once `limit` has passed (`--timeout`); the timer thread
/// lives until then or until the process exits.
pub fn stop_after(limit: Duration, shown: String) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        request_for(
            Cause::Timeout,
            &format!("--timeout {shown} reached; cancelling the running statement"),
        );
    });
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Why the run was asked to stop, once it was.
pub fn cause() -> Option<Cause> {
    requested().then(|| {
        if CAUSE.load(Ordering::SeqCst) == Cause::Timeout as u8 {
            Cause::Timeout
        } else {
            Cause::Signal
        }
    })
}

/// The error a stopped run ends with, `what` saying where it stopped.
pub fn stopped(what: impl Into<String>) -> Error {
    match cause() {
        Some(Cause::Timeout) => Error::TimedOut(what.into()),
        _ => Error::Cancelled(what.into()),
    }
}

/// A statement in flight that a stop cancels; dropping it (the statement ended) forgets it.
#[must_use = "the statement is only cancellable while this is held"]
pub struct InFlight(u64);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut guard) = IN_FLIGHT.lock() {
            guard.remove(&self.0);
        }
    }
}

/// Registers how to cancel a statement that is starting; a stop already requested cancels it
/// at once.
pub fn in_flight(cancel: impl Fn() + Send + Sync + 'static) -> InFlight {
    let id = NEXT_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let cancel: Canceller = Arc::new(cancel);
    if let Ok(mut guard) = IN_FLIGHT.lock() {
        guard.insert(id, Arc::clone(&cancel));
    }
    if requested() {
        call_off_thread(vec![cancel]);
    }
    InFlight(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_ending_forgets_only_its_own_canceller() {
        let (first, second) = (in_flight(|| {}), in_flight(|| {}));
        let ids = |list: &BTreeMap<u64, Canceller>| list.keys().copied().collect::<Vec<_>>();
        let both = ids(&IN_FLIGHT.lock().unwrap());
        assert!(both.contains(&first.0) && both.contains(&second.0));
        let (kept, gone) = (first.0, second.0);
        drop(second);
        let left = ids(&IN_FLIGHT.lock().unwrap());
        assert!(left.contains(&kept) && !left.contains(&gone));
    }
}
