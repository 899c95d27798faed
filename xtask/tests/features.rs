//! Every build the project's commands run compiles a shared crate with the same features, so
//! none of them recompiles what another built (workspace-hack/Cargo.toml says why and how).

use std::collections::{BTreeMap, BTreeSet};
use xtask::cargo_tree;

/// Each crate ("name version") of a build with the features cargo enables for it there, as
/// `cargo tree` resolves them for these arguments on x86_64 Linux.
fn features(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let out = cargo_tree::lines(args, "{p} [{f}]").unwrap();
    let mut crates: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines() {
        // "name v1.2.3 [a,b]", "name v1.2.3 (/path) [a,b]", "... (*)" when shown before.
        let Some((head, rest)) = line.split_once(" [") else {
            continue;
        };
        let Some((feats, _)) = rest.split_once(']') else {
            continue;
        };
        let mut words = head.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        crates
            .entry(format!("{name} {version}"))
            .or_default()
            .extend(feats.split(',').filter(|f| !f.is_empty()).map(String::from));
    }
    assert!(
        crates.len() > 100,
        "cargo tree printed too little: {crates:?}"
    );
    crates
}

#[test]
fn xtask_the_demo_and_the_tests_build_shared_crates_with_the_same_features() {
    // The widest build: `cargo xtask test`'s `cargo test --workspace`.
    let tests = features(&["--workspace", "-e", "normal,build,dev"]);
    let builds = [
        ("cargo xtask (cargo run -p xtask)", vec!["-p", "xtask"]),
        (
            "the demo's binaries",
            vec!["-p", "aggregator", "-p", "analyzer", "-p", "dashboard"],
        ),
        (
            "cargo xtask e2e's binaries",
            vec!["-p", "aggregator", "-p", "analyzer"],
        ),
    ];
    let mut differ = Vec::new();
    for (what, mut args) in builds {
        args.extend(["-e", "normal,build"]);
        for (krate, feats) in features(&args) {
            let all = &tests[&krate];
            if feats != *all {
                let missing: Vec<_> = all.difference(&feats).collect();
                differ.push(format!("{what}: {krate} lacks {missing:?}"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "these crates would be compiled twice; add the features to workspace-hack/Cargo.toml:\n{}",
        differ.join("\n")
    );
}
