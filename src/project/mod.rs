//! The project: `sigbatch.yml`, the attribute group it points at, and the vars, loaded and
//! validated into one value before anything is planned or touches a warehouse.

pub mod filter;
pub mod group;
pub mod profiles;
pub mod property;
pub mod vars;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_yaml_ng::Mapping;

pub use group::AttributeGroup;
pub use vars::Vars;

use crate::error::{Error, Result};

pub const PROJECT_FILE: &str = "sigbatch.yml";

/// Exact computes what users mean; compat reproduces the upstream dbt project, defects included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Semantics {
    Exact,
    Compat,
}

impl Semantics {
    pub fn as_str(self) -> &'static str {
        match self {
            Semantics::Exact => "exact",
            Semantics::Compat => "compat",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    /// Prefix of every table: `<group name>_<version>` unless set.
    pub name: String,
    pub group: AttributeGroup,
    pub group_file: PathBuf,
    pub semantics: Semantics,
    pub vars: Vars,
    pub profile: String,
    pub target: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    name: Option<String>,
    attribute_group: String,
    semantics: Option<String>,
    profile: Option<String>,
    target: Option<String>,
    vars: Option<Mapping>,
}

/// A project's name unless `sigbatch.yml` sets one: `<group name>_<version>`.
fn default_name(group: &str, version: impl std::fmt::Display) -> String {
    format!("{group}_{version}")
}

impl Project {
    /// Loads `DIR/sigbatch.yml`; `cli_vars` (YAML or JSON, as dbt's `--vars`) override its vars.
    pub fn load(dir: &Path, cli_vars: Option<&str>) -> Result<Project> {
        let file = dir.join(PROJECT_FILE);
        let text = std::fs::read_to_string(&file).map_err(|e| {
            Error::file(&file, format!("cannot read the project file: {e}"))
                .with_hint("pass --project-dir pointing at a directory with sigbatch.yml, or run `sigbatch init`")
        })?;
        let raw: RawProject = serde_yaml_ng::from_str(&text)
            .map_err(|e| Error::file(&file, format!("malformed project file: {e}")))?;
        let group_file = dir.join(&raw.attribute_group);
        let group = AttributeGroup::load(&group_file)?;
        let semantics = match raw.semantics.as_deref() {
            None | Some("exact") => Semantics::Exact,
            Some("compat") => Semantics::Compat,
            Some(other) => {
                return Err(Error::file(
                    &file,
                    format!("`semantics: {other}` is neither `exact` nor `compat`"),
                ));
            }
        };
        let name = raw
            .name
            .unwrap_or_else(|| default_name(&group.name, group.version));
        if !property::is_identifier(&name) {
            return Err(
                Error::file(&file, format!("`name: {name}` is not a plain identifier"))
                    .with_hint("table names are built from it; use letters, digits and `_`"),
            );
        }
        let mut vars = Vars::default();
        // the group's backfill start is the start date unless the vars set one
        if let Some(since) = group.backfill_since {
            vars.start_date = since.date();
        }
        if let Some(mapping) = &raw.vars {
            vars.apply(mapping, &file.display().to_string())?;
        }
        if let Some(text) = cli_vars {
            let mapping: Mapping = serde_yaml_ng::from_str(text).map_err(|e| {
                Error::invalid(
                    "--vars",
                    format!("`{text}` is not a YAML or JSON mapping: {e}"),
                )
            })?;
            vars.apply(&mapping, "--vars")?;
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            name,
            group,
            group_file,
            semantics,
            vars,
            profile: raw.profile.unwrap_or_else(|| "sigbatch".into()),
            target: raw.target,
        })
    }

    /// The project's name as [`Project::load`] makes it, read leniently from `DIR/sigbatch.yml`
    /// and its group file, for naming a project that does not load (a bad attribute, say) in a
    /// workspace's reports; `None` when even that cannot be read.
    pub fn peek_name(dir: &Path) -> Option<String> {
        let text = std::fs::read_to_string(dir.join(PROJECT_FILE)).ok()?;
        let raw: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).ok()?;
        if let Some(name) = raw.get("name").and_then(serde_yaml_ng::Value::as_str) {
            return Some(name.to_string());
        }
        let group_file = dir.join(raw.get("attribute_group")?.as_str()?);
        let group: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(group_file).ok()?).ok()?;
        let version = group.get("version")?;
        let version = version
            .as_u64()
            .map(|n| n.to_string())
            .or_else(|| version.as_str().map(str::to_string))?;
        Some(default_name(group.get("name")?.as_str()?, version))
    }

    pub fn load_target(
        &self,
        profiles_dir: Option<&Path>,
        target: Option<&str>,
    ) -> Result<profiles::Target> {
        let file = profiles::find_profiles_file(profiles_dir, &self.dir)?;
        profiles::load_target(
            &file,
            &self.profile,
            target.or(self.target.as_deref()),
            &self.dir,
        )
    }
}
