// Kubernetes 1.30 JSON schemas, made offline from kubernetes-types 1.30.0 (TypeScript types
// generated from the 1.30 OpenAPI document) and compiled with Ajv. Every object type rejects
// fields it does not declare, as `kubectl apply --validate=strict` does.
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath} from "node:url";

import Ajv from "ajv";
import {createGenerator} from "ts-json-schema-generator";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// The schema of interface Kinds in kinds.ts: one property per "apiVersion/kind".
export function kindsSchema() {
  const generator = createGenerator({
    path: path.join(here, "kinds.ts"),
    tsconfig: path.join(here, "tsconfig.json"),
    type: "Kinds",
    expose: "all",
    additionalProperties: false,
    jsDoc: "none",
    skipTypeCheck: true,
    topRef: true,
  });
  const schema = generator.createSchema("Kinds");
  // resource.Quantity is a string in the types, but the API server also takes a YAML number
  // ("cpu: 1"), and kustomize prints numbers as numbers.
  schema.definitions.Quantity = {type: ["string", "number"]};
  return schema;
}

// Returns a Map from "apiVersion/kind" to an Ajv validate function.
export function compileValidators(schema = kindsSchema()) {
  const ajv = new Ajv({allErrors: true, strict: false});
  ajv.addSchema(schema, "k8s");
  const validators = new Map();
  for (const key of Object.keys(schema.definitions.Kinds.properties)) {
    const ref = schema.definitions.Kinds.properties[key].$ref.replace("#", "");
    validators.set(key, ajv.getSchema(`k8s#${ref}`));
  }
  return validators;
}

export function kubernetesTypesVersion() {
  return require("kubernetes-types/package.json").version;
}
