//! Serialisation of message heads.
//!
//! Everything written is validated first and nothing is appended on error,
//! so a caller-supplied name, value, reason or target can never inject a
//! line break (response splitting) or otherwise corrupt the framing.
//! These functions write exactly the fields given: choosing framing
//! headers is the job of [`Conn`](crate::Conn) or of the caller.

use crate::error::{EncodeError, EncodeErrorKind};
use crate::h1::head::{Headers, RequestHead, ResponseHead};
use crate::h1::syntax::{is_field_byte, is_tchar};

/// Appends `head` (status line, fields, empty line) to `out`.
pub fn write_response_head(head: &ResponseHead, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let reason = head.reason();
    if !reason.bytes().all(is_field_byte) {
        return Err(EncodeErrorKind::Reason.into());
    }
    check_fields(&head.headers)?;
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.status.as_u16().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_fields(&head.headers, out);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `head` (request line, fields, empty line) to `out`.
pub fn write_request_head(head: &RequestHead, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let method = head.method.as_str();
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(EncodeErrorKind::Method.into());
    }
    let target = head.target.as_bytes();
    if target.is_empty() || !target.iter().all(|b| (b'!'..=b'~').contains(b)) {
        return Err(EncodeErrorKind::Target.into());
    }
    check_fields(&head.headers)?;
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    push_fields(&head.headers, out);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends validated field lines (without the final empty line).
pub(crate) fn write_fields(headers: &Headers, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    check_fields(headers)?;
    push_fields(headers, out);
    Ok(())
}

fn check_fields(headers: &Headers) -> Result<(), EncodeError> {
    for (name, value) in headers.iter() {
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(EncodeErrorKind::HeaderName.into());
        }
        if !value.iter().all(|&b| is_field_byte(b)) {
            return Err(EncodeErrorKind::HeaderValue.into());
        }
    }
    Ok(())
}

fn push_fields(headers: &Headers, out: &mut Vec<u8>) {
    for (name, value) in headers.iter() {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::{Method, StatusCode, Version};

    #[test]
    fn response_head() {
        let mut head = ResponseHead::new(StatusCode::NOT_FOUND);
        head.headers.append("Content-Length", "0");
        let mut out = b"prev".to_vec();
        write_response_head(&head, &mut out).unwrap();
        assert_eq!(
            out,
            b"prevHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        );
        head.version = Version::Http10;
        head.reason = Some(String::new());
        let mut out = Vec::new();
        write_response_head(&head, &mut out).unwrap();
        assert_eq!(out, b"HTTP/1.0 404 \r\nContent-Length: 0\r\n\r\n");
    }

    #[test]
    fn response_injection_is_refused() {
        let cases: [(&str, &[u8], EncodeErrorKind); 5] = [
            ("X", b"a\r\nSet-Cookie: x", EncodeErrorKind::HeaderValue),
            ("X", b"a\nb", EncodeErrorKind::HeaderValue),
            ("X", b"a\0b", EncodeErrorKind::HeaderValue),
            ("X\r\nY", b"a", EncodeErrorKind::HeaderName),
            ("", b"a", EncodeErrorKind::HeaderName),
        ];
        for (name, value, kind) in cases {
            let mut head = ResponseHead::new(StatusCode::OK);
            head.headers.append(name, value);
            let mut out = Vec::new();
            assert_eq!(
                write_response_head(&head, &mut out).unwrap_err().kind(),
                kind
            );
            assert!(out.is_empty());
        }
        let mut head = ResponseHead::new(StatusCode::OK);
        head.reason = Some("OK\r\nX: y".into());
        assert_eq!(
            write_response_head(&head, &mut Vec::new())
                .unwrap_err()
                .kind(),
            EncodeErrorKind::Reason
        );
    }

    #[test]
    fn request_head() {
        let mut head = RequestHead::new(Method::Post, "/upload?x=1");
        head.headers.append("Host", "example.com");
        let mut out = Vec::new();
        write_request_head(&head, &mut out).unwrap();
        assert_eq!(
            out,
            b"POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        );
        let bad = RequestHead::new(Method::Get, "/a b");
        assert_eq!(
            write_request_head(&bad, &mut out).unwrap_err().kind(),
            EncodeErrorKind::Target
        );
        let bad = RequestHead::new(Method::Other("G T".into()), "/");
        assert_eq!(
            write_request_head(&bad, &mut out).unwrap_err().kind(),
            EncodeErrorKind::Method
        );
    }
}
