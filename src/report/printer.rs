//! The binary's one reporter: each event as a plain line on stderr (with a progress bar over a
//! window's stages on a terminal; a workspace group's lines prefixed by its name) or as one JSON
//! object per line carrying the group, project and window it is about.

use std::io::Write;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value, json};

use super::{Event, Format, Level, Reporter};
use crate::render::LoadWindow;

/// How the binary's printer behaves, resolved from flags and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrinterSettings {
    pub format: Format,
    /// Only errors (`--quiet`).
    pub quiet: bool,
    /// stderr is a terminal: draw a progress bar (text format only).
    pub terminal: bool,
    /// Colour the `error:`/`hint:`/`warning:` prefixes (a terminal and no `NO_COLOR`).
    pub colour: bool,
}

/// The binary's reporter: text or JSON lines on stderr.
pub struct Printer {
    settings: PrinterSettings,
    /// The workspace group being reported on, if any.
    group: Option<String>,
    project: Option<String>,
    window: Option<String>,
    bar: Option<ProgressBar>,
}

impl Printer {
    pub fn new(settings: PrinterSettings) -> Printer {
        Printer {
            settings,
            group: None,
            project: None,
            window: None,
            bar: None,
        }
    }

    /// Writes one line (text lines of a group prefixed by its name), above the progress bar if
    /// one is drawn.
    fn line(&self, text: &str) {
        let prefixed;
        let text = match (&self.group, self.settings.format) {
            (Some(group), Format::Text) => {
                prefixed = text
                    .lines()
                    .map(|line| format!("[{group}] {line}"))
                    .collect::<Vec<_>>()
                    .join("\n");
                &prefixed
            }
            _ => text,
        };
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "{text}");
            }
        }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.settings.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Text format: the stage bar of the current window, where stderr is a terminal.
    fn track(&mut self, event: &Event<'_>) {
        if !self.settings.terminal || self.settings.format != Format::Text {
            return;
        }
        match event {
            Event::WindowStarted { index, stages, .. } => {
                let bar = ProgressBar::with_draw_target(
                    Some(*stages as u64),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {pos}/{len} stages {elapsed} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_prefix(format!("window {index}"));
                self.bar = Some(bar);
            }
            Event::StageFinished { stage, .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    bar.set_message(stage.to_string());
                }
            }
            _ => {}
        }
    }

    fn finish_bar(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn text(&self, event: &Event<'_>) -> Option<String> {
        Some(match event {
            Event::RunStarted {
                project,
                mode,
                warehouse,
                target,
                location,
            } => format!(
                "sigbatch: running `{project}` ({mode} mode) on {warehouse} target `{target}` ({location})"
            ),
            Event::WindowStarted { window, label, .. } => {
                format!("window {} .. {} ({label})", window.lower, window.upper)
            }
            // the window's summary line carries every stage's time
            Event::StageFinished { .. } => return None,
            Event::WindowCommitted {
                events,
                days,
                stages,
                commit,
                ..
            } => {
                let timings: Vec<String> = stages
                    .iter()
                    .map(|(stage, took)| format!("{stage} {:.2}s", took.as_secs_f64()))
                    .collect();
                format!(
                    "  {events} events, {days} days aggregated; {}, commit {:.2}s",
                    timings.join(", "),
                    commit.as_secs_f64()
                )
            }
            Event::NothingToDo { message } => message.to_string(),
            Event::RunFinished {
                status,
                windows,
                duration,
                ..
            } => format!(
                "sigbatch: {} after {windows} window(s) in {:.2}s",
                status.replace('_', " "),
                duration.as_secs_f64()
            ),
            Event::SharedRead {
                groups,
                window,
                events,
                duration,
                ..
            } => format!(
                "sigbatch: read {events} events of {} once for group(s) {} in {:.2}s",
                window_text(window),
                groups.join(", "),
                duration.as_secs_f64()
            ),
            Event::GroupStarted {
                name,
                index,
                count,
                dir,
            } => format!("sigbatch: group `{name}` ({index}/{count}) in {dir}"),
            // the run's own last line, or the error, says how it ended
            Event::GroupFinished { .. } => return None,
            Event::WorkspaceFinished {
                status,
                groups,
                succeeded,
                duration,
                ..
            } => format!(
                "sigbatch: workspace {} in {:.2}s: {succeeded} of {groups} group(s) succeeded",
                status.replace('_', " "),
                duration.as_secs_f64()
            ),
            Event::Note {
                level: Level::Warn,
                message,
            } => format!("{}: {message}", self.paint("warning", "1;33")),
            Event::Note { message, .. } => message.to_string(),
            Event::Failed { message, hint } => {
                let mut text = format!("{}: {message}", self.paint("error", "1;31"));
                if let Some(hint) = hint {
                    text.push_str(&format!("\n{}: {hint}", self.paint("hint", "1;36")));
                }
                text
            }
        })
    }

    fn json(&self, event: &Event<'_>) -> Value {
        let mut object = Map::new();
        object.insert(
            "timestamp".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        object.insert("level".into(), json!(event.level().as_str()));
        object.insert("event".into(), json!(event.name()));
        if let Some(group) = &self.group {
            object.insert("group".into(), json!(group));
        }
        if let Some(project) = &self.project {
            object.insert("project".into(), json!(project));
        }
        if let Some(window) = &self.window {
            object.insert("window".into(), json!(window));
        }
        let millis = |d: &Duration| json!(d.as_millis() as u64);
        let mut put = |key: &str, value: Value| {
            object.insert(key.into(), value);
        };
        match event {
            Event::RunStarted {
                mode,
                warehouse,
                target,
                location,
                ..
            } => {
                put("mode", json!(mode));
                put("warehouse", json!(warehouse));
                put("target", json!(target));
                put("location", json!(location));
            }
            Event::WindowStarted {
                index,
                label,
                stages,
                ..
            } => {
                put("index", json!(index));
                put("label", json!(label));
                put("stages", json!(stages));
            }
            Event::StageFinished {
                stage,
                duration,
                rows,
                bytes,
            } => {
                put("stage", json!(stage));
                put("duration_ms", millis(duration));
                put("rows", json!(rows));
                put("bytes", json!(bytes));
            }
            Event::WindowCommitted {
                index,
                events,
                days,
                stages,
                commit,
                bytes,
                ..
            } => {
                put("index", json!(index));
                put("rows", json!(events));
                put("days", json!(days));
                let total: Duration =
                    stages.iter().map(|(_, took)| *took).sum::<Duration>() + *commit;
                put("duration_ms", millis(&total));
                put("commit_ms", millis(commit));
                put("bytes", json!(bytes));
            }
            Event::NothingToDo { message } | Event::Note { message, .. } => {
                put("message", json!(message));
            }
            Event::RunFinished {
                status,
                windows,
                events,
                days,
                duration,
            } => {
                put("status", json!(status));
                put("windows", json!(windows));
                put("rows", json!(events));
                put("days", json!(days));
                put("duration_ms", millis(duration));
            }
            Event::SharedRead {
                groups,
                window,
                events,
                duration,
                bytes,
            } => {
                put("groups", json!(groups));
                put("window", json!(window_text(window)));
                put("rows", json!(events));
                put("duration_ms", millis(duration));
                put("bytes", json!(bytes));
            }
            Event::GroupStarted {
                index, count, dir, ..
            } => {
                put("index", json!(index));
                put("count", json!(count));
                put("project_dir", json!(dir));
            }
            Event::GroupFinished {
                status,
                exit_code,
                duration,
                ..
            } => {
                put("status", json!(status));
                put("exit_code", json!(exit_code));
                put("duration_ms", millis(duration));
            }
            Event::WorkspaceFinished {
                status,
                groups,
                succeeded,
                exit_code,
                duration,
            } => {
                put("status", json!(status));
                put("groups", json!(groups));
                put("succeeded", json!(succeeded));
                put("exit_code", json!(exit_code));
                put("duration_ms", millis(duration));
            }
            Event::Failed { message, hint } => {
                put("error", json!(message));
                put("hint", json!(hint));
            }
        }
        Value::Object(object)
    }
}

/// A window as `lower/upper` (ISO 8601 interval, UTC).
fn window_text(window: &LoadWindow) -> String {
    format!(
        "{}/{}",
        window.lower.format("%Y-%m-%dT%H:%M:%S%.fZ"),
        window.upper.format("%Y-%m-%dT%H:%M:%S%.fZ")
    )
}

impl Reporter for Printer {
    fn report(&mut self, event: Event<'_>) {
        match &event {
            Event::GroupStarted { name, .. } => {
                self.group = Some(name.to_string());
                self.project = None;
                self.window = None;
            }
            Event::RunStarted { project, .. } => self.project = Some(project.to_string()),
            Event::WindowStarted { window, .. } | Event::WindowCommitted { window, .. } => {
                self.window = Some(window_text(window))
            }
            _ => {}
        }
        if matches!(event, Event::WindowCommitted { .. } | Event::Failed { .. }) {
            self.finish_bar();
        }
        if !(self.settings.quiet && event.level() < Level::Error) {
            let text = match self.settings.format {
                Format::Text => self.text(&event),
                Format::Json => Some(self.json(&event).to_string()),
            };
            if let Some(text) = text {
                self.line(&text);
            }
            self.track(&event);
        }
        if matches!(event, Event::WindowCommitted { .. }) {
            self.window = None;
        }
        if matches!(event, Event::GroupFinished { .. }) {
            self.group = None;
            self.project = None;
            self.window = None;
        }
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        self.finish_bar();
    }
}
