//! A warehouse wrapper that stops a run after its k-th statement, as a crash would, and can
//! make DuckDB behave like a warehouse whose DDL commits on its own (Snowflake, BigQuery) or
//! one with no transactions at all (Databricks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sigbatch::Error;
use sigbatch::warehouse::{Row, ScriptFailure, ScriptRun, StatementStats, Warehouse};

/// Which transaction rules the wrapped warehouse shows the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// The warehouse's own.
    Native,
    /// DDL commits on its own; DDL inside a transaction fails the test.
    AutocommitDdl,
    /// Every statement commits on its own: no transactions, nothing rolls back.
    NoTransactions,
}

pub struct Faulty {
    pub inner: Box<dyn Warehouse>,
    /// Statements (including BEGIN and COMMIT) still allowed to run; `usize::MAX` for all.
    pub allowed: Arc<AtomicUsize>,
    /// Statements run, counted across every wrapper sharing it.
    pub executed: Arc<AtomicUsize>,
    pub rules: Rules,
    in_transaction: AtomicBool,
    /// Called with each statement before it runs (what else happens on the warehouse then).
    before: Option<Hook>,
    /// Whether scripts go to the wrapped warehouse (`execute_script`), each statement's hook
    /// called before the script is sent; else statements go one by one.
    scripts: bool,
}

pub type Hook = Box<dyn Fn(&str) + Send>;

impl Faulty {
    pub fn new(
        inner: Box<dyn Warehouse>,
        allowed: Arc<AtomicUsize>,
        executed: Arc<AtomicUsize>,
        rules: Rules,
    ) -> Faulty {
        Faulty {
            inner,
            allowed,
            executed,
            rules,
            in_transaction: AtomicBool::new(false),
            before: None,
            scripts: false,
        }
    }

    /// Passes scripts through to the wrapped warehouse (only where it runs them).
    pub fn with_scripts(mut self) -> Faulty {
        self.scripts = true;
        self
    }

    /// Runs `hook` with each statement before it is executed.
    pub fn before_each(mut self, hook: Hook) -> Faulty {
        self.before = Some(hook);
        self
    }

    fn step(&self, sql: &str) -> sigbatch::Result<()> {
        if let Some(hook) = &self.before {
            hook(sql);
        }
        if self.rules != Rules::Native
            && self.in_transaction.load(Ordering::SeqCst)
            && (sql.starts_with("CREATE") || sql.starts_with("DROP"))
        {
            panic!("DDL inside a transaction, where it would commit on its own:\n{sql}");
        }
        let left = self.allowed.load(Ordering::SeqCst);
        if left == 0 {
            return Err(Error::Internal("injected crash".into()));
        }
        if left != usize::MAX {
            self.allowed.store(left - 1, Ordering::SeqCst);
        }
        self.executed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Warehouse for Faulty {
    fn execute(&mut self, sql: &str) -> sigbatch::Result<()> {
        self.step(sql)?;
        self.inner.execute(sql)
    }

    fn query(&mut self, sql: &str) -> sigbatch::Result<Vec<Row>> {
        self.inner.query(sql)
    }

    fn tables(&mut self, schema: &str) -> sigbatch::Result<Vec<String>> {
        self.inner.tables(schema)
    }

    fn execute_script(
        &mut self,
        statements: &[&str],
        transaction: bool,
    ) -> Option<Result<ScriptRun, ScriptFailure>> {
        if !self.scripts {
            return None;
        }
        self.in_transaction.store(transaction, Ordering::SeqCst);
        for (at, sql) in statements.iter().enumerate() {
            if let Err(error) = self.step(sql) {
                self.in_transaction.store(false, Ordering::SeqCst);
                return Some(Err(ScriptFailure { at, error }));
            }
        }
        self.in_transaction.store(false, Ordering::SeqCst);
        self.inner.execute_script(statements, transaction)
    }

    fn transactional_ddl(&self) -> bool {
        self.rules == Rules::Native && self.inner.transactional_ddl()
    }

    fn transactions(&self) -> bool {
        self.rules != Rules::NoTransactions && self.inner.transactions()
    }

    fn lease_connection(&self) -> sigbatch::Result<Option<Box<dyn Warehouse + Send>>> {
        self.inner.lease_connection()
    }

    fn fences_in_transaction(&self) -> bool {
        self.inner.fences_in_transaction()
    }

    fn begin(&mut self) -> sigbatch::Result<()> {
        if !self.transactions() {
            return Ok(());
        }
        self.step("BEGIN")?;
        self.in_transaction.store(true, Ordering::SeqCst);
        self.inner.begin()
    }

    fn commit(&mut self) -> sigbatch::Result<()> {
        if !self.transactions() {
            return Ok(());
        }
        self.step("COMMIT")?;
        self.in_transaction.store(false, Ordering::SeqCst);
        self.inner.commit()
    }

    fn rollback(&mut self) -> sigbatch::Result<()> {
        if !self.transactions() {
            return Ok(());
        }
        self.in_transaction.store(false, Ordering::SeqCst);
        self.inner.rollback()
    }

    fn table_exists(&mut self, schema: &str, table: &str) -> sigbatch::Result<bool> {
        self.inner.table_exists(schema, table)
    }

    fn last_statement_stats(&self) -> StatementStats {
        self.inner.last_statement_stats()
    }

    fn estimate_bytes(&mut self, sql: &str) -> sigbatch::Result<Option<u64>> {
        self.inner.estimate_bytes(sql)
    }

    fn columns(&mut self, schema: &str, table: &str) -> sigbatch::Result<Vec<String>> {
        self.inner.columns(schema, table)
    }

    fn events_columns(
        &mut self,
        catalog: Option<&str>,
        schema: &str,
        table: &str,
    ) -> sigbatch::Result<Vec<String>> {
        self.inner.events_columns(catalog, schema, table)
    }
}

/// Runs `project` (exact catch-up to `now`) with at most `allowed` statements; returns the
/// outcome and how many statements ran.
pub fn run_faulty(
    project: &super::TempProject,
    allowed: usize,
    rules: Rules,
    now: &str,
) -> (sigbatch::Result<String>, usize) {
    run_hooked(project, allowed, rules, now, &|| None)
}

/// `run_faulty`, with `hook()` called before each statement of the run's connection.
pub fn run_hooked(
    project: &super::TempProject,
    allowed: usize,
    rules: Rules,
    now: &str,
    hook: &dyn Fn() -> Option<Hook>,
) -> (sigbatch::Result<String>, usize) {
    run_wrapped(project, allowed, rules, now, hook, false)
}

/// `run_hooked` running every statement, in scripts where the warehouse runs them (the hook
/// sees each statement of a script before the script is sent).
pub fn run_hooked_in_scripts(
    project: &super::TempProject,
    now: &str,
    hook: &dyn Fn() -> Option<Hook>,
) -> (sigbatch::Result<String>, usize) {
    run_wrapped(project, usize::MAX, Rules::Native, now, hook, true)
}

fn run_wrapped(
    project: &super::TempProject,
    allowed: usize,
    rules: Rules,
    now: &str,
    hook: &dyn Fn() -> Option<Hook>,
    scripts: bool,
) -> (sigbatch::Result<String>, usize) {
    let allowed = Arc::new(AtomicUsize::new(allowed));
    let executed = Arc::new(AtomicUsize::new(0));
    let settings = sigbatch::commands::RunSettings {
        project: project.args(),
        windows: sigbatch::load_window::WindowSettings {
            full_refresh: false,
            until: None,
            max_windows: None,
            now: super::timestamp(now),
        },
        dry_run: false,
        lock_timeout: std::time::Duration::ZERO,
        artifacts_dir: None,
        lineage: Default::default(),
    };
    let mut out = Vec::new();
    let wrap = |inner: Box<dyn Warehouse>| -> Box<dyn Warehouse> {
        let faulty = Faulty::new(inner, Arc::clone(&allowed), Arc::clone(&executed), rules);
        let faulty = if scripts {
            faulty.with_scripts()
        } else {
            faulty
        };
        Box::new(match hook() {
            Some(hook) => faulty.before_each(hook),
            None => faulty,
        })
    };
    let result =
        sigbatch::commands::run_with(&settings, &mut out, &mut sigbatch::report::Silent, &wrap)
            .map(|()| String::from_utf8(out).unwrap());
    (result, executed.load(Ordering::SeqCst))
}
