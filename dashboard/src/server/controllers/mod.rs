//! One file per resource.

pub mod health;
pub mod live;
pub mod report;
pub mod session;
