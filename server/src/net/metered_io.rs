//! The byte stream under a game WebSocket: every frame header the client sends is charged to its
//! [`FrameBudget`], and when the connection is dropped the socket *lingers*.
//!
//! Lingering matters for close codes: a socket closed while the client's bytes are still unread
//! makes the kernel answer with a reset, and a reset can destroy the `Bye` and close frame the
//! server just wrote before the client reads them (this is how an oversized frame used to end in a
//! bare TCP drop instead of 1009). So on drop the stream shuts down its sending side and reads and
//! discards whatever the client still sends, for at most [`LINGER`], in a task of its own.

use crate::net::admission::ConnectionPermit;
use crate::net::frame_meter::{FrameBudget, FrameMeter, Verdict};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long a dropped connection keeps reading (and discarding) the client's bytes so that its
/// last frames are not destroyed by a reset.
pub const LINGER: Duration = Duration::from_secs(2);

/// The error a read returns once the client has flooded past its budget.
#[derive(Debug, thiserror::Error)]
#[error("the client sent more frames than its budget allows")]
pub struct Flooded;

/// A client's byte stream, metered and lingering (see the module docs).
pub struct MeteredIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    inner: Option<S>,
    meter: FrameMeter,
    budget: Arc<FrameBudget>,
    permit: Option<ConnectionPermit>,
}

impl<S> MeteredIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Wraps `inner`; `permit` (the connection's place in the connection limits) is released
    /// only when the lingering ends.
    pub fn new(inner: S, budget: Arc<FrameBudget>, permit: Option<ConnectionPermit>) -> MeteredIo<S> {
        MeteredIo { inner: Some(inner), meter: FrameMeter::default(), budget, permit }
    }

    fn inner(&mut self) -> io::Result<&mut S> {
        self.inner.as_mut().ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl<S> AsyncRead for MeteredIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.budget.exhausted() {
            return Poll::Ready(Err(io::Error::other(Flooded)));
        }
        let before = buf.filled().len();
        let inner = match this.inner() {
            Ok(inner) => inner,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let poll = Pin::new(inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let now = Instant::now();
            let mut verdict = Verdict::Pass;
            let budget = &this.budget;
            this.meter.feed(&buf.filled()[before..], |_| verdict = budget.charge(now));
            if verdict == Verdict::Close {
                return Poll::Ready(Err(io::Error::other(Flooded)));
            }
        }
        poll
    }
}

impl<S> AsyncWrite for MeteredIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().inner() {
            Ok(inner) => Pin::new(inner).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(AsyncWrite::is_write_vectored)
    }
}

impl<S> Drop for MeteredIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn drop(&mut self) {
        let (Some(mut inner), Ok(runtime)) = (self.inner.take(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let permit = self.permit.take();
        runtime.spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(LINGER, async {
                let _ = inner.shutdown().await;
                let mut sink = [0u8; 1024];
                while let Ok(n) = inner.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        });
    }
}
