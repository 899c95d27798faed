//! Where hits leave the worker.

pub mod kinesis;
pub mod race;
