//! Build script: records the git commit this binary is built from as `WAYLOG_COMMIT` (the
//! `commit` label of `waylog_build_info`). An explicit `WAYLOG_COMMIT` in the environment
//! wins; outside a git checkout it stays unset (`unknown`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    println!("cargo:rerun-if-env-changed=WAYLOG_COMMIT");
    if std::env::var_os("WAYLOG_COMMIT").is_some() {
        return;
    }
    // Rebuild when HEAD moves: the HEAD file, the branch it names, and packed refs (only
    // files that exist: a missing one would rerun this script on every build).
    let branch = git(&["symbolic-ref", "-q", "HEAD"]);
    let watched = ["HEAD", branch.as_deref().unwrap_or("HEAD"), "packed-refs"];
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", name])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(commit) = git(&["rev-parse", "--short=12", "HEAD"]) {
        println!("cargo:rustc-env=WAYLOG_COMMIT={commit}");
    }
}
