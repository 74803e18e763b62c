// The login form: POST /api/clerk/login, then back to the page that sent us here.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("login-error");
    error.textContent = "";
    try {
      await api("POST", "/api/clerk/login", {
        name: document.getElementById("name").value,
        password: document.getElementById("password").value,
      });
    } catch (e) {
      error.textContent = e.status === 401 ? t("loginFailed") : e.message;
      return;
    }
    const next = new URLSearchParams(location.search).get("next") || "/clerk/";
    // Only same-site paths: never an open redirect.
    const local = next.startsWith("/") && !next.startsWith("//") && !next.includes("\\");
    location.assign(local ? next : "/clerk/");
  });
});
