import assert from "node:assert/strict";
import { isLoopbackAddress } from "./loopback.ts";

Deno.test("isLoopbackAddress() knows every spelling of loopback and nothing else", () => {
  for (
    const h of [
      "localhost",
      "LOCALHOST",
      "127.0.0.1",
      "127.1",
      "127.0.0.2",
      "127.255.255.254",
      "2130706433",
      "0x7f.0.0.1",
      "0x7f000001",
      "0177.0.0.1",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "[0000:0000:0000:0000:0000:0000:0000:0001]",
      "::ffff:127.0.0.1",
      "[::ffff:127.1.2.3]",
      "::ffff:7f00:1",
    ]
  ) assert.ok(isLoopbackAddress(h), h);
  for (
    const h of [
      "",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "128.0.0.1",
      "evil.example",
      "127.0.0.1.nip.io",
      "localhost.evil.example",
      "::2",
      "::ffff:10.0.0.1",
      "::127.0.0.1",
      "fe80::1",
      "[::1",
    ]
  ) assert.ok(!isLoopbackAddress(h), h);
});
