//! One module per subcommand.

pub mod consume;
pub mod lambda;
