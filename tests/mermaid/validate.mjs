// Parse Mermaid diagrams with Mermaid's own parser (mermaid.parse, the first step of
// every render, GitHub's included): a diagram it rejects would show as an error box.
//
//   KUBEMATRIX_NODE_MODULES=DIR/node_modules node validate.mjs FILE...
//
// One diagram per file.  Prints "OK FILE" or "ERROR FILE: <the parser's message>" per
// file; exits 0 when every diagram parses, 1 when one does not, 2 when it cannot run.
// The packages come from `npm install --prefix DIR mermaid@11 jsdom` (.ci/run does it).
// mermaid.parse needs a DOM (it sanitises labels with DOMPurify): jsdom provides one.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.env.KUBEMATRIX_NODE_MODULES;
if (!modules) {
  console.error("KUBEMATRIX_NODE_MODULES is not set (the node_modules directory holding mermaid and jsdom)");
  process.exit(2);
}
// Resolve the packages from that directory, not from this script's location.
const require = createRequire(path.resolve(modules) + path.sep);
let mermaid;
try {
  const { JSDOM } = require("jsdom");
  const dom = new JSDOM("<!doctype html><html><body></body></html>");
  globalThis.window = dom.window;
  globalThis.document = dom.window.document;
  mermaid = (await import(pathToFileURL(require.resolve("mermaid")).href)).default;
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
} catch (err) {
  console.error(`cannot load mermaid and jsdom from ${modules}: ${err?.message ?? err}`);
  process.exit(2);
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    await mermaid.parse(readFileSync(file, "utf8"));
    console.log(`OK ${file}`);
  } catch (err) {
    failed += 1;
    console.log(`ERROR ${file}: ${String(err?.message ?? err).replace(/\s+/g, " ")}`);
  }
}
process.exit(failed ? 1 : 0);
