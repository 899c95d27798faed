//! `cargo xtask licenses` writes, for the analyzer, every crate `cargo tree` says is linked
//! into it, each under a licence with that licence's text, and uap-core's licence with the full
//! Apache-2.0 text; nothing only the tests use. Offline: the crates are already fetched.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use xtask::licenses::FILE_NAME;
use xtask::{cargo_tree, paths};

/// One licence of the file: the crates listed under it and its text.
struct Section {
    crates: BTreeSet<(String, String)>,
    text: String,
}

/// The file's licence sections, as `about.hbs` lays them out (a line of `=`, the licence and
/// "used by:", one indented `name version` line per crate, a line of `-`, the text).
fn sections(file: &str) -> Vec<Section> {
    let rule = "=".repeat(80);
    let dashes = "-".repeat(80);
    file.split(&format!("\n{rule}\n"))
        .skip(1)
        .filter(|s| s.lines().next().is_some_and(|l| l.ends_with("used by:")))
        .map(|s| {
            let (head, text) = s.split_once(&format!("\n{dashes}\n")).unwrap();
            let crates = head
                .lines()
                .skip(1)
                .map(|l| {
                    let mut words = l.split_whitespace();
                    let name = words.next().unwrap().to_string();
                    let version = words.next().unwrap().to_string();
                    (name, version)
                })
                .collect();
            Section {
                crates,
                text: text.to_string(),
            }
        })
        .collect()
}

/// The crates.io crates linked into `package`'s binary for x86_64 Linux (the image's), as
/// cargo resolves them for `cargo build -p <package>` (features unified over that package only):
/// its normal dependencies, transitively, not through proc-macros (they run in the compiler).
fn linked_crates(package: &str) -> BTreeSet<(String, String)> {
    cargo_tree::lines(&["-p", package, "-e", "normal,no-proc-macro"], "{p}")
        .unwrap()
        .lines()
        // "name v1.2.3", "name v1.2.3 (*)" when shown before; the workspace's own crates
        // carry their path: "pagehit v0.1.0 (/...)".
        .filter(|l| !l.contains(" (/"))
        .map(|l| {
            let mut words = l.split_whitespace();
            let name = words.next().unwrap().to_string();
            let version = words.next().unwrap().trim_start_matches('v').to_string();
            (name, version)
        })
        .collect()
}

fn generate(out: &Path) -> String {
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["licenses", "--bin", "analyzer", "--out"])
        .arg(out)
        .env("CARGO_NET_OFFLINE", "true")
        .current_dir(paths::root())
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(out.join("analyzer").join(FILE_NAME)).unwrap()
}

#[test]
#[ignore = "runs cargo-about over the analyzer's whole graph (minutes): cargo xtask test"]
fn the_analyzer_file_names_every_linked_crate_with_its_licence_and_uap_cores() {
    let tmp = tempfile::tempdir().unwrap();
    let file = generate(tmp.path());
    let sections = sections(&file);
    assert!(!sections.is_empty(), "no licence sections:\n{file}");

    let linked = linked_crates("analyzer");
    assert!(
        linked.len() > 100 && linked.iter().any(|(n, _)| n == "polars-core"),
        "cargo tree's list looks wrong: {linked:?}"
    );
    let mut missing = Vec::new();
    for krate in &linked {
        match sections.iter().find(|s| s.crates.contains(krate)) {
            // A licence text, not a name: the shortest accepted one (MIT-0) is longer than this.
            Some(s) => assert!(
                s.text.trim().len() > 400,
                "{krate:?} is listed with no licence text: {:?}",
                s.text
            ),
            None => missing.push(krate),
        }
    }
    assert!(
        missing.is_empty(),
        "crates linked in but not listed: {missing:?}"
    );

    // Only what ships: the analyzer's test-only dependencies are not listed.
    let listed: BTreeSet<&str> = sections
        .iter()
        .flat_map(|s| s.crates.iter().map(|(n, _)| n.as_str()))
        .collect();
    for dev_only in ["proptest", "comrak", "scraper"] {
        assert!(!linked.iter().any(|(n, _)| n == dev_only));
        assert!(!listed.contains(dev_only), "{dev_only} is only a test's");
    }

    // uap-core's notice and the full licence it points to, as in the repository.
    for data in ["uap-core-LICENSE", "Apache-2.0.txt"] {
        let text = std::fs::read_to_string(paths::root().join("analyzer/data").join(data)).unwrap();
        assert!(file.contains(text.trim_end()), "{data} is not in the file");
    }
    assert!(file.contains("uap-core 0.18.0"));
}
