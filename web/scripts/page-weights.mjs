// The JavaScript each exported page loads (web/out after `npm run build`): the <script src>
// files of its index.html (not the `noModule` polyfills, which modern browsers skip), raw
// and gzip-compressed (what a server that compresses sends); "own" is what the page loads
// beyond the files every page shares (what a click from another page fetches); and the
// inline scripts (whose hashes the server's CSP lists).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const out = resolve(fileURLToPath(import.meta.url), "..", "..", "out");
const pages = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "_next") walk(path);
    } else if (name === "index.html") pages.push(path);
  }
})(out);

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
const sizes = new Map();
function size(src) {
  if (!sizes.has(src)) {
    const body = readFileSync(join(out, src.split("?")[0]));
    sizes.set(src, { raw: body.length, gz: gzipSync(body, { level: 9 }).length });
  }
  return sizes.get(src);
}
const loaded = pages.sort().map((page) => {
  const html = readFileSync(page, "utf8");
  const tags = [...html.matchAll(/<script([^>]*)\ssrc="([^"]+)"([^>]*)>/g)];
  const srcs = new Set(tags.filter((m) => !/nomodule/i.test(m[1] + m[3])).map((m) => m[2]));
  const inline = [...html.matchAll(/<script(?![^>]*\ssrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  return { route: "/" + relative(out, page).replace(/index\.html$/, ""), srcs, inline };
});
const shared = new Set([...loaded[0].srcs].filter((src) => loaded.every((p) => p.srcs.has(src))));
const sum = (srcs, key) => [...srcs].reduce((n, src) => n + size(src)[key], 0);
const rows = loaded.map(({ route, srcs, inline }) => {
  const own = [...srcs].filter((src) => !shared.has(src));
  const inlineBytes = inline.reduce((n, s) => n + Buffer.byteLength(s), 0);
  return [route, srcs.size, kb(sum(srcs, "raw")), kb(sum(srcs, "gz")), kb(sum(own, "gz")), `${inline.length} (${kb(inlineBytes)})`];
});
rows.push(["(shared by all)", shared.size, kb(sum(shared, "raw")), kb(sum(shared, "gz")), "", ""]);
const head = ["page", "files", "JS raw", "JS gzip", "own gzip", "inline scripts"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join("  ");
console.log(line(head));
for (const r of rows) console.log(line(r));
