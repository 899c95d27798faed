//! How a snapshot is shown: the live page ([`page`]), the history page ([`history`]), aligned text ([`table`]), the terminal
//! view ([`tui`]), and the publisher that renders each new snapshot once for every watcher
//! ([`publish`]).

pub mod history;
pub mod page;
pub mod publish;
pub mod table;
pub mod tui;
