//! SIGINT/SIGTERM: the first signal asks the run to stop. The statement a warehouse is running
//! is cancelled at once (its client registers how), the executor stops before the next
//! statement, the window's transaction rolls back, and the process exits with code 130. A
//! second signal exits at once.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

type Canceller = Box<dyn Fn() + Send>;

/// How to cancel the statement in flight, if any.
static IN_FLIGHT: Mutex<Option<Canceller>> = Mutex::new(None);

/// Installs the signal handler; call once from `main`.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if requested() {
            std::process::exit(130);
        }
        request("interrupted; cancelling the running statement (again to exit now)");
    });
}

/// Asks the run to stop as a signal would, saying why (a lost run lease).
pub fn request(reason: &str) {
    if !REQUESTED.swap(true, Ordering::SeqCst) {
        eprintln!("sigbatch: stopping: {reason}");
        if let Ok(guard) = IN_FLIGHT.lock()
            && let Some(cancel) = guard.as_ref()
        {
            cancel();
        }
    }
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Registers how to cancel the statement now running; `None` when it has finished.
pub fn set_in_flight(canceller: Option<Canceller>) {
    if let Ok(mut guard) = IN_FLIGHT.lock() {
        *guard = canceller;
    }
}
