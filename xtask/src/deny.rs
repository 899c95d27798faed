//! `cargo xtask deny`: cargo-deny's checks of the dependency graph (advisories, bans, licenses,
//! sources) against `deny.toml`, as CI runs them.
//!
//! Advisories are always checked, against the first of: the copy `PAGEHIT_ADVISORY_DB` names
//! (it wins), the RustSec database fetched from GitHub, the dated snapshot beside the checkout
//! (`../shared/data/advisory-db`, for machines that reach only the package registries). With
//! none of them the check fails: a check that passes with advisories unchecked looks like a
//! check and is not one. No copy of the database is kept in the repository: it would be stale
//! the day after.

use crate::paths;
use crate::process::run;
use crate::setup;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming a local copy of the RustSec advisory database (a git clone or
/// a copy of its data files); when set it is what the advisories are checked against.
pub const DB_ENV: &str = "PAGEHIT_ADVISORY_DB";

/// The folder cargo-deny opens for its default database URL (github.com/rustsec/advisory-db)
/// under `db-path`: the URL's last segment and a hash of the URL.
const DB_DIR_NAME: &str = "advisory-db-3157b0e258782691";

/// Runs the checks; fails when any check fails or the advisories cannot be checked.
pub fn run_checks() -> Result<()> {
    setup::ensure(&[setup::Tool::CargoDeny])?;
    let root = paths::root();
    let deny_toml = std::fs::read_to_string(root.join("deny.toml")).context("reading deny.toml")?;
    check_ignores_have_reasons(&deny_toml)?;
    let deny = paths::cargo_bin("cargo-deny");
    // cargo-deny reads the graph with `cargo metadata`, offline below: every crate of the
    // lockfile must be downloaded, the other platforms' too.
    crate::cargo_tree::fetch_all()?;

    let copy = match std::env::var_os(DB_ENV).map(PathBuf::from) {
        Some(db) => Some((db, format!("the copy {DB_ENV} names"))),
        None => {
            eprintln!("deny: fetching the advisory database");
            let fetched = Command::new(&deny)
                .args(["fetch", "db"])
                .current_dir(&root)
                .status()
                .context("running cargo deny fetch")?
                .success();
            if fetched {
                return run(
                    "cargo deny check (advisories from the RustSec database, just fetched)",
                    Command::new(&deny)
                        .args(["--locked", "check", "--show-stats"])
                        .current_dir(&root),
                );
            }
            let snapshot = snapshot_dir(&root);
            if !snapshot.is_dir() {
                bail!(
                    "the advisories cannot be checked: the RustSec database cannot be fetched \
                     from here, {DB_ENV} is not set and there is no snapshot in {}",
                    snapshot.display()
                );
            }
            Some((snapshot, "the snapshot".to_string()))
        }
    };
    let (db, what) = copy.expect("every other case returned");
    let date = database_date(&db)?;
    eprintln!(
        "deny: advisories from {what} in {}: the RustSec database as of {date} (advisories \
         published since are not checked)",
        db.display()
    );
    let dir = paths::target_dir().join("advisory-dbs");
    clone_dated(&db, &dir.join(DB_DIR_NAME), &date)?;
    let config = dir.join("deny.toml");
    std::fs::write(&config, with_db_path(&deny_toml, &dir)?)?;
    run(
        &format!("cargo deny check (advisories from {what}, as of {date})"),
        Command::new(&deny)
            .arg("--offline")
            .arg("--config")
            .arg(&config)
            .args(["--locked", "check", "--show-stats"])
            .current_dir(&root),
    )
}

/// `../shared/data/advisory-db` beside the checkout: the dated snapshot of the database.
fn snapshot_dir(root: &Path) -> PathBuf {
    root.parent()
        .unwrap_or(root)
        .join("shared/data/advisory-db")
}

/// The database's date: its `SNAPSHOT.md`'s "of YYYY-MM-DD", else its git clone's last commit.
fn database_date(db: &Path) -> Result<String> {
    if let Ok(text) = std::fs::read_to_string(db.join("SNAPSHOT.md")) {
        if let Some(date) = snapshot_date(&text) {
            return Ok(date);
        }
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(db)
        .args(["log", "-1", "--format=%cs"])
        .output()
        .context("running git log")?;
    let date = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || date.is_empty() {
        bail!(
            "{}: neither a SNAPSHOT.md naming its date nor a git clone: cannot say how current \
             the advisory database is",
            db.display()
        );
    }
    Ok(date)
}

/// The first `of YYYY-MM-DD` in a snapshot's description.
fn snapshot_date(text: &str) -> Option<String> {
    text.match_indices("of ").find_map(|(at, _)| {
        let date = text.get(at + 3..at + 13)?;
        let ok = date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
        ok.then(|| date.to_string())
    })
}

/// A fresh git repository at `to` with the database's data files of `from`, one commit dated
/// `date` (cargo-deny reads the database from a git repository, and its date from the commit).
fn clone_dated(from: &Path, to: &Path, date: &str) -> Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to).with_context(|| format!("removing {}", to.display()))?;
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        if entry.file_name() == ".git" {
            continue;
        }
        run(
            "cp -r",
            Command::new("cp")
                .arg("-r")
                .arg(entry.path())
                .arg(to.join(entry.file_name())),
        )?;
    }
    let stamp = format!("{date}T00:00:00Z");
    let git = |args: &[&str]| {
        run(
            &format!("git {}", args.join(" ")),
            Command::new("git")
                .arg("-C")
                .arg(to)
                .args([
                    "-c",
                    "user.name=pagehit",
                    "-c",
                    "user.email=pagehit@localhost",
                ])
                .args(args)
                .env("GIT_AUTHOR_DATE", &stamp)
                .env("GIT_COMMITTER_DATE", &stamp)
                .stdout(std::io::stderr()),
        )
    };
    git(&["init", "-q"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "advisory database copy"])
}

/// Fails when an advisory is ignored without a reason: an ignore is a decision, and the next
/// reader must see why it was taken.
fn check_ignores_have_reasons(deny_toml: &str) -> Result<()> {
    let config: toml::Table = deny_toml.parse().context("parsing deny.toml")?;
    let ignores = config
        .get("advisories")
        .and_then(|a| a.get("ignore"))
        .and_then(|i| i.as_array())
        .cloned()
        .unwrap_or_default();
    for ignore in ignores {
        let reason = ignore.get("reason").and_then(|r| r.as_str()).unwrap_or("");
        if reason.trim().is_empty() {
            bail!(
                "deny.toml ignores the advisory {ignore} without a reason: write \
                 `{{ id = \"...\", reason = \"...\" }}`"
            );
        }
    }
    Ok(())
}

/// `deny.toml` with the advisory databases read from `db_path` instead of cargo's home.
fn with_db_path(deny_toml: &str, db_path: &Path) -> Result<String> {
    let mut config: toml::Table = deny_toml.parse().context("parsing deny.toml")?;
    let advisories = config
        .entry("advisories")
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .context("[advisories] is not a table")?;
    advisories.insert(
        "db-path".into(),
        toml::Value::String(db_path.to_string_lossy().into_owned()),
    );
    Ok(toml::to_string(&config)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_config_keeps_deny_toml_and_points_at_the_local_copy() {
        let deny = std::fs::read_to_string(paths::root().join("deny.toml")).unwrap();
        let derived: toml::Table = with_db_path(&deny, Path::new("/tmp/dbs"))
            .unwrap()
            .parse()
            .unwrap();
        let original: toml::Table = deny.parse().unwrap();
        assert_eq!(derived["advisories"]["db-path"].as_str(), Some("/tmp/dbs"));
        assert_eq!(derived["bans"], original["bans"]);
        assert_eq!(derived["licenses"], original["licenses"]);
        assert_eq!(
            derived["advisories"]["ignore"],
            original["advisories"]["ignore"]
        );
        let bare: toml::Table = with_db_path("", Path::new("/x")).unwrap().parse().unwrap();
        assert_eq!(bare["advisories"]["db-path"].as_str(), Some("/x"));
    }

    #[test]
    fn every_ignore_needs_a_reason() {
        let deny = std::fs::read_to_string(paths::root().join("deny.toml")).unwrap();
        check_ignores_have_reasons(&deny).unwrap();
        let bare = "[advisories]\nignore = [\"RUSTSEC-2020-0001\"]\n";
        let err = check_ignores_have_reasons(bare).unwrap_err().to_string();
        assert!(err.contains("RUSTSEC-2020-0001"), "{err}");
        let blank = "[advisories]\nignore = [{ id = \"RUSTSEC-2020-0001\", reason = \" \" }]\n";
        assert!(check_ignores_have_reasons(blank).is_err());
    }

    #[test]
    fn the_snapshot_date_is_read_from_its_description() {
        let text = "A copy ...,\ncommit bf5c0d2 of 2026-08-21, taken 2026-12-01: the folders";
        assert_eq!(snapshot_date(text).as_deref(), Some("2026-08-21"));
        assert_eq!(snapshot_date("a list of things, of 2026-1"), None);
    }
}
