//! A `type: snowflake` output, with dbt-snowflake's field names.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fields::OutputFields;
use crate::error::Result;

pub use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq)]
pub enum SnowflakeAuth {
    Password(Secret),
    /// Key-pair authentication: a JWT signed with the PKCS#8 key at `path`.
    KeyPair {
        path: PathBuf,
        passphrase: Option<Secret>,
    },
    /// `authenticator: oauth` with a `token`.
    OAuth(Secret),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnowflakeSettings {
    pub account: String,
    pub user: String,
    pub auth: SnowflakeAuth,
    pub role: Option<String>,
    pub warehouse: Option<String>,
    pub database: String,
    pub schema: String,
    pub query_tag: Option<String>,
    pub connect_timeout: Duration,
    /// Retries of a request that failed transiently (HTTP 429/5xx, network).
    pub retries: u32,
    /// `protocol://host:port`, by default `https://<account>.snowflakecomputing.com`.
    pub base_url: String,
}

/// Reads the output's fields through `field` (which expands `env_var`).
pub(crate) fn parse(fields: &OutputFields<'_>, project_dir: &Path) -> Result<SnowflakeSettings> {
    let account = fields.required(
        "account",
        "set `account: xy12345.eu-west-1` (your account identifier)",
    )?;
    let user = fields.required("user", "set `user:` to the login name")?;
    let authenticator = fields.get("authenticator")?.map(|a| a.to_lowercase());
    let auth = match (
        authenticator.as_deref(),
        fields.get("password")?,
        fields.get("private_key_path")?,
        fields.get("token")?,
    ) {
        (Some("oauth"), _, _, Some(token)) => SnowflakeAuth::OAuth(Secret::new(token)),
        (Some("oauth"), _, _, None) => {
            return Err(fields.invalid(
                "`authenticator: oauth` needs a `token`",
                "set `token: \"{{ env_var('SNOWFLAKE_OAUTH_TOKEN') }}\"`",
            ));
        }
        (Some(other), ..) if other != "snowflake" && other != "snowflake_jwt" => {
            return Err(fields.invalid(
                format!("`authenticator: {other}` is not supported"),
                "use a password, `private_key_path` (key-pair) or `authenticator: oauth` with `token`",
            ));
        }
        (_, _, Some(path), _) => {
            let path = PathBuf::from(path);
            SnowflakeAuth::KeyPair {
                path: if path.is_absolute() {
                    path
                } else {
                    project_dir.join(path)
                },
                passphrase: fields.get("private_key_passphrase")?.map(Secret::new),
            }
        }
        (_, Some(password), None, _) => SnowflakeAuth::Password(Secret::new(password)),
        _ => {
            return Err(fields.invalid(
                "no credentials: set `password`, `private_key_path` or `authenticator: oauth` with `token`",
                "keep secrets out of the file: `password: \"{{ env_var('SNOWFLAKE_PASSWORD') }}\"`",
            ));
        }
    };
    let number = |key: &str, default: u64| -> Result<u64> {
        let hint = "e.g. `connect_timeout: 10` (seconds), `retries: 3`";
        Ok(fields.number(key, hint)?.unwrap_or(default))
    };
    let connect_timeout = Duration::from_secs(number("connect_timeout", 10)?);
    let retries = match fields.get("retries")? {
        Some(_) => number("retries", 3)?,
        None => number("connect_retries", 3)?,
    } as u32;
    let host = fields
        .get("host")?
        .unwrap_or_else(|| format!("{account}.snowflakecomputing.com"));
    let protocol = fields.get("protocol")?.unwrap_or_else(|| "https".into());
    if protocol != "https" && protocol != "http" {
        return Err(fields.invalid(
            format!("`protocol` must be https or http, not `{protocol}`"),
            "leave it out for https",
        ));
    }
    let base_url = match fields.get("port")? {
        Some(port) => format!("{protocol}://{host}:{port}"),
        None => format!("{protocol}://{host}"),
    };
    if crate::warehouse::http::is_clear_text_off_machine(&base_url) {
        return Err(fields.invalid(
            format!("`protocol: http` would send the password or key to `{host}` in clear text"),
            crate::warehouse::http::CLEAR_TEXT_HINT,
        ));
    }
    Ok(SnowflakeSettings {
        account,
        user,
        auth,
        role: fields.get("role")?,
        warehouse: fields.get("warehouse")?,
        database: fields.required(
            "database",
            "set `database:` to the database sigbatch writes to",
        )?,
        schema: fields.get("schema")?.unwrap_or_else(|| "public".into()),
        query_tag: fields.get("query_tag")?,
        connect_timeout,
        retries,
        base_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::profiles::{Output, load_target};

    fn load(fields: &str) -> Result<SnowflakeSettings> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("profiles.yml");
        std::fs::write(
            &file,
            format!("p:\n  target: prod\n  outputs:\n    prod:\n      type: snowflake\n{fields}"),
        )
        .unwrap();
        match load_target(&file, "p", None, Path::new("/proj"))?.output {
            Output::Snowflake(settings) => Ok(settings),
            other => panic!("not a snowflake output: {other:?}"),
        }
    }

    const BASE: &str =
        "      account: xy12345.eu-west-1\n      user: loader\n      database: analytics\n";

    #[test]
    fn dbt_snowflake_fields_load_with_defaults_and_secrets_stay_redacted() {
        let settings = load(&format!(
            "{BASE}      password: \"{{{{ env_var('SIGBATCH_TEST_UNSET_SF_PW', 's3cret') }}}}\"\n      \
             role: transformer\n      warehouse: wh\n      schema: signals\n      query_tag: tag\n      \
             connect_retries: 5\n"
        ))
        .unwrap();
        assert_eq!(
            settings.auth,
            SnowflakeAuth::Password(Secret::new("s3cret".into()))
        );
        assert_eq!(
            settings.base_url,
            "https://xy12345.eu-west-1.snowflakecomputing.com"
        );
        assert_eq!(
            (settings.retries, settings.connect_timeout.as_secs()),
            (5, 10)
        );
        assert_eq!(settings.schema, "signals");
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn key_pair_oauth_and_a_test_server_address() {
        let settings = load(&format!(
            "{BASE}      private_key_path: keys/rsa.p8\n      private_key_passphrase: pp\n      \
             host: 127.0.0.1\n      port: 8085\n      protocol: http\n"
        ))
        .unwrap();
        assert_eq!(
            settings.auth,
            SnowflakeAuth::KeyPair {
                path: PathBuf::from("/proj/keys/rsa.p8"),
                passphrase: Some(Secret::new("pp".into()))
            }
        );
        assert_eq!(settings.base_url, "http://127.0.0.1:8085");
        let settings = load(&format!(
            "{BASE}      authenticator: oauth\n      token: tok\n"
        ))
        .unwrap();
        assert_eq!(
            settings.auth,
            SnowflakeAuth::OAuth(Secret::new("tok".into()))
        );
    }

    #[test]
    fn plain_http_to_a_real_host_is_refused() {
        let error = load(&format!(
            "{BASE}      password: s3cret\n      host: acme.example.com\n      protocol: http\n"
        ))
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("clear text") && text.contains("acme.example.com"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        assert!(error.hint().is_some_and(|h| h.contains("https://")));
    }

    #[test]
    fn missing_or_unsupported_credentials_and_bad_numbers_are_named() {
        let error = |fields: &str| load(fields).unwrap_err().to_string();
        assert!(error(BASE).contains("no credentials"));
        assert!(error(&format!("{BASE}      authenticator: oauth\n")).contains("needs a `token`"));
        assert!(
            error(&format!("{BASE}      authenticator: externalbrowser\n"))
                .contains("`authenticator: externalbrowser` is not supported")
        );
        assert!(
            error(&format!("{BASE}      password: x\n      retries: many\n"))
                .contains("`retries` must be a whole number, not `many`")
        );
        assert!(
            error("      user: u\n      password: x\n      database: d\n")
                .contains("`account` is required")
        );
        assert!(
            error(&format!("{BASE}      password: x\n      protocol: ftp\n")).contains("`ftp`")
        );
    }
}
