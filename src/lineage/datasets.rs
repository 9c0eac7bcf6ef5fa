//! The datasets a run reads and writes, named by OpenLineage's dataset naming
//! (<https://openlineage.io/docs/spec/naming>): the namespace is the data source
//! (`Output::lineage_namespace`), the name `{database}.{schema}.{table}` as the warehouse stores
//! each part (`Dialect::stored_name`: Snowflake's upper case).

use crate::dialect::Dialect;
use crate::plan::Plan;
use crate::project::profiles::Output;
use crate::render::{COUNTED_PERSISTENT, PERSISTENT, Tables};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Datasets {
    pub inputs: Vec<Dataset>,
    pub outputs: Vec<Dataset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
    /// The columns of the `schema` facet, in order (the attributes table's).
    pub fields: Option<Vec<String>>,
}

/// The events table a run reads, and the tables it keeps: the attributes, the daily
/// aggregates, the filtered events and the manifests (the state tables of counted outputs only
/// where the plan has such outputs); never the scratch tables, which do not outlive a run.
pub fn datasets(output: &Output, dialect: &dyn Dialect, plan: &Plan, tables: &Tables) -> Datasets {
    let namespace = output.lineage_namespace();
    let database = output.database();
    let name = |catalog: Option<&str>, schema: &str, table: &str| {
        let parts: Vec<String> = catalog
            .into_iter()
            .chain([schema, table])
            .map(|part| dialect.stored_name(part))
            .collect();
        parts.join(".")
    };
    let (events_schema, events_table) = &tables.events_location;
    let events_catalog = tables.events_catalog.as_deref().or(database.as_deref());
    let inputs = vec![Dataset {
        namespace: namespace.clone(),
        name: name(events_catalog, events_schema, events_table),
        fields: None,
    }];
    let outputs = PERSISTENT
        .iter()
        .rev()
        .chain(
            COUNTED_PERSISTENT
                .iter()
                .filter(|_| !plan.counted.is_empty()),
        )
        .map(|table| {
            let (schema, stored) = tables.location(table);
            let fields = (*table == "attributes").then(|| {
                std::iter::once(plan.key_column.clone())
                    .chain(plan.outputs.iter().map(|o| o.name.clone()))
                    .chain(["updated_at".to_string()])
                    .map(|column| dialect.stored_name(&column))
                    .collect()
            });
            Dataset {
                namespace: namespace.clone(),
                name: name(database.as_deref(), schema, stored),
                fields,
            }
        })
        .collect();
    Datasets { inputs, outputs }
}
