// The Backup Credentials page: the product page's table and actions over the
// public API (api.js). Plain DOM, no framework, no build step.
import { Api, ApiError, claims } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false && v != null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) e.append(c);
  return e;
};
const when = (iso) => (iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "never");

const state = { api: null, canWrite: false, org: "", search: "", sort: "name", cursor: "", pages: [], items: [] };

// ---- signing in -------------------------------------------------------------

function signIn(base, token) {
  const c = claims(token);
  const role = c.role || c["custom:role"] || "user";
  state.api = new Api(base, token);
  state.canWrite = role === "partner" || role === "manager";
  sessionStorage.setItem("bc.api", base);
  sessionStorage.setItem("bc.token", token);
  $("#who").textContent = `Signed in as ${c.name || c.sub || "?"} (${role}${state.canWrite ? "" : ", read only"})`;
  document.body.classList.toggle("read-only", !state.canWrite);
  for (const b of document.querySelectorAll(".write")) b.hidden = !state.canWrite;
  $("#signin").hidden = true;
  $("#app").hidden = false;
  return loadOrganizations().then(() => reload());
}

function signOut() {
  sessionStorage.removeItem("bc.token");
  state.api = null;
  $("#app").hidden = true;
  $("#signin").hidden = false;
  $("#who").textContent = "";
}

async function localMode(base) {
  try {
    const r = await fetch(base.replace(/\/+$/, "") + "/local/token");
    return r.ok;
  } catch {
    return false;
  }
}

async function devToken(base, organizations, role) {
  const r = await fetch(base.replace(/\/+$/, "") + "/local/token", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ organizations, role }),
  });
  const body = await r.json();
  if (!r.ok) throw new ApiError(r.status, body);
  return body.token;
}

// ---- the list ------------------------------------------------------------------

async function loadOrganizations() {
  const orgs = await state.api.organizations();
  state.orgs = orgs;
  const sel = $("#org");
  sel.replaceChildren(el("option", { value: "" }, "All organizations"),
    ...orgs.map((o) => el("option", { value: o.id }, `${o.id} (${o.credentialCount})`)));
  sel.value = orgs.some((o) => o.id === state.org) ? state.org : "";
}

async function reload(cursor = "") {
  $("#page-error").textContent = "";
  try {
    const page = await state.api.list({ organizationId: state.org, search: state.search, sort: state.sort, cursor });
    state.cursor = cursor;
    state.next = page.nextCursor;
    state.items = page.data;
    render();
  } catch (e) {
    $("#page-error").textContent = e.message;
  }
}

// sortBy sorts the table by a column: ascending first, then the other way.
// A cursor belongs to its sort, so the list starts again at its first page.
function sortBy(field) {
  state.sort = state.sort === field ? `-${field}` : field;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    const f = th.dataset.sort;
    if (state.sort === f) th.setAttribute("aria-sort", "ascending");
    else if (state.sort === `-${f}`) th.setAttribute("aria-sort", "descending");
    else th.removeAttribute("aria-sort");
  }
  state.pages = [];
  reload();
}

function deleteReason(c) {
  if (c.isLocked) return "Locked: unlock it before deleting.";
  if (c.projects.length) return `Used by ${c.projects.length} project${c.projects.length > 1 ? "s" : ""}: dissociate ${c.projects.length > 1 ? "them" : "it"} first.`;
  return "";
}

function row(c) {
  const act = (label, name, fn, opts = {}) => el("button", { type: "button", class: "write", "data-action": name,
    "aria-label": `${label} ${c.s3Name}`, disabled: opts.disabled || false, "aria-describedby": opts.describedby || false,
    onclick: () => run(fn) }, label);
  const reason = deleteReason(c);
  const reasonID = `reason-${c.id}`;
  const actions = [];
  if (state.canWrite) {
    actions.push(
      act("Edit", "edit", () => openEdit(c)),
      act("Make default", "make-default", () => state.api.action(c.id, "make-default"), { disabled: c.isDefault || c.isLocked }),
      c.isLocked ? act("Unlock", "unlock", () => state.api.action(c.id, "unlock")) : act("Lock", "lock", () => state.api.action(c.id, "lock")),
      act("Check now", "check", () => state.api.action(c.id, "check")),
      act("Associate project", "associate", () => openProject(c), { disabled: c.isLocked }),
      act("Delete", "delete", () => confirmDelete(c), { disabled: !!reason, describedby: reason ? reasonID : false }),
    );
    if (reason) actions.push(el("span", { class: "reason", id: reasonID }, reason));
  }
  actions.push(el("button", { type: "button", "data-action": "history", "aria-label": `History of ${c.s3Name}`, onclick: () => openHistory(c) }, "History"));
  const projects = c.projects.length ? c.projects.map((p) => el("span", { class: "project" }, `${p.name} (${p.id})`,
    state.canWrite ? el("button", { type: "button", class: "write", "data-action": "dissociate", "aria-label": `Dissociate ${p.name} from ${c.s3Name}`,
      onclick: () => run(() => state.api.dissociate(c.id, p.id)) }, "×") : null)) : "none";
  const td = (label, ...content) => el("td", { "data-label": label }, ...content);
  const tdc = (cls, label, ...content) => el("td", { class: cls, "data-label": label }, ...content);
  return el("tr", { "data-id": c.id, "data-name": c.s3Name },
    td("S3 name", el("strong", {}, c.s3Name), el("br"), el("small", { class: "id" }, c.id), el("br"), el("small", {}, c.organizationId)),
    c.authType === "role" ? td("Access key ID", el("small", { class: "badge" }, "Role"), el("br"), el("small", { class: "role-arn" }, c.s3RoleArn))
      : td("Access key ID", c.s3AccessKeyId, c.rotationDue ? el("span", { class: "badge rotation", title: `Keys set ${when(c.keysChangedAt)}` }, "Rotation due") : null),
    tdc("endpoint", "Endpoint", c.s3Endpoint),
    td("Region", c.s3Region),
    td("Associated projects", projects),
    td("Status", c.isDefault ? el("span", { class: "badge default" }, "Default") : null,
      c.isLocked ? el("span", { class: "badge locked", title: "Backups stop; restores of its backups still work" }, "Locked: restores only") : null, !c.isDefault && !c.isLocked ? "—" : null),
    tdc("health", "Health", el("span", { class: `health-${c.health.status}` }, c.health.status), el("br"),
      el("small", {}, c.health.message || ""), el("br"), el("small", {}, `checked ${when(c.health.checkedAt)}`)),
    td("Created by", c.createdBy, el("br"), el("small", {}, when(c.createdAt))),
    td("Last modified", when(c.lastModified), el("br"), el("small", {}, "by "), el("span", { class: "modified-by" }, c.lastModifiedBy)),
    el("td", { class: "actions", "data-label": "Actions" }, el("div", { class: "action-grid" }, actions)));
}

function render() {
  $("#list tbody").replaceChildren(...state.items.map(row));
  $("#empty").hidden = state.items.length > 0;
  $("#next").disabled = !state.next;
  $("#first").disabled = !state.cursor;
}

// run performs an action, then shows the list again (or the error).
async function run(fn) {
  $("#page-error").textContent = "";
  try {
    await fn();
    await loadOrganizations();
    await reload(state.cursor);
  } catch (e) {
    $("#page-error").textContent = e.message;
  }
}

// ---- add and edit ----------------------------------------------------------------

const fields = ["organizationId", "s3Name", "authType", "s3RoleArn", "s3AccessKeyId", "s3SecretKey", "s3Endpoint", "s3Region", "s3CaCertificate"];
// What each kind of credential is made of; the other kind's fields are not sent.
const keyFields = ["s3AccessKeyId", "s3SecretKey", "s3CaCertificate"];
const roleFields = ["s3RoleArn"];
let editing = null; // { credential, etag } when editing, null when adding
let idempotencyKey = "";

function clearErrors() {
  for (const f of [...fields, "projectId", "name"]) {
    const e = document.getElementById(`e-${f}`);
    if (e) e.textContent = "";
    const input = document.getElementById(`f-${f}`) || (f === "projectId" ? $("#p-id") : f === "name" ? $("#p-name") : null);
    if (input) input.removeAttribute("aria-invalid");
  }
  $("#form-error").textContent = "";
  $("#form-ok").textContent = "";
  $("#project-error").textContent = "";
}

// showError puts each field's error next to it and the rest above the buttons.
function showError(e, formError) {
  let placed = false;
  for (const f of e.fields || []) {
    const slot = document.getElementById(`e-${f.field}`);
    if (slot) {
      slot.textContent = f.message;
      const input = document.getElementById(`f-${f.field}`) || (f.field === "projectId" ? $("#p-id") : f.field === "name" ? $("#p-name") : null);
      if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", slot.id); }
      placed = true;
    }
  }
  let text = e.message;
  if (e.code === "invalid_credentials" && !text.startsWith(e.title)) text = `${e.title}: ${text}`;
  else if (placed && e.code === "validation_failed") text = "Check the fields marked.";
  formError.textContent = text;
}

function formValues() {
  const v = {};
  for (const f of fields) v[f] = document.getElementById(`f-${f}`).value;
  v.s3CaCertificate = v.s3CaCertificate.trim() ? v.s3CaCertificate : null;
  for (const f of v.authType === "role" ? keyFields : roleFields) delete v[f];
  return v;
}

// showAuth shows the fields of the chosen kind of credential and, for a
// role, what its trust policy must name.
function showAuth() {
  const role = $("#f-authType").value === "role";
  for (const e of document.querySelectorAll("#edit-form .keys-only")) e.hidden = role;
  for (const e of document.querySelectorAll("#edit-form .role-only")) e.hidden = !role;
  const orgID = editing ? editing.credential.organizationId : $("#f-organizationId").value;
  const org = (state.orgs || []).find((o) => o.id === orgID);
  $("#trust-hint").textContent = role && org
    ? `The role's trust policy must allow sts:AssumeRole to ${org.trustPrincipal} with the condition sts:ExternalId = ${org.externalId}.` : "";
}

function openAdd() {
  editing = null;
  idempotencyKey = crypto.randomUUID();
  clearErrors();
  $("#edit-title").textContent = "Add credentials";
  $("#ro-id").hidden = true;
  const sel = $("#f-organizationId");
  sel.hidden = false;
  $("#f-organizationId-ro").hidden = true;
  sel.replaceChildren(...(state.orgs || []).map((o) => el("option", { value: o.id }, o.id)));
  if (state.org) sel.value = state.org;
  for (const f of fields.slice(1)) document.getElementById(`f-${f}`).value = "";
  $("#f-authType").value = "accessKey";
  showAuth();
  $("#secret-hint").textContent = "";
  $("#f-s3SecretKey").required = true;
  $("#edit-dialog").showModal();
  $("#f-s3Name").focus();
}

const secretHint = "Never shown. Leave empty to keep it; enter it again to change the keys, endpoint, region or CA.";
const moveLabels = { s3AccessKeyId: "access key ID", s3Endpoint: "endpoint", s3Region: "region", s3CaCertificate: "CA certificate" };

// secretNeeded asks for the secret key as soon as an edit moves a key
// credential's keys (a new access key ID, endpoint, region or CA), and says
// why: the keys are checked where they will be used, and the service never
// sends a stored secret key somewhere new unless the person who knows it
// does.
function secretNeeded() {
  if (!editing) return;
  const c = editing.credential;
  const v = formValues();
  const moved = v.authType === "role" || c.authType === "role" ? [] : Object.keys(moveLabels).filter((f) => {
    const was = c[f] ?? (f === "s3CaCertificate" ? null : "");
    return v[f] !== was;
  });
  const input = $("#f-s3SecretKey");
  input.required = moved.length > 0;
  input.setAttribute("aria-required", String(moved.length > 0));
  $("#secret-hint").textContent = moved.length
    ? `Required: the ${moved.map((f) => moveLabels[f]).join(", ")} changes, so the keys are checked where they will be used, and the stored secret key goes nowhere new unless you enter it.`
    : secretHint;
}

async function openEdit(c) {
  const { data, etag } = await state.api.get(c.id);
  editing = { credential: data, etag };
  clearErrors();
  $("#edit-title").textContent = `Edit ${data.s3Name}`;
  $("#ro-id").hidden = false;
  $("#f-id").value = data.id;
  $("#f-organizationId").hidden = true;
  const ro = $("#f-organizationId-ro");
  ro.hidden = false;
  ro.value = data.organizationId;
  for (const f of fields.slice(1)) document.getElementById(`f-${f}`).value = f === "s3SecretKey" ? "" : data[f] ?? "";
  showAuth();
  secretNeeded();
  $("#edit-dialog").showModal();
  $("#f-s3Name").focus();
}

async function save(ev) {
  ev.preventDefault();
  clearErrors();
  const v = formValues();
  try {
    if (editing) {
      const c = editing.credential;
      const changes = {};
      for (const f of fields.slice(1)) if (f in v && f !== "s3SecretKey" && v[f] !== (c[f] ?? (f === "s3CaCertificate" ? null : ""))) changes[f] = v[f];
      if (v.s3SecretKey) changes.s3SecretKey = v.s3SecretKey;
      if (Object.keys(changes).length) await state.api.update(c.id, changes, editing.etag);
    } else {
      await state.api.create(v, idempotencyKey);
    }
    $("#edit-dialog").close();
    await run(async () => {});
  } catch (e) {
    showError(e, $("#form-error"));
  }
}

async function checkKeys() {
  clearErrors();
  const v = formValues();
  const keys = v.authType === "role"
    ? { authType: "role", s3RoleArn: v.s3RoleArn, organizationId: editing ? editing.credential.organizationId : v.organizationId, s3Endpoint: v.s3Endpoint, s3Region: v.s3Region }
    : { s3AccessKeyId: v.s3AccessKeyId, s3SecretKey: v.s3SecretKey, s3Endpoint: v.s3Endpoint, s3Region: v.s3Region, s3CaCertificate: v.s3CaCertificate };
  try {
    const r = await state.api.validate(keys);
    $("#form-ok").textContent = r.message;
  } catch (e) {
    showError(e, $("#form-error"));
  }
}

// ---- projects, history, delete --------------------------------------------------------

let projectFor = null;

function openProject(c) {
  projectFor = c;
  clearErrors();
  $("#project-title").textContent = `Associate a project with ${c.s3Name}`;
  $("#p-id").value = "";
  $("#p-name").value = "";
  $("#project-dialog").showModal();
  $("#p-id").focus();
}

async function saveProject(ev) {
  ev.preventDefault();
  clearErrors();
  try {
    await state.api.associate(projectFor.id, $("#p-id").value.trim(), $("#p-name").value);
    $("#project-dialog").close();
    await run(async () => {});
  } catch (e) {
    showError(e, $("#project-error"));
  }
}

let historyFor = null;
let historyNext = null;

async function openHistory(c, cursor) {
  historyFor = c;
  const list = $("#history-list");
  if (!cursor) list.replaceChildren();
  $("#history-title").textContent = `History of ${c.s3Name}`;
  try {
    const page = await state.api.history(c.id, cursor);
    historyNext = page.nextCursor;
    list.append(...page.data.map((h) => el("li", {}, el("strong", {}, h.action), ` by ${h.by}, ${when(h.at)}`,
      h.fields.length ? ` (${h.fields.join(", ")})` : "")));
  } catch (e) {
    list.append(el("li", { class: "error" }, e.message));
  }
  $("#history-more").disabled = !historyNext;
  if (!$("#history-dialog").open) $("#history-dialog").showModal();
}

function confirmDelete(c) {
  return new Promise((resolve, reject) => {
    const d = $("#confirm-dialog");
    $("#confirm-title").textContent = `Delete ${c.s3Name}?`;
    $("#confirm-text").textContent = "The credential and its secret key are deleted. Backups cannot use it any more.";
    d.addEventListener("close", () => {
      if (d.returnValue === "yes") state.api.remove(c.id).then(resolve, reject);
      else resolve();
    }, { once: true });
    d.showModal();
  });
}

// ---- wiring -------------------------------------------------------------------------

async function start() {
  const base = sessionStorage.getItem("bc.api") || location.origin;
  $("#api-base").value = base;
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#api-base").value, $("#token").value.trim()).catch((e) => { signOut(); $("#signin-error").textContent = e.message; });
  });
  $("#dev-token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("#signin-error").textContent = "";
    try {
      const orgs = $("#dev-orgs").value.split(",").map((s) => s.trim()).filter(Boolean);
      const token = await devToken($("#api-base").value, orgs, $("#dev-role").value);
      $("#token").value = token;
      await signIn($("#api-base").value, token);
    } catch (e) {
      $("#signin-error").textContent = e.message;
    }
  });
  $("#dev-token-form").hidden = !(await localMode(base));
  $("#signout").addEventListener("click", signOut);
  $("#org").addEventListener("change", () => { state.org = $("#org").value; reload(); });
  let timer;
  $("#search").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => { state.search = $("#search").value.trim(); reload(); }, 250); });
  $("#next").addEventListener("click", () => { state.pages.push(state.cursor); reload(state.next); });
  $("#first").addEventListener("click", () => { state.pages = []; reload(); });
  for (const th of document.querySelectorAll("th[data-sort]")) th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
  $("#add").addEventListener("click", openAdd);
  $("#edit-form").addEventListener("submit", save);
  $("#cancel").addEventListener("click", () => $("#edit-dialog").close());
  $("#check-keys").addEventListener("click", checkKeys);
  $("#f-authType").addEventListener("change", showAuth);
  for (const f of [...Object.keys(moveLabels), "authType"]) document.getElementById(`f-${f}`).addEventListener(f === "authType" ? "change" : "input", secretNeeded);
  $("#f-organizationId").addEventListener("change", showAuth);
  $("#project-form").addEventListener("submit", saveProject);
  $("#project-cancel").addEventListener("click", () => $("#project-dialog").close());
  $("#history-more").addEventListener("click", () => openHistory(historyFor, historyNext));
  $("#history-close").addEventListener("click", () => $("#history-dialog").close());
  const token = sessionStorage.getItem("bc.token");
  if (token) signIn(base, token).catch(signOut);
  document.body.dataset.ready = "true";
}

start();
