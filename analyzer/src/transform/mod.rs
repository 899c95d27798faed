//! Rows into what the reports are computed from: compact hit columns and shared dictionaries.

pub mod dicts;
pub mod hits;
pub mod ids;
pub mod intern;
