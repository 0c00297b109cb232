#![no_main]

use libfuzzer_sys::fuzz_target;
use waiter_proto::{Decoder, Limits};

fuzz_target!(|data: &[u8]| {
    let mut decoder = Decoder::chunked(&Limits::default(), 0);
    let mut rest = data;
    while let Ok(d) = decoder.decode(rest) {
        assert!(d.data.end <= d.consumed && d.consumed <= rest.len());
        rest = &rest[d.consumed..];
        if d.done || d.consumed == 0 {
            break;
        }
    }
});
