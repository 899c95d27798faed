//! Project automation shared by `cargo xtask` and the integration tests in `xtask/tests/`:
//! installing the tools, building the edge worker, and starting the local stack (moto,
//! `wrangler dev`) on 127.0.0.1 with free ports, stopped by PID.

pub mod aggregator;
pub mod cargo_tree;
pub mod chromium;
pub mod dashboard;
pub mod debian;
pub mod deny;
pub mod deploy_local;
pub mod edge_build;
pub mod faults;
pub mod history;
pub mod kinesis;
pub mod lambda_package;
pub mod licenses;
pub mod moto;
pub mod paths;
pub mod process;
pub mod setup;
pub mod spark;
pub mod test_pool;
pub mod traffic;
pub mod trickle;
pub mod wrangler;
