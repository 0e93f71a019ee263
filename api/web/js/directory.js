// Names for employee ids, from the people list the sign-in page and the team page load.
const KEY = "perfloop.directory";

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "{}");
  } catch {
    return {};
  }
}

export const directory = {
  remember(people) {
    const known = load();
    for (const person of people) known[person.employee_id] = person.name;
    sessionStorage.setItem(KEY, JSON.stringify(known));
  },
  /** A task title with its subject's id replaced by their name ("Review the goals of E018"). */
  title(task) {
    const id = task.subject_id;
    return id && !id.startsWith("@") ? task.title.replaceAll(id, this.name(id)) : task.title;
  },
  name(id) {
    if (!id) return "";
    if (id.startsWith("@")) return `${id.slice(1)} (group)`;
    return load()[id] || id;
  },
};
