//! Where hits leave the worker: Kinesis, and the Cloudflare Queue that takes what Kinesis
//! could not.

pub mod kinesis;
pub mod queue;
pub mod race;
