//! Which statements of a window run inside its transaction.
//!
//! Where DDL is transactional (DuckDB) a window is two transactions: its setup statements, then
//! everything else (`execute` says why setup commits apart). Snowflake commits every DDL
//! statement at once, and any open transaction with it; BigQuery allows only DML in one. There a
//! window runs every DDL statement first, each committing on its own and each safe to repeat:
//! schemas, stored tables when missing, and every table a statement makes and fills, as an empty
//! shape. Then every row is written inside one transaction: those tables filled with INSERT (a
//! stored one emptied first), the stored tables and the manifests. A run killed anywhere leaves
//! the previous state, with at most empty scratch tables and empty new stored tables beside it.

use serde_json::json;

use super::writer::{Statement, StatementKind, render_checked};
use crate::dag::Stage;
use crate::dialect::Dialect;
use crate::error::Result;

/// A window's statements: those run (and committed) before its transaction, and its transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    pub before: Vec<Statement>,
    pub transaction: Vec<Statement>,
}

impl WindowPlan {
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.before.iter().chain(&self.transaction)
    }
}

/// `without_transactions` names the run state table where the warehouse has no transactions at
/// all: its delete then comes first among the row writes, so from the first row written until
/// the run state is written again, last, there is none (the next run rebuilds everything).
pub fn window_plan(
    statements: Vec<Statement>,
    dialect: &dyn Dialect,
    transactional_ddl: bool,
    without_transactions: Option<&str>,
) -> Result<WindowPlan> {
    if transactional_ddl {
        let setup = statements
            .iter()
            .take_while(|s| s.stage == Stage::Setup)
            .count();
        let mut before = statements;
        let transaction = before.split_off(setup);
        return Ok(WindowPlan {
            before,
            transaction,
        });
    }
    let mut plan = WindowPlan {
        before: Vec::new(),
        transaction: Vec::new(),
    };
    for statement in statements {
        match &statement.kind {
            StatementKind::Ddl => plan.before.push(statement),
            StatementKind::Dml => plan.transaction.push(statement),
            StatementKind::Fill {
                table,
                query,
                persistent,
                temporary,
                layout,
            } => {
                let stage = statement.stage;
                let context = json!({"table": table, "query": query, "persistent": persistent,
                    "temporary": temporary, "layout": layout});
                plan.before.push(Statement {
                    stage,
                    sql: render_checked(dialect, stage.name(), "fill_shape.sql", &context)?,
                    kind: StatementKind::Ddl,
                });
                if *persistent {
                    plan.transaction.push(Statement {
                        stage,
                        sql: render_checked(dialect, stage.name(), "delete_all.sql", &context)?,
                        kind: StatementKind::Dml,
                    });
                }
                plan.transaction.push(Statement {
                    stage,
                    sql: render_checked(dialect, stage.name(), "fill_insert.sql", &context)?,
                    kind: StatementKind::Dml,
                });
            }
        }
    }
    if let Some(run_state) = without_transactions {
        let delete = format!("DELETE FROM {run_state} ");
        if let Some(at) = plan
            .transaction
            .iter()
            .position(|s| s.sql.starts_with(&delete))
        {
            let statement = plan.transaction.remove(at);
            plan.transaction.insert(0, statement);
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &str, kind: StatementKind) -> Statement {
        Statement {
            stage: Stage::Attributes,
            sql: sql.into(),
            kind,
        }
    }

    #[test]
    fn without_transactional_ddl_every_ddl_runs_first_and_fills_become_inserts() {
        let dialect = crate::dialect::for_name("snowflake").unwrap();
        let fill = |table: &str, persistent| StatementKind::Fill {
            table: table.into(),
            query: "SELECT 1 AS X".into(),
            persistent,
            temporary: false,
            layout: String::new(),
        };
        let statements = vec![
            statement("CREATE SCHEMA IF NOT EXISTS S", StatementKind::Ddl),
            statement(
                "CREATE OR REPLACE TABLE S.A AS SELECT 1 AS X",
                fill("S.A", false),
            ),
            statement("DELETE FROM S.B WHERE 1 = 1", StatementKind::Dml),
            statement(
                "CREATE OR REPLACE TABLE S.C AS SELECT 1 AS X",
                fill("S.C", true),
            ),
        ];
        let plan = window_plan(statements, dialect.as_ref(), false, None).unwrap();
        let before: Vec<&str> = plan.before.iter().map(|s| s.sql.as_str()).collect();
        let transaction: Vec<&str> = plan.transaction.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            before,
            [
                "CREATE SCHEMA IF NOT EXISTS S",
                "CREATE OR REPLACE TABLE S.A AS\nSELECT * FROM (\nSELECT 1 AS X\n) AS shape WHERE 1 = 0",
                "CREATE TABLE IF NOT EXISTS S.C AS\nSELECT * FROM (\nSELECT 1 AS X\n) AS shape WHERE 1 = 0",
            ]
        );
        assert_eq!(
            transaction,
            [
                "INSERT INTO S.A\nSELECT 1 AS X",
                "DELETE FROM S.B WHERE 1 = 1",
                "DELETE FROM S.C WHERE 1 = 1",
                "INSERT INTO S.C\nSELECT 1 AS X",
            ]
        );
    }
}
