//! Writing rebuilt rows to a file: JSON lines (one row object per line) or CSV (a header of the
//! first row's fields, then one line per row), sorted by key.

use std::io::{self, Write};

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    JsonLines,
    Csv,
}

impl OutputFormat {
    /// From the file name: `.csv` is CSV, anything else JSON lines.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => OutputFormat::Csv,
            _ => OutputFormat::JsonLines,
        }
    }
}

/// Writes `rows` (compact JSON objects, already in output order).
pub fn write_rows<'a>(
    out: &mut impl Write,
    format: OutputFormat,
    rows: impl Iterator<Item = &'a str>,
) -> io::Result<u64> {
    let mut n = 0;
    let mut header: Option<Vec<String>> = None;
    for row in rows {
        n += 1;
        match format {
            OutputFormat::JsonLines => writeln!(out, "{row}")?,
            OutputFormat::Csv => {
                let map: Map<String, Value> = serde_json::from_str(row).unwrap_or_default();
                let cols = header.get_or_insert_with(|| map.keys().cloned().collect());
                if n == 1 {
                    let names: Vec<String> = cols.iter().map(|c| csv_field(c)).collect();
                    writeln!(out, "{}", names.join(","))?;
                }
                let fields: Vec<String> = cols
                    .iter()
                    .map(|c| csv_value(map.get(c).unwrap_or(&Value::Null)))
                    .collect();
                writeln!(out, "{}", fields.join(","))?;
            }
        }
    }
    Ok(n)
}

/// A value as a CSV field: strings as they are, null empty, anything else as JSON.
fn csv_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => csv_field(&other.to_string()),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_nulls() {
        let rows = [
            r#"{"id":1,"v":"a,b","n":null}"#,
            r#"{"id":2,"v":"say \"hi\"","n":[1]}"#,
        ];
        let mut out = Vec::new();
        write_rows(&mut out, OutputFormat::Csv, rows.into_iter()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id,v,n\n1,\"a,b\",\n2,\"say \"\"hi\"\"\",[1]\n"
        );
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(OutputFormat::for_path("a.CSV".as_ref()), OutputFormat::Csv);
        assert_eq!(
            OutputFormat::for_path("a.jsonl".as_ref()),
            OutputFormat::JsonLines
        );
    }
}
