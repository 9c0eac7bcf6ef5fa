//! Starting, waiting for and stopping the stand-in servers under tests/standins (fakesnow for
//! Snowflake, local-bigquery for BigQuery, Sail for Databricks, the Signals API), all one way:
//! `python tests/standins/NAME/serve.py DIR ARGS...` with DIR a temporary directory of the
//! server's own, its stderr in DIR/serve.log; the server picks a free loopback port and prints
//! `ready on 127.0.0.1:PORT` once it answers (tests/standins/standin.py). It exits when the test
//! process does, and is killed when its `StandIn` is dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long a stand-in may take to say it is ready (Sail and local-bigquery take seconds, more
/// on a loaded machine).
const READY_WITHIN: Duration = Duration::from_secs(120);

pub struct StandIn {
    pub port: u16,
    process: Child,
    dir: tempfile::TempDir,
}

impl StandIn {
    /// Starts tests/standins/`name`/serve.py with `python` (a venv's, from `common::venv_python`,
    /// or `python3`) in a new directory, and waits until it is ready.
    pub fn start(name: &str, python: &str, args: &[&str]) -> StandIn {
        StandIn::start_in(tempfile::tempdir().unwrap(), name, python, args)
    }

    /// `start` in a directory the caller has prepared (the Signals API reads its state there).
    pub fn start_in(dir: tempfile::TempDir, name: &str, python: &str, args: &[&str]) -> StandIn {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/standins")
            .join(name)
            .join("serve.py");
        let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
        let mut process = Command::new(python)
            .arg(&script)
            .arg(dir.path())
            .args(args)
            .env("SIGBATCH_STANDIN_PARENT", std::process::id().to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{python} runs {}: {e}", script.display()));
        let stdout = process.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = receiver.recv_timeout(READY_WITHIN).unwrap_or_default();
        let port = line
            .trim()
            .strip_prefix("ready on 127.0.0.1:")
            .and_then(|port| port.parse().ok());
        let mut standin = StandIn {
            port: 0,
            process,
            dir,
        };
        match port {
            Some(port) => standin.port = port,
            None => {
                let _ = standin.process.kill();
                let _ = standin.process.wait();
                let log = std::fs::read_to_string(standin.log()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "the {name} stand-in did not say it was ready within {READY_WITHIN:?} \
                     (it printed {line:?}); the end of its stderr:\n{}",
                    tail.join("\n")
                );
            }
        }
        standin
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's own directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its stderr.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("serve.log")
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
