//! `analyzer --version` says where the third-party licences are, and the image puts them there.

use std::process::Command;

#[test]
fn version_names_the_licences_file_that_the_image_ships() {
    let out = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    // The first line stays what clap prints for scripts that parse it.
    assert_eq!(
        lines.next(),
        Some(concat!("analyzer ", env!("CARGO_PKG_VERSION")))
    );
    let note = lines.next().expect("a second line about the licences");
    let path = note
        .split_whitespace()
        .find(|w| w.starts_with('/'))
        .unwrap_or_else(|| panic!("no path in {note:?}"));
    assert!(path.ends_with("/THIRD-PARTY-LICENSES"), "{note}");
    let dockerfile = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../Dockerfile.analyzer"
    ))
    .unwrap();
    assert!(
        dockerfile
            .lines()
            .any(|l| l.starts_with("COPY --from=build ") && l.ends_with(&format!(" {path}"))),
        "Dockerfile.analyzer does not copy the licences to {path}"
    );

    // `-V` stays the one short line.
    let short = Command::new(env!("CARGO_BIN_EXE_analyzer"))
        .arg("-V")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(short.stdout).unwrap(),
        concat!("analyzer ", env!("CARGO_PKG_VERSION"), "\n")
    );
}
