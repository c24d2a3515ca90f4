//! A 1,000-wide foreach runs to its end on the local stack with real Metaflow tasks: 1,000
//! `square` Batch jobs, each between its step Lambda phases, joined by one task whose
//! 1,000 input paths go through S3, and the 1,000 squares read back with the Client.
//!
//! The longest test in `tests/run.sh`: about 2 s of wall time per task on 2 cores (each
//! task is several Python processes, as on Batch). Its figures are in the `wide_foreach`
//! benchmark, which runs the same code at any width.

mod common;

/// Batch jobs at once: the e2e tests' figure; more only queue on 2 cores.
const MAX_JOBS: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn a_1000_wide_foreach_runs_to_its_end() {
    let width = 1000;
    let wide = common::wide::run_wide_foreach(width, MAX_JOBS)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{}: {width} tasks in {:.0} s",
        wide.run,
        wide.took.as_secs_f64()
    );
}
