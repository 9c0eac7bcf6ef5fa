//! One window's statements on the warehouse: those before its transaction (committed each on
//! its own, or together where DDL is transactional), then its transaction. Where the warehouse
//! runs several statements in one request (`Warehouse::execute_script`: BigQuery's scripts,
//! Snowflake's multi-statement requests), each part is one request; elsewhere they go one by
//! one. Either way each statement's time and statistics go to its stage's report.
//!
//! Where DDL is transactional the statements before the window's transaction (setup: schemas,
//! and the stored tables: dropped on a full refresh, created if missing) commit in a transaction
//! of their own. DuckDB misreads a table created and bulk-filled in one transaction (aggregates
//! over it see no rows: its statistics still say empty), so no stored table may be born in the
//! transaction that fills it. A crash between the two leaves empty tables and no run state, from
//! which the next run rebuilds every table: what the full refresh or first run would have built.
//! Elsewhere each of them commits on its own (`render::window_plan` says why that is safe).
//!
//! The fence (the run lease's check) runs inside the window's transaction just before its last
//! statement, which writes the run state: a run that lost its lease writes no state, and where
//! there are transactions commits nothing. In a script the fence is two statements of it, the
//! second failing unless the lease is still this run's (`lease::Fence`), so the script stops
//! before its COMMIT and its transaction rolls back; the lease is then read to name the holder.

use std::time::{Duration, Instant};

use super::StageReport;
use crate::error::{Error, Result};
use crate::lease::Fence;
use crate::render::{Statement, WindowPlan};
use crate::report::{Event, Reporter};
use crate::warehouse::{ScriptFailure, ScriptRun, ScriptStep, Warehouse};

/// What a window's statements took.
#[derive(Debug, Default)]
pub struct WindowRun {
    pub stages: Vec<StageReport>,
    /// Wall time of the commits sent on their own.
    pub commit_time: Duration,
    /// Requests sent: one per statement, BEGIN and COMMIT (where there are transactions) and
    /// fence statement, or what each script took (the script, and reading its statements'
    /// statistics).
    pub requests: usize,
}

/// Runs `plan` on `warehouse`, `fence` before the transaction's last statement.
pub fn execute(
    warehouse: &mut dyn Warehouse,
    plan: &WindowPlan,
    fence: Option<&Fence>,
    reporter: &mut dyn Reporter,
) -> Result<WindowRun> {
    let before_in_transaction = warehouse.transactional_ddl();
    let mut part = Parts {
        warehouse,
        reporter,
        run: WindowRun::default(),
    };
    part.execute(&plan.before, before_in_transaction, None)?;
    part.execute(&plan.transaction, true, fence)?;
    Ok(part.run)
}

struct Parts<'a> {
    warehouse: &'a mut dyn Warehouse,
    reporter: &'a mut dyn Reporter,
    run: WindowRun,
}

impl Parts<'_> {
    /// Runs `statements`, in one transaction when `transaction`, `fence` before the last one.
    fn execute(
        &mut self,
        statements: &[Statement],
        transaction: bool,
        fence: Option<&Fence>,
    ) -> Result<()> {
        let Some(first) = statements.first() else {
            return Ok(());
        };
        stop_if_requested(first)?;
        let script = Script::new(statements, fence);
        if let Some(outcome) = self.warehouse.execute_script(&script.sql, transaction) {
            return self.record_script(statements, &script, outcome);
        }
        if !transaction {
            return self.one_by_one(statements, None);
        }
        let sent_apart = usize::from(self.warehouse.transactions());
        self.warehouse.begin()?;
        self.run.requests += sent_apart;
        if let Err(error) = self.one_by_one(statements, fence) {
            // the failure is what the user needs to see; a failed rollback adds nothing to it
            let _ = self.warehouse.rollback();
            return Err(error);
        }
        let started = Instant::now();
        self.warehouse.commit()?;
        self.run.commit_time += started.elapsed();
        self.run.requests += sent_apart;
        Ok(())
    }

    fn one_by_one(&mut self, statements: &[Statement], fence: Option<&Fence>) -> Result<()> {
        for (position, statement) in statements.iter().enumerate() {
            stop_if_requested(statement)?;
            if position + 1 == statements.len()
                && let Some(fence) = fence
            {
                fence.check(self.warehouse)?;
                self.run.requests += 2;
            }
            let started = Instant::now();
            let result = self.warehouse.execute(&statement.sql);
            self.run.requests += 1;
            let step = ScriptStep {
                took: started.elapsed(),
                stats: self.warehouse.last_statement_stats(),
            };
            self.add(statement, step);
            result.map_err(|error| in_stage(statement, error))?;
            self.report_if_stage_ends(statements, position);
        }
        Ok(())
    }

    fn record_script(
        &mut self,
        statements: &[Statement],
        script: &Script,
        outcome: std::result::Result<ScriptRun, ScriptFailure>,
    ) -> Result<()> {
        match outcome {
            Ok(ScriptRun { steps, requests }) => {
                self.run.requests += requests;
                let steps = steps
                    .into_iter()
                    .enumerate()
                    .filter(|(at, _)| script.statement_at(*at).is_some())
                    .map(|(_, step)| step);
                for (position, (statement, step)) in statements.iter().zip(steps).enumerate() {
                    self.add(statement, step);
                    self.report_if_stage_ends(statements, position);
                }
                Ok(())
            }
            Err(ScriptFailure { at, error }) => {
                self.run.requests += 1;
                match (script.statement_at(at), script.fence) {
                    (Some(index), _) => Err(in_stage(&statements[index], error)),
                    (None, Some(fence)) if at == script.fence_at + 1 => {
                        self.run.requests += 1;
                        Err(fence.lost(self.warehouse, error))
                    }
                    (None, _) => Err(in_stage(&statements[statements.len() - 1], error)),
                }
            }
        }
    }

    /// Adds a statement's time and statistics to its stage's report.
    fn add(&mut self, statement: &Statement, step: ScriptStep) {
        let stages = &mut self.run.stages;
        let at = match stages.iter().position(|s| s.stage == statement.stage) {
            Some(at) => at,
            None => {
                stages.push(StageReport::new(statement.stage));
                stages.len() - 1
            }
        };
        stages[at].add(step.took, step.stats);
    }

    /// Reports the stage of statement `position` when the next statement belongs to another.
    fn report_if_stage_ends(&mut self, statements: &[Statement], position: usize) {
        let stage = statements[position].stage;
        if statements
            .get(position + 1)
            .is_some_and(|next| next.stage == stage)
        {
            return;
        }
        if let Some(report) = self.run.stages.iter().find(|s| s.stage == stage) {
            self.reporter.report(Event::StageFinished {
                stage: report.stage.name(),
                duration: report.duration,
                rows: None,
                bytes: report.bytes_processed,
            });
        }
    }
}

/// A part's statements as one script: where a fence guards the part, its statements go just
/// before the last one (which writes the run state), so the script stops there when the lease
/// was lost.
struct Script<'a> {
    sql: Vec<&'a str>,
    fence: Option<&'a Fence>,
    /// Where the fence's statements start in `sql` (past the end without a fence).
    fence_at: usize,
}

impl<'a> Script<'a> {
    fn new(statements: &'a [Statement], fence: Option<&'a Fence>) -> Script<'a> {
        let mut sql: Vec<&str> = statements.iter().map(|s| s.sql.as_str()).collect();
        let fence_at = match fence {
            Some(fence) => {
                let at = sql.len() - 1;
                sql.splice(at..at, fence.statements());
                at
            }
            None => sql.len(),
        };
        Script {
            sql,
            fence,
            fence_at,
        }
    }

    /// Which of the part's statements the script's statement `at` is (`None`: the fence's).
    fn statement_at(&self, at: usize) -> Option<usize> {
        let fence_length = if self.fence.is_some() { 2 } else { 0 };
        match at {
            at if at < self.fence_at => Some(at),
            at if at < self.fence_at + fence_length => None,
            at => Some((at - fence_length).min(self.sql.len() - fence_length - 1)),
        }
    }
}

fn stop_if_requested(next: &Statement) -> Result<()> {
    if crate::cancel::requested() {
        return Err(crate::cancel::stopped(format!(
            "interrupted before stage `{}`",
            next.stage.name()
        )));
    }
    Ok(())
}

/// `error` naming the stage of the statement that failed.
fn in_stage(statement: &Statement, error: Error) -> Error {
    match error {
        Error::Stage {
            message,
            hint,
            user_fixable,
            ..
        } => Error::Stage {
            stage: statement.stage.name().to_string(),
            message,
            hint,
            user_fixable,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::Stage;
    use crate::render::StatementKind;

    #[test]
    fn the_fence_goes_before_the_last_statement_and_maps_back() {
        let statements: Vec<Statement> = ["INSERT a", "INSERT b", "INSERT state"]
            .map(|sql| Statement {
                stage: Stage::Attributes,
                sql: sql.into(),
                kind: StatementKind::Dml,
            })
            .to_vec();
        let fence = Fence {
            renew: "UPDATE lease".into(),
            read: "SELECT holder".into(),
            assert: "SELECT CAST".into(),
            holder: "me".into(),
        };
        let script = Script::new(&statements, Some(&fence));
        assert_eq!(
            script.sql,
            [
                "INSERT a",
                "INSERT b",
                "UPDATE lease",
                "SELECT CAST",
                "INSERT state"
            ]
        );
        let mapped: Vec<Option<usize>> = (0..6).map(|at| script.statement_at(at)).collect();
        assert_eq!(mapped, [Some(0), Some(1), None, None, Some(2), Some(2)]);
        let plain = Script::new(&statements, None);
        assert_eq!(plain.sql, ["INSERT a", "INSERT b", "INSERT state"]);
        assert_eq!(plain.statement_at(2), Some(2));
    }
}
