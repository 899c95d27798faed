//! Kinesis Data Streams `PutRecords`, SigV4-signed, over `worker::Fetch`.
//!
//! The flow is split by role so all but the transport runs as native unit tests:
//! [`record`] builds the JSON body, [`request_builder`] signs it, [`service`] sends it,
//! [`response`] reads which entries failed, [`sink`] resends only those with backoff.

pub mod batcher;
pub mod config;
pub mod record;
pub mod request_builder;
pub mod response;
pub mod service;
pub mod sink;
