//! Files the gateway writes itself: the generated development certificate and key, and a
//! generated JWT secret. Each is created once, never overwritten, with its permissions set
//! at creation (so a secret is never readable by others, not even for a moment).

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
