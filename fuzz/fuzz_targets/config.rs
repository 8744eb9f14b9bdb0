//! Config parsing: `gateway.toml` (`Config::from_toml_str`), the users file
//! (`Users::from_toml_str`) and durations. Oracle: no panic, whatever the text; every error
//! is a value. Relative paths resolve against a folder that does not exist, so nothing is
//! read or written.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new("/nonexistent/gateway-fuzz");
    if let Err(error) = gateway::Config::from_toml_str(text, base) {
        // Rendering the positioned errors is part of the parser's job too.
        let _ = error.to_string();
    }
    if let Err(error) = gateway::fuzzing::Users::from_toml_str(text) {
        let _ = error.to_string();
    }
    let _ = gateway::config::parse_duration(text);
});
