//! `cargo xtask deny`: cargo-deny's checks of the dependency graph (advisories, bans, licenses,
//! sources) against `deny.toml`, as CI runs them.
//!
//! The advisories need the RustSec advisory database, a git repository that cargo-deny clones
//! from GitHub. Where that fetch fails (this project's build machines reach only the package
//! registries), a local copy of the database named by `PAGEHIT_ADVISORY_DB` is used; without
//! one the bans, licenses and sources are still checked and the output says, on its last line,
//! that the advisories were not. No copy of the database is kept in the repository: it would be
//! stale the day after, and a stale check that looks like a check is worse than a said gap.

use crate::paths;
use crate::process::run;
use crate::setup;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming a local copy (a git clone) of the RustSec advisory database.
pub const DB_ENV: &str = "PAGEHIT_ADVISORY_DB";

/// Runs the checks; fails when any check that ran fails.
pub fn run_checks() -> Result<()> {
    setup::ensure(&[setup::Tool::CargoDeny])?;
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
    if let Some(db) = std::env::var_os(DB_ENV).map(PathBuf::from) {
        eprintln!(
            "deny: the advisory database cannot be fetched from here; checking against the copy in {}",
            db.display()
        );
        // cargo-deny looks for its clone in a folder named after the database's URL under
        // `db-path`; a local copy is pointed at through a derived config.
        let dir = target_dir(&root).join("advisory-db-local");
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("deny.toml");
        let original =
            std::fs::read_to_string(root.join("deny.toml")).context("reading deny.toml")?;
        std::fs::write(&config, with_db_path(&original, &db)?)?;
        return run(
            "cargo deny check (advisories from the local copy)",
            Command::new(&deny)
                .arg("--offline")
                .arg("--config")
                .arg(&config)
                .args(["check", "--show-stats"])
                .current_dir(&root),
        );
    }
    run(
        "cargo deny check bans licenses sources",
        Command::new(&deny)
            .args([
                "--locked",
                "check",
                "--show-stats",
                "bans",
                "licenses",
                "sources",
            ])
            .current_dir(&root),
    )?;
    eprintln!(
        "deny: WARNING: advisories NOT checked: the RustSec database cannot be fetched from this \
         machine; set {DB_ENV} to a local clone of https://github.com/rustsec/advisory-db to check them"
    );
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
}
