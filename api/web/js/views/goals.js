// Goals: a person's goals with what each aligns to, and the cycle's objectives tree with
// progress rolled up from the goals aligned below (GET /v1/employees/{id}/goals and
// GET /v1/cycles/{id}/objectives). The tree shows the goals you may read; the others
// still count in the roll-up, and the page says how many. The head links to the
// person's whole performance file (GET /v1/employees/{id}/performance-file/export):
// a printable page in a new tab, or a JSON download.
import { api, fetchFile, session } from "../api.js";
import { shell } from "../app.js";
import { directory } from "../directory.js";
import { empty, h, humanize, skeletonRows, toast } from "../ui.js";

const GOAL_TYPES = { okr: "OKR", kpi: "KPI", development: "Development" };
const STATUS_KIND = {
  draft: "info", proposed: "info", returned: "warn", approved: "ok", in_progress: "info",
  achieved: "ok", missed: "bad", dropped: "closed", closed: "closed",
  active: "ok", changed: "warn",
};
const KIND_LABEL = { org: "Company objective", department: "Department objective", goal: "Goal" };

function percent(value) {
  return `${Math.round(100 * (value || 0))}%`;
}

function meter(value, label) {
  const width = Math.max(0, Math.min(100, Math.round(100 * (value || 0))));
  return h(
    "div.progress-wrap",
    h("div.progress-label", h("span", label), h("span", percent(value))),
    h(`div.progress${width >= 100 ? ".ok" : ""}`,
      { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(width), "aria-label": label },
      h("span", { style: `width:${width}%` })),
  );
}

function badge(status) {
  return h(`span.badge.${STATUS_KIND[status] || "info"}`, humanize(status));
}

function goalRow(goal) {
  const aligned = goal.aligned_to
    ? h("span", `${KIND_LABEL[goal.aligned_to.kind] || "Goal"}: `, h("strong", goal.aligned_to.title))
    : h("span.muted", goal.type === "development" ? "Development goals need no alignment" : "Not aligned");
  return h(
    "tr",
    { "data-goal": goal.id },
    h("td", h("div", h("strong", goal.title)), h("div.muted.small", `${GOAL_TYPES[goal.type] || goal.type} · weight ${goal.weight}%`)),
    h("td", aligned),
    h("td", badge(goal.status), goal.pending_changes ? h("div.small", h("span.badge.warn", `${goal.pending_changes} change(s) waiting for approval`)) : null),
    h("td", { style: "min-width:180px" }, meter(goal.progress, "Progress")),
  );
}

function treeNode(node, depth = 0) {
  const owner = node.owner_id ? h("span.muted.small", ` · ${directory.name(node.owner_id)}`) : null;
  return h(
    "li.tree-node",
    { "data-node": node.id, style: `margin-left:${depth ? 18 : 0}px;list-style:none` },
    h("div.tree-row", { style: "display:grid;grid-template-columns:1fr 200px;gap:12px;align-items:center;padding:6px 0" },
      h("div", h("span.muted.small", `${KIND_LABEL[node.kind]} `), h("strong", node.title), owner, " ", node.status !== "active" && node.status !== "approved" ? badge(node.status) : null),
      meter(node.progress, "Rolled up")),
    node.children.length ? h("ul", { style: "padding-left:0;border-left:2px solid #eef0f4;margin-left:6px" }, node.children.map((child) => treeNode(child, depth + 1))) : null,
  );
}

/** The performance file's export: the printable page in a new tab, or the JSON file. */
async function openPerformanceFile(employeeId, format) {
  const path = `/v1/employees/${encodeURIComponent(employeeId)}/performance-file/export?format=${format}`;
  // Opened before the request, while the click still counts as the user's (pop-up rules).
  const tab = format === "html" ? window.open("", "_blank") : null;
  try {
    const url = URL.createObjectURL(await fetchFile(path));
    if (tab) {
      tab.location.href = url;
    } else {
      const link = h("a", { href: url, download: `performance-file-${employeeId}.json` });
      document.body.append(link);
      link.click();
      link.remove();
    }
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    if (tab) tab.close();
    toast(error.message, "bad");
  }
}

function performanceFileLinks(employeeId) {
  return h("div#performance-file", { style: "display:flex;gap:8px" },
    h("button.btn", { type: "button", onclick: () => openPerformanceFile(employeeId, "html") }, "Performance file (print)"),
    h("button.btn.ghost", { type: "button", onclick: () => openPerformanceFile(employeeId, "json") }, "Download (JSON)"));
}

export async function goalsView(main, [employeeId], ctx) {
  const me = session.person.employee_id;
  const who = employeeId || me;
  shell.setCrumbs(who === me ? "My goals" : `Goals of ${directory.name(who)}`);
  const body = h("div", skeletonRows(3));
  main.append(body);
  const list = await api.get(`/v1/employees/${encodeURIComponent(who)}/goals`);
  if (!ctx.isCurrent()) return;
  const head = h("div.page-head", h("div", h("h1", who === me ? "My goals" : `Goals of ${directory.name(who)}`), h("p", "What each goal aligns to, its status and progress.")), performanceFileLinks(who));
  if (!list.items.length) {
    body.replaceChildren(head, h("div.card", empty("target", "No goals yet", "Your goals appear here once you draft them in a goal-setting task.")));
    return;
  }
  const cycles = [...new Set(list.items.map((g) => g.cycle_id))];
  const cycleId = cycles.at(-1);
  const table = h(
    "div.card",
    h("table.table#goals",
      h("caption.visually-hidden", "Goals"),
      h("thead", h("tr", h("th", "Goal"), h("th", "Aligned to"), h("th", "Status"), h("th", "Progress"))),
      h("tbody", list.items.filter((g) => g.cycle_id === cycleId).map(goalRow))),
  );
  const treeCard = h("div.card#tree", { style: "margin-top:16px" }, h("div.card-body", h("h2", `How it adds up in ${cycleId}`), skeletonRows(2)));
  body.replaceChildren(head, table, treeCard);
  const tree = await api.get(`/v1/cycles/${encodeURIComponent(cycleId)}/objectives`);
  if (!ctx.isCurrent()) return;
  treeCard.replaceChildren(
    h("div.card-body",
      h("h2", `How it adds up in ${cycleId}`),
      h("p.muted.small", "A parent's progress is the weighted mean of the goals aligned to it; a committed key result counts only when met."),
      h("ul", { style: "padding-left:0" }, tree.roots.map((root) => treeNode(root))),
      tree.hidden_goals ? h("p.muted.small", `${tree.hidden_goals} goal(s) of other people count in the roll-up but are not shown to you.`) : null),
  );
}

/** HR's alignment coverage of a cycle (HR admins, HRBPs); nothing for other roles. */
export function coverageSection(cycleId) {
  const section = h("section#coverage", { "aria-labelledby": "coverage-title", style: "margin-top:24px" });
  api
    .get(`/v1/cycles/${encodeURIComponent(cycleId)}/alignment-coverage`)
    .then((c) => {
      const missing = c.without_aligned_goal;
      section.replaceChildren(
        h("h2#coverage-title", "Goal alignment"),
        h(
          "div.card",
          h("div.card-body",
            meter(c.share_aligned ?? 0, `${c.aligned} of ${c.goals} goals aligned to an objective`),
            h("p.muted.small", c.departments ? `Departments: ${c.departments.join(", ")}` : "All departments"),
            missing.length
              ? h("div", h("strong", `${missing.length} of ${c.participants} people have no aligned goal: `), missing.map((id) => directory.name(id)).join(", "))
              : h("p", "Everyone has at least one aligned goal.")),
        ),
      );
    })
    .catch(() => section.remove());
  return section;
}
