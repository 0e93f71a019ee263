// The shell: hash routes, the sidebar and top bar, and who is signed in.
import { api, session } from "./api.js";
import { avatar, h, icon, toast } from "./ui.js";
import { signinView } from "./views/signin.js";
import { inboxView } from "./views/inbox.js";
import { taskView } from "./views/task.js";
import { teamView } from "./views/team.js";
import { goalsView } from "./views/goals.js";
import { dashboardView } from "./views/dashboard.js";
import { cycleView, cyclesView } from "./views/hr.js";
import { calibrationView } from "./views/calibration.js";

const ROUTES = [
  { pattern: /^\/signin$/, view: signinView, public: true },
  { pattern: /^\/inbox(?:\/(done))?$/, view: inboxView, nav: "inbox" },
  { pattern: /^\/tasks\/(.+)$/, view: taskView, nav: "inbox" },
  { pattern: /^\/team$/, view: teamView, nav: "team" },
  { pattern: /^\/goals(?:\/([^/]+))?$/, view: goalsView, nav: "goals" },
  { pattern: /^\/team\/dashboard(?:\/([^/]+))?$/, view: dashboardView, nav: "dashboard" },
  { pattern: /^\/hr$/, view: cyclesView, nav: "hr", roles: ["hr-admin", "hrbp", "ops"] },
  { pattern: /^\/hr\/cycles\/([^/]+)$/, view: cycleView, nav: "hr", roles: ["hr-admin", "hrbp", "ops"] },
  { pattern: /^\/calibration\/([^/]+)\/([^/]+)$/, view: calibrationView, nav: "inbox" },
];

const ROLE_NAMES = { "hr-admin": "HR admin", hrbp: "HR business partner", ops: "Operations" };

export const shell = {
  setCrumbs(...parts) {
    const crumbs = document.getElementById("crumbs");
    crumbs.replaceChildren();
    parts.forEach((part, i) => {
      if (i) crumbs.append(" / ");
      crumbs.append(Array.isArray(part) ? h("a", { href: part[1] }, part[0]) : h("span", part));
    });
    document.title = `${parts.map((p) => (Array.isArray(p) ? p[0] : p)).at(-1)} · perfloop`;
  },
  setInboxCount(count) {
    const badge = document.querySelector('[data-nav="inbox"] .count');
    if (badge) {
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = !count;
    }
  },
};

function renderChrome(route) {
  const person = session.person;
  const sidebar = document.getElementById("sidebar");
  const topbar = document.getElementById("topbar");
  const signedIn = !!person && !route.public;
  sidebar.hidden = !signedIn;
  topbar.hidden = !signedIn;
  if (!signedIn) return;

  const nav = document.getElementById("nav");
  const link = (key, href, label, iconName, extra) =>
    h("li", h("a", { href, "data-nav": key, "aria-current": route.nav === key ? "page" : null }, icon(iconName), h("span", label), extra));
  const items = [link("inbox", "#/inbox", "My inbox", "inbox", h("span.count", { hidden: true }))];
  items.push(link("goals", "#/goals", "My goals", "target"));
  if (person.direct_reports > 0) items.push(link("team", "#/team", "My team", "team"));
  if (person.direct_reports > 0) items.push(link("dashboard", "#/team/dashboard", "Team dashboard", "chart"));
  if (session.hasRole("hr-admin", "hrbp", "ops")) {
    items.push(h("li.nav-section", "People operations"));
    items.push(link("hr", "#/hr", "Review cycles", "chart"));
  }
  nav.replaceChildren(...items);

  const roles = person.roles.filter((role) => role !== "employee").map((role) => ROLE_NAMES[role] || role);
  const signOut = h("button.btn.ghost.small", { type: "button", title: "Sign out", "aria-label": "Sign out", onclick: () => {
    session.clear();
    location.hash = "#/signin";
  } }, icon("logout"));
  signOut.querySelector("svg").setAttribute("width", "18");
  document.getElementById("who").replaceChildren(
    avatar(person.name, person.employee_id),
    h("div", h("div.name", person.name), h("div.role", [person.job_title, ...roles].filter(Boolean).join(" · "))),
    signOut,
  );
  document.getElementById("environment").textContent = "Development sign-in";
  refreshInboxCount();
}

async function refreshInboxCount() {
  try {
    const page = await api.get("/v1/me/tasks?status=open&limit=100");
    shell.setInboxCount(page.items.length);
  } catch {
    // The count is a nicety; the inbox page reports errors itself.
  }
}

let generation = 0;

async function route() {
  const path = (location.hash || "#/inbox").slice(1) || "/inbox";
  const current = ROUTES.find((r) => r.pattern.test(path));
  const main = document.getElementById("main");
  if (!current) {
    location.hash = session.token ? "#/inbox" : "#/signin";
    return;
  }
  if (!current.public && !session.token) {
    location.hash = "#/signin";
    return;
  }
  if (current.roles && !session.hasRole(...current.roles)) {
    toast("That page is for HR; here is your inbox.", "bad");
    location.hash = "#/inbox";
    return;
  }
  renderChrome(current);
  const mine = ++generation;
  const params = path.match(current.pattern).slice(1).map((p) => (p === undefined ? p : decodeURIComponent(p)));
  main.replaceChildren();
  try {
    await current.view(main, params, { isCurrent: () => mine === generation, refreshInboxCount });
  } catch (error) {
    if (mine !== generation) return;
    main.replaceChildren(h("div.card", h("div.card-body", h("div.alert.bad", { role: "alert" }, h("strong", "This page could not be loaded. "), error.message))));
  }
  if (mine === generation) main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
window.addEventListener("perfloop:signed-out", (event) => {
  toast(`Your session ended (${event.detail}). Please sign in again.`, "bad");
  location.hash = "#/signin";
});
route();
