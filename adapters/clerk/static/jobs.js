// The jobs page: resumable chunked upload, the job list with live progress (SSE), cancel/retry.
"use strict";

function statusText(job) {
  const pct = job.total ? Math.round((100 * job.done) / job.total) : 0;
  return job.status === "running" ? `${t("running")} ${pct}%` : t(job.status);
}

function jobRow(job) {
  const pct = job.total ? job.done / job.total : 0;
  const actions = el("td", { class: "actions" });
  if (job.status === "done") {
    actions.append(el("a", { href: `/clerk/minutes/${job.id}`, class: "open", text: t("open") }));
  }
  if (job.status === "queued" || job.status === "running") {
    actions.append(el("button", { type: "button", class: "cancel", text: t("cancel"),
      onclick: () => act(job.id, "cancel") }));
  }
  if (job.status === "failed" || job.status === "cancelled") {
    actions.append(el("button", { type: "button", class: "retry", text: t("retry"),
      onclick: () => act(job.id, "retry") }));
  }
  return el("tr", { "data-job": job.id, "data-status": job.status },
    el("td", { text: job.title }),
    el("td", { class: "status", text: statusText(job), title: job.error || "" }),
    el("td", {}, el("progress", { max: 1, value: job.status === "done" ? 1 : pct })),
    actions);
}

function showJob(job) {
  const body = document.querySelector("#jobs tbody");
  const row = jobRow(job);
  const old = body.querySelector(`tr[data-job="${job.id}"]`);
  if (old) old.replaceWith(row);
  else body.prepend(row);
}

// One stream for the whole list (live progress of every job); EventSource reconnects by itself
// after a network error, and a 401 sends the clerk to the login page.
function follow() {
  const source = new EventSource("/api/clerk/events");
  source.addEventListener("job", (e) => showJob(JSON.parse(e.data)));
  source.onerror = async () => {
    try {
      await api("GET", "/api/clerk/me");
    } catch (e) {
      if (e.status === 401) {
        source.close();
        location.assign(loginUrl());
      }
    }
  };
}

async function act(id, what) {
  try {
    showJob(await api("POST", `/api/clerk/jobs/${id}/${what}`));
  } catch (e) {
    if (e.status === 401) location.assign(loginUrl());
    else alertStatus(explain(e));
  }
}

function alertStatus(text) {
  document.getElementById("upload-status").textContent = text;
}

async function refresh() {
  try {
    const jobs = await api("GET", "/api/clerk/jobs");
    document.querySelector("#jobs tbody").replaceChildren();
    jobs.reverse().forEach(showJob);
  } catch (e) {
    if (e.status === 401) location.assign(loginUrl());
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Upload in chunks; the upload id is remembered per file so a reload or a dropped connection
// continues from the offset the server reports instead of starting again.
async function upload(file, title) {
  const key = `clerk-upload:${file.name}:${file.size}:${file.lastModified}`;
  const bar = document.getElementById("upload-progress");
  bar.hidden = false;
  let id = localStorage.getItem(key);
  let offset = 0, chunk = 8 * 1024 * 1024;
  if (id) {
    try {
      const s = await api("GET", `/api/clerk/uploads/${id}`);
      if (s.status === "receiving") {
        offset = s.offset;
        chunk = s.chunk_bytes;
        alertStatus(t("resumed"));
      } else id = null;
    } catch (e) { id = null; }
  }
  if (!id) {
    const created = await api("POST", "/api/clerk/uploads", { filename: file.name, size: file.size });
    id = created.id;
    chunk = created.chunk_bytes;
    localStorage.setItem(key, id);
  }
  let failures = 0;
  while (offset < file.size) {
    bar.value = offset / file.size;
    alertStatus(`${t("uploading")} ${Math.floor((100 * offset) / file.size)}%`);
    try {
      const r = await api("PUT", `/api/clerk/uploads/${id}?offset=${offset}`, undefined,
        file.slice(offset, Math.min(offset + chunk, file.size)));
      offset = r.offset;
      failures = 0;
    } catch (e) {
      if (e.status === 409 && e.body && typeof e.body.offset === "number") { offset = e.body.offset; continue; }
      if (e.status && e.status < 500) { localStorage.removeItem(key); throw e; }
      if (++failures > 5) throw e;
      await sleep(1000 * failures);
      const s = await api("GET", `/api/clerk/uploads/${id}`);
      offset = s.offset;
    }
  }
  localStorage.removeItem(key);
  bar.value = 1;
  const job = await api("POST", "/api/clerk/jobs", { upload_id: id, title: title || null });
  alertStatus(t("uploaded"));
  showJob(job);
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = document.getElementById("file").files[0];
    if (!file) return;
    const button = document.getElementById("upload-button");
    button.disabled = true;
    try {
      await upload(file, document.getElementById("title").value.trim());
    } catch (e) {
      if (e.status === 401) location.assign(loginUrl());
      alertStatus(explain(e));
      document.getElementById("upload-progress").hidden = true;
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/clerk/logout"); } finally { location.assign("/clerk/login"); }
  });
  document.addEventListener("clerk-lang", refresh);
  try {
    const me = await api("GET", "/api/clerk/me");
    document.getElementById("who").textContent = `${me.user.name} (${me.user.role})`;
  } catch (e) {
    if (e.status === 401) location.assign(loginUrl());
    return;
  }
  await refresh();
  follow();
});
