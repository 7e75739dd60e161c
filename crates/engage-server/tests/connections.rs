//! Connection limits over raw TCP: an HTTP/2 connection that never completes a request is
//! closed after the idle timeout like an HTTP/1.1 one, and past `max_connections` a new
//! connection is closed at once.

use std::time::{Duration, Instant};

use engage_server::connection::ConnectionLimits;
use engage_server::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestServer;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
/// A HEADERS frame on stream 1 without END_HEADERS (flags 0): one HPACK byte
/// (`:method: GET`), and the CONTINUATION that would end it never comes.
const UNFINISHED_HEADERS: &[u8] = &[0, 0, 1, 1, 0, 0, 0, 0, 1, 0x82];

async fn server(limits: ConnectionLimits) -> TestServer {
    TestServer::configured(Limits::default(), move |state| {
        state.with_connection_limits(limits)
    })
    .await
}

fn address(server: &TestServer) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads (and ignores) what the server sends until it closes the connection; how long
/// that took, or `None` if it was still open after `give_up`.
async fn time_until_closed(stream: &mut TcpStream, give_up: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        let left = give_up.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn http2_connections_that_send_no_complete_request_are_closed_after_the_idle_timeout() {
    let server = server(ConnectionLimits {
        idle_timeout: Duration::from_millis(800),
        ..ConnectionLimits::default()
    })
    .await;
    let cases: [(&str, Vec<u8>); 3] = [
        ("the preface only", PREFACE.to_vec()),
        (
            "a HEADERS frame without END_HEADERS",
            [PREFACE, SETTINGS, UNFINISHED_HEADERS].concat(),
        ),
        (
            "HTTP/1.1 headers never finished",
            b"POST /healthz HTTP/1.1\r\nhost: x\r\n".to_vec(),
        ),
    ];
    for (what, bytes) in cases {
        let mut stream = TcpStream::connect(address(&server)).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let closed = time_until_closed(&mut stream, Duration::from_secs(10)).await;
        let closed = closed.unwrap_or_else(|| panic!("{what}: still open after 10 s"));
        assert!(
            closed >= Duration::from_millis(500) && closed < Duration::from_secs(3),
            "{what}: closed after {closed:?}"
        );
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_its_last_request() {
    let server = server(ConnectionLimits {
        idle_timeout: Duration::from_millis(800),
        ..ConnectionLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(address(&server)).await.unwrap();
    // GET /healthz on stream 1: `:method GET` (0x82), `:scheme http` (0x86), `:path /`
    // would be 0x84; the path is sent as a literal (0x44 = `:path` indexed name, then the
    // length and the text), `:authority` likewise (0x41).
    let mut block = vec![0x82, 0x86, 0x44, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x41, 1, b'x']);
    let length = u8::try_from(block.len()).unwrap();
    // HEADERS, END_STREAM | END_HEADERS (0x5), stream 1.
    let mut frame = vec![0, 0, length, 1, 0x5, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    stream
        .write_all(&[PREFACE, SETTINGS, &frame].concat())
        .await
        .unwrap();
    // The answer comes (a HEADERS frame of stream 1), then the connection idles.
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let started = Instant::now();
    while !seen
        .windows(5)
        .any(|w| w == [1, 4, 0, 0, 0].as_slice() || w == [1, 5, 0, 0, 0].as_slice())
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no answer: {seen:?}"
        );
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before answering");
        seen.extend_from_slice(&buffer[..n]);
    }
    let closed = time_until_closed(&mut stream, Duration::from_secs(10)).await;
    let closed = closed.expect("an idle connection still open after 10 s");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
}

#[tokio::test]
async fn past_max_connections_a_new_connection_is_closed_at_once() {
    let server = server(ConnectionLimits {
        idle_timeout: Duration::from_secs(30),
        max_connections: 2,
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(address(&server)).await.unwrap();
        stream.write_all(PREFACE).await.unwrap();
        held.push(stream);
    }
    // Let the server accept both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(address(&server)).await.unwrap();
    let _ = third.write_all(PREFACE).await;
    let closed = time_until_closed(&mut third, Duration::from_secs(5)).await;
    let closed = closed.expect("a connection over the cap was kept open");
    assert!(closed < Duration::from_secs(1), "closed after {closed:?}");
    // Once one closes, connections are taken again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(held);
    let text = server.metrics().await;
    assert!(
        text.contains("engage_connections_refused_total 1\n"),
        "{text}"
    );
}
