#!/usr/bin/env node
// Validates every document of the given YAML files (directories: their *.yaml, recursively; '-': standard input)
// against the schema of its apiVersion and kind: the Kubernetes OpenAPI schemas of kubernetes-models, KEDA's CRDs of
// @kubernetes-models/keda. A kind without a schema here is an error, not a pass.
// Prints one line per invalid document and a summary; exit code 0 when all are valid, 1 otherwise, 2 on bad usage.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error("usage: validate.mjs FILE|DIR|- ...");
  process.exit(2);
}

function yamlFiles(path) {
  if (path === "-") return [path];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).sort().flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? yamlFiles(full) : name.endsWith(".yaml") || name.endsWith(".yml") ? [full] : [];
  });
}

const modules = new Map();
async function modelOf(apiVersion, kind) {
  const module = apiVersion.startsWith("keda.sh/")
    ? `@kubernetes-models/keda/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  if (!modules.has(module)) {
    modules.set(module, await import(module).catch(() => null));
  }
  return modules.get(module)?.[kind];
}

let valid = 0;
const problems = [];
for (const file of paths.flatMap(yamlFiles)) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      problems.push(`${file}: not YAML: ${document.errors[0].message}`);
      continue;
    }
    const object = document.toJS();
    if (object === null || object === undefined) continue;
    const where = `${file}: ${object.kind}/${object.metadata?.name}`;
    const Model = typeof object.apiVersion === "string" && typeof object.kind === "string" ? await modelOf(object.apiVersion, object.kind) : undefined;
    if (!Model) {
      problems.push(`${where}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
      valid++;
    } catch (error) {
      problems.push(`${where}: ${error.message}`);
    }
  }
}
for (const problem of problems) console.log(problem);
console.log(`${valid} valid, ${problems.length} invalid`);
process.exit(problems.length === 0 ? 0 : 1);
