//! A window's statements as one BigQuery script: one multi-statement job instead of one job per
//! statement, each of which costs about a second before any work. BigQuery runs each statement
//! of a script as a child job; their statistics (time, bytes) are read back per statement, so
//! stage timings and job ids stay as fine as with one job per statement.

use std::time::Duration;

use serde_json::Value;

use super::client::{Client, Verb, final_error, number};
use crate::error::Result;
use crate::warehouse::{ScriptStep, StatementStats};

/// The script running `statements` in order, inside one transaction when `transaction`.
pub fn script_text(statements: &[&str], transaction: bool) -> String {
    let mut script = String::new();
    if transaction {
        script.push_str("BEGIN TRANSACTION;\n");
    }
    for statement in statements {
        script.push_str(statement.trim_end().trim_end_matches(';'));
        script.push_str(";\n");
    }
    if transaction {
        script.push_str("COMMIT TRANSACTION;\n");
    }
    script
}

/// Which of `count` statements a script's error names, by the `[line:column]` BigQuery ends a
/// script's error with (each statement starts on a line of its own); the first when it says
/// none.
pub fn failed_statement(message: &str, statements: &[&str], transaction: bool) -> usize {
    let line = message
        .rfind('[')
        .and_then(|at| message[at + 1..].split(':').next())
        .and_then(|n| n.parse::<usize>().ok());
    let Some(line) = line else { return 0 };
    // the statement whose first line is the last one at or before `line` (lines count from 1)
    let mut first_line = 1 + usize::from(transaction);
    let mut failed = 0;
    for (index, statement) in statements.iter().enumerate() {
        if first_line > line {
            break;
        }
        failed = index;
        first_line += statement
            .trim_end()
            .trim_end_matches(';')
            .lines()
            .count()
            .max(1);
    }
    failed
}

/// What each of `count` statements took and reported, from the script's child jobs (one per
/// statement, and one each for BEGIN and COMMIT in a transaction). Where BigQuery listed other
/// than that, the script's own time and statistics go to its first statement.
pub fn steps(
    count: usize,
    transaction: bool,
    children: Vec<ScriptStep>,
    parent: StatementStats,
    took: Duration,
) -> Vec<ScriptStep> {
    let around = if transaction { 2 } else { 0 };
    if children.len() == count + around {
        let skip = usize::from(transaction);
        return children.into_iter().skip(skip).take(count).collect();
    }
    let mut steps = vec![ScriptStep::default(); count];
    steps[0] = ScriptStep {
        took,
        stats: parent,
    };
    steps
}

impl Client {
    /// The child jobs of script job `parent`, in the order they ran.
    pub fn script_children(&mut self, parent: &str) -> Result<Vec<ScriptStep>> {
        let path = format!("/projects/{}/jobs", self.settings().project);
        let mut query = vec![
            ("parentJobId", parent.to_string()),
            ("projection", "full".to_string()),
            ("maxResults", "1000".to_string()),
        ];
        if let Some(location) = &self.settings().location {
            query.push(("location", location.clone()));
        }
        let answer = self
            .send(Verb::Get, &path, &query, None)
            .map_err(final_error)?;
        let mut children: Vec<(u64, ScriptStep)> = answer["jobs"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|job| (position(job), child(job)))
            .collect();
        children.sort_by_key(|(position, _)| *position);
        Ok(children.into_iter().map(|(_, child)| child).collect())
    }
}

/// Where a child job ran in its script: the number its id ends with (`script_job_..._3`).
fn position(job: &Value) -> u64 {
    job["jobReference"]["jobId"]
        .as_str()
        .and_then(|id| id.rsplit('_').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

fn child(job: &Value) -> ScriptStep {
    let statistics = &job["statistics"];
    let millis = |field: &str| number(&statistics[field]);
    let took = match (millis("startTime"), millis("endTime")) {
        (Some(start), Some(end)) => Duration::from_millis(end.saturating_sub(start)),
        _ => Duration::ZERO,
    };
    ScriptStep {
        took,
        stats: StatementStats {
            id: job["jobReference"]["jobId"].as_str().map(str::to_string),
            bytes_processed: number(&statistics["query"]["totalBytesProcessed"]),
            bytes_billed: number(&statistics["query"]["totalBytesBilled"]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_script_begins_and_commits_around_the_statements() {
        let script = script_text(
            &["DELETE FROM t WHERE TRUE;", "INSERT INTO t SELECT 1"],
            true,
        );
        assert_eq!(
            script,
            "BEGIN TRANSACTION;\nDELETE FROM t WHERE TRUE;\nINSERT INTO t SELECT 1;\nCOMMIT TRANSACTION;\n"
        );
        assert_eq!(
            script_text(&["CREATE SCHEMA IF NOT EXISTS s"], false),
            "CREATE SCHEMA IF NOT EXISTS s;\n"
        );
    }

    #[test]
    fn children_are_ordered_by_their_place_in_the_script() {
        let job = |id: &str, start: u64, end: u64| {
            serde_json::json!({
                "jobReference": {"jobId": id},
                "statistics": {"startTime": start.to_string(), "endTime": end.to_string(),
                               "query": {"totalBytesProcessed": "10"}},
                "status": {"state": "DONE"}
            })
        };
        let mut jobs = [job("script_job_ab_10", 5, 9), job("script_job_ab_2", 1, 4)];
        jobs.sort_by_key(position);
        let first = child(&jobs[0]);
        assert_eq!(first.stats.id.as_deref(), Some("script_job_ab_2"));
        assert_eq!(first.took, Duration::from_millis(3));
        assert_eq!(first.stats.bytes_processed, Some(10));
    }

    #[test]
    fn an_error_s_line_names_the_statement_it_is_in() {
        let statements = [
            "CREATE TABLE a\nAS SELECT 1",
            "DELETE FROM a\nWHERE x",
            "INSERT INTO b SELECT 2",
        ];
        // BEGIN on line 1; the statements start on lines 2, 4 and 6
        let at = |line: usize| {
            failed_statement(
                &format!("Query error: bad thing at [{line}:3]"),
                &statements,
                true,
            )
        };
        assert_eq!(
            (at(2), at(3), at(4), at(5), at(6), at(9)),
            (0, 0, 1, 1, 2, 2)
        );
        assert_eq!(failed_statement("no position given", &statements, true), 0);
    }
}
