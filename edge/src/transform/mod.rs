//! From request facts to a record.

pub mod hit;
