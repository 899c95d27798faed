//! Test data and helpers shared by the integration tests: a day of hits written with
//! pagehit's own CSV writer, the analyzer binary, and a moto S3 server.
#![allow(dead_code)]

use pagehit::{csv_header, PageHit};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A hit with the fields the reports look at; the rest are fixed.
pub struct H {
    pub n: u32,
    pub ts: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub user: &'static str,
    pub visitor: &'static str,
    pub referrer: &'static str,
    pub country: &'static str,
    pub bot: bool,
}

impl H {
    pub fn hit(&self) -> PageHit {
        let hit = PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{:012x}", self.n),
            ts: self.ts.to_string(),
            host: "shop.example".into(),
            path: self.path.to_string(),
            action: "index".into(),
            method: "GET".into(),
            status: self.status,
            user: self.user.to_string(),
            visitor: self.visitor.to_string(),
            referrer: self.referrer.to_string(),
            country: self.country.to_string(),
            user_agent: if self.bot {
                "Mozilla/5.0 (compatible; Googlebot/2.1)".into()
            } else {
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()
            },
            bot: self.bot,
            origin_ms: 7,
            ..PageHit::default()
        };
        hit.validate().expect("test hits are valid records");
        hit
    }
}

pub const ZOE: &str = "zoë";
pub const BOB: &str = "bob, \"the builder\"";
pub const ADMIN: &str = "@admin";
pub const CAFE: &str = "/café/日本";
pub const ODD: &str = "/a,b\"c%0D%0Ad";

const VA: &str = "aaaaaaaaaaaaaaaa"; // zoë's laptop
const VB: &str = "bbbbbbbbbbbbbbbb"; // zoë's phone
const VC: &str = "cccccccccccccccc"; // anonymous
const VD: &str = "dddddddddddddddd"; // bob
const VE: &str = "eeeeeeeeeeeeeeee"; // a crawler
const VF: &str = "ffffffffffffffff"; // @admin
const VG: &str = "0000000000000001"; // anonymous, at the Tokyo day's end

/// (n, ts, path, status, user, visitor, referrer, country, bot)
type Row = (
    u32,
    &'static str,
    &'static str,
    u16,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
);

#[rustfmt::skip]
const HITS: &[Row] = &[
    (1, "2026-11-25T08:00:00.000Z", "/", 200, ZOE, VA, "https://Search.Example/q?x=1", "DE", false),
    // Internal navigation: the referrer's host is the hit's own host.
    (2, "2026-11-25T08:10:00.000Z", CAFE, 200, ZOE, VA, "https://shop.example/", "DE", false),
    // 30:00.001 after the last hit on this visitor: a new visitor session.
    (3, "2026-11-25T08:40:00.001Z", "/about", 404, ZOE, VA, "", "DE", false),
    // The phone hit in between keeps zoë's user session going.
    (4, "2026-11-25T08:20:00.000Z", "/about", 200, ZOE, VB, "", "DE", false),
    (5, "2026-11-25T09:00:00.000Z", "/", 200, "", VC, "https://news.example/article", "JP", false),
    // Exactly 30:00.000 later: the same session.
    (6, "2026-11-25T09:30:00.000Z", ODD, 500, "", VC, "", "JP", false),
    (7, "2026-11-25T23:59:59.999Z", "/", 200, "", VC, "https://search.example/", "JP", false),
    (8, "2026-11-25T10:00:00.000Z", CAFE, 200, BOB, VD, "http://news.example:8080/x", "US", false),
    (9, "2026-11-25T10:05:00.000Z", CAFE, 301, BOB, VD, "", "US", false),
    (10, "2026-11-25T10:06:00.000Z", "/", 200, BOB, VD, "", "US", false),
    (11, "2026-11-25T12:00:00.000Z", "/", 503, ADMIN, VF, "", "", false),
    (12, "2026-11-25T11:00:00.000Z", "/", 200, "", VE, "", "US", true),
    (13, "2026-11-25T11:00:01.000Z", "/about", 200, "", VE, "", "US", true),
    // Tokyo's 2026-11-25 starts exactly here (inclusive) ...
    (14, "2026-11-24T15:00:00.000Z", "/", 200, "", VC, "", "JP", false),
    (15, "2026-11-24T14:59:59.999Z", "/old", 200, "", VG, "", "JP", false),
    (16, "2026-11-26T00:00:00.000Z", "/", 200, "", VG, "", "JP", false),
    // ... and ends exactly here (exclusive).
    (17, "2026-11-25T15:00:00.000Z", "/about", 200, "", VG, "", "KR", false),
];

/// The hits, numbered as in the expected values of the tests.
pub fn hits() -> Vec<H> {
    HITS.iter()
        .map(
            |&(n, ts, path, status, user, visitor, referrer, country, bot)| H {
                n,
                ts,
                path,
                status,
                user,
                visitor,
                referrer,
                country,
                bot,
            },
        )
        .collect()
}

fn rows(numbers: &[u32]) -> String {
    let all = hits();
    let mut out = String::new();
    for n in numbers {
        all.iter()
            .find(|x| x.n == *n)
            .expect("a known hit")
            .hit()
            .write_csv_row(&mut out);
    }
    out
}

/// Malformed rows: a status that is not a number, a ts in another format, a short row.
pub fn malformed_rows() -> String {
    let mut out = String::new();
    let mut bad_status = hits()[0].hit();
    bad_status.event_id = "01936b2e-1f00-7abc-8def-0000000000f1".into();
    bad_status.write_csv_row(&mut out);
    let out = out.replacen(",200,", ",OK,", 1);
    let mut bad_ts = hits()[4].hit();
    bad_ts.event_id = "01936b2e-1f00-7abc-8def-0000000000f2".into();
    let mut row = String::new();
    bad_ts.write_csv_row(&mut row);
    let row = row.replacen("2026-11-25T09:00:00.000Z", "2026-11-25 09:00:00", 1);
    format!("{out}{row}garbage,line\n")
}

/// The files of the test day, relative to the source root: `(relative path, content)`.
///
/// dt=2026-11-25 holds three CSV files (one of them header-only) with duplicates (hit 1 in two
/// files, hit 5 twice in one, bot hit 12 twice) and three malformed rows; dt=2026-11-24 and
/// dt=2026-11-26 hold hits of the neighbouring UTC days.
pub fn files() -> Vec<(String, String)> {
    let header = csv_header();
    vec![
        (
            "hits/dt=2026-11-24/shardId-000000000000-100.csv".into(),
            format!("{header}{}", rows(&[15, 14])),
        ),
        (
            "hits/dt=2026-11-25/shardId-000000000000-200.csv".into(),
            format!(
                "{header}{}{}{}",
                rows(&[1, 2, 3, 4, 5]),
                malformed_rows(),
                rows(&[5, 6, 7, 17])
            ),
        ),
        (
            "hits/dt=2026-11-25/shardId-000000000001-300.csv".into(),
            format!("{header}{}", rows(&[8, 9, 10, 11, 12, 12, 13, 1])),
        ),
        (
            "hits/dt=2026-11-25/shardId-000000000002-400.csv".into(),
            header.clone(),
        ),
        (
            "hits/dt=2026-11-25/README.txt".into(),
            "not a hit file\n".into(),
        ),
        (
            "hits/dt=2026-11-26/shardId-000000000000-500.csv".into(),
            format!("{header}{}", rows(&[16])),
        ),
    ]
}

/// A fresh, empty folder for one test, removed when dropped.
pub struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh, empty folder for one test.
pub fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("analyzer-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Writes [`files`] under `root`.
pub fn write_source(root: &Path) {
    for (rel, content) in files() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

/// Runs the analyzer binary with `args` and only the given extra environment variables.
pub fn analyzer(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_analyzer"));
    cmd.args(args).stdin(Stdio::null());
    for var in [
        "ANALYZER_SOURCE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "ANALYZER_MEMORY_BUDGET",
        "ANALYZER_TMP",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the analyzer binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// Asserts a successful run and returns its stdout.
pub fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// A moto S3 server on a free 127.0.0.1 port, stopped (by its PID) on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `$MOTO_SERVER` (default: the project venv's `moto_server`).
    pub fn start() -> Moto {
        let program = std::env::var("MOTO_SERVER")
            .unwrap_or_else(|_| format!("{}/../.venv/bin/moto_server", env!("CARGO_MANIFEST_DIR")));
        assert!(
            Path::new(&program).exists(),
            "moto_server not found at {program}: install it (moto[server]) or set MOTO_SERVER"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// The environment the analyzer and object_store need to talk to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Creates a bucket (moto takes an unsigned PUT).
    pub fn create_bucket(&self, bucket: &str) {
        use std::io::{Read, Write};
        let addr = self.endpoint.trim_start_matches("http://");
        let mut conn = TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// A store at `location` (`s3://BUCKET/PREFIX`) on this server, opened as programs open
    /// theirs (an AWS SDK configuration with this endpoint and test credentials).
    pub fn store(&self, location: &str) -> store::Store {
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(store::aws::http_client())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("test", "test", None, None, "test"),
                ),
            )
            .build();
        let location: store::Location = location.parse().unwrap();
        block_on(store::Store::open_with(&location, Some(&config))).unwrap()
    }
}

/// Runs a future to completion on a fresh runtime (tests are plain functions).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
