// Charts drawn as inline SVG: the rating distribution against the guideline, the 9-box.
import { h } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Bars: the share of people per rating; dashed line and dots: the guideline's share. */
export function distributionChart(bands, { tolerance } = {}) {
  const ordered = [...bands].sort((a, b) => a.rating - b.rating);
  const width = 640;
  const height = 300;
  const pad = { top: 24, right: 16, bottom: 64, left: 44 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const top = Math.max(10, ...ordered.map((b) => Math.max(b.percent, b.guideline_percent || 0)));
  const step = top <= 30 ? 5 : top <= 60 ? 10 : 20;
  const max = Math.ceil(top / step) * step;
  const y = (value) => pad.top + plotH - (plotH * value) / max;
  const slot = plotW / Math.max(ordered.length, 1);
  const barW = Math.min(64, slot * 0.56);

  const root = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "dist-title dist-desc" });
  root.append(s("title", { id: "dist-title" }, "Rating distribution against the guideline"));
  root.append(
    s(
      "desc",
      { id: "dist-desc" },
      ordered.map((b) => `${b.label}: ${b.percent}% (${b.count})${b.guideline_percent != null ? `, guideline ${b.guideline_percent}%` : ""}`).join("; "),
    ),
  );
  for (let tick = 0; tick <= max; tick += step) {
    root.append(s("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), "stroke-dasharray": tick ? "2 4" : "" }));
    root.append(s("text", { x: pad.left - 8, y: y(tick) + 4, "text-anchor": "end" }, `${Math.round(tick)}%`));
  }
  const guide = [];
  ordered.forEach((band, i) => {
    const cx = pad.left + slot * i + slot / 2;
    const bar = s("rect", {
      class: `bar${band.outside_tolerance ? " off" : ""}`,
      x: cx - barW / 2,
      y: y(band.percent),
      width: barW,
      height: Math.max(0, pad.top + plotH - y(band.percent)),
      rx: 4,
    });
    bar.append(s("title", {}, `${band.label}: ${band.count} people, ${band.percent}%`));
    root.append(bar);
    if (band.count) {
      root.append(s("text", { x: cx, y: y(band.percent) - 6, "text-anchor": "middle", "font-weight": "600" }, `${band.percent}% · ${band.count}`));
    }
    root.append(s("text", { x: cx, y: pad.top + plotH + 18, "text-anchor": "middle", "font-weight": "600" }, String(band.rating)));
    const words = band.label.split(" ");
    const half = Math.ceil(words.length / 2);
    root.append(s("text", { x: cx, y: pad.top + plotH + 34, "text-anchor": "middle", fill: "#6b7280" }, words.slice(0, half).join(" ")));
    root.append(s("text", { x: cx, y: pad.top + plotH + 48, "text-anchor": "middle", fill: "#6b7280" }, words.slice(half).join(" ")));
    if (band.guideline_percent != null) guide.push([cx, y(band.guideline_percent)]);
  });
  if (guide.length > 1) root.append(s("polyline", { class: "guide", points: guide.map((p) => p.join(",")).join(" ") }));
  for (const [cx, cy] of guide) root.append(s("circle", { class: "guide-dot", cx, cy, r: 4 }));

  const legend = h(
    "div.legend",
    h("span", h("i", { style: "background:#4f46e5" }), "Share of rated people"),
    h("span", h("i", { style: "background:#f59e0b" }), `More than ${tolerance ?? "?"} points off the guideline`),
    h("span", h("i", { style: "background:#111827;height:2px;vertical-align:3px" }), "Guideline"),
  );
  return h("div.chart", root, legend);
}

const BOX_NAMES = {
  "high/low": "Trusted professional",
  "high/medium": "High performer",
  "high/high": "Star",
  "medium/low": "Effective contributor",
  "medium/medium": "Core player",
  "medium/high": "High potential",
  "low/low": "Under-performer",
  "low/medium": "Inconsistent",
  "low/high": "Rough diamond",
};

const BOX_COLORS = {
  "high/high": "#c7f0d8",
  "high/medium": "#dcf5e6",
  "medium/high": "#dcf5e6",
  "high/low": "#eef2ff",
  "medium/medium": "#eef2ff",
  "low/high": "#eef2ff",
  "medium/low": "#fef3c7",
  "low/medium": "#fef3c7",
  "low/low": "#fee2e2",
};

/** Performance up, potential across; each cell shows its name and head count. */
export function nineBox(cells) {
  const grid = h("div.nine-box", { role: "table", "aria-label": "9-box grid: performance by potential" });
  const count = (performance, potential) => (cells.find((c) => c.performance === performance && c.potential === potential) || { count: 0 }).count;
  const rows = ["high", "medium", "low"];
  rows.forEach((performance, i) => {
    if (i === 0) grid.append(h("div.axis-y", { style: "grid-row: 1 / 4", "aria-hidden": "true" }, "Performance →"));
    for (const potential of ["low", "medium", "high"]) {
      const key = `${performance}/${potential}`;
      const n = count(performance, potential);
      grid.append(
        h(
          "div.cell",
          { role: "cell", style: `background:${BOX_COLORS[key]}`, "aria-label": `${BOX_NAMES[key]} (performance ${performance}, potential ${potential}): ${n}`, "data-box": key },
          h("span.t", BOX_NAMES[key]),
          h("span.n", String(n)),
        ),
      );
    }
  });
  grid.append(h("div"), h("div.axis-x", "Low potential"), h("div.axis-x", "Medium"), h("div.axis-x", "High potential"));
  return grid;
}
