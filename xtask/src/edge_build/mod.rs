//! Builds the edge worker to Wasm, offline and without installed build tools: what
//! `worker-build` 0.8.7 does for a workers-rs crate, step by step, with wasm-bindgen's CLI as a
//! library (so its dependencies are the workspace's and compile once), binaryen's `wasm-opt`
//! and wrangler's `esbuild` from `npm ci`. The worker's bytes are those worker-build makes.
//!
//! Flow: `cargo build` (wasm32, size profile) -> wasm-bindgen (`--target module`, Wasm state
//! reset) -> `wasm-opt -Oz` -> producers metadata -> JS shim around the bindings -> esbuild
//! bundle -> `edge/build/{index.js,index_bg.wasm}`. It builds in a staging folder under a lock,
//! so a wrangler rebuild that starts while another runs never sees half a build.

mod producers;
mod shim;

use crate::paths;
use crate::process::run;
use anyhow::{bail, Context, Result};
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

/// The workers-rs SDK version recorded in the Wasm's producers section, as worker-build does
/// (it is the `worker` crate's pin in edge/Cargo.toml).
const WORKERS_RS: &str = "0.8.7";

/// `wasm-opt` passes: -Oz trades a little speed for size, and the worker is I/O-bound (it waits
/// on the origin and on Kinesis).
const WASM_OPT_PASSES: &[&str] = &["-Oz"];

/// Wasm features wasm-opt may use: what rustc's wasm32-unknown-unknown emits plus the exception
/// handling of wasm-bindgen's catch wrappers, named one by one (as worker-build does) so that no
/// encoding workerd cannot run yet is ever emitted.
const WASM_FEATURES: &[&str] = &[
    "mutable-globals",
    "sign-ext",
    "nontrapping-float-to-int",
    "bulk-memory",
    "multivalue",
    "reference-types",
    "exception-handling",
];

/// The built worker module that `wrangler.toml`'s `main` points at.
pub fn worker_module() -> PathBuf {
    out_dir().join("index.js")
}

fn out_dir() -> PathBuf {
    paths::root().join("edge/build")
}

/// Builds the worker into `edge/build/`.
pub fn build() -> Result<()> {
    build_when(|| Ok(()))
}

/// [`build`], calling `tools_ready` between cargo and the steps that use npm's tools (wasm-opt,
/// esbuild), so that `npm ci` can run while the Wasm compiles (the demo's first run).
pub fn build_when(tools_ready: impl FnOnce() -> Result<()>) -> Result<()> {
    let out = out_dir();
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let _lock = BuildLock::acquire(&out.join(".lock"))?;

    let wasm = cargo_build()?;
    tools_ready()?;
    // The steps after cargo take ~10 s (wasm-opt mostly) and are a pure function of the Wasm
    // that cargo wrote, xtask's own code and npm's tools: skipped when none of them, nor the
    // outputs, changed since the last build, so a second demo or test run does not redo them.
    let stamp = out.join(".inputs");
    let mut inputs = vec![
        wasm.clone(),
        paths::root().join("node_modules/.package-lock.json"),
    ];
    inputs.extend(std::env::current_exe().ok());
    inputs.extend(["index.js", "index_bg.wasm"].map(|n| out.join(n)));
    if fingerprint(&inputs).is_some_and(|f| fs::read_to_string(&stamp).ok() == Some(f)) {
        eprintln!("build-edge: the worker in edge/build is up to date");
        return Ok(());
    }
    // Gone until the new outputs are in place: a build that stops half-way is redone.
    if stamp.exists() {
        fs::remove_file(&stamp).with_context(|| format!("removing {}", stamp.display()))?;
    }
    let staging = out.join(".staging");
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    fs::create_dir_all(&staging)?;
    bindgen(&wasm, &staging)?;
    let module = staging.join("index_bg.wasm");
    wasm_opt(&module)?;
    let bytes = fs::read(&module)?;
    let bytes = producers::add_sdk(&bytes, "workers-rs", WORKERS_RS)
        .with_context(|| format!("adding the producers metadata to {}", module.display()))?;
    fs::write(&module, bytes)?;
    shim::bundle(&staging, &paths::node_bin("esbuild"))?;

    for name in ["index.js", "index_bg.wasm"] {
        fs::rename(staging.join(name), out.join(name))
            .with_context(|| format!("moving {name} into {}", out.display()))?;
    }
    fs::remove_dir_all(&staging)?;
    if let Some(f) = fingerprint(&inputs) {
        fs::write(&stamp, f).with_context(|| format!("writing {}", stamp.display()))?;
    }
    Ok(())
}

/// The length and modification time of each file, or `None` when one is missing: equal
/// fingerprints mean that none of them was rewritten (cargo and npm rewrite what they change).
fn fingerprint(files: &[PathBuf]) -> Option<String> {
    let mut out = String::new();
    for file in files {
        let meta = fs::metadata(file).ok()?;
        let modified = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
        out += &format!(
            "{} {} {}\n",
            file.display(),
            meta.len(),
            modified.as_nanos()
        );
    }
    Some(out)
}

/// Where the Wasm is compiled: a target folder of its own inside the workspace's, so that
/// cargo's lock on a target folder lets it run beside a native build (the demo and the tests
/// start both at once). It shares nothing with native builds anyway: other target, other
/// profile, even for the build scripts and proc macros.
fn wasm_target_dir() -> PathBuf {
    paths::target_dir().join("edge-wasm")
}

/// `cargo build` of the edge crate's library for wasm32 with the size profile; returns the
/// `.wasm` it wrote.
fn cargo_build() -> Result<PathBuf> {
    let target_dir = wasm_target_dir();
    eprintln!("build-edge: compiling the worker to Wasm (opt-level s, LTO)");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args([
        "build",
        "--lib",
        "--release",
        "--package",
        "edge",
        "--target",
        "wasm32-unknown-unknown",
    ])
    .arg("--target-dir")
    .arg(&target_dir)
    .current_dir(paths::root())
    // wasm-bindgen's proc macro then uses `js_sys::futures` (what worker-build sets: the
    // bindings and their size depend on it).
    .env("WASM_BINDGEN_USE_JS_SYS", "1")
    // Size over speed for the Wasm only; native release builds keep the workspace profile.
    .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
    .env("CARGO_PROFILE_RELEASE_LTO", "true")
    .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    run("cargo build (wasm32)", &mut cmd)?;
    Ok(target_dir.join("wasm32-unknown-unknown/release/edge.wasm"))
}

/// wasm-bindgen with the options worker-build passes to its CLI: `--target module`,
/// `--out-name index`, no TypeScript, the state reset function and the abort handler (the shim
/// uses both to restart the Wasm instance after a trap).
fn bindgen(wasm: &Path, out: &Path) -> Result<()> {
    let mut b = wasm_bindgen_cli_support::Bindgen::new();
    b.module(true)?;
    // Every option set as the CLI sets it (the library's defaults differ in places), the
    // deprecated one included: it overrides WASM_BINDGEN_EXTERNREF from the environment.
    #[allow(deprecated)]
    b.reference_types(false);
    b.input_path(wasm)
        .debug(false)
        .demangle(true)
        .keep_lld_exports(false)
        .keep_debug(false)
        .split_debug_info(false)
        .remove_name_section(false)
        .remove_producers_section(false)
        .typescript(false)
        .omit_imports(false)
        .omit_default_module_path(false)
        .split_linked_modules(false)
        .js_string_builtins(false)
        .ts_typed_array_buffers(false)
        .reset_state_function(true)
        .force_enable_abort_handler(true)
        .out_name("index");
    b.generate(out)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))
}

/// Shrinks the module in place with binaryen's wasm-opt, keeping its names section.
fn wasm_opt(module: &Path) -> Result<()> {
    let tmp = module.with_extension("wasm-opt.wasm");
    let mut cmd = Command::new(paths::node_bin("wasm-opt"));
    cmd.arg(module).arg("-o").arg(&tmp).args(WASM_OPT_PASSES);
    for feature in WASM_FEATURES {
        cmd.arg(format!("--enable-{feature}"));
    }
    cmd.arg("--debuginfo");
    run("wasm-opt", &mut cmd)?;
    fs::rename(&tmp, module)?;
    Ok(())
}

/// An exclusive `flock` on a file beside the output, held until dropped: one build at a time.
struct BuildLock {
    _file: fs::File,
}

impl BuildLock {
    fn acquire(path: &Path) -> Result<BuildLock> {
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; the kernel drops the lock when the
        // file is closed, also if the process dies.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!(
                "locking {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(BuildLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version of `package` in the workspace's Cargo.lock (one version expected).
    fn locked(package: &str) -> String {
        let lock: toml::Table =
            toml::from_str(&fs::read_to_string(paths::root().join("Cargo.lock")).unwrap()).unwrap();
        let versions: Vec<&str> = lock["package"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["name"].as_str() == Some(package))
            .map(|p| p["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions.len(), 1, "{package}: {versions:?}");
        versions[0].to_string()
    }

    #[test]
    fn a_fingerprint_changes_when_a_file_is_rewritten_and_needs_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "one").unwrap();
        fs::write(&b, "two").unwrap();
        let files = [a.clone(), b.clone()];
        let before = fingerprint(&files).unwrap();
        assert_eq!(fingerprint(&files).unwrap(), before);
        fs::write(&b, "three").unwrap();
        assert_ne!(fingerprint(&files).unwrap(), before);
        fs::remove_file(&a).unwrap();
        assert_eq!(fingerprint(&files), None);
    }

    #[test]
    fn the_bindings_generator_matches_the_bindings_and_the_sdk_its_pin() {
        // wasm-bindgen refuses a module made by another version of its macro.
        assert_eq!(locked("wasm-bindgen-cli-support"), locked("wasm-bindgen"));
        assert_eq!(locked("worker"), WORKERS_RS);
    }
}
