//! Stopping a run early: SIGINT/SIGTERM, `--timeout`, or a lost run lease. The first request
//! cancels the statement a warehouse is running at once (its client registers how), the
//! executor stops before the next statement, the window's transaction rolls back, and the
//! process exits with code 130 (124 for `--timeout`). A second signal exits at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use crate::error::Error;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Why the run was asked to stop: [`Cause`] as a number, for the signal handler's sake.
static CAUSE: AtomicU8 = AtomicU8::new(0);

type Canceller = Box<dyn Fn() + Send>;
type Notice = Box<dyn Fn(&str) + Send>;

/// How to cancel the statement in flight, if any.
static IN_FLIGHT: Mutex<Option<Canceller>> = Mutex::new(None);

/// How to tell the user that the run is stopping (the binary's printer); stderr by default.
static NOTICE: Mutex<Option<Notice>> = Mutex::new(None);

/// What asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// SIGINT/SIGTERM, or a lost lease: exit 130, artifact status `cancelled`.
    Signal,
    /// `--timeout` ran out: exit 124, artifact status `timeout`.
    Timeout,
}

/// Installs the signal handler; call once from `main`.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if requested() {
            std::process::exit(130);
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
    if !REQUESTED.swap(true, Ordering::SeqCst) {
        CAUSE.store(cause as u8, Ordering::SeqCst);
        let message = format!("stopping: {reason}");
        match NOTICE.lock().as_deref() {
            Ok(Some(notice)) => notice(&message),
            _ => eprintln!("sigbatch: {message}"),
        }
        if let Ok(guard) = IN_FLIGHT.lock()
            && let Some(cancel) = guard.as_ref()
        {
            cancel();
        }
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

/// Registers how to cancel the statement now running; `None` when it has finished.
pub fn set_in_flight(canceller: Option<Canceller>) {
    if let Ok(mut guard) = IN_FLIGHT.lock() {
        *guard = canceller;
    }
}
