//! CSV files handed out (the device and work-order exports): UTF-8 with a byte-order mark
//! so that Excel reads them as UTF-8, a header row, and text cells that a spreadsheet
//! would run as a formula guarded with a leading `'` (OWASP "CSV injection").
//!
//! A file is written in pieces ([`CsvChunk`]): the header with the BOM first, then one
//! piece per batch of rows, so that an export can be streamed without holding the table.

use crate::{DomainError, DomainResult};

/// The UTF-8 byte-order mark a file starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What a spreadsheet would take for a formula at the start of a cell.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a cell a spreadsheet shows as text: one that would start a formula gets a
/// leading `'` (an import takes it off again with [`unguarded`]).
pub fn safe_cell(text: &str) -> String {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// An optional text cell, guarded; none is an empty cell.
pub fn safe_optional(text: Option<&str>) -> String {
    text.map(safe_cell).unwrap_or_default()
}

/// An enum as the text it is stored and sent as (its serde name).
pub fn enum_cell<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A cell as read back: the `'` that [`safe_cell`] put before a formula start is taken off.
pub fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

/// One piece of a CSV file: rows written with RFC 4180 quoting.
pub struct CsvChunk {
    writer: ::csv::Writer<Vec<u8>>,
}

fn failed(e: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("csv: {e}"))
}

impl CsvChunk {
    /// The first piece of a file: the BOM and the header row.
    pub fn start<I, S>(header: I) -> DomainResult<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut chunk = Self {
            writer: ::csv::Writer::from_writer(BOM.to_vec()),
        };
        chunk.writer.write_record(header).map_err(failed)?;
        Ok(chunk)
    }

    /// A later piece: rows only.
    pub fn rows() -> Self {
        Self {
            writer: ::csv::Writer::from_writer(Vec::new()),
        }
    }

    /// Appends one row (cells already guarded where they are text).
    pub fn write<I, S>(&mut self, row: I) -> DomainResult<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.writer.write_record(row).map_err(failed)
    }

    /// The bytes of this piece.
    pub fn finish(self) -> DomainResult<Vec<u8>> {
        self.writer.into_inner().map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_guarded_and_read_back() {
        for hostile in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(1)", "\tx", "\rx"] {
            let cell = safe_cell(hostile);
            assert_eq!(cell, format!("'{hostile}"));
            assert_eq!(unguarded(&cell), hostile);
        }
        assert_eq!(safe_cell("空调 = 坏"), "空调 = 坏");
        assert_eq!(unguarded("'quoted"), "'quoted");
    }

    #[test]
    fn a_file_starts_with_the_bom_and_its_header() -> DomainResult<()> {
        let mut first = CsvChunk::start(["a", "b"])?;
        first.write(["1", "x,y"])?;
        let mut second = CsvChunk::rows();
        second.write(["2", "z"])?;
        let mut file = first.finish()?;
        file.extend(second.finish()?);
        assert_eq!(file, b"\xEF\xBB\xBFa,b\n1,\"x,y\"\n2,z\n");
        Ok(())
    }
}
