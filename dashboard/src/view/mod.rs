//! How a snapshot is shown: the live page ([`page`]), aligned text ([`table`]), the terminal
//! view ([`tui`]), and the publisher that renders each new snapshot once for every watcher
//! ([`publish`]).

pub mod page;
pub mod publish;
pub mod table;
pub mod tui;
