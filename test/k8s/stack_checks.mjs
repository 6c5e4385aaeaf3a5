// Checks that know this stack's programs: the ports discovery and sqlproxy listen on given their
// flags and ETCD_*/SQLPROXY_* variables, the discovery member URLs a StatefulSet's pod names give,
// the host:port references between components, the files *_FILE variables name, the PXC grace
// period, and who may reach whom through the NetworkPolicies. Pure functions of the documents.
import {containersOf, describe, labelsMatch, podTemplate, selectedWorkloads} from "./manifest_checks.mjs";

// What each of our images does when a flag is not given (containers/*/Dockerfile ENV and the
// programs' defaults).
const kDiscoveryDefaults = {
  "listen-client-urls": "http://0.0.0.0:2379",
  "listen-peer-urls": "http://0.0.0.0:2380",
  "advertise-client-urls": "http://localhost:2379",
  "initial-advertise-peer-urls": "http://localhost:2380",
  "initial-cluster": "default=http://localhost:2380",
  name: "default",
};
const kSqlproxyDefaults = {"listen": "0.0.0.0:3306", "admin-listen": "0.0.0.0:8080"};

function programOf(container) {
  const repository = (container.image ?? "").split("@")[0].replace(/:[^/:]*$/, "");
  const last = repository.split("/").pop();
  if (last === "discovery") return "discovery";
  if (last === "sqlproxy") return "sqlproxy";
  if (last === "percona-xtradb-cluster") return "pxc";
  if (last === "wordpress") return "wordpress";
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Environment and flags, resolved as the kubelet does for one pod of a workload.

function expand(text, env) {
  return text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) => (env.has(name) ? env.get(name) : whole));
}

function resolveEnv(objects, workload, container, podName) {
  const env = new Map();
  const ns = workload.metadata.namespace;
  for (const item of container.env ?? []) {
    let value;
    if (item.value !== undefined) value = expand(String(item.value), env);
    const field = item.valueFrom?.fieldRef?.fieldPath;
    if (field === "metadata.name") value = podName;
    if (field === "metadata.namespace") value = ns;
    const config = item.valueFrom?.configMapKeyRef;
    if (config) value = objects.get("ConfigMap", ns, config.name)?.data?.[config.key];
    if (item.valueFrom?.secretKeyRef) value = "<secret>";
    if (value !== undefined) env.set(item.name, value);
  }
  return env;
}

// Flags from args ("--name=value" or "--name value"), then from PREFIX_NAME variables, then
// defaults: the precedence of common/flags.h.
function resolveFlags(container, env, prefix, defaults) {
  const flags = new Map(Object.entries(defaults));
  for (const [name, value] of env) {
    if (!name.startsWith(`${prefix}_`)) continue;
    flags.set(name.slice(prefix.length + 1).toLowerCase().replaceAll("_", "-"), value);
  }
  const args = [...(container.command ?? []).slice(1), ...(container.args ?? [])].map((a) => expand(String(a), env));
  for (let i = 0; i < args.length; i++) {
    const match = /^--?([a-z0-9-]+)(?:=(.*))?$/.exec(args[i]);
    if (!match) continue;
    if (match[2] !== undefined) flags.set(match[1], match[2]);
    else if (i + 1 < args.length && !args[i + 1].startsWith("-")) flags.set(match[1], args[++i]);
    else flags.set(match[1], "true");
  }
  return flags;
}

function parseHostPort(text, defaultPort) {
  const match = /^(?:([a-z]+):\/\/)?([^/:]+|\[[^\]]+\])(?::(\d+))?(\/.*)?$/.exec(text.trim());
  if (!match) return undefined;
  const port = match[3] ? Number(match[3]) : defaultPort;
  return {scheme: match[1], host: match[2], port, path: match[4] ?? ""};
}

function urlPorts(list) {
  return list.split(",").filter((u) => u.trim()).map((u) => parseHostPort(u, undefined));
}

function declaredPorts(container) {
  return new Set((container.ports ?? []).map((p) => p.containerPort));
}

function checkListenSet(where, listened, container) {
  const errors = [];
  const declared = declaredPorts(container);
  for (const {flag, address} of listened) {
    if (!address || address.port === undefined) {
      errors.push(`${where}: --${flag} has no port`);
      continue;
    }
    if (["localhost", "127.0.0.1", "[::1]"].includes(address.host)) {
      errors.push(`${where}: --${flag} listens on ${address.host}, which no Service or peer can reach`);
    }
    if (!declared.has(address.port)) {
      errors.push(`${where}: --${flag} listens on ${address.port}, which is not a containerPort`);
    }
  }
  const listenedPorts = new Set(listened.map((l) => l.address?.port));
  for (const port of declared) {
    if (!listenedPorts.has(port)) errors.push(`${where}: containerPort ${port} is not listened on by any flag`);
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Service references: "name:port", "http://name:port/..." and "name.namespace.svc...:port".

function serviceFor(objects, namespace, host) {
  const labels = host.split(".");
  const ns = labels.length > 1 && labels[2] === "svc" ? labels[1] : labels.length === 1 ? namespace : undefined;
  if (ns === undefined) return undefined;
  return objects.get("Service", ns, labels[0]);
}

function checkServiceRef(objects, workload, where, text, defaultPort) {
  const address = parseHostPort(text, defaultPort);
  if (!address) return {errors: [`${where}: cannot read a host:port in "${text}"`]};
  const service = serviceFor(objects, workload.metadata.namespace, address.host);
  if (!service) return {errors: [`${where}: ${address.host} is not a Service of this stack`]};
  const port = (service.spec.ports ?? []).find((p) => p.port === address.port);
  if (!port) return {errors: [`${where}: Service ${service.metadata.name} has no port ${address.port}`], service};
  return {errors: [], service, port, address};
}

// Workloads behind a Service and the container port number its port lands on in each.
function backendsOf(objects, service, servicePort) {
  const targets = selectedWorkloads(objects, service.metadata.namespace, service.spec.selector);
  const target = servicePort.targetPort ?? servicePort.port;
  return targets.map((workload) => {
    const port = containersOf(podTemplate(workload)).flatMap((c) => c.ports ?? [])
      .find((p) => (typeof target === "number" ? p.containerPort === target : p.name === target));
    return {workload, containerPort: port?.containerPort};
  });
}

// ---------------------------------------------------------------------------------------------
// discovery

function checkDiscoveryMember(objects, sts, container, ordinal) {
  const podName = `${sts.metadata.name}-${ordinal}`;
  const where = `${describe(sts)} pod ${podName} container ${container.name}`;
  const env = resolveEnv(objects, sts, container, podName);
  const flags = resolveFlags(container, env, "ETCD", kDiscoveryDefaults);
  const errors = [];
  const clients = urlPorts(flags.get("listen-client-urls"));
  const peers = urlPorts(flags.get("listen-peer-urls"));
  if (ordinal === 0) {
    errors.push(...checkListenSet(where, [
      ...clients.map((address) => ({flag: "listen-client-urls", address})),
      ...peers.map((address) => ({flag: "listen-peer-urls", address}))], container));
  }
  if (flags.get("name") !== podName) errors.push(`${where}: member name is ${flags.get("name")}, not the pod name`);
  const stableHost = (h) => h.startsWith(`${podName}.${sts.spec.serviceName}.${sts.metadata.namespace}.svc`);
  for (const [flag, listened] of [["advertise-client-urls", clients], ["initial-advertise-peer-urls", peers]]) {
    for (const address of urlPorts(flags.get(flag))) {
      if (!stableHost(address.host)) {
        errors.push(`${where}: --${flag} host ${address.host} is not the pod's stable name ${podName}.${sts.spec.serviceName}.${sts.metadata.namespace}.svc`);
      }
      if (!listened.some((l) => l.port === address.port)) errors.push(`${where}: --${flag} port ${address.port} is not listened on`);
    }
  }
  const members = flags.get("initial-cluster").split(",").map((m) => m.split("="));
  const expected = Array.from({length: sts.spec.replicas ?? 1}, (_, i) => `${sts.metadata.name}-${i}`);
  const names = members.map((m) => m[0]);
  if (names.join(",") !== expected.join(",")) {
    errors.push(`${where}: --initial-cluster names ${names.join(",")} but the StatefulSet runs ${expected.join(",")}`);
  }
  const own = members.find((m) => m[0] === podName);
  if (own && own[1] !== flags.get("initial-advertise-peer-urls")) {
    errors.push(`${where}: --initial-cluster gives ${own[1]} for this member, which advertises ${flags.get("initial-advertise-peer-urls")}`);
  }
  return errors;
}

function checkDiscovery(objects) {
  const errors = [];
  for (const workload of objects.workloads()) {
    for (const container of containersOf(podTemplate(workload))) {
      if (programOf(container) !== "discovery") continue;
      if (workload.kind !== "StatefulSet") {
        errors.push(`${describe(workload)}: discovery members need stable names and volumes (a StatefulSet)`);
        continue;
      }
      for (let i = 0; i < (workload.spec.replicas ?? 1); i++) {
        errors.push(...checkDiscoveryMember(objects, workload, container, i));
      }
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// sqlproxy, PXC and WordPress: who points at whom

function clusterNamesByDiscovery(objects) {
  // Service name -> set of CLUSTER_NAME values of the PXC pods registering there.
  const result = new Map();
  for (const workload of objects.workloads()) {
    for (const container of containersOf(podTemplate(workload))) {
      if (programOf(container) !== "pxc") continue;
      const env = resolveEnv(objects, workload, container, `${workload.metadata.name}-0`);
      const service = env.has("DISCOVERY_SERVICE") ?
        serviceFor(objects, workload.metadata.namespace, parseHostPort(env.get("DISCOVERY_SERVICE"), 80)?.host ?? "") : undefined;
      if (!service) continue;
      if (!result.has(service.metadata.name)) result.set(service.metadata.name, new Set());
      result.get(service.metadata.name).add(env.get("CLUSTER_NAME"));
    }
  }
  return result;
}

function expectBackends(objects, ref, where, program) {
  if (!ref.service || !ref.port) return [];
  const backends = backendsOf(objects, ref.service, ref.port);
  const wrong = backends.filter((b) => !containersOf(podTemplate(b.workload)).some((c) => programOf(c) === program));
  if (backends.length === 0 || wrong.length > 0) {
    return [`${where}: Service ${ref.service.metadata.name} should lead to ${program} pods`];
  }
  return [];
}

function checkSqlproxy(objects, workload, container) {
  const where = `${describe(workload)} container ${container.name}`;
  const env = resolveEnv(objects, workload, container, workload.metadata.name);
  const flags = resolveFlags(container, env, "SQLPROXY", kSqlproxyDefaults);
  const listened = ["listen", "admin-listen", "read-only-listen"].filter((f) => flags.has(f))
    .map((flag) => ({flag, address: parseHostPort(flags.get(flag), undefined)}));
  const errors = checkListenSet(where, listened, container);
  const discovery = flags.get("backends-discovery");
  if (discovery === undefined) return errors;
  const ref = checkServiceRef(objects, workload, `${where} --backends-discovery`, discovery, 80);
  errors.push(...ref.errors, ...expectBackends(objects, ref, `${where} --backends-discovery`, "discovery"));
  const cluster = /^\/pxc-cluster\/([^/]+)\/?$/.exec(ref.address?.path ?? "")?.[1];
  if (ref.address && !cluster) errors.push(`${where}: --backends-discovery path ${ref.address.path} is not /pxc-cluster/<cluster>`);
  const registered = ref.service ? clusterNamesByDiscovery(objects).get(ref.service.metadata.name) : undefined;
  if (cluster && !registered?.has(cluster)) {
    errors.push(`${where}: watches cluster ${cluster}, but no PXC node registers it in ${ref.service?.metadata.name}`);
  }
  return errors;
}

// The mysqld option `name` from the ConfigMaps mounted under /etc/mysql (the image reads them).
function mysqlOption(objects, workload, container, name) {
  const volumes = new Map((podTemplate(workload).spec.volumes ?? []).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts ?? []) {
    const config = volumes.get(mount.name)?.configMap;
    if (!config || !mount.mountPath.startsWith("/etc/mysql")) continue;
    const data = objects.get("ConfigMap", workload.metadata.namespace, config.name)?.data ?? {};
    for (const [key, text] of Object.entries(data)) {
      if (mount.subPath && mount.subPath !== key) continue;
      const match = new RegExp(`^\\s*${name}\\s*=\\s*(\\S+)`, "m").exec(text);
      if (match) return match[1];
    }
  }
  return undefined;
}

// Seconds a node may need after pxc_maint_transition_period to stop cleanly.
const kPxcShutdownSeconds = 60;

function checkPxc(objects, workload, container) {
  const where = `${describe(workload)} container ${container.name}`;
  const env = resolveEnv(objects, workload, container, `${workload.metadata.name}-0`);
  const errors = [];
  if (!env.get("CLUSTER_NAME")) errors.push(`${where}: CLUSTER_NAME is not set`);
  if (!env.has("DISCOVERY_SERVICE")) {
    errors.push(`${where}: DISCOVERY_SERVICE is not set`);
  } else {
    const ref = checkServiceRef(objects, workload, `${where} DISCOVERY_SERVICE`, env.get("DISCOVERY_SERVICE"), 80);
    errors.push(...ref.errors, ...expectBackends(objects, ref, `${where} DISCOVERY_SERVICE`, "discovery"));
  }
  const transition = Number(mysqlOption(objects, workload, container, "pxc_maint_transition_period") ?? 10);
  const grace = podTemplate(workload).spec.terminationGracePeriodSeconds ?? 30;
  if (grace < transition + kPxcShutdownSeconds) {
    errors.push(`${where}: terminationGracePeriodSeconds ${grace} < pxc_maint_transition_period ${transition} + ${kPxcShutdownSeconds} s of shutdown`);
  }
  return errors;
}

function checkWordpress(objects, workload, container) {
  const where = `${describe(workload)} container ${container.name}`;
  const env = resolveEnv(objects, workload, container, workload.metadata.name);
  if (!env.has("WORDPRESS_DB_HOST")) return [`${where}: WORDPRESS_DB_HOST is not set`];
  const ref = checkServiceRef(objects, workload, `${where} WORDPRESS_DB_HOST`, env.get("WORDPRESS_DB_HOST"), 3306);
  return [...ref.errors, ...expectBackends(objects, ref, `${where} WORDPRESS_DB_HOST`, "sqlproxy")];
}

// A path in a *_FILE variable or a --*-file flag must be a file of a mounted Secret or ConfigMap.
function checkFileReferences(objects, workload, container) {
  const where = `${describe(workload)} container ${container.name}`;
  const env = resolveEnv(objects, workload, container, workload.metadata.name);
  const paths = [...env].filter(([name]) => name.endsWith("_FILE")).map(([name, value]) => [name, value]);
  for (const arg of container.args ?? []) {
    const match = /^--([a-z-]+-file)=(\/.+)$/.exec(String(arg));
    if (match) paths.push([`--${match[1]}`, match[2]]);
  }
  const volumes = new Map((podTemplate(workload).spec.volumes ?? []).map((v) => [v.name, v]));
  const errors = [];
  for (const [name, file] of paths) {
    const mount = (container.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
    const volume = mount && volumes.get(mount.name);
    const source = volume?.secret ?? volume?.configMap;
    if (!source) {
      errors.push(`${where}: ${name}=${file} is not in a mounted Secret or ConfigMap`);
      continue;
    }
    const relative = file.slice(mount.mountPath.length + 1);
    const kind = volume.secret ? "Secret" : "ConfigMap";
    const object = objects.get(kind, workload.metadata.namespace, source.secretName ?? source.name);
    const files = source.items ? source.items.map((i) => i.path) :
      Object.keys({...(object?.data ?? {}), ...(object?.stringData ?? {})});
    if (!files.includes(relative)) errors.push(`${where}: ${name}=${file}: ${kind} volume ${mount.name} has no file ${relative}`);
  }
  return errors;
}

function checkPrograms(objects) {
  const errors = [];
  const byProgram = {sqlproxy: checkSqlproxy, pxc: checkPxc, wordpress: checkWordpress};
  for (const workload of objects.workloads()) {
    for (const container of containersOf(podTemplate(workload))) {
      const check = byProgram[programOf(container)];
      if (check) errors.push(...check(objects, workload, container));
      errors.push(...checkFileReferences(objects, workload, container));
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicies: evaluated for each pair of workloads, against the flows the stack needs and
// the ones DESIGN.md forbids.

function portNumber(pod, port) {
  if (typeof port === "number") return port;
  return containersOf(pod).flatMap((c) => c.ports ?? []).find((p) => p.name === port)?.containerPort;
}

// Whether a pod of `source` (or, when source is null, a pod of another namespace or outside the
// cluster) may open `port` on a pod of `target`.
export function ingressAllowed(objects, source, target, port) {
  const pod = podTemplate(target);
  const ns = target.metadata.namespace;
  const policies = objects.ofKind("NetworkPolicy").filter((p) => p.metadata.namespace === ns &&
    (p.spec.policyTypes ?? ["Ingress"]).includes("Ingress") && labelsMatch(p.spec.podSelector, pod.metadata?.labels));
  if (policies.length === 0) return true;
  return policies.some((policy) => (policy.spec.ingress ?? []).some((rule) => {
    const portOk = !rule.ports?.length || rule.ports.some((p) => p.port === undefined || portNumber(pod, p.port) === port);
    const peerOk = !rule.from?.length || rule.from.some((peer) => {
      if (peer.ipBlock || peer.namespaceSelector) return true;  // wider than this namespace
      return source !== null && source.metadata.namespace === ns &&
        labelsMatch(peer.podSelector, podTemplate(source).metadata?.labels);
    });
    return portOk && peerOk;
  }));
}

const kIsolation = [
  // [target program, port name, programs that may connect]
  ["discovery", "client", ["pxc", "sqlproxy"]],
  ["discovery", "peer", ["discovery"]],
  ["pxc", "mysql", ["sqlproxy", "pxc"]],
  ["pxc", "galera", ["pxc"]],
  ["pxc", "ist", ["pxc"]],
  ["pxc", "sst", ["pxc"]],
  ["sqlproxy", "mysql", ["wordpress"]],
];

function workloadProgram(workload) {
  return containersOf(podTemplate(workload)).map(programOf).find((p) => p !== undefined);
}

function checkIsolation(objects) {
  const errors = [];
  const workloads = objects.workloads();
  for (const [program, portName, allowed] of kIsolation) {
    for (const target of workloads.filter((w) => workloadProgram(w) === program)) {
      const port = portNumber(podTemplate(target), portName);
      if (port === undefined) continue;
      for (const source of [...workloads, null]) {
        const sourceProgram = source ? workloadProgram(source) : "outside the namespace";
        const should = source !== null && allowed.includes(sourceProgram) &&
          source.metadata.namespace === target.metadata.namespace;
        const is = ingressAllowed(objects, source, target, port);
        if (is !== should) {
          errors.push(`NetworkPolicy: ${sourceProgram} ${is ? "can" : "cannot"} reach ${describe(target)} port ${portName} (${port})`);
        }
      }
    }
  }
  return errors;
}

export function stackConsistencyErrors(objects) {
  return [...checkDiscovery(objects), ...checkPrograms(objects), ...checkIsolation(objects)];
}
