//! `dropflow graph PATH`: the flow graph as Mermaid.

use std::path::Path;

use dropflow_compiler::package::{self, Limits};
use dropflow_compiler::pipeline;

/// Prints the Mermaid flowchart of the flow at `path`.
pub fn run(path: &Path) -> Result<(), String> {
    let package = package::read_path(path, &Limits::default()).map_err(|e| e.to_string())?;
    let checked = pipeline::check(&package).map_err(|e| e.to_string())?;
    print!("{}", checked.graph.to_mermaid());
    Ok(())
}
