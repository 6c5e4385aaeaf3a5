// The Kubernetes 1.30 kinds that k8s/ may use, keyed "apiVersion/kind". check_manifests.mjs turns
// this interface into JSON schemas (kubernetes-types 1.30.0 is generated from the 1.30 OpenAPI
// document) and rejects any other kind, so a typo in apiVersion or kind fails like a field would.
import type * as appsV1 from "kubernetes-types/apps/v1";
import type * as autoscalingV2 from "kubernetes-types/autoscaling/v2";
import type * as batchV1 from "kubernetes-types/batch/v1";
import type * as coreV1 from "kubernetes-types/core/v1";
import type * as networkingV1 from "kubernetes-types/networking/v1";
import type * as policyV1 from "kubernetes-types/policy/v1";
import type * as rbacV1 from "kubernetes-types/rbac/v1";

export interface Kinds {
  "v1/ConfigMap": coreV1.ConfigMap;
  "v1/Namespace": coreV1.Namespace;
  "v1/PersistentVolumeClaim": coreV1.PersistentVolumeClaim;
  "v1/Secret": coreV1.Secret;
  "v1/Service": coreV1.Service;
  "v1/ServiceAccount": coreV1.ServiceAccount;
  "apps/v1/Deployment": appsV1.Deployment;
  "apps/v1/StatefulSet": appsV1.StatefulSet;
  "autoscaling/v2/HorizontalPodAutoscaler": autoscalingV2.HorizontalPodAutoscaler;
  "batch/v1/Job": batchV1.Job;
  "networking.k8s.io/v1/NetworkPolicy": networkingV1.NetworkPolicy;
  "policy/v1/PodDisruptionBudget": policyV1.PodDisruptionBudget;
  "rbac.authorization.k8s.io/v1/Role": rbacV1.Role;
  "rbac.authorization.k8s.io/v1/RoleBinding": rbacV1.RoleBinding;
}
