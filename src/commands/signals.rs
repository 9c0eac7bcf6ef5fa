//! `sync` and `test-connection`: tell Signals where a project's attributes table is, and check
//! that the API can be reached and the credentials work.
//!
//! `sync` publishes the group with the project's attributes table as its batch source, with the
//! calls the SDK 0.4.10 makes (read the group; POST it, PUT it when the version exists), or,
//! where the API refuses those with 404/405, with the older batch engine's two calls (register
//! the source, then publish; the second never sent when the first failed). The table is named
//! as the warehouse stores it (Snowflake upper case), with `updated_at` as the timestamp Signals
//! syncs by: a run changes `updated_at` exactly for the rows whose values changed, which is what
//! Signals needs.

use std::io::Write;

use serde_json::{Value, json};

use super::ProjectArgs;
use crate::error::{Error, Result};
use crate::render::Tables;
use crate::signals::{
    BatchSource, Client, Credentials, Failure, GroupBody, PublishStatus, Request, group_body,
};

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("writing output: {e}"))
}

#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub project: ProjectArgs,
    pub credentials: Credentials,
    /// `owner` of the batch source; else the group file's `owner`, else none.
    pub owner: Option<String>,
    /// Print the requests instead of sending them.
    pub dry_run: bool,
}

/// The batch source for the project's attributes table on its resolved target.
pub fn batch_source(
    args: &ProjectArgs,
    owner: Option<String>,
) -> Result<(String, u32, BatchSource)> {
    let (project, plan) = args.load()?;
    let target = args.target(&project)?;
    let dialect = target.output.kind().dialect();
    let tables = Tables::new(&plan, dialect.as_ref(), target.output.schema());
    let (schema, table) = tables.location("attributes");
    let database = target.output.database().ok_or_else(|| {
        Error::invalid(
            format!("target `{}`", target.name),
            "Signals needs the catalog the attributes table is in, and the profile names none",
        )
        .with_hint(format!(
            "set `catalog:` in the {} output of profiles.yml",
            target.output.kind()
        ))
    })?;
    let owner = match owner {
        Some(owner) => Some(owner),
        None => group_owner(&project.group_file),
    };
    let source = BatchSource {
        database: dialect.stored_name(&database),
        schema: dialect.stored_name(schema),
        table: dialect.stored_name(table),
        name: table.to_string(),
        timestamp_field: dialect.stored_name("updated_at"),
        description: Some(format!(
            "sigbatch attributes of `{}` v{} ({} mode)",
            project.group.name,
            project.group.version,
            project.semantics.as_str()
        )),
        owner,
    };
    Ok((project.group.name.clone(), project.group.version, source))
}

/// The `owner` the group has in Signals, as the group file holds it.
fn group_owner(file: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    value["owner"].as_str().map(str::to_string)
}

pub fn sync(settings: &SyncSettings, out: &mut dyn Write) -> Result<()> {
    let (group, version, source) = batch_source(&settings.project, settings.owner.clone())?;
    let api_url = &settings.credentials.api_url;
    if settings.dry_run {
        return dry_run(&group, version, &source, api_url, out);
    }
    let mut client = Client::new(settings.credentials.clone());
    let refused = match publish_group(&mut client, &group, version, &source, out)? {
        None => return Ok(()),
        Some(refused) => refused,
    };
    writeln!(
        out,
        "{refused}: this API lacks the SDK 0.4.10 calls (or the group); \
         trying the older batch_source and engines/publish calls"
    )
    .map_err(io)?;
    publish_by_sub_resource(&mut client, &group, version, &source, api_url, out)
}

/// The status of an answer that means "no such call here" (404, 405): an API older than the SDK
/// 0.4.10 routes, or no such group.
fn refused(failure: &Failure) -> Option<u16> {
    failure.status.filter(|s| matches!(s, 404 | 405))
}

/// The SDK 0.4.10 route: read the group, set its batch source and `is_published`, `POST` it,
/// and `PUT` it to its version when the POST answers 400 (the version exists). `Some` with the
/// call and status when one of these calls answered 404 or 405 (nothing was written then).
fn publish_group(
    client: &mut Client,
    group: &str,
    version: u32,
    source: &BatchSource,
    out: &mut dyn Write,
) -> Result<Option<String>> {
    let answered =
        |request: &Request, status: u16| format!("`{}` answered {status}", request.call());
    let get = Request::get_group(group, Some(version), None);
    let read = match client.send(&get) {
        Ok(read) => read,
        Err(failure) => match refused(&failure) {
            Some(status) => return Ok(Some(answered(&get, status))),
            None => return Err(failure.error),
        },
    };
    let GroupBody { body, dropped } = group_body(&read, group, version, source)?;
    let create = Request::create_group(body.clone());
    let route = match client.send(&create) {
        Ok(_) => format!("`{}` (a new version)", create.call()),
        Err(failure) if failure.status == Some(400) => {
            let update = Request::update_group(group, version, body);
            match client.send(&update) {
                Ok(_) => format!(
                    "`{}` (the POST answered 400: the version exists)",
                    update.call()
                ),
                Err(failure) => match refused(&failure) {
                    Some(status) => return Ok(Some(answered(&update, status))),
                    None => return Err(failure.error),
                },
            }
        }
        Err(failure) => match refused(&failure) {
            Some(status) => return Ok(Some(answered(&create, status))),
            None => return Err(failure.error),
        },
    };
    writeln!(
        out,
        "published attribute group `{group}` v{version} with its batch source by {route}\n\
         batch source: {}",
        source.describe()
    )
    .map_err(io)?;
    if !dropped.is_empty() {
        writeln!(
            out,
            "left out fields the API derives (the SDK sends none of them): {}",
            dropped.join(", ")
        )
        .map_err(io)?;
    }
    Ok(None)
}

/// The older batch engine's route: the `batch_source` sub-resource, then `engines/publish`;
/// the second is not sent when the first failed.
fn publish_by_sub_resource(
    client: &mut Client,
    group: &str,
    version: u32,
    source: &BatchSource,
    api_url: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let not_found = |failure: Failure| -> Error {
        match failure.status {
            Some(404) => failure.error.with_hint(format!(
                "Signals at {api_url} has no attribute group `{group}` v{version}: check the name and \
                 version in the project's group file, and the API URL"
            )),
            _ => failure.error,
        }
    };
    client
        .send(&Request::batch_source(group, version, source))
        .map_err(not_found)?;
    writeln!(
        out,
        "registered the batch source of attribute group `{group}` v{version}: {}",
        source.describe()
    )
    .map_err(io)?;
    let answer = client
        .send(&Request::publish(group, version))
        .map_err(not_found)?;
    let line = match PublishStatus::from_answer(&answer) {
        PublishStatus::Published => format!("published attribute group `{group}` v{version}"),
        PublishStatus::NothingToPublish => {
            format!(
                "attribute group `{group}` v{version}: nothing to publish (already published as it is)"
            )
        }
        PublishStatus::Other(status) => {
            format!("attribute group `{group}` v{version}: publish answered `{status}`")
        }
    };
    writeln!(
        out,
        "{line} (by the older batch_source and engines/publish calls)"
    )
    .map_err(io)
}

/// The calls `sync` would make, in order, with what decides between them; nothing is sent, so
/// the POST's body shows only what sync sets on the group it would read.
fn dry_run(
    group: &str,
    version: u32,
    source: &BatchSource,
    api_url: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let set = json!({"batch_source": source, "is_published": true});
    let steps = [
        (
            "read the group as Signals holds it",
            Request::get_group(group, Some(version), None),
        ),
        (
            "write it back: the group as read (less the fields the API derives, and nulls), \
             with these fields set",
            Request::create_group(set.clone()),
        ),
        (
            "only if the POST answers 400 (the version exists): the same body to its version",
            Request::update_group(group, version, set),
        ),
        (
            "only if one of those answers 404 or 405 (an older API): the batch source \
             sub-resource",
            Request::batch_source(group, version, source),
        ),
        (
            "then the older publish call",
            Request::publish(group, version),
        ),
    ];
    writeln!(out, "-- dry run: nothing was sent. The requests follow.\n").map_err(io)?;
    for (why, request) in steps {
        writeln!(out, "-- {why}:\n{}", request.describe(api_url)).map_err(io)?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct ConnectionChecks {
    pub credentials: Credentials,
    pub auth: bool,
    pub api: bool,
}

/// The auth check (list groups with the token) and the health check, each reported on `out`;
/// an error naming the failed checks if any failed, user-fixable only if every failure is.
pub fn test_connection(checks: &ConnectionChecks, out: &mut dyn Write) -> Result<()> {
    if !checks.auth && !checks.api {
        return Err(
            Error::invalid("test-connection", "both checks are turned off")
                .with_hint("drop --no-check-auth or --no-check-api"),
        );
    }
    let credentials = &checks.credentials;
    let mut client = Client::new(credentials.clone());
    let mut failures: Vec<(&str, Error)> = Vec::new();
    if checks.auth {
        let label = format!("auth ({} mode)", credentials.mode.as_str());
        match client.send(&Request::list_groups(None)) {
            Ok(_) => writeln!(out, "{label}: ok").map_err(io)?,
            Err(failure) => {
                writeln!(out, "{label}: failed: {}", failure.error).map_err(io)?;
                failures.push(("auth", failure.error));
            }
        }
    }
    if checks.api {
        let label = format!("api ({}/health-all)", credentials.api_url);
        match health(&mut client) {
            Ok(detail) => writeln!(out, "{label}: ok{detail}").map_err(io)?,
            Err(error) => {
                writeln!(out, "{label}: failed: {error}").map_err(io)?;
                failures.push(("api", error));
            }
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = failures.iter().map(|(name, _)| *name).collect();
    let user_fixable = failures.iter().all(|(_, e)| e.is_user_error());
    Err(Error::Remote {
        service: "test-connection",
        message: format!("failed: {}", names.join(", ")),
        hint: failures
            .iter()
            .find_map(|(_, e)| e.hint().map(str::to_string)),
        user_fixable,
    })
}

/// `Ok` with the dependencies' states when the API says `ok` for itself and every dependency.
fn health(client: &mut Client) -> Result<String> {
    let answer = client.send_raw(&Request::health())?;
    let value: Option<Value> = serde_json::from_str(&answer.text).ok();
    let status = value
        .as_ref()
        .and_then(|v| v["status"].as_str())
        .unwrap_or("");
    let dependencies: Vec<(String, String)> = value
        .as_ref()
        .and_then(|v| v["dependencies"].as_object())
        .map(|deps| {
            deps.iter()
                .map(|(name, state)| {
                    let state = state
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or(state.to_string());
                    (name.clone(), state)
                })
                .collect()
        })
        .unwrap_or_default();
    let listed: Vec<String> = dependencies
        .iter()
        .map(|(n, s)| format!("{n} {s}"))
        .collect();
    let healthy = answer.status == 200
        && status == "ok"
        && dependencies.iter().all(|(_, state)| state == "ok");
    if healthy {
        return Ok(if listed.is_empty() {
            String::new()
        } else {
            format!(" ({})", listed.join(", "))
        });
    }
    let said = match &value {
        Some(_) if listed.is_empty() => format!("status `{status}`"),
        Some(_) => format!("status `{status}`: {}", listed.join(", ")),
        None => format!(
            "not JSON: `{}`",
            client
                .credentials()
                .redact(answer.text.trim())
                .chars()
                .take(200)
                .collect::<String>()
        ),
    };
    let client_error = (400..500).contains(&answer.status);
    Err(Error::Remote {
        service: "signals api",
        message: format!("`GET /health-all` answered {}, {said}", answer.status),
        hint: Some(if client_error {
            "check --api-url (SNOWPLOW_API_URL): it must be the Signals API".into()
        } else {
            "the Signals API or one of its dependencies is down; retry later".into()
        }),
        user_fixable: client_error,
    })
}
