//! Files the gateway writes itself: the generated development certificate and key, and a
//! generated JWT secret. Each is created once, never overwritten, with its permissions set
//! at creation (so a secret is never readable by others, not even for a moment). And the
//! users file that `gateway totp` edits: replaced whole, keeping its permissions.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Creates `path` (and its folder) with `mode`, refusing to overwrite an existing file.
pub fn write_file(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Replaces the contents of the existing file `path` at once: writes a sibling temporary
/// file with the same permissions, syncs it, and renames it over `path`, so a reader (a
/// reloading gateway) sees the old file or the new one, never half of one.
pub fn replace_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let _ = fs::remove_file(&temporary);
    write_file(&temporary, contents, mode)?;
    // `mode` at creation is filtered by the umask; set it exactly.
    fs::set_permissions(&temporary, fs::Permissions::from_mode(mode))?;
    fs::rename(&temporary, path)
}
