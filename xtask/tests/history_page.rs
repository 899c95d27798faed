//! The history dashboard in a real headless Chromium, on the demo's history: a click on a
//! source row puts its filter in the URL and shows the pages `analyzer report --filter
//! source=...` gives; removing the filter is the whole period again; the back button returns
//! to the filtered view. The screenshot of the filtered page is the README's.

use pagehit::csv_header;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use xtask::dashboard::Dashboard;
use xtask::history::{self, Plan};
use xtask::paths;

/// Writes the hits as the aggregator lands them: one CSV object per UTC day.
fn land(h: &history::History, root: &std::path::Path) {
    let mut days: BTreeMap<String, String> = BTreeMap::new();
    for hit in &h.hits {
        let body = days
            .entry(hit.utc_date().to_string())
            .or_insert_with(csv_header);
        hit.write_csv_row(body);
    }
    for (day, body) in days {
        let dir = root.join(format!("hits/dt={day}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("history.csv"), body).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node: run `cargo xtask test`"]
async fn a_click_on_a_source_filters_the_period_and_the_url_keeps_it() {
    xtask::chromium::ensure().unwrap();
    let today = pagehit::time::parse_ts("2026-12-01T00:00:00.000Z").unwrap() / 86_400_000;
    let plan = Plan::demo(today);
    let h = history::generate(plan);
    let root = std::env::temp_dir().join(format!("history-page-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    land(&h, &root);
    let (from, to) = (
        pagehit::time::format_date(plan.first_day),
        pagehit::time::format_date(plan.last_day()),
    );

    // A folder source: the emulator's endpoint is never asked.
    let dash = Dashboard::history("http://127.0.0.1:9", root.to_str().unwrap())
        .await
        .unwrap();
    let url = format!("{}/history?from={from}&to={to}&tz=UTC", dash.url);

    let shot = paths::target_dir().join("history-page.png");
    let out = Command::new("node")
        .arg(paths::root().join("xtask/js/history_page.mjs"))
        .args([url.as_str(), shot.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["problems"], serde_json::json!([]), "{seen}");
    let texts = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };

    // The clicked source: the first of the whole period's list.
    let source = texts(&seen["before"]["sources"])[0].clone();
    let filtered = &seen["filtered"];
    let expr = format!("source={source}");
    assert_eq!(
        texts(&filtered["chips"]),
        std::slice::from_ref(&expr),
        "{filtered}"
    );
    let encoded: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    assert!(
        filtered["url"]
            .as_str()
            .unwrap()
            .contains(&format!("filter={encoded}")),
        "{filtered}"
    );
    // Its pages are the CLI's, in order (the page shows the first 10 of each list).
    let cli = Command::new(paths::workspace_bin("analyzer"))
        .args(["report", "--source", root.to_str().unwrap()])
        .args([
            "--from", &from, "--to", &to, "--top", "10", "--format", "json",
        ])
        .args(["--filter", &expr])
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let report: Value = serde_json::from_slice(&cli.stdout).unwrap();
    let want: Vec<String> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts(&filtered["pages"]), want);
    assert_ne!(
        texts(&filtered["pages"]),
        texts(&seen["before"]["pages"]),
        "a filter that changes nothing tests nothing"
    );

    // Removing the filter is the whole period again; back returns to the filtered view.
    let removed = &seen["removed"];
    assert_eq!(texts(&removed["chips"]), Vec::<String>::new());
    assert_eq!(removed["pages"], seen["before"]["pages"]);
    assert!(!removed["url"].as_str().unwrap().contains("filter="));
    assert_eq!(seen["back"]["url"], filtered["url"]);
    assert_eq!(seen["back"]["pages"], filtered["pages"]);
    assert_eq!(seen["before"]["scripts"], 0, "the page needs no script");
    assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
    let _ = std::fs::remove_dir_all(&root);
}
