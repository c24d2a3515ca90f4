//! The `dropflow` command's library: the local stack behind `dropflow local up|down`,
//! usable in-process (tests host it with extra functions).

pub mod local;
