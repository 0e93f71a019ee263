// One task: its form rendered from the JSON Schema, the context its prefill carries, submit.
import { api, ApiError, session, taskPath } from "../api.js";
import { shell } from "../app.js";
import { directory } from "../directory.js";
import { buildForm, splitPrefill } from "../form.js";
import { clearToasts, formatDate, h, humanize, loading, statusBadge, toast } from "../ui.js";
import { interviewCards } from "./agenda.js";
import { taskIcon } from "./inbox.js";

const GOAL_TYPES = { okr: "OKR", kpi: "KPI", development: "Development goal" };

function facts(task) {
  const me = session.person.employee_id;
  const rows = [
    ["Status", statusBadge(task.status)],
    ["Due", formatDate(task.due_at)],
    ["Phase", humanize(task.phase_id)],
    ["Cycle", task.cycle_id],
  ];
  if (task.subject_id !== me) rows.splice(1, 0, ["About", directory.name(task.subject_id)]);
  if (task.submitted_at) rows.push(["Submitted", formatDate(task.submitted_at)]);
  return h("dl.kv", rows.flatMap(([k, v]) => [h("dt", k), h("dd", v)]));
}

function listOf(items, describe) {
  return h("ul", items.map((item) => h("li", describe(item))));
}

/** Prefill keys that are not form fields: shown read-only, as help for filling in the form. */
function contextCards(context) {
  const cards = [];
  const card = (title, content) => cards.push(h("div.card.context", h("div.card-body", h("h3", title), content)));
  const { objectives, suggested_goals: suggested, suggested_targets: targets, strategy_change: change, strategy_changes: changes, goals, ratings, proposals, distribution, org_objectives: orgObjectives, group, carried_goals: carried, ...rest } = context;
  const strategy = change ? [change] : Array.isArray(changes) ? changes : [];
  if (strategy.length) {
    card("What changed", listOf(strategy, (c) => [h("strong", c.objective_title || c.objective_id), ` ${c.change === "dropped" ? "was dropped" : "changed"}`, c.reason ? h("div.small", c.reason) : null]));
  }
  if (Array.isArray(targets) && targets.length) {
    const basis = { person: "your own results", role: "people in your role", department: "your department" };
    card("Suggested targets", listOf(targets, (t) => [
      h("strong", t.metric),
      h("div", `Threshold ${t.threshold} · target ${t.target} · stretch ${t.stretch}${t.direction === "lower" ? " (lower is better)" : ""}`),
      h("div.muted.small.suggestion-source", `From ${t.source.data_points} past results of ${basis[t.source.basis] || t.source.basis}, at the ${t.source.percentiles.join(" / ")} percentiles.`),
    ]));
  }
  if (Array.isArray(objectives) && objectives.length) {
    card("Objectives to align with", listOf(objectives, (o) => [h("strong", o.title || o.id), o.level ? h("span.muted.small", ` · ${o.level === "org" ? "company" : o.level === "manager" ? "your manager's goal" : o.level}`) : null]));
  }
  if (Array.isArray(orgObjectives) && orgObjectives.length) card("Company objectives", listOf(orgObjectives, (o) => o.title || o.id));
  if (Array.isArray(suggested) && suggested.length) card("Ideas from your last conversation", listOf(suggested, (idea) => idea));
  if (Array.isArray(carried) && carried.length) {
    card("Not finished last cycle", listOf(carried, (g) => [h("strong", g.title), h("div.muted.small", `${g.cycle_id} · ${humanize(g.status)} · ${Math.round(100 * (g.progress || 0))}% done`)]));
  }
  if (Array.isArray(goals) && goals.length) {
    card(
      "Goals to review",
      listOf(goals, (g) => [
        h("strong", g.title),
        h("div.muted.small", [GOAL_TYPES[g.type] || humanize(g.type), g.weight !== undefined ? `${g.weight}%` : null].filter(Boolean).join(" · ")),
        g.description ? h("div.small", g.description) : null,
        Array.isArray(g.key_results) && g.key_results.length ? listOf(g.key_results, (kr) => `${kr.title} — ${kr.target}${kr.unit ? ` ${kr.unit}` : ""}`) : null,
      ]),
    );
  }
  if (Array.isArray(ratings) && ratings.length) {
    card(`Ratings${group ? ` in ${group}` : ""}`, listOf(ratings, (r) => `${directory.name(r.employee_id)}: ${r.rating ?? "—"}${r.label ? ` (${r.label})` : ""}`));
  }
  if (distribution && typeof distribution === "object" && Object.keys(distribution).length) {
    card("Distribution", h("dl.kv", Object.entries(distribution).flatMap(([k, v]) => [h("dt", `Rating ${k}`), h("dd", String(v))])));
  }
  if (Array.isArray(proposals) && proposals.length) {
    card("Proposals", listOf(proposals, (p) => `${directory.name(p.employee_id)}: rating ${p.rating ?? "—"}, merit ${p.merit_percent}%${p.nine_box ? `, ${p.nine_box}` : ""}`));
  }
  for (const [key, value] of Object.entries(rest)) {
    if (value === null || value === undefined || (typeof value === "object" && !Object.keys(value).length)) continue;
    card(humanize(key), typeof value === "object" ? h("div.readonly", h("pre.small", JSON.stringify(value, null, 2))) : h("p", String(value)));
  }
  return cards;
}

function readOnly(schema, payload) {
  const properties = schema.properties || {};
  const show = (value) =>
    Array.isArray(value)
      ? listOf(value, (item) => (item && typeof item === "object" ? item.title || JSON.stringify(item) : String(item)))
      : value && typeof value === "object"
        ? h("pre.small", JSON.stringify(value, null, 2))
        : String(value);
  return h(
    "dl.kv.readonly",
    Object.entries(payload || {}).flatMap(([key, value]) => [h("dt", (properties[key] && properties[key].title) || humanize(key)), h("dd", show(value))]),
  );
}

// A peer review request can be declined with a reason, through the same submit (the
// cycle decides whether declining is allowed; the API says so with a 422 otherwise).
function declineButton(task, ctx) {
  const button = h("button.btn.ghost", { type: "button" }, "Decline…");
  button.addEventListener("click", async () => {
    const reason = window.prompt("Why do you decline this review? (at least 3 characters; a replacement will be asked)");
    if (reason === null || reason.trim().length < 3) return;
    button.disabled = true;
    try {
      const key = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
      await api.post(`/v1/tasks/${taskPath(task.task_id)}/submit`, { payload: { decline: true, reason: reason.trim() } }, { "Idempotency-Key": key });
      clearToasts("bad");
      toast(`Declined: ${directory.title(task)}`, "ok");
      ctx.refreshInboxCount();
      location.hash = "#/inbox";
    } catch (error) {
      toast(error.message, "bad");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export async function taskView(main, [taskId], ctx) {
  shell.setCrumbs(["My inbox", "#/inbox"], "Task");
  main.append(loading("Loading the task…"));
  const task = await api.get(`/v1/tasks/${taskPath(taskId)}`);
  if (!ctx.isCurrent()) return;
  shell.setCrumbs(["My inbox", "#/inbox"], directory.title(task));
  const schema = task.form.schema;
  const { values, context } = splitPrefill(schema, task.prefill);
  const open = task.status === "open" || task.status === "overdue";

  const head = h(
    "div.page-head",
    h("div", { style: "display:flex;gap:14px;align-items:center" }, taskIcon(task.kind), h("div", h("h1", directory.title(task)), h("p", schema.description || ""))),
    task.status === "overdue" ? h("span.badge.overdue", `Overdue since ${formatDate(task.due_at)}`) : null,
  );
  // The interview's agenda (minutes task) or minutes (acknowledgment) come first, wider.
  const interview = interviewCards(context);
  const side = h("div.grid", h("div.card", h("div.card-body", h("h3", { style: "margin-bottom:10px" }, "About this task"), facts(task))), interview.cards, contextCards(interview.rest));
  const layout = interview.cards.length ? "div.task-layout.wide-side" : "div.task-layout";

  if (!open) {
    const note = task.status === "submitted" ? h("div.alert.ok", "You handed this in. It is shown as submitted.") : h("div.alert.info", `This task is ${task.status}; it can no longer be changed.`);
    main.replaceChildren(head, h(layout, h("div.card", h("div.card-body.form", note, task.payload ? readOnly(schema, task.payload) : null)), side));
    return;
  }

  const form = buildForm(schema, { initial: task.payload || values, context, hints: task.ui || {} });
  const submit = h("button.btn.primary", { type: "submit" }, "Submit");
  const element = h(
    "form",
    { novalidate: true, "aria-label": task.title },
    h("div.card", h("div.card-head", h("h2", schema.title || "Your answers"), h("span.muted.small", "Fields marked * are required")), h("div.card-body", form.element)),
    h("div.form-actions", h("a.btn.ghost", { href: "#/inbox" }, "Back to inbox"), task.kind === "peer_review" ? declineButton(task, ctx) : null, submit),
  );
  // One Idempotency-Key per answer sent: retrying the same answers (after a timeout or a
  // dropped connection) never submits twice, and corrected answers are a new request.
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
  let sent = { body: null, key: null };
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.validate().length) return;
    submit.disabled = true;
    submit.textContent = "Submitting…";
    const body = { payload: form.value() };
    const text = JSON.stringify(body);
    if (sent.body !== text) sent = { body: text, key: newKey() };
    try {
      await api.post(`/v1/tasks/${taskPath(task.task_id)}/submit`, body, { "Idempotency-Key": sent.key });
      clearToasts("bad");
      toast(`Submitted: ${directory.title(task)}`, "ok");
      ctx.refreshInboxCount();
      location.hash = "#/inbox";
    } catch (error) {
      if (error instanceof ApiError && error.status === 422 && Array.isArray(error.details.errors)) {
        const errors = error.details.errors.map((e) => ({ ...e, path: (e.path || "/").replace(/^\/body\/payload(?=\/|$)/, "") || "/" }));
        form.showServerErrors(errors);
        toast("Please check the highlighted answers.", "bad");
      } else {
        toast(error.message, "bad");
      }
    } finally {
      submit.disabled = false;
      submit.textContent = "Submit";
    }
  });
  main.replaceChildren(head, h(layout, element, side));
}
