// Shared by the clerk pages: translations (Japanese by default, English available), the API
// helper that sends the CSRF token, and small DOM helpers. No framework, no build step.
"use strict";

const I18N = {
  ja: {
    appTitle: "会議録 校正", userName: "ユーザー名", password: "パスワード", login: "ログイン",
    logout: "ログアウト", loginFailed: "ユーザー名またはパスワードが違います",
    newMinutes: "録音をアップロード", recording: "録音ファイル", title: "会議名",
    upload: "アップロード", jobs: "会議録一覧", status: "状態", progress: "進捗",
    open: "開く", cancel: "中止", retry: "再実行", uploading: "アップロード中",
    uploaded: "アップロード完了。文字起こしを待っています。", resumed: "途中から再開しました",
    queued: "待機中", running: "処理中", done: "完了", failed: "失敗", cancelled: "中止",
    back: "← 一覧", saved: "保存済み", saving: "保存中…", unsaved: "未保存の変更",
    sessionExpired: "ログインの有効期限が切れました。編集内容はこのブラウザに保存されています。",
    loginAgain: "もう一度ログイン",
    conflictText: "他の人がこの会議録を保存しました。両方の内容を下に示します。どちらも失われません。",
    keepMine: "自分の版で保存", takeTheirs: "相手の版を読み込む（自分の版は下書きに残ります）",
    mine: "自分", theirs: "相手",
    keys: "Ctrl+Space 再生/停止 ・ Alt+↓ 次の行 ・ Alt+↑ 前の行",
    clean: "整文", verbatim: "全文", speakers: "発言者", export: "書き出し",
    finalize: "確定（版を固定）", finalized: "確定済み（編集できません）", history: "版の履歴",
    play: "ここから再生", merge: "次の行と結合", split: "カーソル位置で分割",
    speakerName: "氏名", role: "役職", lowConfidence: "認識の信頼度が低い語",
    confirmFinalize: "もう一度押すと確定します",
    err400: "受け付けられません", err409: "状態が変わりました", err413: "ファイルが大きすぎます",
    err415: "音声ファイルとして読めません", reassign: "発言者を変更", restore: "この版に戻す",
    err507: "サーバーの保存領域が足りません（受信済みの部分は保存されています）",
  },
  en: {
    appTitle: "Minutes review", userName: "User name", password: "Password", login: "Log in",
    logout: "Log out", loginFailed: "Wrong user name or password",
    newMinutes: "Upload a recording", recording: "Recording", title: "Meeting title",
    upload: "Upload", jobs: "Minutes", status: "Status", progress: "Progress",
    open: "Open", cancel: "Cancel", retry: "Retry", uploading: "Uploading",
    uploaded: "Uploaded. Waiting for transcription.", resumed: "Resumed where it stopped",
    queued: "Queued", running: "Running", done: "Done", failed: "Failed", cancelled: "Cancelled",
    back: "← All minutes", saved: "Saved", saving: "Saving…", unsaved: "Unsaved changes",
    sessionExpired: "Your session expired. Your edits are kept in this browser.",
    loginAgain: "Log in again",
    conflictText: "Someone else saved these minutes. Both texts are shown below; neither is lost.",
    keepMine: "Save my version", takeTheirs: "Load theirs (mine stays as a draft)",
    mine: "Mine", theirs: "Theirs",
    keys: "Ctrl+Space play/pause · Alt+↓ next line · Alt+↑ previous line",
    clean: "Clean", verbatim: "Verbatim", speakers: "Speakers", export: "Export",
    finalize: "Finalize (lock this version)", finalized: "Finalized (read only)",
    history: "Version history", play: "Play from here", merge: "Merge with next line",
    split: "Split at the cursor", speakerName: "Name", role: "Role",
    lowConfidence: "low-confidence word", confirmFinalize: "Press again to finalize",
    err400: "Not accepted", err409: "The state changed", err413: "The file is too large",
    err415: "Not a recording we can read",
    err507: "The server's storage is full (what was received is kept)",
    reassign: "Change speaker", restore: "Restore this version",
  },
};

function lang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "en" || asked === "ja") localStorage.setItem("clerk-lang", asked);
  return localStorage.getItem("clerk-lang") === "en" ? "en" : "ja";
}

function t(key) {
  return (I18N[lang()] || I18N.ja)[key] || I18N.ja[key] || key;
}

function translate() {
  document.documentElement.lang = lang();
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    el.textContent = t(el.dataset.i18n);
  });
  document.querySelectorAll(".lang-switch").forEach((b) => {
    b.textContent = lang() === "ja" ? "English" : "日本語";
  });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)madoguchi_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail))) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, url, body, raw) {
  const headers = { "X-CSRF-Token": csrfToken() };
  let payload;
  if (raw !== undefined) payload = raw;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A refusal in the page's language, with the server's reason (names the value) after it.
function explain(e) {
  const key = `err${e.status}`;
  return I18N.ja[key] ? `${t(key)}: ${e.message}` : e.message;
}

function loginUrl() {
  return "/clerk/login?next=" + encodeURIComponent(location.pathname + location.search);
}

function fmtTime(s) {
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  document.querySelectorAll(".lang-switch").forEach((b) =>
    b.addEventListener("click", () => {
      localStorage.setItem("clerk-lang", lang() === "ja" ? "en" : "ja");
      translate();
      document.dispatchEvent(new CustomEvent("clerk-lang"));
    }));
});
