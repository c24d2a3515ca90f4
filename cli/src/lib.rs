//! The `dropflow` command's library: the client behind `deploy`, `run`, `runs`, `status`,
//! `stop`, `flows` and `undeploy` (packing, finding the stack, the trigger API, deploy
//! reports), and the local stack behind `dropflow local up|down`, usable in-process
//! (tests host it with extra functions).

pub mod client;
pub mod local;
pub mod pack;
pub mod target;
pub mod username;
