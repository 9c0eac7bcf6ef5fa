//! A `type: databricks` output, with dbt-databricks' field names.

use std::time::Duration;

use super::fields::OutputFields;
use crate::error::Result;
use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub enum DatabricksAuth {
    /// A personal access token.
    Token(Secret),
    /// OAuth machine-to-machine: a service principal's client id and secret, exchanged at the
    /// workspace's `/oidc/v1/token`.
    ClientCredentials { client_id: String, secret: Secret },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabricksSettings {
    /// `https://<workspace host>` (an `http://` host is taken as given, for a loopback server).
    pub base_url: String,
    /// The SQL warehouse: the last segment of `http_path`.
    pub warehouse_id: String,
    pub auth: DatabricksAuth,
    /// The catalog sigbatch writes to; `None`: the workspace's default.
    pub catalog: Option<String>,
    pub schema: String,
    pub connect_timeout: Duration,
    /// Retries of a request that failed transiently (HTTP 429/503, network).
    pub retries: u32,
}

/// Reads the output's fields through `field` (which expands `env_var`).
pub(crate) fn parse(fields: &OutputFields<'_>) -> Result<DatabricksSettings> {
    let host = fields.required("host", "set `host: adb-1234567890.12.azuredatabricks.net`")?;
    let base_url = if host.starts_with("https://") || host.starts_with("http://") {
        host.trim_end_matches('/').to_string()
    } else {
        format!("https://{}", host.trim_end_matches('/'))
    };
    if crate::warehouse::http::is_clear_text_off_machine(&base_url) {
        return Err(fields.invalid(
            format!("`host: {host}` would send the token in clear text"),
            crate::warehouse::http::CLEAR_TEXT_HINT,
        ));
    }
    let http_path = fields.required(
        "http_path",
        "set `http_path: /sql/1.0/warehouses/<warehouse id>` (the SQL warehouse's connection details)",
    )?;
    let warehouse_id = http_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            fields.invalid(
                format!("`http_path` names no warehouse: `{http_path}`"),
                "use the SQL warehouse's HTTP path, /sql/1.0/warehouses/<warehouse id>",
            )
        })?
        .to_string();
    let auth = match (
        fields.get("token")?,
        fields.get("client_id")?,
        fields.get("client_secret")?,
    ) {
        (Some(token), _, _) => DatabricksAuth::Token(Secret::new(token)),
        (None, Some(client_id), Some(secret)) => DatabricksAuth::ClientCredentials {
            client_id,
            secret: Secret::new(secret),
        },
        _ => {
            return Err(fields.invalid(
                "no credentials: set `token`, or `client_id` and `client_secret`",
                "keep secrets out of the file: `token: \"{{ env_var('DATABRICKS_TOKEN') }}\"`",
            ));
        }
    };
    let number = |key: &str, default: u64| -> Result<u64> {
        let hint = "e.g. `connect_timeout: 10` (seconds), `connect_retries: 3`";
        Ok(fields.number(key, hint)?.unwrap_or(default))
    };
    Ok(DatabricksSettings {
        base_url,
        warehouse_id,
        auth,
        catalog: fields.get("catalog")?,
        schema: fields.required("schema", "set `schema:` to the schema sigbatch writes to")?,
        connect_timeout: Duration::from_secs(number("connect_timeout", 10)?),
        retries: number("connect_retries", 3)? as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::profiles::{Output, load_target};

    fn load(fields: &str) -> Result<DatabricksSettings> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            format!("p:\n  target: dev\n  outputs:\n    dev:\n      type: databricks\n{fields}"),
        )
        .unwrap();
        match load_target(&file, "p", None, dir.path())?.output {
            Output::Databricks(settings) => Ok(settings),
            other => panic!("not databricks: {other:?}"),
        }
    }

    #[test]
    fn dbt_databricks_fields_load_and_secrets_stay_redacted() {
        let settings = load(
            "      host: adb-123.azuredatabricks.net\n      http_path: /sql/1.0/warehouses/abc123\n      \
             token: dapi-very-secret\n      catalog: main\n      schema: signals\n",
        )
        .unwrap();
        assert_eq!(settings.base_url, "https://adb-123.azuredatabricks.net");
        assert_eq!(settings.warehouse_id, "abc123");
        assert_eq!(settings.catalog.as_deref(), Some("main"));
        assert!(!format!("{settings:?}").contains("very-secret"));
        let settings = load(
            "      host: http://127.0.0.1:8080\n      http_path: /sql/1.0/warehouses/w\n      \
             client_id: sp\n      client_secret: s3cret\n      schema: s\n",
        )
        .unwrap();
        assert_eq!(settings.base_url, "http://127.0.0.1:8080");
        let refused = load(
            "      host: http://adb-123.azuredatabricks.net\n      http_path: /sql/1.0/warehouses/w\n      \
             token: dapi-very-secret\n      schema: s\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("clear text") && !refused.contains("very-secret"),
            "{refused}"
        );
        assert!(matches!(
            settings.auth,
            DatabricksAuth::ClientCredentials { .. }
        ));
    }

    #[test]
    fn missing_credentials_or_warehouse_are_named() {
        let message = |fields: &str| load(fields).unwrap_err().to_string();
        assert!(
            message("      host: h\n      http_path: /sql/1.0/warehouses/w\n      schema: s\n")
                .contains("no credentials")
        );
        assert!(
            message("      host: h\n      token: t\n      schema: s\n")
                .contains("`http_path` is required")
        );
    }
}
