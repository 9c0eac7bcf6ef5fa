//! What this process has open on a warehouse that would outlive it if it were killed: a
//! Snowflake or BigQuery session (with the open transaction and the locks it holds), a
//! Databricks statement still running. Each warehouse client registers what it opens for as
//! long as it is open; the run lease's heartbeat writes the list into the lease row
//! (`lease::Lease`), and a run that takes over an expired lease ends what the dead holder left
//! open before it starts (`Warehouse::end_open_work`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static OPEN: Mutex<BTreeMap<u64, String>> = Mutex::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// One thing open on the warehouse; dropping it (the session or statement ended) forgets it.
#[must_use = "the work is only listed while this is held"]
#[derive(Debug)]
pub struct Open(u64);

impl Drop for Open {
    fn drop(&mut self) {
        if let Ok(mut open) = OPEN.lock() {
            open.remove(&self.0);
        }
    }
}

/// Registers `id` (a session id, a statement id: whatever the warehouse's client can end
/// from another connection) as open until the returned guard is dropped.
pub fn register(id: impl Into<String>) -> Open {
    let key = NEXT.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut open) = OPEN.lock() {
        open.insert(key, id.into());
    }
    Open(key)
}

/// What is open now, each id once, in sorted order.
pub fn snapshot() -> Vec<String> {
    let mut ids: Vec<String> = OPEN
        .lock()
        .map(|open| open.values().cloned().collect())
        .unwrap_or_default();
    ids.sort();
    ids.dedup();
    ids
}

/// The ids as the lease row keeps them: separated by spaces (no id holds one).
pub fn to_text(ids: &[String]) -> String {
    ids.join(" ")
}

/// The ids of a lease row's text.
pub fn from_text(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_work_is_listed_while_held() {
        let id = "sigbatch-test-session-7".to_string();
        let session = register(id.clone());
        let twice = register(id.clone());
        assert_eq!(snapshot().iter().filter(|i| **i == id).count(), 1);
        drop(session);
        assert!(snapshot().contains(&id), "still held once");
        drop(twice);
        assert!(!snapshot().contains(&id));
    }

    #[test]
    fn the_row_text_reads_back_as_the_ids() {
        let ids = vec!["01b2-c3".to_string(), "42".to_string()];
        assert_eq!(from_text(&to_text(&ids)), ids);
        assert!(from_text("").is_empty());
    }
}
