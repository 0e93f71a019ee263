// Calibration: one group's ratings against the guideline, outliers and managers' bias
// flags; the calibrator changes ratings (a reason each) and submits the group's task.
import { api, ApiError, session, taskPath } from "../api.js";
import { shell } from "../app.js";
import { distributionChart } from "../charts.js";
import { empty, formatDate, h, humanize, toast } from "../ui.js";

const SOURCE_NAMES = {
  goal_attainment: "Goals",
  self_review: "Self",
  manager_review: "Manager",
  peer_review: "Peers",
  upward_review: "Reports",
};

function sources(member) {
  const parts = Object.entries(member.sources).map(([key, value]) => `${SOURCE_NAMES[key] || key} ${value.toFixed(2)}`);
  return parts.length ? parts.join(" · ") : "—";
}

export async function calibrationView(main, [cycleId, group], ctx) {
  shell.setCrumbs("Calibration", `${group} · ${cycleId}`);
  const data = await api.get(`/v1/cycles/${encodeURIComponent(cycleId)}/calibration/${encodeURIComponent(group)}`);
  if (!ctx.isCurrent()) return;
  const me = session.person.employee_id;
  const task = data.task;
  const canAdjust = !!task && task.assignee_id === me && ["open", "overdue"].includes(task.status);
  const ratings = [...new Set(data.distribution.map((row) => row.rating))].sort((a, b) => a - b);
  const bands = data.distribution.map((row) => ({
    rating: row.rating,
    label: `Rating ${row.rating}`,
    count: row.count,
    percent: row.percent,
    guideline_percent: row.guideline,
    outside_tolerance: row.flagged,
  }));
  const flagged = data.distribution.filter((row) => row.flagged);
  const outliers = new Map(data.outliers.map((o) => [o.employee_id, o.reasons]));
  const changes = new Map();

  const rows = data.members.map((m) => {
    const select = h(
      "select",
      { "aria-label": `Calibrated rating of ${m.name || m.employee_id}`, disabled: !canAdjust, "data-employee": m.employee_id },
      ratings.map((r) => h("option", { value: String(r), selected: r === m.final_rating }, String(r))),
    );
    const reason = h("textarea", { rows: 2, placeholder: "Why (at least 10 characters)", hidden: true, "aria-label": `Reason for ${m.name || m.employee_id}` });
    const sync = () => {
      const value = Number(select.value);
      const changed = value !== m.final_rating;
      reason.hidden = !changed;
      if (changed) changes.set(m.employee_id, { employee_id: m.employee_id, rating: value, reason });
      else changes.delete(m.employee_id);
    };
    select.addEventListener("change", sync);
    const notes = [...(outliers.get(m.employee_id) || []), ...m.bias_flags.map((f) => `manager flag: ${humanize(f)}`)];
    return h(
      "tr",
      { "data-member": m.employee_id },
      h("td", h("strong", m.name || m.employee_id), h("div.muted.small", m.employee_id)),
      h("td", m.score == null ? "—" : m.score.toFixed(2)),
      h("td", m.rating == null ? "—" : String(m.rating)),
      h("td", select, reason),
      h("td.small", sources(m)),
      h("td.small", notes.length ? notes.map((n) => h("div", n)) : h("span.muted", "—")),
    );
  });

  const submit = h("button.btn.primary", { type: "button", hidden: !canAdjust }, "Submit calibration");
  let sent = { body: null, key: null };
  submit.addEventListener("click", async () => {
    const adjustments = [...changes.values()].map((c) => ({ employee_id: c.employee_id, rating: c.rating, reason: c.reason.value.trim() }));
    const missing = adjustments.filter((a) => a.reason.length < 10);
    if (missing.length) {
      toast(`Give a reason (at least 10 characters) for ${missing.map((a) => a.employee_id).join(", ")}.`, "bad");
      return;
    }
    const body = { payload: { adjustments } };
    const text = JSON.stringify(body);
    if (sent.body !== text) sent = { body: text, key: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}` };
    submit.disabled = true;
    try {
      await api.post(`/v1/tasks/${taskPath(task.task_id)}/submit`, body, { "Idempotency-Key": sent.key });
      toast(`Calibration of ${group} submitted (${adjustments.length} change${adjustments.length === 1 ? "" : "s"}).`, "ok");
      ctx.refreshInboxCount();
      location.hash = "#/inbox";
    } catch (error) {
      toast(error instanceof ApiError ? error.message : String(error), "bad");
    } finally {
      submit.disabled = false;
    }
  });

  main.append(
    h(
      "div.page-head",
      h("div", h("h1", `Calibration: ${group}`), h("p", `${cycleId} · ${data.members.length} people · guideline tolerance ±${data.tolerance_points} points`)),
      task ? h("div.toolbar", h("span.badge", `Task ${humanize(task.status)} · due ${formatDate(task.due_at)}`)) : null,
    ),
    h(
      "div.grid.cols-2",
      h(
        "div.card",
        h("div.card-head", h("h2", "Distribution against the guideline"), flagged.length ? h("span.badge.warn", `${flagged.length} off the guideline`) : h("span.badge.ok", "Within the guideline")),
        h("div.card-body", data.members.length ? distributionChart(bands, { tolerance: data.tolerance_points }) : empty("chart", "Nobody rated yet", "")),
      ),
      h(
        "div.card",
        h("div.card-head", h("h2", "Managers as reviewers")),
        h(
          "table.table#bias",
          h("thead", h("tr", h("th", "Manager"), h("th", "Reviews"), h("th", "Mean"), h("th", "z"), h("th", "Flags"))),
          h(
            "tbody",
            data.managers.map((b) =>
              h("tr", h("td", b.reviewer_id), h("td", String(b.reviews)), h("td", b.mean == null ? "—" : b.mean.toFixed(2)), h("td", b.z == null ? "—" : b.z.toFixed(2)), h("td", b.flags.length ? b.flags.map(humanize).join(", ") : "—")),
            ),
          ),
        ),
      ),
    ),
    h(
      "div.card",
      { style: "margin-top:24px" },
      h("div.card-head", h("h2", "People"), h("span.muted.small", canAdjust ? "Change a rating, give the reason, then submit." : "Read only: the group's task is not yours or no longer open.")),
      h(
        "table.table#members",
        h("thead", h("tr", h("th", "Person"), h("th", "Score"), h("th", "Computed"), h("th", "Final rating"), h("th", "Sources"), h("th", "Flags"))),
        h("tbody", rows),
      ),
      h("div.form-actions", submit),
    ),
    h(
      "div.card",
      { style: "margin-top:24px" },
      h("div.card-head", h("h2", "Changes made")),
      data.changes.length
        ? h(
            "table.table#changes",
            h("thead", h("tr", h("th", "Person"), h("th", "From"), h("th", "To"), h("th", "Reason"), h("th", "By"), h("th", "When"))),
            h("tbody", data.changes.map((c) => h("tr", h("td", c.employee_id), h("td", String(c.from_rating ?? "—")), h("td", String(c.to_rating)), h("td", c.reason), h("td", c.calibrator_id), h("td", formatDate(c.at))))),
          )
        : h("div.card-body", h("span.muted", "No rating changed yet.")),
    ),
  );
}
