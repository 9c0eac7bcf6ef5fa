//! The `sigbatch` binary: parses flags, calls the library, prints errors with their hints, and
//! maps them to exit codes (`sigbatch::error::exit_code`: 0 success or nothing to do, 2 the user can
//! fix it, 3 internal or warehouse failure, 4 lock held, 130 cancelled by SIGINT/SIGTERM).

mod cli;

use std::io::Write;
use std::process::ExitCode;

use chrono::NaiveDateTime;
use clap::Parser;
use sigbatch::commands::{
    self, CompileSettings, DemoSettings, InitSettings, ProjectArgs, RunSettings,
};
use sigbatch::{Error, Result};

use cli::{Cli, Command, ProjectFlags};

fn project_args(flags: ProjectFlags) -> ProjectArgs {
    ProjectArgs {
        project_dir: flags.project_dir,
        profiles_dir: flags.profiles_dir,
        target: flags.target,
        vars: flags.vars,
    }
}

fn parse_until(text: &str) -> Result<NaiveDateTime> {
    sigbatch::state::parse_timestamp(text).ok_or_else(|| {
        Error::invalid("--until", format!("`{text}` is not a timestamp"))
            .with_hint("write it as '2025-03-01 00:00:00' or '2025-03-01' (UTC)")
    })
}

/// "Now", overridable for reproducible runs and tests.
fn now() -> Result<NaiveDateTime> {
    match std::env::var("SIGBATCH_NOW") {
        Ok(text) => sigbatch::state::parse_timestamp(&text)
            .ok_or_else(|| Error::invalid("SIGBATCH_NOW", format!("`{text}` is not a timestamp"))),
        Err(_) => Ok(chrono::Utc::now().naive_utc()),
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
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
        } => {
            let artifacts_dir = artifacts_dir
                .unwrap_or_else(|| sigbatch::artifacts::default_dir(&project.project_dir));
            let settings = RunSettings {
                project: project_args(project),
                full_refresh,
                until: until.as_deref().map(parse_until).transpose()?,
                max_windows,
                dry_run,
                now: now()?,
                lock_timeout: std::time::Duration::from_secs(lock_timeout),
                artifacts_dir: Some(artifacts_dir),
            };
            commands::run(&settings, &mut out, &mut progress)
        }
        Command::Compile {
            project,
            dialect,
            full_refresh,
        } => {
            let settings = CompileSettings {
                project: project_args(project),
                dialect,
                full_refresh,
                now: now()?,
            };
            commands::compile(&settings, &mut out)
        }
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
        Command::Status { project, json } => {
            commands::status(&project_args(project), json, &mut out)
        }
        Command::Validate { project } => {
            commands::validate(&project_args(project), now()?, &mut out)
        }
        Command::Init {
            attribute_group,
            project_dir,
            semantics,
            database,
        } => commands::init(
            &InitSettings {
                project_dir,
                attribute_group,
                semantics,
                database,
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
            &mut progress,
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sigbatch::cancel::install();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {error}");
            if let Some(hint) = error.hint() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}
