//! Serialisation of message heads.
//!
//! Everything written is validated first and nothing is appended on error,
//! so a caller-supplied name, value, reason or target can never inject a
//! line break (response splitting) or otherwise corrupt the framing.
//! These functions write exactly the fields given: choosing framing
//! headers is the job of [`Conn`](crate::Conn) or of the caller.

use crate::error::{EncodeError, EncodeErrorKind};
use crate::h1::head::{Headers, RequestHead, ResponseHead, Version};
use crate::h1::syntax::{are_field_bytes, is_token};

/// Appends `head` (status line, fields, empty line) to `out`.
pub fn write_response_head(head: &ResponseHead, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mark = out.len();
    push_status_line(head, out)?;
    if let Err(e) = write_fields(&head.headers, out) {
        out.truncate(mark);
        return Err(e);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends the status line of `head`, after checking its reason phrase.
pub(crate) fn push_status_line(head: &ResponseHead, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if head.reason.is_none() && head.version == Version::Http11 {
        if let Some(line) = common_status_line(head.status.as_u16()) {
            out.extend_from_slice(line);
            return Ok(());
        }
    }
    // Canonical reasons are valid; only a caller's own is checked.
    let reason = match &head.reason {
        Some(r) if !are_field_bytes(r.as_bytes()) => return Err(EncodeErrorKind::Reason.into()),
        Some(r) => r.as_str(),
        None => head.status.reason(),
    };
    out.reserve(15 + reason.len());
    out.extend_from_slice(head.version.as_str().as_bytes());
    // A status is always three digits (`StatusCode` keeps it in 100..=999).
    let code = head.status.as_u16();
    out.extend_from_slice(&[
        b' ',
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
        b' ',
    ]);
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The whole HTTP/1.1 status line of the commonest statuses, with their
/// canonical reasons.
pub(crate) fn common_status_line(code: u16) -> Option<&'static [u8]> {
    Some(match code {
        200 => b"HTTP/1.1 200 OK\r\n",
        201 => b"HTTP/1.1 201 Created\r\n",
        204 => b"HTTP/1.1 204 No Content\r\n",
        206 => b"HTTP/1.1 206 Partial Content\r\n",
        301 => b"HTTP/1.1 301 Moved Permanently\r\n",
        302 => b"HTTP/1.1 302 Found\r\n",
        304 => b"HTTP/1.1 304 Not Modified\r\n",
        400 => b"HTTP/1.1 400 Bad Request\r\n",
        404 => b"HTTP/1.1 404 Not Found\r\n",
        500 => b"HTTP/1.1 500 Internal Server Error\r\n",
        _ => return None,
    })
}

/// Appends `head` (request line, fields, empty line) to `out`.
pub fn write_request_head(head: &RequestHead, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let method = head.method.as_str();
    if !is_token(method.as_bytes()) {
        return Err(EncodeErrorKind::Method.into());
    }
    let target = head.target.as_bytes();
    if target.is_empty() || !target.iter().all(|b| (b'!'..=b'~').contains(b)) {
        return Err(EncodeErrorKind::Target.into());
    }
    let mark = out.len();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Err(e) = write_fields(&head.headers, out) {
        out.truncate(mark);
        return Err(e);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends validated field lines (without the final empty line); on an
/// invalid field, nothing.
pub(crate) fn write_fields(headers: &Headers, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mark = out.len();
    push_checked_fields(headers, out, |_, _| {}).inspect_err(|_| out.truncate(mark))
}

/// Appends field lines, checking each as it goes (but those known valid:
/// see [`Headers`]) and showing each name to
/// `note` with its index. On an invalid field it stops with an error,
/// leaving the lines before it: the caller truncates.
pub(crate) fn push_checked_fields(
    headers: &Headers,
    out: &mut Vec<u8>,
    mut note: impl FnMut(usize, &[u8]),
) -> Result<(), EncodeError> {
    // Room for every line: names and values (and any orphaned bytes), and
    // 4 bytes of punctuation a line.
    out.reserve(headers.bytes_len() + 4 * headers.len());
    for (i, (name, value, check)) in headers.iter_to_encode().enumerate() {
        if check {
            if !is_token(name) {
                return Err(EncodeErrorKind::HeaderName.into());
            }
            if !are_field_bytes(value) {
                return Err(EncodeErrorKind::HeaderValue.into());
            }
        }
        note(i, name);
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::head::StaticField;
    use crate::h1::head::{Method, StatusCode};

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
    fn common_status_lines_are_the_ones_built() {
        for code in 100..=999 {
            let Some(line) = common_status_line(code) else {
                continue;
            };
            let status = StatusCode::from_u16(code).unwrap();
            let built = format!("HTTP/1.1 {code} {}\r\n", status.reason());
            assert_eq!(line, built.as_bytes());
        }
        assert!(common_status_line(200).is_some());
    }

    #[test]
    fn checked_fields_are_written_as_they_are_and_appended_ones_are_checked() {
        const TYPE: StaticField = StaticField::new("content-type", "text/plain");
        let mut head = ResponseHead::new(StatusCode::OK);
        head.headers.append_static(&TYPE);
        head.headers.insert_static(&TYPE);
        let mut out = Vec::new();
        write_response_head(&head, &mut out).unwrap();
        assert_eq!(out, b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n");
        head.headers.append("x-bad", "a\r\nb");
        head.headers.insert_static(&TYPE);
        assert_eq!(
            write_response_head(&head, &mut Vec::new())
                .unwrap_err()
                .kind(),
            EncodeErrorKind::HeaderValue
        );
        head.headers.remove("x-bad");
        head.headers.insert("content-type", "a\nb");
        assert_eq!(
            write_response_head(&head, &mut Vec::new())
                .unwrap_err()
                .kind(),
            EncodeErrorKind::HeaderValue,
            "a field replaced by insert is checked"
        );
        head.headers.insert_static(&TYPE);
        assert!(write_response_head(&head, &mut Vec::new()).is_ok());
    }

    #[test]
    #[should_panic(expected = "field value")]
    fn a_static_field_with_a_line_break_is_refused() {
        let _ = StaticField::new("x", "a\r\nSet-Cookie: y");
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
