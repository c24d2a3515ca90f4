//! The flow file's place in the package, as functions evaluated at deploy time see it:
//! `__file__` is the flow file's path under [`PACKAGE_ROOT`] (the package root is also
//! the working directory, as for tasks), and `os.path` works on those paths, with
//! `exists` / `isfile` / `isdir` answered from the package's files. So the tutorials'
//! `script_path("movies.csv")` (`os.path.join(os.path.dirname(__file__), name)`) gives
//! `/package/movies.csv`, which [`package_relative`] maps back to `movies.csv`.

use std::collections::BTreeSet;

/// Where the package appears to be in the sandbox: `__file__` of `flows/x.py` is
/// `/package/flows/x.py`, and `os.getcwd()` is `/package`.
pub const PACKAGE_ROOT: &str = "/package";

/// The sandbox's `os` stand-in (monty's `os` has no `os.path`).
pub(super) const OS_SHIM: &str = "_dropflow_os";

/// Host function: whether a path (absolute, normalised) exists in the package.
pub(super) const HOST_EXISTS: &str = "_dropflow_exists";
/// Host function: whether a path is a package file.
pub(super) const HOST_ISFILE: &str = "_dropflow_isfile";
/// Host function: whether a path is a package directory.
pub(super) const HOST_ISDIR: &str = "_dropflow_isdir";

/// The `os.path` functions the stand-in provides (for `from os.path import ...`).
pub(super) const PATH_FUNCTIONS: &[&str] = &[
    "join", "split", "dirname", "basename", "splitext", "isabs", "normpath", "abspath", "realpath",
    "exists", "isfile", "isdir", "sep",
];

/// Input carrying `__file__`.
pub(super) const FILE_INPUT: &str = "_dropflow_file";
/// Input carrying the working directory (the package root).
pub(super) const CWD_INPUT: &str = "_dropflow_cwd";

/// The `os` stand-in: POSIX `os.path` functions written in the subset monty runs (same
/// results as CPython's `posixpath` for the paths a package has), the file tests asking
/// the host, and the rest of `os` delegated to monty's own module (whose file-system
/// calls the host refuses and whose environment is empty).
pub(super) const OS_SHIM_CODE: &str = r#"import os as _dropflow_monty_os
class _dropflow_module_os_path:
    sep = "/"
    curdir = "."
    pardir = ".."
    extsep = "."
    def join(self, a, *p):
        path = a
        for b in p:
            if b.startswith("/"):
                path = b
            elif path == "" or path.endswith("/"):
                path = path + b
            else:
                path = path + "/" + b
        return path
    def split(self, p):
        i = p.rfind("/") + 1
        head = p[:i]
        tail = p[i:]
        if head and head != "/" * len(head):
            head = head.rstrip("/")
        return (head, tail)
    def dirname(self, p):
        return self.split(p)[0]
    def basename(self, p):
        return self.split(p)[1]
    def splitext(self, p):
        sep_index = p.rfind("/")
        dot_index = p.rfind(".")
        if dot_index > sep_index:
            index = sep_index + 1
            while index < dot_index:
                if p[index] != ".":
                    return (p[:dot_index], p[dot_index:])
                index += 1
        return (p, "")
    def isabs(self, p):
        return p.startswith("/")
    def normpath(self, p):
        if p == "":
            return "."
        absolute = p.startswith("/")
        parts = []
        for part in p.split("/"):
            if part == "" or part == ".":
                continue
            if part != ".." or (not absolute and not parts) or (parts and parts[-1] == ".."):
                parts.append(part)
            elif parts:
                parts.pop()
        path = "/".join(parts)
        if absolute:
            path = "/" + path
        return path or "."
    def abspath(self, p):
        if not p.startswith("/"):
            p = self.join(_dropflow_cwd, p)
        return self.normpath(p)
    def realpath(self, p):
        return self.abspath(p)
    def exists(self, p):
        return _dropflow_exists(self.abspath(p))
    def isfile(self, p):
        return _dropflow_isfile(self.abspath(p))
    def isdir(self, p):
        return _dropflow_isdir(self.abspath(p))
class _dropflow_module_os:
    sep = "/"
    curdir = "."
    pardir = ".."
    extsep = "."
    linesep = "\n"
    name = "posix"
    path = _dropflow_module_os_path()
    environ = _dropflow_monty_os.environ
    def getcwd(self):
        return _dropflow_cwd
    def getenv(self, key, default=None):
        return _dropflow_monty_os.getenv(key, default)
    def fspath(self, path):
        return _dropflow_monty_os.fspath(path)
    def listdir(self, path="."):
        return _dropflow_monty_os.listdir(path)
    def stat(self, path):
        return _dropflow_monty_os.stat(path)
    def mkdir(self, path):
        return _dropflow_monty_os.mkdir(path)
    def makedirs(self, name):
        return _dropflow_monty_os.makedirs(name)
    def remove(self, path):
        return _dropflow_monty_os.remove(path)
    def unlink(self, path):
        return _dropflow_monty_os.unlink(path)
    def rmdir(self, path):
        return _dropflow_monty_os.rmdir(path)
    def rename(self, src, dst):
        return _dropflow_monty_os.rename(src, dst)
    def replace(self, src, dst):
        return _dropflow_monty_os.replace(src, dst)
_dropflow_os = _dropflow_module_os()
"#;

/// `__file__` of the flow file `file` (a package path).
pub(super) fn flow_file_path(file: &str) -> String {
    format!("{PACKAGE_ROOT}/{}", file.trim_start_matches("./"))
}

/// The package's files and directories, as absolute sandbox paths.
#[derive(Debug, Clone, Default)]
pub struct PackageFiles {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
}

impl PackageFiles {
    /// The paths of a package (package-relative, `/`-separated).
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut files = BTreeSet::new();
        let mut dirs = BTreeSet::from([PACKAGE_ROOT.to_string()]);
        for path in paths {
            let absolute = format!("{PACKAGE_ROOT}/{}", path.trim_start_matches("./"));
            let mut parent = absolute.as_str();
            while let Some((dir, _)) = parent.rsplit_once('/') {
                if dir.len() <= PACKAGE_ROOT.len() {
                    break;
                }
                dirs.insert(dir.to_string());
                parent = dir;
            }
            files.insert(absolute);
        }
        PackageFiles { files, dirs }
    }

    /// The host's answer to `os.path.exists` / `isfile` / `isdir` on `path`.
    pub(super) fn answer(&self, function: &str, path: &str) -> Option<bool> {
        match function {
            HOST_EXISTS => Some(self.files.contains(path) || self.dirs.contains(path)),
            HOST_ISFILE => Some(self.files.contains(path)),
            HOST_ISDIR => Some(self.dirs.contains(path)),
            _ => None,
        }
    }
}

/// A path a function returned, as a package path (`/package/data/x.csv`, `data/x.csv`
/// and `./data/../data/x.csv` are all `data/x.csv`); `None` when it points outside the
/// package.
pub fn package_relative(path: &str) -> Option<String> {
    let absolute = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{PACKAGE_ROOT}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in absolute.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let root = PACKAGE_ROOT.trim_start_matches('/');
    match parts.split_first() {
        Some((first, rest)) if *first == root && !rest.is_empty() => Some(rest.join("/")),
        _ => None,
    }
}
