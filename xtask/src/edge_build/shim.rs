//! The worker's JavaScript entry: worker-build's shim around the wasm-bindgen module (a
//! `WorkerEntrypoint` whose handlers call the Rust exports, restarting the Wasm instance after
//! a trap), bundled with the bindings by esbuild into one `index.js`.

use crate::process::run;
use anyhow::{Context, Result};
use std::fs;
use std::path::Path;
use std::process::Command;

/// worker-build 0.8.7's shim (`shim.js` beside this file).
const SHIM: &str = include_str!("shim.js");

/// Exports of the bindings that are the shim's machinery, not handlers.
const SYSTEM_FNS: &[&str] = &["__wbg_reset_state", "__worker_init_state"];

/// Handlers the runtime calls with `(arg, env, ctx)`.
const EVENT_HANDLERS: &[&str] = &["fetch", "queue", "scheduled", "email", "connect"];

/// Writes the shim for the bindings in `dir/index.js` and bundles both into `dir/index.js`
/// (the Wasm stays a separate module beside it).
pub fn bundle(dir: &Path, esbuild: &Path) -> Result<()> {
    let index = dir.join("index.js");
    let bindings =
        fs::read_to_string(&index).with_context(|| format!("reading {}", index.display()))?;
    let shim = dir.join("shim.js");
    fs::write(&shim, shim_for(&bindings))?;

    let mut cmd = Command::new(esbuild);
    cmd.args([
        "--external:./index_bg.wasm",
        "--external:cloudflare:*",
        "--format=esm",
        "--bundle",
        "./shim.js",
        "--outfile=index.js",
        "--allow-overwrite",
        "--minify",
    ])
    .current_dir(dir);
    run("esbuild", &mut cmd)?;

    // workerd imports the Wasm as a module: the source-phase import wasm-bindgen writes is
    // spelled as a plain one.
    let bundled = fs::read_to_string(&index)?;
    fs::write(&index, bundled.replace("import source ", "import "))?;
    fs::remove_file(&shim)?;
    let snippets = dir.join("snippets");
    if snippets.exists() {
        fs::remove_dir_all(&snippets)?;
    }
    Ok(())
}

/// The shim's text for these bindings: one `Entrypoint` method per exported handler, one
/// proxied class per exported class.
fn shim_for(bindings: &str) -> String {
    let mut handlers = String::new();
    for name in exported_functions(bindings) {
        if EVENT_HANDLERS.contains(&name) {
            handlers += &format!(
                "Entrypoint.prototype.{name} = function {name} (arg) {{\n  \
                 return exports.{name}.call(this, arg, this.env, this.ctx);\n}}\n"
            );
        } else {
            handlers += &format!("Entrypoint.prototype.{name} = exports.{name};\n");
        }
    }
    let mut shim = SHIM.replace("$HANDLERS", &handlers);
    for class in exported_classes(bindings) {
        shim += &format!("export const {class} = new Proxy(exports.{class}, classProxyHooks);\n");
    }
    shim
}

/// Each `export` declaration of the bindings, from the keyword on.
fn export_decls(js: &str) -> impl Iterator<Item = &str> {
    js.match_indices("export ").filter_map(move |(i, _)| {
        let boundary = js[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == ';' || c == '}');
        boundary.then(|| &js[i..])
    })
}

/// The exported functions (`export function f(`, `export async function f(`,
/// `export { x as f }`), the shim's own machinery left out.
fn exported_functions(js: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for decl in export_decls(js) {
        let name = if let Some(rest) = decl
            .strip_prefix("export function")
            .or_else(|| decl.strip_prefix("export async function"))
        {
            rest.find('(').map(|end| rest[..end].trim())
        } else if let Some(rest) = decl.strip_prefix("export {") {
            rest.find(" as ").and_then(|at| {
                let rest = &rest[at + 4..];
                rest.find('}').map(|end| rest[..end].trim())
            })
        } else {
            None
        };
        // A text scan: "export function(" inside a string is no declaration.
        let identifier = |n: &&str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        };
        if let Some(name) = name.filter(identifier).filter(|n| !SYSTEM_FNS.contains(n)) {
            names.push(name);
        }
    }
    names
}

/// The exported classes (`export class C {`).
fn exported_classes(js: &str) -> Vec<&str> {
    export_decls(js)
        .filter_map(|decl| decl.strip_prefix("export class "))
        .filter_map(|rest| rest.find('{').map(|end| rest[..end].trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = "\
export function __worker_init_state() { return x; }
export function fetch(req, env, ctx) { return y; }
export async function queue(batch, env, ctx) {}
export function helper(a) {}
export { __wbg_reset_state as __wbg_reset_state }
export { run_scheduled as scheduled }
export class Counter {
  constructor() {}
}
const s = \"not an export function(\";
";

    #[test]
    fn handlers_take_env_and_ctx_and_other_exports_are_copied() {
        assert_eq!(
            exported_functions(BINDINGS),
            ["fetch", "queue", "helper", "scheduled"]
        );
        let shim = shim_for(BINDINGS);
        assert!(shim.contains(
            "Entrypoint.prototype.fetch = function fetch (arg) {\n  \
             return exports.fetch.call(this, arg, this.env, this.ctx);\n}\n"
        ));
        assert!(shim.contains("Entrypoint.prototype.helper = exports.helper;\n"));
        assert!(!shim.contains("prototype.__worker_init_state"));
        assert!(!shim.contains("$HANDLERS"));
        assert!(
            shim.ends_with("export const Counter = new Proxy(exports.Counter, classProxyHooks);\n")
        );
    }

    #[test]
    fn the_shim_has_one_place_for_the_handlers() {
        assert_eq!(SHIM.matches("$HANDLERS").count(), 1);
    }

    #[test]
    fn minified_exports_are_found_and_words_inside_identifiers_are_not() {
        let js = "let a=1;export function fetch(r){}reexport function nope(){}";
        assert_eq!(exported_functions(js), ["fetch"]);
    }
}
