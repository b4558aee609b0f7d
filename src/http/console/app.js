// The console's shell: hash routes (#/overview, #/topics, #/topics/NAME, #/messages?...,
// #/groups, #/groups/NAME, #/brokers), the token form when the server asks for one, and the
// page's lifetime: leaving a page aborts its signal, which stops its polling.
import { storedToken, storeToken, whenUnauthenticated } from "./api.js";
import { errorBox, h } from "./format.js";
import * as brokers from "./brokers.js";
import * as groups from "./groups.js";
import * as messages from "./messages.js";
import * as overview from "./overview.js";
import * as topics from "./topics.js";

const main = document.getElementById("main");
const signOut = document.getElementById("sign-out");
let current = new AbortController();
let askingForToken = false;

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

function tokenForm(message) {
  askingForToken = true;
  current.abort();
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    placeholder: "the token's secret",
  });
  const form = h(
    "form",
    {
      class: "login",
      onsubmit: (e) => {
        e.preventDefault();
        storeToken(input.value.trim());
        askingForToken = false;
        route();
      },
    },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, message),
    h("label", { for: "token" }, "Token"),
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  main.replaceChildren(form);
  input.focus();
}

whenUnauthenticated((message) => {
  if (askingForToken) return;
  tokenForm(
    storedToken() === ""
      ? "This server needs a token (Authorization: Bearer). It is kept for this tab only."
      : `The server refused the token: ${message}`,
  );
});

signOut.addEventListener("click", () => {
  storeToken("");
  location.reload();
});

async function route() {
  current.abort();
  current = new AbortController();
  const signal = current.signal;
  const { parts, params } = parseHash();
  const page = parts[0] ?? "overview";
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === page);
  }
  signOut.hidden = storedToken() === "";
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  const content = h("div", { id: `page-${page}` });
  try {
    if (page === "overview") await overview.render(content, signal);
    else if (page === "topics" && parts[1] !== undefined) {
      await topics.renderTopic(content, parts[1], signal);
    } else if (page === "topics") await topics.renderList(content, params, signal);
    else if (page === "messages") await messages.render(content, params, signal);
    else if (page === "groups" && parts[1] !== undefined) {
      await groups.renderGroup(content, parts[1], signal);
    } else if (page === "groups") await groups.renderList(content, params, signal);
    else if (page === "brokers") await brokers.render(content, signal);
    else content.append(h("h1", {}, "Not found"), h("p", {}, `No page ${location.hash}`));
  } catch (err) {
    if (signal.aborted || askingForToken) return;
    content.append(errorBox(err));
  }
  if (!signal.aborted && !askingForToken) main.replaceChildren(content);
}

addEventListener("hashchange", route);
route();
