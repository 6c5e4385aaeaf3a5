// Tests of check_manifests.mjs: the rendered production stack passes, and each way of breaking it
// that we know of is reported. Run: node --test test/k8s/
import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import path from "node:path";
import {before, describe, test} from "node:test";
import {fileURLToPath} from "node:url";

import {stringify} from "yaml";

import {checkText} from "./check_manifests.mjs";
import {loadDocuments} from "./manifest_checks.mjs";
import {compileValidators} from "./schema.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name) => readFileSync(path.join(here, "fixtures", name), "utf8");

let validators;
before(() => {
  validators = compileValidators();
});

function find(docs, kind, name) {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name.startsWith(name));
  assert.ok(doc, `${kind} ${name} in the fixture`);
  return doc;
}

function container(docs, kind, name) {
  return find(docs, kind, name).spec.template.spec.containers[0];
}

function envVar(c, name) {
  const item = c.env.find((e) => e.name === name);
  assert.ok(item, `env ${name}`);
  return item;
}

// Applies `mutate` to the parsed good stack and returns the checker's errors.
function errorsAfter(mutate) {
  const docs = loadDocuments(fixture("stack.yaml"));
  mutate(docs);
  return checkText(docs.map((d) => stringify(d)).join("---\n"), validators);
}

function assertReported(errors, pattern) {
  assert.ok(errors.some((e) => pattern.test(e)), `expected an error matching ${pattern}, got:\n${errors.join("\n")}`);
}

describe("fixtures", () => {
  test("the rendered production stack is valid", () => {
    assert.deepEqual(checkText(fixture("stack.yaml"), validators), []);
  });
  test("a misspelt field fails the schema", () => {
    const errors = checkText(fixture("broken.yaml"), validators);
    assertReported(errors, /Deployment\/demo\/web: \/spec\/template\/spec\/containers\/0 must NOT have additional properties "imagePullPolice"/);
  });
  test("a missing Secret and a wrong targetPort fail the cross-references", () => {
    const errors = checkText(fixture("broken-references.yaml"), validators);
    assertReported(errors, /Secret web-password does not exist/);
    assertReported(errors, /Service\/demo\/web: port http targets web/);
  });
});

describe("schema", () => {
  test("unknown kind", () => assertReported(errorsAfter((docs) => {
    find(docs, "HorizontalPodAutoscaler", "wordpress").apiVersion = "autoscaling/v3";
  }), /autoscaling\/v3\/HorizontalPodAutoscaler is not one of the known/));
  test("wrong type", () => assertReported(errorsAfter((docs) => {
    find(docs, "StatefulSet", "pxc").spec.replicas = "3";
  }), /\/spec\/replicas must be number/));
  test("a quantity may be a number", () => assert.deepEqual(errorsAfter((docs) => {
    container(docs, "Deployment", "wordpress").resources.requests.cpu = 1;
  }), []));
});

describe("references", () => {
  test("secret key", () => assertReported(errorsAfter((docs) => {
    find(docs, "Deployment", "sqlproxy").spec.template.spec.volumes[0].secret.items[0].key = "pass";
  }), /Secret sqlproxy-monitor-\w+ has no key pass/));
  test("secret name left unhashed", () => assertReported(errorsAfter((docs) => {
    find(docs, "StatefulSet", "pxc").spec.template.spec.volumes.find((v) => v.secret).secret.secretName = "pxc-passwords";
  }), /Secret pxc-passwords does not exist/));
  test("object without namespace", () => assertReported(errorsAfter((docs) => {
    delete find(docs, "Secret", "wordpress-db").metadata.namespace;
  }), /Secret\/wordpress-db-\w+: has no namespace/));
  test("claim", () => assertReported(errorsAfter((docs) => {
    find(docs, "PersistentVolumeClaim", "wordpress-content").metadata.name = "content";
  }), /PersistentVolumeClaim wordpress-content does not exist/));
  test("file named by a *_FILE variable", () => assertReported(errorsAfter((docs) => {
    envVar(container(docs, "StatefulSet", "pxc"), "MONITOR_PASSWORD_FILE").value = "/etc/mysql/passwords/monitr";
  }), /MONITOR_PASSWORD_FILE=\/etc\/mysql\/passwords\/monitr: Secret volume passwords has no file monitr/));
  test("mount without volume", () => assertReported(errorsAfter((docs) => {
    container(docs, "StatefulSet", "pxc").volumeMounts[0].name = "data";
  }), /volumeMount data names no volume/));
});

describe("selectors and ports", () => {
  test("service selector", () => assertReported(errorsAfter((docs) => {
    find(docs, "Service", "sqlproxy").spec.selector = {"app.kubernetes.io/name": "sql-proxy"};
  }), /Service\/hawp\/sqlproxy: selector .* matches no pod template/));
  test("service targetPort", () => assertReported(errorsAfter((docs) => {
    find(docs, "Service", "discovery").spec.ports[0].targetPort = 2479;
  }), /Service\/hawp\/discovery: port client targets 2479/));
  test("workload selector", () => assertReported(errorsAfter((docs) => {
    find(docs, "Deployment", "wordpress").spec.selector.matchLabels["app.kubernetes.io/name"] = "wp";
  }), /Deployment\/hawp\/wordpress: spec.selector does not match/));
  test("probe port", () => assertReported(errorsAfter((docs) => {
    container(docs, "Deployment", "sqlproxy").readinessProbe.httpGet.port = "http";
  }), /readinessProbe port http is not one of its ports/));
  test("headless governing service", () => assertReported(errorsAfter((docs) => {
    delete find(docs, "Service", "discovery-peer").spec.clusterIP;
  }), /governing Service discovery-peer is not headless/));
  test("autoscaler needs a cpu request", () => assertReported(errorsAfter((docs) => {
    delete container(docs, "Deployment", "wordpress").resources.requests.cpu;
  }), /utilization of cpu needs a cpu request on container wordpress/));
});

describe("listen flags", () => {
  test("discovery client URL port differs from its containerPort", () => {
    const errors = errorsAfter((docs) => {
      envVar(container(docs, "StatefulSet", "discovery"), "ETCD_LISTEN_CLIENT_URLS").value = "http://0.0.0.0:2479";
    });
    assertReported(errors, /--listen-client-urls listens on 2479, which is not a containerPort/);
    assertReported(errors, /--advertise-client-urls port 2379 is not listened on/);
  });
  test("discovery listening on localhost", () => assertReported(errorsAfter((docs) => {
    envVar(container(docs, "StatefulSet", "discovery"), "ETCD_LISTEN_PEER_URLS").value = "http://localhost:2380";
  }), /listens on localhost, which no Service or peer can reach/));
  test("initial cluster must list every replica", () => assertReported(errorsAfter((docs) => {
    find(docs, "StatefulSet", "discovery").spec.replicas = 5;
  }), /--initial-cluster names discovery-0,discovery-1,discovery-2 but the StatefulSet runs discovery-0,.*discovery-4/));
  test("a variable used before it is defined", () => assertReported(errorsAfter((docs) => {
    const c = container(docs, "StatefulSet", "discovery");
    c.env.push(c.env.splice(c.env.findIndex((e) => e.name === "POD_NAMESPACE"), 1)[0]);
  }), /--advertise-client-urls host .*\$\(POD_NAMESPACE\).* is not the pod's stable name/));
  test("sqlproxy admin port", () => {
    const errors = errorsAfter((docs) => {
      const c = container(docs, "Deployment", "sqlproxy");
      c.args = c.args.map((a) => a.replace("--admin-listen=0.0.0.0:8080", "--admin-listen=0.0.0.0:9090"));
    });
    assertReported(errors, /--admin-listen listens on 9090, which is not a containerPort/);
    assertReported(errors, /containerPort 8080 is not listened on/);
  });
  test("sqlproxy default port when --listen is dropped", () => assert.deepEqual(errorsAfter((docs) => {
    const c = container(docs, "Deployment", "sqlproxy");
    c.args = c.args.filter((a) => !a.startsWith("--listen="));
  }), []));
});

describe("between components", () => {
  test("sqlproxy watches the cluster the nodes register", () => assertReported(errorsAfter((docs) => {
    find(docs, "ConfigMap", "stack").data.CLUSTER_NAME = "other";
    envVar(container(docs, "StatefulSet", "pxc"), "CLUSTER_NAME").value = "wordpress";
    delete envVar(container(docs, "StatefulSet", "pxc"), "CLUSTER_NAME").valueFrom;
  }), /watches cluster other, but no PXC node registers it in discovery/));
  test("discovery service port", () => assertReported(errorsAfter((docs) => {
    envVar(container(docs, "StatefulSet", "pxc"), "DISCOVERY_SERVICE").value = "discovery:2380";
  }), /DISCOVERY_SERVICE: Service discovery has no port 2380/));
  test("WordPress must go through sqlproxy", () => assertReported(errorsAfter((docs) => {
    envVar(container(docs, "Deployment", "wordpress"), "WORDPRESS_DB_HOST").value = "pxc:3306";
  }), /WORDPRESS_DB_HOST: Service pxc should lead to sqlproxy pods/));
  test("PXC grace period covers the maintenance transition", () => assertReported(errorsAfter((docs) => {
    find(docs, "StatefulSet", "pxc").spec.template.spec.terminationGracePeriodSeconds = 10;
  }), /terminationGracePeriodSeconds 10 < pxc_maint_transition_period 10/));
});

describe("network policies", () => {
  test("WordPress reaching discovery", () => assertReported(errorsAfter((docs) => {
    find(docs, "NetworkPolicy", "discovery").spec.ingress[0].from.push({podSelector: {matchLabels: {"app.kubernetes.io/name": "wordpress"}}});
  }), /wordpress can reach StatefulSet\/hawp\/discovery port client/));
  test("sqlproxy cut off from MySQL", () => assertReported(errorsAfter((docs) => {
    find(docs, "NetworkPolicy", "pxc").spec.ingress[0].from.shift();
  }), /sqlproxy cannot reach StatefulSet\/hawp\/pxc port mysql/));
  test("a pod no policy selects is open to every namespace", () => {
    const errors = errorsAfter((docs) => {
      for (const name of ["default-deny-ingress", "pxc"]) docs.splice(docs.indexOf(find(docs, "NetworkPolicy", name)), 1);
    });
    assertReported(errors, /outside the namespace can reach StatefulSet\/hawp\/pxc port mysql/);
  });
  test("policy port that no selected pod declares", () => assertReported(errorsAfter((docs) => {
    find(docs, "NetworkPolicy", "sqlproxy").spec.ingress[0].ports[0].port = "sql";
  }), /NetworkPolicy\/hawp\/sqlproxy: port sql is not declared/));
});

describe("security", () => {
  test("root", () => assertReported(errorsAfter((docs) => {
    find(docs, "Deployment", "wordpress").spec.template.spec.securityContext.runAsNonRoot = false;
  }), /container wordpress: must run as non-root/));
  test("capabilities", () => assertReported(errorsAfter((docs) => {
    delete container(docs, "StatefulSet", "discovery").securityContext.capabilities;
  }), /container discovery: must drop ALL capabilities/));
});
