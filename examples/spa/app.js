// An example single-page app behind the gateway, in plain JavaScript (no build step).
//
// It follows the common token pattern, with the gateway as the login server:
// 1. Sign in through the JSON login API (POST /.auth/login) and keep the access token in
//    sessionStorage: one tab, gone when the tab closes.
// 2. Send it as "Authorization: Bearer <token>" on every fetch. Requests go out with
//    credentials: "omit", so the app depends on its token alone, never on the gateway's
//    cookie (the login response's Set-Cookie is ignored too).
// 3. On a 401 (no token, or one that expired or was revoked), drop the token and show the
//    sign-in view with the current path and query in ?rd=; after signing in, go back there.
//
// The gateway answers fetch() with a 401 JSON body, never with a redirect to its HTML login
// page, so step 3 always sees the 401. Every value shown comes from the network and is set
// with textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "gateway.access_token";
const view = document.getElementById("view");
let renderCount = 0;

/** Thrown after a 401 has sent the user to the sign-in view: the current render stops. */
class SignedOut extends Error {}

/** The current path and query: where to come back to after signing in. */
function here() {
  return location.pathname + location.search;
}

/** `rd` when it is a path on this origin ("/x?y"), else "/": never "//host" or "/\host". */
function safeReturn(rd) {
  const local = typeof rd === "string" && rd.startsWith("/") && !rd.startsWith("//") &&
    !rd.startsWith("/\\");
  return local ? rd : "/";
}

/** The token's claims, for display only (the gateway verifies the token, not this app). */
function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return {};
  }
}

/**
 * Fetches `path` (GET unless `options` say otherwise) with the Bearer token and returns the
 * parsed JSON (or the text of another type). A 401 ends in the sign-in view.
 */
async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json", ...options.headers };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  const response = await fetch(path, { ...options, headers, credentials: "omit" });
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    goToSignIn();
    throw new SignedOut();
  }
  if (!response.ok) {
    throw new Error(`${path} answered HTTP ${response.status}`);
  }
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** Shows the sign-in view, remembering the current page in ?rd=. */
function goToSignIn() {
  navigate(`/login?rd=${encodeURIComponent(here())}`, { replace: true });
}

/** Changes the URL without a page load and renders the view for it. */
function navigate(url, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, "", url);
  } else {
    history.pushState(null, "", url);
  }
  render();
}

/** Replaces the main view with a copy of `<template id=name>`; returns a field finder. */
function show(name, { narrow = false } = {}) {
  view.replaceChildren(document.getElementById(name).content.cloneNode(true));
  view.classList.toggle("narrow", narrow);
  return (field) => view.querySelector(`[data-field="${field}"]`);
}

function showSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  document.getElementById("session").hidden = !token;
  document.getElementById("who").textContent = token ? claims(token).sub || "" : "";
}

async function homeView(current) {
  const me = await api("/.auth/me");
  if (!current()) return;
  const field = show("home-view");
  field("user").textContent = me.user;
  field("groups").textContent = me.groups.length ? me.groups.join(", ") : "none";
  field("email").textContent = me.email || "none";
  field("expires").textContent = new Date(me.expires_at * 1000).toLocaleString();
  document.title = "Home · Orders";
}

async function ordersView(current) {
  const page = Math.max(1, parseInt(new URLSearchParams(location.search).get("page"), 10) || 1);
  const request = `/api/orders?page=${page}`;
  const data = await api(request);
  if (!current()) return;
  const field = show("orders-view");
  field("title").textContent = `Orders, page ${page}`;
  field("request").textContent = `GET ${request}`;
  const previous = field("previous");
  previous.hidden = page === 1;
  previous.href = `/orders?page=${page - 1}`;
  field("next").href = `/orders?page=${page + 1}`;
  document.getElementById("api-response").textContent =
    typeof data === "string" ? data : JSON.stringify(data, null, 2);
  document.title = `Orders, page ${page}`;
}

function loginView() {
  const rd = safeReturn(new URLSearchParams(location.search).get("rd"));
  show("login-view", { narrow: true });
  document.title = "Sign in · Orders";
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const username = form.elements.username;
  const password = form.elements.password;
  const fail = (message) => {
    error.textContent = message;
    error.hidden = false;
    for (const input of [username, password]) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "login-error");
    }
    password.value = "";
    (username.value ? password : username).focus();
  };
  username.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch("/.auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username: username.value, password: password.value }),
        credentials: "omit",
      });
      if (response.ok) {
        const { access_token: token } = await response.json();
        sessionStorage.setItem(TOKEN_KEY, token);
        navigate(rd, { replace: true });
      } else if (response.status === 401) {
        fail("Incorrect username or password.");
      } else if (response.status === 429) {
        const wait = response.headers.get("Retry-After") || "a few";
        fail(`Too many sign-in attempts. Try again in ${wait} seconds.`);
      } else {
        fail(`Sign-in failed (HTTP ${response.status}). Please try again.`);
      }
    } catch {
      fail("The server could not be reached. Please try again.");
    } finally {
      button.disabled = false;
    }
  });
}

function notFoundView() {
  view.replaceChildren();
  const heading = document.createElement("h1");
  heading.textContent = "Page not found";
  view.append(heading);
}

const routes = {
  "/": homeView,
  "/orders": ordersView,
  "/login": loginView,
};

/** Renders the view for the current URL. A render overtaken by a newer one draws nothing. */
async function render() {
  const generation = ++renderCount;
  const current = () => generation === renderCount;
  showSession();
  try {
    await (routes[location.pathname] || notFoundView)(current);
  } catch (error) {
    if (error instanceof SignedOut || !current()) return;
    view.replaceChildren();
    const alert = document.createElement("p");
    alert.className = "alert";
    alert.setAttribute("role", "alert");
    alert.textContent = `Something went wrong: ${error.message}`;
    view.append(alert);
  }
}

/** Signs out: the gateway revokes the token (POST /.auth/logout), then it is dropped here. */
async function signOut() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  sessionStorage.removeItem(TOKEN_KEY);
  if (token) {
    // The answer is a redirect meant for browsers; "manual" keeps fetch from following it.
    await fetch("/.auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      credentials: "omit",
      redirect: "manual",
    }).catch(() => {});
  }
  navigate("/login?rd=%2F", { replace: true });
}

// In-app links change the view without a page load; the browser's back button works.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-route]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
      event.ctrlKey || event.shiftKey || event.altKey) {
    return;
  }
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("popstate", render);
render();
