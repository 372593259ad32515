//! Streamed CSV exports (devices, work orders): the file goes out in pieces, one keyset
//! page of rows at a time, so that a large export holds one batch in memory, never the
//! table, and holds no connection between batches.
//!
//! Each batch is its own read unit (one list statement); the first one is read before the
//! answer starts, so that a bad cursor or an unreachable database still answers
//! problem+json. Rows written to the table while an export runs may or may not be in it
//! (the keyset moves past the newest rows first); none comes out twice.

use actix_web::HttpResponse;
use actix_web::web::{self, Bytes};
use baoxiu_core::csv_file::CsvChunk;
use baoxiu_core::{Actor, DomainResult, Page, PageRequest};
use baoxiu_store::Tx;
use futures_util::StreamExt;

use crate::extract::SessionCheck;
use crate::problem::ApiError;
use crate::state::{Acting, AppState};

/// Reads one batch of rows: the page of `PageRequest` (cells already guarded).
pub trait Batch: Fn(&mut Tx<'_>, &PageRequest) -> DomainResult<Page<Vec<String>>> {}

impl<F> Batch for F where F: Fn(&mut Tx<'_>, &PageRequest) -> DomainResult<Page<Vec<String>>> {}

/// What one export is: its file name and header row.
pub struct CsvExport {
    pub filename: &'static str,
    pub header: Vec<&'static str>,
}

/// Who an export reads as: the caller, whose session (if still unchecked) is checked
/// with the first batch.
struct Reader {
    actor: Actor,
    session: SessionCheck,
}

impl Acting for Reader {
    fn actor(&self) -> Actor {
        self.actor.clone()
    }

    fn session(&self) -> SessionCheck {
        self.session.clone()
    }
}

struct Next<F> {
    state: web::Data<AppState>,
    actor: Reader,
    fetch: std::sync::Arc<F>,
    batch_rows: i64,
    cursor: Option<String>,
}

async fn read_batch<F>(
    state: &AppState,
    actor: &Reader,
    fetch: &std::sync::Arc<F>,
    page: PageRequest,
) -> Result<Page<Vec<String>>, ApiError>
where
    F: Batch + Send + Sync + 'static,
{
    let fetch = fetch.clone();
    state.read(actor, move |tx| fetch(tx, &page)).await
}

fn rows_of(mut chunk: CsvChunk, rows: &[Vec<String>]) -> DomainResult<Bytes> {
    for row in rows {
        chunk.write(row)?;
    }
    Ok(Bytes::from(chunk.finish()?))
}

impl CsvExport {
    /// Answers the file: `text/csv`, UTF-8 with a BOM, the header row, then the rows
    /// `fetch` reads, `config.export_batch_rows` per batch.
    pub async fn respond<F>(
        self,
        state: web::Data<AppState>,
        who: &impl Acting,
        fetch: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: Batch + Send + Sync + 'static,
    {
        let actor = Reader {
            actor: who.actor(),
            session: who.session(),
        };
        let fetch = std::sync::Arc::new(fetch);
        let batch_rows = i64::try_from(state.config.export_batch_rows).unwrap_or(1000);
        let first = read_batch(&state, &actor, &fetch, PageRequest::first(batch_rows)).await?;
        let head = rows_of(CsvChunk::start(&self.header)?, &first.items)?;
        let next = first.next_cursor.map(|cursor| Next {
            state,
            actor,
            fetch,
            batch_rows,
            cursor: Some(cursor),
        });
        let rest = futures_util::stream::unfold(next, |next| async move {
            let mut next = next?;
            let page = PageRequest {
                limit: next.batch_rows,
                cursor: next.cursor.take(),
            };
            let read = read_batch(&next.state, &next.actor, &next.fetch, page).await;
            let piece = read.and_then(|page| {
                let bytes = rows_of(CsvChunk::rows(), &page.items)?;
                Ok((bytes, page.next_cursor))
            });
            Some(match piece {
                Ok((bytes, cursor)) => {
                    next.cursor = cursor;
                    let more = next.cursor.is_some().then_some(next);
                    (Ok(bytes), more)
                }
                Err(error) => {
                    // The answer has started: all that is left is to cut it short.
                    tracing::error!(%error, "an export failed between two batches");
                    (Err(actix_web::Error::from(error)), None)
                }
            })
        });
        let body =
            futures_util::stream::once(async move { Ok::<_, actix_web::Error>(head) }).chain(rest);
        Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", self.filename),
            ))
            .streaming(body))
    }
}
