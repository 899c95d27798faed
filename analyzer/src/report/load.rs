//! Reading a day's hit files into one in-memory frame of the columns the reports need.
//!
//! One scan of the files: rows are parsed, checked, kept when malformed (to be counted) or when
//! their `ts` falls in the local day, and everything else is dropped while reading. Then, in
//! memory: malformed rows are counted and removed, duplicate `event_id`s dropped, bots counted
//! and (unless included) removed.
//!
//! Memory matters at 10M hits a day: only the needed columns are read, `event_id` and `visitor`
//! become u64 hashes (8 bytes instead of 36- and 16-byte strings), paths, referrers and hosts
//! become dictionary codes, timestamps i64 milliseconds, and files are read one at a time.

use super::pl;
use crate::day::Day;
use pagehit::COLUMNS;
use polars::prelude::*;

/// The record's timestamp format for polars' fast fixed-format parser (`%3f`: exactly 3 digits).
pub const TS_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%3fZ";

// Fixed seeds so the same id always hashes to the same key (the keys never leave the process).
const SEEDS: (u64, u64, u64, u64) = (
    0x5157_1e5a_7c1d_a001,
    0x2b7e_1516_28ae_d2a6,
    0x9e37_79b9_7f4a_7c15,
    0x243f_6a88_85a3_08d3,
);

/// A dictionary-encoded string type: a day has few distinct paths, referrers and hosts, so each
/// row keeps a 4-byte code, grouping compares codes, and the referrer's host is worked out once
/// per distinct value (a regex over every row cost as much as the rest of the report).
pub(crate) fn categorical() -> DataType {
    DataType::from_categories(Categories::global())
}

/// The hits of one day, ready for the reports, with the counts of what was left out.
pub struct Loaded {
    /// Columns: `eid` (u64 hash of event_id), `ts` (i64 ms), `path` (categorical), `status`
    /// (i32), `user` (null when anonymous), `vis` (u64 hash of visitor), `bot`, `referrer` and
    /// `host` (categorical; referrer null when empty), `country` (categorical, `""` when
    /// unknown).
    pub hits: DataFrame,
    /// Rows that could not be used.
    pub malformed: u64,
    /// Rows of the day dropped as repeats of an `event_id`.
    pub duplicates: u64,
    /// Bot hits of the day after dedup.
    pub bots: u64,
}

/// The CSV schema: every column as text, so that a bad value makes a malformed row instead of
/// failing the whole scan.
fn text_schema() -> Schema {
    COLUMNS
        .iter()
        .map(|c| Field::new((*c).into(), DataType::String))
        .collect()
}

/// Whether a row holds everything the reports use, in a usable form.
fn row_is_usable() -> Expr {
    let status = col("status_n");
    col("event_id")
        .is_not_null()
        .and(col("ts_ms").is_not_null())
        .and(col("path").is_not_null())
        .and(status.clone().gt_eq(lit(100)).and(status.lt_eq(lit(599))))
        .and(col("visitor").is_not_null())
        .and(col("bot").eq(lit("true")).or(col("bot").eq(lit("false"))))
        .fill_null(lit(false))
}

/// The lazy scan of `files` down to the day's rows (plus malformed ones, flagged `ok = false`).
pub fn scan_day(files: &[String], day: &Day) -> PolarsResult<LazyFrame> {
    let sources = files.iter().map(|f| PlRefPath::new(f.as_str())).collect();
    let scan = LazyCsvReader::new_paths(sources)
        .with_glob(false)
        .with_has_header(true)
        .with_schema(Some(Arc::new(text_schema())))
        // A row with extra fields is kept (and checked) rather than failing the file.
        .with_truncate_ragged_lines(true)
        .with_raise_if_empty(false)
        .finish()?;
    let ts = col("ts")
        .str()
        .to_datetime(
            Some(TimeUnit::Milliseconds),
            Some(TimeZone::UTC),
            StrptimeOptions {
                format: Some(TS_FORMAT.into()),
                strict: false,
                exact: true,
                cache: false,
            },
            lit("raise"),
        )
        .cast(DataType::Int64);
    let in_day = col("ts_ms")
        .gt_eq(lit(day.start_ms))
        .and(col("ts_ms").lt(lit(day.end_ms)))
        .fill_null(lit(false));
    let (k0, k1, k2, k3) = SEEDS;
    Ok(scan
        .with_columns([
            ts.alias("ts_ms"),
            col("status").cast(DataType::Int32).alias("status_n"),
        ])
        .with_columns([row_is_usable().alias("ok")])
        .filter(col("ok").not().or(in_day))
        .select([
            col("ok"),
            col("event_id").hash(k0, k1, k2, k3).alias("eid"),
            col("ts_ms").alias("ts"),
            col("path").cast(categorical()),
            col("status_n").alias("status"),
            col("user"),
            col("visitor").hash(k0, k1, k2, k3).alias("vis"),
            col("bot").eq(lit("true")).alias("bot"),
            col("referrer").cast(categorical()),
            col("host").cast(categorical()),
            col("country").fill_null(lit("")).cast(categorical()),
        ]))
}

/// Reads `files` and returns the day's usable, deduplicated hits (bots only if `include_bots`).
/// `on_file(i, n)` is called before file `i` of `n` is read (for progress).
///
/// Files are read one at a time into the compact day frame: polars maps a whole CSV file into
/// memory while parsing it, so reading a 10M-hit day at once would hold all of its gigabytes.
///
/// Blocking (polars `collect`): call it from a blocking thread inside tokio.
pub fn load(
    files: &[String],
    day: &Day,
    include_bots: bool,
    on_file: &dyn Fn(usize, usize),
) -> anyhow::Result<Loaded> {
    let mut read: Option<DataFrame> = None;
    for (i, file) in files.iter().enumerate() {
        on_file(i, files.len());
        let part = pl(
            scan_day(std::slice::from_ref(file), day).and_then(|lf| lf.collect()),
            &format!("reading {file}"),
        )?;
        match &mut read {
            // Appends the part's chunks; no copy.
            Some(all) => {
                all.vstack_mut_owned(part)?;
            }
            None => read = Some(part),
        }
    }
    let read = match read {
        Some(read) => read,
        // No files: the same (empty) frame a scan would give.
        None => pl(
            scan_day(&[], day)?.limit(0).collect(),
            "preparing an empty day",
        )?,
    };
    let ok = read.column("ok")?.bool()?.sum().unwrap_or(0) as u64;
    let malformed = read.height() as u64 - ok;
    let unique = pl(
        read.lazy()
            .filter(col("ok"))
            .drop(cols(["ok"]))
            .unique(Some(cols(["eid"])), UniqueKeepStrategy::Any)
            .collect(),
        "dropping duplicate event ids",
    )?;
    let duplicates = ok - unique.height() as u64;
    let bots = u64::from(unique.column("bot")?.bool()?.sum().unwrap_or(0));
    let hits = if include_bots {
        unique
    } else {
        unique.lazy().filter(col("bot").not()).collect()?
    };
    Ok(Loaded {
        hits,
        malformed,
        duplicates,
        bots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagehit::{csv_header, PageHit};

    fn hit(n: u32, ts: &str) -> PageHit {
        PageHit {
            event_id: format!("01936b2e-1f00-7abc-8def-{n:012x}"),
            ts: ts.into(),
            host: "shop.example".into(),
            path: "/p".into(),
            action: "p".into(),
            method: "GET".into(),
            status: 200,
            user: String::new(),
            visitor: "0123456789abcdef".into(),
            referrer: String::new(),
            country: "DE".into(),
            user_agent: "ua".into(),
            bot: false,
            origin_ms: 1,
        }
    }

    fn load_text(name: &str, body: &str) -> Loaded {
        let dir = std::env::temp_dir().join(format!("analyzer-load-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("x.csv");
        std::fs::write(&file, format!("{}{body}", csv_header())).unwrap();
        let day = Day::new(
            pagehit::time::parse_date("2026-11-25").unwrap(),
            chrono_tz::Tz::UTC,
        );
        let loaded = load(&[file.display().to_string()], &day, false, &|_, _| {}).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        loaded
    }

    fn row(h: &PageHit) -> String {
        let mut s = String::new();
        h.write_csv_row(&mut s);
        s
    }

    #[test]
    fn only_the_exact_timestamp_format_is_usable() {
        let good = row(&hit(1, "2026-11-25T10:00:00.123Z"));
        let mut body = good.clone();
        for (n, ts) in [
            (2, "2026-11-25T10:00:00Z"),
            (3, "2026-11-25T10:00:00.1234Z"),
            (4, "2026-11-25T10:00:00.123+00:00"),
            (5, "2026-11-25 10:00:00.123Z"),
            (6, "2026-11-25T25:00:00.123Z"),
            (7, "yesterday"),
        ] {
            body.push_str(&row(&hit(n, ts)));
        }
        let loaded = load_text("ts", &body);
        assert_eq!(loaded.hits.height(), 1);
        assert_eq!(loaded.malformed, 6);
        let ts = loaded.hits.column("ts").unwrap().i64().unwrap().get(0);
        assert_eq!(ts, pagehit::time::parse_ts("2026-11-25T10:00:00.123Z"));
    }

    #[test]
    fn bad_fields_and_ragged_rows_are_malformed() {
        let good = row(&hit(1, "2026-11-25T10:00:00.000Z"));
        let mut body = good.clone();
        body.push_str(&good.replacen(",false,", ",yes,", 1)); // bot
        body.push_str(&good.replacen(",200,", ",99,", 1)); // status out of range
        body.push_str(&good.replacen(",200,", ",2x0,", 1)); // status not a number
        body.push_str(&good.replacen(",/p,", ",,", 1)); // empty path
        body.push_str(&good.replacen(",0123456789abcdef,", ",,", 1)); // empty visitor
        body.push_str("only,three,fields\n"); // short row
                                              // An unquoted comma in the user agent shifts `bot` and `origin_ms`: a long row.
        body.push_str(&good.replacen(",ua,", ",u,a,", 1));
        let loaded = load_text("fields", &body);
        assert_eq!(loaded.malformed, 7);
        assert_eq!(loaded.hits.height(), 1);
    }

    #[test]
    fn no_files_is_an_empty_day() {
        let day = Day::new(0, chrono_tz::Tz::UTC);
        let loaded = load(&[], &day, false, &|_, _| {}).unwrap();
        assert_eq!(loaded.hits.height(), 0);
        assert_eq!(loaded.malformed, 0);
    }

    #[test]
    fn dedup_and_bots_are_counted() {
        let mut body = String::new();
        let mut bot = hit(3, "2026-11-25T11:00:00.000Z");
        bot.bot = true;
        for h in [
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(1, "2026-11-25T10:00:00.000Z"),
            hit(2, "2026-11-25T10:00:00.000Z"),
            bot.clone(),
            bot,
            // Another day: neither counted nor a duplicate.
            hit(4, "2026-11-26T00:00:00.000Z"),
            hit(4, "2026-11-26T00:00:00.000Z"),
        ] {
            body.push_str(&row(&h));
        }
        let loaded = load_text("dedup", &body);
        assert_eq!(loaded.hits.height(), 2);
        assert_eq!(loaded.duplicates, 3);
        assert_eq!(loaded.bots, 1);
        assert_eq!(loaded.malformed, 0);
    }
}
