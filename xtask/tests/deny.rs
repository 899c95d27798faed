//! `cargo xtask deny` checks advisories for real: it passes on the real lockfile against the
//! dated snapshot, and fails, naming the advisory, when the database knows a vulnerability in a
//! crate of the lockfile (a copy of the snapshot with one made-up advisory added).

use std::path::Path;
use std::process::Command;

/// `cargo xtask deny` with `PAGEHIT_ADVISORY_DB` naming `db`: (success, everything it printed).
fn deny_against(db: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("deny")
        .env("PAGEHIT_ADVISORY_DB", db)
        .current_dir(xtask::paths::root())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
#[ignore = "needs cargo-deny and the advisory snapshot: run `cargo xtask test`"]
fn advisories_fail_the_check_on_a_locked_crate_and_pass_on_the_real_lockfile() {
    let snapshot = xtask::paths::root().join("../shared/data/advisory-db");
    assert!(snapshot.is_dir(), "no snapshot at {}", snapshot.display());

    let (ok, out) = deny_against(&snapshot);
    assert!(ok, "the real lockfile fails:\n{out}");
    assert!(
        out.contains("the RustSec database as of 2026-08-21"),
        "the database's date is not said:\n{out}"
    );

    // The same snapshot and one advisory against every version of a crate in Cargo.lock.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("advisory-db");
    let status = Command::new("cp")
        .arg("-r")
        .arg(&snapshot)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let lock = std::fs::read_to_string(xtask::paths::root().join("Cargo.lock")).unwrap();
    assert!(lock.contains("name = \"itoa\""), "itoa is no longer locked");
    std::fs::create_dir_all(copy.join("crates/itoa")).unwrap();
    std::fs::write(
        copy.join("crates/itoa/RUSTSEC-2099-0001.md"),
        "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"itoa\"\n\
         date = \"2026-08-20\"\nurl = \"https://example.invalid/itoa\"\n\
         categories = [\"memory-corruption\"]\n\n[versions]\npatched = []\n```\n\n\
         # A made-up vulnerability, for the test\n\nEvery version is affected.\n",
    )
    .unwrap();
    let (ok, out) = deny_against(&copy);
    assert!(!ok, "a vulnerable locked crate passed:\n{out}");
    assert!(out.contains("RUSTSEC-2099-0001"), "{out}");
}
