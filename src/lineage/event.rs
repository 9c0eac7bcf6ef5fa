//! The JSON of a run event, as the OpenLineage 2-0-2 schema (`RunEvent`) and the facet schemas
//! it cites describe it: `tests/openlineage/` keeps those schema files, and every event the
//! tests see is validated against them.

use chrono::{SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::{Dataset, Datasets, LineageSettings};
use crate::artifacts::RunResults;

/// Who produced the events: sigbatch, at this version.
const PRODUCER: &str = concat!("urn:sigbatch:", env!("CARGO_PKG_VERSION"));
const RUN_EVENT: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PARENT: &str =
    "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet";
const ERROR_MESSAGE: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const PROCESSING_ENGINE: &str = "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet";
const JOB_TYPE: &str =
    "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
const SCHEMA: &str =
    "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet";

/// `START`: every dataset the run may write.
pub fn start(
    settings: &LineageSettings,
    run_id: uuid::Uuid,
    job: &str,
    datasets: &Datasets,
) -> Value {
    let facets = run_facets(settings);
    event("START", run_id, facets, settings, job, datasets, true)
}

/// `COMPLETE`, `FAIL` or `ABORT`; the outputs only if the run committed anything (`wrote`).
pub fn end(
    settings: &LineageSettings,
    run_id: uuid::Uuid,
    job: &str,
    datasets: &Datasets,
    kind: &str,
    wrote: bool,
    results: &RunResults,
) -> Value {
    let mut facets = run_facets(settings);
    if let Some(error) = &results.error {
        let message = match &error.hint {
            Some(hint) => format!("{}\nhint: {hint}", error.message),
            None => error.message.clone(),
        };
        facets.insert(
            "errorMessage".into(),
            facet(
                ERROR_MESSAGE,
                json!({"message": message, "programmingLanguage": "Rust"}),
            ),
        );
    }
    event(kind, run_id, facets, settings, job, datasets, wrote)
}

fn event(
    kind: &str,
    run_id: uuid::Uuid,
    run_facets: Map<String, Value>,
    settings: &LineageSettings,
    job: &str,
    datasets: &Datasets,
    with_outputs: bool,
) -> Value {
    let outputs: Vec<Value> = if with_outputs {
        datasets.outputs.iter().map(dataset).collect()
    } else {
        Vec::new()
    };
    json!({
        "eventType": kind,
        "eventTime": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT,
        "run": {"runId": run_id.to_string(), "facets": run_facets},
        "job": {
            "namespace": settings.job_namespace,
            "name": job,
            "facets": {
                "jobType": facet(JOB_TYPE, json!({
                    "processingType": "BATCH",
                    "integration": "SIGBATCH",
                    "jobType": "JOB",
                })),
            },
        },
        "inputs": datasets.inputs.iter().map(dataset).collect::<Vec<_>>(),
        "outputs": outputs,
    })
}

fn run_facets(settings: &LineageSettings) -> Map<String, Value> {
    let mut facets = Map::new();
    facets.insert(
        "processing_engine".into(),
        facet(
            PROCESSING_ENGINE,
            json!({"version": env!("CARGO_PKG_VERSION"), "name": "sigbatch"}),
        ),
    );
    if let Some(parent) = &settings.parent {
        let mut body = json!({
            "run": {"runId": parent.run_id.to_string()},
            "job": {"namespace": parent.namespace, "name": parent.name},
        });
        if let Some(root) = &settings.root {
            body["root"] = json!({
                "run": {"runId": root.run_id.to_string()},
                "job": {"namespace": root.namespace, "name": root.name},
            });
        }
        facets.insert("parent".into(), facet(PARENT, body));
    }
    facets
}

fn dataset(dataset: &Dataset) -> Value {
    let mut value = json!({"namespace": dataset.namespace, "name": dataset.name});
    if let Some(fields) = &dataset.fields {
        let fields: Vec<Value> = fields
            .iter()
            .enumerate()
            .map(|(i, name)| json!({"name": name, "ordinal_position": i + 1}))
            .collect();
        value["facets"] = json!({"schema": facet(SCHEMA, json!({"fields": fields}))});
    }
    value
}

/// A facet: its own fields plus the two every facet carries.
fn facet(schema_url: &str, body: Value) -> Value {
    let mut value = json!({"_producer": PRODUCER, "_schemaURL": schema_url});
    if let (Some(target), Value::Object(fields)) = (value.as_object_mut(), body) {
        target.extend(fields);
    }
    value
}
