//! HTTP/1.1 (and 1.0) message syntax, framing and connection management.
//!
//! Everything here follows RFC 9110 (semantics) and RFC 9112 (HTTP/1.1
//! message syntax). Where those documents allow leniency, this module picks
//! the strict reading; each such choice is documented where it is made.

pub mod body;
pub mod conn;
pub mod encode;
pub mod head;
pub mod parse;

pub(crate) mod syntax;
