// HR: the cycles, and one cycle's progress per phase, rating distribution and 9-box.
import { api, ApiError } from "../api.js";
import { shell } from "../app.js";
import { distributionChart, nineBox } from "../charts.js";
import { directory } from "../directory.js";
import { resultsSection } from "./results.js";
import { empty, formatDate, h, humanize, loading, skeletonRows } from "../ui.js";
import { coverageSection } from "./goals.js";

const STATUS_BADGE = { running: "info", launching: "info", completed: "ok", cancelled: "closed" };

export async function cyclesView(main, _params, ctx) {
  shell.setCrumbs("Review cycles");
  const body = h("div", skeletonRows(3));
  main.append(h("div.page-head", h("div", h("h1", "Review cycles"), h("p", "Every cycle launched, newest first. Open one to follow its progress and results."))), body);
  const { items } = await api.get("/v1/cycles");
  if (!ctx.isCurrent()) return;
  if (!items.length) {
    body.replaceChildren(h("div.card", empty("chart", "No cycles yet", "Launch one with `perfloop cycles start annual-review@1` or POST /v1/cycles.")));
    return;
  }
  body.replaceChildren(
    h(
      "div.card",
      h(
        "table.table",
        h("caption.visually-hidden", "Review cycles"),
        h("thead", h("tr", h("th", "Cycle"), h("th", "Status"), h("th", "Period"), h("th", "Participants"), h("th", "Launched by"))),
        h(
          "tbody",
          items.map((c) => {
            const href = `#/hr/cycles/${encodeURIComponent(c.cycle_id)}`;
            return h(
              "tr.clickable",
              { "data-cycle": c.cycle_id, onclick: () => (location.hash = href) },
              h("td", h("a", { href }, h("strong", c.title || c.cycle_id)), h("div.muted.small", `${c.cycle_id} · ${c.definition}`)),
              h("td", h(`span.badge.${STATUS_BADGE[c.status] || "info"}`, humanize(c.status))),
              h("td", `${formatDate(c.nominal_start)} – ${formatDate(c.nominal_end)}`),
              h("td", String(c.participants)),
              h("td", c.launched_by ? directory.name(c.launched_by) : "—"),
            );
          }),
        ),
      ),
    ),
  );
}

const COUNT_COLORS = { completed: "#059669", skipped: "#9ca3af", waiting: "#f59e0b", active: "#4f46e5", pending: "#e5e7eb" };

function phaseCard(phase, participants) {
  const counts = phase.counts;
  const total = Math.max(participants, Object.values(counts).reduce((a, b) => a + b, 0)) || 1;
  const through = counts.completed + counts.skipped;
  const state = phase.closed ? "Closed" : through >= participants && participants ? "Done" : counts.active || counts.waiting ? "In progress" : "Not open yet";
  return h(
    "div.card.phase-card",
    { "data-phase": phase.id },
    h("div.top", h("div", h("h3", humanize(phase.id)), h("div.muted.small", `${humanize(phase.kind)} · ${formatDate(phase.opens)} – ${formatDate(phase.due)}`)), h("span.badge", state)),
    h(
      "div.stack-bar",
      { role: "img", "aria-label": `${humanize(phase.id)}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ")}` },
      ["completed", "skipped", "waiting", "active"].map((key) => h("span", { style: `width:${(100 * counts[key]) / total}%;background:${COUNT_COLORS[key]}` })),
    ),
    h("div.legend", Object.entries(counts).filter(([, v]) => v).map(([k, v]) => h("span", h("i", { style: `background:${COUNT_COLORS[k]}` }), `${v} ${k}`))),
  );
}

async function progressSection(cycleId) {
  const section = h("section.grid", { "aria-labelledby": "progress-title" }, h("h2#progress-title", "Progress per phase"), loading("Asking the cycle for its progress…"));
  api
    .get(`/v1/cycles/${encodeURIComponent(cycleId)}`)
    .then((status) => {
      const p = status.participants;
      section.replaceChildren(
        h("h2#progress-title", "Progress per phase"),
        h(
          "div.grid.cols-4",
          statCard("Participants", p.participants),
          statCard("Still active", p.active),
          statCard("Finished", p.finished),
          statCard("Cycle date", formatDate(status.nominal_now)),
        ),
        h("div.grid.cols-2", status.phases.map((phase) => phaseCard(phase, p.participants))),
      );
    })
    .catch((error) => {
      const reason = error instanceof ApiError && error.status === 503 ? "The workflow engine is not answering right now; the numbers below come from the store." : error.message;
      section.replaceChildren(h("h2#progress-title", "Progress per phase"), h("div.alert.info", reason));
    });
  return section;
}

function statCard(label, value) {
  return h("div.card.stat", h("div.label", label), h("div.value", String(value)));
}

async function analyticsSection(cycleId, group, ctx, rerender) {
  const query = group ? `?group=${encodeURIComponent(group)}` : "";
  const data = await api.get(`/v1/cycles/${encodeURIComponent(cycleId)}/analytics${query}`);
  if (!ctx.isCurrent()) return null;
  const picker = h(
    "select",
    { "aria-label": "Department", onchange: (e) => rerender(e.target.value || null) },
    h("option", { value: "" }, "All departments"),
    data.groups.map((g) => h("option", { value: g, selected: g === data.group }, g)),
  );
  const off = data.distribution.filter((b) => b.outside_tolerance);
  const distribution = data.rated
    ? h(
        "div.card",
        h("div.card-head", h("div", h("h2", "Rating distribution"), h("div.muted.small", `${data.rated} rated, ${data.unrated} not (yet) rated · guideline tolerance ±${data.tolerance_points ?? "—"} points`)), off.length ? h("span.badge.warn", `${off.length} rating${off.length === 1 ? "" : "s"} off the guideline`) : h("span.badge.ok", "Within the guideline")),
        h("div.card-body", distributionChart(data.distribution, { tolerance: data.tolerance_points })),
      )
    : h("div.card", empty("chart", "No ratings yet", "Ratings appear here once the evaluation phase has scored people."));
  const grid = data.nine_box_placed
    ? h("div.card", h("div.card-head", h("div", h("h2", "9-box grid"), h("div.muted.small", `${data.nine_box_placed} people placed from their rating and potential`))), h("div.card-body", nineBox(data.nine_box)))
    : h("div.card", empty("grid", "The 9-box is empty", "People are placed once the results phase proposes their outcomes."));
  return h(
    "section.grid",
    { "aria-labelledby": "results-title", style: "margin-top:24px" },
    h("div.page-head", { style: "margin-bottom:0" }, h("h2#results-title", "Ratings and talent"), h("div.toolbar", h("label.muted.small", "Show"), picker)),
    h("div.grid.cols-2", distribution, grid),
    resultsSection(data),
  );
}

export async function cycleView(main, [cycleId], ctx) {
  shell.setCrumbs(["Review cycles", "#/hr"], cycleId);
  const title = h("h1", cycleId);
  const subtitle = h("p", "How far everyone is, and how the ratings fall.");
  main.append(h("div.page-head", h("div", title, subtitle)));
  api
    .get("/v1/cycles")
    .then(({ items }) => {
      const cycle = items.find((c) => c.cycle_id === cycleId);
      if (!cycle || !ctx.isCurrent()) return;
      title.textContent = cycle.title || cycleId;
      subtitle.textContent = `${cycleId} · ${cycle.definition} · ${formatDate(cycle.nominal_start)} – ${formatDate(cycle.nominal_end)}`;
    })
    .catch(() => {});
  main.append(await progressSection(cycleId));
  main.append(coverageSection(cycleId));
  const slot = h("div", loading("Loading ratings…"));
  main.append(slot);
  const render = async (group) => {
    const section = await analyticsSection(cycleId, group, ctx, render);
    if (section) slot.replaceChildren(section);
  };
  await render(null);
}
