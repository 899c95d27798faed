//! The page report: per bucket, each path's page views, distinct visitors, visitor-session
//! entries, exits and bounces and error statuses, grouped by polars; at the end the buckets'
//! groups are added up into one row per path.

use super::model::{ratio, PageRow};
use super::visits::{Marks, F_PATH};
use super::{pl, sort_top};
use crate::transform::hits::Hits;
use crate::transform::intern::Dict;
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;

/// The counters of a page row, in the order [`Pages::rows`] reads them.
const VALUES: [&str; 7] = [
    "hits",
    "visitors",
    "entries",
    "exits",
    "bounces",
    "errors_4xx",
    "errors_5xx",
];

/// Each bucket's page groups.
#[derive(Default)]
pub struct Pages {
    parts: Vec<DataFrame>,
}

fn u32_col(name: &str, values: Vec<u32>) -> Column {
    UInt32Chunked::from_vec(name.into(), values).into_column()
}

fn bool_col(name: &str, values: &[bool]) -> Column {
    BooleanChunked::from_slice(name.into(), values).into_column()
}

impl Pages {
    /// Groups a bucket's page views `pv` (rows of `hits`, marked by `marks`) by path.
    pub fn add(&mut self, hits: &Hits, pv: &[u32], marks: &Marks) -> Result<()> {
        let n = pv.len();
        let pick =
            |column: &[u32]| -> Vec<u32> { pv.iter().map(|&r| column[r as usize]).collect() };
        let status_in = |lo: u16, hi: u16| -> Vec<bool> {
            pv.iter()
                .map(|&r| (lo..=hi).contains(&hits.status[r as usize]))
                .collect()
        };
        let bounce: Vec<bool> = marks
            .entry
            .iter()
            .zip(&marks.exit)
            .map(|(a, b)| *a && *b)
            .collect();
        let df = pl(
            DataFrame::new(
                n,
                vec![
                    u32_col("path", pick(&hits.path)),
                    bool_col("entry", &marks.entry),
                    bool_col("exit", &marks.exit),
                    bool_col("bounce", &bounce),
                    bool_col("fv_path", &marks.firsts[F_PATH]),
                    bool_col("e4", &status_in(400, 499)),
                    bool_col("e5", &status_in(500, 599)),
                ],
            ),
            "building a bucket's page views",
        )?;
        let pages = pl(
            df.lazy()
                .group_by([col("path")])
                .agg([
                    len().alias("hits"),
                    col("fv_path").sum().alias("visitors"),
                    col("entry").sum().alias("entries"),
                    col("exit").sum().alias("exits"),
                    col("bounce").sum().alias("bounces"),
                    col("e4").sum().alias("errors_4xx"),
                    col("e5").sum().alias("errors_5xx"),
                ])
                .collect(),
            "grouping a bucket's page views",
        )?;
        self.parts.push(pages);
        Ok(())
    }

    /// Every page row, with `users` per path code from the user report and shares of `total`
    /// page views, sorted by hits then path: `(path code, row)`.
    pub fn rows(
        self,
        paths: &Dict,
        users: &HashMap<u32, u64>,
        total: u64,
    ) -> Result<Vec<(u32, PageRow)>> {
        let pages = merge(self.parts, "path", &VALUES)?;
        let mut rows: Vec<(u32, PageRow)> = pages
            .into_par_iter()
            .map(|(code, v)| {
                let row = PageRow {
                    path: paths.name(code).to_string(),
                    hits: v[0],
                    users: users.get(&code).copied().unwrap_or(0),
                    visitors: v[1],
                    share: ratio(v[0], total),
                    entries: v[2],
                    exits: v[3],
                    bounces: v[4],
                    errors_4xx: v[5],
                    errors_5xx: v[6],
                    previous_hits: None,
                };
                (code, row)
            })
            .collect();
        // All of them: the comparison looks up pages outside the current top; the report cuts.
        sort_top(&mut rows, |(_, p)| p.hits, |(_, p)| &p.path, None);
        Ok(rows)
    }
}

/// Adds partial groups up: `key` -> the sums of `values`, as `(key, sums)` rows.
pub fn merge(parts: Vec<DataFrame>, key: &str, values: &[&str]) -> Result<Vec<(u32, Vec<u64>)>> {
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let df = if parts.len() == 1 {
        // One bucket: already one row per key.
        let casts: Vec<Expr> = std::iter::once(col(key))
            .chain(values.iter().map(|v| col(*v).cast(DataType::UInt64)))
            .collect();
        let part = parts.into_iter().next().expect("one part");
        pl(
            part.lazy().select(casts).collect(),
            "reading a bucket's groups",
        )?
    } else {
        let lazy: Vec<LazyFrame> = parts.into_iter().map(DataFrame::lazy).collect();
        let sums: Vec<Expr> = values
            .iter()
            .map(|v| col(*v).cast(DataType::UInt64).sum().alias(*v))
            .collect();
        pl(
            concat(lazy, UnionArgs::default())
                .and_then(|lf| lf.group_by([col(key)]).agg(sums).collect()),
            "adding up the buckets",
        )?
    };
    let keys: Vec<u32> = pl(
        df.column(key).and_then(|c| c.u32().cloned()),
        "reading keys",
    )?
    .into_no_null_iter()
    .collect();
    let mut columns = Vec::new();
    for v in values {
        let c: Vec<u64> = pl(df.column(v).and_then(|c| c.u64().cloned()), "reading sums")?
            .iter()
            .map(|x| x.unwrap_or(0))
            .collect();
        columns.push(c);
    }
    Ok((0..keys.len())
        .map(|i| (keys[i], columns.iter().map(|c| c[i]).collect()))
        .collect())
}
