//! The Wasm `producers` custom section: which toolchain made the module. worker-build adds
//! `sdk: workers-rs <version>` to it (Cloudflare reads it); so does the edge build, byte for
//! byte as worker-build does: the section is rewritten in place, or appended when absent.

use anyhow::{bail, ensure, Context, Result};

/// One `field: name version` entry of the section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Entry<'a> {
    field: &'a str,
    name: &'a str,
    version: &'a str,
}

/// `module` with `sdk: name version` in its producers section (unchanged entries kept in
/// order; an existing `sdk` entry of that name wins).
pub fn add_sdk(module: &[u8], name: &str, version: &str) -> Result<Vec<u8>> {
    ensure!(
        module.len() >= 8 && module[..4] == *b"\0asm" && module[4..8] == [1, 0, 0, 0],
        "not a Wasm module"
    );
    let found = find_section(module)?;
    let mut entries = match &found {
        Some(s) => parse(module, s.content.clone())?,
        None => Vec::new(),
    };
    if !entries.iter().any(|e| e.field == "sdk" && e.name == name) {
        entries.push(Entry {
            field: "sdk",
            name,
            version,
        });
    }
    let section = encode(&entries)?;
    let mut out = Vec::with_capacity(module.len() + section.len());
    match found {
        Some(s) => {
            out.extend_from_slice(&module[..s.whole.start]);
            out.extend_from_slice(&section);
            out.extend_from_slice(&module[s.whole.end..]);
        }
        None => {
            out.extend_from_slice(module);
            out.extend_from_slice(&section);
        }
    }
    Ok(out)
}

/// Where the producers section is: the whole section and its content after the name.
struct Found {
    whole: std::ops::Range<usize>,
    content: std::ops::Range<usize>,
}

fn find_section(module: &[u8]) -> Result<Option<Found>> {
    let mut pos = 8;
    while pos < module.len() {
        let start = pos;
        let id = module[pos];
        pos += 1;
        let len = leb(module, &mut pos)? as usize;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= module.len())
            .context("a section runs past the module's end")?;
        if id == 0 {
            let mut at = pos;
            if name(module, &mut at, end)? == "producers" {
                return Ok(Some(Found {
                    whole: start..end,
                    content: at..end,
                }));
            }
        }
        pos = end;
    }
    Ok(None)
}

fn parse(module: &[u8], content: std::ops::Range<usize>) -> Result<Vec<Entry<'_>>> {
    let mut pos = content.start;
    let mut entries = Vec::new();
    for _ in 0..leb(module, &mut pos)? {
        let field = name(module, &mut pos, content.end)?;
        for _ in 0..leb(module, &mut pos)? {
            let name_ = name(module, &mut pos, content.end)?;
            let version = name(module, &mut pos, content.end)?;
            entries.push(Entry {
                field,
                name: name_,
                version,
            });
        }
    }
    ensure!(
        pos == content.end,
        "the producers section has trailing bytes"
    );
    Ok(entries)
}

/// The section for `entries`, their fields in order of first appearance.
fn encode(entries: &[Entry<'_>]) -> Result<Vec<u8>> {
    let mut fields: Vec<&str> = Vec::new();
    for e in entries {
        if !fields.contains(&e.field) {
            fields.push(e.field);
        }
    }
    let mut payload = Vec::new();
    put_name(&mut payload, "producers")?;
    put_leb(&mut payload, fields.len().try_into()?);
    for field in fields {
        put_name(&mut payload, field)?;
        let of_field: Vec<_> = entries.iter().filter(|e| e.field == field).collect();
        put_leb(&mut payload, of_field.len().try_into()?);
        for e in of_field {
            put_name(&mut payload, e.name)?;
            put_name(&mut payload, e.version)?;
        }
    }
    let mut section = vec![0];
    put_leb(&mut section, payload.len().try_into()?);
    section.extend_from_slice(&payload);
    Ok(section)
}

fn name<'a>(bytes: &'a [u8], pos: &mut usize, limit: usize) -> Result<&'a str> {
    let len = leb(bytes, pos)? as usize;
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= limit)
        .context("a name runs past its section")?;
    let s = std::str::from_utf8(&bytes[*pos..end])?;
    *pos = end;
    Ok(s)
}

fn put_name(out: &mut Vec<u8>, s: &str) -> Result<()> {
    put_leb(out, s.len().try_into()?);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

fn leb(bytes: &[u8], pos: &mut usize) -> Result<u32> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let Some(&b) = bytes.get(*pos) else {
            bail!("a number runs past the module's end")
        };
        *pos += 1;
        value |= u32::from(b & 0x7f)
            .checked_shl(shift)
            .context("a number overflows 32 bits")?;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    bail!("a number is longer than 5 bytes")
}

fn put_leb(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";

    fn custom(name_: &str, body: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        put_name(&mut payload, name_).unwrap();
        payload.extend_from_slice(body);
        let mut s = vec![0];
        put_leb(&mut s, payload.len() as u32);
        s.extend_from_slice(&payload);
        s
    }

    #[test]
    fn the_sdk_joins_an_existing_section_in_place_and_the_rest_is_kept() {
        let rustc = encode(&[
            Entry {
                field: "language",
                name: "Rust",
                version: "",
            },
            Entry {
                field: "processed-by",
                name: "rustc",
                version: "1.94.0",
            },
        ])
        .unwrap();
        let other = custom("name", b"\x01\x02");
        let module = [&HEADER[..], &rustc, &other].concat();

        let out = add_sdk(&module, "workers-rs", "0.8.7").unwrap();
        let found = find_section(&out).unwrap().unwrap();
        assert_eq!(found.whole.start, 8, "rewritten where it was");
        assert_eq!(
            parse(&out, found.content).unwrap(),
            [
                Entry {
                    field: "language",
                    name: "Rust",
                    version: ""
                },
                Entry {
                    field: "processed-by",
                    name: "rustc",
                    version: "1.94.0"
                },
                Entry {
                    field: "sdk",
                    name: "workers-rs",
                    version: "0.8.7"
                },
            ]
        );
        assert!(out.ends_with(&other));
        // Twice is once.
        assert_eq!(add_sdk(&out, "workers-rs", "0.8.7").unwrap(), out);
    }

    #[test]
    fn a_module_without_the_section_gets_one_at_its_end() {
        let module = [&HEADER[..], &custom("name", b"")].concat();
        let out = add_sdk(&module, "workers-rs", "0.8.7").unwrap();
        assert!(out.starts_with(&module));
        let found = find_section(&out).unwrap().unwrap();
        assert_eq!(found.whole, module.len()..out.len());
    }

    #[test]
    fn damaged_modules_are_errors() {
        assert!(add_sdk(b"\0asm", "w", "1").is_err());
        let mut cut = [&HEADER[..], &custom("producers", b"\x01")].concat();
        assert!(
            add_sdk(&cut, "w", "1").is_err(),
            "field count without fields"
        );
        cut.truncate(cut.len() - 3);
        assert!(add_sdk(&cut, "w", "1").is_err(), "section past the end");
    }

    #[test]
    fn leb128_round_trips() {
        for v in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut b = Vec::new();
            put_leb(&mut b, v);
            assert_eq!(leb(&b, &mut 0).unwrap(), v);
        }
    }
}
