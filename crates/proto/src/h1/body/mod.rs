//! Message bodies: decoding received bodies and encoding bodies to send.
//!
//! A [`Decoder`] is created from the [`BodyKind`](crate::BodyKind) of a
//! parsed head and then fed the bytes that follow the head. It never copies
//! body bytes: each call reports how many input bytes it consumed and which
//! range of the input, if any, is body data.
//!
//! An [`Encoder`] is chosen when a head is written and frames the body
//! bytes that follow it (adding chunk headers, or checking the declared
//! length).

mod chunked;
mod decode;
mod encode;

pub use decode::{Decoded, Decoder};
pub use encode::{allowed_in_trailers, Encoder, Frame};
