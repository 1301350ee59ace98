//! How answers are handed to a connection: large ones in slices.
//!
//! actix copies each answer into its connection's write buffer and keeps that buffer, at the
//! size of the largest answer sent on it, for as long as the connection lives (up to 128 KiB).
//! Four weeks of availability is about 28 KB, so on a release morning every keep-alive
//! connection held one: 512 connections were 19 MB of an instance's memory. Handed over in
//! slices, with the server flushing once [`FLUSH_FROM`] bytes wait, a connection's buffer stays
//! at the 8 KiB it starts with. The slices go out without waiting for the client's
//! acknowledgement of the one before ([`no_delay`]): otherwise Nagle's rule would hold each
//! slice until the client's delayed ACK.

use std::{
    any::Any,
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use actix_web::{
    body::{BodySize, EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    rt::net::TcpStream,
    web::Bytes,
};

/// A connection's write buffer is flushed once this much waits in it (actix's
/// `h1_write_buffer_size`).
pub const FLUSH_FROM: usize = 4 * 1024;
/// One slice: with the answer's head (well under 2 KiB), it fits in the 8 KiB the buffer
/// starts with.
const SLICE: usize = 6 * 1024;

/// Middleware: answers longer than one slice, held whole in memory, are sent in slices.
pub async fn in_slices<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<Sliced, B>>, actix_web::Error> {
    let response = next.call(req).await?;
    Ok(response.map_body(|_, body| match body.size() {
        BodySize::Sized(size) if size > SLICE as u64 => match body.try_into_bytes() {
            Ok(whole) => EitherBody::left(Sliced(whole)),
            Err(body) => EitherBody::right(body),
        },
        _ => EitherBody::right(body),
    }))
}

/// Connection setup (`HttpServer::on_connect`): slices leave as they are written.
pub fn no_delay(connection: &dyn Any, _: &mut actix_web::dev::Extensions) {
    if let Some(stream) = connection.downcast_ref::<TcpStream>()
        && let Err(error) = stream.set_nodelay(true)
    {
        tracing::warn!(%error, "could not set TCP_NODELAY on a connection");
    }
}

/// The rest of an answer, handed over a slice at a time (each one shares the answer's memory).
pub struct Sliced(Bytes);

impl MessageBody for Sliced {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.0.len() as u64)
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let rest = &mut self.0;
        if rest.is_empty() {
            return Poll::Ready(None);
        }
        let slice = rest.split_to(rest.len().min(SLICE));
        Poll::Ready(Some(Ok(slice)))
    }
}
