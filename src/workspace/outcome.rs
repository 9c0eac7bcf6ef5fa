//! How the outcomes of a workspace's groups make one exit code.
//!
//! The order, worst first: 130 (stopped by a signal) and 124 (stopped by `--timeout`) end the
//! whole invocation, so they win; then 4 (a lock or lease held), 3 (an internal or warehouse
//! failure), 2 (a problem to fix), 0. The codes a retry can cure come before the one that needs
//! a person: a scheduler that retries on 3 and 4 then retries the workspace, where the groups
//! that committed find nothing (or only new events) to do, and once only fixable failures
//! remain the workspace exits 2. A held lock comes before a failure because it is certain to
//! pass. Every group's own code and error are in `run_results.json`.

use crate::error::{Error, exit_code};

/// Exit codes from worst to best.
const ORDER: [u8; 6] = [
    exit_code::CANCELLED,
    exit_code::TIMED_OUT,
    exit_code::LOCKED,
    exit_code::FAILURE,
    exit_code::USER_ERROR,
    exit_code::SUCCESS,
];

/// A lower rank is worse; a code outside [`ORDER`] ranks with a failure.
fn rank(code: u8) -> usize {
    ORDER
        .iter()
        .position(|c| *c == code)
        .unwrap_or_else(|| rank(exit_code::FAILURE))
}

/// The worst of `codes` in the workspace's order; 0 for none.
pub fn worst_exit_code(codes: impl IntoIterator<Item = u8>) -> u8 {
    codes
        .into_iter()
        .min_by_key(|code| rank(*code))
        .unwrap_or(exit_code::SUCCESS)
}

/// How one group ended, for the workspace's summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutcome {
    pub name: String,
    /// 0 for success or nothing to do; for a group not run, the stop's code (130 or 124).
    pub exit_code: u8,
    /// Not started: a signal or `--timeout` stopped the invocation first.
    pub not_run: bool,
}

/// The error a workspace ends with when any group failed or was not run (each group's own
/// error was reported as it happened), carrying the worst exit code; `None` when all succeeded.
pub fn summary_error(outcomes: &[GroupOutcome]) -> Option<Error> {
    let failed: Vec<&GroupOutcome> = outcomes
        .iter()
        .filter(|o| !o.not_run && o.exit_code != exit_code::SUCCESS)
        .collect();
    let not_run: Vec<&GroupOutcome> = outcomes.iter().filter(|o| o.not_run).collect();
    if failed.is_empty() && not_run.is_empty() {
        return None;
    }
    let code = worst_exit_code(outcomes.iter().map(|o| o.exit_code));
    let mut message = format!(
        "{} of {} group(s) failed: {}",
        failed.len(),
        outcomes.len(),
        failed
            .iter()
            .map(|o| format!("`{}` (exit {})", o.name, o.exit_code))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !not_run.is_empty() {
        message.push_str(&format!(
            "; not run: `{}`",
            not_run
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join("`, `")
        ));
    }
    let hint = match code {
        exit_code::CANCELLED | exit_code::TIMED_OUT => {
            "every group's committed windows stand; run the workspace again to go on"
        }
        _ => {
            "the other groups' windows are committed; fix or retry the failed groups (their \
             errors are above and in run_results.json), then run again (--select NAME for \
             only them)"
        }
    };
    Some(Error::Groups {
        message,
        hint: Some(hint.to_string()),
        exit_code: code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_win_then_retryable_codes_then_fixable_ones() {
        assert_eq!(worst_exit_code([]), 0);
        assert_eq!(worst_exit_code([0, 0]), 0);
        assert_eq!(worst_exit_code([0, 2, 0]), 2);
        assert_eq!(worst_exit_code([2, 3]), 3);
        assert_eq!(worst_exit_code([3, 4, 2]), 4);
        assert_eq!(worst_exit_code([4, 124, 3]), 124);
        assert_eq!(worst_exit_code([124, 130]), 130);
        assert_eq!(
            worst_exit_code([2, 7]),
            7,
            "an unknown code ranks as a failure"
        );
    }

    #[test]
    fn the_summary_names_the_failed_groups_and_carries_the_worst_code() {
        let outcome = |name: &str, exit_code: u8, not_run: bool| GroupOutcome {
            name: name.into(),
            exit_code,
            not_run,
        };
        assert!(summary_error(&[outcome("a", 0, false)]).is_none());
        let error = summary_error(&[
            outcome("a", 2, false),
            outcome("b", 0, false),
            outcome("c", 3, false),
        ])
        .unwrap();
        assert_eq!(error.exit_code(), 3);
        let text = error.to_string();
        assert!(text.starts_with("2 of 3 group(s) failed"), "{text}");
        assert!(text.contains("`a` (exit 2)") && text.contains("`c` (exit 3)"));
        assert!(error.hint().unwrap().contains("--select"));
        let stopped = summary_error(&[outcome("a", 130, false), outcome("b", 130, true)]).unwrap();
        assert_eq!(stopped.exit_code(), 130);
        assert!(stopped.to_string().contains("not run: `b`"), "{stopped}");
        // a stop before the first group: nothing failed, and still the stop's code
        let early = summary_error(&[outcome("a", 124, true), outcome("b", 124, true)]).unwrap();
        assert_eq!(early.exit_code(), 124);
        assert!(
            early.to_string().starts_with("0 of 2 group(s) failed"),
            "{early}"
        );
    }
}
