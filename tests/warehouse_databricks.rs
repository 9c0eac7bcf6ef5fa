//! `sigbatch run` on Databricks, end to end: the real binary and client against a Statement
//! Execution API stand-in over Sail (tests/scenarios/databricks.rs): the scenario suite
//! (tests/scenarios), where every statement commits on its own. What only Databricks has (OAuth
//! M2M, chunks, resubmission) is tested against canned responses in tests/databricks_protocol.rs.

mod common;
mod scenarios;

use scenarios::databricks::Databricks;

scenarios::suite!(Databricks);
