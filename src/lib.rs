//! sigbatch: a native incremental SQL engine for Snowplow Signals batch attributes.
//!
//! See ARCHITECTURE.md for the map: project -> plan -> dag -> render -> state -> load_window ->
//! execute.

pub mod artifacts;
pub mod cancel;
pub mod commands;
pub mod dag;
pub mod demo;
pub mod dialect;
pub mod error;
pub mod execute;
pub mod export;
pub mod lease;
pub mod lineage;
pub mod load_window;
pub mod open_work;
pub mod plan;
pub mod preflight;
pub mod project;
pub mod render;
pub mod report;
pub mod secret;
pub mod signals;
pub mod stage_csv;
pub mod state;
pub mod warehouse;
pub mod workspace;

pub use error::{Error, Result};
