//! One module per subcommand.

pub mod live;
pub mod serve;
