//! Case 14, `a_workspace_stream_killed_and_rerun_gives_the_tables_of_separate_runs` (not on
//! DuckDB: tests/workspace_shared.rs covers it there). Two groups of different keys, attributes
//! and filters over the fixture's events (`stream_groups`) run in exact mode as a workspace at
//! one place, at seeded random `--until` cutoffs over the fixture's loads
//! (`Networked::WORKSPACE_CUTOFFS`), then without one; the same groups run as separate projects,
//! with the same cutoffs, at another place (at the same time, where the stand-in allows:
//! `Networked::CONCURRENT_PLACES`). After every run each group's
//! tables (attributes without `updated_at`, daily aggregates) equal those of its separate runs,
//! and at the end the fixture's group has case 2's tables. Each run not killed makes one shared
//! read for both groups.
//!
//! The last `Networked::WORKSPACE_KILLS` workspace runs are first started and killed (SIGKILL of
//! the binary): the first of them once its shared read's table exists on the warehouse, at a
//! seeded moment in the groups' windows; the others at a seeded moment anywhere in a run's time.
//! Once the killed run's leases have expired, the rerun must reach the separate runs' tables,
//! which an uninterrupted run gives. A killed run may leave its own shared read's table behind
//! (scratch, named by its invocation; docs/operations.md, "Workspaces"): nothing else is ever
//! left, and every run that ends drops the one it made.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::network::{FIXTURE_GROUP, Networked, group_tables, with_uninterrupted_tables};
use super::workspace::{run_workspace, workspace_args};
use super::{Harness, NOW, SharedWarehouse, fixture_group, succeed};
use crate::common::{self, TempProject};

pub fn a_workspace_stream_killed_and_rerun_gives_the_tables_of_separate_runs<H: Networked>(
    shared: &SharedWarehouse<H>,
) {
    with_uninterrupted_tables(shared, |h, secrets, expected| {
        let groups = stream_groups::<H>();
        let (place, apart_place) = ("workspace_stream", "workspace_apart");
        let together = projects_at(h, place, &groups);
        let apart = projects_at(h, apart_place, &groups);
        let cutoffs = sweep("SIGBATCH_TEST_WORKSPACE_CUTOFFS", H::WORKSPACE_CUTOFFS);
        // the first run is never killed: its time is the span the kills fall in
        let kills = sweep("SIGBATCH_TEST_WORKSPACE_KILLS", H::WORKSPACE_KILLS).min(cutoffs);
        let mut random = Lcg(H::SEED);
        let mut untils: Vec<Option<String>> = random_cutoffs(&mut random, cutoffs)
            .into_iter()
            .map(Some)
            .collect();
        untils.push(None);
        let mut span = Duration::ZERO;
        let mut left = Vec::new();
        for (run, until) in untils.iter().enumerate() {
            let args: Vec<&str> = until.iter().flat_map(|u| ["--until", u.as_str()]).collect();
            let kill = (run + kills).checked_sub(untils.len());
            let separate_runs = || {
                for project in &apart {
                    let mut separate = vec!["run"];
                    separate.extend(&args);
                    succeed(secrets, project, &separate);
                }
            };
            let (results, took, killed) = std::thread::scope(|scope| {
                let separate = if H::CONCURRENT_PLACES {
                    Some(scope.spawn(separate_runs))
                } else {
                    separate_runs();
                    None
                };
                let killed = kill.map(|k| {
                    let workspace = Workspace {
                        place,
                        projects: &together,
                        groups: &groups,
                    };
                    kill_workspace_run(h, &workspace, &args, span, k == 0, &mut random, &mut left)
                });
                let started = Instant::now();
                let (_, results) = run_workspace(secrets, &together, &args);
                let took = started.elapsed();
                if let Some(Err(panic)) = separate.map(|runs| runs.join()) {
                    std::panic::resume_unwind(panic);
                }
                (results, took, killed)
            });
            let at = format!("run {run} (--until {until:?})");
            match killed {
                None => {
                    assert_one_shared_read(&results, &groups, &at);
                    span = took;
                }
                Some(killed) => eprintln!(
                    "{}: {at}: a workspace run {killed}; the rerun's shared reads: {}",
                    H::KIND,
                    results["shared_reads"]
                ),
            }
            left.sort();
            assert_eq!(
                h.shared_read_tables(place),
                left,
                "{at}: the shared reads' tables left are not only the killed runs' own"
            );
            for ((group, workspace), separate) in groups.iter().zip(&together).zip(&apart) {
                let name = &group.full_name;
                let ours = group_tables(h, workspace, place, name);
                assert!(!ours.1.is_empty(), "{at}: {name} has no daily aggregates");
                assert_eq!(
                    ours,
                    group_tables(h, separate, apart_place, name),
                    "{at}: {name}'s tables differ from its separate runs'"
                );
            }
        }
        assert_eq!(
            &group_tables(h, &together[0], place, FIXTURE_GROUP),
            expected
        );
        let sessions = group_tables(h, &together[1], place, &groups[1].full_name);
        assert!(sessions.0.len() > 3, "several sessions: {:?}", sessions.0);
        h.release(place);
        h.release(apart_place);
    });
}

/// The run's `shared_reads`: one, for both groups, of some events.
fn assert_one_shared_read(results: &Value, groups: &[Group], at: &str) {
    let reads = results["shared_reads"].as_array().unwrap();
    assert_eq!(reads.len(), 1, "{at}: {results}");
    let mut sharing: Vec<&str> = reads[0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|name| name.as_str().unwrap())
        .collect();
    sharing.sort_unstable();
    let mut names: Vec<&str> = groups.iter().map(|g| g.full_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(sharing, names, "{at}: {results}");
    assert!(reads[0]["events"].as_u64().unwrap() > 0, "{at}: {results}");
}

/// Starts the run of `workspace` with `args` and kills it (SIGKILL): when
/// `after_shared_read`, once its shared read's table exists, at a seeded fraction of what is
/// left of `span`; else at a seeded fraction of `span`. Then expires the groups' leases (as if
/// their five minutes had passed) and checks what the run left: at most its own shared read's
/// table, added to `left`; none if it ended before the kill. Says what happened.
fn kill_workspace_run<H: Networked>(
    h: &mut H,
    workspace: &Workspace,
    args: &[&str],
    span: Duration,
    after_shared_read: bool,
    random: &mut Lcg,
    left: &mut Vec<String>,
) -> String {
    let Workspace {
        place,
        projects,
        groups,
    } = *workspace;
    let artifacts = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(workspace_args(projects, artifacts.path(), args))
        .arg("--project-dir")
        .arg(projects[0].path())
        .env("SIGBATCH_NOW", NOW)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let spawned = Instant::now();
    let new_tables = |h: &mut H, left: &[String]| -> Vec<String> {
        let tables = h.shared_read_tables(place).into_iter();
        tables.filter(|table| !left.contains(table)).collect()
    };
    let mut seen = Vec::new();
    while after_shared_read && seen.is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before its shared read's table was seen"
        );
        std::thread::sleep(Duration::from_millis(100));
        seen = new_tables(h, left);
    }
    let rest = span.saturating_sub(spawned.elapsed());
    std::thread::sleep(rest.mul_f64(random.fraction()));
    let killed_after = spawned.elapsed();
    let landed = child.try_wait().unwrap().is_none();
    child.kill().ok(); // SIGKILL
    child.wait().unwrap();
    for group in groups {
        let lease = H::lease_of(place, &group.full_name);
        expire_lease(h, place, &lease);
    }
    let new = new_tables(h, left);
    assert!(new.len() <= 1, "one shared read for the groups: {new:?}");
    if after_shared_read {
        assert!(new.iter().all(|table| seen.contains(table)), "{new:?}");
    }
    if !landed {
        assert!(new.is_empty(), "a run that ended on its own left {new:?}");
    }
    left.extend(new.iter().cloned());
    format!(
        "killed after {killed_after:?} (mid-run: {landed}; its shared read seen: {seen:?}) left {new:?}"
    )
}

/// Makes the lease `lease` at `place` expired, as if its five minutes had passed. A request the
/// killed run sent may still be running on the stand-in (a transaction's script, which renews
/// the lease): until it ends, an update of the lease row may conflict with it.
fn expire_lease<H: Networked>(h: &mut H, place: &str, lease: &str) {
    let expire = format!("UPDATE {lease} SET expires = since WHERE holder IS NOT NULL");
    let started = Instant::now();
    while let Err(error) = h.try_sql(place, &expire) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{expire}: {error}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A workspace run at `place`: a project for each of `groups`.
#[derive(Clone, Copy)]
struct Workspace<'a> {
    place: &'a str,
    projects: &'a [TempProject],
    groups: &'a [Group],
}

/// A group of a workspace: its full name (`<name>_<version>`, its tables' prefix), its JSON and
/// its project's vars.
pub struct Group {
    pub full_name: String,
    json: String,
    vars: String,
}

/// The attributes the session group keeps: one of each aggregation the fixture has.
const SESSION_ATTRIBUTES: [&str; 7] = [
    "page_view_events_count_last_7_days",
    "last_geo_country",
    "first_mkt_source",
    "total_revenue_last_7_days",
    "op_systems",
    "min_revenue_last_7_days",
    "max_revenue_last_7_days",
];

/// Days a window may span: every run is one window per group, a few seconds on a stand-in
/// (where windows end changes no table, semantics.md 2.1; case 2 runs the fixture in six).
const BACKFILL_DAYS: u32 = 1000;

/// Groups of different keys, attributes and filters over the fixture's events: the fixture's
/// own (by `domain_userid`, all 21 attributes), and one by `domain_sessionid` (which three
/// events lack) with seven of its attributes, leaving out page pings.
pub fn stream_groups<H: Harness>() -> [Group; 2] {
    let fixture = fixture_group(H::SYNTAXES[0]);
    let mut sessions: Value = serde_json::from_str(&fixture).unwrap();
    sessions["name"] = "fixture_sessions".into();
    sessions["attribute_key_or_name"] = "domain_sessionid".into();
    sessions["attribute_key"]["name"] = "domain_sessionid".into();
    let attributes = sessions["attributes"].as_array_mut().unwrap();
    attributes.retain(|a| SESSION_ATTRIBUTES.contains(&a["name"].as_str().unwrap()));
    assert_eq!(attributes.len(), SESSION_ATTRIBUTES.len());
    let vars = H::vars(BACKFILL_DAYS);
    [
        Group {
            full_name: FIXTURE_GROUP.to_string(),
            json: fixture,
            vars: vars.clone(),
        },
        Group {
            full_name: "fixture_sessions_1".to_string(),
            json: sessions.to_string(),
            vars: format!("{vars}  snowplow__custom_filter: \"event_name <> 'page_ping'\"\n"),
        },
    ]
}

/// An exact-mode project of each of `groups` at `place`, the fixture's events loaded there.
fn projects_at<H: Harness>(h: &mut H, place: &str, groups: &[Group]) -> Vec<TempProject> {
    let projects: Vec<TempProject> = groups
        .iter()
        .map(|group| TempProject::new("exact", &group.json, &group.vars))
        .collect();
    h.load_fixture_events(&projects[0], place);
    for project in &projects {
        let profile = h.profile(project, place);
        std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    }
    projects
}

/// `variable` if set (a larger sweep), else `default`.
fn sweep(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// `count` cutoffs in the fixture's loads (2025-01-01 to 2025-01-07), ascending: each between
/// two loads, with a load between any two of them and one after the last, so that every run has
/// new events for both groups.
fn random_cutoffs(random: &mut Lcg, count: usize) -> Vec<String> {
    let events = duckdb::Connection::open_in_memory().unwrap();
    common::stage_fixture_events(&events);
    let loads: Vec<chrono::NaiveDateTime> = events
        .prepare("SELECT DISTINCT load_tstamp::TIMESTAMP FROM atomic.events ORDER BY 1")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut after: Vec<usize> = Vec::new();
    while after.len() < count.min(loads.len() - 1) {
        // after load `at`, before load `at + 1`
        let at = (random.fraction() * (loads.len() - 1) as f64) as usize;
        if !after.contains(&at) {
            after.push(at);
        }
    }
    after.sort_unstable();
    after
        .into_iter()
        .map(|at| {
            let gap = (loads[at + 1] - loads[at]).num_seconds();
            let into = 1 + (random.fraction() * (gap - 1) as f64) as i64;
            let cutoff = loads[at] + chrono::TimeDelta::seconds(into);
            cutoff.format("%Y-%m-%d %H:%M:%S").to_string()
        })
        .collect()
}

/// The seeded generator of the random cases (killed.rs's).
struct Lcg(u64);

impl Lcg {
    /// The next number in [0, 1), in thousandths.
    fn fraction(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % 1000) as f64 / 1000.0
    }
}
