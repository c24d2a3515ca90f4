//! A Mermaid picture of the graph, the counterpart of Metaflow's `output_dot`, for
//! READMEs, pull requests and the deploy report.

use std::fmt::Write;

use super::FlowGraph;
use super::node::{Node, NodeType};

impl FlowGraph {
    /// The graph as a Mermaid `flowchart TD`: one box per step labelled with its name
    /// and type, switch steps as hexagons, start and end as stadiums; switch edges are
    /// labelled with their case keys and foreach edges with `foreach <artifact>`.
    /// Steps appear in traversal order, unreachable ones last; unknown targets are
    /// left out (lint reports them).
    pub fn to_mermaid(&self) -> String {
        let mut order: Vec<&Node> = self
            .sorted_nodes
            .iter()
            .filter_map(|n| self.get(n))
            .collect();
        order.extend(
            self.nodes()
                .filter(|n| !self.sorted_nodes.contains(&n.name)),
        );

        let mut out = String::from("flowchart TD\n");
        for node in &order {
            let terminal = [&self.start_step, &self.end_step]
                .iter()
                .any(|s| s.as_deref() == Some(node.name.as_str()));
            let _ = writeln!(out, "    {}", shape(node, terminal));
        }
        for node in &order {
            for (target, label) in edges(node) {
                if !self.contains(target) {
                    continue;
                }
                let arrow = match label {
                    Some(label) => format!("-->|\"{}\"|", escape(&label)),
                    None => "-->".to_string(),
                };
                let _ = writeln!(out, "    {} {arrow} {}", id(&node.name), id(target));
            }
        }
        out
    }
}

/// Node ids carry a prefix so step names never clash with Mermaid keywords (`end`).
fn id(step: &str) -> String {
    format!("step_{step}")
}

/// Switches are hexagons, the start and end steps stadiums, other steps boxes.
fn shape(node: &Node, terminal: bool) -> String {
    let id = id(&node.name);
    let name = escape(&node.name);
    match node.node_type {
        Some(NodeType::SplitSwitch) => {
            let detail = match &node.condition {
                Some(condition) => format!("switch: {}", escape(condition)),
                None => "switch".to_string(),
            };
            format!("{id}{{{{\"{name}<br/>{detail}\"}}}}")
        }
        _ if terminal => format!("{id}([\"{name}<br/>{}\"])", type_label(node)),
        _ => format!("{id}[\"{name}<br/>{}\"]", type_label(node)),
    }
}

/// As Metaflow's `output_dot`: a step taking `inputs` is drawn as a join.
fn type_label(node: &Node) -> &'static str {
    if node.num_args > 1 {
        return "join";
    }
    node.node_type.map_or("invalid", NodeType::as_str)
}

/// Each distinct target once, with its label.
fn edges(node: &Node) -> Vec<(&str, Option<String>)> {
    let mut edges: Vec<(&str, Option<String>)> = Vec::new();
    for target in &node.out_funcs {
        if edges.iter().any(|(t, _)| t == target) {
            continue;
        }
        let label = match node.node_type {
            Some(NodeType::SplitSwitch) => {
                let keys: Vec<&str> = node
                    .switch_cases
                    .iter()
                    .filter(|(_, step)| *step == target)
                    .map(|(key, _)| key.as_str())
                    .collect();
                Some(keys.join(", "))
            }
            Some(NodeType::Foreach) => {
                Some(match (&node.foreach_param, &node.step.tail.num_parallel) {
                    (Some(param), _) => format!("foreach {param}"),
                    (None, Some(n)) => format!("num_parallel {}", n.describe()),
                    (None, None) => "foreach".to_string(),
                })
            }
            _ => None,
        };
        edges.push((target, label));
    }
    edges
}

/// Makes text safe inside a quoted Mermaid label.
fn escape(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}
