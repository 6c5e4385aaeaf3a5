#!/usr/bin/env node
// Validates rendered manifests (`kubectl kustomize` output) offline: Kubernetes 1.30 schemas with
// unknown fields rejected, then the cross-reference checks of manifest_checks.mjs and
// stack_checks.mjs. Prints every problem and exits 1 if there is any.
// Usage: check_manifests.mjs FILE.yaml...
import {readFileSync} from "node:fs";

import {Objects, baseConsistencyErrors, loadDocuments, schemaErrors} from "./manifest_checks.mjs";
import {compileValidators, kubernetesTypesVersion} from "./schema.mjs";
import {stackConsistencyErrors} from "./stack_checks.mjs";

export function checkText(text, validators) {
  const docs = loadDocuments(text);
  if (docs.length === 0) return ["no documents"];
  const errors = schemaErrors(docs, validators);
  // Cross-references read fields the schema guarantees; skip them when the schema failed.
  if (errors.length > 0) return errors;
  const objects = new Objects(docs);
  return [...baseConsistencyErrors(objects), ...stackConsistencyErrors(objects)];
}

function main(files) {
  if (files.length === 0) {
    console.error("usage: check_manifests.mjs FILE.yaml...");
    return 2;
  }
  const validators = compileValidators();
  let failed = 0;
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const errors = checkText(text, validators);
    const count = loadDocuments(text).length;
    if (errors.length === 0) {
      console.log(`${file}: ${count} objects valid (Kubernetes ${kubernetesTypesVersion()} schemas, cross-references)`);
      continue;
    }
    failed++;
    for (const error of errors) console.log(`${file}: ${error}`);
  }
  return failed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main(process.argv.slice(2));
