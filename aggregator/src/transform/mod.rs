//! Records -> objects.

pub mod batch;
