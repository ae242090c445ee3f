//! The status page at `/`: plain HTML rendered here with everything a person needs at first
//! sight (state, last error and its fix, snapshot progress), plus a small embedded script
//! (`page.js`) that polls `/status/history` to draw the lag and latency charts and keep the
//! rest current. No external resources: the page works on an isolated network.

use std::fmt::Write;

use super::view::ConnectorView;

const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// The whole page for `connectors`.
pub fn render(connectors: &[ConnectorView]) -> String {
    let mut html = String::with_capacity(8192);
    html.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>pgcdc status</title><style>",
    );
    html.push_str(CSS);
    html.push_str(
        "</style></head><body><header><h1>pgcdc</h1>\
         <span id=\"updated\">as of page load</span></header><main id=\"connectors\">",
    );
    if connectors.is_empty() {
        html.push_str("<p class=\"none\">No connector is running yet.</p>");
    }
    for c in connectors {
        connector(&mut html, c);
    }
    html.push_str("</main><script>");
    html.push_str(JS);
    html.push_str("</script></body></html>\n");
    html
}

fn connector(html: &mut String, c: &ConnectorView) {
    let state = state_name(c);
    let _ = write!(
        html,
        "<section class=\"connector\" data-name=\"{name}\"><h2>{name} \
         <span class=\"state state-{state}\" data-field=\"state\">{state}</span></h2>",
        name = escape(&c.name),
    );
    error(html, c);
    progress(html, c);
    charts(html);
    html.push_str("</section>");
}

fn error(html: &mut String, c: &ConnectorView) {
    let _ = write!(
        html,
        "<div class=\"error{definite}\" data-field=\"error-box\"{hidden}>\
         <p><b data-field=\"error-kind\">{kind}</b> <span data-field=\"error\">{error}</span></p>\
         <p class=\"fix\"{fix_hidden}><b>Fix:</b> <span data-field=\"fix\">{fix}</span></p></div>",
        definite = if c.error_definite { " definite" } else { "" },
        hidden = hidden(c.error.is_none()),
        kind = error_kind(c.error_definite),
        error = escape(c.error.as_deref().unwrap_or("")),
        fix_hidden = hidden(c.fix.is_none()),
        fix = escape(c.fix.as_deref().unwrap_or("")),
    );
}

/// How the error box is headed; the script uses the same words.
fn error_kind(definite: bool) -> &'static str {
    if definite {
        "Stopped by:"
    } else {
        "Last error (retrying):"
    }
}

fn progress(html: &mut String, c: &ConnectorView) {
    let s = &c.snapshot;
    // Without a table count yet (planning) the bar is indeterminate: no value attribute.
    let value = if s.tables_total > 0 {
        format!(" value=\"{}\"", s.tables_done())
    } else {
        String::new()
    };
    let _ = write!(
        html,
        "<div class=\"progress\" data-field=\"snapshot-box\"{hidden}>Initial snapshot \
         <progress data-field=\"snapshot-bar\" max=\"{max}\"{value}></progress> \
         <span data-field=\"snapshot\">{text}</span></div>",
        hidden = hidden(c.snapshot_text.is_none()),
        max = s.tables_total.max(1),
        text = escape(c.snapshot_text.as_deref().unwrap_or("")),
    );
    let _ = write!(
        html,
        "<div class=\"progress\" data-field=\"incremental-box\"{hidden}>Incremental snapshot \
         <span data-field=\"incremental\">{text}</span></div>",
        hidden = hidden(c.incremental_text.is_none()),
        text = escape(c.incremental_text.as_deref().unwrap_or("")),
    );
}

/// Empty charts; the script draws them from `/status/history` as soon as the page loads.
fn charts(html: &mut String) {
    html.push_str(
        "<div class=\"charts\">\
         <figure><figcaption>Slot lag <span data-field=\"lag-now\"></span></figcaption>\
         <svg class=\"spark\" data-chart=\"lag\" viewBox=\"0 0 300 60\" preserveAspectRatio=\"none\">\
         <path class=\"lag\" d=\"\"/></svg></figure>\
         <figure><figcaption>Commit-to-ack p50 / <span class=\"p99\">p99</span> (30 s) \
         <span data-field=\"latency-now\"></span></figcaption>\
         <svg class=\"spark\" data-chart=\"latency\" viewBox=\"0 0 300 60\" preserveAspectRatio=\"none\">\
         <path class=\"p99\" d=\"\"/><path class=\"p50\" d=\"\"/></svg></figure></div>",
    );
}

fn hidden(hide: bool) -> &'static str {
    if hide {
        " hidden"
    } else {
        ""
    }
}

/// The state as the JSON bodies spell it (`snapshotting`, `failed`, ...).
fn state_name(c: &ConnectorView) -> String {
    serde_json::to_value(c.state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// `text` safe inside an element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::history::History;
    use crate::http::scrape::{Reading, Snapshot};
    use crate::observe::{State, Status};

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    fn view(error: Option<&str>, definite: bool, reading: &Reading) -> ConnectorView {
        let status = Status {
            name: "inv<1>".into(),
            state: if definite {
                State::Failed
            } else {
                State::Snapshotting
            },
            last_error: error.map(String::from),
            last_error_definite: definite,
        };
        ConnectorView::new(status, Some(reading), &History::default())
    }

    #[test]
    fn shows_state_progress_and_the_error_with_its_fix() {
        let snap = Reading {
            snapshot: Snapshot {
                running: true,
                tables_total: 2,
                tables_remaining: 1,
                rows_scanned: 5000,
                ..Snapshot::default()
            },
            ..Reading::default()
        };
        let html = render(&[view(None, false, &snap)]);
        assert!(html.contains("data-name=\"inv&lt;1&gt;\""), "escaped name");
        assert!(html.contains(">snapshotting</span>"));
        assert!(html.contains("max=\"2\" value=\"1\""));
        assert!(html.contains("1 of 2 tables done, 5,000 rows scanned"));
        assert!(html.contains("data-field=\"error-box\" hidden"));

        let html = render(&[view(
            Some("publication <p> gone: check publication.name"),
            true,
            &Reading::default(),
        )]);
        assert!(html.contains(">failed</span>"));
        assert!(html.contains(
            "Stopped by:</b> <span data-field=\"error\">publication &lt;p&gt; gone</span>"
        ));
        assert!(html.contains("<b>Fix:</b> <span data-field=\"fix\">check publication.name</span>"));
        assert!(html.contains("data-field=\"snapshot-box\" hidden"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external resources"
        );
    }
}
