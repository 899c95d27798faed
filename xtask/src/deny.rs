//! `cargo xtask deny`: cargo-deny's checks of the dependency graph (advisories, bans, licenses,
//! sources) against `deny.toml`, as CI runs them.
//!
//! The advisories need the RustSec advisory database, a git repository that cargo-deny clones
//! from the internet. This project's machines and CI reach only the package registries, so
//! when that fetch fails the check runs against the snapshot in `xtask/data/` and says how old
//! it is. The advisories are never skipped: without either database the command fails.

use crate::paths;
use crate::process::run;
use crate::setup;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The snapshot of the database, and what it is a snapshot of.
const SNAPSHOT: &str = "xtask/data/rustsec-advisory-db.tar.gz";
const SNAPSHOT_INFO: &str = "xtask/data/rustsec-advisory-db.toml";

/// The folder name cargo-deny 0.20 gives its clone of the default database (derived from the
/// URL). If a new cargo-deny names it otherwise, the check fails to open the database: loudly.
const DB_DIR: &str = "advisory-db-3157b0e258782691";

/// A snapshot older than this is flagged in the output: refresh it (see its `.toml`).
const STALE_DAYS: i64 = 30;

/// Runs the checks; fails when any fails.
pub fn run_checks() -> Result<()> {
    setup::ensure_cargo_deny()?;
    let root = paths::root();
    let deny = paths::cargo_bin("cargo-deny");
    eprintln!("deny: fetching the advisory database");
    let fetched = Command::new(&deny)
        .args(["fetch", "db"])
        .current_dir(&root)
        .status()
        .context("running cargo deny fetch")?
        .success();
    if fetched {
        return run(
            "cargo deny check",
            Command::new(&deny)
                .args(["--locked", "check", "--show-stats"])
                .current_dir(&root),
        );
    }
    let (commit, date) = snapshot_info(&root)?;
    let age_days =
        (now_ms() - pagehit::time::parse_ts(&date).context("snapshot date")?) / 86_400_000;
    eprintln!(
        "deny: the advisory database cannot be fetched from here; checking against the snapshot \
         of {} (commit {}, {age_days} days old)",
        &date[..10],
        &commit[..12]
    );
    if age_days > STALE_DAYS {
        eprintln!(
            "deny: WARNING: the snapshot is over {STALE_DAYS} days old: advisories published \
             since are not checked; refresh it ({SNAPSHOT_INFO})"
        );
    }
    let dir = target_dir(&root).join("advisory-db-snapshot");
    unpack_snapshot(&root.join(SNAPSHOT), &dir.join(DB_DIR), &date)?;
    let config = dir.join("deny.toml");
    let original = std::fs::read_to_string(root.join("deny.toml")).context("reading deny.toml")?;
    std::fs::write(&config, with_db_path(&original, &dir)?)?;
    run(
        "cargo deny check (advisories from the snapshot)",
        Command::new(&deny)
            .arg("--offline")
            .arg("--config")
            .arg(&config)
            .args(["check", "--show-stats"])
            .current_dir(&root),
    )
}

/// (commit, date) of the snapshot.
fn snapshot_info(root: &Path) -> Result<(String, String)> {
    let text = std::fs::read_to_string(root.join(SNAPSHOT_INFO))
        .with_context(|| format!("reading {SNAPSHOT_INFO}"))?;
    let info: toml::Table = text
        .parse()
        .with_context(|| format!("parsing {SNAPSHOT_INFO}"))?;
    let field = |k: &str| {
        info.get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .with_context(|| format!("{SNAPSHOT_INFO} has no {k}"))
    };
    Ok((field("commit")?, field("date")?))
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

/// Unpacks the snapshot into `db` as the git repository cargo-deny expects (it reads the date
/// of HEAD), committed at the snapshot's own date so its age is reported truthfully.
fn unpack_snapshot(tarball: &Path, db: &Path, date: &str) -> Result<()> {
    if db.exists() {
        std::fs::remove_dir_all(db)?;
    }
    std::fs::create_dir_all(db)?;
    run(
        "unpacking the advisory database snapshot",
        Command::new("tar")
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(db),
    )?;
    let git = |args: &[&str]| {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(db)
            .args([
                "-c",
                "user.name=snapshot",
                "-c",
                "user.email=snapshot@localhost",
            ])
            .args(args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .stdout(std::process::Stdio::null());
        cmd
    };
    run("git init", &mut git(&["init", "-q", "-b", "main"]))?;
    run("git add", &mut git(&["add", "-A"]))?;
    run(
        "git commit",
        &mut git(&["commit", "-q", "-m", "advisory database snapshot"]),
    )?;
    if !db.join("crates").is_dir() {
        bail!("{} holds no crates/ folder", tarball.display());
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else `target/` in the workspace.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_there_and_described() {
        let root = paths::root();
        assert!(root.join(SNAPSHOT).is_file());
        let (commit, date) = snapshot_info(&root).unwrap();
        assert_eq!(commit.len(), 40);
        assert!(pagehit::time::parse_ts(&date).is_some(), "{date}");
    }

    #[test]
    fn the_derived_config_keeps_deny_toml_and_points_at_the_snapshot() {
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
}
