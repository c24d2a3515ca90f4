//! `dropflow run FLOW [--param value ...]`: the words after the flow name hold the flow's
//! parameters and, anywhere before a lone `--`, dropflow's own options (`--wait`,
//! `--json`, `--local`, `--state-dir DIR`, `--api URL`). Everything after
//! `--` is a flow parameter, for a flow with a parameter of one of those names.

/// dropflow's own options found among a run's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnOptions {
    /// `--wait`.
    pub wait: bool,
    /// `--json`.
    pub json: bool,
    /// `--local`.
    pub local: bool,
    /// `--state-dir DIR`.
    pub state_dir: Option<String>,
    /// `--api URL`.
    pub api: Option<String>,
}

/// Splits `words` into dropflow's options and the flow's parameter words.
pub fn split(words: &[String]) -> (OwnOptions, Vec<String>) {
    let mut own = OwnOptions::default();
    let mut params = Vec::new();
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        if word == "--" {
            params.extend(iter.cloned());
            break;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (word.as_str(), None),
        };
        let slot = match name {
            "--wait" if inline.is_none() => {
                own.wait = true;
                continue;
            }
            "--json" if inline.is_none() => {
                own.json = true;
                continue;
            }
            "--local" if inline.is_none() => {
                own.local = true;
                continue;
            }
            "--state-dir" => &mut own.state_dir,
            "--api" => &mut own.api,
            _ => {
                params.push(word.clone());
                continue;
            }
        };
        match inline.or_else(|| iter.next().cloned()) {
            Some(value) => *slot = Some(value),
            None => params.push(word.clone()),
        }
    }
    (own, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn own_options_anywhere_before_the_separator() {
        let (own, params) = split(&words(
            "--alpha 0.5 --wait --state-dir /tmp/s --json --api=http://x -- --wait 1",
        ));
        assert_eq!(
            own,
            OwnOptions {
                wait: true,
                json: true,
                local: false,
                state_dir: Some("/tmp/s".into()),
                api: Some("http://x".into()),
            }
        );
        assert_eq!(params, words("--alpha 0.5 --wait 1"));
        let (own, params) = split(&words("--local --beta 1"));
        assert!(own.local && !own.wait);
        assert_eq!(params, words("--beta 1"));
    }
}
