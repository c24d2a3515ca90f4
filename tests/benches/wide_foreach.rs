//! A wide foreach on the local stack, with real Metaflow tasks: `ForeachFlow` deployed by
//! upload and started with `width` N, run to its end (N `square` tasks, each its own Batch
//! job and step Lambda phases, joined by `collect`), then read back with Metaflow's Client:
//! N tasks and the N squares at `end`, or the bench fails. Also prints the number of
//! events in the parent execution's history (the foreach is a Distributed Map by default:
//! it does not grow with the width).
//!
//! `cargo bench -p dropflow-tests --bench wide_foreach -- [WIDTH] [MAX_JOBS]` (default
//! 1000 and 4; needs `bash tests/run.sh --setup-only` once for the venv). Prints the wall
//! time of the execution and per task. `tests/run.sh` runs the 1,000-wide case as the
//! `wide_foreach` test; 10,000 wide takes hours on 2 cores, so it is only a benchmark.

#[path = "../tests/common/mod.rs"]
mod common;

fn argument(position: usize, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .nth(position)
        .map(|a| a.parse().expect("WIDTH and MAX_JOBS are whole numbers"))
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let width = argument(0, 1000);
    let max_jobs = argument(1, 4);
    let wide = common::wide::run_wide_foreach(width, max_jobs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seconds = wide.took.as_secs_f64();
    println!(
        "wide foreach on the local stack: width {width}, {max_jobs} jobs at once: \
         {seconds:.0} s, {:.2} s per task; {} read back with the Client; \
         {} events in the parent execution's history (AWS fails an execution at 25,000)",
        seconds / width as f64,
        wide.run,
        wide.parent_events
    );
}
