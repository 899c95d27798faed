//! A day whose recorded text tries to pass for something else: Markdown that would become links,
//! images, emphasis, HTML or a broken table, and characters that hide, reorder or split the
//! text around them (bidi overrides and isolates, zero-width characters, line and paragraph
//! separators). The reports shown to people must show all of it as text; the JSON keeps every
//! value exactly as recorded.
//!
//! The Markdown is read back with comrak, a CommonMark + GitHub Flavored Markdown parser with
//! GitHub's extensions (tables, autolinks, strikethrough), as GitHub would render it.

mod common;

use common::{analyzer, ok, temp_dir};
use comrak::nodes::{AstNode, NodeValue};
use comrak::{parse_document, Arena, Options};
use pagehit::{csv_header, PageHit};
use std::path::Path;

const DAY: &str = "2026-11-25";

/// Characters that change how text around them is shown without showing themselves.
const INVISIBLE: [char; 9] = [
    '\u{202e}', // right-to-left override
    '\u{202a}', // left-to-right embedding
    '\u{2066}', // left-to-right isolate
    '\u{2069}', // pop directional isolate
    '\u{200b}', // zero-width space
    '\u{200d}', // zero-width joiner
    '\u{feff}', // zero-width no-break space
    '\u{2028}', // line separator
    '\u{2029}', // paragraph separator
];

/// Paths: each would be markup, a link or a reordered name if shown raw.
const PATHS: [&str; 10] = [
    "/Reset https://evil.example/login",
    "/[click me](https://evil.example/)",
    "/![logo](https://evil.example/p.png)",
    "/a*b*c_d_e__f__",
    "/x|y|z",
    "/<b>bold</b>&amp;",
    "/\u{202e}gpj.exe",
    "/pay\u{200b}pal\u{200d}\u{feff}",
    "/one\u{2028}two\u{2029}three",
    "/\u{2066}admin\u{2069}\u{202a}x",
];

/// Campaigns, users and referrers: autolink bait of every GFM kind, emphasis, strikethrough.
const CAMPAIGNS: [&str; 4] = [
    "Reset https://evil.example/login",
    "www.evil.example",
    "help@evil.example",
    "**urgent** ~~old~~ `code`",
];
const USERS: [&str; 4] = [
    "_admin_",
    "@everyone",
    "<img src=x onerror=alert(1)>",
    "mailto:ceo@evil.example",
];
const REFERRERS: [&str; 2] = [
    "https://www.evil.example/landing",
    "https://xn--pple-43d.example/",
];
/// Event names allow `A-Za-z0-9_.:-` only, which is still enough for a link and emphasis.
const EVENTS: [&str; 2] = ["www.evil.example", "__init__"];

fn hostile_hits() -> Vec<PageHit> {
    let mut hits = Vec::new();
    let mut n = 0u32;
    let mut push = |f: &dyn Fn(&mut PageHit)| {
        n += 1;
        let mut hit = PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: format!("{DAY}T{:02}:{:02}:00.000Z", 8 + n / 60, n % 60),
            host: "shop.example".into(),
            path: "/".into(),
            action: "index".into(),
            method: "GET".into(),
            status: 200,
            visitor: format!("{:016x}", 0xa000 + u64::from(n)),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
                .into(),
            event: pagehit::PAGEVIEW.into(),
            ..PageHit::default()
        };
        f(&mut hit);
        hit.validate()
            .expect("a hostile hit is still a valid record");
        hits.push(hit);
    };
    for path in PATHS {
        push(&|h| h.path = path.into());
    }
    for (i, campaign) in CAMPAIGNS.iter().enumerate() {
        push(&|h| {
            h.utm_campaign = campaign.to_string();
            h.utm_source = PATHS[i][1..].to_string();
            h.utm_medium = USERS[i].to_string();
        });
    }
    for user in USERS {
        push(&|h| h.user = user.into());
    }
    for referrer in REFERRERS {
        push(&|h| h.referrer = referrer.into());
    }
    for event in EVENTS {
        push(&|h| h.event = event.into());
    }
    hits
}

fn write_day(root: &Path) {
    let mut csv = csv_header();
    for hit in hostile_hits() {
        hit.write_csv_row(&mut csv);
    }
    let dir = root.join(format!("hits/dt={DAY}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("shardId-000000000000-1.csv"), csv).unwrap();
}

fn report(root: &Path, format: &str) -> String {
    ok(&analyzer(
        &[
            "report",
            "--source",
            root.to_str().unwrap(),
            "--date",
            DAY,
            "--format",
            format,
            "--top",
            "100",
        ],
        &[],
    ))
}

/// Every recorded text value of the day, as recorded.
fn recorded() -> Vec<&'static str> {
    PATHS
        .iter()
        .chain(&CAMPAIGNS)
        .chain(&USERS)
        .chain(&EVENTS)
        .copied()
        .collect()
}

fn gfm() -> Options<'static> {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.autolink = true;
    options.extension.strikethrough = true;
    options
}

/// The text a node shows (its text and code descendants).
fn text_of<'a>(node: &'a AstNode<'a>) -> String {
    node.descendants()
        .filter_map(|n| match &n.data.borrow().value {
            NodeValue::Text(t) => Some(t.to_string()),
            NodeValue::Code(c) => Some(c.literal.clone()),
            NodeValue::SoftBreak | NodeValue::LineBreak => Some("\n".into()),
            _ => None,
        })
        .collect()
}

#[test]
fn markdown_shows_recorded_text_as_text() {
    let root = temp_dir("hostile-md");
    write_day(&root);
    let md = report(&root, "markdown");
    let arena = Arena::new();
    let doc = parse_document(&arena, &md, &gfm());

    let mut markup = Vec::new();
    let mut cells = Vec::new();
    for node in doc.descendants() {
        let value = node.data.borrow().value.clone();
        match value {
            NodeValue::Link(_)
            | NodeValue::Image(_)
            | NodeValue::Emph
            | NodeValue::Strong
            | NodeValue::Strikethrough
            | NodeValue::HtmlInline(_)
            | NodeValue::HtmlBlock(_)
            | NodeValue::Code(_) => markup.push(format!("{value:?}: {:?}", text_of(node))),
            NodeValue::TableCell => cells.push(text_of(node)),
            _ => {}
        }
    }
    assert!(
        markup.is_empty(),
        "recorded text became markup: {markup:#?}\n{md}"
    );

    // No table lost or gained a column: every row has as many cells as its header. (comrak,
    // like GitHub, pads short rows and drops extra cells, so a broken row also shows below as
    // a value no longer whole in one cell.)
    let mut tables = 0;
    for table in doc.descendants() {
        if let NodeValue::Table(t) = &table.data.borrow().value {
            tables += 1;
            for row in table.children() {
                assert_eq!(
                    row.children().count(),
                    t.alignments.len(),
                    "a row with another number of cells: {:?}\n{md}",
                    text_of(row)
                );
            }
        }
    }
    assert!(tables >= 10, "{tables} tables in\n{md}");

    // And each value is shown whole, in one cell, as text (its invisible characters as escapes).
    for value in recorded() {
        let shown = pagehit::rules::visible_text(value);
        assert!(
            cells.iter().any(|c| c == shown.as_ref()),
            "{value:?} is not shown as {shown:?} in one cell; cells: {cells:#?}"
        );
    }
    for host in ["www.evil.example", "xn--pple-43d.example"] {
        assert!(
            cells.iter().any(|c| c == host),
            "referrer {host} in {cells:#?}"
        );
    }
}

#[test]
fn no_invisible_character_reaches_a_human_readable_output() {
    let root = temp_dir("hostile-visible");
    write_day(&root);
    for format in ["table", "markdown", "html"] {
        let out = report(&root, format);
        for ch in INVISIBLE {
            assert!(
                !out.contains(ch),
                "{format}: U+{:04X} shown raw in\n{out}",
                ch as u32
            );
        }
        // (Markdown's escapes are checked as rendered, by the test above.)
        if format != "markdown" {
            for escape in ["\\u{202e}gpj.exe", "pay\\u{200b}pal", "one\\u{2028}two"] {
                assert!(
                    out.contains(escape),
                    "{format}: {escape} not shown in\n{out}"
                );
            }
        }
    }
    // Machine-readable output keeps the values exactly as recorded.
    let json: serde_json::Value = serde_json::from_str(&report(&root, "json")).unwrap();
    let paths: Vec<&str> = json["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for path in PATHS {
        assert!(
            paths.contains(&path),
            "{path:?} not kept in the JSON: {paths:?}"
        );
    }
}
