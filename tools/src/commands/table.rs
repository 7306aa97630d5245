//! Plain aligned text tables for human output.

use std::io::{self, Write};

/// Writes `rows` under `headers`, each column padded to its widest cell.
pub(crate) fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.len());
            }
        }
    }
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            let last = i + 1 == row.len();
            if last {
                line.push_str(cell);
            } else {
                let width = widths.get(i).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// Prints a table to stdout.
pub(crate) fn print_table(headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    write_table(&mut out, headers, rows)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["0".to_owned(), "leader-1".to_owned(), "x".to_owned()],
            vec!["10".to_owned(), "2".to_owned(), "y".to_owned()],
        ];
        write_table(&mut out, &["P", "LEADER", "Z"], &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "P   LEADER    Z\n0   leader-1  x\n10  2         y\n"
        );
    }
}
