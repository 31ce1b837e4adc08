//! `server-cli add-user FILE NAME`: adds a user to a users file, or
//! replaces one, reading the password from standard input. Only the Digest
//! hashes of `name:realm:password` are written (see
//! `mjpegrtsp::server::users`); the file is replaced whole (written beside
//! it, then renamed) and readable by its owner only.

use mjpegrtsp::server::users::{self, User, Users};
use std::io::{BufRead, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Adds or replaces `name`; says what it did on standard output.
pub fn run(file: &Path, name: &str, realm: &str, mounts: &str) -> Result<(), String> {
    let mut users = match std::fs::read_to_string(file) {
        Ok(text) => Users::parse(&text).map_err(|e| format!("{}: {e}", file.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Users::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let password = read_password(name)?;
    let mounts = users::parse_mounts(mounts);
    let replacing = users.get(name).is_some();
    users
        .set(User::new(name, realm, &password, mounts.clone()))
        .map_err(|e| e.to_string())?;
    write_file(file, &users.to_string())?;
    println!(
        "{} {name} in {} (realm {realm:?}, mounts {})",
        if replacing { "replaced" } else { "added" },
        file.display(),
        if mounts.is_empty() {
            "none".to_owned()
        } else {
            mounts.join(",")
        }
    );
    Ok(())
}

/// One line of standard input, without its line end.
fn read_password(name: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        // No echo control here: type it, or pipe it in.
        eprint!("password for {name} (shown as typed): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err("no password on standard input (one line is read)".into());
    }
    Ok(password.to_owned())
}

/// Writes `text` to `file` through a file beside it, mode 0600.
fn write_file(file: &Path, text: &str) -> Result<(), String> {
    let tmp = file.with_extension("tmp-add-user");
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", file.display())
    })
}
