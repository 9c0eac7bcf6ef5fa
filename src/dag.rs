//! The stage graph: which stage reads which, as a petgraph DAG with a stable topological order.
//!
//! The order of statements in a run is derived from this graph rather than written down, so a
//! new stage only declares its inputs. Ties are broken by declaration order, which keeps the
//! rendered SQL (and its snapshots) stable.

use petgraph::graph::{DiGraph, NodeIndex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    Setup,
    RunLimits,
    BaseEventsThisRun,
    FilteredEventsThisRun,
    FilteredEvents,
    DaysToProcess,
    DailyAggregatesThisRun,
    DailyAggregationManifest,
    DailyAggregates,
    Attributes,
    IncrementalManifest,
}

impl Stage {
    pub const ALL: [Stage; 11] = [
        Stage::Setup,
        Stage::RunLimits,
        Stage::BaseEventsThisRun,
        Stage::FilteredEventsThisRun,
        Stage::FilteredEvents,
        Stage::DaysToProcess,
        Stage::DailyAggregatesThisRun,
        Stage::DailyAggregationManifest,
        Stage::DailyAggregates,
        Stage::Attributes,
        Stage::IncrementalManifest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Setup => "setup",
            Stage::RunLimits => "run_limits",
            Stage::BaseEventsThisRun => "base_events_this_run",
            Stage::FilteredEventsThisRun => "filtered_events_this_run",
            Stage::FilteredEvents => "filtered_events",
            Stage::DaysToProcess => "days_to_process",
            Stage::DailyAggregatesThisRun => "daily_aggregates_this_run",
            Stage::DailyAggregationManifest => "daily_aggregation_manifest",
            Stage::DailyAggregates => "daily_aggregates",
            Stage::Attributes => "attributes",
            Stage::IncrementalManifest => "incremental_manifest",
        }
    }

    /// The stages whose output this stage reads.
    pub fn inputs(self) -> &'static [Stage] {
        match self {
            Stage::Setup => &[],
            Stage::RunLimits => &[Stage::Setup],
            Stage::BaseEventsThisRun => &[Stage::RunLimits],
            Stage::FilteredEventsThisRun => &[Stage::BaseEventsThisRun],
            // the upsert must land before days are recomputed from the stored events
            Stage::FilteredEvents => &[Stage::FilteredEventsThisRun],
            Stage::DaysToProcess => &[Stage::FilteredEventsThisRun],
            Stage::DailyAggregatesThisRun => &[Stage::DaysToProcess, Stage::FilteredEvents],
            Stage::DailyAggregationManifest => &[Stage::DailyAggregatesThisRun],
            Stage::DailyAggregates => &[Stage::DailyAggregatesThisRun],
            Stage::Attributes => &[Stage::DailyAggregates],
            // the watermark moves last, after all the data it describes
            Stage::IncrementalManifest => &[Stage::Attributes, Stage::DailyAggregationManifest],
        }
    }
}

/// Every stage in an order where each comes after its inputs.
pub fn execution_order() -> Vec<Stage> {
    let mut graph: DiGraph<Stage, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = Stage::ALL.iter().map(|s| graph.add_node(*s)).collect();
    let index = |stage: Stage| nodes[Stage::ALL.iter().position(|s| *s == stage).expect("listed")];
    for stage in Stage::ALL {
        for input in stage.inputs() {
            graph.add_edge(index(*input), index(stage), ());
        }
    }
    // Kahn's algorithm, always taking the earliest-declared ready stage, for a stable order.
    let mut remaining: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, petgraph::Incoming).count())
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(next) = (0..nodes.len()).find(|i| remaining[*i] == 0) {
        remaining[next] = usize::MAX;
        order.push(graph[nodes[next]]);
        for successor in graph.neighbors_directed(nodes[next], petgraph::Outgoing) {
            remaining[successor.index()] -= 1;
        }
    }
    assert_eq!(order.len(), nodes.len(), "the stage graph has a cycle");
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_runs_after_its_inputs() {
        let order = execution_order();
        assert_eq!(order.len(), Stage::ALL.len());
        for stage in &order {
            let at = order.iter().position(|s| s == stage).unwrap();
            for input in stage.inputs() {
                assert!(
                    order.iter().position(|s| s == input).unwrap() < at,
                    "{stage:?} before {input:?}"
                );
            }
        }
        assert_eq!(order.first(), Some(&Stage::Setup));
        assert_eq!(order.last(), Some(&Stage::IncrementalManifest));
    }
}
