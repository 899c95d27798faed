//! The record's CSV files, written and read here and nowhere else.
//!
//! # Writing
//! RFC 4180: a field is quoted when it holds a comma, a double quote, CR or LF, or starts or
//! ends with a space; quotes inside are doubled. Rows end in LF. The first line of a file is
//! the header: the names of [`crate::COLUMNS`].
//!
//! # Reading
//! [`FileReader`] reads a file's bytes as they arrive (no I/O here: the caller feeds blocks)
//! and hands over each valid row as a [`Row`] borrowing from the block.
//! - **One row is one line.** A valid hit holds no control characters
//!   ([`crate::InvalidHit::Control`]), so no valid row spans lines, and a broken row costs one
//!   line: the reader starts again at the next line end, whatever went wrong before it.
//! - **Columns are found by the header's names**, never by position: files of every version of
//!   the record read the same ([`Header`]). A column the file lacks takes its default
//!   ([`crate::default_value`]); a name the reader does not know is ignored. A first line
//!   without the version-1 names is not a hit file's header ([`HeaderError`]): the file is
//!   refused whole, never misread.
//! - **A bad row is counted, not fatal.** Too long (over [`MAX_ROW`] bytes), an unterminated
//!   quote, invalid UTF-8, the wrong number of fields, or any rule of
//!   [`crate::HitRef::validate`] broken: the row is counted in [`FileReader::malformed`], and
//!   the first reason kept for messages. Memory stays bounded by the caller's block and
//!   [`MAX_ROW`], whatever the file holds.
//!
//! Fields are split by [csv-core](https://docs.rs/csv-core) (quoted fields, doubled quotes);
//! a line without any quote is split in place, without copying.

use crate::validate::{Field, HitRef};
use crate::{InvalidHit, COLUMNS, V1_COLUMNS};
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
    // Bytes, not a char pattern (which decoded every character): the marks are ASCII, which
    // no byte of a multi-byte character can be. Every cell of every CSV file passes here, most
    // of them a few digits: a vectorised fold without early exit cost more instructions there.
    let needs_quotes = field
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || field.starts_with(' ')
        || field.ends_with(' ');
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

/// The longest line read as a row; a longer one is malformed. A valid row is at most ~15 KiB
/// (every field at its cap, every byte a doubled quote).
pub const MAX_ROW: usize = 64 * 1024;

/// Most fields a row may have (a newer writer's appended columns included).
const MAX_FIELDS: usize = 256;

/// Why a file's first line is not a page-hit header. The whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The header lacks columns of the record's first version (a file without a header, or a
    /// file of something else).
    Missing(Vec<&'static str>),
    /// A column name appears twice.
    Duplicate(String),
    /// The header line is not UTF-8 or is over [`MAX_ROW`] bytes.
    Unreadable,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Missing(names) => write!(
                f,
                "its first line is not a page-hit header: no {} column{} (a file without a header, or not a hit file)",
                names.join(", "),
                if names.len() == 1 { "" } else { "s" }
            ),
            // `{:?}` escapes control characters: a name cannot forge a log line.
            HeaderError::Duplicate(name) => write!(f, "its header names column {name:?} twice"),
            HeaderError::Unreadable => {
                write!(f, "its first line is not UTF-8 text of at most {MAX_ROW} bytes")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// Where each of the record's columns is in a file's rows, from the file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// For each of [`COLUMNS`], its field index in a row, or `None` (the column's default).
    positions: [Option<u16>; COLUMNS.len()],
    /// Fields in each row (the header's names, known or not).
    fields: usize,
}

impl Header {
    /// The header this crate writes ([`crate::csv_header`]).
    pub fn current() -> Header {
        let mut positions = [None; COLUMNS.len()];
        for (i, p) in positions.iter_mut().enumerate() {
            *p = Some(i as u16);
        }
        Header {
            positions,
            fields: COLUMNS.len(),
        }
    }

    /// Reads a header line (without its line end).
    pub fn parse(line: &[u8]) -> Result<Header, HeaderError> {
        let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        let mut split = Splitter::new();
        let (text, ranges) = split.split(line).map_err(|_| HeaderError::Unreadable)?;
        let names: Vec<&str> = ranges
            .iter()
            .map(|&(a, b)| text.get(a..b).unwrap_or(""))
            .collect();
        if names.len() > MAX_FIELDS {
            return Err(HeaderError::Unreadable);
        }
        let mut positions = [None; COLUMNS.len()];
        for (i, name) in names.iter().enumerate() {
            let Some(c) = COLUMNS.iter().position(|c| c == name) else {
                continue; // a column of a newer version of the record
            };
            if positions[c].is_some() {
                return Err(HeaderError::Duplicate(name.to_string()));
            }
            positions[c] = Some(i as u16);
        }
        let missing: Vec<&'static str> = COLUMNS[..V1_COLUMNS]
            .iter()
            .zip(&positions)
            .filter(|(_, p)| p.is_none())
            .map(|(c, _)| *c)
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing(missing));
        }
        Ok(Header {
            positions,
            fields: names.len(),
        })
    }

    /// Whether the file has `column` (else its rows take the column's default).
    pub fn has(&self, column: Field) -> bool {
        self.positions[column as usize].is_some()
    }
}

/// Why a line is not a valid hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The line is longer than [`MAX_ROW`] bytes.
    TooLong,
    /// A quoted field is not closed before the line ends.
    UnterminatedQuote,
    /// The line is not UTF-8.
    NotUtf8,
    /// The row has another number of fields than its header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A number or boolean field does not parse.
    NotAValue {
        /// The field.
        field: Field,
        /// What it should be.
        expected: &'static str,
    },
    /// The fields break a rule of a valid hit.
    Invalid(InvalidHit),
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::TooLong => write!(f, "the line is over {MAX_ROW} bytes"),
            RowError::UnterminatedQuote => write!(f, "a quoted field is not closed"),
            RowError::NotUtf8 => write!(f, "the line is not UTF-8"),
            RowError::FieldCount { expected, found } => {
                write!(f, "{found} fields where the header has {expected}")
            }
            RowError::NotAValue { field, expected } => {
                write!(f, "{} is not {expected}", field.name())
            }
            RowError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RowError {}

impl From<InvalidHit> for RowError {
    fn from(e: InvalidHit) -> Self {
        RowError::Invalid(e)
    }
}

/// One valid row: the hit's fields, borrowed, and its `ts` in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// The hit.
    pub hit: HitRef<'a>,
    /// `ts` as milliseconds since the Unix epoch.
    pub ts_ms: i64,
}

/// Splits one line into fields (csv-core for lines with quotes, in place for the rest).
struct Splitter {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Where each field of the last line is in the text [`Splitter::split`] returned.
    ranges: Vec<(usize, usize)>,
}

impl Splitter {
    fn new() -> Splitter {
        Splitter {
            // Only LF ends a record: a CR inside a row is a byte of a field (and then makes the
            // row invalid, as every control character does).
            core: csv_core::ReaderBuilder::new()
                .terminator(csv_core::Terminator::Any(b'\n'))
                .build(),
            out: vec![0; MAX_ROW],
            ends: vec![0; MAX_FIELDS],
            ranges: Vec::with_capacity(32),
        }
    }

    /// Splits `line` (no line end): returns the text the fields are in and where each field
    /// is in it.
    #[allow(clippy::type_complexity)]
    fn split<'s>(
        &'s mut self,
        line: &'s [u8],
    ) -> Result<(&'s str, &'s [(usize, usize)]), RowError> {
        if line.len() > MAX_ROW {
            return Err(RowError::TooLong);
        }
        let text = std::str::from_utf8(line).map_err(|_| RowError::NotUtf8)?;
        self.ranges.clear();
        let quotes = memchr::memchr_iter(b'"', line).count();
        if quotes == 0 {
            let mut start = 0;
            for comma in memchr::memchr_iter(b',', line) {
                self.ranges.push((start, comma));
                start = comma + 1;
            }
            self.ranges.push((start, line.len()));
            return Ok((text, &self.ranges));
        }
        if quotes % 2 == 1 {
            return Err(RowError::UnterminatedQuote);
        }
        if split_quoted_without_escapes(line, &mut self.ranges) {
            return Ok((text, &self.ranges));
        }
        self.ranges.clear();
        let too_many = RowError::FieldCount {
            expected: 0,
            found: MAX_FIELDS + 1,
        };
        self.core.reset();
        let (res, nin, nout, nend) = self.core.read_record(line, &mut self.out, &mut self.ends);
        // The output cannot fill (unquoting only shrinks); the ends can, past MAX_FIELDS.
        if res != csv_core::ReadRecordResult::InputEmpty || nin != line.len() {
            return Err(too_many);
        }
        let (res, _, more_out, more_end) =
            self.core
                .read_record(&[], &mut self.out[nout..], &mut self.ends[nend..]);
        if res != csv_core::ReadRecordResult::Record {
            return Err(too_many);
        }
        let (nout, nend) = (nout + more_out, nend + more_end);
        let mut start = 0;
        for &end in &self.ends[..nend] {
            self.ranges.push((start, end));
            start = end;
        }
        let this: &'s Splitter = self;
        // Quotes are ASCII: removing them from UTF-8 leaves UTF-8, split on char boundaries.
        let out = std::str::from_utf8(&this.out[..nout]).map_err(|_| RowError::NotUtf8)?;
        Ok((out, &this.ranges))
    }
}

/// Splits a line whose quoted fields hold no doubled quote (a user agent with a comma is the
/// common case) in place, as csv-core would: each quoted field is the text between its quotes.
/// Returns false, leaving `ranges` to be cleared, for anything else (a doubled quote, text
/// after a closing quote), which csv-core then splits.
fn split_quoted_without_escapes(line: &[u8], ranges: &mut Vec<(usize, usize)>) -> bool {
    let mut pos = 0;
    loop {
        if line.get(pos) == Some(&b'"') {
            let Some(close) = memchr::memchr(b'"', &line[pos + 1..]).map(|i| pos + 1 + i) else {
                return false;
            };
            ranges.push((pos + 1, close));
            match line.get(close + 1) {
                None => return true,
                Some(b',') => pos = close + 2,
                Some(_) => return false,
            }
        } else {
            let end = memchr::memchr2(b',', b'"', &line[pos..]).map_or(line.len(), |i| pos + i);
            if line.get(end) == Some(&b'"') {
                return false; // a quote inside an unquoted field
            }
            ranges.push((pos, end));
            if end == line.len() {
                return true;
            }
            pos = end + 1;
        }
        if pos == line.len() {
            // A trailing comma: one last, empty field.
            ranges.push((pos, pos));
            return true;
        }
    }
}

/// Reads rows of a file whose header is known.
pub struct RowReader {
    header: Header,
    split: Splitter,
}

impl RowReader {
    /// A reader of rows laid out as `header` says.
    pub fn new(header: Header) -> RowReader {
        RowReader {
            header,
            split: Splitter::new(),
        }
    }

    /// The header rows are read by.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Reads one line (without its line end) as a valid hit.
    pub fn read<'a>(&'a mut self, line: &'a [u8]) -> Result<Row<'a>, RowError> {
        let (text, ranges) = self.split.split(line)?;
        if ranges.len() != self.header.fields {
            return Err(RowError::FieldCount {
                expected: self.header.fields,
                found: ranges.len(),
            });
        }
        let pos = &self.header.positions;
        let get = |f: Field| -> &'a str {
            match pos[f as usize] {
                Some(i) => {
                    let (a, b) = ranges[i as usize];
                    text.get(a..b).unwrap_or("")
                }
                None => crate::default_value(f.name()),
            }
        };
        let number = |f: Field| -> Result<u32, RowError> {
            let s = get(f);
            if s.is_empty() || s.len() > 10 || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(RowError::NotAValue {
                    field: f,
                    expected: "a whole number",
                });
            }
            s.parse().map_err(|_| RowError::NotAValue {
                field: f,
                expected: "a whole number",
            })
        };
        let status = u16::try_from(number(Field::Status)?).map_err(|_| RowError::NotAValue {
            field: Field::Status,
            expected: "an HTTP status",
        })?;
        let bot = match get(Field::Bot) {
            "true" => true,
            "false" => false,
            _ => {
                return Err(RowError::NotAValue {
                    field: Field::Bot,
                    expected: "true or false",
                })
            }
        };
        let hit = HitRef {
            event_id: get(Field::EventId),
            ts: get(Field::Ts),
            host: get(Field::Host),
            path: get(Field::Path),
            action: get(Field::Action),
            method: get(Field::Method),
            status,
            user: get(Field::User),
            visitor: get(Field::Visitor),
            referrer: get(Field::Referrer),
            country: get(Field::Country),
            user_agent: get(Field::UserAgent),
            bot,
            origin_ms: number(Field::OriginMs)?,
            event: get(Field::Event),
            utm_source: get(Field::UtmSource),
            utm_medium: get(Field::UtmMedium),
            utm_campaign: get(Field::UtmCampaign),
            utm_term: get(Field::UtmTerm),
            utm_content: get(Field::UtmContent),
        };
        let ts_ms = hit.validate()?;
        Ok(Row { hit, ts_ms })
    }
}

/// Where a [`FileReader`] is in its file.
enum State {
    /// Before the header line.
    Header,
    /// Reading rows.
    Rows(RowReader),
    /// Inside a line over [`MAX_ROW`] bytes: skipping to its end.
    Skipping(RowReader),
    /// The header was refused: nothing more is read.
    Refused,
}

/// Reads one hit file, block by block: the header, then every line as a row.
pub struct FileReader {
    state: State,
    /// Valid rows handed over.
    pub rows: u64,
    /// Lines that are not valid rows (see the module docs).
    pub malformed: u64,
    /// The first malformed line: its number (1-based, the header is line 1) and why.
    pub first_malformed: Option<(u64, RowError)>,
    line: u64,
}

impl Default for FileReader {
    fn default() -> Self {
        FileReader::new()
    }
}

impl FileReader {
    /// A reader at the start of a file.
    pub fn new() -> FileReader {
        FileReader {
            state: State::Header,
            rows: 0,
            malformed: 0,
            first_malformed: None,
            line: 0,
        }
    }

    /// The file's header, once read.
    pub fn header(&self) -> Option<&Header> {
        match &self.state {
            State::Rows(r) | State::Skipping(r) => Some(r.header()),
            _ => None,
        }
    }

    fn bad(&mut self, why: RowError) {
        self.malformed += 1;
        if self.first_malformed.is_none() {
            self.first_malformed = Some((self.line, why));
        }
    }

    /// Reads the complete lines at the start of `buf` (at `eof`, the last line too, with or
    /// without its line end) and returns how many bytes they took; the caller keeps the rest
    /// and feeds it again, followed by more bytes. Calls `on_row` for each valid row.
    ///
    /// Bounded: when `buf` holds [`MAX_ROW`] bytes or more without a line end, that line is
    /// counted malformed and skipped as it arrives, so a caller whose buffer holds
    /// `MAX_ROW` bytes plus a block never needs to grow it.
    ///
    /// Errors only when the header is refused: the file is then not a hit file, and nothing
    /// of it is read.
    pub fn feed(
        &mut self,
        buf: &[u8],
        eof: bool,
        mut on_row: impl FnMut(Row<'_>),
    ) -> Result<usize, HeaderError> {
        let mut pos = 0;
        while pos < buf.len() {
            let rest = &buf[pos..];
            let (line, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], pos + i + 1),
                None if eof => (rest, buf.len()),
                None => {
                    if matches!(self.state, State::Skipping(_) | State::Refused) {
                        // Still inside a line too long to be a row: drop what arrived of it.
                        return Ok(buf.len());
                    }
                    if rest.len() >= MAX_ROW {
                        // A line too long to be a row: count it once, skip it as it comes.
                        if let State::Rows(r) = std::mem::replace(&mut self.state, State::Refused) {
                            self.line += 1;
                            self.bad(RowError::TooLong);
                            self.state = State::Skipping(r);
                        } else if matches!(self.state, State::Header) {
                            self.state = State::Refused;
                            return Err(HeaderError::Unreadable);
                        }
                        return Ok(buf.len());
                    }
                    break;
                }
            };
            pos = next;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match &mut self.state {
                State::Skipping(_) => {
                    let State::Skipping(r) = std::mem::replace(&mut self.state, State::Refused)
                    else {
                        unreachable!()
                    };
                    self.state = State::Rows(r);
                }
                State::Refused => return Ok(buf.len()),
                State::Header => {
                    self.line += 1;
                    if line.len() > MAX_ROW {
                        self.state = State::Refused;
                        return Err(HeaderError::Unreadable);
                    }
                    match Header::parse(line) {
                        Ok(h) => self.state = State::Rows(RowReader::new(h)),
                        Err(e) => {
                            self.state = State::Refused;
                            return Err(e);
                        }
                    }
                }
                State::Rows(reader) => {
                    self.line += 1;
                    if line.is_empty() {
                        continue; // a blank line is no row
                    }
                    match reader.read(line) {
                        Ok(row) => {
                            self.rows += 1;
                            on_row(row);
                        }
                        Err(why) => self.bad(why),
                    }
                }
            }
        }
        Ok(pos)
    }
}

/// A whole file read at once ([`read_all`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadAll {
    /// The valid rows.
    pub hits: Vec<crate::PageHit>,
    /// Lines that are not valid rows.
    pub malformed: u64,
}

/// Reads a whole file held in memory (a small object, a test's output); a [`FileReader`] reads
/// large files block by block.
pub fn read_all(bytes: &[u8]) -> Result<ReadAll, HeaderError> {
    let mut reader = FileReader::new();
    let mut hits = Vec::new();
    reader.feed(bytes, true, |r| hits.push(r.hit.to_owned_hit()))?;
    Ok(ReadAll {
        hits,
        malformed: reader.malformed,
    })
}

#[cfg(test)]
mod tests;
