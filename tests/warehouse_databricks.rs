//! `sigbatch run` on Databricks, end to end: the real binary and client against a Statement
//! Execution API stand-in over Sail (tests/scenarios/databricks.rs): the scenario suite
//! (tests/scenarios), where every statement commits on its own. What only Databricks has (OAuth
//! M2M, chunks, resubmission) is tested against canned responses in tests/databricks_protocol.rs.

mod common;
mod scenarios;

use scenarios::databricks::Databricks;

scenarios::suite!(Databricks);

/// A network that fails between the binary and the stand-in (tests/scenarios/network.rs). A
/// submission has no request id here, so none may reach the server twice.
#[test]
fn faults_in_transit_leave_the_uninterrupted_tables() {
    use scenarios::Harness;
    use scenarios::network::{Wire, body_field};

    let wire = Wire {
        statement: |d| {
            (d.method == "POST" && d.target.starts_with("/api/2.0/sql/statements"))
                .then(|| body_field(d, "statement"))
                .flatten()
        },
        idempotency_key: |_| None,
    };
    let mut databricks = Databricks::start();
    let outcome = scenarios::network::faults_in_transit_leave_the_uninterrupted_tables(
        &mut databricks,
        &wire,
        0x5eed_0d06,
        20,
    );
    eprintln!("databricks network faults: {outcome:?}");
    assert!(outcome.faults >= 30, "{outcome:?}");
}
