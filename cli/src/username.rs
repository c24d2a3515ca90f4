//! The deployer's user name, found as Metaflow's `get_username()` finds it
//! (`metaflow/util.py`): `METAFLOW_USER`, then `SUDO_USER`, `USERNAME`, `USER`, the first
//! that is set, not empty and not `root`. `dropflow deploy` records it as the upload's
//! `user` metadata and `dropflow compile` uses it as its default user, so a preview names
//! exactly what the upload deploys (`user.<name>` project branches, `context.user_name`).

/// The variables read, in Metaflow's order (`METAFLOW_USER` is its `USER` setting).
pub const USER_VARIABLES: [&str; 4] = ["METAFLOW_USER", "SUDO_USER", "USERNAME", "USER"];

/// The user name from the process environment, or `None` when Metaflow would find none
/// (it then fails with "Unknown user").
pub fn get_username() -> Option<String> {
    username_from(|name| std::env::var(name).ok())
}

/// The user name from `lookup` (an environment), Metaflow's rules.
pub fn username_from(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    USER_VARIABLES
        .iter()
        .filter_map(|name| lookup(name))
        .find(|user| !user.is_empty() && user != "root")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn metaflow_order_first_set_wins() {
        let all = [
            ("METAFLOW_USER", "mf"),
            ("SUDO_USER", "sudo"),
            ("USERNAME", "un"),
            ("USER", "u"),
        ];
        assert_eq!(username_from(env(&all)).as_deref(), Some("mf"));
        assert_eq!(username_from(env(&all[1..])).as_deref(), Some("sudo"));
        assert_eq!(username_from(env(&all[2..])).as_deref(), Some("un"));
        assert_eq!(username_from(env(&all[3..])).as_deref(), Some("u"));
        assert_eq!(username_from(env(&[])), None);
    }

    #[test]
    fn root_and_empty_are_skipped() {
        let pairs = [
            ("METAFLOW_USER", ""),
            ("SUDO_USER", "root"),
            ("USER", "alice"),
        ];
        assert_eq!(username_from(env(&pairs)).as_deref(), Some("alice"));
        assert_eq!(username_from(env(&[("USER", "root")])), None);
    }
}
