//! A stand-in OpenLineage collector: an HTTP server on a loopback port that records every event
//! posted to it and answers as told (accept, refuse with 503, or hang without answering), and
//! the checks every lineage test makes of what it recorded: each event valid against the
//! OpenLineage schema files in tests/openlineage.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Refuse,
    Hang,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: serde_json::Value,
}

pub struct Collector {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Collector {
    pub fn start(answer: Answer) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || serve(stream, answer, &recorded));
            }
        });
        Collector { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The events received so far, in order.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.requests().into_iter().map(|r| r.body).collect()
    }

    /// Waits up to `within` until `count` events have arrived.
    pub fn wait_for(&self, count: usize, within: Duration) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            if self.requests.lock().unwrap().len() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

fn serve(stream: TcpStream, answer: Answer, recorded: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut authorization, mut content_type) = (0, None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "authorization" => authorization = Some(value),
            "content-type" => content_type = Some(value),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    recorded.lock().unwrap().push(Request {
        method,
        path,
        authorization,
        content_type,
        body,
    });
    let mut stream = stream;
    let response = match answer {
        Answer::Accept => "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        Answer::Refuse => {
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: close\r\n\r\nunavailable"
        }
        Answer::Hang => {
            std::thread::sleep(Duration::from_secs(600));
            return;
        }
    };
    let _ = stream.write_all(response.as_bytes());
}

/// Checks `events` against the OpenLineage 2-0-2 schema files with tests/openlineage/validate.py,
/// run by the dbt venv's Python (`SIGBATCH_DBT`, set by scripts/dbt-venv.sh; it has jsonschema).
pub fn assert_valid(events: &[serde_json::Value]) {
    let dbt = std::env::var("SIGBATCH_DBT").expect(
        "SIGBATCH_DBT is not set: run the tests through scripts/test.sh, or eval \"$(scripts/dbt-venv.sh)\" first",
    );
    let python = Path::new(&dbt).with_file_name("python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openlineage/validate.py");
    let mut child = std::process::Command::new(&python)
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} runs {}: {e}", python.display(), script.display()));
    let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.trim() == format!("valid {}", events.len()),
        "events that do not validate against the OpenLineage schema:\n{text}\n{lines}"
    );
}
