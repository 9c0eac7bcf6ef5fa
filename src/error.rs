//! The library's error type: one enum, split by who can fix the problem.
//!
//! A user error (bad project file, bad attribute, missing table, lock held) and an internal
//! failure (a bug, an unexpected warehouse answer) map to different exit codes, so a scheduler
//! can tell "fix your config" from "page someone". Messages are lower case, name the file,
//! attribute, field or stage and the offending value in backticks, and carry a `hint:` where
//! a user can act.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The process exit codes. Stable: schedulers (cron, Airflow) branch on them, and
/// docs/operations.md ("Exit codes") and `--help` list them.
pub mod exit_code {
    /// The run succeeded, including a run that found nothing to do.
    pub const SUCCESS: u8 = 0;
    /// A problem with the input or the warehouse's contents the user can fix (bad project,
    /// missing table or column, refused full refresh).
    pub const USER_ERROR: u8 = 2;
    /// An internal or warehouse failure: retry, or page someone.
    pub const FAILURE: u8 = 3;
    /// Another run holds the project's lock or lease: retry later or pass --lock-timeout.
    pub const LOCKED: u8 = 4;
    /// Stopped by SIGINT/SIGTERM; what was committed stands.
    pub const CANCELLED: u8 = 130;
    /// Stopped by `--timeout`; what was committed stands (124, as GNU `timeout`).
    pub const TIMED_OUT: u8 = 124;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A project, profile or attribute group file that cannot be read or is malformed.
    #[error("{}: {message}", .path.display())]
    File {
        path: PathBuf,
        message: String,
        hint: Option<String>,
    },

    /// A value in the project that is well-formed but not allowed.
    #[error("{context}: {message}")]
    Invalid {
        context: String,
        message: String,
        hint: Option<String>,
    },

    /// A feature the target dialect cannot express.
    #[error("the {dialect} dialect cannot express {feature}")]
    Unsupported {
        dialect: &'static str,
        feature: String,
    },

    /// The warehouse rejected or failed a statement while running a stage.
    #[error("stage `{stage}` failed: {message}")]
    Stage {
        stage: String,
        message: String,
        hint: Option<String>,
        user_fixable: bool,
    },

    /// A remote service (the Signals API) refused a request or could not be reached: user-fixable
    /// for bad credentials, unknown names and other 4xx answers, a failure for 5xx and network.
    #[error("{service}: {message}")]
    Remote {
        service: &'static str,
        message: String,
        hint: Option<String>,
        user_fixable: bool,
    },

    /// Another run holds the project's lock.
    #[error("{message}")]
    Locked {
        message: String,
        hint: Option<String>,
    },

    /// SIGINT/SIGTERM stopped the run; what was committed stays, the rest rolled back.
    #[error("cancelled: {0}")]
    Cancelled(String),

    /// `--timeout` ran out and stopped the run as SIGTERM would.
    #[error("timed out: {0}")]
    TimedOut(String),

    /// A bug: an invariant of the engine did not hold.
    #[error("internal error: {0}")]
    Internal(String),

    /// Groups of a workspace failed, each reported as it failed; the process exits with the
    /// worst of their codes (`workspace::worst_exit_code`).
    #[error("{message}")]
    Groups {
        message: String,
        hint: Option<String>,
        exit_code: u8,
    },
}

impl Error {
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            context: context.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Attaches a `hint:` line telling the user what to do about the error.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        let text = Some(text.into());
        match &mut self {
            Error::File { hint, .. }
            | Error::Invalid { hint, .. }
            | Error::Stage { hint, .. }
            | Error::Remote { hint, .. }
            | Error::Locked { hint, .. }
            | Error::Groups { hint, .. } => *hint = text,
            Error::Unsupported { .. }
            | Error::Internal(_)
            | Error::Cancelled(_)
            | Error::TimedOut(_) => {}
        }
        self
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::File { hint, .. }
            | Error::Invalid { hint, .. }
            | Error::Stage { hint, .. }
            | Error::Remote { hint, .. }
            | Error::Locked { hint, .. }
            | Error::Groups { hint, .. } => hint.as_deref(),
            Error::Unsupported { .. } => Some("compile for another dialect, or drop the attribute"),
            Error::Internal(_) => {
                Some("this is a bug in sigbatch; please report it with the command you ran")
            }
            Error::Cancelled(_) => {
                Some("the last committed window stands; run again to go on from there")
            }
            Error::TimedOut(_) => Some(
                "the last committed window stands; run again (or with a longer --timeout, or --max-windows) to go on from there",
            ),
        }
    }

    /// The process exit code, stable so a scheduler can branch on it (see [`exit_code`]):
    /// 2 the user can fix it, 3 internal or warehouse failure, 4 another run holds the lock,
    /// 124 stopped by `--timeout`, 130 cancelled by a signal. Success, including "nothing to
    /// do", is 0.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Cancelled(_) => exit_code::CANCELLED,
            Error::TimedOut(_) => exit_code::TIMED_OUT,
            Error::Locked { .. } => exit_code::LOCKED,
            Error::Groups { exit_code, .. } => *exit_code,
            _ if self.is_user_error() => exit_code::USER_ERROR,
            _ => exit_code::FAILURE,
        }
    }

    /// Whether the user can fix this by changing their input rather than it being an internal
    /// or warehouse failure (a held lock counts as the user's: it has its own exit code).
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::File { .. }
            | Error::Invalid { .. }
            | Error::Unsupported { .. }
            | Error::Locked { .. } => true,
            Error::Stage { user_fixable, .. } | Error::Remote { user_fixable, .. } => *user_fixable,
            Error::Groups {
                exit_code: code, ..
            } => {
                matches!(*code, exit_code::USER_ERROR | exit_code::LOCKED)
            }
            Error::Internal(_) | Error::Cancelled(_) | Error::TimedOut(_) => false,
        }
    }
}

/// Prefixes the context of an `Invalid` error, so nested validation reads as a path:
/// "attribute `x`: criterion 1: ...".
pub fn in_context(context: &str) -> impl Fn(Error) -> Error + '_ {
    move |error| match error {
        Error::Invalid {
            context: inner,
            message,
            hint,
        } => Error::Invalid {
            context: format!("{context}: {inner}"),
            message,
            hint,
        },
        other => other,
    }
}
