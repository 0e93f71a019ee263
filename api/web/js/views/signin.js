// Development sign-in: choose one of the demo people.
import { api, ApiError, session } from "../api.js";
import { directory } from "../directory.js";
import { avatar, empty, h, loading, toast } from "../ui.js";

const ROLE_LABELS = { "hr-admin": "HR admin", hrbp: "HRBP", ops: "Ops" };

export async function signinView(main) {
  const list = h("div.people", loading("Loading people…"));
  const search = h("input", { type: "search", placeholder: "Filter by name, title or department", "aria-label": "Filter people" });
  main.append(
    h(
      "div.signin",
      h("div.signin-hero", h("img", { src: "img/logo.svg", alt: "", width: 40, height: 40 }), h("div", h("h1", "Sign in to perfloop"), h("p.muted", "Choose who you want to be. Every demo person has their own inbox, team and permissions."))),
      h("div.note", h("strong", "Development mode. "), "Anyone can sign in as anyone here; production uses your identity provider instead."),
      h("div.people-filter", search),
      list,
    ),
  );
  let people;
  try {
    people = await api.get("/dev/people");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      list.replaceChildren(empty("logout", "Development sign-in is off", "This server runs in production mode: sign in through your organisation's identity provider."));
      return;
    }
    throw error;
  }
  directory.remember(people);
  if (!people.length) {
    list.replaceChildren(empty("team", "Nobody to sign in as yet", "Load an organisation first: `perfloop dev` loads the demo organisation on its first start."));
    return;
  }
  const render = () => {
    const needle = search.value.trim().toLowerCase();
    const shown = people.filter((p) => !needle || [p.name, p.job_title, p.department, p.employee_id].join(" ").toLowerCase().includes(needle));
    const items = [];
    let lastGroup = null;
    for (const person of shown) {
      const group = person.roles.length > 1 ? "People operations" : person.department;
      if (group !== lastGroup) {
        items.push(h("div.dept-head", group));
        lastGroup = group;
      }
      const tags = person.roles.filter((r) => r !== "employee").map((r) => h("span.badge.info", ROLE_LABELS[r] || r));
      if (person.direct_reports) tags.push(h("span.badge", `${person.direct_reports} report${person.direct_reports === 1 ? "" : "s"}`));
      items.push(
        h(
          "button.person",
          { type: "button", "data-employee": person.employee_id, onclick: () => choose(person) },
          avatar(person.name, person.employee_id),
          h("span.who-text", h("div", h("strong", person.name), h("span.muted.small", ` · ${person.employee_id}`)), h("div.title", person.job_title || person.department), tags.length ? h("div.tags", tags) : null),
        ),
      );
    }
    list.replaceChildren(...(items.length ? items : [h("p.muted", "Nobody matches that filter.")]));
  };
  search.addEventListener("input", render);
  render();
  search.focus();
}

async function choose(person) {
  try {
    const result = await api.post("/dev/session", { employee_id: person.employee_id });
    session.save(result.token, result.person);
    location.hash = "#/inbox";
  } catch (error) {
    toast(error.message, "bad");
  }
}
