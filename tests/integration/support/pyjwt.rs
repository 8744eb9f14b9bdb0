//! PyJWT, an independent JWT implementation, run through `/usr/bin/python3` for the interop
//! tests.

use std::process::Command;

/// Runs `/usr/bin/python3 -c script args…` and returns its stdout, trimmed. Fails loudly
/// when python3 or the module is missing: the interop tests are not optional.
pub fn python3(script: &str, args: &[&str]) -> String {
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("/usr/bin/python3 is required for the interop tests (apt-get install python3-jwt): {e}")
        });
    assert!(
        output.status.success(),
        "python3 failed (is python3-jwt installed? apt-get install python3-jwt): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 output")
        .trim()
        .to_owned()
}
