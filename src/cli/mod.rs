//! Command-line flags (clap): the commands here, the flags they share in `flags.rs`. Only
//! `main.rs` uses this; the library never imports clap.

mod flags;

use std::path::PathBuf;

pub use flags::{LineageFlags, ProjectFlags, ScopeFlags, SignalsFlags};

use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};
use sigbatch::project::profiles::WarehouseKind;

#[derive(Parser, Debug)]
#[command(
    name = "sigbatch",
    version,
    about = "Computes Snowplow Signals batch attributes incrementally, straight on the warehouse.",
    long_about = "Computes Snowplow Signals batch attributes incrementally, straight on the warehouse.\n\n\
                  A project directory holds sigbatch.yml (the attribute group file, semantics and vars) and \
                  finds profiles.yml as dbt does.\n\n\
                  Exit codes (stable; schedulers may branch on them):\n  \
                  0    success, including a run with nothing to do\n  \
                  2    a problem with your input or the warehouse's contents (fix and rerun)\n  \
                  3    an internal or warehouse failure (retry, or report it)\n  \
                  4    another run holds the project's lock or lease (retry later, or --lock-timeout)\n  \
                  124  stopped by --timeout (what was committed stands)\n  \
                  130  cancelled by SIGINT/SIGTERM (what was committed stands)\n\n\
                  A workspace (several projects, --workspace or --project-dir repeated) exits with the worst of its \
                  groups' codes, in the order 130, 124, 4, 3, 2, 0.\n\n\
                  Progress and logs go to stderr (--log-format json: one JSON object per line); data to stdout.",
    after_help = "Examples:\n  sigbatch demo\n  sigbatch init --attribute-group group.json --project-dir my_project\n  \
                  sigbatch run --project-dir my_project\n  sigbatch compile --project-dir my_project --dialect snowflake\n  \
                  sigbatch init --from-api --attribute-group-name my_group --project-dir my_project\n  \
                  sigbatch sync --project-dir my_project"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Print no progress on stderr, only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Progress and logs on stderr as text lines, or as one JSON object per line.
    #[arg(
        long,
        global = true,
        env = "SIGBATCH_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline: load windows until caught up, then rebuild the attributes table.
    #[command(after_help = "Examples:\n  sigbatch run --project-dir my_project\n  \
                            sigbatch run --project-dir my_project --until '2025-03-01 00:00:00'\n  \
                            sigbatch run --project-dir my_project --dry-run\n  \
                            sigbatch run --project-dir my_project --full-refresh\n  \
                            sigbatch run --workspace deployment/sigbatch_workspace.yml\n  \
                            sigbatch run --project-dir users --project-dir sessions --select users_1")]
    Run {
        #[command(flatten)]
        project: ScopeFlags,

        /// Rebuild every table from snowplow__start_date (refused on non-dev targets unless
        /// snowplow__allow_refresh is true).
        #[arg(long)]
        full_refresh: bool,

        /// Read only events loaded at or before this instant (UTC), e.g. Airflow's
        /// data_interval_end.
        #[arg(long, value_name = "TIMESTAMP")]
        until: Option<String>,

        /// Process at most N load windows in this invocation (exact mode catches up by default).
        #[arg(long, value_name = "N")]
        max_windows: Option<u32>,

        /// Print the statements the next window would execute; write nothing.
        #[arg(long)]
        dry_run: bool,

        /// Seconds to wait for another run of the same database to finish (default: fail at once).
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        lock_timeout: u64,

        /// Where to write run_results.json (what the run did, also when it fails); default
        /// target/ in the project directory. For a workspace, where the workspace's own goes
        /// (default target/ beside the workspace file; each project still writes its own).
        /// Not written by --dry-run.
        #[arg(long, value_name = "DIR")]
        artifacts_dir: Option<PathBuf>,

        /// Stop the whole invocation after this long, as SIGTERM would (cancel the running
        /// statement, roll the window back, exit 124), e.g. 90s, 30m, 2h.
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,

        #[command(flatten)]
        lineage: LineageFlags,
    },

    /// Show what the next `run` would do, writing nothing: its load windows, the events in
    /// each, the event dates it would aggregate and why, the keys it would recompute.
    #[command(after_help = "Examples:\n  sigbatch plan --project-dir my_project\n  \
                            sigbatch plan --project-dir my_project --until '2025-03-01 00:00:00' --json")]
    Plan {
        #[command(flatten)]
        project: ScopeFlags,

        /// Plan a --full-refresh run.
        #[arg(long)]
        full_refresh: bool,

        /// As `run --until`: only events loaded at or before this instant (UTC).
        #[arg(long, value_name = "TIMESTAMP")]
        until: Option<String>,

        /// As `run --max-windows`.
        #[arg(long, value_name = "N")]
        max_windows: Option<u32>,

        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Print every stage's SQL for a first run, with no warehouse connection.
    #[command(
        after_help = "Examples:\n  sigbatch compile --project-dir my_project\n  \
                            sigbatch compile --project-dir my_project --dialect bigquery > run.sql"
    )]
    Compile {
        #[command(flatten)]
        project: ScopeFlags,

        /// The warehouse whose SQL to render (a profile `type:`); else the target's type, else
        /// duckdb.
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,

        /// Render the statements of a --full-refresh run.
        #[arg(long)]
        full_refresh: bool,
    },

    /// Write the pipeline as a dbt project (same plan, same SQL), or check an earlier export.
    #[command(
        name = "export-dbt",
        after_help = "Examples:\n  sigbatch export-dbt --project-dir my_project --out my_dbt_project\n  \
                      sigbatch export-dbt --project-dir my_project --out my_dbt_project --dialect snowflake\n  \
                      sigbatch export-dbt --project-dir my_project --out my_dbt_project --check"
    )]
    ExportDbt {
        #[command(flatten)]
        project: ProjectFlags,

        /// The directory to write the dbt project to (replaced if an earlier export).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,

        /// The warehouse to export for (a profile `type:`; not databricks yet); else the target's
        /// type, else duckdb.
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,

        /// Write nothing; exit 2 naming the files that differ from what would be written.
        #[arg(long)]
        check: bool,
    },

    /// Show the watermark, the daily aggregation manifest, deferred dates and row counts.
    #[command(
        after_help = "Examples:\n  sigbatch status --project-dir my_project\n  sigbatch status --project-dir my_project --json"
    )]
    Status {
        #[command(flatten)]
        project: ScopeFlags,
        /// Print one JSON object (watermark, pending keys, daily manifest, deferred dates, row
        /// counts) instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Check the project and its attribute group, and that the SQL parses; no warehouse.
    #[command(after_help = "Example:\n  sigbatch validate --project-dir my_project")]
    Validate {
        #[command(flatten)]
        project: ScopeFlags,
    },

    /// Create a project from an attribute group file (the Signals API JSON), or from the groups
    /// Signals serves (--from-api).
    #[command(
        after_help = "Examples:\n  sigbatch init --attribute-group group.json --project-dir my_project\n  \
                            sigbatch init --from-api --attribute-group-name my_group --project-dir my_project\n  \
                            sigbatch init --from-api --target-type snowflake --project-dir projects   # one directory per group\n\n\
                            --from-api reads the groups with the Signals options below (or SNOWPLOW_* variables). \
                            Run again to refresh the files it wrote; a file changed since is kept unless --force."
    )]
    Init {
        /// The attribute group JSON, as the Signals API returns it.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "from_api",
            conflicts_with = "from_api"
        )]
        attribute_group: Option<PathBuf>,

        /// Take the attribute group(s) from the Signals API.
        #[arg(long)]
        from_api: bool,

        /// The directory to create the project in (with --from-api and no group name: the
        /// directory to create one project per group in, as NAME_VERSION).
        #[arg(long, default_value = ".", value_name = "DIR")]
        project_dir: PathBuf,

        /// exact (what users mean) or compat (reproduces the upstream dbt project).
        #[arg(long, default_value = "exact")]
        semantics: String,

        /// The DuckDB file the generated profile points at, relative to the project.
        #[arg(long, default_value = "warehouse.duckdb", value_name = "PATH")]
        database: String,

        /// The warehouse whose syntax the group's properties come in; else the `sigbatch`
        /// profile's type (--from-api).
        #[arg(long, value_parser = PossibleValuesParser::new(WarehouseKind::SIGNALS.map(WarehouseKind::name)), requires = "from_api")]
        target_type: Option<String>,

        /// The group to take; else every group, each at its highest version (--from-api).
        #[arg(long, value_name = "NAME", requires = "from_api")]
        attribute_group_name: Option<String>,

        /// The version of the named group; else its highest (--from-api).
        #[arg(long, value_name = "N", requires = "attribute_group_name")]
        attribute_group_version: Option<u32>,

        /// Replace files changed since init wrote them (--from-api).
        #[arg(long, requires = "from_api")]
        force: bool,

        /// Where to look for the `sigbatch` profile (for the default --target-type).
        #[arg(long, value_name = "DIR")]
        profiles_dir: Option<PathBuf>,

        #[command(flatten)]
        signals: SignalsFlags,
    },

    /// Publish the project's group to Signals with its attributes table as the batch source
    /// (the SDK 0.4.10 calls; the older batch_source and publish calls where an API lacks them).
    #[command(
        after_help = "Examples:\n  sigbatch sync --project-dir my_project --dry-run\n  \
                            SNOWPLOW_API_URL=https://... SNOWPLOW_API_KEY=... SNOWPLOW_API_KEY_ID=... SNOWPLOW_ORG_ID=... \\\n    \
                            sigbatch sync --project-dir my_project --owner data-team@example.com\n  \
                            sigbatch sync --project-dir my_project --auth-mode sandbox --sandbox-token ...\n\n\
                            The table is the target's <schema>_derived.<name>_attributes (database: Snowflake's \
                            database, BigQuery's project, Databricks' catalog, or a DuckDB file's stem), with timestamp_field updated_at."
    )]
    Sync {
        #[command(flatten)]
        project: ScopeFlags,

        #[command(flatten)]
        signals: SignalsFlags,

        /// The batch source's owner; else the group's `owner` in its file, else none.
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,

        /// Print the requests (no secrets) instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },

    /// Check the Signals credentials (an authorised call) and the API's health.
    #[command(
        name = "test-connection",
        after_help = "Examples:\n  sigbatch test-connection\n  sigbatch test-connection --no-check-auth\n  \
                      sigbatch test-connection --auth-mode sandbox --sandbox-token ... --api-url https://...\n\n\
                      Exits 0 when every check passed, 2 when one failed for a reason you can fix (credentials, URL), \
                      3 when the API failed."
    )]
    TestConnection {
        #[command(flatten)]
        signals: SignalsFlags,

        /// Check the credentials (the default).
        #[arg(long, overrides_with = "no_check_auth")]
        check_auth: bool,

        /// Skip the credentials check.
        #[arg(long, overrides_with = "check_auth")]
        no_check_auth: bool,

        /// Check the API's health (the default).
        #[arg(long, overrides_with = "no_check_api")]
        check_api: bool,

        /// Skip the health check.
        #[arg(long, overrides_with = "check_api")]
        no_check_api: bool,
    },

    /// Load a Snowplow events CSV into the project's DuckDB events table (replacing it).
    #[command(after_help = "Example:\n  sigbatch stage --project-dir my_project --csv events.csv")]
    Stage {
        #[command(flatten)]
        project: ProjectFlags,

        /// The CSV, with a header; contexts named by full schema version are renamed to major.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
    },

    /// Generate a realistic events dataset and a demo project, run it incrementally, and print
    /// the attributes.
    #[command(after_help = "Example:\n  sigbatch demo --dir target/demo")]
    Demo {
        /// Where to put the demo project and its DuckDB file: a new or empty directory, or an earlier
        /// demo (replaced); any other directory is refused.
        #[arg(long, default_value = "target/demo", value_name = "DIR")]
        dir: PathBuf,

        #[arg(long, default_value_t = 3000)]
        users: u32,

        #[arg(long, default_value_t = 21)]
        days: u32,

        #[arg(long, default_value_t = 42)]
        seed: u64,

        /// Incremental runs to split the loads into.
        #[arg(long, default_value_t = 3)]
        runs: u32,
    },
}
