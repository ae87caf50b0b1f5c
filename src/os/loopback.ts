/**
 * Whether a host names this machine only: `localhost`, any address in
 * 127.0.0.0/8 in any IPv4 spelling (`127.1`, `2130706433`, `0x7f.0.0.1`,
 * `0177.0.0.1`), `::1` in any IPv6 spelling (`0:0:0:0:0:0:0:1`), and the
 * IPv4-mapped loopback (`::ffff:127.0.0.1`). The spellings are normalized by
 * the WHATWG URL host parser, the one browsers use, so the daemon's Host
 * check and the clients' secure-URL rule agree with what a browser sends.
 *
 * @module
 */

/** The canonical host (`127.0.0.1`, `[::1]`, `name`), or undefined. */
function canonicalHost(host: string): string | undefined {
  let h = host.trim().toLowerCase();
  // A zone (`fe80::1%eth0`) is not part of the address.
  h = h.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  if (!h) return undefined;
  try {
    return new URL(`http://${h.includes(":") ? `[${h}]` : h}/`).hostname;
  } catch {
    return undefined;
  }
}

/** True for a loopback name or address, in any spelling (see the module doc). */
export function isLoopbackAddress(host: string): boolean {
  const canon = canonicalHost(host);
  if (canon === undefined) return false;
  if (canon === "localhost" || canon === "localhost.") return true;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(canon)) return canon.startsWith("127.");
  if (!canon.startsWith("[")) return false;
  const v6 = canon.slice(1, -1);
  // ::1, or ::ffff:127.x.y.z (serialized as ::ffff:7fxx:xxxx).
  return v6 === "::1" || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(v6);
}
