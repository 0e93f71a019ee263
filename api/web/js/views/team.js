// My team: each direct report's progress through the cycle.
import { api } from "../api.js";
import { shell } from "../app.js";
import { directory } from "../directory.js";
import { avatar, empty, formatDate, h, humanize, progressBar, skeletonRows } from "../ui.js";

const PHASE_STATUS = { active: "info", waiting: "warn", completed: "ok", skipped: "closed", cancelled: "closed" };

function stat(label, value, note) {
  return h("div.card.stat", h("div.label", label), h("div.value", value), note ? h("div.muted.small", note) : null);
}

export async function teamView(main, _params, ctx, cycleId) {
  shell.setCrumbs("My team");
  const body = h("div", skeletonRows(3));
  main.append(body);
  const team = await api.get(`/v1/teams/me${cycleId ? `?cycle_id=${encodeURIComponent(cycleId)}` : ""}`);
  if (!ctx.isCurrent()) return;
  directory.remember(team.reports);
  const reports = team.reports;
  const picker = team.cycles.length > 1
    ? h("select", { "aria-label": "Cycle", onchange: (e) => {
        main.replaceChildren();
        teamView(main, _params, ctx, e.target.value);
      } }, team.cycles.map((id) => h("option", { value: id, selected: id === team.cycle_id }, id)))
    : null;
  const head = h(
    "div.page-head",
    h("div", h("h1", "My team"), h("p", team.cycle_id ? `Progress in ${team.cycle_id}` : "Your direct reports")),
    picker ? h("div.toolbar", h("label.muted.small", "Cycle"), picker) : null,
  );
  if (!reports.length) {
    body.replaceChildren(head, h("div.card", empty("team", "No direct reports", "When people report to you, their progress shows up here.")));
    return;
  }
  const done = reports.reduce((n, r) => n + r.tasks_done, 0);
  const total = reports.reduce((n, r) => n + r.tasks_total, 0);
  const overdue = reports.reduce((n, r) => n + r.tasks_overdue, 0);
  const waiting = reports.reduce((n, r) => n + r.waiting_on_me, 0);
  const stats = h(
    "div.grid.cols-4",
    { style: "margin-bottom:16px" },
    stat("People", String(reports.length), `${reports.filter((r) => r.participating).length} in the cycle`),
    stat("Tasks done", total ? `${Math.round((100 * done) / total)}%` : "—", `${done} of ${total}`),
    stat("Overdue", String(overdue), overdue ? "Nudge them in your next 1:1" : "Nothing late"),
    stat("Waiting on you", String(waiting), waiting ? h("a", { href: "#/inbox" }, "Open your inbox") : "You are not holding anyone up"),
  );
  const rows = reports.map((r) =>
    h(
      "tr",
      { "data-employee": r.employee_id },
      h("td", h("div.person-cell", avatar(r.name, r.employee_id), h("div", h("div", h("strong", r.name)), h("div.muted.small", r.job_title || r.department)))),
      h("td", r.phase_id ? h("span", h("div", humanize(r.phase_id)), h(`span.badge.${PHASE_STATUS[r.phase_status] || "info"}`, humanize(r.phase_status))) : h("span.muted", r.participating ? "Not started" : "Not in this cycle")),
      h("td", { style: "min-width:200px" }, progressBar(r.tasks_done, r.tasks_total, { label: "Tasks done" })),
      h("td", r.tasks_overdue ? h("span.badge.overdue", `${r.tasks_overdue} overdue`) : h("span.badge.ok", "On track"), r.next_due_at ? h("div.muted.small", `Next due ${formatDate(r.next_due_at)}`) : null),
      h("td", r.waiting_on_me ? h("a.badge.info", { href: "#/inbox" }, `${r.waiting_on_me} for you`) : h("span.muted.small", "—")),
    ),
  );
  body.replaceChildren(
    head,
    stats,
    h(
      "div.card",
      h(
        "table.table",
        h("caption.visually-hidden", "Direct reports and their progress"),
        h("thead", h("tr", h("th", "Person"), h("th", "Phase"), h("th", "Progress"), h("th", "Status"), h("th", "Waiting on you"))),
        h("tbody", rows),
      ),
    ),
  );
}
