// The interview's read-only context: the prefilled agenda beside the minutes form (its
// sections, each with the items the definition names, 360 themes as the anonymity rules
// let them show) and the minutes beside the acknowledgment form.
import { formatDate, h, humanize } from "../ui.js";

const ITEMS = ["rating", "goal_attainment", "significant_events", "checkin_highlights", "feedback_themes", "development_goals"];
const ITEM_TITLES = {
  rating: "Rating",
  goal_attainment: "Goal attainment",
  significant_events: "Significant events",
  checkin_highlights: "Check-in highlights",
  feedback_themes: "What colleagues said",
  development_goals: "Development goals",
};
const OWNERS = { employee: "Team member", manager: "Manager" };

const percent = (value) => `${Math.round(Number(value) * 100)}%`;
const score = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(2));
const list = (items, describe) => h("ul", items.map((item) => h("li", describe(item))));
const none = (text) => h("p.muted.small", text);

function rating(value) {
  if (!value) return none("Not rated yet.");
  return h(
    "p",
    h("strong", `Rating ${value.rating ?? "—"}`),
    value.label ? ` · ${value.label}` : null,
    value.calibrated ? h("span.badge.info", { style: "margin-left:6px" }, "calibrated") : null,
    value.score !== null && value.score !== undefined ? h("div.muted.small", `Score ${score(value.score)}`) : null,
  );
}

function attainment(value) {
  if (!value) return none("No goals.");
  const goals = Array.isArray(value.goals) ? value.goals : [];
  return [
    h("p", h("strong", value.attainment === null || value.attainment === undefined ? "—" : percent(value.attainment)), h("span.muted.small", " of the weighted goals")),
    goals.length ? list(goals, (g) => [g.title, h("span.muted.small", ` · ${percent(g.progress || 0)} · weight ${g.weight}`)]) : null,
  ];
}

function events(value) {
  if (!Array.isArray(value) || !value.length) return none("No significant events recorded.");
  return list(value, (e) => [h("span.muted.small", `${formatDate(e.at)} · ${humanize(e.kind)} `), e.summary]);
}

function checkins(value) {
  if (!Array.isArray(value) || !value.length) return none("No check-ins yet.");
  return list(value, (c) => [
    h("span.muted.small", formatDate(c.at)),
    c.notes ? h("div", c.notes) : null,
    Array.isArray(c.blockers) && c.blockers.length ? h("div.small", `Blockers: ${c.blockers.join(", ")}`) : null,
    c.confidence !== null && c.confidence !== undefined ? h("div.muted.small", `Confidence ${score(c.confidence)}`) : null,
  ]);
}

function developmentGoals(value) {
  if (!Array.isArray(value) || !value.length) return none("No development goals.");
  return list(value, (g) => [g.title, h("span.muted.small", g.source === "carried_over" ? " · agreed last cycle" : ` · ${percent(g.progress || 0)}`)]);
}

/** 360 themes: only what the rater groups' thresholds show; never who said what, or when. */
function themes(value) {
  const groups = (value && Array.isArray(value.groups) && value.groups) || [];
  const notices = ((value && Array.isArray(value.notices) && value.notices) || []).filter((n) => n.action !== "comments_withheld");
  if (!groups.length && !notices.length) return none("No peer or upward feedback this cycle.");
  return h(
    "div.themes",
    groups.map((g) =>
      h(
        "div.theme-group",
        h("h4", `${g.title} · ${g.responses} answers`),
        g.includes && g.includes.length > 1 ? h("div.muted.small", `Includes ${g.includes.map(humanize).join(" and ").toLowerCase()}`) : null,
        h("div", "Overall ", h("strong", score(g.score))),
        g.competencies && g.competencies.length ? h("dl.kv", g.competencies.flatMap((c) => [h("dt", c.title), h("dd", score(c.score))])) : null,
        (g.comments || []).map((q) => [h("h5", q.title), list(q.texts, (t) => t)]),
        g.withheld ? h("div.muted.small.withheld", `Comments not shown: ${g.withheld}`) : null,
      ),
    ),
    notices.map((n) => h("div.alert.info.small.notice", `${humanize(n.group)}: ${n.reason}`)),
  );
}

const RENDER = {
  rating,
  goal_attainment: attainment,
  significant_events: events,
  checkin_highlights: checkins,
  feedback_themes: themes,
  development_goals: developmentGoals,
};

function minutesCard(minutes) {
  const rows = [];
  const row = (title, value) => rows.push(h("dt", title), h("dd", value));
  if (minutes.strengths) row("Strengths", minutes.strengths);
  if (minutes.development_areas) row("Development areas", minutes.development_areas);
  if (Array.isArray(minutes.action_items) && minutes.action_items.length) {
    row("Action items", list(minutes.action_items, (a) => [a.title, h("span.muted.small", [` · ${OWNERS[a.owner] || humanize(a.owner || "")}`, a.due ? ` · by ${a.due}` : ""].join(""))]));
  }
  if (Array.isArray(minutes.agreed_next_goals) && minutes.agreed_next_goals.length) row("Goals for next cycle", list(minutes.agreed_next_goals, (g) => g));
  for (const [section, notes] of Object.entries(minutes.sections || {})) row(humanize(section), notes);
  return h("div.card.context.minutes", h("div.card-body", h("h3", "The minutes"), h("dl.kv.readonly", rows)));
}

/** The interview's cards, and the context left for the generic cards. */
export function interviewCards(context) {
  const { agenda, minutes, ...rest } = context || {};
  const cards = [];
  if (minutes && typeof minutes === "object") cards.push(minutesCard(minutes));
  const present = ITEMS.filter((item) => item in rest);
  if (!present.length) return { cards, rest };
  const sections = Array.isArray(agenda) && agenda.length ? agenda : present.map((item) => ({ id: item, title: ITEM_TITLES[item], items: [item] }));
  const shown = new Set();
  for (const section of sections) {
    const items = (section.items || []).filter((item) => item in rest);
    if (!items.length) continue;
    items.forEach((item) => shown.add(item));
    cards.push(
      h(
        "div.card.context.agenda-section",
        { "data-section": section.id },
        h(
          "div.card-body",
          h("h3", section.title),
          section.prompt ? h("p.muted.small", section.prompt) : null,
          items.map((item) => h("div.agenda-item", { "data-item": item }, items.length > 1 ? h("h4", ITEM_TITLES[item]) : null, RENDER[item](rest[item]))),
        ),
      ),
    );
  }
  for (const item of present) delete rest[item];
  for (const item of present.filter((i) => !shown.has(i))) cards.push(h("div.card.context", h("div.card-body", h("h3", ITEM_TITLES[item]), RENDER[item](context[item]))));
  return { cards, rest };
}
