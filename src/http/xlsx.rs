//! Report downloads as CSV or XLSX. The XLSX writer is small (Office Open XML
//! SpreadsheetML): one sheet, a bold header row frozen at the top, text and number cells.
//! Strings are written inline (no shared-string table), which every spreadsheet program
//! reads.
//!
//! Written here rather than taken from a crate because the XLSX crates pull a zlib
//! backend into `flate2` for the whole build, which would change the bytes of the demo's
//! gzipped files; this uses `zip` with `flate2`'s default backend.

use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

/// A cell of an exported table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number (not finite numbers are left empty).
    Number(f64),
    /// Nothing.
    Empty,
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const DOC_RELS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

/// Escapes text for XML, dropping the control characters XML 1.0 cannot hold.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The letters of a 0-based column: A … Z, AA, AB, …
fn column(mut i: usize) -> String {
    let mut s = vec![];
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn cell(out: &mut String, col: usize, row: usize, c: &Cell, style: u8) {
    let r = format!("{}{row}", column(col));
    let s = if style > 0 {
        format!(" s=\"{style}\"")
    } else {
        String::new()
    };
    match c {
        Cell::Text(t) => out.push_str(&format!(
            "<c r=\"{r}\" t=\"inlineStr\"{s}><is><t xml:space=\"preserve\">{}</t></is></c>",
            escape(t)
        )),
        Cell::Number(n) if n.is_finite() => {
            out.push_str(&format!("<c r=\"{r}\"{s}><v>{n}</v></c>"));
        }
        Cell::Number(_) | Cell::Empty => {}
    }
}

fn sheet_xml(header: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"{MAIN}\">\
         <sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" \
         activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews><sheetData>"
    );
    x.push_str("<row r=\"1\">");
    for (i, h) in header.iter().enumerate() {
        cell(&mut x, i, 1, &Cell::Text(h.to_string()), 1);
    }
    x.push_str("</row>");
    for (k, row) in rows.iter().enumerate() {
        x.push_str(&format!("<row r=\"{}\">", k + 2));
        for (i, c) in row.iter().enumerate() {
            cell(&mut x, i, k + 2, c, 0);
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
}

/// A workbook with one sheet: a header row and rows of cells.
pub fn workbook(
    sheet: &str,
    header: &[&str],
    rows: &[Vec<Cell>],
) -> zip::result::ZipResult<Vec<u8>> {
    workbook_of(&[Sheet {
        name: sheet,
        header,
        rows,
    }])
}

/// One sheet of a workbook: its name (unique in the workbook, at most 31 characters, none
/// of `[]:*?/\`), a header row and rows of cells.
pub struct Sheet<'a> {
    /// The sheet's name.
    pub name: &'a str,
    /// The header row.
    pub header: &'a [&'a str],
    /// The rows.
    pub rows: &'a [Vec<Cell>],
}

/// A workbook of several sheets, in order.
pub fn workbook_of(sheets: &[Sheet<'_>]) -> zip::result::ZipResult<Vec<u8>> {
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
    let n = sheets.len();
    let overrides: String = (1..=n)
        .map(|i| format!("<Override PartName=\"/xl/worksheets/sheet{i}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"))
        .collect();
    let names: String = sheets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "<sheet name=\"{}\" sheetId=\"{}\" r:id=\"rId{}\"/>",
                escape(s.name),
                i + 1,
                i + 1
            )
        })
        .collect();
    let rels: String = (1..=n)
        .map(|i| format!("<Relationship Id=\"rId{i}\" Type=\"{DOC_RELS}/worksheet\" Target=\"worksheets/sheet{i}.xml\"/>"))
        .collect();
    let mut parts: Vec<(String, String)> = vec![
        (
            "[Content_Types].xml".into(),
            format!(
                "{head}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
                 <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
                 <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
                 <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
                 {overrides}\
                 <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
                 </Types>"
            ),
        ),
        (
            "_rels/.rels".into(),
            format!(
                "{head}<Relationships xmlns=\"{RELS}\"><Relationship Id=\"rId1\" \
                 Type=\"{DOC_RELS}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
            ),
        ),
        (
            "xl/workbook.xml".into(),
            format!(
                "{head}<workbook xmlns=\"{MAIN}\" xmlns:r=\"{DOC_RELS}\"><sheets>\
                 {names}</sheets></workbook>"
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels".into(),
            format!(
                "{head}<Relationships xmlns=\"{RELS}\">\
                 {rels}\
                 <Relationship Id=\"rId{}\" Type=\"{DOC_RELS}/styles\" Target=\"styles.xml\"/>\
                 </Relationships>",
                n + 1
            ),
        ),
        (
            "xl/styles.xml".into(),
            format!(
                "{head}<styleSheet xmlns=\"{MAIN}\">\
                 <fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>\
                 <font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
                 <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>\
                 <fill><patternFill patternType=\"gray125\"/></fill></fills>\
                 <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
                 <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
                 <cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
                 <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/></cellXfs>\
                 <cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>\
                 </styleSheet>"
            ),
        ),
    ];
    for (i, s) in sheets.iter().enumerate() {
        parts.push((
            format!("xl/worksheets/sheet{}.xml", i + 1),
            sheet_xml(s.header, s.rows),
        ));
    }
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, xml) in parts {
        zip.start_file(name, options)?;
        zip.write_all(xml.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

/// A table as CSV: UTF-8 with a byte-order mark (so spreadsheet programs read Chinese names
/// right), and text that would start a formula (`= + - @`) quoted with a leading `'`.
pub fn csv(header: &[&str], rows: &[Vec<Cell>]) -> Result<Vec<u8>, String> {
    // Flexible: a report may open with a title row of one field above its header.
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    w.write_record(header).map_err(|e| e.to_string())?;
    for r in rows {
        w.write_record(csv_fields(r)).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// A row's CSV fields: text that a spreadsheet would read as a formula gets a quote first.
fn csv_fields(r: &[Cell]) -> Vec<String> {
    r.iter()
        .map(|c| match c {
            Cell::Text(s) if s.starts_with(['=', '+', '-', '@']) => format!("'{s}"),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Empty => String::new(),
        })
        .collect()
}

/// Rows written per chunk of a streamed CSV.
const CSV_CHUNK: usize = 1_000;

/// A CSV download named `name.csv` written as it is sent, [`CSV_CHUNK`] rows at a time
/// (each row turned into cells only when its chunk is written): the same bytes as
/// [`csv`], without the whole file in memory at once.
pub fn csv_download<T: Send + Sync + 'static>(
    name: &str,
    header: &[&str],
    rows: Vec<T>,
    cells: fn(&T) -> Vec<Cell>,
) -> axum::response::Response {
    let rows = std::sync::Arc::new(rows);
    let n = rows.len();
    let chunks = (0..n).step_by(CSV_CHUNK).map(move |from| {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &rows[from..(from + CSV_CHUNK).min(n)] {
            let _ = w.write_record(csv_fields(&cells(r)));
        }
        w.into_inner().unwrap_or_default()
    });
    csv_stream(name, header, chunks)
}

/// A CSV download named `name.csv`: a byte-order mark and the `header` row, then the
/// `chunks` of rows as each is made (each chunk's bytes are whole rows).
pub fn csv_stream(
    name: &str,
    header: &[&str],
    chunks: impl Iterator<Item = Vec<u8>> + Send + 'static,
) -> axum::response::Response {
    use axum::http::{header as h, HeaderValue};
    use axum::response::IntoResponse;
    let head = {
        // Flexible: a report may open with a title row of one field above its header.
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(b"\xEF\xBB\xBF".to_vec());
        let _ = w.write_record(header);
        w.into_inner().unwrap_or_default()
    };
    let body = std::iter::once(head).chain(chunks);
    let body = futures::stream::iter(
        body.map(|b| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(b))),
    );
    let mut r = axum::body::Body::from_stream(body).into_response();
    r.headers_mut().insert(
        h::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        r.headers_mut().insert(h::CONTENT_DISPOSITION, v);
    }
    r
}

/// A download of a table as `format` (`csv` or `xlsx`) named `name.format`.
pub fn download(
    format: &str,
    name: &str,
    sheet: &str,
    header: &[&str],
    rows: &[Vec<Cell>],
) -> Result<axum::response::Response, super::error::ApiError> {
    use super::error::ApiError;
    use axum::http::{header as h, HeaderValue};
    use axum::response::IntoResponse;
    let (bytes, mime) = match format {
        "csv" => (
            csv(header, rows).map_err(|e| ApiError::internal(&e))?,
            "text/csv; charset=utf-8",
        ),
        "xlsx" => (
            workbook(sheet, header, rows).map_err(|e| ApiError::internal(&e))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        other => {
            return Err(ApiError::invalid(
                "format",
                format!("format must be csv or xlsx, not {other:?}"),
            ))
        }
    };
    let mut r = bytes.into_response();
    r.headers_mut()
        .insert(h::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&disposition(name, format)) {
        r.headers_mut().insert(h::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `Content-Disposition` of a download named `name.format`. A name outside plain ASCII
/// (`十分钟服务圈_助老养老站_10分钟_2026-12-07`) goes in `filename*` (RFC 6266, UTF-8 percent-encoded)
/// with `download.format` as the fallback for clients that read only `filename`.
pub fn disposition(name: &str, format: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "!#$&+-.^_`|~".contains(c);
    if name.chars().all(plain) {
        return format!("attachment; filename=\"{name}.{format}\"");
    }
    let mut encoded = String::new();
    for b in format!("{name}.{format}").bytes() {
        if plain(char::from(b)) && b.is_ascii() {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"download.{format}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn chinese_file_names_are_percent_encoded_with_a_plain_fallback() {
        assert_eq!(
            disposition("coverage", "csv"),
            "attachment; filename=\"coverage.csv\""
        );
        assert_eq!(
            disposition("圈_10分钟", "xlsx"),
            "attachment; filename=\"download.xlsx\"; filename*=UTF-8''%E5%9C%88_10%E5%88%86%E9%92%9F.xlsx"
        );
    }

    #[test]
    fn columns_and_escapes() {
        let names: Vec<String> = [0, 25, 26, 27, 51, 52, 701, 702]
            .iter()
            .map(|&i| column(i))
            .collect();
        assert_eq!(names, ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]);
        assert_eq!(escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn a_workbook_is_a_zip_of_the_parts_with_the_cells() {
        let rows = vec![
            vec![
                Cell::Text("陵江社区 <1>".into()),
                Cell::Number(0.25),
                Cell::Empty,
                Cell::Number(f64::NAN),
            ],
            vec![Cell::Text("x".into())],
        ];
        let bytes = workbook("report", &["name", "share", "gap", "nan"], &rows).expect("xlsx");
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip");
        let mut names: Vec<String> = zip
            .file_names()
            .map(|n| n.expect("a name").to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "[Content_Types].xml",
                "_rels/.rels",
                "xl/_rels/workbook.xml.rels",
                "xl/styles.xml",
                "xl/workbook.xml",
                "xl/worksheets/sheet1.xml"
            ]
        );
        let mut sheet = String::new();
        zip.by_name("xl/worksheets/sheet1.xml")
            .expect("sheet")
            .read_to_string(&mut sheet)
            .expect("utf-8");
        assert!(sheet.contains(
            "<c r=\"A1\" t=\"inlineStr\" s=\"1\"><is><t xml:space=\"preserve\">name</t></is></c>"
        ));
        assert!(sheet.contains("<t xml:space=\"preserve\">陵江社区 &lt;1&gt;</t>"));
        assert!(sheet.contains("<c r=\"B2\"><v>0.25</v></c>"));
        assert!(!sheet.contains("C2") && !sheet.contains("D2"), "{sheet}");
        assert!(sheet.contains("<row r=\"3\"><c r=\"A3\""));
    }
}
