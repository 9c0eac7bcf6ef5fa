//! What the REST warehouse clients share: transient-or-final failures, retries with exponential
//! backoff that a stop request interrupts, and response bodies read as text.

use std::io::Read;
use std::time::Duration;

use crate::error::{Error, Result};

/// What a failed HTTP exchange was: worth retrying, or final.
pub enum Failure {
    Transient(String),
    Final(Error),
}

/// Runs `attempt` until it succeeds, fails for good, or has been retried `retries` times,
/// waiting `backoff`, then twice as long before each further retry; a stop request (SIGINT,
/// SIGTERM) ends the waiting.
pub fn retrying<T>(
    what: &str,
    retries: u32,
    backoff: Duration,
    mut attempt: impl FnMut() -> std::result::Result<T, Failure>,
) -> Result<T> {
    let mut backoff = backoff;
    let mut retried = 0;
    loop {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(Failure::Transient(message)) if retried < retries => {
                retried += 1;
                if crate::cancel::requested() {
                    return Err(crate::cancel::stopped(format!(
                        "interrupted while retrying {what} ({message})"
                    )));
                }
                std::thread::sleep(backoff);
                backoff *= 2;
            }
            Err(Failure::Transient(message)) => {
                return Err(Error::Internal(format!(
                    "{what} failed after {retried} retries: {message}"
                )));
            }
            Err(Failure::Final(error)) => return Err(error),
        }
    }
}

/// The body as text, gunzipped when it is gzip (result chunks may come compressed without a
/// `Content-Encoding` header).
pub fn read_body(response: ureq::http::Response<ureq::Body>) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    response.into_body().into_reader().read_to_end(&mut bytes)?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice()).read_to_string(&mut text)?;
        return Ok(text);
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// An agent that hands every status to the caller (4xx/5xx are answers, not errors).
pub fn agent(connect_timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(connect_timeout))
        .timeout_recv_response(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}
