#![no_main]

use libfuzzer_sys::fuzz_target;
use waiter_proto::{parse_request, Limits};

fuzz_target!(|data: &[u8]| {
    // Any input must give a head, "incomplete" or an error: never a panic.
    if let Ok(Some(req)) = parse_request(data, &Limits::default()) {
        assert!(req.head_len <= data.len());
    }
});
