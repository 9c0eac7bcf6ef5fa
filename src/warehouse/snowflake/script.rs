//! A window's statements as one Snowflake multi-statement request: one `query-request` whose
//! text holds them all, with the statement parameter `MULTI_STATEMENT_COUNT` set to their
//! number (Snowflake refuses the request, running nothing, when it counts otherwise). Snowflake
//! runs them one after another as child queries and answers with their query ids
//! (`resultIds`); a child that fails stops the request, and a transaction the request began and
//! left open rolls back (multi-statement requests run as a stored procedure, and Snowflake rolls
//! back a transaction a procedure leaves open). So BEGIN, the window's writes and COMMIT go in
//! one request, and a statement that fails keeps everything before it uncommitted.
//!
//! Each child's time is read back in one query of the session's query history
//! (`QUERY_HISTORY_BY_SESSION`), so stage timings and query ids stay as fine as with one request
//! per statement: two requests per script instead of one per statement.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use super::client::{Client, json_results};
use crate::dialect::Snowflake;
use crate::error::{Error, Result};
use crate::warehouse::{ScriptStep, StatementStats};

/// A script's text and where each of its statements starts.
pub struct Script {
    pub text: String,
    /// The line (from 1) each statement of the text starts on, BEGIN and COMMIT included.
    starts: Vec<usize>,
    transaction: bool,
    /// The statements the script was made of (BEGIN and COMMIT not counted).
    count: usize,
}

impl Script {
    /// The script running `statements` in order, inside one transaction when `transaction`;
    /// every statement starts on a line of its own.
    pub fn new(statements: &[&str], transaction: bool) -> Script {
        let mut text = String::new();
        let mut starts = Vec::new();
        let mut line = 1;
        let mut push = |statement: &str| {
            let statement = statement.trim().trim_end_matches(';').trim_end();
            starts.push(line);
            text.push_str(statement);
            // a `;` after a trailing `--` comment would be commented out
            let ends_in_comment = statement.lines().last().is_some_and(|l| l.contains("--"));
            text.push_str(if ends_in_comment { "\n;\n" } else { ";\n" });
            line += statement.lines().count().max(1) + usize::from(ends_in_comment);
        };
        if transaction {
            push("BEGIN TRANSACTION");
        }
        for statement in statements {
            push(statement);
        }
        if transaction {
            push("COMMIT");
        }
        Script {
            text,
            starts,
            transaction,
            count: statements.len(),
        }
    }

    /// How many statements the request holds (BEGIN and COMMIT included).
    pub fn statements(&self) -> usize {
        self.starts.len()
    }

    /// Which of the script's statements (BEGIN and COMMIT not counted) Snowflake's error names
    /// by the line it says the failed statement starts on ("(at line 3, position 0)"): the
    /// first when it names none, the last for a failed COMMIT.
    pub fn failed_statement(&self, message: &str) -> usize {
        let line = message
            .find("(at line ")
            .map(|at| &message[at + "(at line ".len()..])
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.trim().parse::<usize>().ok());
        let Some(line) = line else { return 0 };
        let in_script = self.starts.iter().rposition(|&start| start <= line);
        let Some(in_script) = in_script else { return 0 };
        in_script
            .saturating_sub(usize::from(self.transaction))
            .min(self.count.saturating_sub(1))
    }

    /// What each statement took and its query id: `children` are the ids of every statement of
    /// the request in order, `elapsed` the history's time of each id. Where Snowflake listed
    /// other than one id per statement, the request's own time and id go to the first.
    pub fn steps(
        &self,
        children: &[String],
        elapsed: &HashMap<String, Duration>,
        parent: Option<String>,
        took: Duration,
    ) -> Vec<ScriptStep> {
        if children.len() != self.statements() {
            let mut steps = vec![ScriptStep::default(); self.count];
            if let Some(first) = steps.first_mut() {
                first.took = took;
                first.stats.id = parent;
            }
            return steps;
        }
        let skip = usize::from(self.transaction);
        children[skip..skip + self.count]
            .iter()
            .map(|id| ScriptStep {
                took: elapsed.get(id).copied().unwrap_or_default(),
                stats: StatementStats {
                    id: Some(id.clone()),
                    ..StatementStats::default()
                },
            })
            .collect()
    }
}

impl Client {
    /// Runs `script` as one multi-statement request; the query ids of its statements, in order.
    pub fn run_script(&mut self, script: &Script) -> Result<Vec<String>> {
        let mut parameters = json_results();
        parameters.insert(
            "MULTI_STATEMENT_COUNT".into(),
            json!(script.statements().to_string()),
        );
        let answer = self.submit(&script.text, parameters)?;
        let ids = answer["data"]["resultIds"].as_str().ok_or_else(|| {
            Error::Internal(
                "snowflake answered a multi-statement request without its statements' ids (`resultIds`)"
                    .into(),
            )
        })?;
        Ok(ids.split(',').map(|id| id.trim().to_string()).collect())
    }

    /// How long each of the queries `ids` took, from this session's query history; empty where
    /// the history cannot be read (a timing is not worth failing a committed window for).
    pub fn elapsed(&mut self, ids: &[String]) -> HashMap<String, Duration> {
        let Ok(result) = self.run(&Snowflake.query_history_query(ids)) else {
            return HashMap::new();
        };
        result
            .rows
            .into_iter()
            .filter_map(|row| {
                let id = row.first().cloned().flatten()?;
                let millis = row.get(1).cloned().flatten()?.parse::<f64>().ok()?;
                Some((id, Duration::from_secs_f64(millis.max(0.0) / 1000.0)))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_script_begins_and_commits_each_statement_on_its_own_line() {
        let script = Script::new(
            &["DELETE FROM t\nWHERE TRUE;", "INSERT INTO t SELECT 1"],
            true,
        );
        assert_eq!(
            script.text,
            "BEGIN TRANSACTION;\nDELETE FROM t\nWHERE TRUE;\nINSERT INTO t SELECT 1;\nCOMMIT;\n"
        );
        assert_eq!(script.statements(), 4);
        let plain = Script::new(&["SELECT 1 -- one", "SELECT 2"], false);
        assert_eq!(plain.text, "SELECT 1 -- one\n;\nSELECT 2;\n");
        assert_eq!(plain.failed_statement("(at line 3, position 0)."), 1);
    }

    #[test]
    fn the_line_snowflake_names_gives_the_failed_statement() {
        let statements = [
            "CREATE TABLE a\nAS SELECT 1",
            "DELETE FROM a\nWHERE x",
            "SELECT 2",
        ];
        let script = Script::new(&statements, true);
        // BEGIN on line 1; the statements start on lines 2, 4 and 6; COMMIT on 7
        let at = |line: usize| {
            script.failed_statement(&format!(
                "JavaScript execution error: Uncaught Execution of multiple statements failed on \
                 statement \"DELETE FROM a...\" (at line {line}, position 0).\nboom"
            ))
        };
        assert_eq!((at(1), at(2), at(4), at(6), at(7)), (0, 0, 1, 2, 2));
        assert_eq!(
            script.failed_statement("Numeric value 'x' is not recognized"),
            0
        );
    }

    #[test]
    fn each_statement_gets_its_child_s_id_and_time() {
        let script = Script::new(&["INSERT INTO a SELECT 1", "INSERT INTO b SELECT 2"], true);
        let ids: Vec<String> = ["begin", "one", "two", "commit"]
            .map(str::to_string)
            .to_vec();
        let elapsed = HashMap::from([("two".to_string(), Duration::from_millis(40))]);
        let steps = script.steps(&ids, &elapsed, None, Duration::from_secs(1));
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].stats.id.as_deref(), Some("one"));
        assert_eq!(steps[0].took, Duration::ZERO);
        assert_eq!(steps[1].took, Duration::from_millis(40));
        // not one id per statement: the request's time and id go to the first
        let steps = script.steps(
            &ids[..2],
            &elapsed,
            Some("parent".into()),
            Duration::from_secs(1),
        );
        assert_eq!(steps[0].stats.id.as_deref(), Some("parent"));
        assert_eq!(steps[0].took, Duration::from_secs(1));
        assert_eq!(steps[1], ScriptStep::default());
    }
}
