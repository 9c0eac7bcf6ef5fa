//! The flags several commands share: which project or workspace, how a project loads, how to
//! reach Signals, where OpenLineage events go.

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct ProjectFlags {
    /// The project directory (holds sigbatch.yml).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub project_dir: PathBuf,

    #[command(flatten)]
    pub load: LoadFlags,
}

/// How a project loads, for one project or every project of a workspace.
#[derive(Args, Debug, Clone)]
pub struct LoadFlags {
    /// Where profiles.yml is; else SIGBATCH_PROFILES_DIR, the project directory, ~/.dbt.
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,

    /// The profile target; else the project's `target`, else the profile's default.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,

    /// Vars overriding sigbatch.yml, as YAML or JSON: '{snowplow__start_date: "2025-01-01"}'.
    #[arg(long, value_name = "YAML")]
    pub vars: Option<String>,
}

/// Which projects a command works on: one project (`--project-dir`, as always), or a workspace
/// of several run together (`--project-dir` repeated, `--workspace`, or a
/// sigbatch_workspace.yml in the current directory), with the flags every project loads with.
#[derive(Args, Debug, Clone)]
pub struct ScopeFlags {
    /// The project directory (holds sigbatch.yml); default the current directory. Repeat it to
    /// run several projects together as a workspace.
    #[arg(long, value_name = "DIR")]
    pub project_dir: Vec<PathBuf>,

    /// A workspace file listing projects to run together (sigbatch_workspace.yml, or the
    /// directory holding it); default: sigbatch_workspace.yml in the current directory, if any.
    #[arg(long, value_name = "FILE", conflicts_with = "project_dir")]
    pub workspace: Option<PathBuf>,

    /// Only these groups of the workspace, by project name (repeat, or list several).
    #[arg(long, value_name = "NAME", num_args = 1..)]
    pub select: Vec<String>,

    #[command(flatten)]
    pub load: LoadFlags,
}

/// How to reach Signals, as upstream's CLI reads it (options or the same environment variables).
#[derive(Args, Debug, Clone)]
pub struct SignalsFlags {
    /// The Signals API URL (Console: Signals, Overview).
    #[arg(long, env = "SNOWPLOW_API_URL", value_name = "URL")]
    pub api_url: Option<String>,

    /// bdp: exchange an API key for a token at Console; sandbox: send a sandbox token.
    #[arg(long, env = "SNOWPLOW_AUTH_MODE", default_value = "bdp", value_parser = ["bdp", "sandbox"])]
    pub auth_mode: String,

    /// The API key (bdp mode).
    #[arg(
        long,
        env = "SNOWPLOW_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub api_key: Option<String>,

    /// The API key's id (bdp mode).
    #[arg(
        long,
        env = "SNOWPLOW_API_KEY_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub api_key_id: Option<String>,

    /// The organization id (bdp mode).
    #[arg(long, env = "SNOWPLOW_ORG_ID", value_name = "ID")]
    pub org_id: Option<String>,

    /// The sandbox token (sandbox mode).
    #[arg(
        long,
        env = "SNOWPLOW_SANDBOX_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub sandbox_token: Option<String>,

    /// The Console that issues tokens in bdp mode (default https://console.snowplowanalytics.com).
    #[arg(long, env = "SNOWPLOW_CONSOLE_URL", value_name = "URL")]
    pub console_url: Option<String>,
}

/// Where `run` sends OpenLineage run events (docs/lineage.md); the variables are the OpenLineage
/// Python client's, so an Airflow worker's settings apply as they are.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "OpenLineage")]
pub struct LineageFlags {
    /// Send OpenLineage run events to this collector's base URL (e.g. http://marquez:5000).
    /// Off unless this or --lineage-file is set.
    #[arg(long, env = "OPENLINEAGE_URL", value_name = "URL")]
    pub openlineage_url: Option<String>,

    /// The collector's path, joined to the URL (default api/v1/lineage).
    #[arg(long, env = "OPENLINEAGE_ENDPOINT", value_name = "PATH")]
    pub openlineage_endpoint: Option<String>,

    /// Sent as a bearer token to the collector; never printed.
    #[arg(
        long,
        env = "OPENLINEAGE_API_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub openlineage_api_key: Option<String>,

    /// Append the events to this file instead, one JSON object per line.
    #[arg(long, env = "SIGBATCH_LINEAGE_FILE", value_name = "FILE")]
    pub lineage_file: Option<PathBuf>,

    /// The job's namespace.
    #[arg(
        long,
        env = "OPENLINEAGE_NAMESPACE",
        default_value = "sigbatch",
        value_name = "NAMESPACE"
    )]
    pub lineage_namespace: String,

    /// The job's name (default: the project's name).
    #[arg(long, env = "SIGBATCH_LINEAGE_JOB_NAME", value_name = "NAME")]
    pub lineage_job_name: Option<String>,

    /// The parent run, NAMESPACE/JOB_NAME/RUN_ID, as Airflow's
    /// `{{ macros.OpenLineageProviderPlugin.lineage_parent_id(task_instance) }}` renders it.
    #[arg(
        long,
        env = "OPENLINEAGE_PARENT_ID",
        value_name = "NAMESPACE/JOB/RUN_ID"
    )]
    pub lineage_parent_id: Option<String>,

    /// The root of the parent's hierarchy, as `lineage_root_parent_id(task_instance)` renders it.
    #[arg(
        long,
        env = "OPENLINEAGE_ROOT_PARENT_ID",
        value_name = "NAMESPACE/JOB/RUN_ID"
    )]
    pub lineage_root_parent_id: Option<String>,

    /// How long one event may take to reach the collector before the run goes on without it.
    #[arg(
        long,
        env = "SIGBATCH_LINEAGE_TIMEOUT",
        default_value = "5s",
        value_name = "DURATION"
    )]
    pub lineage_timeout: String,

    /// Send no events, whatever else is set (OPENLINEAGE_DISABLED=true, as the Python client).
    #[arg(long, env = "OPENLINEAGE_DISABLED", value_parser = clap::builder::FalseyValueParser::new())]
    pub lineage_disabled: bool,
}
