/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Browser side, the entry: take the token from `#token=`, then show the page
 * the path names (`/`, `/jobs/{id}`, `/history`), or the sign-in form when
 * there is no token (no job is shown without one).
 *
 * @module
 */
import {
  api,
  ApiError,
  clearToken,
  setToken,
  takeTokenFromFragment,
  token,
  Unauthorized,
} from "./api.ts";
import { h, put } from "./dom.ts";
import { historyPage } from "./history.ts";
import { jobPage } from "./job.ts";
import { listPage } from "./list.ts";

const main = document.getElementById("main")!;
const account = document.getElementById("account")!;
let stop: () => void = () => {};

function signIn(reason?: string) {
  stop();
  stop = () => {};
  put(account);
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const status = h("p", { class: "error-text", role: "alert" }, reason ?? "");
  put(
    main,
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "Open the address ",
      h("code", {}, "floe-dbt serve"),
      " printed (it carries ",
      h("code", {}, "#token=…"),
      "), or paste the daemon's token: its ",
      h("code", {}, "--token-file"),
      ", or the one it generated in ",
      h("code", {}, "<state-dir>/token"),
      ". It stays in this tab only.",
    ),
    h(
      "form",
      {
        id: "sign-in",
        onsubmit: (e: Event) => {
          e.preventDefault();
          setToken(input.value);
          api("/v1/version").then(route).catch(failed);
        },
      },
      h("label", { for: "token" }, "Token "),
      input,
      " ",
      h("button", { type: "submit" }, "Sign in"),
    ),
    status,
  );
  input.focus();
}

function failed(e: unknown) {
  if (e instanceof Unauthorized) {
    signIn(e.message);
    return;
  }
  const box = h(
    "div",
    { class: "error", role: "alert" },
    h(
      "p",
      {},
      e instanceof ApiError && e.code ? h("code", {}, e.code) : null,
      " ",
      e instanceof Error ? e.message : String(e),
    ),
    e instanceof ApiError && e.hint ? h("p", { class: "hint" }, e.hint) : null,
  );
  main.prepend(box);
}

function route() {
  stop();
  if (!token()) return signIn();
  put(
    account,
    h("button", {
      type: "button",
      class: "link",
      onclick: () => {
        clearToken();
        signIn("Signed out.");
      },
    }, "Sign out"),
  );
  const path = location.pathname;
  const job = path.match(/^\/jobs\/([A-Za-z0-9_-]{1,100})\/?$/);
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav.top a")) {
    const here = a.getAttribute("href") === "/history"
      ? path === "/history"
      : !path.startsWith("/history");
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (job) {
    document.title = `Job ${job[1]!.slice(0, 12)} · floe-dbt`;
    stop = jobPage(main, job[1]!, failed);
  } else if (path === "/history") {
    document.title = "History · floe-dbt";
    stop = historyPage(main, failed);
  } else {
    document.title = "Jobs · floe-dbt";
    stop = listPage(main, failed);
  }
}

takeTokenFromFragment();
route();
