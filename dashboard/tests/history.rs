//! `dashboard serve --source`: the history as a user and a program see it. `/api/report` says
//! byte for byte what `analyzer report --format json` says for the same arguments; bad
//! parameters are a 400 with the reason, a missing day a 404, never a 500; with a token every
//! history route is 401 without it; the page links each row to its filter and escapes what
//! visitors chose.

use pagehit::{csv_header, PageHit};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const HOSTILE: &str = "/<script>alert(1)</script>";

/// Rows of a hit file: (time on 2026-11-25, host, path, visitor letter, referrer, utm_source).
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str);

/// A day of two hosts: three visitors from news.example, a newsletter and nowhere.
fn write_day(root: &Path) {
    let rows: [Row; 5] = [
        (
            "10:00",
            "shop.example",
            "/",
            "a",
            "https://news.example/x",
            "",
        ),
        (
            "10:05",
            "shop.example",
            "/pricing",
            "a",
            "https://shop.example/",
            "",
        ),
        ("11:00", "docs.example", "/docs", "b", "", "newsletter"),
        (
            "11:01",
            "shop.example",
            HOSTILE,
            "b",
            "https://docs.example/docs",
            "",
        ),
        ("12:00", "shop.example", "/pricing", "c", "", ""),
    ];
    write_file(root, "part.csv", 0, &rows);
}

/// Writes `rows` as the landed file `name` of 2026-11-25; event ids count from `first_id`.
fn write_file(root: &Path, name: &str, first_id: usize, rows: &[Row]) {
    let mut body = csv_header();
    for (n, &(time, host, path, visitor, referrer, utm)) in rows.iter().enumerate() {
        let n = first_id + n;
        let h = PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: format!("2026-11-25T{time}:00.000Z"),
            host: host.into(),
            path: path.into(),
            action: "x".into(),
            method: "GET".into(),
            status: 200,
            visitor: visitor.repeat(16),
            referrer: referrer.into(),
            country: "JP".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
                .into(),
            event: "pageview".into(),
            utm_source: utm.into(),
            ..PageHit::default()
        };
        h.validate().unwrap();
        h.write_csv_row(&mut body);
    }
    let dir = root.join("hits/dt=2026-11-25");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), body).unwrap();
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dashboard-history-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The analyzer binary beside this test's (cargo test --workspace builds it).
fn analyzer() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let bin = deps.parent().unwrap().parent().unwrap().join("analyzer");
    assert!(
        bin.exists(),
        "{} (run cargo test --workspace)",
        bin.display()
    );
    bin
}

/// A running `dashboard serve`, stopped by PID when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(source: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dashboard"));
        cmd.args(["serve", "--source", source.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .env_remove("DASHBOARD_TOKEN")
            .env_remove("DASHBOARD_STREAM")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "dashboard: serving the history of ... on http://127.0.0.1:PORT/history"
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }

    /// `GET path` with optional headers: (status, body).
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let (status, _, body) = self.get_with_head(path, headers);
        (status, body)
    }

    /// `GET path` with optional headers: (status, response head, body).
    fn get_with_head(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String, Vec<u8>) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = dechunk(&body);
        }
        (status, head, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + size]);
        b = &b[line_end + 2 + size + 2..];
    }
}

fn cli_json(source: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(analyzer())
        .args([
            "report",
            "--source",
            source.to_str().unwrap(),
            "--format",
            "json",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_api_answers_what_the_cli_prints_byte_for_byte() {
    let dir = temp_dir("api");
    write_day(&dir);
    let server = Server::start(&dir, &[]);
    let cases: [(&str, &[&str]); 4] = [
        ("date=2026-11-25", &["--date", "2026-11-25"]),
        (
            "from=2026-11-25&to=2026-11-25&tz=Asia%2FTokyo&compare=true&top=2",
            &[
                "--from",
                "2026-11-25",
                "--to",
                "2026-11-25",
                "--tz",
                "Asia/Tokyo",
                "--compare",
                "--top",
                "2",
            ],
        ),
        (
            "date=2026-11-25&filter=source%3Dnews.example",
            &["--date", "2026-11-25", "--filter", "source=news.example"],
        ),
        (
            "date=2026-11-25&filter=host%3Dshop.example&filter=page%21~pricing",
            &[
                "--date",
                "2026-11-25",
                "--filter",
                "host=shop.example",
                "--filter",
                "page!~pricing",
            ],
        ),
    ];
    for (query, args) in cases {
        let (status, body) = server.get(&format!("/api/report?{query}"), &[]);
        assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
        let cli = cli_json(&dir, args);
        assert!(
            body == cli,
            "{query}: the API and the CLI differ\nAPI:\n{}\nCLI:\n{}",
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&cli)
        );
    }
    let (status, csv) = server.get(
        "/api/report/pages.csv?date=2026-11-25&filter=country%3DJP",
        &[],
    );
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().count() == 5, "a header and four paths:\n{csv}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_parameters_are_400_with_the_reason_and_a_missing_day_404() {
    let dir = temp_dir("bad");
    write_day(&dir);
    let server = Server::start(&dir, &[]);
    for (query, says) in [
        ("date=2026-11-25&filter=pages%3D%2F", "is not a dimension"),
        ("date=2026-11-25&filter=country", "is not a filter"),
        ("date=2026-13-01", ""),
        ("date=2026-11-25&tz=Mars%2FBase", "IANA"),
        ("date=2026-11-25&top=0", "from 1"),
        ("date=2026-11-25&token=x", "unknown parameter"),
        ("from=2026-11-25", "give one of"),
        ("from=2025-01-01&to=2026-11-25", "366"),
        ("period=forever", "one of today"),
    ] {
        for route in ["/api/report", "/history", "/api/report/users.csv"] {
            let (status, body) = server.get(&format!("{route}?{query}"), &[]);
            let body = String::from_utf8_lossy(&body);
            assert_eq!(status, 400, "{route}?{query}: {body}");
            assert!(body.contains(says), "{route}?{query}: {body}");
        }
    }
    let (status, body) = server.get("/api/report?date=2026-11-20", &[]);
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("no data"));
    let (status, page) = server.get("/history?date=2026-11-20", &[]);
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&page).contains("No page-hit files for this period"));
    // No stream: the live routes say so, and / leads to the history.
    let (status, _) = server.get("/api/live", &[]);
    assert_eq!(status, 404);
    let (status, _) = server.get("/", &[]);
    assert_eq!(status, 303);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_a_token_the_history_is_closed_without_it() {
    let dir = temp_dir("token");
    write_day(&dir);
    let token = "0123456789abcdef0123";
    let server = Server::start(&dir, &[("DASHBOARD_TOKEN", token)]);
    for route in [
        "/history?date=2026-11-25",
        "/api/report?date=2026-11-25",
        "/api/report/pages.csv?date=2026-11-25",
    ] {
        assert_eq!(server.get(route, &[]).0, 401, "{route}");
        let bearer = format!("Bearer {token}");
        assert_eq!(
            server.get(route, &[("Authorization", &bearer)]).0,
            200,
            "{route}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_page_links_rows_to_filters_and_escapes_recorded_text() {
    let dir = temp_dir("page");
    write_day(&dir);
    let server = Server::start(&dir, &[]);
    let (status, page) = server.get("/history?date=2026-11-25", &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(
        !page.contains("<script>alert"),
        "recorded text became markup"
    );
    assert!(
        page.contains("/&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    // A source row links to the same period with its filter; the filter shows, removable.
    let link = "/history?date=2026-11-25&amp;tz=UTC&amp;filter=source%3Dnews.example";
    assert!(page.contains(link), "no link {link} in\n{page}");
    let (status, filtered) = server.get(&link.replace("&amp;", "&"), &[]);
    assert_eq!(status, 200);
    let filtered = String::from_utf8(filtered).unwrap();
    assert!(filtered.contains("source is news.example"), "{filtered}");
    assert!(filtered.contains("href=\"/history?date=2026-11-25&amp;tz=UTC\""));
    // The pages the filtered page lists are the CLI's.
    let cli: serde_json::Value = serde_json::from_slice(&cli_json(
        &dir,
        &["--date", "2026-11-25", "--filter", "source=news.example"],
    ))
    .unwrap();
    let section = &filtered[filtered.find("id=\"pages\"").unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    for p in cli["pages"].as_array().unwrap() {
        let path = p["path"].as_str().unwrap();
        assert!(
            section.contains(&format!(">{path}</a>")),
            "{path} in\n{section}"
        );
    }
    assert_eq!(
        section.matches("<tr>").count(),
        1 + cli["pages"].as_array().unwrap().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The value of `Cache-Status` in a response head.
fn cache_status(head: &str) -> &str {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("cache-status").then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no Cache-Status in\n{head}"))
}

#[test]
fn a_period_read_once_answers_new_filters_from_memory_until_more_hits_land() {
    let dir = temp_dir("cache");
    write_day(&dir);
    let cached = Server::start(&dir, &[]);
    let uncached = Server::start(&dir, &[("DASHBOARD_CACHE_MEMORY", "0")]);
    let asks: [(&str, &[&str]); 3] = [
        ("date=2026-11-25", &["--date", "2026-11-25"]),
        (
            "date=2026-11-25&filter=host%3Dshop.example",
            &["--date", "2026-11-25", "--filter", "host=shop.example"],
        ),
        (
            "date=2026-11-25&filter=page%3D%2Fpricing&top=1",
            &[
                "--date",
                "2026-11-25",
                "--filter",
                "page=/pricing",
                "--top",
                "1",
            ],
        ),
    ];
    // The first question reads the day; the others are counted from memory, and every answer
    // is the CLI's, as is the same answer of a server that keeps nothing.
    let mut first = Vec::new();
    for (i, (query, args)) in asks.iter().enumerate() {
        let url = format!("/api/report?{query}");
        let (status, head, body) = cached.get_with_head(&url, &[]);
        assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
        let expected = if i == 0 {
            "dashboard; fwd=miss"
        } else {
            "dashboard; hit"
        };
        assert_eq!(cache_status(&head), expected, "{query}");
        assert!(
            body == cli_json(&dir, args),
            "{query}: the API and the CLI differ"
        );
        let (_, head, again) = uncached.get_with_head(&url, &[]);
        assert_eq!(cache_status(&head), "dashboard; fwd=miss", "{query}");
        assert!(again == body, "{query}: kept and read anew differ");
        if i == 0 {
            first = body;
        }
    }
    // More hits land for the day: it is read again, with them.
    write_file(
        &dir,
        "part-2.csv",
        100,
        &[("13:00", "shop.example", "/pricing", "d", "", "")],
    );
    let (status, head, body) = cached.get_with_head("/api/report?date=2026-11-25", &[]);
    assert_eq!(status, 200);
    assert_eq!(cache_status(&head), "dashboard; fwd=miss");
    assert!(
        body == cli_json(&dir, asks[0].1),
        "after landing: the API and the CLI differ"
    );
    let visitors = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b).unwrap()["summary"]["visitors"].as_u64()
    };
    assert_eq!(
        visitors(&body),
        visitors(&first).map(|v| v + 1),
        "the new visitor counts"
    );
    let (_, head, _) = cached.get_with_head("/api/report?date=2026-11-25&filter=country%3DJP", &[]);
    assert_eq!(cache_status(&head), "dashboard; hit");
    let _ = std::fs::remove_dir_all(&dir);
}
