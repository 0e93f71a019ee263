// Team dashboard: each report's goals against the plan, last check-in, open anomalies,
// overdue tasks and milestone achievement (GET /v1/dashboards/teams/{manager_id}).
import { api, session } from "../api.js";
import { shell } from "../app.js";
import { avatar, empty, formatDate, h, humanize, progressBar, skeletonRows } from "../ui.js";

const REFRESH_MS = 15000;
const percent = (value) => `${Math.round(100 * value)}%`;

function stat(label, value, note) {
  return h("div.card.stat", h("div.label", label), h("div.value", value), note ? h("div.muted.small", note) : null);
}

function planCell(person) {
  const expected = person.expected_by_now;
  const behind = expected !== null && person.progress < expected - 0.2;
  return h(
    "td",
    { style: "min-width:200px" },
    progressBar(Math.round(100 * person.progress), 100, { label: "Progress", ok: !behind && expected !== null && person.progress >= expected }),
    expected === null
      ? h("div.muted.small", "No monitoring phase")
      : h("div.small", { class: behind ? "behind" : "" }, h(`span.badge.${behind ? "bad" : "ok"}`, behind ? "Behind plan" : "On plan"), ` expected ${percent(expected)}`),
  );
}

function goalsCell(person) {
  if (!person.goals.length) return h("td", h("span.muted.small", "No goals yet"));
  return h(
    "td",
    h(
      "ul.plain",
      person.goals.map((goal) =>
        h(
          "li.small",
          { "data-goal": goal.goal_id },
          h("strong", goal.title),
          ` ${percent(goal.progress)}`,
          goal.confidence ? h("span.muted", ` · confidence ${goal.confidence}/5`) : null,
          goal.behind_plan ? h("span.badge.bad", { style: "margin-left:6px" }, "behind") : null,
        ),
      ),
    ),
  );
}

function anomaliesCell(person) {
  if (!person.open_anomalies.length) return h("td", h("span.muted.small", "—"));
  return h(
    "td",
    person.open_anomalies.map((a) =>
      h(
        "div.small",
        { "data-anomaly": a.rule_id, title: Object.entries(a.evidence).map(([k, v]) => `${k} = ${v}`).join("\n") },
        h(`span.badge.${a.action === "coach" ? "warn" : "info"}`, humanize(a.rule_id)),
        a.task_id ? h("a", { href: `#/tasks/${encodeURIComponent(a.task_id)}`, style: "margin-left:6px" }, "Coach") : null,
        h("div.muted.small", `since ${formatDate(a.fired_at)}`),
      ),
    ),
  );
}

export async function dashboardView(main, params, ctx) {
  const managerId = params[0] || session.person.employee_id;
  shell.setCrumbs(["My team", "#/team"], "Dashboard");
  const body = h("div", skeletonRows(3));
  main.append(body);

  async function render() {
    const board = await api.get(`/v1/dashboards/teams/${encodeURIComponent(managerId)}`);
    if (!ctx.isCurrent()) return false;
    const people = board.people;
    const head = h(
      "div.page-head",
      h("div", h("h1", "Team dashboard"), h("p", board.cycle_id ? `Goals against the plan in ${board.cycle_id} · updated ${new Date(board.as_of).toLocaleTimeString()}` : "Your direct reports")),
    );
    if (!people.length) {
      body.replaceChildren(head, h("div.card", empty("team", "No direct reports", "When people report to you, their goals show up here.")));
      return true;
    }
    const behind = people.filter((p) => p.expected_by_now !== null && p.progress < p.expected_by_now - 0.2).length;
    const anomalies = people.reduce((n, p) => n + p.open_anomalies.length, 0);
    const overdue = people.reduce((n, p) => n + p.overdue_tasks.length, 0);
    const decided = people.reduce((n, p) => n + p.milestones.total, 0);
    const reached = people.reduce((n, p) => n + p.milestones.achieved, 0);
    const stats = h(
      "div.grid.cols-4",
      { style: "margin-bottom:16px" },
      stat("Behind plan", String(behind), `of ${people.length} people`),
      stat("Open anomalies", String(anomalies), anomalies ? "Coaching prompts waiting" : "Nothing flagged"),
      stat("Overdue tasks", String(overdue), overdue ? "Nudge them in your next 1:1" : "Nothing late"),
      stat("Milestones on time", decided ? percent(reached / decided) : "—", `${reached} of ${decided}`),
    );
    const rows = people.map((p) =>
      h(
        "tr",
        { "data-employee": p.employee_id },
        h("td", h("div.person-cell", avatar(p.name, p.employee_id), h("div", h("div", h("strong", p.name)), h("div.muted.small", p.job_title || "")))),
        planCell(p),
        goalsCell(p),
        h("td", p.last_checkin_at ? h("span", formatDate(p.last_checkin_at), p.last_confidence ? h("div.muted.small", `confidence ${p.last_confidence}/5`) : null) : h("span.muted.small", "None yet")),
        anomaliesCell(p),
        h("td", p.overdue_tasks.length ? h("span.badge.overdue", `${p.overdue_tasks.length} overdue`) : h("span.badge.ok", "None")),
        h("td", p.milestones.total ? `${percent(p.milestones.rate)} (${p.milestones.achieved}/${p.milestones.total})` : h("span.muted.small", "—")),
      ),
    );
    body.replaceChildren(
      head,
      stats,
      h(
        "div.card",
        h(
          "table.table",
          h("caption.visually-hidden", "Each report's goals against the plan"),
          h("thead", h("tr", h("th", "Person"), h("th", "Against plan"), h("th", "Goals"), h("th", "Last check-in"), h("th", "Anomalies"), h("th", "Overdue"), h("th", "Milestones"))),
          h("tbody", rows),
        ),
      ),
    );
    return true;
  }

  await render();
  // Live: re-read while the page is shown, so a check-in or a progress event appears on its own.
  const timer = setInterval(async () => {
    if (!ctx.isCurrent()) {
      clearInterval(timer);
      return;
    }
    try {
      await render();
    } catch {
      // Keep the last good view; the next tick tries again.
    }
  }, REFRESH_MS);
}
