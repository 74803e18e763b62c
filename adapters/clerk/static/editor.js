// The review editor: the transcript by speaker turn beside the audio, edits autosaved as new
// versions (optimistic concurrency: a stale save gets 409 and both texts are shown), a draft in
// localStorage so nothing typed is lost to an expired session or a closed tab.
"use strict";

const S = {
  id: Number(location.pathname.split("/").filter(Boolean).pop()),
  version: 0, final: false, doc: null, mode: "clean",
  dirty: false, saving: null, timer: null, edits: 0, playing: -1, finalizeArmed: false,
};
const EXPORTS = ["docx", "txt", "transcript", "srt", "vtt", "json"];
const draftKey = () => `clerk-draft-${S.id}`;

function speakerLabel(id) {
  const sp = (S.doc.speakers || []).find((s) => s.id === id) || { id };
  if (sp.name) return `${sp.role || ""}（${sp.name}${sp.honorific || "君"}）`;
  if (sp.role) return sp.role;
  return `発言者${sp.id || "?"}`;
}

function field() {
  return S.mode === "clean" ? "text" : "text_verbatim";
}

function shown(seg) {
  const v = seg[field()];
  return v === undefined || v === null ? seg.text : v;
}

function textNodes(seg) {
  const text = shown(seg);
  const words = seg.words || [];
  const joined = words.map((w) => w.word).join("");
  if (!words.length || joined.trim() !== text.trim()) return [text];
  return words.map((w) => (w.probability < 0.5
    ? el("mark", { class: "low", title: `${t("lowConfidence")} (${Math.round(w.probability * 100)}%)` }, w.word)
    : w.word));
}

function lineNode(seg, i) {
  const low = (seg.words || []).some((w) => w.probability < 0.5);
  const text = el("div", { class: "text", contenteditable: S.final ? "false" : "true",
    spellcheck: "false", lang: "ja", role: "textbox", "aria-label": `${fmtTime(seg.start)} ${speakerLabel(seg.speaker)}` },
    ...textNodes(seg));
  text.addEventListener("input", () => {
    seg[field()] = text.textContent;
    if (S.mode === "verbatim" && seg.text === undefined) seg.text = text.textContent;
    markDirty();
  });
  text.addEventListener("focus", () => setCurrent(i, false));
  const who = el("select", { class: "reassign", title: t("reassign"), "aria-label": t("reassign"),
    disabled: S.final }, ...(S.doc.speakers || []).map((sp) => el("option",
    { value: sp.id, selected: sp.id === seg.speaker }, `${sp.id}: ${speakerLabel(sp.id)}`)));
  who.addEventListener("change", () => {
    seg.speaker = who.value;
    renderTranscript();
    markDirty();
  });
  const tools = el("span", { class: "tools" }, who,
    el("button", { type: "button", class: "merge", title: t("merge"), "aria-label": t("merge"),
      disabled: S.final || i === S.doc.segments.length - 1, onclick: () => merge(i) }, "⤓"),
    el("button", { type: "button", class: "split", title: t("split"), "aria-label": t("split"),
      disabled: S.final, onmousedown: (e) => e.preventDefault(), onclick: () => split(i, text) }, "✂"));
  const line = el("div", { class: "line" + (low ? " has-low" : ""), "data-i": i },
    el("button", { type: "button", class: "time", title: t("play"), onclick: () => playFrom(i) },
      fmtTime(seg.start)),
    el("span", { class: "who", "data-speaker": seg.speaker || "" , onclick: () => playFrom(i) },
      speakerLabel(seg.speaker)),
    text, tools);
  return line;
}

function renderTranscript() {
  const box = document.getElementById("transcript");
  box.replaceChildren(...S.doc.segments.map(lineNode));
  // A turn is a run of lines by one speaker: its name is shown once, at the top.
  S.doc.segments.forEach((seg, i) => {
    if (i && S.doc.segments[i - 1].speaker === seg.speaker) {
      box.children[i].classList.add("same-speaker");
    }
  });
  S.playing = -1;
  highlight();
}

function renderSpeakers() {
  const box = document.getElementById("speakers");
  box.replaceChildren(...(S.doc.speakers || []).map((sp) => {
    const name = el("input", { class: "speaker-name", "data-id": sp.id, value: sp.name || "",
      placeholder: t("speakerName"), disabled: S.final, "aria-label": `${sp.id} ${t("speakerName")}` });
    const role = el("input", { class: "speaker-role", "data-id": sp.id, value: sp.role || "",
      placeholder: t("role"), disabled: S.final, "aria-label": `${sp.id} ${t("role")}` });
    const rename = () => {
      sp.name = name.value.trim() || null;
      sp.role = role.value.trim() || null;
      document.querySelectorAll(`.who[data-speaker="${CSS.escape(sp.id)}"]`).forEach((w) => {
        w.textContent = speakerLabel(sp.id);
      });
      document.querySelectorAll(`.reassign option[value="${CSS.escape(sp.id)}"]`).forEach((o) => {
        o.textContent = `${sp.id}: ${speakerLabel(sp.id)}`;
      });
      markDirty();
    };
    name.addEventListener("input", rename);
    role.addEventListener("input", rename);
    return el("div", { class: "speaker" }, el("span", { class: "sid", text: sp.id }), role, name);
  }));
}

function renderExports() {
  const box = document.getElementById("exports");
  box.replaceChildren(...EXPORTS.map((fmt) => el("a", {
    class: "export", "data-fmt": fmt, href: `/api/clerk/minutes/${S.id}/export/${fmt}`,
    onclick: async (e) => {
      if (!S.dirty && !S.saving) return;
      e.preventDefault();
      await flush();
      if (!S.dirty) location.assign(e.currentTarget.href);
    },
  }, fmt.toUpperCase())));
}

function renderAll() {
  document.getElementById("title").textContent = (S.doc.meeting && S.doc.meeting.title) || "";
  document.title = `${t("appTitle")} – ${(S.doc.meeting && S.doc.meeting.title) || ""}`;
  document.getElementById("mode-clean").setAttribute("aria-pressed", S.mode === "clean");
  document.getElementById("mode-verbatim").setAttribute("aria-pressed", S.mode === "verbatim");
  document.getElementById("finalize").disabled = S.final;
  renderTranscript();
  renderSpeakers();
  renderExports();
  setStatus(S.final ? "final" : S.dirty ? "unsaved" : "saved");
}

function setStatus(state, extra) {
  const box = document.getElementById("save-status");
  box.dataset.state = state;
  const words = { saved: `${t("saved")} (v${S.version})`, saving: t("saving"), unsaved: t("unsaved"),
    final: `${t("finalized")} (v${S.version})`, error: extra || "" };
  box.textContent = words[state] || state;
}

// --- saving --------------------------------------------------------------------------------

function markDirty() {
  S.dirty = true;
  S.edits += 1;
  localStorage.setItem(draftKey(), JSON.stringify({ base: S.version, doc: S.doc }));
  setStatus("unsaved");
  clearTimeout(S.timer);
  S.timer = setTimeout(save, 800);
}

async function flush() {
  clearTimeout(S.timer);
  if (S.saving) await S.saving;
  if (S.dirty) await save();
}

function save() {
  if (S.saving) {
    S.timer = setTimeout(save, 300);
    return S.saving;
  }
  clearTimeout(S.timer);
  const edits = S.edits;
  setStatus("saving");
  S.saving = (async () => {
    try {
      const r = await api("PUT", `/api/clerk/minutes/${S.id}`, { base_version: S.version, doc: S.doc });
      S.version = r.version;
      if (S.edits === edits) {
        S.dirty = false;
        localStorage.removeItem(draftKey());
        setStatus("saved");
      } else {
        localStorage.setItem(draftKey(), JSON.stringify({ base: S.version, doc: S.doc }));
      }
      document.getElementById("session-expired").hidden = true;
    } catch (e) {
      if (e.status === 409 && e.body && e.body.current) showConflict(e.body.current, S.doc);
      else if (e.status === 401) expired();
      else setStatus("error", explain(e));
    } finally {
      S.saving = null;
    }
  })();
  return S.saving;
}

function expired() {
  setStatus("unsaved");
  const banner = document.getElementById("session-expired");
  banner.hidden = false;
  document.getElementById("relogin").href = loginUrl();
}

function showConflict(current, mine) {
  const box = document.getElementById("conflict");
  const lines = document.getElementById("conflict-lines");
  const theirs = current.doc;
  const rows = [];
  const n = Math.max(theirs.segments.length, mine.segments.length);
  for (let i = 0; i < n; i++) {
    const a = mine.segments[i], b = theirs.segments[i];
    if (a && b && a.text === b.text && a.text_verbatim === b.text_verbatim && a.speaker === b.speaker) continue;
    rows.push(el("div", { class: "pair" },
      el("div", { class: "mine" }, el("b", { text: `${t("mine")}: ` }), a ? a.text : "—"),
      el("div", { class: "theirs" }, el("b", { text: `${t("theirs")} (${current.author}): ` }), b ? b.text : "—")));
  }
  (mine.speakers || []).forEach((sp) => {
    const other = (theirs.speakers || []).find((s) => s.id === sp.id) || {};
    if ((other.name || null) !== (sp.name || null) || (other.role || null) !== (sp.role || null)) {
      rows.push(el("div", { class: "pair" },
        el("div", { class: "mine", text: `${t("mine")}: ${sp.id} ${sp.role || ""} ${sp.name || ""}` }),
        el("div", { class: "theirs", text: `${t("theirs")}: ${sp.id} ${other.role || ""} ${other.name || ""}` })));
    }
  });
  lines.replaceChildren(...rows);
  box.hidden = false;
  setStatus("error", `409 v${current.version}`);
  document.getElementById("keep-mine").onclick = async () => {
    box.hidden = true;
    S.version = current.version;
    S.doc = mine;
    S.dirty = true;
    await save();
  };
  document.getElementById("take-theirs").onclick = () => {
    localStorage.setItem(`clerk-conflict-${S.id}`, JSON.stringify({ base: S.version, doc: mine }));
    localStorage.removeItem(draftKey());
    box.hidden = true;
    S.doc = theirs;
    S.version = current.version;
    S.final = current.final;
    S.dirty = false;
    renderAll();
  };
}

// --- merge and split ----------------------------------------------------------------------

function merge(i) {
  const a = S.doc.segments[i], b = S.doc.segments[i + 1];
  if (!b) return;
  a.text = a.text + b.text;
  a.text_verbatim = (a.text_verbatim ?? a.text) + (b.text_verbatim ?? b.text);
  a.words = (a.words || []).concat(b.words || []);
  a.end = b.end;
  S.doc.segments.splice(i + 1, 1);
  renderTranscript();
  markDirty();
}

function caretOffset(node) {
  const sel = window.getSelection();
  if (!sel.rangeCount || !node.contains(sel.anchorNode)) return -1;
  const range = sel.getRangeAt(0).cloneRange();
  range.selectNodeContents(node);
  range.setEnd(sel.getRangeAt(0).startContainer, sel.getRangeAt(0).startOffset);
  return range.toString().length;
}

function split(i, node) {
  const seg = S.doc.segments[i];
  const text = shown(seg);
  const at = caretOffset(node);
  if (at <= 0 || at >= text.length) return;
  const ratio = at / text.length;
  const other = S.mode === "clean" ? "text_verbatim" : "text";
  const otherText = seg[other] ?? seg.text;
  const cut = Math.round(otherText.length * ratio);
  let chars = 0;
  const first = [], second = [];
  for (const w of seg.words || []) (chars < at ? first : second).push(w), (chars += w.word.length);
  const t0 = second.length ? second[0].start : seg.start + (seg.end - seg.start) * ratio;
  const b = { ...seg, start: t0, words: second };
  b[field()] = text.slice(at);
  b[other] = otherText.slice(cut);
  seg[field()] = text.slice(0, at);
  seg[other] = otherText.slice(0, cut);
  seg.words = first;
  seg.end = t0;
  S.doc.segments.splice(i + 1, 0, b);
  renderTranscript();
  markDirty();
}

// --- audio ---------------------------------------------------------------------------------

function player() {
  return document.getElementById("player");
}

function playFrom(i) {
  const seg = S.doc.segments[i];
  player().currentTime = seg.start;
  setCurrent(i, true);
  player().play().catch(() => {});
}

function setCurrent(i, scroll) {
  S.current = i;
  if (scroll) {
    const line = document.querySelector(`.line[data-i="${i}"]`);
    if (line) line.scrollIntoView({ block: "nearest" });
  }
}

function highlight() {
  const now = player().currentTime;
  const i = S.doc ? S.doc.segments.findIndex((s) => now >= s.start && now < s.end) : -1;
  if (i === S.playing) return;
  document.querySelectorAll(".line.playing").forEach((l) => {
    l.classList.remove("playing");
    l.removeAttribute("aria-current");
  });
  S.playing = i;
  const line = document.querySelector(`.line[data-i="${i}"]`);
  if (line) {
    line.classList.add("playing");
    line.setAttribute("aria-current", "true");
  }
}

function moveLine(step) {
  const from = S.current ?? (S.playing >= 0 ? S.playing : -1);
  const i = Math.min(Math.max(from + step, 0), S.doc.segments.length - 1);
  const line = document.querySelector(`.line[data-i="${i}"]`);
  if (!line) return;
  player().currentTime = S.doc.segments[i].start;
  line.querySelector(".text").focus();
  setCurrent(i, true);
  highlight();
}

function onKey(e) {
  if (e.ctrlKey && (e.code === "Space" || e.key === " ")) {
    e.preventDefault();
    if (player().paused) player().play().catch(() => {});
    else player().pause();
  } else if (e.altKey && e.key === "ArrowDown") {
    e.preventDefault();
    moveLine(1);
  } else if (e.altKey && e.key === "ArrowUp") {
    e.preventDefault();
    moveLine(-1);
  } else if ((e.ctrlKey || e.metaKey) && e.key === "s") {
    e.preventDefault();
    flush();
  }
}

// --- finalize and history ------------------------------------------------------------------

async function finalize() {
  const button = document.getElementById("finalize");
  if (!S.finalizeArmed) {  // two clicks instead of confirm(): no modal dialogs in the editor
    S.finalizeArmed = true;
    button.textContent = t("confirmFinalize");
    return;
  }
  await flush();
  try {
    const r = await api("POST", `/api/clerk/minutes/${S.id}/finalize`, { version: S.version });
    S.version = r.version;
    S.final = true;
    renderAll();
  } catch (e) {
    if (e.status === 401) expired();
    else setStatus("error", e.message);
  }
}

async function loadHistory() {
  const list = document.getElementById("versions");
  const versions = await api("GET", `/api/clerk/minutes/${S.id}/versions`);
  list.replaceChildren(...versions.map((v) => el("li", { "data-version": v.version },
    el("a", { href: `/api/clerk/minutes/${S.id}/export/txt?version=${v.version}`,
      text: `v${v.version} ${v.author} ${new Date(v.created_at * 1000).toLocaleString(lang())}${v.final ? " ✔" : ""}` }),
    v.version === S.version || S.final ? null : el("button", { type: "button", class: "restore link",
      text: t("restore"), onclick: () => restore(v.version) }))));
}

// An old version comes back as a new version on top: history only grows.
async function restore(version) {
  await flush();
  try {
    const v = await api("GET", `/api/clerk/minutes/${S.id}/versions/${version}`);
    S.doc = v.doc;
    renderAll();
    markDirty();
    await save();
    loadHistory();
  } catch (e) {
    if (e.status === 401) expired();
    else setStatus("error", e.message);
  }
}

// --- start ---------------------------------------------------------------------------------

async function load() {
  let m;
  try {
    m = await api("GET", `/api/clerk/minutes/${S.id}`);
  } catch (e) {
    if (e.status === 401) location.assign(loginUrl());
    else setStatus("error", e.message);
    return;
  }
  S.doc = m.doc;
  S.version = m.version;
  S.final = m.final;
  renderAll();
  const draft = JSON.parse(localStorage.getItem(draftKey()) || "null");
  if (draft && !S.final) {
    if (draft.base === m.version) {  // saved after the session came back
      S.doc = draft.doc;
      renderAll();
      S.dirty = true;
      await save();
    } else {
      showConflict(m, draft.doc);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  player().src = `/api/clerk/minutes/${S.id}/audio`;
  player().addEventListener("timeupdate", highlight);
  document.addEventListener("keydown", onKey);
  document.getElementById("mode-clean").addEventListener("click", () => { S.mode = "clean"; renderAll(); });
  document.getElementById("mode-verbatim").addEventListener("click", () => { S.mode = "verbatim"; renderAll(); });
  document.getElementById("finalize").addEventListener("click", finalize);
  document.getElementById("history").addEventListener("toggle", (e) => { if (e.target.open) loadHistory(); });
  document.addEventListener("clerk-lang", () => S.doc && renderAll());
  // No beforeunload prompt: every edit is already in the localStorage draft, which the next
  // visit saves (or shows as a conflict), so leaving the page loses nothing.
  load();
});
