//! Reading a Kinesis stream as a polling consumer, once for the whole workspace: shard
//! lineage and reshard order ([`shard`]), the calls and their failure modes ([`api`]), and
//! the driver that paces them ([`reader`]). The aggregator's `consume` (checkpoints beside
//! the data) and the dashboard (a window in memory) are both [`Reader`]s with their own
//! [`Positions`].

pub mod api;
pub mod reader;
pub mod shard;

pub use api::{Fetched, StartAt, StreamInfo};
pub use reader::{persist, Options, Permanent, Position, Positions, Reader, Step};
pub use shard::{sequence_cmp, Shard};
