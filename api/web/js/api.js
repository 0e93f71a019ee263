// The API client: every call carries the session's bearer token; errors become ApiError.
const TOKEN_KEY = "perfloop.token";
const PERSON_KEY = "perfloop.person";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.type = error.type || "Error";
    this.details = error.details || {};
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get person() {
    const raw = sessionStorage.getItem(PERSON_KEY);
    return raw ? JSON.parse(raw) : null;
  },
  save(token, person) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(PERSON_KEY, JSON.stringify(person));
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(PERSON_KEY);
  },
  hasRole(...roles) {
    const person = this.person;
    return !!person && roles.some((role) => person.roles.includes(role));
  },
};

export async function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: "application/json", ...extraHeaders };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    throw new ApiError(0, { error: { type: "NetworkError", message: "The server cannot be reached. Check your connection and try again." } });
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && session.token) {
      session.clear();
      window.dispatchEvent(new CustomEvent("perfloop:signed-out", { detail: error.message }));
    }
    throw error;
  }
  return data;
}

/** A file the API answers (an export): fetched with the token, handed over as a Blob,
 * since a plain link would not carry the bearer token. */
export async function fetchFile(path) {
  const headers = {};
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(path, { headers });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body);
  }
  return response.blob();
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body, headers) => request("POST", path, body, headers),
};

/** A task id has slashes; each segment is encoded, the slashes stay. */
export function taskPath(taskId) {
  return taskId.split("/").map(encodeURIComponent).join("/");
}
