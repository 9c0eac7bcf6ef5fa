//! A `type: bigquery` output, with dbt-bigquery's field names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fields::OutputFields;
use crate::error::Result;
use crate::secret::Secret;

/// How the client gets its OAuth access token (dbt-bigquery's `method`).
#[derive(Debug, Clone, PartialEq)]
pub enum BigQueryAuth {
    /// `service-account`: a key file on disk.
    ServiceAccountFile(PathBuf),
    /// `service-account-json`: the key file's JSON in `keyfile_json`.
    ServiceAccountJson(Secret),
    /// `oauth`: application default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
    /// file, or the metadata server).
    ApplicationDefault,
    /// `oauth-secrets` with a ready `token`.
    Token(Secret),
    /// `oauth-secrets` with a `refresh_token`, `client_id`, `client_secret` and `token_uri`.
    RefreshToken {
        refresh_token: Secret,
        client_id: String,
        client_secret: Secret,
        token_uri: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct BigQuerySettings {
    pub auth: BigQueryAuth,
    /// The GCP project jobs run in and datasets live in.
    pub project: String,
    /// The dataset sigbatch writes to (dbt's `dataset`, or `schema`).
    pub dataset: String,
    /// Where jobs run and datasets are created; `None`: the events dataset's location.
    pub location: Option<String>,
    /// `interactive` or `batch`.
    pub batch_priority: bool,
    /// Every job fails rather than bill more than this.
    pub maximum_bytes_billed: Option<u64>,
    pub job_execution_timeout: Option<Duration>,
    /// Retries of a request or job that failed transiently (rate limits, 5xx, network).
    pub retries: u32,
    /// The REST root, `https://bigquery.googleapis.com` unless `api_endpoint` says otherwise.
    pub api_endpoint: String,
}

/// Reads the output's fields through `field` (which expands `env_var`).
pub(crate) fn parse(fields: &OutputFields<'_>, project_dir: &Path) -> Result<BigQuerySettings> {
    let method = fields.get("method")?.unwrap_or_else(|| "oauth".into());
    let auth = match method.as_str() {
        "service-account" => {
            let path = PathBuf::from(fields.required(
                "keyfile",
                "set `keyfile:` to the service account's JSON key file",
            )?);
            BigQueryAuth::ServiceAccountFile(if path.is_absolute() {
                path
            } else {
                project_dir.join(path)
            })
        }
        "service-account-json" => BigQueryAuth::ServiceAccountJson(Secret::new(fields.required(
            "keyfile_json",
            "set `keyfile_json:` to the key's JSON, e.g. from env_var('BIGQUERY_KEYFILE_JSON')",
        )?)),
        "oauth" => BigQueryAuth::ApplicationDefault,
        "oauth-secrets" => match (fields.get("token")?, fields.get("refresh_token")?) {
            (Some(token), _) => BigQueryAuth::Token(Secret::new(token)),
            (None, Some(refresh_token)) => BigQueryAuth::RefreshToken {
                refresh_token: Secret::new(refresh_token),
                client_id: fields.required("client_id", "a `refresh_token` needs `client_id`")?,
                client_secret: Secret::new(
                    fields.required("client_secret", "a `refresh_token` needs `client_secret`")?,
                ),
                token_uri: fields
                    .get("token_uri")?
                    .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
            },
            (None, None) => {
                return Err(fields.invalid(
                    "`method: oauth-secrets` needs a `token` or a `refresh_token`",
                    "set `token: \"{{ env_var('BIGQUERY_TOKEN') }}\"`",
                ));
            }
        },
        other => {
            return Err(fields.invalid(
                format!("`method: {other}` is not supported"),
                "use service-account (keyfile), service-account-json (keyfile_json), oauth or oauth-secrets",
            ));
        }
    };
    if let BigQueryAuth::RefreshToken { token_uri, .. } = &auth
        && crate::warehouse::http::is_clear_text_off_machine(token_uri)
    {
        return Err(fields.invalid(
            format!("`token_uri: {token_uri}` would send the refresh token in clear text"),
            crate::warehouse::http::CLEAR_TEXT_HINT,
        ));
    }
    let number = |key: &str| {
        let hint = "e.g. `maximum_bytes_billed: 1000000000`, `job_execution_timeout_seconds: 600`, `job_retries: 3`";
        fields.number(key, hint)
    };
    let batch_priority = match fields.get("priority")?.as_deref() {
        None | Some("interactive") => false,
        Some("batch") => true,
        Some(other) => {
            return Err(fields.invalid(
                format!("`priority` must be interactive or batch, not `{other}`"),
                "leave it out for interactive",
            ));
        }
    };
    let api_endpoint = fields
        .get("api_endpoint")?
        .unwrap_or_else(|| "https://bigquery.googleapis.com".into())
        .trim_end_matches('/')
        .to_string();
    if !api_endpoint.starts_with("https://") && !api_endpoint.starts_with("http://") {
        return Err(fields.invalid(
            format!("`api_endpoint` must be an http(s) URL, not `{api_endpoint}`"),
            "leave it out for https://bigquery.googleapis.com",
        ));
    }
    if crate::warehouse::http::is_clear_text_off_machine(&api_endpoint) {
        return Err(fields.invalid(
            format!("`api_endpoint: {api_endpoint}` would send the access token in clear text"),
            crate::warehouse::http::CLEAR_TEXT_HINT,
        ));
    }
    let dataset = match fields.get("dataset")? {
        Some(dataset) => dataset,
        None => fields.required("schema", "set `dataset:` to the dataset sigbatch writes to")?,
    };
    Ok(BigQuerySettings {
        auth,
        project: fields.required("project", "set `project:` to the GCP project id")?,
        dataset,
        location: fields.get("location")?,
        batch_priority,
        maximum_bytes_billed: number("maximum_bytes_billed")?,
        job_execution_timeout: number("job_execution_timeout_seconds")?.map(Duration::from_secs),
        retries: number("job_retries")?.unwrap_or(3) as u32,
        api_endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::profiles::{Output, load_target};

    fn load(fields: &str) -> Result<BigQuerySettings> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            format!("p:\n  target: dev\n  outputs:\n    dev:\n      type: bigquery\n{fields}"),
        )
        .unwrap();
        match load_target(&file, "p", None, dir.path())?.output {
            Output::BigQuery(settings) => Ok(settings),
            other => panic!("not bigquery: {other:?}"),
        }
    }

    #[test]
    fn dbt_bigquery_fields_load_and_secrets_stay_redacted() {
        let settings = load(
            "      method: oauth-secrets\n      token: ya29.very-secret\n      project: my-proj\n      \
             dataset: signals\n      location: EU\n      priority: batch\n      maximum_bytes_billed: 1000\n      \
             job_execution_timeout_seconds: 60\n      job_retries: 5\n      api_endpoint: http://127.0.0.1:9050/\n",
        )
        .unwrap();
        assert_eq!(settings.project, "my-proj");
        assert_eq!(settings.dataset, "signals");
        assert_eq!(settings.location.as_deref(), Some("EU"));
        assert!(settings.batch_priority);
        assert_eq!(settings.maximum_bytes_billed, Some(1000));
        assert_eq!(
            settings.job_execution_timeout,
            Some(Duration::from_secs(60))
        );
        assert_eq!(settings.retries, 5);
        assert_eq!(settings.api_endpoint, "http://127.0.0.1:9050");
        assert!(!format!("{settings:?}").contains("very-secret"));
    }

    #[test]
    fn methods_and_defaults() {
        let settings = load("      project: p\n      schema: s\n").unwrap();
        assert_eq!(settings.auth, BigQueryAuth::ApplicationDefault);
        assert_eq!(settings.dataset, "s");
        assert_eq!(settings.api_endpoint, "https://bigquery.googleapis.com");
        let settings = load("      method: service-account\n      keyfile: key.json\n      project: p\n      dataset: d\n").unwrap();
        assert!(
            matches!(settings.auth, BigQueryAuth::ServiceAccountFile(path) if path.is_absolute() && path.ends_with("key.json"))
        );
    }

    #[test]
    fn missing_or_bad_fields_are_named() {
        let message = |fields: &str| load(fields).unwrap_err().to_string();
        assert!(message("      dataset: d\n").contains("`project` is required"));
        assert!(
            message("      project: p\n      dataset: d\n      method: magic\n")
                .contains("`method: magic`")
        );
        assert!(
            message("      project: p\n      dataset: d\n      method: oauth-secrets\n")
                .contains("needs a `token`")
        );
        assert!(
            message("      project: p\n      dataset: d\n      maximum_bytes_billed: lots\n")
                .contains("`lots`")
        );
        assert!(
            message("      project: p\n      dataset: d\n      priority: urgent\n")
                .contains("`urgent`")
        );
    }
}
