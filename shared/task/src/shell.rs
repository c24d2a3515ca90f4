//! POSIX shell quoting for values put into a task's `sh -c` script.

use std::borrow::Cow;

/// `value` as one shell word: unchanged when it holds only characters no POSIX shell
/// treats specially, else in single quotes (a `'` becomes `'\''`). Never expands
/// anything: `$`, backquotes, globs, spaces and newlines all arrive literally.
pub fn quote(value: &str) -> Cow<'_, str> {
    let plain = !value.is_empty()
        && value.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'_' | b'-' | b'.' | b'/' | b':' | b',' | b'@' | b'%' | b'+' | b'=')
        })
        // `=` in the first word of a command would be an assignment; `-` could read as
        // an option only where the caller puts it, never a shell concern.
        && !value.starts_with('=');
    if plain {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!("'{}'", value.replace('\'', r"'\''")))
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// What `sh` makes of the quoted word.
    fn through_sh(value: &str) -> String {
        let script = format!("printf '%s' {}", quote(value));
        let out = Command::new("sh")
            .args(["-c", &script])
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{script}");
        String::from_utf8(out.stdout).expect("utf-8")
    }

    #[test]
    fn plain_words_stay_unquoted() {
        for word in [
            "s3://bucket/metaflow",
            "sfn-abc/square/:square-0,square-1",
            "--datastore-root=s3://b/x",
            "a.b_c-d@e%f+g",
        ] {
            assert_eq!(quote(word), word);
        }
    }

    #[test]
    fn special_characters_are_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$HOME"), "'$HOME'");
    }

    #[test]
    fn every_value_survives_the_shell() {
        for value in [
            "",
            "plain",
            "two words",
            "it's",
            "''",
            "$HOME `id` $(id) \\ \" ; & | < > * ? [a] ~ # !",
            "line\nbreak\ttab",
            "ünïcødé ✓",
            "=starts-with-equals",
            "-dash",
            "{\"depth\": 3, \"tags\": [\"x\"]}",
        ] {
            assert_eq!(through_sh(value), value, "{value:?} as {}", quote(value));
        }
    }
}
