//! One concern per file.

pub mod auth;
pub mod security_headers;
