// Cuts GitHub's REST API description (npm @octokit/openapi, the dereferenced api.github.com
// document) down to the deployment paths the action calls, so that prism starts in seconds
// instead of parsing the whole 10 MB description. Usage: node cut.js OUT.json
"use strict";
const fs = require("fs");
const path = require("path");

// The operations runner/deployments.rs uses, and nothing else: a request to any other path is
// then a 404 from the mock, which fails the test that made it.
const KEEP = {
  "/repos/{owner}/{repo}/deployments": ["get", "post"],
  "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses": ["get", "post"],
};

const source = require.resolve("@octokit/openapi/generated/api.github.com.deref.json");
const full = JSON.parse(fs.readFileSync(source, "utf8"));
const paths = {};
for (const [route, methods] of Object.entries(KEEP)) {
  const item = full.paths[route];
  if (!item) throw new Error(`the description has no path ${route}`);
  paths[route] = {};
  for (const m of methods) {
    if (!item[m]) throw new Error(`the description has no ${m.toUpperCase()} ${route}`);
    paths[route][m] = item[m];
  }
  if (item.parameters) paths[route].parameters = item.parameters;
}
const cut = { openapi: full.openapi, info: full.info, servers: full.servers, paths };
const text = JSON.stringify(cut);
if (text.includes('"$ref"')) throw new Error("the cut description still holds a $ref");
const out = process.argv[2] || path.join(__dirname, "deployments.json");
fs.writeFileSync(out, text);
console.error(`cut ${Object.keys(paths).length} paths of ${Object.keys(full.paths).length} from ${full.info.version} into ${out} (${text.length} bytes)`);
