//! What comes in: the page-hit stream, read by the workspace's one Kinesis reader
//! (`stream::Reader`) into the live window.

pub mod feed;
pub mod kinesis;

pub use feed::Feed;
