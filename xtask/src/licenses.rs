//! `cargo xtask licenses`: the third-party licences a shipped binary carries, one
//! `THIRD-PARTY-LICENSES` file per binary. cargo-about lists every crate linked into it (normal
//! dependencies for Linux x86_64 and arm64; build and dev dependencies are not shipped) with its
//! licence text, from `Cargo.lock` (`about.toml`, `about.hbs` at the root); what is compiled in
//! besides crates follows (the analyzer's uap-core regexes, Apache-2.0). The images copy the file
//! to [`image_path`], the Lambda zip carries it beside `bootstrap`.

use crate::paths;
use crate::process::run;
use crate::setup::{self, Task, CARGO_ABOUT};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The file's name, in every place it is shipped.
pub const FILE_NAME: &str = "THIRD-PARTY-LICENSES";

/// A binary that ships (in an image; the aggregator also in the Lambda zip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Binary {
    /// The analyzer (its image).
    Analyzer,
    /// The aggregator (its image and the Lambda zip).
    Aggregator,
    /// The live dashboard (its image).
    Dashboard,
}

impl Binary {
    /// Every binary that ships.
    pub const ALL: [Binary; 3] = [Binary::Analyzer, Binary::Aggregator, Binary::Dashboard];

    /// Its package (and binary) name.
    pub fn package(self) -> &'static str {
        match self {
            Binary::Analyzer => "analyzer",
            Binary::Aggregator => "aggregator",
            Binary::Dashboard => "dashboard",
        }
    }

    /// What is compiled into it that is not a crate, and must carry its licence.
    pub fn bundled(self) -> &'static [Bundled] {
        match self {
            Binary::Analyzer => &[UAP_CORE],
            Binary::Aggregator | Binary::Dashboard => &[],
        }
    }
}

/// Something compiled into a binary that is not a crate: data from another project.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// What it is and where it comes from.
    pub what: &'static str,
    /// Its SPDX licence.
    pub license: &'static str,
    /// The files to ship, relative to the repository root: the project's own licence file,
    /// then the licence's full text when that file only refers to it.
    pub files: &'static [&'static str],
}

/// uap-core's `regexes.yaml` is in the analyzer (`analyzer/data/uap-regexes.json`). Its LICENSE
/// is a notice that points to the Apache License 2.0, whose section 4(a) wants the full text
/// given with it.
pub const UAP_CORE: Bundled = Bundled {
    what: "uap-core 0.18.0 (https://github.com/ua-parser/uap-core): its user-agent regexes \
           (regexes.yaml, as analyzer/data/uap-regexes.json) are compiled into the analyzer",
    license: "Apache-2.0",
    files: &[
        "analyzer/data/uap-core-LICENSE",
        "analyzer/data/Apache-2.0.txt",
    ],
};

/// Where the images keep a binary's licences (`Dockerfile.<package>` copies the file there;
/// `analyzer --version` names the analyzer's).
pub fn image_path(bin: Binary) -> String {
    format!("/usr/share/doc/{}/{FILE_NAME}", bin.package())
}

/// `cargo xtask licenses` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write into, as <OUT>/<binary>/THIRD-PARTY-LICENSES [default: <target>/licenses]
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Only this binary (repeat for more) [default: every binary that ships]
    #[arg(long = "bin", value_enum, value_name = "BINARY")]
    pub bins: Vec<Binary>,
}

/// `cargo xtask licenses`: writes each binary's file and prints where.
pub fn generate(args: Args) -> Result<()> {
    let out = args.out.unwrap_or_else(default_dir);
    let bins = if args.bins.is_empty() {
        Binary::ALL.to_vec()
    } else {
        args.bins
    };
    for bin in bins {
        let path = write(bin, &out)?;
        println!("{}: {}", bin.package(), path.display());
    }
    Ok(())
}

/// Where `cargo xtask licenses` writes by default: `<target>/licenses`.
pub fn default_dir() -> PathBuf {
    paths::target_dir().join("licenses")
}

/// Writes `<out>/<package>/THIRD-PARTY-LICENSES` for `bin` (installing cargo-about when
/// missing) and returns its path. A file written from the same inputs ([`inputs_digest`]) is
/// kept: cargo-about takes minutes, and `cargo xtask test`, `package-lambda` and
/// `deploy-local` each package the Lambda.
pub fn write(bin: Binary, out: &Path) -> Result<PathBuf> {
    let root = paths::root();
    let dir = out.join(bin.package());
    let path = dir.join(FILE_NAME);
    let stamp = dir.join(format!("{FILE_NAME}.inputs"));
    let digest = inputs_digest(bin, &root)?;
    if path.exists() && std::fs::read_to_string(&stamp).ok() == Some(digest.clone()) {
        eprintln!("licenses: {} is up to date", path.display());
        return Ok(path);
    }
    setup::ensure_for(Task::Licenses)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let crates = dir.join(format!("{FILE_NAME}.crates"));
    crate_licenses(bin, &crates)?;
    let listing = std::fs::read_to_string(&crates)
        .with_context(|| format!("reading cargo-about's output {}", crates.display()))?;
    let text = assemble(bin, &listing, &root)?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::write(&stamp, digest).with_context(|| format!("writing {}", stamp.display()))?;
    std::fs::remove_file(&crates).ok();
    Ok(path)
}

/// What the file is made from, as a digest: the binary, cargo-about's version, this module's
/// source (the file's layout), `Cargo.lock`, every manifest in the workspace (features decide
/// the graph), `about.toml`, `about.hbs` and the bundled licence files. Not a security check:
/// a cache key, and a toolchain whose hasher differs only makes the file again.
pub fn inputs_digest(bin: Binary, root: &Path) -> Result<String> {
    use std::hash::{Hash, Hasher};
    let mut files = vec![
        root.join("Cargo.lock"),
        root.join("Cargo.toml"),
        root.join("about.toml"),
        root.join("about.hbs"),
    ];
    let mut members: Vec<PathBuf> = std::fs::read_dir(root)
        .with_context(|| format!("listing {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("Cargo.toml")))
        .filter(|m| m.is_file())
        .collect();
    members.sort();
    files.extend(members);
    files.extend(
        bin.bundled()
            .iter()
            .flat_map(|b| b.files)
            .map(|f| root.join(f)),
    );
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (bin.package(), CARGO_ABOUT, include_str!("licenses.rs")).hash(&mut hasher);
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        (file.strip_prefix(root).unwrap_or(&file), bytes).hash(&mut hasher);
    }
    Ok(format!("{:016x}\n", hasher.finish()))
}

/// cargo-about's listing of the crates linked into `bin`, written to `to`. The crates come from
/// crates.io (`cargo fetch`, the only network used); cargo-about then runs offline, so a crate
/// packaged without its licence file gets its licence's standard text, never a guess fetched
/// from elsewhere, and any crate whose licence it cannot settle fails the run.
fn crate_licenses(bin: Binary, to: &Path) -> Result<()> {
    let root = paths::root();
    crate::cargo_tree::fetch_all()?;
    eprintln!(
        "licenses: cargo about generate for {} (a few minutes)",
        bin.package()
    );
    run(
        "cargo about generate",
        Command::new(paths::cargo_bin("cargo-about"))
            .args([
                "about",
                "generate",
                "--frozen",
                "--fail",
                "-c",
                "about.toml",
            ])
            .arg("-m")
            .arg(format!("{}/Cargo.toml", bin.package()))
            .arg("-o")
            .arg(to)
            .arg("about.hbs")
            .current_dir(&root),
    )
}

/// The file: a header saying what it is, cargo-about's `listing` of the crates, then what is
/// bundled besides crates, with its licence files read from under `root`.
pub fn assemble(bin: Binary, listing: &str, root: &Path) -> Result<String> {
    let package = bin.package();
    let mut text = format!(
        "Third-party licences of pagehit's {package}\n\n\
         {package} (Apache-2.0, the pagehit project) links the crates listed below; each\n\
         is listed under the licence it is used under, followed by that licence's text.\n\
         Generated by `cargo xtask licenses` (cargo-about {CARGO_ABOUT}) from Cargo.lock.\n"
    );
    if !bin.bundled().is_empty() {
        text.push_str("Besides crates, it contains (see the end of this file):\n");
        for b in bin.bundled() {
            text.push_str(&format!("    {} ({})\n", b.what, b.license));
        }
    }
    text.push('\n');
    text.push_str(listing.trim_end());
    text.push('\n');
    for b in bin.bundled() {
        text.push_str(&format!(
            "\n{}\n{} ({}):\n",
            "=".repeat(80),
            b.what,
            b.license
        ));
        for file in b.files {
            let path = root.join(file);
            let body = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            text.push_str(&format!("{}\n{file}:\n\n", "-".repeat(80)));
            text.push_str(body.trim_end());
            text.push('\n');
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analyzer_file_carries_uap_cores_notice_and_the_full_apache_text() {
        let text = assemble(
            Binary::Analyzer,
            "MIT License (MIT), used by:\n    itoa 1.0.0\n\nPermission is hereby granted",
            &paths::root(),
        )
        .unwrap();
        assert!(text.starts_with("Third-party licences of pagehit's analyzer\n"));
        assert!(text.contains("    itoa 1.0.0\n"), "{text}");
        assert!(text.contains("uap-core 0.18.0"), "{text}");
        assert!(text.contains("Copyright 2009 Google Inc."), "{text}");
        // Section 4 (Redistribution) of the full text, not only the notice that points to it.
        assert!(text.contains("4. Redistribution."), "{text}");
        assert!(text.contains("END OF TERMS AND CONDITIONS"), "{text}");
    }

    #[test]
    fn the_aggregator_file_is_its_crates_alone() {
        let text = assemble(Binary::Aggregator, "listing\n", &paths::root()).unwrap();
        assert!(!text.contains("uap-core"));
        assert!(text.ends_with("\nlisting\n"), "{text}");
    }

    #[test]
    fn a_missing_bundled_licence_file_is_an_error_naming_it() {
        let err = assemble(Binary::Analyzer, "", Path::new("/nonexistent")).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/analyzer/data/uap-core-LICENSE"),
            "{err:#}"
        );
    }

    #[test]
    fn the_digest_changes_with_any_input_and_only_then() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for f in ["Cargo.lock", "Cargo.toml", "about.toml", "about.hbs"] {
            std::fs::write(root.join(f), f).unwrap();
        }
        std::fs::create_dir_all(root.join("analyzer/data")).unwrap();
        std::fs::write(root.join("analyzer/Cargo.toml"), "[package]").unwrap();
        for f in UAP_CORE.files {
            std::fs::write(root.join(f), f).unwrap();
        }
        let first = inputs_digest(Binary::Analyzer, root).unwrap();
        assert_eq!(inputs_digest(Binary::Analyzer, root).unwrap(), first);
        assert_ne!(inputs_digest(Binary::Aggregator, root).unwrap(), first);
        let mut seen = vec![first];
        for f in [
            "Cargo.lock",
            "about.hbs",
            "analyzer/Cargo.toml",
            "analyzer/data/Apache-2.0.txt",
        ] {
            std::fs::write(root.join(f), "changed").unwrap();
            let now = inputs_digest(Binary::Analyzer, root).unwrap();
            assert!(!seen.contains(&now), "a change to {f} went unseen");
            seen.push(now);
        }
        // A missing input is an error, not a digest of less.
        std::fs::remove_file(root.join("about.toml")).unwrap();
        assert!(inputs_digest(Binary::Analyzer, root).is_err());
    }

    #[test]
    fn about_toml_accepts_exactly_the_licences_deny_toml_allows() {
        let read = |f: &str| -> toml::Table {
            toml::from_str(&std::fs::read_to_string(paths::root().join(f)).unwrap()).unwrap()
        };
        let strings = |v: &toml::Value| -> std::collections::BTreeSet<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        let deny = read("deny.toml");
        let about = read("about.toml");
        assert_eq!(
            strings(&about["accepted"]),
            strings(&deny["licenses"]["allow"])
        );
    }

    #[test]
    fn each_image_copies_the_file_where_the_binary_says_and_pins_cargo_about() {
        for bin in Binary::ALL {
            let dockerfile = paths::root().join(format!("Dockerfile.{}", bin.package()));
            let text = std::fs::read_to_string(&dockerfile).unwrap();
            assert!(
                text.contains(&format!(" {}\n", image_path(bin))),
                "{} does not copy the licences to {}",
                dockerfile.display(),
                image_path(bin)
            );
            assert!(
                text.contains(&format!("cargo-about --version {CARGO_ABOUT} ")),
                "{} does not install cargo-about {CARGO_ABOUT}",
                dockerfile.display()
            );
        }
    }
}
