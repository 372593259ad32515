//! Drawing QR images off the async workers, a few at a time: a per-process limit on the
//! renders in flight (a request beyond it answers 503 with `Retry-After` at once, never
//! queueing), and the body of an export, written by the blocking pool as the client reads
//! it. No database connection is held while anything is drawn.

use std::io::{self, Write};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use baoxiu_core::DomainResult;
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use crate::problem::ApiError;
use crate::state::AppState;

/// What a refused caller is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 2;

/// An export whose reader takes nothing for this long is abandoned, freeing its slot.
const STALLED_READER: Duration = Duration::from_secs(30);

/// Bytes sent to the client at a time.
const CHUNK_BYTES: usize = 64 * 1024;

/// A render slot of this process, or 503 when every one is taken.
pub fn slot(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    state.renders.clone().try_acquire_owned().map_err(|_| {
        ApiError::unavailable(
            "the server is drawing as many QR images as it may at once; try again shortly",
        )
        .with_retry_after(RETRY_AFTER_SECS)
    })
}

/// Runs `draw` in the blocking pool, holding `slot` until it is done.
pub async fn draw<T: Send + 'static>(
    slot: OwnedSemaphorePermit,
    draw: impl FnOnce() -> DomainResult<T> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(web::block(move || {
        let _slot = slot;
        draw()
    })
    .await??)
}

/// A response body that `write` writes in the blocking pool, holding `slot` until it is
/// done. `write` gets a writer whose bytes go to the client as they are written (64 KiB
/// at a time, at most four chunks ahead of the client) and answers it back when done.
pub fn stream(
    slot: OwnedSemaphorePermit,
    write: impl FnOnce(ChunkWriter) -> DomainResult<ChunkWriter> + Send + 'static,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let (sender, receiver) = mpsc::channel(4);
    let runtime = tokio::runtime::Handle::current();
    actix_web::rt::task::spawn_blocking(move || {
        let _slot = slot;
        let out = ChunkWriter {
            sender: sender.clone(),
            buffer: Vec::with_capacity(CHUNK_BYTES),
            runtime,
        };
        let written = write(out).and_then(|mut out| {
            out.send()
                .map_err(|e| baoxiu_core::DomainError::Internal(format!("sending: {e}")))
        });
        if let Err(error) = written {
            if sender.is_closed() {
                tracing::debug!("the client left before the export was written");
            } else {
                // The status line is sent already: all that is left is to cut the body short.
                tracing::error!(%error, "the export failed while it was being sent");
                let _ = sender.blocking_send(Err(io::Error::other("the export failed")));
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
}

/// Bytes on their way to the client of a streamed export.
pub struct ChunkWriter {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buffer: Vec<u8>,
    runtime: tokio::runtime::Handle,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        let sent = self.runtime.block_on(tokio::time::timeout(
            STALLED_READER,
            self.sender.send(Ok(chunk)),
        ));
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client left")),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Sent in whole chunks; the rest goes when the export is done.
        Ok(())
    }
}
