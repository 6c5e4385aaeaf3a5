// Offline checks of a rendered manifest set (the output of `kubectl kustomize`): schema validity
// against Kubernetes 1.30 with unknown fields rejected, and the cross-references a cluster only
// reports at run time (a pod stuck in ContainerCreating, a Service without endpoints, a probe on a
// port nothing listens on). Pure functions from parsed documents to error strings.
import {parseAllDocuments} from "yaml";

// ---------------------------------------------------------------------------------------------
// Loading and indexing

export function loadDocuments(text) {
  const docs = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

const kClusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding",
  "PersistentVolume", "StorageClass", "CustomResourceDefinition"]);
const kWorkloads = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job"]);

export function describe(doc) {
  const ns = doc.metadata?.namespace ? `${doc.metadata.namespace}/` : "";
  return `${doc.kind}/${ns}${doc.metadata?.name}`;
}

// An index of the objects by kind and namespace/name, with each workload's pod template.
class Objects {
  constructor(docs) {
    this.docs = docs;
    this.byKey = new Map();
    for (const doc of docs) this.byKey.set(this.key(doc.kind, doc.metadata?.namespace, doc.metadata?.name), doc);
  }
  key(kind, namespace, name) {
    return `${kind}|${namespace ?? ""}|${name}`;
  }
  get(kind, namespace, name) {
    return this.byKey.get(this.key(kind, namespace, name));
  }
  ofKind(kind) {
    return this.docs.filter((doc) => doc.kind === kind);
  }
  workloads() {
    return this.docs.filter((doc) => kWorkloads.has(doc.kind) && podTemplate(doc));
  }
}

function podTemplate(workload) {
  return workload.spec?.template;
}

function containersOf(pod) {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

function labelsMatch(selector, labels) {
  if (!selector) return false;
  // A LabelSelector (matchLabels, matchExpressions) or a Service's plain map of labels.
  const isLabelSelector = "matchLabels" in selector || "matchExpressions" in selector ||
    Object.keys(selector).length === 0;
  const entries = Object.entries(isLabelSelector ? selector.matchLabels ?? {} : selector);
  for (const [key, value] of entries) if (labels?.[key] !== value) return false;
  for (const expr of isLabelSelector ? selector.matchExpressions ?? [] : []) {
    const has = labels && Object.hasOwn(labels, expr.key);
    const value = labels?.[expr.key];
    if (expr.operator === "In" && !(has && expr.values.includes(value))) return false;
    if (expr.operator === "NotIn" && has && expr.values.includes(value)) return false;
    if (expr.operator === "Exists" && !has) return false;
    if (expr.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// Workloads in `namespace` whose pod template labels the selector matches.
function selectedWorkloads(objects, namespace, selector) {
  return objects.workloads().filter((w) =>
    w.metadata.namespace === namespace && labelsMatch(selector, podTemplate(w).metadata?.labels));
}

// ---------------------------------------------------------------------------------------------
// Schema

export function schemaErrors(docs, validators) {
  const errors = [];
  for (const doc of docs) {
    const key = `${doc.apiVersion}/${doc.kind}`;
    const validate = validators.get(key);
    if (!validate) {
      errors.push(`${describe(doc)}: apiVersion/kind ${key} is not one of the known 1.30 kinds`);
      continue;
    }
    if (validate(doc)) continue;
    for (const e of validate.errors) {
      const extra = e.params?.additionalProperty ? ` "${e.params.additionalProperty}"` : "";
      const allowed = e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : "";
      errors.push(`${describe(doc)}: ${e.instancePath || "/"} ${e.message}${extra}${allowed}`);
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Objects, namespaces and names

function checkNamespaces(objects) {
  const errors = [];
  const seen = new Set();
  for (const doc of objects.docs) {
    const id = describe(doc);
    if (seen.has(id)) errors.push(`${id}: defined twice`);
    seen.add(id);
    if (kClusterScoped.has(doc.kind)) continue;
    const ns = doc.metadata?.namespace;
    if (!ns) errors.push(`${id}: has no namespace (it would land in the client's current one)`);
    else if (!objects.get("Namespace", undefined, ns)) errors.push(`${id}: namespace ${ns} is not defined`);
  }
  return errors;
}

// Keys of a Secret or ConfigMap, or undefined when the object does not exist.
function keysOf(objects, kind, namespace, name) {
  const doc = objects.get(kind, namespace, name);
  if (!doc) return undefined;
  return new Set([...Object.keys(doc.data ?? {}), ...Object.keys(doc.stringData ?? {}),
    ...Object.keys(doc.binaryData ?? {})]);
}

function checkKeyRef(objects, where, kind, namespace, ref, keys) {
  if (!ref?.name) return [`${where}: ${kind} reference without a name`];
  const have = keysOf(objects, kind, namespace, ref.name);
  if (!have) return ref.optional ? [] : [`${where}: ${kind} ${ref.name} does not exist`];
  return keys.filter((k) => !have.has(k)).map((k) => `${where}: ${kind} ${ref.name} has no key ${k}`);
}

function checkVolumes(objects, workload, pod, where) {
  const ns = workload.metadata.namespace;
  const errors = [];
  for (const volume of pod.spec?.volumes ?? []) {
    const at = `${where} volume ${volume.name}`;
    if (volume.secret) {
      errors.push(...checkKeyRef(objects, at, "Secret", ns,
        {name: volume.secret.secretName, optional: volume.secret.optional},
        (volume.secret.items ?? []).map((i) => i.key)));
    }
    if (volume.configMap) {
      errors.push(...checkKeyRef(objects, at, "ConfigMap", ns, volume.configMap,
        (volume.configMap.items ?? []).map((i) => i.key)));
    }
    for (const source of volume.projected?.sources ?? []) {
      if (source.secret) {
        errors.push(...checkKeyRef(objects, at, "Secret", ns, source.secret,
          (source.secret.items ?? []).map((i) => i.key)));
      }
      if (source.configMap) {
        errors.push(...checkKeyRef(objects, at, "ConfigMap", ns, source.configMap,
          (source.configMap.items ?? []).map((i) => i.key)));
      }
    }
    const claim = volume.persistentVolumeClaim?.claimName;
    if (claim && !objects.get("PersistentVolumeClaim", ns, claim)) {
      errors.push(`${at}: PersistentVolumeClaim ${claim} does not exist`);
    }
  }
  return errors;
}

function checkEnvRefs(objects, namespace, container, where) {
  const errors = [];
  for (const env of container.env ?? []) {
    const at = `${where} env ${env.name}`;
    const secret = env.valueFrom?.secretKeyRef;
    const config = env.valueFrom?.configMapKeyRef;
    if (secret) errors.push(...checkKeyRef(objects, at, "Secret", namespace, secret, [secret.key]));
    if (config) errors.push(...checkKeyRef(objects, at, "ConfigMap", namespace, config, [config.key]));
  }
  for (const from of container.envFrom ?? []) {
    if (from.secretRef) errors.push(...checkKeyRef(objects, `${where} envFrom`, "Secret", namespace, from.secretRef, []));
    if (from.configMapRef) {
      errors.push(...checkKeyRef(objects, `${where} envFrom`, "ConfigMap", namespace, from.configMapRef, []));
    }
  }
  return errors;
}

function checkMounts(objects, workload, pod, container, where) {
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const claims = new Set((workload.spec?.volumeClaimTemplates ?? []).map((c) => c.metadata?.name));
  const errors = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume && !claims.has(mount.name)) {
      errors.push(`${where}: volumeMount ${mount.name} names no volume or volumeClaimTemplate`);
      continue;
    }
    // A subPath into a ConfigMap or Secret volume without items must name one of its keys.
    const source = volume?.configMap ? ["ConfigMap", volume.configMap.name] :
      volume?.secret ? ["Secret", volume.secret.secretName] : undefined;
    if (mount.subPath && source && !(volume.configMap?.items || volume.secret?.items)) {
      const keys = keysOf(objects, source[0], workload.metadata.namespace, source[1]);
      if (keys && !keys.has(mount.subPath)) {
        errors.push(`${where}: volumeMount ${mount.name} subPath ${mount.subPath} is not a key of ${source[0]} ${source[1]}`);
      }
    }
  }
  return errors;
}

function checkPodReferences(objects) {
  const errors = [];
  for (const workload of objects.workloads()) {
    const pod = podTemplate(workload);
    const where = describe(workload);
    const ns = workload.metadata.namespace;
    errors.push(...checkVolumes(objects, workload, pod, where));
    const account = pod.spec?.serviceAccountName;
    if (account && account !== "default" && !objects.get("ServiceAccount", ns, account)) {
      errors.push(`${where}: ServiceAccount ${account} does not exist`);
    }
    for (const secret of pod.spec?.imagePullSecrets ?? []) {
      if (!objects.get("Secret", ns, secret.name)) errors.push(`${where}: imagePullSecret ${secret.name} does not exist`);
    }
    for (const container of containersOf(pod)) {
      const at = `${where} container ${container.name}`;
      errors.push(...checkEnvRefs(objects, ns, container, at));
      errors.push(...checkMounts(objects, workload, pod, container, at));
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Selectors, Services and ports

function checkWorkloadSelectors(objects) {
  const errors = [];
  for (const workload of objects.workloads()) {
    if (workload.kind === "Job") continue;
    const labels = podTemplate(workload).metadata?.labels;
    if (!labelsMatch(workload.spec.selector, labels)) {
      errors.push(`${describe(workload)}: spec.selector does not match the pod template's labels`);
    }
  }
  return errors;
}

// Whether `port` (a number or a port name) is a containerPort of some container of the pod.
function podHasPort(pod, port) {
  return containersOf(pod).some((c) => (c.ports ?? []).some((p) =>
    (typeof port === "number" ? p.containerPort === port : p.name === port)));
}

function checkServices(objects) {
  const errors = [];
  for (const service of objects.ofKind("Service")) {
    const where = describe(service);
    if (service.spec?.type === "ExternalName") continue;
    const selector = service.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) {
      errors.push(`${where}: has no selector`);
      continue;
    }
    const targets = selectedWorkloads(objects, service.metadata.namespace, selector);
    if (targets.length === 0) {
      errors.push(`${where}: selector ${JSON.stringify(selector)} matches no pod template`);
      continue;
    }
    for (const port of service.spec.ports ?? []) {
      const target = port.targetPort ?? port.port;
      for (const workload of targets) {
        if (!podHasPort(podTemplate(workload), target)) {
          errors.push(`${where}: port ${port.name ?? port.port} targets ${target}, which ${describe(workload)} does not declare`);
        }
      }
    }
  }
  return errors;
}

function checkStatefulSetServices(objects) {
  const errors = [];
  for (const sts of objects.ofKind("StatefulSet")) {
    const where = describe(sts);
    const service = objects.get("Service", sts.metadata.namespace, sts.spec.serviceName);
    if (!service) {
      errors.push(`${where}: serviceName ${sts.spec.serviceName} is not a Service`);
      continue;
    }
    if (service.spec?.clusterIP !== "None") errors.push(`${where}: governing Service ${sts.spec.serviceName} is not headless`);
    if (!labelsMatch(service.spec?.selector, podTemplate(sts).metadata?.labels)) {
      errors.push(`${where}: governing Service ${sts.spec.serviceName} does not select its pods`);
    }
  }
  return errors;
}

function checkProbes(objects) {
  const errors = [];
  for (const workload of objects.workloads()) {
    const pod = podTemplate(workload);
    for (const container of containersOf(pod)) {
      for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        const probe = container[kind];
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        if (port === undefined) continue;
        const own = (container.ports ?? []).some((p) =>
          (typeof port === "number" ? p.containerPort === port : p.name === port));
        if (!own) errors.push(`${describe(workload)} container ${container.name}: ${kind} port ${port} is not one of its ports`);
      }
    }
  }
  return errors;
}

function checkDisruptionBudgets(objects) {
  const errors = [];
  for (const pdb of objects.ofKind("PodDisruptionBudget")) {
    if (selectedWorkloads(objects, pdb.metadata.namespace, pdb.spec?.selector).length === 0) {
      errors.push(`${describe(pdb)}: selector matches no pod template`);
    }
  }
  return errors;
}

function checkAutoscalers(objects) {
  const errors = [];
  for (const hpa of objects.ofKind("HorizontalPodAutoscaler")) {
    const where = describe(hpa);
    const ref = hpa.spec.scaleTargetRef;
    const target = objects.get(ref.kind, hpa.metadata.namespace, ref.name);
    if (!target || target.apiVersion !== ref.apiVersion) {
      errors.push(`${where}: scaleTargetRef ${ref.apiVersion} ${ref.kind} ${ref.name} does not exist`);
      continue;
    }
    if (target.spec?.replicas !== undefined) {
      errors.push(`${where}: ${describe(target)} sets spec.replicas, which every apply would reset under the autoscaler`);
    }
    for (const metric of hpa.spec.metrics ?? []) {
      if (metric.type !== "Resource" || metric.resource?.target?.type !== "Utilization") continue;
      const resource = metric.resource.name;
      for (const container of podTemplate(target)?.spec?.containers ?? []) {
        if (container.resources?.requests?.[resource] === undefined) {
          errors.push(`${where}: utilization of ${resource} needs a ${resource} request on container ${container.name}`);
        }
      }
    }
  }
  return errors;
}

function checkNetworkPolicies(objects) {
  const errors = [];
  for (const policy of objects.ofKind("NetworkPolicy")) {
    const where = describe(policy);
    const ns = policy.metadata.namespace;
    const selector = policy.spec.podSelector;
    const empty = Object.keys(selector?.matchLabels ?? {}).length === 0 && !(selector?.matchExpressions?.length);
    const targets = selectedWorkloads(objects, ns, selector);
    if (!empty && targets.length === 0) errors.push(`${where}: podSelector matches no pod template`);
    for (const rule of [...(policy.spec.ingress ?? []), ...(policy.spec.egress ?? [])]) {
      for (const peer of [...(rule.from ?? []), ...(rule.to ?? [])]) {
        if (!peer.podSelector || peer.namespaceSelector) continue;
        if (selectedWorkloads(objects, ns, peer.podSelector).length === 0) {
          errors.push(`${where}: peer podSelector ${JSON.stringify(peer.podSelector)} matches no pod template`);
        }
      }
      if (!policy.spec.ingress?.includes(rule)) continue;
      for (const port of rule.ports ?? []) {
        for (const workload of targets) {
          if (!podHasPort(podTemplate(workload), port.port)) {
            errors.push(`${where}: port ${port.port} is not declared by ${describe(workload)}`);
          }
        }
      }
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Security and resources: what the namespace's "restricted" Pod Security level demands, and the
// requests and limits scheduling and autoscaling need.

function checkSecurity(objects) {
  const errors = [];
  for (const workload of objects.workloads()) {
    const pod = podTemplate(workload);
    const podContext = pod.spec?.securityContext ?? {};
    for (const container of containersOf(pod)) {
      const where = `${describe(workload)} container ${container.name}`;
      const context = container.securityContext ?? {};
      const nonRoot = context.runAsNonRoot ?? podContext.runAsNonRoot;
      const user = context.runAsUser ?? podContext.runAsUser;
      if (nonRoot !== true || user === 0) errors.push(`${where}: must run as non-root (runAsNonRoot: true)`);
      if (context.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation must be false`);
      if (!(context.capabilities?.drop ?? []).includes("ALL")) errors.push(`${where}: must drop ALL capabilities`);
      const seccomp = context.seccompProfile?.type ?? podContext.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") errors.push(`${where}: needs seccompProfile RuntimeDefault`);
      if (typeof context.readOnlyRootFilesystem !== "boolean") {
        errors.push(`${where}: readOnlyRootFilesystem must be stated (true where the image allows)`);
      }
      const resources = container.resources ?? {};
      for (const name of ["cpu", "memory"]) {
        if (resources.requests?.[name] === undefined) errors.push(`${where}: has no ${name} request`);
      }
      if (resources.limits?.memory === undefined) errors.push(`${where}: has no memory limit`);
    }
  }
  return errors;
}

export {Objects, labelsMatch, podTemplate, containersOf, selectedWorkloads};

export function baseConsistencyErrors(objects) {
  return [
    ...checkNamespaces(objects),
    ...checkPodReferences(objects),
    ...checkWorkloadSelectors(objects),
    ...checkServices(objects),
    ...checkStatefulSetServices(objects),
    ...checkProbes(objects),
    ...checkDisruptionBudgets(objects),
    ...checkAutoscalers(objects),
    ...checkNetworkPolicies(objects),
    ...checkSecurity(objects),
  ];
}
