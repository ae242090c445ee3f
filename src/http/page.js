// Keeps the server-rendered status page current: every few seconds it reads
// /status/history and updates the text the server rendered, and draws the charts
// (which the server leaves empty so that their scaling lives in one place, here).
"use strict";
(function () {
  const PERIOD_MS = 3000;
  const W = 300, H = 60;

  function field(section, name) {
    return section.querySelector('[data-field="' + name + '"]');
  }

  // "M x y L x y ..." for the non-null values; a null starts a new segment (a gap).
  function path(ts, values, t0, t1, max) {
    let d = "", pen = false;
    for (let i = 0; i < ts.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) { pen = false; continue; }
      const x = ((ts[i] - t0) / Math.max(1, t1 - t0)) * W;
      const y = H - 1 - (Math.min(v, max) / max) * (H - 2);
      d += (pen ? " L " : " M ") + x.toFixed(1) + " " + y.toFixed(1);
      pen = true;
    }
    return d.trim();
  }

  // The largest value, or null when there is none.
  function peak(values) {
    return values.reduce((m, v) => (v !== null && (m === null || v > m) ? v : m), null);
  }

  function last(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  function bytes(n) {
    if (n === null) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : n.toFixed(0)) + " " + units[i];
  }

  function seconds(s) {
    if (s === null) return "–";
    return s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s";
  }

  function charts(section, c, t0, t1) {
    const h = c.history;
    // Scales have a floor so that a flat zero line stays at the bottom.
    const lagPeak = peak(h.lag_bytes);
    const lagMax = Math.max(lagPeak || 0, 1);
    section.querySelector("svg[data-chart=lag] path.lag").setAttribute("d", path(h.t, h.lag_bytes, t0, t1, lagMax));
    field(section, "lag-now").textContent = "now " + bytes(last(h.lag_bytes)) + ", peak " + bytes(lagPeak);
    const latMax = Math.max(peak(h.p99_s) || 0, 0.001);
    const svg = section.querySelector("svg[data-chart=latency]");
    svg.querySelector("path.p99").setAttribute("d", path(h.t, h.p99_s, t0, t1, latMax));
    svg.querySelector("path.p50").setAttribute("d", path(h.t, h.p50_s, t0, t1, latMax));
    field(section, "latency-now").textContent =
      "now " + seconds(last(h.p50_s)) + " / " + seconds(last(h.p99_s));
  }

  function text(section, name, value) {
    const el = field(section, name);
    el.textContent = value === null ? "" : value;
  }

  function status(section, c) {
    const state = field(section, "state");
    state.textContent = c.state;
    state.className = "state state-" + c.state;
    const box = field(section, "error-box");
    box.hidden = c.error === null;
    box.classList.toggle("definite", c.error_definite);
    text(section, "error-kind", c.error_definite ? "Stopped by:" : "Last error (retrying):");
    text(section, "error", c.error);
    text(section, "fix", c.fix);
    section.querySelector(".fix").hidden = c.fix === null;
    field(section, "snapshot-box").hidden = c.snapshot_text === null;
    text(section, "snapshot", c.snapshot_text);
    const bar = field(section, "snapshot-bar");
    bar.max = Math.max(1, c.snapshot.tables_total);
    if (c.snapshot.tables_total > 0) {
      bar.value = c.snapshot.tables_total - c.snapshot.tables_remaining;
    } else {
      bar.removeAttribute("value");
    }
    field(section, "incremental-box").hidden = c.incremental_text === null;
    text(section, "incremental", c.incremental_text);
  }

  async function refresh() {
    const updated = document.getElementById("updated");
    let page;
    try {
      const r = await fetch("/status/history", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      page = await r.json();
    } catch (e) {
      updated.textContent = "pgcdc is not answering (" + e.message + ")";
      return;
    }
    const sections = document.querySelectorAll("section.connector");
    const names = Array.from(sections, (s) => s.dataset.name);
    if (names.join("\n") !== page.connectors.map((c) => c.name).join("\n")) {
      location.reload(); // connectors came or went: the server renders the new set
      return;
    }
    const t1 = page.now_ms, t0 = t1 - page.window_ms;
    page.connectors.forEach((c, i) => {
      status(sections[i], c);
      charts(sections[i], c, t0, t1);
    });
    updated.textContent = "updated " + new Date(page.now_ms).toLocaleTimeString();
  }

  refresh();
  setInterval(refresh, PERIOD_MS);
})();
