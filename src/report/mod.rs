//! Progress and logs on stderr: what a run tells the person or scheduler watching it.
//!
//! The library reports typed [`Event`]s to a [`Reporter`]; it never formats a progress line
//! itself. [`Printer`] (`printer.rs`) is the one reporter the binary uses: plain lines (`--log-format text`,
//! with a progress bar over a window's stages when stderr is a terminal) or one JSON object per
//! line (`--log-format json`) carrying the project and window it is about. Data (compile output,
//! status, dry-run SQL, plans) goes to stdout and never through here.

mod printer;

use std::time::Duration;

pub use printer::{Printer, PrinterSettings};

use crate::render::LoadWindow;

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Something a command has to say while it works.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    RunStarted {
        project: &'a str,
        mode: &'a str,
        warehouse: &'a str,
        target: &'a str,
        location: &'a str,
    },
    /// A load window is about to run its `stages` stages (the `index`-th of the invocation).
    WindowStarted {
        index: usize,
        window: LoadWindow,
        label: &'a str,
        stages: usize,
    },
    /// A stage of the current window finished its statements.
    StageFinished {
        stage: &'a str,
        duration: Duration,
        rows: Option<u64>,
        bytes: Option<u64>,
    },
    /// The current window committed: `events` new events read, `days` event dates aggregated.
    WindowCommitted {
        index: usize,
        window: LoadWindow,
        events: u64,
        days: u64,
        stages: &'a [(&'a str, Duration)],
        commit: Duration,
        bytes: Option<u64>,
    },
    NothingToDo {
        message: &'a str,
    },
    RunFinished {
        status: &'a str,
        windows: usize,
        events: u64,
        days: u64,
        duration: Duration,
    },
    /// A workspace read the events of `window` once for `groups` (before any of them ran).
    SharedRead {
        groups: &'a [String],
        window: LoadWindow,
        events: u64,
        duration: Duration,
        bytes: Option<u64>,
    },
    /// A workspace's group begins (the `index`-th of `count`): until it finishes, every line is
    /// about it (text lines prefixed `[name]`, JSON lines carry `group`).
    GroupStarted {
        name: &'a str,
        index: usize,
        count: usize,
        dir: &'a str,
    },
    /// The group ended: `status` as in run_results.json, with its exit code.
    GroupFinished {
        name: &'a str,
        status: &'a str,
        exit_code: u8,
        duration: Duration,
    },
    /// Every selected group of a workspace ran (or a stop kept some from running).
    WorkspaceFinished {
        status: &'a str,
        groups: usize,
        succeeded: usize,
        exit_code: u8,
        duration: Duration,
    },
    /// Anything else worth a line: lease waits, demo steps, warnings.
    Note {
        level: Level,
        message: &'a str,
    },
    /// The command failed; `hint` says what the user can do.
    Failed {
        message: &'a str,
        hint: Option<&'a str>,
    },
}

impl Event<'_> {
    pub(crate) fn level(&self) -> Level {
        match self {
            Event::Note { level, .. } => *level,
            Event::Failed { .. } => Level::Error,
            _ => Level::Info,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::WindowStarted { .. } => "window_started",
            Event::StageFinished { .. } => "stage_finished",
            Event::WindowCommitted { .. } => "window_committed",
            Event::NothingToDo { .. } => "nothing_to_do",
            Event::RunFinished { .. } => "run_finished",
            Event::SharedRead { .. } => "shared_read",
            Event::GroupStarted { .. } => "group_started",
            Event::GroupFinished { .. } => "group_finished",
            Event::WorkspaceFinished { .. } => "workspace_finished",
            Event::Note { .. } => "note",
            Event::Failed { .. } => "error",
        }
    }
}

/// Where commands send their events.
pub trait Reporter {
    fn report(&mut self, event: Event<'_>);
}

/// Reports nothing (library callers and tests that do not watch).
pub struct Silent;

impl Reporter for Silent {
    fn report(&mut self, _event: Event<'_>) {}
}
