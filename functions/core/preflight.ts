import type { Inventory } from './inventory';
import type { ReadinessReport } from './readiness';

/**
 * What must be true before a service account is switched to EKS Pod Identity (or its IRSA is
 * removed), checked from what the store and the inventory know: the SDK the pods run, the roles'
 * trust and permission policies, the cluster's Pod Identity Agent. `plan` (core/plan.ts) orders
 * the findings before the switch steps; readiness and every report show the same steps.
 */
export type PreflightKind =
  /** The pods' AWS SDK predates the container credential provider: they would fall through to the node role. */
  | 'sdk-too-old'
  /** A user agent that names no SDK this project knows (a person checks the version). */
  | 'sdk-unknown'
  /** The association's role does not trust `pods.eks.amazonaws.com`. */
  | 'trust-no-pods-principal'
  /** `sts:AssumeRole` without `sts:TagSession` for `pods.eks.amazonaws.com`: every assume is denied. */
  | 'trust-no-tag-session'
  /** `aws:RequestTag/…`, `aws:SourceArn` or `aws:SourceAccount` conditions that exclude this cluster. */
  | 'trust-condition-excludes'
  /** The association disables session tags while the role's policies use `aws:PrincipalTag/kubernetes-*`. */
  | 'session-tags-needed'
  /** An IRSA statement with a wildcard `sub`, or without an `aud` condition (a risk today). */
  | 'irsa-wildcard-sub'
  | 'irsa-no-aud'
  /** A READY namespace's role still trusts the cluster's OIDC provider: the clean-up step. */
  | 'oidc-statement-left'
  /** The eks-pod-identity-agent add-on is missing, or not ACTIVE. */
  | 'agent-missing'
  | 'agent-not-active';

export interface PreflightFinding {
  kind: PreflightKind;
  /** `blocker`: the switch fails (or falls through) until fixed; `warning`: a risk; `cleanup`: after READY. */
  severity: 'blocker' | 'warning' | 'cleanup';
  /** Where it applies; a cluster-wide finding has no namespace, a role finding may have no cluster. */
  clusterArn: string | null;
  cluster: string | null;
  account: string | null;
  region: string | null;
  namespace: string | null;
  serviceAccount: string | null;
  roleArn: string | null;
  /** One sentence: what is wrong and what it breaks. */
  summary: string;
  /** What was seen that says so (the user agent and version, the statement Sid, the add-on status). */
  evidence: string;
  fix: {
    /** One sentence: what to change. */
    text: string;
    /** Complete argv of each command, in order (rendered with `shellCommand`); empty when only a document changes. */
    commands: string[][];
    /** A policy document or statement to apply (the full JSON a person pastes), when the fix is one. */
    document?: unknown;
  };
}

export interface PreflightInput {
  readiness: ReadinessReport;
  inventory: Inventory;
}

/**
 * Every finding for the fleet in `input`, blockers first. Placeholder until the checks land
 * (issue 11, items 1–3): it finds nothing, so `plan` shows only the switch steps.
 */
export function preflight(input: PreflightInput): PreflightFinding[] {
  void input;
  return [];
}
