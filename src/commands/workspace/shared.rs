//! A workspace run's shared reads of the events (issue 25, item 2; docs/operations.md,
//! "Workspaces"): before any group runs, the groups that read the same events table on the same
//! warehouse in the same mode are asked where their first load window starts; where two or more
//! start at the same load, the events from there to the run's cap are read once
//! (`render::shared_read_sql`) into a scratch table of this invocation's own. Each group then
//! runs exactly as alone (own lock or lease, transactions, state), its windows inside that
//! range reading their base events from the table; a group behind the others catches up from
//! the events table until its windows reach the range. After the last group the table is
//! dropped. Where the table is temporary (DuckDB), it lives on a connection kept open for its
//! store, and every group on that store runs on that connection (`SharedReads::lent`).
//!
//! A shared read is an optimisation and never a reason to fail: whatever goes wrong while
//! making it (a group that does not load, a refused statement, a lock held elsewhere) is a
//! warning, and the groups read the events each on their own.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{WorkspaceArgs, WorkspaceRunSettings, leftovers};
use crate::artifacts::iso;
use crate::commands::Lent;
use crate::dag::Stage;
use crate::error::{Error, Result};
use crate::execute::StageReport;
use crate::load_window::{LoadWindows, WindowSettings};
use crate::plan::Plan;
use crate::preflight::{check_events_table, events_columns_read};
use crate::project::profiles::Target;
use crate::render::{self, LoadWindow, Queries, SharedEvents, Statement, Tables};
use crate::report::{Event, Level, Reporter};
use crate::state;
use crate::warehouse::{self, Access, Warehouse, number_cell};
use crate::workspace::{SharedReadResult, Workspace};

/// A shared read made: its table, the groups (by index in the workspace) that may read it,
/// and what it cost.
pub(super) struct SharedRead {
    pub events: SharedEvents,
    pub members: Vec<usize>,
    pub result: SharedReadResult,
    /// The table lives with its connection (`Dialect::temporary_scratch`).
    temporary: bool,
    target: Target,
}

/// A workspace run's shared reads, and the connections kept open for them: where a read's
/// table is temporary (DuckDB) its connection stays open, and every group on the same store
/// runs on it (one process must not open the file twice).
#[derive(Default)]
pub(super) struct SharedReads {
    pub reads: Vec<SharedRead>,
    /// (store, connection), one per store at most.
    open: Vec<(String, Box<dyn Warehouse>)>,
    /// (group index, its store) of every group that loads.
    stores: Vec<(usize, String)>,
}

impl SharedReads {
    /// What group `index` is lent: the shared read it may read, and the store's open
    /// connection, if any.
    pub fn lent(&mut self, index: usize) -> Option<Lent<'_>> {
        let events = self
            .reads
            .iter()
            .find(|read| read.members.contains(&index))
            .map(|read| &read.events);
        let store = self
            .stores
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, s)| s);
        let connection = self
            .open
            .iter_mut()
            .find(|(open, _)| Some(open) == store)
            .map(|(_, connection)| connection.as_mut());
        (events.is_some() || connection.is_some()).then_some(Lent { events, connection })
    }
}

/// A selected group as the shared read sees it.
struct Candidate {
    index: usize,
    name: String,
    plan: Plan,
    target: Target,
    tables: Tables,
}

/// When a workspace run started and its invocation id, which name its shared reads' tables
/// (`leftovers::table_name`), so two invocations never share one.
pub(super) struct Invocation {
    pub started: DateTime<Utc>,
    pub id: String,
}

/// Makes the shared reads of a workspace run, first dropping on each warehouse the tables that
/// killed runs left (`leftovers::sweep`).
pub(super) fn prepare(
    workspace: &Workspace,
    settings: &WorkspaceRunSettings,
    invocation: &Invocation,
    reporter: &mut dyn Reporter,
) -> SharedReads {
    let access = Access::ReadWrite {
        lock_timeout: settings.lock_timeout,
    };
    let candidates = candidates(workspace, &settings.workspace);
    let mut shared = SharedReads {
        stores: candidates
            .iter()
            .map(|c| (c.index, c.target.output.store()))
            .collect(),
        ..SharedReads::default()
    };
    for cluster in clusters(candidates, workspace.shared_read) {
        let name =
            leftovers::table_name(invocation.started, &invocation.id, shared.reads.len() + 1);
        match read_once(
            &cluster,
            &name,
            &settings.windows,
            (access, invocation.started),
            &mut shared.open,
            reporter,
        ) {
            Ok(Some(read)) => {
                reporter.report(Event::SharedRead {
                    groups: &read.result.groups,
                    window: read.events.range,
                    events: read.result.events,
                    duration: Duration::from_secs_f64(read.result.duration_seconds),
                    bytes: read.result.bytes_processed,
                });
                shared.reads.push(read);
            }
            Ok(None) => {}
            Err(error) => {
                let names: Vec<&str> = cluster.iter().map(|c| c.name.as_str()).collect();
                reporter.report(Event::Note {
                    level: Level::Warn,
                    message: &format!(
                        "groups {} read the events each on their own: the shared read failed: {error}",
                        names.join(", ")
                    ),
                });
            }
        }
    }
    shared
}

/// A shared read the next run would make, as `plan` shows it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct PlannedRead {
    pub groups: Vec<String>,
    pub lower: String,
    pub upper: String,
    /// What the warehouse estimates the read would process (BigQuery's dry run), else `None`.
    pub estimated_bytes: Option<u64>,
}

/// The shared reads the next run would make, read-only.
pub(super) fn preview(args: &WorkspaceArgs, windows: &WindowSettings) -> Result<Vec<PlannedRead>> {
    let workspace = args.load()?;
    let mut planned = Vec::new();
    for cluster in clusters(candidates(&workspace, args), workspace.shared_read) {
        let mut warehouse = warehouse::connect(&cluster[0].target, Access::ReadOnly)?;
        let Some(read) = plan_read(
            &cluster,
            leftovers::PREFIX.trim_end_matches('_'),
            windows,
            warehouse.as_mut(),
        )?
        else {
            continue;
        };
        // the read's schema may not exist yet: estimate the table's statement alone
        let estimated_bytes = match read.statements.last() {
            Some(statement) => warehouse.estimate_bytes(&statement.sql).unwrap_or(None),
            None => None,
        };
        planned.push(PlannedRead {
            groups: read.members.iter().map(|c| c.name.clone()).collect(),
            lower: iso(read.events.range.lower),
            upper: iso(read.events.range.upper),
            estimated_bytes,
        });
    }
    Ok(planned)
}

/// The selected groups that could share a read: over the same events table on the same
/// warehouse, in the same mode; sets of two or more, where the workspace file's `shared_read:`
/// (else the warehouse: `Dialect::metered_reads`) says to share.
fn clusters(candidates: Vec<Candidate>, shared_read: Option<bool>) -> Vec<Vec<Candidate>> {
    let mut clusters: Vec<Vec<Candidate>> = Vec::new();
    for candidate in candidates {
        let same = |other: &Candidate| {
            other.target.output.store() == candidate.target.output.store()
                && other.tables.events == candidate.tables.events
                && other.plan.semantics == candidate.plan.semantics
        };
        match clusters.iter_mut().find(|cluster| same(&cluster[0])) {
            Some(cluster) => cluster.push(candidate),
            None => clusters.push(vec![candidate]),
        }
    }
    clusters.retain(|cluster| {
        let metered = cluster[0].target.output.kind().dialect().metered_reads();
        cluster.len() > 1 && shared_read.unwrap_or(metered)
    });
    clusters
}

/// The selected groups whose project and target load (the others fail in their own run).
fn candidates(workspace: &Workspace, args: &WorkspaceArgs) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    for (index, group) in workspace.groups.iter().enumerate() {
        let args = args.project_args(&group.dir);
        let Ok((project, plan)) = args.load() else {
            continue;
        };
        let Ok(mut target) = args.target(&project) else {
            continue;
        };
        if let Some(tag) = &plan.vars.query_tag {
            target.output.set_query_tag(tag);
        }
        let dialect = target.output.kind().dialect();
        let tables = Tables::new(&plan, dialect.as_ref(), target.output.schema());
        candidates.push(Candidate {
            index,
            name: group.name.clone(),
            plan,
            target,
            tables,
        });
    }
    candidates
}

/// A shared read planned: its table, its statements and the groups that may read it.
struct Planned<'a> {
    events: SharedEvents,
    statements: Vec<Statement>,
    members: Vec<&'a Candidate>,
}

/// The shared read of `cluster`'s groups, if two or more of them start reading at the same
/// load; `None` when they do not, or when no group has events to read. Reads only.
fn plan_read<'a>(
    cluster: &'a [Candidate],
    name: &str,
    windows: &WindowSettings,
    warehouse: &mut dyn Warehouse,
) -> Result<Option<Planned<'a>>> {
    let kind = cluster[0].target.output.kind();
    let mut starts = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut dialect = kind.dialect();
    let mut cap = None;
    for candidate in cluster {
        let (plan, tables) = (&candidate.plan, &candidate.tables);
        // a group whose events table lacks a column it reads fails in its own run, saying so
        let Ok(available) = check_events_table(warehouse, plan, tables, kind.dialect().as_ref())
        else {
            continue;
        };
        dialect = kind.events_dialect(&available);
        let stored = state::read(warehouse, dialect.as_ref(), plan, tables)?;
        let group_windows = LoadWindows::new(&stored, plan, windows);
        let queries = Queries {
            dialect: dialect.as_ref(),
            tables,
        };
        if !group_windows.reads_events(warehouse, &queries, &stored, plan)? {
            continue;
        }
        starts.push((candidate, group_windows.first_lower(&stored, plan)));
        cap = Some(group_windows.cap());
        for column in events_columns_read(plan, dialect.as_ref(), &available) {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
    }
    let (Some(lower), Some(upper)) = (common_start(&starts), cap) else {
        return Ok(None);
    };
    if lower >= upper {
        return Ok(None);
    }
    let members: Vec<&Candidate> = starts.iter().map(|(candidate, _)| *candidate).collect();
    let groups: Vec<(&Plan, &Tables)> = members.iter().map(|c| (&c.plan, &c.tables)).collect();
    let (schema, _) = members[0].tables.location("base_events_this_run");
    let range = LoadWindow { lower, upper };
    let (events, statements) = render::shared_read_sql(
        &groups,
        dialect.as_ref(),
        &columns,
        (schema, name),
        dialect.temporary_scratch(),
        range,
    )?;
    Ok(Some(Planned {
        events,
        statements,
        members,
    }))
}

/// Plans and makes the shared read of `cluster` on a connection of its own, or, where the
/// read's table is temporary, on the store's connection in `open` (opened and kept there if
/// there is none yet). Where it is not, the tables killed runs left in the cluster's scratch
/// schemas are dropped first (their age taken at `now`, the run's start), each noted.
fn read_once(
    cluster: &[Candidate],
    name: &str,
    windows: &WindowSettings,
    (access, now): (Access, DateTime<Utc>),
    open: &mut Vec<(String, Box<dyn Warehouse>)>,
    reporter: &mut dyn Reporter,
) -> Result<Option<SharedRead>> {
    let target = &cluster[0].target;
    let dialect = target.output.kind().dialect();
    let temporary = dialect.temporary_scratch();
    let store = target.output.store();
    let mut own = None;
    let warehouse: &mut dyn Warehouse = match open.iter().position(|(s, _)| *s == store) {
        Some(at) if temporary => open[at].1.as_mut(),
        _ => own.insert(warehouse::connect(target, access)?).as_mut(),
    };
    if !temporary {
        sweep_left_tables(cluster, warehouse, now, reporter);
    }
    let Some(Planned {
        events,
        statements,
        members,
    }) = plan_read(cluster, name, windows, warehouse)?
    else {
        return Ok(None);
    };
    // its statements' time and bytes, summed as a window's stage sums its own
    let mut cost = StageReport::new(Stage::BaseEventsThisRun);
    for statement in &statements {
        let started = Instant::now();
        warehouse.execute(&statement.sql).map_err(|error| {
            Error::Internal(format!(
                "making the shared read {}: {error}",
                events.relation
            ))
        })?;
        cost.add(started.elapsed(), warehouse.last_statement_stats());
    }
    let rows = warehouse.query(&events.count_sql(dialect.as_ref())?)?;
    let read = SharedRead {
        result: SharedReadResult {
            groups: members.iter().map(|c| c.name.clone()).collect(),
            lower: iso(events.range.lower),
            upper: iso(events.range.upper),
            events: number_cell(rows.first(), 0),
            duration_seconds: cost.duration.as_secs_f64(),
            bytes_processed: cost.bytes_processed,
            bytes_billed: cost.bytes_billed,
        },
        members: members.iter().map(|c| c.index).collect(),
        events,
        temporary,
        target: target.clone(),
    };
    if let (true, Some(connection)) = (temporary, own) {
        open.push((store, connection));
    }
    Ok(Some(read))
}

/// Drops what killed runs left in the scratch schemas of `cluster`'s groups, saying so; a
/// sweep that fails is a warning, and the shared read goes on.
fn sweep_left_tables(
    cluster: &[Candidate],
    warehouse: &mut dyn Warehouse,
    now: DateTime<Utc>,
    reporter: &mut dyn Reporter,
) {
    let dialect = cluster[0].target.output.kind().dialect();
    let mut schemas: Vec<&str> = cluster
        .iter()
        .map(|c| c.tables.location("base_events_this_run").0)
        .collect();
    schemas.sort_unstable();
    schemas.dedup();
    for schema in schemas {
        let (level, message) = match leftovers::sweep(warehouse, dialect.as_ref(), schema, now) {
            Ok(dropped) if dropped.is_empty() => continue,
            Ok(dropped) => (
                Level::Info,
                format!(
                    "dropped {} shared read table(s) that runs killed over {} hours ago left in \
                     `{schema}`: {}",
                    dropped.len(),
                    leftovers::LEFT_AFTER.num_hours(),
                    dropped.join(", ")
                ),
            ),
            Err(error) => (
                Level::Warn,
                format!(
                    "could not drop the shared read tables killed runs left in `{schema}`: {error}"
                ),
            ),
        };
        reporter.report(Event::Note {
            level,
            message: &message,
        });
    }
}

/// The load most groups' first windows start from (the latest on a tie), if two or more do.
fn common_start(starts: &[(&Candidate, chrono::NaiveDateTime)]) -> Option<chrono::NaiveDateTime> {
    let count = |at: chrono::NaiveDateTime| starts.iter().filter(|(_, s)| *s == at).count();
    starts
        .iter()
        .map(|(_, at)| (count(*at), *at))
        .filter(|(n, _)| *n > 1)
        .max()
        .map(|(_, at)| at)
}

/// Drops the shared reads' tables, and closes the connections kept for them (a temporary
/// table goes with its connection); a table that cannot be dropped is a warning naming it.
pub(super) fn drop_all(
    shared: SharedReads,
    settings: &WorkspaceRunSettings,
    reporter: &mut dyn Reporter,
) {
    drop(shared.open);
    for read in shared.reads.iter().filter(|read| !read.temporary) {
        let dropped = warehouse::connect(
            &read.target,
            Access::ReadWrite {
                lock_timeout: settings.lock_timeout,
            },
        )
        .and_then(|mut warehouse| {
            let dialect = read.target.output.kind().dialect();
            warehouse.execute(&read.events.drop_sql(dialect.as_ref())?)
        });
        if let Err(error) = dropped {
            reporter.report(Event::Note {
                level: Level::Warn,
                message: &format!(
                    "the shared read {} is left behind (drop it at leisure): {error}",
                    read.events.relation
                ),
            });
        }
    }
}
