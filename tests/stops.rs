//! Stops that must stop even when the warehouse does not answer: a connection that stalls in
//! the middle of an answer's body ends with `--timeout`, and a second Ctrl-C exits at once while
//! the first one's cancel call hangs. The binary runs against a Snowflake server scripted here
//! (fakesnow cannot stall), which logs in and then never finishes a statement.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TempProject;

const PASSWORD: &str = "stall-test-password";

/// How the scripted server treats a statement and its abort.
#[derive(Clone, Copy)]
enum Stall {
    /// Sends the headers and the first bytes of the body, then nothing.
    MidBody,
    /// Never answers the statement, nor the abort request.
    Everything,
}

/// Serves logins and stalls every statement; `started` turns true once a statement came in.
fn stalling_snowflake(stall: Stall, started: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let started = Arc::clone(&started);
            std::thread::spawn(move || answer(stream, stall, &started));
        }
    });
    port
}

fn answer(mut stream: TcpStream, stall: Stall, started: &AtomicBool) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let reply = |stream: &mut TcpStream, status: &str, body: &str| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    };
    let forever = || std::thread::sleep(Duration::from_secs(600));
    if path.starts_with("/session/v1/login-request") {
        reply(
            &mut stream,
            "200 OK",
            r#"{"success": true, "data": {"token": "t1", "masterToken": "m1"}}"#,
        );
    } else if path.starts_with("/queries/v1/query-request") {
        started.store(true, Ordering::SeqCst);
        if let Stall::MidBody = stall {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nContent-Type: application/json\r\n\r\n{\"success\": true, \"data\": {\"rowtype\": [";
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.flush();
        }
        forever();
    } else if path.starts_with("/queries/v1/abort-request") {
        match stall {
            Stall::MidBody => reply(&mut stream, "200 OK", r#"{"success": true}"#),
            Stall::Everything => forever(),
        }
    } else {
        reply(&mut stream, "404 Not Found", r#"{"success": false}"#);
    }
}

/// The fixture project on the scripted server.
fn project_on(port: u16) -> TempProject {
    let project = TempProject::fixture("exact", "snowflake");
    let profile = format!(
        "test:\n  target: dev\n  outputs:\n    dev:\n      type: snowflake\n      account: acme\n      \
         user: loader\n      password: {PASSWORD}\n      database: ANALYTICS\n      schema: atomic\n      \
         host: 127.0.0.1\n      port: {port}\n      protocol: http\n      retries: 0\n"
    );
    std::fs::write(project.path().join("profiles.yml"), profile).unwrap();
    project
}

fn start(project: &TempProject, extra: &[&str], grace_seconds: u32) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sigbatch"))
        .args(["run", "--project-dir", project.path().to_str().unwrap()])
        .args(extra)
        .env("SIGBATCH_STOP_GRACE_SECONDS", grace_seconds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The exit code once the process ended, or `None` (and the process killed) after `limit`.
fn exit_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn wait_for(flag: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !flag.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "no statement reached the server");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn a_body_that_stalls_midway_ends_with_the_timeout() {
    let started = Arc::new(AtomicBool::new(false));
    let project = project_on(stalling_snowflake(Stall::MidBody, Arc::clone(&started)));
    let began = Instant::now();
    let mut run = start(&project, &["--timeout", "2s"], 2);
    let code = exit_within(&mut run, Duration::from_secs(60));
    let text = stderr_of(&mut run);
    assert!(started.load(Ordering::SeqCst), "{text}");
    assert_eq!(code, Some(124), "{text}");
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "the run waited for the body"
    );
    assert!(text.contains("--timeout 2s reached"), "{text}");
    assert!(text.contains("did not end within 2s"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
}

#[test]
fn a_second_interrupt_exits_at_once_while_the_first_ones_cancel_call_hangs() {
    let started = Arc::new(AtomicBool::new(false));
    let project = project_on(stalling_snowflake(Stall::Everything, Arc::clone(&started)));
    // a grace longer than the test: only the second interrupt can end the run
    let mut run = start(&project, &[], 600);
    wait_for(&started);
    interrupt(&run);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        run.try_wait().unwrap().is_none(),
        "the first interrupt alone ended a run whose statement never answers"
    );
    interrupt(&run);
    let code = exit_within(&mut run, Duration::from_secs(10));
    let text = stderr_of(&mut run);
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("again to exit now"), "{text}");
}
