// My inbox: open tasks (overdue first), or everything done.
import { api, session, taskPath } from "../api.js";
import { shell } from "../app.js";
import { directory } from "../directory.js";
import { empty, formatDate, h, humanize, icon, skeletonRows, statusBadge } from "../ui.js";

const KIND_ICONS = {
  goal_draft: "target",
  goal_review: "check",
  goal_realign: "target",
  department_objectives: "target",
  checkin: "pulse",
  coaching: "chat",
  self_review: "review",
  manager_review: "review",
  peer_review: "review",
  upward_review: "review",
  peer_nomination: "team",
  peer_approval: "team",
  calibration: "chart",
  interview_minutes: "chat",
  acknowledgment: "check",
  potential_assessment: "grid",
  results_approval: "coins",
};

export function taskIcon(kind) {
  return h("span.task-icon", { "aria-hidden": "true" }, icon(KIND_ICONS[kind] || "check"));
}

/** Calibration opens its group's page (distribution, outliers, adjust); others the form. */
function taskHref(task) {
  if (task.kind === "calibration" && task.subject_id.startsWith("@")) {
    return `#/calibration/${encodeURIComponent(task.cycle_id)}/${encodeURIComponent(task.subject_id.slice(1))}`;
  }
  return `#/tasks/${taskPath(task.task_id)}`;
}

function row(task) {
  const me = session.person.employee_id;
  const about = task.subject_id === me ? null : h("span", `About ${directory.name(task.subject_id)}`);
  const due = task.status === "submitted" ? `Done ${formatDate(task.submitted_at)}` : `Due ${formatDate(task.due_at)}`;
  return h(
    "li",
    h(
      "a.task-row",
      { href: taskHref(task), "data-task": task.task_id },
      taskIcon(task.kind),
      h("div.task-main", h("div.task-title", directory.title(task)), h("div.task-meta", h("span", humanize(task.phase_id)), about, h("span", task.cycle_id))),
      h("div.task-due", h("div", due), task.status === "open" ? null : statusBadge(task.status), task.late ? h("span.badge.warn", "Late") : null),
    ),
  );
}

export async function inboxView(main, [tab], ctx) {
  const done = tab === "done";
  shell.setCrumbs(["My inbox", "#/inbox"], done ? "Done" : "To do");
  const body = h("div", skeletonRows());
  main.append(
    h("div.page-head", h("div", h("h1", `Good to see you, ${session.person.name.split(" ")[0]}`), h("p", done ? "Everything you have already handed in." : "Tasks waiting for you, the most urgent first."))),
    h(
      "nav.tabs",
      { "aria-label": "Inbox" },
      h("a", { href: "#/inbox", "aria-current": done ? null : "page" }, "To do"),
      h("a", { href: "#/inbox/done", "aria-current": done ? "page" : null }, "Done"),
    ),
    body,
  );
  const page = await api.get(`/v1/me/tasks?status=${done ? "submitted" : "open"}&limit=200`);
  if (!ctx.isCurrent()) return;
  let items = page.items;
  if (!done) {
    shell.setInboxCount(items.length);
    // Overdue first, then the nearest due date.
    items = [...items].sort((a, b) => (a.status === "overdue") === (b.status === "overdue") ? a.due_at.localeCompare(b.due_at) : a.status === "overdue" ? -1 : 1);
  }
  if (!items.length) {
    body.replaceChildren(
      h(
        "div.card",
        done
          ? empty("inbox", "Nothing here yet", "Tasks you submit show up here.")
          : empty("sun", "You're all caught up", "New tasks appear here when your review cycle needs something from you."),
      ),
    );
    return;
  }
  const overdue = items.filter((t) => t.status === "overdue").length;
  body.replaceChildren(
    h(
      "div",
      !done && overdue ? h("div.alert.bad", { style: "margin-bottom:14px" }, h("strong", `${overdue} overdue. `), "Reminders keep coming until these are done.") : null,
      h("div.card", h("ul.task-list", { "aria-label": done ? "Done tasks" : "Open tasks" }, items.map(row))),
    ),
  );
}
