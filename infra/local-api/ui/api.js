// A client of the Backup Credentials API, using only its public routes, as
// a UI on another origin would: a bearer token on every request, If-Match on
// edits, an Idempotency-Key on create. Errors are thrown as ApiError with the
// problem document's code, detail and field errors.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
    this.title = problem.title || "";
    this.fields = problem.errors || [];
  }
}

export class Api {
  constructor(base, token) {
    this.base = base.replace(/\/+$/, "");
    this.token = token;
  }

  async request(method, path, { body, headers = {} } = {}) {
    const h = { Authorization: `Bearer ${this.token}`, ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    let resp;
    try {
      resp = await fetch(this.base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, { detail: `The API at ${this.base} cannot be reached.` });
    }
    if (resp.status === 204) return { data: null, etag: null };
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
    if (!resp.ok) throw new ApiError(resp.status, data || {});
    return { data, etag: resp.headers.get("ETag") };
  }

  organizations() { return this.request("GET", "/v1/organizations").then((r) => r.data.data); }

  list({ organizationId, search, sort, cursor, limit = 20 }) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (organizationId) q.set("organizationId", organizationId);
    if (search) q.set("search", search);
    if (sort && sort !== "name") q.set("sort", sort);
    if (cursor) q.set("cursor", cursor);
    return this.request("GET", `/v1/backup-credentials?${q}`).then((r) => r.data);
  }

  get(id) { return this.request("GET", `/v1/backup-credentials/${encodeURIComponent(id)}`); }

  create(input, idempotencyKey) {
    return this.request("POST", "/v1/backup-credentials", { body: input, headers: { "Idempotency-Key": idempotencyKey } }).then((r) => r.data);
  }

  update(id, changes, etag) {
    return this.request("PATCH", `/v1/backup-credentials/${encodeURIComponent(id)}`, { body: changes, headers: { "If-Match": etag } }).then((r) => r.data);
  }

  remove(id) { return this.request("DELETE", `/v1/backup-credentials/${encodeURIComponent(id)}`); }

  action(id, name) { return this.request("POST", `/v1/backup-credentials/${encodeURIComponent(id)}/${name}`).then((r) => r.data); }

  validate(keys) { return this.request("POST", "/v1/backup-credentials/validate", { body: keys }).then((r) => r.data); }

  associate(id, projectId, name) {
    return this.request("PUT", `/v1/backup-credentials/${encodeURIComponent(id)}/projects/${encodeURIComponent(projectId)}`, { body: { name } }).then((r) => r.data);
  }

  dissociate(id, projectId) {
    return this.request("DELETE", `/v1/backup-credentials/${encodeURIComponent(id)}/projects/${encodeURIComponent(projectId)}`);
  }

  history(id, cursor) {
    const q = new URLSearchParams({ limit: "20" });
    if (cursor) q.set("cursor", cursor);
    return this.request("GET", `/v1/backup-credentials/${encodeURIComponent(id)}/history?${q}`).then((r) => r.data);
  }
}

// claims reads a JWT's payload without verifying it: the API verifies; the
// page only needs to know which buttons to show.
export function claims(token) {
  try {
    const p = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(decodeURIComponent(escape(atob(p))));
  } catch {
    return {};
  }
}
