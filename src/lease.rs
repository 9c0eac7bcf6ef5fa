//! The run lease: where nothing outside the warehouse keeps two runs apart (Snowflake, BigQuery,
//! Databricks), a row in `<schema>_snowplow_manifest.<name>_sigbatch_lease` says who runs the
//! project (holder, host, pid, since) and until when. It is taken with one UPDATE that succeeds
//! only when the row is free, already ours, or expired (the warehouse serialises UPDATEs of a
//! table), renewed by a heartbeat on a connection of its own (the run's connection may be inside
//! a long transaction, whose writes nobody else sees), and released when the run ends. A killed
//! run's lease expires after `TTL`, and the next run takes it over. Every time in the row is
//! the warehouse's (`Dialect::utc_now`), and whether a lease expired is the warehouse's answer:
//! workers whose clocks disagree still agree on whose lease is live.
//!
//! The row also lists what the holder has open on the warehouse (`open_work`: its sessions, its
//! statements in flight), kept current by the heartbeat. A run that takes over an expired lease
//! ends those first, so a killed run's open transaction and locks do not hold up the next one
//! until the warehouse gives up on them.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::open_work;
use crate::project::group::ValueType;
use crate::render::{Tables, render_checked};
use crate::report::{Event, Level, Reporter};
use crate::warehouse::Warehouse;

/// How long a lease lasts without renewal.
pub const TTL: Duration = Duration::from_secs(300);
/// How often the heartbeat renews it.
const HEARTBEAT: Duration = Duration::from_secs(60);
/// How often the heartbeat looks whether the run opened or ended work on the warehouse.
const OPEN_WORK_POLL: Duration = Duration::from_secs(1);
/// How often a waiting run asks again.
const RETRY: Duration = Duration::from_secs(2);

/// Who holds the lease, as its row says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub holder: String,
    pub host: String,
    pub pid: String,
    pub since: String,
    pub expires: String,
    /// Whether `expires` has passed by the warehouse's clock.
    pub expired: bool,
    /// What the holder had open on the warehouse when it last said (`open_work`).
    pub open_work: Vec<String>,
}

/// A held lease; dropping it stops the heartbeat and releases the row.
pub struct Lease {
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
    fence: Fence,
}

/// What a window runs on the run's own connection just before it writes its run state, inside
/// its transaction: the lease renewed where it is still this run's, then read back. A run that
/// lost its lease (a stall outlived it, another run took it over) finds another holder, rolls
/// back and stops; one whose renewal conflicts with a takeover fails at the commit instead.
///
/// Where the window's transaction goes as one script (`Warehouse::execute_script`), nothing can
/// look at the read-back between two statements, so the script carries `renew` and then
/// `assert`, a query that fails (a cast of text to a number) unless this run holds the lease:
/// the script stops there, before its COMMIT, and its transaction rolls back.
#[derive(Debug, Clone)]
pub struct Fence {
    pub renew: String,
    pub read: String,
    pub assert: String,
    pub holder: String,
}

impl Fence {
    /// Runs the fence on `warehouse`; an error naming the new holder when the lease is lost.
    pub fn check(&self, warehouse: &mut dyn Warehouse) -> Result<()> {
        warehouse.execute(&self.renew)?;
        self.holder_check(warehouse)
    }

    /// The statements a script runs for the fence, in order.
    pub fn statements(&self) -> [&str; 2] {
        [&self.renew, &self.assert]
    }

    /// After a script stopped at `assert` with `error`: the error naming who holds the lease
    /// now, or `error` itself where the lease still reads as this run's (it failed otherwise).
    pub fn lost(&self, warehouse: &mut dyn Warehouse, error: Error) -> Error {
        self.holder_check(warehouse).err().unwrap_or(error)
    }

    /// Reads the lease back; an error naming the holder unless it is this run.
    fn holder_check(&self, warehouse: &mut dyn Warehouse) -> Result<()> {
        let rows = warehouse.query(&self.read)?;
        let cell = |i: usize| rows.first().and_then(|row| row.get(i).cloned().flatten());
        match cell(0) {
            Some(holder) if holder == self.holder => Ok(()),
            other => Err(Error::Locked {
                message: format!(
                    "this run lost its run lease to {} on {} before committing the window; the window was rolled back",
                    other.unwrap_or_else(|| "nobody (released)".into()),
                    cell(1).unwrap_or_else(|| "an unknown host".into())
                ),
                hint: Some(
                    "a stall or a network outage outlived the lease; rerun once the other run has finished (committed windows stand)".into(),
                ),
            }),
        }
    }
}

/// The statements of one lease, rendered for one dialect and holder.
struct LeaseSql {
    context: Value,
    dialect: Box<dyn Dialect>,
}

impl LeaseSql {
    fn render(&self, template: &str) -> Result<String> {
        render_checked(
            self.dialect.as_ref(),
            Stage::Setup.name(),
            template,
            &self.context,
        )
    }

    /// `template` with `open_work` set to the list of `ids` (NULL for none).
    fn render_open_work(&self, template: &str, ids: &[String]) -> Result<String> {
        let mut context = self.context.clone();
        context["open_work"] = json!(if ids.is_empty() {
            "NULL".to_string()
        } else {
            self.dialect.string_literal(&open_work::to_text(ids))
        });
        render_checked(
            self.dialect.as_ref(),
            Stage::Setup.name(),
            template,
            &context,
        )
    }

    fn read(&self, warehouse: &mut dyn Warehouse) -> Result<Option<Holder>> {
        let rows = warehouse.query(&self.render("lease_read.sql")?)?;
        Ok(rows.into_iter().find_map(|row| {
            let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            row.first().cloned().flatten().map(|holder| Holder {
                holder,
                host: cell(1),
                pid: cell(2),
                since: cell(3),
                expires: cell(4),
                expired: cell(5) == "expired",
                open_work: open_work::from_text(&cell(6)),
            })
        }))
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

impl Lease {
    /// Takes the project's lease on `connection` (a connection of its own), waiting up to
    /// `timeout` for another run to release it.
    pub fn acquire(
        mut connection: Box<dyn Warehouse + Send>,
        dialect: Box<dyn Dialect>,
        tables: &Tables,
        lock_name: &str,
        timeout: Duration,
        reporter: &mut dyn Reporter,
    ) -> Result<Lease> {
        let host = host_name();
        let pid = std::process::id();
        let holder = format!("sigbatch {}@{host}:{pid}", uuid::Uuid::new_v4().simple());
        let d = dialect.as_ref();
        let sql = LeaseSql {
            context: json!({
                "t": tables.as_json(),
                "subquery_predicates": d.subquery_predicates(),
                "layout": tables.layouts_json(),
                "text": d.type_name(ValueType::Text),
                "integer": d.type_name(ValueType::Integer),
                "timestamp": d.timestamp_type(),
                "lock_name": d.string_literal(lock_name),
                "holder": d.string_literal(&holder),
                "host": d.string_literal(&host),
                "pid": pid,
                "pid_text": d.cast_to_text("pid"),
                "since_text": d.timestamp_text("since"),
                "expires_text": d.timestamp_text("expires"),
                "now": d.utc_now(),
                "expires": d.add_seconds(&d.utc_now(), TTL.as_secs() as i64),
            }),
            dialect,
        };
        // DDL only when the table is missing (or older than its `open_work` column): a run
        // never alters the catalog under another
        let (schema, table) = tables.location("lease");
        let columns = connection.columns(schema, table)?;
        if columns.is_empty() {
            connection.execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                sql.dialect.ident(schema)
            ))?;
            connection.execute(&sql.render("lease_create.sql")?)?;
        } else if !columns.iter().any(|c| c == "open_work") {
            connection.execute(&sql.render("lease_add_open_work.sql")?)?;
        }
        connection.execute(&sql.render("lease_seed.sql")?)?;
        let taken_with = open_work::snapshot();
        if let Err(error) = take(
            connection.as_mut(),
            &sql,
            &holder,
            &taken_with,
            lock_name,
            timeout,
            reporter,
        ) {
            // a take whose answer was lost may have gone through: give back what may be ours
            // (by our own holder id, so nobody else's), or it would block runs until it expires
            if let Ok(release) = sql.render("lease_release.sql") {
                let _ = connection.execute(&release);
            }
            return Err(error);
        }
        let fence = Fence {
            renew: sql.render("lease_renew.sql")?,
            read: sql.render("lease_read.sql")?,
            assert: sql.render("lease_fence.sql")?,
            holder: holder.clone(),
        };
        let renew = fence.renew.clone();
        let (stop, stopped) = mpsc::channel::<()>();
        let heartbeat = std::thread::spawn(move || {
            let mut renewed_at = Instant::now();
            let mut next_renewal = renewed_at + HEARTBEAT;
            let mut recorded = taken_with;
            loop {
                match stopped.recv_timeout(OPEN_WORK_POLL) {
                    Err(RecvTimeoutError::Timeout) => {
                        // what the run opened or ended since, written while it is still open
                        let open = open_work::snapshot();
                        if open != recorded
                            && sql
                                .render_open_work("lease_open_work.sql", &open)
                                .and_then(|update| connection.execute(&update))
                                .is_ok()
                        {
                            recorded = open;
                        }
                        if Instant::now() < next_renewal {
                            continue;
                        }
                        next_renewal = Instant::now() + HEARTBEAT;
                        let renewed = connection
                            .execute(&renew)
                            .and_then(|()| sql.read(connection.as_mut()));
                        match renewed {
                            Ok(Some(current)) if current.holder != holder => {
                                crate::cancel::request(&format!(
                                    "the run lease was taken over by {} on {}",
                                    current.holder, current.host
                                ));
                                return;
                            }
                            Ok(_) => renewed_at = Instant::now(),
                            // a failed renewal is tried again at the next beat, unless the
                            // lease could expire before the one after it
                            Err(error) if renewed_at.elapsed() + 2 * HEARTBEAT >= TTL => {
                                crate::cancel::request(&format!(
                                    "the run lease could not be renewed for {} s ({error}); stopping before it expires",
                                    renewed_at.elapsed().as_secs()
                                ));
                                return;
                            }
                            Err(_) => {}
                        }
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                        if let Ok(release) = sql.render("lease_release.sql") {
                            let _ = connection.execute(&release);
                        }
                        return;
                    }
                }
            }
        });
        Ok(Lease {
            stop: Some(stop),
            heartbeat: Some(heartbeat),
            fence,
        })
    }

    /// The check each window runs before it writes its run state.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }
}

/// Waits up to `timeout` for the lease to be free (or expired) and takes it.
fn take(
    connection: &mut dyn Warehouse,
    sql: &LeaseSql,
    holder: &str,
    open: &[String],
    lock_name: &str,
    timeout: Duration,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    let started = Instant::now();
    let mut announced = false;
    let mut lost_races = 0;
    loop {
        let current = sql.read(connection)?;
        let free = current
            .as_ref()
            .is_none_or(|c| c.holder == holder || c.expired);
        if free {
            if let Some(dead) = current.as_ref().filter(|c| c.holder != holder && c.expired) {
                end_open_work(connection, dead, reporter);
            }
            // a conflicting concurrent UPDATE (an optimistic warehouse) counts as not taken;
            // the UPDATE's own condition decides between two runs that both saw it free
            let _ = connection.execute(&sql.render_open_work("lease_take.sql", open)?);
            if sql
                .read(connection)?
                .is_some_and(|after| after.holder == holder)
            {
                if let Some(previous) = current.filter(|c| c.holder != holder) {
                    reporter.report(Event::Note {
                        level: Level::Warn,
                        message: &format!(
                            "took over the run lease of {} on {} (pid {}), which expired at {} UTC",
                            previous.holder, previous.host, previous.pid, previous.expires
                        ),
                    });
                }
                break;
            }
            lost_races += 1;
            if lost_races > 10 {
                return Err(Error::Internal(format!(
                    "could not take the free run lease of `{lock_name}` in ten tries"
                )));
            }
            continue;
        }
        let other = current.expect("a lease that is not free has a holder");
        if started.elapsed() >= timeout {
            return Err(Error::Locked {
                message: format!(
                    "project `{lock_name}` is being run by {} on {} (pid {}) since {} UTC; its lease expires at {} UTC",
                    other.holder, other.host, other.pid, other.since, other.expires
                ),
                hint: Some(format!(
                    "wait with --lock-timeout SECONDS; a run that died leaves a lease that expires after {} s",
                    TTL.as_secs()
                )),
            });
        }
        if !announced {
            reporter.report(Event::Note {
                level: Level::Info,
                message: &format!(
                    "waiting for the run of {} on {} (pid {}), running since {} UTC",
                    other.holder, other.host, other.pid, other.since
                ),
            });
            announced = true;
        }
        if crate::cancel::requested() {
            return Err(crate::cancel::stopped(
                "interrupted while waiting for the run lease",
            ));
        }
        std::thread::sleep(RETRY.min(timeout.saturating_sub(started.elapsed())));
    }
    Ok(())
}

/// Ends what the holder of an expired lease left open on the warehouse, saying what it ended.
fn end_open_work(connection: &mut dyn Warehouse, dead: &Holder, reporter: &mut dyn Reporter) {
    if dead.open_work.is_empty() {
        return;
    }
    for outcome in connection.end_open_work(&dead.open_work) {
        reporter.report(Event::Note {
            level: Level::Warn,
            message: &format!(
                "the expired run lease of {} on {} (pid {}): {outcome}",
                dead.holder, dead.host, dead.pid
            ),
        });
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{BigQuery, Databricks, DuckDb, Snowflake};

    /// The fence's failing query parses in every dialect a lease is kept in (a run renders it
    /// when it takes its lease).
    #[test]
    fn the_fence_query_renders_in_every_dialect() {
        let dialects: [Box<dyn Dialect>; 4] = [
            Box::new(Snowflake),
            Box::new(BigQuery::default()),
            Box::new(Databricks),
            Box::new(DuckDb),
        ];
        for dialect in dialects {
            let d = dialect.as_ref();
            let context = json!({
                "t": {"lease": d.relation(&["manifest", "lease"])},
                "holder": d.string_literal("sigbatch 1@host:2"),
                "integer": d.type_name(ValueType::Integer),
                "lock_name": d.string_literal("project"),
            });
            let sql = render_checked(d, "lease", "lease_fence.sql", &context).unwrap();
            assert!(sql.contains("CAST(COALESCE(MAX("), "{sql}");
        }
    }
}
