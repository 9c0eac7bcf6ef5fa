//! OpenLineage run events (spec 2-0-2) for `sigbatch run`, so that lineage tools (Marquez, the
//! Airflow OpenLineage provider, DataHub) see what a run read and wrote, where dbt and Cosmos
//! already show every model's inputs and outputs.
//!
//! A run sends `START` once it knows its project and target, and one of `COMPLETE`, `FAIL` or
//! `ABORT` when it ends, whatever the ending (nothing to do, an error, SIGTERM, `--timeout`).
//! The run id is the invocation id of `run_results.json`, so both can be joined. Lineage is a
//! spectator: a collector that refuses, hangs or is unreachable costs the run at most the
//! transport's timeout per event and a warning, never its outcome or exit code
//! (`transport.rs`). The events themselves are built in `event.rs`, the datasets a run reads
//! and writes in `datasets.rs`.

mod datasets;
mod event;
mod transport;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use datasets::{Dataset, Datasets, datasets};
pub use transport::{HttpTransport, Transport};

use crate::artifacts::{RunResults, Status};
use crate::error::{Error, Result};
use crate::report::{Event, Level, Reporter};

/// The job namespace when neither `--lineage-namespace` nor `OPENLINEAGE_NAMESPACE` names one.
pub const DEFAULT_NAMESPACE: &str = "sigbatch";

/// How long one event may take to be accepted before the run goes on without it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where events go and what they say about the job and its parent.
#[derive(Debug, Clone)]
pub struct LineageSettings {
    pub transport: Transport,
    pub job_namespace: String,
    /// The job name; `None`: the project's name.
    pub job_name: Option<String>,
    /// The run that started this one (an Airflow task), as `lineage_parent_id` gives it.
    pub parent: Option<RunReference>,
    /// The root of that run's hierarchy (the Airflow DAG run), as `lineage_root_parent_id`
    /// gives it; sent only with a parent.
    pub root: Option<RunReference>,
}

impl LineageSettings {
    /// No events at all (the default, and every `--dry-run`).
    pub fn off() -> LineageSettings {
        LineageSettings {
            transport: Transport::Off,
            job_namespace: DEFAULT_NAMESPACE.to_string(),
            job_name: None,
            parent: None,
            root: None,
        }
    }
}

impl Default for LineageSettings {
    fn default() -> LineageSettings {
        LineageSettings::off()
    }
}

/// A run of another job: `{namespace}/{job name}/{run id}`, the form of the Airflow OpenLineage
/// provider's `lineage_parent_id` and `lineage_root_parent_id` macros and of
/// `OPENLINEAGE_PARENT_ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReference {
    pub namespace: String,
    pub name: String,
    pub run_id: uuid::Uuid,
}

impl RunReference {
    /// Parses `text`, read from `source` (the flag or variable, named in the error). The run id
    /// and job name are the last two parts; the namespace is the rest, slashes and all.
    pub fn parse(source: &str, text: &str) -> Result<RunReference> {
        let invalid = |why: &str| {
            Error::invalid(source, format!("`{text}` {why}")).with_hint(
                "pass NAMESPACE/JOB_NAME/RUN_ID, as Airflow's \
                 {{ macros.OpenLineageProviderPlugin.lineage_parent_id(task_instance) }} renders it",
            )
        };
        let mut parts = text.trim().rsplitn(3, '/');
        let (Some(run_id), Some(name), Some(namespace)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid("is not NAMESPACE/JOB_NAME/RUN_ID"));
        };
        if namespace.is_empty() || name.is_empty() {
            return Err(invalid("has an empty namespace or job name"));
        }
        let run_id = uuid::Uuid::parse_str(run_id)
            .map_err(|_| invalid(&format!("ends in `{run_id}`, which is not a UUID run id")))?;
        Ok(RunReference {
            namespace: namespace.to_string(),
            name: name.to_string(),
            run_id,
        })
    }
}

/// The lineage of one `sigbatch run`: `begin` once the run knows what it reads and writes,
/// `end` once it is over.
pub struct LineageRun<'a> {
    settings: &'a LineageSettings,
    run_id: uuid::Uuid,
    /// The job name and datasets `START` went out with; `None` until `begin`.
    begun: Option<(String, Datasets)>,
}

impl<'a> LineageRun<'a> {
    pub fn new(settings: &'a LineageSettings, run_id: uuid::Uuid) -> LineageRun<'a> {
        LineageRun {
            settings,
            run_id,
            begun: None,
        }
    }

    /// Sends `START` for `project`'s run, which reads and writes `datasets`.
    pub fn begin(&mut self, project: &str, datasets: Datasets, reporter: &mut dyn Reporter) {
        let job = self.job_name(project);
        let event = event::start(self.settings, self.run_id, &job, &datasets);
        self.send("START", &event, reporter);
        self.begun = Some((job, datasets));
    }

    /// Sends the event that ends the run `results` describes. A run that failed before it knew
    /// its datasets (a bad project file) gets a bare `START` first, named after the project
    /// directory, so that every run a scheduler started shows up.
    pub fn end(&mut self, results: &RunResults, project_dir: &Path, reporter: &mut dyn Reporter) {
        if matches!(self.settings.transport, Transport::Off) {
            return;
        }
        if self.begun.is_none() {
            let fallback = results.project.clone().unwrap_or_else(|| {
                std::path::absolute(project_dir)
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "sigbatch".to_string())
            });
            self.begin(&fallback, Datasets::default(), reporter);
        }
        let Some((job, datasets)) = &self.begun else {
            return;
        };
        let (kind, wrote) = match results.status {
            Status::Success => ("COMPLETE", true),
            Status::NothingToDo => ("COMPLETE", false),
            Status::Error => ("FAIL", !results.windows.is_empty()),
            Status::Cancelled | Status::Timeout => ("ABORT", !results.windows.is_empty()),
        };
        let event = event::end(
            self.settings,
            self.run_id,
            job,
            datasets,
            kind,
            wrote,
            results,
        );
        self.send(kind, &event, reporter);
    }

    fn job_name(&self, project: &str) -> String {
        self.settings
            .job_name
            .clone()
            .unwrap_or_else(|| project.to_string())
    }

    fn send(&self, kind: &str, event: &serde_json::Value, reporter: &mut dyn Reporter) {
        if let Err(message) = self.settings.transport.send(event) {
            reporter.report(Event::Note {
                level: Level::Warn,
                message: &format!(
                    "lineage: the {kind} event was not delivered: {message} (the run's \
                     outcome does not depend on it)"
                ),
            });
        }
    }
}

/// The file transport's path, checked: its directory must exist.
pub fn file_transport(source: &str, path: PathBuf) -> Result<Transport> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| !p.is_dir()) {
        return Err(Error::invalid(
            source,
            format!("`{}` is in a directory that does not exist", path.display()),
        )
        .with_hint("create the directory, or name a file in an existing one"));
    }
    Ok(Transport::File(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parent_id_reads_as_airflow_renders_it() {
        let parent = RunReference::parse(
            "--lineage-parent-id",
            "default/my_dag.run_sigbatch/01890a1c-5f2e-7c3d-9a4b-1234567890ab",
        )
        .unwrap();
        assert_eq!(parent.namespace, "default");
        assert_eq!(parent.name, "my_dag.run_sigbatch");
        assert_eq!(
            parent.run_id.to_string(),
            "01890a1c-5f2e-7c3d-9a4b-1234567890ab"
        );
        // a namespace may hold slashes; the job name and run id are the last two parts
        let nested = RunReference::parse(
            "x",
            "team/prod/dag.task/01890a1c-5f2e-7c3d-9a4b-1234567890ab",
        )
        .unwrap();
        assert_eq!(
            (nested.namespace.as_str(), nested.name.as_str()),
            ("team/prod", "dag.task")
        );
        for bad in [
            "default/my_dag.task",
            "default/my_dag.task/not-a-uuid",
            "/dag.task/01890a1c-5f2e-7c3d-9a4b-1234567890ab",
        ] {
            let error = RunReference::parse("OPENLINEAGE_PARENT_ID", bad).unwrap_err();
            let text = error.to_string();
            assert!(
                text.contains("OPENLINEAGE_PARENT_ID") && text.contains(bad),
                "{text}"
            );
            assert!(error.hint().unwrap().contains("lineage_parent_id"));
        }
    }
}
