//! `cargo xtask licenses` writes, for the analyzer, every crate `cargo metadata` says is linked
//! into it, each under a licence with that licence's text, and uap-core's licence with the full
//! Apache-2.0 text; nothing only the tests use. Offline: the crates are already fetched.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use xtask::licenses::FILE_NAME;
use xtask::paths;

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

/// The crates.io crates linked into `package`'s binary for x86_64 Linux (the image's): its
/// normal dependencies, transitively, not through proc-macros (they run in the compiler).
fn linked_crates(package: &str) -> BTreeSet<(String, String)> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", "x86_64-unknown-linux-gnu"])
        .current_dir(paths::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root = packages
        .values()
        .find(|p| p["name"] == package && p["source"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null());
            let dep_id = dep["pkg"].as_str().unwrap();
            let proc_macro = packages[dep_id]["targets"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| {
                    t["kind"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k == "proc-macro")
                });
            if normal && !proc_macro {
                todo.push(dep_id);
            }
        }
    }
    seen.into_iter()
        .map(|id| packages[id])
        .filter(|p| !p["source"].is_null())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
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
        "cargo metadata's tree looks wrong: {linked:?}"
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
