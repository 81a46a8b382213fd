//! Exit codes shared by every command: 0 success, 1 error, 2 bad usage, 3 finished but some
//! files or models failed (each is listed, and recorded in the library), 4 nothing found.

/// Bad usage.
pub const USAGE: u8 = 2;
/// Finished, but some files or models could not be used.
pub const PARTIAL: u8 = 3;
/// Nothing found (a search without hits, `show` of an unknown path).
pub const NOT_FOUND: u8 = 4;
