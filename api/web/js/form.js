// Forms rendered from a task's JSON Schema (draft 2020-12, the subset the stock forms use):
// objects, `$ref` to `$defs`, `allOf` if/then (conditional required and hidden fields),
// arrays of objects (add/remove rows), arrays of enums, maps (additionalProperties),
// enums as radios or selects, integers and numbers with bounds, strings with length,
// pattern and date format, booleans. UI hints: `x-perfloop-widget` (textarea, slider,
// rating) and `x-perfloop-enum-titles`.
//
// buildForm() returns { element, value(), validate(), showServerErrors(errors) }: the value
// holds only the schema's properties, and errors are shown next to the field they are about.
import { directory } from "./directory.js";
import { h, humanize } from "./ui.js";

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function pointer(base, key) {
  const token = String(key).replace(/~/g, "~0").replace(/\//g, "~1");
  return base === "" ? `/${token}` : `${base}/${token}`;
}

function isEmpty(value) {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

class Resolver {
  constructor(root) {
    this.root = root;
  }

  resolve(schema) {
    if (schema === true || schema === undefined) return {};
    if (schema === false) return false;
    if (schema.$ref && schema.$ref.startsWith("#/")) {
      const target = schema.$ref
        .slice(2)
        .split("/")
        .reduce((node, key) => (node ? node[key.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined), this.root);
      const { $ref, ...rest } = schema;
      return { ...this.resolve(target), ...rest };
    }
    return schema;
  }
}

/** Does `value` match the small `if` schemas forms use (const/enum per property, required)? */
function matches(condition, value) {
  if (!condition || typeof condition !== "object") return condition !== false;
  const object = value && typeof value === "object" ? value : {};
  for (const key of condition.required || []) if (isEmpty(object[key])) return false;
  for (const [key, sub] of Object.entries(condition.properties || {})) {
    if (!(key in object) || isEmpty(object[key])) continue;
    if ("const" in sub && object[key] !== sub.const) return false;
    if (sub.enum && !sub.enum.includes(object[key])) return false;
  }
  return true;
}

// --- fields --------------------------------------------------------------------------------

class Field {
  constructor(form, schema, path, { label, name } = {}) {
    this.form = form;
    this.schema = schema;
    this.path = path;
    this.name = name;
    this.label = label || schema.title || humanize(name) || "Value";
    this.id = nextId("f");
    this.errorEl = h("div.error", { id: `${this.id}-error`, role: "alert" });
    this.required = false;
  }

  wrap(control, { inlineLabel = false } = {}) {
    const help = this.schema.description ? h("div.help", { id: `${this.id}-help` }, this.schema.description) : null;
    this.requiredMark = h("span.req", { "aria-hidden": "true" }, "*");
    this.requiredMark.hidden = !this.required;
    const label = inlineLabel
      ? h("div.label", { id: `${this.id}-label` }, this.label, this.requiredMark)
      : h("label", { for: this.id }, this.label, this.requiredMark);
    this.el = h("div.field", { "data-path": this.path }, label, help, control, this.errorEl);
    return this.el;
  }

  describe(input) {
    const ids = [this.schema.description ? `${this.id}-help` : null, `${this.id}-error`].filter(Boolean);
    input.setAttribute("aria-describedby", ids.join(" "));
  }

  setRequired(required) {
    this.required = required;
    if (this.requiredMark) this.requiredMark.hidden = !required;
  }

  setError(message) {
    this.errorEl.textContent = message || "";
    if (this.el) this.el.classList.toggle("invalid", !!message);
    for (const input of this.inputs()) input.setAttribute("aria-invalid", message ? "true" : "false");
  }

  inputs() {
    return this.el ? [...this.el.querySelectorAll(":scope > input, :scope > select, :scope > textarea, :scope > div > input")] : [];
  }

  clearErrors() {
    this.setError("");
    for (const child of this.children()) child.clearErrors();
  }

  children() {
    return [];
  }

  find(path) {
    if (path === this.path) return this;
    for (const child of this.children()) {
      if (path === child.path || path.startsWith(`${child.path}/`)) return child.find(path) || child;
    }
    return null;
  }

  /** Own constraints; required-ness is checked by the parent. */
  check() {
    return null;
  }

  validate(errors) {
    const message = this.check();
    this.setError(message);
    if (message) errors.push({ path: this.path, message, field: this });
    for (const child of this.children()) child.validate(errors);
  }

  focus() {
    const input = this.el && this.el.querySelector("input, select, textarea, button");
    if (input) input.focus();
  }

  /** A value changed: the enclosing object re-applies its conditions, the form hears it. */
  changed() {
    if (this.parent) this.parent.changed();
    else this.form.changed();
  }
}

class StringField extends Field {
  constructor(form, schema, path, options, initial) {
    super(form, schema, path, options);
    this.initial = initial;
  }

  render() {
    const s = this.schema;
    if (this.name === "id" && !this.required) {
      // A record's own id: kept when editing, made by the server for new entries.
      this.input = h("input", { type: "hidden", name: this.path, value: this.initial ?? "" });
      this.el = h("div.field", { "data-path": this.path, hidden: true }, this.input);
      this.fixed = true;
      return this.el;
    }
    const objectives = this.name === "parent_id" ? this.form.context.objectives : null;
    if (Array.isArray(objectives) && objectives.length) return this.renderObjectives(objectives);
    const options = this.choices();
    if (options.length) return this.renderOptions(options);
    if (s.enum) return this.renderEnum();
    let input;
    if (s["x-perfloop-widget"] === "textarea" || (s.maxLength || 0) > 300) {
      input = h("textarea", { id: this.id, name: this.path, rows: 4 });
    } else {
      input = h("input", { id: this.id, name: this.path, type: s.format === "date" ? "date" : "text" });
    }
    if (s.maxLength) input.maxLength = s.maxLength;
    input.value = this.initial ?? "";
    this.input = input;
    this.describe(input);
    const counter = s.maxLength && input.tagName === "TEXTAREA" ? h("div.counter", { "aria-hidden": "true" }) : null;
    const update = () => {
      if (counter) counter.textContent = `${input.value.length} / ${s.maxLength}`;
    };
    update();
    input.addEventListener("input", () => {
      update();
      this.setError("");
      this.changed();
    });
    return this.wrap(h("div", input, counter));
  }

  /** Values an id field may take: from the task's hints, or the people the prefill lists. */
  choices() {
    const hinted = (this.form.hints.options || {})[this.name];
    if (Array.isArray(hinted)) return hinted.map((o) => ({ value: o.id, title: o.title }));
    const ratings = this.form.context.ratings;
    if (this.name === "employee_id" && Array.isArray(ratings)) {
      return ratings.map((r) => ({ value: r.employee_id, title: `${directory.name(r.employee_id)} (rated ${r.rating ?? "—"})` }));
    }
    return [];
  }

  renderOptions(options) {
    const select = h("select", { id: this.id, name: this.path }, h("option", { value: "" }, "— Choose —"), options.map((o) => h("option", { value: o.value }, o.title)));
    if (this.initial !== undefined && !options.some((o) => o.value === this.initial)) select.append(h("option", { value: this.initial }, this.initial));
    select.value = this.initial ?? "";
    this.input = select;
    this.describe(select);
    select.addEventListener("change", () => {
      this.setError("");
      this.changed();
    });
    return this.wrap(select);
  }

  renderObjectives(objectives) {
    const select = h("select", { id: this.id, name: this.path }, h("option", { value: "" }, "— Choose what this goal supports —"));
    const groups = {};
    for (const objective of objectives) {
      const level = objective.level === "org" ? "Company objectives" : objective.level === "department" ? "Department objectives" : objective.level === "manager" ? "Your manager's goals" : "Objectives";
      groups[level] = groups[level] || h("optgroup", { label: level });
      groups[level].append(h("option", { value: objective.id }, objective.title || objective.id));
    }
    select.append(...Object.values(groups));
    select.value = this.initial ?? "";
    this.input = select;
    this.describe(select);
    select.addEventListener("change", () => {
      this.setError("");
      this.changed();
    });
    return this.wrap(select);
  }

  renderEnum() {
    const s = this.schema;
    const titles = s["x-perfloop-enum-titles"] || [];
    const options = s.enum.map((value, i) => ({ value, title: titles[i] || humanize(value) }));
    if (options.length <= 4) {
      const group = h("div.radios", { role: "radiogroup", "aria-labelledby": `${this.id}-label` });
      this.radios = options.map((option, i) =>
        h("input.visually-hidden", { type: "radio", name: this.id, value: option.value, id: `${this.id}-${i}`, checked: this.initial === option.value }),
      );
      options.forEach((option, i) => group.append(h("label.radio", { for: `${this.id}-${i}` }, this.radios[i], option.title)));
      group.addEventListener("change", () => {
        this.setError("");
        this.changed();
      });
      this.describe(group);
      return this.wrap(group, { inlineLabel: true });
    }
    const select = h("select", { id: this.id, name: this.path }, h("option", { value: "" }, "— Choose —"), options.map((o) => h("option", { value: o.value }, o.title)));
    select.value = this.initial ?? "";
    this.input = select;
    this.describe(select);
    select.addEventListener("change", () => {
      this.setError("");
      this.changed();
    });
    return this.wrap(select);
  }

  inputs() {
    return this.radios || (this.input ? [this.input] : []);
  }

  value() {
    if (this.radios) {
      const checked = this.radios.find((radio) => radio.checked);
      return checked ? checked.value : undefined;
    }
    const value = this.input.value;
    return value === "" ? undefined : value;
  }

  check() {
    const value = this.value();
    if (value === undefined) return null;
    const s = this.schema;
    if (s.minLength && value.length < s.minLength) return `Enter at least ${s.minLength} characters.`;
    if (s.maxLength && value.length > s.maxLength) return `Use at most ${s.maxLength} characters (now ${value.length}).`;
    if (s.pattern && !new RegExp(s.pattern, "u").test(value)) return "This value is not in the expected format.";
    if (s.enum && !s.enum.includes(value)) return "Choose one of the options.";
    return null;
  }
}

class NumberField extends Field {
  constructor(form, schema, path, options, initial) {
    super(form, schema, path, options);
    this.initial = initial;
    this.integer = schema.type === "integer";
  }

  render() {
    const s = this.schema;
    const widget = s["x-perfloop-widget"];
    if (widget === "rating" && s.minimum !== undefined && s.maximum !== undefined && s.maximum - s.minimum <= 10) {
      const group = h("div.rating", { role: "radiogroup", "aria-labelledby": `${this.id}-label` });
      this.radios = [];
      for (let n = s.minimum; n <= s.maximum; n += 1) {
        const radio = h("input", { type: "radio", name: this.id, value: String(n), id: `${this.id}-${n}`, checked: this.initial === n });
        this.radios.push(radio);
        group.append(h("label", { for: `${this.id}-${n}`, title: `${n} of ${s.maximum}` }, radio, String(n)));
      }
      group.addEventListener("change", () => {
        this.setError("");
        this.changed();
      });
      this.describe(group);
      return this.wrap(group, { inlineLabel: true });
    }
    const input = h("input", { id: this.id, name: this.path, type: "number", step: this.integer ? "1" : "any" });
    if (s.minimum !== undefined) input.min = s.minimum;
    if (s.maximum !== undefined) input.max = s.maximum;
    input.value = this.initial ?? "";
    this.input = input;
    this.describe(input);
    input.addEventListener("input", () => {
      this.setError("");
      this.changed();
    });
    if (widget === "slider" && s.minimum !== undefined && s.maximum !== undefined) {
      const range = h("input", { type: "range", min: s.minimum, max: s.maximum, step: this.integer ? 1 : "any", "aria-label": this.label, tabindex: "-1" });
      range.value = this.initial ?? s.minimum;
      input.style.width = "90px";
      range.addEventListener("input", () => {
        input.value = range.value;
        this.setError("");
        this.changed();
      });
      input.addEventListener("input", () => {
        if (input.value !== "") range.value = input.value;
      });
      return this.wrap(h("div.slider", range, input));
    }
    return this.wrap(input);
  }

  inputs() {
    return this.radios || (this.input ? [this.input] : []);
  }

  value() {
    if (this.radios) {
      const checked = this.radios.find((radio) => radio.checked);
      return checked ? Number(checked.value) : undefined;
    }
    const raw = this.input.value;
    if (raw === "") return this.input.validity.badInput ? NaN : undefined;
    return Number(raw);
  }

  check() {
    const value = this.value();
    if (value === undefined) return null;
    const s = this.schema;
    if (Number.isNaN(value)) return "Enter a number.";
    if (this.integer && !Number.isInteger(value)) return "Enter a whole number.";
    if (s.minimum !== undefined && value < s.minimum) return `Enter ${s.minimum} or more.`;
    if (s.maximum !== undefined && value > s.maximum) return `Enter ${s.maximum} or less.`;
    return null;
  }
}

class BooleanField extends Field {
  constructor(form, schema, path, options, initial) {
    super(form, schema, path, options);
    this.initial = initial;
  }

  render() {
    this.input = h("input", { type: "checkbox", id: this.id, name: this.path, checked: this.initial === true });
    this.describe(this.input);
    this.input.addEventListener("change", () => this.changed());
    const help = this.schema.description ? h("div.help", { id: `${this.id}-help` }, this.schema.description) : null;
    this.el = h("div.field", { "data-path": this.path }, h("label.toggle", { for: this.id }, this.input, h("span", this.label)), help, this.errorEl);
    return this.el;
  }

  inputs() {
    return [this.input];
  }

  value() {
    return this.input.checked;
  }
}

class ObjectField extends Field {
  constructor(form, schema, path, options, initial, { root = false } = {}) {
    super(form, schema, path, options);
    this.initial = initial && typeof initial === "object" ? initial : {};
    this.root = root;
    this.fields = new Map();
  }

  render() {
    const s = this.schema;
    const body = h("fieldset");
    if (!this.root) body.append(h("legend.visually-hidden", this.label));
    this.baseRequired = new Set(s.required || []);
    for (const [key, raw] of Object.entries(s.properties || {})) {
      const child = this.form.create(raw, pointer(this.path, key), { name: key }, this.initial[key]);
      if (!child) continue;
      child.parent = this;
      child.setRequired(this.baseRequired.has(key));
      this.fields.set(key, child);
      body.append(child.render());
    }
    this.body = body;
    this.ready = true;
    this.applyConditions();
    if (this.root) {
      this.el = body;
      return body;
    }
    const help = s.description ? h("div.help", s.description) : null;
    this.el = h("div.field", { "data-path": this.path }, h("div.label", this.label), help, h("div.object-box", body), this.errorEl);
    return this.el;
  }

  /** `allOf` if/then: fields a branch forbids are hidden, fields it requires are marked. */
  applyConditions() {
    const current = this.rawValue();
    const required = new Set(this.baseRequired);
    const hidden = new Set();
    for (const clause of this.schema.allOf || []) {
      const deciding = (clause.if && clause.if.required) || [];
      if (deciding.some((key) => isEmpty(current[key]))) {
        // Undecided (no goal type chosen yet): fields some branch forbids wait for the choice.
        for (const [key, sub] of Object.entries((clause.then && clause.then.properties) || {})) if (sub === false) hidden.add(key);
        continue;
      }
      const branch = matches(clause.if, current) ? clause.then : clause.else;
      if (!branch) continue;
      for (const key of branch.required || []) required.add(key);
      for (const [key, sub] of Object.entries(branch.properties || {})) if (sub === false) hidden.add(key);
    }
    for (const [key, child] of this.fields) {
      child.setRequired(required.has(key));
      child.hidden = hidden.has(key);
      child.el.hidden = child.hidden || !!child.fixed;
    }
    this.requiredKeys = required;
  }

  changed() {
    if (this.ready) this.applyConditions();
    super.changed();
  }

  children() {
    return [...this.fields.values()].filter((child) => !child.hidden);
  }

  rawValue() {
    const value = {};
    for (const [key, child] of this.fields) {
      const item = child.value();
      if (!isEmpty(item) || typeof item === "boolean") value[key] = item;
    }
    return value;
  }

  value() {
    const value = {};
    for (const [key, child] of this.fields) {
      if (child.hidden) continue;
      const item = child.value();
      if (item === undefined || (typeof item === "string" && item === "")) continue;
      if (Array.isArray(item) && item.length === 0 && !this.requiredKeys.has(key)) continue;
      if (item && typeof item === "object" && !Array.isArray(item) && Object.keys(item).length === 0 && !this.requiredKeys.has(key)) continue;
      value[key] = item;
    }
    return value;
  }

  validate(errors) {
    this.setError("");
    for (const [key, child] of this.fields) {
      if (child.hidden) continue;
      const before = errors.length;
      child.validate(errors);
      // A required list is present even when empty; how many it needs is its own minItems.
      if (errors.length === before && this.requiredKeys.has(key) && !(child instanceof ArrayField) && isEmpty(child.value())) {
        const message = "This field is required.";
        child.setError(message);
        errors.push({ path: child.path, message, field: child });
      }
    }
  }

  requiredChild(name) {
    return this.fields.get(name);
  }
}

class ArrayField extends Field {
  constructor(form, schema, path, options, initial) {
    super(form, schema, path, options);
    this.initial = Array.isArray(initial) ? initial : [];
    this.items = [];
    this.itemSchema = form.resolver.resolve(schema.items || {});
  }

  render() {
    const s = this.schema;
    const itemSchema = this.itemSchema;
    if (itemSchema.enum && (itemSchema.type === "string" || !itemSchema.type)) return this.renderChoices();
    this.list = h("div.array-items");
    const noun = (itemSchema.title || "item").toLowerCase();
    this.addButton = h("button.btn.small", { type: "button", onclick: () => this.add(undefined, true) }, `+ Add ${noun}`);
    this.counter = h("span.muted.small");
    const help = s.description ? h("div.help", { id: `${this.id}-help` }, s.description) : null;
    this.requiredMark = h("span.req", { "aria-hidden": "true" }, "*");
    this.requiredMark.hidden = !this.required;
    this.el = h(
      "div.field",
      { "data-path": this.path },
      h("div.label", { id: `${this.id}-label` }, this.label, this.requiredMark),
      help,
      this.list,
      h("div.toolbar", this.addButton, this.counter),
      this.errorEl,
    );
    for (const value of this.initial) this.add(value, false);
    if (!this.items.length && (s.minItems || 0) > 0 && itemSchema.type === "object") this.add(undefined, false);
    this.refresh();
    return this.el;
  }

  renderChoices() {
    const titles = this.itemSchema["x-perfloop-enum-titles"] || [];
    const group = h("div.radios", { role: "group", "aria-labelledby": `${this.id}-label` });
    this.checkboxes = this.itemSchema.enum.map((value, i) => {
      const box = h("input", { type: "checkbox", value, id: `${this.id}-${i}`, checked: this.initial.includes(value) });
      group.append(h("label.radio", { for: `${this.id}-${i}` }, box, titles[i] || humanize(value)));
      return box;
    });
    group.addEventListener("change", () => {
      this.setError("");
      this.changed();
    });
    return this.wrap(group, { inlineLabel: true });
  }

  add(value, focus) {
    const index = this.items.length;
    const child = this.form.create(this.schema.items || {}, pointer(this.path, index), { label: `${this.itemSchema.title || "Item"} ${index + 1}` }, value);
    if (!child) return;
    child.parent = this;
    const remove = h("button.btn.ghost.small.danger", { type: "button", "aria-label": `Remove ${child.label}`, onclick: () => this.remove(child) }, "Remove");
    const title = h("h3", child.label);
    let body;
    if (child instanceof ObjectField) {
      child.root = true;
      body = h("div.array-item-body", child.render());
      const simple = [...child.fields.values()].every((f) => !(f instanceof ObjectField || f instanceof ArrayField) && f.schema["x-perfloop-widget"] !== "textarea");
      if (simple) body.classList.add("inline");
    } else {
      body = h("div.array-item-body", child.render());
    }
    const card = h("div.array-item", h("div.array-item-head", title, remove), body);
    child.card = card;
    child.titleEl = title;
    this.items.push(child);
    this.list.append(card);
    this.refresh();
    if (focus) child.focus();
    this.changed();
  }

  remove(child) {
    this.items = this.items.filter((item) => item !== child);
    child.card.remove();
    this.renumber();
    this.refresh();
    this.changed();
  }

  /** Paths follow positions, so that errors about `/goals/1` land on the second card. */
  renumber() {
    this.items.forEach((child, index) => {
      const old = child.path;
      const fresh = pointer(this.path, index);
      const rewrite = (field) => {
        field.path = fresh + field.path.slice(old.length);
        if (field.el) field.el.dataset.path = field.path;
        for (const sub of field.fields ? field.fields.values() : field.items || []) rewrite(sub);
      };
      rewrite(child);
      child.label = `${this.itemSchema.title || "Item"} ${index + 1}`;
      child.titleEl.textContent = child.label;
    });
  }

  refresh() {
    const s = this.schema;
    if (this.addButton) this.addButton.disabled = s.maxItems !== undefined && this.items.length >= s.maxItems;
    if (this.counter) {
      const bounds = [s.minItems ? `at least ${s.minItems}` : null, s.maxItems ? `at most ${s.maxItems}` : null].filter(Boolean).join(", ");
      this.counter.textContent = `${this.items.length} added${bounds ? ` (${bounds})` : ""}`;
    }
  }

  children() {
    return this.items;
  }

  inputs() {
    return this.checkboxes || [];
  }

  value() {
    if (this.checkboxes) return this.checkboxes.filter((box) => box.checked).map((box) => box.value);
    return this.items.map((child) => child.value()).filter((value) => value !== undefined);
  }

  check() {
    const s = this.schema;
    const count = this.value().length;
    if (count === 0 && !this.required) return null;
    if (s.minItems && count < s.minItems) return `Add at least ${s.minItems}.`;
    if (s.maxItems && count > s.maxItems) return `Keep at most ${s.maxItems}.`;
    return null;
  }

  validate(errors) {
    super.validate(errors);
    for (const child of this.items) {
      if (child instanceof ObjectField || child instanceof ArrayField) continue;
      if (isEmpty(child.value())) {
        child.setError("Fill this in or remove it.");
        errors.push({ path: child.path, message: "Fill this in or remove it.", field: child });
      }
    }
  }
}

/** `{key: value}` maps (additionalProperties): a row per key. */
class MapField extends Field {
  validate(errors) {
    super.validate(errors);
    if (!this.keyed || !this.required) return;
    for (const { child } of this.keyed) {
      if (child.value() === undefined && !child.errorEl.textContent) {
        child.setError("Please answer this one too.");
        errors.push({ path: child.path, message: "Please answer this one too.", field: child });
      }
    }
  }

  constructor(form, schema, path, options, initial) {
    super(form, schema, path, options);
    this.initial = initial && typeof initial === "object" ? initial : {};
    this.rows = [];
    this.valueSchema = form.resolver.resolve(schema.additionalProperties);
  }

  render() {
    const keys = (this.form.hints.keys || {})[this.name];
    if (Array.isArray(keys) && keys.length) return this.renderKeyed(keys);
    this.list = h("div", { style: "display:grid;gap:8px" });
    const add = h("button.btn.small", { type: "button", onclick: () => this.add("", undefined, true) }, "+ Add entry");
    for (const [key, value] of Object.entries(this.initial)) this.add(key, value, false);
    return this.wrap(h("div", { style: "display:grid;gap:8px" }, this.list, h("div", add)), { inlineLabel: true });
  }

  /** The definition names the keys (competencies, conversation sections): one field each. */
  renderKeyed(keys) {
    this.keyed = keys.map((key) => {
      const child = this.form.create(this.schema.additionalProperties, pointer(this.path, key.id), { label: key.title }, this.initial[key.id]);
      child.parent = this;
      child.schema = { ...child.schema, description: key.description || child.schema.description };
      return { key: key.id, child };
    });
    const box = h("div.object-box", h("fieldset", this.keyed.map((row) => row.child.render())));
    return this.wrap(box, { inlineLabel: true });
  }

  add(key, value, focus) {
    const keyInput = h("input", { type: "text", value: key, placeholder: "Key", "aria-label": `${this.label}: key` });
    const child = this.form.create(this.schema.additionalProperties, `${this.path}/*`, { label: "Value" }, value);
    child.parent = this;
    const row = { keyInput, child };
    const remove = h("button.btn.ghost.small.danger", { type: "button", "aria-label": "Remove entry", onclick: () => {
      this.rows = this.rows.filter((r) => r !== row);
      row.el.remove();
      this.changed();
    } }, "Remove");
    row.el = h("div.map-row", keyInput, child.render(), remove);
    this.rows.push(row);
    this.list.append(row.el);
    if (focus) keyInput.focus();
  }

  children() {
    if (this.keyed) return this.keyed.map((row) => row.child);
    return this.rows.map((row) => {
      row.child.path = pointer(this.path, row.keyInput.value || "*");
      return row.child;
    });
  }

  value() {
    const value = {};
    if (this.keyed) {
      for (const { key, child } of this.keyed) {
        const item = child.value();
        if (item !== undefined) value[key] = item;
      }
      return value;
    }
    for (const row of this.rows) {
      const item = row.child.value();
      if (row.keyInput.value && item !== undefined) value[row.keyInput.value] = item;
    }
    return value;
  }

  check() {
    if (this.keyed) return null;
    const keys = this.rows.map((row) => row.keyInput.value);
    if (keys.some((key) => !key)) return "Every entry needs a key.";
    if (new Set(keys).size !== keys.length) return "Keys must be different.";
    if (this.schema.maxProperties && keys.length > this.schema.maxProperties) return `At most ${this.schema.maxProperties} entries.`;
    return null;
  }
}

// --- the form ----------------------------------------------------------------------------

class Form {
  constructor(schema, { initial = {}, context = {}, hints = {}, onChange } = {}) {
    this.resolver = new Resolver(schema);
    this.context = context;
    this.hints = hints;
    this.onChange = onChange;
    this.root = new ObjectField(this, this.resolver.resolve(schema), "", { label: schema.title }, initial, { root: true });
    this.alert = h("div.alert.bad", { role: "alert", tabindex: "-1" });
    this.alert.hidden = true;
    const rules = (hints.rules || []).length
      ? h("div.alert.info", h("strong", "Your cycle checks when you submit:"), h("ul", hints.rules.map((rule) => h("li", rule))))
      : null;
    this.element = h("div.form", rules, this.alert, this.root.render());
  }

  create(raw, path, options, initial) {
    const schema = this.resolver.resolve(raw);
    if (schema === false) return null;
    const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
    if (type === "object" || schema.properties) {
      if (!schema.properties && schema.additionalProperties && typeof schema.additionalProperties === "object") {
        return new MapField(this, schema, path, options, initial);
      }
      return new ObjectField(this, schema, path, options, initial);
    }
    if (type === "array") return new ArrayField(this, schema, path, options, initial);
    if (type === "integer" || type === "number") return new NumberField(this, schema, path, options, initial);
    if (type === "boolean") return new BooleanField(this, schema, path, options, initial);
    return new StringField(this, schema, path, options, initial);
  }

  changed() {
    if (this.onChange) this.onChange();
  }

  value() {
    return this.root.value();
  }

  /** Client-side check; shows messages next to fields and returns them. */
  validate() {
    this.root.clearErrors();
    this.alert.hidden = true;
    const errors = [];
    this.root.validate(errors);
    if (errors.length) {
      this.summarize(errors.length === 1 ? "One field needs your attention." : `${errors.length} fields need your attention.`);
      errors[0].field.focus();
    }
    return errors;
  }

  summarize(title, items = []) {
    this.alert.replaceChildren(h("strong", title), ...(items.length ? [h("ul", items.map((item) => h("li", item)))] : []));
    this.alert.hidden = false;
  }

  /** A 422's `details.errors` ({path, message} with JSON pointers) mapped onto the fields. */
  showServerErrors(errors) {
    this.root.clearErrors();
    const general = [];
    let first = null;
    for (const error of errors) {
      let path = error.path || "/";
      let message = error.message || "is not valid";
      const missing = /^'([^']+)' is a required property$/.exec(message);
      if (missing) {
        path = pointer(path === "/" ? "" : path, missing[1]);
        message = "This field is required.";
      }
      const field = path === "/" || path === "" ? null : this.root.find(path);
      if (field && field !== this.root) {
        field.setError(field.errorEl.textContent ? `${field.errorEl.textContent} ${message}` : message);
        first = first || field;
      } else {
        general.push(message.charAt(0).toUpperCase() + message.slice(1));
      }
    }
    this.summarize(general.length ? "The form could not be submitted:" : "Some answers need changes; see the marked fields.", general);
    if (first) first.focus();
    else this.alert.focus();
  }
}

export function buildForm(schema, options) {
  return new Form(schema, options);
}

/** The part of a prefill that is form values: only the schema's own properties. */
export function splitPrefill(schema, prefill) {
  const properties = (schema && schema.properties) || {};
  const values = {};
  const context = {};
  for (const [key, value] of Object.entries(prefill || {})) {
    if (key in properties) values[key] = value;
    else context[key] = value;
  }
  return { values, context };
}
