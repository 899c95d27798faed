//! The landed files as they are found at rest: every version of the record's header, columns
//! in another order, files that are not hit files, and broken rows. The counts must be exact
//! and say what was skipped; nothing is misread, nothing fails the report.

mod common;

use analyzer::source::csv::read_objects;
use analyzer::transform::hits::{
    campaign_parts, uuid_text, visitor_text, Caches, Dicts, Hits, BOT, PAGEVIEW,
};
use analyzer::transform::intern::NONE;
use common::*;
use pagehit::rules::referral;
use pagehit::{csv_header, PageHit, COLUMNS, V1_COLUMNS};
use proptest::prelude::*;
use serde_json::Value;

fn hit(n: u32, ts: &str) -> PageHit {
    PageHit {
        event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
        ts: ts.into(),
        host: "shop.example".into(),
        path: format!("/p/{}", n % 3),
        action: "p".into(),
        method: "GET".into(),
        status: 200,
        visitor: format!("{:016x}", 0xabc0 + u64::from(n % 4)),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ..PageHit::default()
    }
}

/// The row of `h` with only the first `n` columns (a file of an older version).
fn row_of_first(h: &PageHit, n: usize) -> String {
    let mut row = String::new();
    h.write_csv_row(&mut row);
    // No field of these hits holds a comma or a quote: split plainly.
    let fields: Vec<&str> = row.trim_end().split(',').collect();
    format!("{}\n", fields[..n].join(","))
}

#[test]
fn every_version_and_order_of_columns_is_read_and_what_is_not_read_is_counted() {
    let root = temp_dir("at-rest");
    let dir = root.join("hits/dt=2026-11-25");
    std::fs::create_dir_all(&dir).unwrap();
    let ts = |m: u32| format!("2026-11-25T10:{m:02}:00.000Z");
    let write = |name: &str, body: &[u8]| std::fs::write(dir.join(name), body).unwrap();

    // Version 1: fourteen columns, so every hit is a page view without a campaign.
    let mut v1 = format!("{}\n", COLUMNS[..V1_COLUMNS].join(","));
    for n in 1..=3 {
        v1.push_str(&row_of_first(&hit(n, &ts(n)), V1_COLUMNS));
    }
    write("a-v1.csv", v1.as_bytes());

    // Today's header plus two columns of a newer writer: they are ignored.
    let mut v3 = format!("{},later_a,later_b\n", COLUMNS.join(","));
    for n in 4..=5 {
        let mut h = hit(n, &ts(n));
        if n == 5 {
            h.event = "signup".into();
        }
        v3.push_str(&format!(
            "{},x,y\n",
            row_of_first(&h, COLUMNS.len()).trim_end()
        ));
    }
    write("b-v3.csv", v3.as_bytes());

    // Swapped columns (path and host): read by name.
    let mut names: Vec<&str> = COLUMNS.to_vec();
    names.swap(2, 3);
    let mut swapped = format!("{}\n", names.join(","));
    let row = row_of_first(&hit(6, &ts(6)), COLUMNS.len());
    let mut fields: Vec<&str> = row.trim_end().split(',').collect();
    fields.swap(2, 3);
    swapped.push_str(&format!("{}\n", fields.join(",")));
    write("c-swapped.csv", swapped.as_bytes());

    // No header: the file is refused whole (its first row is not a header), never misread.
    write(
        "d-no-header.csv",
        row_of_first(&hit(7, &ts(7)), COLUMNS.len())
            .repeat(2)
            .as_bytes(),
    );

    // Broken rows among good ones: an unterminated quote, invalid UTF-8, a 1 MB row.
    let mut broken = csv_header().into_bytes();
    let mut good = String::new();
    hit(8, &ts(8)).write_csv_row(&mut good);
    broken.extend_from_slice(good.as_bytes());
    broken
        .extend_from_slice(b"01936b2e-1f00-7abc-8def-000000000009,\"2026-11-25T10:09:00.000Z,x\n");
    let mut bad = String::new();
    hit(10, &ts(10)).write_csv_row(&mut bad);
    let mut bad = bad.into_bytes();
    bad[40] = 0xff;
    broken.extend_from_slice(&bad);
    broken.extend_from_slice(format!("/{}\n", "x".repeat(1 << 20)).as_bytes());
    let mut last = String::new();
    hit(11, &ts(11)).write_csv_row(&mut last);
    broken.extend_from_slice(last.as_bytes());
    write("e-broken.csv", &broken);

    let text = ok(&analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--date",
            "2026-11-25",
            "--format",
            "json",
        ],
        &[],
    ));
    let r: Value = serde_json::from_str(&text).unwrap();
    let s = &r["summary"];
    // Hits 1-4, 6, 8 and 11 are page views; 5 is a custom event.
    assert_eq!(s["hits"], 7);
    assert_eq!(s["events"], 1);
    assert_eq!(r["events"][0]["event"], "signup");
    assert_eq!(
        s["malformed_rows"], 3,
        "the quote, the byte and the long row"
    );
    assert_eq!(s["unknown_header_files"], 1);
    assert_eq!(s["files"], 5);
    let path = |p: &str| {
        r["pages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["path"] == p)
            .cloned()
    };
    assert_eq!(
        path("/p/0").unwrap()["hits"],
        2,
        "hits 3 and 6 (the swapped file)"
    );
    assert!(
        path("shop.example").is_none(),
        "the swapped columns were not read by position"
    );

    // --strict names the first problem.
    let out = analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--date",
            "2026-11-25",
            "--strict",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("d-no-header.csv was not read"),
        "{}",
        stderr(&out)
    );

    // Compacted, the same counts.
    ok(&analyzer(
        &[
            "compact",
            "--source",
            root.to_str().unwrap(),
            "--date",
            "2026-11-25",
        ],
        &[],
    ));
    let again = ok(&analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--date",
            "2026-11-25",
            "--format",
            "json",
        ],
        &[],
    ));
    assert_eq!(again, text);
}

/// Free text as the edge stores it: commas, quotes, spaces and unicode, never a control
/// character.
fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(",".to_string()),
            Just("\"".to_string()),
            Just(" ".to_string()),
            Just("é".to_string()),
            Just("日本".to_string()),
            "[a-zA-Z0-9/._~%=&?:-]{1,6}",
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

prop_compose! {
    fn any_hit()(
        n in 0u64..1_000_000,
        minute in 0i64..1440,
        path in text(6),
        user in prop_oneof![Just(String::new()), text(4)],
        visitor in 0u64..50,
        referrer in prop_oneof![Just(String::new()), Just("https://News.Example/a".to_string()), Just("https://shop.example/".to_string()), text(4)],
        country in "([A-Z]{2})?",
        agent in text(8),
        bot in any::<bool>(),
        event in prop_oneof![Just("pageview".to_string()), "[a-z:]{1,8}"],
        utm in prop::array::uniform3(prop_oneof![Just(String::new()), text(3)]),
    ) -> PageHit {
        let [utm_source, utm_medium, utm_campaign] = utm;
        PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: pagehit::time::format_ts(pagehit::time::parse_ts("2026-11-25T00:00:00.000Z").unwrap() + minute * 60_000),
            host: "shop.example".into(),
            path: format!("/{path}"),
            action: "a".into(),
            method: "GET".into(),
            status: 200,
            user,
            visitor: format!("{visitor:016x}"),
            referrer,
            country,
            user_agent: agent,
            bot,
            origin_ms: 1,
            event,
            utm_source,
            utm_medium,
            utm_campaign,
            ..PageHit::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Hits written with pagehit's writer and read back through the analyzer's loader give
    /// the same values, in file then line order.
    #[test]
    fn hits_read_back_through_the_loader_hold_what_was_written(
        files in prop::collection::vec(prop::collection::vec(any_hit(), 0..30), 1..5),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut objects = Vec::new();
        for (i, hits) in files.iter().enumerate() {
            let mut body = csv_header();
            for h in hits {
                prop_assert_eq!(h.validate(), Ok(()));
                h.write_csv_row(&mut body);
            }
            let key = format!("hits/dt=2026-11-25/{i}.csv");
            std::fs::create_dir_all(dir.path().join("hits/dt=2026-11-25")).unwrap();
            std::fs::write(dir.path().join(&key), body).unwrap();
            objects.push(store::Object { key, size: 0 });
        }
        let rt = tokio::runtime::Runtime::new().unwrap();
        let store = rt.block_on(store::Store::open(&store::Location::Dir(dir.path().into()))).unwrap();
        let dicts = Dicts::default();
        let mut states: Vec<Vec<(usize, Hits)>> = vec![Vec::new(), Vec::new()];
        let outcomes = read_objects(&store, rt.handle(), &objects, &mut states, &|_, _| {}, &|s, i, row| {
            if s.last().is_none_or(|(f, _)| *f != i) {
                s.push((i, Hits::default()));
            }
            s.last_mut().unwrap().1.push(&dicts, &mut Caches::default(), &row.hit, row.ts_ms);
        }).unwrap();
        prop_assert!(outcomes.iter().all(|o| o.malformed == 0 && o.refused.is_none()));
        let mut parts: Vec<(usize, Hits)> = states.into_iter().flatten().collect();
        parts.sort_by_key(|(i, _)| *i);
        let got = Hits::concat(parts.into_iter().map(|(_, h)| h).collect());
        let want: Vec<&PageHit> = files.iter().flatten().collect();
        prop_assert_eq!(got.len(), want.len());
        let (paths, users, countries, sources, campaigns, agents, events) = (
            dicts.path.snapshot(), dicts.user.snapshot(), dicts.shared.country.snapshot(),
            dicts.source.snapshot(), dicts.campaign.snapshot(),
            dicts.shared.agent.snapshot(), dicts.shared.event.snapshot(),
        );
        for (r, h) in want.iter().enumerate() {
            prop_assert_eq!(uuid_text(got.eid[r]), h.event_id.clone());
            prop_assert_eq!(got.ts[r], pagehit::time::parse_ts(&h.ts).unwrap());
            prop_assert_eq!(visitor_text(got.vis[r]), h.visitor.clone());
            prop_assert_eq!(paths.name(got.path[r]), h.path.as_str());
            prop_assert_eq!(if got.user[r] == NONE { "" } else { users.name(got.user[r]) }, h.user.as_str());
            prop_assert_eq!(got.status[r], h.status);
            prop_assert_eq!(got.flags[r] & BOT != 0, h.bot);
            prop_assert_eq!(got.flags[r] & PAGEVIEW != 0, h.event == "pageview");
            prop_assert_eq!(countries.name(got.country[r]), h.country.as_str());
            prop_assert_eq!(agents.name(got.agent[r]), h.user_agent.as_str());
            let referral = referral(&h.referrer, &h.host);
            let source = if h.utm_source.is_empty() { referral.label() } else { &h.utm_source };
            prop_assert_eq!(sources.name(got.source[r]), source);
            let ext = matches!(referral, pagehit::rules::Referral::External(_));
            prop_assert_eq!(got.ref_host[r] != NONE, ext);
            if ext {
                // An external host is coded in the sources' dictionary.
                prop_assert_eq!(sources.name(got.ref_host[r]), referral.label());
            }
            if h.utm_source.is_empty() && h.utm_medium.is_empty() && h.utm_campaign.is_empty() {
                prop_assert_eq!(got.campaign[r], NONE);
            } else {
                prop_assert_eq!(
                    campaign_parts(campaigns.name(got.campaign[r])),
                    (h.utm_source.as_str(), h.utm_medium.as_str(), h.utm_campaign.as_str())
                );
            }
            if h.event == "pageview" {
                prop_assert_eq!(got.event[r], NONE);
            } else {
                prop_assert_eq!(events.name(got.event[r]), h.event.as_str());
            }
        }
    }
}
