// Copies the chart libraries' browser builds into api/web/vendor/ (served by the app itself,
// no CDN) with the licences of everything they bundle. Run by `make web-vendor`.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const out = join(here, "..", "vendor");
const FILES = {
  "vega.min.js": "vega/build/vega.min.js",
  "vega-lite.min.js": "vega-lite/build/vega-lite.min.js",
  "vega-embed.min.js": "vega-embed/build/vega-embed.min.js",
};

mkdirSync(out, { recursive: true });
// Without the source-map comment: the maps are not vendored, so nothing asks for them.
for (const [name, source] of Object.entries(FILES)) {
  const code = readFileSync(join(modules, source), "utf8").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
  writeFileSync(join(out, name), code);
}

// Every installed package (the builds bundle their dependencies): name, version, licence text.
const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const sections = [];
for (const path of Object.keys(lock.packages).filter((p) => p).sort()) {
  const folder = join(here, path);
  const meta = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const licence = readdirSync(folder).find((f) => /^(licen[sc]e|copying)/i.test(f));
  const text = licence ? readFileSync(join(folder, licence), "utf8").trim() : "(no licence file)";
  sections.push(`${meta.name} ${meta.version} (${meta.license || "see text"})\n\n${text}`);
}
const header =
  "Licences of the JavaScript served under /static/vendor/ (vega, vega-lite, vega-embed and\n" +
  "every package their builds bundle), written by `make web-vendor`.\n";
writeFileSync(join(out, "LICENSES.txt"), [header, ...sections].join(`\n\n${"=".repeat(72)}\n\n`) + "\n");
for (const pkg of ["vega", "vega-lite", "vega-embed"]) {
  const licence = join(modules, pkg, "LICENSE");
  if (existsSync(licence)) copyFileSync(licence, join(out, `${pkg}.LICENSE`));
}
console.log(`vendored ${Object.keys(FILES).join(", ")} and ${sections.length} licences into ${out}`);
