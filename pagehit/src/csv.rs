//! RFC 4180 CSV encoding and parsing for page-hit rows.
//!
//! A field is quoted when it holds a comma, a double quote, CR or LF, or starts or ends with a
//! space; quotes inside are doubled. Rows end in LF (readers that expect CRLF accept LF too, and
//! the parser here accepts both). The original design wrote JSON fragments split on commas into
//! its "CSV"; every byte of every field round-trips here.

use std::fmt;

/// Appends one record: the fields joined by commas, each escaped, then LF.
pub fn write_record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_field(out, field);
    }
    out.push('\n');
}

/// Appends one field, quoted only when it has to be.
pub fn write_field(out: &mut String, field: &str) {
    let needs_quotes =
        field.contains([',', '"', '\r', '\n']) || field.starts_with(' ') || field.ends_with(' ');
    if !needs_quotes {
        out.push_str(field);
        return;
    }
    out.push('"');
    for ch in field.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

/// Where and why CSV text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based record number.
    pub record: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.reason)
    }
}

impl std::error::Error for CsvError {}

/// Parses CSV text into records of fields. A trailing line ending is optional; an empty input
/// has no records.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    // Whether anything (a field or separator) has started in the current record.
    let mut started = false;
    while let Some(ch) = chars.next() {
        match ch {
            '"' if field.is_empty() => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => {
                            return Err(CsvError {
                                record: records.len() + 1,
                                reason: "unterminated quoted field",
                            })
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') | Some('\r') => {}
                    Some(_) => {
                        return Err(CsvError {
                            record: records.len() + 1,
                            reason: "text after a closing quote",
                        })
                    }
                }
            }
            '"' => {
                return Err(CsvError {
                    record: records.len() + 1,
                    reason: "quote inside an unquoted field",
                })
            }
            ',' => {
                started = true;
                record.push(std::mem::take(&mut field));
            }
            '\r' | '\n' => {
                if ch == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                started = false;
            }
            c => {
                started = true;
                field.push(c);
            }
        }
    }
    if started {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(fields: &[&str]) -> String {
        let mut out = String::new();
        write_record(&mut out, fields.iter().copied());
        out
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(encode(&["a", "b c", ""]), "a,b c,\n");
        assert_eq!(
            encode(&["a,b", "say \"hi\"", "x\r\ny", " lead"]),
            "\"a,b\",\"say \"\"hi\"\"\",\"x\r\ny\",\" lead\"\n"
        );
    }

    #[test]
    fn parses_crlf_and_lf_and_missing_final_newline() {
        let rows = parse("a,b\r\nc,\"d\ne\"\nf,g").unwrap();
        assert_eq!(
            rows,
            vec![vec!["a", "b"], vec!["c", "d\ne"], vec!["f", "g"]]
        );
    }

    #[test]
    fn empty_fields_and_empty_input() {
        assert_eq!(parse("").unwrap(), Vec::<Vec<String>>::new());
        assert_eq!(parse(",\n").unwrap(), vec![vec!["", ""]]);
        assert_eq!(parse("\"\"\n").unwrap(), vec![vec![""]]);
    }

    #[test]
    fn malformed_quotes_are_errors() {
        assert_eq!(
            parse("a,\"b").unwrap_err().reason,
            "unterminated quoted field"
        );
        assert_eq!(parse("a\n\"b\"c").unwrap_err().record, 2);
        assert_eq!(
            parse("a\"b").unwrap_err().reason,
            "quote inside an unquoted field"
        );
    }

    #[test]
    fn unicode_round_trips() {
        let fields = ["café", "日本語,テキスト", "emoji 🚀\"", "\u{2028}"];
        assert_eq!(parse(&encode(&fields)).unwrap(), vec![fields.to_vec()]);
    }
}
