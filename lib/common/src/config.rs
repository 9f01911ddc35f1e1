//! Config loading: one TOML file, defaults in code, environment overrides `VIGIL__SECTION__KEY`.
//!
//! The environment is passed in as a map so tests never touch the process environment.

use std::{collections::HashMap, path::Path};

use anyhow::Context;
use serde::de::DeserializeOwned;

/// Prefix of environment overrides: `VIGIL__PIPELINE__COMMIT_INTERVAL=2s` sets
/// `[pipeline] commit_interval = "2s"`.
pub const ENV_PREFIX: &str = "VIGIL__";

/// Reads `path` (if any), applies overrides from `env`, and deserializes into `T`.
/// Errors name the file and the offending key.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, env: &HashMap<String, String>) -> anyhow::Result<T> {
    let mut root = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read config file {}", path.display()))?;
            text.parse::<toml::Table>().with_context(|| format!("config file {} is not valid TOML", path.display()))?
        }
        None => toml::Table::new(),
    };
    apply_env_overrides(&mut root, env)?;
    let origin = path.map(|p| p.display().to_string()).unwrap_or_else(|| "defaults".to_string());
    toml::Value::Table(root)
        .try_into()
        .map_err(|error: toml::de::Error| anyhow::anyhow!("invalid config ({origin}): {}", error.message()))
}

fn apply_env_overrides(root: &mut toml::Table, env: &HashMap<String, String>) -> anyhow::Result<()> {
    let mut keys: Vec<&String> = env.keys().filter(|key| key.starts_with(ENV_PREFIX)).collect();
    keys.sort();
    for key in keys {
        let path: Vec<String> = key[ENV_PREFIX.len()..].split("__").map(|part| part.to_ascii_lowercase()).collect();
        if path.iter().any(|part| part.is_empty()) {
            anyhow::bail!("environment override {key} has an empty key segment");
        }
        let (leaf, tables) = path.split_last().expect("split gives at least one segment");
        let mut table = &mut *root;
        for part in tables {
            let entry = table.entry(part.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table =
                entry.as_table_mut().with_context(|| format!("environment override {key}: {part} is not a table"))?;
        }
        table.insert(leaf.clone(), parse_scalar(&env[key]));
    }
    Ok(())
}

/// An override value is read as a TOML value when it is one (numbers, booleans, arrays),
/// else as a string.
fn parse_scalar(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// The environment variables that are Vigil overrides, for passing to [`load`].
pub fn env_overrides() -> HashMap<String, String> {
    std::env::vars().filter(|(key, _)| key.starts_with(ENV_PREFIX)).collect()
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Root {
        #[serde(default)]
        pipeline: Pipeline,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(deny_unknown_fields)]
    struct Pipeline {
        #[serde(default)]
        workers: u32,
        #[serde(default)]
        name: String,
    }

    #[test]
    fn env_overrides_set_nested_keys_with_types() {
        let env = HashMap::from([
            ("VIGIL__PIPELINE__WORKERS".to_string(), "4".to_string()),
            ("VIGIL__PIPELINE__NAME".to_string(), "main node".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ]);
        let root: Root = load(None, &env).expect("valid overrides");
        assert_eq!(root.pipeline, Pipeline { workers: 4, name: "main node".into() });
    }

    #[test]
    fn unknown_key_is_named_in_the_error() {
        let env = HashMap::from([("VIGIL__PIPELINE__WORKRES".to_string(), "4".to_string())]);
        let error = load::<Root>(None, &env).expect_err("unknown key must fail").to_string();
        assert!(error.contains("workres"), "{error}");
    }
}
