//! From request facts to a record.

pub mod day;
pub mod hit;
pub mod salt;
