//! The fallback for hits Kinesis did not take: a Cloudflare Queue (binding `HITS_FALLBACK`).
//!
//! The worker that could not land a hit after its tries puts it on the queue ([`producer`]);
//! the same worker's queue consumer (`source::queue`) puts it into Kinesis later with the same
//! signed `PutRecords` code, and acknowledges a message only once all its records landed.
//! [`message`] is the wire format and the rules around it, pure.

pub mod message;
pub mod producer;
