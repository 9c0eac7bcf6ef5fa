//! A relay that breaks the network on purpose: it sits between the binary and a stand-in, passes
//! each HTTP request on over a connection of its own, and on a seeded schedule drops the
//! connection before the request reached the server or after it did, cuts the answer off in the
//! middle of its body, or answers 503 / 429 itself. It logs every request it saw, what it did
//! with it and whether the server got it, so a test can count what the server executed. It can
//! also hold back the answer to one request the server ran (`hold_answer_of`), so a test can
//! kill the client while it waits, its work on the warehouse open.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the relay does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Passed on and answered.
    None,
    /// The connection drops before the request reaches the server.
    ResetBefore,
    /// The server answers, but the connection drops before the answer reaches the client.
    ResetAfter,
    /// The server answers; the client gets the head and half the body.
    CutBody,
    /// The relay answers 503 itself, as an overloaded front end does.
    Unavailable,
    /// The relay answers 429 itself.
    TooMany,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::ResetBefore,
        Fault::ResetAfter,
        Fault::CutBody,
        Fault::Unavailable,
        Fault::TooMany,
    ];

    /// Whether the server received the request.
    pub fn reached_server(self) -> bool {
        matches!(self, Fault::None | Fault::ResetAfter | Fault::CutBody)
    }
}

/// One request the relay saw.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub method: String,
    pub target: String,
    pub body: String,
    pub fault: Fault,
}

/// Decides each request's fault: `faulty(method, target, body)` says which requests may be
/// faulted; among those, one in `one_in` is, its kind drawn from the seeded sequence.
struct Schedule {
    state: u64,
    one_in: u64,
    enabled: bool,
    faulty: Box<Faulty>,
}

/// Whether a request (method, target, body) may be faulted.
type Faulty = dyn Fn(&str, &str, &str) -> bool + Send;

impl Schedule {
    fn next(&mut self) -> u64 {
        // xorshift64*: small, seeded, the same sequence on every machine
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fault_for(&mut self, method: &str, target: &str, body: &str) -> Fault {
        if !self.enabled || !(self.faulty)(method, target, body) {
            return Fault::None;
        }
        if !self.next().is_multiple_of(self.one_in) {
            return Fault::None;
        }
        Fault::ALL[(self.next() % Fault::ALL.len() as u64) as usize]
    }
}

pub struct Relay {
    pub port: u16,
    log: Arc<Mutex<Vec<Delivery>>>,
    schedule: Arc<Mutex<Schedule>>,
    hold: Arc<Hold>,
}

/// The one answer the relay holds back, and whether it is holding it.
#[derive(Default)]
struct Hold {
    which: Mutex<Option<Box<Faulty>>>,
    holding: std::sync::atomic::AtomicBool,
}

impl Relay {
    /// Relays to `127.0.0.1:upstream`, faulting one in `one_in` of the requests `faulty` allows.
    pub fn start(
        upstream: u16,
        seed: u64,
        one_in: u64,
        faulty: impl Fn(&str, &str, &str) -> bool + Send + 'static,
    ) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let schedule = Arc::new(Mutex::new(Schedule {
            state: seed.max(1),
            one_in: one_in.max(1),
            enabled: true,
            faulty: Box::new(faulty),
        }));
        let hold = Arc::new(Hold::default());
        let (seen, decide, held) = (Arc::clone(&log), Arc::clone(&schedule), Arc::clone(&hold));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (seen, decide, held) =
                    (Arc::clone(&seen), Arc::clone(&decide), Arc::clone(&held));
                std::thread::spawn(move || serve(client, upstream, &seen, &decide, &held));
            }
        });
        Relay {
            port,
            log,
            schedule,
            hold,
        }
    }

    /// Passes the first request `which` (method, target, body) allows on to the server and
    /// never answers it: the client waits until it is killed.
    pub fn hold_answer_of(&self, which: impl Fn(&str, &str, &str) -> bool + Send + 'static) {
        *self.hold.which.lock().unwrap() = Some(Box::new(which));
    }

    /// Whether the relay is holding back an answer the server gave.
    pub fn holding(&self) -> bool {
        self.hold.holding.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Turns faults on or off (a clean rerun).
    pub fn faults(&self, enabled: bool) {
        self.schedule.lock().unwrap().enabled = enabled;
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }
}

/// Reads one request (head and `Content-Length` body); `None` at the end of the connection.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<String>, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end().to_string();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        headers.push(header);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_string(), headers, body))
}

/// Passes the request on (one connection per request, closed by the server after its answer)
/// and returns the whole answer, its `Connection` header set to close.
fn forward(upstream: u16, line: &str, headers: &[String], body: &[u8]) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    let mut head = format!("{line}\r\n");
    for header in headers {
        if !header.to_ascii_lowercase().starts_with("connection:") {
            head.push_str(&format!("{header}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    server.write_all(head.as_bytes()).ok()?;
    server.write_all(body).ok()?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let mut rewritten: String = head
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut whole = rewritten.into_bytes();
    whole.extend_from_slice(&answer[split..]);
    Some(whole)
}

fn busy(status: &str) -> Vec<u8> {
    let body = r#"{"message": "relay: try again"}"#;
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    log: &Mutex<Vec<Delivery>>,
    schedule: &Mutex<Schedule>,
    hold: &Hold,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some((line, headers, body)) = read_request(&mut reader) else {
        return;
    };
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let text = String::from_utf8_lossy(&body).to_string();
    let fault = schedule.lock().unwrap().fault_for(&method, &target, &text);
    let held = {
        let mut which = hold.which.lock().unwrap();
        let matched = which.as_ref().is_some_and(|w| w(&method, &target, &text));
        if matched {
            *which = None;
        }
        matched
    };
    log.lock().unwrap().push(Delivery {
        method,
        target,
        body: text,
        fault,
    });
    let answer = match fault {
        Fault::ResetBefore => None,
        Fault::Unavailable => Some(busy("503 Service Unavailable")),
        Fault::TooMany => Some(busy("429 Too Many Requests")),
        Fault::None | Fault::ResetAfter | Fault::CutBody => {
            let answer = forward(upstream, &line, &headers, &body);
            match fault {
                Fault::ResetAfter => None,
                Fault::CutBody => answer.map(|whole| {
                    let split = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
                    let keep = split + (whole.len() - split) / 2;
                    whole[..keep].to_vec()
                }),
                _ => answer,
            }
        }
    };
    if held {
        hold.holding
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // until the client is killed and its end of the connection goes
        let _ = reader.read_to_end(&mut Vec::new());
        return;
    }
    if let Some(answer) = answer {
        let _ = client.write_all(&answer);
        let _ = client.flush();
    }
    let _ = client.shutdown(Shutdown::Both);
}
