// HR's cycle page, the results part of the analytics: ratings per department against the
// guideline, calibration shifts, the high-performer profile, pay spend against the budget
// and succession slates (GET /v1/cycles/{id}/analytics, `results`).
import { directory } from "../directory.js";
import { h } from "../ui.js";

const fmt = (value, digits = 1) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
const pct = (value) => (value === null || value === undefined ? "—" : `${Math.round(Number(value) * 100)}%`);
const money = (value, currency) => (value === null || value === undefined ? "—" : `${Number(value).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${currency}`);

function card(title, subtitle, body) {
  return h("div.card", h("div.card-head", h("div", h("h2", title), subtitle ? h("div.muted.small", subtitle) : null)), h("div.card-body", body));
}

function table(caption, heads, rows) {
  return h(
    "table.table",
    h("caption.visually-hidden", caption),
    h("thead", h("tr", heads.map((head) => h("th", head)))),
    h("tbody", rows),
  );
}

function groupsCard(results) {
  const levels = results.by_group.length ? results.by_group[0].distribution.map((b) => b.rating) : [];
  return card(
    "Ratings per department",
    "Share of each rating against the guideline; a warning marks a share off the tolerance.",
    table(
      "Ratings per department",
      ["Department", "Rated", ...levels.map(String)],
      results.by_group.map((g) =>
        h(
          "tr",
          { "data-group": g.group },
          h("td", h("strong", g.group), g.outside_tolerance ? h("span.badge.warn", { style: "margin-left:8px" }, `${g.outside_tolerance} off`) : null),
          h("td", `${g.rated} / ${g.participants}`),
          g.distribution.map((b) => h("td", { title: `guideline ${b.guideline_percent ?? "—"}%` }, b.outside_tolerance ? h("strong", `${b.percent}%`) : `${b.percent}%`)),
        ),
      ),
    ),
  );
}

function calibrationCard(shifts) {
  const moves = shifts.moves.length
    ? h("ul", shifts.moves.map((m) => h("li", `${m.from_rating} → ${m.to_rating}: ${m.count}`)))
    : h("p.muted", "Calibration changed no rating.");
  return card("Shifts from calibration", `${shifts.changed} changed · ${shifts.up} up · ${shifts.down} down · net ${shifts.net_points} points`, moves);
}

function profileCard(profile) {
  const rows = [
    ["People", (p) => String(p.people)],
    ["Tenure (years)", (p) => fmt(p.tenure_years)],
    ["Goal attainment", (p) => pct(p.goal_attainment)],
    ["Check-ins per person", (p) => fmt(p.checkins_per_person)],
    ["Check-ins on time", (p) => pct(p.checkins_on_time)],
    ["Level", (p) => fmt(p.level)],
    ["Roles", (p) => Object.entries(p.roles).map(([role, n]) => `${role} (${n})`).join(", ") || "—"],
  ];
  return card(
    "High performers",
    `Rated ${profile.top_ratings.join(" or ")} against everyone else rated`,
    table("High-performer profile", ["", "Top band", "Everyone else"], rows.map(([label, get]) => h("tr", h("th", label), h("td", get(profile.top)), h("td", get(profile.rest))))),
  );
}

function payCard(pay) {
  if (!pay.length) return card("Pay spend", null, h("p.muted", "No result proposals yet."));
  return card(
    "Pay spend against the budget",
    "Merit after the budget rule; lump sums and bonuses are outside the merit budget.",
    table(
      "Pay spend",
      ["Department", "Budget", "Merit", "Used", "Lump sums", "Bonus"],
      pay.map((p) =>
        h(
          "tr",
          { "data-pay": p.group },
          h("td", p.group === "*" ? h("strong", "Total") : p.group),
          h("td", money(p.budget, p.currency)),
          h("td", money(p.merit, p.currency)),
          h("td", p.used_percent === null ? "—" : h(`span.badge.${p.over_budget ? "warn" : "ok"}`, `${p.used_percent}%`)),
          h("td", money(p.lump_sum, p.currency)),
          h("td", money(p.bonus, p.currency)),
        ),
      ),
    ),
  );
}

function successionCard(slates, decisions) {
  const counts = Object.entries(decisions).map(([kind, n]) => `${kind.replace("_", " ")}: ${n}`).join(" · ");
  const body = slates.length
    ? h(
        "ul",
        slates.map((s) =>
          h(
            "li",
            { "data-position": s.position },
            h("strong", s.position),
            ": ",
            s.candidates.length ? s.candidates.map((c) => `${directory.name(c.employee_id)} (${c.nine_box}${c.nominated ? ", named by HR" : ""})`).join(", ") : "no candidate",
          ),
        ),
      )
    : h("p.muted", "The definition names no key positions.");
  return card("Succession", counts ? `Talent decisions: ${counts}` : "No talent decisions recorded yet", body);
}

/** The results cards, or null before the results phase has anything to show. */
export function resultsSection(data) {
  const results = data.results;
  if (!results) return null;
  return h(
    "section.grid",
    { "aria-labelledby": "pay-title", style: "margin-top:24px" },
    h("div.page-head", { style: "margin-bottom:0" }, h("h2#pay-title", "Results and pay")),
    groupsCard(results),
    payCard(results.pay),
    h("div.grid.cols-2", profileCard(results.high_performers), calibrationCard(results.calibration)),
    successionCard(results.succession, results.talent_decisions),
  );
}
