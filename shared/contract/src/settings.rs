//! A Lambda's settings, read once at cold start from its environment: values trimmed, an
//! empty value counted as unset, and every problem collected so that a misconfigured
//! function says everything that is wrong at once ([`ConfigError`]).

use std::fmt;

/// An environment (any `name → value` lookup) read as settings.
pub struct Environment<F> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> Environment<F> {
    /// Settings read through `lookup` (`|name| std::env::var(name).ok()` in a Lambda).
    pub fn new(lookup: F) -> Self {
        Self { lookup }
    }

    /// `name`'s value, trimmed; `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_even_empty(name).filter(|value| !value.is_empty())
    }

    /// `name`'s value, trimmed, `Some("")` when set but empty: for a setting whose empty
    /// value means something.
    pub fn get_even_empty(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|value| value.trim().to_string())
    }

    /// `name`'s value; when unset, `NAME is not set (what)` goes to `problems` and the
    /// value is empty.
    pub fn required(&self, name: &str, what: &str, problems: &mut Vec<String>) -> String {
        self.get(name).unwrap_or_else(|| {
            problems.push(format!("{name} is not set ({what})"));
            String::new()
        })
    }
}

/// Every problem found in a Lambda's environment, one line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Whose settings: `compile Lambda`, `trigger Lambda`, `metadata service`.
    pub component: &'static str,
    /// `VARIABLE: what is wrong`.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(
            f,
            "the {} is misconfigured ({count} problem{plural}):",
            self.component
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// Stable error type, the same for every Lambda.
    pub fn code(&self) -> &'static str {
        "config.invalid"
    }

    /// `Ok(settings)` when nothing was found wrong, else the problems of `component`.
    pub fn check<T>(
        component: &'static str,
        problems: Vec<String>,
        settings: impl FnOnce() -> T,
    ) -> Result<T, Self> {
        if problems.is_empty() {
            Ok(settings())
        } else {
            Err(Self {
                component,
                problems,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environment(
        vars: &'static [(&'static str, &'static str)],
    ) -> Environment<impl Fn(&str) -> Option<String>> {
        Environment::new(move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn values_are_trimmed_and_empty_counts_as_unset() {
        let env = environment(&[("A", " a "), ("EMPTY", "  ")]);
        assert_eq!(env.get("A").as_deref(), Some("a"));
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.get_even_empty("EMPTY").as_deref(), Some(""));
        assert_eq!(env.get("UNSET"), None);
        assert_eq!(env.get_even_empty("UNSET"), None);
    }

    #[test]
    fn every_missing_required_value_is_a_problem() {
        let env = environment(&[("A", "a")]);
        let mut problems = Vec::new();
        assert_eq!(env.required("A", "the a", &mut problems), "a");
        assert_eq!(env.required("B", "the b", &mut problems), "");
        assert_eq!(env.required("C", "the c", &mut problems), "");
        let error = ConfigError::check("trigger Lambda", problems, || ()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the trigger Lambda is misconfigured (2 problems):\n  - B is not set (the b)\n  - C is not set (the c)"
        );
        assert_eq!(error.code(), "config.invalid");
        assert_eq!(ConfigError::check("x", Vec::new(), || 7), Ok(7));
    }
}
