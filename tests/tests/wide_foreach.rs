//! Soak: a wide foreach runs to its end on the local stack with real Metaflow tasks: N
//! `square` Batch jobs, each between its step Lambda phases, joined by one task whose N
//! input paths go through S3, and the N squares read back with the Client.
//!
//! Not part of `tests/run.sh` (about 2.5 s of wall time per task on 2 cores): it is
//! `#[ignore]`d and run by `bash tests/soak.sh [WIDTH...]`, which sets
//! `DROPFLOW_SOAK_WIDTH` (default 1,000 here). Its figures go in the README.

mod common;

/// Batch jobs at once: the e2e tests' figure; more only queue on 2 cores.
const MAX_JOBS: usize = 4;

/// The width to run: `DROPFLOW_SOAK_WIDTH`, or 1,000.
fn soak_width() -> usize {
    match std::env::var("DROPFLOW_SOAK_WIDTH") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("DROPFLOW_SOAK_WIDTH={value:?} is not a whole number")),
        Err(_) => 1000,
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "soak (tens of minutes): run with bash tests/soak.sh"]
async fn a_wide_foreach_runs_to_its_end() {
    let width = soak_width();
    let wide = common::wide::run_wide_foreach(width, MAX_JOBS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seconds = wide.took.as_secs_f64();
    println!(
        "soak: {}: width {width}, {MAX_JOBS} jobs at once: {seconds:.0} s, {:.2} s per task, {:.0} tasks per minute, {} events in the parent execution's history",
        wide.run,
        seconds / width as f64,
        width as f64 * 60.0 / seconds,
        wide.parent_events
    );
}
