//! The `sigbatch` binary: parses flags, calls the library, prints errors with their hints, and
//! maps them to exit codes (`sigbatch::error::exit_code`: 0 success or nothing to do, 2 the user can
//! fix it, 3 internal or warehouse failure, 4 lock held, 124 stopped by `--timeout`, 130 cancelled
//! by SIGINT/SIGTERM). Progress, logs and errors go through one `report::Printer` on stderr.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDateTime;
use clap::Parser;
use sigbatch::commands::{
    self, CompileSettings, ConnectionChecks, DemoSettings, InitFromApiSettings, InitSettings,
    PlanSettings, ProjectArgs, RunSettings, ScopeArgs, Scoped, SyncSettings, WorkspaceRunSettings,
};
use sigbatch::load_window::WindowSettings;
use sigbatch::report::{Event, Format, Printer, PrinterSettings, Reporter};
use sigbatch::secret::Secret;
use sigbatch::signals::{AuthMode, Credentials, GroupSelection};
use sigbatch::{Error, Result};

use cli::{Cli, Command, LineageFlags, LogFormat, ProjectFlags, ScopeFlags, SignalsFlags};
use sigbatch::lineage::{HttpTransport, LineageSettings, RunReference, Transport};

fn project_args(flags: ProjectFlags) -> ProjectArgs {
    ProjectArgs {
        project_dir: flags.project_dir,
        profiles_dir: flags.load.profiles_dir,
        target: flags.load.target,
        vars: flags.load.vars,
    }
}

/// One project or a workspace, as the flags say (`--project-dir` once: that project, as always);
/// a workspace file is looked for in the current directory.
fn scoped(flags: ScopeFlags) -> Result<Scoped> {
    ScopeArgs {
        project_dirs: flags.project_dir,
        workspace: flags.workspace,
        select: flags.select,
        profiles_dir: flags.load.profiles_dir,
        target: flags.load.target,
        vars: flags.load.vars,
    }
    .resolve(std::path::Path::new("."))
}

fn credentials(flags: SignalsFlags) -> Result<Credentials> {
    let mut credentials = Credentials::new(
        flags.api_url,
        AuthMode::parse(&flags.auth_mode)?,
        flags.console_url,
    )?;
    credentials.api_key = flags.api_key.map(Secret::new);
    credentials.api_key_id = flags.api_key_id;
    credentials.org_id = flags.org_id;
    credentials.sandbox_token = flags.sandbox_token.map(Secret::new);
    Ok(credentials)
}

fn parse_until(text: &str) -> Result<NaiveDateTime> {
    sigbatch::state::parse_timestamp(text).ok_or_else(|| {
        Error::invalid("--until", format!("`{text}` is not a timestamp"))
            .with_hint("write it as '2025-03-01 00:00:00' or '2025-03-01' (UTC)")
    })
}

/// A duration as `90s`, `30m`, `2h`, `1h30m`, `500ms`, or a number of seconds, read from
/// `source` (the flag, named in the error).
fn parse_duration(source: &str, text: &str) -> Result<Duration> {
    let invalid = || {
        Error::invalid(source, format!("`{text}` is not a duration"))
            .with_hint("write it as 90s, 30m, 2h or 1h30m")
    };
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        total += match &rest[..unit] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number * 60),
            "h" => Duration::from_secs(number * 3600),
            _ => return Err(invalid()),
        };
        rest = &rest[unit..];
    }
    if total.is_zero() {
        return Err(invalid());
    }
    Ok(total)
}

/// Where `run`'s OpenLineage events go (off unless a URL or file is given).
fn lineage_settings(flags: LineageFlags) -> Result<LineageSettings> {
    let mut settings = LineageSettings::off();
    if flags.lineage_disabled {
        return Ok(settings);
    }
    let timeout = parse_duration(
        "--lineage-timeout (SIGBATCH_LINEAGE_TIMEOUT)",
        &flags.lineage_timeout,
    )?;
    let reference = |source: &str, text: Option<String>| {
        text.filter(|t| !t.trim().is_empty())
            .map(|t| RunReference::parse(source, &t))
            .transpose()
    };
    settings.parent = reference(
        "--lineage-parent-id (OPENLINEAGE_PARENT_ID)",
        flags.lineage_parent_id,
    )?;
    settings.root = reference(
        "--lineage-root-parent-id (OPENLINEAGE_ROOT_PARENT_ID)",
        flags.lineage_root_parent_id,
    )?;
    settings.job_namespace = flags.lineage_namespace;
    settings.job_name = flags.lineage_job_name;
    let url = flags.openlineage_url.filter(|u| !u.trim().is_empty());
    settings.transport = match (url, flags.lineage_file) {
        (Some(_), Some(file)) => {
            return Err(Error::invalid(
                "--lineage-file (SIGBATCH_LINEAGE_FILE)",
                format!(
                    "`{}` and an OpenLineage URL are both set; events go to one place",
                    file.display()
                ),
            )
            .with_hint("unset OPENLINEAGE_URL (or --openlineage-url), or drop --lineage-file"));
        }
        (Some(url), None) => Transport::Http(HttpTransport::new(
            "--openlineage-url (OPENLINEAGE_URL)",
            &url,
            flags.openlineage_endpoint.as_deref(),
            flags.openlineage_api_key.map(Secret::new),
            timeout,
        )?),
        (None, Some(file)) => {
            sigbatch::lineage::file_transport("--lineage-file (SIGBATCH_LINEAGE_FILE)", file)?
        }
        (None, None) => Transport::Off,
    };
    Ok(settings)
}

/// "Now", overridable for reproducible runs and tests.
fn now() -> Result<NaiveDateTime> {
    match std::env::var("SIGBATCH_NOW") {
        Ok(text) => sigbatch::state::parse_timestamp(&text)
            .ok_or_else(|| Error::invalid("SIGBATCH_NOW", format!("`{text}` is not a timestamp"))),
        Err(_) => Ok(chrono::Utc::now().naive_utc()),
    }
}

/// The flags `run` and `plan` share: what decides the load windows.
fn window_settings(
    full_refresh: bool,
    until: Option<String>,
    max_windows: Option<u32>,
) -> Result<WindowSettings> {
    Ok(WindowSettings {
        full_refresh,
        until: until.as_deref().map(parse_until).transpose()?,
        max_windows,
        now: now()?,
    })
}

fn dispatch(cli: Cli, printer: &mut Printer) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Run {
            project,
            full_refresh,
            until,
            max_windows,
            dry_run,
            lock_timeout,
            artifacts_dir,
            timeout,
            lineage,
        } => {
            if let Some(text) = timeout {
                sigbatch::cancel::stop_after(parse_duration("--timeout", &text)?, text);
            }
            let scope = scoped(project)?;
            let windows = window_settings(full_refresh, until, max_windows)?;
            let lineage = lineage_settings(lineage)?;
            let lock_timeout = std::time::Duration::from_secs(lock_timeout);
            match scope {
                Scoped::Project(project) => {
                    let artifacts_dir = artifacts_dir
                        .unwrap_or_else(|| sigbatch::artifacts::default_dir(&project.project_dir));
                    let settings = RunSettings {
                        project,
                        windows,
                        dry_run,
                        lock_timeout,
                        artifacts_dir: Some(artifacts_dir),
                        lineage,
                    };
                    commands::run(&settings, &mut out, printer)
                }
                Scoped::Workspace(workspace) => commands::run_workspace(
                    &WorkspaceRunSettings {
                        workspace,
                        windows,
                        dry_run,
                        lock_timeout,
                        artifacts_dir,
                        lineage,
                    },
                    &mut out,
                    printer,
                ),
            }
        }
        Command::Plan {
            project,
            full_refresh,
            until,
            max_windows,
            json,
        } => {
            let scope = scoped(project)?;
            let windows = window_settings(full_refresh, until, max_windows)?;
            match scope {
                Scoped::Project(project) => {
                    commands::plan(&PlanSettings { project, windows }, json, &mut out)
                }
                Scoped::Workspace(workspace) => {
                    commands::plan_workspace(&workspace, &windows, json, &mut out, printer)
                }
            }
        }
        Command::Compile {
            project,
            dialect,
            full_refresh,
        } => match scoped(project)? {
            Scoped::Project(project) => commands::compile(
                &CompileSettings {
                    project,
                    dialect,
                    full_refresh,
                    now: now()?,
                },
                &mut out,
            ),
            Scoped::Workspace(workspace) => commands::compile_workspace(
                &workspace,
                dialect.as_deref(),
                full_refresh,
                now()?,
                &mut out,
                printer,
            ),
        },
        Command::ExportDbt {
            project,
            out: out_dir,
            dialect,
            check,
        } => sigbatch::export::export_dbt(
            &sigbatch::export::ExportSettings {
                project: project_args(project),
                out: out_dir,
                dialect,
                check,
            },
            &mut out,
        ),
        Command::Status { project, json } => match scoped(project)? {
            Scoped::Project(project) => commands::status(&project, json, &mut out),
            Scoped::Workspace(workspace) => {
                commands::status_workspace(&workspace, json, &mut out, printer)
            }
        },
        Command::Validate { project } => match scoped(project)? {
            Scoped::Project(project) => commands::validate(&project, now()?, &mut out),
            Scoped::Workspace(workspace) => {
                commands::validate_workspace(&workspace, now()?, &mut out, printer)
            }
        },
        Command::Init {
            attribute_group: Some(attribute_group),
            project_dir,
            semantics,
            database,
            ..
        } => commands::init(
            &InitSettings {
                project_dir,
                attribute_group,
                semantics,
                database,
            },
            &mut out,
        ),
        Command::Init {
            attribute_group: None,
            project_dir,
            semantics,
            database,
            target_type,
            attribute_group_name,
            attribute_group_version,
            force,
            profiles_dir,
            signals,
            ..
        } => commands::init_from_api(
            &InitFromApiSettings {
                project_dir,
                credentials: credentials(signals)?,
                target_type,
                selection: GroupSelection {
                    name: attribute_group_name,
                    version: attribute_group_version,
                },
                semantics,
                database,
                profiles_dir,
                force,
            },
            &mut out,
            printer,
        ),
        Command::Sync {
            project,
            signals,
            owner,
            dry_run,
        } => match scoped(project)? {
            Scoped::Project(project) => commands::sync(
                &SyncSettings {
                    project,
                    credentials: credentials(signals)?,
                    owner,
                    dry_run,
                },
                &mut out,
            ),
            Scoped::Workspace(workspace) => commands::sync_workspace(
                &workspace,
                &credentials(signals)?,
                owner.as_deref(),
                dry_run,
                &mut out,
                printer,
            ),
        },
        Command::TestConnection {
            signals,
            no_check_auth,
            no_check_api,
            ..
        } => commands::test_connection(
            &ConnectionChecks {
                credentials: credentials(signals)?,
                auth: !no_check_auth,
                api: !no_check_api,
            },
            &mut out,
        ),
        Command::Stage { project, csv } => commands::stage(&project_args(project), &csv, &mut out),
        Command::Demo {
            dir,
            users,
            days,
            seed,
            runs,
        } => commands::demo(
            &DemoSettings {
                dir,
                users,
                days,
                seed,
                runs,
            },
            &mut out,
            printer,
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let terminal = std::io::stderr().is_terminal();
    let settings = PrinterSettings {
        format: match cli.log_format {
            LogFormat::Text => Format::Text,
            LogFormat::Json => Format::Json,
        },
        quiet: cli.quiet,
        terminal,
        colour: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let mut printer = Printer::new(settings);
    sigbatch::cancel::install();
    sigbatch::cancel::set_notice(Box::new(move |message| {
        Printer::new(settings).report(Event::Note {
            level: sigbatch::report::Level::Warn,
            message,
        })
    }));
    match dispatch(cli, &mut printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            printer.report(Event::Failed {
                message: &error.to_string(),
                hint: error.hint(),
            });
            ExitCode::from(error.exit_code())
        }
    }
}
