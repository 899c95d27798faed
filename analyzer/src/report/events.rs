//! Custom events (every `event` other than `pageview`): per bucket, each event's hits and
//! distinct visitors; at the end the list with each event's conversion rate.

use super::model::{ratio, EventRow};
use super::sessions::{first_of_value, runs, Seen};
use super::{pl, sort_top};
use crate::transform::hits::Hits;
use crate::transform::intern::{Dict, NONE};
use anyhow::Result;
use polars::prelude::*;

/// Each bucket's event groups.
#[derive(Default)]
pub struct Events {
    parts: Vec<DataFrame>,
    /// Custom events counted.
    pub total: u64,
}

impl Events {
    /// Groups a bucket's custom events `ev` (rows of `hits` in visitor order) by event.
    pub fn add(&mut self, hits: &Hits, ev: &[u32]) -> Result<()> {
        self.total += ev.len() as u64;
        if ev.is_empty() {
            return Ok(());
        }
        let mut first = vec![false; ev.len()];
        let mut seen = Seen::default();
        let bounds = runs(ev, |r| hits.vis[r as usize]);
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1]);
            first_of_value(
                |i| hits.event[ev[a + i] as usize],
                b - a,
                |i| first[a + i] = true,
                &mut seen,
            );
        }
        let df = pl(
            DataFrame::new(
                ev.len(),
                vec![
                    UInt32Chunked::from_vec(
                        "event".into(),
                        ev.iter().map(|&r| hits.event[r as usize]).collect(),
                    )
                    .into_column(),
                    BooleanChunked::from_slice("fv_event".into(), &first).into_column(),
                ],
            ),
            "building a bucket's events",
        )?;
        let grouped = df
            .lazy()
            .filter(col("event").neq(lit(NONE)))
            .group_by([col("event")])
            .agg([len().alias("hits"), col("fv_event").sum().alias("visitors")])
            .collect();
        self.parts.push(pl(grouped, "grouping a bucket's events")?);
        Ok(())
    }

    /// The list, sorted by hits then name and cut to `top`; conversion rates of `visitors`.
    pub fn rows(self, names: &Dict, visitors: u64, top: Option<usize>) -> Result<Vec<EventRow>> {
        let mut events: Vec<(String, u64, u64)> =
            merge(self.parts, "event", &["hits", "visitors"])?
                .into_iter()
                .map(|(code, v)| (names.name(code).to_string(), v[0], v[1]))
                .collect();
        sort_top(&mut events, |r| r.1, |r| &r.0, top);
        Ok(events
            .into_iter()
            .map(|(event, hits, v)| EventRow {
                event,
                hits,
                visitors: v,
                conversion_rate: ratio(v, visitors),
            })
            .collect())
    }
}

/// Adds partial groups up: `key` -> the sums of `values`, as `(key, sums)` rows.
fn merge(parts: Vec<DataFrame>, key: &str, values: &[&str]) -> Result<Vec<(u32, Vec<u64>)>> {
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
