//! OAuth access tokens for BigQuery: a ready token, a service-account key (a signed JWT
//! exchanged at the key's `token_uri`), a refresh token, or application default credentials
//! (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, else the metadata server). Tokens are
//! cached until a minute before they expire.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::project::profiles::bigquery::BigQueryAuth;
use crate::secret::Secret;
use crate::warehouse::http::read_body;

const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";
const METADATA_TOKEN: &str =
    "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token";

pub struct TokenSource {
    auth: BigQueryAuth,
    cached: Option<(Secret, Instant)>,
}

impl TokenSource {
    pub fn new(auth: BigQueryAuth) -> TokenSource {
        TokenSource { auth, cached: None }
    }

    /// A valid access token, fetched again when the cached one is about to expire.
    pub fn token(&mut self, agent: &ureq::Agent) -> Result<Secret> {
        if let Some((token, until)) = &self.cached
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = self.fetch(agent)?;
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        self.cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets the cached token (the server refused it).
    pub fn forget(&mut self) {
        self.cached = None;
    }

    fn fetch(&self, agent: &ureq::Agent) -> Result<(Secret, Duration)> {
        match &self.auth {
            BigQueryAuth::Token(token) => Ok((token.clone(), Duration::from_secs(u64::MAX / 4))),
            BigQueryAuth::ServiceAccountFile(path) => {
                service_account(agent, &read_key_file(path)?, &path.display().to_string())
            }
            BigQueryAuth::ServiceAccountJson(json) => {
                service_account(agent, json.expose(), "`keyfile_json`")
            }
            BigQueryAuth::RefreshToken {
                refresh_token,
                client_id,
                client_secret,
                token_uri,
            } => exchange(
                agent,
                token_uri,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                ],
            ),
            BigQueryAuth::ApplicationDefault => application_default(agent),
        }
    }
}

fn read_key_file(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::file(path, format!("cannot read the credentials file: {e}")).with_hint(
            "`keyfile` names a service account's JSON key (IAM > Service accounts > Keys)",
        )
    })
}

/// A service account's key: an RS256 JWT for the BigQuery scope, exchanged for a token.
fn service_account(
    agent: &ureq::Agent,
    key_json: &str,
    source: &str,
) -> Result<(Secret, Duration)> {
    let bad = |what: String| {
        Error::invalid(format!("bigquery credentials in {source}"), what).with_hint(
            "use the JSON key file as downloaded (type service_account, client_email, private_key)",
        )
    };
    let key: Value = serde_json::from_str(key_json).map_err(|e| bad(format!("not JSON: {e}")))?;
    let email = key["client_email"]
        .as_str()
        .ok_or_else(|| bad("no `client_email`".into()))?;
    let pem = key["private_key"]
        .as_str()
        .ok_or_else(|| bad("no `private_key`".into()))?;
    let token_uri = key["token_uri"]
        .as_str()
        .unwrap_or("https://oauth2.googleapis.com/token");
    let private = RsaPrivateKey::from_pkcs8_pem(pem)
        .map_err(|e| bad(format!("`private_key` is not a PKCS#8 RSA key: {e}")))?;
    let now = chrono::Utc::now().timestamp();
    let claims =
        json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600});
    let assertion = signed_jwt(&private, &claims);
    exchange(
        agent,
        token_uri,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &assertion),
        ],
    )
}

fn signed_jwt(key: &RsaPrivateKey, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{claims}");
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's application default credentials, then the
/// metadata server of the machine sigbatch runs on.
fn application_default(agent: &ureq::Agent) -> Result<(Secret, Duration)> {
    let file = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var_os("HOME")?;
            let path =
                PathBuf::from(home).join(".config/gcloud/application_default_credentials.json");
            path.exists().then_some(path)
        });
    let Some(path) = file else {
        return metadata_server(agent);
    };
    let text = read_key_file(&path)?;
    let key: Value =
        serde_json::from_str(&text).map_err(|e| Error::file(&path, format!("not JSON: {e}")))?;
    match key["type"].as_str() {
        Some("service_account") => service_account(agent, &text, &path.display().to_string()),
        Some("authorized_user") => {
            let field = |name: &str| key[name].as_str().unwrap_or_default().to_string();
            exchange(
                agent,
                "https://oauth2.googleapis.com/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &field("refresh_token")),
                    ("client_id", &field("client_id")),
                    ("client_secret", &field("client_secret")),
                ],
            )
        }
        other => Err(Error::file(
            &path,
            format!("credentials of type {other:?} are not supported"),
        )
        .with_hint("use a service account key or `gcloud auth application-default login`")),
    }
}

fn metadata_server(agent: &ureq::Agent) -> Result<(Secret, Duration)> {
    let no_credentials = |reason: String| {
        Error::invalid("bigquery `method: oauth`", format!("no application default credentials ({reason})"))
            .with_hint("run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or use `method: service-account`")
    };
    let response = agent
        .get(METADATA_TOKEN)
        .header("Metadata-Flavor", "Google")
        .call()
        .map_err(|e| no_credentials(format!("no metadata server: {e}")))?;
    token_answer(response, "the metadata server").map_err(|e| no_credentials(e.to_string()))
}

/// Posts a form to an OAuth token endpoint and reads `access_token` and `expires_in`.
fn exchange(agent: &ureq::Agent, uri: &str, form: &[(&str, &str)]) -> Result<(Secret, Duration)> {
    let response = agent
        .post(uri)
        .send_form(form.iter().copied())
        .map_err(|e| {
            Error::invalid(
                format!("bigquery token endpoint `{uri}`"),
                format!("unreachable: {e}"),
            )
            .with_hint("check the network, or `token_uri` in the credentials")
        })?;
    token_answer(response, uri)
}

fn token_answer(
    response: ureq::http::Response<ureq::Body>,
    from: &str,
) -> Result<(Secret, Duration)> {
    let status = response.status();
    let text = read_body(response).unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match answer["access_token"].as_str() {
        Some(token) if status.is_success() => Ok((
            Secret::new(token.to_string()),
            Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(3600)),
        )),
        _ => Err(Error::invalid(
            format!("bigquery credentials ({from})"),
            format!(
                "refused with HTTP {status}: {}",
                answer["error_description"]
                    .as_str()
                    .or(answer["error"].as_str())
                    .unwrap_or("no access_token in the answer")
            ),
        )
        .with_hint("check the key or token in profiles.yml (secrets from env_var)")),
    }
}
