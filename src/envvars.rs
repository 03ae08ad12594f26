//! `EnvVars`: the process environment read once, as a value. Everything that depends on the
//! environment (inputs, the runner's files, the OIDC request variables) takes an `&EnvVars`, so
//! tests hand in a map instead of mutating the real environment.

use std::collections::BTreeMap;

#[derive(Clone, Default)]
pub struct EnvVars {
    vars: BTreeMap<String, String>,
}

impl EnvVars {
    /// A snapshot of the real environment. Variables that are not valid UTF-8 are skipped:
    /// nothing this tool reads can legitimately hold such bytes.
    pub fn from_process() -> Self {
        EnvVars {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        EnvVars {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The variable's value, or `None` when it is absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The variable's value when it is present and not blank.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// `true` when the variable is set to "true" (any case), as GitHub sets `ACT`, `CI` and
    /// `GITHUB_ACTIONS`.
    pub fn is_true(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

impl std::fmt::Debug for EnvVars {
    // The environment holds tokens (ACTIONS_ID_TOKEN_REQUEST_TOKEN, AWS_SECRET_ACCESS_KEY...):
    // list the names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}
