//! No code: this crate exists for the features its dependencies get (see its Cargo.toml).
