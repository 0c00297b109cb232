//! The write side of [`Conn`]: response framing and persistence.

use super::{Conn, Exchange, Reading, Writing};
use crate::error::{EncodeError, EncodeErrorKind};
use crate::h1::body::{Decoder, Encoder, Frame};
use crate::h1::encode::{
    common_status_line, push_checked_fields, push_status_line, write_response_head,
};
use crate::h1::head::{trim_ows, Headers, ResponseHead, StaticField, StatusCode, Version};
use crate::h1::parse::{content_length, Present};
use crate::h1::syntax::is_tchar;

/// Field lines a server adds to a response that has no field of the same
/// name, pre-built by the server: each empty, or complete lines
/// (`name: value\r\n`).
#[derive(Debug, Default, Clone, Copy)]
pub struct OwnLines<'a> {
    /// `date: <IMF-fixdate>\r\n`.
    pub date: &'a [u8],
    /// `keep-alive: timeout=N\r\n`: sent only when the connection stays
    /// open after the response.
    pub keep_alive: &'a [u8],
}

/// Bytes of `date: <IMF-fixdate>\r\n`.
const DATE_LINE_LEN: usize = b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n".len();

const CONNECTION_CLOSE: StaticField = StaticField::new("connection", "close");
const CONNECTION_KEEP_ALIVE: StaticField = StaticField::new("connection", "keep-alive");

/// How a response is framed, decided from its request and status.
#[derive(Debug)]
struct Plan {
    /// Body encoder.
    encoder: Encoder,
    /// Content-Length to set, if any.
    length: Option<u64>,
    /// Whether to send `Transfer-Encoding: chunked`.
    chunked: bool,
    /// Whether framing fields must be removed (204, 2xx to CONNECT).
    strip_length: bool,
    /// The response switches protocols.
    upgraded: bool,
}

impl Conn {
    /// Writes the head of the response to the oldest unanswered request.
    ///
    /// `body_len` is the body size if known. The connection adds
    /// Content-Length or `Transfer-Encoding: chunked` and `Connection` as
    /// needed, and always answers as HTTP/1.1. A Content-Length field set
    /// by the caller is honoured (it must agree with `body_len`). A
    /// Transfer-Encoding field set by the caller (codings it applied
    /// itself, such as `gzip`) makes the body chunked, as in hyper:
    /// `chunked` is added when it is not the last coding, and a
    /// Content-Length is removed. It is removed where it must not be sent
    /// (204, a 2xx to CONNECT, 101, and to HTTP/1.0 clients, where a coding
    /// other than `chunked` is an error) and kept as stated for HEAD and
    /// 304, where it tells what a GET would have carried. Interim 1xx responses (other
    /// than 100 and 101) are written as they are and leave the response
    /// open; they are dropped for HTTP/1.0 clients. Nothing is written on
    /// error.
    pub fn write_head(
        &mut self,
        head: ResponseHead,
        body_len: Option<u64>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.write_head_with(head, body_len, OwnLines::default(), out)
    }

    /// Like [`write_head`](Self::write_head), adding a server's own
    /// pre-built field lines where the response has no field of that name
    /// (see [`OwnLines`]), so a server sends `Date` and `Keep-Alive`
    /// without allocating.
    pub fn write_head_with(
        &mut self,
        mut head: ResponseHead,
        body_len: Option<u64>,
        own: OwnLines<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        match self.writing {
            Writing::Closed => return Err(EncodeErrorKind::Closed.into()),
            Writing::Body(_) => return Err(EncodeErrorKind::ResponseStarted.into()),
            Writing::Init => {}
        }
        let ex = *self.queue.front().ok_or(EncodeErrorKind::NoRequest)?;
        head.version = Version::Http11;
        let status = head.status;
        if status == StatusCode::CONTINUE {
            return Err(EncodeErrorKind::Status.into());
        }
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            return match ex.version {
                Version::Http10 => Ok(()),
                Version::Http11 => write_response_head(&head, out),
            };
        }
        let mark = out.len();
        let (plan, keep_alive) = match self.push_head(&ex, &mut head, body_len, own, out) {
            Ok(done) => done,
            Err(e) => {
                out.truncate(mark);
                return Err(e);
            }
        };
        let front = self.queue.front_mut().expect("checked above");
        front.keep_alive = keep_alive || plan.upgraded;
        front.upgraded = plan.upgraded;
        if !keep_alive && !plan.upgraded {
            self.keep_alive = false;
        }
        self.writing = Writing::Body(plan.encoder);
        Ok(())
    }

    /// Appends the head of a final response to `ex` and returns its plan
    /// and whether the connection stays open after it. The status line
    /// and the fields are written (and checked) in one pass that also notes
    /// the fields framing depends on; only when the plan must change one of
    /// them (a Content-Length to strip, a Connection field to replace) is
    /// the head written again from the edited fields. On error the caller
    /// truncates `out`.
    fn push_head(
        &self,
        ex: &Exchange,
        head: &mut ResponseHead,
        body_len: Option<u64>,
        own: OwnLines<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(Plan, bool), EncodeError> {
        let mark = out.len();
        push_status_line(head, out)?;
        let mut fields = Present::default();
        push_checked_fields(&head.headers, out, |i, name| fields.note(i, name))?;
        let codings = if fields.transfer_encoding {
            Some(transfer_codings(&head.headers)?)
        } else {
            None
        };
        let mut plan = plan(
            ex,
            head.status,
            declared_length(
                &head.headers,
                &fields,
                body_len,
                drops_body(ex, head.status),
            )?,
        )?;
        let te = match codings {
            Some(c) => framing_by_codings(&mut plan, c, ex, head.status)?,
            None => TeField::Absent,
        };
        let keep_alive = ex.keep_alive
            && (!fields.connection || !head.headers.contains_token("connection", "close"))
            && !plan.encoder.is_close_delimited()
            && !self.body_waits_for_continue()
            && !self.body_left_too_long()
            && !self.is_last_response();
        let connection = if plan.upgraded {
            ConnectionField::Keep
        } else {
            connection_field(&head.headers, &fields, keep_alive, ex.version)
        };
        if (plan.strip_length && fields.content_length)
            || connection == ConnectionField::Replace
            || !matches!(te, TeField::Absent | TeField::Keep)
        {
            // Rare: edit the fields and write the head again.
            out.truncate(mark);
            if plan.strip_length {
                head.headers.remove("content-length");
            }
            match te {
                TeField::Absent | TeField::Keep => {}
                TeField::Remove => {
                    head.headers.remove("transfer-encoding");
                }
                TeField::AddChunked => {
                    let mut value = Vec::new();
                    for coding in head.headers.list("transfer-encoding") {
                        value.extend_from_slice(coding);
                        value.extend_from_slice(b", ");
                    }
                    value.extend_from_slice(b"chunked");
                    head.headers.insert("transfer-encoding", value);
                }
            }
            if connection == ConnectionField::Replace {
                head.headers.insert_static(if keep_alive {
                    &CONNECTION_KEEP_ALIVE
                } else {
                    &CONNECTION_CLOSE
                });
            }
            push_status_line(head, out)?;
            push_checked_fields(&head.headers, out, |_, _| {})?;
        }
        if let ConnectionField::Add(line) = connection {
            out.extend_from_slice(line);
        }
        // The caller's Transfer-Encoding, when sent, is the framing line.
        if !fields.content_length && matches!(te, TeField::Absent | TeField::Remove) {
            push_framing_line(&plan, out);
        }
        if !fields.date {
            // An IMF-fixdate line is always this long: copied inline.
            match <&[u8; DATE_LINE_LEN]>::try_from(own.date) {
                Ok(line) => out.extend_from_slice(line),
                Err(_) => out.extend_from_slice(own.date),
            }
        }
        if keep_alive && !plan.upgraded && !fields.keep_alive {
            out.extend_from_slice(own.keep_alive);
        }
        out.extend_from_slice(b"\r\n");
        Ok((plan, keep_alive))
    }

    /// A whole response whose body is in memory, in one call: what
    /// [`write_head_with`](Self::write_head_with) with the body's length,
    /// [`write_body`](Self::write_body) and
    /// [`finish_response`](Self::finish_response) would write (the body
    /// is left out where the framing says so, as for HEAD). An interim
    /// (1xx) status is an error here: the body could not follow it.
    pub fn write_full_response_with(
        &mut self,
        head: ResponseHead,
        body: &[u8],
        own: OwnLines<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        if self.write_plain_full(&head, body, own, out)? {
            return Ok(());
        }
        // All or nothing: a body the framing refuses (after a 101, or a 2xx
        // to CONNECT) or an interim status leaves no bytes and no state
        // behind, so the caller can still answer with an error response.
        let mark = out.len();
        let saved = (self.queue.front().copied(), self.keep_alive);
        let was_init = matches!(self.writing, Writing::Init);
        let r = self
            .write_head_with(head, Some(body.len() as u64), own, out)
            .and_then(|()| match &mut self.writing {
                Writing::Body(encoder) => {
                    encoder.encode(body, out)?;
                    encoder.finish(out)
                }
                _ => Err(EncodeErrorKind::Status.into()),
            });
        match r {
            Ok(()) => {
                self.end_response();
                Ok(())
            }
            Err(e) => {
                out.truncate(mark);
                if let (Some(front), Some(ex)) = (self.queue.front_mut(), saved.0) {
                    *front = ex;
                }
                self.keep_alive = saved.1;
                if was_init {
                    self.writing = Writing::Init;
                }
                Err(e)
            }
        }
    }

    /// Whether the body of the response being written is dropped (HEAD,
    /// 204, 304), so a caller need not produce it.
    pub fn drops_response_body(&self) -> bool {
        matches!(&self.writing, Writing::Body(e) if e.is_discard())
    }

    /// The common case of [`write_full_response_with`]: a final response
    /// with a canonical reason and a body, to a request that is neither
    /// HEAD nor CONNECT, whose fields leave the framing and persistence
    /// to the connection (no Content-Length, Transfer-Encoding,
    /// Connection, Date or Keep-Alive). Its framing is always
    /// Content-Length, so it is written at once, without a body encoder;
    /// the bytes and the state after it are those of the general path
    /// (a test compares the two). Returns false, having written nothing,
    /// when the response is not of that kind.
    fn write_plain_full(
        &mut self,
        head: &ResponseHead,
        body: &[u8],
        own: OwnLines<'_>,
        out: &mut Vec<u8>,
    ) -> Result<bool, EncodeError> {
        if !matches!(self.writing, Writing::Init) || head.reason.is_some() {
            return Ok(false);
        }
        let Some(ex) = self.queue.front().copied() else {
            return Ok(false);
        };
        let status = head.status;
        if ex.head
            || ex.connect
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok(false);
        }
        let Some(line) = common_status_line(status.as_u16()) else {
            return Ok(false);
        };
        let mark = out.len();
        out.extend_from_slice(line);
        let mut fields = Present::default();
        if let Err(e) = push_checked_fields(&head.headers, out, |i, name| fields.note(i, name)) {
            out.truncate(mark);
            return Err(e);
        }
        if fields.content_length
            || fields.transfer_encoding
            || fields.connection
            || fields.date
            || fields.keep_alive
        {
            out.truncate(mark);
            return Ok(false);
        }
        let keep_alive =
            ex.keep_alive && !self.body_waits_for_continue() && !self.is_last_response();
        if let ConnectionField::Add(line) =
            connection_field(&head.headers, &fields, keep_alive, ex.version)
        {
            out.extend_from_slice(line);
        }
        push_content_length(body.len() as u64, out);
        match <&[u8; DATE_LINE_LEN]>::try_from(own.date) {
            Ok(line) => out.extend_from_slice(line),
            Err(_) => out.extend_from_slice(own.date),
        }
        if keep_alive {
            out.extend_from_slice(own.keep_alive);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        let front = self.queue.front_mut().expect("checked above");
        front.keep_alive = keep_alive;
        front.upgraded = false;
        if !keep_alive {
            self.keep_alive = false;
        }
        self.end_response();
        Ok(true)
    }

    /// Appends body bytes of the current response, framed.
    pub fn write_body(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encoder()?.encode(data, out)
    }

    /// The framing for `len` body bytes, for vectored writes: write
    /// `frame.prefix()`, the data if `frame.sends_data()`, then `frame.suffix()`.
    pub fn body_frame(&mut self, len: usize) -> Result<Frame, EncodeError> {
        self.encoder()?.frame(len)
    }

    /// Ends the current response; fails (and stays open) if fewer bytes than
    /// the declared length were written.
    pub fn finish_response(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encoder()?.finish(out)?;
        self.end_response();
        Ok(())
    }

    /// Ends the current response, sending `trailers` if it is chunked.
    pub fn finish_response_with_trailers(
        &mut self,
        trailers: &Headers,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.encoder()?.finish_with_trailers(trailers, out)?;
        self.end_response();
        Ok(())
    }

    /// The current response's body is finished: on to the next exchange.
    fn end_response(&mut self) {
        self.writing = Writing::Init;
        let ex = self
            .queue
            .pop_front()
            .expect("a response in progress has an exchange");
        if ex.upgraded {
            self.writing = Writing::Closed;
            self.queue.clear();
            match self.reading {
                Reading::AwaitUpgrade => self.reading = Reading::Upgraded,
                _ => self.upgrading = true,
            }
        } else if !ex.keep_alive {
            self.close();
        } else if self.queue.is_empty() {
            match &self.reading {
                Reading::Body(d) if d.is_done() => self.set_reading(self.next_head_state()),
                // Known to be longer than is worth skipping: close.
                Reading::Body(d) if self.too_long_to_drain(d) => {
                    self.close();
                }
                Reading::Body(_) => {
                    let Reading::Body(decoder) =
                        std::mem::replace(&mut self.reading, Reading::Closed)
                    else {
                        unreachable!("matched above")
                    };
                    self.reading = Reading::Drain(decoder, self.limits.max_drain);
                }
                Reading::AwaitUpgrade => self.reading = self.next_head_state(),
                _ => {}
            }
        }
    }

    /// After [`Event::Error`](super::Event::Error): writes the canned
    /// response for the error (`Connection: close`, empty body) unless the
    /// response to the failed request has already started (or been sent,
    /// for an unread body being skipped), and closes the connection. An
    /// HTTP/2 connection preface gets 505 too: the HTTP/2 client fails on
    /// it as it would on a close, and whoever reads the bytes sees why.
    /// `date` is the
    /// server's `date: <IMF-fixdate>\r\n` line (RFC 9110 §6.6.1 wants it
    /// on every response from a server with a clock), or empty. Returns
    /// whether anything was written.
    pub fn write_error_response(&mut self, date: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(pending) = self.error.as_ref().filter(|e| e.delivered) else {
            return false;
        };
        let respond = pending.respond
            && matches!(self.writing, Writing::Init)
            && self.queue.len() == usize::from(pending.in_queue);
        if respond {
            canned_response(pending.error.status(), date, out);
        }
        self.close();
        respond
    }

    fn encoder(&mut self) -> Result<&mut Encoder, EncodeError> {
        match &mut self.writing {
            Writing::Body(encoder) => Ok(encoder),
            Writing::Init => Err(EncodeErrorKind::NoResponse.into()),
            Writing::Closed => Err(EncodeErrorKind::Closed.into()),
        }
    }

    /// Reading has stopped (end of stream, or a close already decided) and
    /// this is the last response owed, so it announces the close. Not when
    /// an error is pending: its canned response comes last and closes.
    fn is_last_response(&self) -> bool {
        !self.keep_alive && self.queue.len() == 1 && self.error.is_none()
    }

    /// The front request still waits for `100 Continue`, so its body may
    /// never be sent: the connection cannot be reused after the response.
    fn body_waits_for_continue(&self) -> bool {
        matches!(self.reading, Reading::Continue(_)) && self.queue.len() == 1
    }

    /// The front request's body is still arriving and more of it is left
    /// than [`Limits::max_drain`](crate::Limits::max_drain): unless the
    /// handler reads it all, the connection closes after the response
    /// (see `end_response`), so the head says so, as Go's server does.
    fn body_left_too_long(&self) -> bool {
        match &self.reading {
            Reading::Body(d) => self.queue.len() == 1 && self.too_long_to_drain(d),
            _ => false,
        }
    }

    /// More of the body `d` is known to be left than is worth skipping.
    fn too_long_to_drain(&self, d: &Decoder) -> bool {
        d.remaining().is_some_and(|n| n > self.limits.max_drain)
    }
}

/// Whether the response to `ex` with `status` carries no body whatever the
/// caller gives: HEAD, 204 and 304.
fn drops_body(ex: &Exchange, status: StatusCode) -> bool {
    ex.head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
}

/// The length from `body_len` and any Content-Length field; they must
/// agree, unless the body is dropped (`drops_body`): then a field states
/// the length a GET or 200 would have carried (RFC 9110 section 8.6) and is
/// taken as it is.
fn declared_length(
    headers: &Headers,
    fields: &Present,
    body_len: Option<u64>,
    drops_body: bool,
) -> Result<Option<u64>, EncodeError> {
    if !fields.content_length {
        return Ok(body_len);
    }
    let field = content_length(headers).map_err(|_| EncodeErrorKind::FramingHeader)?;
    match (body_len, field) {
        (_, Some(b)) if drops_body => Ok(Some(b)),
        (Some(a), Some(b)) if a != b => Err(EncodeErrorKind::FramingHeader.into()),
        (a, b) => Ok(a.or(b)),
    }
}

/// Chooses the response framing (RFC 9112 section 6.3, RFC 9110 section 9.3.6).
fn plan(ex: &Exchange, status: StatusCode, len: Option<u64>) -> Result<Plan, EncodeError> {
    let mut plan = Plan {
        encoder: Encoder::empty(),
        length: None,
        chunked: false,
        strip_length: false,
        upgraded: false,
    };
    if status == StatusCode::SWITCHING_PROTOCOLS {
        if !ex.upgrade {
            return Err(EncodeErrorKind::Status.into());
        }
        plan.upgraded = true;
    } else if ex.connect && status.is_success() {
        plan.upgraded = true;
        plan.strip_length = true;
    } else if ex.head {
        plan.encoder = Encoder::discard();
        plan.length = len;
    } else if status == StatusCode::NO_CONTENT {
        // A body given anyway is dropped, as Node and hyper do.
        plan.encoder = Encoder::discard();
        plan.strip_length = true;
    } else if status == StatusCode::NOT_MODIFIED {
        // No Content-Length of our own: it would have to be the selected
        // representation's (RFC 9110 section 8.6), which only the caller
        // knows; a field the caller set is kept.
        plan.encoder = Encoder::discard();
    } else if let Some(n) = len {
        plan.encoder = Encoder::length(n);
        plan.length = Some(n);
    } else if ex.version == Version::Http11 {
        plan.encoder = Encoder::chunked();
        plan.chunked = true;
    } else {
        plan.encoder = Encoder::eof();
    }
    Ok(plan)
}

/// A caller's Transfer-Encoding list: whether it ends in `chunked`.
#[derive(Debug, Clone, Copy)]
struct Codings {
    /// The last coding is `chunked`.
    chunked_last: bool,
    /// There are codings other than `chunked`.
    others: bool,
}

/// Checks a caller's Transfer-Encoding list: coding names are tokens, and
/// `chunked`, if there, is last and only once.
fn transfer_codings(headers: &Headers) -> Result<Codings, EncodeError> {
    let bad = || EncodeError::from(EncodeErrorKind::FramingHeader);
    let codings: Vec<&[u8]> = headers.list("transfer-encoding").collect();
    let (last, others) = codings.split_last().ok_or_else(bad)?;
    let is_chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
    for coding in &codings {
        let name = trim_ows(coding.split(|&b| b == b';').next().unwrap_or_default());
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(bad());
        }
    }
    if others.iter().any(|c| is_chunked(c)) {
        return Err(bad());
    }
    let chunked_last = is_chunked(last);
    Ok(Codings {
        chunked_last,
        others: !others.is_empty() || !chunked_last,
    })
}

/// What becomes of a caller's Transfer-Encoding field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TeField {
    /// There is none.
    Absent,
    /// Sent as it is.
    Keep,
    /// Sent with `chunked` appended.
    AddChunked,
    /// Not sent.
    Remove,
}

/// Adjusts `plan` to a caller's Transfer-Encoding field (see
/// [`Conn::write_head`]) and says what becomes of the field.
fn framing_by_codings(
    plan: &mut Plan,
    codings: Codings,
    ex: &Exchange,
    status: StatusCode,
) -> Result<TeField, EncodeError> {
    if plan.upgraded || status == StatusCode::NO_CONTENT {
        return Ok(TeField::Remove);
    }
    if ex.head || status == StatusCode::NOT_MODIFIED {
        // What a GET would have carried: no length of ours beside it.
        plan.length = None;
        plan.strip_length = true;
        return Ok(TeField::Keep);
    }
    if ex.version == Version::Http10 {
        // The field must not be sent, and no coding but chunked (which is
        // ours to apply) can go without it.
        return if !codings.others {
            Ok(TeField::Remove)
        } else {
            Err(EncodeErrorKind::FramingHeader.into())
        };
    }
    plan.encoder = Encoder::chunked();
    plan.length = None;
    plan.chunked = true;
    plan.strip_length = true;
    Ok(if codings.chunked_last {
        TeField::Keep
    } else {
        TeField::AddChunked
    })
}

/// Appends the framing field line a plan adds (`content-length` or
/// `transfer-encoding`), if any; a caller's own Content-Length field,
/// checked to agree, is kept instead.
fn push_framing_line(plan: &Plan, out: &mut Vec<u8>) {
    if plan.strip_length {
        return;
    }
    if let Some(n) = plan.length {
        push_content_length(n, out);
    }
    if plan.chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
}

/// Appends `content-length: <n>\r\n`, with a shortcut for the one- and
/// two-digit lengths of small bodies.
fn push_content_length(n: u64, out: &mut Vec<u8>) {
    // Whole lines of a known size are one copy each, without a call.
    if n < 10 {
        let mut line = *b"content-length: 0\r\n";
        line[16] += n as u8;
        out.extend_from_slice(&line);
        return;
    }
    if n < 100 {
        let mut line = *b"content-length: 00\r\n";
        line[16] += (n / 10) as u8;
        line[17] += (n % 10) as u8;
        out.extend_from_slice(&line);
        return;
    }
    out.extend_from_slice(b"content-length: ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n;
    while rest > 0 {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// What the Connection field of a response needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectionField {
    /// Nothing: the fields say what the connection does.
    Keep,
    /// This line, as there is no Connection field.
    Add(&'static [u8]),
    /// The response's own Connection field says otherwise: replace it.
    Replace,
}

/// `close` when the connection ends after this response, and
/// `keep-alive` when an HTTP/1.0 connection persists, unless the
/// response's own Connection field already says so.
fn connection_field(
    headers: &Headers,
    fields: &Present,
    keep_alive: bool,
    version: Version,
) -> ConnectionField {
    let has = |token| fields.connection && headers.contains_token("connection", token);
    let (needed, line): (_, &'static [u8]) = if !keep_alive && !has("close") {
        (true, b"connection: close\r\n")
    } else if keep_alive && version == Version::Http10 && !has("keep-alive") {
        (true, b"connection: keep-alive\r\n")
    } else {
        (false, b"")
    };
    match (needed, fields.connection) {
        (false, _) => ConnectionField::Keep,
        (true, false) => ConnectionField::Add(line),
        (true, true) => ConnectionField::Replace,
    }
}

/// Writes a response with no body that closes the connection, with the
/// `date` line (or none, if it is empty).
pub(super) fn canned_response(status: StatusCode, date: &[u8], out: &mut Vec<u8>) {
    push_status_line(&ResponseHead::new(status), out).expect("canonical reasons are valid");
    out.extend_from_slice(date);
    out.extend_from_slice(b"connection: close\r\ncontent-length: 0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::push_content_length;

    #[test]
    fn content_length_lines_hold_every_digit_and_nothing_else() {
        let lengths = [
            0,
            7,
            9,
            10,
            13,
            99,
            100,
            101,
            4096,
            999_999,
            1 << 40,
            u64::MAX,
        ];
        for n in lengths {
            let mut out = b"x".to_vec();
            push_content_length(n, &mut out);
            assert_eq!(out, format!("xcontent-length: {n}\r\n").as_bytes());
        }
    }
}
