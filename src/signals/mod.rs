//! The Signals API: read attribute groups (`init`), write a group back with its batch source
//! and published as the SDK 0.4.10 does, or through the older batch engine's sub-resource and
//! publish calls where an API lacks those (`sync`), check auth and health (`test-connection`).
//!
//! Credentials are read as upstream reads them (the same options and `SNOWPLOW_*` variables,
//! resolved by the CLI) into [`Credentials`]; what a mode needs is checked only when a call needs
//! it, so `test-connection --no-check-auth` and `sync --dry-run` work without keys. Every call is
//! first a [`Request`] value: `--dry-run` prints it, the [`Client`] sends it, so the two cannot
//! drift apart. Secrets are [`Secret`]s, and whatever a server answers is passed through
//! [`Credentials::redact`] before it reaches an error message.

mod api;
mod auth;
mod client;
mod groups;
mod publish;

pub use api::{BatchSource, PublishStatus, Request};
pub use auth::{Token, token_expiry};
pub use client::{Client, Failure};
pub use groups::{GroupSelection, RemoteGroup, select_groups};
pub use publish::{GroupBody, group_body};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The Console host that exchanges an API key for a JWT (upstream's, fixed there).
pub const DEFAULT_CONSOLE_URL: &str = "https://console.snowplowanalytics.com";

/// How requests are authorised: `bdp` exchanges an API key for a JWT at the Console; `sandbox`
/// sends a token as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    #[default]
    Bdp,
    Sandbox,
}

impl AuthMode {
    pub fn parse(text: &str) -> Result<AuthMode> {
        match text {
            "bdp" => Ok(AuthMode::Bdp),
            "sandbox" => Ok(AuthMode::Sandbox),
            other => Err(Error::invalid(
                "--auth-mode",
                format!("`{other}` is neither `bdp` nor `sandbox`"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Bdp => "bdp",
            AuthMode::Sandbox => "sandbox",
        }
    }
}

/// What the options and environment gave; nothing checked yet but the API URL's presence.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Without the trailing `/`.
    pub api_url: String,
    pub mode: AuthMode,
    pub api_key: Option<Secret>,
    pub api_key_id: Option<String>,
    pub org_id: Option<String>,
    pub sandbox_token: Option<Secret>,
    /// Without the trailing `/`.
    pub console_url: String,
}

/// The parts of one mode, once checked.
#[derive(Debug, Clone)]
pub enum Auth<'a> {
    Bdp {
        console_url: &'a str,
        org_id: &'a str,
        api_key_id: &'a str,
        api_key: &'a Secret,
    },
    Sandbox(&'a Secret),
}

impl Credentials {
    /// Checks that there is an API URL (every command needs one) and normalises the URLs.
    pub fn new(
        api_url: Option<String>,
        mode: AuthMode,
        console_url: Option<String>,
    ) -> Result<Credentials> {
        let api_url = api_url.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            Error::invalid("signals", "no API URL").with_hint(
                "pass --api-url or set SNOWPLOW_API_URL (the Signals API endpoint from Console)",
            )
        })?;
        let console_url = console_url
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_CONSOLE_URL.to_string());
        for (name, url) in [("API", &api_url), ("Console", &console_url)] {
            if crate::warehouse::http::is_clear_text_off_machine(url.trim()) {
                return Err(Error::invalid(
                    "signals",
                    format!(
                        "the {name} URL `{}` would send the API key in clear text",
                        url.trim()
                    ),
                )
                .with_hint(crate::warehouse::http::CLEAR_TEXT_HINT));
            }
        }
        Ok(Credentials {
            api_url: api_url.trim().trim_end_matches('/').to_string(),
            mode,
            console_url: console_url.trim().trim_end_matches('/').to_string(),
            ..Default::default()
        })
    }

    /// The checked parts of the chosen mode, or which ones are missing.
    pub fn auth(&self) -> Result<Auth<'_>> {
        match self.mode {
            AuthMode::Sandbox => match &self.sandbox_token {
                Some(token) if !token.expose().is_empty() => Ok(Auth::Sandbox(token)),
                _ => Err(
                    Error::invalid("signals", "sandbox mode needs a sandbox token")
                        .with_hint("pass --sandbox-token or set SNOWPLOW_SANDBOX_TOKEN"),
                ),
            },
            AuthMode::Bdp => {
                fn present(v: Option<&str>) -> Option<&str> {
                    v.filter(|s| !s.is_empty())
                }
                let key = self.api_key.as_ref().filter(|k| !k.expose().is_empty());
                let (org_id, api_key_id) = (
                    present(self.org_id.as_deref()),
                    present(self.api_key_id.as_deref()),
                );
                match (org_id, api_key_id, key) {
                    (Some(org_id), Some(api_key_id), Some(api_key)) => Ok(Auth::Bdp {
                        console_url: &self.console_url,
                        org_id,
                        api_key_id,
                        api_key,
                    }),
                    _ => {
                        let missing: Vec<&str> = [
                            (key.is_none(), "an API key (--api-key, SNOWPLOW_API_KEY)"),
                            (
                                api_key_id.is_none(),
                                "its id (--api-key-id, SNOWPLOW_API_KEY_ID)",
                            ),
                            (
                                org_id.is_none(),
                                "the organization id (--org-id, SNOWPLOW_ORG_ID)",
                            ),
                        ]
                        .into_iter()
                        .filter(|(absent, _)| *absent)
                        .map(|(_, what)| what)
                        .collect();
                        Err(Error::invalid(
                            "signals",
                            format!("bdp mode needs {}", missing.join(", ")),
                        )
                        .with_hint("create an API key in Console (Settings, API keys), or use --auth-mode sandbox with a sandbox token"))
                    }
                }
            }
        }
    }

    /// `text` with every secret these credentials hold replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in [&self.api_key, &self.sandbox_token].into_iter().flatten() {
            text = secret.redact(&text);
        }
        text
    }
}
