//! What the analyzer writes besides its outputs: compacted days.

pub mod compacted;
