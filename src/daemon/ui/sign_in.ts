/**
 * What `serve` says about its page. Jupyter's pattern: a daemon that
 * generated its own token prints `http://127.0.0.1:PORT/#token=...` for a
 * person at the terminal that started it (the fragment never reaches the
 * server; the page moves it to the tab's sessionStorage). The token is
 * printed only there: not when stderr is not a terminal (a container's or a
 * service manager's log collects it), not with `--log-format json`, and
 * never an operator's token (`--token-file`, `--token-ref`): then the line
 * names where the token is instead.
 *
 * @module
 */
import { readPrivateToken, tokenPath } from "../token.ts";

/** How the daemon was started. */
export interface SignInOptions {
  host: string;
  port: number;
  stateDir: string;
  tokenFile?: string | undefined;
  tokenRef?: string | undefined;
  /** stderr is a terminal and the log format is text. */
  terminal: boolean;
}

/** The page's address as a browser on this machine reaches it. */
export function pageUrl(host: string, port: number): string {
  const name = host === "0.0.0.0"
    ? "127.0.0.1"
    : host === "::" || host === "[::]"
    ? "[::1]"
    : host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return `http://${name}:${port}/`;
}

/**
 * `{withToken}`: the sign-in address with the token (for the terminal
 * only), or `{note}`: the address and where the token is (safe to log).
 */
export async function signIn(
  o: SignInOptions,
): Promise<{ withToken: string } | { note: string; url: string }> {
  const url = pageUrl(o.host, o.port);
  if (!o.tokenFile && !o.tokenRef) {
    const path = tokenPath(o.stateDir);
    if (o.terminal) {
      const token = await readPrivateToken(path).catch(() => undefined);
      if (token) {
        return {
          withToken:
            `The daemon's page (this address carries its token: keep it to yourself):\n    ${url}#token=${
              encodeURIComponent(token)
            }`,
        };
      }
    }
    return { url, note: `the page: open it and paste the token in ${path}` };
  }
  return {
    url,
    note: o.tokenFile
      ? `the page: open it and paste the token of --token-file ${o.tokenFile}`
      : "the page: open it and paste the token of --token-ref",
  };
}
